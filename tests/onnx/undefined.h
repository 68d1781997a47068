/* SPDX-License-Identifier: MIT */
/* Output elements whose value the ONNX spec leaves undefined, so the conformance runner does not
 * compare them. Today one case: Cast/CastLike from a floating type to a fixed-point (integer)
 * type, where the spec calls a value outside the target's range (and NaN or ±Inf) undefined;
 * the expected data then depends on the library that generated it (docs/testing.md). */
#ifndef KILN_TESTS_UNDEFINED_H
#define KILN_TESTS_UNDEFINED_H

#include <stddef.h>
#include <stdint.h>

#include "kiln.h"

/* 1 when a node `op` casting `from` to `to` can produce undefined elements. */
int undefined_cast_applies(const char *op, kiln_dtype from, kiln_dtype to);

/* Compares got with want on the elements whose input value `in` casts to a defined result in
 * `to`'s range. Returns 1 when they agree; 0 with the reason in why otherwise, including when no
 * element is defined (a test must compare something). *skipped receives the undefined count. */
int undefined_cast_compare(const kiln_tensor *in, const kiln_tensor *want, const kiln_tensor *got, size_t *skipped,
                           char *why, size_t why_len);

#endif
