/* SPDX-License-Identifier: MIT */
/* Concat and Split along one axis, any dtype: each input (output) is a run of `outer` blocks
 * of dim * inner contiguous elements, copied at its offset along the axis. */
#include <string.h>

#include "providers/cpu/cpu_op.h"
#include "providers/cpu/ops/elem.h"
#include "providers/cpu/ops/strided.h"

typedef struct axis_kernel {
    cpu_kernel base;
    int64_t axis;          /* as given; normalized per input rank at run */
    int64_t num_outputs;   /* Split 18+: 0 when not given */
    uint32_t n_split;      /* Split: sizes from the attribute (before opset 13) */
    int64_t split[256];
} axis_kernel;

static kiln_status norm_axis(int64_t axis, int32_t rank, int32_t *out, kiln_error *err) {
    if (axis < -(int64_t)rank || axis >= rank)
        return cpu_fail(err, KILN_ERR_SHAPE, "axis %lld is out of range for rank %d", (long long)axis, (int)rank);
    *out = (int32_t)(axis < 0 ? axis + rank : axis);
    return KILN_OK;
}

/* outer: product of dims before axis; inner: after it. */
static void outer_inner(const kiln_value_desc *x, int32_t axis, int64_t *outer, int64_t *inner) {
    *outer = 1, *inner = 1;
    for (int32_t d = 0; d < axis; d++) *outer *= x->dims[d];
    for (int32_t d = axis + 1; d < x->rank; d++) *inner *= x->dims[d];
}

static kiln_status concat_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const axis_kernel *k = (const axis_kernel *)base;
    kiln_value_desc *y = ctx->outputs[0];
    int32_t axis = 0;
    KILN_CPU_TRY(norm_axis(k->axis, y->rank, &axis, err));
    int64_t outer, inner, off = 0;
    outer_inner(y, axis, &outer, &inner);
    int64_t ystride = y->dims[axis] * inner;
    for (uint32_t i = 0; i < ctx->n_inputs; i++) {
        const kiln_value_desc *x = cpu_in(ctx, i);
        if (!x) continue;
        int64_t run = x->dims[axis] * inner;
        if (off + x->dims[axis] > y->dims[axis]) return cpu_fail(err, KILN_ERR_INTERNAL, "Concat inputs exceed the output");
        int64_t dims[2] = {outer, run}, ss[2] = {run, 1}, ds[2] = {ystride, 1};
        KILN_CPU_TRY(cpu_copy_strided(ctx, x, 0, ss, y, off * inner, ds, 2, dims, err));
        off += x->dims[axis];
    }
    return KILN_OK;
}

kiln_status kiln_cpu_concat(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (!cpu_dtype_size(dt) && !cpu_sub_bits(dt))
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Concat is not implemented for %s", cpu_dtype_name(dt));
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(axis_kernel), concat_compute, out, err));
    ((axis_kernel *)*out)->axis = cpu_attr_int(n, "axis", 1);
    return KILN_OK;
}

/* Split sizes for `nout` outputs of an axis of `dim` (same rules as the shape function). */
static kiln_status split_sizes(const axis_kernel *k, kiln_kernel_ctx *ctx, int64_t dim, uint32_t nout, int64_t *sizes,
                               kiln_error *err) {
    const kiln_value_desc *s = k->n_split ? NULL : cpu_in(ctx, 1);
    if (k->n_split || s) {
        uint64_t n = k->n_split ? k->n_split : s->count;
        if (n != nout) return cpu_fail(err, KILN_ERR_SHAPE, "split has %llu sizes for %u outputs", (unsigned long long)n, nout);
        int64_t sum = 0;
        for (uint32_t i = 0; i < nout; i++) {
            sizes[i] = k->n_split ? k->split[i] : cpu_index_at(s->data, s->dtype, i);
            if (sizes[i] < 0 || __builtin_add_overflow(sum, sizes[i], &sum))
                return cpu_fail(err, KILN_ERR_SHAPE, "split size %lld is not valid", (long long)sizes[i]);
        }
        if (sum != dim) return cpu_fail(err, KILN_ERR_SHAPE, "split sizes add up to %lld, the axis has %lld", (long long)sum, (long long)dim);
        return KILN_OK;
    }
    int64_t part = dim / nout;
    if (dim % nout) {
        if (!k->num_outputs || (part + 1) * (int64_t)(nout - 1) > dim)
            return cpu_fail(err, KILN_ERR_SHAPE, "dim %lld cannot be split into %u parts", (long long)dim, nout);
        part++;
    }
    for (uint32_t i = 0; i < nout; i++) sizes[i] = i + 1 < nout ? part : dim - part * (int64_t)(nout - 1);
    return KILN_OK;
}

static kiln_status split_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const axis_kernel *k = (const axis_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    int32_t axis = 0;
    KILN_CPU_TRY(norm_axis(k->axis, x->rank, &axis, err));
    uint32_t nout = ctx->n_outputs;
    int64_t *sizes = ctx->host->scratch(ctx, nout * sizeof(int64_t));
    if (!sizes) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    KILN_CPU_TRY(split_sizes(k, ctx, x->dims[axis], nout, sizes, err));
    int64_t outer, inner, off = 0;
    outer_inner(x, axis, &outer, &inner);
    int64_t xstride = x->dims[axis] * inner;
    for (uint32_t i = 0; i < nout; i++) {
        kiln_value_desc *y = ctx->outputs[i]; /* sized by shape inference; NULL when omitted */
        if (y) {
            if (y->rank != x->rank || y->dims[axis] != sizes[i])
                return cpu_fail(err, KILN_ERR_INTERNAL, "Split output %u has an unexpected shape", i);
            int64_t run = sizes[i] * inner;
            int64_t vd[2] = {outer, run}, ss[2] = {xstride, 1}, ds[2] = {run, 1};
            KILN_CPU_TRY(cpu_copy_strided(ctx, x, off * inner, ss, y, 0, ds, 2, vd, err));
        }
        off += sizes[i];
    }
    return KILN_OK;
}

kiln_status kiln_cpu_split(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (!cpu_dtype_size(dt) && !cpu_sub_bits(dt))
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Split is not implemented for %s", cpu_dtype_name(dt));
    uint32_t ns = 0;
    const int64_t *split = n->opset < 13 ? cpu_attr_ints(n, "split", &ns) : NULL;
    if (ns > 256) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Split with %u outputs is not implemented", ns);
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(axis_kernel), split_compute, out, err));
    axis_kernel *k = (axis_kernel *)*out;
    k->axis = cpu_attr_int(n, "axis", 0);
    k->num_outputs = n->opset >= 18 ? cpu_attr_int(n, "num_outputs", 0) : 0;
    if (ns) memcpy(k->split, split, ns * sizeof(int64_t));
    k->n_split = ns;
    return KILN_OK;
}
