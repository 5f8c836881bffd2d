/*
 * lstore.c: the fsec.Store userdata: the SQLite user/role store.
 * Argument checking and rc mapping; behaviour is in fsec/store.h.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lstore.h"
#include "lhelp.h"

#define LFSEC_STORE_MT "fsec.Store"

typedef struct lfsec_store {
  fsec_store *s; /* NULL once closed */
} lfsec_store;

static fsec_store *check_store(lua_State *L) {
  lfsec_store *u = luaL_checkudata(L, 1, LFSEC_STORE_MT);
  if (!u->s) luaL_error(L, "attempt to use a closed fsec.Store");
  return u->s;
}

static int fail(lua_State *L, fsec_store *s, int rc) {
  return lfsec_pushfail(L, rc, fsec_store_errmsg(s));
}

/* Optional string argument or field on the stack top: NULL when nil. */
static const char *opt_string(lua_State *L, int i, size_t *len) {
  if (lua_isnoneornil(L, i)) {
    *len = 0;
    return NULL;
  }
  return lfsec_checkstring(L, i, len);
}

static int64_t check_id(lua_State *L, int i) {
  int64_t id = lfsec_optint(L, i, -1);
  if (id < 0) luaL_argerror(L, i, "user id expected");
  return id;
}

/* ---- core.is_database_uri(v): a PostgreSQL URI (anything else: false) -- */

int lfsec_is_database_uri(lua_State *L) {
  lua_pushboolean(L, lua_type(L, 1) == LUA_TSTRING && fsec_store_is_uri(lua_tostring(L, 1)));
  return 1;
}

/* ---- core.open_store(cfg) -------------------------------------------- */

int lfsec_store_open(lua_State *L) {
  fsec_store_config cfg;
  lfsec_store *u;
  char err[256];
  size_t len;
  int64_t timeout;
  int rc;
  luaL_checktype(L, 1, LUA_TTABLE);
  fsec_store_config_init(&cfg);
  lua_getfield(L, 1, "path");
  if (lua_type(L, -1) != LUA_TSTRING)
    return luaL_error(L, "bad store field 'path' (string expected)");
  cfg.path = lua_tolstring(L, -1, &len); /* kept alive on the stack */
  if (strlen(cfg.path) != len)           /* SQLite would open the part before it */
    return luaL_error(L, "bad store field 'path' (NUL byte)");
  lua_getfield(L, 1, "busy_timeout");
  timeout = lfsec_optint(L, -1, cfg.busy_timeout_ms);
  if (timeout < 0 || timeout > INT_MAX)
    return luaL_error(L, "bad store field 'busy_timeout' (0..%d ms expected)", INT_MAX);
  cfg.busy_timeout_ms = (int)timeout;
  lua_getfield(L, 1, "synchronous");
  if (lua_type(L, -1) == LUA_TSTRING)
    cfg.synchronous = strcmp(lua_tostring(L, -1), "NORMAL") == 0
                          ? FSEC_SYNC_NORMAL
                          : FSEC_SYNC_FULL;
  lua_getfield(L, 1, "cache_kib");
  cfg.cache_kib = lfsec_optint(L, -1, cfg.cache_kib);
  lua_getfield(L, 1, "mmap_bytes");
  cfg.mmap_bytes = lfsec_optint(L, -1, cfg.mmap_bytes);
  lua_getfield(L, 1, "max_pages");
  cfg.max_pages = lfsec_optint(L, -1, cfg.max_pages);
  lua_getfield(L, 1, "connect_timeout");
  timeout = lfsec_optint(L, -1, cfg.connect_timeout_ms);
  if (timeout < 0 || timeout > INT_MAX)
    return luaL_error(L, "bad store field 'connect_timeout' (0..%d ms expected)", INT_MAX);
  cfg.connect_timeout_ms = (int)timeout;
  lua_getfield(L, 1, "statement_timeout");
  timeout = lfsec_optint(L, -1, cfg.statement_timeout_ms);
  if (timeout < 0 || timeout > INT_MAX)
    return luaL_error(L, "bad store field 'statement_timeout' (0..%d ms expected)", INT_MAX);
  cfg.statement_timeout_ms = (int)timeout;

  u = lua_newuserdata(L, sizeof *u);
  u->s = NULL;
  luaL_getmetatable(L, LFSEC_STORE_MT);
  lua_setmetatable(L, -2);
  rc = fsec_store_open(&u->s, &cfg, err, sizeof err);
  if (rc != FSEC_OK) return lfsec_pushfail(L, rc, err);
  return 1;
}

/* ---- rows to tables --------------------------------------------------- */

static void set_str(lua_State *L, const char *k, const char *v) {
  if (!v) return;
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}

static void set_int(lua_State *L, const char *k, int64_t v) {
  if (v < 0) return; /* NULL */
  lua_pushinteger(L, (lua_Integer)v);
  lua_setfield(L, -2, k);
}

/* roles = { "admin", ... }, permissions = { ["user-read"] = true, ... }
 * from "name\x1fp1,p2\x1ename2\x1f..." */
static void push_roles(lua_State *L, const char *r) {
  int n = 0;
  lua_newtable(L); /* roles */
  lua_newtable(L); /* permissions */
  while (r && *r) {
    const char *us = strchr(r, '\x1f'), *rs = strchr(r, '\x1e');
    const char *end = rs ? rs : r + strlen(r), *p;
    if (!us || us > end) us = end;
    lua_pushlstring(L, r, (size_t)(us - r));
    lua_rawseti(L, -3, ++n);
    for (p = us < end ? us + 1 : end; p < end;) {
      const char *c = memchr(p, ',', (size_t)(end - p));
      const char *e = c ? c : end;
      if (e > p) {
        lua_pushlstring(L, p, (size_t)(e - p));
        lua_pushboolean(L, 1);
        lua_rawset(L, -3);
      }
      p = e + 1;
    }
    r = rs ? rs + 1 : end;
  }
  lua_setfield(L, -3, "permissions");
  lua_setfield(L, -2, "roles");
}

