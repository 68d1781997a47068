/* SPDX-License-Identifier: MIT */
/* Shape inference for the string ops: StringNormalizer, StringConcat, StringSplit,
 * RegexFullMatch. */
#include "graph/shape/infer_fns.h"

static kiln_status need_strings(kiln_shape_ctx *c, uint32_t i, const kiln_shape_val **out) {
    KILN_TRY(kiln_shape_need_tensor(c, i, out));
    if ((*out)->t.dtype != KILN_DTYPE_STRING) return kiln_shape_fail(c, "input %u must be a string tensor", i);
    return KILN_OK;
}

kiln_status kiln_infer_string_normalizer(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    KILN_TRY(need_strings(c, 0, &x));
    if (x->t.rank == 2 && x->t.dims[0] >= 0 && x->t.dims[0] != 1)
        return kiln_shape_fail(c, "input must be [C] or [1, C], got [%lld, ...]", (long long)x->t.dims[0]);
    if (x->t.rank != 1 && x->t.rank != 2 && x->t.rank >= 0)
        return kiln_shape_fail(c, "input must be [C] or [1, C], got rank %d", (int)x->t.rank);
    /* How many strings survive the stopwords is known only from the data. */
    int64_t dims[2] = {1, KILN_DIM_UNKNOWN};
    if (x->t.rank == 1) dims[0] = KILN_DIM_UNKNOWN;
    kiln_shape_set(c, 0, KILN_DTYPE_STRING, x->t.rank, dims);
    return KILN_OK;
}

kiln_status kiln_infer_string_concat(kiln_shape_ctx *c) {
    const kiln_shape_val *x, *y;
    KILN_TRY(need_strings(c, 0, &x));
    KILN_TRY(need_strings(c, 1, &y));
    const kiln_type *ts[2] = {&x->t, &y->t};
    int32_t rank;
    int64_t dims[KILN_MAX_RANK];
    KILN_TRY(kiln_shape_broadcast(c, ts, 2, &rank, dims));
    kiln_shape_set(c, 0, KILN_DTYPE_STRING, rank, dims);
    return KILN_OK;
}

kiln_status kiln_infer_string_split(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    KILN_TRY(need_strings(c, 0, &x));
    if (x->t.rank >= KILN_MAX_RANK) return kiln_shape_fail(c, "output would exceed rank %d", KILN_MAX_RANK);
    int64_t dims[KILN_MAX_RANK];
    for (int32_t d = 0; d < x->t.rank; d++) dims[d] = x->t.dims[d];
    if (x->t.rank >= 0) dims[x->t.rank] = KILN_DIM_UNKNOWN; /* the most substrings of any element */
    kiln_shape_set(c, 0, KILN_DTYPE_STRING, x->t.rank < 0 ? -1 : x->t.rank + 1, dims);
    kiln_shape_set(c, 1, KILN_DTYPE_INT64, x->t.rank, x->t.dims);
    return KILN_OK;
}

kiln_status kiln_infer_regex_full_match(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    KILN_TRY(need_strings(c, 0, &x));
    kiln_shape_set(c, 0, KILN_DTYPE_BOOL, x->t.rank, x->t.dims);
    return KILN_OK;
}

kiln_status kiln_infer_tfidf(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    int32_t dt = x->t.dtype;
    if (dt != KILN_DTYPE_STRING && dt != KILN_DTYPE_INT32 && dt != KILN_DTYPE_INT64)
        return kiln_shape_fail(c, "input must be a string, int32 or int64 tensor");
    if (x->t.rank > 2) return kiln_shape_fail(c, "input must be [C] or [N, C], got rank %d", (int)x->t.rank);
    uint32_t n;
    const int64_t *idx = kiln_attr_ints(c->node, "ngram_indexes", &n);
    int64_t size = -1;
    for (uint32_t i = 0; i < n; i++) {
        if (idx[i] < 0) return kiln_shape_fail(c, "ngram_indexes[%u] = %lld is negative", i, (long long)idx[i]);
        if (idx[i] + 1 > size) size = idx[i] + 1;
    }
    if (size < 0) return kiln_shape_fail(c, "attribute ngram_indexes is required");
    int64_t dims[2] = {x->t.rank == 2 ? x->t.dims[0] : size, size};
    kiln_shape_set(c, 0, KILN_DTYPE_FLOAT, x->t.rank == 2 ? 2 : x->t.rank < 0 ? -1 : 1, dims);
    return KILN_OK;
}
