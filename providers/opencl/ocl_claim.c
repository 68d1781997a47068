/* SPDX-License-Identifier: MIT */
/* What the OpenCL provider runs: the op table, claims, kernel creation, and the fused groups of a
 * producer (Conv, Gemm, MatMul, binary arithmetic, BatchNormalization) with the one activation
 * that reads its result. */
#include <stdio.h>
#include <string.h>

#include "ocl_kernel.h"

typedef struct ocl_op {
    const char *op;
    ocl_make_fn make;
    int fusable; /* a producer an activation may be fused into */
} ocl_op;

static const ocl_op ops[] = {
    {"Relu", ocl_make_unary, 0}, {"LeakyRelu", ocl_make_unary, 0}, {"Clip", ocl_make_unary, 0},
    {"Sigmoid", ocl_make_unary, 0}, {"Tanh", ocl_make_unary, 0}, {"HardSigmoid", ocl_make_unary, 0},
    {"HardSwish", ocl_make_unary, 0}, {"Elu", ocl_make_unary, 0}, {"Selu", ocl_make_unary, 0},
    {"Softplus", ocl_make_unary, 0}, {"Softsign", ocl_make_unary, 0}, {"Exp", ocl_make_unary, 0},
    {"Log", ocl_make_unary, 0}, {"Abs", ocl_make_unary, 0}, {"Neg", ocl_make_unary, 0}, {"Sqrt", ocl_make_unary, 0},
    {"Reciprocal", ocl_make_unary, 0}, {"Floor", ocl_make_unary, 0}, {"Ceil", ocl_make_unary, 0},
    {"Erf", ocl_make_unary, 0}, {"Sin", ocl_make_unary, 0}, {"Cos", ocl_make_unary, 0}, {"Gelu", ocl_make_unary, 0},
    {"Round", ocl_make_unary, 0}, {"Sign", ocl_make_unary, 0}, {"Mish", ocl_make_unary, 0}, {"Celu", ocl_make_unary, 0},
    {"ThresholdedRelu", ocl_make_unary, 0}, {"Tan", ocl_make_unary, 0}, {"Asin", ocl_make_unary, 0},
    {"Acos", ocl_make_unary, 0}, {"Atan", ocl_make_unary, 0}, {"Sinh", ocl_make_unary, 0}, {"Cosh", ocl_make_unary, 0},
    {"Asinh", ocl_make_unary, 0}, {"Acosh", ocl_make_unary, 0}, {"Atanh", ocl_make_unary, 0},
    {"Identity", ocl_make_unary, 0}, {"Dropout", ocl_make_unary, 0},
    {"Add", ocl_make_binary, 1}, {"Sub", ocl_make_binary, 1}, {"Mul", ocl_make_binary, 1}, {"Div", ocl_make_binary, 1},
    {"Pow", ocl_make_binary, 0}, {"Max", ocl_make_binary, 0}, {"Min", ocl_make_binary, 0}, {"PRelu", ocl_make_binary, 0},
    {"Sum", ocl_make_binary, 0},
    {"BatchNormalization", ocl_make_batchnorm, 1},
    {"Gemm", ocl_make_gemm, 1}, {"MatMul", ocl_make_matmul, 1}, {"Conv", ocl_make_conv, 1},
    {"MaxPool", ocl_make_pool, 0}, {"AveragePool", ocl_make_pool, 0}, {"GlobalAveragePool", ocl_make_pool, 0},
    {"GlobalMaxPool", ocl_make_pool, 0},
    {"Softmax", ocl_make_softmax, 0}, {"LogSoftmax", ocl_make_softmax, 0}, {"LayerNormalization", ocl_make_layernorm, 0},
    {"ReduceSum", ocl_make_reduce, 0}, {"ReduceMean", ocl_make_reduce, 0}, {"ReduceMax", ocl_make_reduce, 0},
    {"ReduceMin", ocl_make_reduce, 0}, {"ReduceProd", ocl_make_reduce, 0}, {"ReduceL1", ocl_make_reduce, 0},
    {"ReduceL2", ocl_make_reduce, 0}, {"ReduceLogSum", ocl_make_reduce, 0}, {"ReduceLogSumExp", ocl_make_reduce, 0},
    {"ReduceSumSquare", ocl_make_reduce, 0},
    {"Transpose", ocl_make_transpose, 0}, {"Concat", ocl_make_concat, 0}, {"Split", ocl_make_split, 0},
    {"Slice", ocl_make_slice, 0}, {"Gather", ocl_make_gather, 0}, {"Resize", ocl_make_resize, 0},
    {"Expand", ocl_make_expand, 0},
    {"Reshape", ocl_make_reshape, 0}, {"Flatten", ocl_make_reshape, 0}, {"Squeeze", ocl_make_reshape, 0},
    {"Unsqueeze", ocl_make_reshape, 0},
};

