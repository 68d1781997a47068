/* SPDX-License-Identifier: MIT */
/* I/O binding: runs compute into bound tensors (host or device memory); a counting allocator
 * proves a warm run allocates nothing; kept outputs follow shape changes; misuse fails cleanly. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/test_alloc.h"
#include "models.h"

static test_alloc ta;
static kiln_env *env;
static kiln_error err;

static void setup(void) {
    test_alloc_init(&ta);
    ck_assert_int_eq(kiln_env_create_with_allocator(&ta.a, &env, &err), KILN_OK);
}

static void teardown(void) {
    kiln_env_destroy(env);
    ck_assert_int_eq(test_alloc_live(&ta), 0);
}

static kiln_session *session_of(mb *b, int32_t intra) {
    size_t size;
    const uint8_t *bytes = mb_pack(b, &size);
    kiln_session_options *o;
    ck_assert_int_eq(kiln_session_options_create(&o, &err), KILN_OK);
    ck_assert_int_eq(kiln_session_options_set_intra_op_threads(o, intra, &err), KILN_OK);
    kiln_session *s;
    ck_assert_msg(kiln_session_create_from_buffer(env, bytes, size, o, &s, &err) == KILN_OK, "%s", err.msg);
    kiln_session_options_destroy(o);
    return s;
}

/* Reference outputs of the CNN for x (batch n) with a plain run. */
static void reference(kiln_session *s, float *xv, int64_t n, float *y, float *z) {
    kiln_tensor *x, *out[2] = {NULL, NULL};
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){n, 4, 8, 8}, 4, xv,
                                      (size_t)n * RT_CNN_X * sizeof(float), &x, &err), KILN_OK);
    ck_assert_int_eq(kiln_session_run(s, NULL, (const kiln_tensor *const *)&x, 1, NULL, out, 2, &err), KILN_OK);
    memcpy(y, kiln_tensor_data(out[0]), (size_t)n * RT_CNN_Y * sizeof(float));
    memcpy(z, kiln_tensor_data(out[1]), (size_t)n * RT_CNN_Z * sizeof(float));
    kiln_tensor_destroy(out[0]);
    kiln_tensor_destroy(out[1]);
    kiln_tensor_destroy(x);
}

static void zero_alloc_binding(int32_t intra) {
    mb *b = rt_cnn_model(2);
    kiln_session *s = session_of(b, intra);
    float xv[2 * RT_CNN_X], yv[2 * RT_CNN_Y], y0[2 * RT_CNN_Y], z0[2 * RT_CNN_Z];
    rt_fill(xv, 2 * RT_CNN_X, 5);
    reference(s, xv, 2, y0, z0);
    kiln_tensor *x, *y;
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){2, 4, 8, 8}, 4, xv, sizeof(xv), &x, &err), KILN_OK);
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){2, 10}, 2, yv, sizeof(yv), &y, &err), KILN_OK);
    kiln_binding *bd;
    ck_assert_int_eq(kiln_binding_create(s, &bd, &err), KILN_OK);
    ck_assert_int_eq(kiln_binding_bind_input(bd, "x", x, &err), KILN_OK);
    ck_assert_int_eq(kiln_binding_bind_output(bd, "y", y, &err), KILN_OK);
    ck_assert_int_eq(kiln_binding_bind_output(bd, "z", NULL, &err), KILN_OK); /* Kiln keeps it */
    ck_assert_ptr_null(kiln_binding_output(bd, "z"));
    for (int r = 0; r < 2; r++) ck_assert_msg(kiln_session_run_binding(s, bd, &err) == KILN_OK, "%s", err.msg);
    kiln_tensor *z = kiln_binding_output(bd, "z");
    ck_assert_ptr_nonnull(z);
    ck_assert_ptr_eq(kiln_binding_output(bd, "y"), y);
    long calls = atomic_load(&ta.calls);
    for (int r = 0; r < 100; r++) {
        memset(yv, 0, sizeof(yv));
        ck_assert_int_eq(kiln_session_run_binding(s, bd, &err), KILN_OK);
        ck_assert_double_le(rt_max_diff(yv, y0, 2 * RT_CNN_Y), 1e-6);
        ck_assert_ptr_eq(kiln_binding_output(bd, "z"), z);
        ck_assert_double_le(rt_max_diff(kiln_tensor_data(z), z0, 2 * RT_CNN_Z), 1e-6);
    }
    ck_assert_int_eq(atomic_load(&ta.calls) - calls, 0);
    /* New input data, same tensor: read where it is. */
    rt_fill(xv, 2 * RT_CNN_X, 6);
    float y1[2 * RT_CNN_Y], z1[2 * RT_CNN_Z];
    ck_assert_int_eq(kiln_session_run_binding(s, bd, &err), KILN_OK);
    memcpy(y1, yv, sizeof(y1));
    memcpy(z1, kiln_tensor_data(z), sizeof(z1));
    float yr[2 * RT_CNN_Y], zr[2 * RT_CNN_Z];
    reference(s, xv, 2, yr, zr);
    ck_assert_double_le(rt_max_diff(y1, yr, 2 * RT_CNN_Y), 1e-6);
    ck_assert_double_le(rt_max_diff(z1, zr, 2 * RT_CNN_Z), 1e-6);
    kiln_binding_destroy(bd);
    kiln_tensor_destroy(x);
    kiln_tensor_destroy(y);
    kiln_session_destroy(s);
    mb_free(b);
}

