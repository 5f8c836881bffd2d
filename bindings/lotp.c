/*
 * lotp.c: TOTP, Base32, the imports of Flask-Security's secrets and the
 * QR code, for the Lua layer of two-factor and unified sign-in (the
 * behaviour is documented in fsec/otp.h, fsec/import_secrets.h and
 * fsec/qr.h; types/fsec/core.lua has the stubs).
 *
 * Expected failures return nil, "ECODE" (the bare code: the Lua layer
 * compares it); wrong argument types and out-of-range options raise.
 */
#include <math.h>
#include <string.h>

#include "lhelp.h"
#include "lotp.h"

#define IMPORT_BUF FSEC_IMPORT_MAX

/* nil, "ECODE" */
static int fail_code(lua_State *L, int rc) {
  lua_pushnil(L);
  lua_pushstring(L, fsec_errname(rc));
  return 2;
}

/* A time argument: a number of seconds since 1970 (ngx.now()'s
 * fractions are dropped), not negative. */
static int64_t check_time(lua_State *L, int i) {
  lua_Number t = luaL_checknumber(L, i);
  if (!(t >= 0 && t < 9e15)) luaL_argerror(L, i, "a time >= 0 expected");
  return (int64_t)floor(t);
}

/* An integer field of the options table (def when nil). */
static int64_t opt_field(lua_State *L, int i, const char *k, int64_t def,
                         int64_t lo, int64_t hi) {
  int64_t v = def;
  lua_getfield(L, i, k);
  if (!lua_isnil(L, -1)) {
    lua_Number n = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : 0.5;
    if (n != floor(n) || n < (lua_Number)lo || n > (lua_Number)hi)
      luaL_error(L, "bad option '%s' (not an integer, or out of range)", k);
    v = (int64_t)n;
  }
  lua_pop(L, 1);
  return v;
}

/* opts = { step = 30, digits = 6, window = 4, alg = "sha1", after = nil } */
static void check_opts(lua_State *L, int i, fsec_totp_opts *o) {
  static const char *const algs[] = {"sha1", "sha256", "sha512", NULL};
  fsec_totp_opts_init(o);
  if (lua_isnoneornil(L, i)) return;
  luaL_checktype(L, i, LUA_TTABLE);
  o->step = (unsigned)opt_field(L, i, "step", 30, 1, 3600);
  o->digits = (unsigned)opt_field(L, i, "digits", 6, 6, 8);
  o->window = (unsigned)opt_field(L, i, "window", 4, 0, FSEC_OTP_WINDOW_MAX);
  lua_getfield(L, i, "alg");
  if (!lua_isnil(L, -1)) {
    const char *a = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
    int k;
    for (k = 0; algs[k] && strcmp(algs[k], a) != 0; k++) {
    }
    if (!algs[k]) luaL_error(L, "bad option 'alg' (sha1, sha256 or sha512 expected)");
    o->alg = k;
  }
  lua_pop(L, 1);
  lua_getfield(L, i, "after");
  o->has_after = !lua_isnil(L, -1);
  lua_pop(L, 1);
  if (o->has_after) o->after = opt_field(L, i, "after", 0, -1, (int64_t)1 << 52);
}

/* A TOTP key argument: raw bytes, 1..FSEC_OTP_KEY_MAX. */
static const char *check_key(lua_State *L, int i, size_t *len) {
  const char *k = lfsec_checkstring(L, i, len);
  if (*len == 0 || *len > FSEC_OTP_KEY_MAX) luaL_argerror(L, i, "a key of 1..128 bytes expected");
  return k;
}

/* core.otp_secret() -> 20 random bytes (a new TOTP key) */
static int lfsec_otp_secret(lua_State *L) {
  unsigned char k[FSEC_OTP_SECRET_BYTES];
  if (fsec_otp_secret(k) != FSEC_OK) return luaL_error(L, "otp_secret failed");
  lua_pushlstring(L, (const char *)k, sizeof k);
  fsec_wipe(k, sizeof k);
  return 1;
}

/* core.base32_encode(s) -> upper-case RFC 4648 Base32, no padding */
static int lfsec_base32_encode(lua_State *L) {
  size_t len, n;
  const char *s = lfsec_checkstring(L, 1, &len);
  char *out;
  if (len > 65536) return luaL_argerror(L, 1, "too long");
  n = fsec_base32_encoded_len(len) + 1;
  out = lua_newuserdata(L, n);
  if (fsec_base32_encode(s, len, out, n) != FSEC_OK) return luaL_error(L, "base32_encode failed");
  lua_pushstring(L, out);
  fsec_wipe(out, n); /* TOTP keys pass through here */
  return 1;
}

/* core.base32_decode(s) -> bytes | nil, "EINVAL" (passlib's reading) */
static int lfsec_base32_decode(lua_State *L) {
  size_t len, n = 0;
  const char *s = lfsec_checkstring(L, 1, &len);
  unsigned char *out;
  int rc;
  if (len > 65536) return fail_code(L, FSEC_EINVAL);
  out = lua_newuserdata(L, len);
  rc = fsec_base32_decode(s, len, out, len, &n);
  if (rc != FSEC_OK) return fail_code(L, FSEC_EINVAL);
  lua_pushlstring(L, (const char *)out, n);
  fsec_wipe(out, n);
  return 1;
}

