/* SPDX-License-Identifier: MIT */
/* ABI 1.2 device work of a run: the stream a kernel call gets (providers declaring
 * KILN_DEVICE_CAP_ASYNC_COMPUTE), device scratch (planned like host scratch), and the run
 * hooks: run_begin/run_end per shape signature and the end-of-run synchronize of every
 * asynchronous provider's stream. The executor and run.c call these at a few delimited points;
 * copies to host memory and between providers already wait on an event (provider_loader.c). */
#include <stdio.h>
#include <string.h>

#include "runtime/providers.h"

/* The provider instance behind a kernel's provider table (a handful of providers at most). */
static kiln_prov *prov_of(const kiln_session *s, const kiln_provider *p) {
    const kiln_providers *ps = s->providers;
    for (uint32_t i = 0; ps && i < ps->n; i++)
        if (ps->list[i]->p == p) return ps->list[i];
    return NULL;
}

kiln_stream *kiln_exec_stream(const kiln_session *s, const kiln_provider *p) {
    if (!p || !p->mem_kind) return NULL;
    const kiln_prov *pv = prov_of(s, p);
    return pv ? pv->compute_stream : NULL;
}

static uint64_t round_up(uint64_t n, uint64_t a) { return (n + a - 1) / a * a; }

int32_t kiln_call_device_scratch(kiln_kernel_ctx *ctx, uint64_t bytes, void **block, uint64_t *offset, kiln_error *err) {
    kiln_call *c = (kiln_call *)ctx;
    kiln_session *s = c->frame->session;
    const kiln_node *n = c->xn->node;
    if (!block || !offset) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "device_scratch: NULL block or offset");
    *block = NULL;
    *offset = 0;
    uint32_t kind = c->xn->provider ? c->xn->provider->mem_kind : 0;
    if (!kind || kind >= s->providers->n_kinds)
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT,
                         KILN_NODE_FMT ": device_scratch: the %s provider runs in host memory (use scratch)", KILN_NODE_ARGS(n),
                         c->xn->provider ? c->xn->provider->name : "?");
    const kiln_kind *kd = &s->providers->kinds[kind];
    uint64_t align = kd->alignment > KILN_PLAN_ALIGN ? kd->alignment : KILN_PLAN_ALIGN;
    if (bytes > UINT64_MAX / 2) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, KILN_NODE_FMT ": device_scratch of %llu bytes", KILN_NODE_ARGS(n), (unsigned long long)bytes);
    uint64_t need = round_up(bytes ? bytes : 1, align);
    c->dev_bytes += need;
    kiln_runctx *r = c->frame->run;
    if (r && r->plan && kind < KILN_PLAN_KINDS && r->dev_arena[kind] &&
        c->dev_used + need <= r->plan->dev_scratch_size[c->idx]) {
        *block = r->dev_arena[kind];
        *offset = r->plan->dev_scratch_off[c->idx] + c->dev_used;
        c->dev_used += need;
        return KILN_OK;
    }
    if (c->n_dev == sizeof(c->dev_block) / sizeof(c->dev_block[0]))
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, KILN_NODE_FMT ": device_scratch: more than %zu blocks in one call",
                         KILN_NODE_ARGS(n), sizeof(c->dev_block) / sizeof(c->dev_block[0]));
    void *b = NULL;
    KILN_TRY(kiln_kind_alloc(s, kind, need, &b, err));
    c->dev_block[c->n_dev++] = b;
    *block = b;
    return KILN_OK;
}

void kiln_call_device_done(kiln_call *c, int record) {
    if (!c->xn) return;
    kiln_session *s = c->frame->session;
    uint32_t kind = c->xn->provider ? c->xn->provider->mem_kind : 0;
    if (record && c->dev_bytes && kind && kind < KILN_PLAN_KINDS) {
        kiln_record *r = &c->frame->run->rec;
        if (c->dev_bytes > r->dev_scratch[c->idx]) r->dev_scratch[c->idx] = c->dev_bytes;
        r->dev_kind[c->idx] = (uint8_t)kind;
    }
    /* Freed now; the provider's mem_free keeps the memory until the work queued on its stream
     * is done (the stream-ordered free of docs/providers.md). */
    for (uint32_t i = 0; i < c->n_dev; i++) kiln_kind_free(&s->providers->kinds[kind], c->dev_block[i]);
    c->n_dev = 0;
}

/* ---- run hooks ---- */

static uint64_t mix(uint64_t h, uint64_t v) {
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h * 0x100000001b3ull;
}

/* 1 when every node the main graph runs is one of pv's kernels with outputs at
 * planned or bound addresses: no other provider, and no copy but those whose every output the
 * caller's bound device tensors stand for (I/O binding). Called with a plan. */
static int only_provider(const kiln_runctx *c, const kiln_prov *pv) {
    const kiln_exec_graph *xg = c->frame.xg;
    uint32_t ran = 0;
    for (uint32_t i = 0; i < xg->n_nodes; i++) {
        const kiln_exec_node *xn = &xg->nodes[i];
        const kiln_node *n = xn->node;
        if (xn->skip) continue;
        if (n->op == &kiln_ops[KILN_OP_KILN_Copy]) {
            for (uint32_t o = 0; o < n->n_outputs; o++)
                if (n->outputs[o] && !c->prebound[n->outputs[o]->id]) return 0;
            continue;
        }
        if (xn->provider != pv->p) return 0;
        /* Every output at an address fixed for the signature: the arena or a bound tensor (a
         * heap block could differ from the one a captured graph wrote). */
        for (uint32_t o = 0; o < n->n_outputs; o++) {
            const kiln_value *v = n->outputs[o];
            if (!v) continue;
            if (c->move_out[v->id] || (!c->target[v->id] && !c->prebound[v->id] && c->plan->off[v->id] == KILN_PLAN_NONE))
                return 0;
        }
        ran++;
    }
    return ran > 0;
}

