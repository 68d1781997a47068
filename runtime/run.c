/* SPDX-License-Identifier: MIT */
/* Running a session: run contexts (reused so a warm run allocates nothing), the per-signature
 * plan cache, binding inputs and outputs, handing outputs to the caller, kiln_session_run. */
#include <stdio.h>
#include <string.h>

#include "runtime/providers.h"

/* ---- run contexts ---- */

void kiln_runctx_destroy(kiln_runctx *c) {
    if (!c) return;
    const kiln_allocator *a = &c->s->env->alloc;
    kiln_frame *f = &c->frame;
    for (kiln_runctx *k = c->kids, *next; k; k = next) {
        next = k->next_kid;
        kiln_runctx_destroy(k);
    }
    if (c->sub)
        for (uint32_t i = 0; i < f->xg->n_nodes; i++) kiln_mem_free(a, c->sub[i]);
    kiln_mem_free(a, c->sub);
    kiln_mem_free(a, c->sig_ids);
    kiln_mem_free(a, (void *)c->sub_outs);
    for (uint32_t i = 0; i < c->n_own; i++) kiln_plan_free(a, c->own[i]);
    if (f->owned)
        for (uint32_t v = 0; v < f->xg->g->n_values; v++) kiln_tensor_destroy(f->owned[v]);
    kiln_mem_free(a, f->owned);
    kiln_mem_free(a, (void *)f->desc);
    kiln_mem_free(a, (void *)c->rest);
    kiln_mem_free(a, c->vdesc);
    kiln_mem_free(a, c->vdims);
    kiln_mem_free(a, c->target);
    kiln_mem_free(a, c->move_out);
    kiln_mem_free(a, c->prebound);
    kiln_mem_free(a, c->touched);
    kiln_record_free(a, &c->rec);
    kiln_mem_free(a, c->arena);
    kiln_budget_give(&c->s->budget, c->arena_cap);
    for (uint32_t k = 1; k < KILN_PLAN_KINDS; k++) {
        if (c->dev_arena[k]) kiln_kind_free(&c->s->providers->kinds[k], c->dev_arena[k]);
        kiln_budget_give(&c->s->budget, c->dev_cap[k]);
    }
    kiln_mem_free(a, c->sig);
    for (uint32_t i = 0; c->slots && i < c->n_slots; i++) {
        kiln_mem_free(a, (void *)c->slots[i].in);
        kiln_mem_free(a, c->slots[i].out);
        kiln_mem_free(a, c->slots[i].sin);
        kiln_mem_free(a, c->slots[i].sout);
    }
    kiln_mem_free(a, c->slots);
    kiln_mem_free(a, (void *)c->outs);
    kiln_mem_free(a, c->created);
    kiln_mem_free(a, c->pending);
    kiln_mem_free(a, c->ready);
    if (c->q_ready) {
        pthread_mutex_destroy(&c->qlock);
        pthread_cond_destroy(&c->qcond);
    }
    kiln_mem_free(a, c->prof);
    kiln_mem_free(a, c->prof_shapes);
    kiln_mem_free(a, c);
}

