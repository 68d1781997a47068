/* SPDX-License-Identifier: MIT */
/* The IR rewrite API: the only way optimizer passes change a graph. It keeps a consumer list per
 * value (which node reads it, in which input slot), and offers replace-all-uses, node removal
 * and insertion, new values and constants, and renaming. Removed nodes stay in the model's arena
 * (the arena frees them with the model) and leave the graph at kiln_rw_commit, which also sorts
 * the nodes, drops dead values and rebuilds the consumer lists. kiln_rw_check verifies the
 * invariants (topological order, no dangling value, consistent producers and types). */
#ifndef KILN_GRAPH_OPTIMIZER_REWRITE_H
#define KILN_GRAPH_OPTIMIZER_REWRITE_H

#include "graph/ir.h"
#include "runtime/base/error.h"

typedef struct kiln_use {
    kiln_node *node;
    uint32_t slot;             /* input index; UINT32_MAX: read by a subgraph of `node` */
} kiln_use;

typedef struct kiln_use_list {
    kiln_use *items;
    uint32_t n, cap;
} kiln_use_list;

typedef struct kiln_rw {
    kiln_graph *g;
    const kiln_allocator *a;
    kiln_use_list *uses;       /* per value id */
    uint32_t cap_values;
    uint8_t *removed;          /* per node id */
    uint32_t cap_nodes;
    uint32_t name_counter;
    uint64_t edits;            /* grows with every change (the driver commits when it moved) */
    kiln_error *err;
} kiln_rw;

kiln_status kiln_rw_init(kiln_rw *rw, kiln_graph *g, kiln_error *err);
void kiln_rw_free(kiln_rw *rw);

/* ---- queries ---- */
const kiln_use *kiln_rw_uses(const kiln_rw *rw, const kiln_value *v, uint32_t *count);
uint32_t kiln_rw_use_count(const kiln_rw *rw, const kiln_value *v);
/* The one node reading v (through one input), or NULL when v has another reader, is a graph
 * output, or is read by a subgraph. */
kiln_node *kiln_rw_single_consumer(const kiln_rw *rw, const kiln_value *v);
static inline int kiln_rw_is_output(const kiln_value *v) { return (v->flags & KILN_VALUE_F_OUTPUT) != 0; }
int kiln_rw_is_removed(const kiln_rw *rw, const kiln_node *n);
/* Producer of input i of n, or NULL (graph input, constant, omitted). */
kiln_node *kiln_rw_producer(const kiln_node *n, uint32_t i);
/* Float32 constant data of v (count elements), or NULL when v is not a float32 constant. */
const float *kiln_rw_const_f32(const kiln_value *v, int64_t *count);
/* Int64/int32 constant values of v into out (at most max); -1 when not such a constant. */
int64_t kiln_rw_const_ints(const kiln_value *v, int64_t *out, int64_t max);
/* 1 when the node owns subgraphs (passes leave those alone). */
int kiln_rw_has_subgraph(const kiln_node *n);
/* 1 when every dim of t is known (rank >= 0). */
int kiln_rw_static(const kiln_type *t);
int kiln_rw_same_type(const kiln_type *a, const kiln_type *b);

/* ---- edits ---- */
/* Sets input `slot` of n to v (NULL: omitted), keeping the consumer lists. */
kiln_status kiln_rw_set_input(kiln_rw *rw, kiln_node *n, uint32_t slot, kiln_value *v);
/* Every reader of `old` reads `repl` instead. When `old` is a graph output, `repl` takes its
 * place only if a node of this graph produces repl and repl is no graph input or output: then
 * the producer of repl writes `old` instead (names of graph outputs never change). *done is 0
 * when the replacement was not possible (nothing changed). */
kiln_status kiln_rw_replace_uses(kiln_rw *rw, kiln_value *old, kiln_value *repl, int *done);
/* Removes n: its inputs lose a reader; its outputs lose their producer (unless already
 * produced by another node). Its outputs must have no readers left. */
kiln_status kiln_rw_remove_node(kiln_rw *rw, kiln_node *n);
/* A new node (inputs/outputs unset, n_attrs attributes zeroed) with a generated name derived
 * from `base`; its op is bound (domain "kiln" at version 1, other domains at the model's). */
kiln_status kiln_rw_add_node(kiln_rw *rw, const char *base, const char *op_type, const char *domain,
                             uint32_t n_inputs, uint32_t n_outputs, uint32_t n_attrs, kiln_node **out);
/* Output `slot` of n becomes v (v's producer is set). */
void kiln_rw_set_output(kiln_node *n, uint32_t slot, kiln_value *v);
/* A new value with a unique name derived from `base` and type t (may be NULL: unknown). */
kiln_status kiln_rw_add_value(kiln_rw *rw, const char *base, const kiln_type *t, kiln_value **out);
/* A new constant value (float32/int64 data copied into a model-owned block). */
kiln_status kiln_rw_add_const(kiln_rw *rw, const char *base, int32_t dtype, int32_t rank, const int64_t *dims,
                              const void *data, kiln_value **out);
/* Renames v (a value no graph input/output); fails when the name is taken. */
kiln_status kiln_rw_rename(kiln_rw *rw, kiln_value *v, const char *name);
/* Attribute helpers for new nodes (attribute index i of n). */
kiln_status kiln_rw_attr_int(kiln_rw *rw, kiln_node *n, uint32_t i, const char *name, int64_t v);
kiln_status kiln_rw_attr_float(kiln_rw *rw, kiln_node *n, uint32_t i, const char *name, float v);
kiln_status kiln_rw_attr_str(kiln_rw *rw, kiln_node *n, uint32_t i, const char *name, const char *v);
kiln_status kiln_rw_attr_floats(kiln_rw *rw, kiln_node *n, uint32_t i, const char *name, const float *v, uint32_t cnt);
/* Copies attribute `a` (shallow: lists and tensors stay shared in the arena). */
void kiln_rw_attr_copy(kiln_node *n, uint32_t i, const kiln_attr *a);

/* Drops removed nodes, sorts the graph, drops values nothing produces or reads, renumbers, and
 * rebuilds the consumer lists. */
kiln_status kiln_rw_commit(kiln_rw *rw);
/* Invariants of g: nodes in topological order with matching ids; every input value is produced
 * by an earlier node of g or is a graph input, constant or outer value; producers and output
 * slots agree; graph outputs keep their declared dtype. */
kiln_status kiln_rw_check(const kiln_graph *g, const char *pass, kiln_error *err);

#endif
