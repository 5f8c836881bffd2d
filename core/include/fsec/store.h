/*
 * fsec/store.h: the user and role store, over SQLite (a file path, the
 * embedded default) or PostgreSQL (a libpq URI: "postgresql://...").
 *
 * One fsec_store is one connection, for one thread at a time (like an
 * sqlite3 or PGconn handle). SQLite: several processes may open the same
 * file at once (WAL); every write transaction starts with BEGIN IMMEDIATE
 * so writers queue on busy_timeout instead of deadlocking. PostgreSQL:
 * any number of processes and machines; the atomic writes (lockout
 * reservations, sessions, role links) are single statements or one
 * transaction on one row set, atomic across connections. A lost
 * PostgreSQL connection answers FSEC_EUNAVAILABLE and is opened again by
 * the next call. A store opened before fork() refuses every call in the
 * child with FSEC_EFORK: open one per process (per nginx worker).
 *
 * Strings returned in fsec_user / fsec_role point into the store's
 * memory: valid until the next call on it. Copy what you keep.
 *
 * Only prepared statements with bound parameters are used; no SQL is ever
 * built from caller data. Column names in statements come from constant
 * tables in store.c.
 */
#ifndef FSEC_STORE_H
#define FSEC_STORE_H

#include "fsec/common.h"
#include "fsec/identity.h" /* FSEC_EMAIL_MAX, FSEC_USERNAME_MAX */

typedef struct fsec_store fsec_store;

#define FSEC_SCHEMA_VERSION 14

/* Limits on stored values (bytes). Longer input: FSEC_ETOOLONG. The
 * email and username limits are the identity API's (fsec/identity.h). */
#define FSEC_HASH_MAX 512
#define FSEC_IP_MAX 64
#define FSEC_UNIQUIFIER_MAX 64
#define FSEC_ROLE_NAME_MAX 80
#define FSEC_DESCRIPTION_MAX 255
#define FSEC_PERMISSIONS_MAX 4096 /* comma-separated list */
#define FSEC_TEXT_MAX 4096        /* other text columns */
#define FSEC_FIELDS_MAX 65536     /* the application's fields (JSON object) */
#define FSEC_ROLES_PER_USER_MAX 64
/* The size in bytes a WAL file is cut back to when a commit starts it
 * over (PRAGMA journal_size_limit): SQLite's checkpoint size, 1000 pages
 * of 4 KiB. A WAL file larger than this holds more frames than that. */
#define FSEC_STORE_WAL_LIMIT (4 * 1024 * 1024)

typedef enum fsec_sync {
  FSEC_SYNC_FULL = 0,
  FSEC_SYNC_NORMAL = 1
} fsec_sync;

typedef struct fsec_store_config {
  const char *path;      /* file path (its folder must exist) or ":memory:" */
  int busy_timeout_ms;   /* default 5000 */
  fsec_sync synchronous; /* default FULL */
  int64_t cache_kib;     /* page cache, default 8192 KiB */
  int64_t mmap_bytes;    /* default 0 (off) */
  int64_t max_pages;     /* 0: no cap; else PRAGMA max_page_count */
  /* PostgreSQL only (path is a libpq URI): */
  int connect_timeout_ms;   /* default 5000; 0: libpq's (none) */
  int statement_timeout_ms; /* default 5000; 0: none. Also lock_timeout */
} fsec_store_config;

/* Is path a libpq connection URI ("postgresql://" or "postgres://")?
 * This function can't fail. */
FSEC_API int fsec_store_is_uri(const char *path);

/* Defaults for everything but path. This function can't fail. */
FSEC_API void fsec_store_config_init(fsec_store_config *cfg) FSEC_NONNULL(1);

/* Open (creating if missing) and migrate a store. Older schema versions
 * are upgraded in place, in one transaction; a newer one is refused.
 * Returns FSEC_OK, or FSEC_EDB / FSEC_EREADONLY / FSEC_EBUSY / FSEC_EINVAL
 * with a message in errbuf; *out is NULL on error. */
FSEC_API FSEC_NODISCARD int fsec_store_open(fsec_store **out,
                                            const fsec_store_config *cfg,
                                            char *errbuf, size_t errlen)
    FSEC_NONNULL(1, 2);

/* Close the store. NULL is a no-op. In a child after fork() the SQLite
 * handle is abandoned, not closed (closing it there corrupts locks). */
