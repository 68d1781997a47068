/* SPDX-License-Identifier: MIT */
/* Gemm (from opset 1) and MatMul: float32, float16 and bfloat16 through the packed f32 GEMM,
 * double and integers (wrapping) in a triple loop with a wide accumulator; MatMul broadcasts batch
 * dims and runs a batch of A against one B as one tall GEMM. A constant float32 B (the weights)
 * is packed once when the kernel is created (alpha folded in for Gemm); Gemm's C of one row
 * becomes the epilogue's column bias. The fused variants (gemm.h) add an activation, a bias and a
 * residual in the same epilogue. */
#include <stdlib.h>
#include <string.h>

#include "kernels/f32-gemm/f32-gemm.h"
#include "providers/cpu/cpu_op.h"
#include "providers/cpu/ops/gemm.h"
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

/* A constant float32 right-hand operand packed once (the B side), with the shape it came from. */
typedef struct packed_weight {
    kiln_f32_packed p;
    int64_t dims[KILN_MAX_RANK];
    int32_t rank;
} packed_weight;

/* Packs input `i` of n (constant float32 whose leading dims are 1) as the B side: K x N, op(B)
 * transposed when `trans`, times alpha. Leaves pw->p.data NULL when the input does not qualify. */
static kiln_status pack_b_input(cpu_kernel *k, const cpu_node *n, uint32_t i, int trans, float alpha, packed_weight *pw,
                                kiln_error *err) {
    const kiln_value_desc *c = cpu_input_info(n, i).constant;
    if (!c || c->dtype != KILN_DTYPE_FLOAT || c->rank < 2 || !c->data) return KILN_OK;
    for (int32_t d = 0; d + 2 < c->rank; d++)
        if (c->dims[d] != 1) return KILN_OK;
    size_t r = (size_t)c->dims[c->rank - 2], cols = (size_t)c->dims[c->rank - 1];
    if (!r || !cols) return KILN_OK;
    size_t kk = trans ? cols : r, nn = trans ? r : cols;
    if (nn < 2) return KILN_OK; /* a single column: the GEMV reads B directly */
    KILN_CPU_TRY(kiln_cpu_pack_weight(k->host, k->host_ctx, KILN_PACKED_B, kk, nn, (const float *)c->data, cols, trans,
                                      alpha, &pw->p, err));
    pw->rank = c->rank;
    for (int32_t d = 0; d < c->rank; d++) pw->dims[d] = c->dims[d];
    return KILN_OK;
}

/* The packed weight when it was packed from a tensor of v's shape (else NULL: compute packs). */
static const kiln_f32_packed *packed_for(const packed_weight *pw, const kiln_value_desc *v) {
    if (!pw->p.data || v->rank != pw->rank) return NULL;
    for (int32_t d = 0; d < v->rank; d++)
        if (v->dims[d] != pw->dims[d]) return NULL;
    return &pw->p;
}

/* Input 1 (B) is owned once packed; Gemm's input 2 (C) once it became the column bias. The
 * factories set these after packing, so compute never reads an owned input's data. */
static int gemm_owns_input(const cpu_kernel *base, uint32_t input);
static int matmul_owns_input(const cpu_kernel *base, uint32_t input);

typedef struct gemm_kernel {
    cpu_kernel base;
    int32_t dtype;
    int trans_a, trans_b;
    float alpha, beta;
    int32_t act;
    float p0, p1;
    packed_weight pb;
    float *col_bias; /* beta * C when C is a constant row of N values; NULL otherwise */
    size_t col_bias_n;
} gemm_kernel;

