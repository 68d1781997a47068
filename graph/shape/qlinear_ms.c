/* SPDX-License-Identifier: MIT */
/* Shape inference for the com.microsoft QOperator ops that onnxruntime.quantization emits
 * (QLinearAdd, QLinearMul, QLinearSigmoid, QLinearLeakyRelu, QLinearAveragePool,
 * QLinearGlobalAveragePool, QLinearConcat, QLinearSoftmax, QLinearWhere, QGemm; docs/int8.md §5).
 * The geometry is that of the float op; on top, every quantized tensor is u8 or s8, scales are
 * float and zero points have their tensor's type. The geometry is delegated to the float op's
 * shape function on a view of the node's inputs. */
#include "graph/shape/infer_fns.h"

/* Inputs of one QLinearConcat (a bound for the stack arrays; models use a handful). */
#define KILN_MAX_INPUTS_QCONCAT 128

static const char *dname(int32_t dt) { return kiln_dtype_name((kiln_dtype)dt); }

static int is8(int32_t dt) { return dt == KILN_DTYPE_UINT8 || dt == KILN_DTYPE_INT8; }

/* Input i (when present) is a float scale; its dtype known. */
static kiln_status check_scale(kiln_shape_ctx *c, uint32_t i, const char *what) {
    const kiln_shape_val *s = kiln_shape_in(c, i);
    if (!s) return KILN_OK;
    if (s->t.kind != KILN_VALUE_TENSOR || s->t.dtype != KILN_DTYPE_FLOAT)
        return kiln_shape_fail(c, "%s must be a float tensor, not %s", what, dname(s->t.dtype));
    return KILN_OK;
}

/* Input i (when present) is a zero point of type dt. */
static kiln_status check_zp(kiln_shape_ctx *c, uint32_t i, int32_t dt, const char *what) {
    const kiln_shape_val *z = kiln_shape_in(c, i);
    if (!z) return KILN_OK;
    if (z->t.kind != KILN_VALUE_TENSOR || z->t.dtype != dt)
        return kiln_shape_fail(c, "%s must be %s like its tensor, not %s", what, dname(dt), dname(z->t.dtype));
    return KILN_OK;
}

/* Input i is an 8-bit quantized tensor. */
static kiln_status need8(kiln_shape_ctx *c, uint32_t i, const char *what, const kiln_shape_val **out) {
    KILN_TRY(kiln_shape_need_tensor(c, i, out));
    if (!is8((*out)->t.dtype)) return kiln_shape_fail(c, "%s must be uint8 or int8, not %s", what, dname((*out)->t.dtype));
    return KILN_OK;
}

/* Runs the float op's shape function on inputs idx[0..n) of this node (absent: UINT32_MAX). */
static kiln_status sub_infer(kiln_shape_ctx *c, kiln_shape_fn fn, const uint32_t *idx, uint32_t n) {
    kiln_shape_val in[8];
    for (uint32_t i = 0; i < n; i++) {
        const kiln_shape_val *v = idx[i] == UINT32_MAX ? NULL : kiln_shape_in(c, idx[i]);
        if (v) in[i] = *v;
        else in[i] = (kiln_shape_val){0};
    }
    kiln_shape_ctx s = *c;
    s.in = in, s.n_in = n;
    return fn(&s);
}

/* x (0), x_scale (1), x_zp (2), y_scale (3), y_zp (4) → y like x. */
static kiln_status unary(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    KILN_TRY(need8(c, 0, "X", &x));
    KILN_TRY(check_scale(c, 1, "X_scale"));
    KILN_TRY(check_zp(c, 2, x->t.dtype, "X_zero_point"));
    KILN_TRY(check_scale(c, 3, "Y_scale"));
    KILN_TRY(check_zp(c, 4, x->t.dtype, "Y_zero_point"));
    kiln_shape_set(c, 0, x->t.dtype, x->t.rank, x->t.dims);
    return KILN_OK;
}

kiln_status kiln_infer_ms_qlinear_unary(kiln_shape_ctx *c) { return unary(c); }

kiln_status kiln_infer_ms_qlinear_softmax(kiln_shape_ctx *c) {
    KILN_TRY(unary(c));
    const kiln_shape_val *x = kiln_shape_in(c, 0);
    if (!kiln_node_attr(c->node, "opset")) return kiln_shape_fail(c, "attribute 'opset' is required");
    int64_t opset = kiln_attr_int(c->node, "opset", 13);
    if (opset < 1) return kiln_shape_fail(c, "attribute 'opset' must be positive, got %lld", (long long)opset);
    if (x->t.rank >= 0) {
        int32_t axis;
        KILN_TRY(kiln_shape_axis(c, kiln_attr_int(c->node, "axis", opset < 13 ? 1 : -1), x->t.rank > 0 ? x->t.rank : 1, &axis));
    }
    return KILN_OK;
}

