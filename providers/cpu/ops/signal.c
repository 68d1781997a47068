/* SPDX-License-Identifier: MIT */
/* Signal processing: DFT (forward, inverse, one-sided RFFT/IRFFT, any length), STFT, the Hann,
 * Hamming and Blackman windows, MelWeightMatrix. Transforms run in double: radix-2 for powers of
 * two, Bluestein's chirp-z (through a power-of-two FFT) for other lengths, O(n log n) each. */
#include <math.h>
#include <string.h>

#include "kernels/common/half.h"
#include "providers/cpu/cpu_op.h"
#include "providers/cpu/ops/elem.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

#define MAX_TASKS 64 /* work buffers per call: signals are split among at most this many tasks */

static double get_f(int32_t dt, const void *p, size_t i) { return cpu_load_f64(p, dt, (int64_t)i); }

/* Stores v into element i of any numeric type (integers truncate toward zero, saturating). */
static void put_any(int32_t dt, void *p, size_t i, double v) {
    double lo = 0, hi = 0;
    switch (dt) {
    case KILN_DTYPE_FLOAT: ((float *)p)[i] = (float)v; return;
    case KILN_DTYPE_DOUBLE: ((double *)p)[i] = v; return;
    case KILN_DTYPE_FLOAT16: ((uint16_t *)p)[i] = kiln_f32_to_f16((float)v); return;
    case KILN_DTYPE_BFLOAT16: ((uint16_t *)p)[i] = kiln_f32_to_bf16((float)v); return;
    case KILN_DTYPE_INT8: lo = INT8_MIN, hi = INT8_MAX; break;
    case KILN_DTYPE_UINT8: hi = UINT8_MAX; break;
    case KILN_DTYPE_INT16: lo = INT16_MIN, hi = INT16_MAX; break;
    case KILN_DTYPE_UINT16: hi = UINT16_MAX; break;
    case KILN_DTYPE_INT32: lo = INT32_MIN, hi = INT32_MAX; break;
    case KILN_DTYPE_UINT32: hi = UINT32_MAX; break;
    case KILN_DTYPE_INT64: lo = -9.2e18, hi = 9.2e18; break;
    case KILN_DTYPE_UINT64: hi = 1.8e19; break;
    default: return;
    }
    v = v != v ? 0 : v < lo ? lo : v > hi ? hi : v;
    switch (dt) {
    case KILN_DTYPE_INT8: ((int8_t *)p)[i] = (int8_t)v; break;
    case KILN_DTYPE_UINT8: ((uint8_t *)p)[i] = (uint8_t)v; break;
    case KILN_DTYPE_INT16: ((int16_t *)p)[i] = (int16_t)v; break;
    case KILN_DTYPE_UINT16: ((uint16_t *)p)[i] = (uint16_t)v; break;
    case KILN_DTYPE_INT32: ((int32_t *)p)[i] = (int32_t)v; break;
    case KILN_DTYPE_UINT32: ((uint32_t *)p)[i] = (uint32_t)v; break;
    case KILN_DTYPE_INT64: ((int64_t *)p)[i] = (int64_t)v; break;
    case KILN_DTYPE_UINT64: ((uint64_t *)p)[i] = (uint64_t)v; break;
    default: break;
    }
}

static int is_float(int32_t dt) {
    return dt == KILN_DTYPE_FLOAT || dt == KILN_DTYPE_DOUBLE || dt == KILN_DTYPE_FLOAT16 || dt == KILN_DTYPE_BFLOAT16;
}

static int64_t read_int(const kiln_value_desc *t) {
    return t->dtype == KILN_DTYPE_INT32 ? *(const int32_t *)t->data : *(const int64_t *)t->data;
}

/* An optional scalar integer input; *v unchanged when omitted. */
static kiln_status scalar_in(kiln_kernel_ctx *ctx, uint32_t i, const char *what, int64_t *v, kiln_error *err) {
    const kiln_value_desc *t = cpu_in(ctx, i);
    if (!t) return KILN_OK;
    if ((t->dtype != KILN_DTYPE_INT32 && t->dtype != KILN_DTYPE_INT64) || t->count != 1)
        return cpu_fail(err, KILN_ERR_SHAPE, "%s must be one int32 or int64 value", what);
    *v = read_int(t);
    return KILN_OK;
}

