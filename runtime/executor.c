/* SPDX-License-Identifier: MIT */
/* The executor: compiles graphs into the partition's kernels and runs them node after node or
 * (parallel mode) as nodes become ready, placing outputs by the memory plan, recording what a
 * first run sees for the planner, and serving kernels' requests (scratch, parallel_for, subgraphs). */
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
        kiln_tensor **memo = atomic_load(&xn->memo);
        if (memo) {
            for (uint32_t o = 0; o < xn->node->n_outputs; o++) kiln_tensor_destroy(memo[o]);
            kiln_mem_free(a, memo);
        }
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
    kiln_mem_free(a, xg->last_read);
    kiln_mem_free(a, xg->n_preds);
    kiln_mem_free(a, xg->succ_start);
    kiln_mem_free(a, xg->succ);
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

/* Ops computed once when every input is invariant: they move or combine data by their inputs
 * and attributes alone (no randomness, no state, no subgraph). Models that reorder weights at
 * run time (PyTorch LSTM gates exported as Slice + Concat of initializers, often inside an If)
 * then pay for it once per session instead of once per run. */
static const char *const memo_ops[] = {"Slice", "Concat", "Gather", "Transpose", "Cast", "Split", "Expand",
                                       "Tile", "Unsqueeze", "Squeeze", "Reshape", "Flatten", "Identity",
                                       "Add", "Sub", "Mul", "Div", "Neg", "Shape", "Size", "ConstantOfShape",
                                       "Range", "Pad"};

static int value_invariant(const kiln_exec_graph *xg, const kiln_value *v) {
    if (!v) return 1; /* an omitted optional input */
    for (const kiln_value *u = v; u; u = (u->flags & KILN_VALUE_F_OUTER) ? u->outer : NULL)
        if (u->constant) return 1;
    const kiln_node *p = v->producer;
    return p && p->graph == xg->g && p->id < xg->n_nodes && xg->nodes[p->id].node == p &&
           (xg->nodes[p->id].invariant || xg->nodes[p->id].skip);
}

static void mark_invariant(kiln_exec_graph *xg, kiln_exec_node *xn) {
    const kiln_node *n = xn->node;
    if (xn->skip || xn->subgraphs || n->n_implicit || !n->n_inputs || !n->n_outputs || *n->domain) return;
    int known = 0;
    for (size_t k = 0; k < sizeof(memo_ops) / sizeof(memo_ops[0]); k++)
        if (strcmp(n->op_type, memo_ops[k]) == 0) known = 1;
    if (!known) return;
    for (uint32_t i = 0; i < n->n_inputs; i++)
        if (!value_invariant(xg, n->inputs[i])) return;
    for (uint32_t o = 0; o < n->n_outputs; o++)
        if (n->outputs[o] && n->outputs[o]->type.kind != KILN_VALUE_TENSOR && n->outputs[o]->type.kind != KILN_VALUE_UNKNOWN) return;
    xn->invariant = 1;
}

/* The kernel the partitioner made for the node (runtime/partition.c). */
static kiln_status create_kernel(kiln_session *s, kiln_exec_node *xn, kiln_error *err) {
    return kiln_partition_take_kernel(s, xn->node, &xn->kernel, &xn->provider, err);
}

/* What the planner and the parallel executor need: when each value is last read, the widest
 * node, and the DAG of nodes that run (a node waits for the producers of its inputs). */
