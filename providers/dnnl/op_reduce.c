/* SPDX-License-Identifier: MIT */
/* ReduceMean, ReduceSum, ReduceProd, ReduceL1, ReduceL2, ReduceSumSquare on oneDNN's reduction
 * primitive: axes from the attribute or a constant input, keepdims. Left to the CPU provider:
 * noop_with_empty_axes=1, non-constant axes, inputs with a known zero dim (the empty-set rules),
 * and ReduceMax/ReduceMin: oneDNN 2.6 starts them from -FLT_MAX/FLT_MAX, so a row of -inf
 * reduces to -3.4e38 instead of -inf (the attention nan-robustness node tests). */
#include <stdio.h>
#include <string.h>

#include "dn.h"

typedef struct reduce_state {
    dnnl_alg_kind_t alg;
    float pw;
    int keepdims;
    int n_axes;              /* 0: all */
    int64_t axes[KILN_MAX_RANK];
} reduce_state;

static int alg_of(const char *op, dnnl_alg_kind_t *alg, float *pw) {
    *pw = 0.0f;
    if (!strcmp(op, "ReduceMean")) *alg = dnnl_reduction_mean;
    else if (!strcmp(op, "ReduceSum")) *alg = dnnl_reduction_sum;
    else if (!strcmp(op, "ReduceProd")) *alg = dnnl_reduction_mul;
    else if (!strcmp(op, "ReduceL1")) *alg = dnnl_reduction_norm_lp_sum, *pw = 1.0f;
    else if (!strcmp(op, "ReduceL2")) *alg = dnnl_reduction_norm_lp_sum, *pw = 2.0f;
    else if (!strcmp(op, "ReduceSumSquare")) *alg = dnnl_reduction_norm_lp_power_p_sum, *pw = 2.0f;
    else return 0;
    return 1;
}

/* Reads the axes: attribute before opset 18 (13 for ReduceSum), else a constant int64 input. */
static int read_axes(const kiln_host_api *h, const kiln_node_view *n, reduce_state *s, char *why, size_t len) {
    int from_input = h->node_opset(n) >= (strcmp(h->node_op_type(n), "ReduceSum") ? 18 : 13);
    s->n_axes = 0;
    if (!from_input) {
        int c = dn_attr_ints(h, n, "axes", s->axes, KILN_MAX_RANK);
        if (c < 0) {
            snprintf(why, len, "bad axes");
            return 0;
        }
        s->n_axes = c;
        return 1;
    }
    kiln_value_info vi;
    if (h->node_input_count(n) < 2 || !dn_info(h, n, 0, 1, &vi)) {
        if (dn_attr_i(h, n, "noop_with_empty_axes", 0)) {
            snprintf(why, len, "noop_with_empty_axes");
            return 0;
        }
        return 1;
    }
    if (!vi.constant || !vi.constant->data || vi.constant->dtype != KILN_DTYPE_INT64 || vi.constant->count > KILN_MAX_RANK) {
        snprintf(why, len, "axes is not a constant int64 tensor");
        return 0;
    }
    if (vi.constant->count == 0 && dn_attr_i(h, n, "noop_with_empty_axes", 0)) {
        snprintf(why, len, "noop_with_empty_axes");
        return 0;
    }
    s->n_axes = (int)vi.constant->count;
    memcpy(s->axes, vi.constant->data, (size_t)s->n_axes * sizeof(int64_t));
    return 1;
}

static int reduce_supports(const kiln_host_api *h, const kiln_node_view *n, char *why, size_t len) {
    reduce_state s;
    kiln_value_info x, y;
    if (!alg_of(h->node_op_type(n), &s.alg, &s.pw)) return 0;
    if (!dn_info(h, n, 0, 0, &x) || x.kind != KILN_VALUE_TENSOR || x.dtype != KILN_DTYPE_FLOAT || x.rank < 1 || x.rank > 6 ||
        !dn_info(h, n, 1, 0, &y) || y.dtype != KILN_DTYPE_FLOAT) {
        snprintf(why, len, "float input of rank 1 to 6 only");
        return 0;
    }
    for (int d = 0; d < x.rank; d++)
        if (x.dims[d] == 0) {
            snprintf(why, len, "empty input");
            return 0;
        }
    return read_axes(h, n, &s, why, len);
}

