/*
 * mac.c: HMAC-SHA256 over OpenSSL's SHA-256 midstates (mac.h says why).
 *
 * Why OpenSSL's low-level SHA256_* and not EVP_MAC or HMAC(): in
 * OpenSSL 3 every EVP call goes through the provider layer (a fetch, a
 * context allocation, parameter passing), which costs more than the two
 * compressions a token needs: measured on the bench machine, HMAC()
 * one-shot 1.7 us, EVP_MAC_CTX_dup per MAC 0.65 us, HMAC_CTX_copy
 * 0.33 us, libsodium with a copied keyed state 0.57 us, and these
 * midstates 0.18 us. SHA256_Update reaches the same assembly (SHA-NI
 * where the CPU has it) as EVP_sha256. The functions are deprecated in
 * OpenSSL 3 but present in every 3.x; a build without them
 * (no-deprecated) would fail here, loudly, at compile time.
 */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <string.h>

#include "internal.h"
#include "mac.h"

#define BLOCK 64 /* SHA-256 block size */

/* ctx = SHA-256 state after one block of key ^ pad (key <= BLOCK bytes). */
static void pad_block(SHA256_CTX *ctx, const unsigned char *key, size_t len,
                      unsigned char pad) {
  unsigned char block[BLOCK];
  size_t i;
  memset(block, pad, sizeof block);
  for (i = 0; i < len; i++) block[i] ^= key[i];
  SHA256_Init(ctx);
  SHA256_Update(ctx, block, sizeof block);
  sodium_memzero(block, sizeof block);
}

void fsec__hmac_key(fsec__hmac *h, const unsigned char *key, size_t keylen) {
  unsigned char hashed[SHA256_DIGEST_LENGTH];
  if (keylen > BLOCK) { /* RFC 2104: a long key is replaced by its hash */
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, key, keylen);
    SHA256_Final(hashed, &c);
    sodium_memzero(&c, sizeof c);
    key = hashed;
    keylen = sizeof hashed;
  }
  pad_block(&h->inner, key, keylen, 0x36);
  pad_block(&h->outer, key, keylen, 0x5c);
  sodium_memzero(hashed, sizeof hashed);
}

void fsec__hmac_mac(const fsec__hmac *h, const unsigned char *m, size_t n,
                    unsigned char out[FSEC__HMAC_BYTES]) {
  unsigned char inner[SHA256_DIGEST_LENGTH];
  SHA256_CTX c = h->inner; /* copying a midstate skips a compression */
  SHA256_Update(&c, m, n);
  SHA256_Final(inner, &c);
  c = h->outer;
  SHA256_Update(&c, inner, sizeof inner);
  SHA256_Final(out, &c);
  /* Final leaves only the digest in c and wipes its block buffer; the
   * keyed midstates were overwritten by the compressions. The inner
   * digest is wiped all the same: it is a MAC under the outer key. */
  sodium_memzero(inner, sizeof inner);
}
