/* test_random.c: random identifiers are long, url-safe and distinct. */
#include "fsec.h"
#include "test.h"

static void ids_are_urlsafe_and_distinct(void) {
  char a[128], b[128];
  size_t i;
  ASSERT_OK(fsec_random_id(a, sizeof a, 16));
  ASSERT_OK(fsec_random_id(b, sizeof b, 16));
  ASSERT_EQ(strlen(a), 22); /* 128 bits in base64url */
  ASSERT_EQ(fsec_random_id_len(16), 22);
  ASSERT(strcmp(a, b) != 0);
  for (i = 0; a[i]; i++)
    ASSERT(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                  "0123456789-_",
                  a[i]) != NULL);
}

static void fewer_than_128_bits_is_refused(void) {
  char a[128];
  ASSERT_EQ(fsec_random_id(a, sizeof a, 15), FSEC_EINVAL);
  ASSERT_EQ(fsec_random_id(a, sizeof a, 65), FSEC_EINVAL);
  ASSERT_EQ(fsec_random_id(a, 22, 16), FSEC_EINVAL); /* no room for NUL */
  ASSERT_OK(fsec_random_id(a, 23, 16));
}

int main(void) {
  RUN(ids_are_urlsafe_and_distinct);
  RUN(fewer_than_128_bits_is_refused);
  return 0;
}
