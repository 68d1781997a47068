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