static int32_t reduce_create(dn_kernel *k, const kiln_node_view *n, kiln_error *err) {
    const kiln_host_api *h = k->pv->host;
    reduce_state *s = dn_alloc(k->pv, sizeof(*s));
    char why[128];
    if (!s) return dn_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    k->op_state = s;
    alg_of(h->node_op_type(n), &s->alg, &s->pw);
    s->keepdims = dn_attr_i(h, n, "keepdims", 1) != 0;
    if (!read_axes(h, n, s, why, sizeof(why))) return dn_fail(err, KILN_ERR_UNSUPPORTED, "node '%s': %s", k->name, why);
    return KILN_OK;
}

static int32_t reduce_build(dn_kernel *k, dn_plan *p, const kiln_value_desc *const *in, kiln_error *err) {
    reduce_state *s = k->op_state;
    const kiln_value_desc *x = in[0];
    if (!x || x->rank < 1) return dn_fail(err, KILN_ERR_SHAPE, "node '%s': input must have rank >= 1", k->name);
    int red[KILN_MAX_RANK] = {0};
    for (int i = 0; i < s->n_axes; i++) {
        int64_t a = s->axes[i] < 0 ? s->axes[i] + x->rank : s->axes[i];
        if (a < 0 || a >= x->rank) return dn_fail(err, KILN_ERR_SHAPE, "node '%s': axis %lld out of range", k->name, (long long)s->axes[i]);
        red[a] = 1;
    }
    int64_t kd[KILN_MAX_RANK], od[KILN_MAX_RANK];
    int orank = 0;
    for (int d = 0; d < x->rank; d++) {
        int r = s->n_axes == 0 || red[d];
        kd[d] = r ? 1 : x->dims[d];
        if (!r || s->keepdims) od[orank++] = kd[d];
    }
    dn_plan_shape(k, p, 0, orank, od);
    if (x->count == 0) return dn_fail(err, KILN_ERR_UNSUPPORTED, "node '%s': reduction of an empty tensor", k->name);
    dnnl_memory_desc_t src, dst;
    dn_md_plain(&src, x->rank, x->dims);
    dn_md_plain(&dst, x->rank, kd);
    dnnl_reduction_desc_t rd;
    int32_t st = dn_check(dnnl_reduction_desc_init(&rd, s->alg, &src, &dst, s->pw, 0.0f), err, k, "reduction descriptor");
    dnnl_primitive_desc_t pd;
    if (st == KILN_OK) st = dn_check(dnnl_primitive_desc_create(&pd, &rd, NULL, k->pv->engine, NULL), err, k, "reduction");
    if (st != KILN_OK) return st;
    int bs = dn_plan_input(k, p, 0, &src, NULL, err);
    int bd = bs >= 0 ? dn_plan_dst(k, p, 0, NULL, orank, od, err) : -1;
    if (bd >= 0) bd = dn_plan_view(k, p, bd, &dst, err);
    int args[2] = {DNNL_ARG_SRC, DNNL_ARG_DST}, bufs[2] = {bs, bd};
    st = bd >= 0 ? dn_plan_step(k, p, pd, 2, args, bufs, "reduction", err) : err->status;
    dnnl_primitive_desc_destroy(pd);
    return st;
}

#define RED(name) {name, reduce_supports, reduce_create, reduce_build}
const dn_op dn_op_reduce_table[] = {RED("ReduceMean"), RED("ReduceSum"), RED("ReduceProd"),
                                    RED("ReduceL1"), RED("ReduceL2"), RED("ReduceSumSquare"), {NULL, NULL, NULL, NULL}};
