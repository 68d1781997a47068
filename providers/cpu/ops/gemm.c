/* SPDX-License-Identifier: MIT */
/* Gemm (from opset 1) and MatMul: float32, float16 and bfloat16 through the f32 GEMM, double and
 * integers (wrapping) in a triple loop with a wide accumulator; MatMul broadcasts batch dims and
 * runs a batch of A against one B as one tall GEMM. */
#include <string.h>

#include "kernels/gemm/gemm.h"
#include "providers/cpu/cpu_op.h"
#include "providers/cpu/gemm_parallel.h"
#include "providers/cpu/ops/f32_io.h"

/* ---- generic (double and integer) matrix product ---- */

static int is_int(int32_t dt) {
    return dt == KILN_DTYPE_INT32 || dt == KILN_DTYPE_INT64 || dt == KILN_DTYPE_UINT32 || dt == KILN_DTYPE_UINT64;
}

static int64_t load_i(int32_t dt, const void *p, size_t i) {
    switch (dt) {
    case KILN_DTYPE_INT32: return ((const int32_t *)p)[i];
    case KILN_DTYPE_INT64: return ((const int64_t *)p)[i];
    case KILN_DTYPE_UINT32: return ((const uint32_t *)p)[i];
    default: return (int64_t)((const uint64_t *)p)[i];
    }
}

static void store_i(int32_t dt, void *p, size_t i, uint64_t v) {
    switch (dt) {
    case KILN_DTYPE_INT32: ((int32_t *)p)[i] = (int32_t)v; break;
    case KILN_DTYPE_INT64: ((int64_t *)p)[i] = (int64_t)v; break;
    case KILN_DTYPE_UINT32: ((uint32_t *)p)[i] = (uint32_t)v; break;
    default: ((uint64_t *)p)[i] = v; break;
    }
}

static double load_d(int32_t dt, const void *p, size_t i) {
    if (dt == KILN_DTYPE_DOUBLE) return ((const double *)p)[i];
    if (dt == KILN_DTYPE_UINT64) return (double)((const uint64_t *)p)[i];
    return (double)load_i(dt, p, i);
}

/* c[i*n + j] = sum_p a(i, p) * b(p, j) with a(i, p) at a[i*ras + p*cas], b(p, j) at b[p*rbs + j*cbs].
 * Integers accumulate modulo 2^64 into cu (uint64), double into cd. */
static void matmul_generic(int32_t dt, size_t m, size_t n, size_t k, const void *a, size_t ras, size_t cas, const void *b,
                           size_t rbs, size_t cbs, uint64_t *cu, double *cd) {
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            if (is_int(dt)) {
                uint64_t s = 0;
                for (size_t p = 0; p < k; p++)
                    s += (uint64_t)load_i(dt, a, i * ras + p * cas) * (uint64_t)load_i(dt, b, p * rbs + j * cbs);
                cu[i * n + j] = s;
            } else {
                double s = 0.0;
                for (size_t p = 0; p < k; p++)
                    s += ((const double *)a)[i * ras + p * cas] * ((const double *)b)[p * rbs + j * cbs];
                cd[i * n + j] = s;
            }
        }
}

static int supported(int32_t dt) { return f32_io_supported(dt) || is_int(dt); }

/* ---- Gemm ---- */

typedef struct gemm_kernel {
    cpu_kernel base;
    int32_t dtype;
    int trans_a, trans_b;
    float alpha, beta;
} gemm_kernel;

/* Offset in C (broadcast to [m, n]) of element (i, j). */
static size_t c_at(const kiln_value_desc *c, size_t i, size_t j) {
    size_t cm = c->rank == 2 ? (size_t)c->dims[0] : 1, cn = c->rank >= 1 ? (size_t)c->dims[c->rank - 1] : 1;
    return (cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j);
}

