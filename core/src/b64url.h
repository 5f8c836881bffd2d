/*
 * b64url.h: the strict base64url decoder of tokens (token.c). Not API.
 *
 * Same language as fsec_base64_decode(FSEC_BASE64_URLSAFE, ...): the
 * URL-safe alphabet, no padding, no whitespace, nothing else, and zero
 * spare bits in the last character, so each byte string has one
 * spelling (core/tests/test_token.c checks the two agree). It exists
 * because libsodium's decoder, written for secrets, spends about 90
 * instructions per character to be constant-time (several times the
 * MAC of the whole token, with SHA-NI); this one spends about 5 with its
 * tables, and about 1 with SSSE3 (16 characters per step). Nothing is
 * written past the bytes s decodes to, even on failure: a caller may
 * decode a string in pieces cut at multiples of 4 characters, each just
 * after the last (token.c does).
 *
 * A token is not kept secret from timing the way a key is: the same
 * string is hashed by Lua when it is read (string interning) and is the
 * key of the token cache, both table walks that depend on its bytes.
 * What must not leak, the MAC comparison, stays constant-time.
 */
#ifndef FSEC_B64URL_H
#define FSEC_B64URL_H

#include <stddef.h>

/* Decode s[0..len) into out (cap bytes); *outlen = the bytes written.
 * 0 on success; -1 when s is not canonical unpadded base64url or does
 * not fit (out's content is then unspecified, *outlen 0). */
int fsec__b64url_decode(const char *s, size_t len, unsigned char *out,
                        size_t cap, size_t *outlen);

/* The same, through the portable table decoder only (what a CPU without
 * SSSE3 runs): for the tests, which check the two agree. */
int fsec__b64url_decode_portable(const char *s, size_t len, unsigned char *out,
                                 size_t cap, size_t *outlen);

#endif
