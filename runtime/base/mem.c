/* SPDX-License-Identifier: MIT */
/* Allocation helpers and the bump arena (see mem.h). */
#include "mem.h"

#include <stdlib.h>
#include <string.h>

static void *default_alloc(void *ctx, size_t size, size_t alignment) {
    (void)ctx;
    if (alignment < sizeof(void *)) alignment = sizeof(void *);
    void *p = NULL;
    if (posix_memalign(&p, alignment, size ? size : 1) != 0) return NULL;
    return p;
}

static void default_free(void *ctx, void *p) {
    (void)ctx;
    free(p);
}

const kiln_allocator kiln_default_allocator = {NULL, default_alloc, default_free};

void *kiln_mem_alloc(const kiln_allocator *a, size_t size) {
    return a->alloc(a->ctx, size ? size : 1, KILN_MEM_ALIGN);
}

void *kiln_mem_calloc(const kiln_allocator *a, size_t n, size_t size) {
    size_t bytes;
    if (!kiln_size_mul(n, size, &bytes)) return NULL;
    void *p = kiln_mem_alloc(a, bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

void kiln_mem_free(const kiln_allocator *a, void *p) {
    if (p) a->free(a->ctx, p);
}

void *kiln_mem_grow(const kiln_allocator *a, void *p, size_t old_size, size_t new_size) {
    void *q = kiln_mem_alloc(a, new_size);
    if (!q) return NULL;
    if (p) {
        memcpy(q, p, old_size < new_size ? old_size : new_size);
        kiln_mem_free(a, p);
    }
    return q;
}

bool kiln_dims_count(const int64_t *dims, int32_t rank, int64_t *count) {
    int64_t n = 1;
    for (int32_t i = 0; i < rank; i++) {
        if (dims[i] < 0) return false;
        if (__builtin_mul_overflow(n, dims[i], &n)) return false;
    }
    *count = n;
    return true;
}

/* ---- arena ---- */

struct kiln_arena_chunk {
    kiln_arena_chunk *next;
    size_t size;          /* usable bytes after the header */
    _Alignas(16) unsigned char data[];
};

#define ARENA_CHUNK_MIN (64u * 1024u)

void kiln_arena_init(kiln_arena *arena, const kiln_allocator *a) {
    memset(arena, 0, sizeof(*arena));
    arena->a = a;
}

void kiln_arena_free(kiln_arena *arena) {
    kiln_arena_chunk *c = arena->head;
    while (c) {
        kiln_arena_chunk *next = c->next;
        kiln_mem_free(arena->a, c);
        c = next;
    }
    arena->head = NULL;
    arena->used = 0;
}

void *kiln_arena_alloc(kiln_arena *arena, size_t size) {
    size_t need = (size + 15u) & ~(size_t)15u;
    if (need < size) return NULL;
    if (need == 0) need = 16;
    if (!arena->head || arena->head->size - arena->used < need) {
        size_t cap = need > ARENA_CHUNK_MIN ? need : ARENA_CHUNK_MIN;
        size_t bytes;
        if (!kiln_size_add(cap, sizeof(kiln_arena_chunk), &bytes)) return NULL;
        kiln_arena_chunk *c = kiln_mem_alloc(arena->a, bytes);
        if (!c) return NULL;
        c->size = cap;
        if (arena->head && need > ARENA_CHUNK_MIN) {
            /* A big block gets a chunk of its own behind the head, so the head's free space
             * stays usable for small allocations. */
            c->next = arena->head->next;
            arena->head->next = c;
            memset(c->data, 0, need);
            arena->total += size;
            return c->data;
        }
        c->next = arena->head;
        arena->head = c;
        arena->used = 0;
    }
    void *p = arena->head->data + arena->used;
    arena->used += need;
    arena->total += size;
    memset(p, 0, need);
    return p;
}

void *kiln_arena_calloc(kiln_arena *arena, size_t n, size_t size) {
    size_t bytes;
    if (!kiln_size_mul(n, size, &bytes)) return NULL;
    return kiln_arena_alloc(arena, bytes);
}

void *kiln_arena_memdup(kiln_arena *arena, const void *p, size_t size) {
    void *q = kiln_arena_alloc(arena, size);
    if (q && size) memcpy(q, p, size);
    return q;
}

char *kiln_arena_strndup(kiln_arena *arena, const char *s, size_t len) {
    size_t bytes;
    if (!kiln_size_add(len, 1, &bytes)) return NULL;
    char *q = kiln_arena_alloc(arena, bytes);
    if (!q) return NULL;
    if (len) memcpy(q, s, len);
    q[len] = '\0';
    return q;
}

char *kiln_arena_strdup(kiln_arena *arena, const char *s) {
    return kiln_arena_strndup(arena, s ? s : "", s ? strlen(s) : 0);
}
