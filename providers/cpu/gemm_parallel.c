/* SPDX-License-Identifier: MIT */
/* The fp32 GEMM on Kiln's pool (docs/kernels.md §6): pack what is not packed (in parallel, by
 * panel), then cut C into a grid of MR/NR-aligned rectangles, up to four per thread (a cost
 * model keeps small GEMMs on one thread), each an independent call of the packed macro-kernel,
 * so no two threads write one element and the result does not depend on the thread count.
 * im2col by channel. */
#include "providers/cpu/gemm_parallel.h"

#include <stdint.h>
#include <string.h>

#include "kernels/config/gemm-config.h"
#include "kernels/gemm/gemm.h"
#include "providers/cpu/cpu_op.h"

/* The cost model of the split: a rectangle of C is worth at least TILE_MACS multiply-adds (about
 * 5-10 us of one core at this machine's GEMM rate, more than a spinning worker takes to
 * claim it), so a GEMM under two of them runs on the calling thread; above, C is cut into up to
 * TILES_PER_THREAD rectangles per thread, which the pool hands out one at a time (runtime/threads.c),
 * so a thread that starts late or shares its core takes fewer: balance without a barrier per
 * row of tiles. K is never split (each element of C is summed by one thread, in one order). */
#define TILE_MACS (256u * 1024u)
#define TILES_PER_THREAD 4u
/* Packing runs in parallel above this many floats. */
#define PACK_SERIAL (64u * 1024u)

static float *align64(void *p) { return (float *)(((uintptr_t)p + 63u) & ~(uintptr_t)63u); }

typedef struct pack_job {
    const kiln_f32_gemm_config *cfg;
    int side;
    size_t rows, cols;
    const float *src;
    size_t ld;
    int trans;
    float alpha;
    float *out;
} pack_job;

static void pack_range(void *arg, size_t begin, size_t end) {
    const pack_job *j = arg;
    if (j->side == KILN_PACKED_A)
        kiln_f32_packa(j->cfg, j->rows, j->cols, j->src, j->ld, j->trans, j->alpha, begin, end, j->out);
    else
        kiln_f32_packb(j->cfg, j->rows, j->cols, j->src, j->ld, j->trans, j->alpha, begin, end, j->out);
}

static void pack_run(kiln_kernel_ctx *ctx, pack_job *j) {
    size_t panels = j->side == KILN_PACKED_A ? (j->rows + j->cfg->mr - 1) / j->cfg->mr : (j->cols + j->cfg->nr - 1) / j->cfg->nr;
    double floats = (double)j->rows * (double)j->cols;
    if (!ctx || panels < 2 || floats < PACK_SERIAL) {
        pack_range(j, 0, panels);
        return;
    }
    size_t per_panel = (size_t)(floats / (double)panels) + 1;
    cpu_parallel_for(ctx, panels, cpu_grain(per_panel), pack_range, j);
}

typedef struct grid_job {
    const kiln_f32_gemm_config *cfg;
    size_t m, n, k;
    const float *pa;
    kiln_f32_bview b;
    float *c;
    size_t ldc;
    uint32_t flags;
    const kiln_f32_epilogue *ep;
    size_t tm, tn;       /* grid */
    size_t mstep, nstep; /* rows / columns per rectangle (multiples of mr / nr) */
} grid_job;

static void grid_range(void *arg, size_t begin, size_t end) {
    const grid_job *j = arg;
    for (size_t t = begin; t < end; t++) {
        size_t ti = t / j->tn, tj = t % j->tn;
        size_t i0 = ti * j->mstep, j0 = tj * j->nstep;
        kiln_f32_gemm_packed(j->cfg, j->m, j->n, j->k, j->pa, j->b, i0, i0 + j->mstep, j0, j0 + j->nstep, j->c, j->ldc,
                             j->flags, j->ep);
    }
}

static size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

