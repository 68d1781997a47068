/* SPDX-License-Identifier: MIT */
/* Bad input never crashes: truncated and garbage files, unsupported IR versions, unknown ops,
 * cycles, dangling references, hostile nesting, overflowing shapes, out-of-range indices at
 * run time, and an allocation failure at every point of loading and running. Each gets a clear
 * status and message; the suite runs under ASan/UBSan in CI. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/model_builder.h"
#include "common/test_alloc.h"
#include "kiln.h"

static kiln_env *env;
static kiln_error err;

static void setup(void) { ck_assert_int_eq(kiln_env_create(&env, &err), KILN_OK); }
static void teardown(void) { kiln_env_destroy(env); }

static kiln_status create_from(mb *b, kiln_session **s) {
    size_t n;
    const uint8_t *p = mb_pack(b, &n);
    *s = NULL;
    return kiln_session_create_from_buffer(env, p, n, NULL, s, &err);
}

/* A small CNN-shaped model: Conv(+bias) → Relu → MaxPool → Flatten → Gemm → Softmax, with
 * weights in raw_data, so that truncation hits every kind of field. */
static mb *small_cnn(void) {
    mb *b = mb_new(8, 17);
    KilnOnnx__GraphProto *g = mb_graph(b);
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 4, (const int64_t[]){1, 2, 6, 6});
    float w[4 * 2 * 3 * 3], bias[4], fw[3 * 36], fb[3];
    for (size_t i = 0; i < sizeof(w) / 4; i++) w[i] = (float)((int)(i % 7) - 3) * 0.1f;
    for (size_t i = 0; i < 4; i++) bias[i] = 0.01f * (float)i;
    for (size_t i = 0; i < sizeof(fw) / 4; i++) fw[i] = (float)((int)(i % 5) - 2) * 0.05f;
    for (size_t i = 0; i < 3; i++) fb[i] = 0.1f;
    mb_initializer(b, g, mb_tensor_raw(b, "w", KILN_DTYPE_FLOAT, 4, (const int64_t[]){4, 2, 3, 3}, w, sizeof(w)));
    mb_initializer(b, g, mb_tensor_raw(b, "b", KILN_DTYPE_FLOAT, 1, (const int64_t[]){4}, bias, sizeof(bias)));
    mb_initializer(b, g, mb_tensor_raw(b, "fw", KILN_DTYPE_FLOAT, 2, (const int64_t[]){36, 3}, fw, sizeof(fw)));
    mb_initializer(b, g, mb_tensor_raw(b, "fb", KILN_DTYPE_FLOAT, 1, (const int64_t[]){3}, fb, sizeof(fb)));
    KilnOnnx__NodeProto *c = mb_node(b, g, "Conv", "conv", (const char *[]){"x", "w", "b", NULL}, (const char *[]){"c", NULL});
    mb_attr_ints(b, c, "pads", (const int64_t[]){1, 1, 1, 1}, 4);
    mb_node(b, g, "Relu", "relu", (const char *[]){"c", NULL}, (const char *[]){"r", NULL});
    KilnOnnx__NodeProto *p = mb_node(b, g, "MaxPool", "pool", (const char *[]){"r", NULL}, (const char *[]){"p", NULL});
    mb_attr_ints(b, p, "kernel_shape", (const int64_t[]){2, 2}, 2);
    mb_attr_ints(b, p, "strides", (const int64_t[]){2, 2}, 2);
    mb_node(b, g, "Flatten", "flat", (const char *[]){"p", NULL}, (const char *[]){"f", NULL});
    mb_node(b, g, "Gemm", "fc", (const char *[]){"f", "fw", "fb", NULL}, (const char *[]){"l", NULL});
    KilnOnnx__NodeProto *sm = mb_node(b, g, "Softmax", "softmax", (const char *[]){"l", NULL}, (const char *[]){"y", NULL});
    mb_attr_int(b, sm, "axis", 1);
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, 2, (const int64_t[]){1, 3});
    return b;
}

