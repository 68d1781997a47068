/* SPDX-License-Identifier: MIT */
/* AVX2 int16 → int32 GEMM on pair-packed B (see igemm.h): a 4 x 16 tile of C lives in eight
 * registers; each step broadcasts a pair (A[i][p], A[i][p+1]) and multiply-adds it against 16
 * packed column pairs with vpmaddwd (two products per 32-bit lane). Compiled for AVX2 through
 * function attributes; only called when the CPU has it. */
#include "igemm.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#include <string.h>

#define AVX2 __attribute__((target("avx2")))

/* The pair of A row `ai` at pair index pp, as one 32-bit lane (0 past the end of a row of odd k). */
AVX2 static inline __m256i a_pair(const int16_t *ai, size_t pp, size_t k) {
    int32_t v;
    if (2 * pp + 1 < k) {
        memcpy(&v, ai + 2 * pp, sizeof(v));
    } else {
        uint16_t lo = (uint16_t)ai[2 * pp];
        v = (int32_t)lo;
    }
    return _mm256_set1_epi32(v);
}

/* Stores a row of up to 16 results. */
AVX2 static inline void store_row(int32_t *c, __m256i v0, __m256i v1, size_t cols) {
    if (cols >= 16) {
        _mm256_storeu_si256((__m256i *)c, v0);
        _mm256_storeu_si256((__m256i *)(c + 8), v1);
        return;
    }
    int32_t tmp[16];
    _mm256_storeu_si256((__m256i *)tmp, v0);
    _mm256_storeu_si256((__m256i *)(tmp + 8), v1);
    memcpy(c, tmp, cols * sizeof(int32_t));
}

/* rows (1..4) x 16 tile at column j0. */
AVX2 static void tile(size_t rows, size_t cols, size_t k, const int16_t *a, size_t lda, const int16_t *bp, size_t npad,
                      int32_t *c, size_t ldc) {
    __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    size_t kp = (k + 1) / 2;
    const int16_t *a0 = a, *a1 = rows > 1 ? a + lda : a, *a2 = rows > 2 ? a + 2 * lda : a, *a3 = rows > 3 ? a + 3 * lda : a;
    for (size_t pp = 0; pp < kp; pp++) {
        const int16_t *b = bp + pp * 2 * npad;
        __m256i b0 = _mm256_loadu_si256((const __m256i *)b);
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(b + 16));
        __m256i x = a_pair(a0, pp, k);
        c00 = _mm256_add_epi32(c00, _mm256_madd_epi16(b0, x));
        c01 = _mm256_add_epi32(c01, _mm256_madd_epi16(b1, x));
        x = a_pair(a1, pp, k);
        c10 = _mm256_add_epi32(c10, _mm256_madd_epi16(b0, x));
        c11 = _mm256_add_epi32(c11, _mm256_madd_epi16(b1, x));
        x = a_pair(a2, pp, k);
        c20 = _mm256_add_epi32(c20, _mm256_madd_epi16(b0, x));
        c21 = _mm256_add_epi32(c21, _mm256_madd_epi16(b1, x));
        x = a_pair(a3, pp, k);
        c30 = _mm256_add_epi32(c30, _mm256_madd_epi16(b0, x));
        c31 = _mm256_add_epi32(c31, _mm256_madd_epi16(b1, x));
    }
    store_row(c, c00, c01, cols);
    if (rows > 1) store_row(c + ldc, c10, c11, cols);
    if (rows > 2) store_row(c + 2 * ldc, c20, c21, cols);
    if (rows > 3) store_row(c + 3 * ldc, c30, c31, cols);
}

AVX2 void kiln_s16_gemm__avx2(size_t m, size_t n, size_t k, const int16_t *a, size_t lda, const int16_t *packed, int32_t *c,
                              size_t ldc) {
    size_t npad = (n + KILN_S16_GEMM_NR - 1) / KILN_S16_GEMM_NR * KILN_S16_GEMM_NR;
    for (size_t j0 = 0; j0 < n; j0 += 16) {
        size_t cols = n - j0 < 16 ? n - j0 : 16;
        for (size_t i0 = 0; i0 < m; i0 += 4) {
            size_t rows = m - i0 < 4 ? m - i0 : 4;
            tile(rows, cols, k, a + i0 * lda, lda, packed + 2 * j0, npad, c + i0 * ldc + j0, ldc);
        }
    }
}
#endif
