/* SPDX-License-Identifier: MIT */
/* Helpers for the command-line tools, over the public API only: reading values from .pb and
 * .npy files, deterministic random inputs, comparing outputs with a tolerance, summaries. */
#ifndef KILN_TOOLS_VALUES_H
#define KILN_TOOLS_VALUES_H

#include <stdio.h>

#include "kiln.h"

/* Reads FILE as a value of `kind` (".npy" by extension, else a serialized ONNX value). */
kiln_status tool_load_value(kiln_env *env, const char *path, kiln_value_kind kind, kiln_tensor **out, kiln_error *err);
/* Creates a tensor of `dtype` and `dims` filled from a fixed-seed generator (floats in [-1, 1),
 * integers in [0, 4), booleans 0/1, strings "s<i>"). */
kiln_status tool_random_tensor(kiln_env *env, kiln_dtype dtype, const int64_t *dims, int32_t rank, uint64_t seed,
                               kiln_tensor **out, kiln_error *err);
/* Compares got with want: same kind, dtype and shape, and every element within
 * |got - want| <= atol + rtol * |want| (NaN matches NaN). On mismatch writes why into `why`. */
int tool_compare(const kiln_tensor *want, const kiln_tensor *got, double rtol, double atol, char *why, size_t why_len);
/* One line: kind, dtype, shape, min/max/mean and the first values. */
void tool_summary(FILE *f, const kiln_tensor *t);
/* "[1,3,224,224]" */
void tool_shape_string(const kiln_tensor *t, char *buf, size_t len);
/* Element i of a numeric or bool tensor as a double (float16/bfloat16 converted). */
double tool_element(const kiln_tensor *t, size_t i);
/* Monotonic clock in milliseconds. */
double tool_now_ms(void);

#endif
