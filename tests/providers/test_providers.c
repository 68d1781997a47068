/* SPDX-License-Identifier: MIT */
/* Providers through the public API: loading errors named by file (not found, not a shared
 * object, no entry symbol, a blind or foreign version, failing init, NULL slots, a misused claim
 * sink), zero devices, partitioning (groups split around cycles, shape-only nodes, falling back
 * after a refusal), copies and uploads with the example provider giving CPU's outputs, two
 * device providers at once, failing kernels and device memory at run, every allocation failing,
 * concurrent runs, and rt-run's --provider. */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/model_builder.h"
#include "common/test_alloc.h"
#include "kiln.h"

static kiln_env *env;
static kiln_error err;
static char path_buf[8][4096];
static int path_next;

static void setup(void) { ck_assert_int_eq(kiln_env_create(&env, &err), KILN_OK); }
static void teardown(void) { kiln_env_destroy(env); }

/* build/tests/providers/kiln-provider-NAME.so, or the example provider for "example". */
static const char *lib(const char *name) {
    const char *dir = strcmp(name, "example") ? getenv("KILN_TEST_PROVIDER_DIR") : getenv("KILN_EXAMPLE_PROVIDER_DIR");
    ck_assert_msg(dir != NULL, "the test environment names no provider folder");
    char *p = path_buf[path_next++ % 8];
    snprintf(p, 4096, "%s/kiln-provider-%s.so", dir, name);
    return p;
}

/* Creates a session over the built model asking `names` (NULL-terminated; each may carry
 * options after a '|': "example|device_memory=16"). */
static kiln_status session(mb *b, const char *const *names, kiln_env *e, kiln_session **s, kiln_error *er) {
    size_t n;
    const uint8_t *buf = mb_pack(b, &n);
    kiln_session_options *o = NULL;
    ck_assert_int_eq(kiln_session_options_create(&o, er), KILN_OK);
    /* Partitioning of the graphs as written (constant folding would compute their shape nodes). */
    ck_assert_int_eq(kiln_session_options_set_optimization_level(o, KILN_OPT_DISABLED, er), KILN_OK);
    for (int i = 0; names && names[i]; i++) {
        char spec[256];
        snprintf(spec, sizeof(spec), "%s", names[i]);
        char *bar = strchr(spec, '|');
        const char *opts[2] = {bar ? bar + 1 : NULL, NULL};
        if (bar) *bar = '\0';
        kiln_status st = kiln_session_options_append_provider(o, strchr(spec, '/') ? spec : lib(spec), opts, er);
        if (st != KILN_OK) {
            kiln_session_options_destroy(o);
            return st;
        }
    }
    kiln_status st = kiln_session_create_from_buffer(e, buf, n, o, s, er);
    kiln_session_options_destroy(o);
    return st;
}

static char *report(const kiln_session *s) {
    size_t len = 0;
    ck_assert_int_eq(kiln_session_partition_report(s, NULL, 0, &len, &err), KILN_OK);
    char *r = malloc(len + 1);
    ck_assert_int_eq(kiln_session_partition_report(s, r, len + 1, &len, &err), KILN_OK);
    ck_assert_uint_eq(strlen(r), len);
    return r;
}

/* x [2,3,4] → Add(x, W) → Relu = r → Sigmoid (CPU only) → Mul(·, x) → Add(·, r) → Relu = z;
 * outputs z and r (r is also read inside, before and after the CPU node). */
static mb *mixed_model(void) {
    mb *b = mb_new(8, 13);
    KilnOnnx__GraphProto *g = mb_graph(b);
    const int64_t dims[3] = {2, 3, 4};
    const float w[4] = {0.5f, -1.0f, 2.0f, 0.125f};
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 3, dims);
    mb_initializer(b, g, mb_tensor_raw(b, "W", KILN_DTYPE_FLOAT, 1, (const int64_t[]){4}, w, sizeof(w)));
    mb_node(b, g, "Add", "add0", (const char *[]){"x", "W", NULL}, (const char *[]){"a", NULL});
    mb_node(b, g, "Relu", "relu0", (const char *[]){"a", NULL}, (const char *[]){"r", NULL});
    mb_node(b, g, "Sigmoid", "sig0", (const char *[]){"r", NULL}, (const char *[]){"s", NULL});
    mb_node(b, g, "Mul", "mul0", (const char *[]){"s", "x", NULL}, (const char *[]){"m", NULL});
    mb_node(b, g, "Add", "add1", (const char *[]){"m", "r", NULL}, (const char *[]){"y", NULL});
    mb_node(b, g, "Relu", "relu1", (const char *[]){"y", NULL}, (const char *[]){"z", NULL});
    mb_output(b, g, "z", KILN_DTYPE_FLOAT, 3, dims);
    mb_output(b, g, "r", KILN_DTYPE_FLOAT, 3, dims);
    return b;
}

