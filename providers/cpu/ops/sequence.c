/* SPDX-License-Identifier: MIT */
/* Sequence ops: SequenceEmpty, SequenceConstruct, SequenceAt, SequenceInsert, SequenceErase,
 * SequenceLength, SplitToSequence, ConcatFromSequence, SequenceMap. Every output sequence is a
 * new value: items are copied (strings duplicated), never shared with an input. */
#include <string.h>

#include "providers/cpu/cpu_op.h"
#include "providers/cpu/ops/copy.h"

typedef struct seq_kernel {
    cpu_kernel base;
    int32_t dtype;   /* element type of the output sequence */
    int64_t axis;    /* SplitToSequence, ConcatFromSequence */
    int keepdims;    /* SplitToSequence */
    int new_axis;    /* ConcatFromSequence */
} seq_kernel;

static kiln_status need_seq(const kiln_value_desc *s, const char *what, kiln_error *err) {
    if (!s || s->kind != KILN_VALUE_SEQUENCE) return cpu_fail(err, KILN_ERR_SHAPE, "%s must be a sequence", what);
    return KILN_OK;
}

/* Item j of sequence output i becomes a copy of tensor `src`. */
static kiln_status put_item(kiln_kernel_ctx *ctx, uint32_t i, uint64_t j, const kiln_value_desc *src, int32_t dtype,
                            kiln_error *err) {
    if (src->kind != KILN_VALUE_TENSOR || src->dtype != dtype)
        return cpu_fail(err, KILN_ERR_SHAPE, "sequence items must be %s tensors, got %s", cpu_dtype_name(dtype),
                        src->kind == KILN_VALUE_TENSOR ? cpu_dtype_name(src->dtype) : "a non-tensor");
    kiln_value_desc *dst;
    KILN_CPU_TRY((kiln_status)ctx->host->alloc_item(ctx, i, j, src->rank, src->dims, &dst, err));
    return cpu_copy_elements(ctx, src, dst, err);
}

/* Reads an optional scalar position (int32/int64) and checks it against [lo, hi]; `dflt` when absent. */
static kiln_status position(const kiln_value_desc *p, int64_t lo, int64_t hi, int64_t dflt, int64_t *out,
                            kiln_error *err) {
    *out = dflt;
    if (!p) return KILN_OK;
    if (p->kind != KILN_VALUE_TENSOR || p->count != 1 || (p->dtype != KILN_DTYPE_INT64 && p->dtype != KILN_DTYPE_INT32))
        return cpu_fail(err, KILN_ERR_SHAPE, "position must be one int32 or int64 value");
    int64_t v = p->dtype == KILN_DTYPE_INT64 ? *(const int64_t *)p->data : *(const int32_t *)p->data;
    if (v < lo || v > hi)
        return cpu_fail(err, KILN_ERR_SHAPE, "position %lld is out of range [%lld, %lld]", (long long)v, (long long)lo,
                        (long long)hi);
    *out = v;
    return KILN_OK;
}

static kiln_status new_kernel(const cpu_node *n, cpu_compute_fn fn, cpu_kernel **out, kiln_error *err) {
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(seq_kernel), fn, out, err));
    seq_kernel *k = (seq_kernel *)*out;
    k->dtype = cpu_output_info(n, 0).dtype;
    return KILN_OK;
}

/* ---- SequenceEmpty, SequenceConstruct, SequenceLength ---- */

static kiln_status empty_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    kiln_value_desc *out;
    return (kiln_status)ctx->host->alloc_sequence(ctx, 0, ((const seq_kernel *)base)->dtype, 0, &out, err);
}

kiln_status kiln_cpu_sequence_empty(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    return new_kernel(n, empty_compute, out, err);
}

static kiln_status construct_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const seq_kernel *k = (const seq_kernel *)base;
    kiln_value_desc *out;
    KILN_CPU_TRY((kiln_status)ctx->host->alloc_sequence(ctx, 0, k->dtype, ctx->n_inputs, &out, err));
    for (uint32_t i = 0; i < ctx->n_inputs; i++) {
        if (!cpu_in(ctx, i)) return cpu_fail(err, KILN_ERR_SHAPE, "input %u is empty", i);
        KILN_CPU_TRY(put_item(ctx, 0, i, cpu_in(ctx, i), k->dtype, err));
    }
    return KILN_OK;
}

kiln_status kiln_cpu_sequence_construct(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    return new_kernel(n, construct_compute, out, err);
}

static kiln_status length_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    (void)base;
    const kiln_value_desc *s = cpu_in(ctx, 0);
    KILN_CPU_TRY(need_seq(s, "input", err));
    kiln_value_desc *out;
    KILN_CPU_TRY(cpu_output(ctx, 0, 0, NULL, &out, err));
    *(int64_t *)out->data = (int64_t)s->count;
    return KILN_OK;
}

