/* fuzz_oracle.h: what every fuzz target shares, the C and the Lua ones:
 * ORACLE, a check that aborts (libFuzzer keeps the input) with the failed
 * condition, and the entry point's prototype. */
#ifndef FSEC_FUZZ_ORACLE_H
#define FSEC_FUZZ_ORACLE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define ORACLE(c)                                                             \
  do {                                                                        \
    if (!(c)) {                                                               \
      fprintf(stderr, "oracle failed: %s (%s:%d)\n", #c, __FILE__, __LINE__); \
      abort();                                                                \
    }                                                                         \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
