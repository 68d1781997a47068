/* SPDX-License-Identifier: MIT */
/* MatMul (numpy semantics: 1-D operands promoted, batch dims broadcast) and Gemm (transA,
 * transB, alpha, beta, C broadcast to [M, N]), both on oneDNN's matmul primitive. A constant
 * 2-D B is reordered once into the layout oneDNN picks; A's batch dims fold into M then. */
#include <stdio.h>
#include <string.h>

#include "dn.h"

static int mm_supports(const kiln_host_api *h, const kiln_node_view *n, char *why, size_t len) {
    if (!dn_all_float(h, n, 2, why, len)) return 0;
    kiln_value_info a, b;
    if (!dn_info(h, n, 0, 0, &a) || !dn_info(h, n, 0, 1, &b)) {
        snprintf(why, len, "missing A or B");
        return 0;
    }
    if (a.rank == 0 || b.rank == 0) {
        snprintf(why, len, "scalar operand");
        return 0;
    }
    return 1;
}

static int32_t mm_build(dn_kernel *k, dn_plan *p, const kiln_value_desc *const *in, kiln_error *err) {
    const kiln_value_desc *a = in[0], *b = in[1];
    if (!a || !b || a->rank < 1 || b->rank < 1)
        return dn_fail(err, KILN_ERR_SHAPE, "node '%s' (MatMul): operands must have rank >= 1", k->name);
    int64_t ad[KILN_MAX_RANK + 1], bd[KILN_MAX_RANK + 1], od[KILN_MAX_RANK + 1];
    int ar = a->rank, br = b->rank;
    memcpy(ad, a->dims, (size_t)ar * sizeof(int64_t));
    memcpy(bd, b->dims, (size_t)br * sizeof(int64_t));
    int drop_m = 0, drop_n = 0;
    if (ar == 1) ad[1] = ad[0], ad[0] = 1, ar = 2, drop_m = 1;
    if (br == 1) bd[1] = 1, br = 2, drop_n = 1;
    int64_t M = ad[ar - 2], K = ad[ar - 1], N = bd[br - 1];
    if (bd[br - 2] != K)
        return dn_fail(err, KILN_ERR_SHAPE, "node '%s' (MatMul): inner dims differ (%lld and %lld)", k->name, (long long)K,
                       (long long)bd[br - 2]);
    /* Output shape: broadcast batch dims, then [M, N] minus promoted dims. */
    int r = ar > br ? ar : br, orank = 0;
    int64_t pa[KILN_MAX_RANK + 1], pb[KILN_MAX_RANK + 1], pdims[KILN_MAX_RANK + 1];
    for (int i = 0; i < r; i++) {
        pa[i] = i < r - ar ? 1 : ad[i - (r - ar)];
        pb[i] = i < r - br ? 1 : bd[i - (r - br)];
    }
    for (int i = 0; i < r - 2; i++) {
        if (pa[i] != pb[i] && pa[i] != 1 && pb[i] != 1)
            return dn_fail(err, KILN_ERR_SHAPE, "node '%s' (MatMul): batch dims %lld and %lld do not broadcast", k->name,
                           (long long)pa[i], (long long)pb[i]);
        pdims[i] = pa[i] == 1 ? pb[i] : pa[i];
        od[orank++] = pdims[i];
    }
    pdims[r - 2] = M;
    pdims[r - 1] = N;
    if (!drop_m) od[orank++] = M;
    if (!drop_n) od[orank++] = N;
    if (orank > KILN_MAX_RANK) return dn_fail(err, KILN_ERR_SHAPE, "node '%s' (MatMul): output rank too large", k->name);
    int64_t total = 1;
    for (int i = 0; i < r; i++) total *= pdims[i];
    dn_plan_shape(k, p, 0, orank, od);
    if (total == 0) return KILN_OK;
    if (K == 0) { /* sums of nothing */
        int bz = dn_plan_dst(k, p, 0, NULL, orank, od, err);
        if (bz < 0) return err->status;
        return dn_plan_zero(k, p, bz, err);
    }
    dnnl_memory_desc_t src_u, wei_u, wei_a, dst_u, src_a;
    int two_d = br == 2; /* fold A's batch dims into M */
    dnnl_data_type_t dt = k->pv->bf16 ? dnnl_bf16 : dnnl_f32;
    if (two_d) {
        int64_t mt = 1;
        for (int i = 0; i < ar - 1; i++) mt *= ad[i];
        int64_t s2[2] = {mt, K}, w2[2] = {K, N}, d2[2] = {mt, N};
        dn_md_plain(&src_u, 2, s2);
        dn_md_plain(&wei_u, 2, w2);
        dn_md_plain(&dst_u, 2, d2);
        dn_md_any(&wei_a, 2, w2, dt);
        if (dt == dnnl_bf16) dn_md_any(&src_a, 2, s2, dt);
        else src_a = src_u;
    } else {
        dn_md_plain(&src_u, r, pa);
        dn_md_plain(&wei_u, r, pb);
        dn_md_plain(&dst_u, r, pdims);
        wei_a = wei_u;
        src_a = src_u;
    }
    /* A constant B keeps its own dims in its plain copy; they match wei_u's elements. */
    dn_const *c = dn_const_of(k, 1);
    if (c && c->present && c->plain_only) c->copies[0].md = wei_u;
    /* In a group: a bias Add (binary post-op) and an eltwise after it run inside the matmul. */
    dn_member *m = k->cur;
    int fuse_bias = m && m->post_bias >= 0, fuse_elt = m && m->post_elt >= 0;
    dnnl_memory_desc_t bias_md;
    int64_t bd_[KILN_MAX_RANK + 1];
    int bdr = two_d ? 2 : r;
    for (int i = 0; i < bdr; i++) bd_[i] = 1;
    bd_[bdr - 1] = N;
    dn_md_plain(&bias_md, bdr, bd_);
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    int32_t st = KILN_OK;
    if (fuse_bias || fuse_elt) {
        st = dn_check(dnnl_primitive_attr_create(&attr), err, k, "attributes");
        if (st == KILN_OK) st = dn_check(dnnl_post_ops_create(&po), err, k, "post-ops");
        if (st == KILN_OK && fuse_bias) st = dn_check(dnnl_post_ops_append_binary(po, dnnl_binary_add, &bias_md), err, k, "post-ops");
        if (st == KILN_OK && fuse_elt) st = dn_eltwise_append(k, &k->members[m->post_elt], po, err);
        if (st == KILN_OK) st = dn_check(dnnl_primitive_attr_set_post_ops(attr, po), err, k, "post-ops");
    }
    dnnl_matmul_desc_t md;
    dnnl_primitive_desc_t pd = NULL;
    if (st == KILN_OK) st = dn_check(dnnl_matmul_desc_init(&md, &src_a, &wei_a, NULL, &dst_u), err, k, "matmul descriptor");
    if (st == KILN_OK) st = dn_check(dnnl_primitive_desc_create(&pd, &md, attr, k->pv->engine, NULL), err, k, "matmul");
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (st != KILN_OK) return st;
    int bs = dn_plan_input(k, p, 0, &src_u, dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0), err);
    int bw = bs >= 0 ? dn_plan_input(k, p, 1, &wei_u, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0), err) : -1;
    int bb = fuse_bias && bw >= 0 ? dn_plan_const_value(k, p, m->bias_val, &bias_md, err) : 0;
    int bdst = -1;
    if (bw >= 0 && bb >= 0) {
        int last = fuse_elt ? m->post_elt : fuse_bias ? m->post_bias : -1;
        bdst = last >= 0 ? dn_plan_dst_value(k, p, k->members[last].out_val[0], NULL, orank, od, err) : dn_plan_dst(k, p, 0, NULL, orank, od, err);
    }
    if (bdst >= 0) {
        /* The output is written as dst_u ([.., M, N] row-major): the same bytes as od. */
        bdst = dn_plan_view(k, p, bdst, &dst_u, err);
        st = bdst >= 0 ? KILN_OK : err->status;
        int args[4] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST, DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1};
        int bufs[4] = {bs, bw, bdst, bb};
        if (st == KILN_OK) st = dn_plan_step(k, p, pd, fuse_bias ? 4 : 3, args, bufs, "matmul", err);
    } else {
        st = err->status ? err->status : KILN_ERR_PROVIDER;
    }
    dnnl_primitive_desc_destroy(pd);
    return st;
}

