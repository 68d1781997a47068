/* SPDX-License-Identifier: MIT */
/* Index-producing and masking ops: NonZero, Compress, Unique (sorted or in first-occurrence
 * order, per element or per slice along an axis, all four outputs), OneHot, Trilu and
 * ReverseSequence. NonZero, Compress and Unique size their outputs from the data. */
#include <math.h>
#include <string.h>

#include "providers/cpu/cpu_op.h"
#include "providers/cpu/ops/copy.h"
#include "providers/cpu/ops/elem.h"
#include "providers/cpu/ops/sort.h"
#include "providers/cpu/ops/strided.h"

static int copyable(int32_t dt) { return cpu_dtype_size(dt) != 0; }

static kiln_status oom(kiln_error *err) { return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory"); }

/* ---- NonZero ---- */

/* 1 when element i of x is not zero (NaN is not zero; strings: not empty). */
static int nonzero_at(const kiln_value_desc *x, int64_t i) {
    const uint8_t *p = x->data;
    switch (x->dtype) {
    case KILN_DTYPE_FLOAT: return ((const float *)p)[i] != 0;
    case KILN_DTYPE_DOUBLE: return ((const double *)p)[i] != 0;
    case KILN_DTYPE_FLOAT16: case KILN_DTYPE_BFLOAT16: return (((const uint16_t *)p)[i] & 0x7fff) != 0;
    case KILN_DTYPE_COMPLEX64: return ((const float *)p)[2 * i] != 0 || ((const float *)p)[2 * i + 1] != 0;
    case KILN_DTYPE_COMPLEX128: return ((const double *)p)[2 * i] != 0 || ((const double *)p)[2 * i + 1] != 0;
    case KILN_DTYPE_STRING: return ((char *const *)p)[i][0] != 0;
    default: {
        size_t es = cpu_dtype_size(x->dtype);
        for (size_t b = 0; b < es; b++)
            if (p[(size_t)i * es + b]) return 1;
        return 0;
    }
    }
}

static kiln_status nonzero_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    (void)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    int64_t n = (int64_t)x->count, nnz = 0;
    for (int64_t i = 0; i < n; i++) nnz += nonzero_at(x, i);
    int32_t r = x->rank; /* a scalar has no coordinates: [0, nnz], as ONNX's inference says */
    int64_t dims[2] = {r, nnz};
    kiln_value_desc *y;
    KILN_CPU_TRY(cpu_output(ctx, 0, 2, dims, &y, err));
    int64_t *out = y->data, idx[KILN_MAX_RANK] = {0}, j = 0;
    for (int64_t i = 0; i < n; i++) {
        if (nonzero_at(x, i)) {
            for (int32_t d = 0; d < r; d++) out[d * nnz + j] = idx[d];
            j++;
        }
        for (int32_t d = x->rank - 1; d >= 0; d--) {
            if (++idx[d] < x->dims[d]) break;
            idx[d] = 0;
        }
    }
    return KILN_OK;
}

kiln_status kiln_cpu_non_zero(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (!copyable(dt)) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "NonZero is not implemented for %s", cpu_dtype_name(dt));
    return cpu_kernel_new(n, sizeof(cpu_kernel), nonzero_compute, out, err);
}

/* ---- Compress ---- */

typedef struct axis_kernel {
    cpu_kernel base;
    int has_axis;
    int64_t axis;
    int flag;         /* Unique: sorted; Trilu: upper; OneHot: negative indices wrap (11+) */
    uint32_t present; /* Unique: bit i for each optional output i that the node has */
} axis_kernel;

