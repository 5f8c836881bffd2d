/* test_seal.c: the keyring: round trips, rotation, tampering, unknown
 * tags, the current-tag rule and the refusals of bad configurations. */
#include "fsec.h"
#include "test.h"

#define S1 "first-secret-of-the-ring"
#define S2 "second-secret-of-the-ring"

static fsec_keyring *ring(size_t n, const char *const *tags,
                          const char *const *secrets) {
  size_t tl[8], sl[8], i;
  fsec_keyring *kr = NULL;
  char err[160];
  for (i = 0; i < n; i++) tl[i] = strlen(tags[i]), sl[i] = strlen(secrets[i]);
  ASSERT_OK(fsec_keyring_new(&kr, tags, tl, (const unsigned char *const *)secrets,
                             sl, n, err, sizeof err));
  return kr;
}

static int seal(fsec_keyring *kr, const char *pt, const char *aad, char *out,
                size_t cap) {
  size_t n = 0;
  int rc = fsec_keyring_seal(kr, pt, strlen(pt), aad, aad ? strlen(aad) : 0,
                             out, cap, &n);
  if (rc == FSEC_OK) ASSERT_EQ(n, strlen(out));
  return rc;
}

static int unseal(fsec_keyring *kr, const char *s, const char *aad, char *out,
                  const char **tag) {
  size_t n = 0;
  int rc = fsec_keyring_unseal(kr, s, strlen(s), aad, aad ? strlen(aad) : 0,
                               out, 256, &n, tag);
  out[n] = '\0';
  return rc;
}

static void round_trip(void) {
  const char *tags[] = {"1"}, *secrets[] = {S1};
  fsec_keyring *kr = ring(1, tags, secrets);
  char s[256], s2[256], pt[257];
  const char *tag = NULL;
  ASSERT_STREQ(fsec_keyring_current(kr), "1");
  ASSERT_OK(seal(kr, "raw totp key bytes", NULL, s, sizeof s));
  ASSERT(strncmp(s, "$fsec$1$1$", 10) == 0);
  ASSERT_EQ(strlen(s), fsec_keyring_sealed_len(kr, 18));
  ASSERT_OK(unseal(kr, s, NULL, pt, &tag));
  ASSERT_STREQ(pt, "raw totp key bytes");
  ASSERT_STREQ(tag, "1");
  /* a random nonce: the same plaintext never seals the same */
  ASSERT_OK(seal(kr, "raw totp key bytes", NULL, s2, sizeof s2));
  ASSERT(strcmp(s, s2) != 0);
  /* the empty plaintext */
  ASSERT_OK(seal(kr, "", NULL, s, sizeof s));
  ASSERT_OK(unseal(kr, s, NULL, pt, &tag));
  ASSERT_STREQ(pt, "");
  /* aad must be repeated */
  ASSERT_OK(seal(kr, "k", "user:42", s, sizeof s));
  ASSERT_OK(unseal(kr, s, "user:42", pt, &tag));
  ASSERT_EQ(unseal(kr, s, "user:43", pt, &tag), FSEC_EAUTH);
  ASSERT_EQ(unseal(kr, s, NULL, pt, &tag), FSEC_EAUTH);
  ASSERT_NULL(tag);
  ASSERT_STREQ(pt, "");
  /* no room */
  ASSERT_EQ(seal(kr, "k", NULL, s, fsec_keyring_sealed_len(kr, 1)), FSEC_EINVAL);
  fsec_keyring_free(kr);
  fsec_keyring_free(NULL);
}

static void rotation(void) {
  const char *t1[] = {"1"}, *s1[] = {S1};
  const char *t2[] = {"1", "2"}, *s2[] = {S1, S2};
  fsec_keyring *old = ring(1, t1, s1), *both = ring(2, t2, s2);
  char a[256], b[256], pt[257];
  const char *tag;
  ASSERT_OK(seal(old, "secret", NULL, a, sizeof a));
  ASSERT_STREQ(fsec_keyring_current(both), "2");
  ASSERT_OK(unseal(both, a, NULL, pt, &tag)); /* the older one still opens */
  ASSERT_STREQ(pt, "secret");
  ASSERT_STREQ(tag, "1");
  ASSERT_OK(seal(both, "secret", NULL, b, sizeof b)); /* new ones: the current */
  ASSERT(strncmp(b, "$fsec$1$2$", 10) == 0);
  ASSERT_OK(unseal(both, b, NULL, pt, &tag));
  ASSERT_STREQ(tag, "2");
  ASSERT_EQ(unseal(old, b, NULL, pt, &tag), FSEC_EKEY); /* tag 2 unknown */
  fsec_keyring_free(old);
  fsec_keyring_free(both);
}

