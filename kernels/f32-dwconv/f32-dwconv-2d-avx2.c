/* SPDX-License-Identifier: MIT */
/* Depthwise 2-D convolution, AVX2+FMA: 8 outputs of a row in one ymm across every tap, input
 * columns of the padded rows loaded directly (stride 1), de-interleaved from two loads
 * (stride 2) or gathered (other strides); the row's tail stored through a mask. */
#include <immintrin.h>

#include "kernels/common/activation.h"
#include "kernels/f32-dwconv/f32-dwconv.h"

static inline __m256 act8(__m256 v, const kiln_f32_dwconv_params *p) {
    __m256 z = _mm256_setzero_ps();
    switch (p->act) {
    case KILN_ACT_RELU: return _mm256_blendv_ps(v, z, _mm256_cmp_ps(v, z, _CMP_LT_OQ));
    case KILN_ACT_LEAKYRELU:
        return _mm256_blendv_ps(v, _mm256_mul_ps(v, _mm256_set1_ps(p->p0)), _mm256_cmp_ps(v, z, _CMP_LT_OQ));
    case KILN_ACT_CLIP: {
        __m256 lo = _mm256_set1_ps(p->p0), hi = _mm256_set1_ps(p->p1);
        v = _mm256_blendv_ps(v, lo, _mm256_cmp_ps(v, lo, _CMP_LT_OQ));
        return _mm256_blendv_ps(v, hi, _mm256_cmp_ps(v, hi, _CMP_GT_OQ));
    }
    default: return v;
    }
}

static const int32_t mask_table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

static void row8(const kiln_f32_dwconv_params *p, const float *const *r, const float *k, float bias, float *yr) {
    const int64_t sw = p->sw, kh = p->kh, kw = p->kw, dw = p->dw, ow = p->ow;
    const __m256i idx = _mm256_mullo_epi32(_mm256_set_epi32(7, 6, 5, 4, 3, 2, 1, 0), _mm256_set1_epi32((int)sw));
    for (int64_t o = 0; o < ow; o += 8) {
        __m256 acc = _mm256_set1_ps(bias);
        for (int64_t a = 0; a < kh; a++) {
            const float *row = r[a] + o * sw;
            for (int64_t b = 0; b < kw; b++) {
                __m256 kv = _mm256_set1_ps(k[a * kw + b]);
                const float *src = row + b * dw;
                __m256 xv;
                if (sw == 1) xv = _mm256_loadu_ps(src);
                else if (sw == 2) {
                    __m256 ev = _mm256_shuffle_ps(_mm256_loadu_ps(src), _mm256_loadu_ps(src + 8), 0x88);
                    xv = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(ev), 0xD8));
                } else
                    xv = _mm256_i32gather_ps(src, idx, 4);
                acc = _mm256_fmadd_ps(kv, xv, acc);
            }
        }
        acc = act8(acc, p);
        if (ow - o >= 8) _mm256_storeu_ps(yr + o, acc);
        else _mm256_maskstore_ps(yr + o, _mm256_loadu_si256((const __m256i *)(mask_table + 8 - (ow - o))), acc);
    }
}

#define DW_NAME kiln_f32_dwconv2d__avx2
#define DW_ROW row8
#include "kernels/f32-dwconv/f32-dwconv-tmpl.h"
