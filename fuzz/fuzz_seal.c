/* fuzz_seal.c: fsec_keyring_unseal on hostile input (the sealed TOTP keys
 * come from the database, which an attacker may have written to), and
 * seal/unseal round trips.
 *
 * Oracles:
 *   - the input as a sealed value, opened with an aad no seed was sealed
 *     with: never FSEC_OK (no forgery without the key), only EINVAL, EKEY
 *     or EAUTH; EKEY only for a well-formed
 *     "$fsec$1$<tag>$" whose tag is not in the ring; nothing written to
 *     the output on failure;
 *   - the input as plaintext (and its first bytes as aad): sealed under
 *     the current tag, it unseals to itself with that tag, and not with
 *     another aad; flipping one byte chosen by the input is refused. */
#include "fuzz_common.h"

static fsec_keyring *ring(void) {
  static fsec_keyring *kr;
  if (!kr) {
    const char *tags[2] = {"1", "2"};
    const unsigned char *secrets[2] = {(const unsigned char *)"fuzz-keyring-secret-one",
                                       (const unsigned char *)"fuzz-keyring-secret-two"};
    size_t tl[2] = {1, 1}, sl[2] = {23, 23};
    char err[160];
    if (fsec_keyring_new(&kr, tags, tl, secrets, sl, 2, err, sizeof err) != FSEC_OK) {
      fprintf(stderr, "fuzz keyring: %s\n", err);
      abort();
    }
  }
  return kr;
}

/* Is s "$fsec$1$" tag "$" with a tag of the keyring's syntax? */
static int well_formed_tag(const uint8_t *s, size_t n) {
  size_t i;
  if (n < 9 || memcmp(s, "$fsec$1$", 8) != 0) return 0;
  for (i = 8; i < n && s[i] != '$'; i++) {
    int alnum = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
                (s[i] >= 'A' && s[i] <= 'Z');
    if (!alnum && (i == 8 || (s[i] != '_' && s[i] != '.' && s[i] != '-'))) return 0;
  }
  return i < n && i > 8 && i - 8 <= FSEC_KEYRING_TAG_MAX;
}

static void hostile(const uint8_t *data, size_t size) {
  static uint8_t out[16384];
  size_t n = 77;
  const char *tag = "x";
  int rc;
  memset(out, 0xa5, size < sizeof out ? size : sizeof out);
  rc = fsec_keyring_unseal(ring(), (const char *)data, size, "hostile", 7, out,
                           sizeof out, &n, &tag);
  ORACLE(rc == FSEC_EINVAL || rc == FSEC_EKEY || rc == FSEC_EAUTH);
  ORACLE(n == 0 && tag == NULL);
  if (rc == FSEC_EKEY) ORACLE(well_formed_tag(data, size));
}

static void round_trip(const uint8_t *data, size_t size) {
  static char sealed[32768];
  static uint8_t out[16384];
  size_t n = 0, m = 0, aadlen = size < 8 ? size : 8;
  const char *tag = NULL;
  fsec_keyring *kr = ring();
  ORACLE(fsec_keyring_seal(kr, data, size, data, aadlen, sealed, sizeof sealed, &n) ==
         FSEC_OK);
  ORACLE(n == fsec_keyring_sealed_len(kr, size) && strlen(sealed) == n);
  ORACLE(fsec_keyring_unseal(kr, sealed, n, data, aadlen, out, sizeof out, &m, &tag) ==
         FSEC_OK);
  ORACLE(m == size && (size == 0 || memcmp(out, data, size) == 0));
  ORACLE(strcmp(tag, "2") == 0);
  ORACLE(fsec_keyring_unseal(kr, sealed, n, "other", 5, out, sizeof out, &m, &tag) ==
         FSEC_EAUTH);
  if (size > 0) {
    size_t at = 10 + data[0] % (n - 10); /* past "$fsec$1$2$" */
    int rc;
    sealed[at] = sealed[at] == 'A' ? 'B' : 'A';
    rc = fsec_keyring_unseal(kr, sealed, n, data, aadlen, out, sizeof out, &m, &tag);
    ORACLE(rc == FSEC_EAUTH || (rc == FSEC_EINVAL && at == n - 1));
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 16384) return 0;
  hostile(data, size);
  round_trip(data, size);
  return 0;
}
