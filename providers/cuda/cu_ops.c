/* SPDX-License-Identifier: MIT */
/* The CUDA provider's claims and kernels: facts of a node read through the host's views, the
 * claim decided by cu_claim_decide (cu_options.c), and compute queueing work on the instance's
 * stream (ABI 1.2: it returns without waiting). GEMMs go to cuBLAS (row-major operands as
 * column-major transposes), everything else to the kernels of cu_kernels.cu. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cu.h"
#include "cu_kernels.h"

typedef struct cu_kernel {
    kiln_kernel abi;
    cu_provider *cp;
    cu_kernel_kind kind;
    char node[96];               /* node name, for messages */
    int op;                      /* CU_OP_* / CU_UN_* */
    float alpha, beta, eps;      /* LeakyRelu alpha; Gemm alpha/beta; LayerNormalization epsilon */
    int trans_a, trans_b;
    int32_t perm[CU_MAX_RANK];
    int has_perm;
} cu_kernel;

static int32_t in_info(const kiln_host_api *h, const kiln_node_view *n, uint32_t i, kiln_value_info *vi) {
    memset(vi, 0, sizeof(*vi));
    vi->hdr.struct_size = sizeof(*vi);
    vi->hdr.abi_version = KILN_ABI_VERSION;
    return i < h->node_input_count(n) ? h->node_input_info(n, i, vi) : KILN_ERR_INVALID_ARGUMENT;
}

static int64_t attr_i(const kiln_host_api *h, const kiln_node_view *n, const char *name, int64_t dflt) {
    const kiln_attr_view *a = h->node_attr(n, name);
    return a && h->attr_type(a) == KILN_ATTR_INT ? h->attr_int(a) : dflt;
}

static float attr_f(const kiln_host_api *h, const kiln_node_view *n, const char *name, float dflt) {
    const kiln_attr_view *a = h->node_attr(n, name);
    return a && h->attr_type(a) == KILN_ATTR_FLOAT ? h->attr_float(a) : dflt;
}

static void facts_of(const kiln_host_api *h, const kiln_node_view *n, cu_node_facts *f) {
    memset(f, 0, sizeof(*f));
    f->op = h->node_op_type(n);
    f->domain = h->node_domain(n);
    f->opset = h->node_opset(n);
    f->n_in = h->node_input_count(n);
    f->n_out = 0;
    for (uint32_t o = 0; o < h->node_output_count(n); o++) {
        kiln_value_info vo;
        memset(&vo, 0, sizeof(vo));
        vo.hdr.struct_size = sizeof(vo);
        if (h->node_output_info(n, o, &vo) == KILN_OK && vo.present) {
            f->n_out++;
            if (o == 0) f->out_rank = vo.rank;
        }
    }
    for (uint32_t i = 0; i < 4; i++) {
        kiln_value_info vi;
        f->rank[i] = -1;
        if (in_info(h, n, i, &vi) == KILN_OK && vi.present && vi.kind == KILN_VALUE_TENSOR) {
            f->dtype[i] = vi.dtype;
            f->rank[i] = vi.rank;
        }
    }
    f->axis = attr_i(h, n, "axis", -1);
    if (f->axis >= 0 && f->rank[0] > 0 && f->axis == f->rank[0] - 1) f->axis = -1;
    f->trans_a = attr_i(h, n, "transA", 0);
    f->trans_b = attr_i(h, n, "transB", 0);
    const kiln_attr_view *ap = h->node_attr(n, "approximate");
    if (ap) {
        size_t len = 0;
        const char *s = h->attr_string(ap, 0, &len);
        if (s && strcmp(s, "none") != 0) f->has_other_attrs = 1;
    }
}

int32_t cu_claim_node(kiln_provider *p, const kiln_node_view *n, int32_t *claim, kiln_error *err) {
    cu_provider *cp = (cu_provider *)p;
    (void)err;
    cu_node_facts f;
    facts_of(cp->host, n, &f);
    *claim = cu_claim_decide(&f) != CU_K_NONE ? KILN_CLAIM_KERNEL : KILN_CLAIM_NO;
    return KILN_OK;
}

