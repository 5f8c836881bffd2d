/*
 * fsec/errors.h: every status code fsec returns, from one X-macro table.
 *
 * 0 means success; every error is negative, so functions may also return
 * non-negative counts. fsec_errname() and fsec_strerror() never fail and
 * return static strings (do not free them).
 */
#ifndef FSEC_ERRORS_H
#define FSEC_ERRORS_H

#include "fsec/common.h"

/* A table aligned by hand: */
/* clang-format off */
#define FSEC_ERRNO_MAP(XX)                                                    \
  XX(EINVAL,     -1,  "invalid argument")                                    \
  XX(EMISUSE,    -2,  "library misuse")                                      \
  XX(ENOMEM,     -3,  "out of memory")                                       \
  XX(ETOOLONG,   -4,  "value too long")                                      \
  XX(EUTF8,      -5,  "invalid UTF-8")                                       \
  XX(ENUL,       -6,  "NUL byte in value")                                   \
  XX(EKEY,       -7,  "secret key missing or too short")                     \
  XX(EHASHFMT,   -8,  "malformed password hash")                             \
  XX(EHASHCAP,   -9,  "password hash parameters above the configured caps")  \
  XX(ESCHEME,    -10, "password hash scheme not enabled")                    \
  XX(ECRYPTO,    -11, "cryptographic primitive failed")                      \
  XX(ETOKEN,     -12, "malformed token")                                     \
  XX(EDB,        -13, "database error")                                      \
  XX(EBUSY,      -14, "store busy")                                          \
  XX(ENOTFOUND,  -15, "not found")                                           \
  XX(EEXIST,     -16, "already exists")                                      \
  XX(EFORK,      -17, "handle used across fork()")                         \
  XX(EFULL,      -18, "database or disk is full")                            \
  XX(EREADONLY,  -19, "database is read-only")                               \
  XX(EIDENTITY,  -20, "invalid identity")                                   \
  XX(EHELPER,    -21, "argon2 helper process failed")                       \
  XX(EUNAVAILABLE, -22, "store unreachable")                                \
  XX(EAUTH,      -23, "authentication failed (forged, wrong key or data)")  \
  XX(EEXPIRED,   -24, "expired")
/* clang-format on */

typedef enum fsec_errno {
  FSEC_OK = 0,
#define FSEC__ERR_ENUM(name, val, msg) FSEC_##name = (val),
  FSEC_ERRNO_MAP(FSEC__ERR_ENUM)
#undef FSEC__ERR_ENUM
  FSEC__ERR_LAST = -25
} fsec_errno;

/* Symbolic name of a code ("EINVAL"); "OK" for 0, "EUNKNOWN" otherwise.
 * This function can't fail. */
FSEC_API const char *fsec_errname(int rc);

/* Short English description of a code. This function can't fail. */
FSEC_API const char *fsec_strerror(int rc);

#endif /* FSEC_ERRORS_H */
