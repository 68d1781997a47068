/* SPDX-License-Identifier: MIT */
/* TfIdfVectorizer: counts the pool's n-grams (all skips up to max_skip_count) per row through a
 * hash table of the pool, then weights them. Unigrams count once, and weights are indexed by output
 * coordinate, as in the ONNX reference and onnxruntime. */
#include <string.h>

#include "providers/cpu/cpu_op.h"

enum { MODE_TF, MODE_IDF, MODE_TFIDF };

typedef struct gram {
    uint64_t hash;
    uint32_t start, len;  /* items pool[start .. start+len) */
    int64_t out;          /* output coordinate; -1: empty slot */
} gram;

typedef struct tfidf_kernel {
    cpu_kernel base;
    int mode, strings;
    int64_t min_n, max_n, max_skip, out_size;
    int64_t *pool_i;      /* pool_int64s, or NULL */
    char **pool_s;        /* pool_strings, or NULL */
    uint32_t pool_n;
    gram *table;          /* open addressing, `cap` slots (a power of two) */
    uint64_t cap;
    float *weights;       /* out_size entries, or NULL */
} tfidf_kernel;

static uint64_t mix(uint64_t h, uint64_t v) {
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdull;
}

static uint64_t str_hash(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* Hash of item i of the pool or of an input row. */
static uint64_t pool_item_hash(const tfidf_kernel *k, uint32_t i) {
    return k->strings ? str_hash(k->pool_s[i]) : (uint64_t)k->pool_i[i];
}

static int pool_eq(const tfidf_kernel *k, uint32_t a, uint32_t b) {
    return k->strings ? strcmp(k->pool_s[a], k->pool_s[b]) == 0 : k->pool_i[a] == k->pool_i[b];
}

static void insert(tfidf_kernel *k, uint32_t start, uint32_t len, int64_t out) {
    uint64_t h = (uint64_t)len;
    for (uint32_t i = 0; i < len; i++) h = mix(h, pool_item_hash(k, start + i));
    for (uint64_t s = h & (k->cap - 1);; s = (s + 1) & (k->cap - 1)) {
        gram *g = &k->table[s];
        if (g->out < 0) {
            g->hash = h, g->start = start, g->len = len, g->out = out;
            return;
        }
        if (g->hash == h && g->len == len) {
            uint32_t i = 0;
            while (i < len && pool_eq(k, g->start + i, start + i)) i++;
            if (i == len) {
                g->out = out; /* a repeated n-gram: the later entry wins, as in the reference */
                return;
            }
        }
    }
}

static void cleanup(cpu_kernel *base) {
    tfidf_kernel *k = (tfidf_kernel *)base;
    for (uint32_t i = 0; k->pool_s && i < k->pool_n; i++) cpu_free(base, k->pool_s[i]);
    cpu_free(base, k->pool_s);
    cpu_free(base, k->pool_i);
    cpu_free(base, k->table);
    cpu_free(base, k->weights);
}

/* Looks up the n-gram x[pos], x[pos+skip], ... (len items, hash h) of a row. */
static int64_t find(const tfidf_kernel *k, const kiln_value_desc *x, uint64_t pos, int64_t skip, uint32_t len,
                    uint64_t h) {
    for (uint64_t s = h & (k->cap - 1);; s = (s + 1) & (k->cap - 1)) {
        const gram *g = &k->table[s];
        if (g->out < 0) return -1;
        if (g->hash != h || g->len != len) continue;
        uint32_t i = 0;
        for (; i < len; i++) {
            uint64_t p = pos + (uint64_t)i * (uint64_t)skip;
            int eq;
            if (k->strings) eq = strcmp(((char *const *)x->data)[p], k->pool_s[g->start + i]) == 0;
            else if (x->dtype == KILN_DTYPE_INT64) eq = ((const int64_t *)x->data)[p] == k->pool_i[g->start + i];
            else eq = (int64_t)((const int32_t *)x->data)[p] == k->pool_i[g->start + i];
            if (!eq) break;
        }
        if (i == len) return g->out;
    }
}

static uint64_t item_hash(const tfidf_kernel *k, const kiln_value_desc *x, uint64_t p) {
    if (k->strings) return str_hash(((char *const *)x->data)[p]);
    return x->dtype == KILN_DTYPE_INT64 ? (uint64_t)((const int64_t *)x->data)[p]
                                        : (uint64_t)(int64_t)((const int32_t *)x->data)[p];
}

static kiln_status tfidf_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const tfidf_kernel *k = (const tfidf_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    if (x->kind != KILN_VALUE_TENSOR || x->rank > 2 || (k->strings != (x->dtype == KILN_DTYPE_STRING)) ||
        (!k->strings && x->dtype != KILN_DTYPE_INT32 && x->dtype != KILN_DTYPE_INT64))
        return cpu_fail(err, KILN_ERR_SHAPE, "input must be a [C] or [N, C] tensor of %s",
                        k->strings ? "strings" : "int32 or int64");
    int64_t rows = x->rank == 2 ? x->dims[0] : 1, cols = x->rank == 0 ? 1 : x->dims[x->rank - 1];
    int64_t dims[2] = {rows, k->out_size};
    kiln_value_desc *y;
    KILN_CPU_TRY(cpu_output(ctx, 0, x->rank == 2 ? 2 : 1, x->rank == 2 ? dims : dims + 1, &y, err));
    float *out = y->data;
    memset(out, 0, (size_t)y->count * sizeof(float));
    for (int64_t r = 0; r < rows; r++) {
        float *row = out + r * k->out_size;
        uint64_t base_pos = (uint64_t)(r * cols);
        /* No n-gram is longer than the row, and a skip beyond the row cannot fit one of two or
         * more items: clamping keeps the index arithmetic small for any attribute values. */
        int64_t first_n = k->min_n, max_n = k->max_n < cols ? k->max_n : cols;
        int64_t max_dist = k->max_skip + 1 < cols ? k->max_skip + 1 : cols;
        if (first_n > max_n) max_dist = 0;
        for (int64_t dist = 1; dist <= max_dist; dist++) {
            for (int64_t start = 0; start + dist * (first_n - 1) < cols; start++) {
                for (int64_t n = first_n; n <= max_n && start + dist * (n - 1) < cols; n++) {
                    /* The length is the first hash input, so each length hashes from scratch. */
                    uint64_t h = (uint64_t)n;
                    for (int64_t i = 0; i < n; i++) h = mix(h, item_hash(k, x, base_pos + (uint64_t)(start + dist * i)));
                    int64_t o = find(k, x, base_pos + (uint64_t)start, dist, (uint32_t)n, h);
                    if (o >= 0) row[o] += 1.0f;
                }
            }
            if (first_n == 1) {
                first_n = 2; /* unigrams are counted on the first pass only */
                if (first_n > max_n) break;
            }
        }
        for (int64_t i = 0; i < k->out_size; i++) {
            float w = k->weights ? k->weights[i] : 1.0f;
            if (k->mode == MODE_IDF) row[i] = row[i] > 0 ? w : 0.0f;
            else if (k->mode == MODE_TFIDF) row[i] *= w;
        }
    }
    return KILN_OK;
}

static kiln_status bad(cpu_kernel **out, kiln_status st, kiln_error *err, const char *msg) {
    if (*out) (*out)->abi.release(&(*out)->abi);
    *out = NULL;
    return cpu_fail(err, st, "TfIdfVectorizer: %s", msg);
}

kiln_status kiln_cpu_tfidf(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    *out = NULL;
    const char *mode = cpu_attr_str(n, "mode", "");
    int m = strcmp(mode, "TF") == 0 ? MODE_TF : strcmp(mode, "IDF") == 0 ? MODE_IDF : strcmp(mode, "TFIDF") == 0 ? MODE_TFIDF : -1;
    if (m < 0) return bad(out, KILN_ERR_INVALID_MODEL, err, "mode must be TF, IDF or TFIDF");
    int64_t min_n = cpu_attr_int(n, "min_gram_length", 0), max_n = cpu_attr_int(n, "max_gram_length", 0);
    int64_t max_skip = cpu_attr_int(n, "max_skip_count", -1);
    if (min_n < 1 || max_n < min_n || max_skip < 0)
        return bad(out, KILN_ERR_INVALID_MODEL, err, "needs 1 <= min_gram_length <= max_gram_length and max_skip_count >= 0");
    uint32_t n_counts, n_idx, n_w, n_pool;
    const int64_t *counts = cpu_attr_ints(n, "ngram_counts", &n_counts);
    const int64_t *idx = cpu_attr_ints(n, "ngram_indexes", &n_idx);
    const float *w = cpu_attr_floats(n, "weights", &n_w);
    const int64_t *pool_i = cpu_attr_ints(n, "pool_int64s", &n_pool);
    const kiln_attr_view *ps = n->host->node_attr(n->view, "pool_strings");
    int strings = ps && n->host->attr_type(ps) == KILN_ATTR_STRINGS;
    if (strings == (pool_i != NULL)) return bad(out, KILN_ERR_INVALID_MODEL, err, "exactly one of pool_int64s and pool_strings is needed");
    if (strings) n_pool = n->host->attr_count(ps);
    if (!n_idx) return bad(out, KILN_ERR_INVALID_MODEL, err, "ngram_indexes is required");
    int64_t size = 0;
    for (uint32_t i = 0; i < n_idx; i++) {
        if (idx[i] < 0 || idx[i] >= INT32_MAX) return bad(out, KILN_ERR_INVALID_MODEL, err, "ngram_indexes holds a value out of range");
        if (idx[i] + 1 > size) size = idx[i] + 1;
    }
    if (w && n_w < (uint64_t)size) return bad(out, KILN_ERR_INVALID_MODEL, err, "weights has fewer entries than the output");
    for (uint32_t i = 0; i < n_counts; i++)
        if (counts[i] < 0 || counts[i] > n_pool || (i && counts[i] < counts[i - 1]))
            return bad(out, KILN_ERR_INVALID_MODEL, err, "ngram_counts must be non-decreasing offsets into the pool");
    int32_t dt = cpu_input_dtype(n, 0);
    if (dt && (strings ? dt != KILN_DTYPE_STRING : dt != KILN_DTYPE_INT32 && dt != KILN_DTYPE_INT64))
        return bad(out, KILN_ERR_INVALID_MODEL, err, "the input type does not match the pool");
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(tfidf_kernel), tfidf_compute, out, err));
    tfidf_kernel *k = (tfidf_kernel *)*out;
    k->base.cleanup = cleanup;
    k->mode = m, k->strings = strings, k->min_n = min_n, k->max_n = max_n, k->max_skip = max_skip, k->out_size = size;
    k->pool_n = n_pool;
    if (strings) {
        k->pool_s = cpu_alloc(*out, (n_pool + 1) * sizeof(char *));
        if (!k->pool_s) return bad(out, KILN_ERR_OUT_OF_MEMORY, err, "out of memory");
        memset(k->pool_s, 0, (n_pool + 1) * sizeof(char *));
        for (uint32_t i = 0; i < n_pool; i++) {
            size_t len;
            const char *s = n->host->attr_string(ps, i, &len);
            if (!(k->pool_s[i] = cpu_alloc(*out, len + 1))) return bad(out, KILN_ERR_OUT_OF_MEMORY, err, "out of memory");
            memcpy(k->pool_s[i], s, len);
            k->pool_s[i][len] = '\0';
        }
    } else {
        k->pool_i = cpu_alloc(*out, ((size_t)n_pool + 1) * sizeof(int64_t));
        if (!k->pool_i) return bad(out, KILN_ERR_OUT_OF_MEMORY, err, "out of memory");
        memcpy(k->pool_i, pool_i, (size_t)n_pool * sizeof(int64_t));
    }
    if (w) {
        if (!(k->weights = cpu_alloc(*out, (size_t)size * sizeof(float)))) return bad(out, KILN_ERR_OUT_OF_MEMORY, err, "out of memory");
        memcpy(k->weights, w, (size_t)size * sizeof(float));
    }
    for (k->cap = 16; k->cap < 2 * (uint64_t)n_pool + 2; k->cap *= 2) {}
    if (!(k->table = cpu_alloc(*out, (size_t)k->cap * sizeof(gram)))) return bad(out, KILN_ERR_OUT_OF_MEMORY, err, "out of memory");
    for (uint64_t s = 0; s < k->cap; s++) k->table[s].out = -1;
    /* Walk the pool as ngram_counts lays it out: counts[i] starts the (i+1)-grams. Every n-gram
     * gets the next id (the coordinate is ngram_indexes[id]); only lengths in range are kept. */
    uint64_t id = 0;
    for (uint32_t i = 0; i < n_counts; i++) {
        uint32_t len = i + 1, start = (uint32_t)counts[i];
        uint32_t end = i + 1 < n_counts ? (uint32_t)counts[i + 1] : n_pool;
        for (uint32_t g = 0; g < (end - start) / len; g++, id++) {
            if (id >= n_idx) return bad(out, KILN_ERR_INVALID_MODEL, err, "ngram_indexes has fewer entries than the pool has n-grams");
            if (len >= min_n && len <= max_n) insert(k, start + g * len, len, idx[id]);
        }
    }
    return KILN_OK;
}
