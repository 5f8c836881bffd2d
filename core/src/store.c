/*
 * store.c: every sqlite3 call of fsec: open and migrate, cached prepared
 * statements, write transactions, rc mapping, the fork guard.
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

#include "internal.h"

/* ------------------------------------------------------------------ */
/* Fork guard                                                          */
/* ------------------------------------------------------------------ */

/* Bumped in every child after fork(); a store remembers the value it was
 * opened under. Cheaper than getpid(), which is a syscall on glibc. */
static volatile unsigned long fork_gen;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void on_fork_child(void) { fork_gen++; }
static void install_fork_hook(void) {
  pthread_atfork(NULL, NULL, on_fork_child);
}

/* ------------------------------------------------------------------ */
/* Statements                                                          */
/* ------------------------------------------------------------------ */

#define USER_COLS                                                            \
  "u.id, u.email, u.username, u.password, u.active, u.confirmed_at,"         \
  " u.fs_uniquifier, u.fs_token_uniquifier, u.last_login_at,"                \
  " u.current_login_at, u.last_login_ip, u.current_login_ip, u.login_count," \
  " u.create_datetime, u.update_datetime, u.failed_login_count,"             \
  " u.failed_login_window,"                                                  \
  " COALESCE((SELECT group_concat(r.name || char(31) || r.permissions,"      \
  " char(30)) FROM roles_users ru JOIN roles r ON r.id = ru.role_id"         \
  " WHERE ru.user_id = u.id), '')"
#define FIND(col) "SELECT " USER_COLS " FROM users u WHERE u." col " = ?1"
#define SET(col)                                        \
  "UPDATE users SET " col " = ?2, update_datetime = ?3" \
  " WHERE id = ?1 AND " col " IS NOT ?2"
#define SET_NORM(col)                                                      \
  "UPDATE users SET " col " = ?2, " col "_norm = ?4, update_datetime = ?3" \
  " WHERE id = ?1 AND (" col " IS NOT ?2 OR " col "_norm IS NOT ?4)"

enum {
  ST_BEGIN,
  ST_COMMIT,
  ST_ROLLBACK,
  ST_SAVEPOINT,
  ST_RELEASE,
  ST_ROLLBACK_TO,
  ST_FIND_ID,
  ST_FIND_EMAIL,
  ST_FIND_USERNAME,
  ST_FIND_UQ,
  ST_FIND_TUQ,
  ST_USER_INSERT,
  ST_ROLE_ID,
  ST_LINK_ADD,
  ST_LINK_DEL,
  ST_USER_DELETE,
  ST_TRACK,
  ST_ROLE_INSERT,
  ST_ROLE_FIND,
  ST_ROLE_PERMS,
  ST_ROLE_DELETE,
  ST_COUNT_USERS,
  ST_COUNT_ROLES,
  ST_USER_VERSION,
  ST_SESSION_INSERT,
  ST_SESSION_PURGE,
  ST_SESSION_DELETE,
  ST_SESSION_DELETE_USER,
  ST_FIND_SESSION,
  ST_FAILED_LOGIN,
  ST_RESET_FAILED,
  ST_RESERVE_LOGIN,
  ST_RELEASE_LOGIN,
  ST_ATTEMPT_RESERVE,
  ST_ATTEMPT_PRUNE,
  ST_USER_NEXT,
  ST_USER_NEXT_ROLE,
  ST_ROLE_NEXT,
  ST_META_GET,
  ST_META_ADD,
  ST_SET_FIRST /* followed by one statement per fsec_user_col */
};
#define ST__COUNT (ST_SET_FIRST + FSEC_COL__COUNT)

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
    [ST_USER_INSERT] =
        "INSERT INTO users (email, email_norm, username, username_norm,"
        " password, active, confirmed_at, fs_uniquifier, fs_token_uniquifier,"
        " create_datetime, update_datetime)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
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
        " VALUES (?1, ?2, ?3, ?4)",
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
    [ST_USER_VERSION] = "PRAGMA user_version",
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
    [ST_ATTEMPT_RESERVE] =
        "INSERT INTO login_attempts (key, n, started) VALUES (?1, 1, ?2)"
        " ON CONFLICT (key) DO UPDATE SET"
        " n = CASE WHEN started <= ?2 - ?3 THEN 1 ELSE n + 1 END,"
        " started = CASE WHEN started <= ?2 - ?3 THEN ?2 ELSE started END"
        " WHERE started <= ?2 - ?3 OR n < ?4"
        " RETURNING n",
    [ST_ATTEMPT_PRUNE] =
        "DELETE FROM login_attempts WHERE key IN (SELECT key FROM"
        " login_attempts WHERE started <= ?1 - ?2 LIMIT 4)",
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

/* Byte limits of the settable text columns. */
static const size_t TEXT_MAX[FSEC_COL_ACTIVE] = {
    FSEC_EMAIL_MAX, FSEC_USERNAME_MAX, FSEC_HASH_MAX, FSEC_UNIQUIFIER_MAX,
    FSEC_UNIQUIFIER_MAX, FSEC_TEXT_MAX, FSEC_TEXT_MAX, FSEC_TEXT_MAX,
    FSEC_TEXT_MAX, FSEC_TEXT_MAX, FSEC_TEXT_MAX, FSEC_IP_MAX, FSEC_IP_MAX};

struct fsec_store {
  sqlite3 *db;
  sqlite3_stmt *st[ST__COUNT];
  int in_txn;             /* inside fsec_store_begin .. commit/rollback */
  int can_defer;          /* WAL journal and synchronous FULL */
  int deferred;           /* this transaction commits at synchronous NORMAL */
  int savepoint;          /* the current call opened a savepoint */
  unsigned long fork_gen; /* fork_gen when opened */
  char *row;              /* text of the last row returned (see col_text) */
  size_t rowcap, rowused;
  char errmsg[256];
};

static int serr(fsec_store *s, int rc, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static int serr(fsec_store *s, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->errmsg, sizeof s->errmsg, fmt, ap);
  va_end(ap);
  return rc;
}

