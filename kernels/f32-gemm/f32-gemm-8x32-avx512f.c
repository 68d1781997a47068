/* SPDX-License-Identifier: MIT */
/* fp32 GEMM microkernel, 8 x 32 tile (16 zmm accumulators), AVX-512F: the alternative to 14x32
 * measured in docs/performance.md. The body is f32-gemm-avx512f-tile.h. */
#define MR 8
#include "kernels/f32-gemm/f32-gemm-avx512f-tile.h"

UK(1) UK(2) UK(3) UK(4) UK(5) UK(6) UK(7) UK(8)

const kiln_f32_gemm_ukernel_fn kiln_f32_gemm_ukernels_8x32__avx512f[KILN_GEMM_MAX_MR + 1] = {
    NULL, uk_1, uk_2, uk_3, uk_4, uk_5, uk_6, uk_7, uk_8};
