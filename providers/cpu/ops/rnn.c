/* SPDX-License-Identifier: MIT */
/* RNN, GRU and LSTM (every direction and layout, sequence_lens, initial states, peepholes,
 * input_forget, clip, the spec's activations), in float32: one GEMM per direction for the input
 * projections, one per step for H·R^T (the ISA's GEMV over the weight rows when there are 1-4
 * rows, as in streaming); steps past a sequence's length write zeros to Y. */
#include <ctype.h>
#include <math.h>
#include <string.h>

#include "kernels/f32-gemv/f32-gemv.h"
#include "kernels/gemm/gemm.h"
#include "providers/cpu/cpu_op.h"
#include "providers/cpu/gemm_parallel.h"
#include "providers/cpu/ops/f32_io.h"
#include "providers/cpu/ops/window.h"

enum { CELL_RNN, CELL_GRU, CELL_LSTM };
enum { ACT_SIGMOID, ACT_TANH, ACT_RELU, ACT_AFFINE, ACT_LEAKYRELU, ACT_THRESHOLDEDRELU, ACT_SCALEDTANH, ACT_HARDSIGMOID,
       ACT_ELU, ACT_SOFTSIGN, ACT_SOFTPLUS };

typedef struct rnn_act {
    int kind;
    float alpha, beta;
} rnn_act;

typedef struct rnn_kernel {
    cpu_kernel base;
    int cell, gates, dirs, reverse, layout;
    int64_t hidden; /* hidden_size attribute, or -1 */
    int has_clip;
    float clip;
    int linear_before_reset, input_forget;
    rnn_act act[2][3]; /* per direction: f, g, h */
} rnn_kernel;

static const struct {
    const char *name;
    int kind, alpha, beta; /* uses alpha / beta */
    float da, db;          /* their defaults */
} act_table[] = {
    {"sigmoid", ACT_SIGMOID, 0, 0, 0, 0},           {"tanh", ACT_TANH, 0, 0, 0, 0},
    {"relu", ACT_RELU, 0, 0, 0, 0},                 {"affine", ACT_AFFINE, 1, 1, 1.0f, 0.0f},
    {"leakyrelu", ACT_LEAKYRELU, 1, 0, 0.01f, 0},   {"thresholdedrelu", ACT_THRESHOLDEDRELU, 1, 0, 1.0f, 0},
    {"scaledtanh", ACT_SCALEDTANH, 1, 1, 1.0f, 1.0f}, {"hardsigmoid", ACT_HARDSIGMOID, 1, 1, 0.2f, 0.5f},
    {"elu", ACT_ELU, 1, 0, 1.0f, 0},                {"softsign", ACT_SOFTSIGN, 0, 0, 0, 0},
    {"softplus", ACT_SOFTPLUS, 0, 0, 0, 0},
};

static inline float act_apply(const rnn_act *a, float x) {
    switch (a->kind) {
    case ACT_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case ACT_TANH: return tanhf(x);
    case ACT_RELU: return x > 0.0f ? x : 0.0f;
    case ACT_AFFINE: return a->alpha * x + a->beta;
    case ACT_LEAKYRELU: return x >= 0.0f ? x : a->alpha * x;
    case ACT_THRESHOLDEDRELU: return x >= a->alpha ? x : 0.0f;
    case ACT_SCALEDTANH: return a->alpha * tanhf(a->beta * x);
    case ACT_HARDSIGMOID: {
        float v = a->alpha * x + a->beta;
        return v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
    }
    case ACT_ELU: return x >= 0.0f ? x : a->alpha * (expf(x) - 1.0f);
    case ACT_SOFTSIGN: return x / (1.0f + fabsf(x));
    default: return x > 0.0f ? x + log1pf(expf(-x)) : log1pf(expf(x)); /* softplus, without overflow */
    }
}

static inline float clipv(const rnn_kernel *k, float v) {
    if (!k->has_clip) return v;
    return v < -k->clip ? -k->clip : v > k->clip ? k->clip : v;
}

/* ---- compute ---- */

/* C[m x n] = A[m x k] · B^T (B is [n x k], row-major). The few rows of a streaming step (batch
 * 1 to 4) take the ISA's GEMV (kernels/f32-gemv: dot products over the weight rows in place,
 * four rows sharing each load of A, 16 lanes on AVX-512); a GEMM would pack all of B on every
 * call, which for one row costs more than the product. More rows take the packed GEMM. */