static kiln_tensor *input_x(kiln_env *e) {
    kiln_tensor *x = NULL;
    if (kiln_tensor_create(e, KILN_DTYPE_FLOAT, (const int64_t[]){2, 3, 4}, 3, &x, &err) != KILN_OK) return NULL;
    float *d = kiln_tensor_data(x);
    for (int i = 0; i < 24; i++) d[i] = (float)((i * 7) % 11) / 5.0f - 1.0f;
    return x;
}

/* Equal within 1e-6 relative: providers may round a transcendental function differently. */
static void same_outputs(kiln_tensor **a, kiln_tensor **b, size_t n) {
    for (size_t k = 0; k < n; k++) {
        ck_assert_int_eq(kiln_tensor_element_count(a[k]), kiln_tensor_element_count(b[k]));
        const float *x = kiln_tensor_data(a[k]), *y = kiln_tensor_data(b[k]);
        for (int64_t i = 0; i < kiln_tensor_element_count(a[k]); i++)
            ck_assert_msg(fabsf(x[i] - y[i]) <= 1e-6f * fabsf(x[i]) + 1e-7f, "output %zu element %lld: %.9g vs %.9g", k,
                          (long long)i, x[i], y[i]);
    }
}

static void run_both(mb *b, const char *const *names, char **rep) {
    kiln_session *cpu, *dev;
    ck_assert_int_eq(session(b, NULL, env, &cpu, &err), KILN_OK);
    ck_assert_msg(session(b, names, env, &dev, &err) == KILN_OK, "%s", err.msg);
    kiln_tensor *x = input_x(env), *oc[2] = {0}, *od[2] = {0};
    size_t no = kiln_session_output_count(cpu);
    ck_assert_int_eq(kiln_session_run(cpu, NULL, (const kiln_tensor *const *)&x, 1, NULL, oc, no, &err), KILN_OK);
    for (int r = 0; r < 2; r++) {
        ck_assert_msg(kiln_session_run(dev, NULL, (const kiln_tensor *const *)&x, 1, NULL, od, no, &err) == KILN_OK, "%s", err.msg);
        same_outputs(oc, od, no);
        for (size_t k = 0; k < no; k++) kiln_tensor_destroy(od[k]), od[k] = NULL;
    }
    if (rep) *rep = report(dev);
    for (size_t k = 0; k < no; k++) kiln_tensor_destroy(oc[k]);
    kiln_tensor_destroy(x);
    kiln_session_destroy(cpu);
    kiln_session_destroy(dev);
}

START_TEST(example_matches_cpu_with_groups_and_copies) {
    mb *b = mixed_model();
    char *r;
    run_both(b, (const char *[]){"example", NULL}, &r);
    /* The connected set add0-relu0-mul0-add1-relu1 is split around the CPU's Sigmoid. */
    ck_assert_msg(strstr(r, "\"name\":\"example_group_0\",\"provider\":\"example\",\"nodes\":[\"add0\",\"relu0\"]"), "%s", r);
    ck_assert_msg(strstr(r, "\"nodes\":[\"mul0\",\"add1\",\"relu1\"]"), "%s", r);
    ck_assert_msg(strstr(r, "{\"graph\":\"main\",\"name\":\"sig0\",\"op\":\"Sigmoid\",\"provider\":\"cpu\",\"group\":null}") ||
                      strstr(r, "\"name\":\"sig0\",\"op\":\"Sigmoid\",\"provider\":\"cpu\""),
                  "%s", r);
    ck_assert_msg(strstr(r, "\"from\":\"host\",\"to\":\"example:device\",\"values\":[\"x\"]"), "%s", r);
    ck_assert_msg(strstr(r, "\"from\":\"example:device\",\"to\":\"host\""), "%s", r);
    ck_assert_msg(strstr(r, "\"from\":\"host\",\"to\":\"example:device\",\"values\":[\"s\"]"), "%s", r);
    /* W goes up once and is released when its only reader has pre-packed it. */
    ck_assert_msg(strstr(r, "\"value\":\"W\",\"to\":\"example:device\",\"bytes\":16,\"released_after_prepack\":true"), "%s", r);
    /* 2 runs x 4 copies (x up, r and z down, s up), plus the upload of W. */
    ck_assert_msg(strstr(r, "\"nodes\":5,\"copy_calls\":9,"), "%s", r);
    free(r);
    mb_free(b);
}
END_TEST

