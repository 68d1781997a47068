/* SPDX-License-Identifier: MIT */
/* MatMulInteger, QLinearMatMul, ConvInteger, QLinearConv. The fast path is the u8 x s8 GEMM
 * (kernels/u8s8-gemm, q8_gemm.h): weights packed once at kernel creation, exact int32 sums,
 * zero-point correction and requantization (x_scale * w_scale / y_scale, round half to even,
 * saturate) in the GEMM's epilogue. Cases it does not take (a zero point or scale per row of A,
 * float8, depthwise and thin grouped convolutions, non-constant convolution weights) go through
 * the int16 GEMM (kernels/gemm/igemm.h) with the zero points subtracted first. docs/int8.md. */
#include <math.h>
#include <string.h>

#include "kernels/config/qgemm-config.h"
#include "kernels/gemm/igemm.h"
#include "kernels/q8-dwconv/q8-dwconv.h"
#include "providers/cpu/cpu_op.h"
#include "providers/cpu/gemm_parallel.h"
#include "providers/cpu/ops/q8_gemm.h"
#include "providers/cpu/ops/quant_common.h"
#include "providers/cpu/ops/window.h"

static int is8(int32_t dt) { return dt == KILN_DTYPE_UINT8 || dt == KILN_DTYPE_INT8; }

/* A zero point (or scale) broadcast over `n` positions: per tensor or one value per position. */
static kiln_status zp_check(const kiln_value_desc *z, int64_t n, const char *what, kiln_error *err) {
    if (z && z->count != 1 && (int64_t)z->count != n)
        return cpu_fail(err, KILN_ERR_SHAPE, "%s must have 1 or %lld values, got %llu", what, (long long)n,
                        (unsigned long long)z->count);
    return KILN_OK;
}

static int32_t zp_at(const kiln_value_desc *z, int64_t i) {
    if (!z) return 0;
    return q_get(z->dtype, z->data, z->count == 1 ? 0 : (size_t)i);
}

/* dst[r][c] = src[r][c] - zp(row r or column c) for a rows x cols block of 8-bit values. */
static void widen(int32_t dt, const void *src, size_t rows, size_t cols, const kiln_value_desc *zrow,
                  const kiln_value_desc *zcol, int16_t *dst) {
    for (size_t r = 0; r < rows; r++) {
        int32_t zr = zp_at(zrow, (int64_t)r);
        int16_t *d = dst + r * cols;
        if (dt == KILN_DTYPE_UINT8) {
            const uint8_t *s = (const uint8_t *)src + r * cols;
            if (zcol && zcol->count != 1)
                for (size_t c = 0; c < cols; c++) d[c] = (int16_t)(s[c] - zr - zp_at(zcol, (int64_t)c));
            else
                for (size_t c = 0; c < cols; c++) d[c] = (int16_t)(s[c] - zr - zp_at(zcol, 0));
        } else {
            const int8_t *s = (const int8_t *)src + r * cols;
            if (zcol && zcol->count != 1)
                for (size_t c = 0; c < cols; c++) d[c] = (int16_t)(s[c] - zr - zp_at(zcol, (int64_t)c));
            else
                for (size_t c = 0; c < cols; c++) d[c] = (int16_t)(s[c] - zr - zp_at(zcol, 0));
        }
    }
}

/* ---- the parallel GEMM + requantization step ---- */

typedef struct igemm_job {
    size_t n, k;
    const int16_t *a;       /* [m][k] */
    const int16_t *bp;      /* packed B */
    int32_t *c;             /* [m][n] sums */
    /* requantization (QLinear): y[i][j] = sat(rne((c + bias[i]) * mult(i, j)) + zy); y NULL: none */
    void *y;
    int32_t ydt, zy;
    const int32_t *bias;    /* per row, or NULL */
    const float *mrow;      /* per row multiplier, or NULL */
    const float *mcol;      /* per column multiplier, or NULL */
    float mult;             /* when neither is given */
    const float *mfull;     /* per element multiplier [m][n] (per-row and per-column scales), or NULL */
} igemm_job;

/* Requantizes one row of sums: y = sat(rne((c + b) * m) + zy), in float as onnxruntime does;
 * written as plain loops over the row so that they vectorize. */
#define REQUANT_ROW(T, MUL)                                                      \
    do {                                                                         \
        T *yr = (T *)j->y + i * j->n;                                            \
        for (size_t c = 0; c < j->n; c++) {                                      \
            float v = (float)(int32_t)((uint32_t)ci[c] + (uint32_t)b) * (MUL);   \
            v = v > flo ? v : flo; /* NaN goes low */                            \
            v = v < fhi ? v : fhi;                                               \
            yr[c] = (T)((int32_t)q_rne(v) + j->zy);                              \
        }                                                                        \
    } while (0)

static void igemm_range(void *arg, size_t begin, size_t end) {
    const igemm_job *j = arg;
    kiln_s16_gemm(end - begin, j->n, j->k, j->a + begin * j->k, j->k, j->bp, j->c + begin * j->n, j->n);
    if (!j->y) return;
    int32_t lo, hi;
    q_range(j->ydt, &lo, &hi);
    /* bounds before adding the zero point; NaN (0 * inf scale) becomes the low bound */
    float flo = (float)(lo - j->zy), fhi = (float)(hi - j->zy);
    for (size_t i = begin; i < end; i++) {
        const int32_t *ci = j->c + i * j->n;
        int32_t b = j->bias ? j->bias[i] : 0;
        float mr = j->mrow ? j->mrow[i] : j->mult;
        const float *mf = j->mfull ? j->mfull + i * j->n : NULL;
        if (j->ydt == KILN_DTYPE_UINT8) {
            if (mf) REQUANT_ROW(uint8_t, mf[c]);
            else if (j->mcol) REQUANT_ROW(uint8_t, j->mcol[c]);
            else REQUANT_ROW(uint8_t, mr);
        } else {
            if (mf) REQUANT_ROW(int8_t, mf[c]);
            else if (j->mcol) REQUANT_ROW(int8_t, j->mcol[c]);
            else REQUANT_ROW(int8_t, mr);
        }
    }
}

/* Multiplier x_scale * w_scale / y_scale with the roundings of the scales' type. */
static float combine(int32_t st, float sx, float sw, float sy) {
    if (st == KILN_DTYPE_FLOAT16) {
        float p = kiln_f16_to_f32(kiln_f32_to_f16(sx * sw));
        return kiln_f16_to_f32(kiln_f32_to_f16(p / sy));
    }
    if (st == KILN_DTYPE_BFLOAT16) {
        float p = kiln_bf16_to_f32(kiln_f32_to_bf16(sx * sw));
        return kiln_bf16_to_f32(kiln_f32_to_bf16(p / sy));
    }
    return sx * sw / sy;
}

