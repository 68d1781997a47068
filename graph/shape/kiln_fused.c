/* SPDX-License-Identifier: MIT */
/* Shape inference of the optimizer's fused ops that have no standard counterpart
 * (docs/kiln-ops.md); the others use their base op's function (graph/ops.def). */
#include "graph/shape/infer_fns.h"

/* The base op's function under the base op's opset (docs/kiln-ops.md names it). */
static kiln_status as_base(kiln_shape_ctx *c, int64_t opset, kiln_shape_fn fn) {
    int64_t saved = c->opset;
    c->opset = opset;
    kiln_status st = fn(c);
    c->opset = saved;
    return st;
}

kiln_status kiln_infer_kiln_fused_conv(kiln_shape_ctx *c) { return as_base(c, 11, kiln_infer_conv); }
kiln_status kiln_infer_kiln_fused_gemm(kiln_shape_ctx *c) { return as_base(c, 13, kiln_infer_gemm); }
kiln_status kiln_infer_kiln_fused_matmul(kiln_shape_ctx *c) { return as_base(c, 13, kiln_infer_matmul); }
kiln_status kiln_infer_kiln_layernorm(kiln_shape_ctx *c) { return as_base(c, 17, kiln_infer_layernorm); }

/* kiln.QLinearConvAdd: QLinearConv's output (the type of y_zero_point, input 13); the shortcut S
 * (input 9) has that shape. */
kiln_status kiln_infer_kiln_qconv_add(kiln_shape_ctx *c) {
    KILN_TRY(as_base(c, 10, kiln_infer_qlinear_conv));
    const kiln_shape_val *s = kiln_shape_in(c, 9), *yz = kiln_shape_in(c, 13);
    if (!s || !yz) return kiln_shape_fail(c, "S and y_zero_point are required");
    if (yz->t.dtype != KILN_DTYPE_UINT8 && yz->t.dtype != KILN_DTYPE_INT8) return kiln_shape_fail(c, "y_zero_point must be 8-bit");
    kiln_type yt = c->out[0].t;
    const kiln_type *y = &yt;
    if (s->t.rank >= 0 && y->rank >= 0) {
        if (s->t.rank != y->rank) return kiln_shape_fail(c, "S has rank %d, the output %d", (int)s->t.rank, (int)y->rank);
        for (int32_t i = 0; i < y->rank; i++)
            if (s->t.dims[i] >= 0 && y->dims[i] >= 0 && s->t.dims[i] != y->dims[i])
                return kiln_shape_fail(c, "S's dim %d is %lld, the output's %lld", (int)i, (long long)s->t.dims[i], (long long)y->dims[i]);
    }
    kiln_shape_set(c, 0, yz->t.dtype, y->rank, y->rank >= 0 ? y->dims : NULL);
    return KILN_OK;
}

/* kiln.SkipLayerNormalization: Y (and Sum) have X's type; Skip has X's shape; Gamma, Beta, Bias
 * are 1-D with X's last dim. */
kiln_status kiln_infer_kiln_skip_layernorm(kiln_shape_ctx *c) {
    const kiln_shape_val *x, *skip, *gamma;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    KILN_TRY(kiln_shape_need_tensor(c, 1, &skip));
    KILN_TRY(kiln_shape_need_tensor(c, 2, &gamma));
    if (x->t.dtype != KILN_DTYPE_FLOAT || skip->t.dtype != x->t.dtype || gamma->t.dtype != x->t.dtype)
        return kiln_shape_fail(c, "X, Skip and Gamma must be float32");
    int32_t r = x->t.rank;
    if (r == 0) return kiln_shape_fail(c, "X must have at least one dim");
    if (r > 0 && skip->t.rank >= 0) {
        if (skip->t.rank != r) return kiln_shape_fail(c, "Skip has rank %d, X rank %d", (int)skip->t.rank, (int)r);
        for (int32_t i = 0; i < r; i++)
            if (x->t.dims[i] >= 0 && skip->t.dims[i] >= 0 && x->t.dims[i] != skip->t.dims[i])
                return kiln_shape_fail(c, "Skip's dim %d is %lld, X's %lld", (int)i, (long long)skip->t.dims[i], (long long)x->t.dims[i]);
    }
    int64_t h = r > 0 ? x->t.dims[r - 1] : -1;
    for (uint32_t i = 2; i < 5; i++) {
        const kiln_shape_val *p = kiln_shape_in(c, i);
        if (!p) continue;
        if (p->t.dtype != KILN_DTYPE_FLOAT || (p->t.rank >= 0 && p->t.rank != 1))
            return kiln_shape_fail(c, "input %u must be a 1-D float32 tensor", i);
        if (h >= 0 && p->t.rank == 1 && p->t.dims[0] >= 0 && p->t.dims[0] != h)
            return kiln_shape_fail(c, "input %u has %lld values, X's last dim is %lld", i, (long long)p->t.dims[0], (long long)h);
    }
    for (uint32_t o = 0; o < c->n_out && o < 2; o++)
        if (c->out[o].present) kiln_shape_same(c, o, 0);
    return KILN_OK;
}

