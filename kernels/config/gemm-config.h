/* SPDX-License-Identifier: MIT */
/* Which fp32 GEMM microkernel and tile sizes this CPU uses (docs/kernels.md §2). */
#ifndef KILN_KERNELS_CONFIG_GEMM_CONFIG_H
#define KILN_KERNELS_CONFIG_GEMM_CONFIG_H

#include "kernels/f32-gemm/f32-gemm.h"

/* The best config the CPU allows under the current KILN_CPU_ISA cap, read on each call (a static,
 * read-only table; never NULL). */
const kiln_f32_gemm_config *kiln_f32_gemm_config_get(void);

/* Every config this build has, for tests and benchmarks: the i-th (NULL past the end). A config
 * is usable only when kiln_cpu()->level >= its isa. */
const kiln_f32_gemm_config *kiln_f32_gemm_config_at(unsigned i);

#endif
