/* SPDX-License-Identifier: MIT */
/* Topological order with cycle detection (iterative depth-first search, so a hostile model with
 * a very long chain cannot overflow the stack), implicit inputs of nodes that own subgraphs,
 * and consumer counts. The original order is kept where it is already topological. */
#include <string.h>

#include "graph/ir.h"
#include "runtime/base/error.h"

/* Outer values read by the subgraphs of n, as values of n's own graph. */
static kiln_status collect_implicit(kiln_node *n, kiln_error *err) {
    kiln_model *m = n->graph->model;
    uint32_t total = 0;
    for (uint32_t i = 0; i < n->n_attrs; i++) {
        const kiln_attr *a = &n->attrs[i];
        if (a->type != KILN_ATTR_GRAPH && a->type != KILN_ATTR_GRAPHS) continue;
        for (uint32_t k = 0; k < a->n; k++)
            if (a->graphs[k]) total += a->graphs[k]->n_values;
    }
    if (!total) return KILN_OK;
    kiln_value **list = kiln_arena_calloc(&m->arena, total, sizeof(*list));
    if (!list) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    uint32_t cnt = 0;
    for (uint32_t i = 0; i < n->n_attrs; i++) {
        const kiln_attr *a = &n->attrs[i];
        if (a->type != KILN_ATTR_GRAPH && a->type != KILN_ATTR_GRAPHS) continue;
        for (uint32_t k = 0; k < a->n; k++) {
            const kiln_graph *sg = a->graphs[k];
            if (!sg) continue;
            for (uint32_t j = 0; j < sg->n_values; j++) {
                const kiln_value *v = sg->values[j];
                if (!(v->flags & KILN_VALUE_F_OUTER)) continue;
                uint32_t d = 0;
                while (d < cnt && list[d] != v->outer) d++;
                if (d == cnt) list[cnt++] = v->outer;
            }
        }
    }
    n->implicit = list;
    n->n_implicit = cnt;
    return KILN_OK;
}

/* The d-th dependency of n (inputs, then implicit inputs) when it is produced in g, else NULL. */
static kiln_node *dep(const kiln_graph *g, const kiln_node *n, uint32_t d) {
    const kiln_value *v = d < n->n_inputs ? n->inputs[d] : n->implicit[d - n->n_inputs];
    return v && v->producer && v->producer->graph == g ? v->producer : NULL;
}

kiln_status kiln_graph_sort(kiln_graph *g, kiln_error *err) {
    const kiln_allocator *a = g->model->alloc;
    for (uint32_t i = 0; i < g->n_nodes; i++) {
        kiln_node *n = g->nodes[i];
        for (uint32_t j = 0; j < n->n_attrs; j++) {
            const kiln_attr *at = &n->attrs[j];
            if (at->type != KILN_ATTR_GRAPH && at->type != KILN_ATTR_GRAPHS) continue;
            for (uint32_t k = 0; k < at->n; k++)
                if (at->graphs[k]) KILN_TRY(kiln_graph_sort(at->graphs[k], err));
        }
        KILN_TRY(collect_implicit(n, err));
    }
    uint32_t nn = g->n_nodes;
    if (nn == 0) return KILN_OK;
    uint8_t *state = kiln_mem_calloc(a, nn, 1);
    uint32_t *stack_node = kiln_mem_calloc(a, nn, sizeof(uint32_t));
    uint32_t *stack_dep = kiln_mem_calloc(a, nn, sizeof(uint32_t));
    kiln_node **order = kiln_mem_calloc(a, nn, sizeof(kiln_node *));
    kiln_status s = KILN_OK;
    if (!state || !stack_node || !stack_dep || !order) {
        s = kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory sorting graph '%s'", g->name);
        goto done;
    }
    uint32_t n_order = 0;
    for (uint32_t root = 0; root < nn; root++) {
        if (state[root]) continue;
        uint32_t sp = 0;
        stack_node[sp] = root;
        stack_dep[sp++] = 0;
        state[root] = 1;
        while (sp) {
            kiln_node *n = g->nodes[stack_node[sp - 1]];
            uint32_t n_deps = n->n_inputs + n->n_implicit;
            uint32_t *d = &stack_dep[sp - 1];
            while (*d < n_deps && !dep(g, n, *d)) (*d)++;
            if (*d == n_deps) {
                state[n->id] = 2;
                order[n_order++] = n;
                sp--;
                continue;
            }
            kiln_node *p = dep(g, n, (*d)++);
            if (state[p->id] == 1) {
                s = kiln_fail(err, KILN_ERR_INVALID_MODEL,
                              "graph '%s' has a cycle: " KILN_NODE_FMT " depends on " KILN_NODE_FMT
                              ", which depends on it",
                              g->name, KILN_NODE_ARGS(p), KILN_NODE_ARGS(n));
                goto done;
            }
            if (state[p->id] == 0) {
                state[p->id] = 1;
                stack_node[sp] = p->id;
                stack_dep[sp++] = 0;
            }
        }
    }
    for (uint32_t i = 0; i < nn; i++) {
        g->nodes[i] = order[i];
        order[i]->id = i;
    }
    for (uint32_t i = 0; i < g->n_values; i++) g->values[i]->n_consumers = 0;
    for (uint32_t i = 0; i < nn; i++) {
        kiln_node *n = g->nodes[i];
        for (uint32_t j = 0; j < n->n_inputs; j++)
            if (n->inputs[j]) n->inputs[j]->n_consumers++;
        for (uint32_t j = 0; j < n->n_implicit; j++) n->implicit[j]->n_consumers++;
    }
done:
    kiln_mem_free(a, state);
    kiln_mem_free(a, stack_node);
    kiln_mem_free(a, stack_dep);
    kiln_mem_free(a, order);
    return s;
}
