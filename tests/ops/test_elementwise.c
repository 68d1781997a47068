/* SPDX-License-Identifier: MIT */
/* Edge cases of the elementwise ops that the ONNX backend tests do not reach: the opset < 7 broadcast form,
 * Cast's strings, float8 saturation and integer wrapping, integer corner cases (INT_MIN,
 * modulo signs, shift widths), variadic broadcasting, Pow's mixed types, bad attributes or
 * data refused with a clear status and message, and the accuracy of the float32 math in
 * kernels/common/vmath.h and the branch-free float16 conversions. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/model_builder.h"
#include "kernels/common/half.h"
#include "kernels/common/minifloat.h"
#include "kernels/common/vmath.h"
#include "kiln.h"

static kiln_env *env;
static kiln_error err;

static void setup(void) { ck_assert_int_eq(kiln_env_create(&env, &err), KILN_OK); }
static void teardown(void) { kiln_env_destroy(env); }

/* One input: dtype, shape, and numeric data or (STRING) a list of strings. */
typedef struct arg {
    int32_t dtype;
    int32_t rank;
    int64_t dims[4];
    const void *data;
    size_t bytes;
    const char *const *strs;
} arg;

#define ARG(DT, T, ...)                                                                              \
    (arg) {                                                                                          \
        DT, 1, {sizeof((T[]){__VA_ARGS__}) / sizeof(T)}, (T[]){__VA_ARGS__}, sizeof((T[]){__VA_ARGS__}), NULL \
    }

/* A model with one node `op` reading x0..x(n-1) (declared with their shapes) into y. */
static mb *one_node(int64_t opset, const char *op, int n, const arg *in, int32_t out_dtype, KilnOnnx__NodeProto **node) {
    mb *b = mb_new(8, opset);
    KilnOnnx__GraphProto *g = mb_graph(b);
    const char *names[8] = {0};
    static const char *const xs[] = {"x0", "x1", "x2", "x3", "x4", "x5", "x6"};
    for (int i = 0; i < n; i++) {
        names[i] = xs[i];
        mb_input(b, g, xs[i], in[i].dtype, in[i].rank, in[i].dims);
    }
    *node = mb_node(b, g, op, "node", names, (const char *[]){"y", NULL});
    mb_output(b, g, "y", out_dtype, -1, NULL);
    return b;
}

static kiln_status create(mb *b, kiln_session **s) {
    size_t size;
    const uint8_t *p = mb_pack(b, &size);
    *s = NULL;
    return kiln_session_create_from_buffer(env, p, size, NULL, s, &err);
}

/* Runs the model on `in`; *out is the result (NULL on failure). Frees the builder. */
static kiln_status run(mb *b, int n, const arg *in, kiln_tensor **out) {
    kiln_session *s;
    *out = NULL;
    kiln_status st = create(b, &s);
    mb_free(b);
    if (st != KILN_OK) return st;
    kiln_tensor *t[8] = {0};
    for (int i = 0; i < n; i++) {
        if (in[i].dtype == KILN_DTYPE_STRING) {
            ck_assert_int_eq(kiln_tensor_create(env, KILN_DTYPE_STRING, in[i].dims, in[i].rank, &t[i], &err), KILN_OK);
            for (int64_t j = 0; j < in[i].dims[0]; j++)
                ck_assert_int_eq(kiln_tensor_set_string(t[i], (size_t)j, in[i].strs[j], strlen(in[i].strs[j]), &err), KILN_OK);
        } else {
            ck_assert_int_eq(kiln_tensor_wrap(env, in[i].dtype, in[i].dims, in[i].rank, (void *)in[i].data, in[i].bytes,
                                              &t[i], &err),
                             KILN_OK);
        }
    }
    st = kiln_session_run(s, NULL, (const kiln_tensor *const *)t, (size_t)n, NULL, out, 1, &err);
    for (int i = 0; i < n; i++) kiln_tensor_destroy(t[i]);
    kiln_session_destroy(s);
    return st;
}