/* A run context for graph xg: the main graph, or (is_sub) a subgraph run by a node. */
static kiln_status ctx_create(kiln_session *s, const kiln_exec_graph *xg, int is_sub, kiln_runctx **out,
                              kiln_error *err) {
    const kiln_allocator *a = &s->env->alloc;
    const kiln_graph *g = xg->g;
    uint32_t nv = g->n_values, nn = xg->n_nodes;
    *out = NULL;
    kiln_runctx *c = kiln_mem_calloc(a, 1, sizeof(*c));
    if (!c) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    c->s = s;
    c->is_sub = is_sub;
    c->frame.xg = xg;
    c->frame.session = s;
    c->frame.run = c;
    c->frame.desc = kiln_mem_calloc(a, nv + 1, sizeof(*c->frame.desc));
    c->frame.owned = kiln_mem_calloc(a, nv + 1, sizeof(*c->frame.owned));
    c->rest = kiln_mem_calloc(a, nv + 1, sizeof(*c->rest));
    c->vdesc = kiln_mem_calloc(a, nv + 1, sizeof(*c->vdesc));
    c->vdims = kiln_mem_calloc(a, (size_t)(nv + 1) * KILN_MAX_RANK, sizeof(*c->vdims));
    c->target = kiln_mem_calloc(a, nv + 1, sizeof(*c->target));
    c->move_out = kiln_mem_calloc(a, nv + 1, 1);
    c->prebound = kiln_mem_calloc(a, nv + 1, 1);
    c->touched = kiln_mem_calloc(a, nv + 1, sizeof(*c->touched));
    c->n_slots = s->inter && !is_sub ? s->inter_threads : 1;
    c->slots = kiln_mem_calloc(a, c->n_slots, sizeof(*c->slots));
    c->cap_outs = is_sub ? 0 : s->n_outputs;
    c->sub = kiln_mem_calloc(a, nn + 1, sizeof(*c->sub));
    uint32_t n_sig = is_sub ? g->n_inputs : (uint32_t)s->n_inputs;
    if (is_sub)
        for (uint32_t v = 0; v < nv; v++)
            if (g->values[v]->flags & KILN_VALUE_F_OUTER) n_sig++;
    c->sig_ids = kiln_mem_calloc(a, n_sig + 1, sizeof(*c->sig_ids));
    if (is_sub) c->sub_outs = kiln_mem_calloc(a, g->n_outputs + 1, sizeof(*c->sub_outs));
    c->outs = kiln_mem_calloc(a, c->cap_outs + 1, sizeof(*c->outs));
    c->created = kiln_mem_calloc(a, c->cap_outs + 1, 1);
    int ok = c->frame.desc && c->frame.owned && c->rest && c->vdesc && c->vdims && c->target && c->move_out &&
             c->prebound && c->touched && c->slots && c->outs && c->created && c->sub && c->sig_ids &&
             (!is_sub || c->sub_outs);
    if (ok) {
        if (is_sub) {
            for (uint32_t i = 0; i < g->n_inputs; i++) c->sig_ids[c->n_sig_ids++] = g->inputs[i]->id;
            for (uint32_t v = 0; v < nv; v++)
                if (g->values[v]->flags & KILN_VALUE_F_OUTER) c->sig_ids[c->n_sig_ids++] = v;
        } else {
            for (size_t i = 0; i < s->n_inputs; i++) c->sig_ids[c->n_sig_ids++] = s->inputs[i].value->id;
        }
    }
    for (uint32_t i = 0; ok && i < c->n_slots; i++) {
        size_t n = (size_t)xg->max_io + 1;
        kiln_slot *sl = &c->slots[i];
        sl->in = kiln_mem_calloc(a, n, sizeof(*sl->in));
        sl->out = kiln_mem_calloc(a, n, sizeof(*sl->out));
        sl->sin = kiln_mem_calloc(a, n, sizeof(*sl->sin));
        sl->sout = kiln_mem_calloc(a, n, sizeof(*sl->sout));
        ok = sl->in && sl->out && sl->sin && sl->sout;
    }
    if (ok && s->inter && !is_sub) {
        c->pending = kiln_mem_calloc(a, nn + 1, sizeof(*c->pending));
        c->ready = kiln_mem_calloc(a, nn + 1, sizeof(*c->ready));
        ok = c->pending && c->ready;
        if (ok) {
            pthread_mutex_init(&c->qlock, NULL);
            pthread_cond_init(&c->qcond, NULL);
            c->q_ready = 1;
        }
    }
    if (ok && s->prof && !is_sub) {
        c->prof = kiln_mem_calloc(a, nn + 1, sizeof(*c->prof));
        c->prof_shapes = kiln_mem_calloc(a, (size_t)(nn + 1) * KILN_PROF_SHAPES, 1);
        ok = c->prof && c->prof_shapes;
    }
    if (!ok) {
        kiln_runctx_destroy(c);
        return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for a run");
    }
    kiln_status st = kiln_record_init(a, &c->rec, nv, nn, err);
    if (st != KILN_OK) {
        kiln_runctx_destroy(c);
        return st;
    }
    for (uint32_t v = 0; v < nv; v++) {
        const kiln_value *val = xg->g->values[v];
        kiln_desc_init(&c->vdesc[v]);
        if (val->constant) c->rest[v] = &val->constant->desc;
    }
    memcpy((void *)c->frame.desc, c->rest, nv * sizeof(*c->rest));
    *out = c;
    return KILN_OK;
}

kiln_status kiln_runctx_create(kiln_session *s, kiln_runctx **out, kiln_error *err) {
    return ctx_create(s, s->main, 0, out, err);
}

