/* SPDX-License-Identifier: MIT */
/* Extended fusions of decomposed functions (float32): GELU (erf and tanh forms) into kiln.Gelu;
 * LayerNormalization from ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add into
 * kiln.LayerNormalization; Add [+ Add bias] + LayerNormalization into kiln.SkipLayerNormalization. */
#include <string.h>

#include "graph/optimizer/fuse_util.h"

static int live(const kiln_opt_ctx *c, const kiln_node *n) { return n && !kiln_rw_is_removed(c->rw, n); }

/* One-reader step: the reader of v when it is a live `op` node, else NULL. */
static kiln_node *next_op(const kiln_opt_ctx *c, const kiln_value *v, const char *op) {
    kiln_node *n = kiln_rw_single_consumer(c->rw, v);
    return live(c, n) && kiln_opt_is(n, op) && n->n_outputs >= 1 && n->outputs[0] ? n : NULL;
}

/* The tail shared by both GELU forms: g -> Add(1) -> Mul(x) -> Mul(0.5), or g -> Add(1) ->
 * Mul(h) with h = Mul(x, 0.5) (h read only there). Appends the nodes; returns the result. */
static kiln_value *gelu_tail(const kiln_opt_ctx *c, kiln_value *x, kiln_value *gv, kiln_pattern *p) {
    kiln_node *add = next_op(c, gv, "Add");
    if (!add || !kiln_fuse_const_near(kiln_fuse_other(add, gv), 1.0f)) return NULL;
    kiln_node *m1 = next_op(c, add->outputs[0], "Mul");
    if (!m1) return NULL;
    kiln_value *o = kiln_fuse_other(m1, add->outputs[0]);
    if (!o) return NULL;
    p->nodes[p->n++] = add;
    p->nodes[p->n++] = m1;
    if (o == x) {
        kiln_node *m2 = next_op(c, m1->outputs[0], "Mul");
        if (!m2 || !kiln_fuse_const_near(kiln_fuse_other(m2, m1->outputs[0]), 0.5f)) return NULL;
        p->nodes[p->n++] = m2;
        return m2->outputs[0];
    }
    kiln_node *h = o->producer;
    if (!live(c, h) || !kiln_opt_is(h, "Mul") || kiln_fuse_other(h, x) == NULL || !kiln_fuse_const_near(kiln_fuse_other(h, x), 0.5f) ||
        kiln_rw_single_consumer(c->rw, o) != m1)
        return NULL;
    p->nodes[p->n++] = h;
    return m1->outputs[0];
}

/* x * 0.044715 * x^3 + x, scaled by sqrt(2/pi): the argument of Tanh in the tanh form. Returns x. */
static kiln_value *tanh_arg(const kiln_opt_ctx *c, kiln_value *arg, kiln_pattern *p) {
    kiln_node *scale = arg->producer;
    if (!live(c, scale) || !kiln_opt_is(scale, "Mul") || scale->n_inputs != 2) return NULL;
    kiln_value *s = NULL;
    for (int k = 0; k < 2; k++)
        if (kiln_fuse_const_near(scale->inputs[k], 0.7978845608f)) s = scale->inputs[1 - k];
    if (!s || kiln_rw_single_consumer(c->rw, s) != scale) return NULL;
    kiln_node *sum = s->producer;
    if (!live(c, sum) || !kiln_opt_is(sum, "Add") || sum->n_inputs != 2) return NULL;
    for (int k = 0; k < 2; k++) {
        kiln_value *x = sum->inputs[k], *cube_scaled = sum->inputs[1 - k];
        kiln_node *cm = cube_scaled->producer;
        if (!live(c, cm) || !kiln_opt_is(cm, "Mul") || kiln_rw_single_consumer(c->rw, cube_scaled) != sum) continue;
        kiln_value *cube = NULL;
        for (int j = 0; j < 2; j++)
            if (kiln_fuse_const_near(cm->inputs[j], 0.044715f)) cube = cm->inputs[1 - j];
        if (!cube || kiln_rw_single_consumer(c->rw, cube) != cm) continue;
        kiln_node *pw = cube->producer;
        if (!live(c, pw) || !kiln_opt_is(pw, "Pow") || pw->inputs[0] != x || !kiln_fuse_const_near(pw->inputs[1], 3.0f)) continue;
        p->nodes[p->n++] = pw;
        p->nodes[p->n++] = cm;
        p->nodes[p->n++] = sum;
        p->nodes[p->n++] = scale;
        return x;
    }
    return NULL;
}

