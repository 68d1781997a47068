/* SPDX-License-Identifier: MIT */
/* Shape inference for the sliding-window ops (Conv, ConvInteger, QLinearConv, DeformConv,
 * ConvTranspose, pooling, MaxUnpool, MaxRoiPool): output sizes from kernel, strides, dilations,
 * pads or auto_pad and ceil_mode; hostile sizes are refused before they can overflow. */
#include <string.h>

#include "graph/shape/infer_fns.h"

/* Bound on kernel sizes, strides, dilations and pads: keeps every geometry product in int64. */
#define WINDOW_MAX ((int64_t)1 << 30)

/* Output size of one spatial axis, or -1 when `in` is not known. */
static int64_t spatial_out(int64_t in, int64_t k, int64_t stride, int64_t dil, int64_t pb, int64_t pe,
                           const char *auto_pad, int ceil_mode) {
    if (in < 0 || k < 0) return KILN_DIM_UNKNOWN;
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

static int known_auto_pad(const char *p) {
    return strcmp(p, "NOTSET") == 0 || strcmp(p, "SAME_UPPER") == 0 || strcmp(p, "SAME_LOWER") == 0 ||
           strcmp(p, "VALID") == 0;
}

/* Common geometry of the convolutions and pooling: X is [N, C, D1..Dn]; kernel sizes come from
 * the kernel_shape attribute or from `kdims` (weights; -1 where unknown). */
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
    if (!known_auto_pad(auto_pad)) return kiln_shape_fail(c, "unknown auto_pad '%s'", auto_pad);
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
        if ((ks || k >= 0) && (k < 1 || k > WINDOW_MAX))
            return kiln_shape_fail(c, "kernel size %lld on axis %d is out of range", (long long)k, (int)i);
        if (s < 1 || s > WINDOW_MAX || d < 1 || d > WINDOW_MAX || pb < 0 || pb > WINDOW_MAX || pe < 0 || pe > WINDOW_MAX)
            return kiln_shape_fail(c, "stride, dilation or pad on axis %d is out of range", (int)i);
        if (ks && kdims && kdims[i] >= 0 && kdims[i] != k)
            return kiln_shape_fail(c, "kernel_shape %lld on axis %d does not match the weights (%lld)", (long long)k, (int)i,
                                   (long long)kdims[i]);
        dims[2 + i] = spatial_out(x->dims[2 + i], k, s, d, pb, pe, auto_pad, ceil_mode);
    }
    return KILN_OK;
}

/* Conv-like ops: X [N, C, ...] and W [M, C/group, k...]; sets output 0 to `dtype`. */
static kiln_status conv_like(kiln_shape_ctx *c, uint32_t xi, uint32_t wi, int32_t dtype) {
    const kiln_shape_val *x, *w;
    KILN_TRY(kiln_shape_need_tensor(c, xi, &x));
    KILN_TRY(kiln_shape_need_tensor(c, wi, &w));
    int64_t group = kiln_attr_int(c->node, "group", 1);
    if (group <= 0 || group > WINDOW_MAX) return kiln_shape_fail(c, "group %lld is out of range", (long long)group);
    if (x->t.rank < 0 || w->t.rank < 0) {
        kiln_shape_set(c, 0, dtype, x->t.rank < 0 ? w->t.rank : x->t.rank, NULL);
        return KILN_OK;
    }
    if (w->t.rank != x->t.rank) return kiln_shape_fail(c, "weights have rank %d, input rank %d", (int)w->t.rank, (int)x->t.rank);
    if (x->t.rank < 3) return kiln_shape_fail(c, "input must have rank 3 or more, got %d", (int)x->t.rank);
    if (x->t.dims[1] >= 0 && w->t.dims[1] >= 0 && (x->t.dims[1] % group || x->t.dims[1] / group != w->t.dims[1]))
        return kiln_shape_fail(c, "input has %lld channels, weights expect %lld x group %lld", (long long)x->t.dims[1],
                               (long long)w->t.dims[1], (long long)group);
    if (w->t.dims[0] >= 0 && w->t.dims[0] % group != 0)
        return kiln_shape_fail(c, "%lld output channels are not divisible by group %lld", (long long)w->t.dims[0],
                               (long long)group);
    int64_t dims[KILN_MAX_RANK];
    KILN_TRY(window_shape(c, &x->t, w->t.dims + 2, w->t.rank - 2, w->t.dims[0], 0, dims));
    kiln_shape_set(c, 0, dtype, x->t.rank, dims);
    return KILN_OK;
}

