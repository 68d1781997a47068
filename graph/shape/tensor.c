/* SPDX-License-Identifier: MIT */
/* Shape inference for ops that rearrange or describe a tensor without computing on it: Reshape,
 * Flatten, Squeeze, Unsqueeze, Transpose, Concat, Split, Shape, Size, Constant, ConstantOfShape,
 * Range, EyeLike, Dropout. */
#include <math.h>
#include <string.h>

#include "graph/shape/infer_fns.h"
#include "graph/shape/tensor_util.h"

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

/* ---- shared by the tensor-manipulation shape functions (graph/shape/tensor_util.h) ---- */

kiln_status kiln_shape_axes_arg(kiln_shape_ctx *c, int64_t input_from, uint32_t in, int64_t *axes, uint32_t *n,
                                int *given, int *known) {
    *n = 0, *given = 0, *known = 1;
    if (c->opset < input_from) {
        uint32_t cnt;
        const int64_t *a = kiln_attr_ints(c->node, "axes", &cnt);
        if (!a) return KILN_OK;
        if (cnt > KILN_MAX_RANK * 2) return kiln_shape_fail(c, "too many axes (%u)", cnt);
        for (uint32_t i = 0; i < cnt; i++) axes[i] = a[i];
        *n = cnt, *given = 1;
        return KILN_OK;
    }
    if (!kiln_shape_in(c, in)) return KILN_OK;
    *given = 1;
    return kiln_shape_ints(c, in, axes, KILN_MAX_RANK * 2, n, known);
}

kiln_status kiln_shape_norm_axes(kiln_shape_ctx *c, int64_t *axes, uint32_t n, int32_t rank, uint32_t *mask) {
    *mask = 0;
    for (uint32_t i = 0; i < n; i++) {
        int32_t a;
        KILN_TRY(kiln_shape_axis(c, axes[i], rank, &a));
        if (*mask & (1u << a)) return kiln_shape_fail(c, "axis %lld is given twice", (long long)axes[i]);
        *mask |= 1u << a;
        axes[i] = a;
    }
    return KILN_OK;
}

/* ---- shape descriptions ---- */

/* Shape's [start, end) slice of the dims, clamped to [0, rank] (attributes from opset 15). */
void kiln_shape_range_of(const kiln_node *node, int64_t opset, int32_t rank, int64_t *start, int64_t *end) {
    int64_t s = opset >= 15 ? kiln_attr_int(node, "start", 0) : 0;
    int64_t e = opset >= 15 ? kiln_attr_int(node, "end", rank) : rank;
    if (s < 0) s += rank;
    if (e < 0) e += rank;
    s = s < 0 ? 0 : s > rank ? rank : s;
    e = e < 0 ? 0 : e > rank ? rank : e;
    *start = s;
    *end = e > s ? e : s;
}

kiln_status kiln_infer_shape(kiln_shape_ctx *c) {
    const kiln_shape_val *x = kiln_shape_in(c, 0);
    if (!x || x->t.kind != KILN_VALUE_TENSOR) return kiln_shape_fail(c, "input 0 must be a tensor");
    if (x->t.rank < 0) {
        kiln_shape_set(c, 0, KILN_DTYPE_INT64, 1, NULL);
        return KILN_OK;
    }
    int64_t s, e;
    kiln_shape_range_of(c->node, c->opset, x->t.rank, &s, &e);
    int64_t n = e - s;
    kiln_shape_set(c, 0, KILN_DTYPE_INT64, 1, &n);
    return KILN_OK;
}

kiln_status kiln_infer_size(kiln_shape_ctx *c) {
    const kiln_shape_val *x = kiln_shape_in(c, 0);
    if (!x || x->t.kind != KILN_VALUE_TENSOR) return kiln_shape_fail(c, "input 0 must be a tensor");
    kiln_shape_set(c, 0, KILN_DTYPE_INT64, 0, NULL);
    return KILN_OK;
}

/* ---- same elements, new dims ---- */

