/*
 * store_backend.h: the seam between the store's backend-neutral half and
 * its per-backend statement sets (issue 22: SQLite today, libpq next).
 *
 * STATUS: design note plus the proposed declarations. Nothing includes
 * this header yet; store.c is still one SQLite file. The next session
 * implements it in the order of "Steps" at the end.
 *
 * ---------------------------------------------------------------------
 * 1. How store.c splits
 * ---------------------------------------------------------------------
 * The public contract (fsec/store.h) does not change, and neither do the
 * binding (bindings/lstore.c) and the Lua datastore above it.
 * fsec_store_open picks the backend from cfg->path: "postgresql://" or
 * "postgres://" (a libpq connection URI) -> PostgreSQL; anything else ->
 * SQLite, as today.
 *
 * store.c (backend-neutral) keeps:
 *   - every public fsec_store_* function and its argument checks
 *     (check_value, check_email, check_identity, check_role_name,
 *     check_permissions, check_new_user, check_meter), run before any
 *     statement, so both backends refuse bad input with the same code and
 *     message and write nothing;
 *   - the transaction state machine: in_txn, the savepoint of a call
 *     made inside a caller's transaction (wbegin_n / wend), the first
 *     error kept as "the story" while rolling back;
 *   - the fork guard (fork_gen, guard()) and errmsg/serr;
 *   - fill_user / fill_role over the neutral row accessor below, and the
 *     random uniquifiers of user_create;
 *   - the statement ids (enum fsec__st, moved here from store.c) and the
 *     parameter order of each: both backends number their parameters the
 *     same way, so one call site binds for both.
 * store_sqlite.c: the SQL[] table as it is today, stmt()/done() (the
 *   sqlite3_prepare_v3 PERSISTENT cache), map_rc, configure (the
 *   PRAGMAs), foreign(), migrate() with refold_emails, and the WAL-only
 *   calls (begin_deferred, wal_path, sync_wal, checkpoint,
 *   set_autocheckpoint, integrity_check, memory).
 * store_pg.c: the same ids with PostgreSQL SQL, libpq connect/prepare/
 *   exec, the SQLSTATE mapping, its own migrations and schema version.
 * schema.c gains a second migration list for PostgreSQL (same numbers,
 *   same meaning; FSEC_SCHEMA_VERSION is shared, so a version means one
 *   schema on both).
 * spec/check-sql.sh (catalogue I-01, constant SQL only) must learn the
 *   libpq calls: PQprepare only with SQL[id], PQexec only with literals or
 *   migrations; PQexecParams/PQescape* never (every statement prepared).
 *
 * ---------------------------------------------------------------------
 * 2. The statements on PostgreSQL (store.c's SQL[] -> PostgreSQL)
 * ---------------------------------------------------------------------
 * General rewrites, for every statement:
 *   ?N -> $N, each parameter typed at PQprepare (paramTypes: INT8OID 20,
 *     TEXTOID 25), so "$2 - $3" is bigint arithmetic, not an inference;
 *   "a IS NOT ?2" -> "a IS DISTINCT FROM $2" (the SET()/SET_NORM()
 *     macros and ST_ROLE_PERMS: *changed stays "the value really changed");
 *   sqlite3_changes -> PQcmdTuples; sqlite3_last_insert_rowid ->
 *     "... RETURNING id";
 *   INSERT OR IGNORE -> INSERT ... ON CONFLICT DO NOTHING;
 *   group_concat(x, char(30)) -> string_agg(x, chr(30) ORDER BY r.id),
 *     char(31) -> chr(31) (USER_COLS: the roles field keeps its format);
 *   count(*) is bigint; integer columns are bigint (times are Unix
 *     seconds as on SQLite; active stays an integer 0/1, so the
 *     statements and fsec_user are the same).
 * Transactions: BEGIN IMMEDIATE -> BEGIN (READ COMMITTED). SQLite
 *   serialises writers on the file; PostgreSQL serialises them on the
 *   rows they update, which is all that the statements below need: each
 *   atomic write is one statement on one row, and under READ COMMITTED an
 *   UPDATE that waited for another's row lock re-checks its WHERE on the
 *   committed new row version before it writes.
 *   SAVEPOINT fsec_op / RELEASE SAVEPOINT fsec_op / ROLLBACK TO SAVEPOINT
 *   fsec_op as on SQLite, with one difference: on PostgreSQL ANY failed
 *   statement aborts the whole transaction (SQLSTATE 25P02 for every
 *   statement after it), where SQLite fails the statement alone. So on
 *   PostgreSQL every call made inside a caller's transaction takes the
 *   savepoint (wbegin_n's "multi" is always 1 there; SAVEPOINT, the
 *   statement and RELEASE go in one round trip in libpq pipeline mode),
 *   else an expected EEXIST would poison the caller's transaction.
 *
 * The atomic writes (issue 19's lockout and the session/revocation
 * rules; each must stay atomic across connections AND nodes):
 *   ST_RESERVE_LOGIN (lockout reservation): the same single
 *     "UPDATE users SET failed_login_count = CASE ..., failed_login_window
 *     = CASE ... WHERE id = $1 AND (failed_login_window IS NULL OR
 *     failed_login_window <= $2 - $3 OR failed_login_count < $4) RETURNING
 *     failed_login_count". Racing reservations on other connections wait
 *     on the row lock and re-evaluate the WHERE on the new row (see
 *     above): at most $4 are granted per window, whichever node asks.
 *     No row returned = refused (locked, or no such user), as today.
 *   ST_FAILED_LOGIN, ST_RELEASE_LOGIN, ST_RESET_FAILED, ST_TRACK: the
 *     same one-row UPDATEs (RETURNING where SQLite has it).
 *   ST_ATTEMPT_RESERVE (unknown identities): "INSERT INTO login_attempts
 *     (key, n, started) VALUES ($1, 1, $2) ON CONFLICT (key) DO UPDATE SET
 *     n = CASE WHEN login_attempts.started <= $2 - $3 THEN 1 ELSE
 *     login_attempts.n + 1 END, started = CASE ... END WHERE
 *     login_attempts.started <= $2 - $3 OR login_attempts.n < $4
 *     RETURNING n" (columns qualified: PostgreSQL 15 rejects the bare
 *     names there, "column reference \"started\" is ambiguous"; tried on
 *     the spec server). ON CONFLICT DO
 *     UPDATE takes the row lock, so it is as atomic as the UPDATE above.
 *     ST_ATTEMPT_PRUNE: "DELETE FROM login_attempts WHERE key IN (SELECT
 *     key FROM login_attempts WHERE started <= $1 - $2 LIMIT 4 FOR UPDATE
 *     SKIP LOCKED)": two nodes pruning at once skip each other's rows
 *     instead of queueing behind them.
 *   Session rows (fsec_store_session_create, one savepoint): ST_SESSION_
 *     PURGE then ST_SESSION_INSERT, unchanged but for $N. The sid primary
 *     key's unique_violation (23505, constraint "sessions_pkey") ->
 *     FSEC_EEXIST "session id already exists"; the user foreign key
 *     (23503) -> FSEC_ENOTFOUND "user does not exist".
 *     ST_SESSION_DELETE, ST_SESSION_DELETE_USER ("id IS DISTINCT FROM
 *     $2"), ST_FIND_SESSION: unchanged but for $N; FIND_SESSION still
 *     joins on u.fs_uniquifier = $2, so rotating the uniquifier ends
 *     every session in the same statement that reads it.
 *   Uniquifier rotation with session deletion (datastore.revoke_all, from
 *     deactivate_user and reset_user_access through all_or_nothing, and
 *     from the password change through views.lua's write_all, which also
 *     sets the new hash): two ST_SET_FIRST+FSEC_COL_FS_(TOKEN_)UNIQUIFIER
 *     UPDATEs and ST_SESSION_DELETE_USER in ONE caller transaction
 *     (ds:transaction -> fsec_store_begin/commit). On PostgreSQL that is
 *     BEGIN ... COMMIT on one connection (a pool thread holds its
 *     connection for the whole transaction: the Lua side must run the
 *     transaction's calls as one job, never spread over threads). A
 *     session lookup on another node sees either the old uniquifier with
 *     the sessions or the new one without them, never a mix.
 *   Role links: ST_ROLE_ID then ST_LINK_ADD ("INSERT INTO roles_users
 *     (user_id, role_id) VALUES ($1, $2) ON CONFLICT DO NOTHING";
 *     PQcmdTuples "1"/"0" is *changed) or ST_LINK_DEL. A role deleted
 *     between the two -> 23503 -> FSEC_ENOTFOUND. user_create inserts the
 *     user ("... RETURNING id") and its links inside one transaction or
 *     savepoint, as today.
 *   ST_META_ADD: "INSERT ... ON CONFLICT (key) DO NOTHING" (first writer
 *     wins across nodes, as across processes today).
 *
 * Schema on PostgreSQL (migrations 1..FSEC_SCHEMA_VERSION, own list):
 *   id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY (BY DEFAULT:
 *   the import keeps Flask-Security's ids, then setval()s the sequence);
 *   TEXT columns; the *_norm, uniquifier and sessions.id keys COLLATE "C"
 *   (byte equality, as SQLite's BINARY, and cheaper indexes); WITHOUT
 *   ROWID tables are plain tables; REFERENCES ... ON DELETE CASCADE as
 *   on SQLite (always enforced: no PRAGMA foreign_keys). The schema
 *   version lives in a one-row table (fsec_schema) instead of PRAGMA
 *   user_version; migrate() runs in one transaction (DDL is
 *   transactional) after "SELECT pg_advisory_xact_lock(<fsec constant>)",
 *   which replaces "re-read the version under the write lock": two nodes
 *   starting at once migrate once. A newer version is refused with the
 *   same message. foreign(): a database with tables in the current schema
 *   but no fsec_schema is refused unchanged (information_schema.tables
 *   instead of sqlite_master). Migration 5's email refold runs the same C
 *   loop over libpq statements. Open also checks SHOW server_encoding =
 *   UTF8 and sets client_encoding UTF8 (the checks in store.c assume
 *   UTF-8; NUL is refused before any statement: text cannot hold it).
 *
 * Error mapping (SQLSTATE from PQresultErrorField(PG_DIAG_SQLSTATE),
 * names from PG_DIAG_CONSTRAINT_NAME, never from message text):
 *   23505 unique_violation -> FSEC_EEXIST naming email / username / role /
 *     phone / uniquifier / session id by constraint name;
 *   23503 foreign_key_violation -> FSEC_ENOTFOUND;
 *   40001, 40P01, 55P03 (lock timeout), 57014 (statement timeout) ->
 *     FSEC_EBUSY;
 *   53100 disk_full, 53200 out_of_memory -> FSEC_EFULL / FSEC_ENOMEM;
 *   25006 read_only_sql_transaction (a standby) -> FSEC_EREADONLY;
 *   class 08, 57P01..57P03 (admin shutdown, crash, cannot connect now),
 *     or PQstatus == CONNECTION_BAD -> a new FSEC_EUNAVAILABLE (-22,
 *     "store unreachable"), which the Lua side answers like EBUSY today
 *     (authz.lua: 503 + Retry-After, never a wrong answer). The connection
 *     is then dropped and reopened on the next call (below);
 *   anything else -> FSEC_EDB with the SQLSTATE in the message. Messages
 *     never carry parameter values (PG_DIAG_MESSAGE_DETAIL can hold the
 *     conflicting key, an email: not copied).
 *
 * Calls that exist for SQLite's WAL only, on PostgreSQL:
 *   begin_deferred -> fsec_store_begin with *deferred = 0 (durability is
 *   the server's synchronous_commit; the thread pool already keeps the
 *   round trip off the event loop); wal_path -> NULL; checkpoint,
 *   set_autocheckpoint -> FSEC_OK doing nothing; integrity_check ->
 *   schema version and tables present (amcheck is not installed by
 *   default); memory -> all zeros (libpq keeps no page cache or
 *   statement memory client-side to report).
 *
 * ---------------------------------------------------------------------
 * 3. Connections and prepared statements
 * ---------------------------------------------------------------------
 * One fsec_store is one libpq connection, for one thread at a time, as
 * one SQLite handle today; under OpenResty each pool thread opens its own
 * (lazily, on its first job) and keeps it; plain Lua opens one per store.
 * Statements are prepared per connection: store_pg.c keeps a bitmap
 * prepared[ST__COUNT]; the first use of id sends PQprepare(conn,
 * "fsec_<id>", SQL[id], nparams, types), later uses only
 * PQexecPrepared(conn, "fsec_<id>", ...) with text parameters (lengths
 * given, so no strlen on values) and text results. A reconnect (new
 * PGconn after a broken one) clears the bitmap: prepared statements die
 * with their session. Connection settings: the URI as given (libpq
 * reads passfile/PGPASSFILE/PGPASSWORD itself; to do: refuse at config
 * time a URI that holds a password, so no log or ps line can show one),
 * connect_timeout from the config, keepalives and tcp_user_timeout so a
 * dead peer is noticed, and statement_timeout / lock_timeout sent once
 * after connect (SET, with numbers only). A broken connection is never
 * kept: on CONNECTION_BAD the store PQfinish()es it and the next call
 * reconnects (bounded by connect_timeout); inside a transaction the call
 * fails with FSEC_EUNAVAILABLE and the transaction is lost, which the
 * caller already treats as a rollback. After fork() the child abandons
 * the PGconn without PQfinish (that would send Terminate on the parent's
 * socket), as it abandons a SQLite handle today. Returned strings
 * (fsec_user, fsec_role, meta values) point into the last PGresult,
 * which the store keeps until its next call, as SQLite rows are kept.
 *
 * ---------------------------------------------------------------------
 * Steps for the next session
 * ---------------------------------------------------------------------
 * 1. Move the enum and the neutral code as above; SQLite behind the
 *    vtable; every C test and spec green (nothing else changes).
 * 2. store_pg.c + the PostgreSQL migrations; CMake finds libpq
 *    (pkg-config libpq) and builds it in; the C store tests and spec/10's
 *    conformance suite parametrised over both backends, the server from
 *    spec/tools/postgres.lua (its URI names a 0600 passfile).
 * 3. FSEC_EUNAVAILABLE and its 503; fault tests with postgres.stop/start.
 * 4. The thread pool's per-thread connection (fsec.openresty.thread),
 *    then cross-node revocation (an epoch row read with the cache, or
 *    LISTEN/NOTIFY), the command, the import, the cluster example.
 */
