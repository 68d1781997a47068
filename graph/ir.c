/* SPDX-License-Identifier: MIT */
/* IR construction helpers: models, graphs, values, nodes, attribute lookup, constants. */
#include "ir.h"

#include <stdio.h>
#include <string.h>

#include "runtime/base/error.h"

/* ---- dtypes ---- */

static const uint8_t dtype_bits[KILN_DTYPE_COUNT_] = {
    [KILN_DTYPE_FLOAT] = 32, [KILN_DTYPE_UINT8] = 8, [KILN_DTYPE_INT8] = 8,
    [KILN_DTYPE_UINT16] = 16, [KILN_DTYPE_INT16] = 16, [KILN_DTYPE_INT32] = 32,
    [KILN_DTYPE_INT64] = 64, [KILN_DTYPE_STRING] = 0, [KILN_DTYPE_BOOL] = 8,
    [KILN_DTYPE_FLOAT16] = 16, [KILN_DTYPE_DOUBLE] = 64, [KILN_DTYPE_UINT32] = 32,
    [KILN_DTYPE_UINT64] = 64, [KILN_DTYPE_COMPLEX64] = 64, [KILN_DTYPE_COMPLEX128] = 128,
    [KILN_DTYPE_BFLOAT16] = 16, [KILN_DTYPE_FLOAT8E4M3FN] = 8, [KILN_DTYPE_FLOAT8E4M3FNUZ] = 8,
    [KILN_DTYPE_FLOAT8E5M2] = 8, [KILN_DTYPE_FLOAT8E5M2FNUZ] = 8, [KILN_DTYPE_UINT4] = 4,
    [KILN_DTYPE_INT4] = 4, [KILN_DTYPE_FLOAT4E2M1] = 4, [KILN_DTYPE_FLOAT8E8M0] = 8,
    [KILN_DTYPE_UINT2] = 2, [KILN_DTYPE_INT2] = 2,
};

static const char *const dtype_names[KILN_DTYPE_COUNT_] = {
    "undefined", "float", "uint8", "int8", "uint16", "int16", "int32", "int64", "string",
    "bool", "float16", "double", "uint32", "uint64", "complex64", "complex128", "bfloat16",
    "float8e4m3fn", "float8e4m3fnuz", "float8e5m2", "float8e5m2fnuz", "uint4", "int4",
    "float4e2m1", "float8e8m0", "uint2", "int2",
};

bool kiln_dtype_valid(int32_t dtype) {
    return dtype > 0 && dtype < KILN_DTYPE_COUNT_;
}

uint32_t kiln_dtype_bits(kiln_dtype dtype) {
    return kiln_dtype_valid((int32_t)dtype) ? dtype_bits[dtype] : 0;
}

const char *kiln_dtype_name(kiln_dtype dtype) {
    return kiln_dtype_valid((int32_t)dtype) ? dtype_names[dtype] : "undefined";
}

bool kiln_dtype_storage(int32_t dtype, int64_t count, size_t *bytes) {
    if (!kiln_dtype_valid(dtype) || count < 0) return false;
    if ((uint64_t)count > SIZE_MAX / 16) return false;
    size_t n = (size_t)count;
    if (dtype == KILN_DTYPE_STRING) return kiln_size_mul(n, sizeof(char *), bytes);
    size_t bits = dtype_bits[dtype];
    *bytes = (n * bits + 7) / 8;
    return true;
}

void kiln_type_tensor(kiln_type *t, int32_t dtype, int32_t rank, const int64_t *dims) {
    memset(t, 0, sizeof(*t));
    t->kind = KILN_VALUE_TENSOR;
    t->dtype = dtype;
    t->rank = rank;
    for (int32_t i = 0; i < rank && i < KILN_MAX_RANK; i++) t->dims[i] = dims ? dims[i] : KILN_DIM_UNKNOWN;
}

/* ---- model ---- */

