/* SPDX-License-Identifier: MIT */
/* What the elementwise op files share: contiguous maps and broadcast zips run in parallel
 * chunks, float16/bfloat16 operands widened to float32 per chunk, dtype classes, and the
 * defined float → integer conversion Kiln uses wherever the spec leaves out-of-range open. */
#ifndef KILN_CPU_ELEMENTWISE_H
#define KILN_CPU_ELEMENTWISE_H

#include <math.h>
#include <stdint.h>

#include "providers/cpu/cpu_op.h"

/* y[i] = f(x[i]) for i < n over contiguous elements; p: the op's parameters (may be NULL). */
typedef void (*cpu_ew_map)(const void *x, void *y, size_t n, const void *p);

/* One run of a broadcast zip: o[i] = f(a[i * sa], b[i * sb]) for i < n, steps 0 or 1. */
typedef void (*cpu_ew_zip)(size_t n, const void *a, size_t sa, const void *b, size_t sb, void *o, const void *p);

/* How a map or zip stores its operands. `e*` are bytes per element as stored; `h*` is
 * KILN_DTYPE_FLOAT16 or KILN_DTYPE_BFLOAT16 when that operand is a 16-bit float the function
 * sees widened to float32 (then it reads or writes `float`), else 0. */
typedef struct cpu_ew_spec {
    size_t ea, eb, eo;
    int32_t ha, hb, ho;
} cpu_ew_spec;

/* Runs f over the `count` elements of x into y (same count), in parallel chunks. */
void cpu_ew_map_run(kiln_kernel_ctx *ctx, cpu_ew_map f, const void *p, const cpu_ew_spec *s, const void *x, void *y,
                    uint64_t count);

/* Runs f over out (already sized to the broadcast of a and b, which may have any shape that
 * broadcasts to it). In place is allowed when a or b is out itself. */
void cpu_ew_zip_run(kiln_kernel_ctx *ctx, cpu_ew_zip f, const void *p, const cpu_ew_spec *s, const kiln_value_desc *a,
                    const kiln_value_desc *b, kiln_value_desc *out);

/* Defines zip NAME over a (TA) and b (TB) into TO computing EXPR from x and y (and the
 * parameters p), with a loop per step pair so the contiguous cases vectorize. */
#define CPU_EW_ZIP(NAME, TA, TB, TO, EXPR)                                                                  \
    static void NAME(size_t n, const void *va, size_t sa, const void *vb, size_t sb, void *vo, const void *p) { \
        const TA *a = va;                                                                                   \
        const TB *b = vb;                                                                                   \
        TO *o = vo;                                                                                         \
        (void)p;                                                                                            \
        if (sa && sb) {                                                                                     \
            for (size_t i = 0; i < n; i++) {                                                                \
                TA x = a[i];                                                                                \
                TB y = b[i];                                                                                \
                o[i] = (TO)(EXPR);                                                                          \
            }                                                                                               \
        } else if (sa) {                                                                                    \
            TB y = b[0];                                                                                    \
            for (size_t i = 0; i < n; i++) {                                                                \
                TA x = a[i];                                                                                \
                o[i] = (TO)(EXPR);                                                                          \
            }                                                                                               \
        } else if (sb) {                                                                                    \
            TA x = a[0];                                                                                    \
            for (size_t i = 0; i < n; i++) {                                                                \
                TB y = b[i];                                                                                \
                o[i] = (TO)(EXPR);                                                                          \
            }                                                                                               \
        } else {                                                                                            \
            TA x = a[0];                                                                                    \
            TB y = b[0];                                                                                    \
            TO r = (TO)(EXPR);                                                                              \
            for (size_t i = 0; i < n; i++) o[i] = r;                                                        \
        }                                                                                                   \
    }

/* Spec for one dtype used by every operand: widened when 16-bit float. `eo` is the output's
 * element size (1 for bool outputs), `ho` whether the output is that 16-bit float too. */
cpu_ew_spec cpu_ew_same(int32_t dtype, int bool_out);

/* Legacy (opset < 7) broadcast of Add/Sub/Mul/Div/Pow/And/Or/Xor/Equal/Less/Greater: with
 * broadcast=1 and an `axis`, B's dims line up with A's from that axis. Returns the axis as
 * written (may be negative), or CPU_EW_NUMPY when the node has none (numpy's right alignment
 * then covers the legacy suffix rule). Read once at creation. */
