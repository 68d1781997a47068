/* SPDX-License-Identifier: MIT */
/* The CUDA provider without a GPU: option parsing (tf32, graphs, precision, mem_limit; unknown keys
 * warned about), claim decisions per op, dtype, rank and attribute, and loading the provider where
 * there is no device: session creation succeeds, the report lists the provider as skipped, a
 * "no CUDA device" line reaches the logger, and the CPU computes the outputs. Where there is a
 * GPU, the same model runs on it and must match the CPU (and the no-device checks are skipped
 * with a message). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/model_builder.h"
#include "cu_options.h"
#include "kiln.h"

START_TEST(options_parse) {
    cu_options o;
    char warn[512], msg[256];
    const char *k1[] = {"tf32", "graphs", "precision", "mem_limit"}, *v1[] = {"1", "1", "fp32", "1048576"};
    ck_assert_int_eq(cu_options_parse(k1, v1, 4, &o, warn, sizeof(warn), msg, sizeof(msg)), 0);
    ck_assert(o.tf32 && o.graphs && !o.fp16 && o.mem_limit == 1048576);
    ck_assert_str_eq(warn, "");
    const char *k2[] = {"color"}, *v2[] = {"blue"};
    ck_assert_int_eq(cu_options_parse(k2, v2, 1, &o, warn, sizeof(warn), msg, sizeof(msg)), 0);
    ck_assert_msg(strstr(warn, "unknown option color=blue ignored"), "%s", warn);
    ck_assert(!o.tf32 && !o.graphs);
    const char *k3[] = {"tf32"}, *v3[] = {"yes"};
    ck_assert_int_eq(cu_options_parse(k3, v3, 1, &o, warn, sizeof(warn), msg, sizeof(msg)), -1);
    ck_assert_msg(strstr(msg, "bad value 'yes' for option tf32"), "%s", msg);
    const char *k4[] = {"precision"}, *v4[] = {"fp16"};
    ck_assert_int_eq(cu_options_parse(k4, v4, 1, &o, warn, sizeof(warn), msg, sizeof(msg)), -1);
    ck_assert_msg(strstr(msg, "precision=fp16 is not implemented"), "%s", msg);
    const char *k5[] = {"mem_limit"}, *v5[] = {"-3"};
    ck_assert_int_eq(cu_options_parse(k5, v5, 1, &o, warn, sizeof(warn), msg, sizeof(msg)), -1);
}
END_TEST

static cu_node_facts facts(const char *op, uint32_t n_in, int32_t dt, int32_t r0, int32_t r1) {
    cu_node_facts f;
    memset(&f, 0, sizeof(f));
    f.op = op;
    f.domain = "";
    f.opset = 17;
    f.n_in = n_in;
    f.n_out = 1;
    f.axis = -1;
    for (int i = 0; i < 4; i++) f.rank[i] = -1;
    f.dtype[0] = dt;
    f.rank[0] = r0;
    if (n_in > 1) f.dtype[1] = dt, f.rank[1] = r1;
    if (n_in > 2) f.dtype[2] = dt, f.rank[2] = 1;
    f.out_rank = r0 > r1 ? r0 : r1;
    return f;
}

START_TEST(claim_decisions) {
    cu_node_facts f = facts("Add", 2, KILN_DTYPE_FLOAT, 4, 1);
    ck_assert_int_eq(cu_claim_decide(&f), CU_K_BINARY);
    f = facts("Add", 2, KILN_DTYPE_INT64, 2, 2); /* float only */
    ck_assert_int_eq(cu_claim_decide(&f), CU_K_NONE);
    f = facts("Mul", 2, KILN_DTYPE_FLOAT, 7, 1); /* rank above the kernel's 6 */
    ck_assert_int_eq(cu_claim_decide(&f), CU_K_NONE);
    f = facts("Max", 3, KILN_DTYPE_FLOAT, 2, 2); /* variadic: two inputs only */
    ck_assert_int_eq(cu_claim_decide(&f), CU_K_NONE);
    f = facts("Relu", 1, KILN_DTYPE_FLOAT, 3, -1);
    ck_assert_int_eq(cu_claim_decide(&f), CU_K_UNARY);
    f = facts("Gelu", 1, KILN_DTYPE_FLOAT, 3, -1);
    f.has_other_attrs = 1; /* approximate="tanh" */
    ck_assert_int_eq(cu_claim_decide(&f), CU_K_NONE);
    f = facts("Softmax", 1, KILN_DTYPE_FLOAT, 3, -1);
    ck_assert_int_eq(cu_claim_decide(&f), CU_K_SOFTMAX);
    f.axis = 1; /* not the last axis */
    ck_assert_int_eq(cu_claim_decide(&f), CU_K_NONE);
    f = facts("Softmax", 1, KILN_DTYPE_FLOAT, 3, -1);
    f.opset = 11; /* coerced-2D semantics before 13 */
    ck_assert_int_eq(cu_claim_decide(&f), CU_K_NONE);
    f = facts("LayerNormalization", 3, KILN_DTYPE_FLOAT, 3, 1);
    ck_assert_int_eq(cu_claim_decide(&f), CU_K_LAYERNORM);
    f.n_out = 3; /* Mean and InvStdDev asked for */
    ck_assert_int_eq(cu_claim_decide(&f), CU_K_NONE);
    f = facts("MatMul", 2, KILN_DTYPE_FLOAT, 3, 2);
    ck_assert_int_eq(cu_claim_decide(&f), CU_K_MATMUL);
    f = facts("MatMul", 2, KILN_DTYPE_FLOAT, 4, 3); /* batch broadcast of different ranks */
    ck_assert_int_eq(cu_claim_decide(&f), CU_K_NONE);
    f = facts("MatMul", 2, KILN_DTYPE_FLOAT, 1, 2); /* a vector operand */
    ck_assert_int_eq(cu_claim_decide(&f), CU_K_NONE);
    f = facts("Gemm", 3, KILN_DTYPE_FLOAT, 2, 2);
    ck_assert_int_eq(cu_claim_decide(&f), CU_K_GEMM);
    f = facts("Transpose", 1, KILN_DTYPE_INT64, 4, -1);
    ck_assert_int_eq(cu_claim_decide(&f), CU_K_TRANSPOSE);
    f = facts("Conv", 2, KILN_DTYPE_FLOAT, 4, 4); /* not in this build */
    ck_assert_int_eq(cu_claim_decide(&f), CU_K_NONE);
    f = facts("Add", 2, KILN_DTYPE_FLOAT, 2, 2);
    f.domain = "com.microsoft";
    ck_assert_int_eq(cu_claim_decide(&f), CU_K_NONE);
}
END_TEST

