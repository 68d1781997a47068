/* SPDX-License-Identifier: MIT */
/* Shape inference for normalizations with statistics outputs: BatchNormalization (running or
 * saved statistics, one per channel) and LayerNormalization (Mean and InvStdDev, one per row). */
#include "graph/shape/infer_fns.h"

static int is_float(int32_t dt) {
    return dt == KILN_DTYPE_FLOAT || dt == KILN_DTYPE_DOUBLE || dt == KILN_DTYPE_FLOAT16 || dt == KILN_DTYPE_BFLOAT16;
}

kiln_status kiln_infer_batchnorm(kiln_shape_ctx *c) {
    const kiln_shape_val *x, *p[4];
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    for (uint32_t i = 0; i < 4; i++) KILN_TRY(kiln_shape_need_tensor(c, i + 1, &p[i]));
    if (!is_float(x->t.dtype)) return kiln_shape_fail(c, "X must be a float tensor, not %s", kiln_dtype_name((kiln_dtype)x->t.dtype));
    for (uint32_t i = 0; i < 4; i++) {
        if (!is_float(p[i]->t.dtype))
            return kiln_shape_fail(c, "input %u must be a float tensor, not %s", i + 1, kiln_dtype_name((kiln_dtype)p[i]->t.dtype));
        /* one type for all before opset 14; mean/var may differ from 14, scale/B too from 15 */
        if ((c->opset < 14 || (c->opset == 14 && i < 2)) && p[i]->t.dtype != x->t.dtype)
            return kiln_shape_fail(c, "input %u has type %s, X has %s", i + 1, kiln_dtype_name((kiln_dtype)p[i]->t.dtype),
                                   kiln_dtype_name((kiln_dtype)x->t.dtype));
    }
    if (p[0]->t.dtype != p[1]->t.dtype || p[2]->t.dtype != p[3]->t.dtype)
        return kiln_shape_fail(c, "scale and B, and mean and var, must have the same types");
    kiln_shape_same(c, 0, 0);
    /* channel count of the statistics outputs: dim 1 (1 for a 1-D X) */
    int64_t ch = x->t.rank < 0 ? KILN_DIM_UNKNOWN : x->t.rank >= 2 ? x->t.dims[1] : 1;
    int32_t st = c->opset >= 14 ? p[2]->t.dtype : x->t.dtype;
    for (uint32_t o = 1; o < c->n_out; o++)
        if (c->out[o].present) kiln_shape_set(c, o, st, 1, &ch);
    return KILN_OK;
}

kiln_status kiln_infer_layernorm(kiln_shape_ctx *c) {
    const kiln_shape_val *x, *s;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    KILN_TRY(kiln_shape_need_tensor(c, 1, &s));
    if (!is_float(x->t.dtype)) return kiln_shape_fail(c, "X must be a float tensor, not %s", kiln_dtype_name((kiln_dtype)x->t.dtype));
    if (s->t.dtype != x->t.dtype)
        return kiln_shape_fail(c, "Scale has type %s, X has %s", kiln_dtype_name((kiln_dtype)s->t.dtype),
                               kiln_dtype_name((kiln_dtype)x->t.dtype));
    int64_t stash = kiln_attr_int(c->node, "stash_type", KILN_DTYPE_FLOAT);
    if (stash != KILN_DTYPE_FLOAT && stash != KILN_DTYPE_BFLOAT16 && stash != KILN_DTYPE_DOUBLE)
        return kiln_shape_fail(c, "stash_type %lld is not float, double or bfloat16", (long long)stash);
    kiln_shape_same(c, 0, 0);
    int32_t r = x->t.rank, axis = 0;
    if (r >= 0) KILN_TRY(kiln_shape_axis(c, kiln_attr_int(c->node, "axis", -1), r, &axis));
    int64_t dims[KILN_MAX_RANK];
    for (int32_t d = 0; d < r; d++) dims[d] = d < axis ? x->t.dims[d] : 1;
    for (uint32_t o = 1; o < c->n_out && o < 3; o++)
        if (c->out[o].present) kiln_shape_set(c, o, (int32_t)stash, r, dims);
    return KILN_OK;
}
