/* SPDX-License-Identifier: MIT */
/* Single-node kernels: the operator table, kernel creation (constant inputs copied once),
 * the prepack hook, and compute with one plan cached per input-shape signature. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dn.h"

const dn_op *dn_find_op(const kiln_host_api *h, const kiln_node_view *n) {
    static const dn_op *const single[] = {&dn_op_conv, &dn_op_convtranspose, &dn_op_matmul, &dn_op_gemm, &dn_op_softmax, &dn_op_logsoftmax,
                                          &dn_op_maxpool, &dn_op_avgpool, &dn_op_gavgpool, &dn_op_gmaxpool,
                                          &dn_op_batchnorm, &dn_op_layernorm, &dn_op_lrn, &dn_op_concat};
    if (*h->node_domain(n)) return NULL;
    const char *op = h->node_op_type(n);
    for (size_t i = 0; i < sizeof(single) / sizeof(single[0]); i++)
        if (!strcmp(single[i]->op_type, op)) return single[i];
    for (const dn_op *o = dn_op_eltwise_table; o->op_type; o++)
        if (!strcmp(o->op_type, op)) return o;
    for (const dn_op *o = dn_op_binary_table; o->op_type; o++)
        if (!strcmp(o->op_type, op)) return o;
    for (const dn_op *o = dn_op_reduce_table; o->op_type; o++)
        if (!strcmp(o->op_type, op)) return o;
    return NULL;
}

/* Keeps a plain copy of input `i` when it is a float constant. */
static int32_t keep_const(dn_kernel *k, uint32_t i, const kiln_value_info *vi, kiln_error *err) {
    const kiln_value_desc *c = vi->constant;
    if (vi->dtype != KILN_DTYPE_FLOAT) k->consts[i].not_float = 1;
    if (!c || !c->data || c->dtype != KILN_DTYPE_FLOAT || c->kind != KILN_VALUE_TENSOR) return KILN_OK;
    dn_const *kc = &k->consts[i];
    kc->copies = dn_alloc(k->pv, sizeof(dn_const_copy));
    size_t bytes = (size_t)c->count * sizeof(float);
    if (kc->copies) kc->copies[0].data = dn_alloc(k->pv, bytes);
    if (!kc->copies || !kc->copies[0].data)
        return dn_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory copying a weight of node '%s'", k->name);
    kc->n_copies = 1;
    memcpy(kc->copies[0].data, c->data, bytes);
    dn_md_plain(&kc->copies[0].md, c->rank, c->dims);
    kc->rank = c->rank;
    memcpy(kc->dims, c->dims, (size_t)c->rank * sizeof(int64_t));
    kc->present = 1;
    kc->plain_only = 1;
    return KILN_OK;
}

static int32_t build_group(dn_kernel *k, dn_plan *p, kiln_kernel_ctx *ctx, kiln_error *err);

static void kernel_release(kiln_kernel *kk) {
    dn_kernel *k = (dn_kernel *)kk;
    for (uint32_t i = 0; i < k->n_plans; i++) dn_plan_free(k, k->plans[i]);
    for (uint32_t i = 0; k->consts && i < k->n_consts; i++) {
        for (uint32_t j = 0; j < k->consts[i].n_copies; j++) dn_free(k->pv, k->consts[i].copies[j].data);
        dn_free(k->pv, k->consts[i].copies);
    }
    for (uint32_t i = 0; k->members && i < k->n_members; i++) dn_free(k->pv, k->members[i].op_state);
    for (uint32_t i = 0; k->vals && i < k->n_vals; i++) dn_free(k->pv, k->vals[i].name);
    dn_free(k->pv, k->members);
    dn_free(k->pv, k->vals);
    dn_free(k->pv, k->consts);
    if (!k->members) dn_free(k->pv, k->op_state);
    dn_free(k->pv, k);
}

/* The signature of a call: every input's presence, rank and dims. */
static uint32_t make_key(const kiln_kernel_ctx *ctx, int64_t *key, uint32_t cap) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < ctx->n_inputs; i++) {
        const kiln_value_desc *d = ctx->inputs[i];
        if (n + 1 + (d ? (uint32_t)d->rank : 0) > cap) return 0;
        key[n++] = d ? d->rank : -1;
        for (int32_t j = 0; d && j < d->rank; j++) key[n++] = d->dims[j];
    }
    return n;
}

