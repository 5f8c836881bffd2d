/*
 * litsd.h: the Flask credential functions of fsec.core (litsd.c).
 */
#ifndef LFSEC_LITSD_H
#define LFSEC_LITSD_H

#include "compat.h"

/* Add itsd_verify, itsd_sign, remember_verify and remember_sign to the
 * table on top of the stack. */
void lfsec_itsd_open(lua_State *L);

#endif /* LFSEC_LITSD_H */