static void push_user(lua_State *L, const fsec_user *u) {
  lua_createtable(L, 0, 25);
  set_int(L, "id", u->id);
  set_str(L, "email", u->email);
  set_str(L, "username", u->username);
  set_str(L, "password", u->password);
  lua_pushboolean(L, u->active);
  lua_setfield(L, -2, "active");
  set_int(L, "confirmed_at", u->confirmed_at);
  set_str(L, "fs_uniquifier", u->fs_uniquifier);
  set_str(L, "fs_token_uniquifier", u->fs_token_uniquifier);
  set_int(L, "last_login_at", u->last_login_at);
  set_int(L, "current_login_at", u->current_login_at);
  set_str(L, "last_login_ip", u->last_login_ip);
  set_str(L, "current_login_ip", u->current_login_ip);
  set_int(L, "login_count", u->login_count);
  set_int(L, "create_datetime", u->create_datetime);
  set_int(L, "update_datetime", u->update_datetime);
  set_int(L, "failed_login_count", u->failed_login_count);
  set_int(L, "failed_login_window", u->failed_login_window);
  set_str(L, "tf_primary_method", u->tf_primary_method);
  set_str(L, "tf_totp_secret", u->tf_totp_secret);
  set_str(L, "tf_phone_number", u->tf_phone_number);
  set_str(L, "us_totp_secrets", u->us_totp_secrets);
  set_str(L, "us_phone_number", u->us_phone_number);
  set_str(L, "mf_recovery_codes", u->mf_recovery_codes);
  set_str(L, "fields", u->fields);
  set_str(L, "fs_webauthn_user_handle", u->fs_webauthn_user_handle);
  push_roles(L, u->roles);
}

/* ---- users ------------------------------------------------------------ */

static const char *const KEYS[] = {"id",
                                   "email",
                                   "username",
                                   "fs_uniquifier",
                                   "fs_token_uniquifier",
                                   "us_phone_number",
                                   "fs_webauthn_user_handle",
                                   NULL};

/* store:find_user(key, value) -> row | nil, msg, code */
static int lfsec_store_find_user(lua_State *L) {
  fsec_store *s = check_store(L);
  int key = luaL_checkoption(L, 2, NULL, KEYS);
  size_t len;
  const char *v;
  fsec_user u;
  int rc;
  if (key == FSEC_USER_BY_ID && lua_type(L, 3) == LUA_TNUMBER) {
    /* numeric ids become their decimal string: 1.0 too (Lua 5.4 would
     * write "1.0"), on both runtimes; a fraction stays and is refused */
    lua_Number n = lua_tonumber(L, 3);
    if (n == floor(n) && n > -9.2e18 && n < 9.2e18) {
      char buf[32];
      snprintf(buf, sizeof buf, "%lld", (long long)n);
      lua_pushstring(L, buf);
      lua_replace(L, 3);
    } else {
      lua_tostring(L, 3);
    }
  }
  v = lfsec_checkstring(L, 3, &len);
  rc = fsec_store_user_find(s, (fsec_user_key)key, v, len, &u);
  if (rc != FSEC_OK) return fail(L, s, rc);
  push_user(L, &u);
  return 1;
}

/* Read role names from field "roles" of table t into names (max 64). */
static size_t collect_roles(lua_State *L, int t, const char **names) {
  size_t i, n, len;
  lua_getfield(L, t, "roles");
  if (lua_isnil(L, -1)) return 0;
  luaL_argcheck(L, lua_istable(L, -1), 2, "roles must be a list of names");
  n = lfsec_rawlen(L, -1);
  luaL_argcheck(L, n <= FSEC_ROLES_PER_USER_MAX, 2, "too many roles");
  for (i = 0; i < n; i++) {
    lua_rawgeti(L, -1, (int)i + 1);
    luaL_argcheck(L, lua_type(L, -1) == LUA_TSTRING, 2, "role names must be strings");
    names[i] = lua_tolstring(L, -1, &len); /* stays referenced by the list */
    /* the store takes C strings: "admin\0x" would link role "admin" */
    luaL_argcheck(L, strlen(names[i]) == len, 2, "a role name contains a NUL byte");
    lua_pop(L, 1);
  }
  return n;
}

/* A string field that must not contain NUL (C strings from here on). */
static const char *field_cstring(lua_State *L, int t, const char *k) {
  size_t len;
  const char *v;
  lua_getfield(L, t, k);
  if (lua_isnil(L, -1)) return NULL;
  if (lua_type(L, -1) != LUA_TSTRING)
    luaL_error(L, "bad user field '%s' (string expected, got %s)", k,
               luaL_typename(L, -1));
  v = lua_tolstring(L, -1, &len);
  if (strlen(v) != len) luaL_error(L, "bad user field '%s' (NUL byte)", k);
  return v;
}

/* store:create_user{ email=, username=, password=, active=, confirmed_at=,
 *   fs_uniquifier=, fs_token_uniquifier=, roles={...}, now=,
 *   fields=<JSON text> } -> id */
static int lfsec_store_create_user(lua_State *L) {
  fsec_store *s = check_store(L);
  const char *names[FSEC_ROLES_PER_USER_MAX];
  fsec_user_new in;
  int64_t id = 0;
  int rc;
  luaL_checktype(L, 2, LUA_TTABLE);
  memset(&in, 0, sizeof in);
  in.email = field_cstring(L, 2, "email");
  in.username = field_cstring(L, 2, "username");
  in.password = field_cstring(L, 2, "password");
  in.fs_uniquifier = field_cstring(L, 2, "fs_uniquifier");
  in.fs_token_uniquifier = field_cstring(L, 2, "fs_token_uniquifier");
  in.fields = field_cstring(L, 2, "fields");
  lua_getfield(L, 2, "active");
  in.active = lua_isnil(L, -1) || lua_toboolean(L, -1);
  lua_getfield(L, 2, "confirmed_at");
  in.confirmed_at = lfsec_optint(L, -1, -1);
  lua_getfield(L, 2, "now");
  in.now = lfsec_optint(L, -1, 0);
  in.roles = names;
  in.n_roles = collect_roles(L, 2, names);
  rc = fsec_store_user_create(s, &in, &id);
  if (rc != FSEC_OK) return fail(L, s, rc);
  lua_pushinteger(L, (lua_Integer)id);
  return 1;
}