/* ---- FFT ---- */

/* A forward transform of length n (complex numbers are interleaved re, im). */
typedef struct fft_plan {
    int64_t n, m;      /* m: the power-of-two size actually transformed (n itself, or Bluestein's) */
    int blue;
    double *tw;        /* m/2 twiddles exp(-2 pi i k / m) */
    double *chirp;     /* Bluestein: n values exp(-i pi k^2 / n) */
    double *bf;        /* Bluestein: FFT of the conjugate chirp, divided by m */
} fft_plan;

static void fft_pow2(double *a, int64_t m, const double *tw) {
    for (int64_t i = 1, j = 0; i < m; i++) { /* bit reversal */
        int64_t bit = m >> 1;
        for (; j & bit; bit >>= 1) j ^= bit;
        j |= bit;
        if (i < j) {
            double r = a[2 * i], im = a[2 * i + 1];
            a[2 * i] = a[2 * j];
            a[2 * i + 1] = a[2 * j + 1];
            a[2 * j] = r;
            a[2 * j + 1] = im;
        }
    }
    for (int64_t len = 2; len <= m; len <<= 1) {
        int64_t half = len >> 1, step = m / len;
        for (int64_t s = 0; s < m; s += len)
            for (int64_t k = 0; k < half; k++) {
                double wr = tw[2 * k * step], wi = tw[2 * k * step + 1];
                double *u = a + 2 * (s + k), *v = a + 2 * (s + k + half);
                double xr = v[0] * wr - v[1] * wi, xi = v[0] * wi + v[1] * wr;
                v[0] = u[0] - xr;
                v[1] = u[1] - xi;
                u[0] += xr;
                u[1] += xi;
            }
    }
}

/* In place, x: n complex values; work: m complex values (Bluestein only). */
static void fft_run(const fft_plan *p, double *x, double *work) {
    if (!p->blue) {
        fft_pow2(x, p->m, p->tw);
        return;
    }
    int64_t n = p->n, m = p->m;
    memset(work, 0, (size_t)m * 2 * sizeof *work);
    for (int64_t k = 0; k < n; k++) {
        double cr = p->chirp[2 * k], ci = p->chirp[2 * k + 1];
        work[2 * k] = x[2 * k] * cr - x[2 * k + 1] * ci;
        work[2 * k + 1] = x[2 * k] * ci + x[2 * k + 1] * cr;
    }
    fft_pow2(work, m, p->tw);
    for (int64_t k = 0; k < m; k++) { /* multiply by bf, conjugate: the inverse by a forward FFT */
        double r = work[2 * k] * p->bf[2 * k] - work[2 * k + 1] * p->bf[2 * k + 1];
        double i = work[2 * k] * p->bf[2 * k + 1] + work[2 * k + 1] * p->bf[2 * k];
        work[2 * k] = r;
        work[2 * k + 1] = -i;
    }
    fft_pow2(work, m, p->tw);
    for (int64_t k = 0; k < n; k++) {
        double r = work[2 * k], i = -work[2 * k + 1];
        double cr = p->chirp[2 * k], ci = p->chirp[2 * k + 1];
        x[2 * k] = r * cr - i * ci;
        x[2 * k + 1] = r * ci + i * cr;
    }
}

