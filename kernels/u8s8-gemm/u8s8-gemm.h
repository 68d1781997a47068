/* SPDX-License-Identifier: MIT */
/* u8 x s8 -> int32 GEMM for the quantized ops (QLinearMatMul, MatMulInteger, QLinearConv,
 * ConvInteger): C[m x n] = A[m x k] (u8, row-major) . B[k x n] (s8, packed once), exact int32
 * sums (modulo 2^32, so exact whenever the true sum fits), with zero-point correction and the
 * output stage fused in the epilogue. Every 8-bit case reduces to this one: shifting an operand
 * and its zero point by the same amount leaves sum((a - za)(b - zb)) unchanged, so s8 A becomes
 * u8 with a ^ 0x80 and za + 128, and u8 B becomes s8 with b ^ 0x80 and zb - 128.
 *
 * Packed B (the VNNI quad layout): panels of KILN_U8S8_NR = 16 columns; panel p holds
 * kq = ceil(k / 4) blocks of 64 bytes, and byte p * kq * 64 + q * 64 + 4 * j + r holds
 * B[4q + r][16p + j], 0 beyond k or n. One 32-bit lane is four k values of one column, which is
 * what vpdpbusd multiplies with four broadcast bytes of a row of A. Column sums of the packed
 * (s8) values come with it, for the zero-point correction.
 *
 * Epilogue, for row i and column j of the tile (indices of the whole C):
 *   c = acc + row_add[i] + col_add[j] - row_mul[i] * col_mul[j]     (int32, wrapping)
 * which covers sum((a-za)(b-zb)) = sum(ab) - zb.rowsum(a) - za.colsum(b) + k.za.zb for a zero
 * point per row of A or per column of B (see docs/int8.md), plus an int32 bias. Then:
 *   S32: c;  U8/S8: sat(rne(float(c) * s) + zy);  F32: float(c) * s (+ fbias),
 * s = scale[i] or scale[j] (scale_per_row), fbias indexed the same way. Requantization clamps
 * float(c) * s to [lo - zy, hi - zy] first (NaN to the low bound), rounds half to even. */
#ifndef KILN_KERNELS_U8S8_GEMM_H
#define KILN_KERNELS_U8S8_GEMM_H

#include <stddef.h>
#include <stdint.h>

#define KILN_U8S8_NR 16

typedef enum kiln_qgemm_out { KILN_QGEMM_OUT_S32, KILN_QGEMM_OUT_U8, KILN_QGEMM_OUT_S8, KILN_QGEMM_OUT_F32 } kiln_qgemm_out;

typedef struct kiln_qgemm_epilogue {
    const int32_t *row_add, *col_add; /* NULL: none */
    const int32_t *row_mul, *col_mul; /* both or neither */
    kiln_qgemm_out out;
    const float *scale; /* U8/S8/F32 */
    int scale_per_row;  /* 1: scale[i], 0: scale[j] */
    const float *fbias; /* F32 only; indexed like scale; NULL: none */
    int32_t zy;         /* U8/S8 */
} kiln_qgemm_epilogue;

static inline size_t kiln_u8s8_kq(size_t k) { return (k + 3) / 4; }
static inline size_t kiln_u8s8_panel_stride(size_t k) { return kiln_u8s8_kq(k) * 64; }
static inline size_t kiln_u8s8_packed_size(size_t k, size_t n) {
    return (n + KILN_U8S8_NR - 1) / KILN_U8S8_NR * kiln_u8s8_panel_stride(k);
}
static inline size_t kiln_qgemm_out_size(kiln_qgemm_out o) { return o == KILN_QGEMM_OUT_U8 || o == KILN_QGEMM_OUT_S8 ? 1 : 4; }

/* Packs columns [n0, n1) of B (k rows; row p at src + p * ld; byte ^ xor_mask read as s8, so
 * 0x80 turns u8 into s8 minus 128) into their panels of `packed` (n0 a multiple of 16; the whole
 * panel containing n1 - 1 is written, padding 0) and writes colsum[n0 .. n1) of the s8 values. */
