/* SPDX-License-Identifier: MIT */
/* Reductions (ReduceSum/Mean/Max/Min/Prod/L1/L2/LogSum/LogSumExp/SumSquare) and ArgMax/ArgMin.
 * The input is seen as groups of kept and reduced dims; each task accumulates up to CH outputs
 * whose inputs are contiguous runs. Float sums accumulate in double; float16/bfloat16 are read
 * as float32 and narrow integers as int64/uint64, and results are narrowed back like a cast. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels/common/half.h"
#include "providers/cpu/cpu_op.h"

enum { R_SUM, R_MEAN, R_MAX, R_MIN, R_PROD, R_L1, R_L2, R_LOGSUM, R_LSE, R_SUMSQ };
/* Lanes: the type elements are computed in. */
enum { L_F32, L_F64, L_I64, L_U64 };

#define CH 256 /* outputs per task: their accumulators live on the stack */

static const struct {
    const char *name;
    int op;
} red_names[] = {
    {"ReduceSum", R_SUM},   {"ReduceMean", R_MEAN}, {"ReduceMax", R_MAX},          {"ReduceMin", R_MIN},
    {"ReduceProd", R_PROD}, {"ReduceL1", R_L1},     {"ReduceL2", R_L2},            {"ReduceLogSum", R_LOGSUM},
    {"ReduceLogSumExp", R_LSE}, {"ReduceSumSquare", R_SUMSQ},
};

typedef struct reduce_kernel {
    cpu_kernel base;
    int op, lane;
    int32_t dtype;
    int keepdims, noop, axes_input;
    uint32_t n_axes;
    int64_t axes[KILN_MAX_RANK];
    int64_t lo, hi; /* integer lanes: the dtype's range, identities of Max and Min */
    int arg_max, select_last; /* ArgMax/ArgMin */
    int64_t axis;
} reduce_kernel;

/* One call's geometry. Outputs are outer × inner (outer: the kept groups `k*`, in order); each
 * reads, for every combination of the reduced groups `r*`, `len` rows of `inner` elements
 * spaced `inner` apart (the innermost reduced group). */
typedef struct red_job {
    const reduce_kernel *k;
    const void *x;
    void *y;
    int32_t nk, nr;
    int64_t kdim[KILN_MAX_RANK], kstride[KILN_MAX_RANK], rdim[KILN_MAX_RANK], rstride[KILN_MAX_RANK];
    int64_t len, inner, nch, rcount;
} red_job;

static int64_t kept_base(const red_job *j, int64_t o) {
    int64_t base = 0;
    for (int32_t d = j->nk - 1; d >= 0; d--) {
        base += (o % j->kdim[d]) * j->kstride[d];
        o /= j->kdim[d];
    }
    return base;
}

/* Runs BODY with OFF set to the element offset of every span (the start of `len` rows) of the
 * outputs whose kept offset is `base`. */
#define FOR_SPANS(j, base, OFF, BODY)                                                      \
    do {                                                                                   \
        int64_t idx_[KILN_MAX_RANK], off_ = 0;                                             \
        for (int32_t q_ = 0; q_ < (j)->nr; q_++) idx_[q_] = 0;                             \
        for (;;) {                                                                         \
            const int64_t OFF = (base) + off_;                                             \
            BODY;                                                                          \
            int32_t d_ = (j)->nr - 1;                                                      \
            for (; d_ >= 0; d_--) {                                                        \
                off_ += (j)->rstride[d_];                                                  \
                if (++idx_[d_] < (j)->rdim[d_]) break;                                     \
                off_ -= idx_[d_] * (j)->rstride[d_];                                       \
                idx_[d_] = 0;                                                              \
            }                                                                              \
            if (d_ < 0) break;                                                             \
        }                                                                                  \
    } while (0)

/* Every element v (of type VT) of the task's outputs i (0..ni) goes through EXPR. */
#define RED_ROWS(VT, EXPR)                                                                 \
    FOR_SPANS(j, base, off_s, {                                                            \
        for (int64_t r_ = 0; r_ < j->len; r_++) {                                          \
            const VT *row_ = x + off_s + r_ * j->inner + i0;                               \
            for (int64_t i = 0; i < ni; i++) {                                             \
                VT v = row_[i];                                                            \
                EXPR;                                                                      \
            }                                                                              \
        }                                                                                  \
    })

/* Sum of F over a contiguous run: eight partial sums in T (the loop vectorizes) over blocks of
 * 512 elements, each block's total added in double, which bounds float32 round-off to what
 * 64 additions lose. */
