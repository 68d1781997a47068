/* SPDX-License-Identifier: MIT */
/* Normalizations: BatchNormalization (inference, and training_mode batch statistics from opset
 * 14), LayerNormalization, RMSNormalization, InstanceNormalization, GroupNormalization,
 * MeanVarianceNormalization, LpNormalization, LRN. float32 and float64; float16/bfloat16 are
 * computed in float32. Statistics (means, variances) accumulate in double, two-pass. */
#include <math.h>
#include <string.h>

#include "kernels/common/half.h"
#include "kernels/f32-vmath/f32-vmath.h"
#include "providers/cpu/cpu_op.h"
#include "providers/cpu/ops/elem.h"

enum { N_BATCH, N_LAYER, N_RMS, N_INST, N_GROUP, N_MVN, N_LP, N_LRN };

#define CH 256 /* positions handled together on the stack */

typedef struct norm_kernel {
    cpu_kernel base;
    int kind;
    int32_t dtype;
    double eps, momentum;
    int training;     /* BatchNormalization: batch statistics */
    int spatial;      /* BatchNormalization before 9: 0 gives per-feature parameters */
    int group_scale;  /* GroupNormalization before 21: scale and bias per group */
    int64_t axis, groups, p, size;
    double alpha, beta, bias;
    uint32_t n_axes;
    int64_t axes[KILN_MAX_RANK];
} norm_kernel;

/* ---- element access for any float type ---- */

static double get_f(int32_t dt, const void *p, size_t i) { return cpu_load_f64(p, dt, (int64_t)i); }

static void put_f(int32_t dt, void *p, size_t i, double v) { cpu_store_f64(p, dt, (int64_t)i, v); }

static int is_float(int32_t dt) {
    return dt == KILN_DTYPE_FLOAT || dt == KILN_DTYPE_DOUBLE || dt == KILN_DTYPE_FLOAT16 || dt == KILN_DTYPE_BFLOAT16;
}

/* The compute lane: double for float64, float for the rest. */
static int wide(const norm_kernel *k) { return k->dtype == KILN_DTYPE_DOUBLE; }
static size_t lane_size(const norm_kernel *k) { return wide(k) ? 8 : 4; }

static void *scratch(kiln_kernel_ctx *ctx, size_t n, size_t es, kiln_error *err) {
    void *p = ctx->host->scratch(ctx, n * es + 1);
    if (!p) cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "no memory for %zu scratch elements", n);
    return p;
}

/* X in the lane type: the tensor, or a float32 copy of a float16/bfloat16 one. */
static kiln_status lane_in(kiln_kernel_ctx *ctx, const norm_kernel *k, const kiln_value_desc *x, const void **out,
                           kiln_error *err) {
    if (k->dtype == KILN_DTYPE_FLOAT || k->dtype == KILN_DTYPE_DOUBLE) {
        *out = x->data;
        return KILN_OK;
    }
    float *f = scratch(ctx, (size_t)x->count, 4, err);
    if (!f) return err->status;
    for (size_t i = 0; i < x->count; i++) f[i] = (float)get_f(k->dtype, x->data, i);
    *out = f;
    return KILN_OK;
}

/* Y in the lane type: the output, or a float32 buffer narrowed by lane_out. */
static kiln_status lane_y(kiln_kernel_ctx *ctx, const norm_kernel *k, kiln_value_desc *y, void **out, kiln_error *err) {
    if (k->dtype == KILN_DTYPE_FLOAT || k->dtype == KILN_DTYPE_DOUBLE) {
        *out = y->data;
        return KILN_OK;
    }
    *out = scratch(ctx, (size_t)y->count, 4, err);
    return *out ? KILN_OK : err->status;
}

static void lane_out(const norm_kernel *k, const void *buf, kiln_value_desc *y) {
    if (k->dtype == KILN_DTYPE_FLOAT || k->dtype == KILN_DTYPE_DOUBLE) return;
    for (size_t i = 0; i < y->count; i++) put_f(k->dtype, y->data, i, ((const float *)buf)[i]);
}