START_TEST(truncated_models_never_crash) {
    mb *b = small_cnn();
    size_t n;
    const uint8_t *full = mb_pack(b, &n);
    uint8_t *copy = malloc(n);
    memcpy(copy, full, n);
    int refused = 0;
    for (size_t len = 0; len < n; len++) {
        kiln_session *s = NULL;
        /* Copy into an exact-size heap block so ASan catches any read past the end. */
        uint8_t *buf = malloc(len ? len : 1);
        memcpy(buf, copy, len);
        kiln_status st = kiln_session_create_from_buffer(env, buf, len, NULL, &s, &err);
        free(buf);
        if (st != KILN_OK) {
            refused++;
            ck_assert_msg(err.msg[0] != '\0', "length %zu: error without a message", len);
            ck_assert_ptr_null(s);
        }
        kiln_session_destroy(s);
    }
    /* Most prefixes are not models; a prefix ending on a field boundary may still be one. */
    ck_assert_msg(refused > (int)n * 9 / 10, "only %d of %zu prefixes refused", refused, n);
    kiln_session *s = NULL;
    ck_assert_int_eq(kiln_session_create_from_buffer(env, copy, n, NULL, &s, &err), KILN_OK);
    kiln_session_destroy(s);
    free(copy);
    mb_free(b);
}
END_TEST

START_TEST(garbage_never_crashes) {
    uint64_t state = 12345;
    for (int trial = 0; trial < 2000; trial++) {
        size_t len = (size_t)(trial % 300) + 1;
        uint8_t *buf = malloc(len);
        for (size_t i = 0; i < len; i++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            buf[i] = (uint8_t)(state >> 56);
        }
        kiln_session *s = NULL;
        kiln_status st = kiln_session_create_from_buffer(env, buf, len, NULL, &s, &err);
        ck_assert_int_ne(st, KILN_OK);
        ck_assert(err.msg[0] != '\0');
        free(buf);
    }
    /* A file that is not a model at all, and an empty one. */
    kiln_session *s = NULL;
    const char text[] = "this is not an onnx model\n";
    ck_assert_int_eq(kiln_session_create_from_buffer(env, text, sizeof(text), NULL, &s, &err), KILN_ERR_INVALID_MODEL);
    ck_assert_int_eq(kiln_session_create_from_buffer(env, text, 0, NULL, &s, &err), KILN_ERR_INVALID_MODEL);
    ck_assert_msg(strstr(err.msg, "empty"), "%s", err.msg);
    ck_assert_int_eq(kiln_session_create(env, "/nonexistent/model.onnx", NULL, &s, &err), KILN_ERR_IO);
    ck_assert_msg(strstr(err.msg, "/nonexistent/model.onnx"), "%s", err.msg);
}
END_TEST