/* A (0), A_scale, A_zp, B (3), B_scale, B_zp, C_scale (6), C_zp → broadcast of A and B. */
kiln_status kiln_infer_ms_qlinear_binary(kiln_shape_ctx *c) {
    const kiln_shape_val *a, *b;
    KILN_TRY(need8(c, 0, "A", &a));
    KILN_TRY(need8(c, 3, "B", &b));
    if (a->t.dtype != b->t.dtype) return kiln_shape_fail(c, "A and B have different types (%s and %s)", dname(a->t.dtype), dname(b->t.dtype));
    KILN_TRY(check_scale(c, 1, "A_scale"));
    KILN_TRY(check_zp(c, 2, a->t.dtype, "A_zero_point"));
    KILN_TRY(check_scale(c, 4, "B_scale"));
    KILN_TRY(check_zp(c, 5, a->t.dtype, "B_zero_point"));
    KILN_TRY(check_scale(c, 6, "C_scale"));
    KILN_TRY(check_zp(c, 7, a->t.dtype, "C_zero_point"));
    const kiln_type *ts[2] = {&a->t, &b->t};
    int32_t rank;
    int64_t dims[KILN_MAX_RANK];
    KILN_TRY(kiln_shape_broadcast(c, ts, 2, &rank, dims));
    kiln_shape_set(c, 0, a->t.dtype, rank, dims);
    return KILN_OK;
}

/* condition (0), X (1), x_scale, x_zp, Y (4), y_scale, y_zp, z_scale (7), z_zp (8). */
kiln_status kiln_infer_ms_qlinear_where(kiln_shape_ctx *c) {
    const kiln_shape_val *x, *y;
    KILN_TRY(need8(c, 1, "X", &x));
    KILN_TRY(need8(c, 4, "Y", &y));
    KILN_TRY(check_scale(c, 2, "x_scale"));
    KILN_TRY(check_zp(c, 3, x->t.dtype, "x_zero_point"));
    KILN_TRY(check_scale(c, 5, "y_scale"));
    KILN_TRY(check_zp(c, 6, x->t.dtype, "y_zero_point"));
    KILN_TRY(check_scale(c, 7, "z_scale"));
    KILN_TRY(check_zp(c, 8, x->t.dtype, "z_zero_point"));
    static const uint32_t idx[3] = {0, 1, 4};
    return sub_infer(c, kiln_infer_where, idx, 3);
}

/* X (0), x_scale, x_zp, y_scale, y_zp; channels_last: X is [N, D1.., C]. */
kiln_status kiln_infer_ms_qlinear_avgpool(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    KILN_TRY(unary(c));
    x = kiln_shape_in(c, 0);
    int cl = kiln_attr_int(c->node, "channels_last", 0) != 0;
    if (!kiln_node_attr(c->node, "kernel_shape")) return kiln_shape_fail(c, "attribute 'kernel_shape' is required");
    if (x->t.rank >= 0 && x->t.rank < 3) return kiln_shape_fail(c, "X must have rank 3 or more, got %d", (int)x->t.rank);
    if (!cl || x->t.rank < 0) {
        static const uint32_t idx[1] = {0};
        KILN_TRY(sub_infer(c, kiln_infer_pool, idx, 1));
        c->out[0].t.dtype = x->t.dtype;
        return KILN_OK;
    }
    /* NHWC: infer on the NCHW view, then move C back last. */
    kiln_shape_val v = *x;
    int32_t r = x->t.rank;
    v.t.dims[1] = x->t.dims[r - 1];
    for (int32_t d = 2; d < r; d++) v.t.dims[d] = x->t.dims[d - 1];
    v.data = NULL;
    kiln_shape_ctx s = *c;
    s.in = &v, s.n_in = 1;
    KILN_TRY(kiln_infer_pool(&s));
    if (c->out[0].t.rank != r) return KILN_OK;
    int64_t dims[KILN_MAX_RANK];
    dims[0] = c->out[0].t.dims[0];
    for (int32_t d = 2; d < r; d++) dims[d - 1] = c->out[0].t.dims[d];
    dims[r - 1] = c->out[0].t.dims[1];
    kiln_shape_set(c, 0, x->t.dtype, r, dims);
    return KILN_OK;
}