static const char *const COLS[] = {
    "email", "username", "password", "fs_uniquifier", "fs_token_uniquifier",
    "tf_primary_method", "tf_totp_secret", "tf_phone_number",
    "us_totp_secrets", "us_phone_number", "mf_recovery_codes", "last_login_ip",
    "current_login_ip", "fields", "fs_webauthn_user_handle", "active", "confirmed_at", "last_login_at",
    "current_login_at", "login_count", NULL};

/* store:set(id, column, value|nil, now) -> changed | nil, msg, code */
static int lfsec_store_set(lua_State *L) {
  fsec_store *s = check_store(L);
  int64_t id = check_id(L, 2);
  int col = luaL_checkoption(L, 3, NULL, COLS);
  int64_t now = lfsec_optint(L, 5, 0);
  int changed = 0, rc;
  if (col < FSEC_COL_ACTIVE) {
    size_t len;
    const char *v = opt_string(L, 4, &len);
    rc = fsec_store_user_set_text(s, id, (fsec_user_col)col, v, len, now,
                                  &changed);
  } else if (col == FSEC_COL_ACTIVE) {
    luaL_checktype(L, 4, LUA_TBOOLEAN);
    rc = fsec_store_user_set_int(s, id, FSEC_COL_ACTIVE, lua_toboolean(L, 4), 0,
                                 now, &changed);
  } else {
    int is_null = lua_isnoneornil(L, 4);
    rc = fsec_store_user_set_int(s, id, (fsec_user_col)col,
                                 is_null ? 0 : lfsec_optint(L, 4, 0), is_null,
                                 now, &changed);
  }
  if (rc != FSEC_OK) return fail(L, s, rc);
  lua_pushboolean(L, changed);
  return 1;
}

/* store:swap_text(id, column, expected|nil, value|nil, now)
 *   -> true (swapped) | false (not expected) | nil, msg, code */
static int lfsec_store_swap_text(lua_State *L) {
  fsec_store *s = check_store(L);
  int64_t id = check_id(L, 2);
  int col = luaL_checkoption(L, 3, NULL, COLS);
  size_t explen, len;
  const char *expected = opt_string(L, 4, &explen);
  const char *value = opt_string(L, 5, &len);
  int rc = fsec_store_user_swap_text(s, id, (fsec_user_col)col, expected, explen, value, len,
                                     lfsec_optint(L, 6, 0));
  if (rc < 0) return fail(L, s, rc);
  lua_pushboolean(L, rc);
  return 1;
}

/* store:otp_advance(id, method, counter)
 *   -> true (stored) | false (not greater: a replay) | nil, msg, code */
static int lfsec_store_otp_advance(lua_State *L) {
  fsec_store *s = check_store(L);
  int64_t id = check_id(L, 2);
  size_t len;
  const char *method = lfsec_checkstring(L, 3, &len);
  int rc;
  if (lua_isnoneornil(L, 4)) luaL_argerror(L, 4, "counter expected");
  if (strlen(method) != len) /* the C call would read "totp\0x" as "totp" */
    return lfsec_pushfail(L, FSEC_EINVAL, "method contains a NUL byte");
  rc = fsec_store_otp_advance(s, id, method, lfsec_optint(L, 4, 0));
  if (rc < 0) return fail(L, s, rc);
  lua_pushboolean(L, rc);
  return 1;
}

/* store:next_user(after_id [, role]) -> row | nil (after the last) */
static int lfsec_store_next_user(lua_State *L) {
  fsec_store *s = check_store(L);
  int64_t after = lfsec_optint(L, 2, 0);
  size_t len = 0;
  const char *role = opt_string(L, 3, &len);
  fsec_user u;
  int rc = fsec_store_user_next(s, after, role, len, &u);
  if (rc == FSEC_ENOTFOUND) {
    lua_pushnil(L);
    return 1;
  }
  if (rc != FSEC_OK) return fail(L, s, rc);
  push_user(L, &u);
  return 1;
}

/* store:track_login(id, ip|nil, now) -> true | nil, msg, code */
static int lfsec_store_track_login(lua_State *L) {
  fsec_store *s = check_store(L);
  int64_t id = check_id(L, 2);
  size_t len;
  const char *ip = opt_string(L, 3, &len);
  int rc = fsec_store_user_track_login(s, id, ip, len, lfsec_optint(L, 4, 0));
  if (rc != FSEC_OK) return fail(L, s, rc);
  lua_pushboolean(L, 1);
  return 1;
}

/* store:failed_login(id, now, window) -> count in the window */
static int lfsec_store_failed_login(lua_State *L) {
  fsec_store *s = check_store(L);
  int64_t n = 0;
  int rc = fsec_store_user_failed_login(s, check_id(L, 2), lfsec_optint(L, 3, 0),
                                        lfsec_optint(L, 4, 0), &n);
  if (rc != FSEC_OK) return fail(L, s, rc);
  lua_pushinteger(L, (lua_Integer)n);
  return 1;
}

/* Push a reservation's result: the count, or false when refused. */
static int push_reserved(lua_State *L, fsec_store *s, int rc, int64_t n) {
  if (rc != FSEC_OK) return fail(L, s, rc);
  if (n > 0) lua_pushinteger(L, (lua_Integer)n);
  else lua_pushboolean(L, 0);
  return 1;
}

/* store:reserve_login(id, now, window, threshold) -> count | false */
static int lfsec_store_reserve_login(lua_State *L) {
  fsec_store *s = check_store(L);
  int64_t n = 0;
  int rc = fsec_store_user_reserve_login(s, check_id(L, 2), lfsec_optint(L, 3, 0),
                                         lfsec_optint(L, 4, 0), lfsec_optint(L, 5, 0), &n);
  return push_reserved(L, s, rc, n);
}

/* store:release_login(id) -> true */
static int lfsec_store_release_login(lua_State *L) {
  fsec_store *s = check_store(L);
  int rc = fsec_store_user_release_login(s, check_id(L, 2));
  if (rc != FSEC_OK) return fail(L, s, rc);
  lua_pushboolean(L, 1);
  return 1;
}

