/*
 * lcounter.c: core.shared_counter() -> a counter shared with the
 * processes forked after this call (fsec/shared.h); or nil, message. Made
 * in nginx's init_by_lua, before the workers are forked. A userdata whose
 * payload is the counter's address (so that FFI can read it) and whose
 * metatable lets get and bump refuse anything else: a bare pointer from
 * Lua could name any memory. No __gc: the mapping lives as long as the
 * process.
 */
#include <errno.h>
#include <string.h>

#include "lcounter.h"
#include "lhelp.h"

#define LFSEC_COUNTER_MT "fsec.SharedCounter"

int lfsec_shared_counter(lua_State *L) {
  uint32_t *c = fsec_shared_counter_new();
  if (c == NULL) return lfsec_pushfail(L, FSEC_ENOMEM, strerror(errno));
  uint32_t **u = lua_newuserdata(L, sizeof *u);
  *u = c;
  luaL_getmetatable(L, LFSEC_COUNTER_MT);
  lua_setmetatable(L, -2);
  return 1;
}

static uint32_t *check_counter(lua_State *L) {
  return *(uint32_t **)luaL_checkudata(L, 1, LFSEC_COUNTER_MT);
}

/* core.shared_counter_get(c) and core.shared_counter_bump(c): its value,
 * and the value after adding 1. (The adapter reads it through FFI.) */
int lfsec_shared_counter_get(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)fsec_shared_counter_get(check_counter(L)));
  return 1;
}

int lfsec_shared_counter_bump(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)fsec_shared_counter_bump(check_counter(L)));
  return 1;
}

void lfsec_counter_register(lua_State *L) {
  luaL_newmetatable(L, LFSEC_COUNTER_MT);
  lua_pop(L, 1);
}
