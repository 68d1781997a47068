/* SPDX-License-Identifier: MIT */
/* Vectorized float32 math (docs/vmath.md): elementwise exp, tanh, sigmoid, erf, GELU (erf and tanh
 * forms), and the row kernels of Softmax, LogSoftmax and LayerNormalization (plain, RMS, and the
 * Skip/Bias sum of kiln.SkipLayerNormalization). One template (f32-vmath-tmpl.h) instantiated per
 * ISA: avx512f (16 lanes, masked tails), avx2 (AVX2+FMA, 8 lanes), scalar; each ISA file in its own
 * static library built with its flags. kiln_f32_vmath() picks the table for kiln_cpu()'s level.
 *
 * Accuracy against the exact function of the float input (asserted by tests/kernels/test_vmath.c
 * over dense sweeps and edge inputs at every ISA level; see docs/vmath.md for the measured maxima):
 *   exp <= 2 ulp, sigmoid <= 3 ulp, tanh <= 3 ulp, erf <= 4 ulp, GELU (erf form) <= 8 ulp,
 *   GELU (tanh form) <= 4 + 4 |w| ulp, w = 2 sqrt(2/pi) (x + 0.044715 x^3) (the float rounding of w,
 *   which the spec's formula itself has, is amplified by |w| in the negative tail).
 * Results that are subnormal have the same bound in units of the smallest subnormal. NaN in gives
 * NaN out; +-inf give the function's limits (GELU(-inf) = -0, its limit).
 * The row kernels take n >= 1; x and y may be the same buffer. */
#ifndef KILN_KERNELS_F32_VMATH_H
#define KILN_KERNELS_F32_VMATH_H

#include <stddef.h>

typedef void (*kiln_f32_vunary_fn)(size_t n, const float *x, float *y);

/* One LayerNormalization row of n elements: v = x (+ skip + bias when skip is set; v is written
 * to sum when sum is set), mean = mean(v) (0 with rms), var = mean((v - mean)^2),
 * inv = 1 / sqrt(var + eps), y = (v - mean) * inv * gamma + beta (beta may be NULL).
 * Statistics accumulate in float per block of 256 elements and in double across blocks. */
typedef struct kiln_f32_lnorm_row {
    const float *x, *skip, *bias, *gamma, *beta;
    float *y, *sum;
    size_t n;
    float eps;
    int rms;
} kiln_f32_lnorm_row;

typedef struct kiln_f32_vmath_ops {
    const char *isa;
    kiln_f32_vunary_fn exp, tanh, sigmoid, erf, gelu, gelu_tanh;
    /* y = x * sigmoid(alpha x) */
    void (*swish)(size_t n, const float *x, float *y, float alpha);
    /* softmax / log-softmax of one contiguous row: max, then e = exp(x - max) and its sum (stored
     * in y for softmax), then y = e / sum or y = (x - max) - log(sum). */
    void (*softmax)(size_t n, const float *x, float *y);
    void (*logsoftmax)(size_t n, const float *x, float *y);
    /* mean and inv (1 / sqrt(var + eps)) of the row are returned through the pointers. */
    void (*layernorm)(const kiln_f32_lnorm_row *r, double *mean, double *inv);
} kiln_f32_vmath_ops;

/* The table for the current level (KILN_CPU_ISA cap applied); cheap, call it per op run. */
const kiln_f32_vmath_ops *kiln_f32_vmath(void);

extern const kiln_f32_vmath_ops kiln_f32_vmath__scalar;
extern const kiln_f32_vmath_ops kiln_f32_vmath__avx2;
extern const kiln_f32_vmath_ops kiln_f32_vmath__avx512f;

#endif
