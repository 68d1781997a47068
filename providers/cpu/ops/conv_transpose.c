/* SPDX-License-Identifier: MIT */
/* ConvTranspose: per image and group, W^T · X (a GEMM) gives every (channel, tap) contribution of
 * every input pixel and col2im adds them into the output; pads from the attributes, output_shape
 * or auto_pad (before opset 11 SAME_UPPER put the odd pad first). float16/bfloat16/double via f32. */
#include <string.h>

#include "kernels/gemm/gemm.h"
#include "providers/cpu/cpu_op.h"
#include "providers/cpu/gemm_parallel.h"
#include "providers/cpu/ops/f32_io.h"
#include "providers/cpu/ops/window.h"

typedef struct convt_kernel {
    cpu_kernel base;
    cpu_window_attrs wa;
    int64_t group;
    int32_t n_out_pad, n_out_shape;
    int64_t out_pad[KILN_MAX_RANK];
    int old_same; /* opset < 11 */
} convt_kernel;

static int64_t floor_half(int64_t v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); }

/* Adds col [(m, k...)][in positions] into y [m][out positions]. */
static void col2im(const float *col, int64_t channels, const cpu_window *w, const int64_t *head, float *y) {
    int32_t sp = w->sp;
    if (sp == 2) {
        for (int64_t c = 0; c < channels; c++) {
            float *yc = y + c * w->out_size;
            for (int64_t kh = 0; kh < w->k[0]; kh++)
                for (int64_t kw = 0; kw < w->k[1]; kw++) {
                    const float *row = col + ((c * w->k[0] + kh) * w->k[1] + kw) * w->in_size;
                    for (int64_t ih = 0; ih < w->in[0]; ih++) {
                        int64_t oh = ih * w->s[0] + kh * w->d[0] - head[0];
                        if (oh < 0 || oh >= w->out[0]) continue;
                        float *yr = yc + oh * w->out[1];
                        const float *cr = row + ih * w->in[1];
                        int64_t x0 = kw * w->d[1] - head[1];
                        for (int64_t iw = 0; iw < w->in[1]; iw++) {
                            int64_t ow = iw * w->s[1] + x0;
                            if (ow >= 0 && ow < w->out[1]) yr[ow] += cr[iw];
                        }
                    }
                }
        }
        return;
    }
    int64_t kidx[KILN_MAX_RANK], iidx[KILN_MAX_RANK];
    for (int64_t c = 0; c < channels; c++) {
        float *yc = y + c * w->out_size;
        memset(kidx, 0, sizeof(kidx));
        for (int64_t kk = 0; kk < w->k_size; kk++) {
            const float *row = col + (c * w->k_size + kk) * w->in_size;
            memset(iidx, 0, sizeof(iidx));
            for (int64_t i = 0; i < w->in_size; i++) {
                int64_t off = 0;
                int inside = 1;
                for (int32_t a = 0; a < sp; a++) {
                    int64_t o = iidx[a] * w->s[a] + kidx[a] * w->d[a] - head[a];
                    if (o < 0 || o >= w->out[a]) {
                        inside = 0;
                        break;
                    }
                    off = off * w->out[a] + o;
                }
                if (inside) yc[off] += row[i];
                for (int32_t a = sp - 1; a >= 0; a--) {
                    if (++iidx[a] < w->in[a]) break;
                    iidx[a] = 0;
                }
            }
            for (int32_t a = sp - 1; a >= 0; a--) {
                if (++kidx[a] < w->k[a]) break;
                kidx[a] = 0;
            }
        }
    }
}

/* Output channels [begin, end) of one image and group: bias, then the columns added in. */
typedef struct col2im_job {
    const float *col, *bias; /* bias: this group's mg values, or NULL */
    const cpu_window *w;
    const int64_t *head;
    float *y;
} col2im_job;

static void col2im_channels(void *arg, size_t begin, size_t end) {
    const col2im_job *j = arg;
    const cpu_window *w = j->w;
    for (size_t oc = begin; oc < end; oc++) {
        float bv = j->bias ? j->bias[oc] : 0.0f, *yc = j->y + (int64_t)oc * w->out_size;
        for (int64_t p = 0; p < w->out_size; p++) yc[p] = bv;
    }
    if (j->col) col2im(j->col + (int64_t)begin * w->k_size * w->in_size, (int64_t)(end - begin), w, j->head,
                       j->y + (int64_t)begin * w->out_size);
}