static const ocl_op *find_op(const kiln_host_api *h, const kiln_node_view *n) {
    if (h->node_domain(n)[0]) return NULL;
    const char *op = h->node_op_type(n);
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        if (!strcmp(op, ops[i].op)) return &ops[i];
    return NULL;
}

/* The data type every claimed op works in: float32, or float16 where the device has cl_khr_fp16. */
static int dtype_ok(ocl_provider *pv, int32_t dt) {
    return dt == KILN_DTYPE_FLOAT || (dt == KILN_DTYPE_FLOAT16 && pv->fp16);
}

static int claimable(ocl_provider *pv, const kiln_node_view *n, const ocl_op **opp) {
    const kiln_host_api *h = pv->host;
    const ocl_op *op = find_op(h, n);
    *opp = op;
    if (!op || (h->node_flags(n) & (KILN_NODE_F_SHAPE_ONLY | KILN_NODE_F_CLAIMED | KILN_NODE_F_SUBGRAPH))) return 0;
    kiln_value_info vi, vo;
    memset(&vo, 0, sizeof(vo));
    vo.hdr.struct_size = sizeof(vo);
    if (ocl_input_info(h, n, 0, &vi) != KILN_OK || h->node_output_info(n, 0, &vo) != KILN_OK) return 0;
    if (vi.kind != KILN_VALUE_TENSOR || vo.kind != KILN_VALUE_TENSOR) return 0;
    if (!dtype_ok(pv, vi.dtype) || vo.dtype != vi.dtype) {
        char msg[300];
        snprintf(msg, sizeof(msg), "node '%s' (%s): %s is not supported on OpenCL (float32%s only); left to the next provider",
                 h->node_name(n), op->op, ocl_dtype_name(vi.dtype), pv->fp16 ? ", float16" : "");
        h->log(KILN_LOG_INFO, "opencl", msg);
        return 0;
    }
    return 1;
}

int32_t ocl_claim_node(kiln_provider *p, const kiln_node_view *n, int32_t *claim, kiln_error *err) {
    const ocl_op *op;
    (void)err;
    *claim = claimable((ocl_provider *)p, n, &op) ? KILN_CLAIM_KERNEL : KILN_CLAIM_NO;
    return KILN_OK;
}

static int32_t make_kernel(ocl_provider *pv, const kiln_node_view *n, const ocl_op *op, ocl_kern **out, kiln_error *err) {
    ocl_kern *k;
    *out = NULL;
    int32_t st = ocl_kern_new(pv, n, &k, err);
    if (st != KILN_OK) return st;
    st = op->make(k, pv->host, n, err);
    /* Every data input in the kernel's type (Pow with an integer exponent is left to the CPU). */
    for (uint32_t i = 0; st == KILN_OK && i < k->n_data_in && i < pv->host->node_input_count(n); i++) {
        kiln_value_info vi;
        if (ocl_input_info(pv->host, n, i, &vi) == KILN_OK && vi.present && vi.dtype != k->dtype)
            st = ocl_fail(err, KILN_ERR_UNSUPPORTED, "%s on OpenCL: input %u is %s, not %s", k->op, i, ocl_dtype_name(vi.dtype),
                          ocl_dtype_name(k->dtype));
    }
    /* The program is built here, at session creation, so a build failure names the node's op then. */
    if (st == KILN_OK) {
        cl_program prog;
        st = ocl_program(pv, k->type, k->op, &prog, err);
    }
    if (st != KILN_OK) {
        ocl_kern_release(&k->abi);
        return st;
    }
    *out = k;
    return KILN_OK;
}

int32_t ocl_create_kernel(kiln_provider *p, const kiln_node_view *n, kiln_kernel **out, kiln_error *err) {
    ocl_provider *pv = (ocl_provider *)p;
    const ocl_op *op;
    *out = NULL;
    if (!claimable(pv, n, &op)) return ocl_fail(err, KILN_ERR_UNSUPPORTED, "the OpenCL provider does not run this node");
    ocl_kern *k;
    int32_t st = make_kernel(pv, n, op, &k, err);
    if (st == KILN_OK) *out = &k->abi;
    return st;
}

/* ---- fused groups: producer + activation ---- */

static int is_graph_output(const kiln_host_api *h, const kiln_graph_view *g, const char *name) {
    for (uint32_t i = 0; i < h->graph_output_count(g); i++) {
        kiln_value_info vi;
        memset(&vi, 0, sizeof(vi));
        vi.hdr.struct_size = sizeof(vi);
        if (h->graph_output_info(g, i, &vi) == KILN_OK && vi.name && !strcmp(vi.name, name)) return 1;
    }
    return 0;
}

