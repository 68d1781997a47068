/* SPDX-License-Identifier: MIT */
/* Layouts of the opaque public handles (env, options, session, tensor, io info) and of the
 * executor's compiled graphs and run frames. Private to runtime/. */
#ifndef KILN_RUNTIME_SESSION_IMPL_H
#define KILN_RUNTIME_SESSION_IMPL_H

#include <pthread.h>
#include <stdatomic.h>

#include "graph/ir.h"
#include "graph/shape.h"
#include "kiln.h"
#include "kiln_provider.h"
#include "runtime/base/error.h"
#include "runtime/base/mem.h"
#include "runtime/run_limits.h"
#include "runtime/planner.h"
#include "runtime/profile.h"
#include "runtime/threads.h"

struct kiln_env {
    kiln_allocator alloc;
    kiln_log_level log_level;
    kiln_log_fn log_fn;      /* NULL: standard error */
    void *log_user;
};

struct kiln_session_options {
    char *external_data_dir; /* heap (malloc) copy, or NULL */
    int32_t intra_op_threads;  /* 0: KILN_NUM_THREADS or the physical cores */
    int32_t inter_op_threads;  /* 0, 1: sequential; more: parallel mode */
    int profiling;             /* kiln_session_options_enable_profiling was called */
    char *profile_path;        /* heap (malloc) copy, or NULL: per-op totals only */

    struct kiln_provider_request *providers; /* asked in this order, before the CPU (runtime/providers.h) */
    uint32_t n_providers;

    int opt_level_set;         /* kiln_session_options_set_optimization_level was called */
    int32_t opt_level;         /* kiln_opt_level (KILN_OPT_ALL unless set) */
    char **disabled_passes;    /* heap copies */
    uint32_t n_disabled_passes;
    char *optimized_model_path; /* heap copy, or NULL */
    uint64_t memory_limit;     /* bytes; 0: none (runtime/run_limits.c) */
};

/* A value: what kernels see (desc, first member) plus ownership. Public as kiln_tensor. */
struct kiln_tensor {
    kiln_value_desc desc;
    int64_t dims[KILN_MAX_RANK];
    const kiln_allocator *alloc;
    void *owned;                 /* storage block to free, NULL when borrowed */
    size_t nbytes;               /* bytes of storage */
    kiln_tensor **items;         /* sequence items (owned), desc.items points at item_descs */
    kiln_value_desc **item_descs;
    uint64_t cap_items;
    kiln_tensor *content;        /* optional: its value (owned), or NULL when empty */
    int32_t opt_kind;            /* optional: kind of content (TENSOR or SEQUENCE) */
    const struct kiln_kind *kind; /* storage in a provider's memory kind: `owned` is its block */
    kiln_budget *budget;         /* session budget `nbytes` are taken from (given back on destroy), or NULL */
};

/* Internal tensor helpers (runtime/tensor.c). */
kiln_status kiln_tensor_new(const kiln_allocator *a, int32_t dtype, int32_t rank, const int64_t *dims,
                            kiln_tensor **out, kiln_error *err);
kiln_status kiln_sequence_new(const kiln_allocator *a, int32_t dtype, uint64_t n, kiln_tensor **out,
                              kiln_error *err);
kiln_status kiln_optional_none(const kiln_allocator *a, int32_t dtype, int32_t opt_kind, kiln_tensor **out,
                               kiln_error *err);
/* Deep copy of any value descriptor (tensor, sequence, empty optional) into a new owned tensor. */
kiln_status kiln_tensor_clone_desc(const kiln_allocator *a, const kiln_value_desc *d, kiln_tensor **out,
                                   kiln_error *err);
/* Copies the elements of `src` into `dst` of the same dtype and element count. */
kiln_status kiln_tensor_copy_data(const kiln_value_desc *src, kiln_value_desc *dst, kiln_error *err);
/* Sets element i of a host STRING tensor (frees the old string). */
kiln_status kiln_tensor_string_set(const kiln_allocator *a, kiln_value_desc *t, uint64_t i, const char *s,
                                   size_t len, kiln_error *err);
