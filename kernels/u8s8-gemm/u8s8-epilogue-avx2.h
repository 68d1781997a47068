/* SPDX-License-Identifier: MIT */
/* The epilogue of u8s8-gemm.h on 8 int32 columns in a ymm, for the AVX2 and AVX-VNNI files
 * (included only by files compiled with -mavx2). Matches kiln_qgemm_store1 bit for bit. */
#ifndef KILN_KERNELS_U8S8_EPILOGUE_AVX2_H
#define KILN_KERNELS_U8S8_EPILOGUE_AVX2_H

#include <immintrin.h>
#include <string.h>

#include "u8s8-gemm.h"

static inline __m256i qe_mask(size_t cnt) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int32_t)(cnt > 8 ? 8 : cnt)), idx);
}

/* Row i, columns j .. j + cnt (cnt 1..8, more is 8), to c (element j of the row). */
static inline void qe_store_row8(const kiln_qgemm_epilogue *ep, __m256i v, size_t i, size_t j, size_t cnt, char *c) {
    if (cnt > 8) cnt = 8;
    __m256i mk = qe_mask(cnt);
    if (ep->row_add) v = _mm256_add_epi32(v, _mm256_set1_epi32(ep->row_add[i]));
    if (ep->col_add) v = _mm256_add_epi32(v, _mm256_maskload_epi32(ep->col_add + j, mk));
    if (ep->row_mul)
        v = _mm256_sub_epi32(v, _mm256_mullo_epi32(_mm256_set1_epi32(ep->row_mul[i]), _mm256_maskload_epi32(ep->col_mul + j, mk)));
    if (ep->out == KILN_QGEMM_OUT_S32) {
        _mm256_maskstore_epi32((int *)c, mk, v);
        return;
    }
    __m256 s = ep->scale_per_row ? _mm256_set1_ps(ep->scale[i]) : _mm256_maskload_ps(ep->scale + j, mk);
    __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(v), s);
    if (ep->out == KILN_QGEMM_OUT_F32) {
        if (ep->fbias) f = _mm256_add_ps(f, ep->scale_per_row ? _mm256_set1_ps(ep->fbias[i]) : _mm256_maskload_ps(ep->fbias + j, mk));
        _mm256_maskstore_ps((float *)c, mk, f);
        return;
    }
    int32_t lo = ep->out == KILN_QGEMM_OUT_U8 ? 0 : -128, hi = ep->out == KILN_QGEMM_OUT_U8 ? 255 : 127;
    f = _mm256_max_ps(f, _mm256_set1_ps((float)(lo - ep->zy))); /* NaN: the second operand, the low bound */
    f = _mm256_min_ps(f, _mm256_set1_ps((float)(hi - ep->zy)));
    __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(f), _mm256_set1_epi32(ep->zy));
    /* in range already: keep the low byte of each lane */
    __m256i bytes = _mm256_shuffle_epi8(q, _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                                            0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1));
    uint32_t lo4 = (uint32_t)_mm256_extract_epi32(bytes, 0), hi4 = (uint32_t)_mm256_extract_epi32(bytes, 4);
    uint8_t t[8];
    memcpy(t, &lo4, 4);
    memcpy(t + 4, &hi4, 4);
    memcpy(c, t, cnt);
}

#endif
