/* SPDX-License-Identifier: MIT */
/* The op table generated from ops.def, op lookup, and binding nodes to ops. */
#include "graph/ops.h"

#include <string.h>

#include "graph/op_signatures.h"
#include "graph/shape/infer_fns.h"

const kiln_op_info kiln_ops[KILN_OP_COUNT] = {
#define KILN_OP(name, dom, since, shape, vin, cpu) {#name, KILN_DOMAIN_##dom, since, kiln_infer_##shape, vin},
#include "graph/ops.def"
#undef KILN_OP
};

const kiln_op_info *kiln_op_find(const char *domain, const char *op_type) {
    if (strcmp(domain, "ai.onnx") == 0) domain = "";
    /* Linear scan: runs once per node at session creation. */
    for (int i = 0; i < KILN_OP_COUNT; i++)
        if (strcmp(kiln_ops[i].name, op_type) == 0 && strcmp(kiln_ops[i].domain, domain) == 0)
            return &kiln_ops[i];
    return NULL;
}

static kiln_status bind_node(kiln_node *n, kiln_error *err) {
    const char *dom = *n->domain ? n->domain : "ai.onnx";
    if (n->opset <= 0)
        return kiln_fail(err, KILN_ERR_INVALID_MODEL,
                         KILN_NODE_FMT ": the model imports no opset for domain '%s'", KILN_NODE_ARGS(n), dom);
    n->op = kiln_op_find(n->domain, n->op_type);
    if (!n->op)
        return kiln_fail(err, KILN_ERR_UNSUPPORTED,
                         KILN_NODE_FMT ": unsupported op '%s' (domain '%s', opset %lld)", KILN_NODE_ARGS(n),
                         n->op_type, dom, (long long)n->opset);
    if (n->opset < n->op->since)
        return kiln_fail(err, KILN_ERR_UNSUPPORTED,
                         KILN_NODE_FMT ": op '%s' at opset %lld of domain '%s' is not supported (Kiln "
                         "implements it from opset %d)",
                         KILN_NODE_ARGS(n), n->op_type, (long long)n->opset, dom, (int)n->op->since);
    if (*n->domain == '\0' && n->opset > KILN_ONNX_OPSET_MAX)
        return kiln_fail(err, KILN_ERR_UNSUPPORTED,
                         KILN_NODE_FMT ": opset %lld of domain 'ai.onnx' is newer than Kiln knows (%d)",
                         KILN_NODE_ARGS(n), (long long)n->opset, KILN_ONNX_OPSET_MAX);
    /* Ops Kiln refuses say why at shape inference, whatever their inputs. */
    if (n->op->infer == kiln_infer_refused) return KILN_OK;
    return kiln_node_check_signature(n, err);
}

kiln_status kiln_graph_bind_ops(kiln_graph *g, kiln_error *err) {
    for (uint32_t i = 0; i < g->n_nodes; i++) {
        kiln_node *n = g->nodes[i];
        KILN_TRY(bind_node(n, err));
        for (uint32_t j = 0; j < n->n_attrs; j++) {
            const kiln_attr *a = &n->attrs[j];
            if (a->type != KILN_ATTR_GRAPH && a->type != KILN_ATTR_GRAPHS) continue;
            for (uint32_t k = 0; k < a->n; k++)
                if (a->graphs[k]) KILN_TRY(kiln_graph_bind_ops(a->graphs[k], err));
        }
    }
    return KILN_OK;
}
