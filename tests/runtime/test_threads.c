/* SPDX-License-Identifier: MIT */
/* The intra-op thread pool: every index of a parallel_for runs exactly once whatever the sizes,
 * grains and number of callers at once; KILN_NUM_THREADS and the options size it; a one-thread
 * session starts no thread; results do not depend on the thread count. */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "models.h"
#include "runtime/session_impl.h"
#include "runtime/threads.h"

static kiln_env *env;
static kiln_error err;

static void setup(void) { ck_assert_int_eq(kiln_env_create(&env, &err), KILN_OK); }
static void teardown(void) { kiln_env_destroy(env); }

typedef struct cover {
    atomic_int *hits;
    atomic_int bad;  /* a range was empty, past n, or (not last) shorter than the grain */
    size_t grain, n;
} cover;

/* Runs on pool threads: records, the test thread asserts. */
static void mark(void *arg, size_t begin, size_t end) {
    cover *c = arg;
    if (begin >= end || end > c->n || (end != c->n && end - begin < c->grain)) atomic_store(&c->bad, 1);
    for (size_t i = begin; i < end && i < c->n; i++) atomic_fetch_add(&c->hits[i], 1);
}

static void check_cover(kiln_threadpool *p, size_t n, size_t grain) {
    cover c = {calloc(n + 1, sizeof(atomic_int)), 0, grain ? grain : 1, n};
    kiln_threadpool_run(p, n, grain, mark, &c);
    ck_assert_msg(!atomic_load(&c.bad), "n %zu grain %zu: a bad range", n, grain);
    for (size_t i = 0; i < n; i++) ck_assert_msg(atomic_load(&c.hits[i]) == 1, "n %zu grain %zu: index %zu ran %d times", n, grain, i, atomic_load(&c.hits[i]));
    free(c.hits);
}

START_TEST(every_index_once) {
    const size_t ns[] = {0, 1, 2, 7, 100, 1000, 10007};
    const size_t grains[] = {0, 1, 3, 64, 100000};
    for (uint32_t threads = 2; threads <= 5; threads++) {
        kiln_threadpool *p;
        ck_assert_int_eq(kiln_threadpool_create(&env->alloc, threads, &p, &err), KILN_OK);
        ck_assert_uint_eq(kiln_threadpool_size(p), threads);
        for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
            for (size_t j = 0; j < sizeof(grains) / sizeof(grains[0]); j++) check_cover(p, ns[i], grains[j]);
        kiln_threadpool_destroy(p);
    }
    /* No pool: the caller runs everything. */
    check_cover(NULL, 50, 1);
    ck_assert_uint_eq(kiln_threadpool_size(NULL), 1);
    ck_assert_int_eq(kiln_threadpool_create(&env->alloc, 1, &(kiln_threadpool *){NULL}, &err), KILN_ERR_INVALID_ARGUMENT);
}
END_TEST

typedef struct submitter {
    kiln_threadpool *p;
    int jobs;
} submitter;

static void *submit_many(void *arg) {
    submitter *s = arg;
    for (int j = 0; j < s->jobs; j++) check_cover(s->p, 1 + (size_t)(j * 37) % 500, (size_t)(j % 7));
    return NULL;
}

/* Several threads share a pool: one job runs on it, the others run on their callers. */
START_TEST(concurrent_callers) {
    kiln_threadpool *p;
    ck_assert_int_eq(kiln_threadpool_create(&env->alloc, 3, &p, &err), KILN_OK);
    pthread_t t[4];
    submitter s = {p, 1500};
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, submit_many, &s);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    kiln_threadpool_destroy(p);
}
END_TEST

