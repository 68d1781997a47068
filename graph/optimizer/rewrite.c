/* SPDX-License-Identifier: MIT */
/* The IR rewrite API (see rewrite.h). */
#include "graph/optimizer/rewrite.h"

#include <stdio.h>
#include <string.h>

#include "graph/ops.h"

/* ---- consumer lists ---- */

static kiln_status grow_values(kiln_rw *rw, uint32_t need) {
    if (need <= rw->cap_values) return KILN_OK;
    uint32_t cap = rw->cap_values ? rw->cap_values : 64;
    while (cap < need) cap *= 2;
    kiln_use_list *u = kiln_mem_grow(rw->a, rw->uses, rw->cap_values * sizeof(*u), cap * sizeof(*u));
    if (!u) return kiln_fail(rw->err, KILN_ERR_OUT_OF_MEMORY, "out of memory in the optimizer");
    memset(u + rw->cap_values, 0, (cap - rw->cap_values) * sizeof(*u));
    rw->uses = u;
    rw->cap_values = cap;
    return KILN_OK;
}

static kiln_status grow_nodes(kiln_rw *rw, uint32_t need) {
    if (need <= rw->cap_nodes) return KILN_OK;
    uint32_t cap = rw->cap_nodes ? rw->cap_nodes : 64;
    while (cap < need) cap *= 2;
    uint8_t *r = kiln_mem_grow(rw->a, rw->removed, rw->cap_nodes, cap);
    if (!r) return kiln_fail(rw->err, KILN_ERR_OUT_OF_MEMORY, "out of memory in the optimizer");
    memset(r + rw->cap_nodes, 0, cap - rw->cap_nodes);
    rw->removed = r;
    rw->cap_nodes = cap;
    return KILN_OK;
}

/* Values of g have ids < n_values; outer values of g are values of g too. */
static int in_graph(const kiln_rw *rw, const kiln_value *v) {
    return v && v->id < rw->g->n_values && rw->g->values[v->id] == v;
}

static kiln_status use_add(kiln_rw *rw, kiln_value *v, kiln_node *n, uint32_t slot) {
    if (!in_graph(rw, v)) return KILN_OK;
    KILN_TRY(grow_values(rw, v->id + 1));
    kiln_use_list *l = &rw->uses[v->id];
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 4;
        kiln_use *it = kiln_mem_grow(rw->a, l->items, l->cap * sizeof(*it), cap * sizeof(*it));
        if (!it) return kiln_fail(rw->err, KILN_ERR_OUT_OF_MEMORY, "out of memory in the optimizer");
        l->items = it;
        l->cap = cap;
    }
    l->items[l->n].node = n;
    l->items[l->n].slot = slot;
    l->n++;
    v->n_consumers++;
    return KILN_OK;
}

static void use_del(kiln_rw *rw, kiln_value *v, const kiln_node *n, uint32_t slot) {
    if (!in_graph(rw, v) || v->id >= rw->cap_values) return;
    kiln_use_list *l = &rw->uses[v->id];
    for (uint32_t i = 0; i < l->n; i++) {
        if (l->items[i].node == n && l->items[i].slot == slot) {
            l->items[i] = l->items[--l->n];
            if (v->n_consumers) v->n_consumers--;
            return;
        }
    }
}

static void uses_free(kiln_rw *rw) {
    for (uint32_t i = 0; i < rw->cap_values; i++) kiln_mem_free(rw->a, rw->uses[i].items);
    kiln_mem_free(rw->a, rw->uses);
    rw->uses = NULL;
    rw->cap_values = 0;
}

