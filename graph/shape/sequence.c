/* SPDX-License-Identifier: MIT */
/* Shape inference for sequence ops (SequenceEmpty ... SequenceMap) and optionals. A sequence's
 * type carries its items' shape when they share one (never at run time: kernels read the items);
 * a present optional is its content at run time, an empty one a value of kind OPTIONAL. */
#include <string.h>

#include "graph/shape/infer_fns.h"

static kiln_status need_seq(kiln_shape_ctx *c, uint32_t i, const kiln_shape_val **out) {
    const kiln_shape_val *v = kiln_shape_in(c, i);
    *out = v;
    if (!v) return kiln_shape_fail(c, "input %u is required", i);
    if (v->t.kind != KILN_VALUE_SEQUENCE) return kiln_shape_fail(c, "input %u must be a sequence", i);
    return KILN_OK;
}

/* Optional input i, when given, must be an int32/int64 scalar or 1-D tensor (a position, which
 * kernels accept as any one-element tensor as exporters write [1] for scalars; a split). */
static kiln_status int_input(kiln_shape_ctx *c, uint32_t i, const char *what) {
    const kiln_shape_val *v = kiln_shape_in(c, i);
    if (!v) return KILN_OK;
    if (v->t.kind != KILN_VALUE_TENSOR || (v->t.dtype != KILN_DTYPE_INT32 && v->t.dtype != KILN_DTYPE_INT64))
        return kiln_shape_fail(c, "%s must be an int32 or int64 tensor", what);
    if (v->t.rank > 1) return kiln_shape_fail(c, "%s must be a scalar or 1-D", what);
    return KILN_OK;
}

/* Output o: a sequence of `dtype` whose items have type `item` (NULL: unknown shape). */
static void set_seq(kiln_shape_ctx *c, uint32_t o, int32_t dtype, const kiln_type *item) {
    if (o >= c->n_out) return;
    kiln_type *t = &c->out[o].t;
    if (item) *t = *item;
    else kiln_type_tensor(t, dtype, -1, NULL);
    t->kind = KILN_VALUE_SEQUENCE;
    t->opt_kind = 0;
    t->dtype = dtype;
}

/* Item shape shared by `a` and `b`: equal dims stay, others are unknown. */
static void join_shape(kiln_type *a, const kiln_type *b) {
    if (a->rank != b->rank) {
        a->rank = -1;
        return;
    }
    for (int32_t d = 0; d < a->rank; d++)
        if (a->dims[d] != b->dims[d]) a->dims[d] = KILN_DIM_UNKNOWN;
}

kiln_status kiln_infer_sequence_empty(kiln_shape_ctx *c) {
    int64_t dt = kiln_attr_int(c->node, "dtype", KILN_DTYPE_FLOAT);
    if (dt > INT32_MAX || !kiln_dtype_valid((int32_t)dt)) return kiln_shape_fail(c, "dtype %lld is not a valid type", (long long)dt);
    set_seq(c, 0, (int32_t)dt, NULL);
    return KILN_OK;
}

kiln_status kiln_infer_sequence_construct(kiln_shape_ctx *c) {
    if (c->n_in == 0) return kiln_shape_fail(c, "needs at least one input");
    kiln_type item;
    for (uint32_t i = 0; i < c->n_in; i++) {
        const kiln_shape_val *v;
        KILN_TRY(kiln_shape_need_tensor(c, i, &v));
        if (i == 0) {
            item = v->t;
        } else {
            if (v->t.dtype != item.dtype)
                return kiln_shape_fail(c, "inputs have different types (%s and %s)", kiln_dtype_name((kiln_dtype)item.dtype),
                                       kiln_dtype_name((kiln_dtype)v->t.dtype));
            join_shape(&item, &v->t);
        }
    }
    set_seq(c, 0, item.dtype, &item);
    return KILN_OK;
}

kiln_status kiln_infer_sequence_at(kiln_shape_ctx *c) {
    const kiln_shape_val *s;
    KILN_TRY(need_seq(c, 0, &s));
    if (!kiln_shape_in(c, 1)) return kiln_shape_fail(c, "input 'position' is required");
    KILN_TRY(int_input(c, 1, "position"));
    kiln_shape_set(c, 0, s->t.dtype, s->t.rank, s->t.dims);
    return KILN_OK;
}