START_TEST(deep_nesting_refused) {
    /* ModelProto.graph(7) { node(1) { attribute(5) { g(6) { node(1) { ... } } } } }, 300 deep. */
    const uint8_t seq[3] = {1, 5, 6};  /* field numbers from the outside in, after graph */
    const int levels = 300;
    size_t cap = 8192, len = 0;
    uint8_t *buf = calloc(1, cap);
    for (int l = levels; l >= 0; l--) {
        uint8_t field = l == 0 ? 7 : seq[(l - 1) % 3];
        uint8_t head[12];
        size_t hl = 0, v = len;
        head[hl++] = (uint8_t)((field << 3) | 2);
        do {
            head[hl++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
            v >>= 7;
        } while (v);
        ck_assert(len + hl + 2 < cap);
        memmove(buf + hl, buf, len);
        memcpy(buf, head, hl);
        len += hl;
    }
    /* ir_version = 8 in front */
    memmove(buf + 2, buf, len);
    buf[0] = (1 << 3) | 0;
    buf[1] = 8;
    len += 2;
    kiln_session *s = NULL;
    ck_assert_int_eq(kiln_session_create_from_buffer(env, buf, len, NULL, &s, &err), KILN_ERR_INVALID_MODEL);
    ck_assert_msg(strstr(err.msg, "nests more than"), "%s", err.msg);
    free(buf);
}
END_TEST

START_TEST(unsupported_ir_version) {
    int64_t versions[3] = {99, 2, 0};
    for (int i = 0; i < 3; i++) {
        mb *b = small_cnn();
        mb_model(b)->ir_version = versions[i];
        kiln_session *s;
        ck_assert_int_eq(create_from(b, &s), KILN_ERR_UNSUPPORTED);
        char want[64];
        snprintf(want, sizeof(want), "IR version %lld", (long long)versions[i]);
        ck_assert_msg(strstr(err.msg, want), "%s", err.msg);
        mb_free(b);
    }
}
END_TEST

START_TEST(unknown_op_named) {
    mb *b = mb_new(8, 17);
    KilnOnnx__GraphProto *g = mb_graph(b);
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 1, (const int64_t[]){3});
    mb_node(b, g, "FrobnicateTensor", "frob0", (const char *[]){"x", NULL}, (const char *[]){"y", NULL});
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, 1, (const int64_t[]){3});
    kiln_session *s;
    ck_assert_int_eq(create_from(b, &s), KILN_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(err.msg, "FrobnicateTensor") && strstr(err.msg, "frob0") && strstr(err.msg, "ai.onnx") &&
                      strstr(err.msg, "opset 17"),
                  "%s", err.msg);
    /* An op of a domain the model does not import. */
    g->node[0]->domain = mb_str(b, "com.example");
    ck_assert_int_eq(create_from(b, &s), KILN_ERR_INVALID_MODEL);
    ck_assert_msg(strstr(err.msg, "com.example"), "%s", err.msg);
    mb_free(b);
}
END_TEST

/* Node signatures against the spec: too few or too many inputs or outputs, and an empty name
 * for a required input, are refused at load with the node and op named (before any shape
 * function or kernel could read the missing value). */
static void signature_refused(int64_t opset, const char *op, const char *const *ins, const char *const *outs,
                              const char *what) {
    mb *b = mb_new(8, opset);
    KilnOnnx__GraphProto *g = mb_graph(b);
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 2, (const int64_t[]){2, 3});
    mb_node(b, g, op, "sig0", ins, outs);
    mb_output(b, g, outs[0][0] ? outs[0] : "x", KILN_DTYPE_FLOAT, -1, NULL);
    kiln_session *s;
    ck_assert_int_eq(create_from(b, &s), KILN_ERR_INVALID_MODEL);
    ck_assert_msg(strstr(err.msg, "sig0") && strstr(err.msg, op) && strstr(err.msg, what), "%s", err.msg);
    ck_assert_ptr_null(s);
    mb_free(b);
}

START_TEST(signatures_checked) {
    signature_refused(17, "Add", (const char *[]){"x", NULL}, (const char *[]){"y", NULL}, "at least 2");
    signature_refused(17, "Relu", (const char *[]){"x", "x", NULL}, (const char *[]){"y", NULL}, "at most 1");
    signature_refused(17, "Add", (const char *[]){"x", "", NULL}, (const char *[]){"y", NULL}, "input 1 is required");
    signature_refused(20, "DFT", (const char *[]){"x", "", "", "x", NULL}, (const char *[]){"y", NULL}, "at most 3");
    signature_refused(17, "HammingWindow", (const char *[]){"", NULL}, (const char *[]){"y", NULL}, "input 0 is required");
    signature_refused(17, "Relu", (const char *[]){"x", NULL}, (const char *[]){"y", "z", NULL}, "at most 1");
    signature_refused(17, "Relu", (const char *[]){"x", NULL}, (const char *[]){"", NULL}, "output 0 is required");
    /* Optional inputs may be empty; Clip's min and max are optional from opset 11. */
    mb *b = mb_new(8, 13);
    KilnOnnx__GraphProto *g = mb_graph(b);
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 2, (const int64_t[]){2, 3});
    mb_node(b, g, "Clip", "clip0", (const char *[]){"x", "", "", NULL}, (const char *[]){"y", NULL});
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, 2, (const int64_t[]){2, 3});
    kiln_session *s;
    ck_assert_msg(create_from(b, &s) == KILN_OK, "%s", err.msg);
    kiln_session_destroy(s);
    mb_free(b);
}
END_TEST