/* ---- MatMulInteger and QLinearMatMul ---- */

typedef struct qmm_kernel {
    cpu_kernel base;
    int qlinear;
    uint32_t ia, ib, iza, izb; /* input positions of A, B and their zero points */
    int16_t *packed_b;         /* constant 2-D B with its zero points, packed once; else NULL */
    size_t pk, pn;
    const kiln_qgemm_config *q8; /* the u8 x s8 kernel */
    int8_t *q8_b;              /* constant 2-D 8-bit B packed for it (u8 shifted to s8); else NULL */
    int32_t *q8_colsum;
} qmm_kernel;

static void qmm_cleanup(cpu_kernel *base) {
    qmm_kernel *k = (qmm_kernel *)base;
    cpu_free(base, k->packed_b);
    cpu_free(base, k->q8_b);
    cpu_free(base, k->q8_colsum);
}

/* The u8 x s8 path: A per tensor zero point, B per tensor or per column (shared by the batches),
 * for QLinear a per-tensor a_scale and b_scale per tensor or per column. s8 A is read as u8 via
 * a ^ 0x80 with za + 128, u8 B as s8 via b ^ 0x80 with zb - 128 (docs/int8.md). */
static kiln_status qmm_q8(const qmm_kernel *k, kiln_kernel_ctx *ctx, const kiln_value_desc *a, const kiln_value_desc *b,
                          const kiln_value_desc *za, const kiln_value_desc *zb, kiln_value_desc *y, size_t m, size_t kk,
                          size_t n, size_t batches, int32_t rb, const int64_t *bdims, const int64_t *sa, const int64_t *sb,
                          const kiln_value_desc *sca, const kiln_value_desc *scb, float fy, int32_t zy, kiln_error *err) {
    int a_s8 = a->dtype == KILN_DTYPE_INT8, b_u8 = b->dtype == KILN_DTYPE_UINT8;
    uint32_t za2 = (uint32_t)((za ? q_get(za->dtype, za->data, 0) : 0) + (a_s8 ? 128 : 0));
    /* B shared by every batch: one GEMM over all rows of A */
    size_t mm = b->rank <= 2 ? m * batches : m, reps = b->rank <= 2 ? 1 : batches;
    int32_t *zb2 = ctx->host->scratch(ctx, n * sizeof(int32_t) + 1), *col_add = ctx->host->scratch(ctx, n * sizeof(int32_t) + 1);
    int32_t *rowsum = ctx->host->scratch(ctx, mm * sizeof(int32_t) + 1);
    float *mcol = k->qlinear ? ctx->host->scratch(ctx, n * sizeof(float) + 1) : NULL;
    if (!zb2 || !col_add || !rowsum || (k->qlinear && !mcol)) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    int any_zb = 0, zb_uniform = 1;
    for (size_t j = 0; j < n; j++) {
        zb2[j] = (zb ? q_get(zb->dtype, zb->data, zb->count == 1 ? 0 : j) : 0) - (b_u8 ? 128 : 0);
        any_zb |= zb2[j] != 0;
        zb_uniform &= zb2[j] == zb2[0];
    }
    /* one zero point for all of B: its term -zb * rowsum(a)[i] is per row, no product per element */
    int32_t *row_add = any_zb && zb_uniform ? ctx->host->scratch(ctx, mm * sizeof(int32_t) + 1) : NULL;
    if (any_zb && zb_uniform && !row_add) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    kiln_qgemm_epilogue ep = {0};
    ep.out = KILN_QGEMM_OUT_S32;
    if (k->qlinear) {
        float a0 = q_scale(sca->dtype, sca->data, 0), b0 = q_scale(scb->dtype, scb->data, 0);
        for (size_t j = 0; j < n; j++) mcol[j] = combine(sca->dtype, a0, scb->count > 1 ? q_scale(scb->dtype, scb->data, j) : b0, fy);
        ep.out = y->dtype == KILN_DTYPE_UINT8 ? KILN_QGEMM_OUT_U8 : KILN_QGEMM_OUT_S8;
        ep.scale = mcol, ep.zy = zy;
    }
    const uint8_t *a8 = a->data;
    if (a_s8) {
        uint8_t *t = ctx->host->scratch(ctx, a->count + 1);
        if (!t) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        for (size_t i = 0; i < a->count; i++) t[i] = ((const uint8_t *)a->data)[i] ^ 0x80;
        a8 = t;
    }
    const int8_t *pb = k->q8_b;
    const int32_t *cs = k->q8_colsum;
    int8_t *pbuf = NULL;
    int32_t *csbuf = NULL;
    if (!pb) {
        pbuf = ctx->host->scratch(ctx, kiln_u8s8_packed_size(kk, n) + 1);
        csbuf = ctx->host->scratch(ctx, n * sizeof(int32_t) + 1);
        if (!pbuf || !csbuf) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for the packed B");
    }
    size_t es = kiln_qgemm_out_size(ep.out), prev_b = (size_t)-1;
    for (size_t bi = 0; bi < reps; bi++) {
        size_t ai = 0, bj = 0, rem = bi;
        for (int32_t d = rb - 1; d >= 0 && reps > 1; d--) {
            size_t t = rem % (size_t)bdims[d];
            rem /= (size_t)bdims[d];
            ai += t * (size_t)sa[d], bj += t * (size_t)sb[d];
        }
        if (!k->q8_b && bj != prev_b) {
            q8_pack_b_parallel(ctx, kk, n, (const uint8_t *)b->data + bj * kk * n, n, b_u8 ? 0x80 : 0, pbuf, csbuf);
            pb = pbuf, cs = csbuf, prev_b = bj;
        }
        for (size_t j = 0; j < n; j++)
            col_add[j] = (int32_t)((uint32_t)kk * za2 * (uint32_t)zb2[j] - za2 * (uint32_t)cs[j]);
        const uint8_t *ab = a8 + ai * m * kk;
        if (any_zb) kiln_u8_rowsum(mm, kk, ab, kk, 0, rowsum);
        if (row_add)
            for (size_t i = 0; i < mm; i++) row_add[i] = (int32_t)(0u - (uint32_t)zb2[0] * (uint32_t)rowsum[i]);
        ep.col_add = col_add;
        ep.row_add = row_add;
        ep.row_mul = any_zb && !row_add ? rowsum : NULL;
        ep.col_mul = any_zb && !row_add ? zb2 : NULL;
        q8_gemm_parallel(ctx, k->q8, mm, n, kk, ab, kk, pb, (char *)y->data + bi * mm * n * es, n, &ep);
    }
    return KILN_OK;
}

