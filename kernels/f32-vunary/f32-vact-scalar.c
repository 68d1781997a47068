/* SPDX-License-Identifier: MIT */
/* Elementwise activations of the fused epilogue (docs/kernels.md §4, §7): the piecewise-linear
 * ones here, Sigmoid/Tanh/Gelu through the vectorized kernels of kernels/f32-vmath for this CPU
 * (bounds in f32-vmath.h); NaN propagates. */
#include <math.h>

#include "kernels/f32-vmath/f32-vmath.h"

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
        kiln_f32_vmath()->sigmoid(n, x, y);
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
        kiln_f32_vmath()->tanh(n, x, y);
        return;
    case KILN_ACT_GELU:
        kiln_f32_vmath()->gelu(n, x, y);
        return;
    case KILN_ACT_GELU_TANH:
        kiln_f32_vmath()->gelu_tanh(n, x, y);
        return;
    default:
        if (x != y)
            for (size_t i = 0; i < n; i++) y[i] = x[i];
        return;
    }
}
