/* SPDX-License-Identifier: MIT */
/* Single-node kernels: the operator table, kernel creation (constant inputs copied once),
 * the prepack hook, and compute with one plan cached per input-shape signature. */
#include <stdio.h>
#include <string.h>

#include "dn.h"

const dn_op *dn_find_op(const kiln_host_api *h, const kiln_node_view *n) {
    static const dn_op *const single[] = {&dn_op_conv, &dn_op_matmul, &dn_op_gemm, &dn_op_softmax, &dn_op_logsoftmax,
                                          &dn_op_maxpool, &dn_op_avgpool, &dn_op_gavgpool, &dn_op_gmaxpool};
    if (*h->node_domain(n)) return NULL;
    const char *op = h->node_op_type(n);
    for (size_t i = 0; i < sizeof(single) / sizeof(single[0]); i++)
        if (!strcmp(single[i]->op_type, op)) return single[i];
    for (const dn_op *o = dn_op_eltwise_table; o->op_type; o++)
        if (!strcmp(o->op_type, op)) return o;
    for (const dn_op *o = dn_op_binary_table; o->op_type; o++)
        if (!strcmp(o->op_type, op)) return o;
    return NULL;
}

static void kernel_release(kiln_kernel *kk) {
    dn_kernel *k = (dn_kernel *)kk;
    for (uint32_t i = 0; i < k->n_plans; i++) dn_plan_free(k, k->plans[i]);
    for (uint32_t i = 0; i < DN_MAX_IN; i++) {
        for (uint32_t j = 0; j < k->consts[i].n_copies; j++) dn_free(k->pv, k->consts[i].copies[j].data);
        dn_free(k->pv, k->consts[i].copies);
    }
    dn_free(k->pv, k->op_state);
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
    int64_t key[DN_MAX_IN * (KILN_MAX_RANK + 1) + 1];
    uint32_t kl = make_key(ctx, key, sizeof(key) / sizeof(key[0]));
    if (ctx->n_inputs > DN_MAX_IN || (ctx->n_inputs && !kl))
        return dn_fail(err, KILN_ERR_INVALID_ARGUMENT, "node '%s' (%s): unexpected inputs", k->name, k->op->op_type);
    for (uint32_t i = 0; i < ctx->n_inputs; i++) {
        const kiln_value_desc *d = ctx->inputs[i];
        if (d && !k->consts[i].present && (d->kind != KILN_VALUE_TENSOR || d->dtype != KILN_DTYPE_FLOAT))
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
        for (int i = 0; i < DN_MAX_IN; i++) p->pend[i] = -1;
        int32_t st = k->op->build(k, p, ctx->inputs, err);
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
    *packed = input < DN_MAX_IN && k->consts[input].present;
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
    int32_t st = KILN_OK;
    /* Constant inputs: a plain copy now (the host may free its own once every reader prepacked). */
    for (uint32_t i = 0; i < k->n_in && i < DN_MAX_IN && st == KILN_OK; i++) {
        kiln_value_info vi;
        if (!dn_info(h, n, 0, i, &vi) || !vi.constant || !vi.constant->data) continue;
        const kiln_value_desc *c = vi.constant;
        if (c->dtype != KILN_DTYPE_FLOAT || c->kind != KILN_VALUE_TENSOR) continue;
        dn_const *kc = &k->consts[i];
        kc->copies = dn_alloc(pv, sizeof(dn_const_copy));
        size_t bytes = (size_t)c->count * sizeof(float);
        if (kc->copies) kc->copies[0].data = dn_alloc(pv, bytes);
        if (!kc->copies || !kc->copies[0].data) {
            st = dn_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory copying a weight of node '%s'", k->name);
            break;
        }
        kc->n_copies = 1;
        memcpy(kc->copies[0].data, c->data, bytes);
        dn_md_plain(&kc->copies[0].md, c->rank, c->dims);
        kc->rank = c->rank;
        memcpy(kc->dims, c->dims, (size_t)c->rank * sizeof(int64_t));
        kc->present = 1;
        kc->plain_only = 1;
    }
    if (st == KILN_OK && op->create) st = op->create(k, n, err);
    if (st != KILN_OK) {
        kernel_release(&k->abi);
        return st;
    }
    *out = &k->abi;
    return KILN_OK;
}
