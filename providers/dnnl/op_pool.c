/* SPDX-License-Identifier: MIT */
/* MaxPool (without the Indices output), AveragePool, GlobalAveragePool and GlobalMaxPool on
 * oneDNN's pooling primitive: 1-D to 3-D, strides, dilations, pads, auto_pad, ceil_mode. */
#include <stdio.h>
#include <string.h>

#include "dn.h"

typedef struct pool_state {
    int global, max, include_pad, ceil, auto_pad, ns;
    int64_t kernel[3], strides[3], dilations[3], pads[6];
} pool_state;

static int auto_pad_of(const char *s) {
    return !s || !strcmp(s, "NOTSET") ? 0 : !strcmp(s, "VALID") ? 1 : !strcmp(s, "SAME_UPPER") ? 2 : !strcmp(s, "SAME_LOWER") ? 3 : -1;
}

static int pool_supports(const kiln_host_api *h, const kiln_node_view *n, char *why, size_t len) {
    if (!dn_all_float(h, n, 1, why, len)) return 0;
    const char *op = h->node_op_type(n);
    int global = !strncmp(op, "Global", 6);
    kiln_value_info x, ind;
    if (!dn_info(h, n, 0, 0, &x) || x.rank < 3 || x.rank > 5) {
        snprintf(why, len, "input rank must be 3 to 5 and known");
        return 0;
    }
    if (dn_info(h, n, 1, 1, &ind)) {
        snprintf(why, len, "the Indices output");
        return 0;
    }
    if (global) return 1;
    int ns = x.rank - 2;
    int64_t v[8];
    if (dn_attr_ints(h, n, "kernel_shape", v, 8) != ns) {
        snprintf(why, len, "kernel_shape missing or of the wrong length");
        return 0;
    }
    const char *names[] = {"strides", "dilations"};
    for (int i = 0; i < 2; i++) {
        int c = dn_attr_ints(h, n, names[i], v, 8);
        if (c < 0 || (c && c != ns)) {
            snprintf(why, len, "%s of the wrong length", names[i]);
            return 0;
        }
    }
    int c = dn_attr_ints(h, n, "pads", v, 8);
    if (c < 0 || (c && c != 2 * ns)) {
        snprintf(why, len, "pads of the wrong length");
        return 0;
    }
    if (auto_pad_of(dn_attr_s(h, n, "auto_pad", NULL)) < 0) {
        snprintf(why, len, "unknown auto_pad");
        return 0;
    }
    if (!strcmp(op, "AveragePool") && dn_attr_i(h, n, "ceil_mode", 0) && dn_attr_i(h, n, "count_include_pad", 0)) {
        snprintf(why, len, "ceil_mode with count_include_pad");
        return 0;
    }
    return 1;
}

static int32_t pool_create(dn_kernel *k, const kiln_node_view *n, kiln_error *err) {
    const kiln_host_api *h = k->pv->host;
    pool_state *s = dn_alloc(k->pv, sizeof(*s));
    if (!s) return dn_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    k->op_state = s;
    const char *op = h->node_op_type(n);
    kiln_value_info x;
    dn_info(h, n, 0, 0, &x);
    s->ns = x.rank - 2;
    s->global = !strncmp(op, "Global", 6);
    s->max = strstr(op, "Max") != NULL;
    s->include_pad = dn_attr_i(h, n, "count_include_pad", 0) != 0;
    s->ceil = dn_attr_i(h, n, "ceil_mode", 0) != 0;
    s->auto_pad = auto_pad_of(dn_attr_s(h, n, "auto_pad", NULL));
    for (int i = 0; i < 3; i++) s->strides[i] = s->dilations[i] = 1;
    dn_attr_ints(h, n, "kernel_shape", s->kernel, 3);
    dn_attr_ints(h, n, "strides", s->strides, 3);
    dn_attr_ints(h, n, "dilations", s->dilations, 3);
    dn_attr_ints(h, n, "pads", s->pads, 6);
    return KILN_OK;
}