void kiln_desc_init(kiln_value_desc *d);

/* ---- compiled graphs ---- */

typedef struct kiln_exec_graph kiln_exec_graph;

typedef struct kiln_exec_node {
    kiln_node *node;
    kiln_kernel *kernel;
    kiln_provider *provider;
    uint32_t n_free;
    uint32_t *free_after;        /* value ids that die after this node */
    kiln_exec_graph **subgraphs; /* per attribute index; NULL for non-graph attributes */
    uint32_t *subgraph_base;     /* for GRAPHS: index of the first of the attribute's graphs in subgraphs_flat */
    uint8_t skip;                /* every output is a constant: nothing to run */
    uint8_t invariant;           /* a pure op whose inputs are all constants (here or in an enclosing
                                  * graph) or invariant: its outputs are the same in every run */
    _Atomic(struct kiln_tensor **) memo; /* invariant: the outputs of the first run that made them */
} kiln_exec_node;

struct kiln_exec_graph {
    kiln_graph *g;
    kiln_exec_node *nodes;
    uint32_t n_nodes;
    kiln_tensor **constants;     /* per value id: borrowed view of a constant, or NULL */
    uint32_t n_free_start;
    uint32_t *free_start;        /* values never read: freed right after they are produced */
    kiln_exec_graph **children;  /* all subgraph exec graphs (for cleanup) */
    uint32_t n_children;
    uint32_t *last_read;         /* per value: index of the last node reading it, UINT32_MAX when none */
    uint32_t max_io;             /* most inputs or outputs of one node (sizes a call's arrays) */
    uint32_t n_run;              /* nodes that run (not skipped) */
    /* The node DAG, for the parallel executor: predecessors to wait for, successors to release. */
    uint32_t *n_preds;
    uint32_t *succ_start, *succ; /* successors of node i: succ[succ_start[i] .. succ_start[i + 1]) */
};

struct kiln_io_info {
    const char *name;
    kiln_value_kind kind;
    kiln_dtype dtype;
    int32_t rank;
    int64_t dims[KILN_MAX_RANK];       /* -1 where symbolic or unknown */
    const char *dim_names[KILN_MAX_RANK];
    kiln_value *value;
    uint32_t index;
    uint32_t mem_kind;                 /* memory kind a run reads (input) or writes (output) it in */
};

/* Plans kept per session, one per input-shape signature; the least recently used goes first. */
#define KILN_PLAN_CACHE 8

typedef struct kiln_runctx kiln_runctx;

/* Plans kept per subgraph context. A body that records more than KILN_SUB_PLANS times beyond its
 * planned runs (shapes that change every iteration) stops making plans and runs unplanned. */
#define KILN_SUB_PLANS 4

struct kiln_session {
    kiln_env *env;
    kiln_model *model;
    struct kiln_providers *providers;  /* runtime/providers.h */
    struct kiln_partition *partition;  /* runtime/partition.c */
    kiln_exec_graph *main;
    size_t n_inputs, n_outputs;
    kiln_io_info *inputs, *outputs;
    uint32_t intra_threads, inter_threads;
    kiln_threadpool *pool;       /* intra-op (parallel_for); NULL with one thread */
    kiln_threadpool *inter;      /* inter-op (parallel mode); NULL when sequential */
    kiln_profiler *prof;         /* NULL unless profiling */
    uint64_t weights_bytes;
    uint64_t packed_bytes;       /* kernels' own copies of constants (prepack), part of weights_bytes */
    uint64_t released_bytes;     /* constants freed after every reader pre-packed them */
    struct kiln_opt_report *opt_report; /* what the optimizer did (heap), NULL before it ran */
    /* Guarded by `lock`: */
    pthread_mutex_t lock;
    int lock_ready;
    kiln_plan *plans[KILN_PLAN_CACHE];
    uint32_t n_plans;
    uint64_t plan_clock;
    uint64_t last_arena, last_lower, last_naive; /* figures of the newest plan */
    kiln_runctx *free_ctx;       /* run contexts not in use */
    int first_run_done;
    /* Memory limit (runtime/run_limits.c): weights, arenas and run allocations are taken from it. */
    kiln_budget budget;
    atomic_ullong run_seq;       /* ABI 1.2 run ids (run_begin/run_end) */
};