kiln_status kiln_model_create(const kiln_allocator *a, kiln_model **out, kiln_error *err) {
    *out = NULL;
    kiln_model *m = kiln_mem_calloc(a, 1, sizeof(*m));
    if (!m) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory creating a model");
    m->alloc = a;
    kiln_arena_init(&m->arena, a);
    kiln_strmap_init(&m->symbol_ids, a);
    *out = m;
    return KILN_OK;
}

void kiln_model_destroy(kiln_model *m) {
    if (!m) return;
    for (uint32_t i = 0; i < m->n_graphs; i++) kiln_strmap_free(&m->graphs[i]->names);
    for (uint32_t i = 0; i < m->n_buffers; i++) kiln_mem_free(m->alloc, m->buffers[i]);
    kiln_mem_free(m->alloc, m->buffers);
    kiln_mem_free(m->alloc, m->graphs);
    kiln_strmap_free(&m->symbol_ids);
    kiln_arena_free(&m->arena);
    kiln_mem_free(m->alloc, m);
}

/* Appends `item` to a heap array of pointers, doubling it when full. */
static bool push_ptr(const kiln_allocator *a, void ***arr, uint32_t *n, uint32_t *cap, void *item) {
    if (*n == *cap) {
        uint32_t nc = *cap ? *cap * 2 : 8;
        void **na = kiln_mem_grow(a, *arr, *cap * sizeof(void *), nc * sizeof(void *));
        if (!na) return false;
        *arr = na;
        *cap = nc;
    }
    (*arr)[(*n)++] = item;
    return true;
}

kiln_status kiln_model_adopt(kiln_model *m, void *block, kiln_error *err) {
    if (!push_ptr(m->alloc, &m->buffers, &m->n_buffers, &m->cap_buffers, block)) {
        kiln_mem_free(m->alloc, block);
        return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    }
    return KILN_OK;
}

int kiln_model_release_block(kiln_model *m, const void *block) {
    for (uint32_t i = m->n_buffers; block && i-- > 0;) {
        if (m->buffers[i] != block) continue;
        kiln_mem_free(m->alloc, m->buffers[i]);
        m->buffers[i] = NULL;
        return 1;
    }
    return 0;
}

int64_t kiln_model_opset(const kiln_model *m, const char *domain) {
    if (strcmp(domain, "ai.onnx") == 0) domain = "";
    for (uint32_t i = 0; i < m->n_opsets; i++)
        if (strcmp(m->opsets[i].domain, domain) == 0) return m->opsets[i].version;
    return 0;
}

kiln_status kiln_model_symbol(kiln_model *m, const char *name, int64_t *dim, kiln_error *err) {
    void *v = kiln_strmap_get(&m->symbol_ids, name);
    if (v) {
        *dim = kiln_dim_symbol((uint32_t)((uintptr_t)v - 1));
        return KILN_OK;
    }
    const char *copy = kiln_arena_strdup(&m->arena, name);
    if (!copy) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    if (m->n_symbols == m->cap_symbols) {
        uint32_t nc = m->cap_symbols ? m->cap_symbols * 2 : 16;
        const char **ns = kiln_arena_calloc(&m->arena, nc, sizeof(*ns));
        if (!ns) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        if (m->n_symbols) memcpy(ns, m->symbols, m->n_symbols * sizeof(*ns));
        m->symbols = ns;
        m->cap_symbols = nc;
    }
    uint32_t id = m->n_symbols++;
    m->symbols[id] = copy;
    if (!kiln_strmap_put(&m->symbol_ids, copy, (void *)(uintptr_t)(id + 1)))
        return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    *dim = kiln_dim_symbol(id);
    return KILN_OK;
}

const char *kiln_model_symbol_name(const kiln_model *m, int64_t dim) {
    if (!kiln_dim_is_symbol(dim)) return NULL;
    uint32_t id = kiln_dim_symbol_id(dim);
    return id < m->n_symbols ? m->symbols[id] : NULL;
}

/* ---- graphs ---- */