#define DEF_SPAN_SUM(NAME, T, F)                                                           \
    static double NAME(const T *p, int64_t n) {                                            \
        double total = 0.0;                                                                \
        for (int64_t i = 0; i < n;) {                                                      \
            int64_t end = n - i > 512 ? i + 512 : n, top = i + ((end - i) & ~(int64_t)7);  \
            T s8[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                            \
            for (; i < top; i += 8)                                                        \
                for (int u = 0; u < 8; u++) {                                              \
                    T a = p[i + u];                                                        \
                    s8[u] += F(a);                                                         \
                }                                                                          \
            double s = ((double)s8[0] + s8[1]) + ((double)s8[2] + s8[3]) + ((double)s8[4] + s8[5]) + \
                       ((double)s8[6] + s8[7]);                                            \
            for (; i < end; i++) {                                                         \
                T a = p[i];                                                                \
                s += F(a);                                                                 \
            }                                                                              \
            total += s;                                                                    \
        }                                                                                  \
        return total;                                                                      \
    }
#define F_ID(a) (a)
#define F_SQ(a) ((a) * (a))
DEF_SPAN_SUM(span_sum_f32, float, F_ID)
DEF_SPAN_SUM(span_sq_f32, float, F_SQ)
DEF_SPAN_SUM(span_abs_f32, float, fabsf)
DEF_SPAN_SUM(span_sum_f64, double, F_ID)
DEF_SPAN_SUM(span_sq_f64, double, F_SQ)
DEF_SPAN_SUM(span_abs_f64, double, fabs)

/* Maximum (mx) or minimum of a contiguous run, folded into *acc; NaN wins. 64 running extremes
 * and NaN flags are updated by elementwise selects (a loop form that vectorizes); the tail keeps
 * four independent extremes to break the compare chain. */
#define DEF_SPAN_EXT(NAME, T, NT)                                                          \
    static void NAME(const T *p, int64_t n, int mx, double *acc) {                         \
        double r = *acc;                                                                   \
        int nan = r != r;                                                                  \
        int64_t i = 0;                                                                     \
        if (n >= 512) { /* shorter runs do not repay folding 64 lanes */                 \
            T m[64];                                                                       \
            NT nn[64];                                                                     \
            for (int u = 0; u < 64; u++) {                                                 \
                m[u] = p[u];                                                               \
                nn[u] = p[u] != p[u];                                                      \
            }                                                                              \
            for (i = 64; i + 64 <= n; i += 64) {                                           \
                const T *q = p + i;                                                        \
                if (mx)                                                                    \
                    for (int u = 0; u < 64; u++) m[u] = m[u] < q[u] ? q[u] : m[u];         \
                else                                                                       \
                    for (int u = 0; u < 64; u++) m[u] = m[u] > q[u] ? q[u] : m[u];         \
                for (int u = 0; u < 64; u++) nn[u] |= q[u] != q[u];                        \
            }                                                                              \
            for (int u = 0; u < 64; u++) {                                                 \
                nan |= nn[u] != 0;                                                         \
                r = (mx ? m[u] > r : m[u] < r) ? m[u] : r;                                 \
            }                                                                              \
        }                                                                                  \
        double r4[4] = {r, r, r, r};                                                       \
        for (; i + 4 <= n; i += 4)                                                         \
            for (int u = 0; u < 4; u++) {                                                  \
                T v = p[i + u];                                                            \
                nan |= v != v;                                                             \
                r4[u] = (mx ? v > r4[u] : v < r4[u]) ? v : r4[u];                          \
            }                                                                              \
        for (; i < n; i++) {                                                               \
            T v = p[i];                                                                    \
            nan |= v != v;                                                                 \
            r4[0] = (mx ? v > r4[0] : v < r4[0]) ? v : r4[0];                              \
        }                                                                                  \
        for (int u = 0; u < 4; u++) r = (mx ? r4[u] > r : r4[u] < r) ? r4[u] : r;          \
        *acc = nan ? NAN : r;                                                              \
    }
DEF_SPAN_EXT(span_ext_f32, float, int32_t)
DEF_SPAN_EXT(span_ext_f64, double, int64_t)

/* Floating lanes: accumulators in double. */
#define DEF_FLOAT_LANE(NAME, T, SUM, SQ, ABS, EXT)                                              \
    static void NAME(void *arg, size_t b, size_t e) {                                      \
        const red_job *j = arg;                                                            \
        const T *x = j->x;                                                                 \
        T *y = j->y;                                                                       \
        int op = j->k->op;                                                                 \
        double acc[CH], s2[CH];                                                            \
        int span = j->inner == 1;                                                          \
        for (size_t t = b; t < e; t++) {                                                   \
            int64_t o = (int64_t)t / j->nch, i0 = ((int64_t)t % j->nch) * CH;              \
            int64_t ni = j->inner - i0 < CH ? j->inner - i0 : CH;                          \
            int64_t base = kept_base(j, o);                                                \
            double init = op == R_PROD ? 1.0 : op == R_MAX || op == R_LSE ? -INFINITY     \
                        : op == R_MIN ? INFINITY : 0.0;                                    \
            for (int64_t i = 0; i < ni; i++) acc[i] = init;                                \
            switch (op) {                                                                  \
            case R_SUM: case R_MEAN: case R_LOGSUM:                                        \
                if (span) FOR_SPANS(j, base, off, acc[0] += SUM(x + off, j->len));         \
                else RED_ROWS(T, acc[i] += v);                                             \
                break;                                                                     \
            case R_L2: case R_SUMSQ:                                                       \
                if (span) FOR_SPANS(j, base, off, acc[0] += SQ(x + off, j->len));          \
                else RED_ROWS(T, acc[i] += (double)v * v);                                 \
                break;                                                                     \
            case R_L1:                                                                     \
                if (span) FOR_SPANS(j, base, off, acc[0] += ABS(x + off, j->len));         \
                else RED_ROWS(T, acc[i] += fabs((double)v));                               \
                break;                                                                     \
            case R_MAX: case R_LSE: case R_MIN:                                            \
                if (span) FOR_SPANS(j, base, off, EXT(x + off, j->len, op != R_MIN, &acc[0])); \
                else if (op != R_MIN) RED_ROWS(T, if (v > acc[i] || v != v) acc[i] = v);   \
                else RED_ROWS(T, if (v < acc[i] || v != v) acc[i] = v);                    \
                break;                                                                     \
            case R_PROD: RED_ROWS(T, acc[i] *= v); break;                                  \
            default: break;                                                                \
            }                                                                              \
            if (op == R_LSE) {                                                             \
                for (int64_t i = 0; i < ni; i++) s2[i] = 0.0;                              \
                RED_ROWS(T, s2[i] += exp((double)v - acc[i]));                             \
            }                                                                              \
            T *dst = y + o * j->inner + i0;                                                \
            for (int64_t i = 0; i < ni; i++) {                                             \
                double a = acc[i];                                                         \
                switch (op) {                                                              \
                case R_MEAN: a = a / (double)j->rcount; break;                             \
                case R_L2: a = sqrt(a); break;                                             \
                case R_LOGSUM: a = log(a); break;                                          \
                case R_LSE: a = isfinite(a) ? a + log(s2[i]) : a; break;                   \
                default: break;                                                            \
                }                                                                          \
                dst[i] = (T)a;                                                             \
            }                                                                              \
        }                                                                                  \
    }
DEF_FLOAT_LANE(red_f32, float, span_sum_f32, span_sq_f32, span_abs_f32, span_ext_f32)
DEF_FLOAT_LANE(red_f64, double, span_sum_f64, span_sq_f64, span_abs_f64, span_ext_f64)

/* double → integer without undefined behaviour: NaN gives 0, out of range saturates. */
static int64_t d2i(double v) {
    if (v != v) return 0;
    if (v >= 9223372036854775807.0) return INT64_MAX;
    if (v <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)v;
}
static uint64_t d2u(double v) {
    if (v != v || v <= 0) return 0;
    if (v >= 18446744073709551615.0) return UINT64_MAX;
    return (uint64_t)v;
}
static uint64_t abs_i64(int64_t v) { return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v; }
static uint64_t abs_u64(uint64_t v) { return v; }

/* Integer lanes: sums and products wrap in uint64 (like numpy's integer arithmetic), max/min
 * compare in T, the rest finish in double. */
#define DEF_INT_LANE(NAME, T, ABS, FROMD)                                                  \
    static void NAME(void *arg, size_t b, size_t e) {                                      \
        const red_job *j = arg;                                                            \
        const T *x = j->x;                                                                 \
        T *y = j->y;                                                                       \
        int op = j->k->op;                                                                 \
        uint64_t acc[CH];                                                                  \
        double s2[CH];                                                                     \
        for (size_t t = b; t < e; t++) {                                                   \
            int64_t o = (int64_t)t / j->nch, i0 = ((int64_t)t % j->nch) * CH;              \
            int64_t ni = j->inner - i0 < CH ? j->inner - i0 : CH;                          \
            int64_t base = kept_base(j, o);                                                \
            uint64_t init = op == R_PROD ? 1u : op == R_MAX || op == R_LSE ? (uint64_t)j->k->lo \
                          : op == R_MIN ? (uint64_t)j->k->hi : 0u;                         \
            for (int64_t i = 0; i < ni; i++) acc[i] = init;                                \
            switch (op) {                                                                  \
            case R_SUM: case R_MEAN: case R_LOGSUM: RED_ROWS(T, acc[i] += (uint64_t)v); break; \
            case R_L2: case R_SUMSQ: RED_ROWS(T, acc[i] += (uint64_t)v * (uint64_t)v); break; \
            case R_L1: RED_ROWS(T, acc[i] += ABS(v)); break;                               \
            case R_MAX: case R_LSE: RED_ROWS(T, if (v > (T)acc[i]) acc[i] = (uint64_t)v); break; \
            case R_MIN: RED_ROWS(T, if (v < (T)acc[i]) acc[i] = (uint64_t)v); break;       \
            case R_PROD: RED_ROWS(T, acc[i] *= (uint64_t)v); break;                        \
            default: break;                                                                \
            }                                                                              \
            if (op == R_LSE) {                                                             \
                for (int64_t i = 0; i < ni; i++) s2[i] = 0.0;                              \
                RED_ROWS(T, s2[i] += exp((double)v - (double)(T)acc[i]));                  \
            }                                                                              \
            T *dst = y + o * j->inner + i0;                                                \
            for (int64_t i = 0; i < ni; i++) {                                             \
                T a = (T)acc[i];                                                           \
                switch (op) {                                                              \
                case R_MEAN: a = j->rcount ? a / (T)j->rcount : 0; break;                  \
                case R_L2: a = FROMD(sqrt((double)a)); break;                              \
                case R_LOGSUM: a = FROMD(log((double)a)); break;                           \
                case R_LSE: a = j->rcount ? FROMD((double)a + log(s2[i])) : a; break;      \
                default: break;                                                            \
                }                                                                          \
                dst[i] = a;                                                                \
            }                                                                              \
        }                                                                                  \
    }
DEF_INT_LANE(red_i64, int64_t, abs_i64, d2i)
DEF_INT_LANE(red_u64, uint64_t, abs_u64, d2u)

/* ---- ArgMax / ArgMin: outer × len × inner, NaN beats any number (numpy's rule) ---- */

typedef struct arg_job {
    const reduce_kernel *k;
    const void *x;
    int64_t *y;
    int64_t len, inner, nch;
} arg_job;

#define IS_NAN_F(v) ((v) != (v))
#define IS_NAN_I(v) 0
/* A contiguous row: the extreme value first (NaN when there is one), then the first or last
 * position holding it. Two simple passes beat one pass with data-dependent branches. */
#define DEF_ARG_ROW(NAME, T, EXT)                                                          \
    static int64_t NAME(const T *p, int64_t n, int mx, int last) {                         \
        T m = EXT(p, n, mx);                                                               \
        int nan = m != m;                                                                  \
        if (last) {                                                                        \
            for (int64_t a = n - 1; a > 0; a--)                                            \
                if (nan ? p[a] != p[a] : p[a] == m) return a;                              \
            return 0;                                                                      \
        }                                                                                  \
        for (int64_t a = 0; a < n; a++)                                                    \
            if (nan ? p[a] != p[a] : p[a] == m) return a;                                  \
        return 0;                                                                          \
    }
static float ext_f32(const float *p, int64_t n, int mx) {
    double e = mx ? -INFINITY : INFINITY;
    span_ext_f32(p, n, mx, &e);
    return (float)e;
}
static double ext_f64(const double *p, int64_t n, int mx) {
    double e = mx ? -INFINITY : INFINITY;
    span_ext_f64(p, n, mx, &e);
    return e;
}
#define DEF_EXT_INT(NAME, T)                                                               \
    static T NAME(const T *p, int64_t n, int mx) {                                         \
        T m = p[0];                                                                        \
        if (mx)                                                                            \
            for (int64_t a = 1; a < n; a++) m = p[a] > m ? p[a] : m;                       \
        else                                                                               \
            for (int64_t a = 1; a < n; a++) m = p[a] < m ? p[a] : m;                       \
        return m;                                                                          \
    }
DEF_EXT_INT(ext_i64, int64_t)
DEF_EXT_INT(ext_u64, uint64_t)
DEF_ARG_ROW(argrow_f32, float, ext_f32)
DEF_ARG_ROW(argrow_f64, double, ext_f64)
DEF_ARG_ROW(argrow_i64, int64_t, ext_i64)
DEF_ARG_ROW(argrow_u64, uint64_t, ext_u64)

#define DEF_ARG_LANE(NAME, T, ISNAN, ROW)                                                  \
    static void NAME(void *arg, size_t b, size_t e) {                                      \
        const arg_job *j = arg;                                                            \
        const T *x = j->x;                                                                 \
        int mx = j->k->arg_max, last = j->k->select_last;                                  \
        T best[CH];                                                                        \
        int64_t at[CH];                                                                    \
        if (j->inner == 1) {                                                               \
            for (size_t o = b; o < e; o++) j->y[o] = ROW(x + (int64_t)o * j->len, j->len, mx, last); \
            return;                                                                        \
        }                                                                                  \
        for (size_t t = b; t < e; t++) {                                                   \
            int64_t o = (int64_t)t / j->nch, i0 = ((int64_t)t % j->nch) * CH;              \
            int64_t ni = j->inner - i0 < CH ? j->inner - i0 : CH;                          \
            const T *p = x + o * j->len * j->inner + i0;                                   \
            for (int64_t i = 0; i < ni; i++) {                                             \
                best[i] = p[i];                                                            \
                at[i] = 0;                                                                 \
            }                                                                              \
            for (int64_t a = 1; a < j->len; a++) {                                         \
                const T *row = p + a * j->inner;                                           \
                for (int64_t i = 0; i < ni; i++) {                                         \
                    T v = row[i], c = best[i];                                             \
                    int take;                                                              \
                    if (ISNAN(c)) take = last && ISNAN(v);                                 \
                    else if (ISNAN(v)) take = 1;                                           \
                    else take = mx ? (v > c || (last && v == c)) : (v < c || (last && v == c)); \
                    if (take) {                                                            \
                        best[i] = v;                                                       \
                        at[i] = a;                                                         \
                    }                                                                      \
                }                                                                          \
            }                                                                              \
            memcpy(j->y + o * j->inner + i0, at, (size_t)ni * sizeof *at);                 \
        }                                                                                  \
    }
DEF_ARG_LANE(arg_f32, float, IS_NAN_F, argrow_f32)
DEF_ARG_LANE(arg_f64, double, IS_NAN_F, argrow_f64)
DEF_ARG_LANE(arg_i64, int64_t, IS_NAN_I, argrow_i64)
DEF_ARG_LANE(arg_u64, uint64_t, IS_NAN_I, argrow_u64)

/* ---- lane conversions ---- */

static int lane_of(int32_t dt) {
    switch (dt) {
    case KILN_DTYPE_FLOAT: case KILN_DTYPE_FLOAT16: case KILN_DTYPE_BFLOAT16: return L_F32;
    case KILN_DTYPE_DOUBLE: return L_F64;
    case KILN_DTYPE_INT8: case KILN_DTYPE_INT16: case KILN_DTYPE_INT32: case KILN_DTYPE_INT64: case KILN_DTYPE_BOOL:
        return L_I64;
    case KILN_DTYPE_UINT8: case KILN_DTYPE_UINT16: case KILN_DTYPE_UINT32: case KILN_DTYPE_UINT64: return L_U64;
    default: return -1;
    }
}

static int native(int32_t dt) {
    return dt == KILN_DTYPE_FLOAT || dt == KILN_DTYPE_DOUBLE || dt == KILN_DTYPE_INT64 || dt == KILN_DTYPE_UINT64;
}

/* Widens n elements of dtype `dt` at src into its lane type at dst. */
static void widen(int32_t dt, const void *src, void *dst, size_t n) {
    float *f = dst;
    int64_t *s = dst;
    uint64_t *u = dst;
    for (size_t i = 0; i < n; i++) {
        switch (dt) {
        case KILN_DTYPE_FLOAT16: f[i] = kiln_f16_to_f32(((const uint16_t *)src)[i]); break;
        case KILN_DTYPE_BFLOAT16: f[i] = kiln_bf16_to_f32(((const uint16_t *)src)[i]); break;
        case KILN_DTYPE_INT8: s[i] = ((const int8_t *)src)[i]; break;
        case KILN_DTYPE_INT16: s[i] = ((const int16_t *)src)[i]; break;
        case KILN_DTYPE_INT32: s[i] = ((const int32_t *)src)[i]; break;
        case KILN_DTYPE_BOOL: s[i] = ((const uint8_t *)src)[i] != 0; break;
        case KILN_DTYPE_UINT8: u[i] = ((const uint8_t *)src)[i]; break;
        case KILN_DTYPE_UINT16: u[i] = ((const uint16_t *)src)[i]; break;
        case KILN_DTYPE_UINT32: u[i] = ((const uint32_t *)src)[i]; break;
        default: break;
        }
    }
}

/* Narrows n lane values at src into dtype `dt` at dst (integers wrap). */
static void narrow(int32_t dt, const void *src, void *dst, size_t n) {
    const float *f = src;
    const uint64_t *u = src;
    for (size_t i = 0; i < n; i++) {
        switch (dt) {
        case KILN_DTYPE_FLOAT16: ((uint16_t *)dst)[i] = kiln_f32_to_f16(f[i]); break;
        case KILN_DTYPE_BFLOAT16: ((uint16_t *)dst)[i] = kiln_f32_to_bf16(f[i]); break;
        case KILN_DTYPE_INT8: case KILN_DTYPE_UINT8: ((uint8_t *)dst)[i] = (uint8_t)u[i]; break;
        case KILN_DTYPE_INT16: case KILN_DTYPE_UINT16: ((uint16_t *)dst)[i] = (uint16_t)u[i]; break;
        case KILN_DTYPE_INT32: case KILN_DTYPE_UINT32: ((uint32_t *)dst)[i] = (uint32_t)u[i]; break;
        case KILN_DTYPE_BOOL: ((uint8_t *)dst)[i] = u[i] != 0; break;
        default: break;
        }
    }
}

static size_t lane_size(int lane) { return lane == L_F32 ? 4 : 8; }

/* The input in its lane type: the tensor itself, or a widened copy in scratch. */
static kiln_status lane_input(kiln_kernel_ctx *ctx, const reduce_kernel *k, const kiln_value_desc *x,
                              const void **out, kiln_error *err) {
    if (native(k->dtype)) {
        *out = x->data;
        return KILN_OK;
    }
    void *w = ctx->host->scratch(ctx, (size_t)x->count * lane_size(k->lane) + 1);
    if (!w) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "no memory for a %llu-element widened copy", (unsigned long long)x->count);
    widen(k->dtype, x->data, w, (size_t)x->count);
    *out = w;
    return KILN_OK;
}

