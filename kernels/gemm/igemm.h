/* SPDX-License-Identifier: MIT */
/* Integer GEMM for the quantized ops: C (int32) = A · B with A [m x k] and B [k x n] int16,
 * row-major (8-bit values with their zero points already subtracted, so every product fits and
 * sums of 8-bit products cannot overflow below k = 33025). Sums wrap modulo 2^32.
 *
 * B is packed once into pairs of rows (kiln_s16_gemm_pack_b): element (p, j) sits at
 * packed[(p / 2) * 2 * npad + 2 * j + p % 2] with npad = n rounded up to KILN_S16_GEMM_NR and
 * zeros in the padding, so one 32-bit lane holds (B[p][j], B[p+1][j]) for a multiply-add of
 * two products. Variants: kiln_s16_gemm__scalar (always), kiln_s16_gemm__avx2 (x86-64, chosen
 * at run time). */
#ifndef KILN_KERNELS_IGEMM_H
#define KILN_KERNELS_IGEMM_H

#include <stddef.h>
#include <stdint.h>

#define KILN_S16_GEMM_NR 16

/* int16 elements of the packed B for a k x n matrix. */
static inline size_t kiln_s16_gemm_packed_size(size_t k, size_t n) {
    size_t npad = (n + KILN_S16_GEMM_NR - 1) / KILN_S16_GEMM_NR * KILN_S16_GEMM_NR;
    return (k + 1) / 2 * 2 * npad;
}

/* Packs B (k x n, leading dimension ldb) into `packed` (kiln_s16_gemm_packed_size elements). */
void kiln_s16_gemm_pack_b(size_t k, size_t n, const int16_t *b, size_t ldb, int16_t *packed);

/* C[m x n] = A[m x k] · B, B packed; C has leading dimension ldc. */
void kiln_s16_gemm(size_t m, size_t n, size_t k, const int16_t *a, size_t lda, const int16_t *packed, int32_t *c,
                   size_t ldc);

void kiln_s16_gemm__scalar(size_t m, size_t n, size_t k, const int16_t *a, size_t lda, const int16_t *packed, int32_t *c,
                           size_t ldc);
#if defined(__x86_64__) && defined(__GNUC__)
void kiln_s16_gemm__avx2(size_t m, size_t n, size_t k, const int16_t *a, size_t lda, const int16_t *packed, int32_t *c,
                         size_t ldc);
#endif

/* Name of the variant kiln_s16_gemm uses. */
const char *kiln_s16_gemm_variant(void);

#endif
