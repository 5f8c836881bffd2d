/*
 * lhelp.h: argument and result helpers shared by every binding file.
 *
 * Conventions (luv/lua-resty-core): expected failures return
 * nil, "ENAME: message", "ENAME"; wrong argument types raise.
 */
#ifndef LFSEC_LHELP_H
#define LFSEC_LHELP_H

#include "compat.h"
#include "fsec.h"

/* Push nil, "ENAME: msg", "ENAME"; returns 3. */
int lfsec_pushfail(lua_State *L, int rc, const char *msg);

/* A string argument, not a number converted to one (passwords, tokens and
 * keys must be strings). Raises "bad argument #i (string expected, got T)". */
const char *lfsec_checkstring(lua_State *L, int i, size_t *len);

/* Optional integer argument: def when nil/none, raises when not integral. */
int64_t lfsec_optint(lua_State *L, int i, int64_t def);

#endif /* LFSEC_LHELP_H */