/* store:reserve_attempt(key, now, window, threshold) -> count | false */
static int lfsec_store_reserve_attempt(lua_State *L) {
  fsec_store *s = check_store(L);
  size_t len;
  const char *key = lfsec_checkstring(L, 2, &len);
  int64_t n = 0;
  int rc = fsec_store_attempt_reserve(s, key, len, lfsec_optint(L, 3, 0), lfsec_optint(L, 4, 0),
                                      lfsec_optint(L, 5, 0), &n);
  return push_reserved(L, s, rc, n);
}

/* store:reset_failed_logins(id) -> true */
static int lfsec_store_reset_failed_logins(lua_State *L) {
  fsec_store *s = check_store(L);
  int rc = fsec_store_user_reset_failed_logins(s, check_id(L, 2));
  if (rc != FSEC_OK) return fail(L, s, rc);
  lua_pushboolean(L, 1);
  return 1;
}

/* store:delete_user(id) -> deleted */
static int lfsec_store_delete_user(lua_State *L) {
  fsec_store *s = check_store(L);
  int deleted = 0, rc = fsec_store_user_delete(s, check_id(L, 2), &deleted);
  if (rc != FSEC_OK) return fail(L, s, rc);
  lua_pushboolean(L, deleted);
  return 1;
}

static int user_role(lua_State *L, int add) {
  fsec_store *s = check_store(L);
  int64_t id = check_id(L, 2);
  size_t len;
  const char *role = lfsec_checkstring(L, 3, &len);
  int changed = 0;
  int rc = add ? fsec_store_user_add_role(s, id, role, len, &changed)
               : fsec_store_user_remove_role(s, id, role, len, &changed);
  if (rc != FSEC_OK) return fail(L, s, rc);
  lua_pushboolean(L, changed);
  return 1;
}

static int lfsec_store_add_role(lua_State *L) { return user_role(L, 1); }
static int lfsec_store_remove_role(lua_State *L) { return user_role(L, 0); }

/* ---- sessions --------------------------------------------------------- */

/* store:create_session(sid, user_id, now, expires_at) -> true */
static int lfsec_store_create_session(lua_State *L) {
  fsec_store *s = check_store(L);
  size_t len;
  const char *sid = lfsec_checkstring(L, 2, &len);
  int rc = fsec_store_session_create(s, sid, len, check_id(L, 3),
                                     lfsec_optint(L, 4, 0), lfsec_optint(L, 5, 0));
  if (rc != FSEC_OK) return fail(L, s, rc);
  lua_pushboolean(L, 1);
  return 1;
}

/* store:delete_session(sid) -> deleted */
static int lfsec_store_delete_session(lua_State *L) {
  fsec_store *s = check_store(L);
  size_t len;
  const char *sid = lfsec_checkstring(L, 2, &len);
  int deleted = 0, rc = fsec_store_session_delete(s, sid, len, &deleted);
  if (rc != FSEC_OK) return fail(L, s, rc);
  lua_pushboolean(L, deleted);
  return 1;
}

/* store:delete_user_sessions(user_id [, keep_sid]) -> count */
static int lfsec_store_delete_user_sessions(lua_State *L) {
  fsec_store *s = check_store(L);
  int64_t id = check_id(L, 2), n = 0;
  size_t len;
  const char *keep = opt_string(L, 3, &len);
  int rc = fsec_store_session_delete_user(s, id, keep, len, &n);
  if (rc != FSEC_OK) return fail(L, s, rc);
  lua_pushinteger(L, (lua_Integer)n);
  return 1;
}

/* store:find_user_by_session(sid, uq, now) -> row | nil, msg, code */
static int lfsec_store_find_user_by_session(lua_State *L) {
  fsec_store *s = check_store(L);
  size_t slen, ulen;
  const char *sid = lfsec_checkstring(L, 2, &slen);
  const char *uq = lfsec_checkstring(L, 3, &ulen);
  fsec_user u;
  int rc = fsec_store_user_find_session(s, sid, slen, uq, ulen,
                                        lfsec_optint(L, 4, 0), &u);
  if (rc != FSEC_OK) return fail(L, s, rc);
  push_user(L, &u);
  return 1;
}

/* store:session_data(sid, now) -> data|false, version | nil (no live
 * session) | nil, msg, code */
static int lfsec_store_session_data(lua_State *L) {
  fsec_store *s = check_store(L);
  size_t len, dlen = 0;
  const char *sid = lfsec_checkstring(L, 2, &len), *data = NULL;
  int64_t version = 0;
  int rc = fsec_store_session_data_get(s, sid, len, lfsec_optint(L, 3, 0),
                                       &data, &dlen, &version);
  if (rc == FSEC_ENOTFOUND) {
    lua_pushnil(L);
    return 1;
  }
  if (rc != FSEC_OK) return fail(L, s, rc);
  if (data)
    lua_pushlstring(L, data, dlen);
  else
    lua_pushboolean(L, 0);
  lua_pushinteger(L, (lua_Integer)version);
  return 2;
}

/* store:set_session_data(sid, data|nil, version, now) -> written */
static int lfsec_store_set_session_data(lua_State *L) {
  fsec_store *s = check_store(L);
  size_t len, dlen = 0;
  const char *sid = lfsec_checkstring(L, 2, &len);
  const char *data = opt_string(L, 3, &dlen);
  int changed = 0;
  int rc = fsec_store_session_data_set(s, sid, len, data, dlen,
                                       lfsec_optint(L, 4, 0),
                                       lfsec_optint(L, 5, 0), &changed);
  if (rc != FSEC_OK) return fail(L, s, rc);
  lua_pushboolean(L, changed);
  return 1;
}

/* ---- the mail outbox -------------------------------------------------- */

/* A string argument for a C string: a NUL byte inside is refused (it
 * would cut the value short unseen). */
static const char *outbox_string(lua_State *L, int i, int *bad) {
  size_t len;
  const char *v = lfsec_checkstring(L, i, &len);
  if (memchr(v, '\0', len)) *bad = 1;
  return v;
}

