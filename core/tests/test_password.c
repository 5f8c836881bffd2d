/* test_password.c: argon2id hashing, the HMAC pre-hash, normalization,
 * input checks, caps and needs_update. */
#include <math.h>
#include <stdio.h>

#include <sodium.h>

#include "fixtures.h"

#define PW "correct horse battery staple"
#define SALT "salty-pepper"

static void hash_is_argon2id_phc_with_configured_params(void) {
  fsec_engine *e = open_engine(SALT);
  char h[FSEC_PASSWORD_HASH_BYTES];
  int match = -1;
  ASSERT_OK(fsec_password_hash(e, PW, strlen(PW), h, sizeof h));
  ASSERT(strncmp(h, "$argon2id$v=19$m=1024,t=1,p=1$", 30) == 0);
  ASSERT_OK(fsec_password_verify(e, PW, strlen(PW), h, strlen(h), &match));
  ASSERT_EQ(match, 1);
  ASSERT_OK(fsec_password_verify(e, "wrong", 5, h, strlen(h), &match));
  ASSERT_EQ(match, 0);
  fsec_engine_close(e);
}

static void defaults_meet_owasp_minimum(void) {
  fsec_config cfg;
  fsec_config_init(&cfg);
  ASSERT(cfg.argon2_memory_kib >= 19 * 1024);
  ASSERT(cfg.argon2_time >= 2);
  ASSERT_EQ(cfg.normalize, FSEC_NORM_NFKD);
  ASSERT_EQ(cfg.schemes & FSEC_SCHEME_PLAINTEXT, 0);
}

/* With a salt, what is hashed is Base64(HMAC-SHA512(salt, pw)): an engine
 * without salt verifies the hash when given that string as password. */
static void double_hash_is_flask_security_get_hmac(void) {
  fsec_engine *salted = open_engine(SALT), *plain = open_engine(NULL);
  unsigned char mac[64];
  char b64[89], h[FSEC_PASSWORD_HASH_BYTES];
  int match = -1;
  crypto_auth_hmacsha512_state st;
  crypto_auth_hmacsha512_init(&st, (const unsigned char *)SALT, strlen(SALT));
  crypto_auth_hmacsha512_update(&st, (const unsigned char *)PW, strlen(PW));
  crypto_auth_hmacsha512_final(&st, mac);
  sodium_bin2base64(b64, sizeof b64, mac, sizeof mac,
                    sodium_base64_VARIANT_ORIGINAL);
  ASSERT_EQ(strlen(b64), 88);

  ASSERT_OK(fsec_password_hash(salted, PW, strlen(PW), h, sizeof h));
  ASSERT_OK(fsec_password_verify(plain, b64, 88, h, strlen(h), &match));
  ASSERT_EQ(match, 1);
  ASSERT_OK(fsec_password_verify(plain, PW, strlen(PW), h, strlen(h), &match));
  ASSERT_EQ(match, 0);
  fsec_engine_close(salted);
  fsec_engine_close(plain);
}

/* U+FB01 (the "fi" ligature) is "fi" under NFKD, not under "none". */
static void passwords_are_nfkd_normalized(void) {
  fsec_config cfg;
  fsec_engine *nfkd = open_engine(SALT), *raw;
  char h[FSEC_PASSWORD_HASH_BYTES];
  const char *lig = "\xef\xac\x81"
                    "refly-secret",
             *plain = "firefly-secret";
  int match = -1;
  ASSERT_OK(fsec_password_hash(nfkd, lig, strlen(lig), h, sizeof h));
  ASSERT_OK(fsec_password_verify(nfkd, plain, strlen(plain), h, strlen(h),
                                 &match));
  ASSERT_EQ(match, 1);
  test_config(&cfg, SALT);
  cfg.normalize = FSEC_NORM_NONE;
  raw = open_engine_cfg(&cfg);
  /* without normalization the ligature stays itself and does not match */
  ASSERT_OK(fsec_password_verify(raw, lig, strlen(lig), h, strlen(h),
                                 &match));
  ASSERT_EQ(match, 0);
  fsec_engine_close(nfkd);
  fsec_engine_close(raw);
}

static void leading_and_trailing_spaces_are_kept(void) {
  fsec_engine *e = open_engine(SALT);
  char h[FSEC_PASSWORD_HASH_BYTES];
  int match = -1;
  ASSERT_OK(fsec_password_hash(e, " pw ", 4, h, sizeof h));
  ASSERT_OK(fsec_password_verify(e, "pw", 2, h, strlen(h), &match));
  ASSERT_EQ(match, 0);
  ASSERT_OK(fsec_password_verify(e, " pw ", 4, h, strlen(h), &match));
  ASSERT_EQ(match, 1);
  fsec_engine_close(e);
}

