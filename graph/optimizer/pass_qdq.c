/* SPDX-License-Identifier: MIT */
/* Static QDQ rewrites (docs/optimizer.md, "QDQ"): onnxruntime.quantization's QDQ format writes
 * every quantized op as DequantizeLinear -> float op -> QuantizeLinear. These passes turn such
 * chains into the integer ops Kiln runs on its u8s8 GEMM (QLinearConv, QLinearMatMul), run the
 * data-movement ops on the 8-bit tensors, drop DequantizeLinear -> QuantizeLinear pairs that give
 * their input back, and fold the DequantizeLinear of constant weights that stay in float ops.
 * Every rewrite is exact or within the one-step requantization bound written in optimizer.md. */
#include <math.h>
#include <string.h>

#include "graph/optimizer/fuse_util.h"
#include "runtime/base/mem.h"

static int live(const kiln_opt_ctx *c, const kiln_node *n) { return n && !kiln_rw_is_removed(c->rw, n); }
static int is8(int32_t dt) { return dt == KILN_DTYPE_UINT8 || dt == KILN_DTYPE_INT8; }

/* The quantization parameters of one DequantizeLinear or QuantizeLinear. */
typedef struct qp {
    kiln_node *node;
    kiln_value *q;             /* the 8-bit side: DQ's input, Q's output */
    kiln_value *scale, *zp;    /* zp may be NULL (0) */
    int32_t dtype;             /* the 8-bit dtype */
    int64_t count;             /* scale values: 1 per tensor, else per axis */
    int64_t axis;              /* normalized against q's rank when count > 1 */
    const float *s;
} qp;

static int32_t int_at(const kiln_value *v, int64_t i) {
    if (!v) return 0;
    const void *d = v->constant->desc.data;
    switch (v->constant->desc.dtype) {
    case KILN_DTYPE_UINT8: return ((const uint8_t *)d)[i];
    case KILN_DTYPE_INT8: return ((const int8_t *)d)[i];
    case KILN_DTYPE_INT32: return ((const int32_t *)d)[i];
    default: return 0;
    }
}

/* Reads n (DequantizeLinear or QuantizeLinear of the default domain) when its scale is a
 * float32 constant and its zero point absent or a constant of the 8-bit dtype (int32 too for a
 * DequantizeLinear when allow32); the 8-bit side q is `qside`. 0 when it does not fit. */
static int read_qp(const kiln_node *n, kiln_value *qside, int allow32, qp *p) {
    memset(p, 0, sizeof(*p));
    if (!n || n->n_inputs < 2 || n->n_outputs != 1 || !n->inputs[0] || !n->inputs[1] || !qside) return 0;
    if (kiln_node_attr(n, "block_size") && kiln_attr_int(n, "block_size", 0) != 0) return 0;
    int32_t dt = qside->type.dtype;
    if (!is8(dt) && !(allow32 && dt == KILN_DTYPE_INT32)) return 0;
    int64_t cnt;
    const float *s = kiln_rw_const_f32(n->inputs[1], &cnt);
    if (!s || cnt < 1 || n->inputs[1]->constant->desc.rank > 1) return 0;
    kiln_value *zp = n->n_inputs > 2 ? n->inputs[2] : NULL;
    if (zp && (!zp->constant || zp->constant->desc.dtype != dt || (int64_t)zp->constant->desc.count != cnt)) return 0;
    p->node = (kiln_node *)n, p->q = qside, p->scale = n->inputs[1], p->zp = zp, p->dtype = dt, p->count = cnt, p->s = s;
    if (cnt > 1) { /* one value in a [1] tensor is per tensor too */
        int32_t r = qside->type.rank;
        int64_t ax = kiln_attr_int(n, "axis", 1);
        if (r < 1) return 0;
        if (ax < 0) ax += r;
        if (ax < 0 || ax >= r) return 0;
        p->axis = ax;
        if (cnt > 1 && qside->type.dims[ax] != cnt) return 0;
    }
    for (int64_t i = 0; i < cnt; i++)
        if (!(s[i] > 0.0f) || !isfinite(s[i])) return 0;
    return 1;
}

/* A live DequantizeLinear producing v with readable parameters. */
static int dq_of(const kiln_opt_ctx *c, const kiln_value *v, int allow32, qp *p) {
    kiln_node *n = v ? v->producer : NULL;
    if (!live(c, n) || !kiln_opt_is(n, "DequantizeLinear") || n->outputs[0] != v || !kiln_fuse_f32(v)) return 0;
    return read_qp(n, n->inputs[0], allow32, p);
}

