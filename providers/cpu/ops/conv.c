/* SPDX-License-Identifier: MIT */
/* Conv (float32; float16, bfloat16 and double through float32), any rank, groups, dilations,
 * strides, pads, auto_pad: im2col + GEMM per image and group, 1x1 stride-1 convs without im2col,
 * depthwise 2-D convs by a direct loop (3x3 with nine taps per output). */
#include <string.h>

#include "kernels/gemm/gemm.h"
#include "providers/cpu/cpu_op.h"
#include "providers/cpu/gemm_parallel.h"
#include "providers/cpu/ops/f32_io.h"
#include "providers/cpu/ops/window.h"

typedef struct conv_kernel {
    cpu_kernel base;
    cpu_window_attrs wa;
    int64_t group;
} conv_kernel;

/* ---- depthwise 2-D: y[n, c] = x[n, c] (*) w[c] + b[c] ---- */

typedef struct dw_job {
    const cpu_window *w;
    const float *x, *wt, *b;
    float *y;
    int64_t channels;
    const float *zeros; /* a zero row of the input's width for the 3x3 path; NULL: general path */
} dw_job;

/* 3x3, dilation 1: each output is nine taps from three input rows (a row of zeros stands in for
 * rows in the padding); columns whose taps are all inside skip the bounds checks. */
static void dw3x3_plane(const cpu_window *w, const float *x, const float *k, float bias, const float *zeros, float *y) {
    int64_t ih_n = w->in[0], iw_n = w->in[1], ow_n = w->out[1], sw = w->s[1], pw = w->pb[1];
    /* interior: 0 <= ow*sw - pw and ow*sw - pw + 2 < iw_n */
    int64_t lo = pw <= 0 ? 0 : (pw + sw - 1) / sw, hi = iw_n - 3 + pw < 0 ? 0 : (iw_n - 3 + pw) / sw + 1;
    if (hi > ow_n) hi = ow_n;
    if (lo > hi) lo = hi;
    for (int64_t oh = 0; oh < w->out[0]; oh++) {
        const float *r[3];
        for (int a = 0; a < 3; a++) {
            int64_t ih = oh * w->s[0] - w->pb[0] + a;
            r[a] = ih >= 0 && ih < ih_n ? x + ih * iw_n : zeros;
        }
        float *yr = y + oh * ow_n;
        for (int64_t ow = 0; ow < ow_n; ow++) {
            if (ow == lo && lo < hi) {
                const float *r0 = r[0], *r1 = r[1], *r2 = r[2];
                for (int64_t o = lo; o < hi; o++) {
                    int64_t c = o * sw - pw;
                    yr[o] = bias + k[0] * r0[c] + k[1] * r0[c + 1] + k[2] * r0[c + 2] + k[3] * r1[c] + k[4] * r1[c + 1] +
                            k[5] * r1[c + 2] + k[6] * r2[c] + k[7] * r2[c + 1] + k[8] * r2[c + 2];
                }
                ow = hi - 1;
                continue;
            }
            float acc = bias;
            for (int a = 0; a < 3; a++)
                for (int b = 0; b < 3; b++) {
                    int64_t c = ow * sw - pw + b;
                    if (c >= 0 && c < iw_n) acc += k[a * 3 + b] * r[a][c];
                }
            yr[ow] = acc;
        }
    }
}

static void dw_range(void *arg, size_t begin, size_t end) {
    const dw_job *j = arg;
    const cpu_window *w = j->w;
    int64_t ih_n = w->in[0], iw_n = w->in[1], oh_n = w->out[0], ow_n = w->out[1];
    int64_t kh_n = w->k[0], kw_n = w->k[1], sh = w->s[0], sw = w->s[1], dh = w->d[0], dw = w->d[1];
    if (j->zeros) {
        for (size_t plane = begin; plane < end; plane++) {
            int64_t c = (int64_t)plane % j->channels;
            dw3x3_plane(w, j->x + plane * (size_t)(ih_n * iw_n), j->wt + c * 9, j->b ? j->b[c] : 0.0f, j->zeros,
                        j->y + plane * (size_t)(oh_n * ow_n));
        }
        return;
    }
    for (size_t plane = begin; plane < end; plane++) {
        int64_t c = (int64_t)plane % j->channels;
        const float *x = j->x + plane * (size_t)(ih_n * iw_n);
        const float *k = j->wt + c * kh_n * kw_n;
        float *y = j->y + plane * (size_t)(oh_n * ow_n);
        float bias = j->b ? j->b[c] : 0.0f;
        for (int64_t oh = 0; oh < oh_n; oh++) {
            float *yr = y + oh * ow_n;
            for (int64_t ow = 0; ow < ow_n; ow++) yr[ow] = bias;
            for (int64_t kh = 0; kh < kh_n; kh++) {
                int64_t ih = oh * sh - w->pb[0] + kh * dh;
                if (ih < 0 || ih >= ih_n) continue;
                const float *xr = x + ih * iw_n;
                for (int64_t kw = 0; kw < kw_n; kw++) {
                    float kv = k[kh * kw_n + kw];
                    int64_t x0 = kw * dw - w->pb[1];
                    int64_t lo = x0 >= 0 ? 0 : (-x0 + sw - 1) / sw;
                    int64_t hi = iw_n - x0 <= 0 ? 0 : (iw_n - x0 + sw - 1) / sw;
                    if (hi > ow_n) hi = ow_n;
                    if (sw == 1)
                        for (int64_t ow = lo; ow < hi; ow++) yr[ow] += kv * xr[x0 + ow];
                    else
                        for (int64_t ow = lo; ow < hi; ow++) yr[ow] += kv * xr[x0 + ow * sw];
                }
            }
        }
    }
}

