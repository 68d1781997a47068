/* SPDX-License-Identifier: MIT */
/* Extended fusion of BERT-style self-attention (float32) into kiln.Attention (docs/kiln-ops.md):
 *   Q, K, V [B, S, N·D] -> Reshape [B, S, N, D] -> Transpose (0,2,1,3) for Q and V, (0,2,3,1) for K
 *   -> MatMul(Q, K) -> [Div c | Mul c] -> [Add mask] -> Softmax(last) -> MatMul(·, V)
 *   -> Transpose (0,2,1,3) -> Reshape [B, S, N·D]. */
#include <string.h>

#include "graph/optimizer/fuse_util.h"

static int live(const kiln_opt_ctx *c, const kiln_node *n) { return n && !kiln_rw_is_removed(c->rw, n); }

static int perm_is(const kiln_node *n, const int64_t *want) {
    uint32_t k;
    const int64_t *p = kiln_attr_ints(n, "perm", &k);
    return p && k == 4 && memcmp(p, want, 4 * sizeof(int64_t)) == 0;
}

static int known_eq(int64_t a, int64_t b) { return a != KILN_DIM_UNKNOWN && a == b; }

/* v = Transpose(perm)(Reshape(x)) with x [B, S, H] split into [B, S, N, D]; each read once.
 * Appends both nodes and returns x, with *heads and *d set. */
static kiln_value *split_heads(const kiln_opt_ctx *c, kiln_value *v, const int64_t *perm, kiln_node *reader, kiln_pattern *p,
                               int64_t *heads, int64_t *d) {
    kiln_node *t = v->producer;
    if (!live(c, t) || !kiln_opt_is(t, "Transpose") || !perm_is(t, perm) || kiln_rw_single_consumer(c->rw, v) != reader) return NULL;
    kiln_value *rv = t->inputs[0];
    kiln_node *r = rv->producer;
    if (!live(c, r) || !kiln_opt_is(r, "Reshape") || kiln_rw_single_consumer(c->rw, rv) != t) return NULL;
    kiln_value *x = r->inputs[0];
    const kiln_type *xt = &x->type, *rt = &rv->type;
    if (!kiln_fuse_f32(x) || xt->rank != 3 || rt->rank != 4 || !known_eq(rt->dims[0], xt->dims[0]) ||
        !known_eq(rt->dims[1], xt->dims[1]) || rt->dims[2] <= 0 || rt->dims[3] <= 0 ||
        (xt->dims[2] >= 0 && xt->dims[2] != rt->dims[2] * rt->dims[3]))
        return NULL;
    *heads = rt->dims[2];
    *d = rt->dims[3];
    p->nodes[p->n++] = r;
    p->nodes[p->n++] = t;
    return x;
}

