/* SPDX-License-Identifier: MIT */
/* Optional ops: Optional (wraps a value, or makes an empty optional of the `type` attribute),
 * OptionalHasElement, OptionalGetElement. A present optional travels as its content; an empty
 * one as a value of kind KILN_VALUE_OPTIONAL. */
#include "providers/cpu/cpu_op.h"
#include "providers/cpu/ops/copy.h"

typedef struct optional_kernel {
    cpu_kernel base;
    int32_t dtype; /* element type of the output */
} optional_kernel;

static int is_empty(const kiln_value_desc *v) { return !v || v->kind == KILN_VALUE_OPTIONAL; }

static kiln_status optional_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const optional_kernel *k = (const optional_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    if (is_empty(x)) return (kiln_status)ctx->host->set_output_none(ctx, 0, k->dtype, err);
    return cpu_copy_value(ctx, 0, x, err);
}

kiln_status kiln_cpu_optional(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(optional_kernel), optional_compute, out, err));
    ((optional_kernel *)*out)->dtype = cpu_output_info(n, 0).dtype;
    return KILN_OK;
}

static kiln_status has_element_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    (void)base;
    kiln_value_desc *out;
    KILN_CPU_TRY(cpu_output(ctx, 0, 0, NULL, &out, err));
    *(uint8_t *)out->data = (uint8_t)!is_empty(cpu_in(ctx, 0));
    return KILN_OK;
}

kiln_status kiln_cpu_optional_has_element(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    return cpu_kernel_new(n, sizeof(optional_kernel), has_element_compute, out, err);
}

static kiln_status get_element_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    (void)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    if (is_empty(x)) return cpu_fail(err, KILN_ERR_SHAPE, "the optional is empty");
    return cpu_copy_value(ctx, 0, x, err);
}

kiln_status kiln_cpu_optional_get_element(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    return cpu_kernel_new(n, sizeof(optional_kernel), get_element_compute, out, err);
}
