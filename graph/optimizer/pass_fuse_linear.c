/* SPDX-License-Identifier: MIT */
/* Extended fusions around the linear ops (float32): MatMul + Add into Gemm; Conv [+ Add Z]
 * [+ activation] into kiln.FusedConv; Gemm + activation into kiln.FusedGemm; MatMul [+ Add bias]
 * [+ Add Z] [+ activation] into kiln.FusedMatMul (docs/kiln-ops.md). */
#include <string.h>

#include "graph/optimizer/fuse_util.h"

static int live(const kiln_opt_ctx *c, const kiln_node *n) { return !kiln_rw_is_removed(c->rw, n); }

/* The epilogue found after a linear node's output: an optional 1-D bias (MatMul only), an
 * optional residual, an optional activation. */
typedef struct tail {
    kiln_value *bias, *z;
    const char *act;
    float params[2];
    uint32_t n_params;
} tail;

/* Extends p (holding the anchor) with what follows its output. */
static void match_tail(const kiln_opt_ctx *c, kiln_pattern *p, int want_bias, int64_t n_cols, tail *t) {
    memset(t, 0, sizeof(*t));
    kiln_value *cur = p->out;
    kiln_node *next = kiln_rw_single_consumer(c->rw, cur);
    if (want_bias && kiln_opt_is(next, "Add") && n_cols > 0) {
        kiln_value *b = kiln_fuse_other(next, cur);
        int64_t cnt;
        if (b && kiln_rw_const_f32(b, &cnt) && b->constant->desc.rank == 1 && cnt == n_cols && kiln_fuse_f32(next->outputs[0])) {
            t->bias = b;
            p->nodes[p->n++] = next;
            cur = p->out = next->outputs[0];
            next = kiln_rw_single_consumer(c->rw, cur);
        }
    }
    if (kiln_opt_is(next, "Add") && kiln_fuse_f32(next->outputs[0])) {
        kiln_value *z = kiln_fuse_other(next, cur);
        if (z && kiln_fuse_f32(z) && kiln_fuse_same_shape(&z->type, &cur->type) &&
            kiln_fuse_same_shape(&next->outputs[0]->type, &cur->type)) {
            t->z = z;
            p->nodes[p->n++] = next;
            cur = p->out = next->outputs[0];
            next = kiln_rw_single_consumer(c->rw, cur);
        }
    }
    if (next && next->inputs[0] == cur && kiln_opt_activation(next, &t->act, t->params, &t->n_params) &&
        kiln_fuse_f32(next->outputs[0])) {
        p->nodes[p->n++] = next;
        p->out = next->outputs[0];
    }
}

kiln_status kiln_pass_conv_fusion(kiln_opt_ctx *c) {
    kiln_graph *g = c->rw->g;
    uint32_t count = g->n_nodes;
    for (uint32_t i = 0; i < count; i++) {
        kiln_node *n = g->nodes[i];
        if (!live(c, n) || !kiln_opt_is(n, "Conv") || n->n_inputs < 2 || !kiln_fuse_f32(n->outputs[0]) || !kiln_fuse_f32(n->inputs[0]))
            continue;
        kiln_pattern p = {{n}, 1, n->outputs[0]};
        tail t;
        match_tail(c, &p, 0, 0, &t);
        if (p.n == 1) continue;
        kiln_node *f;
        KILN_TRY(kiln_rw_add_node(c->rw, n->name, "FusedConv", "kiln", 4, 1, n->n_attrs + 2, &f));
        for (uint32_t a = 0; a < n->n_attrs; a++) kiln_rw_attr_copy(f, a, &n->attrs[a]);
        KILN_TRY(kiln_fuse_set_activation(c, f, n->n_attrs, t.act ? t.act : "", t.params, t.n_params));
        KILN_TRY(kiln_rw_set_input(c->rw, f, 0, n->inputs[0]));
        KILN_TRY(kiln_rw_set_input(c->rw, f, 1, n->inputs[1]));
        KILN_TRY(kiln_rw_set_input(c->rw, f, 2, n->n_inputs > 2 ? n->inputs[2] : NULL));
        KILN_TRY(kiln_rw_set_input(c->rw, f, 3, t.z));
        int ok;
        KILN_TRY(kiln_fuse_commit(c, f, &p, n, &ok));
    }
    return KILN_OK;
}

