/* SPDX-License-Identifier: MIT */
/* Extended folds into Conv weights (float32, constant W and B): BatchNormalization (inference
 * mode) after a Conv; Mul and Add by per-channel or scalar constants after a Conv. The Conv is
 * replaced by one reading new constants; the old weights stay while other nodes read them. */
#include <math.h>
#include <string.h>

#include "graph/optimizer/fuse_util.h"

static int live(const kiln_opt_ctx *c, const kiln_node *n) { return n && !kiln_rw_is_removed(c->rw, n); }

/* A Conv with a float32 constant W [M, ...] and an optional float32 constant B [M]. */
static int foldable_conv(const kiln_node *n, int64_t *m) {
    if (!kiln_opt_is(n, "Conv") || n->n_inputs < 2 || !kiln_fuse_f32(n->outputs[0])) return 0;
    const kiln_value *w = n->inputs[1], *b = n->n_inputs > 2 ? n->inputs[2] : NULL;
    if (!kiln_rw_const_f32(w, NULL) || w->constant->desc.rank < 3) return 0;
    *m = w->constant->dims[0];
    int64_t cnt;
    if (b && (!kiln_rw_const_f32(b, &cnt) || cnt != *m)) return 0;
    return *m > 0;
}

/* Values of the constant v as one per output channel (m of them) for a Conv output of rank r:
 * a single value, or dims that are all 1 except the channel axis (1), right-aligned. */
static const float *per_channel(const kiln_value *v, int64_t m, int32_t r, int *scalar) {
    int64_t cnt;
    const float *d = kiln_rw_const_f32(v, &cnt);
    if (!d) return NULL;
    *scalar = cnt == 1;
    if (cnt == 1) return d;
    const kiln_const *k = v->constant;
    if (cnt != m || k->desc.rank > r) return NULL;
    for (int32_t i = 0; i < k->desc.rank; i++) {
        int32_t axis = r - k->desc.rank + i;
        if (k->dims[i] != (axis == 1 ? m : 1)) return NULL;
    }
    return d;
}

/* Replaces conv (and the nodes after it in p) by a Conv reading W' = W·a[m], B' = B·a[m] + c[m]
 * (a, c: m values; NULL a: 1, NULL c: 0). */
static kiln_status refold(kiln_opt_ctx *c, kiln_node *conv, kiln_pattern *p, const float *a, const float *add, int64_t m) {
    const kiln_value *w = conv->inputs[1], *b = conv->n_inputs > 2 ? conv->inputs[2] : NULL;
    const kiln_const *wk = w->constant;
    size_t total = (size_t)wk->desc.count, per = total / (size_t)m;
    const kiln_allocator *al = c->rw->a;
    float *nw = kiln_mem_alloc(al, total * sizeof(float) + 1), *nb = kiln_mem_alloc(al, (size_t)m * sizeof(float) + 1);
    kiln_status st = KILN_OK;
    if (!nw || !nb) st = kiln_fail(c->rw->err, KILN_ERR_OUT_OF_MEMORY, "out of memory folding into " KILN_NODE_FMT, KILN_NODE_ARGS(conv));
    kiln_value *wv = NULL, *bv = NULL;
    if (st == KILN_OK) {
        const float *wd = wk->desc.data, *bd = b ? b->constant->desc.data : NULL;
        for (int64_t o = 0; o < m; o++) {
            float s = a ? a[o] : 1.0f;
            for (size_t i = 0; i < per; i++) nw[(size_t)o * per + i] = wd[(size_t)o * per + i] * s;
            nb[o] = (bd ? bd[o] : 0.0f) * s + (add ? add[o] : 0.0f);
        }
        st = kiln_rw_add_const(c->rw, w->name, KILN_DTYPE_FLOAT, wk->desc.rank, wk->dims, nw, &wv);
    }
    if (st == KILN_OK) st = kiln_rw_add_const(c->rw, conv->name, KILN_DTYPE_FLOAT, 1, &m, nb, &bv);
    kiln_mem_free(al, nw);
    kiln_mem_free(al, nb);
    KILN_TRY(st);
    kiln_node *f;
    KILN_TRY(kiln_rw_add_node(c->rw, conv->name, "Conv", "", 3, 1, conv->n_attrs, &f));
    f->opset = conv->opset;
    for (uint32_t i = 0; i < conv->n_attrs; i++) kiln_rw_attr_copy(f, i, &conv->attrs[i]);
    KILN_TRY(kiln_rw_set_input(c->rw, f, 0, conv->inputs[0]));
    KILN_TRY(kiln_rw_set_input(c->rw, f, 1, wv));
    KILN_TRY(kiln_rw_set_input(c->rw, f, 2, bv));
    int ok;
    return kiln_fuse_commit(c, f, p, conv, &ok);
}

