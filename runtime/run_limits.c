/* SPDX-License-Identifier: MIT */
/* Memory limits and cancellation (docs/limits.md): the session's byte budget, the memory-limit
 * option, run options, and the run guard the executor polls between nodes and at parallel_for
 * chunk boundaries. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "graph/size_bounds.h"
#include "runtime/providers.h"

/* ---- the budget ---- */

kiln_status kiln_budget_take(kiln_budget *b, uint64_t bytes, const kiln_value *v, const char *what, kiln_error *err) {
    uint64_t before = atomic_fetch_add_explicit(&b->used, bytes, memory_order_relaxed);
    if (!b->limit || (before + bytes >= before && before + bytes <= b->limit)) return KILN_OK;
    atomic_fetch_sub_explicit(&b->used, bytes, memory_order_relaxed);
    const kiln_node *n = v ? v->producer : NULL;
    const char *src = n ? kiln_limit_size_source(n) : NULL;
    char why[112] = "";
    if (src) snprintf(why, sizeof(why), " (size set by %s of " KILN_NODE_FMT ")", src, KILN_NODE_ARGS(n));
    return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY,
                     "%s: %llu bytes would pass the session's memory limit (%llu of %llu bytes in use)%s", what,
                     (unsigned long long)bytes, (unsigned long long)before, (unsigned long long)b->limit, why);
}

void kiln_budget_give(kiln_budget *b, uint64_t bytes) {
    if (bytes) atomic_fetch_sub_explicit(&b->used, bytes, memory_order_relaxed);
}

uint64_t kiln_budget_left(kiln_budget *b) {
    if (!b->limit) return UINT64_MAX;
    uint64_t used = atomic_load_explicit(&b->used, memory_order_relaxed);
    return used >= b->limit ? 0 : b->limit - used;
}

kiln_status kiln_session_options_set_memory_limit(kiln_session_options *opts, uint64_t bytes, kiln_error *err) {
    if (!opts) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_options_set_memory_limit: opts is NULL");
    opts->memory_limit = bytes;
    return KILN_OK;
}

kiln_status kiln_budget_take_tensor(kiln_session *s, const kiln_value *v, int32_t dtype, int32_t rank, const int64_t *dims,
                                    uint64_t *taken, kiln_error *err) {
    *taken = 0;
    int64_t count;
    uint64_t bytes;
    if (rank < 0 || rank > KILN_MAX_RANK || (rank && !dims) || !kiln_dims_count(dims, rank, &count) ||
        !kiln_limit_bytes(dtype, count, &bytes))
        return KILN_OK;
    char what[300];
    size_t w = (size_t)snprintf(what, sizeof(what), "value '%s' (%s [", v ? v->name : "?", kiln_dtype_name((kiln_dtype)dtype));
    for (int32_t d = 0; d < rank && w < sizeof(what); d++)
        w += (size_t)snprintf(what + w, sizeof(what) - w, "%s%lld", d ? "," : "", (long long)dims[d]);
    if (w < sizeof(what)) snprintf(what + w, sizeof(what) - w, "])");
    KILN_TRY(kiln_budget_take(&s->budget, bytes, v, what, err));
    *taken = bytes;
    return KILN_OK;
}

void kiln_budget_release_tensor(kiln_tensor *t) {
    if (!t || !t->budget) return;
    kiln_budget_give(t->budget, t->nbytes);
    t->budget = NULL;
}

kiln_run_guard *kiln_frame_guard(const kiln_frame *f) {
    /* The guard lives in the run context of the outermost frame (the main graph's): subgraph
     * frames, which have run contexts of their own (runtime/run.c), share it. */
    while (f && f->parent) f = f->parent;
    return f && f->run ? &f->run->guard : NULL;
}

/* ---- run options ---- */

kiln_status kiln_run_options_create(kiln_run_options **out, kiln_error *err) {
    if (!out) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_run_options_create: out is NULL");
    *out = calloc(1, sizeof(**out)); /* small and rare: the C heap, as session options */
    if (!*out) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory creating run options");
    atomic_init(&(*out)->cancel, 0);
    return KILN_OK;
}

void kiln_run_options_destroy(kiln_run_options *ro) { free(ro); }

void kiln_run_options_set_cancel(kiln_run_options *ro, int cancel) {
    if (ro) atomic_store_explicit(&ro->cancel, cancel ? 1 : 0, memory_order_release);
}

void kiln_run_options_set_timeout_ms(kiln_run_options *ro, uint64_t ms) {
    if (!ro) return;
    ro->timeout_ns = ms > UINT64_MAX / 1000000u ? UINT64_MAX : ms * 1000000u;
}

/* ---- the run guard ---- */

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void kiln_guard_start(kiln_run_guard *g, const kiln_run_options *ro) {
    g->ro = ro;
    g->deadline_ns = 0;
    if (ro && ro->timeout_ns) {
        uint64_t t = now_ns();
        g->deadline_ns = t + ro->timeout_ns < t ? UINT64_MAX : t + ro->timeout_ns;
    }
    atomic_store_explicit(&g->stopped, 0, memory_order_relaxed);
}

kiln_status kiln_guard_poll(kiln_run_guard *g) {
    if (!g || !g->ro) return KILN_OK;
    int st = atomic_load_explicit(&g->stopped, memory_order_relaxed);
    if (st) return (kiln_status)st;
    if (atomic_load_explicit(&g->ro->cancel, memory_order_acquire)) st = KILN_ERR_CANCELLED;
    else if (g->deadline_ns && now_ns() >= g->deadline_ns) st = KILN_ERR_TIMEOUT;
    if (st) {
        int zero = 0;
        atomic_compare_exchange_strong(&g->stopped, &zero, st);
        return (kiln_status)atomic_load(&g->stopped);
    }
    return KILN_OK;
}

kiln_status kiln_guard_check(kiln_run_guard *g, const kiln_node *n, kiln_error *err) {
    kiln_status st = kiln_guard_poll(g);
    if (st == KILN_OK) return KILN_OK;
    const char *why = st == KILN_ERR_TIMEOUT ? "timed out" : "cancelled";
    if (n) return kiln_fail(err, st, "run %s before " KILN_NODE_FMT, why, KILN_NODE_ARGS(n));
    return kiln_fail(err, st, "run %s during its last node", why);
}

typedef struct guarded {
    kiln_run_guard *g;
    kiln_range_fn fn;
    void *arg;
} guarded;

static void guarded_range(void *arg, size_t begin, size_t end) {
    guarded *j = arg;
    if (kiln_guard_poll(j->g) != KILN_OK) return; /* skipped: the node's results are discarded */
    j->fn(j->arg, begin, end);
}

void kiln_guard_parallel_for(kiln_run_guard *g, kiln_threadpool *pool, size_t n, size_t grain, kiln_range_fn fn, void *arg) {
    if (!g || !g->ro) {
        kiln_threadpool_run(pool, n, grain, fn, arg);
        return;
    }
    guarded j = {g, fn, arg};
    if (pool) {
        kiln_threadpool_run(pool, n, grain, guarded_range, &j);
        return;
    }
    /* No pool (one thread): the range in up to GUARD_SLICES pieces of at least `grain`, so a
     * long kernel still sees the stop. */
    enum { GUARD_SLICES = 16 };
    size_t piece = (n + GUARD_SLICES - 1) / GUARD_SLICES;
    if (piece < grain) piece = grain ? grain : 1;
    for (size_t b = 0; b < n; b += piece) guarded_range(&j, b, n - b < piece ? n : b + piece);
}
