/* SPDX-License-Identifier: MIT */
/* com.microsoft QGemm (docs/int8.md §5): Y = alpha * (A - a_zp)(B - b_zp) * a_scale * b_scale
 * (+ C, int32, in the accumulator's units), A and B u8 or s8 (transA / transB), b_scale and
 * b_zero_point per tensor or per column. With y_zero_point the result is requantized:
 *   y = sat(rne(float(acc) * (alpha * a_scale * b_scale[j] / y_scale)) + y_zp);
 * without it Y is float: float(acc) * (alpha * a_scale * b_scale[j]) (divided by y_scale when
 * that alone is given, as onnxruntime does). acc = C + sum((a - a_zp)(b - b_zp)) is exact int32.
 * Runs on the u8 x s8 GEMM (kernels/u8s8-gemm) with its epilogue: a constant B is transposed if
 * need be and packed once at kernel creation; s8 A is read as u8 via a ^ 0x80 (a_zp + 128), u8 B
 * as s8 via b ^ 0x80 (b_zp - 128); the zero-point terms and a per-row or per-column C are
 * folded into the epilogue's row and column terms; a full [M, N] C takes an int32 pass. */
#include <string.h>

#include "providers/cpu/ops/q8_gemm.h"
#include "providers/cpu/ops/qlinear_ms.h"

typedef struct qgemm_kernel {
    cpu_kernel base;
    int ta, tb;
    float alpha;
    int32_t adt, bdt;
    const kiln_qgemm_config *q8;
    int8_t *pb;        /* constant B packed (K x N view), or NULL */
    int32_t *colsum;
    size_t pk, pn;
} qgemm_kernel;

static void qgemm_cleanup(cpu_kernel *base) {
    qgemm_kernel *k = (qgemm_kernel *)base;
    cpu_free(base, k->pb);
    cpu_free(base, k->colsum);
}

static int is8(int32_t dt) { return dt == KILN_DTYPE_UINT8 || dt == KILN_DTYPE_INT8; }

/* dst (rows x cols, row-major) = src (cols x rows) transposed when `trans`, else copied; each
 * byte ^ xm. */
static void q_copy(const uint8_t *src, size_t rows, size_t cols, int trans, uint8_t xm, uint8_t *dst) {
    if (!trans) {
        for (size_t i = 0; i < rows * cols; i++) dst[i] = src[i] ^ xm;
        return;
    }
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) dst[r * cols + c] = src[c * rows + r] ^ xm;
}

/* Element (i, j) of C broadcast to [m, n] (C rank <= 2, checked). */
static int32_t c_at(const kiln_value_desc *c, size_t i, size_t j) {
    const int32_t *d = c->data;
    if (c->count == 1) return d[0];
    size_t cm = c->rank == 2 ? (size_t)c->dims[0] : 1, cn = (size_t)c->dims[c->rank - 1];
    return d[(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)];
}

