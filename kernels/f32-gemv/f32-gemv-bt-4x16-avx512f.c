/* SPDX-License-Identifier: MIT */
/* AVX-512F variant: 16 lanes, four rows of B per pass, the k tail through a mask. */
#include <immintrin.h>

#include "kernels/f32-gemv/f32-gemv.h"

void kiln_f32_gemv_bt_4x16__avx512f(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b,
                                    size_t ldb, float *c, size_t ldc) {
    size_t kv = k & ~(size_t)15;
    __mmask16 tail = (__mmask16)((1u << (k & 15)) - 1u);
    for (size_t i = 0; i < m; i++) {
        const float *x = a + i * lda;
        float *y = c + i * ldc;
        size_t j = 0;
        for (; j + 4 <= n; j += 4) {
            const float *b0 = b + j * ldb, *b1 = b0 + ldb, *b2 = b1 + ldb, *b3 = b2 + ldb;
            __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
            for (size_t p = 0; p < kv; p += 16) {
                __m512 xv = _mm512_loadu_ps(x + p);
                s0 = _mm512_fmadd_ps(xv, _mm512_loadu_ps(b0 + p), s0);
                s1 = _mm512_fmadd_ps(xv, _mm512_loadu_ps(b1 + p), s1);
                s2 = _mm512_fmadd_ps(xv, _mm512_loadu_ps(b2 + p), s2);
                s3 = _mm512_fmadd_ps(xv, _mm512_loadu_ps(b3 + p), s3);
            }
            if (tail) {
                __m512 xv = _mm512_maskz_loadu_ps(tail, x + kv);
                s0 = _mm512_fmadd_ps(xv, _mm512_maskz_loadu_ps(tail, b0 + kv), s0);
                s1 = _mm512_fmadd_ps(xv, _mm512_maskz_loadu_ps(tail, b1 + kv), s1);
                s2 = _mm512_fmadd_ps(xv, _mm512_maskz_loadu_ps(tail, b2 + kv), s2);
                s3 = _mm512_fmadd_ps(xv, _mm512_maskz_loadu_ps(tail, b3 + kv), s3);
            }
            y[j] = _mm512_reduce_add_ps(s0);
            y[j + 1] = _mm512_reduce_add_ps(s1);
            y[j + 2] = _mm512_reduce_add_ps(s2);
            y[j + 3] = _mm512_reduce_add_ps(s3);
        }
        for (; j < n; j++) {
            const float *b0 = b + j * ldb;
            __m512 s0 = _mm512_setzero_ps();
            for (size_t p = 0; p < kv; p += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + p), _mm512_loadu_ps(b0 + p), s0);
            if (tail) s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, x + kv), _mm512_maskz_loadu_ps(tail, b0 + kv), s0);
            y[j] = _mm512_reduce_add_ps(s0);
        }
    }
}
