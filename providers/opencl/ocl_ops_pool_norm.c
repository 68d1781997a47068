/* SPDX-License-Identifier: MIT */
/* Pooling (MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool), Softmax and LogSoftmax,
 * LayerNormalization and the Reduce* family. */
#include <stdio.h>
#include <string.h>

#include "ocl_kernel.h"

/* ---- pooling ---- */

static int32_t run_pool(ocl_kern *k, kiln_kernel_ctx *ctx, kiln_error *err) {
    const kiln_value_desc *x = ctx->inputs[0];
    kiln_value_desc *y = ctx->outputs[0];
    int sp = x->rank - 2;
    if (sp < 1 || sp > 2 || y->rank != x->rank) return ocl_fail(err, KILN_ERR_SHAPE, "%s on OpenCL: 1-D or 2-D only", k->op);
    int IH = sp == 2 ? (int)x->dims[2] : 1, IW = (int)x->dims[x->rank - 1];
    int OH = sp == 2 ? (int)y->dims[2] : 1, OW = (int)y->dims[y->rank - 1];
    if (k->iv[20]) { /* global */
        int32_t st = ocl_get_kernel(k, 0, "k_global_pool", err);
        int planes = (int)(x->dims[0] * x->dims[1]);
        if (st == KILN_OK) st = ocl_args(k, k->k[0], err, "BBiii", x, y, planes, IH * IW, k->code == POOL_MAX);
        if (st == KILN_OK) st = ocl_launch1(k, k->k[0], planes, err);
        return st;
    }
    /* iv: 0..1 kernel, 2..3 strides, 4..5 dilations, 6..9 pads (h, w begin; h, w end), 10 auto_pad */
    int KH = (int)k->iv[0], KW = (int)k->iv[1], sh = (int)k->iv[2], sw = (int)k->iv[3], dh = (int)k->iv[4], dw = (int)k->iv[5];
    int ph = (int)k->iv[6], pw = (int)k->iv[7], phe = (int)k->iv[8], pwe = (int)k->iv[9];
    if (k->iv[10] == 1 || k->iv[10] == 2) {
        int th = (OH - 1) * sh + (KH - 1) * dh + 1 - IH, tw = (OW - 1) * sw + (KW - 1) * dw + 1 - IW;
        th = th > 0 ? th : 0;
        tw = tw > 0 ? tw : 0;
        ph = k->iv[10] == 1 ? th / 2 : th - th / 2;
        pw = k->iv[10] == 1 ? tw / 2 : tw - tw / 2;
        phe = th - ph;
        pwe = tw - pw;
    } else if (k->iv[10] == 3) {
        ph = pw = phe = pwe = 0;
    }
    int32_t st = ocl_get_kernel(k, 0, "k_pool", err);
    if (st == KILN_OK)
        st = ocl_args(k, k->k[0], err, "BBiiiiiiiiiiiiiiii", x, y, (int)y->count, IH, IW, OH, OW, KH, KW, sh, sw, ph, pw, phe, pwe, dh,
                      dw, k->code);
    if (st == KILN_OK) st = ocl_launch1(k, k->k[0], (int64_t)y->count, err);
    return st;
}

