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

#endif
