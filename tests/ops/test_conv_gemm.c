/* SPDX-License-Identifier: MIT */
/* Edge cases of the convolution, GEMM, quantized, detection and attention ops that the ONNX
 * backend tests do not reach: the int16 GEMM variants against a plain product (odd k, ragged
 * tiles, k blocking), exact int32 sums where 8-bit pair arithmetic would saturate, quantization
 * rounding and saturation, NonMaxSuppression ties, zero-sized inputs, and hostile attributes or
 * data refused with a clear status and message. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/model_builder.h"
#include "kernels/gemm/igemm.h"
#include "kiln.h"

static kiln_env *env;
static kiln_error err;

static void setup(void) { ck_assert_int_eq(kiln_env_create(&env, &err), KILN_OK); }
static void teardown(void) { kiln_env_destroy(env); }

/* One input: dtype, shape and data. */
typedef struct arg {
    int32_t dtype;
    int32_t rank;
    int64_t dims[4];
    const void *data;
    size_t bytes;
} arg;

/* A model with one node `op` reading x0..x(n-1) into y0..y(n_out-1); inputs are declared
 * without shapes so that bad shapes reach the kernels at run time. */
static mb *one_node(int64_t opset, const char *op, int n, const arg *in, int n_out, KilnOnnx__NodeProto **node) {
    mb *b = mb_new(8, opset);
    KilnOnnx__GraphProto *g = mb_graph(b);
    const char *names[10] = {0}, *outs[5] = {0};
    static const char *const xs[] = {"x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8"};
    static const char *const ys[] = {"y0", "y1", "y2", "y3"};
    for (int i = 0; i < n; i++) {
        names[i] = in[i].data ? xs[i] : "";
        if (in[i].data) mb_input(b, g, xs[i], in[i].dtype, -1, NULL);
    }
    for (int i = 0; i < n_out; i++) {
        outs[i] = ys[i];
        mb_output(b, g, ys[i], 0, -1, NULL);
    }
    *node = mb_node(b, g, op, "node", names, outs);
    return b;
}

/* Creates and runs the model on `in` (omitted inputs have no data); out[0..n_out) are the
 * results. Frees the builder. */
static kiln_status run(mb *b, int n, const arg *in, int n_out, kiln_tensor **out) {
    size_t size;
    const uint8_t *p = mb_pack(b, &size);
    kiln_session *s = NULL;
    for (int i = 0; i < n_out; i++) out[i] = NULL;
    kiln_status st = kiln_session_create_from_buffer(env, p, size, NULL, &s, &err);
    mb_free(b);
    if (st != KILN_OK) return st;
    kiln_tensor *t[10] = {0};
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (!in[i].data) continue;
        ck_assert_int_eq(kiln_tensor_wrap(env, in[i].dtype, in[i].dims, in[i].rank, (void *)in[i].data, in[i].bytes, &t[k], &err),
                         KILN_OK);
        k++;
    }
    st = kiln_session_run(s, NULL, (const kiln_tensor *const *)t, (size_t)k, NULL, out, (size_t)n_out, &err);
    for (int i = 0; i < k; i++) kiln_tensor_destroy(t[i]);
    kiln_session_destroy(s);
    return st;
}

#define F32(out, i) (((const float *)kiln_tensor_data_const(out))[i])
#define I32(out, i) (((const int32_t *)kiln_tensor_data_const(out))[i])
#define I64(out, i) (((const int64_t *)kiln_tensor_data_const(out))[i])
#define U8(out, i) (((const uint8_t *)kiln_tensor_data_const(out))[i])

START_TEST(int16_gemm_variants_agree) {
    /* Sizes around the tile edges (4 rows, 16 columns), odd k, and k past one block (512). */
    static const size_t ms[] = {1, 3, 4, 5, 9}, ns[] = {1, 15, 16, 17, 40}, ks[] = {0, 1, 2, 7, 64, 513, 1031};
    unsigned seed = 1;
    for (size_t a = 0; a < 5; a++)
        for (size_t b = 0; b < 5; b++)
            for (size_t c = 0; c < 7; c++) {
                size_t m = ms[a], n = ns[b], k = ks[c];
                int16_t *A = malloc(m * k * 2 + 2), *B = malloc(k * n * 2 + 2), *P = malloc(kiln_s16_gemm_packed_size(k, n) * 2 + 2);
                int32_t *C = malloc(m * n * 4), *D = malloc(m * n * 4);
                ck_assert(A && B && P && C && D);
                for (size_t i = 0; i < m * k; i++) A[i] = (int16_t)((int)((seed = seed * 1103515245u + 12345u) >> 16) % 511 - 255);
                for (size_t i = 0; i < k * n; i++) B[i] = (int16_t)((int)((seed = seed * 1103515245u + 12345u) >> 16) % 511 - 255);
                kiln_s16_gemm_pack_b(k, n, B, n, P);
                for (int v = 0; v < 3; v++) {
                    memset(C, 0x5a, m * n * 4);
                    if (v == 0) kiln_s16_gemm__scalar(m, n, k, A, k, P, C, n);
                    else if (v == 1) kiln_s16_gemm(m, n, k, A, k, P, C, n);
#if defined(__x86_64__) && defined(__GNUC__)
                    else if (__builtin_cpu_supports("avx2")) kiln_s16_gemm__avx2(m, n, k, A, k, P, C, n);
#endif
                    else continue;
                    for (size_t i = 0; i < m; i++)
                        for (size_t j = 0; j < n; j++) {
                            int64_t want = 0;
                            for (size_t p = 0; p < k; p++) want += (int64_t)A[i * k + p] * B[p * n + j];
                            ck_assert_msg(C[i * n + j] == (int32_t)want, "variant %d m=%zu n=%zu k=%zu (%zu,%zu): %d != %lld", v, m, n,
                                          k, i, j, C[i * n + j], (long long)want);
                        }
                }
                (void)D;
                free(A), free(B), free(P), free(C), free(D);
            }
}
END_TEST

