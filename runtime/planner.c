/* SPDX-License-Identifier: MIT */
/* The memory planner (see planner.h): lifetimes from the execution order, in-place and alias
 * sets, best-fit offsets per memory kind, and the plan's figures. */
#include "runtime/planner.h"

#include <stdlib.h>
#include <string.h>

#include "graph/ops.h"
#include "runtime/session_impl.h"

#define NONE32 UINT32_MAX

static uint64_t align_up(uint64_t x, uint64_t align) { return (x + align - 1) / align * align; }

/* ---- placement ---- */

typedef struct place_ctx {
    kiln_block *b;
    kiln_block_conflict_fn conflict;
    void *arg;
} place_ctx;

static int conflicts(const place_ctx *c, uint32_t i, uint32_t j) {
    if (c->conflict) return c->conflict(c->arg, i, j);
    return c->b[i].start <= c->b[j].end && c->b[j].start <= c->b[i].end;
}

/* Orders tried; qsort has no context argument, so the blocks are reached through this (per
 * thread: plans for different signatures may be built at once). */
static _Thread_local const kiln_block *sort_blocks;

static int by_size(const void *x, const void *y) {
    const kiln_block *a = &sort_blocks[*(const uint32_t *)x], *b = &sort_blocks[*(const uint32_t *)y];
    if (a->size != b->size) return a->size > b->size ? -1 : 1;
    if (a->start != b->start) return a->start < b->start ? -1 : 1;
    return *(const uint32_t *)x < *(const uint32_t *)y ? -1 : 1;
}

static int by_start(const void *x, const void *y) {
    const kiln_block *a = &sort_blocks[*(const uint32_t *)x], *b = &sort_blocks[*(const uint32_t *)y];
    if (a->start != b->start) return a->start < b->start ? -1 : 1;
    if (a->size != b->size) return a->size > b->size ? -1 : 1;
    return *(const uint32_t *)x < *(const uint32_t *)y ? -1 : 1;
}

/* Bytes over the lifetime: long-lived large blocks first. */
static int by_area(const void *x, const void *y) {
    const kiln_block *a = &sort_blocks[*(const uint32_t *)x], *b = &sort_blocks[*(const uint32_t *)y];
    double aa = (double)a->size * (a->end - a->start + 1), ab = (double)b->size * (b->end - b->start + 1);
    if (aa != ab) return aa > ab ? -1 : 1;
    return *(const uint32_t *)x < *(const uint32_t *)y ? -1 : 1;
}

typedef struct span {
    uint64_t off, end;
} span;

static int by_off(const void *x, const void *y) {
    const span *a = x, *b = y;
    return a->off < b->off ? -1 : a->off > b->off;
}

/* Places blocks in `order` among the conflicting blocks already placed.
 * top == 0: each goes into the smallest gap that holds it (at its low end), else above them all.
 * top > 0: the arena is meant to be `top` bytes; a block may sit at either end of a gap below
 * top, and a position touching 0 or top wins, else the smallest gap. Blocks that live long then
 * settle at the two edges and leave the middle whole for short ones (a residual block's input at
 * one edge, its output at the other, im2col scratch between). Offsets go to `off`. */
static uint64_t place_order(const place_ctx *c, const uint32_t *order, uint32_t n, uint64_t top, uint64_t *off,
                            span *tmp) {
    uint64_t arena = 0;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t i = order[k];
        uint32_t m = 0;
        for (uint32_t q = 0; q < k; q++) {
            uint32_t j = order[q];
            if (conflicts(c, i, j)) tmp[m++] = (span){off[j], off[j] + c->b[j].size};
        }
        qsort(tmp, m, sizeof(*tmp), by_off);
        uint64_t size = c->b[i].size, cursor = 0, best = KILN_PLAN_NONE, best_gap = UINT64_MAX;
        int edge = 0;
        for (uint32_t q = 0; q <= m && !edge; q++) {
            /* The gap [cursor, hi): before block q, or (q == m) the space above them all. */
            uint64_t hi = q < m ? tmp[q].off : (top > cursor ? top : cursor);
            if (hi > cursor && hi - cursor >= size) {
                uint64_t gap = hi - cursor;
                if (top && (cursor == 0 || hi == top)) {
                    best = cursor == 0 ? 0 : hi - size;
                    edge = 1;
                } else if (gap < best_gap) {
                    best = cursor;
                    best_gap = gap;
                }
            }
            if (q < m && tmp[q].end > cursor) cursor = tmp[q].end;
        }
        if (best == KILN_PLAN_NONE) best = cursor;
        off[i] = best;
        if (best + size > arena) arena = best + size;
    }
    return arena;
}

