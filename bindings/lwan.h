/*
 * lwan.h: the WebAuthn functions of fsec.core (lwan.c).
 */
#ifndef LFSEC_LWAN_H
#define LFSEC_LWAN_H

#include "compat.h"

/* Add wan_register, wan_assert, wan_key_alg and sha256 to the table on
 * top of the stack. */
void lfsec_wan_open(lua_State *L);

#endif /* LFSEC_LWAN_H */