/* ---- general: im2col + GEMM ---- */

static kiln_status conv_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const conv_kernel *k = (const conv_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0), *wt = cpu_in(ctx, 1), *b = cpu_in(ctx, 2);
    kiln_value_desc *y = ctx->outputs[0];
    if (wt->rank != x->rank) return cpu_fail(err, KILN_ERR_SHAPE, "weights have rank %d, input rank %d", (int)wt->rank, (int)x->rank);
    cpu_window w;
    KILN_CPU_TRY(cpu_window_resolve(&k->wa, x, y, wt->dims + 2, &w, err));
    int64_t g = k->group, n = x->dims[0], c = x->dims[1], m = wt->dims[0];
    if (c % g || m % g || wt->dims[1] != c / g || y->dims[1] != m)
        return cpu_fail(err, KILN_ERR_SHAPE, "channels (input %lld, weights %lldx%lld) do not fit group %lld", (long long)c,
                        (long long)m, (long long)wt->dims[1], (long long)g);
    int64_t cg = c / g, mg = m / g;
    if (b && (b->rank != 1 || b->dims[0] != m)) return cpu_fail(err, KILN_ERR_SHAPE, "bias must have %lld values", (long long)m);
    for (int32_t i = 0; i < w.sp; i++)
        if (w.k[i] != wt->dims[2 + i]) return cpu_fail(err, KILN_ERR_SHAPE, "kernel_shape does not match the weights");
    if (y->count == 0) return KILN_OK;

    const float *xd = f32_view(ctx, x), *wd = f32_view(ctx, wt), *bd = b ? f32_view(ctx, b) : NULL;
    float *yd = f32_out(ctx, y);
    if (!xd || !wd || (b && !bd) || !yd) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for Conv buffers");

    if (w.sp == 2 && cg == 1 && mg == 1) {
        dw_job j = {&w, xd, wd, bd, yd, c, NULL};
        if (w.k[0] == 3 && w.k[1] == 3 && w.d[0] == 1 && w.d[1] == 1) {
            float *zeros = ctx->host->scratch(ctx, (size_t)(w.in[1] + 3) * sizeof(float));
            if (!zeros) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for Conv buffers");
            memset(zeros, 0, (size_t)(w.in[1] + 3) * sizeof(float));
            j.zeros = zeros;
        }
        cpu_parallel_for(ctx, (size_t)(n * c), cpu_grain((uint64_t)w.out_size * (uint64_t)w.k_size), dw_range, &j);
        f32_commit(y, yd);
        return KILN_OK;
    }

    int direct = 1;
    for (int32_t i = 0; i < w.sp; i++)
        if (w.k[i] != 1 || w.s[i] != 1 || w.pb[i] || w.pe[i] || w.in[i] != w.out[i]) direct = 0;
    int64_t rows = cpu_mul_size(cg, w.k_size), col_n = cpu_mul_size(rows, w.out_size);
    if (rows < 0 || col_n < 0 || (uint64_t)col_n > SIZE_MAX / sizeof(float))
        return cpu_fail(err, KILN_ERR_SHAPE, "Conv im2col buffer is too large");
    float *col = NULL;
    if (!direct) {
        col = ctx->host->scratch(ctx, (size_t)col_n * sizeof(float) + 1);
        if (!col) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for the im2col buffer");
    }
    for (int64_t i = 0; i < n; i++) {
        for (int64_t gi = 0; gi < g; gi++) {
            const float *xg = xd + (i * c + gi * cg) * w.in_size;
            float *yg = yd + (i * m + gi * mg) * w.out_size;
            const float *bmat = xg;
            if (!direct) {
                kiln_cpu_im2col_f32(ctx, xg, cg, &w, 0.0f, col);
                bmat = col;
            }
            /* The bias goes in first and the GEMM accumulates onto it, tile by tile: one pass
             * over Y instead of the GEMM's clearing pass plus an add. */
            kiln_cpu_f32_gemm_bias(ctx, 0, 0, (size_t)mg, (size_t)w.out_size, (size_t)rows, wd + gi * mg * rows,
                                   (size_t)rows, bmat, (size_t)w.out_size, bd ? bd + gi * mg : NULL, yg,
                                   (size_t)w.out_size);
        }
    }
    f32_commit(y, yd);
    return KILN_OK;
}

kiln_status kiln_cpu_conv(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (!f32_io_supported(dt) || cpu_input_dtype(n, 1) != dt || (cpu_input_dtype(n, 2) && cpu_input_dtype(n, 2) != dt))
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Conv is not implemented for %s (float, float16, bfloat16, double only)",
                        cpu_dtype_name(dt));
    cpu_window_attrs wa;
    KILN_CPU_TRY(cpu_window_read(n, &wa, err));
    int64_t group = cpu_attr_int(n, "group", 1);
    if (group < 1 || group > CPU_WINDOW_MAX) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "group %lld is out of range", (long long)group);
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(conv_kernel), conv_compute, out, err));
    conv_kernel *k = (conv_kernel *)*out;
    k->wa = wa;
    k->group = group;
    return KILN_OK;
}