FSEC_API void fsec_store_close(fsec_store *s);

/* "sqlite" or "postgresql". This function can't fail. */
FSEC_API const char *fsec_store_backend(const fsec_store *s) FSEC_NONNULL(1);

/* The revocation epoch: a number the database moves (by trigger, in the
 * same transaction) at every write that ends a session or token or
 * changes what a user may do: a user's password, status, uniquifiers,
 * identity or second factors, a role link, a role's permissions, a
 * deletion. A cache that remembers the epoch it read knows, on every
 * node, that something was revoked when it moves. */
FSEC_API FSEC_NODISCARD int fsec_store_revocation_epoch(fsec_store *s, int64_t *epoch)
    FSEC_NONNULL(1, 2);

/* Message of the last failed call. Owned by the store. Never NULL. */
FSEC_API const char *fsec_store_errmsg(const fsec_store *s) FSEC_NONNULL(1);

/* The user_version of the open database. */
FSEC_API int fsec_store_schema_version(fsec_store *s) FSEC_NONNULL(1);

/* ---- transactions ------------------------------------------------------ */

/* Group several calls in one write transaction (BEGIN IMMEDIATE). Calls
 * made meanwhile do not commit on their own. Nesting is refused
 * (FSEC_EMISUSE). */
FSEC_API FSEC_NODISCARD int fsec_store_begin(fsec_store *s) FSEC_NONNULL(1);
FSEC_API FSEC_NODISCARD int fsec_store_commit(fsec_store *s) FSEC_NONNULL(1);
/* Roll back; a no-op outside a transaction. Returns FSEC_OK or FSEC_EDB. */
FSEC_API int fsec_store_rollback(fsec_store *s) FSEC_NONNULL(1);

/* A write transaction whose COMMIT does not wait for the disk: the commit
 * is written to the WAL at synchronous NORMAL (consistent, not yet
 * durable), and *deferred is set to 1; the caller then makes it durable
 * with fsec_store_sync_wal, from any thread, before it acknowledges the
 * commit. A server can so keep the fsync off its event loop. Only for a
 * WAL database opened with synchronous FULL; otherwise *deferred is 0 and
 * this is fsec_store_begin. Later transactions are FULL again. */
FSEC_API FSEC_NODISCARD int fsec_store_begin_deferred(fsec_store *s, int *deferred)
    FSEC_NONNULL(1, 2);

/* The absolute path of the store's WAL file, when its transactions can be
 * deferred (see above); else NULL. Owned by the store. */
FSEC_API const char *fsec_store_wal_path(fsec_store *s) FSEC_NONNULL(1);

/* Make every commit so far durable: fsync the WAL file at wal_path (from
 * fsec_store_wal_path), and give its size in *size (may be NULL). No such
 * file: nothing to do, size 0 (the last connection checkpointed it into
 * the database, with an fsync, and removed it). Uses no store handle: any
 * thread may call it. FSEC_OK, or FSEC_EDB (open or fsync failed) with a
 * message in errbuf. */
FSEC_API FSEC_NODISCARD int fsec_store_sync_wal(const char *wal_path, int64_t *size,
                                                char *errbuf, size_t errlen)
    FSEC_NONNULL(1);

/* Copy the WAL into the database as far as no reader needs it (SQLite's
 * PASSIVE checkpoint: it never waits, and fsyncs what it wrote). A server
 * runs it on a connection of its own, off its event loop. *wal_pages and
 * *copied: frames in the WAL, and those now in the database. FSEC_OK,
 * FSEC_EBUSY (another checkpoint runs), FSEC_EMISUSE (in a transaction),
 * FSEC_EDB. */
FSEC_API FSEC_NODISCARD int fsec_store_checkpoint(fsec_store *s, int *wal_pages, int *copied)
    FSEC_NONNULL(1, 2, 3);

/* SQLite's wal_autocheckpoint: the WAL size, in pages, past which a commit
 * of this connection checkpoints (1000 by default; 0: never). */
FSEC_API FSEC_NODISCARD int fsec_store_set_autocheckpoint(fsec_store *s, int pages)
    FSEC_NONNULL(1);

/* ---- users ------------------------------------------------------------- */

/* A user row, with its roles. Text fields are NULL when the column is
 * NULL; integer fields are -1 when NULL (confirmed_at, *_login_at). */
