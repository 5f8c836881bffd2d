/*
 * store_pg.c: the store's PostgreSQL backend (store_impl.h), over libpq:
 * every libpq call of fsec. Chosen by a "postgresql://" URI; the statements
 * are store_sqlite.c's, in PostgreSQL's dialect, with the same parameter
 * numbers and result columns.
 *
 * - Every statement is prepared once per connection (PQprepare, then
 *   PQexecPrepared); no SQL is ever built from caller data. Text
 *   parameters go in binary format (raw bytes with their length: no NUL
 *   needed, none possible), integers as decimal text.
 * - Atomic writes stay atomic across connections and nodes: each is one
 *   statement on one row (UPDATE ... WHERE ... RETURNING re-checks its
 *   WHERE on the newest row version after waiting for the row lock, under
 *   READ COMMITTED), or runs inside one transaction.
 * - A lost connection (the server stopped or restarted, a network fault)
 *   answers FSEC_EUNAVAILABLE, never a wrong answer; the connection is
 *   dropped and the next call connects again (bounded by connect_timeout),
 *   so a thread never keeps a broken one. Inside a transaction the call
 *   fails and the transaction is lost: the caller rolls back, as for any
 *   error. statement_timeout and lock_timeout bound every statement.
 * - A URI that holds a password is refused: passwords come through
 *   libpq's own means (a password file: PGPASSFILE or passfile=; the
 *   environment), so no log line or process listing can show one. Error
 *   messages name the host and database, never the URI.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store_impl.h"

#define serr fsec__serr

#define USER_COLS                                                            \
  "u.id, u.email, u.username, u.password, u.active, u.confirmed_at,"         \
  " u.fs_uniquifier, u.fs_token_uniquifier, u.last_login_at,"                \
  " u.current_login_at, u.last_login_ip, u.current_login_ip, u.login_count," \
  " u.create_datetime, u.update_datetime, u.failed_login_count,"             \
  " u.failed_login_window,"                                                  \
  " COALESCE((SELECT string_agg(r.name || chr(31) || r.permissions,"         \
  " chr(30) ORDER BY r.id) FROM roles_users ru JOIN roles r"                 \
  " ON r.id = ru.role_id WHERE ru.user_id = u.id), '')"                      \
  ", u.tf_primary_method, u.tf_totp_secret, u.tf_phone_number,"              \
  " u.us_totp_secrets, u.us_phone_number, u.mf_recovery_codes, u.fields,"    \
  " u.fs_webauthn_user_handle"
#define SWAP(col)                                               \
  "UPDATE users SET " col " = $2, update_datetime = $3::bigint" \
  " WHERE id = $1::bigint AND " col " IS NOT DISTINCT FROM $4"
#define FIND(col) "SELECT " USER_COLS " FROM users u WHERE u." col " = $1"
#define SET(col)                                                \
  "UPDATE users SET " col " = $2, update_datetime = $3::bigint" \
  " WHERE id = $1::bigint AND " col " IS DISTINCT FROM $2"
#define SET_NORM(col)                                             \
  "UPDATE users SET " col " = $2, " col "_norm = $4,"             \
  " update_datetime = $3::bigint WHERE id = $1::bigint AND (" col \
  " IS DISTINCT FROM $2 OR " col "_norm IS DISTINCT FROM $4)"
/* the failed-login window has passed (or never started) */
#define WINDOW_OVER              \
  "(failed_login_window IS NULL" \
  " OR failed_login_window <= $2::bigint - $3::bigint)"
#define METER_SET                                                    \
  "UPDATE users SET failed_login_count = CASE WHEN " WINDOW_OVER     \
  " THEN 1 ELSE failed_login_count + 1 END,"                         \
  " failed_login_window = CASE WHEN " WINDOW_OVER " THEN $2::bigint" \
  " ELSE failed_login_window END WHERE id = $1::bigint"
#define ATTEMPT_OVER "a.started <= $2::bigint - $3::bigint"

#define WAN_COLS                                                          \
  "id, user_id, encode(credential_id, 'hex'), encode(public_key, 'hex')," \
  " sign_count, transports, name, usage, backup_state, device_type,"      \
  " user_handle, create_datetime, lastuse_datetime"

