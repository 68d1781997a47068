/* SPDX-License-Identifier: MIT */
/* Shape inference for elementwise families: numpy broadcasting (and the opset < 7 `broadcast`/
 * `axis` form), comparisons with bool outputs, Pow's mixed types, PRelu, Where, variadic ops,
 * and ops whose output has the shape (and type, or bool) of their first input. */
#include <string.h>

#include "graph/shape/infer_fns.h"

static const char *dname(int32_t dt) { return kiln_dtype_name((kiln_dtype)dt); }

/* B's type as the opset < 7 broadcast sees it: with broadcast=1 and an `axis`, B's dims line
 * up with A's from that axis (padded with 1s to A's rank); otherwise numpy's right alignment,
 * which is the legacy suffix rule. */
static kiln_status legacy_b(kiln_shape_ctx *c, const kiln_type *a, const kiln_type *b, kiln_type *view,
                            const kiln_type **out) {
    *out = b;
    if (c->opset >= 7 || !kiln_attr_int(c->node, "broadcast", 0) || !kiln_node_attr(c->node, "axis")) return KILN_OK;
    if (a->rank < 0 || b->rank < 0) return KILN_OK;
    int64_t axis = kiln_attr_int(c->node, "axis", 0);
    if (axis < 0) axis += a->rank;
    if (axis < 0 || axis + b->rank > a->rank)
        return kiln_shape_fail(c, "broadcast axis %lld does not fit B of rank %d into A of rank %d",
                               (long long)kiln_attr_int(c->node, "axis", 0), (int)b->rank, (int)a->rank);
    *view = *b;
    view->rank = a->rank;
    for (int32_t d = 0; d < a->rank; d++) view->dims[d] = d >= axis && d < axis + b->rank ? b->dims[d - axis] : 1;
    *out = view;
    return KILN_OK;
}

/* Broadcast of inputs 0 and 1 (legacy form included) into rank/dims; *t0 is input 0's type. */
static kiln_status binary_shape(kiln_shape_ctx *c, int same_dtype, const kiln_type **t0, int32_t *rank,
                                int64_t *dims) {
    const kiln_shape_val *a, *b;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &a));
    KILN_TRY(kiln_shape_need_tensor(c, 1, &b));
    if (same_dtype && a->t.dtype != b->t.dtype)
        return kiln_shape_fail(c, "inputs have different types (%s and %s)", dname(a->t.dtype), dname(b->t.dtype));
    kiln_type view;
    const kiln_type *ts[2] = {&a->t, NULL};
    KILN_TRY(legacy_b(c, &a->t, &b->t, &view, &ts[1]));
    KILN_TRY(kiln_shape_broadcast(c, ts, 2, rank, dims));
    *t0 = &a->t;
    return KILN_OK;
}

/* Binary arithmetic (Add, Sub, Mul, Div, Mod, BitShift, Bitwise*): inputs share a dtype;
 * output is their broadcast. */
kiln_status kiln_infer_broadcast(kiln_shape_ctx *c) {
    const kiln_type *t = NULL;
    int32_t rank;
    int64_t dims[KILN_MAX_RANK];
    KILN_TRY(binary_shape(c, 1, &t, &rank, dims));
    kiln_shape_set(c, 0, t->dtype, rank, dims);
    return KILN_OK;
}

/* Comparisons and logic (Equal, Less, ..., And, Or, Xor): same-typed inputs, bool output. */
kiln_status kiln_infer_compare(kiln_shape_ctx *c) {
    const kiln_type *t = NULL;
    int32_t rank;
    int64_t dims[KILN_MAX_RANK];
    KILN_TRY(binary_shape(c, 1, &t, &rank, dims));
    kiln_shape_set(c, 0, KILN_DTYPE_BOOL, rank, dims);
    return KILN_OK;
}

/* Pow: the exponent may have another numeric type; the output has the base's. */
kiln_status kiln_infer_pow(kiln_shape_ctx *c) {
    const kiln_type *t = NULL;
    int32_t rank;
    int64_t dims[KILN_MAX_RANK];
    KILN_TRY(binary_shape(c, 0, &t, &rank, dims));
    kiln_shape_set(c, 0, t->dtype, rank, dims);
    return KILN_OK;
}

/* PRelu: slope broadcasts to X (unidirectionally); before opset 7 a 1-D slope of X's channel
 * count applies per channel (axis 1). Output: X's type and shape. */
kiln_status kiln_infer_prelu(kiln_shape_ctx *c) {
    const kiln_shape_val *x, *s;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    KILN_TRY(kiln_shape_need_tensor(c, 1, &s));
    if (x->t.dtype != s->t.dtype)
        return kiln_shape_fail(c, "inputs have different types (%s and %s)", dname(x->t.dtype), dname(s->t.dtype));
    kiln_shape_same(c, 0, 0);
    if (x->t.rank < 0 || s->t.rank < 0) return KILN_OK;
    kiln_type view = s->t;
    if (c->opset < 7 && s->t.rank == 1 && x->t.rank >= 2 && s->t.dims[0] != 1 && s->t.dims[0] == x->t.dims[1]) {
        view.rank = x->t.rank - 1;
        for (int32_t d = 1; d < view.rank; d++) view.dims[d] = 1;
    }
    if (view.rank > x->t.rank)
        return kiln_shape_fail(c, "slope of rank %d does not broadcast to X of rank %d", (int)view.rank, (int)x->t.rank);
    const kiln_type *ts[2] = {&x->t, &view};
    int32_t rank;
    int64_t dims[KILN_MAX_RANK];
    KILN_TRY(kiln_shape_broadcast(c, ts, 2, &rank, dims));
    for (int32_t d = 0; d < rank; d++)
        if (x->t.dims[d] >= 0 && dims[d] >= 0 && dims[d] != x->t.dims[d])
            return kiln_shape_fail(c, "slope does not broadcast to X: dim %d would grow from %lld to %lld", (int)d,
                                   (long long)x->t.dims[d], (long long)dims[d]);
    return KILN_OK;
}

