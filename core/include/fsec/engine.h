/*
 * fsec/engine.h: the engine handle, its configuration, and its error message.
 *
 * An engine owns the secret keys (in libsodium guarded memory, never handed
 * back to the caller), the password policy and the token settings. One
 * engine must not be used by two threads at once (like an SQLite connection
 * in multi-thread mode); the hash counter alone is safe to read anywhere.
 */
#ifndef FSEC_ENGINE_H
#define FSEC_ENGINE_H

#include "fsec/common.h"

typedef struct fsec_engine fsec_engine;

/* Unicode normalization applied to every password before hashing. */
typedef enum fsec_norm_form {
  FSEC_NORM_NONE = 0, /* only check that the password is valid UTF-8 */
  FSEC_NORM_NFC,
  FSEC_NORM_NFD,
  FSEC_NORM_NFKC,
  FSEC_NORM_NFKD /* Flask-Security-Too's default */
} fsec_norm_form;

/* Stored hash formats the engine will verify (bit mask). */
enum {
  FSEC_SCHEME_ARGON2 = 1 << 0,        /* $argon2id$ and $argon2i$ */
  FSEC_SCHEME_BCRYPT = 1 << 1,        /* $2a$ $2b$ $2y$ */
  FSEC_SCHEME_SHA512_CRYPT = 1 << 2,  /* $6$ */
  FSEC_SCHEME_SHA256_CRYPT = 1 << 3,  /* $5$ */
  FSEC_SCHEME_PBKDF2_SHA512 = 1 << 4, /* $pbkdf2-sha512$ (passlib) */
  FSEC_SCHEME_PBKDF2_SHA256 = 1 << 5, /* $pbkdf2-sha256$ (passlib) */
  FSEC_SCHEME_PLAINTEXT = 1 << 6,     /* raw password: only when enabled */
  FSEC_SCHEMES_DEFAULT = 0x3f         /* everything except plaintext */
};

/* Upper bounds on the parameters a *stored* hash may ask for. A hash above
 * any cap verifies as false without running the expensive function, so a
 * tampered row cannot make a login burn seconds or gigabytes.
 * verify_budget bounds the cost of one verify whatever the scheme: a
 * stored hash estimated to cost more than verify_budget new hashes (see
 * fsec_password_cost) is refused the same way. 0: no budget; else >= 1,
 * so that the engine's own hashes always verify. */
typedef struct fsec_hash_caps {
  uint32_t argon2_memory_kib;
  uint32_t argon2_time;
  uint32_t argon2_lanes;
  uint32_t bcrypt_cost;
  uint32_t crypt_rounds;
  uint32_t pbkdf2_rounds;
  double verify_budget;
} fsec_hash_caps;

/* Engine configuration. fsec_config_init() fills in the defaults; the
 * engine copies everything it needs, so the caller's buffers may be freed
 * (and should be wiped) once fsec_engine_open() returns. */
typedef struct fsec_config {
  /* Token keys: keys[0] signs, every key verifies. Each >= 32 bytes. */
  const unsigned char *const *secret_keys;
  const size_t *secret_key_lens;
  size_t n_secret_keys;
  /* Flask-Security's PASSWORD_SALT. NULL means single hashing: the
   * normalized password goes to the hash function as is. Otherwise the
   * input is Base64(HMAC-SHA512(salt, password)) ("double hash"). */
  const unsigned char *password_salt;
  size_t password_salt_len;
  fsec_norm_form normalize;
  size_t password_max_bytes;  /* longer passwords: FSEC_ETOOLONG */
  uint32_t argon2_time;       /* new hashes: argon2id t (1..64) */
  uint32_t argon2_memory_kib; /* new hashes: argon2id m in KiB (8..4 GiB) */
  unsigned schemes;           /* FSEC_SCHEME_* accepted when verifying */
  fsec_hash_caps caps;
  /* Path of the fsec-argon2 program (built beside fsec.core). NULL: argon2
   * runs in the calling thread. Set: it runs in a helper process owned by
   * the calling thread, so that libsodium's map and unmap of the argon2
   * memory never hold this process's memory-map lock (other threads, such
   * as nginx's event loop, would wait for it). Copied by the engine. */
  const char *argon2_helper;
  int64_t token_skew;      /* seconds a token's issued-at may be ahead */
  size_t token_max_length; /* longer token strings are invalid unread */
} fsec_config;