void kiln_u8s8_pack_b(size_t k, size_t n0, size_t n1, const uint8_t *src, size_t ld, uint8_t xor_mask, int8_t *packed,
                      int32_t *colsum);

/* Row sums of m rows of k bytes (row i at a + i * lda), optionally ^ xor_mask first. */
void kiln_u8_rowsum(size_t m, size_t k, const uint8_t *a, size_t lda, uint8_t xor_mask, int32_t *sum);

/* Microkernel: an mr x nc tile (mr <= its MR, nc <= its NR) of C at c (leading dimension ldc
 * in elements of the output type), from mr rows of A (a, lda; k bytes each, never read beyond)
 * and the panels of B starting at b (panel_stride bytes apart). i0, j0: the tile's position in C,
 * to index the epilogue's vectors. */
typedef void (*kiln_u8s8_gemm_fn)(size_t mr, size_t nc, size_t k, const uint8_t *a, size_t lda, const int8_t *b,
                                  size_t panel_stride, void *c, size_t ldc, const kiln_qgemm_epilogue *ep, size_t i0,
                                  size_t j0);

void kiln_u8s8_gemm_8x32__avx512vnni(size_t mr, size_t nc, size_t k, const uint8_t *a, size_t lda, const int8_t *b,
                                     size_t panel_stride, void *c, size_t ldc, const kiln_qgemm_epilogue *ep, size_t i0,
                                     size_t j0);
void kiln_u8s8_gemm_6x16__avxvnni(size_t mr, size_t nc, size_t k, const uint8_t *a, size_t lda, const int8_t *b,
                                  size_t panel_stride, void *c, size_t ldc, const kiln_qgemm_epilogue *ep, size_t i0,
                                  size_t j0);
void kiln_u8s8_gemm_4x16__avx2(size_t mr, size_t nc, size_t k, const uint8_t *a, size_t lda, const int8_t *b,
                               size_t panel_stride, void *c, size_t ldc, const kiln_qgemm_epilogue *ep, size_t i0,
                               size_t j0);
void kiln_u8s8_gemm_4x16__scalar(size_t mr, size_t nc, size_t k, const uint8_t *a, size_t lda, const int8_t *b,
                                 size_t panel_stride, void *c, size_t ldc, const kiln_qgemm_epilogue *ep, size_t i0,
                                 size_t j0);

/* The scalar epilogue of one element (the reference every ISA's epilogue matches bit for bit). */
static inline void kiln_qgemm_store1(const kiln_qgemm_epilogue *ep, int32_t acc, size_t i, size_t j, void *c, size_t idx) {
    uint32_t v = (uint32_t)acc;
    if (ep->row_add) v += (uint32_t)ep->row_add[i];
    if (ep->col_add) v += (uint32_t)ep->col_add[j];
    if (ep->row_mul) v -= (uint32_t)ep->row_mul[i] * (uint32_t)ep->col_mul[j];
    int32_t s = (int32_t)v;
    if (ep->out == KILN_QGEMM_OUT_S32) {
        ((int32_t *)c)[idx] = s;
        return;
    }
    size_t si = ep->scale_per_row ? i : j;
    float f = (float)s * ep->scale[si];
    if (ep->out == KILN_QGEMM_OUT_F32) {
        ((float *)c)[idx] = ep->fbias ? f + ep->fbias[si] : f;
        return;
    }
    int32_t lo = ep->out == KILN_QGEMM_OUT_U8 ? 0 : -128, hi = ep->out == KILN_QGEMM_OUT_U8 ? 255 : 127;
    float flo = (float)(lo - ep->zy), fhi = (float)(hi - ep->zy);
    f = f > flo ? f : flo; /* NaN goes low */
    f = f < fhi ? f : fhi;
    int32_t q = (int32_t)((f + 12582912.0f) - 12582912.0f) + ep->zy; /* round half to even, |f| < 2^22 */
    if (ep->out == KILN_QGEMM_OUT_U8) ((uint8_t *)c)[idx] = (uint8_t)q;
    else ((int8_t *)c)[idx] = (int8_t)q;
}

#endif
