/* SPDX-License-Identifier: MIT */
/* ModelProto → IR: opsets, metadata, graphs with their initializers, inputs, outputs and
 * value_info, nodes with attributes of every type, subgraphs reading outer-scope values, and
 * model-local functions expanded in place. */
#include "load.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "graph/onnx/kiln_onnx.pb-c.h"
#include "graph/ops.h"
#include "graph/tensor_proto.h"
#include "runtime/base/error.h"

#define MAX_FUNCTION_DEPTH 32

typedef struct loader {
    kiln_model *m;
    const kiln_allocator *a;
    kiln_external_ctx ext;
    KilnOnnx__ModelProto *mp;
    kiln_error *err;
} loader;

/* A model-local function call being expanded: maps the body's names to the caller's. */
typedef struct fn_scope {
    const KilnOnnx__FunctionProto *fn;
    const KilnOnnx__NodeProto *call;
    const struct fn_scope *parent;
    const char **actual_in;   /* caller's names for fn->input (after the caller's own renaming) */
    const char **actual_out;
    const char *prefix;       /* unique prefix for the body's internal names */
    int depth;
} fn_scope;

/* A node whose inputs and graph attributes are resolved once every node of its graph exists. */
typedef struct pending {
    kiln_node *node;
    const char **input_names;
    const KilnOnnx__GraphProto **graph_protos;  /* per attribute slot (GRAPH: [0]); NULL if none */
    const KilnOnnx__GraphProto ***graphs_lists; /* per attribute slot for GRAPHS */
    const fn_scope *scope;
} pending;

typedef struct pending_list {
    pending *items;
    uint32_t n, cap;
} pending_list;

static kiln_status oom(loader *l) {
    return kiln_fail(l->err, KILN_ERR_OUT_OF_MEMORY, "out of memory while loading the model");
}

static const char *str_or_empty(const char *s) { return s ? s : ""; }

/* ---- types ---- */

static kiln_status type_from_proto(loader *l, const KilnOnnx__TypeProto *tp, kiln_type *t,
                                   const char *what) {
    memset(t, 0, sizeof(*t));
    t->kind = KILN_VALUE_UNKNOWN;
    t->rank = -1;
    if (!tp) return KILN_OK;
    const KilnOnnx__TensorShapeProto *shape = NULL;
    switch (tp->value_case) {
    case KILN_ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE:
        t->kind = KILN_VALUE_TENSOR;
        t->dtype = tp->tensor_type->elem_type;
        shape = tp->tensor_type->shape;
        if (!tp->tensor_type->has_elem_type) t->dtype = 0;
        break;
    case KILN_ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE: {
        kiln_type inner;
        KILN_TRY(type_from_proto(l, tp->sequence_type->elem_type, &inner, what));
        if (inner.kind != KILN_VALUE_TENSOR && inner.kind != KILN_VALUE_UNKNOWN)
            return kiln_fail(l->err, KILN_ERR_UNSUPPORTED, "%s: sequences of non-tensors are not supported", what);
        *t = inner;
        t->kind = KILN_VALUE_SEQUENCE;
        return KILN_OK;
    }
    case KILN_ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE: {
        kiln_type inner;
        KILN_TRY(type_from_proto(l, tp->optional_type->elem_type, &inner, what));
        if (inner.kind != KILN_VALUE_TENSOR && inner.kind != KILN_VALUE_SEQUENCE)
            return kiln_fail(l->err, KILN_ERR_UNSUPPORTED, "%s: optionals must hold a tensor or a sequence", what);
        *t = inner;
        t->opt_kind = inner.kind;
        t->kind = KILN_VALUE_OPTIONAL;
        return KILN_OK;
    }
    case KILN_ONNX__TYPE_PROTO__VALUE_MAP_TYPE:
        return kiln_fail(l->err, KILN_ERR_UNSUPPORTED, "%s: map types are not supported", what);
    case KILN_ONNX__TYPE_PROTO__VALUE_SPARSE_TENSOR_TYPE:
        return kiln_fail(l->err, KILN_ERR_UNSUPPORTED, "%s: sparse tensor values are not supported", what);
    default:
        return KILN_OK;
    }
    if (t->dtype != 0 && !kiln_dtype_valid(t->dtype))
        return kiln_fail(l->err, KILN_ERR_UNSUPPORTED, "%s: unknown element type %d", what, (int)t->dtype);
    if (!shape) return KILN_OK;
    if (shape->n_dim > KILN_MAX_RANK)
        return kiln_fail(l->err, KILN_ERR_UNSUPPORTED, "%s: rank %zu exceeds Kiln's limit of %d", what,
                         shape->n_dim, KILN_MAX_RANK);
    t->rank = (int32_t)shape->n_dim;
    for (size_t i = 0; i < shape->n_dim; i++) {
        const KilnOnnx__TensorShapeProto__Dimension *d = shape->dim[i];
        if (d->value_case == KILN_ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && d->dim_value >= 0)
            t->dims[i] = d->dim_value;
        else if (d->value_case == KILN_ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM && d->dim_param && *d->dim_param)
            KILN_TRY(kiln_model_symbol(l->m, d->dim_param, &t->dims[i], l->err));
        else
            t->dims[i] = KILN_DIM_UNKNOWN;
    }
    return KILN_OK;
}

