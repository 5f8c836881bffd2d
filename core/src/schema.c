/*
 * schema.c: the store's schema as numbered migrations. Migration N takes a
 * database from user_version N-1 to N; they run in order, in one
 * transaction, when a store is opened. Never edit a released migration:
 * add a new one.
 */
#include "internal.h"

/* The users columns whose change ends sessions or tokens or changes what
 * the user may do (not the tracking and lockout counters). */
#define FSEC__REVOKING_COLUMNS                                                \
  "email, username, password, active, confirmed_at, fs_uniquifier,"           \
  " fs_token_uniquifier, tf_primary_method, tf_totp_secret, tf_phone_number," \
  " us_totp_secrets, us_phone_number, mf_recovery_codes"

static const char *const MIGRATIONS[] = {
    /* 1: users, roles and their link (Flask-Security's fsqla_v3 fields). */
    "CREATE TABLE users ("
    "  id INTEGER PRIMARY KEY,"
    "  email TEXT NOT NULL,"
    "  email_norm TEXT NOT NULL UNIQUE," /* case-folded: the lookup key */
    "  username TEXT,"
    "  username_norm TEXT UNIQUE,"
    "  password TEXT,"
    "  active INTEGER NOT NULL DEFAULT 1,"
    "  confirmed_at INTEGER,"
    "  fs_uniquifier TEXT NOT NULL UNIQUE,"
    "  fs_token_uniquifier TEXT UNIQUE,"
    "  last_login_at INTEGER,"
    "  current_login_at INTEGER,"
    "  last_login_ip TEXT,"
    "  current_login_ip TEXT,"
    "  login_count INTEGER NOT NULL DEFAULT 0,"
    "  tf_primary_method TEXT,"
    "  tf_totp_secret TEXT,"
    "  tf_phone_number TEXT,"
    "  us_totp_secrets TEXT,"
    "  us_phone_number TEXT UNIQUE,"
    "  fs_webauthn_user_handle TEXT UNIQUE,"
    "  mf_recovery_codes TEXT,"
    "  create_datetime INTEGER NOT NULL,"
    "  update_datetime INTEGER NOT NULL);"
    "CREATE TABLE roles ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  description TEXT,"
    "  permissions TEXT NOT NULL DEFAULT '',"
    "  update_datetime INTEGER NOT NULL);"
    "CREATE TABLE roles_users ("
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  role_id INTEGER NOT NULL REFERENCES roles(id) ON DELETE CASCADE,"
    "  PRIMARY KEY (user_id, role_id)) WITHOUT ROWID;"
    "CREATE INDEX roles_users_role ON roles_users(role_id);",

    /* 2: failed-login counting for lockout. */
    "ALTER TABLE users ADD COLUMN failed_login_count INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE users ADD COLUMN failed_login_window INTEGER;",

    /* 3: server-side session records, so logout and revocation are real
     * (a signed cookie alone cannot be taken back). */
    "CREATE TABLE sessions ("
    "  id TEXT PRIMARY KEY,"
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  created_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX sessions_user ON sessions(user_id);",

    /* 4: the purge of a user's expired sessions at each login reads only
     * the expired ones; on user_id alone it read every session of the
     * user (a login cost grew with the sessions the user had open). */
    "CREATE INDEX sessions_user_expiry ON sessions(user_id, expires_at);"
    "DROP INDEX sessions_user;",

    /* 5: emails folded as mail systems do (identity.c: IDNA domains, NFC
     * local parts) instead of NFKC + full case folding. No schema change:
     * store.c recomputes every email_norm after this step (see
     * fsec__migration_refolds_emails). */
    "",
    /* 6: password checks reserved for identities that name no account,
     * keyed by a keyed hash of the identity (no address is stored): a
     * failed login for an unknown identity writes as one for a known
     * account does (no timing oracle), and guessing there is metered too.
     * Rows whose window has passed are pruned as new ones come. */
    "CREATE TABLE login_attempts ("
    "  key TEXT PRIMARY KEY,"
    "  n INTEGER NOT NULL,"
    "  started INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX login_attempts_started ON login_attempts(started);",
    /* 7: facts about the database itself, one row each: the keyed check of
     * the password salt it was made with (lua/fsec/saltcheck.lua), so that
     * an application or the fsec command given another salt is refused
     * before it writes a user who could never sign in. */
    "CREATE TABLE meta ("
    "  key TEXT PRIMARY KEY,"
    "  value TEXT NOT NULL) WITHOUT ROWID;",
    /* 8: the revocation epoch (fsec_store_revocation_epoch), moved by the
     * database itself in the transaction of every write that can end a
     * session or token or change what a user may do, whoever makes it (a
     * node, the fsec command): caches on every node compare it. A
     * session purged because it expired moves nothing. */
    "CREATE TABLE revocation ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  epoch INTEGER NOT NULL);"
    "INSERT INTO revocation (id, epoch) VALUES (1, 0);"
    "CREATE TRIGGER revoke_user AFTER UPDATE OF " FSEC__REVOKING_COLUMNS " ON users"
    " BEGIN UPDATE revocation SET epoch = epoch + 1; END;"
    "CREATE TRIGGER revoke_user_delete AFTER DELETE ON users"
    " BEGIN UPDATE revocation SET epoch = epoch + 1; END;"
    "CREATE TRIGGER revoke_session AFTER DELETE ON sessions"
    " WHEN OLD.expires_at > CAST(strftime('%s', 'now') AS INTEGER)"
    " BEGIN UPDATE revocation SET epoch = epoch + 1; END;"
    "CREATE TRIGGER revoke_role AFTER UPDATE OF permissions ON roles"
    " BEGIN UPDATE revocation SET epoch = epoch + 1; END;"
    "CREATE TRIGGER revoke_role_delete AFTER DELETE ON roles"
    " BEGIN UPDATE revocation SET epoch = epoch + 1; END;"
    "CREATE TRIGGER revoke_link_add AFTER INSERT ON roles_users"
    " BEGIN UPDATE revocation SET epoch = epoch + 1; END;"
    "CREATE TRIGGER revoke_link_delete AFTER DELETE ON roles_users"
    " BEGIN UPDATE revocation SET epoch = epoch + 1; END;",
    /* 9: the last accepted one-time code's counter (the TOTP time step)
     * per user and method, so that an accepted code is never accepted
     * again (RFC 6238 section 5.2), on every node: one upsert moves it
     * forward (fsec_store_otp_advance). No revocation trigger: a code
     * accepted ends nothing. */
    "CREATE TABLE otp_counters ("
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  method TEXT NOT NULL,"
    "  counter INTEGER NOT NULL,"
    "  PRIMARY KEY (user_id, method)) WITHOUT ROWID;",
    /* 10: the application's per-session data (Flask's session[...]),
     * server-side in the session's row so that it ends with it (logout,
     * reset_user_access, a password change's other sessions, expiry):
     * JSON text written by lua/fsec/auth.lua, and a version that each
     * write moves, for compare-and-set between workers. No revocation
     * trigger: data changes end nothing. */
    "ALTER TABLE sessions ADD COLUMN data TEXT;"
    "ALTER TABLE sessions ADD COLUMN data_version INTEGER NOT NULL DEFAULT 0;",
    /* 11: the application's own user fields (register_fields,
     * lua/fsec/regfields.lua): one JSON object per user, NULL when none.
     * A column rather than a side table: the fields come and go with
     * the user's row and its one SELECT. Not a revoking column: a
     * display name changed ends nothing. */
    "ALTER TABLE users ADD COLUMN fields TEXT;",
    /* 12: the mail outbox (lua/fsec/outbox.lua, docs/mail.md): a request
     * only inserts the whole message, in the transaction of the change
     * that causes it; drainers claim due rows with a lease (lease_until),
     * send them and delete them after the server's 250. next_at NULL: given
     * up after the last retry, kept for the operator. */
    "CREATE TABLE outbox ("
    "  id INTEGER PRIMARY KEY,"
    "  message_id TEXT NOT NULL UNIQUE,"
    "  sender TEXT NOT NULL,"
    "  recipient TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  message TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  next_at INTEGER,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  lease_owner TEXT,"
    "  lease_until INTEGER NOT NULL DEFAULT 0,"
    "  last_error TEXT);"
    "CREATE INDEX outbox_due ON outbox(next_at, id) WHERE next_at IS NOT NULL;",
    /* 13: WebAuthn credentials (passkeys), Flask-Security-Too's webauthn
     * table: the credential id and COSE public key as bytes, the sign
     * count moved by compare-and-set (fsec_store_webauthn_used), names
     * unique per user. They go with their user; users already have
     * fs_webauthn_user_handle (migration 1). No revocation trigger: a
     * key added or removed ends no session (as Too). */
    "CREATE TABLE webauthn ("
    "  id INTEGER PRIMARY KEY,"
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  credential_id BLOB NOT NULL UNIQUE"
    "    CHECK (length(credential_id) BETWEEN 1 AND 1023),"
    "  public_key BLOB NOT NULL,"
    "  sign_count INTEGER NOT NULL DEFAULT 0"
    "    CHECK (sign_count BETWEEN 0 AND 4294967295),"
    "  transports TEXT,"
    "  name TEXT NOT NULL,"
    "  usage TEXT NOT NULL CHECK (usage IN ('first', 'secondary')),"
    "  backup_state INTEGER NOT NULL DEFAULT 0,"
    "  device_type TEXT,"
    "  user_handle TEXT,"
    "  create_datetime INTEGER NOT NULL,"
    "  lastuse_datetime INTEGER NOT NULL,"
    "  UNIQUE (user_id, name));",
    /* 14: each attempt row's own end. Rows were pruned by the window of
     * whichever caller came next, so a short window (an unknown email's
     * meter) deleted a longer one's row (a WebAuthn challenge marked
     * used), and the challenge could be used again. Rows from before keep
     * 30 days: their window is not known, and keeping one too long only
     * keeps it (its own window still decides its count). */
    "ALTER TABLE login_attempts ADD COLUMN expires INTEGER NOT NULL DEFAULT 0;"
    "UPDATE login_attempts SET expires = started + 2592000;"
    "DROP INDEX login_attempts_started;"
    "CREATE INDEX login_attempts_expires ON login_attempts(expires);",
};