/* Bad passwords are refused before any hashing: the counter stays put. */
static void bad_passwords_are_refused_before_hashing(void) {
  fsec_config cfg;
  fsec_engine *e;
  char h[FSEC_PASSWORD_HASH_BYTES], big[65];
  int match = -1;
  uint64_t before;
  test_config(&cfg, SALT);
  cfg.password_max_bytes = 64;
  e = open_engine_cfg(&cfg);
  memset(big, 'x', sizeof big);
  before = fsec_engine_hash_count(e);
  ASSERT_EQ(fsec_password_hash(e, big, 65, h, sizeof h), FSEC_ETOOLONG);
  ASSERT_STREQ(h, "");
  ASSERT_OK(fsec_password_hash(e, big, 64, h, sizeof h)); /* the limit */
  ASSERT_EQ(fsec_engine_hash_count(e), before + 1);
  before = fsec_engine_hash_count(e);
  ASSERT_EQ(fsec_password_hash(e, "ab\0cd", 5, h, sizeof h), FSEC_ENUL);
  ASSERT_EQ(fsec_password_hash(e, "\xff\xfe", 2, h, sizeof h), FSEC_EUTF8);
  ASSERT_EQ(fsec_password_hash(e, "\xc0\xaf", 2, h, sizeof h), FSEC_EUTF8);
  ASSERT_EQ(fsec_password_hash(e, "\xed\xa0\x80", 3, h, sizeof h),
            FSEC_EUTF8); /* a UTF-16 surrogate */
  ASSERT_EQ(fsec_password_hash(e, "abc\xe2\x82", 5, h, sizeof h),
            FSEC_EUTF8); /* truncated sequence */
  ASSERT_EQ(fsec_password_verify(e, "ab\0cd", 5, "x", 1, &match), FSEC_ENUL);
  ASSERT_EQ(match, 0);
  ASSERT_EQ(fsec_password_verify(e, big, 65, "x", 1, &match), FSEC_ETOOLONG);
  ASSERT_EQ(fsec_engine_hash_count(e), before);
  ASSERT_EQ(fsec_password_hash(e, "pw", 2, h, 10), FSEC_EINVAL);
  fsec_engine_close(e);
}

/* Malformed, truncated or over-cap hashes verify as false without running
 * the expensive function. */