START_TEST(matmul_integer_sums_are_exact) {
    /* u8 255 x s8 127 pairs: a pairwise 16-bit multiply-add would saturate at 32767. */
    uint8_t a[4] = {255, 255, 255, 255};
    int8_t w[4] = {127, 127, 127, 127};
    arg in[2] = {{KILN_DTYPE_UINT8, 2, {1, 4}, a, 4}, {KILN_DTYPE_INT8, 2, {4, 1}, w, 4}};
    KilnOnnx__NodeProto *n;
    kiln_tensor *out;
    ck_assert_int_eq(run(one_node(10, "MatMulInteger", 2, in, 1, &n), 2, in, 1, &out), KILN_OK);
    ck_assert_int_eq(I32(out, 0), 4 * 255 * 127);
    kiln_tensor_destroy(out);
    /* A per-column zero point of the wrong length is a run error, not a read past its end. */
    int8_t zb[3] = {1, 2, 3};
    arg in2[4] = {in[0], in[1], {0}, {KILN_DTYPE_INT8, 1, {3}, zb, 3}};
    ck_assert_int_eq(run(one_node(10, "MatMulInteger", 4, in2, 1, &n), 4, in2, 1, &out), KILN_ERR_SHAPE);
    ck_assert_msg(strstr(err.msg, "zero point"), "%s", err.msg);
}
END_TEST

START_TEST(quantize_rounds_half_to_even_and_saturates) {
    float x[8] = {0.5f, 1.5f, 2.5f, -0.5f, 300.0f, -10.0f, NAN, 127.5f};
    float s = 1.0f;
    uint8_t z = 0;
    arg in[3] = {{KILN_DTYPE_FLOAT, 1, {8}, x, sizeof(x)}, {KILN_DTYPE_FLOAT, 0, {0}, &s, 4}, {KILN_DTYPE_UINT8, 0, {0}, &z, 1}};
    KilnOnnx__NodeProto *n;
    kiln_tensor *out;
    ck_assert_int_eq(run(one_node(13, "QuantizeLinear", 3, in, 1, &n), 3, in, 1, &out), KILN_OK);
    static const uint8_t want[8] = {0, 2, 2, 0, 255, 0, 0, 128};
    for (int i = 0; i < 8; i++) ck_assert_msg(U8(out, i) == want[i], "element %d: %u", i, U8(out, i));
    kiln_tensor_destroy(out);
    /* A per-axis scale whose length is not the axis' is refused at run time. */
    float s3[3] = {1, 2, 3};
    arg bad[2] = {{KILN_DTYPE_FLOAT, 2, {2, 4}, x, sizeof(x)}, {KILN_DTYPE_FLOAT, 1, {3}, s3, sizeof(s3)}};
    ck_assert_int_eq(run(one_node(13, "QuantizeLinear", 2, bad, 1, &n), 2, bad, 1, &out), KILN_ERR_SHAPE);
    ck_assert_msg(strstr(err.msg, "scale"), "%s", err.msg);
}
END_TEST

