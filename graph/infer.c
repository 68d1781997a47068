/* SPDX-License-Identifier: MIT */
/* The inference driver (graph time) and the helpers shape functions share: broadcasting, axis
 * normalization, reading known integer inputs, error messages naming the node. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "graph/size_bounds.h"
#include "graph/ops.h"
#include "graph/shape.h"

kiln_status kiln_shape_fail(kiln_shape_ctx *c, const char *fmt, ...) {
    kiln_status s = c->runtime ? KILN_ERR_SHAPE : KILN_ERR_INVALID_MODEL;
    if (c->err) {
        char msg[KILN_ERROR_MSG_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        kiln_fail(c->err, s, KILN_NODE_FMT ": %s", KILN_NODE_ARGS(c->node), msg);
    }
    return s;
}

kiln_status kiln_shape_need_tensor(kiln_shape_ctx *c, uint32_t i, const kiln_shape_val **out) {
    const kiln_shape_val *v = kiln_shape_in(c, i);
    if (!v) return kiln_shape_fail(c, "input %u is required", i);
    if (v->t.kind != KILN_VALUE_TENSOR || !kiln_dtype_valid(v->t.dtype))
        return kiln_shape_fail(c, "input %u must be a tensor of known type", i);
    *out = v;
    return KILN_OK;
}

void kiln_shape_set(kiln_shape_ctx *c, uint32_t i, int32_t dtype, int32_t rank, const int64_t *dims) {
    if (i >= c->n_out) return;
    kiln_type_tensor(&c->out[i].t, dtype, rank, dims);
}

void kiln_shape_same(kiln_shape_ctx *c, uint32_t o, uint32_t i) {
    if (o >= c->n_out || i >= c->n_in) return;
    c->out[o].t = c->in[i].t;
}

kiln_status kiln_shape_axis(kiln_shape_ctx *c, int64_t axis, int32_t rank, int32_t *out) {
    if (axis < -(int64_t)rank || axis >= rank)
        return kiln_shape_fail(c, "axis %lld is out of range for rank %d", (long long)axis, (int)rank);
    *out = (int32_t)(axis < 0 ? axis + rank : axis);
    return KILN_OK;
}

int64_t kiln_dim_merge(int64_t a, int64_t b) {
    if (a >= 0) return a;
    if (b >= 0) return b;
    if (a == b) return a;
    return kiln_dim_is_symbol(a) ? a : b;
}

kiln_status kiln_shape_broadcast(kiln_shape_ctx *c, const kiln_type *const *ts, uint32_t n,
                                 int32_t *rank, int64_t *dims) {
    int32_t r = 0;
    for (uint32_t k = 0; k < n; k++) {
        if (ts[k]->rank < 0) {
            *rank = -1;
            return KILN_OK;
        }
        if (ts[k]->rank > r) r = ts[k]->rank;
    }
    for (int32_t d = 0; d < r; d++) {
        int64_t out = 1;
        int unknown = 0;
        for (uint32_t k = 0; k < n; k++) {
            int32_t off = r - ts[k]->rank;
            if (d < off) continue;
            int64_t x = ts[k]->dims[d - off];
            if (x == 1) continue;
            if (x < 0) {
                /* A symbol broadcast with 1s stays that symbol; with anything else it is unknown. */
                if (out == 1 && !unknown) out = x;
                else if (out != x) unknown = 1;
                continue;
            }
            if (out == 1 || out < 0) {
                out = x;
            } else if (out != x) {
                return kiln_shape_fail(c, "inputs cannot be broadcast: dim %d is %lld in one input and %lld in another",
                                       (int)d, (long long)out, (long long)x);
            }
        }
        dims[d] = unknown && out < 0 ? KILN_DIM_UNKNOWN : out;
    }
    *rank = r;
    return KILN_OK;
}