kiln_status kiln_pass_gelu_fusion(kiln_opt_ctx *c) {
    kiln_graph *g = c->rw->g;
    uint32_t count = g->n_nodes;
    for (uint32_t i = 0; i < count; i++) {
        kiln_node *e = g->nodes[i];
        int erf = kiln_opt_is(e, "Erf"), th = kiln_opt_is(e, "Tanh");
        if (!live(c, e) || (!erf && !th) || !kiln_fuse_f32(e->outputs[0])) continue;
        kiln_pattern p = {{0}, 0, NULL};
        kiln_value *x = NULL;
        if (erf) {
            kiln_value *arg = e->inputs[0];
            kiln_node *d = arg->producer;
            if (!live(c, d) || kiln_rw_single_consumer(c->rw, arg) != e || d->n_inputs != 2) continue;
            if (kiln_opt_is(d, "Div") && kiln_fuse_const_near(d->inputs[1], 1.4142135624f)) x = d->inputs[0];
            else if (kiln_opt_is(d, "Mul") && kiln_fuse_const_near(d->inputs[1], 0.7071067812f)) x = d->inputs[0];
            else if (kiln_opt_is(d, "Mul") && kiln_fuse_const_near(d->inputs[0], 0.7071067812f)) x = d->inputs[1];
            if (!x) continue;
            p.nodes[p.n++] = d;
        } else {
            if (kiln_rw_single_consumer(c->rw, e->inputs[0]) != e) continue;
            x = tanh_arg(c, e->inputs[0], &p);
            if (!x) continue;
        }
        if (!kiln_fuse_f32(x)) continue;
        p.nodes[p.n++] = e;
        p.out = gelu_tail(c, x, e->outputs[0], &p);
        if (!p.out || !kiln_fuse_f32(p.out)) continue;
        kiln_node *f;
        KILN_TRY(kiln_rw_add_node(c->rw, e->name, "Gelu", "kiln", 1, 1, th ? 1 : 0, &f));
        if (th) KILN_TRY(kiln_rw_attr_str(c->rw, f, 0, "approximate", "tanh"));
        KILN_TRY(kiln_rw_set_input(c->rw, f, 0, x));
        int ok;
        KILN_TRY(kiln_fuse_commit(c, f, &p, e, &ok));
    }
    return KILN_OK;
}

/* ReduceMean n over the last axis only, keepdims 1. */
static int mean_last(const kiln_node *n) {
    if (!kiln_opt_is(n, "ReduceMean") || !n->inputs[0] || kiln_attr_int(n, "keepdims", 1) != 1) return 0;
    int32_t r = n->inputs[0]->type.rank;
    int64_t axes[KILN_MAX_RANK];
    int64_t k;
    if (n->opset >= 18) {
        if (n->n_inputs < 2 || !n->inputs[1]) return 0;
        k = kiln_rw_const_ints(n->inputs[1], axes, KILN_MAX_RANK);
    } else {
        uint32_t cnt;
        const int64_t *a = kiln_attr_ints(n, "axes", &cnt);
        if (!a || cnt > KILN_MAX_RANK) return 0;
        memcpy(axes, a, cnt * sizeof(int64_t));
        k = cnt;
    }
    return r >= 1 && k == 1 && (axes[0] == -1 || axes[0] == r - 1);
}

static int const_1d(const kiln_value *v, int64_t h) {
    int64_t cnt;
    return kiln_rw_const_f32(v, &cnt) && v->constant->desc.rank == 1 && cnt == h;
}

