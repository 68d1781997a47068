/* SPDX-License-Identifier: MIT */
/* Activations: Relu Sigmoid LeakyRelu Elu Selu Celu HardSigmoid HardSwish Softplus Softsign
 * ThresholdedRelu Shrink Gelu Mish Swish, and Clip, PRelu (slope broadcast to X) and SwiGLU.
 * Float16/bfloat16 are computed in float32 (exp-based float32 math from kernels/common/vmath.h,
 * which vectorizes); integer forms where the spec has them. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "kernels/common/half.h"
#include "kernels/common/vmath.h"
#include "kernels/f32-vmath/f32-vmath.h"
#include "providers/cpu/ops/elementwise.h"

/* Attributes, as floats; `ai` and `bi` are Shrink's for integer inputs. */
typedef struct act_params {
    float alpha, beta, gamma;
    double ai, bi;
} act_params;

static inline float sigmoidf_(float v) { return kiln_vsigmoidf(v); }
static inline double sigmoid_(double v) {
    if (v >= 0.0) return 1.0 / (1.0 + exp(-v));
    double e = exp(v);
    return e / (1.0 + e);
}
/* ln(1 + e^v) without overflow for large v. */
static inline float softplusf_(float v) { return kiln_vsoftplusf(v); }
static inline double softplus_(double v) { return v > 0.0 ? v + log1p(exp(-v)) : log1p(exp(v)); }
/* max(0, min(1, t)) keeping NaN. */
static inline float unitf_(float t) { return kiln_vm_sel(t < 0.0f, 0.0f, kiln_vm_sel(t > 1.0f, 1.0f, t)); }
static inline double unit_(double t) { return t < 0.0 ? 0.0 : t > 1.0 ? 1.0 : t; }

#define SQRT_2_OVER_PI 0.79788456080286535588
#define SQRT_HALF 0.70710678118654752440

/* NAME_f32 / NAME_f64 computing EXPR on v with the attributes a (alpha), b (beta), g (gamma). */
#define ACT(NAME, EF, ED)                                                         \
    static void NAME##_f32(const void *vx, void *vy, size_t n, const void *vp) { \
        const act_params *q = vp;                                                 \
        const float a = q->alpha, b = q->beta, g = q->gamma;                      \
        const float *x = vx;                                                      \
        float *y = vy;                                                            \
        (void)a, (void)b, (void)g;                                                \
        for (size_t i = 0; i < n; i++) {                                          \
            float v = x[i];                                                       \
            y[i] = (EF);                                                          \
        }                                                                         \
    }                                                                             \
    static void NAME##_f64(const void *vx, void *vy, size_t n, const void *vp) { \
        const act_params *q = vp;                                                 \
        const double a = q->alpha, b = q->beta, g = q->gamma;                     \
        const double *x = vx;                                                     \
        double *y = vy;                                                           \
        (void)a, (void)b, (void)g;                                                \
        for (size_t i = 0; i < n; i++) {                                          \
            double v = x[i];                                                      \
            y[i] = (ED);                                                          \
        }                                                                         \
    }

/* As ACT, float32 through the vectorized kernels of kernels/f32-vmath (CALL uses ops, n, x, y, a). */
#define ACT_VMATH(NAME, CALL, ED)                                                 \
    static void NAME##_f32(const void *vx, void *vy, size_t n, const void *vp) { \
        const act_params *q = vp;                                                 \
        const float a = q->alpha;                                                 \
        const float *x = vx;                                                      \
        float *y = vy;                                                            \
        const kiln_f32_vmath_ops *ops = kiln_f32_vmath();                         \
        (void)a;                                                                  \
        CALL;                                                                     \
    }                                                                             \
    static void NAME##_f64(const void *vx, void *vy, size_t n, const void *vp) { \
        const act_params *q = vp;                                                 \
        const double a = q->alpha;                                                \
        const double *x = vx;                                                     \
        double *y = vy;                                                           \
        (void)a;                                                                  \
        for (size_t i = 0; i < n; i++) {                                          \
            double v = x[i];                                                      \
            y[i] = (ED);                                                          \
        }                                                                         \
    }

