/* SPDX-License-Identifier: MIT */
/* Values: tensors (owned or wrapping caller memory), sequences and optionals; the public tensor
 * API and the helpers the executor uses to create, copy and free them. */
#include <string.h>

#include "runtime/providers.h"

/* Every string element points at a heap block, or at this shared empty string. */
static char empty_string[1] = "";

void kiln_desc_init(kiln_value_desc *d) {
    memset(d, 0, sizeof(*d));
    d->hdr.struct_size = sizeof(*d);
    d->hdr.abi_version = KILN_ABI_VERSION;
}

static kiln_status check_shape(int32_t dtype, int32_t rank, const int64_t *dims, int64_t *count,
                               size_t *bytes, kiln_error *err) {
    if (!kiln_dtype_valid(dtype))
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "unknown dtype %d", (int)dtype);
    if (rank < 0 || rank > KILN_MAX_RANK || (rank > 0 && !dims))
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "rank %d is out of range [0, %d]", (int)rank, KILN_MAX_RANK);
    if (!kiln_dims_count(dims, rank, count) || !kiln_dtype_storage(dtype, *count, bytes))
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT,
                         "shape has a negative dim, or its element count or byte size overflows");
    return KILN_OK;
}

static kiln_tensor *tensor_alloc(const kiln_allocator *a) {
    kiln_tensor *t = kiln_mem_calloc(a, 1, sizeof(*t));
    if (!t) return NULL;
    kiln_desc_init(&t->desc);
    t->desc.dims = t->dims;
    t->alloc = a;
    return t;
}

kiln_status kiln_tensor_new(const kiln_allocator *a, int32_t dtype, int32_t rank, const int64_t *dims,
                            kiln_tensor **out, kiln_error *err) {
    *out = NULL;
    int64_t count;
    size_t bytes;
    KILN_TRY(check_shape(dtype, rank, dims, &count, &bytes, err));
    kiln_tensor *t = tensor_alloc(a);
    if (!t) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    t->owned = kiln_mem_alloc(a, bytes ? bytes : 1);
    if (!t->owned) {
        kiln_mem_free(a, t);
        return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for a %zu-byte tensor", bytes);
    }
    if (dtype == KILN_DTYPE_STRING) {
        char **s = t->owned;
        for (int64_t i = 0; i < count; i++) s[i] = empty_string;
    } else if (bytes) {
        memset(t->owned, 0, bytes);
    }
    t->desc.kind = KILN_VALUE_TENSOR;
    t->desc.dtype = dtype;
    t->desc.rank = rank;
    for (int32_t i = 0; i < rank; i++) t->dims[i] = dims[i];
    t->desc.data = t->owned;
    t->desc.count = (uint64_t)count;
    t->nbytes = bytes;
    *out = t;
    return KILN_OK;
}

kiln_status kiln_sequence_new(const kiln_allocator *a, int32_t dtype, uint64_t n, kiln_tensor **out,
                              kiln_error *err) {
    *out = NULL;
    if (!kiln_dtype_valid(dtype)) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "unknown dtype %d", (int)dtype);
    kiln_tensor *t = tensor_alloc(a);
    if (!t) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    t->desc.kind = KILN_VALUE_SEQUENCE;
    t->desc.dtype = dtype;
    if (n) {
        t->items = kiln_mem_calloc(a, n, sizeof(*t->items));
        t->item_descs = kiln_mem_calloc(a, n, sizeof(*t->item_descs));
        if (!t->items || !t->item_descs) {
            kiln_tensor_destroy(t);
            return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        }
    }
    t->cap_items = n;
    t->desc.count = 0;
    t->desc.items = t->item_descs;
    *out = t;
    return KILN_OK;
}

kiln_status kiln_optional_none(const kiln_allocator *a, int32_t dtype, int32_t opt_kind, kiln_tensor **out,
                               kiln_error *err) {
    *out = NULL;
    kiln_tensor *t = tensor_alloc(a);
    if (!t) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    t->desc.kind = KILN_VALUE_OPTIONAL;
    t->desc.dtype = dtype;
    t->opt_kind = opt_kind;
    *out = t;
    return KILN_OK;
}

void kiln_tensor_destroy(kiln_tensor *t) {
    if (!t) return;
    const kiln_allocator *a = t->alloc;
    kiln_budget_release_tensor(t);
    if (t->owned && t->desc.dtype == KILN_DTYPE_STRING && t->desc.kind == KILN_VALUE_TENSOR && !t->kind) {
        char **s = t->owned;
        for (uint64_t i = 0; i < t->desc.count; i++)
            if (s[i] != empty_string) kiln_mem_free(a, s[i]);
    }
    if (t->kind) kiln_kind_free(t->kind, t->owned);
    else kiln_mem_free(a, t->owned);
    for (uint64_t i = 0; i < t->desc.count && t->items; i++) kiln_tensor_destroy(t->items[i]);
    kiln_mem_free(a, t->items);
    kiln_mem_free(a, t->item_descs);
    kiln_tensor_destroy(t->content);
    kiln_mem_free(a, t);
}