static kiln_status compress_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const axis_kernel *k = (const axis_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0), *cond = cpu_in(ctx, 1);
    const uint8_t *c = cond->data;
    int64_t outer = 1, inner = 1, n = (int64_t)x->count;
    int32_t axis = 0;
    if (k->has_axis) {
        if (k->axis < -(int64_t)x->rank || k->axis >= x->rank)
            return cpu_fail(err, KILN_ERR_SHAPE, "axis %lld is out of range for rank %d", (long long)k->axis, (int)x->rank);
        axis = (int32_t)(k->axis < 0 ? k->axis + x->rank : k->axis);
        n = x->dims[axis];
        for (int32_t d = 0; d < axis; d++) outer *= x->dims[d];
        for (int32_t d = axis + 1; d < x->rank; d++) inner *= x->dims[d];
    }
    int64_t kept = 0;
    for (int64_t i = 0; i < (int64_t)cond->count; i++) {
        if (!c[i]) continue;
        if (i >= n) return cpu_fail(err, KILN_ERR_SHAPE, "condition selects entry %lld of an axis of %lld", (long long)i, (long long)n);
        kept++;
    }
    int64_t dims[KILN_MAX_RANK];
    kiln_value_desc *y;
    if (k->has_axis) {
        memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
        dims[axis] = kept;
        KILN_CPU_TRY(cpu_output(ctx, 0, x->rank, dims, &y, err));
    } else {
        KILN_CPU_TRY(cpu_output(ctx, 0, 1, &kept, &y, err));
    }
    int64_t lim = (int64_t)cond->count < n ? (int64_t)cond->count : n;
    for (int64_t o = 0; o < outer; o++) {
        int64_t j = 0;
        for (int64_t i = 0; i < lim; i++) {
            if (!c[i]) continue;
            KILN_CPU_TRY(cpu_copy_run(ctx, x, (o * n + i) * inner, y, (o * kept + j) * inner, inner, err));
            j++;
        }
    }
    return KILN_OK;
}

kiln_status kiln_cpu_compress(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (!copyable(dt)) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Compress is not implemented for %s", cpu_dtype_name(dt));
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(axis_kernel), compress_compute, out, err));
    axis_kernel *k = (axis_kernel *)*out;
    k->has_axis = cpu_has_attr(n, "axis");
    k->axis = cpu_attr_int(n, "axis", 0);
    return KILN_OK;
}

/* ---- Unique ---- */

/* Slices of x along an axis: slice s is elements (o * n + s) * inner + i. */
typedef struct slices {
    const kiln_value_desc *x;
    int64_t outer, n, inner;
} slices;

static int cmp_slices(const void *ctx, int64_t a, int64_t b) {
    const slices *s = ctx;
    for (int64_t o = 0; o < s->outer; o++)
        for (int64_t i = 0; i < s->inner; i++) {
            int c = cpu_cmp_elems(s->x, (o * s->n + a) * s->inner + i, (o * s->n + b) * s->inner + i);
            if (c) return c;
        }
    return 0;
}

static int cmp_first(const void *ctx, int64_t a, int64_t b) {
    const int64_t *first = ctx;
    return first[a] < first[b] ? -1 : first[a] > first[b];
}

static kiln_status unique_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const axis_kernel *k = (const axis_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    slices s = {x, 1, (int64_t)x->count, 1};
    int32_t axis = 0;
    if (k->has_axis) {
        if (k->axis < -(int64_t)x->rank || k->axis >= x->rank)
            return cpu_fail(err, KILN_ERR_SHAPE, "axis %lld is out of range for rank %d", (long long)k->axis, (int)x->rank);
        axis = (int32_t)(k->axis < 0 ? k->axis + x->rank : k->axis);
        s.n = x->dims[axis];
        for (int32_t d = 0; d < axis; d++) s.outer *= x->dims[d];
        for (int32_t d = axis + 1; d < x->rank; d++) s.inner *= x->dims[d];
    }
    int64_t m = s.n, cap = m ? m : 1;
    /* order: slices sorted (stable, so each group starts with its first occurrence);
     * group_of: group of each slice; first/count: per group */
    int64_t *order = ctx->host->scratch(ctx, (size_t)cap * sizeof(int64_t));
    int64_t *tmp = ctx->host->scratch(ctx, (size_t)cap * sizeof(int64_t));
    int64_t *group_of = ctx->host->scratch(ctx, (size_t)cap * sizeof(int64_t));
    int64_t *first = ctx->host->scratch(ctx, (size_t)cap * sizeof(int64_t));
    int64_t *count = ctx->host->scratch(ctx, (size_t)cap * sizeof(int64_t));
    int64_t *rank_of = ctx->host->scratch(ctx, (size_t)cap * sizeof(int64_t));
    if (!order || !tmp || !group_of || !first || !count || !rank_of) return oom(err);
    for (int64_t i = 0; i < m; i++) order[i] = i;
    cpu_sort_indices(order, m, tmp, cmp_slices, &s);
    int64_t u = 0;
    for (int64_t i = 0; i < m; i++) {
        if (i == 0 || cmp_slices(&s, order[i - 1], order[i]) != 0) {
            first[u] = order[i];
            count[u] = 0;
            u++;
        }
        group_of[order[i]] = u - 1;
        count[u - 1]++;
    }
    /* rank_of[g]: output position of group g; out_group[p]: group at position p (in tmp) */
    for (int64_t g = 0; g < u; g++) tmp[g] = g;
    if (!k->flag) cpu_sort_indices(tmp, u, order, cmp_first, first);
    for (int64_t p = 0; p < u; p++) rank_of[tmp[p]] = p;
    kiln_value_desc *y, *o;
    int64_t dims[KILN_MAX_RANK];
    if (k->has_axis) {
        memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
        dims[axis] = u;
        KILN_CPU_TRY(cpu_output(ctx, 0, x->rank, dims, &y, err));
    } else {
        KILN_CPU_TRY(cpu_output(ctx, 0, 1, &u, &y, err));
    }
    for (int64_t p = 0; p < u; p++)
        for (int64_t oo = 0; oo < s.outer; oo++)
            KILN_CPU_TRY(cpu_copy_run(ctx, x, (oo * s.n + first[tmp[p]]) * s.inner, y, (oo * u + p) * s.inner, s.inner, err));
    if (k->present & 2) {
        KILN_CPU_TRY(cpu_output(ctx, 1, 1, &u, &o, err));
        for (int64_t p = 0; p < u; p++) ((int64_t *)o->data)[p] = first[tmp[p]];
    }
    if (k->present & 4) {
        KILN_CPU_TRY(cpu_output(ctx, 2, 1, &m, &o, err));
        for (int64_t i = 0; i < m; i++) ((int64_t *)o->data)[i] = rank_of[group_of[i]];
    }
    if (k->present & 8) {
        KILN_CPU_TRY(cpu_output(ctx, 3, 1, &u, &o, err));
        for (int64_t p = 0; p < u; p++) ((int64_t *)o->data)[p] = count[tmp[p]];
    }
    return KILN_OK;
}

