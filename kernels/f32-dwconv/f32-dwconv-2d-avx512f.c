/* SPDX-License-Identifier: MIT */
/* Depthwise 2-D convolution, AVX-512F: 16 outputs of a row in one zmm across every tap, input
 * columns of the padded rows loaded directly (stride 1), de-interleaved from two loads
 * (stride 2) or gathered (other strides); the row's tail stored through a mask. */
#include <immintrin.h>

#include "kernels/common/activation.h"
#include "kernels/f32-dwconv/f32-dwconv.h"

static inline __m512 act16(__m512 v, const kiln_f32_dwconv_params *p) {
    __m512 z = _mm512_setzero_ps();
    switch (p->act) {
    case KILN_ACT_RELU: return _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(v, z, _CMP_LT_OQ), z);
    case KILN_ACT_LEAKYRELU:
        return _mm512_mask_mul_ps(v, _mm512_cmp_ps_mask(v, z, _CMP_LT_OQ), v, _mm512_set1_ps(p->p0));
    case KILN_ACT_CLIP: {
        __m512 lo = _mm512_set1_ps(p->p0), hi = _mm512_set1_ps(p->p1);
        v = _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(v, lo, _CMP_LT_OQ), lo);
        return _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(v, hi, _CMP_GT_OQ), hi);
    }
    default: return v;
    }
}

static void row16(const kiln_f32_dwconv_params *p, const float *const *r, const float *k, float bias, float *yr) {
    const int64_t sw = p->sw, kh = p->kh, kw = p->kw, dw = p->dw, ow = p->ow;
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i idx = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                           _mm512_set1_epi32((int)sw));
    for (int64_t o = 0; o < ow; o += 16) {
        __m512 acc = _mm512_set1_ps(bias);
        for (int64_t a = 0; a < kh; a++) {
            const float *row = r[a] + o * sw;
            for (int64_t b = 0; b < kw; b++) {
                __m512 kv = _mm512_set1_ps(k[a * kw + b]);
                const float *src = row + b * dw;
                __m512 xv;
                if (sw == 1) xv = _mm512_loadu_ps(src);
                else if (sw == 2) xv = _mm512_permutex2var_ps(_mm512_loadu_ps(src), even, _mm512_loadu_ps(src + 16));
                else xv = _mm512_i32gather_ps(idx, src, 4);
                acc = _mm512_fmadd_ps(kv, xv, acc);
            }
        }
        __mmask16 m = ow - o >= 16 ? 0xffff : (__mmask16)((1u << (ow - o)) - 1u);
        _mm512_mask_storeu_ps(yr + o, m, act16(acc, p));
    }
}

#define DW_NAME kiln_f32_dwconv2d__avx512f
#define DW_ROW row16
#include "kernels/f32-dwconv/f32-dwconv-tmpl.h"
