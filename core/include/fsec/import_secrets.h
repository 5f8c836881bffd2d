/*
 * fsec/import_secrets.h: read the secrets Flask-Security stored, to move
 * them under fsec's keyring (fsec/seal.h):
 *
 *   - passlib's encrypted TOTP keys ("enckey" v1 of tf_totp_secret and
 *     us_totp_secrets): PBKDF2-HMAC-SHA256 then AES-256-CTR, no MAC;
 *   - Fernet tokens (recovery codes under MULTI_FACTOR_RECOVERY_CODES_KEYS).
 *
 * Import only: fsec never writes either format. Thread-safe.
 */
#ifndef FSEC_IMPORT_SECRETS_H
#define FSEC_IMPORT_SECRETS_H

#include "fsec/common.h"

#define FSEC_PASSLIB_COST_MIN 1
#define FSEC_PASSLIB_COST_MAX 20 /* 2^20 PBKDF2 rounds: about a second */
#define FSEC_IMPORT_MAX 4096     /* bytes of ciphertext or token */

/* out = AES-256-CTR decryption of ct[0..ctlen) under key || iv =
 * PBKDF2-HMAC-SHA256(secret, salt, 2^cost, 48 bytes): passlib's enckey v1
 * (cost "c", salt "s" and ciphertext "k" Base32-decoded). passlib has no
 * MAC: a wrong secret gives wrong bytes, not an error. Returns FSEC_OK (out
 * holds ctlen bytes), FSEC_EINVAL (cost outside 1..20, empty salt, ct
 * empty or above FSEC_IMPORT_MAX, cap < ctlen) or FSEC_ECRYPTO. */
FSEC_API FSEC_NODISCARD int fsec_passlib_totp_decrypt(
    const void *secret, size_t secretlen, const void *salt, size_t saltlen,
    const void *ct, size_t ctlen, int cost, void *out, size_t cap)
    FSEC_NONNULL(8);

/* Decrypt the Fernet token[0..tokenlen) under key (base64url of 32 bytes,
 * padded or not) into out (capacity cap) and set *outlen. The HMAC-SHA256
 * is checked (in constant time) before anything else is read; then, when
 * ttl >= 0, the token's time: older than now - ttl, or more than 60 s
 * ahead of now, is FSEC_EEXPIRED (cryptography's rule; now < 0 means the
 * clock). Returns FSEC_OK, FSEC_EINVAL (not a token, a bad key, bad
 * padding inside, cap too small), FSEC_EAUTH (the MAC does not match:
 * another key, or forged), FSEC_EEXPIRED or FSEC_ECRYPTO. */
FSEC_API FSEC_NODISCARD int fsec_fernet_decrypt(
    const char *key, size_t keylen, const char *token, size_t tokenlen,
    int64_t ttl, int64_t now, void *out, size_t cap, size_t *outlen)
    FSEC_NONNULL(1, 3, 7, 9);

#endif /* FSEC_IMPORT_SECRETS_H */
