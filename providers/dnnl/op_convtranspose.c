/* SPDX-License-Identifier: MIT */
/* ConvTranspose (opsets 1-22) on oneDNN's deconvolution primitive: 1-D to 3-D, groups,
 * dilations, strides, explicit pads, auto_pad, output_shape and output_padding, optional bias.
 *
 * ONNX's weight is [C, M/group, k...] (input channels first); oneDNN's deconvolution weight is
 * logically [M, C, k...] (or [group, M/group, C/group, k...]), so the same bytes are described with
 * strides instead of being copied. output_padding adds rows at the end of each spatial dim: it is
 * the same as a smaller end padding (pad_end - output_padding), which oneDNN takes down to
 * -(stride - 1) (checked by the node tests and tests/providers/dnnl/test_dnnl_convtranspose.py).
 * A node whose paddings are not known at claim time, whose begin padding is negative, or whose
 * output_shape/auto_pad SAME asks for more than the full result is left to the next provider. */
#include <stdio.h>
#include <string.h>

#include "dn.h"

typedef struct ct_state {
    int ns;
    int64_t group;
    int64_t strides[3], dilations[3], pads[6], out_pad[3], out_shape[5];
    int n_out_shape;
    int auto_pad; /* 0 NOTSET, 1 VALID, 2 SAME_UPPER, 3 SAME_LOWER */
} ct_state;

static int auto_pad_of(const char *s) {
    return !s || !strcmp(s, "NOTSET") ? 0 : !strcmp(s, "VALID") ? 1 : !strcmp(s, "SAME_UPPER") ? 2 : !strcmp(s, "SAME_LOWER") ? 3 : -1;
}

static void read_state(const kiln_host_api *h, const kiln_node_view *n, int ns, ct_state *s) {
    memset(s, 0, sizeof(*s));
    s->ns = ns;
    s->group = dn_attr_i(h, n, "group", 1);
    for (int i = 0; i < 3; i++) s->strides[i] = s->dilations[i] = 1;
    dn_attr_ints(h, n, "strides", s->strides, 3);
    dn_attr_ints(h, n, "dilations", s->dilations, 3);
    dn_attr_ints(h, n, "pads", s->pads, 6);
    dn_attr_ints(h, n, "output_padding", s->out_pad, 3);
    int c = dn_attr_ints(h, n, "output_shape", s->out_shape, 5);
    s->n_out_shape = c > 0 ? c : 0;
    s->auto_pad = auto_pad_of(dn_attr_s(h, n, "auto_pad", NULL));
}

/* Begin and end padding and the output size of spatial dim i for input size in_i and kernel kk;
 * 0 when oneDNN cannot take them (a negative padding). */
static int resolve(const ct_state *s, int i, int64_t in_i, int64_t kk, int64_t *pl, int64_t *pr, int64_t *out) {
    int ns = s->ns;
    int64_t st = s->strides[i], eff = (kk - 1) * s->dilations[i] + 1, op = s->out_pad[i];
    int64_t full = st * (in_i - 1) + op + eff;
    if (s->n_out_shape > 0 || s->auto_pad >= 2) {
        int64_t want = s->n_out_shape > 0 ? s->out_shape[s->n_out_shape - ns + i] : in_i * st;
        int64_t total = full - want;
        if (s->auto_pad == 2) {
            *pl = total / 2;
            *pr = total - total / 2;
        } else {
            *pl = total - total / 2;
            *pr = total / 2;
        }
        *out = want;
        /* A negative total (an output larger than the full result) is where the spec's integer
         * halving and onnxruntime's clamping disagree: the CPU provider's reading is the one. */
        if (total < 0) return 0;
    } else if (s->auto_pad == 1) {
        *pl = *pr = 0;
        *out = full;
    } else {
        *pl = s->pads[i];
        *pr = s->pads[ns + i];
        *out = full - *pl - *pr;
    }
    /* output_padding is part of `full`: for oneDNN it is a smaller end padding. */
    *pr -= op;
    return *pl >= 0 && *pr > -s->strides[i] && *out > 0;
}