#ifndef FSEC_STORE_BACKEND_H
#define FSEC_STORE_BACKEND_H

/* Proposed declarations: not used yet. */
#include <stddef.h>
#include <stdint.h>

/* One bound parameter, in the neutral half's terms. */
typedef enum fsec__ptype {
  FSEC__P_NULL = 0,
  FSEC__P_INT,
  FSEC__P_TEXT
} fsec__ptype;

typedef struct fsec__param {
  fsec__ptype type;
  int64_t i;
  const char *text; /* FSEC__P_TEXT: not NUL-terminated; len bytes */
  size_t len;
} fsec__param;

/* The current row of the last statement; valid until the next exec. */
typedef struct fsec__row fsec__row;

/* What each backend provides (store_sqlite.c, store_pg.c). Statement ids
 * are store.c's enum, the same for both; rc values are FSEC_* codes with
 * the message already in the store's errmsg. */
typedef struct fsec__backend {
  const char *name; /* "sqlite", "postgresql" */
  /* Open, configure and migrate; *impl is the backend's handle. */
  int (*open)(void **impl, const char *path_or_uri, const void *cfg, char *errbuf,
              size_t errlen);
  /* in_child: after fork(): abandon, do not close. */
  void (*close)(void *impl, int in_child);
  /* Run statement id with n params; *row is the first row or NULL (no
   * rows); *changes the rows written (INSERT/UPDATE/DELETE). */
  int (*exec)(void *impl, int id, const fsec__param *p, int n, fsec__row **row,
              int64_t *changes);
  /* Step to the next row of the last exec (listing is one row per
   * statement today; kept for the migrations' refold loop). */
  int (*next)(void *impl, fsec__row **row);
  /* Column i of the current row: NULL for SQL NULL. */
  const char *(*col_text)(fsec__row *row, int i, size_t *len);
  int64_t (*col_int)(fsec__row *row, int i, int *is_null);
  /* The transaction was rolled back under us (SQLite after
   * SQLITE_FULL; PostgreSQL after any error or a lost connection). */
  int (*txn_aborted)(void *impl);
  int (*schema_version)(void *impl, int *version);
} fsec__backend;

#endif /* FSEC_STORE_BACKEND_H */
