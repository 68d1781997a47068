/* SPDX-License-Identifier: MIT */
/* Ops that move no data or make it up: Identity (tensors, sequences, optionals); Reshape, Flatten,
 * Squeeze, Unsqueeze (the output shape comes from shape inference, the elements are copied
 * unchanged); Constant; Shape and Size; ConstantOfShape, Range, EyeLike; inference Dropout. */
#include <math.h>
#include <string.h>

#include "providers/cpu/cpu_op.h"
#include "providers/cpu/ops/copy.h"
#include "providers/cpu/ops/elem.h"
#include "providers/cpu/ops/strided.h"

static kiln_status identity_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    (void)base;
    return cpu_copy_value(ctx, 0, cpu_in(ctx, 0), err);
}

kiln_status kiln_cpu_identity(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    return cpu_kernel_new(n, sizeof(cpu_kernel), identity_compute, out, err);
}

static kiln_status reshape_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    (void)base;
    return cpu_copy_elements(ctx, cpu_in(ctx, 0), ctx->outputs[0], err);
}

kiln_status kiln_cpu_reshape(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    return cpu_kernel_new(n, sizeof(cpu_kernel), reshape_compute, out, err);
}

typedef struct constant_kernel {
    cpu_kernel base;
    const kiln_value_desc *value;  /* the attribute's tensor, valid for the session */
} constant_kernel;

static kiln_status constant_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const constant_kernel *k = (const constant_kernel *)base;
    return cpu_copy_value(ctx, 0, k->value, err);
}

kiln_status kiln_cpu_constant(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    kiln_value_info info = cpu_output_info(n, 0);
    if (!info.constant)
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "Constant has no value the host could read");
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(constant_kernel), constant_compute, out, err));
    ((constant_kernel *)*out)->value = info.constant;
    return KILN_OK;
}

/* ---- Shape, Size ---- */

typedef struct shape_kernel {
    cpu_kernel base;
    int64_t start, end;  /* attributes as given (opset 15+); clamped per input rank at run */
} shape_kernel;

static kiln_status shape_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const shape_kernel *k = (const shape_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    int64_t r = x->rank, s = k->start, e = k->end == INT64_MAX ? r : k->end;
    if (s < 0) s += r;
    if (e < 0) e += r;
    s = s < 0 ? 0 : s > r ? r : s;
    e = e < s ? s : e > r ? r : e;
    int64_t n = e - s;
    kiln_value_desc *y;
    KILN_CPU_TRY(cpu_output(ctx, 0, 1, &n, &y, err));
    for (int64_t i = 0; i < n; i++) ((int64_t *)y->data)[i] = x->dims[s + i];
    return KILN_OK;
}

kiln_status kiln_cpu_shape(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(shape_kernel), shape_compute, out, err));
    shape_kernel *k = (shape_kernel *)*out;
    k->start = n->opset >= 15 ? cpu_attr_int(n, "start", 0) : 0;
    k->end = n->opset >= 15 ? cpu_attr_int(n, "end", INT64_MAX) : INT64_MAX;
    return KILN_OK;
}

static kiln_status size_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    (void)base;
    kiln_value_desc *y;
    KILN_CPU_TRY(cpu_output(ctx, 0, 0, NULL, &y, err));
    *(int64_t *)y->data = (int64_t)cpu_in(ctx, 0)->count;
    return KILN_OK;
}

kiln_status kiln_cpu_size(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    return cpu_kernel_new(n, sizeof(cpu_kernel), size_compute, out, err);
}

/* ---- ConstantOfShape ---- */

typedef struct fill_kernel {
    cpu_kernel base;
    const kiln_value_desc *value;  /* one-element tensor attribute; NULL: float 0 */
} fill_kernel;

/* Fills all of y with the single element of v (any dtype of 8 bits or more, or packed). */
static void fill_with(kiln_value_desc *y, const kiln_value_desc *v) {
    size_t es = cpu_dtype_size(y->dtype);
    if (!es) {
        unsigned bits = cpu_sub_bits(y->dtype), e = cpu_sub_get(v->data, 0, bits);
        for (uint64_t i = 0; i < y->count; i++) cpu_sub_set(y->data, (int64_t)i, bits, e);
        return;
    }
    int zero = 1;
    for (size_t b = 0; b < es; b++) zero &= ((const uint8_t *)v->data)[b] == 0;
    if (zero) {
        cpu_zero_fill(y);
        return;
    }
    char *d = y->data;
    for (uint64_t i = 0; i < y->count; i++) memcpy(d + i * es, v->data, es);
}