static int op_code(const char *op) {
    static const char *const bin[] = {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min"};
    static const char *const un[] = {"Relu", "Sigmoid", "Tanh", "Exp", "Log", "Sqrt", "Neg", "Abs", "Erf", "Gelu", "LeakyRelu"};
    for (int i = 0; i < 7; i++)
        if (!strcmp(op, bin[i])) return i;
    for (int i = 0; i < 11; i++)
        if (!strcmp(op, un[i])) return i;
    return -1;
}

static int64_t count_of(const kiln_value_desc *d) {
    int64_t c = 1;
    for (int32_t i = 0; i < d->rank; i++) c *= d->dims[i];
    return c;
}

static int32_t launched(const cu_kernel *k, int e, kiln_error *err) {
    if (!e) return KILN_OK;
    return cu_fail(err, KILN_ERR_PROVIDER, "cuda: node '%s': kernel launch failed: %s", k->node, cudaGetErrorString((cudaError_t)e));
}

static int32_t blas_done(const cu_kernel *k, cublasStatus_t s, kiln_error *err) {
    if (s == CUBLAS_STATUS_SUCCESS) return KILN_OK;
    return cu_fail(err, KILN_ERR_PROVIDER, "cuda: node '%s': cuBLAS: %s", k->node, cublasGetStatusString(s));
}

/* Element strides of `d` read as an operand of an output of rank `rank` (numpy broadcasting). */
static void bcast_strides(const kiln_value_desc *d, int rank, const int64_t *out_dims, int64_t *strides) {
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        int di = i - (rank - d->rank);
        if (di < 0) {
            strides[i] = 0;
            continue;
        }
        strides[i] = d->dims[di] == 1 && out_dims[i] != 1 ? 0 : s;
        s *= d->dims[di];
    }
}

static int32_t matmul(cu_kernel *k, const kiln_value_desc *a, const kiln_value_desc *b, kiln_value_desc *y, kiln_error *err) {
    cu_provider *cp = k->cp;
    int64_t m = a->dims[a->rank - 2], kk = a->dims[a->rank - 1], n = b->dims[b->rank - 1];
    if (b->dims[b->rank - 2] != kk) return cu_fail(err, KILN_ERR_SHAPE, "cuda: node '%s': MatMul inner dims %lld and %lld", k->node, (long long)kk, (long long)b->dims[b->rank - 2]);
    int64_t batch = 1;
    for (int32_t i = 0; i < a->rank - 2; i++) batch *= a->dims[i];
    const float one = 1.0f, zero = 0.0f;
    const float *pa = cu_ptr(cp, a), *pb = cu_ptr(cp, b);
    float *py = cu_ptr(cp, y);
    if (m != 0 && batch != 0 && n != 0 && kk != 0 && (!pa || !pb || !py)) return cu_fail(err, KILN_ERR_INVALID_ARGUMENT, "cuda: node '%s': an operand is not in CUDA memory", k->node);
    if (!m || !n || !batch) return KILN_OK;
    if (b->rank == 2) m *= batch, batch = 1; /* a shared B: one GEMM over every row of A */
    if (m > INT32_MAX || n > INT32_MAX || kk > INT32_MAX || batch > INT32_MAX)
        return cu_fail(err, KILN_ERR_UNSUPPORTED, "cuda: node '%s': MatMul dims beyond cuBLAS's int range", k->node);
    if (b->rank != 2) {
        for (int32_t i = 0; i < a->rank - 2; i++)
            if (a->dims[i] != b->dims[i])
                return cu_fail(err, KILN_ERR_UNSUPPORTED, "cuda: node '%s': MatMul batch dims differ (broadcast batches are not run here)", k->node);
    }
    /* Row-major Y = A B is column-major Yᵀ = Bᵀ Aᵀ. */
    cublasStatus_t s = batch == 1
        ? cublasSgemm(cp->blas, CUBLAS_OP_N, CUBLAS_OP_N, (int)n, (int)m, (int)kk, &one, pb, (int)n, pa, (int)kk, &zero, py, (int)n)
        : cublasSgemmStridedBatched(cp->blas, CUBLAS_OP_N, CUBLAS_OP_N, (int)n, (int)m, (int)kk, &one, pb, (int)n, kk * n, pa,
                                    (int)kk, m * kk, &zero, py, (int)n, m * n, (int)batch);
    return blas_done(k, s, err);
}

