/* SPDX-License-Identifier: MIT */
/* com.microsoft QLinearAveragePool and QLinearGlobalAveragePool, u8 and s8, NCHW or channels
 * last (docs/int8.md §5), with onnxruntime's arithmetic:
 *  - global average (and an average pool whose window is the whole unpadded image): exact int32
 *    sums, then y = sat(rne(float(sum - x_zp * S) * (x_scale / (y_scale * S))) + y_zp), S the
 *    image size; like onnxruntime, refused when S >= 2^24 or the multiplier is outside
 *    [2^-32, 256);
 *  - average pool: every x dequantized to x_scale * (x - x_zp) in float, the window summed in
 *    float in input order (rows, then columns), divided by the count (the kernel size with
 *    count_include_pad, else the pixels inside the image), then y = sat(rne(v / y_scale + y_zp)).
 * Channels-last loops run over the channels innermost, so they vectorize. */
#include <string.h>

#include "providers/cpu/ops/qlinear_ms.h"
#include "providers/cpu/ops/window.h"

static int is8(int32_t dt) { return dt == KILN_DTYPE_UINT8 || dt == KILN_DTYPE_INT8; }

/* ---- global average ---- */

typedef struct gavg_job {
    int32_t dt;
    const uint8_t *x;
    uint8_t *y;
    int64_t image, channels; /* channels: the inner stride in channels-last; 0 for NCHW */
    int32_t bias, zy, lo, hi;
    float mult;
} gavg_job;

static inline uint8_t gavg_out(const gavg_job *j, int32_t sum) {
    float v = (float)(int32_t)((uint32_t)sum + (uint32_t)j->bias) * j->mult;
    v = v > (float)(j->lo - j->zy) ? v : (float)(j->lo - j->zy);
    v = v < (float)(j->hi - j->zy) ? v : (float)(j->hi - j->zy);
    return (uint8_t)((int32_t)q_rne(v) + j->zy);
}

/* NCHW: planes [begin, end) of `image` bytes each. */
static void gavg_nchw(void *arg, size_t begin, size_t end) {
    const gavg_job *j = arg;
    for (size_t p = begin; p < end; p++) {
        int32_t sum = 0;
        if (j->dt == KILN_DTYPE_UINT8) {
            const uint8_t *x = j->x + p * (size_t)j->image;
            for (int64_t i = 0; i < j->image; i++) sum += x[i];
        } else {
            const int8_t *x = (const int8_t *)j->x + p * (size_t)j->image;
            for (int64_t i = 0; i < j->image; i++) sum += x[i];
        }
        j->y[p] = gavg_out(j, sum);
    }
}

/* Channels last: batches [begin, end), sums per channel in a stack block of channels. */
static void gavg_nhwc(void *arg, size_t begin, size_t end) {
    const gavg_job *j = arg;
    enum { CB = 256 };
    int32_t acc[CB];
    size_t cn = (size_t)j->channels;
    for (size_t b = begin; b < end; b++) {
        for (size_t c0 = 0; c0 < cn; c0 += CB) {
            size_t nc = cn - c0 < CB ? cn - c0 : CB;
            memset(acc, 0, nc * sizeof(int32_t));
            for (int64_t i = 0; i < j->image; i++) {
                size_t off = (b * (size_t)j->image + (size_t)i) * cn + c0;
                if (j->dt == KILN_DTYPE_UINT8) {
                    const uint8_t *x = j->x + off;
                    for (size_t c = 0; c < nc; c++) acc[c] += x[c];
                } else {
                    const int8_t *x = (const int8_t *)j->x + off;
                    for (size_t c = 0; c < nc; c++) acc[c] += x[c];
                }
            }
            for (size_t c = 0; c < nc; c++) j->y[b * cn + c0 + c] = gavg_out(j, acc[c]);
        }
    }
}

