/* SPDX-License-Identifier: MIT */
/* The intra-op thread pool (pthreads; workers spin briefly after a job, then sleep on a
 * condition variable) and the physical-core count that sizes it by default. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_ISSET */
#include "runtime/threads.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "runtime/base/error.h"
#include "runtime/base/mem.h"

/* How long an idle thread keeps polling before it sleeps, in microseconds: long enough to
 * catch the next parallel_for of a model (kernels are µs to ms apart), short enough not to
 * steal a shared core for long. */
#define KILN_SPIN_US 50
/* Ranges per thread a job is cut into, so threads that start late or run slower still share. */
#define CHUNKS_PER_THREAD 4

/* The job word: which job (24 bits), how many chunks it has (20 bits) and the next chunk to
 * hand out (20 bits), changed only by compare-and-swap. A thread runs a chunk only after
 * claiming it in this word, so a worker that wakes late for a finished job finds nothing to
 * claim, and the caller never waits for a thread that did not take part: it waits for the
 * job's chunks, not for the workers. */
#define JOB_NEXT_BITS 20
#define JOB_MAX_CHUNKS ((1u << JOB_NEXT_BITS) - 1)
#define JOB_GEN(w) ((uint32_t)((w) >> (2 * JOB_NEXT_BITS)))
#define JOB_COUNT(w) ((size_t)(((w) >> JOB_NEXT_BITS) & JOB_MAX_CHUNKS))
#define JOB_NEXT(w) ((size_t)((w) & JOB_MAX_CHUNKS))
#define JOB_WORD(gen, count, next) \
    (((uint64_t)((gen) & 0xffffffu) << (2 * JOB_NEXT_BITS)) | ((uint64_t)(count) << JOB_NEXT_BITS) | (uint64_t)(next))

struct kiln_threadpool {
    const kiln_allocator *a;
    uint32_t n_workers;
    pthread_t *threads;
    pthread_mutex_t submit; /* held by the caller whose job is running */
    pthread_mutex_t m;      /* guards the sleeps below */
    pthread_cond_t wake, done;
    /* The job: written by the submitter before it publishes the job word, read by a thread
     * only while it holds a claimed, unfinished chunk (so the job cannot end under it). */
    kiln_range_fn fn;
    void *arg;
    size_t n, chunk;
    _Atomic uint64_t job;   /* JOB_WORD(gen, chunks, next) */
    atomic_size_t finished; /* chunks of the current job done */
    atomic_int sleepers;    /* workers waiting on `wake` */
    atomic_int waiting;     /* 1 while the submitter waits on `done` */
    atomic_int stop;
};

static inline void relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static uint64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Claims and runs chunks of job `gen` until none is left. */
static void work(kiln_threadpool *p, uint32_t gen) {
    uint64_t w = atomic_load(&p->job);
    for (;;) {
        if (JOB_GEN(w) != (gen & 0xffffffu) || JOB_NEXT(w) >= JOB_COUNT(w)) return;
        uint64_t claimed = w + 1;
        if (!atomic_compare_exchange_weak(&p->job, &w, claimed)) continue; /* w reloaded */
        size_t c = JOB_NEXT(w), begin = c * p->chunk, end = begin + p->chunk;
        p->fn(p->arg, begin, end < p->n ? end : p->n);
        /* The last chunk out wakes a sleeping submitter; seq_cst on both sides (finished then
         * waiting here, waiting then finished there) means one of them sees the other. */
        if (atomic_fetch_add(&p->finished, 1) + 1 == JOB_COUNT(w) && atomic_load(&p->waiting)) {
            pthread_mutex_lock(&p->m);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->m);
        }
        w = claimed;
    }
}

/* Polls until `ready(p, val)` or KILN_SPIN_US pass; returns 1 when it became ready. */
static int spin(kiln_threadpool *p, uint32_t val, int (*ready)(kiln_threadpool *, uint32_t)) {
    uint64_t t0 = 0;
    for (unsigned i = 0;; i++) {
        if (ready(p, val)) return 1;
        if ((i & 63) == 63) {
            uint64_t t = now_us();
            if (!t0) t0 = t;
            else if (t - t0 >= KILN_SPIN_US) return 0;
        }
        relax();
    }
}

static int new_job(kiln_threadpool *p, uint32_t seen) { return JOB_GEN(atomic_load(&p->job)) != seen || atomic_load(&p->stop); }
static int all_done(kiln_threadpool *p, uint32_t count) { return atomic_load(&p->finished) == count; }

static void *worker(void *arg) {
    kiln_threadpool *p = arg;
    uint32_t seen = JOB_GEN(atomic_load(&p->job));
    for (;;) {
        if (!spin(p, seen, new_job)) {
            pthread_mutex_lock(&p->m);
            atomic_fetch_add(&p->sleepers, 1);
            while (!new_job(p, seen)) pthread_cond_wait(&p->wake, &p->m);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->m);
        }
        if (atomic_load(&p->stop)) return NULL;
        seen = JOB_GEN(atomic_load(&p->job));
        work(p, seen);
    }
}

