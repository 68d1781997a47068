/* SPDX-License-Identifier: MIT */
/* Portable f32 GEMM: blocked over k and n so a panel of B stays in cache; the inner loop runs
 * over contiguous columns of C, which compilers vectorize. No product is skipped (not even for
 * a zero in A), so Inf and NaN in B propagate as the naive sum does. */
#include "gemm.h"

#define KB 256
#define NB 512

void kiln_f32_gemm__scalar(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a,
                           size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc) {
    for (size_t i = 0; i < m; i++) {
        float *ci = c + i * ldc;
        if (beta == 0.0f)
            for (size_t j = 0; j < n; j++) ci[j] = 0.0f;
        else if (beta != 1.0f)
            for (size_t j = 0; j < n; j++) ci[j] *= beta;
    }
    for (size_t k0 = 0; k0 < k; k0 += KB) {
        size_t k1 = k0 + KB < k ? k0 + KB : k;
        for (size_t j0 = 0; j0 < n; j0 += NB) {
            size_t j1 = j0 + NB < n ? j0 + NB : n;
            for (size_t i = 0; i < m; i++) {
                float *ci = c + i * ldc;
                for (size_t p = k0; p < k1; p++) {
                    float av = alpha * (trans_a ? a[p * lda + i] : a[i * lda + p]);
                    if (!trans_b) {
                        const float *bp = b + p * ldb;
                        for (size_t j = j0; j < j1; j++) ci[j] += av * bp[j];
                    } else {
                        for (size_t j = j0; j < j1; j++) ci[j] += av * b[j * ldb + p];
                    }
                }
            }
        }
    }
}