static kiln_status fft_plan_make(kiln_kernel_ctx *ctx, int64_t n, fft_plan *p, kiln_error *err) {
    memset(p, 0, sizeof *p);
    p->n = n;
    p->m = 1;
    while (p->m < n) p->m <<= 1;
    if (p->m != n) {
        p->blue = 1;
        p->m = 1;
        while (p->m < 2 * n - 1) p->m <<= 1;
    }
    int64_t m = p->m;
    size_t words = (size_t)m + (p->blue ? (size_t)(2 * n + 2 * m) : 0);
    p->tw = ctx->host->scratch(ctx, words * sizeof(double) + 1);
    if (!p->tw) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "no memory for a length-%lld transform", (long long)n);
    for (int64_t k = 0; k < m / 2; k++) {
        p->tw[2 * k] = cos(-2.0 * M_PI * (double)k / (double)m);
        p->tw[2 * k + 1] = sin(-2.0 * M_PI * (double)k / (double)m);
    }
    if (!p->blue) return KILN_OK;
    p->chirp = p->tw + m;
    p->bf = p->chirp + 2 * n;
    for (int64_t k = 0; k < n; k++) {
        /* k^2 mod 2n keeps the angle exact for long transforms */
        double ang = -M_PI * (double)((k * k) % (2 * n)) / (double)n;
        p->chirp[2 * k] = cos(ang);
        p->chirp[2 * k + 1] = sin(ang);
    }
    memset(p->bf, 0, (size_t)m * 2 * sizeof(double));
    for (int64_t k = 0; k < n; k++) {
        p->bf[2 * k] = p->chirp[2 * k];
        p->bf[2 * k + 1] = -p->chirp[2 * k + 1];
        if (k) {
            p->bf[2 * (m - k)] = p->chirp[2 * k];
            p->bf[2 * (m - k) + 1] = -p->chirp[2 * k + 1];
        }
    }
    fft_pow2(p->bf, m, p->tw);
    for (int64_t k = 0; k < 2 * m; k++) p->bf[k] /= (double)m;
    return KILN_OK;
}

/* ---- DFT and STFT: signals gathered into a length-n buffer, transformed, scattered ---- */

enum { S_DFT, S_STFT };

typedef struct sig_kernel {
    cpu_kernel base;
    int kind, inverse, onesided;
    int32_t dtype;
    int64_t axis; /* DFT before opset 20 */
    int axis_input;
} sig_kernel;

/* Signal s of the call: where its samples are and where its outputs go. */
typedef struct sig_job {
    const sig_kernel *k;
    const kiln_value_desc *x, *win;
    kiln_value_desc *y;
    fft_plan plan;
    double *bufs;           /* per task: n complex + plan.m complex */
    int64_t nsig, per_task;
    /* DFT: signal (o, i) reads x[o][0..nin)[i][c], stride inner*cin */
    int64_t outer, inner, nin, cin, nout, cout;
    /* STFT: signal (b, f) reads frame f of batch b */
    int64_t step, frames, wlen, slen;
} sig_job;

static void sig_range(void *arg, size_t b, size_t e) {
    const sig_job *j = arg;
    const sig_kernel *k = j->k;
    int64_t n = j->plan.n;
    int32_t dt = k->dtype;
    int irfft = k->inverse && k->onesided;
    for (size_t t = b; t < e; t++) {
        double *v = j->bufs + t * (size_t)(2 * n + 2 * j->plan.m), *work = v + 2 * n;
        for (int64_t s = (int64_t)t * j->per_task; s < ((int64_t)t + 1) * j->per_task && s < j->nsig; s++) {
            memset(v, 0, (size_t)n * 2 * sizeof *v);
            size_t base, stride, obase, ostride;
            if (k->kind == S_DFT) {
                int64_t o = s / j->inner, i = s % j->inner;
                base = (size_t)((o * j->nin * j->inner + i) * j->cin);
                stride = (size_t)(j->inner * j->cin);
                obase = (size_t)((o * j->nout * j->inner + i) * j->cout);
                ostride = (size_t)(j->inner * j->cout);
                int64_t take = irfft ? (j->nin < n / 2 + 1 ? j->nin : n / 2 + 1) : (j->nin < n ? j->nin : n);
                for (int64_t a = 0; a < take; a++) {
                    v[2 * a] = get_f(dt, j->x->data, base + (size_t)a * stride);
                    v[2 * a + 1] = j->cin == 2 ? get_f(dt, j->x->data, base + (size_t)a * stride + 1) : 0.0;
                }
                if (irfft) { /* Hermitian extension; DC and Nyquist imaginary parts are dropped */
                    v[1] = 0.0;
                    if (n % 2 == 0) v[n + 1] = 0.0;
                    for (int64_t a = 1; a < (n + 1) / 2; a++) {
                        v[2 * (n - a)] = v[2 * a];
                        v[2 * (n - a) + 1] = -v[2 * a + 1];
                    }
                }
            } else {
                int64_t bt = s / j->frames, f = s % j->frames;
                base = (size_t)((bt * j->slen + f * j->step) * j->cin);
                stride = (size_t)j->cin;
                obase = (size_t)((bt * j->frames + f) * j->nout * 2);
                ostride = 2;
                int64_t take = j->wlen < n ? j->wlen : n;
                for (int64_t a = 0; a < take && f * j->step + a < j->slen; a++) {
                    double w = j->win ? get_f(j->win->dtype, j->win->data, (size_t)a) : 1.0;
                    v[2 * a] = get_f(dt, j->x->data, base + (size_t)a * stride) * w;
                    v[2 * a + 1] = j->cin == 2 ? get_f(dt, j->x->data, base + (size_t)a * stride + 1) * w : 0.0;
                }
            }
            if (k->inverse) /* inverse by conjugating around a forward transform */
                for (int64_t a = 0; a < n; a++) v[2 * a + 1] = -v[2 * a + 1];
            fft_run(&j->plan, v, work);
            double scale = k->inverse ? 1.0 / (double)n : 1.0, sign = k->inverse ? -1.0 : 1.0;
            for (int64_t a = 0; a < j->nout; a++) {
                put_any(dt, j->y->data, obase + (size_t)a * ostride, v[2 * a] * scale);
                if (j->cout == 2) put_any(dt, j->y->data, obase + (size_t)a * ostride + 1, sign * v[2 * a + 1] * scale);
            }
        }
    }
}

