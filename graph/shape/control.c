/* SPDX-License-Identifier: MIT */
/* Shape inference for the ops that own subgraphs (If, Loop, Scan): at session creation they type
 * their subgraphs' inputs, infer the subgraphs, and derive their outputs from the subgraphs'
 * outputs. At run time the kernels size every output themselves. */
#include <string.h>

#include "graph/shape/infer_fns.h"

/* The graph of attribute `name`, or a failure naming it. */
static kiln_status graph_attr(kiln_shape_ctx *c, const char *name, kiln_graph **out) {
    const kiln_attr *a = kiln_node_attr(c->node, name);
    if (!a || a->type != KILN_ATTR_GRAPH || a->n != 1 || !a->graphs || !a->graphs[0])
        return kiln_shape_fail(c, "attribute '%s' (a graph) is required", name);
    *out = a->graphs[0];
    return KILN_OK;
}

/* At run time: every output keeps the kind and dtype found at creation, with an unknown shape,
 * so the kernel allocates it. */
static kiln_status runtime_outputs(kiln_shape_ctx *c) {
    for (uint32_t i = 0; i < c->n_out; i++) {
        const kiln_value *v = c->node->outputs[i];
        if (!v) continue;
        c->out[i].t = v->type;
        c->out[i].t.rank = -1;
    }
    return KILN_OK;
}

static const char *kind_name(int kind) {
    switch (kind) {
    case KILN_VALUE_TENSOR: return "tensor";
    case KILN_VALUE_SEQUENCE: return "sequence";
    case KILN_VALUE_OPTIONAL: return "optional";
    default: return "value of unknown kind";
    }
}

/* Gives subgraph input `i` the type `t` the op feeds it, keeping what the subgraph declares where
 * `t` does not know better. A declared kind or dtype that contradicts `t` fails. */
static kiln_status bind_input(kiln_shape_ctx *c, kiln_graph *g, uint32_t i, const kiln_type *t) {
    kiln_value *v = g->inputs[i];
    kiln_type *d = &v->type;
    if (d->kind == KILN_VALUE_UNKNOWN) {
        *d = *t;
        return KILN_OK;
    }
    /* A tensor or sequence may flow into an input declared optional (and back out as present). */
    int same_kind = d->kind == t->kind || (d->kind == KILN_VALUE_OPTIONAL && (d->opt_kind == t->kind || !d->opt_kind)) ||
                    t->kind == KILN_VALUE_OPTIONAL;
    if (!same_kind)
        return kiln_shape_fail(c, "subgraph '%s' declares input '%s' as a %s, but it receives a %s", g->name, v->name,
                               kind_name(d->kind), kind_name(t->kind));
    if (d->dtype && t->dtype && d->dtype != t->dtype)
        return kiln_shape_fail(c, "subgraph '%s' declares input '%s' as %s, but it receives %s", g->name, v->name,
                               kiln_dtype_name((kiln_dtype)d->dtype), kiln_dtype_name((kiln_dtype)t->dtype));
    if (!d->dtype) d->dtype = t->dtype;
    if (t->kind != KILN_VALUE_OPTIONAL) {
        d->kind = t->kind;
        d->opt_kind = 0;
    }
    if (t->rank >= 0 && d->rank != t->rank) {
        d->rank = t->rank;
        memcpy(d->dims, t->dims, sizeof(d->dims));
    } else if (t->rank >= 0) {
        for (int32_t k = 0; k < t->rank; k++) d->dims[k] = kiln_dim_merge(t->dims[k], d->dims[k]);
    }
    return KILN_OK;
}

