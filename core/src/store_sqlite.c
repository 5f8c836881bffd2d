/*
 * store_sqlite.c: the store's SQLite backend (store_impl.h), the embedded
 * default: every sqlite3 call of fsec. Open, configure and migrate, the
 * statements in SQLite's dialect (cached prepared statements), rc
 * mapping, and the calls that exist for SQLite's WAL only.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store_impl.h"

#define USER_COLS                                                            \
  "u.id, u.email, u.username, u.password, u.active, u.confirmed_at,"         \
  " u.fs_uniquifier, u.fs_token_uniquifier, u.last_login_at,"                \
  " u.current_login_at, u.last_login_ip, u.current_login_ip, u.login_count," \
  " u.create_datetime, u.update_datetime, u.failed_login_count,"             \
  " u.failed_login_window,"                                                  \
  " COALESCE((SELECT group_concat(r.name || char(31) || r.permissions,"      \
  " char(30)) FROM roles_users ru JOIN roles r ON r.id = ru.role_id"         \
  " WHERE ru.user_id = u.id), '')"                                           \
  ", u.tf_primary_method, u.tf_totp_secret, u.tf_phone_number,"              \
  " u.us_totp_secrets, u.us_phone_number, u.mf_recovery_codes, u.fields,"    \
  " u.fs_webauthn_user_handle"
#define SWAP(col)                                       \
  "UPDATE users SET " col " = ?2, update_datetime = ?3" \
  " WHERE id = ?1 AND " col " IS ?4"
#define FIND(col) "SELECT " USER_COLS " FROM users u WHERE u." col " = ?1"
#define SET(col)                                        \
  "UPDATE users SET " col " = ?2, update_datetime = ?3" \
  " WHERE id = ?1 AND " col " IS NOT ?2"
#define SET_NORM(col)                                                      \
  "UPDATE users SET " col " = ?2, " col "_norm = ?4, update_datetime = ?3" \
  " WHERE id = ?1 AND (" col " IS NOT ?2 OR " col "_norm IS NOT ?4)"

#define WAN_COLS                                                      \
  "id, user_id, hex(credential_id), hex(public_key), sign_count,"     \
  " transports, name, usage, backup_state, device_type, user_handle," \
  " create_datetime, lastuse_datetime"


static const char *const SQL[ST__COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SAVEPOINT] = "SAVEPOINT fsec_op",
    [ST_RELEASE] = "RELEASE fsec_op",
    [ST_ROLLBACK_TO] = "ROLLBACK TO fsec_op",
    [ST_FIND_ID] = FIND("id"),
    [ST_FIND_EMAIL] = FIND("email_norm"),
    [ST_FIND_USERNAME] = FIND("username_norm"),
    [ST_FIND_UQ] = FIND("fs_uniquifier"),
    [ST_FIND_TUQ] = FIND("fs_token_uniquifier"),
    [ST_FIND_PHONE] = FIND("us_phone_number"),
    [ST_USER_INSERT] =
        "INSERT INTO users (email, email_norm, username, username_norm,"
        " password, active, confirmed_at, fs_uniquifier, fs_token_uniquifier,"
        " create_datetime, update_datetime, fields)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11) RETURNING id",
    [ST_ROLE_ID] = "SELECT id FROM roles WHERE name = ?1",
    [ST_LINK_ADD] =
        "INSERT OR IGNORE INTO roles_users (user_id, role_id) VALUES (?1, ?2)",
    [ST_LINK_DEL] = "DELETE FROM roles_users WHERE user_id = ?1 AND role_id = ?2",
    [ST_USER_DELETE] = "DELETE FROM users WHERE id = ?1",
    [ST_TRACK] =
        "UPDATE users SET last_login_at = COALESCE(current_login_at, ?2),"
        " last_login_ip = CASE WHEN current_login_at IS NULL THEN ?3"
        " ELSE current_login_ip END,"
        " current_login_at = ?2, current_login_ip = ?3,"
        " login_count = login_count + 1 WHERE id = ?1",
    [ST_ROLE_INSERT] =
        "INSERT INTO roles (name, description, permissions, update_datetime)"
        " VALUES (?1, ?2, ?3, ?4) RETURNING id",
    [ST_ROLE_FIND] =
        "SELECT id, name, description, permissions, update_datetime"
        " FROM roles WHERE name = ?1",
    [ST_ROLE_NEXT] =
        "SELECT id, name, description, permissions, update_datetime"
        " FROM roles WHERE id > ?1 ORDER BY id LIMIT 1",
    [ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [ST_META_ADD] = "INSERT OR IGNORE INTO meta (key, value) VALUES (?1, ?2)",
    [ST_ROLE_PERMS] =
        "UPDATE roles SET permissions = ?2, update_datetime = ?3"
        " WHERE name = ?1 AND permissions IS NOT ?2",
    [ST_ROLE_DELETE] = "DELETE FROM roles WHERE name = ?1",
    [ST_COUNT_USERS] = "SELECT count(*) FROM users",
    [ST_COUNT_ROLES] = "SELECT count(*) FROM roles",
    [ST_EPOCH] = "SELECT epoch FROM revocation",
    [ST_FAILED_LOGIN] =
        "UPDATE users SET"
        " failed_login_count = CASE WHEN failed_login_window IS NULL"
        "   OR failed_login_window <= ?2 - ?3 THEN 1"
        "   ELSE failed_login_count + 1 END,"
        " failed_login_window = CASE WHEN failed_login_window IS NULL"
        "   OR failed_login_window <= ?2 - ?3 THEN ?2"
        "   ELSE failed_login_window END"
        " WHERE id = ?1 RETURNING failed_login_count",
    /* as ST_FAILED_LOGIN, but only while fewer than ?4 failures stand in
     * the window: the check and the count are one atomic statement */
    [ST_RESERVE_LOGIN] =
        "UPDATE users SET"
        " failed_login_count = CASE WHEN failed_login_window IS NULL"
        "   OR failed_login_window <= ?2 - ?3 THEN 1"
        "   ELSE failed_login_count + 1 END,"
        " failed_login_window = CASE WHEN failed_login_window IS NULL"
        "   OR failed_login_window <= ?2 - ?3 THEN ?2"
        "   ELSE failed_login_window END"
        " WHERE id = ?1 AND (failed_login_window IS NULL"
        "   OR failed_login_window <= ?2 - ?3 OR failed_login_count < ?4)"
        " RETURNING failed_login_count",
    [ST_RELEASE_LOGIN] =
        "UPDATE users SET failed_login_count = failed_login_count - 1"
        " WHERE id = ?1 AND failed_login_count > 0",
    /* expires: the row's own end (migration 14), never shortened */
    [ST_ATTEMPT_RESERVE] =
        "INSERT INTO login_attempts (key, n, started, expires)"
        " VALUES (?1, 1, ?2, ?2 + ?3) ON CONFLICT (key) DO UPDATE SET"
        " n = CASE WHEN started <= ?2 - ?3 THEN 1 ELSE n + 1 END,"
        " expires = CASE WHEN started <= ?2 - ?3 THEN ?2 + ?3"
        "   ELSE max(expires, started + ?3) END,"
        " started = CASE WHEN started <= ?2 - ?3 THEN ?2 ELSE started END"
        " WHERE started <= ?2 - ?3 OR n < ?4"
        " RETURNING n",
    [ST_ATTEMPT_PRUNE] =
        "DELETE FROM login_attempts WHERE key IN (SELECT key FROM"
        " login_attempts WHERE expires <= ?1 LIMIT 4)",
    [ST_RESET_FAILED] =
        "UPDATE users SET failed_login_count = 0, failed_login_window = NULL"
        " WHERE id = ?1 AND failed_login_count <> 0",
    [ST_SESSION_INSERT] =
        "INSERT INTO sessions (id, user_id, created_at, expires_at)"
        " VALUES (?1, ?2, ?3, ?4)",
    [ST_SESSION_PURGE] =
        "DELETE FROM sessions WHERE user_id = ?1 AND expires_at <= ?2",
    [ST_SESSION_DELETE] = "DELETE FROM sessions WHERE id = ?1",
    [ST_SESSION_DELETE_USER] =
        "DELETE FROM sessions WHERE user_id = ?1 AND id IS NOT ?2",
    [ST_FIND_SESSION] =
        "SELECT " USER_COLS " FROM sessions se JOIN users u"
        " ON u.id = se.user_id WHERE se.id = ?1 AND u.fs_uniquifier = ?2"
        " AND se.expires_at > ?3",
    [ST_SESSION_DATA_GET] =
        "SELECT data, data_version FROM sessions WHERE id = ?1"
        " AND expires_at > ?2",
    /* compare-and-set: 0 changes when another write came first (or the
     * session is gone) */
    [ST_SESSION_DATA_SET] =
        "UPDATE sessions SET data = ?2, data_version = data_version + 1"
        " WHERE id = ?1 AND data_version = ?3 AND expires_at > ?4",
    /* the outbox: a claim is one UPDATE (writes are serialised) */
    [ST_OUTBOX_ADD] =
        "INSERT INTO outbox (message_id, sender, recipient, kind, message,"
        " created_at, next_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) RETURNING id",
    [ST_OUTBOX_CLAIM] =
        "UPDATE outbox SET lease_owner = ?1, lease_until = ?3,"
        " attempts = attempts + 1 WHERE id = (SELECT id FROM outbox"
        " WHERE next_at IS NOT NULL AND next_at <= ?2 AND lease_until <= ?2"
        " ORDER BY next_at, id LIMIT 1)"
        " RETURNING message_id, sender, recipient, kind, message, id,"
        " attempts, created_at",
    [ST_OUTBOX_SENT] = "DELETE FROM outbox WHERE id = ?1",
    [ST_OUTBOX_RETRY] =
        "UPDATE outbox SET lease_owner = NULL, lease_until = 0, next_at = ?3,"
        " last_error = ?4 WHERE id = ?1 AND lease_owner = ?2",
    [ST_OUTBOX_COUNTS] =
        "SELECT count(*), coalesce(sum(CASE WHEN next_at IS NULL THEN 1 ELSE 0"
        " END), 0) FROM outbox",
    /* inserted, or moved forward only: 0 changes is a replay */
    [ST_OTP_ADVANCE] =
        "INSERT INTO otp_counters (user_id, method, counter) VALUES (?1, ?2, ?3)"
        " ON CONFLICT (user_id, method) DO UPDATE SET counter = excluded.counter"
        " WHERE otp_counters.counter < excluded.counter",
    [ST_FIND_HANDLE] = FIND("fs_webauthn_user_handle"),
    /* WebAuthn credentials: bytes read back as hex (one form for both
     * backends' text results), decoded by store.c */
    [ST_WAN_INSERT] =
        "INSERT INTO webauthn (user_id, credential_id, public_key, sign_count,"
        " transports, name, usage, backup_state, device_type, user_handle,"
        " create_datetime, lastuse_datetime) VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
        " ?7, ?8, ?9, ?10, ?11, ?12) RETURNING id",
    [ST_WAN_FIND] = "SELECT " WAN_COLS " FROM webauthn WHERE credential_id = ?1",
    [ST_WAN_NEXT] = "SELECT " WAN_COLS " FROM webauthn WHERE user_id = ?1"
                    " AND id > ?2 ORDER BY id LIMIT 1",
    /* compare-and-set on the count the caller read: of racers, the first
     * to write changes the count, the others' WHERE no longer holds */
    [ST_WAN_USED] = "UPDATE webauthn SET sign_count = ?3, lastuse_datetime = ?4"
                    " WHERE id = ?1 AND sign_count = ?2",
    [ST_WAN_DELETE] = "DELETE FROM webauthn WHERE id = ?1",
    [ST_WAN_DELETE_USER] = "DELETE FROM webauthn WHERE user_id = ?1",
    /* the email compares folded: ?4 the expected one's norm (NULL: one
     * that folds no more, compared as stored, ?6), ?5 the new one's */
    [ST_SWAP_FIRST +
        FSEC_COL_EMAIL] =
        "UPDATE users SET email = ?2, email_norm = ?5, update_datetime = ?3"
        " WHERE id = ?1 AND (email_norm = ?4 OR (?4 IS NULL AND email = ?6))",
    [ST_SWAP_FIRST +
        FSEC_COL_FS_WEBAUTHN_USER_HANDLE] = SWAP("fs_webauthn_user_handle"),
    [ST_SET_FIRST +
        FSEC_COL_FS_WEBAUTHN_USER_HANDLE] = SET("fs_webauthn_user_handle"),
    [ST_SWAP_FIRST +
        FSEC_COL_PASSWORD] = SWAP("password"),
    [ST_SWAP_FIRST +
        FSEC_COL_FS_UNIQUIFIER] = SWAP("fs_uniquifier"),
    [ST_SWAP_FIRST +
        FSEC_COL_FS_TOKEN_UNIQUIFIER] = SWAP("fs_token_uniquifier"),
    [ST_SWAP_FIRST +
        FSEC_COL_TF_PRIMARY_METHOD] = SWAP("tf_primary_method"),
    [ST_SWAP_FIRST +
        FSEC_COL_TF_TOTP_SECRET] = SWAP("tf_totp_secret"),
    [ST_SWAP_FIRST +
        FSEC_COL_TF_PHONE_NUMBER] = SWAP("tf_phone_number"),
    [ST_SWAP_FIRST +
        FSEC_COL_US_TOTP_SECRETS] = SWAP("us_totp_secrets"),
    [ST_SWAP_FIRST +
        FSEC_COL_US_PHONE_NUMBER] = SWAP("us_phone_number"),
    [ST_SWAP_FIRST +
        FSEC_COL_MF_RECOVERY_CODES] = SWAP("mf_recovery_codes"),
    [ST_SWAP_FIRST +
        FSEC_COL_LAST_LOGIN_IP] = SWAP("last_login_ip"),
    [ST_SWAP_FIRST +
        FSEC_COL_CURRENT_LOGIN_IP] = SWAP("current_login_ip"),
    [ST_SWAP_FIRST +
        FSEC_COL_FIELDS] = SWAP("fields"),
    [ST_SET_FIRST +
        FSEC_COL_EMAIL] = SET_NORM("email"),
    [ST_SET_FIRST +
        FSEC_COL_USERNAME] = SET_NORM("username"),
    [ST_SET_FIRST +
        FSEC_COL_PASSWORD] = SET("password"),
    [ST_SET_FIRST +
        FSEC_COL_FS_UNIQUIFIER] = SET("fs_uniquifier"),
    [ST_SET_FIRST +
        FSEC_COL_FS_TOKEN_UNIQUIFIER] = SET("fs_token_uniquifier"),
    [ST_SET_FIRST +
        FSEC_COL_TF_PRIMARY_METHOD] = SET("tf_primary_method"),
    [ST_SET_FIRST +
        FSEC_COL_TF_TOTP_SECRET] = SET("tf_totp_secret"),
    [ST_SET_FIRST +
        FSEC_COL_TF_PHONE_NUMBER] = SET("tf_phone_number"),
    [ST_SET_FIRST +
        FSEC_COL_US_TOTP_SECRETS] = SET("us_totp_secrets"),
    [ST_SET_FIRST +
        FSEC_COL_US_PHONE_NUMBER] = SET("us_phone_number"),
    [ST_SET_FIRST +
        FSEC_COL_MF_RECOVERY_CODES] = SET("mf_recovery_codes"),
    [ST_SET_FIRST +
        FSEC_COL_LAST_LOGIN_IP] = SET("last_login_ip"),
    [ST_SET_FIRST +
        FSEC_COL_CURRENT_LOGIN_IP] = SET("current_login_ip"),
    [ST_SET_FIRST +
        FSEC_COL_FIELDS] = SET("fields"),
    [ST_SET_FIRST +
        FSEC_COL_ACTIVE] = SET("active"),
    [ST_SET_FIRST +
        FSEC_COL_CONFIRMED_AT] = SET("confirmed_at"),
    [ST_SET_FIRST +
        FSEC_COL_LAST_LOGIN_AT] = SET("last_login_at"),
    [ST_SET_FIRST +
        FSEC_COL_CURRENT_LOGIN_AT] = SET("current_login_at"),
    [ST_SET_FIRST +
        FSEC_COL_LOGIN_COUNT] = SET("login_count"),
    [ST_USER_NEXT] = "SELECT " USER_COLS " FROM users u WHERE u.id > ?1"
                     " ORDER BY u.id LIMIT 1",
    [ST_USER_NEXT_ROLE] =
        "SELECT " USER_COLS " FROM users u WHERE u.id > ?1 AND u.id IN"
        " (SELECT ru.user_id FROM roles_users ru JOIN roles r ON r.id = ru.role_id"
        " WHERE r.name = ?2) ORDER BY u.id LIMIT 1",
};