#define F32(out, i) (((const float *)kiln_tensor_data_const(out))[i])
#define I32(out, i) (((const int32_t *)kiln_tensor_data_const(out))[i])
#define I64(out, i) (((const int64_t *)kiln_tensor_data_const(out))[i])
#define U8(out, i) (((const uint8_t *)kiln_tensor_data_const(out))[i])
#define I8(out, i) (((const int8_t *)kiln_tensor_data_const(out))[i])

START_TEST(legacy_broadcast_axis) {
    /* Add-6 with broadcast=1, axis=0: B [2] lines up with A's first dim. */
    arg in[2] = {{KILN_DTYPE_FLOAT, 2, {2, 3}, (float[]){1, 2, 3, 4, 5, 6}, 24, NULL}, ARG(KILN_DTYPE_FLOAT, float, 10, 20)};
    KilnOnnx__NodeProto *n;
    mb *b = one_node(6, "Add", 2, in, KILN_DTYPE_FLOAT, &n);
    mb_attr_int(b, n, "broadcast", 1);
    mb_attr_int(b, n, "axis", 0);
    kiln_tensor *out;
    ck_assert_int_eq(run(b, 2, in, &out), KILN_OK);
    ck_assert_int_eq(kiln_tensor_rank(out), 2);
    ck_assert_float_eq(F32(out, 0), 11);
    ck_assert_float_eq(F32(out, 2), 13);
    ck_assert_float_eq(F32(out, 3), 24);
    ck_assert_float_eq(F32(out, 5), 26);
    kiln_tensor_destroy(out);
    /* An axis where B does not fit is refused when the session is created. */
    b = one_node(6, "Add", 2, in, KILN_DTYPE_FLOAT, &n);
    mb_attr_int(b, n, "broadcast", 1);
    mb_attr_int(b, n, "axis", 2);
    ck_assert_int_eq(run(b, 2, in, &out), KILN_ERR_INVALID_MODEL);
    ck_assert_msg(strstr(err.msg, "axis"), "%s", err.msg);
}
END_TEST

START_TEST(legacy_prelu_channel_slope) {
    /* PRelu-6: a slope of C values applies along axis 1. */
    arg in[2] = {{KILN_DTYPE_FLOAT, 3, {1, 2, 2}, (float[]){-1, 2, -3, -4}, 16, NULL}, ARG(KILN_DTYPE_FLOAT, float, 0.5f, 0.25f)};
    KilnOnnx__NodeProto *n;
    kiln_tensor *out;
    ck_assert_int_eq(run(one_node(6, "PRelu", 2, in, KILN_DTYPE_FLOAT, &n), 2, in, &out), KILN_OK);
    ck_assert_float_eq(F32(out, 0), -0.5f);
    ck_assert_float_eq(F32(out, 1), 2);
    ck_assert_float_eq(F32(out, 2), -0.75f);
    ck_assert_float_eq(F32(out, 3), -1);
    kiln_tensor_destroy(out);
    /* From opset 7 the slope broadcasts like numpy: [2] against [1, 2, 2] is the last dim. */
    ck_assert_int_eq(run(one_node(16, "PRelu", 2, in, KILN_DTYPE_FLOAT, &n), 2, in, &out), KILN_OK);
    ck_assert_float_eq(F32(out, 2), -1.5f);
    kiln_tensor_destroy(out);
}
END_TEST

