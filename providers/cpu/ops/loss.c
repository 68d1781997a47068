/* SPDX-License-Identifier: MIT */
/* NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (log-softmax over dim 1, then NLL).
 * Computed in double. reduction "mean" divides by the sum of the applied weights (1 per label
 * without weights; 0 for labels equal to ignore_index), as the spec defines. */
#include <math.h>
#include <string.h>

#include "kernels/common/half.h"
#include "providers/cpu/cpu_op.h"
#include "providers/cpu/ops/elem.h"

enum { RED_NONE, RED_SUM, RED_MEAN };

typedef struct loss_kernel {
    cpu_kernel base;
    int sce, reduction, has_ignore;
    int64_t ignore;
} loss_kernel;

static double get_f(int32_t dt, const void *p, size_t i) { return cpu_load_f64(p, dt, (int64_t)i); }

static void put_f(int32_t dt, void *p, size_t i, double v) { cpu_store_f64(p, dt, (int64_t)i, v); }

static kiln_status loss_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const loss_kernel *k = (const loss_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0), *t = cpu_in(ctx, 1), *w = cpu_in(ctx, 2);
    kiln_value_desc *y = ctx->outputs[0];
    int64_t n = x->dims[0], c = x->dims[1], d = 1;
    for (int32_t i = 2; i < x->rank; i++) d *= x->dims[i];
    if (w && (int64_t)w->count != c)
        return cpu_fail(err, KILN_ERR_SHAPE, "weights have %llu elements, expected one per class (%lld)",
                        (unsigned long long)w->count, (long long)c);
    /* scores (log-probabilities for SCE) as doubles */
    double *lp = ctx->host->scratch(ctx, (size_t)x->count * sizeof *lp + 1);
    if (!lp) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "no memory for %llu scores", (unsigned long long)x->count);
    for (size_t i = 0; i < x->count; i++) lp[i] = get_f(x->dtype, x->data, i);
    if (k->sce) {
        for (int64_t s = 0; s < n * d; s++) {
            double *p = lp + (s / d) * c * d + s % d, m = -INFINITY, sum = 0.0;
            for (int64_t j = 0; j < c; j++) m = p[j * d] > m ? p[j * d] : m;
            for (int64_t j = 0; j < c; j++) sum += exp(p[j * d] - m);
            double sub = m + log(sum);
            for (int64_t j = 0; j < c; j++) p[j * d] -= sub;
        }
        kiln_value_desc *o = ctx->n_outputs > 1 ? ctx->outputs[1] : NULL;
        if (o)
            for (size_t i = 0; i < x->count; i++) put_f(o->dtype, o->data, i, lp[i]);
    }
    double total = 0.0, wsum = 0.0;
    for (int64_t s = 0; s < n * d; s++) {
        int64_t lab = t->dtype == KILN_DTYPE_INT64 ? ((const int64_t *)t->data)[s] : ((const int32_t *)t->data)[s];
        double loss = 0.0, wt = 0.0;
        if (!k->has_ignore || lab != k->ignore) {
            if (lab < 0 || lab >= c)
                return cpu_fail(err, KILN_ERR_SHAPE, "label %lld at position %lld is out of range [0, %lld)", (long long)lab,
                                (long long)s, (long long)c);
            wt = w ? get_f(w->dtype, w->data, (size_t)lab) : 1.0;
            loss = -lp[((s / d) * c + lab) * d + s % d] * wt;
        }
        if (k->reduction == RED_NONE) put_f(y->dtype, y->data, (size_t)s, loss);
        total += loss;
        wsum += wt;
    }
    if (k->reduction == RED_SUM) put_f(y->dtype, y->data, 0, total);
    else if (k->reduction == RED_MEAN) put_f(y->dtype, y->data, 0, total / wsum);
    return KILN_OK;
}

kiln_status kiln_cpu_loss(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (dt != KILN_DTYPE_FLOAT && dt != KILN_DTYPE_DOUBLE && dt != KILN_DTYPE_FLOAT16 && dt != KILN_DTYPE_BFLOAT16)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "%s is not implemented for %s", n->op_type, cpu_dtype_name(dt));
    const char *red = cpu_attr_str(n, "reduction", "mean");
    int r = strcmp(red, "none") == 0 ? RED_NONE : strcmp(red, "sum") == 0 ? RED_SUM : strcmp(red, "mean") == 0 ? RED_MEAN : -1;
    if (r < 0) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "reduction '%s' is not none, sum or mean", red);
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(loss_kernel), loss_compute, out, err));
    loss_kernel *k = (loss_kernel *)*out;
    k->sce = cpu_op_is(n, "SoftmaxCrossEntropyLoss");
    k->reduction = r;
    k->has_ignore = cpu_has_attr(n, "ignore_index");
    k->ignore = cpu_attr_int(n, "ignore_index", 0);
    return KILN_OK;
}
