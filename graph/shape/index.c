/* SPDX-License-Identifier: MIT */
/* Shape inference for indexing ops: Gather, GatherElements, GatherND, the Scatter family. */
#include <string.h>

#include "graph/shape/infer_fns.h"

kiln_status kiln_infer_gather(kiln_shape_ctx *c) {
    const kiln_shape_val *x, *ix;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    KILN_TRY(kiln_shape_need_tensor(c, 1, &ix));
    if (ix->t.dtype != KILN_DTYPE_INT64 && ix->t.dtype != KILN_DTYPE_INT32)
        return kiln_shape_fail(c, "indices must be int32 or int64");
    if (x->t.rank < 0 || ix->t.rank < 0) {
        kiln_shape_set(c, 0, x->t.dtype, -1, NULL);
        return KILN_OK;
    }
    if (x->t.rank == 0) return kiln_shape_fail(c, "data must have rank 1 or more");
    int32_t axis;
    KILN_TRY(kiln_shape_axis(c, kiln_attr_int(c->node, "axis", 0), x->t.rank, &axis));
    int32_t rank = x->t.rank - 1 + ix->t.rank;
    if (rank > KILN_MAX_RANK) return kiln_shape_fail(c, "output rank %d is too large", (int)rank);
    int64_t dims[KILN_MAX_RANK];
    int32_t r = 0;
    for (int32_t i = 0; i < axis; i++) dims[r++] = x->t.dims[i];
    for (int32_t i = 0; i < ix->t.rank; i++) dims[r++] = ix->t.dims[i];
    for (int32_t i = axis + 1; i < x->t.rank; i++) dims[r++] = x->t.dims[i];
    kiln_shape_set(c, 0, x->t.dtype, rank, dims);
    return KILN_OK;
}

kiln_status kiln_infer_gather_elements(kiln_shape_ctx *c) {
    const kiln_shape_val *x, *ix;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    KILN_TRY(kiln_shape_need_tensor(c, 1, &ix));
    if (ix->t.dtype != KILN_DTYPE_INT64 && ix->t.dtype != KILN_DTYPE_INT32)
        return kiln_shape_fail(c, "indices must be int32 or int64");
    if (x->t.rank >= 0 && ix->t.rank >= 0) {
        if (x->t.rank != ix->t.rank)
            return kiln_shape_fail(c, "indices have rank %d, data rank %d", (int)ix->t.rank, (int)x->t.rank);
        if (x->t.rank == 0) return kiln_shape_fail(c, "data must have rank 1 or more");
        int32_t axis;
        KILN_TRY(kiln_shape_axis(c, kiln_attr_int(c->node, "axis", 0), x->t.rank, &axis));
        for (int32_t d = 0; d < x->t.rank; d++)
            if (d != axis && x->t.dims[d] >= 0 && ix->t.dims[d] > x->t.dims[d])
                return kiln_shape_fail(c, "indices dim %d (%lld) is larger than data's (%lld)", (int)d,
                                       (long long)ix->t.dims[d], (long long)x->t.dims[d]);
    }
    kiln_shape_set(c, 0, x->t.dtype, ix->t.rank, ix->t.dims);
    return KILN_OK;
}

kiln_status kiln_infer_gather_nd(kiln_shape_ctx *c) {
    const kiln_shape_val *x, *ix;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    KILN_TRY(kiln_shape_need_tensor(c, 1, &ix));
    if (ix->t.dtype != KILN_DTYPE_INT64) return kiln_shape_fail(c, "indices must be int64");
    int64_t b = c->opset >= 12 ? kiln_attr_int(c->node, "batch_dims", 0) : 0;
    int32_t r = x->t.rank, q = ix->t.rank;
    if (b < 0 || (r >= 0 && b >= r) || (q >= 0 && b >= q))
        return kiln_shape_fail(c, "batch_dims %lld must be less than both ranks", (long long)b);
    if (r == 0 || q == 0) return kiln_shape_fail(c, "data and indices must have rank 1 or more");
    if (r < 0 || q < 0 || ix->t.dims[q - 1] < 0) {
        kiln_shape_set(c, 0, x->t.dtype, -1, NULL);
        return KILN_OK;
    }
    int64_t k = ix->t.dims[q - 1];
    if (k < 1 || k > r - b) return kiln_shape_fail(c, "indices' last dim %lld must be in [1, %lld]", (long long)k, (long long)(r - b));
    int64_t dims[KILN_MAX_RANK];
    int32_t o = 0;
    for (int32_t d = 0; d < q - 1; d++) {
        if (d < b && x->t.dims[d] >= 0 && ix->t.dims[d] >= 0 && x->t.dims[d] != ix->t.dims[d])
            return kiln_shape_fail(c, "batch dim %d differs between data and indices", (int)d);
        dims[o++] = d < b ? kiln_dim_merge(ix->t.dims[d], x->t.dims[d]) : ix->t.dims[d];
    }
    for (int64_t d = b + k; d < r; d++) {
        if (o >= KILN_MAX_RANK) return kiln_shape_fail(c, "output rank is too large");
        dims[o++] = x->t.dims[d];
    }
    kiln_shape_set(c, 0, x->t.dtype, o, dims);
    return KILN_OK;
}

/* ScatterElements / Scatter / ScatterND / TensorScatter: the output is the data input. */
kiln_status kiln_infer_scatter(kiln_shape_ctx *c) {
    const kiln_shape_val *x, *ix, *u;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    KILN_TRY(kiln_shape_need_tensor(c, 1, &ix));
    KILN_TRY(kiln_shape_need_tensor(c, 2, &u));
    if (ix->t.dtype != KILN_DTYPE_INT64 && ix->t.dtype != KILN_DTYPE_INT32)
        return kiln_shape_fail(c, "indices must be int32 or int64");
    if (u->t.dtype != x->t.dtype) return kiln_shape_fail(c, "updates have a different type than data");
    kiln_shape_same(c, 0, 0);
    return KILN_OK;
}

kiln_status kiln_infer_tensor_scatter(kiln_shape_ctx *c) {
    const kiln_shape_val *x, *u;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    KILN_TRY(kiln_shape_need_tensor(c, 1, &u));
    if (u->t.dtype != x->t.dtype) return kiln_shape_fail(c, "update has a different type than past_cache");
    const kiln_shape_val *w = kiln_shape_in(c, 2);
    if (w && (w->t.kind != KILN_VALUE_TENSOR || w->t.dtype != KILN_DTYPE_INT64)) return kiln_shape_fail(c, "write_indices must be int64");
    const char *mode = kiln_attr_str(c->node, "mode", "linear");
    if (strcmp(mode, "linear") && strcmp(mode, "circular")) return kiln_shape_fail(c, "mode '%s' is not valid", mode);
    if (x->t.rank >= 0 && u->t.rank >= 0) {
        if (x->t.rank != u->t.rank) return kiln_shape_fail(c, "update and past_cache have different ranks");
        int32_t axis;
        KILN_TRY(kiln_shape_axis(c, kiln_attr_int(c->node, "axis", -2), x->t.rank, &axis));
        if (axis == 0) return kiln_shape_fail(c, "axis cannot be the batch dim");
        for (int32_t d = 0; d < x->t.rank; d++) {
            int64_t a = x->t.dims[d], b = u->t.dims[d];
            if (a < 0 || b < 0) continue;
            if (d == axis ? b > a : a != b)
                return kiln_shape_fail(c, "update dim %d (%lld) does not fit past_cache (%lld)", (int)d, (long long)b, (long long)a);
        }
    }
    kiln_shape_same(c, 0, 0);
    return KILN_OK;
}