/* Type of a value that is `a` on one path and `b` on another: shared dims stay, others are unknown. */
static kiln_status join(kiln_shape_ctx *c, uint32_t o, const kiln_type *a, const kiln_type *b) {
    if (a->kind == KILN_VALUE_UNKNOWN || b->kind == KILN_VALUE_UNKNOWN) {
        c->out[o].t = a->kind == KILN_VALUE_UNKNOWN ? *b : *a;
        return KILN_OK;
    }
    int ka = a->kind == KILN_VALUE_OPTIONAL ? a->opt_kind : a->kind;
    int kb = b->kind == KILN_VALUE_OPTIONAL ? b->opt_kind : b->kind;
    if (ka && kb && ka != kb)
        return kiln_shape_fail(c, "output %u is a %s on one path and a %s on the other", o, kind_name(ka), kind_name(kb));
    if (a->dtype && b->dtype && a->dtype != b->dtype)
        return kiln_shape_fail(c, "output %u is %s on one path and %s on the other", o,
                               kiln_dtype_name((kiln_dtype)a->dtype), kiln_dtype_name((kiln_dtype)b->dtype));
    kiln_type t = *a;
    if (b->kind == KILN_VALUE_OPTIONAL) {
        t.kind = KILN_VALUE_OPTIONAL;
        t.opt_kind = (uint8_t)(ka ? ka : kb);
    }
    if (!t.dtype) t.dtype = b->dtype;
    if (a->rank != b->rank) {
        t.rank = -1;
    } else {
        for (int32_t k = 0; k < t.rank; k++)
            if (a->dims[k] != b->dims[k]) t.dims[k] = KILN_DIM_UNKNOWN;
    }
    c->out[o].t = t;
    return KILN_OK;
}

static void scalar(kiln_type *t, int32_t dtype) { kiln_type_tensor(t, dtype, 0, NULL); }

static kiln_status need_scalar_input(kiln_shape_ctx *c, uint32_t i, int32_t dtype, const char *what) {
    const kiln_shape_val *v = kiln_shape_in(c, i);
    if (!v) return KILN_OK;
    if (v->t.kind != KILN_VALUE_TENSOR || (v->t.dtype && v->t.dtype != dtype))
        return kiln_shape_fail(c, "%s must be a %s tensor", what, kiln_dtype_name((kiln_dtype)dtype));
    int64_t n;
    if (v->t.rank >= 0 && kiln_dims_count(v->t.dims, v->t.rank, &n) && n != 1)
        return kiln_shape_fail(c, "%s must hold one element, it has %lld", what, (long long)n);
    return KILN_OK;
}

/* ---- If ---- */

/* Whether graph g is `top` or nested in it. */
static int within(const kiln_graph *g, const kiln_graph *top) {
    for (; g; g = g->parent)
        if (g == top) return 1;
    return 0;
}

typedef struct saved_type {
    kiln_value *v;
    kiln_type t;
    kiln_const *k;
    uint32_t flags;
} saved_type;

/* Infers branch g. A branch can be ill-shaped for the shapes a model is built with and still be
 * valid when it never runs for them (exported models branch on shapes: a 2-D and a 3-D path).
 * So when its inference finds a contradiction, it is inferred again with the outer values' shapes
 * unknown (kind and dtype kept); if it runs, the run-time shape functions check it. */
