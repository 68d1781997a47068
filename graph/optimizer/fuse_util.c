/* SPDX-License-Identifier: MIT */
/* Helpers of the fusion passes (fuse_util.h). */
#include "graph/optimizer/fuse_util.h"

#include <math.h>
#include <string.h>

int kiln_fuse_same_shape(const kiln_type *a, const kiln_type *b) {
    if (a->kind != KILN_VALUE_TENSOR || b->kind != KILN_VALUE_TENSOR || a->rank < 0 || a->rank != b->rank) return 0;
    for (int32_t i = 0; i < a->rank; i++)
        if (a->dims[i] == KILN_DIM_UNKNOWN || a->dims[i] != b->dims[i]) return 0;
    return 1;
}

int kiln_fuse_const_near(const kiln_value *v, float want) {
    int64_t n;
    const float *d = kiln_rw_const_f32(v, &n);
    return d && n == 1 && fabsf(d[0] - want) <= 1e-4f * fabsf(want);
}

kiln_value *kiln_fuse_other(const kiln_node *n, const kiln_value *v) {
    if (n->n_inputs != 2) return NULL;
    if (n->inputs[0] == v) return n->inputs[1] != v ? n->inputs[1] : NULL;
    if (n->inputs[1] == v) return n->inputs[0];
    return NULL;
}

kiln_status kiln_fuse_commit(kiln_opt_ctx *c, kiln_node *fused, const kiln_pattern *p, const kiln_node *anchor, int *ok) {
    kiln_node *last = p->out->producer;
    uint32_t slot = p->out->producer_slot;
    kiln_rw_set_output(fused, 0, p->out);
    *ok = kiln_opt_supported(c, fused, anchor);
    if (!*ok) {
        kiln_rw_set_output(last, slot, p->out);
        fused->outputs[0] = NULL;
        return kiln_rw_remove_node(c->rw, fused);
    }
    last->outputs[slot] = NULL;
    /* Readers first: every node's outputs are unread when it goes. */
    kiln_node *order[KILN_FUSE_MAX];
    uint32_t n = p->n;
    memcpy(order, p->nodes, n * sizeof(*order));
    for (uint32_t i = 1; i < n; i++)
        for (uint32_t j = i; j > 0 && order[j - 1]->id < order[j]->id; j--) {
            kiln_node *t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    for (uint32_t i = 0; i < n; i++) KILN_TRY(kiln_rw_remove_node(c->rw, order[i]));
    c->fired++;
    return KILN_OK;
}

kiln_status kiln_fuse_set_activation(kiln_opt_ctx *c, kiln_node *n, uint32_t i, const char *act, const float *params,
                                     uint32_t n_params) {
    KILN_TRY(kiln_rw_attr_str(c->rw, n, i, "activation", act));
    return kiln_rw_attr_floats(c->rw, n, i + 1, "activation_params", params, n_params);
}

static int feeds_dq(const kiln_opt_ctx *c, const kiln_value *v, int depth) {
    static const char *const moves[] = {"Reshape", "Transpose", "Squeeze", "Unsqueeze", "Flatten", "Identity"};
    uint32_t n = 0;
    const kiln_use *u = kiln_rw_uses(c->rw, v, &n);
    for (uint32_t i = 0; i < n; i++) {
        const kiln_node *r = u[i].node;
        if (!r || kiln_rw_is_removed(c->rw, r) || u[i].slot == UINT32_MAX) continue;
        if (kiln_opt_is(r, "DynamicQuantizeLinear") && u[i].slot == 0) return 1;
        if (strcmp(r->domain, "kiln") == 0 && strcmp(r->op_type, "DynamicQuantMatMul") == 0 && u[i].slot == 0) return 1;
        if (depth < 4 && u[i].slot == 0 && r->n_outputs >= 1 && r->outputs[0])
            for (size_t m = 0; m < sizeof moves / sizeof moves[0]; m++)
                if (kiln_opt_is(r, moves[m]) && feeds_dq(c, r->outputs[0], depth + 1)) return 1;
    }
    return 0;
}

int kiln_fuse_feeds_dynamic_quant(const kiln_opt_ctx *c, const kiln_value *v) { return v && feeds_dq(c, v, 0); }
