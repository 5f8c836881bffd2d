/* test_codec.c: strict Base64 (one spelling per value, every error
 * path) and the hex digests, against known answers (RFC 4648 §10, FIPS
 * 180 "abc", BLAKE2b-128 as Python's hashlib computes it). */
#include "fsec.h"
#include "test.h"

#define STD FSEC_BASE64_STANDARD
#define NOPAD FSEC_BASE64_STANDARD_NOPAD
#define URL FSEC_BASE64_URLSAFE

/* decode s (NUL-terminated unless len given) and return the code; the
 * bytes land in out (capacity cap), their count in *n */
static int dec(int variant, const char *s, size_t len, char *out, size_t cap,
               size_t *n) {
  return fsec_base64_decode(variant, s, len, out, cap, n);
}

static void decodes(int variant, const char *s, const char *want) {
  char out[64];
  size_t n = 99;
  ASSERT_OK(dec(variant, s, strlen(s), out, sizeof out, &n));
  ASSERT_EQ(n, strlen(want));
  ASSERT(memcmp(out, want, n) == 0);
}

static void refuses(int variant, const char *s, size_t len) {
  char out[64];
  size_t n = 99;
  ASSERT_EQ(dec(variant, s, len, out, sizeof out, &n), FSEC_EINVAL);
  ASSERT_EQ(n, 0);
}
#define REFUSES(v, lit) refuses((v), (lit), sizeof(lit) - 1)

