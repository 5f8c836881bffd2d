/*
 * litsd.c: Flask's signed values in fsec.core (fsec/itsdangerous.h), for
 * fsec.flask. Keys come as a list of strings, newest first.
 *
 *   core.itsd_verify(keys, salt, kdf, token [, max_age [, now]])
 *     -> "valid" | "expired", json, ts, key_index  |  "invalid"
 *   core.itsd_sign(key, salt, kdf, json [, now]) -> token | nil, msg, code
 *   core.remember_verify(keys, cookie) -> payload | nil
 *   core.remember_sign(key, payload) -> cookie | nil, msg, code
 * kdf is "django-concat" (Flask-Security) or "hmac" (Flask's session).
 */
#include <string.h>

#include "lhelp.h"
#include "litsd.h"

/* The longest payload read (inflated): Flask keeps a session cookie
 * under 4 KB, which inflates to a few times that. On the stack: the
 * check runs on every request that carries a Flask credential. */
#define JSON_CAP 32768

static int check_kdf(lua_State *L, int i) {
  static const char *const names[] = {"django-concat", "hmac", NULL};
  return luaL_checkoption(L, i, NULL, names);
}

/* The list of strings at i into keys[]: how many. Raises on a bad list. */
static size_t check_keys(lua_State *L, int i, fsec_itsd_key *keys) {
  size_t n = 0;
  luaL_checktype(L, i, LUA_TTABLE);
  for (;;) {
    lua_rawgeti(L, i, (lua_Integer)n + 1);
    if (lua_isnil(L, -1)) break;
    if (n == FSEC_ITSD_KEYS_MAX || lua_type(L, -1) != LUA_TSTRING)
      luaL_argerror(L, i, "a list of at most 9 key strings expected");
    keys[n].key = lua_tolstring(L, -1, &keys[n].len);
    lua_pop(L, 1); /* still referenced by the table */
    n++;
  }
  lua_pop(L, 1);
  if (n == 0) luaL_argerror(L, i, "no key");
  return n;
}

static int litsd_verify(lua_State *L) {
  fsec_itsd_key keys[FSEC_ITSD_KEYS_MAX];
  size_t n = check_keys(L, 1, keys), slen, tlen, jlen = 0, k = 0;
  const char *salt = lfsec_checkstring(L, 2, &slen);
  int kdf = check_kdf(L, 3), status;
  const char *tok = lfsec_checkstring(L, 4, &tlen);
  int64_t max_age = lfsec_optint(L, 5, -1), now = lfsec_optint(L, 6, -1), ts;
  unsigned char json[JSON_CAP];
  if (fsec_itsd_verify(keys, n, salt, slen, (fsec_itsd_kdf)kdf, tok, tlen,
                       max_age, now, &status, json, JSON_CAP, &jlen, &ts,
                       &k) != FSEC_OK)
    return luaL_error(L, "itsd_verify: bad arguments");
  if (status == FSEC_ITSD_INVALID) {
    lua_pushliteral(L, "invalid");
    return 1;
  }
  lua_pushstring(L, status == FSEC_ITSD_VALID ? "valid" : "expired");
  lua_pushlstring(L, (const char *)json, jlen);
  lua_pushinteger(L, (lua_Integer)ts);
  lua_pushinteger(L, (lua_Integer)k + 1);
  return 4;
}

static fsec_itsd_key check_key(lua_State *L, int i) {
  fsec_itsd_key k;
  k.key = lfsec_checkstring(L, i, &k.len);
  return k;
}

static int litsd_sign(lua_State *L) {
  fsec_itsd_key key = check_key(L, 1);
  size_t slen, jlen, n = 0;
  const char *salt = lfsec_checkstring(L, 2, &slen);
  int kdf = check_kdf(L, 3), rc;
  const char *json = lfsec_checkstring(L, 4, &jlen);
  int64_t now = lfsec_optint(L, 5, -1);
  char *out = lua_newuserdata(L, FSEC_ITSD_TOKEN_MAX + 1);
  rc = fsec_itsd_sign(&key, salt, slen, (fsec_itsd_kdf)kdf,
                      (const unsigned char *)json, jlen, now, out,
                      FSEC_ITSD_TOKEN_MAX + 1, &n);
  if (rc != FSEC_OK) return lfsec_pushfail(L, rc, "cannot sign that");
  lua_pushlstring(L, out, n);
  return 1;
}

static int litsd_remember_verify(lua_State *L) {
  fsec_itsd_key keys[FSEC_ITSD_KEYS_MAX];
  size_t n = check_keys(L, 1, keys), clen, plen = 0;
  const char *cookie = lfsec_checkstring(L, 2, &clen);
  int status;
  if (fsec_itsd_remember_verify(keys, n, cookie, clen, &status, &plen) !=
      FSEC_OK)
    return luaL_error(L, "remember_verify: bad arguments");
  if (status != FSEC_ITSD_VALID) return 0;
  lua_pushlstring(L, cookie, plen);
  return 1;
}

static int litsd_remember_sign(lua_State *L) {
  fsec_itsd_key key = check_key(L, 1);
  size_t plen, n = 0;
  const char *payload = lfsec_checkstring(L, 2, &plen);
  char *out = lua_newuserdata(L, FSEC_ITSD_TOKEN_MAX + 1);
  int rc = fsec_itsd_remember_sign(&key, payload, plen, out,
                                   FSEC_ITSD_TOKEN_MAX + 1, &n);
  if (rc != FSEC_OK)
    return lfsec_pushfail(L, rc, "a key or payload Flask-Login can't use");
  lua_pushlstring(L, out, n);
  return 1;
}

static const luaL_Reg litsd_funcs[] = {
    {"itsd_verify", litsd_verify},
    {"itsd_sign", litsd_sign},
    {"remember_verify", litsd_remember_verify},
    {"remember_sign", litsd_remember_sign},
    {NULL, NULL}};

void lfsec_itsd_open(lua_State *L) { luaL_setfuncs(L, litsd_funcs, 0); }