static int ct_supports(const kiln_host_api *h, const kiln_node_view *n, char *why, size_t len) {
    if (!dn_all_float(h, n, 3, why, len)) return 0;
    kiln_value_info x, w;
    if (!dn_info(h, n, 0, 0, &x) || !dn_info(h, n, 0, 1, &w)) {
        snprintf(why, len, "missing X or W");
        return 0;
    }
    int rank = x.rank >= 0 ? x.rank : w.rank;
    if (rank < 3 || rank > 5 || (w.rank >= 0 && w.rank != rank)) {
        snprintf(why, len, "rank %d (1-D to 3-D only)", rank);
        return 0;
    }
    int ns = rank - 2;
    int64_t v[8];
    const char *names[] = {"strides", "dilations", "kernel_shape"};
    for (int i = 0; i < 3; i++) {
        int c = dn_attr_ints(h, n, names[i], v, 8);
        if (c < 0 || (c > 0 && c != ns)) {
            snprintf(why, len, "attribute %s has the wrong length", names[i]);
            return 0;
        }
        for (int j = 0; j < c; j++)
            if (v[j] < 1) {
                snprintf(why, len, "attribute %s holds %lld", names[i], (long long)v[j]);
                return 0;
            }
    }
    int c = dn_attr_ints(h, n, "pads", v, 8);
    if (c < 0 || (c > 0 && c != 2 * ns)) {
        snprintf(why, len, "attribute pads has the wrong length");
        return 0;
    }
    c = dn_attr_ints(h, n, "output_padding", v, 8);
    if (c < 0 || (c > 0 && c != ns)) {
        snprintf(why, len, "attribute output_padding has the wrong length");
        return 0;
    }
    c = dn_attr_ints(h, n, "output_shape", v, 8);
    if (c < 0 || (c > 0 && c != ns && c != ns + 2)) {
        snprintf(why, len, "attribute output_shape has the wrong length");
        return 0;
    }
    if (auto_pad_of(dn_attr_s(h, n, "auto_pad", NULL)) < 0 || dn_attr_i(h, n, "group", 1) < 1) {
        snprintf(why, len, "unknown auto_pad, or group < 1");
        return 0;
    }
    /* Every padding must be known and non-negative now: a build-time refusal would be an error,
     * not a fallback. That needs the spatial input dims and the kernel dims. */
    ct_state s;
    read_state(h, n, ns, &s);
    if (x.rank != rank || w.rank != rank || w.dims[1] < 1 || w.dims[0] % s.group) {
        snprintf(why, len, "X or W without a static shape");
        return 0;
    }
    for (int i = 0; i < ns; i++) {
        int64_t pl, pr, out;
        if (x.dims[2 + i] < 1 || w.dims[2 + i] < 1) {
            snprintf(why, len, "X or W without a static shape");
            return 0;
        }
        if (!resolve(&s, i, x.dims[2 + i], w.dims[2 + i], &pl, &pr, &out)) {
            snprintf(why, len, "a negative padding after output_shape/output_padding (dim %d)", i);
            return 0;
        }
    }
    return 1;
}

/* The weight's bytes [C, M/g, k...] as oneDNN's logical [M, C, k...] or [g, M/g, C/g, k...]. */
static void weight_md(dnnl_memory_desc_t *md, const ct_state *s, const int64_t *wdims) {
    int ns = s->ns;
    int64_t g = s->group, C = wdims[0], Mg = wdims[1], Cg = C / g, ksz = 1;
    for (int i = 0; i < ns; i++) ksz *= wdims[2 + i];
    dnnl_dims_t d, st;
    int r = 0;
    if (g > 1) {
        d[r] = g;
        st[r++] = Cg * Mg * ksz;
    }
    d[r] = Mg;
    st[r++] = ksz;
    d[r] = Cg;
    st[r++] = Mg * ksz;
    int64_t inner = ksz;
    for (int i = 0; i < ns; i++) {
        inner /= wdims[2 + i];
        d[r] = wdims[2 + i];
        st[r++] = inner;
    }
    dnnl_memory_desc_init_by_strides(md, r, d, dnnl_f32, st);
}

static int32_t ct_create(dn_kernel *k, const kiln_node_view *n, kiln_error *err) {
    const kiln_host_api *h = k->pv->host;
    ct_state *s = dn_alloc(k->pv, sizeof(*s));
    if (!s) return dn_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    k->op_state = s;
    kiln_value_info x;
    dn_info(h, n, 0, 0, &x);
    read_state(h, n, x.rank - 2, s);
    dn_const *c = dn_const_of(k, 1);
    if (c && c->present && c->rank == s->ns + 2 && c->dims[0] % s->group == 0) weight_md(&c->copies[0].md, s, c->dims);
    return KILN_OK;
}