kiln_status kiln_graph_create(kiln_model *m, kiln_graph *parent, const char *name,
                              kiln_graph **out, kiln_error *err) {
    *out = NULL;
    kiln_graph *g = kiln_arena_alloc(&m->arena, sizeof(*g));
    if (!g) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    g->model = m;
    g->parent = parent;
    g->depth = parent ? parent->depth + 1 : 0;
    g->name = kiln_arena_strdup(&m->arena, name);
    kiln_strmap_init(&g->names, m->alloc);
    if (!g->name || !push_ptr(m->alloc, (void ***)&m->graphs, &m->n_graphs, &m->cap_graphs, g))
        return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    *out = g;
    return KILN_OK;
}

/* Arena-backed growth for graph arrays (old arrays stay in the arena until the model dies). */
static bool arena_push(kiln_arena *ar, void ***arr, uint32_t *n, uint32_t *cap, void *item) {
    if (*n == *cap) {
        uint32_t nc = *cap ? *cap * 2 : 16;
        void **na = kiln_arena_calloc(ar, nc, sizeof(void *));
        if (!na) return false;
        if (*n) memcpy(na, *arr, *n * sizeof(void *));
        *arr = na;
        *cap = nc;
    }
    (*arr)[(*n)++] = item;
    return true;
}

kiln_value *kiln_graph_find(const kiln_graph *g, const char *name) {
    return kiln_strmap_get(&g->names, name);
}

kiln_status kiln_graph_add_value(kiln_graph *g, const char *name, kiln_value **out,
                                 kiln_error *err) {
    *out = NULL;
    if (kiln_graph_find(g, name))
        return kiln_fail(err, KILN_ERR_INVALID_MODEL,
                         "graph '%s': value '%s' is defined more than once", g->name, name);
    kiln_arena *ar = &g->model->arena;
    kiln_value *v = kiln_arena_alloc(ar, sizeof(*v));
    if (!v) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    v->name = kiln_arena_strdup(ar, name);
    v->type.kind = KILN_VALUE_UNKNOWN;
    v->type.rank = -1;
    v->id = g->n_values;
    if (!v->name || !arena_push(ar, (void ***)&g->values, &g->n_values, &g->cap_values, v) ||
        !kiln_strmap_put(&g->names, v->name, v))
        return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    *out = v;
    return KILN_OK;
}

kiln_status kiln_graph_resolve(kiln_graph *g, const char *name, kiln_value **out,
                               kiln_error *err) {
    *out = kiln_graph_find(g, name);
    if (*out || !g->parent) return KILN_OK;
    kiln_value *up = NULL;
    KILN_TRY(kiln_graph_resolve(g->parent, name, &up, err));
    if (!up) return KILN_OK;
    kiln_value *v;
    KILN_TRY(kiln_graph_add_value(g, name, &v, err));
    v->flags = KILN_VALUE_F_OUTER;
    v->outer = up;
    v->type = up->type;
    *out = v;
    return KILN_OK;
}

kiln_status kiln_graph_add_node(kiln_graph *g, const char *name, const char *op_type,
                                const char *domain, uint32_t n_inputs, uint32_t n_outputs,
                                uint32_t n_attrs, kiln_node **out, kiln_error *err) {
    *out = NULL;
    kiln_model *m = g->model;
    kiln_arena *ar = &m->arena;
    kiln_node *n = kiln_arena_alloc(ar, sizeof(*n));
    if (!n) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    if (name && *name) {
        n->name = kiln_arena_strdup(ar, name);
    } else {
        char buf[64];
        snprintf(buf, sizeof(buf), "%s_%u", op_type, m->node_counter);
        n->name = kiln_arena_strdup(ar, buf);
    }
    m->node_counter++;
    n->op_type = kiln_arena_strdup(ar, op_type);
    n->domain = kiln_arena_strdup(ar, strcmp(domain, "ai.onnx") == 0 ? "" : domain);
    n->opset = kiln_model_opset(m, n->domain);
    n->graph = g;
    n->n_inputs = n_inputs;
    n->n_outputs = n_outputs;
    n->n_attrs = n_attrs;
    n->inputs = kiln_arena_calloc(ar, n_inputs, sizeof(*n->inputs));
    n->outputs = kiln_arena_calloc(ar, n_outputs, sizeof(*n->outputs));
    n->attrs = kiln_arena_calloc(ar, n_attrs, sizeof(*n->attrs));
    n->id = g->n_nodes;
    if (!n->name || !n->op_type || !n->domain || !n->inputs || !n->outputs || !n->attrs ||
        !arena_push(ar, (void ***)&g->nodes, &g->n_nodes, &g->cap_nodes, n))
        return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    *out = n;
    return KILN_OK;
}

