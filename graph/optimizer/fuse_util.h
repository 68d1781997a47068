/* SPDX-License-Identifier: MIT */
/* Shared by the fusion passes: creating a fused node that takes over a pattern's final value,
 * asking the providers, and removing the pattern. */
#ifndef KILN_GRAPH_OPTIMIZER_FUSE_UTIL_H
#define KILN_GRAPH_OPTIMIZER_FUSE_UTIL_H

#include "graph/optimizer/optimizer.h"

#define KILN_FUSE_MAX 16

typedef struct kiln_pattern {
    kiln_node *nodes[KILN_FUSE_MAX]; /* the matched nodes, producers first; the last produces `out` */
    uint32_t n;
    kiln_value *out;                 /* the pattern's one result */
} kiln_pattern;

/* 1 when v is a float32 tensor. */
static inline int kiln_fuse_f32(const kiln_value *v) {
    return v && v->type.kind == KILN_VALUE_TENSOR && v->type.dtype == KILN_DTYPE_FLOAT;
}
/* 1 when a and b have the same rank and dims, each dim known or the same symbol. */
int kiln_fuse_same_shape(const kiln_type *a, const kiln_type *b);
/* 1 when v is a float32 constant holding one value close to `want` (relative 1e-4). */
int kiln_fuse_const_near(const kiln_value *v, float want);
/* The other input of a two-input node n (the one that is not v), or NULL. */
kiln_value *kiln_fuse_other(const kiln_node *n, const kiln_value *v);

/* 1 when v is dynamically quantized: read by a DynamicQuantizeLinear or a kiln.DynamicQuantMatMul
 * (as A), directly or through value-preserving Reshape/Transpose/Squeeze/Unsqueeze/Flatten/
 * Identity. Float fusions that round differently from their pattern skip such values
 * (docs/optimizer.md, Decisions: dynamic quantization turns 1-ulp differences into whole steps). */
int kiln_fuse_feeds_dynamic_quant(const kiln_opt_ctx *c, const kiln_value *v);

/* Makes `fused` (inputs set, output 0 unset) produce p->out, asks the providers about it with
 * `anchor`, and then removes the pattern's nodes (*ok = 1) or takes the fused node back (*ok = 0). */
kiln_status kiln_fuse_commit(kiln_opt_ctx *c, kiln_node *fused, const kiln_pattern *p, const kiln_node *anchor, int *ok);
/* Sets the `activation` and `activation_params` attributes at indices i and i + 1. */
kiln_status kiln_fuse_set_activation(kiln_opt_ctx *c, kiln_node *n, uint32_t i, const char *act, const float *params,
                                     uint32_t n_params);

#endif