static const char *const SQL[ST__COUNT] = {
    [ST_BEGIN] = "BEGIN",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SAVEPOINT] = "SAVEPOINT fsec_op",
    [ST_RELEASE] = "RELEASE SAVEPOINT fsec_op",
    [ST_ROLLBACK_TO] = "ROLLBACK TO SAVEPOINT fsec_op",
    [ST_FIND_ID] = "SELECT " USER_COLS " FROM users u WHERE u.id = $1::bigint",
    [ST_FIND_EMAIL] = FIND("email_norm"),
    [ST_FIND_USERNAME] = FIND("username_norm"),
    [ST_FIND_UQ] = FIND("fs_uniquifier"),
    [ST_FIND_TUQ] = FIND("fs_token_uniquifier"),
    [ST_FIND_PHONE] = FIND("us_phone_number"),
    [ST_USER_INSERT] =
        "INSERT INTO users (email, email_norm, username, username_norm,"
        " password, active, confirmed_at, fs_uniquifier, fs_token_uniquifier,"
        " create_datetime, update_datetime, fields)"
        " VALUES ($1, $2, $3, $4, $5, $6::bigint, $7::bigint, $8, $9,"
        " $10::bigint, $10::bigint, $11) RETURNING id",
    [ST_ROLE_ID] = "SELECT id FROM roles WHERE name = $1",
    [ST_LINK_ADD] = "INSERT INTO roles_users (user_id, role_id)"
                    " VALUES ($1::bigint, $2::bigint) ON CONFLICT DO NOTHING",
    [ST_LINK_DEL] = "DELETE FROM roles_users WHERE user_id = $1::bigint"
                    " AND role_id = $2::bigint",
    [ST_USER_DELETE] = "DELETE FROM users WHERE id = $1::bigint",
    [ST_TRACK] =
        "UPDATE users SET last_login_at = COALESCE(current_login_at, $2::bigint),"
        " last_login_ip = CASE WHEN current_login_at IS NULL THEN $3::text"
        " ELSE current_login_ip END,"
        " current_login_at = $2::bigint, current_login_ip = $3::text,"
        " login_count = login_count + 1 WHERE id = $1::bigint",
    [ST_ROLE_INSERT] =
        "INSERT INTO roles (name, description, permissions, update_datetime)"
        " VALUES ($1, $2, $3, $4::bigint) RETURNING id",
    [ST_ROLE_FIND] =
        "SELECT id, name, description, permissions, update_datetime"
        " FROM roles WHERE name = $1",
    [ST_ROLE_NEXT] =
        "SELECT id, name, description, permissions, update_datetime"
        " FROM roles WHERE id > $1::bigint ORDER BY id LIMIT 1",
    [ST_META_GET] = "SELECT value FROM meta WHERE key = $1",
    [ST_META_ADD] = "INSERT INTO meta (key, value) VALUES ($1, $2)"
                    " ON CONFLICT (key) DO NOTHING",
    [ST_EPOCH] = "SELECT epoch FROM revocation",
    [ST_ROLE_PERMS] =
        "UPDATE roles SET permissions = $2, update_datetime = $3::bigint"
        " WHERE name = $1 AND permissions IS DISTINCT FROM $2",
    [ST_ROLE_DELETE] = "DELETE FROM roles WHERE name = $1",
    [ST_COUNT_USERS] = "SELECT count(*) FROM users",
    [ST_COUNT_ROLES] = "SELECT count(*) FROM roles",
    [ST_FAILED_LOGIN] = METER_SET " RETURNING failed_login_count",
    /* at most $4 reservations per window, whichever connection or node
     * asks: the check and the count are one statement on the row */
    [ST_RESERVE_LOGIN] = METER_SET " AND (" WINDOW_OVER
                                   " OR failed_login_count < $4::bigint)"
                                   " RETURNING failed_login_count",
    [ST_RELEASE_LOGIN] =
        "UPDATE users SET failed_login_count = failed_login_count - 1"
        " WHERE id = $1::bigint AND failed_login_count > 0",
    [ST_ATTEMPT_RESERVE] =
        "INSERT INTO login_attempts AS a (key, n, started, expires)"
        " VALUES ($1, 1, $2::bigint, $2::bigint + $3::bigint)"
        " ON CONFLICT (key) DO UPDATE SET"
        " n = CASE WHEN " ATTEMPT_OVER " THEN 1 ELSE a.n + 1 END,"
        " expires = CASE WHEN " ATTEMPT_OVER " THEN $2::bigint + $3::bigint"
        "   ELSE GREATEST(a.expires, a.started + $3::bigint) END,"
        " started = CASE WHEN " ATTEMPT_OVER " THEN $2::bigint ELSE a.started END"
        " WHERE " ATTEMPT_OVER " OR a.n < $4::bigint RETURNING a.n",
    /* two nodes pruning at once skip each other's rows */
    [ST_ATTEMPT_PRUNE] =
        "DELETE FROM login_attempts WHERE key IN (SELECT key FROM"
        " login_attempts WHERE expires <= $1::bigint LIMIT 4"
        " FOR UPDATE SKIP LOCKED)",
    [ST_RESET_FAILED] =
        "UPDATE users SET failed_login_count = 0, failed_login_window = NULL"
        " WHERE id = $1::bigint AND failed_login_count <> 0",
    [ST_SESSION_INSERT] =
        "INSERT INTO sessions (id, user_id, created_at, expires_at)"
        " VALUES ($1, $2::bigint, $3::bigint, $4::bigint)",
    [ST_SESSION_PURGE] = "DELETE FROM sessions WHERE user_id = $1::bigint"
                         " AND expires_at <= $2::bigint",
    [ST_SESSION_DELETE] = "DELETE FROM sessions WHERE id = $1",
    [ST_SESSION_DELETE_USER] = "DELETE FROM sessions WHERE user_id = $1::bigint"
                               " AND id IS DISTINCT FROM $2::text",
    [ST_FIND_SESSION] =
        "SELECT " USER_COLS " FROM sessions se JOIN users u"
        " ON u.id = se.user_id WHERE se.id = $1 AND u.fs_uniquifier = $2"
        " AND se.expires_at > $3::bigint",
    [ST_SESSION_DATA_GET] =
        "SELECT data, data_version FROM sessions WHERE id = $1"
        " AND expires_at > $2::bigint",
    /* compare-and-set: the row lock orders racers; the loser's WHERE sees
     * the winner's version and changes no row */
    [ST_SESSION_DATA_SET] =
        "UPDATE sessions SET data = $2, data_version = data_version + 1"
        " WHERE id = $1 AND data_version = $3::bigint AND expires_at > $4::bigint",
    /* the outbox: SKIP LOCKED, so that racing claimers each take another
     * row instead of waiting on the same one */
    [ST_OUTBOX_ADD] =
        "INSERT INTO outbox (message_id, sender, recipient, kind, message,"
        " created_at, next_at) VALUES ($1, $2, $3, $4, $5, $6::bigint,"
        " $6::bigint) RETURNING id",
    [ST_OUTBOX_CLAIM] =
        "UPDATE outbox SET lease_owner = $1, lease_until = $3::bigint,"
        " attempts = attempts + 1 WHERE id = (SELECT id FROM outbox"
        " WHERE next_at IS NOT NULL AND next_at <= $2::bigint"
        " AND lease_until <= $2::bigint ORDER BY next_at, id LIMIT 1"
        " FOR UPDATE SKIP LOCKED)"
        " RETURNING message_id, sender, recipient, kind, message, id,"
        " attempts, created_at",
    [ST_OUTBOX_SENT] = "DELETE FROM outbox WHERE id = $1::bigint",
    [ST_OUTBOX_RETRY] =
        "UPDATE outbox SET lease_owner = NULL, lease_until = 0,"
        " next_at = $3::bigint, last_error = $4 WHERE id = $1::bigint"
        " AND lease_owner = $2",
    [ST_OUTBOX_COUNTS] =
        "SELECT count(*), coalesce(sum(CASE WHEN next_at IS NULL THEN 1 ELSE 0"
        " END), 0) FROM outbox",
    /* inserted, or moved forward only: 0 rows is a replay */
    [ST_OTP_ADVANCE] =
        "INSERT INTO otp_counters AS o (user_id, method, counter)"
        " VALUES ($1::bigint, $2, $3::bigint) ON CONFLICT (user_id, method)"
        " DO UPDATE SET counter = excluded.counter"
        " WHERE o.counter < excluded.counter",
    [ST_FIND_HANDLE] = FIND("fs_webauthn_user_handle"),
    /* WebAuthn credentials: bytes go in as binary bytea parameters and
     * come back as hex (text results), decoded by store.c */
    [ST_WAN_INSERT] =
        "INSERT INTO webauthn (user_id, credential_id, public_key, sign_count,"
        " transports, name, usage, backup_state, device_type, user_handle,"
        " create_datetime, lastuse_datetime) VALUES ($1::bigint, $2, $3,"
        " $4::bigint, $5, $6, $7, $8::bigint, $9, $10, $11::bigint, $12::bigint)"
        " RETURNING id",
    [ST_WAN_FIND] = "SELECT " WAN_COLS " FROM webauthn WHERE credential_id = $1",
    [ST_WAN_NEXT] = "SELECT " WAN_COLS " FROM webauthn WHERE user_id = $1::bigint"
                    " AND id > $2::bigint ORDER BY id LIMIT 1",
    /* compare-and-set: the row lock orders racers; the losers' WHERE sees
     * the winner's count (READ COMMITTED re-check) and changes no row */
    [ST_WAN_USED] = "UPDATE webauthn SET sign_count = $3::bigint,"
                    " lastuse_datetime = $4::bigint"
                    " WHERE id = $1::bigint AND sign_count = $2::bigint",
    [ST_WAN_DELETE] = "DELETE FROM webauthn WHERE id = $1::bigint",
    [ST_WAN_DELETE_USER] = "DELETE FROM webauthn WHERE user_id = $1::bigint",
    /* as SQLite's: $4 the expected norm (NULL: compare $6 as stored) */
    [ST_SWAP_FIRST +
        FSEC_COL_EMAIL] =
        "UPDATE users SET email = $2, email_norm = $5, update_datetime = $3::bigint"
        " WHERE id = $1::bigint AND (email_norm = $4::text"
        "   OR ($4::text IS NULL AND email = $6::text))",
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
    [ST_USER_NEXT] = "SELECT " USER_COLS " FROM users u WHERE u.id > $1::bigint"
                     " ORDER BY u.id LIMIT 1",
    [ST_USER_NEXT_ROLE] =
        "SELECT " USER_COLS " FROM users u WHERE u.id > $1::bigint AND u.id IN"
        " (SELECT ru.user_id FROM roles_users ru JOIN roles r ON r.id = ru.role_id"
        " WHERE r.name = $2) ORDER BY u.id LIMIT 1",
};

