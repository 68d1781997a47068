/* SPDX-License-Identifier: MIT */
/* Control flow: If, Loop, Scan (8 and 9+) over host->run_subgraph. Subgraph outputs live until the
 * next run, so carried values are copied into ping-pong buffers in the node's planned scratch
 * (sequences and strings into kernel-owned "held" values) and scan outputs written or gathered
 * as each iteration ends (docs/control-flow.md). */
#include <string.h>

#include "providers/cpu/cpu_op.h"
#include "providers/cpu/ops/copy.h"

/* ---- shared helpers ---- */

/* Bytes of storage of a tensor descriptor (sub-byte types packed). */
static size_t desc_bytes(const kiln_value_desc *d) {
    size_t es = cpu_dtype_size(d->dtype);
    if (es) return (size_t)d->count * es;
    uint32_t bits = d->dtype == KILN_DTYPE_UINT2 || d->dtype == KILN_DTYPE_INT2 ? 2 : 4;
    return ((size_t)d->count * bits + 7) / 8;
}

static void desc_init(kiln_value_desc *d, int32_t kind, int32_t dtype, int32_t rank, const int64_t *dims, void *data,
                      uint64_t count) {
    memset(d, 0, sizeof(*d));
    d->hdr.struct_size = sizeof(*d);
    d->hdr.abi_version = KILN_ABI_VERSION;
    d->kind = kind;
    d->dtype = dtype;
    d->rank = rank;
    d->dims = dims;
    d->data = data;
    d->count = count;
}

/* A value the kernel owns across subgraph runs: a tensor, a sequence of them, or an empty optional. */
typedef struct held {
    kiln_value_desc desc;
    int64_t dims[KILN_MAX_RANK];
    struct held **items;           /* sequence items */
    kiln_value_desc **item_descs;  /* what desc.items points at */
} held;

static void held_free(const cpu_kernel *k, held *h) {
    if (!h) return;
    if (h->desc.kind == KILN_VALUE_TENSOR && h->desc.dtype == KILN_DTYPE_STRING && h->desc.data) {
        char **s = h->desc.data;
        for (uint64_t i = 0; i < h->desc.count; i++) cpu_free(k, s[i]);
    }
    cpu_free(k, h->desc.data);
    if (h->items)
        for (uint64_t i = 0; i < h->desc.count; i++) held_free(k, h->items[i]);
    cpu_free(k, h->items);
    cpu_free(k, h->item_descs);
    cpu_free(k, h);
}