/* Map an SQLite result to an fsec code, with a message naming what. */
static int map_rc(fsec_store *s, int rc, const char *what) {
  const char *m = sqlite3_errmsg(s->db);
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

/* The cached statement, prepared on first use and reset for reuse. */
static sqlite3_stmt *stmt(fsec_store *s, int id, int *rc) {
  sqlite3_stmt *st = s->st[id];
  if (!st) {
    int r = sqlite3_prepare_v3(s->db, SQL[id], -1, SQLITE_PREPARE_PERSISTENT,
                               &s->st[id], NULL);
    if (r != SQLITE_OK) {
      *rc = map_rc(s, r, "prepare");
      return NULL;
    }
    st = s->st[id];
  }
  *rc = FSEC_OK;
  return st;
}

static void done(sqlite3_stmt *st) {
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
}

/* Run a statement that returns no rows. */
static int exec_st(fsec_store *s, int id, const char *what) {
  int rc, r;
  sqlite3_stmt *st = stmt(s, id, &rc);
  if (!st) return rc;
  r = sqlite3_step(st);
  done(st);
  return r == SQLITE_DONE ? FSEC_OK : map_rc(s, r, what);
}

static int guard(fsec_store *s) {
  if (s->fork_gen != fork_gen)
    return serr(s, FSEC_EFORK,
                "store opened before fork(); open it in each process");
  return FSEC_OK;
}

/* Start a write: a transaction of its own or, inside the caller's
 * transaction, a savepoint when the call writes more than one statement
 * (one statement is atomic by itself), so a failed call never leaves half
 * its writes. */
static int wbegin_n(fsec_store *s, int multi) {
  int rc = guard(s);
  if (rc != FSEC_OK) return rc;
  if (s->in_txn && sqlite3_get_autocommit(s->db))
    /* SQLite rolled the transaction back itself (after SQLITE_FULL, say):
     * writing on would autocommit outside the caller's transaction. */
    return serr(s, FSEC_EDB, "the transaction was rolled back after an "
                             "error; roll back and start again");
  s->savepoint = s->in_txn && multi;
  if (s->in_txn && !multi) return FSEC_OK;
  return exec_st(s, s->in_txn ? ST_SAVEPOINT : ST_BEGIN, "begin");
}

static int wbegin(fsec_store *s) { return wbegin_n(s, 0); }

static int wend(fsec_store *s, int rc) {
  if (s->in_txn && !s->savepoint) return rc;
  if (rc == FSEC_OK) {
    int c = exec_st(s, s->in_txn ? ST_RELEASE : ST_COMMIT, "commit");
    if (c == FSEC_OK) return FSEC_OK;
    rc = c;
  }
  {
    char keep[sizeof s->errmsg];
    memcpy(keep, s->errmsg, sizeof keep); /* the first error is the story */
    if (s->in_txn) {
      (void)exec_st(s, ST_ROLLBACK_TO, "rollback");
      (void)exec_st(s, ST_RELEASE, "release");
    } else if (!sqlite3_get_autocommit(s->db)) {
      (void)exec_st(s, ST_ROLLBACK, "rollback");
    }
    memcpy(s->errmsg, keep, sizeof keep);
  }
  return rc;
}

/* ------------------------------------------------------------------ */
/* Open, migrate, close                                                */
/* ------------------------------------------------------------------ */

#define NORM_MAX 1024 /* folded identities may grow; the index stores these */

void fsec_store_config_init(fsec_store_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->busy_timeout_ms = 5000;
  cfg->synchronous = FSEC_SYNC_FULL;
  cfg->cache_kib = 8192;
}

static int exec_sql(fsec_store *s, const char *sql, const char *what) {
  int r = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
  return r == SQLITE_OK ? FSEC_OK : map_rc(s, r, what);
}

static int user_version(fsec_store *s, int *v) {
  int rc, r;
  sqlite3_stmt *st = stmt(s, ST_USER_VERSION, &rc);
  if (!st) return rc;
  r = sqlite3_step(st);
  *v = r == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
  done(st);
  return r == SQLITE_ROW ? FSEC_OK : map_rc(s, r, "read schema version");
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
  if (sqlite3_prepare_v2(s->db, "SELECT id, email FROM users WHERE"
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
  char norm[NORM_MAX];
  const char *why;
  int r = SQLITE_DONE, rc = exec_sql(s, "UPDATE users SET email_norm = char(1) || id",
                                     "re-fold emails");
  if (rc == FSEC_OK &&
      (sqlite3_prepare_v2(s->db, "SELECT id, email FROM users WHERE id > ?1"
                                 " ORDER BY id LIMIT 1",
                          -1, &next, NULL) != SQLITE_OK ||
       sqlite3_prepare_v2(s->db, "UPDATE users SET email_norm = ?2 WHERE id = ?1",
                          -1, &up, NULL) != SQLITE_OK))
    rc = map_rc(s, sqlite3_errcode(s->db), "re-fold emails");
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
  rc = exec_st(s, ST_BEGIN, "begin migration");
  if (rc == FSEC_OK) rc = user_version(s, &v);
  for (v = v + 1; rc == FSEC_OK && v <= FSEC_SCHEMA_VERSION; v++) {
    rc = exec_sql(s, fsec__migration_sql(v), "migration");
    if (rc == FSEC_OK && fsec__migration_refolds_emails(v)) rc = refold_emails(s);
    if (rc == FSEC_OK) {
      snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v);
      rc = exec_sql(s, sql, "set schema version");
    }
  }
  return wend(s, rc);
}

/* A database fsec did not make: schema version 0 (fsec's first migration
 * sets 1) with tables in it, e.g. a Flask-Security file given by mistake.
 * Checked before anything is written, so such a file is left as it was
 * (not switched to WAL, not half migrated). */
static int foreign(fsec_store *s, const char *path) {
  sqlite3_stmt *st;
  int v, rc = user_version(s, &v), tables = 0;
  if (rc != FSEC_OK || v != 0) return rc;
  if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM sqlite_master", -1, &st, NULL) != SQLITE_OK)
    return map_rc(s, sqlite3_errcode(s->db), "read the schema");
  if (sqlite3_step(st) == SQLITE_ROW) tables = sqlite3_column_int(st, 0);
  rc = sqlite3_finalize(st);
  if (rc != SQLITE_OK) return map_rc(s, rc, "read the schema");
  if (tables > 0)
    return serr(s, FSEC_EDB,
                "'%s' is not an fsec database (it holds tables of its own); left unchanged", path);
  return FSEC_OK;
}

/* Is the journal a WAL file? (":memory:" databases keep "memory".) */
static int in_wal_mode(fsec_store *s) {
  sqlite3_stmt *st;
  int wal = 0;
  if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode", -1, &st, NULL) != SQLITE_OK)
    return 0;
  if (sqlite3_step(st) == SQLITE_ROW) {
    const unsigned char *m = sqlite3_column_text(st, 0);
    wal = m && strcmp((const char *)m, "wal") == 0;
  }
  sqlite3_finalize(st);
  return wal;
}

static int configure(fsec_store *s, const fsec_store_config *cfg) {
  char sql[128];
  int rc, wal = 0;
  sqlite3_busy_timeout(s->db, cfg->busy_timeout_ms);
  rc = exec_sql(s, "PRAGMA journal_mode = WAL", "enable WAL");
  if (rc == FSEC_OK)
    rc = exec_sql(s, cfg->synchronous == FSEC_SYNC_NORMAL ? "PRAGMA synchronous = NORMAL" : "PRAGMA synchronous = FULL", "set synchronous");
  if (rc == FSEC_OK) {
    wal = in_wal_mode(s); /* not for :memory: databases */
    s->can_defer = cfg->synchronous == FSEC_SYNC_FULL && wal;
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
    snprintf(sql, sizeof sql, "PRAGMA cache_size = -%lld",
             (long long)cfg->cache_kib);
    rc = exec_sql(s, sql, "set cache size");
  }
  if (rc == FSEC_OK && cfg->mmap_bytes > 0) {
    snprintf(sql, sizeof sql, "PRAGMA mmap_size = %lld",
             (long long)cfg->mmap_bytes);
    rc = exec_sql(s, sql, "set mmap size");
  }
  if (rc == FSEC_OK && cfg->max_pages > 0) {
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld",
             (long long)cfg->max_pages);
    rc = exec_sql(s, sql, "set max page count");
  }
  return rc;
}

int fsec_store_open(fsec_store **out, const fsec_store_config *cfg,
                    char *errbuf, size_t errlen) {
  fsec_store *s;
  int r, rc;

  *out = NULL;
  if (!cfg->path || !*cfg->path || cfg->busy_timeout_ms < 0 ||
      cfg->cache_kib < 0 || cfg->mmap_bytes < 0 || cfg->max_pages < 0) {
    if (errbuf && errlen) snprintf(errbuf, errlen, "invalid store configuration");
    return FSEC_EINVAL;
  }
  pthread_once(&fork_once, install_fork_hook);
  s = calloc(1, sizeof *s);
  if (!s) return FSEC_ENOMEM;
  s->fork_gen = fork_gen;
  /* A new database is made 0600 here, before SQLite, which would make it
   * 0644 & ~umask and then give its -wal, -shm and -journal files that
   * same mode: a password hash or session row readable by any local
   * user. An existing file keeps its mode. A failure here is left to
   * sqlite3_open_v2 to report (a missing folder, say), in its words. */
  if (strcmp(cfg->path, ":memory:") != 0 && strncmp(cfg->path, "file:", 5) != 0 &&
      fsec_file_touch_private(cfg->path) != FSEC_OK) {
    /* sqlite3_open_v2 below fails with its own message */
  }
  r = sqlite3_open_v2(cfg->path, &s->db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                          SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
                      NULL);
  if (r != SQLITE_OK) {
    rc = serr(s, (r & 0xff) == SQLITE_READONLY ? FSEC_EREADONLY : FSEC_EDB,
              "cannot open database '%s': %s", cfg->path,
              s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(r));
  } else {
    sqlite3_busy_timeout(s->db, cfg->busy_timeout_ms);
    rc = foreign(s, cfg->path);
    if (rc == FSEC_OK) rc = configure(s, cfg);
    if (rc == FSEC_OK) rc = migrate(s);
  }
  if (rc != FSEC_OK) {
    if (errbuf && errlen) snprintf(errbuf, errlen, "%s", s->errmsg);
    fsec_store_close(s);
    return rc;
  }
  *out = s;
  return FSEC_OK;
}

void fsec_store_close(fsec_store *s) {
  int i;
  if (!s) return;
  if (s->fork_gen == fork_gen) { /* never close a parent's handle in a child */
    for (i = 0; i < ST__COUNT; i++) sqlite3_finalize(s->st[i]);
    sqlite3_close(s->db);
  }
  free(s->row);
  free(s);
}

const char *fsec_store_errmsg(const fsec_store *s) { return s->errmsg; }

int fsec_store_schema_version(fsec_store *s) {
  int v = -1;
  if (guard(s) != FSEC_OK || user_version(s, &v) != FSEC_OK) return -1;
  return v;
}

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
static void end_deferral(fsec_store *s) {
  if (!s->deferred) return;
  s->deferred = 0;
  if (exec_sql(s, "PRAGMA synchronous = FULL", "restore synchronous") != FSEC_OK)
    s->can_defer = 0;
}

/* BEGIN IMMEDIATE; with defer (and a store that can), at synchronous
 * NORMAL until the commit. *deferred says which. */
static int begin(fsec_store *s, int defer, int *deferred) {
  int rc = guard(s);
  *deferred = 0;
  if (rc != FSEC_OK) return rc;
  if (s->in_txn) return serr(s, FSEC_EMISUSE, "transaction already open");
  if (defer && s->can_defer) {
    /* NORMAL in WAL mode: the commit appends to the WAL without fsync;
     * the database stays consistent, and the next fsync of the WAL
     * (fsec_store_sync_wal, a checkpoint, a FULL commit) makes it durable. */
    rc = exec_sql(s, "PRAGMA synchronous = NORMAL", "defer sync");
    if (rc != FSEC_OK) return rc;
    s->deferred = 1;
  }
  rc = exec_st(s, ST_BEGIN, "begin");
  if (rc != FSEC_OK) {
    end_deferral(s);
    return rc;
  }
  s->in_txn = 1;
  *deferred = s->deferred;
  return FSEC_OK;
}

int fsec_store_begin(fsec_store *s) {
  int deferred;
  return begin(s, 0, &deferred);
}

int fsec_store_begin_deferred(fsec_store *s, int *deferred) {
  return begin(s, 1, deferred);
}

int fsec_store_commit(fsec_store *s) {
  int rc = guard(s);
  if (rc != FSEC_OK) return rc;
  if (!s->in_txn) return serr(s, FSEC_EMISUSE, "no transaction open");
  rc = exec_st(s, ST_COMMIT, "commit");
  if (rc != FSEC_OK && !sqlite3_get_autocommit(s->db))
    (void)exec_st(s, ST_ROLLBACK, "rollback");
  s->in_txn = 0;
  end_deferral(s);
  return rc;
}

int fsec_store_rollback(fsec_store *s) {
  int rc = guard(s);
  if (rc != FSEC_OK) return rc;
  if (!s->in_txn) return FSEC_OK;
  s->in_txn = 0;
  if (!sqlite3_get_autocommit(s->db)) rc = exec_st(s, ST_ROLLBACK, "rollback");
  /* else SQLite rolled back already */
  end_deferral(s);
  return rc;
}

int fsec__store_synchronous(fsec_store *s) {
  sqlite3_stmt *st;
  int v = -1;
  if (sqlite3_prepare_v2(s->db, "PRAGMA synchronous", -1, &st, NULL) != SQLITE_OK) return -1;
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return v;
}

const char *fsec_store_wal_path(fsec_store *s) {
  sqlite3_filename f;
  if (!s->can_defer) return NULL;
  f = sqlite3_db_filename(s->db, "main");
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
  if (rc != FSEC_OK) return rc;
  if (s->in_txn) return serr(s, FSEC_EMISUSE, "checkpoint inside a transaction");
  r = sqlite3_wal_checkpoint_v2(s->db, "main", SQLITE_CHECKPOINT_PASSIVE, wal_pages, copied);
  return r == SQLITE_OK ? FSEC_OK : map_rc(s, r, "checkpoint");
}

int fsec_store_set_autocheckpoint(fsec_store *s, int pages) {
  char sql[64];
  int rc = guard(s);
  if (rc != FSEC_OK) return rc;
  if (pages < 0) return serr(s, FSEC_EINVAL, "autocheckpoint pages must be >= 0");
  snprintf(sql, sizeof sql, "PRAGMA wal_autocheckpoint = %d", pages);
  return exec_sql(s, sql, "set autocheckpoint");
}

/* ------------------------------------------------------------------ */
/* Input checks                                                        */
/* ------------------------------------------------------------------ */

/* Optional text: length cap, no NUL, valid UTF-8. */
static int check_value(fsec_store *s, const char *v, size_t len, size_t max,
                       const char *what) {
  int rc;
  if (!v) return FSEC_OK;
  if (len > max)
    return serr(s, FSEC_ETOOLONG, "%s is longer than %zu bytes", what, max);
  rc = fsec__check_utf8(v, len);
  if (rc == FSEC_ENUL) return serr(s, rc, "%s contains a NUL byte", what);
  if (rc != FSEC_OK) return serr(s, rc, "%s is not valid UTF-8", what);
  return FSEC_OK;
}

/* Identity check with a message naming the field. */
static int check_identity(fsec_store *s, int rc, const char *what) {
  switch (rc) {
  case FSEC_OK: return FSEC_OK;
  case FSEC_ETOOLONG: return serr(s, rc, "%s is too long", what);
  case FSEC_ENUL: return serr(s, rc, "%s contains a NUL byte", what);
  case FSEC_EUTF8: return serr(s, rc, "%s is not valid UTF-8", what);
  case FSEC_ENOMEM: return serr(s, rc, "out of memory");
  default: return serr(s, FSEC_EIDENTITY, "%s is not valid", what);
  }
}

/* An email checked and folded into norm (NORM_MAX bytes); the error
 * message says why when the domain is the reason (libidn2's text). */
static int check_email(fsec_store *s, const char *v, size_t len, char *norm) {
  const char *why = NULL;
  int rc = fsec_identity_email_why(v, len, norm, NORM_MAX, &why);
  if (rc == FSEC_EIDENTITY && why)
    return serr(s, rc, "email is not valid: %s", why);
  return check_identity(s, rc, "email");
}

/* Role names: 1..80 bytes, no control characters (C0, DEL, and C1:
 * U+0080..U+009F, which a terminal may obey as CSI and the like), no
 * comma. The value is valid UTF-8 here, so C1 is always 0xC2 0x80..0x9F. */
static int check_role_name(fsec_store *s, const char *n, size_t len) {
  size_t i;
  int rc = check_value(s, n, len, FSEC_ROLE_NAME_MAX, "role name");
  if (rc != FSEC_OK) return rc;
  if (len == 0) return serr(s, FSEC_EINVAL, "role name is empty");
  for (i = 0; i < len; i++)
    if ((unsigned char)n[i] < 0x20 || n[i] == ',' || n[i] == 0x7f ||
        ((unsigned char)n[i] == 0xc2 && i + 1 < len &&
         (unsigned char)n[i + 1] <= 0x9f))
      return serr(s, FSEC_EINVAL, "role name has a control character or comma");
  return FSEC_OK;
}

/* Comma-separated permissions: no empty item, no control characters. */
static int check_permissions(fsec_store *s, const char *p, size_t len) {
  size_t i;
  int rc = check_value(s, p, len, FSEC_PERMISSIONS_MAX, "permissions");
  if (rc != FSEC_OK || !p || len == 0) return rc;
  if (p[0] == ',' || p[len - 1] == ',')
    return serr(s, FSEC_EINVAL, "permissions has an empty item");
  for (i = 0; i < len; i++) {
    if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
      return serr(s, FSEC_EINVAL, "permissions has a control character");
    if (p[i] == ',' && p[i + 1] == ',')
      return serr(s, FSEC_EINVAL, "permissions has an empty item");
  }
  return FSEC_OK;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v, size_t len) {
  if (v)
    sqlite3_bind_text(st, i, v, (int)len, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, i);
}

static void bind_time(sqlite3_stmt *st, int i, int64_t t) {
  if (t < 0)
    sqlite3_bind_null(st, i);
  else
    sqlite3_bind_int64(st, i, t);
}

/* ------------------------------------------------------------------ */
/* Users                                                               */
/* ------------------------------------------------------------------ */


static int role_id(fsec_store *s, const char *name, size_t len, int64_t *id) {
  int rc, r;
  sqlite3_stmt *st = stmt(s, ST_ROLE_ID, &rc);
  if (!st) return rc;
  bind_text(st, 1, name, len);
  r = sqlite3_step(st);
  if (r == SQLITE_ROW) *id = sqlite3_column_int64(st, 0);
  done(st);
  if (r == SQLITE_ROW) return FSEC_OK;
  if (r == SQLITE_DONE)
    return serr(s, FSEC_ENOTFOUND, "role '%.*s' does not exist",
                (int)(len > 80 ? 80 : len), name);
  return map_rc(s, r, "find role");
}

static int link_role(fsec_store *s, int op, int64_t user, const char *name,
                     size_t len, int *changed) {
  int64_t rid = 0;
  int rc = role_id(s, name, len, &rid), r;
  sqlite3_stmt *st;
  if (rc != FSEC_OK) return rc;
  st = stmt(s, op, &rc);
  if (!st) return rc;
  sqlite3_bind_int64(st, 1, user);
  sqlite3_bind_int64(st, 2, rid);
  r = sqlite3_step(st);
  done(st);
  if (r != SQLITE_DONE) {
    if (r == SQLITE_CONSTRAINT_FOREIGNKEY)
      return serr(s, FSEC_ENOTFOUND, "user %lld does not exist", (long long)user);
    return map_rc(s, r, "link role");
  }
  if (changed) *changed = sqlite3_changes(s->db) > 0;
  return FSEC_OK;
}

/* Check everything create needs before any write. */
static int check_new_user(fsec_store *s, const fsec_user_new *in, char *enorm,
                          char *unorm) {
  int rc = in->email ? check_email(s, in->email, strlen(in->email), enorm)
                     : check_identity(s, FSEC_EIDENTITY, "email");
  if (rc == FSEC_OK && in->username)
    rc = check_identity(s, fsec_identity_username(in->username, strlen(in->username), unorm, NORM_MAX),
                        "username");
  if (rc == FSEC_OK && in->password)
    rc = check_value(s, in->password, strlen(in->password), FSEC_HASH_MAX,
                     "password hash");
  if (rc == FSEC_OK && in->fs_uniquifier)
    rc = check_value(s, in->fs_uniquifier, strlen(in->fs_uniquifier),
                     FSEC_UNIQUIFIER_MAX, "fs_uniquifier");
  if (rc == FSEC_OK && in->fs_token_uniquifier)
    rc = check_value(s, in->fs_token_uniquifier,
                     strlen(in->fs_token_uniquifier), FSEC_UNIQUIFIER_MAX,
                     "fs_token_uniquifier");
  if (rc == FSEC_OK && (in->active != 0 && in->active != 1))
    rc = serr(s, FSEC_EINVAL, "active must be 0 or 1");
  if (rc == FSEC_OK && in->n_roles > FSEC_ROLES_PER_USER_MAX)
    rc = serr(s, FSEC_EINVAL, "too many roles");
  if (rc == FSEC_OK && in->n_roles && !in->roles)
    rc = serr(s, FSEC_EINVAL, "roles is NULL");
  return rc;
}

int fsec_store_user_create(fsec_store *s, const fsec_user_new *in,
                           int64_t *id) {
  char enorm[NORM_MAX] = "", unorm[NORM_MAX] = "", uq[32], tuq[32];
  const char *u1 = in->fs_uniquifier, *u2 = in->fs_token_uniquifier;
  sqlite3_stmt *st;
  size_t i;
  int rc = guard(s), r;

  if (rc == FSEC_OK) rc = check_new_user(s, in, enorm, unorm);
  if (rc != FSEC_OK) return rc;
  if (!u1) {
    if (fsec_random_id(uq, sizeof uq, 16) != FSEC_OK) return FSEC_ECRYPTO;
    u1 = uq;
  }
  if (!u2) {
    if (fsec_random_id(tuq, sizeof tuq, 16) != FSEC_OK) return FSEC_ECRYPTO;
    u2 = tuq;
  }
  rc = wbegin_n(s, in->n_roles > 0);
  if (rc != FSEC_OK) return rc;
  st = stmt(s, ST_USER_INSERT, &rc);
  if (st) {
    bind_text(st, 1, in->email, strlen(in->email));
    bind_text(st, 2, enorm, strlen(enorm));
    bind_text(st, 3, in->username, in->username ? strlen(in->username) : 0);
    bind_text(st, 4, in->username ? unorm : NULL, in->username ? strlen(unorm) : 0);
    bind_text(st, 5, in->password, in->password ? strlen(in->password) : 0);
    sqlite3_bind_int(st, 6, in->active);
    bind_time(st, 7, in->confirmed_at);
    bind_text(st, 8, u1, strlen(u1));
    bind_text(st, 9, u2, strlen(u2));
    sqlite3_bind_int64(st, 10, in->now);
    r = sqlite3_step(st);
    done(st);
    rc = r == SQLITE_DONE ? FSEC_OK : map_rc(s, r, "create user");
  }
  if (rc == FSEC_OK && id) *id = sqlite3_last_insert_rowid(s->db);
  for (i = 0; rc == FSEC_OK && i < in->n_roles; i++) {
    if (!in->roles[i]) {
      rc = serr(s, FSEC_EINVAL, "role name is NULL");
      break;
    }
    rc = link_role(s, ST_LINK_ADD, sqlite3_last_insert_rowid(s->db),
                   in->roles[i], strlen(in->roles[i]), NULL);
  }
  return wend(s, rc);
}

/* Row text is copied into the store's buffer so the statement can be reset
 * at once (an unreset SELECT would hold a read transaction open, pinning
 * the WAL). The buffer grows to the largest row seen. */
static int reserve_row(fsec_store *s, sqlite3_stmt *st, int ncols) {
  size_t need = 0;
  int i;
  for (i = 0; i < ncols; i++) need += (size_t)sqlite3_column_bytes(st, i) + 1;
  if (need > s->rowcap) {
    char *p = realloc(s->row, need);
    if (!p) return serr(s, FSEC_ENOMEM, "out of memory");
    s->row = p;
    s->rowcap = need;
  }
  s->rowused = 0;
  return FSEC_OK;
}

static const char *col_text(fsec_store *s, sqlite3_stmt *st, int i) {
  const unsigned char *t = sqlite3_column_text(st, i);
  size_t n = (size_t)sqlite3_column_bytes(st, i);
  char *dst;
  if (!t) return NULL;
  dst = s->row + s->rowused;
  memcpy(dst, t, n);
  dst[n] = '\0';
  s->rowused += n + 1;
  return dst;
}

static int64_t col_time(sqlite3_stmt *st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL ? -1
                                                   : sqlite3_column_int64(st, i);
}

static int fill_user(fsec_store *s, sqlite3_stmt *st, fsec_user *u) {
  int rc = reserve_row(s, st, 18);
  if (rc != FSEC_OK) return rc;
  u->id = sqlite3_column_int64(st, 0);
  u->email = col_text(s, st, 1);
  u->username = col_text(s, st, 2);
  u->password = col_text(s, st, 3);
  u->active = sqlite3_column_int(st, 4);
  u->confirmed_at = col_time(st, 5);
  u->fs_uniquifier = col_text(s, st, 6);
  u->fs_token_uniquifier = col_text(s, st, 7);
  u->last_login_at = col_time(st, 8);
  u->current_login_at = col_time(st, 9);
  u->last_login_ip = col_text(s, st, 10);
  u->current_login_ip = col_text(s, st, 11);
  u->login_count = sqlite3_column_int64(st, 12);
  u->create_datetime = sqlite3_column_int64(st, 13);
  u->update_datetime = sqlite3_column_int64(st, 14);
  u->failed_login_count = sqlite3_column_int64(st, 15);
  u->failed_login_window = col_time(st, 16);
  u->roles = col_text(s, st, 17);
  return FSEC_OK;
}

/* Parse a strict decimal id ("0" or no leading zero, at most 18 digits). */
static int parse_id(const char *v, size_t len, int64_t *id) {
  size_t i;
  int64_t x = 0;
  if (len == 0 || len > 18 || (v[0] == '0' && len > 1)) return -1;
  for (i = 0; i < len; i++) {
    if (v[i] < '0' || v[i] > '9') return -1;
    x = x * 10 + (v[i] - '0');
  }
  *id = x;
  return 0;
}

int fsec_store_user_find(fsec_store *s, fsec_user_key key, const char *value,
                         size_t len, fsec_user *out) {
  static const int which[] = {ST_FIND_ID, ST_FIND_EMAIL, ST_FIND_USERNAME,
                              ST_FIND_UQ, ST_FIND_TUQ};
  char norm[NORM_MAX];
  sqlite3_stmt *st;
  int64_t id = 0;
  int rc = guard(s), r;

  if (rc != FSEC_OK) return rc;
  if ((int)key < 0 || key > FSEC_USER_BY_TOKEN_UNIQUIFIER)
    return serr(s, FSEC_EINVAL, "unknown lookup key");
  if (key == FSEC_USER_BY_ID && parse_id(value, len, &id) != 0)
    return serr(s, FSEC_EINVAL, "id must be a decimal integer");
  if (key == FSEC_USER_BY_EMAIL)
    rc = check_email(s, value, len, norm);
  else if (key == FSEC_USER_BY_USERNAME)
    rc = check_identity(s, fsec_identity_username(value, len, norm, sizeof norm),
                        "username");
  else if (key != FSEC_USER_BY_ID)
    rc = check_value(s, value, len, FSEC_UNIQUIFIER_MAX, "uniquifier");
  if (rc != FSEC_OK) return rc;

  st = stmt(s, which[key], &rc);
  if (!st) return rc;
  if (key == FSEC_USER_BY_ID)
    sqlite3_bind_int64(st, 1, id);
  else if (key == FSEC_USER_BY_EMAIL || key == FSEC_USER_BY_USERNAME)
    bind_text(st, 1, norm, strlen(norm));
  else
    bind_text(st, 1, value, len);
  r = sqlite3_step(st);
  if (r == SQLITE_ROW)
    rc = fill_user(s, st, out);
  else if (r == SQLITE_DONE)
    rc = serr(s, FSEC_ENOTFOUND, "no such user");
  else
    rc = map_rc(s, r, "find user");
  done(st);
  return rc;
}

/* Run an UPDATE/DELETE prepared in st (already bound) as one write. */
static int write_one(fsec_store *s, sqlite3_stmt *st, const char *what,
                     int *changed) {
  int rc = wbegin(s), r;
  if (rc != FSEC_OK) {
    done(st);
    return rc;
  }
  r = sqlite3_step(st);
  done(st);
  rc = r == SQLITE_DONE ? FSEC_OK : map_rc(s, r, what);
  if (rc == FSEC_OK && changed) *changed = sqlite3_changes(s->db) > 0;
  return wend(s, rc);
}

int fsec_store_user_next(fsec_store *s, int64_t after_id, const char *role,
                         size_t rolelen, fsec_user *out) {
  sqlite3_stmt *st;
  int rc = guard(s), r;
  if (rc == FSEC_OK && role) rc = check_value(s, role, rolelen, FSEC_ROLE_NAME_MAX, "role");
  if (rc != FSEC_OK) return rc;
  st = stmt(s, role ? ST_USER_NEXT_ROLE : ST_USER_NEXT, &rc);
  if (!st) return rc;
  sqlite3_bind_int64(st, 1, after_id);
  if (role) bind_text(st, 2, role, rolelen);
  r = sqlite3_step(st);
  if (r == SQLITE_ROW)
    rc = fill_user(s, st, out);
  else if (r == SQLITE_DONE)
    rc = serr(s, FSEC_ENOTFOUND, "no more users");
  else
    rc = map_rc(s, r, "list users");
  done(st);
  return rc;
}

int fsec_store_user_set_text(fsec_store *s, int64_t id, fsec_user_col col,
                             const char *value, size_t len, int64_t now,
                             int *changed) {
  char norm[NORM_MAX];
  sqlite3_stmt *st;
  int rc = guard(s);

  if (changed) *changed = 0;
  if (rc != FSEC_OK) return rc;
  if ((int)col < 0 || col >= FSEC_COL_ACTIVE)
    return serr(s, FSEC_EINVAL, "not a text column");
  if (col == FSEC_COL_EMAIL) {
    if (!value) return serr(s, FSEC_EINVAL, "email cannot be removed");
    rc = check_email(s, value, len, norm);
  } else if (col == FSEC_COL_USERNAME && value) {
    rc = check_identity(s, fsec_identity_username(value, len, norm, sizeof norm),
                        "username");
  } else {
    rc = check_value(s, value, len, TEXT_MAX[col], "value");
  }
  if (rc == FSEC_OK && !value &&
      (col == FSEC_COL_FS_UNIQUIFIER))
    rc = serr(s, FSEC_EINVAL, "fs_uniquifier cannot be removed");
  if (rc != FSEC_OK) return rc;
  st = stmt(s, ST_SET_FIRST + col, &rc);
  if (!st) return rc;
  sqlite3_bind_int64(st, 1, id);
  bind_text(st, 2, value, len);
  sqlite3_bind_int64(st, 3, now);
  if (col == FSEC_COL_EMAIL || col == FSEC_COL_USERNAME)
    bind_text(st, 4, value ? norm : NULL, value ? strlen(norm) : 0);
  return write_one(s, st, "update user", changed);
}

int fsec_store_user_set_int(fsec_store *s, int64_t id, fsec_user_col col,
                            int64_t value, int is_null, int64_t now,
                            int *changed) {
  sqlite3_stmt *st;
  int rc = guard(s);
  if (changed) *changed = 0;
  if (rc != FSEC_OK) return rc;
  if (col < FSEC_COL_ACTIVE || col >= FSEC_COL__COUNT)
    return serr(s, FSEC_EINVAL, "not an integer column");
  if (col == FSEC_COL_ACTIVE && (is_null || (value != 0 && value != 1)))
    return serr(s, FSEC_EINVAL, "active must be 0 or 1");
  if (col == FSEC_COL_LOGIN_COUNT && (is_null || value < 0))
    return serr(s, FSEC_EINVAL, "login_count must be >= 0");
  st = stmt(s, ST_SET_FIRST + col, &rc);
  if (!st) return rc;
  sqlite3_bind_int64(st, 1, id);
  if (is_null)
    sqlite3_bind_null(st, 2);
  else
    sqlite3_bind_int64(st, 2, value);
  sqlite3_bind_int64(st, 3, now);
  return write_one(s, st, "update user", changed);
}

int fsec_store_user_track_login(fsec_store *s, int64_t id, const char *ip,
                                size_t iplen, int64_t now) {
  sqlite3_stmt *st;
  int changed = 0, rc = guard(s);
  if (rc == FSEC_OK) rc = check_value(s, ip, iplen, FSEC_IP_MAX, "ip");
  if (rc != FSEC_OK) return rc;
  st = stmt(s, ST_TRACK, &rc);
  if (!st) return rc;
  sqlite3_bind_int64(st, 1, id);
  sqlite3_bind_int64(st, 2, now);
  bind_text(st, 3, ip, iplen);
  rc = write_one(s, st, "track login", &changed);
  if (rc == FSEC_OK && !changed)
    return serr(s, FSEC_ENOTFOUND, "no such user");
  return rc;
}

int fsec_store_user_failed_login(fsec_store *s, int64_t id, int64_t now,
                                 int64_t window, int64_t *count) {
  sqlite3_stmt *st;
  int rc = guard(s), r;
  *count = 0;
  if (rc == FSEC_OK && window < 1) rc = serr(s, FSEC_EINVAL, "window must be >= 1");
  if (rc == FSEC_OK) rc = wbegin(s);
  if (rc != FSEC_OK) return rc;
  st = stmt(s, ST_FAILED_LOGIN, &rc);
  if (st) {
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int64(st, 3, window);
    r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
      *count = sqlite3_column_int64(st, 0);
      r = sqlite3_step(st);
    } else if (r == SQLITE_DONE) {
      r = SQLITE_NOTFOUND; /* marker: no row updated */
    }
    done(st);
    if (r == SQLITE_NOTFOUND)
      rc = serr(s, FSEC_ENOTFOUND, "no such user");
    else
      rc = r == SQLITE_DONE ? FSEC_OK : map_rc(s, r, "count failed login");
  }
  return wend(s, rc);
}