START_TEST(cast_to_and_from_strings) {
    arg x = ARG(KILN_DTYPE_FLOAT, float, 0.1f, 1e-5f, 3.0f, -0.0f, NAN, -INFINITY, 1e6f, 123.25f);
    KilnOnnx__NodeProto *n;
    mb *b = one_node(13, "Cast", 1, &x, KILN_DTYPE_STRING, &n);
    mb_attr_int(b, n, "to", KILN_DTYPE_STRING);
    kiln_tensor *out;
    ck_assert_int_eq(run(b, 1, &x, &out), KILN_OK);
    static const char *const want[] = {"0.1", "1e-05", "3.0", "-0.0", "nan", "-inf", "1e+06", "123.25"};
    for (size_t i = 0; i < 8; i++) ck_assert_str_eq(kiln_tensor_string(out, i), want[i]);
    kiln_tensor_destroy(out);

    static const char *const txt[] = {"3.14", "1E8", "+INF", "-inf", "NaN", " 2.5 "};
    arg s = {KILN_DTYPE_STRING, 1, {6}, NULL, 0, txt};
    b = one_node(13, "Cast", 1, &s, KILN_DTYPE_DOUBLE, &n);
    mb_attr_int(b, n, "to", KILN_DTYPE_DOUBLE);
    ck_assert_int_eq(run(b, 1, &s, &out), KILN_OK);
    const double *d = kiln_tensor_data_const(out);
    ck_assert(d[0] == 3.14 && d[1] == 1e8 && d[2] == INFINITY && d[3] == -INFINITY && isnan(d[4]) && d[5] == 2.5);
    kiln_tensor_destroy(out);

    static const char *const ints[] = {"100", "-7", "100.5", "true"};
    arg si = {KILN_DTYPE_STRING, 1, {3}, NULL, 0, ints};
    b = one_node(13, "Cast", 1, &si, KILN_DTYPE_INT32, &n);
    mb_attr_int(b, n, "to", KILN_DTYPE_INT32);
    ck_assert_int_eq(run(b, 1, &si, &out), KILN_OK);
    ck_assert(I32(out, 0) == 100 && I32(out, 1) == -7 && I32(out, 2) == 100);
    kiln_tensor_destroy(out);

    /* Text that is no number is a run error naming the element, not garbage. */
    static const char *const bad[] = {"1", "Hello"};
    arg sb = {KILN_DTYPE_STRING, 1, {2}, NULL, 0, bad};
    b = one_node(13, "Cast", 1, &sb, KILN_DTYPE_FLOAT, &n);
    mb_attr_int(b, n, "to", KILN_DTYPE_FLOAT);
    ck_assert_int_eq(run(b, 1, &sb, &out), KILN_ERR_SHAPE);
    ck_assert_msg(strstr(err.msg, "Cast") && strstr(err.msg, "element 1") && strstr(err.msg, "Hello"), "%s", err.msg);
    ck_assert_ptr_null(out);

    /* Cast-1 names the target type with a string. */
    arg xi = ARG(KILN_DTYPE_INT64, int64_t, 7, -2);
    b = one_node(1, "Cast", 1, &xi, KILN_DTYPE_FLOAT, &n);
    mb_attr_string(b, n, "to", "FLOAT");
    ck_assert_int_eq(run(b, 1, &xi, &out), KILN_OK);
    ck_assert(kiln_tensor_dtype(out) == KILN_DTYPE_FLOAT && F32(out, 0) == 7 && F32(out, 1) == -2);
    kiln_tensor_destroy(out);
}
END_TEST