kiln_status kiln_plan_place(const kiln_allocator *a, kiln_block *blocks, uint32_t n, uint64_t align,
                            kiln_block_conflict_fn conflict, void *arg, uint64_t *arena, kiln_error *err) {
    *arena = 0;
    if (!n) return KILN_OK;
    uint32_t *order = kiln_mem_calloc(a, n, sizeof(*order));
    uint64_t *off = kiln_mem_calloc(a, n, sizeof(*off));
    span *tmp = kiln_mem_calloc(a, n, sizeof(*tmp));
    if (!order || !off || !tmp) {
        kiln_mem_free(a, order);
        kiln_mem_free(a, off);
        kiln_mem_free(a, tmp);
        return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory planning %u blocks", n);
    }
    if (align < KILN_PLAN_ALIGN) align = KILN_PLAN_ALIGN;
    for (uint32_t i = 0; i < n; i++) blocks[i].size = align_up(blocks[i].size, align);
    place_ctx c = {blocks, conflict, arg};
    int (*const orders[])(const void *, const void *) = {by_size, by_area, by_start};
    /* Two-ended placement aims at the lower bound of the interval lifetimes (a parallel plan,
     * whose conflicts are wider, may need more: then the plain placement may win). */
    uint64_t tops[2] = {0, align_up(kiln_plan_lower_bound(blocks, n), align)};
    uint64_t best = UINT64_MAX;
    for (size_t o = 0; o < sizeof(orders) / sizeof(orders[0]); o++) {
        for (uint32_t i = 0; i < n; i++) order[i] = i;
        sort_blocks = blocks;
        qsort(order, n, sizeof(*order), orders[o]);
        for (int t = 0; t < 2; t++) {
            if (t && !tops[t]) continue;
            uint64_t size = place_order(&c, order, n, tops[t], off, tmp);
            if (size < best) {
                best = size;
                for (uint32_t i = 0; i < n; i++) blocks[i].offset = off[i];
            }
        }
    }
    *arena = best;
    kiln_mem_free(a, order);
    kiln_mem_free(a, off);
    kiln_mem_free(a, tmp);
    return KILN_OK;
}

uint64_t kiln_plan_lower_bound(const kiln_block *blocks, uint32_t n) {
    /* Live bytes only rise at a block's start, so the maximum is at some start step. */
    uint64_t best = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t live = 0;
        uint32_t t = blocks[i].start;
        for (uint32_t j = 0; j < n; j++)
            if (blocks[j].start <= t && t <= blocks[j].end) live += align_up(blocks[j].size, KILN_PLAN_ALIGN);
        if (live > best) best = live;
    }
    return best;
}

/* ---- records ---- */

kiln_status kiln_record_init(const kiln_allocator *a, kiln_record *r, uint32_t n_values, uint32_t n_nodes,
                             kiln_error *err) {
    memset(r, 0, sizeof(*r));
    size_t nv = (size_t)n_values + 1, nn = (size_t)n_nodes + 1;
    r->bytes = kiln_mem_calloc(a, nv, sizeof(*r->bytes));
    r->seen = kiln_mem_calloc(a, nv, 1);
    r->dtype = kiln_mem_calloc(a, nv, sizeof(*r->dtype));
    r->rank = kiln_mem_calloc(a, nv, sizeof(*r->rank));
    r->dims = kiln_mem_calloc(a, nv * KILN_MAX_RANK, sizeof(*r->dims));
    r->kind = kiln_mem_calloc(a, nv, sizeof(*r->kind));
    r->node_static = kiln_mem_calloc(a, nn, 1);
    r->scratch = kiln_mem_calloc(a, nn, sizeof(*r->scratch));
    r->dev_scratch = kiln_mem_calloc(a, nn, sizeof(*r->dev_scratch));
    r->dev_kind = kiln_mem_calloc(a, nn, 1);
    if (!r->bytes || !r->seen || !r->dtype || !r->rank || !r->dims || !r->kind || !r->node_static || !r->scratch ||
        !r->dev_scratch || !r->dev_kind) {
        kiln_record_free(a, r);
        return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    }
    return KILN_OK;
}

void kiln_record_reset(kiln_record *r, uint32_t n_values, uint32_t n_nodes) {
    memset(r->seen, 0, n_values);
    memset(r->node_static, 0, n_nodes);
    memset(r->scratch, 0, (size_t)n_nodes * sizeof(*r->scratch));
    memset(r->dev_scratch, 0, (size_t)n_nodes * sizeof(*r->dev_scratch));
    memset(r->dev_kind, 0, n_nodes);
}

