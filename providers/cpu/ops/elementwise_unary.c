/* SPDX-License-Identifier: MIT */
/* Elementwise math: Abs Neg Sqrt Reciprocal Exp Log Ceil Floor Round Sign Erf, the
 * trigonometric and hyperbolic functions, IsNaN IsInf, Not, BitwiseNot. Floats in float32 or
 * float64 (float16/bfloat16 widened to float32; exp, log, erf and tanh from kernels/common/vmath.h so
 * the loops vectorize); integer forms where the spec has them. */
#include <math.h>
#include <string.h>

#include "kernels/common/minifloat.h"
#include "kernels/common/vmath.h"
#include "kernels/f32-vmath/f32-vmath.h"
#include "providers/cpu/ops/elementwise.h"

/* ---- float maps: NAME_f32 and NAME_f64 computing EXPR on v ---- */
#define MAP_FLOAT(NAME, EF, ED)                                                  \
    static void NAME##_f32(const void *vx, void *vy, size_t n, const void *p) { \
        const float *x = vx;                                                     \
        float *y = vy;                                                           \
        (void)p;                                                                 \
        for (size_t i = 0; i < n; i++) {                                         \
            float v = x[i];                                                      \
            y[i] = (EF);                                                         \
        }                                                                        \
    }                                                                            \
    static void NAME##_f64(const void *vx, void *vy, size_t n, const void *p) { \
        const double *x = vx;                                                    \
        double *y = vy;                                                          \
        (void)p;                                                                 \
        for (size_t i = 0; i < n; i++) {                                         \
            double v = x[i];                                                     \
            y[i] = (ED);                                                         \
        }                                                                        \
    }

/* float32 Exp, Erf and Tanh: the vectorized kernels of kernels/f32-vmath for this CPU */
#define MAP_VMATH(NAME, ED)                                                      \
    static void NAME##_f32(const void *vx, void *vy, size_t n, const void *p) { \
        (void)p;                                                                 \
        kiln_f32_vmath()->NAME(n, vx, vy);                                       \
    }                                                                            \
    static void NAME##_f64(const void *vx, void *vy, size_t n, const void *p) { \
        const double *x = vx;                                                    \
        double *y = vy;                                                          \
        (void)p;                                                                 \
        for (size_t i = 0; i < n; i++) {                                         \
            double v = x[i];                                                     \
            y[i] = (ED);                                                         \
        }                                                                        \
    }

MAP_FLOAT(abs, fabsf(v), fabs(v))
MAP_FLOAT(neg, -v, -v)
MAP_FLOAT(sqrt, sqrtf(v), sqrt(v))
MAP_FLOAT(recip, 1.0f / v, 1.0 / v)
MAP_VMATH(exp, exp(v))
MAP_FLOAT(log, kiln_vlogf(v), log(v))
MAP_FLOAT(ceil, ceilf(v), ceil(v))
MAP_FLOAT(floor, floorf(v), floor(v))
/* Round: halves to even, like numpy.round (the default rounding mode). */
MAP_FLOAT(round, nearbyintf(v), nearbyint(v))
/* Sign keeps NaN (and the zero's sign). */
MAP_FLOAT(sign, v > 0.0f ? 1.0f : v < 0.0f ? -1.0f : v, v > 0.0 ? 1.0 : v < 0.0 ? -1.0 : v)
MAP_VMATH(erf, erf(v))
MAP_FLOAT(sin, sinf(v), sin(v))
MAP_FLOAT(cos, cosf(v), cos(v))
MAP_FLOAT(tan, tanf(v), tan(v))
MAP_FLOAT(asin, asinf(v), asin(v))
MAP_FLOAT(acos, acosf(v), acos(v))
MAP_FLOAT(atan, atanf(v), atan(v))
MAP_FLOAT(sinh, sinhf(v), sinh(v))
MAP_FLOAT(cosh, coshf(v), cosh(v))
MAP_VMATH(tanh, tanh(v))
MAP_FLOAT(asinh, asinhf(v), asinh(v))
MAP_FLOAT(acosh, acoshf(v), acosh(v))
MAP_FLOAT(atanh, atanhf(v), atanh(v))

/* ---- integer maps: NAME_SUF computing EXPR on v of type T (UT: its unsigned twin) ---- */
#define MAP_INT(NAME, SUF, T, U, EXPR)                                            \
    static void NAME##_##SUF(const void *vx, void *vy, size_t n, const void *p) { \
        typedef U UT;                                                             \
        const T *x = vx;                                                          \
        T *y = vy;                                                                \
        (void)p, (void)sizeof(UT);                                                \
        for (size_t i = 0; i < n; i++) {                                          \
            T v = x[i];                                                           \
            y[i] = (T)(EXPR);                                                     \
        }                                                                         \
    }