/* PostgreSQL support began at schema 7: its migration 1 makes schema 7
 * whole (the same tables, in PostgreSQL's types), 2..7 have nothing left
 * to do, and from 8 on each migration mirrors SQLite's. Integer columns
 * are bigint (Unix seconds, 0/1 flags, as on SQLite); identity keys and
 * the lookup keys compare bytes (COLLATE "C", as SQLite's BINARY). */
static const char *const PG_MIGRATIONS[] = {
    "CREATE TABLE users ("
    "  id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  email text NOT NULL,"
    "  email_norm text COLLATE \"C\" NOT NULL UNIQUE,"
    "  username text,"
    "  username_norm text COLLATE \"C\" UNIQUE,"
    "  password text,"
    "  active bigint NOT NULL DEFAULT 1,"
    "  confirmed_at bigint,"
    "  fs_uniquifier text COLLATE \"C\" NOT NULL UNIQUE,"
    "  fs_token_uniquifier text COLLATE \"C\" UNIQUE,"
    "  last_login_at bigint,"
    "  current_login_at bigint,"
    "  last_login_ip text,"
    "  current_login_ip text,"
    "  login_count bigint NOT NULL DEFAULT 0,"
    "  tf_primary_method text,"
    "  tf_totp_secret text,"
    "  tf_phone_number text,"
    "  us_totp_secrets text,"
    "  us_phone_number text UNIQUE,"
    "  fs_webauthn_user_handle text UNIQUE,"
    "  mf_recovery_codes text,"
    "  create_datetime bigint NOT NULL,"
    "  update_datetime bigint NOT NULL,"
    "  failed_login_count bigint NOT NULL DEFAULT 0,"
    "  failed_login_window bigint);"
    "CREATE TABLE roles ("
    "  id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  name text COLLATE \"C\" NOT NULL UNIQUE,"
    "  description text,"
    "  permissions text NOT NULL DEFAULT '',"
    "  update_datetime bigint NOT NULL);"
    "CREATE TABLE roles_users ("
    "  user_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  role_id bigint NOT NULL REFERENCES roles(id) ON DELETE CASCADE,"
    "  PRIMARY KEY (user_id, role_id));"
    "CREATE INDEX roles_users_role ON roles_users(role_id);"
    "CREATE TABLE sessions ("
    "  id text COLLATE \"C\" PRIMARY KEY,"
    "  user_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  created_at bigint NOT NULL,"
    "  expires_at bigint NOT NULL);"
    "CREATE INDEX sessions_user_expiry ON sessions(user_id, expires_at);"
    "CREATE TABLE login_attempts ("
    "  key text COLLATE \"C\" PRIMARY KEY,"
    "  n bigint NOT NULL,"
    "  started bigint NOT NULL);"
    "CREATE INDEX login_attempts_started ON login_attempts(started);"
    "CREATE TABLE meta ("
    "  key text COLLATE \"C\" PRIMARY KEY,"
    "  value text NOT NULL);",
    "",
    "",
    "",
    "",
    "",
    "",
    /* 8: as SQLite's 8. Row triggers, so that an UPDATE that changed no
     * row (the SET statements' IS DISTINCT FROM) moves nothing. */
    "CREATE TABLE revocation ("
    "  id integer PRIMARY KEY CHECK (id = 1),"
    "  epoch bigint NOT NULL);"
    "INSERT INTO revocation (id, epoch) VALUES (1, 0);"
    "CREATE FUNCTION fsec_revoke() RETURNS trigger LANGUAGE plpgsql AS"
    " $f$ BEGIN UPDATE revocation SET epoch = epoch + 1; RETURN NULL; END $f$;"
    "CREATE TRIGGER revoke_user AFTER UPDATE OF " FSEC__REVOKING_COLUMNS " ON users"
    " FOR EACH ROW EXECUTE FUNCTION fsec_revoke();"
    "CREATE TRIGGER revoke_user_delete AFTER DELETE ON users"
    " FOR EACH ROW EXECUTE FUNCTION fsec_revoke();"
    "CREATE TRIGGER revoke_session AFTER DELETE ON sessions FOR EACH ROW"
    " WHEN (OLD.expires_at > extract(epoch FROM now())::bigint)"
    " EXECUTE FUNCTION fsec_revoke();"
    "CREATE TRIGGER revoke_role AFTER UPDATE OF permissions ON roles"
    " FOR EACH ROW EXECUTE FUNCTION fsec_revoke();"
    "CREATE TRIGGER revoke_role_delete AFTER DELETE ON roles"
    " FOR EACH ROW EXECUTE FUNCTION fsec_revoke();"
    "CREATE TRIGGER revoke_link AFTER INSERT OR DELETE ON roles_users"
    " FOR EACH ROW EXECUTE FUNCTION fsec_revoke();",
    /* 9: as SQLite's 9. */
    "CREATE TABLE otp_counters ("
    "  user_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  method text COLLATE \"C\" NOT NULL,"
    "  counter bigint NOT NULL,"
    "  PRIMARY KEY (user_id, method));",
    /* 10: as SQLite's 10. */
    "ALTER TABLE sessions ADD COLUMN data text;"
    "ALTER TABLE sessions ADD COLUMN data_version bigint NOT NULL DEFAULT 0;",
    /* 11: as SQLite's 11. */
    "ALTER TABLE users ADD COLUMN fields text;",
    /* 12: as SQLite's 12. */
    "CREATE TABLE outbox ("
    "  id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  message_id text COLLATE \"C\" NOT NULL UNIQUE,"
    "  sender text NOT NULL,"
    "  recipient text NOT NULL,"
    "  kind text NOT NULL,"
    "  message text NOT NULL,"
    "  created_at bigint NOT NULL,"
    "  next_at bigint,"
    "  attempts bigint NOT NULL DEFAULT 0,"
    "  lease_owner text,"
    "  lease_until bigint NOT NULL DEFAULT 0,"
    "  last_error text);"
    "CREATE INDEX outbox_due ON outbox(next_at, id) WHERE next_at IS NOT NULL;",
    /* 13: as SQLite's 13. */
    "CREATE TABLE webauthn ("
    "  id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  user_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  credential_id bytea NOT NULL UNIQUE"
    "    CHECK (octet_length(credential_id) BETWEEN 1 AND 1023),"
    "  public_key bytea NOT NULL,"
    "  sign_count bigint NOT NULL DEFAULT 0"
    "    CHECK (sign_count BETWEEN 0 AND 4294967295),"
    "  transports text,"
    "  name text COLLATE \"C\" NOT NULL,"
    "  usage text NOT NULL CHECK (usage IN ('first', 'secondary')),"
    "  backup_state bigint NOT NULL DEFAULT 0,"
    "  device_type text,"
    "  user_handle text,"
    "  create_datetime bigint NOT NULL,"
    "  lastuse_datetime bigint NOT NULL,"
    "  UNIQUE (user_id, name));",
    /* 14: as SQLite's 14. */
    "ALTER TABLE login_attempts ADD COLUMN expires bigint NOT NULL DEFAULT 0;"
    "UPDATE login_attempts SET expires = started + 2592000;"
    "DROP INDEX login_attempts_started;"
    "CREATE INDEX login_attempts_expires ON login_attempts(expires);",
};

int fsec__migration_count(void) {
  return (int)(sizeof MIGRATIONS / sizeof MIGRATIONS[0]);
}

/* Migrations after which every stored email_norm is recomputed with
 * today's fsec_identity_email: the fold changed, SQL cannot redo it. */
int fsec__migration_refolds_emails(int version) { return version == 5; }

const char *fsec__migration_sql(int version) {
  if (version < 1 || version > fsec__migration_count()) return NULL;
  return MIGRATIONS[version - 1];
}

const char *fsec__pg_migration_sql(int version) {
  if (version < 1 || version > (int)(sizeof PG_MIGRATIONS / sizeof PG_MIGRATIONS[0])) return NULL;
  return PG_MIGRATIONS[version - 1];
}
