/*
 * compat.h: the few shims the binding needs to build against both Lua 5.4
 * and LuaJIT 2.1 headers. Gated on LUA_VERSION_NUM: the missing pieces
 * are functions, and the preprocessor cannot test for a function (only
 * for a macro), so the API version is the one thing to test.
 */
#ifndef LFSEC_COMPAT_H
#define LFSEC_COMPAT_H

#include <lauxlib.h>
#include <lua.h>

/* LuaJIT (5.1 API) has no lua_rawlen. */
#if !defined(LUA_VERSION_NUM) || LUA_VERSION_NUM < 502
#  define lfsec_rawlen(L, i) lua_objlen((L), (i))
#else
#  define lfsec_rawlen(L, i) lua_rawlen((L), (i))
#endif

#endif /* LFSEC_COMPAT_H */