kiln_status kiln_cpu_sequence_length(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    return new_kernel(n, length_compute, out, err);
}

/* ---- SequenceAt, SequenceInsert, SequenceErase ---- */

static kiln_status at_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    (void)base;
    const kiln_value_desc *s = cpu_in(ctx, 0);
    KILN_CPU_TRY(need_seq(s, "input_sequence", err));
    int64_t n = (int64_t)s->count, p;
    if (!cpu_in(ctx, 1)) return cpu_fail(err, KILN_ERR_SHAPE, "position is required");
    KILN_CPU_TRY(position(cpu_in(ctx, 1), -n, n - 1, 0, &p, err));
    return cpu_copy_value(ctx, 0, s->items[p < 0 ? p + n : p], err);
}

kiln_status kiln_cpu_sequence_at(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    return new_kernel(n, at_compute, out, err);
}

static kiln_status insert_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    (void)base;
    const kiln_value_desc *s = cpu_in(ctx, 0), *x = cpu_in(ctx, 1);
    KILN_CPU_TRY(need_seq(s, "input_sequence", err));
    int64_t n = (int64_t)s->count, p;
    KILN_CPU_TRY(position(cpu_in(ctx, 2), -n, n, n, &p, err));
    if (p < 0) p += n;
    kiln_value_desc *out;
    KILN_CPU_TRY((kiln_status)ctx->host->alloc_sequence(ctx, 0, s->dtype, (uint64_t)n + 1, &out, err));
    for (int64_t j = 0; j <= n; j++)
        KILN_CPU_TRY(put_item(ctx, 0, (uint64_t)j, j == p ? x : s->items[j < p ? j : j - 1], s->dtype, err));
    return KILN_OK;
}

kiln_status kiln_cpu_sequence_insert(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    return new_kernel(n, insert_compute, out, err);
}

static kiln_status erase_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    (void)base;
    const kiln_value_desc *s = cpu_in(ctx, 0);
    KILN_CPU_TRY(need_seq(s, "input_sequence", err));
    int64_t n = (int64_t)s->count, p;
    if (n == 0) return cpu_fail(err, KILN_ERR_SHAPE, "cannot erase from an empty sequence");
    KILN_CPU_TRY(position(cpu_in(ctx, 1), -n, n - 1, n - 1, &p, err));
    if (p < 0) p += n;
    kiln_value_desc *out;
    KILN_CPU_TRY((kiln_status)ctx->host->alloc_sequence(ctx, 0, s->dtype, (uint64_t)n - 1, &out, err));
    for (int64_t j = 0; j < n - 1; j++) KILN_CPU_TRY(put_item(ctx, 0, (uint64_t)j, s->items[j < p ? j : j + 1], s->dtype, err));
    return KILN_OK;
}

kiln_status kiln_cpu_sequence_erase(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    return new_kernel(n, erase_compute, out, err);
}

/* ---- SplitToSequence ---- */

