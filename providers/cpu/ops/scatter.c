/* SPDX-License-Identifier: MIT */
/* ScatterElements (and the deprecated Scatter), ScatterND with reduction none / add / mul /
 * max / min, and TensorScatter (KV-cache writes, linear or circular). The output starts as a
 * copy of the data; updates are applied in index order, so duplicates reduce deterministically
 * (with reduction none the last one wins). Integer add/mul wrap around. */
#include <string.h>

#include "providers/cpu/cpu_op.h"
#include "providers/cpu/ops/copy.h"
#include "providers/cpu/ops/elem.h"
#include "providers/cpu/ops/strided.h"

enum { RED_NONE, RED_ADD, RED_MUL, RED_MAX, RED_MIN };

#define APPLY(d, s)                                      \
    switch (red) {                                       \
    case RED_ADD: d = d + s; break;                      \
    case RED_MUL: d = d * s; break;                      \
    case RED_MAX: d = d < s ? s : d; break;              \
    default: d = s < d ? s : d; break;                   \
    }

#define APPLY_INT(T, U)                                                             \
    do {                                                                            \
        T *d_ = (T *)dst + di;                                                      \
        T s_ = ((const T *)src)[si];                                                \
        if (red == RED_ADD) *d_ = (T)(U)((U)*d_ + (U)s_);                           \
        else if (red == RED_MUL) *d_ = (T)(U)((U)*d_ * (U)s_);                      \
        else if (red == RED_MAX) *d_ = *d_ < s_ ? s_ : *d_;                         \
        else *d_ = s_ < *d_ ? s_ : *d_;                                             \
    } while (0)

/* dst[di] = f(dst[di], src[si]) for a reduction other than none. */
static void combine(void *dst, int64_t di, const void *src, int64_t si, int32_t dt, int red) {
    switch (dt) {
    case KILN_DTYPE_FLOAT: APPLY(((float *)dst)[di], ((const float *)src)[si]); break;
    case KILN_DTYPE_DOUBLE: APPLY(((double *)dst)[di], ((const double *)src)[si]); break;
    case KILN_DTYPE_FLOAT16: case KILN_DTYPE_BFLOAT16: {
        float d = (float)cpu_load_f64(dst, dt, di), s = (float)cpu_load_f64(src, dt, si);
        APPLY(d, s);
        cpu_store_f64(dst, dt, di, d);
        break;
    }
    case KILN_DTYPE_INT8: APPLY_INT(int8_t, uint8_t); break;
    case KILN_DTYPE_INT16: APPLY_INT(int16_t, uint16_t); break;
    case KILN_DTYPE_INT32: APPLY_INT(int32_t, uint32_t); break;
    case KILN_DTYPE_INT64: APPLY_INT(int64_t, uint64_t); break;
    case KILN_DTYPE_UINT8: APPLY_INT(uint8_t, uint32_t); break;
    case KILN_DTYPE_UINT16: APPLY_INT(uint16_t, uint32_t); break;
    case KILN_DTYPE_UINT32: APPLY_INT(uint32_t, uint32_t); break;
    case KILN_DTYPE_UINT64: APPLY_INT(uint64_t, uint64_t); break;
    case KILN_DTYPE_BOOL: {
        uint8_t *d = (uint8_t *)dst + di, s = ((const uint8_t *)src)[si];
        *d = (red == RED_ADD || red == RED_MAX) ? (*d | s) : (*d & s);
        break;
    }
    default: break;
    }
}

/* Applies n consecutive updates src[si..] to dst[di..]. */
static kiln_status apply_run(kiln_kernel_ctx *ctx, int red, const kiln_value_desc *src, int64_t si, kiln_value_desc *dst,
                             int64_t di, int64_t n, kiln_error *err) {
    if (red == RED_NONE) return cpu_copy_run(ctx, src, si, dst, di, n, err);
    for (int64_t e = 0; e < n; e++) combine(dst->data, di + e, src->data, si + e, dst->dtype, red);
    return KILN_OK;
}

typedef struct scatter_kernel {
    cpu_kernel base;
    int64_t axis;
    int red;
    int circular;   /* TensorScatter */
} scatter_kernel;

