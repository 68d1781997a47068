/* SPDX-License-Identifier: MIT */
/* Layouts of the opaque public handles (env, options, session, tensor, io info) and of the
 * executor's compiled graphs and run frames. Private to runtime/. */
#ifndef KILN_RUNTIME_SESSION_IMPL_H
#define KILN_RUNTIME_SESSION_IMPL_H

#include "graph/ir.h"
#include "kiln.h"
#include "kiln_provider.h"
#include "runtime/base/error.h"
#include "runtime/base/mem.h"

struct kiln_env {
    kiln_allocator alloc;
    kiln_log_level log_level;
    kiln_log_fn log_fn;      /* NULL: standard error */
    void *log_user;
};

struct kiln_session_options {
    char *external_data_dir; /* heap (malloc) copy, or NULL */
    struct kiln_provider_request *providers; /* asked in this order, before the CPU (runtime/providers.h) */
    uint32_t n_providers;
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
};

struct kiln_session {
    kiln_env *env;
    kiln_model *model;
    struct kiln_providers *providers;  /* runtime/providers.h */
    struct kiln_partition *partition;  /* runtime/partition.c */
    kiln_exec_graph *main;
    size_t n_inputs, n_outputs;
    kiln_io_info *inputs, *outputs;
};

/* ---- run frames ---- */

typedef struct kiln_frame {
    const kiln_exec_graph *xg;
    struct kiln_frame *parent;
    kiln_session *session;
    const kiln_value_desc **desc;  /* per value id */
    kiln_tensor **owned;           /* per value id: owned tensor to destroy when the value dies */
} kiln_frame;

kiln_status kiln_exec_compile(kiln_session *s, kiln_graph *g, kiln_exec_graph **out, kiln_error *err);
void kiln_exec_free(kiln_session *s, kiln_exec_graph *xg);
kiln_status kiln_frame_create(kiln_session *s, const kiln_exec_graph *xg, kiln_frame *parent,
                              kiln_frame **out, kiln_error *err);
void kiln_frame_destroy(kiln_frame *f);
/* Runs every node of the frame's graph; inputs must be bound in f->desc. */
kiln_status kiln_frame_run(kiln_frame *f, kiln_error *err);

/* One kernel call: the ABI context (first member) and what the host needs to serve it. */
typedef struct kiln_call {
    kiln_kernel_ctx pub;
    kiln_frame *frame;
    const kiln_exec_node *xn;
    kiln_frame *child;           /* frame of the last run_subgraph, alive until the next one */
    void **scratch;              /* blocks from host->scratch, freed after compute */
    uint32_t n_scratch, cap_scratch;
    const kiln_value_desc **child_outputs;
    uint32_t cap_child_outputs;
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
int32_t kiln_call_run_subgraph(kiln_kernel_ctx *ctx, const char *attr, uint32_t index,
                               const kiln_value_desc *const *inputs, uint32_t n_in,
                               const kiln_value_desc *const **outputs, uint32_t *n_out, kiln_error *err);

/* The host API table given to providers (runtime/host_api.c). */
extern const kiln_host_api kiln_host;

/* The built-in CPU provider's entry point (providers/cpu/provider.c). */
int32_t kiln_cpu_provider_entry(const kiln_host_api *host, void *host_ctx, uint32_t host_min, uint32_t host_max,
                                kiln_provider_library **out, kiln_error *err);

/* Logging through the env. */
void kiln_log(const kiln_env *env, kiln_log_level level, const char *fmt, ...) KILN_PRINTF(3, 4);

#endif
