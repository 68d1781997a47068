/* SPDX-License-Identifier: MIT */
/* Kiln's in-memory model: model → graphs → nodes and values, with types, shapes and constants.
 * Everything here lives in the model's arena and dies with kiln_model_destroy; weight buffers
 * are separate blocks owned by the model. Loading from protobuf is in load.c; sorting in topo.c. */
#ifndef KILN_GRAPH_IR_H
#define KILN_GRAPH_IR_H

#include <stdbool.h>
#include <stdint.h>

#include "kiln.h"
#include "kiln_provider.h"
#include "runtime/base/mem.h"
#include "runtime/base/strmap.h"

typedef struct kiln_model kiln_model;
typedef struct kiln_graph kiln_graph;
typedef struct kiln_node kiln_node;
typedef struct kiln_value kiln_value;
typedef struct kiln_attr kiln_attr;
typedef struct kiln_op_info kiln_op_info;

/* Dims below 0 are not concrete: KILN_DIM_UNKNOWN, or a symbol (dim_param) numbered from 0:
 * dim = -2 - symbol_id, named model->symbols[symbol_id]. */
#define KILN_DIM_UNKNOWN ((int64_t)-1)
static inline int64_t kiln_dim_symbol(uint32_t id) { return -2 - (int64_t)id; }
static inline bool kiln_dim_is_symbol(int64_t d) { return d <= -2; }
static inline uint32_t kiln_dim_symbol_id(int64_t d) { return (uint32_t)(-2 - d); }

/* Type of a value: kind, element dtype and (for tensors, sequence items, optional contents)
 * shape. rank -1: shape unknown. */
typedef struct kiln_type {
    uint8_t kind;       /* kiln_value_kind */
    uint8_t opt_kind;   /* KILN_VALUE_OPTIONAL: kind of the content (TENSOR or SEQUENCE) */
    int32_t dtype;      /* kiln_dtype */
    int32_t rank;
    int64_t dims[KILN_MAX_RANK];
} kiln_type;

/* A constant tensor in host memory: an initializer, a tensor attribute, a folded value.
 * `desc` is what providers see; desc.dims points at `dims`. */
typedef struct kiln_const {
    kiln_value_desc desc;
    int64_t dims[KILN_MAX_RANK];
    size_t nbytes;
    const char *name;
} kiln_const;

enum {
    KILN_VALUE_F_INPUT = 1u << 0,        /* a graph input fed at run */
    KILN_VALUE_F_OUTPUT = 1u << 1,       /* a graph output */
    KILN_VALUE_F_INITIALIZER = 1u << 2,  /* constant from the model's initializers */
    KILN_VALUE_F_OUTER = 1u << 3,        /* read from an enclosing graph (see `outer`) */
    KILN_VALUE_F_CONSTANT = 1u << 4      /* `constant` is set (initializer, or folded) */
};

struct kiln_value {
    const char *name;
    kiln_type type;
    uint32_t id;               /* index in graph->values */
    uint32_t flags;            /* KILN_VALUE_F_* */
    kiln_node *producer;       /* NULL for inputs, initializers, outer values */
    uint32_t producer_slot;    /* output index in producer */
    kiln_const *constant;      /* set with KILN_VALUE_F_CONSTANT */
    kiln_value *outer;         /* KILN_VALUE_F_OUTER: the value in the enclosing graph */
    uint32_t n_consumers;      /* nodes of this graph reading it (a node reading twice counts twice) */
    uint32_t mem_kind;         /* memory kind it lives in (0: host), set by the partitioner */
};

struct kiln_attr {
    const char *name;
    int32_t type;              /* kiln_attr_type */
    int64_t i;
    float f;
    const char *s;             /* STRING (NUL-terminated, s_len bytes) */
    size_t s_len;
    uint32_t n;                /* items of a list attribute (1 for TENSOR/GRAPH/TYPE_PROTO) */
    int64_t *ints;
    float *floats;
    const char **strings;
    size_t *string_lens;
    kiln_const **tensors;      /* TENSOR(S), SPARSE_TENSOR(S) made dense */
    kiln_graph **graphs;       /* GRAPH(S) */
    kiln_type *types;          /* TYPE_PROTO(S) */
    const char *ref_attr_name; /* only inside function bodies before expansion */
};

struct kiln_node {
    const char *name;          /* never NULL; generated when the model has none */
    const char *op_type;
    const char *domain;        /* "" for ai.onnx */
    int64_t opset;             /* opset version of `domain` in scope */
    uint32_t id;               /* index in graph->nodes (topological after kiln_graph_sort) */
    uint32_t n_inputs, n_outputs, n_attrs;
    kiln_value **inputs;       /* NULL entries: omitted optional inputs */
    kiln_value **outputs;      /* NULL entries: omitted optional outputs */
    kiln_attr *attrs;
    uint32_t n_implicit;       /* values of this graph (or outer ones) read by the node's subgraphs */
    kiln_value **implicit;
    const kiln_op_info *op;    /* NULL when Kiln does not know the op */
    kiln_graph *graph;
    /* Set by the partitioner (runtime/partition.c). */
    uint32_t provider;         /* index of the provider running it in the session's list */
    uint32_t part_flags;       /* KILN_NODE_F_* bits (kiln_provider.h) shown to providers */
    uint32_t n_members;        /* kiln.FusedGroup: the nodes it runs, in topological order */
    kiln_node **members;
};