#define FSEC_SECRET_KEY_MIN 32
#define FSEC_DEFAULT_ARGON2_TIME 2
#define FSEC_DEFAULT_ARGON2_MEMORY_KIB 65536 /* 64 MiB: libsodium INTERACTIVE */
#define FSEC_DEFAULT_PASSWORD_MAX_BYTES 1024
#define FSEC_DEFAULT_TOKEN_MAX_LENGTH 4096
#define FSEC_DEFAULT_TOKEN_SKEW 60
/* Flask-Security's own default hashes cost at most about 4 (its argon2:
 * m = 100 MiB, t = 10), bcrypt 14 is 5, bcrypt 16 20. */
#define FSEC_DEFAULT_VERIFY_BUDGET 5.0

/* The ranges fsec_config_check enforces (inclusive). The binding exports
 * them, with fsec_config_init's defaults, as core.CONFIG: the Lua
 * configuration checks its keys against these, never against literals of
 * its own, so that a setting has one range wherever it is given. */
#define FSEC_PASSWORD_MAX_BYTES_MIN 1
#define FSEC_PASSWORD_MAX_BYTES_MAX 65536
#define FSEC_ARGON2_TIME_MIN 1 /* libsodium's floor */
#define FSEC_ARGON2_TIME_MAX 64
#define FSEC_ARGON2_MEMORY_KIB_MIN 8       /* libsodium's floor */
#define FSEC_ARGON2_MEMORY_KIB_MAX 4194304 /* 4 GiB */
#define FSEC_TOKEN_MAX_LENGTH_MIN 64
#define FSEC_TOKEN_MAX_LENGTH_MAX 65536
#define FSEC_TOKEN_SKEW_MAX 86400      /* seconds; the minimum is 0 */
#define FSEC_VERIFY_BUDGET_MAX 1000000 /* 0 (none) or 1 .. this */
/* fsec_config_init's caps on what a stored hash may ask for */
#define FSEC_DEFAULT_CAP_ARGON2_MEMORY_KIB 262144 /* 256 MiB: Flask-Security's 100 MiB fits */
#define FSEC_DEFAULT_CAP_ARGON2_TIME 16
#define FSEC_DEFAULT_CAP_ARGON2_LANES 16
#define FSEC_DEFAULT_CAP_BCRYPT_COST 16
#define FSEC_DEFAULT_CAP_CRYPT_ROUNDS 2000000
#define FSEC_DEFAULT_CAP_PBKDF2_ROUNDS 2000000

/* Fill cfg with the defaults (no keys, no salt, NFKD, argon2id t=2 m=64 MiB,
 * every scheme but plaintext, caps: argon2 m <= 256 MiB, t <= 16, p <= 16,
 * bcrypt cost <= 16, crypt rounds <= 2,000,000, pbkdf2 <= 2,000,000,
 * verify budget 5).
 * This function can't fail. */
FSEC_API void fsec_config_init(fsec_config *cfg) FSEC_NONNULL(1);

/* Create an engine. On success *out owns a new engine (free it with
 * fsec_engine_close) and FSEC_OK is returned. On error *out is NULL and
 * one of: FSEC_EKEY (no key, or one shorter than FSEC_SECRET_KEY_MIN),
 * FSEC_EINVAL (a parameter out of range; errbuf says which), FSEC_ENOMEM.
 * When errbuf is not NULL it receives a NUL-terminated message. */
FSEC_API FSEC_NODISCARD int fsec_engine_open(fsec_engine **out,
                                             const fsec_config *cfg,
                                             char *errbuf, size_t errlen)
    FSEC_NONNULL(1, 2);

/* Wipe the keys and free the engine. NULL is a no-op. */
FSEC_API void fsec_engine_close(fsec_engine *e);

/* Message of the last failed call on e. Owned by the engine, valid until
 * the next call on it. Never NULL. */
FSEC_API const char *fsec_errmsg(const fsec_engine *e) FSEC_NONNULL(1);

/* How many times the engine ran an expensive password function (argon2,
 * bcrypt, crypt, pbkdf2), for tests proving that every failed-login path
 * costs exactly one hash. Thread-safe. */
FSEC_API uint64_t fsec_engine_hash_count(const fsec_engine *e) FSEC_NONNULL(1);

/* Library version, e.g. "0.1.0". This function can't fail. */
FSEC_API const char *fsec_version(void);

#endif /* FSEC_ENGINE_H */
