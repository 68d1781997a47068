/* SPDX-License-Identifier: MIT */
/* Memory placement after partitioning: every value lives in the memory kind its producer's
 * provider writes; wherever a reader needs another kind (a device kernel's input, a shape input,
 * a graph output, a value read by a subgraph) the host inserts a kiln.Copy node, one per
 * (producer, kind) so copies are batched, or for a constant uploads it once per session. Then
 * the kernels' prepack hooks are offered the constants. Also the partition report (JSON). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "runtime/providers.h"

static const kiln_kind *kind_at(const kiln_session *s, uint32_t k) { return &s->providers->kinds[k]; }

static uint32_t node_kind(const kiln_session *s, const kiln_node *n) {
    const kiln_providers *ps = s->providers;
    return n->provider < ps->n ? ps->list[n->provider]->p->mem_kind : 0;
}

/* ---- the copy kernel ---- */

typedef struct copy_kernel {
    kiln_kernel abi;
    kiln_session *s;
} copy_kernel;

static int32_t copy_compute(kiln_kernel *k, kiln_kernel_ctx *ctx, kiln_error *err) {
    copy_kernel *ck = (copy_kernel *)k;
    uint32_t n = ctx->n_inputs;
    kiln_copy_region *regs = ctx->host->scratch(ctx, (size_t)n * sizeof(*regs) + 1);
    const kiln_copy_region **ptrs = ctx->host->scratch(ctx, (size_t)n * sizeof(*ptrs) + 1);
    if (!regs || !ptrs) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++) {
        const kiln_value_desc *src = ctx->inputs[i];
        kiln_value_desc *dst = ctx->outputs[i];
        if (!src || src->kind != KILN_VALUE_TENSOR) return kiln_fail(err, KILN_ERR_INTERNAL, "copy of a value that is no tensor");
        if (!dst) KILN_TRY((kiln_status)ctx->host->alloc_output(ctx, i, src->rank, src->dims, &dst, err));
        size_t bytes;
        if (dst->dtype != src->dtype || dst->count != src->count || !kiln_dtype_storage(src->dtype, (int64_t)src->count, &bytes))
            return kiln_fail(err, KILN_ERR_INTERNAL, "copy between mismatched tensors");
        if (!bytes) continue;
        kiln_copy_region *r = &regs[m];
        memset(r, 0, sizeof(*r));
        r->hdr.struct_size = sizeof(*r);
        r->hdr.abi_version = KILN_ABI_VERSION;
        r->src_kind = (uint32_t)src->mem_kind;
        r->dst_kind = (uint32_t)dst->mem_kind;
        r->src = src->data;
        r->src_offset = src->offset;
        r->dst = dst->data;
        r->dst_offset = dst->offset;
        r->bytes = bytes;
        ptrs[m] = r;
        m++;
    }
    return kiln_kind_copy(ck->s, ptrs, m, &ck->s->env->alloc, err);
}

static void copy_release(kiln_kernel *k) {
    copy_kernel *ck = (copy_kernel *)k;
    kiln_mem_free(&ck->s->env->alloc, ck);
}

static kiln_status make_copy_kernel(kiln_session *s, const kiln_node *n, kiln_prov *pv, kiln_error *err) {
    copy_kernel *ck = kiln_mem_calloc(&s->env->alloc, 1, sizeof(*ck));
    if (!ck) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    ck->abi.hdr.struct_size = sizeof(ck->abi);
    ck->abi.hdr.abi_version = KILN_ABI_VERSION;
    ck->abi.state = ck;
    ck->abi.compute = copy_compute;
    ck->abi.release = copy_release;
    ck->s = s;
    kiln_status st = kiln_partition_add_kernel(s, n, &ck->abi, pv, err);
    if (st != KILN_OK) copy_release(&ck->abi);
    return st;
}

/* ---- placement ---- */

/* A value needed in another memory kind, and what stands for it there. */
typedef struct need {
    kiln_value *src;
    uint32_t kind;
    kiln_value *result;          /* preset for graph outputs made on a device */
    uint32_t next;               /* next need with the same src (UINT32_MAX: none) */
    uint8_t grouped;
} need;

/* A reference to rewrite: input `slot` of n (implicit input slot - n_inputs past the inputs). */
typedef struct use {
    kiln_node *n;
    uint32_t slot;
    uint32_t need;
} use;

