/* SPDX-License-Identifier: MIT */
/* Pooling: MaxPool (with the optional Indices output, storage_order, dilations, ceil_mode),
 * AveragePool (count_include_pad), LpPool, and the global forms, over any number of spatial
 * axes. float32, double and (MaxPool) int8/uint8 run natively; float16 and bfloat16 in float32. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels/q8-maxpool/q8-maxpool.h"
#include "kernels/f32-pool/f32-pool.h"
#include "providers/cpu/cpu_op.h"
#include "providers/cpu/ops/f32_io.h"
#include "providers/cpu/ops/window.h"

enum { POOL_MAX, POOL_AVG, POOL_LP, POOL_GLOBAL_AVG, POOL_GLOBAL_MAX, POOL_GLOBAL_LP };

typedef struct pool_kernel {
    cpu_kernel base;
    int kind;
    cpu_window_attrs wa;
    int count_include_pad;
    int storage_order;
    double p; /* LpPool exponent */
} pool_kernel;

typedef struct pool_job {
    const pool_kernel *k;
    cpu_window w;
    const void *x;
    void *y;
    int64_t *idx; /* MaxPool Indices output, or NULL */
    int q8_s8;    /* maxpool_q8: the planes are int8 */
} pool_job;

/* Index of an input offset within its plane in column-major order (first spatial axis fastest). */
static int64_t col_major(const cpu_window *w, int64_t off) {
    int64_t pos[KILN_MAX_RANK];
    for (int32_t i = w->sp - 1; i >= 0; i--) {
        pos[i] = off % w->in[i];
        off /= w->in[i];
    }
    int64_t r = 0;
    for (int32_t i = w->sp - 1; i >= 0; i--) r = r * w->in[i] + pos[i];
    return r;
}

static double lp_term(double v, double p) {
    v = fabs(v);
    return p == 2.0 ? v * v : p == 1.0 ? v : pow(v, p);
}

static double lp_root(double s, double p) { return p == 2.0 ? sqrt(s) : p == 1.0 ? s : pow(s, 1.0 / p); }

/* Kernel taps [lo, hi) of one axis that land inside the input, for a window starting at `start`,
 * and the count of taps inside the input plus its end padding (count_include_pad). */
static void taps(int64_t start, int64_t k, int64_t d, int64_t in, int64_t pe, int64_t *lo, int64_t *hi, int64_t *padded) {
    *lo = start >= 0 ? 0 : (-start + d - 1) / d;
    *hi = in - start <= 0 ? 0 : (in - start + d - 1) / d;
    if (*hi > k) *hi = k;
    if (*lo > *hi) *lo = *hi;
    int64_t ph = in + pe - start <= 0 ? 0 : (in + pe - start + d - 1) / d;
    *padded = ph > k ? k : ph;
}