kiln_status kiln_pass_conv_bn_fold(kiln_opt_ctx *c) {
    kiln_graph *g = c->rw->g;
    uint32_t count = g->n_nodes;
    for (uint32_t i = 0; i < count; i++) {
        kiln_node *conv = g->nodes[i];
        int64_t m;
        if (!live(c, conv) || !foldable_conv(conv, &m)) continue;
        kiln_node *bn = kiln_rw_single_consumer(c->rw, conv->outputs[0]);
        if (!live(c, bn) || !kiln_opt_is(bn, "BatchNormalization") || bn->n_inputs != 5 || bn->inputs[0] != conv->outputs[0] ||
            !kiln_fuse_f32(bn->outputs[0]) || kiln_attr_int(bn, "training_mode", 0) != 0 || (bn->opset < 7 && kiln_attr_int(bn, "is_test", 0) == 0))
            continue;
        int extra = 0;
        for (uint32_t o = 1; o < bn->n_outputs; o++) extra |= bn->outputs[o] != NULL;
        if (extra) continue;
        const float *prm[4];
        int ok = 1;
        for (int k = 0; k < 4 && ok; k++) {
            int64_t cnt;
            prm[k] = kiln_rw_const_f32(bn->inputs[1 + k], &cnt);
            ok = prm[k] && cnt == m && bn->inputs[1 + k]->constant->desc.rank == 1;
        }
        if (!ok) continue;
        float eps = kiln_attr_float(bn, "epsilon", 1e-5f);
        float *a = kiln_mem_alloc(c->rw->a, (size_t)m * 2 * sizeof(float));
        if (!a) return kiln_fail(c->rw->err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        float *add = a + m;
        for (int64_t o = 0; o < m; o++) {
            a[o] = prm[0][o] / sqrtf(prm[3][o] + eps);
            add[o] = prm[1][o] - prm[2][o] * a[o];
        }
        kiln_pattern p = {{conv, bn}, 2, bn->outputs[0]};
        kiln_status st = refold(c, conv, &p, a, add, m);
        kiln_mem_free(c->rw->a, a);
        KILN_TRY(st);
    }
    return KILN_OK;
}

kiln_status kiln_pass_conv_mul_add_fold(kiln_opt_ctx *c) {
    kiln_graph *g = c->rw->g;
    uint32_t count = g->n_nodes;
    for (uint32_t i = 0; i < count; i++) {
        kiln_node *conv = g->nodes[i];
        int64_t m;
        if (!live(c, conv) || !foldable_conv(conv, &m)) continue;
        kiln_node *op = kiln_rw_single_consumer(c->rw, conv->outputs[0]);
        int mul = kiln_opt_is(op, "Mul"), add = kiln_opt_is(op, "Add");
        if (!live(c, op) || (!mul && !add) || !kiln_fuse_f32(op->outputs[0]) ||
            !kiln_fuse_same_shape(&op->outputs[0]->type, &conv->outputs[0]->type))
            continue;
        kiln_value *k = kiln_fuse_other(op, conv->outputs[0]);
        int scalar = 0;
        const float *v = k ? per_channel(k, m, conv->outputs[0]->type.rank, &scalar) : NULL;
        if (!v) continue;
        float *full = kiln_mem_alloc(c->rw->a, (size_t)m * sizeof(float));
        if (!full) return kiln_fail(c->rw->err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        for (int64_t o = 0; o < m; o++) full[o] = scalar ? v[0] : v[o];
        kiln_pattern p = {{conv, op}, 2, op->outputs[0]};
        kiln_status st = refold(c, conv, &p, mul ? full : NULL, add ? full : NULL, m);
        kiln_mem_free(c->rw->a, full);
        KILN_TRY(st);
    }
    return KILN_OK;
}
