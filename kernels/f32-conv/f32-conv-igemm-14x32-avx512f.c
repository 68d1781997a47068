/* SPDX-License-Identifier: MIT */
/* Implicit-GEMM convolution microkernel (f32-conv.h), 14 x 32 tile (28 zmm accumulators),
 * AVX-512F; compiled only into the avx512 kernel library. The K loop walks channels, and within
 * each the taps through the offset table, reading the padded input rows in place. Instantiated
 * per row count; edge columns use k-masks, nothing past column nr is read or written. */
#include <immintrin.h>

#include "kernels/f32-conv/f32-conv.h"

#define MR 14
#define NR 32

static inline __attribute__((always_inline)) __m512 act_zmm(__m512 v, const kiln_f32_epilogue *ep) {
    switch (ep->act) {
    case KILN_ACT_RELU: {
        __mmask16 neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
        return _mm512_mask_mov_ps(v, neg, _mm512_setzero_ps());
    }
    case KILN_ACT_LEAKYRELU: {
        __mmask16 neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
        return _mm512_mask_mul_ps(v, neg, v, _mm512_set1_ps(ep->p0));
    }
    case KILN_ACT_CLIP: {
        __mmask16 lo = _mm512_cmp_ps_mask(v, _mm512_set1_ps(ep->p0), _CMP_LT_OQ);
        v = _mm512_mask_mov_ps(v, lo, _mm512_set1_ps(ep->p0));
        __mmask16 hi = _mm512_cmp_ps_mask(v, _mm512_set1_ps(ep->p1), _CMP_GT_OQ);
        return _mm512_mask_mov_ps(v, hi, _mm512_set1_ps(ep->p1));
    }
    default: return v;
    }
}

static inline __attribute__((always_inline)) void tile(const size_t R, size_t nr, size_t cs, size_t taps,
                                                       const float *a, const float *x, size_t plane, const size_t *off,
                                                       float *c, size_t ldc, uint32_t flags,
                                                       const kiln_f32_epilogue *ep) {
    __m512 c0[MR], c1[MR];
#pragma GCC unroll 16
    for (size_t i = 0; i < R; i++) c0[i] = c1[i] = _mm512_setzero_ps();
    __mmask16 m0 = nr >= 16 ? 0xffff : (__mmask16)((1u << nr) - 1u);
    __mmask16 m1 = nr >= NR ? 0xffff : nr <= 16 ? 0 : (__mmask16)((1u << (nr - 16)) - 1u);
    if (nr >= NR) {
        for (size_t ch = 0; ch < cs; ch++, x += plane) {
            for (size_t t = 0; t < taps; t++) {
                const float *b = x + off[t];
                __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 16
                for (size_t i = 0; i < R; i++) {
                    __m512 av = _mm512_set1_ps(a[i]);
                    c0[i] = _mm512_fmadd_ps(av, b0, c0[i]);
                    c1[i] = _mm512_fmadd_ps(av, b1, c1[i]);
                }
                a += MR;
            }
        }
    } else {
        for (size_t ch = 0; ch < cs; ch++, x += plane) {
            for (size_t t = 0; t < taps; t++) {
                const float *b = x + off[t];
                __m512 b0 = _mm512_maskz_loadu_ps(m0, b), b1 = _mm512_maskz_loadu_ps(m1, b + 16);
#pragma GCC unroll 16
                for (size_t i = 0; i < R; i++) {
                    __m512 av = _mm512_set1_ps(a[i]);
                    c0[i] = _mm512_fmadd_ps(av, b0, c0[i]);
                    c1[i] = _mm512_fmadd_ps(av, b1, c1[i]);
                }
                a += MR;
            }
        }
    }
    int epi = (flags & KILN_GEMM_EPILOGUE) != 0;
#pragma GCC unroll 16
    for (size_t i = 0; i < R; i++) {
        float *ci = c + i * ldc;
        __m512 v0 = c0[i], v1 = c1[i];
        if (flags & KILN_GEMM_ACCUMULATE) {
            v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, ci));
            v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, ci + 16));
        }
        if (epi) {
            if (ep->bias) {
                __m512 bv = _mm512_set1_ps(ep->bias[i]);
                v0 = _mm512_add_ps(v0, bv);
                v1 = _mm512_add_ps(v1, bv);
            }
            if (ep->residual) {
                const float *r = ep->residual + i * ep->ld_residual;
                v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, r));
                v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, r + 16));
            }
            v0 = act_zmm(v0, ep);
            v1 = act_zmm(v1, ep);
        }
        _mm512_mask_storeu_ps(ci, m0, v0);
        _mm512_mask_storeu_ps(ci + 16, m1, v1);
    }
}

#define UK(R)                                                                                                     \
    static void uk_##R(size_t nr, size_t cs, size_t taps, const float *a, const float *x, size_t plane,           \
                       const size_t *off, float *c, size_t ldc, uint32_t flags, const kiln_f32_epilogue *ep) {     \
        tile(R, nr, cs, taps, a, x, plane, off, c, ldc, flags, ep);                                               \
    }
UK(1) UK(2) UK(3) UK(4) UK(5) UK(6) UK(7) UK(8) UK(9) UK(10) UK(11) UK(12) UK(13) UK(14)

const kiln_f32_conv_ukernel_fn kiln_f32_conv_ukernels_14x32__avx512f[KILN_GEMM_MAX_MR + 1] = {
    NULL, uk_1, uk_2, uk_3, uk_4, uk_5, uk_6, uk_7, uk_8, uk_9, uk_10, uk_11, uk_12, uk_13, uk_14};
