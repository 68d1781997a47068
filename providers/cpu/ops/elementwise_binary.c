/* SPDX-License-Identifier: MIT */
/* Binary arithmetic with numpy broadcasting (and the opset < 7 `broadcast`/`axis` form): Add,
 * Sub, Mul, Div for every numeric dtype, Pow with a base and exponent of different types, Mod
 * (truncated fmod=1 and floored fmod=0, floats included as in Mod-28), BitShift (signed types
 * as in BitShift-28), BitwiseAnd/Or/Xor. float16 and bfloat16 are computed in float32. Integer
 * division (and modulo) by zero is an error; INT_MIN / -1 wraps. */
#include <math.h>
#include <string.h>

#include "kernels/common/half.h"
#include "providers/cpu/ops/elementwise.h"

enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD, OP_FMOD, OP_SHL, OP_SHR, OP_AND, OP_OR, OP_XOR, OP_COUNT };

/* ---- arithmetic ---- */
/* Floor modulo (fmod=0, Mod-28's float semantics): the sign of the divisor, zeros included;
 * fmod gives the NaN and infinite-divisor cases, fixed up when the signs differ. */
static inline float fmodf_floor(float x, float y) {
    float r = fmodf(x, y);
    if (r == 0.0f) return copysignf(0.0f, y);
    return (r < 0.0f) != (y < 0.0f) ? r + y : r;
}
static inline double fmod_floor(double x, double y) {
    double r = fmod(x, y);
    if (r == 0.0) return copysign(0.0, y);
    return (r < 0.0) != (y < 0.0) ? r + y : r;
}