/* ---- constants ---- */

static kiln_status adopt_dense(loader *l, kiln_dense *d, const char *name, kiln_const **out) {
    void *data = d->data;
    if (d->dtype == KILN_DTYPE_STRING) {
        char **s = d->data;
        for (int64_t i = 0; i < d->count; i++) {
            kiln_status st = kiln_model_adopt(l->m, s[i], l->err);
            if (st != KILN_OK) {
                for (int64_t j = i + 1; j < d->count; j++) kiln_mem_free(l->a, s[j]);
                kiln_mem_free(l->a, data);
                return st;
            }
        }
    }
    KILN_TRY(kiln_model_adopt(l->m, data, l->err));
    KILN_TRY(kiln_const_create(l->m, d->dtype, d->rank, d->dims, data, out, l->err));
    (*out)->name = kiln_arena_strdup(&l->m->arena, name);
    return (*out)->name ? KILN_OK : oom(l);
}

static kiln_status const_from_proto(loader *l, KilnOnnx__TensorProto *tp, kiln_const **out) {
    kiln_dense d;
    KILN_TRY(kiln_dense_from_proto(l->a, tp, &l->ext, &d, l->err));
    return adopt_dense(l, &d, str_or_empty(tp->name), out);
}

static kiln_status const_from_sparse(loader *l, KilnOnnx__SparseTensorProto *sp, kiln_const **out) {
    kiln_dense d;
    KILN_TRY(kiln_dense_from_sparse(l->a, sp, &l->ext, &d, l->err));
    return adopt_dense(l, &d, sp->values ? str_or_empty(sp->values->name) : "", out);
}

static kiln_status add_constant_value(loader *l, kiln_graph *g, const char *name, kiln_const *c) {
    kiln_value *v;
    KILN_TRY(kiln_graph_add_value(g, name, &v, l->err));
    v->flags = KILN_VALUE_F_INITIALIZER | KILN_VALUE_F_CONSTANT;
    v->constant = c;
    kiln_type_tensor(&v->type, c->desc.dtype, c->desc.rank, c->dims);
    return KILN_OK;
}

/* ---- functions ---- */

static const KilnOnnx__FunctionProto *find_function(loader *l, const KilnOnnx__NodeProto *np) {
    const char *dom = str_or_empty(np->domain);
    for (size_t i = 0; i < l->mp->n_functions; i++) {
        const KilnOnnx__FunctionProto *f = l->mp->functions[i];
        if (f->name && np->op_type && strcmp(f->name, np->op_type) == 0 &&
            strcmp(str_or_empty(f->domain), dom) == 0 &&
            strcmp(str_or_empty(f->overload), str_or_empty(np->overload)) == 0)
            return f;
    }
    return NULL;
}

/* Caller-side name of a name used in a function body. */
static const char *rename_in_scope(loader *l, const fn_scope *s, const char *name) {
    if (!s || !name || !*name) return name;
    for (size_t i = 0; i < s->fn->n_input; i++)
        if (strcmp(s->fn->input[i], name) == 0) return s->actual_in[i];
    for (size_t i = 0; i < s->fn->n_output; i++)
        if (strcmp(s->fn->output[i], name) == 0) return s->actual_out[i];
    size_t n = strlen(s->prefix) + strlen(name) + 1;
    char *r = kiln_arena_alloc(&l->m->arena, n);
    if (r) snprintf(r, n, "%s%s", s->prefix, name);
    return r;
}

/* The attribute a body node's `ref_attr_name` refers to: the call's attribute of that name, or
 * the function's default; NULL when neither exists (the attribute is then left out). */