void kiln_record_free(const kiln_allocator *a, kiln_record *r) {
    kiln_mem_free(a, r->bytes);
    kiln_mem_free(a, r->seen);
    kiln_mem_free(a, r->dtype);
    kiln_mem_free(a, r->rank);
    kiln_mem_free(a, r->dims);
    kiln_mem_free(a, r->kind);
    kiln_mem_free(a, r->node_static);
    kiln_mem_free(a, r->scratch);
    kiln_mem_free(a, r->dev_scratch);
    kiln_mem_free(a, r->dev_kind);
    memset(r, 0, sizeof(*r));
}

/* ---- building a plan ---- */

enum { MEM_PLAIN, MEM_ALIAS, MEM_INPLACE0, MEM_INPLACE_ANY };

/* Ops whose output 0 can be input 0's bytes under new dims (no data moves). */
static const char *const alias_ops[] = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"};
/* Ops computing output element i from element i of the inputs (broadcast operands aside), so
 * output 0 may overwrite input 0 when that input dies at the node; the CPU kernels of these
 * ops must accept it (docs/runtime-interfaces.md). */
static const char *const inplace0_ops[] = {
    "Relu", "LeakyRelu", "PRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Elu", "Selu", "Celu",
    "Softplus", "Softsign", "ThresholdedRelu", "Mish", "Gelu", "Clip", "Exp", "Log", "Sqrt", "Neg", "Abs",
    "Reciprocal", "Erf", "Floor", "Ceil", "Round", "Sign", "Sin", "Cos", "Pow", "Not"};
/* Arithmetic whose kernel reads both operands element by element: either input may be overwritten. */
static const char *const inplace_any_ops[] = {"Add", "Sub", "Mul", "Div"};

static int in_list(const char *op, const char *const *list, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(op, list[i]) == 0) return 1;
    return 0;
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int mem_class(const kiln_exec_node *xn) {
    const kiln_node *n = xn->node;
    if (*n->domain) return MEM_PLAIN;
    if (in_list(n->op_type, alias_ops, COUNT(alias_ops))) return MEM_ALIAS;
    /* In place only where the CPU provider's kernels run: other providers make no such promise. */
    if (!xn->provider || strcmp(xn->provider->name, "cpu") != 0) return MEM_PLAIN;
    if (in_list(n->op_type, inplace_any_ops, COUNT(inplace_any_ops))) return MEM_INPLACE_ANY;
    if (in_list(n->op_type, inplace0_ops, COUNT(inplace0_ops))) return MEM_INPLACE0;
    return MEM_PLAIN;
}

/* Working state of one build. */
typedef struct build {
    const kiln_allocator *a;
    const kiln_exec_graph *xg;
    const kiln_graph *g;
    const kiln_record *rec;
    uint32_t nv, nn;
    uint32_t *parent;       /* union-find over values: alias and in-place sets */
    uint32_t *next_member;  /* members of a set, linked from its root */
    uint32_t *set_end;      /* per root: last step any member is needed */
    uint64_t *set_bytes;    /* per root: bytes of its largest member */
    uint32_t *cons_start, *cons; /* readers of each value (CSR) */
    uint64_t *reach;        /* parallel: reach[i] = nodes reachable from node i (bitset) */
    uint32_t words;
    /* blocks: one per owned set, one per node with scratch */
    kiln_block *blocks;
    uint32_t n_blocks;
    uint32_t *block_of;     /* per root value: its block, NONE32 when none */
    uint32_t *users_start, *users; /* parallel: nodes using each block (CSR) */
    uint32_t *first;        /* per block: the node that starts it */
} build;

static uint32_t find(build *b, uint32_t v) {
    while (b->parent[v] != v) {
        b->parent[v] = b->parent[b->parent[v]];
        v = b->parent[v];
    }
    return v;
}

/* A tensor made by a node of this graph, held in memory the plan may place. */
static int owned(const build *b, const kiln_value *v) {
    return v && b->rec->seen[v->id] == 1 && b->rec->dtype[v->id] != KILN_DTYPE_STRING &&
           b->rec->kind[v->id] < KILN_PLAN_KINDS;
}

static int is_output(const kiln_value *v) { return (v->flags & KILN_VALUE_F_OUTPUT) != 0; }

static uint32_t producer_step(const build *b, const kiln_value *v) {
    return v->producer && v->producer->graph == b->g ? v->producer->id : 0;
}

