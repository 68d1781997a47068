/* SPDX-License-Identifier: MIT */
/* Node input/output counts and required values checked against the ONNX operator schemas. */
#ifndef KILN_GRAPH_OP_SIGNATURES_H
#define KILN_GRAPH_OP_SIGNATURES_H

#include "graph/ir.h"

/* KILN_ERR_INVALID_MODEL naming the node when it has too few or too many inputs or outputs for
 * its op at its opset, or an empty name where the spec requires a value. */
kiln_status kiln_node_check_signature(const kiln_node *n, kiln_error *err);

#endif
