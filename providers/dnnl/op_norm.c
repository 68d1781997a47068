/* SPDX-License-Identifier: MIT */
/* BatchNormalization (inference: the given mean and variance), LayerNormalization (opset 17:
 * over the dims from `axis`, outputs Mean/InvStdDev not taken) and LRN (odd sizes) on oneDNN's
 * normalization primitives. */
#include <stdio.h>
#include <string.h>

#include "dn.h"

typedef struct norm_state {
    float epsilon;
    int64_t axis;            /* LayerNormalization */
    int64_t size;            /* LRN */
    float alpha, beta, bias; /* LRN */
} norm_state;

static int extra_outputs(const kiln_host_api *h, const kiln_node_view *n) {
    kiln_value_info vi;
    for (uint32_t o = 1; o < h->node_output_count(n); o++)
        if (dn_info(h, n, 1, o, &vi)) return 1;
    return 0;
}

static int bn_supports(const kiln_host_api *h, const kiln_node_view *n, char *why, size_t len) {
    if (!dn_all_float(h, n, 5, why, len)) return 0;
    kiln_value_info x;
    if (h->node_input_count(n) != 5 || extra_outputs(h, n) || dn_attr_i(h, n, "training_mode", 0) ||
        (h->node_opset(n) < 7 && dn_attr_i(h, n, "spatial", 1) != 1)) {
        snprintf(why, len, "training outputs, training_mode or spatial=0");
        return 0;
    }
    if (!dn_info(h, n, 0, 0, &x) || x.rank < 2 || x.rank > 5) {
        snprintf(why, len, "input rank must be 2 to 5 and known");
        return 0;
    }
    return 1;
}

static int32_t norm_create(dn_kernel *k, const kiln_node_view *n, kiln_error *err) {
    const kiln_host_api *h = k->pv->host;
    norm_state *s = dn_alloc(k->pv, sizeof(*s));
    if (!s) return dn_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    k->op_state = s;
    const char *op = h->node_op_type(n);
    s->epsilon = dn_attr_f(h, n, "epsilon", 1e-5f);
    s->axis = dn_attr_i(h, n, "axis", -1);
    s->size = dn_attr_i(h, n, "size", 1);
    s->alpha = dn_attr_f(h, n, "alpha", 1e-4f);
    s->beta = dn_attr_f(h, n, "beta", 0.75f);
    s->bias = dn_attr_f(h, n, "bias", 1.0f);
    (void)op;
    return KILN_OK;
}

static int32_t finish_step(dn_kernel *k, dn_plan *p, dnnl_primitive_desc_t pd, int n, const int *args, const int *bufs, const char *name,
                           kiln_error *err) {
    int32_t st = KILN_OK;
    for (int i = 0; i < n; i++)
        if (bufs[i] < 0) st = err->status ? err->status : KILN_ERR_PROVIDER;
    if (st == KILN_OK) st = dn_plan_step(k, p, pd, n, args, bufs, name, err);
    dnnl_primitive_desc_destroy(pd);
    return st;
}

