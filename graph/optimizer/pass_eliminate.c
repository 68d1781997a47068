/* SPDX-License-Identifier: MIT */
/* Basic eliminations: Identity and inference-mode Dropout; no-op Cast, Reshape, Expand, Slice,
 * Transpose, Pad; dead nodes. */
#include <string.h>

#include "graph/optimizer/optimizer.h"

/* Readers of n's output 0 read `x` instead and n goes; nothing happens when that is not possible
 * (n's output is a graph output that x cannot stand for). */
static kiln_status bypass(kiln_opt_ctx *c, kiln_node *n, kiln_value *x) {
    int done = 0;
    KILN_TRY(kiln_rw_replace_uses(c->rw, n->outputs[0], x, &done));
    if (!done) return KILN_OK;
    for (uint32_t i = 1; i < n->n_outputs; i++)
        if (n->outputs[i] && (kiln_rw_use_count(c->rw, n->outputs[i]) || kiln_rw_is_output(n->outputs[i]))) return KILN_OK;
    KILN_TRY(kiln_rw_remove_node(c->rw, n));
    c->fired++;
    return KILN_OK;
}

static int usable(const kiln_opt_ctx *c, const kiln_node *n) {
    return !kiln_rw_is_removed(c->rw, n) && n->n_inputs >= 1 && n->inputs[0] && n->n_outputs >= 1 && n->outputs[0] &&
           n->inputs[0]->type.kind == KILN_VALUE_TENSOR;
}

kiln_status kiln_pass_identity_elimination(kiln_opt_ctx *c) {
    kiln_graph *g = c->rw->g;
    for (uint32_t i = 0; i < g->n_nodes; i++) {
        kiln_node *n = g->nodes[i];
        if (!usable(c, n)) continue;
        if (kiln_opt_is(n, "Identity")) {
            KILN_TRY(bypass(c, n, n->inputs[0]));
        } else if (kiln_opt_is(n, "Dropout")) {
            /* Inference mode: training_mode omitted or a constant false. The mask output must be unread. */
            if (n->n_inputs >= 3 && n->inputs[2]) {
                const kiln_const *t = n->inputs[2]->constant;
                if (!t || t->desc.dtype != KILN_DTYPE_BOOL || t->desc.count != 1 || ((const uint8_t *)t->desc.data)[0]) continue;
            }
            if (n->opset < 7 && kiln_attr_int(n, "is_test", 0) == 0) continue;
            KILN_TRY(bypass(c, n, n->inputs[0]));
        }
    }
    return KILN_OK;
}

static int all_ints(const kiln_value *v, int64_t want, int64_t *count) {
    int64_t vals[64];
    int64_t k = kiln_rw_const_ints(v, vals, 64);
    if (k < 0) return 0;
    for (int64_t i = 0; i < k; i++)
        if (vals[i] != want) return 0;
    if (count) *count = k;
    return 1;
}

static int same_static(const kiln_node *n) {
    const kiln_type *a = &n->inputs[0]->type, *b = &n->outputs[0]->type;
    return kiln_rw_static(a) && kiln_rw_static(b) && kiln_rw_same_type(a, b);
}

static int is_noop(const kiln_node *n) {
    const kiln_type *in = &n->inputs[0]->type;
    if (kiln_opt_is(n, "Cast")) {
        return n->opset >= 6 && in->dtype && kiln_attr_int(n, "to", 0) == in->dtype && !kiln_node_attr(n, "round_mode") &&
               !kiln_node_attr(n, "saturate");
    }
    if (kiln_opt_is(n, "Reshape") || kiln_opt_is(n, "Expand")) return same_static(n);
    if (kiln_opt_is(n, "Slice")) {
        if (n->opset < 10) return same_static(n);
        /* Whole-range slices with unit steps only: a reversed slice keeps the shape too. */
        if (n->n_inputs >= 5 && n->inputs[4] && !all_ints(n->inputs[4], 1, NULL)) return 0;
        return same_static(n);
    }
    if (kiln_opt_is(n, "Transpose")) {
        uint32_t k;
        const int64_t *perm = kiln_attr_ints(n, "perm", &k);
        if (!perm) return in->rank >= 0 && in->rank <= 1;
        for (uint32_t i = 0; i < k; i++)
            if (perm[i] != (int64_t)i) return 0;
        return 1;
    }
    if (kiln_opt_is(n, "Pad")) {
        if (n->opset < 11) {
            uint32_t k;
            const int64_t *pads = kiln_attr_ints(n, "pads", &k);
            for (uint32_t i = 0; i < k; i++)
                if (pads[i]) return 0;
            return pads != NULL;
        }
        return n->n_inputs >= 2 && n->inputs[1] && all_ints(n->inputs[1], 0, NULL);
    }
    return 0;
}

kiln_status kiln_pass_noop_elimination(kiln_opt_ctx *c) {
    kiln_graph *g = c->rw->g;
    for (uint32_t i = 0; i < g->n_nodes; i++) {
        kiln_node *n = g->nodes[i];
        if (usable(c, n) && is_noop(n)) KILN_TRY(bypass(c, n, n->inputs[0]));
    }
    return KILN_OK;
}

kiln_status kiln_pass_dead_nodes(kiln_opt_ctx *c) {
    kiln_graph *g = c->rw->g;
    for (uint32_t i = g->n_nodes; i-- > 0;) {
        kiln_node *n = g->nodes[i];
        if (kiln_rw_is_removed(c->rw, n) || n->n_outputs == 0) continue;
        int live = 0;
        for (uint32_t j = 0; j < n->n_outputs && !live; j++) {
            const kiln_value *v = n->outputs[j];
            if (v && v->producer == n && (kiln_rw_use_count(c->rw, v) || kiln_rw_is_output(v))) live = 1;
        }
        if (live) continue;
        KILN_TRY(kiln_rw_remove_node(c->rw, n));
        c->fired++;
    }
    return KILN_OK;
}