/* A 1-D-sized parameter (any float type, `n` elements) as doubles. */
static kiln_status param(kiln_kernel_ctx *ctx, const kiln_value_desc *t, int64_t n, const char *what, double **out,
                         kiln_error *err) {
    if (!t) return cpu_fail(err, KILN_ERR_SHAPE, "%s is required", what);
    if (!is_float(t->dtype)) return cpu_fail(err, KILN_ERR_SHAPE, "%s must be a float tensor, not %s", what, cpu_dtype_name(t->dtype));
    if ((int64_t)t->count != n)
        return cpu_fail(err, KILN_ERR_SHAPE, "%s has %llu elements, expected %lld", what, (unsigned long long)t->count, (long long)n);
    double *d = scratch(ctx, (size_t)n, 8, err);
    if (!d) return err->status;
    for (int64_t i = 0; i < n; i++) d[i] = get_f(t->dtype, t->data, (size_t)i);
    *out = d;
    return KILN_OK;
}

/* Mean and mean squared deviation (about the mean, or about 0 for rms) of a contiguous run, two
 * passes. Each pass keeps eight partial sums in T over blocks of 512 elements (the loop
 * vectorizes) and adds each block's total in double. */
#define DEF_STATS(NAME, T)                                                                 \
    static double NAME##_sum(const T *x, int64_t n, T m, int sq) {                         \
        double total = 0.0;                                                                \
        for (int64_t i = 0; i < n;) {                                                      \
            int64_t end = n - i > 512 ? i + 512 : n, top = i + ((end - i) & ~(int64_t)7);  \
            T s8[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                            \
            if (sq)                                                                        \
                for (; i < top; i += 8)                                                    \
                    for (int u = 0; u < 8; u++) {                                          \
                        T d = x[i + u] - m;                                                \
                        s8[u] += d * d;                                                    \
                    }                                                                      \
            else                                                                           \
                for (; i < top; i += 8)                                                    \
                    for (int u = 0; u < 8; u++) s8[u] += x[i + u];                         \
            double s = ((double)s8[0] + s8[1]) + ((double)s8[2] + s8[3]) + ((double)s8[4] + s8[5]) + \
                       ((double)s8[6] + s8[7]);                                            \
            for (; i < end; i++) {                                                         \
                double d = sq ? (double)x[i] - m : (double)x[i];                           \
                s += sq ? d * d : d;                                                       \
            }                                                                              \
            total += s;                                                                    \
        }                                                                                  \
        return total;                                                                      \
    }                                                                                      \
    static void NAME(const T *x, int64_t n, int rms, double *mean, double *var) {          \
        double m = rms || !n ? 0.0 : NAME##_sum(x, n, 0, 0) / (double)n;                   \
        *mean = m;                                                                         \
        *var = n ? NAME##_sum(x, n, (T)m, 1) / (double)n : 0.0;                            \
    }
DEF_STATS(stats_f32, float)
DEF_STATS(stats_f64, double)

/* ---- BatchNormalization ---- */

typedef struct bn_job {
    const void *x;
    void *y;
    const double *a, *b; /* y = x * a[c] + b[c] */
    double *mean, *var;  /* training: batch statistics per channel */
    int64_t n, c, s;
} bn_job;

#define DEF_BN(APPLY, STATS, T)                                                            \
    static void APPLY(void *arg, size_t b, size_t e) {                                     \
        const bn_job *j = arg;                                                             \
        for (size_t p = b; p < e; p++) {                                                   \
            int64_t ch = (int64_t)p % j->c;                                                \
            const T *x = (const T *)j->x + (int64_t)p * j->s;                              \
            T *y = (T *)j->y + (int64_t)p * j->s;                                          \
            T a = (T)j->a[ch], c0 = (T)j->b[ch];                                           \
            for (int64_t i = 0; i < j->s; i++) y[i] = x[i] * a + c0;                       \
        }                                                                                  \
    }                                                                                      \
    static void STATS(void *arg, size_t b, size_t e) {                                     \
        const bn_job *j = arg;                                                             \
        for (size_t ch = b; ch < e; ch++) {                                                \
            double sum = 0.0, sq = 0.0, cnt = (double)(j->n * j->s);                       \
            for (int64_t n = 0; n < j->n; n++) {                                           \
                const T *x = (const T *)j->x + (n * j->c + (int64_t)ch) * j->s;            \
                for (int64_t i = 0; i < j->s; i++) sum += x[i];                            \
            }                                                                              \
            double m = cnt > 0 ? sum / cnt : 0.0;                                          \
            for (int64_t n = 0; n < j->n; n++) {                                           \
                const T *x = (const T *)j->x + (n * j->c + (int64_t)ch) * j->s;            \
                for (int64_t i = 0; i < j->s; i++) sq += (x[i] - m) * (x[i] - m);          \
            }                                                                              \
            j->mean[ch] = m;                                                               \
            j->var[ch] = cnt > 0 ? sq / cnt : 0.0;                                         \
        }                                                                                  \
    }
