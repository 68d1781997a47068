/* SPDX-License-Identifier: MIT */
/* Untrusted models (docs/limits.md): the session memory limit (weights, sizes inferred at
 * creation, sizes known only at run), pads larger than the kernel still computed correctly under
 * a limit, cancellation from another thread and deadlines, in plain and I/O-binding runs (the
 * session runs again afterwards), and allocation failure at every allocation of these paths with
 * leak checks. */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/model_builder.h"
#include "common/test_alloc.h"
#include "kiln.h"

static kiln_env *env;
static kiln_error err;

static void setup(void) { ck_assert_int_eq(kiln_env_create(&env, &err), KILN_OK); }
static void teardown(void) { kiln_env_destroy(env); }

/* A session of model b with a memory limit (0: none) and intra-op/inter-op threads. */
static kiln_status open_session(kiln_env *e, mb *b, uint64_t limit, int32_t intra, int32_t inter, kiln_session **s,
                                kiln_error *er) {
    size_t size;
    const uint8_t *bytes = mb_pack(b, &size);
    kiln_session_options *o;
    ck_assert_int_eq(kiln_session_options_create(&o, er), KILN_OK);
    ck_assert_int_eq(kiln_session_options_set_memory_limit(o, limit, er), KILN_OK);
    ck_assert_int_eq(kiln_session_options_set_intra_op_threads(o, intra, er), KILN_OK);
    ck_assert_int_eq(kiln_session_options_set_inter_op_threads(o, inter, er), KILN_OK);
    kiln_status st = kiln_session_create_from_buffer(e, bytes, size, o, s, er);
    kiln_session_options_destroy(o);
    return st;
}

/* y = Expand(x, shape): x float [1] and shape int64 [2] are inputs, so y's size is known only at run. */
static mb *expand_model(void) {
    mb *b = mb_new(8, 17);
    KilnOnnx__GraphProto *g = mb_graph(b);
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 1, (const int64_t[]){1});
    mb_input(b, g, "shape", KILN_DTYPE_INT64, 1, (const int64_t[]){2});
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, -1, NULL);
    mb_node(b, g, "Expand", "expand", (const char *const[]){"x", "shape", NULL}, (const char *const[]){"y", NULL});
    return b;
}

/* Runs the Expand model for a rows x cols output; the status, and y's first element in *first. */
static kiln_status run_expand(kiln_env *e, kiln_session *s, const kiln_run_options *ro, int64_t rows, int64_t cols,
                              float *first, kiln_error *er) {
    kiln_tensor *in[2] = {NULL, NULL}, *y = NULL;
    kiln_status st = kiln_tensor_create(e, KILN_DTYPE_FLOAT, (const int64_t[]){1}, 1, &in[0], er);
    if (st == KILN_OK) st = kiln_tensor_create(e, KILN_DTYPE_INT64, (const int64_t[]){2}, 1, &in[1], er);
    if (st == KILN_OK) {
        ((float *)kiln_tensor_data(in[0]))[0] = 2.5f;
        ((int64_t *)kiln_tensor_data(in[1]))[0] = rows;
        ((int64_t *)kiln_tensor_data(in[1]))[1] = cols;
        st = kiln_session_run_with_options(s, ro, NULL, (const kiln_tensor *const *)in, 2, NULL, &y, 1, er);
    }
    if (st == KILN_OK && first) *first = ((const float *)kiln_tensor_data_const(y))[rows * cols - 1];
    kiln_tensor_destroy(y);
    kiln_tensor_destroy(in[0]);
    kiln_tensor_destroy(in[1]);
    return st;
}