#define MAX_PARAMS 12
#define LOCK_KEY "7306086150467445091" /* pg_advisory_xact_lock: "fsec" */

/* The connection and the statement in use. */
typedef struct pgs {
  PGconn *conn;
  char *uri;
  char *uri_options; /* the URI's own server options ("-c search_path=x") */
  int connect_timeout_ms, statement_timeout_ms;
  unsigned char prepared[ST__COUNT];
  int cur;                /* statement in use, -1: none */
  int nparams[ST__COUNT]; /* its highest $N */
  const char *vals[MAX_PARAMS];
  int lens[MAX_PARAMS], fmts[MAX_PARAMS];
  char ints[MAX_PARAMS][24]; /* integer parameters as text */
  PGresult *res;
  int row, nrows, executed;
  int64_t changes;
} pgs;

#define P(s) ((pgs *)(s)->db)

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

/* Drop the connection (the next call opens a new one). After fork() a
 * child must not send the parent's Terminate: it only forgets it. */
static void drop(pgs *p, int in_child) {
  if (p->res) PQclear(p->res);
  p->res = NULL;
  if (p->conn && !in_child) PQfinish(p->conn);
  p->conn = NULL;
  memset(p->prepared, 0, sizeof p->prepared); /* they died with the session */
}

/* libpq's message without its trailing newline. */
static void clean_message(char *out, size_t len, const char *m) {
  size_t n;
  snprintf(out, len, "%s", m ? m : "?");
  n = strlen(out);
  while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' ')) out[--n] = '\0';
}