START_TEST(example_kernels_without_fusion) {
    mb *b = mixed_model();
    char *r;
    run_both(b, (const char *[]){"example|fuse=0", NULL}, &r);
    ck_assert_msg(strstr(r, "\"groups\":[]"), "%s", r);
    ck_assert_msg(strstr(r, "\"name\":\"add1\",\"op\":\"Add\",\"provider\":\"example\""), "%s", r);
    free(r);
    mb_free(b);
}
END_TEST

/* a = Add(x, x) and m = Mul(s, a) are connected, but a -> Sigmoid (CPU) -> m makes fusing them
 * a cycle: the host splits the proposal. */
START_TEST(group_split_around_a_cycle) {
    mb *b = mb_new(8, 13);
    KilnOnnx__GraphProto *g = mb_graph(b);
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 3, (const int64_t[]){2, 3, 4});
    mb_node(b, g, "Add", "A", (const char *[]){"x", "x", NULL}, (const char *[]){"a", NULL});
    mb_node(b, g, "Sigmoid", "S", (const char *[]){"a", NULL}, (const char *[]){"s", NULL});
    mb_node(b, g, "Mul", "M", (const char *[]){"s", "a", NULL}, (const char *[]){"y", NULL});
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, 3, (const int64_t[]){2, 3, 4});
    char *r;
    run_both(b, (const char *[]){"example", NULL}, &r);
    ck_assert_msg(strstr(r, "\"nodes\":[\"A\"]") && strstr(r, "\"nodes\":[\"M\"]"), "%s", r);
    free(r);
    mb_free(b);
}
END_TEST

/* sh = Add(c1, c0) only feeds Reshape's shape: it stays on the CPU unless the claim insists. */
static mb *shape_model(void) {
    mb *b = mb_new(8, 13);
    KilnOnnx__GraphProto *g = mb_graph(b);
    const int64_t c1[2] = {4, 6}, c0[2] = {0, 0};
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 3, (const int64_t[]){2, 3, 4});
    mb_initializer(b, g, mb_tensor_raw(b, "c1", KILN_DTYPE_INT64, 1, (const int64_t[]){2}, c1, sizeof(c1)));
    mb_initializer(b, g, mb_tensor_raw(b, "c0", KILN_DTYPE_INT64, 1, (const int64_t[]){2}, c0, sizeof(c0)));
    mb_node(b, g, "Add", "shape_add", (const char *[]){"c1", "c0", NULL}, (const char *[]){"sh", NULL});
    mb_node(b, g, "Reshape", "reshape", (const char *[]){"x", "sh", NULL}, (const char *[]){"r", NULL});
    mb_node(b, g, "Add", "data_add", (const char *[]){"r", "r", NULL}, (const char *[]){"y", NULL});
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, 2, (const int64_t[]){4, 6});
    return b;
}

START_TEST(shape_only_nodes_stay_on_cpu) {
    mb *b = shape_model();
    char *r;
    run_both(b, (const char *[]){"tp-greedy", NULL}, &r);
    ck_assert_msg(strstr(r, "\"name\":\"shape_add\",\"op\":\"Add\",\"provider\":\"cpu\""), "%s", r);
    ck_assert_msg(strstr(r, "\"name\":\"data_add\",\"op\":\"Add\",\"provider\":\"testprov\""), "%s", r);
    free(r);
    run_both(b, (const char *[]){"tp-insist", NULL}, &r);
    ck_assert_msg(strstr(r, "\"name\":\"shape_add\",\"op\":\"Add\",\"provider\":\"testprov\""), "%s", r);
    free(r);
    mb_free(b);
}
END_TEST