/* y (N x C results) from x: N batches of C channels over `image` pixels. */
static kiln_status gavg_run(kiln_kernel_ctx *ctx, int32_t dt, const void *x, void *y, int64_t batches, int64_t channels,
                            int64_t image, int channels_last, const qms_q *qx, const qms_q *qy, kiln_error *err) {
    float mult = qx->scale / (qy->scale * (float)image);
    if (image >= 0x1000000 || !(mult >= 0x1.0p-32f) || mult >= 256.0f)
        return cpu_fail(err, KILN_ERR_INVALID_MODEL,
                        "x_scale / (y_scale * %lld pixels) = %g is outside the range onnxruntime computes ([2^-32, 256), "
                        "fewer than 2^24 pixels)", (long long)image, (double)mult);
    gavg_job j = {dt, x, y, image, channels_last ? channels : 0, (int32_t)(-(int64_t)qx->zp * image), qy->zp, qy->lo, qy->hi, mult};
    if (batches * channels == 0) return KILN_OK;
    if (!channels_last || channels == 1) {
        cpu_parallel_for(ctx, (size_t)(batches * channels), cpu_grain((uint64_t)image), gavg_nchw, &j);
    } else {
        cpu_parallel_for(ctx, (size_t)batches, cpu_grain((uint64_t)(image * channels)), gavg_nhwc, &j);
    }
    return KILN_OK;
}

typedef struct qpool_kernel {
    cpu_kernel base;
    int32_t dt;
    int channels_last, global, count_include_pad;
    cpu_window_attrs wa;
} qpool_kernel;

static kiln_status gavg_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const qpool_kernel *k = (const qpool_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    qms_q qx, qy;
    KILN_CPU_TRY(qms_read(cpu_in(ctx, 1), cpu_in(ctx, 2), k->dt, "x", &qx, err));
    KILN_CPU_TRY(qms_read(cpu_in(ctx, 3), cpu_in(ctx, 4), k->dt, "y", &qy, err));
    if (x->rank < 3) return cpu_fail(err, KILN_ERR_SHAPE, "X must have rank 3 or more");
    int64_t c = k->channels_last ? x->dims[x->rank - 1] : x->dims[1], image = 1;
    for (int32_t d = 1; d < x->rank; d++)
        if (d != (k->channels_last ? x->rank - 1 : 1)) image *= x->dims[d];
    if (x->count == 0) {
        /* empty image: nothing to average (onnxruntime divides by zero); the output is y_zp */
        kiln_value_desc *y = ctx->outputs[0];
        memset(y->data, (uint8_t)qy.zp, (size_t)y->count);
        return KILN_OK;
    }
    return gavg_run(ctx, k->dt, x->data, ctx->outputs[0]->data, x->dims[0], c, image, k->channels_last, &qx, &qy, err);
}

/* ---- average pool ---- */

typedef struct avg_job {
    const float *xf;      /* dequantized x, in x's layout */
    uint8_t *y;
    const cpu_window *w;
    int64_t channels;
    int channels_last, include_pad;
    qms_q qy;
    int32_t dt;
} avg_job;

static inline uint8_t avg_quant(const avg_job *j, float v) {
    /* onnxruntime: clamp(nearbyint(v / y_scale + y_zp)) */
    float q = v / j->qy.scale + (float)j->qy.zp;
    q = q > (float)j->qy.lo ? q : (float)j->qy.lo;
    q = q < (float)j->qy.hi ? q : (float)j->qy.hi;
    return (uint8_t)(int32_t)q_rne(q);
}

/* Start and end (clipped to the image) of output position o's window on each axis; pixels. */
static int64_t avg_bounds(const cpu_window *w, int64_t o, int64_t *lo, int64_t *hi) {
    int64_t count = 1;
    for (int32_t a = w->sp - 1; a >= 0; a--) {
        int64_t oa = o % w->out[a];
        o /= w->out[a];
        int64_t s = oa * w->s[a] - w->pb[a], e = s + w->k[a];
        if (e > w->in[a]) e = w->in[a];
        if (s < 0) s = 0;
        if (e < s) e = s;
        lo[a] = s, hi[a] = e;
        count *= e - s;
    }
    return count;
}

