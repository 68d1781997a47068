/* SPDX-License-Identifier: MIT */
/* Implicit-GEMM convolution microkernel (f32-conv.h), 4 x 8 tile, portable C. Every product is
 * summed: no value is skipped, so Inf and NaN propagate. */
#include "kernels/f32-conv/f32-conv.h"

#define MR 4
#define NR 8

static inline float act_reg(float v, const kiln_f32_epilogue *ep) {
    switch (ep->act) {
    case KILN_ACT_RELU: return v > 0.0f ? v : (v == v ? 0.0f : v);
    case KILN_ACT_LEAKYRELU: return v >= 0.0f ? v : v * ep->p0;
    case KILN_ACT_CLIP: return v < ep->p0 ? ep->p0 : (v > ep->p1 ? ep->p1 : v);
    default: return v;
    }
}

static inline void tile(size_t rows, size_t nr, size_t cs, size_t taps, const float *a, const float *x, size_t plane,
                        const size_t *off, float *c, size_t ldc, uint32_t flags, const kiln_f32_epilogue *ep) {
    float acc[MR][NR] = {{0}};
    size_t nn = nr < NR ? nr : NR;
    for (size_t ch = 0; ch < cs; ch++, x += plane)
        for (size_t t = 0; t < taps; t++, a += MR) {
            const float *bp = x + off[t];
            float bv[NR];
            for (size_t j = 0; j < NR; j++) bv[j] = j < nn ? bp[j] : 0.0f;
            for (size_t i = 0; i < rows; i++)
                for (size_t j = 0; j < NR; j++) acc[i][j] += a[i] * bv[j];
        }
    for (size_t i = 0; i < rows; i++) {
        float *ci = c + i * ldc;
        for (size_t j = 0; j < nn; j++) {
            float v = acc[i][j];
            if (flags & KILN_GEMM_ACCUMULATE) v += ci[j];
            if (flags & KILN_GEMM_EPILOGUE) {
                if (ep->bias) v += ep->bias[i];
                if (ep->residual) v += ep->residual[i * ep->ld_residual + j];
                v = act_reg(v, ep);
            }
            ci[j] = v;
        }
    }
}

#define UK(R)                                                                                                     \
    static void uk_##R(size_t nr, size_t cs, size_t taps, const float *a, const float *x, size_t plane,           \
                       const size_t *off, float *c, size_t ldc, uint32_t flags, const kiln_f32_epilogue *ep) {     \
        tile(R, nr, cs, taps, a, x, plane, off, c, ldc, flags, ep);                                               \
    }
UK(1)
UK(2)
UK(3)
UK(4)

const kiln_f32_conv_ukernel_fn kiln_f32_conv_ukernels_4x8__scalar[KILN_GEMM_MAX_MR + 1] = {NULL, uk_1, uk_2, uk_3, uk_4};
