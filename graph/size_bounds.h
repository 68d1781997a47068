/* SPDX-License-Identifier: MIT */
/* Size bounds for untrusted models: the bytes a value's type implies, and the check that shape
 * inference applies to every output whose shape it knows (docs/limits.md). */
#ifndef KILN_GRAPH_SIZE_BOUNDS_H
#define KILN_GRAPH_SIZE_BOUNDS_H

#include "graph/ir.h"

/* Bytes of a tensor of `dtype` with `count` elements (STRING: one pointer each); false when it
 * does not fit in 64 bits. */
bool kiln_limit_bytes(int32_t dtype, int64_t count, uint64_t *bytes);

/* What sets the size of an op's outputs when an attribute or a constant input does
 * ("attribute 'ngram_indexes'", "input 'shape'"), or NULL for ops whose outputs are no larger
 * than their inputs imply. */
const char *kiln_limit_size_source(const kiln_node *n);

/* Refuses node n when one of its outputs whose shape inference knows needs more than `limit`
 * bytes: KILN_ERR_OUT_OF_MEMORY naming the node, op, value, shape, bytes and
 * kiln_limit_size_source. `limit` 0: no limit. */
kiln_status kiln_limit_check_outputs(const kiln_node *n, uint64_t limit, kiln_error *err);

#endif
