/* SPDX-License-Identifier: MIT */
/* Gemm and MatMul kernels with a fused epilogue, for the kiln-domain fused ops
 * (docs/kiln-ops.md): y = act(product + bias + residual), computed in the GEMM's epilogue. */
#ifndef KILN_CPU_OPS_GEMM_H
#define KILN_CPU_OPS_GEMM_H

#include "kernels/common/activation.h"
#include "providers/cpu/cpu_op.h"

/* Gemm (its inputs and attributes) followed by activation `act` (kiln_act, params p0/p1). */
kiln_status kiln_cpu_gemm_create(const cpu_node *n, int32_t act, float p0, float p1, cpu_kernel **out, kiln_error *err);

/* MatMul followed by + input `bias_input` (N values, per column) and + input `residual_input`
 * (the output's shape), then `act`; -1 for an absent input. */
kiln_status kiln_cpu_matmul_create(const cpu_node *n, int32_t act, float p0, float p1, int32_t bias_input,
                                   int32_t residual_input, cpu_kernel **out, kiln_error *err);

#endif
