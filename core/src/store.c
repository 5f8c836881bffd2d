/*
 * store.c: the store's backend-neutral half. Every public fsec_store_*
 * call checks its arguments here, before any statement (so both backends
 * refuse bad input with the same code and message and write nothing),
 * then runs statements by id through the backend (store_impl.h):
 * store_sqlite.c, or store_pg.c for a "postgresql://" URI.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_impl.h"

/* Byte limits of the settable text columns. */
static const size_t TEXT_MAX[FSEC_COL_ACTIVE] = {
    FSEC_EMAIL_MAX, FSEC_USERNAME_MAX, FSEC_HASH_MAX, FSEC_UNIQUIFIER_MAX,
    FSEC_UNIQUIFIER_MAX, FSEC_TEXT_MAX, FSEC_TEXT_MAX, FSEC_TEXT_MAX,
    FSEC_TEXT_MAX, FSEC_TEXT_MAX, FSEC_TEXT_MAX, FSEC_IP_MAX, FSEC_IP_MAX,
    FSEC_FIELDS_MAX, FSEC_WEBAUTHN_HANDLE_MAX};

#define serr fsec__serr
#define guard fsec__store_guard

/* ------------------------------------------------------------------ */
/* Statements through the backend                                      */
/* ------------------------------------------------------------------ */

static int start(fsec_store *s, int id) { return s->be->start(s, id); }
static void finish(fsec_store *s) { s->be->finish(s); }
static int step(fsec_store *s, const char *what) { return s->be->step(s, what); }
static int64_t col_int(fsec_store *s, int i) { return s->be->col_int(s, i); }
static void bind_int(fsec_store *s, int i, int64_t v) { s->be->bind_int(s, i, v); }

static void bind_text(fsec_store *s, int i, const char *v, size_t len) {
  if (v)
    s->be->bind_text(s, i, v, len);
  else
    s->be->bind_null(s, i);
}

static void bind_time(fsec_store *s, int i, int64_t t) {
  if (t < 0)
    s->be->bind_null(s, i);
  else
    s->be->bind_int(s, i, t);
}

/* Step a started statement that returns no rows, and finish it. */
static int run(fsec_store *s, const char *what) {
  int r = step(s, what);
  finish(s);
  if (r == FSEC__DONE || r == FSEC__ROW) return FSEC_OK;
  return r;
}

static int exec_st(fsec_store *s, int id, const char *what) {
  int rc = start(s, id);
  return rc == FSEC_OK ? run(s, what) : rc;
}

/* Start a write: a transaction of its own or, inside the caller's
 * transaction, a savepoint when the call writes more than one statement
 * (one statement is atomic by itself; on PostgreSQL always, see
 * savepoint_always), so a failed call never leaves half its writes. */
static int wbegin_n(fsec_store *s, int multi) {
  int rc = guard(s);
  if (rc != FSEC_OK) return rc;
  if (s->in_txn && !s->be->txn_open(s))
    /* the backend rolled the transaction back itself (SQLite after
     * SQLITE_FULL, PostgreSQL after a lost connection): writing on would
     * autocommit outside the caller's transaction */
    return serr(s, FSEC_EDB, "the transaction was rolled back after an "
                             "error; roll back and start again");
  multi = multi || s->be->savepoint_always;
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
    } else if (s->be->txn_open(s)) {
      (void)exec_st(s, ST_ROLLBACK, "rollback");
    }
    memcpy(s->errmsg, keep, sizeof keep);
  }
  return rc;
}

/* ------------------------------------------------------------------ */
/* Open, close                                                         */
/* ------------------------------------------------------------------ */

void fsec_store_config_init(fsec_store_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->busy_timeout_ms = 5000;
  cfg->synchronous = FSEC_SYNC_FULL;
  cfg->cache_kib = 8192;
  cfg->connect_timeout_ms = 5000;
  cfg->statement_timeout_ms = 5000;
}

/* A libpq connection URI (libpq's own two prefixes). */
int fsec_store_is_uri(const char *path) {
  return path && (strncmp(path, "postgresql://", 13) == 0 ||
                  strncmp(path, "postgres://", 11) == 0);
}

int fsec_store_open(fsec_store **out, const fsec_store_config *cfg,
                    char *errbuf, size_t errlen) {
  fsec_store *s;
  int rc;

  *out = NULL;
  if (!cfg->path || !*cfg->path || cfg->busy_timeout_ms < 0 ||
      cfg->cache_kib < 0 || cfg->mmap_bytes < 0 || cfg->max_pages < 0 ||
      cfg->connect_timeout_ms < 0 || cfg->statement_timeout_ms < 0) {
    if (errbuf && errlen) snprintf(errbuf, errlen, "invalid store configuration");
    return FSEC_EINVAL;
  }
  s = calloc(1, sizeof *s);
  if (!s) return FSEC_ENOMEM;
  s->fork_gen = fsec__store_fork_gen();
  s->be = fsec_store_is_uri(cfg->path) ? &fsec__pg_backend : &fsec__sqlite_backend;
  rc = s->be->open(s, cfg);
  if (rc != FSEC_OK) {
    if (errbuf && errlen) snprintf(errbuf, errlen, "%s", s->errmsg);
    fsec_store_close(s);
    return rc;
  }
  *out = s;
  return FSEC_OK;
}

void fsec_store_close(fsec_store *s) {
  if (!s) return;
  /* never close a parent's connection in a child */
  s->be->close(s, s->fork_gen != fsec__store_fork_gen());
  free(s->row);
  free(s);
}

const char *fsec_store_errmsg(const fsec_store *s) { return s->errmsg; }

const char *fsec_store_backend(const fsec_store *s) { return s->be->name; }

int fsec_store_schema_version(fsec_store *s) {
  int v = -1;
  if (guard(s) != FSEC_OK || s->be->schema_version(s, &v) != FSEC_OK) return -1;
  return v;
}

/* ------------------------------------------------------------------ */
/* Transactions                                                        */
/* ------------------------------------------------------------------ */

static int begin(fsec_store *s, int defer, int *deferred) {
  int rc = guard(s);
  *deferred = 0;
  if (rc != FSEC_OK) return rc;
  if (s->in_txn) return serr(s, FSEC_EMISUSE, "transaction already open");
  rc = s->be->begin(s, defer, deferred);
  if (rc == FSEC_OK) s->in_txn = 1;
  return rc;
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
  if (rc != FSEC_OK && s->be->txn_open(s)) {
    char keep[sizeof s->errmsg];
    memcpy(keep, s->errmsg, sizeof keep);
    (void)exec_st(s, ST_ROLLBACK, "rollback");
    memcpy(s->errmsg, keep, sizeof keep);
  }
  s->in_txn = 0;
  s->be->end_txn(s);
  return rc;
}