/* Value of element i of an 8-bit integer or float8 tensor, as float. */
static float qval(int32_t dt, const void *p, size_t i) {
    return minifloat_of(dt) ? mf_get(dt, p, i) : (float)q_get(dt, p, i);
}

/* A per-row (A) or per-column (B) parameter of one batch: `count` values overall, 1 (per tensor),
 * `len` (shared by the batches) or mats * len; returns the offset of this batch's values. */
static size_t per_batch(const kiln_value_desc *v, size_t len, size_t idx) {
    return !v || v->count == 1 || v->count == len ? 0 : idx * len;
}

static kiln_status param_check(const kiln_value_desc *v, size_t len, size_t mats, const char *what, kiln_error *err) {
    if (v && v->count != 1 && v->count != len && v->count != mats * len)
        return cpu_fail(err, KILN_ERR_SHAPE, "%s must have 1, %zu or %zu values, got %llu", what, len, mats * len,
                        (unsigned long long)v->count);
    return KILN_OK;
}

static kiln_status qmm_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const qmm_kernel *k = (const qmm_kernel *)base;
    const kiln_value_desc *a = cpu_in(ctx, k->ia), *b = cpu_in(ctx, k->ib), *za = cpu_in(ctx, k->iza), *zb = cpu_in(ctx, k->izb);
    kiln_value_desc *y = ctx->outputs[0];
    if (a->rank < 1 || b->rank < 1) return cpu_fail(err, KILN_ERR_SHAPE, "inputs must not be scalars");
    size_t m = a->rank == 1 ? 1 : (size_t)a->dims[a->rank - 2], kk = (size_t)a->dims[a->rank - 1];
    size_t n = b->rank == 1 ? 1 : (size_t)b->dims[b->rank - 1];
    if ((size_t)b->dims[b->rank == 1 ? 0 : b->rank - 2] != kk) return cpu_fail(err, KILN_ERR_SHAPE, "inner dims differ");
    /* numpy batch broadcasting: strides in matrices, 0 where an operand broadcasts */
    int32_t ab = a->rank > 2 ? a->rank - 2 : 0, bb = b->rank > 2 ? b->rank - 2 : 0, rb = ab > bb ? ab : bb;
    int64_t bdims[KILN_MAX_RANK], sa[KILN_MAX_RANK], sb[KILN_MAX_RANK], stride_a = 1, stride_b = 1;
    size_t batches = 1;
    for (int32_t d = rb - 1; d >= 0; d--) {
        int64_t da = d - (rb - ab) >= 0 ? a->dims[d - (rb - ab)] : 1, db = d - (rb - bb) >= 0 ? b->dims[d - (rb - bb)] : 1;
        if (da != db && da != 1 && db != 1) return cpu_fail(err, KILN_ERR_SHAPE, "batch dims do not broadcast");
        bdims[d] = da > db ? da : db;
        sa[d] = da == 1 ? 0 : stride_a;
        sb[d] = db == 1 ? 0 : stride_b;
        stride_a *= da, stride_b *= db;
        batches *= (size_t)bdims[d];
    }
    size_t a_mats = (size_t)stride_a, b_mats = (size_t)stride_b;
    if ((k->packed_b || k->q8_b) && (kk != k->pk || n != k->pn)) return cpu_fail(err, KILN_ERR_SHAPE, "B changed shape");
    KILN_CPU_TRY(param_check(za, m, a_mats, "the zero point of A", err));
    KILN_CPU_TRY(param_check(zb, n, b_mats, "the zero point of B", err));
    const kiln_value_desc *sca = NULL, *scb = NULL, *scy = NULL, *yz = NULL;
    if (k->qlinear) {
        sca = cpu_in(ctx, 1), scb = cpu_in(ctx, 4), scy = cpu_in(ctx, 6), yz = cpu_in(ctx, 7);
        if (scy->count != 1 || (yz && yz->count != 1)) return cpu_fail(err, KILN_ERR_SHAPE, "y_scale and y_zero_point must be scalars");
        KILN_CPU_TRY(param_check(sca, m, a_mats, "a_scale", err));
        KILN_CPU_TRY(param_check(scb, n, b_mats, "b_scale", err));
    }
    if (y->count == 0) return KILN_OK;
    int fp8 = minifloat_of(a->dtype) || minifloat_of(b->dtype) || minifloat_of(y->dtype);
    float fy = k->qlinear ? q_scale(scy->dtype, scy->data, 0) : 1.0f;
    int32_t st = k->qlinear ? sca->dtype : 0, zy = yz && !fp8 ? q_get(yz->dtype, yz->data, 0) : 0;
    if (!fp8 && k->q8 && is8(a->dtype) && is8(b->dtype) && (!za || za->count == 1) && (!zb || zb->count == 1 || zb->count == n) &&
        (!k->qlinear || (sca->count == 1 && (scb->count == 1 || scb->count == n))))
        return qmm_q8(k, ctx, a, b, za, zb, y, m, kk, n, batches, rb, bdims, sa, sb, sca, scb, fy, zy, err);
    float *mrow = ctx->host->scratch(ctx, m * sizeof(float) + 1), *mcol = ctx->host->scratch(ctx, n * sizeof(float) + 1);
    float *mfull = k->qlinear && sca->count > 1 && scb->count > 1 ? ctx->host->scratch(ctx, m * n * sizeof(float) + 1) : NULL;
    if (!mrow || !mcol || (k->qlinear && sca->count > 1 && scb->count > 1 && !mfull))
        return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");

    /* int path: int16 operands and packed B; float8 path: float operands and the f32 GEMM */
    int16_t *a16 = NULL, *pb = k->packed_b, *b16 = NULL;
    float *fa = NULL, *fb = NULL, *facc = NULL;
    int32_t *acc = NULL;
    if (fp8) {
        fa = ctx->host->scratch(ctx, m * kk * sizeof(float) + 1);
        fb = ctx->host->scratch(ctx, kk * n * sizeof(float) + 1);
        facc = ctx->host->scratch(ctx, m * n * sizeof(float) + 1);
        if (!fa || !fb || !facc) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for the quantized matmul");
    } else {
        a16 = ctx->host->scratch(ctx, m * kk * sizeof(int16_t) + 1);
        if (!pb) {
            b16 = ctx->host->scratch(ctx, kk * n * sizeof(int16_t) + 1);
            pb = ctx->host->scratch(ctx, kiln_s16_gemm_packed_size(kk, n) * sizeof(int16_t) + 1);
        }
        acc = k->qlinear ? ctx->host->scratch(ctx, m * n * sizeof(int32_t) + 1) : y->data;
        if (!a16 || !pb || (!k->packed_b && !b16) || !acc) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for the integer matmul");
    }
    size_t prev_b = (size_t)-1;
    for (size_t bi = 0; bi < batches; bi++) {
        size_t ai = 0, bj = 0, rem = bi;
        for (int32_t d = rb - 1; d >= 0; d--) {
            size_t t = rem % (size_t)bdims[d];
            rem /= (size_t)bdims[d];
            ai += t * (size_t)sa[d], bj += t * (size_t)sb[d];
        }
        /* this batch's per-row zero points of A and per-column ones of B */
        kiln_value_desc zrow, zcol;
        const kiln_value_desc *zr = za, *zc = zb;
        if (za && za->count > 1)
            zrow = *za, zrow.data = (char *)za->data + per_batch(za, m, ai) * cpu_dtype_size(za->dtype), zrow.count = m, zr = &zrow;
        if (zb && zb->count > 1)
            zcol = *zb, zcol.data = (char *)zb->data + per_batch(zb, n, bj) * cpu_dtype_size(zb->dtype), zcol.count = n, zc = &zcol;
        /* requantization multipliers (x_scale * w_scale / y_scale) */
        igemm_job j = {n, kk, a16, pb, NULL, NULL, y->dtype, zy, NULL, NULL, NULL, 1.0f, NULL};
        if (k->qlinear) {
            size_t ra = per_batch(sca, m, ai), cb = per_batch(scb, n, bj);
            float a0 = q_scale(sca->dtype, sca->data, ra), b0 = q_scale(scb->dtype, scb->data, cb);
            for (size_t i = 0; i < m; i++) mrow[i] = combine(st, sca->count > 1 ? q_scale(sca->dtype, sca->data, ra + i) : a0, b0, fy);
            for (size_t c = 0; c < n; c++) mcol[c] = combine(st, a0, scb->count > 1 ? q_scale(scb->dtype, scb->data, cb + c) : b0, fy);
            if (mfull)
                for (size_t i = 0; i < m; i++)
                    for (size_t c = 0; c < n; c++)
                        mfull[i * n + c] = combine(st, q_scale(sca->dtype, sca->data, ra + i), q_scale(scb->dtype, scb->data, cb + c), fy);
            j.mult = mrow[0];
            j.mrow = sca->count > 1 ? mrow : NULL;
            j.mcol = scb->count > 1 ? mcol : NULL;
            j.mfull = mfull;
        }
        if (fp8) {
            const char *ap = (const char *)a->data, *bp = (const char *)b->data;
            for (size_t i = 0; i < m; i++)
                for (size_t p = 0; p < kk; p++)
                    fa[i * kk + p] = qval(a->dtype, ap, ai * m * kk + i * kk + p) - (zr ? qval(zr->dtype, zr->data, zr->count == 1 ? 0 : i) : 0.0f);
            for (size_t p = 0; p < kk; p++)
                for (size_t c = 0; c < n; c++)
                    fb[p * n + c] = qval(b->dtype, bp, bj * kk * n + p * n + c) - (zc ? qval(zc->dtype, zc->data, zc->count == 1 ? 0 : c) : 0.0f);
            kiln_cpu_f32_gemm(ctx, 0, 0, m, n, kk, 1.0f, fa, kk, fb, n, 0.0f, facc, n);
            const kiln_minifloat *mf = minifloat_of(y->dtype);
            float fz = yz ? qval(yz->dtype, yz->data, 0) : 0.0f;
            int32_t lo, hi;
            q_range(y->dtype, &lo, &hi);
            for (size_t i = 0; i < m; i++)
                for (size_t c = 0; c < n; c++) {
                    float mm = j.mfull ? j.mfull[i * n + c] : j.mcol ? j.mcol[c] : j.mrow ? j.mrow[i] : j.mult;
                    size_t o = bi * m * n + i * n + c;
                    float v = facc[i * n + c] * mm;
                    if (mf) mf_set(y->dtype, y->data, o, kiln_mf_encode(mf, (double)(v + fz), 1));
                    else q_set(y->dtype, y->data, o, q_saturate(v, fz, lo, hi));
                }
            continue;
        }
        widen(a->dtype, (const char *)a->data + ai * m * kk, m, kk, zr, NULL, a16);
        if (!k->packed_b && bj != prev_b) {
            widen(b->dtype, (const char *)b->data + bj * kk * n, kk, n, NULL, zc, b16);
            kiln_s16_gemm_pack_b(kk, n, b16, n, pb);
            prev_b = bj;
        }
        j.c = k->qlinear ? acc : acc + bi * m * n;
        if (k->qlinear) j.y = (char *)y->data + bi * m * n;
        cpu_parallel_for(ctx, m, 16, igemm_range, &j);
    }
    return KILN_OK;
}