START_TEST(cast_numeric_rules) {
    KilnOnnx__NodeProto *n;
    kiln_tensor *out;
    /* Fixed point out of range keeps the low bits; float → int truncates, NaN gives 0. */
    arg a = ARG(KILN_DTYPE_INT16, int16_t, 200, -129, 256);
    mb *b = one_node(13, "Cast", 1, &a, KILN_DTYPE_INT8, &n);
    mb_attr_int(b, n, "to", KILN_DTYPE_INT8);
    ck_assert_int_eq(run(b, 1, &a, &out), KILN_OK);
    ck_assert(I8(out, 0) == -56 && I8(out, 1) == 127 && I8(out, 2) == 0);
    kiln_tensor_destroy(out);
    arg f = ARG(KILN_DTYPE_FLOAT, float, 300.7f, -1.9f, NAN, 1e20f);
    b = one_node(13, "Cast", 1, &f, KILN_DTYPE_INT64, &n);
    mb_attr_int(b, n, "to", KILN_DTYPE_INT64);
    ck_assert_int_eq(run(b, 1, &f, &out), KILN_OK);
    ck_assert(I64(out, 0) == 300 && I64(out, 1) == -1 && I64(out, 2) == 0 && I64(out, 3) == INT64_MAX);
    kiln_tensor_destroy(out);
    /* float8: saturation by default, NaN / inf without it; -0 keeps its sign where it exists. */
    arg big = ARG(KILN_DTYPE_FLOAT, float, 1000.0f, -1000.0f, -0.0f, 0.3f);
    b = one_node(19, "Cast", 1, &big, KILN_DTYPE_FLOAT8E4M3FN, &n);
    mb_attr_int(b, n, "to", KILN_DTYPE_FLOAT8E4M3FN);
    ck_assert_int_eq(run(b, 1, &big, &out), KILN_OK);
    ck_assert(U8(out, 0) == 0x7e && U8(out, 1) == 0xfe && U8(out, 2) == 0x80 && U8(out, 3) == 0x2a);
    kiln_tensor_destroy(out);
    b = one_node(19, "Cast", 1, &big, KILN_DTYPE_FLOAT8E5M2, &n);
    mb_attr_int(b, n, "to", KILN_DTYPE_FLOAT8E5M2);
    mb_attr_int(b, n, "saturate", 0);
    arg huge = ARG(KILN_DTYPE_FLOAT, float, 1e6f, -1e6f, -0.0f, 0.3f);
    ck_assert_int_eq(run(b, 1, &huge, &out), KILN_OK);
    ck_assert(U8(out, 0) == 0x7c && U8(out, 1) == 0xfc && U8(out, 2) == 0x80);
    kiln_tensor_destroy(out);
    /* Packed int4: the odd element count leaves the high nibble of the last byte zero. */
    arg q = ARG(KILN_DTYPE_FLOAT, float, 1, -1, 9);
    b = one_node(21, "Cast", 1, &q, KILN_DTYPE_INT4, &n);
    mb_attr_int(b, n, "to", KILN_DTYPE_INT4);
    ck_assert_int_eq(run(b, 1, &q, &out), KILN_OK);
    ck_assert(kiln_tensor_byte_size(out) == 2 && U8(out, 0) == 0xf1 && U8(out, 1) == 0x09);
    kiln_tensor_destroy(out);
    /* BitCast keeps the bits; widths must agree. */
    arg bf = ARG(KILN_DTYPE_FLOAT, float, 1.0f);
    b = one_node(26, "BitCast", 1, &bf, KILN_DTYPE_INT32, &n);
    mb_attr_int(b, n, "to", KILN_DTYPE_INT32);
    ck_assert_int_eq(run(b, 1, &bf, &out), KILN_OK);
    ck_assert_int_eq(I32(out, 0), 0x3f800000);
    kiln_tensor_destroy(out);
    b = one_node(26, "BitCast", 1, &bf, KILN_DTYPE_INT16, &n);
    mb_attr_int(b, n, "to", KILN_DTYPE_INT16);
    ck_assert_int_eq(run(b, 1, &bf, &out), KILN_ERR_INVALID_MODEL);
    ck_assert_msg(strstr(err.msg, "BitCast") && strstr(err.msg, "bits"), "%s", err.msg);
}
END_TEST

