/* SPDX-License-Identifier: MIT */
/* Shape inference for ops that select, repeat or pad regions: Slice, Pad, CenterCropPad, Expand,
 * Tile, DepthToSpace, SpaceToDepth. */
#include <string.h>

#include "graph/shape/infer_fns.h"
#include "graph/shape/tensor_util.h"

#define MAXV (KILN_MAX_RANK * 2)

/* Reads the int input i (when present) into v; *given 0 when omitted, *known 0 when unknown. */
static kiln_status opt_ints(kiln_shape_ctx *c, uint32_t i, int64_t *v, uint32_t *n, int *given, int *known) {
    *n = 0, *known = 1;
    *given = kiln_shape_in(c, i) != NULL;
    if (!*given) return KILN_OK;
    return kiln_shape_ints(c, i, v, MAXV, n, known);
}

/* Number of elements Slice takes from a dim of size `dim` (the spec's clamping rules). */
static int64_t slice_count(int64_t dim, int64_t start, int64_t end, int64_t step) {
    if (start < 0) start += dim;
    if (end < 0) end += dim;
    if (step > 0) {
        start = start < 0 ? 0 : start > dim ? dim : start;
        end = end < 0 ? 0 : end > dim ? dim : end;
        return end > start ? (end - start - 1) / step + 1 : 0;
    }
    start = start < 0 ? 0 : start > dim - 1 ? dim - 1 : start;
    end = end < -1 ? -1 : end > dim - 1 ? dim - 1 : end;
    return start > end ? (start - end - 1) / -step + 1 : 0;
}

kiln_status kiln_infer_slice(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    int64_t starts[MAXV], ends[MAXV], axes[MAXV], steps[MAXV];
    uint32_t ns = 0, ne = 0, na = 0, nst = 0;
    int has_axes = 0, has_steps = 0, known = 1, k;
    if (c->opset < 10) {
        const int64_t *a;
        uint32_t n;
        if (!(a = kiln_attr_ints(c->node, "starts", &ns)) || ns > MAXV) return kiln_shape_fail(c, "needs attribute 'starts'");
        memcpy(starts, a, ns * sizeof(int64_t));
        if (!(a = kiln_attr_ints(c->node, "ends", &ne)) || ne > MAXV) return kiln_shape_fail(c, "needs attribute 'ends'");
        memcpy(ends, a, ne * sizeof(int64_t));
        if ((a = kiln_attr_ints(c->node, "axes", &n))) {
            if (n > MAXV) return kiln_shape_fail(c, "too many axes");
            memcpy(axes, a, n * sizeof(int64_t));
            na = n, has_axes = 1;
        }
    } else {
        int g;
        if (!kiln_shape_in(c, 1) || !kiln_shape_in(c, 2)) return kiln_shape_fail(c, "inputs starts and ends are required");
        KILN_TRY(kiln_shape_ints(c, 1, starts, MAXV, &ns, &k));
        known &= k;
        KILN_TRY(kiln_shape_ints(c, 2, ends, MAXV, &ne, &k));
        known &= k;
        KILN_TRY(opt_ints(c, 3, axes, &na, &has_axes, &k));
        known &= k;
        KILN_TRY(opt_ints(c, 4, steps, &nst, &g, &k));
        known &= k;
        has_steps = g;
    }
    int32_t r = x->t.rank;
    if (r < 0 || !known) {
        kiln_shape_set(c, 0, x->t.dtype, r, NULL);
        return KILN_OK;
    }
    if (ns != ne) return kiln_shape_fail(c, "starts has %u values, ends %u", ns, ne);
    if (has_axes && na != ns) return kiln_shape_fail(c, "axes has %u values, starts %u", na, ns);
    if (has_steps && nst != ns) return kiln_shape_fail(c, "steps has %u values, starts %u", nst, ns);
    if (!has_axes) {
        if (ns > (uint32_t)r) return kiln_shape_fail(c, "%u starts for rank %d", ns, (int)r);
        for (uint32_t i = 0; i < ns; i++) axes[i] = i;
    }
    uint32_t mask;
    KILN_TRY(kiln_shape_norm_axes(c, axes, ns, r, &mask));
    int64_t dims[KILN_MAX_RANK];
    memcpy(dims, x->t.dims, sizeof(int64_t) * (size_t)r);
    for (uint32_t i = 0; i < ns; i++) {
        int64_t step = has_steps ? steps[i] : 1;
        if (step == 0) return kiln_shape_fail(c, "step %u is 0", i);
        int64_t d = x->t.dims[axes[i]];
        dims[axes[i]] = d < 0 ? KILN_DIM_UNKNOWN : slice_count(d, starts[i], ends[i], step);
    }
    kiln_shape_set(c, 0, x->t.dtype, r, dims);
    return KILN_OK;
}

/* Pads of Pad for every dim of rank r: pads[d] at the beginning, pads[r + d] at the end.
 * *known 0 when they are not known yet. */