static kiln_status sig_run(kiln_kernel_ctx *ctx, sig_job *j, int64_t n, kiln_error *err) {
    if (!j->nsig || !j->nout) return KILN_OK;
    KILN_CPU_TRY(fft_plan_make(ctx, n, &j->plan, err));
    int64_t tasks = j->nsig < MAX_TASKS ? j->nsig : MAX_TASKS;
    j->per_task = (j->nsig + tasks - 1) / tasks;
    tasks = (j->nsig + j->per_task - 1) / j->per_task;
    size_t words = (size_t)tasks * (size_t)(2 * n + 2 * j->plan.m);
    j->bufs = ctx->host->scratch(ctx, words * sizeof(double));
    if (!j->bufs) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "no memory for transform buffers");
    cpu_parallel_for(ctx, (size_t)tasks, 1, sig_range, j);
    return KILN_OK;
}

static kiln_status dft_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const sig_kernel *k = (const sig_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    int32_t r = x->rank;
    if (r < 2 || (x->dims[r - 1] != 1 && x->dims[r - 1] != 2))
        return cpu_fail(err, KILN_ERR_SHAPE, "input must be [..., 1 or 2] with rank 2 or more");
    int64_t axis = k->axis;
    if (k->axis_input) {
        axis = -2;
        KILN_CPU_TRY(scalar_in(ctx, 2, "axis", &axis, err));
    }
    if (axis < -r || axis > r - 2 || axis == -1)
        return cpu_fail(err, KILN_ERR_SHAPE, "axis %lld is out of range for rank %d", (long long)axis, (int)r);
    if (axis < 0) axis += r;
    sig_job j = {.k = k, .x = x, .outer = 1, .inner = 1, .nin = x->dims[axis], .cin = x->dims[r - 1]};
    for (int32_t d = 0; d < r - 1; d++) {
        if (d < axis) j.outer *= x->dims[d];
        else if (d > axis) j.inner *= x->dims[d];
    }
    int irfft = k->inverse && k->onesided;
    int64_t n = irfft ? 2 * (j.nin - 1) : j.nin;
    KILN_CPU_TRY(scalar_in(ctx, 1, "dft_length", &n, err));
    if (n <= 0) return cpu_fail(err, KILN_ERR_SHAPE, "dft_length must be positive, not %lld", (long long)n);
    if (irfft && j.cin != 2) return cpu_fail(err, KILN_ERR_SHAPE, "an inverse one-sided DFT needs complex input");
    j.nout = k->onesided && !k->inverse ? n / 2 + 1 : n;
    j.cout = irfft ? 1 : 2;
    int64_t dims[KILN_MAX_RANK];
    for (int32_t d = 0; d < r; d++) dims[d] = x->dims[d];
    dims[axis] = j.nout;
    dims[r - 1] = j.cout;
    KILN_CPU_TRY(cpu_output(ctx, 0, r, dims, &j.y, err));
    j.nsig = j.outer * j.inner;
    return sig_run(ctx, &j, n, err);
}