/* ---- run frames ---- */

typedef struct kiln_frame {
    const kiln_exec_graph *xg;
    struct kiln_frame *parent;
    kiln_session *session;
    const kiln_value_desc **desc;  /* per value id */
    kiln_tensor **owned;           /* per value id: owned tensor to destroy when the value dies */
    kiln_runctx *run;              /* the run context whose frame this is (main graph or subgraph) */
} kiln_frame;

/* The arrays one kernel call needs, sized for the graph's widest node. */
typedef struct kiln_slot {
    const kiln_value_desc **in;
    kiln_value_desc **out;
    kiln_shape_val *sin, *sout;
} kiln_slot;

/* Everything one run of the main graph needs, reused run after run so a warm run allocates
 * nothing: the frame, storage descriptors, the arena of the current plan, bookkeeping. A
 * session keeps a list of them; each run takes one. */
struct kiln_runctx {
    kiln_session *s;
    kiln_frame frame;
    const kiln_value_desc **rest;  /* per value: desc between runs (constants), copied in at each start */
    kiln_value_desc *vdesc;        /* per value: descriptor of arena-placed and aliased values */
    int64_t *vdims;                /* per value: KILN_MAX_RANK dims behind vdesc */
    kiln_tensor **target;          /* per value: caller tensor a graph output is computed into */
    uint8_t *move_out;             /* per value: graph output handed to the caller as a new tensor */
    uint8_t *prebound;             /* per value: a kiln.Copy output the caller's device tensor stands for */
    uint32_t *touched;             /* values given a target or prebound this run (cleared by reset) */
    uint32_t n_touched;
    kiln_plan *plan;               /* plan of this run (a reference), NULL when recording */
    kiln_record rec;               /* what a recording run saw */
    uint8_t *arena;                /* host arena (memory kind 0) of `plan` */
    uint64_t arena_cap;
    void *dev_arena[KILN_PLAN_KINDS]; /* arenas of device memory kinds: provider blocks */
    uint64_t dev_cap[KILN_PLAN_KINDS];
    int64_t *sig;                  /* input-shape signature of this run */
    const kiln_provider *replayed; /* ABI 1.2: the provider that replayed this run in run_begin: its kernels are not called */
    uint64_t hooks_begun;          /* bit i: provider i's run_begin succeeded this run */
    uint64_t hook_sig, hook_key, hook_id; /* what run_begin was told */
    uint32_t sig_len, sig_cap;
    kiln_slot *slots;              /* one per thread that runs nodes */
    uint32_t n_slots;
    const kiln_io_info **outs;     /* kiln_session_run: io of each requested output */
    uint8_t *created;              /* kiln_session_run: outputs[i] was NULL on entry */
    size_t cap_outs;
    /* Parallel mode. */
    uint32_t *pending;             /* per node: predecessors not finished (atomic) */
    uint32_t *ready;               /* queue of runnable nodes */
    uint32_t ready_head, ready_tail, done;
    pthread_mutex_t qlock;
    pthread_cond_t qcond;
    int q_ready;
    kiln_status par_status;
    kiln_error par_err;
    /* Profiling. */
    kiln_prof_node *prof;
    char *prof_shapes;             /* KILN_PROF_SHAPES bytes per node */
    kiln_runctx *next;
    /* What signs a run: the graph's inputs, then (subgraphs) the outer values it reads. */
    uint32_t *sig_ids;
    uint32_t n_sig_ids;
    /* Subgraphs (If/Loop/Scan/... bodies run by this context's nodes): one context each, made on
     * first use and kept, so a warm run of a body is planned and allocates nothing. */
    struct kiln_runctx ***sub;     /* per node: its contexts, flat over its graph attributes */
    struct kiln_runctx *kids;      /* every context in `sub`, linked by next_kid */
    struct kiln_runctx *next_kid;
    int is_sub;
    uint8_t dirty;                 /* a subgraph context that ran since its last reset */
    const kiln_value_desc **sub_outs; /* subgraph: the outputs of its last run */
    kiln_plan *own[KILN_SUB_PLANS]; /* subgraph: its plans, per signature (no lock: one context uses them) */
    uint32_t n_own;
    uint64_t own_clock;
    uint32_t hits, misses;         /* subgraph: planned runs and recording runs */
    /* Cancellation and deadline of the current run (runtime/run_limits.c). */
    kiln_run_guard guard;
};