static kiln_status infer_branch(kiln_shape_ctx *c, kiln_graph *g) {
    kiln_model *m = g->model;
    uint32_t n = 0, k = 0;
    for (uint32_t i = 0; i < m->n_graphs; i++)
        if (within(m->graphs[i], g)) n += m->graphs[i]->n_values;
    saved_type *saved = kiln_mem_calloc(m->alloc, n + 1, sizeof(*saved));
    kiln_value **outer = kiln_mem_calloc(m->alloc, g->n_values + 1, sizeof(*outer));
    kiln_value *relaxed = kiln_mem_calloc(m->alloc, g->n_values + 1, sizeof(*relaxed));
    kiln_status st = KILN_OK;
    if (!saved || !outer || !relaxed) {
        st = kiln_fail(c->err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    for (uint32_t i = 0; i < m->n_graphs; i++) {
        if (!within(m->graphs[i], g)) continue;
        for (uint32_t j = 0; j < m->graphs[i]->n_values; j++) {
            kiln_value *v = m->graphs[i]->values[j];
            saved[k++] = (saved_type){v, v->type, v->constant, v->flags};
        }
    }
    st = kiln_graph_infer(g, c->err);
    if (st != KILN_ERR_INVALID_MODEL) goto done;
    kiln_error first;
    if (c->err) first = *c->err;
    for (uint32_t i = 0; i < k; i++) {
        saved[i].v->type = saved[i].t;
        saved[i].v->constant = saved[i].k;
        saved[i].v->flags = saved[i].flags;
    }
    for (uint32_t j = 0; j < g->n_values; j++) {
        kiln_value *v = g->values[j];
        if (!(v->flags & KILN_VALUE_F_OUTER)) continue;
        outer[j] = v->outer;
        relaxed[j] = *v->outer;
        relaxed[j].type.rank = -1;
        relaxed[j].constant = NULL;
        v->outer = &relaxed[j];
    }
    st = kiln_graph_infer(g, c->err);
    for (uint32_t j = 0; j < g->n_values; j++)
        if (outer[j]) g->values[j]->outer = outer[j];
    if (st == KILN_ERR_INVALID_MODEL && c->err) *c->err = first; /* the precise message */
done:
    kiln_mem_free(m->alloc, saved);
    kiln_mem_free(m->alloc, outer);
    kiln_mem_free(m->alloc, relaxed);
    return st;
}

kiln_status kiln_infer_if(kiln_shape_ctx *c) {
    KILN_TRY(need_scalar_input(c, 0, KILN_DTYPE_BOOL, "cond"));
    if (!kiln_shape_in(c, 0)) return kiln_shape_fail(c, "input 'cond' is required");
    if (c->runtime) return runtime_outputs(c);
    kiln_graph *br[2] = {NULL, NULL};
    KILN_TRY(graph_attr(c, "then_branch", &br[0]));
    KILN_TRY(graph_attr(c, "else_branch", &br[1]));
    for (int b = 0; b < 2; b++) {
        if (br[b]->n_inputs)
            return kiln_shape_fail(c, "branch '%s' must take no inputs, it takes %u", br[b]->name, br[b]->n_inputs);
        if (br[b]->n_outputs != c->n_out)
            return kiln_shape_fail(c, "branch '%s' has %u outputs, the node has %u", br[b]->name, br[b]->n_outputs, c->n_out);
        KILN_TRY(infer_branch(c, br[b]));
    }
    for (uint32_t o = 0; o < c->n_out; o++) KILN_TRY(join(c, o, &br[0]->outputs[o]->type, &br[1]->outputs[o]->type));
    return KILN_OK;
}

/* ---- Loop ---- */

kiln_status kiln_infer_loop(kiln_shape_ctx *c) {
    if (c->n_in < 2) return kiln_shape_fail(c, "needs inputs M and cond (either may be empty)");
    KILN_TRY(need_scalar_input(c, 0, KILN_DTYPE_INT64, "M"));
    KILN_TRY(need_scalar_input(c, 1, KILN_DTYPE_BOOL, "cond"));
    uint32_t n_carried = c->n_in - 2;
    if (c->n_out < n_carried)
        return kiln_shape_fail(c, "has %u loop-carried inputs but only %u outputs", n_carried, c->n_out);
    for (uint32_t j = 0; j < n_carried; j++)
        if (!kiln_shape_in(c, 2 + j)) return kiln_shape_fail(c, "loop-carried input %u is empty", j);
    if (c->runtime) return runtime_outputs(c);
    kiln_graph *body = NULL;
    KILN_TRY(graph_attr(c, "body", &body));
    uint32_t n_scan = c->n_out - n_carried;
    if (body->n_inputs != 2 + n_carried)
        return kiln_shape_fail(c, "body '%s' takes %u inputs, the loop gives it %u", body->name, body->n_inputs, 2 + n_carried);
    if (body->n_outputs != 1 + n_carried + n_scan)
        return kiln_shape_fail(c, "body '%s' has %u outputs, the loop needs %u", body->name, body->n_outputs,
                               1 + n_carried + n_scan);
    kiln_type t;
    scalar(&t, KILN_DTYPE_INT64);
    KILN_TRY(bind_input(c, body, 0, &t));
    scalar(&t, KILN_DTYPE_BOOL);
    KILN_TRY(bind_input(c, body, 1, &t));
    for (uint32_t j = 0; j < n_carried; j++) {
        /* Loop-carried values may change shape from one iteration to the next: only the kind,
         * dtype and rank of the initial value are certain. */
        t = c->in[2 + j].t;
        for (int32_t k = 0; k < t.rank; k++) t.dims[k] = KILN_DIM_UNKNOWN;
        KILN_TRY(bind_input(c, body, 2 + j, &t));
    }
    KILN_TRY(kiln_graph_infer(body, c->err));
    const kiln_type *bc = &body->outputs[0]->type;
    if (bc->kind != KILN_VALUE_UNKNOWN && (bc->kind != KILN_VALUE_TENSOR || (bc->dtype && bc->dtype != KILN_DTYPE_BOOL)))
        return kiln_shape_fail(c, "body output 0 (the condition) must be a bool tensor");
    for (uint32_t j = 0; j < n_carried; j++) {
        const kiln_type *bo = &body->outputs[1 + j]->type;
        KILN_TRY(join(c, j, &c->in[2 + j].t, bo));
        if (c->out[j].t.kind == KILN_VALUE_OPTIONAL && c->in[2 + j].t.kind != KILN_VALUE_OPTIONAL &&
            bo->kind != KILN_VALUE_OPTIONAL)
            c->out[j].t.kind = c->in[2 + j].t.kind;
    }
    for (uint32_t k = 0; k < n_scan; k++) {
        const kiln_type *bo = &body->outputs[1 + n_carried + k]->type;
        if (bo->kind != KILN_VALUE_UNKNOWN && bo->kind != KILN_VALUE_TENSOR)
            return kiln_shape_fail(c, "scan output %u must be a tensor", k);
        if (bo->rank >= KILN_MAX_RANK) return kiln_shape_fail(c, "scan output %u would exceed rank %d", k, KILN_MAX_RANK);
        int64_t dims[KILN_MAX_RANK];
        dims[0] = KILN_DIM_UNKNOWN;
        if (bo->rank > 0) memcpy(dims + 1, bo->dims, (size_t)bo->rank * sizeof(int64_t));
        kiln_shape_set(c, n_carried + k, bo->dtype, bo->rank < 0 ? -1 : bo->rank + 1, dims);
    }
    return KILN_OK;
}

/* ---- Scan ---- */

/* An optional list attribute of `n` ints (NULL when absent: all 0); fails on a wrong length. */
static kiln_status scan_list(kiln_shape_ctx *c, const char *name, uint32_t n, const int64_t **out) {
    uint32_t count;
    *out = kiln_attr_ints(c->node, name, &count);
    if (*out && count != n) return kiln_shape_fail(c, "attribute '%s' has %u entries, %u expected", name, count, n);
    return KILN_OK;
}

kiln_status kiln_infer_scan(kiln_shape_ctx *c) {
    int v8 = c->opset < 9;
    uint32_t first = v8 ? 1 : 0; /* Scan-8 starts with the optional sequence_lens */
    int64_t m = kiln_attr_int(c->node, "num_scan_inputs", -1);
    if (m < 1 || m > (int64_t)(c->n_in - first))
        return kiln_shape_fail(c, "num_scan_inputs %lld is out of range [1, %u]", (long long)m, c->n_in - first);
    uint32_t n_scan_in = (uint32_t)m, n_state = c->n_in - first - n_scan_in;
    if (c->n_out < n_state) return kiln_shape_fail(c, "has %u state inputs but only %u outputs", n_state, c->n_out);
    uint32_t n_scan_out = c->n_out - n_state;
    for (uint32_t i = first; i < c->n_in; i++) {
        const kiln_shape_val *v;
        KILN_TRY(kiln_shape_need_tensor(c, i, &v));
    }
    if (v8 && kiln_shape_in(c, 0)) {
        const kiln_shape_val *sl = kiln_shape_in(c, 0);
        if (sl->t.kind != KILN_VALUE_TENSOR || (sl->t.dtype && sl->t.dtype != KILN_DTYPE_INT64))
            return kiln_shape_fail(c, "sequence_lens must be an int64 tensor");
    }
    if (c->runtime) return runtime_outputs(c);
    kiln_graph *body = NULL;
    KILN_TRY(graph_attr(c, "body", &body));
    if (body->n_inputs != n_state + n_scan_in)
        return kiln_shape_fail(c, "body '%s' takes %u inputs, the scan gives it %u", body->name, body->n_inputs,
                               n_state + n_scan_in);
    if (body->n_outputs != c->n_out)
        return kiln_shape_fail(c, "body '%s' has %u outputs, the node has %u", body->name, body->n_outputs, c->n_out);
    /* Axes: Scan-8 has batch axis 0 and scan axis 1 everywhere; Scan-9 has per-input and
     * per-output axes (negative from 11, checked against the ranks when known). */
    const int64_t *in_axes = NULL, *out_axes = NULL, *dirs;
    if (v8) {
        KILN_TRY(scan_list(c, "directions", n_scan_in, &dirs));
    } else {
        KILN_TRY(scan_list(c, "scan_input_axes", n_scan_in, &in_axes));
        KILN_TRY(scan_list(c, "scan_output_axes", n_scan_out, &out_axes));
        KILN_TRY(scan_list(c, "scan_input_directions", n_scan_in, &dirs));
        KILN_TRY(scan_list(c, "scan_output_directions", n_scan_out, &dirs));
    }
    /* The batch dim (Scan-8) and the scan length, where known. */
    int64_t batch = KILN_DIM_UNKNOWN, len = KILN_DIM_UNKNOWN;
    for (uint32_t i = 0; i < n_scan_in; i++) {
        kiln_type t = c->in[first + n_state + i].t;
        if (t.rank < 0) {
            t.kind = KILN_VALUE_TENSOR;
            KILN_TRY(bind_input(c, body, n_state + i, &t));
            continue;
        }
        int32_t axis;
        if (v8 && t.rank < 2) return kiln_shape_fail(c, "scan input %u must have a batch and a sequence axis", i);
        KILN_TRY(kiln_shape_axis(c, v8 ? 1 : in_axes ? in_axes[i] : 0, t.rank, &axis));
        if (t.dims[axis] >= 0) {
            if (len >= 0 && len != t.dims[axis])
                return kiln_shape_fail(c, "scan inputs have different lengths (%lld and %lld)", (long long)len,
                                       (long long)t.dims[axis]);
            len = t.dims[axis];
        }
        int32_t drop0 = v8 ? 1 : 0;
        if (v8) batch = kiln_dim_merge(batch, t.dims[0]);
        kiln_type e = t;
        e.rank = 0;
        for (int32_t k = drop0; k < t.rank; k++)
            if (k != axis) e.dims[e.rank++] = t.dims[k];
        KILN_TRY(bind_input(c, body, n_state + i, &e));
    }
    for (uint32_t j = 0; j < n_state; j++) {
        kiln_type t = c->in[first + j].t;
        if (v8 && t.rank == 0) return kiln_shape_fail(c, "state input %u must have a batch axis", j);
        if (v8 && t.rank > 0) {
            batch = kiln_dim_merge(batch, t.dims[0]);
            memmove(t.dims, t.dims + 1, (size_t)(t.rank - 1) * sizeof(int64_t));
            t.rank--;
        }
        KILN_TRY(bind_input(c, body, j, &t));
    }
    KILN_TRY(kiln_graph_infer(body, c->err));
    for (uint32_t j = 0; j < c->n_out; j++) {
        const kiln_type *bo = &body->outputs[j]->type;
        if (bo->kind != KILN_VALUE_UNKNOWN && bo->kind != KILN_VALUE_TENSOR)
            return kiln_shape_fail(c, "body output %u must be a tensor", j);
        int32_t add = j < n_state ? (v8 ? 1 : 0) : (v8 ? 2 : 1);
        if (bo->rank < 0) {
            kiln_shape_set(c, j, bo->dtype, -1, NULL);
            continue;
        }
        if (bo->rank + add > KILN_MAX_RANK) return kiln_shape_fail(c, "output %u would exceed rank %d", j, KILN_MAX_RANK);
        int64_t dims[KILN_MAX_RANK];
        int32_t r = 0;
        if (v8) dims[r++] = batch;
        if (j < n_state) {
            memcpy(dims + r, bo->dims, (size_t)bo->rank * sizeof(int64_t));
        } else {
            /* Scan-8: the sequence axis follows the batch axis. */
            int64_t ax = v8 || !out_axes ? 0 : out_axes[j - n_state];
            int32_t orank = bo->rank + 1;
            if (ax < -(int64_t)orank || ax >= orank)
                return kiln_shape_fail(c, "scan_output_axes[%u] = %lld is out of range for rank %d", j - n_state,
                                       (long long)ax, (int)orank);
            if (ax < 0) ax += orank;
            for (int32_t k = 0, s = 0; k <= bo->rank; k++) {
                if (k == ax) dims[r++] = len;
                if (k < bo->rank) dims[r++] = bo->dims[s++];
            }
        }
        kiln_shape_set(c, j, bo->dtype, bo->rank + add, dims);
    }
    return KILN_OK;
}