DEF_BN(bn_apply_f32, bn_stats_f32, float)
DEF_BN(bn_apply_f64, bn_stats_f64, double)

static size_t grain_for(int64_t work_per_item) {
    return work_per_item >= 32768 ? 1 : (size_t)(32768 / (work_per_item > 0 ? work_per_item : 1));
}

static kiln_status batchnorm_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const norm_kernel *k = (const norm_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    kiln_value_desc *y = ctx->outputs[0];
    bn_job j = {.n = x->rank ? x->dims[0] : 1, .c = x->rank > 1 ? x->dims[1] : 1, .s = 1};
    for (int32_t d = 2; d < x->rank; d++) j.s *= x->dims[d];
    /* per-feature parameters (spatial = 0, before opset 9): one per element of C x D1 x ... */
    const kiln_value_desc *sc = cpu_in(ctx, 1);
    if (!k->spatial && sc && (int64_t)sc->count == j.c * j.s && j.s > 1) {
        j.c *= j.s;
        j.s = 1;
    }
    double *p[4];
    static const char *names[4] = {"scale", "B", "mean", "var"};
    for (uint32_t i = 0; i < 4; i++) KILN_CPU_TRY(param(ctx, cpu_in(ctx, i + 1), j.c, names[i], &p[i], err));
    if (x->count) {
        KILN_CPU_TRY(lane_in(ctx, k, x, &j.x, err));
        KILN_CPU_TRY(lane_y(ctx, k, y, &j.y, err));
    }
    double *ab = scratch(ctx, (size_t)j.c * 2, 8, err);
    if (!ab) return err->status;
    const double *mean = p[2], *var = p[3];
    if (k->training) { /* an empty batch has statistics 0 */
        j.mean = scratch(ctx, (size_t)j.c * 2, 8, err);
        if (!j.mean) return err->status;
        memset(j.mean, 0, (size_t)j.c * 2 * sizeof *j.mean);
        j.var = j.mean + j.c;
        if (x->count) cpu_parallel_for(ctx, (size_t)j.c, grain_for(j.n * j.s), wide(k) ? bn_stats_f64 : bn_stats_f32, &j);
        mean = j.mean;
        var = j.var;
        /* running statistics: input * momentum + batch * (1 - momentum) */
        for (uint32_t o = 1; o < 3 && o < ctx->n_outputs; o++) {
            kiln_value_desc *r = ctx->outputs[o];
            if (!r) continue;
            const double *in = o == 1 ? p[2] : p[3], *cur = o == 1 ? j.mean : j.var;
            for (int64_t c = 0; c < j.c; c++) put_f(r->dtype, r->data, (size_t)c, in[c] * k->momentum + cur[c] * (1.0 - k->momentum));
        }
    }
    if (!x->count) return KILN_OK;
    j.a = ab;
    j.b = ab + j.c;
    for (int64_t c = 0; c < j.c; c++) {
        ab[c] = p[0][c] / sqrt(var[c] + k->eps);
        ab[j.c + c] = p[1][c] - mean[c] * ab[c];
    }
    cpu_parallel_for(ctx, (size_t)(j.n * j.c), grain_for(j.s), wide(k) ? bn_apply_f64 : bn_apply_f32, &j);
    lane_out(k, j.y, y);
    return KILN_OK;
}

/* ---- LayerNormalization / RMSNormalization: rows of d contiguous elements ---- */

typedef struct ln_job {
    const void *x;
    void *y;
    const void *s, *b;     /* lane-typed, d elements (or d per row with per_row) */
    int per_row, rms;
    int64_t d;
    double eps;
    int32_t stat_dt;       /* dtype of mean/inv (0 when not wanted) */
    void *mean, *inv;
} ln_job;

#define DEF_LN(NAME, STATS, T)                                                             \
    static void NAME(void *arg, size_t b, size_t e) {                                      \
        const ln_job *j = arg;                                                             \
        for (size_t r = b; r < e; r++) {                                                   \
            const T *x = (const T *)j->x + (int64_t)r * j->d;                              \
            T *y = (T *)j->y + (int64_t)r * j->d;                                          \
            const T *s = (const T *)j->s + (j->per_row ? (int64_t)r * j->d : 0);           \
            const T *bb = j->b ? (const T *)j->b + (j->per_row ? (int64_t)r * j->d : 0) : NULL; \
            double m, v;                                                                   \
            STATS(x, j->d, j->rms, &m, &v);                                                \
            double inv = 1.0 / sqrt(v + j->eps);                                           \
            T mt = (T)m, it = (T)inv;                                                      \
            if (bb)                                                                        \
                for (int64_t i = 0; i < j->d; i++) y[i] = (x[i] - mt) * it * s[i] + bb[i]; \
            else                                                                           \
                for (int64_t i = 0; i < j->d; i++) y[i] = (x[i] - mt) * it * s[i];         \
            if (j->mean) put_f(j->stat_dt, j->mean, r, m);                                 \
            if (j->inv) put_f(j->stat_dt, j->inv, r, inv);                                 \
        }                                                                                  \
    }
