/* SPDX-License-Identifier: MIT */
/* OpenBLAS's cblas_sgemm as a reference (when Kiln is built with OpenBLAS). */
#include "refs.h"

#ifdef RB_HAVE_BLAS
#include <cblas.h>

int rb_have_blas(void) { return 1; }

void rb_ref_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, const float *a, const float *b, float *c) {
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, (int)m, (int)n,
                (int)k, 1.0f, a, (int)(trans_a ? m : k), b, (int)(trans_b ? k : n), 0.0f, c, (int)n);
}
#else
int rb_have_blas(void) { return 0; }
void rb_ref_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, const float *a, const float *b, float *c) {
    (void)trans_a, (void)trans_b, (void)m, (void)n, (void)k, (void)a, (void)b, (void)c;
}
#endif