static kiln_status fill_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const fill_kernel *k = (const fill_kernel *)base;
    const kiln_value_desc *s = cpu_in(ctx, 0);
    int64_t dims[KILN_MAX_RANK];
    if (s->rank != 1 || s->count > KILN_MAX_RANK)
        return cpu_fail(err, KILN_ERR_SHAPE, "shape must be 1-D with at most %d values", KILN_MAX_RANK);
    for (uint64_t i = 0; i < s->count; i++) {
        dims[i] = ((const int64_t *)s->data)[i];
        if (dims[i] < 0) return cpu_fail(err, KILN_ERR_SHAPE, "dim %lld is negative", (long long)dims[i]);
    }
    kiln_value_desc *y;
    KILN_CPU_TRY(cpu_output(ctx, 0, (int32_t)s->count, dims, &y, err));
    if (k->value) fill_with(y, k->value);
    else cpu_zero_fill(y); /* no value attribute: float 0 */
    return KILN_OK;
}

kiln_status kiln_cpu_constant_of_shape(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    if (cpu_input_dtype(n, 0) != KILN_DTYPE_INT64)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "ConstantOfShape needs an int64 shape, not %s",
                        cpu_dtype_name(cpu_input_dtype(n, 0)));
    const kiln_value_desc *v = NULL;
    const kiln_attr_view *a = n->host->node_attr(n->view, "value");
    if (a) {
        if (n->host->attr_type(a) != KILN_ATTR_TENSOR || !(v = n->host->attr_tensor(a, 0)) || v->count != 1)
            return cpu_fail(err, KILN_ERR_INVALID_MODEL, "ConstantOfShape's value must be a one-element tensor");
        if (v->dtype == KILN_DTYPE_STRING || v->mem_kind != 0)
            return cpu_fail(err, KILN_ERR_UNSUPPORTED, "ConstantOfShape is not implemented for %s", cpu_dtype_name(v->dtype));
    }
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(fill_kernel), fill_compute, out, err));
    ((fill_kernel *)*out)->value = v;
    return KILN_OK;
}

/* ---- Range ---- */

typedef struct range_kernel {
    cpu_kernel base;
    int native_half;  /* float16/bfloat16 with stash_type of that type: round after every step */
} range_kernel;

static int64_t int_at(const kiln_value_desc *v) {
    switch (v->dtype) {
    case KILN_DTYPE_INT16: return *(const int16_t *)v->data;
    case KILN_DTYPE_INT32: return *(const int32_t *)v->data;
    default: return *(const int64_t *)v->data;
    }
}

static kiln_status range_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const range_kernel *k = (const range_kernel *)base;
    const kiln_value_desc *a = cpu_in(ctx, 0), *b = cpu_in(ctx, 1), *c = cpu_in(ctx, 2);
    int32_t dt = a->dtype;
    if (a->count != 1 || b->count != 1 || c->count != 1)
        return cpu_fail(err, KILN_ERR_SHAPE, "start, limit and delta must be scalars");
    int64_t n;
    kiln_value_desc *y;
    if (dt == KILN_DTYPE_INT16 || dt == KILN_DTYPE_INT32 || dt == KILN_DTYPE_INT64) {
        int64_t s = int_at(a), l = int_at(b), d = int_at(c);
        if (d == 0) return cpu_fail(err, KILN_ERR_SHAPE, "delta is 0");
        if ((d > 0 && l <= s) || (d < 0 && l >= s)) {
            n = 0;
        } else {
            uint64_t dist = d > 0 ? (uint64_t)l - (uint64_t)s : (uint64_t)s - (uint64_t)l;
            uint64_t step = d > 0 ? (uint64_t)d : (uint64_t)0 - (uint64_t)d;
            n = (int64_t)(dist / step + (dist % step != 0));
        }
        KILN_CPU_TRY(cpu_output(ctx, 0, 1, &n, &y, err));
        if (y->dtype != dt)
            return cpu_fail(err, KILN_ERR_INVALID_MODEL, "output is %s, inputs are %s", cpu_dtype_name(y->dtype),
                            cpu_dtype_name(dt));
        /* start + i * delta stays within [start, limit), so it never overflows the type. */
        for (int64_t i = 0; i < n; i++) {
            int64_t v = (int64_t)((uint64_t)s + (uint64_t)i * (uint64_t)d);
            if (dt == KILN_DTYPE_INT64) ((int64_t *)y->data)[i] = v;
            else if (dt == KILN_DTYPE_INT32) ((int32_t *)y->data)[i] = (int32_t)v;
            else ((int16_t *)y->data)[i] = (int16_t)v;
        }
        return KILN_OK;
    }
    double s = cpu_load_f64(a->data, dt, 0), l = cpu_load_f64(b->data, dt, 0), d = cpu_load_f64(c->data, dt, 0);
    if (d == 0 || isnan(s) || isnan(l) || isnan(d)) return cpu_fail(err, KILN_ERR_SHAPE, "delta is 0 or a value is NaN");
    double cnt = ceil((l - s) / d);
    if (!(cnt > 0)) cnt = 0;
    if (cnt > 9.0e15) return cpu_fail(err, KILN_ERR_SHAPE, "range is too long");
    n = (int64_t)cnt;
    KILN_CPU_TRY(cpu_output(ctx, 0, 1, &n, &y, err));
    if (y->dtype != dt)
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "output is %s, inputs are %s", cpu_dtype_name(y->dtype),
                        cpu_dtype_name(dt));
    if (dt == KILN_DTYPE_FLOAT) { /* the common case in one plain loop: a long range costs a store per element */
        float *yf = y->data;
        for (int64_t i = 0; i < n; i++) yf[i] = (float)(s + (double)i * d);
        return KILN_OK;
    }
    if (dt == KILN_DTYPE_DOUBLE) {
        double *yd = y->data;
        for (int64_t i = 0; i < n; i++) yd[i] = s + (double)i * d;
        return KILN_OK;
    }
    double v = s;
    for (int64_t i = 0; i < n; i++) {
        if (k->native_half) {
            /* accumulate in the type itself: every addition rounds */
            cpu_store_f64(y->data, dt, i, v);
            v = cpu_load_f64(y->data, dt, i) + d;
        } else {
            cpu_store_f64(y->data, dt, i, s + (double)i * d);
        }
    }
    return KILN_OK;
}