typedef struct place {
    kiln_session *s;
    kiln_graph *g;
    const kiln_allocator *a;
    need *needs;
    uint32_t n_needs, cap_needs;
    uint32_t *first;             /* per value id (of the ones existing when placement starts) */
    uint32_t n_first;
    use *uses;
    uint32_t n_uses, cap_uses;
    kiln_node **copies;
    uint32_t n_copies, cap_copies;
} place;

static kiln_status grow(const kiln_allocator *a, void **p, uint32_t *cap, uint32_t n, size_t item, kiln_error *err) {
    if (n < *cap) return KILN_OK;
    uint32_t nc = *cap ? *cap * 2 : 16;
    void *q = kiln_mem_grow(a, *p, (size_t)*cap * item, (size_t)nc * item);
    if (!q) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    *p = q;
    *cap = nc;
    return KILN_OK;
}

static kiln_status get_need(place *pl, kiln_value *src, uint32_t kind, uint32_t *out, kiln_error *err) {
    if (src->id >= pl->n_first) return kiln_fail(err, KILN_ERR_INTERNAL, "value '%s' appeared during placement", src->name);
    for (uint32_t e = pl->first[src->id]; e != UINT32_MAX; e = pl->needs[e].next)
        if (pl->needs[e].kind == kind) {
            *out = e;
            return KILN_OK;
        }
    KILN_TRY(grow(pl->a, (void **)&pl->needs, &pl->cap_needs, pl->n_needs, sizeof(need), err));
    need *e = &pl->needs[pl->n_needs];
    memset(e, 0, sizeof(*e));
    e->src = src;
    e->kind = kind;
    e->next = pl->first[src->id];
    pl->first[src->id] = pl->n_needs;
    *out = pl->n_needs++;
    return KILN_OK;
}

static kiln_status add_use(place *pl, kiln_node *n, uint32_t slot, uint32_t e, kiln_error *err) {
    KILN_TRY(grow(pl->a, (void **)&pl->uses, &pl->cap_uses, pl->n_uses, sizeof(use), err));
    pl->uses[pl->n_uses++] = (use){n, slot, e};
    return KILN_OK;
}

/* A new value of g standing for `src` in memory kind `kind` ("src@kind", made unique). */
static kiln_status new_value(place *pl, const kiln_value *src, uint32_t kind, kiln_value **out, kiln_error *err) {
    char name[512];
    kiln_error local;
    for (uint32_t i = 0;; i++) {
        if (i == 0) snprintf(name, sizeof(name), "%s@%s", src->name, kind_at(pl->s, kind)->name);
        else snprintf(name, sizeof(name), "%s@%s#%u", src->name, kind_at(pl->s, kind)->name, i);
        if (!kiln_graph_find(pl->g, name)) break;
        if (i > 1000) return kiln_fail(err, KILN_ERR_INTERNAL, "no free name for a copy of '%s'", src->name);
    }
    kiln_status st = kiln_graph_add_value(pl->g, name, out, &local);
    if (st != KILN_OK) return kiln_fail(err, st, "%s", local.msg);
    (*out)->type = src->type;
    (*out)->mem_kind = kind;
    return KILN_OK;
}

/* The constant `src` uploaded to `kind` once: a new constant value whose data is the block. */
static kiln_status upload(place *pl, kiln_value *src, uint32_t kind, kiln_value **out, kiln_error *err) {
    kiln_session *s = pl->s;
    kiln_partition *pt = s->partition;
    const kiln_const *c = src->constant;
    KILN_TRY(grow(pl->a, (void **)&pt->uploads, &pt->cap_uploads, pt->n_uploads, sizeof(kiln_upload), err));
    kiln_value *v;
    KILN_TRY(new_value(pl, src, kind, &v, err));
    kiln_const *dc = kiln_arena_calloc(&pl->g->model->arena, 1, sizeof(*dc));
    if (!dc) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    *dc = *c;
    dc->desc.dims = dc->dims;
    dc->desc.mem_kind = (int32_t)kind;
    dc->desc.offset = 0;
    void *block;
    char what[200];
    snprintf(what, sizeof(what), "the device copy of constant '%s'", src->name);
    KILN_TRY(kiln_budget_take(&s->budget, c->nbytes, NULL, what, err)); /* memory limit (runtime/run_limits.c) */
    KILN_TRY(kiln_kind_alloc(s, kind, c->nbytes, &block, err));
    kiln_upload *u = &pt->uploads[pt->n_uploads++];
    memset(u, 0, sizeof(*u));
    u->c = dc;
    u->src = src;
    u->kind = kind;
    u->block = block;
    dc->desc.data = block;
    if (c->nbytes) {
        kiln_copy_region r;
        memset(&r, 0, sizeof(r));
        r.hdr.struct_size = sizeof(r);
        r.hdr.abi_version = KILN_ABI_VERSION;
        r.src_kind = 0;
        r.dst_kind = kind;
        r.src = c->desc.data;
        r.dst = block;
        r.bytes = c->nbytes;
        const kiln_copy_region *rp = &r;
        kiln_status st = kiln_kind_copy(s, &rp, 1, pl->a, err);
        if (st != KILN_OK) return kiln_error_prefix(err, "uploading constant '%s': ", src->name);
    }
    v->constant = dc;
    v->flags |= KILN_VALUE_F_CONSTANT;
    *out = v;
    return KILN_OK;
}

