/*
 * mac.c: HMAC-SHA256 over OpenSSL's SHA-256 midstates (mac.h says why).
 *
 * Why OpenSSL's low-level SHA256_* and not EVP_MAC or HMAC(): in
 * OpenSSL 3 every EVP call goes through the provider layer (a fetch, a
 * context allocation, parameter passing), which costs more than the two
 * compressions a token needs: measured on the bench machine, HMAC()
 * one-shot 1.7 us, EVP_MAC_CTX_dup per MAC 0.65 us, HMAC_CTX_copy
 * 0.33 us, libsodium with a copied keyed state 0.57 us, and these
 * midstates 0.18 us. SHA256_Transform and SHA256_Update reach the same
 * assembly (SHA-NI where the CPU has it) as EVP_sha256. The functions are
 * deprecated in OpenSSL 3 but present in every 3.x; a build without them
 * (no-deprecated) would fail here, loudly, at compile time.
 *
 * Why the padding is done here and not by SHA256_Final: a token MAC is
 * two compressions, and Final's bookkeeping around them (copying the
 * message into the context, a length counter, a cleanse of the context,
 * the digest written out byte by byte, then copied in again for the outer
 * hash) cost a third as many instructions again with SHA-NI. The blocks
 * are laid out once, in one buffer, and hashed with SHA256_Transform.
 */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <stdint.h>
#include <string.h>

#include "internal.h"
#include "mac.h"

#ifdef __SSE2__
#  include <emmintrin.h>
#endif

#define BLOCK 64 /* SHA-256 block size */

/* What one MAC computes in: wiped after each use. */
struct scratch {
  SHA256_CTX c;
  unsigned char blk[2 * BLOCK];
};

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

/* Big-endian stores: one bswap and one store where the compiler says
 * how (GCC 12 turns the byte stores of digest() into a long run of SSE
 * shuffles instead). */
static void put_be32(unsigned char *b, uint32_t v) {
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  v = __builtin_bswap32(v);
  memcpy(b, &v, 4);
#else
  b[0] = (unsigned char)(v >> 24);
  b[1] = (unsigned char)(v >> 16);
  b[2] = (unsigned char)(v >> 8);
  b[3] = (unsigned char)v;
#endif
}

static void put_be64(unsigned char *b, uint64_t v) {
  put_be32(b, (uint32_t)(v >> 32));
  put_be32(b + 4, (uint32_t)v);
}

/* A big-endian word loaded with memcpy, in host order. */
static uint32_t from_be32(uint32_t w) {
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return __builtin_bswap32(w);
#else
  unsigned char b[4];
  memcpy(b, &w, 4);
  return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 |
         b[3];
#endif
}

/* The digest of a finished state: its eight words, big-endian. With SSE2
 * (every x86-64) as two 16-byte stores: what reads the digest next (the
 * outer hash) loads it 16 bytes at a time, and a load
 * fed by one store of its size is forwarded at once, where one fed by
 * four 4-byte stores waits for them to reach the cache. */
static void digest(const SHA256_CTX *c, unsigned char out[32]) {
#ifdef __SSE2__
  int i;
  for (i = 0; i < 2; i++) {
    __m128i w = _mm_loadu_si128((const __m128i *)(const void *)(c->h + 4 * i));
    /* byte-swap each 32-bit word: swap its 16-bit halves, then the bytes
     * of each half */
    w = _mm_shufflehi_epi16(_mm_shufflelo_epi16(w, 0xb1), 0xb1);
    w = _mm_or_si128(_mm_slli_epi16(w, 8), _mm_srli_epi16(w, 8));
    _mm_storeu_si128((__m128i *)(void *)(out + 16 * i), w);
  }
#else
  int i;
  for (i = 0; i < 8; i++) put_be32(out + 4 * i, c->h[i]);
#endif
}

/* Finish the inner hash: the last n (< BLOCK) bytes m of a message of
 * total bytes (the key block included), then 0x80, zeros and the length
 * in bits, as FIPS 180-4 pads: one block, or two when n > 55. The
 * blocks are zeroed whole first (fixed-size stores the compiler inlines)
 * rather than the exact gap (a call to memset). */
static void finish(SHA256_CTX *c, unsigned char blk[2 * BLOCK],
                   const unsigned char *m, size_t n, uint64_t total) {
  size_t len = n + 9 <= BLOCK ? BLOCK : 2 * BLOCK;
  memset(blk, 0, BLOCK);
  if (len > BLOCK) memset(blk + BLOCK, 0, BLOCK);
  memcpy(blk, m, n);
  blk[n] = 0x80;
  put_be64(blk + len - 8, total * 8);
  SHA256_Transform(c, blk);
  if (len > BLOCK) SHA256_Transform(c, blk + BLOCK);
}

/* The padding of the outer hash's one block after the 32-byte inner
 * digest: 0x80, zeros, and the length of key block + digest in bits. */
static const unsigned char OUTER_PAD[BLOCK - FSEC__HMAC_BYTES] = {
    0x80, [BLOCK - FSEC__HMAC_BYTES - 2] = ((BLOCK + FSEC__HMAC_BYTES) * 8) >> 8,
    ((BLOCK + FSEC__HMAC_BYTES) * 8) & 0xff};

/* s.c = the state after the inner and outer hashes of m under h: its
 * words are the MAC. s also holds the inner digest: the caller wipes it. */
static void mac_state(const fsec__hmac *h, const unsigned char *m, size_t n,
                      struct scratch *s) {
  size_t whole = n - n % BLOCK;
  s->c = h->inner; /* copying a midstate skips a compression */
  /* whole blocks straight from m (the midstate has no buffered bytes) */
  if (whole) SHA256_Update(&s->c, m, whole);
  finish(&s->c, s->blk, m + whole, n - whole, (uint64_t)BLOCK + n);
  /* the outer hash is of the inner digest: always one block */
  digest(&s->c, s->blk);
  memcpy(s->blk + FSEC__HMAC_BYTES, OUTER_PAD, sizeof OUTER_PAD);
  s->c = h->outer;
  SHA256_Transform(&s->c, s->blk);
}

void fsec__hmac_mac(const fsec__hmac *h, const unsigned char *m, size_t n,
                    unsigned char out[FSEC__HMAC_BYTES]) {
  struct scratch s;
  mac_state(h, m, n, &s);
  digest(&s.c, out);
  /* s holds the inner digest (a MAC under the outer key) and the MAC */
  sodium_memzero(&s, sizeof s);
}

int fsec__hmac_tag_equal(const SHA_LONG want[8],
                         const unsigned char tag[FSEC__HMAC_BYTES]) {
  uint32_t diff = 0, w;
  int i;
  for (i = 0; i < 8; i++) { /* every word, whatever the ones before */
    memcpy(&w, tag + 4 * i, 4);
    diff |= (uint32_t)want[i] ^ from_be32(w);
  }
  return (int)(((uint64_t)diff - 1) >> 63); /* 1 iff diff == 0, no branch */
}

int fsec__hmac_verify(const fsec__hmac *h, const unsigned char *m, size_t n,
                      const unsigned char mac[FSEC__HMAC_BYTES]) {
  struct scratch s;
  int ok;
  mac_state(h, m, n, &s);
  /* Against the state's words themselves, not crypto_verify_32 on the
   * digest written out: libsodium 1.0.18's keeps its operands in volatile
   * stack slots, a chain of stores and reloads that cost 16 ns of a 120 ns
   * verify, all of it after the last compression. */
  ok = fsec__hmac_tag_equal(s.c.h, mac);
  sodium_memzero(&s, sizeof s); /* the inner digest and the MAC */
  return ok;
}
