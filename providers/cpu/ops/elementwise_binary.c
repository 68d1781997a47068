/* SPDX-License-Identifier: MIT */
/* Binary arithmetic with numpy broadcasting: Add, Sub, Mul, Div, for every numeric dtype
 * (float16 and bfloat16 computed in float32 and rounded back). Integer division by zero is an
 * error, not a crash; INT_MIN / -1 wraps. */
#include <string.h>

#include "kernels/common/half.h"
#include "providers/cpu/broadcast.h"
#include "providers/cpu/cpu_op.h"

enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV };

/* One run: n outputs from a (step sa) and b (step sb), steps 0 or 1. */
typedef void (*binary_fn)(int64_t n, const void *a, int64_t sa, const void *b, int64_t sb, void *o);

#define DEF_ARITH(NAME, T, EXPR)                                                               \
    static void NAME(int64_t n, const void *va, int64_t sa, const void *vb, int64_t sb, void *vo) { \
        const T *a = va, *b = vb;                                                              \
        T *o = vo;                                                                             \
        if (sa == 1 && sb == 1) {                                                              \
            for (int64_t i = 0; i < n; i++) { T x = a[i], y = b[i]; o[i] = (T)(EXPR); }        \
        } else if (sa == 1) {                                                                  \
            T y = b[0];                                                                        \
            for (int64_t i = 0; i < n; i++) { T x = a[i]; o[i] = (T)(EXPR); }                  \
        } else if (sb == 1) {                                                                  \
            T x = a[0];                                                                        \
            for (int64_t i = 0; i < n; i++) { T y = b[i]; o[i] = (T)(EXPR); }                  \
        } else {                                                                               \
            T x = a[0], y = b[0];                                                              \
            for (int64_t i = 0; i < n; i++) o[i] = (T)(EXPR);                                  \
        }                                                                                      \
    }

/* Signed integer division: callers reject y == 0 first; INT_MIN / -1 wraps like two's complement. */
#define SDIV(T) (y == -1 ? (T)(0 - (uint64_t)x) : (T)(x / y))

