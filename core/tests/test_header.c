/* test_header.c: fsec_header_find finds the first exact key, and nothing
 * in an empty, NULL or shorter/longer-keyed list; fsec_cookie_find reads
 * a Cookie header as fsec.http.parse_cookies does (spec/05 compares the
 * two on random headers), and fsec_header_cookie does in a header list. */
#include <string.h>

#include "fsec.h"
#include "test.h"

#define SV(s) \
  { (int)(sizeof(s) - 1), (const unsigned char *)(s) }

static const fsec_header H[] = {
    {SV("host"), SV("example.org")},
    {SV("authentication-token"), SV("first")},
    {SV("authentication-tokens"), SV("longer")},
    {SV("authentication-token"), SV("second")},
    {SV("accept"), SV("*/*")},
};

static void finds_the_first_exact_key(void) {
  ASSERT_EQ(fsec_header_find(H, 5, "authentication-token", 20), 1);
  ASSERT_EQ(fsec_header_find(H, 5, "authentication-tokens", 21), 2);
  ASSERT_EQ(fsec_header_find(H, 5, "host", 4), 0);
  ASSERT_EQ(fsec_header_find(H, 5, "accept", 6), 4);
}

static void finds_nothing_else(void) {
  ASSERT_EQ(fsec_header_find(H, 5, "authentication-toke", 19), -1); /* a prefix */
  ASSERT_EQ(fsec_header_find(H, 5, "Host", 4), -1);                 /* exact bytes */
  ASSERT_EQ(fsec_header_find(H, 5, "host\0", 5), -1);               /* a NUL is a byte */
  ASSERT_EQ(fsec_header_find(H, 4, "accept", 6), -1);               /* only n entries */
  ASSERT_EQ(fsec_header_find(H, 0, "host", 4), -1);
  ASSERT_EQ(fsec_header_find(H, -1, "host", 4), -1);
  ASSERT_EQ(fsec_header_find(NULL, 5, "host", 4), -1);
  ASSERT_EQ(fsec_header_find(H, 5, NULL, 4), -1);
}

/* '-' and '_' are one byte to nginx's variables and to CGI/WSGI
 * upstreams: a client's X_User_Id must be found as x-user-id (and a
 * mixed spelling too), and nothing else may match for it. */
static void dash_and_underscore_are_one(void) {
  const fsec_header h[] = {{SV("accept"), SV("*/*")},
                           {SV("x_user_id"), SV("1")},
                           {SV("x-user_id"), SV("2")},
                           {SV("x.user.id"), SV("3")}};
  ASSERT_EQ(fsec_header_find(h, 4, "x-user-id", 9), 1);
  ASSERT_EQ(fsec_header_find(h + 2, 2, "x-user-id", 9), 0);
  ASSERT_EQ(fsec_header_find(h + 3, 1, "x-user-id", 9), -1); /* '.' is not '-' */
  ASSERT_EQ(fsec_header_find(H, 5, "authentication_token", 20), 1);
  ASSERT_EQ(fsec_header_find(H, 5, "authentication-token_", 21), -1);
}

static void a_key_without_data_is_skipped(void) {
  const fsec_header h[] = {{{4, NULL}, SV("x")}, {SV("host"), SV("y")}};
  ASSERT_EQ(fsec_header_find(h, 2, "host", 4), 1);
}

/* The value fsec_cookie_find gives for name in h, as a string; "<absent>"
 * or "<repeated>" otherwise. */
static const char *cookie(const char *h, const char *name) {
  static char out[256];
  size_t off = 99, len = 99;
  int rc = fsec_cookie_find(h, strlen(h), name, strlen(name), &off, &len);
  if (rc == FSEC_COOKIE_ABSENT) return "<absent>";
  if (rc == FSEC_COOKIE_REPEATED) return "<repeated>";
  ASSERT(rc == FSEC_COOKIE_FOUND && off + len <= strlen(h) && len < sizeof out);
  memcpy(out, h + off, len);
  out[len] = 0;
  return out;
}

#define ASSERT_COOKIE(h, name, want) ASSERT(strcmp(cookie(h, name), want) == 0)

static void cookies_as_parse_cookies_reads_them(void) {
  ASSERT_COOKIE("session=abc", "session", "abc");
  ASSERT_COOKIE("a=1; session=abc; b=2", "session", "abc");
  ASSERT_COOKIE("  session \t=  a b  ; x=1", "session", "a b"); /* blanks trimmed */
  ASSERT_COOKIE("session=a=b==", "session", "a=b==");           /* '=' in a value */
  ASSERT_COOKIE("session=", "session", "");
  ASSERT_COOKIE("session=;", "session", "");
  ASSERT_COOKIE("xsession=1; sessionx=2", "session", "<absent>");
  ASSERT_COOKIE("a=session; b=1", "session", "<absent>"); /* a value, not a name */
  ASSERT_COOKIE("session; a=1", "session", "<absent>");   /* no '=' in the pair */
  ASSERT_COOKIE("se ssion=1", "se ssion", "<absent>");    /* no pair has that name */
  ASSERT_COOKIE("=1", "", "<absent>");
  ASSERT_COOKIE("a=1;b=2", "a;b", "<absent>");
  ASSERT_COOKIE("", "session", "<absent>");
  ASSERT_COOKIE(";;;", "session", "<absent>");
  ASSERT_COOKIE("session=a; session=b", "session", "<repeated>");
  ASSERT_COOKIE("session=a;session = b;", "session", "<repeated>");
  ASSERT_COOKIE("session=a; x=1; session=a", "session", "<repeated>");
}

