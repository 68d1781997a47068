/* SPDX-License-Identifier: MIT */
/* Shape inference for resampling ops: Resize (opsets 10-19: scales or sizes, axes,
 * keep_aspect_ratio_policy), Upsample, GridSample, AffineGrid, Col2Im. */
#include <math.h>
#include <string.h>

#include "graph/shape/infer_fns.h"
#include "graph/shape/tensor_util.h"

#define MAXV (KILN_MAX_RANK * 2)

/* Float input i (float/double/float16 not read: unknown) into v; *known 0 when not readable. */
static kiln_status float_values(kiln_shape_ctx *c, uint32_t i, double *v, uint32_t *n, int *known) {
    const kiln_shape_val *s = kiln_shape_in(c, i);
    *n = 0, *known = 0;
    if (!s || !s->data || s->t.rank < 0) return KILN_OK;
    int64_t cnt;
    if (!kiln_dims_count(s->t.dims, s->t.rank, &cnt)) return KILN_OK;
    if (cnt > MAXV) return kiln_shape_fail(c, "input %u has %lld values, at most %d allowed", i, (long long)cnt, MAXV);
    if (s->t.dtype == KILN_DTYPE_FLOAT)
        for (int64_t k = 0; k < cnt; k++) v[k] = ((const float *)s->data)[k];
    else if (s->t.dtype == KILN_DTYPE_DOUBLE)
        for (int64_t k = 0; k < cnt; k++) v[k] = ((const double *)s->data)[k];
    else
        return KILN_OK;
    *n = (uint32_t)cnt, *known = 1;
    return KILN_OK;
}

