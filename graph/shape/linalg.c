/* SPDX-License-Identifier: MIT */
/* Shape inference for Det: input [..., M, M], output [...]. */
#include "graph/shape/infer_fns.h"

kiln_status kiln_infer_det(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    int32_t dt = x->t.dtype, r = x->t.rank;
    if (dt != KILN_DTYPE_FLOAT && dt != KILN_DTYPE_DOUBLE && dt != KILN_DTYPE_FLOAT16 && dt != KILN_DTYPE_BFLOAT16)
        return kiln_shape_fail(c, "X must be a float tensor, not %s", kiln_dtype_name((kiln_dtype)dt));
    if (r < 0) {
        kiln_shape_set(c, 0, dt, -1, NULL);
        return KILN_OK;
    }
    if (r < 2) return kiln_shape_fail(c, "X must have rank 2 or more, not %d", (int)r);
    int64_t m = x->t.dims[r - 2], n = x->t.dims[r - 1];
    if (m >= 0 && n >= 0 && m != n) return kiln_shape_fail(c, "matrices are %lld x %lld, not square", (long long)m, (long long)n);
    kiln_shape_set(c, 0, dt, r - 2, x->t.dims);
    return KILN_OK;
}
