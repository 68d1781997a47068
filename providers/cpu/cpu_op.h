/* SPDX-License-Identifier: MIT */
/* What every CPU op file uses: the kernel struct, factories, attribute and input helpers over
 * the provider ABI's node views, and compute-time helpers. The CPU provider sees only
 * abi/kiln_provider.h and kernels/, like any plugin. */
#ifndef KILN_CPU_OP_H
#define KILN_CPU_OP_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln_provider.h"

#define KILN_CPU_TRY(expr)                        \
    do {                                          \
        kiln_status cpu_try_s_ = (expr);          \
        if (cpu_try_s_ != KILN_OK) return cpu_try_s_; \
    } while (0)

/* A node being turned into a kernel. */
typedef struct cpu_node {
    const kiln_host_api *host;
    void *host_ctx;
    const kiln_node_view *view;
    const char *op_type;
    int64_t opset;
} cpu_node;

typedef struct cpu_kernel cpu_kernel;
typedef kiln_status (*cpu_compute_fn)(const cpu_kernel *k, kiln_kernel_ctx *ctx, kiln_error *err);

/* Base of every CPU kernel; op files extend it by embedding it as their first member. */
struct cpu_kernel {
    kiln_kernel abi;              /* first: the ABI object handed to the host */
    cpu_compute_fn compute;
    void (*cleanup)(cpu_kernel *k); /* (optional) frees what the factory allocated besides the kernel */
    /* (optional) 1 when the kernel made its own copy of constant input `input` (packed weights)
     * and never reads the host's again: the answer of the ABI prepack hook, after which the host
     * may free its copy and hand the input with data NULL (dims still set) at compute. */
    int (*owns_input)(const cpu_kernel *k, uint32_t input);
    size_t held_bytes; /* bytes of those own copies, counted in the session's weight figure */
    const kiln_host_api *host;
    void *host_ctx;
};

/* A factory named in graph/ops.def: reads attributes and constant inputs, validates, and
 * creates the kernel; KILN_ERR_UNSUPPORTED for dtypes or attributes it does not handle. */
typedef kiln_status (*cpu_factory)(const cpu_node *n, cpu_kernel **out, kiln_error *err);

/* Bytes a kernel of this provider holds of its own copies of constant inputs (held_bytes): the
 * runtime, which links this provider, adds them to the session's weight figure. */
uint64_t kiln_cpu_kernel_held_bytes(const kiln_kernel *k);

/* Allocates a zeroed kernel of `size` bytes (a struct starting with cpu_kernel). */
kiln_status cpu_kernel_new(const cpu_node *n, size_t size, cpu_compute_fn fn, cpu_kernel **out, kiln_error *err);
/* Host heap for factory-owned buffers (packed weights); freed with cpu_free. */
void *cpu_alloc(const cpu_kernel *k, size_t size);
void cpu_free(const cpu_kernel *k, void *p);

/* Records an error (never allocates) and returns `status`. */
kiln_status cpu_fail(kiln_error *err, kiln_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* ---- node views (factories) ---- */
int cpu_op_is(const cpu_node *n, const char *op_type);
int cpu_has_attr(const cpu_node *n, const char *name);
int64_t cpu_attr_int(const cpu_node *n, const char *name, int64_t dflt);
float cpu_attr_float(const cpu_node *n, const char *name, float dflt);
const char *cpu_attr_str(const cpu_node *n, const char *name, const char *dflt);
/* List attribute: *count items, NULL and 0 when absent. */
const int64_t *cpu_attr_ints(const cpu_node *n, const char *name, uint32_t *count);
const float *cpu_attr_floats(const cpu_node *n, const char *name, uint32_t *count);
uint32_t cpu_input_count(const cpu_node *n);
uint32_t cpu_output_count(const cpu_node *n);
/* Info of input/output i (present 0 when omitted or out of range). */
kiln_value_info cpu_input_info(const cpu_node *n, uint32_t i);
kiln_value_info cpu_output_info(const cpu_node *n, uint32_t i);
/* Element type of input i, 0 when omitted. */
int32_t cpu_input_dtype(const cpu_node *n, uint32_t i);

/* ---- compute time ---- */
static inline const kiln_value_desc *cpu_in(const kiln_kernel_ctx *c, uint32_t i) {
    return i < c->n_inputs ? c->inputs[i] : NULL;
}
/* Output i, allocating it with the given shape when the host has not. */
kiln_status cpu_output(kiln_kernel_ctx *c, uint32_t i, int32_t rank, const int64_t *dims, kiln_value_desc **out,
                       kiln_error *err);
static inline void cpu_parallel_for(kiln_kernel_ctx *c, size_t n, size_t grain, kiln_range_fn fn, void *arg) {
    c->host->parallel_for(c, n, grain, fn, arg);
}
/* A parallel_for grain giving each range at least CPU_TASK_WORK units of work (element reads
 * or multiply-adds) when each index costs `per_index`: smaller jobs cost more in waking
 * threads than they gain. */
#define CPU_TASK_WORK 16384u
static inline size_t cpu_grain(uint64_t per_index) {
    return per_index >= CPU_TASK_WORK ? 1 : (size_t)(CPU_TASK_WORK / (per_index ? per_index : 1));
}
/* Threads a parallel_for may use (1 when the host does not say). */
static inline uint32_t cpu_thread_count(kiln_kernel_ctx *c) {
    return KILN_ABI_HAS(c->host, kiln_host_api, thread_count) && c->host->thread_count ? c->host->thread_count(c) : 1;
}

/* Bytes per element of a dtype of 8 bits or more (STRING: a pointer); 0 for sub-byte types. */
size_t cpu_dtype_size(int32_t dtype);
const char *cpu_dtype_name(int32_t dtype);
int64_t cpu_count(const int64_t *dims, int32_t rank);

#endif