/* float32 rows: the vectorized LayerNorm row kernel of kernels/f32-vmath (plain or RMS). */
static void ln_f32(void *arg, size_t b, size_t e) {
    const ln_job *j = arg;
    const kiln_f32_vmath_ops *ops = kiln_f32_vmath();
    for (size_t r = b; r < e; r++) {
        int64_t off = (int64_t)r * j->d, poff = j->per_row ? off : 0;
        kiln_f32_lnorm_row row = {(const float *)j->x + off, NULL, NULL, (const float *)j->s + poff,
                                  j->b ? (const float *)j->b + poff : NULL, (float *)j->y + off, NULL, (size_t)j->d,
                                  (float)j->eps, j->rms};
        double m, inv;
        ops->layernorm(&row, &m, &inv);
        if (j->mean) put_f(j->stat_dt, j->mean, r, m);
        if (j->inv) put_f(j->stat_dt, j->inv, r, inv);
    }
}
DEF_LN(ln_f64, stats_f64, double)

/* Parameter t, unidirectionally broadcast to x, expanded in the lane type over x's dims
 * [from, rank) -- or over all of x when t varies along an earlier dim (*per_row = 1). */
static kiln_status expand(kiln_kernel_ctx *ctx, const norm_kernel *k, const kiln_value_desc *t, const kiln_value_desc *x,
                          int32_t from, const char *what, const void **out, int *per_row, kiln_error *err) {
    if (!is_float(t->dtype)) return cpu_fail(err, KILN_ERR_SHAPE, "%s must be a float tensor, not %s", what, cpu_dtype_name(t->dtype));
    if (t->rank > x->rank) return cpu_fail(err, KILN_ERR_SHAPE, "%s has rank %d, more than X's %d", what, (int)t->rank, (int)x->rank);
    int64_t st[KILN_MAX_RANK], stride = 1;
    int32_t off = x->rank - t->rank;
    *per_row = 0;
    for (int32_t d = x->rank - 1; d >= 0; d--) {
        int64_t td = d >= off ? t->dims[d - off] : 1;
        if (td != 1 && td != x->dims[d])
            return cpu_fail(err, KILN_ERR_SHAPE, "%s dim %d is %lld, does not broadcast to X's %lld", what, (int)(d - off),
                            (long long)td, (long long)x->dims[d]);
        st[d] = td == 1 ? 0 : stride;
        stride *= td;
        if (td != 1 && d < from) *per_row = 1;
    }
    int32_t start = *per_row ? 0 : from;
    int64_t n = 1;
    for (int32_t d = start; d < x->rank; d++) n *= x->dims[d];
    void *buf = scratch(ctx, (size_t)n, lane_size(k), err);
    if (!buf) return err->status;
    int64_t idx[KILN_MAX_RANK] = {0}, src = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = get_f(t->dtype, t->data, (size_t)src);
        if (wide(k)) ((double *)buf)[i] = v;
        else ((float *)buf)[i] = (float)v;
        for (int32_t d = x->rank - 1; d >= start; d--) {
            src += st[d];
            if (++idx[d] < x->dims[d]) break;
            src -= idx[d] * st[d];
            idx[d] = 0;
        }
    }
    *out = buf;
    return KILN_OK;
}

