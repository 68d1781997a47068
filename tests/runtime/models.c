/* SPDX-License-Identifier: MIT */
/* The runtime suites' test CNN (see models.h). */
#include "models.h"

#include <math.h>

static void weights(float *w, size_t n, float scale, uint32_t seed) {
    for (size_t i = 0; i < n; i++) w[i] = scale * sinf((float)(i * 7 + seed) * 0.37f);
}

mb *rt_cnn_model(int64_t batch) {
    mb *b = mb_new(8, 13);
    KilnOnnx__GraphProto *g = mb_graph(b);
    const char *sym[4] = {batch > 0 ? NULL : "N", NULL, NULL, NULL};
    int64_t xd[4] = {batch, 4, 8, 8};
    KilnOnnx__ValueInfoProto *x = mb_value_info(b, "x", mb_tensor_type(b, KILN_DTYPE_FLOAT, 4, xd, sym));
    g->input = mb_alloc(b, sizeof(*g->input));
    g->input[0] = x;
    g->n_input = 1;
    static float w1[8 * 4 * 9], b1[8], w2[8 * 8 * 9], wg[512 * 10], bg[10];
    weights(w1, 8 * 4 * 9, 0.3f, 1);
    weights(b1, 8, 0.1f, 2);
    weights(w2, 8 * 8 * 9, 0.2f, 3);
    weights(wg, 512 * 10, 0.05f, 4);
    weights(bg, 10, 0.1f, 5);
    const int64_t shape[3] = {-1, 8, 64};
    const float half = 0.5f;
    mb_initializer(b, g, mb_tensor_raw(b, "w1", KILN_DTYPE_FLOAT, 4, (const int64_t[]){8, 4, 3, 3}, w1, sizeof(w1)));
    mb_initializer(b, g, mb_tensor_raw(b, "b1", KILN_DTYPE_FLOAT, 1, (const int64_t[]){8}, b1, sizeof(b1)));
    mb_initializer(b, g, mb_tensor_raw(b, "w2", KILN_DTYPE_FLOAT, 4, (const int64_t[]){8, 8, 3, 3}, w2, sizeof(w2)));
    mb_initializer(b, g, mb_tensor_raw(b, "wg", KILN_DTYPE_FLOAT, 2, (const int64_t[]){512, 10}, wg, sizeof(wg)));
    mb_initializer(b, g, mb_tensor_raw(b, "bg", KILN_DTYPE_FLOAT, 1, (const int64_t[]){10}, bg, sizeof(bg)));
    mb_initializer(b, g, mb_tensor_raw(b, "shape", KILN_DTYPE_INT64, 1, (const int64_t[]){3}, shape, sizeof(shape)));
    mb_initializer(b, g, mb_tensor_raw(b, "half", KILN_DTYPE_FLOAT, 0, NULL, &half, sizeof(half)));
    const int64_t pads[4] = {1, 1, 1, 1};
    KilnOnnx__NodeProto *n = mb_node(b, g, "Conv", "conv1", (const char *[]){"x", "w1", "b1", NULL}, (const char *[]){"c1", NULL});
    mb_attr_ints(b, n, "pads", pads, 4);
    mb_node(b, g, "Relu", "relu", (const char *[]){"c1", NULL}, (const char *[]){"r1", NULL});
    n = mb_node(b, g, "Conv", "conv2", (const char *[]){"r1", "w2", NULL}, (const char *[]){"c2", NULL});
    mb_attr_ints(b, n, "pads", pads, 4);
    mb_node(b, g, "Add", "add", (const char *[]){"c2", "r1", NULL}, (const char *[]){"a1", NULL});
    mb_node(b, g, "Sigmoid", "sigmoid", (const char *[]){"a1", NULL}, (const char *[]){"s1", NULL});
    mb_node(b, g, "Flatten", "flatten", (const char *[]){"s1", NULL}, (const char *[]){"f1", NULL});
    mb_node(b, g, "Gemm", "gemm", (const char *[]){"f1", "wg", "bg", NULL}, (const char *[]){"y", NULL});
    mb_node(b, g, "Reshape", "reshape", (const char *[]){"f1", "shape", NULL}, (const char *[]){"r2", NULL});
    mb_node(b, g, "Mul", "mul", (const char *[]){"r2", "half", NULL}, (const char *[]){"z", NULL});
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, -1, NULL);
    mb_output(b, g, "z", KILN_DTYPE_FLOAT, -1, NULL);
    return b;
}

void rt_fill(float *x, size_t count, uint32_t seed) {
    uint32_t s = seed * 2654435761u + 12345u;
    for (size_t i = 0; i < count; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)((s >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
}

double rt_max_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]) / (1.0 + fabs((double)b[i]));
        if (isnan(d)) return INFINITY;
        if (d > m) m = d;
    }
    return m;
}
