/* SPDX-License-Identifier: MIT */
/* MaxUnpool: scatters X into zeros at the flat positions I gives, positions of the shape the pool
 * attributes invert; an output_shape input places that tensor at the output's origin (as the ONNX
 * reference does). Elements are copied as bytes, so every float type works. */
#include <string.h>

#include "providers/cpu/cpu_op.h"

typedef struct unpool_kernel {
    cpu_kernel base;
    int32_t sp;
    int64_t k[KILN_MAX_RANK], s[KILN_MAX_RANK], pads[2 * KILN_MAX_RANK];
} unpool_kernel;

static kiln_status unpool_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const unpool_kernel *k = (const unpool_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0), *ind = cpu_in(ctx, 1);
    kiln_value_desc *y = ctx->outputs[0];
    int32_t rank = x->rank;
    if (rank != k->sp + 2 || y->rank != rank || ind->count != x->count)
        return cpu_fail(err, KILN_ERR_SHAPE, "X, I and the output do not match the %d-D kernel", (int)k->sp);
    /* The shape the indices address: N, C, then the inverted pool size of each axis. */
    int64_t inf[KILN_MAX_RANK];
    inf[0] = x->dims[0];
    inf[1] = x->dims[1];
    for (int32_t i = 0; i < k->sp; i++) {
        int64_t in = x->dims[2 + i];
        inf[2 + i] = in == 0 ? 0 : (in - 1) * k->s[i] + k->k[i] - k->pads[i] - k->pads[i + k->sp];
        if (inf[2 + i] < 0) return cpu_fail(err, KILN_ERR_SHAPE, "pads exceed the unpooled size on axis %d", (int)i);
    }
    int64_t total = cpu_count(inf, rank);
    size_t es = cpu_dtype_size(x->dtype);
    memset(y->data, 0, (size_t)y->count * es);
    int same = 1;
    for (int32_t i = 0; i < rank; i++)
        if (inf[i] != y->dims[i]) same = 0;
    const int64_t *id = ind->data;
    for (uint64_t e = 0; e < x->count; e++) {
        int64_t at = id[e];
        if (at < 0 || at >= total)
            return cpu_fail(err, KILN_ERR_SHAPE, "index %lld is out of range [0, %lld)", (long long)at, (long long)total);
        if (!same) {
            /* Re-address the position in the output; positions outside it are dropped. */
            int64_t off = 0, rem = at, stride = 1, inside = 1;
            for (int32_t i = rank - 1; i >= 0; i--) {
                int64_t p = rem % inf[i];
                rem /= inf[i];
                if (p >= y->dims[i]) inside = 0;
                off += p * stride;
                stride *= y->dims[i];
            }
            if (!inside) continue;
            at = off;
        }
        memcpy((char *)y->data + (size_t)at * es, (const char *)x->data + e * es, es);
    }
    return KILN_OK;
}

kiln_status kiln_cpu_max_unpool(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (dt != KILN_DTYPE_FLOAT && dt != KILN_DTYPE_DOUBLE && dt != KILN_DTYPE_FLOAT16 && dt != KILN_DTYPE_BFLOAT16)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "MaxUnpool is not implemented for %s", cpu_dtype_name(dt));
    uint32_t nk, ns, np;
    const int64_t *ks = cpu_attr_ints(n, "kernel_shape", &nk);
    const int64_t *st = cpu_attr_ints(n, "strides", &ns);
    const int64_t *pa = cpu_attr_ints(n, "pads", &np);
    if (!ks || nk < 1 || nk > KILN_MAX_RANK - 2 || (st && ns != nk) || (pa && np != 2 * nk))
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "kernel_shape, strides or pads are missing or inconsistent");
    const int64_t lim = (int64_t)1 << 30;
    for (uint32_t i = 0; i < nk; i++) {
        int64_t s = st ? st[i] : 1, pb = pa ? pa[i] : 0, pe = pa ? pa[i + nk] : 0;
        if (ks[i] < 1 || ks[i] > lim || s < 1 || s > lim || pb < 0 || pb > lim || pe < 0 || pe > lim)
            return cpu_fail(err, KILN_ERR_INVALID_MODEL, "kernel_shape, strides or pads are out of range");
    }
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(unpool_kernel), unpool_compute, out, err));
    unpool_kernel *k = (unpool_kernel *)*out;
    k->sp = (int32_t)nk;
    for (uint32_t i = 0; i < nk; i++) {
        k->k[i] = ks[i];
        k->s[i] = st ? st[i] : 1;
        k->pads[i] = pa ? pa[i] : 0;
        k->pads[i + nk] = pa ? pa[i + nk] : 0;
    }
    return KILN_OK;
}