static kiln_status uses_build(kiln_rw *rw) {
    kiln_graph *g = rw->g;
    KILN_TRY(grow_values(rw, g->n_values + 1));
    KILN_TRY(grow_nodes(rw, g->n_nodes + 1));
    memset(rw->removed, 0, rw->cap_nodes);
    for (uint32_t i = 0; i < g->n_values; i++) g->values[i]->n_consumers = 0;
    for (uint32_t i = 0; i < g->n_nodes; i++) {
        kiln_node *n = g->nodes[i];
        for (uint32_t j = 0; j < n->n_inputs; j++)
            if (n->inputs[j]) KILN_TRY(use_add(rw, n->inputs[j], n, j));
        for (uint32_t j = 0; j < n->n_implicit; j++) KILN_TRY(use_add(rw, n->implicit[j], n, UINT32_MAX));
    }
    return KILN_OK;
}

kiln_status kiln_rw_init(kiln_rw *rw, kiln_graph *g, kiln_error *err) {
    memset(rw, 0, sizeof(*rw));
    rw->g = g;
    rw->a = g->model->alloc;
    rw->err = err;
    kiln_status st = uses_build(rw);
    if (st != KILN_OK) kiln_rw_free(rw);
    return st;
}

void kiln_rw_free(kiln_rw *rw) {
    uses_free(rw);
    kiln_mem_free(rw->a, rw->removed);
    rw->removed = NULL;
    rw->cap_nodes = 0;
}

/* ---- queries ---- */

const kiln_use *kiln_rw_uses(const kiln_rw *rw, const kiln_value *v, uint32_t *count) {
    if (!in_graph(rw, v) || v->id >= rw->cap_values) {
        *count = 0;
        return NULL;
    }
    *count = rw->uses[v->id].n;
    return rw->uses[v->id].items;
}

uint32_t kiln_rw_use_count(const kiln_rw *rw, const kiln_value *v) {
    uint32_t c;
    kiln_rw_uses(rw, v, &c);
    return c;
}

kiln_node *kiln_rw_single_consumer(const kiln_rw *rw, const kiln_value *v) {
    uint32_t c;
    const kiln_use *u = kiln_rw_uses(rw, v, &c);
    if (c != 1 || kiln_rw_is_output(v) || u[0].slot == UINT32_MAX) return NULL;
    return u[0].node;
}

int kiln_rw_is_removed(const kiln_rw *rw, const kiln_node *n) {
    return n->id < rw->cap_nodes && rw->removed[n->id];
}

kiln_node *kiln_rw_producer(const kiln_node *n, uint32_t i) {
    if (i >= n->n_inputs || !n->inputs[i]) return NULL;
    kiln_node *p = n->inputs[i]->producer;
    return p && p->graph == n->graph ? p : NULL;
}

const float *kiln_rw_const_f32(const kiln_value *v, int64_t *count) {
    if (!v || !v->constant || v->constant->desc.dtype != KILN_DTYPE_FLOAT || !v->constant->desc.data) return NULL;
    if (count) *count = (int64_t)v->constant->desc.count;
    return v->constant->desc.data;
}

int64_t kiln_rw_const_ints(const kiln_value *v, int64_t *out, int64_t max) {
    if (!v || !v->constant || !v->constant->desc.data) return -1;
    const kiln_value_desc *d = &v->constant->desc;
    if (d->dtype != KILN_DTYPE_INT64 && d->dtype != KILN_DTYPE_INT32) return -1;
    if ((int64_t)d->count > max) return -1;
    for (uint64_t i = 0; i < d->count; i++)
        out[i] = d->dtype == KILN_DTYPE_INT64 ? ((const int64_t *)d->data)[i] : ((const int32_t *)d->data)[i];
    return (int64_t)d->count;
}

int kiln_rw_has_subgraph(const kiln_node *n) {
    for (uint32_t i = 0; i < n->n_attrs; i++)
        if (n->attrs[i].type == KILN_ATTR_GRAPH || n->attrs[i].type == KILN_ATTR_GRAPHS) return 1;
    return 0;
}

int kiln_rw_static(const kiln_type *t) {
    if (t->kind != KILN_VALUE_TENSOR || t->rank < 0) return 0;
    for (int32_t i = 0; i < t->rank; i++)
        if (t->dims[i] < 0) return 0;
    return 1;
}