ACT(relu, v < 0.0f ? 0.0f : v, v < 0.0 ? 0.0 : v)
ACT_VMATH(sigmoid, ops->sigmoid(n, x, y), sigmoid_(v))
ACT(leaky, kiln_vm_sel(v < 0.0f, a * v, v), v < 0.0 ? a * v : v)
ACT(elu, kiln_vm_sel(v < 0.0f, a * kiln_vexpm1f(v), v), v < 0.0 ? a * expm1(v) : v)
ACT(selu, kiln_vm_sel(v > 0.0f, g * v, g * a * kiln_vexpm1f(v)), v > 0.0 ? g * v : g * a * expm1(v))
ACT(celu, kiln_vm_sel(v > 0.0f, v, a * kiln_vexpm1f(v / a)), v > 0.0 ? v : a * expm1(v / a))
ACT(hsig, unitf_(a * v + b), unit_(a * v + b))
ACT(hswish, v * unitf_(v * (1.0f / 6.0f) + 0.5f), v * unit_(v / 6.0 + 0.5))
ACT(softplus, softplusf_(v), softplus_(v))
ACT(softsign, v / (1.0f + fabsf(v)), v / (1.0 + fabs(v)))
ACT(threlu, v > a ? v : 0.0f, v > a ? v : 0.0)
/* Shrink: alpha is lambd, beta is bias. */
ACT(shrink, kiln_vm_sel(v < -a, v + b, kiln_vm_sel(v > a, v - b, 0.0f)), v < -a ? v + b : v > a ? v - b : 0.0)
ACT_VMATH(gelu, ops->gelu(n, x, y), 0.5 * v * (1.0 + erf(v * SQRT_HALF)))
ACT_VMATH(gelu_tanh, ops->gelu_tanh(n, x, y), 0.5 * v * (1.0 + tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v))))
ACT(mish, v * kiln_vtanhf(softplusf_(v)), v * tanh(softplus_(v)))
ACT_VMATH(swish, ops->swish(n, x, y, a), v * sigmoid_(a * v))

/* Integer Relu and Shrink (Shrink computed in double, stored like a fixed-point Cast). */
#define ACT_INT(SUF, T)                                                                              \
    static void relu_##SUF(const void *vx, void *vy, size_t n, const void *vp) {                   \
        const T *x = vx;                                                                            \
        T *y = vy;                                                                                  \
        (void)vp;                                                                                   \
        for (size_t i = 0; i < n; i++) y[i] = x[i] < 0 ? 0 : x[i];                                 \
    }                                                                                               \
    static void shrink_##SUF(const void *vx, void *vy, size_t n, const void *vp) {                 \
        const act_params *q = vp;                                                                   \
        const T *x = vx;                                                                            \
        T *y = vy;                                                                                  \
        for (size_t i = 0; i < n; i++) {                                                            \
            double v = (double)x[i];                                                                \
            y[i] = (T)cpu_f2bits(v < -q->ai ? v + q->bi : v > q->ai ? v - q->bi : 0.0);               \
        }                                                                                           \
    }
#define SHRINK_UINT(SUF, T)                                                              \
    static void shrink_##SUF(const void *vx, void *vy, size_t n, const void *vp) {     \
        const act_params *q = vp;                                                       \
        const T *x = vx;                                                                \
        T *y = vy;                                                                      \
        for (size_t i = 0; i < n; i++) {                                                \
            double v = (double)x[i];                                                    \
            y[i] = (T)cpu_f2ubits(v < -q->ai ? v + q->bi : v > q->ai ? v - q->bi : 0.0);   \
        }                                                                               \
    }
ACT_INT(s8, int8_t)
ACT_INT(s16, int16_t)
ACT_INT(s32, int32_t)
ACT_INT(s64, int64_t)
SHRINK_UINT(u8, uint8_t)
SHRINK_UINT(u16, uint16_t)
SHRINK_UINT(u32, uint32_t)
SHRINK_UINT(u64, uint64_t)

