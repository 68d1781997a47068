/* SPDX-License-Identifier: MIT */
/* AVX-VNNI u8 x s8 GEMM: 6 rows x 16 columns (one packed panel) of C in 12 ymm accumulators;
 * per four k, two 32-byte loads of B, six broadcasts of A and 12 VEX vpdpbusd (exact int32).
 * Compiled with -mavx2 -mfma -mavxvnni only. */
#include "u8s8-epilogue-avx2.h"

#define MR 6

static inline __m256i bcast4(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

void kiln_u8s8_gemm_6x16__avxvnni(size_t mr, size_t nc, size_t k, const uint8_t *a, size_t lda, const int8_t *b,
                                  size_t panel_stride, void *c, size_t ldc, const kiln_qgemm_epilogue *ep, size_t i0,
                                  size_t j0) {
    (void)panel_stride;
    __m256i acc[MR][2];
    const uint8_t *ar[MR];
    for (int r = 0; r < MR; r++) {
        acc[r][0] = _mm256_setzero_si256();
        acc[r][1] = _mm256_setzero_si256();
        ar[r] = a + ((size_t)r < mr ? (size_t)r : 0) * lda; /* missing rows repeat row 0, never stored */
    }
    size_t kf = k / 4, q = 0;
    for (; q < kf; q++) {
        __m256i w0 = _mm256_loadu_si256((const __m256i *)(b + 64 * q)), w1 = _mm256_loadu_si256((const __m256i *)(b + 64 * q + 32));
        for (int r = 0; r < MR; r++) {
            __m256i av = bcast4(ar[r] + 4 * q);
            acc[r][0] = _mm256_dpbusd_avx_epi32(acc[r][0], av, w0);
            acc[r][1] = _mm256_dpbusd_avx_epi32(acc[r][1], av, w1);
        }
    }
    if (k % 4) {
        __m256i w0 = _mm256_loadu_si256((const __m256i *)(b + 64 * q)), w1 = _mm256_loadu_si256((const __m256i *)(b + 64 * q + 32));
        for (int r = 0; r < MR; r++) {
            uint8_t t[4] = {0, 0, 0, 0};
            memcpy(t, ar[r] + 4 * q, k % 4);
            __m256i av = bcast4(t);
            acc[r][0] = _mm256_dpbusd_avx_epi32(acc[r][0], av, w0);
            acc[r][1] = _mm256_dpbusd_avx_epi32(acc[r][1], av, w1);
        }
    }
    size_t es = kiln_qgemm_out_size(ep->out);
    for (size_t r = 0; r < mr; r++) {
        char *cr = (char *)c + r * ldc * es;
        qe_store_row8(ep, acc[r][0], i0 + r, j0, nc, cr);
        if (nc > 8) qe_store_row8(ep, acc[r][1], i0 + r, j0 + 8, nc - 8, cr + 8 * es);
    }
}
