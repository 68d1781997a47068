/* SPDX-License-Identifier: MIT */
/* The AVX-512 fp32 GEMM tile body shared by the 14x32 and 8x32 files (each defines MR before
 * including it; NR is 32 = two zmm). Instantiated once per row count, so the accumulators live
 * in registers: R x 2 zmm of C, two of B, one broadcast of A. Edge columns use k-masks for
 * loads of B and C and for stores; nothing past column nr is touched. */
#include <immintrin.h>

#include "kernels/f32-gemm/f32-gemm.h"

#define NR 32

static inline __attribute__((always_inline)) __m512 act_zmm(__m512 v, const kiln_f32_epilogue *ep) {
    switch (ep->act) {
    case KILN_ACT_RELU: {
        /* max(v, 0) that keeps NaN: select 0 only where v < 0 */
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

static inline __attribute__((always_inline)) void tile(const size_t R, size_t nr, size_t kc, const float *a,
                                                       const float *b, size_t ldb, float *c, size_t ldc, uint32_t flags,
                                                       const kiln_f32_epilogue *ep) {
    __m512 c0[MR], c1[MR];
#pragma GCC unroll 16
    for (size_t i = 0; i < R; i++) c0[i] = c1[i] = _mm512_setzero_ps();
    if (nr >= NR) {
        for (size_t p = 0; p < kc; p++) {
            __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 16
            for (size_t i = 0; i < R; i++) {
                __m512 av = _mm512_set1_ps(a[i]);
                c0[i] = _mm512_fmadd_ps(av, b0, c0[i]);
                c1[i] = _mm512_fmadd_ps(av, b1, c1[i]);
            }
            a += MR;
            b += ldb;
        }
    } else {
        __mmask16 m0 = nr >= 16 ? 0xffff : (__mmask16)((1u << nr) - 1u);
        __mmask16 m1 = nr <= 16 ? 0 : (__mmask16)((1u << (nr - 16)) - 1u);
        for (size_t p = 0; p < kc; p++) {
            __m512 b0 = _mm512_maskz_loadu_ps(m0, b), b1 = _mm512_maskz_loadu_ps(m1, b + 16);
#pragma GCC unroll 16
            for (size_t i = 0; i < R; i++) {
                __m512 av = _mm512_set1_ps(a[i]);
                c0[i] = _mm512_fmadd_ps(av, b0, c0[i]);
                c1[i] = _mm512_fmadd_ps(av, b1, c1[i]);
            }
            a += MR;
            b += ldb;
        }
    }
    __mmask16 m0 = nr >= 16 ? 0xffff : (__mmask16)((1u << nr) - 1u);
    __mmask16 m1 = nr >= NR ? 0xffff : nr <= 16 ? 0 : (__mmask16)((1u << (nr - 16)) - 1u);
    __m512 bc0 = _mm512_setzero_ps(), bc1 = _mm512_setzero_ps();
    int epi = (flags & KILN_GEMM_EPILOGUE) != 0;
    if (epi && ep->bias && !ep->bias_per_row) {
        bc0 = _mm512_maskz_loadu_ps(m0, ep->bias);
        bc1 = _mm512_maskz_loadu_ps(m1, ep->bias + 16);
    }
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
                if (ep->bias_per_row) {
                    __m512 bv = _mm512_set1_ps(ep->bias[i]);
                    v0 = _mm512_add_ps(v0, bv);
                    v1 = _mm512_add_ps(v1, bv);
                } else {
                    v0 = _mm512_add_ps(v0, bc0);
                    v1 = _mm512_add_ps(v1, bc1);
                }
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

#define UK(R)                                                                                                    \
    static void uk_##R(size_t mr, size_t nr, size_t kc, const float *a, const float *b, size_t ldb, float *c,     \
                       size_t ldc, uint32_t flags, const kiln_f32_epilogue *ep) {                                 \
        (void)mr;                                                                                                \
        tile(R, nr, kc, a, b, ldb, c, ldc, flags, ep);                                                           \
    }
