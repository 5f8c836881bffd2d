/* test_breached.c: the breached-password list (fsec/breached.h): text and
 * binary forms give the same answers (present with its count, absent,
 * lower-case hex, CRLF, no count, repeated hashes); a bigger random list
 * is found entry by entry; and unsorted, malformed, truncated or forged
 * files are errors, never a wrong read. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "fsec.h"
#include "test.h"

/* SHA-1("password") and SHA-1("123456") */
#define PW_HASH "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8"
#define N123456 "7C4A8D09CA3762AF61E59520943DC26494F8941B"

static char dir[] = "/tmp/fsec-breached-XXXXXX";
static char why[256];

static void put(const char *name, const void *data, size_t len) {
  char path[128];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  ASSERT(f && fwrite(data, 1, len, f) == len && fclose(f) == 0);
}

static char *path_of(const char *name) {
  static char path[128];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return path;
}

static uint64_t count_of(const fsec_breached *b, const char *pw) {
  uint64_t c;
  ASSERT_OK(fsec_breached_password(b, pw, strlen(pw), &c));
  return c;
}

static void check_small(const fsec_breached *b) {
  ASSERT_EQ(count_of(b, "password"), 9659365);
  ASSERT_EQ(count_of(b, "123456"), FSEC_BREACHED_UNCOUNTED); /* listed, no count */
  ASSERT_EQ(count_of(b, "not in the list at all"), 0);
  unsigned char lo[20] = {0}, hi[20];
  memset(hi, 0xff, 20);
  uint64_t c;
  ASSERT_OK(fsec_breached_lookup(b, lo, &c));
  ASSERT_EQ(c, 3);
  ASSERT_OK(fsec_breached_lookup(b, hi, &c));
  ASSERT_EQ(c, 0);
}

static const char SMALL[] =
    "0000000000000000000000000000000000000000:3\r\n"
    "0000000000000000000000000000000000000001:1\r\n"
    "5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8:9659365\r\n" /* lower case */
    N123456 "\n"
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFE:2"; /* no final newline */

static void test_small(void) {
  fsec_breached *b;
  uint64_t n;
  put("small.txt", SMALL, sizeof SMALL - 1);
  ASSERT_OK(fsec_breached_open(path_of("small.txt"), &b, why, sizeof why));
  ASSERT(!fsec_breached_is_binary(b));
  check_small(b);
  fsec_breached_close(b);
  char out[128];
  snprintf(out, sizeof out, "%s/small.bin", dir);
  ASSERT_OK(fsec_breached_build(path_of("small.txt"), out, &n, why, sizeof why));
  ASSERT_EQ(n, 5);
  ASSERT_OK(fsec_breached_open(out, &b, why, sizeof why));
  ASSERT(fsec_breached_is_binary(b));
  ASSERT_EQ(fsec_breached_size(b), 5);
  check_small(b);
  fsec_breached_close(b);
}

static void expect_text_error(const char *text, const char *what) {
  fsec_breached *b = (fsec_breached *)1;
  why[0] = '\0';
  ASSERT_EQ(fsec_breached_open_mem(text, strlen(text), &b, why, sizeof why), FSEC_EINVAL);
  ASSERT_NULL(b);
  if (!strstr(why, what)) FAIL_AT("\"%s\" does not say \"%s\"", why, what);
}

static void test_bad_text(void) {
  expect_text_error(PW_HASH "\n" N123456 "\n"
                            "0000000000000000000000000000000000000000\n",
                    "line 3: not sorted");
  expect_text_error(PW_HASH ":\n", "line 1: not HEX40");
  expect_text_error(PW_HASH ":12x\n", "line 1: not HEX40");
  expect_text_error("5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD\n", "line 1: not HEX40");
  expect_text_error(PW_HASH "\n\n", "line 2: not HEX40");
  expect_text_error("G" PW_HASH "\n", "line 1");
  expect_text_error("", "empty");
  /* unsorted input to build: an error naming the line, and no output */
  uint64_t n;
  const char *unsorted = N123456 "\n" PW_HASH "\n";
  put("unsorted.txt", unsorted, strlen(unsorted));
  ASSERT_EQ(fsec_breached_build(path_of("unsorted.txt"), "/tmp/fsec-never-written", &n, why,
                                sizeof why),
            FSEC_EINVAL);
  ASSERT(access("/tmp/fsec-never-written", F_OK) != 0);
}