/* Output dims of Resize/Upsample from scales (floor(in * scale)) or sizes. */
kiln_status kiln_infer_resize(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    int upsample = strcmp(c->node->op_type, "Upsample") == 0;
    const char *mode = kiln_attr_str(c->node, "mode", "nearest");
    if (strcmp(mode, "nearest") && strcmp(mode, "linear") && (upsample || c->opset < 11 || strcmp(mode, "cubic")) &&
        !(upsample && c->opset < 9 && !strcmp(mode, "bilinear")))
        return kiln_shape_fail(c, "mode '%s' is not valid", mode);
    int32_t r = x->t.rank;
    if (r < 0) {
        kiln_shape_set(c, 0, x->t.dtype, -1, NULL);
        return KILN_OK;
    }
    double scales[MAXV];
    int64_t sizes[MAXV], axes[MAXV];
    uint32_t ns = 0, nz = 0, na = (uint32_t)r;
    int known_s = 0, known_z = 0, has_s = 0, has_z = 0;
    for (int32_t d = 0; d < r; d++) axes[d] = d;
    if (upsample && c->opset < 9) {
        const float *f = kiln_attr_floats(c->node, "scales", &ns);
        if (!f || ns > MAXV) return kiln_shape_fail(c, "needs attribute 'scales'");
        for (uint32_t i = 0; i < ns; i++) scales[i] = f[i];
        has_s = known_s = 1;
    } else if (upsample || c->opset < 11) {
        has_s = 1;
        KILN_TRY(float_values(c, 1, scales, &ns, &known_s));
    } else {
        const kiln_shape_val *sv = kiln_shape_in(c, 2), *zv = kiln_shape_in(c, 3);
        /* opsets 11-12 pass an empty scales tensor when sizes are used */
        has_s = sv && !(sv->t.rank == 1 && sv->t.dims[0] == 0);
        has_z = zv && !(zv->t.rank == 1 && zv->t.dims[0] == 0);
        if (has_s && sv->t.dtype != KILN_DTYPE_FLOAT) return kiln_shape_fail(c, "scales must be float");
        if (has_s) KILN_TRY(float_values(c, 2, scales, &ns, &known_s));
        if (has_z) KILN_TRY(kiln_shape_ints(c, 3, sizes, MAXV, &nz, &known_z));
        if (known_s && ns == 0) has_s = 0;
        if (known_z && nz == 0) has_z = 0;
        if (has_s && has_z) return kiln_shape_fail(c, "only one of scales and sizes may be given");
        if (!has_s && !has_z)
            return kiln_shape_fail(c, "one of scales and sizes is required");
        uint32_t n;
        const int64_t *a = c->opset >= 18 ? kiln_attr_ints(c->node, "axes", &n) : NULL;
        if (a) {
            uint32_t mask;
            if (n > MAXV) return kiln_shape_fail(c, "too many axes");
            memcpy(axes, a, n * sizeof(int64_t));
            KILN_TRY(kiln_shape_norm_axes(c, axes, n, r, &mask));
            na = n;
        }
    }
    if ((has_s && !known_s) || (has_z && !known_z)) {
        kiln_shape_set(c, 0, x->t.dtype, r, NULL);
        return KILN_OK;
    }
    int64_t dims[KILN_MAX_RANK];
    memcpy(dims, x->t.dims, sizeof(int64_t) * (size_t)r);
    if (has_s) {
        if (ns != na) return kiln_shape_fail(c, "scales has %u values for %u axes", ns, na);
        for (uint32_t i = 0; i < na; i++) {
            if (!(scales[i] > 0) || scales[i] > 1e9) return kiln_shape_fail(c, "scale %g is not valid", scales[i]);
            int64_t in = x->t.dims[axes[i]];
            double o = floor((double)in * scales[i]);
            if (o > 1125899906842624.0) return kiln_shape_fail(c, "resized dim is too large");
            dims[axes[i]] = in < 0 ? KILN_DIM_UNKNOWN : (int64_t)o;
        }
    } else {
        if (nz != na) return kiln_shape_fail(c, "sizes has %u values for %u axes", nz, na);
        const char *policy = c->opset >= 18 ? kiln_attr_str(c->node, "keep_aspect_ratio_policy", "stretch") : "stretch";
        int nl = !strcmp(policy, "not_larger"), ns2 = !strcmp(policy, "not_smaller");
        if (!nl && !ns2 && strcmp(policy, "stretch")) return kiln_shape_fail(c, "keep_aspect_ratio_policy '%s' is not valid", policy);
        /* not_larger / not_smaller: one scale for all axes, out = round_half_up(scale * in) */
        double scale = nl ? INFINITY : 0;
        int unknown = 0;
        for (uint32_t i = 0; i < na; i++) {
            if (sizes[i] < 0) return kiln_shape_fail(c, "size %lld is negative", (long long)sizes[i]);
            int64_t in = x->t.dims[axes[i]];
            if (!nl && !ns2) dims[axes[i]] = sizes[i];
            else if (in < 0) unknown = 1;
            else if (in > 0) scale = nl ? fmin(scale, (double)sizes[i] / (double)in) : fmax(scale, (double)sizes[i] / (double)in);
        }
        if ((nl || ns2) && isfinite(scale) && scale > 1e9) return kiln_shape_fail(c, "resized dim is too large");
        if (nl || ns2)
            for (uint32_t i = 0; i < na; i++) {
                int64_t in = x->t.dims[axes[i]];
                dims[axes[i]] = unknown ? KILN_DIM_UNKNOWN : in == 0 ? 0 : (int64_t)(scale * (double)in + 0.5);
            }
    }
    kiln_shape_set(c, 0, x->t.dtype, r, dims);
    return KILN_OK;
}

kiln_status kiln_infer_grid_sample(kiln_shape_ctx *c) {
    const kiln_shape_val *x, *g;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    KILN_TRY(kiln_shape_need_tensor(c, 1, &g));
    int32_t r = x->t.rank >= 0 ? x->t.rank : g->t.rank;
    if (r < 0) {
        kiln_shape_set(c, 0, x->t.dtype, -1, NULL);
        return KILN_OK;
    }
    if (r < 3 || (x->t.rank >= 0 && g->t.rank >= 0 && x->t.rank != g->t.rank))
        return kiln_shape_fail(c, "X and grid must have the same rank, 3 or more");
    if (c->opset < 20 && r != 4) return kiln_shape_fail(c, "X must be 4-D before opset 20");
    if (g->t.rank >= 0 && g->t.dims[r - 1] >= 0 && g->t.dims[r - 1] != r - 2)
        return kiln_shape_fail(c, "grid's last dim must be %d", (int)r - 2);
    int64_t dims[KILN_MAX_RANK];
    for (int32_t d = 0; d < r; d++) dims[d] = KILN_DIM_UNKNOWN;
    if (x->t.rank >= 0) dims[0] = x->t.dims[0], dims[1] = x->t.dims[1];
    if (g->t.rank >= 0) {
        dims[0] = kiln_dim_merge(dims[0], g->t.dims[0]);
        for (int32_t d = 2; d < r; d++) dims[d] = g->t.dims[d - 1];
    }
    kiln_shape_set(c, 0, x->t.dtype, r, dims);
    return KILN_OK;
}

