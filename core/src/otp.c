/* otp.c: TOTP codes through liboath, a constant-time window match, and
 * passlib's Base32 (fsec/otp.h). */
#include <pthread.h>
#include <string.h>

#include <liboath/oath.h>

#include "internal.h"

/* ---- Base32 ----------------------------------------------------------- */

static const char B32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

size_t fsec_base32_encoded_len(size_t n) { return (n * 8 + 4) / 5; }

int fsec_base32_encode(const void *in, size_t n, char *out, size_t outcap) {
  const unsigned char *p = in;
  uint32_t acc = 0;
  int bits = 0;
  size_t i, o = 0;
  if (outcap < fsec_base32_encoded_len(n) + 1) return FSEC_EINVAL;
  for (i = 0; i < n; i++) {
    acc = (acc << 8 | p[i]) & 0xfff; /* at most 12 bits are ever pending */
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out[o++] = B32[acc >> bits & 31];
    }
  }
  if (bits > 0) out[o++] = B32[acc << (5 - bits) & 31];
  out[o] = '\0';
  return FSEC_OK;
}

/* Value of a Base32 character as passlib reads it, -1 for none. */
static int b32_val(unsigned char c) {
  if (c >= 'a' && c <= 'z') c = (unsigned char)(c - 'a' + 'A');
  if (c == '8') c = 'B'; /* passlib's substitutions for look-alikes */
  if (c == '0') c = 'O';
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= '2' && c <= '7') return c - '2' + 26;
  return -1;
}

/* Characters of data modulo 8 that end a Base32 string, and the padding
 * each needs: 2 -> 6, 4 -> 4, 5 -> 3, 7 -> 1 (1, 3 and 6 never occur). */
static int b32_pad_for(size_t m) {
  static const signed char pad[8] = {0, -1, 6, -1, 4, 3, -1, 1};
  return pad[m % 8];
}

int fsec_base32_decode(const char *s, size_t len, void *out, size_t cap,
                       size_t *outlen) {
  unsigned char *o = out;
  uint32_t acc = 0;
  size_t i, m = 0, pads = 0, n = 0;
  int bits = 0, v;
  *outlen = 0;
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == ' ') continue;
    if (c == '=') {
      pads++;
      continue;
    }
    if (pads > 0 || (v = b32_val(c)) < 0) goto bad; /* data after padding */
    m++;
    acc = (acc << 5 | (uint32_t)v) & 0xfff; /* up to 12 bits pending */
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      if (n == cap) {
        fsec_wipe(out, cap);
        return FSEC_ETOOLONG;
      }
      o[n++] = (unsigned char)(acc >> bits);
    }
  }
  if (b32_pad_for(m) < 0 || (pads > 0 && pads != (size_t)b32_pad_for(m)))
    goto bad;
  *outlen = n;
  return FSEC_OK;
bad:
  fsec_wipe(out, n);
  return FSEC_EINVAL;
}

/* ---- TOTP ------------------------------------------------------------- */

static pthread_once_t oath_once = PTHREAD_ONCE_INIT;
static int oath_status = OATH_OK;

static void oath_start(void) { oath_status = oath_init(); }

void fsec_totp_opts_init(fsec_totp_opts *o) {
  memset(o, 0, sizeof *o);
  o->step = 30;
  o->digits = 6;
  o->window = 4;
  o->alg = FSEC_OTP_SHA1;
}

int fsec_otp_secret(unsigned char out[FSEC_OTP_SECRET_BYTES]) {
  if (sodium_init() < 0) return FSEC_ECRYPTO;
  randombytes_buf(out, FSEC_OTP_SECRET_BYTES);
  return FSEC_OK;
}

static int check_args(const fsec_totp_opts *o, size_t keylen, int64_t t) {
  /* t bounded so that (t / step + window) * step cannot overflow */
  if (keylen == 0 || keylen > FSEC_OTP_KEY_MAX || t < 0 || t > FSEC_OTP_TIME_MAX)
    return FSEC_EINVAL;
  if (o->step < 1 || o->step > 3600 || o->digits < 6 || o->digits > 8 ||
      o->window > FSEC_OTP_WINDOW_MAX || o->alg < FSEC_OTP_SHA1 ||
      o->alg > FSEC_OTP_SHA512)
    return FSEC_EINVAL;
  pthread_once(&oath_once, oath_start);
  return oath_status == OATH_OK ? FSEC_OK : FSEC_ECRYPTO;
}

