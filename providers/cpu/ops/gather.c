/* SPDX-License-Identifier: MIT */
/* Gather (along one axis), GatherElements (per element along one axis) and GatherND (index
 * tuples, batch_dims), any dtype. Indices may be negative (counted from the end); one outside
 * [-n, n) fails the run with its position and value. */
#include <string.h>

#include "providers/cpu/cpu_op.h"
#include "providers/cpu/ops/elem.h"
#include "providers/cpu/ops/strided.h"

/* Index i of ix checked against a dim of n, made non-negative. */
static kiln_status index_at(const kiln_value_desc *ix, int64_t i, int64_t n, int64_t *out, kiln_error *err) {
    int64_t v = cpu_index_at(ix->data, ix->dtype, i);
    *out = 0;
    if (v < -n || v >= n)
        return cpu_fail(err, KILN_ERR_SHAPE, "index %lld at position %lld is out of range [%lld, %lld)", (long long)v,
                        (long long)i, (long long)-n, (long long)n);
    *out = v < 0 ? v + n : v;
    return KILN_OK;
}

static int copyable(int32_t dt) { return cpu_dtype_size(dt) || cpu_sub_bits(dt); }

/* ---- Gather ---- */

typedef struct gather_kernel {
    cpu_kernel base;
    int64_t axis;
} gather_kernel;

static kiln_status gather_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const gather_kernel *k = (const gather_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0), *ix = cpu_in(ctx, 1);
    kiln_value_desc *y = ctx->outputs[0];
    if (k->axis < -(int64_t)x->rank || k->axis >= x->rank)
        return cpu_fail(err, KILN_ERR_SHAPE, "axis %lld is out of range for rank %d", (long long)k->axis, (int)x->rank);
    int64_t axis = k->axis < 0 ? k->axis + x->rank : k->axis;
    int64_t outer = 1, inner = 1, n = x->dims[axis];
    for (int32_t d = 0; d < axis; d++) outer *= x->dims[d];
    for (int32_t d = (int32_t)axis + 1; d < x->rank; d++) inner *= x->dims[d];
    int64_t ni = (int64_t)ix->count, v;
    for (int64_t i = 0; i < ni; i++) KILN_CPU_TRY(index_at(ix, i, n, &v, err));
    size_t es = cpu_dtype_size(x->dtype);
    int plain = es && x->dtype != KILN_DTYPE_STRING;
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < ni; i++) {
            v = cpu_index_at(ix->data, ix->dtype, i);
            if (v < 0) v += n;
            int64_t src = (o * n + v) * inner, dst = (o * ni + i) * inner;
            if (plain) memcpy((char *)y->data + dst * (int64_t)es, (const char *)x->data + src * (int64_t)es, (size_t)inner * es);
            else KILN_CPU_TRY(cpu_copy_run(ctx, x, src, y, dst, inner, err));
        }
    }
    return KILN_OK;
}

kiln_status kiln_cpu_gather(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (!copyable(dt)) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Gather is not implemented for %s", cpu_dtype_name(dt));
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(gather_kernel), gather_compute, out, err));
    ((gather_kernel *)*out)->axis = cpu_attr_int(n, "axis", 0);
    return KILN_OK;
}

/* ---- GatherElements ---- */

