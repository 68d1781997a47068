/* SPDX-License-Identifier: MIT */
/* The sequential executor: compiles a graph into kernels (asking the providers), runs it in a
 * frame that holds each value while it is alive, computes output shapes with the op's shape
 * function before each kernel, serves kernels' requests (outputs with data-dependent shapes,
 * sequences, strings, scratch, subgraphs), and frees each value after its last reader. */
#include <stdio.h>
#include <string.h>

#include "graph/ops.h"
#include "graph/shape.h"
#include "runtime/providers.h"

#define STACK_IO 16

/* ---- compiling ---- */

void kiln_exec_free(kiln_session *s, kiln_exec_graph *xg) {
    if (!xg) return;
    const kiln_allocator *a = &s->env->alloc;
    for (uint32_t i = 0; i < xg->n_nodes; i++) {
        kiln_exec_node *xn = &xg->nodes[i];
        if (xn->kernel) xn->kernel->release(xn->kernel);
        kiln_mem_free(a, xn->free_after);
        if (xn->subgraphs) {
            for (uint32_t j = 0; j < xn->node->n_attrs; j++) kiln_mem_free(a, ((void **)xn->subgraphs)[j]);
            kiln_mem_free(a, xn->subgraphs);
        }
    }
    for (uint32_t i = 0; i < xg->n_children; i++) kiln_exec_free(s, xg->children[i]);
    kiln_mem_free(a, xg->children);
    kiln_mem_free(a, xg->nodes);
    kiln_mem_free(a, xg->free_start);
    kiln_mem_free(a, xg);
}

/* Per attribute: the compiled graphs of a GRAPH/GRAPHS attribute, stored as an array of
 * kiln_exec_graph* in xn->subgraphs[attr] (cast). */
static kiln_status compile_subgraphs(kiln_session *s, kiln_exec_graph *xg, kiln_exec_node *xn, kiln_error *err) {
    const kiln_allocator *a = &s->env->alloc;
    const kiln_node *n = xn->node;
    uint32_t total = 0;
    for (uint32_t j = 0; j < n->n_attrs; j++)
        if (n->attrs[j].type == KILN_ATTR_GRAPH || n->attrs[j].type == KILN_ATTR_GRAPHS) total += n->attrs[j].n;
    if (!total) return KILN_OK;
    xn->subgraphs = kiln_mem_calloc(a, n->n_attrs, sizeof(void *));
    kiln_exec_graph **children = kiln_mem_grow(a, xg->children, xg->n_children * sizeof(void *),
                                               (xg->n_children + total) * sizeof(void *));
    if (!xn->subgraphs || !children) {
        if (children) xg->children = children;
        return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    }
    xg->children = children;
    for (uint32_t j = 0; j < n->n_attrs; j++) {
        const kiln_attr *at = &n->attrs[j];
        if (at->type != KILN_ATTR_GRAPH && at->type != KILN_ATTR_GRAPHS) continue;
        kiln_exec_graph **arr = kiln_mem_calloc(a, at->n + 1, sizeof(*arr));
        if (!arr) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        ((void **)xn->subgraphs)[j] = arr;
        for (uint32_t k = 0; k < at->n; k++) {
            KILN_TRY(kiln_exec_compile(s, at->graphs[k], &arr[k], err));
            xg->children[xg->n_children++] = arr[k];
        }
    }
    return KILN_OK;
}

/* The kernel the partitioner made for the node (runtime/partition.c). */
static kiln_status create_kernel(kiln_session *s, kiln_exec_node *xn, kiln_error *err) {
    return kiln_partition_take_kernel(s, xn->node, &xn->kernel, &xn->provider, err);
}

