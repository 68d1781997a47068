/* SPDX-License-Identifier: MIT */
/* Shape inference for Attention (3-D [batch, seq, heads * head_size] or 4-D
 * [batch, heads, seq, head_size] inputs, past/present key and value, qk_matmul_output),
 * RotaryEmbedding, LinearAttention and CausalConvWithState. */
#include "graph/shape/infer_fns.h"

static int64_t mul_known(int64_t a, int64_t b) { return a >= 0 && b >= 0 ? a * b : KILN_DIM_UNKNOWN; }
static int64_t add_known(int64_t a, int64_t b) { return a >= 0 && b >= 0 ? a + b : KILN_DIM_UNKNOWN; }
static int64_t div_known(int64_t a, int64_t b) { return a >= 0 && b > 0 ? a / b : KILN_DIM_UNKNOWN; }

kiln_status kiln_infer_attention(kiln_shape_ctx *c) {
    const kiln_shape_val *q, *k, *v;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &q));
    KILN_TRY(kiln_shape_need_tensor(c, 1, &k));
    KILN_TRY(kiln_shape_need_tensor(c, 2, &v));
    if (k->t.dtype != q->t.dtype) return kiln_shape_fail(c, "Q and K must have the same type");
    const kiln_shape_val *pk = kiln_shape_in(c, 4), *pv = kiln_shape_in(c, 5);
    if (!pk != !pv) return kiln_shape_fail(c, "past_key and past_value must be given together");
    if (pk && kiln_shape_in(c, 6)) return kiln_shape_fail(c, "nonpad_kv_seqlen cannot be used with past_key / past_value");
    int32_t r = q->t.rank;
    if (r < 0 || k->t.rank < 0 || v->t.rank < 0) {
        kiln_shape_set(c, 0, q->t.dtype, r, NULL);
        kiln_shape_set(c, 1, q->t.dtype, 4, NULL);
        kiln_shape_set(c, 2, v->t.dtype, 4, NULL);
        kiln_shape_set(c, 3, q->t.dtype, 4, NULL);
        return KILN_OK;
    }
    if ((r != 3 && r != 4) || k->t.rank != r || v->t.rank != r) return kiln_shape_fail(c, "Q, K and V must all be 3-D or all 4-D");
    int64_t qh = kiln_attr_int(c->node, "q_num_heads", 0), kvh = kiln_attr_int(c->node, "kv_num_heads", 0);
    int64_t b = q->t.dims[0], sq, skv, d, dv;
    if (r == 3) {
        if (qh <= 0 || kvh <= 0) return kiln_shape_fail(c, "3-D inputs need positive q_num_heads and kv_num_heads");
        if ((q->t.dims[2] >= 0 && q->t.dims[2] % qh) || (k->t.dims[2] >= 0 && k->t.dims[2] % kvh) ||
            (v->t.dims[2] >= 0 && v->t.dims[2] % kvh))
            return kiln_shape_fail(c, "hidden sizes are not multiples of the head counts");
        sq = q->t.dims[1], skv = k->t.dims[1], d = div_known(k->t.dims[2], kvh), dv = div_known(v->t.dims[2], kvh);
        if (d >= 0 && q->t.dims[2] >= 0 && q->t.dims[2] / qh != d) return kiln_shape_fail(c, "Q and K head sizes differ");
    } else {
        if (c->opset >= 25 && (qh || kvh)) return kiln_shape_fail(c, "q_num_heads and kv_num_heads are for 3-D inputs only");
        qh = q->t.dims[1], kvh = k->t.dims[1], sq = q->t.dims[2], skv = k->t.dims[2], d = k->t.dims[3], dv = v->t.dims[3];
        if (q->t.dims[3] >= 0 && d >= 0 && q->t.dims[3] != d) return kiln_shape_fail(c, "Q and K head sizes differ");
        if (v->t.dims[1] >= 0 && kvh >= 0 && v->t.dims[1] != kvh) return kiln_shape_fail(c, "K and V head counts differ");
    }
    if (qh > 0 && kvh > 0 && qh % kvh) return kiln_shape_fail(c, "q heads (%lld) are not a multiple of kv heads (%lld)", (long long)qh, (long long)kvh);
    int64_t past = 0;
    if (pk) {
        if (pk->t.rank >= 0 && pk->t.rank != 4) return kiln_shape_fail(c, "past_key must be 4-D");
        past = pk->t.rank == 4 ? pk->t.dims[2] : KILN_DIM_UNKNOWN;
    }
    int64_t total = add_known(past, skv);
    int64_t y[4] = {b, qh, sq, dv};
    if (r == 3) y[1] = sq, y[2] = mul_known(qh, dv);
    kiln_shape_set(c, 0, q->t.dtype, r, y);
    int64_t pkd[4] = {b, kvh, total, d}, pvd[4] = {b, kvh, total, dv}, qkd[4] = {b, qh, sq, total};
    kiln_shape_set(c, 1, q->t.dtype, 4, pkd);
    kiln_shape_set(c, 2, v->t.dtype, 4, pvd);
    kiln_shape_set(c, 3, q->t.dtype, 4, qkd);
    return KILN_OK;
}

