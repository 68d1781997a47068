/* SPDX-License-Identifier: MIT */
/* f32 GEMM and im2col for CPU kernels on the host's intra-op threads (docs/kernels.md §6): the
 * operand not packed already is packed per call into scratch, then C is cut into MR/NR-aligned
 * rectangles that the threads share, each run by the single-threaded packed macro-kernel. */
#ifndef KILN_CPU_GEMM_PARALLEL_H
#define KILN_CPU_GEMM_PARALLEL_H

#include <stddef.h>

#include "kernels/f32-gemm/f32-gemm.h"
#include "kiln_provider.h"
#include "providers/cpu/ops/window.h"

/* One operand of kiln_cpu_sgemm: packed already (packed != NULL; A side for the left operand, B
 * side for the right), or a row-major matrix `data` with leading dimension `ld`, transposed
 * when `trans`. */
typedef struct cpu_f32_operand {
    const float *data;
    size_t ld;
    int trans;
    const kiln_f32_packed *packed;
} cpu_f32_operand;

/* C (m x n, row stride ldc) = alpha . op(A) . op(B) (+ C when `accumulate`), then the epilogue
 * `ep` (NULL: none; pointers relative to C's (0,0)). A packed operand already holds its alpha:
 * alpha must be 1 when both are packed. KILN_ERR_OUT_OF_MEMORY when scratch fails. */
kiln_status kiln_cpu_sgemm(kiln_kernel_ctx *ctx, size_t m, size_t n, size_t k, float alpha, const cpu_f32_operand *a,
                           const cpu_f32_operand *b, float *c, size_t ldc, int accumulate, const kiln_f32_epilogue *ep,
                           kiln_error *err);

/* Packs a constant weight once (prepack): op(W) as the A side (rows x cols = M x K) or B side
 * (K x N), times alpha, with the current config, into host memory from `alloc`. On success
 * out->data is owned by the caller (free with the matching host free). */
kiln_status kiln_cpu_pack_weight(const kiln_host_api *host, void *host_ctx, int side, size_t rows, size_t cols,
                                 const float *w, size_t ld, int trans, float alpha, kiln_f32_packed *out,
                                 kiln_error *err);

/* C = alpha · op(A) · op(B) + beta · C with kiln_f32_gemm's contract (row-major, leading
 * dimensions in elements, beta == 0 never reads C), on the packed path; when scratch fails it
 * runs the portable kernel (no memory needed). */
void kiln_cpu_f32_gemm(kiln_kernel_ctx *ctx, int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                       const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc);

/* C = op(A) · op(B) + row_bias broadcast along each row of C (m values; NULL: none), the bias
 * added in the GEMM's epilogue (one pass over C). */
void kiln_cpu_f32_gemm_bias(kiln_kernel_ctx *ctx, int trans_a, int trans_b, size_t m, size_t n, size_t k,
                            const float *a, size_t lda, const float *b, size_t ldb, const float *row_bias, float *c,
                            size_t ldc);

/* cpu_im2col_f32 with the channels shared out among ctx's threads (each channel's rows of col
 * are written by one thread). */
void kiln_cpu_im2col_f32(kiln_kernel_ctx *ctx, const float *x, int64_t channels, const cpu_window *w, float pad,
                         float *col);

#endif
