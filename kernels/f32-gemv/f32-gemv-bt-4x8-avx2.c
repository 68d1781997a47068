/* SPDX-License-Identifier: MIT */
/* AVX2 + FMA variant: 8 lanes, four rows of B per pass, the k tail in scalar code. */
#include <immintrin.h>

#include "kernels/f32-gemv/f32-gemv.h"

static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

void kiln_f32_gemv_bt_4x8__avx2(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b, size_t ldb,
                                float *c, size_t ldc) {
    size_t kv = k & ~(size_t)7;
    for (size_t i = 0; i < m; i++) {
        const float *x = a + i * lda;
        float *y = c + i * ldc;
        size_t j = 0;
        for (; j + 4 <= n; j += 4) {
            const float *b0 = b + j * ldb, *b1 = b0 + ldb, *b2 = b1 + ldb, *b3 = b2 + ldb;
            __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
            for (size_t p = 0; p < kv; p += 8) {
                __m256 xv = _mm256_loadu_ps(x + p);
                s0 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(b0 + p), s0);
                s1 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(b1 + p), s1);
                s2 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(b2 + p), s2);
                s3 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(b3 + p), s3);
            }
            float t0 = hsum(s0), t1 = hsum(s1), t2 = hsum(s2), t3 = hsum(s3);
            for (size_t p = kv; p < k; p++) {
                t0 += x[p] * b0[p];
                t1 += x[p] * b1[p];
                t2 += x[p] * b2[p];
                t3 += x[p] * b3[p];
            }
            y[j] = t0;
            y[j + 1] = t1;
            y[j + 2] = t2;
            y[j + 3] = t3;
        }
        for (; j < n; j++) {
            const float *b0 = b + j * ldb;
            __m256 s0 = _mm256_setzero_ps();
            for (size_t p = 0; p < kv; p += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + p), _mm256_loadu_ps(b0 + p), s0);
            float t0 = hsum(s0);
            for (size_t p = kv; p < k; p++) t0 += x[p] * b0[p];
            y[j] = t0;
        }
    }
}