static kiln_status oom(kiln_error *err) { return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory"); }

/* Deep copy of `src` into a new held value. */
static kiln_status held_clone(const cpu_kernel *k, const kiln_value_desc *src, held **out, kiln_error *err) {
    held *h = cpu_alloc(k, sizeof(*h));
    *out = NULL;
    if (!h) return oom(err);
    memset(h, 0, sizeof(*h));
    int32_t rank = src->kind == KILN_VALUE_TENSOR ? src->rank : 0;
    if (rank < 0 || rank > KILN_MAX_RANK) {
        cpu_free(k, h);
        return cpu_fail(err, KILN_ERR_INTERNAL, "value of rank %d", (int)rank);
    }
    memcpy(h->dims, src->dims, (size_t)rank * sizeof(int64_t));
    desc_init(&h->desc, src->kind, src->dtype, rank, h->dims, NULL, 0);
    if (src->kind == KILN_VALUE_SEQUENCE) {
        uint64_t n = src->count;
        h->items = cpu_alloc(k, (size_t)n * sizeof(*h->items));
        h->item_descs = cpu_alloc(k, (size_t)n * sizeof(*h->item_descs));
        if (!h->items || !h->item_descs) {
            held_free(k, h);
            return oom(err);
        }
        for (uint64_t i = 0; i < n; i++) {
            kiln_status s = held_clone(k, src->items[i], &h->items[i], err);
            if (s != KILN_OK) {
                held_free(k, h);
                return s;
            }
            h->item_descs[i] = &h->items[i]->desc;
            h->desc.count = i + 1;
        }
        h->desc.items = h->item_descs;
    } else if (src->kind == KILN_VALUE_TENSOR) {
        size_t bytes = desc_bytes(src);
        h->desc.data = cpu_alloc(k, bytes);
        if (!h->desc.data) {
            held_free(k, h);
            return oom(err);
        }
        if (src->dtype == KILN_DTYPE_STRING) {
            char **dst = h->desc.data;
            char *const *s = src->data;
            memset(dst, 0, bytes);
            h->desc.count = src->count; /* held_free frees the strings set so far */
            for (uint64_t i = 0; i < src->count; i++) {
                size_t len = strlen(s[i]);
                dst[i] = cpu_alloc(k, len + 1);
                if (!dst[i]) {
                    held_free(k, h);
                    return oom(err);
                }
                memcpy(dst[i], s[i], len + 1);
            }
        } else if (bytes) {
            memcpy(h->desc.data, src->data, bytes);
        }
        h->desc.count = src->count;
    }
    *out = h;
    return KILN_OK;
}

/* Loop-carried values and Scan states between iterations. A tensor ping-pongs between two buffers
 * from the node's planned scratch: the body reads one while its new value is copied into the
 * other, so nothing referenced is overwritten and a warm run (same shapes) allocates nothing.
 * Sequences and string tensors are deep-copied into kernel-owned held values instead. */
typedef struct carried {
    kiln_value_desc desc[2];
    int64_t dims[2][KILN_MAX_RANK];
    void *buf[2];
    size_t cap[2];
    int cur;                       /* buffer in[j] points at; -1: the node's input or a held value */
    int next;                      /* buffer written this iteration; -1: none (kept or held) */
    held *h, *h_next;              /* held copy (sequences, strings) */
} carried;

static void carried_reset(const cpu_kernel *k, carried *c, uint32_t n) {
    for (uint32_t j = 0; j < n; j++) {
        held_free(k, c[j].h);
        held_free(k, c[j].h_next);
        c[j].h = c[j].h_next = NULL;
        c[j].cur = c[j].next = -1;
    }
}

/* Makes in[j] the subgraph output outs[j] for the next iteration. A value passed through
 * unchanged (outs[j] is in[j]) is kept. `in` are the descriptors given to the subgraph. */
static kiln_status carry(kiln_kernel_ctx *ctx, const cpu_kernel *k, carried *c, const kiln_value_desc *const *outs,
                         const kiln_value_desc **in, uint32_t n, kiln_error *err) {
    kiln_status s = KILN_OK;
    /* First every new value, into memory no input or output refers to; then the switch. */
    for (uint32_t j = 0; j < n && s == KILN_OK; j++) {
        const kiln_value_desc *o = outs[j];
        c[j].next = -1;
        if (o == in[j]) continue;
        if (o->kind == KILN_VALUE_TENSOR && o->dtype != KILN_DTYPE_STRING && o->rank >= 0 && o->rank <= KILN_MAX_RANK) {
            int t = c[j].cur == 0 ? 1 : 0;
            size_t bytes = desc_bytes(o);
            if (bytes > c[j].cap[t]) {
                void *b = ctx->host->scratch(ctx, bytes);
                if (!b) {
                    s = oom(err);
                    break;
                }
                c[j].buf[t] = b;
                c[j].cap[t] = bytes;
            }
            if (bytes) memcpy(c[j].buf[t], o->data, bytes);
            memcpy(c[j].dims[t], o->dims, (size_t)o->rank * sizeof(int64_t));
            desc_init(&c[j].desc[t], KILN_VALUE_TENSOR, o->dtype, o->rank, c[j].dims[t], c[j].buf[t], o->count);
            c[j].next = t;
        } else {
            s = held_clone(k, o, &c[j].h_next, err);
        }
    }
    if (s != KILN_OK) {
        for (uint32_t j = 0; j < n; j++) {
            held_free(k, c[j].h_next);
            c[j].h_next = NULL;
        }
        return s;
    }
    for (uint32_t j = 0; j < n; j++) {
        if (c[j].next >= 0) {
            c[j].cur = c[j].next;
            in[j] = &c[j].desc[c[j].cur];
        } else if (c[j].h_next) {
            c[j].cur = -1;
            in[j] = &c[j].h_next->desc;
        } else {
            continue; /* kept */
        }
        held_free(k, c[j].h);
        c[j].h = c[j].h_next;
        c[j].h_next = NULL;
    }
    return KILN_OK;
}

/* Reads a one-element tensor of `dtype` (bool or int64) into *v. */
static kiln_status one_value(const kiln_value_desc *d, int32_t dtype, const char *what, int64_t *v, kiln_error *err) {
    if (d->kind != KILN_VALUE_TENSOR || d->dtype != dtype || d->count != 1)
        return cpu_fail(err, KILN_ERR_SHAPE, "%s must be a %s tensor of one element (got %s with %llu elements)", what,
                        cpu_dtype_name(dtype), d->kind == KILN_VALUE_TENSOR ? cpu_dtype_name(d->dtype) : "a non-tensor",
                        (unsigned long long)(d->kind == KILN_VALUE_TENSOR ? d->count : 0));
    *v = dtype == KILN_DTYPE_BOOL ? (int64_t)(((const uint8_t *)d->data)[0] != 0) : ((const int64_t *)d->data)[0];
    return KILN_OK;
}

static int same_shape(const kiln_value_desc *d, int32_t rank, const int64_t *dims) {
    return d->rank == rank && (rank == 0 || memcmp(d->dims, dims, (size_t)rank * sizeof(int64_t)) == 0);
}

/* Copies `n` elements from src[si..] to dst[di..] (same dtype, at least one byte each). */
static kiln_status copy_run(kiln_kernel_ctx *ctx, kiln_value_desc *dst, uint64_t di, const kiln_value_desc *src,
                            uint64_t si, uint64_t n, kiln_error *err) {
    if (src->dtype == KILN_DTYPE_STRING) {
        char *const *s = src->data;
        for (uint64_t e = 0; e < n; e++)
            KILN_CPU_TRY((kiln_status)ctx->host->set_string(ctx, dst, di + e, s[si + e], strlen(s[si + e]), err));
        return KILN_OK;
    }
    size_t es = cpu_dtype_size(src->dtype);
    if (n) memcpy((char *)dst->data + di * es, (const char *)src->data + si * es, (size_t)n * es);
    return KILN_OK;
}

/* Which outputs of the node are present, and the shape each had at session creation (used
 * for scan outputs of loops that run no iteration). */
typedef struct out_info {
    uint8_t present;
    int32_t rank;                  /* -1 when unknown */
    int64_t dims[KILN_MAX_RANK];   /* -1 where unknown */
} out_info;

static void read_out_info(const cpu_node *n, out_info *o, uint32_t count) {
    for (uint32_t i = 0; i < count; i++) {
        kiln_value_info vi = cpu_output_info(n, i);
        o[i].present = (uint8_t)vi.present;
        o[i].rank = vi.kind == KILN_VALUE_TENSOR ? vi.rank : -1;
        memcpy(o[i].dims, vi.dims, sizeof(o[i].dims));
    }
}

/* An output that no iteration sized: the creation-time shape with `len` at `axis` and unknown
 * dims as 0 (the tensor is empty either way). */
static kiln_status empty_scan_output(kiln_kernel_ctx *ctx, uint32_t i, const out_info *o, int32_t axis, int64_t len,
                                     const int64_t *lead, int32_t n_lead, kiln_error *err) {
    int64_t dims[KILN_MAX_RANK];
    int32_t rank = o->rank >= 0 ? o->rank : n_lead + 1;
    for (int32_t d = 0; d < rank; d++) dims[d] = d < n_lead ? lead[d] : o->rank >= 0 && o->dims[d] >= 0 ? o->dims[d] : 0;
    if (axis < rank) dims[axis] = len;
    kiln_value_desc *out;
    KILN_CPU_TRY(cpu_output(ctx, i, rank, dims, &out, err));
    size_t es = cpu_dtype_size(out->dtype);
    if (es && out->dtype != KILN_DTYPE_STRING) memset(out->data, 0, (size_t)out->count * es); /* may be reused memory */
    return KILN_OK;
}

static int has_graph(const cpu_node *n, const char *name) {
    const kiln_attr_view *a = n->host->node_attr(n->view, name);
    return a && n->host->attr_type(a) == KILN_ATTR_GRAPH;
}

/* ---- If ---- */

typedef struct if_kernel {
    cpu_kernel base;
    uint32_t n_out;
    out_info out[];
} if_kernel;

static kiln_status if_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const if_kernel *k = (const if_kernel *)base;
    int64_t cond = 0;
    KILN_CPU_TRY(one_value(cpu_in(ctx, 0), KILN_DTYPE_BOOL, "cond", &cond, err));
    const kiln_value_desc *const *outs;
    uint32_t n_out;
    KILN_CPU_TRY((kiln_status)ctx->host->run_subgraph(ctx, cond ? "then_branch" : "else_branch", 0, NULL, 0, &outs,
                                                      &n_out, err));
    if (n_out != k->n_out)
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "the %s branch has %u outputs, the node has %u", cond ? "then" : "else",
                        n_out, k->n_out);
    for (uint32_t i = 0; i < n_out; i++)
        if (k->out[i].present) KILN_CPU_TRY(cpu_copy_value(ctx, i, outs[i], err));
    return KILN_OK;
}