kiln_status kiln_infer_squeeze(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    int64_t axes[KILN_MAX_RANK * 2];
    uint32_t n, mask = 0;
    int given, known;
    KILN_TRY(kiln_shape_axes_arg(c, 13, 1, axes, &n, &given, &known));
    int32_t r = x->t.rank;
    if (r < 0 || !known) {
        kiln_shape_set(c, 0, x->t.dtype, -1, NULL);
        return KILN_OK;
    }
    if (given) {
        KILN_TRY(kiln_shape_norm_axes(c, axes, n, r, &mask));
        for (int32_t d = 0; d < r; d++)
            if ((mask & (1u << d)) && x->t.dims[d] >= 0 && x->t.dims[d] != 1)
                return kiln_shape_fail(c, "cannot squeeze axis %d of size %lld", (int)d, (long long)x->t.dims[d]);
    } else {
        for (int32_t d = 0; d < r; d++) {
            if (x->t.dims[d] < 0) {
                kiln_shape_set(c, 0, x->t.dtype, -1, NULL);
                return KILN_OK;
            }
            if (x->t.dims[d] == 1) mask |= 1u << d;
        }
    }
    int64_t dims[KILN_MAX_RANK];
    int32_t o = 0;
    for (int32_t d = 0; d < r; d++)
        if (!(mask & (1u << d))) dims[o++] = x->t.dims[d];
    kiln_shape_set(c, 0, x->t.dtype, o, dims);
    return KILN_OK;
}

kiln_status kiln_infer_unsqueeze(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    int64_t axes[KILN_MAX_RANK * 2];
    uint32_t n, mask;
    int given, known;
    KILN_TRY(kiln_shape_axes_arg(c, 13, 1, axes, &n, &given, &known));
    if (!given) return kiln_shape_fail(c, "axes are required");
    if (x->t.rank < 0 || !known) {
        kiln_shape_set(c, 0, x->t.dtype, -1, NULL);
        return KILN_OK;
    }
    int32_t r = x->t.rank + (int32_t)n;
    if (r > KILN_MAX_RANK) return kiln_shape_fail(c, "output rank %d is more than %d", (int)r, KILN_MAX_RANK);
    KILN_TRY(kiln_shape_norm_axes(c, axes, n, r, &mask));
    int64_t dims[KILN_MAX_RANK];
    for (int32_t d = 0, i = 0; d < r; d++) dims[d] = (mask & (1u << d)) ? 1 : x->t.dims[i++];
    kiln_shape_set(c, 0, x->t.dtype, r, dims);
    return KILN_OK;
}

kiln_status kiln_infer_transpose(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    uint32_t n;
    const int64_t *perm = kiln_attr_ints(c->node, "perm", &n);
    int32_t r = x->t.rank;
    if (r < 0) {
        kiln_shape_set(c, 0, x->t.dtype, perm ? (int32_t)n : -1, NULL);
        return KILN_OK;
    }
    if (perm && n != (uint32_t)r) return kiln_shape_fail(c, "perm has %u entries for rank %d", n, (int)r);
    int64_t dims[KILN_MAX_RANK];
    uint32_t seen = 0;
    for (int32_t d = 0; d < r; d++) {
        int64_t p = perm ? perm[d] : r - 1 - d;
        if (p < 0 || p >= r || (seen & (1u << p))) return kiln_shape_fail(c, "perm is not a permutation of 0..%d", (int)r - 1);
        seen |= 1u << p;
        dims[d] = x->t.dims[p];
    }
    kiln_shape_set(c, 0, x->t.dtype, r, dims);
    return KILN_OK;
}

/* ---- joining and splitting ---- */

