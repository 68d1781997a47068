/* SPDX-License-Identifier: MIT */
/* com.microsoft QLinearConcat (docs/int8.md §5): inputs Y_scale, Y_zero_point, then one
 * (X, X_scale, X_zero_point) triple per tensor, u8 or s8. Each input is requantized to Y's
 * parameters through a 256-entry table of quantize_y(dequantize_x(x)) (built once at kernel
 * creation when its parameters are constants), or copied when its scale and zero point are
 * Y's; then the blocks are laid side by side along `axis` as Concat does. */
#include <stdio.h>
#include <string.h>

#include "providers/cpu/ops/qlinear_ms.h"

typedef struct qconcat_kernel {
    cpu_kernel base;
    int32_t dt;
    int64_t axis;
    uint32_t n;          /* tensors */
    uint8_t *fixed;      /* per tensor: 1 when its table (or copy flag) was made at creation */
    uint8_t *copy;       /* per tensor: 1 when it is copied */
    uint8_t *tables;     /* n x 256 */
} qconcat_kernel;

static void qconcat_cleanup(cpu_kernel *base) {
    qconcat_kernel *k = (qconcat_kernel *)base;
    cpu_free(base, k->fixed);
}

/* The table (or copy flag) of tensor t from its parameters and Y's. */
static kiln_status qconcat_table(int32_t dt, uint32_t t, const kiln_value_desc *xs, const kiln_value_desc *xz,
                                 const qms_q *qy, uint8_t *copy, uint8_t *table, kiln_error *err) {
    qms_q qx;
    char what[32];
    snprintf(what, sizeof(what), "input %u", t);
    KILN_CPU_TRY(qms_read(xs, xz, dt, what, &qx, err));
    *copy = qx.scale == qy->scale && qx.zp == qy->zp;
    if (!*copy) qms_lut_build(dt, &qx, qy, NULL, NULL, table);
    return KILN_OK;
}

static kiln_status qconcat_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const qconcat_kernel *k = (const qconcat_kernel *)base;
    kiln_value_desc *y = ctx->outputs[0];
    qms_q qy;
    KILN_CPU_TRY(qms_read(cpu_in(ctx, 0), cpu_in(ctx, 1), k->dt, "Y", &qy, err));
    int32_t r = y->rank;
    if (r < 1) return cpu_fail(err, KILN_ERR_SHAPE, "cannot concatenate scalars");
    int64_t axis = k->axis < 0 ? k->axis + r : k->axis;
    if (axis < 0 || axis >= r) return cpu_fail(err, KILN_ERR_SHAPE, "axis %lld is out of range for rank %d", (long long)k->axis, (int)r);
    int64_t outer = 1, inner = 1;
    for (int32_t d = 0; d < axis; d++) outer *= y->dims[d];
    for (int32_t d = (int32_t)axis + 1; d < r; d++) inner *= y->dims[d];
    size_t out_pitch = (size_t)(y->dims[axis] * inner), at = 0;
    uint8_t *yb = y->data;
    uint8_t table[256];
    for (uint32_t t = 0; t < k->n; t++) {
        const kiln_value_desc *x = cpu_in(ctx, 2 + 3 * t);
        if (x->rank != r) return cpu_fail(err, KILN_ERR_SHAPE, "input %u has rank %d, the output %d", t, (int)x->rank, (int)r);
        uint8_t copy = k->copy[t];
        const uint8_t *tb = k->tables + (size_t)t * 256;
        if (!k->fixed[t]) {
            KILN_CPU_TRY(qconcat_table(k->dt, t, cpu_in(ctx, 3 + 3 * t), cpu_in(ctx, 4 + 3 * t), &qy, &copy, table, err));
            tb = table;
        }
        size_t pitch = (size_t)(x->dims[axis] * inner);
        if (at + pitch > out_pitch) return cpu_fail(err, KILN_ERR_SHAPE, "the inputs do not fit the output along the axis");
        const uint8_t *xb = x->data;
        for (int64_t o = 0; o < outer && pitch; o++) {
            uint8_t *dst = yb + (size_t)o * out_pitch + at;
            const uint8_t *src = xb + (size_t)o * pitch;
            if (copy) memcpy(dst, src, pitch);
            else qms_lut_apply(tb, src, dst, pitch);
        }
        at += pitch;
    }
    if (at != out_pitch) return cpu_fail(err, KILN_ERR_SHAPE, "the inputs do not fill the output along the axis");
    return KILN_OK;
}

/* The tables of the tensors whose parameters (and Y's) are constants. */
static kiln_status qconcat_fixed(const cpu_node *n, qconcat_kernel *k, kiln_error *err) {
    uint32_t cnt = k->n;
    /* one block: fixed flags, copy flags, tables */
    k->fixed = cpu_alloc(&k->base, (size_t)cnt * (2 + 256));
    if (!k->fixed) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    memset(k->fixed, 0, (size_t)cnt * (2 + 256));
    k->copy = k->fixed + cnt;
    k->tables = k->copy + cnt;
    kiln_value_info ys = cpu_input_info(n, 0), yz = cpu_input_info(n, 1);
    if (!ys.constant || (yz.present && !yz.constant)) return KILN_OK;
    qms_q qy;
    KILN_CPU_TRY(qms_read(ys.constant, yz.constant, k->dt, "Y", &qy, err));
    for (uint32_t t = 0; t < cnt; t++) {
        kiln_value_info xs = cpu_input_info(n, 3 + 3 * t), xz = cpu_input_info(n, 4 + 3 * t);
        if (!xs.constant || (xz.present && !xz.constant)) continue;
        KILN_CPU_TRY(qconcat_table(k->dt, t, xs.constant, xz.constant, &qy, &k->copy[t], k->tables + (size_t)t * 256, err));
        k->fixed[t] = 1;
    }
    return KILN_OK;
}

kiln_status kiln_cpu_ms_qlinear_concat(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    uint32_t n_in = cpu_input_count(n);
    if (n_in < 5 || (n_in - 2) % 3 != 0)
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "needs Y_scale, Y_zero_point and (X, X_scale, X_zero_point) triples");
    int32_t dt = cpu_input_dtype(n, 1);
    if (dt != KILN_DTYPE_UINT8 && dt != KILN_DTYPE_INT8)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "QLinearConcat is implemented for uint8 and int8, not %s", cpu_dtype_name(dt));
    uint32_t cnt = (n_in - 2) / 3;
    for (uint32_t t = 0; t < cnt; t++)
        if (cpu_input_dtype(n, 2 + 3 * t) != dt)
            return cpu_fail(err, KILN_ERR_INVALID_MODEL, "input %u is %s, Y_zero_point %s", t, cpu_dtype_name(cpu_input_dtype(n, 2 + 3 * t)),
                            cpu_dtype_name(dt));
    if (!cpu_has_attr(n, "axis")) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "attribute 'axis' is required");
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(qconcat_kernel), qconcat_compute, out, err));
    qconcat_kernel *k = (qconcat_kernel *)*out;
    k->base.cleanup = qconcat_cleanup;
    k->dt = dt;
    k->n = cnt;
    k->axis = cpu_attr_int(n, "axis", 0);
    /* one block: fixed flags, copy flags, tables */
    return qms_created(out, qconcat_fixed(n, k, err));
}
