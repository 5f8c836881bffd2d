/* fuzz_identity.c: any bytes as an email and a username. Oracles: nothing
 * crashes; an accepted value folds to a form that is itself accepted and
 * folds to itself (one key per identity); an email's display form (what
 * is stored and mailed to) folds to the same key. */
#include "fuzz_common.h"

static void check(int (*fn)(const char *, size_t, char *, size_t),
                  const uint8_t *data, size_t size) {
  char out[1024], again[1024];
  if (fn((const char *)data, size, out, sizeof out) != FSEC_OK) return;
  ORACLE(fn(out, strlen(out), again, sizeof again) == FSEC_OK);
  ORACLE(strcmp(out, again) == 0);
}

/* The form stored and mailed to folds to the same key as the input. */
static void check_display(const uint8_t *data, size_t size) {
  char key[1024], shown[1024], again[1024];
  if (fsec_identity_email((const char *)data, size, key, sizeof key) != FSEC_OK) return;
  ORACLE(fsec_identity_email_display((const char *)data, size, shown, sizeof shown) == FSEC_OK);
  ORACLE(fsec_identity_email(shown, strlen(shown), again, sizeof again) == FSEC_OK);
  ORACLE(strcmp(key, again) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096) return 0;
  check(fsec_identity_email, data, size);
  check_display(data, size);
  check(fsec_identity_username, data, size);
  return 0;
}