typedef struct act_op {
    const char *name;
    cpu_ew_map f32, f64;
    cpu_ew_map ints[8]; /* s8 s16 s32 s64 u8 u16 u32 u64 */
} act_op;

static const act_op acts[] = {
    {"Relu", relu_f32, relu_f64, {relu_s8, relu_s16, relu_s32, relu_s64, NULL, NULL, NULL, NULL}},
    {"Sigmoid", sigmoid_f32, sigmoid_f64, {0}},
    {"LeakyRelu", leaky_f32, leaky_f64, {0}},
    {"Elu", elu_f32, elu_f64, {0}},
    {"Selu", selu_f32, selu_f64, {0}},
    {"Celu", celu_f32, celu_f64, {0}},
    {"HardSigmoid", hsig_f32, hsig_f64, {0}},
    {"HardSwish", hswish_f32, hswish_f64, {0}},
    {"Softplus", softplus_f32, softplus_f64, {0}},
    {"Softsign", softsign_f32, softsign_f64, {0}},
    {"ThresholdedRelu", threlu_f32, threlu_f64, {0}},
    {"Shrink", shrink_f32, shrink_f64,
     {shrink_s8, shrink_s16, shrink_s32, shrink_s64, shrink_u8, shrink_u16, shrink_u32, shrink_u64}},
    {"Gelu", gelu_f32, gelu_f64, {0}},
    {"Mish", mish_f32, mish_f64, {0}},
    {"Swish", swish_f32, swish_f64, {0}},
};

static int int_index(int32_t dt) {
    static const int32_t order[8] = {KILN_DTYPE_INT8,  KILN_DTYPE_INT16,  KILN_DTYPE_INT32,  KILN_DTYPE_INT64,
                                     KILN_DTYPE_UINT8, KILN_DTYPE_UINT16, KILN_DTYPE_UINT32, KILN_DTYPE_UINT64};
    for (int i = 0; i < 8; i++)
        if (order[i] == dt) return i;
    return -1;
}

/* The map of a per-dtype row: float32 (and widened 16-bit floats), float64, or an integer. */
static cpu_ew_map pick_row(cpu_ew_map f32, cpu_ew_map f64, const cpu_ew_map *ints, int32_t dt) {
    if (dt == KILN_DTYPE_FLOAT || cpu_is_half(dt)) return f32;
    if (dt == KILN_DTYPE_DOUBLE) return f64;
    int i = int_index(dt);
    return i >= 0 && ints ? ints[i] : NULL;
}

typedef struct act_kernel {
    cpu_kernel base;
    cpu_ew_map f;
    cpu_ew_spec spec;
    act_params p;
} act_kernel;

static kiln_status act_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    (void)err;
    const act_kernel *k = (const act_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    cpu_ew_map_run(ctx, k->f, &k->p, &k->spec, x->data, ctx->outputs[0]->data, x->count);
    return KILN_OK;
}

