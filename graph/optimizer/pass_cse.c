/* SPDX-License-Identifier: MIT */
/* Common-subexpression elimination: a node with the same op, inputs and attributes as an earlier
 * node is replaced by it. Random ops and nodes with tensor or graph attributes are left alone. */
#include <string.h>

#include "graph/optimizer/optimizer.h"

static int random_op(const kiln_node *n) {
    static const char *const ops[] = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
                                      "Multinomial", "Bernoulli", "Dropout"};
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        if (strcmp(n->op_type, ops[i]) == 0) return 1;
    return 0;
}

static int attr_eq(const kiln_attr *a, const kiln_attr *b) {
    if (strcmp(a->name, b->name) != 0 || a->type != b->type || a->n != b->n) return 0;
    switch (a->type) {
    case KILN_ATTR_INT: return a->i == b->i;
    case KILN_ATTR_FLOAT: return memcmp(&a->f, &b->f, sizeof(float)) == 0;
    case KILN_ATTR_STRING: return a->s_len == b->s_len && memcmp(a->s, b->s, a->s_len) == 0;
    case KILN_ATTR_INTS: return a->n == 0 || memcmp(a->ints, b->ints, a->n * sizeof(int64_t)) == 0;
    case KILN_ATTR_FLOATS: return a->n == 0 || memcmp(a->floats, b->floats, a->n * sizeof(float)) == 0;
    case KILN_ATTR_STRINGS:
        for (uint32_t i = 0; i < a->n; i++)
            if (a->string_lens[i] != b->string_lens[i] || memcmp(a->strings[i], b->strings[i], a->string_lens[i]) != 0) return 0;
        return 1;
    default: return 0;
    }
}

static int eligible(const kiln_node *n) {
    if (n->n_outputs == 0 || random_op(n) || kiln_rw_has_subgraph(n)) return 0;
    for (uint32_t i = 0; i < n->n_attrs; i++) {
        int32_t t = n->attrs[i].type;
        if (t != KILN_ATTR_INT && t != KILN_ATTR_FLOAT && t != KILN_ATTR_STRING && t != KILN_ATTR_INTS && t != KILN_ATTR_FLOATS &&
            t != KILN_ATTR_STRINGS)
            return 0;
    }
    for (uint32_t i = 0; i < n->n_outputs; i++)
        if (n->outputs[i] && kiln_rw_is_output(n->outputs[i])) return 0;
    return 1;
}

static int same(const kiln_node *a, const kiln_node *b) {
    if (strcmp(a->op_type, b->op_type) != 0 || strcmp(a->domain, b->domain) != 0 || a->opset != b->opset ||
        a->n_inputs != b->n_inputs || a->n_outputs != b->n_outputs || a->n_attrs != b->n_attrs)
        return 0;
    for (uint32_t i = 0; i < a->n_inputs; i++)
        if (a->inputs[i] != b->inputs[i]) return 0;
    for (uint32_t i = 0; i < a->n_outputs; i++)
        if ((a->outputs[i] == NULL) != (b->outputs[i] == NULL)) return 0;
    for (uint32_t i = 0; i < a->n_attrs; i++) {
        const kiln_attr *x = &a->attrs[i], *y = NULL;
        for (uint32_t j = 0; j < b->n_attrs && !y; j++)
            if (strcmp(b->attrs[j].name, x->name) == 0) y = &b->attrs[j];
        if (!y || !attr_eq(x, y)) return 0;
    }
    return 1;
}

static uint64_t key(const kiln_node *n) {
    uint64_t h = 1469598103934665603ull;
    for (const char *s = n->op_type; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    for (uint32_t i = 0; i < n->n_inputs; i++) h = (h ^ (n->inputs[i] ? n->inputs[i]->id + 1 : 0)) * 1099511628211ull;
    return h;
}

kiln_status kiln_pass_cse(kiln_opt_ctx *c) {
    kiln_graph *g = c->rw->g;
    const kiln_allocator *a = g->model->alloc;
    uint32_t cap = 16;
    while (cap < g->n_nodes * 2) cap *= 2;
    kiln_node **table = kiln_mem_calloc(a, cap, sizeof(*table));
    if (!table) return kiln_fail(c->rw->err, KILN_ERR_OUT_OF_MEMORY, "out of memory in CSE");
    kiln_status st = KILN_OK;
    for (uint32_t i = 0; i < g->n_nodes && st == KILN_OK; i++) {
        kiln_node *n = g->nodes[i];
        if (kiln_rw_is_removed(c->rw, n) || !eligible(n)) continue;
        uint32_t h = (uint32_t)key(n) & (cap - 1);
        kiln_node *hit = NULL;
        while (table[h]) {
            if (same(table[h], n)) {
                hit = table[h];
                break;
            }
            h = (h + 1) & (cap - 1);
        }
        if (!hit) {
            table[h] = n;
            continue;
        }
        int ok = 1;
        for (uint32_t j = 0; j < n->n_outputs && ok && st == KILN_OK; j++) {
            if (!n->outputs[j]) continue;
            int done = 0;
            st = kiln_rw_replace_uses(c->rw, n->outputs[j], hit->outputs[j], &done);
            ok = done;
        }
        if (st == KILN_OK && ok) {
            st = kiln_rw_remove_node(c->rw, n);
            c->fired++;
        }
    }
    kiln_mem_free(a, table);
    return st;
}
