/* SPDX-License-Identifier: MIT */
/* Provider ABI 1.2 through the public API: a 1.1 provider whose table ends at the 1.1 layout
 * still loads and runs (the slots past it trap); fallback=error; provider log lines reach the
 * environment's logger; the example provider computing asynchronously on the run's stream with
 * device scratch gives the CPU's outputs run after run (recording and planned runs, with and
 * without fusion); graphs=1 captures a run and replays it for later runs over bound device
 * tensors, with the outputs following the inputs. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/model_builder.h"
#include "kiln.h"

static kiln_env *env;
static kiln_error err;
static char path_buf[4][4096];
static int path_next;

static void setup(void) { ck_assert_int_eq(kiln_env_create(&env, &err), KILN_OK); }
static void teardown(void) { kiln_env_destroy(env); }

static const char *lib(const char *name) {
    const char *dir = strcmp(name, "example") ? getenv("KILN_TEST_PROVIDER_DIR") : getenv("KILN_EXAMPLE_PROVIDER_DIR");
    ck_assert_msg(dir != NULL, "the test environment names no provider folder");
    char *p = path_buf[path_next++ % 4];
    snprintf(p, 4096, "%s/kiln-provider-%s.so", dir, name);
    return p;
}

/* A session asking provider `name` (NULL: CPU only) with NULL-terminated options. */
static kiln_status session(mb *b, const char *name, const char *const *opts, kiln_session **s, kiln_error *er) {
    size_t n;
    const uint8_t *buf = mb_pack(b, &n);
    kiln_session_options *o = NULL;
    ck_assert_int_eq(kiln_session_options_create(&o, er), KILN_OK);
    ck_assert_int_eq(kiln_session_options_set_optimization_level(o, KILN_OPT_DISABLED, er), KILN_OK);
    kiln_status st = name ? kiln_session_options_append_provider(o, lib(name), opts, er) : KILN_OK;
    if (st == KILN_OK) st = kiln_session_create_from_buffer(env, buf, n, o, s, er);
    kiln_session_options_destroy(o);
    return st;
}

static char *report(const kiln_session *s) {
    size_t len = 0;
    ck_assert_int_eq(kiln_session_partition_report(s, NULL, 0, &len, &err), KILN_OK);
    char *r = malloc(len + 1);
    ck_assert_int_eq(kiln_session_partition_report(s, r, len + 1, &len, &err), KILN_OK);
    return r;
}

/* x [2,3,4] → Add(x, W) → Relu → Mul(·, x) → Add(·, x) → Relu = y: all example-runnable, so a
 * fused group has temporaries (device scratch). */
static mb *chain_model(void) {
    mb *b = mb_new(8, 13);
    KilnOnnx__GraphProto *g = mb_graph(b);
    const int64_t dims[3] = {2, 3, 4};
    const float w[4] = {0.5f, -1.0f, 2.0f, 0.125f};
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 3, dims);
    mb_initializer(b, g, mb_tensor_raw(b, "W", KILN_DTYPE_FLOAT, 1, (const int64_t[]){4}, w, sizeof(w)));
    mb_node(b, g, "Add", "add0", (const char *[]){"x", "W", NULL}, (const char *[]){"a", NULL});
    mb_node(b, g, "Relu", "relu0", (const char *[]){"a", NULL}, (const char *[]){"r", NULL});
    mb_node(b, g, "Mul", "mul0", (const char *[]){"r", "x", NULL}, (const char *[]){"m", NULL});
    mb_node(b, g, "Add", "add1", (const char *[]){"m", "x", NULL}, (const char *[]){"s", NULL});
    mb_node(b, g, "Relu", "relu1", (const char *[]){"s", NULL}, (const char *[]){"y", NULL});
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, 3, dims);
    return b;
}

/* x → Add(x, x) → Sigmoid: testprov runs the Add, the CPU the Sigmoid. */
static mb *add_sigmoid_model(void) {
    mb *b = mb_new(8, 13);
    KilnOnnx__GraphProto *g = mb_graph(b);
    const int64_t dims[3] = {2, 3, 4};
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 3, dims);
    mb_node(b, g, "Add", "the_add", (const char *[]){"x", "x", NULL}, (const char *[]){"a", NULL});
    mb_node(b, g, "Sigmoid", "the_sigmoid", (const char *[]){"a", NULL}, (const char *[]){"y", NULL});
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, 3, dims);
    return b;
}