kiln_status kiln_tensor_string_set(const kiln_allocator *a, kiln_value_desc *t, uint64_t i, const char *s,
                                   size_t len, kiln_error *err) {
    if (t->dtype != KILN_DTYPE_STRING || t->kind != KILN_VALUE_TENSOR || i >= t->count)
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "not a string tensor, or index %llu out of range",
                         (unsigned long long)i);
    char *copy = empty_string;
    if (len) {
        copy = kiln_mem_alloc(a, len + 1);
        if (!copy) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        memcpy(copy, s, len);
        copy[len] = '\0';
    }
    char **slot = &((char **)t->data)[i];
    if (*slot && *slot != empty_string) kiln_mem_free(a, *slot);
    *slot = copy;
    return KILN_OK;
}

kiln_status kiln_tensor_copy_data(const kiln_value_desc *src, kiln_value_desc *dst, kiln_error *err) {
    if (src->dtype != dst->dtype || src->count != dst->count)
        return kiln_fail(err, KILN_ERR_SHAPE, "cannot copy %s[%llu] into %s[%llu]", kiln_dtype_name((kiln_dtype)src->dtype),
                         (unsigned long long)src->count, kiln_dtype_name((kiln_dtype)dst->dtype),
                         (unsigned long long)dst->count);
    if (src->data == dst->data) return KILN_OK;
    if (src->dtype == KILN_DTYPE_STRING)
        return kiln_fail(err, KILN_ERR_INTERNAL, "string tensors are copied element by element");
    size_t bytes;
    kiln_dtype_storage(src->dtype, (int64_t)src->count, &bytes);
    if (bytes) memcpy(dst->data, src->data, bytes);
    return KILN_OK;
}

kiln_status kiln_tensor_clone_desc(const kiln_allocator *a, const kiln_value_desc *d, kiln_tensor **out,
                                   kiln_error *err) {
    *out = NULL;
    if (d->kind == KILN_VALUE_OPTIONAL) return kiln_optional_none(a, d->dtype, KILN_VALUE_TENSOR, out, err);
    if (d->kind == KILN_VALUE_SEQUENCE) {
        kiln_tensor *s;
        KILN_TRY(kiln_sequence_new(a, d->dtype, d->count, &s, err));
        for (uint64_t i = 0; i < d->count; i++) {
            kiln_status st = kiln_tensor_clone_desc(a, d->items[i], &s->items[i], err);
            if (st != KILN_OK) {
                kiln_tensor_destroy(s);
                return st;
            }
            s->item_descs[i] = &s->items[i]->desc;
            s->desc.count = i + 1;
        }
        *out = s;
        return KILN_OK;
    }
    kiln_tensor *t;
    KILN_TRY(kiln_tensor_new(a, d->dtype, d->rank, d->dims, &t, err));
    if (d->dtype == KILN_DTYPE_STRING) {
        const char *const *src = d->data;
        for (uint64_t i = 0; i < d->count; i++) {
            kiln_status st = kiln_tensor_string_set(a, &t->desc, i, src[i], strlen(src[i]), err);
            if (st != KILN_OK) {
                kiln_tensor_destroy(t);
                return st;
            }
        }
    } else if (t->nbytes) {
        memcpy(t->desc.data, d->data, t->nbytes);
    }
    *out = t;
    return KILN_OK;
}

/* ---- public API ---- */

kiln_status kiln_tensor_create(kiln_env *env, kiln_dtype dtype, const int64_t *dims, int32_t rank,
                               kiln_tensor **out, kiln_error *err) {
    if (!out) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_tensor_create: out is NULL");
    *out = NULL;
    if (!env) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_tensor_create: env is NULL");
    return kiln_tensor_new(&env->alloc, (int32_t)dtype, rank, dims, out, err);
}

kiln_status kiln_tensor_wrap(kiln_env *env, kiln_dtype dtype, const int64_t *dims, int32_t rank, void *data,
                             size_t bytes, kiln_tensor **out, kiln_error *err) {
    if (!out) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_tensor_wrap: out is NULL");
    *out = NULL;
    if (!env) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_tensor_wrap: env is NULL");
    if (dtype == KILN_DTYPE_STRING)
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_tensor_wrap: string tensors cannot wrap caller memory");
    int64_t count;
    size_t need;
    KILN_TRY(check_shape((int32_t)dtype, rank, dims, &count, &need, err));
    if (bytes < need || (!data && need))
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_tensor_wrap: buffer holds %zu bytes, the tensor needs %zu",
                         bytes, need);
    kiln_tensor *t = tensor_alloc(&env->alloc);
    if (!t) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    t->desc.kind = KILN_VALUE_TENSOR;
    t->desc.dtype = (int32_t)dtype;
    t->desc.rank = rank;
    for (int32_t i = 0; i < rank; i++) t->dims[i] = dims[i];
    t->desc.data = data;
    t->desc.count = (uint64_t)count;
    t->nbytes = need;
    *out = t;
    return KILN_OK;
}

