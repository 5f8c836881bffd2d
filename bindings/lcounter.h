/*
 * lcounter.h: the shared counter userdata (lcounter.c), for the module
 * table.
 */
#ifndef LFSEC_LCOUNTER_H
#define LFSEC_LCOUNTER_H

#include "compat.h"

/* Register the fsec.SharedCounter metatable. */
void lfsec_counter_register(lua_State *L);
/* core.shared_counter, core.shared_counter_get, core.shared_counter_bump */
int lfsec_shared_counter(lua_State *L);
int lfsec_shared_counter_get(lua_State *L);
int lfsec_shared_counter_bump(lua_State *L);

#endif /* LFSEC_LCOUNTER_H */