static void bad_stored_hashes_fail_fast(void) {
  fsec_engine *e = open_engine(SALT);
  char h[FSEC_PASSWORD_HASH_BYTES], trunc[FSEC_PASSWORD_HASH_BYTES];
  char huge[FSEC_PASSWORD_STORED_MAX + 2];
  int match, i;
  uint64_t before;
  static const struct {
    const char *h;
    int rc;
  } bad[] = {
      {"", FSEC_EHASHFMT},
      {"$argon2id$", FSEC_EHASHFMT},
      {"$argon2id$v=19$m=65536,t=2,p=1$", FSEC_EHASHFMT},
      {"$argon2id$v=16$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA", FSEC_EHASHFMT},
      {"$argon2id$v=19$m=065536,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA", FSEC_EHASHFMT},
      {"$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA$", FSEC_EHASHFMT},
      {"$argon2id$v=19$m=99999999999,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA", FSEC_EHASHFMT},
      {"$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA", FSEC_EHASHCAP},
      {"$argon2id$v=19$m=65536,t=4000,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA", FSEC_EHASHCAP},
      {"$argon2id$v=19$m=65536,t=2,p=255$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA", FSEC_EHASHCAP},
      {"$argon2d$v=19$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA", FSEC_EHASHFMT},
      {"$2b$31$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234", FSEC_EHASHCAP},
      {"$2b$12$short", FSEC_EHASHFMT},
      {"$2b$03$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234", FSEC_EHASHFMT},
      {"$6$rounds=999999999$salt$hash", FSEC_EHASHFMT},
      {"$1$md5$nope", FSEC_EHASHFMT},
      {"$pbkdf2-sha512$99999999$c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", FSEC_EHASHCAP},
      {"$pbkdf2-sha512$25000$c2FsdA$aGFzaA", FSEC_EHASHFMT}, /* truncated */
      {"$pbkdf2-sha512$25000$c2FsdA", FSEC_EHASHFMT},
      {"$pbkdf2-sha512$25000$c2F+dA$aGFzaA", FSEC_EHASHFMT},
      {"plaintext-password", FSEC_EHASHFMT}, /* plaintext not enabled */
      /* a byte >= 0x80 in a Base64 field (libsodium would read it as '/') */
      {"$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHRz\x80Wx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA", FSEC_EHASHFMT},
      {"$pbkdf2-sha512$25000$c2F\x80"
       "dA$aGFzaA",
       FSEC_EHASHFMT},
  };
  ASSERT_OK(fsec_password_hash(e, PW, strlen(PW), h, sizeof h));
  before = fsec_engine_hash_count(e);
  for (i = 0; i < (int)(sizeof bad / sizeof bad[0]); i++) {
    match = -1;
    int rc = fsec_password_verify(e, PW, strlen(PW), bad[i].h,
                                  strlen(bad[i].h), &match);
    if (rc != bad[i].rc) FAIL_AT("%s: rc %d, want %d", bad[i].h, rc, bad[i].rc);
    ASSERT_EQ(match, 0);
  }
  /* Every truncation of a real hash is refused unrun, except a cut of the
   * 43-char tag to 22 chars: that may spell a valid 16-byte tag (passlib's
   * size), indistinguishable from a real hash; it verifies false (below). */
  for (i = 1; i < (int)strlen(h); i++) {
    if (i == (int)strlen(h) - 21) continue;
    memcpy(trunc, h, (size_t)i);
    trunc[i] = '\0';
    match = -1;
    ASSERT(fsec_password_verify(e, PW, strlen(PW), trunc, (size_t)i, &match) < 0);
    ASSERT_EQ(match, 0);
  }
  /* a NUL inside, and a string above the stored maximum */
  memcpy(trunc, h, strlen(h) + 1);
  trunc[20] = '\0';
  ASSERT_EQ(fsec_password_verify(e, PW, strlen(PW), trunc, strlen(h), &match),
            FSEC_EHASHFMT);
  memset(huge, 'A', sizeof huge);
  ASSERT_EQ(fsec_password_verify(e, PW, strlen(PW), huge, sizeof huge, &match),
            FSEC_EHASHFMT);
  ASSERT_EQ(fsec_engine_hash_count(e), before);
  memcpy(trunc, h, strlen(h) - 21);
  trunc[strlen(h) - 21] = '\0';
  ASSERT(fsec_password_verify(e, PW, strlen(PW), trunc, strlen(trunc), &match) <= 0);
  ASSERT_EQ(match, 0);
  fsec_engine_close(e);
}

#define T2 "$argon2id$v=19$m=1024,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA"
#define ARGON2I "$argon2i$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA"

static void needs_update_tracks_scheme_and_params(void) {
  fsec_engine *e = open_engine(SALT);
  char h[FSEC_PASSWORD_HASH_BYTES];
  int needs = -1;
  ASSERT_OK(fsec_password_hash(e, PW, strlen(PW), h, sizeof h));
  ASSERT_OK(fsec_password_needs_update(e, h, strlen(h), &needs));
  ASSERT_EQ(needs, 0);
  h[17] = '2'; /* m=1024 -> m=2024 */
  ASSERT(strncmp(h, "$argon2id$v=19$m=2024,t=1", 25) == 0);
  ASSERT_OK(fsec_password_needs_update(e, h, strlen(h), &needs));
  ASSERT_EQ(needs, 1);
  ASSERT_OK(fsec_password_needs_update(e, T2, strlen(T2), &needs));
  ASSERT_EQ(needs, 1);
  ASSERT_OK(fsec_password_needs_update(e, ARGON2I, strlen(ARGON2I), &needs));
  ASSERT_EQ(needs, 1);
  ASSERT_OK(fsec_password_needs_update(
      e, "$2b$05$Jj6yD2x/1.couOZYgNnlRu6NM4YMbW90tutbRlUhozjn21RWOC9Ki", 60,
      &needs));
  ASSERT_EQ(needs, 1);
  ASSERT_EQ(fsec_password_needs_update(e, "garbage", 7, &needs),
            FSEC_EHASHFMT);
  fsec_engine_close(e);
}