kiln_status kiln_exec_compile(kiln_session *s, kiln_graph *g, kiln_exec_graph **out, kiln_error *err) {
    const kiln_allocator *a = &s->env->alloc;
    *out = NULL;
    kiln_exec_graph *xg = kiln_mem_calloc(a, 1, sizeof(*xg));
    uint32_t *last = kiln_mem_calloc(a, g->n_values + 1, sizeof(uint32_t));
    kiln_status st = KILN_OK;
    if (!xg || !last) {
        st = kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        goto fail;
    }
    xg->g = g;
    xg->nodes = kiln_mem_calloc(a, g->n_nodes + 1, sizeof(*xg->nodes));
    if (!xg->nodes) {
        st = kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        goto fail;
    }
    for (uint32_t i = 0; i < g->n_nodes; i++) {
        kiln_exec_node *xn = &xg->nodes[i];
        xn->node = g->nodes[i];
        xg->n_nodes = i + 1; /* what kiln_exec_free must clean up */
        int all_const = xn->node->n_outputs > 0;
        for (uint32_t o = 0; o < xn->node->n_outputs; o++)
            if (!xn->node->outputs[o] || !xn->node->outputs[o]->constant) all_const = 0;
        xn->skip = (uint8_t)all_const;
        if (xn->skip) continue;
        if ((st = create_kernel(s, xn, err)) != KILN_OK) goto fail;
        if ((st = compile_subgraphs(s, xg, xn, err)) != KILN_OK) goto fail;
    }
    /* Liveness: a value produced here dies after its last reader (or right after its producer
     * when nothing reads it); graph outputs and constants live as long as the frame. */
    const uint32_t NONE = UINT32_MAX;
    for (uint32_t v = 0; v < g->n_values; v++) last[v] = NONE;
    for (uint32_t i = 0; i < g->n_nodes; i++) {
        const kiln_node *n = g->nodes[i];
        for (uint32_t o = 0; o < n->n_outputs; o++)
            if (n->outputs[o]) last[n->outputs[o]->id] = i;
        for (uint32_t j = 0; j < n->n_inputs + n->n_implicit; j++) {
            const kiln_value *v = j < n->n_inputs ? n->inputs[j] : n->implicit[j - n->n_inputs];
            if (v && v->producer && v->producer->graph == g && last[v->id] != NONE && last[v->id] < i) last[v->id] = i;
        }
    }
    uint32_t *counts = kiln_mem_calloc(a, g->n_nodes + 1, sizeof(uint32_t));
    if (!counts) {
        st = kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        goto fail;
    }
    for (uint32_t v = 0; v < g->n_values; v++) {
        const kiln_value *val = g->values[v];
        if (last[v] == NONE || (val->flags & (KILN_VALUE_F_OUTPUT | KILN_VALUE_F_CONSTANT))) last[v] = NONE;
        else counts[last[v]]++;
    }
    for (uint32_t i = 0; i < g->n_nodes && st == KILN_OK; i++) {
        if (!counts[i]) continue;
        xg->nodes[i].free_after = kiln_mem_calloc(a, counts[i], sizeof(uint32_t));
        if (!xg->nodes[i].free_after) st = kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    }
    for (uint32_t v = 0; v < g->n_values && st == KILN_OK; v++)
        if (last[v] != NONE) xg->nodes[last[v]].free_after[xg->nodes[last[v]].n_free++] = v;
    kiln_mem_free(a, counts);
    if (st != KILN_OK) goto fail;
    kiln_mem_free(a, last);
    *out = xg;
    return KILN_OK;
fail:
    kiln_mem_free(a, last);
    kiln_exec_free(s, xg);
    return st;
}

/* ---- frames ---- */

