/* SPDX-License-Identifier: MIT */
/* Scalar u8 x s8 GEMM on the packed quad layout (u8s8-gemm.h): the reference for the others. */
#include "u8s8-gemm.h"

void kiln_u8s8_gemm_4x16__scalar(size_t mr, size_t nc, size_t k, const uint8_t *a, size_t lda, const int8_t *b,
                                 size_t panel_stride, void *c, size_t ldc, const kiln_qgemm_epilogue *ep, size_t i0,
                                 size_t j0) {
    (void)panel_stride;
    for (size_t r = 0; r < mr; r++) {
        const uint8_t *ar = a + r * lda;
        uint32_t acc[KILN_U8S8_NR] = {0}; /* wraps modulo 2^32 like the vector kernels */
        for (size_t p = 0; p < k; p++) {
            const int8_t *bq = b + p / 4 * 64 + p % 4;
            int32_t av = ar[p];
            for (size_t j = 0; j < KILN_U8S8_NR; j++) acc[j] += (uint32_t)(av * bq[4 * j]);
        }
        for (size_t j = 0; j < nc; j++) kiln_qgemm_store1(ep, (int32_t)acc[j], i0 + r, j0 + j, c, r * ldc + j);
    }
}