/* The connection: the handle, its cached statements, the one in use. */
typedef struct lite {
  sqlite3 *db;
  sqlite3_stmt *st[ST__COUNT];
  sqlite3_stmt *cur; /* started, not finished */
  int can_defer;     /* WAL journal and synchronous FULL */
  int deferred;      /* this transaction commits at synchronous NORMAL */
} lite;

#define L(s) ((lite *)(s)->db)
#define serr fsec__serr

/* Map an SQLite result to an fsec code, with a message naming what. */
static int map_rc(fsec_store *s, int rc, const char *what) {
  const char *m = sqlite3_errmsg(L(s)->db);
  switch (rc & 0xff) {
  case SQLITE_BUSY:
  case SQLITE_LOCKED:
    return serr(s, FSEC_EBUSY, "store busy: %s (%s)", what, m);
  case SQLITE_FULL:
    return serr(s, FSEC_EFULL, "database or disk is full: %s", what);
  case SQLITE_READONLY:
    return serr(s, FSEC_EREADONLY, "database is read-only: %s (%s)", what, m);
  case SQLITE_NOMEM:
    return serr(s, FSEC_ENOMEM, "out of memory: %s", what);
  case SQLITE_CONSTRAINT:
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
      return serr(s, FSEC_ENOTFOUND, "%s: a row it names does not exist", what);
    if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
      if (strstr(m, "email")) return serr(s, FSEC_EEXIST, "email already exists");
      if (strstr(m, "username"))
        return serr(s, FSEC_EEXIST, "username already exists");
      if (strstr(m, "roles.name"))
        return serr(s, FSEC_EEXIST, "role already exists");
      if (strstr(m, "phone"))
        return serr(s, FSEC_EEXIST, "phone number already exists");
      return serr(s, FSEC_EEXIST, "uniquifier already exists");
    }
    /* fall through */
  default:
    return serr(s, FSEC_EDB, "database error: %s: %s (code %d)", what, m, rc);
  }
}

