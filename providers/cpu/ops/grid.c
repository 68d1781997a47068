/* SPDX-License-Identifier: MIT */
/* Sampling-grid ops: GridSample (nearest / linear / cubic, padding zeros / border / reflection,
 * align_corners, any number of spatial dims), AffineGrid (2-D and 3-D) and Col2Im (N-D). Values
 * are computed in double and stored in the tensor's type. */
#include <math.h>
#include <string.h>

#include "providers/cpu/cpu_op.h"
#include "providers/cpu/ops/elem.h"
#include "providers/cpu/ops/strided.h"

enum { G_NEAREST, G_LINEAR, G_CUBIC };
enum { P_ZEROS, P_BORDER, P_REFLECTION };

/* Tap combinations per output position are capped (4^6 for cubic 6-D). */
#define MAX_COMBOS 4096

typedef struct grid_kernel {
    cpu_kernel base;
    int mode, padding, align;
} grid_kernel;

/* Reflects x into [lo, hi] by repeated mirroring at the borders. */
static double reflect(double x, double lo, double hi) {
    double rng = hi - lo;
    if (rng <= 0) return lo;
    if (x >= lo && x <= hi) return x;
    double dx = x < lo ? lo - x : x - hi, n = floor(dx / rng), r = dx - n * rng;
    int even = fmod(n, 2) == 0;
    if (x < lo) return even ? lo + r : hi - r;
    return even ? hi - r : lo + r;
}

static double keys_cubic(double x) {
    const double a = -0.75;
    x = fabs(x);
    if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    return 0;
}

/* Source index of tap i along a dim of n after padding; -1 when it reads zeros. */
static int64_t pad_index(const grid_kernel *k, int64_t i, int64_t n, double lo, double hi) {
    if (i >= 0 && i < n) return i;
    if (k->padding == P_ZEROS) return -1;
    if (k->padding == P_BORDER) return i < 0 ? 0 : n - 1;
    int64_t j = (int64_t)reflect((double)i, lo, hi);
    return j < 0 ? 0 : j >= n ? n - 1 : j;
}

/* Taps of one spatial dim for the normalized coordinate g: indices (-1: zero) and weights. */
static int dim_taps(const grid_kernel *k, double g, int64_t n, int64_t *idx, double *w) {
    double lo = k->align ? 0 : -0.5, hi = k->align ? (double)n - 1 : (double)n - 0.5;
    double x = k->align ? (g + 1) / 2 * (double)(n - 1) : ((g + 1) * (double)n - 1) / 2;
    if (!(x == x)) x = -1e9;
    x = x < -1e9 ? -1e9 : x > 1e9 ? 1e9 : x;
    if (k->mode == G_NEAREST) x = nearbyint(x);
    if (x < lo || x > hi) {
        if (k->padding == P_BORDER) x = x < 0 ? 0 : x > (double)(n - 1) ? (double)(n - 1) : x;
        else if (k->padding == P_REFLECTION) x = reflect(x, lo, hi);
    }
    if (k->mode == G_NEAREST) {
        idx[0] = pad_index(k, (int64_t)x, n, lo, hi);
        w[0] = 1;
        return 1;
    }
    double x0 = floor(x), t = x - x0;
    int64_t i0 = (int64_t)x0;
    if (k->mode == G_LINEAR) {
        idx[0] = pad_index(k, i0, n, lo, hi), w[0] = 1 - t;
        idx[1] = pad_index(k, i0 + 1, n, lo, hi), w[1] = t;
        return 2;
    }
    for (int q = 0; q < 4; q++) {
        idx[q] = pad_index(k, i0 - 1 + q, n, lo, hi);
        w[q] = keys_cubic(t + 1 - q);
    }
    return 4;
}