static void hash_count_counts_each_expensive_run(void) {
  fsec_engine *e = open_engine(SALT);
  char h[FSEC_PASSWORD_HASH_BYTES];
  int match;
  ASSERT_EQ(fsec_engine_hash_count(e), 0);
  ASSERT_OK(fsec_password_hash(e, PW, strlen(PW), h, sizeof h));
  ASSERT_EQ(fsec_engine_hash_count(e), 1);
  ASSERT_OK(fsec_password_verify(e, "nope", 4, h, strlen(h), &match));
  ASSERT_OK(fsec_password_verify(e, PW, strlen(PW), h, strlen(h), &match));
  ASSERT_EQ(fsec_engine_hash_count(e), 3);
  fsec_engine_close(e);
}

static void config_is_checked_at_open(void) {
  fsec_config cfg;
  fsec_engine *e = (fsec_engine *)1;
  char err[128];
  static const unsigned char *shortkey[1] = {(const unsigned char *)"short"};
  static const size_t shortlen[1] = {5};
  fsec_config_init(&cfg);
  ASSERT_EQ(fsec_engine_open(&e, &cfg, err, sizeof err), FSEC_EKEY);
  ASSERT_NULL(e);
  ASSERT_STREQ(err, "secret_key is missing");
  cfg.secret_keys = shortkey;
  cfg.secret_key_lens = shortlen;
  cfg.n_secret_keys = 1;
  ASSERT_EQ(fsec_engine_open(&e, &cfg, err, sizeof err), FSEC_EKEY);
  ASSERT_STREQ(err, "secret_key must be at least 32 bytes");
  test_config(&cfg, NULL);
  cfg.argon2_time = 0;
  ASSERT_EQ(fsec_engine_open(&e, &cfg, err, sizeof err), FSEC_EINVAL);
  ASSERT(strstr(err, "time_cost") != NULL);
  fsec_engine_close(NULL); /* a no-op */
}

/* ------------------------------------------------------------------ */
/* The verify budget                                                   */
/* ------------------------------------------------------------------ */

/* Well-formed hashes (they never match anything): what a hostile import or
 * a tampered row would hold. */
#define CRYPT53 "abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234"
#define BCRYPT(c) "$2b$" c "$" CRYPT53
#define B64_16 "c2FsdHNhbHRzYWx0c2FsdA" /* 16 bytes */
#define AB64_64 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define PBKDF2_512(r) "$pbkdf2-sha512$" r "$c2FsdA$" AB64_64
#define FS_ARGON2 "$argon2id$v=19$m=102400,t=10,p=8$" B64_16 "$" B64_16

/* An engine at fsec's default argon2 parameters (64 MiB, t = 2: nothing
 * is hashed here) with the given budget. */
static fsec_engine *budget_engine(double budget, uint32_t m, uint32_t t) {
  fsec_config cfg;
  test_config(&cfg, NULL);
  cfg.argon2_memory_kib = m;
  cfg.argon2_time = t;
  cfg.caps.verify_budget = budget;
  return open_engine_cfg(&cfg);
}

static double cost_of(fsec_engine *e, const char *h) {
  double c = -1;
  ASSERT_OK(fsec_password_cost(e, h, strlen(h), &c));
  return c;
}

/* Costs in units of one new hash, from the hashes' own parameters. */
static void cost_is_estimated_from_the_parameters(void) {
  fsec_engine *e = budget_engine(5, 65536, 2), *toy = budget_engine(5, 1024, 1);
  double c = -1;
  ASSERT(cost_of(e, BCRYPT("12")) == 1.25);
  ASSERT(cost_of(e, BCRYPT("16")) == 20);
  ASSERT(cost_of(e, FS_ARGON2) == 4.0625); /* Flask-Security's argon2 */
  ASSERT(cost_of(e, "$argon2id$v=19$m=65536,t=2,p=1$" B64_16 "$" B64_16) == 1);
  ASSERT(fabs(cost_of(e, PBKDF2_512("2000000")) - 8.79) < 0.01);
  /* toy parameters: the unit never drops below OWASP's minimum */
  ASSERT(fabs(cost_of(toy, BCRYPT("12")) - 409600.0 / 97280) < 1e-9);
  /* a hash over a cap has no cost: it never runs */
  ASSERT_EQ(fsec_password_cost(e, BCRYPT("17"), 60, &c), FSEC_EHASHCAP);
  ASSERT_EQ(fsec_password_cost(e, "junk", 4, &c), FSEC_EHASHFMT);
  fsec_engine_close(e);
  fsec_engine_close(toy);
}