START_TEST(refused_at_creation_naming_the_attribute) {
    /* The finding: a TfIdfVectorizer whose ngram_indexes ask for a 7 GB output. */
    mb *b = mb_new(8, 17);
    KilnOnnx__GraphProto *g = mb_graph(b);
    mb_input(b, g, "x", KILN_DTYPE_INT64, 2, (const int64_t[]){1, 4});
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, -1, NULL);
    KilnOnnx__NodeProto *n = mb_node(b, g, "TfIdfVectorizer", "tfidf", (const char *const[]){"x", NULL},
                                     (const char *const[]){"y", NULL});
    mb_attr_string(b, n, "mode", "TF");
    mb_attr_int(b, n, "min_gram_length", 1);
    mb_attr_int(b, n, "max_gram_length", 1);
    mb_attr_int(b, n, "max_skip_count", 0);
    mb_attr_ints(b, n, "ngram_counts", (const int64_t[]){0}, 1);
    mb_attr_ints(b, n, "ngram_indexes", (const int64_t[]){1746837500}, 1);
    mb_attr_ints(b, n, "pool_int64s", (const int64_t[]){7}, 1);
    kiln_session *s = NULL;
    ck_assert_int_eq(open_session(env, b, 1ull << 30, 1, 1, &s, &err), KILN_ERR_OUT_OF_MEMORY);
    ck_assert_ptr_null(s);
    ck_assert_msg(strstr(err.msg, "node 'tfidf' (TfIdfVectorizer)") && strstr(err.msg, "output 'y'") &&
                      strstr(err.msg, "6987350004 bytes") && strstr(err.msg, "ngram_indexes"),
                  "%s", err.msg);
    mb_free(b);
}
END_TEST

START_TEST(weights_over_the_limit_refused) {
    static float w[256 * 256];
    mb *b = mb_new(8, 17);
    KilnOnnx__GraphProto *g = mb_graph(b);
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 2, (const int64_t[]){256, 256});
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, 2, (const int64_t[]){256, 256});
    mb_initializer(b, g, mb_tensor_raw(b, "w", KILN_DTYPE_FLOAT, 2, (const int64_t[]){256, 256}, w, sizeof(w)));
    mb_node(b, g, "Add", "add", (const char *const[]){"x", "w", NULL}, (const char *const[]){"y", NULL});
    kiln_session *s = NULL;
    ck_assert_int_eq(open_session(env, b, 64 << 10, 1, 1, &s, &err), KILN_ERR_OUT_OF_MEMORY);
    ck_assert_msg(strstr(err.msg, "weights") && strstr(err.msg, "262144 bytes"), "%s", err.msg);
    /* Room for the weights but not for y (known at creation): refused naming the node. */
    ck_assert_int_eq(open_session(env, b, 300 << 10, 1, 1, &s, &err), KILN_ERR_OUT_OF_MEMORY);
    ck_assert_msg(strstr(err.msg, "node 'add' (Add)") && strstr(err.msg, "output 'y'"), "%s", err.msg);
    /* Enough for everything. */
    ck_assert_int_eq(open_session(env, b, 2 << 20, 1, 1, &s, &err), KILN_OK);
    kiln_session_destroy(s);
    mb_free(b);
}
END_TEST

START_TEST(refused_at_run_then_usable) {
    mb *b = expand_model();
    kiln_session *s;
    ck_assert_msg(open_session(env, b, 1 << 20, 1, 1, &s, &err) == KILN_OK, "%s", err.msg);
    float v = 0;
    ck_assert_int_eq(run_expand(env, s, NULL, 10, 10, &v, &err), KILN_OK);
    ck_assert_float_eq(v, 2.5f);
    /* 4 MB: over the 1 MB limit, refused before it is allocated, naming node, op, value and bytes. */
    ck_assert_int_eq(run_expand(env, s, NULL, 1000, 1000, &v, &err), KILN_ERR_OUT_OF_MEMORY);
    ck_assert_msg(strstr(err.msg, "node 'expand' (Expand)") && strstr(err.msg, "value 'y'") &&
                      strstr(err.msg, "4000000 bytes") && strstr(err.msg, "input 'shape'"),
                  "%s", err.msg);
    /* A hostile shape whose byte size overflows is refused too, not wrapped around. */
    ck_assert_int_ne(run_expand(env, s, NULL, INT64_C(1) << 40, INT64_C(1) << 40, &v, &err), KILN_OK);
    /* The session still runs, and what the failed runs took was given back. */
    for (int i = 0; i < 3; i++) {
        v = 0;
        ck_assert_msg(run_expand(env, s, NULL, 200, 300, &v, &err) == KILN_OK, "%s", err.msg);
        ck_assert_float_eq(v, 2.5f);
    }
    kiln_session_destroy(s);
    /* Without a limit the same 4 MB run succeeds: a limit, not a refusal. */
    ck_assert_int_eq(open_session(env, b, 0, 1, 1, &s, &err), KILN_OK);
    ck_assert_int_eq(run_expand(env, s, NULL, 1000, 1000, &v, &err), KILN_OK);
    ck_assert_float_eq(v, 2.5f);
    kiln_session_destroy(s);
    mb_free(b);
}
END_TEST

