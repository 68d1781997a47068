/* SPDX-License-Identifier: MIT */
/* The epilogue of the kiln-domain fused ops (docs/kiln-ops.md, "The seam to the fp32 kernels"):
 * bias, then residual, then activation, applied in place to a float32 output. Today the fused
 * kernels call the standard Conv/Gemm/MatMul path and then this; the fp32 kernels will apply the
 * same struct inside their GEMM tiles. */
#ifndef KILN_CPU_OPS_KILN_EPILOGUE_H
#define KILN_CPU_OPS_KILN_EPILOGUE_H

#include <stddef.h>

#include "providers/cpu/cpu_op.h"

typedef enum kiln_cpu_act {
    KILN_CPU_ACT_NONE = 0,
    KILN_CPU_ACT_RELU,
    KILN_CPU_ACT_LEAKY_RELU,   /* p0 = alpha */
    KILN_CPU_ACT_CLIP,         /* p0 = min, p1 = max */
    KILN_CPU_ACT_SIGMOID,
    KILN_CPU_ACT_HARD_SIGMOID, /* p0 = alpha, p1 = beta */
    KILN_CPU_ACT_HARD_SWISH,
    KILN_CPU_ACT_TANH,
    KILN_CPU_ACT_GELU,
    KILN_CPU_ACT_GELU_TANH
} kiln_cpu_act;

typedef struct kiln_cpu_epilogue {
    const float *bias;     /* NULL or one value per row (bias_per_row) or per column */
    int bias_per_row;
    const float *residual; /* NULL or rows x cols, the output's shape */
    int act;               /* kiln_cpu_act */
    float p0, p1;
} kiln_cpu_epilogue;

/* y (rows x cols, row-major, contiguous): y += bias; y += residual; y = act(y). */
void kiln_cpu_epilogue_apply(float *y, size_t rows, size_t cols, const kiln_cpu_epilogue *ep);

/* Parallel form over rows on the kernel's thread pool. */
void kiln_cpu_epilogue_run(kiln_kernel_ctx *ctx, float *y, size_t rows, size_t cols, const kiln_cpu_epilogue *ep);

/* Reads the node's `activation` / `activation_params` attributes into ep->act, p0, p1;
 * KILN_ERR_INVALID_MODEL naming the activation when unknown or with the wrong params. */
kiln_status kiln_cpu_epilogue_read(const cpu_node *n, kiln_cpu_epilogue *ep, kiln_error *err);

#endif
