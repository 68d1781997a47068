/* SPDX-License-Identifier: MIT */
/* Depthwise 2-D convolution, portable: f32-dwconv-tmpl.h with a plain row loop. Also the work
 * size every variant shares. */
#include "kernels/common/activation.h"
#include "kernels/f32-dwconv/f32-dwconv.h"

static inline float clamp_act(float v, const kiln_f32_dwconv_params *p) {
    switch (p->act) {
    case KILN_ACT_RELU: return v < 0.0f ? 0.0f : v;
    case KILN_ACT_CLIP: return v < p->p0 ? p->p0 : (v > p->p1 ? p->p1 : v);
    case KILN_ACT_LEAKYRELU: return v < 0.0f ? v * p->p0 : v;
    default: return v;
    }
}

static void row_scalar(const kiln_f32_dwconv_params *p, const float *const *r, const float *k, float bias, float *yr) {
    for (int64_t o = 0; o < p->ow; o++) {
        float acc = bias;
        for (int64_t a = 0; a < p->kh; a++)
            for (int64_t b = 0; b < p->kw; b++) acc += k[a * p->kw + b] * r[a][o * p->sw + b * p->dw];
        yr[o] = clamp_act(acc, p);
    }
}

#define DW_NAME kiln_f32_dwconv2d__scalar
#define DW_ROW row_scalar
#include "kernels/f32-dwconv/f32-dwconv-tmpl.h"

size_t kiln_f32_dwconv_work_size(const kiln_f32_dwconv_params *p) {
    return (size_t)((p->ih + 1) * dw_padded_width(p));
}