static kiln_status stft_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const sig_kernel *k = (const sig_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0), *w = cpu_in(ctx, 2);
    if (x->rank != 3 || (x->dims[2] != 1 && x->dims[2] != 2))
        return cpu_fail(err, KILN_ERR_SHAPE, "signal must be [batch, length, 1 or 2]");
    sig_job j = {.k = k, .x = x, .win = w, .slen = x->dims[1], .cin = x->dims[2], .cout = 2};
    if (w && (w->rank != 1 || !is_float(w->dtype))) return cpu_fail(err, KILN_ERR_SHAPE, "window must be a 1-D float tensor");
    int64_t n = w ? w->dims[0] : j.slen;
    j.step = 0;
    KILN_CPU_TRY(scalar_in(ctx, 1, "frame_step", &j.step, err));
    if (!cpu_in(ctx, 1)) return cpu_fail(err, KILN_ERR_SHAPE, "frame_step is required");
    KILN_CPU_TRY(scalar_in(ctx, 3, "frame_length", &n, err));
    if (j.step <= 0) return cpu_fail(err, KILN_ERR_SHAPE, "frame_step must be positive, not %lld", (long long)j.step);
    if (n <= 0 || n > j.slen)
        return cpu_fail(err, KILN_ERR_SHAPE, "frame_length %lld must be in [1, %lld]", (long long)n, (long long)j.slen);
    if (k->onesided && j.cin == 2) return cpu_fail(err, KILN_ERR_SHAPE, "a one-sided STFT needs a real signal");
    j.wlen = w ? w->dims[0] : n;
    j.frames = 1 + (j.slen - n) / j.step;
    j.nout = k->onesided ? n / 2 + 1 : n;
    KILN_CPU_TRY(cpu_output(ctx, 0, 4, (const int64_t[]){x->dims[0], j.frames, j.nout, 2}, &j.y, err));
    j.nsig = x->dims[0] * j.frames;
    return sig_run(ctx, &j, n, err);
}

/* ---- windows and MelWeightMatrix ---- */

enum { W_HANN, W_HAMMING, W_BLACKMAN, W_MEL };

typedef struct gen_kernel {
    cpu_kernel base;
    int kind, periodic;
} gen_kernel;

static kiln_status window_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const gen_kernel *k = (const gen_kernel *)base;
    kiln_value_desc *y = ctx->outputs[0];
    int64_t size = 0;
    KILN_CPU_TRY(scalar_in(ctx, 0, "size", &size, err));
    if (size < 0 || (uint64_t)size != y->count) return cpu_fail(err, KILN_ERR_SHAPE, "size %lld is invalid", (long long)size);
    double n = (double)(k->periodic ? size : size - 1);
    for (int64_t i = 0; i < size; i++) {
        double x = n > 0 ? 2.0 * M_PI * (double)i / n : 0.0, v;
        if (n <= 0) v = 1.0; /* a symmetric window of one point */
        else if (k->kind == W_HANN) v = 0.5 - 0.5 * cos(x);
        else if (k->kind == W_HAMMING) v = 25.0 / 46.0 - 21.0 / 46.0 * cos(x);
        else v = -0.5 * cos(x) + 0.08 * cos(2.0 * x) + 0.42; /* this order gives exactly 1 at the peak */
        put_any(y->dtype, y->data, (size_t)i, v);
    }
    return KILN_OK;
}

/* Triangular filters between mel-spaced bin edges: mel(f) = 2595 log10(1 + f / 700), edges
 * mapped to DFT bins as floor((dft_length + 1) * f / sample_rate). */