static char log_text[8192];
static void logger(void *user, kiln_log_level level, const char *msg) {
    (void)user;
    size_t n = strlen(log_text);
    snprintf(log_text + n, sizeof(log_text) - n, "%d:%s\n", (int)level, msg);
}

/* x [4,8] → MatMul(x, W [8,8]) → Add(·, b) → Relu → Softmax = y. */
static mb *small_model(void) {
    mb *b = mb_new(8, 17);
    KilnOnnx__GraphProto *g = mb_graph(b);
    float w[64], bias[8];
    for (int i = 0; i < 64; i++) w[i] = (float)((i * 5) % 13) / 13.0f - 0.5f;
    for (int i = 0; i < 8; i++) bias[i] = 0.1f * (float)i - 0.3f;
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 2, (const int64_t[]){4, 8});
    mb_initializer(b, g, mb_tensor_raw(b, "W", KILN_DTYPE_FLOAT, 2, (const int64_t[]){8, 8}, w, sizeof(w)));
    mb_initializer(b, g, mb_tensor_raw(b, "B", KILN_DTYPE_FLOAT, 1, (const int64_t[]){8}, bias, sizeof(bias)));
    mb_node(b, g, "MatMul", "mm", (const char *[]){"x", "W", NULL}, (const char *[]){"m", NULL});
    mb_node(b, g, "Add", "add", (const char *[]){"m", "B", NULL}, (const char *[]){"a", NULL});
    mb_node(b, g, "Relu", "relu", (const char *[]){"a", NULL}, (const char *[]){"r", NULL});
    mb_node(b, g, "Softmax", "sm", (const char *[]){"r", NULL}, (const char *[]){"y", NULL});
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, 2, (const int64_t[]){4, 8});
    return b;
}

