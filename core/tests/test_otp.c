/* test_otp.c: TOTP codes (RFC 6238 Appendix B, the worked example of
 * Flask-Security's stored key), the window match, replay and format
 * outcomes, and passlib's Base32. */
#include "fsec.h"
#include "test.h"

/* wave2.md §2.4: the raw key Flask-Security stored for alice */
static const unsigned char KEY[20] = {0x42, 0x28, 0x65, 0x6c, 0x6d, 0xad, 0xb5,
                                      0x76, 0x6e, 0xad, 0xf5, 0x1e, 0x03, 0xa0,
                                      0x14, 0x62, 0x4c, 0x89, 0x91, 0xb2};
#define T0 1700000000
#define C0 56666666
static const char *const WINDOW[9] = {"973001", "847393", "367345",
                                      "011412", "984129", "308342",
                                      "831685", "071157", "918620"};

static int match_key(const void *key, size_t keylen, const char *code,
                     int64_t t, const fsec_totp_opts *o, int64_t *counter) {
  int result = -1;
  ASSERT_OK(fsec_totp_match(key, keylen, code, strlen(code), t, o, &result,
                            counter));
  return result;
}

static int match(const char *code, int64_t t, const fsec_totp_opts *o,
                 int64_t *counter) {
  return match_key(KEY, sizeof KEY, code, t, o, counter);
}

static void rfc6238_vectors(void) {
  static const struct {
    int64_t t;
    const char *sha1, *sha256, *sha512;
  } v[] = {{59, "94287082", "46119246", "90693936"},
           {1111111109, "07081804", "68084774", "25091201"},
           {1111111111, "14050471", "67062674", "99943326"},
           {1234567890, "89005924", "91819424", "93441116"},
           {2000000000, "69279037", "90698825", "38618901"},
           {20000000000LL, "65353130", "77737706", "47863826"}};
  const char *seed = "1234567890123456789012345678901234567890123456789012345678901234";
  size_t keylen[3] = {20, 32, 64}, i;
  int alg;
  char out[FSEC_OTP_CODE_BYTES];
  fsec_totp_opts o;
  fsec_totp_opts_init(&o);
  o.digits = 8;
  for (i = 0; i < sizeof v / sizeof v[0]; i++) {
    for (alg = FSEC_OTP_SHA1; alg <= FSEC_OTP_SHA512; alg++) {
      const char *want = alg == 0 ? v[i].sha1 : alg == 1 ? v[i].sha256
                                                         : v[i].sha512;
      int64_t c = -1;
      o.alg = alg;
      ASSERT_OK(fsec_totp_code(seed, keylen[alg], v[i].t, &o, out));
      ASSERT_STREQ(out, want);
      ASSERT_EQ(match_key(seed, keylen[alg], want, v[i].t, &o, &c), FSEC_TOTP_MATCH);
      ASSERT_EQ(c, v[i].t / 30);
    }
  }
}

static void worked_example_window(void) {
  fsec_totp_opts o;
  char out[FSEC_OTP_CODE_BYTES];
  int k;
  fsec_totp_opts_init(&o);
  ASSERT_OK(fsec_totp_code(KEY, sizeof KEY, T0, NULL, out));
  ASSERT_STREQ(out, "984129");
  for (k = -4; k <= 4; k++) {
    int64_t c = -1;
    ASSERT_OK(fsec_totp_code(KEY, sizeof KEY, T0 + 30 * k, &o, out));
    ASSERT_STREQ(out, WINDOW[k + 4]);
    ASSERT_EQ(match(WINDOW[k + 4], T0, &o, &c), FSEC_TOTP_MATCH);
    ASSERT_EQ(c, C0 + k);
  }
}

static void outside_window_refused(void) {
  fsec_totp_opts o;
  char before[FSEC_OTP_CODE_BYTES], after[FSEC_OTP_CODE_BYTES];
  int64_t c = 7;
  fsec_totp_opts_init(&o);
  ASSERT_OK(fsec_totp_code(KEY, sizeof KEY, T0 - 5 * 30, &o, before));
  ASSERT_OK(fsec_totp_code(KEY, sizeof KEY, T0 + 5 * 30, &o, after));
  ASSERT_EQ(match(before, T0, &o, &c), FSEC_TOTP_INVALID);
  ASSERT_EQ(c, 0);
  ASSERT_EQ(match(after, T0, &o, &c), FSEC_TOTP_INVALID);
  o.window = 5; /* and the same codes inside a wider window */
  ASSERT_EQ(match(before, T0, &o, &c), FSEC_TOTP_MATCH);
  ASSERT_EQ(c, C0 - 5);
  ASSERT_EQ(match(after, T0, &o, &c), FSEC_TOTP_MATCH);
  ASSERT_EQ(c, C0 + 5);
  o.window = 0;
  ASSERT_EQ(match("984129", T0, &o, &c), FSEC_TOTP_MATCH);
  ASSERT_EQ(match("308342", T0, &o, &c), FSEC_TOTP_INVALID);
  ASSERT_EQ(match("000000", T0, NULL, &c), FSEC_TOTP_INVALID);
}