kiln_value_kind kiln_tensor_kind(const kiln_tensor *t) {
    return t ? (kiln_value_kind)t->desc.kind : KILN_VALUE_UNKNOWN;
}

kiln_dtype kiln_tensor_dtype(const kiln_tensor *t) { return t ? (kiln_dtype)t->desc.dtype : KILN_DTYPE_UNDEFINED; }

int32_t kiln_tensor_rank(const kiln_tensor *t) {
    return t && t->desc.kind == KILN_VALUE_TENSOR ? t->desc.rank : 0;
}

const int64_t *kiln_tensor_dims(const kiln_tensor *t) { return t ? t->dims : NULL; }

int64_t kiln_tensor_element_count(const kiln_tensor *t) {
    return t && t->desc.kind == KILN_VALUE_TENSOR ? (int64_t)t->desc.count : 0;
}

size_t kiln_tensor_byte_size(const kiln_tensor *t) {
    return t && t->desc.kind == KILN_VALUE_TENSOR ? t->nbytes : 0;
}

void *kiln_tensor_data(kiln_tensor *t) {
    return t && t->desc.kind == KILN_VALUE_TENSOR ? t->desc.data : NULL;
}

const void *kiln_tensor_data_const(const kiln_tensor *t) {
    return t && t->desc.kind == KILN_VALUE_TENSOR ? t->desc.data : NULL;
}

const char *kiln_tensor_string(const kiln_tensor *t, size_t index) {
    if (!t || t->desc.kind != KILN_VALUE_TENSOR || t->desc.dtype != KILN_DTYPE_STRING || index >= t->desc.count)
        return NULL;
    return ((char *const *)t->desc.data)[index];
}

kiln_status kiln_tensor_set_string(kiln_tensor *t, size_t index, const char *s, size_t len, kiln_error *err) {
    if (!t || (!s && len))
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_tensor_set_string: NULL argument");
    if (!t->owned)
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_tensor_set_string: the tensor does not own its strings");
    return kiln_tensor_string_set(t->alloc, &t->desc, index, s, len, err);
}

kiln_status kiln_sequence_create(kiln_env *env, kiln_dtype dtype, kiln_tensor **items, size_t n,
                                 kiln_tensor **out, kiln_error *err) {
    kiln_status s = KILN_OK;
    kiln_tensor *seq = NULL;
    if (!out || !env || (n && !items)) {
        s = kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_sequence_create: NULL argument");
        goto fail;
    }
    *out = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!items[i] || items[i]->desc.kind != KILN_VALUE_TENSOR || items[i]->desc.dtype != (int32_t)dtype) {
            s = kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_sequence_create: item %zu is not a %s tensor", i,
                          kiln_dtype_name(dtype));
            goto fail;
        }
    }
    if ((s = kiln_sequence_new(&env->alloc, (int32_t)dtype, n, &seq, err)) != KILN_OK) goto fail;
    for (size_t i = 0; i < n; i++) {
        seq->items[i] = items[i];
        seq->item_descs[i] = &items[i]->desc;
    }
    seq->desc.count = n;
    *out = seq;
    return KILN_OK;
fail:
    for (size_t i = 0; items && i < n; i++) kiln_tensor_destroy(items[i]);
    return s;
}

size_t kiln_sequence_length(const kiln_tensor *seq) {
    return seq && seq->desc.kind == KILN_VALUE_SEQUENCE ? (size_t)seq->desc.count : 0;
}

const kiln_tensor *kiln_sequence_item(const kiln_tensor *seq, size_t index) {
    if (!seq || seq->desc.kind != KILN_VALUE_SEQUENCE || index >= seq->desc.count) return NULL;
    return seq->items[index];
}

kiln_status kiln_optional_create(kiln_env *env, kiln_dtype dtype, kiln_tensor *value, kiln_tensor **out,
                                 kiln_error *err) {
    if (!out || !env) {
        kiln_tensor_destroy(value);
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_optional_create: NULL argument");
    }
    *out = NULL;
    if (value && value->desc.kind == KILN_VALUE_OPTIONAL) {
        kiln_tensor_destroy(value);
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_optional_create: optionals cannot nest");
    }
    kiln_tensor *t;
    kiln_status s = kiln_optional_none(&env->alloc, value ? value->desc.dtype : (int32_t)dtype,
                                       value ? value->desc.kind : KILN_VALUE_TENSOR, &t, err);
    if (s != KILN_OK) {
        kiln_tensor_destroy(value);
        return s;
    }
    t->content = value;
    *out = t;
    return KILN_OK;
}

const kiln_tensor *kiln_optional_value(const kiln_tensor *opt) {
    return opt && opt->desc.kind == KILN_VALUE_OPTIONAL ? opt->content : NULL;
}