#define CPU_EW_NUMPY INT64_MIN
int64_t cpu_ew_legacy_axis(const cpu_node *n);
/* b as seen under a legacy axis: a view in *view whose dims (stored in dims, A's rank) are b's
 * padded with 1s; b itself for CPU_EW_NUMPY. The shape function has validated the dims. */
const kiln_value_desc *cpu_ew_legacy_b(int64_t axis, const kiln_value_desc *a, const kiln_value_desc *b,
                                       kiln_value_desc *view, int64_t *dims);

static inline int cpu_is_half(int32_t dt) { return dt == KILN_DTYPE_FLOAT16 || dt == KILN_DTYPE_BFLOAT16; }
static inline int cpu_is_float(int32_t dt) {
    return dt == KILN_DTYPE_FLOAT || dt == KILN_DTYPE_DOUBLE || cpu_is_half(dt);
}
static inline int cpu_is_sint(int32_t dt) {
    return dt == KILN_DTYPE_INT8 || dt == KILN_DTYPE_INT16 || dt == KILN_DTYPE_INT32 || dt == KILN_DTYPE_INT64;
}
static inline int cpu_is_uint(int32_t dt) {
    return dt == KILN_DTYPE_UINT8 || dt == KILN_DTYPE_UINT16 || dt == KILN_DTYPE_UINT32 || dt == KILN_DTYPE_UINT64;
}
static inline int cpu_is_int(int32_t dt) { return cpu_is_sint(dt) || cpu_is_uint(dt); }
static inline int cpu_is_numeric(int32_t dt) { return cpu_is_float(dt) || cpu_is_int(dt); }

/* The ten storage lanes of numeric kernels, in the order function tables list them: float32
 * (also float16/bfloat16, widened), float64, int8..int64, uint8..uint64. */
enum { CPU_LANE_F32, CPU_LANE_F64, CPU_LANE_S8, CPU_LANE_S16, CPU_LANE_S32, CPU_LANE_S64, CPU_LANE_U8, CPU_LANE_U16,
       CPU_LANE_U32, CPU_LANE_U64, CPU_LANE_COUNT };
/* A table row of functions per lane: CPU_LANE_TABLE(ROW) expands ROW(f32), ROW(f64), ... */
#define CPU_LANE_TABLE(ROW) {ROW(f32), ROW(f64), ROW(s8), ROW(s16), ROW(s32), ROW(s64), ROW(u8), ROW(u16), ROW(u32), ROW(u64)}
/* The lane of a numeric dtype; -1 for any other. */
static inline int cpu_lane(int32_t dt) {
    switch (dt) {
    case KILN_DTYPE_FLOAT: case KILN_DTYPE_FLOAT16: case KILN_DTYPE_BFLOAT16: return CPU_LANE_F32;
    case KILN_DTYPE_DOUBLE: return CPU_LANE_F64;
    case KILN_DTYPE_INT8: return CPU_LANE_S8;
    case KILN_DTYPE_INT16: return CPU_LANE_S16;
    case KILN_DTYPE_INT32: return CPU_LANE_S32;
    case KILN_DTYPE_INT64: return CPU_LANE_S64;
    case KILN_DTYPE_UINT8: return CPU_LANE_U8;
    case KILN_DTYPE_UINT16: return CPU_LANE_U16;
    case KILN_DTYPE_UINT32: return CPU_LANE_U32;
    case KILN_DTYPE_UINT64: return CPU_LANE_U64;
    default: return -1;
    }
}

/* Float → integer bits as Kiln defines the cases the spec leaves undefined: truncate toward
 * zero, NaN to 0, saturate to the int64 range; the caller keeps the low bits, so a narrower
 * type wraps like a fixed-point cast (300.7 → int8 44, as numpy on values within int64). */
static inline uint64_t cpu_f2bits(double x) {
    if (x != x) return 0;
    if (x >= 9223372036854775808.0) return (uint64_t)INT64_MAX;
    if (x <= -9223372036854775808.0) return (uint64_t)INT64_MIN;
    return (uint64_t)(int64_t)x;
}
/* The same for unsigned targets: values from 2^63 up keep their value (saturating at
 * UINT64_MAX); negative values wrap (-1.0 → 255 for uint8). */
static inline uint64_t cpu_f2ubits(double x) {
    if (x >= 9223372036854775808.0) return x < 18446744073709551616.0 ? (uint64_t)x : UINT64_MAX;
    return cpu_f2bits(x);
}

#endif
