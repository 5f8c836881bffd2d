/*
 * shared.c: see fsec/shared.h. An anonymous shared mapping survives
 * fork() as the same memory in parent and children; GCC's __atomic
 * builtins (also in clang) give the loads and adds, C99 having none.
 */
#include <sys/mman.h>

#include "fsec/shared.h"

uint32_t *fsec_shared_counter_new(void) {
  void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return NULL;
  return p; /* zero-filled by the kernel */
}

uint32_t fsec_shared_counter_get(const uint32_t *c) {
  return __atomic_load_n(c, __ATOMIC_ACQUIRE);
}

uint32_t fsec_shared_counter_bump(uint32_t *c) {
  return __atomic_add_fetch(c, 1, __ATOMIC_RELEASE);
}