static const KilnOnnx__AttributeProto *resolve_ref(const fn_scope *s, const char *ref) {
    for (; s; s = s->parent) {
        const KilnOnnx__AttributeProto *hit = NULL;
        for (size_t i = 0; i < s->call->n_attribute; i++)
            if (s->call->attribute[i]->name && strcmp(s->call->attribute[i]->name, ref) == 0)
                hit = s->call->attribute[i];
        if (!hit) {
            for (size_t i = 0; i < s->fn->n_attribute_proto; i++)
                if (s->fn->attribute_proto[i]->name && strcmp(s->fn->attribute_proto[i]->name, ref) == 0)
                    return s->fn->attribute_proto[i];
            return NULL;
        }
        if (!hit->ref_attr_name) return hit;
        ref = hit->ref_attr_name;   /* the call itself sits in an outer function body */
    }
    return NULL;
}

/* ---- attributes ---- */

static int32_t infer_attr_type(const KilnOnnx__AttributeProto *ap) {
    if (ap->has_type && ap->type != 0) return (int32_t)ap->type;
    if (ap->n_floats) return KILN_ATTR_FLOATS;
    if (ap->n_ints) return KILN_ATTR_INTS;
    if (ap->n_strings) return KILN_ATTR_STRINGS;
    if (ap->n_tensors) return KILN_ATTR_TENSORS;
    if (ap->n_graphs) return KILN_ATTR_GRAPHS;
    if (ap->t) return KILN_ATTR_TENSOR;
    if (ap->g) return KILN_ATTR_GRAPH;
    if (ap->sparse_tensor) return KILN_ATTR_SPARSE_TENSOR;
    if (ap->tp) return KILN_ATTR_TYPE_PROTO;
    if (ap->has_s) return KILN_ATTR_STRING;
    if (ap->has_i) return KILN_ATTR_INT;
    if (ap->has_f) return KILN_ATTR_FLOAT;
    return KILN_ATTR_UNDEFINED;
}

static kiln_status load_attr(loader *l, kiln_node *n, const KilnOnnx__AttributeProto *ap,
                             kiln_attr *at, pending *p, uint32_t slot) {
    kiln_arena *ar = &l->m->arena;
    at->name = kiln_arena_strdup(ar, str_or_empty(ap->name));
    at->type = infer_attr_type(ap);
    if (!at->name) return oom(l);
    switch (at->type) {
    case KILN_ATTR_FLOAT: at->f = ap->f; at->n = 1; break;
    case KILN_ATTR_INT: at->i = ap->i; at->n = 1; break;
    case KILN_ATTR_STRING:
        at->s = kiln_arena_strndup(ar, (const char *)ap->s.data, ap->s.len);
        at->s_len = ap->s.len;
        at->n = 1;
        if (!at->s) return oom(l);
        break;
    case KILN_ATTR_FLOATS:
        at->n = (uint32_t)ap->n_floats;
        at->floats = kiln_arena_memdup(ar, ap->floats, ap->n_floats * sizeof(float));
        if (!at->floats) return oom(l);
        break;
    case KILN_ATTR_INTS:
        at->n = (uint32_t)ap->n_ints;
        at->ints = kiln_arena_memdup(ar, ap->ints, ap->n_ints * sizeof(int64_t));
        if (!at->ints) return oom(l);
        break;
    case KILN_ATTR_STRINGS:
        at->n = (uint32_t)ap->n_strings;
        at->strings = kiln_arena_calloc(ar, at->n, sizeof(char *));
        at->string_lens = kiln_arena_calloc(ar, at->n, sizeof(size_t));
        if (!at->strings || !at->string_lens) return oom(l);
        for (uint32_t i = 0; i < at->n; i++) {
            at->strings[i] = kiln_arena_strndup(ar, (const char *)ap->strings[i].data, ap->strings[i].len);
            at->string_lens[i] = ap->strings[i].len;
            if (!at->strings[i]) return oom(l);
        }
        break;
    case KILN_ATTR_TENSOR:
    case KILN_ATTR_SPARSE_TENSOR:
        at->n = 1;
        at->tensors = kiln_arena_calloc(ar, 1, sizeof(kiln_const *));
        if (!at->tensors) return oom(l);
        if (at->type == KILN_ATTR_TENSOR) {
            if (!ap->t) goto missing;
            KILN_TRY(const_from_proto(l, ap->t, &at->tensors[0]));
        } else {
            if (!ap->sparse_tensor) goto missing;
            KILN_TRY(const_from_sparse(l, ap->sparse_tensor, &at->tensors[0]));
        }
        break;
    case KILN_ATTR_TENSORS:
    case KILN_ATTR_SPARSE_TENSORS: {
        int sparse = at->type == KILN_ATTR_SPARSE_TENSORS;
        at->n = (uint32_t)(sparse ? ap->n_sparse_tensors : ap->n_tensors);
        at->tensors = kiln_arena_calloc(ar, at->n, sizeof(kiln_const *));
        if (!at->tensors && at->n) return oom(l);
        for (uint32_t i = 0; i < at->n; i++)
            KILN_TRY(sparse ? const_from_sparse(l, ap->sparse_tensors[i], &at->tensors[i])
                            : const_from_proto(l, ap->tensors[i], &at->tensors[i]));
        break;
    }
    case KILN_ATTR_GRAPH:
        if (!ap->g) goto missing;
        at->n = 1;
        at->graphs = kiln_arena_calloc(ar, 1, sizeof(kiln_graph *));
        p->graph_protos[slot] = ap->g;
        if (!at->graphs) return oom(l);
        break;
    case KILN_ATTR_GRAPHS:
        at->n = (uint32_t)ap->n_graphs;
        at->graphs = kiln_arena_calloc(ar, at->n, sizeof(kiln_graph *));
        p->graphs_lists[slot] = (const KilnOnnx__GraphProto **)ap->graphs;
        if (!at->graphs && at->n) return oom(l);
        break;
    case KILN_ATTR_TYPE_PROTO:
    case KILN_ATTR_TYPE_PROTOS: {
        int one = at->type == KILN_ATTR_TYPE_PROTO;
        at->n = one ? 1 : (uint32_t)ap->n_type_protos;
        at->types = kiln_arena_calloc(ar, at->n, sizeof(kiln_type));
        if (!at->types && at->n) return oom(l);
        if (one && !ap->tp) goto missing;
        for (uint32_t i = 0; i < at->n; i++)
            KILN_TRY(type_from_proto(l, one ? ap->tp : ap->type_protos[i], &at->types[i], n->name));
        break;
    }
    default:
        return kiln_fail(l->err, KILN_ERR_INVALID_MODEL, KILN_NODE_FMT ": attribute '%s' has no type",
                         KILN_NODE_ARGS(n), at->name);
    }
    return KILN_OK;
missing:
    return kiln_fail(l->err, KILN_ERR_INVALID_MODEL, KILN_NODE_FMT ": attribute '%s' has no value",
                     KILN_NODE_ARGS(n), at->name);
}

