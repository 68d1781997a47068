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

static inline __attribute__((always_inline)) void tile(size_t mr, size_t nc, size_t k, const uint8_t *a, size_t lda,
                                                       const int8_t *b, size_t ps, void *c, size_t ldc,
                                                       const kiln_qgemm_epilogue *ep, size_t i0, size_t j0, int np) {
    __m512i acc[MR][2];
    const uint8_t *ar[MR];
    for (int r = 0; r < MR; r++) {
        acc[r][0] = _mm512_setzero_si512();
        acc[r][1] = _mm512_setzero_si512();
        ar[r] = a + ((size_t)r < mr ? (size_t)r : 0) * lda; /* missing rows repeat row 0, never stored */
    }
    const int8_t *b1 = b + ps;
    size_t kf = k / 4, q = 0;
    for (; q < kf; q++) {
        __m512i w0 = _mm512_loadu_si512(b + 64 * q), w1 = np == 2 ? _mm512_loadu_si512(b1 + 64 * q) : w0;
        for (int r = 0; r < MR; r++) {
            __m512i av = bcast4(ar[r] + 4 * q);
            acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], av, w0);
            if (np == 2) acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], av, w1);
        }
    }
    if (k % 4) {
        __m512i w0 = _mm512_loadu_si512(b + 64 * q), w1 = np == 2 ? _mm512_loadu_si512(b1 + 64 * q) : w0;
        for (int r = 0; r < MR; r++) {
            __m512i av = bcast_tail(ar[r] + 4 * q, k % 4);
            acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], av, w0);
            if (np == 2) acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], av, w1);
        }
    }
    size_t es = kiln_qgemm_out_size(ep->out);
    for (size_t r = 0; r < mr; r++) {
        char *cr = (char *)c + r * ldc * es;
        store_row(ep, acc[r][0], i0 + r, j0, nc, cr);
        if (np == 2) store_row(ep, acc[r][1], i0 + r, j0 + 16, nc - 16, cr + 16 * es);
    }
}

void kiln_u8s8_gemm_8x32__avx512vnni(size_t mr, size_t nc, size_t k, const uint8_t *a, size_t lda, const int8_t *b,
                                     size_t panel_stride, void *c, size_t ldc, const kiln_qgemm_epilogue *ep, size_t i0,
                                     size_t j0) {
    if (nc > 16) tile(mr, nc, k, a, lda, b, panel_stride, c, ldc, ep, i0, j0, 2);
    else tile(mr, nc, k, a, lda, b, panel_stride, c, ldc, ep, i0, j0, 1);
}