/* Step a statement that RETURNs one count (or no row: 0). */
static int step_count(fsec_store *s, sqlite3_stmt *st, const char *what,
                      int64_t *count) {
  int r = sqlite3_step(st);
  if (r == SQLITE_ROW) {
    *count = sqlite3_column_int64(st, 0);
    r = sqlite3_step(st);
  }
  done(st);
  return r == SQLITE_DONE ? FSEC_OK : map_rc(s, r, what);
}

static int check_meter(fsec_store *s, int64_t window, int64_t threshold) {
  if (window < 1) return serr(s, FSEC_EINVAL, "window must be >= 1");
  if (threshold < 1) return serr(s, FSEC_EINVAL, "threshold must be >= 1");
  return FSEC_OK;
}

int fsec_store_user_reserve_login(fsec_store *s, int64_t id, int64_t now,
                                  int64_t window, int64_t threshold,
                                  int64_t *count) {
  sqlite3_stmt *st;
  int rc = guard(s);
  *count = 0;
  if (rc == FSEC_OK) rc = check_meter(s, window, threshold);
  if (rc == FSEC_OK) rc = wbegin(s);
  if (rc != FSEC_OK) return rc;
  st = stmt(s, ST_RESERVE_LOGIN, &rc);
  if (st) {
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int64(st, 3, window);
    sqlite3_bind_int64(st, 4, threshold);
    rc = step_count(s, st, "reserve login", count);
  }
  return wend(s, rc);
}