/* Graph outputs made on a device: the producer now writes a new device value, and the output
 * itself becomes the host copy of it. Every reader is pointed at the device value. */
static kiln_status swap_outputs(place *pl, kiln_value **repl, kiln_error *err) {
    kiln_graph *g = pl->g;
    int any = 0;
    for (uint32_t k = 0; k < g->n_outputs; k++) {
        kiln_value *v = g->outputs[k];
        if (!v || v->mem_kind == 0 || repl[v->id] || !v->producer) continue;
        kiln_value *d;
        KILN_TRY(new_value(pl, v, v->mem_kind, &d, err));
        kiln_node *p = v->producer;
        p->outputs[v->producer_slot] = d;
        d->producer = p;
        d->producer_slot = v->producer_slot;
        for (uint32_t m = 0; m < p->n_members; m++)
            for (uint32_t o = 0; o < p->members[m]->n_outputs; o++)
                if (p->members[m]->outputs[o] == v) p->members[m]->outputs[o] = d;
        v->mem_kind = 0;
        v->producer = NULL;
        v->producer_slot = 0;
        repl[v->id] = d;
        any = 1;
    }
    if (!any) return KILN_OK;
    for (uint32_t i = 0; i < g->n_nodes; i++) {
        kiln_node *n = g->nodes[i];
        for (uint32_t j = 0; j < n->n_inputs; j++)
            if (n->inputs[j] && n->inputs[j]->id < pl->n_first && repl[n->inputs[j]->id]) n->inputs[j] = repl[n->inputs[j]->id];
        for (uint32_t m = 0; m < n->n_members; m++) {
            kiln_node *mn = n->members[m];
            for (uint32_t j = 0; j < mn->n_inputs; j++)
                if (mn->inputs[j] && mn->inputs[j]->id < pl->n_first && repl[mn->inputs[j]->id])
                    mn->inputs[j] = repl[mn->inputs[j]->id];
        }
        /* Values read by subgraphs: they need host memory, which the output itself is. */
    }
    return KILN_OK;
}

/* Points the subgraphs of n that read `from` at `to` instead. */
static void redirect_outer(kiln_node *n, const kiln_value *from, kiln_value *to) {
    for (uint32_t j = 0; j < n->n_attrs; j++) {
        const kiln_attr *at = &n->attrs[j];
        if (at->type != KILN_ATTR_GRAPH && at->type != KILN_ATTR_GRAPHS) continue;
        for (uint32_t k = 0; k < at->n; k++) {
            kiln_graph *sg = at->graphs[k];
            for (uint32_t v = 0; sg && v < sg->n_values; v++)
                if ((sg->values[v]->flags & KILN_VALUE_F_OUTER) && sg->values[v]->outer == from) sg->values[v]->outer = to;
        }
    }
}