START_TEST(integer_corner_cases) {
    KilnOnnx__NodeProto *n;
    kiln_tensor *out;
    arg m = ARG(KILN_DTYPE_INT8, int8_t, -128, 5);
    ck_assert_int_eq(run(one_node(13, "Abs", 1, &m, KILN_DTYPE_INT8, &n), 1, &m, &out), KILN_OK);
    ck_assert(I8(out, 0) == -128 && I8(out, 1) == 5); /* wraps, as numpy */
    kiln_tensor_destroy(out);
    /* Mod: fmod=0 takes the divisor's sign, fmod=1 the dividend's. */
    arg mod[2] = {ARG(KILN_DTYPE_INT32, int32_t, -7, 7, INT32_MIN), ARG(KILN_DTYPE_INT32, int32_t, 3, -3, -1)};
    ck_assert_int_eq(run(one_node(13, "Mod", 2, mod, KILN_DTYPE_INT32, &n), 2, mod, &out), KILN_OK);
    ck_assert(I32(out, 0) == 2 && I32(out, 1) == -2 && I32(out, 2) == 0);
    kiln_tensor_destroy(out);
    mb *b = one_node(13, "Mod", 2, mod, KILN_DTYPE_INT32, &n);
    mb_attr_int(b, n, "fmod", 1);
    ck_assert_int_eq(run(b, 2, mod, &out), KILN_OK);
    ck_assert(I32(out, 0) == -1 && I32(out, 1) == 1);
    kiln_tensor_destroy(out);
    arg zero[2] = {ARG(KILN_DTYPE_INT32, int32_t, 1, 2), ARG(KILN_DTYPE_INT32, int32_t, 1, 0)};
    ck_assert_int_eq(run(one_node(13, "Mod", 2, zero, KILN_DTYPE_INT32, &n), 2, zero, &out), KILN_ERR_SHAPE);
    ck_assert_msg(strstr(err.msg, "Mod") && strstr(err.msg, "by zero"), "%s", err.msg);
    /* Shifts by the width or more give 0 instead of undefined behaviour. */
    arg sh[2] = {ARG(KILN_DTYPE_UINT8, uint8_t, 1, 1, 0x81), ARG(KILN_DTYPE_UINT8, uint8_t, 7, 8, 200)};
    b = one_node(11, "BitShift", 2, sh, KILN_DTYPE_UINT8, &n);
    mb_attr_string(b, n, "direction", "LEFT");
    ck_assert_int_eq(run(b, 2, sh, &out), KILN_OK);
    ck_assert(U8(out, 0) == 0x80 && U8(out, 1) == 0 && U8(out, 2) == 0);
    kiln_tensor_destroy(out);
    /* Pow with an integer base: integer exponents are exact and wrap; float exponents truncate. */
    arg p[2] = {ARG(KILN_DTYPE_INT64, int64_t, 3, 2, -1, 5), ARG(KILN_DTYPE_INT64, int64_t, 40, 63, -3, -1)};
    ck_assert_int_eq(run(one_node(15, "Pow", 2, p, KILN_DTYPE_INT64, &n), 2, p, &out), KILN_OK);
    ck_assert((uint64_t)I64(out, 0) == 12157665459056928801ULL && I64(out, 1) == INT64_MIN && I64(out, 2) == -1 && I64(out, 3) == 0);
    kiln_tensor_destroy(out);
    arg pf[2] = {ARG(KILN_DTYPE_INT32, int32_t, 9, 2), ARG(KILN_DTYPE_FLOAT, float, 0.5f, 1.5f)};
    ck_assert_int_eq(run(one_node(15, "Pow", 2, pf, KILN_DTYPE_INT32, &n), 2, pf, &out), KILN_OK);
    ck_assert(I32(out, 0) == 3 && I32(out, 1) == 2);
    kiln_tensor_destroy(out);
}
END_TEST

START_TEST(variadic_broadcast) {
    KilnOnnx__NodeProto *n;
    kiln_tensor *out;
    arg in[3] = {ARG(KILN_DTYPE_FLOAT, float, 1, 5, 3), {KILN_DTYPE_FLOAT, 2, {2, 1}, (float[]){2, 4}, 8, NULL},
                 {KILN_DTYPE_FLOAT, 0, {0}, (float[]){NAN}, 4, NULL}};
    ck_assert_int_eq(run(one_node(13, "Max", 2, in, KILN_DTYPE_FLOAT, &n), 2, in, &out), KILN_OK);
    ck_assert_int_eq(kiln_tensor_element_count(out), 6);
    ck_assert(F32(out, 0) == 2 && F32(out, 1) == 5 && F32(out, 3) == 4 && F32(out, 5) == 4);
    kiln_tensor_destroy(out);
    /* NaN propagates, as numpy.maximum */
    ck_assert_int_eq(run(one_node(13, "Min", 3, in, KILN_DTYPE_FLOAT, &n), 3, in, &out), KILN_OK);
    ck_assert(isnan(F32(out, 0)) && isnan(F32(out, 5)));
    kiln_tensor_destroy(out);
    ck_assert_int_eq(run(one_node(13, "Mean", 2, in, KILN_DTYPE_FLOAT, &n), 2, in, &out), KILN_OK);
    ck_assert(F32(out, 0) == 1.5f && F32(out, 5) == 3.5f);
    kiln_tensor_destroy(out);
    arg bad[2] = {ARG(KILN_DTYPE_FLOAT, float, 1, 2, 3), ARG(KILN_DTYPE_FLOAT, float, 1, 2)};
    ck_assert_int_eq(run(one_node(13, "Sum", 2, bad, KILN_DTYPE_FLOAT, &n), 2, bad, &out), KILN_ERR_INVALID_MODEL);
    ck_assert_msg(strstr(err.msg, "Sum") && strstr(err.msg, "broadcast"), "%s", err.msg);
}
END_TEST

