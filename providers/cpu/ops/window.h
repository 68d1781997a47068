/* SPDX-License-Identifier: MIT */
/* Sliding-window geometry shared by the convolutions and pooling: attributes read once, pads
 * resolved per call (auto_pad SAME_UPPER puts the odd pad at the end, SAME_LOWER at the start),
 * and im2col, which unfolds windows into the columns of a GEMM operand. */
#ifndef KILN_CPU_OPS_WINDOW_H
#define KILN_CPU_OPS_WINDOW_H

#include "providers/cpu/cpu_op.h"

enum { PAD_NOTSET, PAD_SAME_UPPER, PAD_SAME_LOWER, PAD_VALID };

/* Bound on kernel sizes, strides, dilations and pads (as in graph/shape/conv.c). */
#define CPU_WINDOW_MAX ((int64_t)1 << 30)

typedef struct cpu_window_attrs {
    int32_t n_kernel, n_strides, n_dilations, n_pads;  /* 0 when the attribute is absent */
    int64_t kernel[KILN_MAX_RANK], strides[KILN_MAX_RANK], dilations[KILN_MAX_RANK], pads[2 * KILN_MAX_RANK];
    int auto_pad;
} cpu_window_attrs;

/* Resolved geometry of one call, per spatial axis. */
typedef struct cpu_window {
    int32_t sp;
    int64_t in[KILN_MAX_RANK], out[KILN_MAX_RANK], k[KILN_MAX_RANK], s[KILN_MAX_RANK], d[KILN_MAX_RANK],
        pb[KILN_MAX_RANK], pe[KILN_MAX_RANK];
    int64_t in_size, out_size, k_size; /* products over the spatial axes */
} cpu_window;

kiln_status cpu_window_read(const cpu_node *n, cpu_window_attrs *a, kiln_error *err);
/* x: [N, C, D1..], y: [N, M, O1..]; kernel sizes from `kdims` (weights) when kernel_shape is absent. */
kiln_status cpu_window_resolve(const cpu_window_attrs *a, const kiln_value_desc *x, const kiln_value_desc *y,
                               const int64_t *kdims, cpu_window *w, kiln_error *err);

/* Unfolds `channels` planes of x (each w->in_size floats) into col, a
 * [channels * k_size][out_size] row-major matrix: row (c, kernel offset), column output
 * position; pixels in the padding read as `pad`. */
void cpu_im2col_f32(const float *x, int64_t channels, const cpu_window *w, float pad, float *col);
void cpu_im2col_s16(const int16_t *x, int64_t channels, const cpu_window *w, int16_t pad, int16_t *col);
void cpu_im2col_u8(const uint8_t *x, int64_t channels, const cpu_window *w, uint8_t pad, uint8_t *col);

/* a * b for sizes, or -1 when either is negative or the product exceeds what memory could hold. */
static inline int64_t cpu_mul_size(int64_t a, int64_t b) {
    if (a < 0 || b < 0) return -1;
    if (a != 0 && b > ((int64_t)1 << 56) / a) return -1;
    return a * b;
}

#endif