/* One kiln.Copy node per (producer, kind): its inputs and outputs are every such value. */
static kiln_status make_copies(place *pl, kiln_error *err) {
    kiln_session *s = pl->s;
    const kiln_providers *ps = s->providers;
    for (uint32_t e = 0; e < pl->n_needs; e++) {
        need *ne = &pl->needs[e];
        if (ne->grouped || ne->src->constant) continue;
        uint32_t cnt = 0;
        for (uint32_t f = e; f < pl->n_needs; f++) {
            need *nf = &pl->needs[f];
            if (!nf->grouped && !nf->src->constant && nf->kind == ne->kind && nf->src->producer == ne->src->producer &&
                nf->src->mem_kind == ne->src->mem_kind)
                cnt++;
        }
        uint32_t from = ne->src->mem_kind, to = ne->kind;
        char name[256];
        snprintf(name, sizeof(name), "kiln_copy_%u_%s_to_%s", s->partition->n_copies++, kind_at(s, from)->name,
                 kind_at(s, to)->name);
        kiln_node *c;
        KILN_TRY(kiln_partition_new_node(pl->g, name, KILN_OP_KILN_Copy, cnt, cnt, &c, err));
        uint32_t slot = 0;
        for (uint32_t f = e; f < pl->n_needs; f++) {
            need *nf = &pl->needs[f];
            if (nf->grouped || nf->src->constant || nf->kind != ne->kind || nf->src->producer != ne->src->producer ||
                nf->src->mem_kind != ne->src->mem_kind)
                continue;
            nf->grouped = 1;
            if (!nf->result) KILN_TRY(new_value(pl, nf->src, nf->kind, &nf->result, err));
            c->inputs[slot] = nf->src;
            c->outputs[slot] = nf->result;
            nf->result->producer = c;
            nf->result->producer_slot = slot;
            nf->result->mem_kind = nf->kind;
            slot++;
        }
        kiln_prov *pv = kind_at(s, to)->prov ? kind_at(s, to)->prov : kind_at(s, from)->prov;
        c->provider = pv ? pv->index : ps->n - 1;
        KILN_TRY(make_copy_kernel(s, c, pv ? pv : ps->list[ps->n - 1], err));
        KILN_TRY(grow(pl->a, (void **)&pl->copies, &pl->cap_copies, pl->n_copies, sizeof(kiln_node *), err));
        pl->copies[pl->n_copies++] = c;
    }
    return KILN_OK;
}

/* 1 when a value of g or of its subgraphs other than `v` holds constant c, or another constant
 * whose bytes overlap c's: freeing c would pull them from under that reader. */
static int const_shared(const kiln_graph *g, const kiln_value *v, const kiln_const *c) {
    const char *lo = c->desc.data, *hi = lo + c->nbytes;
    for (uint32_t i = 0; i < g->n_values; i++) {
        const kiln_value *w = g->values[i];
        if (w == v || !w->constant) continue;
        const char *d = w->constant->desc.data;
        if (w->constant == c || (d && d < hi && d + w->constant->nbytes > lo)) return 1;
    }
    for (uint32_t i = 0; i < g->n_nodes; i++)
        for (uint32_t j = 0; j < g->nodes[i]->n_attrs; j++) {
            const kiln_attr *at = &g->nodes[i]->attrs[j];
            if (at->type != KILN_ATTR_GRAPH && at->type != KILN_ATTR_GRAPHS) continue;
            for (uint32_t k = 0; k < at->n; k++)
                if (at->graphs[k] && const_shared(at->graphs[k], v, c)) return 1;
        }
    return 0;
}

/* 1 when every read of host constant v in g is an input of a built-in CPU kernel that says it
 * packed it (prepack answers 1): implicit reads (subgraphs), other providers' nodes and nodes
 * without a kernel yet keep it. */
static int reads_all_packed(kiln_session *s, const kiln_graph *g, const kiln_value *v) {
    const kiln_providers *ps = s->providers;
    const kiln_partition *pt = s->partition;
    uint32_t seen = 0;
    for (uint32_t i = 0; i < g->n_nodes; i++) {
        const kiln_node *n = g->nodes[i];
        for (uint32_t j = 0; j < n->n_implicit; j++)
            if (n->implicit[j] == v) return 0;
        for (uint32_t j = 0; j < n->n_inputs; j++) {
            if (n->inputs[j] != v) continue;
            if (n->provider >= ps->n || ps->list[n->provider]->dl) return 0;
            const kiln_kernel *k = NULL;
            for (uint32_t q = 0; q < pt->n_kernels && !k; q++)
                if (pt->kernels[q].node == n) k = pt->kernels[q].kernel;
            int32_t packed = 0;
            kiln_error e;
            if (!k || !k->prepack || k->prepack((kiln_kernel *)k, j, &v->constant->desc, &packed, &e) != KILN_OK || packed != 1)
                return 0;
            seen++;
        }
    }
    return seen > 0;
}

/* Frees host constant v of the main graph when nothing but kernels that packed it reads it
 * (reads_all_packed), it is no graph output, no upload copies it and no other constant
 * shares its bytes; its descriptor keeps dtype and dims with data NULL. */