kiln_status kiln_frame_create(kiln_session *s, const kiln_exec_graph *xg, kiln_frame *parent, kiln_frame **out,
                              kiln_error *err) {
    const kiln_allocator *a = &s->env->alloc;
    *out = NULL;
    uint32_t nv = xg->g->n_values;
    kiln_frame *f = kiln_mem_calloc(a, 1, sizeof(*f));
    if (!f) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    f->xg = xg;
    f->parent = parent;
    f->session = s;
    f->desc = kiln_mem_calloc(a, nv + 1, sizeof(*f->desc));
    f->owned = kiln_mem_calloc(a, nv + 1, sizeof(*f->owned));
    if (!f->desc || !f->owned) {
        kiln_frame_destroy(f);
        return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    }
    for (uint32_t v = 0; v < nv; v++) {
        const kiln_value *val = xg->g->values[v];
        if (val->constant) f->desc[v] = &val->constant->desc;
        else if ((val->flags & KILN_VALUE_F_OUTER) && parent) f->desc[v] = parent->desc[val->outer->id];
    }
    *out = f;
    return KILN_OK;
}

void kiln_frame_destroy(kiln_frame *f) {
    if (!f) return;
    const kiln_allocator *a = &f->session->env->alloc;
    if (f->owned)
        for (uint32_t v = 0; v < f->xg->g->n_values; v++) kiln_tensor_destroy(f->owned[v]);
    kiln_mem_free(a, f->owned);
    kiln_mem_free(a, f->desc);
    kiln_mem_free(a, f);
}

static void set_value(kiln_frame *f, uint32_t id, kiln_tensor *t) {
    if (f->owned[id] != t) kiln_tensor_destroy(f->owned[id]);
    f->owned[id] = t;
    f->desc[id] = t ? &t->desc : NULL;
}

/* ---- kernel-time services ---- */

static kiln_call *CALL(kiln_kernel_ctx *ctx) { return (kiln_call *)ctx; }

static const kiln_allocator *call_alloc(kiln_call *c) { return &c->frame->session->env->alloc; }

static kiln_status out_slot(kiln_call *c, uint32_t i, kiln_value **v, kiln_error *err) {
    const kiln_node *n = c->xn->node;
    if (i >= n->n_outputs || !n->outputs[i])
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "output %u does not exist or is omitted", i);
    *v = n->outputs[i];
    return KILN_OK;
}

int32_t kiln_call_alloc_output(kiln_kernel_ctx *ctx, uint32_t i, int32_t rank, const int64_t *dims,
                               kiln_value_desc **out, kiln_error *err) {
    kiln_call *c = CALL(ctx);
    kiln_value *v = NULL;
    KILN_TRY(out_slot(c, i, &v, err));
    kiln_value_desc *cur = ctx->outputs[i];
    if (cur && cur->kind == KILN_VALUE_TENSOR && cur->rank == rank &&
        (rank == 0 || memcmp(cur->dims, dims, (size_t)rank * sizeof(int64_t)) == 0)) {
        *out = cur;
        return KILN_OK;
    }
    int32_t dtype = v->type.dtype;
    kiln_tensor *t;
    KILN_TRY(kiln_value_alloc(c->frame->session, v, dtype, rank, dims, &t, err));
    set_value(c->frame, v->id, t);
    ctx->outputs[i] = &t->desc;
    *out = &t->desc;
    return KILN_OK;
}

int32_t kiln_call_alloc_sequence(kiln_kernel_ctx *ctx, uint32_t i, int32_t dtype, uint64_t n,
                                 kiln_value_desc **out, kiln_error *err) {
    kiln_call *c = CALL(ctx);
    kiln_value *v = NULL;
    KILN_TRY(out_slot(c, i, &v, err));
    kiln_tensor *t;
    KILN_TRY(kiln_sequence_new(call_alloc(c), dtype, n, &t, err));
    /* Items start as empty scalars until alloc_item sizes them. */
    for (uint64_t j = 0; j < n; j++) {
        kiln_status s = kiln_tensor_new(call_alloc(c), dtype, 1, (const int64_t[]){0}, &t->items[j], err);
        if (s != KILN_OK) {
            t->desc.count = j;
            kiln_tensor_destroy(t);
            return s;
        }
        t->item_descs[j] = &t->items[j]->desc;
        t->desc.count = j + 1;
    }
    set_value(c->frame, v->id, t);
    ctx->outputs[i] = &t->desc;
    *out = &t->desc;
    return KILN_OK;
}