static kiln_status convt_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const convt_kernel *k = (const convt_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0), *wt = cpu_in(ctx, 1), *b = cpu_in(ctx, 2);
    kiln_value_desc *y = ctx->outputs[0];
    int32_t sp = x->rank - 2;
    if (sp < 1 || wt->rank != x->rank || y->rank != x->rank)
        return cpu_fail(err, KILN_ERR_SHAPE, "X, W and Y must have the same rank (3 or more)");
    int64_t g = k->group, n = x->dims[0], c = x->dims[1], mg = wt->dims[1], m = cpu_mul_size(mg, g);
    if (m < 0 || c != wt->dims[0] || c % g || y->dims[1] != m)
        return cpu_fail(err, KILN_ERR_SHAPE, "channels (input %lld, weights %lldx%lld) do not fit group %lld", (long long)c,
                        (long long)wt->dims[0], (long long)mg, (long long)g);
    if (b && (b->rank != 1 || b->dims[0] != m)) return cpu_fail(err, KILN_ERR_SHAPE, "bias must have %lld values", (long long)m);
    const cpu_window_attrs *a = &k->wa;
    if ((a->n_kernel && a->n_kernel != sp) || (a->n_strides && a->n_strides != sp) || (a->n_dilations && a->n_dilations != sp) ||
        (a->n_pads && a->n_pads != 2 * sp) || (k->n_out_pad && k->n_out_pad != sp))
        return cpu_fail(err, KILN_ERR_SHAPE, "window attributes do not match %d spatial axes", (int)sp);
    cpu_window w;
    w.sp = sp;
    w.in_size = w.out_size = w.k_size = 1;
    int64_t head[KILN_MAX_RANK];
    for (int32_t i = 0; i < sp; i++) {
        w.in[i] = x->dims[2 + i];
        w.out[i] = y->dims[2 + i];
        w.k[i] = wt->dims[2 + i];
        if (a->n_kernel && a->kernel[i] != w.k[i]) return cpu_fail(err, KILN_ERR_SHAPE, "kernel_shape does not match the weights");
        w.s[i] = a->n_strides ? a->strides[i] : 1;
        w.d[i] = a->n_dilations ? a->dilations[i] : 1;
        int64_t op = k->n_out_pad ? k->out_pad[i] : 0;
        if (k->n_out_shape || a->auto_pad == PAD_SAME_UPPER || a->auto_pad == PAD_SAME_LOWER) {
            int64_t total = w.s[i] * (w.in[i] - 1) + op + (w.k[i] - 1) * w.d[i] + 1 - w.out[i];
            int upper_rule = (a->auto_pad == PAD_SAME_UPPER) != k->old_same;
            head[i] = upper_rule ? floor_half(total) : total - floor_half(total);
        } else {
            head[i] = a->auto_pad == PAD_VALID || !a->n_pads ? 0 : a->pads[i];
        }
        w.in_size = cpu_mul_size(w.in_size, w.in[i]);
        w.out_size = cpu_mul_size(w.out_size, w.out[i]);
        w.k_size = cpu_mul_size(w.k_size, w.k[i]);
    }
    if (w.in_size < 0 || w.out_size < 0 || w.k_size < 0) return cpu_fail(err, KILN_ERR_SHAPE, "sizes overflow");
    if (y->count == 0) return KILN_OK;

    int64_t cg = c / g, rows = cpu_mul_size(mg, w.k_size), col_n = cpu_mul_size(rows, w.in_size);
    if (rows < 0 || col_n < 0 || (uint64_t)col_n > SIZE_MAX / sizeof(float))
        return cpu_fail(err, KILN_ERR_SHAPE, "ConvTranspose column buffer is too large");
    const float *xd = f32_view(ctx, x), *wd = f32_view(ctx, wt), *bd = b ? f32_view(ctx, b) : NULL;
    float *yd = f32_out(ctx, y);
    float *col = ctx->host->scratch(ctx, (size_t)col_n * sizeof(float) + 1);
    if (!xd || !wd || (b && !bd) || !yd || !col) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for ConvTranspose buffers");
    for (int64_t i = 0; i < n; i++) {
        for (int64_t gi = 0; gi < g; gi++) {
            float *yg = yd + (i * m + gi * mg) * w.out_size;
            int has_cols = cg > 0 && w.in_size > 0;
            /* col [mg*k][in] = W_g^T [mg*k][cg] · X_g [cg][in] */
            if (has_cols)
                kiln_cpu_f32_gemm(ctx, 1, 0, (size_t)rows, (size_t)w.in_size, (size_t)cg, 1.0f, wd + gi * cg * rows,
                                  (size_t)rows, xd + (i * c + gi * cg) * w.in_size, (size_t)w.in_size, 0.0f, col,
                                  (size_t)w.in_size);
            col2im_job cj = {has_cols ? col : NULL, bd ? bd + gi * mg : NULL, &w, head, yg};
            cpu_parallel_for(ctx, (size_t)mg, cpu_grain((uint64_t)w.out_size + (uint64_t)w.k_size * (uint64_t)w.in_size),
                             col2im_channels, &cj);
        }
    }
    f32_commit(y, yd);
    return KILN_OK;
}

kiln_status kiln_cpu_conv_transpose(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (!f32_io_supported(dt) || cpu_input_dtype(n, 1) != dt || (cpu_input_dtype(n, 2) && cpu_input_dtype(n, 2) != dt))
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "ConvTranspose is not implemented for %s", cpu_dtype_name(dt));
    cpu_window_attrs wa;
    KILN_CPU_TRY(cpu_window_read(n, &wa, err));
    int64_t group = cpu_attr_int(n, "group", 1);
    if (group < 1 || group > CPU_WINDOW_MAX) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "group %lld is out of range", (long long)group);
    uint32_t n_op, n_os;
    const int64_t *op = cpu_attr_ints(n, "output_padding", &n_op);
    cpu_attr_ints(n, "output_shape", &n_os);
    if (n_op > KILN_MAX_RANK) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "output_padding has too many values");
    for (uint32_t i = 0; i < n_op; i++)
        if (op[i] < 0 || op[i] > CPU_WINDOW_MAX) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "output_padding is out of range");
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(convt_kernel), convt_compute, out, err));
    convt_kernel *k = (convt_kernel *)*out;
    k->wa = wa;
    k->group = group;
    k->n_out_pad = (int32_t)n_op;
    if (n_op) memcpy(k->out_pad, op, n_op * sizeof(int64_t));
    k->n_out_shape = (int32_t)n_os;
    k->old_same = n->opset < 11;
    return KILN_OK;
}