/* ---- nodes ---- */

static kiln_status push_pending(loader *l, pending_list *pl, pending **out) {
    if (pl->n == pl->cap) {
        uint32_t nc = pl->cap ? pl->cap * 2 : 32;
        pending *np = kiln_mem_grow(l->a, pl->items, pl->cap * sizeof(pending), nc * sizeof(pending));
        if (!np) return oom(l);
        pl->items = np;
        pl->cap = nc;
    }
    *out = &pl->items[pl->n++];
    memset(*out, 0, sizeof(**out));
    return KILN_OK;
}

static kiln_status add_node_proto(loader *l, kiln_graph *g, const KilnOnnx__NodeProto *np,
                                  const fn_scope *scope, pending_list *pl);

static kiln_status expand_function(loader *l, kiln_graph *g, const KilnOnnx__NodeProto *np,
                                   const KilnOnnx__FunctionProto *fn, const fn_scope *scope,
                                   pending_list *pl) {
    int depth = scope ? scope->depth + 1 : 1;
    if (depth > MAX_FUNCTION_DEPTH)
        return kiln_fail(l->err, KILN_ERR_INVALID_MODEL,
                         "function '%s' calls itself (or nests deeper than %d)", fn->name, MAX_FUNCTION_DEPTH);
    kiln_arena *ar = &l->m->arena;
    fn_scope s = {fn, np, scope, NULL, NULL, NULL, depth};
    s.actual_in = kiln_arena_calloc(ar, fn->n_input + 1, sizeof(char *));
    s.actual_out = kiln_arena_calloc(ar, fn->n_output + 1, sizeof(char *));
    if (!s.actual_in || !s.actual_out) return oom(l);
    for (size_t i = 0; i < fn->n_input; i++)
        s.actual_in[i] = i < np->n_input ? rename_in_scope(l, scope, np->input[i]) : "";
    for (size_t i = 0; i < fn->n_output; i++)
        s.actual_out[i] = i < np->n_output ? rename_in_scope(l, scope, np->output[i]) : "";
    char prefix[256];
    snprintf(prefix, sizeof(prefix), "%s/%s#%u/", str_or_empty(np->name), fn->name, l->m->node_counter++);
    s.prefix = kiln_arena_strdup(ar, prefix);
    if (!s.prefix) return oom(l);
    for (size_t i = 0; i < fn->n_node; i++) KILN_TRY(add_node_proto(l, g, fn->node[i], &s, pl));
    return KILN_OK;
}

