/* SPDX-License-Identifier: MIT */
/* Copying whole values into outputs (tensors of any dtype incl. strings, sequences, empty
 * optionals), shared by Identity, Reshape and the other data-movement ops. */
#ifndef KILN_CPU_OPS_COPY_H
#define KILN_CPU_OPS_COPY_H

#include "providers/cpu/cpu_op.h"

/* Copies the elements of src into dst (same dtype and element count; strings duplicated). */
kiln_status cpu_copy_elements(kiln_kernel_ctx *ctx, const kiln_value_desc *src, kiln_value_desc *dst, kiln_error *err);
/* Sets every element of a host tensor to zero (numbers) or leaves it empty (strings, which the
 * host creates empty). Outputs start uninitialized: kernels that write only some elements call
 * this first. */
void cpu_zero_fill(kiln_value_desc *y);
/* Makes output i a copy of `src`, with src's shape (tensor), items (sequence) or emptiness. */
kiln_status cpu_copy_value(kiln_kernel_ctx *ctx, uint32_t i, const kiln_value_desc *src, kiln_error *err);

#endif
