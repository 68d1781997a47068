/* SPDX-License-Identifier: MIT */
/* Helpers shared by the tensor-manipulation shape functions (graph/shape/tensor.c, slice.c,
 * index.c, resize.c): axes given as an attribute or an input, Shape's dim range, Split sizes. */
#ifndef KILN_GRAPH_SHAPE_TENSOR_UTIL_H
#define KILN_GRAPH_SHAPE_TENSOR_UTIL_H

#include "graph/shape.h"

/* Axes from attribute "axes" when opset < input_from, else from input `in` (up to
 * 2*KILN_MAX_RANK values). *given: the attribute or input is there; *known: its value is known. */
kiln_status kiln_shape_axes_arg(kiln_shape_ctx *c, int64_t input_from, uint32_t in, int64_t *axes, uint32_t *n,
                                int *given, int *known);
/* Normalizes n axes for `rank` in place; fails on one out of range or given twice. *mask has
 * bit d set for each axis d. */
kiln_status kiln_shape_norm_axes(kiln_shape_ctx *c, int64_t *axes, uint32_t n, int32_t rank, uint32_t *mask);
/* Shape's [start, end) of the dims, clamped to [0, rank]. */
void kiln_shape_range_of(const kiln_node *node, int64_t opset, int32_t rank, int64_t *start, int64_t *end);
/* Split's output sizes along an axis of `dim` (dim < 0: unknown) for c->n_out outputs (<= 256);
 * *known 0 when they cannot be known yet. */
kiln_status kiln_shape_split_sizes(kiln_shape_ctx *c, int64_t dim, int64_t *sizes, int *known);

#endif
