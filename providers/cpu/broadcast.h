/* SPDX-License-Identifier: MIT */
/* Numpy broadcasting for elementwise kernels: the output is walked as `outer` runs of `inner`
 * contiguous elements; within a run each input advances by 0 or 1 element per step. Adjacent
 * dims that broadcast alike are merged first, so typical cases have one or two dims. */
#ifndef KILN_CPU_BROADCAST_H
#define KILN_CPU_BROADCAST_H

#include "kiln_provider.h"

#define CPU_BCAST_MAX_IN 4

typedef struct cpu_bcast {
    uint32_t n_in;
    int32_t rank;                                   /* merged rank (>= 1) */
    int64_t dims[KILN_MAX_RANK];                    /* merged output dims */
    int64_t strides[CPU_BCAST_MAX_IN][KILN_MAX_RANK]; /* element strides per input, 0 where broadcast */
    int64_t inner;                                  /* dims[rank - 1] */
    int64_t outer;                                  /* runs: product of the other dims */
} cpu_bcast;

/* Prepares the walk of `out` (shape already broadcast) from n_in inputs (<= CPU_BCAST_MAX_IN). */
void cpu_bcast_init(cpu_bcast *b, uint32_t n_in, const kiln_value_desc *const *in, const kiln_value_desc *out);
/* Element offsets of each input at the start of run r. */
void cpu_bcast_offsets(const cpu_bcast *b, int64_t r, int64_t *off);

#endif
