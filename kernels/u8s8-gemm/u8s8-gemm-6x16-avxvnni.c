/* SPDX-License-Identifier: MIT */
/* AVX-VNNI u8 x s8 GEMM: 6 rows x 16 columns (one packed panel) of C in 12 ymm accumulators;
 * per four k, two 32-byte loads of B, six broadcasts of A and 12 VEX vpdpbusd (exact int32).
 * Compiled with -mavx2 -mfma -mavxvnni only. */
#include "u8s8-epilogue-avx2.h"

#define MR 6

/* acc += u8 a x s8 b (VEX vpdpbusd), accumulator tied in place; see the AVX-512 file for why. */
#define DPBUSD(acc, a, b) __asm__("%{vex%} vpdpbusd %2, %1, %0" : "+x"(acc) : "x"(a), "x"(b))

static inline __m256i bcast4(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

/* Four bytes of A at a row's end with `rem` (1-3) bytes left, zero-filled. */
static inline __m256i bcast_tail(const uint8_t *p, size_t rem) {
    uint8_t t[4] = {0, 0, 0, 0};
    memcpy(t, p, rem);
    return bcast4(t);
}

void kiln_u8s8_gemm_6x16__avxvnni(size_t mr, size_t nc, size_t k, const uint8_t *a, size_t lda, const int8_t *b,
                                  size_t panel_stride, void *c, size_t ldc, const kiln_qgemm_epilogue *ep, size_t i0,
                                  size_t j0) {
    (void)panel_stride;
    /* one named variable per accumulator, so that they stay in registers */
    const uint8_t *a0 = a + (0 < mr ? 0 : 0) * lda; /* missing rows repeat row 0, never stored */
    const uint8_t *a1 = a + (1 < mr ? 1 : 0) * lda; /* missing rows repeat row 0, never stored */
    const uint8_t *a2 = a + (2 < mr ? 2 : 0) * lda; /* missing rows repeat row 0, never stored */
    const uint8_t *a3 = a + (3 < mr ? 3 : 0) * lda; /* missing rows repeat row 0, never stored */
    const uint8_t *a4 = a + (4 < mr ? 4 : 0) * lda; /* missing rows repeat row 0, never stored */
    const uint8_t *a5 = a + (5 < mr ? 5 : 0) * lda; /* missing rows repeat row 0, never stored */
    __m256i c00 = _mm256_setzero_si256(), c01 = _mm256_setzero_si256();
    __m256i c10 = _mm256_setzero_si256(), c11 = _mm256_setzero_si256();
    __m256i c20 = _mm256_setzero_si256(), c21 = _mm256_setzero_si256();
    __m256i c30 = _mm256_setzero_si256(), c31 = _mm256_setzero_si256();
    __m256i c40 = _mm256_setzero_si256(), c41 = _mm256_setzero_si256();
    __m256i c50 = _mm256_setzero_si256(), c51 = _mm256_setzero_si256();
    size_t kf = k / 4, q = 0;
    for (; q < kf; q++) {
        const __m256i w0 = _mm256_loadu_si256((const __m256i *)(b + 64 * q)), w1 = _mm256_loadu_si256((const __m256i *)(b + 64 * q + 32));
        __m256i av;
        av = bcast4(a0 + 4 * q);
        DPBUSD(c00, av, w0);
        DPBUSD(c01, av, w1);
        av = bcast4(a1 + 4 * q);
        DPBUSD(c10, av, w0);
        DPBUSD(c11, av, w1);
        av = bcast4(a2 + 4 * q);
        DPBUSD(c20, av, w0);
        DPBUSD(c21, av, w1);
        av = bcast4(a3 + 4 * q);
        DPBUSD(c30, av, w0);
        DPBUSD(c31, av, w1);
        av = bcast4(a4 + 4 * q);
        DPBUSD(c40, av, w0);
        DPBUSD(c41, av, w1);
        av = bcast4(a5 + 4 * q);
        DPBUSD(c50, av, w0);
        DPBUSD(c51, av, w1);
    }
    if (k % 4) {
        const __m256i w0 = _mm256_loadu_si256((const __m256i *)(b + 64 * q)), w1 = _mm256_loadu_si256((const __m256i *)(b + 64 * q + 32));
        __m256i av;
        av = bcast_tail(a0 + 4 * q, k % 4);
        DPBUSD(c00, av, w0);
        DPBUSD(c01, av, w1);
        av = bcast_tail(a1 + 4 * q, k % 4);
        DPBUSD(c10, av, w0);
        DPBUSD(c11, av, w1);
        av = bcast_tail(a2 + 4 * q, k % 4);
        DPBUSD(c20, av, w0);
        DPBUSD(c21, av, w1);
        av = bcast_tail(a3 + 4 * q, k % 4);
        DPBUSD(c30, av, w0);
        DPBUSD(c31, av, w1);
        av = bcast_tail(a4 + 4 * q, k % 4);
        DPBUSD(c40, av, w0);
        DPBUSD(c41, av, w1);
        av = bcast_tail(a5 + 4 * q, k % 4);
        DPBUSD(c50, av, w0);
        DPBUSD(c51, av, w1);
    }
    size_t es = kiln_qgemm_out_size(ep->out);
    char *cr = c;
    qe_store_row8(ep, c00, i0 + 0, j0, nc, cr + 0 * ldc * es);
    if (nc > 8) qe_store_row8(ep, c01, i0 + 0, j0 + 8, nc - 8, cr + 0 * ldc * es + 8 * es);
    if (mr <= 1) return;
    qe_store_row8(ep, c10, i0 + 1, j0, nc, cr + 1 * ldc * es);
    if (nc > 8) qe_store_row8(ep, c11, i0 + 1, j0 + 8, nc - 8, cr + 1 * ldc * es + 8 * es);
    if (mr <= 2) return;
    qe_store_row8(ep, c20, i0 + 2, j0, nc, cr + 2 * ldc * es);
    if (nc > 8) qe_store_row8(ep, c21, i0 + 2, j0 + 8, nc - 8, cr + 2 * ldc * es + 8 * es);
    if (mr <= 3) return;
    qe_store_row8(ep, c30, i0 + 3, j0, nc, cr + 3 * ldc * es);
    if (nc > 8) qe_store_row8(ep, c31, i0 + 3, j0 + 8, nc - 8, cr + 3 * ldc * es + 8 * es);
    if (mr <= 4) return;
    qe_store_row8(ep, c40, i0 + 4, j0, nc, cr + 4 * ldc * es);
    if (nc > 8) qe_store_row8(ep, c41, i0 + 4, j0 + 8, nc - 8, cr + 4 * ldc * es + 8 * es);
    if (mr <= 5) return;
    qe_store_row8(ep, c50, i0 + 5, j0, nc, cr + 5 * ldc * es);
    if (nc > 8) qe_store_row8(ep, c51, i0 + 5, j0 + 8, nc - 8, cr + 5 * ldc * es + 8 * es);
}
