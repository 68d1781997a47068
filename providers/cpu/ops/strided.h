/* SPDX-License-Identifier: MIT */
/* Strided element copies for the data-movement ops (Transpose, Slice, Expand, Tile, Pad,
 * Concat, Split, DepthToSpace...): any dtype, strings and packed sub-byte types included. */
#ifndef KILN_CPU_OPS_STRIDED_H
#define KILN_CPU_OPS_STRIDED_H

#include "providers/cpu/cpu_op.h"

/* Views may have up to twice the tensor rank (Tile and DepthToSpace split each dim in two). */
#define CPU_VIEW_MAX (2 * KILN_MAX_RANK)

/* Row-major element strides of `dims`. */
void cpu_strides(const int64_t *dims, int32_t rank, int64_t *strides);

/* Copies the n-d view (rank, dims) of src starting at element soff with element strides sstr
 * into the view of dst at doff with strides dstr. Strides may be 0 (repeat) or negative. src
 * and dst have the same dtype and must not overlap. rank <= CPU_VIEW_MAX. */
kiln_status cpu_copy_strided(kiln_kernel_ctx *ctx, const kiln_value_desc *src, int64_t soff, const int64_t *sstr,
                             kiln_value_desc *dst, int64_t doff, const int64_t *dstr, int32_t rank,
                             const int64_t *dims, kiln_error *err);

/* Copies n contiguous elements src[soff..] to dst[doff..] (same dtype). */
kiln_status cpu_copy_run(kiln_kernel_ctx *ctx, const kiln_value_desc *src, int64_t soff, kiln_value_desc *dst,
                         int64_t doff, int64_t n, kiln_error *err);

/* Element i of a packed sub-byte tensor (bits 2 or 4) as its raw bits, and the setter. */
static inline unsigned cpu_sub_get(const void *p, int64_t i, unsigned bits) {
    uint64_t bit = (uint64_t)i * bits;
    return (((const uint8_t *)p)[bit / 8] >> (bit % 8)) & ((1u << bits) - 1);
}
static inline void cpu_sub_set(void *p, int64_t i, unsigned bits, unsigned v) {
    uint64_t bit = (uint64_t)i * bits;
    uint8_t *b = (uint8_t *)p + bit / 8;
    unsigned mask = ((1u << bits) - 1) << (bit % 8);
    *b = (uint8_t)((*b & ~mask) | ((v << (bit % 8)) & mask));
}
/* Bits per element of a packed sub-byte dtype; 0 for the others. */
unsigned cpu_sub_bits(int32_t dtype);

#endif