static kiln_status qmm_new(const cpu_node *n, int qlinear, cpu_kernel **out, kiln_error *err) {
    uint32_t ia = 0, ib = qlinear ? 3 : 1, iza = 2, izb = qlinear ? 5 : 3;
    int32_t at = cpu_input_dtype(n, ia), bt = cpu_input_dtype(n, ib);
    /* float8 operands only for QLinearMatMul (opset 21) */
    int a_ok = is8(at) || (qlinear && minifloat_of(at) && at != KILN_DTYPE_FLOAT4E2M1);
    int b_ok = is8(bt) || (qlinear && minifloat_of(bt) && bt != KILN_DTYPE_FLOAT4E2M1);
    if (!a_ok || !b_ok)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "%s is not implemented for %s x %s", n->op_type, cpu_dtype_name(at),
                        cpu_dtype_name(bt));
    if ((cpu_input_dtype(n, iza) && cpu_input_dtype(n, iza) != at) || (cpu_input_dtype(n, izb) && cpu_input_dtype(n, izb) != bt))
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "%s: zero points must have their inputs' types", n->op_type);
    if (qlinear) {
        int32_t yt = cpu_output_info(n, 0).dtype;
        if (!is8(yt) && !(minifloat_of(yt) && yt != KILN_DTYPE_FLOAT4E2M1))
            return cpu_fail(err, KILN_ERR_UNSUPPORTED, "QLinearMatMul is not implemented for output %s", cpu_dtype_name(yt));
        int32_t st[3] = {cpu_input_dtype(n, 1), cpu_input_dtype(n, 4), cpu_input_dtype(n, 6)};
        for (int i = 0; i < 3; i++)
            if (st[i] != KILN_DTYPE_FLOAT && st[i] != KILN_DTYPE_FLOAT16 && st[i] != KILN_DTYPE_BFLOAT16)
                return cpu_fail(err, KILN_ERR_UNSUPPORTED, "QLinearMatMul is not implemented for scale %s", cpu_dtype_name(st[i]));
    }
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(qmm_kernel), qmm_compute, out, err));
    qmm_kernel *k = (qmm_kernel *)*out;
    k->base.cleanup = qmm_cleanup;
    k->qlinear = qlinear;
    k->ia = ia, k->ib = ib, k->iza = iza, k->izb = izb;
    /* A constant 2-D 8-bit B is packed once for the u8 x s8 GEMM, else (with its zero point)
     * widened and packed once for the int16 one. */
    kiln_value_info bi = cpu_input_info(n, ib), zi = cpu_input_info(n, izb);
    const kiln_value_desc *bc = bi.constant, *zc = zi.present ? zi.constant : NULL;
    k->q8 = kiln_qgemm_config_get();
    if (bc && is8(bc->dtype) && bc->rank == 2) {
        size_t kk = (size_t)bc->dims[0], nn = (size_t)bc->dims[1];
        k->q8_b = cpu_alloc(&k->base, kiln_u8s8_packed_size(kk, nn) + 1);
        k->q8_colsum = cpu_alloc(&k->base, nn * sizeof(int32_t) + 1);
        if (k->q8_b && k->q8_colsum) {
            q8_pack_b_parallel(NULL, kk, nn, bc->data, nn, bc->dtype == KILN_DTYPE_UINT8 ? 0x80 : 0, k->q8_b, k->q8_colsum);
            k->pk = kk, k->pn = nn;
            return KILN_OK;
        }
        cpu_free(&k->base, k->q8_b);
        cpu_free(&k->base, k->q8_colsum);
        k->q8_b = NULL, k->q8_colsum = NULL; /* packed per call instead */
    }
    if (bc && is8(bc->dtype) && bc->rank == 2 && (!zi.present || (zc && (zc->count == 1 || (int64_t)zc->count == bc->dims[1])))) {
        size_t kk = (size_t)bc->dims[0], nn = (size_t)bc->dims[1];
        int16_t *b16 = cpu_alloc(&k->base, kk * nn * sizeof(int16_t) + 1);
        k->packed_b = cpu_alloc(&k->base, kiln_s16_gemm_packed_size(kk, nn) * sizeof(int16_t) + 1);
        if (!b16 || !k->packed_b) {
            cpu_free(&k->base, b16);
            cpu_free(&k->base, k->packed_b);
            k->packed_b = NULL; /* packed per call instead */
        } else {
            widen(bc->dtype, bc->data, kk, nn, NULL, zc, b16);
            kiln_s16_gemm_pack_b(kk, nn, b16, nn, k->packed_b);
            cpu_free(&k->base, b16);
            k->pk = kk, k->pn = nn;
        }
    }
    return KILN_OK;
}

