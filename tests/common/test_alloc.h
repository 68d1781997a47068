/* SPDX-License-Identifier: MIT */
/* A counting allocator for tests: counts allocations and frees (so leaks show), and can fail
 * the Nth allocation (so every out-of-memory path can be driven). Thread-safe. */
#ifndef KILN_TESTS_TEST_ALLOC_H
#define KILN_TESTS_TEST_ALLOC_H

#include <stdatomic.h>

#include "kiln.h"

typedef struct test_alloc {
    kiln_allocator a;          /* pass &t->a to kiln_env_create_with_allocator */
    atomic_long calls;         /* allocation requests, numbered from 1 */
    atomic_long allocs, frees; /* successful allocations and frees */
    atomic_long fail_at;       /* fail the allocation with this 1-based number; 0: never */
    atomic_long failed;        /* allocations refused */
} test_alloc;

void test_alloc_init(test_alloc *t);
long test_alloc_live(const test_alloc *t);

#endif
