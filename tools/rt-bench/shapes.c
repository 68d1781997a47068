/* SPDX-License-Identifier: MIT */
/* `rt-bench shapes MODEL.onnx [--dim NAME=N]`: the compute shapes of a model, each benchmarked
 * (or, with --list, only printed). Reads the model through graph/ (load, bind ops, infer). */
#include <stdlib.h>
#include <string.h>

#include "graph/load.h"
#include "graph/ops.h"
#include "graph/shape.h"
#include "runtime/base/mem.h"
#include "shapes.h"

static int concrete(const kiln_value *v, int rank) {
    if (!v || v->type.kind != KILN_VALUE_TENSOR || v->type.rank < 0) return 0;
    if (rank >= 0 && v->type.rank != rank) return 0;
    for (int32_t d = 0; d < v->type.rank; d++)
        if (v->type.dims[d] < 0) return 0;
    return 1;
}

static const char *int8_dtype(const kiln_value *a) {
    return a && a->type.dtype == KILN_DTYPE_INT8 ? "s8s8" : "u8s8";
}

static void conv_shape(const kiln_node *nd, rb_shape *s) {
    int q = !strcmp(nd->op_type, "QLinearConv"), tr = !strcmp(nd->op_type, "ConvTranspose");
    const kiln_value *x = nd->n_inputs > 0 ? nd->inputs[0] : NULL;
    const kiln_value *w = nd->n_inputs > (q ? 3u : 1u) ? nd->inputs[q ? 3 : 1] : NULL;
    s->kind = RB_SHAPE_CONV;
    s->dtype = q ? (x && x->type.dtype == KILN_DTYPE_INT8 ? "s8" : "u8") : "f32";
    if (!concrete(x, -1) || !concrete(w, -1)) {
        snprintf(s->skip, sizeof(s->skip), "shape not static: pass --dim NAME=N");
        return;
    }
    int nsp = x->type.rank - 2;
    if (nsp < 1 || nsp > RB_MAX_SPATIAL || w->type.rank != x->type.rank) {
        snprintf(s->skip, sizeof(s->skip), "%d-D convolution: 1-D to 3-D are benchmarked", nsp);
        return;
    }
    rb_convnd_shape *c = &s->nd;
    const int64_t *xd = x->type.dims, *wd = w->type.dims;
    c->transpose = tr, c->quant = q, c->nsp = nsp;
    c->x_signed = q && x->type.dtype == KILN_DTYPE_INT8;
    c->w_signed = q && w->type.dtype == KILN_DTYPE_INT8;
    if (q) s->dtype = c->x_signed ? (c->w_signed ? "s8s8" : "s8u8") : (c->w_signed ? "u8s8" : "u8u8");
    c->group = kiln_attr_int(nd, "group", 1);
    c->n = xd[0], c->c = xd[1];
    c->m = tr ? wd[1] * c->group : wd[0];
    uint32_t cnt;
    const int64_t *st = kiln_attr_ints(nd, "strides", &cnt);
    if (st && cnt != (uint32_t)nsp) st = NULL;
    const int64_t *dl = kiln_attr_ints(nd, "dilations", &cnt);
    if (dl && cnt != (uint32_t)nsp) dl = NULL;
    const int64_t *pd = kiln_attr_ints(nd, "pads", &cnt);
    if (pd && cnt != 2u * (uint32_t)nsp) pd = NULL;
    const int64_t *op = kiln_attr_ints(nd, "output_padding", &cnt);
    if (op && cnt != (uint32_t)nsp) op = NULL;
    const char *ap = kiln_attr_str(nd, "auto_pad", "NOTSET");
    int same = !strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER"), upper = !strcmp(ap, "SAME_UPPER");
    for (int d = 0; d < nsp; d++) {
        c->in[d] = xd[2 + d], c->k[d] = wd[2 + d];
        c->stride[d] = st ? st[d] : 1, c->dil[d] = dl ? dl[d] : 1, c->out_pad[d] = tr && op ? op[d] : 0;
        c->pad_b[d] = pd ? pd[d] : 0, c->pad_e[d] = pd ? pd[nsp + d] : 0;
        if (same) { /* total padding split, the odd unit at the end for SAME_UPPER, at the start for LOWER */
            int64_t ext = c->dil[d] * (c->k[d] - 1) + 1, total;
            if (tr) total = c->stride[d] * (c->in[d] - 1) + c->out_pad[d] + ext - c->in[d] * c->stride[d];
            else total = ((c->in[d] + c->stride[d] - 1) / c->stride[d] - 1) * c->stride[d] + ext - c->in[d];
            if (total < 0) total = 0;
            c->pad_b[d] = upper ? total / 2 : total - total / 2;
            c->pad_e[d] = total - c->pad_b[d];
        } else if (!strcmp(ap, "VALID")) {
            c->pad_b[d] = c->pad_e[d] = 0;
        }
    }
    if (c->group < 1 || c->c % c->group || c->m % c->group) {
        snprintf(s->skip, sizeof(s->skip), "channels not a multiple of group");
        return;
    }
    for (int d = 0; d < nsp; d++)
        if (rb_convnd_out(c, d) < 1) {
            snprintf(s->skip, sizeof(s->skip), "empty output");
            return;
        }
    /* 2-D f32 Conv with symmetric pads: the conv case with oneDNN's reference. */
    int sym = 1;
    for (int d = 0; d < nsp; d++) sym &= c->pad_b[d] == c->pad_e[d];
    if (nsp == 2 && !tr && !q && sym) {
        rb_conv_shape *v = &s->conv;
        v->n = c->n, v->c = c->c, v->h = c->in[0], v->w = c->in[1], v->m = c->m, v->kh = c->k[0], v->kw = c->k[1];
        v->sh = c->stride[0], v->sw = c->stride[1], v->ph = c->pad_b[0], v->pw = c->pad_b[1];
        v->dh = c->dil[0], v->dw = c->dil[1], v->group = c->group;
        memset(c, 0, sizeof(*c)); /* nsp 0: the 2-D case */
    }
}