/* RotaryEmbedding: Y has X's type and shape. */
kiln_status kiln_infer_rotary_embedding(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    if (x->t.rank >= 0 && x->t.rank != 3 && x->t.rank != 4) return kiln_shape_fail(c, "X must be 3-D or 4-D");
    kiln_shape_same(c, 0, 0);
    return KILN_OK;
}

/* LinearAttention: output [B, T, q_heads * d_v]; present_state [B, kv_heads, d_k, d_v] of
 * past_state's type (the query's without it). */
kiln_status kiln_infer_linear_attention(kiln_shape_ctx *c) {
    const kiln_shape_val *q, *k, *v;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &q));
    KILN_TRY(kiln_shape_need_tensor(c, 1, &k));
    KILN_TRY(kiln_shape_need_tensor(c, 2, &v));
    int64_t qh = kiln_attr_int(c->node, "q_num_heads", 0), kvh = kiln_attr_int(c->node, "kv_num_heads", 0);
    if (qh <= 0 || kvh <= 0 || qh % kvh) return kiln_shape_fail(c, "q_num_heads must be a positive multiple of kv_num_heads");
    if ((q->t.rank >= 0 && q->t.rank != 3) || (k->t.rank >= 0 && k->t.rank != 3) || (v->t.rank >= 0 && v->t.rank != 3))
        return kiln_shape_fail(c, "query, key and value must be 3-D");
    int64_t b = q->t.rank == 3 ? q->t.dims[0] : -1, t = q->t.rank == 3 ? q->t.dims[1] : -1;
    int64_t dk = q->t.rank == 3 ? div_known(q->t.dims[2], qh) : -1, dv = v->t.rank == 3 ? div_known(v->t.dims[2], kvh) : -1;
    if (q->t.rank == 3 && q->t.dims[2] >= 0 && q->t.dims[2] % qh) return kiln_shape_fail(c, "query's last dim is not a multiple of q_num_heads");
    if (v->t.rank == 3 && v->t.dims[2] >= 0 && v->t.dims[2] % kvh) return kiln_shape_fail(c, "value's last dim is not a multiple of kv_num_heads");
    int64_t y[3] = {b, t, mul_known(qh, dv)}, st[4] = {b, kvh, dk, dv};
    kiln_shape_set(c, 0, q->t.dtype, 3, y);
    const kiln_shape_val *ps = kiln_shape_in(c, 3);
    kiln_shape_set(c, 1, ps ? ps->t.dtype : q->t.dtype, 4, st);
    return KILN_OK;
}