int32_t ocl_make_pool(ocl_kern *k, const kiln_host_api *h, const kiln_node_view *n, kiln_error *err) {
    const char *op = h->node_op_type(n);
    kiln_value_info x;
    if (ocl_input_info(h, n, 0, &x) != KILN_OK || (x.rank != 3 && x.rank != 4))
        return ocl_fail(err, KILN_ERR_UNSUPPORTED, "%s on OpenCL: 1-D and 2-D pooling with a known rank only", op);
    k->run = run_pool;
    k->code = strstr(op, "Max") ? POOL_MAX : POOL_AVG;
    if (!strncmp(op, "Global", 6)) {
        k->iv[20] = 1;
        return KILN_OK;
    }
    if (h->node_output_count(n) > 1) {
        kiln_value_info vo;
        memset(&vo, 0, sizeof(vo));
        vo.hdr.struct_size = sizeof(vo);
        if (h->node_output_info(n, 1, &vo) == KILN_OK && vo.present)
            return ocl_fail(err, KILN_ERR_UNSUPPORTED, "MaxPool with an Indices output is not supported on OpenCL");
    }
    int sp = x.rank - 2;
    int64_t v[8];
    if (ocl_attr_ints(h, n, "kernel_shape", v, 8) != sp) return ocl_fail(err, KILN_ERR_INVALID_MODEL, "%s: kernel_shape must have %d values", op, sp);
    k->iv[0] = sp == 2 ? v[0] : 1;
    k->iv[1] = v[sp - 1];
    k->iv[2] = k->iv[3] = k->iv[4] = k->iv[5] = 1;
    if (ocl_attr_ints(h, n, "strides", v, 8) == sp) {
        k->iv[2] = sp == 2 ? v[0] : 1;
        k->iv[3] = v[sp - 1];
    }
    if (ocl_attr_ints(h, n, "dilations", v, 8) == sp) {
        k->iv[4] = sp == 2 ? v[0] : 1;
        k->iv[5] = v[sp - 1];
    }
    if (ocl_attr_ints(h, n, "pads", v, 8) == 2 * sp) {
        k->iv[6] = sp == 2 ? v[0] : 0;
        k->iv[7] = v[sp - 1];
        k->iv[8] = sp == 2 ? v[2] : 0;
        k->iv[9] = v[2 * sp - 1];
    }
    const char *ap = ocl_attr_s(h, n, "auto_pad", "NOTSET");
    k->iv[10] = !strcmp(ap, "SAME_UPPER") ? 1 : !strcmp(ap, "SAME_LOWER") ? 2 : !strcmp(ap, "VALID") ? 3 : 0;
    if (k->code == POOL_AVG && ocl_attr_i(h, n, "count_include_pad", 0)) k->code = POOL_AVG_PAD;
    if (k->code == POOL_AVG_PAD && (k->iv[4] != 1 || k->iv[5] != 1))
        return ocl_fail(err, KILN_ERR_UNSUPPORTED, "AveragePool with dilations and count_include_pad is not supported on OpenCL");
    for (int i = 0; i < 6; i++)
        if (k->iv[i] < 1) return ocl_fail(err, KILN_ERR_INVALID_MODEL, "%s: kernel, strides and dilations must be positive", op);
    return KILN_OK;
}

/* ---- Softmax, LogSoftmax ---- */

static int32_t run_softmax(ocl_kern *k, kiln_kernel_ctx *ctx, kiln_error *err) {
    const kiln_value_desc *x = ctx->inputs[0];
    kiln_value_desc *y = ctx->outputs[0];
    int rank = x->rank, axis = (int)k->iv[0];
    if (axis < 0) axis += rank;
    if (rank == 0 || axis < 0 || axis >= rank) return ocl_fail(err, KILN_ERR_INVALID_MODEL, "%s: axis %d out of range", k->op, (int)k->iv[0]);
    int64_t outer = 1, len = 1, inner = 1;
    for (int i = 0; i < rank; i++) {
        if (i < axis) outer *= x->dims[i];
        else if (i == axis || k->iv[1]) len *= x->dims[i];
        else inner *= x->dims[i];
    }
    int32_t st = ocl_get_kernel(k, 0, "k_softmax", err);
    if (st == KILN_OK) st = ocl_args(k, k->k[0], err, "BBiiii", x, y, (int)(outer * inner), (int)len, (int)inner, k->code);
    if (st == KILN_OK) st = ocl_launch1(k, k->k[0], outer * inner, err);
    return st;
}