static void rfc4648_vectors_in_every_variant(void) {
  static const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  static const char *padded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  static const char *bare[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
  size_t i;
  for (i = 0; i < 7; i++) {
    char enc[32];
    decodes(STD, padded[i], plain[i]);
    decodes(NOPAD, bare[i], plain[i]);
    decodes(URL, bare[i], plain[i]);
    ASSERT_EQ(fsec_base64_encoded_len(STD, strlen(plain[i])), strlen(padded[i]));
    ASSERT_EQ(fsec_base64_encoded_len(URL, strlen(plain[i])), strlen(bare[i]));
    ASSERT_OK(fsec_base64_encode(STD, plain[i], strlen(plain[i]), enc, sizeof enc));
    ASSERT_STREQ(enc, padded[i]);
    ASSERT_OK(fsec_base64_encode(NOPAD, plain[i], strlen(plain[i]), enc, sizeof enc));
    ASSERT_STREQ(enc, bare[i]);
    ASSERT_OK(fsec_base64_encode(URL, plain[i], strlen(plain[i]), enc, sizeof enc));
    ASSERT_STREQ(enc, bare[i]);
  }
}

/* The padded variant wants exactly the padding; the others none. */
static void padding_is_exact(void) {
  REFUSES(STD, "Zg");    /* missing */
  REFUSES(STD, "Zg=");   /* short */
  REFUSES(STD, "Zg==="); /* extra */
  REFUSES(STD, "Zm9v="); /* where none is due */
  REFUSES(STD, "Z===");
  REFUSES(STD, "=");
  REFUSES(NOPAD, "Zg==");
  REFUSES(URL, "Zg==");
  REFUSES(URL, "Zm8=");
  REFUSES(STD, "Zg==Zg=="); /* padding then more */
}

/* '+' '/' belong to the standard alphabet, '-' '_' to the url-safe one:
 * bytes fb ff spell "-_8" in one and "+/8" in the other. */
static void each_variant_has_its_alphabet(void) {
  char enc[8];
  decodes(URL, "-_8", "\xfb\xff");
  decodes(NOPAD, "+/8", "\xfb\xff");
  decodes(STD, "+/8=", "\xfb\xff");
  REFUSES(URL, "+/8");
  REFUSES(NOPAD, "-_8");
  REFUSES(STD, "-_8=");
  ASSERT_OK(fsec_base64_encode(URL, "\xfb\xff", 2, enc, sizeof enc));
  ASSERT_STREQ(enc, "-_8");
  ASSERT_OK(fsec_base64_encode(STD, "\xfb\xff", 2, enc, sizeof enc));
  ASSERT_STREQ(enc, "+/8=");
}

/* Unused low bits set, a lone last character, whitespace, NUL, bytes >=
 * 0x80 (which libsodium alone would read as '/' or '_'): refused. */
static void one_spelling(void) {
  decodes(URL, "Zg", "f");
  REFUSES(URL, "Zh"); /* leftover bits */
  REFUSES(STD, "Zh==");
  REFUSES(URL, "Zm9vY"); /* 1 mod 4 */
  REFUSES(URL, "Zm9v\n");
  REFUSES(URL, " Zm9v");
  REFUSES(URL, "Zm 9v");
  REFUSES(STD, "Zm9v\r\n");
  REFUSES(URL, "Zm9v\0");
  REFUSES(URL, "Zm\0v");
  REFUSES(URL, "Zm9\xff");
  REFUSES(NOPAD, "Zm9\xaf");
  REFUSES(STD, "Zm9\xaf");
  REFUSES(URL, "\xdf\xdf\xdf\xdf");
}

/* Output that would not fit is ETOOLONG, not a wrong answer or an
 * overflow; a buffer exactly as large as the bytes is enough. */
static void over_long_input(void) {
  char in[4096], out[64];
  size_t n = 99;
  memset(in, 'A', sizeof in);
  ASSERT_EQ(dec(URL, in, sizeof in, out, sizeof out, &n), FSEC_ETOOLONG);
  ASSERT_EQ(n, 0);
  ASSERT_EQ(dec(STD, "Zm9vYmFy", 8, out, 5, &n), FSEC_ETOOLONG);
  ASSERT_OK(dec(STD, "Zm9vYmFy", 8, out, 6, &n));
  ASSERT_EQ(n, 6);
  ASSERT_OK(dec(URL, "", 0, NULL, 0, &n)); /* no bytes need no buffer */
  ASSERT_EQ(n, 0);
}

/* A failed decode leaves no partial secret behind. */
static void failure_wipes_the_output(void) {
  char out[16];
  size_t n, i;
  memset(out, 'x', sizeof out);
  ASSERT_EQ(dec(STD, "c2VjcmV0!", 9, out, sizeof out, &n), FSEC_EINVAL);
  for (i = 0; i < sizeof out; i++) ASSERT_EQ(out[i], 0);
}

static void misuse_is_einval(void) {
  char out[16];
  size_t n;
  ASSERT_EQ(fsec_base64_decode(0, "Zg", 2, out, sizeof out, &n), FSEC_EINVAL);
  ASSERT_EQ(fsec_base64_decode(99, "Zg", 2, out, sizeof out, &n), FSEC_EINVAL);
  ASSERT_EQ(fsec_base64_decode(URL, NULL, 2, out, sizeof out, &n), FSEC_EINVAL);
  ASSERT_EQ(fsec_base64_decode(URL, "Zg", 2, NULL, 4, &n), FSEC_EINVAL);
  ASSERT_EQ(fsec_base64_encoded_len(0, 3), 0);
  ASSERT_EQ(fsec_base64_encode(0, "f", 1, out, sizeof out), FSEC_EINVAL);
  ASSERT_EQ(fsec_base64_encode(URL, NULL, 1, out, sizeof out), FSEC_EINVAL);
  ASSERT_EQ(fsec_base64_encode(STD, "f", 1, out, 4), FSEC_EINVAL); /* no room for NUL */
  ASSERT_OK(fsec_base64_encode(STD, "f", 1, out, 5));
  ASSERT_STREQ(out, "Zg==");
}

static void digests_match_known_answers(void) {
  char h[FSEC_DIGEST_HEX_BYTES], s[FSEC_SHA1_HEX_BYTES];
  const char k16[] = "kkkkkkkkkkkkkkkk";
  char k64[64], k65[65];
  memset(k64, 'k', sizeof k64);
  memset(k65, 'k', sizeof k65);
  ASSERT_OK(fsec_digest_hex("", 0, NULL, 0, h));
  ASSERT_STREQ(h, "cae66941d9efbd404e4d88758ea67670");
  ASSERT_OK(fsec_digest_hex("abc", 3, NULL, 0, h));
  ASSERT_STREQ(h, "cf4ab791c62b8d2b2109c90275287816");
  ASSERT_OK(fsec_digest_hex("abc", 3, k16, 16, h));
  ASSERT_STREQ(h, "afec5971bc113d6df7d55ca0df1aba7f");
  ASSERT_OK(fsec_digest_hex("abc", 3, k64, 64, h));
  ASSERT_STREQ(h, "402d1d330dde5f7d1d9bbbe4e636aaf6");
  ASSERT_EQ(fsec_digest_hex("abc", 3, k16, 15, h), FSEC_EINVAL);
  ASSERT_EQ(fsec_digest_hex("abc", 3, k65, 65, h), FSEC_EINVAL);
  ASSERT_EQ(fsec_digest_hex(NULL, 3, NULL, 0, h), FSEC_EINVAL);
  ASSERT_OK(fsec_sha1_hex("abc", 3, s));
  ASSERT_STREQ(s, "A9993E364706816ABA3E25717850C26C9CD0D89D");
  ASSERT_OK(fsec_sha1_hex("", 0, s));
  ASSERT_STREQ(s, "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709");
  ASSERT_EQ(fsec_sha1_hex(NULL, 1, s), FSEC_EINVAL);
}

static void equal_compares_whole_values(void) {
  ASSERT_EQ(fsec_equal("abc", 3, "abc", 3), 1);
  ASSERT_EQ(fsec_equal("abc", 3, "abd", 3), 0);
  ASSERT_EQ(fsec_equal("abc", 3, "xbc", 3), 0);
  ASSERT_EQ(fsec_equal("abc", 3, "abcd", 4), 0);  /* a prefix is not equal */
  ASSERT_EQ(fsec_equal("a\0b", 3, "a\0c", 3), 0); /* past a NUL too */
  ASSERT_EQ(fsec_equal("", 0, "", 0), 1);
  ASSERT_EQ(fsec_equal(NULL, 1, "a", 1), 0);
}

int main(void) {
  RUN(rfc4648_vectors_in_every_variant);
  RUN(padding_is_exact);
  RUN(each_variant_has_its_alphabet);
  RUN(one_spelling);
  RUN(over_long_input);
  RUN(failure_wipes_the_output);
  RUN(misuse_is_einval);
  RUN(digests_match_known_answers);
  RUN(equal_compares_whole_values);
  return 0;
}
