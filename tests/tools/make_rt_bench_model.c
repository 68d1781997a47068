/* SPDX-License-Identifier: MIT */
/* Writes the model test_rt_bench.sh extracts shapes from: one independent node per shape kind
 * `rt-bench shapes` benchmarks beyond 2-D Conv and plain GEMMs (1-D and 3-D Conv, 2-D Conv with
 * asymmetric pads, ConvTranspose 1-D/2-D with output_padding, QLinearConv u8s8, Gemm with
 * transA, MatMul with a batched B, also broadcast from a 2-D A), plus a SAME_UPPER ConvTranspose.
 * Weights are initializers; every graph input has static dims.
 *   make_rt_bench_model OUT.onnx */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln.h"
#include "tests/common/model_builder.h"

static mb *B;

static void weight(const char *name, int32_t dtype, int rank, const int64_t *dims) {
    size_t n = 1, esz = dtype == KILN_DTYPE_FLOAT ? 4 : 1;
    for (int i = 0; i < rank; i++) n *= (size_t)dims[i];
    unsigned char *v = calloc(n ? n : 1, esz);
    if (!v) exit(1);
    for (size_t i = 0; i < n * esz; i++) v[i] = (unsigned char)(i * 37u + 11u); /* any bits: not run */
    if (esz == 4)
        for (size_t i = 0; i < n; i++) ((float *)v)[i] = (float)(i % 7 + 1) * 0.125f;
    mb_initializer(B, mb_graph(B), mb_tensor_raw(B, name, dtype, rank, dims, v, n * esz));
    free(v);
}