int32_t ocl_make_softmax(ocl_kern *k, const kiln_host_api *h, const kiln_node_view *n, kiln_error *err) {
    (void)err;
    int old = h->node_opset(n) < 13;
    k->iv[0] = ocl_attr_i(h, n, "axis", old ? 1 : -1);
    k->iv[1] = old; /* before opset 13: the input is flattened to 2-D at axis */
    k->code = !strcmp(h->node_op_type(n), "LogSoftmax");
    k->run = run_softmax;
    return KILN_OK;
}

/* ---- LayerNormalization ---- */

static int32_t run_layernorm(ocl_kern *k, kiln_kernel_ctx *ctx, kiln_error *err) {
    const kiln_value_desc *x = ctx->inputs[0], *g = ctx->inputs[1];
    const kiln_value_desc *b = ctx->n_inputs > 2 ? ctx->inputs[2] : NULL;
    kiln_value_desc *y = ctx->outputs[0];
    int rank = x->rank, axis = (int)k->iv[0];
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank) return ocl_fail(err, KILN_ERR_INVALID_MODEL, "LayerNormalization: axis out of range");
    int64_t rows = 1, len = 1;
    for (int i = 0; i < rank; i++) {
        if (i < axis) rows *= x->dims[i];
        else len *= x->dims[i];
    }
    if (!g || (int64_t)g->count != len || (b && b->count && (int64_t)b->count != len))
        return ocl_fail(err, KILN_ERR_UNSUPPORTED, "LayerNormalization on OpenCL: scale and bias must have the normalized shape");
    if (b && !b->count) b = NULL;
    const kiln_value_desc *stats[2] = {NULL, NULL};
    for (uint32_t i = 1; i < 3 && i < ctx->n_outputs; i++) {
        stats[i - 1] = ctx->outputs[i];
        if (stats[i - 1] && ((int64_t)stats[i - 1]->count != rows || stats[i - 1]->dtype != KILN_DTYPE_FLOAT))
            return ocl_fail(err, KILN_ERR_SHAPE, "LayerNormalization: output %u must hold %lld floats", i, (long long)rows);
    }
    int32_t st = ocl_get_kernel(k, 0, "k_layernorm", err);
    if (st == KILN_OK)
        st = ocl_args(k, k->k[0], err, "BBBiBBBiif", x, g, b, b != NULL, y, stats[0], stats[1], (int)rows, (int)len, (double)k->fv[0]);
    if (st == KILN_OK) st = ocl_launch1(k, k->k[0], rows, err);
    return st;
}

int32_t ocl_make_layernorm(ocl_kern *k, const kiln_host_api *h, const kiln_node_view *n, kiln_error *err) {
    for (uint32_t i = 1; i < h->node_output_count(n); i++) {
        kiln_value_info vo;
        memset(&vo, 0, sizeof(vo));
        vo.hdr.struct_size = sizeof(vo);
        if (h->node_output_info(n, i, &vo) == KILN_OK && vo.present && vo.dtype != KILN_DTYPE_FLOAT)
            return ocl_fail(err, KILN_ERR_UNSUPPORTED, "LayerNormalization on OpenCL: Mean and InvStdDev in float32 only");
    }
    if (ocl_attr_i(h, n, "stash_type", 1) != 1)
        return ocl_fail(err, KILN_ERR_UNSUPPORTED, "LayerNormalization on OpenCL: stash_type float32 only");
    k->iv[0] = ocl_attr_i(h, n, "axis", -1);
    k->fv[0] = ocl_attr_f(h, n, "epsilon", 1e-5f);
    k->n_data_in = 3;
    k->run = run_layernorm;
    return KILN_OK;
}

/* ---- Reduce* ---- */

static const char *reduce_names[] = {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
                                     "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"};

