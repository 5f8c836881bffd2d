/*
 * identity.c: checks and folding of emails and usernames, so that the
 * store keeps one unique key per identity.
 *
 * An email is folded as mail systems treat it (docs/datastore.md, "Email identity"):
 * - the domain as IDNA2008 / UTS-46 lookup does (libidn2, nontransitional):
 *   width and case mapped, U+3002/U+FF0E/U+FF61 become '.', and the key
 *   holds its A-label (punycode) form, so "straße.de" and
 *   "xn--strae-oqa.de" are one domain while "strasse.de" is another (ß is
 *   kept, as IDNA2008 and the DNS keep it). One trailing root dot
 *   ("example.org.") is dropped: it names the same domain.
 * - the local part with NFC and simple (one-to-one) lowercase, as
 *   email_validator (NFC) and Flask-Security's case-insensitive lookup do:
 *   no compatibility mapping and no full case folding, which would make
 *   "straße@" and "strasse@" one mailbox that the mail system keeps apart.
 * Usernames keep NFKC + full case folding (they are not mailboxes).
 */
#include <stdio.h>
#include <string.h>

#include <idn2.h>
#include <utf8proc.h>

#include "fsec/identity.h"
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

/* Does the text hold a character no one sees or can be sure to see:
 * format characters (soft hyphen, zero-width space and joiners, bidi
 * controls), line and paragraph separators, private use, unassigned
 * code points? "ad<soft hyphen>min@example.org" is shown as the admin's
 * address and is another account. Flask-Security's email_validator
 * refuses them in a local part, and Too's usernames (isprintable) too. */
static int invisible_in(const char *s, size_t len) {
  utf8proc_ssize_t i = 0, n;
  utf8proc_int32_t cp;
  while ((size_t)i < len) {
    if ((unsigned char)s[i] < 0x80) {
      i++;
      continue;
    }
    n = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)len - i, &cp);
    if (n < 0) return 1;
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_CS:
      return 1;
    default:
      break;
    }
    i += n;
  }
  return 0;
}

static int ascii(const char *s, size_t len) {
  size_t i;
  for (i = 0; i < len && (unsigned char)s[i] < 0x80; i++) {}
  return i == len;
}

