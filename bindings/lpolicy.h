/*
 * lpolicy.h: the password policy's C parts for Lua (lpolicy.c): zxcvbn's
 * strength estimate and the mapped breached-password list.
 */
#ifndef LFSEC_LPOLICY_H
#define LFSEC_LPOLICY_H

#include "compat.h"

/* Register the fsec.BreachedList metatable. */
void lfsec_policy_register(lua_State *L);
/* core.password_strength, core.breached_open, core.breached_build */
int lfsec_password_strength(lua_State *L);
int lfsec_breached_open(lua_State *L);
int lfsec_breached_build(lua_State *L);

#endif /* LFSEC_LPOLICY_H */