/* ------------------------------------------------------------------ */
/* Statements (store_impl.h's backend calls)                           */
/* ------------------------------------------------------------------ */

/* The cached statement, prepared on first use. */
static int lite_start(fsec_store *s, int id) {
  lite *l = L(s);
  if (!l->st[id]) {
    int r = sqlite3_prepare_v3(l->db, SQL[id], -1, SQLITE_PREPARE_PERSISTENT,
                               &l->st[id], NULL);
    if (r != SQLITE_OK) return map_rc(s, r, "prepare");
  }
  l->cur = l->st[id];
  return FSEC_OK;
}

static void lite_bind_text(fsec_store *s, int i, const char *v, size_t len) {
  sqlite3_bind_text(L(s)->cur, i, v, (int)len, SQLITE_STATIC);
}

static void lite_bind_int(fsec_store *s, int i, int64_t v) {
  sqlite3_bind_int64(L(s)->cur, i, v);
}

static void lite_bind_null(fsec_store *s, int i) { sqlite3_bind_null(L(s)->cur, i); }

static void lite_bind_blob(fsec_store *s, int i, const char *v, size_t len) {
  sqlite3_bind_blob(L(s)->cur, i, v, (int)len, SQLITE_STATIC);
}

static int lite_step(fsec_store *s, const char *what) {
  int r = sqlite3_step(L(s)->cur);
  if (r == SQLITE_ROW) return FSEC__ROW;
  if (r == SQLITE_DONE) return FSEC__DONE;
  return map_rc(s, r, what);
}