/* ---- Reduce* ---- */

static int64_t read_int(const kiln_value_desc *t, uint64_t i) {
    return t->dtype == KILN_DTYPE_INT32 ? ((const int32_t *)t->data)[i] : ((const int64_t *)t->data)[i];
}

/* The reduced-axis mask of this call; *none set when axes are empty (reduce all, or nothing
 * with noop_with_empty_axes). */
static kiln_status call_axes(const reduce_kernel *k, kiln_kernel_ctx *ctx, int32_t r, uint8_t *red, int *none,
                             kiln_error *err) {
    int64_t axes[KILN_MAX_RANK];
    uint32_t n = k->n_axes;
    memcpy(axes, k->axes, sizeof axes);
    if (k->axes_input) {
        const kiln_value_desc *a = cpu_in(ctx, 1);
        n = 0;
        if (a) {
            if (a->dtype != KILN_DTYPE_INT64 && a->dtype != KILN_DTYPE_INT32)
                return cpu_fail(err, KILN_ERR_SHAPE, "axes must be int64, not %s", cpu_dtype_name(a->dtype));
            if (a->count > KILN_MAX_RANK)
                return cpu_fail(err, KILN_ERR_SHAPE, "%llu axes given, at most %d allowed", (unsigned long long)a->count,
                                KILN_MAX_RANK);
            n = (uint32_t)a->count;
            for (uint32_t i = 0; i < n; i++) axes[i] = read_int(a, i);
        }
    }
    memset(red, 0, KILN_MAX_RANK);
    *none = n == 0;
    for (uint32_t i = 0; i < n; i++) {
        int64_t v = axes[i];
        if (v < -r || v >= r)
            return cpu_fail(err, KILN_ERR_SHAPE, "axis %lld is out of range for rank %d", (long long)v, (int)r);
        if (v < 0) v += r;
        if (red[v]) return cpu_fail(err, KILN_ERR_SHAPE, "axis %lld is given twice", (long long)axes[i]);
        red[v] = 1;
    }
    if (*none) memset(red, 1, KILN_MAX_RANK);
    return KILN_OK;
}

