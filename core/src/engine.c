/*
 * engine.c: engine life cycle, configuration checks, error message buffer.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "mac.h"

/* "lo..hi" of engine.h's FSEC_<NAME>_MIN and _MAX, for the messages */
#define STR_(x) #x
#define STR(x) STR_(x)
#define RANGE(name) STR(name##_MIN) ".." STR(name##_MAX)

void fsec_config_init(fsec_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->normalize = FSEC_NORM_NFKD;
  cfg->password_max_bytes = FSEC_DEFAULT_PASSWORD_MAX_BYTES;
  cfg->argon2_time = FSEC_DEFAULT_ARGON2_TIME;
  cfg->argon2_memory_kib = FSEC_DEFAULT_ARGON2_MEMORY_KIB;
  cfg->schemes = FSEC_SCHEMES_DEFAULT;
  cfg->caps.argon2_memory_kib = FSEC_DEFAULT_CAP_ARGON2_MEMORY_KIB;
  cfg->caps.argon2_time = FSEC_DEFAULT_CAP_ARGON2_TIME;
  cfg->caps.argon2_lanes = FSEC_DEFAULT_CAP_ARGON2_LANES;
  cfg->caps.bcrypt_cost = FSEC_DEFAULT_CAP_BCRYPT_COST;
  cfg->caps.crypt_rounds = FSEC_DEFAULT_CAP_CRYPT_ROUNDS;
  cfg->caps.pbkdf2_rounds = FSEC_DEFAULT_CAP_PBKDF2_ROUNDS;
  cfg->caps.verify_budget = FSEC_DEFAULT_VERIFY_BUDGET;
  cfg->token_skew = FSEC_DEFAULT_TOKEN_SKEW;
  cfg->token_max_length = FSEC_DEFAULT_TOKEN_MAX_LENGTH;
}

int fsec__err(fsec_engine *e, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->errmsg, sizeof e->errmsg, fmt, ap);
  va_end(ap);
  return rc;
}

void fsec__count_hash(fsec_engine *e) {
  __atomic_fetch_add(&e->hash_count, 1, __ATOMIC_RELAXED);
}

uint64_t fsec_engine_hash_count(const fsec_engine *e) {
  return __atomic_load_n(&e->hash_count, __ATOMIC_RELAXED);
}

int64_t fsec__now(int64_t now) {
  return now >= 0 ? now : (int64_t)time(NULL);
}

const char *fsec_errmsg(const fsec_engine *e) { return e->errmsg; }

const char *fsec_version(void) { return FSEC_VERSION_STRING; }

/* Write a message to the caller's buffer, if any, and return rc. */
static int open_fail(char *errbuf, size_t errlen, int rc, const char *msg) {
  if (errbuf && errlen) snprintf(errbuf, errlen, "%s", msg);
  return rc;
}

/* Range checks that do not depend on allocation; NULL when all is well. */
/* A regular file this process may execute (access(X_OK) alone is true
 * for a directory too, which would fail only at the first hash). */
static int executable_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