static int unavailable(fsec_store *s, const char *what) {
  pgs *p = P(s);
  char m[160];
  clean_message(m, sizeof m, p->conn ? PQerrorMessage(p->conn) : "no connection");
  drop(p, 0);
  return serr(s, FSEC_EUNAVAILABLE, "store unreachable: %s: %s", what, m);
}

/* The unique key a 23505 names, in the SQLite backend's words. */
static int unique_violation(fsec_store *s, const char *constraint) {
  const char *c = constraint ? constraint : "";
  if (strstr(c, "email")) return serr(s, FSEC_EEXIST, "email already exists");
  if (strstr(c, "username")) return serr(s, FSEC_EEXIST, "username already exists");
  if (strstr(c, "roles_name")) return serr(s, FSEC_EEXIST, "role already exists");
  if (strstr(c, "phone")) return serr(s, FSEC_EEXIST, "phone number already exists");
  return serr(s, FSEC_EEXIST, "uniquifier already exists");
}

/* Map a failed result to an fsec code by SQLSTATE (never by message
 * text; a message's DETAIL, which can quote a key such as an email, is
 * not copied). */
static int map_result(fsec_store *s, PGresult *r, const char *what) {
  pgs *p = P(s);
  const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
  char m[160];
  if (!p->conn || PQstatus(p->conn) == CONNECTION_BAD || !st) return unavailable(s, what);
  if (strncmp(st, "08", 2) == 0 || strcmp(st, "57P01") == 0 ||
      strcmp(st, "57P02") == 0 || strcmp(st, "57P03") == 0)
    return unavailable(s, what); /* connection faults, server shutting down */
  if (strcmp(st, "23505") == 0)
    return unique_violation(s, PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME));
  if (strcmp(st, "23503") == 0)
    return serr(s, FSEC_ENOTFOUND, "%s: a row it names does not exist", what);
  clean_message(m, sizeof m, PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));
  if (strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0 ||
      strcmp(st, "55P03") == 0 || strcmp(st, "57014") == 0)
    return serr(s, FSEC_EBUSY, "store busy: %s (%s)", what, m);
  if (strcmp(st, "53100") == 0) return serr(s, FSEC_EFULL, "database or disk is full: %s", what);
  if (strcmp(st, "53200") == 0) return serr(s, FSEC_ENOMEM, "out of memory: %s", what);
  if (strcmp(st, "25006") == 0)
    return serr(s, FSEC_EREADONLY, "database is read-only: %s (%s)", what, m);
  return serr(s, FSEC_EDB, "database error: %s: %s (SQLSTATE %s)", what, m, st);
}