static void release_if_packed(kiln_session *s, kiln_graph *g, kiln_value *v) {
    kiln_const *c = v->constant;
    if (g != s->model->graph || !c || !c->desc.data || !c->nbytes || c->desc.mem_kind != 0 || v->mem_kind != 0 ||
        (v->flags & KILN_VALUE_F_OUTPUT))
        return;
    for (uint32_t o = 0; o < g->n_outputs; o++)
        if (g->outputs[o] == v) return;
    for (uint32_t u = 0; u < s->partition->n_uploads; u++)
        if (s->partition->uploads[u].src == v) return;
    if (!reads_all_packed(s, g, v) || const_shared(g, v, c) || !kiln_model_release_block(s->model, c->desc.data)) return;
    c->desc.data = NULL;
    s->released_bytes += c->nbytes;
}

void kiln_partition_release_packed(kiln_session *s, kiln_graph *g, const kiln_node *n) {
    for (uint32_t j = 0; j < n->n_inputs; j++)
        if (n->inputs[j] && n->inputs[j]->constant) release_if_packed(s, g, n->inputs[j]);
}

/* Offers every constant input of a kernel of g to its prepack hook, and frees uploads that every
 * reader has packed. In the main graph it also frees a host constant (a block the model owns)
 * when every read of it is by a kernel that packed it: no other node, graph output, upload,
 * subgraph or overlapping constant reads it. The bytes kernels hold of their own copies (the
 * built-in provider says how many) replace the freed ones in the session's weight figure. */
static kiln_status prepack(place *pl, uint32_t first_upload, kiln_error *err) {
    kiln_session *s = pl->s;
    kiln_partition *pt = s->partition;
    kiln_graph *g = pl->g;
    int main_graph = g == s->model->graph;
    uint32_t nv = g->n_values;
    uint32_t *reads = main_graph ? kiln_mem_calloc(pl->a, 2 * (size_t)nv + 2, sizeof(uint32_t)) : NULL;
    if (main_graph && !reads) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    uint32_t *packs = reads ? reads + nv + 1 : NULL;
    kiln_status st = KILN_OK;
    for (uint32_t i = 0; st == KILN_OK && i < pt->n_kernels; i++) {
        kiln_part_kernel *pk = &pt->kernels[i];
        const kiln_node *n = pk->node;
        if (n->graph != g || !pk->kernel || !pk->kernel->prepack) continue;
        int builtin = pk->prov->dl == NULL;
        if (builtin && main_graph) s->packed_bytes += kiln_cpu_kernel_held_bytes(pk->kernel);
        for (uint32_t j = 0; st == KILN_OK && j < n->n_inputs; j++) {
            const kiln_value *v = n->inputs[j];
            if (!v || !v->constant) continue;
            /* Subgraph kernels of the built-in provider keep reading their constants. */
            if (builtin && !main_graph) continue;
            int32_t packed = 0;
            st = (kiln_status)pk->kernel->prepack(pk->kernel, j, &v->constant->desc, &packed, err);
            if (st != KILN_OK) break;
            if (packs && packed == 1 && v->id < nv && g->values[v->id] == v) packs[v->id]++;
            for (uint32_t u = first_upload; u < pt->n_uploads; u++) {
                if (pt->uploads[u].c != v->constant) continue;
                pt->uploads[u].readers++;
                if (packed == 1) pt->uploads[u].packed++;
            }
        }
    }
    /* Readers that are not plugin kernels (none today: uploads only feed device kernels) keep it. */
    for (uint32_t i = 0; st == KILN_OK && i < g->n_nodes; i++) {
        const kiln_node *n = g->nodes[i];
        for (uint32_t j = 0; reads && j < n->n_inputs + n->n_implicit; j++) {
            const kiln_value *v = j < n->n_inputs ? n->inputs[j] : n->implicit[j - n->n_inputs];
            if (v && v->constant && v->id < nv && g->values[v->id] == v) reads[v->id]++;
        }
        if (n->provider < s->providers->n && s->providers->list[n->provider]->dl) continue;
        for (uint32_t j = 0; j < n->n_inputs; j++)
            for (uint32_t u = first_upload; n->inputs[j] && n->inputs[j]->constant && u < pt->n_uploads; u++)
                if (pt->uploads[u].c == n->inputs[j]->constant) pt->uploads[u].readers++;
    }
    for (uint32_t u = first_upload; st == KILN_OK && u < pt->n_uploads; u++) {
        kiln_upload *up = &pt->uploads[u];
        if (!up->readers || up->packed != up->readers) continue;
        kiln_kind_free(kind_at(s, up->kind), up->block);
        up->block = NULL;
        up->c->desc.data = NULL;
        up->released = 1;
    }
    for (uint32_t v = 0; st == KILN_OK && reads && v < nv; v++)
        if (g->values[v]->constant && reads[v] && packs[v] == reads[v]) release_if_packed(s, g, g->values[v]);
    kiln_mem_free(pl->a, reads);
    return st;
}

