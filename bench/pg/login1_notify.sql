-- login1.sql with a NOTIFY in its transaction: what a login costs if
-- every login told the other nodes through LISTEN/NOTIFY (a NOTIFY takes
-- a database-wide lock at COMMIT: committing notifiers queue one by one).
\set id random(1, :users)
BEGIN;
UPDATE users SET
  failed_login_count = CASE WHEN failed_login_window IS NULL
    OR failed_login_window <= 1800000000 - 900 THEN 1 ELSE failed_login_count + 1 END,
  failed_login_window = CASE WHEN failed_login_window IS NULL
    OR failed_login_window <= 1800000000 - 900 THEN 1800000000 ELSE failed_login_window END
  WHERE id = :id AND (failed_login_window IS NULL
    OR failed_login_window <= 1800000000 - 900 OR failed_login_count < 1000000)
  RETURNING failed_login_count;
UPDATE users SET failed_login_count = 0, failed_login_window = NULL
  WHERE id = :id AND failed_login_count <> 0;
DELETE FROM sessions WHERE user_id = :id AND expires_at <= 1800000000;
INSERT INTO sessions (id, user_id, created_at, expires_at)
  VALUES (md5(random()::text || clock_timestamp()::text), :id, 1800000000, 1800003600);
UPDATE users SET last_login_at = COALESCE(current_login_at, 1800000000),
  last_login_ip = CASE WHEN current_login_at IS NULL THEN '192.0.2.1' ELSE current_login_ip END,
  current_login_at = 1800000000, current_login_ip = '192.0.2.1',
  login_count = login_count + 1 WHERE id = :id;
NOTIFY fsec_revoke, 'user';
END;