static kiln_status add_node_proto(loader *l, kiln_graph *g, const KilnOnnx__NodeProto *np,
                                  const fn_scope *scope, pending_list *pl) {
    if (!np->op_type || !*np->op_type)
        return kiln_fail(l->err, KILN_ERR_INVALID_MODEL, "node '%s' has no op_type", str_or_empty(np->name));
    const KilnOnnx__FunctionProto *fn = find_function(l, np);
    if (fn) return expand_function(l, g, np, fn, scope, pl);

    /* Attributes resolved through ref_attr_name inside function bodies. */
    const KilnOnnx__AttributeProto **aps = NULL;
    uint32_t n_attrs = 0;
    if (np->n_attribute) {
        aps = kiln_arena_calloc(&l->m->arena, np->n_attribute, sizeof(*aps));
        if (!aps) return oom(l);
        for (size_t i = 0; i < np->n_attribute; i++) {
            const KilnOnnx__AttributeProto *ap = np->attribute[i];
            if (ap->ref_attr_name) {
                if (!scope)
                    return kiln_fail(l->err, KILN_ERR_INVALID_MODEL,
                                     "node '%s' (%s): attribute '%s' refers to '%s' outside a function",
                                     str_or_empty(np->name), np->op_type, str_or_empty(ap->name), ap->ref_attr_name);
                const KilnOnnx__AttributeProto *r = resolve_ref(scope, ap->ref_attr_name);
                if (!r) continue;
                /* Keep the body's attribute name with the caller's value. */
                KilnOnnx__AttributeProto *copy = kiln_arena_memdup(&l->m->arena, r, sizeof(*r));
                if (!copy) return oom(l);
                copy->name = ap->name;
                copy->ref_attr_name = NULL;
                ap = copy;
            }
            aps[n_attrs++] = ap;
        }
    }
    const char *name = scope ? rename_in_scope(l, scope, str_or_empty(np->name)) : np->name;
    kiln_node *n;
    KILN_TRY(kiln_graph_add_node(g, name, np->op_type, str_or_empty(np->domain), (uint32_t)np->n_input,
                                 (uint32_t)np->n_output, n_attrs, &n, l->err));
    if (scope) {
        for (size_t i = 0; i < scope->fn->n_opset_import; i++) {
            const KilnOnnx__OperatorSetIdProto *o = scope->fn->opset_import[i];
            const char *d = str_or_empty(o->domain);
            if (strcmp(d, "ai.onnx") == 0) d = "";
            if (strcmp(d, n->domain) == 0) n->opset = o->version;
        }
    }
    pending *p = NULL;
    KILN_TRY(push_pending(l, pl, &p));
    p->node = n;
    p->scope = scope;
    p->input_names = kiln_arena_calloc(&l->m->arena, np->n_input + 1, sizeof(char *));
    p->graph_protos = kiln_arena_calloc(&l->m->arena, n_attrs + 1, sizeof(*p->graph_protos));
    p->graphs_lists = kiln_arena_calloc(&l->m->arena, n_attrs + 1, sizeof(*p->graphs_lists));
    if (!p->input_names || !p->graph_protos || !p->graphs_lists) return oom(l);
    for (size_t i = 0; i < np->n_input; i++) {
        p->input_names[i] = rename_in_scope(l, scope, np->input[i]);
        if (!p->input_names[i]) return oom(l);
    }
    for (size_t i = 0; i < np->n_output; i++) {
        const char *on = rename_in_scope(l, scope, np->output[i]);
        if (!on) return oom(l);
        if (!*on) continue;
        kiln_value *v;
        kiln_status s = kiln_graph_add_value(g, on, &v, l->err);
        if (s != KILN_OK) {
            if (s == KILN_ERR_INVALID_MODEL)
                kiln_fail(l->err, s, KILN_NODE_FMT ": output '%s' is already defined elsewhere in graph '%s'",
                          KILN_NODE_ARGS(n), on, g->name);
            return s;
        }
        v->producer = n;
        v->producer_slot = (uint32_t)i;
        n->outputs[i] = v;
    }
    for (uint32_t i = 0; i < n_attrs; i++) KILN_TRY(load_attr(l, n, aps[i], &n->attrs[i], p, i));
    return KILN_OK;
}

/* ---- graphs ---- */

static kiln_status build_graph(loader *l, const KilnOnnx__GraphProto *gp, kiln_graph *parent,
                               kiln_node *owner, kiln_graph **out);

