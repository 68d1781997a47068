/* SPDX-License-Identifier: MIT */
/* AVX2 int16 → int32 GEMM on pair-packed B (igemm.h): 4 x 16 tiles of C in eight registers,
 * vpmaddwd of a broadcast A pair against 16 packed column pairs, k blocked so B's panel stays in
 * L1; compiled through function attributes and called only on CPUs with AVX2. */
#include "igemm.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#include <string.h>

#define AVX2 __attribute__((target("avx2")))

#define MR 4
#define KC_PAIRS 256 /* pairs of k per block: 16 KiB of a B panel */

/* The pair (A[i][2pp], A[i][2pp + 1]) as one 32-bit lane in every position. */
AVX2 static inline __m256i a_pair(const int16_t *ai, size_t pp) {
    int32_t v;
    memcpy(&v, ai + 2 * pp, sizeof(v));
    return _mm256_set1_epi32(v);
}

/* The last pair of a row of odd length k: (A[i][k - 1], 0). */
AVX2 static inline __m256i a_last(const int16_t *ai, size_t k) { return _mm256_set1_epi32((int32_t)(uint16_t)ai[k - 1]); }

/* Adds (or stores, when !acc) a row of up to 16 results. */
AVX2 static inline void put_row(int32_t *c, __m256i v0, __m256i v1, size_t cols, int acc) {
    int32_t tmp[16];
    int32_t *dst = cols >= 16 ? c : tmp;
    if (acc) {
        if (cols < 16) memcpy(tmp, c, cols * sizeof(int32_t));
        v0 = _mm256_add_epi32(v0, _mm256_loadu_si256((const __m256i *)dst));
        v1 = _mm256_add_epi32(v1, _mm256_loadu_si256((const __m256i *)(dst + 8)));
    }
    _mm256_storeu_si256((__m256i *)dst, v0);
    _mm256_storeu_si256((__m256i *)(dst + 8), v1);
    if (cols < 16) memcpy(c, tmp, cols * sizeof(int32_t));
}

#define STEP(r, X)                                                        \
    do {                                                                  \
        __m256i x_ = (X);                                                 \
        c##r##0 = _mm256_add_epi32(c##r##0, _mm256_madd_epi16(b0, x_));   \
        c##r##1 = _mm256_add_epi32(c##r##1, _mm256_madd_epi16(b1, x_));   \
    } while (0)

/* rows (1..4) x cols (1..16) tile over pairs [p0, p1), added to C when acc. */
AVX2 static void tile(size_t rows, size_t cols, size_t k, size_t p0, size_t p1, const int16_t *a, size_t lda, const int16_t *bp,
                      size_t npad, int32_t *c, size_t ldc, int acc) {
    __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    /* missing rows repeat row 0 and are never stored */
    const int16_t *a0 = a, *a1 = rows > 1 ? a + lda : a, *a2 = rows > 2 ? a + 2 * lda : a, *a3 = rows > 3 ? a + 3 * lda : a;
    size_t full = k / 2 < p1 ? k / 2 : p1; /* pairs with both halves in A */
    size_t pp = p0;
    for (; pp < full; pp++) {
        const int16_t *b = bp + pp * 2 * npad;
        __m256i b0 = _mm256_loadu_si256((const __m256i *)b);
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(b + 16));
        STEP(0, a_pair(a0, pp));
        STEP(1, a_pair(a1, pp));
        STEP(2, a_pair(a2, pp));
        STEP(3, a_pair(a3, pp));
    }
    if (pp < p1) { /* odd k: the last pair's second half is zero in packed B */
        const int16_t *b = bp + pp * 2 * npad;
        __m256i b0 = _mm256_loadu_si256((const __m256i *)b);
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(b + 16));
        STEP(0, a_last(a0, k));
        STEP(1, a_last(a1, k));
        STEP(2, a_last(a2, k));
        STEP(3, a_last(a3, k));
    }
    put_row(c, c00, c01, cols, acc);
    if (rows > 1) put_row(c + ldc, c10, c11, cols, acc);
    if (rows > 2) put_row(c + 2 * ldc, c20, c21, cols, acc);
    if (rows > 3) put_row(c + 3 * ldc, c30, c31, cols, acc);
}

AVX2 void kiln_s16_gemm__avx2(size_t m, size_t n, size_t k, const int16_t *a, size_t lda, const int16_t *packed, int32_t *c,
                              size_t ldc) {
    size_t npad = (n + KILN_S16_GEMM_NR - 1) / KILN_S16_GEMM_NR * KILN_S16_GEMM_NR, kp = (k + 1) / 2;
    if (kp == 0) {
        for (size_t i = 0; i < m; i++) memset(c + i * ldc, 0, n * sizeof(int32_t));
        return;
    }
    for (size_t p0 = 0; p0 < kp; p0 += KC_PAIRS) {
        size_t p1 = kp - p0 < KC_PAIRS ? kp : p0 + KC_PAIRS;
        for (size_t j0 = 0; j0 < n; j0 += 16) {
            size_t cols = n - j0 < 16 ? n - j0 : 16;
            for (size_t i0 = 0; i0 < m; i0 += MR) {
                size_t rows = m - i0 < MR ? m - i0 : MR;
                tile(rows, cols, k, p0, p1, a + i0 * lda, lda, packed + 2 * j0, npad, c + i0 * ldc + j0, ldc, p0 > 0);
            }
        }
    }
}
#endif