static kiln_status layernorm_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const norm_kernel *k = (const norm_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    kiln_value_desc *y = ctx->outputs[0];
    int32_t r = x->rank;
    int64_t axis = k->axis;
    if (axis < -r || axis >= r) return cpu_fail(err, KILN_ERR_SHAPE, "axis %lld is out of range for rank %d", (long long)axis, (int)r);
    if (axis < 0) axis += r;
    ln_job j = {.rms = k->kind == N_RMS, .eps = k->eps, .d = 1};
    int64_t rows = 1;
    for (int32_t d = 0; d < r; d++) {
        if (d < axis) rows *= x->dims[d];
        else j.d *= x->dims[d];
    }
    int per_b = 0;
    KILN_CPU_TRY(expand(ctx, k, cpu_in(ctx, 1), x, (int32_t)axis, "Scale", &j.s, &j.per_row, err));
    if (!j.rms && cpu_in(ctx, 2)) {
        KILN_CPU_TRY(expand(ctx, k, cpu_in(ctx, 2), x, (int32_t)axis, "B", &j.b, &per_b, err));
        if (per_b != j.per_row) { /* one varies per row, the other not: expand both per row */
            int32_t all = 0;
            KILN_CPU_TRY(expand(ctx, k, cpu_in(ctx, 1), x, all, "Scale", &j.s, &j.per_row, err));
            KILN_CPU_TRY(expand(ctx, k, cpu_in(ctx, 2), x, all, "B", &j.b, &per_b, err));
            j.per_row = 1;
        }
    }
    for (uint32_t o = 1; o < 3 && o < ctx->n_outputs; o++) {
        if (!ctx->outputs[o]) continue;
        j.stat_dt = ctx->outputs[o]->dtype;
        if (o == 1) j.mean = ctx->outputs[o]->data;
        else j.inv = ctx->outputs[o]->data;
    }
    if (!x->count) { /* rows of no elements: their statistics are undefined */
        for (int64_t r = 0; r < rows && (j.mean || j.inv); r++) {
            if (j.mean) put_f(j.stat_dt, j.mean, (size_t)r, NAN);
            if (j.inv) put_f(j.stat_dt, j.inv, (size_t)r, NAN);
        }
        return KILN_OK;
    }
    KILN_CPU_TRY(lane_in(ctx, k, x, &j.x, err));
    KILN_CPU_TRY(lane_y(ctx, k, y, &j.y, err));
    cpu_parallel_for(ctx, (size_t)rows, grain_for(j.d * 3), wide(k) ? ln_f64 : ln_f32, &j);
    lane_out(k, j.y, y);
    return KILN_OK;
}

/* ---- InstanceNormalization / GroupNormalization: rows of (channels per group) x spatial ---- */

typedef struct gn_job {
    const void *x;
    void *y;
    const double *sc, *bc; /* per channel, or per group with per_group */
    int per_group;
    int64_t g, cpg, s;     /* groups, channels per group, spatial size */
    double eps;
} gn_job;

#define DEF_GN(NAME, STATS, T)                                                             \
    static void NAME(void *arg, size_t b, size_t e) {                                      \
        const gn_job *j = arg;                                                             \
        int64_t d = j->cpg * j->s;                                                         \
        for (size_t r = b; r < e; r++) {                                                   \
            const T *x = (const T *)j->x + (int64_t)r * d;                                 \
            T *y = (T *)j->y + (int64_t)r * d;                                             \
            int64_t g = (int64_t)r % j->g;                                                 \
            double m, v;                                                                   \
            STATS(x, d, 0, &m, &v);                                                        \
            double inv = 1.0 / sqrt(v + j->eps);                                           \
            for (int64_t c = 0; c < j->cpg; c++) {                                         \
                int64_t ch = j->per_group ? g : g * j->cpg + c;                            \
                double a = j->sc[ch] * inv, c0 = j->bc[ch] - m * a;                        \
                T at = (T)a, ct = (T)c0;                                                   \
                for (int64_t i = c * j->s; i < (c + 1) * j->s; i++) y[i] = x[i] * at + ct; \
            }                                                                              \
        }                                                                                  \
    }
DEF_GN(gn_f32, stats_f32, float)
DEF_GN(gn_f64, stats_f64, double)

static kiln_status groupnorm_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const norm_kernel *k = (const norm_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    kiln_value_desc *y = ctx->outputs[0];
    if (x->rank < 2) return cpu_fail(err, KILN_ERR_SHAPE, "X must have rank 2 or more (N x C x ...), not %d", (int)x->rank);
    int64_t n = x->dims[0], c = x->dims[1];
    gn_job j = {.eps = k->eps, .s = 1, .g = c, .cpg = 1};
    for (int32_t d = 2; d < x->rank; d++) j.s *= x->dims[d];
    int64_t np = c;
    if (k->kind == N_GROUP) {
        j.g = k->groups;
        if (c % j.g) return cpu_fail(err, KILN_ERR_SHAPE, "%lld channels do not split into %lld groups", (long long)c, (long long)j.g);
        j.cpg = c / j.g;
        j.per_group = k->group_scale;
        if (j.per_group) np = j.g;
    }
    KILN_CPU_TRY(param(ctx, cpu_in(ctx, 1), np, "scale", (double **)&j.sc, err));
    KILN_CPU_TRY(param(ctx, cpu_in(ctx, 2), np, "B", (double **)&j.bc, err));
    if (!x->count) return KILN_OK;
    KILN_CPU_TRY(lane_in(ctx, k, x, &j.x, err));
    KILN_CPU_TRY(lane_y(ctx, k, y, &j.y, err));
    cpu_parallel_for(ctx, (size_t)(n * j.g), grain_for(j.cpg * j.s * 3), wide(k) ? gn_f64 : gn_f32, &j);
    lane_out(k, j.y, y);
    return KILN_OK;
}