/* The 2-D case of POOL_RANGE: each window's valid rectangle is computed once, no per-tap checks. */
#define POOL_RANGE_2D(NAME, T, LOWEST)                                                                   \
    static void NAME##_2d(const pool_job *j, size_t begin, size_t end) {                                 \
        const cpu_window *w = &j->w;                                                                     \
        int kind = j->k->kind;                                                                           \
        int64_t in0 = w->in[0], in1 = w->in[1];                                                          \
        for (size_t plane = begin; plane < end; plane++) {                                               \
            const T *x = (const T *)j->x + plane * (size_t)w->in_size;                                   \
            T *y = (T *)j->y + plane * (size_t)w->out_size;                                              \
            for (int64_t oh = 0; oh < w->out[0]; oh++) {                                                 \
                int64_t hs = oh * w->s[0] - w->pb[0], h0, h1, hp;                                        \
                taps(hs, w->k[0], w->d[0], in0, w->pe[0], &h0, &h1, &hp);                                \
                for (int64_t ow = 0; ow < w->out[1]; ow++) {                                             \
                    int64_t ws = ow * w->s[1] - w->pb[1], w0, w1, wp;                                    \
                    taps(ws, w->k[1], w->d[1], in1, w->pe[1], &w0, &w1, &wp);                            \
                    size_t o = (size_t)(oh * w->out[1] + ow);                                            \
                    if (kind == POOL_MAX) {                                                              \
                        T best = LOWEST;                                                                 \
                        int64_t at = -1;                                                                 \
                        for (int64_t a = h0; a < h1; a++) {                                              \
                            const T *xr = x + (hs + a * w->d[0]) * in1; /* row; columns from ws */        \
                            for (int64_t b = w0; b < w1; b++) {                                          \
                                T v = xr[ws + b * w->d[1]];                                              \
                                if (at < 0 || v > best) best = v, at = (hs + a * w->d[0]) * in1 + ws + b * w->d[1]; \
                            }                                                                            \
                        }                                                                                \
                        y[o] = best;                                                                     \
                        if (j->idx) {                                                                    \
                            if (at >= 0 && j->k->storage_order) at = col_major(w, at);                   \
                            j->idx[plane * (size_t)w->out_size + o] = at < 0 ? -1 : (int64_t)plane * w->in_size + at; \
                        }                                                                                \
                    } else {                                                                             \
                        double acc = 0.0;                                                                \
                        for (int64_t a = h0; a < h1; a++) {                                              \
                            const T *xr = x + (hs + a * w->d[0]) * in1; /* row; columns from ws */        \
                            for (int64_t b = w0; b < w1; b++)                                            \
                                acc += kind == POOL_LP ? lp_term((double)xr[ws + b * w->d[1]], j->k->p) : (double)xr[ws + b * w->d[1]]; \
                        }                                                                                \
                        if (kind == POOL_LP) {                                                           \
                            y[o] = (T)lp_root(acc, j->k->p);                                             \
                        } else {                                                                         \
                            int64_t div = j->k->count_include_pad ? hp * wp : (h1 - h0) * (w1 - w0);     \
                            y[o] = (T)(div ? acc / (double)div : 0.0);                                   \
                        }                                                                                \
                    }                                                                                    \
                }                                                                                        \
            }                                                                                            \
        }                                                                                                \
    }

/* One range function per element type: planes [begin, end) of N*C. Windows are walked with an
 * odometer over the kernel offsets; positions in the padding are skipped (and counted for
 * count_include_pad when they lie inside the explicit padding). */
#define POOL_RANGE(NAME, T, LOWEST)                                                                       \
    static void NAME(void *arg, size_t begin, size_t end) {                                               \
        const pool_job *j = arg;                                                                          \
        const cpu_window *w = &j->w;                                                                      \
        int32_t sp = w->sp;                                                                               \
        int kind = j->k->kind;                                                                            \
        if (sp == 2) {                                                                                    \
            NAME##_2d(j, begin, end);                                                                     \
            return;                                                                                       \
        }                                                                                                 \
        for (size_t plane = begin; plane < end; plane++) {                                                \
            const T *x = (const T *)j->x + plane * (size_t)w->in_size;                                    \
            T *y = (T *)j->y + plane * (size_t)w->out_size;                                               \
            int64_t oidx[KILN_MAX_RANK] = {0};                                                            \
            for (int64_t o = 0; o < w->out_size; o++) {                                                   \
                int64_t lo[KILN_MAX_RANK], kidx[KILN_MAX_RANK] = {0};                                     \
                for (int32_t i = 0; i < sp; i++) lo[i] = oidx[i] * w->s[i] - w->pb[i];                    \
                T best = LOWEST;                                                                          \
                int64_t best_at = -1, count = 0, padded = 0;                                              \
                double acc = 0.0;                                                                         \
                for (int64_t kk = 0; kk < w->k_size; kk++) {                                              \
                    int64_t off = 0;                                                                      \
                    int inside = 1, in_box = 1;                                                           \
                    for (int32_t i = 0; i < sp; i++) {                                                    \
                        int64_t p = lo[i] + kidx[i] * w->d[i];                                            \
                        if (p < 0 || p >= w->in[i]) inside = 0;                                           \
                        if (p >= w->in[i] + w->pe[i]) in_box = 0;                                         \
                        off = off * w->in[i] + p;                                                         \
                    }                                                                                     \
                    if (inside) {                                                                         \
                        T v = x[off];                                                                     \
                        if (kind == POOL_MAX) {                                                           \
                            if (best_at < 0 || v > best) best = v, best_at = off;                         \
                        } else {                                                                          \
                            acc += kind == POOL_LP ? lp_term((double)v, j->k->p) : (double)v;             \
                        }                                                                                 \
                        count++;                                                                          \
                    }                                                                                     \
                    padded += in_box;                                                                     \
                    for (int32_t i = sp - 1; i >= 0; i--) {                                               \
                        if (++kidx[i] < w->k[i]) break;                                                   \
                        kidx[i] = 0;                                                                      \
                    }                                                                                     \
                }                                                                                         \
                if (kind == POOL_MAX) {                                                                   \
                    y[o] = best;                                                                          \
                    if (j->idx) {                                                                         \
                        int64_t at = best_at;                                                             \
                        if (at >= 0 && j->k->storage_order) at = col_major(w, at);                        \
                        j->idx[plane * (size_t)w->out_size + (size_t)o] =                                 \
                            at < 0 ? -1 : (int64_t)plane * w->in_size + at;                               \
                    }                                                                                     \
                } else if (kind == POOL_LP) {                                                             \
                    y[o] = (T)lp_root(acc, j->k->p);                                                      \
                } else {                                                                                  \
                    int64_t div = j->k->count_include_pad ? padded : count;                               \
                    y[o] = (T)(div ? acc / (double)div : 0.0);                                            \
                }                                                                                         \
                for (int32_t i = sp - 1; i >= 0; i--) {                                                   \
                    if (++oidx[i] < w->out[i]) break;                                                     \
                    oidx[i] = 0;                                                                          \
                }                                                                                         \
            }                                                                                             \
        }                                                                                                 \
    }

