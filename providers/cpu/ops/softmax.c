/* SPDX-License-Identifier: MIT */
/* Softmax for float32. Opset 13+: along one axis (default -1). Before 13: the input is viewed as
 * 2-D at `axis` (default 1) and each row of the flattened trailing dims is normalized. */
#include <math.h>

#include "providers/cpu/cpu_op.h"

typedef struct softmax_kernel {
    cpu_kernel base;
    int64_t axis;
    int legacy;   /* opset < 13 */
} softmax_kernel;

typedef struct softmax_job {
    const float *x;
    float *y;
    int64_t len, inner;
} softmax_job;

static void softmax_range(void *arg, size_t begin, size_t end) {
    const softmax_job *j = arg;
    for (size_t r = begin; r < end; r++) {
        size_t o = r / (size_t)j->inner, i = r % (size_t)j->inner;
        const float *x = j->x + o * (size_t)(j->len * j->inner) + i;
        float *y = j->y + o * (size_t)(j->len * j->inner) + i;
        float m = -INFINITY;
        for (int64_t a = 0; a < j->len; a++) m = x[a * j->inner] > m ? x[a * j->inner] : m;
        double s = 0.0;
        for (int64_t a = 0; a < j->len; a++) {
            float e = expf(x[a * j->inner] - m);
            y[a * j->inner] = e;
            s += e;
        }
        float inv = (float)(1.0 / s);
        for (int64_t a = 0; a < j->len; a++) y[a * j->inner] *= inv;
    }
}

static kiln_status softmax_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const softmax_kernel *k = (const softmax_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    int32_t r = x->rank;
    int64_t axis = k->axis;
    if (r == 0) axis = 0;
    else if (axis < -r || axis >= r) return cpu_fail(err, KILN_ERR_SHAPE, "axis %lld is out of range for rank %d", (long long)axis, (int)r);
    else if (axis < 0) axis += r;
    int64_t outer = 1, len = 1, inner = 1;
    for (int32_t d = 0; d < r; d++) {
        if (d < axis) outer *= x->dims[d];
        else if (d == axis || k->legacy) len *= x->dims[d];
        else inner *= x->dims[d];
    }
    if (!len) return KILN_OK;
    softmax_job j = {x->data, ctx->outputs[0]->data, len, inner};
    cpu_parallel_for(ctx, (size_t)(outer * inner), 64, softmax_range, &j);
    return KILN_OK;
}

kiln_status kiln_cpu_softmax(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (dt != KILN_DTYPE_FLOAT)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Softmax is implemented for float only, not %s", cpu_dtype_name(dt));
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(softmax_kernel), softmax_compute, out, err));
    softmax_kernel *k = (softmax_kernel *)*out;
    k->legacy = n->opset < 13;
    k->axis = cpu_attr_int(n, "axis", k->legacy ? 1 : -1);
    return KILN_OK;
}