kiln_status kiln_pass_gemm_fusion(kiln_opt_ctx *c) {
    kiln_graph *g = c->rw->g;
    uint32_t count = g->n_nodes;
    for (uint32_t i = 0; i < count; i++) {
        kiln_node *n = g->nodes[i];
        if (!live(c, n) || !kiln_opt_is(n, "Gemm") || n->n_inputs < 2 || !kiln_fuse_f32(n->outputs[0]) || !kiln_fuse_f32(n->inputs[0]))
            continue;
        kiln_node *next = kiln_rw_single_consumer(c->rw, n->outputs[0]);
        const char *act;
        float params[2];
        uint32_t np;
        if (!next || next->inputs[0] != n->outputs[0] || !kiln_opt_activation(next, &act, params, &np)) continue;
        kiln_pattern p = {{n, next}, 2, next->outputs[0]};
        kiln_node *f;
        KILN_TRY(kiln_rw_add_node(c->rw, n->name, "FusedGemm", "kiln", 3, 1, n->n_attrs + 2, &f));
        for (uint32_t a = 0; a < n->n_attrs; a++) kiln_rw_attr_copy(f, a, &n->attrs[a]);
        KILN_TRY(kiln_fuse_set_activation(c, f, n->n_attrs, act, params, np));
        for (uint32_t k = 0; k < 3; k++) KILN_TRY(kiln_rw_set_input(c->rw, f, k, k < n->n_inputs ? n->inputs[k] : NULL));
        int ok;
        KILN_TRY(kiln_fuse_commit(c, f, &p, n, &ok));
    }
    return KILN_OK;
}

kiln_status kiln_pass_matmul_fusion(kiln_opt_ctx *c) {
    kiln_graph *g = c->rw->g;
    uint32_t count = g->n_nodes;
    for (uint32_t i = 0; i < count; i++) {
        kiln_node *n = g->nodes[i];
        if (!live(c, n) || !kiln_opt_is(n, "MatMul") || n->n_inputs != 2 || !kiln_fuse_f32(n->outputs[0]) ||
            !kiln_fuse_f32(n->inputs[0]) || !kiln_fuse_f32(n->inputs[1]))
            continue;
        const kiln_type *bt = &n->inputs[1]->type;
        int64_t n_cols = bt->rank >= 2 ? bt->dims[bt->rank - 1] : -1;
        kiln_pattern p = {{n}, 1, n->outputs[0]};
        tail t;
        match_tail(c, &p, 1, n_cols, &t);
        if (p.n == 1) continue;
        kiln_node *f;
        KILN_TRY(kiln_rw_add_node(c->rw, n->name, "FusedMatMul", "kiln", 4, 1, 2, &f));
        KILN_TRY(kiln_fuse_set_activation(c, f, 0, t.act ? t.act : "", t.params, t.n_params));
        KILN_TRY(kiln_rw_set_input(c->rw, f, 0, n->inputs[0]));
        KILN_TRY(kiln_rw_set_input(c->rw, f, 1, n->inputs[1]));
        KILN_TRY(kiln_rw_set_input(c->rw, f, 2, t.bias));
        KILN_TRY(kiln_rw_set_input(c->rw, f, 3, t.z));
        int ok;
        KILN_TRY(kiln_fuse_commit(c, f, &p, n, &ok));
    }
    return KILN_OK;
}

/* MatMul(A [M, K], B constant [K, N]) + Add(C constant [N], [1, N] or [M, N]) -> Gemm(A, B, C). */
kiln_status kiln_pass_matmul_add_to_gemm(kiln_opt_ctx *c) {
    kiln_graph *g = c->rw->g;
    uint32_t count = g->n_nodes;
    for (uint32_t i = 0; i < count; i++) {
        kiln_node *n = g->nodes[i];
        if (!live(c, n) || !kiln_opt_is(n, "MatMul") || n->opset < 11 || n->n_inputs != 2 || !kiln_fuse_f32(n->outputs[0])) continue;
        const kiln_value *a = n->inputs[0], *b = n->inputs[1];
        if (!kiln_fuse_f32(a) || a->type.rank != 2 || !b->constant || b->type.rank != 2 || !kiln_rw_static(&b->type)) continue;
        kiln_node *add = kiln_rw_single_consumer(c->rw, n->outputs[0]);
        if (!kiln_opt_is(add, "Add") || !kiln_fuse_f32(add->outputs[0])) continue;
        kiln_value *cv = kiln_fuse_other(add, n->outputs[0]);
        int64_t cnt;
        if (!cv || !kiln_rw_const_f32(cv, &cnt)) continue;
        int64_t nn = b->type.dims[1], m = a->type.dims[0];
        const kiln_type *ct = &cv->type;
        int fits = (ct->rank == 1 && ct->dims[0] == nn) || (ct->rank == 2 && ct->dims[1] == nn && (ct->dims[0] == 1 || ct->dims[0] == m));
        if (!fits) continue;
        kiln_pattern p = {{n, add}, 2, add->outputs[0]};
        kiln_node *f;
        KILN_TRY(kiln_rw_add_node(c->rw, n->name, "Gemm", "", 3, 1, 0, &f));
        KILN_TRY(kiln_rw_set_input(c->rw, f, 0, n->inputs[0]));
        KILN_TRY(kiln_rw_set_input(c->rw, f, 1, n->inputs[1]));
        KILN_TRY(kiln_rw_set_input(c->rw, f, 2, cv));
        int ok;
        KILN_TRY(kiln_fuse_commit(c, f, &p, n, &ok));
    }
    return KILN_OK;
}
