/* SPDX-License-Identifier: MIT */
/* DeformConv (N-D, offset groups, mask): a deformable im2col sampling each tap at its place plus
 * a learned offset (multilinear, zero outside), scaled by the mask, then Conv's per-group GEMM;
 * float32, with float16, bfloat16 and double through float32. */
#include <math.h>
#include <string.h>

#include "kernels/gemm/gemm.h"
#include "providers/cpu/cpu_op.h"
#include "providers/cpu/gemm_parallel.h"
#include "providers/cpu/ops/f32_io.h"
#include "providers/cpu/ops/window.h"

typedef struct deform_kernel {
    cpu_kernel base;
    cpu_window_attrs wa;
    int64_t group, offset_group;
} deform_kernel;

/* Multilinear sample of `plane` (sp axes of sizes in[]) at fractional position p[]. */
static float sample(const float *plane, int32_t sp, const int64_t *in, const float *p) {
    int64_t lo[KILN_MAX_RANK];
    float t[KILN_MAX_RANK];
    for (int32_t i = 0; i < sp; i++) {
        /* far outside: nothing to interpolate (also keeps the int conversion in range) */
        if (!(p[i] > -2.0f && p[i] < (float)in[i] + 1.0f)) return 0.0f;
        float f = floorf(p[i]);
        lo[i] = (int64_t)f;
        t[i] = p[i] - f;
    }
    float acc = 0.0f;
    for (uint32_t corner = 0; corner < (1u << sp); corner++) {
        float wgt = 1.0f;
        int64_t off = 0;
        int inside = 1;
        for (int32_t i = 0; i < sp; i++) {
            int bit = (corner >> (sp - 1 - i)) & 1;
            int64_t q = lo[i] + bit;
            if (q < 0 || q >= in[i]) {
                inside = 0;
                break;
            }
            wgt *= bit ? t[i] : 1.0f - t[i];
            off = off * in[i] + q;
        }
        if (inside && wgt != 0.0f) acc += wgt * plane[off];
    }
    return acc;
}

