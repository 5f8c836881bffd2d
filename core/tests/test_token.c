/* test_token.c: issue/verify round trips, purpose binding, expiry, skew,
 * key rotation, tampering and strict parsing. */
#include <sodium.h>

#include "b64url.h"
#include "fixtures.h"
#include "mac.h"
#include "token_vectors.h"

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

/* Tokens minted by the libsodium-based token.c still verify, with their
 * payload and iat, and still fail under another purpose or a flipped MAC
 * bit; and the new code mints the very same strings. */
static void recorded_old_tokens_verify(void) {
  fsec_engine *e[3];
  unsigned char want[400];
  char tok[1024], bad[1024];
  size_t i, n;
  result r;
  tv_payload(want, sizeof want);
  for (i = 0; i < 3; i++) e[i] = open_keys(TV_KEYS[i], NULL);
  for (i = 0; i < sizeof TOKEN_VECTORS / sizeof *TOKEN_VECTORS; i++) {
    const token_vector *v = &TOKEN_VECTORS[i];
    fsec_engine *k = e[v->key];
    if (verify(k, v->purpose, v->token, -1, NOW, &r) != FSEC_TOKEN_VALID)
      FAIL_AT("vector %zu (%s, %zu bytes) refused", i, v->purpose, v->len);
    ASSERT_EQ(r.len, v->len);
    ASSERT(memcmp(r.payload, want, v->len) == 0);
    ASSERT_EQ(r.iat, NOW);
    issue(k, v->purpose, "", NOW, tok, sizeof tok); /* warm the cache */
    ASSERT_OK(fsec_token_issue(k, v->purpose, strlen(v->purpose), want, v->len,
                               NOW, tok, sizeof tok, &n));
    ASSERT_STREQ(tok, v->token);
    ASSERT_EQ(verify(k, "other", v->token, -1, NOW, &r), FSEC_TOKEN_INVALID);
    ASSERT_EQ(verify(e[(v->key + 1) % 3], v->purpose, v->token, -1, NOW, &r),
              FSEC_TOKEN_INVALID);
    n = strlen(v->token);
    memcpy(bad, v->token, n + 1);
    bad[n - 3] = bad[n - 3] == 'A' ? 'B' : 'A'; /* inside the MAC */
    ASSERT_EQ(verify(k, v->purpose, bad, -1, NOW, &r), FSEC_TOKEN_INVALID);
  }
  for (i = 0; i < 3; i++) fsec_engine_close(e[i]);
}

/* The MAC helper is HMAC-SHA256: RFC 4231 test case 2, then libsodium's
 * HMAC for every key length 0..150 (the hashed-key branch above 64) and
 * every message length 0..200 (every block boundary of both hashes). */
static void hmac_matches_rfc4231_and_libsodium(void) {
  static const unsigned char rfc_mac[32] = {
      0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24,
      0x26, 0x08, 0x95, 0x75, 0xc7, 0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27,
      0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43};
  unsigned char key[150], msg[201], got[32], want[32];
  crypto_auth_hmacsha256_state st;
  fsec__hmac h;
  size_t kl, ml;
  fsec__hmac_key(&h, (const unsigned char *)"Jefe", 4);
  fsec__hmac_mac(&h, (const unsigned char *)"what do ya want for nothing?", 28,
                 got);
  ASSERT(memcmp(got, rfc_mac, 32) == 0);
  for (kl = 0; kl < sizeof key; kl++) key[kl] = (unsigned char)(kl * 7 + 1);
  for (ml = 0; ml < sizeof msg; ml++) msg[ml] = (unsigned char)(ml * 13 + 5);
  for (kl = 0; kl <= sizeof key; kl++) {
    fsec__hmac_key(&h, key, kl);
    for (ml = 0; ml < sizeof msg; ml++) {
      crypto_auth_hmacsha256_init(&st, key, kl);
      crypto_auth_hmacsha256_update(&st, msg, ml);
      crypto_auth_hmacsha256_final(&st, want);
      fsec__hmac_mac(&h, msg, ml, got);
      if (memcmp(got, want, 32) != 0)
        FAIL_AT("HMAC differs: key %zu bytes, message %zu bytes", kl, ml);
    }
  }
}

/* 1 when the token decoder and fsec_base64_decode (URL-safe) agree on s:
 * both refuse it, or both accept it with the same bytes. */
static int decoders_agree(const char *s, size_t n) {
  unsigned char a[128], b[128];
  size_t alen = 0, blen = 0;
  int ra = fsec__b64url_decode(s, n, a, sizeof a, &alen);
  int rb = fsec_base64_decode(FSEC_BASE64_URLSAFE, s, n, b, sizeof b, &blen);
  if ((ra == 0) != (rb == FSEC_OK)) return 0;
  return ra != 0 ? alen == 0 : alen == blen && memcmp(a, b, alen) == 0;
}

/* The token decoder speaks exactly fsec/codec.h's strict base64url:
 * every string of up to 2 bytes, then 300000 pseudo-random strings of 0
 * to 12 characters drawn mostly from the alphabet, with '=', '+', '/',
 * space, NUL and bytes >= 0x80 mixed in (xorshift: reproducible); then
 * 100000 of 0 to 150 characters (token sizes), valid but for at most
 * one character anywhere. */