kiln_status kiln_cpu_unique(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (!copyable(dt)) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Unique is not implemented for %s", cpu_dtype_name(dt));
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(axis_kernel), unique_compute, out, err));
    axis_kernel *k = (axis_kernel *)*out;
    k->has_axis = cpu_has_attr(n, "axis");
    k->axis = cpu_attr_int(n, "axis", 0);
    k->flag = cpu_attr_int(n, "sorted", 1) != 0;
    for (uint32_t i = 1; i < 4; i++)
        if (cpu_output_info(n, i).present) k->present |= 1u << i;
    return KILN_OK;
}

/* ---- OneHot ---- */

static kiln_status one_hot_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const axis_kernel *k = (const axis_kernel *)base;
    const kiln_value_desc *ix = cpu_in(ctx, 0), *dep = cpu_in(ctx, 1), *vals = cpu_in(ctx, 2);
    if (dep->count != 1) return cpu_fail(err, KILN_ERR_SHAPE, "depth must have one value");
    if (vals->count != 2) return cpu_fail(err, KILN_ERR_SHAPE, "values must be [off_value, on_value]");
    double dv = cpu_load_f64(dep->data, dep->dtype, 0);
    if (!(dv >= 0) || dv > 1e15) return cpu_fail(err, KILN_ERR_SHAPE, "depth %g is not valid", dv);
    int64_t depth = (int64_t)dv; /* non-integer depth and indices are cast to int64 (truncated) */
    int32_t r = ix->rank + 1;
    int64_t axis = k->axis < 0 ? k->axis + r : k->axis;
    if (axis < 0 || axis >= r) return cpu_fail(err, KILN_ERR_SHAPE, "axis %lld is out of range", (long long)k->axis);
    int64_t dims[KILN_MAX_RANK], outer = 1, inner = 1;
    for (int32_t d = 0, i = 0; d < r; d++) dims[d] = d == axis ? depth : ix->dims[i++];
    for (int32_t d = 0; d < axis; d++) outer *= ix->dims[d];
    for (int32_t d = (int32_t)axis; d < ix->rank; d++) inner *= ix->dims[d];
    kiln_value_desc *y;
    KILN_CPU_TRY(cpu_output(ctx, 0, r, dims, &y, err));
    /* every element is off_value except y[o, index, i] */
    KILN_CPU_TRY(cpu_copy_strided(ctx, vals, 0, (const int64_t[]){0}, y, 0, (const int64_t[]){1}, 1,
                                  (const int64_t[]){(int64_t)y->count}, err));
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            double v = trunc(cpu_load_f64(ix->data, ix->dtype, o * inner + i));
            if (v < 0 && k->flag) v += (double)depth; /* negative indices count from the end from opset 11 */
            if (!(v >= 0 && v < (double)depth)) continue; /* out of range (or NaN): all off_value */
            KILN_CPU_TRY(cpu_copy_run(ctx, vals, 1, y, (o * depth + (int64_t)v) * inner + i, 1, err));
        }
    return KILN_OK;
}

