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

/* ---- data-dependent outputs: sized by the kernels ---- */

kiln_status kiln_infer_non_zero(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    int64_t dims[2] = {x->t.rank < 0 ? KILN_DIM_UNKNOWN : x->t.rank, KILN_DIM_UNKNOWN};
    kiln_shape_set(c, 0, KILN_DTYPE_INT64, 2, dims);
    return KILN_OK;
}

kiln_status kiln_infer_compress(kiln_shape_ctx *c) {
    const kiln_shape_val *x, *cond;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    KILN_TRY(kiln_shape_need_tensor(c, 1, &cond));
    if (cond->t.dtype != KILN_DTYPE_BOOL) return kiln_shape_fail(c, "condition must be bool");
    if (cond->t.rank >= 0 && cond->t.rank != 1) return kiln_shape_fail(c, "condition must be 1-D");
    if (!kiln_node_attr(c->node, "axis")) {
        kiln_shape_set(c, 0, x->t.dtype, 1, NULL);
        return KILN_OK;
    }
    if (x->t.rank < 0) {
        kiln_shape_set(c, 0, x->t.dtype, -1, NULL);
        return KILN_OK;
    }
    int32_t axis;
    KILN_TRY(kiln_shape_axis(c, kiln_attr_int(c->node, "axis", 0), x->t.rank, &axis));
    int64_t dims[KILN_MAX_RANK];
    memcpy(dims, x->t.dims, sizeof(int64_t) * (size_t)x->t.rank);
    dims[axis] = KILN_DIM_UNKNOWN;
    kiln_shape_set(c, 0, x->t.dtype, x->t.rank, dims);
    return KILN_OK;
}

kiln_status kiln_infer_unique(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    int64_t inv = KILN_DIM_UNKNOWN;
    if (kiln_node_attr(c->node, "axis") && x->t.rank >= 0) {
        int32_t axis;
        KILN_TRY(kiln_shape_axis(c, kiln_attr_int(c->node, "axis", 0), x->t.rank, &axis));
        int64_t dims[KILN_MAX_RANK];
        memcpy(dims, x->t.dims, sizeof(int64_t) * (size_t)x->t.rank);
        inv = dims[axis];
        dims[axis] = KILN_DIM_UNKNOWN;
        kiln_shape_set(c, 0, x->t.dtype, x->t.rank, dims);
    } else if (kiln_node_attr(c->node, "axis")) {
        kiln_shape_set(c, 0, x->t.dtype, -1, NULL);
    } else {
        if (x->t.rank >= 0 && !kiln_dims_count(x->t.dims, x->t.rank, &inv)) inv = KILN_DIM_UNKNOWN;
        kiln_shape_set(c, 0, x->t.dtype, 1, NULL);
    }
    kiln_shape_set(c, 1, KILN_DTYPE_INT64, 1, NULL);
    kiln_shape_set(c, 2, KILN_DTYPE_INT64, 1, &inv);
    kiln_shape_set(c, 3, KILN_DTYPE_INT64, 1, NULL);
    return KILN_OK;
}

/* ---- shapes from attributes and small inputs ---- */

kiln_status kiln_infer_top_k(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    int64_t k = KILN_DIM_UNKNOWN;
    if (c->opset < 10) {
        k = kiln_attr_int(c->node, "k", -1);
        if (k < 0) return kiln_shape_fail(c, "attribute 'k' is required and must be >= 0");
    } else {
        int64_t v[2];
        uint32_t n;
        int known;
        KILN_TRY(kiln_shape_ints(c, 1, v, 2, &n, &known));
        if (known) {
            if (n != 1) return kiln_shape_fail(c, "K must have exactly one value");
            if (v[0] < 0) return kiln_shape_fail(c, "K is negative (%lld)", (long long)v[0]);
            k = v[0];
        }
    }
    if (x->t.rank < 0) {
        kiln_shape_set(c, 0, x->t.dtype, -1, NULL);
        kiln_shape_set(c, 1, KILN_DTYPE_INT64, -1, NULL);
        return KILN_OK;
    }
    int32_t axis;
    KILN_TRY(kiln_shape_axis(c, kiln_attr_int(c->node, "axis", -1), x->t.rank, &axis));
    if (k >= 0 && x->t.dims[axis] >= 0 && k > x->t.dims[axis])
        return kiln_shape_fail(c, "K (%lld) is larger than the axis (%lld)", (long long)k, (long long)x->t.dims[axis]);
    int64_t dims[KILN_MAX_RANK];
    memcpy(dims, x->t.dims, sizeof(int64_t) * (size_t)x->t.rank);
    dims[axis] = k;
    kiln_shape_set(c, 0, x->t.dtype, x->t.rank, dims);
    kiln_shape_set(c, 1, KILN_DTYPE_INT64, x->t.rank, dims);
    return KILN_OK;
}

