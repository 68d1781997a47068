/* SPDX-License-Identifier: MIT */
/* AVX2 float32 <-> 8-bit conversions (q8-vcvt.h), 8 values a step, scalar tail.
 * Compiled with -mavx2 -mfma only. */
#include "q8-vcvt.h"

#include <immintrin.h>
#include <string.h>

void kiln_f32_q8_vcvt__avx2(size_t n, const float *x, float scale, int32_t zp, int s8, void *y) {
    int32_t lo = s8 ? -128 : 0, hi = s8 ? 127 : 255;
    const __m256 vs = _mm256_set1_ps(scale), vlo = _mm256_set1_ps((float)(lo - zp)), vhi = _mm256_set1_ps((float)(hi - zp));
    const __m256i vz = _mm256_set1_epi32(zp);
    const __m256i shuf = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                          0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    uint8_t *out = y;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_div_ps(_mm256_loadu_ps(x + i), vs);
        v = _mm256_min_ps(_mm256_max_ps(v, vlo), vhi);
        __m256i q = _mm256_shuffle_epi8(_mm256_add_epi32(_mm256_cvtps_epi32(v), vz), shuf);
        uint32_t a = (uint32_t)_mm256_extract_epi32(q, 0), b = (uint32_t)_mm256_extract_epi32(q, 4);
        memcpy(out + i, &a, 4);
        memcpy(out + i + 4, &b, 4);
    }
    kiln_f32_q8_vcvt__scalar(n - i, x + i, scale, zp, s8, out + i);
}

void kiln_q8_f32_vcvt__avx2(size_t n, const void *x, int s8, float scale, float zp, float *y) {
    const __m256 vs = _mm256_set1_ps(scale), vz = _mm256_set1_ps(zp);
    const uint8_t *in = x;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i b = _mm_loadl_epi64((const __m128i *)(in + i));
        __m256i w = s8 ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b);
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_sub_ps(_mm256_cvtepi32_ps(w), vz), vs));
    }
    kiln_q8_f32_vcvt__scalar(n - i, in + i, s8, scale, zp, y + i);
}

void kiln_f32_minmax__avx2(size_t n, const float *x, float *mn, float *mx) {
    __m256 a = _mm256_set1_ps(*mn), b = _mm256_set1_ps(*mx);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        a = _mm256_min_ps(v, a);
        b = _mm256_max_ps(v, b);
    }
    float la[8], lb[8];
    _mm256_storeu_ps(la, a);
    _mm256_storeu_ps(lb, b);
    float lo = la[0], hi = lb[0]; /* lanes hold no NaN */
    for (int l = 1; l < 8; l++) {
        lo = la[l] < lo ? la[l] : lo;
        hi = lb[l] > hi ? lb[l] : hi;
    }
    *mn = lo, *mx = hi;
    kiln_f32_minmax__scalar(n - i, x + i, mn, mx);
}