kiln_status kiln_cpu_one_hot(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t ti = cpu_input_dtype(n, 0), td = cpu_input_dtype(n, 1), tv = cpu_input_dtype(n, 2);
    if (!cpu_elem_numeric(ti) || !cpu_elem_numeric(td) || !copyable(tv))
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "OneHot is not implemented for %s indices, %s depth, %s values",
                        cpu_dtype_name(ti), cpu_dtype_name(td), cpu_dtype_name(tv));
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(axis_kernel), one_hot_compute, out, err));
    ((axis_kernel *)*out)->axis = cpu_attr_int(n, "axis", -1);
    ((axis_kernel *)*out)->flag = n->opset >= 11;
    return KILN_OK;
}

/* ---- Trilu ---- */

static kiln_status trilu_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const axis_kernel *k = (const axis_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0), *kv = cpu_in(ctx, 1);
    kiln_value_desc *y = ctx->outputs[0];
    int upper = k->flag;
    int64_t diag = 0;
    if (kv) {
        if (kv->count != 1) return cpu_fail(err, KILN_ERR_SHAPE, "k must be a scalar");
        diag = *(const int64_t *)kv->data;
    }
    int64_t rows = x->dims[x->rank - 2], cols = x->dims[x->rank - 1];
    int64_t mats = rows > 0 && cols > 0 ? (int64_t)x->count / (rows * cols) : 0;
    /* Row i keeps columns [lo, hi): upper keeps j >= i + k, lower keeps j <= i + k. Clamping k
     * first keeps i + k from overflowing without changing the result. */
    if (diag < -rows - 1) diag = -rows - 1;
    if (diag > cols + 1) diag = cols + 1;
    cpu_zero_fill(y); /* the other triangle is zero; outputs start uninitialized */
    for (int64_t m = 0; m < mats; m++)
        for (int64_t i = 0; i < rows; i++) {
            int64_t e = upper ? i + diag : i + diag + 1;
            e = e < 0 ? 0 : e > cols ? cols : e;
            int64_t lo = upper ? e : 0, hi = upper ? cols : e;
            int64_t row = (m * rows + i) * cols;
            KILN_CPU_TRY(cpu_copy_run(ctx, x, row + lo, y, row + lo, hi - lo, err));
        }
    return KILN_OK;
}

kiln_status kiln_cpu_trilu(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (!copyable(dt)) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Trilu is not implemented for %s", cpu_dtype_name(dt));
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(axis_kernel), trilu_compute, out, err));
    ((axis_kernel *)*out)->flag = cpu_attr_int(n, "upper", 1) != 0;
    return KILN_OK;
}

/* ---- ReverseSequence ---- */

static kiln_status reverse_sequence_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const axis_kernel *k = (const axis_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0), *lens = cpu_in(ctx, 1);
    kiln_value_desc *y = ctx->outputs[0];
    int64_t bax = k->axis, tax = 1 - bax;
    int64_t batch = x->dims[bax], seq = x->dims[tax], inner = 1;
    for (int32_t d = 2; d < x->rank; d++) inner *= x->dims[d];
    if ((int64_t)lens->count != batch) return cpu_fail(err, KILN_ERR_SHAPE, "sequence_lens must have one value per batch entry");
    /* element (b, t) starts at (t * batch + b) * inner with time first, (b * seq + t) * inner else */
    int64_t bs = tax == 0 ? inner : seq * inner, ts = tax == 0 ? batch * inner : inner;
    for (int64_t b = 0; b < batch; b++) {
        int64_t len = ((const int64_t *)lens->data)[b];
        if (len < 0 || len > seq)
            return cpu_fail(err, KILN_ERR_SHAPE, "sequence length %lld is outside [0, %lld]", (long long)len, (long long)seq);
        for (int64_t t = 0; t < seq; t++) {
            int64_t src = t < len ? len - 1 - t : t;
            KILN_CPU_TRY(cpu_copy_run(ctx, x, b * bs + src * ts, y, b * bs + t * ts, inner, err));
        }
    }
    return KILN_OK;
}

kiln_status kiln_cpu_reverse_sequence(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (!copyable(dt)) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "ReverseSequence is not implemented for %s", cpu_dtype_name(dt));
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(axis_kernel), reverse_sequence_compute, out, err));
    ((axis_kernel *)*out)->axis = cpu_attr_int(n, "batch_axis", 1);
    return KILN_OK;
}