static int32_t compute(kiln_kernel *kk, kiln_kernel_ctx *ctx, kiln_error *err) {
    dn_kernel *k = (dn_kernel *)kk;
    const kiln_host_api *h = ctx->host;
    uint32_t cap = ctx->n_inputs * (KILN_MAX_RANK + 1) + 1;
    int64_t *key = h->scratch(ctx, cap * sizeof(int64_t));
    if (!key) return dn_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory running node '%s'", k->name);
    uint32_t kl = make_key(ctx, key, cap);
    if (ctx->n_inputs != k->n_kin || ctx->n_outputs != k->n_kout)
        return dn_fail(err, KILN_ERR_INVALID_ARGUMENT, "node '%s' (%s): %u inputs and %u outputs, expected %u and %u", k->name,
                       k->op->op_type, ctx->n_inputs, ctx->n_outputs, k->n_kin, k->n_kout);
    for (uint32_t i = 0; i < ctx->n_inputs; i++) {
        const kiln_value_desc *d = ctx->inputs[i];
        if (d && !k->consts[i].present && !k->consts[i].not_float && (d->kind != KILN_VALUE_TENSOR || d->dtype != KILN_DTYPE_FLOAT))
            return dn_fail(err, KILN_ERR_SHAPE, "node '%s' (%s): input %u is not a float tensor", k->name, k->op->op_type, i);
    }
    dn_threads(k->pv, ctx);
    dn_plan *p = NULL;
    for (uint32_t i = 0; i < k->n_plans && !p; i++)
        if (k->plans[i]->key_len == kl && !memcmp(k->plans[i]->key, key, kl * sizeof(int64_t))) p = k->plans[i];
    if (!p) {
        p = dn_alloc(k->pv, sizeof(*p));
        if (p) p->key = dn_alloc(k->pv, (kl + 1) * sizeof(int64_t));
        if (!p || !p->key) {
            dn_plan_free(k, p);
            return dn_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory planning node '%s'", k->name);
        }
        memcpy(p->key, key, kl * sizeof(int64_t));
        p->key_len = kl;
        for (int i = 0; i < DN_MAX_OUT; i++) p->pend[i] = -1;
        int32_t st = k->members ? build_group(k, p, ctx, err) : k->op->build(k, p, ctx->inputs, err);
        if (st == KILN_OK) st = dn_plan_finish(k, p, err);
        if (st != KILN_OK) {
            dn_plan_free(k, p);
            return st;
        }
        if (k->n_plans == DN_MAX_PLANS) { /* evict the least used */
            uint32_t v = 0;
            for (uint32_t i = 1; i < k->n_plans; i++)
                if (k->plans[i]->uses < k->plans[v]->uses) v = i;
            dn_plan_free(k, k->plans[v]);
            k->plans[v] = k->plans[--k->n_plans];
        }
        k->plans[k->n_plans++] = p;
    }
    p->uses++;
    for (uint32_t o = 0; o < p->n_out && o < ctx->n_outputs; o++) {
        kiln_value_desc *d = ctx->outputs[o];
        int same = d && d->rank == p->out_rank[o];
        for (int32_t j = 0; same && j < d->rank; j++) same = d->dims[j] == p->out_dims[o][j];
        if (same) continue;
        int32_t st = h->alloc_output(ctx, o, p->out_rank[o], p->out_dims[o], &d, err);
        if (st != KILN_OK) return st;
    }
    return dn_plan_run(k, p, ctx, err);
}

/* Constant inputs were copied at creation: the host's copy is not read again. */
static int32_t prepack(kiln_kernel *kk, uint32_t input, const kiln_value_desc *w, int32_t *packed, kiln_error *err) {
    dn_kernel *k = (dn_kernel *)kk;
    (void)w;
    (void)err;
    *packed = input < k->n_consts && k->consts[input].present;
    return KILN_OK;
}