int kiln_rw_same_type(const kiln_type *a, const kiln_type *b) {
    if (a->kind != b->kind || a->dtype != b->dtype || a->rank != b->rank) return 0;
    for (int32_t i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i]) return 0;
    return 1;
}

/* ---- edits ---- */

kiln_status kiln_rw_set_input(kiln_rw *rw, kiln_node *n, uint32_t slot, kiln_value *v) {
    if (slot >= n->n_inputs) return kiln_fail(rw->err, KILN_ERR_INTERNAL, "optimizer: input %u of " KILN_NODE_FMT " out of range",
                                              slot, KILN_NODE_ARGS(n));
    if (n->inputs[slot]) use_del(rw, n->inputs[slot], n, slot);
    n->inputs[slot] = v;
    rw->edits++;
    if (v) KILN_TRY(use_add(rw, v, n, slot));
    return KILN_OK;
}

void kiln_rw_set_output(kiln_node *n, uint32_t slot, kiln_value *v) {
    n->outputs[slot] = v;
    if (v) {
        v->producer = n;
        v->producer_slot = slot;
    }
}

static int is_graph_input(const kiln_value *v) {
    return (v->flags & (KILN_VALUE_F_INPUT | KILN_VALUE_F_INITIALIZER | KILN_VALUE_F_OUTER | KILN_VALUE_F_CONSTANT)) != 0;
}

static kiln_status move_uses(kiln_rw *rw, kiln_value *from, kiln_value *to) {
    uint32_t c;
    kiln_rw_uses(rw, from, &c);
    while (c) {
        const kiln_use u = rw->uses[from->id].items[c - 1];
        if (u.slot == UINT32_MAX) {
            /* A subgraph reads `from` by name: such values are never replaced. */
            return kiln_fail(rw->err, KILN_ERR_INTERNAL, "optimizer: value '%s' is read by a subgraph", from->name);
        }
        KILN_TRY(kiln_rw_set_input(rw, u.node, u.slot, to));
        kiln_rw_uses(rw, from, &c);
    }
    return KILN_OK;
}

static int subgraph_reads(const kiln_rw *rw, const kiln_value *v) {
    uint32_t c;
    const kiln_use *u = kiln_rw_uses(rw, v, &c);
    for (uint32_t i = 0; i < c; i++)
        if (u[i].slot == UINT32_MAX) return 1;
    return 0;
}

kiln_status kiln_rw_replace_uses(kiln_rw *rw, kiln_value *old, kiln_value *repl, int *done) {
    *done = 0;
    if (old == repl || subgraph_reads(rw, old)) return KILN_OK;
    if (old->type.dtype && repl->type.dtype && old->type.dtype != repl->type.dtype)
        return kiln_fail(rw->err, KILN_ERR_INTERNAL, "optimizer: replacing '%s' (dtype %d) by '%s' (dtype %d)", old->name,
                         (int)old->type.dtype, repl->name, (int)repl->type.dtype);
    if (!kiln_rw_is_output(old)) {
        KILN_TRY(move_uses(rw, old, repl));
        *done = 1;
        return KILN_OK;
    }
    /* old is a graph output: repl's producer writes old instead, and repl's readers read old. */
    kiln_node *p = repl->producer;
    if (!p || p->graph != rw->g || is_graph_input(repl) || kiln_rw_is_output(repl) || subgraph_reads(rw, repl))
        return KILN_OK;
    kiln_node *oldp = old->producer;
    uint32_t oslot = old->producer_slot;
    KILN_TRY(move_uses(rw, repl, old));
    if (oldp && oldp->outputs[oslot] == old) oldp->outputs[oslot] = NULL;
    kiln_rw_set_output(p, repl->producer_slot, old);
    repl->producer = NULL;
    *done = 1;
    return KILN_OK;
}