START_TEST(outputs_handed_over_leave_the_budget) {
    /* Outputs the caller keeps are the caller's: 20 runs of 400 KB each under a 1 MB limit. */
    mb *b = expand_model();
    kiln_session *s;
    ck_assert_int_eq(open_session(env, b, 1 << 20, 1, 1, &s, &err), KILN_OK);
    kiln_tensor *keep[20] = {NULL};
    kiln_tensor *in[2];
    ck_assert_int_eq(kiln_tensor_create(env, KILN_DTYPE_FLOAT, (const int64_t[]){1}, 1, &in[0], &err), KILN_OK);
    ck_assert_int_eq(kiln_tensor_create(env, KILN_DTYPE_INT64, (const int64_t[]){2}, 1, &in[1], &err), KILN_OK);
    ((int64_t *)kiln_tensor_data(in[1]))[0] = 100;
    ((int64_t *)kiln_tensor_data(in[1]))[1] = 1000;
    for (int i = 0; i < 20; i++)
        ck_assert_msg(kiln_session_run(s, NULL, (const kiln_tensor *const *)in, 2, NULL, &keep[i], 1, &err) == KILN_OK,
                      "run %d: %s", i, err.msg);
    kiln_session_destroy(s);
    for (int i = 0; i < 20; i++) {
        ck_assert_int_eq(kiln_tensor_element_count(keep[i]), 100000); /* still valid after the session */
        kiln_tensor_destroy(keep[i]);
    }
    kiln_tensor_destroy(in[0]);
    kiln_tensor_destroy(in[1]);
    mb_free(b);
}
END_TEST

START_TEST(large_pads_still_correct) {
    /* Pads larger than the kernel and the input: legal, and computed exactly under a limit. */
    mb *b = mb_new(8, 19);
    KilnOnnx__GraphProto *g = mb_graph(b);
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 4, (const int64_t[]){1, 1, 2, 3});
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, -1, NULL);
    KilnOnnx__NodeProto *n = mb_node(b, g, "AveragePool", "pool", (const char *const[]){"x", NULL},
                                     (const char *const[]){"y", NULL});
    mb_attr_ints(b, n, "kernel_shape", (const int64_t[]){2, 2}, 2);
    mb_attr_ints(b, n, "pads", (const int64_t[]){3, 5, 4, 2}, 4);
    mb_attr_int(b, n, "count_include_pad", 1);
    kiln_session *s;
    ck_assert_msg(open_session(env, b, 1 << 20, 1, 1, &s, &err) == KILN_OK, "%s", err.msg);
    kiln_tensor *x, *y = NULL;
    const float xv[6] = {1, 2, 3, 4, 5, 6};
    ck_assert_int_eq(kiln_tensor_create(env, KILN_DTYPE_FLOAT, (const int64_t[]){1, 1, 2, 3}, 4, &x, &err), KILN_OK);
    memcpy(kiln_tensor_data(x), xv, sizeof(xv));
    ck_assert_msg(kiln_session_run(s, NULL, (const kiln_tensor *const *)&x, 1, NULL, &y, 1, &err) == KILN_OK, "%s", err.msg);
    /* H: 2 + 3 + 4 - 2 + 1 = 8; W: 3 + 5 + 2 - 2 + 1 = 9. */
    ck_assert_int_eq(kiln_tensor_rank(y), 4);
    ck_assert_int_eq(kiln_tensor_dims(y)[2], 8);
    ck_assert_int_eq(kiln_tensor_dims(y)[3], 9);
    const float *yv = kiln_tensor_data_const(y);
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 9; j++) {
            float sum = 0;
            for (int a = 0; a < 2; a++)
                for (int c = 0; c < 2; c++) {
                    int r = i + a - 3, q = j + c - 5;
                    if (r >= 0 && r < 2 && q >= 0 && q < 3) sum += xv[r * 3 + q];
                }
            ck_assert_msg(yv[i * 9 + j] == sum / 4, "y[%d,%d] = %g, want %g", i, j, yv[i * 9 + j], sum / 4);
        }
    kiln_tensor_destroy(y);
    kiln_tensor_destroy(x);
    kiln_session_destroy(s);
    mb_free(b);
}
END_TEST

