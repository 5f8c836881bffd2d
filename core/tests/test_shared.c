/* test_shared.c: a shared counter starts at 0, counts, wraps, and is the
 * same memory in children forked after it was made (bumps from two
 * children at once are all counted). */
#include <sys/wait.h>
#include <unistd.h>

#include "fsec.h"
#include "test.h"

static void counts_and_wraps(void) {
  uint32_t *c = fsec_shared_counter_new();
  ASSERT(c != NULL);
  ASSERT_EQ(fsec_shared_counter_get(c), 0);
  ASSERT_EQ(fsec_shared_counter_bump(c), 1);
  ASSERT_EQ(fsec_shared_counter_get(c), 1);
  *c = UINT32_MAX;
  ASSERT_EQ(fsec_shared_counter_bump(c), 0);
}

static void children_share_it(void) {
  enum {
    CHILDREN = 2,
    BUMPS = 100000
  };
  uint32_t *c = fsec_shared_counter_new();
  pid_t pids[CHILDREN];
  ASSERT(c != NULL);
  for (int i = 0; i < CHILDREN; i++) {
    pids[i] = fork();
    ASSERT(pids[i] >= 0);
    if (pids[i] == 0) {
      for (int j = 0; j < BUMPS; j++) fsec_shared_counter_bump(c);
      _exit(0);
    }
  }
  for (int i = 0; i < CHILDREN; i++) {
    int st;
    ASSERT_EQ(waitpid(pids[i], &st, 0), pids[i]);
    ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  ASSERT_EQ(fsec_shared_counter_get(c), CHILDREN * BUMPS);
}

int main(void) {
  RUN(counts_and_wraps);
  RUN(children_share_it);
  return 0;
}