/* The only reader of v when it is a QuantizeLinear to 8 bits with one scale (the reader of a
 * graph output or of a value read twice is no pattern). */
static int q_after(const kiln_opt_ctx *c, const kiln_value *v, qp *p) {
    kiln_node *n = kiln_rw_single_consumer(c->rw, v);
    if (!live(c, n) || !kiln_opt_is(n, "QuantizeLinear") || n->inputs[0] != v || !n->outputs[0]) return 0;
    if (kiln_attr_int(n, "saturate", 1) != 1) return 0;
    return read_qp(n, n->outputs[0], 0, p) && p->count == 1;
}

static int per_tensor(const qp *p) { return p->count == 1; }

/* Equal parameters: same 8-bit dtype, one scale of equal bits, equal zero points. */
static int same_qp(const qp *a, const qp *b) {
    return a->dtype == b->dtype && a->count == 1 && b->count == 1 && memcmp(a->s, b->s, sizeof(float)) == 0 &&
           int_at(a->zp, 0) == int_at(b->zp, 0);
}

/* The zero point of p as a value (a new zero constant of p's dtype when the node has none). */
static kiln_status zp_value(kiln_opt_ctx *c, const qp *p, kiln_value **out) {
    if (p->zp) {
        *out = p->zp;
        return KILN_OK;
    }
    int64_t zero = 0;
    return kiln_rw_add_const(c->rw, p->node->name, p->dtype, 0, NULL, &zero, out);
}

/* Removes a DequantizeLinear once nothing reads its output. */
static kiln_status drop_if_unread(kiln_opt_ctx *c, kiln_node *n) {
    if (!live(c, n) || !n->outputs[0] || kiln_rw_is_output(n->outputs[0]) || kiln_rw_use_count(c->rw, n->outputs[0])) return KILN_OK;
    return kiln_rw_remove_node(c->rw, n);
}

/* The activation between the op and its QuantizeLinear that the output range absorbs exactly:
 * Relu when y_zero_point is the dtype's lowest value; Clip(lo, hi) when Q(lo) and Q(hi)
 * saturate to the dtype's ends (then Q(Clip(x)) == Q(x) for every x, Q being monotone).
 * 0 when the node is another op or the range does not absorb it. */
static int absorbed(const kiln_node *an, const qp *y) {
    int32_t lo_q = y->dtype == KILN_DTYPE_UINT8 ? 0 : -128, hi_q = y->dtype == KILN_DTYPE_UINT8 ? 255 : 127;
    int32_t zy = int_at(y->zp, 0);
    const char *name;
    float prm[2];
    uint32_t np;
    if (kiln_opt_is(an, "Relu")) return zy == lo_q;
    if (!kiln_opt_is(an, "Clip") || !kiln_opt_activation(an, &name, prm, &np)) return 0;
    float s = y->s[0];
    /* QuantizeLinear: saturate(round_half_even(x / s) + zp); nearbyintf rounds half to even */
    float ql = nearbyintf(prm[0] / s) + (float)zy, qh = nearbyintf(prm[1] / s) + (float)zy;
    return ql <= (float)lo_q && qh >= (float)hi_q;
}

/* The op's output -> [Relu/Clip absorbed by the range] -> QuantizeLinear: fills the pattern
 * (op first) and y. */
static int tail_q(const kiln_opt_ctx *c, kiln_node *op, kiln_pattern *p, qp *y) {
    p->n = 0;
    p->nodes[p->n++] = op;
    kiln_value *v = op->outputs[0];
    if (!kiln_fuse_f32(v)) return 0;
    kiln_node *an = kiln_rw_single_consumer(c->rw, v);
    if (live(c, an) && (kiln_opt_is(an, "Relu") || kiln_opt_is(an, "Clip")) && an->inputs[0] == v && an->n_outputs == 1) {
        if (!q_after(c, an->outputs[0], y) || !absorbed(an, y)) return 0;
        p->nodes[p->n++] = an;
        v = an->outputs[0];
    } else if (!q_after(c, v, y)) {
        return 0;
    }
    p->nodes[p->n++] = y->node;
    p->out = y->q;
    return 1;
}

/* ---- qdq_conv_fusion ---- */

/* The int32 bias QLinearConv needs, exactly: a DequantizeLinear of an int32 constant with zero
 * point 0 and scale x_scale * w_scale (per channel when w is), or a float constant whose every
 * value is such a dequantized int32 (a bias DequantizeLinear folded earlier). NULL *out: none fits. */