kiln_status kiln_infer_concat(kiln_shape_ctx *c) {
    if (c->n_in == 0) return kiln_shape_fail(c, "needs at least one input");
    const kiln_shape_val *x0;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x0));
    int32_t r = -1;
    for (uint32_t i = 0; i < c->n_in; i++) {
        const kiln_shape_val *x;
        KILN_TRY(kiln_shape_need_tensor(c, i, &x));
        if (x->t.dtype != x0->t.dtype) return kiln_shape_fail(c, "input %u has a different type than input 0", i);
        if (x->t.rank < 0) continue;
        if (r >= 0 && x->t.rank != r) return kiln_shape_fail(c, "inputs have different ranks (%d and %d)", (int)r, (int)x->t.rank);
        r = x->t.rank;
    }
    if (c->opset >= 4 && !kiln_node_attr(c->node, "axis")) return kiln_shape_fail(c, "attribute 'axis' is required");
    if (r < 0) {
        kiln_shape_set(c, 0, x0->t.dtype, -1, NULL);
        return KILN_OK;
    }
    int32_t axis;
    KILN_TRY(kiln_shape_axis(c, kiln_attr_int(c->node, "axis", 1), r, &axis));
    int64_t dims[KILN_MAX_RANK];
    for (int32_t d = 0; d < r; d++) dims[d] = d == axis ? 0 : KILN_DIM_UNKNOWN;
    for (uint32_t i = 0; i < c->n_in; i++) {
        const kiln_shape_val *x = &c->in[i];
        if (x->t.rank < 0) {
            dims[axis] = KILN_DIM_UNKNOWN;
            continue;
        }
        for (int32_t d = 0; d < r; d++) {
            int64_t v = x->t.dims[d];
            if (d == axis) {
                if (dims[d] >= 0 && v >= 0) {
                    if (__builtin_add_overflow(dims[d], v, &dims[d])) return kiln_shape_fail(c, "concatenated dim overflows");
                } else {
                    dims[d] = KILN_DIM_UNKNOWN;
                }
            } else if (dims[d] >= 0 && v >= 0 && dims[d] != v) {
                return kiln_shape_fail(c, "input %u has dim %d of %lld, other inputs %lld", i, (int)d, (long long)v,
                                       (long long)dims[d]);
            } else {
                dims[d] = kiln_dim_merge(dims[d], v);
            }
        }
    }
    kiln_shape_set(c, 0, x0->t.dtype, r, dims);
    return KILN_OK;
}

kiln_status kiln_shape_split_sizes(kiln_shape_ctx *c, int64_t dim, int64_t *sizes, int *known) {
    uint32_t nout = c->n_out;
    int64_t split[256];
    uint32_t n = 0;
    int given = 0, vknown = 1;
    *known = 0;
    if (nout > 256) return kiln_shape_fail(c, "at most 256 outputs are supported");
    if (c->opset < 13) {
        const int64_t *a = kiln_attr_ints(c->node, "split", &n);
        if (a) {
            given = 1;
            if (n > 256) return kiln_shape_fail(c, "split has %u entries", n);
            for (uint32_t i = 0; i < n; i++) split[i] = a[i];
        } else if (c->opset < 2 && kiln_shape_in(c, 1)) {
            given = 1;
            KILN_TRY(kiln_shape_ints(c, 1, split, 256, &n, &vknown));
        }
    } else if (kiln_shape_in(c, 1)) {
        given = 1;
        KILN_TRY(kiln_shape_ints(c, 1, split, 256, &n, &vknown));
    }
    int64_t num = c->opset >= 18 ? kiln_attr_int(c->node, "num_outputs", 0) : 0;
    if (given && num) return kiln_shape_fail(c, "both split and num_outputs are given");
    if (num && (num < 1 || num != (int64_t)nout))
        return kiln_shape_fail(c, "num_outputs is %lld but the node has %u outputs", (long long)num, nout);
    if (!vknown) return KILN_OK;
    if (given) {
        if (n != nout) return kiln_shape_fail(c, "split has %u entries for %u outputs", n, nout);
        int64_t sum = 0;
        for (uint32_t i = 0; i < n; i++) {
            if (split[i] < 0) return kiln_shape_fail(c, "split size %lld is negative", (long long)split[i]);
            if (__builtin_add_overflow(sum, split[i], &sum)) return kiln_shape_fail(c, "split sizes overflow");
            sizes[i] = split[i];
        }
        if (dim >= 0 && sum != dim)
            return kiln_shape_fail(c, "split sizes add up to %lld, the axis has %lld", (long long)sum, (long long)dim);
        *known = 1;
        return KILN_OK;
    }
    if (dim < 0) return KILN_OK;
    int64_t part = dim / nout;
    if (dim % nout) {
        if (!num) return kiln_shape_fail(c, "dim %lld cannot be split into %u equal parts", (long long)dim, nout);
        part += 1;
        if (part * (int64_t)(nout - 1) > dim)
            return kiln_shape_fail(c, "dim %lld cannot be split into %u parts", (long long)dim, nout);
    }
    for (uint32_t i = 0; i < nout; i++) sizes[i] = i + 1 < nout ? part : dim - part * (int64_t)(nout - 1);
    *known = 1;
    return KILN_OK;
}