kiln_status kiln_partition_place(kiln_session *s, kiln_graph *g, kiln_error *err) {
    const kiln_allocator *a = &s->env->alloc;
    place pl;
    memset(&pl, 0, sizeof(pl));
    pl.s = s;
    pl.g = g;
    pl.a = a;
    uint32_t first_upload = s->partition->n_uploads;
    for (uint32_t v = 0; v < g->n_values; v++) g->values[v]->mem_kind = 0;
    for (uint32_t i = 0; i < g->n_nodes; i++) {
        const kiln_node *n = g->nodes[i];
        uint32_t k = node_kind(s, n);
        for (uint32_t o = 0; o < n->n_outputs; o++)
            if (n->outputs[o]) n->outputs[o]->mem_kind = k;
        for (uint32_t m = 0; m < n->n_members; m++)
            for (uint32_t o = 0; o < n->members[m]->n_outputs; o++)
                if (n->members[m]->outputs[o]) n->members[m]->outputs[o]->mem_kind = k;
    }
    uint32_t n_values0 = g->n_values;
    kiln_value **repl = kiln_mem_calloc(a, (size_t)n_values0 + 1, sizeof(*repl));
    kiln_status st = repl ? KILN_OK : kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    pl.n_first = n_values0;
    if (st == KILN_OK) st = swap_outputs(&pl, repl, err);
    if (st == KILN_OK) {
        pl.n_first = g->n_values;
        pl.first = kiln_mem_calloc(a, (size_t)pl.n_first + 1, sizeof(uint32_t));
        if (!pl.first) st = kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        for (uint32_t v = 0; pl.first && v < pl.n_first; v++) pl.first[v] = UINT32_MAX;
    }
    /* The host copy of a swapped output is that output. */
    for (uint32_t v = 0; st == KILN_OK && v < n_values0; v++) {
        if (!repl[v]) continue;
        uint32_t e;
        st = get_need(&pl, repl[v], 0, &e, err);
        if (st == KILN_OK) pl.needs[e].result = g->values[v];
    }
    uint32_t n_nodes = g->n_nodes;
    for (uint32_t i = 0; st == KILN_OK && i < n_nodes; i++) {
        kiln_node *n = g->nodes[i];
        if (n->provider == KILN_PROVIDER_NONE) continue;
        uint32_t nk = node_kind(s, n);
        for (uint32_t j = 0; st == KILN_OK && j < n->n_inputs + n->n_implicit; j++) {
            kiln_value *v = j < n->n_inputs ? n->inputs[j] : n->implicit[j - n->n_inputs];
            if (!v) continue;
            uint32_t want = j >= n->n_inputs || kiln_node_input_on_host(n, j) ? 0 : nk;
            if (v->mem_kind == want) continue;
            uint32_t e;
            if ((st = get_need(&pl, v, want, &e, err)) == KILN_OK) st = add_use(&pl, n, j, e, err);
        }
    }
    for (uint32_t e = 0; st == KILN_OK && e < pl.n_needs; e++) {
        need *ne = &pl.needs[e];
        if (ne->src->constant && !ne->result) {
            if (ne->src->mem_kind != 0 || ne->kind == 0)
                st = kiln_fail(err, KILN_ERR_INTERNAL, "constant '%s' would move from kind %u to %u", ne->src->name,
                               ne->src->mem_kind, ne->kind);
            else st = upload(&pl, ne->src, ne->kind, &ne->result, err);
        }
    }
    if (st == KILN_OK) st = make_copies(&pl, err);
    for (uint32_t u = 0; st == KILN_OK && u < pl.n_uses; u++) {
        use *us = &pl.uses[u];
        kiln_node *n = us->n;
        kiln_value *from = pl.needs[us->need].src, *to = pl.needs[us->need].result;
        if (us->slot >= n->n_inputs) {
            n->implicit[us->slot - n->n_inputs] = to;
            redirect_outer(n, from, to);
            continue;
        }
        n->inputs[us->slot] = to;
        for (uint32_t m = 0; m < n->n_members; m++)
            for (uint32_t j = 0; j < n->members[m]->n_inputs; j++)
                if (n->members[m]->inputs[j] == from) n->members[m]->inputs[j] = to;
    }
    if (st == KILN_OK && pl.n_copies) {
        kiln_node **list = kiln_arena_calloc(&g->model->arena, (size_t)g->n_nodes + pl.n_copies + 1, sizeof(*list));
        if (!list) st = kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        if (list) {
            memcpy(list, g->nodes, g->n_nodes * sizeof(*list));
            for (uint32_t c = 0; c < pl.n_copies; c++) {
                pl.copies[c]->id = g->n_nodes + c;
                list[g->n_nodes + c] = pl.copies[c];
            }
            g->nodes = list;
            g->n_nodes += pl.n_copies;
            g->cap_nodes = g->n_nodes + 1;
        }
    }
    /* Order, implicit inputs and consumer counts follow the rewired graph. */
    if (st == KILN_OK && pl.n_uses) st = kiln_graph_sort(g, err);
    if (st == KILN_OK) st = prepack(&pl, first_upload, err);
    kiln_mem_free(a, repl);
    kiln_mem_free(a, pl.first);
    kiln_mem_free(a, pl.needs);
    kiln_mem_free(a, pl.uses);
    kiln_mem_free(a, pl.copies);
    return st;
}

