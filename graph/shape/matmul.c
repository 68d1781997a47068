/* SPDX-License-Identifier: MIT */
/* Shape inference for Gemm, MatMul and the integer / quantized matmuls (numpy matmul: 1-D
 * promotion, batch broadcasting). */
#include "graph/shape/infer_fns.h"

kiln_status kiln_infer_gemm(kiln_shape_ctx *c) {
    const kiln_shape_val *a, *b;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &a));
    KILN_TRY(kiln_shape_need_tensor(c, 1, &b));
    if (a->t.dtype != b->t.dtype) return kiln_shape_fail(c, "A and B have different types");
    if ((a->t.rank >= 0 && a->t.rank != 2) || (b->t.rank >= 0 && b->t.rank != 2))
        return kiln_shape_fail(c, "A and B must be matrices");
    int ta = kiln_attr_int(c->node, "transA", 0) != 0, tb = kiln_attr_int(c->node, "transB", 0) != 0;
    int64_t dims[2] = {KILN_DIM_UNKNOWN, KILN_DIM_UNKNOWN};
    if (a->t.rank == 2) dims[0] = a->t.dims[ta ? 1 : 0];
    if (b->t.rank == 2) dims[1] = b->t.dims[tb ? 0 : 1];
    if (a->t.rank == 2 && b->t.rank == 2) {
        int64_t ka = a->t.dims[ta ? 0 : 1], kb = b->t.dims[tb ? 1 : 0];
        if (ka >= 0 && kb >= 0 && ka != kb)
            return kiln_shape_fail(c, "A is %lldx%lld and B is %lldx%lld: inner dims differ", (long long)a->t.dims[0],
                                   (long long)a->t.dims[1], (long long)b->t.dims[0], (long long)b->t.dims[1]);
    }
    const kiln_shape_val *cc = kiln_shape_in(c, 2);
    if (cc && cc->t.dtype != a->t.dtype) return kiln_shape_fail(c, "C has a different type than A");
    if (cc && cc->t.rank > 2) return kiln_shape_fail(c, "C must have rank 2 or less");
    /* Before opset 7, C broadcasts only with broadcast=1; otherwise it is exactly [M, N]. */
    int exact = c->opset < 7 && kiln_attr_int(c->node, "broadcast", 0) == 0;
    if (cc && cc->t.rank >= 0 && exact && cc->t.rank != 2) return kiln_shape_fail(c, "C must be [M, N] without broadcast");
    if (cc && cc->t.rank >= 0) {
        /* C must broadcast to [M, N] (unidirectionally). */
        for (int32_t i = 0; i < cc->t.rank; i++) {
            int64_t d = cc->t.dims[cc->t.rank - 1 - i], want = dims[1 - i];
            if (d >= 0 && want >= 0 && d != want && (d != 1 || exact))
                return kiln_shape_fail(c, "C cannot be broadcast to [%lld, %lld]", (long long)dims[0], (long long)dims[1]);
        }
    }
    kiln_shape_set(c, 0, a->t.dtype, 2, dims);
    return KILN_OK;
}

/* numpy matmul of inputs ai and bi; output 0 gets `dtype`. */
static kiln_status matmul_shape(kiln_shape_ctx *c, uint32_t ai, uint32_t bi, int32_t dtype) {
    const kiln_shape_val *a, *b;
    KILN_TRY(kiln_shape_need_tensor(c, ai, &a));
    KILN_TRY(kiln_shape_need_tensor(c, bi, &b));
    if (a->t.rank < 0 || b->t.rank < 0) {
        kiln_shape_set(c, 0, dtype, -1, NULL);
        return KILN_OK;
    }
    if (a->t.rank == 0 || b->t.rank == 0) return kiln_shape_fail(c, "inputs must not be scalars");
    /* Promote 1-D operands to matrices, broadcast the batch dims, then drop the promoted dims. */
    kiln_type ta = a->t, tb = b->t;
    if (ta.rank == 1) { ta.rank = 2; ta.dims[1] = ta.dims[0]; ta.dims[0] = 1; }
    if (tb.rank == 1) { tb.rank = 2; tb.dims[1] = 1; }
    int64_t k1 = ta.dims[ta.rank - 1], k2 = tb.dims[tb.rank - 2];
    if (k1 >= 0 && k2 >= 0 && k1 != k2)
        return kiln_shape_fail(c, "inner dims differ: %lld and %lld", (long long)k1, (long long)k2);
    kiln_type ba = ta, bb = tb;
    ba.rank -= 2;
    bb.rank -= 2;
    const kiln_type *ts[2] = {&ba, &bb};
    int32_t rank;
    int64_t dims[KILN_MAX_RANK];
    KILN_TRY(kiln_shape_broadcast(c, ts, 2, &rank, dims));
    if (a->t.rank != 1) dims[rank++] = ta.dims[ta.rank - 2];
    if (b->t.rank != 1) dims[rank++] = tb.dims[tb.rank - 1];
    if (rank > KILN_MAX_RANK) return kiln_shape_fail(c, "rank too large");
    kiln_shape_set(c, 0, dtype, rank, dims);
    return KILN_OK;
}

kiln_status kiln_infer_matmul(kiln_shape_ctx *c) {
    const kiln_shape_val *a, *b;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &a));
    KILN_TRY(kiln_shape_need_tensor(c, 1, &b));
    if (a->t.dtype != b->t.dtype) return kiln_shape_fail(c, "A and B have different types");
    return matmul_shape(c, 0, 1, a->t.dtype);
}

/* MatMulInteger: A, B, a_zero_point, b_zero_point → int32. */
kiln_status kiln_infer_matmul_integer(kiln_shape_ctx *c) { return matmul_shape(c, 0, 1, KILN_DTYPE_INT32); }

/* QLinearMatMul: a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp → the type of y_zp. */
kiln_status kiln_infer_qlinear_matmul(kiln_shape_ctx *c) {
    const kiln_shape_val *yz;
    KILN_TRY(kiln_shape_need_tensor(c, 7, &yz));
    return matmul_shape(c, 0, 3, yz->t.dtype);
}
