/*
 * fsec/header.h: one request header found in the list a web server hands
 * out, and one cookie found in a Cookie header, without a copy. The layout is lua-nginx-module's
 * ngx_http_lua_ffi_table_elt_t (lengths and pointers, no NUL), so the
 * OpenResty adapter passes ngx.req's header array straight through FFI.
 */
#ifndef FSEC_HEADER_H
#define FSEC_HEADER_H

#include "fsec/common.h"

typedef struct fsec_strview {
  int len;
  const unsigned char *data;
} fsec_strview;

typedef struct fsec_header {
  fsec_strview key;
  fsec_strview value;
} fsec_header;

/* The index of the first of h[0..n) whose key is the len bytes of name,
 * '-' and '_' counting as one byte (as nginx's $http_ variables, CGI's
 * HTTP_ names and WSGI read them: X_User_Id is X-User-Id to an upstream),
 * else compared exactly (give a lower-case name for lower-case keys), or
 * -1 when none is. n <= 0 or a NULL h finds nothing. */
FSEC_API int fsec_header_find(const fsec_header *h, int n, const char *name,
                              size_t len);

/* What fsec_cookie_find found. */
#define FSEC_COOKIE_ABSENT 0
#define FSEC_COOKIE_FOUND 1
#define FSEC_COOKIE_REPEATED 2 /* a repeated name counts as absent */

/* Cookie name in the len bytes of a Cookie header h, by fsec's rules (Lua's
 * fsec.http.parse_cookies): pairs split on ';', each "name=value" with
 * blanks (space, \t \n \v \f \r) around name and value trimmed. On
 * FSEC_COOKIE_FOUND, *voff and *vlen give the value within h. A name that
 * no pair can have (empty, or with a blank, '=' or ';') is ABSENT. */
FSEC_API int fsec_cookie_find(const char *h, size_t len, const char *name,
                              size_t nlen, size_t *voff, size_t *vlen);

/* What fsec_header_cookie answers besides fsec_cookie_find's answers. */
#define FSEC_COOKIE_HEADER_REPEATED 3 /* two headers: the server's joined value decides */

/* Cookie name in the one header of h[0..n) whose key is the klen bytes of
 * key (lua-nginx-module hands keys out in lower case: "cookie"), in one
 * call where a checked request made three: fsec_cookie_find's answer in
 * that header's value, with *idx the header's index (on
 * FSEC_COOKIE_FOUND, *voff and *vlen are within h[*idx].value);
 * FSEC_COOKIE_ABSENT without such a header (or a NULL idx);
 * FSEC_COOKIE_HEADER_REPEATED when the header is there twice (nginx's
 * $http_cookie joins them: the caller asks nginx). */
FSEC_API int fsec_header_cookie(const fsec_header *h, int n, const char *key,
                                size_t klen, const char *name, size_t nlen,
                                int *idx, size_t *voff, size_t *vlen);

#endif /* FSEC_HEADER_H */