kiln_status kiln_pass_layernorm_fusion(kiln_opt_ctx *c) {
    kiln_graph *g = c->rw->g;
    uint32_t count = g->n_nodes;
    for (uint32_t i = 0; i < count; i++) {
        kiln_node *r1 = g->nodes[i];
        if (!live(c, r1) || !mean_last(r1) || !kiln_fuse_f32(r1->inputs[0])) continue;
        kiln_value *x = r1->inputs[0];
        int32_t rank = x->type.rank;
        int64_t h = x->type.dims[rank - 1];
        if (h <= 0) continue;
        kiln_node *sub = next_op(c, r1->outputs[0], "Sub");
        if (!sub || sub->inputs[0] != x || sub->inputs[1] != r1->outputs[0]) continue;
        /* sub's value is read twice: by the square and by the Div. */
        uint32_t nu;
        const kiln_use *u = kiln_rw_uses(c->rw, sub->outputs[0], &nu);
        if (nu != 2 || kiln_rw_is_output(sub->outputs[0]) || u[0].slot == UINT32_MAX || u[1].slot == UINT32_MAX) continue;
        kiln_node *sq = NULL, *div = NULL;
        for (uint32_t k = 0; k < 2; k++) {
            kiln_node *m = u[k].node;
            if (kiln_opt_is(m, "Pow") && m->inputs[0] == sub->outputs[0] && kiln_fuse_const_near(m->inputs[1], 2.0f)) sq = m;
            else if (kiln_opt_is(m, "Div") && m->inputs[0] == sub->outputs[0]) div = m;
        }
        if (!sq || !div) continue;
        kiln_node *r2 = kiln_rw_single_consumer(c->rw, sq->outputs[0]);
        if (!live(c, r2) || !mean_last(r2)) continue;
        kiln_node *add = next_op(c, r2->outputs[0], "Add");
        if (!add) continue;
        kiln_value *epsv = kiln_fuse_other(add, r2->outputs[0]);
        int64_t ecnt;
        const float *eps = kiln_rw_const_f32(epsv, &ecnt);
        if (!eps || ecnt != 1) continue;
        kiln_node *sqrt_n = next_op(c, add->outputs[0], "Sqrt");
        if (!sqrt_n || kiln_rw_single_consumer(c->rw, sqrt_n->outputs[0]) != div || div->inputs[1] != sqrt_n->outputs[0]) continue;
        kiln_node *mul = next_op(c, div->outputs[0], "Mul");
        if (!mul) continue;
        kiln_value *gamma = kiln_fuse_other(mul, div->outputs[0]);
        if (!const_1d(gamma, h)) continue;
        kiln_pattern p = {{r1, sub, sq, r2, add, sqrt_n, div, mul}, 8, mul->outputs[0]};
        kiln_value *beta = NULL;
        kiln_node *badd = next_op(c, mul->outputs[0], "Add");
        if (badd && const_1d(kiln_fuse_other(badd, mul->outputs[0]), h)) {
            beta = kiln_fuse_other(badd, mul->outputs[0]);
            p.nodes[p.n++] = badd;
            p.out = badd->outputs[0];
        }
        if (!kiln_fuse_f32(p.out) || kiln_fuse_feeds_dynamic_quant(c, p.out)) continue;
        kiln_node *f;
        KILN_TRY(kiln_rw_add_node(c->rw, r1->name, "LayerNormalization", "kiln", beta ? 3 : 2, 1, 2, &f));
        KILN_TRY(kiln_rw_attr_int(c->rw, f, 0, "axis", -1));
        KILN_TRY(kiln_rw_attr_float(c->rw, f, 1, "epsilon", eps[0]));
        KILN_TRY(kiln_rw_set_input(c->rw, f, 0, x));
        KILN_TRY(kiln_rw_set_input(c->rw, f, 1, gamma));
        if (beta) KILN_TRY(kiln_rw_set_input(c->rw, f, 2, beta));
        int ok;
        KILN_TRY(kiln_fuse_commit(c, f, &p, r1, &ok));
    }
    return KILN_OK;
}