static void build_geom(red_job *j, const kiln_value_desc *x, const uint8_t *red) {
    int64_t gs[KILN_MAX_RANK], gst[KILN_MAX_RANK], stride = 1;
    uint8_t gr[KILN_MAX_RANK];
    int32_t ng = 0;
    /* groups from the innermost out; dims of size 1 take no part */
    for (int32_t d = x->rank - 1; d >= 0; d--) {
        int64_t n = x->dims[d];
        if (n == 1) continue;
        if (ng && gr[ng - 1] == red[d]) {
            gs[ng - 1] *= n;
        } else {
            gs[ng] = n;
            gst[ng] = stride;
            gr[ng++] = red[d];
        }
        stride *= n;
    }
    int32_t g = 0;
    j->inner = 1;
    j->len = 1;
    if (g < ng && !gr[g]) j->inner = gs[g++];
    if (g < ng) j->len = gs[g++]; /* reduced, its stride is inner */
    j->nk = j->nr = 0;
    for (int32_t q = ng - 1; q >= g; q--) {
        if (gr[q]) {
            j->rdim[j->nr] = gs[q];
            j->rstride[j->nr++] = gst[q];
        } else {
            j->kdim[j->nk] = gs[q];
            j->kstride[j->nk++] = gst[q];
        }
    }
}

