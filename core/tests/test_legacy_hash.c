/* test_legacy_hash.c: hashes made by passlib (Flask-Security's hasher),
 * in double- and single-hash mode, verify in fsec; caps and the plaintext
 * switch hold. Vectors: vectors.h, from make_vectors.py. */
#include "fixtures.h"
#include "vectors.h"

static void every_passlib_vector_verifies(void) {
  fsec_engine *dbl = open_engine(VEC_SALT), *sgl = open_engine(NULL);
  size_t i;
  int match;
  for (i = 0; i < sizeof VECTORS / sizeof VECTORS[0]; i++) {
    fsec_engine *e = VECTORS[i].dbl ? dbl : sgl;
    const char *h = VECTORS[i].hash;
    uint64_t before = fsec_engine_hash_count(e);
    match = -1;
    if (fsec_password_verify(e, VEC_PW, strlen(VEC_PW), h, strlen(h), &match) != FSEC_OK || match != 1)
      FAIL_AT("%s does not verify: %s", VECTORS[i].name, fsec_errmsg(e));
    ASSERT_EQ(fsec_engine_hash_count(e), before + 1); /* exactly one run */
    ASSERT_OK(fsec_password_verify(e, "Correct horse battery staple", 28, h,
                                   strlen(h), &match));
    if (match != 0) FAIL_AT("%s accepts a wrong password", VECTORS[i].name);
    /* the other mode must not verify: proves the pre-hash is applied */
    ASSERT_OK(fsec_password_verify(VECTORS[i].dbl ? sgl : dbl, VEC_PW,
                                   strlen(VEC_PW), h, strlen(h), &match));
    if (match != 0) FAIL_AT("%s verifies in the wrong mode", VECTORS[i].name);
  }
  fsec_engine_close(dbl);
  fsec_engine_close(sgl);
}

static void sha512_crypt_default_rounds(void) {
  fsec_engine *e = open_engine(NULL);
  int match = -1;
  const char *h = VEC_SHA512_DEFAULT_ROUNDS;
  ASSERT_OK(fsec_password_verify(e, VEC_PW, strlen(VEC_PW), h, strlen(h),
                                 &match));
  ASSERT_EQ(match, 1);
  fsec_engine_close(e);
}

/* bcrypt reads 72 bytes: the 80-byte password verifies against passlib's
 * hash of its first 72 bytes; a different 72-byte prefix does not. */
static void bcrypt_72_byte_rule(void) {
  fsec_engine *e = open_engine(NULL);
  char other[81];
  int match = -1;
  const char *h = VEC_LONG_BCRYPT;
  ASSERT_OK(fsec_password_verify(e, VEC_LONG_PW, strlen(VEC_LONG_PW), h,
                                 strlen(h), &match));
  ASSERT_EQ(match, 1);
  memcpy(other, VEC_LONG_PW, strlen(VEC_LONG_PW) + 1);
  other[71] = 'b';
  ASSERT_OK(fsec_password_verify(e, other, strlen(other), h, strlen(h),
                                 &match));
  ASSERT_EQ(match, 0);
  fsec_engine_close(e);
}

/* A stored hash cut short never verifies, even with the right password:
 * the checksum's prefix is not the checksum (passlib writes whole
 * digests; pbkdf2 once compared on the stored length, so a cut hash
 * matched its own password and 1 in 256 others per byte left). */
static void truncated_vectors_never_verify(void) {
  fsec_engine *dbl = open_engine(VEC_SALT), *sgl = open_engine(NULL);
  char cut[256];
  size_t i, n;
  int match;
  for (i = 0; i < sizeof VECTORS / sizeof VECTORS[0]; i++) {
    fsec_engine *e = VECTORS[i].dbl ? dbl : sgl;
    const char *h = VECTORS[i].hash;
    ASSERT(strlen(h) < sizeof cut);
    for (n = 1; n < strlen(h); n++) {
      memcpy(cut, h, n);
      cut[n] = '\0';
      match = -1;
      if (fsec_password_verify(e, VEC_PW, strlen(VEC_PW), cut, n, &match) ==
              FSEC_OK &&
          match != 0)
        FAIL_AT("%s cut to %zu chars verifies", VECTORS[i].name, n);
      ASSERT_EQ(match, 0); /* an error leaves it false too */
    }
  }
  fsec_engine_close(dbl);
  fsec_engine_close(sgl);
}

static void caps_refuse_costly_vectors_unrun(void) {
  fsec_config cfg;
  fsec_engine *e;
  size_t i;
  int match;
  test_config(&cfg, VEC_SALT);
  cfg.caps.argon2_lanes = 4; /* the p=8 vectors are above */
  cfg.caps.bcrypt_cost = 4;  /* cost 5 vectors are above */
  cfg.caps.crypt_rounds = 4000;
  cfg.caps.pbkdf2_rounds = 999;
  e = open_engine_cfg(&cfg);
  for (i = 0; i < sizeof VECTORS / sizeof VECTORS[0]; i++) {
    const char *h = VECTORS[i].hash;
    if (!VECTORS[i].dbl || strncmp(h, "$argon2i$", 9) == 0) continue;
    match = -1;
    if (fsec_password_verify(e, VEC_PW, strlen(VEC_PW), h, strlen(h),
                             &match) != FSEC_EHASHCAP)
      FAIL_AT("%s not refused by caps", VECTORS[i].name);
    ASSERT_EQ(match, 0);
  }
  ASSERT_EQ(fsec_engine_hash_count(e), 0);
  fsec_engine_close(e);
}