kiln_status kiln_cpu_matmul_integer(const cpu_node *n, cpu_kernel **out, kiln_error *err) { return qmm_new(n, 0, out, err); }
kiln_status kiln_cpu_qlinear_matmul(const cpu_node *n, cpu_kernel **out, kiln_error *err) { return qmm_new(n, 1, out, err); }

/* ---- ConvInteger and QLinearConv ---- */

/* Writes row r of one group's im2col matrix — channel r / k_size at kernel offset r % k_size,
 * zero point subtracted, padding 0 — to dst[j * 2] for every output position j: one lane of
 * the pair-packed layout of igemm.h, so the matrix is never materialized. */
#define CONV_ROW(T)                                                                                   \
    do {                                                                                              \
        const T *xc = (const T *)xg + (r / w->k_size) * w->in_size;                                   \
        int64_t kk = r % w->k_size;                                                                   \
        if (w->sp == 2) {                                                                             \
            int64_t kh = kk / w->k[1], kw = kk % w->k[1], ow_n = w->out[1];                           \
            for (int64_t oh = 0; oh < w->out[0]; oh++) {                                              \
                int16_t *d = dst + 2 * oh * ow_n;                                                     \
                int64_t ih = oh * w->s[0] - w->pb[0] + kh * w->d[0];                                  \
                if (ih < 0 || ih >= w->in[0]) {                                                       \
                    for (int64_t ow = 0; ow < ow_n; ow++) d[2 * ow] = 0;                              \
                    continue;                                                                         \
                }                                                                                     \
                const T *xr = xc + ih * w->in[1];                                                     \
                int64_t x0 = kw * w->d[1] - w->pb[1], sw = w->s[1];                                   \
                for (int64_t ow = 0; ow < ow_n; ow++) {                                               \
                    int64_t iw = x0 + ow * sw;                                                        \
                    d[2 * ow] = iw >= 0 && iw < w->in[1] ? (int16_t)(xr[iw] - zx) : 0;                \
                }                                                                                     \
            }                                                                                         \
        } else {                                                                                      \
            int64_t kidx[KILN_MAX_RANK], oidx[KILN_MAX_RANK] = {0}, rem = kk;                         \
            for (int32_t a = w->sp - 1; a >= 0; a--) kidx[a] = rem % w->k[a], rem /= w->k[a];         \
            for (int64_t o = 0; o < w->out_size; o++) {                                               \
                int64_t off = 0;                                                                      \
                int inside = 1;                                                                       \
                for (int32_t a = 0; a < w->sp && inside; a++) {                                      \
                    int64_t q = oidx[a] * w->s[a] - w->pb[a] + kidx[a] * w->d[a];                     \
                    inside = q >= 0 && q < w->in[a];                                                  \
                    off = off * w->in[a] + q;                                                         \
                }                                                                                     \
                dst[2 * o] = inside ? (int16_t)(xc[off] - zx) : 0;                                    \
                for (int32_t a = w->sp - 1; a >= 0; a--) {                                            \
                    if (++oidx[a] < w->out[a]) break;                                                 \
                    oidx[a] = 0;                                                                      \
                }                                                                                     \
            }                                                                                         \
        }                                                                                             \
    } while (0)

static void conv_row(int32_t dt, const void *xg, int32_t zx, const cpu_window *w, int64_t r, int16_t *dst) {
    if (dt == KILN_DTYPE_UINT8) CONV_ROW(uint8_t);
    else CONV_ROW(int8_t);
}