kiln_status kiln_runctx_acquire(kiln_session *s, kiln_runctx **out, kiln_error *err) {
    pthread_mutex_lock(&s->lock);
    kiln_runctx *c = s->free_ctx;
    if (c) s->free_ctx = c->next;
    pthread_mutex_unlock(&s->lock);
    if (c) {
        c->next = NULL;
        *out = c;
        return KILN_OK;
    }
    return kiln_runctx_create(s, out, err);
}

void kiln_runctx_release(kiln_runctx *c) {
    kiln_session *s = c->s;
    pthread_mutex_lock(&s->lock);
    c->next = s->free_ctx;
    s->free_ctx = c;
    pthread_mutex_unlock(&s->lock);
}

void kiln_runctx_reset(kiln_runctx *c) {
    kiln_frame *f = &c->frame;
    uint32_t nv = f->xg->g->n_values;
    for (kiln_runctx *k = c->kids; k; k = k->next_kid)
        if (k->dirty) kiln_runctx_reset(k);
    c->dirty = 0;
    for (uint32_t v = 0; v < nv; v++)
        if (f->owned[v]) {
            kiln_tensor_destroy(f->owned[v]);
            f->owned[v] = NULL;
        }
    memcpy((void *)f->desc, c->rest, nv * sizeof(*c->rest));
    if (!c->is_sub)
        for (size_t i = 0; i < c->s->n_outputs; i++) c->move_out[c->s->outputs[i].value->id] = 0;
    for (uint32_t k = 0; k < c->n_touched; k++) {
        c->target[c->touched[k]] = NULL;
        c->prebound[c->touched[k]] = 0;
    }
    c->n_touched = 0;
}

/* Gives value `id` the caller's tensor t to be computed into. */
static void set_target(kiln_runctx *c, uint32_t id, kiln_tensor *t) {
    if (!c->target[id] && !c->prebound[id]) c->touched[c->n_touched++] = id;
    c->target[id] = t;
}

/* ---- plans ---- */

void kiln_plan_unref(kiln_session *s, kiln_plan *p) {
    if (!p) return;
    if (--p->refs == 0 && !p->cached) kiln_plan_free(&s->env->alloc, p);
}

/* Input-shape signature of the bound inputs (and a subgraph's outer values): per value its kind
 * and dtype, then rank and dims of a tensor. */
static kiln_status signature(kiln_runctx *c, kiln_error *err) {
    const kiln_session *s = c->s;
    uint32_t need = 0;
    for (uint32_t i = 0; i < c->n_sig_ids; i++) {
        const kiln_value_desc *d = c->frame.desc[c->sig_ids[i]];
        need += 2 + (d && d->kind == KILN_VALUE_TENSOR ? (uint32_t)d->rank : 0);
    }
    if (need > c->sig_cap) {
        int64_t *ns = kiln_mem_alloc(&s->env->alloc, (size_t)need * sizeof(int64_t));
        if (!ns) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        kiln_mem_free(&s->env->alloc, c->sig);
        c->sig = ns;
        c->sig_cap = need;
    }
    uint32_t k = 0;
    for (uint32_t i = 0; i < c->n_sig_ids; i++) {
        const kiln_value_desc *d = c->frame.desc[c->sig_ids[i]];
        int tensor = d && d->kind == KILN_VALUE_TENSOR;
        c->sig[k++] = d ? (int64_t)d->kind | (tensor ? (int64_t)d->dtype << 8 : 0) : -1;
        c->sig[k++] = tensor ? d->rank : -1;
        for (int32_t r = 0; tensor && r < d->rank; r++) c->sig[k++] = d->dims[r];
    }
    c->sig_len = k;
    return KILN_OK;
}

/* The cached plan for c's signature (a new reference), or NULL. Caller holds s->lock. */
static kiln_plan *find_plan(kiln_session *s, const kiln_runctx *c) {
    for (uint32_t i = 0; i < s->n_plans; i++) {
        kiln_plan *p = s->plans[i];
        if (p->sig_len == c->sig_len && (!c->sig_len || memcmp(p->sig, c->sig, c->sig_len * sizeof(int64_t)) == 0)) {
            p->refs++;
            p->stamp = ++s->plan_clock;
            return p;
        }
    }
    return NULL;
}

/* Makes the context's arenas hold plan p (allocating only when one grows): host memory from the
 * env's allocator, device kinds from their providers. */