static kiln_status conv_bias(kiln_opt_ctx *c, kiln_value *b, const qp *x, const qp *w, int64_t m, kiln_value **out) {
    *out = NULL;
    qp bq;
    if (dq_of(c, b, 1, &bq)) {
        if (bq.dtype != KILN_DTYPE_INT32 || !bq.q->constant || bq.q->constant->desc.rank != 1 || bq.q->type.dims[0] != m) return KILN_OK;
        for (int64_t i = 0; i < m; i++) {
            float want = x->s[0] * w->s[w->count == 1 ? 0 : i];
            if (int_at(bq.zp, bq.count == 1 ? 0 : i) != 0 || memcmp(&bq.s[bq.count == 1 ? 0 : i], &want, sizeof want) != 0) return KILN_OK;
        }
        *out = bq.q;
        return KILN_OK;
    }
    int64_t cnt;
    const float *f = kiln_rw_const_f32(b, &cnt);
    if (!f || cnt != m || b->constant->desc.rank != 1) return KILN_OK;
    const kiln_allocator *al = c->rw->g->model->alloc;
    int32_t *q = kiln_mem_alloc(al, (size_t)m * sizeof(int32_t) + 1);
    if (!q) return kiln_fail(c->rw->err, KILN_ERR_OUT_OF_MEMORY, "out of memory for a bias");
    int exact = 1;
    for (int64_t i = 0; i < m && exact; i++) {
        float s = x->s[0] * w->s[w->count == 1 ? 0 : i];
        float r = nearbyintf(f[i] / s);
        exact = fabsf(r) < 2147483520.0f;
        if (!exact) break;
        q[i] = (int32_t)r;
        float back = (float)q[i] * s;
        exact = memcmp(&back, &f[i], sizeof back) == 0;
    }
    kiln_status st = exact ? kiln_rw_add_const(c->rw, b->name, KILN_DTYPE_INT32, 1, &m, q, out) : KILN_OK;
    kiln_mem_free(al, q);
    return st;
}

kiln_status kiln_pass_qdq_conv_fusion(kiln_opt_ctx *c) {
    kiln_graph *g = c->rw->g;
    uint32_t count = g->n_nodes;
    for (uint32_t i = 0; i < count; i++) {
        kiln_node *conv = g->nodes[i];
        if (!live(c, conv) || !kiln_opt_is(conv, "Conv") || conv->n_inputs < 2 || conv->n_outputs != 1) continue;
        qp x, w, y;
        if (!dq_of(c, conv->inputs[0], 0, &x) || !per_tensor(&x)) continue;
        if (!dq_of(c, conv->inputs[1], 0, &w) || !w.q->constant || w.q->constant->desc.rank < 3) continue;
        int64_t m = w.q->constant->dims[0];
        if (w.count != 1 && w.axis != 0) continue;
        /* Depthwise (one input channel per group) stays float: Kiln's int8 depthwise kernel is plain C
         * and its fp32 one AVX-512; measured on MobileNetV2 QDQ, 24.7 ms int8 against 8.5 ms float
         * (docs/optimizer.md, Decisions). The weight DequantizeLinear folds (qdq_weight_fold). */
        if (kiln_attr_int(conv, "group", 1) > 1 && w.q->constant->dims[1] == 1) continue;
        kiln_pattern p;
        if (!tail_q(c, conv, &p, &y)) continue;
        kiln_value *bias = NULL;
        if (conv->n_inputs > 2 && conv->inputs[2]) {
            KILN_TRY(conv_bias(c, conv->inputs[2], &x, &w, m, &bias));
            if (!bias) continue;
        }
        kiln_value *zx, *zw, *zy;
        KILN_TRY(zp_value(c, &x, &zx));
        KILN_TRY(zp_value(c, &w, &zw));
        KILN_TRY(zp_value(c, &y, &zy));
        kiln_node *f;
        KILN_TRY(kiln_rw_add_node(c->rw, conv->name, "QLinearConv", "", bias ? 9 : 8, 1, conv->n_attrs, &f));
        for (uint32_t a = 0; a < conv->n_attrs; a++) kiln_rw_attr_copy(f, a, &conv->attrs[a]);
        kiln_value *in[9] = {x.q, x.scale, zx, w.q, w.scale, zw, y.scale, zy, bias};
        for (uint32_t k = 0; k < f->n_inputs; k++) KILN_TRY(kiln_rw_set_input(c->rw, f, k, in[k]));
        kiln_node *dqb = bias && conv->inputs[2]->producer ? conv->inputs[2]->producer : NULL;
        int ok;
        KILN_TRY(kiln_fuse_commit(c, f, &p, conv, &ok));
        if (!ok) continue;
        KILN_TRY(drop_if_unread(c, x.node));
        KILN_TRY(drop_if_unread(c, w.node));
        KILN_TRY(drop_if_unread(c, dqb));
    }
    return KILN_OK;
}