static kiln_status grid_sample_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const grid_kernel *k = (const grid_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0), *g = cpu_in(ctx, 1);
    kiln_value_desc *y = ctx->outputs[0];
    int32_t rank = x->rank, r = rank - 2;
    if (r < 1 || g->rank != rank || g->dims[rank - 1] != r || g->dims[0] != x->dims[0])
        return cpu_fail(err, KILN_ERR_SHAPE, "grid must be (N, D1_out, ..., %d) for X of rank %d", (int)r, (int)rank);
    int64_t N = x->dims[0], C = x->dims[1], in_sp = 1, out_sp = 1, combos = 1, per = k->mode == G_NEAREST ? 1 : k->mode == G_LINEAR ? 2 : 4;
    for (int32_t d = 0; d < r; d++) in_sp *= x->dims[2 + d], out_sp *= g->dims[1 + d], combos *= per;
    if (combos > MAX_COMBOS)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "GridSample with %d spatial dims in this mode is not implemented", (int)r);
    if (y->count == 0) return KILN_OK;
    int64_t xs[KILN_MAX_RANK];
    cpu_strides(x->dims + 2, r, xs);
    int64_t *offs = ctx->host->scratch(ctx, (size_t)combos * sizeof(int64_t));
    double *ws = ctx->host->scratch(ctx, (size_t)combos * sizeof(double));
    if (!offs || !ws) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    for (int64_t n = 0; n < N; n++)
        for (int64_t p = 0; p < out_sp; p++) {
            int64_t idx[KILN_MAX_RANK][4], cnt[KILN_MAX_RANK], at[KILN_MAX_RANK] = {0};
            double w[KILN_MAX_RANK][4];
            /* grid component j addresses spatial dim r-1-j (innermost first) */
            for (int32_t j = 0; j < r; j++) {
                int32_t d = r - 1 - j;
                double gv = cpu_load_f64(g->data, g->dtype, (n * out_sp + p) * r + j);
                cnt[d] = dim_taps(k, gv, x->dims[2 + d], idx[d], w[d]);
            }
            int64_t m = 0;
            for (int64_t c = 0; c < combos; c++) {
                int64_t off = 0;
                double wt = 1;
                for (int32_t d = 0; d < r && off >= 0; d++) {
                    int64_t i = idx[d][at[d]];
                    if (i < 0) off = -1;
                    else off += i * xs[d], wt *= w[d][at[d]];
                }
                if (off >= 0 && wt != 0) offs[m] = off, ws[m] = wt, m++;
                for (int32_t d = r - 1; d >= 0; d--) {
                    if (++at[d] < cnt[d]) break;
                    at[d] = 0;
                }
            }
            for (int64_t ch = 0; ch < C; ch++) {
                int64_t xb = (n * C + ch) * in_sp;
                double v = 0;
                for (int64_t t = 0; t < m; t++) v += ws[t] * cpu_load_f64(x->data, x->dtype, xb + offs[t]);
                cpu_store_f64(y->data, y->dtype, (n * C + ch) * out_sp + p, v);
            }
        }
    return KILN_OK;
}

kiln_status kiln_cpu_grid_sample(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0), gt = cpu_input_dtype(n, 1);
    if (!cpu_elem_numeric(dt) || dt == KILN_DTYPE_BOOL || !cpu_elem_numeric(gt))
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "GridSample is not implemented for %s with a %s grid", cpu_dtype_name(dt),
                        cpu_dtype_name(gt));
    const char *ms = cpu_attr_str(n, "mode", n->opset < 20 ? "bilinear" : "linear");
    const char *ps = cpu_attr_str(n, "padding_mode", "zeros");
    /* opset 16 names the modes bilinear / bicubic, opset 20 linear / cubic */
    int mode = !strcmp(ms, "nearest") ? G_NEAREST : !strcmp(ms, "linear") || !strcmp(ms, "bilinear") ? G_LINEAR
             : !strcmp(ms, "cubic") || !strcmp(ms, "bicubic") ? G_CUBIC : -1;
    int pad = !strcmp(ps, "zeros") ? P_ZEROS : !strcmp(ps, "border") ? P_BORDER : !strcmp(ps, "reflection") ? P_REFLECTION : -1;
    if (mode < 0) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "GridSample mode '%s' is not implemented", ms);
    if (pad < 0) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "GridSample padding_mode '%s' is not implemented", ps);
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(grid_kernel), grid_sample_compute, out, err));
    grid_kernel *k = (grid_kernel *)*out;
    k->mode = mode, k->padding = pad, k->align = cpu_attr_int(n, "align_corners", 0) != 0;
    return KILN_OK;
}

/* ---- AffineGrid ---- */