kiln_status kiln_cpu_if(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    if (!has_graph(n, "then_branch") || !has_graph(n, "else_branch"))
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "If needs graph attributes then_branch and else_branch");
    uint32_t n_out = cpu_output_count(n);
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(if_kernel) + n_out * sizeof(out_info), if_compute, out, err));
    if_kernel *k = (if_kernel *)*out;
    k->n_out = n_out;
    read_out_info(n, k->out, n_out);
    return KILN_OK;
}

/* ---- Loop ---- */

typedef struct loop_kernel {
    cpu_kernel base;
    uint32_t n_carried, n_scan;
    out_info out[];
} loop_kernel;

/* A scan output of Loop, gathered over an unknown number of iterations. */
typedef struct gathered {
    int32_t dtype, rank;           /* rank -1 until the first iteration */
    int64_t dims[KILN_MAX_RANK];   /* per iteration */
    uint64_t count;                /* elements per iteration */
    char *buf;                     /* elements, in scratch (STRING: kernel-owned copies) */
    size_t used, cap;              /* bytes */
    int32_t out_idx;               /* >= 0: written straight into this node output (known trip count) */
    int64_t iters;                 /* the trip count when out_idx >= 0 */
    kiln_value_desc *out;          /* that output, once sized */
} gathered;

static kiln_status gather_append(kiln_kernel_ctx *ctx, const cpu_kernel *k, gathered *g, const kiln_value_desc *d,
                                 uint32_t idx, int64_t it, kiln_error *err) {
    if (d->kind != KILN_VALUE_TENSOR)
        return cpu_fail(err, KILN_ERR_SHAPE, "scan output %u must be a tensor", idx);
    if (!cpu_dtype_size(d->dtype))
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Loop scan output %u of %s is not supported", idx, cpu_dtype_name(d->dtype));
    if (g->rank < 0) {
        if (d->rank >= KILN_MAX_RANK)
            return cpu_fail(err, KILN_ERR_UNSUPPORTED, "scan output %u would exceed rank %d", idx, KILN_MAX_RANK);
        g->dtype = d->dtype;
        g->rank = d->rank;
        memcpy(g->dims, d->dims, (size_t)d->rank * sizeof(int64_t));
        g->count = d->count;
    } else if (d->dtype != g->dtype || !same_shape(d, g->rank, g->dims)) {
        return cpu_fail(err, KILN_ERR_SHAPE, "scan output %u changed its type or shape at iteration %lld", idx, (long long)it);
    }
    size_t bytes = (size_t)d->count * cpu_dtype_size(d->dtype);
    if (g->out_idx >= 0 && d->dtype != KILN_DTYPE_STRING) {
        if (!g->out) {
            int64_t dims[KILN_MAX_RANK];
            dims[0] = g->iters;
            memcpy(dims + 1, g->dims, (size_t)g->rank * sizeof(int64_t));
            KILN_CPU_TRY(cpu_output(ctx, (uint32_t)g->out_idx, g->rank + 1, dims, &g->out, err));
        }
        if (bytes) memcpy((char *)g->out->data + (size_t)it * bytes, d->data, bytes);
        g->used += bytes;
        return KILN_OK;
    }
    if (g->used + bytes > g->cap) {
        size_t cap = g->cap ? g->cap : 64;
        while (cap < g->used + bytes) {
            if (cap > SIZE_MAX / 2) return oom(err);
            cap *= 2;
        }
        char *nb = ctx->host->scratch(ctx, cap); /* the old buffer goes with the call's scratch */
        if (!nb) return oom(err);
        if (g->used) memcpy(nb, g->buf, g->used);
        g->buf = nb;
        g->cap = cap;
    }
    if (d->dtype == KILN_DTYPE_STRING) {
        char **dst = (char **)(void *)(g->buf + g->used);
        char *const *s = d->data;
        for (uint64_t e = 0; e < d->count; e++) {
            size_t len = strlen(s[e]);
            char *c = cpu_alloc(k, len + 1);
            if (!c) return oom(err);
            memcpy(c, s[e], len + 1);
            dst[e] = c;
            g->used += sizeof(char *); /* counted one by one so a failure frees exactly what was made */
        }
        return KILN_OK;
    }
    if (bytes) memcpy(g->buf + g->used, d->data, bytes);
    g->used += bytes;
    return KILN_OK;
}