int32_t dn_kernel_create(dn_provider *pv, const kiln_node_view *n, kiln_kernel **out, kiln_error *err) {
    const kiln_host_api *h = pv->host;
    *out = NULL;
    const dn_op *op = dn_find_op(h, n);
    char why[160] = "";
    if (!op || !op->supports(h, n, why, sizeof(why)))
        return dn_fail(err, KILN_ERR_UNSUPPORTED, "the dnnl provider does not run node '%s' (%s)%s%s", h->node_name(n),
                       h->node_op_type(n), *why ? ": " : "", why);
    dn_kernel *k = dn_alloc(pv, sizeof(*k));
    if (!k) return dn_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory creating a dnnl kernel");
    k->abi.hdr.struct_size = sizeof(k->abi);
    k->abi.hdr.abi_version = pv->version;
    k->abi.state = k;
    k->abi.compute = compute;
    k->abi.release = kernel_release;
    k->abi.prepack = prepack;
    k->pv = pv;
    k->op = op;
    snprintf(k->name, sizeof(k->name), "%s", h->node_name(n));
    k->n_in = h->node_input_count(n);
    k->n_out = h->node_output_count(n);
    k->n_kin = k->n_in;
    k->n_kout = k->n_out;
    k->n_consts = k->n_in;
    k->consts = dn_alloc(pv, (k->n_in + 1) * sizeof(dn_const));
    int32_t st = k->consts ? KILN_OK : dn_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory creating a dnnl kernel");
    /* Constant inputs: a plain copy now (the host may free its own once every reader prepacked). */
    for (uint32_t i = 0; i < k->n_in && st == KILN_OK; i++) {
        kiln_value_info vi;
        if (dn_info(h, n, 0, i, &vi)) st = keep_const(k, i, &vi, err);
    }
    if (st == KILN_OK && op->create) st = op->create(k, n, err);
    if (st != KILN_OK) {
        kernel_release(&k->abi);
        return st;
    }
    *out = &k->abi;
    return KILN_OK;
}

/* ---- fused groups ---- */

/* Erf is run only inside the exported GELU pattern (gelu_rewrite), never alone. */
static int erf_supports(const kiln_host_api *h, const kiln_node_view *n, char *why, size_t len) {
    (void)h;
    (void)n;
    snprintf(why, len, "Erf only inside a GELU pattern");
    return 0;
}
static int32_t erf_build(dn_kernel *k, dn_plan *p, const kiln_value_desc *const *in, kiln_error *err) {
    (void)p;
    (void)in;
    return dn_fail(err, KILN_ERR_INTERNAL, "node '%s': Erf outside a GELU pattern", k->name);
}
static const dn_op erf_in_gelu = {"Erf", erf_supports, NULL, erf_build};

/* The node reading output 0 of `n` when it is the only reader in graph `g`, else NULL. */
static const kiln_node_view *only_consumer(const kiln_host_api *h, const kiln_graph_view *g, const kiln_node_view *n) {
    const kiln_node_view *found = NULL;
    uint32_t cnt = h->graph_node_count(g);
    for (uint32_t i = 0; i < cnt; i++) {
        const kiln_node_view *c = h->graph_node_at(g, i);
        for (uint32_t j = 0; j < h->node_input_count(c); j++) {
            uint32_t slot = 0;
            if (h->node_producer(c, j, &slot) == n && slot == 0) {
                if (found && found != c) return NULL;
                found = c;
            }
        }
    }
    return found;
}

static int is_op(const kiln_host_api *h, const kiln_node_view *n, const char *op) {
    return n && !*h->node_domain(n) && !strcmp(h->node_op_type(n), op) && !(h->node_flags(n) & KILN_NODE_F_CLAIMED);
}

/* 1 when Erf node `e` sits in Div -> Erf -> Add -> Mul -> Mul (checked in full at compile time). */
static int gelu_erf_node(const kiln_host_api *h, const kiln_graph_view *g, const kiln_node_view *e) {
    if (!is_op(h, e, "Erf") || h->node_input_count(e) != 1) return 0;
    kiln_value_info vi;
    if (!dn_info(h, e, 0, 0, &vi) || vi.dtype != KILN_DTYPE_FLOAT) return 0;
    if (!is_op(h, h->node_producer(e, 0, NULL), "Div")) return 0;
    const kiln_node_view *a = only_consumer(h, g, e);
    const kiln_node_view *m = is_op(h, a, "Add") ? only_consumer(h, g, a) : NULL;
    const kiln_node_view *m2 = is_op(h, m, "Mul") ? only_consumer(h, g, m) : NULL;
    return is_op(h, m2, "Mul");
}

int dn_value_read_after(const dn_kernel *k, int v, int mi, int except) {
    for (uint32_t mj = 0; mj < k->n_members; mj++) {
        if ((int)mj == except) continue;
        int at = k->members[mj].absorbed ? k->members[mj].host : (int)mj;
        if (at <= mi) continue;
        for (uint32_t i = 0; i < k->members[mj].n_in; i++)
            if (k->members[mj].in_val[i] == v) return 1;
    }
    return 0;
}

