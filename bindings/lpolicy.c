/*
 * lpolicy.c: core.password_strength (zxcvbn, fsec/strength.h) and the
 * breached-password list (fsec/breached.h): core.breached_open(path) is a
 * userdata over the mapping, closed by its __gc or :close().
 */
#include <string.h>

#include "lhelp.h"
#include "lpolicy.h"

#define LFSEC_BREACHED_MT "fsec.BreachedList"

/* core.password_strength(password[, inputs]) -> score, warning|nil, bits
 * inputs: a list of the user's own strings (email, username), at most
 * FSEC_STRENGTH_INPUTS_MAX; non-string entries are skipped. Errors
 * (a NUL byte, an input too long) return nil, "ENAME: msg", "ENAME". */
int lfsec_password_strength(lua_State *L) {
  size_t len, n = 0;
  const char *pw = lfsec_checkstring(L, 1, &len);
  const char *inputs[FSEC_STRENGTH_INPUTS_MAX];
  size_t lens[FSEC_STRENGTH_INPUTS_MAX];
  fsec_strength s;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    luaL_checkstack(L, FSEC_STRENGTH_INPUTS_MAX + 2, "password_strength");
    for (int i = 1;; i++) {
      lua_rawgeti(L, 2, i); /* stays on the stack: keeps the string alive */
      if (lua_isnil(L, -1)) break;
      if (lua_type(L, -1) != LUA_TSTRING) {
        lua_pop(L, 1);
        continue;
      }
      if (n == FSEC_STRENGTH_INPUTS_MAX) return luaL_argerror(L, 2, "too many inputs");
      inputs[n] = lua_tolstring(L, -1, &lens[n]);
      n++;
    }
  }
  int rc = fsec_password_strength(pw, len, inputs, lens, n, &s);
  if (rc != FSEC_OK) return lfsec_pushfail(L, rc, NULL);
  lua_pushinteger(L, s.score);
  if (s.warning)
    lua_pushstring(L, s.warning);
  else
    lua_pushnil(L);
  lua_pushnumber(L, s.bits);
  return 3;
}

static fsec_breached **check_list(lua_State *L) {
  fsec_breached **u = luaL_checkudata(L, 1, LFSEC_BREACHED_MT);
  if (!*u) luaL_error(L, "breached list is closed");
  return u;
}

/* core.breached_open(path) -> list | nil, "ENAME: why", "ENAME" */
int lfsec_breached_open(lua_State *L) {
  const char *path = lfsec_checkstring(L, 1, NULL);
  char why[512];
  fsec_breached **u = lua_newuserdata(L, sizeof *u);
  *u = NULL;
  luaL_getmetatable(L, LFSEC_BREACHED_MT);
  lua_setmetatable(L, -2);
  int rc = fsec_breached_open(path, u, why, sizeof why);
  if (rc != FSEC_OK) return lfsec_pushfail(L, rc, why);
  return 1;
}

/* list:password(pw) -> count (0: not listed) | nil, "EINVAL: ...", "EINVAL"
 * (a malformed text line on the way: the caller refuses) */
static int list_password(lua_State *L) {
  fsec_breached **u = check_list(L);
  size_t len;
  const char *pw = lfsec_checkstring(L, 2, &len);
  uint64_t count;
  int rc = fsec_breached_password(*u, pw, len, &count);
  if (rc != FSEC_OK) return lfsec_pushfail(L, rc, "malformed line in the breached list");
  lua_pushinteger(L, (lua_Integer)count);
  return 1;
}

/* list:size() -> entries (binary) or bytes (text), "binary" | "text" */
static int list_size(lua_State *L) {
  fsec_breached **u = check_list(L);
  lua_pushinteger(L, (lua_Integer)fsec_breached_size(*u));
  lua_pushstring(L, fsec_breached_is_binary(*u) ? "binary" : "text");
  return 2;
}

static int list_close(lua_State *L) {
  fsec_breached **u = luaL_checkudata(L, 1, LFSEC_BREACHED_MT);
  fsec_breached_close(*u);
  *u = NULL;
  return 0;
}

/* core.breached_build(in, out) -> entries | nil, "ENAME: why", "ENAME" */
int lfsec_breached_build(lua_State *L) {
  const char *in = lfsec_checkstring(L, 1, NULL), *out = lfsec_checkstring(L, 2, NULL);
  char why[512] = "";
  uint64_t n;
  int rc = fsec_breached_build(in, out, &n, why, sizeof why);
  if (rc != FSEC_OK) return lfsec_pushfail(L, rc, why[0] ? why : NULL);
  lua_pushinteger(L, (lua_Integer)n);
  return 1;
}

void lfsec_policy_register(lua_State *L) {
  static const luaL_Reg methods[] = {
      {"password", list_password}, {"size", list_size}, {"close", list_close}, {NULL, NULL}};
  luaL_newmetatable(L, LFSEC_BREACHED_MT);
  lua_pushcfunction(L, list_close);
  lua_setfield(L, -2, "__gc");
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}