/* One write statement whose only parameter is a user id. */
static int write_by_id(fsec_store *s, int id_st, int64_t id, const char *what) {
  sqlite3_stmt *st;
  int rc = guard(s);
  if (rc != FSEC_OK) return rc;
  st = stmt(s, id_st, &rc);
  if (!st) return rc;
  sqlite3_bind_int64(st, 1, id);
  return write_one(s, st, what, NULL);
}

int fsec_store_user_release_login(fsec_store *s, int64_t id) {
  return write_by_id(s, ST_RELEASE_LOGIN, id, "release login");
}

int fsec_store_attempt_reserve(fsec_store *s, const char *key, size_t keylen,
                               int64_t now, int64_t window, int64_t threshold,
                               int64_t *count) {
  sqlite3_stmt *st;
  int rc = guard(s);
  *count = 0;
  if (rc == FSEC_OK) rc = check_meter(s, window, threshold);
  if (rc == FSEC_OK) rc = check_value(s, key, keylen, FSEC_ATTEMPT_KEY_MAX, "key");
  if (rc == FSEC_OK) rc = wbegin_n(s, 1);
  if (rc != FSEC_OK) return rc;
  st = stmt(s, ST_ATTEMPT_PRUNE, &rc);
  if (st) {
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, window);
    rc = sqlite3_step(st);
    done(st);
    rc = rc == SQLITE_DONE ? FSEC_OK : map_rc(s, rc, "prune attempts");
  }
  if (rc == FSEC_OK) st = stmt(s, ST_ATTEMPT_RESERVE, &rc);
  if (rc == FSEC_OK) {
    bind_text(st, 1, key, keylen);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int64(st, 3, window);
    sqlite3_bind_int64(st, 4, threshold);
    rc = step_count(s, st, "reserve attempt", count);
  }
  return wend(s, rc);
}