START_TEST(warm_binding_runs_allocate_nothing) { zero_alloc_binding(1); }
END_TEST

START_TEST(warm_binding_runs_allocate_nothing_threads) { zero_alloc_binding(2); }
END_TEST

START_TEST(warm_runs_into_caller_tensors_allocate_nothing) {
    mb *b = rt_cnn_model(2);
    kiln_session *s = session_of(b, 1);
    float xv[2 * RT_CNN_X], yv[2 * RT_CNN_Y], zv[2 * RT_CNN_Z];
    rt_fill(xv, 2 * RT_CNN_X, 8);
    kiln_tensor *x, *out[2];
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){2, 4, 8, 8}, 4, xv, sizeof(xv), &x, &err), KILN_OK);
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){2, 10}, 2, yv, sizeof(yv), &out[0], &err), KILN_OK);
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){2, 8, 64}, 3, zv, sizeof(zv), &out[1], &err), KILN_OK);
    const char *names[2] = {"z", "y"};
    kiln_tensor *swapped[2] = {out[1], out[0]};
    for (int r = 0; r < 2; r++) ck_assert_int_eq(kiln_session_run(s, NULL, (const kiln_tensor *const *)&x, 1, names, swapped, 2, &err), KILN_OK);
    long calls = atomic_load(&ta.calls);
    for (int r = 0; r < 50; r++)
        ck_assert_int_eq(kiln_session_run(s, NULL, (const kiln_tensor *const *)&x, 1, names, swapped, 2, &err), KILN_OK);
    ck_assert_int_eq(atomic_load(&ta.calls) - calls, 0);
    kiln_tensor_destroy(out[0]);
    kiln_tensor_destroy(out[1]);
    kiln_tensor_destroy(x);
    kiln_session_destroy(s);
    mb_free(b);
}
END_TEST

START_TEST(kept_outputs_follow_shapes) {
    mb *b = rt_cnn_model(0);
    kiln_session *s = session_of(b, 1);
    kiln_binding *bd;
    ck_assert_int_eq(kiln_binding_create(s, &bd, &err), KILN_OK);
    ck_assert_int_eq(kiln_binding_bind_output(bd, "y", NULL, &err), KILN_OK);
    for (int64_t n = 1; n <= 3; n++) {
        float xv[3 * RT_CNN_X], y0[3 * RT_CNN_Y], z0[3 * RT_CNN_Z];
        rt_fill(xv, (size_t)n * RT_CNN_X, (uint32_t)n);
        reference(s, xv, n, y0, z0);
        kiln_tensor *x;
        ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){n, 4, 8, 8}, 4, xv,
                                          (size_t)n * RT_CNN_X * sizeof(float), &x, &err), KILN_OK);
        ck_assert_int_eq(kiln_binding_bind_input(bd, "x", x, &err), KILN_OK);
        for (int r = 0; r < 2; r++) {
            ck_assert_int_eq(kiln_session_run_binding(s, bd, &err), KILN_OK);
            kiln_tensor *y = kiln_binding_output(bd, "y");
            ck_assert_int_eq(kiln_tensor_dims(y)[0], n);
            ck_assert_double_le(rt_max_diff(kiln_tensor_data(y), y0, (size_t)n * RT_CNN_Y), 1e-6);
        }
        kiln_tensor_destroy(x);
    }
    /* z is not bound: computed and dropped. */
    ck_assert_ptr_null(kiln_binding_output(bd, "z"));
    kiln_binding_destroy(bd);
    kiln_session_destroy(s);
    mb_free(b);
}
END_TEST