int32_t kiln_call_alloc_item(kiln_kernel_ctx *ctx, uint32_t i, uint64_t j, int32_t rank, const int64_t *dims,
                             kiln_value_desc **out, kiln_error *err) {
    kiln_call *c = CALL(ctx);
    kiln_value *v = NULL;
    KILN_TRY(out_slot(c, i, &v, err));
    kiln_tensor *seq = c->frame->owned[v->id];
    if (!seq || seq->desc.kind != KILN_VALUE_SEQUENCE || j >= seq->desc.count)
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "output %u is not a sequence with item %llu", i,
                         (unsigned long long)j);
    kiln_tensor *t;
    KILN_TRY(kiln_tensor_new(call_alloc(c), seq->desc.dtype, rank, dims, &t, err));
    kiln_tensor_destroy(seq->items[j]);
    seq->items[j] = t;
    seq->item_descs[j] = &t->desc;
    *out = &t->desc;
    return KILN_OK;
}

int32_t kiln_call_set_output_none(kiln_kernel_ctx *ctx, uint32_t i, int32_t dtype, kiln_error *err) {
    kiln_call *c = CALL(ctx);
    kiln_value *v = NULL;
    KILN_TRY(out_slot(c, i, &v, err));
    kiln_tensor *t;
    KILN_TRY(kiln_optional_none(call_alloc(c), dtype, v->type.opt_kind ? v->type.opt_kind : KILN_VALUE_TENSOR, &t, err));
    set_value(c->frame, v->id, t);
    ctx->outputs[i] = &t->desc;
    return KILN_OK;
}

int32_t kiln_call_set_string(kiln_kernel_ctx *ctx, kiln_value_desc *t, uint64_t index, const char *s, size_t len,
                             kiln_error *err) {
    return kiln_tensor_string_set(call_alloc(CALL(ctx)), t, index, s, len, err);
}

void *kiln_call_scratch(kiln_kernel_ctx *ctx, size_t bytes) {
    kiln_call *c = CALL(ctx);
    const kiln_allocator *a = call_alloc(c);
    if (c->n_scratch == c->cap_scratch) {
        uint32_t nc = c->cap_scratch ? c->cap_scratch * 2 : 4;
        void **ns = kiln_mem_grow(a, c->scratch, c->cap_scratch * sizeof(void *), nc * sizeof(void *));
        if (!ns) return NULL;
        c->scratch = ns;
        c->cap_scratch = nc;
    }
    void *p = kiln_mem_alloc(a, bytes);
    if (p) c->scratch[c->n_scratch++] = p;
    return p;
}

void kiln_call_parallel_for(kiln_kernel_ctx *ctx, size_t n, size_t grain, kiln_range_fn fn, void *arg) {
    (void)ctx;
    (void)grain;
    if (n) fn(arg, 0, n);
}