/* A 1-D per-channel input (bias) of `want` values, when both are known. */
static kiln_status check_vec(kiln_shape_ctx *c, uint32_t i, int64_t want, const char *what) {
    const kiln_shape_val *b = kiln_shape_in(c, i);
    if (!b || b->t.rank < 0) return KILN_OK;
    if (b->t.rank != 1 || (want >= 0 && b->t.dims[0] >= 0 && b->t.dims[0] != want))
        return kiln_shape_fail(c, "%s must be 1-D with %lld values", what, (long long)want);
    return KILN_OK;
}

kiln_status kiln_infer_conv(kiln_shape_ctx *c) {
    const kiln_shape_val *x, *w;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    KILN_TRY(kiln_shape_need_tensor(c, 1, &w));
    if (x->t.dtype != w->t.dtype) return kiln_shape_fail(c, "X and W have different types");
    KILN_TRY(conv_like(c, 0, 1, x->t.dtype));
    return check_vec(c, 2, w->t.rank > 0 ? w->t.dims[0] : -1, "bias");
}

/* ConvInteger: x, w, x_zero_point, w_zero_point → int32. */
kiln_status kiln_infer_conv_integer(kiln_shape_ctx *c) {
    return conv_like(c, 0, 1, KILN_DTYPE_INT32);
}

/* QLinearConv: x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B → the type of y_zp (x's
 * type when y_zp is omitted). */
kiln_status kiln_infer_qlinear_conv(kiln_shape_ctx *c) {
    const kiln_shape_val *x, *w;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    KILN_TRY(kiln_shape_need_tensor(c, 3, &w));
    const kiln_shape_val *yz = kiln_shape_in(c, 7);
    KILN_TRY(conv_like(c, 0, 3, yz ? yz->t.dtype : x->t.dtype));
    return check_vec(c, 8, w->t.rank > 0 ? w->t.dims[0] : -1, "bias");
}

/* DeformConv: X, W, offset, B, mask; the output geometry is Conv's. */
kiln_status kiln_infer_deform_conv(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    KILN_TRY(conv_like(c, 0, 1, x->t.dtype));
    const kiln_shape_val *w = kiln_shape_in(c, 1);
    return check_vec(c, 3, w->t.rank > 0 ? w->t.dims[0] : -1, "bias");
}