static kiln_status reduce_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const reduce_kernel *k = (const reduce_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    kiln_value_desc *y = ctx->outputs[0];
    uint8_t red[KILN_MAX_RANK];
    int none = 0;
    KILN_CPU_TRY(call_axes(k, ctx, x->rank, red, &none, err));
    if (none && k->noop) {
        size_t es = cpu_dtype_size(k->dtype);
        if (y->count != x->count) return cpu_fail(err, KILN_ERR_INTERNAL, "output size does not match the input");
        if (x->count) memcpy(y->data, x->data, (size_t)x->count * es);
        return KILN_OK;
    }
    int64_t outs = 1, rcount = 1;
    for (int32_t d = 0; d < x->rank; d++) {
        if (red[d]) rcount *= x->dims[d];
        else outs *= x->dims[d];
    }
    if ((uint64_t)outs != y->count) return cpu_fail(err, KILN_ERR_INTERNAL, "output has %llu elements, expected %lld",
                                                    (unsigned long long)y->count, (long long)outs);
    if (!outs) return KILN_OK;
    red_job j = {.k = k, .rcount = rcount};
    if (rcount) {
        build_geom(&j, x, red);
    } else { /* empty reductions: every output is the identity */
        j.nk = 1;
        j.kdim[0] = outs;
        j.kstride[0] = 0;
        j.nr = 0;
        j.len = 0;
        j.inner = 1;
    }
    static const uint64_t nothing[1];
    if (rcount) KILN_CPU_TRY(lane_input(ctx, k, x, &j.x, err));
    else j.x = nothing; /* never read: spans are empty */
    j.y = y->data;
    if (!native(k->dtype)) {
        j.y = ctx->host->scratch(ctx, (size_t)outs * lane_size(k->lane));
        if (!j.y) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "no memory for %lld accumulators", (long long)outs);
    }
    j.nch = (j.inner + CH - 1) / CH;
    int64_t outer = outs / j.inner;
    int64_t per = (rcount ? rcount : 1) * (j.inner < CH ? j.inner : CH);
    size_t grain = per >= 32768 ? 1 : (size_t)(32768 / per);
    static const kiln_range_fn fns[] = {red_f32, red_f64, red_i64, red_u64};
    cpu_parallel_for(ctx, (size_t)(outer * j.nch), grain, fns[k->lane], &j);
    if (!native(k->dtype)) narrow(k->dtype, j.y, y->data, (size_t)outs);
    return KILN_OK;
}