/* store:outbox_add(message_id, sender, recipient, kind, message, now) -> id */
static int lfsec_store_outbox_add(lua_State *L) {
  fsec_store *s = check_store(L);
  int bad = 0;
  size_t mlen;
  const char *mid = outbox_string(L, 2, &bad), *from = outbox_string(L, 3, &bad),
             *to = outbox_string(L, 4, &bad), *kind = outbox_string(L, 5, &bad);
  const char *msg = lfsec_checkstring(L, 6, &mlen);
  int64_t id = 0;
  int rc;
  if (bad) return lfsec_pushfail(L, FSEC_ENUL, "an outbox field contains a NUL byte");
  rc = fsec_store_outbox_add(s, mid, from, to, kind, msg, mlen, lfsec_optint(L, 7, 0), &id);
  if (rc != FSEC_OK) return fail(L, s, rc);
  lua_pushinteger(L, (lua_Integer)id);
  return 1;
}

/* store:outbox_claim(owner, now, lease) -> row table | false (none due) */
static int lfsec_store_outbox_claim(lua_State *L) {
  fsec_store *s = check_store(L);
  int bad = 0;
  const char *owner = outbox_string(L, 2, &bad);
  fsec_outbox_row r;
  int rc;
  if (bad) return lfsec_pushfail(L, FSEC_ENUL, "owner contains a NUL byte");
  rc = fsec_store_outbox_claim(s, owner, lfsec_optint(L, 3, 0), lfsec_optint(L, 4, 60), &r);
  if (rc == FSEC_ENOTFOUND) {
    lua_pushboolean(L, 0);
    return 1;
  }
  if (rc != FSEC_OK) return fail(L, s, rc);
  lua_createtable(L, 0, 8);
  lua_pushinteger(L, (lua_Integer)r.id);
  lua_setfield(L, -2, "id");
  lua_pushstring(L, r.message_id);
  lua_setfield(L, -2, "message_id");
  lua_pushstring(L, r.sender);
  lua_setfield(L, -2, "sender");
  lua_pushstring(L, r.recipient);
  lua_setfield(L, -2, "recipient");
  lua_pushstring(L, r.kind);
  lua_setfield(L, -2, "kind");
  lua_pushstring(L, r.message);
  lua_setfield(L, -2, "message");
  lua_pushinteger(L, (lua_Integer)r.attempts);
  lua_setfield(L, -2, "attempts");
  lua_pushinteger(L, (lua_Integer)r.created_at);
  lua_setfield(L, -2, "created_at");
  return 1;
}

/* store:outbox_sent(id) -> deleted */
static int lfsec_store_outbox_sent(lua_State *L) {
  fsec_store *s = check_store(L);
  int changed = 0;
  int rc = fsec_store_outbox_sent(s, lfsec_optint(L, 2, 0), &changed);
  if (rc != FSEC_OK) return fail(L, s, rc);
  lua_pushboolean(L, changed);
  return 1;
}

/* store:outbox_retry(id, owner, next_at|nil, error|nil) -> changed */
static int lfsec_store_outbox_retry(lua_State *L) {
  fsec_store *s = check_store(L);
  int bad = 0, changed = 0, rc;
  const char *owner = outbox_string(L, 3, &bad);
  size_t elen = 0;
  const char *err = opt_string(L, 5, &elen);
  if (bad) return lfsec_pushfail(L, FSEC_ENUL, "owner contains a NUL byte");
  /* a NUL in a server's error text ends it: the rest is dropped */
  rc = fsec_store_outbox_retry(s, lfsec_optint(L, 2, 0), owner, lfsec_optint(L, 4, -1), err,
                               &changed);
  if (rc != FSEC_OK) return fail(L, s, rc);
  lua_pushboolean(L, changed);
  return 1;
}

/* store:outbox_counts() -> queued, given_up */
static int lfsec_store_outbox_counts(lua_State *L) {
  fsec_store *s = check_store(L);
  int64_t q = 0, g = 0;
  int rc = fsec_store_outbox_counts(s, &q, &g);
  if (rc != FSEC_OK) return fail(L, s, rc);
  lua_pushinteger(L, (lua_Integer)q);
  lua_pushinteger(L, (lua_Integer)g);
  return 2;
}

/* ---- WebAuthn credentials ----------------------------------------------- */

static void push_webauthn(lua_State *L, const fsec_webauthn *w) {
  lua_createtable(L, 0, 13);
  set_int(L, "id", w->id);
  set_int(L, "user_id", w->user_id);
  lua_pushlstring(L, w->credential_id, w->credential_id_len); /* bytes */
  lua_setfield(L, -2, "credential_id");
  lua_pushlstring(L, w->public_key, w->public_key_len);
  lua_setfield(L, -2, "public_key");
  set_int(L, "sign_count", w->sign_count);
  set_str(L, "transports", w->transports);
  set_str(L, "name", w->name);
  set_str(L, "usage", w->usage);
  lua_pushboolean(L, w->backup_state);
  lua_setfield(L, -2, "backup_state");
  set_str(L, "device_type", w->device_type);
  set_str(L, "user_handle", w->user_handle);
  set_int(L, "create_datetime", w->create_datetime);
  set_int(L, "lastuse_datetime", w->lastuse_datetime);
}

/* A byte string field (NUL allowed: credential ids and keys are bytes). */
static const char *field_bytes(lua_State *L, int t, const char *k, size_t *len) {
  lua_getfield(L, t, k);
  *len = 0;
  if (lua_isnil(L, -1)) return NULL;
  if (lua_type(L, -1) != LUA_TSTRING)
    luaL_error(L, "bad credential field '%s' (string expected, got %s)", k,
               luaL_typename(L, -1));
  return lua_tolstring(L, -1, len);
}

static const char *wan_cstring(lua_State *L, int t, const char *k) {
  size_t len;
  const char *v = field_bytes(L, t, k, &len);
  if (v && strlen(v) != len) luaL_error(L, "bad credential field '%s' (NUL byte)", k);
  return v;
}

