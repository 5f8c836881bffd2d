/* fuzz_common.h: a shared engine for the fuzz targets (cheap argon2
 * parameters and tiny caps, so the expensive functions stay cheap). */
#ifndef FSEC_FUZZ_COMMON_H
#define FSEC_FUZZ_COMMON_H

#include "fuzz_oracle.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsec.h"

#define FUZZ_KEY "fuzz-key-fuzz-key-fuzz-key-fuzz-key"

#if defined(__GNUC__)
__attribute__((unused))
#endif
static fsec_engine *
    fuzz_engine(void) {
  static fsec_engine *e;
  if (!e) {
    static const unsigned char *keys[1] = {(const unsigned char *)FUZZ_KEY};
    static size_t lens[1];
    fsec_config cfg;
    char err[256];
    lens[0] = strlen(FUZZ_KEY);
    fsec_config_init(&cfg);
    cfg.secret_keys = keys;
    cfg.secret_key_lens = lens;
    cfg.n_secret_keys = 1;
    cfg.password_salt = (const unsigned char *)"fuzz-salt";
    cfg.password_salt_len = 9;
    cfg.argon2_time = 1;
    cfg.argon2_memory_kib = 8;
    cfg.schemes = FSEC_SCHEMES_DEFAULT | FSEC_SCHEME_PLAINTEXT;
    cfg.caps.argon2_memory_kib = 64; /* keep every run cheap */
    cfg.caps.argon2_time = 2;
    cfg.caps.argon2_lanes = 2;
    cfg.caps.bcrypt_cost = 4;
    cfg.caps.crypt_rounds = 1000;
    cfg.caps.pbkdf2_rounds = 1000;
    if (fsec_engine_open(&e, &cfg, err, sizeof err) != FSEC_OK) {
      fprintf(stderr, "fuzz engine: %s\n", err);
      abort();
    }
  }
  return e;
}


#endif