/* ------------------------------------------------------------------ */
/* Connecting                                                          */
/* ------------------------------------------------------------------ */

/* Refuse a URI that holds a password (or that libpq cannot parse). */
static int check_uri(fsec_store *s, const char *uri) {
  char *err = NULL;
  PQconninfoOption *opts = PQconninfoParse(uri, &err), *o;
  int has_password = 0;
  if (!opts) {
    char m[160];
    clean_message(m, sizeof m, err);
    PQfreemem(err);
    return serr(s, FSEC_EINVAL, "invalid database URI: %s", m);
  }
  for (o = opts; o->keyword; o++) {
    if (strcmp(o->keyword, "password") == 0 && o->val && *o->val) has_password = 1;
    /* kept: fsec's own server options are added to the URI's, not put
     * in their place (a search_path given there stays) */
    if (strcmp(o->keyword, "options") == 0 && o->val && *o->val && !P(s)->uri_options)
      P(s)->uri_options = strdup(o->val);
  }
  PQconninfoFree(opts);
  if (has_password)
    return serr(s, FSEC_EINVAL, "the database URI holds a password: put it in a "
                                "password file (PGPASSFILE or passfile=) instead");
  return FSEC_OK;
}

/* libpq prints server notices on stderr by default: a library must not. */
static void ignore_notice(void *arg, const char *message) {
  (void)arg;
  (void)message;
}

/* Open the connection with fsec's settings. libpq takes the last value
 * of a repeated keyword: fsec's defaults come before the URI (which may
 * set its own connect_timeout or keepalives), the encoding fsec's checks
 * need after it, and the server options are the URI's added to fsec's
 * (the URI's last, so that its own statement_timeout wins). */
static int connect_db(fsec_store *s) {
  pgs *p = P(s);
  char ct[16], tcp[16], opts[512];
  const char *keys[] = {"connect_timeout", "application_name", "keepalives",
                        "keepalives_idle", "keepalives_interval",
                        "keepalives_count", "tcp_user_timeout", "dbname",
                        "client_encoding", "options", NULL};
  const char *vals[11];
  /* libpq counts connect_timeout in whole seconds, 2 at least */
  snprintf(ct, sizeof ct, "%d", p->connect_timeout_ms > 0 ? (p->connect_timeout_ms + 999) / 1000 : 0);
  snprintf(tcp, sizeof tcp, "%d", p->statement_timeout_ms > 0 ? p->statement_timeout_ms + 5000 : 0);
  /* statement and lock waits bounded; a transaction left open by a
   * vanished client is ended by the server */
  if (snprintf(opts, sizeof opts, "-c statement_timeout=%d -c lock_timeout=%d"
                                  " -c idle_in_transaction_session_timeout=60000 %s",
               p->statement_timeout_ms, p->statement_timeout_ms,
               p->uri_options ? p->uri_options : "") >= (int)sizeof opts)
    return serr(s, FSEC_EINVAL, "the database URI's options are too long");
  vals[0] = ct;
  vals[1] = "fsec";
  vals[2] = "1";
  vals[3] = "10";
  vals[4] = "3";
  vals[5] = "3";
  vals[6] = tcp;
  vals[7] = p->uri;
  vals[8] = "UTF8";
  vals[9] = opts;
  vals[10] = NULL;
  drop(p, 0);
  p->conn = PQconnectdbParams(keys, vals, 1);
  if (!p->conn) return serr(s, FSEC_ENOMEM, "out of memory");
  if (PQstatus(p->conn) != CONNECTION_OK) return unavailable(s, "connect");
  PQsetNoticeProcessor(p->conn, ignore_notice, NULL);
  return FSEC_OK;
}