static kiln_status analyse(kiln_session *s, kiln_exec_graph *xg, kiln_error *err) {
    const kiln_allocator *a = &s->env->alloc;
    const kiln_graph *g = xg->g;
    uint32_t nn = xg->n_nodes;
    xg->last_read = kiln_mem_calloc(a, g->n_values + 1, sizeof(uint32_t));
    xg->n_preds = kiln_mem_calloc(a, nn + 1, sizeof(uint32_t));
    xg->succ_start = kiln_mem_calloc(a, nn + 2, sizeof(uint32_t));
    uint32_t *mark = kiln_mem_calloc(a, nn + 1, sizeof(uint32_t));
    kiln_status st = KILN_OK;
    if (!xg->last_read || !xg->n_preds || !xg->succ_start || !mark) {
        st = kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    for (uint32_t v = 0; v < g->n_values; v++) xg->last_read[v] = UINT32_MAX;
    for (int pass = 0; pass < 2; pass++) {
        uint32_t *fill = xg->succ_start; /* pass 1 advances a copy below */
        uint32_t *cursor = NULL;
        if (pass) {
            for (uint32_t i = 0; i < nn; i++) xg->succ_start[i + 1] += xg->succ_start[i];
            xg->succ = kiln_mem_calloc(a, xg->succ_start[nn] + 1, sizeof(uint32_t));
            cursor = kiln_mem_calloc(a, nn + 1, sizeof(uint32_t));
            if (!xg->succ || !cursor) {
                kiln_mem_free(a, cursor);
                st = kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
                goto done;
            }
            memset(mark, 0, (nn + 1) * sizeof(uint32_t));
        }
        for (uint32_t i = 0; i < nn; i++) {
            const kiln_exec_node *xn = &xg->nodes[i];
            const kiln_node *n = xn->node;
            if (xn->skip) continue;
            if (!pass) {
                xg->n_run++;
                if (n->n_inputs > xg->max_io) xg->max_io = n->n_inputs;
                if (n->n_outputs > xg->max_io) xg->max_io = n->n_outputs;
            }
            for (uint32_t j = 0; j < n->n_inputs + n->n_implicit; j++) {
                const kiln_value *v = j < n->n_inputs ? n->inputs[j] : n->implicit[j - n->n_inputs];
                if (!v || v->id >= g->n_values || g->values[v->id] != v) continue;
                if (!pass) xg->last_read[v->id] = i;
                const kiln_node *p = v->producer;
                if (!p || p->graph != g || xg->nodes[p->id].skip || mark[p->id] == i + 1) continue;
                mark[p->id] = i + 1;
                if (!pass) {
                    xg->n_preds[i]++;
                    fill[p->id + 1]++;
                } else {
                    xg->succ[xg->succ_start[p->id] + cursor[p->id]++] = i;
                }
            }
        }
        kiln_mem_free(a, cursor);
    }
done:
    kiln_mem_free(a, mark);
    return st;
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
        /* Host memory only: a provider's device outputs are its own business. */
        if (xn->provider && strcmp(xn->provider->name, "cpu") == 0) mark_invariant(xg, xn);
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
    if (st == KILN_OK) st = analyse(s, xg, err);
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

static void set_value(kiln_frame *f, uint32_t id, kiln_tensor *t) {
    if (f->owned[id] != t) kiln_tensor_destroy(f->owned[id]);
    f->owned[id] = t;
    f->desc[id] = t ? &t->desc : NULL;
}

/* ---- placing outputs ---- */

static void dims_text(char *buf, size_t size, int32_t dtype, int32_t rank, const int64_t *dims) {
    size_t w = (size_t)snprintf(buf, size, "%s [", kiln_dtype_name((kiln_dtype)dtype));
    for (int32_t i = 0; i < rank && w < size; i++) w += (size_t)snprintf(buf + w, size - w, "%s%lld", i ? "," : "", (long long)dims[i]);
    if (w < size) snprintf(buf + w, size - w, "]");
}

/* Storage for value `v` of the frame with the given type and shape, in order of preference: the
 * caller's tensor it must be computed into, a new tensor for the caller, the plan's arena, the
 * heap. `inputs` are the node's: the arena block is not used when an input of another size
 * occupies it (the plan reused it in place for a shape this run does not have). */
static kiln_status place(kiln_frame *f, const kiln_value *v, int32_t dtype, int32_t rank, const int64_t *dims,
                         const kiln_value_desc *const *inputs, uint32_t n_in, kiln_value_desc **out, kiln_error *err) {
    kiln_runctx *c = f->run;
    uint32_t id = v->id;
    if (c) {
        kiln_tensor *t = c->target[id];
        if (t) {
            if (t->desc.dtype == dtype && t->desc.rank == rank && t->desc.mem_kind == (int32_t)v->mem_kind &&
                (rank == 0 || memcmp(t->desc.dims, dims, (size_t)rank * sizeof(int64_t)) == 0)) {
                set_value(f, id, NULL);
                f->desc[id] = &t->desc;
                *out = &t->desc;
                return KILN_OK;
            }
            if (!c->move_out[id]) {
                char want[200], got[200];
                dims_text(want, sizeof(want), t->desc.dtype, t->desc.rank, t->desc.dims);
                dims_text(got, sizeof(got), dtype, rank, dims);
                return kiln_fail(err, KILN_ERR_SHAPE, "output '%s': the tensor given is %s, the result is %s", v->name,
                                 want, got);
            }
        }
        const kiln_plan *p = c->plan;
        if (p && !c->move_out[id] && p->off[id] != KILN_PLAN_NONE && dtype != KILN_DTYPE_STRING) {
            int64_t count;
            size_t bytes;
            uint32_t kind = p->kind[id];
            /* Host memory: a pointer into the arena. Device kinds: the arena block and an offset. */
            void *data = kind ? c->dev_arena[kind] : c->arena + p->off[id];
            uint64_t offset = kind ? p->off[id] : 0;
            if (data && kiln_dims_count(dims, rank, &count) && kiln_dtype_storage(dtype, count, &bytes) &&
                bytes <= p->size[id]) {
                int shared = 0, fits = 1;
                for (uint32_t j = 0; j < n_in; j++) {
                    const kiln_value_desc *in = inputs[j];
                    if (!in || in->kind != KILN_VALUE_TENSOR || in->data != data || in->offset != offset) continue;
                    size_t in_bytes;
                    shared = 1;
                    if (in->dtype != dtype || !kiln_dtype_storage(in->dtype, (int64_t)in->count, &in_bytes) || in_bytes != bytes)
                        fits = 0;
                }
                if (fits) {
                    kiln_value_desc *d = &c->vdesc[id];
                    int64_t *dd = c->vdims + (size_t)id * KILN_MAX_RANK;
                    if (rank) memcpy(dd, dims, (size_t)rank * sizeof(int64_t));
                    d->kind = KILN_VALUE_TENSOR;
                    d->dtype = dtype;
                    d->rank = rank;
                    d->mem_kind = (int32_t)kind;
                    d->dims = dd;
                    d->data = data;
                    d->offset = offset;
                    d->count = (uint64_t)count;
                    d->items = NULL;
#ifndef NDEBUG
                    /* Debug builds fill reused host memory with NaN-like bytes so a kernel that does
                     * not write every element of its output shows up in tests. */
                    if (!shared && !kind) memset(data, 0xff, bytes);
#endif
                    (void)shared;
                    set_value(f, id, NULL);
                    f->desc[id] = d;
                    *out = d;
                    return KILN_OK;
                }
            }
        }
    }
    kiln_tensor *t;
    KILN_TRY(kiln_value_alloc(f->session, v, dtype, rank, dims, &t, err));
#ifndef NDEBUG
    /* Arena memory is not zeroed, so in debug builds heap outputs are not either (the allocator
     * zeroes them): a kernel that relies on zeroed outputs fails the tests. */
    if (!t->desc.mem_kind && dtype != KILN_DTYPE_STRING && t->nbytes) memset(t->desc.data, 0xff, t->nbytes);
#endif
    set_value(f, id, t);
    *out = &t->desc;
    return KILN_OK;
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
    if (rank < 0 || rank > KILN_MAX_RANK || (rank && !dims))
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "output %u: rank %d is out of range", i, (int)rank);
    kiln_value_desc *cur = ctx->outputs[i];
    if (cur && cur->kind == KILN_VALUE_TENSOR && cur->rank == rank &&
        (rank == 0 || memcmp(cur->dims, dims, (size_t)rank * sizeof(int64_t)) == 0)) {
        *out = cur;
        return KILN_OK;
    }
    kiln_value_desc *d;
    KILN_TRY(place(c->frame, v, v->type.dtype, rank, dims, ctx->inputs, ctx->n_inputs, &d, err));
    ctx->outputs[i] = d;
    *out = d;
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
    uint64_t need = ((uint64_t)(bytes ? bytes : 1) + KILN_PLAN_ALIGN - 1) / KILN_PLAN_ALIGN * KILN_PLAN_ALIGN;
    c->scratch_bytes += need;
    kiln_runctx *r = c->frame->run;
    if (r && r->plan && c->scratch_used + need <= r->plan->scratch_size[c->idx]) {
        void *p = r->arena + r->plan->scratch_off[c->idx] + c->scratch_used;
        c->scratch_used += need;
        return p;
    }
    if (c->n_scratch == c->cap_scratch) {
        uint32_t nc = c->cap_scratch ? c->cap_scratch * 2 : 4;
        void **ns = kiln_mem_grow(a, c->scratch, c->cap_scratch * sizeof(void *), nc * sizeof(void *));
        if (!ns) return NULL;
        c->scratch = ns;
        c->cap_scratch = nc;
    }
    if (bytes > kiln_budget_left(&c->frame->session->budget)) return NULL; /* memory limit (runtime/run_limits.c) */
    void *p = kiln_mem_alloc(a, bytes);
    if (p) c->scratch[c->n_scratch++] = p;
    return p;
}

void kiln_call_parallel_for(kiln_kernel_ctx *ctx, size_t n, size_t grain, kiln_range_fn fn, void *arg) {
    /* Chunks after a cancellation or deadline are skipped (runtime/run_limits.c). */
    kiln_guard_parallel_for(kiln_frame_guard(CALL(ctx)->frame), CALL(ctx)->frame->session->pool, n, grain, fn, arg);
}

uint32_t kiln_call_thread_count(kiln_kernel_ctx *ctx) { return kiln_threadpool_size(CALL(ctx)->frame->session->pool); }
int32_t kiln_call_run_subgraph(kiln_kernel_ctx *ctx, const char *attr, uint32_t index,
                               const kiln_value_desc *const *inputs, uint32_t n_in,
                               const kiln_value_desc *const **outputs, uint32_t *n_out, kiln_error *err) {
    kiln_call *c = CALL(ctx);
    const kiln_node *n = c->xn->node;
    uint32_t ai = 0, flat = 0, n_flat = 0;
    for (uint32_t j = 0; j < n->n_attrs; j++)
        if (n->attrs[j].type == KILN_ATTR_GRAPH || n->attrs[j].type == KILN_ATTR_GRAPHS) n_flat += n->attrs[j].n;
    while (ai < n->n_attrs && strcmp(n->attrs[ai].name, attr) != 0) {
        if (n->attrs[ai].type == KILN_ATTR_GRAPH || n->attrs[ai].type == KILN_ATTR_GRAPHS) flat += n->attrs[ai].n;
        ai++;
    }
    if (ai == n->n_attrs || !c->xn->subgraphs || !((void **)c->xn->subgraphs)[ai] || index >= n->attrs[ai].n)
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "no subgraph attribute '%s'[%u]", attr, index);
    const kiln_exec_graph *sub = ((kiln_exec_graph **)((void **)c->xn->subgraphs)[ai])[index];
    const kiln_graph *g = sub->g;
    if (n_in != g->n_inputs)
        return kiln_fail(err, KILN_ERR_INVALID_MODEL, "subgraph '%s' takes %u inputs, %u given", g->name,
                         g->n_inputs, n_in);
    if (!c->frame->run) return kiln_fail(err, KILN_ERR_INTERNAL, "subgraph '%s' run outside a run context", g->name);
    kiln_runctx *sc;
    KILN_TRY(kiln_runctx_run_sub(c->frame->run, c->idx, flat + index, n_flat, sub, inputs, n_in, &sc, err));
    *outputs = sc->sub_outs;
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
        if (d->rank > 0) memcpy(sv->t.dims, d->dims, (size_t)d->rank * sizeof(int64_t)); /* scalars may have no dims */
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

/* Output 0 of an alias node (Reshape, Flatten, ...) as input 0's bytes under its new dims. */
static int alias_output(kiln_frame *f, const kiln_value *v, const kiln_value_desc *src, int32_t rank,
                        const int64_t *dims, kiln_value_desc **out) {
    kiln_runctx *c = f->run;
    int64_t count;
    if (!src || src->kind != KILN_VALUE_TENSOR || c->target[v->id] || c->move_out[v->id] ||
        !kiln_dims_count(dims, rank, &count) || (uint64_t)count != src->count)
        return 0;
    kiln_value_desc *d = &c->vdesc[v->id];
    int64_t *dd = c->vdims + (size_t)v->id * KILN_MAX_RANK;
    if (rank) memcpy(dd, dims, (size_t)rank * sizeof(int64_t));
    d->kind = KILN_VALUE_TENSOR;
    d->dtype = src->dtype;
    d->rank = rank;
    d->mem_kind = src->mem_kind;
    d->dims = dd;
    d->data = src->data;
    d->offset = src->offset;
    d->count = src->count;
    d->items = NULL;
    set_value(f, v->id, NULL);
    f->desc[v->id] = d;
    *out = d;
    return 1;
}

/* "[1,3,224,224] [64,3,7,7]" for a trace. */
static void shapes_text(char *buf, const kiln_value_desc *const *in, uint32_t n) {
    size_t w = 0, size = KILN_PROF_SHAPES;
    buf[0] = '\0';
    for (uint32_t i = 0; i < n && w + 1 < size; i++) {
        const kiln_value_desc *d = in[i];
        if (!d) w += (size_t)snprintf(buf + w, size - w, "%s-", i ? " " : "");
        else if (d->kind != KILN_VALUE_TENSOR) w += (size_t)snprintf(buf + w, size - w, "%s%s", i ? " " : "", d->kind == KILN_VALUE_SEQUENCE ? "seq" : "none");
        else {
            w += (size_t)snprintf(buf + w, size - w, "%s[", i ? " " : "");
            for (int32_t k = 0; k < d->rank && w < size; k++)
                w += (size_t)snprintf(buf + w, size - w, "%s%lld", k ? "," : "", (long long)d->dims[k]);
            if (w < size) w += (size_t)snprintf(buf + w, size - w, "]");
        }
    }
}

/* Notes what a recording run saw of node idx's outputs and scratch. */
static void record_node(kiln_frame *f, uint32_t idx, const kiln_node *n, int known_all, uint64_t scratch) {
    kiln_record *r = &f->run->rec;
    r->node_static[idx] = (uint8_t)known_all;
    if (scratch > r->scratch[idx]) r->scratch[idx] = scratch;
    for (uint32_t o = 0; o < n->n_outputs; o++) {
        const kiln_value *v = n->outputs[o];
        const kiln_value_desc *d = v ? f->desc[v->id] : NULL;
        size_t bytes;
        if (!d || d->kind != KILN_VALUE_TENSOR || f->run->prebound[v->id] ||
            !kiln_dtype_storage(d->dtype, (int64_t)d->count, &bytes))
            continue;
        r->seen[v->id] = 1;
        r->bytes[v->id] = bytes;
        r->dtype[v->id] = d->dtype;
        r->rank[v->id] = d->rank;
        r->kind[v->id] = (uint32_t)d->mem_kind;
        if (d->rank) memcpy(r->dims + (size_t)v->id * KILN_MAX_RANK, d->dims, (size_t)d->rank * sizeof(int64_t));
    }
}

/* A kiln.Copy node some of whose outputs the caller's device tensors stand for (I/O binding):
 * only the other slots are copied, the node's kernel seeing them packed at the front. */
static kiln_status run_copy_rest(kiln_frame *f, uint32_t idx, const kiln_slot *slot, int *skipped, kiln_error *err) {
    const kiln_exec_node *xn = &f->xg->nodes[idx];
    const kiln_node *n = xn->node;
    kiln_runctx *rc = f->run;
    uint32_t m = 0;
    *skipped = 1;
    for (uint32_t j = 0; j < n->n_outputs && j < n->n_inputs; j++) {
        const kiln_value *v = n->outputs[j];
        if (!v || rc->prebound[v->id]) continue;
        const kiln_value_desc *src = f->desc[n->inputs[j]->id];
        if (!src || src->kind != KILN_VALUE_TENSOR)
            return kiln_fail(err, KILN_ERR_INTERNAL, KILN_NODE_FMT ": input %u has not been computed", KILN_NODE_ARGS(n), j);
        slot->in[m] = src;
        KILN_TRY(place(f, v, src->dtype, src->rank, src->dims, NULL, 0, &slot->out[m], err));
        m++;
    }
    if (!m) return KILN_OK;
    *skipped = 0;
    kiln_call call;
    memset(&call, 0, sizeof(call));
    call.pub.hdr.struct_size = sizeof(call.pub);
    call.pub.hdr.abi_version = KILN_ABI_VERSION;
    call.pub.n_inputs = call.pub.n_outputs = m;
    call.pub.inputs = slot->in;
    call.pub.outputs = slot->out;
    call.pub.host = &kiln_host;
    call.frame = f;
    call.xn = xn;
    call.idx = idx;
    call.pub.stream = kiln_exec_stream(f->session, xn->provider); /* ABI 1.2 (runtime/device_run.c) */
    kiln_status st = (kiln_status)xn->kernel->compute(xn->kernel, &call.pub, err);
    kiln_call_device_done(&call, 0);
    for (uint32_t i = 0; i < call.n_scratch; i++) kiln_mem_free(&f->session->env->alloc, call.scratch[i]);
    kiln_mem_free(&f->session->env->alloc, call.scratch);
    if (st != KILN_OK && err && strncmp(err->msg, "node '", 6) != 0) kiln_error_prefix(err, KILN_NODE_FMT ": ", KILN_NODE_ARGS(n));
    return st;
}

static int has_prebound(const kiln_runctx *rc, const kiln_node *n) {
    if (!rc || !rc->n_touched || n->op != &kiln_ops[KILN_OP_KILN_Copy]) return 0;
    for (uint32_t o = 0; o < n->n_outputs; o++)
        if (n->outputs[o] && rc->prebound[n->outputs[o]->id]) return 1;
    return 0;
}

/* An invariant node's first outputs, copied and kept with the node for every later run. Out of
 * memory only means no copy is kept (the node then runs again next time). */
static void keep_outputs(kiln_frame *f, const kiln_exec_node *xn) {
    const kiln_allocator *a = &f->session->env->alloc;
    const kiln_node *n = xn->node;
    kiln_tensor **memo = kiln_mem_calloc(a, n->n_outputs + 1, sizeof(*memo));
    if (!memo) return;
    kiln_error e;
    uint32_t o = 0;
    for (; o < n->n_outputs; o++) {
        const kiln_value *v = n->outputs[o];
        if (!v) continue;
        const kiln_value_desc *d = f->desc[v->id];
        if (!d || d->kind != KILN_VALUE_TENSOR || d->mem_kind != 0 || kiln_tensor_clone_desc(a, d, &memo[o], &e) != KILN_OK)
            break;
    }
    kiln_tensor **none = NULL;
    if (o < n->n_outputs ||
        !atomic_compare_exchange_strong(&((kiln_exec_node *)xn)->memo, &none, memo)) { /* another run kept them first */
        for (uint32_t k = 0; k < n->n_outputs; k++) kiln_tensor_destroy(memo[k]);
        kiln_mem_free(a, memo);
    }
}

/* Runs node idx of the frame's graph with the call arrays of `slot`. */
static kiln_status run_node(kiln_frame *f, uint32_t idx, const kiln_slot *slot, kiln_error *err) {
    const kiln_exec_node *xn = &f->xg->nodes[idx];
    const kiln_node *n = xn->node;
    kiln_runctx *rc = f->run;
    const kiln_plan *p = rc ? rc->plan : NULL;
    const kiln_allocator *a = &f->session->env->alloc;
    const kiln_value_desc **in = slot->in;
    kiln_value_desc **out = slot->out;
    kiln_shape_val *sin = slot->sin, *sout = slot->sout;
    KILN_TRY(kiln_guard_check(kiln_frame_guard(f), n, err)); /* cancellation and deadline (runtime/run_limits.c) */
    uint64_t t0 = rc && rc->prof ? kiln_prof_now() : 0;
    if (has_prebound(rc, n)) {
        int skipped;
        KILN_TRY(run_copy_rest(f, idx, slot, &skipped, err));
        if (!p) record_node(f, idx, n, 0, 0);
        if (rc->prof && !skipped) {
            rc->prof[idx] = (kiln_prof_node){t0, kiln_prof_now(), kiln_prof_tid()};
            rc->prof_shapes[(size_t)idx * KILN_PROF_SHAPES] = '\0';
        }
        return KILN_OK;
    }
    kiln_tensor **memo = xn->invariant ? atomic_load_explicit(&((kiln_exec_node *)xn)->memo, memory_order_acquire) : NULL;
    if (memo) {
        /* Computed by an earlier run: its outputs are read where they are kept. */
        for (uint32_t o = 0; o < n->n_outputs; o++) {
            const kiln_value *v = n->outputs[o];
            if (!v) continue;
            set_value(f, v->id, NULL);
            f->desc[v->id] = &memo[o]->desc;
        }
        if (rc && !p) record_node(f, idx, n, 1, 0);
        return KILN_OK;
    }
    kiln_call call;
    memset(&call, 0, sizeof(call));
    kiln_status st = KILN_OK;
    int known_all = 1, aliased = 0;
    for (uint32_t i = 0; i < n->n_inputs; i++) {
        const kiln_value *v = n->inputs[i];
        in[i] = v ? f->desc[v->id] : NULL;
        if (v && !in[i]) {
            st = kiln_fail(err, KILN_ERR_INTERNAL, KILN_NODE_FMT ": input '%s' has not been computed", KILN_NODE_ARGS(n),
                           v->name);
            goto done;
        }
        /* Kernels size their outputs by the inferred dtype and read inputs by the run-time one: a
         * value whose run-time dtype is not the inferred one (a provider or a control-flow body that
         * broke its contract) is refused here rather than written past its buffer. */
        if (v && v->type.kind == KILN_VALUE_TENSOR && v->type.dtype && in[i]->kind == KILN_VALUE_TENSOR &&
            in[i]->dtype != v->type.dtype) {
            st = kiln_fail(err, KILN_ERR_INVALID_MODEL, KILN_NODE_FMT ": input '%s' is %s at run time, but %s was inferred",
                           KILN_NODE_ARGS(n), v->name, kiln_dtype_name((kiln_dtype)in[i]->dtype),
                           kiln_dtype_name((kiln_dtype)v->type.dtype));
            goto done;
        }
    }
    if (p && p->node_det[idx]) {
        /* Same signature, no value-dependent shapes: the dims are the plan's. */
        for (uint32_t o = 0; o < n->n_outputs; o++) {
            const kiln_value *v = n->outputs[o];
            out[o] = NULL;
            if (!v) continue;
            const int64_t *dims = p->dims + (size_t)v->id * KILN_MAX_RANK;
            if (o == 0 && p->alias[idx] && alias_output(f, v, in[0], p->rank[v->id], dims, &out[0])) {
                aliased = 1;
                continue;
            }
            if ((st = place(f, v, p->dtype[v->id], p->rank[v->id], dims, in, n->n_inputs, &out[o], err)) != KILN_OK)
                goto output_failed;
        }
    } else {
        for (uint32_t i = 0; i < n->n_inputs; i++) shape_val_of(in[i], &sin[i]);
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
            if (!v) continue;
            if (sout[o].t.kind != KILN_VALUE_TENSOR || !dims_known(&sout[o].t)) {
                known_all = 0;
                continue;
            }
            if (o == 0 && p && p->alias[idx] &&
                alias_output(f, v, in[0], sout[0].t.rank, sout[0].t.dims, &out[0])) {
                aliased = 1;
                continue;
            }
            if ((st = place(f, v, sout[o].t.dtype, sout[o].t.rank, sout[o].t.dims, in, n->n_inputs, &out[o], err)) !=
                KILN_OK)
                goto output_failed;
        }
    }
    if (st != KILN_OK) goto done;
    if (!aliased && !(rc && rc->replayed && rc->replayed == xn->provider)) { /* ABI 1.2: replayed by its provider */
        call.pub.hdr.struct_size = sizeof(call.pub);
        call.pub.hdr.abi_version = KILN_ABI_VERSION;
        call.pub.n_inputs = n->n_inputs;
        call.pub.n_outputs = n->n_outputs;
        call.pub.inputs = in;
        call.pub.outputs = out;
        call.pub.host = &kiln_host;
        call.frame = f;
        call.xn = xn;
        call.idx = idx;
        call.pub.stream = kiln_exec_stream(f->session, xn->provider); /* ABI 1.2 (runtime/device_run.c) */
        st = (kiln_status)xn->kernel->compute(xn->kernel, &call.pub, err);
        if (st != KILN_OK) {
            if (err && strncmp(err->msg, "node '", 6) != 0) kiln_error_prefix(err, KILN_NODE_FMT ": ", KILN_NODE_ARGS(n));
            goto done;
        }
        for (uint32_t o = 0; o < n->n_outputs; o++) {
            if (n->outputs[o] && !out[o]) {
                st = kiln_fail(err, KILN_ERR_PROVIDER, KILN_NODE_FMT ": the %s provider produced no output %u",
                               KILN_NODE_ARGS(n), xn->provider->name, o);
                goto done;
            }
        }
    }
    if (rc && !p) record_node(f, idx, n, known_all, call.scratch_bytes);
    if (xn->invariant) keep_outputs(f, xn);
    if (rc && rc->prof) {
        rc->prof[idx] = (kiln_prof_node){t0, kiln_prof_now(), kiln_prof_tid()};
        shapes_text(rc->prof_shapes + (size_t)idx * KILN_PROF_SHAPES, in, n->n_inputs);
    }
    goto done;
output_failed:
    if (err && strncmp(err->msg, "node '", 6) != 0) kiln_error_prefix(err, KILN_NODE_FMT ": ", KILN_NODE_ARGS(n));
done:
    kiln_call_device_done(&call, st == KILN_OK && rc && !p); /* ABI 1.2 device scratch (runtime/device_run.c) */
    for (uint32_t i = 0; i < call.n_scratch; i++) kiln_mem_free(a, call.scratch[i]);
    kiln_mem_free(a, call.scratch);
    return st;
}

