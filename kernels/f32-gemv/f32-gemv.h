/* SPDX-License-Identifier: MIT */
/* C[m x n] = A[m x k] . B^T for the few rows (m of 1 to 4) of a recurrent step, B [n x k]
 * row-major (the ONNX RNN/GRU/LSTM weight layout, read in place, nothing packed): one dot
 * product per output, four rows of B at a time sharing each load of A's row. Leading
 * dimensions in elements. The summation order is the variant's (lanes, then a tree). */
#ifndef KILN_KERNELS_F32_GEMV_H
#define KILN_KERNELS_F32_GEMV_H

#include <stddef.h>

typedef void (*kiln_f32_gemv_bt_fn)(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b, size_t ldb,
                                    float *c, size_t ldc);

void kiln_f32_gemv_bt_4x4__scalar(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b, size_t ldb,
                                  float *c, size_t ldc);
void kiln_f32_gemv_bt_4x8__avx2(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b, size_t ldb,
                                float *c, size_t ldc);
void kiln_f32_gemv_bt_4x16__avx512f(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b,
                                    size_t ldb, float *c, size_t ldc);

/* The variant for the current KILN_CPU_ISA level (kernels/config/gemv-config.c). */
kiln_f32_gemv_bt_fn kiln_f32_gemv_bt_get(void);

#endif
