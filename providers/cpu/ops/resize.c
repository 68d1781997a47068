/* SPDX-License-Identifier: MIT */
/* Resize (opsets 10-19) and Upsample. Every resized axis gets a table of source taps per output
 * position (index clamped to the input, weight) built from the coordinate transformation and
 * the mode; nearest is then a gather over per-axis index maps (any dtype), linear and cubic are
 * separable passes, one axis at a time, in float (double for double and integer data). Integer outputs are
 * rounded half to even and saturated. */
#include <math.h>
#include <string.h>

#include "providers/cpu/cpu_op.h"
#include "providers/cpu/ops/elem.h"
#include "providers/cpu/ops/strided.h"

#define MAXV (KILN_MAX_RANK * 2)

enum { M_NEAREST, M_LINEAR, M_CUBIC };
enum { C_HALF_PIXEL, C_HALF_PIXEL_SYM, C_PYTORCH, C_ALIGN, C_ASYM, C_TF_CROP };
enum { N_PREFER_FLOOR, N_PREFER_CEIL, N_FLOOR, N_CEIL };
enum { P_STRETCH, P_NOT_LARGER, P_NOT_SMALLER };

typedef struct resize_kernel {
    cpu_kernel base;
    int legacy;               /* Resize-10, Upsample: scales only, asymmetric, nearest rounds down */
    int upsample_attr;        /* Upsample-7: scales from the attribute */
    int mode, ctm, nearest, policy, antialias, exclude_outside;
    double cubic_a, extrapolation;
    uint32_t n_axes, n_attr;  /* axes attribute (18+); Upsample-7 scales */
    int64_t axes[MAXV];
    double attr_scales[MAXV];
} resize_kernel;

/* Per resized axis: `n` taps for each of `out` positions. */
typedef struct taps {
    int64_t n;
    int64_t *idx;     /* out * n source indices, inside [0, in) */
    double *w;        /* out * n weights */
    uint8_t *extra;   /* out flags: position extrapolated (tf_crop_and_resize) */
} taps;

/* ---- parameters ---- */

static kiln_status read_floats(const kiln_value_desc *t, double *v, uint32_t *n, const char *what, kiln_error *err) {
    *n = 0;
    if (!t) return KILN_OK;
    if (t->count > MAXV) return cpu_fail(err, KILN_ERR_SHAPE, "%s has too many values", what);
    if (t->dtype != KILN_DTYPE_FLOAT && t->dtype != KILN_DTYPE_DOUBLE && t->dtype != KILN_DTYPE_FLOAT16)
        return cpu_fail(err, KILN_ERR_SHAPE, "%s must be float", what);
    for (uint64_t i = 0; i < t->count; i++) v[i] = cpu_load_f64(t->data, t->dtype, (int64_t)i);
    *n = (uint32_t)t->count;
    return KILN_OK;
}

