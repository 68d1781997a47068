/* SPDX-License-Identifier: MIT */
/* Elementwise ops: the unary functions and activations, binary arithmetic with numpy
 * broadcasting (with a fused activation), inference BatchNormalization. */
#include <stdio.h>
#include <string.h>

#include "ocl_kernel.h"

static const struct {
    const char *op;
    int code;
} unary_ops[] = {
    {"Relu", ACT_RELU}, {"LeakyRelu", ACT_LEAKY}, {"Clip", ACT_CLIP}, {"Sigmoid", ACT_SIGMOID}, {"Tanh", ACT_TANH},
    {"HardSigmoid", ACT_HARDSIGMOID}, {"HardSwish", ACT_HARDSWISH}, {"Elu", ACT_ELU}, {"Selu", ACT_SELU},
    {"Softplus", ACT_SOFTPLUS}, {"Softsign", ACT_SOFTSIGN}, {"Exp", ACT_EXP}, {"Log", ACT_LOG}, {"Abs", ACT_ABS},
    {"Neg", ACT_NEG}, {"Sqrt", ACT_SQRT}, {"Reciprocal", ACT_RECIP}, {"Floor", ACT_FLOOR}, {"Ceil", ACT_CEIL},
    {"Erf", ACT_ERF}, {"Sin", ACT_SIN}, {"Cos", ACT_COS}, {"Gelu", ACT_GELU}, {"Round", ACT_ROUND}, {"Sign", ACT_SIGN},
    {"Mish", ACT_MISH}, {"Celu", ACT_CELU}, {"ThresholdedRelu", ACT_THRESHOLDED}, {"Tan", ACT_TAN}, {"Asin", ACT_ASIN},
    {"Acos", ACT_ACOS}, {"Atan", ACT_ATAN}, {"Sinh", ACT_SINH}, {"Cosh", ACT_COSH}, {"Asinh", ACT_ASINH},
    {"Acosh", ACT_ACOSH}, {"Atanh", ACT_ATANH}, {"Identity", ACT_NONE}, {"Dropout", ACT_NONE},
};

/* The function a unary node computes, with its parameters; 0 when it is not one we run (Clip
 * with bounds that are not constants, Dropout asked for a mask, Gelu with an unknown approximation). */
int ocl_activation_of(const kiln_host_api *h, const kiln_node_view *n, int *code, float *a, float *b) {
    const char *op = h->node_op_type(n);
    if (h->node_domain(n)[0]) return 0;
    for (size_t i = 0; i < sizeof(unary_ops) / sizeof(unary_ops[0]); i++) {
        if (strcmp(op, unary_ops[i].op)) continue;
        *code = unary_ops[i].code;
        *a = *b = 0.0f;
        switch (*code) {
        case ACT_LEAKY: *a = ocl_attr_f(h, n, "alpha", 0.01f); break;
        case ACT_ELU: *a = ocl_attr_f(h, n, "alpha", 1.0f); break;
        case ACT_CELU: *a = ocl_attr_f(h, n, "alpha", 1.0f); break;
        case ACT_THRESHOLDED: *a = ocl_attr_f(h, n, "alpha", 1.0f); break;
        case ACT_SELU:
            *a = ocl_attr_f(h, n, "alpha", 1.67326319217681884765625f);
            *b = ocl_attr_f(h, n, "gamma", 1.05070102214813232421875f);
            break;
        case ACT_HARDSIGMOID:
            *a = ocl_attr_f(h, n, "alpha", 0.2f);
            *b = ocl_attr_f(h, n, "beta", 0.5f);
            break;
        case ACT_GELU: {
            const char *ap = ocl_attr_s(h, n, "approximate", "none");
            if (!strcmp(ap, "tanh")) *code = ACT_GELU_TANH;
            else if (strcmp(ap, "none")) return 0;
            break;
        }
        case ACT_CLIP:
            if (h->node_opset(n) < 11) {
                *a = ocl_attr_f(h, n, "min", -3.402823466e38f);
                *b = ocl_attr_f(h, n, "max", 3.402823466e38f);
            } else {
                kiln_value_info vi;
                *a = -3.402823466e38f;
                *b = 3.402823466e38f;
                if (ocl_input_info(h, n, 1, &vi) == KILN_OK && vi.present && !ocl_const_scalar(h, n, 1, a)) return 0;
                if (ocl_input_info(h, n, 2, &vi) == KILN_OK && vi.present && !ocl_const_scalar(h, n, 2, b)) return 0;
            }
            break;
        case ACT_NONE:
            if (!strcmp(op, "Dropout")) {
                /* Inference only: no training_mode input, no mask output. */
                kiln_value_info vt;
                if (ocl_input_info(h, n, 2, &vt) == KILN_OK && vt.present) return 0;
            }
            if (!strcmp(op, "Dropout") && h->node_output_count(n) > 1) {
                kiln_value_info vo;
                memset(&vo, 0, sizeof(vo));
                vo.hdr.struct_size = sizeof(vo);
                if (h->node_output_info(n, 1, &vo) == KILN_OK && vo.present) return 0;
            }
            break;
        default: break;
        }
        return 1;
    }
    return 0;
}

