/* SPDX-License-Identifier: MIT */
/* Extended fusion of dynamic quantization (docs/kiln-ops.md): DynamicQuantizeLinear(A) ->
 * MatMulInteger(qA, B, zA, zB) -> Cast(float) -> Mul(a_scale * B_scale) [-> Add bias]
 * [-> activation] into kiln.DynamicQuantMatMul(A, B, B_scale, zB, bias). The
 * DynamicQuantizeLinear stays while other nodes read it (dead_nodes removes it after). */
#include <string.h>

#include "graph/optimizer/fuse_util.h"

static int live(const kiln_opt_ctx *c, const kiln_node *n) { return n && !kiln_rw_is_removed(c->rw, n); }

static int is8(int32_t dt) { return dt == KILN_DTYPE_UINT8 || dt == KILN_DTYPE_INT8; }

/* A constant float32 with 1 or n values. */
static int per_col(const kiln_value *v, int64_t n) {
    int64_t cnt;
    return kiln_rw_const_f32(v, &cnt) && v->constant->desc.rank <= 1 && (cnt == 1 || cnt == n);
}

kiln_status kiln_pass_dynamic_quant_matmul_fusion(kiln_opt_ctx *c) {
    kiln_graph *g = c->rw->g;
    uint32_t count = g->n_nodes;
    for (uint32_t i = 0; i < count; i++) {
        kiln_node *mi = g->nodes[i];
        if (!live(c, mi) || !kiln_opt_is(mi, "MatMulInteger") || mi->n_inputs < 3 || !mi->inputs[0] || !mi->inputs[2]) continue;
        kiln_node *dq = mi->inputs[0]->producer;
        if (!live(c, dq) || !kiln_opt_is(dq, "DynamicQuantizeLinear") || dq->n_outputs != 3 || mi->inputs[0] != dq->outputs[0] ||
            mi->inputs[2] != dq->outputs[2] || !kiln_fuse_f32(dq->inputs[0]))
            continue;
        kiln_value *b = mi->inputs[1], *zb = mi->n_inputs > 3 ? mi->inputs[3] : NULL;
        if (!b->constant || !is8(b->type.dtype) || b->constant->desc.rank != 2) continue;
        int64_t n = b->constant->dims[1];
        if (zb && (!zb->constant || zb->type.dtype != b->type.dtype || (zb->constant->desc.count != 1 && (int64_t)zb->constant->desc.count != n)))
            continue;
        kiln_node *cast = kiln_rw_single_consumer(c->rw, mi->outputs[0]);
        if (!live(c, cast) || !kiln_opt_is(cast, "Cast") || kiln_attr_int(cast, "to", 0) != KILN_DTYPE_FLOAT) continue;
        kiln_node *mul = kiln_rw_single_consumer(c->rw, cast->outputs[0]);
        if (!live(c, mul) || !kiln_opt_is(mul, "Mul")) continue;
        kiln_value *sc = kiln_fuse_other(mul, cast->outputs[0]);
        if (!sc) continue;
        kiln_node *smul = sc->producer;
        if (!live(c, smul) || !kiln_opt_is(smul, "Mul") || kiln_rw_single_consumer(c->rw, sc) != mul) continue;
        kiln_value *bs = kiln_fuse_other(smul, dq->outputs[1]);
        if (!bs || !per_col(bs, n)) continue;
        kiln_pattern p = {{mi, cast, smul, mul}, 4, mul->outputs[0]};
        if (!kiln_fuse_f32(p.out)) continue;
        kiln_value *bias = NULL;
        kiln_node *add = kiln_rw_single_consumer(c->rw, p.out);
        if (live(c, add) && kiln_opt_is(add, "Add")) {
            kiln_value *bv = kiln_fuse_other(add, p.out);
            int64_t cnt;
            if (bv && kiln_rw_const_f32(bv, &cnt) && bv->constant->desc.rank == 1 && cnt == n) {
                bias = bv;
                p.nodes[p.n++] = add;
                p.out = add->outputs[0];
            }
        }
        const char *act = "";
        float params[2];
        uint32_t np = 0;
        kiln_node *an = kiln_rw_single_consumer(c->rw, p.out);
        if (live(c, an) && an->inputs[0] == p.out && kiln_opt_activation(an, &act, params, &np) && kiln_fuse_f32(an->outputs[0])) {
            p.nodes[p.n++] = an;
            p.out = an->outputs[0];
        } else {
            act = "";
            np = 0;
        }
        kiln_node *f;
        KILN_TRY(kiln_rw_add_node(c->rw, mi->name, "DynamicQuantMatMul", "kiln", 5, 1, 2, &f));
        KILN_TRY(kiln_fuse_set_activation(c, f, 0, act, params, np));
        KILN_TRY(kiln_rw_set_input(c->rw, f, 0, dq->inputs[0]));
        KILN_TRY(kiln_rw_set_input(c->rw, f, 1, b));
        KILN_TRY(kiln_rw_set_input(c->rw, f, 2, bs));
        KILN_TRY(kiln_rw_set_input(c->rw, f, 3, zb));
        KILN_TRY(kiln_rw_set_input(c->rw, f, 4, bias));
        int ok;
        KILN_TRY(kiln_fuse_commit(c, f, &p, mi, &ok));
    }
    return KILN_OK;
}
