/* test_catalogue.c: rows of the security catalogue (§7) that are C-level
 * checks of the token code and the random identifiers. Each test names
 * its row; docs/catalogue.md maps the rows to these names.
 *
 * T-11 hooks libsodium's crypto_verify_32: this executable defines the
 * symbol, so the engine's calls land here (counted) and are passed on to
 * the real one (dlsym RTLD_NEXT). */
#define _GNU_SOURCE
#include <dlfcn.h>

#include <sodium.h>

#include "fixtures.h"

#define NOW INT64_C(1800000000)
#define PAYLOAD "{\"u\":\"uniquifier-of-a-user\",\"a\":1800000000}"

/* ---- T-11: the constant-time compare hook ------------------------------ */

static int memcmp_calls;

int crypto_verify_32(const unsigned char *x, const unsigned char *y) {
  static int (*real)(const unsigned char *, const unsigned char *);
  if (!real) {
    *(void **)&real = dlsym(RTLD_NEXT, "crypto_verify_32");
    if (!real) FAIL_AT("dlsym(crypto_verify_32): %s", dlerror());
  }
  memcmp_calls++;
  return real(x, y);
}

/* ---- helpers ----------------------------------------------------------- */


static void issue(fsec_engine *e, const char *payload, char *out, size_t cap) {
  ASSERT_OK(fsec_token_issue(e, "reset", 5, (const unsigned char *)payload,
                             strlen(payload), NOW, out, cap, NULL));
}

static int status_of(fsec_engine *e, const char *tok, size_t len,
                     int64_t max_age, int64_t now) {
  int status = -1;
  ASSERT_OK(fsec_token_verify(e, "reset", 5, tok, len, max_age, now, &status,
                              NULL, 0, NULL, NULL));
  return status;
}

/* ---- T-02: every single-bit change is invalid, never expired ----------- */

static void t02_every_flipped_bit_is_invalid_not_expired(void) {
  fsec_engine *e = open_engine(NULL);
  char tok[512], bad[512];
  unsigned char bin[384];
  size_t binlen = 0, i;
  int bit;
  issue(e, PAYLOAD, tok, sizeof tok);
  /* max_age 10 at NOW + 3600: the real token is expired, so a variant
   * that were merely "expired" would show a valid MAC */
  ASSERT_EQ(status_of(e, tok, strlen(tok), 10, NOW + 3600), FSEC_TOKEN_EXPIRED);
  ASSERT_OK(sodium_base642bin(bin, sizeof bin, tok, strlen(tok), NULL, &binlen,
                              NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING));
  for (i = 0; i < binlen; i++) {
    for (bit = 0; bit < 8; bit++) {
      bin[i] ^= (unsigned char)(1u << bit);
      sodium_bin2base64(bad, sizeof bad, bin, binlen,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING);
      if (status_of(e, bad, strlen(bad), 10, NOW + 3600) != FSEC_TOKEN_INVALID)
        FAIL_AT("byte %zu bit %d: not invalid", i, bit);
      if (status_of(e, bad, strlen(bad), -1, NOW) != FSEC_TOKEN_INVALID)
        FAIL_AT("byte %zu bit %d: accepted", i, bit);
      bin[i] ^= (unsigned char)(1u << bit);
    }
  }
  /* and every byte replaced by every other value in the first bytes
   * (version and issued-at) */
  for (i = 0; i < 9; i++) {
    unsigned char orig = bin[i];
    int v;
    for (v = 0; v < 256; v++) {
      if (v == orig) continue;
      bin[i] = (unsigned char)v;
      sodium_bin2base64(bad, sizeof bad, bin, binlen,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING);
      ASSERT_EQ(status_of(e, bad, strlen(bad), -1, NOW), FSEC_TOKEN_INVALID);
    }
    bin[i] = orig;
  }
  fsec_engine_close(e);
}

/* ---- T-03: a MAC made with another key; the payload is never read ---- */

