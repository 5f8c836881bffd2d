-- A logout: the session's row deleted (fsec_store_session_delete), its
-- own commit; the row is made first by an INSERT of its own (a second
-- commit), so that every run has a live session to end. Without the
-- revocation epoch: the raw tables have no triggers.
\set id random(1, :users)
\set r random(1, 1000000000000)
INSERT INTO sessions (id, user_id, created_at, expires_at)
  VALUES ('lo-' || :client_id || '-' || :r, :id, 1800000000,
          extract(epoch FROM now())::bigint + 3600);
DELETE FROM sessions WHERE id = 'lo-' || :client_id || '-' || :r;
