/* SPDX-License-Identifier: MIT */
/* The public API: versions, status and dtype texts, envs with a caller allocator, tensors
 * (create, wrap, strings, sizes), sequences and optionals, serialization round trips, running
 * with names and with caller-provided outputs, and misuse that must fail cleanly. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/model_builder.h"
#include "common/test_alloc.h"
#include "kiln.h"

static kiln_env *env;
static kiln_error err;

static void setup(void) { ck_assert_int_eq(kiln_env_create(&env, &err), KILN_OK); }
static void teardown(void) { kiln_env_destroy(env); }

START_TEST(version_and_texts) {
    ck_assert_str_eq(kiln_version_string(), KILN_VERSION_STRING);
    ck_assert_uint_eq(kiln_version_number(),
                      ((uint32_t)KILN_VERSION_MAJOR << 16) | (KILN_VERSION_MINOR << 8) | KILN_VERSION_PATCH);
    for (int s = KILN_OK; s <= KILN_ERR_TIMEOUT; s++) {
        ck_assert_ptr_nonnull(kiln_status_string((kiln_status)s));
        ck_assert_str_ne(kiln_status_string((kiln_status)s), "unknown status");
    }
    ck_assert_str_eq(kiln_status_string((kiln_status)999), "unknown status");
    ck_assert_str_eq(kiln_dtype_name(KILN_DTYPE_FLOAT), "float");
    ck_assert_str_eq(kiln_dtype_name(KILN_DTYPE_BFLOAT16), "bfloat16");
    ck_assert_str_eq(kiln_dtype_name((kiln_dtype)77), "undefined");
    ck_assert_uint_eq(kiln_dtype_bits(KILN_DTYPE_INT4), 4);
    ck_assert_uint_eq(kiln_dtype_bits(KILN_DTYPE_DOUBLE), 64);
    ck_assert_uint_eq(kiln_dtype_bits(KILN_DTYPE_STRING), 0);
}
END_TEST

START_TEST(misuse_fails_cleanly) {
    kiln_env *e = (kiln_env *)1;
    ck_assert_int_eq(kiln_env_create(NULL, &err), KILN_ERR_INVALID_ARGUMENT);
    kiln_allocator bad = {NULL, NULL, NULL};
    ck_assert_int_eq(kiln_env_create_with_allocator(&bad, &e, &err), KILN_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(e);
    kiln_session *s = (kiln_session *)1;
    ck_assert_int_eq(kiln_session_create(env, NULL, NULL, &s, &err), KILN_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(kiln_session_create(NULL, "x.onnx", NULL, &s, NULL), KILN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(kiln_session_run(NULL, NULL, NULL, 0, NULL, NULL, 0, &err), KILN_ERR_INVALID_ARGUMENT);
    ck_assert_uint_eq(kiln_session_input_count(NULL), 0);
    ck_assert_ptr_null(kiln_session_input(NULL, 0));
    ck_assert_int_eq(kiln_io_rank(NULL), -1);
    /* Destroying NULL is a no-op. */
    kiln_session_destroy(NULL);
    kiln_tensor_destroy(NULL);
    kiln_env_destroy(NULL);
    kiln_session_options_destroy(NULL);
    ck_assert_int_eq(kiln_tensor_kind(NULL), KILN_VALUE_UNKNOWN);
}
END_TEST

