/* SPDX-License-Identifier: MIT */
/* AVX512-VNNI u8 x s8 GEMM: 8 rows x 32 columns (two packed panels) of C in 16 zmm accumulators;
 * per four k, two 64-byte loads of B, eight broadcasts of four bytes of A and 16 vpdpbusd
 * (u8 x s8 products summed four at a time into int32, exact, no saturation). The epilogue
 * (zero-point correction, requantization or float scale) runs on the accumulators before the
 * store. Compiled with -mavx512f -mavx512bw -mavx512vl -mavx512vnni only. */
#include "u8s8-gemm.h"

#include <immintrin.h>
#include <string.h>

#define MR 8

/* acc += u8 a x s8 b, four products a lane. Inline asm with the accumulator tied in place: with
 * the intrinsic, GCC 12 copied every accumulator to another register (and the stack) each step. */
#define DPBUSD(acc, a, b) __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b))

static inline __m512i bcast4(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

/* Four bytes of A at k offset 4q of a row with `rem` (1-3) bytes left. */
static inline __m512i bcast_tail(const uint8_t *p, size_t rem) {
    uint8_t t[4] = {0, 0, 0, 0};
    memcpy(t, p, rem);
    return bcast4(t);
}

static inline void store_row(const kiln_qgemm_epilogue *ep, __m512i v, size_t i, size_t j, size_t cnt, char *c) {
    __mmask16 mk = (__mmask16)(cnt >= 16 ? 0xffffu : (1u << cnt) - 1u);
    if (ep->row_add) v = _mm512_add_epi32(v, _mm512_set1_epi32(ep->row_add[i]));
    if (ep->col_add) v = _mm512_add_epi32(v, _mm512_maskz_loadu_epi32(mk, ep->col_add + j));
    if (ep->row_mul)
        v = _mm512_sub_epi32(v, _mm512_mullo_epi32(_mm512_set1_epi32(ep->row_mul[i]), _mm512_maskz_loadu_epi32(mk, ep->col_mul + j)));
    if (ep->out == KILN_QGEMM_OUT_S32) {
        _mm512_mask_storeu_epi32(c, mk, v);
        return;
    }
    __m512 s = ep->scale_per_row ? _mm512_set1_ps(ep->scale[i]) : _mm512_maskz_loadu_ps(mk, ep->scale + j);
    __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(v), s);
    if (ep->out == KILN_QGEMM_OUT_F32) {
        if (ep->fbias) f = _mm512_add_ps(f, ep->scale_per_row ? _mm512_set1_ps(ep->fbias[i]) : _mm512_maskz_loadu_ps(mk, ep->fbias + j));
        _mm512_mask_storeu_ps(c, mk, f);
        return;
    }
    int32_t lo = ep->out == KILN_QGEMM_OUT_U8 ? 0 : -128, hi = ep->out == KILN_QGEMM_OUT_U8 ? 255 : 127;
    f = _mm512_max_ps(f, _mm512_set1_ps((float)(lo - ep->zy))); /* NaN: the second operand, the low bound */
    f = _mm512_min_ps(f, _mm512_set1_ps((float)(hi - ep->zy)));
    __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(f), _mm512_set1_epi32(ep->zy)); /* round half to even */
    _mm512_mask_cvtepi32_storeu_epi8(c, mk, q);
}

/* Generated-style unrolling with one named variable per accumulator: GCC keeps these in zmm
 * registers, where an array of accumulators made it copy and spill them every step. */
