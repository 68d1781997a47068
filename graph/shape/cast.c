/* SPDX-License-Identifier: MIT */
/* Shape inference for Cast (`to` as a dtype number, or as a type name before opset 6),
 * CastLike (the type of input 1) and BitCast (same bit width). The CPU kernels read the
 * target type from the output these functions set. */
#include <string.h>
#include <strings.h>

#include "graph/shape/infer_fns.h"

/* Cast-1 names the target type with TensorProto.DataType's enum names. */
static int32_t dtype_from_name(const char *s) {
    static const char *const names[] = {
        "UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32", "INT64", "STRING", "BOOL", "FLOAT16",
        "DOUBLE", "UINT32", "UINT64", "COMPLEX64", "COMPLEX128", "BFLOAT16",
    };
    for (int32_t i = 1; i < (int32_t)(sizeof(names) / sizeof(names[0])); i++)
        if (strcasecmp(s, names[i]) == 0) return i;
    return 0;
}

static kiln_status target(kiln_shape_ctx *c, int32_t *dt) {
    const kiln_attr *a = kiln_node_attr(c->node, "to");
    if (!a) return kiln_shape_fail(c, "attribute 'to' is required");
    if (a->type == KILN_ATTR_STRING) {
        *dt = dtype_from_name(a->s ? a->s : "");
        if (!*dt) return kiln_shape_fail(c, "'to' names no known type ('%s')", a->s ? a->s : "");
    } else if (a->type == KILN_ATTR_INT) {
        if (!kiln_dtype_valid((int32_t)a->i) || a->i != (int32_t)a->i)
            return kiln_shape_fail(c, "'to' is %lld, not a known data type", (long long)a->i);
        *dt = (int32_t)a->i;
    } else {
        return kiln_shape_fail(c, "attribute 'to' must be an int");
    }
    return KILN_OK;
}

static void set_like(kiln_shape_ctx *c, int32_t dtype, const kiln_type *t) {
    kiln_shape_set(c, 0, dtype, t->rank, t->rank >= 0 ? t->dims : NULL);
}

kiln_status kiln_infer_cast(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    int32_t dt;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    KILN_TRY(target(c, &dt));
    set_like(c, dt, &x->t);
    return KILN_OK;
}

/* CastLike(input, target_type): input's shape, target_type's dtype (its data is not read). */
kiln_status kiln_infer_castlike(kiln_shape_ctx *c) {
    const kiln_shape_val *x, *like;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    KILN_TRY(kiln_shape_need_tensor(c, 1, &like));
    set_like(c, like->t.dtype, &x->t);
    return KILN_OK;
}

kiln_status kiln_infer_bitcast(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    int32_t dt;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    KILN_TRY(target(c, &dt));
    if (dt == KILN_DTYPE_STRING || x->t.dtype == KILN_DTYPE_STRING)
        return kiln_shape_fail(c, "BitCast does not take or make strings");
    uint32_t bi = kiln_dtype_bits((kiln_dtype)x->t.dtype), bo = kiln_dtype_bits((kiln_dtype)dt);
    if (bi != bo)
        return kiln_shape_fail(c, "cannot reinterpret %s (%u bits) as %s (%u bits)", kiln_dtype_name((kiln_dtype)x->t.dtype),
                               bi, kiln_dtype_name((kiln_dtype)dt), bo);
    set_like(c, dt, &x->t);
    return KILN_OK;
}