static kiln_status index_at(const kiln_value_desc *ix, int64_t i, int64_t n, int64_t *out, kiln_error *err) {
    int64_t v = cpu_index_at(ix->data, ix->dtype, i);
    *out = 0;
    if (v < -n || v >= n)
        return cpu_fail(err, KILN_ERR_SHAPE, "index %lld at position %lld is out of range [%lld, %lld)", (long long)v,
                        (long long)i, (long long)-n, (long long)n);
    *out = v < 0 ? v + n : v;
    return KILN_OK;
}

static int same_dims(const kiln_value_desc *a, const kiln_value_desc *b) {
    return a->rank == b->rank && (a->rank == 0 || memcmp(a->dims, b->dims, sizeof(int64_t) * (size_t)a->rank) == 0);
}

static kiln_status scatter_elements_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const scatter_kernel *k = (const scatter_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0), *ix = cpu_in(ctx, 1), *u = cpu_in(ctx, 2);
    kiln_value_desc *y = ctx->outputs[0];
    int32_t r = x->rank;
    if (!same_dims(ix, u)) return cpu_fail(err, KILN_ERR_SHAPE, "indices and updates must have the same shape");
    if (ix->rank != r || r == 0) return cpu_fail(err, KILN_ERR_SHAPE, "indices must have the rank of data");
    int64_t axis = k->axis < 0 ? k->axis + r : k->axis;
    if (axis < 0 || axis >= r) return cpu_fail(err, KILN_ERR_SHAPE, "axis %lld is out of range", (long long)k->axis);
    for (int32_t d = 0; d < r; d++)
        if (d != axis && ix->dims[d] > x->dims[d]) return cpu_fail(err, KILN_ERR_SHAPE, "indices dim %d is larger than data's", (int)d);
    KILN_CPU_TRY(cpu_copy_elements(ctx, x, y, err));
    int64_t xs[KILN_MAX_RANK], idx[KILN_MAX_RANK] = {0}, n = x->dims[axis], off = 0;
    cpu_strides(x->dims, r, xs);
    for (int64_t i = 0; i < (int64_t)ix->count; i++) {
        int64_t v = 0;
        KILN_CPU_TRY(index_at(ix, i, n, &v, err));
        KILN_CPU_TRY(apply_run(ctx, k->red, u, i, y, off + v * xs[axis], 1, err));
        for (int32_t d = r - 1; d >= 0; d--) {
            if (d != axis) off += xs[d];
            if (++idx[d] < ix->dims[d]) break;
            if (d != axis) off -= xs[d] * ix->dims[d];
            idx[d] = 0;
        }
    }
    return KILN_OK;
}

static kiln_status scatter_nd_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const scatter_kernel *k = (const scatter_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0), *ix = cpu_in(ctx, 1), *u = cpu_in(ctx, 2);
    kiln_value_desc *y = ctx->outputs[0];
    int32_t r = x->rank, q = ix->rank;
    if (r < 1 || q < 1) return cpu_fail(err, KILN_ERR_SHAPE, "data and indices must have rank 1 or more");
    int64_t kk = ix->dims[q - 1];
    if (kk < 1 || kk > r) return cpu_fail(err, KILN_ERR_SHAPE, "indices' last dim %lld is not in [1, %d]", (long long)kk, (int)r);
    /* updates: indices.shape[:-1] ++ data.shape[k:] */
    int ok = u->rank == q - 1 + r - kk;
    for (int32_t d = 0; ok && d < u->rank; d++)
        ok = u->dims[d] == (d < q - 1 ? ix->dims[d] : x->dims[kk + d - (q - 1)]);
    if (!ok) return cpu_fail(err, KILN_ERR_SHAPE, "updates do not have the shape indices.shape[:-1] + data.shape[k:]");
    KILN_CPU_TRY(cpu_copy_elements(ctx, x, y, err));
    int64_t xs[KILN_MAX_RANK], tuples = 1, slice = 1;
    cpu_strides(x->dims, r, xs);
    for (int32_t d = 0; d < q - 1; d++) tuples *= ix->dims[d];
    for (int64_t d = kk; d < r; d++) slice *= x->dims[d];
    for (int64_t t = 0; t < tuples; t++) {
        int64_t off = 0;
        for (int64_t j = 0; j < kk; j++) {
            int64_t v = 0;
            KILN_CPU_TRY(index_at(ix, t * kk + j, x->dims[j], &v, err));
            off += v * xs[j];
        }
        KILN_CPU_TRY(apply_run(ctx, k->red, u, t * slice, y, off, slice, err));
    }
    return KILN_OK;
}

