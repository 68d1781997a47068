/* SPDX-License-Identifier: MIT */
/* kiln.DynamicQuantMatMul (docs/kiln-ops.md): A (float32) quantized per tensor exactly as
 * DynamicQuantizeLinear does, times the constant 8-bit B minus its zero points in exact int32,
 * scaled by a_scale · B_scale[n], plus bias[n], then the activation. The arithmetic is
 * q8_dynamic_matmul's (providers/cpu/ops/q8_gemm.h, docs/int8.md §5): B is packed once at kernel
 * creation for the u8 x s8 GEMM of this CPU (kernels/config/qgemm-config.h, so KILN_CPU_ISA and
 * kiln_cpu_set_cap apply), A is quantized with q8-vcvt, one GEMM with the float epilogue
 * float(sum) · (a_scale · B_scale[n]) + bias[n] -- the unfused chain's Cast, Mul, Add -- and then
 * the activation alone. */
#include <string.h>

#include "providers/cpu/ops/kiln_epilogue.h"
#include "providers/cpu/ops/q8_gemm.h"
#include "providers/cpu/ops/quant_common.h"

typedef struct dqmm_kernel {
    cpu_kernel base;
    const kiln_qgemm_config *cfg; /* read once at creation */
    int8_t *packed_b;             /* kiln_u8s8_pack_b of B (xor 0x80 for a u8 B) */
    int32_t *colsum;              /* [n] column sums of the packed s8 values */
    int32_t *zb2;                 /* [n] B's zero point as the packed s8 values see it */
    float *b_scale;               /* [n] */
    size_t k, n;
    kiln_cpu_epilogue act;        /* the activation only (the bias is in the GEMM's epilogue) */
} dqmm_kernel;

static void dqmm_cleanup(cpu_kernel *base) {
    dqmm_kernel *k = (dqmm_kernel *)base;
    cpu_free(base, k->packed_b);
    cpu_free(base, k->colsum);
    cpu_free(base, k->zb2);
    cpu_free(base, k->b_scale);
}

static kiln_status dqmm_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const dqmm_kernel *k = (const dqmm_kernel *)base;
    const kiln_value_desc *a = cpu_in(ctx, 0), *bias = cpu_in(ctx, 4);
    if (a->rank < 1 || (size_t)a->dims[a->rank - 1] != k->k)
        return cpu_fail(err, KILN_ERR_SHAPE, "A's last dim must be %zu (B's rows)", k->k);
    if (bias && (bias->dtype != KILN_DTYPE_FLOAT || bias->count != k->n))
        return cpu_fail(err, KILN_ERR_SHAPE, "bias must be float32 with %zu values", k->n);
    int64_t dims[KILN_MAX_RANK];
    memcpy(dims, a->dims, (size_t)a->rank * sizeof(int64_t));
    dims[a->rank - 1] = (int64_t)k->n;
    kiln_value_desc *y;
    KILN_CPU_TRY(cpu_output(ctx, 0, a->rank, dims, &y, err));
    size_t rows = k->k ? (size_t)a->count / k->k : 0;
    if (rows == 0 || k->n == 0) return KILN_OK;
    KILN_CPU_TRY(q8_dynamic_matmul(ctx, k->cfg, a->data, rows, k->k, k->n, k->packed_b, k->colsum, k->zb2, k->b_scale,
                                   bias ? bias->data : NULL, y->data, err));
    if (k->act.act != KILN_CPU_ACT_NONE) kiln_cpu_epilogue_run(ctx, y->data, rows, k->n, &k->act);
    return KILN_OK;
}

/* B, B_scale and B_zero_point live on in packed_b, b_scale and zb2: compute never reads them. */
static int dqmm_owns_input(const cpu_kernel *base, uint32_t input) {
    (void)base;
    return input >= 1 && input <= 3;
}

static int is8(int32_t dt) { return dt == KILN_DTYPE_UINT8 || dt == KILN_DTYPE_INT8; }

kiln_status kiln_cpu_kiln_dynq_matmul(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    if (cpu_input_dtype(n, 0) != KILN_DTYPE_FLOAT)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "kiln.DynamicQuantMatMul takes a float32 A, not %s", cpu_dtype_name(cpu_input_dtype(n, 0)));
    kiln_value_info bi = cpu_input_info(n, 1), si = cpu_input_info(n, 2), zi = cpu_input_info(n, 3);
    const kiln_value_desc *b = bi.constant, *s = si.constant, *z = zi.present ? zi.constant : NULL;
    if (!b || !is8(b->dtype) || b->rank != 2)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "kiln.DynamicQuantMatMul needs a constant 2-D 8-bit B");
    size_t kk = (size_t)b->dims[0], nn = (size_t)b->dims[1];
    if (!s || s->dtype != KILN_DTYPE_FLOAT || (s->count != 1 && s->count != nn))
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "B_scale must be a constant float32 scalar or have %zu values", nn);
    if (zi.present && (!z || z->dtype != b->dtype || (z->count != 1 && z->count != nn)))
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "B_zero_point must be a constant of B's type, scalar or with %zu values", nn);
    if (kk >= 33025) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "K = %zu is too large for exact int32 sums", kk);
    kiln_cpu_epilogue act;
    memset(&act, 0, sizeof(act));
    KILN_CPU_TRY(kiln_cpu_epilogue_read(n, &act, err));
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(dqmm_kernel), dqmm_compute, out, err));
    dqmm_kernel *k = (dqmm_kernel *)*out;
    k->base.cleanup = dqmm_cleanup;
    k->k = kk, k->n = nn, k->act = act;
    k->cfg = kiln_qgemm_config_get();
    k->packed_b = cpu_alloc(&k->base, kiln_u8s8_packed_size(kk, nn) + 1);
    k->colsum = cpu_alloc(&k->base, nn * sizeof(int32_t) + 1);
    k->zb2 = cpu_alloc(&k->base, nn * sizeof(int32_t) + 1);
    k->b_scale = cpu_alloc(&k->base, nn * sizeof(float) + 1);
    if (!k->packed_b || !k->colsum || !k->zb2 || !k->b_scale) {
        k->base.abi.release(&k->base.abi);
        *out = NULL;
        return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory packing DynamicQuantMatMul weights");
    }
    int b_u8 = b->dtype == KILN_DTYPE_UINT8;
    q8_pack_b_parallel(NULL, kk, nn, b->data, nn, b_u8 ? 0x80 : 0, k->packed_b, k->colsum);
    for (size_t c = 0; c < nn; c++) {
        k->zb2[c] = (z ? q_get(z->dtype, z->data, z->count == 1 ? 0 : c) : 0) - (b_u8 ? 128 : 0);
        k->b_scale[c] = ((const float *)s->data)[s->count == 1 ? 0 : c];
    }
    k->base.owns_input = dqmm_owns_input;
    k->base.held_bytes = kiln_u8s8_packed_size(kk, nn) + nn * (2 * sizeof(int32_t) + sizeof(float));
    return KILN_OK;
}
