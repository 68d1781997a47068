/* SPDX-License-Identifier: MIT */
/* Shape inference for elementwise families: numpy broadcasting of same-typed inputs, and ops
 * whose output has the type of their first input. */
#include "graph/shape/infer_fns.h"

/* Binary arithmetic (Add, Sub, Mul, Div, ...): inputs share a dtype; output is their broadcast. */
kiln_status kiln_infer_broadcast(kiln_shape_ctx *c) {
    const kiln_type *ts[2];
    for (uint32_t i = 0; i < 2; i++) {
        const kiln_shape_val *v;
        KILN_TRY(kiln_shape_need_tensor(c, i, &v));
        ts[i] = &v->t;
    }
    if (ts[0]->dtype != ts[1]->dtype)
        return kiln_shape_fail(c, "inputs have different types (%s and %s)", kiln_dtype_name((kiln_dtype)ts[0]->dtype),
                               kiln_dtype_name((kiln_dtype)ts[1]->dtype));
    int32_t rank;
    int64_t dims[KILN_MAX_RANK];
    KILN_TRY(kiln_shape_broadcast(c, ts, 2, &rank, dims));
    kiln_shape_set(c, 0, ts[0]->dtype, rank, dims);
    return KILN_OK;
}

/* Output 0 has the type and shape of input 0 (and so do further outputs that are present). */
kiln_status kiln_infer_same(kiln_shape_ctx *c) {
    if (!kiln_shape_in(c, 0)) return kiln_shape_fail(c, "input 0 is required");
    kiln_shape_same(c, 0, 0);
    return KILN_OK;
}
