/* codec.c: strict Base64 over libsodium's codec, and hex digests
 * (fsec/codec.h). */
#include <string.h>

#include <openssl/sha.h>

#include "internal.h"

typedef char digest_key_range_matches_libsodium
    [FSEC_DIGEST_KEY_MIN == crypto_generichash_KEYBYTES_MIN &&
             FSEC_DIGEST_KEY_MAX == crypto_generichash_KEYBYTES_MAX
         ? 1
         : -1];

/* 1 when every byte of s is ASCII: the one ASCII guard of every decoder.
 * libsodium 1.0.18's Base64 decoder reads a byte >= 0x80 as '_' or '/'
 * (its table compares signed chars): refusing such input first keeps one
 * spelling per value. */
static int ascii(const char *s, size_t n) {
  unsigned char high = 0;
  size_t i;
  for (i = 0; i < n; i++) high |= (unsigned char)s[i];
  return !(high & 0x80);
}

/* libsodium's variant for ours, 0 for none. */
static int sodium_variant(int variant) {
  switch (variant) {
  case FSEC_BASE64_STANDARD: return sodium_base64_VARIANT_ORIGINAL;
  case FSEC_BASE64_STANDARD_NOPAD: return sodium_base64_VARIANT_ORIGINAL_NO_PADDING;
  case FSEC_BASE64_URLSAFE: return sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  default: return 0;
  }
}

size_t fsec_base64_encoded_len(int variant, size_t n) {
  int v = sodium_variant(variant);
  return v ? sodium_base64_ENCODED_LEN(n, v) - 1 : 0;
}

int fsec_base64_encode(int variant, const void *in, size_t n, char *out,
                       size_t outcap) {
  int v = sodium_variant(variant);
  if (!v || outcap < fsec_base64_encoded_len(variant, n) + 1 || (n && !in))
    return FSEC_EINVAL;
  sodium_bin2base64(out, outcap, in, n, v);
  return FSEC_OK;
}

/* The bytes s[0..len) would decode to, if well formed: padding aside,
 * 3 per 4 characters and 1 per character past the last group of 4, less
 * one. (libsodium's ERANGE also means "padding cut short": not usable.) */
static size_t decoded_len(const char *s, size_t len) {
  size_t m = len;
  while (m > 0 && len - m < 2 && s[m - 1] == '=') m--;
  return m / 4 * 3 + (m % 4 ? m % 4 - 1 : 0);
}

int fsec_base64_decode(int variant, const char *s, size_t len, void *out,
                       size_t cap, size_t *outlen) {
  const char *end = NULL;
  int v = sodium_variant(variant);
  *outlen = 0;
  if (!v || (len && !s) || (cap && !out)) return FSEC_EINVAL;
  if (len == 0) return FSEC_OK; /* "" is the one spelling of no bytes */
  if (decoded_len(s, len) > cap) return FSEC_ETOOLONG;
  if (!ascii(s, len)) return FSEC_EINVAL; /* one spelling (see ascii) */
  if (sodium_base642bin(out, cap, s, len, NULL, outlen, &end, v) == 0 &&
      end == s + len)
    return FSEC_OK;
  if (cap) sodium_memzero(out, cap); /* may be a password (Basic) */
  *outlen = 0;
  return FSEC_EINVAL;
}

void fsec_wipe(void *p, size_t n) {
  if (p && n) sodium_memzero(p, n);
}

static void hex(const unsigned char *b, size_t n, const char *digits, char *out) {
  size_t i;
  for (i = 0; i < n; i++) {
    out[2 * i] = digits[b[i] >> 4];
    out[2 * i + 1] = digits[b[i] & 15];
  }
  out[2 * n] = '\0';
}

int fsec_digest_hex(const void *s, size_t len, const void *key, size_t keylen,
                    char out[FSEC_DIGEST_HEX_BYTES]) {
  unsigned char h[FSEC_DIGEST_BYTES];
  if (key && (keylen < FSEC_DIGEST_KEY_MIN || keylen > FSEC_DIGEST_KEY_MAX))
    return FSEC_EINVAL;
  if (len && !s) return FSEC_EINVAL;
  if (crypto_generichash(h, sizeof h, s, len, key, key ? keylen : 0) != 0)
    return FSEC_ECRYPTO;
  hex(h, sizeof h, "0123456789abcdef", out);
  return FSEC_OK;
}

int fsec_sha1_hex(const void *s, size_t len, char out[FSEC_SHA1_HEX_BYTES]) {
  unsigned char h[SHA_DIGEST_LENGTH];
  if (len && !s) return FSEC_EINVAL;
  if (!SHA1(s, len, h)) return FSEC_ECRYPTO;
  hex(h, sizeof h, "0123456789ABCDEF", out);
  return FSEC_OK;
}

int fsec_equal(const void *a, size_t alen, const void *b, size_t blen) {
  if (alen != blen || (alen && (!a || !b))) return 0;
  return alen == 0 || sodium_memcmp(a, b, alen) == 0;
}
