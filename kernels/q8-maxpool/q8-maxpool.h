/* SPDX-License-Identifier: MIT */
/* 2-D max pooling of one 8-bit channel plane (MaxPool on uint8/int8 without the Indices output,
 * dilation 1): y[oh][ow] = the largest x in the window's pixels inside the image (padding never
 * wins; a window with no pixel inside gives the type's lowest value, as providers/cpu/ops/pool.c
 * does). Two passes per output row: the byte-wise max of the window's input rows over the whole
 * width, then the max of kw neighbours at the stride (a pass per kernel column over the windows
 * that lie inside the row, edges clipped). s8 is handled as u8 through x ^ 0x80, which keeps the
 * order. Plain C whose loops the compiler vectorizes (pmaxub). */
#ifndef KILN_KERNELS_Q8_MAXPOOL_H
#define KILN_KERNELS_Q8_MAXPOOL_H

#include <stddef.h>
#include <stdint.h>

typedef struct kiln_q8_maxpool_shape {
    int64_t ih, iw, oh, ow, kh, kw, sh, sw, ph, pw; /* pads at the start; the end is clipped */
} kiln_q8_maxpool_shape;

/* x: one ih x iw plane, y: one oh x ow plane; row: iw bytes of scratch. */
void kiln_q8_maxpool2d(const kiln_q8_maxpool_shape *s, const uint8_t *x, int s8, uint8_t *y, uint8_t *row);

#endif