/* Over the budget: refused unrun, exactly like a hash over a cap. */
static void hashes_over_the_budget_are_refused_unrun(void) {
  fsec_engine *e = budget_engine(5, 65536, 2), *none = budget_engine(0, 65536, 2);
  static const char *const over[] = {BCRYPT("15"), BCRYPT("16"),
                                     PBKDF2_512("2000000")};
  static const char *const within[] = {BCRYPT("14"), FS_ARGON2,
                                       PBKDF2_512("25000")};
  uint64_t before = fsec_engine_hash_count(e);
  int match = -1;
  size_t i;
  for (i = 0; i < sizeof over / sizeof *over; i++) {
    ASSERT_EQ(fsec_password_check_stored(e, over[i], strlen(over[i])),
              FSEC_EHASHCAP);
    ASSERT_EQ(fsec_password_verify(e, PW, strlen(PW), over[i], strlen(over[i]),
                                   &match),
              FSEC_EHASHCAP);
    ASSERT_EQ(match, 0);
    ASSERT(strstr(fsec_errmsg(e), "verify budget") != NULL);
    ASSERT_OK(fsec_password_check_stored(none, over[i], strlen(over[i])));
  }
  ASSERT_EQ(fsec_engine_hash_count(e), before); /* nothing ran */
  for (i = 0; i < sizeof within / sizeof *within; i++)
    ASSERT_OK(fsec_password_check_stored(e, within[i], strlen(within[i])));
  /* without a budget the caps still hold */
  ASSERT_EQ(fsec_password_check_stored(none, BCRYPT("17"), 60), FSEC_EHASHCAP);
  fsec_engine_close(e);
  fsec_engine_close(none);
}

static void budget_is_checked_at_open(void) {
  static const double bad[] = {0.5, -1, 2e6};
  fsec_config cfg;
  fsec_engine *e = NULL;
  char err[256];
  size_t i;
  for (i = 0; i < sizeof bad / sizeof *bad; i++) {
    test_config(&cfg, NULL);
    cfg.caps.verify_budget = bad[i];
    ASSERT_EQ(fsec_engine_open(&e, &cfg, err, sizeof err), FSEC_EINVAL);
    ASSERT(strstr(err, "verify_budget") != NULL);
  }
  cfg.caps.verify_budget = NAN;
  ASSERT_EQ(fsec_engine_open(&e, &cfg, err, sizeof err), FSEC_EINVAL);
  ASSERT_NULL(e);
}

/* The dummy hash: current parameters, one argon2 run, never a match. */
static void dummy_hash_costs_one_run_and_never_matches(void) {
  fsec_engine *e = open_engine(SALT);
  char d[FSEC_PASSWORD_HASH_BYTES], d2[FSEC_PASSWORD_HASH_BYTES];
  int match = -1, needs = -1;
  uint64_t before;
  ASSERT_OK(fsec_password_dummy(e, d, sizeof d));
  ASSERT_OK(fsec_password_dummy(e, d2, sizeof d2));
  ASSERT(strcmp(d, d2) != 0);
  ASSERT(strncmp(d, "$argon2id$v=19$m=1024,t=1,p=1$", 30) == 0);
  ASSERT_OK(fsec_password_needs_update(e, d, strlen(d), &needs));
  ASSERT_EQ(needs, 0); /* same parameters as real hashes */
  before = fsec_engine_hash_count(e);
  ASSERT_OK(fsec_password_verify(e, PW, strlen(PW), d, strlen(d), &match));
  ASSERT_EQ(match, 0);
  ASSERT_EQ(fsec_engine_hash_count(e), before + 1);
  ASSERT_EQ(fsec_password_dummy(e, d, 10), FSEC_EINVAL);
  fsec_engine_close(e);
}

int main(void) {
  RUN(hash_is_argon2id_phc_with_configured_params);
  RUN(defaults_meet_owasp_minimum);
  RUN(double_hash_is_flask_security_get_hmac);
  RUN(passwords_are_nfkd_normalized);
  RUN(leading_and_trailing_spaces_are_kept);
  RUN(bad_passwords_are_refused_before_hashing);
  RUN(bad_stored_hashes_fail_fast);
  RUN(needs_update_tracks_scheme_and_params);
  RUN(hash_count_counts_each_expensive_run);
  RUN(config_is_checked_at_open);
  RUN(dummy_hash_costs_one_run_and_never_matches);
  RUN(cost_is_estimated_from_the_parameters);
  RUN(hashes_over_the_budget_are_refused_unrun);
  RUN(budget_is_checked_at_open);
  return 0;
}