static int32_t pool_build(dn_kernel *k, dn_plan *p, const kiln_value_desc *const *in, kiln_error *err) {
    pool_state *s = k->op_state;
    const kiln_value_desc *x = in[0];
    int ns = s->ns;
    if (!x || x->rank != ns + 2) return dn_fail(err, KILN_ERR_SHAPE, "node '%s': input must have rank %d", k->name, ns + 2);
    int64_t out[KILN_MAX_RANK];
    dnnl_dims_t ker, str, dil, pl, pr;
    out[0] = x->dims[0];
    out[1] = x->dims[1];
    for (int i = 0; i < ns; i++) {
        int64_t in_i = x->dims[2 + i];
        if (s->global) {
            ker[i] = in_i;
            str[i] = 1;
            dil[i] = 0;
            pl[i] = pr[i] = 0;
            out[2 + i] = 1;
            continue;
        }
        int64_t kk = s->kernel[i], st = s->strides[i], eff = (kk - 1) * s->dilations[i] + 1;
        int64_t a, b;
        if (s->auto_pad >= 2) {
            int64_t o = (in_i + st - 1) / st, total = (o - 1) * st + eff - in_i;
            if (total < 0) total = 0;
            a = s->auto_pad == 2 ? total / 2 : total - total / 2;
            b = total - a;
        } else if (s->auto_pad == 1) {
            a = b = 0;
        } else {
            a = s->pads[i];
            b = s->pads[ns + i];
        }
        int64_t span = in_i + a + b - eff;
        if (span < 0) return dn_fail(err, KILN_ERR_SHAPE, "node '%s': kernel larger than the padded input", k->name);
        int64_t o = (s->ceil ? (span + st - 1) / st : span / st) + 1;
        if (s->ceil && (o - 1) * st >= in_i + a) o--; /* the last window starts inside the input or left padding */
        int64_t need = (o - 1) * st + eff - in_i - a; /* right padding the last window reaches */
        if (need > b) b = need;
        ker[i] = kk;
        str[i] = st;
        dil[i] = s->dilations[i] - 1;
        pl[i] = a;
        pr[i] = b;
        out[2 + i] = o;
    }
    dn_plan_shape(k, p, 0, ns + 2, out);
    int64_t total = 1;
    for (int i = 0; i < ns + 2; i++) total *= out[i];
    if (total == 0 || x->count == 0) {
        if (total) return dn_fail(err, KILN_ERR_SHAPE, "node '%s': empty input", k->name);
        return KILN_OK;
    }
    /* A group value in a blocked layout is pooled as it is; the output takes the same layout. */
    const dnnl_memory_desc_t *native = dn_in_native(k, p, 0);
    dnnl_memory_desc_t src, dst;
    if (native) src = *native;
    else dn_md_plain(&src, x->rank, x->dims);
    dn_md_any(&dst, ns + 2, out, src.data_type);
    dnnl_alg_kind_t alg = s->max ? dnnl_pooling_max : s->include_pad ? dnnl_pooling_avg_include_padding : dnnl_pooling_avg_exclude_padding;
    dnnl_pooling_v2_desc_t pdsc;
    int32_t st = dn_check(dnnl_pooling_v2_forward_desc_init(&pdsc, dnnl_forward_inference, alg, &src, &dst, str, ker, dil, pl, pr), err,
                          k, "pooling descriptor");
    if (st != KILN_OK) return st;
    dnnl_primitive_desc_t pd;
    st = dn_check(dnnl_primitive_desc_create(&pd, &pdsc, NULL, k->pv->engine, NULL), err, k, "pooling");
    if (st != KILN_OK) return st;
    int bs = native ? dn_plan_input_native(k, p, 0, err) : dn_plan_input(k, p, 0, &src, NULL, err);
    int bd = bs >= 0 ? dn_plan_dst(k, p, 0, dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0), ns + 2, out, err) : -1;
    if (bd >= 0) {
        int args[2] = {DNNL_ARG_SRC, DNNL_ARG_DST}, bufs[2] = {bs, bd};
        st = dn_plan_step(k, p, pd, 2, args, bufs, "pooling", err);
    } else {
        st = err->status;
    }
    dnnl_primitive_desc_destroy(pd);
    return st;
}

const dn_op dn_op_maxpool = {"MaxPool", pool_supports, pool_create, pool_build};
const dn_op dn_op_avgpool = {"AveragePool", pool_supports, pool_create, pool_build};
const dn_op dn_op_gavgpool = {"GlobalAveragePool", pool_supports, pool_create, pool_build};
const dn_op dn_op_gmaxpool = {"GlobalMaxPool", pool_supports, pool_create, pool_build};
