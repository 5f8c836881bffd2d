/* test_identity_header.c: the identity API stands alone in its own
 * header (fsec/identity.h), without the store's: a program that folds
 * identities includes only it (and the status codes). */
#include "fsec/errors.h"
#include "fsec/identity.h"
#include "test.h"

#ifdef FSEC_STORE_H
#  error "fsec/identity.h pulls in the store's header"
#endif

static void folds_without_the_store(void) {
  char out[FSEC_EMAIL_MAX + 1];
  char long_name[FSEC_USERNAME_MAX + 2];
  ASSERT_OK(fsec_identity_email("Bob@Example.ORG", 15, out, sizeof out));
  ASSERT_STREQ(out, "bob@example.org");
  ASSERT_OK(fsec_identity_username("Ann", 3, out, sizeof out));
  ASSERT_STREQ(out, "ann");
  memset(long_name, 'a', sizeof long_name);
  ASSERT_EQ(fsec_identity_username(long_name, FSEC_USERNAME_MAX + 1, out, sizeof out),
            FSEC_ETOOLONG);
  /* a username with a character no one sees is refused (soft hyphen,
   * zero-width joiner): "ad<SHY>min" would show as "admin" */
  ASSERT_EQ(fsec_identity_username("ad\xc2\xad"
                                   "min",
                                   7, out, sizeof out),
            FSEC_EIDENTITY);
  ASSERT_EQ(fsec_identity_username("ad\xe2\x80\x8dmin", 8, out, sizeof out), FSEC_EIDENTITY);
  ASSERT_OK(fsec_identity_username("J\xc3\xb6rg", 5, out, sizeof out));
  ASSERT_OK(fsec_text_check("caf\xc3\xa9", 5, 5));
  ASSERT_EQ(fsec_text_check("a\0b", 3, 10), FSEC_ENUL);
}

int main(void) {
  RUN(folds_without_the_store);
  return 0;
}