static kiln_status qgemm_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const qgemm_kernel *k = (const qgemm_kernel *)base;
    const kiln_value_desc *a = cpu_in(ctx, 0), *sa = cpu_in(ctx, 1), *za = cpu_in(ctx, 2), *b = cpu_in(ctx, 3),
                          *sb = cpu_in(ctx, 4), *zb = cpu_in(ctx, 5), *c = cpu_in(ctx, 6), *sy = cpu_in(ctx, 7),
                          *zy = cpu_in(ctx, 8);
    kiln_value_desc *y = ctx->outputs[0];
    if (a->rank != 2 || b->rank != 2) return cpu_fail(err, KILN_ERR_SHAPE, "A and B must be matrices");
    size_t m = (size_t)a->dims[k->ta ? 1 : 0], kk = (size_t)a->dims[k->ta ? 0 : 1];
    size_t n = (size_t)b->dims[k->tb ? 0 : 1], kb = (size_t)b->dims[k->tb ? 1 : 0];
    if (kb != kk) return cpu_fail(err, KILN_ERR_SHAPE, "inner dims differ (%zu and %zu)", kk, kb);
    if (k->pb && (kk != k->pk || n != k->pn)) return cpu_fail(err, KILN_ERR_SHAPE, "B changed shape");
    /* parameters */
    qms_q qa;
    KILN_CPU_TRY(qms_read(sa, za, a->dtype, "A", &qa, err));
    if (!sb || sb->dtype != KILN_DTYPE_FLOAT || (sb->count != 1 && sb->count != n))
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "b_scale must be float with 1 or N = %zu values", n);
    if (zb && (zb->dtype != b->dtype || (zb->count != 1 && zb->count != n)))
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "b_zero_point must be %s with 1 or N = %zu values", cpu_dtype_name(b->dtype), n);
    qms_q qy = {1.0f, 0, 0, 0};
    if (sy) KILN_CPU_TRY(qms_read(sy, zy, zy ? zy->dtype : KILN_DTYPE_UINT8, "Y", &qy, err));
    if (zy && y->dtype != zy->dtype) return cpu_fail(err, KILN_ERR_INTERNAL, "output type differs from y_zero_point's");
    if (c && (c->dtype != KILN_DTYPE_INT32 || c->rank > 2 ||
              (c->count != 1 && !((c->rank >= 1 && (size_t)c->dims[c->rank - 1] == n && (c->rank == 1 || c->dims[0] == 1 || (size_t)c->dims[0] == m)) ||
                                  (c->rank == 2 && (size_t)c->dims[0] == m && c->dims[1] == 1)))))
        return cpu_fail(err, KILN_ERR_SHAPE, "C must be int32 and broadcast to [%zu, %zu]", m, n);
    if (m == 0 || n == 0) return KILN_OK;

    int a_s8 = a->dtype == KILN_DTYPE_INT8, b_u8 = b->dtype == KILN_DTYPE_UINT8;
    uint32_t za2 = (uint32_t)(qa.zp + (a_s8 ? 128 : 0));
    float *scale = ctx->host->scratch(ctx, n * sizeof(float) + 1);
    int32_t *zb2 = ctx->host->scratch(ctx, n * sizeof(int32_t) + 1), *col_add = ctx->host->scratch(ctx, n * sizeof(int32_t) + 1);
    int32_t *row_add = ctx->host->scratch(ctx, m * sizeof(int32_t) + 1), *rowsum = ctx->host->scratch(ctx, m * sizeof(int32_t) + 1);
    if (!scale || !zb2 || !col_add || !row_add || !rowsum) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    const float *sbv = sb->data;
    for (size_t j = 0; j < n; j++) {
        scale[j] = k->alpha * qa.scale * sbv[sb->count == 1 ? 0 : j];
        if (sy) scale[j] /= qy.scale;
    }
    int any_zb = 0, zb_uniform = 1;
    for (size_t j = 0; j < n; j++) {
        zb2[j] = (zb ? q_get(zb->dtype, zb->data, zb->count == 1 ? 0 : j) : 0) - (b_u8 ? 128 : 0);
        any_zb |= zb2[j] != 0;
        zb_uniform &= zb2[j] == zb2[0];
    }
    /* A as u8, row-major M x K */
    const uint8_t *a8 = a->data;
    if (k->ta || a_s8) {
        uint8_t *t = ctx->host->scratch(ctx, m * kk + 1);
        if (!t) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        q_copy(a->data, m, kk, k->ta, a_s8 ? 0x80 : 0, t);
        a8 = t;
    }
    /* B packed */
    const int8_t *pb = k->pb;
    const int32_t *cs = k->colsum;
    if (!pb) {
        int8_t *pbuf = ctx->host->scratch(ctx, kiln_u8s8_packed_size(kk, n) + 1);
        int32_t *csbuf = ctx->host->scratch(ctx, n * sizeof(int32_t) + 1);
        const uint8_t *bsrc = b->data;
        if (!pbuf || !csbuf) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for the packed B");
        if (k->tb) {
            uint8_t *t = ctx->host->scratch(ctx, kk * n + 1);
            if (!t) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
            q_copy(b->data, kk, n, 1, 0, t);
            bsrc = t;
        }
        q8_pack_b_parallel(ctx, kk, n, bsrc, n, b_u8 ? 0x80 : 0, pbuf, csbuf);
        pb = pbuf, cs = csbuf;
    }
    /* epilogue terms: sum((a - za)(b - zb)) = acc - zb.rowsum(a) - za.colsum(b) + k.za.zb (+ C) */
    int c_full = c && c->count != 1 && c->rank == 2 && c->dims[0] != 1 && c->dims[1] != 1;
    int c_row = c && c->count != 1 && c->rank == 2 && c->dims[1] == 1 && c->dims[0] != 1;
    int c_col = c && !c_full && !c_row;
    for (size_t j = 0; j < n; j++)
        col_add[j] = (int32_t)((uint32_t)kk * za2 * (uint32_t)zb2[j] - za2 * (uint32_t)cs[j] +
                               (uint32_t)(c_col ? c_at(c, 0, j) : 0));
    if (any_zb) kiln_u8_rowsum(m, kk, a8, kk, 0, rowsum);
    for (size_t i = 0; i < m; i++)
        row_add[i] = (int32_t)((any_zb && zb_uniform ? 0u - (uint32_t)zb2[0] * (uint32_t)rowsum[i] : 0u) +
                               (uint32_t)(c_row ? c_at(c, i, 0) : 0));
    kiln_qgemm_epilogue ep;
    memset(&ep, 0, sizeof(ep));
    ep.row_add = row_add, ep.col_add = col_add;
    ep.row_mul = any_zb && !zb_uniform ? rowsum : NULL;
    ep.col_mul = any_zb && !zb_uniform ? zb2 : NULL;
    ep.out = zy ? (zy->dtype == KILN_DTYPE_UINT8 ? KILN_QGEMM_OUT_U8 : KILN_QGEMM_OUT_S8) : KILN_QGEMM_OUT_F32;
    ep.scale = scale;
    ep.zy = zy ? qy.zp : 0;
    if (!c_full && kk > 0) {
        q8_gemm_parallel(ctx, k->q8, m, n, kk, a8, kk, pb, y->data, n, &ep);
        return KILN_OK;
    }
    /* a full C, or K = 0: int32 sums first, then C and the output stage element by element */
    int32_t *acc = ctx->host->scratch(ctx, m * n * sizeof(int32_t) + 1);
    if (!acc) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    kiln_qgemm_epilogue e32 = ep;
    e32.out = KILN_QGEMM_OUT_S32;
    if (kk > 0) q8_gemm_parallel(ctx, k->q8, m, n, kk, a8, kk, pb, acc, n, &e32);
    kiln_qgemm_epilogue eo;
    memset(&eo, 0, sizeof(eo));
    eo.out = ep.out, eo.scale = scale, eo.zy = ep.zy;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            int32_t v = kk > 0 ? acc[i * n + j] : 0;
            if (kk == 0) v = (int32_t)((uint32_t)col_add[j] + (uint32_t)row_add[i]);
            if (c_full) v = (int32_t)((uint32_t)v + (uint32_t)c_at(c, i, j));
            kiln_qgemm_store1(&eo, v, i, j, y->data, i * n + j);
        }
    return KILN_OK;
}