START_TEST(tensors) {
    kiln_tensor *t;
    ck_assert_int_eq(kiln_tensor_create(env, KILN_DTYPE_INT16, (const int64_t[]){2, 3}, 2, &t, &err), KILN_OK);
    ck_assert_int_eq(kiln_tensor_kind(t), KILN_VALUE_TENSOR);
    ck_assert_int_eq(kiln_tensor_element_count(t), 6);
    ck_assert_uint_eq(kiln_tensor_byte_size(t), 12);
    for (int i = 0; i < 6; i++) ck_assert_int_eq(((int16_t *)kiln_tensor_data(t))[i], 0);
    kiln_tensor_destroy(t);
    /* Scalars and empty tensors. */
    ck_assert_int_eq(kiln_tensor_create(env, KILN_DTYPE_DOUBLE, NULL, 0, &t, &err), KILN_OK);
    ck_assert_int_eq(kiln_tensor_element_count(t), 1);
    kiln_tensor_destroy(t);
    ck_assert_int_eq(kiln_tensor_create(env, KILN_DTYPE_FLOAT, (const int64_t[]){4, 0}, 2, &t, &err), KILN_OK);
    ck_assert_int_eq(kiln_tensor_element_count(t), 0);
    kiln_tensor_destroy(t);
    /* Packed sub-byte types round the byte size up. */
    ck_assert_int_eq(kiln_tensor_create(env, KILN_DTYPE_UINT4, (const int64_t[]){5}, 1, &t, &err), KILN_OK);
    ck_assert_uint_eq(kiln_tensor_byte_size(t), 3);
    kiln_tensor_destroy(t);
    /* Wrapping checks the buffer size and refuses strings. */
    float buf[4];
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){5}, 1, buf, sizeof(buf), &t, &err),
                     KILN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_STRING, (const int64_t[]){1}, 1, buf, sizeof(buf), &t, &err),
                     KILN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){4}, 1, buf, sizeof(buf), &t, &err), KILN_OK);
    ck_assert_ptr_eq(kiln_tensor_data(t), buf);
    kiln_tensor_destroy(t);
    ck_assert_int_eq(kiln_tensor_create(env, (kiln_dtype)0, NULL, 0, &t, &err), KILN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(kiln_tensor_create(env, KILN_DTYPE_FLOAT, (const int64_t[]){1}, KILN_MAX_RANK + 1, &t, &err),
                     KILN_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(strings_sequences_optionals_round_trip) {
    char dir[] = "/tmp/kiln-api-XXXXXX", path[128];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    kiln_tensor *t;
    ck_assert_int_eq(kiln_tensor_create(env, KILN_DTYPE_STRING, (const int64_t[]){3}, 1, &t, &err), KILN_OK);
    ck_assert_str_eq(kiln_tensor_string(t, 0), "");
    ck_assert_int_eq(kiln_tensor_set_string(t, 1, "héllo", strlen("héllo"), &err), KILN_OK);
    ck_assert_int_eq(kiln_tensor_set_string(t, 1, "again", 5, &err), KILN_OK);
    ck_assert_int_eq(kiln_tensor_set_string(t, 3, "x", 1, &err), KILN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(kiln_tensor_string(t, 1), "again");
    ck_assert_ptr_null(kiln_tensor_string(t, 3));
    snprintf(path, sizeof(path), "%s/s.pb", dir);
    ck_assert_int_eq(kiln_tensor_save_proto(t, "words", path, &err), KILN_OK);
    kiln_tensor *back;
    ck_assert_int_eq(kiln_tensor_load_proto(env, path, KILN_VALUE_TENSOR, &back, &err), KILN_OK);
    ck_assert_str_eq(kiln_tensor_string(back, 1), "again");
    kiln_tensor_destroy(back);
    unlink(path);

    /* A sequence of two float tensors, saved and read back. */
    kiln_tensor *items[2];
    ck_assert_int_eq(kiln_tensor_create(env, KILN_DTYPE_FLOAT, (const int64_t[]){2}, 1, &items[0], &err), KILN_OK);
    ck_assert_int_eq(kiln_tensor_create(env, KILN_DTYPE_FLOAT, (const int64_t[]){1, 3}, 2, &items[1], &err), KILN_OK);
    ((float *)kiln_tensor_data(items[1]))[2] = 5.5f;
    kiln_tensor *seq;
    ck_assert_int_eq(kiln_sequence_create(env, KILN_DTYPE_FLOAT, items, 2, &seq, &err), KILN_OK);
    ck_assert_uint_eq(kiln_sequence_length(seq), 2);
    snprintf(path, sizeof(path), "%s/seq.pb", dir);
    ck_assert_int_eq(kiln_tensor_save_proto(seq, "seq", path, &err), KILN_OK);
    ck_assert_int_eq(kiln_tensor_load_proto(env, path, KILN_VALUE_SEQUENCE, &back, &err), KILN_OK);
    ck_assert_uint_eq(kiln_sequence_length(back), 2);
    ck_assert_int_eq(kiln_tensor_rank(kiln_sequence_item(back, 1)), 2);
    ck_assert_float_eq(((const float *)kiln_tensor_data_const(kiln_sequence_item(back, 1)))[2], 5.5f);
    ck_assert_ptr_null(kiln_sequence_item(back, 2));
    kiln_tensor_destroy(back);
    unlink(path);

    /* Optionals: holding the sequence, and empty. */
    kiln_tensor *opt;
    ck_assert_int_eq(kiln_optional_create(env, KILN_DTYPE_FLOAT, seq, &opt, &err), KILN_OK);
    ck_assert_ptr_eq(kiln_optional_value(opt), seq);
    snprintf(path, sizeof(path), "%s/opt.pb", dir);
    ck_assert_int_eq(kiln_tensor_save_proto(opt, "o", path, &err), KILN_OK);
    ck_assert_int_eq(kiln_tensor_load_proto(env, path, KILN_VALUE_OPTIONAL, &back, &err), KILN_OK);
    ck_assert_int_eq(kiln_tensor_kind(kiln_optional_value(back)), KILN_VALUE_SEQUENCE);
    kiln_tensor_destroy(back);
    kiln_tensor_destroy(opt);
    ck_assert_int_eq(kiln_optional_create(env, KILN_DTYPE_INT64, NULL, &opt, &err), KILN_OK);
    ck_assert_ptr_null(kiln_optional_value(opt));
    ck_assert_int_eq(kiln_tensor_save_proto(opt, "o", path, &err), KILN_OK);
    ck_assert_int_eq(kiln_tensor_load_proto(env, path, KILN_VALUE_OPTIONAL, &back, &err), KILN_OK);
    ck_assert_ptr_null(kiln_optional_value(back));
    kiln_tensor_destroy(back);
    kiln_tensor_destroy(opt);
    unlink(path);

    /* A sequence refuses items of another dtype (and frees them). */
    ck_assert_int_eq(kiln_tensor_create(env, KILN_DTYPE_INT8, (const int64_t[]){1}, 1, &items[0], &err), KILN_OK);
    ck_assert_int_eq(kiln_sequence_create(env, KILN_DTYPE_FLOAT, items, 1, &seq, &err), KILN_ERR_INVALID_ARGUMENT);
    kiln_tensor_destroy(t);
    rmdir(dir);
}
END_TEST

/* y = x + b, z = Relu(x) */
static kiln_session *two_output_session(void) {
    mb *b = mb_new(8, 17);
    KilnOnnx__GraphProto *g = mb_graph(b);
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 1, (const int64_t[]){3});
    const float bias[3] = {1, 2, 3};
    mb_initializer(b, g, mb_tensor_raw(b, "b", KILN_DTYPE_FLOAT, 1, (const int64_t[]){3}, bias, sizeof(bias)));
    mb_node(b, g, "Add", "add", (const char *[]){"x", "b", NULL}, (const char *[]){"y", NULL});
    mb_node(b, g, "Relu", "relu", (const char *[]){"x", NULL}, (const char *[]){"z", NULL});
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, 1, (const int64_t[]){3});
    mb_output(b, g, "z", KILN_DTYPE_FLOAT, 1, (const int64_t[]){3});
    size_t n;
    const uint8_t *p = mb_pack(b, &n);
    kiln_session *s = NULL;
    ck_assert_int_eq(kiln_session_create_from_buffer(env, p, n, NULL, &s, &err), KILN_OK);
    mb_free(b);
    return s;
}

START_TEST(run_variants) {
    kiln_session *s = two_output_session();
    float xv[3] = {-1, 0.5f, 2};
    kiln_tensor *x;
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){3}, 1, xv, sizeof(xv), &x, &err), KILN_OK);
    const kiln_tensor *in[1] = {x};

    /* Only one output, by name, into a caller buffer. */
    float zbuf[3] = {9, 9, 9};
    kiln_tensor *z;
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){3}, 1, zbuf, sizeof(zbuf), &z, &err), KILN_OK);
    const char *names[1] = {"z"};
    kiln_tensor *outs[1] = {z};
    ck_assert_int_eq(kiln_session_run(s, NULL, in, 1, names, outs, 1, &err), KILN_OK);
    ck_assert_ptr_eq(outs[0], z);
    ck_assert_float_eq(zbuf[0], 0.0f);
    ck_assert_float_eq(zbuf[2], 2.0f);

    /* A caller tensor of the wrong shape is refused and left alone. */
    kiln_tensor *wrong;
    ck_assert_int_eq(kiln_tensor_create(env, KILN_DTYPE_FLOAT, (const int64_t[]){4}, 1, &wrong, &err), KILN_OK);
    outs[0] = wrong;
    ck_assert_int_eq(kiln_session_run(s, NULL, in, 1, names, outs, 1, &err), KILN_ERR_SHAPE);
    ck_assert_ptr_eq(outs[0], wrong);
    kiln_tensor_destroy(wrong);

    /* Both outputs, Kiln-created, requested twice in one call. */
    const char *twice[3] = {"y", "z", "y"};
    kiln_tensor *o3[3] = {NULL, NULL, NULL};
    ck_assert_int_eq(kiln_session_run(s, NULL, in, 1, twice, o3, 3, &err), KILN_OK);
    ck_assert_float_eq(((float *)kiln_tensor_data(o3[0]))[0], 0.0f);
    ck_assert_float_eq(((float *)kiln_tensor_data(o3[2]))[2], 5.0f);
    ck_assert_ptr_ne(o3[0], o3[2]);
    for (int i = 0; i < 3; i++) kiln_tensor_destroy(o3[i]);

    /* Misuse: unknown names, missing and repeated inputs, wrong counts. */
    kiln_tensor *o1[1] = {NULL};
    const char *bad_out[1] = {"nope"};
    ck_assert_int_eq(kiln_session_run(s, NULL, in, 1, bad_out, o1, 1, &err), KILN_ERR_INVALID_ARGUMENT);
    ck_assert_msg(strstr(err.msg, "nope"), "%s", err.msg);
    ck_assert_ptr_null(o1[0]);
    const char *bad_in[1] = {"w"};
    ck_assert_int_eq(kiln_session_run(s, bad_in, in, 1, names, o1, 1, &err), KILN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(kiln_session_run(s, (const char *[]){"x", "x"}, (const kiln_tensor *[]){x, x}, 2, names, o1, 1, &err),
                     KILN_ERR_INVALID_ARGUMENT);
    ck_assert_msg(strstr(err.msg, "twice"), "%s", err.msg);
    ck_assert_int_eq(kiln_session_run(s, (const char *[]){NULL}, in, 0, names, o1, 1, &err), KILN_ERR_INVALID_ARGUMENT);
    ck_assert_msg(strstr(err.msg, "missing"), "%s", err.msg);
    ck_assert_int_eq(kiln_session_run(s, NULL, in, 1, NULL, o1, 1, &err), KILN_ERR_INVALID_ARGUMENT);
    kiln_tensor_destroy(z);
    kiln_tensor_destroy(x);
    kiln_session_destroy(s);
}
END_TEST