/* Coordinate of index i of n evenly spaced positions in [-1, 1]. */
static double base_coord(int64_t i, int64_t n, int align) {
    if (align) return n == 1 ? -1 : -1 + 2.0 * (double)i / (double)(n - 1);
    return -1 + (2.0 * (double)i + 1) / (double)n;
}

static kiln_status affine_grid_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const grid_kernel *k = (const grid_kernel *)base;
    const kiln_value_desc *th = cpu_in(ctx, 0), *sz = cpu_in(ctx, 1);
    kiln_value_desc *y = ctx->outputs[0];
    if (sz->count != 4 && sz->count != 5) return cpu_fail(err, KILN_ERR_SHAPE, "size must have 4 or 5 values");
    int64_t sd = (int64_t)sz->count - 2, N = ((const int64_t *)sz->data)[0], sp[3] = {1, 1, 1};
    for (int64_t d = 0; d < sd; d++) sp[3 - sd + d] = ((const int64_t *)sz->data)[2 + d];
    if (th->rank != 3 || th->dims[0] != N || th->dims[1] != sd || th->dims[2] != sd + 1)
        return cpu_fail(err, KILN_ERR_SHAPE, "theta must be (%lld, %lld, %lld)", (long long)N, (long long)sd, (long long)sd + 1);
    int64_t o = 0;
    for (int64_t n = 0; n < N; n++)
        for (int64_t zd = 0; zd < sp[0]; zd++)
            for (int64_t yh = 0; yh < sp[1]; yh++)
                for (int64_t xw = 0; xw < sp[2]; xw++) {
                    /* homogeneous position (x, y[, z], 1), x along the innermost dim */
                    double pos[4] = {base_coord(xw, sp[2], k->align), base_coord(yh, sp[1], k->align),
                                     base_coord(zd, sp[0], k->align), 1};
                    if (sd == 2) pos[2] = 1;
                    for (int64_t row = 0; row < sd; row++) {
                        double v = 0;
                        for (int64_t col = 0; col <= sd; col++)
                            v += cpu_load_f64(th->data, th->dtype, (n * sd + row) * (sd + 1) + col) * pos[col];
                        cpu_store_f64(y->data, y->dtype, o++, v);
                    }
                }
    return KILN_OK;
}

kiln_status kiln_cpu_affine_grid(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (dt != KILN_DTYPE_FLOAT && dt != KILN_DTYPE_DOUBLE && dt != KILN_DTYPE_FLOAT16 && dt != KILN_DTYPE_BFLOAT16)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "AffineGrid is not implemented for %s", cpu_dtype_name(dt));
    if (cpu_input_dtype(n, 1) != KILN_DTYPE_INT64) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "AffineGrid's size must be int64");
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(grid_kernel), affine_grid_compute, out, err));
    ((grid_kernel *)*out)->align = cpu_attr_int(n, "align_corners", 0) != 0;
    return KILN_OK;
}

/* ---- Col2Im ---- */

typedef struct col2im_kernel {
    cpu_kernel base;
    uint32_t nd, n_dil, n_pads, n_str;  /* attribute lengths (0: defaults) */
    int64_t dil[KILN_MAX_RANK], pads[2 * KILN_MAX_RANK], str[KILN_MAX_RANK];
} col2im_kernel;

