/* SPDX-License-Identifier: MIT */
/* AVX2 u8 x s8 GEMM, exact: no vpmaddubsw (its int16 pair sums saturate: 2 * 255 * 127 > 32767).
 * Instead both operands are widened to int16 and vpmaddwd sums pairs into int32 exactly. A
 * 16-byte slice of a packed quad block (4 columns x 4 k) sign-extends to 16 int16; against the
 * row's 4 bytes of A (zero-extended, broadcast) vpmaddwd gives, per column, two int32 lanes
 * (k 0-1 and k 2-3) that are added pairwise (vphaddd) once at the end. 4 rows x 8 columns per
 * pass, two passes per panel. Compiled with -mavx2 -mfma only. */
#include "u8s8-epilogue-avx2.h"

#define MR 4

static inline __m256i a_quad(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_broadcastq_epi64(_mm_cvtepu8_epi16(_mm_cvtsi32_si128(v)));
}

void kiln_u8s8_gemm_4x16__avx2(size_t mr, size_t nc, size_t k, const uint8_t *a, size_t lda, const int8_t *b,
                               size_t panel_stride, void *c, size_t ldc, const kiln_qgemm_epilogue *ep, size_t i0,
                               size_t j0) {
    (void)panel_stride;
    const uint8_t *ar[MR];
    for (int r = 0; r < MR; r++) ar[r] = a + ((size_t)r < mr ? (size_t)r : 0) * lda;
    size_t kq = kiln_u8s8_kq(k), kf = k / 4, es = kiln_qgemm_out_size(ep->out);
    for (size_t h = 0; h < 2 && 8 * h < nc; h++) {
        __m256i acc[MR][2];
        for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
        const int8_t *bh = b + 32 * h;
        for (size_t q = 0; q < kq; q++) {
            __m256i w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(bh + 64 * q)));
            __m256i w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(bh + 64 * q + 16)));
            for (int r = 0; r < MR; r++) {
                __m256i av;
                if (q < kf) {
                    av = a_quad(ar[r] + 4 * q);
                } else {
                    uint8_t t[4] = {0, 0, 0, 0};
                    memcpy(t, ar[r] + 4 * q, k % 4);
                    av = a_quad(t);
                }
                acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(av, w0));
                acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(av, w1));
            }
        }
        for (size_t r = 0; r < mr; r++) {
            /* acc0 lanes: c0 c0 c1 c1 | c2 c2 c3 c3, acc1: c4 .. c7 -> hadd: c0 c1 c4 c5 | c2 c3 c6 c7 */
            __m256i s = _mm256_permute4x64_epi64(_mm256_hadd_epi32(acc[r][0], acc[r][1]), 0xd8);
            char *cr = (char *)c + (r * ldc + 8 * h) * es;
            qe_store_row8(ep, s, i0 + r, j0 + 8 * h, nc - 8 * h, cr);
        }
    }
}
