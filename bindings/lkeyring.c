/*
 * lkeyring.c: core.keyring(map) -> fsec.Keyring, the sealing keyring of
 * fsec/seal.h: kr:seal(plaintext[, aad]), kr:unseal(sealed[, aad]),
 * kr:current(). The derived keys stay in C (sodium_malloc memory, wiped
 * when the userdata is collected or closed); Lua only ever sees tags.
 */
#include <stdio.h>
#include <string.h>

#include "lhelp.h"
#include "lotp.h"

#define LFSEC_KEYRING_MT "fsec.Keyring"

typedef struct lfsec_keyring {
  fsec_keyring *kr; /* NULL once closed */
} lfsec_keyring;

static fsec_keyring *check_keyring(lua_State *L) {
  lfsec_keyring *u = luaL_checkudata(L, 1, LFSEC_KEYRING_MT);
  if (!u->kr) luaL_error(L, "attempt to use a closed fsec.Keyring");
  return u->kr;
}

/* The map's key as a tag: a string, or an integer written in decimal
 * (TOTP_SECRETS = { [1] = ... } as a Lua literal). NULL when neither. */
static const char *tag_of(lua_State *L, int i, char num[32], size_t *len) {
  if (lua_type(L, i) == LUA_TSTRING) return lua_tolstring(L, i, len);
  if (lua_type(L, i) == LUA_TNUMBER) {
    lua_Number n = lua_tonumber(L, i);
    if (n >= 0 && n < 1e15 && n == (lua_Number)(long long)n) {
      *len = (size_t)snprintf(num, 32, "%lld", (long long)n);
      return num;
    }
  }
  return NULL;
}

/* core.keyring(map) -> fsec.Keyring | nil, message, "EINVAL": map is
 * { [tag] = secret }, Flask-Security's TOTP_SECRETS. Each secret is
 * stretched with argon2id here (about 10 ms each), once. */
int lfsec_keyring_new(lua_State *L) {
  const char *tags[FSEC_KEYRING_MAX];
  const unsigned char *secrets[FSEC_KEYRING_MAX];
  size_t taglens[FSEC_KEYRING_MAX], secretlens[FSEC_KEYRING_MAX], n = 0;
  char nums[FSEC_KEYRING_MAX][32], err[200];
  lfsec_keyring *u;
  int rc;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, 1) != 0) {
    if (n == FSEC_KEYRING_MAX) return lfsec_pushfail(L, FSEC_EINVAL, "keyring: at most 32 secrets");
    tags[n] = tag_of(L, -2, nums[n], &taglens[n]);
    if (tags[n] == NULL)
      return lfsec_pushfail(L, FSEC_EINVAL, "keyring: tags must be strings or integers");
    if (lua_type(L, -1) != LUA_TSTRING) {
      snprintf(err, sizeof err, "keyring tag '%.*s': its secret must be a string",
               (int)(taglens[n] > 32 ? 32 : taglens[n]), tags[n]);
      return lfsec_pushfail(L, FSEC_EINVAL, err);
    }
    /* the table holds the strings for the length of this call */
    secrets[n] = (const unsigned char *)lua_tolstring(L, -1, &secretlens[n]);
    n++;
    lua_pop(L, 1);
  }
  u = lua_newuserdata(L, sizeof *u);
  u->kr = NULL;
  luaL_getmetatable(L, LFSEC_KEYRING_MT);
  lua_setmetatable(L, -2);
  rc = fsec_keyring_new(&u->kr, tags, taglens, secrets, secretlens, n, err, sizeof err);
  if (rc == FSEC_ENOMEM) return luaL_error(L, "keyring: out of memory");
  if (rc != FSEC_OK) return lfsec_pushfail(L, rc, err);
  return 1;
}

/* kr:seal(plaintext[, aad]) -> "$fsec$1$<tag>$..." */
static int lfsec_keyring_seal(lua_State *L) {
  fsec_keyring *kr = check_keyring(L);
  size_t plen, alen = 0, cap, n = 0;
  const char *pt = lfsec_checkstring(L, 2, &plen);
  const char *aad = lua_isnoneornil(L, 3) ? NULL : lfsec_checkstring(L, 3, &alen);
  char *out;
  if (plen > FSEC_SEAL_PLAIN_MAX) return luaL_argerror(L, 2, "at most 64 KiB");
  cap = fsec_keyring_sealed_len(kr, plen) + 1;
  out = lua_newuserdata(L, cap);
  if (fsec_keyring_seal(kr, pt, plen, aad, alen, out, cap, &n) != FSEC_OK)
    return luaL_error(L, "seal failed");
  lua_pushlstring(L, out, n);
  return 1;
}

/* kr:unseal(sealed[, aad]) -> plaintext, tag | nil, "EKEY" | "EINVAL" |
 * "EAUTH" */
static int lfsec_keyring_unseal(lua_State *L) {
  fsec_keyring *kr = check_keyring(L);
  size_t slen, alen = 0, n = 0;
  const char *s = lfsec_checkstring(L, 2, &slen);
  const char *aad = lua_isnoneornil(L, 3) ? NULL : lfsec_checkstring(L, 3, &alen);
  const char *tag = NULL;
  unsigned char *out = lua_newuserdata(L, slen + 1);
  int rc = fsec_keyring_unseal(kr, s, slen, aad, alen, out, slen + 1, &n, &tag);
  if (rc == FSEC_ENOMEM) return luaL_error(L, "unseal: out of memory");
  if (rc != FSEC_OK) {
    lua_pushnil(L);
    lua_pushstring(L, fsec_errname(rc));
    return 2;
  }
  lua_pushlstring(L, (const char *)out, n);
  fsec_wipe(out, n);
  lua_pushstring(L, tag);
  return 2;
}

/* kr:current() -> the tag new values are sealed under */
static int lfsec_keyring_current(lua_State *L) {
  lua_pushstring(L, fsec_keyring_current(check_keyring(L)));
  return 1;
}

/* __gc, __close and close(): wipe and free; idempotent. */
static int lfsec_keyring_gc(lua_State *L) {
  lfsec_keyring *u = luaL_checkudata(L, 1, LFSEC_KEYRING_MT);
  fsec_keyring_free(u->kr);
  u->kr = NULL;
  return 0;
}

static int lfsec_keyring_tostring(lua_State *L) {
  lfsec_keyring *u = luaL_checkudata(L, 1, LFSEC_KEYRING_MT);
  if (u->kr)
    lua_pushfstring(L, "fsec.Keyring (current %s)", fsec_keyring_current(u->kr));
  else
    lua_pushliteral(L, "fsec.Keyring (closed)");
  return 1;
}

static const luaL_Reg lfsec_keyring_methods[] = {{"seal", lfsec_keyring_seal},
                                                 {"unseal", lfsec_keyring_unseal},
                                                 {"current", lfsec_keyring_current},
                                                 {"close", lfsec_keyring_gc},
                                                 {NULL, NULL}};

void lfsec_keyring_register(lua_State *L) {
  luaL_newmetatable(L, LFSEC_KEYRING_MT);
  lua_newtable(L);
  luaL_setfuncs(L, lfsec_keyring_methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, lfsec_keyring_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, lfsec_keyring_gc);
  lua_setfield(L, -2, "__close");
  lua_pushcfunction(L, lfsec_keyring_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushliteral(L, "fsec.Keyring");
  lua_setfield(L, -2, "__metatable"); /* getmetatable() can't reach methods */
  lua_pop(L, 1);
}