/* Per-dim scale, output size and roi of x (rank r); checks the output shape. */
static kiln_status resize_params(const resize_kernel *k, kiln_kernel_ctx *ctx, const kiln_value_desc *x,
                                 const kiln_value_desc *y, double *scale, double *rs, double *re, int *resized,
                                 kiln_error *err) {
    int32_t r = x->rank;
    int64_t axes[MAXV], out[KILN_MAX_RANK];
    uint32_t na = k->n_axes ? k->n_axes : (uint32_t)r;
    double sv[MAXV], roi[MAXV];
    uint32_t ns = 0, nroi = 0, nz = 0;
    for (int32_t d = 0; d < r; d++) scale[d] = 1, out[d] = x->dims[d], rs[d] = 0, re[d] = 1, resized[d] = 0;
    if (k->n_axes) memcpy(axes, k->axes, na * sizeof(int64_t));
    else for (uint32_t i = 0; i < na; i++) axes[i] = i;
    for (uint32_t i = 0; i < na; i++) {
        if (axes[i] < -(int64_t)r || axes[i] >= r) return cpu_fail(err, KILN_ERR_SHAPE, "axis %lld is out of range", (long long)axes[i]);
        if (axes[i] < 0) axes[i] += r;
    }
    const kiln_value_desc *sizes = NULL;
    if (k->upsample_attr) {
        ns = k->n_attr;
        memcpy(sv, k->attr_scales, ns * sizeof(double));
    } else if (k->legacy) {
        KILN_CPU_TRY(read_floats(cpu_in(ctx, 1), sv, &ns, "scales", err));
    } else {
        KILN_CPU_TRY(read_floats(cpu_in(ctx, 1), roi, &nroi, "roi", err));
        KILN_CPU_TRY(read_floats(cpu_in(ctx, 2), sv, &ns, "scales", err));
        sizes = cpu_in(ctx, 3);
        if (sizes && sizes->count == 0) sizes = NULL;
        if (sizes && (sizes->dtype != KILN_DTYPE_INT64 || sizes->count > MAXV))
            return cpu_fail(err, KILN_ERR_SHAPE, "sizes must be int64 with at most %d values", MAXV);
        nz = sizes ? (uint32_t)sizes->count : 0;
        if (ns && nz) return cpu_fail(err, KILN_ERR_SHAPE, "only one of scales and sizes may be given");
        if (!ns && !nz) return cpu_fail(err, KILN_ERR_SHAPE, "one of scales and sizes is required");
    }
    if (nroi && nroi != 2 * na) return cpu_fail(err, KILN_ERR_SHAPE, "roi has %u values for %u axes", nroi, na);
    for (uint32_t i = 0; i < nroi / 2; i++) rs[axes[i]] = roi[i], re[axes[i]] = roi[na + i];
    if (ns) {
        if (ns != na) return cpu_fail(err, KILN_ERR_SHAPE, "scales has %u values for %u axes", ns, na);
        for (uint32_t i = 0; i < na; i++) {
            if (!(sv[i] > 0) || sv[i] > 1e9) return cpu_fail(err, KILN_ERR_SHAPE, "scale %g is not valid", sv[i]);
            scale[axes[i]] = sv[i];
            out[axes[i]] = (int64_t)floor((double)x->dims[axes[i]] * sv[i]);
        }
    } else {
        if (nz != na) return cpu_fail(err, KILN_ERR_SHAPE, "sizes has %u values for %u axes", nz, na);
        const int64_t *z = sizes->data;
        double s = k->policy == P_NOT_LARGER ? INFINITY : 0;
        for (uint32_t i = 0; i < na; i++) {
            int64_t in = x->dims[axes[i]];
            if (z[i] < 0) return cpu_fail(err, KILN_ERR_SHAPE, "size %lld is negative", (long long)z[i]);
            if (k->policy == P_STRETCH) {
                out[axes[i]] = z[i];
                scale[axes[i]] = in ? (double)z[i] / (double)in : 1;
            } else if (in) {
                double q = (double)z[i] / (double)in;
                s = k->policy == P_NOT_LARGER ? fmin(s, q) : fmax(s, q);
            }
        }
        if (k->policy != P_STRETCH)
            for (uint32_t i = 0; i < na; i++) {
                int64_t in = x->dims[axes[i]];
                scale[axes[i]] = isfinite(s) && s > 0 ? s : 1;
                out[axes[i]] = in ? (int64_t)(s * (double)in + 0.5) : 0;
            }
    }
    for (int32_t d = 0; d < r; d++) {
        if (y->dims[d] != out[d]) return cpu_fail(err, KILN_ERR_INTERNAL, "Resize output shape differs from shape inference");
        /* identity axes are skipped, as in the reference: same size, scale 1, full roi */
        resized[d] = !(out[d] == x->dims[d] && fabs(scale[d] - 1) < 1e-9 && (k->ctm != C_TF_CROP || (rs[d] == 0 && re[d] == 1)));
    }
    return KILN_OK;
}

/* ---- taps ---- */

/* Source coordinate of output position j (the coordinate_transformation_mode formulas). */
static double source_coord(const resize_kernel *k, int64_t j, double scale, int64_t in, int64_t out, double rs, double re,
                           int *extra) {
    double width = scale * (double)in, x;
    *extra = 0;
    switch (k->legacy ? C_ASYM : k->ctm) {
    case C_ALIGN: return width == 1 ? 0 : (double)j * (double)(in - 1) / (width - 1);
    case C_ASYM: return (double)j / scale;
    case C_PYTORCH: return width == 1 ? 0 : ((double)j + 0.5) / scale - 0.5;
    case C_HALF_PIXEL_SYM: {
        double offset = (double)in / 2 * (1 - (double)out / width);
        return offset + ((double)j + 0.5) / scale - 0.5;
    }
    case C_TF_CROP:
        x = width == 1 ? (re - rs) * (double)(in - 1) / 2 : (double)j * (re - rs) * (double)(in - 1) / (width - 1);
        x += rs * (double)(in - 1);
        *extra = x < 0 || x > (double)(in - 1);
        return x;
    default: return ((double)j + 0.5) / scale - 0.5;
    }
}

