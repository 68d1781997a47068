/* SPDX-License-Identifier: MIT */
/* The intra-op thread pool behind host->parallel_for, and the core count that sizes it.
 * One job runs at a time; a caller finding the pool busy runs its job itself. */
#ifndef KILN_RUNTIME_THREADS_H
#define KILN_RUNTIME_THREADS_H

#include <stddef.h>
#include <stdint.h>

#include "kiln.h"
#include "kiln_provider.h"

typedef struct kiln_threadpool kiln_threadpool;

/* A pool of `threads` threads counting the caller, so threads - 1 workers are started
 * (threads >= 2). Workers spin about KILN_SPIN_US after a job, then sleep. */
kiln_status kiln_threadpool_create(const kiln_allocator *a, uint32_t threads, kiln_threadpool **out, kiln_error *err);
/* Stops and joins the workers. No job may be running. NULL is a no-op. */
void kiln_threadpool_destroy(kiln_threadpool *p);
/* Threads a job can use (workers + caller); 1 for NULL. */
uint32_t kiln_threadpool_size(const kiln_threadpool *p);
/* Runs fn over [0, n) in ranges of at least `grain` indices on the workers and the caller, and
 * returns when every range is done. With a NULL pool, n <= grain, or the pool busy with another
 * caller's job (concurrent runs, inter-op threads), the caller runs fn(arg, 0, n) alone. */
void kiln_threadpool_run(kiln_threadpool *p, size_t n, size_t grain, kiln_range_fn fn, void *arg);

/* Physical cores this process may run on (affinity mask, one per core whatever its hardware
 * threads); at least 1. */
uint32_t kiln_physical_cores(void);
/* Threads a session uses for `requested` (0: KILN_NUM_THREADS when set to 1..1024, else the
 * physical cores). */
uint32_t kiln_threads_resolve(int32_t requested);

#endif
