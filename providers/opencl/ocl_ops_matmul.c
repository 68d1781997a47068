/* SPDX-License-Identifier: MIT */
/* Matrix products on the tiled kernels of cl/gemm.cl: Gemm (transposes as strides, C broadcast),
 * MatMul (numpy batch broadcasting over up to 4 batch dims), Conv 1-D/2-D (implicit GEMM, or the
 * direct kernel for depthwise and other short reductions), each with a fused activation. */
#include <stdio.h>
#include <string.h>

#include "ocl_kernel.h"

/* The GEMM kernel of the device: the register-blocked one on CPU devices, the local-memory tiles
 * elsewhere (docs/opencl.md). */
static const char *gemm_kernel(const ocl_kern *k) {
    return k->pv->gemm_cpu ? "k_gemm_cpu" : "k_gemm";
}

static int32_t launch_gemm(ocl_kern *k, int M, int N, int K, int batches, kiln_error *err) {
    if (k->pv->gemm_cpu) {
        size_t global[3] = {(size_t)(N + 7) / 8, (size_t)(M + 3) / 4, (size_t)batches};
        (void)K;
        return ocl_launch(k, k->k[0], 3, global, NULL, err);
    }
    int ts = k->pv->tile, rts = k->pv->tile / k->pv->wpt;
    size_t local[3] = {(size_t)ts, (size_t)rts, 1};
    size_t global[3] = {(size_t)N, (size_t)((M + ts - 1) / ts) * (size_t)rts, (size_t)batches};
    (void)K;
    return ocl_launch(k, k->k[0], 3, global, local, err);
}

/* ---- Gemm ---- */

static int32_t run_gemm(ocl_kern *k, kiln_kernel_ctx *ctx, kiln_error *err) {
    const kiln_value_desc *a = ctx->inputs[0], *b = ctx->inputs[1];
    const kiln_value_desc *c = ctx->n_inputs > 2 ? ctx->inputs[2] : NULL;
    kiln_value_desc *y = ctx->outputs[0];
    if (a->rank != 2 || b->rank != 2) return ocl_fail(err, KILN_ERR_SHAPE, "Gemm: A and B must be 2-D");
    int ta = (int)k->iv[0], tb = (int)k->iv[1];
    int M = (int)(ta ? a->dims[1] : a->dims[0]), K = (int)(ta ? a->dims[0] : a->dims[1]);
    int N = (int)(tb ? b->dims[0] : b->dims[1]);
    if ((int)(tb ? b->dims[1] : b->dims[0]) != K) return ocl_fail(err, KILN_ERR_SHAPE, "Gemm: inner dims %d and %lld differ", K,
                                                                   (long long)(tb ? b->dims[1] : b->dims[0]));
    int sam = ta ? 1 : K, sak = ta ? M : 1, sbk = tb ? 1 : N, sbn = tb ? K : 1, scm = 0, scn = 0;
    if (c && c->count) {
        int64_t dm = c->rank == 2 ? c->dims[0] : 1, dn = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
        if (c->rank > 2 || (dm != 1 && dm != M) || (dn != 1 && dn != N))
            return ocl_fail(err, KILN_ERR_SHAPE, "Gemm: C does not broadcast to [%d, %d]", M, N);
        scm = dm == 1 ? 0 : (int)dn;
        scn = dn == 1 ? 0 : 1;
    } else {
        c = NULL;
    }
    int zero[4] = {0};
    int32_t st = ocl_get_kernel(k, 0, gemm_kernel(k), err);
    if (st == KILN_OK)
        st = ocl_args(k, k->k[0], err, "iiiBiiBiiBiiiffBiqqqqiff", M, N, K, a, sam, sak, b, sbk, sbn, c, scm, scn, c != NULL,
                      (double)k->fv[0], (double)k->fv[1], y, 0, zero, zero, zero, zero, k->act, (double)k->act_a,
                      (double)k->act_b);
    if (st == KILN_OK) st = launch_gemm(k, M, N, K, 1, err);
    return st;
}

