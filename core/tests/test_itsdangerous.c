/* test_itsdangerous.c: Flask's and Flask-Security's signed values against
 * the worked examples A-F of the team's reference (wave2.md section 1.7,
 * computed with itsdangerous 2.1.2, Flask 2.2.2 and Flask-Login 0.6.2 and
 * rechecked with openssl), then tampering, age, keys and hostile input. */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>
#include <zlib.h>

#include "fsec.h"
#include "fsec/itsdangerous.h"
#include "test.h"

#define K "fsec-test-secret-key"
#define TS INT64_C(1700000000)
#define FS "remember-salt"
#define CS "cookie-session"

#define TOK_A "WyJ1MSJd.ZVPxAA.FMXXPm1Fly0AlaJVSL0fHA9zMco"
#define JSON_A "[\"u1\"]"
#define TOK_B ".eJyLVjIwNDI2MTUzt7BMTEpOSU1D5yvFAgColQnB.ZVPxAA.NzIgoy0JYTIpxWMNof66-jFzFrU"
#define JSON_B "[\"0123456789abcdef0123456789abcdef\"]"
#define TOK_C ".eJyrVipLLVKyUjJV0lEqzUwBsgwMjYxNTM3MLSwTk5JTUtPQ-UCFacXxBYmJSlaG5gZQoGeqo5RaUaBkZVALAIgWFbc.ZVPxAA.eq0aO4yqLmo5uxPIit_AvksEJXk"
#define JSON_C "{\"ver\":\"5\",\"uid\":\"0123456789abcdef0123456789abcdef\",\"fs_paa\":1700000000.5,\"exp\":0}"
#define TOK_D ".eJyrVopPK0otzlCyKikqTdVRii8tTi2Kz0xRslIqNVTSUUorjk9OBnKKU0sgvILERCUrQ3MDKNAzrQUA5AIUIw.ZVPxAA.hD1Gg2BF4Y3iUrXh9UliIDhu_5A"
#define JSON_D "{\"_fresh\":true,\"_user_id\":\"u1\",\"fs_cc\":\"set\",\"fs_paa\":1700000000.5}"
#define COOKIE_F "u1|47ca08b3132bd702a3f821b7905b507013140fef5aced6718911fd8b122fbdc35b8e18541346a94c299d32bec3f55fd5041a89bae68f27d51e17d8bd16155108"

static const fsec_itsd_key KEY = {K, sizeof K - 1};

typedef struct result {
  int status;
  unsigned char json[4096];
  size_t len;
  int64_t ts;
  size_t key;
} result;

static int check(const fsec_itsd_key *keys, size_t n, const char *salt,
                 fsec_itsd_kdf kdf, const char *tok, size_t tlen,
                 int64_t max_age, int64_t now, result *r) {
  memset(r, 0, sizeof *r);
  r->key = 99;
  ASSERT_OK(fsec_itsd_verify(keys, n, salt, strlen(salt), kdf, tok, tlen,
                             max_age, now, &r->status, r->json,
                             sizeof r->json, &r->len, &r->ts, &r->key));
  return r->status;
}

static int check_s(const char *salt, fsec_itsd_kdf kdf, const char *tok,
                   int64_t max_age, result *r) {
  return check(&KEY, 1, salt, kdf, tok, strlen(tok), max_age, TS + 10, r);
}

static void expect_json(const result *r, const char *json) {
  ASSERT_EQ(r->len, strlen(json));
  ASSERT(memcmp(r->json, json, r->len) == 0);
  ASSERT_EQ(r->ts, TS);
}

static void vectors_verify(void) {
  result r;
  ASSERT_EQ(check_s(FS, FSEC_ITSD_DJANGO_CONCAT, TOK_A, -1, &r), FSEC_ITSD_VALID);
  expect_json(&r, JSON_A);
  ASSERT_EQ(r.key, 0);
  ASSERT_EQ(check_s(FS, FSEC_ITSD_DJANGO_CONCAT, TOK_B, -1, &r), FSEC_ITSD_VALID);
  expect_json(&r, JSON_B);
  ASSERT_EQ(check_s(FS, FSEC_ITSD_DJANGO_CONCAT, TOK_C, 3600, &r), FSEC_ITSD_VALID);
  expect_json(&r, JSON_C);
  ASSERT_EQ(check_s(CS, FSEC_ITSD_HMAC, TOK_D, 2678400, &r), FSEC_ITSD_VALID);
  expect_json(&r, JSON_D);
}