static kiln_status resolve_pending(loader *l, kiln_graph *g, pending *p) {
    kiln_node *n = p->node;
    for (uint32_t i = 0; i < n->n_inputs; i++) {
        const char *name = p->input_names[i];
        if (!name || !*name) continue;
        kiln_value *v;
        KILN_TRY(kiln_graph_resolve(g, name, &v, l->err));
        if (!v)
            return kiln_fail(l->err, KILN_ERR_INVALID_MODEL,
                             KILN_NODE_FMT ": input '%s' is not a graph input, an initializer or any node's output",
                             KILN_NODE_ARGS(n), name);
        n->inputs[i] = v;
    }
    for (uint32_t i = 0; i < n->n_attrs; i++) {
        kiln_attr *at = &n->attrs[i];
        if (at->type == KILN_ATTR_GRAPH && p->graph_protos[i]) {
            if (p->scope)
                return kiln_fail(l->err, KILN_ERR_UNSUPPORTED,
                                 KILN_NODE_FMT ": subgraphs inside model-local functions are not supported",
                                 KILN_NODE_ARGS(n));
            KILN_TRY(build_graph(l, p->graph_protos[i], g, n, &at->graphs[0]));
        } else if (at->type == KILN_ATTR_GRAPHS && p->graphs_lists[i]) {
            for (uint32_t k = 0; k < at->n; k++)
                KILN_TRY(build_graph(l, p->graphs_lists[i][k], g, n, &at->graphs[k]));
        }
    }
    return KILN_OK;
}

static kiln_status build_graph(loader *l, const KilnOnnx__GraphProto *gp, kiln_graph *parent,
                               kiln_node *owner, kiln_graph **out) {
    kiln_graph *g;
    KILN_TRY(kiln_graph_create(l->m, parent, gp->name ? gp->name : (parent ? "subgraph" : "main"), &g, l->err));
    g->owner = owner;
    *out = g;
    kiln_arena *ar = &l->m->arena;
    char what[300];

    for (size_t i = 0; i < gp->n_initializer; i++) {
        KilnOnnx__TensorProto *tp = gp->initializer[i];
        if (!tp->name || !*tp->name)
            return kiln_fail(l->err, KILN_ERR_INVALID_MODEL, "graph '%s': initializer %zu has no name", g->name, i);
        kiln_const *c;
        KILN_TRY(const_from_proto(l, tp, &c));
        KILN_TRY(add_constant_value(l, g, tp->name, c));
    }
    for (size_t i = 0; i < gp->n_sparse_initializer; i++) {
        KilnOnnx__SparseTensorProto *sp = gp->sparse_initializer[i];
        const char *name = sp->values ? sp->values->name : NULL;
        if (!name || !*name)
            return kiln_fail(l->err, KILN_ERR_INVALID_MODEL, "graph '%s': sparse initializer %zu has no name", g->name, i);
        kiln_const *c;
        KILN_TRY(const_from_sparse(l, sp, &c));
        KILN_TRY(add_constant_value(l, g, name, c));
    }

    g->inputs = kiln_arena_calloc(ar, gp->n_input + 1, sizeof(kiln_value *));
    if (!g->inputs) return oom(l);
    for (size_t i = 0; i < gp->n_input; i++) {
        const KilnOnnx__ValueInfoProto *vi = gp->input[i];
        if (!vi->name || !*vi->name)
            return kiln_fail(l->err, KILN_ERR_INVALID_MODEL, "graph '%s': input %zu has no name", g->name, i);
        if (kiln_graph_find(g, vi->name)) {
            kiln_value *c = kiln_graph_find(g, vi->name);
            if (c->flags & KILN_VALUE_F_INITIALIZER) continue;  /* IR < 4: initializers listed as inputs */
            return kiln_fail(l->err, KILN_ERR_INVALID_MODEL, "graph '%s': input '%s' is listed twice", g->name, vi->name);
        }
        kiln_value *v;
        KILN_TRY(kiln_graph_add_value(g, vi->name, &v, l->err));
        v->flags = KILN_VALUE_F_INPUT;
        snprintf(what, sizeof(what), "graph input '%s'", vi->name);
        KILN_TRY(type_from_proto(l, vi->type, &v->type, what));
        if (!parent && (v->type.kind == KILN_VALUE_UNKNOWN || v->type.dtype == 0))
            return kiln_fail(l->err, KILN_ERR_INVALID_MODEL, "graph input '%s' has no element type", vi->name);
        g->inputs[g->n_inputs++] = v;
    }

    pending_list pl = {0};
    kiln_status s = KILN_OK;
    for (size_t i = 0; i < gp->n_node && s == KILN_OK; i++) s = add_node_proto(l, g, gp->node[i], NULL, &pl);

    for (size_t i = 0; i < gp->n_value_info && s == KILN_OK; i++) {
        const KilnOnnx__ValueInfoProto *vi = gp->value_info[i];
        kiln_value *v = vi->name ? kiln_graph_find(g, vi->name) : NULL;
        if (!v || v->producer == NULL) continue;
        snprintf(what, sizeof(what), "value_info '%s'", vi->name);
        s = type_from_proto(l, vi->type, &v->type, what);
    }
    for (uint32_t i = 0; i < pl.n && s == KILN_OK; i++) s = resolve_pending(l, g, &pl.items[i]);
    kiln_mem_free(l->a, pl.items);
    if (s != KILN_OK) return s;

    g->outputs = kiln_arena_calloc(ar, gp->n_output + 1, sizeof(kiln_value *));
    g->declared_outputs = kiln_arena_calloc(ar, gp->n_output + 1, sizeof(kiln_type));
    if (!g->outputs || !g->declared_outputs) return oom(l);
    for (size_t i = 0; i < gp->n_output; i++) {
        const KilnOnnx__ValueInfoProto *vi = gp->output[i];
        kiln_value *v = NULL;
        if (vi->name && *vi->name) KILN_TRY(kiln_graph_resolve(g, vi->name, &v, l->err));
        if (!v)
            return kiln_fail(l->err, KILN_ERR_INVALID_MODEL, "graph '%s': output '%s' is not produced by any node or input",
                             g->name, str_or_empty(vi->name));
        snprintf(what, sizeof(what), "graph output '%s'", vi->name);
        KILN_TRY(type_from_proto(l, vi->type, &g->declared_outputs[i], what));
        if (v->producer && v->type.kind == KILN_VALUE_UNKNOWN) v->type = g->declared_outputs[i];
        v->flags |= KILN_VALUE_F_OUTPUT;
        g->outputs[g->n_outputs++] = v;
    }
    return KILN_OK;
}