static void token_decoder_is_strict_base64url(void) {
  static const char pool[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
      "AQgw=+/ \0\x80\xff\x7f.";
  uint32_t x = 2463534242u;
  char s[16];
  unsigned char out[4];
  size_t outlen = 9;
  int i, j, n;
  for (i = 0; i < 65536 + 256 + 1; i++) {
    n = i == 0 ? 0 : i <= 256 ? 1
                              : 2;
    s[0] = (char)(i - 1);
    s[1] = (char)((i - 257) >> 8);
    s[0] = n == 2 ? (char)(i - 257) : s[0];
    if (!decoders_agree(s, (size_t)n)) FAIL_AT("decoders differ on case %d", i);
  }
  for (i = 0; i < 300000; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    n = (int)(x % 13);
    for (j = 0; j < n; j++) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      s[j] = pool[x % (sizeof pool - 1)];
    }
    if (!decoders_agree(s, (size_t)n))
      FAIL_AT("decoders differ on a %d-character string (round %d)", n, i);
  }
  for (i = 0; i < 100000; i++) {
    static const char alpha[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char big[151];
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    n = (int)(x % 151);
    for (j = 0; j < n; j++) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      big[j] = alpha[x % 64];
    }
    if (n && i % 2) { /* one character from the pool: maybe bad */
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      big[x % (uint32_t)n] = pool[(x >> 8) % (sizeof pool - 1)];
    }
    if (!decoders_agree(big, (size_t)n))
      FAIL_AT("decoders differ on a %d-character string (round %d)", n, i);
  }
  /* the capacity is a hard limit */
  ASSERT_EQ(fsec__b64url_decode("AAAAAA", 6, out, 3, &outlen), -1);
  ASSERT_EQ(outlen, 0);
  ASSERT_EQ(fsec__b64url_decode("AAAAAA", 6, out, 4, &outlen), 0);
  ASSERT_EQ(outlen, 4);
}

/* The fast decoder (16 characters a step with SSSE3, the last step
 * overlapping the one before) and the portable table decoder agree on
 * every byte value at every position of strings of 16 to 70 characters
 * (every length mod 16, and every position in a step), and on 200000
 * alphabet strings of 0 to 300 characters, half with one byte from
 * anywhere (out is unspecified on failure, so only the answers are
 * compared then); and neither writes a byte past what the string decodes
 * to, even when refusing it. */
static void fast_and_portable_decoders_agree(void) {
  static const char alpha[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  char s[301];
  unsigned char a[240], b[240];
  size_t alen, blen, n, i, need;
  uint32_t x = 88172645u;
  int c, ra, rb, round;
  for (n = 16; n <= 70; n++) {
    if (n % 4 == 1) continue;
    for (i = 0; i < n; i++) s[i] = alpha[(i * 37 + n) % 64];
    for (i = 0; i < n; i++) {
      char keep = s[i];
      for (c = 0; c < 256; c++) {
        s[i] = (char)c;
        memset(a, 0xEE, sizeof a);
        memset(b, 0xEE, sizeof b);
        ra = fsec__b64url_decode(s, n, a, sizeof a, &alen);
        rb = fsec__b64url_decode_portable(s, n, b, sizeof b, &blen);
        if (ra != rb || alen != blen ||
            (ra == 0 && memcmp(a, b, sizeof a) != 0))
          FAIL_AT("decoders differ: %zu chars, byte 0x%02x at %zu", n, c, i);
      }
      s[i] = keep;
    }
  }
  for (round = 0; round < 200000; round++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    n = x % 301;
    for (i = 0; i < n; i++) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      s[i] = alpha[x % 64];
    }
    if (n && round % 2) s[(x >> 8) % n] = (char)(x >> 16);
    need = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
    memset(a, 0xEE, sizeof a);
    memset(b, 0xEE, sizeof b);
    ra = fsec__b64url_decode(s, n, a, sizeof a, &alen);
    rb = fsec__b64url_decode_portable(s, n, b, sizeof b, &blen);
    if (ra != rb || alen != blen || (ra == 0 && memcmp(a, b, sizeof a) != 0))
      FAIL_AT("decoders differ on a %zu-character string (round %d)", n, round);
    for (i = need; i < sizeof a; i++) /* on failure too: b64url.h */
      if (a[i] != 0xEE || b[i] != 0xEE)
        FAIL_AT("byte %zu written past %zu (round %d)", i, need, round);
  }
}

/* A token refused for a bad character is refused as such wherever the
 * character is: before, inside and after the MAC, for the three offsets
 * of the MAC in its groups of 3 bytes (payloads of 38, 39 and 40 bytes). */
static void bad_character_anywhere_is_not_base64(void) {
  static const char bad_chars[] = "=+/ .\x80\xff";
  fsec_engine *e = open_engine(NULL);
  char payload[41], tok[256];
  size_t plen, n, i, j;
  result r;
  for (plen = 38; plen <= 40; plen++) {
    memset(payload, 'p', plen);
    payload[plen] = '\0';
    issue(e, "auth", payload, NOW, tok, sizeof tok);
    n = strlen(tok);
    ASSERT_EQ(verify(e, "auth", tok, 60, NOW, &r), FSEC_TOKEN_VALID);
    for (i = 0; i < n; i++) {
      for (j = 0; j < sizeof bad_chars - 1; j++) {
        char keep = tok[i];
        tok[i] = bad_chars[j];
        if (verify(e, "auth", tok, 60, NOW, &r) != FSEC_TOKEN_INVALID ||
            strstr(fsec_errmsg(e), "base64url") == NULL)
          FAIL_AT("payload %zu: 0x%02x at %zu: %s", plen,
                  (unsigned char)bad_chars[j], i, fsec_errmsg(e));
        ASSERT_EQ(r.len, 0);
        tok[i] = keep;
      }
    }
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
  RUN(recorded_old_tokens_verify);
  RUN(hmac_matches_rfc4231_and_libsodium);
  RUN(token_decoder_is_strict_base64url);
  RUN(fast_and_portable_decoders_agree);
  RUN(bad_character_anywhere_is_not_base64);
  return 0;
}