static kiln_status pad_amounts(kiln_shape_ctx *c, int32_t r, int64_t *pads, int *known) {
    int64_t p[MAXV], axes[MAXV];
    uint32_t np = 0, na = 0;
    int has_axes = 0, k = 1;
    *known = 0;
    if (c->opset < 11) {
        const int64_t *a = kiln_attr_ints(c->node, c->opset < 2 ? "paddings" : "pads", &np);
        if (!a) return kiln_shape_fail(c, "needs attribute '%s'", c->opset < 2 ? "paddings" : "pads");
        if (np > MAXV) return kiln_shape_fail(c, "too many pads");
        memcpy(p, a, np * sizeof(int64_t));
    } else {
        if (!kiln_shape_in(c, 1)) return kiln_shape_fail(c, "input pads is required");
        KILN_TRY(kiln_shape_ints(c, 1, p, MAXV, &np, &k));
        if (!k) return KILN_OK;
        if (c->opset >= 18) {
            KILN_TRY(opt_ints(c, 3, axes, &na, &has_axes, &k));
            if (!k) return KILN_OK;
        }
    }
    if (!has_axes) {
        na = (uint32_t)r;
        for (int32_t d = 0; d < r; d++) axes[d] = d;
    }
    if (np != 2 * na) return kiln_shape_fail(c, "pads has %u values for %u axes", np, na);
    uint32_t mask;
    KILN_TRY(kiln_shape_norm_axes(c, axes, na, r, &mask));
    for (int32_t d = 0; d < 2 * r; d++) pads[d] = 0;
    for (uint32_t i = 0; i < na; i++) {
        pads[axes[i]] = p[i];
        pads[r + axes[i]] = p[na + i];
    }
    *known = 1;
    return KILN_OK;
}

kiln_status kiln_infer_pad(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    const char *mode = kiln_attr_str(c->node, "mode", "constant");
    if (strcmp(mode, "constant") && strcmp(mode, "reflect") && strcmp(mode, "edge") &&
        (c->opset < 19 || strcmp(mode, "wrap")))
        return kiln_shape_fail(c, "mode '%s' is not valid", mode);
    const kiln_shape_val *cv = kiln_shape_in(c, 2);
    if (c->opset >= 11 && cv && cv->t.dtype != x->t.dtype) return kiln_shape_fail(c, "constant_value has a different type");
    int32_t r = x->t.rank;
    if (r < 0) {
        kiln_shape_set(c, 0, x->t.dtype, -1, NULL);
        return KILN_OK;
    }
    int64_t pads[MAXV];
    int known;
    KILN_TRY(pad_amounts(c, r, pads, &known));
    int64_t dims[KILN_MAX_RANK];
    for (int32_t d = 0; d < r; d++) {
        int64_t v = x->t.dims[d];
        if (!known || v < 0) {
            dims[d] = KILN_DIM_UNKNOWN;
            continue;
        }
        if (__builtin_add_overflow(v, pads[d], &v) || __builtin_add_overflow(v, pads[r + d], &v))
            return kiln_shape_fail(c, "padded dim overflows");
        if (v < 0) return kiln_shape_fail(c, "pads make dim %d negative (%lld)", (int)d, (long long)v);
        if (strcmp(mode, "constant") && x->t.dims[d] == 0 && v > 0)
            return kiln_shape_fail(c, "cannot pad empty dim %d in mode '%s'", (int)d, mode);
        dims[d] = v;
    }
    kiln_shape_set(c, 0, x->t.dtype, r, dims);
    return KILN_OK;
}

kiln_status kiln_infer_center_crop_pad(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    int64_t shape[MAXV];
    uint32_t n;
    int known;
    KILN_TRY(kiln_shape_ints(c, 1, shape, MAXV, &n, &known));
    int32_t r = x->t.rank;
    if (r < 0 || !known) {
        kiln_shape_set(c, 0, x->t.dtype, r, NULL);
        return KILN_OK;
    }
    int64_t axes[MAXV];
    uint32_t na;
    const int64_t *a = kiln_attr_ints(c->node, "axes", &na);
    if (a) {
        if (na > MAXV) return kiln_shape_fail(c, "too many axes");
        memcpy(axes, a, na * sizeof(int64_t));
    } else {
        na = (uint32_t)r;
        for (int32_t d = 0; d < r; d++) axes[d] = d;
    }
    if (n != na) return kiln_shape_fail(c, "shape has %u values for %u axes", n, na);
    uint32_t mask;
    KILN_TRY(kiln_shape_norm_axes(c, axes, na, r, &mask));
    int64_t dims[KILN_MAX_RANK];
    memcpy(dims, x->t.dims, sizeof(int64_t) * (size_t)r);
    for (uint32_t i = 0; i < na; i++) {
        if (shape[i] < 0) return kiln_shape_fail(c, "shape value %lld is negative", (long long)shape[i]);
        dims[axes[i]] = shape[i];
    }
    kiln_shape_set(c, 0, x->t.dtype, r, dims);
    return KILN_OK;
}