/* Step after which a value is no longer needed: graph outputs live to the end of the run. */
static uint32_t value_end(const build *b, const kiln_value *v) {
    if (is_output(v)) return b->nn;
    uint32_t end = producer_step(b, v), last = b->xg->last_read[v->id];
    return last != NONE32 && last > end ? last : end;
}

static int reaches(const build *b, uint32_t from, uint32_t to) {
    return (b->reach[(size_t)from * b->words + to / 64] >> (to % 64)) & 1;
}

/* Parallel mode: every node using set `r` other than `node` comes before `node` on some path. */
static int set_before(build *b, uint32_t r, uint32_t node) {
    for (uint32_t m = r; m != NONE32; m = b->next_member[m]) {
        const kiln_value *v = b->g->values[m];
        uint32_t p = producer_step(b, v);
        if (p != node && !reaches(b, p, node)) return 0;
        for (uint32_t k = b->cons_start[m]; k < b->cons_start[m + 1]; k++)
            if (b->cons[k] != node && !reaches(b, b->cons[k], node)) return 0;
    }
    return 1;
}

static void join(build *b, uint32_t root, uint32_t v) {
    b->parent[v] = root;
    b->next_member[v] = b->next_member[root];
    b->next_member[root] = v;
    uint32_t e = value_end(b, b->g->values[v]);
    if (e > b->set_end[root]) b->set_end[root] = e;
    if (b->rec->bytes[v] > b->set_bytes[root]) b->set_bytes[root] = b->rec->bytes[v];
}

static int of_graph(const build *b, const kiln_value *v) { return v && v->id < b->nv && b->g->values[v->id] == v; }

/* Input j of node n, counting implicit inputs after the explicit ones. */
static const kiln_value *node_input(const kiln_node *n, uint32_t j) {
    return j < n->n_inputs ? n->inputs[j] : n->implicit[j - n->n_inputs];
}

/* cons_start/cons: the nodes reading each value (a node reading twice is listed twice). */
static kiln_status consumers(build *b, kiln_error *err) {
    b->cons_start = kiln_mem_calloc(b->a, (size_t)b->nv + 2, sizeof(uint32_t));
    if (!b->cons_start) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    for (uint32_t i = 0; i < b->nn; i++) {
        const kiln_node *n = b->xg->nodes[i].node;
        if (b->xg->nodes[i].skip) continue;
        for (uint32_t j = 0; j < n->n_inputs + n->n_implicit; j++)
            if (of_graph(b, node_input(n, j))) b->cons_start[node_input(n, j)->id + 1]++;
    }
    for (uint32_t v = 0; v < b->nv; v++) b->cons_start[v + 1] += b->cons_start[v];
    b->cons = kiln_mem_calloc(b->a, (size_t)b->cons_start[b->nv] + 1, sizeof(uint32_t));
    uint32_t *fill = kiln_mem_calloc(b->a, (size_t)b->nv + 1, sizeof(uint32_t));
    if (!b->cons || !fill) {
        kiln_mem_free(b->a, fill);
        return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    }
    for (uint32_t i = 0; i < b->nn; i++) {
        const kiln_node *n = b->xg->nodes[i].node;
        if (b->xg->nodes[i].skip) continue;
        for (uint32_t j = 0; j < n->n_inputs + n->n_implicit; j++) {
            const kiln_value *v = node_input(n, j);
            if (of_graph(b, v)) b->cons[b->cons_start[v->id] + fill[v->id]++] = i;
        }
    }
    kiln_mem_free(b->a, fill);
    return KILN_OK;
}

/* reach[i]: nodes that run after node i on some path (its consumers, theirs, ...). */
static kiln_status reachability(build *b, kiln_error *err) {
    b->words = (b->nn + 63) / 64;
    b->reach = kiln_mem_calloc(b->a, (size_t)b->nn * b->words + 1, sizeof(uint64_t));
    if (!b->reach) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    for (uint32_t i = b->nn; i-- > 0;) {
        const kiln_node *n = b->xg->nodes[i].node;
        if (b->xg->nodes[i].skip) continue;
        uint64_t *ri = b->reach + (size_t)i * b->words;
        for (uint32_t o = 0; o < n->n_outputs; o++) {
            const kiln_value *v = n->outputs[o];
            if (!of_graph(b, v)) continue;
            for (uint32_t k = b->cons_start[v->id]; k < b->cons_start[v->id + 1]; k++) {
                uint32_t c = b->cons[k];
                const uint64_t *rc = b->reach + (size_t)c * b->words;
                for (uint32_t w = 0; w < b->words; w++) ri[w] |= rc[w];
                ri[c / 64] |= 1ull << (c % 64);
            }
        }
    }
    return KILN_OK;
}