/* kiln.DynamicQuantMatMul: Y is float32 with A's dims, the last one replaced by B's columns. */
kiln_status kiln_infer_kiln_dynq_matmul(kiln_shape_ctx *c) {
    const kiln_shape_val *a, *b;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &a));
    KILN_TRY(kiln_shape_need_tensor(c, 1, &b));
    if (a->t.dtype != KILN_DTYPE_FLOAT) return kiln_shape_fail(c, "A must be float32");
    if (b->t.dtype != KILN_DTYPE_UINT8 && b->t.dtype != KILN_DTYPE_INT8) return kiln_shape_fail(c, "B must be uint8 or int8");
    if (b->t.rank >= 0 && b->t.rank != 2) return kiln_shape_fail(c, "B must be 2-D");
    if (a->t.rank == 0) return kiln_shape_fail(c, "A must have at least one dim");
    if (a->t.rank < 0) {
        kiln_shape_set(c, 0, KILN_DTYPE_FLOAT, -1, NULL);
        return KILN_OK;
    }
    int64_t dims[KILN_MAX_RANK];
    for (int32_t i = 0; i < a->t.rank; i++) dims[i] = a->t.dims[i];
    if (b->t.rank == 2) {
        int64_t k = a->t.dims[a->t.rank - 1];
        if (k >= 0 && b->t.dims[0] >= 0 && k != b->t.dims[0])
            return kiln_shape_fail(c, "A's last dim %lld differs from B's rows %lld", (long long)k, (long long)b->t.dims[0]);
        dims[a->t.rank - 1] = b->t.dims[1];
    } else {
        dims[a->t.rank - 1] = KILN_DIM_UNKNOWN;
    }
    kiln_shape_set(c, 0, KILN_DTYPE_FLOAT, a->t.rank, dims);
    return KILN_OK;
}

/* kiln.Attention: Y has Q's type; K and V are rank 3 with Q's batch and hidden size. */
kiln_status kiln_infer_kiln_attention(kiln_shape_ctx *c) {
    const kiln_shape_val *q, *k, *v;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &q));
    KILN_TRY(kiln_shape_need_tensor(c, 1, &k));
    KILN_TRY(kiln_shape_need_tensor(c, 2, &v));
    if (q->t.dtype != KILN_DTYPE_FLOAT || k->t.dtype != KILN_DTYPE_FLOAT || v->t.dtype != KILN_DTYPE_FLOAT)
        return kiln_shape_fail(c, "Q, K and V must be float32");
    if ((q->t.rank >= 0 && q->t.rank != 3) || (k->t.rank >= 0 && k->t.rank != 3) || (v->t.rank >= 0 && v->t.rank != 3))
        return kiln_shape_fail(c, "Q, K and V must be [B, S, N*D]");
    int64_t heads = kiln_attr_int(c->node, "num_heads", 0);
    if (heads < 1) return kiln_shape_fail(c, "num_heads must be positive");
    if (q->t.rank == 3 && q->t.dims[2] >= 0 && q->t.dims[2] % heads)
        return kiln_shape_fail(c, "hidden size %lld is not a multiple of num_heads %lld", (long long)q->t.dims[2], (long long)heads);
    kiln_shape_same(c, 0, 0);
    return KILN_OK;
}