static void gemm_shape(const kiln_node *nd, rb_shape *s) {
    s->kind = RB_SHAPE_GEMM;
    const kiln_value *a = nd->n_inputs > 0 ? nd->inputs[0] : NULL, *b = nd->n_inputs > 1 ? nd->inputs[1] : NULL;
    int mmi = !strcmp(nd->op_type, "MatMulInteger"), gemm = !strcmp(nd->op_type, "Gemm");
    s->dtype = mmi ? int8_dtype(a) : "f32";
    s->batch = s->batch_a = s->batch_b = 1;
    if (!concrete(a, -1) || !concrete(b, -1)) {
        snprintf(s->skip, sizeof(s->skip), "shape not static: pass --dim NAME=N");
        return;
    }
    int ra = a->type.rank, rbk = b->type.rank;
    const int64_t *ad = a->type.dims, *bd = b->type.dims;
    if (gemm) {
        int ta = (int)kiln_attr_int(nd, "transA", 0), tb = (int)kiln_attr_int(nd, "transB", 0);
        if (ra != 2 || rbk != 2) {
            snprintf(s->skip, sizeof(s->skip), "Gemm inputs not 2-D");
            return;
        }
        s->m = ta ? ad[1] : ad[0], s->k = ta ? ad[0] : ad[1], s->n = tb ? bd[0] : bd[1];
        s->trans_a = ta, s->trans_b = tb;
        return;
    }
    if (ra < 1 || rbk < 1) {
        snprintf(s->skip, sizeof(s->skip), "scalar operand");
        return;
    }
    int64_t m = ra >= 2 ? ad[ra - 2] : 1, k = ad[ra - 1];
    int64_t n = rbk >= 2 ? bd[rbk - 1] : 1;
    int64_t ba = 1, bb = 1;
    for (int d = 0; d < ra - 2; d++) ba *= ad[d];
    for (int d = 0; d < rbk - 2; d++) bb *= bd[d];
    s->m = m, s->n = n, s->k = k;
    if (bb <= 1) { /* B shared: the batch folds into M, one GEMM */
        s->m = m * ba;
        return;
    }
    if (mmi) {
        snprintf(s->skip, sizeof(s->skip), "MatMulInteger with a batched B: not benchmarked");
        return;
    }
    /* Batched B: as many GEMMs as the broadcast batch. Batch dims that broadcast both ways
     * (A [2,1,..], B [1,3,..]) are folded to the full batch on both sides: the same work. */
    int64_t full = 1;
    int nb = (ra > rbk ? ra : rbk) - 2;
    for (int d = 0; d < nb; d++) {
        int ia = d - (nb - (ra - 2)), ib = d - (nb - (rbk - 2));
        int64_t da = ia >= 0 ? ad[ia] : 1, db = ib >= 0 ? bd[ib] : 1;
        full *= da > db ? da : db;
    }
    s->batch = full;
    s->batch_a = ba == 1 ? 1 : full;
    s->batch_b = full;
}

