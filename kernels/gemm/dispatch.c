/* SPDX-License-Identifier: MIT */
/* Chooses the f32 GEMM variant: OpenBLAS when Kiln was built with it, else the portable one.
 * OpenBLAS takes int sizes, so larger problems go to the portable kernel. */
#include <limits.h>

#include "gemm.h"

void kiln_f32_gemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
                   const float *b, size_t ldb, float beta, float *c, size_t ldc) {
#ifdef KILN_HAVE_BLAS
    if (m < INT_MAX && n < INT_MAX && k < INT_MAX && lda < INT_MAX && ldb < INT_MAX && ldc < INT_MAX) {
        kiln_f32_gemm__blas(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
#endif
    kiln_f32_gemm__scalar(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

const char *kiln_f32_gemm_variant(void) {
#ifdef KILN_HAVE_BLAS
    return "kiln_f32_gemm__blas";
#else
    return "kiln_f32_gemm__scalar";
#endif
}