START_TEST(conv_hostile_attributes) {
    float x[16] = {0}, w[9] = {0};
    arg in[2] = {{KILN_DTYPE_FLOAT, 4, {1, 1, 4, 4}, x, sizeof(x)}, {KILN_DTYPE_FLOAT, 4, {1, 1, 3, 3}, w, sizeof(w)}};
    KilnOnnx__NodeProto *n;
    kiln_tensor *out;
    mb *b = one_node(13, "Conv", 2, in, 1, &n);
    mb_attr_int(b, n, "group", (int64_t)1 << 62);
    ck_assert_int_ne(run(b, 2, in, 1, &out), KILN_OK);
    ck_assert_msg(strstr(err.msg, "group"), "%s", err.msg);
    b = one_node(13, "Conv", 2, in, 1, &n);
    mb_attr_ints(b, n, "pads", (int64_t[]){-1, 0, 0, 0}, 4);
    ck_assert_int_ne(run(b, 2, in, 1, &out), KILN_OK);
    ck_assert_msg(strstr(err.msg, "pad"), "%s", err.msg);
    b = one_node(13, "Conv", 2, in, 1, &n);
    mb_attr_ints(b, n, "kernel_shape", (int64_t[]){2, 2}, 2);
    ck_assert_int_ne(run(b, 2, in, 1, &out), KILN_OK);
    ck_assert_msg(strstr(err.msg, "kernel_shape"), "%s", err.msg);
    b = one_node(13, "Conv", 2, in, 1, &n);
    mb_attr_ints(b, n, "dilations", (int64_t[]){(int64_t)1 << 40, 1}, 2);
    ck_assert_int_ne(run(b, 2, in, 1, &out), KILN_OK);
    /* Weights whose channels do not match the input are a run error. */
    float w2[18] = {0};
    arg in2[2] = {in[0], {KILN_DTYPE_FLOAT, 4, {1, 2, 3, 3}, w2, sizeof(w2)}};
    ck_assert_int_ne(run(one_node(13, "Conv", 2, in2, 1, &n), 2, in2, 1, &out), KILN_OK);
    ck_assert_msg(strstr(err.msg, "channels"), "%s", err.msg);
}
END_TEST

START_TEST(zero_sized_inputs) {
    float w[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1}, x[1] = {0};
    arg in[2] = {{KILN_DTYPE_FLOAT, 4, {0, 1, 4, 4}, x, 0}, {KILN_DTYPE_FLOAT, 4, {1, 1, 3, 3}, w, sizeof(w)}};
    KilnOnnx__NodeProto *n;
    kiln_tensor *out;
    ck_assert_int_eq(run(one_node(13, "Conv", 2, in, 1, &n), 2, in, 1, &out), KILN_OK);
    ck_assert_int_eq(kiln_tensor_dims(out)[0], 0);
    kiln_tensor_destroy(out);
    mb *b = one_node(12, "MaxPool", 1, in, 1, &n);
    mb_attr_ints(b, n, "kernel_shape", (int64_t[]){2, 2}, 2);
    ck_assert_int_eq(run(b, 1, in, 1, &out), KILN_OK);
    kiln_tensor_destroy(out);
    arg mm[2] = {{KILN_DTYPE_FLOAT, 2, {3, 0}, x, 0}, {KILN_DTYPE_FLOAT, 2, {0, 2}, x, 0}};
    ck_assert_int_eq(run(one_node(13, "MatMul", 2, mm, 1, &n), 2, mm, 1, &out), KILN_OK);
    ck_assert_int_eq(kiln_tensor_element_count(out), 6);
    for (int i = 0; i < 6; i++) ck_assert(F32(out, i) == 0.0f);
    kiln_tensor_destroy(out);
}
END_TEST

START_TEST(nms_ties_and_threshold) {
    /* Three identical boxes with equal scores: the lowest index wins; an IoU exactly at the
     * threshold is kept. */
    float boxes[16] = {0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0.5f, 1, 1.5f};
    float scores[4] = {0.9f, 0.9f, 0.9f, 0.8f};
    int64_t maxo = 10;
    float iou = 1.0f / 3.0f, sthr = 0.0f;
    arg in[5] = {{KILN_DTYPE_FLOAT, 3, {1, 4, 4}, boxes, sizeof(boxes)}, {KILN_DTYPE_FLOAT, 3, {1, 1, 4}, scores, sizeof(scores)},
                 {KILN_DTYPE_INT64, 1, {1}, &maxo, 8}, {KILN_DTYPE_FLOAT, 1, {1}, &iou, 4}, {KILN_DTYPE_FLOAT, 1, {1}, &sthr, 4}};
    KilnOnnx__NodeProto *n;
    kiln_tensor *out;
    ck_assert_int_eq(run(one_node(11, "NonMaxSuppression", 5, in, 1, &n), 5, in, 1, &out), KILN_OK);
    ck_assert_int_eq(kiln_tensor_dims(out)[0], 2);
    ck_assert(I64(out, 2) == 0 && I64(out, 5) == 3);
    kiln_tensor_destroy(out);
}
END_TEST