/* store:webauthn_create{ user_id=, credential_id=, public_key=, sign_count=,
 *   transports=<csv>, name=, usage=, backup_state=, device_type=,
 *   user_handle=, create_datetime=, lastuse_datetime= } -> id */
static int lfsec_store_webauthn_create(lua_State *L) {
  fsec_store *s = check_store(L);
  fsec_webauthn in;
  int64_t id = 0;
  int rc;
  luaL_checktype(L, 2, LUA_TTABLE);
  memset(&in, 0, sizeof in);
  lua_getfield(L, 2, "user_id");
  in.user_id = lfsec_optint(L, -1, -1);
  in.credential_id = field_bytes(L, 2, "credential_id", &in.credential_id_len);
  in.public_key = field_bytes(L, 2, "public_key", &in.public_key_len);
  lua_getfield(L, 2, "sign_count");
  in.sign_count = lfsec_optint(L, -1, 0);
  in.transports = wan_cstring(L, 2, "transports");
  in.name = wan_cstring(L, 2, "name");
  in.usage = wan_cstring(L, 2, "usage");
  lua_getfield(L, 2, "backup_state");
  in.backup_state = lua_toboolean(L, -1);
  in.device_type = wan_cstring(L, 2, "device_type");
  in.user_handle = wan_cstring(L, 2, "user_handle");
  lua_getfield(L, 2, "create_datetime");
  in.create_datetime = lfsec_optint(L, -1, 0);
  lua_getfield(L, 2, "lastuse_datetime");
  in.lastuse_datetime = lfsec_optint(L, -1, in.create_datetime);
  rc = fsec_store_webauthn_create(s, &in, &id);
  if (rc != FSEC_OK) return fail(L, s, rc);
  lua_pushinteger(L, (lua_Integer)id);
  return 1;
}

/* store:webauthn_find(credential_id) -> row | nil, msg, code */
static int lfsec_store_webauthn_find(lua_State *L) {
  fsec_store *s = check_store(L);
  size_t len;
  const char *cid = lfsec_checkstring(L, 2, &len);
  fsec_webauthn w;
  int rc = fsec_store_webauthn_find(s, cid, len, &w);
  if (rc != FSEC_OK) return fail(L, s, rc);
  push_webauthn(L, &w);
  return 1;
}

/* store:webauthn_next(user_id, after_id) -> row | nil (after the last) */
static int lfsec_store_webauthn_next(lua_State *L) {
  fsec_store *s = check_store(L);
  fsec_webauthn w;
  int rc = fsec_store_webauthn_next(s, check_id(L, 2), lfsec_optint(L, 3, 0), &w);
  if (rc == FSEC_ENOTFOUND) {
    lua_pushnil(L);
    return 1;
  }
  if (rc != FSEC_OK) return fail(L, s, rc);
  push_webauthn(L, &w);
  return 1;
}

/* store:webauthn_used(id, old_count, new_count, now) -> changed */
static int lfsec_store_webauthn_used(lua_State *L) {
  fsec_store *s = check_store(L);
  int changed = 0;
  int rc = fsec_store_webauthn_used(s, check_id(L, 2), lfsec_optint(L, 3, -1),
                                    lfsec_optint(L, 4, -1), lfsec_optint(L, 5, 0), &changed);
  if (rc != FSEC_OK) return fail(L, s, rc);
  lua_pushboolean(L, changed);
  return 1;
}

/* store:webauthn_delete(id) -> deleted */
static int lfsec_store_webauthn_delete(lua_State *L) {
  fsec_store *s = check_store(L);
  int changed = 0;
  int rc = fsec_store_webauthn_delete(s, check_id(L, 2), &changed);
  if (rc != FSEC_OK) return fail(L, s, rc);
  lua_pushboolean(L, changed);
  return 1;
}

/* store:webauthn_reset(user_id, now) -> true */
static int lfsec_store_webauthn_reset(lua_State *L) {
  fsec_store *s = check_store(L);
  int rc = fsec_store_webauthn_reset(s, check_id(L, 2), lfsec_optint(L, 3, 0));
  if (rc != FSEC_OK) return fail(L, s, rc);
  lua_pushboolean(L, 1);
  return 1;
}

/* ---- roles ------------------------------------------------------------ */

/* store:create_role(name, description|nil, permissions_csv|nil, now) -> id */
static int lfsec_store_create_role(lua_State *L) {
  fsec_store *s = check_store(L);
  size_t nlen, dlen, plen;
  const char *name = lfsec_checkstring(L, 2, &nlen);
  const char *desc = opt_string(L, 3, &dlen);
  const char *perms = opt_string(L, 4, &plen);
  int64_t id = 0;
  int rc = fsec_store_role_create(s, name, nlen, desc, dlen, perms, plen,
                                  lfsec_optint(L, 5, 0), &id);
  if (rc != FSEC_OK) return fail(L, s, rc);
  lua_pushinteger(L, (lua_Integer)id);
  return 1;
}

static void push_role(lua_State *L, const fsec_role *r) {
  const char *p, *c;
  int n = 0;
  lua_createtable(L, 0, 5);
  set_int(L, "id", r->id);
  set_str(L, "name", r->name);
  set_str(L, "description", r->description);
  set_int(L, "update_datetime", r->update_datetime);
  lua_newtable(L);
  for (p = r->permissions; p && *p; p = c ? c + 1 : p + strlen(p)) {
    c = strchr(p, ',');
    lua_pushlstring(L, p, c ? (size_t)(c - p) : strlen(p));
    lua_rawseti(L, -2, ++n);
  }
  lua_setfield(L, -2, "permissions");
}

/* store:find_role(name) -> { id, name, description, permissions = {...} } */
static int lfsec_store_find_role(lua_State *L) {
  fsec_store *s = check_store(L);
  size_t len;
  const char *name = lfsec_checkstring(L, 2, &len);
  fsec_role r;
  int rc = fsec_store_role_find(s, name, len, &r);
  if (rc != FSEC_OK) return fail(L, s, rc);
  push_role(L, &r);
  return 1;
}

