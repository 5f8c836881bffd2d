/*
 * store_impl.h: the seam between the store's backend-neutral half
 * (store.c: the public fsec_store_* calls, their argument checks, the
 * transaction rules, rows to fsec_user) and its backends: store_sqlite.c
 * (the embedded default) and store_pg.c (PostgreSQL over libpq).
 *
 * The neutral half speaks in statement ids (enum below) and numbered
 * parameters; each backend holds the SQL of every id in its dialect, with
 * the same parameter numbers and the same result columns, so one call site
 * binds and reads for both. One statement is in use at a time: start it,
 * bind, step through its rows, finish it.
 */
#ifndef FSEC_STORE_IMPL_H
#define FSEC_STORE_IMPL_H

#include <stdint.h>

#include "internal.h"

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
  ST_FIND_PHONE,
  ST_USER_INSERT, /* RETURNING id */
  ST_ROLE_ID,
  ST_LINK_ADD,
  ST_LINK_DEL,
  ST_USER_DELETE,
  ST_TRACK,
  ST_ROLE_INSERT, /* RETURNING id */
  ST_ROLE_FIND,
  ST_ROLE_PERMS,
  ST_ROLE_DELETE,
  ST_COUNT_USERS,
  ST_COUNT_ROLES,
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
  ST_EPOCH,
  ST_OTP_ADVANCE,
  ST_SESSION_DATA_GET,
  ST_SESSION_DATA_SET,
  ST_OUTBOX_ADD,
  ST_OUTBOX_CLAIM,
  ST_OUTBOX_SENT,
  ST_OUTBOX_RETRY,
  ST_OUTBOX_COUNTS,
  ST_FIND_HANDLE,
  ST_WAN_INSERT, /* RETURNING id */
  ST_WAN_FIND,
  ST_WAN_NEXT,
  ST_WAN_USED,
  ST_WAN_DELETE,
  ST_WAN_DELETE_USER,
  ST_SET_FIRST /* followed by one statement per fsec_user_col */
};
/* then one compare-and-set per text column (fsec_store_user_swap_text) */
#define ST_SWAP_FIRST (ST_SET_FIRST + FSEC_COL__COUNT)
#define ST__COUNT (ST_SWAP_FIRST + FSEC_COL_ACTIVE)

/* What step answers besides an fsec error code (< 0). */
#define FSEC__DONE 0
#define FSEC__ROW 1

#define FSEC__NORM_MAX 1024 /* folded identities may grow; indexes hold these */

typedef struct fsec__backend fsec__backend;

struct fsec_store {
  const fsec__backend *be;
  void *db;               /* the backend's connection state */
  int in_txn;             /* inside fsec_store_begin .. commit/rollback */
  int savepoint;          /* the current call opened a savepoint */
  unsigned long fork_gen; /* fork_gen when opened */
  char *row;              /* text of the last row returned (see col_text) */
  size_t rowcap, rowused;
  char errmsg[256];
};

/* A backend: every function that touches the database. Errors are fsec
 * codes with the message already in s->errmsg (through fsec__serr). */
struct fsec__backend {
  const char *name;
  /* Every write that is one statement inside a caller's transaction still
   * takes a savepoint (PostgreSQL: a failed statement aborts the whole
   * transaction, so an expected EEXIST must not reach the caller's). */
  int savepoint_always;
  int (*open)(fsec_store *s, const fsec_store_config *cfg);
  void (*close)(fsec_store *s, int in_child);
  /* Statement id, ready for binding (prepared once per connection). */
  int (*start)(fsec_store *s, int id);
  /* v NULL: SQL NULL. The bytes stay the caller's until finish. */
  void (*bind_text)(fsec_store *s, int i, const char *v, size_t len);
  void (*bind_int)(fsec_store *s, int i, int64_t v);
  void (*bind_null)(fsec_store *s, int i);
  /* bytes for a BLOB / bytea column (SQLite compares a TEXT value with a
   * BLOB as never equal, so bytes must go in as a blob) */
  void (*bind_blob)(fsec_store *s, int i, const char *v, size_t len);
  /* FSEC__ROW, FSEC__DONE or an error; what names the operation. A unique
   * key violation is FSEC_EEXIST, a foreign key one FSEC_ENOTFOUND. */
  int (*step)(fsec_store *s, const char *what);
  int64_t (*col_int)(fsec_store *s, int i);
  int (*col_null)(fsec_store *s, int i);
  const char *(*col_text)(fsec_store *s, int i, size_t *len);
  void (*finish)(fsec_store *s);
  int64_t (*changes)(fsec_store *s); /* rows written by the last step */
  /* Is a transaction open on the connection? (SQLite rolls back by
   * itself after SQLITE_FULL; PostgreSQL after a lost connection.) */
  int (*txn_open)(fsec_store *s);
  int (*schema_version)(fsec_store *s, int *v);
  /* BEGIN, with the commit's sync deferred when defer and the backend
   * can (SQLite WAL); *deferred says so. */
  int (*begin)(fsec_store *s, int defer, int *deferred);
  void (*end_txn)(fsec_store *s); /* after COMMIT or ROLLBACK */
};

extern const fsec__backend fsec__sqlite_backend;
extern const fsec__backend fsec__pg_backend;

int fsec__serr(fsec_store *s, int rc, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* store_base.c: fork_gen now (the fork hook installed). */
unsigned long fsec__store_fork_gen(void);

/* The fork guard: FSEC_EFORK in a child for a store opened before fork(). */
int fsec__store_guard(fsec_store *s);

/* Each backend's integrity check (fsec_store_integrity_check). */
int fsec__pg_integrity_check(fsec_store *s, int *ok);
int fsec__sqlite_integrity_check(fsec_store *s, int *ok);

/* Is s a store of backend be? (the SQLite-only calls answer for others) */
int fsec__store_is(const fsec_store *s, const fsec__backend *be);

#endif /* FSEC_STORE_IMPL_H */