kiln_status kiln_pass_attention_fusion(kiln_opt_ctx *c) {
    static const int64_t p0213[4] = {0, 2, 1, 3}, p0231[4] = {0, 2, 3, 1};
    kiln_graph *g = c->rw->g;
    uint32_t count = g->n_nodes;
    for (uint32_t i = 0; i < count; i++) {
        kiln_node *sm = g->nodes[i];
        if (!live(c, sm) || !kiln_opt_is(sm, "Softmax") || !kiln_fuse_f32(sm->outputs[0])) continue;
        const kiln_type *st = &sm->outputs[0]->type;
        int64_t axis = kiln_attr_int(sm, "axis", sm->opset >= 13 ? -1 : 1);
        if (st->rank != 4 || (axis != -1 && axis != 3)) continue;
        kiln_pattern p = {{0}, 0, NULL};
        /* Backwards from the Softmax: [Add mask] <- [Div/Mul scale] <- MatMul(Q, K). */
        kiln_value *cur = sm->inputs[0], *mask = NULL;
        kiln_node *reader = sm, *n = cur->producer;
        float scale = 1.0f;
        if (live(c, n) && kiln_opt_is(n, "Add") && kiln_rw_single_consumer(c->rw, cur) == reader && n->n_inputs == 2) {
            int k = -1;
            for (int j = 0; j < 2; j++) {
                kiln_node *pj = n->inputs[j]->producer;
                if (k < 0 && live(c, pj) && (kiln_opt_is(pj, "Div") || kiln_opt_is(pj, "Mul") || kiln_opt_is(pj, "MatMul")) &&
                    kiln_rw_single_consumer(c->rw, n->inputs[j]) == n)
                    k = j;
            }
            if (k < 0) continue;
            mask = n->inputs[1 - k];
            if (!kiln_fuse_f32(mask) || mask->type.rank < 0 || mask->type.rank > 4 || !kiln_fuse_same_shape(&n->outputs[0]->type, &n->inputs[k]->type))
                continue;
            p.nodes[p.n++] = n;
            reader = n;
            cur = n->inputs[k];
            n = cur->producer;
        }
        if (live(c, n) && (kiln_opt_is(n, "Div") || kiln_opt_is(n, "Mul")) && kiln_rw_single_consumer(c->rw, cur) == reader) {
            int64_t cnt;
            int ci = kiln_rw_const_f32(n->inputs[1], &cnt) && cnt == 1 ? 1 : (kiln_opt_is(n, "Mul") && kiln_rw_const_f32(n->inputs[0], &cnt) && cnt == 1 ? 0 : -1);
            if (ci < 0) continue;
            float cv = kiln_rw_const_f32(n->inputs[ci], NULL)[0];
            if (kiln_opt_is(n, "Div")) {
                if (cv == 0.0f) continue;
                scale = 1.0f / cv;
            } else {
                scale = cv;
            }
            p.nodes[p.n++] = n;
            reader = n;
            cur = n->inputs[1 - ci];
            n = cur->producer;
        }
        kiln_node *qk = n;
        if (!live(c, qk) || !kiln_opt_is(qk, "MatMul") || kiln_rw_single_consumer(c->rw, cur) != reader) continue;
        p.nodes[p.n++] = qk;
        p.nodes[p.n++] = sm;
        kiln_node *pv = kiln_rw_single_consumer(c->rw, sm->outputs[0]);
        if (!live(c, pv) || !kiln_opt_is(pv, "MatMul") || pv->inputs[0] != sm->outputs[0]) continue;
        p.nodes[p.n++] = pv;
        kiln_node *to = kiln_rw_single_consumer(c->rw, pv->outputs[0]);
        if (!live(c, to) || !kiln_opt_is(to, "Transpose") || !perm_is(to, p0213)) continue;
        kiln_node *ro = kiln_rw_single_consumer(c->rw, to->outputs[0]);
        if (!live(c, ro) || !kiln_opt_is(ro, "Reshape") || !kiln_fuse_f32(ro->outputs[0])) continue;
        p.nodes[p.n++] = to;
        p.nodes[p.n++] = ro;
        int64_t nq, dq, nk, dk, nv, dv;
        kiln_value *q = split_heads(c, qk->inputs[0], p0213, qk, &p, &nq, &dq);
        kiln_value *k = q ? split_heads(c, qk->inputs[1], p0231, qk, &p, &nk, &dk) : NULL;
        kiln_value *v = k ? split_heads(c, pv->inputs[1], p0213, pv, &p, &nv, &dv) : NULL;
        if (!v || nq != nk || nq != nv || dq != dk || dq != dv || !kiln_fuse_same_shape(&ro->outputs[0]->type, &q->type)) continue;
        p.out = ro->outputs[0];
        if (kiln_fuse_feeds_dynamic_quant(c, p.out)) continue;
        kiln_node *f;
        KILN_TRY(kiln_rw_add_node(c->rw, sm->name, "Attention", "kiln", 4, 1, 2, &f));
        KILN_TRY(kiln_rw_attr_int(c->rw, f, 0, "num_heads", nq));
        KILN_TRY(kiln_rw_attr_float(c->rw, f, 1, "scale", scale));
        KILN_TRY(kiln_rw_set_input(c->rw, f, 0, q));
        KILN_TRY(kiln_rw_set_input(c->rw, f, 1, k));
        KILN_TRY(kiln_rw_set_input(c->rw, f, 2, v));
        KILN_TRY(kiln_rw_set_input(c->rw, f, 3, mask));
        int ok;
        KILN_TRY(kiln_fuse_commit(c, f, &p, qk, &ok));
    }
    return KILN_OK;
}