const dn_op dn_op_matmul = {"MatMul", mm_supports, NULL, mm_build};

/* ---- Gemm ---- */

typedef struct gemm_state {
    int ta, tb;
    float alpha, beta;
    float beta_buf[16];       /* beta as a [1, 1] tensor for the last post-op (64-byte aligned) */
} gemm_state;

static int gemm_supports(const kiln_host_api *h, const kiln_node_view *n, char *why, size_t len) {
    if (!dn_all_float(h, n, 3, why, len)) return 0;
    kiln_value_info a, b, c;
    if (!dn_info(h, n, 0, 0, &a) || !dn_info(h, n, 0, 1, &b)) {
        snprintf(why, len, "missing A or B");
        return 0;
    }
    if ((a.rank >= 0 && a.rank != 2) || (b.rank >= 0 && b.rank != 2)) {
        snprintf(why, len, "A and B must be 2-D");
        return 0;
    }
    if (dn_info(h, n, 0, 2, &c) && c.rank > 2) {
        snprintf(why, len, "C has rank %d", c.rank);
        return 0;
    }
    return 1;
}

static int32_t gemm_create(dn_kernel *k, const kiln_node_view *n, kiln_error *err) {
    const kiln_host_api *h = k->pv->host;
    gemm_state *s = dn_alloc(k->pv, sizeof(*s));
    if (!s) return dn_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    k->op_state = s;
    s->ta = dn_attr_i(h, n, "transA", 0) != 0;
    s->tb = dn_attr_i(h, n, "transB", 0) != 0;
    s->alpha = dn_attr_f(h, n, "alpha", 1.0f);
    s->beta = dn_attr_f(h, n, "beta", 1.0f);
    return KILN_OK;
}

