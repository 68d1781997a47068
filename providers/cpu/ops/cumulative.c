/* SPDX-License-Identifier: MIT */
/* CumSum and CumProd along one axis (a 0-D int32/int64 input), with `exclusive` (each output
 * leaves out its own element) and `reverse` (from the end). Floats accumulate in double,
 * integers wrap like the type's own arithmetic; float16/bfloat16 go through float32. */
#include <string.h>

#include "kernels/common/half.h"
#include "providers/cpu/cpu_op.h"

#define CH 256 /* inner positions carried together */

typedef struct cum_kernel {
    cpu_kernel base;
    int prod, exclusive, reverse;
    int32_t dtype;
} cum_kernel;

typedef struct cum_job {
    const cum_kernel *k;
    const void *x;
    void *y;
    int64_t len, inner, nch;
} cum_job;

/* A: accumulator type (double for floats, a wrapping unsigned type for integers). */
#define DEF_CUM(NAME, T, A)                                                                \
    static void NAME(void *arg, size_t b, size_t e) {                                      \
        const cum_job *j = arg;                                                            \
        int prod = j->k->prod, ex = j->k->exclusive, rev = j->k->reverse;                  \
        A acc[CH];                                                                         \
        for (size_t t = b; t < e; t++) {                                                   \
            int64_t o = (int64_t)t / j->nch, i0 = ((int64_t)t % j->nch) * CH;              \
            int64_t ni = j->inner - i0 < CH ? j->inner - i0 : CH, in = j->inner;           \
            const T *x = (const T *)j->x + o * j->len * in + i0;                           \
            T *y = (T *)j->y + o * j->len * in + i0;                                       \
            for (int64_t i = 0; i < ni; i++) acc[i] = prod ? (A)1 : (A)0;                  \
            for (int64_t s = 0; s < j->len; s++) {                                         \
                int64_t a = rev ? j->len - 1 - s : s;                                      \
                const T *xr = x + a * in;                                                  \
                T *yr = y + a * in;                                                        \
                for (int64_t i = 0; i < ni; i++) {                                         \
                    A v = (A)xr[i];                                                        \
                    if (ex) yr[i] = (T)acc[i];                                             \
                    acc[i] = prod ? acc[i] * v : acc[i] + v;                               \
                    if (!ex) yr[i] = (T)acc[i];                                            \
                }                                                                          \
            }                                                                              \
        }                                                                                  \
    }
DEF_CUM(cum_f32, float, double)
DEF_CUM(cum_f64, double, double)
DEF_CUM(cum_i8, int8_t, uint8_t)
DEF_CUM(cum_u8, uint8_t, uint8_t)
DEF_CUM(cum_i16, int16_t, uint16_t)
DEF_CUM(cum_u16, uint16_t, uint16_t)
DEF_CUM(cum_i32, int32_t, uint32_t)
DEF_CUM(cum_u32, uint32_t, uint32_t)
DEF_CUM(cum_i64, int64_t, uint64_t)
DEF_CUM(cum_u64, uint64_t, uint64_t)

static kiln_range_fn pick(int32_t dt) {
    switch (dt) {
    case KILN_DTYPE_FLOAT: case KILN_DTYPE_FLOAT16: case KILN_DTYPE_BFLOAT16: return cum_f32;
    case KILN_DTYPE_DOUBLE: return cum_f64;
    case KILN_DTYPE_INT8: return cum_i8;
    case KILN_DTYPE_UINT8: return cum_u8;
    case KILN_DTYPE_INT16: return cum_i16;
    case KILN_DTYPE_UINT16: return cum_u16;
    case KILN_DTYPE_INT32: return cum_i32;
    case KILN_DTYPE_UINT32: return cum_u32;
    case KILN_DTYPE_INT64: return cum_i64;
    case KILN_DTYPE_UINT64: return cum_u64;
    default: return NULL;
    }
}

static kiln_status cum_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const cum_kernel *k = (const cum_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0), *ax = cpu_in(ctx, 1);
    kiln_value_desc *y = ctx->outputs[0];
    if (!ax || (ax->dtype != KILN_DTYPE_INT32 && ax->dtype != KILN_DTYPE_INT64) || ax->count != 1 || ax->rank > 1)
        return cpu_fail(err, KILN_ERR_SHAPE, "axis must be one int32 or int64 value");
    int64_t axis = ax->dtype == KILN_DTYPE_INT64 ? *(const int64_t *)ax->data : *(const int32_t *)ax->data;
    int32_t r = x->rank;
    if (axis < -r || axis >= r) return cpu_fail(err, KILN_ERR_SHAPE, "axis %lld is out of range for rank %d", (long long)axis, (int)r);
    if (axis < 0) axis += r;
    cum_job j = {.k = k, .x = x->data, .y = y->data, .len = x->dims[axis], .inner = 1};
    int64_t outer = 1;
    for (int32_t d = 0; d < r; d++) {
        if (d < axis) outer *= x->dims[d];
        else if (d > axis) j.inner *= x->dims[d];
    }
    if (!x->count) return KILN_OK;
    int half = k->dtype == KILN_DTYPE_FLOAT16 || k->dtype == KILN_DTYPE_BFLOAT16;
    float *tmp = NULL;
    if (half) {
        tmp = ctx->host->scratch(ctx, (size_t)x->count * sizeof *tmp);
        if (!tmp) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "no memory for a float32 copy of %llu elements",
                                  (unsigned long long)x->count);
        const uint16_t *h = x->data;
        for (uint64_t i = 0; i < x->count; i++)
            tmp[i] = k->dtype == KILN_DTYPE_FLOAT16 ? kiln_f16_to_f32(h[i]) : kiln_bf16_to_f32(h[i]);
        j.x = j.y = tmp; /* each element is read before it is written */
    }
    j.nch = (j.inner + CH - 1) / CH;
    int64_t per = j.len * (j.inner < CH ? j.inner : CH);
    cpu_parallel_for(ctx, (size_t)(outer * j.nch), per >= 32768 ? 1 : (size_t)(32768 / per), pick(k->dtype), &j);
    if (half) {
        uint16_t *h = y->data;
        for (uint64_t i = 0; i < x->count; i++)
            h[i] = k->dtype == KILN_DTYPE_FLOAT16 ? kiln_f32_to_f16(tmp[i]) : kiln_f32_to_bf16(tmp[i]);
    }
    return KILN_OK;
}

kiln_status kiln_cpu_cumulative(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (!pick(dt)) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "%s is not implemented for %s", n->op_type, cpu_dtype_name(dt));
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(cum_kernel), cum_compute, out, err));
    cum_kernel *k = (cum_kernel *)*out;
    k->prod = cpu_op_is(n, "CumProd");
    k->exclusive = cpu_attr_int(n, "exclusive", 0) != 0;
    k->reverse = cpu_attr_int(n, "reverse", 0) != 0;
    k->dtype = dt;
    return KILN_OK;
}
