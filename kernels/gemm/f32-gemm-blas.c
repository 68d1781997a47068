/* SPDX-License-Identifier: MIT */
/* f32 GEMM through OpenBLAS's cblas_sgemm, single-threaded: Kiln splits GEMMs over its own
 * intra-op pool (providers/cpu/gemm_parallel.c), and OpenBLAS threads on top would oversubscribe
 * the cores (docs/threads.md). */
#include <cblas.h>
#include <pthread.h>

#include "gemm.h"

static pthread_once_t one_thread = PTHREAD_ONCE_INIT;

static void set_one_thread(void) { openblas_set_num_threads(1); }

void kiln_f32_gemm__blas(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a,
                         size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc) {
    if (m == 0 || n == 0) return;
    if (k == 0) {
        /* cblas would read A and B; only the beta scaling applies. */
        kiln_f32_gemm__scalar(trans_a, trans_b, m, n, 0, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    pthread_once(&one_thread, set_one_thread);
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, (int)m,
                (int)n, (int)k, alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
}