static kiln_status fit_arena(kiln_runctx *c, const kiln_plan *p, kiln_error *err) {
    const kiln_allocator *a = &c->s->env->alloc;
    for (uint32_t k = 1; k < KILN_PLAN_KINDS; k++) {
        if (p->arena[k] <= c->dev_cap[k]) continue;
        const kiln_kind *kind = &c->s->providers->kinds[k];
        if (c->dev_arena[k]) kiln_kind_free(kind, c->dev_arena[k]);
        c->dev_arena[k] = NULL;
        kiln_budget_give(&c->s->budget, c->dev_cap[k]); /* memory limit (runtime/run_limits.c) */
        c->dev_cap[k] = 0;
        KILN_TRY(kiln_budget_take(&c->s->budget, p->arena[k], NULL, "the run's device arena", err));
        kiln_status st = kiln_kind_alloc(c->s, k, p->arena[k], &c->dev_arena[k], err);
        if (st != KILN_OK) {
            kiln_budget_give(&c->s->budget, p->arena[k]);
            return st;
        }
        c->dev_cap[k] = p->arena[k];
    }
    if (p->arena[0] <= c->arena_cap) return KILN_OK;
    kiln_mem_free(a, c->arena);
    kiln_budget_give(&c->s->budget, c->arena_cap); /* memory limit (runtime/run_limits.c) */
    c->arena_cap = 0;
    c->arena = NULL;
    KILN_TRY(kiln_budget_take(&c->s->budget, p->arena[0], NULL, "the run's arena", err));
    c->arena = kiln_mem_alloc(a, p->arena[0]);
    if (!c->arena) {
        kiln_budget_give(&c->s->budget, p->arena[0]);
        return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for a %llu-byte arena", (unsigned long long)p->arena[0]);
    }
    c->arena_cap = p->arena[0];
    return KILN_OK;
}

/* After a recording run: builds the plan, caches it (evicting the least recently used), and
 * sizes this context's arena for it so the next run allocates nothing. */
static kiln_status learn(kiln_runctx *c, kiln_error *err) {
    kiln_session *s = c->s;
    const kiln_allocator *a = &s->env->alloc;
    uint64_t t0 = s->prof ? kiln_prof_now() : 0;
    kiln_plan *p;
    uint64_t align[KILN_PLAN_KINDS];
    for (uint32_t k = 0; k < KILN_PLAN_KINDS; k++)
        align[k] = k < s->providers->n_kinds && s->providers->kinds[k].alignment > KILN_PLAN_ALIGN ? s->providers->kinds[k].alignment
                                                                                               : KILN_PLAN_ALIGN;
    KILN_TRY(kiln_plan_build(a, s->main, &c->rec, align, s->inter != NULL, &p, err));
    p->sig = kiln_mem_alloc(a, (size_t)c->sig_len * sizeof(int64_t) + 1);
    if (!p->sig) {
        kiln_plan_free(a, p);
        return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    }
    if (c->sig_len) memcpy(p->sig, c->sig, c->sig_len * sizeof(int64_t)); /* a model without inputs has none */
    p->sig_len = c->sig_len;
    if (s->prof) kiln_profiler_phase(s->prof, "plan", t0, kiln_prof_now());
    pthread_mutex_lock(&s->lock);
    kiln_plan *have = find_plan(s, c);
    if (have) {
        /* Another run of the same signature got there first. */
        kiln_plan_free(a, p);
        p = have;
    } else {
        if (s->n_plans == KILN_PLAN_CACHE) {
            uint32_t old = 0;
            for (uint32_t i = 1; i < s->n_plans; i++)
                if (s->plans[i]->stamp < s->plans[old]->stamp) old = i;
            kiln_plan *gone = s->plans[old];
            s->plans[old] = s->plans[--s->n_plans];
            gone->cached = 0;
            if (!gone->refs) kiln_plan_free(a, gone);
        }
        p->cached = 1;
        p->refs = 1;
        p->stamp = ++s->plan_clock;
        s->plans[s->n_plans++] = p;
        s->last_arena = p->arena_bytes;
        s->last_lower = p->lower_bound_bytes;
        s->last_naive = p->naive_bytes;
    }
    pthread_mutex_unlock(&s->lock);
    kiln_status st = fit_arena(c, p, err);
    pthread_mutex_lock(&s->lock);
    kiln_plan_unref(s, p);
    pthread_mutex_unlock(&s->lock);
    return st;
}

/* Subgraph contexts: the own plan for c's signature, or NULL. */
static kiln_plan *find_own(kiln_runctx *c) {
    for (uint32_t i = 0; i < c->n_own; i++) {
        kiln_plan *p = c->own[i];
        if (p->sig_len == c->sig_len && (!c->sig_len || memcmp(p->sig, c->sig, c->sig_len * sizeof(int64_t)) == 0)) {
            p->stamp = ++c->own_clock;
            return p;
        }
    }
    return NULL;
}