static int64_t lite_col_int(fsec_store *s, int i) {
  return sqlite3_column_int64(L(s)->cur, i);
}

static int lite_col_null(fsec_store *s, int i) {
  return sqlite3_column_type(L(s)->cur, i) == SQLITE_NULL;
}

static const char *lite_col_text(fsec_store *s, int i, size_t *len) {
  const unsigned char *t = sqlite3_column_text(L(s)->cur, i);
  *len = t ? (size_t)sqlite3_column_bytes(L(s)->cur, i) : 0;
  return (const char *)t;
}

static void lite_finish(fsec_store *s) {
  lite *l = L(s);
  if (!l->cur) return;
  sqlite3_reset(l->cur);
  sqlite3_clear_bindings(l->cur);
  l->cur = NULL;
}

static int64_t lite_changes(fsec_store *s) { return sqlite3_changes(L(s)->db); }

static int lite_txn_open(fsec_store *s) { return !sqlite3_get_autocommit(L(s)->db); }

/* ------------------------------------------------------------------ */
/* Open, migrate, close                                                */
/* ------------------------------------------------------------------ */

static int exec_sql(fsec_store *s, const char *sql, const char *what) {
  int r = sqlite3_exec(L(s)->db, sql, NULL, NULL, NULL);
  return r == SQLITE_OK ? FSEC_OK : map_rc(s, r, what);
}