START_TEST(bad_attributes_and_types_refused) {
    KilnOnnx__NodeProto *n;
    kiln_tensor *out;
    arg u[2] = {ARG(KILN_DTYPE_UINT8, uint8_t, 1), ARG(KILN_DTYPE_UINT8, uint8_t, 1)};
    mb *b = one_node(11, "BitShift", 2, u, KILN_DTYPE_UINT8, &n);
    mb_attr_string(b, n, "direction", "UP");
    ck_assert_int_eq(run(b, 2, u, &out), KILN_ERR_INVALID_MODEL);
    ck_assert_msg(strstr(err.msg, "direction") && strstr(err.msg, "UP"), "%s", err.msg);
    arg f = ARG(KILN_DTYPE_FLOAT, float, 1);
    b = one_node(20, "Gelu", 1, &f, KILN_DTYPE_FLOAT, &n);
    mb_attr_string(b, n, "approximate", "fast");
    ck_assert_int_eq(run(b, 1, &f, &out), KILN_ERR_INVALID_MODEL);
    ck_assert_msg(strstr(err.msg, "approximate"), "%s", err.msg);
    b = one_node(13, "Cast", 1, &f, KILN_DTYPE_FLOAT, &n);
    mb_attr_int(b, n, "to", 999);
    ck_assert_int_eq(run(b, 1, &f, &out), KILN_ERR_INVALID_MODEL);
    ck_assert_msg(strstr(err.msg, "'to'") && strstr(err.msg, "999"), "%s", err.msg);
    /* A dtype the op does not take: unsupported, naming op and dtype. */
    arg i = ARG(KILN_DTYPE_INT32, int32_t, 4);
    ck_assert_int_eq(run(one_node(13, "Sqrt", 1, &i, KILN_DTYPE_INT32, &n), 1, &i, &out), KILN_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(err.msg, "Sqrt") && strstr(err.msg, "int32"), "%s", err.msg);
    arg w[3] = {ARG(KILN_DTYPE_FLOAT, float, 1), ARG(KILN_DTYPE_FLOAT, float, 1), ARG(KILN_DTYPE_FLOAT, float, 2)};
    ck_assert_int_eq(run(one_node(16, "Where", 3, w, KILN_DTYPE_FLOAT, &n), 3, w, &out), KILN_ERR_INVALID_MODEL);
    ck_assert_msg(strstr(err.msg, "condition") && strstr(err.msg, "bool"), "%s", err.msg);
    arg sw[2] = {ARG(KILN_DTYPE_FLOAT, float, 1, 2), ARG(KILN_DTYPE_FLOAT, float, 1, 2, 3)};
    ck_assert_int_eq(run(one_node(28, "SwiGLU", 2, sw, KILN_DTYPE_FLOAT, &n), 2, sw, &out), KILN_ERR_INVALID_MODEL);
    ck_assert_msg(strstr(err.msg, "SwiGLU") && strstr(err.msg, "broadcast"), "%s", err.msg);
    /* Clip's bounds must be scalars: found at run time when they are inputs. */
    arg c[3] = {ARG(KILN_DTYPE_FLOAT, float, 1, 5), ARG(KILN_DTYPE_FLOAT, float, 0, 1), ARG(KILN_DTYPE_FLOAT, float, 2)};
    ck_assert_int_eq(run(one_node(13, "Clip", 3, c, KILN_DTYPE_FLOAT, &n), 3, c, &out), KILN_ERR_SHAPE);
    ck_assert_msg(strstr(err.msg, "Clip") && strstr(err.msg, "min") && strstr(err.msg, "scalar"), "%s", err.msg);
    ck_assert_ptr_null(out);
}
END_TEST