static int32_t run_unary(ocl_kern *k, kiln_kernel_ctx *ctx, kiln_error *err) {
    const kiln_value_desc *x = ctx->inputs[0];
    kiln_value_desc *y = ctx->outputs[0];
    int32_t st = ocl_get_kernel(k, 0, "k_unary", err);
    if (st == KILN_OK) st = ocl_args(k, k->k[0], err, "BBiiff", x, y, (int)y->count, k->code, (double)k->act_a, (double)k->act_b);
    if (st == KILN_OK) st = ocl_launch1(k, k->k[0], (int64_t)y->count, err);
    return st;
}

int32_t ocl_make_unary(ocl_kern *k, const kiln_host_api *h, const kiln_node_view *n, kiln_error *err) {
    if (!ocl_activation_of(h, n, &k->code, &k->act_a, &k->act_b))
        return ocl_fail(err, KILN_ERR_UNSUPPORTED, "%s: these attributes or inputs are not supported on OpenCL", k->op);
    k->run = run_unary;
    return KILN_OK;
}

/* ---- binary ---- */

static int binary_code(const char *op) {
    static const char *names[] = {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "PRelu"};
    for (int i = 0; i < 8; i++)
        if (!strcmp(op, names[i])) return i;
    if (!strcmp(op, "Sum")) return BIN_ADD;
    return -1;
}

static int32_t run_binary(ocl_kern *k, kiln_kernel_ctx *ctx, kiln_error *err) {
    const kiln_value_desc *a = ctx->inputs[0], *b = ctx->inputs[1];
    kiln_value_desc *y = ctx->outputs[0];
    int rank = y->rank;
    /* Operand strides against the output's dims, 0 where an operand broadcasts; then adjacent dims
     * with the same pattern merge so the kernel's index math is short. */
    int64_t sa[KILN_MAX_RANK], sb[KILN_MAX_RANK], dims[KILN_MAX_RANK];
    int64_t ea = 1, eb = 1;
    for (int i = rank - 1; i >= 0; i--) {
        int ia = i - (rank - a->rank), ib = i - (rank - b->rank);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        dims[i] = y->dims[i];
        sa[i] = da == 1 && dims[i] != 1 ? 0 : ea;
        sb[i] = db == 1 && dims[i] != 1 ? 0 : eb;
        ea *= da;
        eb *= db;
    }
    int r = 0;
    int d8[8] = {0}, a8[8] = {0}, b8[8] = {0};
    int64_t md[KILN_MAX_RANK], ma[KILN_MAX_RANK], mb[KILN_MAX_RANK];
    for (int i = 0; i < rank; i++) {
        if (dims[i] == 1) continue;
        if (r > 0 && ma[r - 1] == sa[i] * dims[i] && mb[r - 1] == sb[i] * dims[i]) {
            md[r - 1] *= dims[i];
            ma[r - 1] = sa[i];
            mb[r - 1] = sb[i];
            continue;
        }
        md[r] = dims[i];
        ma[r] = sa[i];
        mb[r] = sb[i];
        r++;
    }
    if (r > 8) return ocl_fail(err, KILN_ERR_UNSUPPORTED, "%s on OpenCL: broadcasting over more than 8 dims", k->op);
    for (int i = 0; i < r; i++) {
        d8[i] = (int)md[i];
        a8[i] = (int)ma[i];
        b8[i] = (int)mb[i];
    }
    int same = a->count == y->count && b->count == y->count;
    int32_t st = ocl_get_kernel(k, 0, "k_binary", err);
    if (st == KILN_OK)
        st = ocl_args(k, k->k[0], err, "BBBiivvviiiff", a, b, y, (int)y->count, r, d8, a8, b8, same, k->code, k->act,
                      (double)k->act_a, (double)k->act_b);
    if (st == KILN_OK) st = ocl_launch1(k, k->k[0], (int64_t)y->count, err);
    return st;
}

