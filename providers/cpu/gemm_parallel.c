/* SPDX-License-Identifier: MIT */
/* f32 GEMM tiled over parallel_for: whole columns of C when C is wide (convolutions), else whole
 * rows, one tile per thread (each tile packs its operands again), each an independent GEMM, so
 * no two threads write one element; im2col by channel. */
#include "providers/cpu/gemm_parallel.h"

#include "kernels/gemm/gemm.h"
#include "providers/cpu/cpu_op.h"

/* Below this many multiply-adds a GEMM runs on the calling thread (waking threads costs more). */
#define SERIAL_MACS (64u * 1024u)
/* Tiles are multiples of this many columns or rows (a register-tile multiple for the kernels). */
#define TILE_STEP 16
/* A tile does at least this many multiply-adds. */
#define TILE_MACS (256u * 1024u)

typedef struct gemm_job {
    int trans_a, trans_b, by_cols;
    size_t m, n, k, tile;
    float alpha, beta;
    const float *a, *b, *bias;
    float *c;
    size_t lda, ldb, ldc;
} gemm_job;

/* Rows [r0, r1) x columns [c0, c1) of C = the row's bias. */
static void fill_bias(const float *bias, float *c, size_t ldc, size_t r0, size_t r1, size_t c0, size_t c1) {
    for (size_t r = r0; r < r1; r++) {
        float v = bias[r], *row = c + r * ldc;
        for (size_t q = c0; q < c1; q++) row[q] = v;
    }
}

static void gemm_tiles(void *arg, size_t begin, size_t end) {
    const gemm_job *j = arg;
    size_t dim = j->by_cols ? j->n : j->m;
    size_t lo = begin * j->tile, hi = end * j->tile < dim ? end * j->tile : dim;
    if (lo >= hi) return;
    if (j->bias) {
        if (j->by_cols) fill_bias(j->bias, j->c, j->ldc, 0, j->m, lo, hi);
        else fill_bias(j->bias, j->c, j->ldc, lo, hi, 0, j->n);
    }
    if (j->by_cols) {
        /* Columns [lo, hi) of C need columns [lo, hi) of op(B). */
        const float *b = j->trans_b ? j->b + lo * j->ldb : j->b + lo;
        kiln_f32_gemm(j->trans_a, j->trans_b, j->m, hi - lo, j->k, j->alpha, j->a, j->lda, b, j->ldb, j->beta, j->c + lo,
                      j->ldc);
    } else {
        /* Rows [lo, hi) of C need rows [lo, hi) of op(A). */
        const float *a = j->trans_a ? j->a + lo : j->a + lo * j->lda;
        kiln_f32_gemm(j->trans_a, j->trans_b, hi - lo, j->n, j->k, j->alpha, a, j->lda, j->b, j->ldb, j->beta,
                      j->c + lo * j->ldc, j->ldc);
    }
}

static void gemm_run(kiln_kernel_ctx *ctx, gemm_job *j) {
    double macs = (double)j->m * (double)j->n * (double)(j->k ? j->k : 1);
    size_t dim = j->by_cols ? j->n : j->m, tiles = 1;
    if (macs >= SERIAL_MACS && (j->m >= 2 * TILE_STEP || j->n >= 2 * TILE_STEP)) {
        size_t by_work = (size_t)(macs / TILE_MACS), threads = cpu_thread_count(ctx);
        tiles = dim / TILE_STEP;
        if (tiles > by_work) tiles = by_work;
        if (tiles > threads) tiles = threads;
    }
    if (tiles < 2) {
        j->tile = dim;
        gemm_tiles(j, 0, 1);
        return;
    }
    size_t tile = (dim + tiles - 1) / tiles;
    j->tile = (tile + TILE_STEP - 1) / TILE_STEP * TILE_STEP;
    cpu_parallel_for(ctx, (dim + j->tile - 1) / j->tile, 1, gemm_tiles, j);
}

void kiln_cpu_f32_gemm(kiln_kernel_ctx *ctx, int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                       const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc) {
    if (!m || !n) return;
    gemm_job j = {trans_a, trans_b, n >= m, m, n, k, 0, alpha, beta, a, b, NULL, c, lda, ldb, ldc};
    gemm_run(ctx, &j);
}

void kiln_cpu_f32_gemm_bias(kiln_kernel_ctx *ctx, int trans_a, int trans_b, size_t m, size_t n, size_t k,
                            const float *a, size_t lda, const float *b, size_t ldb, const float *row_bias, float *c,
                            size_t ldc) {
    if (!m || !n) return;
    gemm_job j = {trans_a, trans_b, n >= m, m, n, k, 0, 1.0f, row_bias ? 1.0f : 0.0f, a, b, row_bias, c, lda, ldb, ldc};
    gemm_run(ctx, &j);
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
