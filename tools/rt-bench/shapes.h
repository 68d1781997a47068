/* SPDX-License-Identifier: MIT */
/* Shapes of a model's compute nodes (Conv, ConvTranspose, QLinearConv, MatMul, Gemm,
 * MatMulInteger), read through graph/ with the model's own shape inference after symbolic input
 * dims are bound from --dim. */
#ifndef KILN_RT_BENCH_SHAPES_H
#define KILN_RT_BENCH_SHAPES_H

#include "bench.h"

typedef enum rb_shape_kind { RB_SHAPE_CONV = 0, RB_SHAPE_GEMM } rb_shape_kind;

typedef struct rb_shape {
    rb_shape_kind kind;
    char op[24];              /* the ONNX op */
    char node[48];            /* the first node with this shape */
    int count;                /* nodes with this shape */
    rb_conv_shape conv;       /* RB_SHAPE_CONV, 2-D f32 Conv with symmetric pads (nd.nsp == 0) */
    rb_convnd_shape nd;       /* RB_SHAPE_CONV otherwise: 1-D/3-D, asymmetric pads, ConvTranspose,
                                 QLinearConv (nd.nsp > 0; benchmarked by rb_bench_convnd_shape) */
    int64_t m, n, k, batch;   /* RB_SHAPE_GEMM: batch x (m x k) . (k x n) */
    int64_t batch_a, batch_b; /* MatMul with a batched B: A's and B's batch (one may be 1) */
    int trans_a, trans_b;
    const char *dtype;        /* "f32", "u8s8", "s8s8" */
    char skip[80];            /* why it cannot be benchmarked ("" when it can) */
} rb_shape;

/* Extracts the shapes of `path` into *out (malloc'ed, *n entries, duplicates merged).
 * Returns RB_OK, RB_LOAD (with the message on stderr) or RB_RUN. */
int rb_extract_shapes(const char *path, const rb_args *a, rb_shape **out, size_t *n);

#endif
