/* SPDX-License-Identifier: MIT */
/* Broadcast walk setup (see broadcast.h). */
#include "broadcast.h"

#include <string.h>

/* Every input has the output's shape or one element: one run over all elements, no merging. */
static int bcast_flat(cpu_bcast *b, uint32_t n_in, const kiln_value_desc *const *in, const kiln_value_desc *out) {
    int64_t total = 1;
    for (int32_t d = 0; d < out->rank; d++) total *= out->dims[d];
    int64_t step[CPU_BCAST_MAX_IN];
    for (uint32_t k = 0; k < n_in; k++) {
        if (in[k]->rank == out->rank &&
            (out->rank == 0 || memcmp(in[k]->dims, out->dims, (size_t)out->rank * sizeof(int64_t)) == 0))
            step[k] = 1;
        else if (in[k]->count == 1)
            step[k] = 0;
        else
            return 0;
    }
    b->n_in = n_in;
    b->rank = 1;
    b->dims[0] = total;
    for (uint32_t k = 0; k < n_in; k++) b->strides[k][0] = step[k];
    b->inner = total;
    b->outer = total ? 1 : 0;
    return 1;
}

void cpu_bcast_init(cpu_bcast *b, uint32_t n_in, const kiln_value_desc *const *in, const kiln_value_desc *out) {
    if (bcast_flat(b, n_in, in, out)) return;
    memset(b, 0, sizeof(*b));
    b->n_in = n_in;
    int32_t r = out->rank;
    /* Full-rank strides of each input, 0 where it broadcasts. */
    int64_t st[CPU_BCAST_MAX_IN][KILN_MAX_RANK];
    for (uint32_t k = 0; k < n_in; k++) {
        int64_t s = 1;
        int32_t off = r - in[k]->rank;
        for (int32_t d = r - 1; d >= 0; d--) {
            int64_t dim = d >= off ? in[k]->dims[d - off] : 1;
            st[k][d] = (dim == 1 && out->dims[d] != 1) ? 0 : s;
            s *= dim;
        }
    }
    /* Merge dim d into the previous merged dim when every input continues contiguously. */
    int32_t m = 0;
    for (int32_t d = 0; d < r; d++) {
        if (out->dims[d] == 1) continue;
        int can = m > 0;
        for (uint32_t k = 0; k < n_in && can; k++)
            can = b->strides[k][m - 1] == st[k][d] * out->dims[d];
        if (can) {
            b->dims[m - 1] *= out->dims[d];
            for (uint32_t k = 0; k < n_in; k++) b->strides[k][m - 1] = st[k][d];
        } else {
            b->dims[m] = out->dims[d];
            for (uint32_t k = 0; k < n_in; k++) b->strides[k][m] = st[k][d];
            m++;
        }
    }
    if (m == 0) {
        b->dims[0] = 1;
        for (uint32_t k = 0; k < n_in; k++) b->strides[k][0] = 0;
        m = 1;
    }
    b->rank = m;
    b->inner = b->dims[m - 1];
    b->outer = 1;
    for (int32_t d = 0; d < m - 1; d++) b->outer *= b->dims[d];
    int64_t total = 1;
    for (int32_t d = 0; d < r; d++) total *= out->dims[d];
    if (total == 0) b->outer = 0;
}

void cpu_bcast_offsets(const cpu_bcast *b, int64_t r, int64_t *off) {
    for (uint32_t k = 0; k < b->n_in; k++) off[k] = 0;
    for (int32_t d = b->rank - 2; d >= 0; d--) {
        int64_t i = r % b->dims[d];
        r /= b->dims[d];
        for (uint32_t k = 0; k < b->n_in; k++) off[k] += i * b->strides[k][d];
    }
}
