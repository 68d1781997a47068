/* SPDX-License-Identifier: MIT */
/* Data movement: Transpose, Concat, Split, Slice, Expand (all on k_copy_nd), Gather, Resize
 * (nearest, linear) and the ops that only relabel a shape (Reshape, Flatten, Squeeze, Unsqueeze),
 * which copy within device memory unless the host placed the output on the input. */
#include <stdio.h>
#include <string.h>

#include "ocl_kernel.h"

/* Copies a box of `dims` (rank up to KILN_MAX_RANK) from x (+xo elements, strides xs) to y (+yo,
 * strides ys), dropping unit dims so at most 8 remain for the kernel. */
static int32_t copy_box(ocl_kern *k, const kiln_value_desc *x, int64_t xo, const int64_t *xs, kiln_value_desc *y, int64_t yo,
                        const int64_t *ys, int rank, const int64_t *dims, kiln_error *err) {
    int d8[8] = {0}, x8[8] = {0}, y8[8] = {0}, r = 0;
    int64_t n = 1;
    for (int i = 0; i < rank; i++) {
        n *= dims[i];
        if (dims[i] == 1) continue;
        if (r == 8) return ocl_fail(err, KILN_ERR_UNSUPPORTED, "%s on OpenCL: more than 8 dims", k->op);
        d8[r] = (int)dims[i];
        x8[r] = (int)xs[i];
        y8[r++] = (int)ys[i];
    }
    if (n == 0) return KILN_OK;
    int32_t st = ocl_get_kernel(k, 0, "k_copy_nd", err);
    if (st == KILN_OK) st = ocl_args(k, k->k[0], err, "CCiivvv", x, xo, y, yo, (int)n, r, d8, x8, y8);
    if (st == KILN_OK) st = ocl_launch1(k, k->k[0], n, err);
    return st;
}

/* ---- Transpose ---- */

static int32_t run_transpose(ocl_kern *k, kiln_kernel_ctx *ctx, kiln_error *err) {
    const kiln_value_desc *x = ctx->inputs[0];
    kiln_value_desc *y = ctx->outputs[0];
    int rank = x->rank;
    int64_t xs[KILN_MAX_RANK], ys[KILN_MAX_RANK], ps[KILN_MAX_RANK];
    ocl_strides(rank, x->dims, xs);
    ocl_strides(rank, y->dims, ys);
    for (int i = 0; i < rank; i++) {
        int p = k->iv[0] ? (int)k->iv[1 + i] : rank - 1 - i;
        if (p < 0) p += rank;
        if (p < 0 || p >= rank) return ocl_fail(err, KILN_ERR_INVALID_MODEL, "Transpose: perm out of range");
        ps[i] = xs[p];
    }
    return copy_box(k, x, 0, ps, y, 0, ys, rank, y->dims, err);
}

int32_t ocl_make_transpose(ocl_kern *k, const kiln_host_api *h, const kiln_node_view *n, kiln_error *err) {
    int c = ocl_attr_ints(h, n, "perm", k->iv + 1, KILN_MAX_RANK);
    if (c == -2) return ocl_fail(err, KILN_ERR_UNSUPPORTED, "Transpose: rank above %d", KILN_MAX_RANK);
    k->iv[0] = c >= 0;
    k->run = run_transpose;
    return KILN_OK;
}

/* ---- Concat and Split ---- */

static int32_t run_concat(ocl_kern *k, kiln_kernel_ctx *ctx, kiln_error *err) {
    kiln_value_desc *y = ctx->outputs[0];
    int rank = y->rank, axis = (int)k->iv[0];
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank) return ocl_fail(err, KILN_ERR_INVALID_MODEL, "Concat: axis out of range");
    int64_t ys[KILN_MAX_RANK], xs[KILN_MAX_RANK];
    ocl_strides(rank, y->dims, ys);
    int64_t at = 0;
    for (uint32_t j = 0; j < ctx->n_inputs; j++) {
        const kiln_value_desc *x = ctx->inputs[j];
        if (!x || x->rank != rank) return ocl_fail(err, KILN_ERR_SHAPE, "Concat: input %u has another rank", j);
        ocl_strides(rank, x->dims, xs);
        int32_t st = copy_box(k, x, 0, xs, y, at * ys[axis], ys, rank, x->dims, err);
        if (st != KILN_OK) return st;
        at += x->dims[axis];
    }
    return KILN_OK;
}