kiln_status kiln_cpu_activation(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    const act_op *op = NULL;
    for (size_t i = 0; i < sizeof(acts) / sizeof(acts[0]) && !op; i++)
        if (cpu_op_is(n, acts[i].name)) op = &acts[i];
    if (!op) return cpu_fail(err, KILN_ERR_INTERNAL, "%s is not an activation", n->op_type);
    act_params p = {0};
    cpu_ew_map f = pick_row(op->f32, op->f64, op->ints, dt);
    if (cpu_op_is(n, "LeakyRelu")) {
        p.alpha = cpu_attr_float(n, "alpha", 0.01f);
    } else if (cpu_op_is(n, "Elu") || cpu_op_is(n, "Celu") || cpu_op_is(n, "ThresholdedRelu") ||
               cpu_op_is(n, "Swish")) {
        p.alpha = cpu_attr_float(n, "alpha", 1.0f);
    } else if (cpu_op_is(n, "Selu")) {
        p.alpha = cpu_attr_float(n, "alpha", 1.67326319217681884765625f);
        p.gamma = cpu_attr_float(n, "gamma", 1.05070102214813232421875f);
    } else if (cpu_op_is(n, "HardSigmoid")) {
        p.alpha = cpu_attr_float(n, "alpha", 0.2f);
        p.beta = cpu_attr_float(n, "beta", 0.5f);
    } else if (cpu_op_is(n, "Shrink")) {
        p.alpha = cpu_attr_float(n, "lambd", 0.5f);
        p.beta = cpu_attr_float(n, "bias", 0.0f);
        p.ai = p.alpha;
        p.bi = p.beta;
    } else if (cpu_op_is(n, "Gelu")) {
        const char *approx = cpu_attr_str(n, "approximate", "none");
        if (strcmp(approx, "tanh") == 0 && f) f = dt == KILN_DTYPE_DOUBLE ? gelu_tanh_f64 : gelu_tanh_f32;
        else if (strcmp(approx, "none") != 0)
            return cpu_fail(err, KILN_ERR_INVALID_MODEL, "Gelu approximate must be \"none\" or \"tanh\", not \"%s\"", approx);
    }
    if (cpu_op_is(n, "Celu") && p.alpha == 0.0f) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "Celu alpha must not be 0");
    if (!f) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "%s is not implemented for %s", n->op_type, cpu_dtype_name(dt));
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(act_kernel), act_compute, out, err));
    act_kernel *k = (act_kernel *)*out;
    k->f = f;
    k->spec = cpu_ew_same(dt, 0);
    k->p = p;
    return KILN_OK;
}

/* ---- Clip ---- */

/* Bounds in the input's own type (float for float32 and widened 16-bit floats). */
typedef struct clip_bounds {
    union {
        double f;
        int64_t i;
        uint64_t u;
    } lo, hi;
    int has_lo, has_hi;
} clip_bounds;

/* max(x, lo) then min(., hi), as numpy.clip: lo > hi gives hi; NaN stays NaN. */
#define CLIP(SUF, T, FIELD)                                                       \
    static void clip_##SUF(const void *vx, void *vy, size_t n, const void *vp) { \
        const clip_bounds *c = vp;                                                \
        const T *x = vx;                                                          \
        T *y = vy;                                                                \
        T lo = (T)c->lo.FIELD, hi = (T)c->hi.FIELD;                               \
        int hl = c->has_lo, hh = c->has_hi;                                       \
        for (size_t i = 0; i < n; i++) {                                          \
            T v = x[i];                                                           \
            if (hl && v < lo) v = lo;                                             \
            if (hh && v > hi) v = hi;                                             \
            y[i] = v;                                                             \
        }                                                                         \
    }
CLIP(f32, float, f)
CLIP(f64, double, f)
CLIP(s8, int8_t, i)
CLIP(s16, int16_t, i)
CLIP(s32, int32_t, i)
CLIP(s64, int64_t, i)
CLIP(u8, uint8_t, u)
CLIP(u16, uint16_t, u)
CLIP(u32, uint32_t, u)
CLIP(u64, uint64_t, u)

typedef struct clip_kernel {
    cpu_kernel base;
    cpu_ew_map f;
    cpu_ew_spec spec;
    int32_t dtype;
    clip_bounds attrs; /* opset < 11: the bounds are attributes */
} clip_kernel;

