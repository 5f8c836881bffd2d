/*
 * store_base.c: what the store's neutral half (store.c) and its backends
 * (store_sqlite.c, store_pg.c) share, below both: the error message of a
 * store, and the fork guard. Calls nothing of theirs.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#include "store_impl.h"

/* Bumped in every child after fork(); a store remembers the value it was
 * opened under. Cheaper than getpid(), which is a syscall on glibc. */
static volatile unsigned long fork_gen;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void on_fork_child(void) { fork_gen++; }
static void install_fork_hook(void) { pthread_atfork(NULL, NULL, on_fork_child); }

unsigned long fsec__store_fork_gen(void) {
  pthread_once(&fork_once, install_fork_hook);
  return fork_gen;
}

int fsec__store_guard(fsec_store *s) {
  if (s->fork_gen != fork_gen)
    return fsec__serr(s, FSEC_EFORK, "store opened before fork(); open it in each process");
  return FSEC_OK;
}

int fsec__serr(fsec_store *s, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->errmsg, sizeof s->errmsg, fmt, ap);
  va_end(ap);
  return rc;
}

int fsec__store_is(const fsec_store *s, const fsec__backend *be) { return s->be == be; }