/* A LayerNormalization over the last axis with only its first output (standard, stash_type 1,
 * or kiln's). */
static int is_layernorm(const kiln_node *n) {
    int std = kiln_opt_is(n, "LayerNormalization");
    int kln = n && strcmp(n->domain, "kiln") == 0 && strcmp(n->op_type, "LayerNormalization") == 0;
    if (!std && !kln) return 0;
    if (n->n_inputs < 2 || !n->inputs[0] || !n->inputs[1]) return 0;
    for (uint32_t i = 1; i < n->n_outputs; i++)
        if (n->outputs[i]) return 0;
    if (std && kiln_attr_int(n, "stash_type", 1) != 1) return 0;
    int32_t r = n->inputs[0]->type.rank;
    int64_t axis = kiln_attr_int(n, "axis", -1);
    return r >= 1 && (axis == -1 || axis == r - 1);
}

kiln_status kiln_pass_skip_layernorm_fusion(kiln_opt_ctx *c) {
    kiln_graph *g = c->rw->g;
    uint32_t count = g->n_nodes;
    for (uint32_t i = 0; i < count; i++) {
        kiln_node *ln = g->nodes[i];
        if (!live(c, ln) || !is_layernorm(ln) || !kiln_fuse_f32(ln->outputs[0])) continue;
        kiln_value *s = ln->inputs[0];
        kiln_node *a1 = s->producer;
        if (!live(c, a1) || !kiln_opt_is(a1, "Add") || a1->n_inputs != 2 || kiln_rw_single_consumer(c->rw, s) != ln) continue;
        kiln_value *x = a1->inputs[0], *skip = a1->inputs[1];
        if (!kiln_fuse_f32(x) || !kiln_fuse_f32(skip) || !kiln_fuse_same_shape(&x->type, &skip->type) ||
            !kiln_fuse_same_shape(&x->type, &s->type))
            continue;
        int64_t h = x->type.dims[x->type.rank - 1];
        if (!const_1d(ln->inputs[1], h) || (ln->n_inputs > 2 && ln->inputs[2] && !const_1d(ln->inputs[2], h))) continue;
        kiln_pattern p = {{a1, ln}, 2, ln->outputs[0]};
        kiln_value *bias = NULL;
        /* X = y + bias (a 1-D constant), y's Add read only by a1. */
        for (int k = 0; k < 2 && !bias; k++) {
            kiln_value *v = a1->inputs[k];
            kiln_node *a0 = v->producer;
            if (!live(c, a0) || !kiln_opt_is(a0, "Add") || a0->n_inputs != 2 || kiln_rw_single_consumer(c->rw, v) != a1) continue;
            for (int j = 0; j < 2; j++) {
                kiln_value *y = a0->inputs[j], *b = a0->inputs[1 - j];
                if (const_1d(b, h) && kiln_fuse_f32(y) && kiln_fuse_same_shape(&y->type, &v->type)) {
                    bias = b;
                    x = y;
                    skip = a1->inputs[1 - k];
                    p.nodes[p.n++] = a0;
                    break;
                }
            }
        }
        float eps = kiln_attr_float(ln, "epsilon", 1e-5f);
        kiln_node *f;
        KILN_TRY(kiln_rw_add_node(c->rw, ln->name, "SkipLayerNormalization", "kiln", 5, 1, 1, &f));
        KILN_TRY(kiln_rw_attr_float(c->rw, f, 0, "epsilon", eps));
        KILN_TRY(kiln_rw_set_input(c->rw, f, 0, x));
        KILN_TRY(kiln_rw_set_input(c->rw, f, 1, skip));
        KILN_TRY(kiln_rw_set_input(c->rw, f, 2, ln->inputs[1]));
        KILN_TRY(kiln_rw_set_input(c->rw, f, 3, ln->n_inputs > 2 ? ln->inputs[2] : NULL));
        KILN_TRY(kiln_rw_set_input(c->rw, f, 4, bias));
        int ok;
        KILN_TRY(kiln_fuse_commit(c, f, &p, ln, &ok));
    }
    return KILN_OK;
}
