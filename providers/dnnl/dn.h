/* SPDX-License-Identifier: MIT */
/* Shared declarations of the oneDNN provider plugin (kiln-provider-dnnl.so). The plugin sees
 * only abi/kiln_provider.h and oneDNN's C API (dnnl.h); never libkiln. See docs/dnnl.md. */
#ifndef KILN_DNNL_DN_H
#define KILN_DNNL_DN_H

#include <stddef.h>
#include <stdint.h>

#include <dnnl.h>

#include "kiln_provider.h"

#define DN_ABI_MIN KILN_ABI_MAKE(1, 0)
#define DN_ABI_MAX KILN_ABI_MAKE(1, 1)
#define DN_MAX_ARGS 8     /* dnnl arguments of one step */
#define DN_MAX_PLANS 8    /* shape signatures cached per kernel */
#define DN_MAX_IN 8       /* inputs of a node the plugin runs */

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
    int zero;                 /* filled with zeros before the steps run */
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
    int pend[DN_MAX_IN];      /* TMP buffer to reorder into output o at the end, or -1 */
    int32_t out_rank[DN_MAX_IN];
    int64_t out_dims[DN_MAX_IN][KILN_MAX_RANK];
    uint64_t uses;
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
} dn_const;

struct dn_kernel;

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
    dn_const consts[DN_MAX_IN];
    dn_plan *plans[DN_MAX_PLANS];
    uint32_t n_plans;
    uint64_t clock;
} dn_kernel;

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
int32_t dn_plan_run(dn_kernel *k, dn_plan *p, kiln_kernel_ctx *ctx, kiln_error *err);
/* Sets oneDNN's OpenMP threads for this call (docs/threads.md rule 3). */
void dn_threads(dn_provider *pv, kiln_kernel_ctx *ctx);

/* ---- kernels (dn_kernel.c) ---- */
const dn_op *dn_find_op(const kiln_host_api *h, const kiln_node_view *n);
int32_t dn_kernel_create(dn_provider *pv, const kiln_node_view *n, kiln_kernel **out, kiln_error *err);

/* ---- operators (op_*.c) ---- */
extern const dn_op dn_op_conv, dn_op_matmul, dn_op_gemm;
extern const dn_op dn_op_eltwise_table[];  /* terminated by op_type NULL */
extern const dn_op dn_op_softmax, dn_op_logsoftmax;
extern const dn_op dn_op_maxpool, dn_op_avgpool, dn_op_gavgpool, dn_op_gmaxpool;
extern const dn_op dn_op_binary_table[];   /* terminated by op_type NULL */

#endif