static kiln_status mel_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    (void)base;
    kiln_value_desc *y = ctx->outputs[0];
    int64_t bins = 0, len = 0, rate = 0;
    KILN_CPU_TRY(scalar_in(ctx, 0, "num_mel_bins", &bins, err));
    KILN_CPU_TRY(scalar_in(ctx, 1, "dft_length", &len, err));
    KILN_CPU_TRY(scalar_in(ctx, 2, "sample_rate", &rate, err));
    const kiln_value_desc *lo = cpu_in(ctx, 3), *hi = cpu_in(ctx, 4);
    if (!lo || !hi || !is_float(lo->dtype) || !is_float(hi->dtype) || lo->count != 1 || hi->count != 1)
        return cpu_fail(err, KILN_ERR_SHAPE, "lower_edge_hertz and upper_edge_hertz must be float scalars");
    if (bins <= 0 || len <= 0 || rate <= 0)
        return cpu_fail(err, KILN_ERR_SHAPE, "num_mel_bins, dft_length and sample_rate must be positive");
    int64_t nspec = len / 2 + 1;
    if (y->rank != 2 || y->dims[0] != nspec || y->dims[1] != bins) return cpu_fail(err, KILN_ERR_INTERNAL, "output shape does not match");
    double flo = get_f(lo->dtype, lo->data, 0), fhi = get_f(hi->dtype, hi->data, 0);
    if (!(flo >= 0) || !(fhi >= flo)) return cpu_fail(err, KILN_ERR_SHAPE, "the edges must satisfy 0 <= lower <= upper");
    int64_t *edge = ctx->host->scratch(ctx, (size_t)(bins + 2) * sizeof *edge);
    if (!edge) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "no memory for %lld mel edges", (long long)bins);
    double mlo = 2595.0 * log10(1.0 + flo / 700.0), mhi = 2595.0 * log10(1.0 + fhi / 700.0);
    double mstep = (mhi - mlo) / (double)(bins + 2);
    for (int64_t i = 0; i < bins + 2; i++) {
        double hz = 700.0 * (pow(10.0, ((double)i * mstep + mlo) / 2595.0) - 1.0);
        double e = floor((double)(len + 1) * hz / (double)rate);
        /* the last edge only bounds the last filter's falling side, which stops before it */
        if (!(e >= 0 && e <= (double)nspec) || (i <= bins && e == (double)nspec))
            return cpu_fail(err, KILN_ERR_SHAPE, "upper_edge_hertz %g is above what sample_rate %lld and dft_length %lld resolve", fhi,
                            (long long)rate, (long long)len);
        edge[i] = (int64_t)e;
    }
    for (size_t i = 0; i < y->count; i++) put_any(y->dtype, y->data, i, 0.0);
    for (int64_t b = 0; b < bins; b++) {
        int64_t l = edge[b], c = edge[b + 1], h = edge[b + 2];
        if (c == l) put_any(y->dtype, y->data, (size_t)(c * bins + b), 1.0);
        else
            for (int64_t q = l; q <= c; q++) put_any(y->dtype, y->data, (size_t)(q * bins + b), (double)(q - l) / (double)(c - l));
        for (int64_t q = c; q < h; q++) put_any(y->dtype, y->data, (size_t)(q * bins + b), (double)(h - q) / (double)(h - c));
    }
    return KILN_OK;
}

/* ---- factories ---- */

kiln_status kiln_cpu_signal(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int stft = cpu_op_is(n, "STFT");
    int32_t dt = cpu_input_dtype(n, 0);
    if (!is_float(dt)) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "%s is not implemented for %s", n->op_type, cpu_dtype_name(dt));
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(sig_kernel), stft ? stft_compute : dft_compute, out, err));
    sig_kernel *k = (sig_kernel *)*out;
    k->kind = stft ? S_STFT : S_DFT;
    k->dtype = dt;
    k->inverse = !stft && cpu_attr_int(n, "inverse", 0) != 0;
    k->onesided = cpu_attr_int(n, "onesided", stft ? 1 : 0) != 0;
    k->axis_input = !stft && n->opset >= 20;
    k->axis = cpu_attr_int(n, "axis", 1);
    return KILN_OK;
}

kiln_status kiln_cpu_generator(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int kind = cpu_op_is(n, "HannWindow") ? W_HANN : cpu_op_is(n, "HammingWindow") ? W_HAMMING
             : cpu_op_is(n, "BlackmanWindow") ? W_BLACKMAN : W_MEL;
    int32_t odt = cpu_output_info(n, 0).dtype;
    if (!cpu_dtype_size(odt) || odt == KILN_DTYPE_BOOL || odt == KILN_DTYPE_STRING)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "%s cannot produce %s", n->op_type, cpu_dtype_name(odt));
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(gen_kernel), kind == W_MEL ? mel_compute : window_compute, out, err));
    gen_kernel *k = (gen_kernel *)*out;
    k->kind = kind;
    k->periodic = cpu_attr_int(n, "periodic", 1) != 0;
    return KILN_OK;
}
