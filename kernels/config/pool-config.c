/* SPDX-License-Identifier: MIT */
/* 2-D fp32 pooling kernel per ISA level (kernels/f32-pool), and its work size. */
#include "kernels/config/cpu.h"
#include "kernels/f32-pool/f32-pool.h"

size_t kiln_f32_pool_work_size(const kiln_f32_pool_params *p) {
    int64_t need = (p->ow - 1) * p->sw + (p->kw - 1) * p->dw + 1, row = p->pw + p->iw;
    return (size_t)((need > row ? need : row) + 16) + 3 * (size_t)p->ow + 16;
}

kiln_f32_pool_fn kiln_f32_pool_get(void) {
    kiln_isa level = kiln_cpu()->level;
    if (level >= KILN_ISA_AVX512) return kiln_f32_pool_2d__avx512f;
    if (level >= KILN_ISA_AVX2) return kiln_f32_pool_2d__avx2;
    return kiln_f32_pool_2d__scalar;
}