START_TEST(caller_allocator_sees_everything) {
    test_alloc ta;
    test_alloc_init(&ta);
    kiln_env *e;
    ck_assert_int_eq(kiln_env_create_with_allocator(&ta.a, &e, &err), KILN_OK);
    kiln_env *saved = env;
    env = e;
    kiln_session *s = two_output_session();
    long after_create = atomic_load(&ta.allocs);
    ck_assert_int_gt(after_create, 5);
    kiln_tensor *x, *outs[2] = {NULL, NULL};
    ck_assert_int_eq(kiln_tensor_create(e, KILN_DTYPE_FLOAT, (const int64_t[]){3}, 1, &x, &err), KILN_OK);
    ck_assert_int_eq(kiln_session_run(s, NULL, (const kiln_tensor *const *)&x, 1, NULL, outs, 2, &err), KILN_OK);
    kiln_tensor_destroy(outs[0]);
    kiln_tensor_destroy(outs[1]);
    kiln_tensor_destroy(x);
    kiln_session_destroy(s);
    env = saved;
    kiln_env_destroy(e);
    ck_assert_int_eq(test_alloc_live(&ta), 0);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("api");
    TCase *tc = tcase_create("api");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, version_and_texts);
    tcase_add_test(tc, misuse_fails_cleanly);
    tcase_add_test(tc, tensors);
    tcase_add_test(tc, strings_sequences_optionals_round_trip);
    tcase_add_test(tc, run_variants);
    tcase_add_test(tc, caller_allocator_sees_everything);
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
