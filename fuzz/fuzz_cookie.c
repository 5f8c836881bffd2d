/* fuzz_cookie.c: any bytes as a Cookie header, through fsec.http's
 * parse_cookies (Lua, from the source tree), its one-name reader
 * http.cookie, and the C one the OpenResty adapter calls through FFI
 * (fsec_cookie_find, and fsec_header_cookie over a header list).
 *
 * Oracles: it never raises; the result holds only string names mapping to
 * a string or to a list (2 or more) of strings; a name is never empty and
 * never holds whitespace, ';' or '='; and the result is exactly what the
 * documented rules give, computed here independently of the Lua code:
 *   pairs are separated by ';'; in a pair the name is before the first
 *   '=' and the value after it, both with whitespace (space, \t \n \v \f
 *   \r: Lua's %s) trimmed; a pair without '=', with an empty name or with
 *   whitespace inside the name is skipped; a name seen again turns its
 *   value into the list of its values, in order. */
#include "fuzz_lua.h"
#include "fsec.h"

#define MAX_HEADER 8192

typedef struct span {
  size_t at, len;
} span;

typedef struct pair {
  span k, v;
} pair;

static int blank(unsigned char c) { return c == ' ' || (c >= 9 && c <= 13); }

static span trim(const uint8_t *s, size_t at, size_t end) {
  span r;
  while (at < end && blank(s[at])) at++;
  while (end > at && blank(s[end - 1])) end--;
  r.at = at;
  r.len = end - at;
  return r;
}

/* The documented parse, into pairs (in header order). Returns the count. */
static size_t reference(const uint8_t *s, size_t n, pair *out) {
  size_t pos = 0, count = 0, stop, eq, i;
  int ok;
  while (pos < n) {
    for (stop = pos; stop < n && s[stop] != ';'; stop++) {}
    for (eq = pos; eq < stop && s[eq] != '='; eq++) {}
    if (eq < stop) {
      pair p;
      p.k = trim(s, pos, eq);
      p.v = trim(s, eq + 1, stop);
      ok = p.k.len > 0;
      for (i = 0; ok && i < p.k.len; i++) ok = !blank(s[p.k.at + i]);
      if (ok) out[count++] = p;
    }
    pos = stop + 1;
  }
  return count;
}

static int span_is(const uint8_t *s, span sp, const char *str, size_t len) {
  return sp.len == len && memcmp(s + sp.at, str, len) == 0;
}

/* Shape of the table at the top of the stack: names and values as the
 * module promises. Returns the number of names. */
static size_t check_shape(lua_State *L) {
  size_t names = 0, len, i, n;
  const char *k;
  ORACLE(lua_type(L, -1) == LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    ORACLE(lua_type(L, -2) == LUA_TSTRING);
    k = lua_tolstring(L, -2, &len);
    ORACLE(len > 0);
    for (i = 0; i < len; i++)
      ORACLE(!blank((unsigned char)k[i]) && k[i] != ';' && k[i] != '=');
    if (lua_type(L, -1) == LUA_TTABLE) {
      n = (size_t)lua_rawlen(L, -1);
      ORACLE(n >= 2);
      for (i = 1; i <= n; i++) {
        ORACLE(lua_rawgeti(L, -1, (lua_Integer)i) == LUA_TSTRING);
        lua_pop(L, 1);
      }
      /* a list and nothing else: the count of keys is n */
      lua_pushnil(L);
      for (i = 0; lua_next(L, -2); i++) lua_pop(L, 1);
      ORACLE(i == n);
    } else {
      ORACLE(lua_type(L, -1) == LUA_TSTRING);
    }
    names++;
    lua_pop(L, 1);
  }
  return names;
}

/* http.cookie(header, name) for one name: the value when the reference
 * has the name once, false when more, nil when never; fsec_cookie_find
 * the same. */