static int32_t bn_build(dn_kernel *k, dn_plan *p, const kiln_value_desc *const *in, kiln_error *err) {
    norm_state *s = k->op_state;
    const kiln_value_desc *x = in[0];
    if (!x || x->rank < 2) return dn_fail(err, KILN_ERR_SHAPE, "node '%s': input must have rank >= 2", k->name);
    int64_t C = x->dims[1];
    for (int i = 1; i < 5; i++)
        if (!in[i] || in[i]->count != (uint64_t)C)
            return dn_fail(err, KILN_ERR_SHAPE, "node '%s' (BatchNormalization): input %d must hold %lld values", k->name, i, (long long)C);
    dn_plan_shape(k, p, 0, x->rank, x->dims);
    if (x->count == 0) return KILN_OK;
    const dnnl_memory_desc_t *native = dn_in_native(k, p, 0);
    dnnl_memory_desc_t md, cmd;
    if (native) md = *native;
    else dn_md_plain(&md, x->rank, x->dims);
    dn_md_plain(&cmd, 1, &C);
    for (int i = 1; i < 5; i++) {
        dn_const *c = dn_const_of(k, (uint32_t)i);
        if (c && c->plain_only) c->copies[0].md = cmd;
    }
    dnnl_batch_normalization_desc_t bd;
    int32_t st = dn_check(dnnl_batch_normalization_forward_desc_init(&bd, dnnl_forward_inference, &md, s->epsilon,
                                                                     dnnl_use_global_stats | dnnl_use_scale | dnnl_use_shift),
                          err, k, "batch normalization descriptor");
    dnnl_primitive_desc_t pd;
    if (st == KILN_OK) st = dn_check(dnnl_primitive_desc_create(&pd, &bd, NULL, k->pv->engine, NULL), err, k, "batch normalization");
    if (st != KILN_OK) return st;
    int bufs[6];
    bufs[0] = native ? dn_plan_input_native(k, p, 0, err) : dn_plan_input(k, p, 0, &md, NULL, err);
    for (int i = 1; i < 5; i++) bufs[i] = bufs[i - 1] >= 0 ? dn_plan_input(k, p, (uint32_t)i, &cmd, NULL, err) : -1;
    bufs[5] = bufs[4] >= 0 ? dn_plan_dst(k, p, 0, native, x->rank, x->dims, err) : -1;
    if (bufs[5] >= 0 && !native) bufs[5] = dn_plan_view(k, p, bufs[5], &md, err);
    int args[6] = {DNNL_ARG_SRC, DNNL_ARG_SCALE, DNNL_ARG_SHIFT, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE, DNNL_ARG_DST};
    return finish_step(k, p, pd, 6, args, bufs, "batch normalization", err);
}

static int ln_supports(const kiln_host_api *h, const kiln_node_view *n, char *why, size_t len) {
    if (!dn_all_float(h, n, 3, why, len)) return 0;
    if (extra_outputs(h, n)) {
        snprintf(why, len, "the Mean or InvStdDev output");
        return 0;
    }
    kiln_value_info x;
    if (!dn_info(h, n, 0, 0, &x) || x.rank < 1) {
        snprintf(why, len, "input rank unknown");
        return 0;
    }
    return 1;
}

static int32_t ln_build(dn_kernel *k, dn_plan *p, const kiln_value_desc *const *in, kiln_error *err) {
    norm_state *s = k->op_state;
    const kiln_value_desc *x = in[0], *sc = in[1], *b = k->n_in > 2 ? in[2] : NULL;
    if (!x || !sc || x->rank < 1) return dn_fail(err, KILN_ERR_SHAPE, "node '%s': missing input", k->name);
    int64_t axis = s->axis < 0 ? s->axis + x->rank : s->axis;
    if (axis < 0 || axis >= x->rank) return dn_fail(err, KILN_ERR_SHAPE, "node '%s': axis out of range", k->name);
    int64_t d2[2] = {1, 1};
    for (int i = 0; i < x->rank; i++) d2[i < axis ? 0 : 1] *= x->dims[i];
    if (sc->count != (uint64_t)d2[1] || (b && b->count != (uint64_t)d2[1]))
        return dn_fail(err, KILN_ERR_SHAPE, "node '%s' (LayerNormalization): Scale and B must hold %lld values (no broadcasting here)",
                       k->name, (long long)d2[1]);
    dn_plan_shape(k, p, 0, x->rank, x->dims);
    if (x->count == 0) return KILN_OK;
    dnnl_memory_desc_t md, cmd;
    dn_md_plain(&md, 2, d2);
    dn_md_plain(&cmd, 1, &d2[1]);
    for (int i = 1; i < 3; i++) {
        dn_const *c = dn_const_of(k, (uint32_t)i);
        if (c && c->plain_only) c->copies[0].md = cmd;
    }
    dnnl_layer_normalization_desc_t ld;
    int32_t st = dn_check(dnnl_layer_normalization_forward_desc_init(&ld, dnnl_forward_inference, &md, NULL, s->epsilon,
                                                                     dnnl_use_scale | (b ? dnnl_use_shift : 0)),
                          err, k, "layer normalization descriptor");
    dnnl_primitive_desc_t pd;
    if (st == KILN_OK) st = dn_check(dnnl_primitive_desc_create(&pd, &ld, NULL, k->pv->engine, NULL), err, k, "layer normalization");
    if (st != KILN_OK) return st;
    int bufs[4];
    bufs[0] = dn_plan_input(k, p, 0, &md, NULL, err);
    bufs[1] = bufs[0] >= 0 ? dn_plan_input(k, p, 1, &cmd, NULL, err) : -1;
    bufs[2] = bufs[1] >= 0 ? dn_plan_dst(k, p, 0, NULL, x->rank, x->dims, err) : -1;
    if (bufs[2] >= 0) bufs[2] = dn_plan_view(k, p, bufs[2], &md, err);
    bufs[3] = b && bufs[2] >= 0 ? dn_plan_input(k, p, 2, &cmd, NULL, err) : 0;
    int args[4] = {DNNL_ARG_SRC, DNNL_ARG_SCALE, DNNL_ARG_DST, DNNL_ARG_SHIFT};
    return finish_step(k, p, pd, b ? 4 : 3, args, bufs, "layer normalization", err);
}