typedef struct fsec_user {
  int64_t id;
  const char *email;
  const char *username;
  const char *password;
  int active;
  int64_t confirmed_at;
  const char *fs_uniquifier;
  const char *fs_token_uniquifier;
  int64_t last_login_at, current_login_at;
  const char *last_login_ip, *current_login_ip;
  int64_t login_count;
  int64_t create_datetime, update_datetime;
  int64_t failed_login_count;  /* failures in the current window */
  int64_t failed_login_window; /* start of that window, -1 when none */
  /* Roles as "name\x1fperm,perm\x1ename\x1f..." (unit separator between a
   * role's name and its permissions, record separator between roles);
   * "" when the user has none. */
  const char *roles;
  /* The second-factor fields, as stored (NULL when unset). */
  const char *tf_primary_method, *tf_totp_secret, *tf_phone_number;
  const char *us_totp_secrets, *us_phone_number, *mf_recovery_codes;
  /* The application's own fields (register_fields), a JSON object as the
   * Lua side wrote it; NULL when the user has none. */
  const char *fields;
  /* The WebAuthn user handle (user.id of its passkeys), NULL when none. */
  const char *fs_webauthn_user_handle;
} fsec_user;

/* Everything needed to create a user. */
typedef struct fsec_user_new {
  const char *email;               /* required; checked: syntax, length, UTF-8 */
  const char *username;            /* optional */
  const char *password;            /* an already hashed password, or NULL */
  int active;                      /* 1 or 0 */
  int64_t confirmed_at;            /* -1 for NULL */
  const char *fs_uniquifier;       /* NULL: a new random id */
  const char *fs_token_uniquifier; /* NULL: a new random id */
  const char *const *roles;        /* role names; each must exist */
  size_t n_roles;
  int64_t now;        /* create/update time (seconds) */
  const char *fields; /* the application's fields: JSON text, or NULL */
} fsec_user_new;

/* Ways to find a user. EMAIL and USERNAME are case-insensitive (matched on
 * a folded form kept in a unique index: fsec_identity_email's for emails,
 * NFKC case-folded for usernames). */
typedef enum fsec_user_key {
  FSEC_USER_BY_ID = 0,
  FSEC_USER_BY_EMAIL,
  FSEC_USER_BY_USERNAME,
  FSEC_USER_BY_UNIQUIFIER,
  FSEC_USER_BY_TOKEN_UNIQUIFIER,
  FSEC_USER_BY_US_PHONE_NUMBER, /* unified sign-in's identity: E.164, as stored */
  FSEC_USER_BY_WEBAUTHN_HANDLE  /* fs_webauthn_user_handle, as stored */
} fsec_user_key;

/* Create a user and its role links in one transaction. Returns FSEC_OK and
 * the new id, or: FSEC_EIDENTITY (email/username malformed), FSEC_ETOOLONG,
 * FSEC_EUTF8, FSEC_ENUL, FSEC_EEXIST (email, username or uniquifier taken;
 * the message names which), FSEC_ENOTFOUND (a role does not exist),
 * FSEC_EBUSY, FSEC_EFULL, FSEC_EDB. On error nothing is written. */
FSEC_API FSEC_NODISCARD int fsec_store_user_create(fsec_store *s,
                                                   const fsec_user_new *in,
                                                   int64_t *id)
    FSEC_NONNULL(1, 2);

/* Find one user (with roles) in a single statement. FSEC_ENOTFOUND when
 * there is none; for BY_ID the value is the decimal id. */
FSEC_API FSEC_NODISCARD int fsec_store_user_find(fsec_store *s,
                                                 fsec_user_key key,
                                                 const char *value,
                                                 size_t len, fsec_user *out)
    FSEC_NONNULL(1, 3, 5);

/* The next user with an id above after_id (0: the first), in id order,
 * having the role `role` when it is not NULL. FSEC_ENOTFOUND after the
 * last. For listing: one statement per user, no cursor held open. */
FSEC_API FSEC_NODISCARD int fsec_store_user_next(fsec_store *s,
                                                 int64_t after_id,
                                                 const char *role,
                                                 size_t rolelen,
                                                 fsec_user *out)
    FSEC_NONNULL(1, 5);