static kiln_status split_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const seq_kernel *k = (const seq_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0), *sp = cpu_in(ctx, 1);
    if (x->rank < 1) return cpu_fail(err, KILN_ERR_SHAPE, "cannot split a scalar");
    if (k->axis < -(int64_t)x->rank || k->axis >= x->rank)
        return cpu_fail(err, KILN_ERR_SHAPE, "axis %lld is out of range for rank %d", (long long)k->axis, (int)x->rank);
    int32_t axis = (int32_t)(k->axis < 0 ? k->axis + x->rank : k->axis);
    int64_t len = x->dims[axis], chunk = 1, n_parts;
    const void *sizes = NULL;
    int sizes64 = 0;
    if (sp) {
        if (sp->kind != KILN_VALUE_TENSOR || sp->rank > 1 || (sp->dtype != KILN_DTYPE_INT64 && sp->dtype != KILN_DTYPE_INT32))
            return cpu_fail(err, KILN_ERR_SHAPE, "split must be an int32 or int64 scalar or 1-D tensor");
        sizes64 = sp->dtype == KILN_DTYPE_INT64;
        if (sp->rank == 0) {
            chunk = sizes64 ? *(const int64_t *)sp->data : *(const int32_t *)sp->data;
            if (chunk <= 0) return cpu_fail(err, KILN_ERR_SHAPE, "split %lld must be positive", (long long)chunk);
        } else {
            sizes = sp->data;
            int64_t sum = 0;
            for (uint64_t i = 0; i < sp->count; i++) {
                int64_t v = sizes64 ? ((const int64_t *)sizes)[i] : ((const int32_t *)sizes)[i];
                if (v < 0 || v > len) return cpu_fail(err, KILN_ERR_SHAPE, "split[%llu] = %lld is invalid", (unsigned long long)i, (long long)v);
                sum += v;
            }
            if (sum != len)
                return cpu_fail(err, KILN_ERR_SHAPE, "split sums to %lld, but the axis has %lld elements", (long long)sum,
                                (long long)len);
        }
    }
    n_parts = sizes ? (int64_t)sp->count : (len + chunk - 1) / chunk;
    int squeeze = !sp && !k->keepdims;
    int64_t outer = 1, inner = 1;
    for (int32_t d = 0; d < axis; d++) outer *= x->dims[d];
    for (int32_t d = axis + 1; d < x->rank; d++) inner *= x->dims[d];
    kiln_value_desc *out;
    KILN_CPU_TRY((kiln_status)ctx->host->alloc_sequence(ctx, 0, x->dtype, (uint64_t)n_parts, &out, err));
    size_t es = cpu_dtype_size(x->dtype);
    int64_t off = 0;
    for (int64_t p = 0; p < n_parts; p++) {
        int64_t sz = sizes ? (sizes64 ? ((const int64_t *)sizes)[p] : ((const int32_t *)sizes)[p])
                           : (len - off < chunk ? len - off : chunk);
        int64_t dims[KILN_MAX_RANK];
        int32_t r = 0;
        for (int32_t d = 0; d < x->rank; d++) {
            if (d == axis && squeeze) continue;
            dims[r++] = d == axis ? sz : x->dims[d];
        }
        kiln_value_desc *item;
        KILN_CPU_TRY((kiln_status)ctx->host->alloc_item(ctx, 0, (uint64_t)p, r, dims, &item, err));
        for (int64_t o = 0; o < outer; o++) {
            size_t src = (size_t)((o * len + off) * inner), dst = (size_t)(o * sz * inner), cnt = (size_t)(sz * inner);
            if (x->dtype == KILN_DTYPE_STRING) {
                char *const *s = x->data;
                for (size_t e = 0; e < cnt; e++)
                    KILN_CPU_TRY((kiln_status)ctx->host->set_string(ctx, item, dst + e, s[src + e], strlen(s[src + e]), err));
            } else if (cnt) {
                memcpy((char *)item->data + dst * es, (const char *)x->data + src * es, cnt * es);
            }
        }
        off += sz;
    }
    return KILN_OK;
}

kiln_status kiln_cpu_split_to_sequence(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (!cpu_dtype_size(dt))
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "SplitToSequence is not implemented for %s", cpu_dtype_name(dt));
    KILN_CPU_TRY(new_kernel(n, split_compute, out, err));
    seq_kernel *k = (seq_kernel *)*out;
    k->axis = cpu_attr_int(n, "axis", 0);
    k->keepdims = cpu_attr_int(n, "keepdims", 1) != 0;
    return KILN_OK;
}

/* ---- ConcatFromSequence ---- */

static kiln_status concat_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const seq_kernel *k = (const seq_kernel *)base;
    const kiln_value_desc *s = cpu_in(ctx, 0);
    KILN_CPU_TRY(need_seq(s, "input_sequence", err));
    if (s->count == 0) return cpu_fail(err, KILN_ERR_SHAPE, "cannot concatenate an empty sequence");
    const kiln_value_desc *first = s->items[0];
    int32_t r = first->rank + k->new_axis;
    if (r > KILN_MAX_RANK) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "the result would exceed rank %d", KILN_MAX_RANK);
    if (k->axis < -(int64_t)r || k->axis >= r)
        return cpu_fail(err, KILN_ERR_SHAPE, "axis %lld is out of range for rank %d", (long long)k->axis, (int)r);
    int32_t axis = (int32_t)(k->axis < 0 ? k->axis + r : k->axis);
    /* Every item seen with rank r: a dim of 1 inserted at `axis` when new_axis is set. */
    int64_t dims[KILN_MAX_RANK], total = 0;
    for (uint64_t i = 0; i < s->count; i++) {
        const kiln_value_desc *it = s->items[i];
        if (it->kind != KILN_VALUE_TENSOR || it->dtype != first->dtype || it->rank != first->rank)
            return cpu_fail(err, KILN_ERR_SHAPE, "item %llu has a different type or rank than item 0", (unsigned long long)i);
        for (int32_t d = 0, j = 0; d < r; d++) {
            int64_t v = k->new_axis && d == axis ? 1 : it->dims[j++];
            if (d == axis) {
                total += v;
            } else if (i == 0) {
                dims[d] = v;
            } else if (dims[d] != v) {
                return cpu_fail(err, KILN_ERR_SHAPE, "item %llu has dim %d = %lld, item 0 has %lld", (unsigned long long)i,
                                (int)d, (long long)v, (long long)dims[d]);
            }
        }
    }
    dims[axis] = total;
    kiln_value_desc *out;
    KILN_CPU_TRY(cpu_output(ctx, 0, r, dims, &out, err));
    int64_t outer = 1, inner = 1;
    for (int32_t d = 0; d < axis; d++) outer *= dims[d];
    for (int32_t d = axis + 1; d < r; d++) inner *= dims[d];
    size_t es = cpu_dtype_size(first->dtype);
    int64_t off = 0;
    for (uint64_t i = 0; i < s->count; i++) {
        const kiln_value_desc *it = s->items[i];
        int64_t a = k->new_axis ? 1 : it->dims[axis];
        for (int64_t o = 0; o < outer; o++) {
            size_t src = (size_t)(o * a * inner), dst = (size_t)((o * total + off) * inner), cnt = (size_t)(a * inner);
            if (first->dtype == KILN_DTYPE_STRING) {
                char *const *str = it->data;
                for (size_t e = 0; e < cnt; e++)
                    KILN_CPU_TRY((kiln_status)ctx->host->set_string(ctx, out, dst + e, str[src + e], strlen(str[src + e]), err));
            } else if (cnt) {
                memcpy((char *)out->data + dst * es, (const char *)it->data + src * es, cnt * es);
            }
        }
        off += a;
    }
    return KILN_OK;
}