POOL_RANGE_2D(pool_f32, float, -FLT_MAX)
POOL_RANGE_2D(pool_f64, double, -DBL_MAX)
POOL_RANGE_2D(pool_s8, int8_t, INT8_MIN)
POOL_RANGE_2D(pool_u8, uint8_t, 0)
POOL_RANGE(pool_f32, float, -FLT_MAX)
POOL_RANGE(pool_f64, double, -DBL_MAX)
POOL_RANGE(pool_s8, int8_t, INT8_MIN)
POOL_RANGE(pool_u8, uint8_t, 0)

typedef struct global_job {
    int kind;
    double p;
    const void *x;
    void *y;
    int64_t size;
} global_job;

#define GLOBAL_RANGE(NAME, T)                                                                  \
    static void NAME(void *arg, size_t begin, size_t end) {                                    \
        const global_job *j = arg;                                                             \
        for (size_t p = begin; p < end; p++) {                                                 \
            const T *x = (const T *)j->x + p * (size_t)j->size;                                \
            T *y = (T *)j->y + p;                                                              \
            if (j->kind == POOL_GLOBAL_MAX) {                                                  \
                T m = j->size ? x[0] : (T)0;                                                   \
                for (int64_t i = 1; i < j->size; i++) m = x[i] > m ? x[i] : m;                 \
                *y = m;                                                                        \
            } else if (j->kind == POOL_GLOBAL_LP) {                                            \
                double s = 0.0;                                                                \
                for (int64_t i = 0; i < j->size; i++) s += lp_term((double)x[i], j->p);        \
                *y = (T)lp_root(s, j->p);                                                      \
            } else {                                                                           \
                double s = 0.0;                                                                \
                for (int64_t i = 0; i < j->size; i++) s += x[i];                               \
                *y = (T)(j->size ? s / (double)j->size : 0.0);                                 \
            }                                                                                  \
        }                                                                                      \
    }

GLOBAL_RANGE(global_f32, float)
GLOBAL_RANGE(global_f64, double)
GLOBAL_RANGE(global_s8, int8_t)
GLOBAL_RANGE(global_u8, uint8_t)

/* 2-D MaxPool of 8-bit planes without Indices and dilations: kernels/q8-maxpool, a row buffer
 * on the stack (the caller checks the width fits). */