/* Runs each member's build on the group's values; values live in oneDNN's layouts between
 * members and are reordered to plain only at the group's outputs. */
static int32_t build_group(dn_kernel *k, dn_plan *p, kiln_kernel_ctx *ctx, kiln_error *err) {
    p->n_out = k->n_kout;
    for (uint32_t v = 0; v < k->n_vals; v++) k->vals[v].buf = -1;
    for (uint32_t v = 0; v < k->n_vals; v++) {
        dn_gval *gv = &k->vals[v];
        if (gv->gin < 0) continue;
        const kiln_value_desc *d = ctx->inputs[gv->gin];
        if (!d) return dn_fail(err, KILN_ERR_INVALID_ARGUMENT, "group '%s': input %d missing", k->name, gv->gin);
        gv->rank = d->rank;
        memcpy(gv->dims, d->dims, (size_t)d->rank * sizeof(int64_t));
        if (k->consts[gv->gin].present) continue; /* planned by the member that reads it */
        dnnl_memory_desc_t md;
        dn_md_plain(&md, d->rank, d->dims);
        gv->buf = dn_plan_buf(k, p, &md, DN_BUF_IN, (uint32_t)gv->gin, NULL, err);
        if (gv->buf < 0) return err->status;
    }
    const dn_op *gop = k->op;
    char gname[128];
    memcpy(gname, k->name, sizeof(gname));
    int32_t st = KILN_OK;
    for (uint32_t mi = 0; mi < k->n_members && st == KILN_OK; mi++) {
        dn_member *m = &k->members[mi];
        if (m->absorbed) continue;
        kiln_value_desc in[DN_MAX_IN];
        const kiln_value_desc *inp[DN_MAX_IN];
        for (uint32_t i = 0; i < m->n_in; i++) {
            inp[i] = NULL;
            if (m->in_val[i] < 0) continue;
            dn_gval *v = &k->vals[m->in_val[i]];
            memset(&in[i], 0, sizeof(in[i]));
            in[i].hdr.struct_size = sizeof(in[i]);
            in[i].kind = KILN_VALUE_TENSOR;
            in[i].dtype = KILN_DTYPE_FLOAT;
            in[i].rank = v->rank;
            in[i].dims = v->dims;
            in[i].count = 1;
            for (int32_t j = 0; j < v->rank; j++) in[i].count *= (uint64_t)v->dims[j];
            inp[i] = &in[i];
            if (v->buf < 0 && !(v->gin >= 0 && k->consts[v->gin].present))
                return dn_fail(err, KILN_ERR_UNSUPPORTED, "group '%s': node '%s' reads a value no member computed (an empty tensor?)",
                               gname, m->name);
        }
        uint32_t first_buf = p->n_bufs;
        k->cur = m;
        k->cur_index = (int)mi;
        k->op = m->op;
        k->op_state = m->op_state;
        k->n_in = m->n_in;
        k->n_out = m->n_out;
        memcpy(k->name, m->name, sizeof(k->name));
        st = m->op->build(k, p, inp, err);
        k->cur = NULL;
        k->op = gop;
        k->op_state = NULL;
        memcpy(k->name, gname, sizeof(k->name));
        if (st != KILN_OK) break;
        if (m->post_sum < 0 && m->post_elt < 0 && m->post_bias < 0)
            for (uint32_t o = 0; o < m->n_out; o++)
                if (m->out_val[o] >= 0 && k->vals[m->out_val[o]].buf < 0 &&
                    (k->vals[m->out_val[o]].n_cons || k->vals[m->out_val[o]].gout >= 0))
                    return dn_fail(err, KILN_ERR_UNSUPPORTED, "group '%s': node '%s' made an empty tensor", gname, m->name);
        /* Temporaries of this member (reorders) and values read for the last time are free again. */
        for (uint32_t b = first_buf; b < p->n_bufs; b++) {
            int held = 0;
            for (uint32_t v = 0; v < k->n_vals && !held; v++) held = k->vals[v].buf == (int)b;
            if (!held) dn_plan_release(k, p, (int)b);
        }
        for (uint32_t v = 0; v < k->n_vals; v++) {
            dn_gval *gv = &k->vals[v];
            if (gv->buf < 0 || gv->gout >= 0 || gv->gin >= 0) continue;
            /* read by a member (or the host of a fused member) built after this one? */
            if (!dn_value_read_after(k, (int)v, (int)mi, -1)) {
                dn_plan_release(k, p, gv->buf);
                gv->buf = -2; /* dead */
            }
        }
    }
    k->cur_index = -1;
    return st;
}

