/* SPDX-License-Identifier: MIT */
/* Elementwise activations of the fused epilogue (docs/kernels.md §4, §7), portable: libm's
 * expf/tanhf/erff, so each is within libm's bound (about 1 ulp) of the exact function, and NaN
 * propagates. The vectorized polynomial versions replace these per ISA when they exist. */
#include <math.h>

#include "kernels/f32-gemm/f32-gemm.h"

static inline float clampf(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

void kiln_f32_vact(size_t n, const float *x, float *y, int32_t act, float p0, float p1) {
    switch (act) {
    case KILN_ACT_RELU:
        for (size_t i = 0; i < n; i++) y[i] = x[i] < 0.0f ? 0.0f : x[i];
        return;
    case KILN_ACT_LEAKYRELU:
        for (size_t i = 0; i < n; i++) y[i] = x[i] < 0.0f ? x[i] * p0 : x[i];
        return;
    case KILN_ACT_CLIP:
        for (size_t i = 0; i < n; i++) y[i] = clampf(x[i], p0, p1);
        return;
    case KILN_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++) {
            float v = x[i];
            /* e^-|v| never overflows; the two branches are the same function. */
            float e = expf(-fabsf(v));
            y[i] = v >= 0.0f ? 1.0f / (1.0f + e) : (v < 0.0f ? e / (1.0f + e) : v);
        }
        return;
    case KILN_ACT_HARDSIGMOID:
        for (size_t i = 0; i < n; i++) {
            float v = p0 * x[i] + p1;
            y[i] = v != v ? v : clampf(v, 0.0f, 1.0f);
        }
        return;
    case KILN_ACT_HARDSWISH:
        for (size_t i = 0; i < n; i++) {
            float v = x[i] / 6.0f + 0.5f;
            y[i] = x[i] * (v != v ? v : clampf(v, 0.0f, 1.0f));
        }
        return;
    case KILN_ACT_TANH:
        for (size_t i = 0; i < n; i++) y[i] = tanhf(x[i]);
        return;
    case KILN_ACT_GELU:
        for (size_t i = 0; i < n; i++) y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
        return;
    case KILN_ACT_GELU_TANH:
        for (size_t i = 0; i < n; i++) {
            float v = x[i];
            y[i] = 0.5f * v * (1.0f + tanhf(0.79788456080286536f * (v + 0.044715f * v * v * v)));
        }
        return;
    default:
        if (x != y)
            for (size_t i = 0; i < n; i++) y[i] = x[i];
        return;
    }
}