kiln_status kiln_shape_ints(kiln_shape_ctx *c, uint32_t i, int64_t *vals, uint32_t max,
                            uint32_t *count, int *known) {
    *known = 0;
    *count = 0;
    const kiln_shape_val *v = kiln_shape_in(c, i);
    if (!v) return kiln_shape_fail(c, "input %u is required", i);
    if (v->t.kind != KILN_VALUE_TENSOR ||
        (v->t.dtype != KILN_DTYPE_INT64 && v->t.dtype != KILN_DTYPE_INT32))
        return kiln_shape_fail(c, "input %u must be an int64 or int32 tensor", i);
    if (!v->data) return KILN_OK;
    int64_t n;
    if (!kiln_dims_count(v->t.dims, v->t.rank, &n)) return KILN_OK;
    if (n > (int64_t)max) return kiln_shape_fail(c, "input %u has %lld values, at most %u allowed", i, (long long)n, max);
    for (int64_t k = 0; k < n; k++)
        vals[k] = v->t.dtype == KILN_DTYPE_INT64 ? ((const int64_t *)v->data)[k] : ((const int32_t *)v->data)[k];
    *count = (uint32_t)n;
    *known = 1;
    return KILN_OK;
}

/* ---- driver ---- */

/* The value of a Constant node as a kiln_const (value, value_float(s), value_int(s),
 * value_string(s), sparse_value). */
static kiln_status constant_value(kiln_node *n, kiln_const **out, kiln_error *err) {
    kiln_model *m = n->graph->model;
    *out = NULL;
    if (n->n_attrs != 1)
        return kiln_fail(err, KILN_ERR_INVALID_MODEL, KILN_NODE_FMT ": needs exactly one value attribute",
                         KILN_NODE_ARGS(n));
    const kiln_attr *a = &n->attrs[0];
    int64_t one = 1;
    void *data = NULL;
    int32_t dtype = 0, rank = 0;
    int64_t dim = 0;
    if (a->type == KILN_ATTR_TENSOR || a->type == KILN_ATTR_SPARSE_TENSOR) {
        *out = a->tensors[0];
        return KILN_OK;
    }
    if (strcmp(a->name, "value_float") == 0 && a->type == KILN_ATTR_FLOAT) {
        dtype = KILN_DTYPE_FLOAT;
        data = kiln_arena_memdup(&m->arena, &a->f, sizeof(float));
    } else if (strcmp(a->name, "value_int") == 0 && a->type == KILN_ATTR_INT) {
        dtype = KILN_DTYPE_INT64;
        data = kiln_arena_memdup(&m->arena, &a->i, sizeof(int64_t));
    } else if (strcmp(a->name, "value_floats") == 0 && a->type == KILN_ATTR_FLOATS) {
        dtype = KILN_DTYPE_FLOAT, rank = 1, dim = a->n;
        data = kiln_arena_memdup(&m->arena, a->floats, a->n * sizeof(float));
    } else if (strcmp(a->name, "value_ints") == 0 && a->type == KILN_ATTR_INTS) {
        dtype = KILN_DTYPE_INT64, rank = 1, dim = a->n;
        data = kiln_arena_memdup(&m->arena, a->ints, a->n * sizeof(int64_t));
    } else if (strcmp(a->name, "value_string") == 0 && a->type == KILN_ATTR_STRING) {
        dtype = KILN_DTYPE_STRING;
        data = kiln_arena_memdup(&m->arena, &a->s, sizeof(char *));
    } else if (strcmp(a->name, "value_strings") == 0 && a->type == KILN_ATTR_STRINGS) {
        dtype = KILN_DTYPE_STRING, rank = 1, dim = a->n;
        data = kiln_arena_memdup(&m->arena, a->strings, a->n * sizeof(char *));
    } else {
        return kiln_fail(err, KILN_ERR_INVALID_MODEL, KILN_NODE_FMT ": unknown value attribute '%s'",
                         KILN_NODE_ARGS(n), a->name);
    }
    (void)one;
    if (!data) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    return kiln_const_create(m, dtype, rank, &dim, data, out, err);
}

