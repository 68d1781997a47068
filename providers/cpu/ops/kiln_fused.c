/* SPDX-License-Identifier: MIT */
/* kiln.FusedConv, kiln.FusedGemm, kiln.FusedMatMul (float32; docs/kiln-ops.md): the standard
 * Conv / Gemm / MatMul kernel computes into the output, then the epilogue adds the bias (MatMul),
 * the residual Z and applies the activation in place (kiln_epilogue.h is the seam the fp32 GEMM
 * epilogue replaces). Also kiln.Gelu and kiln.LayerNormalization, which are the standard kernels
 * (Gelu-20, LayerNormalization-17) under the kiln domain. */
#include <string.h>

#include "providers/cpu/ops/kiln_epilogue.h"
#include "providers/cpu/registry.h"

enum { FUSED_CONV, FUSED_GEMM, FUSED_MATMUL };

typedef struct fused_kernel {
    cpu_kernel base;
    cpu_kernel *inner;         /* the standard op's kernel (owned) */
    kiln_cpu_epilogue act;     /* activation only; bias and residual are found at compute */
    int kind;
} fused_kernel;

static void fused_cleanup(cpu_kernel *base) {
    fused_kernel *k = (fused_kernel *)base;
    if (k->inner) k->inner->abi.release(&k->inner->abi);
}

static int same_dims(const kiln_value_desc *a, const kiln_value_desc *b) {
    if (a->rank != b->rank) return 0;
    for (int32_t i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i]) return 0;
    return 1;
}

static kiln_status fused_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const fused_kernel *k = (const fused_kernel *)base;
    KILN_CPU_TRY(k->inner->compute(k->inner, ctx, err));
    kiln_value_desc *y = ctx->outputs[0];
    if (!y || y->count == 0) return KILN_OK;
    kiln_cpu_epilogue ep = k->act;
    size_t rows = 1, cols = (size_t)y->count;
    const kiln_value_desc *z = NULL, *bias = NULL;
    if (k->kind == FUSED_CONV) {
        z = cpu_in(ctx, 3);
        if (y->rank >= 2) rows = (size_t)(y->dims[0] * y->dims[1]); /* one row per image and channel */
    } else if (k->kind == FUSED_MATMUL) {
        bias = cpu_in(ctx, 2);
        z = cpu_in(ctx, 3);
        if (y->rank >= 1) rows = (size_t)y->count / (size_t)y->dims[y->rank - 1];
    }
    if (rows == 0) return KILN_OK;
    cols = (size_t)y->count / rows;
    if (bias) {
        if (bias->dtype != KILN_DTYPE_FLOAT || bias->count != cols)
            return cpu_fail(err, KILN_ERR_SHAPE, "bias has %llu values, the output's last dim is %zu", (unsigned long long)bias->count,
                            cols);
        ep.bias = bias->data;
    }
    if (z) {
        if (z->dtype != KILN_DTYPE_FLOAT || !same_dims(z, y))
            return cpu_fail(err, KILN_ERR_SHAPE, "the residual input Z must have the output's shape and dtype float");
        ep.residual = z->data;
    }
    kiln_cpu_epilogue_run(ctx, y->data, rows, cols, &ep);
    return KILN_OK;
}

/* The standard kernel's packed weights are this kernel's (same input indices). */
static int fused_owns_input(const cpu_kernel *base, uint32_t input) {
    const cpu_kernel *in = ((const fused_kernel *)base)->inner;
    return in->owns_input && in->owns_input(in, input);
}

static kiln_status fused_new(const cpu_node *n, int kind, const char *base_op, cpu_factory inner, cpu_kernel **out,
                             kiln_error *err) {
    for (uint32_t i = 0; i < cpu_input_count(n); i++) {
        int32_t dt = cpu_input_dtype(n, i);
        if (dt && dt != KILN_DTYPE_FLOAT && !(kind == FUSED_GEMM && i > 2))
            return cpu_fail(err, KILN_ERR_UNSUPPORTED, "kiln.%s is implemented for float32 only, input %u is %s", n->op_type, i,
                            cpu_dtype_name(dt));
    }
    kiln_cpu_epilogue act;
    memset(&act, 0, sizeof(act));
    KILN_CPU_TRY(kiln_cpu_epilogue_read(n, &act, err));
    cpu_node base = *n;
    base.op_type = base_op;
    base.opset = 13;
    cpu_kernel *ik = NULL;
    KILN_CPU_TRY(inner(&base, &ik, err));
    kiln_status st = cpu_kernel_new(n, sizeof(fused_kernel), fused_compute, out, err);
    if (st != KILN_OK) {
        ik->abi.release(&ik->abi);
        return st;
    }
    fused_kernel *k = (fused_kernel *)*out;
    k->inner = ik;
    k->act = act;
    k->kind = kind;
    k->base.cleanup = fused_cleanup;
    k->base.owns_input = fused_owns_input;
    k->base.held_bytes = ik->held_bytes;
    return KILN_OK;
}

kiln_status kiln_cpu_kiln_fused_conv(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    return fused_new(n, FUSED_CONV, "Conv", kiln_cpu_conv, out, err);
}

kiln_status kiln_cpu_kiln_fused_gemm(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    return fused_new(n, FUSED_GEMM, "Gemm", kiln_cpu_gemm, out, err);
}

kiln_status kiln_cpu_kiln_fused_matmul(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    return fused_new(n, FUSED_MATMUL, "MatMul", kiln_cpu_matmul, out, err);
}

kiln_status kiln_cpu_kiln_gelu(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    cpu_node base = *n;
    base.op_type = "Gelu";
    base.opset = 20;
    return kiln_cpu_activation(&base, out, err);
}

kiln_status kiln_cpu_kiln_layernorm(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    cpu_node base = *n;
    base.op_type = "LayerNormalization";
    base.opset = 17;
    return kiln_cpu_norm(&base, out, err);
}
