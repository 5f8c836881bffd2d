/* fuzz_breached.c: the breached-password list opened from hostile bytes
 * (fsec_breached_open_mem: the checks fsec_breached_open makes on a
 * mapped file), in both forms (the input as is, and after the binary
 * magic and version).
 *
 * Oracles:
 *   - open: FSEC_OK, or FSEC_EINVAL with a reason; never a crash or a
 *     read outside the input (ASan);
 *   - text accepted: every line's hash is found, with the count of a line
 *     of that hash (a linear scan is the reference), and a hash not in
 *     the text is not found;
 *   - binary accepted: the size is exactly header + entries + index, and
 *     a found hash is an entry of the file with that count (a hostile
 *     but well-sized file may misplace entries: it is then missed, never
 *     read outside). */
#include "fuzz_common.h"

#include "fsec/breached.h"

static int hexval(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c |= 0x20;
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The reference: does some line of text[0..len) start with hash h and
 * give count c (FSEC_BREACHED_UNCOUNTED when it has none)? */
static int text_has(const uint8_t *t, size_t len, const unsigned char *h, uint64_t c) {
  size_t i = 0;
  while (i + 40 <= len) {
    unsigned char x[20];
    int ok = 1;
    for (int k = 0; k < 20 && ok; k++) {
      int a = hexval(t[i + 2 * k]), b = hexval(t[i + 2 * k + 1]);
      ok = a >= 0 && b >= 0;
      x[k] = (unsigned char)(a << 4 | b);
    }
    size_t j = i + 40;
    uint64_t n = FSEC_BREACHED_UNCOUNTED;
    if (j < len && t[j] == ':') {
      n = 0;
      while (++j < len && t[j] >= '0' && t[j] <= '9')
        if ((n = n * 10 + (uint64_t)(t[j] - '0')) > FSEC_BREACHED_UNCOUNTED)
          n = FSEC_BREACHED_UNCOUNTED;
    }
    if (ok && memcmp(x, h, 20) == 0 && n == c) return 1;
    while (j < len && t[j] != '\n') j++;
    i = j + 1;
  }
  return 0;
}

static void check_text(const fsec_breached *b, const uint8_t *t, size_t len) {
  size_t i = 0;
  while (i + 40 <= len) {
    unsigned char h[20];
    uint64_t c;
    for (int k = 0; k < 20; k++)
      h[k] = (unsigned char)(hexval(t[i + 2 * k]) << 4 | hexval(t[i + 2 * k + 1]));
    ORACLE(fsec_breached_lookup(b, h, &c) == FSEC_OK);
    ORACLE(text_has(t, len, h, c));
    h[19] ^= 0x5a; /* a hash beside it: absent unless listed too */
    ORACLE(fsec_breached_lookup(b, h, &c) == FSEC_OK);
    ORACLE(c == 0 || text_has(t, len, h, c));
    while (i < len && t[i] != '\n') i++;
    i++;
  }
}

static void check_binary(const fsec_breached *b, const uint8_t *d, size_t len) {
  uint64_t n = fsec_breached_size(b);
  ORACLE(len >= FSEC_BREACHED_HEADER + n * FSEC_BREACHED_ENTRY);
  for (uint64_t i = 0; i < n; i++) {
    const uint8_t *e = d + FSEC_BREACHED_HEADER + i * FSEC_BREACHED_ENTRY;
    uint64_t c;
    ORACLE(fsec_breached_lookup(b, e, &c) == FSEC_OK);
    if (c == 0) continue; /* misplaced by a forged index, or a count of 0 */
    int found = 0;
    for (uint64_t k = 0; k < n && !found; k++) {
      const uint8_t *f = d + FSEC_BREACHED_HEADER + k * FSEC_BREACHED_ENTRY;
      found = memcmp(f, e, 20) == 0 &&
              c == ((uint64_t)f[20] | (uint64_t)f[21] << 8 | (uint64_t)f[22] << 16 |
                    (uint64_t)f[23] << 24);
    }
    ORACLE(found);
  }
}

static void one(const uint8_t *d, size_t len) {
  fsec_breached *b;
  char why[256] = "";
  int rc = fsec_breached_open_mem(d, len, &b, why, sizeof why);
  ORACLE(rc == FSEC_OK || (rc == FSEC_EINVAL && why[0] && !b));
  if (rc != FSEC_OK) return;
  if (fsec_breached_is_binary(b))
    check_binary(b, d, len);
  else
    check_text(b, d, len);
  uint64_t c;
  ORACLE(fsec_breached_password(b, "password", 8, &c) == FSEC_OK ||
         c == FSEC_BREACHED_UNCOUNTED);
  fsec_breached_close(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static uint8_t bin[16384 + 16];
  if (size > 16384) return 0;
  one(data, size);
  /* the same bytes after a binary header's first 12 bytes (magic, version
   * 1), with the fuzzer's bytes as bits, count, index and entries */
  memcpy(bin, FSEC_BREACHED_MAGIC "\1\0\0\0", 12);
  memcpy(bin + 12, data, size);
  if (size >= 4) bin[12] %= 4; /* small bit counts: an index that can fit */
  one(bin, size + 12);
  return 0;
}
