/* fuzz_token.c: any bytes as a token. Oracles: nothing crashes; an
 * accepted token re-issued with its payload and time is byte-identical
 * (one spelling per token); the same token with any one byte changed is
 * never accepted. */
#include "fuzz_common.h"

#define NOW 1800000000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fsec_engine *e = fuzz_engine();
  unsigned char payload[65536];
  char again[65600], *flipped;
  size_t plen = 0, n = 0;
  int64_t iat = 0;
  int status;
  if (size > 65536) return 0;
  if (fsec_token_verify(e, "auth", 4, (const char *)data, size, -1, NOW, &status,
                        payload, sizeof payload, &plen, &iat) != FSEC_OK)
    abort(); /* only misuse returns an error */
  if (status != FSEC_TOKEN_VALID) return 0;
  ORACLE(fsec_token_issue(e, "auth", 4, payload, plen, iat, again, sizeof again, &n) == FSEC_OK);
  ORACLE(n == size && memcmp(again, data, size) == 0);
  flipped = malloc(size);
  memcpy(flipped, data, size);
  flipped[size / 2] = flipped[size / 2] == 'A' ? 'B' : 'A';
  ORACLE(fsec_token_verify(e, "auth", 4, flipped, size, -1, NOW, &status, NULL, 0, NULL, NULL) == FSEC_OK);
  ORACLE(status == FSEC_TOKEN_INVALID);
  free(flipped);
  return 0;
}
