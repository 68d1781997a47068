/* SPDX-License-Identifier: MIT */
/* Threading of the u8 x s8 GEMM: see q8_gemm.h. */
#include "providers/cpu/ops/q8_gemm.h"

#include <math.h>
#include <stdlib.h>

typedef struct pack_job {
    size_t k, n, ld;
    const uint8_t *src;
    uint8_t xm;
    int8_t *packed;
    int32_t *colsum;
} pack_job;

static void pack_range(void *arg, size_t begin, size_t end) {
    const pack_job *j = arg;
    size_t n1 = end * KILN_U8S8_NR < j->n ? end * KILN_U8S8_NR : j->n;
    kiln_u8s8_pack_b(j->k, begin * KILN_U8S8_NR, n1, j->src, j->ld, j->xm, j->packed, j->colsum);
}

void q8_pack_b_parallel(kiln_kernel_ctx *ctx, size_t k, size_t n, const uint8_t *src, size_t ld, uint8_t xor_mask,
                        int8_t *packed, int32_t *colsum) {
    pack_job j = {k, n, ld, src, xor_mask, packed, colsum};
    size_t panels = (n + KILN_U8S8_NR - 1) / KILN_U8S8_NR;
    if (ctx) cpu_parallel_for(ctx, panels, cpu_grain((uint64_t)k * KILN_U8S8_NR), pack_range, &j);
    else pack_range(&j, 0, panels);
}

typedef struct gemm_job {
    const kiln_qgemm_config *cfg;
    size_t m, n, k, lda, ldc, mb, nb, blocks_n;
    const uint8_t *a;
    const int8_t *packed;
    void *c;
    const kiln_qgemm_epilogue *ep;
} gemm_job;

static void gemm_range(void *arg, size_t begin, size_t end) {
    const gemm_job *j = arg;
    for (size_t t = begin; t < end; t++) {
        size_t i0 = t / j->blocks_n * j->mb, n0 = t % j->blocks_n * j->nb;
        size_t i1 = i0 + j->mb < j->m ? i0 + j->mb : j->m, n1 = n0 + j->nb < j->n ? n0 + j->nb : j->n;
        kiln_u8s8_gemm_run(j->cfg, i0, i1, n0, n1, j->k, j->a, j->lda, j->packed, j->c, j->ldc, j->ep);
    }
}

void q8_gemm_parallel(kiln_kernel_ctx *ctx, const kiln_qgemm_config *cfg, size_t m, size_t n, size_t k,
                      const uint8_t *a, size_t lda, const int8_t *packed, void *c, size_t ldc,
                      const kiln_qgemm_epilogue *ep) {
    if (!m || !n) return;
    /* blocks: a few row tiles by a few column tiles, so A's rows and B's panels stay in L2 and
     * there are enough blocks for the threads */
    size_t mb = cfg->mr * 8, nb = cfg->nr * 4;
    if (mb > m) mb = m;
    if (nb > n) nb = (n + cfg->nr - 1) / cfg->nr * cfg->nr;
    gemm_job j = {cfg, m, n, k, lda, ldc, mb, nb, (n + nb - 1) / nb, a, packed, c, ep};
    size_t blocks = (m + mb - 1) / mb * j.blocks_n;
    uint64_t work = (uint64_t)mb * nb * (k ? k : 1);
    if (ctx) cpu_parallel_for(ctx, blocks, cpu_grain(work), gemm_range, &j);
    else gemm_range(&j, 0, blocks);
}

typedef struct dq_job {
    const kiln_q8_vcvt_config *vc;
    const float *a;
    uint8_t *qa;
    float scale;
    int32_t zp;
} dq_job;

static void dq_range(void *arg, size_t begin, size_t end) {
    const dq_job *j = arg;
    j->vc->quantize(end - begin, j->a + begin, j->scale, j->zp, 0, j->qa + begin);
}

static void *scratch(kiln_kernel_ctx *ctx, size_t bytes) {
    return ctx ? ctx->host->scratch(ctx, bytes + 1) : malloc(bytes + 1);
}

kiln_status q8_dynamic_matmul(kiln_kernel_ctx *ctx, const kiln_qgemm_config *cfg, const float *a, size_t rows, size_t k,
                              size_t n, const int8_t *packed_b, const int32_t *colsum, const int32_t *zb2,
                              const float *b_scale, const float *bias, float *y, kiln_error *err) {
    const kiln_q8_vcvt_config *vc = kiln_q8_vcvt_config_get();
    float mn = 0.0f, mx = 0.0f; /* the range always holds 0, so 0 is exact */
    vc->minmax(rows * k, a, &mn, &mx);
    float scale = (mx == mn ? 1.0f : mx - mn) / 255.0f;
    float zf = fminf(fmaxf(0.0f - mn / scale, 0.0f), 255.0f);
    int32_t za = (int32_t)((zf + 12582912.0f) - 12582912.0f); /* round half to even */
    uint8_t *qa = scratch(ctx, rows * k);
    int32_t *rowsum = scratch(ctx, rows * sizeof(int32_t)), *col_add = scratch(ctx, n * sizeof(int32_t));
    float *sc = scratch(ctx, n * sizeof(float));
    kiln_status st = KILN_OK;
    if (!qa || !rowsum || !col_add || !sc) {
        st = cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for the dynamic-quantization matmul");
        goto done;
    }
    dq_job dj = {vc, a, qa, scale, za};
    if (ctx) cpu_parallel_for(ctx, rows * k, 16384, dq_range, &dj);
    else dq_range(&dj, 0, rows * k);
    int any_zb = 0;
    for (size_t j = 0; j < n; j++) {
        col_add[j] = (int32_t)((uint32_t)k * (uint32_t)za * (uint32_t)zb2[j] - (uint32_t)za * (uint32_t)colsum[j]);
        sc[j] = scale * b_scale[j];
        any_zb |= zb2[j] != 0;
    }
    if (any_zb) kiln_u8_rowsum(rows, k, qa, k, 0, rowsum);
    kiln_qgemm_epilogue ep = {NULL, col_add, any_zb ? rowsum : NULL, any_zb ? zb2 : NULL, KILN_QGEMM_OUT_F32, sc, 0, bias, 0};
    q8_gemm_parallel(ctx, cfg, rows, n, k, qa, k, packed_b, y, n, &ep);
done:
    if (!ctx) free(qa), free(rowsum), free(col_add), free(sc);
    return st;
}