int32_t kiln_call_run_subgraph(kiln_kernel_ctx *ctx, const char *attr, uint32_t index,
                               const kiln_value_desc *const *inputs, uint32_t n_in,
                               const kiln_value_desc *const **outputs, uint32_t *n_out, kiln_error *err) {
    kiln_call *c = CALL(ctx);
    const kiln_node *n = c->xn->node;
    const kiln_allocator *a = call_alloc(c);
    uint32_t ai = 0;
    while (ai < n->n_attrs && strcmp(n->attrs[ai].name, attr) != 0) ai++;
    if (ai == n->n_attrs || !c->xn->subgraphs || !((void **)c->xn->subgraphs)[ai] || index >= n->attrs[ai].n)
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "no subgraph attribute '%s'[%u]", attr, index);
    const kiln_exec_graph *sub = ((kiln_exec_graph **)((void **)c->xn->subgraphs)[ai])[index];
    const kiln_graph *g = sub->g;
    if (n_in != g->n_inputs)
        return kiln_fail(err, KILN_ERR_INVALID_MODEL, "subgraph '%s' takes %u inputs, %u given", g->name,
                         g->n_inputs, n_in);
    kiln_frame_destroy(c->child);
    c->child = NULL;
    kiln_frame *f;
    KILN_TRY(kiln_frame_create(c->frame->session, sub, c->frame, &f, err));
    c->child = f;
    for (uint32_t k = 0; k < n_in; k++) f->desc[g->inputs[k]->id] = inputs[k];
    for (uint32_t v = 0; v < g->n_values; v++) {
        const kiln_value *val = g->values[v];
        if ((val->flags & KILN_VALUE_F_OUTER) && !f->desc[v])
            return kiln_fail(err, KILN_ERR_INTERNAL, "outer value '%s' of subgraph '%s' is not available", val->name,
                             g->name);
    }
    KILN_TRY(kiln_frame_run(f, err));
    if (c->cap_child_outputs < g->n_outputs) {
        const kiln_value_desc **no = kiln_mem_grow(a, c->child_outputs, c->cap_child_outputs * sizeof(void *),
                                                   g->n_outputs * sizeof(void *));
        if (!no) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        c->child_outputs = no;
        c->cap_child_outputs = g->n_outputs;
    }
    for (uint32_t k = 0; k < g->n_outputs; k++) {
        c->child_outputs[k] = f->desc[g->outputs[k]->id];
        if (!c->child_outputs[k])
            return kiln_fail(err, KILN_ERR_INTERNAL, "subgraph '%s' did not produce output '%s'", g->name,
                             g->outputs[k]->name);
    }
    *outputs = c->child_outputs;
    *n_out = g->n_outputs;
    return KILN_OK;
}

/* ---- running ---- */

/* What shape inference sees of a runtime value. */
static void shape_val_of(const kiln_value_desc *d, kiln_shape_val *sv) {
    memset(sv, 0, sizeof(*sv));
    if (!d) return;
    sv->present = 1;
    sv->t.kind = (uint8_t)d->kind;
    sv->t.dtype = d->dtype;
    if (d->kind == KILN_VALUE_TENSOR) {
        sv->t.rank = d->rank;
        memcpy(sv->t.dims, d->dims, (size_t)d->rank * sizeof(int64_t));
        if (d->mem_kind == 0) sv->data = d->data;
    } else {
        sv->t.rank = -1;
    }
}

static int dims_known(const kiln_type *t) {
    if (t->rank < 0) return 0;
    for (int32_t i = 0; i < t->rank; i++)
        if (t->dims[i] < 0) return 0;
    return 1;
}