static kiln_status gemm_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const gemm_kernel *k = (const gemm_kernel *)base;
    const kiln_value_desc *a = cpu_in(ctx, 0), *b = cpu_in(ctx, 1), *c = cpu_in(ctx, 2);
    kiln_value_desc *y = ctx->outputs[0];
    if (a->rank != 2 || b->rank != 2 || y->rank != 2) return cpu_fail(err, KILN_ERR_SHAPE, "A and B must be matrices");
    size_t m = (size_t)y->dims[0], n = (size_t)y->dims[1];
    size_t kk = (size_t)a->dims[k->trans_a ? 0 : 1];
    if ((size_t)b->dims[k->trans_b ? 1 : 0] != kk) return cpu_fail(err, KILN_ERR_SHAPE, "inner dims of A and B differ");
    if (c && c->rank > 2) return cpu_fail(err, KILN_ERR_SHAPE, "C must have rank 2 or less");
    int have_c = c && k->beta != 0.0f && c->count > 0;
    if (y->count == 0) return KILN_OK;
    size_t lda = (size_t)a->dims[1], ldb = (size_t)b->dims[1];
    if (f32_io_supported(k->dtype) && k->dtype != KILN_DTYPE_DOUBLE) {
        const float *ad = f32_view(ctx, a), *bd = f32_view(ctx, b), *cd = have_c ? f32_view(ctx, c) : NULL;
        float *yd = f32_out(ctx, y);
        if (!ad || !bd || (have_c && !cd) || !yd) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for Gemm");
        /* Y = beta * C (broadcast), then Y += alpha * A·B. */
        if (have_c)
            for (size_t i = 0; i < m; i++)
                for (size_t j = 0; j < n; j++) yd[i * n + j] = k->beta * cd[c_at(c, i, j)];
        kiln_cpu_f32_gemm(ctx, k->trans_a, k->trans_b, m, n, kk, k->alpha, ad, lda, bd, ldb, have_c ? 1.0f : 0.0f, yd, n);
        f32_commit(y, yd);
        return KILN_OK;
    }
    void *tmp = ctx->host->scratch(ctx, m * n * 8 + 1);
    if (!tmp) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for Gemm");
    int ints = is_int(k->dtype);
    matmul_generic(k->dtype, m, n, kk, a->data, k->trans_a ? 1 : lda, k->trans_a ? lda : 1, b->data, k->trans_b ? 1 : ldb,
                   k->trans_b ? ldb : 1, tmp, tmp);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            size_t o = i * n + j;
            if (ints && k->alpha == 1.0f && (!have_c || k->beta == 1.0f)) {
                uint64_t v = ((uint64_t *)tmp)[o] + (have_c ? (uint64_t)load_i(k->dtype, c->data, c_at(c, i, j)) : 0);
                store_i(k->dtype, y->data, o, v);
                continue;
            }
            double ab = ints ? (double)(int64_t)((uint64_t *)tmp)[o] : ((double *)tmp)[o];
            double v = k->alpha * ab + (have_c ? k->beta * load_d(k->dtype, c->data, c_at(c, i, j)) : 0.0);
            if (ints) store_i(k->dtype, y->data, o, (uint64_t)(int64_t)v);
            else ((double *)y->data)[o] = v;
        }
    return KILN_OK;
}

kiln_status kiln_cpu_gemm(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (!supported(dt) || cpu_input_dtype(n, 1) != dt)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Gemm is not implemented for %s", cpu_dtype_name(dt));
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(gemm_kernel), gemm_compute, out, err));
    gemm_kernel *k = (gemm_kernel *)*out;
    k->dtype = dt;
    k->trans_a = cpu_attr_int(n, "transA", 0) != 0;
    k->trans_b = cpu_attr_int(n, "transB", 0) != 0;
    k->alpha = cpu_attr_float(n, "alpha", 1.0f);
    k->beta = cpu_attr_float(n, "beta", 1.0f);
    return KILN_OK;
}

/* ---- MatMul ---- */

typedef struct matmul_kernel {
    cpu_kernel base;
    int32_t dtype;
} matmul_kernel;