int32_t ocl_make_gemm(ocl_kern *k, const kiln_host_api *h, const kiln_node_view *n, kiln_error *err) {
    k->iv[0] = ocl_attr_i(h, n, "transA", 0);
    k->iv[1] = ocl_attr_i(h, n, "transB", 0);
    k->fv[0] = ocl_attr_f(h, n, "alpha", 1.0f);
    k->fv[1] = ocl_attr_f(h, n, "beta", 1.0f);
    if (h->node_opset(n) < 7) return ocl_fail(err, KILN_ERR_UNSUPPORTED, "Gemm before opset 7 is not supported on OpenCL");
    k->n_data_in = 3;
    k->run = run_gemm;
    return KILN_OK;
}

/* ---- MatMul ---- */

static int32_t run_matmul(ocl_kern *k, kiln_kernel_ctx *ctx, kiln_error *err) {
    const kiln_value_desc *a = ctx->inputs[0], *b = ctx->inputs[1];
    kiln_value_desc *y = ctx->outputs[0];
    if (a->rank < 1 || b->rank < 1) return ocl_fail(err, KILN_ERR_SHAPE, "MatMul: scalar operands");
    int M = a->rank == 1 ? 1 : (int)a->dims[a->rank - 2], K = (int)a->dims[a->rank - 1];
    int N = b->rank == 1 ? 1 : (int)b->dims[b->rank - 1];
    int Kb = (int)(b->rank == 1 ? b->dims[0] : b->dims[b->rank - 2]);
    if (K != Kb) return ocl_fail(err, KILN_ERR_SHAPE, "MatMul: inner dims %d and %d differ", K, Kb);
    int ba = a->rank > 2 ? a->rank - 2 : 0, bb = b->rank > 2 ? b->rank - 2 : 0, nb = ba > bb ? ba : bb;
    /* Batch dims, right-aligned, with each operand's batch stride (0 where it broadcasts). */
    int64_t dims[KILN_MAX_RANK], sa[KILN_MAX_RANK], sb[KILN_MAX_RANK];
    int64_t ea = (int64_t)M * K, eb = (int64_t)K * N;
    int64_t batches = 1;
    for (int i = nb - 1; i >= 0; i--) {
        int ia = i - (nb - ba), ib = i - (nb - bb);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1) return ocl_fail(err, KILN_ERR_SHAPE, "MatMul: batch dims do not broadcast");
        dims[i] = da > db ? da : db;
        sa[i] = da == 1 ? 0 : ea;
        sb[i] = db == 1 ? 0 : eb;
        ea *= da;
        eb *= db;
        batches *= dims[i];
    }
    int d4[4] = {1, 1, 1, 1}, a4[4] = {0}, b4[4] = {0}, c4[4] = {0}, r = 0;
    for (int i = 0; i < nb; i++) {
        if (dims[i] == 1) continue;
        if (r > 0 && a4[r - 1] == sa[i] * dims[i] && b4[r - 1] == sb[i] * dims[i]) {
            d4[r - 1] *= (int)dims[i];
            a4[r - 1] = (int)sa[i];
            b4[r - 1] = (int)sb[i];
            continue;
        }
        if (r == 4) return ocl_fail(err, KILN_ERR_UNSUPPORTED, "MatMul on OpenCL: more than 4 broadcast batch dims");
        d4[r] = (int)dims[i];
        a4[r] = (int)sa[i];
        b4[r] = (int)sb[i];
        r++;
    }
    if ((uint64_t)batches * (uint64_t)M * (uint64_t)N != y->count) return ocl_fail(err, KILN_ERR_SHAPE, "MatMul: output size mismatch");
    int32_t st = ocl_get_kernel(k, 0, gemm_kernel(k), err);
    if (st == KILN_OK)
        st = ocl_args(k, k->k[0], err, "iiiBiiBiiBiiiffBiqqqqiff", M, N, K, a, K, 1, b, N, 1, (const kiln_value_desc *)NULL, 0, 0,
                      0, 1.0, 0.0, y, r, d4, a4, b4, c4, k->act, (double)k->act_a, (double)k->act_b);
    if (st == KILN_OK) st = launch_gemm(k, M, N, K, (int)batches, err);
    return st;
}

