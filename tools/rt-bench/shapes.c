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

/* Pads of one spatial axis from auto_pad (SAME_*: total padding split, the odd one at the end
 * for SAME_UPPER); returns the begin pad and sets *sym to 0 when begin != end. */
static int64_t same_pad(int64_t in, int64_t k, int64_t s, int64_t d, int *sym) {
    int64_t out = (in + s - 1) / s, ext = d * (k - 1) + 1;
    int64_t total = (out - 1) * s + ext - in;
    if (total < 0) total = 0;
    if (total % 2) *sym = 0;
    return total / 2;
}

static void conv_shape(const kiln_node *nd, rb_shape *s) {
    int q = !strcmp(nd->op_type, "QLinearConv");
    const kiln_value *x = nd->n_inputs > 0 ? nd->inputs[0] : NULL;
    const kiln_value *w = nd->n_inputs > (q ? 3u : 1u) ? nd->inputs[q ? 3 : 1] : NULL;
    s->kind = RB_SHAPE_CONV;
    s->dtype = q ? int8_dtype(x) : "f32";
    if (!concrete(x, -1) || !concrete(w, -1)) {
        snprintf(s->skip, sizeof(s->skip), "shape not static: pass --dim NAME=N");
        return;
    }
    if (x->type.rank != 4 || w->type.rank != 4) {
        snprintf(s->skip, sizeof(s->skip), "%dd convolution: only 2-D is benchmarked", x->type.rank - 2);
        return;
    }
    rb_conv_shape *c = &s->conv;
    const int64_t *xd = x->type.dims, *wd = w->type.dims;
    int64_t group = kiln_attr_int(nd, "group", 1);
    int tr = !strcmp(nd->op_type, "ConvTranspose");
    c->n = xd[0], c->c = xd[1], c->h = xd[2], c->w = xd[3];
    c->m = tr ? wd[1] * group : wd[0];
    c->kh = wd[2], c->kw = wd[3], c->group = group;
    uint32_t cnt;
    const int64_t *v;
    c->sh = c->sw = c->dh = c->dw = 1;
    if ((v = kiln_attr_ints(nd, "strides", &cnt)) && cnt == 2) c->sh = v[0], c->sw = v[1];
    if ((v = kiln_attr_ints(nd, "dilations", &cnt)) && cnt == 2) c->dh = v[0], c->dw = v[1];
    int sym = 1;
    const char *ap = kiln_attr_str(nd, "auto_pad", "NOTSET");
    if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
        c->ph = same_pad(c->h, c->kh, c->sh, c->dh, &sym);
        c->pw = same_pad(c->w, c->kw, c->sw, c->dw, &sym);
    } else if ((v = kiln_attr_ints(nd, "pads", &cnt)) && cnt == 4) {
        c->ph = v[0], c->pw = v[1];
        sym = v[0] == v[2] && v[1] == v[3];
    }
    if (tr) snprintf(s->skip, sizeof(s->skip), "ConvTranspose: listed, not benchmarked yet");
    else if (q) snprintf(s->skip, sizeof(s->skip), "QLinearConv: listed, not benchmarked yet (int8 conv case to come)");
    else if (!sym) snprintf(s->skip, sizeof(s->skip), "asymmetric pads: not benchmarked");
    else if (c->c % group || c->m % group) snprintf(s->skip, sizeof(s->skip), "channels not a multiple of group");
}

static void gemm_shape(const kiln_node *nd, rb_shape *s) {
    s->kind = RB_SHAPE_GEMM;
    const kiln_value *a = nd->n_inputs > 0 ? nd->inputs[0] : NULL, *b = nd->n_inputs > 1 ? nd->inputs[1] : NULL;
    int mmi = !strcmp(nd->op_type, "MatMulInteger"), gemm = !strcmp(nd->op_type, "Gemm");
    s->dtype = mmi ? int8_dtype(a) : "f32";
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
        s->trans_b = tb;
        s->batch = 1;
        if (ta) snprintf(s->skip, sizeof(s->skip), "transA: not benchmarked");
        return;
    }
    if (ra < 1 || rbk < 1) {
        snprintf(s->skip, sizeof(s->skip), "scalar operand");
        return;
    }
    int64_t m = ra >= 2 ? ad[ra - 2] : 1, k = ad[ra - 1];
    int64_t n = rbk >= 2 ? bd[rbk - 1] : 1;
    int64_t batch = 1;
    for (int d = 0; d < ra - 2; d++) batch *= ad[d];
    if (rbk <= 2) { /* B shared: the batch folds into M */
        m *= batch;
        batch = 1;
    } else {
        int64_t bb = 1;
        for (int d = 0; d < rbk - 2; d++) bb *= bd[d];
        if (bb > batch) batch = bb;
    }
    s->m = m, s->n = n, s->k = k, s->batch = batch;
    if (batch > 1) snprintf(s->skip, sizeof(s->skip), "batched (%lld GEMMs): benchmark one with gemm", (long long)batch);
}

static int same(const rb_shape *x, const rb_shape *y) {
    if (x->kind != y->kind || strcmp(x->op, y->op) || strcmp(x->skip, y->skip)) return 0;
    if (x->kind == RB_SHAPE_CONV) return !memcmp(&x->conv, &y->conv, sizeof(x->conv));
    return x->m == y->m && x->n == y->n && x->k == y->k && x->batch == y->batch && x->trans_b == y->trans_b &&
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
