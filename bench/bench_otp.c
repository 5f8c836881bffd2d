/*
 * bench_otp.c: checking a TOTP code (issue 23's target: "Checking a TOTP
 * code costs <= 1.5x the raw HMAC-SHA1 work of the codes in the window"),
 * in one process, alternating A and B batches; prints per-op medians and
 * the median of the per-pair ratios, as bench_core does.
 *
 *   A: fsec_keyring_unseal of the user's sealed key, then fsec_totp_match
 *      with window 4 (9 codes: liboath's HMAC, constant-time compare)
 *   B: 9 raw HMAC-SHA1 of 8-byte counters under the same key (OpenSSL's
 *      one-shot HMAC), the work the window needs and nothing else
 *
 * and, for reference (out of the plot), B again through a pre-fetched
 * EVP_MAC context re-keyed per code: OpenSSL without its one-shot HMAC's
 * per-call algorithm fetch, the fastest raw floor at hand.
 *
 * Usage: bench_otp [pairs=15]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

#include "bench_util.h"
#include "fsec.h"

#define T0 1700000000
#define WINDOW 4

static fsec_keyring *KR;
static char SEALED[256];
static size_t SEALEDLEN;
static unsigned char KEY[FSEC_OTP_SECRET_BYTES];
static char CODE[FSEC_OTP_CODE_BYTES];
static volatile int SINK;

static void fsec_check_batch(long n) {
  unsigned char key[64];
  size_t klen;
  const char *tag;
  fsec_totp_opts o;
  int result;
  int64_t counter;
  long i;
  fsec_totp_opts_init(&o);
  o.window = WINDOW;
  for (i = 0; i < n; i++) {
    if (fsec_keyring_unseal(KR, SEALED, SEALEDLEN, NULL, 0, key, sizeof key, &klen, &tag) !=
            FSEC_OK ||
        fsec_totp_match(key, klen, CODE, 6, T0, &o, &result, &counter) != FSEC_OK ||
        result != FSEC_TOTP_MATCH)
      abort();
    SINK = (int)counter;
  }
}

static void raw_hmac_batch(long n) {
  unsigned char md[EVP_MAX_MD_SIZE], c[8];
  unsigned int mdlen;
  uint64_t now = T0 / 30;
  long i;
  int k, b;
  for (i = 0; i < n; i++) {
    for (k = -WINDOW; k <= WINDOW; k++) {
      uint64_t step = now + (uint64_t)(int64_t)k;
      for (b = 0; b < 8; b++) c[b] = (unsigned char)(step >> (56 - 8 * b));
      if (HMAC(EVP_sha1(), KEY, sizeof KEY, c, sizeof c, md, &mdlen) == NULL) abort();
      SINK = md[19];
    }
  }
}

static EVP_MAC_CTX *MAC;

static void raw_mac_ctx_batch(long n) {
  unsigned char md[EVP_MAX_MD_SIZE], c[8];
  size_t mdlen;
  uint64_t now = T0 / 30;
  long i;
  int k, b;
  for (i = 0; i < n; i++) {
    for (k = -WINDOW; k <= WINDOW; k++) {
      uint64_t step = now + (uint64_t)(int64_t)k;
      for (b = 0; b < 8; b++) c[b] = (unsigned char)(step >> (56 - 8 * b));
      if (EVP_MAC_init(MAC, KEY, sizeof KEY, NULL) != 1 || EVP_MAC_update(MAC, c, 8) != 1 ||
          EVP_MAC_final(MAC, md, &mdlen, sizeof md) != 1)
        abort();
      SINK = md[19];
    }
  }
}

static double ns_per_op(void (*fn)(long), long n) {
  double t0 = now_ns();
  fn(n);
  return (now_ns() - t0) / (double)n;
}

int main(int argc, char **argv) {
  int pairs = argc > 1 ? atoi(argv[1]) : 15, i;
  const char *tags[1] = {"1"};
  const unsigned char *secrets[1] = {(const unsigned char *)"bench-keyring-secret-bench"};
  size_t tl[1] = {1}, sl[1] = {26};
  char err[160];
  double a[64], b[64], r[64], c[64], rc[64];
  OSSL_PARAM params[2];
  EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  long n = 20000;
  if (pairs < 1 || pairs > 64) pairs = 15;
  params[0] = OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA1", 0);
  params[1] = OSSL_PARAM_construct_end();
  if (mac == NULL || (MAC = EVP_MAC_CTX_new(mac)) == NULL ||
      EVP_MAC_CTX_set_params(MAC, params) != 1) {
    fprintf(stderr, "bench_otp: no OpenSSL HMAC\n");
    return 1;
  }
  if (fsec_keyring_new(&KR, tags, tl, secrets, sl, 1, err, sizeof err) != FSEC_OK ||
      fsec_otp_secret(KEY) != FSEC_OK ||
      fsec_keyring_seal(KR, KEY, sizeof KEY, NULL, 0, SEALED, sizeof SEALED, &SEALEDLEN) !=
          FSEC_OK ||
      fsec_totp_code(KEY, sizeof KEY, T0 + 30, NULL, CODE) != FSEC_OK) {
    fprintf(stderr, "bench_otp: setup failed %s\n", err);
    return 1;
  }
  for (i = 0; i < pairs; i++) {
    a[i] = ns_per_op(fsec_check_batch, n);
    b[i] = ns_per_op(raw_hmac_batch, n);
    r[i] = a[i] / b[i];
    c[i] = ns_per_op(raw_mac_ctx_batch, n);
    rc[i] = a[i] / c[i];
  }
  printf("| operation                   | fsec         | raw primitive, same run              | ratio   | target   |\n");
  printf("|-----------------------------|--------------|--------------------------------------|---------|----------|\n");
  printf("| TOTP check (unseal + 9 codes) | %9.0f ns | %-24s %9.0f ns | %6.3fx | <= 1.50x |\n",
         median(a, pairs), "9 x OpenSSL HMAC-SHA1", median(b, pairs), median(r, pairs));
  printf("| (for reference: EVP_MAC ctx) | %9.0f ns | %-24s %9.0f ns | %6.3fx |          |\n",
         median(a, pairs), "9 x EVP_MAC_init+final", median(c, pairs), median(rc, pairs));
  EVP_MAC_CTX_free(MAC);
  EVP_MAC_free(mac);
  fsec_keyring_free(KR);
  return 0;
}