static void check_one(lua_State *L, const uint8_t *s, size_t n, const pair *p,
                      size_t np, const char *name, size_t nlen) {
  size_t j, count = 0, len, at = 0;
  const char *v;
  for (j = 0; j < np; j++)
    if (span_is(s, p[j].k, name, nlen)) {
      if (!count) at = j;
      count++;
    }
  fuzz_lua_fn(L, "cookie");
  lua_pushlstring(L, (const char *)s, n);
  lua_pushlstring(L, name, nlen);
  fuzz_lua_call(L, 2);
  if (count == 0) {
    ORACLE(lua_isnil(L, -1));
  } else if (count > 1) {
    ORACLE(lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1));
  } else {
    ORACLE(lua_type(L, -1) == LUA_TSTRING);
    v = lua_tolstring(L, -1, &len);
    ORACLE(span_is(s, p[at].v, v, len));
  }
  lua_pop(L, 1);
  {
    size_t off = 0, vlen = 0;
    int rc = fsec_cookie_find((const char *)s, n, name, nlen, &off, &vlen);
    ORACLE(rc == (count == 0  ? FSEC_COOKIE_ABSENT
                  : count > 1 ? FSEC_COOKIE_REPEATED
                              : FSEC_COOKIE_FOUND));
    if (rc == FSEC_COOKIE_FOUND) ORACLE(off == p[at].v.at && vlen == p[at].v.len);
    /* the same header in a list (the OpenResty adapter's one call): the
     * same answer; sent twice, the caller's to join */
    if (n <= INT32_MAX) {
      fsec_header h[3] = {{{4, (const unsigned char *)"host"}, {1, (const unsigned char *)"x"}},
                          {{6, (const unsigned char *)"cookie"}, {(int)n, s}},
                          {{6, (const unsigned char *)"cookie"}, {(int)n, s}}};
      int idx = -1;
      size_t off2 = 0, vlen2 = 0;
      ORACLE(fsec_header_cookie(h, 2, "cookie", 6, name, nlen, &idx, &off2, &vlen2) == rc);
      if (rc == FSEC_COOKIE_FOUND) ORACLE(idx == 1 && off2 == off && vlen2 == vlen);
      ORACLE(fsec_header_cookie(h, 3, "cookie", 6, name, nlen, &idx, &off2, &vlen2) ==
             FSEC_COOKIE_HEADER_REPEATED);
    }
  }
}

/* Every name of the reference maps to its values, in order. */
static size_t check_values(lua_State *L, const uint8_t *s, const pair *p,
                           size_t np) {
  size_t i, j, seen, distinct = 0, len;
  const char *v;
  for (i = 0; i < np; i++) {
    size_t count = 0;
    for (j = 0; j < i && !span_is(s, p[j].k, (const char *)s + p[i].k.at, p[i].k.len); j++) {}
    if (j < i) continue; /* checked with its first occurrence */
    distinct++;
    for (j = i; j < np; j++)
      count += span_is(s, p[j].k, (const char *)s + p[i].k.at, p[i].k.len);
    lua_pushlstring(L, (const char *)s + p[i].k.at, p[i].k.len);
    lua_rawget(L, -2);
    if (count == 1) {
      ORACLE(lua_type(L, -1) == LUA_TSTRING);
      v = lua_tolstring(L, -1, &len);
      ORACLE(span_is(s, p[i].v, v, len));
    } else {
      ORACLE(lua_type(L, -1) == LUA_TTABLE && lua_rawlen(L, -1) == count);
      for (j = i, seen = 0; j < np; j++) {
        if (!span_is(s, p[j].k, (const char *)s + p[i].k.at, p[i].k.len)) continue;
        lua_rawgeti(L, -1, (lua_Integer)++seen);
        v = lua_tolstring(L, -1, &len);
        ORACLE(v && span_is(s, p[j].v, v, len));
        lua_pop(L, 1);
      }
    }
    lua_pop(L, 1);
  }
  return distinct;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static pair pairs[MAX_HEADER / 2 + 1];
  lua_State *L = fuzz_lua("fsec.http");
  size_t np, names;
  if (size > MAX_HEADER) return 0;
  fuzz_lua_fn(L, "parse_cookies");
  lua_pushlstring(L, (const char *)data, size);
  fuzz_lua_call(L, 1);
  names = check_shape(L);
  np = reference(data, size, pairs);
  ORACLE(check_values(L, data, pairs, np) == names);
  lua_pop(L, 1);
  /* the one-name reader (OpenResty's path): every name, and names that
   * may or may not be there */
  {
    static const char *probe[] = {"session", "remember_token", "a", "__Host-session"};
    size_t i, k;
    for (i = 0; i < np; i++)
      check_one(L, data, size, pairs, np, (const char *)data + pairs[i].k.at,
                pairs[i].k.len);
    for (k = 0; k < sizeof probe / sizeof *probe; k++)
      check_one(L, data, size, pairs, np, probe[k], strlen(probe[k]));
  }
  return 0;
}
