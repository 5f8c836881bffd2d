/*
 * fsec/otp.h: one-time passwords of authenticator apps (TOTP, RFC 6238)
 * and the Base32 their keys are shown in (RFC 4648 §6).
 *
 * The codes are liboath's (oath_totp_generate2); the match runs in time
 * that depends on the window's size only, never on which step matched or
 * on how much of a code was right. Keys here are raw bytes: sealing them
 * at rest is fsec/seal.h's job. Thread-safe; no allocation.
 */
#ifndef FSEC_OTP_H
#define FSEC_OTP_H

#include "fsec/common.h"

#define FSEC_OTP_SECRET_BYTES 20             /* a new key: the SHA-1 block's digest size */
#define FSEC_OTP_KEY_MAX 128                 /* longest raw key accepted */
#define FSEC_OTP_CODE_BYTES 9                /* 8 digits at most, and a NUL */
#define FSEC_OTP_WINDOW_MAX 50               /* steps on each side of now */
#define FSEC_OTP_TIME_MAX ((int64_t)1 << 56) /* latest unix time accepted */

typedef enum fsec_otp_alg {
  FSEC_OTP_SHA1 = 0, /* passlib's and every authenticator app's default */
  FSEC_OTP_SHA256,
  FSEC_OTP_SHA512
} fsec_otp_alg;

/* The outcome of fsec_totp_match (a decision, not an error). */
typedef enum fsec_totp_result {
  FSEC_TOTP_MATCH = 0, /* *counter is the matched time step */
  FSEC_TOTP_FORMAT,    /* not `digits` ASCII digits once normalised */
  FSEC_TOTP_INVALID,   /* no step of the window has this code */
  FSEC_TOTP_REPLAYED   /* only steps <= opts.after have it */
} fsec_totp_result;

typedef struct fsec_totp_opts {
  unsigned step;   /* seconds per step, 1..3600 (30) */
  unsigned digits; /* 6..8 (6); liboath makes no other length */
  unsigned window; /* steps each side of now, 0..FSEC_OTP_WINDOW_MAX (4) */
  int alg;         /* fsec_otp_alg (FSEC_OTP_SHA1) */
  int has_after;   /* when set, only steps > after are accepted (0) */
  int64_t after;   /* the last step this key accepted (replay guard) */
} fsec_totp_opts;

/* Fill o with the defaults above (passlib's, and a 120 s window). This
 * function can't fail. */
FSEC_API void fsec_totp_opts_init(fsec_totp_opts *o) FSEC_NONNULL(1);

/* A new key: FSEC_OTP_SECRET_BYTES bytes of libsodium's CSPRNG. Returns
 * FSEC_OK or FSEC_ECRYPTO (libsodium would not start). */
FSEC_API FSEC_NODISCARD int fsec_otp_secret(
    unsigned char out[FSEC_OTP_SECRET_BYTES]) FSEC_NONNULL(1);

/* Characters of n bytes in Base32 without padding (no NUL). */
FSEC_API size_t fsec_base32_encoded_len(size_t n);

/* out = RFC 4648 Base32 of in[0..n), upper-case, padding stripped (what
 * passlib stores and authenticator apps read), NUL-terminated. Returns
 * FSEC_OK or FSEC_EINVAL (outcap below fsec_base32_encoded_len(n) + 1). */
FSEC_API FSEC_NODISCARD int fsec_base32_encode(const void *in, size_t n,
                                               char *out, size_t outcap)
    FSEC_NONNULL(3);

/* Decode s[0..len) as passlib does (the keys users type and the ones
 * Flask-Security stored): letters in either case, '8' read as 'B' and '0'
 * as 'O', spaces ignored, '=' padding optional but, when present, exactly
 * what the length calls for. Unused low bits are ignored (as Python's
 * b32decode does). Returns FSEC_OK and *outlen, FSEC_EINVAL (another
 * character, a length no encoding has) or FSEC_ETOOLONG (more than cap
 * bytes); on failure *outlen is 0 and out is wiped. */
FSEC_API FSEC_NODISCARD int fsec_base32_decode(const char *s, size_t len,
                                               void *out, size_t cap,
                                               size_t *outlen)
    FSEC_NONNULL(5);

/* out = the code of key[0..keylen) at unix time t (>= 0): opts->digits
 * ASCII digits and a NUL. opts NULL means the defaults. Returns FSEC_OK,
 * FSEC_EINVAL (a key of 0 or more than FSEC_OTP_KEY_MAX bytes, t < 0 or
 * above FSEC_OTP_TIME_MAX, an option out of range) or FSEC_ECRYPTO (liboath failed). */
FSEC_API FSEC_NODISCARD int fsec_totp_code(const void *key, size_t keylen,
                                           int64_t t,
                                           const fsec_totp_opts *opts,
                                           char out[FSEC_OTP_CODE_BYTES])
    FSEC_NONNULL(5);

/* Check code[0..codelen) as typed by a user at unix time t: whitespace,
 * '-' and '=' removed first (passlib's normalisation, so "984 129" is
 * accepted), then every step from now - window to now + window is
 * computed and compared in constant time, all of them whatever matches.
 * Sets *result (fsec_totp_result) and, on FSEC_TOTP_MATCH, *counter to the
 * matched step (the value to keep as the next call's opts->after). When
 * the same code belongs to several steps, the latest fresh one wins.
 * Returns FSEC_OK, FSEC_EINVAL or FSEC_ECRYPTO as fsec_totp_code. */
FSEC_API FSEC_NODISCARD int fsec_totp_match(const void *key, size_t keylen,
                                            const char *code, size_t codelen,
                                            int64_t t,
                                            const fsec_totp_opts *opts,
                                            int *result, int64_t *counter)
    FSEC_NONNULL(7, 8);

#endif /* FSEC_OTP_H */