kiln_status kiln_threadpool_create(const kiln_allocator *a, uint32_t threads, kiln_threadpool **out, kiln_error *err) {
    *out = NULL;
    if (threads < 2) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "a thread pool needs at least 2 threads");
    kiln_threadpool *p = kiln_mem_calloc(a, 1, sizeof(*p));
    if (!p) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for a thread pool");
    p->a = a;
    p->threads = kiln_mem_calloc(a, threads - 1, sizeof(pthread_t));
    if (!p->threads) {
        kiln_mem_free(a, p);
        return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for a thread pool");
    }
    pthread_mutex_init(&p->submit, NULL);
    pthread_mutex_init(&p->m, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    for (uint32_t i = 0; i < threads - 1; i++) {
        int rc = pthread_create(&p->threads[i], NULL, worker, p);
        if (rc != 0) {
            kiln_threadpool_destroy(p);
            return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "cannot start thread %u of %u: %s", i + 2, threads, strerror(rc));
        }
        p->n_workers = i + 1;
    }
    *out = p;
    return KILN_OK;
}

void kiln_threadpool_destroy(kiln_threadpool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->m);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->m);
    for (uint32_t i = 0; i < p->n_workers; i++) pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->m);
    pthread_mutex_destroy(&p->submit);
    kiln_mem_free(p->a, p->threads);
    kiln_mem_free(p->a, p);
}

uint32_t kiln_threadpool_size(const kiln_threadpool *p) { return p ? p->n_workers + 1 : 1; }

void kiln_threadpool_run(kiln_threadpool *p, size_t n, size_t grain, kiln_range_fn fn, void *arg) {
    if (!n) return;
    if (grain < 1) grain = 1;
    /* Chunks of at least `grain` indices, a few per thread. */
    size_t n_chunks = n / grain, max_chunks = p ? (size_t)(p->n_workers + 1) * CHUNKS_PER_THREAD : 1;
    if (n_chunks > max_chunks) n_chunks = max_chunks;
    if (n_chunks > JOB_MAX_CHUNKS) n_chunks = JOB_MAX_CHUNKS;
    if (n_chunks < 2 || pthread_mutex_trylock(&p->submit) != 0) {
        fn(arg, 0, n);
        return;
    }
    size_t chunk = (n + n_chunks - 1) / n_chunks;
    n_chunks = (n + chunk - 1) / chunk;
    /* No thread holds a chunk of the previous job (it ended with all its chunks finished), so
     * the fields are free to rewrite; publishing the word makes them visible. */
    p->fn = fn;
    p->arg = arg;
    p->n = n;
    p->chunk = chunk;
    atomic_store(&p->finished, 0);
    uint32_t gen = (JOB_GEN(atomic_load(&p->job)) + 1) & 0xffffffu;
    atomic_store(&p->job, JOB_WORD(gen, n_chunks, 0));
    if (atomic_load(&p->sleepers)) {
        pthread_mutex_lock(&p->m);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->m);
    }
    work(p, gen);
    if (!spin(p, (uint32_t)n_chunks, all_done)) {
        pthread_mutex_lock(&p->m);
        atomic_store(&p->waiting, 1);
        while (atomic_load(&p->finished) != n_chunks) pthread_cond_wait(&p->done, &p->m);
        atomic_store(&p->waiting, 0);
        pthread_mutex_unlock(&p->m);
    }
    pthread_mutex_unlock(&p->submit);
}

/* ---- core counting ---- */

static int read_int(const char *path, long *v) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int ok = fscanf(f, "%ld", v) == 1;
    fclose(f);
    return ok;
}

uint32_t kiln_physical_cores(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) != 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        return n > 0 ? (uint32_t)n : 1;
    }
    /* Distinct (package, core) pairs among the CPUs we may use. */
    long seen[CPU_SETSIZE][2];
    uint32_t n_seen = 0, n_cpus = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &set)) continue;
        n_cpus++;
        char path[128];
        long pkg = 0, core = cpu;
        snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/topology/physical_package_id", cpu);
        if (!read_int(path, &pkg)) pkg = 0;
        snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/topology/core_id", cpu);
        if (!read_int(path, &core)) core = cpu;
        uint32_t i = 0;
        while (i < n_seen && !(seen[i][0] == pkg && seen[i][1] == core)) i++;
        if (i == n_seen) {
            seen[n_seen][0] = pkg;
            seen[n_seen][1] = core;
            n_seen++;
        }
    }
    if (n_seen) return n_seen;
    return n_cpus ? n_cpus : 1;
}

uint32_t kiln_threads_resolve(int32_t requested) {
    if (requested > 0) return (uint32_t)requested;
    const char *env = getenv("KILN_NUM_THREADS");
    if (env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (!*end && v >= 1 && v <= 1024) return (uint32_t)v;
    }
    return kiln_physical_cores();
}
