/* SPDX-License-Identifier: MIT */
/* Shape inference for reductions: Reduce* (axes an attribute, or input 1 from opset 13 for
 * ReduceSum and 18 for the others) and ArgMax/ArgMin (one axis, int64 indices). */
#include <string.h>

#include "graph/shape/infer_fns.h"

static int axes_from_input(const kiln_shape_ctx *c) {
    return c->opset >= (strcmp(c->node->op_type, "ReduceSum") == 0 ? 13 : 18);
}

kiln_status kiln_infer_reduce(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    int keepdims = kiln_attr_int(c->node, "keepdims", 1) != 0;
    int64_t axes[KILN_MAX_RANK];
    uint32_t n = 0;
    int known = 1, noop = 0;
    if (axes_from_input(c)) {
        noop = kiln_attr_int(c->node, "noop_with_empty_axes", 0) != 0;
        if (kiln_shape_in(c, 1)) KILN_TRY(kiln_shape_ints(c, 1, axes, KILN_MAX_RANK, &n, &known));
    } else {
        const int64_t *a = kiln_attr_ints(c->node, "axes", &n);
        if (n > KILN_MAX_RANK) return kiln_shape_fail(c, "%u axes given, at most %d allowed", n, KILN_MAX_RANK);
        if (n) memcpy(axes, a, n * sizeof *axes);
    }
    int32_t r = x->t.rank;
    if (known && n == 0 && noop) {
        kiln_shape_same(c, 0, 0);
        return KILN_OK;
    }
    if (r < 0 || !known) {
        kiln_shape_set(c, 0, x->t.dtype, keepdims ? r : -1, NULL);
        return KILN_OK;
    }
    uint8_t reduced[KILN_MAX_RANK] = {0};
    for (uint32_t i = 0; i < n; i++) {
        int32_t a;
        KILN_TRY(kiln_shape_axis(c, axes[i], r, &a));
        if (reduced[a]) return kiln_shape_fail(c, "axis %lld is given twice", (long long)axes[i]);
        reduced[a] = 1;
    }
    int64_t dims[KILN_MAX_RANK];
    int32_t o = 0;
    for (int32_t d = 0; d < r; d++) {
        if (n && !reduced[d]) dims[o++] = x->t.dims[d];
        else if (keepdims) dims[o++] = 1;
    }
    kiln_shape_set(c, 0, x->t.dtype, o, dims);
    return KILN_OK;
}

kiln_status kiln_infer_argreduce(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    int keepdims = kiln_attr_int(c->node, "keepdims", 1) != 0;
    int32_t r = x->t.rank;
    if (r < 0) {
        kiln_shape_set(c, 0, KILN_DTYPE_INT64, -1, NULL);
        return KILN_OK;
    }
    int32_t axis;
    KILN_TRY(kiln_shape_axis(c, kiln_attr_int(c->node, "axis", 0), r, &axis));
    if (x->t.dims[axis] == 0) return kiln_shape_fail(c, "axis %d is empty: there is no element to select", (int)axis);
    int64_t dims[KILN_MAX_RANK];
    int32_t o = 0;
    for (int32_t d = 0; d < r; d++) {
        if (d != axis) dims[o++] = x->t.dims[d];
        else if (keepdims) dims[o++] = 1;
    }
    kiln_shape_set(c, 0, KILN_DTYPE_INT64, o, dims);
    return KILN_OK;
}