/* Subgraph contexts: after a recording run, a plan kept in the context (the least recently used
 * goes), its arena sized so the next run of this signature allocates nothing. */
static kiln_status learn_sub(kiln_runctx *c, kiln_error *err) {
    const kiln_allocator *a = &c->s->env->alloc;
    uint64_t align[KILN_PLAN_KINDS];
    for (uint32_t k = 0; k < KILN_PLAN_KINDS; k++)
        align[k] = k < c->s->providers->n_kinds && c->s->providers->kinds[k].alignment > KILN_PLAN_ALIGN
                       ? c->s->providers->kinds[k].alignment
                       : KILN_PLAN_ALIGN;
    kiln_plan *p;
    KILN_TRY(kiln_plan_build(a, c->frame.xg, &c->rec, align, 0, &p, err));
    p->sig = kiln_mem_alloc(a, (size_t)c->sig_len * sizeof(int64_t) + 1);
    if (!p->sig) {
        kiln_plan_free(a, p);
        return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    }
    if (c->sig_len) memcpy(p->sig, c->sig, c->sig_len * sizeof(int64_t));
    p->sig_len = c->sig_len;
    if (c->n_own == KILN_SUB_PLANS) {
        uint32_t old = 0;
        for (uint32_t i = 1; i < c->n_own; i++)
            if (c->own[i]->stamp < c->own[old]->stamp) old = i;
        kiln_plan_free(a, c->own[old]);
        c->own[old] = c->own[--c->n_own];
    }
    p->stamp = ++c->own_clock;
    c->own[c->n_own++] = p;
    return fit_arena(c, p, err);
}

kiln_status kiln_runctx_run_sub(kiln_runctx *c, uint32_t node, uint32_t flat, uint32_t n_flat,
                                const kiln_exec_graph *xg, const kiln_value_desc *const *inputs, uint32_t n_in,
                                kiln_runctx **sub, kiln_error *err) {
    const kiln_allocator *a = &c->s->env->alloc;
    if (!c->sub[node]) {
        c->sub[node] = kiln_mem_calloc(a, n_flat + 1, sizeof(*c->sub[node]));
        if (!c->sub[node]) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    }
    kiln_runctx *k = c->sub[node][flat];
    if (!k) {
        KILN_TRY(ctx_create(c->s, xg, 1, &k, err));
        c->sub[node][flat] = k;
        k->next_kid = c->kids;
        c->kids = k;
    }
    *sub = k;
    /* The outputs of the previous run were read by now: free what it left. */
    if (k->dirty) kiln_runctx_reset(k);
    k->dirty = 1;
    const kiln_graph *g = xg->g;
    kiln_frame *parent = &c->frame;
    k->frame.parent = parent;
    for (uint32_t i = 0; i < n_in && i < g->n_inputs; i++) k->frame.desc[g->inputs[i]->id] = inputs[i];
    for (uint32_t i = g->n_inputs; i < k->n_sig_ids; i++) {
        uint32_t v = k->sig_ids[i];
        const kiln_value *val = g->values[v];
        k->frame.desc[v] = parent->desc[val->outer->id];
        if (!k->frame.desc[v])
            return kiln_fail(err, KILN_ERR_INTERNAL, "outer value '%s' of subgraph '%s' is not available", val->name,
                             g->name);
    }
    KILN_TRY(kiln_runctx_run(k, err));
    for (uint32_t i = 0; i < g->n_outputs; i++) {
        k->sub_outs[i] = k->frame.desc[g->outputs[i]->id];
        if (!k->sub_outs[i])
            return kiln_fail(err, KILN_ERR_INTERNAL, "subgraph '%s' did not produce output '%s'", g->name,
                             g->outputs[i]->name);
    }
    return KILN_OK;
}

