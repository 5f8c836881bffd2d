/* fuzz_otp.c: passlib's Base32 (fsec_base32_decode: the keys users type
 * and the ones imported from Flask-Security) and the code normalisation
 * of fsec_totp_match, against references written here.
 *
 * Oracles:
 *   - base32: fsec accepts the input exactly when the reference does
 *     (spaces dropped; 8 -> B, 0 -> O; either case; then passlib's
 *     re-padding rule), with the same bytes; re-encoding those bytes and
 *     decoding again gives them back; one byte short of room is
 *     ETOOLONG, never an overrun;
 *   - totp: the input as a typed code is "format" exactly when, without
 *     whitespace, '-' and '=', it is not 6 ASCII digits; otherwise it
 *     matches exactly when it equals one of the window's 9 codes, at
 *     that step. */
#include "fuzz_common.h"

/* ---- reference Base32 --------------------------------------------------- */

static int ref_val(unsigned char c) {
  static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  const char *p;
  if (c >= 'a' && c <= 'z') c = (unsigned char)(c - 32);
  if (c == '8') c = 'B';
  if (c == '0') c = 'O';
  if (c == 0) return -1;
  p = strchr(A, c);
  return p ? (int)(p - A) : -1;
}

/* Returns 0 and the bytes, or -1. Bits are gathered into a bit string
 * first (a different method from core/src/otp.c's accumulator). */
static int ref_decode(const uint8_t *s, size_t n, uint8_t *out, size_t *outlen) {
  static uint8_t bits[16384 * 5];
  size_t i, nbits = 0, data = 0, pads = 0;
  for (i = 0; i < n; i++) {
    int v, b;
    if (s[i] == ' ') continue;
    if (s[i] == '=') {
      pads++;
      continue;
    }
    if (pads || (v = ref_val(s[i])) < 0) return -1;
    data++;
    for (b = 4; b >= 0; b--) bits[nbits++] = (uint8_t)(v >> b & 1);
  }
  /* valid unpadded lengths mod 8, and the padding each must have */
  switch (data % 8) {
  case 0:
    if (pads && pads != 0) return -1;
    break;
  case 2:
    if (pads && pads != 6) return -1;
    break;
  case 4:
    if (pads && pads != 4) return -1;
    break;
  case 5:
    if (pads && pads != 3) return -1;
    break;
  case 7:
    if (pads && pads != 1) return -1;
    break;
  default: return -1;
  }
  *outlen = nbits / 8;
  for (i = 0; i < *outlen; i++) {
    int b;
    out[i] = 0;
    for (b = 0; b < 8; b++) out[i] = (uint8_t)(out[i] << 1 | bits[i * 8 + b]);
  }
  return 0;
}

static void base32_agrees(const uint8_t *data, size_t size) {
  static uint8_t want[16384], got[16384], again[16384];
  static char enc[32768];
  size_t wlen = 0, glen = 99, alen = 0;
  int ok = ref_decode(data, size, want, &wlen) == 0;
  int rc = fsec_base32_decode((const char *)data, size, got, sizeof got, &glen);
  ORACLE(ok ? rc == FSEC_OK : rc == FSEC_EINVAL);
  if (!ok) {
    ORACLE(glen == 0);
    return;
  }
  ORACLE(glen == wlen && (wlen == 0 || memcmp(got, want, wlen) == 0));
  ORACLE(fsec_base32_encode(got, glen, enc, sizeof enc) == FSEC_OK);
  ORACLE(strlen(enc) == fsec_base32_encoded_len(glen));
  ORACLE(fsec_base32_decode(enc, strlen(enc), again, sizeof again, &alen) == FSEC_OK);
  ORACLE(alen == glen && (glen == 0 || memcmp(again, got, glen) == 0));
  if (glen > 0)
    ORACLE(fsec_base32_decode((const char *)data, size, got, glen - 1, &alen) ==
           FSEC_ETOOLONG);
}

/* ---- typed codes -------------------------------------------------------- */

#define T0 1700000000
static const unsigned char KEY[20] = {0x42, 0x28, 0x65, 0x6c, 0x6d, 0xad, 0xb5,
                                      0x76, 0x6e, 0xad, 0xf5, 0x1e, 0x03, 0xa0,
                                      0x14, 0x62, 0x4c, 0x89, 0x91, 0xb2};

static void code_agrees(const uint8_t *data, size_t size) {
  static char window[9][FSEC_OTP_CODE_BYTES];
  static int ready;
  char norm[8];
  size_t i, n = 0;
  int fmt_ok = 1, result = -1, k, hit = -1;
  int64_t counter = -1;
  if (!ready) {
    for (k = 0; k < 9; k++)
      ORACLE(fsec_totp_code(KEY, sizeof KEY, T0 + 30 * (k - 4), NULL, window[k]) == FSEC_OK);
    ready = 1;
  }
  for (i = 0; i < size && fmt_ok; i++) {
    uint8_t c = data[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r' ||
        c == '-' || c == '=')
      continue;
    if (c < '0' || c > '9' || n == 6) fmt_ok = 0;
    else norm[n++] = (char)c;
  }
  fmt_ok = fmt_ok && n == 6;
  ORACLE(fsec_totp_match(KEY, sizeof KEY, (const char *)data, size, T0, NULL, &result,
                         &counter) == FSEC_OK);
  if (!fmt_ok) {
    ORACLE(result == FSEC_TOTP_FORMAT);
    return;
  }
  norm[6] = '\0';
  for (k = 0; k < 9; k++)
    if (strcmp(norm, window[k]) == 0) hit = k; /* the latest step wins */
  if (hit < 0) {
    ORACLE(result == FSEC_TOTP_INVALID);
  } else {
    ORACLE(result == FSEC_TOTP_MATCH);
    ORACLE(counter == T0 / 30 + hit - 4);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 16384) return 0;
  base32_agrees(data, size);
  code_agrees(data, size);
  return 0;
}