static kiln_status col2im_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const col2im_kernel *k = (const col2im_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0), *is = cpu_in(ctx, 1), *bs = cpu_in(ctx, 2);
    kiln_value_desc *y = ctx->outputs[0];
    int64_t nd = (int64_t)is->count;
    if (x->rank != 3 || nd < 1 || nd > KILN_MAX_RANK - 2 || (int64_t)bs->count != nd)
        return cpu_fail(err, KILN_ERR_SHAPE, "image_shape and block_shape must have the same length");
    if ((k->n_dil && k->n_dil != nd) || (k->n_str && k->n_str != nd) || (k->n_pads && k->n_pads != 2 * nd))
        return cpu_fail(err, KILN_ERR_SHAPE, "dilations, strides and pads do not match %lld spatial dims", (long long)nd);
    const int64_t *img = is->data, *blk = bs->data;
    int64_t nb[KILN_MAX_RANK], K = 1, L = 1;
    for (int64_t d = 0; d < nd; d++) {
        int64_t dil = k->n_dil ? k->dil[d] : 1, st = k->n_str ? k->str[d] : 1;
        int64_t pb = k->n_pads ? k->pads[d] : 0, pe = k->n_pads ? k->pads[nd + d] : 0;
        /* bounds keep every product and sum below in int64 */
        const int64_t big = INT64_C(1) << 31;
        if (blk[d] <= 0 || dil <= 0 || st <= 0 || pb < 0 || pe < 0 || img[d] < 0 || blk[d] > big || dil > big ||
            st > big || pb > big || pe > big || img[d] > (INT64_C(1) << 40))
            return cpu_fail(err, KILN_ERR_SHAPE, "block_shape, dilations, strides, pads or image_shape are out of range");
        int64_t span = dil * (blk[d] - 1) + 1;
        nb[d] = (img[d] + pb + pe - span) / st + 1;
        if (img[d] + pb + pe < span) return cpu_fail(err, KILN_ERR_SHAPE, "the block does not fit the padded image");
        K *= blk[d], L *= nb[d];
    }
    if (x->dims[1] % K || x->dims[2] != L)
        return cpu_fail(err, KILN_ERR_SHAPE, "input must be (N, C * %lld, %lld), not (%lld, %lld, %lld)", (long long)K, (long long)L,
                        (long long)x->dims[0], (long long)x->dims[1], (long long)x->dims[2]);
    int64_t N = x->dims[0], C = x->dims[1] / K, isz = 1, ys[KILN_MAX_RANK];
    for (int64_t d = 0; d < nd; d++) isz *= img[d];
    cpu_strides(img, (int32_t)nd, ys);
    double *acc = ctx->host->scratch(ctx, (size_t)(isz + 1) * sizeof(double));
    if (!acc) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++) {
            memset(acc, 0, (size_t)isz * sizeof(double));
            int64_t kk[KILN_MAX_RANK] = {0};
            for (int64_t kf = 0; kf < K; kf++) {
                int64_t ll[KILN_MAX_RANK] = {0};
                const int64_t row = ((n * C + c) * K + kf) * L;
                for (int64_t lf = 0; lf < L; lf++) {
                    int64_t off = 0;
                    for (int64_t d = 0; d < nd && off >= 0; d++) {
                        int64_t pos = ll[d] * (k->n_str ? k->str[d] : 1) - (k->n_pads ? k->pads[d] : 0) +
                                      kk[d] * (k->n_dil ? k->dil[d] : 1);
                        off = pos < 0 || pos >= img[d] ? -1 : off + pos * ys[d];
                    }
                    if (off >= 0) acc[off] += cpu_load_f64(x->data, x->dtype, row + lf);
                    for (int64_t d = nd - 1; d >= 0; d--) {
                        if (++ll[d] < nb[d]) break;
                        ll[d] = 0;
                    }
                }
                for (int64_t d = nd - 1; d >= 0; d--) {
                    if (++kk[d] < blk[d]) break;
                    kk[d] = 0;
                }
            }
            for (int64_t i = 0; i < isz; i++) cpu_store_f64(y->data, y->dtype, (n * C + c) * isz + i, acc[i]);
        }
    return KILN_OK;
}

kiln_status kiln_cpu_col2im(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (!cpu_elem_numeric(dt) || dt == KILN_DTYPE_BOOL)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Col2Im is not implemented for %s", cpu_dtype_name(dt));
    uint32_t nd, np, ns;
    const int64_t *dil = cpu_attr_ints(n, "dilations", &nd), *pads = cpu_attr_ints(n, "pads", &np), *str = cpu_attr_ints(n, "strides", &ns);
    if (nd > KILN_MAX_RANK || np > 2 * KILN_MAX_RANK || ns > KILN_MAX_RANK)
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "Col2Im has too many dilations, pads or strides");
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(col2im_kernel), col2im_compute, out, err));
    col2im_kernel *k = (col2im_kernel *)*out;
    k->n_dil = nd, k->n_pads = np, k->n_str = ns;
    if (nd) memcpy(k->dil, dil, nd * sizeof(int64_t));
    if (np) memcpy(k->pads, pads, np * sizeof(int64_t));
    if (ns) memcpy(k->str, str, ns * sizeof(int64_t));
    return KILN_OK;
}
