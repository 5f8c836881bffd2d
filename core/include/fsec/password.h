/*
 * fsec/password.h: password hashing (argon2id), verification of every
 * format a Flask-Security database can hold, and the upgrade check.
 *
 * Every function first checks the password: at most cfg.password_max_bytes
 * bytes (FSEC_ETOOLONG), no NUL byte (FSEC_ENUL: NUL would truncate in the
 * crypt family, so it is refused everywhere), valid UTF-8 (FSEC_EUTF8).
 * Then it normalizes it (cfg.normalize) and, when a password salt is set,
 * pre-hashes it as Flask-Security does: Base64(HMAC-SHA512(salt, pw)).
 * Password copies are wiped before return.
 */
#ifndef FSEC_PASSWORD_H
#define FSEC_PASSWORD_H

#include "fsec/common.h"
#include "fsec/engine.h"

/* Capacity that always suffices for a hash made by fsec_password_hash,
 * NUL included. */
#define FSEC_PASSWORD_HASH_BYTES 128
FSEC_API size_t fsec_password_hash_bytes(void);

/* Longest stored hash string fsec will look at; longer is malformed. */
#define FSEC_PASSWORD_STORED_MAX 512

/* Hash pw with argon2id at the configured t and m (p = 1) into out, a
 * NUL-terminated PHC string ("$argon2id$v=19$m=65536,t=2,p=1$salt$tag").
 * Returns FSEC_OK, a password error (see above), FSEC_EINVAL when outlen is
 * below FSEC_PASSWORD_HASH_BYTES, or FSEC_ENOMEM/FSEC_ECRYPTO when argon2
 * could not get its memory. On error out is an empty string. */
FSEC_API FSEC_NODISCARD int fsec_password_hash(fsec_engine *e, const char *pw,
                                               size_t pwlen, char *out,
                                               size_t outlen)
    FSEC_NONNULL(1, 2, 4);

/* Verify pw against a stored hash. Returns FSEC_OK and sets *match to 1 or
 * 0 when the hash was checked. Returns a password error, or FSEC_EHASHFMT
 * (malformed, truncated, unknown format), FSEC_EHASHCAP (parameters above
 * the caps, or a cost above caps.verify_budget: see fsec_password_cost) or
 * FSEC_ESCHEME (format not enabled), with *match = 0 and without running
 * any expensive function. Comparisons are constant-time. */
FSEC_API FSEC_NODISCARD int fsec_password_verify(fsec_engine *e,
                                                 const char *pw, size_t pwlen,
                                                 const char *hash,
                                                 size_t hashlen, int *match)
    FSEC_NONNULL(1, 2, 4, 6);

/* Verify data against a passlib hash of it made by Flask-Security 3.0's
 * hash_data() (its HASHING_SCHEMES: sha256_crypt and hex_md5 by default;
 * sha512_crypt, bcrypt and pbkdf2 too). data is no password: it is used
 * as given (no normalization, no password_salt), any scheme of those is
 * read whether or not password_schemes lists it, plaintext and argon2
 * never are, and the caps and caps.verify_budget apply. Returns as
 * fsec_password_verify. */
FSEC_API FSEC_NODISCARD int fsec_password_verify_data(fsec_engine *e,
                                                      const char *data,
                                                      size_t len,
                                                      const char *hash,
                                                      size_t hashlen,
                                                      int *match)
    FSEC_NONNULL(1, 2, 4, 6);

/* What verifying against a stored hash would cost, estimated from its own
 * parameters (bcrypt cost, rounds, argon2 m and t), in units of one new
 * hash at the engine's argon2id parameters (never less than OWASP's
 * minimum, 19 MiB and t = 2): the unit of caps.verify_budget. Runs
 * nothing. Returns FSEC_OK, or FSEC_EHASHFMT, FSEC_ESCHEME or FSEC_EHASHCAP
 * (above a cap) with *cost = 0. */
FSEC_API FSEC_NODISCARD int fsec_password_cost(fsec_engine *e,
                                               const char *hash,
                                               size_t hashlen, double *cost)
    FSEC_NONNULL(1, 2, 4);

/* The checks fsec_password_verify makes of a stored hash before running
 * it (format, scheme, caps, verify budget), alone: FSEC_OK when verify
 * would run it, else the code verify would return unrun. */
FSEC_API FSEC_NODISCARD int fsec_password_check_stored(fsec_engine *e,
                                                       const char *hash,
                                                       size_t hashlen)
    FSEC_NONNULL(1, 2);

/* Set *needs to 1 when hash is not argon2id with exactly the configured
 * parameters (t, m, p = 1, v = 19), else 0. Returns FSEC_OK, or
 * FSEC_EHASHFMT for a string that is not a hash fsec recognises. */
FSEC_API FSEC_NODISCARD int fsec_password_needs_update(fsec_engine *e,
                                                       const char *hash,
                                                       size_t hashlen,
                                                       int *needs)
    FSEC_NONNULL(1, 2, 4);

/* The checked, normalized form of a password (what forms count code points
 * of). On FSEC_OK *out is allocated by fsec (free it with
 * fsec_password_free, which wipes it) and holds *outlen bytes plus a NUL.
 * Errors: FSEC_ETOOLONG, FSEC_ENUL, FSEC_EUTF8, FSEC_ENOMEM. */
FSEC_API FSEC_NODISCARD int fsec_password_normalize(fsec_engine *e,
                                                    const char *pw,
                                                    size_t pwlen, char **out,
                                                    size_t *outlen)
    FSEC_NONNULL(1, 2, 4, 5);
FSEC_API void fsec_password_free(char *p, size_t len);

/* Write a well-formed argon2id string with the configured parameters and a
 * random salt and tag, without hashing anything. Verifying any password
 * against it costs exactly one argon2id run at the current parameters and
 * never matches: what a login for an unknown user or a user without a
 * password verifies against, so every failure costs the same.
 * Returns FSEC_OK or FSEC_EINVAL (outlen below FSEC_PASSWORD_HASH_BYTES). */
FSEC_API FSEC_NODISCARD int fsec_password_dummy(fsec_engine *e, char *out,
                                                size_t outlen)
    FSEC_NONNULL(1, 2);

/* The FSEC_SCHEME_* of a stored hash string, or FSEC_EHASHFMT. A string
 * that starts with no known prefix is FSEC_SCHEME_PLAINTEXT only when the
 * engine enables plaintext. */
FSEC_API int fsec_password_identify(const fsec_engine *e, const char *hash,
                                    size_t hashlen) FSEC_NONNULL(1, 2);

/* Process id of the calling thread's argon2 helper (fsec_config's
 * argon2_helper), 0 when this thread has none running. This function
 * can't fail. */
FSEC_API int fsec_argon2_helper_pid(void);

#endif /* FSEC_PASSWORD_H */