/* A random sorted list through the writer: every entry is found with its
 * count, and hashes beside them are not. */
static int cmp20(const void *a, const void *b) { return memcmp(a, b, 20); }

static void test_random(void) {
  enum {
    N = 20000
  };
  static unsigned char h[N][20];
  fsec_breached_writer *w;
  fsec_breached *b;
  randombytes_buf(h, sizeof h);
  qsort(h, N, 20, cmp20);
  ASSERT_OK(fsec_breached_writer_open(path_of("random.bin"), N, &w, why, sizeof why));
  for (uint32_t i = 0; i < N; i++) ASSERT_OK(fsec_breached_writer_add(w, h[i], i + 1));
  ASSERT_EQ(fsec_breached_writer_add(w, h[0], 1), FSEC_EINVAL); /* out of order */
  ASSERT_OK(fsec_breached_writer_finish(w));
  ASSERT_OK(fsec_breached_open(path_of("random.bin"), &b, why, sizeof why));
  ASSERT_EQ(fsec_breached_size(b), N);
  for (uint32_t i = 0; i < N; i++) {
    uint64_t c;
    ASSERT_OK(fsec_breached_lookup(b, h[i], &c));
    ASSERT_EQ(c, i + 1);
    h[i][19] ^= 1; /* a neighbour: absent (a collision is 2^-150) */
    ASSERT_OK(fsec_breached_lookup(b, h[i], &c));
    ASSERT_EQ(c, 0);
  }
  fsec_breached_close(b);
}

/* The binary file of test_small, damaged: each damage is an error. */
static void test_bad_binary(void) {
  FILE *f = fopen(path_of("small.bin"), "rb");
  static unsigned char buf[4096], bad[4096];
  size_t len = fread(buf, 1, sizeof buf, f);
  fclose(f);
  ASSERT(len > FSEC_BREACHED_HEADER && len < sizeof buf);
  fsec_breached *b;
  for (size_t cut = 8; cut < len; cut++) /* every truncation, header included */
    ASSERT_EQ(fsec_breached_open_mem(buf, cut, &b, why, sizeof why), FSEC_EINVAL);
  memcpy(bad, buf, len);
  bad[8] = 2; /* version */
  ASSERT_EQ(fsec_breached_open_mem(bad, len, &b, why, sizeof why), FSEC_EINVAL);
  memcpy(bad, buf, len);
  bad[12] = 25; /* bits */
  ASSERT_EQ(fsec_breached_open_mem(bad, len, &b, why, sizeof why), FSEC_EINVAL);
  memcpy(bad, buf, len);
  bad[16] = 200; /* count: the size no longer matches */
  ASSERT_EQ(fsec_breached_open_mem(bad, len, &b, why, sizeof why), FSEC_EINVAL);
  ASSERT(strstr(why, "truncated or corrupt"));
  memcpy(bad, buf, len);
  bad[23] = 0x80; /* a count of 2^63 */
  ASSERT_EQ(fsec_breached_open_mem(bad, len, &b, why, sizeof why), FSEC_EINVAL);
  memcpy(bad, buf, len);
  bad[len - 8] = 9; /* last index slot past count */
  ASSERT_EQ(fsec_breached_open_mem(bad, len, &b, why, sizeof why), FSEC_EINVAL);
  ASSERT(strstr(why, "index slot"));
  ASSERT_EQ(fsec_breached_open(path_of("nonexistent"), &b, why, sizeof why), FSEC_EDB);
  ASSERT_EQ(fsec_breached_open(dir, &b, why, sizeof why), FSEC_EDB); /* a directory */
}

int main(void) {
  ASSERT(mkdtemp(dir));
  test_small();
  test_bad_text();
  test_random();
  test_bad_binary();
  char cmd[200];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  ASSERT_OK(system(cmd));
  return 0;
}