/* ---- attributes ---- */

const kiln_attr *kiln_node_attr(const kiln_node *n, const char *name) {
    for (uint32_t i = 0; i < n->n_attrs; i++)
        if (n->attrs[i].name && strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
    return NULL;
}

int64_t kiln_attr_int(const kiln_node *n, const char *name, int64_t dflt) {
    const kiln_attr *a = kiln_node_attr(n, name);
    return a && a->type == KILN_ATTR_INT ? a->i : dflt;
}

float kiln_attr_float(const kiln_node *n, const char *name, float dflt) {
    const kiln_attr *a = kiln_node_attr(n, name);
    if (!a) return dflt;
    if (a->type == KILN_ATTR_FLOAT) return a->f;
    if (a->type == KILN_ATTR_INT) return (float)a->i;
    return dflt;
}

const char *kiln_attr_str(const kiln_node *n, const char *name, const char *dflt) {
    const kiln_attr *a = kiln_node_attr(n, name);
    return a && a->type == KILN_ATTR_STRING ? a->s : dflt;
}

const int64_t *kiln_attr_ints(const kiln_node *n, const char *name, uint32_t *count) {
    const kiln_attr *a = kiln_node_attr(n, name);
    if (!a || a->type != KILN_ATTR_INTS) {
        *count = 0;
        return NULL;
    }
    *count = a->n;
    return a->ints;
}

const float *kiln_attr_floats(const kiln_node *n, const char *name, uint32_t *count) {
    const kiln_attr *a = kiln_node_attr(n, name);
    if (!a || a->type != KILN_ATTR_FLOATS) {
        *count = 0;
        return NULL;
    }
    *count = a->n;
    return a->floats;
}

/* ---- constants ---- */

kiln_status kiln_const_create(kiln_model *m, int32_t dtype, int32_t rank, const int64_t *dims,
                              void *data, kiln_const **out, kiln_error *err) {
    *out = NULL;
    if (rank < 0 || rank > KILN_MAX_RANK)
        return kiln_fail(err, KILN_ERR_UNSUPPORTED, "tensor rank %d exceeds Kiln's limit of %d",
                         (int)rank, KILN_MAX_RANK);
    int64_t count;
    if (!kiln_dims_count(dims, rank, &count))
        return kiln_fail(err, KILN_ERR_INVALID_MODEL, "tensor element count overflows or a dim is negative");
    kiln_const *c = kiln_arena_alloc(&m->arena, sizeof(*c));
    if (!c) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    if (!kiln_dtype_storage(dtype, count, &c->nbytes))
        return kiln_fail(err, KILN_ERR_INVALID_MODEL, "tensor byte size overflows");
    for (int32_t i = 0; i < rank; i++) c->dims[i] = dims[i];
    c->desc.hdr.struct_size = sizeof(c->desc);
    c->desc.hdr.abi_version = KILN_ABI_VERSION;
    c->desc.kind = KILN_VALUE_TENSOR;
    c->desc.dtype = dtype;
    c->desc.rank = rank;
    c->desc.dims = c->dims;
    c->desc.data = data;
    c->desc.count = (uint64_t)count;
    *out = c;
    return KILN_OK;
}