kiln_status kiln_runctx_create(kiln_session *s, kiln_runctx **out, kiln_error *err);
/* Runs subgraph `xg` for node `node` (its graph number `flat` over the node's graph attributes)
 * of the frame of context c, with the subgraph's inputs; its outputs are in (*sub)->sub_outs
 * until the next run of the same subgraph from this context. */
kiln_status kiln_runctx_run_sub(kiln_runctx *c, uint32_t node, uint32_t flat, uint32_t n_flat,
                                const kiln_exec_graph *xg, const kiln_value_desc *const *inputs, uint32_t n_in,
                                kiln_runctx **sub, kiln_error *err);
void kiln_runctx_destroy(kiln_runctx *c);
/* Takes a free run context of the session (creating one when none is free). */
kiln_status kiln_runctx_acquire(kiln_session *s, kiln_runctx **out, kiln_error *err);
void kiln_runctx_release(kiln_runctx *c);
/* Runs the main graph with inputs bound in c->frame.desc and outputs marked in c->target /
 * c->move_out; records and plans on the first run of a signature. */
kiln_status kiln_runctx_run(kiln_runctx *c, kiln_error *err);
/* Executes the main graph of c (executor.c): planned, sequential or parallel, or recording. */
kiln_status kiln_exec_run_main(kiln_runctx *c, kiln_error *err);
/* Hands requested output `io` to the caller: moved or copied into a new tensor (*slot NULL), or
 * copied into *slot unless it was computed there. */
kiln_status kiln_runctx_deliver(kiln_runctx *c, const kiln_io_info *io, kiln_tensor **slot, kiln_error *err);
/* Marks requested output `io`: computed into caller tensor t when it may be, else (t NULL)
 * handed to the caller as a new tensor. */
void kiln_runctx_want(kiln_runctx *c, const kiln_io_info *io, kiln_tensor *t);
/* Binds caller tensor t, in a device memory kind, for graph input or output `io` whose copy
 * to or from that kind the partitioner inserted: the kiln.Copy slot is left out and the device
 * value is t itself (no copy). KILN_ERR_INVALID_ARGUMENT when the value is also read in host
 * memory or no copy of that kind exists. With c NULL, only checks. */
kiln_status kiln_runctx_bind_device(kiln_session *s, kiln_runctx *c, const kiln_io_info *io, int output,
                                    kiln_tensor *t, kiln_error *err);
/* The session input/output named `name`, or NULL. */
const kiln_io_info *kiln_session_find_input(const kiln_session *s, const char *name);
const kiln_io_info *kiln_session_find_output(const kiln_session *s, const char *name);
/* Clears what the run left (owned values, targets) so the context can be reused. */
void kiln_runctx_reset(kiln_runctx *c);
/* Checks a value given for input `io` (its memory kind too, unless any_kind) and gives the
 * descriptor to bind. */
kiln_status kiln_check_input(const kiln_io_info *io, const kiln_tensor *t, int any_kind, const kiln_value_desc **bind,
                             kiln_error *err);
/* Plans: drop a reference (frees an evicted plan when it was the last). Caller holds s->lock. */
void kiln_plan_unref(kiln_session *s, kiln_plan *p);

kiln_status kiln_exec_compile(kiln_session *s, kiln_graph *g, kiln_exec_graph **out, kiln_error *err);
void kiln_exec_free(kiln_session *s, kiln_exec_graph *xg);