static mb *relu_model(void) {
    mb *b = mb_new(8, 13);
    KilnOnnx__GraphProto *g = mb_graph(b);
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 3, (const int64_t[]){2, 3, 4});
    mb_node(b, g, "Relu", "the_relu", (const char *[]){"x", NULL}, (const char *[]){"y", NULL});
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, 3, (const int64_t[]){2, 3, 4});
    return b;
}

START_TEST(declined_claim_falls_back_to_cpu) {
    mb *b = relu_model();
    char *r;
    run_both(b, (const char *[]){"tp-decline", NULL}, &r);
    ck_assert_msg(strstr(r, "\"name\":\"the_relu\",\"op\":\"Relu\",\"provider\":\"cpu\""), "%s", r);
    free(r);
    mb_free(b);
}
END_TEST

/* Session creation fails with KILN_ERR_PROVIDER, naming the file and the cause. */
static void load_error(const char *name_or_path, const char *want) {
    mb *b = relu_model();
    kiln_session *s = (kiln_session *)1;
    kiln_status st = session(b, (const char *[]){name_or_path, NULL}, env, &s, &err);
    ck_assert_msg(st == KILN_ERR_PROVIDER, "%s: status %d: %s", name_or_path, st, err.msg);
    ck_assert_ptr_null(s);
    ck_assert_msg(strstr(err.msg, want), "%s: want '%s' in: %s", name_or_path, want, err.msg);
    const char *file = strchr(name_or_path, '/') ? name_or_path : lib(name_or_path);
    ck_assert_msg(strstr(err.msg, file) || !strchr(name_or_path, '/'), "message does not name %s: %s", file, err.msg);
    mb_free(b);
}

START_TEST(load_errors_name_the_file) {
    load_error("/nonexistent/kiln-provider-x.so", "not found");
    load_error("tp-nosym", "missing entry symbol 'kiln_provider_entry'");
    load_error("tp-blind", "answered ABI version 1.7, outside the range 1.0-1.2");
    load_error("tp-future", "initialization failed: testprov speaks ABI 2.0 only");
    load_error("tp-initfail", "initialization failed: device driver not found (simulated)");
    load_error("tp-nullslot", "required slot 'copy' of kiln_provider is NULL");
    load_error("tp-nolibslot", "required slot 'device_info' of kiln_provider_library is NULL");
    load_error("tp-badgroup", "is proposed twice");
    /* A file that is not an ELF object. */
    char junk[] = "/tmp/kiln-provider-junk-XXXXXX";
    int fd = mkstemp(junk);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "not a shared object\n", 20), 20);
    close(fd);
    char so[64];
    snprintf(so, sizeof(so), "%s.so", junk);
    ck_assert_int_eq(rename(junk, so), 0);
    load_error(so, "not a loadable shared object");
    unlink(so);
}
END_TEST

START_TEST(provider_found_by_name) {
    mb *b = relu_model();
    kiln_session_options *o;
    ck_assert_int_eq(kiln_session_options_create(&o, &err), KILN_OK);
    ck_assert_int_eq(kiln_session_options_append_provider(o, "example", NULL, &err), KILN_OK);
    size_t n;
    const uint8_t *buf = mb_pack(b, &n);
    kiln_session *s;
    setenv("KILN_PROVIDER_PATH", getenv("KILN_EXAMPLE_PROVIDER_DIR"), 1);
    ck_assert_msg(kiln_session_create_from_buffer(env, buf, n, o, &s, &err) == KILN_OK, "%s", err.msg);
    char *r = report(s);
    ck_assert_msg(strstr(r, "\"name\":\"the_relu\",\"op\":\"Relu\",\"provider\":\"example\""), "%s", r);
    free(r);
    kiln_session_destroy(s);
    setenv("KILN_PROVIDER_PATH", "/nonexistent", 1);
    ck_assert_int_eq(kiln_session_create_from_buffer(env, buf, n, o, &s, &err), KILN_ERR_PROVIDER);
    ck_assert_msg(strstr(err.msg, "provider 'example': not found: no kiln-provider-example.so in KILN_PROVIDER_PATH"), "%s", err.msg);
    kiln_session_options_destroy(o);
    mb_free(b);
}
END_TEST

