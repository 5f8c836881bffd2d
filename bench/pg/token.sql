-- A token check on a cache miss: the user row and its roles (store.c's
-- USER_COLS shape), by primary key here (pgbench draws ids, not
-- uniquifiers; the same one unique-index probe + the roles subquery).
\set id random(1, :users)
SELECT u.id, u.email, u.username, u.password, u.active, u.confirmed_at,
  u.fs_uniquifier, u.fs_token_uniquifier, u.last_login_at, u.current_login_at,
  u.last_login_ip, u.current_login_ip, u.login_count, u.create_datetime,
  u.update_datetime, u.failed_login_count, u.failed_login_window,
  COALESCE((SELECT string_agg(r.name || chr(31) || r.permissions, chr(30) ORDER BY r.id)
            FROM roles_users ru JOIN roles r ON r.id = ru.role_id WHERE ru.user_id = u.id), '')
  FROM users u WHERE u.id = :id;