#define MAP_SINTS(NAME, SEXPR)                    \
    MAP_INT(NAME, s8, int8_t, uint8_t, SEXPR)    \
    MAP_INT(NAME, s16, int16_t, uint16_t, SEXPR) \
    MAP_INT(NAME, s32, int32_t, uint32_t, SEXPR) \
    MAP_INT(NAME, s64, int64_t, uint64_t, SEXPR)
#define MAP_INTS(NAME, SEXPR, UEXPR)                      \
    MAP_SINTS(NAME, SEXPR)                               \
    MAP_INT(NAME, u8, uint8_t, uint8_t, UEXPR)           \
    MAP_INT(NAME, u16, uint16_t, uint16_t, UEXPR)        \
    MAP_INT(NAME, u32, uint32_t, uint32_t, UEXPR)        \
    MAP_INT(NAME, u64, uint64_t, uint64_t, UEXPR)
#define INT_ROW(NAME) {NAME##_s8, NAME##_s16, NAME##_s32, NAME##_s64, NAME##_u8, NAME##_u16, NAME##_u32, NAME##_u64}
#define SINT_ROW(NAME) {NAME##_s8, NAME##_s16, NAME##_s32, NAME##_s64, NULL, NULL, NULL, NULL}

/* Two's complement wrap: |INT_MIN| and -INT_MIN are INT_MIN, as in numpy. */
MAP_INTS(iabs, v < 0 ? (UT)(0 - (UT)v) : (UT)v, v)
MAP_SINTS(ineg, (UT)(0 - (UT)v))
MAP_INTS(isign, (v > 0) - (v < 0), v > 0)
MAP_INTS(inot, ~(UT)v, ~v)
/* Erf of an integer is computed in double and truncated like a fixed-point Cast. */
MAP_INTS(ierf, cpu_f2bits(erf((double)v)), cpu_f2bits(erf((double)v)))

static void not_b8(const void *vx, void *vy, size_t n, const void *p) {
    const uint8_t *x = vx;
    uint8_t *y = vy;
    (void)p;
    for (size_t i = 0; i < n; i++) y[i] = !x[i];
}

/* ---- IsNaN / IsInf: float in, bool out ---- */
typedef struct test_params {
    int nan;                    /* 1: IsNaN; 0: IsInf */
    int neg, pos;               /* IsInf: detect_negative, detect_positive */
    const kiln_minifloat *mf;   /* float8 input format; NULL for float/double */
} test_params;

static inline uint8_t test_one(const test_params *t, double v) {
    if (t->nan) return v != v;
    return (t->pos && v == INFINITY) || (t->neg && v == -INFINITY);
}

static void test_f32(const void *vx, void *vy, size_t n, const void *p) {
    const float *x = vx;
    uint8_t *y = vy;
    for (size_t i = 0; i < n; i++) y[i] = test_one(p, x[i]);
}
static void test_f64(const void *vx, void *vy, size_t n, const void *p) {
    const double *x = vx;
    uint8_t *y = vy;
    for (size_t i = 0; i < n; i++) y[i] = test_one(p, x[i]);
}
static void test_f8(const void *vx, void *vy, size_t n, const void *p) {
    const test_params *t = p;
    const uint8_t *x = vx;
    uint8_t *y = vy;
    for (size_t i = 0; i < n; i++) y[i] = test_one(t, kiln_mf_decode(t->mf, x[i]));
}

/* ---- the op table ---- */
typedef struct unary_op {
    const char *name;
    cpu_ew_map f32, f64;
    cpu_ew_map ints[8]; /* s8 s16 s32 s64 u8 u16 u32 u64; NULL where the spec has no such form */
} unary_op;