int32_t ocl_claim_groups(kiln_provider *p, const kiln_graph_view *g, kiln_claim_sink *sink, kiln_error *err) {
    ocl_provider *pv = (ocl_provider *)p;
    const kiln_host_api *h = pv->host;
    uint32_t n = h->graph_node_count(g);
    /* For each node, its only reader of output 0 (UINT32_MAX: none yet, UINT32_MAX - 1: several). */
    uint32_t *reader = h->alloc(pv->host_ctx, (n + 1) * sizeof(uint32_t), 16);
    if (!reader) return ocl_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory proposing OpenCL groups");
    for (uint32_t i = 0; i < n; i++) reader[i] = UINT32_MAX;
    for (uint32_t i = 0; i < n; i++) {
        const kiln_node_view *nv = h->graph_node_at(g, i);
        for (uint32_t j = 0; j < h->node_input_count(nv); j++) {
            uint32_t slot = 0;
            const kiln_node_view *pn = h->node_producer(nv, j, &slot);
            if (!pn || slot != 0) continue;
            uint32_t a = h->node_index(pn);
            if (a < n) reader[a] = reader[a] == UINT32_MAX || reader[a] == i ? i : UINT32_MAX - 1;
        }
    }
    int32_t st = KILN_OK;
    for (uint32_t i = 0; i < n && st == KILN_OK; i++) {
        if (reader[i] >= n) continue;
        const kiln_node_view *prod = h->graph_node_at(g, i), *act = h->graph_node_at(g, reader[i]);
        const ocl_op *po, *ao;
        int code;
        float a, b;
        if (!claimable(pv, prod, &po) || !po->fusable || !claimable(pv, act, &ao)) continue;
        if (!ocl_activation_of(h, act, &code, &a, &b) || code == ACT_NONE) continue;
        kiln_value_info vo;
        memset(&vo, 0, sizeof(vo));
        vo.hdr.struct_size = sizeof(vo);
        if (h->node_output_info(prod, 0, &vo) != KILN_OK || !vo.name || is_graph_output(h, g, vo.name)) continue;
        const kiln_node_view *pair[2] = {prod, act};
        st = h->claim_group(sink, pair, 2, 0, err);
    }
    h->free(pv->host_ctx, reader);
    return st;
}

/* A group kernel receives the group's inputs; the producer's kernel reads its own input order. */
typedef struct ocl_group_map {
    uint32_t n;
    int32_t from[16]; /* producer input i is group input from[i]; -1: omitted */
} ocl_group_map;

int32_t ocl_compile_group(kiln_provider *p, const kiln_graph_view *g, kiln_kernel **out, kiln_error *err) {
    ocl_provider *pv = (ocl_provider *)p;
    const kiln_host_api *h = pv->host;
    *out = NULL;
    if (h->graph_node_count(g) != 2 || h->graph_output_count(g) != 1)
        return ocl_fail(err, KILN_ERR_UNSUPPORTED, "the OpenCL provider fuses a producer and one activation only");
    const kiln_node_view *prod = h->graph_node_at(g, 0), *act = h->graph_node_at(g, 1);
    const ocl_op *po, *ao;
    int code;
    float a, b;
    if (!claimable(pv, prod, &po) || !po->fusable || !claimable(pv, act, &ao) || !ocl_activation_of(h, act, &code, &a, &b))
        return ocl_fail(err, KILN_ERR_UNSUPPORTED, "not a producer and an activation");
    uint32_t np = h->node_input_count(prod), ng = h->graph_input_count(g);
    if (np > 16) return ocl_fail(err, KILN_ERR_UNSUPPORTED, "too many inputs");
    ocl_group_map map;
    map.n = np;
    for (uint32_t i = 0; i < np; i++) {
        kiln_value_info vi;
        map.from[i] = -1;
        if (ocl_input_info(h, prod, i, &vi) != KILN_OK || !vi.present || !vi.name) continue;
        for (uint32_t j = 0; j < ng; j++) {
            kiln_value_info gi;
            memset(&gi, 0, sizeof(gi));
            gi.hdr.struct_size = sizeof(gi);
            if (h->graph_input_info(g, j, &gi) == KILN_OK && gi.name && !strcmp(gi.name, vi.name)) {
                map.from[i] = (int32_t)j;
                break;
            }
        }
        if (map.from[i] < 0) return ocl_fail(err, KILN_ERR_UNSUPPORTED, "group input '%s' not found", vi.name);
    }
    ocl_kern *k;
    int32_t st = make_kernel(pv, prod, po, &k, err);
    if (st != KILN_OK) return st;
    k->act = code;
    k->act_a = a;
    k->act_b = b;
    char name[sizeof(k->op)];
    snprintf(name, sizeof(name), "%s+%s", h->node_op_type(prod), h->node_op_type(act));
    memcpy(k->op, name, sizeof(name));
    k->n_map = map.n;
    memcpy(k->map, map.from, sizeof(map.from));
    *out = &k->abi;
    return KILN_OK;
}
