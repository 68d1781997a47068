/* SPDX-License-Identifier: MIT */
/* kiln.DynamicQuantMatMul (docs/kiln-ops.md): A (float32) quantized per tensor exactly as
 * DynamicQuantizeLinear does, times the constant 8-bit B minus its zero points in exact int32
 * (kernels/gemm/igemm.h), scaled by a_scale · B_scale[n], plus bias[n], then the activation. B is
 * widened and packed once at kernel creation. The int8 kernels replace the GEMM later. */
#include <math.h>
#include <string.h>

#include "kernels/gemm/igemm.h"
#include "providers/cpu/ops/kiln_epilogue.h"
#include "providers/cpu/ops/quant_common.h"

typedef struct dqmm_kernel {
    cpu_kernel base;
    int16_t *packed_b;
    float *b_scale;    /* [n] */
    size_t k, n;
    kiln_cpu_epilogue act;
} dqmm_kernel;

static void dqmm_cleanup(cpu_kernel *base) {
    dqmm_kernel *k = (dqmm_kernel *)base;
    cpu_free(base, k->packed_b);
    cpu_free(base, k->b_scale);
}

typedef struct dq_job {
    const float *a;
    int16_t *qa;
    float scale, zp;
    const int16_t *bp;
    int32_t *c;
    float *y;
    size_t k, n;
    const float *b_scale;
    const kiln_cpu_epilogue *ep;
} dq_job;

static void quant_range(void *arg, size_t begin, size_t end) {
    const dq_job *j = arg;
    float lo = 0.0f - j->zp, hi = 255.0f - j->zp;
    for (size_t i = begin; i < end; i++) {
        float v = j->a[i] / j->scale;
        v = v > lo ? v : lo; /* NaN goes low, as in DynamicQuantizeLinear */
        v = v < hi ? v : hi;
        j->qa[i] = (int16_t)(int32_t)q_rne(v); /* (q - zero point) */
    }
}

static void gemm_range(void *arg, size_t begin, size_t end) {
    const dq_job *j = arg;
    kiln_s16_gemm(end - begin, j->n, j->k, j->qa + begin * j->k, j->k, j->bp, j->c + begin * j->n, j->n);
    for (size_t r = begin; r < end; r++) {
        const int32_t *cr = j->c + r * j->n;
        float *yr = j->y + r * j->n;
        for (size_t c = 0; c < j->n; c++) yr[c] = (float)cr[c] * (j->scale * j->b_scale[c]);
    }
    kiln_cpu_epilogue_apply(j->y + begin * j->n, end - begin, j->n, j->ep);
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
    const float *ad = a->data;
    float mn = 0.0f, mx = 0.0f; /* the range always holds 0 */
    for (uint64_t i = 0; i < a->count; i++) {
        mn = ad[i] < mn ? ad[i] : mn;
        mx = ad[i] > mx ? ad[i] : mx;
    }
    float scale = (mx == mn ? 1.0f : mx - mn) / 255.0f;
    float zp = q_rne(fminf(fmaxf(0.0f - mn / scale, 0.0f), 255.0f));
    int16_t *qa = ctx->host->scratch(ctx, rows * k->k * sizeof(int16_t) + 1);
    int32_t *c = ctx->host->scratch(ctx, rows * k->n * sizeof(int32_t) + 1);
    if (!qa || !c) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for DynamicQuantMatMul buffers");
    kiln_cpu_epilogue ep = k->act;
    ep.bias = bias ? bias->data : NULL;
    dq_job j = {ad, qa, scale, zp, k->packed_b, c, y->data, k->k, k->n, k->b_scale, &ep};
    cpu_parallel_for(ctx, (size_t)a->count, 16384, quant_range, &j);
    cpu_parallel_for(ctx, rows, cpu_grain((uint64_t)k->k * k->n), gemm_range, &j);
    return KILN_OK;
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
    int16_t *b16 = cpu_alloc(&k->base, kk * nn * sizeof(int16_t) + 1);
    k->packed_b = cpu_alloc(&k->base, kiln_s16_gemm_packed_size(kk, nn) * sizeof(int16_t) + 1);
    k->b_scale = cpu_alloc(&k->base, nn * sizeof(float) + 1);
    if (!b16 || !k->packed_b || !k->b_scale) {
        cpu_free(&k->base, b16);
        k->base.abi.release(&k->base.abi);
        *out = NULL;
        return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory packing DynamicQuantMatMul weights");
    }
    for (size_t r = 0; r < kk; r++)
        for (size_t c = 0; c < nn; c++) {
            int32_t zb = z ? q_get(z->dtype, z->data, z->count == 1 ? 0 : c) : 0;
            b16[r * nn + c] = (int16_t)(q_get(b->dtype, b->data, r * nn + c) - zb);
        }
    kiln_s16_gemm_pack_b(kk, nn, b16, nn, k->packed_b);
    cpu_free(&k->base, b16);
    for (size_t c = 0; c < nn; c++) k->b_scale[c] = ((const float *)s->data)[s->count == 1 ? 0 : c];
    return KILN_OK;
}