static int lrn_supports(const kiln_host_api *h, const kiln_node_view *n, char *why, size_t len) {
    if (!dn_all_float(h, n, 1, why, len)) return 0;
    kiln_value_info x;
    int64_t size = dn_attr_i(h, n, "size", 0);
    if (size < 1 || size % 2 == 0) {
        snprintf(why, len, "size %lld (odd sizes only)", (long long)size);
        return 0;
    }
    if (!dn_info(h, n, 0, 0, &x) || x.rank < 3 || x.rank > 5) {
        snprintf(why, len, "input rank must be 3 to 5 and known");
        return 0;
    }
    return 1;
}

static int32_t lrn_build(dn_kernel *k, dn_plan *p, const kiln_value_desc *const *in, kiln_error *err) {
    norm_state *s = k->op_state;
    const kiln_value_desc *x = in[0];
    if (!x || x->rank < 3) return dn_fail(err, KILN_ERR_SHAPE, "node '%s': input must have rank >= 3", k->name);
    dn_plan_shape(k, p, 0, x->rank, x->dims);
    if (x->count == 0) return KILN_OK;
    const dnnl_memory_desc_t *native = dn_in_native(k, p, 0);
    dnnl_memory_desc_t md;
    if (native) md = *native;
    else dn_md_plain(&md, x->rank, x->dims);
    dnnl_lrn_desc_t ld;
    int32_t st = dn_check(dnnl_lrn_forward_desc_init(&ld, dnnl_forward_inference, dnnl_lrn_across_channels, &md, s->size, s->alpha,
                                                     s->beta, s->bias),
                          err, k, "LRN descriptor");
    dnnl_primitive_desc_t pd;
    if (st == KILN_OK) st = dn_check(dnnl_primitive_desc_create(&pd, &ld, NULL, k->pv->engine, NULL), err, k, "LRN");
    if (st != KILN_OK) return st;
    int bufs[2];
    bufs[0] = native ? dn_plan_input_native(k, p, 0, err) : dn_plan_input(k, p, 0, &md, NULL, err);
    bufs[1] = bufs[0] >= 0 ? dn_plan_dst(k, p, 0, native, x->rank, x->dims, err) : -1;
    int args[2] = {DNNL_ARG_SRC, DNNL_ARG_DST};
    return finish_step(k, p, pd, 2, args, bufs, "LRN", err);
}

const dn_op dn_op_batchnorm = {"BatchNormalization", bn_supports, norm_create, bn_build};
const dn_op dn_op_layernorm = {"LayerNormalization", ln_supports, norm_create, ln_build};
const dn_op dn_op_lrn = {"LRN", lrn_supports, norm_create, lrn_build};