START_TEST(cycle_detected) {
    mb *b = mb_new(8, 17);
    KilnOnnx__GraphProto *g = mb_graph(b);
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 1, (const int64_t[]){3});
    mb_node(b, g, "Add", "a", (const char *[]){"x", "d", NULL}, (const char *[]){"c", NULL});
    mb_node(b, g, "Relu", "b", (const char *[]){"c", NULL}, (const char *[]){"d", NULL});
    mb_node(b, g, "Relu", "out", (const char *[]){"d", NULL}, (const char *[]){"y", NULL});
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, 1, (const int64_t[]){3});
    kiln_session *s;
    ck_assert_int_eq(create_from(b, &s), KILN_ERR_INVALID_MODEL);
    ck_assert_msg(strstr(err.msg, "cycle"), "%s", err.msg);
    /* A node reading its own output. */
    mb *b2 = mb_new(8, 17);
    g = mb_graph(b2);
    mb_node(b2, g, "Relu", "self", (const char *[]){"z", NULL}, (const char *[]){"z", NULL});
    mb_output(b2, g, "z", KILN_DTYPE_FLOAT, 1, (const int64_t[]){3});
    ck_assert_int_eq(create_from(b2, &s), KILN_ERR_INVALID_MODEL);
    ck_assert_msg(strstr(err.msg, "cycle") && strstr(err.msg, "self"), "%s", err.msg);
    mb_free(b);
    mb_free(b2);
}
END_TEST

START_TEST(dangling_and_duplicate_names) {
    mb *b = mb_new(8, 17);
    KilnOnnx__GraphProto *g = mb_graph(b);
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 1, (const int64_t[]){3});
    mb_node(b, g, "Add", "adder", (const char *[]){"x", "ghost", NULL}, (const char *[]){"y", NULL});
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, 1, (const int64_t[]){3});
    kiln_session *s;
    ck_assert_int_eq(create_from(b, &s), KILN_ERR_INVALID_MODEL);
    ck_assert_msg(strstr(err.msg, "ghost") && strstr(err.msg, "adder"), "%s", err.msg);
    mb_free(b);

    b = mb_new(8, 17);
    g = mb_graph(b);
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 1, (const int64_t[]){3});
    mb_node(b, g, "Relu", "r1", (const char *[]){"x", NULL}, (const char *[]){"y", NULL});
    mb_node(b, g, "Relu", "r2", (const char *[]){"x", NULL}, (const char *[]){"y", NULL});
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, 1, (const int64_t[]){3});
    ck_assert_int_eq(create_from(b, &s), KILN_ERR_INVALID_MODEL);
    ck_assert_msg(strstr(err.msg, "'y'") && strstr(err.msg, "r2"), "%s", err.msg);
    mb_free(b);
}
END_TEST

