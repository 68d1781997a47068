/* SPDX-License-Identifier: MIT */
/* Type and shape inference: one function per op family (graph/shape/<family>.c), used both
 * when a session is created (dims may be unknown or symbolic, values known only for
 * constants) and at every run (all dims concrete, the values of host inputs known). */
#ifndef KILN_GRAPH_SHAPE_H
#define KILN_GRAPH_SHAPE_H

#include "graph/ir.h"
#include "runtime/base/error.h"

/* One input or output of a node during inference. */
typedef struct kiln_shape_val {
    kiln_type t;          /* kind UNKNOWN when not known */
    const void *data;     /* host data of a tensor when known (constant, or any host input at run) */
    uint8_t present;      /* 0: an omitted optional input/output */
} kiln_shape_val;

typedef struct kiln_shape_ctx {
    const kiln_node *node;
    int64_t opset;
    uint32_t n_in, n_out;
    const kiln_shape_val *in;
    kiln_shape_val *out;  /* set by the shape function; dims < 0 where not known */
    kiln_error *err;
    uint8_t runtime;      /* 1 during a run: present tensor inputs have concrete dims and data */
} kiln_shape_ctx;

typedef kiln_status (*kiln_shape_fn)(kiln_shape_ctx *c);

/* Fails with the node and op in the message: KILN_ERR_SHAPE at run, KILN_ERR_INVALID_MODEL at
 * session creation. */
kiln_status kiln_shape_fail(kiln_shape_ctx *c, const char *fmt, ...) KILN_PRINTF(2, 3);

/* Input i when it is given (NULL when omitted or past the end). */
static inline const kiln_shape_val *kiln_shape_in(const kiln_shape_ctx *c, uint32_t i) {
    return i < c->n_in && c->in[i].present ? &c->in[i] : NULL;
}
/* Requires input i to be a tensor with known dtype; fails otherwise. */
kiln_status kiln_shape_need_tensor(kiln_shape_ctx *c, uint32_t i, const kiln_shape_val **out);

/* Output i is a tensor of `dtype` with `rank` dims (rank -1: unknown; dims NULL: all unknown). */
void kiln_shape_set(kiln_shape_ctx *c, uint32_t i, int32_t dtype, int32_t rank, const int64_t *dims);
/* Output o gets the type of input i. */
void kiln_shape_same(kiln_shape_ctx *c, uint32_t o, uint32_t i);

/* Normalizes a possibly negative axis for `rank`; fails when out of [-rank, rank). */
kiln_status kiln_shape_axis(kiln_shape_ctx *c, int64_t axis, int32_t rank, int32_t *out);

/* Multidirectional (numpy) broadcast of the shapes of `n` inputs into dims/rank. */
kiln_status kiln_shape_broadcast(kiln_shape_ctx *c, const kiln_type *const *ts, uint32_t n,
                                 int32_t *rank, int64_t *dims);

/* Reads an int32/int64 tensor input whose value is known into vals (at most `max`).
 * Returns 1 when known, 0 when not known yet (graph time), or fails on a bad input. */
kiln_status kiln_shape_ints(kiln_shape_ctx *c, uint32_t i, int64_t *vals, uint32_t max,
                            uint32_t *count, int *known);

/* Merge of two dims known from different sources: concrete wins, equal symbols stay. */
int64_t kiln_dim_merge(int64_t a, int64_t b);

/* Infers every node of g (and of its subgraphs, through the ops that own them). */
kiln_status kiln_graph_infer(kiln_graph *g, kiln_error *err);

#endif
