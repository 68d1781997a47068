/* SPDX-License-Identifier: MIT */
/* Stable sort of index arrays with a caller's comparison, and element comparisons for any
 * dtype, for Unique and TopK. NaN compares equal to NaN and greater than every number. */
#ifndef KILN_CPU_OPS_SORT_H
#define KILN_CPU_OPS_SORT_H

#include <stdint.h>

#include "kiln_provider.h"

/* < 0, 0, > 0 as element a orders before, with, or after element b. */
typedef int (*cpu_cmp_fn)(const void *ctx, int64_t a, int64_t b);

/* Stable merge sort of idx[0..n) by cmp; tmp holds n entries. */
void cpu_sort_indices(int64_t *idx, int64_t n, int64_t *tmp, cpu_cmp_fn cmp, const void *ctx);

/* Compares elements a and b of x (any dtype of 8 bits or more, strings by bytes). */
int cpu_cmp_elems(const kiln_value_desc *x, int64_t a, int64_t b);

#endif