int fsec_store_rollback(fsec_store *s) {
  int rc = guard(s);
  if (rc != FSEC_OK) return rc;
  if (!s->in_txn) return FSEC_OK;
  s->in_txn = 0;
  if (s->be->txn_open(s)) rc = exec_st(s, ST_ROLLBACK, "rollback");
  /* else the backend rolled back already */
  s->be->end_txn(s);
  return rc;
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

/* An email checked and folded into norm (FSEC__NORM_MAX bytes); the error
 * message says why when the domain is the reason (libidn2's text). */
static int check_email(fsec_store *s, const char *v, size_t len, char *norm) {
  const char *why = NULL;
  int rc = fsec_identity_email_why(v, len, norm, FSEC__NORM_MAX, &why);
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

static int check_meter(fsec_store *s, int64_t window, int64_t threshold) {
  if (window < 1) return serr(s, FSEC_EINVAL, "window must be >= 1");
  if (threshold < 1) return serr(s, FSEC_EINVAL, "threshold must be >= 1");
  return FSEC_OK;
}

/* ------------------------------------------------------------------ */
/* Rows                                                                */
/* ------------------------------------------------------------------ */

/* Row text is copied into the store's buffer so the statement can be
 * finished at once (an unreset SQLite SELECT would hold a read
 * transaction open, pinning the WAL; a PGresult is freed). The buffer
 * grows to the largest row seen. */
static int reserve_row(fsec_store *s, int ncols) {
  size_t need = 0, len;
  int i;
  for (i = 0; i < ncols; i++) {
    (void)s->be->col_text(s, i, &len);
    need += len + 1;
  }
  if (need > s->rowcap) {
    char *p = realloc(s->row, need);
    if (!p) return serr(s, FSEC_ENOMEM, "out of memory");
    s->row = p;
    s->rowcap = need;
  }
  s->rowused = 0;
  return FSEC_OK;
}

static const char *col_text(fsec_store *s, int i) {
  size_t n;
  const char *t = s->be->col_text(s, i, &n);
  char *dst;
  if (!t) return NULL;
  dst = s->row + s->rowused;
  memcpy(dst, t, n);
  dst[n] = '\0';
  s->rowused += n + 1;
  return dst;
}

static int64_t col_time(fsec_store *s, int i) {
  return s->be->col_null(s, i) ? -1 : col_int(s, i);
}

static int fill_user(fsec_store *s, fsec_user *u) {
  int rc = reserve_row(s, 26);
  if (rc != FSEC_OK) return rc;
  u->id = col_int(s, 0);
  u->email = col_text(s, 1);
  u->username = col_text(s, 2);
  u->password = col_text(s, 3);
  u->active = (int)col_int(s, 4);
  u->confirmed_at = col_time(s, 5);
  u->fs_uniquifier = col_text(s, 6);
  u->fs_token_uniquifier = col_text(s, 7);
  u->last_login_at = col_time(s, 8);
  u->current_login_at = col_time(s, 9);
  u->last_login_ip = col_text(s, 10);
  u->current_login_ip = col_text(s, 11);
  u->login_count = col_int(s, 12);
  u->create_datetime = col_int(s, 13);
  u->update_datetime = col_int(s, 14);
  u->failed_login_count = col_int(s, 15);
  u->failed_login_window = col_time(s, 16);
  u->roles = col_text(s, 17);
  u->tf_primary_method = col_text(s, 18);
  u->tf_totp_secret = col_text(s, 19);
  u->tf_phone_number = col_text(s, 20);
  u->us_totp_secrets = col_text(s, 21);
  u->us_phone_number = col_text(s, 22);
  u->mf_recovery_codes = col_text(s, 23);
  u->fields = col_text(s, 24);
  u->fs_webauthn_user_handle = col_text(s, 25);
  return FSEC_OK;
}

static int fill_role(fsec_store *s, fsec_role *out) {
  int rc = reserve_row(s, 5);
  if (rc != FSEC_OK) return rc;
  out->id = col_int(s, 0);
  out->name = col_text(s, 1);
  out->description = col_text(s, 2);
  out->permissions = col_text(s, 3);
  out->update_datetime = col_int(s, 4);
  return FSEC_OK;
}

/* Step a started SELECT of one user or role: fill it, or notfound's
 * message when there is no row. */
static int one_row(fsec_store *s, int (*fill)(fsec_store *, void *), void *out,
                   const char *notfound, const char *what) {
  int r = step(s, what), rc;
  if (r == FSEC__ROW)
    rc = fill(s, out);
  else if (r == FSEC__DONE)
    rc = serr(s, FSEC_ENOTFOUND, "%s", notfound);
  else
    rc = r;
  finish(s);
  return rc;
}

static int fill_user_v(fsec_store *s, void *u) { return fill_user(s, u); }
static int fill_role_v(fsec_store *s, void *r) { return fill_role(s, r); }

/* Step a started statement that RETURNs one count (no row: 0). */
static int step_count(fsec_store *s, const char *what, int64_t *count) {
  int r = step(s, what);
  if (r == FSEC__ROW) {
    *count = col_int(s, 0);
    r = step(s, what);
  }
  finish(s);
  return r == FSEC__DONE || r == FSEC__ROW ? FSEC_OK : r;
}

/* Open a write (wbegin) and start statement id in it: the write's BEGIN
 * is a statement too, so it comes first. */
static int wstart(fsec_store *s, int id) {
  int rc = wbegin(s);
  if (rc != FSEC_OK) return rc;
  rc = start(s, id);
  return rc == FSEC_OK ? FSEC_OK : wend(s, rc);
}

/* Run the UPDATE/DELETE that wstart started (bound) and end the write. */
static int write_one(fsec_store *s, const char *what, int *changed) {
  int rc = step(s, what);
  if (rc >= 0) {
    if (changed) *changed = s->be->changes(s) > 0;
    rc = FSEC_OK;
  }
  finish(s);
  return wend(s, rc);
}

/* ------------------------------------------------------------------ */
/* Users                                                               */
/* ------------------------------------------------------------------ */

static int role_id(fsec_store *s, const char *name, size_t len, int64_t *id) {
  int rc = start(s, ST_ROLE_ID), r;
  if (rc != FSEC_OK) return rc;
  bind_text(s, 1, name, len);
  r = step(s, "find role");
  if (r == FSEC__ROW) *id = col_int(s, 0);
  finish(s);
  if (r == FSEC__ROW) return FSEC_OK;
  if (r == FSEC__DONE)
    return serr(s, FSEC_ENOTFOUND, "role '%.*s' does not exist",
                (int)(len > 80 ? 80 : len), name);
  return r;
}

static int link_role(fsec_store *s, int op, int64_t user, const char *name,
                     size_t len, int *changed) {
  int64_t rid = 0;
  int rc = role_id(s, name, len, &rid), r;
  if (rc == FSEC_OK) rc = start(s, op);
  if (rc != FSEC_OK) return rc;
  bind_int(s, 1, user);
  bind_int(s, 2, rid);
  r = step(s, "link role");
  if (r >= 0 && changed) *changed = s->be->changes(s) > 0;
  finish(s);
  if (r == FSEC_ENOTFOUND)
    return serr(s, FSEC_ENOTFOUND, "user %lld does not exist", (long long)user);
  return r >= 0 ? FSEC_OK : r;
}

/* Check everything create needs before any write. */
static int check_new_user(fsec_store *s, const fsec_user_new *in, char *enorm,
                          char *unorm) {
  int rc = in->email ? check_email(s, in->email, strlen(in->email), enorm)
                     : check_identity(s, FSEC_EIDENTITY, "email");
  if (rc == FSEC_OK && in->username)
    rc = check_identity(s, fsec_identity_username(in->username, strlen(in->username), unorm, FSEC__NORM_MAX),
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
  if (rc == FSEC_OK && in->fields)
    rc = check_value(s, in->fields, strlen(in->fields), FSEC_FIELDS_MAX, "fields");
  if (rc == FSEC_OK && (in->active != 0 && in->active != 1))
    rc = serr(s, FSEC_EINVAL, "active must be 0 or 1");
  if (rc == FSEC_OK && in->n_roles > FSEC_ROLES_PER_USER_MAX)
    rc = serr(s, FSEC_EINVAL, "too many roles");
  if (rc == FSEC_OK && in->n_roles && !in->roles)
    rc = serr(s, FSEC_EINVAL, "roles is NULL");
  return rc;
}

/* The INSERT of a checked new user; *id its row id. */
static int insert_user(fsec_store *s, const fsec_user_new *in, const char *enorm,
                       const char *unorm, const char *u1, const char *u2, int64_t *id) {
  int rc = start(s, ST_USER_INSERT);
  if (rc != FSEC_OK) return rc;
  bind_text(s, 1, in->email, strlen(in->email));
  bind_text(s, 2, enorm, strlen(enorm));
  bind_text(s, 3, in->username, in->username ? strlen(in->username) : 0);
  bind_text(s, 4, in->username ? unorm : NULL, in->username ? strlen(unorm) : 0);
  bind_text(s, 5, in->password, in->password ? strlen(in->password) : 0);
  bind_int(s, 6, in->active);
  bind_time(s, 7, in->confirmed_at);
  bind_text(s, 8, u1, strlen(u1));
  bind_text(s, 9, u2, strlen(u2));
  bind_int(s, 10, in->now);
  bind_text(s, 11, in->fields, in->fields ? strlen(in->fields) : 0);
  return step_count(s, "create user", id);
}

int fsec_store_user_create(fsec_store *s, const fsec_user_new *in,
                           int64_t *id) {
  char enorm[FSEC__NORM_MAX] = "", unorm[FSEC__NORM_MAX] = "", uq[32], tuq[32];
  const char *u1 = in->fs_uniquifier, *u2 = in->fs_token_uniquifier;
  int64_t uid = 0;
  size_t i;
  int rc = guard(s);

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
  rc = insert_user(s, in, enorm, unorm, u1, u2, &uid);
  if (rc == FSEC_OK && id) *id = uid;
  for (i = 0; rc == FSEC_OK && i < in->n_roles; i++) {
    if (!in->roles[i]) {
      rc = serr(s, FSEC_EINVAL, "role name is NULL");
      break;
    }
    rc = link_role(s, ST_LINK_ADD, uid, in->roles[i], strlen(in->roles[i]), NULL);
  }
  return wend(s, rc);
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
                              ST_FIND_UQ, ST_FIND_TUQ, ST_FIND_PHONE,
                              ST_FIND_HANDLE};
  char norm[FSEC__NORM_MAX];
  int64_t id = 0;
  int rc = guard(s);

  if (rc != FSEC_OK) return rc;
  if ((int)key < 0 || key > FSEC_USER_BY_WEBAUTHN_HANDLE)
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
  if (rc == FSEC_OK) rc = start(s, which[key]);
  if (rc != FSEC_OK) return rc;
  if (key == FSEC_USER_BY_ID)
    bind_int(s, 1, id);
  else if (key == FSEC_USER_BY_EMAIL || key == FSEC_USER_BY_USERNAME)
    bind_text(s, 1, norm, strlen(norm));
  else
    bind_text(s, 1, value, len);
  return one_row(s, fill_user_v, out, "no such user", "find user");
}

int fsec_store_user_next(fsec_store *s, int64_t after_id, const char *role,
                         size_t rolelen, fsec_user *out) {
  int rc = guard(s);
  if (rc == FSEC_OK && role) rc = check_value(s, role, rolelen, FSEC_ROLE_NAME_MAX, "role");
  if (rc == FSEC_OK) rc = start(s, role ? ST_USER_NEXT_ROLE : ST_USER_NEXT);
  if (rc != FSEC_OK) return rc;
  bind_int(s, 1, after_id);
  if (role) bind_text(s, 2, role, rolelen);
  return one_row(s, fill_user_v, out, "no more users", "list users");
}

int fsec_store_user_set_text(fsec_store *s, int64_t id, fsec_user_col col,
                             const char *value, size_t len, int64_t now,
                             int *changed) {
  char norm[FSEC__NORM_MAX];
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
  if (rc == FSEC_OK && !value && col == FSEC_COL_FS_UNIQUIFIER)
    rc = serr(s, FSEC_EINVAL, "fs_uniquifier cannot be removed");
  if (rc == FSEC_OK) rc = wstart(s, ST_SET_FIRST + col);
  if (rc != FSEC_OK) return rc;
  bind_int(s, 1, id);
  bind_text(s, 2, value, len);
  bind_int(s, 3, now);
  if (col == FSEC_COL_EMAIL || col == FSEC_COL_USERNAME)
    bind_text(s, 4, value ? norm : NULL, value ? strlen(norm) : 0);
  return write_one(s, "update user", changed);
}

int fsec_store_user_set_int(fsec_store *s, int64_t id, fsec_user_col col,
                            int64_t value, int is_null, int64_t now,
                            int *changed) {
  int rc = guard(s);
  if (changed) *changed = 0;
  if (rc != FSEC_OK) return rc;
  if (col < FSEC_COL_ACTIVE || col >= FSEC_COL__COUNT)
    return serr(s, FSEC_EINVAL, "not an integer column");
  if (col == FSEC_COL_ACTIVE && (is_null || (value != 0 && value != 1)))
    return serr(s, FSEC_EINVAL, "active must be 0 or 1");
  if (col == FSEC_COL_LOGIN_COUNT && (is_null || value < 0))
    return serr(s, FSEC_EINVAL, "login_count must be >= 0");
  rc = wstart(s, ST_SET_FIRST + col);
  if (rc != FSEC_OK) return rc;
  bind_int(s, 1, id);
  if (is_null)
    s->be->bind_null(s, 2);
  else
    bind_int(s, 2, value);
  bind_int(s, 3, now);
  return write_one(s, "update user", changed);
}

/* Compare-and-set of one text column: one UPDATE ... WHERE id AND col IS
 * expected, so of two requests swapping the same value at once (a
 * single-use recovery code), on any connections, exactly one wins. The
 * email compares folded (email_norm), so that of two mailed links that
 * would move one account from its address, on any nodes, one does
 * (lua/fsec/changeemail.lua). Usernames are not swappable: nothing needs
 * it. */
static int swap_email(fsec_store *s, int64_t id, const char *expected,
                      size_t explen, const char *value, size_t len, int64_t now) {
  char old_norm[FSEC__NORM_MAX], norm[FSEC__NORM_MAX];
  int changed = 0, rc;
  const char *why = NULL;
  int folds;
  if (!value || !expected) return serr(s, FSEC_EINVAL, "email cannot be removed");
  rc = check_value(s, expected, explen, TEXT_MAX[FSEC_COL_EMAIL], "expected value");
  if (rc != FSEC_OK) return rc;
  /* an address stored before today's rules (an invisible character, say)
   * folds no more: compared as stored, so its owner can still move away */
  folds = fsec_identity_email_why(expected, explen, old_norm, sizeof old_norm, &why) == FSEC_OK;
  rc = check_email(s, value, len, norm);
  if (rc == FSEC_OK) rc = wstart(s, ST_SWAP_FIRST + FSEC_COL_EMAIL);
  if (rc != FSEC_OK) return rc;
  bind_int(s, 1, id);
  bind_text(s, 2, value, len);
  bind_int(s, 3, now);
  if (folds)
    bind_text(s, 4, old_norm, strlen(old_norm));
  else
    s->be->bind_null(s, 4);
  bind_text(s, 5, norm, strlen(norm));
  bind_text(s, 6, expected, explen);
  rc = write_one(s, "swap user email", &changed);
  return rc == FSEC_OK ? changed : rc;
}

int fsec_store_user_swap_text(fsec_store *s, int64_t id, fsec_user_col col,
                              const char *expected, size_t explen,
                              const char *value, size_t len, int64_t now) {
  int changed = 0, rc = guard(s);
  if (rc != FSEC_OK) return rc;
  if (col == FSEC_COL_EMAIL) return swap_email(s, id, expected, explen, value, len, now);
  if ((int)col <= FSEC_COL_USERNAME || col >= FSEC_COL_ACTIVE)
    return serr(s, FSEC_EINVAL, "not a swappable text column");
  if (!value && col == FSEC_COL_FS_UNIQUIFIER)
    return serr(s, FSEC_EINVAL, "fs_uniquifier cannot be removed");
  rc = check_value(s, expected, explen, TEXT_MAX[col], "expected value");
  if (rc == FSEC_OK) rc = check_value(s, value, len, TEXT_MAX[col], "value");
  if (rc == FSEC_OK) rc = wstart(s, ST_SWAP_FIRST + col);
  if (rc != FSEC_OK) return rc;
  bind_int(s, 1, id);
  bind_text(s, 2, value, len);
  bind_int(s, 3, now);
  bind_text(s, 4, expected, explen);
  rc = write_one(s, "swap user value", &changed);
  return rc == FSEC_OK ? changed : rc;
}

int fsec_store_user_track_login(fsec_store *s, int64_t id, const char *ip,
                                size_t iplen, int64_t now) {
  int changed = 0, rc = guard(s);
  if (rc == FSEC_OK) rc = check_value(s, ip, iplen, FSEC_IP_MAX, "ip");
  if (rc == FSEC_OK) rc = wstart(s, ST_TRACK);
  if (rc != FSEC_OK) return rc;
  bind_int(s, 1, id);
  bind_int(s, 2, now);
  bind_text(s, 3, ip, iplen);
  rc = write_one(s, "track login", &changed);
  if (rc == FSEC_OK && !changed)
    return serr(s, FSEC_ENOTFOUND, "no such user");
  return rc;
}

/* One metered UPDATE ... RETURNING count for user id in its own write:
 * ST_FAILED_LOGIN (3 parameters) or ST_RESERVE_LOGIN (4). *rows says
 * whether a row came back. */
static int meter(fsec_store *s, int id_st, int64_t id, int64_t now, int64_t window,
                 int64_t threshold, int64_t *count, int *rows) {
  int rc = wbegin(s), r;
  *rows = 0;
  if (rc == FSEC_OK) rc = start(s, id_st);
  if (rc != FSEC_OK) return wend(s, rc);
  bind_int(s, 1, id);
  bind_int(s, 2, now);
  bind_int(s, 3, window);
  if (id_st == ST_RESERVE_LOGIN) bind_int(s, 4, threshold);
  r = step(s, id_st == ST_RESERVE_LOGIN ? "reserve login" : "count failed login");
  if (r == FSEC__ROW) {
    *count = col_int(s, 0);
    *rows = 1;
    r = step(s, "count failed login");
  }
  finish(s);
  return wend(s, r < 0 ? r : FSEC_OK);
}

int fsec_store_user_failed_login(fsec_store *s, int64_t id, int64_t now,
                                 int64_t window, int64_t *count) {
  int rows, rc = guard(s);
  *count = 0;
  if (rc == FSEC_OK && window < 1) rc = serr(s, FSEC_EINVAL, "window must be >= 1");
  if (rc == FSEC_OK) rc = meter(s, ST_FAILED_LOGIN, id, now, window, 0, count, &rows);
  if (rc == FSEC_OK && !rows) rc = serr(s, FSEC_ENOTFOUND, "no such user");
  return rc;
}

int fsec_store_user_reserve_login(fsec_store *s, int64_t id, int64_t now,
                                  int64_t window, int64_t threshold,
                                  int64_t *count) {
  int rows, rc = guard(s);
  *count = 0;
  if (rc == FSEC_OK) rc = check_meter(s, window, threshold);
  if (rc == FSEC_OK) rc = meter(s, ST_RESERVE_LOGIN, id, now, window, threshold, count, &rows);
  return rc;
}

/* One write statement whose only parameter is a user id. */
static int write_by_id(fsec_store *s, int id_st, int64_t id, const char *what,
                       int *changed) {
  int rc = guard(s);
  if (changed) *changed = 0;
  if (rc == FSEC_OK) rc = wstart(s, id_st);
  if (rc != FSEC_OK) return rc;
  bind_int(s, 1, id);
  return write_one(s, what, changed);
}

int fsec_store_user_release_login(fsec_store *s, int64_t id) {
  return write_by_id(s, ST_RELEASE_LOGIN, id, "release login", NULL);
}

int fsec_store_attempt_reserve(fsec_store *s, const char *key, size_t keylen,
                               int64_t now, int64_t window, int64_t threshold,
                               int64_t *count) {
  int rc = guard(s);
  *count = 0;
  if (rc == FSEC_OK) rc = check_meter(s, window, threshold);
  if (rc == FSEC_OK) rc = check_value(s, key, keylen, FSEC_ATTEMPT_KEY_MAX, "key");
  if (rc == FSEC_OK) rc = wbegin_n(s, 1);
  if (rc != FSEC_OK) return rc;
  /* rows past their own end only: pruning by this caller's window let a
   * short one (an unknown email's meter) delete a longer one's row (a
   * WebAuthn challenge marked used), which could then be used again */
  rc = start(s, ST_ATTEMPT_PRUNE);
  if (rc == FSEC_OK) {
    bind_int(s, 1, now);
    rc = run(s, "prune attempts");
  }
  if (rc == FSEC_OK) rc = start(s, ST_ATTEMPT_RESERVE);
  if (rc == FSEC_OK) {
    bind_text(s, 1, key, keylen);
    bind_int(s, 2, now);
    bind_int(s, 3, window);
    bind_int(s, 4, threshold);
    rc = step_count(s, "reserve attempt", count);
  }
  return wend(s, rc);
}

int fsec_store_user_reset_failed_logins(fsec_store *s, int64_t id) {
  return write_by_id(s, ST_RESET_FAILED, id, "reset failed logins", NULL);
}

int fsec_store_user_delete(fsec_store *s, int64_t id, int *deleted) {
  return write_by_id(s, ST_USER_DELETE, id, "delete user", deleted);
}

static int user_role(fsec_store *s, int op, int64_t id, const char *role,
                     size_t len, int *changed) {
  int rc = guard(s);
  if (changed) *changed = 0;
  if (rc == FSEC_OK) rc = check_value(s, role, len, FSEC_ROLE_NAME_MAX, "role");
  if (rc == FSEC_OK) rc = wbegin(s); /* one write (the role's id is a read) */
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
/* One-time code counters                                              */
/* ------------------------------------------------------------------ */

/* A method name: 1..FSEC_OTP_METHOD_MAX bytes of [A-Za-z0-9_.:-] (it
 * names a factor, "totp" or "us_totp"; never user input). */
static int check_method(fsec_store *s, const char *m) {
  size_t i, n = m ? strlen(m) : 0;
  if (n == 0 || n > FSEC_OTP_METHOD_MAX)
    return serr(s, FSEC_EINVAL, "method must be 1..%d bytes", FSEC_OTP_METHOD_MAX);
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)m[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' || c == '-'))
      return serr(s, FSEC_EINVAL, "method must be ASCII letters, digits, _ . : -");
  }
  return FSEC_OK;
}

/* One upsert that inserts the counter or moves it forward, never back:
 * the row lock (PostgreSQL) or the write lock (SQLite) orders racers, and
 * the loser's WHERE sees the winner's counter, so it changes no row. */
int fsec_store_otp_advance(fsec_store *s, int64_t user_id, const char *method,
                           int64_t counter) {
  int changed = 0, rc = guard(s);
  if (rc == FSEC_OK) rc = check_method(s, method);
  if (rc == FSEC_OK && counter < 0) rc = serr(s, FSEC_EINVAL, "counter must be >= 0");
  if (rc == FSEC_OK) rc = wstart(s, ST_OTP_ADVANCE);
  if (rc != FSEC_OK) return rc;
  bind_int(s, 1, user_id);
  bind_text(s, 2, method, strlen(method));
  bind_int(s, 3, counter);
  rc = write_one(s, "advance one-time counter", &changed);
  if (rc == FSEC_ENOTFOUND)
    return serr(s, FSEC_ENOTFOUND, "user %lld does not exist", (long long)user_id);
  return rc == FSEC_OK ? changed : rc;
}

/* ------------------------------------------------------------------ */
/* Sessions                                                            */
/* ------------------------------------------------------------------ */

static int insert_session(fsec_store *s, const char *sid, size_t len,
                          int64_t user_id, int64_t now, int64_t expires_at) {
  int rc = start(s, ST_SESSION_INSERT);
  if (rc != FSEC_OK) return rc;
  bind_text(s, 1, sid, len);
  bind_int(s, 2, user_id);
  bind_int(s, 3, now);
  bind_int(s, 4, expires_at);
  rc = run(s, "create session");
  if (rc == FSEC_ENOTFOUND)
    return serr(s, FSEC_ENOTFOUND, "user %lld does not exist", (long long)user_id);
  if (rc == FSEC_EEXIST) return serr(s, FSEC_EEXIST, "session id already exists");
  return rc;
}

int fsec_store_session_create(fsec_store *s, const char *sid, size_t len,
                              int64_t user_id, int64_t now,
                              int64_t expires_at) {
  int rc = guard(s);
  if (rc == FSEC_OK) rc = check_value(s, sid, len, FSEC_UNIQUIFIER_MAX, "session id");
  if (rc == FSEC_OK && len == 0) rc = serr(s, FSEC_EINVAL, "session id is empty");
  if (rc == FSEC_OK) rc = wbegin_n(s, 1);
  if (rc != FSEC_OK) return rc;
  rc = start(s, ST_SESSION_PURGE);
  if (rc == FSEC_OK) {
    bind_int(s, 1, user_id);
    bind_int(s, 2, now);
    rc = run(s, "purge sessions");
  }
  if (rc == FSEC_OK) rc = insert_session(s, sid, len, user_id, now, expires_at);
  return wend(s, rc);
}

int fsec_store_session_delete(fsec_store *s, const char *sid, size_t len,
                              int *deleted) {
  int rc = guard(s);
  if (deleted) *deleted = 0;
  if (rc == FSEC_OK) rc = check_value(s, sid, len, FSEC_UNIQUIFIER_MAX, "session id");
  if (rc == FSEC_OK) rc = wstart(s, ST_SESSION_DELETE);
  if (rc != FSEC_OK) return rc;
  bind_text(s, 1, sid, len);
  return write_one(s, "delete session", deleted);
}

int fsec_store_session_delete_user(fsec_store *s, int64_t user_id,
                                   const char *keep, size_t keeplen,
                                   int64_t *count) {
  int64_t n = 0;
  int rc = guard(s);
  if (count) *count = 0;
  if (rc == FSEC_OK) rc = check_value(s, keep, keeplen, FSEC_UNIQUIFIER_MAX, "session id");
  if (rc == FSEC_OK) rc = wbegin(s);
  if (rc != FSEC_OK) return rc;
  rc = start(s, ST_SESSION_DELETE_USER);
  if (rc == FSEC_OK) {
    bind_int(s, 1, user_id);
    bind_text(s, 2, keep, keeplen);
    rc = step(s, "delete sessions");
    if (rc >= 0) {
      n = s->be->changes(s);
      rc = FSEC_OK;
    }
    finish(s);
  }
  rc = wend(s, rc);
  if (rc == FSEC_OK && count) *count = n;
  return rc;
}

int fsec_store_user_find_session(fsec_store *s, const char *sid, size_t sidlen,
                                 const char *uq, size_t uqlen, int64_t now,
                                 fsec_user *out) {
  int rc = guard(s);
  if (rc == FSEC_OK) rc = check_value(s, sid, sidlen, FSEC_UNIQUIFIER_MAX, "session id");
  if (rc == FSEC_OK) rc = check_value(s, uq, uqlen, FSEC_UNIQUIFIER_MAX, "uniquifier");
  if (rc == FSEC_OK) rc = start(s, ST_FIND_SESSION);
  if (rc != FSEC_OK) return rc;
  bind_text(s, 1, sid, sidlen);
  bind_text(s, 2, uq, uqlen);
  bind_int(s, 3, now);
  return one_row(s, fill_user_v, out, "no such session", "find session");
}

/* The data column and its version, copied into the row buffer. */
typedef struct {
  const char *data;
  size_t len;
  int64_t version;
} session_data;

static int fill_session_data(fsec_store *s, void *out) {
  session_data *d = out;
  int rc = reserve_row(s, 1);
  if (rc != FSEC_OK) return rc;
  if (!s->be->col_null(s, 0)) {
    (void)s->be->col_text(s, 0, &d->len);
    d->data = col_text(s, 0);
  }
  d->version = col_int(s, 1);
  return FSEC_OK;
}

int fsec_store_session_data_get(fsec_store *s, const char *sid, size_t sidlen,
                                int64_t now, const char **data,
                                size_t *datalen, int64_t *version) {
  session_data d = {NULL, 0, 0};
  int rc = guard(s);
  *data = NULL;
  *datalen = 0;
  *version = 0;
  if (rc == FSEC_OK) rc = check_value(s, sid, sidlen, FSEC_UNIQUIFIER_MAX, "session id");
  if (rc == FSEC_OK) rc = start(s, ST_SESSION_DATA_GET);
  if (rc != FSEC_OK) return rc;
  bind_text(s, 1, sid, sidlen);
  bind_int(s, 2, now);
  rc = one_row(s, fill_session_data, &d, "no such session", "read session data");
  if (rc == FSEC_OK) {
    *data = d.data;
    *datalen = d.len;
    *version = d.version;
  }
  return rc;
}

int fsec_store_session_data_set(fsec_store *s, const char *sid, size_t sidlen,
                                const char *data, size_t datalen,
                                int64_t version, int64_t now, int *changed) {
  int rc = guard(s);
  *changed = 0;
  if (rc == FSEC_OK) rc = check_value(s, sid, sidlen, FSEC_UNIQUIFIER_MAX, "session id");
  /* the bound is checked before the UTF-8 scan: a huge value costs no scan */
  if (rc == FSEC_OK) rc = check_value(s, data, datalen, FSEC_SESSION_DATA_MAX, "session data");
  if (rc == FSEC_OK) rc = wstart(s, ST_SESSION_DATA_SET);
  if (rc != FSEC_OK) return rc;
  bind_text(s, 1, sid, sidlen);
  bind_text(s, 2, data, datalen);
  bind_int(s, 3, version);
  bind_int(s, 4, now);
  return write_one(s, "write session data", changed);
}

/* ------------------------------------------------------------------ */
/* Roles                                                               */
/* ------------------------------------------------------------------ */

int fsec_store_role_create(fsec_store *s, const char *name, size_t namelen,
                           const char *description, size_t desclen,
                           const char *permissions, size_t permlen,
                           int64_t now, int64_t *id) {
  int64_t rid = 0;
  int rc = guard(s);
  if (rc == FSEC_OK) rc = check_role_name(s, name, namelen);
  if (rc == FSEC_OK)
    rc = check_value(s, description, desclen, FSEC_DESCRIPTION_MAX,
                     "description");
  if (rc == FSEC_OK) rc = check_permissions(s, permissions, permlen);
  if (rc == FSEC_OK) rc = wbegin(s);
  if (rc != FSEC_OK) return rc;
  rc = start(s, ST_ROLE_INSERT);
  if (rc == FSEC_OK) {
    bind_text(s, 1, name, namelen);
    bind_text(s, 2, description, desclen);
    bind_text(s, 3, permissions ? permissions : "", permissions ? permlen : 0);
    bind_int(s, 4, now);
    rc = step_count(s, "create role", &rid);
    if (rc == FSEC_EEXIST) rc = serr(s, FSEC_EEXIST, "role already exists");
  }
  if (rc == FSEC_OK && id) *id = rid;
  return wend(s, rc);
}

int fsec_store_role_find(fsec_store *s, const char *name, size_t len,
                         fsec_role *out) {
  int rc = guard(s);
  if (rc == FSEC_OK) rc = check_value(s, name, len, FSEC_ROLE_NAME_MAX, "role");
  if (rc == FSEC_OK) rc = start(s, ST_ROLE_FIND);
  if (rc != FSEC_OK) return rc;
  bind_text(s, 1, name, len);
  return one_row(s, fill_role_v, out, "no such role", "find role");
}

int fsec_store_role_next(fsec_store *s, int64_t after_id, fsec_role *out) {
  int rc = guard(s);
  if (rc == FSEC_OK) rc = start(s, ST_ROLE_NEXT);
  if (rc != FSEC_OK) return rc;
  bind_int(s, 1, after_id);
  return one_row(s, fill_role_v, out, "no more roles", "list roles");
}

int fsec_store_role_set_permissions(fsec_store *s, const char *name,
                                    size_t len, const char *permissions,
                                    size_t permlen, int64_t now,
                                    int *changed) {
  int64_t rid;
  int rc = guard(s);
  if (changed) *changed = 0;
  if (rc == FSEC_OK) rc = check_value(s, name, len, FSEC_ROLE_NAME_MAX, "role");
  if (rc == FSEC_OK) rc = check_permissions(s, permissions, permlen);
  if (rc == FSEC_OK) rc = role_id(s, name, len, &rid);
  if (rc == FSEC_OK) rc = wstart(s, ST_ROLE_PERMS);
  if (rc != FSEC_OK) return rc;
  bind_text(s, 1, name, len);
  bind_text(s, 2, permissions ? permissions : "", permissions ? permlen : 0);
  bind_int(s, 3, now);
  return write_one(s, "set permissions", changed);
}

int fsec_store_role_delete(fsec_store *s, const char *name, size_t len,
                           int *deleted) {
  int rc = guard(s);
  if (deleted) *deleted = 0;
  if (rc == FSEC_OK) rc = check_value(s, name, len, FSEC_ROLE_NAME_MAX, "role");
  if (rc == FSEC_OK) rc = wstart(s, ST_ROLE_DELETE);
  if (rc != FSEC_OK) return rc;
  bind_text(s, 1, name, len);
  return write_one(s, "delete role", deleted);
}

/* ------------------------------------------------------------------ */
/* Facts about the database                                            */
/* ------------------------------------------------------------------ */

static int fill_meta(fsec_store *s, void *value) {
  int rc = reserve_row(s, 1);
  if (rc == FSEC_OK) *(const char **)value = col_text(s, 0);
  return rc;
}

int fsec_store_meta_get(fsec_store *s, const char *key, size_t keylen,
                        const char **value) {
  int rc = guard(s);
  *value = NULL;
  if (rc == FSEC_OK) rc = check_value(s, key, keylen, FSEC_META_MAX, "key");
  if (rc == FSEC_OK) rc = start(s, ST_META_GET);
  if (rc != FSEC_OK) return rc;
  bind_text(s, 1, key, keylen);
  return one_row(s, fill_meta, (void *)value, "nothing recorded", "read meta");
}

int fsec_store_meta_add(fsec_store *s, const char *key, size_t keylen,
                        const char *value, size_t valuelen, int *added) {
  int rc = guard(s);
  if (added) *added = 0;
  if (rc == FSEC_OK) rc = check_value(s, key, keylen, FSEC_META_MAX, "key");
  if (rc == FSEC_OK)
    rc = check_value(s, value, valuelen, FSEC_META_MAX, "value");
  if (rc == FSEC_OK) rc = wstart(s, ST_META_ADD);
  if (rc != FSEC_OK) return rc;
  bind_text(s, 1, key, keylen);
  bind_text(s, 2, value, valuelen);
  return write_one(s, "record meta", added);
}

/* The revocation epoch: moved by the database itself (triggers) at every
 * write that can end a session or token or change what a user may do. */
int fsec_store_revocation_epoch(fsec_store *s, int64_t *epoch) {
  int rc = guard(s);
  *epoch = 0;
  if (rc == FSEC_OK) rc = start(s, ST_EPOCH);
  if (rc != FSEC_OK) return rc;
  return step_count(s, "read revocation epoch", epoch);
}

static int count(fsec_store *s, int id, int64_t *n) {
  int rc = start(s, id);
  *n = 0;
  return rc == FSEC_OK ? step_count(s, "count", n) : rc;
}

int fsec_store_counts(fsec_store *s, int64_t *users, int64_t *roles) {
  int rc = guard(s);
  if (rc == FSEC_OK) rc = count(s, ST_COUNT_USERS, users);
  if (rc == FSEC_OK) rc = count(s, ST_COUNT_ROLES, roles);
  return rc;
}

int fsec_store_integrity_check(fsec_store *s, int *ok) {
  int rc = guard(s);
  *ok = 0;
  if (rc != FSEC_OK) return rc;
  return s->be == &fsec__pg_backend ? fsec__pg_integrity_check(s, ok)
                                    : fsec__sqlite_integrity_check(s, ok);
}

/* ------------------------------------------------------------------ */
/* The mail outbox                                                     */
/* ------------------------------------------------------------------ */

static int check_required(fsec_store *s, const char *v, size_t len, size_t max,
                          const char *what) {
  if (len == 0) return serr(s, FSEC_EINVAL, "%s is empty", what);
  return check_value(s, v, len, max, what);
}

int fsec_store_outbox_add(fsec_store *s, const char *message_id,
                          const char *sender, const char *recipient,
                          const char *kind, const char *message,
                          size_t messagelen, int64_t now, int64_t *id) {
  size_t mlen = strlen(message_id), slen = strlen(sender),
         rlen = strlen(recipient), klen = strlen(kind);
  int64_t row = 0;
  int rc = guard(s);
  if (rc == FSEC_OK)
    rc = check_required(s, message_id, mlen, FSEC_OUTBOX_MESSAGE_ID_MAX, "message id");
  if (rc == FSEC_OK) rc = check_required(s, sender, slen, FSEC_OUTBOX_ADDRESS_MAX, "sender");
  if (rc == FSEC_OK)
    rc = check_required(s, recipient, rlen, FSEC_OUTBOX_ADDRESS_MAX, "recipient");
  if (rc == FSEC_OK) rc = check_required(s, kind, klen, FSEC_OUTBOX_KIND_MAX, "kind");
  if (rc == FSEC_OK)
    rc = check_required(s, message, messagelen, FSEC_OUTBOX_MESSAGE_MAX, "message");
  if (rc == FSEC_OK) rc = wstart(s, ST_OUTBOX_ADD);
  if (rc != FSEC_OK) return rc;
  bind_text(s, 1, message_id, mlen);
  bind_text(s, 2, sender, slen);
  bind_text(s, 3, recipient, rlen);
  bind_text(s, 4, kind, klen);
  bind_text(s, 5, message, messagelen);
  bind_int(s, 6, now);
  rc = step_count(s, "queue mail", &row);
  if (rc == FSEC_OK && id) *id = row;
  return wend(s, rc);
}

static int fill_outbox(fsec_store *s, void *p) {
  fsec_outbox_row *o = p;
  int rc = reserve_row(s, 5);
  if (rc != FSEC_OK) return rc;
  o->message_id = col_text(s, 0);
  o->sender = col_text(s, 1);
  o->recipient = col_text(s, 2);
  o->kind = col_text(s, 3);
  o->message = col_text(s, 4);
  o->id = col_int(s, 5);
  o->attempts = col_int(s, 6);
  o->created_at = col_int(s, 7);
  return FSEC_OK;
}

int fsec_store_outbox_claim(fsec_store *s, const char *owner, int64_t now,
                            int64_t lease, fsec_outbox_row *out) {
  size_t olen = strlen(owner);
  int rc = guard(s);
  memset(out, 0, sizeof *out);
  if (rc == FSEC_OK) rc = check_required(s, owner, olen, FSEC_OUTBOX_OWNER_MAX, "owner");
  if (rc == FSEC_OK && lease < 1) rc = serr(s, FSEC_EINVAL, "lease must be >= 1");
  if (rc == FSEC_OK) rc = wstart(s, ST_OUTBOX_CLAIM);
  if (rc != FSEC_OK) return rc;
  bind_text(s, 1, owner, olen);
  bind_int(s, 2, now);
  bind_int(s, 3, now + lease);
  rc = one_row(s, fill_outbox, out, "no mail due", "claim mail");
  /* none due is no failure of the write: commit the (empty) claim */
  if (rc == FSEC_ENOTFOUND) {
    int c = wend(s, FSEC_OK);
    return c == FSEC_OK ? FSEC_ENOTFOUND : c;
  }
  return wend(s, rc);
}

int fsec_store_outbox_sent(fsec_store *s, int64_t id, int *changed) {
  int rc = wstart(s, ST_OUTBOX_SENT);
  if (changed) *changed = 0;
  if (rc != FSEC_OK) return rc;
  bind_int(s, 1, id);
  return write_one(s, "mark mail sent", changed);
}

int fsec_store_outbox_retry(fsec_store *s, int64_t id, const char *owner,
                            int64_t next_at, const char *error, int *changed) {
  size_t olen = strlen(owner), elen = error ? strlen(error) : 0;
  int rc = guard(s);
  if (changed) *changed = 0;
  if (rc == FSEC_OK) rc = check_required(s, owner, olen, FSEC_OUTBOX_OWNER_MAX, "owner");
  /* a server's error text can be anything: cut, never refused */
  if (elen > FSEC_TEXT_MAX) elen = FSEC_TEXT_MAX;
  if (rc == FSEC_OK && error && fsec__check_utf8(error, elen) != FSEC_OK) {
    error = "(an error that is not UTF-8 text)";
    elen = strlen(error);
  }
  if (rc == FSEC_OK) rc = wstart(s, ST_OUTBOX_RETRY);
  if (rc != FSEC_OK) return rc;
  bind_int(s, 1, id);
  bind_text(s, 2, owner, olen);
  bind_time(s, 3, next_at);
  bind_text(s, 4, error, elen);
  return write_one(s, "reschedule mail", changed);
}

static int fill_counts(fsec_store *s, void *p) {
  int64_t *n = p;
  n[0] = col_int(s, 0);
  n[1] = col_int(s, 1);
  return FSEC_OK;
}

int fsec_store_outbox_counts(fsec_store *s, int64_t *queued, int64_t *given_up) {
  int64_t n[2] = {0, 0};
  int rc = guard(s);
  if (rc == FSEC_OK) rc = start(s, ST_OUTBOX_COUNTS);
  if (rc == FSEC_OK) rc = one_row(s, fill_counts, n, "no counts", "count outbox");
  *queued = n[0];
  *given_up = n[1];
  return rc;
}

/* ------------------------------------------------------------------ */
/* WebAuthn credentials                                                */
/* ------------------------------------------------------------------ */

static void bind_blob(fsec_store *s, int i, const char *v, size_t len) {
  s->be->bind_blob(s, i, v, len);
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* A bytes column, SELECTed as hex (hex() on SQLite, encode(, 'hex') on
 * PostgreSQL: both backends hand back text), decoded into the row buffer
 * (reserve_row counted the hex, twice the bytes). */
static const char *col_bytes(fsec_store *s, int i, size_t *len) {
  size_t n, k;
  const char *t = s->be->col_text(s, i, &n);
  char *dst;
  *len = 0;
  if (!t) return NULL;
  dst = s->row + s->rowused;
  for (k = 0; k + 1 < n; k += 2) {
    int hi = hexval(t[k]), lo = hexval(t[k + 1]);
    if (hi < 0 || lo < 0) break; /* the database's own hex: cannot happen */
    dst[k / 2] = (char)(hi << 4 | lo);
  }
  *len = k / 2;
  dst[*len] = '\0';
  s->rowused += *len + 1;
  return dst;
}

static int fill_webauthn(fsec_store *s, void *p) {
  fsec_webauthn *w = p;
  int rc = reserve_row(s, 13);
  if (rc != FSEC_OK) return rc;
  w->id = col_int(s, 0);
  w->user_id = col_int(s, 1);
  w->credential_id = col_bytes(s, 2, &w->credential_id_len);
  w->public_key = col_bytes(s, 3, &w->public_key_len);
  w->sign_count = col_int(s, 4);
  w->transports = col_text(s, 5);
  w->name = col_text(s, 6);
  w->usage = col_text(s, 7);
  w->backup_state = col_int(s, 8) != 0;
  w->device_type = col_text(s, 9);
  w->user_handle = col_text(s, 10);
  w->create_datetime = col_int(s, 11);
  w->lastuse_datetime = col_int(s, 12);
  return FSEC_OK;
}

static int check_bytes(fsec_store *s, const char *v, size_t len, size_t max,
                       const char *what) {
  if (!v || len == 0) return serr(s, FSEC_EINVAL, "%s is empty", what);
  if (len > max) return serr(s, FSEC_ETOOLONG, "%s is longer than %zu bytes", what, max);
  return FSEC_OK;
}

static size_t opt_len(const char *v) { return v ? strlen(v) : 0; }

/* A credential's name: 1..64 bytes of text without control characters
 * (the command line prints it). */
static int check_wan_name(fsec_store *s, const char *n) {
  size_t i, len = opt_len(n);
  int rc = check_value(s, n, len, FSEC_WEBAUTHN_NAME_MAX, "credential name");
  if (rc != FSEC_OK) return rc;
  if (len == 0) return serr(s, FSEC_EINVAL, "credential name is empty");
  for (i = 0; i < len; i++)
    if ((unsigned char)n[i] < 0x20 || n[i] == 0x7f)
      return serr(s, FSEC_EINVAL, "credential name has a control character");
  return FSEC_OK;
}

/* Every field of a new credential within its limits, before any write. */
static int check_new_webauthn(fsec_store *s, const fsec_webauthn *in) {
  int rc = check_bytes(s, in->credential_id, in->credential_id_len,
                       FSEC_WEBAUTHN_ID_MAX, "credential id");
  if (rc == FSEC_OK)
    rc = check_bytes(s, in->public_key, in->public_key_len, FSEC_WEBAUTHN_KEY_MAX,
                     "public key");
  if (rc == FSEC_OK && (in->sign_count < 0 || in->sign_count > FSEC_WEBAUTHN_SIGN_COUNT_MAX))
    rc = serr(s, FSEC_EINVAL, "sign count must be 0..4294967295");
  if (rc == FSEC_OK) rc = check_wan_name(s, in->name);
  if (rc == FSEC_OK &&
      (!in->usage || (strcmp(in->usage, "first") != 0 && strcmp(in->usage, "secondary") != 0)))
    rc = serr(s, FSEC_EINVAL, "usage must be 'first' or 'secondary'");
  if (rc == FSEC_OK)
    rc = check_value(s, in->transports, opt_len(in->transports), FSEC_WEBAUTHN_TEXT_MAX,
                     "transports");
  if (rc == FSEC_OK)
    rc = check_value(s, in->device_type, opt_len(in->device_type), FSEC_WEBAUTHN_TEXT_MAX,
                     "device type");
  if (rc == FSEC_OK)
    rc = check_value(s, in->user_handle, opt_len(in->user_handle), FSEC_WEBAUTHN_HANDLE_MAX,
                     "user handle");
  if (rc == FSEC_OK && in->backup_state != 0 && in->backup_state != 1)
    rc = serr(s, FSEC_EINVAL, "backup_state must be 0 or 1");
  return rc;
}

int fsec_store_webauthn_create(fsec_store *s, const fsec_webauthn *in, int64_t *id) {
  int64_t row = 0;
  int rc = guard(s);
  if (rc == FSEC_OK) rc = check_new_webauthn(s, in);
  if (rc == FSEC_OK) rc = wstart(s, ST_WAN_INSERT);
  if (rc != FSEC_OK) return rc;
  bind_int(s, 1, in->user_id);
  bind_blob(s, 2, in->credential_id, in->credential_id_len);
  bind_blob(s, 3, in->public_key, in->public_key_len);
  bind_int(s, 4, in->sign_count);
  bind_text(s, 5, in->transports, opt_len(in->transports));
  bind_text(s, 6, in->name, strlen(in->name));
  bind_text(s, 7, in->usage, strlen(in->usage));
  bind_int(s, 8, in->backup_state);
  bind_text(s, 9, in->device_type, opt_len(in->device_type));
  bind_text(s, 10, in->user_handle, opt_len(in->user_handle));
  bind_int(s, 11, in->create_datetime);
  bind_int(s, 12, in->lastuse_datetime);
  rc = step_count(s, "add credential", &row);
  if (rc == FSEC_ENOTFOUND)
    rc = serr(s, FSEC_ENOTFOUND, "user %lld does not exist", (long long)in->user_id);
  else if (rc == FSEC_EEXIST)
    rc = serr(s, FSEC_EEXIST, "credential id or name already in use");
  if (rc == FSEC_OK && id) *id = row;
  return wend(s, rc);
}

int fsec_store_webauthn_find(fsec_store *s, const char *credential_id, size_t len,
                             fsec_webauthn *out) {
  int rc = guard(s);
  memset(out, 0, sizeof *out);
  if (rc == FSEC_OK)
    rc = check_bytes(s, credential_id, len, FSEC_WEBAUTHN_ID_MAX, "credential id");
  if (rc == FSEC_OK) rc = start(s, ST_WAN_FIND);
  if (rc != FSEC_OK) return rc;
  bind_blob(s, 1, credential_id, len);
  return one_row(s, fill_webauthn, out, "no such credential", "find credential");
}

int fsec_store_webauthn_next(fsec_store *s, int64_t user_id, int64_t after_id,
                             fsec_webauthn *out) {
  int rc = guard(s);
  memset(out, 0, sizeof *out);
  if (rc == FSEC_OK) rc = start(s, ST_WAN_NEXT);
  if (rc != FSEC_OK) return rc;
  bind_int(s, 1, user_id);
  bind_int(s, 2, after_id);
  return one_row(s, fill_webauthn, out, "no more credentials", "list credentials");
}

int fsec_store_webauthn_used(fsec_store *s, int64_t id, int64_t old_count,
                             int64_t new_count, int64_t lastuse, int *changed) {
  int rc = guard(s);
  *changed = 0;
  if (rc == FSEC_OK && (new_count < 0 || new_count > FSEC_WEBAUTHN_SIGN_COUNT_MAX))
    rc = serr(s, FSEC_EINVAL, "sign count must be 0..4294967295");
  if (rc == FSEC_OK) rc = wstart(s, ST_WAN_USED);
  if (rc != FSEC_OK) return rc;
  bind_int(s, 1, id);
  bind_int(s, 2, old_count);
  bind_int(s, 3, new_count);
  bind_int(s, 4, lastuse);
  return write_one(s, "record credential use", changed);
}

int fsec_store_webauthn_delete(fsec_store *s, int64_t id, int *changed) {
  int rc = wstart(s, ST_WAN_DELETE);
  if (changed) *changed = 0;
  if (rc != FSEC_OK) return rc;
  bind_int(s, 1, id);
  return write_one(s, "delete credential", changed);
}

/* Two statements in one write (or one savepoint of the caller's). */
int fsec_store_webauthn_reset(fsec_store *s, int64_t user_id, int64_t now) {
  int rc = wbegin_n(s, 1);
  if (rc != FSEC_OK) return rc;
  rc = start(s, ST_WAN_DELETE_USER);
  if (rc == FSEC_OK) {
    bind_int(s, 1, user_id);
    rc = run(s, "delete credentials");
  }
  if (rc == FSEC_OK) rc = start(s, ST_SET_FIRST + FSEC_COL_FS_WEBAUTHN_USER_HANDLE);
  if (rc == FSEC_OK) {
    bind_int(s, 1, user_id);
    bind_text(s, 2, NULL, 0);
    bind_int(s, 3, now);
    rc = run(s, "clear user handle");
  }
  return wend(s, rc);
}