/* The connection, opened again when it was lost. Inside a transaction a
 * lost connection is the transaction lost: refused, never reopened. */
static int ensure(fsec_store *s) {
  pgs *p = P(s);
  if (p->conn && PQstatus(p->conn) == CONNECTION_OK) return FSEC_OK;
  if (s->in_txn)
    return serr(s, FSEC_EUNAVAILABLE, "store unreachable: the connection was "
                                      "lost inside a transaction");
  return connect_db(s);
}

/* ------------------------------------------------------------------ */
/* Statements (store_impl.h's backend calls)                           */
/* ------------------------------------------------------------------ */

/* The highest $N in sql. */
static int count_params(const char *sql) {
  int n = 0;
  const char *c;
  for (c = sql; (c = strchr(c, '$')) != NULL; c++) {
    int v = atoi(c + 1);
    if (v > n) n = v;
  }
  return n;
}

static void name_of(int id, char *out, size_t len) { snprintf(out, len, "fsec_%d", id); }

static int prepare(fsec_store *s, int id) {
  pgs *p = P(s);
  char name[16];
  PGresult *r;
  int rc = FSEC_OK;
  name_of(id, name, sizeof name);
  r = PQprepare(p->conn, name, SQL[id], 0, NULL);
  if (PQresultStatus(r) != PGRES_COMMAND_OK)
    rc = map_result(s, r, "prepare");
  else
    p->prepared[id] = 1;
  PQclear(r);
  return rc;
}

static int pg_start(fsec_store *s, int id) {
  pgs *p = P(s);
  int rc = ensure(s);
  if (rc == FSEC_OK && !p->prepared[id]) rc = prepare(s, id);
  if (rc != FSEC_OK) return rc;
  p->cur = id;
  p->executed = 0;
  memset(p->vals, 0, sizeof p->vals);
  return FSEC_OK;
}

static void pg_bind_text(fsec_store *s, int i, const char *v, size_t len) {
  pgs *p = P(s);
  p->vals[i - 1] = v;
  p->lens[i - 1] = (int)len;
  p->fmts[i - 1] = 1; /* binary: text's wire form is its bytes */
}

static void pg_bind_int(fsec_store *s, int i, int64_t v) {
  pgs *p = P(s);
  snprintf(p->ints[i - 1], sizeof p->ints[i - 1], "%lld", (long long)v);
  p->vals[i - 1] = p->ints[i - 1];
  p->lens[i - 1] = 0;
  p->fmts[i - 1] = 0;
}

static void pg_bind_null(fsec_store *s, int i) { P(s)->vals[i - 1] = NULL; }

static int execute(fsec_store *s, const char *what) {
  pgs *p = P(s);
  char name[16];
  ExecStatusType st;
  name_of(p->cur, name, sizeof name);
  p->res = PQexecPrepared(p->conn, name, p->nparams[p->cur], p->vals, p->lens, p->fmts, 0);
  st = PQresultStatus(p->res);
  p->executed = 1;
  p->row = -1;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    int rc = map_result(s, p->res, what);
    if (p->res) PQclear(p->res);
    p->res = NULL;
    return rc;
  }
  p->nrows = PQntuples(p->res);
  p->changes = strtoll(PQcmdTuples(p->res), NULL, 10);
  return FSEC_OK;
}

static int pg_step(fsec_store *s, const char *what) {
  pgs *p = P(s);
  if (!p->executed) {
    int rc = execute(s, what);
    if (rc != FSEC_OK) return rc;
  }
  if (!p->res) return FSEC__DONE;
  p->row++;
  return p->row < p->nrows ? FSEC__ROW : FSEC__DONE;
}

static int64_t pg_col_int(fsec_store *s, int i) {
  pgs *p = P(s);
  return strtoll(PQgetvalue(p->res, p->row, i), NULL, 10);
}

static int pg_col_null(fsec_store *s, int i) {
  return PQgetisnull(P(s)->res, P(s)->row, i);
}

static const char *pg_col_text(fsec_store *s, int i, size_t *len) {
  pgs *p = P(s);
  if (PQgetisnull(p->res, p->row, i)) {
    *len = 0;
    return NULL;
  }
  *len = (size_t)PQgetlength(p->res, p->row, i);
  return PQgetvalue(p->res, p->row, i);
}

