/* SPDX-License-Identifier: MIT */
/* Gemm and MatMul. float32 goes through the blocked GEMM (kernels/gemm); other numeric types use
 * a plain triple loop with a wide accumulator. MatMul broadcasts batch dims numpy-style. */
#include <string.h>

#include "kernels/common/half.h"
#include "kernels/gemm/gemm.h"
#include "providers/cpu/cpu_op.h"
#include "providers/cpu/gemm_parallel.h"

/* ---- generic (non-float32) matrix product: C[m,n] = alpha * A·B + beta * C ---- */

static double load(int32_t dt, const void *p, size_t i) {
    switch (dt) {
    case KILN_DTYPE_DOUBLE: return ((const double *)p)[i];
    case KILN_DTYPE_FLOAT: return ((const float *)p)[i];
    case KILN_DTYPE_FLOAT16: return kiln_f16_to_f32(((const uint16_t *)p)[i]);
    case KILN_DTYPE_BFLOAT16: return kiln_bf16_to_f32(((const uint16_t *)p)[i]);
    default: return 0.0;
    }
}

static void store(int32_t dt, void *p, size_t i, double v) {
    switch (dt) {
    case KILN_DTYPE_DOUBLE: ((double *)p)[i] = v; break;
    case KILN_DTYPE_FLOAT: ((float *)p)[i] = (float)v; break;
    case KILN_DTYPE_FLOAT16: ((uint16_t *)p)[i] = kiln_f32_to_f16((float)v); break;
    case KILN_DTYPE_BFLOAT16: ((uint16_t *)p)[i] = kiln_f32_to_bf16((float)v); break;
    default: break;
    }
}

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

/* a: element (i, p) at a[i*ras + p*cas]; b: (p, j) at b[p*rbs + j*cbs]; c row-major m x n. */
static void matmul_generic(int32_t dt, size_t m, size_t n, size_t k, const void *a, size_t ras, size_t cas, const void *b,
                           size_t rbs, size_t cbs, void *c, double alpha, int accumulate) {
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < n; j++) {
            if (is_int(dt)) {
                uint64_t s = 0; /* wraps like the fixed-width result */
                for (size_t p = 0; p < k; p++)
                    s += (uint64_t)load_i(dt, a, i * ras + p * cas) * (uint64_t)load_i(dt, b, p * rbs + j * cbs);
                store_i(dt, c, i * n + j, s);
            } else {
                double s = 0.0;
                for (size_t p = 0; p < k; p++) s += load(dt, a, i * ras + p * cas) * load(dt, b, p * rbs + j * cbs);
                double prev = accumulate ? load(dt, c, i * n + j) : 0.0;
                store(dt, c, i * n + j, alpha * s + prev);
            }
        }
    }
}

static int supported(int32_t dt) {
    return dt == KILN_DTYPE_FLOAT || dt == KILN_DTYPE_DOUBLE || dt == KILN_DTYPE_FLOAT16 || dt == KILN_DTYPE_BFLOAT16 ||
           is_int(dt);
}

/* ---- Gemm ---- */

typedef struct gemm_kernel {
    cpu_kernel base;
    int32_t dtype;
    int trans_a, trans_b;
    float alpha, beta;
} gemm_kernel;