static const unary_op ops[] = {
    {"Abs", abs_f32, abs_f64, INT_ROW(iabs)},
    {"Neg", neg_f32, neg_f64, SINT_ROW(ineg)},
    {"Sqrt", sqrt_f32, sqrt_f64, {0}},
    {"Reciprocal", recip_f32, recip_f64, {0}},
    {"Exp", exp_f32, exp_f64, {0}},
    {"Log", log_f32, log_f64, {0}},
    {"Ceil", ceil_f32, ceil_f64, {0}},
    {"Floor", floor_f32, floor_f64, {0}},
    {"Round", round_f32, round_f64, {0}},
    {"Sign", sign_f32, sign_f64, INT_ROW(isign)},
    {"Erf", erf_f32, erf_f64, INT_ROW(ierf)},
    {"Sin", sin_f32, sin_f64, {0}},
    {"Cos", cos_f32, cos_f64, {0}},
    {"Tan", tan_f32, tan_f64, {0}},
    {"Asin", asin_f32, asin_f64, {0}},
    {"Acos", acos_f32, acos_f64, {0}},
    {"Atan", atan_f32, atan_f64, {0}},
    {"Sinh", sinh_f32, sinh_f64, {0}},
    {"Cosh", cosh_f32, cosh_f64, {0}},
    {"Tanh", tanh_f32, tanh_f64, {0}},
    {"Asinh", asinh_f32, asinh_f64, {0}},
    {"Acosh", acosh_f32, acosh_f64, {0}},
    {"Atanh", atanh_f32, atanh_f64, {0}},
    {"BitwiseNot", NULL, NULL, INT_ROW(inot)},
};

static int int_index(int32_t dt) {
    switch (dt) {
    case KILN_DTYPE_INT8: return 0;
    case KILN_DTYPE_INT16: return 1;
    case KILN_DTYPE_INT32: return 2;
    case KILN_DTYPE_INT64: return 3;
    case KILN_DTYPE_UINT8: return 4;
    case KILN_DTYPE_UINT16: return 5;
    case KILN_DTYPE_UINT32: return 6;
    case KILN_DTYPE_UINT64: return 7;
    default: return -1;
    }
}

static const kiln_minifloat *f8_format(int32_t dt) {
    switch (dt) {
    case KILN_DTYPE_FLOAT8E4M3FN: return &kiln_mf_e4m3fn;
    case KILN_DTYPE_FLOAT8E4M3FNUZ: return &kiln_mf_e4m3fnuz;
    case KILN_DTYPE_FLOAT8E5M2: return &kiln_mf_e5m2;
    case KILN_DTYPE_FLOAT8E5M2FNUZ: return &kiln_mf_e5m2fnuz;
    default: return NULL;
    }
}

typedef struct unary_kernel {
    cpu_kernel base;
    cpu_ew_map f;
    cpu_ew_spec spec;
    test_params test;
} unary_kernel;

static kiln_status unary_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    (void)err;
    const unary_kernel *k = (const unary_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    cpu_ew_map_run(ctx, k->f, &k->test, &k->spec, x->data, ctx->outputs[0]->data, x->count);
    return KILN_OK;
}

/* Picks the map for IsNaN / IsInf; NULL when the dtype is not a float type. */
static cpu_ew_map pick_test(const cpu_node *n, int32_t dt, unary_kernel *k) {
    k->test.nan = cpu_op_is(n, "IsNaN");
    k->test.neg = cpu_attr_int(n, "detect_negative", 1) != 0;
    k->test.pos = cpu_attr_int(n, "detect_positive", 1) != 0;
    k->spec = cpu_ew_same(dt, 1);
    if (dt == KILN_DTYPE_FLOAT || cpu_is_half(dt)) return test_f32;
    if (dt == KILN_DTYPE_DOUBLE) return test_f64;
    k->test.mf = f8_format(dt);
    return k->test.mf ? test_f8 : NULL;
}

kiln_status kiln_cpu_unary(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    unary_kernel tmp;
    memset(&tmp, 0, sizeof(tmp));
    cpu_ew_map f = NULL;
    if (cpu_op_is(n, "IsNaN") || cpu_op_is(n, "IsInf")) {
        f = pick_test(n, dt, &tmp);
    } else if (cpu_op_is(n, "Not")) {
        f = dt == KILN_DTYPE_BOOL ? not_b8 : NULL;
        tmp.spec = cpu_ew_same(dt, 1);
    } else {
        const unary_op *op = NULL;
        for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]) && !op; i++)
            if (cpu_op_is(n, ops[i].name)) op = &ops[i];
        if (!op) return cpu_fail(err, KILN_ERR_INTERNAL, "%s is not an elementwise math op", n->op_type);
        int ii = int_index(dt);
        f = dt == KILN_DTYPE_FLOAT || cpu_is_half(dt) ? op->f32 : dt == KILN_DTYPE_DOUBLE ? op->f64
            : ii >= 0 ? op->ints[ii] : NULL;
        tmp.spec = cpu_ew_same(dt, 0);
    }
    if (!f) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "%s is not implemented for %s", n->op_type, cpu_dtype_name(dt));
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(unary_kernel), unary_compute, out, err));
    unary_kernel *k = (unary_kernel *)*out;
    tmp.base = k->base;
    *k = tmp;
    k->f = f;
    return KILN_OK;
}
