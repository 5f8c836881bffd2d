/* fuzz_identity.c: any bytes as an email and a username. Oracles: nothing
 * crashes; an accepted value folds to a form that is itself accepted and
 * folds to itself (one key per identity). */
#include "fuzz_common.h"

static void check(int (*fn)(const char *, size_t, char *, size_t),
                  const uint8_t *data, size_t size) {
  char out[1024], again[1024];
  if (fn((const char *)data, size, out, sizeof out) != FSEC_OK) return;
  ORACLE(fn(out, strlen(out), again, sizeof again) == FSEC_OK);
  ORACLE(strcmp(out, again) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096) return 0;
  check(fsec_identity_email, data, size);
  check(fsec_identity_username, data, size);
  return 0;
}