int fsec_store_user_reset_failed_logins(fsec_store *s, int64_t id) {
  return write_by_id(s, ST_RESET_FAILED, id, "reset failed logins");
}

int fsec_store_user_delete(fsec_store *s, int64_t id, int *deleted) {
  sqlite3_stmt *st;
  int rc = guard(s);
  if (deleted) *deleted = 0;
  if (rc != FSEC_OK) return rc;
  st = stmt(s, ST_USER_DELETE, &rc);
  if (!st) return rc;
  sqlite3_bind_int64(st, 1, id);
  return write_one(s, st, "delete user", deleted);
}

static int user_role(fsec_store *s, int op, int64_t id, const char *role,
                     size_t len, int *changed) {
  int rc = guard(s);
  if (changed) *changed = 0;
  if (rc == FSEC_OK) rc = check_value(s, role, len, FSEC_ROLE_NAME_MAX, "role");
  if (rc == FSEC_OK) rc = wbegin(s);
  if (rc != FSEC_OK) return rc;
  return wend(s, link_role(s, op, id, role, len, changed));
}

int fsec_store_user_add_role(fsec_store *s, int64_t id, const char *role,
                             size_t len, int *changed) {
  return user_role(s, ST_LINK_ADD, id, role, len, changed);
}

int fsec_store_user_remove_role(fsec_store *s, int64_t id, const char *role,
                                size_t len, int *changed) {
  return user_role(s, ST_LINK_DEL, id, role, len, changed);
}