#define RNN_GEMV_ROWS 4

static void rnn_gemm_bt(kiln_kernel_ctx *ctx, size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b,
                        size_t ldb, float *c, size_t ldc) {
    if (m > RNN_GEMV_ROWS) {
        kiln_cpu_f32_gemm(ctx, 0, 1, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
        return;
    }
    kiln_f32_gemv_bt_get()(m, n, k, a, lda, b, ldb, c, ldc);
}

typedef struct rnn_io {
    int64_t seq, batch, in, hidden;
    const float *x, *w, *r, *b, *p, *h0, *c0;
    const int32_t *lens;
    float *y, *yh, *yc; /* NULL when not requested */
} rnn_io;

/* Offsets (in elements) of the per-(t, b) and per-(dir, b) rows in the layouts. */
static size_t x_row(const rnn_kernel *k, const rnn_io *io, int64_t t, int64_t b) {
    return (size_t)(k->layout ? b * io->seq + t : t * io->batch + b);
}
static size_t y_at(const rnn_kernel *k, const rnn_io *io, int64_t t, int d, int64_t b) {
    return (size_t)((k->layout ? (b * io->seq + t) * k->dirs + d : (t * k->dirs + d) * io->batch + b) * io->hidden);
}
static size_t state_at(const rnn_kernel *k, const rnn_io *io, int d, int64_t b) {
    return (size_t)((k->layout ? b * k->dirs + d : d * io->batch + b) * io->hidden);
}

static void run_direction(kiln_kernel_ctx *ctx, const rnn_kernel *k, const rnn_io *io, int d, float *xw, float *hr, float *h, float *c,
                          float *tmp) {
    int64_t H = io->hidden, G = k->gates, GH = G * H, B = io->batch, S = io->seq;
    const float *w = io->w + (size_t)(d * GH * io->in), *r = io->r + (size_t)(d * GH * H);
    const float *wb = io->b ? io->b + (size_t)(d * 2 * GH) : NULL, *rb = wb ? wb + GH : NULL;
    const float *p = io->p ? io->p + (size_t)(d * 3 * H) : NULL;
    const rnn_act *act = k->act[d];
    int rev = k->reverse || d == 1;
    /* All input projections at once, rows in X's storage order, biases folded in where the
     * equations allow (not GRU's Rbh with linear_before_reset). */
    rnn_gemm_bt(ctx, (size_t)(S * B), (size_t)GH, (size_t)io->in, io->x, (size_t)io->in, w, (size_t)io->in, xw, (size_t)GH);
    if (wb)
        for (int64_t row = 0; row < S * B; row++) {
            float *o = xw + row * GH;
            for (int64_t j = 0; j < GH; j++) {
                int rbh_late = k->cell == CELL_GRU && k->linear_before_reset && j >= 2 * H;
                o[j] += wb[j] + (rbh_late ? 0.0f : rb[j]);
            }
        }
    for (int64_t b = 0; b < B; b++) {
        for (int64_t j = 0; j < H; j++) {
            h[b * H + j] = io->h0 ? io->h0[state_at(k, io, d, b) + j] : 0.0f;
            if (c) c[b * H + j] = io->c0 ? io->c0[state_at(k, io, d, b) + j] : 0.0f;
        }
    }
    for (int64_t s = 0; s < S; s++) {
        int64_t t = rev ? S - 1 - s : s;
        int gru_split = k->cell == CELL_GRU && !k->linear_before_reset;
        /* H_prev · R^T; for GRU without linear_before_reset only the z and r parts here. */
        rnn_gemm_bt(ctx, (size_t)B, (size_t)(gru_split ? 2 * H : GH), (size_t)H, h, (size_t)H, r, (size_t)H, hr, (size_t)GH);
        if (gru_split) {
            /* r ⊙ H_prev, then its product with Rh */
            for (int64_t b = 0; b < B; b++) {
                const float *xr = xw + x_row(k, io, t, b) * GH;
                for (int64_t j = 0; j < H; j++) {
                    float rg = act_apply(&act[0], clipv(k, xr[H + j] + hr[b * GH + H + j]));
                    tmp[b * H + j] = rg * h[b * H + j];
                }
            }
            rnn_gemm_bt(ctx, (size_t)B, (size_t)H, (size_t)H, tmp, (size_t)H, r + 2 * H * H, (size_t)H, hr + 2 * H, (size_t)GH);
        }
        for (int64_t b = 0; b < B; b++) {
            int active = !io->lens || t < io->lens[b];
            float *yrow = io->y ? io->y + y_at(k, io, t, d, b) : NULL;
            if (!active) {
                if (yrow) memset(yrow, 0, (size_t)H * sizeof(float));
                continue;
            }
            const float *xr = xw + x_row(k, io, t, b) * GH, *hb = hr + b * GH;
            float *hs = h + b * H;
            for (int64_t j = 0; j < H; j++) {
                float nh;
                if (k->cell == CELL_RNN) {
                    nh = act_apply(&act[0], clipv(k, xr[j] + hb[j]));
                } else if (k->cell == CELL_GRU) {
                    float z = act_apply(&act[0], clipv(k, xr[j] + hb[j]));
                    float hh;
                    if (k->linear_before_reset) {
                        float rg = act_apply(&act[0], clipv(k, xr[H + j] + hb[H + j]));
                        float rbh = rb ? rb[2 * H + j] : 0.0f;
                        hh = act_apply(&act[1], clipv(k, xr[2 * H + j] + rg * (hb[2 * H + j] + rbh)));
                    } else {
                        hh = act_apply(&act[1], clipv(k, xr[2 * H + j] + hb[2 * H + j]));
                    }
                    nh = (1.0f - z) * hh + z * hs[j];
                } else {
                    float cp = c[b * H + j];
                    /* gate order i, o, f, c; peepholes i, o, f */
                    float ig = act_apply(&act[0], clipv(k, xr[j] + hb[j] + (p ? p[j] * cp : 0.0f)));
                    float fg = k->input_forget ? 1.0f - ig
                                               : act_apply(&act[0], clipv(k, xr[2 * H + j] + hb[2 * H + j] + (p ? p[2 * H + j] * cp : 0.0f)));
                    float cg = act_apply(&act[1], clipv(k, xr[3 * H + j] + hb[3 * H + j]));
                    float cn = fg * cp + ig * cg;
                    float og = act_apply(&act[0], clipv(k, xr[H + j] + hb[H + j] + (p ? p[H + j] * cn : 0.0f)));
                    c[b * H + j] = cn;
                    nh = og * act_apply(&act[2], cn);
                }
                hs[j] = nh;
            }
            if (yrow) memcpy(yrow, hs, (size_t)H * sizeof(float));
        }
    }
    for (int64_t b = 0; b < B; b++) {
        if (io->yh) memcpy(io->yh + state_at(k, io, d, b), h + b * H, (size_t)H * sizeof(float));
        if (io->yc) memcpy(io->yc + state_at(k, io, d, b), c + b * H, (size_t)H * sizeof(float));
    }
}

static int dims_are(const kiln_value_desc *v, int32_t rank, const int64_t *want) {
    if (v->rank != rank) return 0;
    for (int32_t i = 0; i < rank; i++)
        if (v->dims[i] != want[i]) return 0;
    return 1;
}

static kiln_status rnn_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const rnn_kernel *k = (const rnn_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0), *w = cpu_in(ctx, 1), *r = cpu_in(ctx, 2), *bias = cpu_in(ctx, 3),
                          *lens = cpu_in(ctx, 4), *h0 = cpu_in(ctx, 5);
    const kiln_value_desc *c0 = k->cell == CELL_LSTM ? cpu_in(ctx, 6) : NULL, *peep = k->cell == CELL_LSTM ? cpu_in(ctx, 7) : NULL;
    if (x->rank != 3 || w->rank != 3 || r->rank != 3) return cpu_fail(err, KILN_ERR_SHAPE, "X, W and R must be 3-D");
    rnn_io io;
    memset(&io, 0, sizeof(io));
    io.seq = x->dims[k->layout ? 1 : 0], io.batch = x->dims[k->layout ? 0 : 1], io.in = x->dims[2], io.hidden = r->dims[2];
    int64_t H = io.hidden, G = k->gates, D = k->dirs;
    if (k->hidden >= 0 && k->hidden != H) return cpu_fail(err, KILN_ERR_SHAPE, "R does not match hidden_size");
    int64_t wd[3] = {D, G * H, io.in}, rd[3] = {D, G * H, H}, bd[2] = {D, 2 * G * H}, pd[2] = {D, 3 * H};
    int64_t sd[3] = {D, io.batch, H};
    if (k->layout) sd[0] = io.batch, sd[1] = D;
    if (!dims_are(w, 3, wd) || !dims_are(r, 3, rd)) return cpu_fail(err, KILN_ERR_SHAPE, "W or R has the wrong shape");
    if (bias && !dims_are(bias, 2, bd)) return cpu_fail(err, KILN_ERR_SHAPE, "B must be [%lld, %lld]", (long long)D, (long long)(2 * G * H));
    if (peep && !dims_are(peep, 2, pd)) return cpu_fail(err, KILN_ERR_SHAPE, "P must be [%lld, %lld]", (long long)D, (long long)(3 * H));
    if ((h0 && !dims_are(h0, 3, sd)) || (c0 && !dims_are(c0, 3, sd)))
        return cpu_fail(err, KILN_ERR_SHAPE, "initial states have the wrong shape");
    if (lens) {
        if (lens->rank != 1 || lens->dims[0] != io.batch || lens->dtype != KILN_DTYPE_INT32)
            return cpu_fail(err, KILN_ERR_SHAPE, "sequence_lens must be int32 [%lld]", (long long)io.batch);
        for (int64_t b = 0; b < io.batch; b++) {
            int32_t v = ((const int32_t *)lens->data)[b];
            if (v < 0 || v > io.seq)
                return cpu_fail(err, KILN_ERR_SHAPE, "sequence_lens[%lld] = %d is outside [0, %lld]", (long long)b, (int)v, (long long)io.seq);
        }
        io.lens = lens->data;
    }
    kiln_value_desc *y = ctx->n_outputs > 0 ? ctx->outputs[0] : NULL, *yh = ctx->n_outputs > 1 ? ctx->outputs[1] : NULL;
    kiln_value_desc *yc = k->cell == CELL_LSTM && ctx->n_outputs > 2 ? ctx->outputs[2] : NULL;
    int64_t rows = cpu_mul_size(io.seq, io.batch);
    if (rows < 0 || G * H <= 0 || (uint64_t)rows > SIZE_MAX / 8 / (uint64_t)(G * H)) return cpu_fail(err, KILN_ERR_SHAPE, "sizes overflow");
    io.x = f32_view(ctx, x), io.w = f32_view(ctx, w), io.r = f32_view(ctx, r);
    io.b = bias ? f32_view(ctx, bias) : NULL, io.p = peep ? f32_view(ctx, peep) : NULL;
    io.h0 = h0 ? f32_view(ctx, h0) : NULL, io.c0 = c0 ? f32_view(ctx, c0) : NULL;
    io.y = y ? f32_out(ctx, y) : NULL, io.yh = yh ? f32_out(ctx, yh) : NULL, io.yc = yc ? f32_out(ctx, yc) : NULL;
    size_t bh = (size_t)(io.batch * H);
    float *xw = ctx->host->scratch(ctx, (size_t)rows * (size_t)(G * H) * sizeof(float) + 1);
    float *hr = ctx->host->scratch(ctx, bh * (size_t)G * sizeof(float) + 1);
    float *hs = ctx->host->scratch(ctx, bh * sizeof(float) + 1), *tmp = ctx->host->scratch(ctx, bh * sizeof(float) + 1);
    float *cs = k->cell == CELL_LSTM ? ctx->host->scratch(ctx, bh * sizeof(float) + 1) : NULL;
    if (!io.x || !io.w || !io.r || (bias && !io.b) || (peep && !io.p) || (h0 && !io.h0) || (c0 && !io.c0) || (y && !io.y) ||
        (yh && !io.yh) || (yc && !io.yc) || !xw || !hr || !hs || !tmp || (k->cell == CELL_LSTM && !cs))
        return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for %s buffers", k->cell == CELL_LSTM ? "LSTM" : k->cell == CELL_GRU ? "GRU" : "RNN");
    for (int d = 0; d < k->dirs; d++) run_direction(ctx, k, &io, d, xw, hr, hs, cs, tmp);
    if (y) f32_commit(y, io.y);
    if (yh) f32_commit(yh, io.yh);
    if (yc) f32_commit(yc, io.yc);
    return KILN_OK;
}