static void t03_other_key_is_invalid_and_payload_unread(void) {
  fsec_engine *ours = open_keys(KEY_A, NULL), *theirs = open_keys(KEY_B, NULL);
  char tok[512];
  unsigned char payload[256];
  size_t plen = 777;
  int64_t iat = 777;
  int status = -1;
  /* not JSON at all: were it decoded before the MAC check, it would fail
   * differently; the token is refused before any of it is looked at */
  issue(theirs, "{{{ not json \xff", tok, sizeof tok);
  memset(payload, 0xAA, sizeof payload);
  ASSERT_OK(fsec_token_verify(ours, "reset", 5, tok, strlen(tok), -1, NOW,
                              &status, payload, sizeof payload, &plen, &iat));
  ASSERT_EQ(status, FSEC_TOKEN_INVALID);
  ASSERT_EQ(plen, 777); /* untouched: nothing was copied out */
  ASSERT_EQ(iat, 777);
  ASSERT_EQ(payload[0], 0xAA);
  ASSERT(strstr(fsec_errmsg(ours), "signature") != NULL);
  /* the same payload under our own key is simply valid */
  issue(ours, PAYLOAD, tok, sizeof tok);
  ASSERT_EQ(status_of(theirs, tok, strlen(tok), -1, NOW), FSEC_TOKEN_INVALID);
  ASSERT_EQ(status_of(ours, tok, strlen(tok), -1, NOW), FSEC_TOKEN_VALID);
  fsec_engine_close(ours);
  fsec_engine_close(theirs);
}

/* ---- T-11: the tag is compared with crypto_verify_32, once per key ----- */

static void t11_tag_compare_is_crypto_verify_32(void) {
  fsec_engine *one = open_keys(KEY_A, NULL), *two = open_keys(KEY_B, KEY_A);
  char tok[512], bad[512];
  size_t n;
  issue(one, PAYLOAD, tok, sizeof tok);
  n = strlen(tok);
  memcpy(bad, tok, n + 1);
  bad[n - 3] = bad[n - 3] == 'A' ? 'B' : 'A'; /* inside the tag */

  memcmp_calls = 0;
  ASSERT_EQ(status_of(one, tok, n, -1, NOW), FSEC_TOKEN_VALID);
  ASSERT_EQ(memcmp_calls, 1);
  memcmp_calls = 0;
  ASSERT_EQ(status_of(one, bad, n, -1, NOW), FSEC_TOKEN_INVALID);
  ASSERT_EQ(memcmp_calls, 1);
  /* two keys: a bad tag is compared against both, in constant time */
  memcmp_calls = 0;
  ASSERT_EQ(status_of(two, bad, n, -1, NOW), FSEC_TOKEN_INVALID);
  ASSERT_EQ(memcmp_calls, 2);
  /* signed with the second key: found on the second compare */
  memcmp_calls = 0;
  ASSERT_EQ(status_of(two, tok, n, -1, NOW), FSEC_TOKEN_VALID);
  ASSERT_EQ(memcmp_calls, 2);
  fsec_engine_close(one);
  fsec_engine_close(two);
}

/* ---- T-14: 10^6 random ids: no duplicates, the documented sizes ------- */

#define N_IDS 1000000
#define ID16 22 /* base64url chars of 16 bytes */

static int cmp_id(const void *a, const void *b) {
  return memcmp(a, b, ID16);
}

static void t14_a_million_ids_are_distinct(void) {
  char *ids = malloc((size_t)N_IDS * ID16), one[64];
  size_t i, j;
  ASSERT(ids != NULL);
  for (i = 0; i < N_IDS; i++) {
    ASSERT_OK(fsec_random_id(one, sizeof one, 16));
    ASSERT_EQ(strlen(one), ID16);
    memcpy(ids + i * ID16, one, ID16);
  }
  for (j = 0; j < ID16; j++) { /* url-safe alphabet only (first id) */
    char c = ids[j];
    ASSERT((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '_');
  }
  qsort(ids, N_IDS, ID16, cmp_id);
  for (i = 1; i < N_IDS; i++)
    if (memcmp(ids + (i - 1) * ID16, ids + i * ID16, ID16) == 0)
      FAIL_AT("duplicate id %.22s", ids + i * ID16);
  free(ids);
  /* 32 bytes (256 bits) when asked: 43 characters */
  ASSERT_OK(fsec_random_id(one, sizeof one, 32));
  ASSERT_EQ(strlen(one), 43);
  ASSERT_EQ(fsec_random_id_len(32), 43);
}

int main(void) {
  ASSERT(sodium_init() >= 0);
  RUN(t02_every_flipped_bit_is_invalid_not_expired);
  RUN(t03_other_key_is_invalid_and_payload_unread);
  RUN(t11_tag_compare_is_crypto_verify_32);
  RUN(t14_a_million_ids_are_distinct);
  return 0;
}
