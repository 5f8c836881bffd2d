/* fuzz_itsd.c: Flask's signed values (core/src/itsdangerous.c). The first
 * byte picks what the rest is:
 *   even: a token or cookie, checked as Flask-Security's token, Flask's
 *         session and Flask-Login's remember cookie. Oracles: nothing
 *         crashes or reads past the input; a valid one with any one
 *         character changed is refused; a valid one's JSON signs again
 *         into a token that verifies to the same JSON.
 *   odd:  a JSON payload, signed and verified again: the same bytes come
 *         back (whether it was compressed or not), at the same time.
 * The corpus (fuzz/corpus/itsd) holds the worked examples, valid under
 * KEY, so mutations start from tokens whose signature holds. */
#include "fuzz_common.h"

#include "fsec/itsdangerous.h"

#define KEY "fsec-test-secret-key"
#define TS 1700000000
#define CAP 65536

static const fsec_itsd_key keys[2] = {{"an-older-key", 12}, {KEY, 20}};

static int check(const char *salt, fsec_itsd_kdf kdf, const char *tok,
                 size_t n, unsigned char *out, size_t *len) {
  int64_t ts = 0;
  int status = -1;
  size_t k = 0;
  ORACLE(fsec_itsd_verify(keys, 2, salt, strlen(salt), kdf, tok, n, -1, TS,
                          &status, out, CAP, len, &ts, &k) == FSEC_OK);
  ORACLE(status == FSEC_ITSD_INVALID || (*len <= CAP && k < 2));
  return status;
}

/* A valid token: changed anywhere it is refused, and its JSON signs
 * again into one that reads back the same. */
static void valid_token(const char *salt, fsec_itsd_kdf kdf, const char *tok,
                        size_t n, const unsigned char *json, size_t jlen) {
  static unsigned char again[CAP];
  static char signed_tok[FSEC_ITSD_TOKEN_MAX + 1];
  char *flipped = malloc(n);
  size_t len = 0, w = 0;
  memcpy(flipped, tok, n);
  flipped[n / 2] = flipped[n / 2] == 'A' ? 'B' : 'A';
  ORACLE(check(salt, kdf, flipped, n, again, &len) == FSEC_ITSD_INVALID);
  free(flipped);
  if (fsec_itsd_sign(&keys[1], salt, strlen(salt), kdf, json, jlen, TS,
                     signed_tok, sizeof signed_tok, &w) != FSEC_OK)
    return; /* too long once written out */
  ORACLE(check(salt, kdf, signed_tok, w, again, &len) == FSEC_ITSD_VALID);
  ORACLE(len == jlen && memcmp(again, json, jlen) == 0);
}

static void as_credential(const char *tok, size_t n) {
  static unsigned char json[CAP];
  static const char *salts[2] = {"remember-salt", "cookie-session"};
  size_t i, len = 0, plen = 0;
  int st;
  for (i = 0; i < 2; i++) {
    fsec_itsd_kdf kdf = i ? FSEC_ITSD_HMAC : FSEC_ITSD_DJANGO_CONCAT;
    if (check(salts[i], kdf, tok, n, json, &len) == FSEC_ITSD_VALID)
      valid_token(salts[i], kdf, tok, n, json, len);
  }
  ORACLE(fsec_itsd_remember_verify(keys, 2, tok, n, &st, &plen) == FSEC_OK);
  ORACLE(st == FSEC_ITSD_INVALID || (st == FSEC_ITSD_VALID && plen < n));
}

static void as_payload(const unsigned char *json, size_t n) {
  static char tok[FSEC_ITSD_TOKEN_MAX + 1];
  static unsigned char back[CAP];
  size_t w = 0, len = 0;
  if (fsec_itsd_sign(&keys[1], "remember-salt", 13, FSEC_ITSD_DJANGO_CONCAT,
                     json, n, TS, tok, sizeof tok, &w) != FSEC_OK)
    return;
  ORACLE(w == strlen(tok));
  ORACLE(check("remember-salt", FSEC_ITSD_DJANGO_CONCAT, tok, w, back, &len) ==
         FSEC_ITSD_VALID);
  ORACLE(len == n && memcmp(back, json, n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0 || size > 2 * FSEC_ITSD_TOKEN_MAX) return 0;
  if (data[0] & 1)
    as_payload(data + 1, size - 1);
  else
    as_credential((const char *)data + 1, size - 1);
  return 0;
}