static void tampering(void) {
  const char *tags[] = {"a", "b"}, *secrets[] = {S1, S2};
  fsec_keyring *kr = ring(2, tags, secrets);
  char s[256], t[256], pt[257];
  const char *tag;
  size_t i, len;
  ASSERT_OK(seal(kr, "twenty bytes of key!", NULL, s, sizeof s));
  ASSERT_STREQ(fsec_keyring_current(kr), "b");
  len = strlen(s);
  /* every character of the payload changed: EAUTH, or EINVAL where the
   * change makes it non-canonical base64url */
  for (i = 10; i < len; i++) {
    int rc;
    strcpy(t, s);
    t[i] = t[i] == 'A' ? 'B' : 'A';
    rc = unseal(kr, t, NULL, pt, &tag);
    ASSERT(rc == FSEC_EAUTH || rc == FSEC_EINVAL);
    if (i < len - 1) ASSERT_EQ(rc, FSEC_EAUTH);
  }
  /* sealed under b, relabelled a: the other key (and the prefix is bound) */
  strcpy(t, s);
  t[8] = 'a';
  ASSERT_EQ(unseal(kr, t, NULL, pt, &tag), FSEC_EAUTH);
  t[8] = 'z';
  ASSERT_EQ(unseal(kr, t, NULL, pt, &tag), FSEC_EKEY);
  /* malformed */
  ASSERT_EQ(unseal(kr, "", NULL, pt, &tag), FSEC_EINVAL);
  ASSERT_EQ(unseal(kr, "$fsec$1$b$", NULL, pt, &tag), FSEC_EINVAL);
  ASSERT_EQ(unseal(kr, "$fsec$1$b", NULL, pt, &tag), FSEC_EINVAL);
  ASSERT_EQ(unseal(kr, "$fsec$2$b$AAAA", NULL, pt, &tag), FSEC_EINVAL);
  ASSERT_EQ(unseal(kr, "$fsec$1$$AAAA", NULL, pt, &tag), FSEC_EINVAL);
  ASSERT_EQ(unseal(kr, "$fsec$1$b$AAAA", NULL, pt, &tag), FSEC_EINVAL); /* short */
  strcpy(t, s);
  t[len - 1] = '\0'; /* truncated */
  ASSERT(unseal(kr, t, NULL, pt, &tag) != FSEC_OK);
  strcpy(t, s);
  strcat(t, "=");
  ASSERT_EQ(unseal(kr, t, NULL, pt, &tag), FSEC_EINVAL);
  {
    size_t n;
    char small[4];
    ASSERT_EQ(fsec_keyring_unseal(kr, s, len, NULL, 0, small, sizeof small, &n, &tag),
              FSEC_EINVAL);
  }
  fsec_keyring_free(kr);
}

static void current_tag_rule(void) {
  const char *num[] = {"9", "10", "02"}, *sec[] = {S1, S2, S1};
  const char *mixed[] = {"9", "10", "a1"}, *lex[] = {"2024-01", "2024-10", "2024-09"};
  fsec_keyring *kr = ring(3, num, sec);
  ASSERT_STREQ(fsec_keyring_current(kr), "10"); /* numerically */
  fsec_keyring_free(kr);
  kr = ring(3, mixed, sec);
  ASSERT_STREQ(fsec_keyring_current(kr), "a1"); /* by bytes */
  fsec_keyring_free(kr);
  kr = ring(3, lex, sec);
  ASSERT_STREQ(fsec_keyring_current(kr), "2024-10");
  fsec_keyring_free(kr);
}

static void bad_configurations(void) {
  fsec_keyring *kr = (fsec_keyring *)1;
  char err[160];
  const char *tags[2] = {"1", "1"};
  const unsigned char *secrets[2] = {(const unsigned char *)S1,
                                     (const unsigned char *)"short-secret"};
  size_t tl[2] = {1, 1}, sl[2] = {strlen(S1), 12};
  ASSERT_EQ(fsec_keyring_new(&kr, tags, tl, secrets, sl, 0, err, sizeof err),
            FSEC_EINVAL);
  ASSERT_NULL(kr);
  /* a short secret: named by its tag, never shown */
  tags[1] = "two";
  tl[1] = 3;
  ASSERT_EQ(fsec_keyring_new(&kr, tags, tl, secrets, sl, 2, err, sizeof err),
            FSEC_EINVAL);
  ASSERT(strstr(err, "'two'") != NULL);
  ASSERT(strstr(err, "short-secret") == NULL);
  /* twice the same tag */
  tags[1] = "1";
  tl[1] = 1;
  sl[1] = strlen(S1);
  secrets[1] = (const unsigned char *)S1;
  ASSERT_EQ(fsec_keyring_new(&kr, tags, tl, secrets, sl, 2, err, sizeof err),
            FSEC_EINVAL);
  /* tags outside the pattern */
  {
    const char *bad[] = {"", "-1", "_a", "a b", "a$b", "é", "a/b",
                         "123456789012345678901234567890123"};
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
      size_t one = strlen(bad[i]);
      ASSERT_EQ(fsec_keyring_new(&kr, &bad[i], &one, secrets, sl, 1, err, sizeof err),
                FSEC_EINVAL);
      ASSERT_NULL(kr);
    }
  }
  {
    const char *good[] = {"A.b-c_1"};
    size_t one = strlen(good[0]);
    ASSERT_OK(fsec_keyring_new(&kr, good, &one, secrets, sl, 1, err, sizeof err));
    ASSERT_STREQ(fsec_keyring_current(kr), "A.b-c_1");
    fsec_keyring_free(kr);
  }
}

/* The derived key depends on the tag (the salt), not only the secret:
 * two tags with one secret do not open each other's values. */
static void tag_salts_the_key(void) {
  const char *ta[] = {"x"}, *tb[] = {"y"}, *s[] = {S1};
  fsec_keyring *a = ring(1, ta, s), *b = ring(1, tb, s);
  char v[256], pt[257];
  const char *tag;
  ASSERT_OK(seal(a, "k", NULL, v, sizeof v));
  v[8] = 'y';
  ASSERT_EQ(unseal(b, v, NULL, pt, &tag), FSEC_EAUTH);
  fsec_keyring_free(a);
  fsec_keyring_free(b);
}

int main(void) {
  RUN(round_trip);
  RUN(rotation);
  RUN(tampering);
  RUN(current_tag_rule);
  RUN(bad_configurations);
  RUN(tag_salts_the_key);
  return 0;
}
