/* SPDX-License-Identifier: MIT */
/* Conv (opsets 1-22): 1-D to 3-D, groups (depthwise included), dilations, strides, explicit
 * pads and auto_pad, optional bias. oneDNN picks the layouts (format "any"): the weight is
 * reordered once into the one it picks, the activation at each call when it differs from NCHW. */
#include <stdio.h>
#include <string.h>

#include "dn.h"

typedef struct conv_state {
    int ns;                           /* spatial dims */
    int64_t group;
    int64_t strides[3], dilations[3], pads[6], kernel[3];
    int auto_pad;                     /* 0 NOTSET, 1 VALID, 2 SAME_UPPER, 3 SAME_LOWER */
    int has_kernel;
} conv_state;

static int auto_pad_of(const char *s) {
    return !s || !strcmp(s, "NOTSET") ? 0 : !strcmp(s, "VALID") ? 1 : !strcmp(s, "SAME_UPPER") ? 2 : !strcmp(s, "SAME_LOWER") ? 3 : -1;
}

static int supports(const kiln_host_api *h, const kiln_node_view *n, char *why, size_t len) {
    if (!dn_all_float(h, n, 3, why, len)) return 0;
    kiln_value_info x, w;
    if (!dn_info(h, n, 0, 0, &x) || !dn_info(h, n, 0, 1, &w)) {
        snprintf(why, len, "missing X or W");
        return 0;
    }
    int rank = x.rank >= 0 ? x.rank : w.rank;
    if (rank < 3 || rank > 5 || (w.rank >= 0 && w.rank != rank)) {
        snprintf(why, len, "rank %d (1-D to 3-D convolutions only)", rank);
        return 0;
    }
    int64_t v[8];
    const char *names[] = {"strides", "dilations", "kernel_shape"};
    for (int i = 0; i < 3; i++) {
        int c = dn_attr_ints(h, n, names[i], v, 8);
        if (c < 0 || (c > 0 && c != rank - 2)) {
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
    if (c < 0 || (c > 0 && c != 2 * (rank - 2))) {
        snprintf(why, len, "attribute pads has the wrong length");
        return 0;
    }
    for (int j = 0; j < c; j++)
        if (v[j] < 0) {
            snprintf(why, len, "negative pads");
            return 0;
        }
    if (auto_pad_of(dn_attr_s(h, n, "auto_pad", NULL)) < 0) {
        snprintf(why, len, "unknown auto_pad");
        return 0;
    }
    if (dn_attr_i(h, n, "group", 1) < 1) {
        snprintf(why, len, "group < 1");
        return 0;
    }
    return 1;
}

static int32_t create(dn_kernel *k, const kiln_node_view *n, kiln_error *err) {
    const kiln_host_api *h = k->pv->host;
    conv_state *s = dn_alloc(k->pv, sizeof(*s));
    if (!s) return dn_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    k->op_state = s;
    kiln_value_info x, w;
    dn_info(h, n, 0, 0, &x);
    dn_info(h, n, 0, 1, &w);
    s->ns = (x.rank >= 0 ? x.rank : w.rank) - 2;
    s->group = dn_attr_i(h, n, "group", 1);
    for (int i = 0; i < 3; i++) s->strides[i] = s->dilations[i] = 1;
    dn_attr_ints(h, n, "strides", s->strides, 3);
    dn_attr_ints(h, n, "dilations", s->dilations, 3);
    dn_attr_ints(h, n, "pads", s->pads, 6);
    s->has_kernel = dn_attr_ints(h, n, "kernel_shape", s->kernel, 3) > 0;
    s->auto_pad = auto_pad_of(dn_attr_s(h, n, "auto_pad", NULL));
    /* A grouped weight [M, C/g, k...] is read as [g, M/g, C/g, k...]: the same bytes. */
    dn_const *c = dn_const_of(k, 1);
    if (c && c->present && s->group > 1 && c->rank == s->ns + 2 && c->dims[0] % s->group == 0) {
        int64_t d[KILN_MAX_RANK];
        d[0] = s->group;
        d[1] = c->dims[0] / s->group;
        for (int i = 1; i < c->rank; i++) d[i + 1] = c->dims[i];
        dn_md_plain(&c->copies[0].md, c->rank + 1, d);
    }
    return KILN_OK;
}

static int32_t build(dn_kernel *k, dn_plan *p, const kiln_value_desc *const *in, kiln_error *err) {
    conv_state *s = k->op_state;
    const kiln_value_desc *x = in[0], *w = in[1], *b = k->n_in > 2 ? in[2] : NULL;
    int ns = s->ns;
    if (!x || !w || x->rank != ns + 2 || w->rank != ns + 2)
        return dn_fail(err, KILN_ERR_SHAPE, "node '%s' (Conv): X and W must have rank %d", k->name, ns + 2);
    int64_t N = x->dims[0], C = x->dims[1], M = w->dims[0], g = s->group;
    if (C != w->dims[1] * g || M % g)
        return dn_fail(err, KILN_ERR_SHAPE, "node '%s' (Conv): X has %lld channels, W is [%lld, %lld, ...] with group %lld", k->name,
                       (long long)C, (long long)M, (long long)w->dims[1], (long long)g);
    if (b && (b->rank != 1 || b->dims[0] != M))
        return dn_fail(err, KILN_ERR_SHAPE, "node '%s' (Conv): B must be [%lld]", k->name, (long long)M);
    int64_t out[KILN_MAX_RANK], pl[3], pr[3], dil[3];
    out[0] = N;
    out[1] = M;
    for (int i = 0; i < ns; i++) {
        int64_t in_i = x->dims[2 + i], kk = w->dims[2 + i], st = s->strides[i];
        if (s->has_kernel && s->kernel[i] != kk)
            return dn_fail(err, KILN_ERR_SHAPE, "node '%s' (Conv): kernel_shape disagrees with W", k->name);
        int64_t eff = (kk - 1) * s->dilations[i] + 1;
        dil[i] = s->dilations[i] - 1;
        if (s->auto_pad >= 2) {
            int64_t o = (in_i + st - 1) / st, total = (o - 1) * st + eff - in_i;
            if (total < 0) total = 0;
            pl[i] = s->auto_pad == 2 ? total / 2 : total - total / 2;
            pr[i] = total - pl[i];
        } else if (s->auto_pad == 1) {
            pl[i] = pr[i] = 0;
        } else {
            pl[i] = s->pads[i];
            pr[i] = s->pads[ns + i];
        }
        int64_t span = in_i + pl[i] + pr[i] - eff;
        if (span < 0 && in_i > 0)
            return dn_fail(err, KILN_ERR_SHAPE, "node '%s' (Conv): kernel larger than the padded input", k->name);
        out[2 + i] = span < 0 ? 0 : span / st + 1;
    }
    int64_t total = 1;
    for (int i = 0; i < ns + 2; i++) total *= out[i];
    if (total == 0 || C == 0) { /* empty output, or no input channel: zeros (plus bias) never come from oneDNN */
        if (total != 0) return dn_fail(err, KILN_ERR_UNSUPPORTED, "node '%s' (Conv): zero input channels", k->name);
        dn_plan_shape(k, p, 0, ns + 2, out);
        return KILN_OK;
    }
    dnnl_memory_desc_t src_u, src_a, wei_u, wei_a, bias_md, dst_a;
    dn_md_plain(&src_u, x->rank, x->dims);
    int64_t wd[KILN_MAX_RANK + 1];
    int wr = ns + 2;
    if (g > 1) {
        wd[0] = g;
        wd[1] = M / g;
        for (int i = 1; i < ns + 2; i++) wd[i + 1] = w->dims[i];
        wr++;
    } else {
        memcpy(wd, w->dims, (size_t)wr * sizeof(int64_t));
    }
    dn_md_plain(&wei_u, wr, wd);
    dnnl_data_type_t dt = k->pv->bf16 ? dnnl_bf16 : dnnl_f32;
    dn_md_any(&src_a, x->rank, x->dims, dt);
    dn_md_any(&wei_a, wr, wd, dt);
    dn_md_any(&dst_a, ns + 2, out, dt);
    if (b) dn_md_plain(&bias_md, 1, &M);
    dnnl_convolution_desc_t cd;
    dnnl_dims_t dst_, pl_, pr_, dil_;
    for (int i = 0; i < ns; i++) {
        dst_[i] = s->strides[i];
        pl_[i] = pl[i];
        pr_[i] = pr[i];
        dil_[i] = dil[i];
    }
    int32_t st = dn_check(dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct, &src_a,
                                                                     &wei_a, b ? &bias_md : NULL, &dst_a, dst_, dil_, pl_, pr_),
                          err, k, "convolution descriptor");
    if (st != KILN_OK) return st;
    /* In a group: a following Add (sum post-op) and eltwise (eltwise post-op) run inside the convolution. */
    dn_member *m = k->cur;
    int fuse_sum = m && m->post_sum >= 0, fuse_elt = m && m->post_elt >= 0;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    if (fuse_sum || fuse_elt) {
        st = dn_check(dnnl_primitive_attr_create(&attr), err, k, "attributes");
        if (st == KILN_OK) st = dn_check(dnnl_post_ops_create(&po), err, k, "post-ops");
        if (st == KILN_OK && fuse_sum) st = dn_check(dnnl_post_ops_append_sum(po, 1.0f), err, k, "post-ops");
        if (st == KILN_OK && fuse_elt) st = dn_eltwise_append(k, &k->members[m->post_elt], po, err);
        if (st == KILN_OK) st = dn_check(dnnl_primitive_attr_set_post_ops(attr, po), err, k, "post-ops");
    }
    dnnl_primitive_desc_t pd = NULL;
    if (st == KILN_OK) st = dn_check(dnnl_primitive_desc_create(&pd, &cd, attr, k->pv->engine, NULL), err, k, "convolution");
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (st != KILN_OK) return st;
    const dnnl_memory_desc_t *src_md = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *wei_md = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *dst_md = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    int bs = dn_plan_input(k, p, 0, &src_u, src_md, err);
    int bw = bs >= 0 ? dn_plan_input(k, p, 1, &wei_u, wei_md, err) : -1;
    int bb = b && bw >= 0 ? dn_plan_input(k, p, 2, &bias_md, &bias_md, err) : 0;
    int bd = -1;
    if (bw >= 0 && bb >= 0 && m) {
        int last = fuse_elt ? m->post_elt : fuse_sum ? m->post_sum : -1;
        int fval = last >= 0 ? k->members[last].out_val[0] : m->out_val[0];
        if (fuse_sum) {
            dn_gval *u = &k->vals[m->sum_addend];
            /* The addend's bytes become the output when nothing reads them later (in place). */
            if (u->buf >= 0 && u->gout < 0 && u->gin < 0 && !dn_value_read_after(k, m->sum_addend, k->cur_index, m->post_sum) && p->bufs[u->buf].role == DN_BUF_TMP &&
                !p->bufs[u->buf].is_view && dnnl_memory_desc_equal(dn_buf_md(p, u->buf), dst_md) && k->vals[fval].gout < 0) {
                bd = u->buf;
                dn_plan_alias_value(k, p, fval, bd, ns + 2, out);
                u->buf = -1;
            } else {
                bd = dn_plan_dst_value(k, p, fval, dst_md, ns + 2, out, err);
                if (bd >= 0 && u->buf >= 0) {
                    dnnl_primitive_desc_t rpd;
                    st = dn_check(dnnl_reorder_primitive_desc_create(&rpd, dn_buf_md(p, u->buf), k->pv->engine, dn_buf_md(p, bd),
                                                                     k->pv->engine, NULL),
                                  err, k, "reorder");
                    int ra[2] = {DNNL_ARG_FROM, DNNL_ARG_TO}, rb[2] = {u->buf, bd};
                    if (st == KILN_OK) {
                        st = dn_plan_step(k, p, rpd, 2, ra, rb, "reorder", err);
                        dnnl_primitive_desc_destroy(rpd);
                    }
                    if (st != KILN_OK) bd = -1;
                } else if (bd >= 0) {
                    bd = -1;
                    dn_fail(err, KILN_ERR_INTERNAL, "node '%s': the fused Add's other input has no buffer", k->name);
                }
            }
        } else {
            bd = dn_plan_dst_value(k, p, fval, dst_md, ns + 2, out, err);
        }
    } else if (bw >= 0 && bb >= 0) {
        bd = dn_plan_dst(k, p, 0, dst_md, ns + 2, out, err);
    }
    if (bd >= 0) {
        int args[4] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST, DNNL_ARG_BIAS}, bufs[4] = {bs, bw, bd, bb};
        st = dn_plan_step(k, p, pd, b ? 4 : 3, args, bufs, "convolution", err);
    } else {
        st = err->status ? err->status : KILN_ERR_PROVIDER;
    }
    dnnl_primitive_desc_destroy(pd);
    return st;
}

const dn_op dn_op_conv = {"Conv", supports, create, build};
