/* test_token.c: issue/verify round trips, purpose binding, expiry, skew,
 * key rotation, tampering and strict parsing. */
#include "fixtures.h"

#define NOW INT64_C(1800000000)
#define PAYLOAD "{\"uid\":\"abc\",\"n\":1}"
#define PAYLOAD_ODD "{\"uid\":\"abcd\",\"n\":1}" /* 61 bytes: spare bits */

typedef struct result {
  int status;
  unsigned char payload[4096];
  size_t len;
  int64_t iat;
} result;

static int verify(fsec_engine *e, const char *purpose, const char *tok,
                  int64_t max_age, int64_t now, result *r) {
  memset(r, 0, sizeof *r);
  ASSERT_OK(fsec_token_verify(e, purpose, strlen(purpose), tok, strlen(tok),
                              max_age, now, &r->status, r->payload,
                              sizeof r->payload, &r->len, &r->iat));
  return r->status;
}

static void issue(fsec_engine *e, const char *purpose, const char *payload,
                  int64_t now, char *out, size_t outlen) {
  size_t n = 0;
  ASSERT_OK(fsec_token_issue(e, purpose, strlen(purpose),
                             (const unsigned char *)payload, strlen(payload),
                             now, out, outlen, &n));
  ASSERT_EQ(n, strlen(out));
  ASSERT_EQ(n, fsec_token_encoded_len(strlen(payload)));
}


static void round_trip_returns_payload_and_iat(void) {
  fsec_engine *e = open_engine(NULL);
  char tok[256];
  result r;
  issue(e, "confirm", PAYLOAD, NOW, tok, sizeof tok);
  ASSERT_EQ(verify(e, "confirm", tok, 3600, NOW + 10, &r), FSEC_TOKEN_VALID);
  ASSERT_EQ(r.len, strlen(PAYLOAD));
  ASSERT(memcmp(r.payload, PAYLOAD, r.len) == 0);
  ASSERT_EQ(r.iat, NOW);
  ASSERT_EQ(verify(e, "confirm", tok, -1, NOW + 999999999, &r),
            FSEC_TOKEN_VALID); /* no max age */
  fsec_engine_close(e);
}

static void empty_payload(void) {
  fsec_engine *e = open_engine(NULL);
  char tok[256];
  result r;
  issue(e, "csrf", "", NOW, tok, sizeof tok);
  ASSERT_EQ(verify(e, "csrf", tok, 60, NOW, &r), FSEC_TOKEN_VALID);
  ASSERT_EQ(r.len, 0);
  fsec_engine_close(e);
}

static void other_purpose_is_invalid(void) {
  fsec_engine *e = open_engine(NULL);
  char tok[256];
  result r;
  issue(e, "confirm", PAYLOAD, NOW, tok, sizeof tok);
  ASSERT_EQ(verify(e, "reset", tok, 3600, NOW, &r), FSEC_TOKEN_INVALID);
  ASSERT_EQ(r.len, 0); /* no data without a valid MAC */
  ASSERT_EQ(verify(e, "confirm ", tok, 3600, NOW, &r), FSEC_TOKEN_INVALID);
  ASSERT_EQ(verify(e, "confir", tok, 3600, NOW, &r), FSEC_TOKEN_INVALID);
  fsec_engine_close(e);
}

static void expired_only_with_valid_mac(void) {
  fsec_engine *e = open_engine(NULL);
  char tok[256];
  result r;
  issue(e, "reset", PAYLOAD, NOW, tok, sizeof tok);
  ASSERT_EQ(verify(e, "reset", tok, 3600, NOW + 3600, &r), FSEC_TOKEN_VALID);
  ASSERT_EQ(verify(e, "reset", tok, 3600, NOW + 3601, &r), FSEC_TOKEN_EXPIRED);
  ASSERT_EQ(r.len, strlen(PAYLOAD)); /* data still returned, as in FS */
  ASSERT_EQ(verify(e, "reset", tok, 0, NOW + 1, &r), FSEC_TOKEN_EXPIRED);
  tok[5] ^= 1;
  ASSERT_EQ(verify(e, "reset", tok, 3600, NOW + 3601, &r), FSEC_TOKEN_INVALID);
  fsec_engine_close(e);
}

