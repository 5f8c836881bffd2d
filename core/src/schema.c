/*
 * schema.c: the store's schema as numbered migrations. Migration N takes a
 * database from user_version N-1 to N; they run in order, in one
 * transaction, when a store is opened. Never edit a released migration:
 * add a new one.
 */
#include "internal.h"

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