/* Reads a bound input (a one-element tensor of X's type) into b. */
static kiln_status read_bound(const kiln_value_desc *t, int32_t dt, int hi, clip_bounds *b, kiln_error *err) {
    if (!t) return KILN_OK;
    if (t->dtype != dt)
        return cpu_fail(err, KILN_ERR_SHAPE, "%s is %s, X is %s", hi ? "max" : "min", cpu_dtype_name(t->dtype),
                        cpu_dtype_name(dt));
    if (t->count != 1)
        return cpu_fail(err, KILN_ERR_SHAPE, "%s must be a scalar, it has %llu elements", hi ? "max" : "min",
                        (unsigned long long)t->count);
    double f = 0;
    int64_t i = 0;
    uint64_t u = 0;
    const void *p = t->data;
    switch (dt) {
    case KILN_DTYPE_FLOAT: f = *(const float *)p; break;
    case KILN_DTYPE_DOUBLE: f = *(const double *)p; break;
    case KILN_DTYPE_FLOAT16: f = kiln_f16_to_f32(*(const uint16_t *)p); break;
    case KILN_DTYPE_BFLOAT16: f = kiln_bf16_to_f32(*(const uint16_t *)p); break;
    case KILN_DTYPE_INT8: i = *(const int8_t *)p; break;
    case KILN_DTYPE_INT16: i = *(const int16_t *)p; break;
    case KILN_DTYPE_INT32: i = *(const int32_t *)p; break;
    case KILN_DTYPE_INT64: i = *(const int64_t *)p; break;
    case KILN_DTYPE_UINT8: u = *(const uint8_t *)p; break;
    case KILN_DTYPE_UINT16: u = *(const uint16_t *)p; break;
    case KILN_DTYPE_UINT32: u = *(const uint32_t *)p; break;
    case KILN_DTYPE_UINT64: u = *(const uint64_t *)p; break;
    default: break;
    }
    if (hi) {
        b->hi.f = f, b->has_hi = 1;
        if (cpu_is_sint(dt)) b->hi.i = i;
        if (cpu_is_uint(dt)) b->hi.u = u;
    } else {
        b->lo.f = f, b->has_lo = 1;
        if (cpu_is_sint(dt)) b->lo.i = i;
        if (cpu_is_uint(dt)) b->lo.u = u;
    }
    return KILN_OK;
}

static kiln_status clip_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const clip_kernel *k = (const clip_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    clip_bounds b = k->attrs;
    KILN_CPU_TRY(read_bound(cpu_in(ctx, 1), k->dtype, 0, &b, err));
    KILN_CPU_TRY(read_bound(cpu_in(ctx, 2), k->dtype, 1, &b, err));
    cpu_ew_map_run(ctx, k->f, &b, &k->spec, x->data, ctx->outputs[0]->data, x->count);
    return KILN_OK;
}

kiln_status kiln_cpu_clip(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    static const cpu_ew_map ints[8] = {clip_s8, clip_s16, clip_s32, clip_s64, clip_u8, clip_u16, clip_u32, clip_u64};
    int32_t dt = cpu_input_dtype(n, 0);
    cpu_ew_map f = pick_row(clip_f32, clip_f64, n->opset < 11 ? NULL : ints, dt);
    if (!f) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Clip is not implemented for %s", cpu_dtype_name(dt));
    for (uint32_t i = 1; i < 3; i++) {
        int32_t bt = cpu_input_dtype(n, i);
        if (bt && bt != dt)
            return cpu_fail(err, KILN_ERR_INVALID_MODEL, "Clip %s is %s, X is %s", i == 1 ? "min" : "max",
                            cpu_dtype_name(bt), cpu_dtype_name(dt));
    }
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(clip_kernel), clip_compute, out, err));
    clip_kernel *k = (clip_kernel *)*out;
    k->f = f;
    k->spec = cpu_ew_same(dt, 0);
    k->dtype = dt;
    if (n->opset < 11) {
        /* Clip-1/6: float attributes defaulting to the float range (so infinities are clipped). */
        k->attrs.lo.f = cpu_attr_float(n, "min", -FLT_MAX);
        k->attrs.hi.f = cpu_attr_float(n, "max", FLT_MAX);
        k->attrs.has_lo = k->attrs.has_hi = 1;
    }
    return KILN_OK;
}

/* ---- PRelu: x < 0 ? x * slope : x, slope broadcast to X ---- */