static double cubic_w(double x, double a) {
    x = fabs(x);
    if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    return 0;
}

/* Taps per output position for one axis; buffers from scratch. */
static kiln_status build_taps(const resize_kernel *k, kiln_kernel_ctx *ctx, int64_t in, int64_t out, double scale, double rs,
                              double re, taps *t, kiln_error *err) {
    double s = scale < 1 ? scale : 1;
    int64_t n, first = 0; /* first: tap offset of antialias windows */
    if (k->mode == M_NEAREST) n = 1;
    else if (!k->antialias) n = k->mode == M_LINEAR ? 2 : 4;
    else if (k->mode == M_LINEAR) first = (int64_t)floor(-1 / s) + 1, n = 2 - 2 * first;
    else first = (int64_t)floor(-2 / s) + 1, n = 2 - 2 * first;
    if (n > (INT64_C(1) << 20)) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Resize antialias window of %lld taps is too large", (long long)n);
    t->n = n;
    t->idx = ctx->host->scratch(ctx, (size_t)(out * n + 1) * sizeof(int64_t));
    t->w = ctx->host->scratch(ctx, (size_t)(out * n + 1) * sizeof(double));
    t->extra = ctx->host->scratch(ctx, (size_t)out + 1);
    if (!t->idx || !t->w || !t->extra) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    for (int64_t j = 0; j < out; j++) {
        int ex;
        double x = source_coord(k, j, scale, in, out, rs, re, &ex);
        double fl = floor(x), ratio = x == fl ? 1 : x - fl;
        int64_t *ix = t->idx + j * n;
        double *w = t->w + j * n;
        t->extra[j] = (uint8_t)ex;
        if (!isfinite(x) || fabs(x) > 1e15) x = 0, fl = 0, ratio = 1, t->extra[j] = 1;
        if (k->mode == M_NEAREST) {
            int64_t p = (int64_t)fl;
            if (x != fl) {
                int up = k->legacy ? 0
                       : k->nearest == N_PREFER_FLOOR ? ratio > 0.5
                       : k->nearest == N_PREFER_CEIL  ? ratio >= 0.5
                       : k->nearest == N_CEIL;
                p += up;
            }
            ix[0] = p < 0 ? 0 : p >= in ? in - 1 : p;
            w[0] = 1;
            continue;
        }
        /* the window of n taps nearest to x, the lower one on ties */
        int64_t start = (int64_t)fl - n / 2 + (x == fl ? 0 : 1);
        double sum = 0;
        for (int64_t q = 0; q < n; q++) {
            if (!k->antialias && k->mode == M_LINEAR) w[q] = q == 0 ? 1 - ratio : ratio;
            else if (!k->antialias) w[q] = cubic_w(ratio + 1 - (double)q, k->cubic_a);
            else if (k->mode == M_LINEAR) w[q] = fmax(0, 1 - fabs(((double)(first + q) - ratio) * s));
            else w[q] = cubic_w(s * ((double)(first + q) - ratio), k->cubic_a);
            sum += w[q];
        }
        if (k->antialias && sum != 0)
            for (int64_t q = 0; q < n; q++) w[q] /= sum;
        if (k->exclude_outside) {
            sum = 0;
            for (int64_t q = 0; q < n; q++) {
                if (start + q < 0 || start + q >= in) w[q] = 0;
                sum += w[q];
            }
            if (sum != 0)
                for (int64_t q = 0; q < n; q++) w[q] /= sum;
        }
        for (int64_t q = 0; q < n; q++) {
            int64_t p = start + q;
            ix[q] = p < 0 ? 0 : p >= in ? in - 1 : p;
        }
    }
    return KILN_OK;
}

/* ---- nearest: gather through index maps ---- */

