/* SPDX-License-Identifier: MIT */
/* Session profiling: a Chrome trace (JSON object format, opened by Perfetto and chrome://tracing)
 * with the session's phases, every run and every node, and per-op totals. Private to runtime/. */
#ifndef KILN_RUNTIME_PROFILE_H
#define KILN_RUNTIME_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "kiln.h"

typedef struct kiln_profiler kiln_profiler;
struct kiln_exec_graph;

/* Bytes kept per node for its input shapes in a trace ("[1,3,224,224] [64,3,7,7]"). */
#define KILN_PROF_SHAPES 160

/* One node's timing in a run (ns on kiln_prof_now's clock); t1 == 0: the node did not run. */
typedef struct kiln_prof_node {
    uint64_t t0, t1;
    uint32_t tid;
} kiln_prof_node;

/* Monotonic clock in nanoseconds. */
uint64_t kiln_prof_now(void);
/* Small number naming the calling thread in traces (1, 2, ... in order of first use). */
uint32_t kiln_prof_tid(void);

/* Starts a profile; `path` NULL keeps the per-op totals only (no file). KILN_ERR_IO when the
 * file cannot be created. */
kiln_status kiln_profiler_create(const kiln_allocator *a, const char *path, kiln_profiler **out, kiln_error *err);
/* Completes the trace file (it is valid JSON only after this) and frees the profiler. */
void kiln_profiler_destroy(kiln_profiler *p);
/* A session phase ("load", "infer", "partition", "plan", "first_run") from t0 to t1. */
void kiln_profiler_phase(kiln_profiler *p, const char *name, uint64_t t0, uint64_t t1);
/* One run of `xg`: its span, then each node that ran, with its input shapes from `shapes`
 * (KILN_PROF_SHAPES bytes per node). Thread-safe. */
void kiln_profiler_run(kiln_profiler *p, const struct kiln_exec_graph *xg, const kiln_prof_node *nodes,
                       const char *shapes, uint64_t t0, uint64_t t1);
/* A span [t0, t1) a provider reported during node `node`'s kernel (kiln_host_api.trace), shown
 * under the node with the provider named. Thread-safe. */
void kiln_profiler_span(kiln_profiler *p, const char *name, const char *node, const char *provider, uint64_t t0,
                        uint64_t t1);
/* Per-op totals (see kiln_session_profile_ops). */
size_t kiln_profiler_ops(kiln_profiler *p, kiln_op_profile *out, size_t cap);

#endif