static void gather_free(const cpu_kernel *k, gathered *g) {
    if (g->dtype == KILN_DTYPE_STRING && g->buf) {
        char **s = (char **)(void *)g->buf;
        for (size_t i = 0; i < g->used / sizeof(char *); i++) cpu_free(k, s[i]);
    }
    g->buf = NULL;
}

static kiln_status gather_finish(kiln_kernel_ctx *ctx, uint32_t i, const gathered *g, const out_info *o, int64_t iters,
                                 kiln_error *err) {
    if (g->rank < 0) return empty_scan_output(ctx, i, o, 0, 0, NULL, 0, err);
    if (g->out) return KILN_OK; /* written in place */
    int64_t dims[KILN_MAX_RANK];
    dims[0] = iters;
    memcpy(dims + 1, g->dims, (size_t)g->rank * sizeof(int64_t));
    kiln_value_desc *out;
    KILN_CPU_TRY(cpu_output(ctx, i, g->rank + 1, dims, &out, err));
    if (g->dtype == KILN_DTYPE_STRING) {
        char *const *s = (char *const *)(const void *)g->buf;
        for (uint64_t e = 0; e < out->count; e++)
            KILN_CPU_TRY((kiln_status)ctx->host->set_string(ctx, out, e, s[e], strlen(s[e]), err));
    } else if (g->used) {
        memcpy(out->data, g->buf, g->used);
    }
    return KILN_OK;
}

static kiln_status loop_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const loop_kernel *k = (const loop_kernel *)base;
    uint32_t nc = k->n_carried, ns = k->n_scan;
    int64_t max = INT64_MAX, cond = 1;
    if (cpu_in(ctx, 0)) KILN_CPU_TRY(one_value(cpu_in(ctx, 0), KILN_DTYPE_INT64, "M", &max, err));
    int use_cond = cpu_in(ctx, 1) != NULL;
    if (use_cond) KILN_CPU_TRY(one_value(cpu_in(ctx, 1), KILN_DTYPE_BOOL, "cond", &cond, err));
    const kiln_value_desc **in = ctx->host->scratch(ctx, (2 + nc) * sizeof(*in));
    carried *cur = ctx->host->scratch(ctx, (nc + 1) * sizeof(*cur));
    gathered *g = ctx->host->scratch(ctx, (ns + 1) * sizeof(*g));
    if (!in || !cur || !g) return oom(err);
    memset(cur, 0, (nc + 1) * sizeof(*cur));
    carried_reset(base, cur, nc);
    memset(g, 0, (ns + 1) * sizeof(*g));
    /* Without a condition input the loop runs exactly M times: scan outputs go straight into
     * the node's outputs, sized at the first iteration. */
    for (uint32_t s = 0; s < ns; s++) {
        g[s].rank = -1;
        g[s].out_idx = k->out[nc + s].present && !use_cond ? (int32_t)(nc + s) : -1;
        g[s].iters = max;
    }
    int64_t it_val = 0;
    uint8_t cond_val = 1;
    kiln_value_desc it_desc, cond_desc;
    desc_init(&it_desc, KILN_VALUE_TENSOR, KILN_DTYPE_INT64, 0, NULL, &it_val, 1);
    desc_init(&cond_desc, KILN_VALUE_TENSOR, KILN_DTYPE_BOOL, 0, NULL, &cond_val, 1);
    in[0] = &it_desc;
    in[1] = &cond_desc;
    for (uint32_t j = 0; j < nc; j++) in[2 + j] = cpu_in(ctx, 2 + j);
    kiln_status st = KILN_OK;
    int64_t it = 0;
    for (; it < max && cond && st == KILN_OK; it++) {
        it_val = it;
        cond_val = (uint8_t)cond;
        const kiln_value_desc *const *outs;
        uint32_t n_out;
        st = (kiln_status)ctx->host->run_subgraph(ctx, "body", 0, in, 2 + nc, &outs, &n_out, err);
        if (st != KILN_OK) break;
        if (n_out != 1 + nc + ns) {
            st = cpu_fail(err, KILN_ERR_INVALID_MODEL, "body has %u outputs, the loop needs %u", n_out, 1 + nc + ns);
            break;
        }
        if (use_cond && (st = one_value(outs[0], KILN_DTYPE_BOOL, "the body's condition output", &cond, err)) != KILN_OK)
            break;
        for (uint32_t s = 0; s < ns && st == KILN_OK; s++) st = gather_append(ctx, base, &g[s], outs[1 + nc + s], s, it, err);
        if (st == KILN_OK) st = carry(ctx, base, cur, outs + 1, in + 2, nc, err);
    }
    for (uint32_t j = 0; j < nc && st == KILN_OK; j++)
        if (k->out[j].present) st = cpu_copy_value(ctx, j, in[2 + j], err);
    for (uint32_t s = 0; s < ns && st == KILN_OK; s++)
        if (k->out[nc + s].present) st = gather_finish(ctx, nc + s, &g[s], &k->out[nc + s], it, err);
    carried_reset(base, cur, nc);
    for (uint32_t s = 0; s < ns; s++) gather_free(base, &g[s]);
    return st;
}

