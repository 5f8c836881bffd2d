/*
 * fsec/itsdangerous.h: Flask's and Flask-Security's signed values, checked
 * (and made) the way itsdangerous 2.x and Flask-Login do, so that fsec
 * accepts the credentials a Flask app handed out (docs/migration.md,
 * "Flask-Security's tokens and cookies").
 *
 * URLSafeTimedSerializer token:  [.]PAYLOAD "." TS "." SIG
 *   PAYLOAD  base64url (no padding) of the JSON; with a leading "." the
 *            JSON was zlib-compressed (the "." is part of what is signed)
 *   TS       base64url of the big-endian issue time, leading zero bytes
 *            dropped
 *   SIG      base64url(HMAC-SHA1(dk, everything before the last "."))
 *   dk       django-concat: SHA1(salt "signer" key)  (Flask-Security)
 *            hmac:          HMAC-SHA1(key, salt)    (Flask's session)
 * Flask-Login remember cookie:  PAYLOAD "|" lowercase-hex(HMAC-SHA512(
 *   latin-1(key), PAYLOAD)).
 *
 * No engine: the keys are the Flask app's, not fsec's, and are passed in
 * on each call, newest first (each is tried in the order given).
 */
#ifndef FSEC_ITSDANGEROUS_H
#define FSEC_ITSDANGEROUS_H

#include "fsec/common.h"

/* Longest token or cookie looked at (a browser keeps 4096 per cookie). */
#define FSEC_ITSD_TOKEN_MAX 8192
/* Most bytes of JSON fsec_itsd_sign takes (compressed, it may fit). */
#define FSEC_ITSD_SIGN_INPUT_MAX (1 << 24)
/* Most keys tried (SECRET_KEY and its fallbacks). */
#define FSEC_ITSD_KEYS_MAX 9
/* Characters of a SHA-1 signature in base64url. */
#define FSEC_ITSD_SIG_CHARS 27
/* Hex characters of a remember cookie's HMAC-SHA512. */
#define FSEC_ITSD_REMEMBER_HEX 128

typedef enum fsec_itsd_kdf {
  FSEC_ITSD_DJANGO_CONCAT = 0, /* itsdangerous' default (Flask-Security) */
  FSEC_ITSD_HMAC = 1           /* Flask's session interface */
} fsec_itsd_kdf;

/* Results (the same numbers as fsec_token_status). */
typedef enum fsec_itsd_status {
  FSEC_ITSD_VALID = 0,
  FSEC_ITSD_EXPIRED = 1, /* signature good, age > max_age or < 0 */
  FSEC_ITSD_INVALID = 2  /* anything else */
} fsec_itsd_status;

typedef struct fsec_itsd_key {
  const char *key; /* UTF-8, as the Flask app's str SECRET_KEY */
  size_t len;
} fsec_itsd_key;

/* Check a URLSafeTimedSerializer token against each key in turn. Returns
 * FSEC_OK with *status, or FSEC_EINVAL for misuse (no keys, too many, no
 * salt, no output buffer). Malformed input is INVALID, never an error:
 * base64url is read strictly (canonical, no padding), the signature is
 * compared in constant time before the payload is decoded, and a
 * compressed payload is inflated into out and refused (INVALID) when it
 * would not fit in out_cap bytes (the zlib-bomb cap).
 * max_age < 0: no age check (TOKEN_MAX_AGE None). Otherwise the token is
 * EXPIRED when now - ts > max_age or < 0, as itsdangerous' loads(max_age).
 * now < 0: the system clock. On VALID and EXPIRED, out holds the JSON
 * (*out_len bytes, not NUL-terminated) and *ts the issue time; *key_index
 * (if not NULL) gets the index of the key that verified. */
FSEC_API FSEC_NODISCARD int fsec_itsd_verify(
    const fsec_itsd_key *keys, size_t n_keys, const char *salt,
    size_t salt_len, fsec_itsd_kdf kdf, const char *tok, size_t tok_len,
    int64_t max_age, int64_t now, int *status, unsigned char *out,
    size_t out_cap, size_t *out_len, int64_t *ts, size_t *key_index)
    FSEC_NONNULL(3, 6, 10, 11, 13, 14);

/* Sign json (its bytes as given) with key at time now (< 0: the system
 * clock), compressing exactly when itsdangerous does (zlib at level 6,
 * when that is shorter than len - 1). out gets the token and a NUL;
 * *written its length. FSEC_OK, FSEC_EINVAL, or FSEC_ETOOLONG (out too
 * small or the token over FSEC_ITSD_TOKEN_MAX). */
FSEC_API FSEC_NODISCARD int fsec_itsd_sign(
    const fsec_itsd_key *key, const char *salt, size_t salt_len,
    fsec_itsd_kdf kdf, const unsigned char *json, size_t json_len,
    int64_t now, char *out, size_t out_cap, size_t *written)
    FSEC_NONNULL(1, 2, 5, 8, 10);

/* Check a Flask-Login remember cookie against each key: FSEC_OK with
 * *status VALID (*payload_len = length of the payload, which is the
 * cookie's first bytes, up to the last '|') or INVALID. Uppercase hex is
 * INVALID, as in Flask-Login. A key with a character above U+00FF (which
 * Flask-Login could not encode as latin-1) never verifies. */
FSEC_API FSEC_NODISCARD int fsec_itsd_remember_verify(
    const fsec_itsd_key *keys, size_t n_keys, const char *cookie,
    size_t cookie_len, int *status, size_t *payload_len)
    FSEC_NONNULL(3, 5, 6);

/* Make a remember cookie for payload: out gets it and a NUL (payload_len +
 * 129 bytes plus the NUL). FSEC_OK, FSEC_EINVAL (a key Flask-Login could
 * not use, or a '|'-free payload rule broken: the payload must not hold
 * NUL) or FSEC_ETOOLONG. */
FSEC_API FSEC_NODISCARD int fsec_itsd_remember_sign(
    const fsec_itsd_key *key, const char *payload, size_t payload_len,
    char *out, size_t out_cap, size_t *written) FSEC_NONNULL(1, 2, 4, 6);

#endif /* FSEC_ITSDANGEROUS_H */
