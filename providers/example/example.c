/* SPDX-License-Identifier: MIT */
/* The example provider: the smallest complete Kiln plugin, the template vendors copy. It runs
 * float Add, Mul and Relu as kernels, fuses chains of them into compiled groups, keeps tensors
 * in its own "device" memory (host memory behind opaque handles, capacity-limited, so every
 * copy the host makes is real), copies synchronously or queued on streams, and pre-packs
 * constant operands. With ABI 1.2 it computes asynchronously like a GPU: kernels queue their
 * work on the run's stream (run lazily, when the host waits), temporaries come from device
 * scratch, frees are stream-ordered, and with graphs=1 it captures a run's queued work in
 * run_begin/run_end and replays it for later runs of the same signature and addresses.
 * Built only against abi/kiln_provider.h; see docs/providers.md. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln_provider.h"

/* ABI versions this provider speaks. */
#define EX_ABI_MIN KILN_ABI_MAKE(1, 0)
#define EX_ABI_MAX KILN_ABI_MAKE(1, 2)
#define EX_DEFAULT_MEMORY (1ull << 30) /* bytes of device memory per instance */
#define EX_ALIGN 64                     /* bytes */
#define EX_MAGIC 0x6b6c6e65u

static int32_t fail(kiln_error *err, int32_t status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int32_t fail(kiln_error *err, int32_t status, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

typedef struct ex_library {
    kiln_provider_library abi;
    const kiln_host_api *host;
    void *host_ctx;
} ex_library;

#define EX_V12(ex) ((ex)->version >= KILN_ABI_MAKE(1, 2))

struct ex_stream;
struct ex_job;

typedef struct ex_provider {
    kiln_provider abi;
    const kiln_host_api *host;
    void *host_ctx;
    uint32_t version;            /* negotiated ABI version */
    uint64_t capacity, used;     /* bytes of device memory */
    struct ex_stream *stream;    /* the stream the host created (1.2: kernels queue on it) */
    int graphs;                  /* option graphs=1: capture and replay runs */
    /* Capture (graphs=1): the jobs queued between run_begin and run_end of a replayable run. */
    int capturing, captured;
    uint64_t cap_sig, cap_key, cap_run;
    struct ex_job **cap_jobs;
    uint32_t n_cap, cap_cap;
    uint64_t replays;
    struct ex_job *job_pool;     /* finished jobs kept for reuse: a warm run allocates nothing */
} ex_provider;

/* ---- device memory: blocks are handles; the host never dereferences them ---- */

typedef struct ex_block {
    uint32_t magic;
    uint64_t bytes;
    unsigned char data[];        /* EX_ALIGN-aligned: the header is one cache line */
} __attribute__((aligned(EX_ALIGN))) ex_block;

static int32_t mem_alloc(kiln_provider *p, uint32_t kind, uint64_t bytes, void **block, kiln_error *err) {
    ex_provider *ex = (ex_provider *)p;
    *block = NULL;
    if (kind != p->mem_kind) return fail(err, KILN_ERR_INVALID_ARGUMENT, "memory kind %u is not the example device's", kind);
    if (bytes > ex->capacity - ex->used)
        return fail(err, KILN_ERR_OUT_OF_MEMORY, "example device memory exhausted: %llu of %llu bytes in use, %llu asked",
                    (unsigned long long)ex->used, (unsigned long long)ex->capacity, (unsigned long long)bytes);
    ex_block *b = ex->host->alloc(ex->host_ctx, sizeof(ex_block) + (size_t)bytes, EX_ALIGN);
    if (!b) return fail(err, KILN_ERR_OUT_OF_MEMORY, "out of host memory backing %llu device bytes", (unsigned long long)bytes);
    b->magic = EX_MAGIC;
    b->bytes = bytes;
    ex->used += bytes;
    *block = b;
    return KILN_OK;
}

static void block_free(ex_provider *ex, ex_block *b) {
    if (!b || b->magic != EX_MAGIC) return;
    b->magic = 0;
    ex->used -= b->bytes;
    ex->host->free(ex->host_ctx, b);
}

static int defer_free(ex_provider *ex, ex_block *b); /* below: queued behind the stream's work */

/* Stream-ordered: a block that queued work may still use is freed once that work is done. */
static void mem_free(kiln_provider *p, uint32_t kind, void *block) {
    ex_provider *ex = (ex_provider *)p;
    (void)kind;
    if (!block || defer_free(ex, block)) return;
    block_free(ex, block);
}

/* The bytes [offset, offset + bytes) of a block, or NULL when the handle or range is bad. */
static unsigned char *block_at(const void *handle, uint64_t offset, uint64_t bytes) {
    const ex_block *b = handle;
    if (!b || b->magic != EX_MAGIC || offset > b->bytes || bytes > b->bytes - offset) return NULL;
    return (unsigned char *)b->data + offset;
}

/* ---- copies and streams ---- */

static int32_t copy_now(ex_provider *ex, const kiln_copy_region *r, kiln_error *err) {
    uint32_t k = ex->abi.mem_kind;
    if ((r->src_kind != 0 && r->src_kind != k) || (r->dst_kind != 0 && r->dst_kind != k))
        return fail(err, KILN_ERR_INVALID_ARGUMENT, "copy between memory kinds %u and %u: not the example device's", r->src_kind,
                    r->dst_kind);
    const unsigned char *src = r->src_kind ? block_at(r->src, r->src_offset, r->bytes) : (const unsigned char *)r->src + r->src_offset;
    unsigned char *dst = r->dst_kind ? block_at(r->dst, r->dst_offset, r->bytes) : (unsigned char *)r->dst + r->dst_offset;
    if ((r->bytes && (!src || !dst)) || (!r->src_kind && !r->src) || (!r->dst_kind && !r->dst))
        return fail(err, KILN_ERR_INVALID_ARGUMENT, "copy of %llu bytes: bad block handle or range", (unsigned long long)r->bytes);
    if (r->bytes) memmove(dst, src, (size_t)r->bytes);
    return KILN_OK;
}

/* A stream is a queue run lazily: work happens when an event on it (or the stream) is waited
 * for, in queue order, as a device would do it later than the call that queued it. */
typedef struct ex_op {
    kiln_copy_region r;          /* a copy, or, when `after` is set, a wait for another stream */
    struct ex_stream *after;
    uint64_t until;
    struct ex_job *job;          /* 1.2: a kernel's work, run when the op is reached */
    ex_block *free_block;        /* a stream-ordered free */
} ex_op;

typedef struct ex_stream {
    kiln_stream abi;
    ex_provider *ex;
    ex_op *ops;                  /* queued, not done: ops[0] is number done + 1 */
    uint32_t n, cap;
    uint64_t queued, done;
} ex_stream;

typedef struct ex_event {
    kiln_event abi;
    ex_stream *s;
    uint64_t seq;
} ex_event;

static int32_t job_run(struct ex_job *j, kiln_error *err);
static void job_free(ex_provider *ex, struct ex_job *j);

static int32_t flush(ex_stream *s, uint64_t until, kiln_error *err) {
    uint32_t k = 0;
    int32_t st = KILN_OK;
    while (s->done < until && k < s->n && st == KILN_OK) {
        ex_op *op = &s->ops[k++];
        if (op->free_block) block_free(s->ex, op->free_block);
        else if (op->job) {
            st = job_run(op->job, err);
            job_free(s->ex, op->job);
        } else st = op->after ? flush(op->after, op->until, err) : copy_now(s->ex, &op->r, err);
        s->done++;
    }
    if (k && s->n > k) memmove(s->ops, s->ops + k, (s->n - k) * sizeof(*s->ops));
    s->n -= k;
    return st;
}

static int32_t enqueue(ex_stream *s, const ex_op *op, kiln_error *err) {
    if (s->n == s->cap) {
        uint32_t nc = s->cap ? s->cap * 2 : 16;
        ex_op *ops = s->ex->host->alloc(s->ex->host_ctx, nc * sizeof(*ops), 16);
        if (!ops) return fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory queueing on a stream");
        if (s->n) memcpy(ops, s->ops, s->n * sizeof(*ops));
        s->ex->host->free(s->ex->host_ctx, s->ops);
        s->ops = ops;
        s->cap = nc;
    }
    s->ops[s->n++] = *op;
    s->queued++;
    return KILN_OK;
}

static int32_t event_wait(kiln_event *e, kiln_error *err) {
    ex_event *ev = (ex_event *)e;
    return flush(ev->s, ev->seq, err);
}

static void event_release(kiln_event *e) {
    ex_event *ev = (ex_event *)e;
    ev->s->ex->host->free(ev->s->ex->host_ctx, ev);
}

static int32_t stream_record(kiln_stream *st, kiln_event **out, kiln_error *err) {
    ex_stream *s = (ex_stream *)st;
    ex_event *ev = s->ex->host->alloc(s->ex->host_ctx, sizeof(*ev), 16);
    *out = NULL;
    if (!ev) return fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory recording an event");
    memset(ev, 0, sizeof(*ev));
    ev->abi.hdr.struct_size = sizeof(ev->abi);
    ev->abi.hdr.abi_version = s->ex->version;
    ev->abi.wait = event_wait;
    ev->abi.release = event_release;
    ev->s = s;
    ev->seq = s->queued;
    *out = &ev->abi;
    return KILN_OK;
}

static int32_t stream_wait_event(kiln_stream *st, kiln_event *e, kiln_error *err) {
    ex_event *ev = (ex_event *)e;
    ex_op op;
    memset(&op, 0, sizeof(op));
    op.after = ev->s;
    op.until = ev->seq;
    return enqueue((ex_stream *)st, &op, err);
}

static int32_t stream_synchronize(kiln_stream *st, kiln_error *err) {
    ex_stream *s = (ex_stream *)st;
    return flush(s, s->queued, err);
}

/* Work still queued is dropped: its buffers may be gone (the host synchronizes to keep it);
 * frees queued behind it are done. */
static void stream_release(kiln_stream *st) {
    ex_stream *s = (ex_stream *)st;
    for (uint32_t i = 0; i < s->n; i++) {
        if (s->ops[i].free_block) block_free(s->ex, s->ops[i].free_block);
        if (s->ops[i].job) job_free(s->ex, s->ops[i].job);
    }
    if (s->ex->stream == s) s->ex->stream = NULL;
    s->ex->host->free(s->ex->host_ctx, s->ops);
    s->ex->host->free(s->ex->host_ctx, s);
}

static int32_t create_stream(kiln_provider *p, kiln_stream **out, kiln_error *err) {
    ex_provider *ex = (ex_provider *)p;
    ex_stream *s = ex->host->alloc(ex->host_ctx, sizeof(*s), 16);
    *out = NULL;
    if (!s) return fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory creating a stream");
    memset(s, 0, sizeof(*s));
    s->abi.hdr.struct_size = sizeof(s->abi);
    s->abi.hdr.abi_version = ex->version;
    s->abi.record = stream_record;
    s->abi.wait_event = stream_wait_event;
    s->abi.synchronize = stream_synchronize;
    s->abi.release = stream_release;
    s->ex = ex;
    ex->stream = s;
    *out = &s->abi;
    return KILN_OK;
}

static int defer_free(ex_provider *ex, ex_block *b) {
    if (!ex->stream || !ex->stream->n) return 0;
    ex_op op;
    memset(&op, 0, sizeof(op));
    op.free_block = b;
    return enqueue(ex->stream, &op, NULL) == KILN_OK;
}

static int32_t copy(kiln_provider *p, const kiln_copy_region *const *regions, uint32_t n, kiln_stream *stream,
                    kiln_error *err) {
    ex_provider *ex = (ex_provider *)p;
    for (uint32_t i = 0; i < n; i++) {
        int32_t st;
        if (stream) {
            ex_op op;
            memset(&op, 0, sizeof(op));
            memcpy(&op.r, regions[i], sizeof(op.r) < regions[i]->hdr.struct_size ? sizeof(op.r) : regions[i]->hdr.struct_size);
            st = enqueue((ex_stream *)stream, &op, err);
        } else {
            st = copy_now(ex, regions[i], err);
        }
        if (st != KILN_OK) return st;
    }
    return KILN_OK;
}

/* ---- kernels: a program of elementwise steps over value slots ---- */

enum { OP_ADD, OP_MUL, OP_RELU };

/* Slots: kernel inputs, then kernel outputs, then temporaries of a fused group. */
typedef struct ex_step {
    int op;
    uint32_t in[2];
    uint32_t out;
} ex_step;

typedef struct ex_kernel {
    kiln_kernel abi;
    ex_provider *ex;
    uint32_t n_in, n_out, n_slots, n_steps;
    ex_step *steps;
    ex_block **packed;           /* per input: the kernel's own copy of a constant, or NULL */
} ex_kernel;

typedef struct ex_val {
    float *data;
    int32_t rank;
    int64_t dims[KILN_MAX_RANK];
    ex_block *tmp;               /* a temporary the kernel frees after compute */
} ex_val;

static int op_of(const kiln_host_api *h, const kiln_node_view *n) {
    const char *op = h->node_op_type(n);
    if (*h->node_domain(n)) return -1;
    return !strcmp(op, "Add") ? OP_ADD : !strcmp(op, "Mul") ? OP_MUL : !strcmp(op, "Relu") ? OP_RELU : -1;
}

/* Float tensors only, on inputs and outputs. */
static int supported(const kiln_host_api *h, const kiln_node_view *n) {
    int op = op_of(h, n);
    uint32_t need_in = op == OP_RELU ? 1 : 2;
    if (op < 0 || h->node_input_count(n) != need_in || h->node_output_count(n) != 1) return 0;
    for (uint32_t i = 0; i < need_in + 1; i++) {
        kiln_value_info vi;
        memset(&vi, 0, sizeof(vi));
        vi.hdr.struct_size = sizeof(vi);
        int32_t st = i < need_in ? h->node_input_info(n, i, &vi) : h->node_output_info(n, 0, &vi);
        if (st != KILN_OK || !vi.present || vi.kind != KILN_VALUE_TENSOR || vi.dtype != KILN_DTYPE_FLOAT) return 0;
    }
    return 1;
}

static int32_t claim_node(kiln_provider *p, const kiln_node_view *n, int32_t *claim, kiln_error *err) {
    ex_provider *ex = (ex_provider *)p;
    (void)err;
    *claim = supported(ex->host, n) ? KILN_CLAIM_KERNEL : KILN_CLAIM_NO;
    return KILN_OK;
}

static void kernel_release(kiln_kernel *k) {
    ex_kernel *ek = (ex_kernel *)k;
    for (uint32_t i = 0; ek->packed && i < ek->n_in; i++) mem_free(&ek->ex->abi, ek->ex->abi.mem_kind, ek->packed[i]);
    ek->ex->host->free(ek->ex->host_ctx, ek->packed);
    ek->ex->host->free(ek->ex->host_ctx, ek->steps);
    ek->ex->host->free(ek->ex->host_ctx, ek);
}

/* Output shape of a step: numpy broadcasting of its inputs. */
static int32_t step_shape(const ex_step *s, const ex_val *v, ex_val *out, kiln_error *err) {
    const ex_val *a = &v[s->in[0]], *b = s->op == OP_RELU ? a : &v[s->in[1]];
    out->rank = a->rank > b->rank ? a->rank : b->rank;
    for (int32_t d = 0; d < out->rank; d++) {
        int64_t x = d - (out->rank - a->rank) >= 0 ? a->dims[d - (out->rank - a->rank)] : 1;
        int64_t y = d - (out->rank - b->rank) >= 0 ? b->dims[d - (out->rank - b->rank)] : 1;
        if (x != y && x != 1 && y != 1) return fail(err, KILN_ERR_SHAPE, "cannot broadcast dim %lld with %lld", (long long)x, (long long)y);
        out->dims[d] = x == 1 ? y : x;
    }
    return KILN_OK;
}

static int64_t count(const ex_val *v) {
    int64_t n = 1;
    for (int32_t d = 0; d < v->rank; d++) n *= v->dims[d];
    return n;
}

/* Element offset into `in` of output index `i` under broadcasting. */
static int64_t bcast_index(const ex_val *in, const ex_val *out, int64_t i) {
    int64_t off = 0, stride = 1;
    for (int32_t d = out->rank - 1; d >= 0; d--) {
        int64_t c = i % out->dims[d];
        i /= out->dims[d];
        int32_t di = d - (out->rank - in->rank);
        if (di < 0) continue;
        if (in->dims[di] != 1) off += c * stride;
        stride *= in->dims[di];
    }
    return off;
}

static void run_step(const ex_step *s, const ex_val *v, ex_val *out) {
    const ex_val *a = &v[s->in[0]], *b = s->op == OP_RELU ? NULL : &v[s->in[1]];
    int64_t n = count(out);
    int same = count(a) == n && (!b || count(b) == n);
    for (int64_t i = 0; i < n; i++) {
        float x = a->data[same ? i : bcast_index(a, out, i)];
        if (s->op == OP_RELU) {
            out->data[i] = x > 0.0f ? x : 0.0f;
            continue;
        }
        float y = b->data[same ? i : bcast_index(b, out, i)];
        out->data[i] = s->op == OP_ADD ? x + y : x * y;
    }
}

/* 1.2: one kernel call's work queued on a stream: the program and its bound values. */
typedef struct ex_job {
    const ex_step *steps;        /* the kernel's (it outlives every run: the host synchronizes first) */
    uint32_t n_steps, n_slots;
    uint32_t cap_slots;          /* slots allocated */
    struct ex_job *next;         /* in the provider's pool */
    ex_val v[];
} ex_job;

static int32_t job_run(ex_job *j, kiln_error *err) {
    (void)err;
    for (uint32_t s = 0; s < j->n_steps; s++) run_step(&j->steps[s], j->v, &j->v[j->steps[s].out]);
    return KILN_OK;
}

/* Back to the pool (freed with the provider). */
static void job_free(ex_provider *ex, ex_job *j) {
    j->next = ex->job_pool;
    ex->job_pool = j;
}

static ex_job *job_get(ex_provider *ex, uint32_t n_slots) {
    for (ex_job **at = &ex->job_pool; *at; at = &(*at)->next) {
        if ((*at)->cap_slots < n_slots) continue;
        ex_job *j = *at;
        *at = j->next;
        return j;
    }
    ex_job *j = ex->host->alloc(ex->host_ctx, sizeof(ex_job) + n_slots * sizeof(ex_val), 16);
    if (j) j->cap_slots = n_slots;
    return j;
}

static ex_job *job_new(ex_provider *ex, const ex_kernel *ek) {
    ex_job *j = job_get(ex, ek->n_slots);
    if (!j) return NULL;
    uint32_t cap = j->cap_slots;
    memset(j, 0, sizeof(ex_job) + ek->n_slots * sizeof(ex_val));
    j->cap_slots = cap;
    j->steps = ek->steps;
    j->n_steps = ek->n_steps;
    j->n_slots = ek->n_slots;
    return j;
}

static ex_job *job_clone(ex_provider *ex, const ex_job *src) {
    ex_job *j = job_get(ex, src->n_slots);
    if (!j) return NULL;
    uint32_t cap = j->cap_slots;
    memcpy(j, src, sizeof(ex_job) + src->n_slots * sizeof(ex_val));
    j->cap_slots = cap;
    j->next = NULL;
    return j;
}

static int32_t enqueue_job(ex_provider *ex, ex_stream *s, ex_job *j, kiln_error *err) {
    ex_op op;
    memset(&op, 0, sizeof(op));
    op.job = j;
    int32_t st = enqueue(s, &op, err);
    if (st != KILN_OK) job_free(ex, j);
    return st;
}

static int32_t bind(ex_kernel *ek, const kiln_value_desc *d, ex_val *v, kiln_error *err) {
    v->rank = d->rank;
    memcpy(v->dims, d->dims, (size_t)d->rank * sizeof(int64_t));
    v->data = (float *)block_at(d->data, d->offset, d->count * sizeof(float));
    if (d->mem_kind != (int32_t)ek->ex->abi.mem_kind || !v->data)
        return fail(err, KILN_ERR_INVALID_ARGUMENT, "a tensor is not in the example device's memory");
    return KILN_OK;
}

static int32_t capture_job(ex_provider *ex, const ex_job *j, kiln_error *err);

/* 1.2, on the run's stream: shapes, outputs and temporaries (device scratch) now; the arithmetic
 * queued as a job that runs when the host waits on the stream. */
static int32_t compute_async(ex_kernel *ek, kiln_kernel_ctx *ctx, ex_stream *stream, kiln_error *err) {
    ex_provider *ex = ek->ex;
    const kiln_host_api *h = ctx->host;
    uint64_t t0 = h->now_ns();
    ex_job *j = job_new(ex, ek);
    if (!j) return h->set_error(err, KILN_ERR_OUT_OF_MEMORY, "out of memory queueing a kernel");
    ex_val *v = j->v;
    int32_t st = KILN_OK;
    for (uint32_t i = 0; i < ek->n_in && st == KILN_OK; i++) {
        kiln_value_desc own = *ctx->inputs[i];
        if (ek->packed[i]) own.data = ek->packed[i], own.offset = 0;
        st = bind(ek, &own, &v[i], err);
    }
    for (uint32_t s = 0; s < ek->n_steps && st == KILN_OK; s++) {
        const ex_step *sp = &ek->steps[s];
        ex_val *out = &v[sp->out];
        if ((st = step_shape(sp, v, out, err)) != KILN_OK) break;
        if (sp->out < ek->n_in + ek->n_out) {
            uint32_t o = sp->out - ek->n_in;
            kiln_value_desc *d = ctx->outputs[o];
            if (!d) st = h->alloc_output(ctx, o, out->rank, out->dims, &d, err);
            if (st == KILN_OK) st = bind(ek, d, out, err);
        } else {
            uint64_t bytes = (uint64_t)count(out) * h->dtype_size(KILN_DTYPE_FLOAT), off = 0;
            void *blk = NULL;
            st = h->device_scratch(ctx, bytes, &blk, &off, err);
            out->data = st == KILN_OK ? (float *)block_at(blk, off, bytes) : NULL;
            if (st == KILN_OK && !out->data) st = h->set_error(err, KILN_ERR_INTERNAL, "device scratch outside its block");
        }
    }
    if (st == KILN_OK && ex->capturing) st = capture_job(ex, j, err);
    if (st != KILN_OK) {
        job_free(ex, j);
        return st;
    }
    st = enqueue_job(ex, stream, j, err);
    /* The span is the call's (queueing); the work runs when the host waits on the stream. */
    if (ek->n_steps > 1 && st == KILN_OK) h->trace(ctx, "example fused group", t0, h->now_ns());
    return st;
}

static int32_t compute(kiln_kernel *k, kiln_kernel_ctx *ctx, kiln_error *err) {
    ex_kernel *ek = (ex_kernel *)k;
    const kiln_host_api *h = ctx->host;
    if (EX_V12(ek->ex) && KILN_ABI_HAS(ctx, kiln_kernel_ctx, stream) && ctx->stream)
        return compute_async(ek, ctx, (ex_stream *)ctx->stream, err);
    uint64_t t0 = h->now_ns();
    ex_val *v = h->scratch(ctx, ek->n_slots * sizeof(ex_val));
    if (!v) return fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    memset(v, 0, ek->n_slots * sizeof(ex_val));
    int32_t st = KILN_OK;
    for (uint32_t i = 0; i < ek->n_in && st == KILN_OK; i++) {
        kiln_value_desc own = *ctx->inputs[i];
        if (ek->packed[i]) own.data = ek->packed[i], own.offset = 0;
        st = bind(ek, &own, &v[i], err);
    }
    for (uint32_t s = 0; s < ek->n_steps && st == KILN_OK; s++) {
        const ex_step *sp = &ek->steps[s];
        ex_val *out = &v[sp->out];
        if ((st = step_shape(sp, v, out, err)) != KILN_OK) break;
        if (sp->out < ek->n_in + ek->n_out) {
            uint32_t o = sp->out - ek->n_in;
            kiln_value_desc *d = ctx->outputs[o];
            /* The host sized it from shape inference; else it is sized here. */
            if (!d) st = h->alloc_output(ctx, o, out->rank, out->dims, &d, err);
            if (st == KILN_OK) st = bind(ek, d, out, err);
        } else {
            void *blk;
            st = mem_alloc(&ek->ex->abi, ek->ex->abi.mem_kind, (uint64_t)count(out) * sizeof(float), &blk, err);
            out->tmp = blk;
            out->data = blk ? (float *)out->tmp->data : NULL;
        }
        if (st == KILN_OK) run_step(sp, v, out);
    }
    for (uint32_t i = 0; i < ek->n_slots; i++) mem_free(&ek->ex->abi, ek->ex->abi.mem_kind, v[i].tmp);
    if (ek->n_steps > 1 && st == KILN_OK) h->trace(ctx, "example fused group", t0, h->now_ns());
    return st;
}

/* Keeps its own device copy of a constant operand, so the host may free its upload. */
static int32_t prepack(kiln_kernel *k, uint32_t input, const kiln_value_desc *w, int32_t *packed, kiln_error *err) {
    ex_kernel *ek = (ex_kernel *)k;
    *packed = 0;
    if (input >= ek->n_in || w->mem_kind != (int32_t)ek->ex->abi.mem_kind || ek->packed[input]) return KILN_OK;
    uint64_t bytes = w->count * sizeof(float);
    const unsigned char *src = block_at(w->data, w->offset, bytes);
    if (!src) return fail(err, KILN_ERR_INVALID_ARGUMENT, "constant input %u is not in the example device's memory", input);
    void *blk;
    int32_t st = mem_alloc(&ek->ex->abi, ek->ex->abi.mem_kind, bytes, &blk, err);
    if (st != KILN_OK) return st;
    memcpy(((ex_block *)blk)->data, src, (size_t)bytes);
    ek->packed[input] = blk;
    *packed = 1;
    return KILN_OK;
}

static int32_t new_kernel(ex_provider *ex, uint32_t n_in, uint32_t n_out, uint32_t n_steps, ex_kernel **out, kiln_error *err) {
    ex_kernel *ek = ex->host->alloc(ex->host_ctx, sizeof(*ek), 16);
    *out = NULL;
    if (!ek) return fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory creating a kernel");
    memset(ek, 0, sizeof(*ek));
    ek->abi.hdr.struct_size = sizeof(ek->abi);
    ek->abi.hdr.abi_version = ex->version;
    ek->abi.compute = compute;
    ek->abi.release = kernel_release;
    ek->abi.prepack = prepack;
    ek->ex = ex;
    ek->n_in = n_in;
    ek->n_out = n_out;
    ek->n_slots = n_in + n_out;
    ek->steps = ex->host->alloc(ex->host_ctx, (n_steps + 1) * sizeof(ex_step), 16);
    ek->packed = ex->host->alloc(ex->host_ctx, (n_in + 1) * sizeof(ex_block *), 16);
    if (ek->packed) memset(ek->packed, 0, (n_in + 1) * sizeof(ex_block *));
    if (!ek->steps || !ek->packed) {
        kernel_release(&ek->abi);
        return fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory creating a kernel");
    }
    *out = ek;
    return KILN_OK;
}

static int32_t create_kernel(kiln_provider *p, const kiln_node_view *n, kiln_kernel **out, kiln_error *err) {
    ex_provider *ex = (ex_provider *)p;
    *out = NULL;
    if (!supported(ex->host, n)) return fail(err, KILN_ERR_UNSUPPORTED, "the example provider runs float Add, Mul and Relu only");
    uint32_t n_in = ex->host->node_input_count(n);
    ex_kernel *ek;
    int32_t st = new_kernel(ex, n_in, 1, 1, &ek, err);
    if (st != KILN_OK) return st;
    ek->steps[0] = (ex_step){op_of(ex->host, n), {0, n_in == 2 ? 1 : 0}, n_in};
    ek->n_steps = 1;
    *out = &ek->abi;
    return KILN_OK;
}

/* ---- fused groups ---- */

/* Proposes every connected set of two or more nodes it can run. */
static int32_t claim_groups(kiln_provider *p, const kiln_graph_view *g, kiln_claim_sink *sink, kiln_error *err) {
    ex_provider *ex = (ex_provider *)p;
    const kiln_host_api *h = ex->host;
    uint32_t n = h->graph_node_count(g);
    uint32_t *root = h->alloc(ex->host_ctx, (n + 1) * sizeof(uint32_t), 16);
    const kiln_node_view **list = h->alloc(ex->host_ctx, (n + 1) * sizeof(*list), 16);
    int32_t st = KILN_OK;
    if (!root || !list) {
        st = fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    /* Union-find over node indices; UINT32_MAX marks nodes it cannot take. */
    for (uint32_t i = 0; i < n; i++) {
        const kiln_node_view *nv = h->graph_node_at(g, i);
        int ok = !(h->node_flags(nv) & (KILN_NODE_F_CLAIMED | KILN_NODE_F_SHAPE_ONLY)) && supported(h, nv);
        root[i] = ok ? i : UINT32_MAX;
    }
    for (uint32_t i = 0; i < n; i++) {
        const kiln_node_view *nv = h->graph_node_at(g, i);
        if (root[i] == UINT32_MAX) continue;
        for (uint32_t j = 0; j < h->node_input_count(nv); j++) {
            const kiln_node_view *pn = h->node_producer(nv, j, NULL);
            uint32_t a = pn ? h->node_index(pn) : UINT32_MAX, b = i;
            if (a >= n || root[a] == UINT32_MAX) continue;
            while (root[a] != a) a = root[a];
            while (root[b] != b) b = root[b];
            if (a != b) root[a > b ? a : b] = a < b ? a : b;
        }
    }
    for (uint32_t r = 0; r < n && st == KILN_OK; r++) {
        uint32_t m = 0;
        for (uint32_t i = 0; i < n; i++) {
            if (root[i] == UINT32_MAX) continue;
            uint32_t a = i;
            while (root[a] != a) a = root[a];
            if (a == r) list[m++] = h->graph_node_at(g, i);
        }
        if (m >= 2) st = h->claim_group(sink, list, m, 0, err);
    }
done:
    h->free(ex->host_ctx, root);
    h->free(ex->host_ctx, list);
    return st;
}

static int32_t value_name(int32_t (*info)(const kiln_graph_view *, uint32_t, kiln_value_info *), const kiln_graph_view *g,
                          uint32_t i, const char **name) {
    kiln_value_info vi;
    memset(&vi, 0, sizeof(vi));
    vi.hdr.struct_size = sizeof(vi);
    int32_t st = info(g, i, &vi);
    *name = vi.name;
    return st;
}

/* Slot of value `name`: an input, an output, or a temporary made by an earlier member. */
static uint32_t find_slot(const char *const *names, uint32_t n, const char *name) {
    for (uint32_t i = 0; i < n; i++)
        if (names[i] && !strcmp(names[i], name)) return i;
    return UINT32_MAX;
}

static int32_t compile_group(kiln_provider *p, const kiln_graph_view *g, kiln_kernel **out, kiln_error *err) {
    ex_provider *ex = (ex_provider *)p;
    const kiln_host_api *h = ex->host;
    uint32_t n_in = h->graph_input_count(g), n_out = h->graph_output_count(g), n = h->graph_node_count(g);
    uint32_t cap = n_in + n_out + n;
    *out = NULL;
    const char **names = h->alloc(ex->host_ctx, (cap + 1) * sizeof(char *), 16);
    ex_kernel *ek = NULL;
    int32_t st = names ? new_kernel(ex, n_in, n_out, n, &ek, err) : fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    for (uint32_t i = 0; i < n_in && st == KILN_OK; i++) st = value_name(h->graph_input_info, g, i, &names[i]);
    for (uint32_t i = 0; i < n_out && st == KILN_OK; i++) st = value_name(h->graph_output_info, g, i, &names[n_in + i]);
    for (uint32_t s = 0; s < n && st == KILN_OK; s++) {
        const kiln_node_view *nv = h->graph_node_at(g, s);
        if (!supported(h, nv)) {
            st = fail(err, KILN_ERR_UNSUPPORTED, "the example provider cannot run node '%s' (%s)", h->node_name(nv), h->node_op_type(nv));
            break;
        }
        ex_step *sp = &ek->steps[s];
        sp->op = op_of(h, nv);
        for (uint32_t j = 0; j < h->node_input_count(nv) && st == KILN_OK; j++) {
            kiln_value_info vi;
            memset(&vi, 0, sizeof(vi));
            vi.hdr.struct_size = sizeof(vi);
            h->node_input_info(nv, j, &vi);
            sp->in[j] = find_slot(names, ek->n_slots, vi.name);
            if (sp->in[j] == UINT32_MAX) st = fail(err, KILN_ERR_INVALID_ARGUMENT, "group input '%s' not found", vi.name);
        }
        if (sp->op == OP_RELU) sp->in[1] = sp->in[0];
        kiln_value_info vo;
        memset(&vo, 0, sizeof(vo));
        vo.hdr.struct_size = sizeof(vo);
        h->node_output_info(nv, 0, &vo);
        sp->out = find_slot(names, n_in + n_out, vo.name);
        if (sp->out == UINT32_MAX || sp->out < n_in) {
            sp->out = ek->n_slots++;
            names[sp->out] = vo.name;
        }
        ek->n_steps++;
    }
    if (names) h->free(ex->host_ctx, names);
    if (st != KILN_OK) {
        if (ek) kernel_release(&ek->abi);
        return st;
    }
    *out = &ek->abi;
    return KILN_OK;
}

/* ---- instances and the library ---- */

/* ---- 1.2 run hooks: a toy of CUDA graph capture and replay (option graphs=1) ---- */

static void capture_drop(ex_provider *ex) {
    for (uint32_t i = 0; i < ex->n_cap; i++) job_free(ex, ex->cap_jobs[i]);
    ex->n_cap = 0;
    ex->captured = 0;
}

static int32_t capture_job(ex_provider *ex, const ex_job *j, kiln_error *err) {
    if (ex->n_cap == ex->cap_cap) {
        uint32_t nc = ex->cap_cap ? ex->cap_cap * 2 : 16;
        ex_job **nj = ex->host->alloc(ex->host_ctx, nc * sizeof(*nj), 16);
        if (!nj) return ex->host->set_error(err, KILN_ERR_OUT_OF_MEMORY, "out of memory capturing a run");
        if (ex->n_cap) memcpy(nj, ex->cap_jobs, ex->n_cap * sizeof(*nj));
        ex->host->free(ex->host_ctx, ex->cap_jobs);
        ex->cap_jobs = nj;
        ex->cap_cap = nc;
    }
    ex_job *c = job_clone(ex, j);
    if (!c) return ex->host->set_error(err, KILN_ERR_OUT_OF_MEMORY, "out of memory capturing a run");
    ex->cap_jobs[ex->n_cap++] = c;
    return KILN_OK;
}

static int32_t run_begin(kiln_provider *p, kiln_run_info *run, kiln_error *err) {
    ex_provider *ex = (ex_provider *)p;
    if (!ex->graphs || !run->replay_ok || !ex->stream) return KILN_OK;
    if (ex->captured && run->signature == ex->cap_sig && run->address_key == ex->cap_key) {
        for (uint32_t i = 0; i < ex->n_cap; i++) {
            ex_job *j = job_clone(ex, ex->cap_jobs[i]);
            if (!j) return ex->host->set_error(err, KILN_ERR_OUT_OF_MEMORY, "out of memory replaying a run");
            int32_t st = enqueue_job(ex, ex->stream, j, err);
            if (st != KILN_OK) return st;
        }
        run->replayed = 1;
        if (ex->replays++ == 0) {
            char msg[128];
            snprintf(msg, sizeof(msg), "replaying a captured run of %u kernels", ex->n_cap);
            ex->host->log_ctx(ex->host_ctx, KILN_LOG_DEBUG, "example", msg);
        }
        return KILN_OK;
    }
    capture_drop(ex);
    ex->capturing = 1;
    ex->cap_sig = run->signature;
    ex->cap_key = run->address_key;
    ex->cap_run = run->run_id;
    return KILN_OK;
}

static int32_t run_end(kiln_provider *p, kiln_run_info *run, kiln_error *err) {
    ex_provider *ex = (ex_provider *)p;
    (void)err;
    if (ex->capturing && run->run_id == ex->cap_run) {
        ex->capturing = 0;
        ex->captured = run->status == KILN_OK && ex->n_cap > 0;
        if (!ex->captured) capture_drop(ex);
    }
    return KILN_OK;
}

static void provider_release(kiln_provider *p) {
    ex_provider *ex = (ex_provider *)p;
    capture_drop(ex);
    ex->host->free(ex->host_ctx, ex->cap_jobs);
    while (ex->job_pool) {
        ex_job *j = ex->job_pool;
        ex->job_pool = j->next;
        ex->host->free(ex->host_ctx, j);
    }
    ex->host->free(ex->host_ctx, ex);
}

static int32_t create_provider(kiln_provider_library *lib, const kiln_provider_params *prm, kiln_provider **out,
                               kiln_error *err) {
    const kiln_host_api *h = prm->host;
    *out = NULL;
    if (prm->device != 0) return fail(err, KILN_ERR_INVALID_ARGUMENT, "the example library has one device, not %u", prm->device);
    uint64_t capacity = EX_DEFAULT_MEMORY;
    int fuse = 1, graphs = 0;
    for (uint32_t i = 0; i < prm->n_options; i++) {
        const char *k = prm->option_keys[i], *v = prm->option_values[i];
        char *end;
        if (!strcmp(k, "device_memory")) {
            capacity = strtoull(v, &end, 10);
            if (!*v || *end) return fail(err, KILN_ERR_INVALID_ARGUMENT, "device_memory='%s' is not a byte count", v);
        } else if (!strcmp(k, "fuse") && (!strcmp(v, "0") || !strcmp(v, "1"))) {
            fuse = v[0] == '1';
        } else if (!strcmp(k, "graphs") && (!strcmp(v, "0") || !strcmp(v, "1"))) {
            graphs = v[0] == '1';
        } else {
            char msg[256];
            snprintf(msg, sizeof(msg), "unknown option %s=%s ignored (known: device_memory=BYTES, fuse=0|1, graphs=0|1)", k, v);
            if (lib->hdr.abi_version >= KILN_ABI_MAKE(1, 2) && KILN_ABI_HAS(h, kiln_host_api, log_ctx) && h->log_ctx)
                h->log_ctx(prm->host_ctx, KILN_LOG_WARNING, "example", msg);
            else
                h->log(KILN_LOG_WARNING, "example", msg);
        }
    }
    ex_provider *ex = h->alloc(prm->host_ctx, sizeof(*ex), 16);
    if (!ex) return fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory creating the example provider");
    memset(ex, 0, sizeof(*ex));
    ex->abi.hdr.struct_size = sizeof(ex->abi);
    ex->abi.hdr.abi_version = lib->hdr.abi_version;
    ex->abi.name = "example";
    ex->abi.state = ex;
    ex->abi.claim_node = claim_node;
    ex->abi.create_kernel = create_kernel;
    ex->abi.release = provider_release;
    ex->abi.mem_kind = prm->mem_kind_ids[0];
    ex->abi.claim_groups = fuse ? claim_groups : NULL;
    ex->abi.compile_group = compile_group;
    ex->abi.mem_alloc = mem_alloc;
    ex->abi.mem_free = mem_free;
    ex->abi.copy = copy;
    ex->abi.create_stream = create_stream;
    ex->host = h;
    ex->host_ctx = prm->host_ctx;
    ex->version = lib->hdr.abi_version;
    ex->capacity = capacity;
    if (EX_V12(ex)) {
        ex->abi.run_begin = run_begin;
        ex->abi.run_end = run_end;
        ex->graphs = graphs;
    } else {
        /* An older host knows a shorter table: the struct ends where its version's does. */
        ex->abi.hdr.struct_size = (uint32_t)offsetof(kiln_provider, run_begin);
    }
    *out = &ex->abi;
    return KILN_OK;
}

static uint32_t device_count(kiln_provider_library *lib) {
    (void)lib;
    return 1;
}

static int32_t device_info(kiln_provider_library *lib, uint32_t device, kiln_device_info *info, kiln_error *err) {
    if (device != 0) return fail(err, KILN_ERR_INVALID_ARGUMENT, "the example library has one device, not %u", device);
    kiln_device_info d;
    memset(&d, 0, sizeof(d));
    d.hdr.struct_size = info->hdr.struct_size;
    d.hdr.abi_version = lib->hdr.abi_version;
    d.id = "example:0";
    d.name = "Kiln example device (host memory behind handles)";
    d.type = KILN_DEVICE_ACCELERATOR;
    d.n_mem_kinds = 1;
    d.memory_total = d.memory_free = EX_DEFAULT_MEMORY;
    d.caps = KILN_DEVICE_CAP_STREAMS;
    if (lib->hdr.abi_version >= KILN_ABI_MAKE(1, 2)) d.caps |= KILN_DEVICE_CAP_ASYNC_COMPUTE;
    memcpy(info, &d, info->hdr.struct_size < sizeof(d) ? info->hdr.struct_size : sizeof(d));
    return KILN_OK;
}

static int32_t mem_kind_info(kiln_provider_library *lib, uint32_t device, uint32_t kind, kiln_mem_kind_info *info,
                             kiln_error *err) {
    if (device != 0 || kind != 0) return fail(err, KILN_ERR_INVALID_ARGUMENT, "no memory kind %u on device %u", kind, device);
    kiln_mem_kind_info m;
    memset(&m, 0, sizeof(m));
    m.hdr.struct_size = info->hdr.struct_size;
    m.hdr.abi_version = lib->hdr.abi_version;
    m.name = "example:device";
    m.alignment = EX_ALIGN;
    memcpy(info, &m, info->hdr.struct_size < sizeof(m) ? info->hdr.struct_size : sizeof(m));
    return KILN_OK;
}

static void library_release(kiln_provider_library *lib) {
    ex_library *el = (ex_library *)lib;
    el->host->free(el->host_ctx, el);
}

KILN_PROVIDER_EXPORT int32_t kiln_provider_entry(const kiln_host_api *host, void *host_ctx, uint32_t host_min,
                                                 uint32_t host_max, kiln_provider_library **out, kiln_error *err);
KILN_PROVIDER_EXPORT int32_t kiln_provider_entry(const kiln_host_api *host, void *host_ctx, uint32_t host_min,
                                                 uint32_t host_max, kiln_provider_library **out, kiln_error *err) {
    *out = NULL;
    /* The highest version both sides speak, never this build's blindly. */
    uint32_t v = host_max < EX_ABI_MAX ? host_max : EX_ABI_MAX;
    if (v < host_min || v < EX_ABI_MIN || host_min > host_max)
        return fail(err, KILN_ERR_PROVIDER, "the example provider speaks ABI %u.%u-%u.%u; the host offers %u.%u-%u.%u",
                    KILN_ABI_MAJOR(EX_ABI_MIN), KILN_ABI_MINOR(EX_ABI_MIN), KILN_ABI_MAJOR(EX_ABI_MAX), KILN_ABI_MINOR(EX_ABI_MAX),
                    KILN_ABI_MAJOR(host_min), KILN_ABI_MINOR(host_min), KILN_ABI_MAJOR(host_max), KILN_ABI_MINOR(host_max));
    if (!host || !host->alloc || !host->free) return fail(err, KILN_ERR_INVALID_ARGUMENT, "the host API has no allocator");
    ex_library *el = host->alloc(host_ctx, sizeof(*el), 16);
    if (!el) return fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory loading the example provider");
    memset(el, 0, sizeof(*el));
    el->abi.hdr.struct_size = sizeof(el->abi);
    el->abi.hdr.abi_version = v;
    el->abi.name = "example";
    el->abi.version = "1.0.0";
    el->abi.state = el;
    el->abi.device_count = device_count;
    el->abi.device_info = device_info;
    el->abi.mem_kind_info = mem_kind_info;
    el->abi.create_provider = create_provider;
    el->abi.release = library_release;
    el->host = host;
    el->host_ctx = host_ctx;
    *out = &el->abi;
    return KILN_OK;
}