static int find_val(dn_kernel *k, const char *name) {
    for (uint32_t v = 0; v < k->n_vals; v++)
        if (!strcmp(k->vals[v].name, name)) return (int)v;
    return -1;
}

static int add_val(dn_kernel *k, const char *name) {
    int v = find_val(k, name);
    if (v >= 0) return v;
    size_t len = strlen(name) + 1;
    dn_gval *g = &k->vals[k->n_vals];
    memset(g, 0, sizeof(*g));
    g->name = dn_alloc(k->pv, len);
    if (!g->name) return -1;
    memcpy(g->name, name, len);
    g->gin = g->gout = -1;
    g->last_cons = -1;
    g->producer = -1;
    g->buf = -1;
    return (int)k->n_vals++;
}

/* Which members run as post-ops of a Conv: an Add of a value computed earlier (sum), then an
 * eltwise, each the only reader of the value before it and not a group output. */
/* The one member reading value `v` (members absorbed into another count as that one), or -1. */
static int only_reader(const dn_kernel *k, int v) {
    int who = -1;
    for (uint32_t j = 0; j < k->n_members; j++)
        for (uint32_t i = 0; i < k->members[j].n_in; i++)
            if (k->members[j].in_val[i] == v) {
                int at = k->members[j].absorbed ? k->members[j].host : (int)j;
                if (who >= 0 && who != at) return -1;
                who = at;
            }
    return who;
}

/* The value of a kept float constant holding one element, or NAN. */
static float const_scalar(const dn_kernel *k, int v) {
    int32_t gi = v >= 0 ? k->vals[v].gin : -1;
    if (gi < 0 || !k->consts[gi].present || k->consts[gi].n_copies != 1 || !k->consts[gi].plain_only) return NAN;
    int64_t n = 1;
    for (int32_t d = 0; d < k->consts[gi].rank; d++) n *= k->consts[gi].dims[d];
    return n == 1 ? *(const float *)k->consts[gi].copies[0].data : NAN;
}

/* The member reading `v` when it is the only one and `v` leaves nothing else, or -1. */
static int single_consumer(const dn_kernel *k, int v, const char *op) {
    if (v < 0 || k->vals[v].n_cons != 1 || k->vals[v].gout >= 0) return -1;
    int c = k->vals[v].last_cons;
    return !k->members[c].absorbed && !strcmp(k->members[c].op->op_type, op) ? c : -1;
}

static int other_input(const dn_member *m, int v) {
    return m->n_in == 2 ? (m->in_val[0] == v ? m->in_val[1] : m->in_val[0]) : -1;
}

/* x / sqrt(2) -> Erf -> + 1 -> * x -> * 0.5 (exported GELU) becomes one gelu_erf eltwise at the Div. */
static void gelu_rewrite(dn_kernel *k) {
    for (uint32_t ei = 0; ei < k->n_members; ei++) {
        dn_member *e = &k->members[ei];
        if (strcmp(e->op->op_type, "Erf") || e->absorbed || e->in_val[0] < 0) continue;
        int dv = e->in_val[0];
        int di = k->vals[dv].producer;
        if (di < 0 || strcmp(k->members[di].op->op_type, "Div") || k->vals[dv].n_cons != 1 || k->vals[dv].gout >= 0) continue;
        dn_member *dm = &k->members[di];
        int x = dm->in_val[0];
        if (fabsf(const_scalar(k, dm->in_val[1]) - 1.41421356f) > 1e-4f) continue;
        int ai = single_consumer(k, e->out_val[0], "Add");
        if (ai < 0 || fabsf(const_scalar(k, other_input(&k->members[ai], e->out_val[0])) - 1.0f) > 1e-6f) continue;
        int mi = single_consumer(k, k->members[ai].out_val[0], "Mul");
        if (mi < 0 || other_input(&k->members[mi], k->members[ai].out_val[0]) != x) continue;
        int m2 = single_consumer(k, k->members[mi].out_val[0], "Mul");
        if (m2 >= 0 && k->vals[k->members[mi].out_val[0]].gout >= 0) m2 = -1;
        if (m2 < 0 || fabsf(const_scalar(k, other_input(&k->members[m2], k->members[mi].out_val[0])) - 0.5f) > 1e-6f) continue;
        dn_elt_state *gs = dn_alloc(k->pv, sizeof(*gs));
        if (!gs) return;
        gs->alg = dnnl_eltwise_gelu_erf;
        dn_free(k->pv, dm->op_state);
        dm->op_state = gs;
        dm->op = dn_op_gelu_erf();
        dm->out_val[0] = k->members[m2].out_val[0];
        const int parts[4] = {(int)ei, ai, mi, m2};
        for (int j = 0; j < 4; j++) {
            k->members[parts[j]].absorbed = 1;
            k->members[parts[j]].host = di;
        }
    }
}