kiln_status kiln_cpu_range(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (dt != KILN_DTYPE_FLOAT && dt != KILN_DTYPE_DOUBLE && dt != KILN_DTYPE_INT16 && dt != KILN_DTYPE_INT32 &&
        dt != KILN_DTYPE_INT64 && dt != KILN_DTYPE_FLOAT16 && dt != KILN_DTYPE_BFLOAT16)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Range is not implemented for %s", cpu_dtype_name(dt));
    int half = dt == KILN_DTYPE_FLOAT16 || dt == KILN_DTYPE_BFLOAT16;
    int64_t stash = n->opset >= 27 ? cpu_attr_int(n, "stash_type", KILN_DTYPE_FLOAT) : KILN_DTYPE_FLOAT;
    if (half && stash != KILN_DTYPE_FLOAT && stash != KILN_DTYPE_DOUBLE && stash != dt)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Range does not implement stash_type %lld", (long long)stash);
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(range_kernel), range_compute, out, err));
    ((range_kernel *)*out)->native_half = half && stash == dt;
    return KILN_OK;
}

/* ---- EyeLike ---- */

typedef struct eye_kernel {
    cpu_kernel base;
    int64_t k;
} eye_kernel;

static kiln_status eye_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const eye_kernel *k = (const eye_kernel *)base;
    (void)err;
    kiln_value_desc *y = ctx->outputs[0];
    int64_t rows = y->dims[0], cols = y->dims[1];
    cpu_zero_fill(y);
    for (int64_t i = 0; i < rows; i++) {
        int64_t j = i + k->k;
        if (j >= 0 && j < cols) cpu_store_f64(y->data, y->dtype, i * cols + j, 1.0);
    }
    return KILN_OK;
}

kiln_status kiln_cpu_eye_like(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_output_info(n, 0).dtype;
    if (!cpu_elem_numeric(dt)) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "EyeLike is not implemented for %s", cpu_dtype_name(dt));
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(eye_kernel), eye_compute, out, err));
    ((eye_kernel *)*out)->k = cpu_attr_int(n, "k", 0);
    return KILN_OK;
}

/* ---- Dropout (inference) ---- */

static kiln_status dropout_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    (void)base;
    const kiln_value_desc *x = cpu_in(ctx, 0), *ratio = cpu_in(ctx, 1), *train = cpu_in(ctx, 2);
    if (train && train->count > 0 && ((const uint8_t *)train->data)[0]) {
        double r = ratio && ratio->count > 0 ? cpu_load_f64(ratio->data, ratio->dtype, 0) : 0.5;
        if (r != 0)
            return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Dropout in training mode (random masks) is not implemented");
    }
    KILN_CPU_TRY(cpu_copy_elements(ctx, x, ctx->outputs[0], err));
    kiln_value_desc *m = ctx->n_outputs > 1 ? ctx->outputs[1] : NULL;
    if (m) {
        for (uint64_t i = 0; i < m->count; i++) cpu_store_f64(m->data, m->dtype, (int64_t)i, 1.0);
    }
    return KILN_OK;
}

kiln_status kiln_cpu_dropout(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (n->opset < 7 && cpu_attr_int(n, "is_test", 0) == 0)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Dropout in training mode (is_test=0) is not implemented");
    if (cpu_output_count(n) > 1 && cpu_output_info(n, 1).present && !cpu_elem_numeric(cpu_output_info(n, 1).dtype))
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Dropout is not implemented for %s", cpu_dtype_name(dt));
    if (cpu_input_count(n) > 2 && cpu_input_info(n, 2).present && cpu_input_dtype(n, 2) != KILN_DTYPE_BOOL)
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "Dropout's training_mode must be bool");
    if (cpu_input_count(n) > 1 && cpu_input_info(n, 1).present && !cpu_elem_numeric(cpu_input_dtype(n, 1)))
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "Dropout's ratio must be a number");
    return cpu_kernel_new(n, sizeof(cpu_kernel), dropout_compute, out, err);
}
