/* SPDX-License-Identifier: MIT */
/* Partitioning: providers are asked in order (the CPU last) for fused groups and then for single
 * nodes; the first claim wins. A proposed group is split into pieces that leave the graph with
 * groups contracted acyclic; each piece becomes a kiln.FusedGroup node compiled by its
 * provider. Shape-only nodes stay on the CPU unless a claim insists. Kernels are made here (a
 * plugin refusing with KILN_ERR_UNSUPPORTED falls back to later providers) and wrapped so a
 * plugin's failure at run names the provider and node. Memory placement is in placement.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/providers.h"

#define SIZE_1_0(type, last) (offsetof(type, last) + sizeof(((type *)0)->last))
#define VIEW(n) ((const kiln_node_view *)(const void *)(n))

/* ---- kernels ---- */

/* A plugin's kernel as the executor sees it: calls serialized when the device asks for it,
 * failures turned into messages naming the node and provider. */
typedef struct wrapped {
    kiln_kernel abi;
    kiln_kernel *inner;
    kiln_prov *pv;
    const kiln_node *node;
    const kiln_allocator *a;
} wrapped;

static int32_t wrapped_compute(kiln_kernel *k, kiln_kernel_ctx *ctx, kiln_error *err) {
    wrapped *w = (wrapped *)k;
    kiln_error local;
    kiln_error_clear(&local);
    kiln_prov_enter(w->pv);
    int32_t st = w->inner->compute(w->inner, ctx, &local);
    kiln_prov_leave(w->pv);
    if (st == KILN_OK) return KILN_OK;
    kiln_status s = kiln_provider_status(st, &local);
    return kiln_fail(err, s, KILN_NODE_FMT ": the %s provider failed: %s", KILN_NODE_ARGS(w->node), w->pv->name, local.msg);
}

static void wrapped_release(kiln_kernel *k) {
    wrapped *w = (wrapped *)k;
    kiln_prov_enter(w->pv);
    w->inner->release(w->inner);
    kiln_prov_leave(w->pv);
    kiln_mem_free(w->a, w);
}

static int32_t wrapped_prepack(kiln_kernel *k, uint32_t input, const kiln_value_desc *weight, int32_t *packed,
                               kiln_error *err) {
    wrapped *w = (wrapped *)k;
    *packed = 0;
    if (!KILN_ABI_HAS(w->inner, kiln_kernel, prepack) || !w->inner->prepack) return KILN_OK;
    kiln_error local;
    kiln_error_clear(&local);
    int32_t st = w->inner->prepack(w->inner, input, weight, packed, &local);
    if (st == KILN_OK) return KILN_OK;
    kiln_status s = kiln_provider_status(st, &local);
    return kiln_fail(err, s, KILN_NODE_FMT ": the %s provider failed to pre-pack input %u: %s", KILN_NODE_ARGS(w->node),
                     w->pv->name, input, local.msg);
}

static int is_builtin(const kiln_prov *pv) { return pv->dl == NULL; }

/* A claim slot failing is the provider's fault (KILN_ERR_PROVIDER) unless memory ran out. */
static kiln_status claim_fault(int32_t st, kiln_error *local) {
    kiln_status s = kiln_provider_status(st, local);
    return s == KILN_ERR_OUT_OF_MEMORY ? s : KILN_ERR_PROVIDER;
}

/* Checks a kernel a provider returned and wraps it (plugins only). On failure the kernel is
 * released. */
static kiln_status adopt_kernel(kiln_session *s, kiln_prov *pv, const kiln_node *n, kiln_kernel *k, kiln_error *err) {
    const kiln_allocator *a = &s->env->alloc;
    if (!k) return kiln_fail(err, KILN_ERR_PROVIDER, KILN_NODE_FMT ": the %s provider returned no kernel", KILN_NODE_ARGS(n), pv->name);
    if (k->hdr.abi_version != pv->version || k->hdr.struct_size < SIZE_1_0(kiln_kernel, release) || !k->compute ||
        !k->release) {
        if (k->release && k->hdr.struct_size >= SIZE_1_0(kiln_kernel, release)) k->release(k);
        return kiln_fail(err, KILN_ERR_PROVIDER,
                         KILN_NODE_FMT ": the %s provider returned a broken kernel (ABI %u.%u, %u bytes, compute %s, release %s)",
                         KILN_NODE_ARGS(n), pv->name, KILN_ABI_MAJOR(k->hdr.abi_version), KILN_ABI_MINOR(k->hdr.abi_version),
                         k->hdr.struct_size, k->compute ? "set" : "NULL", k->release ? "set" : "NULL");
    }
    if (!is_builtin(pv)) {
        wrapped *w = kiln_mem_calloc(a, 1, sizeof(*w));
        if (!w) {
            k->release(k);
            return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        }
        w->abi.hdr.struct_size = sizeof(w->abi);
        w->abi.hdr.abi_version = KILN_ABI_VERSION;
        w->abi.state = w;
        w->abi.compute = wrapped_compute;
        w->abi.release = wrapped_release;
        w->abi.prepack = wrapped_prepack;
        w->inner = k;
        w->pv = pv;
        w->node = n;
        w->a = a;
        k = &w->abi;
    }
    kiln_status st = kiln_partition_add_kernel(s, n, k, pv, err);
    if (st != KILN_OK) k->release(k);
    return st;
}

