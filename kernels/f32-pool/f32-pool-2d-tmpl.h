/* SPDX-License-Identifier: MIT */
/* Body of the 2-D pooling kernels (f32-pool.h): each ISA file defines POOL_NAME and includes this
 * file, so the same loops are vectorized by the compiler for that file's ISA flags (the vertical
 * pass is contiguous; the horizontal one reads with a constant stride). */
#include <float.h>
#include <math.h>

#include "kernels/f32-pool/f32-pool.h"

#ifndef KILN_POOL_TAPS_DEFINED
#define KILN_POOL_TAPS_DEFINED
/* Taps [lo, hi) of one axis inside the input for a window starting at `start`, and the number
 * inside the input plus its trailing pad (count_include_pad). */
static inline void pool_taps(int64_t start, int64_t k, int64_t d, int64_t in, int64_t pe, int64_t *lo, int64_t *hi,
                             int64_t *padded) {
    *lo = start >= 0 ? 0 : (-start + d - 1) / d;
    *hi = in - start <= 0 ? 0 : (in - start + d - 1) / d;
    if (*hi > k) *hi = k;
    if (*lo > *hi) *lo = *hi;
    int64_t ph = in + pe - start <= 0 ? 0 : (in + pe - start + d - 1) / d;
    *padded = ph > k ? k : ph;
}

/* Width of the padded row: every tap of every output column falls inside. */
static inline int64_t pool_row_width(const kiln_f32_pool_params *p) {
    int64_t need = (p->ow - 1) * p->sw + (p->kw - 1) * p->dw + 1, row = p->pw + p->iw;
    return (need > row ? need : row) + 16;
}
#endif

void POOL_NAME(const kiln_f32_pool_params *p, const float *x, float *work, float *y) {
    const int64_t iw = p->iw, ow = p->ow, kw = p->kw, sw = p->sw, dw = p->dw;
    const int64_t width = pool_row_width(p);
    float *row = work;                      /* the padded row */
    float *scale = work + width;            /* AVG: 1 / divisor of the columns' part, per output column */
    int32_t *wcnt = (int32_t *)(scale + ow); /* per output column: taps inside the input, inside + pads */
    int32_t *wpad = wcnt + ow;
    int max = p->kind == KILN_POOL_MAX;
    float ident = max ? -INFINITY : 0.0f;
    for (int64_t o = 0; o < ow; o++) {
        int64_t lo, hi, pd;
        pool_taps(o * sw - p->pw, kw, dw, iw, p->ew, &lo, &hi, &pd);
        wcnt[o] = (int32_t)(hi - lo);
        wpad[o] = (int32_t)pd;
    }
    for (int64_t i = 0; i < p->pw && i < width; i++) row[i] = ident;
    for (int64_t i = p->pw + iw; i < width; i++) row[i] = ident;
    float *mid = row + p->pw;
    for (int64_t oh = 0; oh < p->oh; oh++) {
        int64_t hs = oh * p->sh - p->ph, h0, h1, hp;
        pool_taps(hs, p->kh, p->dh, p->ih, p->eh, &h0, &h1, &hp);
        float *yr = y + oh * ow;
        if (h0 >= h1) {
            for (int64_t o = 0; o < ow; o++) yr[o] = max ? -FLT_MAX : 0.0f;
            continue;
        }
        /* vertical pass */
        const float *x0 = x + (hs + h0 * p->dh) * iw;
        for (int64_t c = 0; c < iw; c++) mid[c] = x0[c];
        for (int64_t a = h0 + 1; a < h1; a++) {
            const float *xa = x + (hs + a * p->dh) * iw;
            if (max)
                for (int64_t c = 0; c < iw; c++) mid[c] = xa[c] > mid[c] ? xa[c] : mid[c];
            else
                for (int64_t c = 0; c < iw; c++) mid[c] += xa[c];
        }
        /* horizontal pass: output column o reads row[o*sw + b*dw] */
        if (max) {
            for (int64_t o = 0; o < ow; o++) yr[o] = row[o * sw];
            for (int64_t b = 1; b < kw; b++) {
                const float *rb = row + b * dw;
                if (sw == 1)
                    for (int64_t o = 0; o < ow; o++) yr[o] = rb[o] > yr[o] ? rb[o] : yr[o];
                else if (sw == 2)
                    for (int64_t o = 0; o < ow; o++) yr[o] = rb[2 * o] > yr[o] ? rb[2 * o] : yr[o];
                else
                    for (int64_t o = 0; o < ow; o++) yr[o] = rb[o * sw] > yr[o] ? rb[o * sw] : yr[o];
            }
            for (int64_t o = 0; o < ow; o++)
                if (!wcnt[o]) yr[o] = -FLT_MAX;
        } else {
            for (int64_t o = 0; o < ow; o++) yr[o] = row[o * sw];
            for (int64_t b = 1; b < kw; b++) {
                const float *rb = row + b * dw;
                if (sw == 1)
                    for (int64_t o = 0; o < ow; o++) yr[o] += rb[o];
                else if (sw == 2)
                    for (int64_t o = 0; o < ow; o++) yr[o] += rb[2 * o];
                else
                    for (int64_t o = 0; o < ow; o++) yr[o] += rb[o * sw];
            }
            int64_t hcount = p->count_include_pad ? hp : h1 - h0;
            for (int64_t o = 0; o < ow; o++) {
                int64_t div = hcount * (p->count_include_pad ? wpad[o] : wcnt[o]);
                scale[o] = div ? 1.0f / (float)div : 0.0f;
            }
            for (int64_t o = 0; o < ow; o++) yr[o] = scale[o] ? yr[o] * scale[o] : 0.0f;
        }
    }
}