static void disabled_scheme_is_refused(void) {
  fsec_config cfg;
  fsec_engine *e;
  int match = -1;
  test_config(&cfg, VEC_SALT);
  cfg.schemes = FSEC_SCHEME_ARGON2;
  e = open_engine_cfg(&cfg);
  ASSERT_EQ(fsec_password_verify(e, VEC_PW, strlen(VEC_PW), VECTORS[2].hash,
                                 strlen(VECTORS[2].hash), &match),
            FSEC_ESCHEME);
  ASSERT_EQ(match, 0);
  fsec_engine_close(e);
}

/* plaintext only when enabled, never pre-hashed, compared constant-time */
static void plaintext_only_when_enabled(void) {
  fsec_config cfg;
  fsec_engine *off = open_engine(VEC_SALT), *on;
  int match = -1;
  test_config(&cfg, VEC_SALT);
  cfg.schemes = FSEC_SCHEMES_DEFAULT | FSEC_SCHEME_PLAINTEXT;
  on = open_engine_cfg(&cfg);
  ASSERT_EQ(fsec_password_verify(off, "hunter22", 8, "hunter22", 8, &match),
            FSEC_EHASHFMT);
  ASSERT_EQ(match, 0);
  ASSERT_OK(fsec_password_verify(on, "hunter22", 8, "hunter22", 8, &match));
  ASSERT_EQ(match, 1);
  ASSERT_OK(fsec_password_verify(on, "hunter2", 7, "hunter22", 8, &match));
  ASSERT_EQ(match, 0);
  ASSERT_EQ(fsec_password_identify(on, "hunter22", 8), FSEC_SCHEME_PLAINTEXT);
  ASSERT_EQ(fsec_password_identify(off, "hunter22", 8), FSEC_EHASHFMT);
  fsec_engine_close(off);
  fsec_engine_close(on);
}

/* Flask-Security 3.0's hash_data of a stored password hash (the auth
 * token's second element), made by /usr/bin/python3 with passlib 1.7.4:
 * sha256_crypt (rounds=5000, salt "saltsalt") and hex_md5. The data is
 * used as given, whatever password_schemes and password_salt say. */
#define HD_DATA "$2b$12$abcdefghijklmnopqrstuuJ2b3mYQfyoyE3nT0q2lZbS8rw5ak3Tm"
#define HD_SHA256 "$5$saltsalt$7vDl16Tyxbyl8dMDtPPIcxAgGyTXnY.dSihDACw6sr5"
#define HD_MD5 "1af29ee8def5c17683b2bdbe98b90263"

static int verify_data(fsec_engine *e, const char *data, const char *hash) {
  int match = -1, rc;
  rc = fsec_password_verify_data(e, data, strlen(data), hash, strlen(hash),
                                 &match);
  if (rc != FSEC_OK) ASSERT_EQ(match, 0);
  return rc == FSEC_OK ? match : rc;
}

static void hash_data_verifies(void) {
  fsec_engine *e = open_engine(VEC_SALT);
  char md5_upper[] = HD_MD5;
  size_t i;
  ASSERT_EQ(verify_data(e, HD_DATA, HD_SHA256), 1);
  ASSERT_EQ(verify_data(e, HD_DATA, HD_MD5), 1);
  ASSERT_EQ(verify_data(e, HD_DATA "x", HD_SHA256), 0);
  ASSERT_EQ(verify_data(e, HD_DATA "x", HD_MD5), 0);
  for (i = 0; i < sizeof md5_upper; i++)
    if (md5_upper[i] >= 'a') md5_upper[i] = (char)(md5_upper[i] - 32);
  ASSERT_EQ(verify_data(e, HD_DATA, md5_upper), FSEC_EHASHFMT);
  ASSERT_EQ(verify_data(e, HD_DATA, "plain"), FSEC_EHASHFMT);
  ASSERT_EQ(verify_data(e, HD_DATA, ""), FSEC_EHASHFMT);
  ASSERT_EQ(verify_data(e, HD_DATA, "$5$rounds=999999999$saltsalt$7vDl16Tyxbyl8dMDtPPIcxAgGyTXnY.dSihDACw6sr5"),
            FSEC_EHASHCAP);
  fsec_engine_close(e);
}

int main(void) {
  RUN(every_passlib_vector_verifies);
  RUN(sha512_crypt_default_rounds);
  RUN(bcrypt_72_byte_rule);
  RUN(truncated_vectors_never_verify);
  RUN(caps_refuse_costly_vectors_unrun);
  RUN(disabled_scheme_is_refused);
  RUN(plaintext_only_when_enabled);
  RUN(hash_data_verifies);
  return 0;
}
