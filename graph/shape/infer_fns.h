/* SPDX-License-Identifier: MIT */
/* Declarations of every op's shape function, generated from graph/ops.def. */
#ifndef KILN_GRAPH_SHAPE_INFER_FNS_H
#define KILN_GRAPH_SHAPE_INFER_FNS_H

#include "graph/shape.h"

#define KILN_OP(name, dom, since, shape, vin, cpu) kiln_status kiln_infer_##shape(kiln_shape_ctx *c);
#include "graph/ops.def"
#undef KILN_OP

#endif
