/* test_errors.c: the X-macro tables give every code a name and message. */
#include "fsec.h"
#include "test.h"

static void every_code_has_a_distinct_name(void) {
  int rc, other;
  for (rc = -1; rc > FSEC__ERR_LAST; rc--) {
    ASSERT(strcmp(fsec_errname(rc), "EUNKNOWN") != 0);
    ASSERT(strcmp(fsec_strerror(rc), "unknown error") != 0);
    for (other = rc - 1; other > FSEC__ERR_LAST; other--)
      ASSERT(strcmp(fsec_errname(rc), fsec_errname(other)) != 0);
  }
}

static void ok_and_unknown(void) {
  ASSERT_STREQ(fsec_errname(FSEC_OK), "OK");
  ASSERT_STREQ(fsec_errname(FSEC_EINVAL), "EINVAL");
  ASSERT_STREQ(fsec_errname(12345), "EUNKNOWN");
  ASSERT_STREQ(fsec_strerror(FSEC_EHASHCAP),
               "password hash parameters above the configured caps");
  ASSERT_STREQ(fsec_version(), FSEC_VERSION_STRING);
}

int main(void) {
  RUN(every_code_has_a_distinct_name);
  RUN(ok_and_unknown);
  return 0;
}
