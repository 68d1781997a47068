/* SPDX-License-Identifier: MIT */
/* Shape inference for QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear: outputs keep
 * the input's shape; the element type comes from the zero point, output_dtype or the scale, and
 * the scale's shape is checked against the granularity (per-tensor, per-axis, blocked). */
#include "graph/shape/infer_fns.h"

/* Checks scale (input 1) and zero point (input 2) against x (input 0). */
static kiln_status check_scale(kiln_shape_ctx *c, const kiln_type *x) {
    const kiln_shape_val *s = kiln_shape_in(c, 1), *z = kiln_shape_in(c, 2);
    if (!s) return kiln_shape_fail(c, "the scale is required");
    /* Same shape, except that a scalar and a one-element vector are interchangeable. */
    if (z && z->t.rank >= 0 && s->t.rank >= 0 && z->t.rank == s->t.rank) {
        for (int32_t i = 0; i < s->t.rank; i++)
            if (z->t.dims[i] >= 0 && s->t.dims[i] >= 0 && z->t.dims[i] != s->t.dims[i])
                return kiln_shape_fail(c, "scale and zero point have different shapes");
    }
    if (s->t.rank < 0 || x->rank < 0) return KILN_OK;
    int64_t n = 1;
    for (int32_t i = 0; i < s->t.rank; i++) n = s->t.dims[i] < 0 || n < 0 ? -1 : n * s->t.dims[i];
    if (s->t.rank == 0 || n == 1) return KILN_OK; /* per tensor */
    int64_t block = kiln_attr_int(c->node, "block_size", 0);
    int32_t axis;
    KILN_TRY(kiln_shape_axis(c, kiln_attr_int(c->node, "axis", 1), x->rank > 0 ? x->rank : 1, &axis));
    if (block < 0) return kiln_shape_fail(c, "block_size must not be negative");
    if (block == 0) {
        if (s->t.rank != 1) return kiln_shape_fail(c, "a per-axis scale must be 1-D");
        if (x->rank == 0) return kiln_shape_fail(c, "a per-axis scale needs an input of rank 1 or more");
        if (s->t.dims[0] >= 0 && x->dims[axis] >= 0 && s->t.dims[0] != x->dims[axis])
            return kiln_shape_fail(c, "scale has %lld values for an axis of %lld", (long long)s->t.dims[0],
                                   (long long)x->dims[axis]);
        return KILN_OK;
    }
    if (s->t.rank != x->rank) return kiln_shape_fail(c, "a blocked scale must have the input's rank");
    for (int32_t i = 0; i < x->rank; i++) {
        int64_t d = x->dims[i], sd = s->t.dims[i];
        if (d < 0 || sd < 0) continue;
        int64_t want = i == axis ? (d == 0 ? 0 : (d - 1) / block + 1) : d; /* ceil(d / block) on the axis */
        if (sd != want) return kiln_shape_fail(c, "blocked scale dim %d is %lld, expected %lld", (int)i, (long long)sd, (long long)want);
    }
    return KILN_OK;
}

kiln_status kiln_infer_quantize_linear(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    const kiln_shape_val *z = kiln_shape_in(c, 2);
    int64_t odt = kiln_attr_int(c->node, "output_dtype", 0);
    if (z && odt && odt != z->t.dtype) return kiln_shape_fail(c, "output_dtype differs from the zero point's type");
    int32_t dt = z ? z->t.dtype : odt ? (int32_t)odt : KILN_DTYPE_UINT8;
    KILN_TRY(check_scale(c, &x->t));
    kiln_shape_set(c, 0, dt, x->t.rank, x->t.dims);
    return KILN_OK;
}

kiln_status kiln_infer_dequantize_linear(kiln_shape_ctx *c) {
    const kiln_shape_val *x, *s;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    KILN_TRY(kiln_shape_need_tensor(c, 1, &s));
    const kiln_shape_val *z = kiln_shape_in(c, 2);
    if (z && z->t.dtype != x->t.dtype) return kiln_shape_fail(c, "x and the zero point have different types");
    int64_t odt = kiln_attr_int(c->node, "output_dtype", 0);
    /* Before opset 19 the output is float; then the scale's type unless output_dtype says. */
    int32_t dt = odt ? (int32_t)odt : c->opset < 19 ? KILN_DTYPE_FLOAT : s->t.dtype;
    if (dt == KILN_DTYPE_FLOAT8E8M0) dt = KILN_DTYPE_FLOAT;
    KILN_TRY(check_scale(c, &x->t));
    kiln_shape_set(c, 0, dt, x->t.rank, x->t.dims);
    return KILN_OK;
}

/* DynamicQuantizeLinear: x → y (uint8, x's shape), y_scale (float scalar), y_zero_point (uint8 scalar). */
kiln_status kiln_infer_dynamic_quantize_linear(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    kiln_shape_set(c, 0, KILN_DTYPE_UINT8, x->t.rank, x->t.dims);
    kiln_shape_set(c, 1, x->t.dtype, 0, NULL);
    kiln_shape_set(c, 2, KILN_DTYPE_UINT8, 0, NULL);
    return KILN_OK;
}