static void plan_fusion(dn_kernel *k, const kiln_graph_view *g) {
    const kiln_host_api *h = k->pv->host;
    for (uint32_t mi = 0; mi < k->n_members; mi++) {
        dn_member *m = &k->members[mi];
        m->post_sum = m->post_elt = m->post_bias = -1;
    }
    gelu_rewrite(k);
    /* MatMul: an Add of a constant vector along the last dim (a bias) as a binary post-op, then an eltwise. */
    for (uint32_t mi = 0; mi < k->n_members; mi++) {
        dn_member *m = &k->members[mi];
        if (m->absorbed || strcmp(m->op->op_type, "MatMul") || m->out_val[0] < 0) continue;
        const kiln_node_view *mn = h->graph_node_at(g, mi);
        kiln_value_info mo;
        if (!dn_info(h, mn, 1, 0, &mo) || mo.rank < 2 || mo.dims[mo.rank - 1] <= 0) continue;
        int v = m->out_val[0];
        dn_gval *gv = &k->vals[v];
        if (gv->n_cons != 1 || gv->gout >= 0) continue;
        dn_member *c = &k->members[gv->last_cons];
        if (!strcmp(c->op->op_type, "Add") && c->n_in == 2) {
            int other = c->in_val[0] == v ? c->in_val[1] : c->in_val[0];
            dn_gval *u = other >= 0 && other != v ? &k->vals[other] : NULL;
            dn_const *bc = u && u->gin >= 0 && k->consts[u->gin].present ? &k->consts[u->gin] : NULL;
            int ok = bc && bc->rank >= 1 && bc->rank <= mo.rank && bc->dims[bc->rank - 1] == mo.dims[mo.rank - 1];
            for (int32_t d = 0; ok && d < bc->rank - 1; d++) ok = bc->dims[d] == 1;
            if (!ok) continue;
            m->post_bias = gv->last_cons;
            m->bias_val = other;
            c->absorbed = 1;
            c->host = (int)mi;
            v = c->out_val[0];
            gv = &k->vals[v];
            int e = only_reader(k, v);
            if (e >= 0 && gv->gout < 0 && dn_is_eltwise(k->members[e].op)) {
                m->post_elt = e;
                k->members[e].absorbed = 1;
                k->members[e].host = (int)mi;
                for (uint32_t j = 0; j < k->n_members; j++) /* members of a GELU pattern follow their host */
                    if (k->members[j].absorbed && k->members[j].host == e) k->members[j].host = (int)mi;
            }
        }
    }
    for (uint32_t mi = 0; mi < k->n_members; mi++) {
        dn_member *m = &k->members[mi];
        if (m->absorbed || strcmp(m->op->op_type, "Conv") || m->out_val[0] < 0) continue;
        int v = m->out_val[0];
        for (int step = 0; step < 2; step++) {
            dn_gval *gv = &k->vals[v];
            if (gv->n_cons != 1 || gv->gout >= 0) break;
            dn_member *c = &k->members[gv->last_cons];
            if (step == 0 && !strcmp(c->op->op_type, "Add") && c->n_in == 2) {
                int other = c->in_val[0] == v ? c->in_val[1] : c->in_val[0];
                if (other < 0 || other == v) break;
                dn_gval *u = &k->vals[other];
                if (u->gin >= 0 && k->consts[u->gin].present) break;
                if (u->producer >= (int)mi) break; /* not computed before the convolution */
                /* Same shape as the convolution's output (known at compile time), else no fusion. */
                const kiln_node_view *cn = h->graph_node_at(g, (uint32_t)gv->last_cons);
                kiln_value_info a, b;
                if (!dn_info(h, cn, 0, 0, &a) || !dn_info(h, cn, 0, 1, &b) || a.rank < 0 || a.rank != b.rank) break;
                int same = 1;
                for (int32_t d = 0; d < a.rank; d++) same &= a.dims[d] >= 0 && a.dims[d] == b.dims[d];
                if (!same) break;
                m->post_sum = gv->last_cons;
                m->sum_addend = other;
                c->absorbed = 1;
                c->host = (int)mi;
                v = c->out_val[0];
                continue;
            }
            if (dn_is_eltwise(c->op)) {
                m->post_elt = gv->last_cons;
                c->absorbed = 1;
                c->host = (int)mi;
            }
            break;
        }
    }
}