START_TEST(option_errors) {
    kiln_session_options *o;
    ck_assert_int_eq(kiln_session_options_create(&o, &err), KILN_OK);
    ck_assert_int_eq(kiln_session_options_append_provider(o, "cpu", NULL, &err), KILN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(kiln_session_options_append_provider(o, "", NULL, &err), KILN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(kiln_session_options_append_provider(NULL, "example", NULL, &err), KILN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(kiln_session_options_append_provider(o, "example", (const char *[]){"fuse", NULL}, &err),
                     KILN_ERR_INVALID_ARGUMENT);
    ck_assert_msg(strstr(err.msg, "'fuse' is not key=value"), "%s", err.msg);
    ck_assert_int_eq(kiln_session_options_append_provider(o, "example", (const char *[]){"device=x", NULL}, &err),
                     KILN_ERR_INVALID_ARGUMENT);
    kiln_session_options_destroy(o);
    mb *b = relu_model();
    kiln_session *s;
    ck_assert_int_eq(session(b, (const char *[]){"example|device=3", NULL}, env, &s, &err), KILN_ERR_INVALID_ARGUMENT);
    ck_assert_msg(strstr(err.msg, "device 3 asked for, the library has 1"), "%s", err.msg);
    ck_assert_int_eq(session(b, (const char *[]){"../bad name", NULL}, env, &s, &err), KILN_ERR_PROVIDER);
    mb_free(b);
}
END_TEST

START_TEST(zero_devices_is_no_error) {
    mb *b = relu_model();
    char *r;
    run_both(b, (const char *[]){"tp-zerodev", NULL}, &r);
    ck_assert_msg(strstr(r, "\"skipped\":[{\"name\":\"testprov\"") && strstr(r, "\"reason\":\"no device\""), "%s", r);
    ck_assert_msg(strstr(r, "\"provider\":\"cpu\""), "%s", r);
    free(r);
    mb_free(b);
}
END_TEST

/* A run error names the node and the provider; the session stays usable. */
static void run_error(const char *provider, kiln_status want_status, const char *want1, const char *want2) {
    mb *b = relu_model();
    kiln_session *s;
    ck_assert_msg(session(b, (const char *[]){provider, NULL}, env, &s, &err) == KILN_OK, "%s", err.msg);
    kiln_tensor *x = input_x(env), *y = NULL;
    for (int r = 0; r < 2; r++) {
        kiln_status st = kiln_session_run(s, NULL, (const kiln_tensor *const *)&x, 1, NULL, &y, 1, &err);
        ck_assert_msg(st == want_status, "%s: status %d: %s", provider, st, err.msg);
        ck_assert_ptr_null(y);
        ck_assert_msg(strstr(err.msg, want1) && strstr(err.msg, want2), "%s: %s", provider, err.msg);
    }
    kiln_tensor_destroy(x);
    kiln_session_destroy(s);
    mb_free(b);
}

START_TEST(failing_kernels_and_memory_at_run) {
    run_error("tp-kernelfail", KILN_ERR_PROVIDER, "node 'the_relu' (Relu): the testprov provider failed",
              "simulated device fault");
    run_error("tp-silent", KILN_ERR_PROVIDER, "node 'the_relu' (Relu): the testprov provider failed",
              "failed with status 42 and no message");
    run_error("tp-allocfail", KILN_ERR_OUT_OF_MEMORY, "the testprov provider could not allocate",
              "device memory exhausted (simulated)");
    run_error("example|device_memory=64", KILN_ERR_OUT_OF_MEMORY, "the example provider could not allocate",
              "example device memory exhausted");
}
END_TEST

/* A provider kernel that relabels its output as int64 (8-byte elements in a 4-byte-element
 * buffer): the CPU node reading it refuses it by name instead of reading past the buffer. */
START_TEST(relabelled_output_dtype_is_refused) {
    mb *b = mb_new(8, 13);
    KilnOnnx__GraphProto *g = mb_graph(b);
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 3, (const int64_t[]){2, 3, 4});
    mb_node(b, g, "Relu", "the_relu", (const char *[]){"x", NULL}, (const char *[]){"r", NULL});
    mb_node(b, g, "Neg", "the_neg", (const char *[]){"r", NULL}, (const char *[]){"y", NULL});
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, 3, (const int64_t[]){2, 3, 4});
    kiln_session *s;
    ck_assert_msg(session(b, (const char *[]){"tp-wrongdtype", NULL}, env, &s, &err) == KILN_OK, "%s", err.msg);
    kiln_tensor *x = input_x(env), *y = NULL;
    kiln_status st = kiln_session_run(s, NULL, (const kiln_tensor *const *)&x, 1, NULL, &y, 1, &err);
    ck_assert_int_eq(st, KILN_ERR_INVALID_MODEL);
    ck_assert_ptr_null(y);
    ck_assert_msg(strstr(err.msg, "node 'the_neg' (Neg): input 'r' is int64 at run time, but float was inferred"), "%s",
                  err.msg);
    kiln_tensor_destroy(x);
    kiln_session_destroy(s);
    mb_free(b);
}
END_TEST

/* Two device providers: the example's values reach the guide-built provider through the host. */
START_TEST(two_device_providers) {
    mb *b = mb_new(8, 13);
    KilnOnnx__GraphProto *g = mb_graph(b);
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 3, (const int64_t[]){2, 3, 4});
    mb_node(b, g, "Add", "A", (const char *[]){"x", "x", NULL}, (const char *[]){"a", NULL});
    mb_node(b, g, "Sigmoid", "S", (const char *[]){"a", NULL}, (const char *[]){"s", NULL});
    mb_node(b, g, "Mul", "M", (const char *[]){"s", "a", NULL}, (const char *[]){"y", NULL});
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, 3, (const int64_t[]){2, 3, 4});
    char *r;
    run_both(b, (const char *[]){"example", "tiny", NULL}, &r);
    ck_assert_msg(strstr(r, "\"name\":\"S\",\"op\":\"Sigmoid\",\"provider\":\"tiny\""), "%s", r);
    ck_assert_msg(strstr(r, "\"from\":\"example:device\",\"to\":\"tiny:memory\""), "%s", r);
    ck_assert_msg(strstr(r, "\"from\":\"tiny:memory\",\"to\":\"example:device\""), "%s", r);
    free(r);
    mb_free(b);
}
END_TEST

