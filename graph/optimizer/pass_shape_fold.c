/* SPDX-License-Identifier: MIT */
/* Folding of shape subgraphs where the dims are known: Constant nodes become constants; Shape and
 * Size of a tensor with static dims; and Gather, Unsqueeze, Squeeze, Concat, Cast of small integer
 * constants (the Shape -> Gather -> Unsqueeze -> Concat -> Reshape chain of exported models). */
#include <string.h>

#include "graph/optimizer/optimizer.h"

#define SMALL 64

/* Output 0 of n becomes a constant with these ints (int64) and dims; n goes. */
static kiln_status fold_ints(kiln_opt_ctx *c, kiln_node *n, const int64_t *vals, int32_t rank, const int64_t *dims) {
    kiln_value *cv;
    KILN_TRY(kiln_rw_add_const(c->rw, n->outputs[0]->name, KILN_DTYPE_INT64, rank, dims, vals, &cv));
    int done = 0;
    KILN_TRY(kiln_rw_replace_uses(c->rw, n->outputs[0], cv, &done));
    if (!done) return KILN_OK; /* a graph output: the node stays */
    KILN_TRY(kiln_rw_remove_node(c->rw, n));
    c->fired++;
    return KILN_OK;
}

static kiln_status fold_constant_node(kiln_opt_ctx *c, kiln_node *n) {
    const kiln_attr *a = kiln_node_attr(n, "value");
    if (!a || a->type != KILN_ATTR_TENSOR || !a->tensors || !a->tensors[0] || n->n_attrs != 1) return KILN_OK;
    kiln_value *y = n->outputs[0];
    if (kiln_rw_is_output(y)) return KILN_OK;
    kiln_value *cv;
    KILN_TRY(kiln_rw_add_value(c->rw, y->name, &y->type, &cv));
    cv->constant = a->tensors[0];
    cv->flags |= KILN_VALUE_F_CONSTANT | KILN_VALUE_F_INITIALIZER;
    kiln_type_tensor(&cv->type, cv->constant->desc.dtype, cv->constant->desc.rank, cv->constant->dims);
    int done = 0;
    KILN_TRY(kiln_rw_replace_uses(c->rw, y, cv, &done));
    if (!done) return KILN_OK;
    KILN_TRY(kiln_rw_remove_node(c->rw, n));
    c->fired++;
    return KILN_OK;
}

kiln_status kiln_pass_shape_folding(kiln_opt_ctx *c) {
    kiln_graph *g = c->rw->g;
    for (uint32_t i = 0; i < g->n_nodes; i++) {
        kiln_node *n = g->nodes[i];
        if (kiln_rw_is_removed(c->rw, n) || n->n_outputs < 1 || !n->outputs[0]) continue;
        if (kiln_opt_is(n, "Constant")) {
            KILN_TRY(fold_constant_node(c, n));
            continue;
        }
        if (n->n_inputs < 1 || !n->inputs[0]) continue;
        const kiln_type *xt = &n->inputs[0]->type;
        int64_t out[SMALL];
        if (kiln_opt_is(n, "Shape") && kiln_rw_static(xt)) {
            int64_t r = xt->rank, s = kiln_attr_int(n, "start", 0), e = kiln_attr_int(n, "end", r);
            if (s < 0) s += r;
            if (e < 0) e += r;
            s = s < 0 ? 0 : s > r ? r : s;
            e = e < 0 ? 0 : e > r ? r : e;
            int64_t k = e > s ? e - s : 0;
            for (int64_t j = 0; j < k; j++) out[j] = xt->dims[s + j];
            KILN_TRY(fold_ints(c, n, out, 1, &k));
        } else if (kiln_opt_is(n, "Size") && kiln_rw_static(xt)) {
            out[0] = 1;
            for (int32_t j = 0; j < xt->rank; j++) out[0] *= xt->dims[j];
            KILN_TRY(fold_ints(c, n, out, 0, NULL));
        } else if (kiln_opt_is(n, "Gather") && n->n_inputs == 2 && kiln_attr_int(n, "axis", 0) == 0 &&
                   n->inputs[0]->constant && n->inputs[0]->constant->desc.rank == 1 && n->inputs[0]->type.dtype == KILN_DTYPE_INT64) {
            int64_t data[SMALL], idx[SMALL];
            int64_t nd = kiln_rw_const_ints(n->inputs[0], data, SMALL), ni = kiln_rw_const_ints(n->inputs[1], idx, SMALL);
            if (nd < 0 || ni < 0 || !n->inputs[1]->constant || n->inputs[1]->constant->desc.rank > 1) continue;
            int ok = 1;
            for (int64_t j = 0; j < ni; j++) {
                int64_t k = idx[j] < 0 ? idx[j] + nd : idx[j];
                if (k < 0 || k >= nd) ok = 0;
                else out[j] = data[k];
            }
            if (!ok) continue; /* out of range: the kernel reports it at run */
            const kiln_const *ic = n->inputs[1]->constant;
            KILN_TRY(fold_ints(c, n, out, ic->desc.rank, ic->dims));
        } else if ((kiln_opt_is(n, "Unsqueeze") || kiln_opt_is(n, "Squeeze") || kiln_opt_is(n, "Cast")) &&
                   n->inputs[0]->constant && kiln_rw_static(&n->outputs[0]->type) &&
                   (!kiln_opt_is(n, "Cast") || kiln_attr_int(n, "to", 0) == KILN_DTYPE_INT64) &&
                   (kiln_opt_is(n, "Cast") || n->inputs[0]->type.dtype == KILN_DTYPE_INT64)) {
            int64_t k = kiln_rw_const_ints(n->inputs[0], out, SMALL);
            if (k < 0) continue;
            const kiln_type *yt = &n->outputs[0]->type;
            KILN_TRY(fold_ints(c, n, out, yt->rank, yt->dims));
        } else if (kiln_opt_is(n, "Concat") && n->outputs[0]->type.dtype == KILN_DTYPE_INT64 && n->outputs[0]->type.rank == 1) {
            int64_t total = 0;
            int ok = 1;
            for (uint32_t j = 0; j < n->n_inputs && ok; j++) {
                const kiln_value *v = n->inputs[j];
                if (!v || !v->constant || v->constant->desc.rank != 1) {
                    ok = 0;
                    break;
                }
                int64_t k = kiln_rw_const_ints(v, out + total, SMALL - total);
                if (k < 0) ok = 0;
                else total += k;
            }
            if (ok) KILN_TRY(fold_ints(c, n, out, 1, &total));
        }
    }
    return KILN_OK;
}