static inline __attribute__((always_inline)) void tile1(size_t mr, size_t nc, size_t k, const uint8_t *a, size_t lda, const int8_t *b,
                                                        size_t ps, void *c, size_t ldc, const kiln_qgemm_epilogue *ep, size_t i0,
                                                        size_t j0) {
    (void)ps;
    const uint8_t *a0 = a + (0 < mr ? 0 : 0) * lda; /* missing rows repeat row 0, never stored */
    const uint8_t *a1 = a + (1 < mr ? 1 : 0) * lda; /* missing rows repeat row 0, never stored */
    const uint8_t *a2 = a + (2 < mr ? 2 : 0) * lda; /* missing rows repeat row 0, never stored */
    const uint8_t *a3 = a + (3 < mr ? 3 : 0) * lda; /* missing rows repeat row 0, never stored */
    const uint8_t *a4 = a + (4 < mr ? 4 : 0) * lda; /* missing rows repeat row 0, never stored */
    const uint8_t *a5 = a + (5 < mr ? 5 : 0) * lda; /* missing rows repeat row 0, never stored */
    const uint8_t *a6 = a + (6 < mr ? 6 : 0) * lda; /* missing rows repeat row 0, never stored */
    const uint8_t *a7 = a + (7 < mr ? 7 : 0) * lda; /* missing rows repeat row 0, never stored */
    __m512i c00 = _mm512_setzero_si512();
    __m512i c10 = _mm512_setzero_si512();
    __m512i c20 = _mm512_setzero_si512();
    __m512i c30 = _mm512_setzero_si512();
    __m512i c40 = _mm512_setzero_si512();
    __m512i c50 = _mm512_setzero_si512();
    __m512i c60 = _mm512_setzero_si512();
    __m512i c70 = _mm512_setzero_si512();
    const int8_t *b1 = b + ps;
    (void)b1;
    size_t kf = k / 4, q = 0;
    for (; q < kf; q++) {
        const __m512i w0 = _mm512_loadu_si512(b + 64 * q);
        __m512i av;
        av = bcast4(a0 + 4 * q);
        DPBUSD(c00, av, w0);
        av = bcast4(a1 + 4 * q);
        DPBUSD(c10, av, w0);
        av = bcast4(a2 + 4 * q);
        DPBUSD(c20, av, w0);
        av = bcast4(a3 + 4 * q);
        DPBUSD(c30, av, w0);
        av = bcast4(a4 + 4 * q);
        DPBUSD(c40, av, w0);
        av = bcast4(a5 + 4 * q);
        DPBUSD(c50, av, w0);
        av = bcast4(a6 + 4 * q);
        DPBUSD(c60, av, w0);
        av = bcast4(a7 + 4 * q);
        DPBUSD(c70, av, w0);
    }
    if (k % 4) {
        const __m512i w0 = _mm512_loadu_si512(b + 64 * q);
        __m512i av;
        av = bcast_tail(a0 + 4 * q, k % 4);
        DPBUSD(c00, av, w0);
        av = bcast_tail(a1 + 4 * q, k % 4);
        DPBUSD(c10, av, w0);
        av = bcast_tail(a2 + 4 * q, k % 4);
        DPBUSD(c20, av, w0);
        av = bcast_tail(a3 + 4 * q, k % 4);
        DPBUSD(c30, av, w0);
        av = bcast_tail(a4 + 4 * q, k % 4);
        DPBUSD(c40, av, w0);
        av = bcast_tail(a5 + 4 * q, k % 4);
        DPBUSD(c50, av, w0);
        av = bcast_tail(a6 + 4 * q, k % 4);
        DPBUSD(c60, av, w0);
        av = bcast_tail(a7 + 4 * q, k % 4);
        DPBUSD(c70, av, w0);
    }
    size_t es = kiln_qgemm_out_size(ep->out);
    char *cr = c;
    store_row(ep, c00, i0 + 0, j0, nc, cr + 0 * ldc * es);
    if (mr <= 1) return;
    store_row(ep, c10, i0 + 1, j0, nc, cr + 1 * ldc * es);
    if (mr <= 2) return;
    store_row(ep, c20, i0 + 2, j0, nc, cr + 2 * ldc * es);
    if (mr <= 3) return;
    store_row(ep, c30, i0 + 3, j0, nc, cr + 3 * ldc * es);
    if (mr <= 4) return;
    store_row(ep, c40, i0 + 4, j0, nc, cr + 4 * ldc * es);
    if (mr <= 5) return;
    store_row(ep, c50, i0 + 5, j0, nc, cr + 5 * ldc * es);
    if (mr <= 6) return;
    store_row(ep, c60, i0 + 6, j0, nc, cr + 6 * ldc * es);
    if (mr <= 7) return;
    store_row(ep, c70, i0 + 7, j0, nc, cr + 7 * ldc * es);
}

