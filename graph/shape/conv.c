/* SPDX-License-Identifier: MIT */
/* Shape inference for Conv and the pooling ops: spatial output sizes from kernel, strides,
 * dilations, explicit pads or auto_pad, and ceil_mode. The CPU kernels recompute the pads they
 * need from the same attributes (providers/cpu/ops/conv_geometry.h). */
#include <string.h>

#include "graph/shape/infer_fns.h"

/* Output size of one spatial axis, or -1 when `in` is not known. */
static int64_t spatial_out(int64_t in, int64_t k, int64_t stride, int64_t dil, int64_t pb, int64_t pe,
                           const char *auto_pad, int ceil_mode) {
    if (in < 0) return KILN_DIM_UNKNOWN;
    int64_t ek = dil * (k - 1) + 1;
    if (strcmp(auto_pad, "SAME_UPPER") == 0 || strcmp(auto_pad, "SAME_LOWER") == 0)
        return (in + stride - 1) / stride;
    if (strcmp(auto_pad, "VALID") == 0) {
        if (in < ek) return 0;
        return ceil_mode ? (in - ek + stride) / stride : (in - ek) / stride + 1;
    }
    int64_t span = in + pb + pe - ek;
    if (span < 0) return 0;
    int64_t out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
    /* ceil_mode: a window that would start inside the end padding is dropped. */
    if (ceil_mode && (out - 1) * stride >= in + pb) out--;
    return out;
}

/* Common geometry of Conv and pooling: X is [N, C, D1..Dn]; kernel sizes come from the
 * kernel_shape attribute or from `kdims` (Conv weights). */
static kiln_status window_shape(kiln_shape_ctx *c, const kiln_type *x, const int64_t *kdims, int32_t nk,
                                int64_t out_channels, int ceil_mode, int64_t *dims) {
    int32_t sp = x->rank - 2;
    if (sp < 1) return kiln_shape_fail(c, "input must have rank 3 or more, got %d", (int)x->rank);
    uint32_t n_ks, n_st, n_di, n_pa;
    const int64_t *ks = kiln_attr_ints(c->node, "kernel_shape", &n_ks);
    const int64_t *st = kiln_attr_ints(c->node, "strides", &n_st);
    const int64_t *di = kiln_attr_ints(c->node, "dilations", &n_di);
    const int64_t *pa = kiln_attr_ints(c->node, "pads", &n_pa);
    const char *auto_pad = kiln_attr_str(c->node, "auto_pad", "NOTSET");
    if (ks && (int32_t)n_ks != sp) return kiln_shape_fail(c, "kernel_shape has %u values for %d spatial axes", n_ks, (int)sp);
    if (!ks && nk != sp) return kiln_shape_fail(c, "kernel_shape is required");
    if ((st && (int32_t)n_st != sp) || (di && (int32_t)n_di != sp) || (pa && (int32_t)n_pa != 2 * sp))
        return kiln_shape_fail(c, "strides, dilations or pads do not match %d spatial axes", (int)sp);
    dims[0] = x->dims[0];
    dims[1] = out_channels;
    for (int32_t i = 0; i < sp; i++) {
        int64_t k = ks ? ks[i] : kdims[i];
        int64_t s = st ? st[i] : 1, d = di ? di[i] : 1;
        int64_t pb = pa ? pa[i] : 0, pe = pa ? pa[i + sp] : 0;
        if (k < 0 || s <= 0 || d <= 0 || pb < 0 || pe < 0)
            return kiln_shape_fail(c, "kernel, stride, dilation or pad on axis %d is out of range", (int)i);
        dims[2 + i] = spatial_out(x->dims[2 + i], k, s, d, pb, pe, auto_pad, ceil_mode);
    }
    return KILN_OK;
}

kiln_status kiln_infer_conv(kiln_shape_ctx *c) {
    const kiln_shape_val *x, *w;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    KILN_TRY(kiln_shape_need_tensor(c, 1, &w));
    if (x->t.rank < 0 || w->t.rank < 0) {
        kiln_shape_set(c, 0, x->t.dtype, x->t.rank < 0 ? w->t.rank : x->t.rank, NULL);
        return KILN_OK;
    }
    if (w->t.rank != x->t.rank) return kiln_shape_fail(c, "weights have rank %d, input rank %d", (int)w->t.rank, (int)x->t.rank);
    int64_t group = kiln_attr_int(c->node, "group", 1);
    if (group <= 0) return kiln_shape_fail(c, "group must be positive");
    if (x->t.dims[1] >= 0 && w->t.dims[1] >= 0 && x->t.dims[1] != w->t.dims[1] * group)
        return kiln_shape_fail(c, "input has %lld channels, weights expect %lld x group %lld", (long long)x->t.dims[1],
                               (long long)w->t.dims[1], (long long)group);
    int64_t dims[KILN_MAX_RANK];
    KILN_TRY(window_shape(c, &x->t, w->t.dims + 2, w->t.rank - 2, w->t.dims[0], 0, dims));
    kiln_shape_set(c, 0, x->t.dtype, x->t.rank, dims);
    return KILN_OK;
}

kiln_status kiln_infer_pool(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    if (x->t.rank < 0) {
        kiln_shape_set(c, 0, x->t.dtype, -1, NULL);
        kiln_shape_set(c, 1, KILN_DTYPE_INT64, -1, NULL);
        return KILN_OK;
    }
    int64_t dims[KILN_MAX_RANK];
    int ceil_mode = (int)kiln_attr_int(c->node, "ceil_mode", 0);
    KILN_TRY(window_shape(c, &x->t, NULL, 0, x->t.dims[1], ceil_mode, dims));
    kiln_shape_set(c, 0, x->t.dtype, x->t.rank, dims);
    kiln_shape_set(c, 1, KILN_DTYPE_INT64, x->t.rank, dims);
    return KILN_OK;
}

kiln_status kiln_infer_global_pool(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    if (x->t.rank >= 0 && x->t.rank < 3) return kiln_shape_fail(c, "input must have rank 3 or more");
    int64_t dims[KILN_MAX_RANK];
    for (int32_t i = 0; i < x->t.rank; i++) dims[i] = i < 2 ? x->t.dims[i] : 1;
    kiln_shape_set(c, 0, x->t.dtype, x->t.rank, dims);
    return KILN_OK;
}