kiln_status kiln_cpu_loop(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    if (!has_graph(n, "body")) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "Loop needs a graph attribute 'body'");
    uint32_t n_in = cpu_input_count(n), n_out = cpu_output_count(n);
    if (n_in < 2 || n_out < n_in - 2)
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "Loop has %u inputs and %u outputs", n_in, n_out);
    if (!cpu_input_info(n, 0).present && !cpu_input_info(n, 1).present)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED,
                        "Loop with neither a trip count M nor a condition never ends; Kiln refuses it");
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(loop_kernel) + n_out * sizeof(out_info), loop_compute, out, err));
    loop_kernel *k = (loop_kernel *)*out;
    k->n_carried = n_in - 2;
    k->n_scan = n_out - k->n_carried;
    read_out_info(n, k->out, n_out);
    return KILN_OK;
}

/* ---- Scan ---- */

typedef struct scan_kernel {
    cpu_kernel base;
    int v8;                        /* Scan-8: batch axis 0, sequence axis 1, sequence_lens input */
    uint32_t first;                /* index of the first state input (1 for Scan-8) */
    uint32_t n_state, n_sin, n_sout;
    int64_t *in_axis, *in_rev;     /* per scan input (Scan-8: axis unused) */
    int64_t *out_axis, *out_rev;   /* per scan output (Scan-8: unused) */
    out_info *out;                 /* per output */
} scan_kernel;

/* Element-wise view of a slice of `x`: data at element offset `off`, dims `x.dims` without the
 * first `drop` dims (contiguous slices only). */
static void view_of(kiln_value_desc *v, int64_t *dims, const kiln_value_desc *x, int32_t drop, uint64_t off) {
    int32_t r = x->rank - drop;
    memcpy(dims, x->dims + drop, (size_t)r * sizeof(int64_t));
    uint64_t n = 1;
    for (int32_t d = 0; d < r; d++) n *= (uint64_t)dims[d];
    desc_init(v, KILN_VALUE_TENSOR, x->dtype, r, dims, (char *)x->data + off * cpu_dtype_size(x->dtype), n);
}

/* Scan-9+: input i's slice at position `pos` of axis `axis` (copied into buf unless axis is 0). */
static void slice_in(kiln_value_desc *v, int64_t *dims, const kiln_value_desc *x, int32_t axis, int64_t pos, void *buf) {
    int64_t outer = 1, inner = 1, len = x->dims[axis];
    for (int32_t d = 0; d < axis; d++) outer *= x->dims[d];
    for (int32_t d = axis + 1; d < x->rank; d++) inner *= x->dims[d];
    if (axis == 0) {
        view_of(v, dims, x, 1, (uint64_t)(pos * inner));
        return;
    }
    size_t es = cpu_dtype_size(x->dtype);
    for (int64_t o = 0; o < outer; o++)
        memcpy((char *)buf + (size_t)(o * inner) * es, (const char *)x->data + (size_t)((o * len + pos) * inner) * es,
               (size_t)inner * es);
    int32_t r = 0;
    for (int32_t d = 0; d < x->rank; d++)
        if (d != axis) dims[r++] = x->dims[d];
    desc_init(v, KILN_VALUE_TENSOR, x->dtype, r, dims, buf, (uint64_t)(outer * inner));
}

/* Writes iteration output `y` at position `pos` of the scan axis of scan output `i`, allocating
 * the output on the first write. Scan-8 (batch >= 0): the output is [n_batch, len, y dims...] and
 * y goes to [batch, pos]. Scan-9+: the output is y's dims with `len` inserted at `axis_rel`. */
static kiln_status scan_write(kiln_kernel_ctx *ctx, uint32_t i, const kiln_value_desc *y, int64_t n_batch, int64_t batch,
                              int64_t axis_rel, int64_t len, int64_t pos, uint32_t idx, kiln_error *err) {
    if (y->kind != KILN_VALUE_TENSOR) return cpu_fail(err, KILN_ERR_SHAPE, "scan output %u must be a tensor", idx);
    if (!cpu_dtype_size(y->dtype))
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Scan output %u of %s is not supported", idx, cpu_dtype_name(y->dtype));
    int32_t lead = batch >= 0 ? 1 : 0, r1 = y->rank + 1;
    if (r1 + lead > KILN_MAX_RANK)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "scan output %u would exceed rank %d", idx, KILN_MAX_RANK);
    if (axis_rel < -(int64_t)r1 || axis_rel >= r1)
        return cpu_fail(err, KILN_ERR_SHAPE, "scan_output_axes[%u] = %lld is out of range for rank %d", idx,
                        (long long)axis_rel, (int)r1);
    int32_t axis = (int32_t)(axis_rel < 0 ? axis_rel + r1 : axis_rel);
    int64_t dims[KILN_MAX_RANK];
    int32_t r = 0;
    if (lead) dims[r++] = n_batch;
    for (int32_t d = 0; d <= y->rank; d++) {
        if (d == axis) dims[r++] = len;
        if (d < y->rank) dims[r++] = y->dims[d];
    }
    kiln_value_desc *out = ctx->outputs[i];
    if (!out) {
        KILN_CPU_TRY(cpu_output(ctx, i, r, dims, &out, err));
        /* Scan-8 leaves the steps past a sequence's length unwritten: zeros, not reused memory. */
        if (lead && y->dtype != KILN_DTYPE_STRING) memset(out->data, 0, (size_t)out->count * cpu_dtype_size(y->dtype));
    } else if (out->dtype != y->dtype || !same_shape(out, r, dims)) {
        return cpu_fail(err, KILN_ERR_SHAPE, "scan output %u changed its type or shape between iterations", idx);
    }
    int64_t inner = 1, outer = 1;
    for (int32_t d = axis; d < y->rank; d++) inner *= y->dims[d];
    for (int32_t d = 0; d < axis; d++) outer *= y->dims[d];
    uint64_t base = lead ? (uint64_t)batch * (uint64_t)len * y->count : 0;
    for (int64_t o = 0; o < outer; o++)
        KILN_CPU_TRY(copy_run(ctx, out, base + (uint64_t)((o * len + pos) * inner), y, (uint64_t)(o * inner),
                              (uint64_t)inner, err));
    return KILN_OK;
}

