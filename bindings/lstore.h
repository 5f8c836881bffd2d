/*
 * lstore.h: the fsec.Store userdata (lstore.c), for the module table.
 */
#ifndef LFSEC_LSTORE_H
#define LFSEC_LSTORE_H

#include "compat.h"

/* Register the fsec.Store metatable; core.open_store, core.sync_wal,
 * core.is_database_uri. */
void lfsec_store_register(lua_State *L);
int lfsec_store_open(lua_State *L);
int lfsec_is_database_uri(lua_State *L);
int lfsec_sync_wal(lua_State *L);

#endif /* LFSEC_LSTORE_H */