int32_t ocl_make_concat(ocl_kern *k, const kiln_host_api *h, const kiln_node_view *n, kiln_error *err) {
    (void)err;
    k->iv[0] = ocl_attr_i(h, n, "axis", 0);
    k->n_data_in = h->node_input_count(n);
    k->run = run_concat;
    return KILN_OK;
}

static int32_t run_split(ocl_kern *k, kiln_kernel_ctx *ctx, kiln_error *err) {
    const kiln_value_desc *x = ctx->inputs[0];
    int rank = x->rank, axis = (int)k->iv[0];
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank) return ocl_fail(err, KILN_ERR_INVALID_MODEL, "Split: axis out of range");
    int64_t xs[KILN_MAX_RANK], ys[KILN_MAX_RANK];
    ocl_strides(rank, x->dims, xs);
    int64_t at = 0;
    for (uint32_t j = 0; j < ctx->n_outputs; j++) {
        kiln_value_desc *y = ctx->outputs[j];
        if (y->rank != rank) return ocl_fail(err, KILN_ERR_SHAPE, "Split: output %u has another rank", j);
        ocl_strides(rank, y->dims, ys);
        int32_t st = copy_box(k, x, at * xs[axis], xs, y, 0, ys, rank, y->dims, err);
        if (st != KILN_OK) return st;
        at += y->dims[axis];
    }
    if (at > x->dims[axis]) return ocl_fail(err, KILN_ERR_SHAPE, "Split: the outputs are larger than the input");
    return KILN_OK;
}

int32_t ocl_make_split(ocl_kern *k, const kiln_host_api *h, const kiln_node_view *n, kiln_error *err) {
    (void)err;
    k->iv[0] = ocl_attr_i(h, n, "axis", 0);
    k->run = run_split;
    return KILN_OK;
}

/* ---- Slice ---- */

static int32_t run_slice(ocl_kern *k, kiln_kernel_ctx *ctx, kiln_error *err) {
    const kiln_value_desc *x = ctx->inputs[0];
    kiln_value_desc *y = ctx->outputs[0];
    int rank = x->rank;
    int64_t starts[KILN_MAX_RANK], axes[KILN_MAX_RANK], steps[KILN_MAX_RANK];
    int ns, na = -1, nst = -1;
    if (k->iv[0]) { /* opset < 10: attributes */
        ns = (int)k->iv[1];
        for (int i = 0; i < ns; i++) starts[i] = k->iv[8 + i];
        na = (int)k->iv[2];
        for (int i = 0; i < na; i++) axes[i] = k->iv[24 + i];
    } else {
        ns = ocl_host_ints(ctx->inputs[1], starts, KILN_MAX_RANK);
        if (ctx->n_inputs > 3 && ctx->inputs[3]) na = ocl_host_ints(ctx->inputs[3], axes, KILN_MAX_RANK);
        if (ctx->n_inputs > 4 && ctx->inputs[4]) nst = ocl_host_ints(ctx->inputs[4], steps, KILN_MAX_RANK);
        if (ns < 0 || (ctx->n_inputs > 3 && ctx->inputs[3] && na < 0) || (ctx->n_inputs > 4 && ctx->inputs[4] && nst < 0))
            return ocl_fail(err, KILN_ERR_INVALID_MODEL, "Slice on OpenCL: starts, axes and steps must be integers in host memory");
    }
    int64_t xs[KILN_MAX_RANK], ys[KILN_MAX_RANK], ss[KILN_MAX_RANK];
    ocl_strides(rank, x->dims, xs);
    ocl_strides(rank, y->dims, ys);
    for (int i = 0; i < rank; i++) ss[i] = xs[i];
    int64_t base = 0;
    for (int i = 0; i < ns; i++) {
        int64_t a = na >= 0 ? axes[i] : i;
        if (a < 0) a += rank;
        if (a < 0 || a >= rank) return ocl_fail(err, KILN_ERR_INVALID_MODEL, "Slice: axis out of range");
        int64_t d = x->dims[a], s = nst >= 0 ? steps[i] : 1, b = starts[i];
        if (s == 0) return ocl_fail(err, KILN_ERR_INVALID_MODEL, "Slice: step 0");
        if (b < 0) b += d;
        if (s > 0) b = b < 0 ? 0 : (b > d ? d : b);
        else b = b < 0 ? 0 : (b > d - 1 ? d - 1 : b);
        base += b * xs[a];
        ss[a] = s * xs[a];
    }
    return copy_box(k, x, base, ss, y, 0, ys, rank, y->dims, err);
}

