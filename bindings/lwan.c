/*
 * lwan.c: WebAuthn's authenticator-side checks in fsec.core
 * (fsec/webauthn.h). Every byte argument is a raw Lua string (not
 * base64url): the Lua layer decodes what the browser posted.
 *
 *   core.wan_register(attestation_object, client_data_hash, rp_id [, opts])
 *     opts = { require_uv = bool, algs = { -7, -8, -257 } }
 *     -> { fmt, attestation, credential_id, public_key, alg, sign_count,
 *          flags, uv, be, bs, aaguid }  |  nil, reason
 *   core.wan_assert(public_key, authenticator_data, client_data_hash,
 *                   signature, rp_id [, opts])
 *     opts = { require_uv = bool }
 *     -> { sign_count, flags, uv, be, bs }  |  nil, reason
 *   core.wan_key_alg(public_key) -> alg | nil, reason
 *   core.sha256(s) -> 32 bytes
 * reason: "malformed", "rp_id", "user_present", "user_verified",
 * "algorithm", "format", "attestation", "key" or "signature". Bad
 * argument types raise; hostile bytes never do.
 */
#include <string.h>

#include "lhelp.h"
#include "lwan.h"

/* Most algorithms an allow-list may name. */
#define ALGS_MAX 16

static const int default_algs[] = {FSEC_WAN_ES256, FSEC_WAN_EDDSA, FSEC_WAN_RS256};

/* The 32-byte client data hash at i. */
static const unsigned char *check_hash(lua_State *L, int i) {
  size_t len;
  const char *h = lfsec_checkstring(L, i, &len);
  if (len != FSEC_WAN_HASH_BYTES) luaL_argerror(L, i, "32-byte SHA-256 expected");
  return (const unsigned char *)h;
}