static void sign_one(const char *salt, fsec_itsd_kdf kdf, const char *json,
                     const char *want) {
  char out[1024];
  size_t n = 0;
  ASSERT_OK(fsec_itsd_sign(&KEY, salt, strlen(salt), kdf,
                           (const unsigned char *)json, strlen(json), TS, out,
                           sizeof out, &n));
  ASSERT_EQ(n, strlen(out));
  ASSERT_STREQ(out, want);
}

/* itsdangerous' own bytes, compression decision included (same zlib). */
static void vectors_sign(void) {
  sign_one(FS, FSEC_ITSD_DJANGO_CONCAT, JSON_A, TOK_A);
  sign_one(FS, FSEC_ITSD_DJANGO_CONCAT, JSON_B, TOK_B);
  sign_one(FS, FSEC_ITSD_DJANGO_CONCAT, JSON_C, TOK_C);
  sign_one(CS, FSEC_ITSD_HMAC, JSON_D, TOK_D);
}

static void vector_remember(void) {
  char out[256];
  size_t n = 0, plen = 99;
  int st = -1;
  ASSERT_OK(fsec_itsd_remember_verify(&KEY, 1, COOKIE_F, strlen(COOKIE_F), &st, &plen));
  ASSERT_EQ(st, FSEC_ITSD_VALID);
  ASSERT_EQ(plen, 2);
  ASSERT_OK(fsec_itsd_remember_sign(&KEY, "u1", 2, out, sizeof out, &n));
  ASSERT_STREQ(out, COOKIE_F);
  ASSERT_EQ(n, strlen(COOKIE_F));
}

/* Every character changed to every other base64url one (and a few
 * others) is refused: signature, payload and timestamp alike. */