kiln_status kiln_runctx_run(kiln_runctx *c, kiln_error *err) {
    kiln_session *s = c->s;
    uint64_t t0 = s->prof ? kiln_prof_now() : 0;
    const kiln_exec_graph *xg = c->frame.xg;
    if (c->prof) memset(c->prof, 0, (size_t)xg->n_nodes * sizeof(*c->prof));
    KILN_TRY(signature(c, err));
    if (c->is_sub) {
        c->plan = find_own(c);
    } else {
        pthread_mutex_lock(&s->lock);
        c->plan = find_plan(s, c);
        pthread_mutex_unlock(&s->lock);
    }
    kiln_status st = KILN_OK;
    if (c->plan) {
        c->hits++;
        st = fit_arena(c, c->plan, err);
    } else {
        c->misses++;
        kiln_record_reset(&c->rec, xg->g->n_values, xg->n_nodes);
        for (uint32_t i = 0; i < c->n_sig_ids; i++) {
            uint32_t id = c->sig_ids[i];
            const kiln_value_desc *d = c->frame.desc[id];
            size_t bytes;
            if (!d || d->kind != KILN_VALUE_TENSOR || !kiln_dtype_storage(d->dtype, (int64_t)d->count, &bytes)) continue;
            c->rec.seen[id] = 2;
            c->rec.bytes[id] = bytes;
            c->rec.dtype[id] = d->dtype;
            c->rec.kind[id] = (uint32_t)d->mem_kind;
        }
        for (uint32_t v = 0; v < xg->g->n_values; v++) {
            const kiln_value *val = xg->g->values[v];
            size_t bytes;
            if (!val->constant || !kiln_dtype_storage(val->constant->desc.dtype, (int64_t)val->constant->desc.count, &bytes))
                continue;
            c->rec.seen[v] = 2;
            c->rec.bytes[v] = bytes;
            c->rec.dtype[v] = val->constant->desc.dtype;
            c->rec.kind[v] = 0;
        }
    }
    if (c->is_sub) {
        if (st == KILN_OK) st = kiln_exec_run_main(c, err);
        if (st == KILN_OK && !c->plan && c->misses <= c->hits + KILN_SUB_PLANS) st = learn_sub(c, err);
        c->plan = NULL;
        return st;
    }
    /* ABI 1.2: run_begin, the nodes, run_end and the end-of-run synchronize (runtime/device_run.c). */
    const kiln_env *log_prev = kiln_host_log_scope(s->env);
    if (st == KILN_OK) {
        st = kiln_run_hooks_begin(c, err);
        if (st == KILN_OK) st = kiln_exec_run_main(c, err);
        st = kiln_run_hooks_end(c, st, err);
    }
    kiln_host_log_scope(log_prev);
    if (st == KILN_OK && !c->plan) st = learn(c, err);
    if (c->plan) {
        pthread_mutex_lock(&s->lock);
        kiln_plan_unref(s, c->plan);
        pthread_mutex_unlock(&s->lock);
        c->plan = NULL;
    }
    if (s->prof) {
        uint64_t t1 = kiln_prof_now();
        kiln_profiler_run(s->prof, s->main, c->prof, c->prof_shapes, t0, t1);
        pthread_mutex_lock(&s->lock);
        int first = !s->first_run_done;
        s->first_run_done = 1;
        pthread_mutex_unlock(&s->lock);
        if (first) kiln_profiler_phase(s->prof, "first_run", t0, t1);
    }
    return st;
}

/* ---- inputs and outputs ---- */

kiln_status kiln_check_input(const kiln_io_info *io, const kiln_tensor *t, int any_kind, const kiln_value_desc **bind,
                             kiln_error *err) {
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
    if (d->kind == KILN_VALUE_TENSOR && !any_kind && (uint32_t)d->mem_kind != io->mem_kind)
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "input '%s': the run reads it in memory kind %u, the tensor is in kind %d",
                         io->name, io->mem_kind, (int)d->mem_kind);
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
    *bind = d;
    return KILN_OK;
}