/* store:next_role(after_id) -> role | nil (after the last) */
static int lfsec_store_next_role(lua_State *L) {
  fsec_store *s = check_store(L);
  fsec_role r;
  int rc = fsec_store_role_next(s, lfsec_optint(L, 2, 0), &r);
  if (rc == FSEC_ENOTFOUND) {
    lua_pushnil(L);
    return 1;
  }
  if (rc != FSEC_OK) return fail(L, s, rc);
  push_role(L, &r);
  return 1;
}

/* store:meta_get(key) -> value | nil (nothing recorded) | nil, msg, code */
static int lfsec_store_meta_get(lua_State *L) {
  fsec_store *s = check_store(L);
  size_t len;
  const char *key = lfsec_checkstring(L, 2, &len), *v = NULL;
  int rc = fsec_store_meta_get(s, key, len, &v);
  if (rc == FSEC_ENOTFOUND) {
    lua_pushnil(L);
    return 1;
  }
  if (rc != FSEC_OK) return fail(L, s, rc);
  lua_pushstring(L, v);
  return 1;
}

/* store:meta_add(key, value) -> added (false: a value was there) */
static int lfsec_store_meta_add(lua_State *L) {
  fsec_store *s = check_store(L);
  size_t klen, vlen;
  const char *key = lfsec_checkstring(L, 2, &klen);
  const char *v = lfsec_checkstring(L, 3, &vlen);
  int added = 0, rc = fsec_store_meta_add(s, key, klen, v, vlen, &added);
  if (rc != FSEC_OK) return fail(L, s, rc);
  lua_pushboolean(L, added);
  return 1;
}

/* store:set_permissions(name, csv|nil, now) -> changed */
static int lfsec_store_set_permissions(lua_State *L) {
  fsec_store *s = check_store(L);
  size_t nlen, plen;
  const char *name = lfsec_checkstring(L, 2, &nlen);
  const char *perms = opt_string(L, 3, &plen);
  int changed = 0;
  int rc = fsec_store_role_set_permissions(s, name, nlen, perms, plen,
                                           lfsec_optint(L, 4, 0), &changed);
  if (rc != FSEC_OK) return fail(L, s, rc);
  lua_pushboolean(L, changed);
  return 1;
}

/* store:delete_role(name) -> deleted */
static int lfsec_store_delete_role(lua_State *L) {
  fsec_store *s = check_store(L);
  size_t len;
  const char *name = lfsec_checkstring(L, 2, &len);
  int deleted = 0, rc = fsec_store_role_delete(s, name, len, &deleted);
  if (rc != FSEC_OK) return fail(L, s, rc);
  lua_pushboolean(L, deleted);
  return 1;
}

/* ---- transactions and checks ------------------------------------------ */

static int lfsec_store_begin(lua_State *L) {
  fsec_store *s = check_store(L);
  int rc = fsec_store_begin(s);
  if (rc != FSEC_OK) return fail(L, s, rc);
  lua_pushboolean(L, 1);
  return 1;
}

/* store:begin_deferred() -> true, deferred: a transaction whose commit
 * does not wait for the disk (see fsec_store_begin_deferred) */
static int lfsec_store_begin_deferred(lua_State *L) {
  fsec_store *s = check_store(L);
  int deferred;
  int rc = fsec_store_begin_deferred(s, &deferred);
  if (rc != FSEC_OK) return fail(L, s, rc);
  lua_pushboolean(L, 1);
  lua_pushboolean(L, deferred);
  return 2;
}

/* store:wal_path() -> path of the WAL file, or nil (no deferring) */
static int lfsec_store_wal_path(lua_State *L) {
  const char *p = fsec_store_wal_path(check_store(L));
  if (p) lua_pushstring(L, p);
  else lua_pushnil(L);
  return 1;
}

/* core.sync_wal(wal_path) -> true, size in bytes; or nil, message, code */
int lfsec_sync_wal(lua_State *L) {
  char err[512];
  int64_t size;
  size_t len;
  const char *path = lfsec_checkstring(L, 1, &len);
  int rc;
  /* a NUL would name another file; an empty path names none */
  if (len == 0 || strlen(path) != len)
    return lfsec_pushfail(L, FSEC_EINVAL, "WAL path is empty or contains a NUL byte");
  rc = fsec_store_sync_wal(path, &size, err, sizeof err);
  if (rc != FSEC_OK) return lfsec_pushfail(L, rc, err);
  lua_pushboolean(L, 1);
  lua_pushinteger(L, (lua_Integer)size);
  return 2;
}

/* store:checkpoint() -> wal_pages, copied */
static int lfsec_store_checkpoint(lua_State *L) {
  fsec_store *s = check_store(L);
  int pages, copied;
  int rc = fsec_store_checkpoint(s, &pages, &copied);
  if (rc != FSEC_OK) return fail(L, s, rc);
  lua_pushinteger(L, pages);
  lua_pushinteger(L, copied);
  return 2;
}

/* store:set_autocheckpoint(pages) -> true */
static int lfsec_store_set_autocheckpoint(lua_State *L) {
  fsec_store *s = check_store(L);
  int64_t pages = lfsec_optint(L, 2, 1000);
  int rc;
  if (pages < 0 || pages > INT32_MAX) return luaL_argerror(L, 2, "pages must be 0..2^31-1");
  rc = fsec_store_set_autocheckpoint(s, (int)pages);
  if (rc != FSEC_OK) return fail(L, s, rc);
  lua_pushboolean(L, 1);
  return 1;
}

static int lfsec_store_commit(lua_State *L) {
  fsec_store *s = check_store(L);
  int rc = fsec_store_commit(s);
  if (rc != FSEC_OK) return fail(L, s, rc);
  lua_pushboolean(L, 1);
  return 1;
}

static int lfsec_store_rollback(lua_State *L) {
  fsec_store *s = check_store(L);
  int rc = fsec_store_rollback(s);
  if (rc != FSEC_OK) return fail(L, s, rc);
  lua_pushboolean(L, 1);
  return 1;
}