/* ---- MeanVarianceNormalization: statistics over any set of axes ---- */

#define DEF_MVN(NAME, T)                                                                   \
    static void NAME(const T *x, T *y, int32_t r, const int64_t *dims, const int64_t *ks, double *sum, \
                     double *sq, int64_t nk, double cnt) {                                 \
        int64_t idx[KILN_MAX_RANK] = {0}, at = 0, n = 1;                                   \
        for (int32_t d = 0; d < r; d++) n *= dims[d];                                      \
        for (int64_t i = 0; i < nk; i++) sum[i] = sq[i] = 0.0;                             \
        for (int pass = 0; pass < 3; pass++) {                                             \
            if (pass == 1)                                                                 \
                for (int64_t i = 0; i < nk; i++) sum[i] /= cnt;                            \
            if (pass == 2)                                                                 \
                for (int64_t i = 0; i < nk; i++) sq[i] = sqrt(sq[i] / cnt) + 1e-9;         \
            for (int64_t i = 0; i < n; i++) {                                              \
                if (pass == 0) sum[at] += x[i];                                            \
                else if (pass == 1) sq[at] += (x[i] - sum[at]) * (x[i] - sum[at]);         \
                else y[i] = (T)((x[i] - sum[at]) / sq[at]);                                \
                for (int32_t d = r - 1; d >= 0; d--) {                                     \
                    at += ks[d];                                                           \
                    if (++idx[d] < dims[d]) break;                                         \
                    at -= idx[d] * ks[d];                                                  \
                    idx[d] = 0;                                                            \
                }                                                                          \
            }                                                                              \
        }                                                                                  \
    }
DEF_MVN(mvn_f32, float)
DEF_MVN(mvn_f64, double)

static kiln_status mvn_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const norm_kernel *k = (const norm_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    kiln_value_desc *y = ctx->outputs[0];
    int32_t r = x->rank;
    uint8_t red[KILN_MAX_RANK] = {0};
    for (uint32_t i = 0; i < k->n_axes; i++) {
        int64_t a = k->axes[i];
        if (a < -r || a >= r) return cpu_fail(err, KILN_ERR_SHAPE, "axis %lld is out of range for rank %d", (long long)a, (int)r);
        red[a < 0 ? a + r : a] = 1;
    }
    /* strides of the statistics (kept dims) for every input dim; 0 along reduced ones */
    int64_t ks[KILN_MAX_RANK], nk = 1;
    double cnt = 1.0;
    for (int32_t d = r - 1; d >= 0; d--) {
        ks[d] = red[d] ? 0 : nk;
        if (red[d]) cnt *= (double)x->dims[d];
        else nk *= x->dims[d];
    }
    if (!x->count) return KILN_OK;
    const void *xl;
    void *yl;
    KILN_CPU_TRY(lane_in(ctx, k, x, &xl, err));
    KILN_CPU_TRY(lane_y(ctx, k, y, &yl, err));
    double *sum = scratch(ctx, (size_t)nk * 2, 8, err);
    if (!sum) return err->status;
    if (wide(k)) mvn_f64(xl, yl, r, x->dims, ks, sum, sum + nk, nk, cnt);
    else mvn_f32(xl, yl, r, x->dims, ks, sum, sum + nk, nk, cnt);
    lane_out(k, yl, y);
    return KILN_OK;
}

/* ---- LpNormalization (p 1 or 2 along one axis) and LRN (across channels) ---- */

typedef struct win_job {
    const norm_kernel *k;
    const void *x;
    void *y;
    int64_t outer, len, inner, nch;
} win_job;