static int32_t gemm(cu_kernel *k, kiln_kernel_ctx *ctx, kiln_value_desc *y, kiln_error *err) {
    cu_provider *cp = k->cp;
    const kiln_value_desc *a = ctx->inputs[0], *b = ctx->inputs[1], *c = ctx->n_inputs > 2 ? ctx->inputs[2] : NULL;
    int64_t m = k->trans_a ? a->dims[1] : a->dims[0], kk = k->trans_a ? a->dims[0] : a->dims[1];
    int64_t n = k->trans_b ? b->dims[0] : b->dims[1];
    if ((k->trans_b ? b->dims[1] : b->dims[0]) != kk) return cu_fail(err, KILN_ERR_SHAPE, "cuda: node '%s': Gemm inner dims differ", k->node);
    if (m > INT32_MAX || n > INT32_MAX || kk > INT32_MAX) return cu_fail(err, KILN_ERR_UNSUPPORTED, "cuda: node '%s': Gemm dims beyond int", k->node);
    float *py = cu_ptr(cp, y);
    if (!m || !n) return KILN_OK;
    float beta = 0.0f;
    if (c && c->data && k->beta != 0.0f) {
        /* The bias broadcast into Y first (a strided gather), then Y = alpha A B + beta Y. */
        int64_t dims[2] = {m, n}, st[2];
        bcast_strides(c, 2, dims, st);
        int e = cu_launch_transpose(py, cu_ptr(cp, c), 4, 2, dims, st, m * n, cp->stream);
        if (e) return launched(k, e, err);
        beta = k->beta;
    }
    cublasStatus_t s = cublasSgemm(cp->blas, k->trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, k->trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, (int)n,
                                   (int)m, (int)kk, &k->alpha, cu_ptr(cp, b), k->trans_b ? (int)kk : (int)n, cu_ptr(cp, a),
                                   k->trans_a ? (int)m : (int)kk, &beta, py, (int)n);
    return blas_done(k, s, err);
}

static int32_t compute(kiln_kernel *kk, kiln_kernel_ctx *ctx, kiln_error *err) {
    cu_kernel *k = (cu_kernel *)kk;
    cu_provider *cp = k->cp;
    const kiln_host_api *h = ctx->host;
    cudaSetDevice(cp->device);
    kiln_value_desc *y = ctx->outputs[0];
    const kiln_value_desc *x = ctx->inputs[0];
    if (!y) return cu_fail(err, KILN_ERR_UNSUPPORTED, "cuda: node '%s': output shape not known before the call", k->node);
    (void)h;
    int64_t n = count_of(y);
    switch (k->kind) {
    case CU_K_BINARY: {
        int64_t as[CU_MAX_RANK], bs[CU_MAX_RANK];
        if (y->rank > CU_MAX_RANK) return cu_fail(err, KILN_ERR_UNSUPPORTED, "cuda: node '%s': rank %d", k->node, (int)y->rank);
        bcast_strides(ctx->inputs[0], y->rank, y->dims, as);
        bcast_strides(ctx->inputs[1], y->rank, y->dims, bs);
        return launched(k, cu_launch_binary(k->op, cu_ptr(cp, y), cu_ptr(cp, ctx->inputs[0]), cu_ptr(cp, ctx->inputs[1]), n, y->rank,
                                            y->dims, as, bs, cp->stream), err);
    }
    case CU_K_UNARY:
        return launched(k, cu_launch_unary(k->op, cu_ptr(cp, y), cu_ptr(cp, x), n, k->alpha, cp->stream), err);
    case CU_K_SOFTMAX: {
        int64_t cols = x->rank ? x->dims[x->rank - 1] : 1;
        return launched(k, cu_launch_softmax(cu_ptr(cp, y), cu_ptr(cp, x), cols ? n / cols : 0, cols, cp->stream), err);
    }
    case CU_K_LAYERNORM: {
        int64_t cols = x->rank ? x->dims[x->rank - 1] : 1;
        const kiln_value_desc *g = ctx->inputs[1], *b = ctx->n_inputs > 2 ? ctx->inputs[2] : NULL;
        if (count_of(g) != cols || (b && count_of(b) != cols))
            return cu_fail(err, KILN_ERR_UNSUPPORTED, "cuda: node '%s': scale/bias not of the last axis' size", k->node);
        return launched(k, cu_launch_layernorm(cu_ptr(cp, y), cu_ptr(cp, x), cu_ptr(cp, g), b ? cu_ptr(cp, b) : NULL, cols ? n / cols : 0,
                                               cols, k->eps, cp->stream), err);
    }
    case CU_K_MATMUL:
        return matmul(k, ctx->inputs[0], ctx->inputs[1], y, err);
    case CU_K_GEMM:
        return gemm(k, ctx, y, err);
    case CU_K_TRANSPOSE: {
        int64_t in_st[CU_MAX_RANK], st[CU_MAX_RANK], s = 1;
        for (int32_t i = x->rank - 1; i >= 0; i--) in_st[i] = s, s *= x->dims[i];
        for (int32_t d = 0; d < x->rank; d++) st[d] = in_st[k->has_perm ? k->perm[d] : x->rank - 1 - d];
        int elem = x->dtype == KILN_DTYPE_INT64 ? 8 : 4;
        return launched(k, cu_launch_transpose(cu_ptr(cp, y), cu_ptr(cp, x), elem, x->rank, y->dims, st, n, cp->stream), err);
    }
    default:
        return cu_fail(err, KILN_ERR_INTERNAL, "cuda: node '%s': no kernel", k->node);
    }
}