/* ---- factory ---- */

static kiln_status read_acts(const cpu_node *n, rnn_kernel *k, int per_dir, kiln_error *err) {
    static const int defaults[3][3] = {{ACT_TANH}, {ACT_SIGMOID, ACT_TANH}, {ACT_SIGMOID, ACT_TANH, ACT_TANH}};
    for (int d = 0; d < 2; d++)
        for (int i = 0; i < per_dir; i++) k->act[d][i] = (rnn_act){defaults[k->cell][i], 0.0f, 0.0f};
    const kiln_attr_view *a = n->host->node_attr(n->view, "activations");
    uint32_t na = a && n->host->attr_type(a) == KILN_ATTR_STRINGS ? n->host->attr_count(a) : 0;
    uint32_t nal, nbe;
    const float *al = cpu_attr_floats(n, "activation_alpha", &nal), *be = cpu_attr_floats(n, "activation_beta", &nbe);
    if (!na) return KILN_OK;
    if (na != (uint32_t)(per_dir * k->dirs) && na != (uint32_t)per_dir)
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "%s needs %d activations, got %u", n->op_type, per_dir * k->dirs, na);
    uint32_t ia = 0, ib = 0;
    for (uint32_t i = 0; i < na; i++) {
        const char *s = n->host->attr_string(a, i, NULL);
        char low[32];
        size_t len = strlen(s);
        if (len >= sizeof(low)) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "%s: unknown activation '%.40s'", n->op_type, s);
        for (size_t c = 0; c <= len; c++) low[c] = (char)tolower((unsigned char)s[c]);
        size_t t = 0;
        while (t < sizeof(act_table) / sizeof(act_table[0]) && strcmp(act_table[t].name, low) != 0) t++;
        if (t == sizeof(act_table) / sizeof(act_table[0]))
            return cpu_fail(err, KILN_ERR_UNSUPPORTED, "%s: unknown activation '%s'", n->op_type, s);
        /* alphas and betas are consumed, in order, by the functions that take them */
        rnn_act v = {act_table[t].kind, act_table[t].da, act_table[t].db};
        if (act_table[t].alpha && ia < nal) v.alpha = al[ia++];
        if (act_table[t].beta && ib < nbe) v.beta = be[ib++];
        k->act[i / per_dir][i % per_dir] = v;
        if (na == (uint32_t)per_dir) k->act[1][i] = v;
    }
    return KILN_OK;
}