/* LpNormalization: task = outer index × CH inner positions; a zero norm gives zeros. */
#define DEF_LP(NAME, T)                                                                    \
    static void NAME(void *arg, size_t b, size_t e) {                                      \
        const win_job *j = arg;                                                            \
        double nrm[CH];                                                                    \
        for (size_t t = b; t < e; t++) {                                                   \
            int64_t o = (int64_t)t / j->nch, i0 = ((int64_t)t % j->nch) * CH;              \
            int64_t ni = j->inner - i0 < CH ? j->inner - i0 : CH, in = j->inner;           \
            const T *x = (const T *)j->x + o * j->len * in + i0;                           \
            T *y = (T *)j->y + o * j->len * in + i0;                                       \
            for (int64_t i = 0; i < ni; i++) nrm[i] = 0.0;                                 \
            for (int64_t a = 0; a < j->len; a++)                                           \
                for (int64_t i = 0; i < ni; i++) {                                         \
                    double v = x[a * in + i];                                              \
                    nrm[i] += j->k->p == 1 ? fabs(v) : v * v;                              \
                }                                                                          \
            for (int64_t i = 0; i < ni; i++) nrm[i] = j->k->p == 1 ? nrm[i] : sqrt(nrm[i]); \
            for (int64_t a = 0; a < j->len; a++)                                           \
                for (int64_t i = 0; i < ni; i++)                                           \
                    y[a * in + i] = nrm[i] == 0.0 ? (T)0 : (T)(x[a * in + i] / nrm[i]);    \
        }                                                                                  \
    }
DEF_LP(lp_f32, float)
DEF_LP(lp_f64, double)

/* LRN: one task per (n, c) plane; the window is channels [c - floor((size-1)/2),
 * c + ceil((size-1)/2)] clipped to [0, C). */
#define DEF_LRN(NAME, T)                                                                   \
    static void NAME(void *arg, size_t b, size_t e) {                                      \
        const win_job *j = arg;                                                            \
        const norm_kernel *k = j->k;                                                       \
        int64_t c1 = (k->size - 1) / 2, c2 = k->size - 1 - c1, cc = j->len, s = j->inner;  \
        double acc[CH], scale = k->alpha / (double)k->size;                                \
        for (size_t p = b; p < e; p++) {                                                   \
            int64_t c = (int64_t)p % cc, n = (int64_t)p / cc;                              \
            int64_t lo = c - c1 < 0 ? 0 : c - c1, hi = c + c2 >= cc ? cc - 1 : c + c2;     \
            const T *xn = (const T *)j->x + n * cc * s;                                    \
            T *y = (T *)j->y + (n * cc + c) * s;                                           \
            for (int64_t i0 = 0; i0 < s; i0 += CH) {                                       \
                int64_t ni = s - i0 < CH ? s - i0 : CH;                                    \
                for (int64_t i = 0; i < ni; i++) acc[i] = 0.0;                             \
                for (int64_t w = lo; w <= hi; w++)                                         \
                    for (int64_t i = 0; i < ni; i++) {                                     \
                        double v = xn[w * s + i0 + i];                                     \
                        acc[i] += v * v;                                                   \
                    }                                                                      \
                for (int64_t i = 0; i < ni; i++)                                           \
                    y[i0 + i] = (T)(xn[c * s + i0 + i] / pow(k->bias + scale * acc[i], k->beta)); \
            }                                                                              \
        }                                                                                  \
    }
DEF_LRN(lrn_f32, float)
DEF_LRN(lrn_f64, double)

static kiln_status window_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const norm_kernel *k = (const norm_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    kiln_value_desc *y = ctx->outputs[0];
    int32_t r = x->rank;
    int64_t axis = k->axis;
    if (k->kind == N_LRN) {
        if (r < 2) return cpu_fail(err, KILN_ERR_SHAPE, "X must have rank 2 or more (N x C x ...), not %d", (int)r);
        axis = 1;
    } else if (axis < -r || axis >= r) {
        return cpu_fail(err, KILN_ERR_SHAPE, "axis %lld is out of range for rank %d", (long long)axis, (int)r);
    }
    if (axis < 0) axis += r;
    win_job j = {.k = k, .outer = 1, .len = 1, .inner = 1};
    for (int32_t d = 0; d < r; d++) {
        if (d < axis) j.outer *= x->dims[d];
        else if (d == axis) j.len = x->dims[d];
        else j.inner *= x->dims[d];
    }
    if (!x->count) return KILN_OK;
    KILN_CPU_TRY(lane_in(ctx, k, x, &j.x, err));
    KILN_CPU_TRY(lane_y(ctx, k, y, &j.y, err));
    if (k->kind == N_LRN) {
        int64_t win = k->size < j.len ? k->size : j.len; /* channels actually summed */
        cpu_parallel_for(ctx, (size_t)(j.outer * j.len), grain_for(j.inner * win), wide(k) ? lrn_f64 : lrn_f32, &j);
    } else {
        j.nch = (j.inner + CH - 1) / CH;
        cpu_parallel_for(ctx, (size_t)(j.outer * j.nch), grain_for(j.len * (j.inner < CH ? j.inner : CH) * 2),
                         wide(k) ? lp_f64 : lp_f32, &j);
    }
    lane_out(k, j.y, y);
    return KILN_OK;
}