/* Columns that can be set one at a time. */
typedef enum fsec_user_col {
  FSEC_COL_EMAIL = 0, /* text: checked, and its folded form updated */
  FSEC_COL_USERNAME,  /* text: checked, and its folded form updated */
  FSEC_COL_PASSWORD,
  FSEC_COL_FS_UNIQUIFIER,
  FSEC_COL_FS_TOKEN_UNIQUIFIER,
  FSEC_COL_TF_PRIMARY_METHOD,
  FSEC_COL_TF_TOTP_SECRET,
  FSEC_COL_TF_PHONE_NUMBER,
  FSEC_COL_US_TOTP_SECRETS,
  FSEC_COL_US_PHONE_NUMBER,
  FSEC_COL_MF_RECOVERY_CODES,
  FSEC_COL_LAST_LOGIN_IP,
  FSEC_COL_CURRENT_LOGIN_IP,
  FSEC_COL_FIELDS,                  /* the application's fields (JSON text) */
  FSEC_COL_FS_WEBAUTHN_USER_HANDLE, /* at most FSEC_WEBAUTHN_HANDLE_MAX */
  FSEC_COL_ACTIVE,                  /* integer from here on */
  FSEC_COL_CONFIRMED_AT,
  FSEC_COL_LAST_LOGIN_AT,
  FSEC_COL_CURRENT_LOGIN_AT,
  FSEC_COL_LOGIN_COUNT,
  FSEC_COL__COUNT
} fsec_user_col;

/* Set one text column (value NULL: SQL NULL) of user id. *changed (may be
 * NULL) gets 1 when the stored value changed, 0 when it already had it or
 * the user does not exist. Errors as for create. */
FSEC_API FSEC_NODISCARD int fsec_store_user_set_text(fsec_store *s, int64_t id,
                                                     fsec_user_col col,
                                                     const char *value,
                                                     size_t len, int64_t now,
                                                     int *changed)
    FSEC_NONNULL(1);

/* Compare-and-set of one text column of user id: value (NULL: SQL NULL)
 * is stored only when the column holds exactly expected (NULL: when it is
 * NULL), in one UPDATE, so of requests that race with the same expected
 * value on any connections or nodes exactly one swaps (a single-use
 * recovery code spent twice at once). Every text column but username
 * (FSEC_EINVAL); values checked as for set_text (expected too). The email
 * (never NULL) compares folded, as lookups do: of two links that would
 * move one account from its address at once, one does.
 * Moves the revocation epoch when the column is a revoking one.
 * Returns 1 when swapped, 0 when the column did not hold expected or the
 * user does not exist, or a negative fsec error (FSEC_EEXIST for a taken
 * unique value). */
FSEC_API FSEC_NODISCARD int fsec_store_user_swap_text(
    fsec_store *s, int64_t id, fsec_user_col col, const char *expected,
    size_t explen, const char *value, size_t len, int64_t now)
    FSEC_NONNULL(1);

/* Set one integer column; is_null sets SQL NULL. */
FSEC_API FSEC_NODISCARD int fsec_store_user_set_int(fsec_store *s, int64_t id,
                                                    fsec_user_col col,
                                                    int64_t value, int is_null,
                                                    int64_t now, int *changed)
    FSEC_NONNULL(1);

/* Record a successful login in one atomic UPDATE: the previous current_*
 * become last_* (or the new values, on a first login, as Flask-Security
 * does), current_* = (now, ip), login_count + 1. ip may be NULL. */
FSEC_API FSEC_NODISCARD int fsec_store_user_track_login(fsec_store *s,
                                                        int64_t id,
                                                        const char *ip,
                                                        size_t iplen,
                                                        int64_t now)
    FSEC_NONNULL(1);

/* Count a failed login, atomically (one UPDATE ... RETURNING, so parallel
 * failures all count): a window older than `window` seconds starts anew
 * at 1. *count gets the failures in the current window.
 * FSEC_ENOTFOUND for an unknown user. */
FSEC_API FSEC_NODISCARD int fsec_store_user_failed_login(fsec_store *s,
                                                         int64_t id,
                                                         int64_t now,
                                                         int64_t window,
                                                         int64_t *count)
    FSEC_NONNULL(1, 5);

/* Reserve one password check for a user before its hash runs: counted as
 * a failure at once (given back by a reset on success), unless `threshold`
 * failures stand within `window` seconds. One statement: however many
 * checks race, on however many connections, at most `threshold` are
 * granted per window. *count: the failures now counted, or 0 when refused
 * (locked, or no such user). */
