/* SPDX-License-Identifier: MIT */
/* Index sorting and element comparison (see sort.h). */
#include "sort.h"

#include <string.h>

#include "providers/cpu/cpu_op.h"
#include "providers/cpu/ops/elem.h"

/* Bottom-up merge sort: O(n log n), stable, no recursion. */
void cpu_sort_indices(int64_t *idx, int64_t n, int64_t *tmp, cpu_cmp_fn cmp, const void *ctx) {
    int64_t *src = idx, *dst = tmp;
    for (int64_t w = 1; w < n; w *= 2) {
        for (int64_t lo = 0; lo < n; lo += 2 * w) {
            int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            int64_t i = lo, j = mid, o = lo;
            while (i < mid && j < hi) dst[o++] = cmp(ctx, src[j], src[i]) < 0 ? src[j++] : src[i++];
            while (i < mid) dst[o++] = src[i++];
            while (j < hi) dst[o++] = src[j++];
        }
        int64_t *t = src;
        src = dst, dst = t;
    }
    if (src != idx) memcpy(idx, src, (size_t)n * sizeof(int64_t));
}

#define CMP(a, b) ((a) < (b) ? -1 : (b) < (a) ? 1 : 0)

static int cmp_f64(double a, double b) {
    int na = a != a, nb = b != b;
    if (na || nb) return na - nb;
    return CMP(a, b);
}

int cpu_cmp_elems(const kiln_value_desc *x, int64_t a, int64_t b) {
    const void *p = x->data;
    switch (x->dtype) {
    case KILN_DTYPE_FLOAT: return cmp_f64(((const float *)p)[a], ((const float *)p)[b]);
    case KILN_DTYPE_DOUBLE: return cmp_f64(((const double *)p)[a], ((const double *)p)[b]);
    case KILN_DTYPE_FLOAT16: case KILN_DTYPE_BFLOAT16: return cmp_f64(cpu_load_f64(p, x->dtype, a), cpu_load_f64(p, x->dtype, b));
    case KILN_DTYPE_COMPLEX64: {
        int c = cmp_f64(((const float *)p)[2 * a], ((const float *)p)[2 * b]);
        return c ? c : cmp_f64(((const float *)p)[2 * a + 1], ((const float *)p)[2 * b + 1]);
    }
    case KILN_DTYPE_COMPLEX128: {
        int c = cmp_f64(((const double *)p)[2 * a], ((const double *)p)[2 * b]);
        return c ? c : cmp_f64(((const double *)p)[2 * a + 1], ((const double *)p)[2 * b + 1]);
    }
    case KILN_DTYPE_INT8: return CMP(((const int8_t *)p)[a], ((const int8_t *)p)[b]);
    case KILN_DTYPE_INT16: return CMP(((const int16_t *)p)[a], ((const int16_t *)p)[b]);
    case KILN_DTYPE_INT32: return CMP(((const int32_t *)p)[a], ((const int32_t *)p)[b]);
    case KILN_DTYPE_INT64: return CMP(((const int64_t *)p)[a], ((const int64_t *)p)[b]);
    case KILN_DTYPE_UINT16: return CMP(((const uint16_t *)p)[a], ((const uint16_t *)p)[b]);
    case KILN_DTYPE_UINT32: return CMP(((const uint32_t *)p)[a], ((const uint32_t *)p)[b]);
    case KILN_DTYPE_UINT64: return CMP(((const uint64_t *)p)[a], ((const uint64_t *)p)[b]);
    case KILN_DTYPE_STRING: {
        int c = strcmp(((char *const *)p)[a], ((char *const *)p)[b]);
        return CMP(c, 0);
    }
    default: { /* uint8, bool and the 1-byte float8 types: by bits */
        size_t es = cpu_dtype_size(x->dtype);
        return memcmp((const char *)p + a * (int64_t)es, (const char *)p + b * (int64_t)es, es);
    }
    }
}