static int32_t ct_build(dn_kernel *k, dn_plan *p, const kiln_value_desc *const *in, kiln_error *err) {
    ct_state *s = k->op_state;
    const kiln_value_desc *x = in[0], *w = in[1], *b = k->n_in > 2 ? in[2] : NULL;
    int ns = s->ns;
    if (!x || !w || x->rank != ns + 2 || w->rank != ns + 2)
        return dn_fail(err, KILN_ERR_SHAPE, "node '%s' (ConvTranspose): X and W must have rank %d", k->name, ns + 2);
    int64_t N = x->dims[0], C = x->dims[1], g = s->group, M = w->dims[1] * g;
    if (C != w->dims[0] || C % g)
        return dn_fail(err, KILN_ERR_SHAPE, "node '%s' (ConvTranspose): X has %lld channels, W is [%lld, ...] with group %lld",
                       k->name, (long long)C, (long long)w->dims[0], (long long)g);
    if (b && (b->rank != 1 || b->dims[0] != M))
        return dn_fail(err, KILN_ERR_SHAPE, "node '%s' (ConvTranspose): B must be [%lld]", k->name, (long long)M);
    int64_t out[KILN_MAX_RANK];
    dnnl_dims_t str, dil, pl, pr;
    out[0] = N;
    out[1] = M;
    for (int i = 0; i < ns; i++) {
        int64_t a, e, o;
        if (!resolve(s, i, x->dims[2 + i], w->dims[2 + i], &a, &e, &o))
            return dn_fail(err, KILN_ERR_SHAPE, "node '%s' (ConvTranspose): padding of dim %d is negative for this input", k->name, i);
        str[i] = s->strides[i];
        dil[i] = s->dilations[i] - 1;
        pl[i] = a;
        pr[i] = e;
        out[2 + i] = o;
    }
    int64_t total = 1;
    for (int i = 0; i < ns + 2; i++) total *= out[i];
    if (total == 0 || x->count == 0) {
        if (total) return dn_fail(err, KILN_ERR_UNSUPPORTED, "node '%s' (ConvTranspose): empty input", k->name);
        dn_plan_shape(k, p, 0, ns + 2, out);
        return KILN_OK;
    }
    dnnl_memory_desc_t src_u, src_a, wei_u, wei_a, bias_md, dst_a;
    dn_md_plain(&src_u, x->rank, x->dims);
    weight_md(&wei_u, s, w->dims);
    dnnl_data_type_t dt = k->pv->bf16 ? dnnl_bf16 : dnnl_f32;
    dn_md_any(&src_a, x->rank, x->dims, dt);
    dnnl_memory_desc_t wei_any;
    dn_md_any(&wei_any, wei_u.ndims, (const int64_t *)wei_u.dims, dt);
    wei_a = wei_any;
    dn_md_any(&dst_a, ns + 2, out, dt);
    if (b) dn_md_plain(&bias_md, 1, &M);
    dnnl_deconvolution_desc_t dd;
    int32_t st = dn_check(dnnl_dilated_deconvolution_forward_desc_init(&dd, dnnl_forward_inference, dnnl_deconvolution_direct, &src_a,
                                                                       &wei_a, b ? &bias_md : NULL, &dst_a, str, dil, pl, pr),
                          err, k, "deconvolution descriptor");
    if (st != KILN_OK) return st;
    dnnl_primitive_desc_t pd = NULL;
    st = dn_check(dnnl_primitive_desc_create(&pd, &dd, NULL, k->pv->engine, NULL), err, k, "deconvolution");
    if (st != KILN_OK) return st;
    const dnnl_memory_desc_t *src_md = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *wei_md = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *dst_md = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    int bs = dn_plan_input(k, p, 0, &src_u, src_md, err);
    int bw = bs >= 0 ? dn_plan_input(k, p, 1, &wei_u, wei_md, err) : -1;
    int bb = b && bw >= 0 ? dn_plan_input(k, p, 2, &bias_md, &bias_md, err) : 0;
    int bd = bw >= 0 && bb >= 0 ? dn_plan_dst(k, p, 0, dst_md, ns + 2, out, err) : -1;
    if (bd >= 0) {
        int args[4] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST, DNNL_ARG_BIAS}, bufs[4] = {bs, bw, bd, bb};
        st = dn_plan_step(k, p, pd, b ? 4 : 3, args, bufs, "deconvolution", err);
    } else {
        st = err->status ? err->status : KILN_ERR_PROVIDER;
    }
    dnnl_primitive_desc_destroy(pd);
    return st;
}

const dn_op dn_op_convtranspose = {"ConvTranspose", ct_supports, ct_create, ct_build};