FSEC_API FSEC_NODISCARD int fsec_store_user_reserve_login(fsec_store *s,
                                                          int64_t id,
                                                          int64_t now,
                                                          int64_t window,
                                                          int64_t threshold,
                                                          int64_t *count)
    FSEC_NONNULL(1, 6);

/* Give back one reservation whose check never ran (the hashing failed):
 * one failure fewer, never below 0. */
FSEC_API FSEC_NODISCARD int fsec_store_user_release_login(fsec_store *s,
                                                          int64_t id)
    FSEC_NONNULL(1);

/* The same for an identity that names no account, by key (a keyed hash
 * of the identity, at most FSEC_ATTEMPT_KEY_MAX bytes); a few rows whose
 * window has passed are deleted in the same write. */
#define FSEC_ATTEMPT_KEY_MAX 128
FSEC_API FSEC_NODISCARD int fsec_store_attempt_reserve(fsec_store *s,
                                                       const char *key,
                                                       size_t keylen,
                                                       int64_t now,
                                                       int64_t window,
                                                       int64_t threshold,
                                                       int64_t *count)
    FSEC_NONNULL(1, 2, 7);

/* Forget a user's failed logins (after a success). */
FSEC_API FSEC_NODISCARD int fsec_store_user_reset_failed_logins(fsec_store *s,
                                                                int64_t id)
    FSEC_NONNULL(1);

/* Delete a user (its role links go with it). *deleted: 1 or 0. */
FSEC_API FSEC_NODISCARD int fsec_store_user_delete(fsec_store *s, int64_t id,
                                                   int *deleted)
    FSEC_NONNULL(1);

/* Link or unlink a role by name. *changed: 1 when added/removed, 0 when it
 * was already so. FSEC_ENOTFOUND for an unknown role. */
FSEC_API FSEC_NODISCARD int fsec_store_user_add_role(fsec_store *s, int64_t id,
                                                     const char *role,
                                                     size_t len, int *changed)
    FSEC_NONNULL(1, 3);
FSEC_API FSEC_NODISCARD int fsec_store_user_remove_role(fsec_store *s,
                                                        int64_t id,
                                                        const char *role,
                                                        size_t len,
                                                        int *changed)
    FSEC_NONNULL(1, 3);

/* ---- sessions ---------------------------------------------------------- */

/* Record a session (sid: 1..64 bytes, random) of a user until expires_at.
 * The user's expired sessions are removed in the same transaction.
 * FSEC_EEXIST when the sid is taken; FSEC_ENOTFOUND for an unknown user. */
FSEC_API FSEC_NODISCARD int fsec_store_session_create(fsec_store *s,
                                                      const char *sid,
                                                      size_t len,
                                                      int64_t user_id,
                                                      int64_t now,
                                                      int64_t expires_at)
    FSEC_NONNULL(1, 2);

/* Remove one session. *deleted (may be NULL): 1 or 0. */
FSEC_API FSEC_NODISCARD int fsec_store_session_delete(fsec_store *s,
                                                      const char *sid,
                                                      size_t len, int *deleted)
    FSEC_NONNULL(1, 2);

/* Remove every session of a user but `keep` (NULL: all). *count gets the
 * number removed. */
FSEC_API FSEC_NODISCARD int fsec_store_session_delete_user(
    fsec_store *s, int64_t user_id, const char *keep, size_t keeplen,
    int64_t *count) FSEC_NONNULL(1);

/* The user of a live session, in one statement: the session exists, has
 * not expired at now, and belongs to the user whose fs_uniquifier is uq
 * (so rotating the uniquifier ends every session). FSEC_ENOTFOUND
 * otherwise. */
FSEC_API FSEC_NODISCARD int fsec_store_user_find_session(
    fsec_store *s, const char *sid, size_t sidlen, const char *uq,
    size_t uqlen, int64_t now, fsec_user *out) FSEC_NONNULL(1, 2, 4, 7);

/* The most bytes of data one session may hold (the Lua layer's
 * session_data_max_bytes is at most this). */
#define FSEC_SESSION_DATA_MAX 1048576 /* 1 MiB */

/* The data of a live session (unexpired at now): *data is the text (NULL:
 * none written yet), *datalen its length, *version the count of writes so
 * far (for fsec_store_session_data_set). *data points into the store's row
 * buffer, valid until the next call on s. FSEC_ENOTFOUND when there is no
 * such live session. */