START_TEST(out_of_memory_everywhere_with_a_provider) {
    mb *b = mixed_model();
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
        kiln_tensor *x = NULL, *y[2] = {0};
        if (st == KILN_OK) st = session(b, (const char *[]){"example", NULL}, e, &s, &er);
        if (st == KILN_OK) st = kiln_tensor_create(e, KILN_DTYPE_FLOAT, (const int64_t[]){2, 3, 4}, 3, &x, &er);
        if (st == KILN_OK) st = kiln_session_run(s, NULL, (const kiln_tensor *const *)&x, 1, NULL, y, 2, &er);
        if (st == KILN_OK) succeeded = 1;
        else ck_assert_msg(st == KILN_ERR_OUT_OF_MEMORY, "fail_at %ld: status %d (%s)", fail_at, st, er.msg);
        kiln_tensor_destroy(y[0]);
        kiln_tensor_destroy(y[1]);
        kiln_tensor_destroy(x);
        kiln_session_destroy(s);
        kiln_env_destroy(e);
        ck_assert_msg(test_alloc_live(&ta) == 0, "fail_at %ld: %ld blocks leaked", fail_at, test_alloc_live(&ta));
    }
    ck_assert_msg(succeeded, "never succeeded");
    ck_assert_msg(fail_at > 50, "suspiciously few allocations (%ld)", fail_at);
    mb_free(b);
}
END_TEST

typedef struct job {
    kiln_session *s;
    kiln_tensor *x;
    kiln_tensor **want;
    int bad;
} job;

static void *runner(void *arg) {
    job *j = arg;
    for (int r = 0; r < 20 && !j->bad; r++) {
        kiln_tensor *y[2] = {0};
        kiln_error e;
        if (kiln_session_run(j->s, NULL, (const kiln_tensor *const *)&j->x, 1, NULL, y, 2, &e) != KILN_OK) j->bad = 1;
        for (int k = 0; k < 2 && !j->bad; k++)
            if (memcmp(kiln_tensor_data(y[k]), kiln_tensor_data(j->want[k]), kiln_tensor_byte_size(y[k])) != 0) j->bad = 1;
        kiln_tensor_destroy(y[0]);
        kiln_tensor_destroy(y[1]);
    }
    return NULL;
}

