/* SPDX-License-Identifier: MIT */
/* com.microsoft QLinearSoftmax (docs/int8.md §5), u8 and s8, computed as onnxruntime's CPU
 * kernel does, which is what defines this contrib op's results:
 *  - a table E[i] = float(exp((i - 255 + B) * x_scale)) in double for i in 0..255, with
 *    B = max(0, ln(FLT_MAX / D) - 5) / x_scale keeping the sum of D terms finite (D: the
 *    reduced length);
 *  - per line of D values along the axis (opset < 13 of the `opset` attribute: everything from
 *    `axis` on, as one line; 13 and later: the one axis), with m the line's maximum,
 *    e(x) = E[255 - (m - x)] and S the float sum of e over the line in order;
 *  - y = rne(e(x) * floor(1 / y_scale) / S) + y_zp, saturated at 255 (u8) or 127 (s8).
 * x_zero_point does not change a softmax and is not read. */
#include <float.h>
#include <string.h>

#include "providers/cpu/ops/qlinear_ms.h"

typedef struct qsm_kernel {
    cpu_kernel base;
    int32_t dt;
    int64_t axis, opset;
} qsm_kernel;

typedef struct qsm_job {
    int32_t dt;
    const uint8_t *x;
    uint8_t *y;
    size_t d, inner;       /* line length and the stride between its values */
    const float *table;
    float yscale;
    int32_t zy;
} qsm_job;

/* Lines [begin, end): line l starts at (l / inner) * d * inner + l % inner. */
static void qsm_range(void *arg, size_t begin, size_t end) {
    const qsm_job *j = arg;
    for (size_t l = begin; l < end; l++) {
        size_t base = (l / j->inner) * j->d * j->inner + l % j->inner, st = j->inner;
        int32_t m = INT32_MIN;
        for (size_t i = 0; i < j->d; i++) {
            int32_t v = qms_byte(j->dt, j->x[base + i * st]);
            m = v > m ? v : m;
        }
        float sum = 0.0f;
        for (size_t i = 0; i < j->d; i++) sum += j->table[255 - (m - qms_byte(j->dt, j->x[base + i * st]))];
        for (size_t i = 0; i < j->d; i++) {
            uint8_t *y = j->y + base + i * st;
            if (!(sum > 0.0f) || !isfinite(sum)) {
                *y = (uint8_t)j->zy;
                continue;
            }
            float e = j->table[255 - (m - qms_byte(j->dt, j->x[base + i * st]))];
            float v = nearbyintf(e * j->yscale / sum); /* >= 0; capped so that the conversion is defined */
            int32_t q = (int32_t)(v < 65536.0f ? v : 65536.0f) + j->zy;
            if (j->dt == KILN_DTYPE_UINT8) *y = (uint8_t)(q > 255 ? 255 : q);
            else *y = (uint8_t)(int8_t)(q > 127 ? 127 : q);
        }
    }
}

static kiln_status qsm_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const qsm_kernel *k = (const qsm_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    qms_q qx, qy;
    KILN_CPU_TRY(qms_read(cpu_in(ctx, 1), NULL, k->dt, "X", &qx, err));
    KILN_CPU_TRY(qms_read(cpu_in(ctx, 3), cpu_in(ctx, 4), k->dt, "Y", &qy, err));
    if (x->count == 0) return KILN_OK;
    int32_t r = x->rank > 0 ? x->rank : 1;
    int64_t axis = k->axis < 0 ? k->axis + r : k->axis;
    if (axis < 0 || axis >= r) return cpu_fail(err, KILN_ERR_SHAPE, "axis %lld is out of range for rank %d", (long long)k->axis, (int)r);
    size_t d = 1, inner = 1;
    if (x->rank > 0) {
        if (k->opset < 13) {
            for (int32_t a = (int32_t)axis; a < x->rank; a++) d *= (size_t)x->dims[a];
        } else {
            d = (size_t)x->dims[axis];
            for (int32_t a = (int32_t)axis + 1; a < x->rank; a++) inner *= (size_t)x->dims[a];
        }
    }
    float table[256];
    double shift = log((double)(FLT_MAX / (float)d));
    shift = (shift - 5.0 > 0.0 ? shift - 5.0 : 0.0) / (double)qx.scale;
    for (int i = 0; i < 256; i++) table[i] = (float)exp(((double)i - 255.0 + shift) * (double)qx.scale);
    qsm_job j = {k->dt, x->data, ctx->outputs[0]->data, d, inner, table, floorf(1.0f / qy.scale), qy.zp};
    size_t lines = (size_t)x->count / d;
    cpu_parallel_for(ctx, lines, cpu_grain(3 * (uint64_t)d), qsm_range, &j);
    return KILN_OK;
}

kiln_status kiln_cpu_ms_qlinear_softmax(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (dt != KILN_DTYPE_UINT8 && dt != KILN_DTYPE_INT8)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "QLinearSoftmax is implemented for uint8 and int8, not %s", cpu_dtype_name(dt));
    if (!cpu_has_attr(n, "opset")) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "attribute 'opset' is required");
    int64_t opset = cpu_attr_int(n, "opset", 13);
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(qsm_kernel), qsm_compute, out, err));
    qsm_kernel *k = (qsm_kernel *)*out;
    k->dt = dt;
    k->opset = opset;
    k->axis = cpu_attr_int(n, "axis", opset < 13 ? 1 : -1);
    return KILN_OK;
}