/* Parallel mode: blocks conflict unless every user of one reaches the other's first node. */
typedef struct par_conflict {
    build *b;
    const uint32_t *map; /* index in the placed sub-array -> block */
} par_conflict;

static int block_before(const build *b, uint32_t x, uint32_t y) {
    uint32_t f = b->first[y];
    for (uint32_t k = b->users_start[x]; k < b->users_start[x + 1]; k++) {
        uint32_t u = b->users[k];
        if (u == f || !reaches(b, u, f)) return 0;
    }
    return 1;
}

static int par_conflicts(void *arg, uint32_t i, uint32_t j) {
    const par_conflict *pc = arg;
    uint32_t x = pc->map[i], y = pc->map[j];
    return !block_before(pc->b, x, y) && !block_before(pc->b, y, x);
}

/* users_start/users: per block, every node producing or reading one of its values. */
static kiln_status block_users(build *b, const uint32_t *block_root, kiln_error *err) {
    b->users_start = kiln_mem_calloc(b->a, (size_t)b->n_blocks + 2, sizeof(uint32_t));
    if (!b->users_start) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    for (int pass = 0; pass < 2; pass++) {
        uint32_t total = 0;
        for (uint32_t k = 0; k < b->n_blocks; k++) {
            uint32_t r = block_root[k];
            uint32_t at = pass ? b->users_start[k] : 0, cnt = 0;
            if (r == NONE32) { /* scratch of node first[k] */
                if (pass) b->users[at] = b->first[k];
                cnt = 1;
            } else {
                for (uint32_t m = r; m != NONE32; m = b->next_member[m]) {
                    if (pass) b->users[at + cnt] = producer_step(b, b->g->values[m]);
                    cnt++;
                    for (uint32_t c = b->cons_start[m]; c < b->cons_start[m + 1]; c++) {
                        if (pass) b->users[at + cnt] = b->cons[c];
                        cnt++;
                    }
                }
            }
            if (!pass) b->users_start[k] = total;
            total += cnt;
        }
        if (!pass) {
            b->users_start[b->n_blocks] = total;
            b->users = kiln_mem_calloc(b->a, (size_t)total + 1, sizeof(uint32_t));
            if (!b->users) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        }
    }
    return KILN_OK;
}

void kiln_plan_free(const kiln_allocator *a, kiln_plan *p) {
    if (!p) return;
    kiln_mem_free(a, p->sig);
    kiln_mem_free(a, p->off);
    kiln_mem_free(a, p->size);
    kiln_mem_free(a, p->kind);
    kiln_mem_free(a, p->det);
    kiln_mem_free(a, p->dtype);
    kiln_mem_free(a, p->rank);
    kiln_mem_free(a, p->dims);
    kiln_mem_free(a, p->alias);
    kiln_mem_free(a, p->node_det);
    kiln_mem_free(a, p->scratch_off);
    kiln_mem_free(a, p->scratch_size);
    kiln_mem_free(a, p->dev_scratch_off);
    kiln_mem_free(a, p->dev_scratch_size);
    kiln_mem_free(a, p->release_start);
    kiln_mem_free(a, p->release);
    kiln_mem_free(a, p);
}

static kiln_plan *plan_alloc(const kiln_allocator *a, uint32_t nv, uint32_t nn) {
    kiln_plan *p = kiln_mem_calloc(a, 1, sizeof(*p));
    if (!p) return NULL;
    size_t v = (size_t)nv + 1, n = (size_t)nn + 1;
    p->n_values = nv;
    p->n_nodes = nn;
    p->off = kiln_mem_calloc(a, v, sizeof(*p->off));
    p->size = kiln_mem_calloc(a, v, sizeof(*p->size));
    p->kind = kiln_mem_calloc(a, v, 1);
    p->det = kiln_mem_calloc(a, v, 1);
    p->dtype = kiln_mem_calloc(a, v, sizeof(*p->dtype));
    p->rank = kiln_mem_calloc(a, v, sizeof(*p->rank));
    p->dims = kiln_mem_calloc(a, v * KILN_MAX_RANK, sizeof(*p->dims));
    p->alias = kiln_mem_calloc(a, n, 1);
    p->node_det = kiln_mem_calloc(a, n, 1);
    p->scratch_off = kiln_mem_calloc(a, n, sizeof(*p->scratch_off));
    p->scratch_size = kiln_mem_calloc(a, n, sizeof(*p->scratch_size));
    p->dev_scratch_off = kiln_mem_calloc(a, n, sizeof(*p->dev_scratch_off));
    p->dev_scratch_size = kiln_mem_calloc(a, n, sizeof(*p->dev_scratch_size));
    p->release_start = kiln_mem_calloc(a, n + 1, sizeof(*p->release_start));
    if (!p->off || !p->size || !p->kind || !p->det || !p->dtype || !p->rank || !p->dims || !p->alias || !p->node_det ||
        !p->scratch_off || !p->scratch_size || !p->dev_scratch_off || !p->dev_scratch_size || !p->release_start) {
        kiln_plan_free(a, p);
        return NULL;
    }
    return p;
}