int32_t ocl_make_matmul(ocl_kern *k, const kiln_host_api *h, const kiln_node_view *n, kiln_error *err) {
    (void)h;
    (void)n;
    (void)err;
    k->n_data_in = 2;
    k->run = run_matmul;
    return KILN_OK;
}

/* ---- Conv ---- */

static int32_t run_conv(ocl_kern *k, kiln_kernel_ctx *ctx, kiln_error *err) {
    const kiln_value_desc *x = ctx->inputs[0], *w = ctx->inputs[1];
    const kiln_value_desc *bias = ctx->n_inputs > 2 ? ctx->inputs[2] : NULL;
    kiln_value_desc *y = ctx->outputs[0];
    int sp = x->rank - 2; /* 1 or 2 spatial dims */
    if (sp < 1 || sp > 2 || w->rank != x->rank || y->rank != x->rank) return ocl_fail(err, KILN_ERR_SHAPE, "Conv on OpenCL: 1-D or 2-D only");
    int N = (int)x->dims[0], IC = (int)x->dims[1], IH = sp == 2 ? (int)x->dims[2] : 1, IW = (int)x->dims[x->rank - 1];
    int OC = (int)w->dims[0], KH = sp == 2 ? (int)w->dims[2] : 1, KW = (int)w->dims[w->rank - 1];
    int OH = sp == 2 ? (int)y->dims[2] : 1, OW = (int)y->dims[y->rank - 1];
    int G = (int)k->iv[0];
    if (G <= 0 || IC % G || OC % G || w->dims[1] * G != IC)
        return ocl_fail(err, KILN_ERR_SHAPE, "Conv: %d input channels, %d groups and weights [%lld, %lld, ...] disagree", IC, G,
                        (long long)w->dims[0], (long long)w->dims[1]);
    bias = NULL;
    if (ctx->n_inputs > 2 && ctx->inputs[2] && ctx->inputs[2]->count) {
        bias = ctx->inputs[2];
        if (bias->count != (uint64_t)OC)
            return ocl_fail(err, KILN_ERR_SHAPE, "Conv: bias has %llu elements, not %d", (unsigned long long)bias->count, OC);
    }
    /* iv: 0 group, 1 auto_pad (0 NOTSET, 1 SAME_UPPER, 2 SAME_LOWER, 3 VALID), 2..3 strides,
     * 4..5 dilations, 6..9 pads (h begin, w begin, h end, w end). */
    int sh = (int)k->iv[2], sw = (int)k->iv[3], dh = (int)k->iv[4], dw = (int)k->iv[5];
    int ph = (int)k->iv[6], pw = (int)k->iv[7];
    if (k->iv[1] == 1 || k->iv[1] == 2) {
        int th = (OH - 1) * sh + (KH - 1) * dh + 1 - IH, tw = (OW - 1) * sw + (KW - 1) * dw + 1 - IW;
        th = th > 0 ? th : 0;
        tw = tw > 0 ? tw : 0;
        ph = k->iv[1] == 1 ? th / 2 : th - th / 2;
        pw = k->iv[1] == 1 ? tw / 2 : tw - tw / 2;
    } else if (k->iv[1] == 3) {
        ph = pw = 0;
    }
    int M = OC / G, Kd = (IC / G) * KH * KW;
    int direct = M < 8 || Kd < 8;
    int32_t st = ocl_get_kernel(k, direct, direct ? "k_conv_direct" : (k->pv->gemm_cpu ? "k_conv_cpu" : "k_conv_gemm"), err);
    if (st != KILN_OK) return st;
    cl_kernel kern = k->k[direct];
    if (direct) {
        st = ocl_args(k, kern, err, "BBBiBiiiiiiiiiiiiiiiiiff", x, w, bias, bias != NULL, y, (int)y->count, IC, IH, IW, OC, OH, OW, G,
                      KH, KW, sh, sw, ph, pw, dh, dw, k->act, (double)k->act_a, (double)k->act_b);
        if (st == KILN_OK) st = ocl_launch1(k, kern, (int64_t)y->count, err);
        return st;
    }
    st = ocl_args(k, kern, err, "BBBiBiiiiiiiiiiiiiiiiff", x, w, bias, bias != NULL, y, IC, IH, IW, OC, OH, OW, G, KH, KW, sh, sw, ph,
                  pw, dh, dw, k->act, (double)k->act_a, (double)k->act_b);
    if (st != KILN_OK) return st;
    if (k->pv->gemm_cpu) {
        size_t global[3] = {((size_t)OH * (size_t)OW + 7) / 8, (size_t)(M + 3) / 4, (size_t)N * (size_t)G};
        return ocl_launch(k, kern, 3, global, NULL, err);
    }
    int ts = k->pv->tile, rts = k->pv->tile / k->pv->wpt;
    size_t local[3] = {(size_t)ts, (size_t)rts, 1};
    size_t global[3] = {(size_t)OH * (size_t)OW, (size_t)((M + ts - 1) / ts) * (size_t)rts, (size_t)N * (size_t)G};
    return ocl_launch(k, kern, 3, global, local, err);
}

