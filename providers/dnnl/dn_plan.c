/* SPDX-License-Identifier: MIT */
/* Plans: for one input-shape signature of a kernel, its buffers (inputs, outputs, temporaries
 * in the call's scratch, constants the kernel keeps) and the oneDNN primitives run in order.
 * Built once per signature, run at every call with the data handles set. */
#include <string.h>

#include "dn.h"


static int grow(dn_provider *pv, void **arr, uint32_t *cap, uint32_t n, size_t item) {
    if (n < *cap) return 1;
    uint32_t nc = *cap ? *cap * 2 : 8;
    void *a = dn_alloc(pv, nc * item);
    if (!a) return 0;
    if (*arr) memcpy(a, *arr, n * item);
    dn_free(pv, *arr);
    *arr = a;
    *cap = nc;
    return 1;
}

int dn_plan_buf(dn_kernel *k, dn_plan *p, const dnnl_memory_desc_t *md, int role, uint32_t index, void *data, kiln_error *err) {
    if (!grow(k->pv, (void **)&p->bufs, &p->cap_bufs, p->n_bufs, sizeof(dn_buf))) {
        dn_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory planning node '%s'", k->name);
        return -1;
    }
    dn_buf *b = &p->bufs[p->n_bufs];
    memset(b, 0, sizeof(*b));
    b->role = role;
    b->index = index;
    b->data = data;
    if (role == DN_BUF_TMP) {
        size_t need = (dnnl_memory_desc_get_size(md) + 63) & ~(size_t)63;
        uint32_t best = UINT32_MAX;
        for (uint32_t f = 0; f < p->n_free; f++)
            if (p->free_len[f] >= need && (best == UINT32_MAX || p->free_len[f] < p->free_len[best])) best = f;
        if (best != UINT32_MAX) {
            b->offset = p->free_off[best];
            p->free_off[best] += need;
            p->free_len[best] -= need;
        } else {
            b->offset = p->tmp_bytes;
            p->tmp_bytes += need;
        }
    }
    if (dn_check(dnnl_memory_create(&b->mem, md, k->pv->engine, role == DN_BUF_CONST ? data : DNNL_MEMORY_NONE), err, k,
                 "memory creation") != KILN_OK)
        return -1;
    return (int)p->n_bufs++;
}

/* Gives the TMP region of buffer `b` back for later buffers of the plan (steps run in order). */
void dn_plan_release(dn_kernel *k, dn_plan *p, int b) {
    if (b < 0 || p->bufs[b].role != DN_BUF_TMP || p->bufs[b].is_view) return;
    uint32_t cap = p->cap_free;
    if (!grow(k->pv, (void **)&p->free_off, &cap, p->n_free, sizeof(size_t))) return;
    cap = p->cap_free;
    if (!grow(k->pv, (void **)&p->free_len, &cap, p->n_free, sizeof(size_t))) return;
    p->cap_free = cap;
    const dnnl_memory_desc_t *md = NULL;
    dnnl_memory_get_memory_desc(p->bufs[b].mem, &md);
    p->free_off[p->n_free] = p->bufs[b].offset;
    p->free_len[p->n_free] = (dnnl_memory_desc_get_size(md) + 63) & ~(size_t)63;
    p->n_free++;
}

int dn_plan_view(dn_kernel *k, dn_plan *p, int b, const dnnl_memory_desc_t *md, kiln_error *err) {
    if (b < 0) return -1;
    dn_buf src = p->bufs[b];
    if (src.role == DN_BUF_TMP) { /* same region: no new allocation */
        int nb = dn_plan_buf(k, p, md, DN_BUF_CONST, 0, NULL, err);
        if (nb < 0) return -1;
        p->bufs[nb].role = DN_BUF_TMP;
        p->bufs[nb].offset = src.offset;
        p->bufs[nb].is_view = 1;
        return nb;
    }
    int nb = dn_plan_buf(k, p, md, src.role, src.index, src.data, err);
    if (nb >= 0) p->bufs[nb].is_view = 1;
    return nb;
}

