/* SPDX-License-Identifier: MIT */
/* Unary elementwise ops on oneDNN's eltwise primitive: Relu, LeakyRelu, Elu, Tanh, Sigmoid,
 * Exp, Sqrt, Abs, HardSwish, HardSigmoid (linear then clip), Mish, Neg, Gelu (opset 20), Pow by a constant 2 or 0.5, and Clip
 * (attributes before opset 11, constant or omitted min/max inputs from 11). Log and Softplus are left to the CPU provider:
 * oneDNN 2.6's are approximations (log(1) = -1.4e-6; softplus(-7.7) off by 1.3%) that fail the
 * node tests' tolerances. */
#include <float.h>
#include <stdio.h>
#include <string.h>

#include "dn.h"

typedef dn_elt_state elt_state;

/* The algorithm and its parameters for node `n`; 0 when unsupported. */
static int elt_params(const kiln_host_api *h, const kiln_node_view *n, elt_state *s, char *why, size_t len) {
    const char *op = h->node_op_type(n);
    s->alpha = s->beta = 0.0f;
    s->clip01 = 0;
    if (!strcmp(op, "Relu")) s->alg = dnnl_eltwise_relu;
    else if (!strcmp(op, "LeakyRelu")) s->alg = dnnl_eltwise_relu, s->alpha = dn_attr_f(h, n, "alpha", 0.01f);
    else if (!strcmp(op, "Elu")) s->alg = dnnl_eltwise_elu, s->alpha = dn_attr_f(h, n, "alpha", 1.0f);
    else if (!strcmp(op, "Tanh")) s->alg = dnnl_eltwise_tanh;
    else if (!strcmp(op, "Sigmoid")) s->alg = dnnl_eltwise_logistic;
    else if (!strcmp(op, "Exp")) s->alg = dnnl_eltwise_exp;
    else if (!strcmp(op, "Sqrt")) s->alg = dnnl_eltwise_sqrt;
    else if (!strcmp(op, "Abs")) s->alg = dnnl_eltwise_abs;
    else if (!strcmp(op, "HardSwish")) s->alg = dnnl_eltwise_hardswish;
    else if (!strcmp(op, "Mish")) s->alg = dnnl_eltwise_mish;
    else if (!strcmp(op, "Neg")) s->alg = dnnl_eltwise_linear, s->alpha = -1.0f;
    else if (!strcmp(op, "HardSigmoid")) {
        /* max(0, min(1, alpha * x + beta)): oneDNN 2.6 has no single algorithm for it */
        s->alg = dnnl_eltwise_linear;
        s->alpha = dn_attr_f(h, n, "alpha", 0.2f);
        s->beta = dn_attr_f(h, n, "beta", 0.5f);
        s->clip01 = 1;
    }
    else if (!strcmp(op, "Gelu")) {
        const char *ap = dn_attr_s(h, n, "approximate", "none");
        if (!strcmp(ap, "none")) s->alg = dnnl_eltwise_gelu_erf;
        else if (!strcmp(ap, "tanh")) s->alg = dnnl_eltwise_gelu_tanh;
        else {
            snprintf(why, len, "approximate=%s", ap);
            return 0;
        }
    } else if (!strcmp(op, "Pow")) { /* a constant exponent of 2 (x * x, exact) or 0.5 (sqrt) */
        kiln_value_info vi;
        float v = 0.0f;
        if (h->node_input_count(n) != 2 || !dn_info(h, n, 0, 1, &vi) || !vi.constant || !vi.constant->data || vi.constant->count != 1 ||
            vi.constant->dtype != KILN_DTYPE_FLOAT || ((v = *(const float *)vi.constant->data) != 2.0f && v != 0.5f)) {
            snprintf(why, len, "Pow with an exponent other than a constant 2 or 0.5");
            return 0;
        }
        s->alg = v == 2.0f ? dnnl_eltwise_square : dnnl_eltwise_sqrt;
    } else if (!strcmp(op, "Clip")) {
        s->alg = dnnl_eltwise_clip_v2;
        s->alpha = -FLT_MAX;
        s->beta = FLT_MAX;
        if (h->node_opset(n) < 11) {
            s->alpha = dn_attr_f(h, n, "min", -FLT_MAX);
            s->beta = dn_attr_f(h, n, "max", FLT_MAX);
        }
        for (uint32_t i = 1; i < h->node_input_count(n) && i < 3; i++) {
            kiln_value_info vi;
            if (!dn_info(h, n, 0, i, &vi)) continue;
            if (!vi.constant || !vi.constant->data || vi.constant->count != 1 || vi.constant->dtype != KILN_DTYPE_FLOAT) {
                snprintf(why, len, "Clip bound %s is not a constant float scalar", i == 1 ? "min" : "max");
                return 0;
            }
            float v = *(const float *)vi.constant->data;
            if (i == 1) s->alpha = v;
            else s->beta = v;
        }
    } else {
        return 0;
    }
    return 1;
}