int32_t dn_provider_compile_group(dn_provider *pv, const kiln_graph_view *g, kiln_kernel **out, kiln_error *err) {
    const kiln_host_api *h = pv->host;
    *out = NULL;
    uint32_t n = h->graph_node_count(g), nin = h->graph_input_count(g), nout = h->graph_output_count(g);
    if (nout > DN_MAX_OUT) return dn_fail(err, KILN_ERR_UNSUPPORTED, "dnnl: group '%s' has %u outputs (at most %d)", h->graph_name(g), nout, DN_MAX_OUT);
    dn_kernel *k = dn_alloc(pv, sizeof(*k));
    if (!k) return dn_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory compiling a dnnl group");
    k->abi.hdr.struct_size = sizeof(k->abi);
    k->abi.hdr.abi_version = pv->version;
    k->abi.state = k;
    k->abi.compute = compute;
    k->abi.release = kernel_release;
    k->abi.prepack = prepack;
    k->pv = pv;
    k->cur_index = -1;
    snprintf(k->name, sizeof(k->name), "%s", h->graph_name(g));
    k->n_kin = k->n_consts = nin;
    k->n_kout = nout;
    k->consts = dn_alloc(pv, (nin + 1) * sizeof(dn_const));
    k->members = dn_alloc(pv, (n + 1) * sizeof(dn_member));
    k->n_members = n;
    k->vals = dn_alloc(pv, (nin + nout + n * DN_MAX_IN + 1) * sizeof(dn_gval));
    int32_t st = k->consts && k->members && k->vals ? KILN_OK : dn_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory compiling a dnnl group");
    for (uint32_t i = 0; i < nin && st == KILN_OK; i++) {
        kiln_value_info vi;
        memset(&vi, 0, sizeof(vi));
        vi.hdr.struct_size = sizeof(vi);
        st = h->graph_input_info(g, i, &vi);
        if (st != KILN_OK) break;
        int v = add_val(k, vi.name);
        if (v < 0) st = dn_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        else {
            k->vals[v].gin = (int32_t)i;
            st = keep_const(k, i, &vi, err);
        }
    }
    for (uint32_t i = 0; i < nout && st == KILN_OK; i++) {
        kiln_value_info vi;
        memset(&vi, 0, sizeof(vi));
        vi.hdr.struct_size = sizeof(vi);
        st = h->graph_output_info(g, i, &vi);
        if (st != KILN_OK) break;
        int v = add_val(k, vi.name);
        if (v < 0) st = dn_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        else k->vals[v].gout = (int32_t)i;
    }
    for (uint32_t mi = 0; mi < n && st == KILN_OK; mi++) {
        const kiln_node_view *nv = h->graph_node_at(g, mi);
        dn_member *m = &k->members[mi];
        const dn_op *op = dn_find_op(h, nv);
        char why[160] = "";
        if (!op && !strcmp(h->node_op_type(nv), "Erf") && !*h->node_domain(nv)) op = &erf_in_gelu;
        if (!op || (op != &erf_in_gelu && !op->supports(h, nv, why, sizeof(why))) || h->node_input_count(nv) > DN_MAX_IN ||
            h->node_output_count(nv) > DN_MAX_IN) {
            st = dn_fail(err, KILN_ERR_UNSUPPORTED, "dnnl: node '%s' (%s) cannot join a group%s%s", h->node_name(nv), h->node_op_type(nv),
                         *why ? ": " : "", why);
            break;
        }
        m->op = op;
        snprintf(m->name, sizeof(m->name), "%s", h->node_name(nv));
        m->n_in = h->node_input_count(nv);
        m->n_out = h->node_output_count(nv);
        for (uint32_t i = 0; i < m->n_in && st == KILN_OK; i++) {
            kiln_value_info vi;
            m->in_val[i] = -1;
            if (!dn_info(h, nv, 0, i, &vi)) continue;
            int v = find_val(k, vi.name);
            if (v < 0) st = dn_fail(err, KILN_ERR_UNSUPPORTED, "dnnl: group value '%s' of node '%s' has no source", vi.name, m->name);
            else {
                m->in_val[i] = v;
                int seen = 0;
                for (uint32_t j = 0; j < i; j++) seen |= m->in_val[j] == v;
                if (!seen) k->vals[v].n_cons++;
                k->vals[v].last_cons = (int)mi;
            }
        }
        for (uint32_t o = 0; o < m->n_out && st == KILN_OK; o++) {
            kiln_value_info vi;
            m->out_val[o] = -1;
            if (!dn_info(h, nv, 1, o, &vi)) continue;
            int v = add_val(k, vi.name);
            if (v < 0) st = dn_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
            else {
                m->out_val[o] = v;
                k->vals[v].producer = (int)mi;
            }
        }
        if (st != KILN_OK) break;
        k->cur = m;
        k->op = op;
        k->n_in = m->n_in;
        k->n_out = m->n_out;
        if (op->create) st = op->create(k, nv, err);
        m->op_state = k->op_state;
        k->op_state = NULL;
        k->cur = NULL;
    }
    if (st == KILN_OK) {
        plan_fusion(k, g);
        k->op = k->members[0].op;
        for (uint32_t mi = 0; mi < n && st == KILN_OK; mi++)
            if (k->members[mi].op == &erf_in_gelu && !k->members[mi].absorbed)
                st = dn_fail(err, KILN_ERR_UNSUPPORTED, "dnnl: Erf node '%s' is not part of a GELU pattern in this group", k->members[mi].name);
    }
    snprintf(k->name, sizeof(k->name), "%s", h->graph_name(g));
    if (st != KILN_OK) {
        kernel_release(&k->abi);
        return st;
    }
    *out = &k->abi;
    return KILN_OK;
}