int32_t dn_plan_zero(dn_kernel *k, dn_plan *p, int b, kiln_error *err) {
    if (!grow(k->pv, (void **)&p->steps, &p->cap_steps, p->n_steps, sizeof(dn_step)))
        return dn_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory planning node '%s'", k->name);
    dn_step *s = &p->steps[p->n_steps++];
    memset(s, 0, sizeof(*s));
    s->buf[0] = b;
    s->name = "zero";
    return KILN_OK;
}

int32_t dn_plan_step(dn_kernel *k, dn_plan *p, const_dnnl_primitive_desc_t pd, int n_args, const int *args, const int *bufs,
                     const char *name, kiln_error *err) {
    if (!grow(k->pv, (void **)&p->steps, &p->cap_steps, p->n_steps, sizeof(dn_step)))
        return dn_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory planning node '%s'", k->name);
    dn_step *s = &p->steps[p->n_steps];
    memset(s, 0, sizeof(*s));
    int32_t st = dn_check(dnnl_primitive_create(&s->prim, pd), err, k, "primitive creation");
    if (st != KILN_OK) return st;
    s->n_args = n_args;
    for (int i = 0; i < n_args; i++) {
        s->arg[i] = args[i];
        s->buf[i] = bufs[i];
    }
    s->name = name;
    p->n_steps++;
    return KILN_OK;
}

const dnnl_memory_desc_t *dn_buf_md(dn_plan *p, int b);
const dnnl_memory_desc_t *dn_buf_md(dn_plan *p, int b) {
    const dnnl_memory_desc_t *md = NULL;
    dnnl_memory_get_memory_desc(p->bufs[b].mem, &md);
    return md;
}

int dn_plan_reorder(dn_kernel *k, dn_plan *p, int src, const dnnl_memory_desc_t *want, kiln_error *err) {
    if (src < 0) return -1;
    if (dnnl_memory_desc_equal(dn_buf_md(p, src), want)) return src;
    int dst = dn_plan_buf(k, p, want, DN_BUF_TMP, 0, NULL, err);
    if (dst < 0) return -1;
    dnnl_primitive_desc_t pd;
    if (dn_check(dnnl_reorder_primitive_desc_create(&pd, dn_buf_md(p, src), k->pv->engine, want, k->pv->engine, NULL), err, k,
                 "reorder") != KILN_OK)
        return -1;
    int args[2] = {DNNL_ARG_FROM, DNNL_ARG_TO}, bufs[2] = {src, dst};
    int32_t st = dn_plan_step(k, p, pd, 2, args, bufs, "reorder", err);
    dnnl_primitive_desc_destroy(pd);
    return st == KILN_OK ? dst : -1;
}

int32_t dn_reorder_now(dn_kernel *k, const dnnl_memory_desc_t *src_md, void *src, const dnnl_memory_desc_t *dst_md, void *dst,
                       kiln_error *err) {
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t prim = NULL;
    dnnl_memory_t ms = NULL, md = NULL;
    int32_t st = dn_check(dnnl_reorder_primitive_desc_create(&pd, src_md, k->pv->engine, dst_md, k->pv->engine, NULL), err, k,
                          "weight reorder");
    if (st == KILN_OK) st = dn_check(dnnl_primitive_create(&prim, pd), err, k, "weight reorder");
    if (st == KILN_OK) st = dn_check(dnnl_memory_create(&ms, src_md, k->pv->engine, src), err, k, "memory creation");
    if (st == KILN_OK) st = dn_check(dnnl_memory_create(&md, dst_md, k->pv->engine, dst), err, k, "memory creation");
    if (st == KILN_OK) {
        dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, ms}, {DNNL_ARG_TO, md}};
        st = dn_check(dnnl_primitive_execute(prim, k->pv->stream, 2, a), err, k, "weight reorder");
        if (st == KILN_OK) st = dn_check(dnnl_stream_wait(k->pv->stream), err, k, "weight reorder");
    }
    if (ms) dnnl_memory_destroy(ms);
    if (md) dnnl_memory_destroy(md);
    if (prim) dnnl_primitive_destroy(prim);
    if (pd) dnnl_primitive_desc_destroy(pd);
    return st;
}