kiln_status kiln_partition_add_kernel(kiln_session *s, const kiln_node *n, kiln_kernel *k, kiln_prov *pv, kiln_error *err) {
    kiln_partition *pt = s->partition;
    const kiln_allocator *a = &s->env->alloc;
    if (pt->n_kernels == pt->cap_kernels) {
        uint32_t nc = pt->cap_kernels ? pt->cap_kernels * 2 : 64;
        kiln_part_kernel *l = kiln_mem_grow(a, pt->kernels, pt->cap_kernels * sizeof(*l), nc * sizeof(*l));
        if (!l) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        pt->kernels = l;
        pt->cap_kernels = nc;
    }
    pt->kernels[pt->n_kernels++] = (kiln_part_kernel){n, k, pv};
    return KILN_OK;
}

static int cmp_kernel(const void *x, const void *y) {
    uintptr_t a = (uintptr_t)((const kiln_part_kernel *)x)->node, b = (uintptr_t)((const kiln_part_kernel *)y)->node;
    return a < b ? -1 : a > b;
}

kiln_status kiln_partition_take_kernel(kiln_session *s, const kiln_node *n, kiln_kernel **kernel, kiln_provider **provider,
                                       kiln_error *err) {
    *kernel = NULL;
    *provider = NULL;
    kiln_partition *pt = s->partition;
    kiln_part_kernel key = {n, NULL, NULL};
    kiln_part_kernel *e = pt ? bsearch(&key, pt->kernels, pt->n_kernels, sizeof(key), cmp_kernel) : NULL;
    if (!e || !e->kernel) return kiln_fail(err, KILN_ERR_INTERNAL, KILN_NODE_FMT ": no kernel was made for it", KILN_NODE_ARGS(n));
    *kernel = e->kernel;
    *provider = e->prov->p;
    e->kernel = NULL;
    return KILN_OK;
}

void kiln_partition_destroy(kiln_session *s) {
    kiln_partition *pt = s->partition;
    if (!pt) return;
    const kiln_allocator *a = &s->env->alloc;
    for (uint32_t i = 0; i < pt->n_kernels; i++)
        if (pt->kernels[i].kernel) pt->kernels[i].kernel->release(pt->kernels[i].kernel);
    for (uint32_t i = 0; i < pt->n_uploads; i++)
        if (!pt->uploads[i].released) kiln_kind_free(&s->providers->kinds[pt->uploads[i].kind], pt->uploads[i].block);
    kiln_mem_free(a, pt->kernels);
    kiln_mem_free(a, pt->uploads);
    kiln_mem_free(a, pt);
    s->partition = NULL;
}

/* ---- nodes the partitioner makes ---- */

kiln_status kiln_partition_new_node(kiln_graph *g, const char *name, kiln_op_id op, uint32_t n_in, uint32_t n_out,
                                    kiln_node **out, kiln_error *err) {
    kiln_arena *ar = &g->model->arena;
    kiln_node *n = kiln_arena_calloc(ar, 1, sizeof(*n));
    if (!n) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    n->name = kiln_arena_strdup(ar, name);
    n->op = &kiln_ops[op];
    n->op_type = n->op->name;
    n->domain = KILN_DOMAIN_KILN;
    n->opset = 1;
    n->graph = g;
    n->id = UINT32_MAX;
    n->n_inputs = n_in;
    n->n_outputs = n_out;
    n->inputs = kiln_arena_calloc(ar, n_in + 1, sizeof(*n->inputs));
    n->outputs = kiln_arena_calloc(ar, n_out + 1, sizeof(*n->outputs));
    n->provider = KILN_PROVIDER_UNASSIGNED;
    if (!n->name || !n->inputs || !n->outputs) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    *out = n;
    return KILN_OK;
}