START_TEST(thread_counts) {
    ck_assert_uint_ge(kiln_physical_cores(), 1);
    ck_assert_uint_eq(kiln_threads_resolve(5), 5);
    setenv("KILN_NUM_THREADS", "3", 1);
    ck_assert_uint_eq(kiln_threads_resolve(0), 3);
    ck_assert_uint_eq(kiln_threads_resolve(2), 2); /* an explicit option wins */
    setenv("KILN_NUM_THREADS", "lots", 1);
    ck_assert_uint_eq(kiln_threads_resolve(0), kiln_physical_cores());
    setenv("KILN_NUM_THREADS", "0", 1);
    ck_assert_uint_eq(kiln_threads_resolve(0), kiln_physical_cores());
    unsetenv("KILN_NUM_THREADS");
    ck_assert_uint_eq(kiln_threads_resolve(0), kiln_physical_cores());
    kiln_session_options *o;
    ck_assert_int_eq(kiln_session_options_create(&o, &err), KILN_OK);
    ck_assert_int_eq(kiln_session_options_set_intra_op_threads(o, -1, &err), KILN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(kiln_session_options_set_intra_op_threads(o, 1025, &err), KILN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(kiln_session_options_set_inter_op_threads(o, -2, &err), KILN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(kiln_session_options_set_intra_op_threads(NULL, 1, &err), KILN_ERR_INVALID_ARGUMENT);
    kiln_session_options_destroy(o);
}
END_TEST

static int task_count(void) {
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

static kiln_session *cnn_session(mb *b, int32_t intra, int32_t inter) {
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

START_TEST(one_thread_session_starts_none) {
    ck_assert_msg(task_count() > 0, "cannot count this process's threads in /proc/self/task");
    mb *b = rt_cnn_model(1);
    /* A first session warms up whatever libraries start on first use. */
    kiln_session_destroy(cnn_session(b, 1, 1));
    int before = task_count();
    kiln_session *s = cnn_session(b, 1, 1);
    ck_assert_int_eq(task_count(), before);
    ck_assert_uint_eq(kiln_session_intra_op_threads(s), 1);
    ck_assert_uint_eq(kiln_session_inter_op_threads(s), 1);
    kiln_session_destroy(s);
    s = cnn_session(b, 3, 2);
    ck_assert_int_eq(task_count(), before + 2 + 1);
    ck_assert_uint_eq(kiln_session_intra_op_threads(s), 3);
    kiln_session_destroy(s);
    ck_assert_int_eq(task_count(), before);
    mb_free(b);
}
END_TEST

static void run_once(kiln_session *s, int64_t n, float *y, float *z) {
    size_t nx = (size_t)n * RT_CNN_X;
    float *xv = malloc(nx * sizeof(float));
    rt_fill(xv, nx, 9);
    kiln_tensor *x;
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){n, 4, 8, 8}, 4, xv, nx * sizeof(float), &x, &err), KILN_OK);
    kiln_tensor *out[2] = {NULL, NULL};
    ck_assert_int_eq(kiln_session_run(s, NULL, (const kiln_tensor *const *)&x, 1, NULL, out, 2, &err), KILN_OK);
    memcpy(y, kiln_tensor_data(out[0]), (size_t)n * RT_CNN_Y * sizeof(float));
    memcpy(z, kiln_tensor_data(out[1]), (size_t)n * RT_CNN_Z * sizeof(float));
    kiln_tensor_destroy(out[0]);
    kiln_tensor_destroy(out[1]);
    kiln_tensor_destroy(x);
    free(xv);
}

START_TEST(results_do_not_depend_on_threads) {
    mb *b = rt_cnn_model(0);
    kiln_session *one = cnn_session(b, 1, 1), *four = cnn_session(b, 4, 1);
    float y0[16 * RT_CNN_Y], z0[16 * RT_CNN_Z], y[16 * RT_CNN_Y], z[16 * RT_CNN_Z];
    for (int r = 0; r < 3; r++) {
        run_once(one, 16, y0, z0);
        run_once(four, 16, y, z);
        ck_assert_double_le(rt_max_diff(y, y0, 16 * RT_CNN_Y), 1e-5);
        ck_assert_double_le(rt_max_diff(z, z0, 16 * RT_CNN_Z), 1e-5);
    }
    kiln_session_destroy(one);
    kiln_session_destroy(four);
    mb_free(b);
}
END_TEST

/* Y = X [m,k] x W [k,n] with W an initializer: large enough that the CPU provider tiles the
 * GEMM over the pool (by columns when n >= m, else by rows, one tile per thread). */
static mb *matmul_model(int64_t m, int64_t k, int64_t n, const float *w) {
    mb *b = mb_new(8, 13);
    KilnOnnx__GraphProto *g = mb_graph(b);
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 2, (const int64_t[]){m, k});
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, 2, (const int64_t[]){m, n});
    mb_initializer(b, g, mb_tensor_raw(b, "w", KILN_DTYPE_FLOAT, 2, (const int64_t[]){k, n}, w, (size_t)(k * n) * sizeof(float)));
    mb_node(b, g, "MatMul", "mm", (const char *[]){"x", "w", NULL}, (const char *[]){"y", NULL});
    return b;
}

static void tiled_gemm_case(int64_t m, int64_t k, int64_t n) {
    float *x = malloc((size_t)(m * k) * sizeof(float)), *w = malloc((size_t)(k * n) * sizeof(float));
    double *ref = calloc((size_t)(m * n), sizeof(double));
    rt_fill(x, (size_t)(m * k), 3);
    rt_fill(w, (size_t)(k * n), 4);
    for (int64_t i = 0; i < m; i++)
        for (int64_t p = 0; p < k; p++)
            for (int64_t j = 0; j < n; j++) ref[i * n + j] += (double)x[i * k + p] * (double)w[p * n + j];
    mb *b = matmul_model(m, k, n, w);
    const int32_t threads[] = {1, 2, 3};
    for (size_t t = 0; t < 3; t++) {
        kiln_session *s = cnn_session(b, threads[t], 1);
        kiln_tensor *xt, *y = NULL;
        ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){m, k}, 2, x, (size_t)(m * k) * sizeof(float), &xt, &err), KILN_OK);
        ck_assert_msg(kiln_session_run(s, NULL, (const kiln_tensor *const *)&xt, 1, NULL, &y, 1, &err) == KILN_OK, "%s", err.msg);
        const float *yd = kiln_tensor_data(y);
        for (int64_t i = 0; i < m * n; i++)
            ck_assert_msg(fabs(yd[i] - ref[i]) <= 1e-4 * (1.0 + fabs(ref[i])), "%lldx%lldx%lld, %d threads: y[%lld] = %g, expected %g",
                          (long long)m, (long long)k, (long long)n, threads[t], (long long)i, yd[i], ref[i]);
        kiln_tensor_destroy(y);
        kiln_tensor_destroy(xt);
        kiln_session_destroy(s);
    }
    mb_free(b);
    free(ref);
    free(w);
    free(x);
}

/* Tiles by columns (wide), by rows (tall), and sizes that do not divide by the thread count. */
START_TEST(tiled_gemm_matches_reference) {
    tiled_gemm_case(40, 300, 500);
    tiled_gemm_case(517, 150, 37);
    tiled_gemm_case(33, 97, 1001);
}
END_TEST

int main(void) {
    Suite *su = suite_create("threads");
    TCase *tc = tcase_create("threads");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, every_index_once);
    tcase_add_test(tc, concurrent_callers);
    tcase_add_test(tc, thread_counts);
    tcase_add_test(tc, one_thread_session_starts_none);
    tcase_add_test(tc, results_do_not_depend_on_threads);
    tcase_add_test(tc, tiled_gemm_matches_reference);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