/* ---- cancellation and deadlines ---- */

#define CHAIN 48
#define WIDTH 256

/* h_k = MatMul(h_{k-1}, w) CHAIN times, x [N, WIDTH]; w = 1/WIDTH everywhere so all-ones rows stay ones. */
static mb *chain_model(int nodes, int width) {
    mb *b = mb_new(8, 17);
    KilnOnnx__GraphProto *g = mb_graph(b);
    size_t nw = (size_t)width * (size_t)width;
    float *w = mb_alloc(b, nw * sizeof(float));
    for (size_t i = 0; i < nw; i++) w[i] = 1.0f / (float)width;
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 2, (const int64_t[]){-1, width});
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, 2, (const int64_t[]){-1, width});
    mb_initializer(b, g, mb_tensor_raw(b, "w", KILN_DTYPE_FLOAT, 2, (const int64_t[]){width, width}, w, nw * sizeof(float)));
    char in[32] = "x", out[32];
    for (int k = 0; k < nodes; k++) {
        if (k == nodes - 1) snprintf(out, sizeof(out), "y");
        else snprintf(out, sizeof(out), "h%d", k);
        char name[32];
        snprintf(name, sizeof(name), "mm%d", k);
        mb_node(b, g, "MatMul", name, (const char *const[]){in, "w", NULL}, (const char *const[]){out, NULL});
        memcpy(in, out, sizeof(in));
    }
    return b;
}

/* Runs the chain on `rows` all-ones rows; checks y is all ones on success. */
static kiln_status run_chain(kiln_session *s, const kiln_run_options *ro, int64_t rows, int width, kiln_error *er) {
    kiln_tensor *x, *y = NULL;
    ck_assert_int_eq(kiln_tensor_create(env, KILN_DTYPE_FLOAT, (const int64_t[]){rows, width}, 2, &x, er), KILN_OK);
    float *xv = kiln_tensor_data(x);
    for (int64_t i = 0; i < rows * width; i++) xv[i] = 1.0f;
    kiln_status st = kiln_session_run_with_options(s, ro, NULL, (const kiln_tensor *const *)&x, 1, NULL, &y, 1, er);
    if (st == KILN_OK) {
        const float *yv = kiln_tensor_data_const(y);
        for (int64_t i = 0; i < rows * width; i++) ck_assert_msg(yv[i] > 0.999f && yv[i] < 1.001f, "y[%lld] = %g", (long long)i, yv[i]);
    } else {
        ck_assert_ptr_null(y);
    }
    kiln_tensor_destroy(y);
    kiln_tensor_destroy(x);
    return st;
}

typedef struct canceller {
    kiln_run_options *ro;
    long delay_ms;
} canceller;