/* ---- model ---- */

static kiln_status load_model(loader *l) {
    KilnOnnx__ModelProto *mp = l->mp;
    kiln_model *m = l->m;
    kiln_arena *ar = &m->arena;
    if (!mp->has_ir_version)
        return kiln_fail(l->err, KILN_ERR_INVALID_MODEL, "not an ONNX model: ir_version is missing");
    m->ir_version = mp->ir_version;
    if (mp->ir_version < KILN_IR_VERSION_MIN || mp->ir_version > KILN_IR_VERSION_MAX)
        return kiln_fail(l->err, KILN_ERR_UNSUPPORTED, "unsupported ONNX IR version %lld (Kiln loads %d to %d)",
                         (long long)mp->ir_version, KILN_IR_VERSION_MIN, KILN_IR_VERSION_MAX);
    if (!mp->graph) return kiln_fail(l->err, KILN_ERR_INVALID_MODEL, "the model has no graph");
    m->opsets = kiln_arena_calloc(ar, mp->n_opset_import + 1, sizeof(kiln_opset));
    if (!m->opsets) return oom(l);
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const char *d = str_or_empty(mp->opset_import[i]->domain);
        if (strcmp(d, "ai.onnx") == 0) d = "";
        m->opsets[m->n_opsets].domain = kiln_arena_strdup(ar, d);
        m->opsets[m->n_opsets].version = mp->opset_import[i]->version;
        if (!m->opsets[m->n_opsets].domain) return oom(l);
        m->n_opsets++;
    }
    m->producer_name = kiln_arena_strdup(ar, str_or_empty(mp->producer_name));
    m->producer_version = kiln_arena_strdup(ar, str_or_empty(mp->producer_version));
    m->domain = kiln_arena_strdup(ar, str_or_empty(mp->domain));
    m->doc = kiln_arena_strdup(ar, str_or_empty(mp->doc_string));
    m->model_version = mp->model_version;
    m->metadata = kiln_arena_calloc(ar, mp->n_metadata_props + 1, sizeof(kiln_kv));
    if (!m->producer_name || !m->producer_version || !m->domain || !m->doc || !m->metadata) return oom(l);
    for (size_t i = 0; i < mp->n_metadata_props; i++) {
        m->metadata[i].key = kiln_arena_strdup(ar, str_or_empty(mp->metadata_props[i]->key));
        m->metadata[i].value = kiln_arena_strdup(ar, str_or_empty(mp->metadata_props[i]->value));
        if (!m->metadata[i].key || !m->metadata[i].value) return oom(l);
        m->n_metadata++;
    }
    KILN_TRY(build_graph(l, mp->graph, NULL, NULL, &m->graph));
    return kiln_graph_sort(m->graph, l->err);
}

/* While a mapped model file is unpacked, protobuf-c copies every weight out of it: a large
 * allocation means the weights before it are copied, so the mapping's pages are dropped from
 * the process (read-only file pages come back from the file if touched again). Peak memory is
 * then about the weights once, not twice. */