int32_t ocl_make_slice(ocl_kern *k, const kiln_host_api *h, const kiln_node_view *n, kiln_error *err) {
    if (h->node_opset(n) < 10) {
        k->iv[0] = 1;
        int ns = ocl_attr_ints(h, n, "starts", k->iv + 8, 16), na = ocl_attr_ints(h, n, "axes", k->iv + 24, 16);
        if (ns < 0) return ocl_fail(err, KILN_ERR_INVALID_MODEL, "Slice: no starts");
        k->iv[1] = ns;
        k->iv[2] = na;
    } else {
        uint32_t host = h->node_host_inputs(n);
        for (uint32_t i = 1; i < h->node_input_count(n) && i < 5; i++) {
            kiln_value_info vi;
            if (ocl_input_info(h, n, i, &vi) == KILN_OK && vi.present && !(host & (1u << i)))
                return ocl_fail(err, KILN_ERR_UNSUPPORTED, "Slice on OpenCL: input %u must reach the kernel in host memory", i);
        }
    }
    k->run = run_slice;
    return KILN_OK;
}

/* ---- Expand ---- */

static int32_t run_expand(ocl_kern *k, kiln_kernel_ctx *ctx, kiln_error *err) {
    const kiln_value_desc *x = ctx->inputs[0];
    kiln_value_desc *y = ctx->outputs[0];
    int rank = y->rank;
    int64_t xs0[KILN_MAX_RANK], xs[KILN_MAX_RANK], ys[KILN_MAX_RANK];
    ocl_strides(x->rank, x->dims, xs0);
    ocl_strides(rank, y->dims, ys);
    for (int i = 0; i < rank; i++) {
        int j = i - (rank - x->rank);
        xs[i] = j < 0 || x->dims[j] == 1 ? 0 : xs0[j];
        if (j >= 0 && x->dims[j] != 1 && x->dims[j] != y->dims[i]) return ocl_fail(err, KILN_ERR_SHAPE, "Expand: shapes do not broadcast");
    }
    return copy_box(k, x, 0, xs, y, 0, ys, rank, y->dims, err);
}

int32_t ocl_make_expand(ocl_kern *k, const kiln_host_api *h, const kiln_node_view *n, kiln_error *err) {
    if (!(h->node_host_inputs(n) & 2u)) return ocl_fail(err, KILN_ERR_UNSUPPORTED, "Expand on OpenCL: the shape must be a host input");
    k->run = run_expand;
    return KILN_OK;
}

/* ---- Reshape, Flatten, Squeeze, Unsqueeze: same elements, another shape ---- */

static int32_t run_reshape(ocl_kern *k, kiln_kernel_ctx *ctx, kiln_error *err) {
    const kiln_value_desc *x = ctx->inputs[0];
    kiln_value_desc *y = ctx->outputs[0];
    if (x->count != y->count) return ocl_fail(err, KILN_ERR_SHAPE, "%s: %llu elements in, %llu out", k->op,
                                              (unsigned long long)x->count, (unsigned long long)y->count);
    if (!y->count || (x->data == y->data && x->offset == y->offset)) return KILN_OK;
    size_t bytes = (size_t)y->count * (size_t)ocl_elem_size(y->dtype);
    cl_int e = clEnqueueCopyBuffer(k->pv->queue, ocl_buf_mem(x->data), ocl_buf_mem(y->data), (size_t)x->offset, (size_t)y->offset,
                                   bytes, 0, NULL, NULL);
    if (e != CL_SUCCESS) return ocl_fail(err, KILN_ERR_PROVIDER, "%s on OpenCL: clEnqueueCopyBuffer failed: %s (%d)", k->op, ocl_errstr(e), e);
    return KILN_OK;
}

