/* SPDX-License-Identifier: MIT */
/* Shared declarations of the oneDNN provider plugin (kiln-provider-dnnl.so). The plugin sees
 * only abi/kiln_provider.h and oneDNN's C API (dnnl.h); never libkiln. See docs/dnnl.md. */
#ifndef KILN_DNNL_DN_H
#define KILN_DNNL_DN_H

#include <stddef.h>
#include <stdint.h>

#include "dn_dnnl.h"

#include "kiln_provider.h"

#define DN_ABI_MIN KILN_ABI_MAKE(1, 0)
#define DN_ABI_MAX KILN_ABI_MAKE(1, 1)
#define DN_MAX_ARGS 12    /* dnnl arguments of one step */
#define DN_MAX_PLANS 8    /* shape signatures cached per kernel */
#define DN_MAX_IN 8       /* inputs (and outputs) of a node the plugin runs */
#define DN_MAX_OUT 32     /* outputs of a kernel (a fused group's) */

int32_t dn_fail(kiln_error *err, int32_t status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* One provider instance: the oneDNN engine and stream of a session. */
typedef struct dn_provider {
    kiln_provider abi;
    const kiln_host_api *host;
    void *host_ctx;
    uint32_t version;         /* negotiated ABI version */
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    int bf16;                 /* precision=bf16: convolutions and matmuls may compute in bf16 */
    int verbose;
} dn_provider;

/* Where a buffer of a plan lives at run time. */
enum { DN_BUF_IN, DN_BUF_OUT, DN_BUF_TMP, DN_BUF_CONST };

typedef struct dn_buf {
    int role;                 /* DN_BUF_* */
    uint32_t index;           /* input or output of the kernel (IN, OUT) */
    size_t offset;            /* byte offset into the call's scratch (TMP) */
    void *data;               /* CONST: the kernel's own block (owned by the kernel's const store) */
    dnnl_memory_t mem;        /* oneDNN memory object; its data handle is set at each call */
    int is_view;              /* shares the bytes of another buffer (never released on its own) */
} dn_buf;

typedef struct dn_step {
    dnnl_primitive_t prim;
    int n_args;
    int arg[DN_MAX_ARGS];     /* DNNL_ARG_* */
    int buf[DN_MAX_ARGS];     /* index into plan->bufs */
    const char *name;         /* for traces: static text */
} dn_step;

/* Everything one input-shape signature needs: buffers, primitives in order, output shapes. */
typedef struct dn_plan {
    int64_t *key;             /* input ranks and dims */
    uint32_t key_len;
    dn_buf *bufs;
    uint32_t n_bufs, cap_bufs;
    dn_step *steps;
    uint32_t n_steps, cap_steps;
    size_t tmp_bytes;
    uint32_t n_out;
    int pend[DN_MAX_OUT];     /* TMP buffer to reorder into output o at the end, or -1 */
    int32_t out_rank[DN_MAX_OUT];
    int64_t out_dims[DN_MAX_OUT][KILN_MAX_RANK];
    uint64_t uses;
    size_t *free_off, *free_len; /* released TMP regions, reused first fit */
    uint32_t n_free, cap_free;
} dn_plan;

/* A constant input the kernel keeps: the plain copy taken at creation, then the layouts the
 * primitives asked for (each reordered once from the first). */
typedef struct dn_const_copy {
    dnnl_memory_desc_t md;
    void *data;
} dn_const_copy;

typedef struct dn_const {
    int present;
    int32_t rank;
    int64_t dims[KILN_MAX_RANK];
    dn_const_copy *copies;    /* copies[0] is the source of every later reorder */
    uint32_t n_copies;
    int plain_only;           /* copies[0] is the creation-time plain copy, not yet used by a plan */
    int not_float;            /* an input declared of another type (constant attributes such as Reduce axes) */
} dn_const;

struct dn_kernel;

/* A value of a fused group: a group input, a member's output, or both kinds of group output. */
typedef struct dn_gval {
    char *name;
    int32_t gin, gout;        /* index among the group's inputs / outputs, or -1 */
    int n_cons;               /* member nodes reading it */
    int last_cons;            /* the last of them (member index) */
    int producer;             /* member index, or -1 for a group input */
    /* while a plan is built: */
    int buf;                  /* the plan buffer holding it (-1 none yet) */
    int32_t rank;
    int64_t dims[KILN_MAX_RANK];
} dn_gval;

/* One node of a fused group. */
typedef struct dn_member {
    const struct dn_op *op;
    void *op_state;
    char name[128];
    uint32_t n_in, n_out;
    int in_val[DN_MAX_IN];    /* value per input (-1 omitted) */
    int out_val[DN_MAX_IN];
    int absorbed;             /* runs as a post-op of an earlier member */
    int host;                 /* that member's index */
    int post_sum;             /* member index of an Add fused as a sum post-op, or -1 */
    int sum_addend;           /* the value that Add adds */
    int post_elt;             /* member index of an eltwise fused as a post-op, or -1 */
    int post_bias;            /* member index of an Add of a constant fused as a binary post-op, or -1 */
    int bias_val;
} dn_member;

/* The parameters of an eltwise node (op_eltwise.c). */
typedef struct dn_elt_state {
    dnnl_alg_kind_t alg;
    float alpha, beta;
    int clip01; /* then clip to [0, 1] (HardSigmoid = linear, then clip): a second step or post-op */
} dn_elt_state;

/* One operator the plugin runs: what it checks at claim time, what it reads at creation, and
 * how it builds a plan for an input-shape signature. */
typedef struct dn_op {
    const char *op_type;
    /* 1 when the node's attributes and types are supported; `why` gets a reason otherwise. */
    int (*supports)(const kiln_host_api *h, const kiln_node_view *n, char *why, size_t why_len);
    /* Reads attributes into k->op_state (allocated with dn_alloc). */
    int32_t (*create)(struct dn_kernel *k, const kiln_node_view *n, kiln_error *err);
    /* Builds the plan for input shapes `in` (NULL entries for omitted inputs). */
    int32_t (*build)(struct dn_kernel *k, dn_plan *p, const kiln_value_desc *const *in, kiln_error *err);
} dn_op;

typedef struct dn_kernel {
    kiln_kernel abi;
    dn_provider *pv;
    const dn_op *op;
    void *op_state;
    char name[128];           /* the node's name, for messages */
    uint32_t n_in, n_out;
    dn_const *consts;         /* per kernel input */
    uint32_t n_consts;
    dn_plan *plans[DN_MAX_PLANS];
    uint32_t n_plans;
    /* a fused group: */
    dn_member *members;
    uint32_t n_members;
    dn_gval *vals;
    uint32_t n_vals;
    uint32_t n_kin, n_kout;   /* the group kernel's inputs and outputs */
    dn_member *cur;           /* the member being created or planned (NULL: a single-node kernel) */
    int cur_index;
} dn_kernel;

/* The kept constant of input `i` of the node being built (a group member's input maps to the
 * group's input), or NULL. */
dn_const *dn_const_of(dn_kernel *k, uint32_t i);
/* The current layout of input `i` when it is a group value held in a non-plain layout; NULL
 * when it is plain (or a kernel input). */
const dnnl_memory_desc_t *dn_in_native(dn_kernel *k, dn_plan *p, uint32_t i);
/* The buffer of input `i` as it is (any layout); -1 on error. */
int dn_plan_input_native(dn_kernel *k, dn_plan *p, uint32_t i, kiln_error *err);
/* Group members fused into the current one (dn_kernel.c). */
/* Appends member m's eltwise (one or two post-ops) to po. */
int32_t dn_eltwise_append(dn_kernel *k, const dn_member *m, dnnl_post_ops_t po, kiln_error *err);
int dn_is_eltwise(const struct dn_op *op);
/* The Gelu eltwise op (its state says gelu_erf when a pattern is rewritten into it). */
const struct dn_op *dn_op_gelu_erf(void);
/* 1 when value `v` is read by a member (other than `except`) built after member `mi`. */
int dn_value_read_after(const dn_kernel *k, int v, int mi, int except);
int32_t dn_provider_compile_group(dn_provider *pv, const kiln_graph_view *g, kiln_kernel **out, kiln_error *err);
int32_t dn_provider_claim_groups(dn_provider *pv, const kiln_graph_view *g, kiln_claim_sink *sink, kiln_error *err);
/* Points output `o` of the current member (its value) at buffer `b` (a fused member's output). */
int dn_plan_dst_value(dn_kernel *k, dn_plan *p, int val, const dnnl_memory_desc_t *have, int32_t rank, const int64_t *dims,
                      kiln_error *err);
/* A group value that is a kept constant, in layout `md` (a plain view of the same elements). */
int dn_plan_const_value(dn_kernel *k, dn_plan *p, int val, const dnnl_memory_desc_t *md, kiln_error *err);
void dn_plan_alias_value(dn_kernel *k, dn_plan *p, int val, int b, int32_t rank, const int64_t *dims);

/* ---- memory and helpers (dn_util.c) ---- */
void *dn_alloc(dn_provider *pv, size_t bytes);            /* zeroed, 64-byte aligned; NULL on failure */
void dn_free(dn_provider *pv, void *p);
int32_t dn_check(dnnl_status_t s, kiln_error *err, const dn_kernel *k, const char *what);
/* Float-tensor checks on a node's inputs/outputs (present inputs only). */
int dn_all_float(const kiln_host_api *h, const kiln_node_view *n, uint32_t max_in, char *why, size_t len);
int dn_info(const kiln_host_api *h, const kiln_node_view *n, int output, uint32_t i, kiln_value_info *vi);
int64_t dn_attr_i(const kiln_host_api *h, const kiln_node_view *n, const char *name, int64_t dflt);
float dn_attr_f(const kiln_host_api *h, const kiln_node_view *n, const char *name, float dflt);
/* Copies an INTS attribute (at most `max` items); returns its count, 0 when absent, -1 when too long or not INTS. */
int dn_attr_ints(const kiln_host_api *h, const kiln_node_view *n, const char *name, int64_t *out, int max);
const char *dn_attr_s(const kiln_host_api *h, const kiln_node_view *n, const char *name, const char *dflt);
/* Plain row-major f32 descriptor of `rank` dims (rank 0 is treated as [1]). */
void dn_md_plain(dnnl_memory_desc_t *md, int rank, const int64_t *dims);
void dn_md_any(dnnl_memory_desc_t *md, int rank, const int64_t *dims, dnnl_data_type_t dt);

/* ---- plans (dn_plan.c) ---- */
int dn_plan_buf(dn_kernel *k, dn_plan *p, const dnnl_memory_desc_t *md, int role, uint32_t index, void *data, kiln_error *err);
int32_t dn_plan_step(dn_kernel *k, dn_plan *p, const_dnnl_primitive_desc_t pd, int n_args, const int *args, const int *bufs,
                     const char *name, kiln_error *err);
/* A buffer holding `src` in layout `want`: `src` itself when equal, else a TMP and a reorder step. */
int dn_plan_reorder(dn_kernel *k, dn_plan *p, int src, const dnnl_memory_desc_t *want, kiln_error *err);
/* The buffer of kernel input `i` in layout `want`: for a kept constant, its copy reordered once;
 * otherwise the input reordered at each call when `want` differs from `user`. */
int dn_plan_input(dn_kernel *k, dn_plan *p, uint32_t i, const dnnl_memory_desc_t *user, const dnnl_memory_desc_t *want,
                  kiln_error *err);
/* The buffer a primitive writes output `o` (shape rank, dims) into, in layout `have`: the
 * output itself when `have` is its plain layout, else a TMP reordered by dn_plan_finish. */
int dn_plan_dst(dn_kernel *k, dn_plan *p, uint32_t o, const dnnl_memory_desc_t *have, int32_t rank, const int64_t *dims,
                kiln_error *err);
int32_t dn_plan_finish(dn_kernel *k, dn_plan *p, kiln_error *err);
/* Reorders `src` (layout src_md) into `dst` (layout dst_md) now, on the provider's stream. */
int32_t dn_reorder_now(dn_kernel *k, const dnnl_memory_desc_t *src_md, void *src, const dnnl_memory_desc_t *dst_md, void *dst,
                       kiln_error *err);
void dn_plan_free(dn_kernel *k, dn_plan *p);
/* A step filling buffer `b` (TMP or OUT) with zeros. */
int32_t dn_plan_zero(dn_kernel *k, dn_plan *p, int b, kiln_error *err);
/* Records the shape of output `o` of a single-node kernel (a group member's outputs get theirs
 * from dn_plan_dst). */
void dn_plan_shape(dn_kernel *k, dn_plan *p, uint32_t o, int32_t rank, const int64_t *dims);
void dn_plan_release(dn_kernel *k, dn_plan *p, int b);
/* A buffer over the same bytes as `b` seen with descriptor `md` (a plain reshape). */
int dn_plan_view(dn_kernel *k, dn_plan *p, int b, const dnnl_memory_desc_t *md, kiln_error *err);
const dnnl_memory_desc_t *dn_buf_md(dn_plan *p, int b);
int32_t dn_plan_run(dn_kernel *k, dn_plan *p, kiln_kernel_ctx *ctx, kiln_error *err);
/* Sets oneDNN's OpenMP threads for this call (docs/threads.md rule 3). */
void dn_threads(dn_provider *pv, kiln_kernel_ctx *ctx);

/* ---- kernels (dn_kernel.c) ---- */
const dn_op *dn_find_op(const kiln_host_api *h, const kiln_node_view *n);
int32_t dn_kernel_create(dn_provider *pv, const kiln_node_view *n, kiln_kernel **out, kiln_error *err);

/* ---- operators (op_*.c) ---- */
extern const dn_op dn_op_conv, dn_op_convtranspose, dn_op_matmul, dn_op_gemm;
extern const dn_op dn_op_eltwise_table[];  /* terminated by op_type NULL */
extern const dn_op dn_op_softmax, dn_op_logsoftmax;
extern const dn_op dn_op_maxpool, dn_op_avgpool, dn_op_gavgpool, dn_op_gmaxpool;
extern const dn_op dn_op_binary_table[];   /* terminated by op_type NULL */
extern const dn_op dn_op_reduce_table[];   /* terminated by op_type NULL */
extern const dn_op dn_op_batchnorm, dn_op_layernorm, dn_op_lrn, dn_op_concat;

#endif