/* ---- qdq_matmul_fusion ---- */

kiln_status kiln_pass_qdq_matmul_fusion(kiln_opt_ctx *c) {
    kiln_graph *g = c->rw->g;
    uint32_t count = g->n_nodes;
    for (uint32_t i = 0; i < count; i++) {
        kiln_node *mm = g->nodes[i];
        if (!live(c, mm) || !kiln_opt_is(mm, "MatMul") || mm->n_inputs != 2 || mm->n_outputs != 1) continue;
        qp a, b, y;
        if (!dq_of(c, mm->inputs[0], 0, &a) || !per_tensor(&a) || a.q->type.rank < 1) continue;
        if (!dq_of(c, mm->inputs[1], 0, &b) || b.q->type.rank < 1) continue;
        /* b per column: only for a 2-D b, along its last axis (QLinearMatMul's b_scale [N]) */
        if (b.count != 1 && (b.q->type.rank != 2 || b.axis != 1)) continue;
        kiln_pattern p;
        if (!tail_q(c, mm, &p, &y)) continue;
        kiln_value *za, *zb, *zy;
        KILN_TRY(zp_value(c, &a, &za));
        KILN_TRY(zp_value(c, &b, &zb));
        KILN_TRY(zp_value(c, &y, &zy));
        kiln_node *f;
        KILN_TRY(kiln_rw_add_node(c->rw, mm->name, "QLinearMatMul", "", 8, 1, 0, &f));
        kiln_value *in[8] = {a.q, a.scale, za, b.q, b.scale, zb, y.scale, zy};
        for (uint32_t k = 0; k < 8; k++) KILN_TRY(kiln_rw_set_input(c->rw, f, k, in[k]));
        int ok;
        KILN_TRY(kiln_fuse_commit(c, f, &p, mm, &ok));
        if (!ok) continue;
        KILN_TRY(drop_if_unread(c, a.node));
        KILN_TRY(drop_if_unread(c, b.node));
    }
    return KILN_OK;
}

/* ---- qdq_conv_add_fusion: the quantized residual block into kiln.QLinearConvAdd ---- */

/* 1 when constants a and b hold the same single value (both NULL: equal zero points). */
static int same_scalar(const kiln_value *a, const kiln_value *b) {
    if (a == b) return 1;
    if (!a || !b || !a->constant || !b->constant || a->constant->desc.count != 1 || b->constant->desc.count != 1 ||
        a->constant->desc.dtype != b->constant->desc.dtype || a->constant->nbytes != b->constant->nbytes)
        return 0;
    return memcmp(a->constant->desc.data, b->constant->desc.data, a->constant->nbytes) == 0;
}

/* a zero point that is absent or a constant 0 */
static int zero_zp(const kiln_value *z) { return !z || (z->constant && z->constant->desc.count == 1 && int_at(z, 0) == 0); }