typedef struct pack_job {
    int32_t dt;
    const void *xg; /* the group's first input plane */
    int32_t zx;
    const cpu_window *w;
    int64_t rows;
    int16_t *packed;
} pack_job;

/* Pairs of im2col rows [begin, end) into the packed B. */
static void pack_range(void *arg, size_t begin, size_t end) {
    const pack_job *j = arg;
    size_t n = (size_t)j->w->out_size, npad = (n + KILN_S16_GEMM_NR - 1) / KILN_S16_GEMM_NR * KILN_S16_GEMM_NR;
    for (size_t pp = begin; pp < end; pp++) {
        int16_t *dst = j->packed + pp * 2 * npad;
        conv_row(j->dt, j->xg, j->zx, j->w, (int64_t)(2 * pp), dst);
        if ((int64_t)(2 * pp + 1) < j->rows) conv_row(j->dt, j->xg, j->zx, j->w, (int64_t)(2 * pp + 1), dst + 1);
        else
            for (size_t c = 0; c < n; c++) dst[2 * c + 1] = 0;
        memset(dst + 2 * n, 0, (npad - n) * 2 * sizeof(int16_t));
    }
}

typedef struct qconv_kernel {
    cpu_kernel base;
    cpu_window_attrs wa;
    int64_t group;
    int qlinear;
    uint32_t ix, iw, izx, izw;
    int16_t *w16; /* constant weights minus their zero points, [M][C/group * k]; else NULL */
    const kiln_qgemm_config *q8;
    uint8_t *w8;      /* constant weights as u8 (s8 ^ 0x80), [M][C/group * k], for the u8 x s8 GEMM; else NULL */
    int32_t *w8sum;   /* their row sums */
    int w_s8;
} qconv_kernel;

static void qconv_cleanup(cpu_kernel *base) {
    qconv_kernel *k = (qconv_kernel *)base;
    cpu_free(base, k->w16);
    cpu_free(base, k->w8);
    cpu_free(base, k->w8sum);
}

typedef struct im2col_job {
    const uint8_t *x;
    const cpu_window *w;
    uint8_t pad;
    uint8_t *col;
} im2col_job;

static void im2col_range(void *arg, size_t begin, size_t end) {
    const im2col_job *j = arg;
    cpu_im2col_u8(j->x + begin * (size_t)j->w->in_size, (int64_t)(end - begin), j->w, j->pad,
                  j->col + begin * (size_t)(j->w->k_size * j->w->out_size));
}

typedef struct dw_job {
    const kiln_value_desc *x;
    const cpu_window *w;
    const int16_t *w16; /* [m][k_size], minus the zero points */
    int32_t zx;
    int64_t m;
    const kiln_qgemm_epilogue *ep;
    void *y;
    size_t es;
    int32_t *rows; /* one output row of int32 per plane */
} dw_job;

/* Planes [begin, end) of a depthwise convolution (one input channel per output channel). */
static void dw_range(void *arg, size_t begin, size_t end) {
    const dw_job *j = arg;
    const cpu_window *w = j->w;
    kiln_q8_dwconv_shape s = {w->in[0], w->in[1], w->out[0], w->out[1], w->k[0], w->k[1], w->s[0], w->s[1], w->pb[0], w->pb[1], w->d[0], w->d[1]};
    for (size_t p = begin; p < end; p++) {
        size_t ch = p % (size_t)j->m;
        kiln_q8_dwconv2d(&s, (const char *)j->x->data + p * (size_t)w->in_size, j->x->dtype == KILN_DTYPE_INT8, j->zx,
                         j->w16 + ch * (size_t)w->k_size, j->ep, ch, (char *)j->y + p * (size_t)w->out_size * j->es,
                         j->rows + p * (size_t)w->out[1]);
    }
}

/* The u8 x s8 path, weights as A (u8, row sums known), the image as packed B (s8, column sums
 * per call): c = sum(w x) - zw[i] colsum(x)[j] - zx (rowsum(w)[i] - K zw[i]) + bias[i], with
 * u8 x shifted to s8 (zx - 128) and s8 w to u8 (zw + 128). A 1x1, stride-1, unpadded
 * convolution packs the image planes directly; others go through a u8 im2col first. */
static kiln_status qconv_q8(const qconv_kernel *k, kiln_kernel_ctx *ctx, const kiln_value_desc *x, const kiln_value_desc *zx,
                            const kiln_value_desc *zw, kiln_value_desc *y, const cpu_window *w, int64_t m, int64_t cg,
                            int64_t mg, int64_t rows, const int32_t *bias, const float *mrow, int32_t zy, kiln_error *err) {
    int x_u8 = x->dtype == KILN_DTYPE_UINT8;
    int32_t zx0 = zx ? q_get(zx->dtype, zx->data, 0) : 0;
    uint32_t zx2 = (uint32_t)(zx0 - (x_u8 ? 128 : 0));
    size_t n = (size_t)w->out_size, kk = (size_t)rows;
    int pointwise = w->k_size == 1;
    for (int32_t i = 0; i < w->sp; i++) pointwise &= w->s[i] == 1 && w->pb[i] == 0 && w->pe[i] == 0;
    int32_t *zw2 = ctx->host->scratch(ctx, (size_t)m * sizeof(int32_t) + 1), *row_add = ctx->host->scratch(ctx, (size_t)m * sizeof(int32_t) + 1);
    int8_t *pb = ctx->host->scratch(ctx, kiln_u8s8_packed_size(kk, n) + 1);
    int32_t *cs = ctx->host->scratch(ctx, n * sizeof(int32_t) + 1);
    uint8_t *col = pointwise ? NULL : ctx->host->scratch(ctx, kk * n + 1);
    if (!zw2 || !row_add || !pb || !cs || (!pointwise && !col)) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for the im2col buffers");
    int zw_uniform = 1;
    for (int64_t i = 0; i < m; i++) {
        zw2[i] = (zw ? q_get(zw->dtype, zw->data, zw->count == 1 ? 0 : (size_t)i) : 0) + (k->w_s8 ? 128 : 0);
        zw_uniform &= zw2[i] == zw2[0];
        row_add[i] = (int32_t)((bias ? (uint32_t)bias[i] : 0u) - zx2 * ((uint32_t)k->w8sum[i] - (uint32_t)kk * (uint32_t)zw2[i]));
    }
    kiln_qgemm_epilogue ep = {0};
    ep.out = !k->qlinear ? KILN_QGEMM_OUT_S32 : y->dtype == KILN_DTYPE_UINT8 ? KILN_QGEMM_OUT_U8 : KILN_QGEMM_OUT_S8;
    ep.scale_per_row = 1, ep.zy = zy;
    /* one zero point for all weights: its term -zw * colsum(x)[j] is per column, no product per element */
    int32_t *col_add = zw_uniform ? ctx->host->scratch(ctx, n * sizeof(int32_t) + 1) : NULL;
    if (zw_uniform && !col_add) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    if (!zw_uniform) ep.col_mul = cs;
    size_t es = kiln_qgemm_out_size(ep.out);
    int64_t c = x->dims[1], g = k->group;
    for (int64_t i = 0; i < x->dims[0]; i++) {
        for (int64_t gi = 0; gi < g; gi++) {
            const uint8_t *xg = (const uint8_t *)x->data + (size_t)((i * c + gi * cg) * w->in_size), *src = xg;
            if (!pointwise) {
                im2col_job ij = {xg, w, (uint8_t)zx0, col};
                cpu_parallel_for(ctx, (size_t)cg, cpu_grain((uint64_t)(w->k_size * w->out_size)), im2col_range, &ij);
                src = col;
            }
            q8_pack_b_parallel(ctx, kk, n, src, n, x_u8 ? 0x80 : 0, pb, cs);
            if (col_add) {
                for (size_t j = 0; j < n; j++) col_add[j] = (int32_t)(0u - (uint32_t)zw2[0] * (uint32_t)cs[j]);
                ep.col_add = col_add;
            } else {
                ep.row_mul = zw2 + gi * mg;
            }
            ep.row_add = row_add + gi * mg, ep.scale = mrow ? mrow + gi * mg : NULL;
            q8_gemm_parallel(ctx, k->q8, (size_t)mg, n, kk, k->w8 + (size_t)(gi * mg) * kk, kk, pb,
                             (char *)y->data + (size_t)((i * m + gi * mg) * w->out_size) * es, n, &ep);
        }
    }
    return KILN_OK;
}