kiln_status kiln_cpu_sgemm(kiln_kernel_ctx *ctx, size_t m, size_t n, size_t k, float alpha, const cpu_f32_operand *a,
                           const cpu_f32_operand *b, float *c, size_t ldc, int accumulate, const kiln_f32_epilogue *ep,
                           kiln_error *err) {
    if (!m || !n) return KILN_OK;
    const kiln_f32_gemm_config *cfg =
        a->packed ? a->packed->cfg : b->packed ? b->packed->cfg : kiln_f32_gemm_config_get();
    if (b->packed && b->packed->cfg != cfg)
        return cpu_fail(err, KILN_ERR_INTERNAL, "GEMM operands were packed for different kernels");
    /* alpha goes into whichever operand is packed here: A when it is raw, else B (packed here). */
    int pack_b = !b->packed && (b->trans || (a->packed && alpha != 1.0f));
    const float *pa = a->packed ? a->packed->data : NULL;
    kiln_f32_bview bv = {b->packed ? b->packed->data : b->data, b->packed ? 0 : b->ld};
    if (!a->packed) {
        size_t floats = kiln_f32_packa_size(cfg, m, k);
        void *mem = ctx->host->scratch(ctx, floats * sizeof(float) + 64);
        if (!mem) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory packing a GEMM operand (%zu floats)", floats);
        pack_job j = {cfg, KILN_PACKED_A, m, k, a->data, a->ld, a->trans, alpha, align64(mem)};
        pack_run(ctx, &j);
        pa = j.out;
    }
    if (pack_b) {
        size_t floats = kiln_f32_packb_size(cfg, k, n);
        void *mem = ctx->host->scratch(ctx, floats * sizeof(float) + 64);
        if (!mem) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory packing a GEMM operand (%zu floats)", floats);
        pack_job j = {cfg, KILN_PACKED_B, k, n, b->data, b->ld, b->trans, a->packed ? alpha : 1.0f, align64(mem)};
        pack_run(ctx, &j);
        bv.data = j.out;
        bv.ldb = 0;
    }
    grid_job g = {cfg, m, n, k, pa, bv, c, ldc, accumulate ? KILN_GEMM_ACCUMULATE : 0u, ep, 1, 1, 0, 0};
    size_t mu = ceil_div(m, cfg->mr), nu = ceil_div(n, cfg->nr);
    double macs = (double)m * (double)n * (double)(k ? k : 1);
    size_t threads = ctx ? cpu_thread_count(ctx) : 1, tiles = 1;
    if (threads > 1) {
        double most = (double)threads * TILES_PER_THREAD, fit = macs / (double)TILE_MACS;
        tiles = (size_t)(fit < most ? fit : most);
        if (tiles > mu * nu) tiles = mu * nu;
        if (tiles < 2) tiles = 1;
    }
    if (tiles > 1) {
        /* Split the dimension with more tile units first (it cuts into the most even parts); the
         * other one only when the first has too few units. */
        if (nu >= mu) {
            g.tn = nu < tiles ? nu : tiles;
            g.tm = ceil_div(tiles, g.tn);
            if (g.tm > mu) g.tm = mu;
        } else {
            g.tm = mu < tiles ? mu : tiles;
            g.tn = ceil_div(tiles, g.tm);
            if (g.tn > nu) g.tn = nu;
        }
    }
    g.mstep = ceil_div(mu, g.tm) * cfg->mr;
    g.nstep = ceil_div(nu, g.tn) * cfg->nr;
    g.tm = ceil_div(m, g.mstep);
    g.tn = ceil_div(n, g.nstep);
    if (g.tm * g.tn < 2 || !ctx) grid_range(&g, 0, g.tm * g.tn);
    else cpu_parallel_for(ctx, g.tm * g.tn, 1, grid_range, &g);
    return KILN_OK;
}

