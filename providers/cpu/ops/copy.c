/* SPDX-License-Identifier: MIT */
/* Value copies (see copy.h). */
#include "copy.h"

#include <string.h>

static size_t storage(const kiln_value_desc *d) {
    size_t es = cpu_dtype_size(d->dtype);
    if (es) return (size_t)d->count * es;
    uint32_t bits = d->dtype == KILN_DTYPE_UINT2 || d->dtype == KILN_DTYPE_INT2 ? 2 : 4;
    return ((size_t)d->count * bits + 7) / 8;
}

kiln_status cpu_copy_elements(kiln_kernel_ctx *ctx, const kiln_value_desc *src, kiln_value_desc *dst, kiln_error *err) {
    if (src->dtype != dst->dtype || src->count != dst->count)
        return cpu_fail(err, KILN_ERR_INTERNAL, "copy between mismatched tensors");
    if (src->data == dst->data) return KILN_OK;
    if (src->dtype == KILN_DTYPE_STRING) {
        char *const *s = src->data;
        for (uint64_t i = 0; i < src->count; i++)
            KILN_CPU_TRY((kiln_status)ctx->host->set_string(ctx, dst, i, s[i], strlen(s[i]), err));
        return KILN_OK;
    }
    size_t bytes = storage(src);
    if (bytes) memcpy(dst->data, src->data, bytes);
    return KILN_OK;
}

void cpu_zero_fill(kiln_value_desc *y) {
    if (y->dtype == KILN_DTYPE_STRING) return;
    size_t bytes = storage(y);
    if (bytes) memset(y->data, 0, bytes);
}

kiln_status cpu_copy_value(kiln_kernel_ctx *ctx, uint32_t i, const kiln_value_desc *src, kiln_error *err) {
    kiln_value_desc *out;
    if (src->kind == KILN_VALUE_OPTIONAL) return (kiln_status)ctx->host->set_output_none(ctx, i, src->dtype, err);
    if (src->kind == KILN_VALUE_SEQUENCE) {
        KILN_CPU_TRY((kiln_status)ctx->host->alloc_sequence(ctx, i, src->dtype, src->count, &out, err));
        for (uint64_t j = 0; j < src->count; j++) {
            const kiln_value_desc *it = src->items[j];
            kiln_value_desc *dst;
            KILN_CPU_TRY((kiln_status)ctx->host->alloc_item(ctx, i, j, it->rank, it->dims, &dst, err));
            KILN_CPU_TRY(cpu_copy_elements(ctx, it, dst, err));
        }
        return KILN_OK;
    }
    KILN_CPU_TRY(cpu_output(ctx, i, src->rank, src->dims, &out, err));
    return cpu_copy_elements(ctx, src, out, err);
}