static void build_free(build *b) {
    kiln_mem_free(b->a, b->parent);
    kiln_mem_free(b->a, b->next_member);
    kiln_mem_free(b->a, b->set_end);
    kiln_mem_free(b->a, b->set_bytes);
    kiln_mem_free(b->a, b->cons_start);
    kiln_mem_free(b->a, b->cons);
    kiln_mem_free(b->a, b->reach);
    kiln_mem_free(b->a, b->blocks);
    kiln_mem_free(b->a, b->block_of);
    kiln_mem_free(b->a, b->users_start);
    kiln_mem_free(b->a, b->users);
    kiln_mem_free(b->a, b->first);
}

/* Alias and in-place sets, walking the nodes in execution order. */
static void make_sets(build *b, kiln_plan *p, int parallel) {
    const kiln_record *rec = b->rec;
    for (uint32_t i = 0; i < b->nn; i++) {
        const kiln_exec_node *xn = &b->xg->nodes[i];
        const kiln_node *n = xn->node;
        if (xn->skip || !n->n_outputs || !n->n_inputs) continue;
        const kiln_value *out = n->outputs[0];
        if (!owned(b, out) || is_output(out) || find(b, out->id) != out->id) continue;
        int cls = mem_class(xn);
        if (cls == MEM_ALIAS) {
            const kiln_value *u = n->inputs[0];
            if (u && of_graph(b, u) && rec->seen[u->id] && rec->bytes[u->id] == rec->bytes[out->id] &&
                rec->dtype[u->id] == rec->dtype[out->id] && rec->kind[u->id] == rec->kind[out->id]) {
                join(b, find(b, u->id), out->id);
                p->alias[i] = 1;
                p->n_alias++;
            }
            continue;
        }
        if (cls != MEM_INPLACE0 && cls != MEM_INPLACE_ANY) continue;
        uint32_t n_try = cls == MEM_INPLACE_ANY ? n->n_inputs : 1;
        for (uint32_t j = 0; j < n_try; j++) {
            const kiln_value *u = n->inputs[j];
            if (!owned(b, u) || !of_graph(b, u)) continue;
            uint32_t r = find(b, u->id);
            const kiln_value *root = b->g->values[r];
            if (!owned(b, root) || is_output(root) || b->set_end[r] != i) continue;
            if (rec->bytes[u->id] != rec->bytes[out->id] || rec->dtype[u->id] != rec->dtype[out->id] ||
                rec->kind[u->id] != rec->kind[out->id])
                continue;
            if (parallel && !set_before(b, r, i)) continue;
            join(b, r, out->id);
            p->n_inplace++;
            break;
        }
    }
}

/* Which dims every run with this signature computes the same way (no shape inference needed). */
static void make_det(build *b, kiln_plan *p) {
    const kiln_record *rec = b->rec;
    for (uint32_t v = 0; v < b->nv; v++) {
        const kiln_value *val = b->g->values[v];
        if (val->flags & KILN_VALUE_F_CONSTANT) p->det[v] = 1;
        else if ((val->flags & (KILN_VALUE_F_INPUT | KILN_VALUE_F_OUTER)) && rec->seen[v] == 2) p->det[v] = 1;
    }
    for (uint32_t i = 0; i < b->nn; i++) {
        const kiln_exec_node *xn = &b->xg->nodes[i];
        const kiln_node *n = xn->node;
        if (xn->skip) continue;
        int det = rec->node_static[i] && !n->n_implicit && !xn->subgraphs;
        for (uint32_t j = 0; det && j < n->n_inputs; j++) {
            const kiln_value *v = n->inputs[j];
            if (!v) continue;
            if (!of_graph(b, v) || !p->det[v->id]) det = 0;
            else if (j < 32 && ((n->op->value_inputs >> j) & 1) && !(v->flags & KILN_VALUE_F_CONSTANT)) det = 0;
        }
        for (uint32_t o = 0; det && o < n->n_outputs; o++)
            if (n->outputs[o] && rec->seen[n->outputs[o]->id] != 1) det = 0;
        p->node_det[i] = (uint8_t)det;
        for (uint32_t o = 0; det && o < n->n_outputs; o++) {
            const kiln_value *v = n->outputs[o];
            if (!v) continue;
            p->det[v->id] = 1;
        }
    }
    for (uint32_t v = 0; v < b->nv; v++) {
        p->dtype[v] = rec->seen[v] ? rec->dtype[v] : 0;
        p->rank[v] = p->det[v] && rec->seen[v] ? rec->rank[v] : -1;
        if (p->rank[v] > 0)
            memcpy(p->dims + (size_t)v * KILN_MAX_RANK, rec->dims + (size_t)v * KILN_MAX_RANK,
                   (size_t)p->rank[v] * sizeof(int64_t));
    }
}

