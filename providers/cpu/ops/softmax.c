/* SPDX-License-Identifier: MIT */
/* Softmax, LogSoftmax and Hardmax for float32/float64 (float16/bfloat16 through float32).
 * Opset 13+: along one axis (default -1). Before 13: the input is viewed as 2-D at `axis`
 * (default 1) and each row of the flattened trailing dims is normalized as a whole. */
#include <math.h>
#include <string.h>

#include "kernels/common/half.h"
#include "kernels/f32-vmath/f32-vmath-coeffs.h"
#include "providers/cpu/cpu_op.h"

enum { SM_SOFT, SM_LOG, SM_HARD };

#define CH 64 /* positions of the inner dims handled together when the axis is not innermost */

/* exp(x) for x <= 0 (inputs minus their row max), written so loops over it vectorize: no
 * branches (the clamp selects with integer masks; float compares may trap and are not
 * if-converted) and no float-to-int conversion. x = n ln2 + r, |r| <= ln2/2 (Cody-Waite split of
 * ln2), exp(r) = 1 + r + r^2 q(r) with the degree-4 q fitted for kernels/f32-vmath, 2^n from the mantissa of
 * x log2(e) + 1.5 * 2^23. Relative error < 1e-7; below -87 the result is 1.6e-38 instead of 0,
 * which no sum can notice. NaN stays NaN. Cheaper than kernels/common/vmath.h's full-range
 * kiln_vexpf, which softmax does not need: its inputs are never positive. */
static inline float exp_neg(float x) {
    uint32_t xb;
    memcpy(&xb, &x, sizeof xb);
    /* x < -87 (bits above -87.0f's, up to -inf; NaNs excluded): clamp */
    uint32_t big = 0u - (uint32_t)(xb > 0xC2AE0000u && xb <= 0xFF800000u);
    xb = (xb & ~big) | (0xC2AE0000u & big);
    memcpy(&x, &xb, sizeof x);
    float t = x * 1.44269504f + 12582912.0f;
    float n = t - 12582912.0f;
    uint32_t tb;
    memcpy(&tb, &t, sizeof tb);
    float r = x - n * 0.693359375f + n * 2.12194440e-4f; /* ln2 = 0.693359375 - 2.12194440e-4 */
    /* exp(r) = 1 + r + r^2 q(r): q is Kiln's own fit (kernels/f32-vmath/fit_coeffs.py) */
    float p = KILN_VM_EXP_C4;
    p = p * r + KILN_VM_EXP_C3;
    p = p * r + KILN_VM_EXP_C2;
    p = p * r + KILN_VM_EXP_C1;
    p = p * r + KILN_VM_EXP_C0;
    p = p * (r * r) + r + 1.0f;
    uint32_t eb = (tb - 0x4B400000u + 127u) << 23; /* n + 127 in the exponent field */
    float scale;
    memcpy(&scale, &eb, sizeof scale);
    return p * scale;
}

