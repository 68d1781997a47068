/* SPDX-License-Identifier: MIT */
/* TreeEnsemble (ai.onnx.ml 5): walks every tree per row of X [N, F] (compared in double, exact for
 * float/double/float16), aggregates leaf weights per target and applies the post transform
 * (docs/ml.md). Trees are validated at kernel creation; a cycle fails the run. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/common/half.h"
#include "providers/cpu/cpu_op.h"

enum { LEQ, LT, GTE, GT, EQ, NEQ, MEMBER };
enum { AGG_AVERAGE, AGG_SUM, AGG_MIN, AGG_MAX };
enum { POST_NONE, POST_SOFTMAX, POST_LOGISTIC, POST_SOFTMAX_ZERO, POST_PROBIT };

typedef struct tnode {
    double split;
    int64_t feature;
    uint32_t child[2];        /* [0]: true branch, [1]: false branch */
    uint8_t leaf[2];          /* the branch is an index into the leaves */
    uint8_t mode, nan_true;
    uint32_t set0, set_n;     /* MEMBER: sorted members[set0 .. set0+set_n) */
} tnode;

typedef struct tree_kernel {
    cpu_kernel base;
    int32_t dtype;
    int agg, post;
    int64_t n_targets;
    uint32_t n_nodes, n_leaves, n_trees;
    tnode *nodes;
    double *weights;          /* per leaf */
    int64_t *targets;         /* per leaf */
    uint32_t *roots;          /* per tree; bit 31 set: the tree is the single leaf (roots & ~bit) */
    double *members;
} tree_kernel;

#define LEAF_ROOT 0x80000000u

static double read_x(const kiln_value_desc *x, uint64_t i) {
    if (x->dtype == KILN_DTYPE_FLOAT) return ((const float *)x->data)[i];
    if (x->dtype == KILN_DTYPE_DOUBLE) return ((const double *)x->data)[i];
    return kiln_f16_to_f32(((const uint16_t *)x->data)[i]);
}

static int is_member(const tree_kernel *k, const tnode *nd, double v) {
    const double *m = k->members + nd->set0;
    uint32_t lo = 0, hi = nd->set_n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (m[mid] < v) lo = mid + 1;
        else hi = mid;
    }
    return lo < nd->set_n && m[lo] == v;
}

static int goes_true(const tree_kernel *k, const tnode *nd, double v) {
    if (isnan(v)) return nd->nan_true;
    switch (nd->mode) {
    case LEQ: return v <= nd->split;
    case LT: return v < nd->split;
    case GTE: return v >= nd->split;
    case GT: return v > nd->split;
    case EQ: return v == nd->split;
    case NEQ: return v != nd->split;
    default: return is_member(k, nd, v);
    }
}

/* ONNX Runtime's probit: sqrt(2) * erfinv(2p - 1); erfinv from Giles' approximation refined by
 * two Newton steps on erf. */
static double erfinv(double y) {
    if (!(y >= -1.0 && y <= 1.0)) return NAN;
    if (y == -1.0) return -INFINITY;
    if (y == 1.0) return INFINITY;
    double w = -log((1.0 - y) * (1.0 + y)), x;
    if (w < 5.0) {
        w -= 2.5;
        x = 2.81022636e-08;
        x = 3.43273939e-07 + x * w;
        x = -3.5233877e-06 + x * w;
        x = -4.39150654e-06 + x * w;
        x = 0.00021858087 + x * w;
        x = -0.00125372503 + x * w;
        x = -0.00417768164 + x * w;
        x = 0.246640727 + x * w;
        x = 1.50140941 + x * w;
    } else {
        w = sqrt(w) - 3.0;
        x = -0.000200214257;
        x = 0.000100950558 + x * w;
        x = 0.00134934322 + x * w;
        x = -0.00367342844 + x * w;
        x = 0.00573950773 + x * w;
        x = -0.0076224613 + x * w;
        x = 0.00943887047 + x * w;
        x = 1.00167406 + x * w;
        x = 2.83297682 + x * w;
    }
    x *= y;
    for (int i = 0; i < 2; i++) x -= (erf(x) - y) / (2.0 / sqrt(M_PI) * exp(-x * x));
    return x;
}