/* A one-integer query prepared for the occasion (pragmas, counts). */
static int query_int(fsec_store *s, const char *sql, int *v, const char *what) {
  sqlite3_stmt *st;
  int r = sqlite3_prepare_v2(L(s)->db, sql, -1, &st, NULL);
  if (r != SQLITE_OK) return map_rc(s, r, what);
  r = sqlite3_step(st);
  *v = r == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
  sqlite3_finalize(st);
  return r == SQLITE_ROW ? FSEC_OK : map_rc(s, r, what);
}

static int user_version(fsec_store *s, int *v) {
  return query_int(s, "PRAGMA user_version", v, "read schema version");
}

/* One row after id in users (id and email), or SQLITE_DONE. */
static int next_email(sqlite3_stmt *st, sqlite3_int64 after) {
  sqlite3_reset(st);
  sqlite3_bind_int64(st, 1, after);
  return sqlite3_step(st);
}

/* The user other than id whose email_norm is norm (for the message). */
static void holder(fsec_store *s, const char *norm, sqlite3_int64 id,
                   sqlite3_int64 *other, char *email, size_t len) {
  sqlite3_stmt *st;
  *other = 0;
  snprintf(email, len, "?");
  if (sqlite3_prepare_v2(L(s)->db, "SELECT id, email FROM users WHERE"
                                   " email_norm = ?1 AND id <> ?2",
                         -1, &st, NULL) != SQLITE_OK)
    return;
  sqlite3_bind_text(st, 1, norm, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, id);
  if (sqlite3_step(st) == SQLITE_ROW) {
    *other = sqlite3_column_int64(st, 0);
    snprintf(email, len, "%s", (const char *)sqlite3_column_text(st, 1));
  }
  sqlite3_finalize(st);
}

/* Store one row's new key; two rows that now fold alike are both kept and
 * the migration refused, naming them: which one is the person's real
 * account is the operator's call, not ours. */
static int set_norm(fsec_store *s, sqlite3_stmt *up, sqlite3_int64 id,
                    const char *email, const char *norm) {
  char other_email[64];
  sqlite3_int64 other;
  int r;
  sqlite3_reset(up);
  sqlite3_bind_int64(up, 1, id);
  sqlite3_bind_text(up, 2, norm, -1, SQLITE_TRANSIENT);
  r = sqlite3_step(up);
  if (r == SQLITE_DONE) return FSEC_OK;
  if ((r & 0xff) != SQLITE_CONSTRAINT) return map_rc(s, r, "re-fold emails");
  holder(s, norm, id, &other, other_email, sizeof other_email);
  return serr(s, FSEC_EEXIST,
              "cannot migrate: users %lld <%.50s> and %lld <%.50s> are one "
              "email under IDNA folding; change or delete one, then open "
              "again (docs/datastore.md: email identity)",
              (long long)other, other_email, (long long)id, email);
}

/* Recompute every email_norm with today's fold, in the migration's
 * transaction. Keys first get placeholders no email can fold to (a
 * control character), so that rows trading keys do not collide midway. */
static int refold_emails(fsec_store *s) {
  sqlite3_stmt *next = NULL, *up = NULL;
  sqlite3_int64 id = 0;
  char norm[FSEC__NORM_MAX];
  const char *why;
  int r = SQLITE_DONE, rc = exec_sql(s, "UPDATE users SET email_norm = char(1) || id",
                                     "re-fold emails");
  if (rc == FSEC_OK &&
      (sqlite3_prepare_v2(L(s)->db, "SELECT id, email FROM users WHERE id > ?1"
                                    " ORDER BY id LIMIT 1",
                          -1, &next, NULL) != SQLITE_OK ||
       sqlite3_prepare_v2(L(s)->db, "UPDATE users SET email_norm = ?2 WHERE id = ?1",
                          -1, &up, NULL) != SQLITE_OK))
    rc = map_rc(s, sqlite3_errcode(L(s)->db), "re-fold emails");
  while (rc == FSEC_OK && (r = next_email(next, id)) == SQLITE_ROW) {
    const char *email = (const char *)sqlite3_column_text(next, 1);
    id = sqlite3_column_int64(next, 0);
    why = NULL;
    if (fsec_identity_email_why(email, strlen(email), norm, sizeof norm, &why) != FSEC_OK)
      rc = serr(s, FSEC_EIDENTITY,
                "cannot migrate: user %lld's email <%.60s> is not valid any "
                "more (%s); change it, then open again",
                (long long)id, email,
                why ? why : "see docs/datastore.md: email identity");
    else
      rc = set_norm(s, up, id, email, norm);
  }
  if (rc == FSEC_OK && r != SQLITE_DONE) rc = map_rc(s, r, "re-fold emails");
  sqlite3_finalize(next);
  sqlite3_finalize(up);
  return rc;
}

/* Bring the schema to FSEC_SCHEMA_VERSION. The version is read again under
 * the write lock, so two processes opening a new file do not both migrate. */