/* Values whose storage ends after each node: the end of their set. */
static kiln_status make_release(build *b, kiln_plan *p, kiln_error *err) {
    for (int pass = 0; pass < 2; pass++) {
        uint32_t *fill = pass ? kiln_mem_calloc(b->a, (size_t)b->nn + 1, sizeof(uint32_t)) : NULL;
        if (pass && !fill) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        for (uint32_t i = 0; i < b->nn; i++) {
            const kiln_node *n = b->xg->nodes[i].node;
            if (b->xg->nodes[i].skip) continue;
            for (uint32_t o = 0; o < n->n_outputs; o++) {
                const kiln_value *v = n->outputs[o];
                if (!of_graph(b, v) || is_output(v)) continue;
                uint32_t e = b->set_end[find(b, v->id)];
                if (e >= b->nn) continue;
                if (!pass) p->release_start[e + 1]++;
                else p->release[p->release_start[e] + fill[e]++] = v->id;
            }
        }
        if (!pass) {
            for (uint32_t i = 0; i < b->nn; i++) p->release_start[i + 1] += p->release_start[i];
            p->release = kiln_mem_calloc(b->a, (size_t)p->release_start[b->nn] + 1, sizeof(uint32_t));
            if (!p->release) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        }
        kiln_mem_free(b->a, fill);
    }
    return KILN_OK;
}