static int32_t run_reduce(ocl_kern *k, kiln_kernel_ctx *ctx, kiln_error *err) {
    const kiln_value_desc *x = ctx->inputs[0];
    kiln_value_desc *y = ctx->outputs[0];
    int rank = x->rank;
    int64_t axes[KILN_MAX_RANK];
    int na = (int)k->iv[1];
    for (int i = 0; i < na; i++) axes[i] = k->iv[8 + i];
    if (k->iv[2] && ctx->n_inputs > 1 && ctx->inputs[1]) {
        na = ocl_host_ints(ctx->inputs[1], axes, KILN_MAX_RANK);
        if (na < 0) return ocl_fail(err, KILN_ERR_INVALID_MODEL, "%s: axes must be int64 in host memory", k->op);
    }
    int red[KILN_MAX_RANK] = {0};
    for (int i = 0; i < na; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + rank : axes[i];
        if (a < 0 || a >= rank) return ocl_fail(err, KILN_ERR_INVALID_MODEL, "%s: axis %lld out of range", k->op, (long long)axes[i]);
        red[a] = 1;
    }
    if (na == 0 && !k->iv[0])
        for (int i = 0; i < rank; i++) red[i] = 1;
    int64_t str[KILN_MAX_RANK];
    ocl_strides(rank, x->dims, str);
    int kd[8] = {0}, ks[8] = {0}, rd[8] = {0}, rs[8] = {0}, nk = 0, nr = 0;
    int64_t count = 1;
    for (int i = 0; i < rank; i++) {
        if (x->dims[i] == 1) continue;
        if ((red[i] ? nr : nk) == 8) return ocl_fail(err, KILN_ERR_UNSUPPORTED, "%s on OpenCL: more than 8 dims", k->op);
        if (red[i]) {
            rd[nr] = (int)x->dims[i];
            rs[nr++] = (int)str[i];
            count *= x->dims[i];
        } else {
            kd[nk] = (int)x->dims[i];
            ks[nk++] = (int)str[i];
        }
    }
    for (int i = 0; i < rank; i++)
        if (x->dims[i] == 0 && red[i]) count = 0;
    int32_t st = ocl_get_kernel(k, 0, "k_reduce", err);
    /* No axes with noop_with_empty_axes: every output is its one input element. */
    int code = na == 0 && k->iv[0] ? RED_SUM : k->code;
    if (st == KILN_OK) st = ocl_args(k, k->k[0], err, "BBiivvivvii", x, y, (int)y->count, nk, kd, ks, nr, rd, rs, (int)count, code);
    if (st == KILN_OK) st = ocl_launch1(k, k->k[0], (int64_t)y->count, err);
    return st;
}

int32_t ocl_make_reduce(ocl_kern *k, const kiln_host_api *h, const kiln_node_view *n, kiln_error *err) {
    const char *op = h->node_op_type(n);
    k->code = -1;
    for (int i = 0; i < 10; i++)
        if (!strcmp(op, reduce_names[i])) k->code = i;
    if (k->code < 0) return ocl_fail(err, KILN_ERR_UNSUPPORTED, "%s is not supported on OpenCL", op);
    /* iv: 0 noop_with_empty_axes, 1 number of axes, 2 axes read at compute, 8.. axes */
    k->iv[0] = ocl_attr_i(h, n, "noop_with_empty_axes", 0);
    int64_t axes[KILN_MAX_RANK];
    int na = ocl_attr_ints(h, n, "axes", axes, KILN_MAX_RANK);
    kiln_value_info vi;
    if (ocl_input_info(h, n, 1, &vi) == KILN_OK && vi.present) {
        na = ocl_const_ints(h, n, 1, axes, KILN_MAX_RANK);
        if (na < 0) {
            if (!(h->node_host_inputs(n) & 2u))
                return ocl_fail(err, KILN_ERR_UNSUPPORTED, "%s on OpenCL: axes must be a constant or a host input", op);
            k->iv[2] = 1;
            na = 0;
        }
    }
    if (na < 0) na = 0;
    k->iv[1] = na;
    for (int i = 0; i < na; i++) k->iv[8 + i] = axes[i];
    k->run = run_reduce;
    return KILN_OK;
}
