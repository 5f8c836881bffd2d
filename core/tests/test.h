/*
 * test.h: minimal assertion macros for the core tests (libuv task.h
 * style): each failure prints both operands and exits non-zero.
 */
#ifndef FSEC_TEST_H
#define FSEC_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL_AT(...)                                \
  do {                                              \
    fprintf(stderr, "%s:%d: ", __FILE__, __LINE__); \
    fprintf(stderr, __VA_ARGS__);                   \
    fputc('\n', stderr);                            \
    exit(1);                                        \
  } while (0)

#define ASSERT(c)                                  \
  do {                                             \
    if (!(c)) FAIL_AT("assertion failed: %s", #c); \
  } while (0)

#define ASSERT_EQ(a, b)                                              \
  do {                                                               \
    long long a_ = (long long)(a), b_ = (long long)(b);              \
    if (a_ != b_) FAIL_AT("%s == %s: %lld != %lld", #a, #b, a_, b_); \
  } while (0)

#define ASSERT_OK(a) ASSERT_EQ((a), 0)

#define ASSERT_STREQ(a, b)                                                 \
  do {                                                                     \
    const char *a_ = (a), *b_ = (b);                                       \
    if (strcmp(a_, b_) != 0) FAIL_AT("%s == %s: \"%s\" != \"%s\"", #a, #b, \
                                     a_, b_);                              \
  } while (0)

#define ASSERT_NULL(a) ASSERT((a) == NULL)

/* Each test is a function; RUN prints its name so a failure is located. */
#define RUN(fn)            \
  do {                     \
    printf("  %s\n", #fn); \
    fn();                  \
  } while (0)

#endif /* FSEC_TEST_H */
