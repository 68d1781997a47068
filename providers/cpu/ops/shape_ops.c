/* SPDX-License-Identifier: MIT */
/* Ops that only move data: Identity (tensors, sequences, optionals), Reshape and Flatten (the output shape comes from shape inference;
 * the elements are copied unchanged), and Constant (copies its attribute value). */
#include "providers/cpu/cpu_op.h"
#include "providers/cpu/ops/copy.h"

static kiln_status identity_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    (void)base;
    return cpu_copy_value(ctx, 0, cpu_in(ctx, 0), err);
}

kiln_status kiln_cpu_identity(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    return cpu_kernel_new(n, sizeof(cpu_kernel), identity_compute, out, err);
}

static kiln_status reshape_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    (void)base;
    return cpu_copy_elements(ctx, cpu_in(ctx, 0), ctx->outputs[0], err);
}

kiln_status kiln_cpu_reshape(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    return cpu_kernel_new(n, sizeof(cpu_kernel), reshape_compute, out, err);
}

typedef struct constant_kernel {
    cpu_kernel base;
    const kiln_value_desc *value;  /* the attribute's tensor, valid for the session */
} constant_kernel;

static kiln_status constant_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const constant_kernel *k = (const constant_kernel *)base;
    return cpu_copy_value(ctx, 0, k->value, err);
}

kiln_status kiln_cpu_constant(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    kiln_value_info info = cpu_output_info(n, 0);
    if (!info.constant)
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "Constant has no value the host could read");
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(constant_kernel), constant_compute, out, err));
    ((constant_kernel *)*out)->value = info.constant;
    return KILN_OK;
}
