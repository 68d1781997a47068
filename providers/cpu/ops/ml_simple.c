/* SPDX-License-Identifier: MIT */
/* Small ai.onnx.ml ops: Binarizer (x > threshold, in x's type) and ArrayFeatureExtractor
 * (gathers entries of the last axis; a vector input gives one row). */
#include <string.h>

#include "providers/cpu/cpu_op.h"

/* ---- Binarizer ---- */

typedef struct binarizer_kernel {
    cpu_kernel base;
    float threshold;
} binarizer_kernel;

static kiln_status binarizer_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const binarizer_kernel *k = (const binarizer_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    kiln_value_desc *y;
    KILN_CPU_TRY(cpu_output(ctx, 0, x->rank, x->dims, &y, err));
    uint64_t n = x->count;
    switch (x->dtype) {
    case KILN_DTYPE_FLOAT:
        for (uint64_t i = 0; i < n; i++) ((float *)y->data)[i] = ((const float *)x->data)[i] > k->threshold ? 1.0f : 0.0f;
        break;
    case KILN_DTYPE_DOUBLE:
        for (uint64_t i = 0; i < n; i++)
            ((double *)y->data)[i] = ((const double *)x->data)[i] > (double)k->threshold ? 1.0 : 0.0;
        break;
    case KILN_DTYPE_INT64:
        for (uint64_t i = 0; i < n; i++)
            ((int64_t *)y->data)[i] = (double)((const int64_t *)x->data)[i] > (double)k->threshold;
        break;
    default:
        for (uint64_t i = 0; i < n; i++)
            ((int32_t *)y->data)[i] = (double)((const int32_t *)x->data)[i] > (double)k->threshold;
        break;
    }
    return KILN_OK;
}

kiln_status kiln_cpu_binarizer(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (dt != KILN_DTYPE_FLOAT && dt != KILN_DTYPE_DOUBLE && dt != KILN_DTYPE_INT64 && dt != KILN_DTYPE_INT32)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Binarizer is not implemented for %s", cpu_dtype_name(dt));
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(binarizer_kernel), binarizer_compute, out, err));
    ((binarizer_kernel *)*out)->threshold = cpu_attr_float(n, "threshold", 0.0f);
    return KILN_OK;
}

/* ---- ArrayFeatureExtractor ---- */

static kiln_status extractor_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    (void)base;
    const kiln_value_desc *x = cpu_in(ctx, 0), *ix = cpu_in(ctx, 1);
    if (x->rank < 1) return cpu_fail(err, KILN_ERR_SHAPE, "input must have at least one dim");
    if (ix->dtype != KILN_DTYPE_INT64) return cpu_fail(err, KILN_ERR_SHAPE, "indices must be int64");
    int64_t f = x->dims[x->rank - 1], n = (int64_t)ix->count;
    const int64_t *idx = ix->data;
    for (int64_t i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= f)
            return cpu_fail(err, KILN_ERR_SHAPE, "index %lld at position %lld is out of range [0, %lld)", (long long)idx[i],
                            (long long)i, (long long)f);
    int64_t dims[KILN_MAX_RANK];
    int32_t r = x->rank == 1 ? 2 : x->rank;
    for (int32_t d = 0; d < r - 1; d++) dims[d] = x->rank == 1 ? 1 : x->dims[d];
    dims[r - 1] = n;
    kiln_value_desc *y;
    KILN_CPU_TRY(cpu_output(ctx, 0, r, dims, &y, err));
    int64_t rows = f ? (int64_t)(x->count / (uint64_t)f) : 0;
    size_t es = cpu_dtype_size(x->dtype);
    for (int64_t r0 = 0; r0 < rows; r0++) {
        for (int64_t i = 0; i < n; i++) {
            uint64_t src = (uint64_t)(r0 * f + idx[i]), dst = (uint64_t)(r0 * n + i);
            if (x->dtype == KILN_DTYPE_STRING) {
                const char *s = ((char *const *)x->data)[src];
                KILN_CPU_TRY((kiln_status)ctx->host->set_string(ctx, y, dst, s, strlen(s), err));
            } else {
                memcpy((char *)y->data + dst * es, (const char *)x->data + src * es, es);
            }
        }
    }
    return KILN_OK;
}

kiln_status kiln_cpu_array_feature_extractor(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (!cpu_dtype_size(dt))
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "ArrayFeatureExtractor is not implemented for %s", cpu_dtype_name(dt));
    return cpu_kernel_new(n, sizeof(cpu_kernel), extractor_compute, out, err);
}
