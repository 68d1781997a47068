/* SPDX-License-Identifier: MIT */
/* Ops Kiln knows and deliberately does not run: training-only ops (ai.onnx.preview.training) and
 * random ops (non-deterministic). Session creation fails with KILN_ERR_UNSUPPORTED and the reason
 * instead of "unknown op". */
#include "graph/shape/infer_fns.h"

#include <string.h>

kiln_status kiln_infer_refused(kiln_shape_ctx *c) {
    const kiln_node *n = c->node;
    int training = strcmp(n->domain, "ai.onnx.preview.training") == 0;
    return kiln_fail(c->err, KILN_ERR_UNSUPPORTED,
                     KILN_NODE_FMT ": %s is not supported: %s", KILN_NODE_ARGS(n), n->op_type,
                     training ? "it is a training-only op (ai.onnx.preview.training), and Kiln runs inference only"
                              : "it is a random op whose outputs are non-deterministic; Kiln does not implement random "
                                "number generation");
}