static kiln_status matmul_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const matmul_kernel *k = (const matmul_kernel *)base;
    const kiln_value_desc *a = cpu_in(ctx, 0), *b = cpu_in(ctx, 1);
    kiln_value_desc *y = ctx->outputs[0];
    if (a->rank < 1 || b->rank < 1) return cpu_fail(err, KILN_ERR_SHAPE, "MatMul inputs must not be scalars");
    /* Matrix dims after promoting 1-D operands. */
    size_t m = a->rank == 1 ? 1 : (size_t)a->dims[a->rank - 2];
    size_t kk = (size_t)a->dims[a->rank - 1];
    size_t n = b->rank == 1 ? 1 : (size_t)b->dims[b->rank - 1];
    if ((size_t)b->dims[b->rank == 1 ? 0 : b->rank - 2] != kk) return cpu_fail(err, KILN_ERR_SHAPE, "inner dims differ");
    int32_t ab = a->rank > 2 ? a->rank - 2 : 0, bb = b->rank > 2 ? b->rank - 2 : 0;
    int32_t rb = ab > bb ? ab : bb;
    int64_t bdims[KILN_MAX_RANK], sa[KILN_MAX_RANK], sb[KILN_MAX_RANK];
    size_t batches = 1;
    /* Batch strides in matrices, 0 where an operand broadcasts. */
    int64_t stride_a = 1, stride_b = 1;
    for (int32_t d = rb - 1; d >= 0; d--) {
        int64_t da = d - (rb - ab) >= 0 ? a->dims[d - (rb - ab)] : 1;
        int64_t db = d - (rb - bb) >= 0 ? b->dims[d - (rb - bb)] : 1;
        if (da != db && da != 1 && db != 1) return cpu_fail(err, KILN_ERR_SHAPE, "batch dims do not broadcast");
        bdims[d] = da > db ? da : db;
        sa[d] = da == 1 ? 0 : stride_a;
        sb[d] = db == 1 ? 0 : stride_b;
        stride_a *= da;
        stride_b *= db;
        batches *= (size_t)bdims[d];
    }
    if (y->count == 0) return KILN_OK;
    int f32 = f32_io_supported(k->dtype) && k->dtype != KILN_DTYPE_DOUBLE;
    const void *ad = a->data, *bd = b->data;
    void *yd = y->data;
    size_t es = cpu_dtype_size(k->dtype);
    if (f32) {
        ad = f32_view(ctx, a), bd = f32_view(ctx, b), yd = f32_out(ctx, y), es = sizeof(float);
        if (!ad || !bd || !yd) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for MatMul");
        if (stride_b == 1) {
            /* B is one matrix for every batch: the batches of A stack into one tall GEMM. */
            kiln_cpu_f32_gemm(ctx, 0, 0, batches * m, n, kk, 1.0f, ad, kk, bd, n, 0.0f, yd, n);
            f32_commit(y, yd);
            return KILN_OK;
        }
    }
    uint64_t *tmp = NULL;
    if (!f32) {
        tmp = ctx->host->scratch(ctx, m * n * 8 + 1);
        if (!tmp) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for MatMul");
    }
    for (size_t bi = 0; bi < batches; bi++) {
        size_t rem = bi, oa = 0, ob = 0;
        for (int32_t d = rb - 1; d >= 0; d--) {
            size_t i = rem % (size_t)bdims[d];
            rem /= (size_t)bdims[d];
            oa += i * (size_t)sa[d];
            ob += i * (size_t)sb[d];
        }
        const char *pa = (const char *)ad + oa * m * kk * es;
        const char *pb = (const char *)bd + ob * kk * n * es;
        char *pc = (char *)yd + bi * m * n * es;
        if (f32) {
            kiln_cpu_f32_gemm(ctx, 0, 0, m, n, kk, 1.0f, (const float *)pa, kk, (const float *)pb, n, 0.0f, (float *)pc, n);
            continue;
        }
        matmul_generic(k->dtype, m, n, kk, pa, kk, 1, pb, n, 1, tmp, (double *)tmp);
        for (size_t i = 0; i < m * n; i++) {
            if (k->dtype == KILN_DTYPE_DOUBLE) ((double *)pc)[i] = ((double *)tmp)[i];
            else store_i(k->dtype, pc, i, tmp[i]);
        }
    }
    if (f32) f32_commit(y, yd);
    return KILN_OK;
}

kiln_status kiln_cpu_matmul(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (!supported(dt) || cpu_input_dtype(n, 1) != dt)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "MatMul is not implemented for %s", cpu_dtype_name(dt));
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(matmul_kernel), matmul_compute, out, err));
    ((matmul_kernel *)*out)->dtype = dt;
    return KILN_OK;
}