/* Frees what died after node idx: the plan's list when planned, the graph's liveness otherwise. */
static void release_after(kiln_frame *f, uint32_t idx) {
    const kiln_plan *p = f->run ? f->run->plan : NULL;
    if (p) {
        for (uint32_t k = p->release_start[idx]; k < p->release_start[idx + 1]; k++)
            if (f->owned[p->release[k]]) set_value(f, p->release[k], NULL);
        return;
    }
    const kiln_exec_node *xn = &f->xg->nodes[idx];
    for (uint32_t k = 0; k < xn->n_free; k++) set_value(f, xn->free_after[k], NULL);
}

static kiln_status run_sequential(kiln_frame *f, const kiln_slot *slot, kiln_error *err) {
    const kiln_exec_graph *xg = f->xg;
    for (uint32_t i = 0; i < xg->n_nodes; i++) {
        if (xg->nodes[i].skip) continue;
        KILN_TRY(run_node(f, i, slot, err));
        release_after(f, i);
    }
    return KILN_OK;
}

/* ---- parallel mode ---- */

/* One inter-op thread: takes ready nodes until every node ran or one failed. */
static void par_loop(kiln_runctx *c, uint32_t slot) {
    const kiln_exec_graph *xg = c->frame.xg;
    for (;;) {
        pthread_mutex_lock(&c->qlock);
        while (c->ready_head == c->ready_tail && c->done < xg->n_run && c->par_status == KILN_OK)
            pthread_cond_wait(&c->qcond, &c->qlock);
        if (c->par_status != KILN_OK || c->ready_head == c->ready_tail) {
            pthread_mutex_unlock(&c->qlock);
            return;
        }
        uint32_t i = c->ready[c->ready_head++];
        pthread_mutex_unlock(&c->qlock);
        kiln_error e;
        kiln_error_clear(&e);
        kiln_status st = run_node(&c->frame, i, &c->slots[slot], &e);
        pthread_mutex_lock(&c->qlock);
        if (st != KILN_OK) {
            if (c->par_status == KILN_OK) {
                c->par_status = st;
                c->par_err = e;
            }
            pthread_cond_broadcast(&c->qcond);
            pthread_mutex_unlock(&c->qlock);
            return;
        }
        c->done++;
        uint32_t added = 0;
        for (uint32_t k = xg->succ_start[i]; k < xg->succ_start[i + 1]; k++)
            if (--c->pending[xg->succ[k]] == 0) {
                c->ready[c->ready_tail++] = xg->succ[k];
                added++;
            }
        if (added > 1 || c->done == xg->n_run) pthread_cond_broadcast(&c->qcond);
        else if (added == 1) pthread_cond_signal(&c->qcond);
        pthread_mutex_unlock(&c->qlock);
    }
}