struct kiln_graph {
    kiln_model *model;
    kiln_graph *parent;        /* enclosing graph of a subgraph; NULL for the main graph */
    kiln_node *owner;          /* node whose attribute holds this subgraph */
    const char *name;
    uint32_t n_values, cap_values;
    kiln_value **values;
    uint32_t n_nodes, cap_nodes;
    kiln_node **nodes;
    uint32_t n_inputs, n_outputs;
    kiln_value **inputs;       /* fed at run (main graph) or by the owner op (subgraph) */
    kiln_value **outputs;
    kiln_type *declared_outputs; /* output types as the model declares them */
    kiln_strmap names;         /* value name → kiln_value* of this graph */
    uint32_t depth;            /* 0 for the main graph */
};

typedef struct kiln_opset {
    const char *domain;
    int64_t version;
} kiln_opset;

typedef struct kiln_kv {
    const char *key;
    const char *value;
} kiln_kv;

struct kiln_model {
    const kiln_allocator *alloc;
    kiln_arena arena;
    int64_t ir_version;
    uint32_t n_opsets;
    kiln_opset *opsets;
    const char *producer_name, *producer_version, *domain, *doc;
    int64_t model_version;
    uint32_t n_metadata;
    kiln_kv *metadata;
    kiln_graph *graph;
    uint32_t n_symbols, cap_symbols;
    const char **symbols;      /* dim_param names; see kiln_dim_symbol */
    kiln_strmap symbol_ids;
    void **buffers;            /* weight blocks owned by the model (kiln_mem_alloc) */
    uint32_t n_buffers, cap_buffers;
    uint32_t node_counter;     /* for generated names */
    kiln_graph **graphs;       /* every graph, for cleanup */
    uint32_t n_graphs, cap_graphs;
    uint64_t value_limit;      /* bytes one value whose shape inference knows may take; 0: none (graph/size_bounds.c) */
};

/* ---- model ---- */
kiln_status kiln_model_create(const kiln_allocator *a, kiln_model **out, kiln_error *err);
void kiln_model_destroy(kiln_model *m);
/* Takes ownership of a kiln_mem_alloc block (freed on failure too). */
kiln_status kiln_model_adopt(kiln_model *m, void *block, kiln_error *err);
/* Frees `block` when it is one the model adopted (1), else leaves everything as is (0): the
 * session frees a weight every reader has pre-packed (runtime/placement.c). */
int kiln_model_release_block(kiln_model *m, const void *block);
int64_t kiln_model_opset(const kiln_model *m, const char *domain);   /* 0 when not imported */
kiln_status kiln_model_symbol(kiln_model *m, const char *name, int64_t *dim, kiln_error *err);
const char *kiln_model_symbol_name(const kiln_model *m, int64_t dim); /* NULL unless a symbol */

/* ---- graph building ---- */
kiln_status kiln_graph_create(kiln_model *m, kiln_graph *parent, const char *name,
                              kiln_graph **out, kiln_error *err);
/* New value named `name` (copied) in g; KILN_ERR_INVALID_MODEL when the name is taken. */
kiln_status kiln_graph_add_value(kiln_graph *g, const char *name, kiln_value **out,
                                 kiln_error *err);
kiln_value *kiln_graph_find(const kiln_graph *g, const char *name);  /* this graph only */
/* Finds `name` in g or, failing that, in an enclosing graph; in the second case makes an
 * OUTER value in g (and the graphs between) that refers to it. NULL when found nowhere. */
kiln_status kiln_graph_resolve(kiln_graph *g, const char *name, kiln_value **out,
                               kiln_error *err);
kiln_status kiln_graph_add_node(kiln_graph *g, const char *name, const char *op_type,
                                const char *domain, uint32_t n_inputs, uint32_t n_outputs,
                                uint32_t n_attrs, kiln_node **out, kiln_error *err);
/* Sorts g's nodes topologically (subgraphs too); KILN_ERR_INVALID_MODEL naming a node on a
 * cycle. Fills consumer counts and implicit inputs. */
kiln_status kiln_graph_sort(kiln_graph *g, kiln_error *err);

/* ---- attributes ---- */
const kiln_attr *kiln_node_attr(const kiln_node *n, const char *name);
int64_t kiln_attr_int(const kiln_node *n, const char *name, int64_t dflt);
float kiln_attr_float(const kiln_node *n, const char *name, float dflt);
const char *kiln_attr_str(const kiln_node *n, const char *name, const char *dflt);
/* List of ints; *count 0 and NULL when absent. */
const int64_t *kiln_attr_ints(const kiln_node *n, const char *name, uint32_t *count);
const float *kiln_attr_floats(const kiln_node *n, const char *name, uint32_t *count);

/* ---- types ---- */
void kiln_type_tensor(kiln_type *t, int32_t dtype, int32_t rank, const int64_t *dims);
/* Byte size of `count` elements of `dtype` (packed sub-byte types; STRING: pointers). */
bool kiln_dtype_storage(int32_t dtype, int64_t count, size_t *bytes);
bool kiln_dtype_valid(int32_t dtype);

/* ---- constants ---- */
/* A constant in the model's arena whose storage is `data` (borrowed: owned by the model). */
kiln_status kiln_const_create(kiln_model *m, int32_t dtype, int32_t rank, const int64_t *dims,
                              void *data, kiln_const **out, kiln_error *err);

/* "node 'name' (op_type)" for messages. */
#define KILN_NODE_FMT "node '%s' (%s)"
#define KILN_NODE_ARGS(n) (n)->name, (n)->op_type

#endif
