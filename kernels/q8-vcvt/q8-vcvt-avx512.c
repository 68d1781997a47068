/* SPDX-License-Identifier: MIT */
/* AVX-512 float32 <-> 8-bit conversions (q8-vcvt.h), 16 values a step, masked tail.
 * Compiled with -mavx512f -mavx512bw only. */
#include "q8-vcvt.h"

#include <immintrin.h>

void kiln_f32_q8_vcvt__avx512(size_t n, const float *x, float scale, int32_t zp, int s8, void *y) {
    int32_t lo = s8 ? -128 : 0, hi = s8 ? 127 : 255;
    const __m512 vs = _mm512_set1_ps(scale), vlo = _mm512_set1_ps((float)(lo - zp)), vhi = _mm512_set1_ps((float)(hi - zp));
    const __m512i vz = _mm512_set1_epi32(zp);
    uint8_t *out = y;
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1u);
        __m512 v = _mm512_div_ps(_mm512_maskz_loadu_ps(m, x + i), vs);
        v = _mm512_min_ps(_mm512_max_ps(v, vlo), vhi); /* max: NaN gives the second operand, the low bound */
        __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(v), vz); /* round half to even */
        _mm512_mask_cvtepi32_storeu_epi8(out + i, m, q);
    }
}

void kiln_q8_f32_vcvt__avx512(size_t n, const void *x, int s8, float scale, float zp, float *y) {
    const __m512 vs = _mm512_set1_ps(scale), vz = _mm512_set1_ps(zp);
    const uint8_t *in = x;
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1u);
        __m128i b = _mm_maskz_loadu_epi8(m, in + i);
        __m512i w = s8 ? _mm512_cvtepi8_epi32(b) : _mm512_cvtepu8_epi32(b);
        _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(_mm512_sub_ps(_mm512_cvtepi32_ps(w), vz), vs));
    }
}

/* vminps/vmaxps return the second operand when either is NaN: min(x, m) is `x < m ? x : m`. */
void kiln_f32_minmax__avx512(size_t n, const float *x, float *mn, float *mx) {
    __m512 a = _mm512_set1_ps(*mn), b = _mm512_set1_ps(*mx);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        a = _mm512_min_ps(v, a);
        b = _mm512_max_ps(v, b);
    }
    float la[16], lb[16];
    _mm512_storeu_ps(la, a);
    _mm512_storeu_ps(lb, b);
    float lo = la[0], hi = lb[0]; /* lanes hold no NaN */
    for (int l = 1; l < 16; l++) {
        lo = la[l] < lo ? la[l] : lo;
        hi = lb[l] > hi ? lb[l] : hi;
    }
    *mn = lo, *mx = hi;
    kiln_f32_minmax__scalar(n - i, x + i, mn, mx);
}
