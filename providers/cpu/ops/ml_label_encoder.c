/* SPDX-License-Identifier: MIT */
/* LabelEncoder (ai.onnx.ml 2-4): maps elements through keys_* -> values_* (lists, or tensors from
 * opset 4) held in a hash table, with a default for non-keys; NaN keys match NaN, a repeated key
 * keeps its last value (docs/ml.md). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "providers/cpu/cpu_op.h"

enum { K_INT, K_FLT, K_STR };

typedef union lval {
    int64_t i;
    double f;
    const char *s;
} lval;

typedef struct entry {
    lval key, val;
    uint8_t used;
} entry;

typedef struct encoder_kernel {
    cpu_kernel base;
    int key_kind, val_kind;
    int32_t key_dtype, val_dtype;
    entry *table;
    uint64_t cap;      /* power of two */
    lval dflt;
    char *strings;     /* one block holding every string key and value (and the default) */
} encoder_kernel;

static int kind_of(int32_t dt) {
    switch (dt) {
    case KILN_DTYPE_INT16: case KILN_DTYPE_INT32: case KILN_DTYPE_INT64: return K_INT;
    case KILN_DTYPE_FLOAT: case KILN_DTYPE_DOUBLE: return K_FLT;
    case KILN_DTYPE_STRING: return K_STR;
    default: return -1;
    }
}

