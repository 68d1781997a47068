/* SPDX-License-Identifier: MIT */
/* Which f32-vmath table this CPU uses, read under the current KILN_CPU_ISA cap. */
#include "kernels/config/cpu.h"
#include "kernels/f32-vmath/f32-vmath.h"

const kiln_f32_vmath_ops *kiln_f32_vmath(void) {
    kiln_isa level = kiln_cpu()->level;
    if (level >= KILN_ISA_AVX512) return &kiln_f32_vmath__avx512f;
    if (level >= KILN_ISA_AVX2) return &kiln_f32_vmath__avx2;
    return &kiln_f32_vmath__scalar;
}