int32_t ocl_make_conv(ocl_kern *k, const kiln_host_api *h, const kiln_node_view *n, kiln_error *err) {
    kiln_value_info x;
    if (ocl_input_info(h, n, 0, &x) != KILN_OK || (x.rank != 3 && x.rank != 4))
        return ocl_fail(err, KILN_ERR_UNSUPPORTED, "Conv on OpenCL: 1-D and 2-D convolutions with a known rank only");
    int sp = x.rank - 2;
    int64_t v[8];
    k->iv[0] = ocl_attr_i(h, n, "group", 1);
    const char *ap = ocl_attr_s(h, n, "auto_pad", "NOTSET");
    k->iv[1] = !strcmp(ap, "SAME_UPPER") ? 1 : !strcmp(ap, "SAME_LOWER") ? 2 : !strcmp(ap, "VALID") ? 3 : 0;
    if (k->iv[1] == 0 && strcmp(ap, "NOTSET")) return ocl_fail(err, KILN_ERR_INVALID_MODEL, "Conv: unknown auto_pad '%s'", ap);
    k->iv[2] = k->iv[3] = k->iv[4] = k->iv[5] = 1;
    int c = ocl_attr_ints(h, n, "strides", v, 8);
    if (c == sp) {
        k->iv[2] = sp == 2 ? v[0] : 1;
        k->iv[3] = v[sp - 1];
    }
    c = ocl_attr_ints(h, n, "dilations", v, 8);
    if (c == sp) {
        k->iv[4] = sp == 2 ? v[0] : 1;
        k->iv[5] = v[sp - 1];
    }
    c = ocl_attr_ints(h, n, "pads", v, 8);
    if (c == 2 * sp) {
        k->iv[6] = sp == 2 ? v[0] : 0;
        k->iv[7] = v[sp - 1];
        k->iv[8] = sp == 2 ? v[2] : 0;
        k->iv[9] = v[2 * sp - 1];
    }
    for (int i = 2; i < 6; i++)
        if (k->iv[i] < 1) return ocl_fail(err, KILN_ERR_INVALID_MODEL, "Conv: strides and dilations must be positive");
    k->n_data_in = 3;
    k->run = run_conv;
    return KILN_OK;
}
