/* SPDX-License-Identifier: MIT */
/* Per-tensor conversions between float32 and 8-bit quantized values, the QuantizeLinear and
 * DequantizeLinear of quantized models:
 *   quantize:   y = sat(rne(x / scale) + zp), clamping x / scale to [lo - zp, hi - zp] first
 *               (NaN to the low bound), [lo, hi] = [0, 255] (u8) or [-128, 127] (s8);
 *   dequantize: y = (float(x) - zp) * scale.
 * Division (not a multiply by 1 / scale) as the ONNX spec writes it; every variant gives the
 * scalar one's bits. Variants: scalar, avx2, avx512 (each in its own file and static library). */
#ifndef KILN_KERNELS_Q8_VCVT_H
#define KILN_KERNELS_Q8_VCVT_H

#include <stddef.h>
#include <stdint.h>

/* min and max of x[0..n) folded into *mn and *mx as `x < mn ? x : mn` and `x > mx ? x : mx`
 * do (NaN never taken), the range DynamicQuantizeLinear needs. */
void kiln_f32_minmax__scalar(size_t n, const float *x, float *mn, float *mx);
void kiln_f32_minmax__avx2(size_t n, const float *x, float *mn, float *mx);
void kiln_f32_minmax__avx512(size_t n, const float *x, float *mn, float *mx);

typedef void (*kiln_f32_q8_vcvt_fn)(size_t n, const float *x, float scale, int32_t zp, int s8, void *y);
typedef void (*kiln_q8_f32_vcvt_fn)(size_t n, const void *x, int s8, float scale, float zp, float *y);

void kiln_f32_q8_vcvt__scalar(size_t n, const float *x, float scale, int32_t zp, int s8, void *y);
void kiln_f32_q8_vcvt__avx2(size_t n, const float *x, float scale, int32_t zp, int s8, void *y);
void kiln_f32_q8_vcvt__avx512(size_t n, const float *x, float scale, int32_t zp, int s8, void *y);
void kiln_q8_f32_vcvt__scalar(size_t n, const void *x, int s8, float scale, float zp, float *y);
void kiln_q8_f32_vcvt__avx2(size_t n, const void *x, int s8, float scale, float zp, float *y);
void kiln_q8_f32_vcvt__avx512(size_t n, const void *x, int s8, float scale, float zp, float *y);

#endif
