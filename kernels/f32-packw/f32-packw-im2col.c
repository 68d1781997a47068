/* SPDX-License-Identifier: MIT */
/* im2col fused into B packing for 2-D convolutions on NCHW data (docs/kernels.md §5): the
 * K x N operand (K = channels x kh x kw, N = output pixels) of the GEMM Y = W . X', written
 * straight into NR-wide panels for the pixels [j0, j1), so the unfolded input never exists in
 * full: a block of it is packed into cache right before the microkernels read it. Each panel
 * row is built from runs of one output row: zeros where the taps fall in the padding, a copy
 * (stride 1) or a strided read in between. */
#include <string.h>

#include "kernels/f32-gemm/f32-gemm.h"

void kiln_f32_packb_im2col(const kiln_f32_gemm_config *cfg, const float *x, const kiln_f32_conv2d_geom *g,
                           size_t j0, size_t j1, float *out) {
    size_t nr = cfg->nr, n = j1 - j0, panels = (n + nr - 1) / nr;
    size_t k = (size_t)(g->channels * g->kh * g->kw);
    for (size_t t = 0; t < panels; t++) {
        float *o = out + t * k * nr;
        size_t p0 = j0 + t * nr, cols = j1 - p0 < nr ? j1 - p0 : nr;
        size_t row = 0;
        for (int64_t c = 0; c < g->channels; c++) {
            const float *xc = x + c * g->ih * g->iw;
            for (int64_t a = 0; a < g->kh; a++)
                for (int64_t b = 0; b < g->kw; b++, row++) {
                    float *dst = o + row * nr;
                    size_t q = 0;
                    while (q < cols) {
                        size_t pix = p0 + q;
                        int64_t oh = (int64_t)pix / g->ow, ow = (int64_t)pix % g->ow;
                        size_t run = (size_t)(g->ow - ow);
                        if (run > cols - q) run = cols - q;
                        int64_t ih = oh * g->sh - g->ph + a * g->dh;
                        if (ih < 0 || ih >= g->ih) {
                            memset(dst + q, 0, run * sizeof(float));
                        } else {
                            const float *xr = xc + ih * g->iw;
                            int64_t base = ow * g->sw - g->pw + b * g->dw, sw = g->sw;
                            /* taps e in [lo, hi) fall inside the row: base + e*sw in [0, iw) */
                            int64_t lo = base >= 0 ? 0 : (-base + sw - 1) / sw;
                            int64_t hi = g->iw - base <= 0 ? 0 : (g->iw - base + sw - 1) / sw;
                            if (lo > (int64_t)run) lo = (int64_t)run;
                            if (hi > (int64_t)run) hi = (int64_t)run;
                            if (hi < lo) hi = lo;
                            float *d = dst + q;
                            for (int64_t e = 0; e < lo; e++) d[e] = 0.0f;
                            if (sw == 1) memcpy(d + lo, xr + base + lo, (size_t)(hi - lo) * sizeof(float));
                            else
                                for (int64_t e = lo; e < hi; e++) d[e] = xr[base + e * sw];
                            for (int64_t e = hi; e < (int64_t)run; e++) d[e] = 0.0f;
                        }
                        q += run;
                    }
                    for (size_t e = cols; e < nr; e++) dst[e] = 0.0f;
                }
        }
    }
}
