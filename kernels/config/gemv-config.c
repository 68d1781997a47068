/* SPDX-License-Identifier: MIT */
/* Which recurrent-step GEMV this CPU uses, read under the current KILN_CPU_ISA cap. */
#include "kernels/config/cpu.h"
#include "kernels/f32-gemv/f32-gemv.h"

kiln_f32_gemv_bt_fn kiln_f32_gemv_bt_get(void) {
    kiln_isa level = kiln_cpu()->level;
    if (level >= KILN_ISA_AVX512) return kiln_f32_gemv_bt_4x16__avx512f;
    if (level >= KILN_ISA_AVX2) return kiln_f32_gemv_bt_4x8__avx2;
    return kiln_f32_gemv_bt_4x4__scalar;
}
