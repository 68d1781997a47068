/* SPDX-License-Identifier: MIT */
/* Shape inference for data-movement ops: Reshape, Flatten, Gather, Constant. */
#include <string.h>

#include "graph/shape/infer_fns.h"

kiln_status kiln_infer_reshape(kiln_shape_ctx *c) {
    const kiln_shape_val *x, *s;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    KILN_TRY(kiln_shape_need_tensor(c, 1, &s));
    int64_t want[KILN_MAX_RANK];
    uint32_t n;
    int known;
    if (s->t.rank != 1 && s->t.rank >= 0) return kiln_shape_fail(c, "shape must be 1-D");
    KILN_TRY(kiln_shape_ints(c, 1, want, KILN_MAX_RANK, &n, &known));
    if (!known) {
        int32_t r = s->t.rank == 1 && s->t.dims[0] >= 0 && s->t.dims[0] <= KILN_MAX_RANK ? (int32_t)s->t.dims[0] : -1;
        kiln_shape_set(c, 0, x->t.dtype, r, NULL);
        return KILN_OK;
    }
    int allowzero = c->opset >= 14 && kiln_attr_int(c->node, "allowzero", 0) != 0;
    int64_t dims[KILN_MAX_RANK];
    int infer_at = -1;
    int64_t prod = 1;
    int prod_known = 1;
    for (uint32_t i = 0; i < n; i++) {
        int64_t d = want[i];
        if (d == -1) {
            if (infer_at >= 0) return kiln_shape_fail(c, "shape has more than one -1");
            infer_at = (int)i;
            continue;
        }
        if (d < -1) return kiln_shape_fail(c, "shape value %lld is invalid", (long long)d);
        if (d == 0 && !allowzero) {
            if ((int32_t)i >= x->t.rank && x->t.rank >= 0)
                return kiln_shape_fail(c, "shape copies dim %u, but the input has rank %d", i, (int)x->t.rank);
            d = x->t.rank >= 0 ? x->t.dims[i] : KILN_DIM_UNKNOWN;
        }
        dims[i] = d;
        if (d < 0) prod_known = 0;
        else if (__builtin_mul_overflow(prod, d, &prod)) return kiln_shape_fail(c, "shape overflows");
    }
    int64_t total = 0;
    int total_known = x->t.rank >= 0 && kiln_dims_count(x->t.dims, x->t.rank, &total);
    if (infer_at >= 0) {
        if (allowzero && prod_known && prod == 0) return kiln_shape_fail(c, "shape has both 0 and -1 with allowzero");
        if (total_known && prod_known) {
            if (prod == 0 || total % prod != 0)
                return kiln_shape_fail(c, "cannot reshape %lld elements into a shape with %lld elements per -1",
                                       (long long)total, (long long)prod);
            dims[infer_at] = total / prod;
        } else {
            dims[infer_at] = KILN_DIM_UNKNOWN;
        }
    } else if (total_known && prod_known && total != prod) {
        return kiln_shape_fail(c, "cannot reshape %lld elements into %lld", (long long)total, (long long)prod);
    }
    kiln_shape_set(c, 0, x->t.dtype, (int32_t)n, dims);
    return KILN_OK;
}

kiln_status kiln_infer_flatten(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    if (x->t.rank < 0) {
        kiln_shape_set(c, 0, x->t.dtype, 2, NULL);
        return KILN_OK;
    }
    int64_t axis = kiln_attr_int(c->node, "axis", 1);
    if (axis < -(int64_t)x->t.rank || axis > x->t.rank)
        return kiln_shape_fail(c, "axis %lld is out of range for rank %d", (long long)axis, (int)x->t.rank);
    if (axis < 0) axis += x->t.rank;
    int64_t d[2] = {1, 1};
    for (int32_t i = 0; i < x->t.rank; i++) {
        int64_t *p = &d[i < axis ? 0 : 1];
        if (*p < 0) continue;
        if (x->t.dims[i] < 0) *p = KILN_DIM_UNKNOWN;
        else if (__builtin_mul_overflow(*p, x->t.dims[i], p)) return kiln_shape_fail(c, "element count overflows");
    }
    kiln_shape_set(c, 0, x->t.dtype, 2, d);
    return KILN_OK;
}

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

/* The value itself is attached by the inference driver (graph/infer.c). */
kiln_status kiln_infer_constant(kiln_shape_ctx *c) {
    if (c->node->n_attrs != 1) return kiln_shape_fail(c, "needs exactly one value attribute");
    const kiln_attr *a = &c->node->attrs[0];
    if (a->type == KILN_ATTR_TENSOR || a->type == KILN_ATTR_SPARSE_TENSOR) {
        const kiln_const *k = a->tensors[0];
        kiln_shape_set(c, 0, k->desc.dtype, k->desc.rank, k->dims);
    } else {
        int64_t n = a->n;
        int scalar = a->type == KILN_ATTR_FLOAT || a->type == KILN_ATTR_INT || a->type == KILN_ATTR_STRING;
        int32_t dt = (a->type == KILN_ATTR_FLOAT || a->type == KILN_ATTR_FLOATS) ? KILN_DTYPE_FLOAT
                   : (a->type == KILN_ATTR_INT || a->type == KILN_ATTR_INTS)     ? KILN_DTYPE_INT64
                   : (a->type == KILN_ATTR_STRING || a->type == KILN_ATTR_STRINGS) ? KILN_DTYPE_STRING
                                                                                 : 0;
        if (!dt) return kiln_shape_fail(c, "unsupported value attribute '%s'", a->name);
        kiln_shape_set(c, 0, dt, scalar ? 0 : 1, &n);
    }
    return KILN_OK;
}