static void pg_finish(fsec_store *s) {
  pgs *p = P(s);
  if (p->res) PQclear(p->res);
  p->res = NULL;
  p->cur = -1;
  p->executed = 0;
}

static int64_t pg_changes(fsec_store *s) { return P(s)->changes; }

static int pg_txn_open(fsec_store *s) {
  pgs *p = P(s);
  return p->conn && PQtransactionStatus(p->conn) != PQTRANS_IDLE &&
         PQtransactionStatus(p->conn) != PQTRANS_UNKNOWN;
}

/* ------------------------------------------------------------------ */
/* Open, migrate, close                                                */
/* ------------------------------------------------------------------ */

/* A one-value query with no parameters, run once (schema work only:
 * constant SQL, never caller data). *out gets the first column of the
 * first row, or NULL. */
static int once(fsec_store *s, const char *sql, char *out, size_t len, const char *what) {
  PGresult *r = PQexec(P(s)->conn, sql);
  ExecStatusType st = PQresultStatus(r);
  int rc = FSEC_OK;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
    rc = map_result(s, r, what);
  else if (out)
    snprintf(out, len, "%s", PQntuples(r) > 0 && !PQgetisnull(r, 0, 0) ? PQgetvalue(r, 0, 0) : "");
  PQclear(r);
  return rc;
}

static int read_version(fsec_store *s, int *v) {
  char out[32];
  /* a query of the catalog, not to_regclass(): that one answered from a
   * catalog snapshot taken before another node's migration committed
   * (read right after waiting for the migration lock) */
  int rc = once(s, "SELECT count(*) > 0 FROM pg_catalog.pg_class c"
                   " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                   " WHERE c.relname = 'fsec_schema' AND n.nspname = current_schema()",
                out, sizeof out, "read schema version");
  *v = 0;
  if (rc != FSEC_OK || strcmp(out, "t") != 0) return rc;
  rc = once(s, "SELECT max(version) FROM fsec_schema", out, sizeof out, "read schema version");
  if (rc == FSEC_OK) *v = atoi(out);
  return rc;
}

/* A database fsec did not make: no fsec_schema, but tables of its own
 * (a Flask-Security database given by mistake). Left unchanged. */
static int foreign(fsec_store *s, const char *dbname) {
  char out[32];
  int rc = once(s, "SELECT count(*) FROM information_schema.tables"
                   " WHERE table_schema = current_schema()"
                   " AND table_name <> 'fsec_schema'",
                out, sizeof out, "read the schema");
  if (rc == FSEC_OK && atoi(out) > 0)
    return serr(s, FSEC_EDB, "database '%s' is not an fsec database (it holds "
                             "tables of its own); left unchanged",
                dbname);
  return rc;
}

static int run_migrations(fsec_store *s, int from) {
  char sql[96];
  int v, rc = FSEC_OK;
  for (v = from + 1; rc == FSEC_OK && v <= FSEC_SCHEMA_VERSION; v++) {
    const char *m = fsec__pg_migration_sql(v);
    if (!m) return serr(s, FSEC_EDB, "no PostgreSQL migration %d", v);
    if (*m) rc = once(s, m, NULL, 0, "migration");
    snprintf(sql, sizeof sql, "UPDATE fsec_schema SET version = %d", v);
    if (rc == FSEC_OK) rc = once(s, sql, NULL, 0, "set schema version");
  }
  return rc;
}

/* Bring the schema to FSEC_SCHEMA_VERSION in one transaction (DDL is
 * transactional), under an advisory lock: two nodes starting at once
 * migrate once, the second finds the work done. The foreign check runs
 * under the lock too, on what the first one committed. */
