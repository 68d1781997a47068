/* SPDX-License-Identifier: MIT */
/* Body of the depthwise kernels: each ISA file defines DW_NAME and DW_ROW(p, r, k, bias, yr), which
 * computes one output row from kh padded input rows (r[a][o*sw + b*dw] is the tap (a, b) of
 * output o, always inside the padded row). This part pads the plane and walks the rows. */
#include <string.h>

#include "kernels/common/activation.h"
#include "kernels/f32-dwconv/f32-dwconv.h"

#ifndef DW_PAD_WIDTH_DEFINED
#define DW_PAD_WIDTH_DEFINED
/* Width of a padded row: the left pad, the row, and room for the last vector's reads. */
static inline int64_t dw_padded_width(const kiln_f32_dwconv_params *p) {
    int64_t need = (p->ow + 16) * p->sw + (p->kw - 1) * p->dw + 32;
    int64_t row = p->pw + p->iw + 32;
    return need > row ? need : row;
}
#endif

void DW_NAME(const kiln_f32_dwconv_params *p, const float *x, const float *k, float bias, float *work, float *y) {
    int64_t wp = dw_padded_width(p);
    float *zero = work, *plane = work + wp;
    memset(zero, 0, (size_t)wp * sizeof(float));
    for (int64_t i = 0; i < p->ih; i++) {
        float *row = plane + i * wp;
        memset(row, 0, (size_t)p->pw * sizeof(float));
        memcpy(row + p->pw, x + i * p->iw, (size_t)p->iw * sizeof(float));
        memset(row + p->pw + p->iw, 0, (size_t)(wp - p->pw - p->iw) * sizeof(float));
    }
    const float *r[64];
    for (int64_t oh = 0; oh < p->oh; oh++) {
        for (int64_t a = 0; a < p->kh && a < 64; a++) {
            int64_t ih = oh * p->sh - p->ph + a * p->dh;
            r[a] = ih >= 0 && ih < p->ih ? plane + ih * wp : zero;
        }
        DW_ROW(p, r, k, bias, y + oh * p->ow);
    }
}
