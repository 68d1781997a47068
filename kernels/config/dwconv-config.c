/* SPDX-License-Identifier: MIT */
/* Which depthwise kernel this CPU uses, read under the current KILN_CPU_ISA cap. */
#include "kernels/config/cpu.h"
#include "kernels/f32-dwconv/f32-dwconv.h"

kiln_f32_dwconv_fn kiln_f32_dwconv_get(void) {
    kiln_isa level = kiln_cpu()->level;
    if (level >= KILN_ISA_AVX512) return kiln_f32_dwconv2d__avx512f;
    if (level >= KILN_ISA_AVX2) return kiln_f32_dwconv2d__avx2;
    return kiln_f32_dwconv2d__scalar;
}
