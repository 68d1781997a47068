/* SPDX-License-Identifier: MIT */
/* Gather along one axis, any element type. Indices may be negative (counted from the end);
 * one outside [-n, n) fails the run with its position and value. */
#include <string.h>

#include "providers/cpu/cpu_op.h"

typedef struct gather_kernel {
    cpu_kernel base;
    int64_t axis;
} gather_kernel;

static kiln_status gather_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const gather_kernel *k = (const gather_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0), *ix = cpu_in(ctx, 1);
    kiln_value_desc *y = ctx->outputs[0];
    int64_t axis = k->axis < 0 ? k->axis + x->rank : k->axis;
    int64_t outer = 1, inner = 1, n = x->dims[axis];
    for (int32_t d = 0; d < axis; d++) outer *= x->dims[d];
    for (int32_t d = (int32_t)axis + 1; d < x->rank; d++) inner *= x->dims[d];
    size_t es = cpu_dtype_size(x->dtype);
    int64_t ni = (int64_t)ix->count;
    for (int64_t i = 0; i < ni; i++) {
        int64_t v = ix->dtype == KILN_DTYPE_INT64 ? ((const int64_t *)ix->data)[i] : ((const int32_t *)ix->data)[i];
        if (v < -n || v >= n)
            return cpu_fail(err, KILN_ERR_SHAPE, "index %lld at position %lld is out of range [%lld, %lld)", (long long)v,
                            (long long)i, (long long)-n, (long long)n);
    }
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < ni; i++) {
            int64_t v = ix->dtype == KILN_DTYPE_INT64 ? ((const int64_t *)ix->data)[i] : ((const int32_t *)ix->data)[i];
            if (v < 0) v += n;
            size_t src = (size_t)((o * n + v) * inner), dst = (size_t)((o * ni + i) * inner);
            if (x->dtype == KILN_DTYPE_STRING) {
                char *const *s = x->data;
                for (int64_t e = 0; e < inner; e++)
                    KILN_CPU_TRY((kiln_status)ctx->host->set_string(ctx, y, dst + (size_t)e, s[src + (size_t)e],
                                                                    strlen(s[src + (size_t)e]), err));
            } else {
                memcpy((char *)y->data + dst * es, (const char *)x->data + src * es, (size_t)inner * es);
            }
        }
    }
    return KILN_OK;
}

kiln_status kiln_cpu_gather(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (!cpu_dtype_size(dt)) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Gather is not implemented for %s", cpu_dtype_name(dt));
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(gather_kernel), gather_compute, out, err));
    ((gather_kernel *)*out)->axis = cpu_attr_int(n, "axis", 0);
    return KILN_OK;
}