static int migrate(fsec_store *s) {
  char sql[64];
  int v, rc = user_version(s, &v);
  if (rc != FSEC_OK) return rc;
  if (v == FSEC_SCHEMA_VERSION) return FSEC_OK;
  if (v > FSEC_SCHEMA_VERSION)
    return serr(s, FSEC_EDB,
                "database schema version %d is newer than this fsec (%d)", v,
                FSEC_SCHEMA_VERSION);
  rc = exec_sql(s, "BEGIN IMMEDIATE", "begin migration");
  if (rc == FSEC_OK) rc = user_version(s, &v);
  for (v = v + 1; rc == FSEC_OK && v <= FSEC_SCHEMA_VERSION; v++) {
    rc = exec_sql(s, fsec__migration_sql(v), "migration");
    if (rc == FSEC_OK && fsec__migration_refolds_emails(v)) rc = refold_emails(s);
    if (rc == FSEC_OK) {
      snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v);
      rc = exec_sql(s, sql, "set schema version");
    }
  }
  if (rc == FSEC_OK) return exec_sql(s, "COMMIT", "commit migration");
  if (!sqlite3_get_autocommit(L(s)->db)) {
    char keep[sizeof s->errmsg];
    memcpy(keep, s->errmsg, sizeof keep);
    (void)exec_sql(s, "ROLLBACK", "rollback");
    memcpy(s->errmsg, keep, sizeof keep);
  }
  return rc;
}

/* A database fsec did not make: schema version 0 (fsec's first migration
 * sets 1) with tables in it, e.g. a Flask-Security file given by mistake.
 * Checked before anything is written, so such a file is left as it was
 * (not switched to WAL, not half migrated). The version and the tables
 * are read in one statement, one snapshot: read apart, another process's
 * first migration could commit between them, and its tables would look
 * foreign (two nodes bootstrapping one new file at once). */
static int foreign(fsec_store *s, const char *path) {
  int foreign_tables = 0;
  int rc = query_int(s,
                     "SELECT (SELECT user_version FROM pragma_user_version) = 0"
                     " AND (SELECT count(*) FROM sqlite_master) > 0",
                     &foreign_tables, "read the schema");
  if (rc != FSEC_OK) return rc;
  if (foreign_tables)
    return serr(s, FSEC_EDB,
                "'%s' is not an fsec database (it holds tables of its own); left unchanged", path);
  return FSEC_OK;
}

/* Is the journal a WAL file? (":memory:" databases keep "memory".) */
static int in_wal_mode(fsec_store *s) {
  sqlite3_stmt *st;
  int wal = 0;
  if (sqlite3_prepare_v2(L(s)->db, "PRAGMA journal_mode", -1, &st, NULL) != SQLITE_OK)
    return 0;
  if (sqlite3_step(st) == SQLITE_ROW) {
    const unsigned char *m = sqlite3_column_text(st, 0);
    wal = m && strcmp((const char *)m, "wal") == 0;
  }
  sqlite3_finalize(st);
  return wal;
}

/* The switch to WAL needs the file to itself, and SQLite answers BUSY at
 * once, without its busy handler, while another connection opens the same
 * new file (workers or nodes starting together): asked again every 2 ms
 * for up to busy_timeout. */
static int enable_wal(fsec_store *s, int timeout_ms) {
  int waited = 0;
  for (;;) {
    int rc = exec_sql(s, "PRAGMA journal_mode = WAL", "enable WAL");
    if (rc != FSEC_EBUSY || waited >= timeout_ms) return rc;
    sqlite3_sleep(2);
    waited += 2;
  }
}

static int configure(fsec_store *s, const fsec_store_config *cfg) {
  char sql[128];
  int rc, wal = 0;
  sqlite3_busy_timeout(L(s)->db, cfg->busy_timeout_ms);
  rc = enable_wal(s, cfg->busy_timeout_ms);
  if (rc == FSEC_OK)
    rc = exec_sql(s, cfg->synchronous == FSEC_SYNC_NORMAL ? "PRAGMA synchronous = NORMAL" : "PRAGMA synchronous = FULL", "set synchronous");
  if (rc == FSEC_OK) {
    wal = in_wal_mode(s); /* not for :memory: databases */
    L(s)->can_defer = cfg->synchronous == FSEC_SYNC_FULL && wal;
  }
  if (rc == FSEC_OK) rc = exec_sql(s, "PRAGMA foreign_keys = ON", "foreign keys");
  /* SQLite reuses a WAL file from its start after a checkpoint and never
   * shrinks it: once it had grown past SQLite's checkpoint size (1000
   * pages), its size said "checkpoint" forever, and fsec.thread, which
   * reads it, checkpointed after every commit; each next commit then
   * restarted the WAL with an fsync of its header in nginx's event loop.
   * With this limit the commit that restarts the WAL truncates it to 4 MiB,
   * so past that size it holds that many bytes of frames again. */
  if (rc == FSEC_OK && wal) {
    snprintf(sql, sizeof sql, "PRAGMA journal_size_limit = %d", FSEC_STORE_WAL_LIMIT);
    rc = exec_sql(s, sql, "limit WAL size");
  }
  if (rc == FSEC_OK) {
    snprintf(sql, sizeof sql, "PRAGMA cache_size = -%lld", (long long)cfg->cache_kib);
    rc = exec_sql(s, sql, "set cache size");
  }
  if (rc == FSEC_OK && cfg->mmap_bytes > 0) {
    snprintf(sql, sizeof sql, "PRAGMA mmap_size = %lld", (long long)cfg->mmap_bytes);
    rc = exec_sql(s, sql, "set mmap size");
  }
  if (rc == FSEC_OK && cfg->max_pages > 0) {
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld", (long long)cfg->max_pages);
    rc = exec_sql(s, sql, "set max page count");
  }
  return rc;
}

static int hex_digit(int c) {
  return c >= '0' && c <= '9' ? c - '0' : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10
                                                                                 : -1;
}

/* The file a SQLite URI filename names ("file:a.db", "file:///x/a.db",
 * "file://localhost/x/a.db", %-escapes decoded) in out, or NULL: an
 * in-memory database, another authority (SQLite refuses it), a NUL, or
 * a name longer than out. */