static kiln_status tensor_scatter_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const scatter_kernel *k = (const scatter_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0), *u = cpu_in(ctx, 1), *w = cpu_in(ctx, 2);
    kiln_value_desc *y = ctx->outputs[0];
    int32_t r = x->rank;
    int64_t axis = k->axis < 0 ? k->axis + r : k->axis;
    if (axis <= 0 || axis >= r || u->rank != r) return cpu_fail(err, KILN_ERR_SHAPE, "axis %lld is not valid", (long long)k->axis);
    for (int32_t d = 0; d < r; d++)
        if (d == axis ? u->dims[d] > x->dims[d] : u->dims[d] != x->dims[d])
            return cpu_fail(err, KILN_ERR_SHAPE, "update dim %d does not fit past_cache", (int)d);
    int64_t batch = x->dims[0];
    if (w && (w->dtype != KILN_DTYPE_INT64 || (int64_t)w->count != batch))
        return cpu_fail(err, KILN_ERR_SHAPE, "write_indices must be int64 with one value per batch entry");
    KILN_CPU_TRY(cpu_copy_elements(ctx, x, y, err));
    int64_t prefix = 1, inner = 1, seq = u->dims[axis], maxseq = x->dims[axis];
    for (int64_t d = 0; d < axis; d++) prefix *= x->dims[d];
    for (int64_t d = axis + 1; d < r; d++) inner *= x->dims[d];
    int64_t per_batch = batch ? prefix / batch : 0;
    for (int64_t p = 0; p < prefix; p++) {
        int64_t wi = w ? ((const int64_t *)w->data)[p / per_batch] : 0;
        if (k->circular && seq) {
            wi %= maxseq;
            if (wi < 0) wi += maxseq;
        } else if (wi < 0 || wi > maxseq - seq) {
            return cpu_fail(err, KILN_ERR_SHAPE, "write index %lld with %lld updates is outside the cache of %lld",
                            (long long)wi, (long long)seq, (long long)maxseq);
        }
        for (int64_t s = 0; s < seq; s++) {
            int64_t c = k->circular ? (wi + s) % maxseq : wi + s;
            KILN_CPU_TRY(cpu_copy_run(ctx, u, (p * seq + s) * inner, y, (p * maxseq + c) * inner, inner, err));
        }
    }
    return KILN_OK;
}

static kiln_status scatter_new(const cpu_node *n, cpu_compute_fn fn, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (!cpu_dtype_size(dt) && !cpu_sub_bits(dt))
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "%s is not implemented for %s", n->op_type, cpu_dtype_name(dt));
    const char *rs = n->opset >= 16 ? cpu_attr_str(n, "reduction", "none") : "none";
    int red = !strcmp(rs, "none") ? RED_NONE : !strcmp(rs, "add") ? RED_ADD : !strcmp(rs, "mul") ? RED_MUL
            : (n->opset >= 18 && !strcmp(rs, "max")) ? RED_MAX : (n->opset >= 18 && !strcmp(rs, "min")) ? RED_MIN : -1;
    if (red < 0) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "%s reduction '%s' is not implemented", n->op_type, rs);
    if (red != RED_NONE && !cpu_elem_numeric(dt))
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "%s reduction '%s' is not implemented for %s", n->op_type, rs, cpu_dtype_name(dt));
    int circular = 0;
    if (fn == tensor_scatter_compute) {
        const char *mode = cpu_attr_str(n, "mode", "linear");
        if (strcmp(mode, "linear") && strcmp(mode, "circular"))
            return cpu_fail(err, KILN_ERR_UNSUPPORTED, "TensorScatter mode '%s' is not implemented", mode);
        circular = !strcmp(mode, "circular");
    }
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(scatter_kernel), fn, out, err));
    scatter_kernel *k = (scatter_kernel *)*out;
    k->axis = cpu_attr_int(n, "axis", fn == tensor_scatter_compute ? -2 : 0);
    k->red = red;
    k->circular = circular;
    return KILN_OK;
}

kiln_status kiln_cpu_scatter_elements(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    return scatter_new(n, scatter_elements_compute, out, err);
}
kiln_status kiln_cpu_scatter_nd(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    return scatter_new(n, scatter_nd_compute, out, err);
}
kiln_status kiln_cpu_tensor_scatter(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    return scatter_new(n, tensor_scatter_compute, out, err);
}
