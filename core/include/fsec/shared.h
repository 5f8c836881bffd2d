/*
 * fsec/shared.h: a counter in memory shared by a process and the children
 * it forks afterwards (nginx's workers, forked by the master that ran
 * init_by_lua). The OpenResty adapter bumps it on every datastore write
 * and reads it on every authentication: a changed value drops each
 * worker's cached users. A read is one atomic load: no lock, no system
 * call (a shared dict's get took a lock shared by all workers).
 */
#ifndef FSEC_SHARED_H
#define FSEC_SHARED_H

#include "fsec/common.h"

/* A new counter at 0 in a page of its own, shared with the children
 * forked after this call. NULL when the page cannot be mapped (errno is
 * set). It lives as long as the process and its children: never freed. */
FSEC_API uint32_t *fsec_shared_counter_new(void);

/* The counter's value (an acquire load: what was written before a bump
 * that it sees is visible too). */
FSEC_API uint32_t fsec_shared_counter_get(const uint32_t *c) FSEC_NONNULL(1);

/* Add 1 (a release operation; wraps at 2^32) and return the new value. */
FSEC_API uint32_t fsec_shared_counter_bump(uint32_t *c) FSEC_NONNULL(1);

#endif /* FSEC_SHARED_H */
