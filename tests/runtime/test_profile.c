/* SPDX-License-Identifier: MIT */
/* Profiling: the trace is well-formed JSON in Chrome's trace format with the session's phases,
 * one span per run and one per node (name, op, provider, input shapes); per-op totals; a
 * profile without a file; a trace file that cannot be created. */
#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models.h"

static kiln_env *env;
static kiln_error err;

static void setup(void) { ck_assert_int_eq(kiln_env_create(&env, &err), KILN_OK); }
static void teardown(void) { kiln_env_destroy(env); }

/* ---- a JSON syntax check (RFC 8259 values; enough to know a viewer can parse the file) ---- */

static const char *ws(const char *p) {
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') p++;
    return p;
}

static const char *value(const char *p, int depth);

static const char *string(const char *p) {
    if (*p != '"') return NULL;
    for (p++; *p && *p != '"'; p++) {
        if ((unsigned char)*p < 0x20) return NULL;
        if (*p == '\\') {
            p++;
            if (*p == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (!isxdigit((unsigned char)p[i])) return NULL;
                p += 4;
            } else if (!strchr("\"\\/bfnrt", *p) || !*p) {
                return NULL;
            }
        }
    }
    return *p == '"' ? p + 1 : NULL;
}

static const char *number(const char *p) {
    const char *s = p;
    if (*p == '-') p++;
    if (!isdigit((unsigned char)*p)) return NULL;
    while (isdigit((unsigned char)*p)) p++;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p)) return NULL;
        while (isdigit((unsigned char)*p)) p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        if (!isdigit((unsigned char)*p)) return NULL;
        while (isdigit((unsigned char)*p)) p++;
    }
    return p > s ? p : NULL;
}

static const char *members(const char *p, char close, int depth) {
    p = ws(p + 1);
    if (*p == close) return p + 1;
    for (;;) {
        if (close == '}') {
            p = string(ws(p));
            if (!p) return NULL;
            p = ws(p);
            if (*p++ != ':') return NULL;
        }
        p = value(p, depth + 1);
        if (!p) return NULL;
        p = ws(p);
        if (*p == close) return p + 1;
        if (*p++ != ',') return NULL;
    }
}

static const char *value(const char *p, int depth) {
    if (depth > 64) return NULL;
    p = ws(p);
    if (*p == '{') return members(p, '}', depth);
    if (*p == '[') return members(p, ']', depth);
    if (*p == '"') return string(p);
    if (!strncmp(p, "true", 4)) return p + 4;
    if (!strncmp(p, "false", 5)) return p + 5;
    if (!strncmp(p, "null", 4)) return p + 4;
    return number(p);
}

static int valid_json(const char *s) {
    const char *p = value(s, 0);
    return p && *ws(p) == '\0';
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = calloc((size_t)n + 1, 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) s[0] = '\0';
    fclose(f);
    return s;
}

static size_t count(const char *s, const char *needle) {
    size_t n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle)) n++;
    return n;
}

static kiln_session *profiled(mb *b, const char *path, kiln_status want) {
    size_t size;
    const uint8_t *bytes = mb_pack(b, &size);
    kiln_session_options *o;
    ck_assert_int_eq(kiln_session_options_create(&o, &err), KILN_OK);
    ck_assert_int_eq(kiln_session_options_set_intra_op_threads(o, 1, &err), KILN_OK);
    ck_assert_int_eq(kiln_session_options_enable_profiling(o, path, &err), KILN_OK);
    /* The per-op counts checked here are of the model as written. */
    ck_assert_int_eq(kiln_session_options_set_optimization_level(o, KILN_OPT_DISABLED, &err), KILN_OK);
    kiln_session *s = NULL;
    ck_assert_int_eq(kiln_session_create_from_buffer(env, bytes, size, o, &s, &err), want);
    kiln_session_options_destroy(o);
    return s;
}

static void run(kiln_session *s, int times) {
    float xv[2 * RT_CNN_X];
    rt_fill(xv, 2 * RT_CNN_X, 1);
    kiln_tensor *x;
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){2, 4, 8, 8}, 4, xv, sizeof(xv), &x, &err), KILN_OK);
    for (int r = 0; r < times; r++) {
        kiln_tensor *out[2] = {NULL, NULL};
        ck_assert_int_eq(kiln_session_run(s, NULL, (const kiln_tensor *const *)&x, 1, NULL, out, 2, &err), KILN_OK);
        kiln_tensor_destroy(out[0]);
        kiln_tensor_destroy(out[1]);
    }
    kiln_tensor_destroy(x);
}