/* ------------------------------------------------------------------ */
/* Sessions                                                            */
/* ------------------------------------------------------------------ */

int fsec_store_session_create(fsec_store *s, const char *sid, size_t len,
                              int64_t user_id, int64_t now,
                              int64_t expires_at) {
  sqlite3_stmt *st;
  int rc = guard(s), r;
  if (rc == FSEC_OK) rc = check_value(s, sid, len, FSEC_UNIQUIFIER_MAX, "session id");
  if (rc == FSEC_OK && len == 0) rc = serr(s, FSEC_EINVAL, "session id is empty");
  if (rc == FSEC_OK) rc = wbegin_n(s, 1);
  if (rc != FSEC_OK) return rc;
  st = stmt(s, ST_SESSION_PURGE, &rc);
  if (st) {
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_int64(st, 2, now);
    r = sqlite3_step(st);
    done(st);
    rc = r == SQLITE_DONE ? FSEC_OK : map_rc(s, r, "purge sessions");
  }
  if (rc == FSEC_OK && (st = stmt(s, ST_SESSION_INSERT, &rc)) != NULL) {
    bind_text(st, 1, sid, len);
    sqlite3_bind_int64(st, 2, user_id);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_int64(st, 4, expires_at);
    r = sqlite3_step(st);
    done(st);
    if (r == SQLITE_CONSTRAINT_FOREIGNKEY)
      rc = serr(s, FSEC_ENOTFOUND, "user %lld does not exist", (long long)user_id);
    else if (r == SQLITE_CONSTRAINT_PRIMARYKEY)
      rc = serr(s, FSEC_EEXIST, "session id already exists");
    else
      rc = r == SQLITE_DONE ? FSEC_OK : map_rc(s, r, "create session");
  }
  return wend(s, rc);
}