/* Writes final state `y` of batch `batch` into state output `i` ([n_batch, y dims...]), allocating
 * it on the first write (Scan-8). */
static kiln_status state_write(kiln_kernel_ctx *ctx, uint32_t i, const kiln_value_desc *y, int64_t n_batch,
                               int64_t batch, uint32_t idx, kiln_error *err) {
    if (y->kind != KILN_VALUE_TENSOR || !cpu_dtype_size(y->dtype) || y->rank + 1 > KILN_MAX_RANK)
        return cpu_fail(err, KILN_ERR_SHAPE, "state %u must be a tensor of at most rank %d", idx, KILN_MAX_RANK - 1);
    int64_t dims[KILN_MAX_RANK];
    dims[0] = n_batch;
    memcpy(dims + 1, y->dims, (size_t)y->rank * sizeof(int64_t));
    kiln_value_desc *out = ctx->outputs[i];
    if (!out) {
        KILN_CPU_TRY(cpu_output(ctx, i, y->rank + 1, dims, &out, err));
    } else if (out->dtype != y->dtype || !same_shape(out, y->rank + 1, dims)) {
        return cpu_fail(err, KILN_ERR_SHAPE, "state %u has a different type or shape in another batch", idx);
    }
    return copy_run(ctx, out, (uint64_t)batch * y->count, y, 0, y->count, err);
}

/* Runs the body `n_iter` times from the states in[0..n_state) (replaced by held copies as the
 * iterations go); `feed` fills the scan inputs of iteration t and `emit` takes its scan outputs. */
typedef struct scan_run {
    const scan_kernel *k;
    kiln_kernel_ctx *ctx;
    const kiln_value_desc **in;    /* n_state + n_sin body inputs */
    carried *cur;                  /* n_state */
    kiln_value_desc *views;        /* n_sin slice descriptors */
    int64_t *view_dims;            /* n_sin * KILN_MAX_RANK */
    void **bufs;                   /* n_sin gather buffers (Scan-9, axis != 0) */
} scan_run;

static void scan_release(scan_run *r) { carried_reset(&r->k->base, r->cur, r->k->n_state); }

/* Scan-9+: one pass over the scan axis. */
static kiln_status scan9(scan_run *r, kiln_error *err) {
    const scan_kernel *k = r->k;
    kiln_kernel_ctx *ctx = r->ctx;
    int32_t axes[KILN_MAX_RANK * 4 + 1];
    int32_t *axis = k->n_sin <= KILN_MAX_RANK * 4 ? axes : ctx->host->scratch(ctx, k->n_sin * sizeof(int32_t));
    if (!axis) return oom(err);
    int64_t len = -1;
    for (uint32_t i = 0; i < k->n_sin; i++) {
        const kiln_value_desc *x = cpu_in(ctx, k->n_state + i);
        if (x->kind != KILN_VALUE_TENSOR || x->rank < 1)
            return cpu_fail(err, KILN_ERR_SHAPE, "scan input %u must be a tensor of rank >= 1", i);
        int64_t a = k->in_axis[i];
        if (a < -(int64_t)x->rank || a >= x->rank)
            return cpu_fail(err, KILN_ERR_SHAPE, "scan_input_axes[%u] = %lld is out of range for rank %d", i, (long long)a,
                            (int)x->rank);
        axis[i] = (int32_t)(a < 0 ? a + x->rank : a);
        if (len >= 0 && x->dims[axis[i]] != len)
            return cpu_fail(err, KILN_ERR_SHAPE, "scan inputs have different lengths (%lld and %lld)", (long long)len,
                            (long long)x->dims[axis[i]]);
        len = x->dims[axis[i]];
        if (axis[i] != 0 && len > 0) {
            r->bufs[i] = ctx->host->scratch(ctx, (size_t)(x->count / (uint64_t)len) * cpu_dtype_size(x->dtype));
            if (!r->bufs[i]) return oom(err);
        }
    }
    for (int64_t t = 0; t < len; t++) {
        for (uint32_t i = 0; i < k->n_sin; i++) {
            int64_t pos = k->in_rev[i] ? len - 1 - t : t;
            slice_in(&r->views[i], r->view_dims + (size_t)i * KILN_MAX_RANK, cpu_in(ctx, k->n_state + i), axis[i], pos,
                     r->bufs[i]);
            r->in[k->n_state + i] = &r->views[i];
        }
        const kiln_value_desc *const *outs;
        uint32_t n_out;
        KILN_CPU_TRY((kiln_status)ctx->host->run_subgraph(ctx, "body", 0, r->in, k->n_state + k->n_sin, &outs, &n_out, err));
        if (n_out != k->n_state + k->n_sout)
            return cpu_fail(err, KILN_ERR_INVALID_MODEL, "body has %u outputs, the scan needs %u", n_out,
                            k->n_state + k->n_sout);
        for (uint32_t s = 0; s < k->n_sout; s++) {
            if (!k->out[k->n_state + s].present) continue;
            int64_t pos = k->out_rev[s] ? len - 1 - t : t;
            KILN_CPU_TRY(scan_write(ctx, k->n_state + s, outs[k->n_state + s], 0, -1, k->out_axis[s], len, pos, s, err));
        }
        KILN_CPU_TRY(carry(ctx, &k->base, r->cur, outs, r->in, k->n_state, err));
    }
    for (uint32_t j = 0; j < k->n_state; j++)
        if (k->out[j].present) KILN_CPU_TRY(cpu_copy_value(ctx, j, r->in[j], err));
    for (uint32_t s = 0; s < k->n_sout; s++) {
        uint32_t o = k->n_state + s;
        if (!k->out[o].present || ctx->outputs[o]) continue;
        int64_t a = k->out_axis[s];
        int32_t r1 = k->out[o].rank;
        if (r1 >= 0 && a < 0) a += r1;
        KILN_CPU_TRY(empty_scan_output(ctx, o, &k->out[o], (int32_t)(a < 0 ? 0 : a), len < 0 ? 0 : len, NULL, 0, err));
    }
    return KILN_OK;
}