/* One kernel call: the ABI context (first member) and what the host needs to serve it. */
typedef struct kiln_call {
    kiln_kernel_ctx pub;
    kiln_frame *frame;
    const kiln_exec_node *xn;
    uint32_t idx;                /* node index in the frame's graph */
    uint64_t scratch_used;       /* bytes taken from the node's planned scratch block */
    uint64_t scratch_bytes;      /* bytes asked for (recorded for the plan) */
    void **scratch;              /* blocks from host->scratch, freed after compute */
    uint32_t n_scratch, cap_scratch;
    uint64_t dev_used;           /* ABI 1.2 device scratch: bytes taken from the node's planned block */
    uint64_t dev_bytes;          /* bytes asked for (recorded for the plan) */
    void *dev_block[4];          /* unplanned device scratch blocks, freed (stream-ordered) after compute */
    uint32_t n_dev;
} kiln_call;

/* Kernel-time host services (runtime/executor.c). */
int32_t kiln_call_alloc_output(kiln_kernel_ctx *ctx, uint32_t i, int32_t rank, const int64_t *dims,
                               kiln_value_desc **out, kiln_error *err);
int32_t kiln_call_alloc_sequence(kiln_kernel_ctx *ctx, uint32_t i, int32_t dtype, uint64_t n,
                                 kiln_value_desc **out, kiln_error *err);
int32_t kiln_call_alloc_item(kiln_kernel_ctx *ctx, uint32_t i, uint64_t j, int32_t rank, const int64_t *dims,
                             kiln_value_desc **out, kiln_error *err);
int32_t kiln_call_set_output_none(kiln_kernel_ctx *ctx, uint32_t i, int32_t dtype, kiln_error *err);
int32_t kiln_call_set_string(kiln_kernel_ctx *ctx, kiln_value_desc *t, uint64_t index, const char *s, size_t len,
                             kiln_error *err);
void *kiln_call_scratch(kiln_kernel_ctx *ctx, size_t bytes);
void kiln_call_parallel_for(kiln_kernel_ctx *ctx, size_t n, size_t grain, kiln_range_fn fn, void *arg);
uint32_t kiln_call_thread_count(kiln_kernel_ctx *ctx);
int32_t kiln_call_device_scratch(kiln_kernel_ctx *ctx, uint64_t bytes, void **block, uint64_t *offset, kiln_error *err);
int32_t kiln_call_run_subgraph(kiln_kernel_ctx *ctx, const char *attr, uint32_t index,
                               const kiln_value_desc *const *inputs, uint32_t n_in,
                               const kiln_value_desc *const **outputs, uint32_t *n_out, kiln_error *err);

/* The host API table given to providers (runtime/host_api.c). */
extern const kiln_host_api kiln_host;
/* Makes `env` the one the context-less provider `log` slot writes to on this thread; returns
 * the previous one (restore it when the scope ends). */
const kiln_env *kiln_host_log_scope(const kiln_env *env);

/* The built-in CPU provider's entry point (providers/cpu/provider.c). */
int32_t kiln_cpu_provider_entry(const kiln_host_api *host, void *host_ctx, uint32_t host_min, uint32_t host_max,
                                kiln_provider_library **out, kiln_error *err);

/* Bytes a built-in CPU kernel holds of its own copies of constant inputs (providers/cpu/cpu_op.c). */
uint64_t kiln_cpu_kernel_held_bytes(const kiln_kernel *k);

/* A session over a model built in memory (runtime/session.c); takes ownership of `model`, also
 * on failure. Used to fold constants through the CPU provider's kernels. */
kiln_status kiln_session_create_from_model(kiln_env *env, kiln_model *model, const kiln_session_options *opts,
                                           kiln_session **out, kiln_error *err);

/* Runs the graph optimizer on the session's main graph at the options' level (runtime/optimize.c). */
kiln_status kiln_session_optimize(kiln_session *s, const kiln_session_options *opts, kiln_error *err);

/* Logging through the env. */
void kiln_log(const kiln_env *env, kiln_log_level level, const char *fmt, ...) KILN_PRINTF(3, 4);

#endif