static void future_iat_beyond_skew_is_invalid(void) {
  fsec_engine *e = open_engine(NULL);
  char tok[256];
  result r;
  issue(e, "login", PAYLOAD, NOW + FSEC_DEFAULT_TOKEN_SKEW, tok, sizeof tok);
  ASSERT_EQ(verify(e, "login", tok, 3600, NOW, &r), FSEC_TOKEN_VALID);
  issue(e, "login", PAYLOAD, NOW + FSEC_DEFAULT_TOKEN_SKEW + 1, tok,
        sizeof tok);
  ASSERT_EQ(verify(e, "login", tok, 3600, NOW, &r), FSEC_TOKEN_INVALID);
  ASSERT(strstr(fsec_errmsg(e), "future") != NULL);
  fsec_engine_close(e);
}

static void key_rotation_signs_first_verifies_all(void) {
  fsec_engine *old = open_keys(KEY_A, NULL);
  fsec_engine *rotated = open_keys(KEY_B, KEY_A);
  fsec_engine *newonly = open_keys(KEY_B, NULL);
  char t_old[256], t_new[256];
  result r;
  issue(old, "auth", PAYLOAD, NOW, t_old, sizeof t_old);
  issue(rotated, "auth", PAYLOAD, NOW, t_new, sizeof t_new);
  ASSERT_EQ(verify(rotated, "auth", t_old, 60, NOW, &r), FSEC_TOKEN_VALID);
  ASSERT_EQ(verify(rotated, "auth", t_new, 60, NOW, &r), FSEC_TOKEN_VALID);
  ASSERT_EQ(verify(newonly, "auth", t_new, 60, NOW, &r), FSEC_TOKEN_VALID);
  ASSERT_EQ(verify(old, "auth", t_new, 60, NOW, &r), FSEC_TOKEN_INVALID);
  ASSERT_EQ(verify(newonly, "auth", t_old, 60, NOW, &r), FSEC_TOKEN_INVALID);
  fsec_engine_close(old);
  fsec_engine_close(rotated);
  fsec_engine_close(newonly);
}

/* Every character change anywhere in the token is rejected. */
static void any_changed_character_is_invalid(void) {
  static const char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  fsec_engine *e = open_engine(NULL);
  char tok[256], bad[256];
  size_t i, j, n;
  result r;
  issue(e, "auth", PAYLOAD, NOW, tok, sizeof tok);
  n = strlen(tok);
  for (i = 0; i < n; i++) {
    for (j = 0; j < sizeof alphabet - 1; j += 7) {
      if (alphabet[j] == tok[i]) continue;
      memcpy(bad, tok, n + 1);
      bad[i] = alphabet[j];
      if (verify(e, "auth", bad, 60, NOW, &r) != FSEC_TOKEN_INVALID)
        FAIL_AT("token with char %zu changed to %c accepted", i, alphabet[j]);
      ASSERT_EQ(r.len, 0);
    }
  }
  fsec_engine_close(e);
}

static void strict_parsing(void) {
  fsec_engine *e = open_engine(NULL);
  char tok[256], bad[300];
  size_t n;
  result r;
  issue(e, "auth", PAYLOAD_ODD, NOW, tok, sizeof tok);
  n = strlen(tok);
  ASSERT(n % 4 != 0);                    /* so that the last char carries spare bits */
  snprintf(bad, sizeof bad, "%s=", tok); /* padding */
  ASSERT_EQ(verify(e, "auth", bad, 60, NOW, &r), FSEC_TOKEN_INVALID);
  snprintf(bad, sizeof bad, "%s.", tok); /* trailing garbage */
  ASSERT_EQ(verify(e, "auth", bad, 60, NOW, &r), FSEC_TOKEN_INVALID);
  snprintf(bad, sizeof bad, " %s", tok);
  ASSERT_EQ(verify(e, "auth", bad, 60, NOW, &r), FSEC_TOKEN_INVALID);
  memcpy(bad, tok, n + 1); /* standard alphabet instead of url-safe */
  bad[0] = '+';
  ASSERT_EQ(verify(e, "auth", bad, 60, NOW, &r), FSEC_TOKEN_INVALID);
  memcpy(bad, tok, n);
  bad[n] = '\0';
  bad[3] = '\0'; /* embedded NUL: length says more */
  ASSERT_EQ(fsec_token_verify(e, "auth", 4, bad, n, 60, NOW, &r.status, NULL, 0,
                              NULL, NULL),
            FSEC_OK);
  ASSERT_EQ(r.status, FSEC_TOKEN_INVALID);
  ASSERT_EQ(verify(e, "auth", "", 60, NOW, &r), FSEC_TOKEN_INVALID);
  ASSERT_EQ(verify(e, "auth", "AQ", 60, NOW, &r), FSEC_TOKEN_INVALID);
  fsec_engine_close(e);
}

