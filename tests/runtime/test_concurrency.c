/* SPDX-License-Identifier: MIT */
/* kiln_session_run from many threads at once on one session: 8 threads x 200 runs, each output
 * checked against a single-threaded reference; with the intra-op pool shared, in parallel
 * mode, and with batch sizes (plan signatures) changing under the threads. */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "models.h"

#define THREADS 8
#define RUNS 200
#define SEEDS 4
#define MAX_BATCH 3

static kiln_env *env;
static kiln_error err;

static void setup(void) { ck_assert_int_eq(kiln_env_create(&env, &err), KILN_OK); }
static void teardown(void) { kiln_env_destroy(env); }

static kiln_session *session_of(mb *b, int32_t intra, int32_t inter) {
    size_t size;
    const uint8_t *bytes = mb_pack(b, &size);
    kiln_session_options *o;
    ck_assert_int_eq(kiln_session_options_create(&o, &err), KILN_OK);
    ck_assert_int_eq(kiln_session_options_set_intra_op_threads(o, intra, &err), KILN_OK);
    ck_assert_int_eq(kiln_session_options_set_inter_op_threads(o, inter, &err), KILN_OK);
    kiln_session *s;
    ck_assert_msg(kiln_session_create_from_buffer(env, bytes, size, o, &s, &err) == KILN_OK, "%s", err.msg);
    kiln_session_options_destroy(o);
    return s;
}

/* Inputs and reference outputs per (batch, seed). */
typedef struct refs {
    float x[MAX_BATCH + 1][SEEDS][MAX_BATCH * RT_CNN_X];
    float y[MAX_BATCH + 1][SEEDS][MAX_BATCH * RT_CNN_Y];
    float z[MAX_BATCH + 1][SEEDS][MAX_BATCH * RT_CNN_Z];
} refs;

/* One run; 0 on success, else a failure code the test thread reports. With `into` the outputs
 * go to caller tensors, else Kiln creates them. */
static int run_check(kiln_session *s, const refs *r, int64_t n, int seed, int into) {
    kiln_error e;
    kiln_tensor *x = NULL, *out[2] = {NULL, NULL};
    float yv[MAX_BATCH * RT_CNN_Y], zv[MAX_BATCH * RT_CNN_Z];
    int rc = 0;
    if (kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){n, 4, 8, 8}, 4, (void *)r->x[n][seed],
                         (size_t)n * RT_CNN_X * sizeof(float), &x, &e) != KILN_OK)
        return 1;
    if (into && (kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){n, 10}, 2, yv, sizeof(yv), &out[0], &e) != KILN_OK ||
                 kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){n, 8, 64}, 3, zv, sizeof(zv), &out[1], &e) != KILN_OK)) {
        rc = 2;
        goto done;
    }
    if (kiln_session_run(s, NULL, (const kiln_tensor *const *)&x, 1, NULL, out, 2, &e) != KILN_OK) {
        rc = 3;
        goto done;
    }
    if (rt_max_diff(kiln_tensor_data(out[0]), r->y[n][seed], (size_t)n * RT_CNN_Y) > 1e-5 ||
        rt_max_diff(kiln_tensor_data(out[1]), r->z[n][seed], (size_t)n * RT_CNN_Z) > 1e-5)
        rc = 4;
done:
    kiln_tensor_destroy(out[0]);
    kiln_tensor_destroy(out[1]);
    kiln_tensor_destroy(x);
    return rc;
}

typedef struct worker_arg {
    kiln_session *s;
    const refs *r;
    int id, runs, vary_batch;
    int failed;
} worker_arg;

static void *worker(void *p) {
    worker_arg *w = p;
    for (int i = 0; i < w->runs && !w->failed; i++) {
        int64_t n = w->vary_batch ? 1 + (w->id + i) % MAX_BATCH : 2;
        w->failed = run_check(w->s, w->r, n, (w->id + i) % SEEDS, (w->id + i) % 2);
    }
    return NULL;
}

static refs *make_refs(mb *b) {
    refs *r = calloc(1, sizeof(*r));
    kiln_session *s = session_of(b, 1, 1);
    for (int64_t n = 1; n <= MAX_BATCH; n++)
        for (int k = 0; k < SEEDS; k++) {
            rt_fill(r->x[n][k], (size_t)n * RT_CNN_X, (uint32_t)(100 * n + k));
            kiln_tensor *x, *out[2] = {NULL, NULL};
            ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){n, 4, 8, 8}, 4, r->x[n][k],
                                              (size_t)n * RT_CNN_X * sizeof(float), &x, &err), KILN_OK);
            ck_assert_int_eq(kiln_session_run(s, NULL, (const kiln_tensor *const *)&x, 1, NULL, out, 2, &err), KILN_OK);
            memcpy(r->y[n][k], kiln_tensor_data(out[0]), (size_t)n * RT_CNN_Y * sizeof(float));
            memcpy(r->z[n][k], kiln_tensor_data(out[1]), (size_t)n * RT_CNN_Z * sizeof(float));
            kiln_tensor_destroy(out[0]);
            kiln_tensor_destroy(out[1]);
            kiln_tensor_destroy(x);
        }
    kiln_session_destroy(s);
    return r;
}

static void hammer(kiln_session *s, const refs *r, int threads, int runs, int vary_batch) {
    pthread_t t[THREADS];
    worker_arg w[THREADS];
    for (int i = 0; i < threads; i++) {
        w[i] = (worker_arg){s, r, i, runs, vary_batch, 0};
        ck_assert_int_eq(pthread_create(&t[i], NULL, worker, &w[i]), 0);
    }
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < threads; i++) ck_assert_msg(w[i].failed == 0, "thread %d failed with code %d", i, w[i].failed);
}

START_TEST(eight_threads_one_session) {
    mb *b = rt_cnn_model(0);
    refs *r = make_refs(b);
    kiln_session *s = session_of(b, 2, 1);
    hammer(s, r, THREADS, RUNS, 0);
    kiln_session_destroy(s);
    free(r);
    mb_free(b);
}
END_TEST

START_TEST(changing_signatures) {
    mb *b = rt_cnn_model(0);
    refs *r = make_refs(b);
    kiln_session *s = session_of(b, 2, 1);
    hammer(s, r, THREADS, RUNS / 2, 1);
    kiln_session_destroy(s);
    free(r);
    mb_free(b);
}
END_TEST

START_TEST(parallel_mode) {
    mb *b = rt_cnn_model(0);
    refs *r = make_refs(b);
    kiln_session *s = session_of(b, 2, 3);
    hammer(s, r, 4, RUNS / 4, 1);
    kiln_session_destroy(s);
    free(r);
    mb_free(b);
}
END_TEST

int main(void) {
    Suite *su = suite_create("concurrency");
    TCase *tc = tcase_create("concurrency");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, eight_threads_one_session);
    tcase_add_test(tc, changing_signatures);
    tcase_add_test(tc, parallel_mode);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
