/* SPDX-License-Identifier: MIT */
/* The u8 x s8 GEMM (kernels/u8s8-gemm, kernels/config/qgemm-config.h) shared out over the host's
 * intra-op threads: packing of B by panels, and C cut into row x column blocks. */
#ifndef KILN_CPU_OPS_Q8_GEMM_H
#define KILN_CPU_OPS_Q8_GEMM_H

#include "kernels/config/qgemm-config.h"
#include "providers/cpu/cpu_op.h"

/* kiln_u8s8_pack_b of all n columns, panels shared among the threads. */
void q8_pack_b_parallel(kiln_kernel_ctx *ctx, size_t k, size_t n, const uint8_t *src, size_t ld, uint8_t xor_mask,
                        int8_t *packed, int32_t *colsum);

/* C[m x n] = A . B (packed) with the epilogue, blocks of C shared among the threads. */
void q8_gemm_parallel(kiln_kernel_ctx *ctx, const kiln_qgemm_config *cfg, size_t m, size_t n, size_t k,
                      const uint8_t *a, size_t lda, const int8_t *packed, void *c, size_t ldc,
                      const kiln_qgemm_epilogue *ep);

/* The core of a dynamic-quantization MatMul (kiln.DynamicQuantMatMul, docs/int8.md §5):
 * A (float32, rows x k) is quantized to u8 per tensor exactly as DynamicQuantizeLinear does
 * (range with 0, scale = (max - min) / 255, zero point rounded half to even and clamped), then
 *   y[r][j] = float(sum_p (qa[r][p] - za)(B[p][j] - zb[j])) * (a_scale * b_scale[j]) (+ bias[j])
 * with B packed by kiln_u8s8_pack_b (colsum its column sums) and zb2[j] B's zero point as seen
 * by the packed s8 values (zb - 128 for a u8 B). One u8 x s8 GEMM with the float epilogue; the
 * caller applies any activation after. ctx NULL: one thread. Returns KILN_ERR_OUT_OF_MEMORY
 * (with err) when scratch fails. */
kiln_status q8_dynamic_matmul(kiln_kernel_ctx *ctx, const kiln_qgemm_config *cfg, const float *a, size_t rows, size_t k,
                              size_t n, const int8_t *packed_b, const int32_t *colsum, const int32_t *zb2,
                              const float *b_scale, const float *bias, float *y, kiln_error *err);

#endif