kiln_status kiln_rw_remove_node(kiln_rw *rw, kiln_node *n) {
    for (uint32_t i = 0; i < n->n_outputs; i++) {
        kiln_value *v = n->outputs[i];
        if (!v || v->producer != n) continue;
        if (kiln_rw_use_count(rw, v) || kiln_rw_is_output(v))
            return kiln_fail(rw->err, KILN_ERR_INTERNAL, "optimizer: removing " KILN_NODE_FMT " whose output '%s' is still read",
                             KILN_NODE_ARGS(n), v->name);
    }
    for (uint32_t i = 0; i < n->n_inputs; i++)
        if (n->inputs[i]) use_del(rw, n->inputs[i], n, i);
    for (uint32_t i = 0; i < n->n_implicit; i++) use_del(rw, n->implicit[i], n, UINT32_MAX);
    for (uint32_t i = 0; i < n->n_outputs; i++) {
        kiln_value *v = n->outputs[i];
        if (v && v->producer == n) v->producer = NULL;
    }
    KILN_TRY(grow_nodes(rw, n->id + 1));
    rw->removed[n->id] = 1;
    rw->edits++;
    return KILN_OK;
}

static kiln_status unique_name(kiln_rw *rw, const char *base, char *buf, size_t size) {
    for (int tries = 0; tries < 1000000; tries++) {
        snprintf(buf, size, "%.200s/kiln_%u", base, rw->name_counter++);
        if (!kiln_graph_find(rw->g, buf)) return KILN_OK;
    }
    return kiln_fail(rw->err, KILN_ERR_INTERNAL, "optimizer: no free name for '%s'", base);
}

kiln_status kiln_rw_add_node(kiln_rw *rw, const char *base, const char *op_type, const char *domain,
                             uint32_t n_inputs, uint32_t n_outputs, uint32_t n_attrs, kiln_node **out) {
    char name[256];
    snprintf(name, sizeof(name), "%.200s/%s_%u", base, op_type, rw->name_counter++);
    KILN_TRY(kiln_graph_add_node(rw->g, name, op_type, domain, n_inputs, n_outputs, n_attrs, out, rw->err));
    kiln_node *n = *out;
    n->op = kiln_op_find(n->domain, op_type);
    if (!n->op) return kiln_fail(rw->err, KILN_ERR_INTERNAL, "optimizer: op %s of domain '%s' is unknown", op_type, domain);
    if (strcmp(n->domain, KILN_DOMAIN_KILN) == 0) n->opset = 1;
    KILN_TRY(grow_nodes(rw, n->id + 1));
    rw->removed[n->id] = 0;
    rw->edits++;
    return KILN_OK;
}

kiln_status kiln_rw_add_value(kiln_rw *rw, const char *base, const kiln_type *t, kiln_value **out) {
    char name[256];
    KILN_TRY(unique_name(rw, base, name, sizeof(name)));
    KILN_TRY(kiln_graph_add_value(rw->g, name, out, rw->err));
    rw->edits++;
    if (t) (*out)->type = *t;
    return grow_values(rw, (*out)->id + 1);
}

kiln_status kiln_rw_add_const(kiln_rw *rw, const char *base, int32_t dtype, int32_t rank, const int64_t *dims,
                              const void *data, kiln_value **out) {
    kiln_model *m = rw->g->model;
    int64_t count;
    size_t bytes;
    if (!kiln_dims_count(dims, rank, &count) || !kiln_dtype_storage(dtype, count, &bytes))
        return kiln_fail(rw->err, KILN_ERR_INTERNAL, "optimizer: bad constant shape");
    void *block = kiln_mem_alloc(m->alloc, bytes ? bytes : 1);
    if (!block) return kiln_fail(rw->err, KILN_ERR_OUT_OF_MEMORY, "out of memory for a folded constant");
    if (bytes) memcpy(block, data, bytes);
    KILN_TRY(kiln_model_adopt(m, block, rw->err));
    kiln_type t;
    kiln_type_tensor(&t, dtype, rank, dims);
    KILN_TRY(kiln_rw_add_value(rw, base, &t, out));
    kiln_const *c;
    KILN_TRY(kiln_const_create(m, dtype, rank, dims, block, &c, rw->err));
    c->name = (*out)->name;
    (*out)->constant = c;
    (*out)->flags |= KILN_VALUE_F_INITIALIZER | KILN_VALUE_F_CONSTANT;
    return KILN_OK;
}

