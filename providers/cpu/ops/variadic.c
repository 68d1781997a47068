/* SPDX-License-Identifier: MIT */
/* Variadic elementwise ops with numpy broadcasting: Max, Min (every numeric type; NaN
 * propagates as in numpy), Sum (numeric), Mean (floats). The output is folded in place: the
 * first two inputs are combined into it, then each further input. */
#include <string.h>

#include "providers/cpu/ops/elementwise.h"

enum { V_MAX, V_MIN, V_SUM, V_COUNT };

/* NaN-propagating for floats: a NaN operand wins. */
#define VROW_FLOAT(SUF, T)                                                   \
    CPU_EW_ZIP(max_##SUF, T, T, T, (x != x || x >= y) ? x : y)              \
    CPU_EW_ZIP(min_##SUF, T, T, T, (x != x || x <= y) ? x : y)              \
    CPU_EW_ZIP(sum_##SUF, T, T, T, x + y)
/* Integers add in uint64_t so overflow wraps without UB. */
#define VROW_INT(SUF, T)                                                     \
    CPU_EW_ZIP(max_##SUF, T, T, T, x >= y ? x : y)                          \
    CPU_EW_ZIP(min_##SUF, T, T, T, x <= y ? x : y)                          \
    CPU_EW_ZIP(sum_##SUF, T, T, T, (uint64_t)x + (uint64_t)y)
VROW_FLOAT(f32, float)
VROW_FLOAT(f64, double)
VROW_INT(s8, int8_t)
VROW_INT(s16, int16_t)
VROW_INT(s32, int32_t)
VROW_INT(s64, int64_t)
VROW_INT(u8, uint8_t)
VROW_INT(u16, uint16_t)
VROW_INT(u32, uint32_t)
VROW_INT(u64, uint64_t)

#define ROW(S) {max_##S, min_##S, sum_##S}

static cpu_ew_zip pick(int32_t dt, int op) {
    static const cpu_ew_zip t[CPU_LANE_COUNT][V_COUNT] = CPU_LANE_TABLE(ROW);
    int lane = cpu_lane(dt);
    return lane < 0 ? NULL : t[lane][op];
}

/* Mean's final division by the input count (a double in p). */
static void scale_f32(const void *vx, void *vy, size_t n, const void *p) {
    const float *x = vx;
    float *y = vy;
    float d = (float)*(const double *)p;
    for (size_t i = 0; i < n; i++) y[i] = x[i] / d;
}
static void scale_f64(const void *vx, void *vy, size_t n, const void *p) {
    const double *x = vx;
    double *y = vy;
    double d = *(const double *)p;
    for (size_t i = 0; i < n; i++) y[i] = x[i] / d;
}

typedef struct variadic_kernel {
    cpu_kernel base;
    cpu_ew_zip f;
    cpu_ew_map scale; /* Mean */
    cpu_ew_spec spec;
} variadic_kernel;

static kiln_status variadic_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    (void)err;
    const variadic_kernel *k = (const variadic_kernel *)base;
    kiln_value_desc *out = ctx->outputs[0];
    uint32_t n = ctx->n_inputs;
    if (n == 1) {
        /* One input: the output has its shape (nothing broadcasts). */
        const kiln_value_desc *x = cpu_in(ctx, 0);
        if (x->data != out->data) memcpy(out->data, x->data, (size_t)x->count * k->spec.ea);
    } else {
        cpu_ew_zip_run(ctx, k->f, NULL, &k->spec, cpu_in(ctx, 0), cpu_in(ctx, 1), out);
        for (uint32_t i = 2; i < n; i++) cpu_ew_zip_run(ctx, k->f, NULL, &k->spec, out, cpu_in(ctx, i), out);
    }
    if (k->scale) {
        double d = (double)n;
        cpu_ew_map_run(ctx, k->scale, &d, &k->spec, out->data, out->data, out->count);
    }
    return KILN_OK;
}

kiln_status kiln_cpu_variadic(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    int mean = cpu_op_is(n, "Mean");
    int op = cpu_op_is(n, "Max") ? V_MAX : cpu_op_is(n, "Min") ? V_MIN : V_SUM;
    cpu_ew_zip f = pick(dt, op);
    if (!f || (mean && !cpu_is_float(dt)))
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "%s is not implemented for %s", n->op_type, cpu_dtype_name(dt));
    for (uint32_t i = 0; i < cpu_input_count(n); i++) {
        kiln_value_info in = cpu_input_info(n, i);
        if (!in.present) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "%s input %u is missing", n->op_type, i);
    }
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(variadic_kernel), variadic_compute, out, err));
    variadic_kernel *k = (variadic_kernel *)*out;
    k->f = f;
    k->spec = cpu_ew_same(dt, 0);
    if (mean) k->scale = dt == KILN_DTYPE_DOUBLE ? scale_f64 : scale_f32;
    return KILN_OK;
}
