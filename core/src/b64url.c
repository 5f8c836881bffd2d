/*
 * b64url.c: strict base64url decoding: 16 characters at a time with SSSE3
 * where the CPU has it (every x86-64 since about 2008, chosen at run
 * time), four at a time through lookup tables otherwise and for the last
 * characters (b64url.h says why not libsodium's decoder).
 */
#include <stdint.h>
#include <string.h>

#include "b64url.h"

/* The value of byte c in the URL-safe alphabet, or 64 for any other byte
 * (every byte >= 0x80, '=', '+', '/', whitespace, NUL). */
#define VAL(c)                                 \
  ((c) >= 'A' && (c) <= 'Z'   ? (c) - 'A'      \
   : (c) >= 'a' && (c) <= 'z' ? (c) - 'a' + 26 \
   : (c) >= '0' && (c) <= '9' ? (c) - '0' + 52 \
   : (c) == '-'               ? 62             \
   : (c) == '_'               ? 63             \
                              : 64)
#define BAD 0x80000000u /* above the 24 bits of a group: flags a bad byte */
/* c's 6 bits placed at bit s of a 24-bit group, or BAD */
#define AT(c, s) (VAL(c) == 64 ? BAD : (uint32_t)VAL(c) << (s))

/* 256 entries, one per byte value, at compile time */
#define R4(f, s, c) f((c), s), f((c) + 1, s), f((c) + 2, s), f((c) + 3, s)
#define R16(f, s, c) R4(f, s, c), R4(f, s, (c) + 4), R4(f, s, (c) + 8), R4(f, s, (c) + 12)
#define R64(f, s, c) R16(f, s, c), R16(f, s, (c) + 16), R16(f, s, (c) + 32), R16(f, s, (c) + 48)
#define R256(f, s) R64(f, s, 0), R64(f, s, 64), R64(f, s, 128), R64(f, s, 192)

/* One table per position in a group of four: a group is then four loads
 * and three ORs, and one AND at the end finds any bad byte (4 KiB). */
static const uint32_t AT18[256] = {R256(AT, 18)};
static const uint32_t AT12[256] = {R256(AT, 12)};
static const uint32_t AT6[256] = {R256(AT, 6)};
static const uint32_t AT0[256] = {R256(AT, 0)};

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#  define HAVE_SSSE3 1
#  include <tmmintrin.h>

/* The 12 bytes of the 16 characters at s, in the first 12 bytes of the
 * result; a character outside the alphabet sets bits in *err.
 *
 * The classic nibble method (W. Mula and D. Lemire, "Faster Base64
 * Encoding and Decoding Using AVX2 Instructions", 2018), set up here for
 * the URL-safe alphabet. A byte is valid when the class bit of its high
 * nibble (HI_CLASS) is not among the classes its low nibble rules out
 * (LO_BAD):
 *   class 0x01  2x: only 2D '-'        class 0x02  3x: 30-39 '0'-'9'
 *   class 0x04  4x, 6x: 41-4F, 61-6F   class 0x08  5x: 50-5A 'P'-'Z', 5F '_'
 *   class 0x10  7x: 70-7A 'p'-'z'      class 0x20  0x, 1x, 8x-Fx: none
 * The value is then the byte plus an offset that depends on its high
 * nibble only ('-' +17, digits +4, upper case -65, lower case -71), but
 * for '_' (5F: -32, fixed up by a compare). Two multiply-adds pack four
 * 6-bit values into 24 bits, a shuffle puts the 3 bytes in order. */
__attribute__((target("ssse3"))) static inline __m128i
    chunk(const unsigned char *s, __m128i *err) {
  const __m128i lo_bad = _mm_setr_epi8(0x25, 0x21, 0x21, 0x21, 0x21, 0x21,
                                       0x21, 0x21, 0x21, 0x21, 0x23, 0x3b,
                                       0x3b, 0x3a, 0x3b, 0x33);
  const __m128i hi_class = _mm_setr_epi8(0x20, 0x20, 0x01, 0x02, 0x04, 0x08,
                                         0x04, 0x10, 0x20, 0x20, 0x20, 0x20,
                                         0x20, 0x20, 0x20, 0x20);
  const __m128i hi_offset = _mm_setr_epi8(0, 0, 17, 4, -65, -65, -71, -71, 0,
                                          0, 0, 0, 0, 0, 0, 0);
  const __m128i nibble = _mm_set1_epi8(0x0f);
  const __m128i in = _mm_loadu_si128((const __m128i *)(const void *)s);
  const __m128i hi = _mm_and_si128(_mm_srli_epi32(in, 4), nibble);
  const __m128i lo = _mm_and_si128(in, nibble);
  __m128i off = _mm_shuffle_epi8(hi_offset, hi), v;
  *err = _mm_or_si128(*err, _mm_and_si128(_mm_shuffle_epi8(lo_bad, lo),
                                          _mm_shuffle_epi8(hi_class, hi)));
  off = _mm_add_epi8(off, _mm_and_si128(_mm_cmpeq_epi8(in, _mm_set1_epi8('_')),
                                        _mm_set1_epi8(-32 - -65)));
  v = _mm_add_epi8(in, off);
  v = _mm_maddubs_epi16(v, _mm_set1_epi32(0x01400140)); /* a << 6 | b */
  v = _mm_madd_epi16(v, _mm_set1_epi32(0x00011000));    /* ab << 12 | cd */
  return _mm_shuffle_epi8(v, _mm_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13,
                                           12, -1, -1, -1, -1));
}