START_TEST(concurrent_runs_with_a_provider) {
    mb *b = mixed_model();
    kiln_session *s;
    ck_assert_int_eq(session(b, (const char *[]){"example", NULL}, env, &s, &err), KILN_OK);
    kiln_tensor *x = input_x(env), *want[2] = {0};
    ck_assert_int_eq(kiln_session_run(s, NULL, (const kiln_tensor *const *)&x, 1, NULL, want, 2, &err), KILN_OK);
    job jobs[4];
    pthread_t th[4];
    for (int t = 0; t < 4; t++) {
        jobs[t] = (job){s, x, want, 0};
        ck_assert_int_eq(pthread_create(&th[t], NULL, runner, &jobs[t]), 0);
    }
    for (int t = 0; t < 4; t++) {
        pthread_join(th[t], NULL);
        ck_assert_msg(!jobs[t].bad, "thread %d got a different result", t);
    }
    kiln_tensor_destroy(want[0]);
    kiln_tensor_destroy(want[1]);
    kiln_tensor_destroy(x);
    kiln_session_destroy(s);
    mb_free(b);
}
END_TEST

/* An If (CPU) whose branches read a value the example made: the host copies it down for the
 * subgraphs; inside them the example runs again (copies up, and down for the branch output). */
START_TEST(subgraphs_read_device_values) {
    mb *b = mb_new(8, 13);
    KilnOnnx__GraphProto *g = mb_graph(b);
    const int64_t dims[3] = {2, 3, 4};
    mb_input(b, g, "cond", KILN_DTYPE_BOOL, 0, NULL);
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 3, dims);
    mb_node(b, g, "Add", "a_add", (const char *[]){"x", "x", NULL}, (const char *[]){"a", NULL});
    KilnOnnx__NodeProto *n = mb_node(b, g, "If", "branch", (const char *[]){"cond", NULL}, (const char *[]){"v", NULL});
    KilnOnnx__GraphProto *then_g = mb_subgraph(b, "then");
    mb_node(b, then_g, "Mul", "t_mul", (const char *[]){"a", "a", NULL}, (const char *[]){"ty", NULL});
    mb_output(b, then_g, "ty", KILN_DTYPE_FLOAT, 3, dims);
    KilnOnnx__GraphProto *else_g = mb_subgraph(b, "else");
    mb_node(b, else_g, "Sigmoid", "e_sig", (const char *[]){"a", NULL}, (const char *[]){"ey", NULL});
    mb_output(b, else_g, "ey", KILN_DTYPE_FLOAT, 3, dims);
    mb_attr_graph(b, n, "then_branch", then_g);
    mb_attr_graph(b, n, "else_branch", else_g);
    mb_node(b, g, "Relu", "y_relu", (const char *[]){"v", NULL}, (const char *[]){"y", NULL});
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, 3, dims);
    kiln_session *cpu, *dev;
    ck_assert_msg(session(b, NULL, env, &cpu, &err) == KILN_OK, "%s", err.msg);
    ck_assert_msg(session(b, (const char *[]){"example", NULL}, env, &dev, &err) == KILN_OK, "%s", err.msg);
    char *r = report(dev);
    ck_assert_msg(strstr(r, "\"name\":\"t_mul\",\"op\":\"Mul\",\"provider\":\"example\"") &&
                      strstr(r, "\"name\":\"branch\",\"op\":\"If\",\"provider\":\"cpu\""),
                  "%s", r);
    ck_assert_msg(strstr(r, "{\"graph\":\"then\",\"name\":\"kiln_copy_"), "%s", r);
    free(r);
    for (int c = 0; c < 2; c++) {
        kiln_tensor *in[2], *oc = NULL, *od = NULL;
        uint8_t cond = (uint8_t)c;
        ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_BOOL, NULL, 0, &cond, 1, &in[0], &err), KILN_OK);
        in[1] = input_x(env);
        ck_assert_int_eq(kiln_session_run(cpu, NULL, (const kiln_tensor *const *)in, 2, NULL, &oc, 1, &err), KILN_OK);
        ck_assert_msg(kiln_session_run(dev, NULL, (const kiln_tensor *const *)in, 2, NULL, &od, 1, &err) == KILN_OK, "%s", err.msg);
        same_outputs(&oc, &od, 1);
        kiln_tensor_destroy(oc);
        kiln_tensor_destroy(od);
        kiln_tensor_destroy(in[0]);
        kiln_tensor_destroy(in[1]);
    }
    kiln_session_destroy(cpu);
    kiln_session_destroy(dev);
    mb_free(b);
}
END_TEST

