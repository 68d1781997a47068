/* SPDX-License-Identifier: MIT */
/* Implicit-GEMM convolution microkernel (f32-conv.h), 6 x 16 tile (12 ymm accumulators), AVX2 +
 * FMA; compiled only into the avx2 kernel library. Same loop as the AVX-512 file; edge columns use
 * vmaskmovps, nothing past column nr is read or written. */
#include <immintrin.h>

#include "kernels/f32-conv/f32-conv.h"

#define MR 6
#define NR 16

static const int32_t mask_table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

/* Lanes [0, n) set, n in [0, 8]. */
static inline __m256i lanes(size_t n) { return _mm256_loadu_si256((const __m256i *)(mask_table + 8 - n)); }

static inline __attribute__((always_inline)) __m256 act_ymm(__m256 v, const kiln_f32_epilogue *ep) {
    switch (ep->act) {
    case KILN_ACT_RELU: {
        __m256 neg = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ);
        return _mm256_blendv_ps(v, _mm256_setzero_ps(), neg);
    }
    case KILN_ACT_LEAKYRELU: {
        __m256 neg = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ);
        return _mm256_blendv_ps(v, _mm256_mul_ps(v, _mm256_set1_ps(ep->p0)), neg);
    }
    case KILN_ACT_CLIP: {
        __m256 lo = _mm256_set1_ps(ep->p0), hi = _mm256_set1_ps(ep->p1);
        v = _mm256_blendv_ps(v, lo, _mm256_cmp_ps(v, lo, _CMP_LT_OQ));
        return _mm256_blendv_ps(v, hi, _mm256_cmp_ps(v, hi, _CMP_GT_OQ));
    }
    default: return v;
    }
}

static inline __attribute__((always_inline)) void tile(const size_t R, size_t nr, size_t cs, size_t taps,
                                                       const float *a, const float *x, size_t plane, const size_t *off,
                                                       float *c, size_t ldc, uint32_t flags,
                                                       const kiln_f32_epilogue *ep) {
    __m256 c0[MR], c1[MR];
#pragma GCC unroll 8
    for (size_t i = 0; i < R; i++) c0[i] = c1[i] = _mm256_setzero_ps();
    int full = nr >= NR;
    __m256i m0 = lanes(full || nr >= 8 ? 8 : nr), m1 = lanes(full ? 8 : nr <= 8 ? 0 : nr - 8);
    if (full) {
        for (size_t ch = 0; ch < cs; ch++, x += plane) {
            for (size_t t = 0; t < taps; t++) {
                const float *b = x + off[t];
                __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 8
                for (size_t i = 0; i < R; i++) {
                    __m256 av = _mm256_broadcast_ss(a + i);
                    c0[i] = _mm256_fmadd_ps(av, b0, c0[i]);
                    c1[i] = _mm256_fmadd_ps(av, b1, c1[i]);
                }
                a += MR;
            }
        }
    } else {
        for (size_t ch = 0; ch < cs; ch++, x += plane) {
            for (size_t t = 0; t < taps; t++) {
                const float *b = x + off[t];
                __m256 b0 = _mm256_maskload_ps(b, m0), b1 = _mm256_maskload_ps(b + 8, m1);
#pragma GCC unroll 8
                for (size_t i = 0; i < R; i++) {
                    __m256 av = _mm256_broadcast_ss(a + i);
                    c0[i] = _mm256_fmadd_ps(av, b0, c0[i]);
                    c1[i] = _mm256_fmadd_ps(av, b1, c1[i]);
                }
                a += MR;
            }
        }
    }
    int epi = (flags & KILN_GEMM_EPILOGUE) != 0;
#pragma GCC unroll 8
    for (size_t i = 0; i < R; i++) {
        float *ci = c + i * ldc;
        __m256 v0 = c0[i], v1 = c1[i];
        if (flags & KILN_GEMM_ACCUMULATE) {
            v0 = _mm256_add_ps(v0, _mm256_maskload_ps(ci, m0));
            v1 = _mm256_add_ps(v1, _mm256_maskload_ps(ci + 8, m1));
        }
        if (epi) {
            if (ep->bias) {
                __m256 bv = _mm256_broadcast_ss(ep->bias + i);
                v0 = _mm256_add_ps(v0, bv);
                v1 = _mm256_add_ps(v1, bv);
            }
            if (ep->residual) {
                const float *r = ep->residual + i * ep->ld_residual;
                v0 = _mm256_add_ps(v0, _mm256_maskload_ps(r, m0));
                v1 = _mm256_add_ps(v1, _mm256_maskload_ps(r + 8, m1));
            }
            v0 = act_ymm(v0, ep);
            v1 = act_ymm(v1, ep);
        }
        if (full) {
            _mm256_storeu_ps(ci, v0);
            _mm256_storeu_ps(ci + 8, v1);
        } else {
            _mm256_maskstore_ps(ci, m0, v0);
            _mm256_maskstore_ps(ci + 8, m1, v1);
        }
    }
}

#define UK(R)                                                                                                     \
    static void uk_##R(size_t nr, size_t cs, size_t taps, const float *a, const float *x, size_t plane,           \
                       const size_t *off, float *c, size_t ldc, uint32_t flags, const kiln_f32_epilogue *ep) {     \
        tile(R, nr, cs, taps, a, x, plane, off, c, ldc, flags, ep);                                               \
    }
UK(1) UK(2) UK(3) UK(4) UK(5) UK(6)

const kiln_f32_conv_ukernel_fn kiln_f32_conv_ukernels_6x16__avx2_fma[KILN_GEMM_MAX_MR + 1] = {NULL, uk_1, uk_2, uk_3,
                                                                                                uk_4, uk_5, uk_6};