FSEC_API FSEC_NODISCARD int fsec_store_session_data_get(
    fsec_store *s, const char *sid, size_t sidlen, int64_t now,
    const char **data, size_t *datalen, int64_t *version)
    FSEC_NONNULL(1, 2, 5, 6, 7);

/* Compare-and-set of a live session's data: data (NULL: none; text of at
 * most FSEC_SESSION_DATA_MAX bytes, valid UTF-8, no NUL) is written only
 * while the session's version is still `version`, which then moves by
 * one. *changed: 1 when written, 0 when another write came first or the
 * session is gone or expired (read again and retry). */
FSEC_API FSEC_NODISCARD int fsec_store_session_data_set(
    fsec_store *s, const char *sid, size_t sidlen, const char *data,
    size_t datalen, int64_t version, int64_t now, int *changed)
    FSEC_NONNULL(1, 2, 8);

/* ---- roles ------------------------------------------------------------- */

typedef struct fsec_role {
  int64_t id;
  const char *name;
  const char *description; /* may be NULL */
  const char *permissions; /* comma-separated, "" when none */
  int64_t update_datetime;
} fsec_role;

/* Create a role. permissions is a comma-separated list (may be NULL).
 * Names: 1..80 bytes of UTF-8 without control characters or commas.
 * FSEC_EEXIST when the name is taken. */
FSEC_API FSEC_NODISCARD int fsec_store_role_create(
    fsec_store *s, const char *name, size_t namelen, const char *description,
    size_t desclen, const char *permissions, size_t permlen, int64_t now,
    int64_t *id) FSEC_NONNULL(1, 2);

FSEC_API FSEC_NODISCARD int fsec_store_role_find(fsec_store *s,
                                                 const char *name, size_t len,
                                                 fsec_role *out)
    FSEC_NONNULL(1, 2, 4);

/* The next role with an id above after_id (0: the first), in id order.
 * FSEC_ENOTFOUND after the last. For listing, as fsec_store_user_next. */
FSEC_API FSEC_NODISCARD int fsec_store_role_next(fsec_store *s,
                                                 int64_t after_id,
                                                 fsec_role *out)
    FSEC_NONNULL(1, 3);

/* Replace a role's permissions (comma-separated, NULL for none).
 * *changed: 1 or 0; FSEC_ENOTFOUND for an unknown role. */
FSEC_API FSEC_NODISCARD int fsec_store_role_set_permissions(
    fsec_store *s, const char *name, size_t len, const char *permissions,
    size_t permlen, int64_t now, int *changed) FSEC_NONNULL(1, 2);

/* Delete a role (links go with it). *deleted: 1 or 0. */
FSEC_API FSEC_NODISCARD int fsec_store_role_delete(fsec_store *s,
                                                   const char *name,
                                                   size_t len, int *deleted)
    FSEC_NONNULL(1, 2);

/* ---- facts about the database (the meta table) ------------------------- */

/* Longest one-time code method name (fsec_store_otp_advance). */
#define FSEC_OTP_METHOD_MAX 32

/* The replay guard of one-time codes (RFC 6238 section 5.2: an accepted
 * code is never accepted again): store counter (a TOTP time step) as the
 * last accepted for (user_id, method), when none is stored yet or it is
 * greater than the one stored. One upsert: of racers with the same
 * counter, on any connections or nodes, exactly one gets 1. method is
 * 1..FSEC_OTP_METHOD_MAX bytes of [A-Za-z0-9_.:-]; counter >= 0. The
 * rows go with their user; the revocation epoch does not move.
 * Returns 1 when stored, 0 when counter <= the stored one (a replay, or
 * an older code), FSEC_ENOTFOUND when the user does not exist, or another
 * negative fsec error. */
FSEC_API FSEC_NODISCARD int fsec_store_otp_advance(fsec_store *s,
                                                   int64_t user_id,
                                                   const char *method,
                                                   int64_t counter)
    FSEC_NONNULL(1, 3);

/* The value recorded under key (keys and values: 1..FSEC_META_MAX bytes of
 * text). *value points into the store's row buffer, valid until the next
 * call on s. FSEC_ENOTFOUND when nothing is recorded. */
#define FSEC_META_MAX 1024
FSEC_API FSEC_NODISCARD int fsec_store_meta_get(fsec_store *s, const char *key,
                                                size_t keylen,
                                                const char **value)
    FSEC_NONNULL(1, 2, 4);