/* rt-run --provider PATH:key=val and --report json, and a bad provider as a load error (3). */
START_TEST(rt_run_with_a_provider) {
    const char *rt_run = getenv("KILN_RT_RUN");
    ck_assert_ptr_nonnull(rt_run);
    char model[] = "/tmp/kiln-mixed-XXXXXX";
    int fd = mkstemp(model);
    ck_assert_int_ge(fd, 0);
    close(fd);
    mb *b = mixed_model();
    ck_assert_int_eq(mb_save(b, model), 0);
    char cmd[8192], line[1 << 16];
    snprintf(cmd, sizeof(cmd), "%s %s --provider %s:fuse=1,device_memory=1048576 --report json", rt_run, model, lib("example"));
    FILE *f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(line, 1, sizeof(line) - 1, f);
    line[n] = '\0';
    ck_assert_int_eq(pclose(f), 0);
    ck_assert_msg(strstr(line, ",\"partition\":{\"providers\":[{\"name\":\"example\"") && strstr(line, "\"groups\":[{") &&
                      strstr(line, "\"copies\":[{"),
                  "%s", line);
    /* The example's trace spans land in the session's profile. */
    char prof[600];
    snprintf(prof, sizeof(prof), "%s.trace.json", model);
    snprintf(cmd, sizeof(cmd), "%s %s --provider %s --profile %s > /dev/null", rt_run, model, lib("example"), prof);
    ck_assert_int_eq(system(cmd), 0);
    f = fopen(prof, "r");
    ck_assert_ptr_nonnull(f);
    n = fread(line, 1, sizeof(line) - 1, f);
    line[n] = '\0';
    fclose(f);
    unlink(prof);
    ck_assert_msg(strstr(line, "\"cat\":\"provider\",\"name\":\"example fused group\"") &&
                      strstr(line, "\"args\":{\"node\":\"example_group_0\",\"provider\":\"example\"}"),
                  "%s", line);
    snprintf(cmd, sizeof(cmd), "%s %s --provider %s 2>&1", rt_run, model, lib("tp-initfail"));
    f = popen(cmd, "r");
    n = fread(line, 1, sizeof(line) - 1, f);
    line[n] = '\0';
    int rc = pclose(f);
    ck_assert_msg(WIFEXITED(rc) && WEXITSTATUS(rc) == 3, "exit %d: %s", rc, line);
    ck_assert_msg(strstr(line, "kiln-provider-tp-initfail.so': initialization failed"), "%s", line);
    unlink(model);
    mb_free(b);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("providers");
    TCase *tc = tcase_create("providers");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, example_matches_cpu_with_groups_and_copies);
    tcase_add_test(tc, example_kernels_without_fusion);
    tcase_add_test(tc, group_split_around_a_cycle);
    tcase_add_test(tc, shape_only_nodes_stay_on_cpu);
    tcase_add_test(tc, declined_claim_falls_back_to_cpu);
    tcase_add_test(tc, load_errors_name_the_file);
    tcase_add_test(tc, provider_found_by_name);
    tcase_add_test(tc, option_errors);
    tcase_add_test(tc, zero_devices_is_no_error);
    tcase_add_test(tc, failing_kernels_and_memory_at_run);
    tcase_add_test(tc, relabelled_output_dtype_is_refused);
    tcase_add_test(tc, two_device_providers);
    tcase_add_test(tc, out_of_memory_everywhere_with_a_provider);
    tcase_add_test(tc, concurrent_runs_with_a_provider);
    tcase_add_test(tc, rt_run_with_a_provider);
    tcase_add_test(tc, subgraphs_read_device_values);
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