static void replay(void) {
  fsec_totp_opts o;
  int64_t c = -1;
  fsec_totp_opts_init(&o);
  o.has_after = 1;
  o.after = C0; /* the current step was used */
  ASSERT_EQ(match("984129", T0, &o, &c), FSEC_TOTP_REPLAYED);
  ASSERT_EQ(match("011412", T0, &o, &c), FSEC_TOTP_REPLAYED); /* below */
  ASSERT_EQ(match("308342", T0, &o, &c), FSEC_TOTP_MATCH);    /* above */
  ASSERT_EQ(c, C0 + 1);
  o.after = C0 - 1;
  ASSERT_EQ(match("984129", T0, &o, &c), FSEC_TOTP_MATCH);
  ASSERT_EQ(c, C0);
  o.after = C0 + 100; /* every step of the window is used */
  ASSERT_EQ(match("918620", T0, &o, &c), FSEC_TOTP_REPLAYED);
  ASSERT_EQ(match("123456", T0, &o, &c), FSEC_TOTP_INVALID); /* no code at all */
}

static void formats(void) {
  int64_t c;
  ASSERT_EQ(match("984 129", T0, NULL, &c), FSEC_TOTP_MATCH);
  ASSERT_EQ(match(" 984-129=\t\n", T0, NULL, &c), FSEC_TOTP_MATCH);
  ASSERT_EQ(c, C0);
  ASSERT_EQ(match("98412", T0, NULL, &c), FSEC_TOTP_FORMAT);
  ASSERT_EQ(match("9841290", T0, NULL, &c), FSEC_TOTP_FORMAT);
  ASSERT_EQ(match("", T0, NULL, &c), FSEC_TOTP_FORMAT);
  ASSERT_EQ(match("98412a", T0, NULL, &c), FSEC_TOTP_FORMAT);
  ASSERT_EQ(match("+84129", T0, NULL, &c), FSEC_TOTP_FORMAT);
  /* U+0669 ARABIC-INDIC DIGIT NINE, and fullwidth 9 (U+FF19) */
  ASSERT_EQ(match("\xd9\xa9"
                  "84129",
                  T0, NULL, &c),
            FSEC_TOTP_FORMAT);
  ASSERT_EQ(match("\xef\xbc\x99"
                  "84129",
                  T0, NULL, &c),
            FSEC_TOTP_FORMAT);
  {
    int result = -1;
    /* a NUL inside is not whitespace */
    ASSERT_OK(fsec_totp_match(KEY, sizeof KEY, "984\0"
                                               "129",
                              7, T0, NULL,
                              &result, &c));
    ASSERT_EQ(result, FSEC_TOTP_FORMAT);
  }
}

static void bad_arguments(void) {
  fsec_totp_opts o;
  char out[FSEC_OTP_CODE_BYTES];
  int result;
  int64_t c;
  fsec_totp_opts_init(&o);
  ASSERT_EQ(fsec_totp_code(KEY, 0, T0, &o, out), FSEC_EINVAL);
  ASSERT_EQ(fsec_totp_code(KEY, sizeof KEY, -1, &o, out), FSEC_EINVAL);
  ASSERT_EQ(fsec_totp_code(KEY, sizeof KEY, INT64_MAX, &o, out), FSEC_EINVAL);
  ASSERT_EQ(fsec_totp_match(KEY, sizeof KEY, "984129", 6, FSEC_OTP_TIME_MAX + 1, &o, &result,
                            &c),
            FSEC_EINVAL);
  ASSERT_OK(fsec_totp_code(KEY, sizeof KEY, FSEC_OTP_TIME_MAX, &o, out));
  o.digits = 5;
  ASSERT_EQ(fsec_totp_code(KEY, sizeof KEY, T0, &o, out), FSEC_EINVAL);
  o.digits = 9;
  ASSERT_EQ(fsec_totp_match(KEY, sizeof KEY, "123456789", 9, T0, &o, &result, &c),
            FSEC_EINVAL);
  fsec_totp_opts_init(&o);
  o.step = 0;
  ASSERT_EQ(fsec_totp_code(KEY, sizeof KEY, T0, &o, out), FSEC_EINVAL);
  fsec_totp_opts_init(&o);
  o.window = FSEC_OTP_WINDOW_MAX + 1;
  ASSERT_EQ(fsec_totp_match(KEY, sizeof KEY, "984129", 6, T0, &o, &result, &c),
            FSEC_EINVAL);
  fsec_totp_opts_init(&o);
  o.alg = 3;
  ASSERT_EQ(fsec_totp_code(KEY, sizeof KEY, T0, &o, out), FSEC_EINVAL);
  /* seven digits: the 7-digit code of the same step */
  fsec_totp_opts_init(&o);
  o.digits = 7;
  ASSERT_OK(fsec_totp_code(KEY, sizeof KEY, T0, &o, out));
  ASSERT_EQ(strlen(out), 7);
  ASSERT_STREQ(out + 1, "984129");
}