static int elt_supports(const kiln_host_api *h, const kiln_node_view *n, char *why, size_t len) {
    elt_state s;
    const char *op = h->node_op_type(n);
    if (!dn_all_float(h, n, !strcmp(op, "Clip") ? 3 : !strcmp(op, "Pow") ? 2 : 1, why, len)) return 0;
    return elt_params(h, n, &s, why, len);
}

static int32_t elt_create(dn_kernel *k, const kiln_node_view *n, kiln_error *err) {
    elt_state *s = dn_alloc(k->pv, sizeof(*s));
    char why[128];
    if (!s) return dn_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    k->op_state = s;
    if (!elt_params(k->pv->host, n, s, why, sizeof(why))) return dn_fail(err, KILN_ERR_UNSUPPORTED, "node '%s': %s", k->name, why);
    return KILN_OK;
}

static int32_t elt_build(dn_kernel *k, dn_plan *p, const kiln_value_desc *const *in, kiln_error *err) {
    elt_state *s = k->op_state;
    const kiln_value_desc *x = in[0];
    if (!x) return dn_fail(err, KILN_ERR_SHAPE, "node '%s': missing input", k->name);
    dn_plan_shape(k, p, 0, x->rank, x->dims);
    if (x->count == 0) return KILN_OK;
    /* Elementwise: a group value in a blocked layout is used as it is; plain data as a flat vector. */
    const dnnl_memory_desc_t *native = dn_in_native(k, p, 0);
    int64_t flat = (int64_t)x->count;
    dnnl_memory_desc_t md;
    if (native) md = *native;
    else dn_md_plain(&md, 1, &flat);
    dnnl_eltwise_desc_t ed;
    int32_t st = dn_check(dnnl_eltwise_forward_desc_init(&ed, dnnl_forward_inference, s->alg, &md, s->alpha, s->beta), err, k,
                          "eltwise descriptor");
    if (st != KILN_OK) return st;
    dnnl_primitive_desc_t pd;
    st = dn_check(dnnl_primitive_desc_create(&pd, &ed, NULL, k->pv->engine, NULL), err, k, "eltwise");
    if (st != KILN_OK) return st;
    int bs = native ? dn_plan_input_native(k, p, 0, err) : dn_plan_input(k, p, 0, &md, NULL, err);
    int bd = bs >= 0 ? dn_plan_dst(k, p, 0, native, x->rank, x->dims, err) : -1;
    if (bd >= 0 && !native) bd = dn_plan_view(k, p, bd, &md, err);
    if (bd >= 0) {
        int args[2] = {DNNL_ARG_SRC, DNNL_ARG_DST}, bufs[2] = {bs, bd};
        st = dn_plan_step(k, p, pd, 2, args, bufs, "eltwise", err);
    } else {
        st = err->status;
    }
    dnnl_primitive_desc_destroy(pd);
    if (st == KILN_OK && s->clip01) { /* the clip to [0, 1], in place on the output */
        const dnnl_memory_desc_t *dmd = dn_buf_md(p, bd);
        st = dn_check(dnnl_eltwise_forward_desc_init(&ed, dnnl_forward_inference, dnnl_eltwise_clip_v2, dmd, 0.0f, 1.0f), err, k,
                      "eltwise descriptor");
        if (st == KILN_OK) st = dn_check(dnnl_primitive_desc_create(&pd, &ed, NULL, k->pv->engine, NULL), err, k, "eltwise");
        if (st == KILN_OK) {
            int args[2] = {DNNL_ARG_SRC, DNNL_ARG_DST}, bufs[2] = {bd, bd};
            st = dn_plan_step(k, p, pd, 2, args, bufs, "eltwise", err);
            dnnl_primitive_desc_destroy(pd);
        }
    }
    return st;
}

const dn_op *dn_op_gelu_erf(void) {
    for (const dn_op *o = dn_op_eltwise_table; o->op_type; o++)
        if (!strcmp(o->op_type, "Gelu")) return o;
    return NULL;
}

int dn_is_eltwise(const dn_op *op) {
    return op && op->build == elt_build;
}

int32_t dn_eltwise_append(dn_kernel *k, const dn_member *m, dnnl_post_ops_t po, kiln_error *err) {
    if (!dn_is_eltwise(m->op) || !m->op_state) return dn_fail(err, KILN_ERR_INTERNAL, "node '%s': fused member is not an eltwise", k->name);
    const elt_state *s = m->op_state;
    int32_t st = dn_check(dnnl_post_ops_append_eltwise(po, 1.0f, s->alg, s->alpha, s->beta), err, k, "post-ops");
    if (st == KILN_OK && s->clip01) st = dn_check(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_clip_v2, 0.0f, 1.0f), err, k, "post-ops");
    return st;
}

#define ELT(name) {name, elt_supports, elt_create, elt_build}
const dn_op dn_op_eltwise_table[] = {ELT("Relu"), ELT("LeakyRelu"), ELT("Elu"), ELT("Tanh"), ELT("Sigmoid"), ELT("Exp"),
                                     ELT("Sqrt"), ELT("Abs"), ELT("HardSwish"), ELT("Mish"),
                                     ELT("Neg"), ELT("HardSigmoid"), ELT("Gelu"), ELT("Clip"), ELT("Pow"), {NULL, NULL, NULL, NULL}};