int32_t ocl_make_binary(ocl_kern *k, const kiln_host_api *h, const kiln_node_view *n, kiln_error *err) {
    k->code = binary_code(h->node_op_type(n));
    if (k->code < 0 || h->node_input_count(n) != 2)
        return ocl_fail(err, KILN_ERR_UNSUPPORTED, "%s with %u inputs is not supported on OpenCL", k->op, h->node_input_count(n));
    if (k->code == BIN_PRELU) {
        /* PRelu's slope broadcasts unidirectionally to X: the output has X's shape. */
        kiln_value_info x, s;
        if (ocl_input_info(h, n, 0, &x) != KILN_OK || ocl_input_info(h, n, 1, &s) != KILN_OK || s.rank < 0 || x.rank < s.rank)
            return ocl_fail(err, KILN_ERR_UNSUPPORTED, "PRelu on OpenCL needs the slope's rank");
        /* Numpy broadcasting only (older exporters meant a 1-D slope per channel: left to the CPU). */
        for (int i = 0; i < s.rank; i++) {
            int64_t ds = s.dims[i], dx = x.dims[i + x.rank - s.rank];
            if (ds != 1 && (ds < 0 || ds != dx))
                return ocl_fail(err, KILN_ERR_UNSUPPORTED, "PRelu on OpenCL: the slope must broadcast to the input");
        }
    }
    k->n_data_in = 2;
    k->run = run_binary;
    return KILN_OK;
}

/* ---- BatchNormalization (inference) ---- */

static int32_t run_batchnorm(ocl_kern *k, kiln_kernel_ctx *ctx, kiln_error *err) {
    const kiln_value_desc *x = ctx->inputs[0];
    kiln_value_desc *y = ctx->outputs[0];
    int c = x->rank > 1 ? (int)x->dims[1] : 1;
    int64_t hw = 1;
    for (int i = 2; i < x->rank; i++) hw *= x->dims[i];
    for (int i = 1; i < 5; i++)
        if (!ctx->inputs[i] || (int64_t)ctx->inputs[i]->count != c)
            return ocl_fail(err, KILN_ERR_SHAPE, "BatchNormalization: parameter %d has %llu elements, the input %d channels", i,
                            ctx->inputs[i] ? (unsigned long long)ctx->inputs[i]->count : 0ull, c);
    int32_t st = ocl_get_kernel(k, 0, "k_batchnorm", err);
    if (st == KILN_OK)
        st = ocl_args(k, k->k[0], err, "BBBBBBiiififf", x, ctx->inputs[1], ctx->inputs[2], ctx->inputs[3], ctx->inputs[4], y,
                      (int)y->count, c, (int)(hw ? hw : 1), (double)k->fv[0], k->act, (double)k->act_a, (double)k->act_b);
    if (st == KILN_OK) st = ocl_launch1(k, k->k[0], (int64_t)y->count, err);
    return st;
}

int32_t ocl_make_batchnorm(ocl_kern *k, const kiln_host_api *h, const kiln_node_view *n, kiln_error *err) {
    if (h->node_output_count(n) > 1 || ocl_attr_i(h, n, "training_mode", 0) != 0 || h->node_input_count(n) != 5)
        return ocl_fail(err, KILN_ERR_UNSUPPORTED, "BatchNormalization on OpenCL: inference mode with one output only");
    k->fv[0] = ocl_attr_f(h, n, "epsilon", 1e-5f);
    k->n_data_in = 5;
    k->run = run_batchnorm;
    return KILN_OK;
}