static void early_steps(void) {
  /* near 1970 the window has no negative steps */
  int64_t c = -1;
  char out[FSEC_OTP_CODE_BYTES];
  ASSERT_OK(fsec_totp_code(KEY, sizeof KEY, 0, NULL, out));
  ASSERT_EQ(match(out, 45, NULL, &c), FSEC_TOTP_MATCH);
  ASSERT_EQ(c, 0);
}

static void secret(void) {
  unsigned char a[FSEC_OTP_SECRET_BYTES], b[FSEC_OTP_SECRET_BYTES];
  ASSERT_OK(fsec_otp_secret(a));
  ASSERT_OK(fsec_otp_secret(b));
  ASSERT(memcmp(a, b, sizeof a) != 0);
}

static void base32(void) {
  char enc[64];
  unsigned char dec[32];
  size_t n = 99;
  static const struct {
    const char *in, *out;
  } rfc[] = {{"", ""}, {"f", "MY"}, {"fo", "MZXQ"}, {"foo", "MZXW6"}, {"foob", "MZXW6YQ"}, {"fooba", "MZXW6YTB"}, {"foobar", "MZXW6YTBOI"}};
  size_t i;
  for (i = 0; i < sizeof rfc / sizeof rfc[0]; i++) {
    ASSERT_OK(fsec_base32_encode(rfc[i].in, strlen(rfc[i].in), enc, sizeof enc));
    ASSERT_STREQ(enc, rfc[i].out);
    ASSERT_EQ(fsec_base32_encoded_len(strlen(rfc[i].in)), strlen(rfc[i].out));
    ASSERT_OK(fsec_base32_decode(enc, strlen(enc), dec, sizeof dec, &n));
    ASSERT_EQ(n, strlen(rfc[i].in));
    ASSERT(memcmp(dec, rfc[i].in, n) == 0);
  }
  ASSERT_OK(fsec_base32_encode(KEY, sizeof KEY, enc, sizeof enc));
  ASSERT_STREQ(enc, "IIUGK3DNVW2XM3VN6UPAHIAUMJGITENS");
  ASSERT_EQ(fsec_base32_encode(KEY, sizeof KEY, enc, 32), FSEC_EINVAL);
#define DEC(s) fsec_base32_decode(s, strlen(s), dec, sizeof dec, &n)
  /* passlib's spellings: case, 8 for B, 0 for O, spaces, padding */
  ASSERT_OK(DEC("iiugk3dnvw2xm3vn6upahiaumjgitens"));
  ASSERT(n == 20 && memcmp(dec, KEY, 20) == 0);
  ASSERT_OK(DEC("IIUG K3DN VW2X M3VN 6UPA HIAU MJGI TENS"));
  ASSERT(n == 20 && memcmp(dec, KEY, 20) == 0);
  ASSERT_OK(DEC("mzxw6ytb0i======"));
  ASSERT(n == 6 && memcmp(dec, "foobar", 6) == 0);
  ASSERT_OK(DEC("MZXW6YQ="));
  ASSERT_OK(DEC("8"
                "A"));
  ASSERT(n == 1 && dec[0] == 0x08);
  ASSERT_EQ(DEC("MZXW6YQ=="), FSEC_EINVAL); /* too much padding */
  ASSERT_EQ(DEC("MZXW6Y=Q"), FSEC_EINVAL);  /* data after padding */
  ASSERT_EQ(DEC("MZX"), FSEC_EINVAL);       /* no encoding is 3 long */
  ASSERT_EQ(DEC("M"), FSEC_EINVAL);
  ASSERT_EQ(DEC("MZXW61"), FSEC_EINVAL); /* 1 is not Base32 */
  ASSERT_EQ(DEC("MZXW-6YQ"), FSEC_EINVAL);
  ASSERT_EQ(DEC("MZ\xc3\x9f"), FSEC_EINVAL);
  ASSERT_EQ(n, 0);
  ASSERT_EQ(fsec_base32_decode("MZXW6YTBOI", 10, dec, 5, &n), FSEC_ETOOLONG);
#undef DEC
}

int main(void) {
  RUN(rfc6238_vectors);
  RUN(worked_example_window);
  RUN(outside_window_refused);
  RUN(replay);
  RUN(formats);
  RUN(bad_arguments);
  RUN(early_steps);
  RUN(secret);
  RUN(base32);
  return 0;
}