/* Calls BODY(pixel index) for every pixel of the window [lo, hi), in row-major order. */
#define AVG_WALK(w, lo, hi, BODY)                                                \
    do {                                                                         \
        int64_t it_[KILN_MAX_RANK];                                              \
        int empty_ = 0;                                                          \
        for (int32_t a_ = 0; a_ < (w)->sp; a_++) {                               \
            it_[a_] = (lo)[a_];                                                  \
            if ((lo)[a_] >= (hi)[a_]) empty_ = 1;                                \
        }                                                                        \
        while (!empty_) {                                                        \
            int64_t pix_ = 0;                                                    \
            for (int32_t a_ = 0; a_ < (w)->sp; a_++) pix_ = pix_ * (w)->in[a_] + it_[a_]; \
            BODY(pix_);                                                          \
            int32_t a_ = (w)->sp - 1;                                            \
            while (a_ >= 0 && ++it_[a_] == (hi)[a_]) it_[a_] = (lo)[a_], a_--;   \
            if (a_ < 0) break;                                                   \
        }                                                                        \
    } while (0)

/* NCHW: planes [begin, end). */
static void avg_nchw(void *arg, size_t begin, size_t end) {
    const avg_job *j = arg;
    const cpu_window *w = j->w;
    int64_t lo[KILN_MAX_RANK], hi[KILN_MAX_RANK];
    for (size_t p = begin; p < end; p++) {
        const float *x = j->xf + p * (size_t)w->in_size;
        uint8_t *y = j->y + p * (size_t)w->out_size;
        for (int64_t o = 0; o < w->out_size; o++) {
            int64_t count = avg_bounds(w, o, lo, hi);
            float sum = 0.0f;
#define AVG_ADD(pix) sum += x[pix]
            AVG_WALK(w, lo, hi, AVG_ADD);
#undef AVG_ADD
            float div = (float)(j->include_pad ? w->k_size : count);
            y[o] = avg_quant(j, sum / div);
        }
    }
}

/* Channels last: (batch, output position) pairs [begin, end), channels innermost. */
static void avg_nhwc(void *arg, size_t begin, size_t end) {
    const avg_job *j = arg;
    const cpu_window *w = j->w;
    enum { CB = 256 };
    float acc[CB];
    int64_t lo[KILN_MAX_RANK], hi[KILN_MAX_RANK];
    size_t cn = (size_t)j->channels;
    for (size_t bo = begin; bo < end; bo++) {
        size_t b = bo / (size_t)w->out_size, o = bo % (size_t)w->out_size;
        int64_t count = avg_bounds(w, (int64_t)o, lo, hi);
        float div = (float)(j->include_pad ? w->k_size : count);
        const float *xb = j->xf + b * (size_t)w->in_size * cn;
        uint8_t *y = j->y + bo * cn;
        for (size_t c0 = 0; c0 < cn; c0 += CB) {
            size_t nc = cn - c0 < CB ? cn - c0 : CB;
            for (size_t c = 0; c < nc; c++) acc[c] = 0.0f;
#define AVG_ADD(pix)                                                  \
    do {                                                              \
        const float *xp_ = xb + (size_t)(pix) * cn + c0;              \
        for (size_t c = 0; c < nc; c++) acc[c] += xp_[c];             \
    } while (0)
            AVG_WALK(w, lo, hi, AVG_ADD);
#undef AVG_ADD
            for (size_t c = 0; c < nc; c++) y[c0 + c] = avg_quant(j, acc[c] / div);
        }
    }
}

