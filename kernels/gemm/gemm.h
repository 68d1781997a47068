/* SPDX-License-Identifier: MIT */
/* Single-precision GEMM: C = alpha · op(A) · op(B) + beta · C, row-major, leading dimensions in
 * elements. Contract: m, n, k may be 0; beta == 0 never reads C; A, B and C do not overlap.
 * Variants: kiln_f32_gemm__blas (OpenBLAS, when built with it), kiln_f32_gemm__scalar (always).
 * kiln_f32_gemm picks one once. */
#ifndef KILN_KERNELS_GEMM_H
#define KILN_KERNELS_GEMM_H

#include <stddef.h>

typedef void (*kiln_f32_gemm_fn)(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                                 const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c,
                                 size_t ldc);

void kiln_f32_gemm__scalar(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a,
                           size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc);
#ifdef KILN_HAVE_BLAS
void kiln_f32_gemm__blas(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a,
                         size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc);
#endif

void kiln_f32_gemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
                   const float *b, size_t ldb, float beta, float *c, size_t ldc);

/* Name of the variant kiln_f32_gemm uses ("kiln_f32_gemm__blas", ...). */
const char *kiln_f32_gemm_variant(void);

#endif