static void *cancel_later(void *arg) {
    canceller *c = arg;
    struct timespec ts = {c->delay_ms / 1000, (c->delay_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    kiln_run_options_set_cancel(c->ro, 1);
    return NULL;
}

/* A run that would take seconds, cancelled from another thread after `delay_ms`; then the flag is
 * cleared and the session runs correctly again. */
static void cancel_mid_run(int nodes, int width, int64_t rows, int32_t intra, long delay_ms) {
    mb *b = chain_model(nodes, width);
    kiln_session *s;
    ck_assert_msg(open_session(env, b, 0, intra, 1, &s, &err) == KILN_OK, "%s", err.msg);
    kiln_run_options *ro;
    ck_assert_int_eq(kiln_run_options_create(&ro, &err), KILN_OK);
    pthread_t t;
    canceller c = {ro, delay_ms};
    ck_assert_int_eq(pthread_create(&t, NULL, cancel_later, &c), 0);
    kiln_status st = run_chain(s, ro, rows, width, &err);
    pthread_join(t, NULL);
    ck_assert_msg(st == KILN_ERR_CANCELLED, "status %d: %s", st, err.msg);
    ck_assert_msg(strstr(err.msg, "cancelled"), "%s", err.msg);
    /* Still set: the next run with these options stops before its first node. */
    ck_assert_int_eq(run_chain(s, ro, 2, width, &err), KILN_ERR_CANCELLED);
    kiln_run_options_set_cancel(ro, 0);
    ck_assert_msg(run_chain(s, ro, 3, width, &err) == KILN_OK, "%s", err.msg);
    ck_assert_msg(run_chain(s, NULL, 3, width, &err) == KILN_OK, "%s", err.msg);
    kiln_run_options_destroy(ro);
    kiln_session_destroy(s);
    mb_free(b);
}

START_TEST(cancel_between_nodes) { cancel_mid_run(CHAIN, WIDTH, 8192, 1, 30); }
END_TEST

START_TEST(cancel_inside_one_long_kernel) {
    /* One MatMul of 2048^3 multiply-adds on two threads: the GEMM's parallel_for has a chunk per
     * thread, and the stop is seen at the chunk boundaries. */
    cancel_mid_run(1, 2048, 2048, 2, 30);
}
END_TEST

START_TEST(cancel_inside_pooling_one_thread) {
    /* One AveragePool over 64 planes of 512 x 512 with a 9 x 9 window, on one thread: the range is
     * cut into slices, and the stop is seen between them. */
    mb *b = mb_new(8, 19);
    KilnOnnx__GraphProto *g = mb_graph(b);
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 4, (const int64_t[]){1, -1, 512, 512});
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, -1, NULL);
    KilnOnnx__NodeProto *n = mb_node(b, g, "AveragePool", "pool", (const char *const[]){"x", NULL},
                                     (const char *const[]){"y", NULL});
    mb_attr_ints(b, n, "kernel_shape", (const int64_t[]){9, 9}, 2);
    mb_attr_ints(b, n, "pads", (const int64_t[]){4, 4, 4, 4}, 4);
    kiln_session *s;
    ck_assert_int_eq(open_session(env, b, 0, 1, 1, &s, &err), KILN_OK);
    kiln_run_options *ro;
    ck_assert_int_eq(kiln_run_options_create(&ro, &err), KILN_OK);
    for (int pass = 0; pass < 2; pass++) {
        int64_t planes = pass ? 1 : 64;
        kiln_tensor *x, *y = NULL;
        ck_assert_int_eq(kiln_tensor_create(env, KILN_DTYPE_FLOAT, (const int64_t[]){1, planes, 512, 512}, 4, &x, &err), KILN_OK);
        float *xv = kiln_tensor_data(x);
        for (int64_t i = 0; i < planes * 512 * 512; i++) xv[i] = 1.0f;
        pthread_t t;
        canceller c = {ro, 30};
        if (!pass) ck_assert_int_eq(pthread_create(&t, NULL, cancel_later, &c), 0);
        kiln_status st = kiln_session_run_with_options(s, ro, NULL, (const kiln_tensor *const *)&x, 1, NULL, &y, 1, &err);
        if (!pass) {
            pthread_join(t, NULL);
            ck_assert_msg(st == KILN_ERR_CANCELLED, "status %d: %s", st, err.msg);
            ck_assert_ptr_null(y);
            kiln_run_options_set_cancel(ro, 0);
        } else {
            ck_assert_msg(st == KILN_OK, "%s", err.msg);
            /* count_include_pad 0: every window averages ones. */
            const float *yv = kiln_tensor_data_const(y);
            for (int64_t i = 0; i < 512 * 512; i++) ck_assert_msg(yv[i] > 0.9999f && yv[i] < 1.0001f, "y[%lld] = %g", (long long)i, yv[i]);
        }
        kiln_tensor_destroy(y);
        kiln_tensor_destroy(x);
    }
    kiln_run_options_destroy(ro);
    kiln_session_destroy(s);
    mb_free(b);
}
END_TEST

