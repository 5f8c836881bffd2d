/*
 * fsec/token.h: signed, expiring tokens bound to a purpose.
 *
 * Format (version 1), documented in docs/tokens.md:
 *   token = base64url-nopad( 0x01 || iat (u64 big-endian seconds)
 *                            || payload || mac )
 *   mac   = HMAC-SHA256(k_purpose, 0x01 || iat || payload), 32 bytes
 *   k_purpose = HMAC-SHA256(secret_key, "fsec-token-v1" 0x00 purpose)
 * A token minted for one purpose never verifies for another. The first
 * secret key signs; every configured key verifies (rotation).
 */
#ifndef FSEC_TOKEN_H
#define FSEC_TOKEN_H

#include "fsec/common.h"
#include "fsec/engine.h"

#define FSEC_TOKEN_VERSION 1
#define FSEC_TOKEN_MAC_BYTES 32
#define FSEC_TOKEN_HEADER_BYTES 9 /* version + iat */
#define FSEC_TOKEN_PURPOSE_MAX 64

/* Result of fsec_token_verify. */
typedef enum fsec_token_status {
  FSEC_TOKEN_VALID = 0,
  FSEC_TOKEN_EXPIRED = 1, /* MAC valid, older than max_age */
  FSEC_TOKEN_INVALID = 2  /* anything else: malformed, bad MAC, future */
} fsec_token_status;

/* Characters in a token carrying payload_len bytes (no NUL).
 * This function can't fail. */
FSEC_API size_t fsec_token_encoded_len(size_t payload_len);

/* Largest payload a token of at most max_chars characters can carry. */
FSEC_API size_t fsec_token_payload_max(size_t max_chars);

/* Mint a token for purpose (1..FSEC_TOKEN_PURPOSE_MAX bytes, no NUL) with
 * issued-at = now (seconds since the epoch; pass -1 for the system clock).
 * out receives fsec_token_encoded_len(payload_len) characters and a NUL;
 * outlen must be larger than that. *written (if not NULL) gets the length.
 * Returns FSEC_OK, FSEC_EINVAL (bad purpose or buffer), or FSEC_ETOOLONG
 * (the token would exceed cfg.token_max_length). */
FSEC_API FSEC_NODISCARD int fsec_token_issue(fsec_engine *e,
                                             const char *purpose,
                                             size_t purpose_len,
                                             const unsigned char *payload,
                                             size_t payload_len, int64_t now,
                                             char *out, size_t outlen,
                                             size_t *written)
    FSEC_NONNULL(1, 2, 7);

/* Check a token. Returns FSEC_OK with *status set, or FSEC_EINVAL for a bad
 * purpose or buffer (programmer errors). The token is read strictly: at
 * most cfg.token_max_length characters, canonical base64url without padding
 * and nothing after it; the MAC is compared in constant time against every
 * key before anything else in the token is looked at. An issued-at more
 * than cfg.token_skew seconds ahead of now is invalid. max_age < 0 means
 * no age limit; now < 0 means the system clock.
 * When the MAC is valid (status VALID or EXPIRED) the payload is copied to
 * payload (capacity payload_cap, which fsec_token_payload_max() of the
 * token length always satisfies), its length to *payload_len and the
 * issued-at to *issued_at. fsec_errmsg() tells why a token was invalid. */
FSEC_API FSEC_NODISCARD int fsec_token_verify(
    fsec_engine *e, const char *purpose, size_t purpose_len,
    const char *token, size_t token_len, int64_t max_age, int64_t now,
    int *status, unsigned char *payload, size_t payload_cap,
    size_t *payload_len, int64_t *issued_at) FSEC_NONNULL(1, 2, 4, 8);

#endif /* FSEC_TOKEN_H */
