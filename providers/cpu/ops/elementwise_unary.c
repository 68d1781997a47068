/* SPDX-License-Identifier: MIT */
/* Elementwise unary ops: Relu, Sigmoid (float16/bfloat16 in float32). */
#include <math.h>
#include <string.h>

#include "kernels/common/half.h"
#include "providers/cpu/cpu_op.h"

typedef float (*unary_f32)(float);
typedef double (*unary_f64)(double);

static float relu_f(float x) { return x > 0.0f ? x : 0.0f; }
static double relu_d(double x) { return x > 0.0 ? x : 0.0; }
/* Sigmoid without overflow for large |x|. */
static float sigmoid_f(float x) {
    if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}
static double sigmoid_d(double x) {
    if (x >= 0.0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

typedef struct unary_kernel {
    cpu_kernel base;
    int32_t dtype;
    unary_f32 f;
    unary_f64 d;
    int relu_int;   /* Relu on a signed integer type */
} unary_kernel;

typedef struct unary_job {
    const unary_kernel *k;
    const void *x;
    void *y;
} unary_job;

#define RELU_INT(T) \
    for (size_t i = b; i < e; i++) ((T *)j->y)[i] = ((const T *)j->x)[i] > 0 ? ((const T *)j->x)[i] : 0

static void unary_range(void *arg, size_t b, size_t e) {
    const unary_job *j = arg;
    const unary_kernel *k = j->k;
    switch (k->dtype) {
    case KILN_DTYPE_FLOAT:
        for (size_t i = b; i < e; i++) ((float *)j->y)[i] = k->f(((const float *)j->x)[i]);
        break;
    case KILN_DTYPE_DOUBLE:
        for (size_t i = b; i < e; i++) ((double *)j->y)[i] = k->d(((const double *)j->x)[i]);
        break;
    case KILN_DTYPE_FLOAT16:
        for (size_t i = b; i < e; i++)
            ((uint16_t *)j->y)[i] = kiln_f32_to_f16(k->f(kiln_f16_to_f32(((const uint16_t *)j->x)[i])));
        break;
    case KILN_DTYPE_BFLOAT16:
        for (size_t i = b; i < e; i++)
            ((uint16_t *)j->y)[i] = kiln_f32_to_bf16(k->f(kiln_bf16_to_f32(((const uint16_t *)j->x)[i])));
        break;
    case KILN_DTYPE_INT8: RELU_INT(int8_t); break;
    case KILN_DTYPE_INT16: RELU_INT(int16_t); break;
    case KILN_DTYPE_INT32: RELU_INT(int32_t); break;
    case KILN_DTYPE_INT64: RELU_INT(int64_t); break;
    default: break;
    }
}

static kiln_status unary_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    (void)err;
    const unary_kernel *k = (const unary_kernel *)base;
    unary_job j = {k, cpu_in(ctx, 0)->data, ctx->outputs[0]->data};
    cpu_parallel_for(ctx, (size_t)cpu_in(ctx, 0)->count, 16384, unary_range, &j);
    return KILN_OK;
}

kiln_status kiln_cpu_unary(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    int relu = cpu_op_is(n, "Relu");
    int is_float = dt == KILN_DTYPE_FLOAT || dt == KILN_DTYPE_DOUBLE || dt == KILN_DTYPE_FLOAT16 || dt == KILN_DTYPE_BFLOAT16;
    int is_sint = dt == KILN_DTYPE_INT8 || dt == KILN_DTYPE_INT16 || dt == KILN_DTYPE_INT32 || dt == KILN_DTYPE_INT64;
    if (!is_float && !(relu && is_sint))
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "%s is not implemented for %s", n->op_type, cpu_dtype_name(dt));
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(unary_kernel), unary_compute, out, err));
    unary_kernel *k = (unary_kernel *)*out;
    k->dtype = dt;
    k->f = relu ? relu_f : sigmoid_f;
    k->d = relu ? relu_d : sigmoid_d;
    k->relu_int = is_sint;
    return KILN_OK;
}