#define Q8_MAXPOOL_ROW 8192
static void maxpool_q8(void *arg, size_t begin, size_t end) {
    const pool_job *j = arg;
    const cpu_window *w = &j->w;
    uint8_t row[Q8_MAXPOOL_ROW];
    kiln_q8_maxpool_shape s = {w->in[0], w->in[1], w->out[0], w->out[1], w->k[0], w->k[1], w->s[0], w->s[1], w->pb[0], w->pb[1]};
    for (size_t p = begin; p < end; p++)
        kiln_q8_maxpool2d(&s, (const uint8_t *)j->x + p * (size_t)w->in_size, j->q8_s8, (uint8_t *)j->y + p * (size_t)w->out_size, row);
}

/* float32 MaxPool (without Indices) and AveragePool, 1-D and 2-D: the separable kernel
 * (kernels/f32-pool), one chunk of planes per thread, each with its row buffer. */
typedef struct fast_pool_job {
    kiln_f32_pool_params p;
    kiln_f32_pool_fn fn;
    const float *x;
    float *y, *work;
    size_t work_floats, chunks, planes;
} fast_pool_job;

static void fast_pool_range(void *arg, size_t begin, size_t end) {
    const fast_pool_job *j = arg;
    size_t in_plane = (size_t)(j->p.ih * j->p.iw), out_plane = (size_t)(j->p.oh * j->p.ow);
    for (size_t t = begin; t < end; t++) {
        float *work = j->work + t * j->work_floats;
        for (size_t plane = t * j->planes / j->chunks; plane < (t + 1) * j->planes / j->chunks; plane++)
            j->fn(&j->p, j->x + plane * in_plane, work, j->y + plane * out_plane);
    }
}

/* 1 when the fast path ran (KILN_ERR_* in *st on failure), 0 when the case is not its. */
static int fast_pool(const pool_kernel *k, kiln_kernel_ctx *ctx, const cpu_window *w, const float *x, float *y,
                     size_t planes, kiln_status *st, kiln_error *err) {
    *st = KILN_OK;
    if ((k->kind != POOL_MAX && k->kind != POOL_AVG) || (w->sp != 1 && w->sp != 2)) return 0;
    int two = w->sp == 2;
    fast_pool_job j;
    memset(&j, 0, sizeof j);
    j.p = (kiln_f32_pool_params){two ? w->in[0] : 1, w->in[two], two ? w->out[0] : 1, w->out[two],
                                 two ? w->k[0] : 1, w->k[two], two ? w->s[0] : 1, w->s[two],
                                 two ? w->d[0] : 1, w->d[two], two ? w->pb[0] : 0, w->pb[two],
                                 two ? w->pe[0] : 0, w->pe[two], k->kind == POOL_MAX ? KILN_POOL_MAX : KILN_POOL_AVG,
                                 k->count_include_pad};
    j.fn = kiln_f32_pool_get();
    j.x = x, j.y = y, j.planes = planes;
    uint64_t work_total = (uint64_t)planes * (uint64_t)w->out_size * (uint64_t)w->k_size;
    j.chunks = work_total < 4u * CPU_TASK_WORK ? 1 : cpu_thread_count(ctx);
    if (j.chunks > planes) j.chunks = planes;
    if (j.chunks < 1) j.chunks = 1;
    j.work_floats = (kiln_f32_pool_work_size(&j.p) + 15) / 16 * 16;
    j.work = ctx->host->scratch(ctx, j.chunks * j.work_floats * sizeof(float) + 64);
    if (!j.work) {
        *st = cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for pooling buffers");
        return 1;
    }
    if (j.chunks < 2) fast_pool_range(&j, 0, 1);
    else cpu_parallel_for(ctx, j.chunks, 1, fast_pool_range, &j);
    return 1;
}

