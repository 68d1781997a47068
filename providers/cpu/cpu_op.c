/* SPDX-License-Identifier: MIT */
/* Helpers of cpu_op.h: kernel allocation, error recording, node-view accessors. */
#include "cpu_op.h"

#include <stdio.h>
#include <string.h>

kiln_status cpu_fail(kiln_error *err, kiln_status status, const char *fmt, ...) {
    if (err) {
        err->status = (int32_t)status;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return status;
}

static int32_t kernel_compute(kiln_kernel *k, kiln_kernel_ctx *ctx, kiln_error *err) {
    const cpu_kernel *ck = (const cpu_kernel *)k;
    return (int32_t)ck->compute(ck, ctx, err);
}

static void kernel_release(kiln_kernel *k) {
    cpu_kernel *ck = (cpu_kernel *)k;
    if (ck->cleanup) ck->cleanup(ck);
    ck->host->free(ck->host_ctx, ck);
}

static int32_t kernel_prepack(kiln_kernel *k, uint32_t input, const kiln_value_desc *weight, int32_t *packed,
                              kiln_error *err) {
    (void)weight, (void)err;
    const cpu_kernel *ck = (const cpu_kernel *)k;
    *packed = ck->owns_input && ck->owns_input(ck, input) ? 1 : 0;
    return KILN_OK;
}


/* 0 for a kernel this provider did not make (the host's own, such as its copy kernel). */
uint64_t kiln_cpu_kernel_held_bytes(const kiln_kernel *k) {
    return k && k->release == kernel_release ? ((const cpu_kernel *)k)->held_bytes : 0;
}

kiln_status cpu_kernel_new(const cpu_node *n, size_t size, cpu_compute_fn fn, cpu_kernel **out, kiln_error *err) {
    *out = NULL;
    cpu_kernel *k = n->host->alloc(n->host_ctx, size, 64);
    if (!k) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory creating a kernel");
    memset(k, 0, size);
    k->abi.hdr.struct_size = sizeof(k->abi);
    k->abi.hdr.abi_version = KILN_ABI_VERSION;
    k->abi.state = k;
    k->abi.compute = kernel_compute;
    k->abi.release = kernel_release;
    k->abi.prepack = kernel_prepack;
    k->compute = fn;
    k->host = n->host;
    k->host_ctx = n->host_ctx;
    *out = k;
    return KILN_OK;
}

void *cpu_alloc(const cpu_kernel *k, size_t size) { return k->host->alloc(k->host_ctx, size, 64); }
void cpu_free(const cpu_kernel *k, void *p) { k->host->free(k->host_ctx, p); }

int cpu_op_is(const cpu_node *n, const char *op_type) { return strcmp(n->op_type, op_type) == 0; }

int cpu_has_attr(const cpu_node *n, const char *name) { return n->host->node_attr(n->view, name) != NULL; }

int64_t cpu_attr_int(const cpu_node *n, const char *name, int64_t dflt) {
    const kiln_attr_view *a = n->host->node_attr(n->view, name);
    return a && n->host->attr_type(a) == KILN_ATTR_INT ? n->host->attr_int(a) : dflt;
}

float cpu_attr_float(const cpu_node *n, const char *name, float dflt) {
    const kiln_attr_view *a = n->host->node_attr(n->view, name);
    if (!a) return dflt;
    int32_t t = n->host->attr_type(a);
    if (t == KILN_ATTR_FLOAT) return n->host->attr_float(a);
    if (t == KILN_ATTR_INT) return (float)n->host->attr_int(a);
    return dflt;
}

const char *cpu_attr_str(const cpu_node *n, const char *name, const char *dflt) {
    const kiln_attr_view *a = n->host->node_attr(n->view, name);
    return a && n->host->attr_type(a) == KILN_ATTR_STRING ? n->host->attr_string(a, 0, NULL) : dflt;
}

const int64_t *cpu_attr_ints(const cpu_node *n, const char *name, uint32_t *count) {
    const kiln_attr_view *a = n->host->node_attr(n->view, name);
    if (!a || n->host->attr_type(a) != KILN_ATTR_INTS) {
        *count = 0;
        return NULL;
    }
    *count = n->host->attr_count(a);
    return n->host->attr_ints(a);
}

const float *cpu_attr_floats(const cpu_node *n, const char *name, uint32_t *count) {
    const kiln_attr_view *a = n->host->node_attr(n->view, name);
    if (!a || n->host->attr_type(a) != KILN_ATTR_FLOATS) {
        *count = 0;
        return NULL;
    }
    *count = n->host->attr_count(a);
    return n->host->attr_floats(a);
}

uint32_t cpu_input_count(const cpu_node *n) { return n->host->node_input_count(n->view); }
uint32_t cpu_output_count(const cpu_node *n) { return n->host->node_output_count(n->view); }

kiln_value_info cpu_input_info(const cpu_node *n, uint32_t i) {
    kiln_value_info info;
    memset(&info, 0, sizeof(info));
    info.hdr.struct_size = sizeof(info);
    info.rank = -1;
    if (i < cpu_input_count(n)) n->host->node_input_info(n->view, i, &info);
    return info;
}

kiln_value_info cpu_output_info(const cpu_node *n, uint32_t i) {
    kiln_value_info info;
    memset(&info, 0, sizeof(info));
    info.hdr.struct_size = sizeof(info);
    info.rank = -1;
    if (i < cpu_output_count(n)) n->host->node_output_info(n->view, i, &info);
    return info;
}

int32_t cpu_input_dtype(const cpu_node *n, uint32_t i) {
    kiln_value_info info = cpu_input_info(n, i);
    return info.present ? info.dtype : 0;
}

kiln_status cpu_output(kiln_kernel_ctx *c, uint32_t i, int32_t rank, const int64_t *dims, kiln_value_desc **out,
                       kiln_error *err) {
    if (i < c->n_outputs && c->outputs[i]) {
        kiln_value_desc *d = c->outputs[i];
        if (d->rank == rank && (rank == 0 || memcmp(d->dims, dims, (size_t)rank * sizeof(int64_t)) == 0)) {
            *out = d;
            return KILN_OK;
        }
    }
    return (kiln_status)c->host->alloc_output(c, i, rank, dims, out, err);
}

size_t cpu_dtype_size(int32_t dtype) {
    switch (dtype) {
    case KILN_DTYPE_FLOAT: case KILN_DTYPE_INT32: case KILN_DTYPE_UINT32: return 4;
    case KILN_DTYPE_UINT8: case KILN_DTYPE_INT8: case KILN_DTYPE_BOOL:
    case KILN_DTYPE_FLOAT8E4M3FN: case KILN_DTYPE_FLOAT8E4M3FNUZ: case KILN_DTYPE_FLOAT8E5M2:
    case KILN_DTYPE_FLOAT8E5M2FNUZ: case KILN_DTYPE_FLOAT8E8M0: return 1;
    case KILN_DTYPE_UINT16: case KILN_DTYPE_INT16: case KILN_DTYPE_FLOAT16: case KILN_DTYPE_BFLOAT16: return 2;
    case KILN_DTYPE_INT64: case KILN_DTYPE_UINT64: case KILN_DTYPE_DOUBLE: case KILN_DTYPE_COMPLEX64: return 8;
    case KILN_DTYPE_COMPLEX128: return 16;
    case KILN_DTYPE_STRING: return sizeof(char *);
    default: return 0;
    }
}

const char *cpu_dtype_name(int32_t dtype) {
    static const char *const names[] = {
        "undefined", "float", "uint8", "int8", "uint16", "int16", "int32", "int64", "string",
        "bool", "float16", "double", "uint32", "uint64", "complex64", "complex128", "bfloat16",
        "float8e4m3fn", "float8e4m3fnuz", "float8e5m2", "float8e5m2fnuz", "uint4", "int4",
        "float4e2m1", "float8e8m0", "uint2", "int2",
    };
    return dtype >= 0 && dtype < (int32_t)(sizeof(names) / sizeof(names[0])) ? names[dtype] : "undefined";
}

int64_t cpu_count(const int64_t *dims, int32_t rank) {
    int64_t n = 1;
    for (int32_t i = 0; i < rank; i++) n *= dims[i];
    return n;
}
