/* SPDX-License-Identifier: MIT */
/* Shape inference for indexing ops: Gather. */
#include "graph/shape/infer_fns.h"

kiln_status kiln_infer_gather(kiln_shape_ctx *c) {
    const kiln_shape_val *x, *ix;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    KILN_TRY(kiln_shape_need_tensor(c, 1, &ix));
    if (ix->t.dtype != KILN_DTYPE_INT64 && ix->t.dtype != KILN_DTYPE_INT32)
        return kiln_shape_fail(c, "indices must be int32 or int64");
    if (x->t.rank < 0 || ix->t.rank < 0) {
        kiln_shape_set(c, 0, x->t.dtype, -1, NULL);
        return KILN_OK;
    }
    if (x->t.rank == 0) return kiln_shape_fail(c, "data must have rank 1 or more");
    int32_t axis;
    KILN_TRY(kiln_shape_axis(c, kiln_attr_int(c->node, "axis", 0), x->t.rank, &axis));
    int32_t rank = x->t.rank - 1 + ix->t.rank;
    if (rank > KILN_MAX_RANK) return kiln_shape_fail(c, "output rank %d is too large", (int)rank);
    int64_t dims[KILN_MAX_RANK];
    int32_t r = 0;
    for (int32_t i = 0; i < axis; i++) dims[r++] = x->t.dims[i];
    for (int32_t i = 0; i < ix->t.rank; i++) dims[r++] = ix->t.dims[i];
    for (int32_t i = axis + 1; i < x->t.rank; i++) dims[r++] = x->t.dims[i];
    kiln_shape_set(c, 0, x->t.dtype, rank, dims);
    return KILN_OK;
}