static inline __attribute__((always_inline)) void tile2(size_t mr, size_t nc, size_t k, const uint8_t *a, size_t lda, const int8_t *b,
                                                        size_t ps, void *c, size_t ldc, const kiln_qgemm_epilogue *ep, size_t i0,
                                                        size_t j0) {
    (void)ps;
    const uint8_t *a0 = a + (0 < mr ? 0 : 0) * lda; /* missing rows repeat row 0, never stored */
    const uint8_t *a1 = a + (1 < mr ? 1 : 0) * lda; /* missing rows repeat row 0, never stored */
    const uint8_t *a2 = a + (2 < mr ? 2 : 0) * lda; /* missing rows repeat row 0, never stored */
    const uint8_t *a3 = a + (3 < mr ? 3 : 0) * lda; /* missing rows repeat row 0, never stored */
    const uint8_t *a4 = a + (4 < mr ? 4 : 0) * lda; /* missing rows repeat row 0, never stored */
    const uint8_t *a5 = a + (5 < mr ? 5 : 0) * lda; /* missing rows repeat row 0, never stored */
    const uint8_t *a6 = a + (6 < mr ? 6 : 0) * lda; /* missing rows repeat row 0, never stored */
    const uint8_t *a7 = a + (7 < mr ? 7 : 0) * lda; /* missing rows repeat row 0, never stored */
    __m512i c00 = _mm512_setzero_si512(), c01 = _mm512_setzero_si512();
    __m512i c10 = _mm512_setzero_si512(), c11 = _mm512_setzero_si512();
    __m512i c20 = _mm512_setzero_si512(), c21 = _mm512_setzero_si512();
    __m512i c30 = _mm512_setzero_si512(), c31 = _mm512_setzero_si512();
    __m512i c40 = _mm512_setzero_si512(), c41 = _mm512_setzero_si512();
    __m512i c50 = _mm512_setzero_si512(), c51 = _mm512_setzero_si512();
    __m512i c60 = _mm512_setzero_si512(), c61 = _mm512_setzero_si512();
    __m512i c70 = _mm512_setzero_si512(), c71 = _mm512_setzero_si512();
    const int8_t *b1 = b + ps;
    (void)b1;
    size_t kf = k / 4, q = 0;
    for (; q < kf; q++) {
        const __m512i w0 = _mm512_loadu_si512(b + 64 * q);
        const __m512i w1 = _mm512_loadu_si512(b1 + 64 * q);
        __m512i av;
        av = bcast4(a0 + 4 * q);
        DPBUSD(c00, av, w0);
        DPBUSD(c01, av, w1);
        av = bcast4(a1 + 4 * q);
        DPBUSD(c10, av, w0);
        DPBUSD(c11, av, w1);
        av = bcast4(a2 + 4 * q);
        DPBUSD(c20, av, w0);
        DPBUSD(c21, av, w1);
        av = bcast4(a3 + 4 * q);
        DPBUSD(c30, av, w0);
        DPBUSD(c31, av, w1);
        av = bcast4(a4 + 4 * q);
        DPBUSD(c40, av, w0);
        DPBUSD(c41, av, w1);
        av = bcast4(a5 + 4 * q);
        DPBUSD(c50, av, w0);
        DPBUSD(c51, av, w1);
        av = bcast4(a6 + 4 * q);
        DPBUSD(c60, av, w0);
        DPBUSD(c61, av, w1);
        av = bcast4(a7 + 4 * q);
        DPBUSD(c70, av, w0);
        DPBUSD(c71, av, w1);
    }
    if (k % 4) {
        const __m512i w0 = _mm512_loadu_si512(b + 64 * q);
        const __m512i w1 = _mm512_loadu_si512(b1 + 64 * q);
        __m512i av;
        av = bcast_tail(a0 + 4 * q, k % 4);
        DPBUSD(c00, av, w0);
        DPBUSD(c01, av, w1);
        av = bcast_tail(a1 + 4 * q, k % 4);
        DPBUSD(c10, av, w0);
        DPBUSD(c11, av, w1);
        av = bcast_tail(a2 + 4 * q, k % 4);
        DPBUSD(c20, av, w0);
        DPBUSD(c21, av, w1);
        av = bcast_tail(a3 + 4 * q, k % 4);
        DPBUSD(c30, av, w0);
        DPBUSD(c31, av, w1);
        av = bcast_tail(a4 + 4 * q, k % 4);
        DPBUSD(c40, av, w0);
        DPBUSD(c41, av, w1);
        av = bcast_tail(a5 + 4 * q, k % 4);
        DPBUSD(c50, av, w0);
        DPBUSD(c51, av, w1);
        av = bcast_tail(a6 + 4 * q, k % 4);
        DPBUSD(c60, av, w0);
        DPBUSD(c61, av, w1);
        av = bcast_tail(a7 + 4 * q, k % 4);
        DPBUSD(c70, av, w0);
        DPBUSD(c71, av, w1);
    }
    size_t es = kiln_qgemm_out_size(ep->out);
    char *cr = c;
    store_row(ep, c00, i0 + 0, j0, nc, cr + 0 * ldc * es);
    store_row(ep, c01, i0 + 0, j0 + 16, nc - 16, cr + 0 * ldc * es + 16 * es);
    if (mr <= 1) return;
    store_row(ep, c10, i0 + 1, j0, nc, cr + 1 * ldc * es);
    store_row(ep, c11, i0 + 1, j0 + 16, nc - 16, cr + 1 * ldc * es + 16 * es);
    if (mr <= 2) return;
    store_row(ep, c20, i0 + 2, j0, nc, cr + 2 * ldc * es);
    store_row(ep, c21, i0 + 2, j0 + 16, nc - 16, cr + 2 * ldc * es + 16 * es);
    if (mr <= 3) return;
    store_row(ep, c30, i0 + 3, j0, nc, cr + 3 * ldc * es);
    store_row(ep, c31, i0 + 3, j0 + 16, nc - 16, cr + 3 * ldc * es + 16 * es);
    if (mr <= 4) return;
    store_row(ep, c40, i0 + 4, j0, nc, cr + 4 * ldc * es);
    store_row(ep, c41, i0 + 4, j0 + 16, nc - 16, cr + 4 * ldc * es + 16 * es);
    if (mr <= 5) return;
    store_row(ep, c50, i0 + 5, j0, nc, cr + 5 * ldc * es);
    store_row(ep, c51, i0 + 5, j0 + 16, nc - 16, cr + 5 * ldc * es + 16 * es);
    if (mr <= 6) return;
    store_row(ep, c60, i0 + 6, j0, nc, cr + 6 * ldc * es);
    store_row(ep, c61, i0 + 6, j0 + 16, nc - 16, cr + 6 * ldc * es + 16 * es);
    if (mr <= 7) return;
    store_row(ep, c70, i0 + 7, j0, nc, cr + 7 * ldc * es);
    store_row(ep, c71, i0 + 7, j0 + 16, nc - 16, cr + 7 * ldc * es + 16 * es);
}

void kiln_u8s8_gemm_8x32__avx512vnni(size_t mr, size_t nc, size_t k, const uint8_t *a, size_t lda, const int8_t *b,
                                     size_t panel_stride, void *c, size_t ldc, const kiln_qgemm_epilogue *ep, size_t i0,
                                     size_t j0) {
    if (nc > 16) tile2(mr, nc, k, a, lda, b, panel_stride, c, ldc, ep, i0, j0);
    else tile1(mr, nc, k, a, lda, b, panel_stride, c, ldc, ep, i0, j0);
}