START_TEST(deadline_then_usable) {
    mb *b = chain_model(CHAIN, WIDTH);
    kiln_session *s;
    ck_assert_int_eq(open_session(env, b, 0, 1, 1, &s, &err), KILN_OK);
    kiln_run_options *ro;
    ck_assert_int_eq(kiln_run_options_create(&ro, &err), KILN_OK);
    kiln_run_options_set_timeout_ms(ro, 20);
    kiln_status st = run_chain(s, ro, 8192, WIDTH, &err);
    ck_assert_msg(st == KILN_ERR_TIMEOUT, "status %d: %s", st, err.msg);
    ck_assert_msg(strstr(err.msg, "timed out"), "%s", err.msg);
    ck_assert_str_eq(kiln_status_string(KILN_ERR_TIMEOUT), "timed out");
    /* The deadline counts from each run's start: a short run within it succeeds. */
    kiln_run_options_set_timeout_ms(ro, 60000);
    ck_assert_msg(run_chain(s, ro, 2, WIDTH, &err) == KILN_OK, "%s", err.msg);
    kiln_run_options_set_timeout_ms(ro, 0);
    ck_assert_msg(run_chain(s, ro, 2, WIDTH, &err) == KILN_OK, "%s", err.msg);
    kiln_run_options_destroy(ro);
    kiln_session_destroy(s);
    mb_free(b);
}
END_TEST

START_TEST(cancel_in_parallel_mode) {
    /* Planned runs in parallel mode (inter-op threads) take nodes from a queue: a set flag stops
     * them too, and the session runs again. */
    mb *b = chain_model(8, 64);
    kiln_session *s;
    ck_assert_int_eq(open_session(env, b, 0, 1, 3, &s, &err), KILN_OK);
    ck_assert_msg(run_chain(s, NULL, 4, 64, &err) == KILN_OK, "%s", err.msg); /* records the plan */
    kiln_run_options *ro;
    ck_assert_int_eq(kiln_run_options_create(&ro, &err), KILN_OK);
    kiln_run_options_set_cancel(ro, 1);
    ck_assert_int_eq(run_chain(s, ro, 4, 64, &err), KILN_ERR_CANCELLED);
    kiln_run_options_set_cancel(ro, 0);
    ck_assert_msg(run_chain(s, ro, 4, 64, &err) == KILN_OK, "%s", err.msg);
    kiln_run_options_destroy(ro);
    kiln_session_destroy(s);
    mb_free(b);
}
END_TEST

START_TEST(cancel_a_binding_run) {
    /* I/O binding runs take run options too; the binding runs again after a cancelled run. */
    mb *b = chain_model(CHAIN, WIDTH);
    kiln_session *s;
    ck_assert_int_eq(open_session(env, b, 0, 1, 1, &s, &err), KILN_OK);
    kiln_binding *bd;
    ck_assert_int_eq(kiln_binding_create(s, &bd, &err), KILN_OK);
    kiln_tensor *big, *small;
    ck_assert_int_eq(kiln_tensor_create(env, KILN_DTYPE_FLOAT, (const int64_t[]){8192, WIDTH}, 2, &big, &err), KILN_OK);
    ck_assert_int_eq(kiln_tensor_create(env, KILN_DTYPE_FLOAT, (const int64_t[]){2, WIDTH}, 2, &small, &err), KILN_OK);
    float *sv = kiln_tensor_data(small);
    for (int i = 0; i < 2 * WIDTH; i++) sv[i] = 1.0f;
    ck_assert_int_eq(kiln_binding_bind_output(bd, "y", NULL, &err), KILN_OK);
    kiln_run_options *ro;
    ck_assert_int_eq(kiln_run_options_create(&ro, &err), KILN_OK);
    ck_assert_int_eq(kiln_binding_bind_input(bd, "x", big, &err), KILN_OK);
    pthread_t t;
    canceller c = {ro, 30};
    ck_assert_int_eq(pthread_create(&t, NULL, cancel_later, &c), 0);
    kiln_status st = kiln_session_run_binding_with_options(s, ro, bd, &err);
    pthread_join(t, NULL);
    ck_assert_msg(st == KILN_ERR_CANCELLED, "status %d: %s", st, err.msg);
    kiln_run_options_set_cancel(ro, 0);
    ck_assert_int_eq(kiln_binding_bind_input(bd, "x", small, &err), KILN_OK);
    ck_assert_msg(kiln_session_run_binding_with_options(s, ro, bd, &err) == KILN_OK, "%s", err.msg);
    const kiln_tensor *y = kiln_binding_output(bd, "y");
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(kiln_tensor_element_count(y), 2 * WIDTH);
    const float *yv = kiln_tensor_data_const(y);
    for (int i = 0; i < 2 * WIDTH; i++) ck_assert_msg(yv[i] > 0.999f && yv[i] < 1.001f, "y[%d] = %g", i, yv[i]);
    kiln_run_options_destroy(ro);
    kiln_binding_destroy(bd);
    kiln_tensor_destroy(big);
    kiln_tensor_destroy(small);
    kiln_session_destroy(s);
    mb_free(b);
}
END_TEST