static void par_range(void *arg, size_t begin, size_t end) {
    for (size_t t = begin; t < end; t++) par_loop(arg, (uint32_t)t);
}

static kiln_status run_parallel(kiln_runctx *c, kiln_error *err) {
    const kiln_exec_graph *xg = c->frame.xg;
    c->ready_head = c->ready_tail = c->done = 0;
    c->par_status = KILN_OK;
    for (uint32_t i = 0; i < xg->n_nodes; i++) {
        if (xg->nodes[i].skip) continue;
        c->pending[i] = xg->n_preds[i];
        if (!xg->n_preds[i]) c->ready[c->ready_tail++] = i;
    }
    kiln_threadpool_run(c->s->inter, c->n_slots, 1, par_range, c);
    if (c->par_status != KILN_OK) {
        if (err) *err = c->par_err;
        return c->par_status;
    }
    if (c->done != xg->n_run) return kiln_fail(err, KILN_ERR_INTERNAL, "parallel run stopped after %u of %u nodes", c->done, xg->n_run);
    return KILN_OK;
}

/* Runs the main graph of a run context: planned (sequential or parallel) when the signature has
 * a plan, else sequentially while recording. */
kiln_status kiln_exec_run_main(kiln_runctx *c, kiln_error *err) {
    kiln_status st = c->plan && c->s->inter && !c->is_sub ? run_parallel(c, err) : run_sequential(&c->frame, &c->slots[0], err);
    return st == KILN_OK ? kiln_guard_check(kiln_frame_guard(&c->frame), NULL, err) : st; /* a last node cut short (runtime/run_limits.c) */
}