/* Where(condition, X, Y): bool condition, X and Y of one type; output their broadcast. */
kiln_status kiln_infer_where(kiln_shape_ctx *c) {
    const kiln_shape_val *v[3];
    for (uint32_t i = 0; i < 3; i++) KILN_TRY(kiln_shape_need_tensor(c, i, &v[i]));
    if (v[0]->t.dtype != KILN_DTYPE_BOOL)
        return kiln_shape_fail(c, "condition must be bool, not %s", dname(v[0]->t.dtype));
    if (v[1]->t.dtype != v[2]->t.dtype)
        return kiln_shape_fail(c, "X and Y have different types (%s and %s)", dname(v[1]->t.dtype), dname(v[2]->t.dtype));
    const kiln_type *ts[3] = {&v[0]->t, &v[1]->t, &v[2]->t};
    int32_t rank;
    int64_t dims[KILN_MAX_RANK];
    KILN_TRY(kiln_shape_broadcast(c, ts, 3, &rank, dims));
    kiln_shape_set(c, 0, v[1]->t.dtype, rank, dims);
    return KILN_OK;
}

/* Max, Min, Sum, Mean: one or more inputs of one type; output their broadcast. */
kiln_status kiln_infer_variadic(kiln_shape_ctx *c) {
    if (c->n_in == 0) return kiln_shape_fail(c, "needs at least one input");
    const kiln_type *ts[16];
    const kiln_type **all = ts;
    int32_t rank = 0;
    int64_t dims[KILN_MAX_RANK];
    /* Broadcast in groups of 16: the broadcast of a group's result with the next group is
     * the broadcast of all of them. */
    kiln_type acc;
    uint32_t n = 0;
    for (uint32_t i = 0; i < c->n_in; i++) {
        const kiln_shape_val *v;
        KILN_TRY(kiln_shape_need_tensor(c, i, &v));
        if (v->t.dtype != c->in[0].t.dtype)
            return kiln_shape_fail(c, "input %u is %s, input 0 is %s", i, dname(v->t.dtype), dname(c->in[0].t.dtype));
        all[n++] = &v->t;
        if (n == 16 || i + 1 == c->n_in) {
            KILN_TRY(kiln_shape_broadcast(c, all, n, &rank, dims));
            kiln_type_tensor(&acc, c->in[0].t.dtype, rank, dims);
            all[0] = &acc;
            n = 1;
        }
    }
    kiln_shape_set(c, 0, c->in[0].t.dtype, rank, rank >= 0 ? dims : NULL);
    return KILN_OK;
}

/* Output 0 has the type and shape of input 0 (and so do further outputs that are present). */
kiln_status kiln_infer_same(kiln_shape_ctx *c) {
    if (!kiln_shape_in(c, 0)) return kiln_shape_fail(c, "input 0 is required");
    kiln_shape_same(c, 0, 0);
    return KILN_OK;
}

/* IsNaN, IsInf: input 0's shape, bool. */
kiln_status kiln_infer_predicate(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    kiln_shape_set(c, 0, KILN_DTYPE_BOOL, x->t.rank, x->t.rank >= 0 ? x->t.dims : NULL);
    return KILN_OK;
}

/* SwiGLU(A, B): identical shapes and types, no broadcasting. */
kiln_status kiln_infer_swiglu(kiln_shape_ctx *c) {
    const kiln_shape_val *a, *b;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &a));
    KILN_TRY(kiln_shape_need_tensor(c, 1, &b));
    if (a->t.dtype != b->t.dtype)
        return kiln_shape_fail(c, "inputs have different types (%s and %s)", dname(a->t.dtype), dname(b->t.dtype));
    kiln_type t = a->t;
    if (a->t.rank >= 0 && b->t.rank >= 0) {
        if (a->t.rank != b->t.rank)
            return kiln_shape_fail(c, "A has rank %d and B rank %d; SwiGLU does not broadcast", (int)a->t.rank,
                                   (int)b->t.rank);
        for (int32_t d = 0; d < t.rank; d++) {
            if (a->t.dims[d] >= 0 && b->t.dims[d] >= 0 && a->t.dims[d] != b->t.dims[d])
                return kiln_shape_fail(c, "A and B differ in dim %d (%lld and %lld); SwiGLU does not broadcast", (int)d,
                                       (long long)a->t.dims[d], (long long)b->t.dims[d]);
            t.dims[d] = kiln_dim_merge(a->t.dims[d], b->t.dims[d]);
        }
    } else if (a->t.rank < 0) {
        t = b->t;
    }
    kiln_shape_set(c, 0, t.dtype, t.rank, t.rank >= 0 ? t.dims : NULL);
    return KILN_OK;
}
