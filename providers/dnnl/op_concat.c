/* SPDX-License-Identifier: MIT */
/* Concat (up to 8 inputs) on oneDNN's concat primitive. Inside a group, inputs held in one
 * blocked layout are concatenated as they are. Empty inputs are skipped. */
#include <stdio.h>
#include <string.h>

#include "dn.h"

typedef struct concat_state {
    int64_t axis;
} concat_state;

static int concat_supports(const kiln_host_api *h, const kiln_node_view *n, char *why, size_t len) {
    if (!dn_all_float(h, n, DN_MAX_IN, why, len)) return 0;
    if (!h->node_attr(n, "axis")) {
        snprintf(why, len, "no axis");
        return 0;
    }
    return 1;
}

static int32_t concat_create(dn_kernel *k, const kiln_node_view *n, kiln_error *err) {
    concat_state *s = dn_alloc(k->pv, sizeof(*s));
    if (!s) return dn_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    k->op_state = s;
    s->axis = dn_attr_i(k->pv->host, n, "axis", 0);
    return KILN_OK;
}

static int32_t concat_build(dn_kernel *k, dn_plan *p, const kiln_value_desc *const *in, kiln_error *err) {
    concat_state *s = k->op_state;
    const kiln_value_desc *x0 = in[0];
    if (!x0 || x0->rank < 1) return dn_fail(err, KILN_ERR_SHAPE, "node '%s' (Concat): inputs must have rank >= 1", k->name);
    int r = x0->rank;
    int64_t axis = s->axis < 0 ? s->axis + r : s->axis;
    if (axis < 0 || axis >= r) return dn_fail(err, KILN_ERR_SHAPE, "node '%s' (Concat): axis out of range", k->name);
    int64_t od[KILN_MAX_RANK];
    memcpy(od, x0->dims, (size_t)r * sizeof(int64_t));
    od[axis] = 0;
    for (uint32_t i = 0; i < k->n_in; i++) {
        const kiln_value_desc *x = in[i];
        if (!x || x->rank != r) return dn_fail(err, KILN_ERR_SHAPE, "node '%s' (Concat): input %u has another rank", k->name, i);
        for (int d = 0; d < r; d++)
            if (d != axis && x->dims[d] != x0->dims[d])
                return dn_fail(err, KILN_ERR_SHAPE, "node '%s' (Concat): input %u differs in dim %d", k->name, i, d);
        od[axis] += x->dims[axis];
    }
    dn_plan_shape(k, p, 0, r, od);
    int64_t total = 1;
    for (int d = 0; d < r; d++) total *= od[d];
    if (total == 0) return KILN_OK;
    /* Inputs in one layout (a group's blocked values) stay in it; otherwise all plain. */
    const dnnl_memory_desc_t *n0 = dn_in_native(k, p, 0);
    int native = n0 != NULL;
    for (uint32_t i = 0; i < k->n_in && native; i++) {
        const dnnl_memory_desc_t *ni = in[i]->count ? dn_in_native(k, p, i) : NULL;
        native = in[i]->count == 0 || (ni && ni->format_kind == n0->format_kind && ni->data_type == n0->data_type);
    }
    dnnl_memory_desc_t mds[DN_MAX_IN];
    int bufs[DN_MAX_IN + 1], args[DN_MAX_IN + 1], m = 0;
    for (uint32_t i = 0; i < k->n_in; i++) {
        if (in[i]->count == 0) continue;
        int b;
        if (native) {
            mds[m] = *dn_in_native(k, p, i);
            b = dn_plan_input_native(k, p, i, err);
        } else {
            dn_md_plain(&mds[m], r, in[i]->dims);
            b = dn_plan_input(k, p, i, &mds[m], NULL, err);
        }
        if (b < 0) return err->status;
        bufs[m] = b;
        args[m] = DNNL_ARG_MULTIPLE_SRC + m;
        m++;
    }
    dnnl_memory_desc_t dst;
    if (native) dn_md_any(&dst, r, od, mds[0].data_type);
    else dn_md_plain(&dst, r, od);
    dnnl_primitive_desc_t pd;
    int32_t st = dn_check(dnnl_concat_primitive_desc_create(&pd, &dst, m, (int)axis, mds, NULL, k->pv->engine), err, k, "concat");
    if (st != KILN_OK) return st;
    bufs[m] = dn_plan_dst(k, p, 0, native ? dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0) : NULL, r, od, err);
    args[m] = DNNL_ARG_DST;
    st = bufs[m] >= 0 ? dn_plan_step(k, p, pd, m + 1, args, bufs, "concat", err) : err->status;
    dnnl_primitive_desc_destroy(pd);
    return st;
}

const dn_op dn_op_concat = {"Concat", concat_supports, concat_create, concat_build};