static void gemm_cleanup(cpu_kernel *base) {
    gemm_kernel *k = (gemm_kernel *)base;
    cpu_free(base, k->pb.p.data);
    cpu_free(base, k->col_bias);
    k->pb.p.data = NULL;
    k->col_bias = NULL;
}

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
        const kiln_f32_packed *pb = packed_for(&k->pb, b);
        int bias_epi = have_c && k->col_bias && k->col_bias_n == n;
        const float *ad = f32_view(ctx, a), *bd = pb ? NULL : f32_view(ctx, b);
        const float *cd = have_c && !bias_epi ? f32_view(ctx, c) : NULL;
        float *yd = f32_out(ctx, y);
        if (!ad || (!pb && !bd) || (have_c && !bias_epi && !cd) || !yd)
            return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for Gemm");
        /* Y = beta * C (broadcast) unless it is a column bias, then Y += alpha * A·B, then the epilogue. */
        if (have_c && !bias_epi)
            for (size_t i = 0; i < m; i++)
                for (size_t j = 0; j < n; j++) yd[i * n + j] = k->beta * cd[c_at(c, i, j)];
        cpu_f32_operand oa = {ad, lda, k->trans_a, NULL}, ob = {bd, ldb, k->trans_b, pb};
        kiln_f32_epilogue ep = {bias_epi ? k->col_bias : NULL, 0, NULL, 0, k->act, k->p0, k->p1};
        KILN_CPU_TRY(kiln_cpu_sgemm(ctx, m, n, kk, pb ? 1.0f : k->alpha, &oa, &ob, yd, n, have_c && !bias_epi, &ep, err));
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

kiln_status kiln_cpu_gemm_create(const cpu_node *n, int32_t act, float p0, float p1, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (!supported(dt) || cpu_input_dtype(n, 1) != dt)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Gemm is not implemented for %s", cpu_dtype_name(dt));
    if (act < 0 || act >= KILN_ACT_COUNT) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "unknown fused activation %d", (int)act);
    if (act != KILN_ACT_NONE && (!f32_io_supported(dt) || dt == KILN_DTYPE_DOUBLE))
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "a fused Gemm is float32 only");
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(gemm_kernel), gemm_compute, out, err));
    gemm_kernel *k = (gemm_kernel *)*out;
    k->base.cleanup = gemm_cleanup;
    k->dtype = dt;
    k->trans_a = cpu_attr_int(n, "transA", 0) != 0;
    k->trans_b = cpu_attr_int(n, "transB", 0) != 0;
    k->alpha = cpu_attr_float(n, "alpha", 1.0f);
    k->beta = cpu_attr_float(n, "beta", 1.0f);
    k->act = act;
    k->p0 = p0;
    k->p1 = p1;
    kiln_status st = KILN_OK;
    if (dt == KILN_DTYPE_FLOAT) {
        st = pack_b_input(&k->base, n, 1, k->trans_b, k->alpha, &k->pb, err);
        const kiln_value_desc *c = cpu_input_info(n, 2).constant;
        /* C of shape [N] or [1, N]: the epilogue's column bias, beta folded in. */
        if (st == KILN_OK && c && c->dtype == KILN_DTYPE_FLOAT && c->data && c->count > 1 &&
            (c->rank == 1 || (c->rank == 2 && c->dims[0] == 1))) {
            k->col_bias = cpu_alloc(&k->base, (size_t)c->count * sizeof(float));
            if (!k->col_bias) st = cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for the Gemm bias");
            else {
                for (uint64_t i = 0; i < c->count; i++) k->col_bias[i] = k->beta * ((const float *)c->data)[i];
                k->col_bias_n = (size_t)c->count;
            }
        }
    }
    if (st != KILN_OK) {
        k->base.abi.release(&k->base.abi);
        *out = NULL;
        return st;
    }
    k->base.held_bytes = (k->pb.p.data ? k->pb.p.bytes : 0) + (k->col_bias ? k->col_bias_n * sizeof(float) : 0);
    k->base.owns_input = gemm_owns_input;
    return st;
}

static int gemm_owns_input(const cpu_kernel *base, uint32_t input) {
    const gemm_kernel *k = (const gemm_kernel *)base;
    return (input == 1 && k->pb.p.data) || (input == 2 && k->col_bias);
}

kiln_status kiln_cpu_gemm(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    return kiln_cpu_gemm_create(n, KILN_ACT_NONE, 0.0f, 0.0f, out, err);
}

/* ---- MatMul ---- */

typedef struct matmul_kernel {
    cpu_kernel base;
    int32_t dtype;
    int32_t act;
    float p0, p1;
    int32_t bias_input, residual_input; /* -1: none */
    packed_weight pb;
} matmul_kernel;

static void matmul_cleanup(cpu_kernel *base) {
    matmul_kernel *k = (matmul_kernel *)base;
    cpu_free(base, k->pb.p.data);
    k->pb.p.data = NULL;
}

