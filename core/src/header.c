/*
 * header.c: see fsec/header.h. A loop over a request's headers belongs
 * here, not in Lua: LuaJIT cannot keep a loop whose trip count changes
 * with each request inside the trace of the request path that calls it.
 */
#include <string.h>

#include "fsec/header.h"

int fsec_header_find(const fsec_header *h, int n, const char *name, size_t len) {
  if (h == NULL || name == NULL || len > (size_t)INT32_MAX) return -1;
  for (int i = 0; i < n; i++) {
    const fsec_strview *k = &h[i].key;
    if (k->len == (int)len && k->data != NULL && memcmp(k->data, name, len) == 0) return i;
  }
  return -1;
}


static int blank(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

static int cookie_name_ok(const char *name, size_t nlen) {
  if (nlen == 0) return 0;
  for (size_t i = 0; i < nlen; i++) {
    unsigned char c = (unsigned char)name[i];
    if (blank(c) || c == '=' || c == ';') return 0;
  }
  return 1;
}

int fsec_cookie_find(const char *h, size_t len, const char *name, size_t nlen,
                     size_t *voff, size_t *vlen) {
  int found = FSEC_COOKIE_ABSENT;
  if (h == NULL || name == NULL || voff == NULL || vlen == NULL) return found;
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
