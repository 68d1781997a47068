/* SPDX-License-Identifier: MIT */
/* Depthwise 2-D convolution of one 8-bit channel plane with exact int32 sums:
 *   acc[oh][ow] = sum over (kh, kw) inside the image of (x[ih][iw] - zx) * w[kh][kw]
 * with ih = oh * sh - ph + kh * dh (same for w), the padding contributing 0 (it holds the zero
 * point), w already minus its zero point (int16). Each output row is accumulated in int32 and
 * finished by the u8s8 epilogue (kernels/u8s8-gemm/u8s8-gemm.h, row index = channel `ch`,
 * column 0). Plain C whose inner loop (stride 1) vectorizes. */
#ifndef KILN_KERNELS_Q8_DWCONV_H
#define KILN_KERNELS_Q8_DWCONV_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/u8s8-gemm/u8s8-gemm.h"

typedef struct kiln_q8_dwconv_shape {
    int64_t ih, iw, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw;
} kiln_q8_dwconv_shape;

/* x: one channel plane (s8 when x_s8, else u8); y: that channel's output plane of ep->out's
 * type; acc_row: s->ow int32 of scratch. */
void kiln_q8_dwconv2d(const kiln_q8_dwconv_shape *s, const void *x, int x_s8, int32_t zx, const int16_t *w,
                      const kiln_qgemm_epilogue *ep, size_t ch, void *y, int32_t *acc_row);

#endif
