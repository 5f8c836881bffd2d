/*
 * header.c: see fsec/header.h. A loop over a request's headers belongs
 * here, not in Lua: LuaJIT cannot keep a loop whose trip count changes
 * with each request inside the trace of the request path that calls it.
 */
#include <string.h>

#include "fsec/header.h"

/* '-' and '_' as one: a server that keeps underscores in header names
 * (nginx's underscores_in_headers) hands X_User_Id to an upstream that
 * reads it as X-User-Id, so fsec must find (and strip) both. */
static int key_is(const fsec_header *e, const char *name, size_t len) {
  const fsec_strview *k = &e->key;
  if (k->len != (int)len || k->data == NULL) return 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char a = k->data[i], b = (unsigned char)name[i];
    if (a != b && !((a == '-' || a == '_') && (b == '-' || b == '_'))) return 0;
  }
  return 1;
}

int fsec_header_find(const fsec_header *h, int n, const char *name, size_t len) {
  if (h == NULL || name == NULL || len > (size_t)INT32_MAX) return -1;
  for (int i = 0; i < n; i++) {
    if (key_is(&h[i], name, len)) return i;
  }
  return -1;
}


static int blank(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* The bytes no cookie name holds: blanks, '=' and ';'. A table, since
 * every checked request asks about each byte of the session cookie's
 * name (three tests a byte cost about 50 instructions a request). */
static const unsigned char NOT_IN_NAME[256] = {
    ['\t'] = 1, ['\n'] = 1, ['\v'] = 1, ['\f'] = 1, ['\r'] = 1, [' '] = 1, ['='] = 1, [';'] = 1};

static int cookie_name_ok(const char *name, size_t nlen) {
  if (nlen == 0) return 0;
  for (size_t i = 0; i < nlen; i++) {
    if (NOT_IN_NAME[(unsigned char)name[i]]) return 0;
  }
  return 1;
}

/* fsec_cookie_find without the NULL checks (static: fsec_header_cookie
 * calls it directly, not through the library's exported symbol). */
static int cookie_in(const char *h, size_t len, const char *name, size_t nlen,
                     size_t *voff, size_t *vlen) {
  int found = FSEC_COOKIE_ABSENT;
  if (!cookie_name_ok(name, nlen)) return found;
  for (size_t pos = 0; pos < len;) {
    const char *semi = memchr(h + pos, ';', len - pos);
    size_t stop = semi ? (size_t)(semi - h) : len;
    const char *eq = memchr(h + pos, '=', stop - pos);
    if (eq != NULL) {
      size_t ks = pos, ke = (size_t)(eq - h); /* [ks, ke) */
      while (ks < ke && blank((unsigned char)h[ks])) ks++;
      while (ke > ks && blank((unsigned char)h[ke - 1])) ke--;
      /* a valid name has no blank or '=': equal keys pass parse_cookies' check */
      if (ke - ks == nlen && memcmp(h + ks, name, nlen) == 0) {
        if (found) return FSEC_COOKIE_REPEATED;
        size_t vs = (size_t)(eq - h) + 1, ve = stop;
        while (vs < ve && blank((unsigned char)h[vs])) vs++;
        while (ve > vs && blank((unsigned char)h[ve - 1])) ve--;
        *voff = vs;
        *vlen = ve - vs;
        found = FSEC_COOKIE_FOUND;
      }
    }
    pos = stop + 1;
  }
  return found;
}

int fsec_cookie_find(const char *h, size_t len, const char *name, size_t nlen,
                     size_t *voff, size_t *vlen) {
  if (h == NULL || name == NULL || voff == NULL || vlen == NULL) return FSEC_COOKIE_ABSENT;
  return cookie_in(h, len, name, nlen, voff, vlen);
}


int fsec_header_cookie(const fsec_header *h, int n, const char *key, size_t klen,
                       const char *name, size_t nlen, int *idx, size_t *voff,
                       size_t *vlen) {
  if (h == NULL || key == NULL || name == NULL || idx == NULL || voff == NULL || vlen == NULL ||
      klen > (size_t)INT32_MAX)
    return FSEC_COOKIE_ABSENT;
  int at = -1;
  for (int i = 0; i < n; i++) {
    if (!key_is(&h[i], key, klen)) continue;
    if (at >= 0) return FSEC_COOKIE_HEADER_REPEATED;
    at = i;
  }
  if (at < 0) return FSEC_COOKIE_ABSENT;
  const fsec_strview *v = &h[at].value;
  if (v->data == NULL || v->len < 0) return FSEC_COOKIE_ABSENT;
  *idx = at;
  return cookie_in((const char *)v->data, (size_t)v->len, name, nlen, voff, vlen);
}