/* ---- the report ---- */

typedef struct jbuf {
    char *buf;
    size_t size, len;
} jbuf;

static void jb_printf(jbuf *b, const char *fmt, ...) KILN_PRINTF(2, 3);
static void jb_printf(jbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->len < b->size ? b->buf + b->len : NULL, b->len < b->size ? b->size - b->len : 0, fmt, ap);
    va_end(ap);
    if (n > 0) b->len += (size_t)n;
}

static void jb_str(jbuf *b, const char *s) {
    if (!s) {
        jb_printf(b, "null");
        return;
    }
    jb_printf(b, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') jb_printf(b, "\\%c", c);
        else if (c < 0x20) jb_printf(b, "\\u%04x", c);
        else jb_printf(b, "%c", c);
    }
    jb_printf(b, "\"");
}

enum { R_NODES, R_GROUPS, R_COPIES };

static const char *prov_name(const kiln_session *s, const kiln_node *n) {
    return n->provider < s->providers->n ? s->providers->list[n->provider]->name : NULL;
}

/* Writes the entries of one section for g and its subgraphs; *first tracks the commas. */
static void report_graph(const kiln_session *s, const kiln_graph *g, int what, int *first, uint32_t *counts, jbuf *b) {
    for (uint32_t i = 0; i < g->n_nodes; i++) {
        const kiln_node *n = g->nodes[i];
        int is_copy = n->op == &kiln_ops[KILN_OP_KILN_Copy], is_group = n->members != NULL;
        if (what == R_NODES && !is_copy) {
            for (uint32_t m = 0; m < (is_group ? n->n_members : 1); m++) {
                const kiln_node *mn = is_group ? n->members[m] : n;
                jb_printf(b, "%s{\"graph\":", *first ? "" : ",");
                *first = 0;
                jb_str(b, g->name);
                jb_printf(b, ",\"name\":");
                jb_str(b, mn->name);
                jb_printf(b, ",\"op\":");
                jb_str(b, mn->op_type);
                jb_printf(b, ",\"provider\":");
                jb_str(b, prov_name(s, n));
                jb_printf(b, ",\"group\":");
                jb_str(b, is_group ? n->name : NULL);
                jb_printf(b, "}");
                if (counts && n->provider < s->providers->n) counts[n->provider]++;
            }
        } else if (what == R_GROUPS && is_group) {
            jb_printf(b, "%s{\"graph\":", *first ? "" : ",");
            *first = 0;
            jb_str(b, g->name);
            jb_printf(b, ",\"name\":");
            jb_str(b, n->name);
            jb_printf(b, ",\"provider\":");
            jb_str(b, prov_name(s, n));
            jb_printf(b, ",\"nodes\":[");
            for (uint32_t m = 0; m < n->n_members; m++) {
                if (m) jb_printf(b, ",");
                jb_str(b, n->members[m]->name);
            }
            jb_printf(b, "],\"inputs\":%u,\"outputs\":%u}", n->n_inputs, n->n_outputs);
        } else if (what == R_COPIES && is_copy) {
            jb_printf(b, "%s{\"graph\":", *first ? "" : ",");
            *first = 0;
            jb_str(b, g->name);
            jb_printf(b, ",\"name\":");
            jb_str(b, n->name);
            jb_printf(b, ",\"from\":");
            jb_str(b, kind_at(s, n->inputs[0]->mem_kind)->name);
            jb_printf(b, ",\"to\":");
            jb_str(b, kind_at(s, n->outputs[0]->mem_kind)->name);
            jb_printf(b, ",\"values\":[");
            for (uint32_t k = 0; k < n->n_inputs; k++) {
                if (k) jb_printf(b, ",");
                jb_str(b, n->inputs[k]->name);
            }
            jb_printf(b, "]}");
        }
        for (uint32_t j = 0; j < n->n_attrs; j++) {
            const kiln_attr *at = &n->attrs[j];
            if (at->type != KILN_ATTR_GRAPH && at->type != KILN_ATTR_GRAPHS) continue;
            for (uint32_t k = 0; k < at->n; k++)
                if (at->graphs[k]) report_graph(s, at->graphs[k], what, first, counts, b);
        }
    }
}

