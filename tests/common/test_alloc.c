/* SPDX-License-Identifier: MIT */
/* Counting and failing allocator (see test_alloc.h). */
#include "test_alloc.h"

#include <stdlib.h>
#include <string.h>

static void *ta_alloc(void *ctx, size_t size, size_t alignment) {
    test_alloc *t = ctx;
    long n = atomic_fetch_add(&t->calls, 1) + 1;
    long f = atomic_load(&t->fail_at);
    if (f && n == f) {
        atomic_fetch_add(&t->failed, 1);
        return NULL;
    }
    void *p = NULL;
    if (alignment < sizeof(void *)) alignment = sizeof(void *);
    if (posix_memalign(&p, alignment, size ? size : 1) != 0) return NULL;
    atomic_fetch_add(&t->allocs, 1);
    return p;
}

static void ta_free(void *ctx, void *p) {
    test_alloc *t = ctx;
    if (!p) return;
    atomic_fetch_add(&t->frees, 1);
    free(p);
}

void test_alloc_init(test_alloc *t) {
    memset(t, 0, sizeof(*t));
    t->a.ctx = t;
    t->a.alloc = ta_alloc;
    t->a.free = ta_free;
}

long test_alloc_live(const test_alloc *t) { return atomic_load(&t->allocs) - atomic_load(&t->frees); }