/* Record value under key unless a value is there already (the first
 * writer wins: two processes opening a new file agree on one value).
 * *added: 1 when this call recorded it, 0 when one was there. */
FSEC_API FSEC_NODISCARD int fsec_store_meta_add(fsec_store *s, const char *key,
                                                size_t keylen,
                                                const char *value,
                                                size_t valuelen, int *added)
    FSEC_NONNULL(1, 2, 4);

/* Row counts, for checks and the command line. */
FSEC_API FSEC_NODISCARD int fsec_store_counts(fsec_store *s, int64_t *users,
                                              int64_t *roles)
    FSEC_NONNULL(1, 2, 3);

/* PRAGMA integrity_check: *ok = 1 when SQLite says "ok". */
FSEC_API FSEC_NODISCARD int fsec_store_integrity_check(fsec_store *s, int *ok)
    FSEC_NONNULL(1, 2);

/* Memory SQLite holds: this store's page cache and prepared statements,
 * and SQLite's whole heap in this process (all connections), in bytes.
 * For memory accounting (bench/nginx.sh); never fails on an open store. */
typedef struct fsec_store_memory_info {
  int64_t cache_bytes;
  int64_t statement_bytes;
  int64_t sqlite_heap_bytes;
} fsec_store_memory_info;

FSEC_API FSEC_NODISCARD int fsec_store_memory(fsec_store *s,
                                              fsec_store_memory_info *out)
    FSEC_NONNULL(1, 2);

/* ---- the mail outbox ----------------------------------------------------- */

/* Limits of an outbox row: the whole message (headers and body, as sent
 * in DATA), an envelope address, a kind, a lease owner, the last error. */
#define FSEC_OUTBOX_MESSAGE_MAX 1048576 /* 1 MiB */
#define FSEC_OUTBOX_ADDRESS_MAX 512
#define FSEC_OUTBOX_KIND_MAX 64
#define FSEC_OUTBOX_OWNER_MAX 64
#define FSEC_OUTBOX_MESSAGE_ID_MAX 255

/* A queued message; the text fields point into the store's row buffer,
 * valid until the next call on s. */
typedef struct fsec_outbox_row {
  int64_t id;
  const char *message_id, *sender, *recipient, *kind, *message;
  int64_t attempts; /* claims so far, this one included */
  int64_t created_at;
} fsec_outbox_row;

/* Queue a message: due at once (next_at = now). Inside the caller's
 * transaction it is queued with the change that caused it, or not at all.
 * message_id is unique: FSEC_EEXIST for one queued already. *id: its row. */
FSEC_API FSEC_NODISCARD int fsec_store_outbox_add(
    fsec_store *s, const char *message_id, const char *sender,
    const char *recipient, const char *kind, const char *message,
    size_t messagelen, int64_t now, int64_t *id) FSEC_NONNULL(1, 2, 3, 4, 5, 6);

/* Claim the oldest due message (next_at <= now, not given up, no lease
 * running at now) for owner until now + lease seconds, counting an
 * attempt: one UPDATE, so two claimers (connections, nodes) never hold
 * the same row at once. FSEC_ENOTFOUND when none is due. */
FSEC_API FSEC_NODISCARD int fsec_store_outbox_claim(fsec_store *s,
                                                    const char *owner,
                                                    int64_t now, int64_t lease,
                                                    fsec_outbox_row *out)
    FSEC_NONNULL(1, 2, 5);

/* A claimed message was accepted by the server: the row is deleted.
 * *changed: 0 when it was gone already. */
FSEC_API FSEC_NODISCARD int fsec_store_outbox_sent(fsec_store *s, int64_t id,
                                                   int *changed)
    FSEC_NONNULL(1);

/* A claim that failed: the lease ends, the next attempt is at next_at (< 0:
 * never, the row is kept as given up), error (may be NULL) is kept. Only
 * while owner still holds the lease: *changed 0 otherwise. */
FSEC_API FSEC_NODISCARD int fsec_store_outbox_retry(
    fsec_store *s, int64_t id, const char *owner, int64_t next_at,
    const char *error, int *changed) FSEC_NONNULL(1, 3);

/* Rows queued (given up ones included) and given up. */
FSEC_API FSEC_NODISCARD int fsec_store_outbox_counts(fsec_store *s,
                                                     int64_t *queued,
                                                     int64_t *given_up)
    FSEC_NONNULL(1, 2, 3);