/* One contiguous float32 row; every loop is written so it vectorizes. Sums are double. */
/* x and y may be the same buffer. */
static void row_f32(const float *x, float *y, int64_t n, int kind) {
    float m32[32];
    double s8[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t a = 0;
    float m = x[0];
    if (n >= 64) { /* 32 running maxima updated elementwise: the form of loop that vectorizes */
        memcpy(m32, x, sizeof m32);
        for (a = 32; a + 32 <= n; a += 32)
            for (int u = 0; u < 32; u++) m32[u] = m32[u] < x[a + u] ? x[a + u] : m32[u];
        for (int u = 0; u < 32; u++) m = m32[u] > m ? m32[u] : m;
    }
    for (; a < n; a++) m = x[a] > m ? x[a] : m;
    if (kind == SM_HARD) {
        int64_t at = 0;
        while (at < n && !(x[at] >= m)) at++;
        for (a = 0; a < n; a++) y[a] = (float)(a == at);
        return;
    }
    /* exponentials into y (softmax) or a stack chunk (log-softmax, which still needs x) */
    float chunk[256];
    for (int64_t c0 = 0; c0 < n; c0 += 256) {
        int64_t cn = n - c0 < 256 ? n - c0 : 256;
        float *e = kind == SM_SOFT ? y + c0 : chunk;
        for (a = 0; a < cn; a++) e[a] = exp_neg(x[c0 + a] - m);
        int64_t ctop = cn & ~(int64_t)7;
        for (a = 0; a < ctop; a += 8)
            for (int u = 0; u < 8; u++) s8[u] += e[a + u];
        for (; a < cn; a++) s8[0] += e[a];
    }
    double s = ((s8[0] + s8[1]) + (s8[2] + s8[3])) + ((s8[4] + s8[5]) + (s8[6] + s8[7]));
    if (kind == SM_SOFT) {
        float inv = (float)(1.0 / s);
        for (a = 0; a < n; a++) y[a] *= inv;
    } else {
        float sub = (float)(m + log(s));
        for (a = 0; a < n; a++) y[a] = x[a] - sub;
    }
}

typedef struct softmax_kernel {
    cpu_kernel base;
    int kind;
    int32_t dtype;
    int64_t axis;
    int legacy; /* opset < 13 */
    int default_axis;
} softmax_kernel;

typedef struct softmax_job {
    int kind;
    const void *x;
    void *y;
    int64_t len, inner, nch;
} softmax_job;

/* One task: outer index o, inner positions [i0, i0 + ni); element a of position i is at
 * (o * len + a) * inner + i. With inner == 1 the rows are contiguous. */
#define DEF_SOFTMAX(NAME, T, EXP, LOG, ROW)                                                     \
    static void NAME(void *arg, size_t b, size_t e) {                                      \
        const softmax_job *j = arg;                                                        \
        void (*const row)(const float *, float *, int64_t, int) = ROW;                     \
        T m[CH];                                                                           \
        double s[CH];                                                                      \
        int64_t at[CH];                                                                    \
        for (size_t t = b; t < e; t++) {                                                   \
            int64_t o = (int64_t)t / j->nch, i0 = ((int64_t)t % j->nch) * CH;              \
            int64_t ni = j->inner - i0 < CH ? j->inner - i0 : CH, in = j->inner;           \
            const T *x = (const T *)j->x + o * j->len * in + i0;                           \
            T *y = (T *)j->y + o * j->len * in + i0;                                       \
            if (row && in == 1) {                                                          \
                row((const float *)x, (float *)y, j->len, j->kind);                        \
                continue;                                                                  \
            }                                                                              \
            for (int64_t i = 0; i < ni; i++) {                                             \
                m[i] = x[i];                                                               \
                at[i] = 0;                                                                 \
                s[i] = 0.0;                                                                \
            }                                                                              \
            for (int64_t a = 1; a < j->len; a++)                                           \
                for (int64_t i = 0; i < ni; i++)                                           \
                    if (x[a * in + i] > m[i]) {                                            \
                        m[i] = x[a * in + i];                                              \
                        at[i] = a;                                                         \
                    }                                                                      \
            if (j->kind == SM_HARD) {                                                      \
                for (int64_t a = 0; a < j->len; a++)                                       \
                    for (int64_t i = 0; i < ni; i++) y[a * in + i] = (T)(at[i] == a);      \
                continue;                                                                  \
            }                                                                              \
            for (int64_t a = 0; a < j->len; a++)                                           \
                for (int64_t i = 0; i < ni; i++) {                                         \
                    T ex = EXP(x[a * in + i] - m[i]);                                      \
                    if (j->kind == SM_SOFT) y[a * in + i] = ex;                            \
                    s[i] += ex;                                                            \
                }                                                                          \
            if (j->kind == SM_SOFT) {                                                      \
                for (int64_t i = 0; i < ni; i++) s[i] = 1.0 / s[i];                        \
                for (int64_t a = 0; a < j->len; a++)                                       \
                    for (int64_t i = 0; i < ni; i++) y[a * in + i] = (T)(y[a * in + i] * s[i]); \
            } else {                                                                       \
                T sub[CH];                                                                 \
                for (int64_t i = 0; i < ni; i++) sub[i] = (T)(m[i] + LOG(s[i]));           \
                for (int64_t a = 0; a < j->len; a++)                                       \
                    for (int64_t i = 0; i < ni; i++) y[a * in + i] = x[a * in + i] - sub[i]; \
            }                                                                              \
        }                                                                                  \
    }
DEF_SOFTMAX(softmax_f32, float, exp_neg, log, row_f32)
DEF_SOFTMAX(softmax_f64, double, exp, log, NULL)

/* float16 / bfloat16: each step of the spec's definition (x - max, exp, sum, divide, log) is
 * computed in float32 and rounded to the 16-bit type, as the ONNX reference does; bfloat16 sums
 * round every addition, float16 sums accumulate in float32 and round once. */
typedef struct half_job {
    int kind;
    int32_t dtype;
    float *v;            /* float32 copy of the input, rewritten with the result */
    int64_t len, inner;
} half_job;

static float round16(int32_t dt, float v) {
    return dt == KILN_DTYPE_FLOAT16 ? kiln_f16_to_f32(kiln_f32_to_f16(v)) : kiln_bf16_to_f32(kiln_f32_to_bf16(v));
}

static void softmax_half(void *arg, size_t b, size_t e) {
    const half_job *j = arg;
    int32_t dt = j->dtype;
    for (size_t r = b; r < e; r++) {
        int64_t o = (int64_t)r / j->inner, i = (int64_t)r % j->inner, in = j->inner;
        float *x = j->v + o * j->len * in + i;
        float m = x[0];
        for (int64_t a = 1; a < j->len; a++) m = x[a * in] > m ? x[a * in] : m;
        float s = 0.0f;
        for (int64_t a = 0; a < j->len; a++) {
            float ex = round16(dt, expf(round16(dt, x[a * in] - m)));
            x[a * in] = ex;
            s = dt == KILN_DTYPE_BFLOAT16 ? round16(dt, s + ex) : s + ex;
        }
        s = round16(dt, s);
        for (int64_t a = 0; a < j->len; a++) {
            float y = round16(dt, x[a * in] / s);
            x[a * in] = j->kind == SM_LOG ? round16(dt, logf(y)) : y;
        }
    }
}

static kiln_status softmax_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const softmax_kernel *k = (const softmax_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    kiln_value_desc *y = ctx->outputs[0];
    int32_t r = x->rank;
    int64_t axis = k->axis;
    /* a scalar is one row; so is a 1-D tensor under the legacy default axis (1) */
    if (r == 0 || (r == 1 && k->default_axis && k->legacy)) axis = 0;
    if (r && (axis < -r || axis >= r))
        return cpu_fail(err, KILN_ERR_SHAPE, "axis %lld is out of range for rank %d", (long long)axis, (int)r);
    if (axis < 0) axis += r;
    int64_t outer = 1, len = 1, inner = 1;
    for (int32_t d = 0; d < r; d++) {
        if (d < axis) outer *= x->dims[d];
        else if (d == axis || k->legacy) len *= x->dims[d];
        else inner *= x->dims[d];
    }
    if (!x->count) return KILN_OK;
    softmax_job j = {k->kind, x->data, y->data, len, inner, (inner + CH - 1) / CH};
    int half = k->dtype == KILN_DTYPE_FLOAT16 || k->dtype == KILN_DTYPE_BFLOAT16;
    float *tmp = NULL;
    if (half) {
        tmp = ctx->host->scratch(ctx, (size_t)x->count * 2 * sizeof *tmp);
        if (!tmp) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "no memory for a float32 copy of %llu elements",
                                  (unsigned long long)x->count);
        const uint16_t *h = x->data;
        for (uint64_t i = 0; i < x->count; i++)
            tmp[i] = k->dtype == KILN_DTYPE_FLOAT16 ? kiln_f16_to_f32(h[i]) : kiln_bf16_to_f32(h[i]);
        j.x = tmp; /* float32 copies of the input, then the output */
        j.y = tmp + x->count;
    }
    int64_t per = len * (inner < CH ? inner : CH);
    size_t grain = cpu_grain((uint64_t)per);
    if (half && k->kind != SM_HARD) {
        half_job hj = {k->kind, k->dtype, tmp, len, inner};
        cpu_parallel_for(ctx, (size_t)(outer * inner), len >= 4096 ? 1 : (size_t)(4096 / len), softmax_half, &hj);
        j.y = tmp;
    } else {
        cpu_parallel_for(ctx, (size_t)(outer * j.nch), grain, k->dtype == KILN_DTYPE_DOUBLE ? softmax_f64 : softmax_f32, &j);
    }
    if (half) {
        uint16_t *h = y->data;
        for (uint64_t i = 0; i < x->count; i++)
            h[i] = k->dtype == KILN_DTYPE_FLOAT16 ? kiln_f32_to_f16(((const float *)j.y)[i]) : kiln_f32_to_bf16(((const float *)j.y)[i]);
    }
    return KILN_OK;
}

kiln_status kiln_cpu_softmax(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (dt != KILN_DTYPE_FLOAT && dt != KILN_DTYPE_DOUBLE && dt != KILN_DTYPE_FLOAT16 && dt != KILN_DTYPE_BFLOAT16)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "%s is not implemented for %s", n->op_type, cpu_dtype_name(dt));
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(softmax_kernel), softmax_compute, out, err));
    softmax_kernel *k = (softmax_kernel *)*out;
    k->kind = cpu_op_is(n, "LogSoftmax") ? SM_LOG : cpu_op_is(n, "Hardmax") ? SM_HARD : SM_SOFT;
    k->dtype = dt;
    k->legacy = n->opset < 13;
    k->axis = cpu_attr_int(n, "axis", k->legacy ? 1 : -1);
    k->default_axis = !cpu_has_attr(n, "axis");
    return KILN_OK;
}
