/*
 * strength.c: zxcvbn's strength estimate (fsec/strength.h). libzxcvbn
 * gives the entropy of the password and the matches it was made of; the
 * score and the warning are derived here the way zxcvbn's own scoring and
 * feedback derive them from guesses and the match that covers most of the
 * password, so that a weak password gets the warning Flask-Security-Too
 * shows (zxcvbn's English text, which Too passes through untranslated).
 */
#include <math.h>
#include <string.h>

#include <zxcvbn.h>

#include "internal.h"
#include "fsec/strength.h"

/* zxcvbn's score thresholds on guesses (each + 5, as zxcvbn adds a margin
 * for rounding), as log2: below 10^3 -> 0, 10^6 -> 1, 10^8 -> 2, 10^10 -> 3. */
static int score_of(double bits) {
  static const double log10_limit[] = {3, 6, 8, 10};
  double log10_guesses = bits * 0.30102999566398120; /* log10(2) */
  int s = 0;
  while (s < 4 && log10_guesses >= log10(pow(10, log10_limit[s]) + 5)) s++;
  return s;
}

/* The warnings of zxcvbn's feedback, word for word (what Too shows). */
#define W_TOP10 "This is a top-10 common password."
#define W_TOP100 "This is a top-100 common password."
#define W_COMMON "This is a very common password."
#define W_SIMILAR "This is similar to a commonly used password."
#define W_ROW "Straight rows of keys are easy to guess."
#define W_KEYS "Short keyboard patterns are easy to guess."
#define W_REPEAT1 "Repeats like \"aaa\" are easy to guess."
#define W_REPEATN "Repeats like \"abcabcabc\" are only slightly harder to guess than \"abc\"."
#define W_SEQUENCE "Sequences like \"abc\" or \"6543\" are easy to guess."
#define W_YEAR "Recent years are easy to guess."
#define W_DATE "Dates are often easy to guess."

/* 10^4 guesses: zxcvbn calls a dictionary part at most this hard "similar
 * to a commonly used password". */
#define SIMILAR_BITS 13.2877

static int same_char(const char *s, int n) {
  for (int i = 1; i < n; i++)
    if (s[i] != s[0]) return 0;
  return 1;
}

/* All of s[0..n) on one row of a US keyboard (either case): a straight row
 * rather than a pattern with turns. */
static int one_row(const char *s, int n) {
  static const char *const rows[] = {"`1234567890-=", "qwertyuiop[]\\", "asdfghjkl;'",
                                     "zxcvbnm,./", "~!@#$%^&*()_+", "{}|", ":\"", "<>?"};
  for (size_t r = 0; r < 5; r++) { /* the shifted rows only as the unshifted */
    int i = 0;
    for (; i < n; i++) {
      int c = s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i];
      if (!c || !strchr(rows[r], c)) break;
    }
    if (i == n) return 1;
  }
  return 0;
}

static const char *dictionary_warning(const ZxcMatch_t *m, int sole) {
  if (m->Type == DICTIONARY_MATCH && sole) {
    double rank = pow(2, m->Entrpy); /* a plain word's entropy is log2(rank) */
    if (rank <= 10.5) return W_TOP10;
    if (rank <= 100.5) return W_TOP100;
    return W_COMMON;
  }
  return m->Entrpy <= SIMILAR_BITS ? W_SIMILAR : NULL;
}

/* The warning for the match covering most of the password (zxcvbn's
 * feedback looks at the longest part of its guess sequence). */
static const char *warning_of(const char *pw, const ZxcMatch_t *info) {
  const ZxcMatch_t *m = info, *p;
  int parts = 0;
  for (p = info; p; p = p->Next, parts++)
    if (p->Length > m->Length) m = p;
  if (!m) return NULL;
  const char *s = pw + m->Begin;
  if ((int)m->Type & MULTIPLE_MATCH) return same_char(s, m->Length) ? W_REPEAT1 : W_REPEATN;
  switch ((int)m->Type) {
  case DICTIONARY_MATCH:
  case DICT_LEET_MATCH: return dictionary_warning(m, parts == 1);
  case REPEATS_MATCH: return same_char(s, m->Length) ? W_REPEAT1 : W_REPEATN;
  case SEQUENCE_MATCH: return W_SEQUENCE;
  case SPATIAL_MATCH: return one_row(s, m->Length) ? W_ROW : W_KEYS;
  case YEAR_MATCH: return W_YEAR;
  case DATE_MATCH: return W_DATE;
  default: return NULL; /* brute force, user words: no warning in zxcvbn */
  }
}

/* The length estimated: at most FSEC_STRENGTH_PASSWORD_MAX bytes, cut at a
 * UTF-8 character boundary. libzxcvbn's matching grows faster than
 * linearly with length and runs on nginx's event loop: 64 repeated
 * characters take about 1 ms, 100 about 3.4 ms. The cut only ever errs
 * towards refusing: a weak prefix is refused whatever follows it, and a
 * prefix that reaches the top score is strong on its own. */
static size_t estimated_len(const char *pw, size_t len) {
  if (len <= FSEC_STRENGTH_PASSWORD_MAX) return len;
  len = FSEC_STRENGTH_PASSWORD_MAX;
  while (len > 0 && ((unsigned char)pw[len] & 0xC0) == 0x80) len--;
  return len;
}

int fsec_password_strength(const char *password, size_t len, const char *const *inputs,
                           const size_t *input_lens, size_t n, fsec_strength *out) {
  char pw[FSEC_STRENGTH_PASSWORD_MAX + 1];
  char words[FSEC_STRENGTH_INPUTS_MAX][FSEC_STRENGTH_INPUT_MAX + 1];
  const char *dict[FSEC_STRENGTH_INPUTS_MAX + 1];
  ZxcMatch_t *info = NULL;
  memset(out, 0, sizeof *out);
  if ((len && !password) || n > FSEC_STRENGTH_INPUTS_MAX || (n && (!inputs || !input_lens)))
    return FSEC_EINVAL;
  if (len && memchr(password, 0, len)) return FSEC_ENUL;
  for (size_t i = 0; i < n; i++) {
    if (input_lens[i] > FSEC_STRENGTH_INPUT_MAX) return FSEC_EINVAL;
    if (input_lens[i] && memchr(inputs[i], 0, input_lens[i])) return FSEC_ENUL;
    memcpy(words[i], inputs[i], input_lens[i]);
    words[i][input_lens[i]] = '\0';
    dict[i] = words[i];
  }
  dict[n] = NULL;
  len = estimated_len(password, len);
  if (len) memcpy(pw, password, len);
  pw[len] = '\0';
  out->bits = ZxcvbnMatch(pw, dict, &info);
  out->score = score_of(out->bits);
  /* zxcvbn gives feedback only below score 3; above it, none */
  out->warning = out->score <= 2 ? warning_of(pw, info) : NULL;
  ZxcvbnFreeInfo(info);
  sodium_memzero(pw, sizeof pw); /* a password */
  return FSEC_OK;
}
