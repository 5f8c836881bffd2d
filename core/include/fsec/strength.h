/*
 * fsec/strength.h: a password's strength as zxcvbn estimates it (Debian's
 * libzxcvbn, the C port of Dropbox's estimator), scored 0..4 like
 * zxcvbn's score and with the one warning zxcvbn's feedback would give
 * for a weak password: Flask-Security-Too's "zxcvbn" complexity checker
 * shows that warning (or PASSWORD_TOO_SIMPLE when there is none).
 */
#ifndef FSEC_STRENGTH_H
#define FSEC_STRENGTH_H

#include "fsec/common.h"

#define FSEC_STRENGTH_INPUTS_MAX 16   /* user inputs (email, username...) */
#define FSEC_STRENGTH_INPUT_MAX 320   /* bytes of one user input */
#define FSEC_STRENGTH_PASSWORD_MAX 64 /* bytes estimated (see strength.c) */

typedef struct fsec_strength {
  int score;           /* 0..4: guesses below 10^3, 10^6, 10^8, 10^10, above */
  double bits;         /* log2 of the estimated guesses */
  const char *warning; /* static English text, or NULL: none applies */
} fsec_strength;

/* Estimate password[0..len) with the strings inputs[0..n) as extra
 * dictionary words (the user's own email, username: a password made of
 * them is weak). Only the first FSEC_STRENGTH_PASSWORD_MAX bytes are
 * estimated. Returns FSEC_OK, FSEC_ENUL (a NUL byte in the password or an
 * input), FSEC_EINVAL (n above FSEC_STRENGTH_INPUTS_MAX, an input above
 * FSEC_STRENGTH_INPUT_MAX) or FSEC_ENOMEM. */
FSEC_API FSEC_NODISCARD int fsec_password_strength(const char *password, size_t len,
                                                   const char *const *inputs,
                                                   const size_t *input_lens, size_t n,
                                                   fsec_strength *out)
    FSEC_NONNULL(6);

#endif /* FSEC_STRENGTH_H */