/* X (0), x_scale, x_zp, y_scale, y_zp → [N, C, 1, ..] or, channels_last, [N, 1, .., C]. */
kiln_status kiln_infer_ms_qlinear_global_avgpool(kiln_shape_ctx *c) {
    KILN_TRY(unary(c));
    const kiln_shape_val *x = kiln_shape_in(c, 0);
    int cl = kiln_attr_int(c->node, "channels_last", 0) != 0;
    if (x->t.rank < 0) return KILN_OK;
    if (x->t.rank < 3) return kiln_shape_fail(c, "X must have rank 3 or more, got %d", (int)x->t.rank);
    int32_t r = x->t.rank, ch = cl ? r - 1 : 1;
    int64_t dims[KILN_MAX_RANK];
    for (int32_t d = 0; d < r; d++) dims[d] = d == 0 || d == ch ? x->t.dims[d] : 1;
    kiln_shape_set(c, 0, x->t.dtype, r, dims);
    return KILN_OK;
}

/* Y_scale (0), Y_zero_point (1), then (X, X_scale, X_zero_point) per input. */
kiln_status kiln_infer_ms_qlinear_concat(kiln_shape_ctx *c) {
    if (c->n_in < 5 || (c->n_in - 2) % 3 != 0)
        return kiln_shape_fail(c, "needs Y_scale, Y_zero_point and triples (X, X_scale, X_zero_point), got %u inputs", c->n_in);
    const kiln_shape_val *yz;
    KILN_TRY(check_scale(c, 0, "Y_scale"));
    KILN_TRY(need8(c, 1, "Y_zero_point", &yz));
    uint32_t n = (c->n_in - 2) / 3;
    uint32_t idx[KILN_MAX_INPUTS_QCONCAT];
    if (n > KILN_MAX_INPUTS_QCONCAT) return kiln_shape_fail(c, "more than %d inputs", KILN_MAX_INPUTS_QCONCAT);
    for (uint32_t i = 0; i < n; i++) {
        const kiln_shape_val *x;
        KILN_TRY(need8(c, 2 + 3 * i, "an input", &x));
        if (x->t.dtype != yz->t.dtype)
            return kiln_shape_fail(c, "input %u is %s, the output %s", i, dname(x->t.dtype), dname(yz->t.dtype));
        KILN_TRY(check_scale(c, 3 + 3 * i, "an input's scale"));
        KILN_TRY(check_zp(c, 4 + 3 * i, x->t.dtype, "an input's zero point"));
        idx[i] = 2 + 3 * i;
    }
    kiln_shape_val in[KILN_MAX_INPUTS_QCONCAT];
    for (uint32_t i = 0; i < n; i++) in[i] = c->in[idx[i]];
    kiln_shape_ctx s = *c;
    s.in = in, s.n_in = n;
    s.opset = 13; /* the axis attribute is required, as in Concat-4 and later */
    return kiln_infer_concat(&s);
}

/* A (0), a_scale, a_zp (2), B (3), b_scale, b_zp (5), C (6, int32), y_scale (7), y_zp (8):
 * [M, N], quantized like y_zp when it is given, else float (as onnxruntime's kernel does). */
kiln_status kiln_infer_ms_qgemm(kiln_shape_ctx *c) {
    const kiln_shape_val *a, *b;
    KILN_TRY(need8(c, 0, "A", &a));
    KILN_TRY(need8(c, 3, "B", &b));
    KILN_TRY(check_scale(c, 1, "a_scale"));
    KILN_TRY(check_zp(c, 2, a->t.dtype, "a_zero_point"));
    KILN_TRY(check_scale(c, 4, "b_scale"));
    KILN_TRY(check_zp(c, 5, b->t.dtype, "b_zero_point"));
    KILN_TRY(check_scale(c, 7, "y_scale"));
    const kiln_shape_val *cc = kiln_shape_in(c, 6), *ys = kiln_shape_in(c, 7), *yz = kiln_shape_in(c, 8);
    if (cc && cc->t.dtype != KILN_DTYPE_INT32) return kiln_shape_fail(c, "C must be int32, not %s", dname(cc->t.dtype));
    if (yz && !ys) return kiln_shape_fail(c, "y_zero_point is given without y_scale");
    if (yz && !is8(yz->t.dtype)) return kiln_shape_fail(c, "y_zero_point must be uint8 or int8, not %s", dname(yz->t.dtype));
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
    if (cc && cc->t.rank > 2) return kiln_shape_fail(c, "C must have rank 2 or less");
    if (cc && cc->t.rank >= 0)
        for (int32_t i = 0; i < cc->t.rank; i++) {
            int64_t d = cc->t.dims[cc->t.rank - 1 - i], want = dims[1 - i];
            if (d >= 0 && want >= 0 && d != want && d != 1)
                return kiln_shape_fail(c, "C cannot be broadcast to [%lld, %lld]", (long long)dims[0], (long long)dims[1]);
        }
    kiln_shape_set(c, 0, yz ? yz->t.dtype : KILN_DTYPE_FLOAT, 2, dims);
    return KILN_OK;
}