static uint64_t hash(int kind, lval v) {
    uint64_t h;
    if (kind == K_STR) {
        h = 1469598103934665603ull;
        for (const char *s = v.s; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
        return h;
    }
    if (kind == K_FLT) {
        double f = v.f == 0.0 ? 0.0 : v.f; /* -0.0 equals 0.0 */
        if (isnan(f)) return 0x7ff8000000000000ull;
        memcpy(&h, &f, sizeof(h));
    } else {
        h = (uint64_t)v.i;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    return h ^ (h >> 33);
}

static int equal(int kind, lval a, lval b) {
    if (kind == K_STR) return strcmp(a.s, b.s) == 0;
    if (kind == K_FLT) return a.f == b.f || (isnan(a.f) && isnan(b.f));
    return a.i == b.i;
}

static const entry *lookup(const encoder_kernel *k, lval key) {
    for (uint64_t s = hash(k->key_kind, key) & (k->cap - 1);; s = (s + 1) & (k->cap - 1)) {
        const entry *e = &k->table[s];
        if (!e->used) return NULL;
        if (equal(k->key_kind, e->key, key)) return e;
    }
}

static void put(encoder_kernel *k, lval key, lval val) {
    for (uint64_t s = hash(k->key_kind, key) & (k->cap - 1);; s = (s + 1) & (k->cap - 1)) {
        entry *e = &k->table[s];
        if (!e->used || equal(k->key_kind, e->key, key)) {
            e->used = 1, e->key = key, e->val = val;
            return;
        }
    }
}

static lval read_elem(const kiln_value_desc *d, uint64_t i) {
    lval v;
    switch (d->dtype) {
    case KILN_DTYPE_INT16: v.i = ((const int16_t *)d->data)[i]; break;
    case KILN_DTYPE_INT32: v.i = ((const int32_t *)d->data)[i]; break;
    case KILN_DTYPE_INT64: v.i = ((const int64_t *)d->data)[i]; break;
    case KILN_DTYPE_FLOAT: v.f = ((const float *)d->data)[i]; break;
    case KILN_DTYPE_DOUBLE: v.f = ((const double *)d->data)[i]; break;
    default: v.s = ((char *const *)d->data)[i]; break;
    }
    return v;
}

static void write_elem(kiln_value_desc *d, uint64_t i, lval v) {
    switch (d->dtype) {
    case KILN_DTYPE_INT16: ((int16_t *)d->data)[i] = (int16_t)v.i; break;
    case KILN_DTYPE_INT32: ((int32_t *)d->data)[i] = (int32_t)v.i; break;
    case KILN_DTYPE_INT64: ((int64_t *)d->data)[i] = v.i; break;
    case KILN_DTYPE_FLOAT: ((float *)d->data)[i] = (float)v.f; break;
    default: ((double *)d->data)[i] = v.f; break;
    }
}

static kiln_status encoder_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const encoder_kernel *k = (const encoder_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    if (x->kind != KILN_VALUE_TENSOR || x->dtype != k->key_dtype)
        return cpu_fail(err, KILN_ERR_SHAPE, "input must be a %s tensor (the type of the keys)", cpu_dtype_name(k->key_dtype));
    kiln_value_desc *y;
    KILN_CPU_TRY(cpu_output(ctx, 0, x->rank, x->dims, &y, err));
    for (uint64_t i = 0; i < x->count; i++) {
        const entry *e = lookup(k, read_elem(x, i));
        lval v = e ? e->val : k->dflt;
        if (k->val_kind == K_STR) KILN_CPU_TRY((kiln_status)ctx->host->set_string(ctx, y, i, v.s, strlen(v.s), err));
        else write_elem(y, i, v);
    }
    return KILN_OK;
}

static void encoder_cleanup(cpu_kernel *base) {
    encoder_kernel *k = (encoder_kernel *)base;
    cpu_free(base, k->table);
    cpu_free(base, k->strings);
}

/* One of the keys_* or values_* attributes: its dtype, item count, and a reader. */
typedef struct list {
    int32_t dtype;
    uint32_t n;
    const kiln_attr_view *a;        /* list attribute, or NULL */
    const kiln_value_desc *tensor;  /* the *_tensor attribute, or NULL */
} list;

static int find_list(const cpu_node *n, const char *prefix, list *l) {
    static const struct {
        const char *suffix;
        int32_t type, dtype;
    } kinds[] = {{"tensor", KILN_ATTR_TENSOR, 0},
                 {"strings", KILN_ATTR_STRINGS, KILN_DTYPE_STRING},
                 {"int64s", KILN_ATTR_INTS, KILN_DTYPE_INT64},
                 {"floats", KILN_ATTR_FLOATS, KILN_DTYPE_FLOAT}};
    int found = 0;
    memset(l, 0, sizeof(*l));
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        char name[32];
        snprintf(name, sizeof(name), "%s_%s", prefix, kinds[i].suffix);
        const kiln_attr_view *a = n->host->node_attr(n->view, name);
        if (!a || n->host->attr_type(a) != kinds[i].type) continue;
        found++;
        if (kinds[i].type == KILN_ATTR_TENSOR) {
            l->tensor = n->host->attr_tensor(a, 0);
            l->dtype = l->tensor ? l->tensor->dtype : 0;
            l->n = l->tensor ? (uint32_t)l->tensor->count : 0;
        } else {
            l->a = a;
            l->dtype = kinds[i].dtype;
            l->n = n->host->attr_count(a);
        }
    }
    return found;
}

/* Item i of a list, strings copied into *pool (advanced). */
static lval list_item(const cpu_node *n, const list *l, uint32_t i, char **pool) {
    lval v;
    if (l->tensor) {
        v = read_elem(l->tensor, i);
    } else if (l->dtype == KILN_DTYPE_INT64) {
        v.i = n->host->attr_ints(l->a)[i];
        return v;
    } else if (l->dtype == KILN_DTYPE_FLOAT) {
        v.f = n->host->attr_floats(l->a)[i];
        return v;
    } else {
        v.s = n->host->attr_string(l->a, i, NULL);
    }
    if (l->dtype == KILN_DTYPE_STRING) {
        size_t len = strlen(v.s);
        memcpy(*pool, v.s, len + 1);
        v.s = *pool;
        *pool += len + 1;
    }
    return v;
}

static size_t list_string_bytes(const cpu_node *n, const list *l) {
    size_t total = 0;
    if (l->dtype != KILN_DTYPE_STRING) return 0;
    for (uint32_t i = 0; i < l->n; i++)
        total += strlen(l->tensor ? ((char *const *)l->tensor->data)[i] : n->host->attr_string(l->a, i, NULL)) + 1;
    return total;
}

kiln_status kiln_cpu_label_encoder(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    list keys, vals;
    if (find_list(n, "keys", &keys) != 1 || find_list(n, "values", &vals) != 1)
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "LabelEncoder needs exactly one keys_* and one values_* attribute");
    if (keys.n != vals.n)
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "LabelEncoder has %u keys but %u values", keys.n, vals.n);
    int kk = kind_of(keys.dtype), vk = kind_of(vals.dtype);
    if (kk < 0 || vk < 0)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "LabelEncoder from %s to %s is not supported", cpu_dtype_name(keys.dtype),
                        cpu_dtype_name(vals.dtype));
    int32_t in_dt = cpu_input_dtype(n, 0);
    if (in_dt != keys.dtype)
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "LabelEncoder input is %s but its keys are %s", cpu_dtype_name(in_dt),
                        cpu_dtype_name(keys.dtype));
    /* The default: default_tensor, else default_<kind of the values>. */
    const kiln_attr_view *dt = n->host->node_attr(n->view, "default_tensor");
    const kiln_value_desc *dtens = dt && n->host->attr_type(dt) == KILN_ATTR_TENSOR ? n->host->attr_tensor(dt, 0) : NULL;
    if (dtens && (dtens->dtype != vals.dtype || dtens->count != 1))
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "LabelEncoder default_tensor must hold one %s", cpu_dtype_name(vals.dtype));
    const char *dstr = cpu_attr_str(n, "default_string", "_Unused");
    if (dtens && vk == K_STR) dstr = ((char *const *)dtens->data)[0];
    size_t bytes = list_string_bytes(n, &keys) + list_string_bytes(n, &vals) + strlen(dstr) + 1;
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(encoder_kernel), encoder_compute, out, err));
    encoder_kernel *k = (encoder_kernel *)*out;
    k->base.cleanup = encoder_cleanup;
    k->key_kind = kk, k->val_kind = vk, k->key_dtype = keys.dtype, k->val_dtype = vals.dtype;
    for (k->cap = 16; k->cap < 2 * (uint64_t)keys.n + 2; k->cap *= 2) {}
    k->table = cpu_alloc(*out, (size_t)k->cap * sizeof(entry));
    k->strings = cpu_alloc(*out, bytes);
    if (!k->table || !k->strings) {
        (*out)->abi.release(&(*out)->abi);
        *out = NULL;
        return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    }
    memset(k->table, 0, (size_t)k->cap * sizeof(entry));
    char *pool = k->strings;
    for (uint32_t i = 0; i < keys.n; i++) {
        lval key = list_item(n, &keys, i, &pool);
        put(k, key, list_item(n, &vals, i, &pool));
    }
    if (vk == K_STR) {
        memcpy(pool, dstr, strlen(dstr) + 1);
        k->dflt.s = pool;
    } else if (dtens) {
        k->dflt = read_elem(dtens, 0);
    } else if (vk == K_INT) {
        k->dflt.i = cpu_attr_int(n, "default_int64", -1);
    } else {
        k->dflt.f = cpu_attr_float(n, "default_float", -0.0f);
    }
    return KILN_OK;
}