START_TEST(overflowing_shapes) {
    /* An initializer whose element count overflows. */
    mb *b = mb_new(8, 17);
    KilnOnnx__TensorProto *t = mb_tensor(b, "huge", KILN_DTYPE_FLOAT, 3, (const int64_t[]){1LL << 31, 1LL << 31, 1LL << 31});
    mb_initializer(b, mb_graph(b), t);
    mb_node(b, mb_graph(b), "Identity", "id", (const char *[]){"huge", NULL}, (const char *[]){"y", NULL});
    mb_output(b, mb_graph(b), "y", KILN_DTYPE_FLOAT, -1, NULL);
    kiln_session *s;
    ck_assert_int_eq(create_from(b, &s), KILN_ERR_INVALID_MODEL);
    ck_assert_msg(strstr(err.msg, "overflow") && strstr(err.msg, "huge"), "%s", err.msg);
    mb_free(b);

    /* A Reshape to a shape whose element count overflows. */
    b = mb_new(8, 17);
    KilnOnnx__GraphProto *g = mb_graph(b);
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 1, (const int64_t[]){4});
    const int64_t shape[3] = {1LL << 40, 1LL << 40, 16};
    mb_initializer(b, g, mb_tensor_raw(b, "shape", KILN_DTYPE_INT64, 1, (const int64_t[]){3}, shape, sizeof(shape)));
    mb_node(b, g, "Reshape", "reshape", (const char *[]){"x", "shape", NULL}, (const char *[]){"y", NULL});
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, -1, NULL);
    ck_assert_int_eq(create_from(b, &s), KILN_ERR_INVALID_MODEL);
    ck_assert_msg(strstr(err.msg, "reshape") && strstr(err.msg, "Reshape") && strstr(err.msg, "overflow"), "%s", err.msg);
    mb_free(b);

    /* Tensors refuse overflowing shapes too. */
    kiln_tensor *x = NULL;
    ck_assert_int_eq(kiln_tensor_create(env, KILN_DTYPE_FLOAT, (const int64_t[]){1LL << 62, 8}, 2, &x, &err),
                     KILN_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(x);
    ck_assert_int_eq(kiln_tensor_create(env, KILN_DTYPE_FLOAT, (const int64_t[]){-3}, 1, &x, &err), KILN_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(gather_index_out_of_range) {
    mb *b = mb_new(8, 17);
    KilnOnnx__GraphProto *g = mb_graph(b);
    const float data[5] = {10, 11, 12, 13, 14};
    mb_initializer(b, g, mb_tensor_raw(b, "data", KILN_DTYPE_FLOAT, 1, (const int64_t[]){5}, data, sizeof(data)));
    mb_input(b, g, "idx", KILN_DTYPE_INT64, 1, (const int64_t[]){3});
    mb_node(b, g, "Gather", "lookup", (const char *[]){"data", "idx", NULL}, (const char *[]){"y", NULL});
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, 1, (const int64_t[]){3});
    kiln_session *s;
    ck_assert_int_eq(create_from(b, &s), KILN_OK);
    int64_t idx[3] = {0, -1, 7};
    kiln_tensor *in, *out = NULL;
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_INT64, (const int64_t[]){3}, 1, idx, sizeof(idx), &in, &err), KILN_OK);
    ck_assert_int_eq(kiln_session_run(s, NULL, (const kiln_tensor *const *)&in, 1, NULL, &out, 1, &err), KILN_ERR_SHAPE);
    ck_assert_msg(strstr(err.msg, "lookup") && strstr(err.msg, "Gather") && strstr(err.msg, "7") &&
                      strstr(err.msg, "out of range"),
                  "%s", err.msg);
    ck_assert_ptr_null(out);
    idx[2] = -5; /* in range: counts from the end */
    ck_assert_int_eq(kiln_session_run(s, NULL, (const kiln_tensor *const *)&in, 1, NULL, &out, 1, &err), KILN_OK);
    ck_assert_float_eq(((float *)kiln_tensor_data(out))[1], 14.0f);
    ck_assert_float_eq(((float *)kiln_tensor_data(out))[2], 10.0f);
    kiln_tensor_destroy(out);
    kiln_tensor_destroy(in);
    kiln_session_destroy(s);
    mb_free(b);
}
END_TEST

