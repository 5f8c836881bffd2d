/*
 * lengine.c: the fsec.Engine userdata: password and token methods.
 * Argument checking and rc mapping only; behaviour is documented in the
 * core headers.
 */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "lengine.h"
#include "lhelp.h"

#define LFSEC_ENGINE_MT "fsec.Engine"

typedef struct lfsec_engine {
  fsec_engine *e; /* NULL once closed */
} lfsec_engine;

static fsec_engine *check_engine(lua_State *L) {
  lfsec_engine *u = luaL_checkudata(L, 1, LFSEC_ENGINE_MT);
  if (!u->e) luaL_error(L, "attempt to use a closed fsec.Engine");
  return u->e;
}

/* ------------------------------------------------------------------ */
/* Construction: core.new(cfg)                                         */
/* ------------------------------------------------------------------ */

static int field_type(lua_State *L, int t, const char *k, int want) {
  int ty;
  lua_getfield(L, t, k);
  ty = lua_type(L, -1);
  if (ty != LUA_TNIL && ty != want)
    luaL_error(L, "bad config field '%s' (%s expected, got %s)", k,
               lua_typename(L, want), luaL_typename(L, -1));
  return ty != LUA_TNIL;
}

/* The default argon2 helper: fsec-argon2 beside this module's file, found
 * through the module's own address (the build and the install both put it
 * there). Absolute, so a later chdir does not lose it. */
static int default_helper(char *buf, size_t len) {
  Dl_info info;
  char real[PATH_MAX];
  char *slash;
  if (!dladdr((void *)lfsec_engine_new, &info) || !info.dli_fname ||
      !realpath(info.dli_fname, real))
    return 0;
  slash = strrchr(real, '/');
  if (!slash) return 0;
  *slash = '\0';
  return snprintf(buf, len, "%s/fsec-argon2", real) < (int)len;
}

/* cfg.argon2_helper: nil or false (argon2 in the calling thread), true
 * (the default helper) or a path. */
static const char *parse_helper(lua_State *L, int t, char *buf, size_t len) {
  const char *path = NULL;
  lua_getfield(L, t, "argon2_helper");
  if (lua_type(L, -1) == LUA_TSTRING) {
    size_t plen;
    path = lua_tolstring(L, -1, &plen); /* stays on the stack until core.new returns */
    if (strlen(path) != plen)
      luaL_error(L, "bad config field 'argon2_helper' (NUL byte in path)");
    return path;
  }
  if (lua_isboolean(L, -1) && lua_toboolean(L, -1)) {
    if (!default_helper(buf, len))
      luaL_error(L, "argon2_helper: cannot find fsec-argon2 beside fsec.core");
    path = buf;
  } else if (!lua_isnil(L, -1) && !lua_isboolean(L, -1)) {
    luaL_error(L, "bad config field 'argon2_helper' (path or boolean expected, got %s)",
               luaL_typename(L, -1));
  }
  lua_pop(L, 1);
  return path;
}

/* core.argon2_helper_pid() -> the calling thread's helper process id, or
 * nil when it has none. */
int lfsec_argon2_helper_pid(lua_State *L) {
  int pid = fsec_argon2_helper_pid();
  if (pid > 0) lua_pushinteger(L, pid);
  else lua_pushnil(L);
  return 1;
}

/* core.argon2_helper_path() -> the default helper's path, or nil. */
int lfsec_argon2_helper_path(lua_State *L) {
  char buf[PATH_MAX + 16];
  if (default_helper(buf, sizeof buf)) lua_pushstring(L, buf);
  else lua_pushnil(L);
  return 1;
}

/* Read an optional non-negative integer field into *out. */
static void opt_uint(lua_State *L, int t, const char *k, uint64_t max,
                     uint64_t *out) {
  if (field_type(L, t, k, LUA_TNUMBER)) {
    lua_Number n = lua_tonumber(L, -1);
    if (n < 0 || n > (lua_Number)max || n != (lua_Number)(uint64_t)n)
      luaL_error(L, "bad config field '%s' (integer 0..%f expected)", k,
                 (double)max);
    *out = (uint64_t)n;
  }
  lua_pop(L, 1);
}

#define OPT_U32(L, t, k, dst)                 \
  do {                                        \
    uint64_t v_ = (dst);                      \
    opt_uint((L), (t), (k), UINT32_MAX, &v_); \
    (dst) = (uint32_t)v_;                     \
  } while (0)

/* Index of the string on top of the stack in names; raises naming k. */
static int check_name(lua_State *L, const char *k, const char *const *names) {
  const char *v = lua_tostring(L, -1);
  int i;
  for (i = 0; names[i]; i++)
    if (strcmp(names[i], v) == 0) return i;
  return luaL_error(L, "bad config field '%s' (unknown value '%s')", k, v);
}