/* Proposes every connected set of two or more nodes the plugin runs. */
int32_t dn_provider_claim_groups(dn_provider *pv, const kiln_graph_view *g, kiln_claim_sink *sink, kiln_error *err) {
    const kiln_host_api *h = pv->host;
    uint32_t n = h->graph_node_count(g);
    uint32_t *root = dn_alloc(pv, (n + 1) * sizeof(uint32_t));
    const kiln_node_view **list = dn_alloc(pv, (n + 1) * sizeof(*list));
    int32_t st = KILN_OK;
    if (!root || !list) {
        st = dn_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    for (uint32_t i = 0; i < n; i++) {
        const kiln_node_view *nv = h->graph_node_at(g, i);
        const dn_op *op = dn_find_op(h, nv);
        if (!op && gelu_erf_node(h, g, nv)) op = &erf_in_gelu;
        char why[8];
        int ok = op && !(h->node_flags(nv) & (KILN_NODE_F_CLAIMED | KILN_NODE_F_SHAPE_ONLY | KILN_NODE_F_SUBGRAPH)) &&
                 h->node_input_count(nv) <= DN_MAX_IN && h->node_output_count(nv) <= DN_MAX_IN && (op == &erf_in_gelu || op->supports(h, nv, why, sizeof(why)));
        root[i] = ok ? i : UINT32_MAX;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (root[i] == UINT32_MAX) continue;
        const kiln_node_view *nv = h->graph_node_at(g, i);
        for (uint32_t j = 0; j < h->node_input_count(nv); j++) {
            const kiln_node_view *pn = h->node_producer(nv, j, NULL);
            uint32_t a = pn ? h->node_index(pn) : UINT32_MAX, b = i;
            if (a >= n || root[a] == UINT32_MAX) continue;
            while (root[a] != a) a = root[a];
            while (root[b] != b) b = root[b];
            if (a != b) root[a > b ? a : b] = a < b ? a : b;
        }
    }
    for (uint32_t r = 0; r < n && st == KILN_OK; r++) {
        uint32_t m = 0;
        for (uint32_t i = 0; i < n; i++) {
            if (root[i] == UINT32_MAX) continue;
            uint32_t a = i;
            while (root[a] != a) a = root[a];
            if (a == r) list[m++] = h->graph_node_at(g, i);
        }
        if (m >= 2) st = h->claim_group(sink, list, m, 0, err);
    }
done:
    dn_free(pv, root);
    dn_free(pv, list);
    return st;
}