/* ---- factory ---- */

kiln_status kiln_cpu_norm(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    static const struct {
        const char *name;
        int kind;
        cpu_compute_fn fn;
    } ops[] = {
        {"BatchNormalization", N_BATCH, batchnorm_compute}, {"LayerNormalization", N_LAYER, layernorm_compute},
        {"RMSNormalization", N_RMS, layernorm_compute},     {"InstanceNormalization", N_INST, groupnorm_compute},
        {"GroupNormalization", N_GROUP, groupnorm_compute}, {"MeanVarianceNormalization", N_MVN, mvn_compute},
        {"LpNormalization", N_LP, window_compute},          {"LRN", N_LRN, window_compute},
    };
    int at = -1;
    for (int i = 0; i < (int)(sizeof ops / sizeof *ops); i++)
        if (cpu_op_is(n, ops[i].name)) at = i;
    if (at < 0) return cpu_fail(err, KILN_ERR_INTERNAL, "%s is not a normalization", n->op_type);
    int32_t dt = cpu_input_dtype(n, 0);
    if (!is_float(dt)) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "%s is not implemented for %s", n->op_type, cpu_dtype_name(dt));
    int kind = ops[at].kind;
    int training = 0;
    if (kind == N_BATCH) {
        training = n->opset >= 14 && cpu_attr_int(n, "training_mode", 0) != 0;
        for (uint32_t o = 1; o < cpu_output_count(n); o++) {
            if (!cpu_output_info(n, o).present) continue;
            if (n->opset < 14)
                return cpu_fail(err, KILN_ERR_UNSUPPORTED,
                                "BatchNormalization training outputs (mean, var, saved_mean, saved_var) before opset 14");
            if (!training || o > 2)
                return cpu_fail(err, KILN_ERR_INVALID_MODEL, "BatchNormalization output %u needs training_mode=1", o);
        }
    }
    int64_t groups = 0, p = 2, size = 0;
    if (kind == N_GROUP) {
        groups = cpu_attr_int(n, "num_groups", 0);
        if (groups <= 0) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "num_groups must be positive, not %lld", (long long)groups);
    }
    if (kind == N_LP) {
        p = cpu_attr_int(n, "p", 2);
        if (p != 1 && p != 2) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "p must be 1 or 2, not %lld", (long long)p);
    }
    if (kind == N_LRN) {
        size = cpu_attr_int(n, "size", 0);
        if (size <= 0) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "size must be positive, not %lld", (long long)size);
    }
    uint32_t n_axes = 0;
    const int64_t *axes = NULL;
    static const int64_t mvn_default[3] = {0, 2, 3};
    if (kind == N_MVN) {
        axes = cpu_attr_ints(n, "axes", &n_axes);
        if (!axes) {
            axes = mvn_default;
            n_axes = 3;
        }
        if (n_axes > KILN_MAX_RANK) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "%u axes given, at most %d", n_axes, KILN_MAX_RANK);
    }
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(norm_kernel), ops[at].fn, out, err));
    norm_kernel *k = (norm_kernel *)*out;
    k->kind = kind;
    k->dtype = dt;
    k->training = training;
    k->eps = cpu_attr_float(n, "epsilon", kind == N_MVN ? 1e-9f : 1e-5f);
    k->momentum = cpu_attr_float(n, "momentum", 0.9f);
    k->spatial = n->opset >= 9 || cpu_attr_int(n, "spatial", 1) != 0;
    k->group_scale = kind == N_GROUP && n->opset < 21;
    k->axis = cpu_attr_int(n, "axis", -1);
    k->groups = groups;
    k->p = p;
    k->size = size;
    k->alpha = cpu_attr_float(n, "alpha", 1e-4f);
    k->beta = cpu_attr_float(n, "beta", 0.75f);
    k->bias = cpu_attr_float(n, "bias", 1.0f);
    k->n_axes = n_axes;
    if (n_axes) memcpy(k->axes, axes, n_axes * sizeof *axes);
    return KILN_OK;
}
