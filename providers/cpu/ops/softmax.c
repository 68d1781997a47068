/* SPDX-License-Identifier: MIT */
/* Softmax, LogSoftmax and Hardmax for float32/float64 (float16/bfloat16 through float32).
 * Opset 13+: along one axis (default -1). Before 13: the input is viewed as 2-D at `axis`
 * (default 1) and each row of the flattened trailing dims is normalized as a whole. */
#include <math.h>
#include <string.h>

#include "kernels/common/half.h"
#include "providers/cpu/cpu_op.h"

enum { SM_SOFT, SM_LOG, SM_HARD };

#define CH 64 /* positions of the inner dims handled together when the axis is not innermost */

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
#define DEF_SOFTMAX(NAME, T, EXP, LOG)                                                     \
    static void NAME(void *arg, size_t b, size_t e) {                                      \
        const softmax_job *j = arg;                                                        \
        T m[CH];                                                                           \
        double s[CH];                                                                      \
        int64_t at[CH];                                                                    \
        for (size_t t = b; t < e; t++) {                                                   \
            int64_t o = (int64_t)t / j->nch, i0 = ((int64_t)t % j->nch) * CH;              \
            int64_t ni = j->inner - i0 < CH ? j->inner - i0 : CH, in = j->inner;           \
            const T *x = (const T *)j->x + o * j->len * in + i0;                           \
            T *y = (T *)j->y + o * j->len * in + i0;                                       \
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
DEF_SOFTMAX(softmax_f32, float, expf, log)
DEF_SOFTMAX(softmax_f64, double, exp, log)

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
        tmp = ctx->host->scratch(ctx, (size_t)x->count * sizeof *tmp);
        if (!tmp) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "no memory for a float32 copy of %llu elements",
                                  (unsigned long long)x->count);
        const uint16_t *h = x->data;
        for (uint64_t i = 0; i < x->count; i++)
            tmp[i] = k->dtype == KILN_DTYPE_FLOAT16 ? kiln_f16_to_f32(h[i]) : kiln_bf16_to_f32(h[i]);
        j.x = j.y = tmp; /* each task reads its elements before it writes them */
    }
    int64_t per = len * (inner < CH ? inner : CH);
    size_t grain = per >= 16384 ? 1 : (size_t)(16384 / per);
    cpu_parallel_for(ctx, (size_t)(outer * j.nch), grain, k->dtype == KILN_DTYPE_DOUBLE ? softmax_f64 : softmax_f32, &j);
    if (half) {
        uint16_t *h = y->data;
        for (uint64_t i = 0; i < x->count; i++)
            h[i] = k->dtype == KILN_DTYPE_FLOAT16 ? kiln_f32_to_f16(tmp[i]) : kiln_f32_to_bf16(tmp[i]);
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