/* The code of one time step (checked arguments). liboath computes the
 * step from a time, so the step's first second is passed. */
static int step_code(const void *key, size_t keylen, int64_t counter,
                     const fsec_totp_opts *o, char out[FSEC_OTP_CODE_BYTES]) {
  static const int flags[] = {0, OATH_TOTP_HMAC_SHA256, OATH_TOTP_HMAC_SHA512};
  int rc = oath_totp_generate2(key, keylen, (time_t)(counter * o->step),
                               o->step, 0, o->digits, flags[o->alg], out);
  return rc == OATH_OK ? FSEC_OK : FSEC_ECRYPTO;
}

int fsec_totp_code(const void *key, size_t keylen, int64_t t,
                   const fsec_totp_opts *opts, char out[FSEC_OTP_CODE_BYTES]) {
  fsec_totp_opts def;
  int rc;
  if (opts == NULL) fsec_totp_opts_init(&def), opts = &def;
  if ((rc = check_args(opts, keylen, t)) != FSEC_OK) return rc;
  return step_code(key, keylen, t / opts->step, opts, out);
}

/* code without whitespace, '-' and '=' into out: 1 when that leaves
 * exactly digits ASCII digits, else 0. */
static int normalise(const char *code, size_t len, unsigned digits,
                     char out[FSEC_OTP_CODE_BYTES]) {
  size_t i, n = 0;
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)code[i];
    if (c == ' ' || (c >= '\t' && c <= '\r') || c == '-' || c == '=') continue;
    if (c < '0' || c > '9' || n == digits) return 0;
    out[n++] = (char)c;
  }
  out[n] = '\0';
  return n == digits;
}

int fsec_totp_match(const void *key, size_t keylen, const char *code,
                    size_t codelen, int64_t t, const fsec_totp_opts *opts,
                    int *result, int64_t *counter) {
  fsec_totp_opts def;
  char want[FSEC_OTP_CODE_BYTES], got[FSEC_OTP_CODE_BYTES];
  int64_t now, c, fresh = -1;
  uint64_t any_fresh = 0, any_used = 0;
  int rc;
  *result = FSEC_TOTP_INVALID;
  *counter = 0;
  if (opts == NULL) fsec_totp_opts_init(&def), opts = &def;
  if ((rc = check_args(opts, keylen, t)) != FSEC_OK) return rc;
  if (code == NULL || !normalise(code, codelen, opts->digits, want)) {
    *result = FSEC_TOTP_FORMAT;
    return FSEC_OK;
  }
  now = t / opts->step;
  /* Every step of the window is computed and compared, and the outcome
   * is folded in with masks: the time taken says nothing about which
   * step matched, or whether one did. */
  for (c = now - (int64_t)opts->window; c <= now + (int64_t)opts->window; c++) {
    uint64_t hit, is_fresh;
    if (c < 0) continue; /* before 1970: no such step (public) */
    if ((rc = step_code(key, keylen, c, opts, got)) != FSEC_OK) break;
    hit = (uint64_t)0 - (uint64_t)(sodium_memcmp(got, want, opts->digits) == 0);
    is_fresh = (uint64_t)0 - (uint64_t)(!opts->has_after || c > opts->after);
    any_fresh |= hit & is_fresh;
    any_used |= hit & ~is_fresh;
    /* the latest fresh step: later steps overwrite earlier ones */
    fresh = (int64_t)(((uint64_t)c & hit & is_fresh) |
                      ((uint64_t)fresh & ~(hit & is_fresh)));
  }
  sodium_memzero(got, sizeof got);
  sodium_memzero(want, sizeof want);
  if (rc != FSEC_OK) return rc;
  if (any_fresh) {
    *result = FSEC_TOTP_MATCH;
    *counter = fresh;
  } else if (any_used) {
    *result = FSEC_TOTP_REPLAYED;
  }
  return FSEC_OK;
}
