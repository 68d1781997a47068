/* SPDX-License-Identifier: MIT */
/* Heap allocation through the env's kiln_allocator, overflow-checked size arithmetic, and a
 * bump arena for data that lives and dies together (the IR of one model). */
#ifndef KILN_BASE_MEM_H
#define KILN_BASE_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln.h"

/* Alignment of every kiln_mem_alloc block: one cache line, enough for any SIMD load. */
#define KILN_MEM_ALIGN 64

/* The allocator behind kiln_env_create. */
extern const kiln_allocator kiln_default_allocator;

void *kiln_mem_alloc(const kiln_allocator *a, size_t size);
/* Zeroed array of n items of `size` bytes; NULL when the product overflows or allocation fails. */
void *kiln_mem_calloc(const kiln_allocator *a, size_t n, size_t size);
void kiln_mem_free(const kiln_allocator *a, void *p);
/* Grows a block to new_size keeping the first old_size bytes (the allocator has no realloc). */
void *kiln_mem_grow(const kiln_allocator *a, void *p, size_t old_size, size_t new_size);

/* *out = a * b; false on overflow. */
static inline bool kiln_size_mul(size_t a, size_t b, size_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}
static inline bool kiln_size_add(size_t a, size_t b, size_t *out) {
    return !__builtin_add_overflow(a, b, out);
}
/* Element count of `dims` (1 for rank 0); false when a dim is negative or the product
 * exceeds INT64_MAX. */
bool kiln_dims_count(const int64_t *dims, int32_t rank, int64_t *count);

/* Bump arena: zeroed allocations freed all at once. Not thread-safe. */
typedef struct kiln_arena_chunk kiln_arena_chunk;
typedef struct kiln_arena {
    const kiln_allocator *a;
    kiln_arena_chunk *head;   /* newest chunk first */
    size_t used;              /* bytes used in head */
    size_t total;             /* bytes requested over the arena's life (statistics) */
} kiln_arena;

void kiln_arena_init(kiln_arena *arena, const kiln_allocator *a);
void kiln_arena_free(kiln_arena *arena);
/* Zeroed, 16-byte aligned; NULL on failure. size 0 returns a valid unique pointer. */
void *kiln_arena_alloc(kiln_arena *arena, size_t size);
void *kiln_arena_calloc(kiln_arena *arena, size_t n, size_t size);
void *kiln_arena_memdup(kiln_arena *arena, const void *p, size_t size);
/* Copies `len` bytes and appends a NUL. */
char *kiln_arena_strndup(kiln_arena *arena, const char *s, size_t len);
char *kiln_arena_strdup(kiln_arena *arena, const char *s);

#endif