/* Combines what inference found with what the model declared (value_info, graph outputs). */
static void merge_type(kiln_type *inferred, const kiln_type *declared) {
    if (declared->kind == KILN_VALUE_UNKNOWN) return;
    if (inferred->kind == KILN_VALUE_UNKNOWN) {
        *inferred = *declared;
        return;
    }
    if (!inferred->dtype) inferred->dtype = declared->dtype;
    if (inferred->rank < 0) {
        inferred->rank = declared->rank;
        memcpy(inferred->dims, declared->dims, sizeof(inferred->dims));
    } else if (inferred->rank == declared->rank) {
        for (int32_t d = 0; d < inferred->rank; d++)
            inferred->dims[d] = kiln_dim_merge(inferred->dims[d], declared->dims[d]);
    }
}

#define STACK_IO 16

static kiln_status infer_node(kiln_node *n, kiln_error *err) {
    const kiln_allocator *a = n->graph->model->alloc;
    kiln_shape_val in_stack[STACK_IO], out_stack[STACK_IO];
    kiln_shape_val *in = n->n_inputs <= STACK_IO ? in_stack : kiln_mem_calloc(a, n->n_inputs, sizeof(*in));
    kiln_shape_val *out = n->n_outputs <= STACK_IO ? out_stack : kiln_mem_calloc(a, n->n_outputs, sizeof(*out));
    kiln_status s = KILN_OK;
    if (!in || !out) {
        s = kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    for (uint32_t i = 0; i < n->n_inputs; i++) {
        const kiln_value *v = n->inputs[i];
        memset(&in[i], 0, sizeof(in[i]));
        if (!v) continue;
        in[i].present = 1;
        in[i].t = v->type;
        in[i].data = v->constant ? v->constant->desc.data : NULL;
    }
    for (uint32_t i = 0; i < n->n_outputs; i++) {
        memset(&out[i], 0, sizeof(out[i]));
        out[i].t.kind = KILN_VALUE_UNKNOWN;
        out[i].t.rank = -1;
        out[i].present = n->outputs[i] != NULL;
    }
    kiln_shape_ctx c = {n, n->opset, n->n_inputs, n->n_outputs, in, out, err, 0};
    if ((s = n->op->infer(&c)) != KILN_OK) goto done;
    for (uint32_t i = 0; i < n->n_outputs; i++) {
        kiln_value *v = n->outputs[i];
        if (!v) continue;
        kiln_type t = out[i].t;
        merge_type(&t, &v->type);
        if (t.kind == KILN_VALUE_UNKNOWN || (t.kind != KILN_VALUE_OPTIONAL && !kiln_dtype_valid(t.dtype))) {
            s = kiln_fail(err, KILN_ERR_INVALID_MODEL, KILN_NODE_FMT ": cannot infer the type of output '%s'",
                          KILN_NODE_ARGS(n), v->name);
            goto done;
        }
        v->type = t;
    }
    if ((s = kiln_limit_check_outputs(n, n->graph->model->value_limit, err)) != KILN_OK) goto done; /* graph/size_bounds.c */
    if (n->op == &kiln_ops[KILN_OP_ONNX_Constant] && n->n_outputs == 1 && n->outputs[0]) {
        kiln_const *k;
        if ((s = constant_value(n, &k, err)) != KILN_OK) goto done;
        n->outputs[0]->constant = k;
        n->outputs[0]->flags |= KILN_VALUE_F_CONSTANT;
        kiln_type_tensor(&n->outputs[0]->type, k->desc.dtype, k->desc.rank, k->dims);
    }
done:
    if (in != in_stack) kiln_mem_free(a, in);
    if (out != out_stack) kiln_mem_free(a, out);
    return s;
}

kiln_status kiln_graph_infer(kiln_graph *g, kiln_error *err) {
    for (uint32_t i = 0; i < g->n_values; i++) {
        kiln_value *v = g->values[i];
        if (!(v->flags & KILN_VALUE_F_OUTER)) continue;
        v->type = v->outer->type;
        if (v->outer->constant) {
            v->constant = v->outer->constant;
            v->flags |= KILN_VALUE_F_CONSTANT;
        }
    }
    for (uint32_t i = 0; i < g->n_nodes; i++) KILN_TRY(infer_node(g->nodes[i], err));
    return KILN_OK;
}