/* The kept constant `c` in layout `want`: an existing copy, or a new one reordered from the
 * first. The plain copy taken at creation is replaced by the first layout asked for. */
static void *const_in(dn_kernel *k, dn_const *c, const dnnl_memory_desc_t *want, kiln_error *err) {
    for (uint32_t i = 0; i < c->n_copies; i++)
        if (dnnl_memory_desc_equal(&c->copies[i].md, want)) {
            c->plain_only = 0;
            return c->copies[i].data;
        }
    size_t bytes = dnnl_memory_desc_get_size(want);
    void *data = dn_alloc(k->pv, bytes);
    if (!data) {
        dn_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory packing a weight of node '%s'", k->name);
        return NULL;
    }
    if (dn_reorder_now(k, &c->copies[0].md, c->copies[0].data, want, data, err) != KILN_OK) {
        dn_free(k->pv, data);
        return NULL;
    }
    /* The plain copy taken at creation gives way to the first packed layout (which is then the
     * source of later reorders), so the kernel keeps one copy of a weight in the usual case. */
    if (c->n_copies == 1 && c->plain_only) {
        dn_free(k->pv, c->copies[0].data);
        c->copies[0].md = *want;
        c->copies[0].data = data;
        c->plain_only = 0;
        return data;
    }
    dn_const_copy *nc = dn_alloc(k->pv, (c->n_copies + 1) * sizeof(*nc));
    if (!nc) {
        dn_free(k->pv, data);
        dn_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory packing a weight of node '%s'", k->name);
        return NULL;
    }
    memcpy(nc, c->copies, c->n_copies * sizeof(*nc));
    nc[c->n_copies].md = *want;
    nc[c->n_copies].data = data;
    dn_free(k->pv, c->copies);
    c->copies = nc;
    c->n_copies++;
    return data;
}

dn_const *dn_const_of(dn_kernel *k, uint32_t i) {
    if (k->cur) {
        if (i >= k->cur->n_in || k->cur->in_val[i] < 0) return NULL;
        int32_t gi = k->vals[k->cur->in_val[i]].gin;
        return gi >= 0 && (uint32_t)gi < k->n_consts && k->consts[gi].present ? &k->consts[gi] : NULL;
    }
    return i < k->n_consts && k->consts[i].present ? &k->consts[i] : NULL;
}

static dn_gval *in_val(dn_kernel *k, uint32_t i) {
    return k->cur && i < k->cur->n_in && k->cur->in_val[i] >= 0 ? &k->vals[k->cur->in_val[i]] : NULL;
}

static int is_plain(const dnnl_memory_desc_t *md) {
    dnnl_memory_desc_t plain;
    int64_t d[DNNL_MAX_NDIMS];
    for (int i = 0; i < md->ndims; i++) d[i] = md->dims[i];
    dn_md_plain(&plain, md->ndims, d);
    return md->data_type == dnnl_f32 && dnnl_memory_desc_equal(md, &plain);
}

const dnnl_memory_desc_t *dn_in_native(dn_kernel *k, dn_plan *p, uint32_t i) {
    dn_gval *v = in_val(k, i);
    if (!v || v->buf < 0) return NULL;
    const dnnl_memory_desc_t *md = dn_buf_md(p, v->buf);
    return is_plain(md) ? NULL : md;
}

int dn_plan_input_native(dn_kernel *k, dn_plan *p, uint32_t i, kiln_error *err) {
    (void)p;
    dn_gval *v = in_val(k, i);
    if (v && v->buf >= 0) return v->buf;
    dn_fail(err, KILN_ERR_INTERNAL, "node '%s': input %u has no buffer", k->name, i);
    return -1;
}