static int has_hooks(const kiln_prov *pv) {
    return pv->version >= KILN_ABI_MAKE(1, 2) && KILN_ABI_HAS(pv->p, kiln_provider, run_end) && pv->p->run_begin &&
           pv->p->run_end;
}

kiln_status kiln_run_hooks_begin(kiln_runctx *c, kiln_error *err) {
    kiln_session *s = c->s;
    const kiln_providers *ps = s->providers;
    c->replayed = NULL;
    c->hooks_begun = 0;
    int any = 0;
    for (uint32_t i = 0; i < ps->n; i++) any |= has_hooks(ps->list[i]);
    if (!any) return KILN_OK;
    uint64_t sig = 0xcbf29ce484222325ull, key = 0;
    for (uint32_t i = 0; i < c->sig_len; i++) sig = mix(sig, (uint64_t)c->sig[i]);
    if (c->plan) {
        key = mix(0x84222325cbf29ce4ull, (uint64_t)(uintptr_t)c->plan);
        key = mix(key, (uint64_t)(uintptr_t)c->arena);
        for (uint32_t k = 1; k < KILN_PLAN_KINDS; k++) key = mix(key, (uint64_t)(uintptr_t)c->dev_arena[k]);
        for (uint32_t i = 0; i < c->n_sig_ids; i++) {
            const kiln_value_desc *d = c->frame.desc[c->sig_ids[i]];
            key = mix(key, d ? (uint64_t)(uintptr_t)d->data + d->offset : 0);
        }
        for (uint32_t i = 0; i < c->n_touched; i++) { /* bound outputs (targets) and bound device inputs */
            uint32_t id = c->touched[i];
            const kiln_tensor *t = c->target[id];
            const kiln_value_desc *d = c->prebound[id] ? c->frame.desc[id] : NULL;
            key = mix(key, id);
            key = mix(key, t ? (uint64_t)(uintptr_t)t->desc.data + t->desc.offset : 0);
            key = mix(key, d ? (uint64_t)(uintptr_t)d->data + d->offset : 0);
        }
    }
    uint64_t id = atomic_fetch_add(&s->run_seq, 1);
    for (uint32_t i = 0; i < ps->n; i++) {
        kiln_prov *pv = ps->list[i];
        if (!has_hooks(pv)) continue;
        kiln_run_info ri;
        memset(&ri, 0, sizeof(ri));
        ri.hdr.struct_size = sizeof(ri);
        ri.hdr.abi_version = pv->version;
        ri.run_id = id;
        ri.signature = sig;
        ri.planned = c->plan != NULL;
        ri.replay_ok = c->plan && !c->replayed && only_provider(c, pv);
        ri.address_key = key;
        ri.stream = pv->compute_stream;
        kiln_error local;
        kiln_error_clear(&local);
        kiln_prov_enter(pv);
        int32_t st = pv->p->run_begin(pv->p, &ri, &local);
        kiln_prov_leave(pv);
        if (st != KILN_OK)
            return kiln_fail(err, kiln_provider_status(st, &local), "the %s provider's run_begin failed: %s", pv->name, local.msg);
        c->hooks_begun |= 1ull << (i < 63 ? i : 63);
        if (ri.replayed && ri.replay_ok) c->replayed = pv->p;
        c->hook_sig = sig;
        c->hook_key = key;
        c->hook_id = id;
    }
    return KILN_OK;
}

kiln_status kiln_run_hooks_end(kiln_runctx *c, kiln_status st, kiln_error *err) {
    const kiln_providers *ps = c->s->providers;
    for (uint32_t i = 0; i < ps->n; i++) {
        kiln_prov *pv = ps->list[i];
        kiln_error local;
        kiln_error_clear(&local);
        int32_t r = KILN_OK;
        const char *what = "run_end";
        kiln_prov_enter(pv);
        if (has_hooks(pv) && (c->hooks_begun >> (i < 63 ? i : 63)) & 1) {
            kiln_run_info ri;
            memset(&ri, 0, sizeof(ri));
            ri.hdr.struct_size = sizeof(ri);
            ri.hdr.abi_version = pv->version;
            ri.run_id = c->hook_id;
            ri.signature = c->hook_sig;
            ri.planned = c->plan != NULL;
            ri.replay_ok = c->replayed == pv->p;
            ri.replayed = c->replayed == pv->p;
            ri.address_key = c->hook_key;
            ri.stream = pv->compute_stream;
            ri.status = st;
            r = pv->p->run_end(pv->p, &ri, &local);
        }
        /* The end of the run: what the provider queued is done before outputs are handed over
         * and before the arena is reused (also after a failure). */
        if (pv->compute_stream) {
            kiln_error sync;
            kiln_error_clear(&sync);
            int32_t r2 = pv->compute_stream->synchronize(pv->compute_stream, &sync);
            if (r == KILN_OK && r2 != KILN_OK) {
                r = r2;
                local = sync;
                what = "stream synchronize at the end of the run";
            }
        }
        kiln_prov_leave(pv);
        if (r != KILN_OK && st == KILN_OK)
            st = kiln_fail(err, kiln_provider_status(r, &local), "the %s provider's %s failed: %s", pv->name, what, local.msg);
    }
    c->hooks_begun = 0;
    c->replayed = NULL;
    return st;
}