static kiln_status run_node(kiln_frame *f, const kiln_exec_node *xn, kiln_error *err) {
    const kiln_node *n = xn->node;
    const kiln_allocator *a = &f->session->env->alloc;
    const kiln_value_desc *in_stack[STACK_IO];
    kiln_value_desc *out_stack[STACK_IO];
    kiln_shape_val sin_stack[STACK_IO], sout_stack[STACK_IO];
    int heap_in = n->n_inputs > STACK_IO, heap_out = n->n_outputs > STACK_IO;
    const kiln_value_desc **in = heap_in ? kiln_mem_calloc(a, n->n_inputs, sizeof(*in)) : in_stack;
    kiln_shape_val *sin = heap_in ? kiln_mem_calloc(a, n->n_inputs, sizeof(*sin)) : sin_stack;
    kiln_value_desc **out = heap_out ? kiln_mem_calloc(a, n->n_outputs, sizeof(*out)) : out_stack;
    kiln_shape_val *sout = heap_out ? kiln_mem_calloc(a, n->n_outputs, sizeof(*sout)) : sout_stack;
    kiln_call call;
    memset(&call, 0, sizeof(call));
    kiln_status st = KILN_OK;
    if (!in || !sin || !out || !sout) {
        st = kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    for (uint32_t i = 0; i < n->n_inputs; i++) {
        const kiln_value *v = n->inputs[i];
        in[i] = v ? f->desc[v->id] : NULL;
        if (v && !in[i]) {
            st = kiln_fail(err, KILN_ERR_INTERNAL, KILN_NODE_FMT ": input '%s' has not been computed", KILN_NODE_ARGS(n),
                           v->name);
            goto done;
        }
        shape_val_of(in[i], &sin[i]);
    }
    for (uint32_t o = 0; o < n->n_outputs; o++) {
        out[o] = NULL;
        memset(&sout[o], 0, sizeof(sout[o]));
        sout[o].t.kind = KILN_VALUE_UNKNOWN;
        sout[o].t.rank = -1;
        sout[o].present = n->outputs[o] != NULL;
    }
    kiln_shape_ctx sc = {n, n->opset, n->n_inputs, n->n_outputs, sin, sout, err, 1};
    if ((st = n->op->infer(&sc)) != KILN_OK) goto done;
    for (uint32_t o = 0; o < n->n_outputs; o++) {
        const kiln_value *v = n->outputs[o];
        if (!v || sout[o].t.kind != KILN_VALUE_TENSOR || !dims_known(&sout[o].t)) continue;
        kiln_tensor *t;
        if ((st = kiln_value_alloc(f->session, v, sout[o].t.dtype, sout[o].t.rank, sout[o].t.dims, &t, err)) != KILN_OK) {
            kiln_error_prefix(err, KILN_NODE_FMT ": output '%s': ", KILN_NODE_ARGS(n), v->name);
            goto done;
        }
        set_value(f, v->id, t);
        out[o] = &t->desc;
    }
    call.pub.hdr.struct_size = sizeof(call.pub);
    call.pub.hdr.abi_version = KILN_ABI_VERSION;
    call.pub.n_inputs = n->n_inputs;
    call.pub.n_outputs = n->n_outputs;
    call.pub.inputs = in;
    call.pub.outputs = out;
    call.pub.host = &kiln_host;
    call.frame = f;
    call.xn = xn;
    st = (kiln_status)xn->kernel->compute(xn->kernel, &call.pub, err);
    if (st != KILN_OK) {
        if (err && strncmp(err->msg, "node '", 6) != 0) kiln_error_prefix(err, KILN_NODE_FMT ": ", KILN_NODE_ARGS(n));
        goto done;
    }
    for (uint32_t o = 0; o < n->n_outputs; o++) {
        if (n->outputs[o] && !out[o]) {
            st = kiln_fail(err, KILN_ERR_PROVIDER, KILN_NODE_FMT ": the %s provider produced no output %u", KILN_NODE_ARGS(n),
                           xn->provider->name, o);
            goto done;
        }
    }
done:
    kiln_frame_destroy(call.child);
    for (uint32_t i = 0; i < call.n_scratch; i++) kiln_mem_free(a, call.scratch[i]);
    kiln_mem_free(a, call.scratch);
    kiln_mem_free(a, call.child_outputs);
    if (heap_in) {
        kiln_mem_free(a, in);
        kiln_mem_free(a, sin);
    }
    if (heap_out) {
        kiln_mem_free(a, out);
        kiln_mem_free(a, sout);
    }
    return st;
}

kiln_status kiln_frame_run(kiln_frame *f, kiln_error *err) {
    const kiln_exec_graph *xg = f->xg;
    for (uint32_t i = 0; i < xg->n_nodes; i++) {
        const kiln_exec_node *xn = &xg->nodes[i];
        if (xn->skip) continue;
        KILN_TRY(run_node(f, xn, err));
        for (uint32_t k = 0; k < xn->n_free; k++) set_value(f, xn->free_after[k], NULL);
    }
    return KILN_OK;
}

/* ---- kiln_session_run ---- */

static const kiln_io_info *find_io(const kiln_io_info *ios, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(ios[i].name, name) == 0) return &ios[i];
    return NULL;
}