#define ARITH_FLOAT(SUF, T, FMOD, FLOOR)                    \
    CPU_EW_ZIP(add_##SUF, T, T, T, x + y)                   \
    CPU_EW_ZIP(sub_##SUF, T, T, T, x - y)                   \
    CPU_EW_ZIP(mul_##SUF, T, T, T, x * y)                   \
    CPU_EW_ZIP(div_##SUF, T, T, T, x / y)                   \
    CPU_EW_ZIP(mod_##SUF, T, T, T, FLOOR(x, y))             \
    CPU_EW_ZIP(fmod_##SUF, T, T, T, FMOD(x, y))
ARITH_FLOAT(f32, float, fmodf, fmodf_floor)
ARITH_FLOAT(f64, double, fmod, fmod_floor)

/* Signed integers compute in uint64_t so overflow wraps without UB; divisors were
 * checked for zero; x / -1 and x % -1 are done without the INT_MIN trap. */
#define ARITH_SINT(SUF, T, BITS)                                                                     \
    CPU_EW_ZIP(add_##SUF, T, T, T, (uint64_t)x + (uint64_t)y)                                    \
    CPU_EW_ZIP(sub_##SUF, T, T, T, (uint64_t)x - (uint64_t)y)                                    \
    CPU_EW_ZIP(mul_##SUF, T, T, T, (uint64_t)x * (uint64_t)y)                                    \
    CPU_EW_ZIP(div_##SUF, T, T, T, y == -1 ? (T)(0 - (uint64_t)x) : (T)(x / y))                  \
    CPU_EW_ZIP(fmod_##SUF, T, T, T, y == -1 ? 0 : x % y)                                         \
    CPU_EW_ZIP(mod_##SUF, T, T, T, y == -1 ? 0 : (x % y != 0 && ((x % y < 0) != (y < 0))) ? x % y + y : x % y) \
    CPU_EW_ZIP(shl_##SUF, T, T, T, y < 0 || y >= BITS ? 0 : (uint64_t)x << y)                    \
    CPU_EW_ZIP(shr_##SUF, T, T, T, y < 0 || y >= BITS ? (x < 0 ? -1 : 0) : x < 0 ? ~(~x >> y) : x >> y) \
    CPU_EW_ZIP(and_##SUF, T, T, T, x & y)                                                        \
    CPU_EW_ZIP(or_##SUF, T, T, T, x | y)                                                         \
    CPU_EW_ZIP(xor_##SUF, T, T, T, x ^ y)
/* Unsigned: computed in uint64_t so small types never promote to an int that overflows. */
#define ARITH_UINT(SUF, T, BITS)                                                        \
    CPU_EW_ZIP(add_##SUF, T, T, T, (uint64_t)x + (uint64_t)y)                           \
    CPU_EW_ZIP(sub_##SUF, T, T, T, (uint64_t)x - (uint64_t)y)                           \
    CPU_EW_ZIP(mul_##SUF, T, T, T, (uint64_t)x * (uint64_t)y)                           \
    CPU_EW_ZIP(div_##SUF, T, T, T, (uint64_t)x / (uint64_t)y)                           \
    CPU_EW_ZIP(mod_##SUF, T, T, T, (uint64_t)x % (uint64_t)y)                           \
    CPU_EW_ZIP(shl_##SUF, T, T, T, y >= BITS ? 0 : (uint64_t)x << y)                    \
    CPU_EW_ZIP(shr_##SUF, T, T, T, y >= BITS ? 0 : (uint64_t)x >> y)                    \
    CPU_EW_ZIP(and_##SUF, T, T, T, x & y)                                               \
    CPU_EW_ZIP(or_##SUF, T, T, T, x | y)                                                \
    CPU_EW_ZIP(xor_##SUF, T, T, T, x ^ y)
ARITH_SINT(s8, int8_t, 8)
ARITH_SINT(s16, int16_t, 16)
ARITH_SINT(s32, int32_t, 32)
ARITH_SINT(s64, int64_t, 64)
ARITH_UINT(u8, uint8_t, 8)
ARITH_UINT(u16, uint16_t, 16)
ARITH_UINT(u32, uint32_t, 32)
ARITH_UINT(u64, uint64_t, 64)

/* Rows by op: add sub mul div mod fmod shl shr and or xor. */
#define FROW(S) {add_##S, sub_##S, mul_##S, div_##S, mod_##S, fmod_##S, NULL, NULL, NULL, NULL, NULL}
#define SROW(S) {add_##S, sub_##S, mul_##S, div_##S, mod_##S, fmod_##S, shl_##S, shr_##S, and_##S, or_##S, xor_##S}
/* Unsigned fmod and mod agree. */
#define UROW(S) {add_##S, sub_##S, mul_##S, div_##S, mod_##S, mod_##S, shl_##S, shr_##S, and_##S, or_##S, xor_##S}

static cpu_ew_zip pick(int32_t dt, int op) {
    static const cpu_ew_zip t[CPU_LANE_COUNT][OP_COUNT] = {FROW(f32), FROW(f64), SROW(s8), SROW(s16), SROW(s32),
                                                          SROW(s64), UROW(u8), UROW(u16), UROW(u32), UROW(u64)};
    int lane = cpu_lane(dt);
    return lane < 0 ? NULL : t[lane][op];
}

/* ---- Pow: the exponent is first converted to double (float base or float exponent) or to
 * 64-bit integer bits (integer base and exponent) ---- */

typedef struct pow_params {
    int exp_unsigned; /* integer exponent bits are a uint64_t, not an int64_t */
} pow_params;

/* x^y for a float base in double (the float32 result is then correctly rounded in practice). */
CPU_EW_ZIP(pow_f32_any, float, double, float, pow((double)x, y))
CPU_EW_ZIP(pow_f64_any, double, double, double, pow(x, y))

/* One exponent for the whole run (the usual Pow(x, 2) or Pow(x, 0.5)): the common small
 * exponents as plain loops (sqrt is correctly rounded; x * x * x within an ulp of pow). */
#define POW_FLOAT(SUF, T, SQRT)                                                                          \
    static void pow_##SUF(size_t n, const void *va, size_t sa, const void *vb, size_t sb, void *vo,     \
                          const void *p) {                                                              \
        const T *a = va;                                                                                \
        T *o = vo;                                                                                      \
        double y = *(const double *)vb;                                                                 \
        if (sb || !sa || (y != 2.0 && y != 3.0 && y != 1.0 && y != 0.5)) {                             \
            pow_##SUF##_any(n, va, sa, vb, sb, vo, p);                                                  \
        } else if (y == 2.0) {                                                                          \
            for (size_t i = 0; i < n; i++) o[i] = a[i] * a[i];                                          \
        } else if (y == 3.0) {                                                                          \
            for (size_t i = 0; i < n; i++) o[i] = a[i] * a[i] * a[i];                                   \
        } else if (y == 1.0) {                                                                          \
            for (size_t i = 0; i < n; i++) o[i] = a[i];                                                 \
        } else {                                                                                        \
            /* pow(-0, 0.5) is +0 and pow(-inf, 0.5) is +inf, where sqrt gives -0 and NaN */          \
            for (size_t i = 0; i < n; i++) o[i] = a[i] == -(T)INFINITY ? (T)INFINITY : SQRT(a[i]) + (T)0; \
        }                                                                                               \
    }
POW_FLOAT(f32, float, sqrtf)
POW_FLOAT(f64, double, sqrt)

/* Integer base to integer power modulo 2^64 (so the result wraps like repeated Mul). Negative
 * powers give the integer part of the exact result: 1 and -1 stay ±1, others 0; 0 to a
 * negative power is +infinity, saturated to the type's maximum `max`. */
static inline uint64_t ipow(uint64_t x, uint64_t e, int negative, uint64_t max) {
    if (negative) {
        if (x == 1) return 1;
        if (x == UINT64_MAX) return e & 1 ? UINT64_MAX : 1;
        return x == 0 ? max : 0;
    }
    uint64_t r = 1;
    while (e) {
        if (e & 1) r *= x;
        x *= x;
        e >>= 1;
    }
    return r;
}
/* Sign-extended 64-bit bits of a signed base (so -1 is UINT64_MAX for ipow). */
#define POW_INT(SUF, T, MAX)                                                                                 \
    CPU_EW_ZIP(pow_##SUF##_f, T, double, T, cpu_f2bits(pow((double)x, y)))                                   \
    CPU_EW_ZIP(pow_##SUF##_i, T, int64_t, T,                                                                 \
               ipow((uint64_t)(int64_t)x, (uint64_t)y, !((const pow_params *)p)->exp_unsigned && y < 0, MAX))
POW_INT(s32, int32_t, (uint64_t)INT32_MAX)
POW_INT(s64, int64_t, (uint64_t)INT64_MAX)

/* Exponent element i of a tensor of dtype dt, as double and as integer bits. */
static double exp_f(const void *d, int32_t dt, uint64_t i) {
    switch (dt) {
    case KILN_DTYPE_FLOAT: return ((const float *)d)[i];
    case KILN_DTYPE_DOUBLE: return ((const double *)d)[i];
    case KILN_DTYPE_FLOAT16: return kiln_f16_to_f32(((const uint16_t *)d)[i]);
    case KILN_DTYPE_BFLOAT16: return kiln_bf16_to_f32(((const uint16_t *)d)[i]);
    case KILN_DTYPE_INT8: return ((const int8_t *)d)[i];
    case KILN_DTYPE_INT16: return ((const int16_t *)d)[i];
    case KILN_DTYPE_INT32: return ((const int32_t *)d)[i];
    case KILN_DTYPE_INT64: return (double)((const int64_t *)d)[i];
    case KILN_DTYPE_UINT8: return ((const uint8_t *)d)[i];
    case KILN_DTYPE_UINT16: return ((const uint16_t *)d)[i];
    case KILN_DTYPE_UINT32: return ((const uint32_t *)d)[i];
    case KILN_DTYPE_UINT64: return (double)((const uint64_t *)d)[i];
    default: return 0;
    }
}
static int64_t exp_i(const void *d, int32_t dt, uint64_t i) {
    switch (dt) {
    case KILN_DTYPE_INT8: return ((const int8_t *)d)[i];
    case KILN_DTYPE_INT16: return ((const int16_t *)d)[i];
    case KILN_DTYPE_INT32: return ((const int32_t *)d)[i];
    case KILN_DTYPE_INT64: return ((const int64_t *)d)[i];
    case KILN_DTYPE_UINT8: return ((const uint8_t *)d)[i];
    case KILN_DTYPE_UINT16: return ((const uint16_t *)d)[i];
    case KILN_DTYPE_UINT32: return ((const uint32_t *)d)[i];
    case KILN_DTYPE_UINT64: return (int64_t)((const uint64_t *)d)[i];
    default: return 0;
    }
}

/* ---- the kernel ---- */

typedef struct binary_kernel {
    cpu_kernel base;
    cpu_ew_zip f;
    cpu_ew_spec spec;
    int zero_check;       /* integer Div / Mod: reject zero divisors */
    int32_t exp_dtype;    /* Pow: the exponent's dtype, converted before the zip; 0 otherwise */
    int exp_int;          /* Pow: exponent converted to int64 (else double) */
    pow_params pow;
    int64_t legacy_axis;  /* CPU_EW_NUMPY or the opset < 7 axis */
} binary_kernel;

static int has_zero(const kiln_value_desc *d, size_t es) {
    static const unsigned char zero[8];
    const unsigned char *p = d->data;
    for (uint64_t i = 0; i < d->count; i++)
        if (memcmp(p + i * es, zero, es) == 0) return 1;
    return 0;
}

static kiln_status binary_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const binary_kernel *k = (const binary_kernel *)base;
    const kiln_value_desc *a = cpu_in(ctx, 0), *b = cpu_in(ctx, 1);
    kiln_value_desc view, conv;
    int64_t dims[KILN_MAX_RANK];
    b = cpu_ew_legacy_b(k->legacy_axis, a, b, &view, dims);
    if (k->zero_check && has_zero(b, k->spec.eb))
        return cpu_fail(err, KILN_ERR_SHAPE, "integer %s by zero", k->zero_check == 1 ? "division" : "modulo");
    if (k->exp_dtype) {
        /* The exponent (usually one element) converted once per call into scratch. */
        void *e = ctx->host->scratch(ctx, (size_t)(b->count ? b->count : 1) * 8);
        if (!e) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory converting the exponent");
        for (uint64_t i = 0; i < b->count; i++) {
            if (k->exp_int) ((int64_t *)e)[i] = exp_i(b->data, k->exp_dtype, i);
            else ((double *)e)[i] = exp_f(b->data, k->exp_dtype, i);
        }
        conv = *b;
        conv.data = e;
        b = &conv;
    }
    cpu_ew_zip_run(ctx, k->f, &k->pow, &k->spec, a, b, ctx->outputs[0]);
    return KILN_OK;
}

static kiln_status pick_pow(const cpu_node *n, int32_t dt, binary_kernel *k, kiln_error *err) {
    int32_t et = cpu_input_dtype(n, 1);
    if (!cpu_is_numeric(et))
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Pow is not implemented for %s exponents", cpu_dtype_name(et));
    k->exp_dtype = et;
    k->exp_int = cpu_is_int(et) && cpu_is_int(dt);
    k->pow.exp_unsigned = cpu_is_uint(et);
    k->spec = cpu_ew_same(dt, 0);
    k->spec.eb = 8;
    k->spec.hb = 0;
    switch (dt) {
    case KILN_DTYPE_FLOAT: case KILN_DTYPE_FLOAT16: case KILN_DTYPE_BFLOAT16: k->f = pow_f32; break;
    case KILN_DTYPE_DOUBLE: k->f = pow_f64; break;
    case KILN_DTYPE_INT32: k->f = k->exp_int ? pow_s32_i : pow_s32_f; break;
    case KILN_DTYPE_INT64: k->f = k->exp_int ? pow_s64_i : pow_s64_f; break;
    default: return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Pow is not implemented for %s bases", cpu_dtype_name(dt));
    }
    return KILN_OK;
}

kiln_status kiln_cpu_binary(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    static const struct {
        const char *name;
        int op;
    } names[] = {{"Add", OP_ADD}, {"Sub", OP_SUB}, {"Mul", OP_MUL}, {"Div", OP_DIV}, {"Mod", OP_MOD},
                 {"BitShift", OP_SHL}, {"BitwiseAnd", OP_AND}, {"BitwiseOr", OP_OR}, {"BitwiseXor", OP_XOR}};
    int32_t dt = cpu_input_dtype(n, 0);
    binary_kernel k;
    memset(&k, 0, sizeof(k));
    k.legacy_axis = cpu_ew_legacy_axis(n);
    if (cpu_op_is(n, "Pow")) {
        KILN_CPU_TRY(pick_pow(n, dt, &k, err));
    } else {
        int op = -1;
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && op < 0; i++)
            if (cpu_op_is(n, names[i].name)) op = names[i].op;
        if (op < 0) return cpu_fail(err, KILN_ERR_INTERNAL, "%s is not a binary arithmetic op", n->op_type);
        if (op == OP_MOD) {
            int64_t fm = cpu_attr_int(n, "fmod", 0);
            if (fm != 0 && fm != 1) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "Mod fmod must be 0 or 1, not %lld", (long long)fm);
            if (fm) op = OP_FMOD;
        } else if (op == OP_SHL) {
            const char *dir = cpu_attr_str(n, "direction", "");
            if (strcmp(dir, "RIGHT") == 0) op = OP_SHR;
            else if (strcmp(dir, "LEFT") != 0)
                return cpu_fail(err, KILN_ERR_INVALID_MODEL, "BitShift direction must be \"LEFT\" or \"RIGHT\", not \"%s\"", dir);
        }
        k.f = pick(dt, op);
        if (!k.f) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "%s is not implemented for %s", n->op_type, cpu_dtype_name(dt));
        k.spec = cpu_ew_same(dt, 0);
        if (cpu_is_int(dt) && (op == OP_DIV || op == OP_MOD || op == OP_FMOD)) k.zero_check = op == OP_DIV ? 1 : 2;
    }
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(binary_kernel), binary_compute, out, err));
    binary_kernel *bk = (binary_kernel *)*out;
    k.base = bk->base;
    *bk = k;
    return KILN_OK;
}