START_TEST(bad_arguments) {
    kiln_run_options *ro = (kiln_run_options *)&ro;
    ck_assert_int_eq(kiln_run_options_create(NULL, &err), KILN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(kiln_session_options_set_memory_limit(NULL, 1, &err), KILN_ERR_INVALID_ARGUMENT);
    kiln_run_options_set_cancel(NULL, 1);
    kiln_run_options_set_timeout_ms(NULL, 1);
    kiln_run_options_destroy(NULL);
    ck_assert_int_eq(kiln_run_options_create(&ro, &err), KILN_OK);
    ck_assert_int_eq(kiln_session_run_with_options(NULL, ro, NULL, NULL, 0, NULL, NULL, 0, &err), KILN_ERR_INVALID_ARGUMENT);
    kiln_run_options_destroy(ro);
}
END_TEST

/* ---- allocation failure at every allocation of these paths ---- */

START_TEST(out_of_memory_everywhere) {
    mb *b = expand_model();
    int succeeded = 0;
    long fail_at;
    for (fail_at = 1; fail_at < 100000 && !succeeded; fail_at++) {
        test_alloc ta;
        test_alloc_init(&ta);
        kiln_env *e = NULL;
        kiln_error er = {0};
        kiln_run_options *ro = NULL;
        atomic_store(&ta.fail_at, fail_at);
        kiln_status st = kiln_env_create_with_allocator(&ta.a, &e, &er);
        kiln_session *s = NULL;
        if (st == KILN_OK) st = open_session(e, b, 1 << 20, 1, 1, &s, &er);
        if (st == KILN_OK) st = kiln_run_options_create(&ro, &er);
        if (st == KILN_OK) kiln_run_options_set_timeout_ms(ro, 600000);
        float v;
        if (st == KILN_OK) st = run_expand(e, s, ro, 30, 40, &v, &er);
        if (st == KILN_OK) {
            /* Over the limit: the budget refuses it whatever the allocator does. */
            kiln_status big = run_expand(e, s, ro, 1000, 1000, &v, &er);
            ck_assert_msg(big == KILN_ERR_OUT_OF_MEMORY, "fail_at %ld: status %d (%s)", fail_at, big, er.msg);
            kiln_run_options_set_cancel(ro, 1);
            kiln_status cancelled = run_expand(e, s, ro, 30, 40, &v, &er);
            ck_assert_msg(cancelled == KILN_ERR_CANCELLED || cancelled == KILN_ERR_OUT_OF_MEMORY, "fail_at %ld: status %d (%s)",
                          fail_at, cancelled, er.msg);
            kiln_run_options_set_cancel(ro, 0);
            st = run_expand(e, s, ro, 30, 40, &v, &er);
        }
        if (st == KILN_OK) succeeded = 1;
        else ck_assert_msg(st == KILN_ERR_OUT_OF_MEMORY, "fail_at %ld: status %d (%s)", fail_at, st, er.msg);
        kiln_run_options_destroy(ro);
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
    Suite *s = suite_create("runtime.limits");
    TCase *tc = tcase_create("limits");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, refused_at_creation_naming_the_attribute);
    tcase_add_test(tc, weights_over_the_limit_refused);
    tcase_add_test(tc, refused_at_run_then_usable);
    tcase_add_test(tc, outputs_handed_over_leave_the_budget);
    tcase_add_test(tc, large_pads_still_correct);
    tcase_add_test(tc, cancel_between_nodes);
    tcase_add_test(tc, cancel_inside_one_long_kernel);
    tcase_add_test(tc, cancel_inside_pooling_one_thread);
    tcase_add_test(tc, deadline_then_usable);
    tcase_add_test(tc, cancel_in_parallel_mode);
    tcase_add_test(tc, cancel_a_binding_run);
    tcase_add_test(tc, bad_arguments);
    tcase_add_test(tc, out_of_memory_everywhere);
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