kiln_status kiln_infer_affine_grid(kiln_shape_ctx *c) {
    const kiln_shape_val *t;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &t));
    int64_t size[8];
    uint32_t n;
    int known;
    KILN_TRY(kiln_shape_ints(c, 1, size, 8, &n, &known));
    if (!known) {
        kiln_shape_set(c, 0, t->t.dtype, -1, NULL);
        return KILN_OK;
    }
    if (n != 4 && n != 5) return kiln_shape_fail(c, "size must be (N, C, H, W) or (N, C, D, H, W)");
    int64_t sd = n - 2;
    if (t->t.rank >= 0 && (t->t.rank != 3 || (t->t.dims[1] >= 0 && t->t.dims[1] != sd) ||
                           (t->t.dims[2] >= 0 && t->t.dims[2] != sd + 1)))
        return kiln_shape_fail(c, "theta must be (N, %lld, %lld)", (long long)sd, (long long)sd + 1);
    int64_t dims[6];
    dims[0] = size[0];
    for (uint32_t i = 2; i < n; i++) dims[i - 1] = size[i];
    dims[n - 1] = sd;
    for (uint32_t i = 0; i < n; i++)
        if (dims[i] < 0) return kiln_shape_fail(c, "size has a negative value");
    kiln_shape_set(c, 0, t->t.dtype, (int32_t)n, dims);
    return KILN_OK;
}

kiln_status kiln_infer_col2im(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    if (x->t.rank >= 0 && x->t.rank != 3) return kiln_shape_fail(c, "input must be 3-D (N, C * prod(block_shape), L)");
    int64_t img[KILN_MAX_RANK], blk[KILN_MAX_RANK];
    uint32_t ni, nb;
    int ki, kb;
    KILN_TRY(kiln_shape_ints(c, 1, img, KILN_MAX_RANK - 2, &ni, &ki));
    KILN_TRY(kiln_shape_ints(c, 2, blk, KILN_MAX_RANK - 2, &nb, &kb));
    if (!ki) {
        kiln_shape_set(c, 0, x->t.dtype, -1, NULL);
        return KILN_OK;
    }
    if (ni < 1 || (kb && nb != ni)) return kiln_shape_fail(c, "image_shape and block_shape must have the same length");
    int64_t dims[KILN_MAX_RANK];
    dims[0] = x->t.rank == 3 ? x->t.dims[0] : KILN_DIM_UNKNOWN;
    dims[1] = KILN_DIM_UNKNOWN;
    if (kb && x->t.rank == 3 && x->t.dims[1] >= 0) {
        int64_t p = 1;
        for (uint32_t i = 0; i < nb; i++) {
            if (blk[i] <= 0) return kiln_shape_fail(c, "block_shape values must be positive");
            if (__builtin_mul_overflow(p, blk[i], &p)) return kiln_shape_fail(c, "block_shape overflows");
        }
        if (x->t.dims[1] % p) return kiln_shape_fail(c, "input dim 1 (%lld) is not a multiple of the block size %lld", (long long)x->t.dims[1], (long long)p);
        dims[1] = x->t.dims[1] / p;
    }
    for (uint32_t i = 0; i < ni; i++) {
        if (img[i] < 0) return kiln_shape_fail(c, "image_shape has a negative value");
        dims[2 + i] = img[i];
    }
    kiln_shape_set(c, 0, x->t.dtype, (int32_t)ni + 2, dims);
    return KILN_OK;
}
