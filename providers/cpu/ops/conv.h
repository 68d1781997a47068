/* SPDX-License-Identifier: MIT */
/* Conv kernels with a fused epilogue, for the kiln-domain fused ops (docs/kiln-ops.md): the same
 * kernel as Conv, with y = act(conv(x, w) + b + residual) computed in the GEMM's epilogue. */
#ifndef KILN_CPU_OPS_CONV_H
#define KILN_CPU_OPS_CONV_H

#include "kernels/common/activation.h"
#include "providers/cpu/cpu_op.h"

/* A Conv kernel for node n (Conv's inputs and attributes) with activation `act` (kiln_act, params
 * p0/p1) and, when residual_input >= 0, that input (Y's shape) added before the activation. */
kiln_status kiln_cpu_conv_create(const cpu_node *n, int32_t act, float p0, float p1, int32_t residual_input,
                                 cpu_kernel **out, kiln_error *err);

#endif