static void post_transform(int post, double *v, int64_t n) {
    if (post == POST_LOGISTIC) {
        for (int64_t i = 0; i < n; i++) v[i] = 1.0 / (1.0 + exp(-v[i]));
    } else if (post == POST_PROBIT) {
        for (int64_t i = 0; i < n; i++) v[i] = sqrt(2.0) * erfinv(2.0 * v[i] - 1.0);
    } else if (post == POST_SOFTMAX || post == POST_SOFTMAX_ZERO) {
        /* SOFTMAX_ZERO keeps exact zeros at zero and leaves them out of the sum. */
        double mx = -INFINITY, sum = 0.0;
        for (int64_t i = 0; i < n; i++)
            if (v[i] > mx) mx = v[i];
        for (int64_t i = 0; i < n; i++) {
            v[i] = post == POST_SOFTMAX_ZERO && v[i] == 0.0 ? 0.0 : exp(v[i] - mx);
            sum += v[i];
        }
        for (int64_t i = 0; i < n && sum > 0.0; i++) v[i] /= sum;
    }
}

static kiln_status tree_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const tree_kernel *k = (const tree_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    if (x->kind != KILN_VALUE_TENSOR || x->dtype != k->dtype || x->rank != 2)
        return cpu_fail(err, KILN_ERR_SHAPE, "input must be a [N, F] %s tensor", cpu_dtype_name(k->dtype));
    int64_t rows = x->dims[0], f = x->dims[1];
    int64_t dims[2] = {rows, k->n_targets};
    kiln_value_desc *y;
    KILN_CPU_TRY(cpu_output(ctx, 0, 2, dims, &y, err));
    double *acc = ctx->host->scratch(ctx, (size_t)k->n_targets * sizeof(double));
    uint8_t *hit = ctx->host->scratch(ctx, (size_t)k->n_targets);
    if (!acc || !hit) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    for (int64_t r = 0; r < rows; r++) {
        /* A target no leaf reaches stays 0 (as in onnxruntime) whatever the aggregation. */
        memset(acc, 0, (size_t)k->n_targets * sizeof(double));
        memset(hit, 0, (size_t)k->n_targets);
        for (uint32_t t = 0; t < k->n_trees; t++) {
            uint32_t at = k->roots[t], leaf;
            if (at & LEAF_ROOT) {
                leaf = at & ~LEAF_ROOT;
            } else {
                for (uint32_t steps = 0;; steps++) {
                    if (steps > k->n_nodes) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "tree %u has a cycle", t);
                    const tnode *nd = &k->nodes[at];
                    if (nd->feature >= f)
                        return cpu_fail(err, KILN_ERR_SHAPE, "a node reads feature %lld, the input has %lld features",
                                        (long long)nd->feature, (long long)f);
                    int b = goes_true(k, nd, read_x(x, (uint64_t)(r * f + nd->feature))) ? 0 : 1;
                    at = nd->child[b];
                    if (nd->leaf[b]) break;
                }
                leaf = at;
            }
            int64_t tg = k->targets[leaf];
            double w = k->weights[leaf], *a = &acc[tg];
            if (k->agg == AGG_MIN) *a = !hit[tg] || w < *a ? w : *a;
            else if (k->agg == AGG_MAX) *a = !hit[tg] || w > *a ? w : *a;
            else *a += w;
            hit[tg] = 1;
        }
        if (k->agg == AGG_AVERAGE && k->n_trees)
            for (int64_t t = 0; t < k->n_targets; t++) acc[t] /= k->n_trees;
        post_transform(k->post, acc, k->n_targets);
        for (int64_t t = 0; t < k->n_targets; t++) {
            uint64_t o = (uint64_t)(r * k->n_targets + t);
            if (k->dtype == KILN_DTYPE_FLOAT) ((float *)y->data)[o] = (float)acc[t];
            else if (k->dtype == KILN_DTYPE_DOUBLE) ((double *)y->data)[o] = acc[t];
            else ((uint16_t *)y->data)[o] = kiln_f32_to_f16((float)acc[t]);
        }
    }
    return KILN_OK;
}

