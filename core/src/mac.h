/*
 * mac.h: HMAC-SHA256 with the key schedule computed once per key. Not API.
 *
 * HMAC(K, m) = H((K ^ opad) || H((K ^ ipad) || m)). The two padded key
 * blocks are hashed once, when the key is set; each MAC then copies the
 * two SHA-256 midstates and hashes only the message and the inner digest:
 * two compressions for a token of up to 55 bytes instead of four.
 *
 * SHA-256 is OpenSSL's: its compression function picks at run time the
 * fastest code for the CPU (SHA-NI on x86-64, the ARMv8 SHA extension,
 * AVX2 otherwise), where libsodium's is portable C. The result is
 * bit-identical to any other HMAC-SHA256 (core/tests/test_token.c checks
 * it against libsodium's for every key and message length that matters).
 */
#ifndef FSEC_MAC_H
#define FSEC_MAC_H

#include <stddef.h>

/* SHA256_CTX is a plain struct; only its functions are deprecated in
 * OpenSSL 3, and only mac.c calls them. */
#include <openssl/sha.h>

#include "internal.h" /* the fsec__hmac typedef */

#define FSEC__HMAC_BYTES 32

struct fsec__hmac {
  SHA256_CTX inner; /* after hashing K ^ ipad */
  SHA256_CTX outer; /* after hashing K ^ opad */
};

/* Set h to key (any length; longer than a block is hashed first, as
 * RFC 2104 says). This function can't fail. */
void fsec__hmac_key(fsec__hmac *h, const unsigned char *key, size_t keylen);

/* out = HMAC-SHA256 of m under h's key. h is not modified, so one keyed
 * h may serve several threads at once. This function can't fail. */
void fsec__hmac_mac(const fsec__hmac *h, const unsigned char *m, size_t n,
                    unsigned char out[FSEC__HMAC_BYTES]);

/* 1 when mac is the HMAC-SHA256 of m under h's key, 0 otherwise,
 * through fsec__hmac_tag_equal; the MAC computed is wiped, never handed
 * out. Thread-safe as fsec__hmac_mac. */
int fsec__hmac_verify(const fsec__hmac *h, const unsigned char *m, size_t n,
                      const unsigned char mac[FSEC__HMAC_BYTES]);

/* 1 when tag is the big-endian spelling of the eight SHA-256 state words
 * want, 0 otherwise, in constant time: no branch and no memory address
 * depends on either operand (core/tests/test_catalogue.c T-11 checks it
 * under valgrind's memcheck). */
int fsec__hmac_tag_equal(const SHA_LONG want[8],
                         const unsigned char tag[FSEC__HMAC_BYTES]);

#endif