START_TEST(loads_without_a_device_and_falls_back) {
    kiln_env *env;
    kiln_error err;
    ck_assert_int_eq(kiln_env_create(&env, &err), KILN_OK);
    log_text[0] = '\0';
    kiln_env_set_logger(env, KILN_LOG_DEBUG, logger, NULL);
    mb *b = small_model();
    size_t n;
    const uint8_t *buf = mb_pack(b, &n);
    kiln_session_options *o;
    ck_assert_int_eq(kiln_session_options_create(&o, &err), KILN_OK);
    ck_assert_int_eq(kiln_session_options_set_optimization_level(o, KILN_OPT_DISABLED, &err), KILN_OK); /* node names as written */
    ck_assert_int_eq(kiln_session_options_append_provider(o, getenv("KILN_CUDA_PROVIDER"), NULL, &err), KILN_OK);
    kiln_session *cuda, *cpu;
    ck_assert_msg(kiln_session_create_from_buffer(env, buf, n, o, &cuda, &err) == KILN_OK, "%s", err.msg);
    ck_assert_int_eq(kiln_session_create_from_buffer(env, buf, n, NULL, &cpu, &err), KILN_OK);
    size_t len = 0;
    ck_assert_int_eq(kiln_session_partition_report(cuda, NULL, 0, &len, &err), KILN_OK);
    char *r = malloc(len + 1);
    ck_assert_int_eq(kiln_session_partition_report(cuda, r, len + 1, &len, &err), KILN_OK);
    int no_device = strstr(log_text, "[cuda] no CUDA device") != NULL;
    if (no_device) {
        ck_assert_msg(strstr(r, "\"skipped\"") && strstr(r, "cuda"), "%s", r);
        ck_assert_msg(strstr(r, "\"name\":\"mm\",\"op\":\"MatMul\",\"provider\":\"cpu\""), "%s", r);
        ck_assert_msg(strstr(log_text, "found no device"), "%s", log_text);
    } else {
        fprintf(stderr, "# a CUDA device is present: the no-device checks are skipped, the outputs are compared\n");
        ck_assert_msg(strstr(r, "\"name\":\"mm\",\"op\":\"MatMul\",\"provider\":\"cuda\""), "%s", r);
    }
    free(r);
    kiln_tensor *x, *yc = NULL, *yd = NULL;
    ck_assert_int_eq(kiln_tensor_create(env, KILN_DTYPE_FLOAT, (const int64_t[]){4, 8}, 2, &x, &err), KILN_OK);
    float *xd = kiln_tensor_data(x);
    for (int i = 0; i < 32; i++) xd[i] = (float)((i * 7) % 11) / 5.0f - 1.0f;
    for (int run = 0; run < 3; run++) {
        ck_assert_msg(kiln_session_run(cuda, NULL, (const kiln_tensor *const *)&x, 1, NULL, &yd, 1, &err) == KILN_OK, "%s", err.msg);
        ck_assert_int_eq(kiln_session_run(cpu, NULL, (const kiln_tensor *const *)&x, 1, NULL, &yc, 1, &err), KILN_OK);
        const float *a = kiln_tensor_data(yc), *d = kiln_tensor_data(yd);
        for (int i = 0; i < 32; i++) ck_assert_msg(fabsf(a[i] - d[i]) <= 1e-5f, "element %d: %g vs %g", i, a[i], d[i]);
        kiln_tensor_destroy(yc);
        kiln_tensor_destroy(yd);
        yc = yd = NULL;
    }
    kiln_tensor_destroy(x);
    kiln_session_destroy(cuda);
    kiln_session_destroy(cpu);
    kiln_session_options_destroy(o);
    mb_free(b);
    kiln_env_destroy(env);
}
END_TEST

START_TEST(fp16_option_is_refused_clearly) {
    kiln_env *env;
    kiln_error err;
    ck_assert_int_eq(kiln_env_create(&env, &err), KILN_OK);
    mb *b = small_model();
    size_t n;
    const uint8_t *buf = mb_pack(b, &n);
    kiln_session_options *o;
    ck_assert_int_eq(kiln_session_options_create(&o, &err), KILN_OK);
    ck_assert_int_eq(kiln_session_options_append_provider(o, getenv("KILN_CUDA_PROVIDER"), (const char *[]){"precision=fp16", NULL}, &err),
                     KILN_OK);
    kiln_session *s = NULL;
    kiln_status st = kiln_session_create_from_buffer(env, buf, n, o, &s, &err);
    if (s) { /* no device: the provider was never asked to create an instance */
        fprintf(stderr, "# no CUDA device: create_provider is not called, precision=fp16 cannot be refused here\n");
        kiln_session_destroy(s);
    } else {
        ck_assert_int_eq(st, KILN_ERR_INVALID_ARGUMENT);
        ck_assert_msg(strstr(err.msg, "precision=fp16 is not implemented"), "%s", err.msg);
    }
    kiln_session_options_destroy(o);
    mb_free(b);
    kiln_env_destroy(env);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("cuda");
    TCase *tc = tcase_create("cuda");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, options_parse);
    tcase_add_test(tc, claim_decisions);
    tcase_add_test(tc, loads_without_a_device_and_falls_back);
    tcase_add_test(tc, fp16_option_is_refused_clearly);
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
