/*
 * b64url.c: strict base64url decoding, four characters at a time through
 * lookup tables (b64url.h says why not libsodium's decoder).
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

int fsec__b64url_decode(const char *s, size_t len, unsigned char *out,
                        size_t cap, size_t *outlen) {
  const unsigned char *p = (const unsigned char *)s;
  size_t full = len / 4, rest = len % 4, i = 0;
  size_t need = full * 3 + (rest ? rest - 1 : 0);
  uint32_t bad = 0, v;

  *outlen = 0;
  if (rest == 1 || need > cap) return -1; /* 1 spare char is 6 bits: none */
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
  if (rest) { /* 2 chars: 1 byte + 4 spare bits; 3 chars: 2 bytes + 2 */
    v = AT18[p[0]] | AT12[p[1]] | (rest == 3 ? AT6[p[2]] : 0);
    bad |= v;
    /* canonical: the spare low bits of the last character are zero */
    bad |= (v & (rest == 2 ? 0xffffu : 0xffu)) ? BAD : 0;
    out[0] = (unsigned char)(v >> 16);
    if (rest == 3) out[1] = (unsigned char)(v >> 8);
  }
  if (bad & BAD) return -1;
  *outlen = need;
  return 0;
}