kiln_status kiln_pass_qdq_conv_add_fusion(kiln_opt_ctx *c) {
    kiln_graph *g = c->rw->g;
    uint32_t count = g->n_nodes;
    for (uint32_t i = 0; i < count; i++) {
        kiln_node *add = g->nodes[i];
        if (!live(c, add) || !kiln_opt_is(add, "Add") || add->n_inputs != 2 || add->n_outputs != 1 || !kiln_fuse_f32(add->outputs[0]))
            continue;
        if (!kiln_fuse_same_shape(&add->inputs[0]->type, &add->inputs[1]->type) ||
            !kiln_fuse_same_shape(&add->inputs[0]->type, &add->outputs[0]->type))
            continue;
        for (int side = 0; side < 2; side++) {
            qp dc, ds, y;
            if (add->inputs[0] == add->inputs[1]) break;
            if (!dq_of(c, add->inputs[side], 0, &dc) || dc.count != 1 || !dq_of(c, add->inputs[1 - side], 0, &ds) || ds.count != 1)
                continue;
            kiln_node *conv = dc.q->producer;
            if (!live(c, conv) || !kiln_opt_is(conv, "QLinearConv") || conv->n_inputs < 8 || !conv->inputs[6] || !conv->inputs[7] ||
                conv->outputs[0] != dc.q || kiln_rw_single_consumer(c->rw, dc.q) != dc.node ||
                kiln_rw_single_consumer(c->rw, add->inputs[side]) != add)
                continue;
            /* the DequantizeLinear of C must use the conv's own output parameters */
            if (!same_scalar(dc.scale, conv->inputs[6]) ||
                !(same_scalar(dc.zp, conv->inputs[7]) || (zero_zp(dc.zp) && zero_zp(conv->inputs[7]))))
                continue;
            kiln_pattern p = {{conv, dc.node, add}, 3, NULL};
            kiln_value *v = add->outputs[0];
            kiln_node *nx = kiln_rw_single_consumer(c->rw, v);
            int relu = live(c, nx) && kiln_opt_is(nx, "Relu") && nx->inputs[0] == v;
            if (relu) {
                p.nodes[p.n++] = nx;
                v = nx->outputs[0];
            }
            if (!q_after(c, v, &y) || y.dtype != dc.dtype) continue;
            p.nodes[p.n++] = y.node;
            p.out = y.q;
            kiln_value *zs, *zy;
            KILN_TRY(zp_value(c, &ds, &zs));
            KILN_TRY(zp_value(c, &y, &zy));
            kiln_node *f;
            KILN_TRY(kiln_rw_add_node(c->rw, conv->name, "QLinearConvAdd", "kiln", 14, 1, conv->n_attrs + 1, &f));
            for (uint32_t a = 0; a < conv->n_attrs; a++) kiln_rw_attr_copy(f, a, &conv->attrs[a]);
            KILN_TRY(kiln_rw_attr_str(c->rw, f, conv->n_attrs, "activation", relu ? "Relu" : ""));
            for (uint32_t k = 0; k < 9; k++) KILN_TRY(kiln_rw_set_input(c->rw, f, k, k < conv->n_inputs ? conv->inputs[k] : NULL));
            kiln_value *in[5] = {ds.q, ds.scale, zs, y.scale, zy};
            for (uint32_t k = 0; k < 5; k++) KILN_TRY(kiln_rw_set_input(c->rw, f, 9 + k, in[k]));
            int ok;
            KILN_TRY(kiln_fuse_commit(c, f, &p, conv, &ok));
            if (ok) KILN_TRY(drop_if_unread(c, ds.node));
            break;
        }
    }
    return KILN_OK;
}

/* ---- qdq_movement: data-movement ops onto the 8-bit side ---- */

/* Ops that only move or select values of their input 0 (each output value is one input value),
 * so that Q(op(DQ(x))) == op(x) when the Q and DQ parameters are equal. */
static int moves_values(const kiln_node *n) {
    static const char *const ops[] = {"Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze", "Slice", "Gather",
                                      "MaxPool", "Resize", "Concat"};
    int known = 0;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) known |= kiln_opt_is(n, ops[i]);
    if (!known || n->n_outputs != 1 || !n->outputs[0]) return 0;
    if (kiln_opt_is(n, "MaxPool") && (n->n_outputs > 1 || kiln_attr_int(n, "storage_order", 0) != 0)) return 0;
    if (kiln_opt_is(n, "Resize")) {
        /* nearest only (the default mode); the other modes compute new values */
        if (strcmp(kiln_attr_str(n, "mode", "nearest"), "nearest") != 0) return 0;
        if (n->opset >= 18 && kiln_attr_int(n, "antialias", 0) != 0) return 0;
        if (strcmp(kiln_attr_str(n, "coordinate_transformation_mode", "half_pixel"), "tf_crop_and_resize") == 0) return 0;
    }
    return 1;
}

