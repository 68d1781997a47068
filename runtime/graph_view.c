/* SPDX-License-Identifier: MIT */
/* The graph views of the provider ABI (kiln_host_api): node order, flags, host inputs and
 * producers; graphs and fused groups as lists of nodes with inputs and outputs; the claim sink
 * that records claim_groups proposals; the clock and trace spans (into the session's profile). */
#include <string.h>
#include <time.h>

#include "graph/ops.h"
#include "runtime/profile.h"
#include "runtime/providers.h"

#define NODE(n) ((const kiln_node *)(const void *)(n))
#define VIEW(n) ((const kiln_node_view *)(const void *)(n))

int kiln_node_input_on_host(const kiln_node *n, uint32_t i) {
    if (i >= n->n_inputs || !n->inputs[i]) return 0;
    if (!n->members) return i < 32 && n->op && ((n->op->value_inputs >> i) & 1u);
    const kiln_value *v = n->inputs[i];
    for (uint32_t m = 0; m < n->n_members; m++) {
        const kiln_node *mn = n->members[m];
        for (uint32_t j = 0; j < mn->n_inputs; j++)
            if (mn->inputs[j] == v && kiln_node_input_on_host(mn, j)) return 1;
    }
    return 0;
}

uint32_t kiln_view_node_index(const kiln_node_view *n) { return NODE(n)->id; }
uint32_t kiln_view_node_flags(const kiln_node_view *n) { return NODE(n)->part_flags; }

uint32_t kiln_view_node_host_inputs(const kiln_node_view *nv) {
    const kiln_node *n = NODE(nv);
    uint32_t bits = 0;
    for (uint32_t i = 0; i < n->n_inputs && i < 32; i++)
        if (kiln_node_input_on_host(n, i)) bits |= 1u << i;
    return bits;
}

const kiln_node_view *kiln_view_node_producer(const kiln_node_view *nv, uint32_t i, uint32_t *slot) {
    const kiln_node *n = NODE(nv);
    if (slot) *slot = 0;
    if (i >= n->n_inputs || !n->inputs[i]) return NULL;
    const kiln_value *v = n->inputs[i];
    if (!v->producer || v->producer->graph != n->graph || v->constant) return NULL;
    if (slot) *slot = v->producer_slot;
    return VIEW(v->producer);
}

const char *kiln_view_graph_name(const kiln_graph_view *g) { return g->fused ? g->fused->name : g->g->name; }

uint32_t kiln_view_graph_node_count(const kiln_graph_view *g) { return g->fused ? g->fused->n_members : g->g->n_nodes; }

const kiln_node_view *kiln_view_graph_node_at(const kiln_graph_view *g, uint32_t i) {
    if (g->fused) return i < g->fused->n_members ? VIEW(g->fused->members[i]) : NULL;
    return i < g->g->n_nodes ? VIEW(g->g->nodes[i]) : NULL;
}

uint32_t kiln_view_graph_input_count(const kiln_graph_view *g) { return g->fused ? g->fused->n_inputs : g->g->n_inputs; }

int32_t kiln_view_graph_input_info(const kiln_graph_view *g, uint32_t i, kiln_value_info *info) {
    if (!info || i >= kiln_view_graph_input_count(g)) return KILN_ERR_INVALID_ARGUMENT;
    return kiln_host_fill_info(g->fused ? g->fused->inputs[i] : g->g->inputs[i], info);
}

uint32_t kiln_view_graph_output_count(const kiln_graph_view *g) { return g->fused ? g->fused->n_outputs : g->g->n_outputs; }

int32_t kiln_view_graph_output_info(const kiln_graph_view *g, uint32_t i, kiln_value_info *info) {
    if (!info || i >= kiln_view_graph_output_count(g)) return KILN_ERR_INVALID_ARGUMENT;
    return kiln_host_fill_info(g->fused ? g->fused->outputs[i] : g->g->outputs[i], info);
}

int32_t kiln_view_claim_group(kiln_claim_sink *sink, const kiln_node_view *const *nodes, uint32_t n, uint32_t flags,
                              kiln_error *err) {
    if (!sink || (n && !nodes)) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "claim_group: NULL sink or nodes");
    if (!n) return KILN_OK;
    kiln_graph *g = sink->g;
    /* proposed[] bit 1: in an earlier group of this call; bit 2: in this one. */
    kiln_status st = KILN_OK;
    uint32_t i;
    for (i = 0; i < n && st == KILN_OK; i++) {
        const kiln_node *nd = NODE(nodes[i]);
        if (!nd || nd->graph != g || nd->id >= g->n_nodes || g->nodes[nd->id] != nd)
            st = kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "claim_group: node %u is not a node of graph '%s'", i, g->name);
        else if (sink->proposed[nd->id])
            st = kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "claim_group: " KILN_NODE_FMT " is proposed twice",
                           KILN_NODE_ARGS(nd));
        else sink->proposed[nd->id] = 2;
    }
    for (uint32_t k = 0; k < i; k++) {
        const kiln_node *nd = NODE(nodes[k]);
        if (nd && nd->graph == g && nd->id < g->n_nodes && g->nodes[nd->id] == nd && sink->proposed[nd->id] == 2)
            sink->proposed[nd->id] = 0;
    }
    if (st != KILN_OK) return st;
    if (sink->n == sink->cap) {
        uint32_t nc = sink->cap ? sink->cap * 2 : 8;
        kiln_proposal *l = kiln_mem_grow(sink->a, sink->list, sink->cap * sizeof(*l), nc * sizeof(*l));
        if (!l) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        sink->list = l;
        sink->cap = nc;
    }
    kiln_proposal *pr = &sink->list[sink->n];
    pr->nodes = kiln_mem_calloc(sink->a, n, sizeof(uint32_t));
    if (!pr->nodes) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        pr->nodes[i] = NODE(nodes[i])->id;
        sink->proposed[pr->nodes[i]] = 1;
    }
    pr->n = n;
    pr->flags = flags;
    sink->n++;
    return KILN_OK;
}

uint64_t kiln_view_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void kiln_view_trace(kiln_kernel_ctx *ctx, const char *name, uint64_t begin_ns, uint64_t end_ns) {
    if (!ctx) return;
    const kiln_call *c = (const kiln_call *)ctx;
    const kiln_session *s = c->frame->session;
    const kiln_node *n = c->xn->node;
    const char *prov = c->xn->provider ? c->xn->provider->name : "?";
    double us = end_ns >= begin_ns ? (double)(end_ns - begin_ns) / 1e3 : 0.0;
    /* The profiler's clock is CLOCK_MONOTONIC in ns, as now_ns is. */
    kiln_profiler_span(s->prof, name ? name : "", n->name, prov, begin_ns, end_ns);
    kiln_log(s->env, KILN_LOG_DEBUG, "trace: " KILN_NODE_FMT " [%s provider]: %s %.3f us", KILN_NODE_ARGS(n), prov,
             name ? name : "", us);
}
