/* SPDX-License-Identifier: MIT */
/* Chains: Reshape of a Reshape, Transpose of a Transpose, Squeeze/Unsqueeze pairs that undo each other. */
#include <string.h>

#include "graph/optimizer/optimizer.h"

static int live(const kiln_opt_ctx *c, const kiln_node *n) {
    return !kiln_rw_is_removed(c->rw, n) && n->n_inputs >= 1 && n->inputs[0] && n->n_outputs >= 1 && n->outputs[0];
}

kiln_status kiln_pass_reshape_chain(kiln_opt_ctx *c) {
    kiln_graph *g = c->rw->g;
    for (uint32_t i = 0; i < g->n_nodes; i++) {
        kiln_node *n = g->nodes[i];
        if (!live(c, n) || !kiln_opt_is(n, "Reshape") || n->opset < 5 || n->n_inputs < 2) continue;
        kiln_node *p = kiln_rw_producer(n, 0);
        if (!p || !kiln_opt_is(p, "Reshape") || !p->inputs[0]) continue;
        /* A 0 in the outer shape copies a dim of the inner Reshape's output, which x may not have. */
        int64_t shape[KILN_MAX_RANK + 1];
        int64_t k = kiln_rw_const_ints(n->inputs[1], shape, KILN_MAX_RANK + 1);
        if (k < 0) continue;
        int zero = 0;
        for (int64_t j = 0; j < k; j++) zero |= shape[j] == 0;
        if (zero && !kiln_attr_int(n, "allowzero", 0)) continue;
        KILN_TRY(kiln_rw_set_input(c->rw, n, 0, p->inputs[0]));
        c->fired++;
    }
    return KILN_OK;
}

/* The perm of Transpose n for rank r (default: reversed); 0 when unknown or invalid. */
static int perm_of(const kiln_node *n, int32_t r, int64_t *perm) {
    uint32_t k;
    const int64_t *p = kiln_attr_ints(n, "perm", &k);
    if (!p) {
        if (r < 0) return 0;
        for (int32_t i = 0; i < r; i++) perm[i] = r - 1 - i;
        return 1;
    }
    if ((int32_t)k != r || r > KILN_MAX_RANK) return 0;
    for (uint32_t i = 0; i < k; i++) {
        if (p[i] < 0 || p[i] >= r) return 0;
        perm[i] = p[i];
    }
    return 1;
}

kiln_status kiln_pass_transpose_chain(kiln_opt_ctx *c) {
    kiln_graph *g = c->rw->g;
    for (uint32_t i = 0; i < g->n_nodes; i++) {
        kiln_node *n = g->nodes[i];
        if (!live(c, n) || !kiln_opt_is(n, "Transpose")) continue;
        kiln_node *p = kiln_rw_producer(n, 0);
        if (!p || !kiln_opt_is(p, "Transpose") || !p->inputs[0]) continue;
        int32_t r = p->inputs[0]->type.rank;
        int64_t pa[KILN_MAX_RANK], pb[KILN_MAX_RANK], q[KILN_MAX_RANK];
        if (r < 1 || !perm_of(p, r, pa) || !perm_of(n, r, pb)) continue;
        int ident = 1;
        for (int32_t j = 0; j < r; j++) {
            q[j] = pa[pb[j]];
            ident &= q[j] == j;
        }
        if (ident) {
            int done = 0;
            KILN_TRY(kiln_rw_replace_uses(c->rw, n->outputs[0], p->inputs[0], &done));
            if (done) {
                KILN_TRY(kiln_rw_remove_node(c->rw, n));
                c->fired++;
            }
            continue;
        }
        kiln_node *t;
        KILN_TRY(kiln_rw_add_node(c->rw, n->name, "Transpose", "", 1, 1, 1, &t));
        kiln_attr *a = &t->attrs[0];
        KILN_TRY(kiln_rw_attr_floats(c->rw, t, 0, "perm", NULL, 0));
        a->type = KILN_ATTR_INTS;
        a->n = (uint32_t)r;
        a->ints = kiln_arena_memdup(&g->model->arena, q, (size_t)r * sizeof(int64_t));
        if (!a->ints) return kiln_fail(c->rw->err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        t->opset = n->opset;
        KILN_TRY(kiln_rw_set_input(c->rw, t, 0, p->inputs[0]));
        kiln_value *y = n->outputs[0];
        n->outputs[0] = NULL;
        kiln_rw_set_output(t, 0, y);
        y->producer = t;
        KILN_TRY(kiln_rw_remove_node(c->rw, n));
        c->fired++;
    }
    return KILN_OK;
}

/* Axes of Squeeze/Unsqueeze n normalized for rank r, sorted; -1 when unknown. */
static int32_t axes_of(const kiln_node *n, int32_t r, int64_t *ax) {
    int64_t k;
    if (n->opset >= 13) {
        if (n->n_inputs < 2 || !n->inputs[1]) return -1;
        k = kiln_rw_const_ints(n->inputs[1], ax, KILN_MAX_RANK);
    } else {
        uint32_t cnt;
        const int64_t *a = kiln_attr_ints(n, "axes", &cnt);
        if (!a || cnt > KILN_MAX_RANK) return -1;
        memcpy(ax, a, cnt * sizeof(int64_t));
        k = cnt;
    }
    if (k <= 0 || r < 0) return -1;
    for (int64_t i = 0; i < k; i++) {
        if (ax[i] < 0) ax[i] += r;
        if (ax[i] < 0 || ax[i] >= r) return -1;
    }
    for (int64_t i = 1; i < k; i++)
        for (int64_t j = i; j > 0 && ax[j - 1] > ax[j]; j--) {
            int64_t t = ax[j];
            ax[j] = ax[j - 1];
            ax[j - 1] = t;
        }
    return (int32_t)k;
}

kiln_status kiln_pass_squeeze_unsqueeze(kiln_opt_ctx *c) {
    kiln_graph *g = c->rw->g;
    for (uint32_t i = 0; i < g->n_nodes; i++) {
        kiln_node *n = g->nodes[i];
        if (!live(c, n)) continue;
        int unsq = kiln_opt_is(n, "Unsqueeze"), sq = kiln_opt_is(n, "Squeeze");
        if (!unsq && !sq) continue;
        kiln_node *p = kiln_rw_producer(n, 0);
        if (!p || !p->inputs[0] || !kiln_opt_is(p, unsq ? "Squeeze" : "Unsqueeze")) continue;
        const kiln_value *x = p->inputs[0];
        int32_t rx = x->type.rank, rmid = n->inputs[0]->type.rank;
        if (rx < 0 || rmid < 0) continue;
        /* Unsqueeze(Squeeze(x, a), a): a against rank(x) both times. Squeeze(Unsqueeze(x, a), a):
         * a against rank(x) + |a| both times. */
        int64_t a1[KILN_MAX_RANK], a2[KILN_MAX_RANK];
        int32_t r = unsq ? rx : rmid;
        int32_t k1 = axes_of(p, r, a1), k2 = axes_of(n, r, a2);
        if (k1 < 0 || k1 != k2 || memcmp(a1, a2, (size_t)k1 * sizeof(int64_t)) != 0) continue;
        int done = 0;
        KILN_TRY(kiln_rw_replace_uses(c->rw, n->outputs[0], p->inputs[0], &done));
        if (!done) continue;
        KILN_TRY(kiln_rw_remove_node(c->rw, n));
        c->fired++;
    }
    return KILN_OK;
}