static kiln_status avg_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const qpool_kernel *k = (const qpool_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    kiln_value_desc *y = ctx->outputs[0];
    qms_q qx, qy;
    KILN_CPU_TRY(qms_read(cpu_in(ctx, 1), cpu_in(ctx, 2), k->dt, "x", &qx, err));
    KILN_CPU_TRY(qms_read(cpu_in(ctx, 3), cpu_in(ctx, 4), k->dt, "y", &qy, err));
    if (x->rank < 3 || y->rank != x->rank) return cpu_fail(err, KILN_ERR_SHAPE, "X must have rank 3 or more");
    /* the window geometry on NCHW views of x and y */
    kiln_value_desc xv = *x, yv = *y;
    int64_t xd[KILN_MAX_RANK], yd[KILN_MAX_RANK];
    int32_t r = x->rank;
    for (int32_t d = 0; d < r; d++) {
        int32_t s = !k->channels_last || d == 0 ? d : d == 1 ? r - 1 : d - 1;
        xd[d] = x->dims[s], yd[d] = y->dims[s];
    }
    xv.dims = xd, yv.dims = yd;
    cpu_window w;
    KILN_CPU_TRY(cpu_window_resolve(&k->wa, &xv, &yv, NULL, &w, err));
    int64_t channels = xd[1], batches = xd[0];
    if (y->count == 0) return KILN_OK;
    if (x->count == 0) return cpu_fail(err, KILN_ERR_SHAPE, "X is empty but the output is not");
    int whole = 1;
    for (int32_t a = 0; a < w.sp; a++) whole &= w.k[a] == w.in[a] && w.pb[a] == 0 && w.pe[a] == 0;
    if (whole) /* onnxruntime takes its global-average path here; so does Kiln, for the same bytes */
        return gavg_run(ctx, k->dt, x->data, y->data, batches, channels, w.in_size, k->channels_last, &qx, &qy, err);
    float *xf = ctx->host->scratch(ctx, (size_t)x->count * sizeof(float));
    if (!xf) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for the dequantized input");
    float table[256];
    for (uint32_t b = 0; b < 256; b++) table[b] = qx.scale * (float)(qms_byte(k->dt, b) - qx.zp);
    const uint8_t *xb = x->data;
    for (uint64_t i = 0; i < x->count; i++) xf[i] = table[xb[i]];
    avg_job j = {xf, y->data, &w, channels, k->channels_last, k->count_include_pad, qy, k->dt};
    if (k->channels_last)
        cpu_parallel_for(ctx, (size_t)(batches * w.out_size), cpu_grain((uint64_t)(channels * w.k_size)), avg_nhwc, &j);
    else
        cpu_parallel_for(ctx, (size_t)(batches * channels), cpu_grain((uint64_t)(w.out_size * w.k_size)), avg_nchw, &j);
    return KILN_OK;
}

static kiln_status qpool_new(const cpu_node *n, int global, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (!is8(dt)) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "%s is implemented for uint8 and int8, not %s", n->op_type, cpu_dtype_name(dt));
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(qpool_kernel), global ? gavg_compute : avg_compute, out, err));
    qpool_kernel *k = (qpool_kernel *)*out;
    k->dt = dt;
    k->global = global;
    k->channels_last = cpu_attr_int(n, "channels_last", 0) != 0;
    k->count_include_pad = cpu_attr_int(n, "count_include_pad", 0) != 0;
    if (global) return KILN_OK;
    kiln_status s = cpu_window_read(n, &k->wa, err);
    if (s == KILN_OK && !k->wa.n_kernel) s = cpu_fail(err, KILN_ERR_INVALID_MODEL, "kernel_shape is required");
    if (s == KILN_OK && k->wa.n_dilations) s = cpu_fail(err, KILN_ERR_INVALID_MODEL, "QLinearAveragePool has no dilations attribute");
    return qms_created(out, s);
}

kiln_status kiln_cpu_ms_qlinear_avgpool(const cpu_node *n, cpu_kernel **out, kiln_error *err) { return qpool_new(n, 0, out, err); }

kiln_status kiln_cpu_ms_qlinear_global_avgpool(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    return qpool_new(n, 1, out, err);
}