static void kernel_release(kiln_kernel *kk) {
    cu_kernel *k = (cu_kernel *)kk;
    k->cp->host->free(k->cp->host_ctx, k);
}

int32_t cu_create_kernel(kiln_provider *p, const kiln_node_view *n, kiln_kernel **out, kiln_error *err) {
    cu_provider *cp = (cu_provider *)p;
    const kiln_host_api *h = cp->host;
    *out = NULL;
    cu_node_facts f;
    facts_of(h, n, &f);
    cu_kernel_kind kind = cu_claim_decide(&f);
    if (kind == CU_K_NONE) return cu_fail(err, KILN_ERR_UNSUPPORTED, "cuda: node '%s' (%s) is not one the CUDA provider runs", h->node_name(n), f.op);
    cu_kernel *k = h->alloc(cp->host_ctx, sizeof(*k), 16);
    if (!k) return cu_fail(err, KILN_ERR_OUT_OF_MEMORY, "cuda: out of memory creating a kernel");
    memset(k, 0, sizeof(*k));
    k->abi.hdr.struct_size = sizeof(k->abi);
    k->abi.hdr.abi_version = cp->abi.hdr.abi_version;
    k->abi.compute = compute;
    k->abi.release = kernel_release;
    k->cp = cp;
    k->kind = kind;
    snprintf(k->node, sizeof(k->node), "%s", h->node_name(n));
    k->op = op_code(f.op);
    k->alpha = !strcmp(f.op, "LeakyRelu") ? attr_f(h, n, "alpha", 0.01f) : attr_f(h, n, "alpha", 1.0f);
    k->beta = attr_f(h, n, "beta", 1.0f);
    k->eps = attr_f(h, n, "epsilon", 1e-5f);
    k->trans_a = (int)f.trans_a;
    k->trans_b = (int)f.trans_b;
    const kiln_attr_view *perm = h->node_attr(n, "perm");
    if (kind == CU_K_TRANSPOSE && perm) {
        uint32_t c = h->attr_count(perm);
        const int64_t *v = h->attr_ints(perm);
        if (c != (uint32_t)f.rank[0] || c > CU_MAX_RANK) {
            kernel_release(&k->abi);
            return cu_fail(err, KILN_ERR_UNSUPPORTED, "cuda: node '%s': perm of %u entries for rank %d", h->node_name(n), c, (int)f.rank[0]);
        }
        for (uint32_t i = 0; i < c; i++) k->perm[i] = (int32_t)v[i];
        k->has_perm = 1;
    }
    *out = &k->abi;
    return KILN_OK;
}