/* ---- one graph ---- */

typedef struct work {
    kiln_session *s;
    const kiln_allocator *a;
    kiln_graph *g;
    uint32_t n;                  /* nodes before fusing */
    kiln_node **nodes;           /* g->nodes before fusing (its own copy) */
    uint32_t *unit;              /* per node: its own index, or n + its group */
    kiln_node **groups;          /* fused nodes accepted */
    uint32_t n_groups, cap_groups;
    uint8_t *mark;               /* scratch, n */
    uint8_t *vmark;              /* scratch, g->n_values */
} work;

static int has_subgraph(const kiln_node *n) {
    for (uint32_t j = 0; j < n->n_attrs; j++)
        if (n->attrs[j].type == KILN_ATTR_GRAPH || n->attrs[j].type == KILN_ATTR_GRAPHS) return 1;
    return 0;
}

static int all_outputs_constant(const kiln_node *n) {
    if (!n->n_outputs) return 0;
    for (uint32_t o = 0; o < n->n_outputs; o++)
        if (!n->outputs[o] || !n->outputs[o]->constant) return 0;
    return 1;
}

/* A device provider's kernels only see tensors it can hold: no strings, sequences, optionals. */
static int device_ok(const kiln_node *n) {
    for (uint32_t i = 0; i < n->n_inputs; i++) {
        const kiln_value *v = n->inputs[i];
        if (v && !kiln_node_input_on_host(n, i) && (v->type.kind != KILN_VALUE_TENSOR || v->type.dtype == KILN_DTYPE_STRING))
            return 0;
    }
    for (uint32_t o = 0; o < n->n_outputs; o++) {
        const kiln_value *v = n->outputs[o];
        if (v && (v->type.kind != KILN_VALUE_TENSOR || v->type.dtype == KILN_DTYPE_STRING)) return 0;
    }
    return 1;
}

static int is_last(const work *w, const kiln_prov *pv) { return pv->index + 1 == w->s->providers->n; }

/* May provider pv take node n? `insist`: the claim insists on shape-only nodes. */
static int eligible(const work *w, const kiln_prov *pv, const kiln_node *n, int insist) {
    if (n->provider != KILN_PROVIDER_UNASSIGNED) return 0;
    if (is_last(w, pv)) return 1;
    if (n->part_flags & KILN_NODE_F_SUBGRAPH) return 0;
    if ((n->part_flags & KILN_NODE_F_SHAPE_ONLY) && !insist) return 0;
    if (pv->p->mem_kind != 0 && !device_ok(n)) return 0;
    return 1;
}

/* Flags every node: holds subgraphs; computes only values that are read as shapes (by host
 * inputs, or by other such nodes) and are no graph outputs. Reverse topological order sees
 * every consumer before its producer. */
static void flag_nodes(work *w) {
    kiln_graph *g = w->g;
    uint8_t *used = w->mark;
    uint8_t *veto = w->vmark; /* n <= n_values is not guaranteed: only the first n bytes are used here */
    memset(used, 0, w->n);
    for (uint32_t i = 0; i < w->n; i++) veto[i] = 0;
    for (uint32_t k = 0; k < g->n_outputs; k++) {
        const kiln_value *v = g->outputs[k];
        if (v && v->producer && v->producer->graph == g) veto[v->producer->id] = 1;
    }
    for (uint32_t j = w->n; j-- > 0;) {
        kiln_node *n = w->nodes[j];
        n->part_flags = 0;
        int sub = has_subgraph(n);
        if (sub) n->part_flags |= KILN_NODE_F_SUBGRAPH;
        int shape_only = used[j] && !veto[j] && !sub && n->n_outputs > 0;
        if (shape_only) n->part_flags |= KILN_NODE_F_SHAPE_ONLY;
        for (uint32_t d = 0; d < n->n_inputs + n->n_implicit; d++) {
            const kiln_value *v = d < n->n_inputs ? n->inputs[d] : n->implicit[d - n->n_inputs];
            if (!v || !v->producer || v->producer->graph != g) continue;
            uint32_t p = v->producer->id;
            used[p] = 1;
            if (!shape_only && (d >= n->n_inputs || !kiln_node_input_on_host(n, d))) veto[p] = 1;
        }
    }
}

