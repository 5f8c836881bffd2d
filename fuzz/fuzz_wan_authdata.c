/* fuzz_wan_authdata.c: WebAuthn authenticator data (core/src/webauthn.c).
 * The input is authData as an authenticator sends it. Oracles: every
 * span parsed lies inside the input, and the parsed parts written out
 * again (rpIdHash, flags, signCount, AAGUID, id length, id, key,
 * extensions) give back the input byte for byte (nothing skipped, nothing
 * trailing); an assertion over it under a fixed key and a made-up
 * signature is never accepted, and a refusal leaves no partial result.
 * The corpus (fuzz/corpus/wan_authdata) holds the fixtures' authData. */
#include "fuzz_common.h"

#include "fsec/webauthn.h"

/* An ES256 COSE key: the P-256 base point (any valid key does: no
 * signature made up here can verify under it). */
static const unsigned char KEY[] =
    "\xa5\x01\x02\x03\x26\x20\x01\x21\x58\x20"
    "\x6b\x17\xd1\xf2\xe1\x2c\x42\x47\xf8\xbc\xe6\xe5\x63\xa4\x40\xf2"
    "\x77\x03\x7d\x81\x2d\xeb\x33\xa0\xf4\xa1\x39\x45\xd8\x98\xc2\x96"
    "\x22\x58\x20"
    "\x4f\xe3\x42\xe2\xfe\x1a\x7f\x9b\x8e\xe7\xeb\x4a\x7c\x0f\x9e\x16"
    "\x2b\xce\x33\x57\x6b\x31\x5e\xce\xcb\xb6\x40\x68\x37\xbf\x51\xf5";

static int inside(const unsigned char *p, size_t n, const uint8_t *d, size_t size) {
  return p >= d && n <= size && p - d <= (ptrdiff_t)(size - n);
}

static void round_trip(const fsec_wan_authdata *a, const uint8_t *d, size_t size) {
  static unsigned char out[FSEC_WAN_AUTHDATA_MAX];
  size_t o = 0;
  ORACLE(a->rp_id_hash == d);
  memcpy(out, a->rp_id_hash, 32), o = 32;
  out[o++] = (unsigned char)a->flags;
  out[o++] = (unsigned char)(a->sign_count >> 24);
  out[o++] = (unsigned char)(a->sign_count >> 16);
  out[o++] = (unsigned char)(a->sign_count >> 8);
  out[o++] = (unsigned char)a->sign_count;
  ORACLE(!!(a->flags & FSEC_WAN_FLAG_AT) == !!a->public_key);
  ORACLE(!!(a->flags & FSEC_WAN_FLAG_ED) == !!a->extensions);
  if (a->public_key) {
    ORACLE(inside(a->aaguid, 16, d, size));
    ORACLE(inside(a->credential_id, a->credential_id_len, d, size));
    ORACLE(inside(a->public_key, a->public_key_len, d, size));
    ORACLE(a->credential_id_len <= FSEC_WAN_CREDENTIAL_ID_MAX);
    memcpy(out + o, a->aaguid, 16), o += 16;
    out[o++] = (unsigned char)(a->credential_id_len >> 8);
    out[o++] = (unsigned char)a->credential_id_len;
    memcpy(out + o, a->credential_id, a->credential_id_len), o += a->credential_id_len;
    memcpy(out + o, a->public_key, a->public_key_len), o += a->public_key_len;
  }
  if (a->extensions) {
    ORACLE(inside(a->extensions, a->extensions_len, d, size));
    memcpy(out + o, a->extensions, a->extensions_len), o += a->extensions_len;
  }
  ORACLE(o == size && memcmp(out, d, size) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const int algs[] = {FSEC_WAN_ES256};
  fsec_wan_opts opts = {"localhost", 9, 0, algs, 1};
  unsigned char hash[32] = {0}, sig[72] = {0x30, 0x44, 0x02, 0x20};
  fsec_wan_authdata a;
  int reason = -1;
  if (size > FSEC_WAN_AUTHDATA_MAX + 16) return 0;
  if (fsec_wan_authdata_parse(data, size, &a) == FSEC_WAN_OK) {
    round_trip(&a, data, size);
  } else {
    ORACLE(a.rp_id_hash == NULL && a.public_key == NULL);
  }
  ORACLE(fsec_wan_assert(KEY, sizeof KEY - 1, data, size, hash, sig, sizeof sig, &opts, &a,
                         &reason) == FSEC_OK);
  ORACLE(reason != FSEC_WAN_OK && reason != FSEC_WAN_KEY);
  ORACLE(a.rp_id_hash == NULL);
  return 0;
}