CPU_EW_ZIP(prelu_f32, float, float, float, x < 0.0f ? x * y : x)
CPU_EW_ZIP(prelu_f64, double, double, double, x < 0.0 ? x * y : x)
CPU_EW_ZIP(prelu_s32, int32_t, int32_t, int32_t, x < 0 ? (int32_t)((uint32_t)x * (uint32_t)y) : x)
CPU_EW_ZIP(prelu_s64, int64_t, int64_t, int64_t, x < 0 ? (int64_t)((uint64_t)x * (uint64_t)y) : x)
/* Unsigned X is never negative. */
CPU_EW_ZIP(prelu_u32, uint32_t, uint32_t, uint32_t, ((void)y, x))
CPU_EW_ZIP(prelu_u64, uint64_t, uint64_t, uint64_t, ((void)y, x))

typedef struct zip_kernel {
    cpu_kernel base;
    cpu_ew_zip f;
    cpu_ew_spec spec;
    act_params p;
    int legacy_slope; /* PRelu before opset 7 */
} zip_kernel;

static kiln_status prelu_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    (void)err;
    const zip_kernel *k = (const zip_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0), *s = cpu_in(ctx, 1);
    kiln_value_desc view;
    int64_t dims[KILN_MAX_RANK];
    /* Before opset 7 a 1-D slope of X's channel count applies along axis 1 (the shape
     * function accepted exactly these cases). */
    if (k->legacy_slope && s->rank == 1 && x->rank >= 2 && s->dims[0] != 1 && s->dims[0] == x->dims[1]) {
        view = *s;
        view.rank = x->rank - 1;
        dims[0] = s->dims[0];
        for (int32_t d = 1; d < view.rank; d++) dims[d] = 1;
        view.dims = dims;
        s = &view;
    }
    cpu_ew_zip_run(ctx, k->f, &k->p, &k->spec, x, s, ctx->outputs[0]);
    return KILN_OK;
}

kiln_status kiln_cpu_prelu(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    cpu_ew_zip f = dt == KILN_DTYPE_FLOAT || cpu_is_half(dt) ? prelu_f32 : dt == KILN_DTYPE_DOUBLE ? prelu_f64
                   : dt == KILN_DTYPE_INT32 ? prelu_s32 : dt == KILN_DTYPE_INT64 ? prelu_s64
                   : dt == KILN_DTYPE_UINT32 ? prelu_u32 : dt == KILN_DTYPE_UINT64 ? prelu_u64 : NULL;
    if (!f) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "PRelu is not implemented for %s", cpu_dtype_name(dt));
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(zip_kernel), prelu_compute, out, err));
    zip_kernel *k = (zip_kernel *)*out;
    k->f = f;
    k->spec = cpu_ew_same(dt, 0);
    k->legacy_slope = n->opset < 7;
    return KILN_OK;
}

/* ---- SwiGLU: Swish_alpha(A) * B over identical shapes ---- */

CPU_EW_ZIP(swiglu_f32, float, float, float, x * sigmoidf_(((const act_params *)p)->alpha * x) * y)
CPU_EW_ZIP(swiglu_f64, double, double, double, x * sigmoid_(((const act_params *)p)->alpha * x) * y)

static kiln_status swiglu_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    (void)err;
    const zip_kernel *k = (const zip_kernel *)base;
    cpu_ew_zip_run(ctx, k->f, &k->p, &k->spec, cpu_in(ctx, 0), cpu_in(ctx, 1), ctx->outputs[0]);
    return KILN_OK;
}

kiln_status kiln_cpu_swiglu(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    cpu_ew_zip f = dt == KILN_DTYPE_FLOAT || cpu_is_half(dt) ? swiglu_f32 : dt == KILN_DTYPE_DOUBLE ? swiglu_f64 : NULL;
    if (!f) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "SwiGLU is not implemented for %s", cpu_dtype_name(dt));
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(zip_kernel), swiglu_compute, out, err));
    zip_kernel *k = (zip_kernel *)*out;
    k->f = f;
    k->spec = cpu_ew_same(dt, 0);
    k->p.alpha = cpu_attr_float(n, "alpha", 1.0f);
    return KILN_OK;
}