#define NEAREST_ROW(T)                                                         \
    do {                                                                       \
        T *d_ = (T *)dst, e_;                                                  \
        const T *s_ = (const T *)src;                                          \
        memcpy(&e_, ext, sizeof(T));                                           \
        for (int64_t j_ = 0; j_ < n; j_++) d_[j_] = lmap[j_] < 0 ? e_ : s_[lmap[j_]]; \
    } while (0)

typedef struct nearest_job {
    const kiln_value_desc *x;
    kiln_value_desc *y;
    const taps *tp;
    const int *resized;
    const int64_t *xs, *lmap;
    int64_t n;
    size_t es;
    int plain;
    const uint8_t *ext;
    kiln_kernel_ctx *ctx; /* strings only: they run on the calling thread */
    kiln_status st;
    kiln_error *err;
} nearest_job;

/* Output rows [begin, end) (a row: the last axis at fixed other indices). */
static void nearest_rows(void *arg, size_t begin, size_t end) {
    nearest_job *j = arg;
    const kiln_value_desc *x = j->x;
    kiln_value_desc *y = j->y;
    int32_t r = x->rank;
    int64_t n = j->n, idx[KILN_MAX_RANK] = {0};
    size_t es = j->es;
    const int64_t *lmap = j->lmap;
    const uint8_t *ext = j->ext;
    /* the indices of row `begin`, last varying fastest */
    int64_t rem = (int64_t)begin;
    for (int32_t d = r - 2; d >= 0; d--) {
        idx[d] = y->dims[d] ? rem % y->dims[d] : 0;
        rem = y->dims[d] ? rem / y->dims[d] : 0;
    }
    for (int64_t row = (int64_t)begin; row < (int64_t)end; row++) {
        int64_t so = 0, out_row = 0;
        for (int32_t d = 0; d < r - 1; d++) {
            int64_t i = idx[d];
            if (j->resized[d]) {
                if (j->tp[d].extra[i]) out_row = 1;
                i = j->tp[d].idx[i];
            }
            so += i * j->xs[d];
        }
        char *dst = (char *)y->data + row * n * (int64_t)es;
        const char *src = (const char *)x->data + so * (int64_t)es;
        if (j->plain && !out_row && (es == 1 || es == 2 || es == 4 || es == 8)) {
            switch (es) {
            case 1: NEAREST_ROW(uint8_t); break;
            case 2: NEAREST_ROW(uint16_t); break;
            case 4: NEAREST_ROW(uint32_t); break;
            default: NEAREST_ROW(uint64_t); break;
            }
        } else {
            for (int64_t q = 0; q < n; q++) {
                if (out_row || lmap[q] < 0) {
                    if (j->plain) memcpy(dst + q * (int64_t)es, ext, es);
                } else if (j->plain) {
                    memcpy(dst + q * (int64_t)es, src + lmap[q] * (int64_t)es, es);
                } else if (j->st == KILN_OK) {
                    j->st = cpu_copy_run(j->ctx, x, so + lmap[q], y, row * n + q, 1, j->err);
                }
            }
        }
        for (int32_t d = r - 2; d >= 0; d--) {
            if (++idx[d] < y->dims[d]) break;
            idx[d] = 0;
        }
    }
}

static kiln_status nearest_gather(const resize_kernel *k, kiln_kernel_ctx *ctx, const kiln_value_desc *x, kiln_value_desc *y,
                                  taps *tp, const int *resized, kiln_error *err) {
    int32_t r = x->rank;
    int64_t xs[KILN_MAX_RANK];
    cpu_strides(x->dims, r, xs);
    int64_t n = r ? y->dims[r - 1] : 1, rows = n ? (int64_t)y->count / n : 0;
    int64_t *lmap = ctx->host->scratch(ctx, (size_t)(n + 1) * sizeof(int64_t));
    if (!lmap) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    /* -1 marks an extrapolated position */
    for (int64_t q = 0; q < n; q++)
        lmap[q] = r && resized[r - 1] ? (tp[r - 1].extra[q] ? -1 : tp[r - 1].idx[q]) : q;
    size_t es = cpu_dtype_size(x->dtype);
    uint8_t ext[16] = {0};
    if (cpu_elem_numeric(x->dtype)) cpu_store_f64(ext, x->dtype, 0, k->extrapolation);
    nearest_job j = {x, y, tp, resized, xs, lmap, n, es, x->dtype != KILN_DTYPE_STRING && es, ext, ctx, KILN_OK, err};
    if (!rows) return KILN_OK;
    if (j.plain) cpu_parallel_for(ctx, (size_t)rows, cpu_grain((uint64_t)n), nearest_rows, &j);
    else nearest_rows(&j, 0, (size_t)rows);
    return j.st;
}