START_TEST(misuse) {
    mb *b = rt_cnn_model(2);
    kiln_session *s = session_of(b, 1), *other = session_of(b, 1);
    kiln_binding *bd = (kiln_binding *)1;
    ck_assert_int_eq(kiln_binding_create(NULL, &bd, &err), KILN_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(bd);
    ck_assert_int_eq(kiln_binding_create(s, NULL, &err), KILN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(kiln_binding_create(s, &bd, &err), KILN_OK);
    /* Nothing bound yet. */
    ck_assert_int_eq(kiln_session_run_binding(s, bd, &err), KILN_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(err.msg, "'x' is not bound"));
    kiln_tensor *wrong, *x, *ybad;
    ck_assert_int_eq(kiln_tensor_create(env, KILN_DTYPE_INT32, (const int64_t[]){2, 4, 8, 8}, 4, &wrong, &err), KILN_OK);
    ck_assert_int_eq(kiln_binding_bind_input(bd, "x", wrong, &err), KILN_ERR_SHAPE);
    ck_assert_int_eq(kiln_binding_bind_input(bd, "nope", wrong, &err), KILN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(kiln_binding_bind_input(bd, "x", NULL, &err), KILN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(kiln_binding_bind_output(bd, "nope", NULL, &err), KILN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(kiln_tensor_create(env, KILN_DTYPE_FLOAT, (const int64_t[]){2, 4, 8, 8}, 4, &x, &err), KILN_OK);
    ck_assert_int_eq(kiln_binding_bind_input(bd, "x", x, &err), KILN_OK);
    ck_assert_int_eq(kiln_session_run_binding(other, bd, &err), KILN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(kiln_session_run_binding(s, NULL, &err), KILN_ERR_INVALID_ARGUMENT);
    /* A bound output of the wrong shape fails the run, which leaves the binding usable. */
    ck_assert_int_eq(kiln_tensor_create(env, KILN_DTYPE_FLOAT, (const int64_t[]){3, 10}, 2, &ybad, &err), KILN_OK);
    ck_assert_int_eq(kiln_binding_bind_output(bd, "y", ybad, &err), KILN_OK);
    ck_assert_int_eq(kiln_session_run_binding(s, bd, &err), KILN_ERR_SHAPE);
    ck_assert_int_eq(kiln_binding_bind_output(bd, "y", NULL, &err), KILN_OK);
    ck_assert_int_eq(kiln_session_run_binding(s, bd, &err), KILN_OK);
    ck_assert_int_eq(kiln_tensor_dims(kiln_binding_output(bd, "y"))[0], 2);
    ck_assert_ptr_null(kiln_binding_output(NULL, "y"));
    ck_assert_ptr_null(kiln_binding_output(bd, "nope"));
    kiln_binding_destroy(bd);
    kiln_binding_destroy(NULL);
    kiln_tensor_destroy(wrong);
    kiln_tensor_destroy(x);
    kiln_tensor_destroy(ybad);
    kiln_session_destroy(s);
    kiln_session_destroy(other);
    mb_free(b);
}
END_TEST

/* Every allocation of a binding run may fail: a clean error, nothing leaked, the next run fine. */
START_TEST(allocation_failures) {
    mb *b = rt_cnn_model(2);
    kiln_session *s = session_of(b, 1);
    float xv[2 * RT_CNN_X];
    rt_fill(xv, 2 * RT_CNN_X, 1);
    kiln_tensor *x;
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){2, 4, 8, 8}, 4, xv, sizeof(xv), &x, &err), KILN_OK);
    for (long k = 1;; k++) {
        kiln_binding *bd = NULL;
        long base = atomic_load(&ta.calls);
        atomic_store(&ta.fail_at, base + k);
        kiln_status st = kiln_binding_create(s, &bd, &err);
        if (st == KILN_OK) st = kiln_binding_bind_input(bd, "x", x, &err);
        if (st == KILN_OK) st = kiln_binding_bind_output(bd, "y", NULL, &err);
        if (st == KILN_OK) st = kiln_session_run_binding(s, bd, &err);
        atomic_store(&ta.fail_at, 0);
        int failed = atomic_load(&ta.failed) > 0;
        atomic_store(&ta.failed, 0);
        if (!failed) {
            ck_assert_int_eq(st, KILN_OK);
            kiln_binding_destroy(bd);
            break;
        }
        ck_assert_int_eq(st, KILN_ERR_OUT_OF_MEMORY);
        kiln_binding_destroy(bd);
        ck_assert_int_lt(k, 10000);
    }
    kiln_tensor_destroy(x);
    kiln_session_destroy(s);
    mb_free(b);
}
END_TEST

/* x [4,64] -> Add(x, c) -> Relu -> Mul(., x) -> y: the example provider runs all three on its
 * "device", so the session copies x there and y back. Bound in that memory, x and y are read and
 * written where they are: the copies are left out and warm runs allocate nothing. */
static mb *device_model(void) {
    mb *b = mb_new(8, 13);
    KilnOnnx__GraphProto *g = mb_graph(b);
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 2, (const int64_t[]){4, 64});
    static float c[64];
    for (int i = 0; i < 64; i++) c[i] = (float)i / 32.0f - 1.0f;
    mb_initializer(b, g, mb_tensor_raw(b, "c", KILN_DTYPE_FLOAT, 1, (const int64_t[]){64}, c, sizeof(c)));
    mb_node(b, g, "Add", "add", (const char *[]){"x", "c", NULL}, (const char *[]){"a", NULL});
    mb_node(b, g, "Relu", "relu", (const char *[]){"a", NULL}, (const char *[]){"r", NULL});
    mb_node(b, g, "Mul", "mul", (const char *[]){"r", "x", NULL}, (const char *[]){"y", NULL});
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, 2, (const int64_t[]){4, 64});
    return b;
}

static float device_expect(const float *x, int i) {
    float a = x[i] + (float)(i % 64) / 32.0f - 1.0f;
    return (a > 0 ? a : 0) * x[i];
}

START_TEST(device_memory_binding) {
    const char *lib = getenv("KILN_TEST_EXAMPLE_PROVIDER");
    /* The example provider is always built, and meson passes its path: a missing one is a failure. */
    ck_assert_msg(lib && *lib, "KILN_TEST_EXAMPLE_PROVIDER is not set: run this test through meson");
    mb *b = device_model();
    size_t size;
    const uint8_t *bytes = mb_pack(b, &size);
    kiln_session_options *o;
    ck_assert_int_eq(kiln_session_options_create(&o, &err), KILN_OK);
    /* Unfused: a fused group's temporaries are the provider's own allocations, not Kiln's. */
    ck_assert_int_eq(kiln_session_options_append_provider(o, lib, (const char *const[]){"fuse=0", NULL}, &err), KILN_OK);
    ck_assert_int_eq(kiln_session_options_set_intra_op_threads(o, 1, &err), KILN_OK);
    kiln_session *s;
    ck_assert_msg(kiln_session_create_from_buffer(env, bytes, size, o, &s, &err) == KILN_OK, "%s", err.msg);
    kiln_session_options_destroy(o);
    float xv[256], yv[256];
    rt_fill(xv, 256, 3);
    kiln_tensor *xh, *yh, *xd, *yd, *bad;
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){4, 64}, 2, xv, sizeof(xv), &xh, &err), KILN_OK);
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){4, 64}, 2, yv, sizeof(yv), &yh, &err), KILN_OK);
    ck_assert_int_eq(kiln_session_tensor_create(s, "nowhere", KILN_DTYPE_FLOAT, (const int64_t[]){4, 64}, 2, &xd, &err),
                     KILN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(kiln_session_tensor_create(s, "example:device", KILN_DTYPE_STRING, (const int64_t[]){4}, 1, &xd, &err),
                     KILN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(kiln_session_tensor_create(s, "example:device", KILN_DTYPE_FLOAT, (const int64_t[]){4, 64}, 2, &xd, &err), KILN_OK);
    ck_assert_int_eq(kiln_session_tensor_create(s, "example:device", KILN_DTYPE_FLOAT, (const int64_t[]){4, 64}, 2, &yd, &err), KILN_OK);
    ck_assert_int_eq(kiln_session_tensor_copy(s, xh, xd, &err), KILN_OK);
    kiln_binding *bd;
    ck_assert_int_eq(kiln_binding_create(s, &bd, &err), KILN_OK);
    ck_assert_int_eq(kiln_binding_bind_input(bd, "x", xd, &err), KILN_OK);
    ck_assert_int_eq(kiln_binding_bind_output(bd, "y", yd, &err), KILN_OK);
    for (int r = 0; r < 3; r++) ck_assert_msg(kiln_session_run_binding(s, bd, &err) == KILN_OK, "%s", err.msg);
    long calls = atomic_load(&ta.calls);
    for (int r = 0; r < 20; r++) ck_assert_int_eq(kiln_session_run_binding(s, bd, &err), KILN_OK);
    ck_assert_int_eq(atomic_load(&ta.calls) - calls, 0);
    ck_assert_int_eq(kiln_session_tensor_copy(s, yd, yh, &err), KILN_OK);
    for (int i = 0; i < 256; i++) ck_assert_float_eq_tol(yv[i], device_expect(xv, i), 1e-6f);
    /* Host tensors still work on the same session, through the copies. */
    memset(yv, 0, sizeof(yv));
    kiln_tensor *outs[1] = {yh};
    ck_assert_int_eq(kiln_session_run(s, NULL, (const kiln_tensor *const *)&xh, 1, NULL, outs, 1, &err), KILN_OK);
    for (int i = 0; i < 256; i++) ck_assert_float_eq_tol(yv[i], device_expect(xv, i), 1e-6f);
    /* kiln_session_run takes host tensors only; a device tensor of the wrong shape is refused. */
    ck_assert_int_eq(kiln_session_run(s, NULL, (const kiln_tensor *const *)&xd, 1, NULL, outs, 1, &err), KILN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(kiln_session_tensor_create(s, "example:device", KILN_DTYPE_FLOAT, (const int64_t[]){2, 64}, 2, &bad, &err), KILN_OK);
    ck_assert_int_eq(kiln_binding_bind_input(bd, "x", bad, &err), KILN_ERR_SHAPE);
    ck_assert_int_eq(kiln_session_tensor_copy(s, xh, bad, &err), KILN_ERR_SHAPE);
    kiln_tensor_destroy(bad);
    kiln_binding_destroy(bd);
    kiln_tensor_destroy(xd);
    kiln_tensor_destroy(yd);
    kiln_tensor_destroy(xh);
    kiln_tensor_destroy(yh);
    kiln_session_destroy(s);
    mb_free(b);
}
END_TEST

int main(void) {
    Suite *su = suite_create("binding");
    TCase *tc = tcase_create("binding");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, warm_binding_runs_allocate_nothing);
    tcase_add_test(tc, warm_binding_runs_allocate_nothing_threads);
    tcase_add_test(tc, warm_runs_into_caller_tensors_allocate_nothing);
    tcase_add_test(tc, kept_outputs_follow_shapes);
    tcase_add_test(tc, misuse);
    tcase_add_test(tc, allocation_failures);
    tcase_add_test(tc, device_memory_binding);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
