/* SPDX-License-Identifier: MIT */
/* TopK along one axis: the k largest (or smallest) values and their indices, equal values
 * ordered by index, NaN above every number. Each row is selected with a k-entry heap
 * (O(n log k)) when k is small against the row, else by a full stable sort; the result is
 * always returned sorted (allowed for sorted=0). */
#include <string.h>

#include "providers/cpu/cpu_op.h"
#include "providers/cpu/ops/elem.h"

typedef struct topk_kernel {
    cpu_kernel base;
    int64_t axis, k_attr;  /* k_attr: opset < 10, else -1 (from input K) */
    int largest;
} topk_kernel;

static int is_nan_d(double v) { return v != v; }
static int is_nan_i(int64_t v) { (void)v; return 0; }
static int is_nan_u(uint64_t v) { (void)v; return 0; }

/* BEFORE(a, b): entry a (key, index) comes first in the output. */
#define DEFINE_TOPK(name, T, ISNAN)                                                                       \
    static int name##_before(const T *key, int64_t a, int64_t b, int largest) {                         \
        T x = key[a], y = key[b];                                                                      \
        int nx = ISNAN(x), ny = ISNAN(y);                                                              \
        if (nx || ny) {                                                                                \
            if (nx && ny) return a < b;                                                                \
            return largest ? nx : ny;                                                                  \
        }                                                                                              \
        if (x != y) return largest ? x > y : x < y;                                                    \
        return a < b;                                                                                  \
    }                                                                                                  \
    static void name##_sort(const T *key, int64_t *idx, int64_t n, int64_t *tmp, int largest) {         \
        int64_t *src = idx, *dst = tmp;                                                                \
        for (int64_t w = 1; w < n; w *= 2) {                                                           \
            for (int64_t lo = 0; lo < n; lo += 2 * w) {                                                \
                int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;             \
                int64_t i = lo, j = mid, o = lo;                                                       \
                while (i < mid && j < hi)                                                              \
                    dst[o++] = name##_before(key, src[j], src[i], largest) ? src[j++] : src[i++];       \
                while (i < mid) dst[o++] = src[i++];                                                   \
                while (j < hi) dst[o++] = src[j++];                                                    \
            }                                                                                          \
            int64_t *t = src;                                                                          \
            src = dst, dst = t;                                                                        \
        }                                                                                              \
        if (src != idx) memcpy(idx, src, (size_t)n * sizeof(int64_t));                                \
    }                                                                                                  \
    /* out[0..k): the first k of the row's order. heap/tmp: n entries each. */                         \
    static void name##_select(const T *key, int64_t n, int64_t k, int largest, int64_t *out, int64_t *tmp) { \
        if (k * 4 >= n) {                                                                              \
            for (int64_t i = 0; i < n; i++) tmp[i] = i;                                                \
            name##_sort(key, tmp, n, out, largest);                                                    \
            memmove(out, tmp, (size_t)k * sizeof(int64_t));                                           \
            return;                                                                                    \
        }                                                                                              \
        /* max-heap by output order: the root is the selected entry that comes last */                 \
        int64_t *h = out;                                                                              \
        for (int64_t i = 0; i < n; i++) {                                                              \
            int64_t c;                                                                                 \
            if (i < k) {                                                                               \
                c = i;                                                                                 \
                h[c] = i;                                                                              \
                while (c > 0 && name##_before(key, h[(c - 1) / 2], h[c], largest)) {                    \
                    int64_t p = (c - 1) / 2, t = h[p];                                                 \
                    h[p] = h[c], h[c] = t, c = p;                                                      \
                }                                                                                      \
                continue;                                                                              \
            }                                                                                          \
            if (!name##_before(key, i, h[0], largest)) continue;                                        \
            h[0] = i, c = 0;                                                                           \
            for (;;) {                                                                                 \
                int64_t l = 2 * c + 1, r = l + 1, m = c;                                               \
                if (l < k && name##_before(key, h[m], h[l], largest)) m = l;                           \
                if (r < k && name##_before(key, h[m], h[r], largest)) m = r;                           \
                if (m == c) break;                                                                     \
                int64_t t = h[m];                                                                      \
                h[m] = h[c], h[c] = t, c = m;                                                          \
            }                                                                                          \
        }                                                                                              \
        name##_sort(key, h, k, tmp, largest);                                                          \
    }

DEFINE_TOPK(topk_d, double, is_nan_d)
DEFINE_TOPK(topk_i, int64_t, is_nan_i)
DEFINE_TOPK(topk_u, uint64_t, is_nan_u)

static kiln_status topk_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const topk_kernel *tk = (const topk_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0), *kv = cpu_in(ctx, 1);
    int32_t r = x->rank, dt = x->dtype;
    if (tk->axis < -(int64_t)r || tk->axis >= r)
        return cpu_fail(err, KILN_ERR_SHAPE, "axis %lld is out of range for rank %d", (long long)tk->axis, (int)r);
    int32_t axis = (int32_t)(tk->axis < 0 ? tk->axis + r : tk->axis);
    int64_t k = tk->k_attr;
    if (k < 0) {
        if (!kv || kv->dtype != KILN_DTYPE_INT64 || kv->count != 1) return cpu_fail(err, KILN_ERR_SHAPE, "K must be one int64 value");
        k = *(const int64_t *)kv->data;
    }
    int64_t n = x->dims[axis], outer = 1, inner = 1;
    if (k < 0 || k > n) return cpu_fail(err, KILN_ERR_SHAPE, "K (%lld) is outside [0, %lld]", (long long)k, (long long)n);
    for (int32_t d = 0; d < axis; d++) outer *= x->dims[d];
    for (int32_t d = axis + 1; d < r; d++) inner *= x->dims[d];
    int64_t dims[KILN_MAX_RANK];
    memcpy(dims, x->dims, sizeof(int64_t) * (size_t)r);
    dims[axis] = k;
    kiln_value_desc *yv, *yi;
    KILN_CPU_TRY(cpu_output(ctx, 0, r, dims, &yv, err));
    KILN_CPU_TRY(cpu_output(ctx, 1, r, dims, &yi, err));
    if (k == 0 || outer * inner == 0) return KILN_OK;
    int kind = dt == KILN_DTYPE_FLOAT || dt == KILN_DTYPE_DOUBLE || dt == KILN_DTYPE_FLOAT16 || dt == KILN_DTYPE_BFLOAT16 ? 0
             : dt == KILN_DTYPE_INT8 || dt == KILN_DTYPE_INT16 || dt == KILN_DTYPE_INT32 || dt == KILN_DTYPE_INT64   ? 1
                                                                                                                    : 2;
    void *keys = ctx->host->scratch(ctx, (size_t)n * 8);
    int64_t *sel = ctx->host->scratch(ctx, (size_t)n * sizeof(int64_t));
    int64_t *tmp = ctx->host->scratch(ctx, (size_t)n * sizeof(int64_t));
    if (!keys || !sel || !tmp) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    size_t es = cpu_dtype_size(dt);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t base_off = o * n * inner + i;
            for (int64_t j = 0; j < n; j++) {
                int64_t e = base_off + j * inner;
                if (kind == 0) ((double *)keys)[j] = cpu_load_f64(x->data, dt, e);
                else if (kind == 1) ((int64_t *)keys)[j] = dt == KILN_DTYPE_INT64 ? ((const int64_t *)x->data)[e] : (int64_t)cpu_load_f64(x->data, dt, e);
                else ((uint64_t *)keys)[j] = dt == KILN_DTYPE_UINT64 ? ((const uint64_t *)x->data)[e] : (uint64_t)cpu_load_f64(x->data, dt, e);
            }
            if (kind == 0) topk_d_select(keys, n, k, tk->largest, sel, tmp);
            else if (kind == 1) topk_i_select(keys, n, k, tk->largest, sel, tmp);
            else topk_u_select(keys, n, k, tk->largest, sel, tmp);
            for (int64_t j = 0; j < k; j++) {
                int64_t dst = o * k * inner + j * inner + i;
                memcpy((char *)yv->data + dst * (int64_t)es, (const char *)x->data + (base_off + sel[j] * inner) * (int64_t)es, es);
                ((int64_t *)yi->data)[dst] = sel[j];
            }
        }
    return KILN_OK;
}

kiln_status kiln_cpu_top_k(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (!cpu_elem_numeric(dt) || dt == KILN_DTYPE_BOOL)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "TopK is not implemented for %s", cpu_dtype_name(dt));
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(topk_kernel), topk_compute, out, err));
    topk_kernel *k = (topk_kernel *)*out;
    k->axis = cpu_attr_int(n, "axis", -1);
    k->k_attr = n->opset < 10 ? cpu_attr_int(n, "k", 0) : -1;
    k->largest = n->opset >= 11 ? cpu_attr_int(n, "largest", 1) != 0 : 1;
    return KILN_OK;
}
