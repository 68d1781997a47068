/* SPDX-License-Identifier: MIT */
/* See undefined.h. */
#include "undefined.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/values.h"

static int is_float(kiln_dtype t) {
    return t == KILN_DTYPE_FLOAT || t == KILN_DTYPE_DOUBLE || t == KILN_DTYPE_FLOAT16 || t == KILN_DTYPE_BFLOAT16;
}

/* Range of a fixed-point type; 0 for any other type. */
static int fixed_range(kiln_dtype t, double *lo, double *hi) {
    switch (t) {
    case KILN_DTYPE_INT2: *lo = -2, *hi = 1; return 1;
    case KILN_DTYPE_UINT2: *lo = 0, *hi = 3; return 1;
    case KILN_DTYPE_INT4: *lo = -8, *hi = 7; return 1;
    case KILN_DTYPE_UINT4: *lo = 0, *hi = 15; return 1;
    case KILN_DTYPE_INT8: *lo = -128, *hi = 127; return 1;
    case KILN_DTYPE_UINT8: *lo = 0, *hi = 255; return 1;
    case KILN_DTYPE_INT16: *lo = -32768, *hi = 32767; return 1;
    case KILN_DTYPE_UINT16: *lo = 0, *hi = 65535; return 1;
    case KILN_DTYPE_INT32: *lo = -2147483648.0, *hi = 2147483647.0; return 1;
    case KILN_DTYPE_UINT32: *lo = 0, *hi = 4294967295.0; return 1;
    case KILN_DTYPE_INT64: *lo = -9223372036854775808.0, *hi = 9223372036854775807.0; return 1;
    case KILN_DTYPE_UINT64: *lo = 0, *hi = 18446744073709551615.0; return 1;
    default: return 0;
    }
}

int undefined_cast_applies(const char *op, kiln_dtype from, kiln_dtype to) {
    double lo, hi;
    return (strcmp(op, "Cast") == 0 || strcmp(op, "CastLike") == 0) && is_float(from) && fixed_range(to, &lo, &hi);
}

/* Element i of an integer tensor, sub-byte types unpacked (first element in the low bits). */
static int64_t int_element(const kiln_tensor *t, size_t i) {
    const uint8_t *b = kiln_tensor_data_const(t);
    switch (kiln_tensor_dtype(t)) {
    case KILN_DTYPE_INT4: return (int64_t)(((b[i / 2] >> (4 * (i % 2))) & 15u) ^ 8u) - 8;
    case KILN_DTYPE_UINT4: return (b[i / 2] >> (4 * (i % 2))) & 15u;
    case KILN_DTYPE_INT2: return (int64_t)(((b[i / 4] >> (2 * (i % 4))) & 3u) ^ 2u) - 2;
    case KILN_DTYPE_UINT2: return (b[i / 4] >> (2 * (i % 4))) & 3u;
    case KILN_DTYPE_INT64: return ((const int64_t *)(const void *)b)[i];
    case KILN_DTYPE_UINT64: return (int64_t)((const uint64_t *)(const void *)b)[i];
    default: return (int64_t)tool_element(t, i);
    }
}

int undefined_cast_compare(const kiln_tensor *in, const kiln_tensor *want, const kiln_tensor *got, size_t *skipped,
                           char *why, size_t wl) {
    kiln_dtype to = kiln_tensor_dtype(want);
    double lo, hi;
    *skipped = 0;
    if (!fixed_range(to, &lo, &hi) || !is_float(kiln_tensor_dtype(in))) {
        snprintf(why, wl, "not a float to fixed-point cast");
        return 0;
    }
    if (kiln_tensor_dtype(got) != to) {
        snprintf(why, wl, "dtype %s, expected %s", kiln_dtype_name(kiln_tensor_dtype(got)), kiln_dtype_name(to));
        return 0;
    }
    int64_t n = kiln_tensor_element_count(want);
    if (kiln_tensor_element_count(in) != n || kiln_tensor_element_count(got) != n) {
        snprintf(why, wl, "element counts differ: input %lld, output %lld, expected %lld",
                 (long long)kiln_tensor_element_count(in), (long long)kiln_tensor_element_count(got), (long long)n);
        return 0;
    }
    size_t compared = 0;
    for (int64_t i = 0; i < n; i++) {
        double x = tool_element(in, (size_t)i);
        double tx = trunc(x);
        if (!isfinite(x) || tx < lo || tx > hi) {
            (*skipped)++;
            continue;
        }
        compared++;
        int64_t w = int_element(want, (size_t)i), g = int_element(got, (size_t)i);
        if (w != g) {
            snprintf(why, wl, "element %lld (input %.9g) is %lld, expected %lld", (long long)i, x, (long long)g,
                     (long long)w);
            return 0;
        }
    }
    if (!compared) {
        snprintf(why, wl, "no element of the input lies in %s's range: nothing defined to compare", kiln_dtype_name(to));
        return 0;
    }
    return 1;
}