/* Store the 12 bytes of v at out: as one 16-byte store when room (the
 * bytes from out to the end of the output) allows, the 4 extra bytes
 * being rewritten later; otherwise as 8 + 4. */
__attribute__((target("ssse3"))) static inline void
    put12(unsigned char *out, __m128i v, size_t room) {
  if (room >= 16) {
    _mm_storeu_si128((__m128i *)(void *)out, v);
  } else {
    uint32_t last = (uint32_t)_mm_cvtsi128_si32(_mm_srli_si128(v, 8));
    _mm_storel_epi64((__m128i *)(void *)out, v);
    memcpy(out + 8, &last, 4);
  }
}

/* Decode the whole groups s[0..n) (n a multiple of 4, at least 16) into
 * out[0..n / 4 * 3), 16 characters at a time, the last 16 overlapping the
 * ones before when n is not a multiple of 16 (they decode to the same
 * bytes again). Returns BAD if a character is outside the alphabet. */
__attribute__((target("ssse3"))) static uint32_t
    decode_ssse3(const unsigned char *s, size_t n, unsigned char *out) {
  __m128i err = _mm_setzero_si128();
  size_t i, bytes = n / 4 * 3;
  for (i = 0; i + 16 <= n; i += 16)
    put12(out + i / 4 * 3, chunk(s + i, &err), bytes - i / 4 * 3);
  if (i < n) put12(out + bytes - 12, chunk(s + n - 16, &err), 12);
  return _mm_movemask_epi8(_mm_cmpeq_epi8(err, _mm_setzero_si128())) == 0xffff
             ? 0
             : BAD;
}

/* Checked once per call: reads a word libgcc filled in from CPUID. */
static int have_ssse3(void) { return __builtin_cpu_supports("ssse3"); }
#endif

/* Groups of 4 characters through the tables: full groups of s[0..n) (n
 * a multiple of 4) into out. Returns the bad-byte flag. */
static uint32_t decode_groups(const unsigned char *p, size_t n,
                              unsigned char *out) {
  size_t full = n / 4, i = 0;
  uint32_t bad = 0, v;
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  /* One 4-byte store per group instead of three byte stores: the fourth
   * byte is the next group's first, written again by it; so the last
   * group, which has no next, goes through the loop below. */
  for (; i + 1 < full; i++, p += 4, out += 3) {
    uint32_t be;
    v = AT18[p[0]] | AT12[p[1]] | AT6[p[2]] | AT0[p[3]];
    bad |= v;
    be = __builtin_bswap32(v << 8);
    memcpy(out, &be, 4);
  }
#endif
  for (; i < full; i++, p += 4, out += 3) {
    v = AT18[p[0]] | AT12[p[1]] | AT6[p[2]] | AT0[p[3]];
    bad |= v;
    out[0] = (unsigned char)(v >> 16);
    out[1] = (unsigned char)(v >> 8);
    out[2] = (unsigned char)v;
  }
  return bad;
}

/* The 2 or 3 characters after the last full group: 1 byte and 4 spare
 * bits, or 2 bytes and 2 spare bits; the spare bits must be zero
 * (canonical). Returns the bad-byte flag. */
static uint32_t decode_rest(const unsigned char *p, size_t rest,
                            unsigned char *out) {
  uint32_t v = AT18[p[0]] | AT12[p[1]] | (rest == 3 ? AT6[p[2]] : 0);
  uint32_t bad = v | ((v & (rest == 2 ? 0xffffu : 0xffu)) ? BAD : 0);
  out[0] = (unsigned char)(v >> 16);
  if (rest == 3) out[1] = (unsigned char)(v >> 8);
  return bad;
}

/* The table decoder alone (b64url.h): what a CPU without SSSE3 runs, and
 * what the tests compare the fast path with. */
int fsec__b64url_decode_portable(const char *s, size_t len, unsigned char *out,
                                 size_t cap, size_t *outlen) {
  const unsigned char *p = (const unsigned char *)s;
  size_t rest = len % 4, whole = len - rest;
  size_t need = whole / 4 * 3 + (rest ? rest - 1 : 0);
  uint32_t bad;

  *outlen = 0;
  if (rest == 1 || need > cap) return -1; /* 1 spare char is 6 bits: none */
  bad = decode_groups(p, whole, out);
  if (rest) bad |= decode_rest(p + whole, rest, out + whole / 4 * 3);
  if (bad & BAD) return -1;
  *outlen = need;
  return 0;
}

int fsec__b64url_decode(const char *s, size_t len, unsigned char *out,
                        size_t cap, size_t *outlen) {
#ifdef HAVE_SSSE3
  const unsigned char *p = (const unsigned char *)s;
  size_t rest = len % 4, whole = len - rest;
  size_t need = whole / 4 * 3 + (rest ? rest - 1 : 0);
  uint32_t bad;

  if (len < 16 || !have_ssse3())
    return fsec__b64url_decode_portable(s, len, out, cap, outlen);
  *outlen = 0;
  if (rest == 1 || need > cap) return -1;
  bad = decode_ssse3(p, whole, out);
  if (rest) bad |= decode_rest(p + whole, rest, out + whole / 4 * 3);
  if (bad & BAD) return -1;
  *outlen = need;
  return 0;
#else
  return fsec__b64url_decode_portable(s, len, out, cap, outlen);
#endif
}
