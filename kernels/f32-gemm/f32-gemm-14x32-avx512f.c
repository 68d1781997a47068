/* SPDX-License-Identifier: MIT */
/* fp32 GEMM microkernel, 14 x 32 tile (28 zmm accumulators), AVX-512F; compiled only into the
 * avx512 kernel library. The body is f32-gemm-avx512f-tile.h. */
#define MR 14
#include "kernels/f32-gemm/f32-gemm-avx512f-tile.h"

UK(1) UK(2) UK(3) UK(4) UK(5) UK(6) UK(7) UK(8) UK(9) UK(10) UK(11) UK(12) UK(13) UK(14)

const kiln_f32_gemm_ukernel_fn kiln_f32_gemm_ukernels_14x32__avx512f[KILN_GEMM_MAX_MR + 1] = {
    NULL, uk_1, uk_2, uk_3, uk_4, uk_5, uk_6, uk_7, uk_8, uk_9, uk_10, uk_11, uk_12, uk_13, uk_14};