typedef float (*f32_fn)(float);
typedef double (*f64_fn)(double);
static double sigmoid_ref(double x) { return 1.0 / (1.0 + exp(-x)); }
static double softplus_ref(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }

/* Largest relative error of f against the double reference g over every 4099th float bit
 * pattern (both signs, all exponents); infinities and NaN must match exactly. */
static double worst_rel(f32_fn f, f64_fn g) {
    double worst = 0;
    for (uint64_t u = 0; u <= 0xffffffffu; u += 4099) {
        float x = kiln_f32_from_bits((uint32_t)u), got = f(x);
        double want = g(x);
        if (isnan(want)) {
            ck_assert_msg(isnan(got), "x=%g: %g, expected NaN", x, got);
            continue;
        }
        if (fabs(want) > 3.4028234663852886e38) {
            ck_assert_msg(isinf(got) && (got > 0) == (want > 0), "x=%g: %g, expected overflow", x, got);
            continue;
        }
        double rel = fabs(got - want) / fmax(fabs(want), 1.17549435e-38);
        if (rel > worst) worst = rel;
    }
    return worst;
}

START_TEST(vmath_accuracy) {
    /* a few ulp (one ulp is 6e-8); the ONNX tests allow 1e-3 */
    ck_assert_double_lt(worst_rel(kiln_vexpf, exp), 5e-7);
    ck_assert_double_lt(worst_rel(kiln_vexpm1f, expm1), 5e-7);
    ck_assert_double_lt(worst_rel(kiln_vlogf, log), 5e-7);
    ck_assert_double_lt(worst_rel(kiln_vtanhf, tanh), 5e-7);
    ck_assert_double_lt(worst_rel(kiln_verff, erf), 2e-6);
    ck_assert_double_lt(worst_rel(kiln_vsigmoidf, sigmoid_ref), 5e-7);
    ck_assert_double_lt(worst_rel(kiln_vsoftplusf, softplus_ref), 5e-7);
}
END_TEST

START_TEST(half_conversions_bit_exact) {
    uint64_t bad = 0;
    for (uint32_t h = 0; h < 65536; h++)
        bad += kiln_f32_bits(kiln_f16_to_f32_v((uint16_t)h)) != kiln_f32_bits(kiln_f16_to_f32((uint16_t)h));
    for (uint64_t u = 0; u <= 0xffffffffu; u += 4097) {
        float f = kiln_f32_from_bits((uint32_t)u);
        bad += kiln_f32_to_f16_v(f) != kiln_f32_to_f16(f);
    }
    /* the rounding boundaries (halfway and next to it) around every finite float16 */
    for (uint32_t h = 0; h < 0x7c00; h++) {
        uint32_t b = kiln_f32_bits(kiln_f16_to_f32((uint16_t)h));
        for (int d = -2; d <= 2; d++) {
            float f = kiln_f32_from_bits(b + (uint32_t)(d * 0x1000));
            bad += kiln_f32_to_f16_v(f) != kiln_f32_to_f16(f);
            bad += kiln_f32_to_f16_v(-f) != kiln_f32_to_f16(-f);
        }
    }
    ck_assert_uint_eq(bad, 0);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("ops.elementwise");
    TCase *tc = tcase_create("elementwise");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, legacy_broadcast_axis);
    tcase_add_test(tc, legacy_prelu_channel_slope);
    tcase_add_test(tc, cast_to_and_from_strings);
    tcase_add_test(tc, cast_numeric_rules);
    tcase_add_test(tc, integer_corner_cases);
    tcase_add_test(tc, variadic_broadcast);
    tcase_add_test(tc, bad_attributes_and_types_refused);
    tcase_add_test(tc, vmath_accuracy);
    tcase_add_test(tc, half_conversions_bit_exact);
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