static const char *uri_file(const char *uri, char *out, size_t outlen) {
  const char *p = uri + 5, *end;
  size_t n = 0;
  if (strncmp(p, "//", 2) == 0) {
    p += 2;
    if (strncmp(p, "localhost/", 10) == 0) p += 9;
    else if (*p != '/') return NULL;
  }
  end = p + strcspn(p, "?#");
  if (*end == '?') {
    const char *m = strstr(end, "mode=memory");
    if (m && (m[-1] == '?' || m[-1] == '&')) return NULL;
  }
  for (; p < end; p++) {
    int c = (unsigned char)*p;
    if (c == '%' && hex_digit(p[1]) >= 0 && hex_digit(p[2]) >= 0) {
      c = hex_digit(p[1]) * 16 + hex_digit(p[2]);
      p += 2;
    }
    if (c == 0 || n + 1 >= outlen) return NULL;
    out[n++] = (char)c;
  }
  out[n] = '\0';
  return n == 0 || strcmp(out, ":memory:") == 0 ? NULL : out;
}

static int lite_open(fsec_store *s, const fsec_store_config *cfg) {
  lite *l = calloc(1, sizeof *l);
  char uri_path[4096];
  const char *file = cfg->path;
  int r, rc;
  if (!l) return serr(s, FSEC_ENOMEM, "out of memory");
  s->db = l;
  /* A new database is made 0600 here, before SQLite, which would make it
   * 0644 & ~umask and then give its -wal, -shm and -journal files that
   * same mode: a password hash or session row readable by any local
   * user. So for a URI filename too (file:auth.db). An existing file
   * keeps its mode. A link to nothing is refused: SQLite would make the
   * file it names, 0644, wherever a link planted in a shared folder
   * points. Another failure here is left to sqlite3_open_v2 to report
   * (a missing folder, say), in its words. */
  if (strcmp(file, ":memory:") == 0) file = NULL;
  else if (strncmp(file, "file:", 5) == 0) file = uri_file(file, uri_path, sizeof uri_path);
  if (file && fsec_file_touch_private(file) != FSEC_OK && errno == ELOOP)
    return serr(s, FSEC_EINVAL, "cannot open database '%s': it is a symbolic link to a file that does not"
                                " exist (fsec makes no database through a link)",
                cfg->path);
  r = sqlite3_open_v2(cfg->path, &l->db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                          SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
                      NULL);
  if (r != SQLITE_OK)
    return serr(s, (r & 0xff) == SQLITE_READONLY ? FSEC_EREADONLY : FSEC_EDB,
                "cannot open database '%s': %s", cfg->path,
                l->db ? sqlite3_errmsg(l->db) : sqlite3_errstr(r));
  sqlite3_busy_timeout(l->db, cfg->busy_timeout_ms);
  rc = foreign(s, cfg->path);
  if (rc == FSEC_OK) rc = configure(s, cfg);
  if (rc == FSEC_OK) rc = migrate(s);
  return rc;
}

static void lite_close(fsec_store *s, int in_child) {
  lite *l = L(s);
  int i;
  if (!l) return;
  if (!in_child) { /* closing a parent's handle in a child corrupts locks */
    for (i = 0; i < ST__COUNT; i++) sqlite3_finalize(l->st[i]);
    sqlite3_close(l->db);
  }
  free(l);
  s->db = NULL;
}

static int lite_schema_version(fsec_store *s, int *v) { return user_version(s, v); }

/* ------------------------------------------------------------------ */
/* Transactions                                                        */
/* ------------------------------------------------------------------ */

/* The two synchronous pragmas go through exec_sql, not cached statements:
 * PRAGMA synchronous = X acts when it is prepared (the program it compiles
 * to is empty), so stepping a cached one again would change nothing. */

/* Back to synchronous FULL after a deferred transaction. The pragma does
 * no I/O and fails only when SQLite is out of memory; the connection then
 * stays at NORMAL, and the store stops offering to defer (a caller's
 * syncer would no longer be asked for). */
static void lite_end_txn(fsec_store *s) {
  if (!L(s)->deferred) return;
  L(s)->deferred = 0;
  if (exec_sql(s, "PRAGMA synchronous = FULL", "restore synchronous") != FSEC_OK)
    L(s)->can_defer = 0;
}

/* BEGIN IMMEDIATE; with defer (and a store that can), at synchronous
 * NORMAL until the commit. */
static int lite_begin(fsec_store *s, int defer, int *deferred) {
  int rc;
  if (defer && L(s)->can_defer) {
    /* NORMAL in WAL mode: the commit appends to the WAL without fsync;
     * the database stays consistent, and the next fsync of the WAL
     * (fsec_store_sync_wal, a checkpoint, a FULL commit) makes it durable. */
    rc = exec_sql(s, "PRAGMA synchronous = NORMAL", "defer sync");
    if (rc != FSEC_OK) return rc;
    L(s)->deferred = 1;
  }
  rc = lite_start(s, ST_BEGIN);
  if (rc == FSEC_OK) {
    rc = lite_step(s, "begin");
    lite_finish(s);
    rc = rc < 0 ? rc : FSEC_OK;
  }
  if (rc != FSEC_OK) {
    lite_end_txn(s);
    return rc;
  }
  *deferred = L(s)->deferred;
  return FSEC_OK;
}