int32_t ocl_make_reshape(ocl_kern *k, const kiln_host_api *h, const kiln_node_view *n, kiln_error *err) {
    uint32_t host = h->node_host_inputs(n);
    for (uint32_t i = 1; i < h->node_input_count(n); i++) {
        kiln_value_info vi;
        if (ocl_input_info(h, n, i, &vi) == KILN_OK && vi.present && !(host & (1u << i)))
            return ocl_fail(err, KILN_ERR_UNSUPPORTED, "%s on OpenCL: input %u must be a host input", k->op, i);
    }
    k->run = run_reshape;
    return KILN_OK;
}

/* ---- Gather ---- */

static int32_t run_gather(ocl_kern *k, kiln_kernel_ctx *ctx, kiln_error *err) {
    const kiln_value_desc *x = ctx->inputs[0], *idx = ctx->inputs[1];
    kiln_value_desc *y = ctx->outputs[0];
    int rank = x->rank, axis = (int)k->iv[0];
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank) return ocl_fail(err, KILN_ERR_INVALID_MODEL, "Gather: axis out of range");
    if (idx->dtype != KILN_DTYPE_INT64 && idx->dtype != KILN_DTYPE_INT32)
        return ocl_fail(err, KILN_ERR_INVALID_MODEL, "Gather: indices must be int32 or int64");
    if (idx->mem_kind != (int32_t)k->pv->abi.mem_kind) return ocl_fail(err, KILN_ERR_INVALID_ARGUMENT, "Gather on OpenCL: indices not in device memory");
    if (!y->count) return KILN_OK;
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < axis; i++) outer *= x->dims[i];
    for (int i = axis + 1; i < rank; i++) inner *= x->dims[i];
    cl_int e = CL_SUCCESS, zero = 0, bad = 0;
    if (!k->flag) k->flag = clCreateBuffer(k->pv->ctx, CL_MEM_READ_WRITE, sizeof(cl_int), NULL, &e);
    if (!k->flag) return ocl_fail(err, KILN_ERR_OUT_OF_MEMORY, "Gather on OpenCL: cannot create a flag buffer: %s (%d)", ocl_errstr(e), e);
    e = clEnqueueWriteBuffer(k->pv->queue, k->flag, CL_FALSE, 0, sizeof(zero), &zero, 0, NULL, NULL);
    if (e != CL_SUCCESS) return ocl_fail(err, KILN_ERR_PROVIDER, "Gather on OpenCL: clEnqueueWriteBuffer failed: %s (%d)", ocl_errstr(e), e);
    int32_t st = ocl_get_kernel(k, 0, "k_gather", err);
    if (st == KILN_OK)
        st = ocl_args(k, k->k[0], err, "BBiBiiiiM", x, idx, idx->dtype == KILN_DTYPE_INT64, y, (int)y->count, (int)x->dims[axis],
                      (int)idx->count, (int)inner, k->flag);
    if (st == KILN_OK) st = ocl_launch1(k, k->k[0], (int64_t)y->count, err);
    if (st != KILN_OK) return st;
    (void)outer;
    /* Reading the flag waits for the kernel: the price of reporting bad indices. */
    e = clEnqueueReadBuffer(k->pv->queue, k->flag, CL_TRUE, 0, sizeof(bad), &bad, 0, NULL, NULL);
    if (e != CL_SUCCESS) return ocl_fail(err, KILN_ERR_PROVIDER, "Gather on OpenCL: reading the index check failed: %s (%d)", ocl_errstr(e), e);
    if (bad) return ocl_fail(err, KILN_ERR_SHAPE, "Gather: an index is out of range for axis %d of size %lld", axis,
                             (long long)x->dims[axis]);
    return KILN_OK;
}

int32_t ocl_make_gather(ocl_kern *k, const kiln_host_api *h, const kiln_node_view *n, kiln_error *err) {
    kiln_value_info vi;
    if (ocl_input_info(h, n, 1, &vi) != KILN_OK || (vi.dtype != KILN_DTYPE_INT64 && vi.dtype != KILN_DTYPE_INT32) ||
        (h->node_host_inputs(n) & 2u))
        return ocl_fail(err, KILN_ERR_UNSUPPORTED, "Gather on OpenCL: int32 or int64 indices in device memory only");
    k->iv[0] = ocl_attr_i(h, n, "axis", 0);
    k->run = run_gather;
    return KILN_OK;
}

/* ---- Resize ---- */