static void every_position_tampered(const char *salt, fsec_itsd_kdf kdf,
                                    const char *tok) {
  static const char alt[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ";
  char buf[512];
  size_t i, j, n = strlen(tok);
  result r;
  for (i = 0; i < n; i++) {
    for (j = 0; j < sizeof alt - 1; j++) {
      if (alt[j] == tok[i]) continue;
      memcpy(buf, tok, n);
      buf[i] = alt[j];
      ASSERT_EQ(check(&KEY, 1, salt, kdf, buf, n, -1, TS, &r), FSEC_ITSD_INVALID);
      ASSERT_EQ(r.len, 0);
    }
  }
}

static void tampered(void) {
  every_position_tampered(FS, FSEC_ITSD_DJANGO_CONCAT, TOK_A);
  every_position_tampered(FS, FSEC_ITSD_DJANGO_CONCAT, TOK_B);
  every_position_tampered(CS, FSEC_ITSD_HMAC, TOK_D);
}

static void remember_tampered(void) {
  char buf[256];
  size_t i, n = strlen(COOKIE_F), plen;
  int st;
  for (i = 0; i < n; i++) {
    memcpy(buf, COOKIE_F, n);
    buf[i] = buf[i] == 'a' ? 'b' : 'a';
    ASSERT_OK(fsec_itsd_remember_verify(&KEY, 1, buf, n, &st, &plen));
    ASSERT_EQ(st, FSEC_ITSD_INVALID);
  }
  /* uppercase hex is refused, as Flask-Login's text compare does */
  memcpy(buf, COOKIE_F, n);
  for (i = 3; i < n; i++)
    if (buf[i] >= 'a' && buf[i] <= 'f') buf[i] = (char)(buf[i] - 32);
  ASSERT_OK(fsec_itsd_remember_verify(&KEY, 1, buf, n, &st, &plen));
  ASSERT_EQ(st, FSEC_ITSD_INVALID);
  /* truncated, extended, no bar */
  ASSERT_OK(fsec_itsd_remember_verify(&KEY, 1, COOKIE_F, n - 1, &st, &plen));
  ASSERT_EQ(st, FSEC_ITSD_INVALID);
  ASSERT_OK(fsec_itsd_remember_verify(&KEY, 1, COOKIE_F + 3, n - 3, &st, &plen));
  ASSERT_EQ(st, FSEC_ITSD_INVALID);
}

static void age_rules(void) {
  result r;
  /* age 10: within 10, past 9; a future issue time is expired too */
  ASSERT_EQ(check(&KEY, 1, FS, FSEC_ITSD_DJANGO_CONCAT, TOK_A, strlen(TOK_A), 10, TS + 10, &r), FSEC_ITSD_VALID);
  ASSERT_EQ(check(&KEY, 1, FS, FSEC_ITSD_DJANGO_CONCAT, TOK_A, strlen(TOK_A), 9, TS + 10, &r), FSEC_ITSD_EXPIRED);
  expect_json(&r, JSON_A);
  ASSERT_EQ(check(&KEY, 1, FS, FSEC_ITSD_DJANGO_CONCAT, TOK_A, strlen(TOK_A), 3600, TS - 1, &r), FSEC_ITSD_EXPIRED);
  /* no max_age (TOKEN_MAX_AGE None): neither age nor future matters */
  ASSERT_EQ(check(&KEY, 1, FS, FSEC_ITSD_DJANGO_CONCAT, TOK_A, strlen(TOK_A), -1, TS - 100, &r), FSEC_ITSD_VALID);
  ASSERT_EQ(check(&KEY, 1, FS, FSEC_ITSD_DJANGO_CONCAT, TOK_A, strlen(TOK_A), -1, TS + 900000000, &r), FSEC_ITSD_VALID);
}

static void keys_and_salts(void) {
  static const fsec_itsd_key other = {"another-key", 11};
  fsec_itsd_key both[2];
  result r;
  int st;
  size_t plen;
  ASSERT_EQ(check(&other, 1, FS, FSEC_ITSD_DJANGO_CONCAT, TOK_A, strlen(TOK_A), -1, TS, &r), FSEC_ITSD_INVALID);
  ASSERT_EQ(check_s("login-salt", FSEC_ITSD_DJANGO_CONCAT, TOK_A, -1, &r), FSEC_ITSD_INVALID);
  /* the other key derivation, and the session's salt, are other keys */
  ASSERT_EQ(check_s(FS, FSEC_ITSD_HMAC, TOK_A, -1, &r), FSEC_ITSD_INVALID);
  ASSERT_EQ(check_s(FS, FSEC_ITSD_DJANGO_CONCAT, TOK_D, -1, &r), FSEC_ITSD_INVALID);
  /* a fallback key verifies, and says which it was */
  both[0] = other;
  both[1] = KEY;
  ASSERT_EQ(check(both, 2, FS, FSEC_ITSD_DJANGO_CONCAT, TOK_A, strlen(TOK_A), -1, TS, &r), FSEC_ITSD_VALID);
  ASSERT_EQ(r.key, 1);
  ASSERT_OK(fsec_itsd_remember_verify(both, 2, COOKIE_F, strlen(COOKIE_F), &st, &plen));
  ASSERT_EQ(st, FSEC_ITSD_VALID);
  ASSERT_OK(fsec_itsd_remember_verify(&other, 1, COOKIE_F, strlen(COOKIE_F), &st, &plen));
  ASSERT_EQ(st, FSEC_ITSD_INVALID);
}

/* Flask-Login's key is latin-1: "é" signs as one byte 0xE9, and a key
 * with a character past U+00FF can verify nothing. */
static void remember_latin1_key(void) {
  static const fsec_itsd_key utf8 = {"cl\xc3\xa9", 4};
  static const fsec_itsd_key wide = {"\xe2\x82\xac", 3};
  char out[256];
  size_t n, plen;
  int st;
  ASSERT_OK(fsec_itsd_remember_sign(&utf8, "u1", 2, out, sizeof out, &n));
  /* /usr/bin/python3: hmac.new("clé".encode("latin1"), b"u1", sha512) */
  ASSERT(strncmp(out, "u1|63efcc56", 11) == 0);
  ASSERT_OK(fsec_itsd_remember_verify(&utf8, 1, out, n, &st, &plen));
  ASSERT_EQ(st, FSEC_ITSD_VALID);
  ASSERT_EQ(fsec_itsd_remember_sign(&wide, "u1", 2, out, sizeof out, &n), FSEC_EINVAL);
  ASSERT_OK(fsec_itsd_remember_verify(&wide, 1, COOKIE_F, strlen(COOKIE_F), &st, &plen));
  ASSERT_EQ(st, FSEC_ITSD_INVALID);
}

/* tok (NUL-terminated, room for 28 more) gets ".SIG" under KEY and salt
 * FS, computed here with OpenSSL alone: a token carrying any bytes. */
static void graft_sig(char *tok) {
  unsigned char dk[20], mac[20];
  unsigned int n = 0;
  EVP_MD_CTX *c = EVP_MD_CTX_new();
  size_t len = strlen(tok);
  ASSERT(c != NULL);
  ASSERT(EVP_DigestInit_ex(c, EVP_sha1(), NULL) && EVP_DigestUpdate(c, FS, strlen(FS)) &&
         EVP_DigestUpdate(c, "signer", 6) && EVP_DigestUpdate(c, K, strlen(K)) &&
         EVP_DigestFinal_ex(c, dk, &n));
  EVP_MD_CTX_free(c);
  ASSERT(HMAC(EVP_sha1(), dk, 20, (const unsigned char *)tok, len, mac, &n) != NULL);
  tok[len] = '.';
  sodium_bin2base64(tok + len + 1, 28, mac, 20, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* ".zlib(data)[+extra].ZVPxAA" and its signature */
static void compressed_token(const unsigned char *data, size_t n,
                             const unsigned char *extra, size_t extra_len,
                             char *tok, size_t cap) {
  static unsigned char z[8192];
  uLongf zlen = sizeof z - 16;
  size_t len;
  ASSERT_EQ(compress2(z, &zlen, data, n, 9), Z_OK);
  if (extra_len) memcpy(z + zlen, extra, extra_len);
  tok[0] = '.';
  sodium_bin2base64(tok + 1, cap - 1, z, zlen + extra_len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  len = strlen(tok);
  ASSERT(len + 8 + 28 < cap);
  memcpy(tok + len, ".ZVPxAA", 8);
  graft_sig(tok);
}

/* A signed payload that inflates past the caller's buffer is refused,
 * not truncated (a 1 MiB bomb in a 1.4 KB token); up to the cap it is
 * read; a stream with bytes after its end is refused. */
static void zlib_bomb(void) {
  static unsigned char zeros[1 << 20];
  static char tok[FSEC_ITSD_TOKEN_MAX + 64];
  static unsigned char out[1 << 20];
  size_t len = 0, key = 0;
  int64_t ts = 0;
  int st = -1;
  compressed_token(zeros, sizeof zeros, NULL, 0, tok, sizeof tok);
  ASSERT(strlen(tok) < 1500);
  ASSERT_OK(fsec_itsd_verify(&KEY, 1, FS, strlen(FS), FSEC_ITSD_DJANGO_CONCAT, tok, strlen(tok), -1, TS, &st, out, 4096, &len, &ts, &key));
  ASSERT_EQ(st, FSEC_ITSD_INVALID);
  ASSERT_EQ(len, 0);
  ASSERT_OK(fsec_itsd_verify(&KEY, 1, FS, strlen(FS), FSEC_ITSD_DJANGO_CONCAT, tok, strlen(tok), -1, TS, &st, out, sizeof out, &len, &ts, &key));
  ASSERT_EQ(st, FSEC_ITSD_VALID);
  ASSERT_EQ(len, sizeof zeros);
  compressed_token(zeros, 4096, NULL, 0, tok, sizeof tok);
  ASSERT_OK(fsec_itsd_verify(&KEY, 1, FS, strlen(FS), FSEC_ITSD_DJANGO_CONCAT, tok, strlen(tok), -1, TS, &st, out, 4096, &len, &ts, &key));
  ASSERT_EQ(st, FSEC_ITSD_VALID);
  ASSERT_OK(fsec_itsd_verify(&KEY, 1, FS, strlen(FS), FSEC_ITSD_DJANGO_CONCAT, tok, strlen(tok), -1, TS, &st, out, 4095, &len, &ts, &key));
  ASSERT_EQ(st, FSEC_ITSD_INVALID);
  compressed_token(zeros, 16, (const unsigned char *)"xy", 2, tok, sizeof tok);
  ASSERT_OK(fsec_itsd_verify(&KEY, 1, FS, strlen(FS), FSEC_ITSD_DJANGO_CONCAT, tok, strlen(tok), -1, TS, &st, out, 4096, &len, &ts, &key));
  ASSERT_EQ(st, FSEC_ITSD_INVALID);
  /* signed garbage where the zlib stream should be */
  strcpy(tok, ".QUJDRA.ZVPxAA");
  graft_sig(tok);
  ASSERT_OK(fsec_itsd_verify(&KEY, 1, FS, strlen(FS), FSEC_ITSD_DJANGO_CONCAT, tok, strlen(tok), -1, TS, &st, out, 4096, &len, &ts, &key));
  ASSERT_EQ(st, FSEC_ITSD_INVALID);
}

static void hostile_input(void) {
  static char big[FSEC_ITSD_TOKEN_MAX + 2];
  result r;
  memset(big, 'A', sizeof big);
  ASSERT_EQ(check(&KEY, 1, FS, FSEC_ITSD_DJANGO_CONCAT, big, sizeof big, -1, TS, &r), FSEC_ITSD_INVALID);
  ASSERT_EQ(check_s(FS, FSEC_ITSD_DJANGO_CONCAT, "", -1, &r), FSEC_ITSD_INVALID);
  ASSERT_EQ(check_s(FS, FSEC_ITSD_DJANGO_CONCAT, "...", -1, &r), FSEC_ITSD_INVALID);
  ASSERT_EQ(check_s(FS, FSEC_ITSD_DJANGO_CONCAT, "WyJ1MSJd.ZVPxAA.FMXXPm1Fly0AlaJVSL0fHA9zMco=", -1, &r), FSEC_ITSD_INVALID);
  /* NUL inside */
  ASSERT_EQ(check(&KEY, 1, FS, FSEC_ITSD_DJANGO_CONCAT, "WyJ1MSJd\0ZVPxAA.FMXXPm1Fly0AlaJVSL0fHA9zMco", 44, -1, TS, &r), FSEC_ITSD_INVALID);
}

static void misuse(void) {
  result r;
  int st;
  size_t n;
  char out[8];
  ASSERT_EQ(fsec_itsd_verify(NULL, 0, FS, 2, FSEC_ITSD_HMAC, "a", 1, -1, TS, &r.status, r.json, sizeof r.json, &r.len, &r.ts, NULL), FSEC_EINVAL);
  ASSERT_EQ(fsec_itsd_verify(&KEY, 1, FS, 2, (fsec_itsd_kdf)7, "a", 1, -1, TS, &r.status, r.json, sizeof r.json, &r.len, &r.ts, NULL), FSEC_EINVAL);
  ASSERT_EQ(fsec_itsd_remember_verify(&KEY, 0, "a", 1, &st, &n), FSEC_EINVAL);
  ASSERT_EQ(fsec_itsd_sign(&KEY, FS, 2, FSEC_ITSD_HMAC, (const unsigned char *)"[1]", 3, TS, out, sizeof out, &n), FSEC_ETOOLONG);
  ASSERT_EQ(out[0], '\0');
}

int main(void) {
  RUN(vectors_verify);
  RUN(vectors_sign);
  RUN(vector_remember);
  RUN(tampered);
  RUN(remember_tampered);
  RUN(age_rules);
  RUN(keys_and_salts);
  RUN(remember_latin1_key);
  RUN(zlib_bomb);
  RUN(hostile_input);
  RUN(misuse);
  return 0;
}
