/* SPDX-License-Identifier: MIT */
/* Add, Sub, Mul, Div, Max, Min (two inputs) with numpy broadcasting on oneDNN's binary
 * primitive. oneDNN broadcasts only its second source, so a first operand smaller than the
 * output is first broadcast into a zeroed temporary (an add), then combined with the second. */
#include <stdio.h>
#include <string.h>

#include "dn.h"

typedef struct bin_state {
    dnnl_alg_kind_t alg;
} bin_state;

static dnnl_alg_kind_t alg_of(const char *op) {
    return !strcmp(op, "Add") ? dnnl_binary_add : !strcmp(op, "Sub") ? dnnl_binary_sub : !strcmp(op, "Mul") ? dnnl_binary_mul
         : !strcmp(op, "Div") ? dnnl_binary_div : !strcmp(op, "Max") ? dnnl_binary_max : !strcmp(op, "Min") ? dnnl_binary_min
         : dnnl_alg_kind_undef;
}

static int bin_supports(const kiln_host_api *h, const kiln_node_view *n, char *why, size_t len) {
    if (!dn_all_float(h, n, 2, why, len)) return 0;
    if (h->node_input_count(n) != 2) {
        snprintf(why, len, "%u inputs (two only)", h->node_input_count(n));
        return 0;
    }
    if (h->node_opset(n) < 7 && dn_attr_i(h, n, "broadcast", 0)) {
        snprintf(why, len, "legacy broadcast attribute");
        return 0;
    }
    return alg_of(h->node_op_type(n)) != dnnl_alg_kind_undef;
}

static int32_t bin_create(dn_kernel *k, const kiln_node_view *n, kiln_error *err) {
    bin_state *s = dn_alloc(k->pv, sizeof(*s));
    if (!s) return dn_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    k->op_state = s;
    s->alg = alg_of(k->pv->host->node_op_type(n));
    return KILN_OK;
}

static int32_t add_binary(dn_kernel *k, dn_plan *p, dnnl_alg_kind_t alg, int b0, int b1, int bd, kiln_error *err) {
    const dnnl_memory_desc_t *m0, *m1, *md;
    dnnl_memory_get_memory_desc(p->bufs[b0].mem, &m0);
    dnnl_memory_get_memory_desc(p->bufs[b1].mem, &m1);
    dnnl_memory_get_memory_desc(p->bufs[bd].mem, &md);
    dnnl_binary_desc_t bdsc;
    int32_t st = dn_check(dnnl_binary_desc_init(&bdsc, alg, m0, m1, md), err, k, "binary descriptor");
    if (st != KILN_OK) return st;
    dnnl_primitive_desc_t pd;
    st = dn_check(dnnl_primitive_desc_create(&pd, &bdsc, NULL, k->pv->engine, NULL), err, k, "binary");
    if (st != KILN_OK) return st;
    int args[3] = {DNNL_ARG_SRC_0, DNNL_ARG_SRC_1, DNNL_ARG_DST}, bufs[3] = {b0, b1, bd};
    st = dn_plan_step(k, p, pd, 3, args, bufs, "binary", err);
    dnnl_primitive_desc_destroy(pd);
    return st;
}

static int32_t bin_build(dn_kernel *k, dn_plan *p, const kiln_value_desc *const *in, kiln_error *err) {
    bin_state *s = k->op_state;
    const kiln_value_desc *a = in[0], *b = in[1];
    if (!a || !b) return dn_fail(err, KILN_ERR_SHAPE, "node '%s': missing input", k->name);
    int r = a->rank > b->rank ? a->rank : b->rank;
    int64_t pa[KILN_MAX_RANK] = {0}, pb[KILN_MAX_RANK] = {0}, od[KILN_MAX_RANK] = {0};
    int a_full = 1;
    for (int i = 0; i < r; i++) {
        pa[i] = i < r - a->rank ? 1 : a->dims[i - (r - a->rank)];
        pb[i] = i < r - b->rank ? 1 : b->dims[i - (r - b->rank)];
        if (pa[i] != pb[i] && pa[i] != 1 && pb[i] != 1)
            return dn_fail(err, KILN_ERR_SHAPE, "node '%s' (%s): dims %lld and %lld do not broadcast", k->name, k->op->op_type,
                           (long long)pa[i], (long long)pb[i]);
        od[i] = pa[i] == 1 ? pb[i] : pa[i];
        if (pa[i] != od[i]) a_full = 0;
    }
    dn_plan_shape(k, p, 0, r, od);
    int64_t total = 1;
    for (int i = 0; i < r; i++) total *= od[i];
    if (total == 0) return KILN_OK;
    int rr = r ? r : 1;
    int64_t one = 1;
    dnnl_memory_desc_t ma, mb, mo;
    dn_md_plain(&ma, rr, r ? pa : &one);
    dn_md_plain(&mb, rr, r ? pb : &one);
    dn_md_plain(&mo, rr, r ? od : &one);
    dn_const *ca = dn_const_of(k, 0), *cb = dn_const_of(k, 1);
    if (ca && ca->present && ca->plain_only) ca->copies[0].md = ma;
    if (cb && cb->present && cb->plain_only) cb->copies[0].md = mb;
    /* Two group values of the same dims and layout are combined as they are. */
    const dnnl_memory_desc_t *n0 = dn_in_native(k, p, 0), *n1 = dn_in_native(k, p, 1);
    if (n0 && n1 && dnnl_memory_desc_equal(n0, n1) && a->rank == b->rank && a_full) {
        int s0 = dn_plan_input_native(k, p, 0, err), s1 = s0 >= 0 ? dn_plan_input_native(k, p, 1, err) : -1;
        int d = s1 >= 0 ? dn_plan_dst(k, p, 0, n0, r, od, err) : -1;
        return d >= 0 ? add_binary(k, p, s->alg, s0, s1, d, err) : err->status;
    }
    int b0 = dn_plan_input(k, p, 0, &ma, NULL, err);
    int b1 = b0 >= 0 ? dn_plan_input(k, p, 1, &mb, NULL, err) : -1;
    int bd = b1 >= 0 ? dn_plan_dst(k, p, 0, NULL, r, od, err) : -1;
    if (bd >= 0) bd = dn_plan_view(k, p, bd, &mo, err);
    if (bd < 0) return err->status;
    if (!a_full) {
        int t = dn_plan_buf(k, p, &mo, DN_BUF_TMP, 0, NULL, err);
        if (t < 0) return err->status;
        int32_t st = dn_plan_zero(k, p, t, err);
        if (st == KILN_OK) st = add_binary(k, p, dnnl_binary_add, t, b0, t, err);
        if (st != KILN_OK) return st;
        b0 = t;
    }
    return add_binary(k, p, s->alg, b0, b1, bd, err);
}

#define BIN(name) {name, bin_supports, bin_create, bin_build}
const dn_op dn_op_binary_table[] = {BIN("Add"), BIN("Sub"), BIN("Mul"), BIN("Div"), BIN("Max"), BIN("Min"), {NULL, NULL, NULL, NULL}};
