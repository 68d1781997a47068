/* SPDX-License-Identifier: MIT */
/* Packing of B into the VNNI quad layout of u8s8-gemm.h, with column sums, and row sums of A.
 * Baseline x86-64 (SSE2) interleaves four rows of 16 bytes at a time; other targets use the
 * plain loop, which is also the tail. */
#include "u8s8-gemm.h"

#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* One panel (16 columns from c0, `cols` of them valid) over all of k. */
static void pack_panel(size_t k, size_t c0, size_t cols, const uint8_t *src, size_t ld, uint8_t xm, int8_t *dst,
                       int32_t *colsum) {
    int32_t sum[KILN_U8S8_NR] = {0};
    size_t kq = kiln_u8s8_kq(k), q = 0;
#if defined(__SSE2__)
    if (cols == KILN_U8S8_NR) {
        const __m128i x = _mm_set1_epi8((char)xm), zero = _mm_setzero_si128();
        __m128i s0 = zero, s1 = zero, s2 = zero, s3 = zero; /* int32 sums of columns 0-3, 4-7, ... */
        for (; q < k / 4; q++) {
            const uint8_t *r = src + 4 * q * ld + c0;
            __m128i r0 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)r), x);
            __m128i r1 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(r + ld)), x);
            __m128i r2 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(r + 2 * ld)), x);
            __m128i r3 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(r + 3 * ld)), x);
            __m128i a01l = _mm_unpacklo_epi8(r0, r1), a01h = _mm_unpackhi_epi8(r0, r1);
            __m128i a23l = _mm_unpacklo_epi8(r2, r3), a23h = _mm_unpackhi_epi8(r2, r3);
            __m128i q0 = _mm_unpacklo_epi16(a01l, a23l), q1 = _mm_unpackhi_epi16(a01l, a23l);
            __m128i q2 = _mm_unpacklo_epi16(a01h, a23h), q3 = _mm_unpackhi_epi16(a01h, a23h);
            __m128i *d = (__m128i *)(dst + q * 64);
            _mm_storeu_si128(d, q0);
            _mm_storeu_si128(d + 1, q1);
            _mm_storeu_si128(d + 2, q2);
            _mm_storeu_si128(d + 3, q3);
            /* each 32-bit lane: four s8 of one column; sign-extend bytes to int16 pairs, add pairs */
            const __m128i one = _mm_set1_epi16(1);
#define LANESUM(v) _mm_madd_epi16(_mm_add_epi16(_mm_srai_epi16(_mm_slli_epi16(v, 8), 8), _mm_srai_epi16(v, 8)), one)
            s0 = _mm_add_epi32(s0, LANESUM(q0));
            s1 = _mm_add_epi32(s1, LANESUM(q1));
            s2 = _mm_add_epi32(s2, LANESUM(q2));
            s3 = _mm_add_epi32(s3, LANESUM(q3));
#undef LANESUM
        }
        _mm_storeu_si128((__m128i *)sum, s0);
        _mm_storeu_si128((__m128i *)(sum + 4), s1);
        _mm_storeu_si128((__m128i *)(sum + 8), s2);
        _mm_storeu_si128((__m128i *)(sum + 12), s3);
    }
#endif
    for (; q < kq; q++) {
        int8_t *d = dst + q * 64;
        for (size_t j = 0; j < KILN_U8S8_NR; j++)
            for (size_t r = 0; r < 4; r++) {
                size_t p = 4 * q + r;
                int8_t v = p < k && j < cols ? (int8_t)(src[p * ld + c0 + j] ^ xm) : 0;
                d[4 * j + r] = v;
                sum[j] += v;
            }
    }
    memcpy(colsum + c0, sum, cols * sizeof(int32_t));
}

void kiln_u8s8_pack_b(size_t k, size_t n0, size_t n1, const uint8_t *src, size_t ld, uint8_t xor_mask, int8_t *packed,
                      int32_t *colsum) {
    size_t ps = kiln_u8s8_panel_stride(k);
    for (size_t c0 = n0; c0 < n1; c0 += KILN_U8S8_NR) {
        size_t cols = n1 - c0 < KILN_U8S8_NR ? n1 - c0 : KILN_U8S8_NR;
        pack_panel(k, c0, cols, src, ld, xor_mask, packed + c0 / KILN_U8S8_NR * ps, colsum);
    }
}

void kiln_u8_rowsum(size_t m, size_t k, const uint8_t *a, size_t lda, uint8_t xor_mask, int32_t *sum) {
    for (size_t i = 0; i < m; i++) {
        const uint8_t *r = a + i * lda;
        int32_t s = 0;
        if (xor_mask)
            for (size_t p = 0; p < k; p++) s += r[p] ^ xor_mask;
        else
            for (size_t p = 0; p < k; p++) s += r[p];
        sum[i] = s;
    }
}
