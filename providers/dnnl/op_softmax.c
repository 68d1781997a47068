/* SPDX-License-Identifier: MIT */
/* Softmax and LogSoftmax: from opset 13 along `axis` (default -1); before 13 the input is
 * coerced to 2-D at `axis` (default 1) and normalized along the second dim. */
#include <stdio.h>
#include <string.h>

#include "dn.h"

typedef struct sm_state {
    int64_t axis;
    int legacy;
    dnnl_alg_kind_t alg;
} sm_state;

static int sm_supports(const kiln_host_api *h, const kiln_node_view *n, char *why, size_t len) {
    if (!dn_all_float(h, n, 1, why, len)) return 0;
    kiln_value_info x;
    if (dn_info(h, n, 0, 0, &x) && x.rank == 0) {
        snprintf(why, len, "scalar input");
        return 0;
    }
    return 1;
}

static int32_t sm_create(dn_kernel *k, const kiln_node_view *n, kiln_error *err) {
    const kiln_host_api *h = k->pv->host;
    sm_state *s = dn_alloc(k->pv, sizeof(*s));
    if (!s) return dn_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    k->op_state = s;
    s->legacy = h->node_opset(n) < 13;
    s->axis = dn_attr_i(h, n, "axis", s->legacy ? 1 : -1);
    s->alg = !strcmp(h->node_op_type(n), "LogSoftmax") ? dnnl_softmax_log : dnnl_softmax_accurate;
    return KILN_OK;
}

static int32_t sm_build(dn_kernel *k, dn_plan *p, const kiln_value_desc *const *in, kiln_error *err) {
    sm_state *s = k->op_state;
    const kiln_value_desc *x = in[0];
    if (!x || x->rank < 1) return dn_fail(err, KILN_ERR_SHAPE, "node '%s': input must have rank >= 1", k->name);
    int64_t axis = s->axis < 0 ? s->axis + x->rank : s->axis;
    if (axis < 0 || axis >= x->rank)
        return dn_fail(err, KILN_ERR_SHAPE, "node '%s': axis %lld out of range for rank %d", k->name, (long long)s->axis, x->rank);
    dn_plan_shape(k, p, 0, x->rank, x->dims);
    if (x->count == 0) return KILN_OK;
    /* [outer, axis, inner] (legacy: [outer, rest, 1]) */
    int64_t d3[3] = {1, 1, 1};
    for (int i = 0; i < x->rank; i++) {
        if (i < axis) d3[0] *= x->dims[i];
        else if (i == axis || s->legacy) d3[1] *= x->dims[i];
        else d3[2] *= x->dims[i];
    }
    dnnl_memory_desc_t md;
    dn_md_plain(&md, 3, d3);
    dnnl_softmax_v2_desc_t sd;
    int32_t st = dn_check(dnnl_softmax_v2_forward_desc_init(&sd, dnnl_forward_inference, s->alg, &md, &md, 1), err, k, "softmax descriptor");
    if (st != KILN_OK) return st;
    dnnl_primitive_desc_t pd;
    st = dn_check(dnnl_primitive_desc_create(&pd, &sd, NULL, k->pv->engine, NULL), err, k, "softmax");
    if (st != KILN_OK) return st;
    int bs = dn_plan_input(k, p, 0, &md, NULL, err);
    int bd = bs >= 0 ? dn_plan_dst(k, p, 0, NULL, x->rank, x->dims, err) : -1;
    if (bd >= 0) bd = dn_plan_view(k, p, bd, &md, err);
    if (bd >= 0) {
        int args[2] = {DNNL_ARG_SRC, DNNL_ARG_DST}, bufs[2] = {bs, bd};
        st = dn_plan_step(k, p, pd, 2, args, bufs, "softmax", err);
    } else {
        st = err->status;
    }
    dnnl_primitive_desc_destroy(pd);
    return st;
}

const dn_op dn_op_softmax = {"Softmax", sm_supports, sm_create, sm_build};
const dn_op dn_op_logsoftmax = {"LogSoftmax", sm_supports, sm_create, sm_build};
