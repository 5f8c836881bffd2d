/* fuzz_lua.h: one embedded Lua 5.4 state for the targets that fuzz fsec's
 * Lua parsers. The modules come from the source tree (FSEC_LUA_DIR, set by
 * fuzz/CMakeLists.txt), so a target always runs the code being edited,
 * not an installed copy. */
#ifndef FSEC_FUZZ_LUA_H
#define FSEC_FUZZ_LUA_H

#include "fuzz_oracle.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#ifndef FSEC_LUA_DIR
#  error "FSEC_LUA_DIR must name the lua/ folder of the source tree"
#endif


/* The state, with require(module) stored in the global "M". Created on the
 * first call; a module that does not load aborts (nothing to fuzz). */
#if defined(__GNUC__)
__attribute__((unused))
#endif
static lua_State *
    fuzz_lua(const char *module) {
  static lua_State *L;
  if (L) return L;
  L = luaL_newstate();
  if (!L) abort();
  luaL_openlibs(L);
  /* Only the tree's lua/ folder for Lua modules; C modules (cjson) from
   * the system's default cpath. */
  if (luaL_dostring(L, "package.path = '" FSEC_LUA_DIR "/?.lua;" FSEC_LUA_DIR "/?/init.lua'") != LUA_OK) {
    fprintf(stderr, "fuzz_lua: %s\n", lua_tostring(L, -1));
    abort();
  }
  lua_getglobal(L, "require");
  lua_pushstring(L, module);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
    fprintf(stderr, "fuzz_lua: require %s: %s\n", module, lua_tostring(L, -1));
    abort();
  }
  lua_setglobal(L, "M");
  return L;
}

/* Push M[fn]; the caller pushes the arguments and calls fuzz_lua_call. */
#if defined(__GNUC__)
__attribute__((unused))
#endif
static void
    fuzz_lua_fn(lua_State *L, const char *fn) {
  lua_getglobal(L, "M");
  lua_getfield(L, -1, fn);
  lua_remove(L, -2);
  ORACLE(lua_type(L, -1) == LUA_TFUNCTION);
}

/* Call with nargs arguments and one result, left on the stack. Oracle:
 * a parser of request bytes never raises (in OpenResty that is a 500). */
#if defined(__GNUC__)
__attribute__((unused))
#endif
static void
    fuzz_lua_call(lua_State *L, int nargs) {
  if (lua_pcall(L, nargs, 1, 0) != LUA_OK) {
    fprintf(stderr, "oracle failed: the parser raised: %s\n",
            lua_tostring(L, -1));
    abort();
  }
}

#endif