kiln_status kiln_partition_report(const kiln_session *s, char *buf, size_t size, size_t *length, kiln_error *err) {
    const kiln_providers *ps = s->providers;
    const kiln_partition *pt = s->partition;
    const kiln_allocator *a = &s->env->alloc;
    jbuf b = {buf, size, 0};
    uint32_t *counts = kiln_mem_calloc(a, ps->n + 1, sizeof(uint32_t));
    if (!counts) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    /* Nodes first into a scratch pass, so the providers' entries can carry their node counts. */
    jbuf none = {NULL, 0, 0};
    int first = 1;
    report_graph(s, s->model->graph, R_NODES, &first, counts, &none);
    jb_printf(&b, "{\"providers\":[");
    for (uint32_t i = 0; i < ps->n; i++) {
        const kiln_prov *pv = ps->list[i];
        jb_printf(&b, "%s{\"name\":", i ? "," : "");
        jb_str(&b, pv->name);
        jb_printf(&b, ",\"library\":");
        jb_str(&b, pv->path);
        jb_printf(&b, ",\"version\":");
        jb_str(&b, pv->lib->version);
        jb_printf(&b, ",\"abi\":\"%u.%u\",\"device\":", KILN_ABI_MAJOR(pv->version), KILN_ABI_MINOR(pv->version));
        jb_str(&b, pv->device_id);
        jb_printf(&b, ",\"memory_kinds\":[");
        for (uint32_t k = 0; k < pv->n_kinds; k++) {
            if (k) jb_printf(&b, ",");
            jb_str(&b, ps->kinds[pv->first_kind + k].name);
        }
        jb_printf(&b, "],\"nodes\":%u,\"copy_calls\":%llu,\"bytes_copied\":%llu}", counts[i],
                  (unsigned long long)atomic_load(&((kiln_prov *)pv)->copy_calls),
                  (unsigned long long)atomic_load(&((kiln_prov *)pv)->copy_bytes));
    }
    jb_printf(&b, "],\"skipped\":[");
    for (uint32_t i = 0; i < ps->n_skipped; i++) {
        jb_printf(&b, "%s{\"name\":", i ? "," : "");
        jb_str(&b, ps->skipped[i].name);
        jb_printf(&b, ",\"library\":");
        jb_str(&b, ps->skipped[i].path);
        jb_printf(&b, ",\"reason\":\"no device\"}");
    }
    static const char *const sections[] = {"nodes", "groups", "copies"};
    for (int w = R_NODES; w <= R_COPIES; w++) {
        jb_printf(&b, "],\"%s\":[", sections[w]);
        first = 1;
        report_graph(s, s->model->graph, w, &first, NULL, &b);
    }
    jb_printf(&b, "],\"uploads\":[");
    for (uint32_t u = 0; pt && u < pt->n_uploads; u++) {
        const kiln_upload *up = &pt->uploads[u];
        jb_printf(&b, "%s{\"value\":", u ? "," : "");
        jb_str(&b, up->src->name);
        jb_printf(&b, ",\"to\":");
        jb_str(&b, kind_at(s, up->kind)->name);
        jb_printf(&b, ",\"bytes\":%zu,\"released_after_prepack\":%s}", up->c->nbytes, up->released ? "true" : "false");
    }
    jb_printf(&b, "]}");
    kiln_mem_free(a, counts);
    if (length) *length = b.len;
    if (buf && size) buf[b.len < size ? b.len : size - 1] = '\0';
    return KILN_OK;
}

kiln_status kiln_session_partition_report(const kiln_session *s, char *buf, size_t size, size_t *length, kiln_error *err) {
    if (length) *length = 0;
    if (!s || (size && !buf))
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_partition_report: NULL session or buffer");
    return kiln_partition_report(s, buf, size, length, err);
}
