/* SPDX-License-Identifier: MIT */
/* Conversions between the floating types and float32 buffers, for ops that compute float16,
 * bfloat16 and double in float32 (convolutions, GEMM-based ops). Header-only. */
#ifndef KILN_CPU_OPS_F32_IO_H
#define KILN_CPU_OPS_F32_IO_H

#include <string.h>

#include "kernels/common/half.h"
#include "providers/cpu/cpu_op.h"

static inline int f32_io_supported(int32_t dt) {
    return dt == KILN_DTYPE_FLOAT || dt == KILN_DTYPE_FLOAT16 || dt == KILN_DTYPE_BFLOAT16 || dt == KILN_DTYPE_DOUBLE;
}

/* dst[i] = (float)src[i] for n elements of dtype dt. */
static inline void f32_load(int32_t dt, const void *src, float *dst, size_t n) {
    switch (dt) {
    case KILN_DTYPE_FLOAT: memcpy(dst, src, n * sizeof(float)); break;
    case KILN_DTYPE_DOUBLE:
        for (size_t i = 0; i < n; i++) dst[i] = (float)((const double *)src)[i];
        break;
    case KILN_DTYPE_FLOAT16:
        for (size_t i = 0; i < n; i++) dst[i] = kiln_f16_to_f32(((const uint16_t *)src)[i]);
        break;
    case KILN_DTYPE_BFLOAT16:
        for (size_t i = 0; i < n; i++) dst[i] = kiln_bf16_to_f32(((const uint16_t *)src)[i]);
        break;
    default: break;
    }
}

/* dst[i] = src[i] rounded to dtype dt, for n elements. */
static inline void f32_store(int32_t dt, const float *src, void *dst, size_t n) {
    switch (dt) {
    case KILN_DTYPE_FLOAT: memcpy(dst, src, n * sizeof(float)); break;
    case KILN_DTYPE_DOUBLE:
        for (size_t i = 0; i < n; i++) ((double *)dst)[i] = src[i];
        break;
    case KILN_DTYPE_FLOAT16:
        for (size_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = kiln_f32_to_f16(src[i]);
        break;
    case KILN_DTYPE_BFLOAT16:
        for (size_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = kiln_f32_to_bf16(src[i]);
        break;
    default: break;
    }
}

/* A float32 view of tensor `v`: its own data for float32, else a converted copy in scratch.
 * NULL when scratch runs out. */
static inline const float *f32_view(kiln_kernel_ctx *ctx, const kiln_value_desc *v) {
    if (v->dtype == KILN_DTYPE_FLOAT) return v->data;
    float *buf = ctx->host->scratch(ctx, (size_t)v->count * sizeof(float) + 1);
    if (buf) f32_load(v->dtype, v->data, buf, (size_t)v->count);
    return buf;
}

/* Where a kernel writes a float32 result for output `v`: its own data for float32, else
 * scratch that f32_commit converts into `v`. */
static inline float *f32_out(kiln_kernel_ctx *ctx, kiln_value_desc *v) {
    if (v->dtype == KILN_DTYPE_FLOAT) return v->data;
    return ctx->host->scratch(ctx, (size_t)v->count * sizeof(float) + 1);
}

static inline void f32_commit(kiln_value_desc *v, const float *buf) {
    if (v->dtype != KILN_DTYPE_FLOAT) f32_store(v->dtype, buf, v->data, (size_t)v->count);
}

#endif