static kiln_status check_input(const kiln_session *s, const kiln_io_info *io, const kiln_tensor *t,
                               const kiln_value_desc **bind, kiln_error *err) {
    const kiln_value_desc *d = &t->desc;
    if (io->kind == KILN_VALUE_OPTIONAL) {
        if (t->desc.kind == KILN_VALUE_OPTIONAL) {
            *bind = t->content ? &t->content->desc : &t->desc;
            return KILN_OK;
        }
        *bind = d;
        return KILN_OK;
    }
    if (d->kind != (int32_t)io->kind)
        return kiln_fail(err, KILN_ERR_SHAPE, "input '%s': expected a %s, got a %s", io->name,
                         io->kind == KILN_VALUE_SEQUENCE ? "sequence" : "tensor",
                         d->kind == KILN_VALUE_SEQUENCE ? "sequence" : d->kind == KILN_VALUE_OPTIONAL ? "optional" : "tensor");
    if (io->dtype && d->dtype != (int32_t)io->dtype && !(d->kind == KILN_VALUE_SEQUENCE && d->count == 0))
        return kiln_fail(err, KILN_ERR_SHAPE, "input '%s': expected dtype %s, got %s", io->name, kiln_dtype_name(io->dtype),
                         kiln_dtype_name((kiln_dtype)d->dtype));
    if (d->kind == KILN_VALUE_TENSOR && io->rank >= 0) {
        int bad = d->rank != io->rank;
        for (int32_t i = 0; !bad && i < io->rank; i++)
            if (io->dims[i] >= 0 && io->dims[i] != d->dims[i]) bad = 1;
        if (bad) {
            char want[256], got[256];
            size_t w = 0, g = 0;
            want[0] = got[0] = '\0';
            for (int32_t i = 0; i < io->rank && w < sizeof(want); i++) {
                if (io->dims[i] >= 0) w += (size_t)snprintf(want + w, sizeof(want) - w, "%s%lld", i ? "," : "", (long long)io->dims[i]);
                else w += (size_t)snprintf(want + w, sizeof(want) - w, "%s%s", i ? "," : "", io->dim_names[i] ? io->dim_names[i] : "?");
            }
            for (int32_t i = 0; i < d->rank && g < sizeof(got); i++)
                g += (size_t)snprintf(got + g, sizeof(got) - g, "%s%lld", i ? "," : "", (long long)d->dims[i]);
            return kiln_fail(err, KILN_ERR_SHAPE, "input '%s': expected shape [%s], got [%s]", io->name, want, got);
        }
    }
    (void)s;
    *bind = d;
    return KILN_OK;
}

/* Hands output value `id` of the frame to the caller as a new tensor (moving it when the frame
 * owns it, copying otherwise), or writes it into the caller's tensor. */
static kiln_status deliver(kiln_session *s, kiln_frame *f, const kiln_io_info *io, kiln_tensor **slot,
                           kiln_error *err) {
    const kiln_allocator *a = &s->env->alloc;
    uint32_t id = io->value->id;
    const kiln_value_desc *d = f->desc[id];
    if (!d) return kiln_fail(err, KILN_ERR_INTERNAL, "output '%s' was not computed", io->name);
    if (*slot) {
        kiln_value_desc *dst = &(*slot)->desc;
        if (d->kind != KILN_VALUE_TENSOR || dst->kind != KILN_VALUE_TENSOR || dst->dtype != d->dtype ||
            dst->rank != d->rank || (d->rank && memcmp(dst->dims, d->dims, (size_t)d->rank * sizeof(int64_t)) != 0))
            return kiln_fail(err, KILN_ERR_SHAPE, "output '%s': the tensor given does not match the result's dtype and shape",
                             io->name);
        if (d->dtype != KILN_DTYPE_STRING) return kiln_tensor_copy_data(d, dst, err);
        for (uint64_t i = 0; i < d->count; i++) {
            const char *str = ((char *const *)d->data)[i];
            KILN_TRY(kiln_tensor_set_string(*slot, (size_t)i, str, strlen(str), err));
        }
        return KILN_OK;
    }
    kiln_tensor *t;
    if (f->owned[id] && &f->owned[id]->desc == d) {
        t = f->owned[id];
        f->owned[id] = NULL;
        f->desc[id] = &t->desc; /* still readable by a later output naming the same value */
    } else {
        KILN_TRY(kiln_tensor_clone_desc(a, d, &t, err));
    }
    if (io->kind == KILN_VALUE_OPTIONAL && t->desc.kind != KILN_VALUE_OPTIONAL) {
        kiln_tensor *opt;
        kiln_status st = kiln_optional_none(a, t->desc.dtype, t->desc.kind, &opt, err);
        if (st != KILN_OK) {
            kiln_tensor_destroy(t);
            return st;
        }
        opt->content = t;
        t = opt;
    }
    *slot = t;
    return KILN_OK;
}