/* store:counts() -> users, roles */
static int lfsec_store_counts(lua_State *L) {
  fsec_store *s = check_store(L);
  int64_t u = 0, r = 0;
  int rc = fsec_store_counts(s, &u, &r);
  if (rc != FSEC_OK) return fail(L, s, rc);
  lua_pushinteger(L, (lua_Integer)u);
  lua_pushinteger(L, (lua_Integer)r);
  return 2;
}

/* store:integrity_check() -> ok, message */
static int lfsec_store_integrity_check(lua_State *L) {
  fsec_store *s = check_store(L);
  int ok = 0, rc = fsec_store_integrity_check(s, &ok);
  if (rc != FSEC_OK) return fail(L, s, rc);
  lua_pushboolean(L, ok);
  lua_pushstring(L, ok ? "ok" : fsec_store_errmsg(s));
  return 2;
}

/* store:memory() -> { cache_bytes, statement_bytes, sqlite_heap_bytes } */
static int lfsec_store_memory(lua_State *L) {
  fsec_store *s = check_store(L);
  fsec_store_memory_info m;
  int rc = fsec_store_memory(s, &m);
  if (rc != FSEC_OK) return fail(L, s, rc);
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, (lua_Integer)m.cache_bytes);
  lua_setfield(L, -2, "cache_bytes");
  lua_pushinteger(L, (lua_Integer)m.statement_bytes);
  lua_setfield(L, -2, "statement_bytes");
  lua_pushinteger(L, (lua_Integer)m.sqlite_heap_bytes);
  lua_setfield(L, -2, "sqlite_heap_bytes");
  return 1;
}

/* store:revocation_epoch() -> integer; or nil, message, code */
static int lfsec_store_revocation_epoch(lua_State *L) {
  fsec_store *s = check_store(L);
  int64_t epoch;
  int rc = fsec_store_revocation_epoch(s, &epoch);
  if (rc != FSEC_OK) return fail(L, s, rc);
  lua_pushinteger(L, (lua_Integer)epoch);
  return 1;
}

/* store:backend() -> "sqlite" or "postgresql" */
static int lfsec_store_backend(lua_State *L) {
  lua_pushstring(L, fsec_store_backend(check_store(L)));
  return 1;
}

static int lfsec_store_schema_version(lua_State *L) {
  lua_pushinteger(L, fsec_store_schema_version(check_store(L)));
  return 1;
}

static int lfsec_store_gc(lua_State *L) {
  lfsec_store *u = luaL_checkudata(L, 1, LFSEC_STORE_MT);
  fsec_store_close(u->s);
  u->s = NULL;
  return 0;
}

static int lfsec_store_tostring(lua_State *L) {
  lfsec_store *u = luaL_checkudata(L, 1, LFSEC_STORE_MT);
  lua_pushfstring(L, "fsec.Store (%s)", u->s ? "open" : "closed");
  return 1;
}

static const luaL_Reg lfsec_store_methods[] = {
    {"find_user", lfsec_store_find_user},
    {"create_user", lfsec_store_create_user},
    {"set", lfsec_store_set},
    {"swap_text", lfsec_store_swap_text},
    {"otp_advance", lfsec_store_otp_advance},
    {"track_login", lfsec_store_track_login},
    {"next_user", lfsec_store_next_user},
    {"delete_user", lfsec_store_delete_user},
    {"failed_login", lfsec_store_failed_login},
    {"reset_failed_logins", lfsec_store_reset_failed_logins},
    {"reserve_login", lfsec_store_reserve_login},
    {"reserve_attempt", lfsec_store_reserve_attempt},
    {"release_login", lfsec_store_release_login},
    {"add_role", lfsec_store_add_role},
    {"remove_role", lfsec_store_remove_role},
    {"create_role", lfsec_store_create_role},
    {"find_role", lfsec_store_find_role},
    {"next_role", lfsec_store_next_role},
    {"meta_get", lfsec_store_meta_get},
    {"meta_add", lfsec_store_meta_add},
    {"set_permissions", lfsec_store_set_permissions},
    {"delete_role", lfsec_store_delete_role},
    {"create_session", lfsec_store_create_session},
    {"delete_session", lfsec_store_delete_session},
    {"delete_user_sessions", lfsec_store_delete_user_sessions},
    {"find_user_by_session", lfsec_store_find_user_by_session},
    {"session_data", lfsec_store_session_data},
    {"set_session_data", lfsec_store_set_session_data},
    {"outbox_add", lfsec_store_outbox_add},
    {"outbox_claim", lfsec_store_outbox_claim},
    {"outbox_sent", lfsec_store_outbox_sent},
    {"outbox_retry", lfsec_store_outbox_retry},
    {"outbox_counts", lfsec_store_outbox_counts},
    {"webauthn_create", lfsec_store_webauthn_create},
    {"webauthn_find", lfsec_store_webauthn_find},
    {"webauthn_next", lfsec_store_webauthn_next},
    {"webauthn_used", lfsec_store_webauthn_used},
    {"webauthn_delete", lfsec_store_webauthn_delete},
    {"webauthn_reset", lfsec_store_webauthn_reset},
    {"begin", lfsec_store_begin},
    {"begin_deferred", lfsec_store_begin_deferred},
    {"wal_path", lfsec_store_wal_path},
    {"checkpoint", lfsec_store_checkpoint},
    {"set_autocheckpoint", lfsec_store_set_autocheckpoint},
    {"commit", lfsec_store_commit},
    {"rollback", lfsec_store_rollback},
    {"counts", lfsec_store_counts},
    {"integrity_check", lfsec_store_integrity_check},
    {"memory", lfsec_store_memory},
    {"schema_version", lfsec_store_schema_version},
    {"revocation_epoch", lfsec_store_revocation_epoch},
    {"backend", lfsec_store_backend},
    {"close", lfsec_store_gc},
    {NULL, NULL}};

void lfsec_store_register(lua_State *L) {
  luaL_newmetatable(L, LFSEC_STORE_MT);
  lua_newtable(L);
  luaL_setfuncs(L, lfsec_store_methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, lfsec_store_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, lfsec_store_gc);
  lua_setfield(L, -2, "__close");
  lua_pushcfunction(L, lfsec_store_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushliteral(L, "fsec.Store");
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 1);
}