/* opts at i (a table or nil) into o; algs (ALGS_MAX) holds the list. */
static void check_opts(lua_State *L, int i, fsec_wan_opts *o, int *algs) {
  size_t n = 0;
  o->require_uv = 0;
  o->algs = default_algs;
  o->n_algs = sizeof default_algs / sizeof *default_algs;
  if (lua_isnoneornil(L, i)) return;
  luaL_checktype(L, i, LUA_TTABLE);
  lua_getfield(L, i, "require_uv");
  o->require_uv = lua_toboolean(L, -1);
  lua_pop(L, 1);
  lua_getfield(L, i, "algs");
  if (!lua_isnil(L, -1)) {
    if (!lua_istable(L, -1)) luaL_argerror(L, i, "opts.algs: a list of integers expected");
    for (;;) {
      lua_rawgeti(L, -1, (lua_Integer)n + 1);
      if (lua_isnil(L, -1)) break;
      if (n == ALGS_MAX || lua_type(L, -1) != LUA_TNUMBER)
        luaL_argerror(L, i, "opts.algs: a list of at most 16 integers expected");
      algs[n++] = (int)lua_tointeger(L, -1);
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
    if (n == 0) luaL_argerror(L, i, "opts.algs: empty");
    o->algs = algs;
    o->n_algs = n;
  }
  lua_pop(L, 1);
}

static int push_reason(lua_State *L, int rc, int reason) {
  if (rc == FSEC_ENOMEM) return luaL_error(L, "not enough memory");
  if (rc != FSEC_OK) return luaL_error(L, "webauthn: %s", fsec_strerror(rc));
  lua_pushnil(L);
  lua_pushstring(L, fsec_wan_reason_name(reason));
  return 2;
}

/* sign_count, flags, uv, be, bs of a into the table on top. */
static void set_flags(lua_State *L, const fsec_wan_authdata *a) {
  lua_pushinteger(L, (lua_Integer)a->sign_count);
  lua_setfield(L, -2, "sign_count");
  lua_pushinteger(L, (lua_Integer)a->flags);
  lua_setfield(L, -2, "flags");
  lua_pushboolean(L, (a->flags & FSEC_WAN_FLAG_UV) != 0);
  lua_setfield(L, -2, "uv");
  lua_pushboolean(L, (a->flags & FSEC_WAN_FLAG_BE) != 0);
  lua_setfield(L, -2, "be");
  lua_pushboolean(L, (a->flags & FSEC_WAN_FLAG_BS) != 0);
  lua_setfield(L, -2, "bs");
}

static void set_bytes(lua_State *L, const char *k, const unsigned char *p, size_t n) {
  lua_pushlstring(L, (const char *)p, n);
  lua_setfield(L, -2, k);
}

static int lwan_register(lua_State *L) {
  size_t alen;
  const char *att = lfsec_checkstring(L, 1, &alen);
  const unsigned char *hash = check_hash(L, 2);
  fsec_wan_opts o;
  fsec_wan_registration r;
  int algs[ALGS_MAX], reason = 0, rc;
  o.rp_id = lfsec_checkstring(L, 3, &o.rp_id_len);
  check_opts(L, 4, &o, algs);
  rc = fsec_wan_register((const unsigned char *)att, alen, hash, &o, &r, &reason);
  if (rc != FSEC_OK || reason != FSEC_WAN_OK) return push_reason(L, rc, reason);
  lua_createtable(L, 0, 11);
  lua_pushstring(L, r.fmt == FSEC_WAN_FMT_NONE ? "none" : "packed");
  lua_setfield(L, -2, "fmt");
  lua_pushstring(L, r.attestation == FSEC_WAN_ATT_NONE   ? "none"
                    : r.attestation == FSEC_WAN_ATT_SELF ? "self"
                                                         : "basic");
  lua_setfield(L, -2, "attestation");
  set_bytes(L, "credential_id", r.auth.credential_id, r.auth.credential_id_len);
  set_bytes(L, "public_key", r.auth.public_key, r.auth.public_key_len);
  set_bytes(L, "aaguid", r.auth.aaguid, FSEC_WAN_AAGUID_BYTES);
  lua_pushinteger(L, r.alg);
  lua_setfield(L, -2, "alg");
  set_flags(L, &r.auth);
  return 1;
}

static int lwan_assert(lua_State *L) {
  size_t klen, dlen, slen;
  const char *key = lfsec_checkstring(L, 1, &klen);
  const char *ad = lfsec_checkstring(L, 2, &dlen);
  const unsigned char *hash = check_hash(L, 3);
  const char *sig = lfsec_checkstring(L, 4, &slen);
  fsec_wan_opts o;
  fsec_wan_authdata a;
  int algs[ALGS_MAX], reason = 0, rc;
  o.rp_id = lfsec_checkstring(L, 5, &o.rp_id_len);
  check_opts(L, 6, &o, algs);
  rc = fsec_wan_assert((const unsigned char *)key, klen, (const unsigned char *)ad, dlen,
                       hash, (const unsigned char *)sig, slen, &o, &a, &reason);
  if (rc != FSEC_OK || reason != FSEC_WAN_OK) return push_reason(L, rc, reason);
  lua_createtable(L, 0, 5);
  set_flags(L, &a);
  return 1;
}

static int lwan_key_alg(lua_State *L) {
  size_t len;
  const char *key = lfsec_checkstring(L, 1, &len);
  fsec_wan_cose k;
  int reason = fsec_wan_cose_parse((const unsigned char *)key, len, &k);
  if (reason != FSEC_WAN_OK) return push_reason(L, FSEC_OK, reason);
  lua_pushinteger(L, k.alg);
  return 1;
}

static int lwan_sha256(lua_State *L) {
  size_t len;
  const char *s = lfsec_checkstring(L, 1, &len);
  unsigned char h[32];
  if (fsec_wan_sha256(s, len, h) != FSEC_OK) return luaL_error(L, "sha256 failed");
  lua_pushlstring(L, (const char *)h, sizeof h);
  return 1;
}

static const luaL_Reg funcs[] = {{"wan_register", lwan_register},
                                 {"wan_assert", lwan_assert},
                                 {"wan_key_alg", lwan_key_alg},
                                 {"sha256", lwan_sha256},
                                 {NULL, NULL}};

void lfsec_wan_open(lua_State *L) { luaL_setfuncs(L, funcs, 0); }
