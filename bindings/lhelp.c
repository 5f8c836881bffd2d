/*
 * lhelp.c: argument and result helpers shared by every binding file
 * (their own unit, so the type files need nothing of the module's entry
 * file, lfsec.c).
 */
#include <math.h>

#include "lhelp.h"

int lfsec_pushfail(lua_State *L, int rc, const char *msg) {
  lua_pushnil(L);
  lua_pushfstring(L, "%s: %s", fsec_errname(rc), msg ? msg : fsec_strerror(rc));
  lua_pushstring(L, fsec_errname(rc));
  return 3;
}

const char *lfsec_checkstring(lua_State *L, int i, size_t *len) {
  if (lua_type(L, i) != LUA_TSTRING) {
    const char *msg = lua_pushfstring(L, "string expected, got %s",
                                      luaL_typename(L, i));
    luaL_argerror(L, i, msg);
  }
  return lua_tolstring(L, i, len);
}

int64_t lfsec_optint(lua_State *L, int i, int64_t def) {
  lua_Number n;
  if (lua_isnoneornil(L, i)) return def;
  if (lua_type(L, i) != LUA_TNUMBER) {
    const char *msg = lua_pushfstring(L, "integer expected, got %s",
                                      luaL_typename(L, i));
    luaL_argerror(L, i, msg);
  }
  n = lua_tonumber(L, i);
  if (n != floor(n) || n < -9.2e18 || n > 9.2e18)
    luaL_argerror(L, i, "integer expected, got a fractional or huge number");
  return (int64_t)n;
}