/* Packs a constant 2-D B once (as K x N). */
static kiln_status qgemm_pack_const(const cpu_node *n, qgemm_kernel *k, kiln_error *err) {
    kiln_value_info bi = cpu_input_info(n, 3);
    const kiln_value_desc *bc = bi.constant;
    if (!bc || bc->rank != 2 || !is8(bc->dtype)) return KILN_OK;
    size_t kk = (size_t)bc->dims[k->tb ? 1 : 0], nn = (size_t)bc->dims[k->tb ? 0 : 1];
    k->pb = cpu_alloc(&k->base, kiln_u8s8_packed_size(kk, nn) + 1);
    k->colsum = cpu_alloc(&k->base, nn * sizeof(int32_t) + 1);
    uint8_t *t = k->tb ? cpu_alloc(&k->base, kk * nn + 1) : NULL;
    if (!k->pb || !k->colsum || (k->tb && !t)) {
        cpu_free(&k->base, t);
        return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory packing B");
    }
    if (t) q_copy(bc->data, kk, nn, 1, 0, t);
    q8_pack_b_parallel(NULL, kk, nn, t ? t : bc->data, nn, bc->dtype == KILN_DTYPE_UINT8 ? 0x80 : 0, k->pb, k->colsum);
    cpu_free(&k->base, t);
    k->pk = kk, k->pn = nn;
    return KILN_OK;
}

kiln_status kiln_cpu_ms_qgemm(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t adt = cpu_input_dtype(n, 0), bdt = cpu_input_dtype(n, 3);
    if (!is8(adt) || !is8(bdt))
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "QGemm is implemented for uint8 and int8 A and B, not %s and %s", cpu_dtype_name(adt),
                        cpu_dtype_name(bdt));
    float alpha = cpu_attr_float(n, "alpha", 1.0f);
    if (!isfinite(alpha)) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "alpha must be finite");
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(qgemm_kernel), qgemm_compute, out, err));
    qgemm_kernel *k = (qgemm_kernel *)*out;
    k->base.cleanup = qgemm_cleanup;
    k->ta = cpu_attr_int(n, "transA", 0) != 0;
    k->tb = cpu_attr_int(n, "transB", 0) != 0;
    k->alpha = alpha;
    k->adt = adt, k->bdt = bdt;
    k->q8 = kiln_qgemm_config_get();
    return qms_created(out, qgemm_pack_const(n, k, err));
}