static int same(const rb_shape *x, const rb_shape *y) {
    if (x->kind != y->kind || strcmp(x->op, y->op) || strcmp(x->skip, y->skip)) return 0;
    if (x->kind == RB_SHAPE_CONV)
        return !memcmp(&x->conv, &y->conv, sizeof(x->conv)) && !memcmp(&x->nd, &y->nd, sizeof(x->nd)) &&
               !strcmp(x->dtype, y->dtype);
    return x->m == y->m && x->n == y->n && x->k == y->k && x->batch == y->batch && x->batch_a == y->batch_a &&
           x->batch_b == y->batch_b && x->trans_a == y->trans_a && x->trans_b == y->trans_b &&
           !strcmp(x->dtype, y->dtype);
}

int rb_extract_shapes(const char *path, const rb_args *a, rb_shape **out, size_t *n_out) {
    *out = NULL;
    *n_out = 0;
    kiln_error err = {0};
    kiln_model *m = NULL;
    if (kiln_model_load_file(&kiln_default_allocator, path, NULL, &m, &err)) {
        fprintf(stderr, "rt-bench: cannot load %s: %s\n", path, err.msg);
        return RB_LOAD;
    }
    kiln_graph *g = m->graph;
    /* Bind symbolic input dims from --dim. */
    for (uint32_t i = 0; i < g->n_inputs; i++) {
        kiln_type *t = &g->inputs[i]->type;
        for (int32_t d = 0; d < t->rank; d++) {
            const char *sym = kiln_model_symbol_name(m, t->dims[d]);
            if (!sym) continue;
            for (int j = 0; j < a->n_dims; j++) {
                size_t len = (size_t)(strchr(a->dim_names[j], '=') - a->dim_names[j]);
                if (strlen(sym) == len && !strncmp(sym, a->dim_names[j], len)) t->dims[d] = a->dim_values[j];
            }
        }
    }
    if (kiln_graph_bind_ops(g, &err) || kiln_graph_infer(g, &err)) {
        fprintf(stderr, "rt-bench: %s: %s\n", path, err.msg);
        kiln_model_destroy(m);
        return RB_LOAD;
    }
    rb_shape *v = NULL;
    size_t n = 0, cap = 0;
    int rc = RB_OK;
    for (uint32_t i = 0; i < g->n_nodes; i++) {
        const kiln_node *nd = g->nodes[i];
        if (nd->domain[0]) continue;
        const char *op = nd->op_type;
        int conv = !strcmp(op, "Conv") || !strcmp(op, "ConvTranspose") || !strcmp(op, "QLinearConv");
        int gemm = !strcmp(op, "MatMul") || !strcmp(op, "Gemm") || !strcmp(op, "MatMulInteger");
        if (!conv && !gemm) continue;
        rb_shape s;
        memset(&s, 0, sizeof(s));
        snprintf(s.op, sizeof(s.op), "%s", op ? op : "?");
        snprintf(s.node, sizeof(s.node), "%s", nd->name);
        s.count = 1;
        if (conv) conv_shape(nd, &s);
        else gemm_shape(nd, &s);
        size_t j = 0;
        while (j < n && !same(&v[j], &s)) j++;
        if (j < n) {
            v[j].count++;
            continue;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 32;
            rb_shape *nv = realloc(v, cap * sizeof(*v));
            if (!nv) {
                rc = RB_RUN;
                break;
            }
            v = nv;
        }
        v[n++] = s;
    }
    kiln_model_destroy(m);
    if (rc) {
        free(v);
        return rc;
    }
    *out = v;
    *n_out = n;
    return RB_OK;
}