static fsec_norm_form parse_norm(lua_State *L, int t) {
  static const char *const names[] = {"none", "NFC", "NFD", "NFKC", "NFKD",
                                      NULL};
  fsec_norm_form f = FSEC_NORM_NFKD;
  if (field_type(L, t, "normalize", LUA_TSTRING))
    f = (fsec_norm_form)check_name(L, "normalize", names);
  lua_pop(L, 1);
  return f;
}

static unsigned parse_schemes(lua_State *L, int t) {
  static const char *const names[] = {
      "argon2", "bcrypt", "sha512_crypt", "sha256_crypt", "pbkdf2_sha512",
      "pbkdf2_sha256", "plaintext", NULL};
  unsigned mask = FSEC_SCHEMES_DEFAULT;
  size_t i, n;
  if (field_type(L, t, "schemes", LUA_TTABLE)) {
    mask = 0;
    n = lfsec_rawlen(L, -1);
    for (i = 1; i <= n; i++) {
      lua_rawgeti(L, -1, (int)i);
      if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "bad config field 'schemes' (strings expected)");
      mask |= 1u << check_name(L, "schemes", names);
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  return mask;
}

static void parse_caps(lua_State *L, int t, fsec_hash_caps *c) {
  if (field_type(L, t, "caps", LUA_TTABLE)) {
    int ct = lua_gettop(L);
    OPT_U32(L, ct, "argon2_memory_kib", c->argon2_memory_kib);
    OPT_U32(L, ct, "argon2_time", c->argon2_time);
    OPT_U32(L, ct, "argon2_lanes", c->argon2_lanes);
    OPT_U32(L, ct, "bcrypt_cost", c->bcrypt_cost);
    OPT_U32(L, ct, "crypt_rounds", c->crypt_rounds);
    OPT_U32(L, ct, "pbkdf2_rounds", c->pbkdf2_rounds);
    /* a number (fractions allowed); fsec_engine_open checks its range */
    if (field_type(L, ct, "verify_budget", LUA_TNUMBER))
      c->verify_budget = (double)lua_tonumber(L, -1);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/* Collect secret_keys into keys/lens (pointers into Lua strings that stay
 * referenced by the config table until fsec_engine_open has copied them). */
static size_t parse_keys(lua_State *L, int t, const unsigned char **keys,
                         size_t *lens) {
  size_t i, n = 0;
  if (field_type(L, t, "secret_keys", LUA_TTABLE)) {
    n = lfsec_rawlen(L, -1);
    if (n > 8) luaL_error(L, "bad config field 'secret_keys' (at most 8)");
    for (i = 0; i < n; i++) {
      lua_rawgeti(L, -1, (int)i + 1);
      if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "bad config field 'secret_keys' (strings expected)");
      keys[i] = (const unsigned char *)lua_tolstring(L, -1, &lens[i]);
      lua_pop(L, 1); /* still referenced by the table */
    }
  }
  lua_pop(L, 1);
  return n;
}

int lfsec_engine_new(lua_State *L) {
  const unsigned char *keys[8];
  char helper[PATH_MAX + 16];
  size_t lens[8], saltlen = 0;
  uint64_t v;
  fsec_config cfg;
  lfsec_engine *u;
  char err[256];
  int rc;

  luaL_checktype(L, 1, LUA_TTABLE);
  fsec_config_init(&cfg);
  cfg.n_secret_keys = parse_keys(L, 1, keys, lens);
  cfg.secret_keys = keys;
  cfg.secret_key_lens = lens;
  if (field_type(L, 1, "password_salt", LUA_TSTRING)) {
    cfg.password_salt = (const unsigned char *)lua_tolstring(L, -1, &saltlen);
    cfg.password_salt_len = saltlen;
  }
  lua_pop(L, 1);
  cfg.normalize = parse_norm(L, 1);
  v = cfg.password_max_bytes;
  opt_uint(L, 1, "password_max_bytes", 1u << 20, &v);
  cfg.password_max_bytes = (size_t)v;
  OPT_U32(L, 1, "argon2_time", cfg.argon2_time);
  OPT_U32(L, 1, "argon2_memory_kib", cfg.argon2_memory_kib);
  cfg.schemes = parse_schemes(L, 1);
  parse_caps(L, 1, &cfg.caps);
  v = (uint64_t)cfg.token_skew;
  opt_uint(L, 1, "token_skew", 1u << 30, &v);
  cfg.token_skew = (int64_t)v;
  v = cfg.token_max_length;
  opt_uint(L, 1, "token_max_length", 1u << 20, &v);
  cfg.token_max_length = (size_t)v;
  cfg.argon2_helper = parse_helper(L, 1, helper, sizeof helper);

  u = lua_newuserdata(L, sizeof *u);
  u->e = NULL;
  luaL_getmetatable(L, LFSEC_ENGINE_MT);
  lua_setmetatable(L, -2);
  rc = fsec_engine_open(&u->e, &cfg, err, sizeof err);
  if (rc != FSEC_OK) return lfsec_pushfail(L, rc, err);
  return 1;
}

/* ------------------------------------------------------------------ */
/* Methods                                                             */
/* ------------------------------------------------------------------ */

/* e:hash_password(pw) -> hash | nil, msg, code */
static int lfsec_engine_hash_password(lua_State *L) {
  fsec_engine *e = check_engine(L);
  size_t len;
  const char *pw = lfsec_checkstring(L, 2, &len);
  char out[FSEC_PASSWORD_HASH_BYTES];
  int rc = fsec_password_hash(e, pw, len, out, sizeof out);
  if (rc != FSEC_OK) return lfsec_pushfail(L, rc, fsec_errmsg(e));
  lua_pushstring(L, out);
  return 1;
}

/* e:verify_password(pw, hash) -> true | false [, msg, code] */
static int lfsec_engine_verify_password(lua_State *L) {
  fsec_engine *e = check_engine(L);
  size_t pwlen, hlen;
  const char *pw = lfsec_checkstring(L, 2, &pwlen);
  const char *h = lfsec_checkstring(L, 3, &hlen);
  int match = 0;
  int rc = fsec_password_verify(e, pw, pwlen, h, hlen, &match);
  lua_pushboolean(L, rc == FSEC_OK && match);
  if (rc == FSEC_OK) return 1;
  lua_pushfstring(L, "%s: %s", fsec_errname(rc), fsec_errmsg(e));
  lua_pushstring(L, fsec_errname(rc));
  return 3;
}

/* e:verify_data(data, hash) -> true | false [, msg, code]: Flask-Security
 * 3.0's hash_data (fsec_password_verify_data) */
static int lfsec_engine_verify_data(lua_State *L) {
  fsec_engine *e = check_engine(L);
  size_t dlen, hlen;
  const char *d = lfsec_checkstring(L, 2, &dlen);
  const char *h = lfsec_checkstring(L, 3, &hlen);
  int match = 0;
  int rc = fsec_password_verify_data(e, d, dlen, h, hlen, &match);
  lua_pushboolean(L, rc == FSEC_OK && match);
  if (rc == FSEC_OK) return 1;
  lua_pushfstring(L, "%s: %s", fsec_errname(rc), fsec_errmsg(e));
  lua_pushstring(L, fsec_errname(rc));
  return 3;
}

/* e:needs_update(hash) -> bool | nil, msg, code */
static int lfsec_engine_needs_update(lua_State *L) {
  fsec_engine *e = check_engine(L);
  size_t hlen;
  const char *h = lfsec_checkstring(L, 2, &hlen);
  int needs = 1;
  int rc = fsec_password_needs_update(e, h, hlen, &needs);
  if (rc != FSEC_OK) return lfsec_pushfail(L, rc, fsec_errmsg(e));
  lua_pushboolean(L, needs);
  return 1;
}

/* e:hash_cost(hash) -> cost | nil, msg, code (fsec_password_cost) */
static int lfsec_engine_hash_cost(lua_State *L) {
  fsec_engine *e = check_engine(L);
  size_t hlen;
  const char *h = lfsec_checkstring(L, 2, &hlen);
  double cost = 0;
  int rc = fsec_password_cost(e, h, hlen, &cost);
  if (rc != FSEC_OK) return lfsec_pushfail(L, rc, fsec_errmsg(e));
  lua_pushnumber(L, (lua_Number)cost);
  return 1;
}

/* e:check_stored_hash(hash) -> true | false, msg, code: would verify run
 * it (fsec_password_check_stored)? */
static int lfsec_engine_check_stored_hash(lua_State *L) {
  fsec_engine *e = check_engine(L);
  size_t hlen;
  const char *h = lfsec_checkstring(L, 2, &hlen);
  int rc = fsec_password_check_stored(e, h, hlen);
  lua_pushboolean(L, rc == FSEC_OK);
  if (rc == FSEC_OK) return 1;
  lua_pushfstring(L, "%s: %s", fsec_errname(rc), fsec_errmsg(e));
  lua_pushstring(L, fsec_errname(rc));
  return 3;
}

/* e:issue_token(purpose, payload [, now]) -> token | nil, msg, code */
static int lfsec_engine_issue_token(lua_State *L) {
  fsec_engine *e = check_engine(L);
  size_t plen, len, need;
  const char *purpose = lfsec_checkstring(L, 2, &plen);
  const char *payload = lfsec_checkstring(L, 3, &len);
  int64_t now = lfsec_optint(L, 4, -1);
  char stackbuf[4200], *out = stackbuf;
  int rc;
  need = fsec_token_encoded_len(len) + 1;
  if (need > sizeof stackbuf && !(out = malloc(need)))
    return luaL_error(L, "out of memory");
  rc = fsec_token_issue(e, purpose, plen, (const unsigned char *)payload, len,
                        now, out, need, &len);
  if (rc == FSEC_OK) lua_pushlstring(L, out, len);
  if (out != stackbuf) free(out);
  if (rc != FSEC_OK) return lfsec_pushfail(L, rc, fsec_errmsg(e));
  return 1;
}

/* e:verify_token(purpose, token [, max_age [, now]])
 *   -> status, payload (or the reason when invalid), issued_at */
static int lfsec_engine_verify_token(lua_State *L) {
  fsec_engine *e = check_engine(L);
  size_t plen, tlen, outlen = 0;
  const char *purpose = lfsec_checkstring(L, 2, &plen);
  const char *tok = lfsec_checkstring(L, 3, &tlen);
  int64_t max_age = lfsec_optint(L, 4, -1), now = lfsec_optint(L, 5, -1), iat;
  unsigned char stackbuf[3072], *buf = stackbuf;
  size_t cap = fsec_token_payload_max(tlen);
  int status, rc;
  if (cap > sizeof stackbuf && !(buf = malloc(cap)))
    return luaL_error(L, "out of memory");
  rc = fsec_token_verify(e, purpose, plen, tok, tlen, max_age, now, &status,
                         buf, cap, &outlen, &iat);
  if (rc != FSEC_OK) {
    if (buf != stackbuf) free(buf);
    return luaL_error(L, "%s", fsec_errmsg(e)); /* only misuse gets here */
  }
  lua_pushinteger(L, status);
  if (status == FSEC_TOKEN_INVALID) {
    lua_pushstring(L, fsec_errmsg(e));
    lua_pushnil(L);
  } else {
    lua_pushlstring(L, (const char *)buf, outlen);
    lua_pushinteger(L, (lua_Integer)iat);
  }
  if (buf != stackbuf) free(buf);
  return 3;
}

/* e:dummy_hash() -> an argon2id string at the current parameters that
 * never verifies (see fsec_password_dummy) */
static int lfsec_engine_dummy_hash(lua_State *L) {
  fsec_engine *e = check_engine(L);
  char out[FSEC_PASSWORD_HASH_BYTES];
  int rc = fsec_password_dummy(e, out, sizeof out);
  if (rc != FSEC_OK) return lfsec_pushfail(L, rc, fsec_errmsg(e));
  lua_pushstring(L, out);
  return 1;
}

/* e:normalize_password(pw) -> the normalized password | nil, msg, code
 * (what is hashed, before the pre-hash: for counting its length) */
static int lfsec_engine_normalize_password(lua_State *L) {
  fsec_engine *e = check_engine(L);
  size_t len, outlen;
  const char *pw = lfsec_checkstring(L, 2, &len);
  char *out;
  int rc = fsec_password_normalize(e, pw, len, &out, &outlen);
  if (rc != FSEC_OK) return lfsec_pushfail(L, rc, fsec_errmsg(e));
  lua_pushlstring(L, out, outlen);
  fsec_password_free(out, outlen);
  return 1;
}

/* e:hash_count() -> number of expensive hash runs so far */
static int lfsec_engine_hash_count(lua_State *L) {
  lua_pushnumber(L, (lua_Number)fsec_engine_hash_count(check_engine(L)));
  return 1;
}

/* __gc, __close and close(): wipe and free; idempotent. */
static int lfsec_engine_gc(lua_State *L) {
  lfsec_engine *u = luaL_checkudata(L, 1, LFSEC_ENGINE_MT);
  fsec_engine_close(u->e);
  u->e = NULL;
  return 0;
}

static int lfsec_engine_tostring(lua_State *L) {
  lfsec_engine *u = luaL_checkudata(L, 1, LFSEC_ENGINE_MT);
  lua_pushfstring(L, "fsec.Engine (%s)", u->e ? "open" : "closed");
  return 1;
}

static const luaL_Reg lfsec_engine_methods[] = {
    {"hash_password", lfsec_engine_hash_password},
    {"verify_password", lfsec_engine_verify_password},
    {"verify_data", lfsec_engine_verify_data},
    {"needs_update", lfsec_engine_needs_update},
    {"hash_cost", lfsec_engine_hash_cost},
    {"check_stored_hash", lfsec_engine_check_stored_hash},
    {"issue_token", lfsec_engine_issue_token},
    {"verify_token", lfsec_engine_verify_token},
    {"hash_count", lfsec_engine_hash_count},
    {"dummy_hash", lfsec_engine_dummy_hash},
    {"normalize_password", lfsec_engine_normalize_password},
    {"close", lfsec_engine_gc},
    {NULL, NULL}};

void lfsec_engine_register(lua_State *L) {
  luaL_newmetatable(L, LFSEC_ENGINE_MT);
  lua_newtable(L);
  luaL_setfuncs(L, lfsec_engine_methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, lfsec_engine_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, lfsec_engine_gc);
  lua_setfield(L, -2, "__close");
  lua_pushcfunction(L, lfsec_engine_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushliteral(L, "fsec.Engine");
  lua_setfield(L, -2, "__metatable"); /* getmetatable() can't reach methods */
  lua_pop(L, 1);
}

/* ------------------------------------------------------------------ */
/* core.CONFIG = { defaults = {...}, ranges = { name = { lo, hi } } }:
 * what fsec_config_init sets and fsec_config_check accepts, so that
 * lua/fsec/config.lua checks the same ranges (one source, engine.h). */

static void set_int(lua_State *L, const char *k, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

static void set_range(lua_State *L, const char *k, lua_Integer lo,
                      lua_Integer hi) {
  lua_createtable(L, 2, 0);
  lua_pushinteger(L, lo);
  lua_rawseti(L, -2, 1);
  lua_pushinteger(L, hi);
  lua_rawseti(L, -2, 2);
  lua_setfield(L, -2, k);
}

static void push_defaults(lua_State *L) {
  fsec_config c;
  fsec_config_init(&c);
  lua_createtable(L, 0, 8);
  set_int(L, "password_max_bytes", (lua_Integer)c.password_max_bytes);
  set_int(L, "argon2_time", c.argon2_time);
  set_int(L, "argon2_memory_kib", c.argon2_memory_kib);
  set_int(L, "token_skew", (lua_Integer)c.token_skew);
  set_int(L, "token_max_length", (lua_Integer)c.token_max_length);
  lua_createtable(L, 0, 7);
  set_int(L, "argon2_memory_kib", c.caps.argon2_memory_kib);
  set_int(L, "argon2_time", c.caps.argon2_time);
  set_int(L, "argon2_lanes", c.caps.argon2_lanes);
  set_int(L, "bcrypt_cost", c.caps.bcrypt_cost);
  set_int(L, "crypt_rounds", c.caps.crypt_rounds);
  set_int(L, "pbkdf2_rounds", c.caps.pbkdf2_rounds);
  /* a fraction is allowed; a whole number stays an integer in Lua 5.4 */
  if (c.caps.verify_budget == (double)(lua_Integer)c.caps.verify_budget)
    lua_pushinteger(L, (lua_Integer)c.caps.verify_budget);
  else
    lua_pushnumber(L, c.caps.verify_budget);
  lua_setfield(L, -2, "verify_budget");
  lua_setfield(L, -2, "caps");
  lua_setfield(L, -2, "defaults");
}

void lfsec_engine_push_config(lua_State *L) {
  lua_createtable(L, 0, 2);
  push_defaults(L);
  lua_createtable(L, 0, 6);
  set_range(L, "password_max_bytes", FSEC_PASSWORD_MAX_BYTES_MIN,
            FSEC_PASSWORD_MAX_BYTES_MAX);
  set_range(L, "argon2_time", FSEC_ARGON2_TIME_MIN, FSEC_ARGON2_TIME_MAX);
  set_range(L, "argon2_memory_kib", FSEC_ARGON2_MEMORY_KIB_MIN,
            FSEC_ARGON2_MEMORY_KIB_MAX);
  set_range(L, "token_skew", 0, FSEC_TOKEN_SKEW_MAX);
  set_range(L, "token_max_length", FSEC_TOKEN_MAX_LENGTH_MIN,
            FSEC_TOKEN_MAX_LENGTH_MAX);
  set_range(L, "verify_budget", 1, FSEC_VERIFY_BUDGET_MAX);
  lua_setfield(L, -2, "ranges");
  lua_setfield(L, -2, "CONFIG");
}
