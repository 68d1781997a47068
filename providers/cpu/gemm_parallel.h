/* SPDX-License-Identifier: MIT */
/* f32 GEMM and im2col for CPU kernels, split over the host's intra-op threads (parallel_for):
 * Kiln keeps one thread pool, so the GEMM library below runs single-threaded on each tile. */
#ifndef KILN_CPU_GEMM_PARALLEL_H
#define KILN_CPU_GEMM_PARALLEL_H

#include <stddef.h>

#include "kiln_provider.h"
#include "providers/cpu/ops/window.h"

/* C = alpha · op(A) · op(B) + beta · C with kiln_f32_gemm's contract (row-major, leading
 * dimensions in elements, beta == 0 never reads C), the rows or columns of C cut into tiles
 * that ctx's threads share. */
void kiln_cpu_f32_gemm(kiln_kernel_ctx *ctx, int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                       const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc);

/* C = op(A) · op(B) + row_bias broadcast along each row of C (m values; NULL: none), with
 * each tile writing its own bias before its GEMM accumulates onto it (one pass over C). */
void kiln_cpu_f32_gemm_bias(kiln_kernel_ctx *ctx, int trans_a, int trans_b, size_t m, size_t n, size_t k,
                            const float *a, size_t lda, const float *b, size_t ldb, const float *row_bias, float *c,
                            size_t ldc);

/* cpu_im2col_f32 with the channels shared out among ctx's threads (each channel's rows of col
 * are written by one thread). */
void kiln_cpu_im2col_f32(kiln_kernel_ctx *ctx, const float *x, int64_t channels, const cpu_window *w, float pad,
                         float *col);

#endif
