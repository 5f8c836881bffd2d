/* fixtures.h: engines with cheap argon2 parameters for the core tests. */
#ifndef FSEC_FIXTURES_H
#define FSEC_FIXTURES_H

#include "fsec.h"
#include "test.h"

#define KEY_A "0123456789abcdef0123456789abcdef-key-A"
#define KEY_B "fedcba9876543210fedcba9876543210-key-B"

/* Open an engine; salt may be NULL (single hashing). */
static fsec_engine *open_engine_cfg(fsec_config *cfg) {
  fsec_engine *e = NULL;
  char err[256] = "";
  if (fsec_engine_open(&e, cfg, err, sizeof err) != FSEC_OK)
    FAIL_AT("fsec_engine_open: %s", err);
  return e;
}

static void test_config(fsec_config *cfg, const char *salt) {
  static const unsigned char *keys[1] = {(const unsigned char *)KEY_A};
  static size_t lens[1];
  lens[0] = strlen(KEY_A);
  fsec_config_init(cfg);
  cfg->secret_keys = keys;
  cfg->secret_key_lens = lens;
  cfg->n_secret_keys = 1;
  cfg->argon2_time = 1;          /* cheap for tests */
  cfg->argon2_memory_kib = 1024; /* 1 MiB */
  if (salt) {
    cfg->password_salt = (const unsigned char *)salt;
    cfg->password_salt_len = strlen(salt);
  }
}

static fsec_engine *open_engine(const char *salt) {
  fsec_config cfg;
  test_config(&cfg, salt);
  return open_engine_cfg(&cfg);
}

/* An engine signing with k1 and also accepting k2 (may be NULL). Inline:
 * not every test file uses it. */
static inline fsec_engine *open_keys(const char *k1, const char *k2) {
  static const unsigned char *keys[2];
  static size_t lens[2];
  fsec_config cfg;
  test_config(&cfg, NULL);
  keys[0] = (const unsigned char *)k1;
  lens[0] = strlen(k1);
  keys[1] = (const unsigned char *)k2;
  lens[1] = k2 ? strlen(k2) : 0;
  cfg.secret_keys = keys;
  cfg.secret_key_lens = lens;
  cfg.n_secret_keys = k2 ? 2 : 1;
  return open_engine_cfg(&cfg);
}

#endif
