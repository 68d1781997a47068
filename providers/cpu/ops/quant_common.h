/* SPDX-License-Identifier: MIT */
/* Helpers shared by the quantized ops: element access for the quantized types (integers, float8,
 * and the packed 4- and 2-bit types, first element in the low bits), ranges, rounding of float
 * quotients to nearest even, and scale reading. Header-only. */
#ifndef KILN_CPU_OPS_QUANT_COMMON_H
#define KILN_CPU_OPS_QUANT_COMMON_H

#include <math.h>
#include <stdint.h>

#include "kernels/common/half.h"
#include "kernels/common/minifloat.h"
#include "providers/cpu/cpu_op.h"

static inline int q_is_int(int32_t dt) {
    switch (dt) {
    case KILN_DTYPE_UINT8: case KILN_DTYPE_INT8: case KILN_DTYPE_UINT16: case KILN_DTYPE_INT16:
    case KILN_DTYPE_UINT4: case KILN_DTYPE_INT4: case KILN_DTYPE_UINT2: case KILN_DTYPE_INT2: return 1;
    default: return 0;
    }
}

/* Smallest and largest value of a quantized integer type. */
static inline void q_range(int32_t dt, int32_t *lo, int32_t *hi) {
    switch (dt) {
    case KILN_DTYPE_UINT8: *lo = 0, *hi = 255; break;
    case KILN_DTYPE_INT8: *lo = -128, *hi = 127; break;
    case KILN_DTYPE_UINT16: *lo = 0, *hi = 65535; break;
    case KILN_DTYPE_INT16: *lo = -32768, *hi = 32767; break;
    case KILN_DTYPE_UINT4: *lo = 0, *hi = 15; break;
    case KILN_DTYPE_INT4: *lo = -8, *hi = 7; break;
    case KILN_DTYPE_UINT2: *lo = 0, *hi = 3; break;
    case KILN_DTYPE_INT2: *lo = -2, *hi = 1; break;
    default: *lo = INT32_MIN, *hi = INT32_MAX; break;
    }
}

/* Element i of an integer tensor of type dt (int32 included). */
static inline int32_t q_get(int32_t dt, const void *p, size_t i) {
    const uint8_t *b = p;
    switch (dt) {
    case KILN_DTYPE_UINT8: return b[i];
    case KILN_DTYPE_INT8: return ((const int8_t *)p)[i];
    case KILN_DTYPE_UINT16: return ((const uint16_t *)p)[i];
    case KILN_DTYPE_INT16: return ((const int16_t *)p)[i];
    case KILN_DTYPE_INT32: return ((const int32_t *)p)[i];
    case KILN_DTYPE_UINT4: return (b[i / 2] >> (4 * (i % 2))) & 0xf;
    case KILN_DTYPE_INT4: return (int32_t)(((b[i / 2] >> (4 * (i % 2))) & 0xf) ^ 0x8) - 8;
    case KILN_DTYPE_UINT2: return (b[i / 4] >> (2 * (i % 4))) & 0x3;
    case KILN_DTYPE_INT2: return (int32_t)(((b[i / 4] >> (2 * (i % 4))) & 0x3) ^ 0x2) - 2;
    default: return 0;
    }
}

/* Sets element i (v already in range). Packed types update their bits only. */
static inline void q_set(int32_t dt, void *p, size_t i, int32_t v) {
    uint8_t *b = p;
    switch (dt) {
    case KILN_DTYPE_UINT8: b[i] = (uint8_t)v; break;
    case KILN_DTYPE_INT8: ((int8_t *)p)[i] = (int8_t)v; break;
    case KILN_DTYPE_UINT16: ((uint16_t *)p)[i] = (uint16_t)v; break;
    case KILN_DTYPE_INT16: ((int16_t *)p)[i] = (int16_t)v; break;
    case KILN_DTYPE_INT32: ((int32_t *)p)[i] = v; break;
    case KILN_DTYPE_UINT4: case KILN_DTYPE_INT4: {
        unsigned sh = 4 * (unsigned)(i % 2);
        b[i / 2] = (uint8_t)((b[i / 2] & ~(0xfu << sh)) | (((unsigned)v & 0xfu) << sh));
        break;
    }
    case KILN_DTYPE_UINT2: case KILN_DTYPE_INT2: {
        unsigned sh = 2 * (unsigned)(i % 4);
        b[i / 4] = (uint8_t)((b[i / 4] & ~(0x3u << sh)) | (((unsigned)v & 0x3u) << sh));
        break;
    }
    default: break;
    }
}