START_TEST(integer_division_by_zero) {
    mb *b = mb_new(8, 17);
    KilnOnnx__GraphProto *g = mb_graph(b);
    mb_input(b, g, "a", KILN_DTYPE_INT32, 1, (const int64_t[]){2});
    mb_input(b, g, "d", KILN_DTYPE_INT32, 1, (const int64_t[]){2});
    mb_node(b, g, "Div", "divide", (const char *[]){"a", "d", NULL}, (const char *[]){"y", NULL});
    mb_output(b, g, "y", KILN_DTYPE_INT32, 1, (const int64_t[]){2});
    kiln_session *s;
    ck_assert_int_eq(create_from(b, &s), KILN_OK);
    int32_t av[2] = {INT32_MIN, 7}, dv[2] = {-1, 0};
    kiln_tensor *in[2], *out = NULL;
    kiln_tensor_wrap(env, KILN_DTYPE_INT32, (const int64_t[]){2}, 1, av, sizeof(av), &in[0], &err);
    kiln_tensor_wrap(env, KILN_DTYPE_INT32, (const int64_t[]){2}, 1, dv, sizeof(dv), &in[1], &err);
    ck_assert_int_eq(kiln_session_run(s, NULL, (const kiln_tensor *const *)in, 2, NULL, &out, 1, &err), KILN_ERR_SHAPE);
    ck_assert_msg(strstr(err.msg, "divide") && strstr(err.msg, "division by zero"), "%s", err.msg);
    dv[1] = 2;
    ck_assert_int_eq(kiln_session_run(s, NULL, (const kiln_tensor *const *)in, 2, NULL, &out, 1, &err), KILN_OK);
    ck_assert_int_eq(((int32_t *)kiln_tensor_data(out))[0], INT32_MIN); /* wraps, no trap */
    ck_assert_int_eq(((int32_t *)kiln_tensor_data(out))[1], 3);
    kiln_tensor_destroy(out);
    kiln_tensor_destroy(in[0]);
    kiln_tensor_destroy(in[1]);
    kiln_session_destroy(s);
    mb_free(b);
}
END_TEST

/* Fails allocation number 1, 2, 3, ... of creating a session and running it, until the whole
 * sequence succeeds; every failure must be clean and leak nothing. */
START_TEST(out_of_memory_everywhere) {
    mb *b = small_cnn();
    size_t n;
    const uint8_t *p = mb_pack(b, &n);
    int succeeded = 0;
    long fail_at;
    for (fail_at = 1; fail_at < 100000 && !succeeded; fail_at++) {
        test_alloc ta;
        test_alloc_init(&ta);
        kiln_env *e = NULL;
        kiln_error er = {0};
        atomic_store(&ta.fail_at, fail_at);
        kiln_status st = kiln_env_create_with_allocator(&ta.a, &e, &er);
        kiln_session *s = NULL;
        kiln_tensor *x = NULL, *y = NULL;
        if (st == KILN_OK) st = kiln_session_create_from_buffer(e, p, n, NULL, &s, &er);
        if (st == KILN_OK) st = kiln_tensor_create(e, KILN_DTYPE_FLOAT, (const int64_t[]){1, 2, 6, 6}, 4, &x, &er);
        if (st == KILN_OK) st = kiln_session_run(s, NULL, (const kiln_tensor *const *)&x, 1, NULL, &y, 1, &er);
        if (st == KILN_OK) succeeded = 1;
        else ck_assert_msg(st == KILN_ERR_OUT_OF_MEMORY, "fail_at %ld: status %d (%s)", fail_at, st, er.msg);
        kiln_tensor_destroy(y);
        kiln_tensor_destroy(x);
        kiln_session_destroy(s);
        kiln_env_destroy(e);
        ck_assert_msg(test_alloc_live(&ta) == 0, "fail_at %ld: %ld blocks leaked", fail_at, test_alloc_live(&ta));
    }
    ck_assert_msg(succeeded, "never succeeded");
    ck_assert_msg(fail_at > 20, "suspiciously few allocations (%ld)", fail_at);
    mb_free(b);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("api.bad_input");
    TCase *tc = tcase_create("bad_input");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, truncated_models_never_crash);
    tcase_add_test(tc, garbage_never_crashes);
    tcase_add_test(tc, deep_nesting_refused);
    tcase_add_test(tc, unsupported_ir_version);
    tcase_add_test(tc, unknown_op_named);
    tcase_add_test(tc, cycle_detected);
    tcase_add_test(tc, dangling_and_duplicate_names);
    tcase_add_test(tc, overflowing_shapes);
    tcase_add_test(tc, gather_index_out_of_range);
    tcase_add_test(tc, integer_division_by_zero);
    tcase_add_test(tc, out_of_memory_everywhere);
    tcase_add_test(tc, signatures_checked);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