static int32_t run_resize(ocl_kern *k, kiln_kernel_ctx *ctx, kiln_error *err) {
    const kiln_value_desc *x = ctx->inputs[0];
    kiln_value_desc *y = ctx->outputs[0];
    int rank = x->rank;
    if (rank > 8 || y->rank != rank) return ocl_fail(err, KILN_ERR_UNSUPPORTED, "Resize on OpenCL: rank above 8");
    float sc[8] = {1, 1, 1, 1, 1, 1, 1, 1}, of[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    int id[8] = {0}, od[8] = {0};
    const kiln_value_desc *scales = NULL;
    uint32_t si = (uint32_t)k->iv[3];
    if (si < ctx->n_inputs && ctx->inputs[si] && ctx->inputs[si]->count) scales = ctx->inputs[si];
    if (scales && (scales->mem_kind != 0 || scales->dtype != KILN_DTYPE_FLOAT || scales->count != (uint64_t)rank))
        return ocl_fail(err, KILN_ERR_INVALID_MODEL, "Resize on OpenCL: scales must be %d floats in host memory", rank);
    for (int i = 0; i < rank; i++) {
        id[i] = (int)x->dims[i];
        od[i] = (int)y->dims[i];
        sc[i] = scales ? ((const float *)scales->data)[i] : (x->dims[i] ? (float)y->dims[i] / (float)x->dims[i] : 1.0f);
        of[i] = scales ? (float)x->dims[i] * sc[i] : (float)y->dims[i];
        if (k->code && i < rank - 2 && (od[i] != id[i]))
            return ocl_fail(err, KILN_ERR_UNSUPPORTED, "Resize on OpenCL: linear mode scales the last two dims only");
    }
    if (k->code && rank < 2) return ocl_fail(err, KILN_ERR_UNSUPPORTED, "Resize on OpenCL: linear mode needs rank 2 or more");
    int32_t st = ocl_get_kernel(k, 0, "k_resize", err);
    if (st == KILN_OK)
        st = ocl_args(k, k->k[0], err, "BBiivvwwiii", x, y, (int)y->count, rank, id, od, sc, of, (int)k->iv[1], (int)k->iv[2], k->code);
    if (st == KILN_OK) st = ocl_launch1(k, k->k[0], (int64_t)y->count, err);
    return st;
}

int32_t ocl_make_resize(ocl_kern *k, const kiln_host_api *h, const kiln_node_view *n, kiln_error *err) {
    const char *mode = ocl_attr_s(h, n, "mode", "nearest");
    const char *ctm = ocl_attr_s(h, n, "coordinate_transformation_mode", "half_pixel");
    const char *nm = ocl_attr_s(h, n, "nearest_mode", "round_prefer_floor");
    int64_t axes[KILN_MAX_RANK];
    if (h->node_opset(n) < 11) return ocl_fail(err, KILN_ERR_UNSUPPORTED, "Resize before opset 11 is not supported on OpenCL");
    if (ocl_attr_i(h, n, "antialias", 0) || ocl_attr_ints(h, n, "axes", axes, KILN_MAX_RANK) >= 0)
        return ocl_fail(err, KILN_ERR_UNSUPPORTED, "Resize on OpenCL: antialias and axes are not supported");
    static const char *ctms[] = {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn",
                                 "half_pixel_symmetric"};
    static const char *nms[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
    k->iv[1] = k->iv[2] = -1;
    for (int i = 0; i < 6; i++)
        if (!strcmp(ctm, ctms[i])) k->iv[1] = i;
    for (int i = 0; i < 4; i++)
        if (!strcmp(nm, nms[i])) k->iv[2] = i;
    k->code = !strcmp(mode, "linear") ? 1 : 0;
    if (k->iv[1] < 0 || k->iv[2] < 0 || (!k->code && strcmp(mode, "nearest")))
        return ocl_fail(err, KILN_ERR_UNSUPPORTED, "Resize on OpenCL: mode '%s' with '%s' is not supported", mode, ctm);
    /* Scales are input 2; sizes (input 3) are the output's dims, which the host gives. */
    k->iv[3] = 2;
    kiln_value_info vi;
    if (ocl_input_info(h, n, 2, &vi) == KILN_OK && vi.present && !(h->node_host_inputs(n) & 4u))
        return ocl_fail(err, KILN_ERR_UNSUPPORTED, "Resize on OpenCL: scales must be a host input");
    k->run = run_resize;
    return KILN_OK;
}
