/*
 * fsec/codec.h: strict Base64 and the digests fsec names things with.
 *
 * Every decoder here is strict, so that a value has exactly one spelling:
 * only the variant's alphabet (no whitespace, no byte >= 0x80), exactly
 * the padding the variant calls for, unused low bits zero, nothing after
 * the end. Tokens, password hashes and HTTP Basic credentials all decode
 * through it. Thread-safe; no allocation.
 */
#ifndef FSEC_CODEC_H
#define FSEC_CODEC_H

#include "fsec/common.h"

typedef enum fsec_base64_variant {
  FSEC_BASE64_STANDARD = 1,   /* A-Z a-z 0-9 + /, '=' padding (RFC 4648 §4) */
  FSEC_BASE64_STANDARD_NOPAD, /* the same alphabet, no padding (PHC hashes) */
  FSEC_BASE64_URLSAFE         /* A-Z a-z 0-9 - _, no padding (tokens, ids) */
} fsec_base64_variant;

/* Characters of n bytes encoded in variant, without the NUL; 0 for an
 * unknown variant. */
FSEC_API size_t fsec_base64_encoded_len(int variant, size_t n);

/* Write the NUL-terminated encoding of in[0..n) to out. Returns FSEC_OK,
 * or FSEC_EINVAL (unknown variant, or outcap below
 * fsec_base64_encoded_len(variant, n) + 1). */
FSEC_API FSEC_NODISCARD int fsec_base64_encode(int variant, const void *in,
                                               size_t n, char *out,
                                               size_t outcap)
    FSEC_NONNULL(4);

/* Decode s[0..len) strictly (see above) into out (capacity cap) and set
 * *outlen. Returns FSEC_OK, FSEC_EINVAL (not this variant's one spelling
 * of anything, or an unknown variant) or FSEC_ETOOLONG (len characters
 * would decode to more than cap bytes: checked first, so also for input
 * that is not Base64). On failure *outlen is 0 and out holds nothing
 * worth reading (wiped). */
FSEC_API FSEC_NODISCARD int fsec_base64_decode(int variant, const char *s,
                                               size_t len, void *out,
                                               size_t cap, size_t *outlen)
    FSEC_NONNULL(6);

/* Zero n bytes at p in a way the compiler cannot drop as a dead store:
 * for decoded secrets (Basic credentials) once they are copied out. */
FSEC_API void fsec_wipe(void *p, size_t n);

#define FSEC_DIGEST_BYTES 16 /* BLAKE2b-128 */
#define FSEC_DIGEST_HEX_BYTES (2 * FSEC_DIGEST_BYTES + 1)
#define FSEC_DIGEST_KEY_MIN 16
#define FSEC_DIGEST_KEY_MAX 64

/* out = 32 lower-case hex characters and a NUL: BLAKE2b-128 of s, keyed
 * (a MAC) when key is not NULL. Returns FSEC_OK or FSEC_EINVAL (a key
 * outside FSEC_DIGEST_KEY_MIN..FSEC_DIGEST_KEY_MAX bytes). */
FSEC_API FSEC_NODISCARD int fsec_digest_hex(const void *s, size_t len,
                                            const void *key, size_t keylen,
                                            char out[FSEC_DIGEST_HEX_BYTES])
    FSEC_NONNULL(5);

#define FSEC_SHA1_HEX_BYTES 41

/* out = 40 upper-case hex characters of SHA-1(s) and a NUL (the format of
 * breached-password lists: never to protect anything). Returns FSEC_OK or
 * FSEC_ECRYPTO. */
FSEC_API FSEC_NODISCARD int fsec_sha1_hex(const void *s, size_t len,
                                          char out[FSEC_SHA1_HEX_BYTES])
    FSEC_NONNULL(3);

/* 1 when a and b hold the same bytes, else 0, in time that depends on
 * the lengths only: for secrets a client sends (Flask-WTF's CSRF value
 * against the one in the Flask session). Lengths that differ answer 0
 * at once: a length is no secret here. */
FSEC_API FSEC_NODISCARD int fsec_equal(const void *a, size_t alen,
                                       const void *b, size_t blen);

#endif /* FSEC_CODEC_H */