/* Non-canonical spelling: same bytes, different spare bits. */
static void noncanonical_base64_is_invalid(void) {
  static const char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  fsec_engine *e = open_engine(NULL);
  char tok[256];
  size_t n;
  int idx, spare;
  result r;
  issue(e, "auth", PAYLOAD_ODD, NOW, tok, sizeof tok);
  n = strlen(tok);
  spare = (n % 4 == 2) ? 4 : 2; /* unused low bits in the last char */
  idx = (int)(strchr(alphabet, tok[n - 1]) - alphabet);
  ASSERT_EQ(idx % (1 << spare), 0);
  tok[n - 1] = alphabet[idx + 1]; /* set a spare bit: decodes the same */
  ASSERT_EQ(verify(e, "auth", tok, 60, NOW, &r), FSEC_TOKEN_INVALID);
  fsec_engine_close(e);
}

static void wrong_version_is_invalid(void) {
  fsec_engine *e = open_engine(NULL);
  char tok[256];
  result r;
  issue(e, "auth", PAYLOAD, NOW, tok, sizeof tok);
  ASSERT_EQ(tok[0], 'A'); /* 0x01 -> "AQ..." */
  tok[1] = 'g';           /* 0x02 */
  ASSERT_EQ(verify(e, "auth", tok, 60, NOW, &r), FSEC_TOKEN_INVALID);
  ASSERT(strstr(fsec_errmsg(e), "version") != NULL);
  fsec_engine_close(e);
}

static void length_caps(void) {
  fsec_engine *e = open_engine(NULL);
  size_t max = fsec_token_payload_max(FSEC_DEFAULT_TOKEN_MAX_LENGTH);
  unsigned char *p = malloc(max + 1);
  char *tok = malloc(FSEC_DEFAULT_TOKEN_MAX_LENGTH + 16);
  char *longtok = malloc(FSEC_DEFAULT_TOKEN_MAX_LENGTH + 2);
  result r;
  memset(p, 'x', max + 1);
  ASSERT_OK(fsec_token_issue(e, "auth", 4, p, max, NOW, tok,
                             FSEC_DEFAULT_TOKEN_MAX_LENGTH + 16, NULL));
  ASSERT(strlen(tok) <= FSEC_DEFAULT_TOKEN_MAX_LENGTH);
  ASSERT_EQ(verify(e, "auth", tok, 60, NOW, &r), FSEC_TOKEN_VALID);
  ASSERT_EQ(fsec_token_issue(e, "auth", 4, p, max + 1, NOW, tok,
                             FSEC_DEFAULT_TOKEN_MAX_LENGTH + 16, NULL),
            FSEC_ETOOLONG);
  memset(longtok, 'A', FSEC_DEFAULT_TOKEN_MAX_LENGTH + 1);
  longtok[FSEC_DEFAULT_TOKEN_MAX_LENGTH + 1] = '\0';
  ASSERT_EQ(verify(e, "auth", longtok, 60, NOW, &r), FSEC_TOKEN_INVALID);
  ASSERT(strstr(fsec_errmsg(e), "too long") != NULL);
  free(p);
  free(tok);
  free(longtok);
  fsec_engine_close(e);
}