const fsec__backend fsec__sqlite_backend = {
    "sqlite",
    0,
    lite_open,
    lite_close,
    lite_start,
    lite_bind_text,
    lite_bind_int,
    lite_bind_null,
    lite_bind_blob,
    lite_step,
    lite_col_int,
    lite_col_null,
    lite_col_text,
    lite_finish,
    lite_changes,
    lite_txn_open,
    lite_schema_version,
    lite_begin,
    lite_end_txn,
};

/* ------------------------------------------------------------------ */
/* The calls that exist for SQLite's WAL (other backends: no-ops)      */
/* ------------------------------------------------------------------ */

#define IS_LITE(s) fsec__store_is((s), &fsec__sqlite_backend)

#define guard fsec__store_guard

int fsec__store_synchronous(fsec_store *s) {
  int v = -1;
  if (!IS_LITE(s) || query_int(s, "PRAGMA synchronous", &v, "synchronous") != FSEC_OK) return -1;
  return v;
}

const char *fsec_store_wal_path(fsec_store *s) {
  sqlite3_filename f;
  if (!IS_LITE(s) || !L(s)->can_defer) return NULL;
  f = sqlite3_db_filename(L(s)->db, "main");
  return f && *f ? sqlite3_filename_wal(f) : NULL;
}

int fsec_store_sync_wal(const char *wal, int64_t *size, char *errbuf, size_t errlen) {
  struct stat st;
  int fd = open(wal, O_RDONLY | O_CLOEXEC);
  if (size) *size = 0;
  if (fd < 0) {
    /* No WAL: the last connection checkpointed it (fsync included) and
     * removed it, so there is nothing left to make durable; unless the
     * database itself is gone (deleted under a running server): commits
     * then go to unlinked files and are lost at the next start. */
    if (errno == ENOENT) {
      size_t n = strlen(wal);
      char db[4096];
      if (n > 4 && n - 4 < sizeof db && strcmp(wal + n - 4, "-wal") == 0) {
        memcpy(db, wal, n - 4);
        db[n - 4] = '\0';
        if (stat(db, &st) != 0 && errno == ENOENT) {
          if (errbuf && errlen)
            snprintf(errbuf, errlen, "the database file %s is gone (deleted while in use): commits would be lost", db);
          return FSEC_EDB;
        }
      }
      return FSEC_OK;
    }
    if (errbuf && errlen) snprintf(errbuf, errlen, "cannot open %s: %s", wal, strerror(errno));
    return FSEC_EDB;
  }
  if (fsync(fd) != 0) {
    if (errbuf && errlen) snprintf(errbuf, errlen, "fsync %s: %s", wal, strerror(errno));
    close(fd);
    return FSEC_EDB;
  }
  if (size && fstat(fd, &st) == 0) *size = (int64_t)st.st_size;
  close(fd);
  return FSEC_OK;
}

int fsec_store_checkpoint(fsec_store *s, int *wal_pages, int *copied) {
  int r, rc = guard(s);
  *wal_pages = *copied = 0;
  if (rc != FSEC_OK || !IS_LITE(s)) return rc;
  if (s->in_txn) return serr(s, FSEC_EMISUSE, "checkpoint inside a transaction");
  r = sqlite3_wal_checkpoint_v2(L(s)->db, "main", SQLITE_CHECKPOINT_PASSIVE, wal_pages, copied);
  return r == SQLITE_OK ? FSEC_OK : map_rc(s, r, "checkpoint");
}

int fsec_store_set_autocheckpoint(fsec_store *s, int pages) {
  char sql[64];
  int rc = guard(s);
  if (rc != FSEC_OK) return rc;
  if (!IS_LITE(s)) return FSEC_OK;
  if (pages < 0) return serr(s, FSEC_EINVAL, "autocheckpoint pages must be >= 0");
  snprintf(sql, sizeof sql, "PRAGMA wal_autocheckpoint = %d", pages);
  return exec_sql(s, sql, "set autocheckpoint");
}

int fsec_store_memory(fsec_store *s, fsec_store_memory_info *out) {
  int cur = 0, hi = 0, rc = guard(s);
  memset(out, 0, sizeof *out);
  if (rc != FSEC_OK || !IS_LITE(s)) return rc; /* libpq keeps no page cache */
  if (sqlite3_db_status(L(s)->db, SQLITE_DBSTATUS_CACHE_USED, &cur, &hi, 0) == SQLITE_OK)
    out->cache_bytes = cur;
  if (sqlite3_db_status(L(s)->db, SQLITE_DBSTATUS_STMT_USED, &cur, &hi, 0) == SQLITE_OK)
    out->statement_bytes = cur;
  out->sqlite_heap_bytes = (int64_t)sqlite3_memory_used();
  return FSEC_OK;
}

int fsec__sqlite_integrity_check(fsec_store *s, int *ok) {
  sqlite3_stmt *st = NULL;
  const unsigned char *t;
  int r, rc;
  r = sqlite3_prepare_v2(L(s)->db, "PRAGMA integrity_check", -1, &st, NULL);
  if (r != SQLITE_OK) return map_rc(s, r, "integrity check");
  r = sqlite3_step(st);
  t = r == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
  *ok = t && strcmp((const char *)t, "ok") == 0;
  if (r == SQLITE_ROW && !*ok)
    serr(s, FSEC_EDB, "integrity check: %s", t ? (const char *)t : "?");
  rc = (r == SQLITE_ROW || r == SQLITE_DONE) ? FSEC_OK
                                             : map_rc(s, r, "integrity check");
  sqlite3_finalize(st);
  return rc;
}