static const char *config_problem(const fsec_config *cfg, int *rc) {
  size_t i;
  *rc = FSEC_EKEY;
  if (cfg->n_secret_keys == 0 || !cfg->secret_keys || !cfg->secret_key_lens)
    return "secret_key is missing";
  if (cfg->n_secret_keys > FSEC__MAX_KEYS)
    return "too many secret keys (at most 8)";
  for (i = 0; i < cfg->n_secret_keys; i++) {
    if (!cfg->secret_keys[i] || cfg->secret_key_lens[i] < FSEC_SECRET_KEY_MIN)
      return "secret_key must be at least 32 bytes";
  }
  *rc = FSEC_EINVAL;
  if (cfg->password_salt && cfg->password_salt_len == 0)
    return "password_salt must not be empty";
  if (cfg->normalize > FSEC_NORM_NFKD) return "unknown normalization form";
  if (cfg->password_max_bytes < FSEC_PASSWORD_MAX_BYTES_MIN ||
      cfg->password_max_bytes > FSEC_PASSWORD_MAX_BYTES_MAX)
    return "password_max_bytes must be " RANGE(FSEC_PASSWORD_MAX_BYTES);
  if (cfg->argon2_time < FSEC_ARGON2_TIME_MIN ||
      cfg->argon2_time > FSEC_ARGON2_TIME_MAX)
    return "argon2 time_cost must be " RANGE(FSEC_ARGON2_TIME);
  if (cfg->argon2_memory_kib < FSEC_ARGON2_MEMORY_KIB_MIN ||
      cfg->argon2_memory_kib > FSEC_ARGON2_MEMORY_KIB_MAX ||
      (uint64_t)cfg->argon2_memory_kib * 1024 > crypto_pwhash_MEMLIMIT_MAX)
    return "argon2 memory_cost must be KiB " RANGE(FSEC_ARGON2_MEMORY_KIB);
  /* below 1 the engine's own new hashes would not verify; NaN fails too */
  if (!(cfg->caps.verify_budget == 0 ||
        (cfg->caps.verify_budget >= 1 &&
         cfg->caps.verify_budget <= FSEC_VERIFY_BUDGET_MAX)))
    return "verify_budget must be 0 (none) or 1.." STR(FSEC_VERIFY_BUDGET_MAX);
  if (cfg->schemes == 0 || (cfg->schemes & ~0x7fu))
    return "schemes must name at least one known scheme";
  if (cfg->token_skew < 0 || cfg->token_skew > FSEC_TOKEN_SKEW_MAX)
    return "token_clock_skew must be 0.." STR(FSEC_TOKEN_SKEW_MAX) " seconds";
  if (cfg->token_max_length < FSEC_TOKEN_MAX_LENGTH_MIN ||
      cfg->token_max_length > FSEC_TOKEN_MAX_LENGTH_MAX)
    return "token_max_length must be " RANGE(FSEC_TOKEN_MAX_LENGTH);
  /* the helper is checked now, so a wrong path fails at start and not at
   * the first login */
  if (cfg->argon2_helper &&
      (cfg->argon2_helper[0] == '\0' || strlen(cfg->argon2_helper) > 4096 ||
       !executable_file(cfg->argon2_helper)))
    return "argon2_helper is not an executable file";
  *rc = FSEC_OK;
  return NULL;
}

/* Copy the keys and salt into guarded memory. */
static int copy_secrets(fsec_engine *e, const fsec_config *cfg) {
  size_t i, total = 0, off = 0;
  for (i = 0; i < cfg->n_secret_keys; i++) total += cfg->secret_key_lens[i];
  e->keys = sodium_malloc(total);
  if (!e->keys) return FSEC_ENOMEM;
  for (i = 0; i < cfg->n_secret_keys; i++) {
    memcpy(e->keys + off, cfg->secret_keys[i], cfg->secret_key_lens[i]);
    e->key_lens[i] = cfg->secret_key_lens[i];
    off += cfg->secret_key_lens[i];
  }
  e->n_keys = cfg->n_secret_keys;
  sodium_mprotect_readonly(e->keys);
  if (cfg->password_salt) {
    e->salt = sodium_malloc(cfg->password_salt_len);
    if (!e->salt) return FSEC_ENOMEM;
    memcpy(e->salt, cfg->password_salt, cfg->password_salt_len);
    e->salt_len = cfg->password_salt_len;
    sodium_mprotect_readonly(e->salt);
  }
  e->states = sodium_allocarray(FSEC__PURPOSE_CACHE * e->n_keys,
                                sizeof(fsec__hmac));
  return e->states ? FSEC_OK : FSEC_ENOMEM;
}

int fsec_engine_open(fsec_engine **out, const fsec_config *cfg, char *errbuf,
                     size_t errlen) {
  fsec_engine *e;
  const char *problem;
  int rc;

  *out = NULL;
  if (sodium_init() < 0)
    return open_fail(errbuf, errlen, FSEC_ECRYPTO, "libsodium failed to start");
  problem = config_problem(cfg, &rc);
  if (problem) return open_fail(errbuf, errlen, rc, problem);

  e = calloc(1, sizeof *e);
  if (!e) return open_fail(errbuf, errlen, FSEC_ENOMEM, "out of memory");
  e->cfg = *cfg;
  e->cfg.secret_keys = NULL; /* the caller's pointers are not kept */
  e->cfg.secret_key_lens = NULL;
  e->cfg.password_salt = NULL;
  e->cfg.argon2_helper = NULL;
  rc = copy_secrets(e, cfg);
  if (rc == FSEC_OK && cfg->argon2_helper &&
      !(e->helper = strdup(cfg->argon2_helper)))
    rc = FSEC_ENOMEM;
  if (rc != FSEC_OK) {
    fsec_engine_close(e);
    return open_fail(errbuf, errlen, rc, "out of guarded memory");
  }
  *out = e;
  return FSEC_OK;
}

void fsec_engine_close(fsec_engine *e) {
  if (!e) return;
  sodium_free(e->keys); /* sodium_free wipes before unmapping; NULL is ok */
  sodium_free(e->salt);
  sodium_free(e->states);
  free(e->helper);
  sodium_memzero(e, sizeof *e);
  free(e);
}