/* OneHot's depth as a count (a fractional value truncated); -1 when unknown. */
static kiln_status one_hot_depth(kiln_shape_ctx *c, int64_t *depth) {
    const kiln_shape_val *d;
    KILN_TRY(kiln_shape_need_tensor(c, 1, &d));
    *depth = KILN_DIM_UNKNOWN;
    if (!d->data || d->t.rank < 0) return KILN_OK;
    int64_t n;
    if (!kiln_dims_count(d->t.dims, d->t.rank, &n) || n != 1) return kiln_shape_fail(c, "depth must have one value");
    double v;
    switch (d->t.dtype) {
    case KILN_DTYPE_FLOAT: v = ((const float *)d->data)[0]; break;
    case KILN_DTYPE_DOUBLE: v = ((const double *)d->data)[0]; break;
    case KILN_DTYPE_INT8: v = ((const int8_t *)d->data)[0]; break;
    case KILN_DTYPE_INT16: v = ((const int16_t *)d->data)[0]; break;
    case KILN_DTYPE_INT32: v = ((const int32_t *)d->data)[0]; break;
    case KILN_DTYPE_INT64: v = (double)((const int64_t *)d->data)[0]; break;
    case KILN_DTYPE_UINT8: v = ((const uint8_t *)d->data)[0]; break;
    case KILN_DTYPE_UINT16: v = ((const uint16_t *)d->data)[0]; break;
    case KILN_DTYPE_UINT32: v = ((const uint32_t *)d->data)[0]; break;
    case KILN_DTYPE_UINT64: v = (double)((const uint64_t *)d->data)[0]; break;
    default: return KILN_OK; /* float16: the kernel sizes the output */
    }
    if (!(v >= 0) || v > 1e15) return kiln_shape_fail(c, "depth %g is not valid", v);
    *depth = (int64_t)v; /* the spec casts a non-integer depth to int64 */
    return KILN_OK;
}

kiln_status kiln_infer_one_hot(kiln_shape_ctx *c) {
    const kiln_shape_val *ix, *vals;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &ix));
    KILN_TRY(kiln_shape_need_tensor(c, 2, &vals));
    if (vals->t.rank >= 0 && !(vals->t.rank == 1 && (vals->t.dims[0] < 0 || vals->t.dims[0] == 2)))
        return kiln_shape_fail(c, "values must be [off_value, on_value]");
    int64_t depth;
    KILN_TRY(one_hot_depth(c, &depth));
    if (ix->t.rank < 0) {
        kiln_shape_set(c, 0, vals->t.dtype, -1, NULL);
        return KILN_OK;
    }
    int32_t r = ix->t.rank + 1, axis;
    if (r > KILN_MAX_RANK) return kiln_shape_fail(c, "output rank is too large");
    KILN_TRY(kiln_shape_axis(c, kiln_attr_int(c->node, "axis", -1), r, &axis));
    int64_t dims[KILN_MAX_RANK];
    for (int32_t d = 0, i = 0; d < r; d++) dims[d] = d == axis ? depth : ix->t.dims[i++];
    kiln_shape_set(c, 0, vals->t.dtype, r, dims);
    return KILN_OK;
}

kiln_status kiln_infer_trilu(kiln_shape_ctx *c) {
    const kiln_shape_val *x, *k = kiln_shape_in(c, 1);
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    if (x->t.rank >= 0 && x->t.rank < 2) return kiln_shape_fail(c, "input must have rank 2 or more");
    if (k && (k->t.kind != KILN_VALUE_TENSOR || k->t.dtype != KILN_DTYPE_INT64)) return kiln_shape_fail(c, "k must be int64");
    kiln_shape_same(c, 0, 0);
    return KILN_OK;
}

kiln_status kiln_infer_reverse_sequence(kiln_shape_ctx *c) {
    const kiln_shape_val *x, *l;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    KILN_TRY(kiln_shape_need_tensor(c, 1, &l));
    if (l->t.dtype != KILN_DTYPE_INT64) return kiln_shape_fail(c, "sequence_lens must be int64");
    int64_t b = kiln_attr_int(c->node, "batch_axis", 1), t = kiln_attr_int(c->node, "time_axis", 0);
    if ((b != 0 && b != 1) || (t != 0 && t != 1) || b == t)
        return kiln_shape_fail(c, "batch_axis and time_axis must be 0 and 1 in some order");
    if (x->t.rank >= 0 && x->t.rank < 2) return kiln_shape_fail(c, "input must have rank 2 or more");
    if (x->t.rank >= 2 && l->t.rank >= 0) {
        if (l->t.rank != 1) return kiln_shape_fail(c, "sequence_lens must be 1-D");
        if (l->t.dims[0] >= 0 && x->t.dims[b] >= 0 && l->t.dims[0] != x->t.dims[b])
            return kiln_shape_fail(c, "sequence_lens has %lld values for a batch of %lld", (long long)l->t.dims[0],
                                   (long long)x->t.dims[b]);
    }
    kiln_shape_same(c, 0, 0);
    return KILN_OK;
}
