/* SPDX-License-Identifier: MIT */
/* Conv (float32, any number of spatial axes, groups, dilations, strides, pads, auto_pad) as
 * im2col + GEMM per image and group. A 1x1, stride-1, unpadded conv skips im2col. */
#include <string.h>

#include "kernels/gemm/gemm.h"
#include "providers/cpu/cpu_op.h"
#include "providers/cpu/gemm_parallel.h"
#include "providers/cpu/ops/window.h"

typedef struct conv_kernel {
    cpu_kernel base;
    cpu_window_attrs wa;
    int64_t group;
} conv_kernel;

/* Unfolds one group of one image into col[(c, k...)][(o...)]: rows are (channel, kernel
 * offset), columns are output positions; pixels in the padding read as 0. */
static void im2col(const float *x, int64_t channels, const cpu_window *w, int64_t out_size, float *col) {
    int32_t sp = w->sp;
    int64_t ksize = 1, in_size = 1;
    for (int32_t i = 0; i < sp; i++) ksize *= w->k[i], in_size *= w->in[i];
    int64_t kidx[KILN_MAX_RANK], oidx[KILN_MAX_RANK];
    for (int64_t c = 0; c < channels; c++) {
        const float *xc = x + c * in_size;
        memset(kidx, 0, sizeof(kidx));
        for (int64_t kk = 0; kk < ksize; kk++) {
            float *row = col + (c * ksize + kk) * out_size;
            memset(oidx, 0, sizeof(oidx));
            for (int64_t o = 0; o < out_size; o++) {
                int64_t off = 0;
                int inside = 1;
                for (int32_t i = 0; i < sp; i++) {
                    int64_t p = oidx[i] * w->s[i] - w->pb[i] + kidx[i] * w->d[i];
                    if (p < 0 || p >= w->in[i]) { inside = 0; break; }
                    off = off * w->in[i] + p;
                }
                row[o] = inside ? xc[off] : 0.0f;
                for (int32_t i = sp - 1; i >= 0; i--) {
                    if (++oidx[i] < w->out[i]) break;
                    oidx[i] = 0;
                }
            }
            for (int32_t i = sp - 1; i >= 0; i--) {
                if (++kidx[i] < w->k[i]) break;
                kidx[i] = 0;
            }
        }
    }
}

static kiln_status conv_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const conv_kernel *k = (const conv_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0), *wt = cpu_in(ctx, 1), *b = cpu_in(ctx, 2);
    kiln_value_desc *y = ctx->outputs[0];
    cpu_window w;
    KILN_CPU_TRY(cpu_window_resolve(&k->wa, x, y, wt->dims + 2, &w, err));
    int64_t g = k->group, n = x->dims[0], c = x->dims[1], m = wt->dims[0];
    int64_t cg = c / g, mg = m / g;
    if (b && (b->rank != 1 || b->dims[0] != m)) return cpu_fail(err, KILN_ERR_SHAPE, "bias must have %lld values", (long long)m);
    int64_t ksize = 1, in_size = 1, out_size = 1;
    for (int32_t i = 0; i < w.sp; i++) {
        ksize *= w.k[i], in_size *= w.in[i], out_size *= w.out[i];
        if (w.k[i] != wt->dims[2 + i])
            return cpu_fail(err, KILN_ERR_SHAPE, "kernel_shape does not match the weights");
    }
    int direct = 1;
    for (int32_t i = 0; i < w.sp; i++)
        if (w.k[i] != 1 || w.s[i] != 1 || w.pb[i] || w.pe[i]) direct = 0;
    float *col = NULL;
    if (!direct && out_size) {
        col = ctx->host->scratch(ctx, (size_t)(cg * ksize * out_size) * sizeof(float));
        if (!col) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for the im2col buffer");
    }
    const float *xd = x->data, *wd = wt->data;
    float *yd = y->data;
    for (int64_t i = 0; i < n; i++) {
        for (int64_t gi = 0; gi < g; gi++) {
            const float *xg = xd + (i * c + gi * cg) * in_size;
            float *yg = yd + (i * m + gi * mg) * out_size;
            const float *bmat = xg;
            if (!direct) {
                im2col(xg, cg, &w, out_size, col);
                bmat = col;
            }
            kiln_cpu_f32_gemm(ctx, 0, 0, (size_t)mg, (size_t)out_size, (size_t)(cg * ksize), 1.0f, wd + gi * mg * cg * ksize,
                          (size_t)(cg * ksize), bmat, (size_t)out_size, 0.0f, yg, (size_t)out_size);
            if (b) {
                const float *bd = (const float *)b->data + gi * mg;
                for (int64_t oc = 0; oc < mg; oc++)
                    for (int64_t p = 0; p < out_size; p++) yg[oc * out_size + p] += bd[oc];
            }
        }
    }
    return KILN_OK;
}

kiln_status kiln_cpu_conv(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (dt != KILN_DTYPE_FLOAT || cpu_input_dtype(n, 1) != KILN_DTYPE_FLOAT)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Conv is implemented for float only, not %s", cpu_dtype_name(dt));
    cpu_window_attrs wa;
    KILN_CPU_TRY(cpu_window_read(n, &wa, err));
    int64_t group = cpu_attr_int(n, "group", 1);
    if (group < 1) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "group must be positive");
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(conv_kernel), conv_compute, out, err));
    conv_kernel *k = (conv_kernel *)*out;
    k->wa = wa;
    k->group = group;
    return KILN_OK;
}
