/* SPDX-License-Identifier: MIT */
/* String hash map (see strmap.h): FNV-1a hashes, load factor at most 1/2. */
#include "strmap.h"

#include <string.h>

#include "mem.h"

static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

void kiln_strmap_init(kiln_strmap *m, const kiln_allocator *a) {
    memset(m, 0, sizeof(*m));
    m->a = a;
}

void kiln_strmap_free(kiln_strmap *m) {
    kiln_mem_free(m->a, m->slots);
    m->slots = NULL;
    m->cap = m->count = 0;
}

static kiln_strmap_slot *find_slot(kiln_strmap_slot *slots, size_t cap, const char *key,
                                   uint64_t h) {
    size_t i = (size_t)h & (cap - 1);
    for (;;) {
        kiln_strmap_slot *s = &slots[i];
        if (!s->key || (s->hash == h && strcmp(s->key, key) == 0)) return s;
        i = (i + 1) & (cap - 1);
    }
}

void *kiln_strmap_get(const kiln_strmap *m, const char *key) {
    if (!m->cap) return NULL;
    kiln_strmap_slot *s = find_slot(m->slots, m->cap, key, fnv1a(key));
    return s->key ? s->value : NULL;
}

static bool grow(kiln_strmap *m) {
    size_t cap = m->cap ? m->cap * 2 : 16;
    kiln_strmap_slot *slots = kiln_mem_calloc(m->a, cap, sizeof(*slots));
    if (!slots) return false;
    for (size_t i = 0; i < m->cap; i++) {
        kiln_strmap_slot *o = &m->slots[i];
        if (o->key) *find_slot(slots, cap, o->key, o->hash) = *o;
    }
    kiln_mem_free(m->a, m->slots);
    m->slots = slots;
    m->cap = cap;
    return true;
}

bool kiln_strmap_put(kiln_strmap *m, const char *key, void *value) {
    if ((m->count + 1) * 2 > m->cap && !grow(m)) return false;
    uint64_t h = fnv1a(key);
    kiln_strmap_slot *s = find_slot(m->slots, m->cap, key, h);
    if (!s->key) {
        s->key = key;
        s->hash = h;
        m->count++;
    }
    s->value = value;
    return true;
}