#define RELEASE_MIN ((size_t)1 << 20)

typedef struct release_alloc {
    ProtobufCAllocator pc;
    kiln_pb_alloc *inner;
    void *map;       /* the model file's mapping, or NULL for a caller's buffer */
    size_t size;
} release_alloc;

static void *release_then_alloc(void *ctx, size_t size) {
    release_alloc *r = ctx;
    if (size >= RELEASE_MIN) madvise(r->map, r->size, MADV_DONTNEED);
    return r->inner->pc.alloc(r->inner->pc.allocator_data, size);
}

static void release_free(void *ctx, void *p) {
    release_alloc *r = ctx;
    r->inner->pc.free(r->inner->pc.allocator_data, p);
}

static kiln_status load_buffer(const kiln_allocator *a, const void *data, size_t size, const char *dir, void *map,
                               kiln_model **out, kiln_error *err) {
    *out = NULL;
    if (size == 0) return kiln_fail(err, KILN_ERR_INVALID_MODEL, "the model is empty (0 bytes)");
    KILN_TRY(kiln_protobuf_check(&kiln_onnx__model_proto__descriptor, data, size, err));
    kiln_pb_alloc pa;
    kiln_pb_alloc_init(&pa, a);
    release_alloc ra = {{release_then_alloc, release_free, NULL}, &pa, map, size};
    ra.pc.allocator_data = &ra;
    KilnOnnx__ModelProto *mp = kiln_onnx__model_proto__unpack(map ? &ra.pc : &pa.pc, size, data);
    if (map) madvise(map, size, MADV_DONTNEED);
    if (!mp && pa.failed) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory parsing the model");
    if (!mp)
        return kiln_fail(err, KILN_ERR_INVALID_MODEL,
                         "not a valid ONNX model: the protobuf does not parse as a ModelProto");
    kiln_model *m;
    kiln_status s = kiln_model_create(a, &m, err);
    if (s == KILN_OK) {
        loader l = {m, a, {dir}, mp, err};
        s = load_model(&l);
        if (s != KILN_OK) kiln_model_destroy(m);
        else *out = m;
    }
    kiln_onnx__model_proto__free_unpacked(mp, &pa.pc);
    return s;
}

kiln_status kiln_model_load_buffer(const kiln_allocator *a, const void *data, size_t size,
                                   const char *dir, kiln_model **out, kiln_error *err) {
    return load_buffer(a, data, size, dir, NULL, out, err);
}

kiln_status kiln_model_load_file(const kiln_allocator *a, const char *path, const char *dir,
                                 kiln_model **out, kiln_error *err) {
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return kiln_fail(err, KILN_ERR_IO, "cannot open model '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return kiln_fail(err, KILN_ERR_IO, "model '%s' is not a regular file", path);
    }
    size_t size = (size_t)st.st_size;
    if (size == 0) {
        close(fd);
        return kiln_fail(err, KILN_ERR_INVALID_MODEL, "model '%s' is empty (0 bytes)", path);
    }
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return kiln_fail(err, KILN_ERR_IO, "cannot map model '%s': %s", path, strerror(errno));
    char folder[4096];
    if (!dir) {
        const char *slash = strrchr(path, '/');
        if (slash) snprintf(folder, sizeof(folder), "%.*s", (int)(slash - path), path);
        else snprintf(folder, sizeof(folder), ".");
        if (slash == path) snprintf(folder, sizeof(folder), "/");
        dir = folder;
    }
    kiln_status s = load_buffer(a, map, size, dir, map, out, err);
    munmap(map, size);
    if (s != KILN_OK && err) kiln_error_prefix(err, "%s: ", path);
    return s;
}

kiln_status kiln_read_file(const kiln_allocator *a, const char *path, void **data, size_t *size,
                           kiln_error *err) {
    *data = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return kiln_fail(err, KILN_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    kiln_status s = KILN_OK;
    if (fseek(f, 0, SEEK_END) != 0) goto io;
    long n = ftell(f);
    if (n < 0 || fseek(f, 0, SEEK_SET) != 0) goto io;
    *data = kiln_mem_alloc(a, (size_t)n + 1);
    if (!*data) {
        s = kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory reading '%s'", path);
        goto done;
    }
    if (n && fread(*data, 1, (size_t)n, f) != (size_t)n) {
        kiln_mem_free(a, *data);
        *data = NULL;
        goto io;
    }
    *size = (size_t)n;
    goto done;
io:
    s = kiln_fail(err, KILN_ERR_IO, "cannot read '%s'", path);
done:
    fclose(f);
    return s;
}