/* Edges of the graph with accepted groups contracted to one unit each. */
typedef struct units {
    uint32_t n_units;            /* w->n + groups */
    uint32_t *pred_off, *pred;   /* CSR of predecessors per unit */
    uint32_t *succ_off, *succ;   /* CSR of successors per unit */
    uint32_t *order;             /* units in topological order */
    uint32_t n_order;
} units;

static void units_free(const kiln_allocator *a, units *u) {
    kiln_mem_free(a, u->pred_off);
    kiln_mem_free(a, u->pred);
    kiln_mem_free(a, u->succ_off);
    kiln_mem_free(a, u->succ);
    kiln_mem_free(a, u->order);
}

static kiln_status units_build(work *w, units *u, kiln_error *err) {
    const kiln_allocator *a = w->a;
    memset(u, 0, sizeof(*u));
    u->n_units = w->n + w->n_groups;
    size_t n_edges = 0;
    for (uint32_t j = 0; j < w->n; j++) n_edges += w->nodes[j]->n_inputs + w->nodes[j]->n_implicit;
    uint32_t *from = kiln_mem_calloc(a, n_edges + 1, sizeof(uint32_t)), *to = kiln_mem_calloc(a, n_edges + 1, sizeof(uint32_t));
    u->pred_off = kiln_mem_calloc(a, u->n_units + 1, sizeof(uint32_t));
    u->succ_off = kiln_mem_calloc(a, u->n_units + 1, sizeof(uint32_t));
    u->pred = kiln_mem_calloc(a, n_edges + 1, sizeof(uint32_t));
    u->succ = kiln_mem_calloc(a, n_edges + 1, sizeof(uint32_t));
    u->order = kiln_mem_calloc(a, u->n_units + 1, sizeof(uint32_t));
    uint32_t *deg = kiln_mem_calloc(a, u->n_units + 1, sizeof(uint32_t));
    kiln_status st = KILN_OK;
    if (!from || !to || !u->pred_off || !u->succ_off || !u->pred || !u->succ || !u->order || !deg) {
        st = kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    size_t m = 0;
    for (uint32_t j = 0; j < w->n; j++) {
        const kiln_node *n = w->nodes[j];
        for (uint32_t d = 0; d < n->n_inputs + n->n_implicit; d++) {
            const kiln_value *v = d < n->n_inputs ? n->inputs[d] : n->implicit[d - n->n_inputs];
            if (!v || !v->producer || v->producer->graph != w->g) continue;
            uint32_t f = w->unit[v->producer->id], t = w->unit[j];
            if (f == t) continue;
            from[m] = f;
            to[m++] = t;
        }
    }
    for (size_t e = 0; e < m; e++) {
        u->pred_off[to[e] + 1]++;
        u->succ_off[from[e] + 1]++;
    }
    for (uint32_t k = 0; k < u->n_units; k++) {
        u->pred_off[k + 1] += u->pred_off[k];
        u->succ_off[k + 1] += u->succ_off[k];
    }
    for (size_t e = 0; e < m; e++) {
        u->pred[u->pred_off[to[e]] + deg[to[e]]++] = from[e];
    }
    memset(deg, 0, (u->n_units + 1) * sizeof(uint32_t));
    for (size_t e = 0; e < m; e++) u->succ[u->succ_off[from[e]] + deg[from[e]]++] = to[e];
    /* Kahn's algorithm over the live units (a grouped node's own unit has no edges and is skipped). */
    uint32_t live = 0;
    for (uint32_t k = 0; k < u->n_units; k++) {
        deg[k] = u->pred_off[k + 1] - u->pred_off[k];
        int is_live = k >= w->n || w->unit[k] == k;
        if (!is_live) continue;
        live++;
        if (!deg[k]) u->order[u->n_order++] = k;
    }
    for (uint32_t h = 0; h < u->n_order; h++) {
        uint32_t k = u->order[h];
        for (uint32_t e = u->succ_off[k]; e < u->succ_off[k + 1]; e++)
            if (--deg[u->succ[e]] == 0) u->order[u->n_order++] = u->succ[e];
    }
    if (u->n_order != live) st = kiln_fail(err, KILN_ERR_INTERNAL, "graph '%s': fused groups formed a cycle", w->g->name);
done:
    kiln_mem_free(a, from);
    kiln_mem_free(a, to);
    kiln_mem_free(a, deg);
    return st;
}

/* The largest set P of nodes with in_s set, taken greedily in topological order, such that no
 * path leaves P and comes back (through other nodes or groups): contracting P then keeps the
 * graph acyclic. A node is refused when one of its predecessors lies outside P but is reached
 * from P. Writes P's node indices, ascending, into piece. */
static kiln_status piece(work *w, const uint8_t *in_s, uint32_t *piece_nodes, uint32_t *n_piece, kiln_error *err) {
    units u;
    kiln_status st = units_build(w, &u, err);
    uint8_t *in_p = kiln_mem_calloc(w->a, u.n_units + 1, 1), *reach = kiln_mem_calloc(w->a, u.n_units + 1, 1);
    *n_piece = 0;
    if (st == KILN_OK && (!in_p || !reach)) st = kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    for (uint32_t h = 0; st == KILN_OK && h < u.n_order; h++) {
        uint32_t k = u.order[h];
        int ok = k < w->n && in_s[k];
        for (uint32_t e = u.pred_off[k]; ok && e < u.pred_off[k + 1]; e++)
            if (!in_p[u.pred[e]] && reach[u.pred[e]]) ok = 0;
        if (ok) {
            in_p[k] = 1;
            continue;
        }
        for (uint32_t e = u.pred_off[k]; e < u.pred_off[k + 1]; e++)
            if (in_p[u.pred[e]] || reach[u.pred[e]]) reach[k] = 1;
    }
    for (uint32_t k = 0; st == KILN_OK && k < w->n; k++)
        if (in_p[k]) piece_nodes[(*n_piece)++] = k;
    kiln_mem_free(w->a, in_p);
    kiln_mem_free(w->a, reach);
    units_free(w->a, &u);
    return st;
}

/* A kiln.FusedGroup node for members idx[0..cnt) (ascending): inputs are the values they read
 * from outside, outputs the values of theirs read outside the group or leaving the graph. */
static kiln_status make_fused(work *w, const kiln_prov *pv, const uint32_t *idx, uint32_t cnt, kiln_node **out,
                              kiln_error *err) {
    kiln_graph *g = w->g;
    memset(w->mark, 0, w->n);
    for (uint32_t i = 0; i < cnt; i++) w->mark[idx[i]] = 1;
    /* vmark bit 1: read by a non-member; bit 2: already an input of the group */
    memset(w->vmark, 0, g->n_values);
    for (uint32_t j = 0; j < w->n; j++) {
        if (w->mark[j]) continue;
        const kiln_node *n = w->nodes[j];
        for (uint32_t d = 0; d < n->n_inputs + n->n_implicit; d++) {
            const kiln_value *v = d < n->n_inputs ? n->inputs[d] : n->implicit[d - n->n_inputs];
            if (v) w->vmark[v->id] |= 1;
        }
    }
    uint32_t n_in = 0, n_out = 0;
    for (uint32_t i = 0; i < cnt; i++) {
        const kiln_node *n = w->nodes[idx[i]];
        for (uint32_t k = 0; k < n->n_inputs; k++) {
            const kiln_value *v = n->inputs[k];
            int inside = v && v->producer && v->producer->graph == g && v->producer->id < w->n &&
                         w->nodes[v->producer->id] == v->producer && w->mark[v->producer->id];
            if (v && !inside && !(w->vmark[v->id] & 2)) {
                w->vmark[v->id] |= 2;
                n_in++;
            }
        }
        for (uint32_t o = 0; o < n->n_outputs; o++) {
            const kiln_value *v = n->outputs[o];
            if (v && ((w->vmark[v->id] & 1) || (v->flags & KILN_VALUE_F_OUTPUT))) n_out++;
        }
    }
    char name[160];
    snprintf(name, sizeof(name), "%s_group_%u", pv->name, w->s->partition->n_groups++);
    kiln_node *f;
    KILN_TRY(kiln_partition_new_node(g, name, KILN_OP_KILN_FusedGroup, n_in, n_out, &f, err));
    f->members = kiln_arena_calloc(&g->model->arena, cnt, sizeof(*f->members));
    if (!f->members) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    f->n_members = cnt;
    uint32_t a = 0, b = 0;
    for (uint32_t i = 0; i < cnt; i++) {
        kiln_node *n = w->nodes[idx[i]];
        f->members[i] = n;
        for (uint32_t k = 0; k < n->n_inputs; k++) {
            kiln_value *v = n->inputs[k];
            if (v && (w->vmark[v->id] & 2)) {
                w->vmark[v->id] &= (uint8_t)~2;
                f->inputs[a++] = v;
            }
        }
        for (uint32_t o = 0; o < n->n_outputs; o++) {
            kiln_value *v = n->outputs[o];
            if (v && ((w->vmark[v->id] & 1) || (v->flags & KILN_VALUE_F_OUTPUT))) f->outputs[b++] = v;
        }
    }
    f->provider = pv->index;
    *out = f;
    return KILN_OK;
}

/* Compiles one piece: on success its nodes become one unit; KILN_ERR_UNSUPPORTED from the
 * provider leaves them for claim_node and later providers. */
static kiln_status compile_piece(work *w, kiln_prov *pv, const uint32_t *idx, uint32_t cnt, kiln_error *err) {
    kiln_node *f = NULL;
    KILN_TRY(make_fused(w, pv, idx, cnt, &f, err));
    kiln_graph_view gv = {w->g, f};
    kiln_kernel *k = NULL;
    kiln_error local;
    kiln_error_clear(&local);
    int32_t st = pv->p->compile_group(pv->p, &gv, &k, &local);
    if (st == KILN_ERR_UNSUPPORTED) {
        kiln_log(w->s->env, KILN_LOG_INFO, "group '%s' of %u nodes: the %s provider declined to compile it: %s", f->name, cnt,
                 pv->name, local.msg);
        return KILN_OK;
    }
    if (st != KILN_OK)
        return kiln_fail(err, kiln_provider_status(st, &local),
                         "group '%s' of %u nodes (first " KILN_NODE_FMT "): the %s provider (%s) could not compile it: %s", f->name,
                         cnt, KILN_NODE_ARGS(w->nodes[idx[0]]), pv->name, pv->path, local.msg);
    KILN_TRY(adopt_kernel(w->s, pv, f, k, err));
    if (w->n_groups == w->cap_groups) {
        uint32_t nc = w->cap_groups ? w->cap_groups * 2 : 8;
        kiln_node **l = kiln_mem_grow(w->a, w->groups, w->cap_groups * sizeof(*l), nc * sizeof(*l));
        if (!l) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        w->groups = l;
        w->cap_groups = nc;
    }
    uint32_t gid = w->n_groups;
    w->groups[w->n_groups++] = f;
    for (uint32_t i = 0; i < cnt; i++) {
        kiln_node *n = w->nodes[idx[i]];
        n->provider = pv->index;
        n->part_flags |= KILN_NODE_F_CLAIMED;
        w->unit[idx[i]] = w->n + gid;
    }
    return KILN_OK;
}

static kiln_status ask_groups(work *w, kiln_prov *pv, kiln_error *err) {
    kiln_claim_sink sink;
    memset(&sink, 0, sizeof(sink));
    sink.a = w->a;
    sink.g = w->g;
    sink.proposed = kiln_mem_calloc(w->a, w->n + 1, 1);
    uint8_t *in_s = kiln_mem_calloc(w->a, w->n + 1, 1);
    uint32_t *idx = kiln_mem_calloc(w->a, w->n + 1, sizeof(uint32_t));
    kiln_status st = KILN_OK;
    if (!sink.proposed || !in_s || !idx) {
        st = kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    kiln_graph_view gv = {w->g, NULL};
    kiln_error local;
    kiln_error_clear(&local);
    int32_t pst = pv->p->claim_groups(pv->p, &gv, &sink, &local);
    if (pst != KILN_OK) {
        st = kiln_fail(err, claim_fault(pst, &local), "graph '%s': the %s provider (%s) failed in claim_groups: %s",
                       w->g->name, pv->name, pv->path, local.msg);
        goto done;
    }
    for (uint32_t p = 0; p < sink.n && st == KILN_OK; p++) {
        const kiln_proposal *pr = &sink.list[p];
        uint32_t left = 0;
        for (uint32_t i = 0; i < pr->n; i++) {
            const kiln_node *n = w->nodes[pr->nodes[i]];
            if (eligible(w, pv, n, (pr->flags & KILN_GROUP_INSIST) != 0)) {
                in_s[pr->nodes[i]] = 1;
                left++;
            }
        }
        while (left && st == KILN_OK) {
            uint32_t cnt;
            if ((st = piece(w, in_s, idx, &cnt, err)) != KILN_OK) break;
            if (!cnt) {
                st = kiln_fail(err, KILN_ERR_INTERNAL, "graph '%s': a proposed group could not be split", w->g->name);
                break;
            }
            for (uint32_t i = 0; i < cnt; i++) in_s[idx[i]] = 0;
            left -= cnt;
            st = compile_piece(w, pv, idx, cnt, err);
        }
        memset(in_s, 0, w->n);
    }
done:
    for (uint32_t p = 0; p < sink.n; p++) kiln_mem_free(w->a, sink.list[p].nodes);
    kiln_mem_free(w->a, sink.list);
    kiln_mem_free(w->a, sink.proposed);
    kiln_mem_free(w->a, in_s);
    kiln_mem_free(w->a, idx);
    return st;
}

static kiln_status ask_nodes(work *w, kiln_prov *pv, kiln_error *err) {
    kiln_provider *p = pv->p;
    for (uint32_t i = 0; i < w->n; i++) {
        kiln_node *n = w->nodes[i];
        if (!eligible(w, pv, n, 1)) continue;
        int32_t claim = KILN_CLAIM_NO;
        kiln_error local;
        kiln_error_clear(&local);
        int32_t st = p->claim_node(p, VIEW(n), &claim, &local);
        if (st != KILN_OK)
            return kiln_fail(err, claim_fault(st, &local), KILN_NODE_FMT ": the %s provider (%s) failed in claim_node: %s",
                             KILN_NODE_ARGS(n), pv->name, pv->path, local.msg);
        /* Answers this host does not know (from a newer provider) count as no. */
        if (claim != KILN_CLAIM_KERNEL && claim != KILN_CLAIM_KERNEL_INSIST) continue;
        if ((n->part_flags & KILN_NODE_F_SHAPE_ONLY) && claim != KILN_CLAIM_KERNEL_INSIST && !is_last(w, pv)) continue;
        kiln_kernel *k = NULL;
        kiln_error_clear(&local);
        st = p->create_kernel(p, VIEW(n), &k, &local);
        if (st == KILN_ERR_UNSUPPORTED && !is_last(w, pv)) {
            kiln_log(w->s->env, KILN_LOG_INFO, KILN_NODE_FMT ": the %s provider declined it after claiming it: %s",
                     KILN_NODE_ARGS(n), pv->name, local.msg);
            continue;
        }
        if (st != KILN_OK) {
            kiln_status s = is_builtin(pv) ? (kiln_status)st : kiln_provider_status(st, &local);
            kiln_fail(err, s, "%s", local.msg);
            return kiln_error_prefix(err, KILN_NODE_FMT " [%s provider]: ", KILN_NODE_ARGS(n), pv->name);
        }
        KILN_TRY(adopt_kernel(w->s, pv, n, k, err));
        n->provider = pv->index;
        n->part_flags |= KILN_NODE_F_CLAIMED;
        if (is_builtin(pv)) kiln_partition_release_packed(w->s, w->g, n);
    }
    return KILN_OK;
}

/* Replaces the graph's node list: each group's members give way to its fused node, whose
 * outputs it now produces; then sorts. */
static kiln_status fuse(work *w, kiln_error *err) {
    kiln_graph *g = w->g;
    if (!w->n_groups) return KILN_OK;
    for (uint32_t k = 0; k < w->n_groups; k++) {
        kiln_node *f = w->groups[k];
        for (uint32_t o = 0; o < f->n_outputs; o++) {
            f->outputs[o]->producer = f;
            f->outputs[o]->producer_slot = o;
        }
    }
    uint32_t cnt = 0;
    kiln_node **list = kiln_arena_calloc(&g->model->arena, w->n + 1, sizeof(*list));
    if (!list) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    memset(w->mark, 0, w->n);
    for (uint32_t i = 0; i < w->n; i++) {
        uint32_t u = w->unit[i];
        if (u < w->n) {
            list[cnt++] = w->nodes[i];
        } else if (!w->mark[u - w->n]) {
            w->mark[u - w->n] = 1;
            list[cnt++] = w->groups[u - w->n];
        }
    }
    g->nodes = list;
    g->n_nodes = cnt;
    g->cap_nodes = w->n + 1;
    for (uint32_t i = 0; i < cnt; i++) list[i]->id = i;
    return kiln_graph_sort(g, err);
}

static kiln_status run_graph(kiln_session *s, kiln_graph *g, kiln_error *err) {
    const kiln_allocator *a = &s->env->alloc;
    kiln_providers *ps = s->providers;
    work w;
    memset(&w, 0, sizeof(w));
    w.s = s;
    w.a = a;
    w.g = g;
    w.n = g->n_nodes;
    w.nodes = kiln_mem_calloc(a, w.n + 1, sizeof(*w.nodes));
    w.unit = kiln_mem_calloc(a, w.n + 1, sizeof(uint32_t));
    w.mark = kiln_mem_calloc(a, w.n + 1, 1);
    w.vmark = kiln_mem_calloc(a, (size_t)g->n_values + w.n + 1, 1);
    kiln_status st = KILN_OK;
    if (!w.nodes || !w.unit || !w.mark || !w.vmark) {
        st = kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    for (uint32_t i = 0; i < w.n; i++) {
        w.nodes[i] = g->nodes[i];
        w.nodes[i]->id = i;
        w.unit[i] = i;
        w.nodes[i]->provider = all_outputs_constant(w.nodes[i]) ? KILN_PROVIDER_NONE : KILN_PROVIDER_UNASSIGNED;
    }
    flag_nodes(&w);
    for (uint32_t k = 0; k < ps->n && st == KILN_OK; k++) {
        kiln_prov *pv = ps->list[k];
        if (pv->p->claim_groups && !is_last(&w, pv)) st = ask_groups(&w, pv, err);
        if (st == KILN_OK && pv->p->claim_node) st = ask_nodes(&w, pv, err);
    }
    for (uint32_t i = 0; i < w.n && st == KILN_OK; i++) {
        const kiln_node *n = w.nodes[i];
        if (n->provider == KILN_PROVIDER_UNASSIGNED)
            st = kiln_fail(err, KILN_ERR_UNSUPPORTED, KILN_NODE_FMT ": no provider runs op '%s' (domain '%s', opset %lld)",
                           KILN_NODE_ARGS(n), n->op_type, *n->domain ? n->domain : "ai.onnx", (long long)n->opset);
    }
    for (uint32_t k = 0; k < ps->n && st == KILN_OK; k++) {
        /* fallback=error: no node may be left to the CPU provider (it is asked last), except
         * shape-only nodes the host keeps on the CPU. */
        const kiln_prov *pv = ps->list[k];
        if (!pv->no_fallback) continue;
        for (uint32_t i = 0; i < w.n && st == KILN_OK; i++) {
            const kiln_node *n = w.nodes[i];
            if (n->provider != ps->n - 1 || (n->part_flags & KILN_NODE_F_SHAPE_ONLY)) continue;
            st = kiln_fail(err, KILN_ERR_UNSUPPORTED,
                           KILN_NODE_FMT ": the %s provider does not run op '%s' (domain '%s', opset %lld), and it was asked "
                           "with fallback=error, so it does not fall back to the CPU provider",
                           KILN_NODE_ARGS(n), pv->name, n->op_type, *n->domain ? n->domain : "ai.onnx", (long long)n->opset);
        }
    }
    if (st == KILN_OK) st = fuse(&w, err);
    if (st == KILN_OK) st = kiln_partition_place(s, g, err);
done:
    kiln_mem_free(a, w.nodes);
    kiln_mem_free(a, w.unit);
    kiln_mem_free(a, w.mark);
    kiln_mem_free(a, w.vmark);
    kiln_mem_free(a, w.groups);
    return st;
}

kiln_status kiln_partition_run(kiln_session *s, kiln_graph *g, kiln_error *err) {
    if (!s->partition) {
        s->partition = kiln_mem_calloc(&s->env->alloc, 1, sizeof(*s->partition));
        if (!s->partition) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    }
    KILN_TRY(run_graph(s, g, err));
    /* Subgraphs after their graph: the values they read from it are in host memory by then. */
    for (uint32_t i = 0; i < g->n_nodes; i++) {
        const kiln_node *n = g->nodes[i];
        for (uint32_t j = 0; j < n->n_attrs; j++) {
            const kiln_attr *at = &n->attrs[j];
            if (at->type != KILN_ATTR_GRAPH && at->type != KILN_ATTR_GRAPHS) continue;
            for (uint32_t k = 0; k < at->n; k++)
                if (at->graphs[k]) KILN_TRY(kiln_partition_run(s, at->graphs[k], err));
        }
    }
    if (!g->parent) {
        kiln_partition *pt = s->partition;
        if (pt->n_kernels) qsort(pt->kernels, pt->n_kernels, sizeof(*pt->kernels), cmp_kernel);
    }
    return KILN_OK;
}