kiln_status kiln_infer_sequence_insert(kiln_shape_ctx *c) {
    const kiln_shape_val *s, *x;
    KILN_TRY(need_seq(c, 0, &s));
    KILN_TRY(kiln_shape_need_tensor(c, 1, &x));
    KILN_TRY(int_input(c, 2, "position"));
    if (s->t.dtype != x->t.dtype)
        return kiln_shape_fail(c, "cannot insert a %s tensor into a sequence of %s", kiln_dtype_name((kiln_dtype)x->t.dtype),
                               kiln_dtype_name((kiln_dtype)s->t.dtype));
    kiln_type item = s->t;
    join_shape(&item, &x->t);
    set_seq(c, 0, s->t.dtype, &item);
    return KILN_OK;
}

kiln_status kiln_infer_sequence_erase(kiln_shape_ctx *c) {
    const kiln_shape_val *s;
    KILN_TRY(need_seq(c, 0, &s));
    KILN_TRY(int_input(c, 1, "position"));
    set_seq(c, 0, s->t.dtype, &s->t);
    return KILN_OK;
}

kiln_status kiln_infer_sequence_length(kiln_shape_ctx *c) {
    const kiln_shape_val *s;
    KILN_TRY(need_seq(c, 0, &s));
    kiln_shape_set(c, 0, KILN_DTYPE_INT64, 0, NULL);
    return KILN_OK;
}

kiln_status kiln_infer_split_to_sequence(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    KILN_TRY(int_input(c, 1, "split"));
    if (x->t.rank < 0) {
        set_seq(c, 0, x->t.dtype, NULL);
        return KILN_OK;
    }
    if (x->t.rank == 0) return kiln_shape_fail(c, "cannot split a scalar");
    int32_t axis;
    KILN_TRY(kiln_shape_axis(c, kiln_attr_int(c->node, "axis", 0), x->t.rank, &axis));
    kiln_type item = x->t;
    if (kiln_shape_in(c, 1)) {
        item.dims[axis] = KILN_DIM_UNKNOWN;
    } else if (kiln_attr_int(c->node, "keepdims", 1)) {
        item.dims[axis] = 1;
    } else {
        memmove(item.dims + axis, item.dims + axis + 1, (size_t)(item.rank - axis - 1) * sizeof(int64_t));
        item.rank--;
    }
    set_seq(c, 0, x->t.dtype, &item);
    return KILN_OK;
}

kiln_status kiln_infer_concat_from_sequence(kiln_shape_ctx *c) {
    const kiln_shape_val *s;
    KILN_TRY(need_seq(c, 0, &s));
    if (!kiln_node_attr(c->node, "axis")) return kiln_shape_fail(c, "attribute 'axis' is required");
    int64_t axis = kiln_attr_int(c->node, "axis", 0);
    int new_axis = kiln_attr_int(c->node, "new_axis", 0) != 0;
    if (s->t.rank < 0) {
        kiln_shape_set(c, 0, s->t.dtype, -1, NULL);
        return KILN_OK;
    }
    int32_t r = s->t.rank + new_axis, a;
    if (r > KILN_MAX_RANK) return kiln_shape_fail(c, "the result would exceed rank %d", KILN_MAX_RANK);
    if (r == 0) return kiln_shape_fail(c, "cannot concatenate scalars without new_axis");
    KILN_TRY(kiln_shape_axis(c, axis, r, &a));
    int64_t dims[KILN_MAX_RANK];
    for (int32_t d = 0, k = 0; d < r; d++) dims[d] = new_axis && d == a ? KILN_DIM_UNKNOWN : s->t.dims[k++];
    dims[a] = KILN_DIM_UNKNOWN;
    kiln_shape_set(c, 0, s->t.dtype, r, dims);
    return KILN_OK;
}