/* A [r, c] matrix stored row-major, read as its transpose [c, r] when `t`. */
static void md_2d(dnnl_memory_desc_t *md, int64_t rows, int64_t cols, int t, dnnl_data_type_t dt) {
    dnnl_dims_t d = {rows, cols}, s;
    if (t) s[0] = 1, s[1] = rows;
    else s[0] = cols, s[1] = 1;
    dnnl_memory_desc_init_by_strides(md, 2, d, dt, s);
}

static int32_t gemm_build(dn_kernel *k, dn_plan *p, const kiln_value_desc *const *in, kiln_error *err) {
    gemm_state *s = k->op_state;
    const kiln_value_desc *a = in[0], *b = in[1], *c = k->n_in > 2 ? in[2] : NULL;
    if (!a || !b || a->rank != 2 || b->rank != 2) return dn_fail(err, KILN_ERR_SHAPE, "node '%s' (Gemm): A and B must be 2-D", k->name);
    int64_t M = s->ta ? a->dims[1] : a->dims[0], K = s->ta ? a->dims[0] : a->dims[1];
    int64_t Kb = s->tb ? b->dims[1] : b->dims[0], N = s->tb ? b->dims[0] : b->dims[1];
    if (K != Kb) return dn_fail(err, KILN_ERR_SHAPE, "node '%s' (Gemm): inner dims differ (%lld and %lld)", k->name, (long long)K, (long long)Kb);
    int64_t cd[2] = {1, 1};
    if (c) {
        if (c->rank == 1) cd[1] = c->dims[0];
        else if (c->rank == 2) cd[0] = c->dims[0], cd[1] = c->dims[1];
        if ((cd[0] != 1 && cd[0] != M) || (cd[1] != 1 && cd[1] != N) || c->rank > 2)
            return dn_fail(err, KILN_ERR_SHAPE, "node '%s' (Gemm): C does not broadcast to [%lld, %lld]", k->name, (long long)M, (long long)N);
    }
    int64_t od[2] = {M, N};
    dn_plan_shape(k, p, 0, 2, od);
    if (M == 0 || N == 0) return KILN_OK;
    int use_c = c && s->beta != 0.0f;
    if (K == 0 && !use_c) {
        int bz = dn_plan_dst(k, p, 0, NULL, 2, od, err);
        if (bz < 0) return err->status;
        return dn_plan_zero(k, p, bz, err);
    }
    if (K == 0) return dn_fail(err, KILN_ERR_UNSUPPORTED, "node '%s' (Gemm): K = 0 with C", k->name);
    dnnl_memory_desc_t src_u, src_a, wei_u, wei_a, dst_u, c_md;
    md_2d(&src_u, M, K, s->ta, dnnl_f32);
    md_2d(&src_a, M, K, s->ta, k->pv->bf16 ? dnnl_bf16 : dnnl_f32); /* bf16: A converted at each call */
    md_2d(&wei_u, K, N, s->tb, dnnl_f32);
    dn_md_plain(&dst_u, 2, od);
    int64_t wd[2] = {K, N};
    dn_md_any(&wei_a, 2, wd, k->pv->bf16 ? dnnl_bf16 : dnnl_f32);
    dn_md_plain(&c_md, 2, cd);
    dn_const *wc = dn_const_of(k, 1);
    if (wc && wc->present && wc->plain_only) wc->copies[0].md = wei_u;
    dn_const *cc = dn_const_of(k, 2);
    if (use_c && cc && cc->present && cc->plain_only) cc->copies[0].md = c_md;
    /* alpha*AB + beta*C = beta * ((alpha/beta)*AB + C): post-ops linear, add C, multiply by a
     * [1, 1] tensor holding beta. (Two eltwise post-ops are not used: oneDNN 2.6's matmul ran
     * the second with the first's parameters, providers/dnnl/README.md.) */
    int64_t one2[2] = {1, 1};
    dnnl_memory_desc_t s_md;
    dn_md_plain(&s_md, 2, one2);
    s->beta_buf[0] = s->beta;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    int32_t st = KILN_OK;
    if (use_c || s->alpha != 1.0f) {
        st = dn_check(dnnl_primitive_attr_create(&attr), err, k, "attributes");
        if (st == KILN_OK) st = dn_check(dnnl_post_ops_create(&po), err, k, "post-ops");
        float scale = use_c ? s->alpha / s->beta : s->alpha;
        if (st == KILN_OK && scale != 1.0f) st = dn_check(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_linear, scale, 0.0f), err, k, "post-ops");
        if (st == KILN_OK && use_c) st = dn_check(dnnl_post_ops_append_binary(po, dnnl_binary_add, &c_md), err, k, "post-ops");
        if (st == KILN_OK && use_c && s->beta != 1.0f)
            st = dn_check(dnnl_post_ops_append_binary(po, dnnl_binary_mul, &s_md), err, k, "post-ops");
        if (st == KILN_OK) st = dn_check(dnnl_primitive_attr_set_post_ops(attr, po), err, k, "post-ops");
    }
    dnnl_matmul_desc_t md;
    dnnl_primitive_desc_t pd = NULL;
    if (st == KILN_OK) st = dn_check(dnnl_matmul_desc_init(&md, &src_a, &wei_a, NULL, &dst_u), err, k, "matmul descriptor");
    if (st == KILN_OK) st = dn_check(dnnl_primitive_desc_create(&pd, &md, attr, k->pv->engine, NULL), err, k, "matmul");
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (st != KILN_OK) return st;
    int bs = dn_plan_input(k, p, 0, &src_u, dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0), err);
    int bw = bs >= 0 ? dn_plan_input(k, p, 1, &wei_u, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0), err) : -1;
    int bc = use_c && bw >= 0 ? dn_plan_input(k, p, 2, &c_md, &c_md, err) : 0;
    int bd = bw >= 0 && bc >= 0 ? dn_plan_dst(k, p, 0, NULL, 2, od, err) : -1;
    if (bd >= 0) {
        int cpos = s->alpha / (use_c ? s->beta : 1.0f) != 1.0f ? 1 : 0;
        int args[5] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST, DNNL_ARG_ATTR_MULTIPLE_POST_OP(cpos) | DNNL_ARG_SRC_1,
                       DNNL_ARG_ATTR_MULTIPLE_POST_OP(cpos + 1) | DNNL_ARG_SRC_1};
        int bufs[5] = {bs, bw, bd, bc, 0};
        int nargs = use_c ? 4 : 3;
        if (use_c && s->beta != 1.0f) {
            bufs[4] = dn_plan_buf(k, p, &s_md, DN_BUF_CONST, 0, s->beta_buf, err);
            nargs = 5;
        }
        st = bufs[4] >= 0 ? dn_plan_step(k, p, pd, nargs, args, bufs, "gemm", err) : err->status;
    } else {
        st = err->status ? err->status : KILN_ERR_PROVIDER;
    }
    dnnl_primitive_desc_destroy(pd);
    return st;
}

const dn_op dn_op_gemm = {"Gemm", gemm_supports, gemm_create, gemm_build};
