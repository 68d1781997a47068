/* SPDX-License-Identifier: MIT */
/* Options of the CUDA provider and the claim decision, as pure C over plain facts (no CUDA, no
 * host API): unit-tested on machines without a GPU (tests/providers/cuda). */
#ifndef KILN_CUDA_OPTIONS_H
#define KILN_CUDA_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

typedef struct cu_options {
    int tf32;                /* tf32=1: cuBLAS may use TF32 tensor cores for float GEMM (opt-in) */
    int graphs;              /* graphs=1: capture a replayable run and replay it (run hooks) */
    int fp16;                /* precision=fp16 (not implemented in this build: refused) */
    uint64_t mem_limit;      /* mem_limit=BYTES: most bytes the caching allocator holds (0: device memory) */
} cu_options;

/* Parses key=value options; unknown keys are reported in `warn` (one line, may be empty) and
 * ignored. Returns 0, or -1 with a message in `msg` for a bad value or an unsupported setting. */
int cu_options_parse(const char *const *keys, const char *const *values, uint32_t n, cu_options *o, char *warn,
                     size_t warn_size, char *msg, size_t msg_size);

/* What the provider knows of a node when it decides a claim. */
typedef struct cu_node_facts {
    const char *op;          /* op_type */
    const char *domain;      /* "" for ONNX */
    int64_t opset;
    uint32_t n_in, n_out;
    int32_t dtype[4];        /* kiln_dtype of inputs 0..3 (0 when absent) */
    int32_t rank[4];         /* rank of inputs 0..3 (-1 unknown) */
    int32_t out_rank;        /* rank of output 0 (-1 unknown) */
    int64_t axis;            /* Softmax / LayerNormalization axis attribute (normalised when rank known) */
    int64_t trans_a, trans_b;/* Gemm */
    int has_other_attrs;     /* an attribute the kernel does not implement has a non-default value */
} cu_node_facts;

/* Kernels the provider has. */
typedef enum cu_kernel_kind {
    CU_K_NONE = 0,
    CU_K_BINARY,             /* Add Sub Mul Div Pow Max Min with broadcasting */
    CU_K_UNARY,              /* Relu Sigmoid Tanh Exp Log Sqrt Neg Abs Erf Gelu LeakyRelu */
    CU_K_SOFTMAX,            /* Softmax over the last axis (opset >= 13) */
    CU_K_LAYERNORM,          /* LayerNormalization over the last axis */
    CU_K_MATMUL,             /* MatMul: cuBLAS (batched when rank > 2) */
    CU_K_GEMM,               /* Gemm: cuBLAS, bias as the GEMM's C operand */
    CU_K_TRANSPOSE
} cu_kernel_kind;

/* The kernel that runs the node, or CU_K_NONE (the node falls to the next provider). */
cu_kernel_kind cu_claim_decide(const cu_node_facts *f);

#endif