kiln_status kiln_session_run(kiln_session *s, const char *const *input_names, const kiln_tensor *const *inputs,
                             size_t n_inputs, const char *const *output_names, kiln_tensor **outputs, size_t n_outputs,
                             kiln_error *err) {
    kiln_error local;
    if (!err) err = &local;
    if (!s || (n_inputs && !inputs) || (n_outputs && !outputs))
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_run: NULL session, inputs or outputs");
    if (!input_names && n_inputs != s->n_inputs)
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_run: the model takes %zu inputs, %zu given",
                         s->n_inputs, n_inputs);
    if (!output_names && n_outputs != s->n_outputs)
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_run: the model has %zu outputs, %zu requested",
                         s->n_outputs, n_outputs);
    kiln_frame *f;
    KILN_TRY(kiln_frame_create(s, s->main, NULL, &f, err));
    kiln_status st = KILN_OK;
    uint8_t *created = NULL;
    const kiln_io_info **outs = NULL;
    for (size_t i = 0; i < n_inputs; i++) {
        const kiln_io_info *io = input_names ? find_io(s->inputs, s->n_inputs, input_names[i] ? input_names[i] : "")
                                             : &s->inputs[i];
        if (!io) {
            st = kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_run: the model has no input '%s'", input_names[i]);
            goto done;
        }
        if (!inputs[i]) {
            st = kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_run: input '%s' is NULL", io->name);
            goto done;
        }
        if (f->desc[io->value->id]) {
            st = kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_run: input '%s' is given twice", io->name);
            goto done;
        }
        if ((st = check_input(s, io, inputs[i], &f->desc[io->value->id], err)) != KILN_OK) goto done;
    }
    for (size_t i = 0; i < s->n_inputs; i++) {
        if (!f->desc[s->inputs[i].value->id]) {
            st = kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_run: input '%s' is missing", s->inputs[i].name);
            goto done;
        }
    }
    created = kiln_mem_calloc(&s->env->alloc, n_outputs + 1, 1);
    outs = kiln_mem_calloc(&s->env->alloc, n_outputs + 1, sizeof(*outs));
    if (!created || !outs) {
        st = kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n_outputs; i++) {
        outs[i] = output_names ? find_io(s->outputs, s->n_outputs, output_names[i] ? output_names[i] : "") : &s->outputs[i];
        if (!outs[i]) {
            st = kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_run: the model has no output '%s'", output_names[i]);
            goto done;
        }
    }
    if ((st = kiln_frame_run(f, err)) != KILN_OK) goto done;
    for (size_t i = 0; i < n_outputs; i++) {
        created[i] = outputs[i] == NULL;
        if ((st = deliver(s, f, outs[i], &outputs[i], err)) != KILN_OK) goto done;
    }
done:
    if (st != KILN_OK && created) {
        for (size_t i = 0; i < n_outputs; i++) {
            if (created[i]) {
                kiln_tensor_destroy(outputs[i]);
                outputs[i] = NULL;
            }
        }
    }
    kiln_mem_free(&s->env->alloc, created);
    kiln_mem_free(&s->env->alloc, outs);
    kiln_frame_destroy(f);
    return st;
}