static KilnOnnx__NodeProto *node(const char *op, const char *name, const char *const *ins, const char *out) {
    const char *outs[] = {out, NULL};
    return mb_node(B, mb_graph(B), op, name, ins, outs);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: make_rt_bench_model OUT.onnx\n");
        return 2;
    }
    const int32_t F = KILN_DTYPE_FLOAT, U8 = KILN_DTYPE_UINT8,
                  S8 = KILN_DTYPE_INT8;
    B = mb_new(8, 17);
    KilnOnnx__GraphProto *g = mb_graph(B);
    KilnOnnx__NodeProto *n;

    /* Conv 1-D: x 1x4x19, w 6x4x3, stride 2, pads 1,0. */
    int64_t x1[] = {1, 4, 19}, w1[] = {6, 4, 3}, s1[] = {2}, p1[] = {1, 0};
    mb_input(B, g, "x1", F, 3, x1);
    weight("w1", F, 3, w1);
    n = node("Conv", "conv1d", (const char *[]){"x1", "w1", NULL}, "y1");
    mb_attr_ints(B, n, "strides", s1, 1);
    mb_attr_ints(B, n, "pads", p1, 2);
    mb_output(B, g, "y1", F, -1, NULL);

    /* Conv 3-D: x 1x3x5x6x7, w 4x3x3x3x3, pads 1 everywhere, dilation 1. */
    int64_t x3[] = {1, 3, 5, 6, 7}, w3[] = {4, 3, 3, 3, 3}, p3[] = {1, 1, 1, 1, 1, 1};
    mb_input(B, g, "x3", F, 5, x3);
    weight("w3", F, 5, w3);
    n = node("Conv", "conv3d", (const char *[]){"x3", "w3", NULL}, "y3");
    mb_attr_ints(B, n, "pads", p3, 6);
    mb_output(B, g, "y3", F, -1, NULL);

    /* Conv 2-D with asymmetric pads (0,1,1,0), group 2. */
    int64_t xa[] = {1, 4, 8, 9}, wa[] = {6, 2, 3, 3}, pa[] = {0, 1, 1, 0};
    mb_input(B, g, "xa", F, 4, xa);
    weight("wa", F, 4, wa);
    n = node("Conv", "conv_asym", (const char *[]){"xa", "wa", NULL}, "ya");
    mb_attr_ints(B, n, "pads", pa, 4);
    mb_attr_int(B, n, "group", 2);
    mb_output(B, g, "ya", F, -1, NULL);

    /* ConvTranspose 2-D: x 1x4x5x6, w 4x3x3x3 (M = 3), stride 2, pads 1,1,1,1, output_padding 1,0. */
    int64_t xt[] = {1, 4, 5, 6}, wt[] = {4, 3, 3, 3}, st[] = {2, 2}, pt[] = {1, 1, 1, 1}, op[] = {1, 0};
    mb_input(B, g, "xt", F, 4, xt);
    weight("wt", F, 4, wt);
    n = node("ConvTranspose", "convt2d", (const char *[]){"xt", "wt", NULL}, "yt");
    mb_attr_ints(B, n, "strides", st, 2);
    mb_attr_ints(B, n, "pads", pt, 4);
    mb_attr_ints(B, n, "output_padding", op, 2);
    mb_output(B, g, "yt", F, -1, NULL);

    /* ConvTranspose 1-D, group 2: x 1x4x7, w 4x1x4 (M = 2), stride 3. */
    int64_t xu[] = {1, 4, 7}, wu[] = {4, 1, 4}, su[] = {3};
    mb_input(B, g, "xu", F, 3, xu);
    weight("wu", F, 3, wu);
    n = node("ConvTranspose", "convt1d", (const char *[]){"xu", "wu", NULL}, "yu");
    mb_attr_ints(B, n, "strides", su, 1);
    mb_attr_int(B, n, "group", 2);
    mb_output(B, g, "yu", F, -1, NULL);

    /* ConvTranspose 2-D with auto_pad SAME_UPPER, stride 2: output 2x the input. */
    int64_t xs[] = {1, 2, 4, 5}, ws[] = {2, 2, 3, 3};
    mb_input(B, g, "xs", F, 4, xs);
    weight("ws", F, 4, ws);
    n = node("ConvTranspose", "convt_same", (const char *[]){"xs", "ws", NULL}, "ys");
    mb_attr_ints(B, n, "strides", st, 2);
    mb_attr_string(B, n, "auto_pad", "SAME_UPPER");
    mb_output(B, g, "ys", F, -1, NULL);

    /* QLinearConv u8 x, s8 w: x 1x3x7x8, w 5x3x3x3, pads 1. */
    int64_t xq[] = {1, 3, 7, 8}, wq[] = {5, 3, 3, 3}, pq[] = {1, 1, 1, 1};
    mb_input(B, g, "xq", U8, 4, xq);
    weight("wq", S8, 4, wq);
    weight("q_xs", F, 0, NULL);
    weight("q_xz", U8, 0, NULL);
    weight("q_ws", F, 0, NULL);
    weight("q_wz", S8, 0, NULL);
    weight("q_ys", F, 0, NULL);
    weight("q_yz", U8, 0, NULL);
    n = node("QLinearConv", "qconv", (const char *[]){"xq", "q_xs", "q_xz", "wq", "q_ws", "q_wz", "q_ys", "q_yz", NULL},
             "yq");
    mb_attr_ints(B, n, "pads", pq, 4);
    mb_output(B, g, "yq", U8, -1, NULL);

    /* Gemm transA: A 9x5 (K x M), B 9x7. */
    int64_t ga[] = {9, 5}, gb[] = {9, 7};
    mb_input(B, g, "ga", F, 2, ga);
    weight("gb", F, 2, gb);
    n = node("Gemm", "gemm_ta", (const char *[]){"ga", "gb", NULL}, "gy");
    mb_attr_int(B, n, "transA", 1);
    mb_output(B, g, "gy", F, -1, NULL);

    /* MatMul with a batched B: A 2x3x5x6, B 2x3x6x4 (attention-like); and a 2-D A broadcast
     * against B 4x6x3. */
    int64_t ma[] = {2, 3, 5, 6}, mbd[] = {2, 3, 6, 4}, na[] = {5, 6}, nb[] = {4, 6, 3};
    mb_input(B, g, "ma", F, 4, ma);
    mb_input(B, g, "mb", F, 4, mbd);
    node("MatMul", "bmm", (const char *[]){"ma", "mb", NULL}, "my");
    mb_output(B, g, "my", F, -1, NULL);
    mb_input(B, g, "na", F, 2, na);
    mb_input(B, g, "nb", F, 3, nb);
    node("MatMul", "bmm_bcast", (const char *[]){"na", "nb", NULL}, "ny");
    mb_output(B, g, "ny", F, -1, NULL);

    int rc = mb_save(B, argv[1]);
    mb_free(B);
    if (rc) fprintf(stderr, "make_rt_bench_model: cannot write %s\n", argv[1]);
    return rc ? 1 : 0;
}