kiln_status kiln_pass_qdq_movement(kiln_opt_ctx *c) {
    kiln_graph *g = c->rw->g;
    uint32_t count = g->n_nodes;
    for (uint32_t i = 0; i < count; i++) {
        kiln_node *op = g->nodes[i];
        if (!live(c, op) || !moves_values(op) || kiln_rw_has_subgraph(op)) continue;
        qp y;
        kiln_pattern p = {{op}, 1, NULL};
        if (!q_after(c, op->outputs[0], &y)) continue;
        /* the moved inputs: input 0, or every input of a Concat, each a DequantizeLinear with y's parameters */
        uint32_t n_moved = kiln_opt_is(op, "Concat") ? op->n_inputs : 1;
        qp x[KILN_FUSE_MAX];
        int fits = n_moved >= 1 && n_moved <= KILN_FUSE_MAX;
        for (uint32_t k = 0; k < n_moved && fits; k++) fits = dq_of(c, op->inputs[k], 0, &x[k]) && same_qp(&x[k], &y);
        if (!fits) continue;
        p.nodes[p.n++] = y.node;
        p.out = y.q;
        kiln_node *f;
        KILN_TRY(kiln_rw_add_node(c->rw, op->name, op->op_type, "", op->n_inputs, 1, op->n_attrs, &f));
        for (uint32_t a = 0; a < op->n_attrs; a++) kiln_rw_attr_copy(f, a, &op->attrs[a]);
        for (uint32_t k = 0; k < op->n_inputs; k++) KILN_TRY(kiln_rw_set_input(c->rw, f, k, k < n_moved ? x[k].q : op->inputs[k]));
        int ok;
        KILN_TRY(kiln_fuse_commit(c, f, &p, op, &ok));
        if (!ok) continue;
        for (uint32_t k = 0; k < n_moved; k++) KILN_TRY(drop_if_unread(c, x[k].node));
    }
    return KILN_OK;
}

/* ---- qdq_pair_elimination: Q(DQ(x)) with equal parameters is x ---- */

kiln_status kiln_pass_qdq_pair_elimination(kiln_opt_ctx *c) {
    kiln_graph *g = c->rw->g;
    uint32_t count = g->n_nodes;
    for (uint32_t i = 0; i < count; i++) {
        kiln_node *q = g->nodes[i];
        if (!live(c, q) || !kiln_opt_is(q, "QuantizeLinear") || q->n_outputs != 1 || !q->outputs[0]) continue;
        if (kiln_attr_int(q, "saturate", 1) != 1) continue;
        qp x, y;
        if (!dq_of(c, q->inputs[0], 0, &x) || !read_qp(q, q->outputs[0], 0, &y) || !same_qp(&x, &y)) continue;
        int done = 0;
        KILN_TRY(kiln_rw_replace_uses(c->rw, q->outputs[0], x.q, &done));
        if (!done) continue;
        KILN_TRY(kiln_rw_remove_node(c->rw, q));
        KILN_TRY(drop_if_unread(c, x.node));
        c->fired++;
    }
    return KILN_OK;
}

/* ---- qdq_weight_fold: DequantizeLinear of constants read by float ops ---- */

#define KILN_QDQ_FOLD_MAX_BYTES (256u << 20)

kiln_status kiln_pass_qdq_weight_fold(kiln_opt_ctx *c) {
    if (!c->hooks || !c->hooks->fold) return KILN_OK;
    kiln_graph *g = c->rw->g;
    uint32_t count = g->n_nodes;
    for (uint32_t i = 0; i < count; i++) {
        kiln_node *n = g->nodes[i];
        if (!live(c, n) || !kiln_opt_is(n, "DequantizeLinear") || n->n_outputs != 1 || !n->outputs[0]) continue;
        kiln_value *v = n->outputs[0];
        int consts = 1;
        for (uint32_t k = 0; k < n->n_inputs; k++) consts &= !n->inputs[k] || n->inputs[k]->constant != NULL;
        if (!consts || !n->inputs[0] || kiln_rw_is_output(v) || !kiln_fuse_f32(v) || !kiln_rw_use_count(c->rw, v)) continue;
        if ((uint64_t)n->inputs[0]->constant->desc.count > KILN_QDQ_FOLD_MAX_BYTES / 4) continue;
        kiln_folded out;
        void *state = NULL;
        memset(&out, 0, sizeof out);
        if (!c->hooks->fold(c->hooks->user, n, &out, &state)) continue;
        kiln_value *cv = NULL;
        kiln_status st = out.dtype == KILN_DTYPE_FLOAT ? kiln_rw_add_const(c->rw, v->name, out.dtype, out.rank, out.dims, out.data, &cv) : KILN_OK;
        c->hooks->fold_release(c->hooks->user, state);
        KILN_TRY(st);
        if (!cv) continue;
        int done = 0;
        KILN_TRY(kiln_rw_replace_uses(c->rw, v, cv, &done));
        if (!done) continue;
        KILN_TRY(kiln_rw_remove_node(c->rw, n));
        c->fired++;
    }
    return KILN_OK;
}