kiln_status kiln_infer_split(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    if (c->n_out == 0) return kiln_shape_fail(c, "needs at least one output");
    int32_t r = x->t.rank;
    if (r < 0) {
        for (uint32_t i = 0; i < c->n_out; i++) kiln_shape_set(c, i, x->t.dtype, -1, NULL);
        return KILN_OK;
    }
    int32_t axis;
    KILN_TRY(kiln_shape_axis(c, kiln_attr_int(c->node, "axis", 0), r, &axis));
    int64_t sizes[256];
    int known;
    KILN_TRY(kiln_shape_split_sizes(c, x->t.dims[axis], sizes, &known));
    for (uint32_t i = 0; i < c->n_out; i++) {
        int64_t dims[KILN_MAX_RANK];
        memcpy(dims, x->t.dims, sizeof(int64_t) * (size_t)r);
        dims[axis] = known ? sizes[i] : KILN_DIM_UNKNOWN;
        kiln_shape_set(c, i, x->t.dtype, r, dims);
    }
    return KILN_OK;
}

/* ---- generated tensors ---- */

kiln_status kiln_infer_constant_of_shape(kiln_shape_ctx *c) {
    const kiln_shape_val *s;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &s));
    if (s->t.rank >= 0 && s->t.rank != 1) return kiln_shape_fail(c, "input must be 1-D");
    int32_t dtype = KILN_DTYPE_FLOAT;
    const kiln_attr *a = kiln_node_attr(c->node, "value");
    if (a) {
        if (a->type != KILN_ATTR_TENSOR) return kiln_shape_fail(c, "attribute 'value' must be a tensor");
        if (a->tensors[0]->desc.count != 1) return kiln_shape_fail(c, "attribute 'value' must have one element");
        dtype = a->tensors[0]->desc.dtype;
    }
    int64_t dims[KILN_MAX_RANK];
    uint32_t n;
    int known;
    KILN_TRY(kiln_shape_ints(c, 0, dims, KILN_MAX_RANK, &n, &known));
    if (!known) {
        int32_t r = s->t.rank == 1 && s->t.dims[0] >= 0 && s->t.dims[0] <= KILN_MAX_RANK ? (int32_t)s->t.dims[0] : -1;
        kiln_shape_set(c, 0, dtype, r, NULL);
        return KILN_OK;
    }
    int64_t total = 1;
    for (uint32_t i = 0; i < n; i++) {
        if (dims[i] < 0) return kiln_shape_fail(c, "dim %lld is negative", (long long)dims[i]);
        if (__builtin_mul_overflow(total, dims[i], &total)) return kiln_shape_fail(c, "element count overflows");
    }
    kiln_shape_set(c, 0, dtype, (int32_t)n, dims);
    return KILN_OK;
}

/* Scalar input i as a double (0 when its value is not known or not a plain number type). */
static int scalar_value(const kiln_shape_val *v, double *out, int64_t *iout) {
    if (!v->data) return 0;
    switch (v->t.dtype) {
    case KILN_DTYPE_FLOAT: *out = ((const float *)v->data)[0]; return 1;
    case KILN_DTYPE_DOUBLE: *out = ((const double *)v->data)[0]; return 1;
    case KILN_DTYPE_INT16: *iout = ((const int16_t *)v->data)[0]; return 2;
    case KILN_DTYPE_INT32: *iout = ((const int32_t *)v->data)[0]; return 2;
    case KILN_DTYPE_INT64: *iout = ((const int64_t *)v->data)[0]; return 2;
    default: return 0;
    }
}

