/* SPDX-License-Identifier: MIT */
/* Shape inference for NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss: scores (N, C, d1..dk),
 * labels (N, d1..dk); the loss has the labels' shape with reduction "none", else it is a scalar. */
#include <string.h>

#include "graph/shape/infer_fns.h"

kiln_status kiln_infer_loss(kiln_shape_ctx *c) {
    const kiln_shape_val *x, *t;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    KILN_TRY(kiln_shape_need_tensor(c, 1, &t));
    int32_t dt = x->t.dtype;
    if (dt != KILN_DTYPE_FLOAT && dt != KILN_DTYPE_DOUBLE && dt != KILN_DTYPE_FLOAT16 && dt != KILN_DTYPE_BFLOAT16)
        return kiln_shape_fail(c, "scores must be a float tensor, not %s", kiln_dtype_name((kiln_dtype)dt));
    if (t->t.dtype != KILN_DTYPE_INT32 && t->t.dtype != KILN_DTYPE_INT64)
        return kiln_shape_fail(c, "labels must be int32 or int64, not %s", kiln_dtype_name((kiln_dtype)t->t.dtype));
    const char *red = kiln_attr_str(c->node, "reduction", "mean");
    int none = strcmp(red, "none") == 0;
    if (!none && strcmp(red, "sum") != 0 && strcmp(red, "mean") != 0)
        return kiln_shape_fail(c, "reduction '%s' is not none, sum or mean", red);
    if (x->t.rank >= 0 && x->t.rank < 2) return kiln_shape_fail(c, "scores must have rank 2 or more, not %d", (int)x->t.rank);
    if (x->t.rank >= 0 && t->t.rank >= 0) {
        if (t->t.rank != x->t.rank - 1)
            return kiln_shape_fail(c, "labels have rank %d, expected %d", (int)t->t.rank, (int)x->t.rank - 1);
        for (int32_t d = 0; d < t->t.rank; d++) {
            int64_t a = t->t.dims[d], b = x->t.dims[d ? d + 1 : 0];
            if (a >= 0 && b >= 0 && a != b)
                return kiln_shape_fail(c, "labels dim %d is %lld, scores have %lld", (int)d, (long long)a, (long long)b);
        }
    }
    const kiln_shape_val *w = kiln_shape_in(c, 2);
    if (w && (w->t.dtype != dt || (w->t.rank >= 0 && w->t.rank != 1)))
        return kiln_shape_fail(c, "weights must be a 1-D tensor of the scores' type");
    if (none) kiln_shape_set(c, 0, dt, t->t.rank, t->t.rank >= 0 ? t->t.dims : NULL);
    else kiln_shape_set(c, 0, dt, 0, NULL);
    if (c->n_out > 1 && c->out[1].present) kiln_shape_same(c, 1, 0);
    return KILN_OK;
}