kiln_status kiln_cpu_pack_weight(const kiln_host_api *host, void *host_ctx, int side, size_t rows, size_t cols,
                                 const float *w, size_t ld, int trans, float alpha, kiln_f32_packed *out,
                                 kiln_error *err) {
    const kiln_f32_gemm_config *cfg = kiln_f32_gemm_config_get();
    size_t floats = side == KILN_PACKED_A ? kiln_f32_packa_size(cfg, rows, cols) : kiln_f32_packb_size(cfg, rows, cols);
    if (floats > SIZE_MAX / sizeof(float) - 64) return cpu_fail(err, KILN_ERR_SHAPE, "weight too large to pack");
    float *data = host->alloc(host_ctx, floats * sizeof(float) + 1, 64);
    if (!data) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory packing a weight (%zu bytes)", floats * sizeof(float));
    pack_job j = {cfg, side, rows, cols, w, ld, trans, alpha, data};
    pack_run(NULL, &j);
    out->cfg = cfg;
    out->side = side;
    out->rows = rows;
    out->cols = cols;
    out->data = data;
    out->bytes = floats * sizeof(float);
    return KILN_OK;
}

void kiln_cpu_f32_gemm(kiln_kernel_ctx *ctx, int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                       const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc) {
    if (!m || !n) return;
    if (beta != 0.0f && beta != 1.0f)
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) c[i * ldc + j] *= beta;
    cpu_f32_operand oa = {a, lda, trans_a, NULL}, ob = {b, ldb, trans_b, NULL};
    kiln_error err;
    if (kiln_cpu_sgemm(ctx, m, n, k, alpha, &oa, &ob, c, ldc, beta != 0.0f, NULL, &err) != KILN_OK)
        kiln_f32_gemm__scalar(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta != 0.0f ? 1.0f : 0.0f, c, ldc);
}

void kiln_cpu_f32_gemm_bias(kiln_kernel_ctx *ctx, int trans_a, int trans_b, size_t m, size_t n, size_t k,
                            const float *a, size_t lda, const float *b, size_t ldb, const float *row_bias, float *c,
                            size_t ldc) {
    if (!m || !n) return;
    cpu_f32_operand oa = {a, lda, trans_a, NULL}, ob = {b, ldb, trans_b, NULL};
    kiln_f32_epilogue ep = {row_bias, 1, NULL, 0, KILN_ACT_NONE, 0.0f, 0.0f};
    kiln_error err;
    if (kiln_cpu_sgemm(ctx, m, n, k, 1.0f, &oa, &ob, c, ldc, 0, &ep, &err) != KILN_OK) {
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) c[i * ldc + j] = row_bias ? row_bias[i] : 0.0f;
        kiln_f32_gemm__scalar(trans_a, trans_b, m, n, k, 1.0f, a, lda, b, ldb, 1.0f, c, ldc);
    }
}

/* ---- im2col ---- */

/* Below this many elements of col, im2col runs on the calling thread. */
#define IM2COL_SERIAL (32u * 1024u)

typedef struct im2col_job {
    const float *x;
    const cpu_window *w;
    float pad;
    float *col;
} im2col_job;

static void im2col_channels(void *arg, size_t begin, size_t end) {
    const im2col_job *j = arg;
    const cpu_window *w = j->w;
    cpu_im2col_f32(j->x + (int64_t)begin * w->in_size, (int64_t)(end - begin), w, j->pad,
                   j->col + (int64_t)begin * w->k_size * w->out_size);
}

void kiln_cpu_im2col_f32(kiln_kernel_ctx *ctx, const float *x, int64_t channels, const cpu_window *w, float pad,
                         float *col) {
    int64_t per_channel = w->k_size * w->out_size;
    if (channels < 2 || (double)channels * (double)per_channel < IM2COL_SERIAL) {
        cpu_im2col_f32(x, channels, w, pad, col);
        return;
    }
    im2col_job j = {x, w, pad, col};
    size_t grain = (size_t)(IM2COL_SERIAL / (per_channel > 0 ? per_channel : 1));
    cpu_parallel_for(ctx, (size_t)channels, grain ? grain : 1, im2col_channels, &j);
}