static void purpose_and_buffer_misuse(void) {
  fsec_engine *e = open_engine(NULL);
  char tok[256], longp[FSEC_TOKEN_PURPOSE_MAX + 2];
  int status;
  memset(longp, 'p', sizeof longp - 1);
  longp[sizeof longp - 1] = '\0';
  ASSERT_EQ(fsec_token_issue(e, "", 0, NULL, 0, NOW, tok, sizeof tok, NULL),
            FSEC_EINVAL);
  ASSERT_EQ(fsec_token_issue(e, longp, strlen(longp), NULL, 0, NOW, tok,
                             sizeof tok, NULL),
            FSEC_EINVAL);
  ASSERT_EQ(fsec_token_issue(e, "a\0b", 3, NULL, 0, NOW, tok, sizeof tok,
                             NULL),
            FSEC_EINVAL);
  ASSERT_EQ(fsec_token_issue(e, "auth", 4, (const unsigned char *)"x", 1, NOW,
                             tok, 10, NULL),
            FSEC_EINVAL);
  ASSERT_EQ(fsec_token_verify(e, "", 0, "x", 1, 60, NOW, &status, NULL, 0,
                              NULL, NULL),
            FSEC_EINVAL);
  ASSERT_EQ(status, FSEC_TOKEN_INVALID);
  fsec_engine_close(e);
}

/* More purposes than the cache holds still sign and verify correctly. */
static void many_purposes(void) {
  fsec_engine *e = open_engine(NULL);
  char tok[40][256], purpose[16];
  result r;
  int i;
  for (i = 0; i < 40; i++) {
    snprintf(purpose, sizeof purpose, "p%d", i);
    issue(e, purpose, PAYLOAD, NOW, tok[i], sizeof tok[i]);
  }
  for (i = 0; i < 40; i++) {
    snprintf(purpose, sizeof purpose, "p%d", i);
    ASSERT_EQ(verify(e, purpose, tok[i], 60, NOW, &r), FSEC_TOKEN_VALID);
    snprintf(purpose, sizeof purpose, "p%d", (i + 1) % 40);
    ASSERT_EQ(verify(e, purpose, tok[i], 60, NOW, &r), FSEC_TOKEN_INVALID);
  }
  fsec_engine_close(e);
}

/* libsodium 1.0.18 decodes every byte >= 0x80 as '_' (found by
 * fuzz/fuzz_base64.c): a token re-spelled that way must still be refused,
 * whatever the byte. */
static void non_ascii_is_invalid(void) {
  fsec_engine *e = open_engine(NULL);
  char tok[256];
  const char *p;
  int c, found = 0;
  result r;
  for (c = 0; !found && c < 1000; c++) { /* a token with a '_' in it */
    char payload[64];
    snprintf(payload, sizeof payload, "{\"uid\":\"abc\",\"n\":%d}", c);
    issue(e, "auth", payload, NOW, tok, sizeof tok);
    found = strchr(tok, '_') != NULL;
  }
  ASSERT(found);
  p = strchr(tok, '_');
  ASSERT_EQ(verify(e, "auth", tok, 60, NOW, &r), FSEC_TOKEN_VALID);
  for (c = 0x80; c <= 0xff; c++) {
    tok[p - tok] = (char)c;
    ASSERT_EQ(verify(e, "auth", tok, 60, NOW, &r), FSEC_TOKEN_INVALID);
  }
  fsec_engine_close(e);
}

int main(void) {
  RUN(round_trip_returns_payload_and_iat);
  RUN(empty_payload);
  RUN(other_purpose_is_invalid);
  RUN(expired_only_with_valid_mac);
  RUN(future_iat_beyond_skew_is_invalid);
  RUN(key_rotation_signs_first_verifies_all);
  RUN(any_changed_character_is_invalid);
  RUN(strict_parsing);
  RUN(noncanonical_base64_is_invalid);
  RUN(non_ascii_is_invalid);
  RUN(wrong_version_is_invalid);
  RUN(length_caps);
  RUN(purpose_and_buffer_misuse);
  RUN(many_purposes);
  return 0;
}