int dn_plan_input(dn_kernel *k, dn_plan *p, uint32_t i, const dnnl_memory_desc_t *view, const dnnl_memory_desc_t *want,
                  kiln_error *err) {
    dn_const *c = dn_const_of(k, i);
    if (c) {
        void *data = const_in(k, c, want ? want : view, err);
        return data ? dn_plan_buf(k, p, want ? want : view, DN_BUF_CONST, i, data, err) : -1;
    }
    dn_gval *v = in_val(k, i);
    int b;
    if (!v) {
        b = dn_plan_buf(k, p, view, DN_BUF_IN, i, NULL, err);
    } else {
        if (v->buf < 0) {
            dn_fail(err, KILN_ERR_INTERNAL, "node '%s': input %u has no buffer", k->name, i);
            return -1;
        }
        const dnnl_memory_desc_t *have = dn_buf_md(p, v->buf);
        /* Same logical dims as the primitive wants: one reorder (or none) from the held layout. */
        if (want && have->ndims == want->ndims && !memcmp(have->dims, want->dims, (size_t)have->ndims * sizeof(have->dims[0])))
            return dn_plan_reorder(k, p, v->buf, want, err);
        b = v->buf;
        if (!is_plain(have)) {
            dnnl_memory_desc_t plain;
            dn_md_plain(&plain, v->rank, v->dims);
            b = dn_plan_reorder(k, p, b, &plain, err);
        }
        if (b >= 0 && !dnnl_memory_desc_equal(dn_buf_md(p, b), view)) b = dn_plan_view(k, p, b, view, err);
    }
    return want && b >= 0 ? dn_plan_reorder(k, p, b, want, err) : b;
}

int dn_plan_const_value(dn_kernel *k, dn_plan *p, int val, const dnnl_memory_desc_t *md, kiln_error *err) {
    int32_t gi = k->vals[val].gin;
    dn_const *c = gi >= 0 && (uint32_t)gi < k->n_consts && k->consts[gi].present ? &k->consts[gi] : NULL;
    if (!c) {
        dn_fail(err, KILN_ERR_INTERNAL, "group '%s': value '%s' is not a kept constant", k->name, k->vals[val].name);
        return -1;
    }
    if (c->plain_only && dnnl_memory_desc_get_size(&c->copies[0].md) == dnnl_memory_desc_get_size(md)) c->copies[0].md = *md;
    void *data = const_in(k, c, md, err);
    return data ? dn_plan_buf(k, p, md, DN_BUF_CONST, (uint32_t)gi, data, err) : -1;
}

void dn_plan_alias_value(dn_kernel *k, dn_plan *p, int val, int b, int32_t rank, const int64_t *dims) {
    (void)p;
    dn_gval *v = &k->vals[val];
    v->buf = b;
    v->rank = rank;
    memcpy(v->dims, dims, (size_t)rank * sizeof(int64_t));
}

/* A group value: written straight into the kernel output when plain, else a temporary
 * (reordered into the output at the end when the group's consumers read it). */
int dn_plan_dst_value(dn_kernel *k, dn_plan *p, int val, const dnnl_memory_desc_t *have, int32_t rank, const int64_t *dims,
                      kiln_error *err) {
    dnnl_memory_desc_t plain;
    dn_md_plain(&plain, rank, dims);
    if (have && is_plain(have) && have->ndims == plain.ndims) have = NULL;
    dn_gval *v = &k->vals[val];
    int b;
    if (v->gout >= 0) {
        p->out_rank[v->gout] = rank;
        memcpy(p->out_dims[v->gout], dims, (size_t)rank * sizeof(int64_t));
        if (!have) b = dn_plan_buf(k, p, &plain, DN_BUF_OUT, (uint32_t)v->gout, NULL, err);
        else if ((b = dn_plan_buf(k, p, have, DN_BUF_TMP, 0, NULL, err)) >= 0) p->pend[v->gout] = b;
    } else {
        b = dn_plan_buf(k, p, have ? have : &plain, DN_BUF_TMP, 0, NULL, err);
    }
    if (b >= 0) dn_plan_alias_value(k, p, val, b, rank, dims);
    return b;
}