static int fused(const matmul_kernel *k) { return k->act != KILN_ACT_NONE || k->bias_input >= 0 || k->residual_input >= 0; }

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
    kiln_f32_epilogue ep = {NULL, 0, NULL, n, k->act, k->p0, k->p1};
    if (f32) {
        const kiln_f32_packed *pb = stride_b == 1 ? packed_for(&k->pb, b) : NULL;
        ad = f32_view(ctx, a), bd = pb ? NULL : f32_view(ctx, b), yd = f32_out(ctx, y), es = sizeof(float);
        if (!ad || (!pb && !bd) || !yd) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for MatMul");
        if (fused(k)) {
            const kiln_value_desc *bias = k->bias_input >= 0 ? cpu_in(ctx, (uint32_t)k->bias_input) : NULL;
            const kiln_value_desc *res = k->residual_input >= 0 ? cpu_in(ctx, (uint32_t)k->residual_input) : NULL;
            if (bias && bias->count != n) return cpu_fail(err, KILN_ERR_SHAPE, "the bias must have N = %zu values", n);
            if (res && res->count != y->count) return cpu_fail(err, KILN_ERR_SHAPE, "the residual must have the output's shape");
            ep.bias = bias ? f32_view(ctx, bias) : NULL;
            ep.residual = res ? f32_view(ctx, res) : NULL;
            if ((bias && !ep.bias) || (res && !ep.residual)) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for MatMul");
        }
        if (stride_b == 1) {
            /* B is one matrix for every batch: the batches of A stack into one tall GEMM. */
            cpu_f32_operand oa = {ad, kk, 0, NULL}, ob = {bd, n, 0, pb};
            KILN_CPU_TRY(kiln_cpu_sgemm(ctx, batches * m, n, kk, 1.0f, &oa, &ob, yd, n, 0, &ep, err));
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
            cpu_f32_operand oa = {(const float *)pa, kk, 0, NULL}, ob = {(const float *)pb, n, 0, NULL};
            kiln_f32_epilogue eb = ep;
            if (eb.residual) eb.residual += bi * m * n;
            KILN_CPU_TRY(kiln_cpu_sgemm(ctx, m, n, kk, 1.0f, &oa, &ob, (float *)pc, n, 0, &eb, err));
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

kiln_status kiln_cpu_matmul_create(const cpu_node *n, int32_t act, float p0, float p1, int32_t bias_input,
                                   int32_t residual_input, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (!supported(dt) || cpu_input_dtype(n, 1) != dt)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "MatMul is not implemented for %s", cpu_dtype_name(dt));
    if (act < 0 || act >= KILN_ACT_COUNT) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "unknown fused activation %d", (int)act);
    int is_fused = act != KILN_ACT_NONE || bias_input >= 0 || residual_input >= 0;
    if (is_fused && (!f32_io_supported(dt) || dt == KILN_DTYPE_DOUBLE))
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "a fused MatMul is float32 only");
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(matmul_kernel), matmul_compute, out, err));
    matmul_kernel *k = (matmul_kernel *)*out;
    k->base.cleanup = matmul_cleanup;
    k->dtype = dt;
    k->act = act;
    k->p0 = p0;
    k->p1 = p1;
    k->bias_input = bias_input;
    k->residual_input = residual_input;
    /* A constant float32 B is packed once (the host then frees the model's copy, so memory holds
     * it once); KILN_MATMUL_PACK=0 reads it in place by rows instead, =1 packs (the default;
     * the rule and its figures: docs/kernels.md §5). */
    const char *pk = getenv("KILN_MATMUL_PACK");
    int pack = !(pk && pk[0] == '0');
    kiln_status st = dt == KILN_DTYPE_FLOAT && pack ? pack_b_input(&k->base, n, 1, 0, 1.0f, &k->pb, err) : KILN_OK;
    if (st != KILN_OK) {
        k->base.abi.release(&k->base.abi);
        *out = NULL;
        return st;
    }
    k->base.held_bytes = k->pb.p.data ? k->pb.p.bytes : 0;
    k->base.owns_input = matmul_owns_input;
    return st;
}

static int matmul_owns_input(const cpu_kernel *base, uint32_t input) {
    return input == 1 && ((const matmul_kernel *)base)->pb.p.data != NULL;
}

kiln_status kiln_cpu_matmul(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    return kiln_cpu_matmul_create(n, KILN_ACT_NONE, 0.0f, 0.0f, -1, -1, out, err);
}
