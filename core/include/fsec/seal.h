/*
 * fsec/seal.h: a keyring that seals small secrets at rest (the TOTP keys
 * of users), in the shape of Flask-Security's TOTP_SECRETS: several
 * tagged secrets, the current one sealing, every one unsealing, so that a
 * new secret can be added and the old ones kept until every stored value
 * is resealed.
 *
 * Each configured secret is stretched ONCE, when the keyring is made, with
 * argon2id (opslimit 2, memlimit 8 MiB, salt: the first 16 bytes of
 * BLAKE2b-256("fsec keyring v1\0" || tag)): a weak configured secret is
 * then not cheap to guess from a database dump, while unsealing (once per
 * login) costs only the cipher. The keys live in sodium_malloc memory and
 * are wiped by fsec_keyring_free.
 *
 * Sealed form: "$fsec$1$<tag>$" then base64url without padding of
 * nonce (24) || XChaCha20-Poly1305-IETF ciphertext || tag (16). The
 * prefix up to the last '$' is authenticated with the caller's aad.
 *
 * A keyring is read-only once made: any number of threads may seal and
 * unseal with it at once.
 */
#ifndef FSEC_SEAL_H
#define FSEC_SEAL_H

#include "fsec/common.h"

#define FSEC_KEYRING_MAX 32        /* secrets in one keyring */
#define FSEC_KEYRING_TAG_MAX 32    /* characters of a tag */
#define FSEC_KEYRING_SECRET_MIN 16 /* bytes of a configured secret */
#define FSEC_KEYRING_SECRET_MAX 4096
#define FSEC_SEAL_PLAIN_MAX 65536 /* bytes sealed at once */
#define FSEC_SEAL_OVERHEAD 40     /* nonce and MAC, before base64url */

typedef struct fsec_keyring fsec_keyring;

/* Make a keyring of n (1..FSEC_KEYRING_MAX) tagged secrets. Tags match
 * (?i)^[a-z0-9][a-z0-9_.-]*$, at most FSEC_KEYRING_TAG_MAX characters,
 * all different; secrets are FSEC_KEYRING_SECRET_MIN..._MAX bytes. The
 * current (sealing) tag is the numerically largest when every tag is
 * digits, else the largest by bytes (passlib's rule). Takes about 10 ms
 * per secret (argon2id). On FSEC_OK *out is the keyring (free it with
 * fsec_keyring_free). On failure *out is NULL, err holds a message that
 * names the tag, never the secret, and the return is FSEC_EINVAL (a tag
 * or a secret), FSEC_ENOMEM or FSEC_ECRYPTO. */
FSEC_API FSEC_NODISCARD int fsec_keyring_new(
    fsec_keyring **out, const char *const *tags, const size_t *taglens,
    const unsigned char *const *secrets, const size_t *secretlens, size_t n,
    char *err, size_t errcap) FSEC_NONNULL(1);

/* Wipe and free. NULL is a no-op. */
FSEC_API void fsec_keyring_free(fsec_keyring *kr);

/* The current tag (NUL-terminated, owned by the keyring). This function
 * can't fail. */
FSEC_API const char *fsec_keyring_current(const fsec_keyring *kr)
    FSEC_NONNULL(1);

/* Characters of the sealed form of n bytes under the current tag, without
 * the NUL. */
FSEC_API size_t fsec_keyring_sealed_len(const fsec_keyring *kr, size_t n)
    FSEC_NONNULL(1);

/* Seal pt[0..ptlen) (with aad[0..aadlen), which unsealing must repeat;
 * aad may be NULL when aadlen is 0) under the current tag and a random
 * nonce into out, NUL-terminated. Returns FSEC_OK and *outlen, or
 * FSEC_EINVAL (ptlen above FSEC_SEAL_PLAIN_MAX, outcap below
 * fsec_keyring_sealed_len + 1). */
FSEC_API FSEC_NODISCARD int fsec_keyring_seal(
    const fsec_keyring *kr, const void *pt, size_t ptlen, const void *aad,
    size_t aadlen, char *out, size_t outcap, size_t *outlen)
    FSEC_NONNULL(1, 6, 8);

/* Open a sealed value into out (capacity cap: the plaintext is never
 * longer than slen). Returns FSEC_OK with *outlen and *tag (the tag it was
 * sealed under, owned by the keyring: when it is not the current one the
 * caller should reseal), FSEC_EINVAL (not a sealed value, or cap too
 * small), FSEC_EKEY (its tag is not in the keyring) or FSEC_EAUTH (forged,
 * another key or another aad). On failure out holds nothing (wiped). */
FSEC_API FSEC_NODISCARD int fsec_keyring_unseal(
    const fsec_keyring *kr, const char *sealed, size_t slen, const void *aad,
    size_t aadlen, void *out, size_t cap, size_t *outlen, const char **tag)
    FSEC_NONNULL(1, 6, 8, 9);

#endif /* FSEC_SEAL_H */
