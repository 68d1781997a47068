/* SPDX-License-Identifier: MIT */
/* Conv (float32; float16, bfloat16 and double through float32), any rank, groups, dilations,
 * strides, pads, auto_pad, on the packed GEMM (docs/kernels.md): constant float32 weights are
 * packed once per group when the kernel is created (the A side, MR output channels per panel);
 * 1x1 stride-1 convs multiply the NCHW activations in place, others through im2col; the bias and
 * the fused activation/residual (conv.h) run in the GEMM's epilogue. Depthwise 2-D convs by a
 * direct loop (3x3 with nine taps per output). */
#include <string.h>

#include "kernels/f32-gemm/f32-gemm.h"
#include "providers/cpu/cpu_op.h"
#include "providers/cpu/ops/conv.h"
#include "providers/cpu/gemm_parallel.h"
#include "providers/cpu/ops/f32_io.h"
#include "providers/cpu/ops/window.h"

typedef struct conv_kernel {
    cpu_kernel base;
    cpu_window_attrs wa;
    int64_t group;
    int32_t act; /* kiln_act applied last (fused ops) */
    float p0, p1;
    int32_t residual_input; /* input index of a residual of Y's shape added before act; -1: none */
    kiln_f32_packed *packed; /* one per group when the weights were constant float32; NULL otherwise */
    int64_t packed_dims[KILN_MAX_RANK]; /* the weight shape they were packed from */
} conv_kernel;

static void conv_cleanup(cpu_kernel *base) {
    conv_kernel *k = (conv_kernel *)base;
    if (!k->packed) return;
    for (int64_t g = 0; g < k->group; g++) cpu_free(base, k->packed[g].data);
    cpu_free(base, k->packed);
    k->packed = NULL;
}

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

    const kiln_value_desc *r = k->residual_input >= 0 ? cpu_in(ctx, (uint32_t)k->residual_input) : NULL;
    if (r && (r->rank != y->rank || r->count != y->count))
        return cpu_fail(err, KILN_ERR_SHAPE, "the residual input must have the output's shape");
    const float *xd = f32_view(ctx, x), *wd = wt->data ? f32_view(ctx, wt) : NULL, *bd = b ? f32_view(ctx, b) : NULL;
    const float *rd = r ? f32_view(ctx, r) : NULL;
    float *yd = f32_out(ctx, y);
    if (!xd || (!wd && !k->packed) || (b && !bd) || (r && !rd) || !yd)
        return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for Conv buffers");

    if (w.sp == 2 && cg == 1 && mg == 1) {
        dw_job j = {&w, xd, wd, bd, yd, c, NULL};
        if (w.k[0] == 3 && w.k[1] == 3 && w.d[0] == 1 && w.d[1] == 1) {
            float *zeros = ctx->host->scratch(ctx, (size_t)(w.in[1] + 3) * sizeof(float));
            if (!zeros) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for Conv buffers");
            memset(zeros, 0, (size_t)(w.in[1] + 3) * sizeof(float));
            j.zeros = zeros;
        }
        if (!wd) return cpu_fail(err, KILN_ERR_INTERNAL, "depthwise Conv weights were released");
        cpu_parallel_for(ctx, (size_t)(n * c), cpu_grain((uint64_t)w.out_size * (uint64_t)w.k_size), dw_range, &j);
        if (rd)
            for (uint64_t e = 0; e < y->count; e++) yd[e] += rd[e];
        if (k->act != KILN_ACT_NONE) kiln_f32_vact((size_t)y->count, yd, yd, k->act, k->p0, k->p1);
        f32_commit(y, yd);
        return KILN_OK;
    }

    int direct = 1;
    for (int32_t i = 0; i < w.sp; i++)
        if (w.k[i] != 1 || w.s[i] != 1 || w.pb[i] || w.pe[i] || w.in[i] != w.out[i]) direct = 0;
    int64_t rows = cpu_mul_size(cg, w.k_size), col_n = cpu_mul_size(rows, w.out_size);
    if (rows < 0 || col_n < 0 || (uint64_t)col_n > SIZE_MAX / sizeof(float))
        return cpu_fail(err, KILN_ERR_SHAPE, "Conv im2col buffer is too large");
    int use_packed = k->packed != NULL;
    for (int32_t i = 0; use_packed && i < wt->rank; i++)
        if (wt->dims[i] != k->packed_dims[i]) use_packed = 0;
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
            /* Y[mg x pixels] = W[mg x rows] . X'[rows x pixels]: the weights are the packed A side,
             * the activations (in place, or im2col's columns) are read by rows of B. */
            cpu_f32_operand a = {wd ? wd + gi * mg * rows : NULL, (size_t)rows, 0, use_packed ? &k->packed[gi] : NULL};
            cpu_f32_operand bo = {bmat, (size_t)w.out_size, 0, NULL};
            kiln_f32_epilogue ep = {bd ? bd + gi * mg : NULL, 1, rd ? rd + (i * m + gi * mg) * w.out_size : NULL,
                                    (size_t)w.out_size, k->act, k->p0, k->p1};
            KILN_CPU_TRY(kiln_cpu_sgemm(ctx, (size_t)mg, (size_t)w.out_size, (size_t)rows, 1.0f, &a, &bo, yg,
                                        (size_t)w.out_size, 0, &ep, err));
        }
    }
    f32_commit(y, yd);
    return KILN_OK;
}

