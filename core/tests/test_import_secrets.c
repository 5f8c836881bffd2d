/* test_import_secrets.c: passlib's enckey and Fernet, on the worked
 * examples of shared/reference/wave2.md §2.4 and §2.8 (made by passlib and
 * cryptography, and repeated with the openssl command line). */
#include "fsec.h"
#include "test.h"

static void unhex(const char *h, unsigned char *out) {
  size_t i;
  for (i = 0; h[2 * i]; i++) {
    unsigned v;
    ASSERT(sscanf(h + 2 * i, "%2x", &v) == 1);
    out[i] = (unsigned char)v;
  }
}

#define SALT "41a835268490f2fe7feffddf"
#define CT "48507e0d8b5d97f36663825bcf885338693c1209"
#define RAW "4228656c6dadb5766eadf51e03a014624c8991b2"
#define SECRET "my-totp-secret"

static void passlib_worked_example(void) {
  unsigned char salt[12], ct[20], raw[20], out[20];
  unhex(SALT, salt);
  unhex(CT, ct);
  unhex(RAW, raw);
  ASSERT_OK(fsec_passlib_totp_decrypt(SECRET, strlen(SECRET), salt, sizeof salt,
                                      ct, sizeof ct, 14, out, sizeof out));
  ASSERT(memcmp(out, raw, 20) == 0);
  /* the stored Base32 of the example decodes to the same salt and ct */
  {
    unsigned char b[32];
    size_t n;
    ASSERT_OK(fsec_base32_decode("IGUDKJUESDZP477P7XPQ", 20, b, sizeof b, &n));
    ASSERT(n == 12 && memcmp(b, salt, 12) == 0);
    ASSERT_OK(fsec_base32_decode("JBIH4DMLLWL7GZTDQJN47CCTHBUTYEQJ", 32, b, sizeof b, &n));
    ASSERT(n == 20 && memcmp(b, ct, 20) == 0);
  }
  /* no MAC in passlib's format: a wrong secret gives other bytes */
  ASSERT_OK(fsec_passlib_totp_decrypt("other", 5, salt, sizeof salt, ct,
                                      sizeof ct, 14, out, sizeof out));
  ASSERT(memcmp(out, raw, 20) != 0);
  /* cost bounds (2^21 rounds would be a denial of service) */
  ASSERT_EQ(fsec_passlib_totp_decrypt(SECRET, 14, salt, 12, ct, 20, 21, out, 20),
            FSEC_EINVAL);
  ASSERT_EQ(fsec_passlib_totp_decrypt(SECRET, 14, salt, 12, ct, 20, 0, out, 20),
            FSEC_EINVAL);
  ASSERT_EQ(fsec_passlib_totp_decrypt(SECRET, 14, salt, 12, ct, 20, 14, out, 19),
            FSEC_EINVAL);
  ASSERT_EQ(fsec_passlib_totp_decrypt(SECRET, 14, salt, 0, ct, 20, 14, out, 20),
            FSEC_EINVAL);
}

#define FKEY "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define FTOKEN                                                          \
  "gAAAAABlU_EAAAAAAAAAAAAAAAAAAAAAAK7xDuuhadwkHbDBzbj97JVAFVk-gBSr7R1" \
  "Mv2kp78XVg0rQSTdUnshcBSVHzAPP2w=="
#define TS 1700000000

static int fernet(const char *key, const char *tok, int64_t ttl, int64_t now,
                  char *out) {
  size_t n = 0;
  int rc = fsec_fernet_decrypt(key, strlen(key), tok, strlen(tok), ttl, now,
                               out, 64, &n);
  out[n] = '\0';
  return rc;
}

static void fernet_worked_example(void) {
  char out[65], t[256];
  ASSERT_OK(fernet(FKEY, FTOKEN, -1, -1, out));
  ASSERT_STREQ(out, "3f9a-1c2b-77d0");
  /* the key and the token without their padding */
  ASSERT_OK(fernet("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", FTOKEN, -1, -1, out));
  strcpy(t, FTOKEN);
  t[strlen(t) - 2] = '\0';
  ASSERT_OK(fernet(FKEY, t, -1, -1, out));
  ASSERT_STREQ(out, "3f9a-1c2b-77d0");
  /* time: cryptography's rule, only with a ttl */
  ASSERT_OK(fernet(FKEY, FTOKEN, 100, TS + 100, out));
  ASSERT_EQ(fernet(FKEY, FTOKEN, 100, TS + 101, out), FSEC_EEXPIRED);
  ASSERT_OK(fernet(FKEY, FTOKEN, 100, TS - 60, out));
  ASSERT_EQ(fernet(FKEY, FTOKEN, 100, TS - 61, out), FSEC_EEXPIRED);
  ASSERT_EQ(fernet(FKEY, FTOKEN, 0, -1, out), FSEC_EEXPIRED); /* now: years later */
  ASSERT_STREQ(out, "");
}

static void fernet_refusals(void) {
  char out[65], t[256];
  size_t i, len = strlen(FTOKEN) - 2;
  /* another key */
  ASSERT_EQ(fernet("AQECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", FTOKEN, -1, -1, out),
            FSEC_EAUTH);
  /* every character changed: the MAC catches it (version, time, IV, ct) */
  for (i = 0; i < len - 1; i++) {
    int rc;
    strcpy(t, FTOKEN);
    t[i] = t[i] == 'A' ? 'B' : 'A';
    rc = fernet(FKEY, t, -1, -1, out);
    ASSERT(rc == FSEC_EAUTH || (i == 0 && rc == FSEC_EINVAL)); /* version */
  }
  /* an expired token that is also forged says forged: the MAC comes first */
  strcpy(t, FTOKEN);
  t[20] = t[20] == 'A' ? 'B' : 'A';
  ASSERT_EQ(fernet(FKEY, t, 0, -1, out), FSEC_EAUTH);
  ASSERT_EQ(fernet(FKEY, "", -1, -1, out), FSEC_EINVAL);
  ASSERT_EQ(fernet(FKEY, "gAAAAA", -1, -1, out), FSEC_EINVAL);
  ASSERT_EQ(fernet(FKEY, "not base64!", -1, -1, out), FSEC_EINVAL);
  ASSERT_EQ(fernet("c2hvcnQ=", FTOKEN, -1, -1, out), FSEC_EINVAL); /* 5-byte key */
  strcpy(t, FTOKEN);
  t[len - 5] = '+'; /* standard alphabet: not base64url */
  ASSERT_EQ(fernet(FKEY, t, -1, -1, out), FSEC_EINVAL);
  {
    size_t n;
    char small[8];
    ASSERT_EQ(fsec_fernet_decrypt(FKEY, strlen(FKEY), FTOKEN, strlen(FTOKEN), -1,
                                  -1, small, sizeof small, &n),
              FSEC_EINVAL);
  }
}

int main(void) {
  RUN(passlib_worked_example);
  RUN(fernet_worked_example);
  RUN(fernet_refusals);
  return 0;
}