static kiln_status gemm_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const gemm_kernel *k = (const gemm_kernel *)base;
    const kiln_value_desc *a = cpu_in(ctx, 0), *b = cpu_in(ctx, 1), *c = cpu_in(ctx, 2);
    kiln_value_desc *y = ctx->outputs[0];
    size_t m = (size_t)y->dims[0], n = (size_t)y->dims[1];
    size_t kk = (size_t)a->dims[k->trans_a ? 0 : 1];
    size_t es = cpu_dtype_size(k->dtype);
    /* Y = beta * C (broadcast), then Y += alpha * A·B. */
    int have_c = c && k->beta != 0.0f;
    if (have_c) {
        size_t cm = c->rank == 2 ? (size_t)c->dims[0] : 1, cn = c->rank >= 1 ? (size_t)c->dims[c->rank - 1] : 1;
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) {
                size_t src = (cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j);
                memcpy((char *)y->data + (i * n + j) * es, (const char *)c->data + src * es, es);
            }
    }
    if (k->dtype == KILN_DTYPE_FLOAT) {
        if (have_c && k->beta != 1.0f)
            for (size_t i = 0; i < m * n; i++) ((float *)y->data)[i] *= k->beta;
        kiln_cpu_f32_gemm(ctx, k->trans_a, k->trans_b, m, n, kk, k->alpha, a->data, (size_t)a->dims[1], b->data,
                      (size_t)b->dims[1], have_c ? 1.0f : 0.0f, y->data, n);
        return KILN_OK;
    }
    if (is_int(k->dtype)) {
        if (k->alpha != 1.0f || (have_c && k->beta != 1.0f))
            return cpu_fail(err, KILN_ERR_UNSUPPORTED, "integer Gemm with alpha or beta other than 1");
        void *tmp = ctx->host->scratch(ctx, m * n * es + 1);
        if (!tmp) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        matmul_generic(k->dtype, m, n, kk, a->data, k->trans_a ? 1 : kk, k->trans_a ? m : 1, b->data,
                       k->trans_b ? 1 : n, k->trans_b ? kk : 1, tmp, 1.0, 0);
        for (size_t i = 0; i < m * n; i++)
            store_i(k->dtype, y->data, i, (uint64_t)load_i(k->dtype, tmp, i) + (have_c ? (uint64_t)load_i(k->dtype, y->data, i) : 0));
        return KILN_OK;
    }
    if (have_c && k->beta != 1.0f)
        for (size_t i = 0; i < m * n; i++) store(k->dtype, y->data, i, k->beta * load(k->dtype, y->data, i));
    matmul_generic(k->dtype, m, n, kk, a->data, k->trans_a ? 1 : kk, k->trans_a ? m : 1, b->data, k->trans_b ? 1 : n,
                   k->trans_b ? kk : 1, y->data, k->alpha, have_c);
    return KILN_OK;
}

kiln_status kiln_cpu_gemm(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (!supported(dt)) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Gemm is not implemented for %s", cpu_dtype_name(dt));
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
    (void)err;
    const matmul_kernel *k = (const matmul_kernel *)base;
    const kiln_value_desc *a = cpu_in(ctx, 0), *b = cpu_in(ctx, 1);
    kiln_value_desc *y = ctx->outputs[0];
    /* Matrix dims after promoting 1-D operands. */
    size_t m = a->rank == 1 ? 1 : (size_t)a->dims[a->rank - 2];
    size_t kk = (size_t)a->dims[a->rank - 1];
    size_t n = b->rank == 1 ? 1 : (size_t)b->dims[b->rank - 1];
    int32_t ab = a->rank > 2 ? a->rank - 2 : 0, bb = b->rank > 2 ? b->rank - 2 : 0;
    int32_t rb = ab > bb ? ab : bb;
    int64_t bdims[KILN_MAX_RANK], sa[KILN_MAX_RANK], sb[KILN_MAX_RANK];
    size_t batches = 1;
    /* Batch strides in matrices, 0 where an operand broadcasts. */
    int64_t stride_a = 1, stride_b = 1;
    for (int32_t d = rb - 1; d >= 0; d--) {
        int64_t da = d - (rb - ab) >= 0 ? a->dims[d - (rb - ab)] : 1;
        int64_t db = d - (rb - bb) >= 0 ? b->dims[d - (rb - bb)] : 1;
        bdims[d] = da > db ? da : db;
        sa[d] = da == 1 ? 0 : stride_a;
        sb[d] = db == 1 ? 0 : stride_b;
        stride_a *= da;
        stride_b *= db;
        batches *= (size_t)bdims[d];
    }
    size_t es = cpu_dtype_size(k->dtype);
    for (size_t bi = 0; bi < batches; bi++) {
        size_t rem = bi, oa = 0, ob = 0;
        for (int32_t d = rb - 1; d >= 0; d--) {
            size_t i = rem % (size_t)bdims[d];
            rem /= (size_t)bdims[d];
            oa += i * (size_t)sa[d];
            ob += i * (size_t)sb[d];
        }
        const char *pa = (const char *)a->data + oa * m * kk * es;
        const char *pb = (const char *)b->data + ob * kk * n * es;
        char *pc = (char *)y->data + bi * m * n * es;
        if (k->dtype == KILN_DTYPE_FLOAT)
            kiln_cpu_f32_gemm(ctx, 0, 0, m, n, kk, 1.0f, (const float *)pa, kk, (const float *)pb, n, 0.0f, (float *)pc, n);
        else
            matmul_generic(k->dtype, m, n, kk, pa, kk, 1, pb, n, 1, pc, 1.0, 0);
    }
    return KILN_OK;
}

kiln_status kiln_cpu_matmul(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (!supported(dt)) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "MatMul is not implemented for %s", cpu_dtype_name(dt));
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(matmul_kernel), matmul_compute, out, err));
    ((matmul_kernel *)*out)->dtype = dt;
    return KILN_OK;
}