/* ---- WebAuthn credentials (passkeys) --------------------------------------- */

/* Limits of a credential row (bytes). A credential id is at most 1023
 * bytes (WebAuthn Level 3, 6.1); a COSE public key of RSA-4096 is about
 * 550 bytes. */
#define FSEC_WEBAUTHN_ID_MAX 1023
#define FSEC_WEBAUTHN_KEY_MAX 2048
#define FSEC_WEBAUTHN_NAME_MAX 64
#define FSEC_WEBAUTHN_HANDLE_MAX 64
/* transports (a comma list) and device_type */
#define FSEC_WEBAUTHN_TEXT_MAX 255
/* the sign count: 32 bits, unsigned */
#define FSEC_WEBAUTHN_SIGN_COUNT_MAX 4294967295LL

/* A credential. credential_id and public_key are bytes (any value, with
 * their lengths); the text fields are UTF-8, NULL when the column is.
 * In a row returned by the store every pointer points into the store's
 * row buffer, valid until the next call on s. */
typedef struct fsec_webauthn {
  int64_t id, user_id;
  const char *credential_id;
  size_t credential_id_len;
  const char *public_key; /* the COSE_Key, as the authenticator gave it */
  size_t public_key_len;
  int64_t sign_count;     /* 0 .. FSEC_WEBAUTHN_SIGN_COUNT_MAX */
  const char *transports; /* "usb,nfc", "" or NULL: none */
  const char *name;       /* 1..64 bytes, unique per user */
  const char *usage;      /* "first" or "secondary" */
  int backup_state;       /* 0 or 1 */
  const char *device_type, *user_handle;
  int64_t create_datetime, lastuse_datetime;
} fsec_webauthn;

/* Add a credential for in->user_id (id is ignored). Returns FSEC_OK and
 * *id, or FSEC_EEXIST (the credential id is stored already, for any user,
 * or the user has a credential of that name), FSEC_ENOTFOUND (no such
 * user), FSEC_EINVAL / FSEC_ETOOLONG / FSEC_EUTF8 / FSEC_ENUL (a field
 * out of its limits), FSEC_EDB. On error nothing is written. */
FSEC_API FSEC_NODISCARD int fsec_store_webauthn_create(fsec_store *s,
                                                       const fsec_webauthn *in,
                                                       int64_t *id)
    FSEC_NONNULL(1, 2);

/* The credential of this credential id (bytes). FSEC_ENOTFOUND if none. */
FSEC_API FSEC_NODISCARD int fsec_store_webauthn_find(fsec_store *s,
                                                     const char *credential_id,
                                                     size_t len,
                                                     fsec_webauthn *out)
    FSEC_NONNULL(1, 2, 4);

/* The user's next credential with an id above after_id (0: the first), in
 * id (creation) order. FSEC_ENOTFOUND after the last. */
FSEC_API FSEC_NODISCARD int fsec_store_webauthn_next(fsec_store *s,
                                                     int64_t user_id,
                                                     int64_t after_id,
                                                     fsec_webauthn *out)
    FSEC_NONNULL(1, 4);

/* A verified assertion: compare-and-set of the sign count. new_count and
 * lastuse are stored only while the row still holds old_count (the count
 * the caller read and checked the assertion against), in one UPDATE: of
 * racers that read the same count, on any connections or nodes, exactly
 * one gets *changed = 1; the others 0 (re-read, apply the clone rule). */
FSEC_API FSEC_NODISCARD int fsec_store_webauthn_used(fsec_store *s, int64_t id,
                                                     int64_t old_count,
                                                     int64_t new_count,
                                                     int64_t lastuse,
                                                     int *changed)
    FSEC_NONNULL(1, 6);

/* Delete one credential; *changed 0 when it was gone already. */
FSEC_API FSEC_NODISCARD int fsec_store_webauthn_delete(fsec_store *s, int64_t id,
                                                       int *changed)
    FSEC_NONNULL(1);

/* Delete every credential of the user and clear the user's WebAuthn user
 * handle, in one transaction (Flask-Security-Too's webauthn_reset). */
FSEC_API FSEC_NODISCARD int fsec_store_webauthn_reset(fsec_store *s,
                                                      int64_t user_id,
                                                      int64_t now)
    FSEC_NONNULL(1);

#endif /* FSEC_STORE_H */
