/* SPDX-License-Identifier: MIT */
/* String → pointer hash map (open addressing, linear probing). Keys are borrowed: they must
 * outlive the map (IR names live in the model's arena). Not thread-safe for writers. */
#ifndef KILN_BASE_STRMAP_H
#define KILN_BASE_STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln.h"

typedef struct kiln_strmap_slot {
    const char *key;
    void *value;
    uint64_t hash;
} kiln_strmap_slot;

typedef struct kiln_strmap {
    const kiln_allocator *a;
    kiln_strmap_slot *slots;
    size_t cap;   /* power of two, or 0 */
    size_t count;
} kiln_strmap;

void kiln_strmap_init(kiln_strmap *m, const kiln_allocator *a);
void kiln_strmap_free(kiln_strmap *m);
void *kiln_strmap_get(const kiln_strmap *m, const char *key);
/* Inserts or replaces; false on allocation failure. */
bool kiln_strmap_put(kiln_strmap *m, const char *key, void *value);

#endif