static kiln_status qconv_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const qconv_kernel *k = (const qconv_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, k->ix), *wt = cpu_in(ctx, k->iw), *zx = cpu_in(ctx, k->izx), *zw = cpu_in(ctx, k->izw);
    kiln_value_desc *y = ctx->outputs[0];
    if (wt->rank != x->rank) return cpu_fail(err, KILN_ERR_SHAPE, "weights have rank %d, input rank %d", (int)wt->rank, (int)x->rank);
    cpu_window w;
    KILN_CPU_TRY(cpu_window_resolve(&k->wa, x, y, wt->dims + 2, &w, err));
    int64_t g = k->group, nb = x->dims[0], c = x->dims[1], m = wt->dims[0];
    if (c % g || m % g || wt->dims[1] != c / g || y->dims[1] != m)
        return cpu_fail(err, KILN_ERR_SHAPE, "channels (input %lld, weights %lldx%lld) do not fit group %lld", (long long)c,
                        (long long)m, (long long)wt->dims[1], (long long)g);
    for (int32_t i = 0; i < w.sp; i++)
        if (w.k[i] != wt->dims[2 + i]) return cpu_fail(err, KILN_ERR_SHAPE, "kernel_shape does not match the weights");
    if (zx && zx->count != 1) return cpu_fail(err, KILN_ERR_SHAPE, "x_zero_point must be a scalar");
    KILN_CPU_TRY(zp_check(zw, m, "w_zero_point", err));
    int64_t cg = c / g, mg = m / g, rows = cpu_mul_size(cg, w.k_size), col_n = cpu_mul_size(rows, w.out_size);
    if (rows < 0 || col_n < 0 || (uint64_t)col_n > SIZE_MAX / 8) return cpu_fail(err, KILN_ERR_SHAPE, "buffers too large");

    float *mrow = NULL;
    const int32_t *bias = NULL;
    int32_t zy = 0;
    if (k->qlinear) {
        const kiln_value_desc *sx = cpu_in(ctx, 1), *sw = cpu_in(ctx, 4), *sy = cpu_in(ctx, 6), *yz = cpu_in(ctx, 7),
                              *b = cpu_in(ctx, 8);
        if (sx->count != 1 || sy->count != 1 || (yz && yz->count != 1))
            return cpu_fail(err, KILN_ERR_SHAPE, "x_scale, y_scale and y_zero_point must be scalars");
        KILN_CPU_TRY(zp_check(sw, m, "w_scale", err));
        if (b && (b->rank != 1 || b->dims[0] != m)) return cpu_fail(err, KILN_ERR_SHAPE, "bias must have %lld values", (long long)m);
        bias = b ? b->data : NULL;
        zy = yz ? q_get(yz->dtype, yz->data, 0) : 0;
        mrow = ctx->host->scratch(ctx, (size_t)m * sizeof(float) + 1);
        if (!mrow) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        float fx = q_scale(sx->dtype, sx->data, 0), fy = q_scale(sy->dtype, sy->data, 0);
        for (int64_t i = 0; i < m; i++)
            mrow[i] = combine(sx->dtype, fx, q_scale(sw->dtype, sw->data, sw->count == 1 ? 0 : (size_t)i), fy);
    }
    if (y->count == 0) return KILN_OK;
    if (k->w8)
        return qconv_q8(k, ctx, x, zx, zw, y, &w, m, cg, mg, rows, bias, mrow, zy, err);

    const int16_t *w16 = k->w16;
    if (!w16) {
        int16_t *buf = ctx->host->scratch(ctx, (size_t)(m * rows) * sizeof(int16_t) + 1);
        if (!buf) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for the weights");
        widen(wt->dtype, wt->data, (size_t)m, (size_t)rows, zw, NULL, buf);
        w16 = buf;
    }
    if (w.sp == 2 && cg == 1 && mg == 1) {
        /* depthwise: a direct kernel per channel plane (kernels/q8-dwconv), exact int32 sums */
        kiln_qgemm_epilogue ep = {0};
        ep.out = !k->qlinear ? KILN_QGEMM_OUT_S32 : y->dtype == KILN_DTYPE_UINT8 ? KILN_QGEMM_OUT_U8 : KILN_QGEMM_OUT_S8;
        ep.row_add = bias, ep.scale = mrow, ep.scale_per_row = 1, ep.zy = zy;
        int32_t *rows_buf = ctx->host->scratch(ctx, (size_t)(nb * m * w.out[1]) * sizeof(int32_t) + 1);
        if (!rows_buf) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for the depthwise rows");
        dw_job dj = {x, &w, w16, zx ? q_get(zx->dtype, zx->data, 0) : 0, m, &ep, y->data, kiln_qgemm_out_size(ep.out), rows_buf};
        cpu_parallel_for(ctx, (size_t)(nb * m), cpu_grain((uint64_t)(w.out_size * w.k_size)), dw_range, &dj);
        return KILN_OK;
    }
    int16_t *pb = ctx->host->scratch(ctx, kiln_s16_gemm_packed_size((size_t)rows, (size_t)w.out_size) * sizeof(int16_t) + 1);
    int32_t *acc = k->qlinear ? ctx->host->scratch(ctx, (size_t)(mg * w.out_size) * sizeof(int32_t) + 1) : NULL;
    if (!pb || (k->qlinear && !acc)) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for the im2col buffers");
    for (int64_t i = 0; i < nb; i++) {
        for (int64_t gi = 0; gi < g; gi++) {
            pack_job pj = {x->dtype, (const char *)x->data + (size_t)((i * c + gi * cg) * w.in_size), zx ? q_get(zx->dtype, zx->data, 0) : 0,
                           &w, rows, pb};
            cpu_parallel_for(ctx, (size_t)(rows + 1) / 2, 8, pack_range, &pj);
            size_t yoff = (size_t)((i * m + gi * mg) * w.out_size);
            igemm_job j = {(size_t)w.out_size, (size_t)rows, w16 + gi * mg * rows, pb, NULL, NULL, y->dtype, zy,
                           bias ? bias + gi * mg : NULL, mrow ? mrow + gi * mg : NULL, NULL, 1.0f, NULL};
            if (k->qlinear) {
                j.c = acc;
                j.y = (char *)y->data + yoff;
            } else {
                j.c = (int32_t *)y->data + yoff;
            }
            cpu_parallel_for(ctx, (size_t)mg, 16, igemm_range, &j);
        }
    }
    return KILN_OK;
}

