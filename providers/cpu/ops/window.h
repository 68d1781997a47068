/* SPDX-License-Identifier: MIT */
/* Sliding-window geometry shared by Conv and the pooling ops: attributes read once when the
 * kernel is created, pads resolved per call from the actual input and output sizes (auto_pad
 * SAME_* puts the odd pixel at the end for SAME_UPPER, at the start for SAME_LOWER). */
#ifndef KILN_CPU_OPS_WINDOW_H
#define KILN_CPU_OPS_WINDOW_H

#include "providers/cpu/cpu_op.h"

enum { PAD_NOTSET, PAD_SAME_UPPER, PAD_SAME_LOWER, PAD_VALID };

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
} cpu_window;

kiln_status cpu_window_read(const cpu_node *n, cpu_window_attrs *a, kiln_error *err);
/* x: [N, C, D1..], y: [N, M, O1..]; kernel sizes from `kdims` (weights) when kernel_shape is absent. */
kiln_status cpu_window_resolve(const cpu_window_attrs *a, const kiln_value_desc *x, const kiln_value_desc *y,
                               const int64_t *kdims, cpu_window *w, kiln_error *err);

#endif