#define DEF_FAMILY(SUF, T)                          \
    DEF_ARITH(add_##SUF, T, x + y)                  \
    DEF_ARITH(sub_##SUF, T, x - y)                  \
    DEF_ARITH(mul_##SUF, T, x * y)

/* Signed integers are computed in unsigned arithmetic so overflow wraps without UB. */
#define DEF_SIGNED(SUF, T, U)                                        \
    DEF_ARITH(add_##SUF, T, (T)((U)x + (U)y))                        \
    DEF_ARITH(sub_##SUF, T, (T)((U)x - (U)y))                        \
    DEF_ARITH(mul_##SUF, T, (T)((U)x * (U)y))                        \
    DEF_ARITH(div_##SUF, T, SDIV(T))

DEF_FAMILY(f32, float)
DEF_ARITH(div_f32, float, x / y)
DEF_FAMILY(f64, double)
DEF_ARITH(div_f64, double, x / y)
DEF_SIGNED(s8, int8_t, uint8_t)
DEF_SIGNED(s16, int16_t, uint16_t)
DEF_SIGNED(s32, int32_t, uint32_t)
DEF_SIGNED(s64, int64_t, uint64_t)
/* Unsigned: computed in uint64_t so small types never promote to a signed int that overflows. */
#define DEF_UNSIGNED(SUF, T)                                 \
    DEF_ARITH(add_##SUF, T, (uint64_t)x + (uint64_t)y)       \
    DEF_ARITH(sub_##SUF, T, (uint64_t)x - (uint64_t)y)       \
    DEF_ARITH(mul_##SUF, T, (uint64_t)x * (uint64_t)y)       \
    DEF_ARITH(div_##SUF, T, (uint64_t)x / (uint64_t)y)
DEF_UNSIGNED(u8, uint8_t)
DEF_UNSIGNED(u16, uint16_t)
DEF_UNSIGNED(u32, uint32_t)
DEF_UNSIGNED(u64, uint64_t)

/* 16-bit floats: widen, compute in float, round back. */
#define DEF_HALF(NAME, TO, FROM, EXPR)                                                         \
    static void NAME(int64_t n, const void *va, int64_t sa, const void *vb, int64_t sb, void *vo) { \
        const uint16_t *a = va, *b = vb;                                                       \
        uint16_t *o = vo;                                                                      \
        for (int64_t i = 0; i < n; i++) {                                                      \
            float x = TO(a[i * sa]), y = TO(b[i * sb]);                                        \
            o[i] = FROM(EXPR);                                                                 \
        }                                                                                      \
    }
DEF_HALF(add_f16, kiln_f16_to_f32, kiln_f32_to_f16, x + y)
DEF_HALF(sub_f16, kiln_f16_to_f32, kiln_f32_to_f16, x - y)
DEF_HALF(mul_f16, kiln_f16_to_f32, kiln_f32_to_f16, x * y)
DEF_HALF(div_f16, kiln_f16_to_f32, kiln_f32_to_f16, x / y)
DEF_HALF(add_bf16, kiln_bf16_to_f32, kiln_f32_to_bf16, x + y)
DEF_HALF(sub_bf16, kiln_bf16_to_f32, kiln_f32_to_bf16, x - y)
DEF_HALF(mul_bf16, kiln_bf16_to_f32, kiln_f32_to_bf16, x * y)
DEF_HALF(div_bf16, kiln_bf16_to_f32, kiln_f32_to_bf16, x / y)

#define ROW(SUF) {add_##SUF, sub_##SUF, mul_##SUF, div_##SUF}

static binary_fn pick(int32_t dtype, int op) {
    static const binary_fn f32[4] = ROW(f32), f64[4] = ROW(f64), s8[4] = ROW(s8), s16[4] = ROW(s16),
                           s32[4] = ROW(s32), s64[4] = ROW(s64), u8[4] = ROW(u8), u16[4] = ROW(u16),
                           u32[4] = ROW(u32), u64[4] = ROW(u64), f16[4] = ROW(f16), bf16[4] = ROW(bf16);
    switch (dtype) {
    case KILN_DTYPE_FLOAT: return f32[op];
    case KILN_DTYPE_DOUBLE: return f64[op];
    case KILN_DTYPE_INT8: return s8[op];
    case KILN_DTYPE_INT16: return s16[op];
    case KILN_DTYPE_INT32: return s32[op];
    case KILN_DTYPE_INT64: return s64[op];
    case KILN_DTYPE_UINT8: return u8[op];
    case KILN_DTYPE_UINT16: return u16[op];
    case KILN_DTYPE_UINT32: return u32[op];
    case KILN_DTYPE_UINT64: return u64[op];
    case KILN_DTYPE_FLOAT16: return f16[op];
    case KILN_DTYPE_BFLOAT16: return bf16[op];
    default: return NULL;
    }
}

typedef struct binary_kernel {
    cpu_kernel base;
    binary_fn fn;
    size_t esize;
    int int_div;          /* integer Div: reject zero divisors */
} binary_kernel;

typedef struct binary_job {
    const binary_kernel *k;
    cpu_bcast bc;
    const char *a, *b;
    char *o;
} binary_job;

static void binary_range(void *arg, size_t begin, size_t end) {
    const binary_job *j = arg;
    size_t es = j->k->esize;
    int64_t off[2];
    for (size_t r = begin; r < end; r++) {
        cpu_bcast_offsets(&j->bc, (int64_t)r, off);
        j->k->fn(j->bc.inner, j->a + (size_t)off[0] * es, j->bc.strides[0][j->bc.rank - 1],
                 j->b + (size_t)off[1] * es, j->bc.strides[1][j->bc.rank - 1], j->o + r * (size_t)j->bc.inner * es);
    }
}

static int has_zero(const kiln_value_desc *d, size_t es) {
    static const unsigned char zero[8];
    const unsigned char *p = d->data;
    for (uint64_t i = 0; i < d->count; i++)
        if (memcmp(p + i * es, zero, es) == 0) return 1;
    return 0;
}

static kiln_status binary_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const binary_kernel *k = (const binary_kernel *)base;
    const kiln_value_desc *in[2] = {cpu_in(ctx, 0), cpu_in(ctx, 1)};
    kiln_value_desc *out = ctx->outputs[0];
    if (k->int_div && has_zero(in[1], k->esize))
        return cpu_fail(err, KILN_ERR_SHAPE, "integer division by zero");
    binary_job j = {k, {0}, in[0]->data, in[1]->data, out->data};
    cpu_bcast_init(&j.bc, 2, in, out);
    size_t grain = j.bc.inner >= 4096 ? 1 : (size_t)(4096 / (j.bc.inner ? j.bc.inner : 1));
    cpu_parallel_for(ctx, (size_t)j.bc.outer, grain, binary_range, &j);
    return KILN_OK;
}

kiln_status kiln_cpu_binary(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int op = cpu_op_is(n, "Add") ? OP_ADD : cpu_op_is(n, "Sub") ? OP_SUB : cpu_op_is(n, "Mul") ? OP_MUL : OP_DIV;
    int32_t dt = cpu_input_dtype(n, 0);
    binary_fn fn = pick(dt, op);
    if (!fn) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "%s is not implemented for %s", n->op_type, cpu_dtype_name(dt));
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(binary_kernel), binary_compute, out, err));
    binary_kernel *k = (binary_kernel *)*out;
    k->fn = fn;
    k->esize = cpu_dtype_size(dt);
    k->int_div = op == OP_DIV && dt != KILN_DTYPE_FLOAT && dt != KILN_DTYPE_DOUBLE && dt != KILN_DTYPE_FLOAT16 &&
                 dt != KILN_DTYPE_BFLOAT16;
    return KILN_OK;
}