static void int_range(int32_t dt, int64_t *lo, int64_t *hi) {
    switch (dt) {
    case KILN_DTYPE_INT8: *lo = INT8_MIN, *hi = INT8_MAX; break;
    case KILN_DTYPE_INT16: *lo = INT16_MIN, *hi = INT16_MAX; break;
    case KILN_DTYPE_INT32: *lo = INT32_MIN, *hi = INT32_MAX; break;
    case KILN_DTYPE_BOOL: *lo = 0, *hi = 1; break;
    case KILN_DTYPE_UINT8: *lo = 0, *hi = UINT8_MAX; break;
    case KILN_DTYPE_UINT16: *lo = 0, *hi = UINT16_MAX; break;
    case KILN_DTYPE_UINT32: *lo = 0, *hi = UINT32_MAX; break;
    case KILN_DTYPE_UINT64: *lo = 0, *hi = (int64_t)UINT64_MAX; break; /* the bits of UINT64_MAX */
    default: *lo = INT64_MIN, *hi = INT64_MAX; break;
    }
}

kiln_status kiln_cpu_reduce(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int op = -1;
    for (size_t i = 0; i < sizeof red_names / sizeof *red_names; i++)
        if (cpu_op_is(n, red_names[i].name)) op = red_names[i].op;
    if (op < 0) return cpu_fail(err, KILN_ERR_INTERNAL, "%s is not a reduction", n->op_type);
    int32_t dt = cpu_input_dtype(n, 0);
    int lane = lane_of(dt);
    if (lane < 0 || (dt == KILN_DTYPE_BOOL && op != R_MAX && op != R_MIN))
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "%s is not implemented for %s", n->op_type, cpu_dtype_name(dt));
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(reduce_kernel), reduce_compute, out, err));
    reduce_kernel *k = (reduce_kernel *)*out;
    k->op = op;
    k->lane = lane;
    k->dtype = dt;
    int_range(dt, &k->lo, &k->hi);
    k->keepdims = cpu_attr_int(n, "keepdims", 1) != 0;
    k->axes_input = n->opset >= (op == R_SUM ? 13 : 18);
    if (k->axes_input) {
        k->noop = cpu_attr_int(n, "noop_with_empty_axes", 0) != 0;
    } else {
        const int64_t *a = cpu_attr_ints(n, "axes", &k->n_axes);
        if (k->n_axes > KILN_MAX_RANK)
            return cpu_fail(err, KILN_ERR_INVALID_MODEL, "%u axes given, at most %d allowed", k->n_axes, KILN_MAX_RANK);
        if (k->n_axes) memcpy(k->axes, a, k->n_axes * sizeof *a);
    }
    return KILN_OK;
}