/* Round to nearest, ties to even, for |v| < 2^22, without libm: adding and subtracting 1.5 * 2^23
 * leaves the rounded integer (default rounding mode). Vectorizes on baseline x86-64. */
static inline float q_rne(float v) { return (v + 12582912.0f) - 12582912.0f; }

/* Saturates a quotient to [lo, hi] (NaN to lo) and rounds it to nearest even. */
static inline int32_t q_saturate(float q, float zp, int32_t lo, int32_t hi) {
    float v = fminf(fmaxf(q, (float)lo - zp), (float)hi - zp);
    return (int32_t)(q_rne(v) + zp);
}

/* A scale value as float (float, float16, bfloat16, float8e8m0). */
static inline float q_scale(int32_t dt, const void *p, size_t i) {
    switch (dt) {
    case KILN_DTYPE_FLOAT: return ((const float *)p)[i];
    case KILN_DTYPE_FLOAT16: return kiln_f16_to_f32(((const uint16_t *)p)[i]);
    case KILN_DTYPE_BFLOAT16: return kiln_bf16_to_f32(((const uint16_t *)p)[i]);
    case KILN_DTYPE_DOUBLE: return (float)((const double *)p)[i];
    case KILN_DTYPE_FLOAT8E8M0: {
        uint8_t e = ((const uint8_t *)p)[i];
        return e == 0xff ? NAN : ldexpf(1.0f, (int)e - 127);
    }
    default: return 0.0f;
    }
}

static inline int q_scale_type(int32_t dt) {
    return dt == KILN_DTYPE_FLOAT || dt == KILN_DTYPE_FLOAT16 || dt == KILN_DTYPE_BFLOAT16 || dt == KILN_DTYPE_FLOAT8E8M0;
}

/* A scalar (or one-element) scale or zero point; 0 when v is not one. */
static inline int q_is_scalar(const kiln_value_desc *v) { return v && v->count == 1; }

/* ---- float8 and float4 ---- */

static inline const kiln_minifloat *minifloat_of(int32_t dt) {
    switch (dt) {
    case KILN_DTYPE_FLOAT8E4M3FN: return &kiln_mf_e4m3fn;
    case KILN_DTYPE_FLOAT8E4M3FNUZ: return &kiln_mf_e4m3fnuz;
    case KILN_DTYPE_FLOAT8E5M2: return &kiln_mf_e5m2;
    case KILN_DTYPE_FLOAT8E5M2FNUZ: return &kiln_mf_e5m2fnuz;
    case KILN_DTYPE_FLOAT4E2M1: return &kiln_mf_e2m1;
    default: return NULL;
    }
}

/* Element i of a float8 (one per byte) or float4 (two per byte) tensor, decoded. */
static inline float mf_get(int32_t dt, const void *p, size_t i) {
    const uint8_t *b = p;
    uint32_t bits = dt == KILN_DTYPE_FLOAT4E2M1 ? (b[i / 2] >> (4 * (i % 2))) & 0xfu : b[i];
    return (float)kiln_mf_decode(minifloat_of(dt), bits);
}

static inline void mf_set(int32_t dt, void *p, size_t i, uint32_t bits) {
    uint8_t *b = p;
    if (dt == KILN_DTYPE_FLOAT4E2M1) {
        unsigned sh = 4 * (unsigned)(i % 2);
        b[i / 2] = (uint8_t)((b[i / 2] & ~(0xfu << sh)) | ((bits & 0xfu) << sh));
    } else {
        b[i] = (uint8_t)bits;
    }
}

#endif
