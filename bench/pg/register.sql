-- A registration's writes (fsec_store_user_create): the user row, the
-- role's id, the role link, in one transaction (1 commit).
BEGIN;
INSERT INTO users (email, email_norm, password, active, fs_uniquifier,
    fs_token_uniquifier, create_datetime, update_datetime)
  SELECT 'Reg-' || m || '@example.org', 'reg-' || m || '@example.org',
    '$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g',
    1, md5(m || 'u'), md5(m || 't'), 1800000000, 1800000000
  FROM (SELECT md5(random()::text || clock_timestamp()::text) AS m) g
  RETURNING id AS new_id \gset
SELECT id AS role_id FROM roles WHERE name = 'member' \gset
INSERT INTO roles_users (user_id, role_id) VALUES (:new_id, :role_id) ON CONFLICT DO NOTHING;
END;