static kiln_tensor *input_x(int seed) {
    kiln_tensor *x = NULL;
    ck_assert_int_eq(kiln_tensor_create(env, KILN_DTYPE_FLOAT, (const int64_t[]){2, 3, 4}, 3, &x, &err), KILN_OK);
    float *d = kiln_tensor_data(x);
    for (int i = 0; i < 24; i++) d[i] = (float)(((i + seed) * 7) % 11) / 5.0f - 1.0f;
    return x;
}

static void same(kiln_tensor *a, kiln_tensor *b) {
    ck_assert_int_eq(kiln_tensor_element_count(a), kiln_tensor_element_count(b));
    const float *x = kiln_tensor_data(a), *y = kiln_tensor_data(b);
    for (int64_t i = 0; i < kiln_tensor_element_count(a); i++)
        ck_assert_msg(fabsf(x[i] - y[i]) <= 1e-6f * fabsf(x[i]) + 1e-7f, "element %lld: %.9g vs %.9g", (long long)i, x[i], y[i]);
}

/* Runs `b` on the CPU and with provider `name` (options `opts`) `runs` times on changing inputs. */
static void match_cpu(mb *b, const char *name, const char *const *opts, int runs) {
    kiln_session *cpu, *dev;
    ck_assert_int_eq(session(b, NULL, NULL, &cpu, &err), KILN_OK);
    ck_assert_msg(session(b, name, opts, &dev, &err) == KILN_OK, "%s", err.msg);
    for (int r = 0; r < runs; r++) {
        kiln_tensor *x = input_x(r), *oc = NULL, *od = NULL;
        ck_assert_int_eq(kiln_session_run(cpu, NULL, (const kiln_tensor *const *)&x, 1, NULL, &oc, 1, &err), KILN_OK);
        ck_assert_msg(kiln_session_run(dev, NULL, (const kiln_tensor *const *)&x, 1, NULL, &od, 1, &err) == KILN_OK, "run %d: %s",
                      r, err.msg);
        same(oc, od);
        kiln_tensor_destroy(oc);
        kiln_tensor_destroy(od);
        kiln_tensor_destroy(x);
    }
    kiln_session_destroy(cpu);
    kiln_session_destroy(dev);
}

START_TEST(abi11_table_loads_and_runs) {
    mb *b = add_sigmoid_model();
    match_cpu(b, "tp-v11", NULL, 3);
    kiln_session *s;
    ck_assert_msg(session(b, "tp-v11", NULL, &s, &err) == KILN_OK, "%s", err.msg);
    char *r = report(s);
    ck_assert_msg(strstr(r, "\"name\":\"the_add\",\"op\":\"Add\",\"provider\":\"testprov\""), "%s", r);
    free(r);
    kiln_session_destroy(s);
    mb_free(b);
}
END_TEST

START_TEST(fallback_error_fails_the_session) {
    mb *b = add_sigmoid_model();
    kiln_session *s = NULL;
    ck_assert_int_eq(session(b, "tp-greedy", (const char *[]){"fallback=error", NULL}, &s, &err), KILN_ERR_UNSUPPORTED);
    ck_assert_ptr_null(s);
    ck_assert_msg(strstr(err.msg, "the_sigmoid") && strstr(err.msg, "Sigmoid") && strstr(err.msg, "fallback=error"), "%s", err.msg);
    ck_assert_msg(session(b, "tp-greedy", (const char *[]){"fallback=cpu", NULL}, &s, &err) == KILN_OK, "%s", err.msg);
    kiln_session_destroy(s);
    ck_assert_int_eq(session(b, "tp-greedy", (const char *[]){"fallback=maybe", NULL}, &s, &err), KILN_ERR_INVALID_ARGUMENT);
    ck_assert_msg(strstr(err.msg, "fallback='maybe'"), "%s", err.msg);
    mb_free(b);
    /* Everything on the provider: fallback=error is satisfied. */
    b = chain_model();
    ck_assert_msg(session(b, "example", (const char *[]){"fallback=error", NULL}, &s, &err) == KILN_OK, "%s", err.msg);
    kiln_session_destroy(s);
    mb_free(b);
}
END_TEST

static char log_text[8192];
static void logger(void *user, kiln_log_level level, const char *msg) {
    (void)user;
    size_t n = strlen(log_text);
    snprintf(log_text + n, sizeof(log_text) - n, "%d:%s\n", (int)level, msg);
}