static void tree_cleanup(cpu_kernel *base) {
    tree_kernel *k = (tree_kernel *)base;
    cpu_free(base, k->nodes);
    cpu_free(base, k->weights);
    cpu_free(base, k->targets);
    cpu_free(base, k->roots);
    cpu_free(base, k->members);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* A tensor attribute as doubles (float, double or float16 items), or NULL with *n 0. */
static const kiln_value_desc *tensor_attr(const cpu_node *n, const char *name) {
    const kiln_attr_view *a = n->host->node_attr(n->view, name);
    return a && n->host->attr_type(a) == KILN_ATTR_TENSOR ? n->host->attr_tensor(a, 0) : NULL;
}

static int real_type(const kiln_value_desc *d) {
    return d && (d->dtype == KILN_DTYPE_FLOAT || d->dtype == KILN_DTYPE_DOUBLE || d->dtype == KILN_DTYPE_FLOAT16);
}

static kiln_status invalid(cpu_kernel **out, kiln_error *err, const char *msg) {
    if (*out) (*out)->abi.release(&(*out)->abi);
    *out = NULL;
    return cpu_fail(err, KILN_ERR_INVALID_MODEL, "TreeEnsemble: %s", msg);
}

kiln_status kiln_cpu_tree_ensemble(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    *out = NULL;
    int32_t dt = cpu_input_dtype(n, 0);
    if (dt != KILN_DTYPE_FLOAT && dt != KILN_DTYPE_DOUBLE && dt != KILN_DTYPE_FLOAT16)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "TreeEnsemble is not implemented for %s", cpu_dtype_name(dt));
    uint32_t nf, nt, nfl, ntl, nfa, nl, nr, nm;
    const int64_t *feat = cpu_attr_ints(n, "nodes_featureids", &nf);
    const int64_t *tid = cpu_attr_ints(n, "nodes_truenodeids", &nt);
    const int64_t *fid = cpu_attr_ints(n, "nodes_falsenodeids", &nfa);
    const int64_t *tleaf = cpu_attr_ints(n, "nodes_trueleafs", &ntl);
    const int64_t *fleaf = cpu_attr_ints(n, "nodes_falseleafs", &nfl);
    const int64_t *ltarget = cpu_attr_ints(n, "leaf_targetids", &nl);
    const int64_t *roots = cpu_attr_ints(n, "tree_roots", &nr);
    const int64_t *miss = cpu_attr_ints(n, "nodes_missing_value_tracks_true", &nm);
    const kiln_value_desc *splits = tensor_attr(n, "nodes_splits"), *modes = tensor_attr(n, "nodes_modes");
    const kiln_value_desc *lw = tensor_attr(n, "leaf_weights"), *mv = tensor_attr(n, "membership_values");
    if (!nf || nt != nf || nfa != nf || ntl != nf || nfl != nf || (miss && nm != nf) || !splits || splits->count != nf ||
        !modes || modes->count != nf || modes->dtype != KILN_DTYPE_UINT8)
        return invalid(out, err, "the nodes_* attributes must all be given with one entry per node (nodes_modes as uint8)");
    if (!nl || !lw || lw->count != nl || !real_type(lw) || !real_type(splits) || (mv && !real_type(mv)))
        return invalid(out, err, "leaf_targetids and leaf_weights must have one entry per leaf; weights, splits and "
                                 "membership values must be float, double or float16");
    int agg = (int)cpu_attr_int(n, "aggregate_function", AGG_SUM), post = (int)cpu_attr_int(n, "post_transform", POST_NONE);
    if (agg < AGG_AVERAGE || agg > AGG_MAX) return invalid(out, err, "aggregate_function must be 0-3");
    if (post < POST_NONE || post > POST_PROBIT) return invalid(out, err, "post_transform must be 0-4");
    int64_t targets = cpu_attr_int(n, "n_targets", -1);
    if (!cpu_has_attr(n, "n_targets"))
        for (uint32_t i = 0; i < nl; i++) targets = ltarget[i] + 1 > targets ? ltarget[i] + 1 : targets;
    if (targets < 1 || targets > INT32_MAX) return invalid(out, err, "n_targets must be positive");
    if (nl >= LEAF_ROOT) return invalid(out, err, "too many leaves");
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(tree_kernel), tree_compute, out, err));
    tree_kernel *k = (tree_kernel *)*out;
    k->base.cleanup = tree_cleanup;
    k->dtype = dt, k->agg = agg, k->post = post, k->n_targets = targets;
    k->n_nodes = nf, k->n_leaves = nl, k->n_trees = nr;
    k->nodes = cpu_alloc(*out, nf * sizeof(tnode));
    k->weights = cpu_alloc(*out, nl * sizeof(double));
    k->targets = cpu_alloc(*out, nl * sizeof(int64_t));
    k->roots = cpu_alloc(*out, (nr + 1) * sizeof(uint32_t));
    k->members = cpu_alloc(*out, (mv ? mv->count : 0) * sizeof(double) + 1);
    if (!k->nodes || !k->weights || !k->targets || !k->roots || !k->members) {
        (*out)->abi.release(&(*out)->abi);
        *out = NULL;
        return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    }
    for (uint32_t i = 0; i < nl; i++) {
        if (ltarget[i] < 0 || ltarget[i] >= targets) return invalid(out, err, "a leaf_targetids entry is out of range");
        k->targets[i] = ltarget[i];
        k->weights[i] = read_x(lw, i);
    }
    /* Members, in the order MEMBER nodes appear, each set ended by a NaN. */
    uint64_t mpos = 0, mcount = mv ? mv->count : 0;
    for (uint32_t i = 0; i < nf; i++) {
        tnode *nd = &k->nodes[i];
        memset(nd, 0, sizeof(*nd));
        nd->mode = ((const uint8_t *)modes->data)[i];
        if (nd->mode > MEMBER) return invalid(out, err, "a nodes_modes entry is not 0-6");
        nd->split = read_x(splits, i);
        nd->feature = feat[i];
        nd->nan_true = miss && miss[i] != 0;
        if (feat[i] < 0) return invalid(out, err, "a nodes_featureids entry is negative");
        int64_t ch[2] = {tid[i], fid[i]}, lf[2] = {tleaf[i], fleaf[i]};
        for (int b = 0; b < 2; b++) {
            nd->leaf[b] = lf[b] != 0;
            if (ch[b] < 0 || ch[b] >= (nd->leaf[b] ? nl : nf)) return invalid(out, err, "a branch points outside the nodes or leaves");
            nd->child[b] = (uint32_t)ch[b];
        }
        if (nd->mode == MEMBER) {
            nd->set0 = (uint32_t)mpos;
            while (mpos < mcount && !isnan(read_x(mv, mpos))) k->members[mpos] = read_x(mv, mpos), mpos++;
            if (mpos >= mcount) return invalid(out, err, "membership_values has fewer NaN-ended sets than MEMBER nodes");
            nd->set_n = (uint32_t)(mpos - nd->set0);
            qsort(k->members + nd->set0, nd->set_n, sizeof(double), cmp_double);
            mpos++;
        }
    }
    for (uint32_t t = 0; t < nr; t++) {
        if (roots[t] < 0 || roots[t] >= nf) return invalid(out, err, "a tree_roots entry is out of range");
        const tnode *nd = &k->nodes[roots[t]];
        /* A tree that is one leaf: both branches name the same leaf. */
        if (nd->leaf[0] && nd->leaf[1] && nd->child[0] == nd->child[1]) k->roots[t] = nd->child[0] | LEAF_ROOT;
        else k->roots[t] = (uint32_t)roots[t];
    }
    return KILN_OK;
}