/* ---- linear / cubic: separable passes ---- */

typedef struct pass {
    const taps *t;
    const void *wt;      /* t->w in the compute type */
    const void *src;
    void *dst;
    int64_t in, out, inner;
    int dbl;
    double extrapolation;
} pass;

/* Rows [begin, end) of a pass: row = o * out + j. The innermost axis (inner == 1) is a dot
 * product per output element (linear's two taps unrolled); other axes blend whole inner runs,
 * which vectorizes. Weights come in the compute type (p->wt). */
#define PASS_ROWS(T)                                                                          \
    do {                                                                                      \
        const T *src = p->src, *wts = p->wt;                                                  \
        T *dst = p->dst;                                                                      \
        const int64_t n = p->t->n, inner = p->inner;                                          \
        int64_t o = (int64_t)begin / p->out, j = (int64_t)begin % p->out;                     \
        for (size_t row = begin; row < end; row++) {                                          \
            T *d = dst + (int64_t)row * inner;                                                \
            const T *base = src + o * p->in * inner, *wt = wts + j * n;                       \
            const int64_t *ix = p->t->idx + j * n;                                            \
            if (p->t->extra[j]) {                                                             \
                for (int64_t i = 0; i < inner; i++) d[i] = (T)p->extrapolation;               \
            } else if (inner == 1 && n == 2) {                                                \
                d[0] = wt[0] * base[ix[0]] + wt[1] * base[ix[1]];                             \
            } else if (inner == 1) {                                                          \
                T acc = 0;                                                                    \
                for (int64_t q = 0; q < n; q++) acc += wt[q] * base[ix[q]];                   \
                d[0] = acc;                                                                   \
            } else {                                                                          \
                const T w0 = wt[0], *s0 = base + ix[0] * inner;                               \
                for (int64_t i = 0; i < inner; i++) d[i] = w0 * s0[i];                        \
                for (int64_t q = 1; q < n; q++) {                                             \
                    const T w = wt[q], *s = base + ix[q] * inner;                             \
                    if (w == 0) continue;                                                     \
                    for (int64_t i = 0; i < inner; i++) d[i] += w * s[i];                     \
                }                                                                             \
            }                                                                                 \
            if (++j == p->out) j = 0, o++;                                                    \
        }                                                                                     \
    } while (0)

static void pass_range(void *arg, size_t begin, size_t end) {
    const pass *p = arg;
    if (p->dbl) PASS_ROWS(double);
    else PASS_ROWS(float);
}

/* Converts n elements of src (dtype dt) to float/double. */
static void to_compute(const void *src, int32_t dt, void *dst, int dbl, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        double v = cpu_load_f64(src, dt, i);
        if (dbl) ((double *)dst)[i] = v;
        else ((float *)dst)[i] = (float)v;
    }
}

static void from_compute(const void *src, int dbl, void *dst, int32_t dt, int64_t n) {
    int integer = dt != KILN_DTYPE_FLOAT && dt != KILN_DTYPE_DOUBLE && dt != KILN_DTYPE_FLOAT16 && dt != KILN_DTYPE_BFLOAT16;
    for (int64_t i = 0; i < n; i++) {
        double v = dbl ? ((const double *)src)[i] : ((const float *)src)[i];
        cpu_store_f64(dst, dt, i, integer ? nearbyint(v) : v);
    }
}

