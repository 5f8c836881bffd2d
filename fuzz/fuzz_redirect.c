/* fuzz_redirect.c: any bytes as the `next` of a login, through
 * fsec.redirect's safe(req, next) (Lua, from the source tree), for a few
 * request hosts (with and without a port, in other case, and none).
 *
 * Oracles: it never raises; it returns nil or `next` itself; and what it
 * accepts is read here the way a browser resolves a Location (WHATWG URL
 * rules, reduced to what matters for the host) and must stay on our host:
 *   - at most 2048 bytes, no C0 control, space, DEL, backslash or
 *     non-ASCII byte anywhere (browsers strip tabs and newlines and read
 *     '\' as '/', which turns "/\t/evil" or "/\evil" into a host);
 *   - a path "/x", never "//" (a scheme-relative URL names a host);
 *   - or "http(s)://" + authority: no user info ('@'), and its host, with
 *     the port cut, percent-decoded and lower-cased, is the request's
 *     host. Anything else ("https:evil", "javascript:", a relative
 *     "evil.com/x") is refused. */
#include <ctype.h>

#include "fuzz_lua.h"

#define MAX_NEXT 4096

/* Host of the request (NULL: none) and the same host as a browser
 * compares it (lower case, no port). */
static const char *const HOSTS[][2] = {
    {"example.org", "example.org"},
    {"EXAMPLE.org:8443", "example.org"},
    {"127.0.0.1:8080", "127.0.0.1"},
    {NULL, NULL},
};

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = tolower(c);
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The host a browser takes from the authority a[0..n): no '@' allowed (we
 * refuse user info outright), the ":port" cut, %XX decoded, lower-cased.
 * Returns 0 and the host in out, or -1 when it is not a plain host. */
static int browser_host(const char *a, size_t n, char *out, size_t cap) {
  size_t i, o = 0, end = n;
  if (memchr(a, '@', n)) return -1;
  /* a port is all digits (maybe none) after the last ':' */
  while (end > 0 && isdigit((unsigned char)a[end - 1])) end--;
  if (end > 0 && a[end - 1] == ':') n = end - 1;
  for (i = 0; i < n; i++) {
    int c = (unsigned char)a[i];
    if (c == '%' && i + 2 < n && hexval(a[i + 1]) >= 0 && hexval(a[i + 2]) >= 0) {
      c = hexval(a[i + 1]) * 16 + hexval(a[i + 2]);
      i += 2;
    }
    if (o + 1 >= cap) return -1;
    out[o++] = (char)tolower(c);
  }
  out[o] = '\0';
  return 0;
}

/* Is the accepted s (length n) on our host (ours: NULL when the request
 * has none)? */
static int stays_home(const char *s, size_t n, const char *ours) {
  size_t i, start;
  char host[MAX_NEXT + 1];
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c <= 0x20 || c >= 0x7f || c == '\\') return 0;
  }
  if (n >= 1 && s[0] == '/') return !(n >= 2 && s[1] == '/');
  if (n > 7 && memcmp(s, "http://", 7) == 0) start = 7;
  else if (n > 8 && memcmp(s, "https://", 8) == 0) start = 8;
  else return 0;
  for (i = start; i < n && !strchr("/?#", s[i]); i++) {}
  if (!ours || browser_host(s + start, i - start, host, sizeof host) != 0)
    return 0;
  return strcmp(host, ours) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lua_State *L = fuzz_lua("fsec.redirect");
  const char *got;
  size_t h, len;
  if (size > MAX_NEXT) return 0;
  for (h = 0; h < sizeof HOSTS / sizeof HOSTS[0]; h++) {
    fuzz_lua_fn(L, "safe");
    lua_createtable(L, 0, 1);
    if (HOSTS[h][0]) {
      lua_pushstring(L, HOSTS[h][0]);
      lua_setfield(L, -2, "host");
    }
    lua_pushlstring(L, (const char *)data, size);
    fuzz_lua_call(L, 2);
    if (lua_type(L, -1) != LUA_TNIL) {
      ORACLE(lua_type(L, -1) == LUA_TSTRING);
      got = lua_tolstring(L, -1, &len);
      ORACLE(len == size && memcmp(got, data, size) == 0);
      ORACLE(size <= 2048);
      if (!stays_home(got, len, HOSTS[h][1])) {
        fprintf(stderr, "accepted with host %s: %.*s\n",
                HOSTS[h][0] ? HOSTS[h][0] : "(none)", (int)len, got);
        ORACLE(!"accepted a redirect that leaves the site");
      }
    }
    lua_pop(L, 1);
  }
  return 0;
}
