/*
 * bench_core.c: fsec's C hot paths side by side with the raw primitive, in
 * one process, alternating A and B batches; prints per-op medians and the
 * median of the per-pair ratios (robust to a noisy machine).
 *
 *   token verify  vs  one crypto_auth_hmacsha256 over the same MAC'd bytes
 *   hash          vs  crypto_pwhash_str_alg       (same t, m, p = 1)
 *   verify        vs  crypto_pwhash_str_verify    (same string)
 *
 * Usage: bench_core [pairs=15] [argon2 pairs=7]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "fsec.h"
#include "bench_util.h"

#define KEY "bench-key-bench-key-bench-key-bench-key"
#define PAYLOAD "{\"uid\":\"Zx0nZ2fXq3m3b7Y1QmVh9A\",\"n\":1}"
#define PW "correct horse battery staple"
#define TIME_COST 2
#define MEM_KIB 65536


/* ---- token verify vs raw HMAC ---------------------------------------- */

static fsec_engine *E;
static char TOK[256];
static size_t TOKLEN;
static unsigned char MSG[256], RAWKEY[32], SINK[32];
static size_t MSGLEN;
static volatile int SINK_STATUS;

static void fsec_verify_batch(long n) {
  unsigned char payload[256];
  size_t plen;
  int64_t iat;
  int status;
  long i;
  for (i = 0; i < n; i++) {
    if (fsec_token_verify(E, "auth", 4, TOK, TOKLEN, 3600, -1, &status,
                          payload, sizeof payload, &plen, &iat) != FSEC_OK)
      abort();
    SINK_STATUS = status;
  }
}

static void raw_hmac_batch(long n) {
  long i;
  for (i = 0; i < n; i++) {
    crypto_auth_hmacsha256(SINK, MSG, MSGLEN, RAWKEY);
    SINK_STATUS = SINK[0];
  }
}

static double ns_per_op(void (*fn)(long), long n) {
  double t0 = now_ns();
  fn(n);
  return (now_ns() - t0) / (double)n;
}

static void bench_tokens(int pairs) {
  double a[64], b[64], r[64];
  long n = 200000;
  int i;
  for (i = 0; i < pairs; i++) {
    a[i] = ns_per_op(fsec_verify_batch, n);
    b[i] = ns_per_op(raw_hmac_batch, n);
    r[i] = a[i] / b[i];
  }
  printf("| token verify (C)            | %9.0f ns | %-24s %9.0f ns | %6.3fx | <= 1.50x |\n",
         median(a, pairs), "crypto_auth_hmacsha256", median(b, pairs),
         median(r, pairs));
}

/* ---- argon2id: fsec vs raw libsodium --------------------------------- */

static void bench_argon2(int pairs) {
  double a[32], b[32], r[32], va[32], vb[32], vr[32], t0;
  char h[FSEC_PASSWORD_HASH_BYTES], raw[crypto_pwhash_STRBYTES];
  int i, match;
  /* fsec hashes Base64(HMAC-SHA512(salt, pw)) (88 bytes); the raw side
   * hashes a string of the same length so the work is identical. */
  const char *same_len =
      "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567";
  for (i = 0; i < pairs; i++) {
    t0 = now_ns();
    if (fsec_password_hash(E, PW, strlen(PW), h, sizeof h)) abort();
    a[i] = now_ns() - t0;
    t0 = now_ns();
    if (crypto_pwhash_str_alg(raw, same_len, 88, TIME_COST,
                              (size_t)MEM_KIB * 1024,
                              crypto_pwhash_ALG_ARGON2ID13))
      abort();
    b[i] = now_ns() - t0;
    r[i] = a[i] / b[i];
    t0 = now_ns();
    if (fsec_password_verify(E, PW, strlen(PW), h, strlen(h), &match) ||
        !match)
      abort();
    va[i] = now_ns() - t0;
    t0 = now_ns();
    if (crypto_pwhash_str_verify(raw, same_len, 88)) abort();
    vb[i] = now_ns() - t0;
    vr[i] = va[i] / vb[i];
  }
  printf("| argon2id hash t=2 m=64MiB   | %9.1f ms | %-24s %9.1f ms | %6.3fx | <= 1.05x |\n",
         median(a, pairs) / 1e6, "crypto_pwhash_str_alg", median(b, pairs) / 1e6,
         median(r, pairs));
  printf("| argon2id verify t=2 m=64MiB | %9.1f ms | %-24s %9.1f ms | %6.3fx | <= 1.05x |\n",
         median(va, pairs) / 1e6, "crypto_pwhash_str_verify",
         median(vb, pairs) / 1e6, median(vr, pairs));
}

int main(int argc, char **argv) {
  int pairs = argc > 1 ? atoi(argv[1]) : 15;
  int apairs = argc > 2 ? atoi(argv[2]) : 7;
  static const unsigned char *keys[1] = {(const unsigned char *)KEY};
  size_t lens[1] = {strlen(KEY)};
  char err[256];
  const char *end;
  fsec_config cfg;

  if (pairs < 1 || pairs > 64 || apairs < 1 || apairs > 32) return 2;
  fsec_config_init(&cfg);
  cfg.secret_keys = keys;
  cfg.secret_key_lens = lens;
  cfg.n_secret_keys = 1;
  cfg.password_salt = (const unsigned char *)"bench-salt";
  cfg.password_salt_len = 10;
  cfg.argon2_time = TIME_COST;
  cfg.argon2_memory_kib = MEM_KIB;
  if (fsec_engine_open(&E, &cfg, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  if (fsec_token_issue(E, "auth", 4, (const unsigned char *)PAYLOAD,
                       strlen(PAYLOAD), -1, TOK, sizeof TOK, &TOKLEN))
    return 1;
  /* the raw side MACs exactly the bytes fsec MACs: version, iat, payload */
  if (sodium_base642bin(MSG, sizeof MSG, TOK, TOKLEN, NULL, &MSGLEN, &end,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING))
    return 1;
  MSGLEN -= FSEC_TOKEN_MAC_BYTES;
  randombytes_buf(RAWKEY, sizeof RAWKEY);

  printf("| operation                   | fsec         | raw primitive, same run              | ratio   | target   |\n");
  printf("|-----------------------------|--------------|--------------------------------------|---------|----------|\n");
  bench_tokens(pairs);
  bench_argon2(apairs);
  fsec_engine_close(E);
  return 0;
}