static kiln_status pool_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const pool_kernel *k = (const pool_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    kiln_value_desc *y = ctx->outputs[0];
    if (x->rank < 3) return cpu_fail(err, KILN_ERR_SHAPE, "input must have rank 3 or more");
    if (y->count == 0) return KILN_OK;
    int32_t dt = x->dtype;
    int half = dt == KILN_DTYPE_FLOAT16 || dt == KILN_DTYPE_BFLOAT16;
    const void *xd = half ? (const void *)f32_view(ctx, x) : x->data;
    void *yd = half ? (void *)f32_out(ctx, y) : y->data;
    if (!xd || !yd) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for pooling buffers");
    int64_t planes = x->dims[0] * x->dims[1];
    kiln_range_fn fn;
    if (k->kind >= POOL_GLOBAL_AVG) {
        global_job j = {k->kind, k->p, xd, yd, planes ? (int64_t)x->count / planes : 0};
        fn = dt == KILN_DTYPE_DOUBLE ? global_f64 : dt == KILN_DTYPE_INT8 ? global_s8 : dt == KILN_DTYPE_UINT8 ? global_u8 : global_f32;
        cpu_parallel_for(ctx, (size_t)planes, cpu_grain((uint64_t)j.size), fn, &j);
    } else {
        pool_job j = {k, {0}, xd, yd, NULL, 0};
        KILN_CPU_TRY(cpu_window_resolve(&k->wa, x, y, NULL, &j.w, err));
        if (ctx->n_outputs > 1 && ctx->outputs[1]) j.idx = ctx->outputs[1]->data;
        kiln_status st;
        if (dt != KILN_DTYPE_DOUBLE && dt != KILN_DTYPE_INT8 && dt != KILN_DTYPE_UINT8 && !j.idx &&
            fast_pool(k, ctx, &j.w, xd, yd, (size_t)planes, &st, err)) {
            if (st == KILN_OK && half) f32_commit(y, yd);
            return st;
        }
        int q8 = k->kind == POOL_MAX && (dt == KILN_DTYPE_UINT8 || dt == KILN_DTYPE_INT8) && j.w.sp == 2 && !j.idx &&
                 j.w.d[0] == 1 && j.w.d[1] == 1 && j.w.in[1] <= Q8_MAXPOOL_ROW;
        j.q8_s8 = dt == KILN_DTYPE_INT8;
        fn = q8 ? maxpool_q8 : dt == KILN_DTYPE_DOUBLE ? pool_f64 : dt == KILN_DTYPE_INT8 ? pool_s8 : dt == KILN_DTYPE_UINT8 ? pool_u8 : pool_f32;
        cpu_parallel_for(ctx, (size_t)planes, cpu_grain((uint64_t)j.w.out_size * (uint64_t)j.w.k_size), fn, &j);
    }
    if (half) f32_commit(y, yd);
    return KILN_OK;
}

kiln_status kiln_cpu_pool(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int kind = cpu_op_is(n, "MaxPool") ? POOL_MAX : cpu_op_is(n, "AveragePool") ? POOL_AVG
             : cpu_op_is(n, "LpPool") ? POOL_LP : cpu_op_is(n, "GlobalAveragePool") ? POOL_GLOBAL_AVG
             : cpu_op_is(n, "GlobalMaxPool") ? POOL_GLOBAL_MAX : POOL_GLOBAL_LP;
    int32_t dt = cpu_input_dtype(n, 0);
    int ints = (dt == KILN_DTYPE_INT8 || dt == KILN_DTYPE_UINT8) && (kind == POOL_MAX || kind == POOL_GLOBAL_MAX);
    if (!f32_io_supported(dt) && !ints)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "%s is not implemented for %s", n->op_type, cpu_dtype_name(dt));
    cpu_window_attrs wa;
    memset(&wa, 0, sizeof(wa));
    if (kind < POOL_GLOBAL_AVG) {
        KILN_CPU_TRY(cpu_window_read(n, &wa, err));
        if (!wa.n_kernel) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "kernel_shape is required");
    }
    double p = cpu_attr_float(n, "p", 2.0f);
    if ((kind == POOL_LP || kind == POOL_GLOBAL_LP) && !(p > 0.0 && p <= 1e6))
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "%s: p must be positive", n->op_type);
    int storage_order = (int)cpu_attr_int(n, "storage_order", 0);
    if (storage_order != 0 && storage_order != 1) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "storage_order must be 0 or 1");
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(pool_kernel), pool_compute, out, err));
    pool_kernel *k = (pool_kernel *)*out;
    k->kind = kind;
    k->wa = wa;
    k->count_include_pad = cpu_attr_int(n, "count_include_pad", 0) != 0;
    k->storage_order = storage_order;
    k->p = p;
    return KILN_OK;
}