kiln_status kiln_cpu_rnn(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int cell = cpu_op_is(n, "LSTM") ? CELL_LSTM : cpu_op_is(n, "GRU") ? CELL_GRU : CELL_RNN;
    int32_t dt = cpu_input_dtype(n, 0);
    if (!f32_io_supported(dt) || cpu_input_dtype(n, 1) != dt || cpu_input_dtype(n, 2) != dt)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "%s is not implemented for %s", n->op_type, cpu_dtype_name(dt));
    const char *dir = cpu_attr_str(n, "direction", "forward");
    int dirs = strcmp(dir, "bidirectional") == 0 ? 2 : 1, reverse = strcmp(dir, "reverse") == 0;
    if (dirs == 1 && !reverse && strcmp(dir, "forward") != 0)
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "%s: unknown direction '%s'", n->op_type, dir);
    int64_t layout = cpu_attr_int(n, "layout", 0);
    if (layout != 0 && layout != 1) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "%s: layout must be 0 or 1", n->op_type);
    rnn_kernel tmpl;
    memset(&tmpl, 0, sizeof(tmpl));
    tmpl.cell = cell;
    tmpl.gates = cell == CELL_LSTM ? 4 : cell == CELL_GRU ? 3 : 1;
    tmpl.dirs = dirs;
    KILN_CPU_TRY(read_acts(n, &tmpl, cell == CELL_LSTM ? 3 : cell == CELL_GRU ? 2 : 1, err));
    float clip = cpu_attr_float(n, "clip", 0.0f);
    if (cpu_has_attr(n, "clip") && !(clip > 0.0f)) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "%s: clip must be positive", n->op_type);
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(rnn_kernel), rnn_compute, out, err));
    rnn_kernel *k = (rnn_kernel *)*out;
    memcpy(k->act, tmpl.act, sizeof(k->act));
    k->cell = cell;
    k->gates = tmpl.gates;
    k->dirs = dirs;
    k->reverse = reverse;
    k->layout = (int)layout;
    k->hidden = cpu_attr_int(n, "hidden_size", -1);
    k->has_clip = cpu_has_attr(n, "clip");
    k->clip = clip;
    k->linear_before_reset = cpu_attr_int(n, "linear_before_reset", 0) != 0;
    k->input_forget = cpu_attr_int(n, "input_forget", 0) != 0;
    return KILN_OK;
}