static kiln_status deform_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const deform_kernel *k = (const deform_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0), *wt = cpu_in(ctx, 1), *offv = cpu_in(ctx, 2), *b = cpu_in(ctx, 3), *maskv = cpu_in(ctx, 4);
    kiln_value_desc *y = ctx->outputs[0];
    if (wt->rank != x->rank) return cpu_fail(err, KILN_ERR_SHAPE, "weights have rank %d, input rank %d", (int)wt->rank, (int)x->rank);
    cpu_window w;
    KILN_CPU_TRY(cpu_window_resolve(&k->wa, x, y, wt->dims + 2, &w, err));
    int64_t g = k->group, og = k->offset_group, n = x->dims[0], c = x->dims[1], m = wt->dims[0];
    if (c % g || m % g || c % og || wt->dims[1] != c / g || y->dims[1] != m)
        return cpu_fail(err, KILN_ERR_SHAPE, "channels (input %lld, weights %lld) do not fit group %lld and offset_group %lld", (long long)c,
                        (long long)m, (long long)g, (long long)og);
    for (int32_t i = 0; i < w.sp; i++)
        if (w.k[i] != wt->dims[2 + i]) return cpu_fail(err, KILN_ERR_SHAPE, "kernel_shape does not match the weights");
    if (offv->rank != x->rank || offv->dims[0] != n || offv->dims[1] != og * w.k_size * w.sp)
        return cpu_fail(err, KILN_ERR_SHAPE, "offset must be [N, %lld, output...]", (long long)(og * w.k_size * w.sp));
    if (maskv && (maskv->rank != x->rank || maskv->dims[0] != n || maskv->dims[1] != og * w.k_size))
        return cpu_fail(err, KILN_ERR_SHAPE, "mask must be [N, %lld, output...]", (long long)(og * w.k_size));
    for (int32_t i = 0; i < w.sp; i++)
        if (offv->dims[2 + i] != w.out[i] || (maskv && maskv->dims[2 + i] != w.out[i]))
            return cpu_fail(err, KILN_ERR_SHAPE, "offset and mask must have the output's spatial shape");
    if (b && (b->rank != 1 || b->dims[0] != m)) return cpu_fail(err, KILN_ERR_SHAPE, "bias must have %lld values", (long long)m);
    if (y->count == 0) return KILN_OK;
    int64_t cg = c / g, mg = m / g, cpo = c / og, rows = cpu_mul_size(cg, w.k_size), col_n = cpu_mul_size(rows, w.out_size);
    if (rows < 0 || col_n < 0 || (uint64_t)col_n > SIZE_MAX / sizeof(float)) return cpu_fail(err, KILN_ERR_SHAPE, "DeformConv buffers are too large");
    const float *xd = f32_view(ctx, x), *wd = f32_view(ctx, wt), *od = f32_view(ctx, offv);
    const float *md = maskv ? f32_view(ctx, maskv) : NULL, *bd = b ? f32_view(ctx, b) : NULL;
    float *yd = f32_out(ctx, y), *col = ctx->host->scratch(ctx, (size_t)col_n * sizeof(float) + 1);
    if (!xd || !wd || !od || (maskv && !md) || (b && !bd) || !yd || !col) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for DeformConv");
    for (int64_t bi = 0; bi < n; bi++)
        for (int64_t gi = 0; gi < g; gi++) {
            /* deformable im2col: col[(c, tap)][o] */
            for (int64_t ci = 0; ci < cg; ci++) {
                int64_t cabs = gi * cg + ci, ogi = cabs / cpo;
                const float *plane = xd + (bi * c + cabs) * w.in_size;
                int64_t kidx[KILN_MAX_RANK] = {0};
                for (int64_t tap = 0; tap < w.k_size; tap++) {
                    float *row = col + (ci * w.k_size + tap) * w.out_size;
                    const float *ob = od + ((bi * og + ogi) * w.k_size + tap) * w.sp * w.out_size;
                    const float *mb = md ? md + ((bi * og + ogi) * w.k_size + tap) * w.out_size : NULL;
                    int64_t oidx[KILN_MAX_RANK] = {0};
                    for (int64_t o = 0; o < w.out_size; o++) {
                        float p[KILN_MAX_RANK];
                        for (int32_t a = 0; a < w.sp; a++)
                            p[a] = (float)(oidx[a] * w.s[a] - w.pb[a] + kidx[a] * w.d[a]) + ob[a * w.out_size + o];
                        float v = sample(plane, w.sp, w.in, p);
                        row[o] = mb ? v * mb[o] : v;
                        for (int32_t a = w.sp - 1; a >= 0; a--) {
                            if (++oidx[a] < w.out[a]) break;
                            oidx[a] = 0;
                        }
                    }
                    for (int32_t a = w.sp - 1; a >= 0; a--) {
                        if (++kidx[a] < w.k[a]) break;
                        kidx[a] = 0;
                    }
                }
            }
            float *yg = yd + (bi * m + gi * mg) * w.out_size;
            kiln_cpu_f32_gemm(ctx, 0, 0, (size_t)mg, (size_t)w.out_size, (size_t)rows, 1.0f, wd + gi * mg * rows, (size_t)rows, col,
                          (size_t)w.out_size, 0.0f, yg, (size_t)w.out_size);
            if (bd)
                for (int64_t oc = 0; oc < mg; oc++)
                    for (int64_t p = 0; p < w.out_size; p++) yg[oc * w.out_size + p] += bd[gi * mg + oc];
        }
    f32_commit(y, yd);
    return KILN_OK;
}

kiln_status kiln_cpu_deform_conv(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    for (uint32_t i = 1; i < 5; i++)
        if (cpu_input_dtype(n, i) && cpu_input_dtype(n, i) != dt)
            return cpu_fail(err, KILN_ERR_INVALID_MODEL, "DeformConv inputs must share one type");
    if (!f32_io_supported(dt)) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "DeformConv is not implemented for %s", cpu_dtype_name(dt));
    cpu_window_attrs wa;
    KILN_CPU_TRY(cpu_window_read(n, &wa, err));
    int64_t group = cpu_attr_int(n, "group", 1), og = cpu_attr_int(n, "offset_group", 1);
    if (group < 1 || og < 1 || group > CPU_WINDOW_MAX || og > CPU_WINDOW_MAX) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "group and offset_group must be in [1, 2^30]");
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(deform_kernel), deform_compute, out, err));
    deform_kernel *k = (deform_kernel *)*out;
    k->wa = wa;
    k->group = group;
    k->offset_group = og;
    return KILN_OK;
}