static kiln_status interpolate(const resize_kernel *k, kiln_kernel_ctx *ctx, const kiln_value_desc *x, kiln_value_desc *y,
                               taps *tp, const int *resized, const int32_t *order, kiln_error *err) {
    int32_t r = x->rank;
    /* float math for float, float16, bfloat16; double for double and the integer types, whose
     * rounding at .5 boundaries would otherwise differ from a double reference */
    int dbl = x->dtype != KILN_DTYPE_FLOAT && x->dtype != KILN_DTYPE_FLOAT16 && x->dtype != KILN_DTYPE_BFLOAT16;
    size_t cs = dbl ? sizeof(double) : sizeof(float);
    int native = x->dtype == KILN_DTYPE_FLOAT || x->dtype == KILN_DTYPE_DOUBLE;
    int64_t cur[KILN_MAX_RANK], most = (int64_t)x->count, npass = 0;
    memcpy(cur, x->dims, sizeof(int64_t) * (size_t)r);
    for (int32_t i = 0; i < r; i++) {
        int32_t d = order[i];
        if (!resized[d]) continue;
        cur[d] = y->dims[d];
        int64_t c = cpu_count(cur, r);
        if (c > most) most = c;
        npass++;
    }
    void *bufs[2] = {ctx->host->scratch(ctx, (size_t)(most + 1) * cs), npass > 1 ? ctx->host->scratch(ctx, (size_t)(most + 1) * cs) : NULL};
    if (!bufs[0] || (npass > 1 && !bufs[1])) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    const void *src = x->data;
    if (!native) {
        void *conv = ctx->host->scratch(ctx, (x->count + 1) * cs);
        if (!conv) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        to_compute(x->data, x->dtype, conv, dbl, (int64_t)x->count);
        src = conv;
    }
    memcpy(cur, x->dims, sizeof(int64_t) * (size_t)r);
    int64_t done = 0;
    for (int32_t i = 0; i < r; i++) {
        int32_t d = order[i];
        if (!resized[d]) continue;
        done++;
        void *dst = done == npass && native ? y->data : bufs[(done - 1) & 1];
        pass p = {&tp[d], tp[d].w, src, dst, cur[d], y->dims[d], 1, dbl, k->extrapolation};
        if (!dbl) {
            int64_t nw = y->dims[d] * tp[d].n;
            float *wf = ctx->host->scratch(ctx, (size_t)(nw + 1) * sizeof(float));
            if (!wf) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
            for (int64_t q = 0; q < nw; q++) wf[q] = (float)tp[d].w[q];
            p.wt = wf;
        }
        int64_t outer = 1;
        for (int32_t e = 0; e < d; e++) outer *= cur[e];
        for (int32_t e = d + 1; e < r; e++) p.inner *= cur[e];
        cur[d] = y->dims[d];
        int64_t rows = outer * p.out;
        if (rows && p.inner) cpu_parallel_for(ctx, (size_t)rows, (size_t)(p.inner * p.t->n >= 4096 ? 1 : 4096 / (p.inner * p.t->n) + 1), pass_range, &p);
        src = dst;
    }
    if (npass == 0) {
        if (native) memcpy(y->data, x->data, x->count * cs);
        else from_compute(src, dbl, y->data, y->dtype, (int64_t)y->count);
    } else if (!native) {
        from_compute(src, dbl, y->data, y->dtype, (int64_t)y->count);
    }
    return KILN_OK;
}

static kiln_status resize_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const resize_kernel *k = (const resize_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    kiln_value_desc *y = ctx->outputs[0];
    int32_t r = x->rank;
    double scale[KILN_MAX_RANK], rs[KILN_MAX_RANK], re[KILN_MAX_RANK];
    int resized[KILN_MAX_RANK];
    if (!y || y->rank != r) return cpu_fail(err, KILN_ERR_INTERNAL, "Resize output was not sized");
    KILN_CPU_TRY(resize_params(k, ctx, x, y, scale, rs, re, resized, err));
    if (y->count == 0) return KILN_OK;
    taps tp[KILN_MAX_RANK];
    memset(tp, 0, sizeof(tp));
    for (int32_t d = 0; d < r; d++) {
        if (!resized[d]) continue;
        if (x->dims[d] == 0) return cpu_fail(err, KILN_ERR_SHAPE, "cannot resize an empty dim to %lld", (long long)y->dims[d]);
        KILN_CPU_TRY(build_taps(k, ctx, x->dims[d], y->dims[d], scale[d], rs[d], re[d], &tp[d], err));
    }
    if (k->mode == M_NEAREST) return nearest_gather(k, ctx, x, y, tp, resized, err);
    /* Pass order: shrinking axes first (less data for the later passes), then growing ones;
     * among equals the innermost first, whose per-element pass is the costlier one and so
     * runs on the smaller tensor. Interpolation is separable, so the order only affects
     * rounding. */
    int32_t order[KILN_MAX_RANK], no = 0;
    int exact = x->dtype != KILN_DTYPE_FLOAT && x->dtype != KILN_DTYPE_FLOAT16 && x->dtype != KILN_DTYPE_BFLOAT16;
    for (int32_t d = r - 1; d >= 0; d--) {
        double ratio = (double)y->dims[d] / (double)x->dims[d];
        int32_t at = no++;
        /* double and integer data keep ascending axes, the reference's order, so rounding ties
         * of integer outputs land the same way */
        while (at > 0 && (exact || ratio < (double)y->dims[order[at - 1]] / (double)x->dims[order[at - 1]])) {
            order[at] = order[at - 1];
            at--;
        }
        order[at] = d;
    }
    return interpolate(k, ctx, x, y, tp, resized, order, err);
}