/* One block per owned set and per node with scratch; places them per memory kind. */
static kiln_status make_blocks(build *b, kiln_plan *p, const uint64_t *align, int parallel, kiln_error *err) {
    const kiln_record *rec = b->rec;
    uint32_t cap = b->nv + 2 * b->nn + 1;
    b->blocks = kiln_mem_calloc(b->a, cap, sizeof(*b->blocks));
    b->first = kiln_mem_calloc(b->a, cap, sizeof(uint32_t));
    uint32_t *root_of = kiln_mem_calloc(b->a, cap, sizeof(uint32_t));
    uint8_t *kind = kiln_mem_calloc(b->a, cap, 1);
    uint32_t *map = kiln_mem_calloc(b->a, cap, sizeof(uint32_t));
    kiln_block *sub = kiln_mem_calloc(b->a, cap, sizeof(*sub));
    b->block_of = kiln_mem_calloc(b->a, (size_t)b->nv + 1, sizeof(uint32_t));
    kiln_status st = KILN_OK;
    if (!b->blocks || !b->first || !root_of || !kind || !map || !sub || !b->block_of) {
        st = kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    for (uint32_t v = 0; v < b->nv; v++) {
        b->block_of[v] = NONE32;
        const kiln_value *val = b->g->values[v];
        if (!owned(b, val) || find(b, v) != v) continue;
        uint32_t k = b->n_blocks++;
        b->blocks[k] = (kiln_block){b->set_bytes[v], producer_step(b, val), b->set_end[v], 0};
        b->first[k] = producer_step(b, val);
        root_of[k] = v;
        kind[k] = (uint8_t)rec->kind[v];
        b->block_of[v] = k;
    }
    for (uint32_t i = 0; i < b->nn; i++) {
        if (!rec->scratch[i]) continue;
        uint32_t k = b->n_blocks++;
        b->blocks[k] = (kiln_block){rec->scratch[i], i, i, 0};
        b->first[k] = i;
        root_of[k] = NONE32;
        kind[k] = 0;
        p->naive_bytes += rec->scratch[i];
    }
    for (uint32_t i = 0; i < b->nn; i++) {
        if (!rec->dev_scratch[i] || !rec->dev_kind[i] || rec->dev_kind[i] >= KILN_PLAN_KINDS) continue;
        uint32_t k = b->n_blocks++;
        b->blocks[k] = (kiln_block){rec->dev_scratch[i], i, i, 0};
        b->first[k] = i;
        root_of[k] = NONE32;
        kind[k] = rec->dev_kind[i];
        p->naive_bytes += rec->dev_scratch[i];
    }
    for (uint32_t v = 0; v < b->nv; v++)
        if (owned(b, b->g->values[v])) p->naive_bytes += rec->bytes[v];
    if (parallel && (st = block_users(b, root_of, err)) != KILN_OK) goto done;
    for (uint32_t k = 0; k < KILN_PLAN_KINDS; k++) {
        uint32_t m = 0;
        for (uint32_t q = 0; q < b->n_blocks; q++)
            if (kind[q] == k) {
                map[m] = q;
                sub[m++] = b->blocks[q];
            }
        if (!m) continue;
        par_conflict pc = {b, map};
        uint64_t arena;
        if ((st = kiln_plan_place(b->a, sub, m, align[k], parallel ? par_conflicts : NULL, &pc, &arena, err)) != KILN_OK)
            goto done;
        p->arena[k] = arena;
        p->arena_bytes += arena;
        p->lower_bound_bytes += kiln_plan_lower_bound(sub, m);
        for (uint32_t q = 0; q < m; q++) b->blocks[map[q]] = sub[q];
    }
    for (uint32_t v = 0; v < b->nv; v++) {
        p->off[v] = KILN_PLAN_NONE;
        if (!owned(b, b->g->values[v])) continue;
        uint32_t k = b->block_of[find(b, v)];
        if (k == NONE32) continue;
        p->off[v] = b->blocks[k].offset;
        p->size[v] = b->blocks[k].size;
        p->kind[v] = kind[k];
    }
    for (uint32_t k = 0; k < b->n_blocks; k++) {
        if (root_of[k] != NONE32) continue;
        if (kind[k]) {
            p->dev_scratch_off[b->first[k]] = b->blocks[k].offset;
            p->dev_scratch_size[b->first[k]] = b->blocks[k].size;
            continue;
        }
        p->scratch_off[b->first[k]] = b->blocks[k].offset;
        p->scratch_size[b->first[k]] = b->blocks[k].size;
    }
done:
    kiln_mem_free(b->a, root_of);
    kiln_mem_free(b->a, kind);
    kiln_mem_free(b->a, map);
    kiln_mem_free(b->a, sub);
    return st;
}

kiln_status kiln_plan_build(const kiln_allocator *a, const kiln_exec_graph *xg, const kiln_record *rec,
                            const uint64_t *align, int parallel, kiln_plan **out, kiln_error *err) {
    *out = NULL;
    build b;
    memset(&b, 0, sizeof(b));
    b.a = a;
    b.xg = xg;
    b.g = xg->g;
    b.rec = rec;
    b.nv = xg->g->n_values;
    b.nn = xg->n_nodes;
    kiln_plan *p = plan_alloc(a, b.nv, b.nn);
    b.parent = kiln_mem_calloc(a, (size_t)b.nv + 1, sizeof(uint32_t));
    b.next_member = kiln_mem_calloc(a, (size_t)b.nv + 1, sizeof(uint32_t));
    b.set_end = kiln_mem_calloc(a, (size_t)b.nv + 1, sizeof(uint32_t));
    b.set_bytes = kiln_mem_calloc(a, (size_t)b.nv + 1, sizeof(uint64_t));
    kiln_status st = KILN_OK;
    if (!p || !b.parent || !b.next_member || !b.set_end || !b.set_bytes) {
        st = kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory building a memory plan");
        goto done;
    }
    for (uint32_t v = 0; v < b.nv; v++) {
        b.parent[v] = v;
        b.next_member[v] = NONE32;
        b.set_end[v] = value_end(&b, b.g->values[v]);
        b.set_bytes[v] = rec->seen[v] ? rec->bytes[v] : 0;
    }
    if ((st = consumers(&b, err)) != KILN_OK) goto done;
    if (parallel && (st = reachability(&b, err)) != KILN_OK) goto done;
    make_sets(&b, p, parallel);
    make_det(&b, p);
    if ((st = make_release(&b, p, err)) != KILN_OK) goto done;
    if ((st = make_blocks(&b, p, align, parallel, err)) != KILN_OK) goto done;
    *out = p;
    p = NULL;
done:
    kiln_plan_free(a, p);
    build_free(&b);
    return st;
}
