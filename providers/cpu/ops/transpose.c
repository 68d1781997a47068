/* SPDX-License-Identifier: MIT */
/* Permutations of a tensor's dims: Transpose, and DepthToSpace / SpaceToDepth (a reshape to
 * rank 6, a transpose and a reshape back, done as one strided copy). Any dtype; the strided copy
 * tiles the common "innermost dim moves" cases (NCHW <-> NHWC, 2-D transposes). */
#include <string.h>

#include "providers/cpu/cpu_op.h"
#include "providers/cpu/ops/strided.h"

typedef struct transpose_kernel {
    cpu_kernel base;
    int32_t n_perm;                 /* 0: reverse the dims */
    int64_t perm[KILN_MAX_RANK];
} transpose_kernel;

static kiln_status transpose_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const transpose_kernel *k = (const transpose_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    int32_t r = x->rank;
    if (k->n_perm && k->n_perm != r)
        return cpu_fail(err, KILN_ERR_SHAPE, "perm has %d entries for an input of rank %d", (int)k->n_perm, (int)r);
    int64_t xs[KILN_MAX_RANK], dims[KILN_MAX_RANK], ss[KILN_MAX_RANK], ds[KILN_MAX_RANK];
    cpu_strides(x->dims, r, xs);
    for (int32_t d = 0; d < r; d++) {
        int64_t p = k->n_perm ? k->perm[d] : r - 1 - d;
        dims[d] = x->dims[p];
        ss[d] = xs[p];
    }
    cpu_strides(dims, r, ds);
    kiln_value_desc *y;
    KILN_CPU_TRY(cpu_output(ctx, 0, r, dims, &y, err));
    return cpu_copy_strided(ctx, x, 0, ss, y, 0, ds, r, dims, err);
}

kiln_status kiln_cpu_transpose(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (!cpu_dtype_size(dt) && !cpu_sub_bits(dt))
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Transpose is not implemented for %s", cpu_dtype_name(dt));
    uint32_t np;
    const int64_t *perm = cpu_attr_ints(n, "perm", &np);
    if (np > KILN_MAX_RANK) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "Transpose's perm has %u entries", np);
    uint32_t seen = 0;
    for (uint32_t i = 0; i < np; i++) {
        if (perm[i] < 0 || perm[i] >= (int64_t)np || (seen & (1u << perm[i])))
            return cpu_fail(err, KILN_ERR_INVALID_MODEL, "Transpose's perm is not a permutation");
        seen |= 1u << perm[i];
    }
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(transpose_kernel), transpose_compute, out, err));
    transpose_kernel *k = (transpose_kernel *)*out;
    k->n_perm = (int32_t)np;
    if (np) memcpy(k->perm, perm, np * sizeof(int64_t));
    return KILN_OK;
}

/* ---- DepthToSpace, SpaceToDepth ---- */

typedef struct block_kernel {
    cpu_kernel base;
    int64_t b;       /* blocksize */
    int to_space;    /* DepthToSpace */
    int crd;         /* mode CRD (else DCR); SpaceToDepth has a mode from opset 28 */
} block_kernel;

static kiln_status block_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const block_kernel *k = (const block_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    kiln_value_desc *y = ctx->outputs[0];
    if (x->rank != 4 || !y) return cpu_fail(err, KILN_ERR_SHAPE, "input must be 4-D");
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3], b = k->b;
    int64_t dims[6], ss[6], ds[6];
    if (k->to_space) {
        /* output viewed as [N, C/b^2, H, b, W, b] */
        int64_t c = C / (b * b);
        int64_t v[6] = {N, c, H, b, W, b};
        int64_t dcr[6] = {C * H * W, H * W, W, b * c * H * W, 1, c * H * W};
        int64_t crd[6] = {C * H * W, b * b * H * W, W, b * H * W, 1, H * W};
        memcpy(dims, v, sizeof(v));
        memcpy(ss, k->crd ? crd : dcr, sizeof(ss));
    } else if (!k->crd) {
        /* DCR: output channel (bh * b + bw) * C + c, output viewed as [N, b, b, C, H/b, W/b] */
        int64_t v[6] = {N, b, b, C, H / b, W / b};
        int64_t s[6] = {C * H * W, W, 1, H * W, b * W, b};
        memcpy(dims, v, sizeof(v));
        memcpy(ss, s, sizeof(ss));
    } else {
        /* CRD: output channel (c * b + bh) * b + bw, output viewed as [N, C, b, b, H/b, W/b] */
        int64_t v[6] = {N, C, b, b, H / b, W / b};
        int64_t s[6] = {C * H * W, H * W, W, 1, b * W, b};
        memcpy(dims, v, sizeof(v));
        memcpy(ss, s, sizeof(ss));
    }
    cpu_strides(dims, 6, ds);
    return cpu_copy_strided(ctx, x, 0, ss, y, 0, ds, 6, dims, err);
}

static kiln_status block_new(const cpu_node *n, int to_space, cpu_kernel **out, kiln_error *err) {
    int32_t dt = cpu_input_dtype(n, 0);
    if (!cpu_dtype_size(dt))
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "%s is not implemented for %s", n->op_type, cpu_dtype_name(dt));
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(block_kernel), block_compute, out, err));
    block_kernel *k = (block_kernel *)*out;
    k->b = cpu_attr_int(n, "blocksize", 1);
    k->to_space = to_space;
    const char *mode = cpu_attr_str(n, "mode", "DCR");
    if (strcmp(mode, "DCR") != 0 && strcmp(mode, "CRD") != 0)
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "%s: mode must be DCR or CRD, not '%s'", n->op_type, mode);
    k->crd = strcmp(mode, "CRD") == 0;
    return KILN_OK;
}

kiln_status kiln_cpu_depth_to_space(const cpu_node *n, cpu_kernel **out, kiln_error *err) { return block_new(n, 1, out, err); }
kiln_status kiln_cpu_space_to_depth(const cpu_node *n, cpu_kernel **out, kiln_error *err) { return block_new(n, 0, out, err); }
