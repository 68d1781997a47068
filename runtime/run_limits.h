/* SPDX-License-Identifier: MIT */
/* Memory limits and cancellation (docs/limits.md): a session's byte budget, run options, and
 * the stop check the executor makes between nodes and at parallel_for chunk boundaries.
 * Private to runtime/. */
#ifndef KILN_RUNTIME_RUN_LIMITS_H
#define KILN_RUNTIME_RUN_LIMITS_H

#include <stdatomic.h>
#include <stdint.h>

#include "graph/ir.h"
#include "kiln.h"
#include "kiln_provider.h"
#include "runtime/threads.h"

/* Bytes a session holds against its memory limit (limit 0: no limit, only counted). */
typedef struct kiln_budget {
    uint64_t limit;
    _Atomic uint64_t used;
} kiln_budget;

/* Takes `bytes` from the budget, or fails with KILN_ERR_OUT_OF_MEMORY (nothing taken) naming
 * `what` ("value 'x'", "a 1024-byte arena") and, when `v` is given, the op that sets its size. */
kiln_status kiln_budget_take(kiln_budget *b, uint64_t bytes, const kiln_value *v, const char *what, kiln_error *err);
/* Gives `bytes` back. */
void kiln_budget_give(kiln_budget *b, uint64_t bytes);
/* Bytes left under the limit (UINT64_MAX without a limit). */
uint64_t kiln_budget_left(kiln_budget *b);

struct kiln_run_options {
    _Atomic int cancel;
    uint64_t timeout_ns;  /* 0: none */
};

/* What one run checks to know whether to stop: its options, the deadline they give, and the
 * sticky "a parallel_for chunk was skipped" mark (so a node whose work was cut short never
 * counts as done). Lives in the run context; reset at each run. */
typedef struct kiln_run_guard {
    const struct kiln_run_options *ro; /* NULL: nothing to check */
    uint64_t deadline_ns;              /* CLOCK_MONOTONIC; 0: none */
    _Atomic int stopped;               /* a kiln_status once the run must stop, else 0 */
} kiln_run_guard;

/* Starts guarding a run with `ro` (may be NULL). */
void kiln_guard_start(kiln_run_guard *g, const kiln_run_options *ro);
/* KILN_OK, or KILN_ERR_CANCELLED / KILN_ERR_TIMEOUT (also recorded as sticky) when the run must stop. */
kiln_status kiln_guard_poll(kiln_run_guard *g);
/* The executor's check before node `n` runs (and once after the last node, n NULL). */
kiln_status kiln_guard_check(kiln_run_guard *g, const kiln_node *n, kiln_error *err);

/* parallel_for of a guarded run: chunks after a stop are skipped (the node's results are then
 * discarded: the run fails at the next check). */
void kiln_guard_parallel_for(kiln_run_guard *g, kiln_threadpool *pool, size_t n, size_t grain, kiln_range_fn fn, void *arg);

struct kiln_frame;
struct kiln_session;
struct kiln_tensor;
/* The guard of the run a frame (or the subgraph frame's enclosing run) belongs to, or NULL. */
kiln_run_guard *kiln_frame_guard(const struct kiln_frame *f);

/* Before allocating a run tensor of value v: takes its bytes from the session's budget (0 taken
 * when dims or dtype are bad: the allocation reports that). */
kiln_status kiln_budget_take_tensor(struct kiln_session *s, const kiln_value *v, int32_t dtype, int32_t rank,
                                    const int64_t *dims, uint64_t *taken, kiln_error *err);
/* A tensor leaves the session (handed to the caller): gives its bytes back. */
void kiln_budget_release_tensor(struct kiln_tensor *t);

#endif