static kiln_status range_count_f(double start, double limit, double delta, int64_t *n) {
    if (delta == 0 || isnan(delta) || isnan(start) || isnan(limit)) return KILN_ERR_SHAPE;
    double k = ceil((limit - start) / delta);
    if (!(k > 0)) k = 0;
    if (k > 9.0e15) return KILN_ERR_SHAPE;
    *n = (int64_t)k;
    return KILN_OK;
}

static kiln_status range_count_i(int64_t start, int64_t limit, int64_t delta, int64_t *n) {
    if (delta == 0) return KILN_ERR_SHAPE;
    /* In unsigned 128-bit-free arithmetic: the distance fits in uint64 since both are int64. */
    if ((delta > 0 && limit <= start) || (delta < 0 && limit >= start)) {
        *n = 0;
        return KILN_OK;
    }
    uint64_t dist = delta > 0 ? (uint64_t)limit - (uint64_t)start : (uint64_t)start - (uint64_t)limit;
    uint64_t step = delta > 0 ? (uint64_t)delta : (uint64_t)0 - (uint64_t)delta;
    uint64_t k = dist / step + (dist % step != 0);
    if (k > (uint64_t)INT64_MAX) return KILN_ERR_SHAPE;
    *n = (int64_t)k;
    return KILN_OK;
}

kiln_status kiln_infer_range(kiln_shape_ctx *c) {
    const kiln_shape_val *v[3];
    for (uint32_t i = 0; i < 3; i++) {
        KILN_TRY(kiln_shape_need_tensor(c, i, &v[i]));
        if (v[i]->t.dtype != v[0]->t.dtype) return kiln_shape_fail(c, "start, limit and delta must have the same type");
        if (v[i]->t.rank > 0 && !(v[i]->t.rank == 1 && (v[i]->t.dims[0] == 1 || v[i]->t.dims[0] < 0)))
            return kiln_shape_fail(c, "input %u must be a scalar", i);
    }
    double f[3];
    int64_t k[3];
    int kinds = 0;
    for (uint32_t i = 0; i < 3; i++) {
        int t = scalar_value(v[i], &f[i], &k[i]);
        if (!t) kinds = -1;
        else if (kinds >= 0) kinds = t;
    }
    int64_t n = KILN_DIM_UNKNOWN;
    if (kinds > 0) {
        kiln_status s = kinds == 1 ? range_count_f(f[0], f[1], f[2], &n) : range_count_i(k[0], k[1], k[2], &n);
        if (s != KILN_OK) return kiln_shape_fail(c, "delta is zero, or the range is invalid or too long");
    }
    kiln_shape_set(c, 0, v[0]->t.dtype, 1, &n);
    return KILN_OK;
}

kiln_status kiln_infer_eye_like(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    if (x->t.rank >= 0 && x->t.rank != 2) return kiln_shape_fail(c, "input must be 2-D, not rank %d", (int)x->t.rank);
    int64_t dt = kiln_attr_int(c->node, "dtype", x->t.dtype);
    if (!kiln_dtype_valid((int32_t)dt) || dt == KILN_DTYPE_STRING) return kiln_shape_fail(c, "dtype %lld is not valid here", (long long)dt);
    kiln_shape_set(c, 0, (int32_t)dt, 2, x->t.rank == 2 ? x->t.dims : NULL);
    return KILN_OK;
}

/* Inference Dropout: output = input; the optional mask has the input's shape (bool from opset 10,
 * the input's type before). */
kiln_status kiln_infer_dropout(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    kiln_shape_same(c, 0, 0);
    if (c->n_out > 1) kiln_shape_set(c, 1, c->opset >= 10 ? KILN_DTYPE_BOOL : x->t.dtype, x->t.rank, x->t.dims);
    return KILN_OK;
}