/* Scan-8: every batch entry scans its own sequence (of its sequence_lens length). */
static kiln_status scan8(scan_run *r, kiln_error *err) {
    const scan_kernel *k = r->k;
    kiln_kernel_ctx *ctx = r->ctx;
    int64_t n_batch = -1, max_len = -1;
    for (uint32_t i = 0; i < k->n_sin + k->n_state; i++) {
        const kiln_value_desc *x = cpu_in(ctx, k->first + i);
        int is_scan = i >= k->n_state;
        if (x->kind != KILN_VALUE_TENSOR || x->rank < (is_scan ? 2 : 1))
            return cpu_fail(err, KILN_ERR_SHAPE, "%s %u must be a tensor with a batch axis%s", is_scan ? "scan input" : "state",
                            is_scan ? i - k->n_state : i, is_scan ? " and a sequence axis" : "");
        if (n_batch >= 0 && x->dims[0] != n_batch)
            return cpu_fail(err, KILN_ERR_SHAPE, "inputs have different batch sizes (%lld and %lld)", (long long)n_batch,
                            (long long)x->dims[0]);
        n_batch = x->dims[0];
        if (is_scan) {
            if (max_len >= 0 && x->dims[1] != max_len)
                return cpu_fail(err, KILN_ERR_SHAPE, "scan inputs have different sequence lengths (%lld and %lld)",
                                (long long)max_len, (long long)x->dims[1]);
            max_len = x->dims[1];
        }
    }
    const kiln_value_desc *sl = cpu_in(ctx, 0);
    if (sl) {
        if (sl->kind != KILN_VALUE_TENSOR || sl->dtype != KILN_DTYPE_INT64 || sl->count != (uint64_t)n_batch)
            return cpu_fail(err, KILN_ERR_SHAPE, "sequence_lens must be an int64 tensor of %lld elements", (long long)n_batch);
        for (int64_t b = 0; b < n_batch; b++) {
            int64_t v = ((const int64_t *)sl->data)[b];
            if (v < 0 || v > max_len)
                return cpu_fail(err, KILN_ERR_SHAPE, "sequence_lens[%lld] = %lld is out of range [0, %lld]", (long long)b,
                                (long long)v, (long long)max_len);
        }
    }
    for (int64_t b = 0; b < n_batch; b++) {
        int64_t len = sl ? ((const int64_t *)sl->data)[b] : max_len;
        for (uint32_t j = 0; j < k->n_state; j++) {
            const kiln_value_desc *x = cpu_in(ctx, k->first + j);
            view_of(&r->views[k->n_sin + j], r->view_dims + (size_t)(k->n_sin + j) * KILN_MAX_RANK, x, 1,
                    (uint64_t)b * (x->count / (uint64_t)n_batch));
            r->in[j] = &r->views[k->n_sin + j];
        }
        for (int64_t t = 0; t < len; t++) {
            for (uint32_t i = 0; i < k->n_sin; i++) {
                const kiln_value_desc *x = cpu_in(ctx, k->first + k->n_state + i);
                int64_t pos = k->in_rev[i] ? len - 1 - t : t;
                uint64_t step = x->count / (uint64_t)(n_batch * max_len);
                view_of(&r->views[i], r->view_dims + (size_t)i * KILN_MAX_RANK, x, 2, (uint64_t)(b * max_len + pos) * step);
                r->in[k->n_state + i] = &r->views[i];
            }
            const kiln_value_desc *const *outs;
            uint32_t n_out;
            KILN_CPU_TRY((kiln_status)ctx->host->run_subgraph(ctx, "body", 0, r->in, k->n_state + k->n_sin, &outs, &n_out,
                                                              err));
            if (n_out != k->n_state + k->n_sout)
                return cpu_fail(err, KILN_ERR_INVALID_MODEL, "body has %u outputs, the scan needs %u", n_out,
                                k->n_state + k->n_sout);
            for (uint32_t s = 0; s < k->n_sout; s++)
                if (k->out[k->n_state + s].present)
                    KILN_CPU_TRY(scan_write(ctx, k->n_state + s, outs[k->n_state + s], n_batch, b, 0, max_len, t, s, err));
            KILN_CPU_TRY(carry(ctx, &k->base, r->cur, outs, r->in, k->n_state, err));
        }
        for (uint32_t j = 0; j < k->n_state; j++)
            if (k->out[j].present) KILN_CPU_TRY(state_write(ctx, j, r->in[j], n_batch, b, j, err));
        scan_release(r);
    }
    for (uint32_t o = 0; o < k->n_state + k->n_sout; o++) {
        if (!k->out[o].present || ctx->outputs[o]) continue;
        /* No batch entries (or no iterations): sizes from the inputs and the creation-time shapes. */
        if (o < k->n_state) {
            const kiln_value_desc *x = cpu_in(ctx, k->first + o);
            kiln_value_desc *out;
            KILN_CPU_TRY(cpu_output(ctx, o, x->rank, x->dims, &out, err));
            if (n_batch > 0) KILN_CPU_TRY(copy_run(ctx, out, 0, x, 0, x->count, err));
        } else {
            int64_t lead[1] = {n_batch};
            KILN_CPU_TRY(empty_scan_output(ctx, o, &k->out[o], 1, max_len, lead, 1, err));
        }
    }
    return KILN_OK;
}

