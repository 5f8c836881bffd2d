/*
 * fsec/random.h: unpredictable identifiers (fs_uniquifier, session ids,
 * CSRF tokens) from libsodium's CSPRNG.
 */
#ifndef FSEC_RANDOM_H
#define FSEC_RANDOM_H

#include "fsec/common.h"

#define FSEC_RANDOM_ID_MIN_BYTES 16 /* 128 bits */
#define FSEC_RANDOM_ID_MAX_BYTES 64

/* Characters of a base64url id made from nbytes random bytes (no NUL). */
FSEC_API size_t fsec_random_id_len(size_t nbytes);

/* Write a NUL-terminated base64url id of nbytes random bytes (16..64) to
 * out. Returns FSEC_OK or FSEC_EINVAL (nbytes out of range, or outlen below
 * fsec_random_id_len(nbytes) + 1). */
FSEC_API FSEC_NODISCARD int fsec_random_id(char *out, size_t outlen,
                                           size_t nbytes) FSEC_NONNULL(1);

#endif /* FSEC_RANDOM_H */