kiln_status kiln_cpu_concat_from_sequence(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (!cpu_dtype_size(dt))
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "ConcatFromSequence is not implemented for %s", cpu_dtype_name(dt));
    KILN_CPU_TRY(new_kernel(n, concat_compute, out, err));
    seq_kernel *k = (seq_kernel *)*out;
    k->axis = cpu_attr_int(n, "axis", 0);
    k->new_axis = cpu_attr_int(n, "new_axis", 0) != 0;
    return KILN_OK;
}

/* ---- SequenceMap ---- */

typedef struct map_kernel {
    cpu_kernel base;
    uint32_t n_out;
    int32_t dtypes[]; /* per output sequence */
} map_kernel;

static kiln_status map_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const map_kernel *k = (const map_kernel *)base;
    const kiln_value_desc *s = cpu_in(ctx, 0);
    KILN_CPU_TRY(need_seq(s, "input_sequence", err));
    uint64_t n = s->count;
    for (uint32_t i = 1; i < ctx->n_inputs; i++) {
        const kiln_value_desc *v = cpu_in(ctx, i);
        if (!v) return cpu_fail(err, KILN_ERR_SHAPE, "input %u is empty", i);
        if (v->kind == KILN_VALUE_SEQUENCE && v->count != n)
            return cpu_fail(err, KILN_ERR_SHAPE, "sequence input %u has %llu items, input 0 has %llu", i,
                            (unsigned long long)v->count, (unsigned long long)n);
    }
    for (uint32_t o = 0; o < k->n_out; o++) {
        kiln_value_desc *out;
        KILN_CPU_TRY((kiln_status)ctx->host->alloc_sequence(ctx, o, k->dtypes[o], n, &out, err));
    }
    const kiln_value_desc **in = ctx->host->scratch(ctx, (ctx->n_inputs + 1) * sizeof(*in));
    if (!in) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    for (uint64_t j = 0; j < n; j++) {
        for (uint32_t i = 0; i < ctx->n_inputs; i++) {
            const kiln_value_desc *v = cpu_in(ctx, i);
            in[i] = v->kind == KILN_VALUE_SEQUENCE ? v->items[j] : v;
        }
        const kiln_value_desc *const *outs;
        uint32_t n_out;
        KILN_CPU_TRY((kiln_status)ctx->host->run_subgraph(ctx, "body", 0, in, ctx->n_inputs, &outs, &n_out, err));
        if (n_out != k->n_out)
            return cpu_fail(err, KILN_ERR_INVALID_MODEL, "body has %u outputs, the node has %u", n_out, k->n_out);
        for (uint32_t o = 0; o < n_out; o++) KILN_CPU_TRY(put_item(ctx, o, j, outs[o], k->dtypes[o], err));
    }
    return KILN_OK;
}

kiln_status kiln_cpu_sequence_map(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    const kiln_attr_view *a = n->host->node_attr(n->view, "body");
    if (!a || n->host->attr_type(a) != KILN_ATTR_GRAPH)
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "SequenceMap needs a graph attribute 'body'");
    uint32_t n_out = cpu_output_count(n);
    for (uint32_t o = 0; o < n_out; o++)
        if (!cpu_output_info(n, o).present)
            return cpu_fail(err, KILN_ERR_UNSUPPORTED, "SequenceMap with omitted outputs is not supported");
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(map_kernel) + n_out * sizeof(int32_t), map_compute, out, err));
    map_kernel *k = (map_kernel *)*out;
    k->n_out = n_out;
    for (uint32_t o = 0; o < n_out; o++) k->dtypes[o] = cpu_output_info(n, o).dtype;
    return KILN_OK;
}
