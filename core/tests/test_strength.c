/* test_strength.c: zxcvbn's score and warning (fsec_password_strength):
 * common passwords, repeats, sequences, keyboard rows, the user's own
 * words, a strong password, and hostile input (NUL, too many inputs, a
 * long password cut at a UTF-8 boundary). */
#include <string.h>

#include "fsec.h"
#include "test.h"

static fsec_strength check(const char *pw) {
  fsec_strength s;
  ASSERT_OK(fsec_password_strength(pw, strlen(pw), NULL, NULL, 0, &s));
  return s;
}

static void expect(const char *pw, int max_score, const char *warning) {
  fsec_strength s = check(pw);
  if (s.score > max_score) FAIL_AT("%s: score %d above %d", pw, s.score, max_score);
  if (warning == NULL ? s.warning != NULL : (s.warning == NULL || strcmp(s.warning, warning)))
    FAIL_AT("%s: warning \"%s\", expected \"%s\"", pw, s.warning ? s.warning : "(none)",
            warning ? warning : "(none)");
}

int main(void) {
  expect("password", 0, "This is a top-10 common password.");
  expect("aaaaaaaaaaaa", 0, "Repeats like \"aaa\" are easy to guess.");
  expect("abcabcabcabc", 1,
         "Repeats like \"abcabcabc\" are only slightly harder to guess than \"abc\".");
  expect("abcdefghij", 0, "Sequences like \"abc\" or \"6543\" are easy to guess.");
  expect("asdfghjkl;", 1, "Straight rows of keys are easy to guess.");
  expect("qwertyuiop", 1, "This is a very common password."); /* libzxcvbn lists it */
  expect("zxcvfr", 2, "Short keyboard patterns are easy to guess.");
  expect("iloveyou2", 2, "This is a very common password.");
  expect("p@ssw0rd12", 2, "This is similar to a commonly used password.");

  /* strong: score 3 or more and no warning */
  fsec_strength s = check("correct horse battery staple river");
  ASSERT(s.score >= 3);
  ASSERT_NULL(s.warning);
  s = check("xK9#mq2Lw!t7Zr");
  ASSERT_EQ(s.score, 4);

  /* the user's own words make a password weak */
  const char *in[] = {"zebulon.quarterman@example.com", "zebulonquarterman"};
  size_t lens[] = {strlen(in[0]), strlen(in[1])};
  const char *pw = "zebulonquarterman";
  ASSERT(check(pw).score >= 3);
  ASSERT_OK(fsec_password_strength(pw, strlen(pw), in, lens, 2, &s));
  ASSERT(s.score <= 1);

  /* hostile input */
  ASSERT_EQ(fsec_password_strength("ab\0cd", 5, NULL, NULL, 0, &s), FSEC_ENUL);
  const char *nul_in[] = {"x\0y"};
  size_t nul_len[] = {3};
  ASSERT_EQ(fsec_password_strength("abc", 3, nul_in, nul_len, 1, &s), FSEC_ENUL);
  ASSERT_EQ(fsec_password_strength("abc", 3, in, lens, FSEC_STRENGTH_INPUTS_MAX + 1, &s),
            FSEC_EINVAL);
  size_t big[] = {FSEC_STRENGTH_INPUT_MAX + 1};
  ASSERT_EQ(fsec_password_strength("abc", 3, in, big, 1, &s), FSEC_EINVAL);
  /* 4096 bytes of 3-byte characters: estimated on a whole-character prefix */
  static char longpw[4097];
  for (int i = 0; i + 3 <= 4095; i += 3) memcpy(longpw + i, "\xe2\x82\xac", 3);
  ASSERT_OK(fsec_password_strength(longpw, strlen(longpw), NULL, NULL, 0, &s));
  ASSERT_EQ(check("").score, 0);
  /* only the first FSEC_STRENGTH_PASSWORD_MAX bytes count: a weak start is
   * refused whatever strong tail follows it (the cut errs towards refusing) */
  char tail[FSEC_STRENGTH_PASSWORD_MAX + 32];
  memset(tail, 'a', FSEC_STRENGTH_PASSWORD_MAX);
  strcpy(tail + FSEC_STRENGTH_PASSWORD_MAX, "xK9#mq2Lw!t7Zr");
  ASSERT(check(tail).score <= 1);
  ASSERT_EQ(check(tail + FSEC_STRENGTH_PASSWORD_MAX - 4).score, 4);
  return 0;
}