static kiln_status gather_elements_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const gather_kernel *k = (const gather_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0), *ix = cpu_in(ctx, 1);
    kiln_value_desc *y = ctx->outputs[0];
    int32_t r = x->rank;
    if (ix->rank != r || r == 0) return cpu_fail(err, KILN_ERR_SHAPE, "indices must have the rank of data");
    int64_t axis = k->axis < 0 ? k->axis + r : k->axis;
    if (axis < 0 || axis >= r) return cpu_fail(err, KILN_ERR_SHAPE, "axis %lld is out of range", (long long)k->axis);
    for (int32_t d = 0; d < r; d++)
        if (d != axis && ix->dims[d] > x->dims[d]) return cpu_fail(err, KILN_ERR_SHAPE, "indices dim %d is larger than data's", (int)d);
    int64_t xs[KILN_MAX_RANK], idx[KILN_MAX_RANK] = {0}, n = x->dims[axis], base_off = 0;
    cpu_strides(x->dims, r, xs);
    size_t es = cpu_dtype_size(x->dtype);
    int plain = es && x->dtype != KILN_DTYPE_STRING;
    for (int64_t i = 0; i < (int64_t)ix->count; i++) {
        int64_t v = 0;
        KILN_CPU_TRY(index_at(ix, i, n, &v, err));
        int64_t so = base_off + v * xs[axis];
        if (plain) memcpy((char *)y->data + i * (int64_t)es, (const char *)x->data + so * (int64_t)es, es);
        else KILN_CPU_TRY(cpu_copy_run(ctx, x, so, y, i, 1, err));
        /* base_off: offset of the current index position with the axis coordinate left out */
        for (int32_t d = r - 1; d >= 0; d--) {
            if (d != axis) base_off += xs[d];
            if (++idx[d] < ix->dims[d]) break;
            if (d != axis) base_off -= xs[d] * ix->dims[d];
            idx[d] = 0;
        }
    }
    return KILN_OK;
}

kiln_status kiln_cpu_gather_elements(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (!copyable(dt)) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "GatherElements is not implemented for %s", cpu_dtype_name(dt));
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(gather_kernel), gather_elements_compute, out, err));
    ((gather_kernel *)*out)->axis = cpu_attr_int(n, "axis", 0);
    return KILN_OK;
}

/* ---- GatherND ---- */

static kiln_status gather_nd_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const gather_kernel *k = (const gather_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0), *ix = cpu_in(ctx, 1);
    kiln_value_desc *y = ctx->outputs[0];
    int64_t b = k->axis; /* batch_dims */
    int32_t r = x->rank, q = ix->rank;
    if (q < 1 || b >= q || b >= r) return cpu_fail(err, KILN_ERR_SHAPE, "batch_dims must be less than both ranks");
    int64_t kk = ix->dims[q - 1];
    if (kk < 1 || kk > r - b) return cpu_fail(err, KILN_ERR_SHAPE, "indices' last dim %lld is not valid", (long long)kk);
    int64_t xs[KILN_MAX_RANK], batches = 1, tuples = 1, slice = 1;
    cpu_strides(x->dims, r, xs);
    for (int64_t d = 0; d < b; d++) {
        if (x->dims[d] != ix->dims[d]) return cpu_fail(err, KILN_ERR_SHAPE, "batch dim %lld differs", (long long)d);
        batches *= x->dims[d];
    }
    for (int64_t d = b; d < q - 1; d++) tuples *= ix->dims[d];
    for (int64_t d = b + kk; d < r; d++) slice *= x->dims[d];
    int64_t batch_stride = b ? xs[b - 1] : 0;
    for (int64_t bi = 0; bi < batches; bi++) {
        for (int64_t t = 0; t < tuples; t++) {
            int64_t pos = (bi * tuples + t) * kk, so = bi * batch_stride;
            for (int64_t j = 0; j < kk; j++) {
                int64_t v = 0;
                KILN_CPU_TRY(index_at(ix, pos + j, x->dims[b + j], &v, err));
                so += v * xs[b + j];
            }
            KILN_CPU_TRY(cpu_copy_run(ctx, x, so, y, (bi * tuples + t) * slice, slice, err));
        }
    }
    return KILN_OK;
}

kiln_status kiln_cpu_gather_nd(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (!copyable(dt)) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "GatherND is not implemented for %s", cpu_dtype_name(dt));
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(gather_kernel), gather_nd_compute, out, err));
    ((gather_kernel *)*out)->axis = n->opset >= 12 ? cpu_attr_int(n, "batch_dims", 0) : 0;
    return KILN_OK;
}