START_TEST(trace_file) {
    char path[] = "/tmp/kiln-profile-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    mb *b = rt_cnn_model(2);
    kiln_session *s = profiled(b, path, KILN_OK);
    run(s, 3);
    kiln_op_profile ops[16];
    size_t n = kiln_session_profile_ops(s, ops, 16);
    ck_assert_uint_eq(n, 8); /* Conv Relu Add Sigmoid Flatten Gemm Reshape Mul */
    kiln_session_destroy(s);
    char *t = slurp(path);
    ck_assert_ptr_nonnull(t);
    ck_assert_msg(valid_json(t), "the trace is not valid JSON");
    ck_assert_ptr_eq(strstr(t, "{\"displayTimeUnit\""), t);
    ck_assert_ptr_nonnull(strstr(t, "\"traceEvents\":["));
    const char *phases[] = {"load", "infer", "optimize", "partition", "plan", "first_run"};
    for (int i = 0; i < 6; i++) {
        char want[64];
        snprintf(want, sizeof(want), "\"cat\":\"session\",\"name\":\"%s\"", phases[i]);
        ck_assert_msg(count(t, want) == 1, "phase %s", phases[i]);
    }
    ck_assert_uint_eq(count(t, "\"cat\":\"run\""), 3);
    ck_assert_uint_eq(count(t, "\"cat\":\"node\""), 3 * 9);
    ck_assert_uint_eq(count(t, "\"name\":\"conv1\""), 3);
    ck_assert_ptr_nonnull(strstr(t, "\"args\":{\"op\":\"Conv\",\"provider\":\"cpu\",\"input_shapes\":\"[2,4,8,8] [8,4,3,3] [8]\""));
    ck_assert_ptr_nonnull(strstr(t, "\"op\":\"Mul\",\"provider\":\"cpu\",\"input_shapes\":\"[2,8,64] []\""));
    ck_assert_uint_eq(count(t, "\"ph\":\"X\""), 6 + 3 + 27);
    free(t);
    unlink(path);
    mb_free(b);
}
END_TEST

START_TEST(op_totals_without_file) {
    mb *b = rt_cnn_model(2);
    kiln_session *s = profiled(b, NULL, KILN_OK);
    ck_assert_uint_eq(kiln_session_profile_ops(s, NULL, 0), 0);
    run(s, 4);
    kiln_op_profile ops[16];
    size_t n = kiln_session_profile_ops(s, ops, 16);
    ck_assert_uint_eq(n, 8);
    uint64_t conv = 0;
    for (size_t i = 0; i < n; i++) {
        if (i) ck_assert_uint_ge(ops[i - 1].total_ns, ops[i].total_ns); /* most time first */
        if (!strcmp(ops[i].op_type, "Conv")) {
            ck_assert_uint_eq(ops[i].count, 8);
            conv = ops[i].total_ns;
        }
        if (!strcmp(ops[i].op_type, "Relu")) ck_assert_uint_eq(ops[i].count, 4);
    }
    ck_assert_uint_gt(conv, 0);
    ck_assert_uint_eq(kiln_session_profile_ops(s, ops, 2), 8); /* count even when cap is short */
    kiln_session_destroy(s);
    /* Not profiled: nothing. */
    size_t size;
    const uint8_t *bytes = mb_pack(b, &size);
    ck_assert_int_eq(kiln_session_create_from_buffer(env, bytes, size, NULL, &s, &err), KILN_OK);
    run(s, 1);
    ck_assert_uint_eq(kiln_session_profile_ops(s, ops, 16), 0);
    ck_assert_uint_eq(kiln_session_profile_ops(NULL, ops, 16), 0);
    kiln_session_destroy(s);
    mb_free(b);
}
END_TEST

START_TEST(unwritable_trace) {
    mb *b = rt_cnn_model(2);
    kiln_session *s = profiled(b, "/nonexistent-dir/kiln/trace.json", KILN_ERR_IO);
    ck_assert_ptr_null(s);
    ck_assert_ptr_nonnull(strstr(err.msg, "cannot create the profile"));
    ck_assert_int_eq(kiln_session_options_enable_profiling(NULL, "x", &err), KILN_ERR_INVALID_ARGUMENT);
    mb_free(b);
}
END_TEST

int main(void) {
    Suite *su = suite_create("profile");
    TCase *tc = tcase_create("profile");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, trace_file);
    tcase_add_test(tc, op_totals_without_file);
    tcase_add_test(tc, unwritable_trace);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
