/* SPDX-License-Identifier: MIT */
/* Session profiling: Chrome trace events (timestamps in microseconds from the profiler's start)
 * streamed to a file under a lock, and per-op totals. */
#include "runtime/profile.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/session_impl.h"

struct kiln_profiler {
    const kiln_allocator *a;
    FILE *f;               /* NULL: totals only */
    pthread_mutex_t lock;
    uint64_t t0;           /* ns: the profile's time zero */
    uint64_t runs;
    int first_event;
    kiln_op_profile *ops;  /* per op type */
    size_t n_ops, cap_ops;
};

uint64_t kiln_prof_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint32_t kiln_prof_tid(void) {
    static atomic_uint next = 1;
    static _Thread_local uint32_t tid;
    if (!tid) tid = atomic_fetch_add(&next, 1);
    return tid;
}

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

/* Starts an event line: the separator, then the fields every complete ("X") event has. */
static void event(kiln_profiler *p, const char *cat, const char *name, uint64_t t0, uint64_t t1, uint32_t tid) {
    fputs(p->first_event ? "\n" : ",\n", p->f);
    p->first_event = 0;
    fprintf(p->f, "{\"ph\":\"X\",\"cat\":\"%s\",\"name\":", cat);
    json_str(p->f, name);
    uint64_t ts = t0 > p->t0 ? t0 - p->t0 : 0, dur = t1 > t0 ? t1 - t0 : 0;
    fprintf(p->f, ",\"pid\":1,\"tid\":%u,\"ts\":%llu.%03u,\"dur\":%llu.%03u", tid, (unsigned long long)(ts / 1000),
            (unsigned)(ts % 1000), (unsigned long long)(dur / 1000), (unsigned)(dur % 1000));
}

kiln_status kiln_profiler_create(const kiln_allocator *a, const char *path, kiln_profiler **out, kiln_error *err) {
    *out = NULL;
    kiln_profiler *p = kiln_mem_calloc(a, 1, sizeof(*p));
    if (!p) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    p->a = a;
    p->t0 = kiln_prof_now();
    p->first_event = 1;
    if (path) {
        p->f = fopen(path, "w");
        if (!p->f) {
            kiln_mem_free(a, p);
            return kiln_fail(err, KILN_ERR_IO, "cannot create the profile '%s'", path);
        }
        fputs("{\"displayTimeUnit\":\"ms\",\"otherData\":{\"producer\":\"kiln " KILN_VERSION_STRING "\"},\"traceEvents\":[", p->f);
    }
    pthread_mutex_init(&p->lock, NULL);
    *out = p;
    return KILN_OK;
}

void kiln_profiler_destroy(kiln_profiler *p) {
    if (!p) return;
    if (p->f) {
        fputs("\n]}\n", p->f);
        fclose(p->f);
    }
    pthread_mutex_destroy(&p->lock);
    kiln_mem_free(p->a, p->ops);
    kiln_mem_free(p->a, p);
}

void kiln_profiler_phase(kiln_profiler *p, const char *name, uint64_t t0, uint64_t t1) {
    if (!p || !p->f) return;
    pthread_mutex_lock(&p->lock);
    event(p, "session", name, t0, t1, kiln_prof_tid());
    fputs("}", p->f);
    pthread_mutex_unlock(&p->lock);
}

void kiln_profiler_span(kiln_profiler *p, const char *name, const char *node, const char *provider, uint64_t t0,
                        uint64_t t1) {
    if (!p || !p->f) return;
    pthread_mutex_lock(&p->lock);
    event(p, "provider", name, t0, t1, kiln_prof_tid());
    fputs(",\"args\":{\"node\":", p->f);
    json_str(p->f, node);
    fputs(",\"provider\":", p->f);
    json_str(p->f, provider);
    fputs("}}", p->f);
    pthread_mutex_unlock(&p->lock);
}

/* Adds one execution of `op` to the totals; a new op type may need room (skipped when the
 * allocation fails: totals are best effort, never a reason for a run to fail). */
static void add_op(kiln_profiler *p, const char *op, uint64_t ns) {
    size_t i = 0;
    while (i < p->n_ops && strcmp(p->ops[i].op_type, op) != 0) i++;
    if (i == p->n_ops) {
        if (p->n_ops == p->cap_ops) {
            size_t nc = p->cap_ops ? p->cap_ops * 2 : 32;
            kiln_op_profile *no = kiln_mem_grow(p->a, p->ops, p->cap_ops * sizeof(*no), nc * sizeof(*no));
            if (!no) return;
            p->ops = no;
            p->cap_ops = nc;
        }
        p->ops[p->n_ops++] = (kiln_op_profile){op, 0, 0};
    }
    p->ops[i].count++;
    p->ops[i].total_ns += ns;
}

void kiln_profiler_run(kiln_profiler *p, const kiln_exec_graph *xg, const kiln_prof_node *nodes, const char *shapes,
                       uint64_t t0, uint64_t t1) {
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    uint64_t run = p->runs++;
    if (p->f) {
        char name[32];
        snprintf(name, sizeof(name), "run %llu", (unsigned long long)run);
        event(p, "run", name, t0, t1, kiln_prof_tid());
        fputs("}", p->f);
    }
    for (uint32_t i = 0; nodes && i < xg->n_nodes; i++) {
        const kiln_prof_node *pn = &nodes[i];
        if (!pn->t1) continue;
        const kiln_exec_node *xn = &xg->nodes[i];
        add_op(p, xn->node->op_type, pn->t1 - pn->t0);
        if (!p->f) continue;
        event(p, "node", xn->node->name, pn->t0, pn->t1, pn->tid);
        fputs(",\"args\":{\"op\":", p->f);
        json_str(p->f, xn->node->op_type);
        fputs(",\"provider\":", p->f);
        json_str(p->f, xn->provider ? xn->provider->name : "");
        fputs(",\"input_shapes\":", p->f);
        json_str(p->f, shapes + (size_t)i * KILN_PROF_SHAPES);
        fprintf(p->f, ",\"run\":%llu}}", (unsigned long long)run);
    }
    pthread_mutex_unlock(&p->lock);
}

static int by_time(const void *x, const void *y) {
    const kiln_op_profile *a = x, *b = y;
    if (a->total_ns != b->total_ns) return a->total_ns > b->total_ns ? -1 : 1;
    return strcmp(a->op_type, b->op_type);
}

size_t kiln_profiler_ops(kiln_profiler *p, kiln_op_profile *out, size_t cap) {
    pthread_mutex_lock(&p->lock);
    qsort(p->ops, p->n_ops, sizeof(*p->ops), by_time);
    size_t n = p->n_ops;
    for (size_t i = 0; i < n && i < cap && out; i++) out[i] = p->ops[i];
    pthread_mutex_unlock(&p->lock);
    return n;
}
