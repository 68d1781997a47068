/* SPDX-License-Identifier: MIT */
/* Timing loop and the reference libraries' thread counts. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

#ifdef RB_HAVE_BLAS
#include <cblas.h>
#endif

double rb_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#define RB_MAX_REPS 100000

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int use_cpu_clock(const rb_args *a, int threads) { return a->clock == 2 || (a->clock == 0 && threads == 1); }

const char *rb_clock_name(const rb_args *a, int threads) { return use_cpu_clock(a, threads) ? "cpu" : "wall"; }

double rb_clock_now(const rb_args *a, int threads) { return use_cpu_clock(a, threads) ? cpu_now() : rb_now(); }

void rb_time(const rb_args *a, int threads, rb_run_fn fn, void *ctx, double *median, double *min, double *p90,
             int *reps) {
    static double t[RB_MAX_REPS];
    double (*now)(void) = use_cpu_clock(a, threads) ? cpu_now : rb_now;
    double min_time = a->min_time;
    int min_reps = a->min_reps;
    fn(ctx); /* warm-up: caches, lazy packing, thread start */
    double start = now();
    int n = 0;
    while (n < RB_MAX_REPS) {
        double t0 = now();
        fn(ctx);
        double t1 = now();
        t[n++] = t1 - t0;
        if (n >= min_reps && t1 - start >= min_time) break;
        if (t1 - start > 60 && n >= 3) break;
    }
    qsort(t, (size_t)n, sizeof(double), cmp_double);
    *median = t[(n - 1) / 2];
    *min = t[0];
    *p90 = t[(size_t)((n - 1) * 0.9)];
    *reps = n;
}


void rb_set_blas_threads(int n) {
#ifdef RB_HAVE_BLAS
    openblas_set_num_threads(n);
#else
    (void)n;
#endif
}

void rb_set_ref_threads(int n) {
    rb_set_blas_threads(n);
    /* oneDNN's Debian build threads with OpenMP: set the pool size when libgomp is loaded. */
    void (*omp_set)(int) = (void (*)(int))dlsym(RTLD_DEFAULT, "omp_set_num_threads");
    if (omp_set) omp_set(n);
}

int rb_inject_wrong(const char *impl) {
    const char *e = getenv("KILN_BENCH_INJECT_WRONG");
    if (!e || !*e || !strcmp(e, "0")) return 0;
    return !strcmp(e, "1") || !strcmp(e, impl);
}