kiln_status kiln_runctx_deliver(kiln_runctx *c, const kiln_io_info *io, kiln_tensor **slot, kiln_error *err) {
    const kiln_allocator *a = &c->s->env->alloc;
    kiln_frame *f = &c->frame;
    uint32_t id = io->value->id;
    const kiln_value_desc *d = f->desc[id];
    if (!d) return kiln_fail(err, KILN_ERR_INTERNAL, "output '%s' was not computed", io->name);
    if (*slot) {
        kiln_value_desc *dst = &(*slot)->desc;
        if (d == dst) return KILN_OK; /* computed in place */
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
        kiln_budget_release_tensor(t); /* the caller's now, not the session's (runtime/run_limits.c) */
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

/* Whether caller tensor t may be computed into directly: a host tensor of a non-string dtype
 * whose bytes no input of this run uses (a caller may pass one tensor as input and output). */
static int may_target(const kiln_runctx *c, const kiln_io_info *io, const kiln_tensor *t) {
    const kiln_session *s = c->s;
    if (io->kind != KILN_VALUE_TENSOR || t->desc.kind != KILN_VALUE_TENSOR || t->desc.dtype == KILN_DTYPE_STRING ||
        t->desc.mem_kind != 0 || !t->nbytes)
        return 0;
    const uint8_t *lo = t->desc.data, *hi = lo + t->nbytes;
    for (size_t i = 0; i < s->n_inputs; i++) {
        const kiln_value_desc *d = c->frame.desc[s->inputs[i].value->id];
        size_t bytes;
        if (!d || d->kind != KILN_VALUE_TENSOR || !kiln_dtype_storage(d->dtype, (int64_t)d->count, &bytes)) continue;
        const uint8_t *a = d->data;
        if (a < hi && lo < a + bytes) return 0;
    }
    return 1;
}

/* Marks requested output `io`: computed into caller tensor t, or (t NULL) handed over as new. */
void kiln_runctx_want(kiln_runctx *c, const kiln_io_info *io, kiln_tensor *t) {
    uint32_t id = io->value->id;
    if (!t) {
        c->move_out[id] = 1;
        return;
    }
    if (c->target[id] || c->prebound[id] || !may_target(c, io, t)) return;
    /* One tensor given for two outputs: the second gets a copy at the end. */
    for (uint32_t k = 0; k < c->n_touched; k++)
        if (c->target[c->touched[k]] == t) return;
    set_target(c, id, t);
}

static int is_copy(const kiln_node *n) { return n->op == &kiln_ops[KILN_OP_KILN_Copy]; }

kiln_status kiln_runctx_bind_device(kiln_session *s, kiln_runctx *c, const kiln_io_info *io, int output,
                                    kiln_tensor *t, kiln_error *err) {
    const kiln_graph *g = s->main->g;
    const kiln_value *v = io->value;
    int32_t kind = t->desc.mem_kind;
    if (t->desc.kind != KILN_VALUE_TENSOR || io->kind != KILN_VALUE_TENSOR)
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "'%s': only tensors are bound in device memory", io->name);
    if (!output) {
        /* Every reader of the input must be a copy into the tensor's kind. */
        uint32_t routes = 0;
        for (uint32_t i = 0; i < g->n_nodes; i++) {
            const kiln_node *n = g->nodes[i];
            for (uint32_t j = 0; j < n->n_inputs + n->n_implicit; j++) {
                const kiln_value *in = j < n->n_inputs ? n->inputs[j] : n->implicit[j - n->n_inputs];
                if (in != v) continue;
                const kiln_value *to = j < n->n_inputs && is_copy(n) ? n->outputs[j] : NULL;
                if (!to || (int32_t)to->mem_kind != kind)
                    return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT,
                                     "input '%s': " KILN_NODE_FMT " reads it in memory kind %u, the tensor is in kind %d",
                                     io->name, KILN_NODE_ARGS(n), to ? to->mem_kind : io->mem_kind, (int)kind);
                routes++;
                if (!c) continue;
                c->frame.desc[to->id] = &t->desc;
                if (!c->prebound[to->id] && !c->target[to->id]) c->touched[c->n_touched++] = to->id;
                c->prebound[to->id] = 1;
            }
        }
        if (!routes)
            return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "input '%s': no node reads it in memory kind %d", io->name, (int)kind);
        if (c) c->frame.desc[v->id] = &t->desc; /* nothing reads it: it only signs the run's shapes */
        return KILN_OK;
    }
    /* The output must be a copy out of a value of the tensor's kind, and read by no node. */
    const kiln_node *p = v->producer;
    const kiln_value *from = p && is_copy(p) ? p->inputs[v->producer_slot] : NULL;
    if (!from || (int32_t)from->mem_kind != kind)
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "output '%s': it is made in memory kind %u, the tensor is in kind %d",
                         io->name, from ? from->mem_kind : io->mem_kind, (int)kind);
    if (s->main->last_read[v->id] != UINT32_MAX)
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "output '%s': nodes also read it in host memory", io->name);
    if (!c) return KILN_OK;
    set_target(c, from->id, t);
    if (!c->prebound[v->id] && !c->target[v->id]) c->touched[c->n_touched++] = v->id;
    c->frame.desc[v->id] = &t->desc;
    c->prebound[v->id] = 1;
    return KILN_OK;
}

/* ---- kiln_session_run ---- */

static const kiln_io_info *find_io(const kiln_io_info *ios, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(ios[i].name, name) == 0) return &ios[i];
    return NULL;
}