static int migrate(fsec_store *s) {
  int v, rc = read_version(s, &v);
  if (rc == FSEC_OK && v == FSEC_SCHEMA_VERSION) return FSEC_OK;
  if (rc == FSEC_OK) rc = once(s, "BEGIN", NULL, 0, "begin migration");
  if (rc != FSEC_OK) return rc;
  rc = once(s, "SELECT pg_advisory_xact_lock(" LOCK_KEY ")", NULL, 0, "lock migration");
  /* read again under the lock (each statement sees what committed before
   * it): another node may have migrated meanwhile, and its tables must
   * not look foreign (they did when the check ran before the lock) */
  if (rc == FSEC_OK) rc = read_version(s, &v);
  if (rc == FSEC_OK && v == FSEC_SCHEMA_VERSION) return once(s, "COMMIT", NULL, 0, "commit migration");
  if (rc == FSEC_OK && v == 0) rc = foreign(s, PQdb(P(s)->conn));
  if (rc == FSEC_OK)
    rc = once(s, "CREATE TABLE IF NOT EXISTS fsec_schema (version integer NOT NULL)",
              NULL, 0, "schema version table");
  if (rc == FSEC_OK)
    rc = once(s, "INSERT INTO fsec_schema SELECT 0 WHERE NOT EXISTS"
                 " (SELECT 1 FROM fsec_schema)",
              NULL, 0, "schema version row");
  if (rc == FSEC_OK) rc = read_version(s, &v);
  if (rc == FSEC_OK && v > FSEC_SCHEMA_VERSION)
    rc = serr(s, FSEC_EDB, "database schema version %d is newer than this fsec (%d)",
              v, FSEC_SCHEMA_VERSION);
  if (rc == FSEC_OK) rc = run_migrations(s, v);
  if (rc == FSEC_OK) return once(s, "COMMIT", NULL, 0, "commit migration");
  if (P(s)->conn) {
    char keep[sizeof s->errmsg];
    memcpy(keep, s->errmsg, sizeof keep);
    (void)once(s, "ROLLBACK", NULL, 0, "rollback");
    memcpy(s->errmsg, keep, sizeof keep);
  }
  return rc;
}

static int check_server(fsec_store *s) {
  const char *enc = PQparameterStatus(P(s)->conn, "server_encoding");
  /* the store's checks assume UTF-8 text */
  if (!enc || strcmp(enc, "UTF8") != 0)
    return serr(s, FSEC_EDB, "database '%s' is not UTF8 (server_encoding %s)",
                PQdb(P(s)->conn), enc ? enc : "?");
  return FSEC_OK;
}

static int pg_open(fsec_store *s, const fsec_store_config *cfg) {
  pgs *p = calloc(1, sizeof *p);
  int i, rc;
  if (!p) return serr(s, FSEC_ENOMEM, "out of memory");
  s->db = p;
  p->cur = -1;
  p->connect_timeout_ms = cfg->connect_timeout_ms;
  p->statement_timeout_ms = cfg->statement_timeout_ms;
  for (i = 0; i < ST__COUNT; i++) p->nparams[i] = SQL[i] ? count_params(SQL[i]) : 0;
  rc = check_uri(s, cfg->path);
  if (rc != FSEC_OK) return rc;
  p->uri = strdup(cfg->path);
  if (!p->uri) return serr(s, FSEC_ENOMEM, "out of memory");
  rc = connect_db(s);
  if (rc == FSEC_OK) rc = check_server(s);
  if (rc == FSEC_OK) rc = migrate(s);
  return rc;
}

static void pg_close(fsec_store *s, int in_child) {
  pgs *p = P(s);
  if (!p) return;
  drop(p, in_child);
  free(p->uri);
  free(p->uri_options);
  free(p);
  s->db = NULL;
}

static int pg_schema_version(fsec_store *s, int *v) {
  int rc = ensure(s);
  *v = -1;
  return rc == FSEC_OK ? read_version(s, v) : rc;
}

/* defer: nothing to defer, durability is the server's synchronous_commit */
static int pg_begin(fsec_store *s, int defer, int *deferred) {
  (void)defer;
  int rc = pg_start(s, ST_BEGIN);
  *deferred = 0;
  if (rc == FSEC_OK) {
    rc = pg_step(s, "begin");
    pg_finish(s);
  }
  return rc < 0 ? rc : FSEC_OK;
}

static void pg_end_txn(fsec_store *s) { (void)s; }

int fsec__pg_integrity_check(fsec_store *s, int *ok) {
  int v = -1, rc = pg_schema_version(s, &v);
  *ok = rc == FSEC_OK && v == FSEC_SCHEMA_VERSION;
  if (rc == FSEC_OK && !*ok)
    serr(s, FSEC_EDB, "integrity check: schema version %d, expected %d", v, FSEC_SCHEMA_VERSION);
  return rc;
}

const fsec__backend fsec__pg_backend = {
    "postgresql",
    1,
    pg_open,
    pg_close,
    pg_start,
    pg_bind_text,
    pg_bind_int,
    pg_bind_null,
    pg_bind_text, /* bytea in binary format: its bytes, as text's */
    pg_step,
    pg_col_int,
    pg_col_null,
    pg_col_text,
    pg_finish,
    pg_changes,
    pg_txn_open,
    pg_schema_version,
    pg_begin,
    pg_end_txn,
};