/* ConvTranspose: X [N, C, ...], W [C, M/group, k...] → [N, M, ...]. */
kiln_status kiln_infer_conv_transpose(kiln_shape_ctx *c) {
    const kiln_shape_val *x, *w;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    KILN_TRY(kiln_shape_need_tensor(c, 1, &w));
    if (x->t.dtype != w->t.dtype) return kiln_shape_fail(c, "X and W have different types");
    int64_t group = kiln_attr_int(c->node, "group", 1);
    if (group <= 0 || group > WINDOW_MAX) return kiln_shape_fail(c, "group %lld is out of range", (long long)group);
    if (x->t.rank < 0 || w->t.rank < 0) {
        kiln_shape_set(c, 0, x->t.dtype, x->t.rank < 0 ? w->t.rank : x->t.rank, NULL);
        return KILN_OK;
    }
    int32_t sp = x->t.rank - 2;
    if (sp < 1) return kiln_shape_fail(c, "input must have rank 3 or more, got %d", (int)x->t.rank);
    if (w->t.rank != x->t.rank) return kiln_shape_fail(c, "weights have rank %d, input rank %d", (int)w->t.rank, (int)x->t.rank);
    if (x->t.dims[1] >= 0 && w->t.dims[0] >= 0 && x->t.dims[1] != w->t.dims[0])
        return kiln_shape_fail(c, "input has %lld channels, weights %lld", (long long)x->t.dims[1], (long long)w->t.dims[0]);
    if (w->t.dims[0] >= 0 && w->t.dims[0] % group != 0)
        return kiln_shape_fail(c, "%lld input channels are not divisible by group %lld", (long long)w->t.dims[0],
                               (long long)group);
    uint32_t n_ks, n_st, n_di, n_pa, n_op, n_os;
    const int64_t *ks = kiln_attr_ints(c->node, "kernel_shape", &n_ks);
    const int64_t *st = kiln_attr_ints(c->node, "strides", &n_st);
    const int64_t *di = kiln_attr_ints(c->node, "dilations", &n_di);
    const int64_t *pa = kiln_attr_ints(c->node, "pads", &n_pa);
    const int64_t *op = kiln_attr_ints(c->node, "output_padding", &n_op);
    const int64_t *os = kiln_attr_ints(c->node, "output_shape", &n_os);
    const char *auto_pad = kiln_attr_str(c->node, "auto_pad", "NOTSET");
    if (!known_auto_pad(auto_pad)) return kiln_shape_fail(c, "unknown auto_pad '%s'", auto_pad);
    /* output_shape may also be written with the batch and channel dims in front. */
    if (os && (int32_t)n_os == sp + 2) os += 2, n_os -= 2;
    if ((ks && (int32_t)n_ks != sp) || (st && (int32_t)n_st != sp) || (di && (int32_t)n_di != sp) ||
        (pa && (int32_t)n_pa != 2 * sp) || (op && (int32_t)n_op != sp) || (os && (int32_t)n_os != sp))
        return kiln_shape_fail(c, "window attributes do not match %d spatial axes", (int)sp);
    int same = strcmp(auto_pad, "SAME_UPPER") == 0 || strcmp(auto_pad, "SAME_LOWER") == 0;
    int64_t dims[KILN_MAX_RANK];
    dims[0] = x->t.dims[0];
    if (w->t.dims[1] > ((int64_t)1 << 40)) return kiln_shape_fail(c, "weights have too many output channels");
    dims[1] = w->t.dims[1] >= 0 ? w->t.dims[1] * group : KILN_DIM_UNKNOWN;
    for (int32_t i = 0; i < sp; i++) {
        int64_t k = ks ? ks[i] : w->t.dims[2 + i];
        int64_t s = st ? st[i] : 1, d = di ? di[i] : 1, o = op ? op[i] : 0;
        int64_t pb = pa ? pa[i] : 0, pe = pa ? pa[i + sp] : 0;
        if ((ks || k >= 0) && (k < 1 || k > WINDOW_MAX))
            return kiln_shape_fail(c, "kernel size %lld on axis %d is out of range", (long long)k, (int)i);
        if (ks && w->t.dims[2 + i] >= 0 && w->t.dims[2 + i] != k)
            return kiln_shape_fail(c, "kernel_shape does not match the weights on axis %d", (int)i);
        if (s < 1 || s > WINDOW_MAX || d < 1 || d > WINDOW_MAX || pb < 0 || pb > WINDOW_MAX || pe < 0 ||
            pe > WINDOW_MAX || o < 0 || o > WINDOW_MAX)
            return kiln_shape_fail(c, "stride, dilation, pad or output_padding on axis %d is out of range", (int)i);
        int64_t in = x->t.dims[2 + i];
        if (os) {
            if (os[i] < 0 || os[i] > ((int64_t)1 << 40)) return kiln_shape_fail(c, "output_shape on axis %d is out of range", (int)i);
            dims[2 + i] = os[i];
        } else if (in < 0 || k < 0) {
            dims[2 + i] = KILN_DIM_UNKNOWN;
        } else if (same) {
            dims[2 + i] = in * s;
        } else {
            if (strcmp(auto_pad, "VALID") == 0) pb = pe = 0;
            int64_t out = s * (in - 1) + o + (k - 1) * d + 1 - pb - pe;
            if (in == 0) out = 0;
            if (out < 0) return kiln_shape_fail(c, "pads exceed the output on axis %d", (int)i);
            dims[2 + i] = out;
        }
    }
    kiln_shape_set(c, 0, x->t.dtype, x->t.rank, dims);
    return check_vec(c, 2, dims[1], "bias");
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

static kiln_status unpool_dims(kiln_shape_ctx *c, const kiln_type *x, int64_t *dims) {
    int32_t sp = x->rank - 2;
    if (sp < 1) return kiln_shape_fail(c, "input must have rank 3 or more, got %d", (int)x->rank);
    uint32_t n_ks, n_st, n_pa;
    const int64_t *ks = kiln_attr_ints(c->node, "kernel_shape", &n_ks);
    const int64_t *st = kiln_attr_ints(c->node, "strides", &n_st);
    const int64_t *pa = kiln_attr_ints(c->node, "pads", &n_pa);
    if (!ks || (int32_t)n_ks != sp || (st && (int32_t)n_st != sp) || (pa && (int32_t)n_pa != 2 * sp))
        return kiln_shape_fail(c, "kernel_shape, strides or pads do not match %d spatial axes", (int)sp);
    dims[0] = x->dims[0];
    dims[1] = x->dims[1];
    for (int32_t i = 0; i < sp; i++) {
        int64_t k = ks[i], s = st ? st[i] : 1, pb = pa ? pa[i] : 0, pe = pa ? pa[i + sp] : 0;
        if (k < 1 || k > WINDOW_MAX || s < 1 || s > WINDOW_MAX || pb < 0 || pb > WINDOW_MAX || pe < 0 || pe > WINDOW_MAX)
            return kiln_shape_fail(c, "kernel, stride or pad on axis %d is out of range", (int)i);
        int64_t in = x->dims[2 + i];
        if (in < 0) {
            dims[2 + i] = KILN_DIM_UNKNOWN;
            continue;
        }
        int64_t out = in == 0 ? 0 : (in - 1) * s + k - pb - pe;
        if (out < 0) return kiln_shape_fail(c, "pads exceed the output on axis %d", (int)i);
        dims[2 + i] = out;
    }
    return KILN_OK;
}

/* MaxUnpool: X and I of the pooled shape; the output is the inverted pool geometry, or the
 * output_shape input when given. */
kiln_status kiln_infer_max_unpool(kiln_shape_ctx *c) {
    const kiln_shape_val *x, *ind;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    KILN_TRY(kiln_shape_need_tensor(c, 1, &ind));
    if (ind->t.dtype != KILN_DTYPE_INT64) return kiln_shape_fail(c, "I must be int64");
    if (x->t.rank >= 0 && ind->t.rank >= 0) {
        if (x->t.rank != ind->t.rank) return kiln_shape_fail(c, "X and I have different ranks");
        for (int32_t i = 0; i < x->t.rank; i++)
            if (x->t.dims[i] >= 0 && ind->t.dims[i] >= 0 && x->t.dims[i] != ind->t.dims[i])
                return kiln_shape_fail(c, "X and I have different shapes");
    }
    if (kiln_shape_in(c, 2)) {
        int64_t os[KILN_MAX_RANK];
        uint32_t n;
        int known;
        KILN_TRY(kiln_shape_ints(c, 2, os, KILN_MAX_RANK, &n, &known));
        if (!known) {
            kiln_shape_set(c, 0, x->t.dtype, x->t.rank, NULL);
            return KILN_OK;
        }
        if (x->t.rank >= 0 && (int32_t)n != x->t.rank)
            return kiln_shape_fail(c, "output_shape has %u values for rank %d", n, (int)x->t.rank);
        for (uint32_t i = 0; i < n; i++)
            if (os[i] < 0) return kiln_shape_fail(c, "output_shape has a negative dim");
        kiln_shape_set(c, 0, x->t.dtype, (int32_t)n, os);
        return KILN_OK;
    }
    if (x->t.rank < 0) {
        kiln_shape_set(c, 0, x->t.dtype, -1, NULL);
        return KILN_OK;
    }
    int64_t dims[KILN_MAX_RANK];
    KILN_TRY(unpool_dims(c, &x->t, dims));
    kiln_shape_set(c, 0, x->t.dtype, x->t.rank, dims);
    return KILN_OK;
}

/* MaxRoiPool: X [N, C, H, W], rois [R, 5] → [R, C, pooled_h, pooled_w]. */
kiln_status kiln_infer_max_roi_pool(kiln_shape_ctx *c) {
    const kiln_shape_val *x, *r;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    KILN_TRY(kiln_shape_need_tensor(c, 1, &r));
    if (x->t.dtype != r->t.dtype) return kiln_shape_fail(c, "X and rois have different types");
    uint32_t n;
    const int64_t *ps = kiln_attr_ints(c->node, "pooled_shape", &n);
    if (!ps || n != 2 || ps[0] < 1 || ps[1] < 1 || ps[0] > WINDOW_MAX || ps[1] > WINDOW_MAX)
        return kiln_shape_fail(c, "pooled_shape must be two positive sizes");
    if (x->t.rank >= 0 && x->t.rank != 4) return kiln_shape_fail(c, "X must be 4-D");
    if (r->t.rank >= 0 && (r->t.rank != 2 || (r->t.dims[1] >= 0 && r->t.dims[1] != 5)))
        return kiln_shape_fail(c, "rois must be [num_rois, 5]");
    int64_t dims[4] = {r->t.rank == 2 ? r->t.dims[0] : -1, x->t.rank == 4 ? x->t.dims[1] : -1, ps[0], ps[1]};
    kiln_shape_set(c, 0, x->t.dtype, 4, dims);
    return KILN_OK;
}