/* ---- ArgMax / ArgMin ---- */

static kiln_status arg_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const reduce_kernel *k = (const reduce_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    int64_t axis = k->axis;
    if (axis < -x->rank || axis >= x->rank)
        return cpu_fail(err, KILN_ERR_SHAPE, "axis %lld is out of range for rank %d", (long long)axis, (int)x->rank);
    if (axis < 0) axis += x->rank;
    arg_job j = {.k = k, .y = ctx->outputs[0]->data, .len = x->dims[axis], .inner = 1};
    int64_t outer = 1;
    for (int32_t d = 0; d < x->rank; d++) {
        if (d < axis) outer *= x->dims[d];
        else if (d > axis) j.inner *= x->dims[d];
    }
    if (!outer || !j.inner) return KILN_OK;
    if (!j.len) return cpu_fail(err, KILN_ERR_SHAPE, "axis %lld is empty: there is no element to select", (long long)axis);
    KILN_CPU_TRY(lane_input(ctx, k, x, &j.x, err));
    j.nch = (j.inner + CH - 1) / CH;
    int64_t per = j.len * (j.inner < CH ? j.inner : CH);
    size_t grain = per >= 32768 ? 1 : (size_t)(32768 / per);
    static const kiln_range_fn fns[] = {arg_f32, arg_f64, arg_i64, arg_u64};
    cpu_parallel_for(ctx, (size_t)(outer * j.nch), grain, fns[k->lane], &j);
    return KILN_OK;
}

kiln_status kiln_cpu_argreduce(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    int lane = lane_of(dt);
    if (lane < 0 || dt == KILN_DTYPE_BOOL)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "%s is not implemented for %s", n->op_type, cpu_dtype_name(dt));
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(reduce_kernel), arg_compute, out, err));
    reduce_kernel *k = (reduce_kernel *)*out;
    k->lane = lane;
    k->dtype = dt;
    k->arg_max = cpu_op_is(n, "ArgMax");
    k->axis = cpu_attr_int(n, "axis", 0);
    k->select_last = n->opset >= 12 && cpu_attr_int(n, "select_last_index", 0) != 0;
    return KILN_OK;
}