kiln_status kiln_infer_sequence_map(kiln_shape_ctx *c) {
    const kiln_shape_val *s;
    KILN_TRY(need_seq(c, 0, &s));
    for (uint32_t i = 1; i < c->n_in; i++) {
        const kiln_shape_val *v = kiln_shape_in(c, i);
        if (!v || (v->t.kind != KILN_VALUE_TENSOR && v->t.kind != KILN_VALUE_SEQUENCE))
            return kiln_shape_fail(c, "input %u must be a tensor or a sequence", i);
    }
    if (c->runtime) {
        for (uint32_t o = 0; o < c->n_out; o++)
            if (c->node->outputs[o]) set_seq(c, o, c->node->outputs[o]->type.dtype, NULL);
        return KILN_OK;
    }
    const kiln_attr *a = kiln_node_attr(c->node, "body");
    if (!a || a->type != KILN_ATTR_GRAPH || !a->graphs || !a->graphs[0])
        return kiln_shape_fail(c, "attribute 'body' (a graph) is required");
    kiln_graph *body = a->graphs[0];
    if (body->n_inputs != c->n_in || body->n_outputs != c->n_out)
        return kiln_shape_fail(c, "body '%s' has %u inputs and %u outputs, the node %u and %u", body->name, body->n_inputs,
                               body->n_outputs, c->n_in, c->n_out);
    for (uint32_t i = 0; i < c->n_in; i++) {
        kiln_type t = c->in[i].t;
        t.kind = KILN_VALUE_TENSOR; /* a sequence gives the body one item */
        kiln_type *d = &body->inputs[i]->type;
        if (d->kind != KILN_VALUE_UNKNOWN && (d->kind != KILN_VALUE_TENSOR || (d->dtype && d->dtype != t.dtype)))
            return kiln_shape_fail(c, "body input '%s' does not match the %s it receives", body->inputs[i]->name,
                                   kiln_dtype_name((kiln_dtype)t.dtype));
        if (d->kind == KILN_VALUE_UNKNOWN || d->rank < 0 || d->rank != t.rank) *d = t;
        else
            for (int32_t k = 0; k < t.rank; k++) d->dims[k] = kiln_dim_merge(t.dims[k], d->dims[k]);
        d->dtype = t.dtype;
    }
    KILN_TRY(kiln_graph_infer(body, c->err));
    for (uint32_t o = 0; o < c->n_out; o++) {
        const kiln_type *bo = &body->outputs[o]->type;
        if (bo->kind != KILN_VALUE_TENSOR) return kiln_shape_fail(c, "body output %u must be a tensor", o);
        set_seq(c, o, bo->dtype, bo);
    }
    return KILN_OK;
}

/* ---- optionals ---- */

kiln_status kiln_infer_optional(kiln_shape_ctx *c) {
    const kiln_shape_val *x = kiln_shape_in(c, 0);
    kiln_type t;
    if (x) {
        if (x->t.kind != KILN_VALUE_TENSOR && x->t.kind != KILN_VALUE_SEQUENCE)
            return kiln_shape_fail(c, "input must be a tensor or a sequence");
        t = x->t;
    } else {
        const kiln_attr *a = kiln_node_attr(c->node, "type");
        if (!a || a->type != KILN_ATTR_TYPE_PROTO || !a->types)
            return kiln_shape_fail(c, "attribute 'type' is required when there is no input");
        t = a->types[0];
        if (t.kind != KILN_VALUE_TENSOR && t.kind != KILN_VALUE_SEQUENCE)
            return kiln_shape_fail(c, "attribute 'type' must be a tensor or sequence type");
        if (!kiln_dtype_valid(t.dtype)) return kiln_shape_fail(c, "attribute 'type' has no element type");
    }
    t.opt_kind = t.kind;
    t.kind = KILN_VALUE_OPTIONAL;
    if (c->runtime) t.rank = -1;
    if (c->n_out) c->out[0].t = t;
    return KILN_OK;
}

/* Input 0 of OptionalHasElement / OptionalGetElement: an optional (any kind from opset 18). */
static kiln_status opt_input(kiln_shape_ctx *c, int required, const kiln_shape_val **out) {
    const kiln_shape_val *x = kiln_shape_in(c, 0);
    *out = x;
    if (!x) return required || c->opset < 18 ? kiln_shape_fail(c, "input is required") : KILN_OK;
    /* At run time a present optional is its content. */
    int ok = x->t.kind == KILN_VALUE_OPTIONAL || c->runtime || c->opset >= 18;
    if (!ok) return kiln_shape_fail(c, "input must be an optional (tensors and sequences need opset 18)");
    if (x->t.kind != KILN_VALUE_OPTIONAL && x->t.kind != KILN_VALUE_TENSOR && x->t.kind != KILN_VALUE_SEQUENCE)
        return kiln_shape_fail(c, "input must be an optional, a tensor or a sequence");
    return KILN_OK;
}

kiln_status kiln_infer_optional_has_element(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    KILN_TRY(opt_input(c, 0, &x));
    kiln_shape_set(c, 0, KILN_DTYPE_BOOL, 0, NULL);
    return KILN_OK;
}

kiln_status kiln_infer_optional_get_element(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    KILN_TRY(opt_input(c, 1, &x));
    if (c->runtime && x->t.kind == KILN_VALUE_OPTIONAL) return kiln_shape_fail(c, "the optional is empty");
    if (c->n_out == 0) return KILN_OK;
    kiln_type t = x->t;
    if (t.kind == KILN_VALUE_OPTIONAL) t.kind = t.opt_kind ? t.opt_kind : KILN_VALUE_TENSOR;
    t.opt_kind = 0;
    c->out[0].t = t;
    return KILN_OK;
}