/* Packs constant float32 weights once per group (the A side of the GEMM); depthwise convs keep
 * reading the original. */
static kiln_status conv_prepack(conv_kernel *k, const cpu_node *n, kiln_error *err) {
    kiln_value_info wi = cpu_input_info(n, 1);
    const kiln_value_desc *wc = wi.constant;
    if (!wc || wc->dtype != KILN_DTYPE_FLOAT || wc->rank < 3 || !wc->data) return KILN_OK;
    int64_t mg = wc->dims[0] / k->group, rows = 1;
    for (int32_t i = 1; i < wc->rank; i++) rows = cpu_mul_size(rows, wc->dims[i]);
    if (wc->dims[0] % k->group || rows <= 0 || mg <= 0) return KILN_OK; /* compute reports the error */
    if (wc->dims[1] == 1 && mg == 1 && wc->rank == 4) return KILN_OK;    /* depthwise: own kernel */
    k->packed = cpu_alloc(&k->base, sizeof(kiln_f32_packed) * (size_t)k->group);
    if (!k->packed) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory packing Conv weights");
    memset(k->packed, 0, sizeof(kiln_f32_packed) * (size_t)k->group);
    for (int64_t g = 0; g < k->group; g++)
        KILN_CPU_TRY(kiln_cpu_pack_weight(k->base.host, k->base.host_ctx, KILN_PACKED_A, (size_t)mg, (size_t)rows,
                                          (const float *)wc->data + g * mg * rows, (size_t)rows, 0, 1.0f, &k->packed[g],
                                          err));
    for (int32_t i = 0; i < wc->rank; i++) k->packed_dims[i] = wc->dims[i];
    return KILN_OK;
}

kiln_status kiln_cpu_conv_create(const cpu_node *n, int32_t act, float p0, float p1, int32_t residual_input,
                                 cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (!f32_io_supported(dt) || cpu_input_dtype(n, 1) != dt || (cpu_input_dtype(n, 2) && cpu_input_dtype(n, 2) != dt))
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Conv is not implemented for %s (float, float16, bfloat16, double only)",
                        cpu_dtype_name(dt));
    if (act < 0 || act >= KILN_ACT_COUNT) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "unknown fused activation %d", (int)act);
    cpu_window_attrs wa;
    KILN_CPU_TRY(cpu_window_read(n, &wa, err));
    int64_t group = cpu_attr_int(n, "group", 1);
    if (group < 1 || group > CPU_WINDOW_MAX) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "group %lld is out of range", (long long)group);
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(conv_kernel), conv_compute, out, err));
    conv_kernel *k = (conv_kernel *)*out;
    k->base.cleanup = conv_cleanup;
    k->wa = wa;
    k->group = group;
    k->act = act;
    k->p0 = p0;
    k->p1 = p1;
    k->residual_input = residual_input;
    kiln_status st = conv_prepack(k, n, err);
    if (st != KILN_OK) {
        k->base.abi.release(&k->base.abi);
        *out = NULL;
    }
    return st;
}

kiln_status kiln_cpu_conv(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    return kiln_cpu_conv_create(n, KILN_ACT_NONE, 0.0f, 0.0f, -1, out, err);
}
