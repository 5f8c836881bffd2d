/* fuzz_wan_attestation.c: WebAuthn attestation objects (core/src/
 * webauthn.c), checked as registrations for RP "localhost" under a fixed
 * client data hash. Oracles: nothing crashes or reads past the input; an
 * accepted object's authenticator data, credential id and key are spans
 * of the input and the key parses on its own with the alg reported; a
 * refusal leaves no partial result. The corpus (fuzz/corpus/
 * wan_attestation) holds the fixtures' objects (fmt none ones are
 * accepted under any hash, so mutations of them reach acceptance). */
#include "fuzz_common.h"

#include "fsec/webauthn.h"

static int inside(const unsigned char *p, size_t n, const uint8_t *d, size_t size) {
  return p >= d && n <= size && p - d <= (ptrdiff_t)(size - n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const int algs[] = {FSEC_WAN_ES256, FSEC_WAN_EDDSA, FSEC_WAN_RS256};
  fsec_wan_opts opts = {"localhost", 9, 0, algs, 3};
  unsigned char hash[32] = {0};
  fsec_wan_registration r;
  fsec_wan_cose k;
  int reason = -1;
  if (size > FSEC_WAN_ATTESTATION_MAX + 16) return 0;
  ORACLE(fsec_wan_register(data, size, hash, &opts, &r, &reason) == FSEC_OK);
  if (reason != FSEC_WAN_OK) {
    ORACLE(r.auth.rp_id_hash == NULL && r.auth.public_key == NULL && r.alg == 0);
    return 0;
  }
  ORACLE(inside(r.auth.rp_id_hash, 37, data, size));
  ORACLE(inside(r.auth.credential_id, r.auth.credential_id_len, data, size));
  ORACLE(inside(r.auth.public_key, r.auth.public_key_len, data, size));
  ORACLE(r.auth.flags & FSEC_WAN_FLAG_UP && r.auth.flags & FSEC_WAN_FLAG_AT);
  ORACLE(fsec_wan_cose_parse(r.auth.public_key, r.auth.public_key_len, &k) == FSEC_WAN_OK);
  ORACLE(k.alg == r.alg);
  return 0;
}
