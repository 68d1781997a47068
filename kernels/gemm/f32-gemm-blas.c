/* SPDX-License-Identifier: MIT */
/* f32 GEMM through OpenBLAS's cblas_sgemm. */
#include <cblas.h>

#include "gemm.h"

void kiln_f32_gemm__blas(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a,
                         size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc) {
    if (m == 0 || n == 0) return;
    if (k == 0) {
        /* cblas would read A and B; only the beta scaling applies. */
        kiln_f32_gemm__scalar(trans_a, trans_b, m, n, 0, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, (int)m,
                (int)n, (int)k, alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
}
