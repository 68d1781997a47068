/* SPDX-License-Identifier: MIT */
/* Constant folding through the CPU provider's kernels (the runtime's fold hook): a node whose
 * inputs are all constants becomes constants, when its outputs are tensors of known dtype no
 * larger than the cap: at most KILN_FOLD_MAX_BYTES and at most its inputs' bytes plus 4 KiB, so
 * that folding never multiplies weights (an Expand of a scalar, a DequantizeLinear of int8
 * weights stay). Random ops, nodes with subgraphs and unknown ops are left alone. */
#include <string.h>

#include "graph/optimizer/optimizer.h"

#define KILN_FOLD_MAX_BYTES (1u << 20)

static int foldable(const kiln_node *n, size_t *in_bytes) {
    static const char *const never[] = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial",
                                        "Bernoulli", "Dropout", "Constant", "ConstantOfShape"};
    if (!n->op || kiln_rw_has_subgraph(n) || n->n_inputs == 0 || n->n_outputs == 0) return 0;
    if (strcmp(n->domain, "") != 0 && strcmp(n->domain, "ai.onnx.ml") != 0) return 0;
    for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
        if (strcmp(n->op_type, never[i]) == 0) return 0;
    *in_bytes = 0;
    int any = 0;
    for (uint32_t i = 0; i < n->n_inputs; i++) {
        const kiln_value *v = n->inputs[i];
        if (!v) continue;
        if (!v->constant || v->constant->desc.dtype == KILN_DTYPE_STRING) return 0;
        *in_bytes += v->constant->nbytes;
        any = 1;
    }
    for (uint32_t i = 0; i < n->n_outputs; i++) {
        const kiln_value *v = n->outputs[i];
        if (v && (v->type.kind != KILN_VALUE_TENSOR || !v->type.dtype || v->type.dtype == KILN_DTYPE_STRING ||
                  kiln_rw_is_output(v)))
            return 0;
    }
    return any;
}

kiln_status kiln_pass_constant_folding(kiln_opt_ctx *c) {
    if (!c->hooks || !c->hooks->fold) return KILN_OK;
    kiln_graph *g = c->rw->g;
    uint32_t count = g->n_nodes;
    for (uint32_t i = 0; i < count; i++) {
        kiln_node *n = g->nodes[i];
        size_t in_bytes;
        if (kiln_rw_is_removed(c->rw, n) || !foldable(n, &in_bytes)) continue;
        /* Known output sizes must fit the cap before anything runs. */
        int fits = 1;
        for (uint32_t o = 0; o < n->n_outputs && fits; o++) {
            const kiln_value *v = n->outputs[o];
            int64_t cnt;
            size_t bytes;
            if (v && kiln_rw_static(&v->type) && kiln_dims_count(v->type.dims, v->type.rank, &cnt) &&
                kiln_dtype_storage(v->type.dtype, cnt, &bytes))
                fits = bytes <= KILN_FOLD_MAX_BYTES && bytes <= in_bytes + 4096;
        }
        if (!fits) continue;
        kiln_folded out[16];
        if (n->n_outputs > 16) continue;
        void *state = NULL;
        memset(out, 0, sizeof(out));
        if (!c->hooks->fold(c->hooks->user, n, out, &state)) continue;
        kiln_status st = KILN_OK;
        size_t total = 0;
        for (uint32_t o = 0; o < n->n_outputs; o++) total += n->outputs[o] ? out[o].nbytes : 0;
        int ok = total <= KILN_FOLD_MAX_BYTES && total <= in_bytes + 4096;
        kiln_value *cv[16] = {0};
        for (uint32_t o = 0; o < n->n_outputs && ok && st == KILN_OK; o++) {
            kiln_value *v = n->outputs[o];
            if (!v) continue;
            if (out[o].dtype != v->type.dtype) ok = 0;
            else st = kiln_rw_add_const(c->rw, v->name, out[o].dtype, out[o].rank, out[o].dims, out[o].data, &cv[o]);
        }
        c->hooks->fold_release(c->hooks->user, state);
        KILN_TRY(st);
        if (!ok) continue; /* new constants nothing reads leave at commit */
        for (uint32_t o = 0; o < n->n_outputs; o++) {
            if (!n->outputs[o]) continue;
            int done = 0;
            KILN_TRY(kiln_rw_replace_uses(c->rw, n->outputs[o], cv[o], &done));
        }
        int live = 0;
        for (uint32_t o = 0; o < n->n_outputs; o++)
            if (n->outputs[o] && kiln_rw_use_count(c->rw, n->outputs[o])) live = 1;
        if (!live) KILN_TRY(kiln_rw_remove_node(c->rw, n));
        c->fired++;
    }
    return KILN_OK;
}