int fsec_store_session_delete(fsec_store *s, const char *sid, size_t len,
                              int *deleted) {
  sqlite3_stmt *st;
  int rc = guard(s);
  if (deleted) *deleted = 0;
  if (rc == FSEC_OK) rc = check_value(s, sid, len, FSEC_UNIQUIFIER_MAX, "session id");
  if (rc != FSEC_OK) return rc;
  st = stmt(s, ST_SESSION_DELETE, &rc);
  if (!st) return rc;
  bind_text(st, 1, sid, len);
  return write_one(s, st, "delete session", deleted);
}

int fsec_store_session_delete_user(fsec_store *s, int64_t user_id,
                                   const char *keep, size_t keeplen,
                                   int64_t *count) {
  sqlite3_stmt *st;
  int changed = 0, rc = guard(s);
  if (count) *count = 0;
  if (rc == FSEC_OK) rc = check_value(s, keep, keeplen, FSEC_UNIQUIFIER_MAX, "session id");
  if (rc != FSEC_OK) return rc;
  st = stmt(s, ST_SESSION_DELETE_USER, &rc);
  if (!st) return rc;
  sqlite3_bind_int64(st, 1, user_id);
  bind_text(st, 2, keep, keeplen);
  rc = write_one(s, st, "delete sessions", &changed);
  if (rc == FSEC_OK && count) *count = sqlite3_changes(s->db);
  return rc;
}

int fsec_store_user_find_session(fsec_store *s, const char *sid, size_t sidlen,
                                 const char *uq, size_t uqlen, int64_t now,
                                 fsec_user *out) {
  sqlite3_stmt *st;
  int rc = guard(s), r;
  if (rc == FSEC_OK) rc = check_value(s, sid, sidlen, FSEC_UNIQUIFIER_MAX, "session id");
  if (rc == FSEC_OK) rc = check_value(s, uq, uqlen, FSEC_UNIQUIFIER_MAX, "uniquifier");
  if (rc != FSEC_OK) return rc;
  st = stmt(s, ST_FIND_SESSION, &rc);
  if (!st) return rc;
  bind_text(st, 1, sid, sidlen);
  bind_text(st, 2, uq, uqlen);
  sqlite3_bind_int64(st, 3, now);
  r = sqlite3_step(st);
  if (r == SQLITE_ROW)
    rc = fill_user(s, st, out);
  else if (r == SQLITE_DONE)
    rc = serr(s, FSEC_ENOTFOUND, "no such session");
  else
    rc = map_rc(s, r, "find session");
  done(st);
  return rc;
}

/* ------------------------------------------------------------------ */
/* Roles                                                               */
/* ------------------------------------------------------------------ */

int fsec_store_role_create(fsec_store *s, const char *name, size_t namelen,
                           const char *description, size_t desclen,
                           const char *permissions, size_t permlen,
                           int64_t now, int64_t *id) {
  sqlite3_stmt *st;
  int rc = guard(s), r;
  if (rc == FSEC_OK) rc = check_role_name(s, name, namelen);
  if (rc == FSEC_OK)
    rc = check_value(s, description, desclen, FSEC_DESCRIPTION_MAX,
                     "description");
  if (rc == FSEC_OK) rc = check_permissions(s, permissions, permlen);
  if (rc == FSEC_OK) rc = wbegin(s);
  if (rc != FSEC_OK) return rc;
  st = stmt(s, ST_ROLE_INSERT, &rc);
  if (st) {
    bind_text(st, 1, name, namelen);
    bind_text(st, 2, description, desclen);
    bind_text(st, 3, permissions ? permissions : "", permissions ? permlen : 0);
    sqlite3_bind_int64(st, 4, now);
    r = sqlite3_step(st);
    done(st);
    rc = r == SQLITE_DONE ? FSEC_OK : map_rc(s, r, "create role");
    if (rc == FSEC_OK && id) *id = sqlite3_last_insert_rowid(s->db);
  }
  return wend(s, rc);
}

