/* fuzz_wan_cose.c: COSE public keys (core/src/webauthn.c). The input is
 * a COSE_Key as stored for a credential. Oracles: an accepted key's
 * canonical encoding (CTAP2 order) is accepted again with the same alg
 * and parameters, and encodes to the same bytes; a refused key leaves no
 * partial result. The corpus (fuzz/corpus/wan_cose) holds the fixtures'
 * ES256, EdDSA and RS256 keys. */
#include "fuzz_common.h"

#include "fsec/webauthn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const fsec_wan_cose zero;
  static unsigned char enc[FSEC_WAN_PUBLIC_KEY_MAX], enc2[FSEC_WAN_PUBLIC_KEY_MAX];
  fsec_wan_cose k, k2;
  size_t n = 0, n2 = 0;
  int rc;
  if (size > 2 * FSEC_WAN_PUBLIC_KEY_MAX) return 0;
  rc = fsec_wan_cose_parse(data, size, &k);
  if (rc != FSEC_WAN_OK) {
    ORACLE(rc == FSEC_WAN_MALFORMED || rc == FSEC_WAN_KEY);
    ORACLE(memcmp(&k, &zero, sizeof k) == 0);
    return 0;
  }
  ORACLE(k.alg == FSEC_WAN_ES256 || k.alg == FSEC_WAN_EDDSA || k.alg == FSEC_WAN_RS256);
  ORACLE(fsec_wan_cose_encode(&k, enc, sizeof enc, &n) == FSEC_OK);
  ORACLE(n <= size); /* the canonical encoding is the shortest */
  ORACLE(fsec_wan_cose_parse(enc, n, &k2) == FSEC_WAN_OK);
  ORACLE(memcmp(&k, &k2, sizeof k) == 0);
  ORACLE(fsec_wan_cose_encode(&k2, enc2, sizeof enc2, &n2) == FSEC_OK);
  ORACLE(n2 == n && memcmp(enc, enc2, n) == 0);
  return 0;
}