const kiln_io_info *kiln_session_find_input(const kiln_session *s, const char *name) {
    return find_io(s->inputs, s->n_inputs, name ? name : "");
}

const kiln_io_info *kiln_session_find_output(const kiln_session *s, const char *name) {
    return find_io(s->outputs, s->n_outputs, name ? name : "");
}

/* Room in the context for `n` requested outputs (grows only for a larger request). */
static kiln_status fit_outputs(kiln_runctx *c, size_t n, kiln_error *err) {
    if (n <= c->cap_outs) return KILN_OK;
    const kiln_allocator *a = &c->s->env->alloc;
    const kiln_io_info **outs = kiln_mem_calloc(a, n + 1, sizeof(*outs));
    uint8_t *created = kiln_mem_calloc(a, n + 1, 1);
    if (!outs || !created) {
        kiln_mem_free(a, (void *)outs);
        kiln_mem_free(a, created);
        return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    }
    kiln_mem_free(a, (void *)c->outs);
    kiln_mem_free(a, c->created);
    c->outs = outs;
    c->created = created;
    c->cap_outs = n;
    return KILN_OK;
}

static kiln_status run_with(kiln_session *s, kiln_runctx *c, const char *const *input_names,
                            const kiln_tensor *const *inputs, size_t n_inputs, const char *const *output_names,
                            kiln_tensor **outputs, size_t n_outputs, kiln_error *err) {
    kiln_status st = fit_outputs(c, n_outputs, err);
    if (st != KILN_OK) return st;
    for (size_t i = 0; i < n_inputs; i++) {
        const kiln_io_info *io = input_names ? kiln_session_find_input(s, input_names[i]) : &s->inputs[i];
        if (!io) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_run: the model has no input '%s'", input_names[i]);
        if (!inputs[i]) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_run: input '%s' is NULL", io->name);
        if (c->frame.desc[io->value->id])
            return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_run: input '%s' is given twice", io->name);
        KILN_TRY(kiln_check_input(io, inputs[i], 0, &c->frame.desc[io->value->id], err));
    }
    for (size_t i = 0; i < s->n_inputs; i++)
        if (!c->frame.desc[s->inputs[i].value->id])
            return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_run: input '%s' is missing", s->inputs[i].name);
    for (size_t i = 0; i < n_outputs; i++) {
        c->outs[i] = output_names ? kiln_session_find_output(s, output_names[i]) : &s->outputs[i];
        if (!c->outs[i])
            return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_run: the model has no output '%s'", output_names[i]);
    }
    for (size_t i = 0; i < n_outputs; i++) kiln_runctx_want(c, c->outs[i], outputs[i]);
    KILN_TRY(kiln_runctx_run(c, err));
    for (size_t i = 0; i < n_outputs; i++) {
        c->created[i] = outputs[i] == NULL;
        KILN_TRY(kiln_runctx_deliver(c, c->outs[i], &outputs[i], err));
    }
    return KILN_OK;
}

kiln_status kiln_session_run(kiln_session *s, const char *const *input_names, const kiln_tensor *const *inputs,
                             size_t n_inputs, const char *const *output_names, kiln_tensor **outputs, size_t n_outputs,
                             kiln_error *err) {
    return kiln_session_run_with_options(s, NULL, input_names, inputs, n_inputs, output_names, outputs, n_outputs, err);
}

kiln_status kiln_session_run_with_options(kiln_session *s, const kiln_run_options *ro, const char *const *input_names,
                                          const kiln_tensor *const *inputs, size_t n_inputs, const char *const *output_names,
                                          kiln_tensor **outputs, size_t n_outputs, kiln_error *err) {
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
    kiln_runctx *c;
    KILN_TRY(kiln_runctx_acquire(s, &c, err));
    memset(c->created, 0, c->cap_outs);
    kiln_guard_start(&c->guard, ro); /* cancellation and deadline (runtime/run_limits.c) */
    kiln_status st = run_with(s, c, input_names, inputs, n_inputs, output_names, outputs, n_outputs, err);
    kiln_guard_start(&c->guard, NULL);
    if (st != KILN_OK) {
        for (size_t i = 0; i < n_outputs && i < c->cap_outs; i++) {
            if (c->created[i]) {
                kiln_tensor_destroy(outputs[i]);
                outputs[i] = NULL;
            }
        }
    }
    kiln_runctx_reset(c);
    kiln_runctx_release(c);
    return st;
}
