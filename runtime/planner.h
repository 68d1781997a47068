/* SPDX-License-Identifier: MIT */
/* The memory planner: from what a recording run saw (bytes of each value, scratch of each node)
 * and the execution order, one arena per memory kind with an offset for every intermediate,
 * in-place reuse and aliases, and the figures rt-run reports. Private to runtime/. */
#ifndef KILN_RUNTIME_PLANNER_H
#define KILN_RUNTIME_PLANNER_H

#include <stdint.h>

#include "kiln.h"

#define KILN_PLAN_NONE UINT64_MAX
/* Least alignment of every region in an arena, in bytes (one cache line); a memory kind may ask
 * for more. */
#define KILN_PLAN_ALIGN 64
/* Memory kinds a plan distinguishes (0 is host memory). */
#define KILN_PLAN_KINDS 8

/* ---- placement (pure; unit-tested) ---- */

/* A block to place: `size` bytes needed from step `start` to step `end` inclusive. */
typedef struct kiln_block {
    uint64_t size;
    uint32_t start, end;
    uint64_t offset;         /* result */
} kiln_block;

/* Says whether blocks i and j may not share bytes; NULL means "their [start, end] overlap". */
typedef int (*kiln_block_conflict_fn)(void *arg, uint32_t i, uint32_t j);

/* Gives every block an offset (multiples of `align`, a power of two >= KILN_PLAN_ALIGN; sizes
 * are rounded up to it) so that conflicting blocks never overlap, trying a few orders (largest first with best-fit gaps, then earliest first) and keeping
 * the smallest arena. Returns the arena size in *arena. KILN_ERR_OUT_OF_MEMORY only. */
kiln_status kiln_plan_place(const kiln_allocator *a, kiln_block *blocks, uint32_t n, uint64_t align,
                            kiln_block_conflict_fn conflict, void *arg, uint64_t *arena, kiln_error *err);
/* Largest total of sizes of blocks live at one step (no placement can use fewer bytes). */
uint64_t kiln_plan_lower_bound(const kiln_block *blocks, uint32_t n);

/* ---- plans ---- */

/* What a recording run saw, per value of the graph and per node. */
typedef struct kiln_record {
    uint64_t *bytes;         /* per value: bytes of the tensor (valid when seen) */
    uint8_t *seen;           /* per value: 1 when it was a tensor produced by a node of this graph */
    int32_t *dtype, *rank;   /* per value */
    int64_t *dims;           /* per value: KILN_MAX_RANK dims */
    uint32_t *kind;          /* per value: memory kind */
    uint8_t *node_static;    /* per node: every output's dims came from shape inference */
    uint64_t *scratch;       /* per node: bytes taken from host->scratch, each request rounded up */
    uint64_t *dev_scratch;   /* per node: bytes taken from host->device_scratch (ABI 1.2), rounded likewise */
    uint8_t *dev_kind;       /* per node: the memory kind of that device scratch */
} kiln_record;

typedef struct kiln_plan {
    int64_t *sig;            /* input-shape signature it was built for */
    uint32_t sig_len;
    uint32_t refs;           /* runs using it (guarded by the session lock) */
    uint8_t cached;          /* still in the session's cache */
    uint64_t stamp;          /* last use, for eviction */
    uint32_t n_values, n_nodes;
    /* per value */
    uint64_t *off;           /* offset in the arena of its kind, KILN_PLAN_NONE when not placed */
    uint64_t *size;          /* bytes available at off */
    uint8_t *kind;
    uint8_t *det;            /* dims below are what every run with this signature computes */
    int32_t *dtype;
    int32_t *rank;
    int64_t *dims;           /* KILN_MAX_RANK per value */
    /* per node */
    uint8_t *alias;          /* output 0 is input 0's bytes under new dims: no kernel call */
    uint8_t *node_det;       /* output dims come from the plan, shape inference is skipped */
    uint64_t *scratch_off, *scratch_size;
    uint64_t *dev_scratch_off, *dev_scratch_size; /* device scratch in the arena of rec->dev_kind[node] */
    uint32_t *release_start; /* n_nodes + 1: values whose storage ends after node i are */
    uint32_t *release;       /*   release[release_start[i] .. release_start[i + 1]) */
    /* figures */
    uint64_t arena[KILN_PLAN_KINDS];
    uint64_t arena_bytes, lower_bound_bytes, naive_bytes;
    uint32_t n_inplace, n_alias;
} kiln_plan;

struct kiln_exec_graph;

/* Builds the plan of `xg` (the main graph or a subgraph) from a recording run; `align[k]` is memory kind k's
 * alignment. `parallel`: nodes may run at once when no path orders them, so two blocks share
 * bytes only when every user of one comes before the other's producer on every path, and
 * in-place reuse needs the same. */
kiln_status kiln_plan_build(const kiln_allocator *a, const struct kiln_exec_graph *xg, const kiln_record *rec,
                            const uint64_t *align, int parallel, kiln_plan **out, kiln_error *err);
void kiln_plan_free(const kiln_allocator *a, kiln_plan *p);

/* Allocates the per-value and per-node arrays of a record for `n_values` and `n_nodes`. */
kiln_status kiln_record_init(const kiln_allocator *a, kiln_record *r, uint32_t n_values, uint32_t n_nodes,
                             kiln_error *err);
void kiln_record_reset(kiln_record *r, uint32_t n_values, uint32_t n_nodes);
void kiln_record_free(const kiln_allocator *a, kiln_record *r);

#endif