/* core.totp_code(key, t[, opts]) -> the code of time t */
static int lfsec_totp_code(lua_State *L) {
  size_t klen;
  const char *key = check_key(L, 1, &klen);
  int64_t t = check_time(L, 2);
  fsec_totp_opts o;
  char code[FSEC_OTP_CODE_BYTES];
  check_opts(L, 3, &o);
  if (fsec_totp_code(key, klen, t, &o, code) != FSEC_OK) return luaL_error(L, "totp_code failed");
  lua_pushstring(L, code);
  return 1;
}

/* core.totp_match(key, code, t[, opts]) -> counter | false, "format" |
 * "invalid" | "replayed" */
static int lfsec_totp_match(lua_State *L) {
  static const char *const why[] = {"match", "format", "invalid", "replayed"};
  size_t klen, clen;
  const char *key = check_key(L, 1, &klen);
  const char *code = lfsec_checkstring(L, 2, &clen);
  int64_t t = check_time(L, 3), counter = 0;
  fsec_totp_opts o;
  int result = FSEC_TOTP_INVALID;
  check_opts(L, 4, &o);
  if (fsec_totp_match(key, klen, code, clen, t, &o, &result, &counter) != FSEC_OK)
    return luaL_error(L, "totp_match failed");
  if (result == FSEC_TOTP_MATCH) {
    lua_pushinteger(L, (lua_Integer)counter);
    return 1;
  }
  lua_pushboolean(L, 0);
  lua_pushstring(L, why[result]);
  return 2;
}

/* core.passlib_totp_decrypt(secret, salt_raw, ciphertext_raw, cost) ->
 * raw key | nil, "EINVAL" */
static int lfsec_passlib_totp_decrypt(lua_State *L) {
  size_t slen, saltlen, ctlen;
  const char *secret = lfsec_checkstring(L, 1, &slen);
  const char *salt = lfsec_checkstring(L, 2, &saltlen);
  const char *ct = lfsec_checkstring(L, 3, &ctlen);
  int64_t cost = lfsec_optint(L, 4, 0);
  unsigned char out[IMPORT_BUF];
  int rc;
  if (cost < FSEC_PASSLIB_COST_MIN || cost > FSEC_PASSLIB_COST_MAX)
    return fail_code(L, FSEC_EINVAL);
  rc = fsec_passlib_totp_decrypt(secret, slen, salt, saltlen, ct, ctlen, (int)cost, out,
                                 sizeof out);
  if (rc != FSEC_OK) return fail_code(L, rc);
  lua_pushlstring(L, (const char *)out, ctlen);
  fsec_wipe(out, ctlen);
  return 1;
}

/* core.fernet_decrypt(key_b64url, token[, ttl[, now]]) -> plaintext |
 * nil, "EAUTH" | "EINVAL" | "EEXPIRED" */
static int lfsec_fernet_decrypt(lua_State *L) {
  size_t klen, tlen, n = 0;
  const char *key = lfsec_checkstring(L, 1, &klen);
  const char *tok = lfsec_checkstring(L, 2, &tlen);
  int64_t ttl = lfsec_optint(L, 3, -1);
  int64_t now = lua_isnoneornil(L, 4) ? -1 : check_time(L, 4);
  unsigned char out[IMPORT_BUF];
  int rc;
  if (ttl < -1) return luaL_argerror(L, 3, "ttl >= 0 expected");
  rc = fsec_fernet_decrypt(key, klen, tok, tlen, ttl, now, out, sizeof out, &n);
  if (rc != FSEC_OK) return fail_code(L, rc);
  lua_pushlstring(L, (const char *)out, n);
  fsec_wipe(out, n);
  return 1;
}

/* core.qr_svg(text) -> SVG document | nil, "ETOOLONG" (| "ENUL", "EINVAL") */
static int lfsec_qr_svg(lua_State *L) {
  size_t len, n = 0;
  const char *text = lfsec_checkstring(L, 1, &len);
  char *svg = NULL;
  int rc = fsec_qr_svg(text, len, &svg, &n);
  if (rc == FSEC_ENOMEM) return luaL_error(L, "qr_svg: out of memory");
  if (rc != FSEC_OK) return fail_code(L, rc);
  lua_pushlstring(L, svg, n); /* may raise (memory): svg would leak, once */
  fsec_qr_free(svg);
  return 1;
}

static const luaL_Reg lfsec_otp_funcs[] = {{"otp_secret", lfsec_otp_secret},
                                           {"base32_encode", lfsec_base32_encode},
                                           {"base32_decode", lfsec_base32_decode},
                                           {"totp_code", lfsec_totp_code},
                                           {"totp_match", lfsec_totp_match},
                                           {"passlib_totp_decrypt", lfsec_passlib_totp_decrypt},
                                           {"fernet_decrypt", lfsec_fernet_decrypt},
                                           {"qr_svg", lfsec_qr_svg},
                                           {"keyring", lfsec_keyring_new},
                                           {NULL, NULL}};

void lfsec_otp_open(lua_State *L) { luaL_setfuncs(L, lfsec_otp_funcs, 0); }
