/* fuzz_hash.c: any bytes as a stored password hash. Oracles: nothing
 * crashes; the expensive function runs at most once and only for a hash
 * that passed the format and cap checks (rc OK); malformed and over-cap
 * strings never run it; needs_update agrees on what is malformed. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fsec_engine *e = fuzz_engine();
  uint64_t before = fsec_engine_hash_count(e);
  int match = -1, needs = -1, rc, rc2;
  rc = fsec_password_verify(e, "password", 8, (const char *)data, size, &match);
  ORACLE(fsec_engine_hash_count(e) - before <= 1);
  if (rc != FSEC_OK) {
    ORACLE(match == 0);
    ORACLE(fsec_engine_hash_count(e) == before);
  }
  rc2 = fsec_password_needs_update(e, (const char *)data, size, &needs);
  ORACLE(rc2 == FSEC_OK || rc2 == FSEC_EHASHFMT);
  if (rc == FSEC_EHASHFMT && rc2 == FSEC_OK && size > 0 && data[0] != '$') {
    ORACLE(0); /* plaintext is enabled here: a non-$ string is not malformed */
  }
  return 0;
}
