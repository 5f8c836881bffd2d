/*
 * lengine.h: the fsec.Engine userdata (lengine.c), for the module table.
 */
#ifndef LFSEC_LENGINE_H
#define LFSEC_LENGINE_H

#include "compat.h"

/* Register the fsec.Engine metatable; core.new and the argon2 helper's
 * pid and path. */
void lfsec_engine_register(lua_State *L);
int lfsec_engine_new(lua_State *L);
int lfsec_argon2_helper_pid(lua_State *L);
int lfsec_argon2_helper_path(lua_State *L);
/* Set core.CONFIG on the table at the top: the engine's defaults and
 * ranges (engine.h), by core.new's field names. */
void lfsec_engine_push_config(lua_State *L);

#endif /* LFSEC_LENGINE_H */
