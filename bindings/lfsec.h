/*
 * lfsec.h: helpers shared by the binding files.
 *
 * Conventions (luv/lua-resty-core): expected failures return
 * nil, "ENAME: message", "ENAME"; wrong argument types raise.
 */
#ifndef LFSEC_H
#define LFSEC_H

#include "compat.h"
#include "fsec.h"

#define LFSEC_ENGINE_MT "fsec.Engine"
#define LFSEC_STORE_MT "fsec.Store"

/* Push nil, "ENAME: msg", "ENAME"; returns 3. */
int lfsec_pushfail(lua_State *L, int rc, const char *msg);

/* A string argument, not a number converted to one (passwords, tokens and
 * keys must be strings). Raises "bad argument #i (string expected, got T)". */
const char *lfsec_checkstring(lua_State *L, int i, size_t *len);

/* Optional integer argument: def when nil/none, raises when not integral. */
int64_t lfsec_optint(lua_State *L, int i, int64_t def);

/* Register the fsec.Engine metatable and push the constructor. */
void lfsec_engine_register(lua_State *L);
int lfsec_engine_new(lua_State *L);
int lfsec_argon2_helper_pid(lua_State *L);
int lfsec_argon2_helper_path(lua_State *L);

/* Register the fsec.Store metatable; core.open_store. */
void lfsec_store_register(lua_State *L);
int lfsec_store_open(lua_State *L);
int lfsec_sync_wal(lua_State *L);

#endif /* LFSEC_H */