int dn_plan_dst(dn_kernel *k, dn_plan *p, uint32_t o, const dnnl_memory_desc_t *have, int32_t rank, const int64_t *dims,
                kiln_error *err) {
    dnnl_memory_desc_t plain;
    dn_md_plain(&plain, rank, dims);
    if (have && is_plain(have) && have->ndims == plain.ndims) have = NULL;
    if (k->cur) {
        if (o >= k->cur->n_out || k->cur->out_val[o] < 0) {
            dn_fail(err, KILN_ERR_INTERNAL, "node '%s': output %u has no value", k->name, o);
            return -1;
        }
        return dn_plan_dst_value(k, p, k->cur->out_val[o], have, rank, dims, err);
    }
    if (o >= DN_MAX_OUT) {
        dn_fail(err, KILN_ERR_UNSUPPORTED, "node '%s': too many outputs", k->name);
        return -1;
    }
    p->out_rank[o] = rank;
    memcpy(p->out_dims[o], dims, (size_t)rank * sizeof(int64_t));
    if (o + 1 > p->n_out) p->n_out = o + 1;
    p->pend[o] = -1;
    if (!have) return dn_plan_buf(k, p, &plain, DN_BUF_OUT, o, NULL, err);
    int b = dn_plan_buf(k, p, have, DN_BUF_TMP, 0, NULL, err);
    p->pend[o] = b;
    return b;
}

int32_t dn_plan_finish(dn_kernel *k, dn_plan *p, kiln_error *err) {
    for (uint32_t o = 0; o < p->n_out; o++) {
        if (p->pend[o] < 0) continue;
        dnnl_memory_desc_t plain;
        dn_md_plain(&plain, p->out_rank[o], p->out_dims[o]);
        int dst = dn_plan_buf(k, p, &plain, DN_BUF_OUT, o, NULL, err);
        if (dst < 0) return err->status;
        int src = p->pend[o];
        if (dn_buf_md(p, src)->ndims != plain.ndims || !is_plain(dn_buf_md(p, src))) {
            dnnl_memory_desc_t sp;
            dn_md_plain(&sp, p->out_rank[o], p->out_dims[o]);
            if (dn_buf_md(p, src)->ndims != sp.ndims) { /* a plain view of other dims: the same bytes */
                src = dn_plan_view(k, p, src, &sp, err);
                if (src < 0) return err->status;
            }
        }
        dnnl_primitive_desc_t pd;
        int32_t st = dn_check(dnnl_reorder_primitive_desc_create(&pd, dn_buf_md(p, src), k->pv->engine, &plain, k->pv->engine, NULL),
                              err, k, "reorder");
        if (st != KILN_OK) return st;
        int args[2] = {DNNL_ARG_FROM, DNNL_ARG_TO}, bufs[2] = {src, dst};
        st = dn_plan_step(k, p, pd, 2, args, bufs, "reorder", err);
        dnnl_primitive_desc_destroy(pd);
        if (st != KILN_OK) return st;
        p->pend[o] = -1;
    }
    return KILN_OK;
}

void dn_plan_shape(dn_kernel *k, dn_plan *p, uint32_t o, int32_t rank, const int64_t *dims) {
    if (k->cur || o >= DN_MAX_OUT) return;
    p->out_rank[o] = rank;
    memcpy(p->out_dims[o], dims, (size_t)rank * sizeof(int64_t));
    if (o + 1 > p->n_out) p->n_out = o + 1;
}