static int fill_role(fsec_store *s, sqlite3_stmt *st, fsec_role *out) {
  int rc = reserve_row(s, st, 5);
  if (rc != FSEC_OK) return rc;
  out->id = sqlite3_column_int64(st, 0);
  out->name = col_text(s, st, 1);
  out->description = col_text(s, st, 2);
  out->permissions = col_text(s, st, 3);
  out->update_datetime = sqlite3_column_int64(st, 4);
  return FSEC_OK;
}

int fsec_store_role_find(fsec_store *s, const char *name, size_t len,
                         fsec_role *out) {
  sqlite3_stmt *st;
  int rc = guard(s), r;
  if (rc == FSEC_OK) rc = check_value(s, name, len, FSEC_ROLE_NAME_MAX, "role");
  if (rc != FSEC_OK) return rc;
  st = stmt(s, ST_ROLE_FIND, &rc);
  if (!st) return rc;
  bind_text(st, 1, name, len);
  r = sqlite3_step(st);
  if (r == SQLITE_ROW) {
    rc = fill_role(s, st, out);
  } else if (r == SQLITE_DONE) {
    rc = serr(s, FSEC_ENOTFOUND, "no such role");
  } else {
    rc = map_rc(s, r, "find role");
  }
  done(st);
  return rc;
}

int fsec_store_role_next(fsec_store *s, int64_t after_id, fsec_role *out) {
  sqlite3_stmt *st;
  int rc = guard(s), r;
  if (rc != FSEC_OK) return rc;
  st = stmt(s, ST_ROLE_NEXT, &rc);
  if (!st) return rc;
  sqlite3_bind_int64(st, 1, after_id);
  r = sqlite3_step(st);
  if (r == SQLITE_ROW)
    rc = fill_role(s, st, out);
  else if (r == SQLITE_DONE)
    rc = serr(s, FSEC_ENOTFOUND, "no more roles");
  else
    rc = map_rc(s, r, "list roles");
  done(st);
  return rc;
}

int fsec_store_role_set_permissions(fsec_store *s, const char *name,
                                    size_t len, const char *permissions,
                                    size_t permlen, int64_t now,
                                    int *changed) {
  sqlite3_stmt *st;
  int64_t rid;
  int rc = guard(s);
  if (changed) *changed = 0;
  if (rc == FSEC_OK) rc = check_value(s, name, len, FSEC_ROLE_NAME_MAX, "role");
  if (rc == FSEC_OK) rc = check_permissions(s, permissions, permlen);
  if (rc == FSEC_OK) rc = role_id(s, name, len, &rid);
  if (rc != FSEC_OK) return rc;
  st = stmt(s, ST_ROLE_PERMS, &rc);
  if (!st) return rc;
  bind_text(st, 1, name, len);
  bind_text(st, 2, permissions ? permissions : "", permissions ? permlen : 0);
  sqlite3_bind_int64(st, 3, now);
  return write_one(s, st, "set permissions", changed);
}

int fsec_store_role_delete(fsec_store *s, const char *name, size_t len,
                           int *deleted) {
  sqlite3_stmt *st;
  int rc = guard(s);
  if (deleted) *deleted = 0;
  if (rc == FSEC_OK) rc = check_value(s, name, len, FSEC_ROLE_NAME_MAX, "role");
  if (rc != FSEC_OK) return rc;
  st = stmt(s, ST_ROLE_DELETE, &rc);
  if (!st) return rc;
  bind_text(st, 1, name, len);
  return write_one(s, st, "delete role", deleted);
}

/* ------------------------------------------------------------------ */
/* Facts about the database                                            */
/* ------------------------------------------------------------------ */

int fsec_store_meta_get(fsec_store *s, const char *key, size_t keylen,
                        const char **value) {
  sqlite3_stmt *st;
  int rc = guard(s), r;
  *value = NULL;
  if (rc == FSEC_OK) rc = check_value(s, key, keylen, FSEC_META_MAX, "key");
  if (rc != FSEC_OK) return rc;
  st = stmt(s, ST_META_GET, &rc);
  if (!st) return rc;
  bind_text(st, 1, key, keylen);
  r = sqlite3_step(st);
  if (r == SQLITE_ROW) {
    rc = reserve_row(s, st, 1);
    if (rc == FSEC_OK) *value = col_text(s, st, 0);
  } else if (r == SQLITE_DONE) {
    rc = serr(s, FSEC_ENOTFOUND, "nothing recorded");
  } else {
    rc = map_rc(s, r, "read meta");
  }
  done(st);
  return rc;
}

int fsec_store_meta_add(fsec_store *s, const char *key, size_t keylen,
                        const char *value, size_t valuelen, int *added) {
  sqlite3_stmt *st;
  int rc = guard(s);
  if (added) *added = 0;
  if (rc == FSEC_OK) rc = check_value(s, key, keylen, FSEC_META_MAX, "key");
  if (rc == FSEC_OK)
    rc = check_value(s, value, valuelen, FSEC_META_MAX, "value");
  if (rc != FSEC_OK) return rc;
  st = stmt(s, ST_META_ADD, &rc);
  if (!st) return rc;
  bind_text(st, 1, key, keylen);
  bind_text(st, 2, value, valuelen);
  return write_one(s, st, "record meta", added);
}

/* ------------------------------------------------------------------ */
/* Checks                                                              */
/* ------------------------------------------------------------------ */

static int count(fsec_store *s, int id, int64_t *n) {
  int rc, r;
  sqlite3_stmt *st = stmt(s, id, &rc);
  if (!st) return rc;
  r = sqlite3_step(st);
  if (r == SQLITE_ROW) *n = sqlite3_column_int64(st, 0);
  done(st);
  return r == SQLITE_ROW ? FSEC_OK : map_rc(s, r, "count");
}

int fsec_store_counts(fsec_store *s, int64_t *users, int64_t *roles) {
  int rc = guard(s);
  if (rc == FSEC_OK) rc = count(s, ST_COUNT_USERS, users);
  if (rc == FSEC_OK) rc = count(s, ST_COUNT_ROLES, roles);
  return rc;
}

int fsec_store_memory(fsec_store *s, fsec_store_memory_info *out) {
  int cur = 0, hi = 0, rc = guard(s);
  memset(out, 0, sizeof *out);
  if (rc != FSEC_OK) return rc;
  if (sqlite3_db_status(s->db, SQLITE_DBSTATUS_CACHE_USED, &cur, &hi, 0) == SQLITE_OK)
    out->cache_bytes = cur;
  if (sqlite3_db_status(s->db, SQLITE_DBSTATUS_STMT_USED, &cur, &hi, 0) == SQLITE_OK)
    out->statement_bytes = cur;
  out->sqlite_heap_bytes = (int64_t)sqlite3_memory_used();
  return FSEC_OK;
}

int fsec_store_integrity_check(fsec_store *s, int *ok) {
  sqlite3_stmt *st = NULL;
  const unsigned char *t;
  int r, rc = guard(s);
  *ok = 0;
  if (rc != FSEC_OK) return rc;
  r = sqlite3_prepare_v2(s->db, "PRAGMA integrity_check", -1, &st, NULL);
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