kiln_status kiln_rw_rename(kiln_rw *rw, kiln_value *v, const char *name) {
    if (v->flags & (KILN_VALUE_F_INPUT | KILN_VALUE_F_OUTPUT | KILN_VALUE_F_OUTER))
        return kiln_fail(rw->err, KILN_ERR_INTERNAL, "optimizer: graph input/output '%s' cannot be renamed", v->name);
    if (kiln_graph_find(rw->g, name))
        return kiln_fail(rw->err, KILN_ERR_INTERNAL, "optimizer: name '%s' is taken", name);
    const char *copy = kiln_arena_strdup(&rw->g->model->arena, name);
    if (!copy || !kiln_strmap_put(&rw->g->names, copy, v))
        return kiln_fail(rw->err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    kiln_strmap_put(&rw->g->names, v->name, NULL);
    v->name = copy;
    if (v->constant) v->constant->name = copy;
    return KILN_OK;
}

static kiln_attr *attr_at(kiln_node *n, uint32_t i, const char *name, int32_t type, kiln_rw *rw) {
    kiln_attr *a = &n->attrs[i];
    memset(a, 0, sizeof(*a));
    a->name = kiln_arena_strdup(&rw->g->model->arena, name);
    a->type = type;
    a->n = 1;
    return a->name ? a : NULL;
}

kiln_status kiln_rw_attr_int(kiln_rw *rw, kiln_node *n, uint32_t i, const char *name, int64_t v) {
    kiln_attr *a = attr_at(n, i, name, KILN_ATTR_INT, rw);
    if (!a) return kiln_fail(rw->err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    a->i = v;
    return KILN_OK;
}

kiln_status kiln_rw_attr_float(kiln_rw *rw, kiln_node *n, uint32_t i, const char *name, float v) {
    kiln_attr *a = attr_at(n, i, name, KILN_ATTR_FLOAT, rw);
    if (!a) return kiln_fail(rw->err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    a->f = v;
    return KILN_OK;
}

kiln_status kiln_rw_attr_str(kiln_rw *rw, kiln_node *n, uint32_t i, const char *name, const char *v) {
    kiln_attr *a = attr_at(n, i, name, KILN_ATTR_STRING, rw);
    if (!a || !(a->s = kiln_arena_strdup(&rw->g->model->arena, v))) return kiln_fail(rw->err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    a->s_len = strlen(v);
    return KILN_OK;
}

kiln_status kiln_rw_attr_floats(kiln_rw *rw, kiln_node *n, uint32_t i, const char *name, const float *v, uint32_t cnt) {
    kiln_attr *a = attr_at(n, i, name, KILN_ATTR_FLOATS, rw);
    if (!a) return kiln_fail(rw->err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    a->n = cnt;
    if (cnt && !(a->floats = kiln_arena_memdup(&rw->g->model->arena, v, cnt * sizeof(float))))
        return kiln_fail(rw->err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    return KILN_OK;
}

void kiln_rw_attr_copy(kiln_node *n, uint32_t i, const kiln_attr *a) { n->attrs[i] = *a; }

/* ---- commit and check ---- */

kiln_status kiln_rw_commit(kiln_rw *rw) {
    kiln_graph *g = rw->g;
    uint32_t k = 0;
    for (uint32_t i = 0; i < g->n_nodes; i++) {
        kiln_node *n = g->nodes[i];
        if (n->id < rw->cap_nodes && rw->removed[n->id]) continue;
        n->id = k;
        g->nodes[k++] = n;
    }
    g->n_nodes = k;
    KILN_TRY(kiln_graph_sort(g, rw->err));
    /* Values nothing produces or reads (and no graph input/output) leave the graph. */
    uint32_t kv = 0;
    for (uint32_t i = 0; i < g->n_values; i++) {
        kiln_value *v = g->values[i];
        int keep = v->producer || v->n_consumers || (v->flags & (KILN_VALUE_F_INPUT | KILN_VALUE_F_OUTPUT | KILN_VALUE_F_OUTER));
        if (!keep) {
            kiln_strmap_put(&g->names, v->name, NULL);
            continue;
        }
        v->id = kv;
        g->values[kv++] = v;
    }
    g->n_values = kv;
    uses_free(rw);
    return uses_build(rw);
}

kiln_status kiln_rw_check(const kiln_graph *g, const char *pass, kiln_error *err) {
    for (uint32_t i = 0; i < g->n_nodes; i++) {
        const kiln_node *n = g->nodes[i];
        if (n->id != i || n->graph != g)
            return kiln_fail(err, KILN_ERR_INTERNAL, "optimizer pass %s: " KILN_NODE_FMT " has id %u at position %u", pass,
                             KILN_NODE_ARGS(n), n->id, i);
        for (uint32_t j = 0; j < n->n_inputs; j++) {
            const kiln_value *v = n->inputs[j];
            if (!v) continue;
            if (v->id >= g->n_values || g->values[v->id] != v)
                return kiln_fail(err, KILN_ERR_INTERNAL, "optimizer pass %s: " KILN_NODE_FMT " reads '%s', which is not in the graph",
                                 pass, KILN_NODE_ARGS(n), v->name);
            if (v->producer) {
                if (v->producer->graph != g || v->producer->id >= i || v->producer->outputs[v->producer_slot] != v)
                    return kiln_fail(err, KILN_ERR_INTERNAL,
                                     "optimizer pass %s: " KILN_NODE_FMT " reads '%s' before it is produced", pass,
                                     KILN_NODE_ARGS(n), v->name);
            } else if (!(v->flags & (KILN_VALUE_F_INPUT | KILN_VALUE_F_CONSTANT | KILN_VALUE_F_OUTER | KILN_VALUE_F_INITIALIZER))) {
                return kiln_fail(err, KILN_ERR_INTERNAL, "optimizer pass %s: " KILN_NODE_FMT " reads '%s', which nothing produces",
                                 pass, KILN_NODE_ARGS(n), v->name);
            }
        }
        for (uint32_t j = 0; j < n->n_outputs; j++) {
            const kiln_value *v = n->outputs[j];
            if (v && (v->producer != n || v->producer_slot != j))
                return kiln_fail(err, KILN_ERR_INTERNAL, "optimizer pass %s: output %u of " KILN_NODE_FMT " disagrees with its value '%s'",
                                 pass, j, KILN_NODE_ARGS(n), v->name);
        }
    }
    for (uint32_t i = 0; i < g->n_outputs; i++) {
        const kiln_value *v = g->outputs[i];
        if (!v) continue;
        if (!v->producer && !(v->flags & (KILN_VALUE_F_INPUT | KILN_VALUE_F_CONSTANT | KILN_VALUE_F_OUTER | KILN_VALUE_F_INITIALIZER)))
            return kiln_fail(err, KILN_ERR_INTERNAL, "optimizer pass %s: graph output '%s' is produced by nothing", pass, v->name);
        int32_t want = g->declared_outputs ? g->declared_outputs[i].dtype : 0;
        if (want && v->type.dtype && want != v->type.dtype)
            return kiln_fail(err, KILN_ERR_INTERNAL, "optimizer pass %s: graph output '%s' changed dtype", pass, v->name);
    }
    return KILN_OK;
}