kiln_status kiln_infer_expand(kiln_shape_ctx *c) {
    const kiln_shape_val *x, *s;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    KILN_TRY(kiln_shape_need_tensor(c, 1, &s));
    if (s->t.rank >= 0 && s->t.rank != 1) return kiln_shape_fail(c, "shape must be 1-D");
    int64_t shape[KILN_MAX_RANK];
    uint32_t n;
    int known;
    KILN_TRY(kiln_shape_ints(c, 1, shape, KILN_MAX_RANK, &n, &known));
    if (!known || x->t.rank < 0) {
        int32_t r = -1;
        if (x->t.rank >= 0 && s->t.rank == 1 && s->t.dims[0] >= 0)
            r = x->t.rank > s->t.dims[0] ? x->t.rank : (int32_t)s->t.dims[0];
        kiln_shape_set(c, 0, x->t.dtype, r > KILN_MAX_RANK ? -1 : r, NULL);
        return KILN_OK;
    }
    int32_t r = x->t.rank > (int32_t)n ? x->t.rank : (int32_t)n;
    int64_t dims[KILN_MAX_RANK];
    for (int32_t d = 0; d < r; d++) {
        int32_t dx = d - (r - x->t.rank), ds = d - (r - (int32_t)n);
        int64_t a = dx >= 0 ? x->t.dims[dx] : 1, b = ds >= 0 ? shape[ds] : 1;
        if (b < 0) return kiln_shape_fail(c, "shape value %lld is negative", (long long)b);
        if (a == 1) dims[d] = b;
        else if (b == 1 || a == b) dims[d] = a;
        else if (a < 0) dims[d] = b;
        else return kiln_shape_fail(c, "dim %lld cannot be expanded to %lld", (long long)a, (long long)b);
    }
    kiln_shape_set(c, 0, x->t.dtype, r, dims);
    return KILN_OK;
}

kiln_status kiln_infer_tile(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    int64_t rep[MAXV];
    uint32_t n;
    int known;
    KILN_TRY(kiln_shape_ints(c, 1, rep, MAXV, &n, &known));
    int32_t r = x->t.rank;
    if (r < 0 || !known) {
        kiln_shape_set(c, 0, x->t.dtype, r, NULL);
        return KILN_OK;
    }
    if (n != (uint32_t)r) return kiln_shape_fail(c, "repeats has %u values for rank %d", n, (int)r);
    int64_t dims[KILN_MAX_RANK];
    for (int32_t d = 0; d < r; d++) {
        if (rep[d] < 0) return kiln_shape_fail(c, "repeat %lld is negative", (long long)rep[d]);
        if (x->t.dims[d] < 0) dims[d] = rep[d] == 0 ? 0 : KILN_DIM_UNKNOWN;
        else if (__builtin_mul_overflow(x->t.dims[d], rep[d], &dims[d])) return kiln_shape_fail(c, "tiled dim overflows");
    }
    kiln_shape_set(c, 0, x->t.dtype, r, dims);
    return KILN_OK;
}

/* DepthToSpace (depth_to_space) and SpaceToDepth: [N, C, H, W] with C / b^2 or C * b^2. */
static kiln_status block_rearrange(kiln_shape_ctx *c, int to_space) {
    const kiln_shape_val *x;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    int64_t b = kiln_attr_int(c->node, "blocksize", 0);
    if (b <= 0 || b > (1 << 20)) return kiln_shape_fail(c, "blocksize %lld is not valid", (long long)b);
    if (to_space) {
        const char *mode = kiln_attr_str(c->node, "mode", "DCR");
        if (strcmp(mode, "DCR") && strcmp(mode, "CRD")) return kiln_shape_fail(c, "mode '%s' is not valid", mode);
    }
    if (x->t.rank < 0) {
        kiln_shape_set(c, 0, x->t.dtype, 4, NULL);
        return KILN_OK;
    }
    if (x->t.rank != 4) return kiln_shape_fail(c, "input must be 4-D, not rank %d", (int)x->t.rank);
    int64_t dims[4];
    memcpy(dims, x->t.dims, sizeof(dims));
    int64_t bb = b * b;
    for (int d = 1; d < 4; d++) {
        if (dims[d] < 0) continue;
        if (d == 1 && to_space) {
            if (dims[1] % bb) return kiln_shape_fail(c, "channels %lld are not a multiple of blocksize^2", (long long)dims[1]);
            dims[1] /= bb;
        } else if (d == 1) {
            if (__builtin_mul_overflow(dims[1], bb, &dims[1])) return kiln_shape_fail(c, "channels overflow");
        } else if (to_space) {
            if (__builtin_mul_overflow(dims[d], b, &dims[d])) return kiln_shape_fail(c, "dim overflows");
        } else {
            if (dims[d] % b) return kiln_shape_fail(c, "dim %d (%lld) is not a multiple of blocksize", d, (long long)dims[d]);
            dims[d] /= b;
        }
    }
    kiln_shape_set(c, 0, x->t.dtype, 4, dims);
    return KILN_OK;
}

kiln_status kiln_infer_depth_to_space(kiln_shape_ctx *c) { return block_rearrange(c, 1); }
kiln_status kiln_infer_space_to_depth(kiln_shape_ctx *c) { return block_rearrange(c, 0); }
