/*
 * internal.h: the engine's private layout and fsec__ helpers. Not API.
 */
#ifndef FSEC_INTERNAL_H
#define FSEC_INTERNAL_H

#include <stdlib.h>

#include <sodium.h>

#include "fsec.h"

/* Purposes whose pre-keyed HMAC states are cached; others are derived per
 * call (still correct, about six SHA-256 compressions more per key). */
#define FSEC__PURPOSE_CACHE 16
#define FSEC__MAX_KEYS 8

/* A pre-keyed HMAC-SHA256 (mac.h). */
typedef struct fsec__hmac fsec__hmac;

typedef struct fsec__purpose {
  char name[FSEC_TOKEN_PURPOSE_MAX];
  size_t len;
} fsec__purpose;

struct fsec_engine {
  fsec_config cfg;     /* scalars only: key/salt pointers cleared */
  unsigned char *keys; /* sodium_malloc: keys back to back */
  size_t key_lens[FSEC__MAX_KEYS];
  size_t n_keys;
  unsigned char *salt; /* sodium_malloc, NULL for single hashing */
  size_t salt_len;
  /* states[i * n_keys + k]: HMAC-SHA256 keyed with purpose i's subkey
   * under key k, in sodium_malloc memory. */
  fsec__hmac *states;
  fsec__purpose purposes[FSEC__PURPOSE_CACHE];
  size_t n_purposes;
  uint64_t hash_count; /* updated with __atomic builtins */
  char *helper;        /* argon2 helper's path, or NULL (argon2.c) */
  char errmsg[256];
};

/* Set e->errmsg (printf-style) and return rc. */
int fsec__err(fsec_engine *e, int rc, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Run argon2id (new hash, t and m from the config) or verify an argon2
 * PHC string (NUL-terminated, caps already checked): in this thread, or
 * in this thread's helper process when e->helper is set (argon2.c). */
int fsec__argon2_hash(fsec_engine *e, const char *in, size_t inlen,
                      char out[FSEC_PASSWORD_HASH_BYTES]);
int fsec__argon2_verify(fsec_engine *e, const char *in, size_t inlen,
                        const char *stored, int *match);
/* Count one expensive password-function run. */
void fsec__count_hash(fsec_engine *e);

/* Current time in seconds when now < 0, else now. */
int64_t fsec__now(int64_t now);

/* Check (length, NUL, UTF-8) and normalize a password. On FSEC_OK *out is
 * a malloc'd buffer of *outlen bytes plus a NUL, to be released with
 * fsec__pw_free(), which wipes it. */
int fsec__pw_normalize(fsec_engine *e, const char *pw, size_t pwlen,
                       char **out, size_t *outlen);
void fsec__pw_free(char *p, size_t len);

/* Verify the legacy formats (crypt family, pbkdf2, plaintext). hash is
 * NUL-terminated. Returns FSEC_OK with *match, or FSEC_EHASH* codes. */
int fsec__verify_crypt(fsec_engine *e, const char *in, size_t inlen,
                       const char *hash, size_t hashlen, int scheme,
                       int *match);
int fsec__verify_pbkdf2(fsec_engine *e, const char *in, size_t inlen,
                        const char *hash, size_t hashlen, int scheme,
                        int *match);
int fsec__verify_plaintext(const char *in, size_t inlen, const char *hash,
                           size_t hashlen, int *match);
/* Check a legacy stored hash's format and caps without running it, and
 * set *param to what its cost grows with: the bcrypt cost, the crypt or
 * pbkdf2 rounds (0 for plaintext). FSEC_OK, FSEC_EHASHFMT or
 * FSEC_EHASHCAP. */
int fsec__legacy_param(fsec_engine *e, const char *hash, size_t hashlen,
                       int scheme, uint32_t *param);

/* Parse an unsigned decimal of 1..10 digits without a leading zero (so
 * every value has one spelling) from s[*i..len); stop at the first
 * non-digit. Returns 0 on success. Here, not in password.c, so that the
 * two hash parsers (password.c, legacy_hash.c) need nothing of each
 * other's file. */
static inline int fsec__parse_u32(const char *s, size_t len, size_t *i, uint32_t *out) {
  uint64_t v = 0;
  size_t start = *i, j = *i;
  while (j < len && s[j] >= '0' && s[j] <= '9' && j - start < 10) {
    v = v * 10 + (uint64_t)(s[j] - '0');
    j++;
  }
  if (j == start || v > UINT32_MAX) return -1;
  if (s[start] == '0' && j - start > 1) return -1;      /* no leading zero */
  if (j < len && s[j] >= '0' && s[j] <= '9') return -1; /* > 10 digits */
  *i = j;
  *out = (uint32_t)v;
  return 0;
}

/* identity.c: FSEC_OK for valid UTF-8 without NUL, else FSEC_ENUL or
 * FSEC_EUTF8. */
int fsec__check_utf8(const char *s, size_t len);

/* schema.c: migration N's SQL (1-based), NULL past the last. */
int fsec__migration_count(void);
const char *fsec__migration_sql(int version);
int fsec__migration_refolds_emails(int version);
/* schema.c: PostgreSQL's migration N (same numbering), NULL past the last. */
const char *fsec__pg_migration_sql(int version);

/* store.c: the connection's PRAGMA synchronous (0 OFF, 1 NORMAL, 2 FULL),
 * -1 on error. For tests of fsec_store_begin_deferred. */
int fsec__store_synchronous(fsec_store *s);

#endif /* FSEC_INTERNAL_H */