START_TEST(indices_and_lengths_checked) {
    KilnOnnx__NodeProto *n;
    kiln_tensor *out[3];
    /* MaxUnpool: an index past the unpooled tensor. */
    float x[4] = {1, 2, 3, 4};
    int64_t idx[4] = {0, 1, 2, 99};
    arg un[2] = {{KILN_DTYPE_FLOAT, 4, {1, 1, 2, 2}, x, sizeof(x)}, {KILN_DTYPE_INT64, 4, {1, 1, 2, 2}, idx, sizeof(idx)}};
    mb *b = one_node(11, "MaxUnpool", 2, un, 1, &n);
    mb_attr_ints(b, n, "kernel_shape", (int64_t[]){2, 2}, 2);
    mb_attr_ints(b, n, "strides", (int64_t[]){2, 2}, 2);
    ck_assert_int_eq(run(b, 2, un, 1, out), KILN_ERR_SHAPE);
    ck_assert_msg(strstr(err.msg, "99"), "%s", err.msg);
    /* RoiAlign: a batch index past the batch. */
    float img[16] = {0}, roi[4] = {0, 0, 2, 2};
    int64_t bi = 3;
    arg ra[3] = {{KILN_DTYPE_FLOAT, 4, {1, 1, 4, 4}, img, sizeof(img)}, {KILN_DTYPE_FLOAT, 2, {1, 4}, roi, sizeof(roi)},
                 {KILN_DTYPE_INT64, 1, {1}, &bi, 8}};
    ck_assert_int_eq(run(one_node(16, "RoiAlign", 3, ra, 1, &n), 3, ra, 1, out), KILN_ERR_SHAPE);
    ck_assert_msg(strstr(err.msg, "batch index"), "%s", err.msg);
    /* LSTM: a sequence length longer than the sequence. */
    float X[6] = {0}, W[8] = {0}, R[16] = {0};
    int32_t lens[1] = {5};
    arg ls[5] = {{KILN_DTYPE_FLOAT, 3, {3, 1, 2}, X, sizeof(X)}, {KILN_DTYPE_FLOAT, 3, {1, 8, 1}, W, sizeof(W)},
                 {KILN_DTYPE_FLOAT, 3, {1, 8, 2}, R, sizeof(R)}, {0}, {KILN_DTYPE_INT32, 1, {1}, lens, 4}};
    ls[1].dims[2] = 2; /* W [1, 4H, input] with H = 2, input 2 */
    float W2[16] = {0};
    ls[1].data = W2, ls[1].bytes = sizeof(W2);
    b = one_node(14, "LSTM", 5, ls, 2, &n);
    mb_attr_int(b, n, "hidden_size", 2);
    ck_assert_int_eq(run(b, 5, ls, 2, out), KILN_ERR_SHAPE);
    ck_assert_msg(strstr(err.msg, "sequence_lens"), "%s", err.msg);
}
END_TEST

START_TEST(attention_masks) {
    /* Q [1, 1, 1, 2] against two keys: a mask allowing nothing gives a zero row; a mask longer
     * than the keys is refused. */
    float q[2] = {1, 0}, k[4] = {1, 0, 0, 1}, v[4] = {1, 2, 3, 4};
    uint8_t none[2] = {0, 0}, three[3] = {1, 1, 1};
    arg in[4] = {{KILN_DTYPE_FLOAT, 4, {1, 1, 1, 2}, q, sizeof(q)}, {KILN_DTYPE_FLOAT, 4, {1, 1, 2, 2}, k, sizeof(k)},
                 {KILN_DTYPE_FLOAT, 4, {1, 1, 2, 2}, v, sizeof(v)}, {KILN_DTYPE_BOOL, 2, {1, 2}, none, 2}};
    KilnOnnx__NodeProto *n;
    kiln_tensor *out;
    ck_assert_int_eq(run(one_node(23, "Attention", 4, in, 1, &n), 4, in, 1, &out), KILN_OK);
    ck_assert(F32(out, 0) == 0.0f && F32(out, 1) == 0.0f);
    kiln_tensor_destroy(out);
    in[3].dims[1] = 3, in[3].data = three, in[3].bytes = 3;
    ck_assert_int_eq(run(one_node(23, "Attention", 4, in, 1, &n), 4, in, 1, &out), KILN_ERR_SHAPE);
    ck_assert_msg(strstr(err.msg, "attn_mask"), "%s", err.msg);
}
END_TEST

int main(void) {
    Suite *s = suite_create("ops-conv-gemm");
    TCase *tc = tcase_create("conv-gemm");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, int16_gemm_variants_agree);
    tcase_add_test(tc, matmul_integer_sums_are_exact);
    tcase_add_test(tc, quantize_rounds_half_to_even_and_saturates);
    tcase_add_test(tc, conv_hostile_attributes);
    tcase_add_test(tc, zero_sized_inputs);
    tcase_add_test(tc, nms_ties_and_threshold);
    tcase_add_test(tc, indices_and_lengths_checked);
    tcase_add_test(tc, attention_masks);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