static kiln_status scan_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const scan_kernel *k = (const scan_kernel *)base;
    uint32_t ns = k->n_state, ni = k->n_sin, nv = ns + ni;
    scan_run r = {k, ctx, NULL, NULL, NULL, NULL, NULL};
    r.in = ctx->host->scratch(ctx, (nv + 1) * sizeof(*r.in));
    r.cur = ctx->host->scratch(ctx, (ns + 1) * sizeof(*r.cur));
    r.views = ctx->host->scratch(ctx, (nv + 1) * sizeof(*r.views));
    r.view_dims = ctx->host->scratch(ctx, (size_t)(nv + 1) * KILN_MAX_RANK * sizeof(int64_t));
    r.bufs = ctx->host->scratch(ctx, (ni + 1) * sizeof(*r.bufs));
    if (!r.in || !r.cur || !r.views || !r.view_dims || !r.bufs) return oom(err);
    memset(r.cur, 0, (ns + 1) * sizeof(*r.cur));
    carried_reset(&k->base, r.cur, ns);
    memset(r.bufs, 0, (ni + 1) * sizeof(*r.bufs));
    for (uint32_t j = 0; j < ns; j++) r.in[j] = cpu_in(ctx, k->first + j);
    kiln_status st = k->v8 ? scan8(&r, err) : scan9(&r, err);
    scan_release(&r);
    return st;
}

static void scan_cleanup(cpu_kernel *base) {
    scan_kernel *k = (scan_kernel *)base;
    cpu_free(base, k->in_rev); /* the block holding the attribute lists and out_info */
}

kiln_status kiln_cpu_scan(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    if (!has_graph(n, "body")) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "Scan needs a graph attribute 'body'");
    int v8 = n->opset < 9;
    uint32_t first = v8 ? 1 : 0, n_in = cpu_input_count(n), n_out = cpu_output_count(n);
    int64_t m = cpu_attr_int(n, "num_scan_inputs", -1);
    if (n_in < first || m < 1 || m > (int64_t)(n_in - first))
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "Scan: num_scan_inputs %lld is out of range", (long long)m);
    uint32_t n_sin = (uint32_t)m, n_state = n_in - first - n_sin;
    if (n_out < n_state) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "Scan has %u states but %u outputs", n_state, n_out);
    uint32_t n_sout = n_out - n_state;
    for (uint32_t i = first; i < n_in; i++) {
        int32_t dt = cpu_input_dtype(n, i);
        if (!cpu_input_info(n, i).present)
            return cpu_fail(err, KILN_ERR_INVALID_MODEL, "Scan input %u is empty", i);
        if (dt && !cpu_dtype_size(dt) && (v8 || i >= first + n_state))
            return cpu_fail(err, KILN_ERR_UNSUPPORTED, "Scan over %s tensors is not supported", cpu_dtype_name(dt));
    }
    struct {
        const char *name;
        uint32_t n;
    } lists[5] = {{v8 ? "directions" : "scan_input_directions", n_sin}, {"scan_input_axes", n_sin},
                  {"scan_output_directions", n_sout}, {"scan_output_axes", n_sout}, {NULL, 0}};
    const int64_t *vals[4];
    for (int l = 0; l < 4; l++) {
        uint32_t count;
        vals[l] = cpu_attr_ints(n, lists[l].name, &count);
        if (vals[l] && count != lists[l].n)
            return cpu_fail(err, KILN_ERR_INVALID_MODEL, "Scan attribute '%s' has %u entries, %u expected", lists[l].name,
                            count, lists[l].n);
        for (uint32_t i = 0; vals[l] && (l == 0 || l == 2) && i < count; i++)
            if (vals[l][i] != 0 && vals[l][i] != 1)
                return cpu_fail(err, KILN_ERR_INVALID_MODEL, "Scan attribute '%s' must hold 0 or 1", lists[l].name);
    }
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(scan_kernel), scan_compute, out, err));
    scan_kernel *k = (scan_kernel *)*out;
    k->base.cleanup = scan_cleanup;
    k->v8 = v8;
    k->first = first;
    k->n_state = n_state;
    k->n_sin = n_sin;
    k->n_sout = n_sout;
    size_t n64 = 2 * (size_t)n_sin + 2 * (size_t)n_sout;
    char *block = cpu_alloc(*out, n64 * sizeof(int64_t) + n_out * sizeof(out_info) + 1);
    if (!block) {
        (*out)->abi.release(&(*out)->abi);
        *out = NULL;
        return oom(err);
    }
    int64_t *p = (int64_t *)(void *)block;
    k->in_rev = p;
    k->in_axis = p + n_sin;
    k->out_rev = p + 2 * n_sin;
    k->out_axis = p + 2 * n_sin + n_sout;
    int64_t *dst[4] = {k->in_rev, k->in_axis, k->out_rev, k->out_axis};
    uint32_t lens[4] = {n_sin, n_sin, n_sout, n_sout};
    for (int l = 0; l < 4; l++)
        for (uint32_t i = 0; i < lens[l]; i++) dst[l][i] = vals[l] && !(v8 && l > 0) ? vals[l][i] : 0;
    k->out = (out_info *)(void *)(block + n64 * sizeof(int64_t));
    read_out_info(n, k->out, n_out);
    return KILN_OK;
}