static void cookie_bytes_are_bytes(void) {
  const char h[] = "a=1; s\0x=2; s=3";
  size_t off, len;
  ASSERT_EQ(fsec_cookie_find(h, sizeof h - 1, "s\0x", 3, &off, &len), FSEC_COOKIE_FOUND);
  ASSERT_EQ(off, 9);
  ASSERT_EQ(len, 1);
  ASSERT_EQ(fsec_cookie_find(h, sizeof h - 1, "s", 1, &off, &len), FSEC_COOKIE_FOUND);
  ASSERT_EQ(off, 14);
  ASSERT_EQ(fsec_cookie_find(h, 3, "a", 1, &off, &len), FSEC_COOKIE_FOUND); /* only len bytes */
  ASSERT_EQ(len, 1);
  ASSERT_EQ(fsec_cookie_find(h, 2, "a", 1, &off, &len), FSEC_COOKIE_FOUND);
  ASSERT_EQ(len, 0);
  ASSERT_EQ(fsec_cookie_find(NULL, 3, "a", 1, &off, &len), FSEC_COOKIE_ABSENT);
  ASSERT_EQ(fsec_cookie_find(h, 3, NULL, 1, &off, &len), FSEC_COOKIE_ABSENT);
  ASSERT_EQ(fsec_cookie_find(h, 3, "a", 1, NULL, &len), FSEC_COOKIE_ABSENT);
}

/* fsec_header_cookie: the Cookie header of a list found and read in one
 * call; a second Cookie header is the caller's to join. */
static void cookie_in_a_header_list(void) {
  const fsec_header one[] = {{SV("host"), SV("example.org")},
                             {SV("cookie"), SV("a=1; session=abc; b=2")},
                             {SV("cookies"), SV("session=no")}};
  const fsec_header two[] = {{SV("cookie"), SV("session=a")},
                             {SV("host"), SV("example.org")},
                             {SV("cookie"), SV("x=1")}};
  const fsec_header rep[] = {{SV("cookie"), SV("session=a; session=b")}};
  const fsec_header nul[] = {{SV("cookie"), {5, NULL}}};
  int idx = -1;
  size_t off = 99, len = 99;
  ASSERT_EQ(fsec_header_cookie(one, 3, "cookie", 6, "session", 7, &idx, &off, &len), FSEC_COOKIE_FOUND);
  ASSERT_EQ(idx, 1);
  ASSERT(len == 3 && memcmp(one[1].value.data + off, "abc", 3) == 0);
  ASSERT_EQ(fsec_header_cookie(one, 3, "cookie", 6, "b", 1, &idx, &off, &len), FSEC_COOKIE_FOUND);
  ASSERT(len == 1 && one[1].value.data[off] == '2');
  ASSERT_EQ(fsec_header_cookie(one, 3, "cookie", 6, "none", 4, &idx, &off, &len), FSEC_COOKIE_ABSENT);
  ASSERT_EQ(fsec_header_cookie(one, 1, "cookie", 6, "session", 7, &idx, &off, &len), FSEC_COOKIE_ABSENT);
  ASSERT_EQ(fsec_header_cookie(two, 3, "cookie", 6, "session", 7, &idx, &off, &len),
            FSEC_COOKIE_HEADER_REPEATED);
  ASSERT_EQ(fsec_header_cookie(two, 2, "cookie", 6, "session", 7, &idx, &off, &len), FSEC_COOKIE_FOUND);
  ASSERT_EQ(fsec_header_cookie(rep, 1, "cookie", 6, "session", 7, &idx, &off, &len), FSEC_COOKIE_REPEATED);
  ASSERT_EQ(fsec_header_cookie(nul, 1, "cookie", 6, "session", 7, &idx, &off, &len), FSEC_COOKIE_ABSENT);
  ASSERT_EQ(fsec_header_cookie(one, 3, "cookie", 6, "se ssion", 8, &idx, &off, &len), FSEC_COOKIE_ABSENT);
  ASSERT_EQ(fsec_header_cookie(one, 0, "cookie", 6, "session", 7, &idx, &off, &len), FSEC_COOKIE_ABSENT);
  ASSERT_EQ(fsec_header_cookie(one, -1, "cookie", 6, "session", 7, &idx, &off, &len), FSEC_COOKIE_ABSENT);
  ASSERT_EQ(fsec_header_cookie(NULL, 3, "cookie", 6, "session", 7, &idx, &off, &len), FSEC_COOKIE_ABSENT);
  ASSERT_EQ(fsec_header_cookie(one, 3, NULL, 6, "session", 7, &idx, &off, &len), FSEC_COOKIE_ABSENT);
  ASSERT_EQ(fsec_header_cookie(one, 3, "cookie", 6, NULL, 7, &idx, &off, &len), FSEC_COOKIE_ABSENT);
  ASSERT_EQ(fsec_header_cookie(one, 3, "cookie", 6, "session", 7, NULL, &off, &len), FSEC_COOKIE_ABSENT);
  ASSERT_EQ(fsec_header_cookie(one, 3, "cookie", 6, "session", 7, &idx, NULL, &len), FSEC_COOKIE_ABSENT);
  ASSERT_EQ(fsec_header_cookie(one, 3, "cookie", 6, "session", 7, &idx, &off, NULL), FSEC_COOKIE_ABSENT);
}

int main(void) {
  RUN(dash_and_underscore_are_one);
  RUN(finds_the_first_exact_key);
  RUN(finds_nothing_else);
  RUN(a_key_without_data_is_skipped);
  RUN(cookies_as_parse_cookies_reads_them);
  RUN(cookie_bytes_are_bytes);
  RUN(cookie_in_a_header_list);
  return 0;
}
