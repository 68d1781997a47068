/* SPDX-License-Identifier: MIT */
/* The op table: every op Kiln knows, generated from graph/ops.def. */
#ifndef KILN_GRAPH_OPS_H
#define KILN_GRAPH_OPS_H

#include "graph/shape.h"

#define KILN_DOMAIN_ONNX ""
#define KILN_DOMAIN_ML "ai.onnx.ml"
#define KILN_DOMAIN_TRAINING "ai.onnx.preview.training"
#define KILN_DOMAIN_PREVIEW "ai.onnx.preview"
#define KILN_DOMAIN_MS "com.microsoft"    /* onnxruntime's contrib ops (the QOperator format) */
#define KILN_DOMAIN_KILN "kiln"             /* ops the runtime inserts (copies, fused groups) */

/* Highest opset of the default domain whose semantics Kiln knows. */
#define KILN_ONNX_OPSET_MAX 28

struct kiln_op_info {
    const char *name;          /* ONNX op_type */
    const char *domain;
    int32_t since;             /* lowest opset version implemented */
    kiln_shape_fn infer;
    uint32_t value_inputs;     /* bit i: the shape function reads the value of input i */
};

typedef enum kiln_op_id {
#define KILN_OP(name, dom, since, shape, vin, cpu) KILN_OP_##dom##_##name,
#include "graph/ops.def"
#undef KILN_OP
    KILN_OP_COUNT
} kiln_op_id;

extern const kiln_op_info kiln_ops[KILN_OP_COUNT];

/* The op (domain, op_type) or NULL. Ignores the opset; the caller checks `since`. */
const kiln_op_info *kiln_op_find(const char *domain, const char *op_type);

/* Looks up every node's op (recursively) and fails with op, domain, opset and node named when
 * Kiln does not know it or the model's opset is outside what Kiln implements. */
kiln_status kiln_graph_bind_ops(kiln_graph *g, kiln_error *err);

#endif