static int pick(const char *s, const char *const *names, int n) {
    for (int i = 0; i < n; i++)
        if (!strcmp(s, names[i])) return i;
    return -1;
}

kiln_status kiln_cpu_resize(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    static const char *const modes[] = {"nearest", "linear", "cubic"};
    static const char *const ctms[] = {"half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
                                       "asymmetric", "tf_crop_and_resize"};
    static const char *const nearests[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
    static const char *const policies[] = {"stretch", "not_larger", "not_smaller"};
    int32_t dt = cpu_input_dtype(n, 0);
    int upsample = cpu_op_is(n, "Upsample");
    const char *ms = cpu_attr_str(n, "mode", "nearest");
    int mode = pick(ms, modes, 3);
    if (upsample && !strcmp(ms, "bilinear")) mode = M_LINEAR;
    int legacy = upsample || n->opset < 11;
    if (mode < 0 || (legacy && mode == M_CUBIC)) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "%s mode '%s' is not implemented", n->op_type, ms);
    if (!cpu_dtype_size(dt)) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "%s is not implemented for %s", n->op_type, cpu_dtype_name(dt));
    if (mode != M_NEAREST && (!cpu_elem_numeric(dt) || dt == KILN_DTYPE_BOOL))
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "%s mode '%s' is not implemented for %s", n->op_type, ms, cpu_dtype_name(dt));
    const char *cs = legacy ? "asymmetric" : cpu_attr_str(n, "coordinate_transformation_mode", "half_pixel");
    const char *ns = cpu_attr_str(n, "nearest_mode", "round_prefer_floor");
    const char *ps = n->opset >= 18 ? cpu_attr_str(n, "keep_aspect_ratio_policy", "stretch") : "stretch";
    int ctm = pick(cs, ctms, 6), nearest = pick(ns, nearests, 4), policy = pick(ps, policies, 3);
    if (ctm < 0 || (ctm == C_HALF_PIXEL_SYM && n->opset < 19))
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Resize coordinate_transformation_mode '%s' is not implemented", cs);
    if (nearest < 0) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Resize nearest_mode '%s' is not implemented", ns);
    if (policy < 0) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Resize keep_aspect_ratio_policy '%s' is not implemented", ps);
    uint32_t na = 0, nsc = 0;
    const int64_t *axes = n->opset >= 18 && !legacy ? cpu_attr_ints(n, "axes", &na) : NULL;
    const float *sc = upsample && n->opset < 9 ? cpu_attr_floats(n, "scales", &nsc) : NULL;
    if (na > MAXV || nsc > MAXV || (upsample && n->opset < 9 && !sc))
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "%s has invalid axes or scales attributes", n->op_type);
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(resize_kernel), resize_compute, out, err));
    resize_kernel *k = (resize_kernel *)*out;
    k->legacy = legacy;
    k->upsample_attr = sc != NULL;
    k->mode = mode, k->ctm = ctm, k->nearest = nearest, k->policy = policy;
    k->antialias = n->opset >= 18 && cpu_attr_int(n, "antialias", 0) != 0 && mode != M_NEAREST;
    k->exclude_outside = !legacy && cpu_attr_int(n, "exclude_outside", 0) != 0;
    k->cubic_a = cpu_attr_float(n, "cubic_coeff_a", -0.75f);
    k->extrapolation = cpu_attr_float(n, "extrapolation_value", 0.0f);
    k->n_axes = na;
    if (na) memcpy(k->axes, axes, na * sizeof(int64_t));
    k->n_attr = nsc;
    for (uint32_t i = 0; i < nsc; i++) k->attr_scales[i] = sc[i];
    return KILN_OK;
}