void dn_plan_free(dn_kernel *k, dn_plan *p) {
    if (!p) return;
    for (uint32_t i = 0; i < p->n_steps; i++)
        if (p->steps[i].prim) dnnl_primitive_destroy(p->steps[i].prim);
    for (uint32_t i = 0; i < p->n_bufs; i++)
        if (p->bufs[i].mem) dnnl_memory_destroy(p->bufs[i].mem);
    dn_free(k->pv, p->steps);
    dn_free(k->pv, p->bufs);
    dn_free(k->pv, p->key);
    dn_free(k->pv, p->free_off);
    dn_free(k->pv, p->free_len);
    dn_free(k->pv, p);
}

void dn_threads(dn_provider *pv, kiln_kernel_ctx *ctx) {
    uint32_t n = 1;
    if (KILN_ABI_HAS(pv->host, kiln_host_api, thread_count) && pv->host->thread_count) n = pv->host->thread_count(ctx);
    if (n < 1) n = 1;
    if (dn_dnnl.omp_set_num_threads && dn_dnnl.omp_get_max_threads() != (int)n) dn_dnnl.omp_set_num_threads((int)n);
}

int32_t dn_plan_run(dn_kernel *k, dn_plan *p, kiln_kernel_ctx *ctx, kiln_error *err) {
    const kiln_host_api *h = ctx->host;
    unsigned char *tmp = NULL;
    if (p->tmp_bytes) {
        tmp = h->scratch(ctx, p->tmp_bytes + 64);
        if (!tmp) return dn_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory: %zu bytes of scratch for node '%s'", p->tmp_bytes, k->name);
        tmp += (64 - ((uintptr_t)tmp & 63)) & 63;
    }
    for (uint32_t i = 0; i < p->n_bufs; i++) {
        dn_buf *b = &p->bufs[i];
        void *data = NULL;
        if (b->role == DN_BUF_CONST) continue;
        if (b->role == DN_BUF_TMP) data = tmp + b->offset;
        else if (b->role == DN_BUF_IN) data = b->index < ctx->n_inputs && ctx->inputs[b->index] ? ctx->inputs[b->index]->data : NULL;
        else data = b->index < ctx->n_outputs && ctx->outputs[b->index] ? ctx->outputs[b->index]->data : NULL;
        if (!data) {
            /* Empty tensors have no storage; a primitive never reads them (plans for them have no steps). */
            if (dnnl_memory_desc_get_size(dn_buf_md(p, (int)i)) == 0) continue;
            return dn_fail(err, KILN_ERR_INVALID_ARGUMENT, "node '%s' (%s): %s %u has no data", k->name, k->op->op_type,
                           b->role == DN_BUF_IN ? "input" : "output", b->index);
        }
        int32_t st = dn_check(dnnl_memory_set_data_handle(b->mem, data), err, k, "binding memory");
        if (st != KILN_OK) return st;
    }
    for (uint32_t s = 0; s < p->n_steps; s++) {
        dn_step *sp = &p->steps[s];
        if (!sp->prim) { /* a zero fill, in order with the primitives (the bytes may be reused) */
            dn_buf *b = &p->bufs[sp->buf[0]];
            void *data = b->role == DN_BUF_TMP ? (void *)(tmp + b->offset) : b->role == DN_BUF_OUT ? ctx->outputs[b->index]->data : NULL;
            if (data) memset(data, 0, dnnl_memory_desc_get_size(dn_buf_md(p, sp->buf[0])));
            continue;
        }
        dnnl_exec_arg_t args[DN_MAX_ARGS];
        for (int a = 0; a < sp->n_args; a++) {
            args[a].arg = sp->arg[a];
            args[a].memory = p->bufs[sp->buf[a]].mem;
        }
        int32_t st = dn_check(dnnl_primitive_execute(sp->prim, k->pv->stream, sp->n_args, args), err, k, "execution");
        if (st != KILN_OK) return st;
    }
    return dn_check(dnnl_stream_wait(k->pv->stream), err, k, "execution");
}
