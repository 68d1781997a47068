/* SPDX-License-Identifier: MIT */
/* kiln.SkipLayerNormalization (float32; docs/kiln-ops.md): S = X + Skip + Bias,
 * Y = (S - mean) / sqrt(var + epsilon) * Gamma + Beta over the last axis, Sum = S. */
#include "kernels/f32-vmath/f32-vmath.h"
#include "providers/cpu/cpu_op.h"

typedef struct sln_kernel {
    cpu_kernel base;
    float epsilon;
} sln_kernel;

typedef struct sln_job {
    const float *x, *skip, *gamma, *beta, *bias;
    float *y, *sum;
    size_t h;
    float eps;
} sln_job;

/* Rows through the vectorized LayerNorm row kernel of kernels/f32-vmath: S is summed into Sum
 * (or into Y when Sum is not wanted) with the row's mean, then normalized into Y. */
static void sln_range(void *arg, size_t begin, size_t end) {
    const sln_job *j = arg;
    const kiln_f32_vmath_ops *ops = kiln_f32_vmath();
    size_t h = j->h;
    for (size_t r = begin; r < end; r++) {
        kiln_f32_lnorm_row row = {j->x + r * h, j->skip + r * h, j->bias, j->gamma, j->beta, j->y + r * h,
                                  j->sum ? j->sum + r * h : NULL, h, j->eps, 0};
        double mean, inv;
        ops->layernorm(&row, &mean, &inv);
    }
}

static kiln_status sln_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const sln_kernel *k = (const sln_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0), *skip = cpu_in(ctx, 1), *gamma = cpu_in(ctx, 2), *beta = cpu_in(ctx, 3),
                          *bias = cpu_in(ctx, 4);
    if (x->rank < 1) return cpu_fail(err, KILN_ERR_SHAPE, "X must have at least one dim");
    size_t h = (size_t)x->dims[x->rank - 1];
    if (skip->count != x->count || skip->rank != x->rank) return cpu_fail(err, KILN_ERR_SHAPE, "Skip must have X's shape");
    if (gamma->count != h || (beta && beta->count != h) || (bias && bias->count != h))
        return cpu_fail(err, KILN_ERR_SHAPE, "Gamma, Beta and Bias must have %zu values (X's last dim)", h);
    kiln_value_desc *y, *sum = NULL;
    KILN_CPU_TRY(cpu_output(ctx, 0, x->rank, x->dims, &y, err));
    if (ctx->n_outputs > 1 && ctx->outputs[1]) KILN_CPU_TRY(cpu_output(ctx, 1, x->rank, x->dims, &sum, err));
    if (x->count == 0 || h == 0) return KILN_OK;
    sln_job j = {x->data, skip->data, gamma->data, beta ? beta->data : NULL, bias ? bias->data : NULL, y->data,
                 sum ? sum->data : NULL, h, k->epsilon};
    cpu_parallel_for(ctx, (size_t)x->count / h, cpu_grain((uint64_t)h * 4), sln_range, &j);
    return KILN_OK;
}

kiln_status kiln_cpu_kiln_skip_layernorm(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    for (uint32_t i = 0; i < cpu_input_count(n) && i < 5; i++) {
        int32_t dt = cpu_input_dtype(n, i);
        if (dt && dt != KILN_DTYPE_FLOAT)
            return cpu_fail(err, KILN_ERR_UNSUPPORTED, "kiln.SkipLayerNormalization is implemented for float32 only, input %u is %s", i,
                            cpu_dtype_name(dt));
    }
    if (cpu_input_count(n) < 3 || cpu_input_count(n) > 5 || cpu_output_count(n) < 1 || cpu_output_count(n) > 2)
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "kiln.SkipLayerNormalization takes 3 to 5 inputs and 1 or 2 outputs");
    float eps = cpu_attr_float(n, "epsilon", 1e-5f);
    if (!(eps >= 0.0f)) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "epsilon must be >= 0");
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(sln_kernel), sln_compute, out, err));
    ((sln_kernel *)*out)->epsilon = eps;
    return KILN_OK;
}
