/* SPDX-License-Identifier: MIT */
/* Shape inference for the ops the partitioner inserts: kiln.Copy (each output is its input moved
 * to another memory kind) and kiln.FusedGroup (its member nodes' shape functions in order). */
#include <string.h>

#include "graph/ops.h"
#include "graph/shape/infer_fns.h"

/* Output i has the type of input i. */
kiln_status kiln_infer_kiln_copy(kiln_shape_ctx *c) {
    if (c->n_in != c->n_out) return kiln_shape_fail(c, "%u inputs but %u outputs", c->n_in, c->n_out);
    for (uint32_t i = 0; i < c->n_out; i++) {
        if (!kiln_shape_in(c, i)) return kiln_shape_fail(c, "input %u is required", i);
        kiln_shape_same(c, i, i);
    }
    return KILN_OK;
}

/* Runs each member's shape function on what the group's inputs and earlier members give it.
 * Values made inside the group are not in host memory, so their data is never known here: a
 * member whose output shape depends on such data leaves it unknown, and the group's kernel
 * sizes that output itself. */
kiln_status kiln_infer_kiln_fused(kiln_shape_ctx *c) {
    const kiln_node *fused = c->node;
    const kiln_graph *g = fused->graph;
    const kiln_allocator *a = g->model->alloc;
    size_t n_vals = 0;
    for (uint32_t m = 0; m < fused->n_members; m++)
        n_vals += (size_t)fused->members[m]->n_inputs + fused->members[m]->n_outputs;
    /* by_id[value id]: where that value's shape is (a group input, a member output). */
    const kiln_shape_val **by_id = kiln_mem_calloc(a, (size_t)g->n_values + 1, sizeof(*by_id));
    kiln_shape_val *vals = kiln_mem_calloc(a, n_vals + 1, sizeof(*vals));
    kiln_status s = KILN_OK;
    if (!by_id || !vals) {
        s = kiln_fail(c->err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    for (uint32_t i = 0; i < c->n_in && i < fused->n_inputs; i++)
        if (fused->inputs[i]) by_id[fused->inputs[i]->id] = &c->in[i];
    kiln_shape_val *next = vals;
    for (uint32_t m = 0; m < fused->n_members && s == KILN_OK; m++) {
        const kiln_node *n = fused->members[m];
        kiln_shape_val *in = next, *out = next + n->n_inputs;
        next = out + n->n_outputs;
        for (uint32_t i = 0; i < n->n_inputs; i++) {
            const kiln_value *v = n->inputs[i];
            if (!v) continue;
            if (by_id[v->id]) {
                in[i] = *by_id[v->id];
            } else if (v->constant) {
                in[i].present = 1;
                in[i].t = v->type;
                in[i].data = v->constant->desc.mem_kind == 0 ? v->constant->desc.data : NULL;
            } else {
                s = kiln_shape_fail(c, "member " KILN_NODE_FMT " reads '%s', which the group does not have",
                                    KILN_NODE_ARGS(n), v->name);
                break;
            }
        }
        if (s != KILN_OK) break;
        for (uint32_t o = 0; o < n->n_outputs; o++) {
            out[o].t.kind = KILN_VALUE_UNKNOWN;
            out[o].t.rank = -1;
            out[o].present = n->outputs[o] != NULL;
        }
        kiln_shape_ctx mc = {n, n->opset, n->n_inputs, n->n_outputs, in, out, c->err, c->runtime};
        if ((s = n->op->infer(&mc)) != KILN_OK) break;
        for (uint32_t o = 0; o < n->n_outputs; o++) {
            const kiln_value *v = n->outputs[o];
            if (!v) continue;
            out[o].data = NULL;
            if (out[o].t.kind == KILN_VALUE_UNKNOWN && !c->runtime) out[o].t = v->type;
            by_id[v->id] = &out[o];
            if (v->producer == fused && v->producer_slot < c->n_out) c->out[v->producer_slot] = out[o];
        }
    }
done:
    kiln_mem_free(a, by_id);
    kiln_mem_free(a, vals);
    return s;
}