static int ascii_lower(const char *s, size_t len, char *out, size_t outlen) {
  size_t i;
  if (len >= outlen) return FSEC_ETOOLONG;
  for (i = 0; i < len; i++)
    out[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
  out[len] = '\0';
  return FSEC_OK;
}

/* utf8proc's result (n bytes at f, or an error) into out; frees f. */
static int map_error(utf8proc_ssize_t n) {
  return n == UTF8PROC_ERROR_NOMEM ? FSEC_ENOMEM : FSEC_EUTF8;
}

static int take(utf8proc_ssize_t n, utf8proc_uint8_t *f, char *out,
                size_t outlen) {
  if (n < 0) return map_error(n);
  if ((size_t)n >= outlen) {
    free(f);
    return FSEC_ETOOLONG;
  }
  memcpy(out, f, (size_t)n + 1);
  free(f);
  return FSEC_OK;
}

/* Usernames: NFKC + full case folding. ASCII (nearly every name) takes a
 * fast path: NFKC leaves it as is and case folding is tolower. */
static int fold_nfkc(const char *s, size_t len, char *out, size_t outlen) {
  utf8proc_uint8_t *f = NULL;
  utf8proc_ssize_t n;
  if (ascii(s, len)) return ascii_lower(s, len, out, outlen);
  n = utf8proc_map(
      (const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &f,
      UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD);
  return take(n, f, out, outlen);
}

static utf8proc_int32_t lower_cp(utf8proc_int32_t cp, void *data) {
  (void)data;
  return utf8proc_tolower(cp);
}

/* Local parts: NFC, simple lowercase, NFC again. The first NFC makes
 * canonically equal inputs one (U+0130 and I + U+0307 lowercase apart
 * otherwise); the second composes what lowercasing decomposed. */
static int fold_local(const char *s, size_t len, char *out, size_t outlen) {
  utf8proc_uint8_t *nfc = NULL, *f = NULL;
  utf8proc_ssize_t n;
  if (ascii(s, len)) return ascii_lower(s, len, out, outlen);
  n = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &nfc,
                   UTF8PROC_STABLE | UTF8PROC_COMPOSE);
  if (n < 0) return map_error(n);
  n = utf8proc_map_custom(nfc, n, &f, UTF8PROC_STABLE | UTF8PROC_COMPOSE,
                          lower_cp, NULL);
  free(nfc);
  return take(n, f, out, outlen);
}

/* Does a lower-case ASCII domain hold an A-label ("xn--" label)? */
static int has_alabel(const char *d) {
  const char *p = d;
  for (;;) {
    if (strncmp(p, "xn--", 4) == 0) return 1;
    p = strchr(p, '.');
    if (!p) return 0;
    p++;
  }
}

/* An A-label must stand for a U-label that maps to itself: libidn2
 * (without STD3 rules, which we cannot use: they delete '_') accepts
 * e.g. "xn--8xg", whose U-label U+207D maps to '(' (found by
 * fuzz/fuzz_identity.c). Decode and map again: the same A-labels. */
static int alabels_stable(const char *a, const char **why) {
  char *u = NULL;
  uint8_t *b = NULL;
  int ok = idn2_to_unicode_8z8z(a, &u, 0) == IDN2_OK &&
           idn2_lookup_u8((const uint8_t *)u, &b,
                          IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL) == IDN2_OK &&
           strcmp(a, (const char *)b) == 0;
  idn2_free(u);
  idn2_free(b);
  if (!ok && why) *why = "an A-label (xn--) that does not decode to a valid label";
  return ok ? FSEC_OK : FSEC_EIDENTITY;
}

/* The domain's lookup form: UTS-46 nontransitional mapping, IDNA2008
 * checks, A-labels. A plain ASCII domain without A-labels maps to its
 * lower case under UTS-46; it skips libidn2, whose hyphen rule would
 * refuse existing LDH names such as "r3--sn.example". */
static int fold_domain(const char *s, size_t len, char *out, size_t outlen,
                       const char **why) {
  char in[FSEC_EMAIL_MAX + 1];
  uint8_t *a = NULL;
  size_t n;
  int r, rc = ascii_lower(s, len, out, outlen);
  if (rc == FSEC_OK && ascii(s, len) && !has_alabel(out)) return FSEC_OK;
  if (len >= sizeof in) return FSEC_ETOOLONG;
  memcpy(in, s, len);
  in[len] = '\0';
  r = idn2_lookup_u8((const uint8_t *)in, &a,
                     IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
  if (r != IDN2_OK) {
    if (why) *why = idn2_strerror(r); /* static text */
    return r == IDN2_MALLOC ? FSEC_ENOMEM : FSEC_EIDENTITY;
  }
  n = strlen((const char *)a);
  rc = has_alabel((const char *)a) ? alabels_stable((const char *)a, why) : FSEC_OK;
  if (rc == FSEC_OK && n >= outlen) rc = FSEC_ETOOLONG;
  if (rc == FSEC_OK) memcpy(out, a, n + 1);
  idn2_free(a);
  return rc;
}

static int local_char_ok(unsigned char c) {
  return c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || strchr("!#$%&'*+/=?^_`{|}~.-", c) != NULL;
}

/* Letters, digits, hyphen; non-ASCII only before IDNA mapping. */
static int domain_char_ok(unsigned char c, int mapped) {
  return (c >= 0x80 && !mapped) || (c >= 'a' && c <= 'z') ||
         (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

/* dot-atom: no empty atom (no leading, trailing or double dot); domain
 * labels (domain: 1 as typed, 2 mapped) of LDH, at most 63 bytes, with
 * no hyphen at either end. */
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
    if (domain ? !domain_char_ok(c, domain == 2) : !local_char_ok(c)) return 0;
    if (domain && label == 0 && c == '-') return 0;
    if (domain && ++label > LABEL_MAX) return 0;
    if (!domain) label++;
  }
  return label > 0 && !(domain && s[n - 1] == '-');
}

/* The domain as typed: something IDNA may map. ASCII in it must already
 * be letters, digits, hyphens and dots (libidn2 without STD3 rules would
 * pass "a_b", and with them it deletes the '_': both would be wrong). */
static int domain_typed_ok(const char *d, size_t n) {
  size_t i;
  if (n == 0) return 0;
  for (i = 0; i < n; i++)
    if (d[i] != '.' && !domain_char_ok((unsigned char)d[i], 0)) return 0;
  return 1;
}

static int email_typed_ok(const char *email, size_t len, const char **at) {
  size_t local;
  int rc = check_text(email, len, FSEC_EMAIL_MAX, 1);
  if (rc != FSEC_OK) return rc;
  *at = memchr(email, '@', len);
  if (!*at || memchr(*at + 1, '@', len - (size_t)(*at - email) - 1))
    return FSEC_EIDENTITY; /* exactly one '@' (no quoted local parts) */
  local = (size_t)(*at - email);
  if (local == 0 || !dot_atoms_ok(email, local, 0) || invisible_in(email, local) ||
      !domain_typed_ok(*at + 1, len - local - 1))
    return FSEC_EIDENTITY;
  return FSEC_OK;
}

/* The folded form: what the store keys on must itself be a valid email. */
static int email_folded_ok(const char *f, const char **why) {
  const char *at = strchr(f, '@');
  size_t len = strlen(f), local = (size_t)(at - f), dlen = len - local - 1;
  if (len > FSEC_EMAIL_MAX) return FSEC_ETOOLONG;
  if (local > LOCAL_MAX) return FSEC_EIDENTITY; /* RFC 5321's limits */
  if (dlen > DOMAIN_MAX) {
    if (why) *why = "domain longer than 253 bytes";
    return FSEC_EIDENTITY;
  }
  if (!dot_atoms_ok(f, local, 0) || check_text(f, local, LOCAL_MAX, 1) != FSEC_OK)
    return FSEC_EIDENTITY;
  if (!dot_atoms_ok(at + 1, dlen, 2)) {
    if (why) *why = "domain has an empty, over-long or badly hyphenated label";
    return FSEC_EIDENTITY;
  }
  if (!strchr(at + 1, '.')) { /* a dotted domain, as Flask-Security wants */
    if (why) *why = "domain has no dot";
    return FSEC_EIDENTITY;
  }
  return FSEC_OK;
}

static int fold_email(const char *email, size_t len, char *out, size_t outlen,
                      const char **why) {
  const char *at = NULL;
  size_t local, dlen;
  int rc = email_typed_ok(email, len, &at);
  if (rc != FSEC_OK) return rc;
  local = (size_t)(at - email);
  rc = fold_local(email, local, out, outlen);
  if (rc != FSEC_OK) return rc;
  local = strlen(out);
  if (local + 2 > outlen) return FSEC_ETOOLONG;
  out[local] = '@';
  rc = fold_domain(at + 1, len - (size_t)(at - email) - 1, out + local + 1,
                   outlen - local - 1, why);
  if (rc != FSEC_OK) return rc;
  dlen = strlen(out + local + 1);
  if (dlen > 1 && out[local + dlen] == '.') /* one root dot: same domain */
    out[local + dlen] = '\0';
  return email_folded_ok(out, why);
}

int fsec_identity_email_why(const char *email, size_t len, char *out,
                            size_t outlen, const char **why) {
  int rc;
  if (why) *why = NULL;
  rc = fold_email(email, len, out, outlen, why);
  if (rc != FSEC_OK && outlen) out[0] = '\0';
  return rc;
}

int fsec_identity_email(const char *email, size_t len, char *out,
                        size_t outlen) {
  return fsec_identity_email_why(email, len, out, outlen, NULL);
}

/* The folded domain (A-labels) as U-labels, into out; the A-label form
 * itself when the U-labels would not fit or libidn2 cannot say. */
static void domain_unicode(const char *alabels, char *out, size_t outlen) {
  char *u = NULL;
  if (idn2_to_unicode_8z8z(alabels, &u, 0) == IDN2_OK && strlen(u) < outlen)
    memcpy(out, u, strlen(u) + 1);
  else
    snprintf(out, outlen, "%s", alabels);
  idn2_free(u);
}

int fsec_identity_email_display(const char *email, size_t len, char *out,
                                size_t outlen) {
  char key[1024], dom[FSEC_EMAIL_MAX + 1]; /* key: room for a root dot */
  utf8proc_uint8_t *nfc = NULL;
  utf8proc_ssize_t n = 0;
  size_t local;
  int rc = fsec_identity_email(email, len, key, sizeof key);
  if (rc == FSEC_OK) {
    local = (size_t)((const char *)memchr(email, '@', len) - email);
    n = utf8proc_map((const utf8proc_uint8_t *)email, (utf8proc_ssize_t)local,
                     &nfc, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    if (n < 0) rc = map_error(n);
  }
  if (rc == FSEC_OK) {
    const char *alabels = strchr(key, '@') + 1;
    domain_unicode(alabels, dom, sizeof dom);
    if ((size_t)n + 1 + strlen(dom) > FSEC_EMAIL_MAX)
      snprintf(dom, sizeof dom, "%s", alabels);
    if ((size_t)n + 1 + strlen(dom) >= outlen) rc = FSEC_ETOOLONG;
    else snprintf(out, outlen, "%s@%s", (const char *)nfc, dom);
  }
  free(nfc);
  if (rc != FSEC_OK && outlen) out[0] = '\0';
  return rc;
}

static int username_ok(const char *name, size_t len) {
  int rc = check_text(name, len, FSEC_USERNAME_MAX, 1);
  if (rc != FSEC_OK) return rc;
  return memchr(name, '@', len) || invisible_in(name, len) ? FSEC_EIDENTITY : FSEC_OK;
}

/* Check, fold, and check the folded form as well: NFKC can turn a valid
 * character into something that is not (U+02DB becomes a space and a
 * combining mark), and the folded form is the key that must stay valid
 * (found by fuzz/fuzz_identity.c). */
int fsec_identity_username(const char *name, size_t len, char *out,
                           size_t outlen) {
  int rc = username_ok(name, len);
  if (rc == FSEC_OK) rc = fold_nfkc(name, len, out, outlen);
  if (rc == FSEC_OK && strlen(out) > FSEC_USERNAME_MAX) rc = FSEC_ETOOLONG;
  if (rc == FSEC_OK && username_ok(out, strlen(out)) != FSEC_OK)
    rc = FSEC_EIDENTITY;
  if (rc != FSEC_OK && outlen) out[0] = '\0';
  return rc;
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