/* CausalConvWithState: output like input [B, C, L]; present_state [B, C, k - 1]. */
kiln_status kiln_infer_causal_conv_with_state(kiln_shape_ctx *c) {
    const kiln_shape_val *x, *w;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    KILN_TRY(kiln_shape_need_tensor(c, 1, &w));
    if ((x->t.rank >= 0 && x->t.rank != 3) || (w->t.rank >= 0 && w->t.rank != 3)) return kiln_shape_fail(c, "input and weight must be 3-D");
    if (w->t.rank == 3 && w->t.dims[2] == 0) return kiln_shape_fail(c, "the kernel size must be positive");
    kiln_shape_same(c, 0, 0);
    int64_t st[3] = {x->t.rank == 3 ? x->t.dims[0] : -1, x->t.rank == 3 ? x->t.dims[1] : -1,
                     w->t.rank == 3 && w->t.dims[2] > 0 ? w->t.dims[2] - 1 : -1};
    kiln_shape_set(c, 1, x->t.dtype, 3, st);
    return KILN_OK;
}

/* Element type FlexAttention computes scores and probabilities in (and feeds its modifier
 * subgraphs): softmax_precision, else double for double inputs and float otherwise. */
static int32_t flex_dtype(kiln_shape_ctx *c, int32_t qt) {
    int64_t sp = kiln_attr_int(c->node, "softmax_precision", 0);
    if (sp) return (int32_t)sp;
    return qt == KILN_DTYPE_DOUBLE ? KILN_DTYPE_DOUBLE : KILN_DTYPE_FLOAT;
}

/* FlexAttention (ai.onnx.preview): rank-4 Q [B, Hq, L, E], K [B, Hkv, S, E], V [B, Hkv, S, Ev]
 * → Y [B, Hq, L, Ev]. At creation the score_mod / prob_mod subgraphs get their input type
 * ([B, Hq, L, S] of the softmax dtype) and are inferred. */
kiln_status kiln_infer_flex_attention(kiln_shape_ctx *c) {
    const kiln_shape_val *q, *k, *v;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &q));
    KILN_TRY(kiln_shape_need_tensor(c, 1, &k));
    KILN_TRY(kiln_shape_need_tensor(c, 2, &v));
    if (k->t.dtype != q->t.dtype || v->t.dtype != q->t.dtype) return kiln_shape_fail(c, "Q, K and V must have the same type");
    if ((q->t.rank >= 0 && q->t.rank != 4) || (k->t.rank >= 0 && k->t.rank != 4) || (v->t.rank >= 0 && v->t.rank != 4))
        return kiln_shape_fail(c, "Q, K and V must be 4-D");
    int64_t b = q->t.rank == 4 ? q->t.dims[0] : -1, hq = q->t.rank == 4 ? q->t.dims[1] : -1, l = q->t.rank == 4 ? q->t.dims[2] : -1;
    int64_t s = k->t.rank == 4 ? k->t.dims[2] : -1, ev = v->t.rank == 4 ? v->t.dims[3] : -1;
    int64_t y[4] = {b, hq, l, ev};
    kiln_shape_set(c, 0, q->t.dtype, 4, y);
    if (c->runtime) return KILN_OK;
    static const char *const mods[2] = {"score_mod", "prob_mod"};
    for (int i = 0; i < 2; i++) {
        const kiln_attr *a = kiln_node_attr(c->node, mods[i]);
        if (!a) continue;
        if (a->type != KILN_ATTR_GRAPH || a->n != 1 || !a->graphs || !a->graphs[0])
            return kiln_shape_fail(c, "attribute '%s' must be one graph", mods[i]);
        kiln_graph *g = a->graphs[0];
        if (g->n_inputs != 1 || g->n_outputs != 1) return kiln_shape_fail(c, "'%s' must have one input and one output", mods[i]);
        kiln_type *t = &g->inputs[0]->type;
        int32_t dt = flex_dtype(c, q->t.dtype);
        if (t->kind != KILN_VALUE_UNKNOWN && (t->kind != KILN_VALUE_TENSOR || (t->dtype && t->dtype != dt)))
            return kiln_shape_fail(c, "'%s' input must be a %s tensor", mods[i], kiln_dtype_name((kiln_dtype)dt));
        int64_t sd[4] = {b, hq, l, s};
        kiln_type_tensor(t, dt, 4, sd);
        KILN_TRY(kiln_graph_infer(g, c->err));
    }
    return KILN_OK;
}