static kiln_status qconv_new(const cpu_node *n, int qlinear, cpu_kernel **out, kiln_error *err) {
    uint32_t ix = 0, iw = qlinear ? 3 : 1, izx = 2, izw = qlinear ? 5 : 3;
    int32_t xt = cpu_input_dtype(n, ix), wt = cpu_input_dtype(n, iw);
    if (!is8(xt) || !is8(wt))
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "%s is implemented for 8-bit inputs, not %s x %s", n->op_type,
                        cpu_dtype_name(xt), cpu_dtype_name(wt));
    if ((cpu_input_dtype(n, izx) && cpu_input_dtype(n, izx) != xt) || (cpu_input_dtype(n, izw) && cpu_input_dtype(n, izw) != wt))
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "%s: zero points must have their inputs' types", n->op_type);
    if (qlinear) {
        int32_t yt = cpu_output_info(n, 0).dtype;
        if (!is8(yt)) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "QLinearConv is not implemented for output %s", cpu_dtype_name(yt));
        if (cpu_input_dtype(n, 8) && cpu_input_dtype(n, 8) != KILN_DTYPE_INT32)
            return cpu_fail(err, KILN_ERR_INVALID_MODEL, "QLinearConv bias must be int32");
        int32_t st[3] = {cpu_input_dtype(n, 1), cpu_input_dtype(n, 4), cpu_input_dtype(n, 6)};
        for (int i = 0; i < 3; i++)
            if (st[i] != KILN_DTYPE_FLOAT && st[i] != KILN_DTYPE_FLOAT16 && st[i] != KILN_DTYPE_BFLOAT16)
                return cpu_fail(err, KILN_ERR_UNSUPPORTED, "QLinearConv is not implemented for scale %s", cpu_dtype_name(st[i]));
    }
    cpu_window_attrs wa;
    KILN_CPU_TRY(cpu_window_read(n, &wa, err));
    int64_t group = cpu_attr_int(n, "group", 1);
    if (group < 1 || group > CPU_WINDOW_MAX) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "group %lld is out of range", (long long)group);
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(qconv_kernel), qconv_compute, out, err));
    qconv_kernel *k = (qconv_kernel *)*out;
    k->base.cleanup = qconv_cleanup;
    k->wa = wa;
    k->group = group;
    k->qlinear = qlinear;
    k->ix = ix, k->iw = iw, k->izx = izx, k->izw = izw;
    kiln_value_info wi = cpu_input_info(n, iw), zi = cpu_input_info(n, izw);
    const kiln_value_desc *wc = wi.constant, *zc = zi.present ? zi.constant : NULL;
    /* Constant weights: for the u8 x s8 GEMM when each group's GEMM is wide enough to pay (not
     * depthwise), else widened for the int16 one. */
    k->q8 = kiln_qgemm_config_get();
    if (wc && wc->rank >= 3 && wc->dims[0] > 0 && wc->dims[0] % group == 0 &&
        (group == 1 || (wc->dims[0] / group >= 8 && wc->count / wc->dims[0] >= 16))) {
        size_t m = (size_t)wc->dims[0], rows = (size_t)(wc->count / m);
        k->w8 = cpu_alloc(&k->base, m * rows + 1);
        k->w8sum = cpu_alloc(&k->base, m * sizeof(int32_t) + 1);
        if (k->w8 && k->w8sum) {
            k->w_s8 = wc->dtype == KILN_DTYPE_INT8;
            const uint8_t *src = wc->data;
            for (size_t i = 0; i < m * rows; i++) k->w8[i] = src[i] ^ (k->w_s8 ? 0x80 : 0);
            kiln_u8_rowsum(m, rows, k->w8, rows, 0, k->w8sum);
            return KILN_OK;
        }
        cpu_free(&k->base, k->w8);
        cpu_free(&k->base, k->w8sum);
        k->w8 = NULL, k->w8sum = NULL;
    }
    if (wc && wc->rank >= 3 && wc->dims[0] > 0 && (!zi.present || (zc && (zc->count == 1 || (int64_t)zc->count == wc->dims[0])))) {
        size_t m = (size_t)wc->dims[0], rows = (size_t)(wc->count / m);
        k->w16 = cpu_alloc(&k->base, m * rows * sizeof(int16_t) + 1);
        if (k->w16) widen(wc->dtype, wc->data, m, rows, zc, NULL, k->w16); /* else widened per call */
    }
    return KILN_OK;
}

kiln_status kiln_cpu_conv_integer(const cpu_node *n, cpu_kernel **out, kiln_error *err) { return qconv_new(n, 0, out, err); }
kiln_status kiln_cpu_qlinear_conv(const cpu_node *n, cpu_kernel **out, kiln_error *err) { return qconv_new(n, 1, out, err); }