START_TEST(provider_log_reaches_the_logger) {
    log_text[0] = '\0';
    kiln_env_set_logger(env, KILN_LOG_DEBUG, logger, NULL);
    mb *b = chain_model();
    kiln_session *s;
    ck_assert_msg(session(b, "example", (const char *[]){"bogus=1", NULL}, &s, &err) == KILN_OK, "%s", err.msg);
    ck_assert_msg(strstr(log_text, "[example] unknown option bogus=1 ignored"), "%s", log_text);
    kiln_session_destroy(s);
    /* A 1.1 provider has only the context-less slot: its lines reach the logger too. */
    log_text[0] = '\0';
    ck_assert_msg(session(b, "tp-v11", NULL, &s, &err) == KILN_OK, "%s", err.msg);
    ck_assert_msg(strstr(log_text, "1:[testprov] a 1.1 provider instance was created"), "%s", log_text);
    kiln_session_destroy(s);
    mb_free(b);
}
END_TEST

START_TEST(async_stream_and_device_scratch_match_cpu) {
    mb *b = chain_model();
    match_cpu(b, "example", NULL, 4);                                /* one fused group with temporaries */
    match_cpu(b, "example", (const char *[]){"fuse=0", NULL}, 4);    /* one queued kernel per node */
    match_cpu(b, "example", (const char *[]){"graphs=1", NULL}, 4);  /* copies in the run: no replay */
    mb_free(b);
}
END_TEST

START_TEST(graphs_replay_over_bound_device_tensors) {
    log_text[0] = '\0';
    kiln_env_set_logger(env, KILN_LOG_DEBUG, logger, NULL);
    mb *b = chain_model();
    kiln_session *cpu, *dev;
    ck_assert_int_eq(session(b, NULL, NULL, &cpu, &err), KILN_OK);
    ck_assert_msg(session(b, "example", (const char *[]){"graphs=1", NULL}, &dev, &err) == KILN_OK, "%s", err.msg);
    const int64_t dims[3] = {2, 3, 4};
    kiln_tensor *dx, *dy, *hy;
    ck_assert_int_eq(kiln_session_tensor_create(dev, "example:device", KILN_DTYPE_FLOAT, dims, 3, &dx, &err), KILN_OK);
    ck_assert_int_eq(kiln_session_tensor_create(dev, "example:device", KILN_DTYPE_FLOAT, dims, 3, &dy, &err), KILN_OK);
    ck_assert_int_eq(kiln_tensor_create(env, KILN_DTYPE_FLOAT, dims, 3, &hy, &err), KILN_OK);
    kiln_binding *bd;
    ck_assert_int_eq(kiln_binding_create(dev, &bd, &err), KILN_OK);
    ck_assert_msg(kiln_binding_bind_input(bd, "x", dx, &err) == KILN_OK, "%s", err.msg);
    ck_assert_msg(kiln_binding_bind_output(bd, "y", dy, &err) == KILN_OK, "%s", err.msg);
    for (int r = 0; r < 5; r++) {
        kiln_tensor *x = input_x(r), *oc = NULL;
        ck_assert_int_eq(kiln_session_tensor_copy(dev, x, dx, &err), KILN_OK);
        ck_assert_msg(kiln_session_run_binding(dev, bd, &err) == KILN_OK, "run %d: %s", r, err.msg);
        ck_assert_int_eq(kiln_session_tensor_copy(dev, dy, hy, &err), KILN_OK);
        ck_assert_int_eq(kiln_session_run(cpu, NULL, (const kiln_tensor *const *)&x, 1, NULL, &oc, 1, &err), KILN_OK);
        same(oc, hy);
        kiln_tensor_destroy(oc);
        kiln_tensor_destroy(x);
    }
    /* Recording run, planned run captured, later runs replayed. */
    ck_assert_msg(strstr(log_text, "[example] replaying a captured run of 1 kernels"), "%s", log_text);
    kiln_binding_destroy(bd);
    kiln_tensor_destroy(dx);
    kiln_tensor_destroy(dy);
    kiln_tensor_destroy(hy);
    kiln_session_destroy(dev);
    kiln_session_destroy(cpu);
    mb_free(b);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("abi12");
    TCase *tc = tcase_create("abi12");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, abi11_table_loads_and_runs);
    tcase_add_test(tc, fallback_error_fails_the_session);
    tcase_add_test(tc, provider_log_reaches_the_logger);
    tcase_add_test(tc, async_stream_and_device_scratch_match_cpu);
    tcase_add_test(tc, graphs_replay_over_bound_device_tensors);
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
