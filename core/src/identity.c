/*
 * identity.c: checks and case-folding of emails and usernames, so that the
 * store can keep one unique, case-insensitive form of each.
 */
#include <string.h>

#include <utf8proc.h>

#include "fsec/store.h"
#include "internal.h"

#define LOCAL_MAX 64
#define DOMAIN_MAX 253
#define LABEL_MAX 63

/* Valid UTF-8 without NUL or control characters (C0, DEL, C1) and, when
 * no_space, without white space. */
static int check_text(const char *s, size_t len, size_t max, int no_space) {
  utf8proc_ssize_t i = 0, n;
  utf8proc_int32_t cp;
  if (len == 0) return FSEC_EIDENTITY;
  if (len > max) return FSEC_ETOOLONG;
  if (memchr(s, '\0', len)) return FSEC_ENUL;
  for (; (size_t)i < len && (unsigned char)s[i] < 0x80; i++) /* ASCII run */
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || (no_space && s[i] == ' '))
      return FSEC_EIDENTITY;
  while ((size_t)i < len) {
    n = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
                         (utf8proc_ssize_t)len - i, &cp);
    if (n < 0) return FSEC_EUTF8;
    if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return FSEC_EIDENTITY;
    if (no_space && (cp == ' ' || utf8proc_category(cp) == UTF8PROC_CATEGORY_ZS))
      return FSEC_EIDENTITY;
    i += n;
  }
  return FSEC_OK;
}

/* NFKC + case folding into out. ASCII (nearly every address) takes a
 * fast path: NFKC leaves it as is and case folding is tolower. */
static int fold(const char *s, size_t len, char *out, size_t outlen) {
  utf8proc_uint8_t *f = NULL;
  utf8proc_ssize_t n;
  size_t i;
  for (i = 0; i < len && (unsigned char)s[i] < 0x80; i++) {}
  if (i == len) {
    if (len >= outlen) return FSEC_ETOOLONG;
    for (i = 0; i < len; i++)
      out[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
    out[len] = '\0';
    return FSEC_OK;
  }
  n = utf8proc_map(
      (const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &f,
      UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD);
  if (n < 0) return n == UTF8PROC_ERROR_NOMEM ? FSEC_ENOMEM : FSEC_EUTF8;
  if ((size_t)n >= outlen) {
    free(f);
    return FSEC_ETOOLONG;
  }
  memcpy(out, f, (size_t)n + 1);
  free(f);
  return FSEC_OK;
}

static int local_char_ok(unsigned char c) {
  return c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || strchr("!#$%&'*+/=?^_`{|}~.-", c) != NULL;
}

static int domain_char_ok(unsigned char c) {
  return c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '-';
}

/* dot-atom: no empty atom (no leading, trailing or double dot). */
static int dot_atoms_ok(const char *s, size_t n, int domain) {
  size_t i, label = 0;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '.') {
      if (label == 0) return 0;
      if (domain && s[i - 1] == '-') return 0;
      label = 0;
      continue;
    }
    if (domain ? !domain_char_ok(c) : !local_char_ok(c)) return 0;
    if (domain && label == 0 && c == '-') return 0;
    if (domain && ++label > LABEL_MAX) return 0;
    if (!domain) label++;
  }
  return label > 0 && !(domain && s[n - 1] == '-');
}

static int email_ok(const char *email, size_t len) {
  const char *at;
  size_t local;
  int rc = check_text(email, len, FSEC_EMAIL_MAX, 1);
  if (rc != FSEC_OK) return rc;
  at = memchr(email, '@', len);
  if (!at || memchr(at + 1, '@', len - (size_t)(at - email) - 1))
    return FSEC_EIDENTITY; /* exactly one '@' (no quoted local parts) */
  local = (size_t)(at - email);
  if (local == 0 || local > LOCAL_MAX || len - local - 1 > DOMAIN_MAX ||
      !dot_atoms_ok(email, local, 0) ||
      !dot_atoms_ok(at + 1, len - local - 1, 1) ||
      !memchr(at + 1, '.', len - local - 1)) /* a dotted domain, as FS wants */
    return FSEC_EIDENTITY;
  return FSEC_OK;
}

static int username_ok(const char *name, size_t len) {
  int rc = check_text(name, len, FSEC_USERNAME_MAX, 1);
  if (rc != FSEC_OK) return rc;
  return memchr(name, '@', len) ? FSEC_EIDENTITY : FSEC_OK;
}

/* Check, fold, and check the folded form as well: NFKC can turn a valid
 * character into something that is not (U+02DB becomes a space and a
 * combining mark), and the folded form is the key that must stay valid
 * (found by fuzz/fuzz_identity.c). */
static int identity(int (*ok)(const char *, size_t), size_t max,
                    const char *s, size_t len, char *out, size_t outlen) {
  int rc = ok(s, len);
  if (rc == FSEC_OK) rc = fold(s, len, out, outlen);
  if (rc == FSEC_OK && strlen(out) > max) rc = FSEC_ETOOLONG;
  if (rc == FSEC_OK && ok(out, strlen(out)) != FSEC_OK) rc = FSEC_EIDENTITY;
  if (rc != FSEC_OK && outlen) out[0] = '\0';
  return rc;
}

int fsec_identity_email(const char *email, size_t len, char *out,
                        size_t outlen) {
  return identity(email_ok, FSEC_EMAIL_MAX, email, len, out, outlen);
}

int fsec_identity_username(const char *name, size_t len, char *out,
                           size_t outlen) {
  return identity(username_ok, FSEC_USERNAME_MAX, name, len, out, outlen);
}

int fsec__check_utf8(const char *s, size_t len) {
  utf8proc_ssize_t i = 0, n;
  utf8proc_int32_t cp;
  if (memchr(s, '\0', len)) return FSEC_ENUL;
  while ((size_t)i < len) {
    n = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
                         (utf8proc_ssize_t)len - i, &cp);
    if (n < 0) return FSEC_EUTF8;
    i += n;
  }
  return FSEC_OK;
}

int fsec_text_check(const char *s, size_t len, size_t max) {
  if (len > max) return FSEC_ETOOLONG;
  return fsec__check_utf8(s, len);
}
