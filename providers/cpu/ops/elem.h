/* SPDX-License-Identifier: MIT */
/* Reading and writing single numeric elements of any plain dtype as double, for the indexing
 * and generator ops whose work is per element rather than a hot loop (Range, EyeLike, OneHot,
 * Trilu's constants...). float16/bfloat16 round to nearest even. */
#ifndef KILN_CPU_OPS_ELEM_H
#define KILN_CPU_OPS_ELEM_H

#include <stdint.h>

#include "kernels/common/half.h"
#include "kiln_types.h"

/* 1 for the dtypes cpu_load_f64/cpu_store_f64 handle. */
static inline int cpu_elem_numeric(int32_t dt) {
    switch (dt) {
    case KILN_DTYPE_FLOAT: case KILN_DTYPE_DOUBLE: case KILN_DTYPE_FLOAT16: case KILN_DTYPE_BFLOAT16:
    case KILN_DTYPE_INT8: case KILN_DTYPE_INT16: case KILN_DTYPE_INT32: case KILN_DTYPE_INT64:
    case KILN_DTYPE_UINT8: case KILN_DTYPE_UINT16: case KILN_DTYPE_UINT32: case KILN_DTYPE_UINT64:
    case KILN_DTYPE_BOOL: return 1;
    default: return 0;
    }
}

static inline double cpu_load_f64(const void *p, int32_t dt, int64_t i) {
    switch (dt) {
    case KILN_DTYPE_FLOAT: return ((const float *)p)[i];
    case KILN_DTYPE_DOUBLE: return ((const double *)p)[i];
    case KILN_DTYPE_FLOAT16: return kiln_f16_to_f32(((const uint16_t *)p)[i]);
    case KILN_DTYPE_BFLOAT16: return kiln_bf16_to_f32(((const uint16_t *)p)[i]);
    case KILN_DTYPE_INT8: return ((const int8_t *)p)[i];
    case KILN_DTYPE_INT16: return ((const int16_t *)p)[i];
    case KILN_DTYPE_INT32: return ((const int32_t *)p)[i];
    case KILN_DTYPE_INT64: return (double)((const int64_t *)p)[i];
    case KILN_DTYPE_UINT8: case KILN_DTYPE_BOOL: return ((const uint8_t *)p)[i];
    case KILN_DTYPE_UINT16: return ((const uint16_t *)p)[i];
    case KILN_DTYPE_UINT32: return ((const uint32_t *)p)[i];
    case KILN_DTYPE_UINT64: return (double)((const uint64_t *)p)[i];
    default: return 0;
    }
}

/* Integer targets saturate (NaN stores 0) so hostile values never hit undefined conversions. */
static inline int64_t cpu_f64_to_i64(double v, double lo, double hi) {
    if (!(v == v)) return 0;
    return v <= lo ? (int64_t)lo : v >= hi ? (int64_t)hi : (int64_t)v;
}

static inline void cpu_store_f64(void *p, int32_t dt, int64_t i, double v) {
    switch (dt) {
    case KILN_DTYPE_FLOAT: ((float *)p)[i] = (float)v; break;
    case KILN_DTYPE_DOUBLE: ((double *)p)[i] = v; break;
    case KILN_DTYPE_FLOAT16: ((uint16_t *)p)[i] = kiln_f32_to_f16((float)v); break;
    case KILN_DTYPE_BFLOAT16: ((uint16_t *)p)[i] = kiln_f32_to_bf16((float)v); break;
    case KILN_DTYPE_INT8: ((int8_t *)p)[i] = (int8_t)cpu_f64_to_i64(v, -128, 127); break;
    case KILN_DTYPE_INT16: ((int16_t *)p)[i] = (int16_t)cpu_f64_to_i64(v, -32768, 32767); break;
    case KILN_DTYPE_INT32: ((int32_t *)p)[i] = (int32_t)cpu_f64_to_i64(v, -2147483648.0, 2147483647.0); break;
    case KILN_DTYPE_INT64: ((int64_t *)p)[i] = cpu_f64_to_i64(v, -9223372036854775808.0, 9223372036854774784.0); break;
    case KILN_DTYPE_UINT8: ((uint8_t *)p)[i] = (uint8_t)cpu_f64_to_i64(v, 0, 255); break;
    case KILN_DTYPE_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    case KILN_DTYPE_UINT16: ((uint16_t *)p)[i] = (uint16_t)cpu_f64_to_i64(v, 0, 65535); break;
    case KILN_DTYPE_UINT32: ((uint32_t *)p)[i] = (uint32_t)cpu_f64_to_i64(v, 0, 4294967295.0); break;
    case KILN_DTYPE_UINT64:
        ((uint64_t *)p)[i] = !(v > 0) ? 0 : v >= 18446744073709549568.0 ? UINT64_MAX : (uint64_t)v;
        break;
    default: break;
    }
}

/* Integer element i of an int32/int64 index tensor. */
static inline int64_t cpu_index_at(const void *p, int32_t dt, int64_t i) {
    return dt == KILN_DTYPE_INT64 ? ((const int64_t *)p)[i] : ((const int32_t *)p)[i];
}

#endif
