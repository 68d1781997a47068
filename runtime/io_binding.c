/* SPDX-License-Identifier: MIT */
/* I/O binding: inputs and outputs bound once and used by every run, with outputs computed into
 * the bound tensors (or into tensors the binding keeps), so warm runs copy and allocate nothing;
 * tensors in the providers' device memory kinds, and copies to and from them. */
#include <string.h>

#include "runtime/providers.h"

struct kiln_binding {
    kiln_session *s;
    const kiln_tensor **inputs;   /* per session input: bound tensor or NULL */
    kiln_tensor **outputs;        /* per session output: bound or kept tensor, or NULL */
    uint8_t *bound;               /* per session output: requested */
    uint8_t *kept;                /* per session output: Kiln allocates it and keeps it here */
};

kiln_status kiln_binding_create(kiln_session *s, kiln_binding **out, kiln_error *err) {
    if (!out) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_binding_create: out is NULL");
    *out = NULL;
    if (!s) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_binding_create: session is NULL");
    const kiln_allocator *a = &s->env->alloc;
    kiln_binding *b = kiln_mem_calloc(a, 1, sizeof(*b));
    if (!b) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    b->s = s;
    b->inputs = kiln_mem_calloc(a, s->n_inputs + 1, sizeof(*b->inputs));
    b->outputs = kiln_mem_calloc(a, s->n_outputs + 1, sizeof(*b->outputs));
    b->bound = kiln_mem_calloc(a, s->n_outputs + 1, 1);
    b->kept = kiln_mem_calloc(a, s->n_outputs + 1, 1);
    if (!b->inputs || !b->outputs || !b->bound || !b->kept) {
        kiln_binding_destroy(b);
        return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    }
    *out = b;
    return KILN_OK;
}

void kiln_binding_destroy(kiln_binding *b) {
    if (!b) return;
    const kiln_allocator *a = &b->s->env->alloc;
    for (size_t i = 0; b->outputs && b->kept && i < b->s->n_outputs; i++)
        if (b->kept[i]) kiln_tensor_destroy(b->outputs[i]);
    kiln_mem_free(a, (void *)b->inputs);
    kiln_mem_free(a, b->outputs);
    kiln_mem_free(a, b->bound);
    kiln_mem_free(a, b->kept);
    kiln_mem_free(a, b);
}

kiln_status kiln_binding_bind_input(kiln_binding *b, const char *name, const kiln_tensor *t, kiln_error *err) {
    if (!b || !t) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_binding_bind_input: NULL binding or tensor");
    const kiln_io_info *io = kiln_session_find_input(b->s, name);
    if (!io) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_binding_bind_input: the model has no input '%s'", name ? name : "");
    const kiln_value_desc *d;
    int device = t->desc.kind == KILN_VALUE_TENSOR && (uint32_t)t->desc.mem_kind != io->mem_kind;
    KILN_TRY(kiln_check_input(io, t, device, &d, err));
    if (device) KILN_TRY(kiln_runctx_bind_device(b->s, NULL, io, 0, (kiln_tensor *)t, err));
    b->inputs[io->index] = t;
    return KILN_OK;
}

kiln_status kiln_binding_bind_output(kiln_binding *b, const char *name, kiln_tensor *t, kiln_error *err) {
    if (!b) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_binding_bind_output: binding is NULL");
    const kiln_io_info *io = kiln_session_find_output(b->s, name);
    if (!io) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_binding_bind_output: the model has no output '%s'", name ? name : "");
    size_t i = io->index;
    if (t && t->desc.kind == KILN_VALUE_TENSOR && (uint32_t)t->desc.mem_kind != io->mem_kind)
        KILN_TRY(kiln_runctx_bind_device(b->s, NULL, io, 1, t, err));
    if (b->kept[i]) kiln_tensor_destroy(b->outputs[i]);
    b->outputs[i] = t;
    b->kept[i] = t == NULL;
    b->bound[i] = 1;
    return KILN_OK;
}

kiln_tensor *kiln_binding_output(const kiln_binding *b, const char *name) {
    if (!b) return NULL;
    const kiln_io_info *io = kiln_session_find_output(b->s, name);
    return io && b->bound[io->index] ? b->outputs[io->index] : NULL;
}

/* Hands bound output i its result: nothing to do when it was computed in place; a kept tensor
 * is replaced by the run's (moved or copied); a caller's tensor receives a copy. */
static kiln_status collect(kiln_binding *b, kiln_runctx *c, size_t i, kiln_error *err) {
    const kiln_io_info *io = &b->s->outputs[i];
    if (!b->kept[i]) return kiln_runctx_deliver(c, io, &b->outputs[i], err);
    if (b->outputs[i] && c->frame.desc[io->value->id] == &b->outputs[i]->desc) return KILN_OK;
    kiln_tensor *t = NULL;
    KILN_TRY(kiln_runctx_deliver(c, io, &t, err));
    kiln_tensor_destroy(b->outputs[i]);
    b->outputs[i] = t;
    return KILN_OK;
}

static kiln_status run_binding(kiln_session *s, kiln_binding *b, kiln_runctx *c, kiln_error *err) {
    for (size_t i = 0; i < s->n_inputs; i++) {
        const kiln_io_info *io = &s->inputs[i];
        const kiln_tensor *t = b->inputs[i];
        if (!t) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_run_binding: input '%s' is not bound", io->name);
        if (t->desc.kind == KILN_VALUE_TENSOR && (uint32_t)t->desc.mem_kind != io->mem_kind)
            KILN_TRY(kiln_runctx_bind_device(s, c, io, 0, (kiln_tensor *)t, err));
        else
            KILN_TRY(kiln_check_input(io, t, 0, &c->frame.desc[io->value->id], err));
    }
    for (size_t i = 0; i < s->n_outputs; i++) {
        if (!b->bound[i]) continue;
        const kiln_io_info *io = &s->outputs[i];
        if (b->kept[i]) {
            /* Computed into the kept tensor while the shape holds, into a new one otherwise. */
            if (b->outputs[i]) kiln_runctx_want(c, io, b->outputs[i]);
            c->move_out[io->value->id] = 1;
        } else if (b->outputs[i] && b->outputs[i]->desc.kind == KILN_VALUE_TENSOR &&
                   (uint32_t)b->outputs[i]->desc.mem_kind != io->mem_kind) {
            KILN_TRY(kiln_runctx_bind_device(s, c, io, 1, b->outputs[i], err));
        } else if (b->outputs[i]) {
            kiln_runctx_want(c, io, b->outputs[i]);
        }
    }
    KILN_TRY(kiln_runctx_run(c, err));
    for (size_t i = 0; i < s->n_outputs; i++)
        if (b->bound[i] && (b->outputs[i] || b->kept[i])) KILN_TRY(collect(b, c, i, err));
    return KILN_OK;
}

kiln_status kiln_session_run_binding(kiln_session *s, kiln_binding *b, kiln_error *err) {
    return kiln_session_run_binding_with_options(s, NULL, b, err);
}

kiln_status kiln_session_run_binding_with_options(kiln_session *s, const kiln_run_options *ro, kiln_binding *b,
                                                  kiln_error *err) {
    kiln_error local;
    if (!err) err = &local;
    if (!s || !b || b->s != s)
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_run_binding: NULL, or a binding of another session");
    kiln_runctx *c;
    KILN_TRY(kiln_runctx_acquire(s, &c, err));
    kiln_guard_start(&c->guard, ro); /* cancellation and deadline (runtime/run_limits.c) */
    kiln_status st = run_binding(s, b, c, err);
    kiln_guard_start(&c->guard, NULL);
    kiln_runctx_reset(c);
    kiln_runctx_release(c);
    return st;
}

/* ---- device tensors ---- */

kiln_status kiln_session_tensor_create(kiln_session *s, const char *memory_kind, kiln_dtype dtype, const int64_t *dims,
                                       int32_t rank, kiln_tensor **out, kiln_error *err) {
    if (!out) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_tensor_create: out is NULL");
    *out = NULL;
    if (!s) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_tensor_create: session is NULL");
    const kiln_providers *ps = s->providers;
    uint32_t k = 0;
    if (memory_kind && strcmp(memory_kind, "host") != 0) {
        for (k = 1; k < ps->n_kinds && strcmp(ps->kinds[k].name, memory_kind) != 0; k++) {
        }
        if (k == ps->n_kinds)
            return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_tensor_create: the session has no memory kind '%s'",
                             memory_kind);
    }
    if (rank < 0 || rank > KILN_MAX_RANK || (rank && !dims))
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_tensor_create: rank %d is out of range", (int)rank);
    if (k == 0) return kiln_tensor_new(&s->env->alloc, dtype, rank, dims, out, err);
    if (!kiln_dtype_valid(dtype) || dtype == KILN_DTYPE_STRING)
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_tensor_create: dtype %d cannot live in '%s'", (int)dtype,
                         memory_kind);
    kiln_value v;
    memset(&v, 0, sizeof(v));
    v.name = "tensor";
    v.mem_kind = k;
    for (int32_t i = 0; i < rank; i++)
        if (dims[i] < 0) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_tensor_create: dim %d is negative", (int)i);
    kiln_status st = kiln_value_alloc(s, &v, dtype, rank, dims, out, err);
    if (st == KILN_ERR_SHAPE) st = kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_tensor_create: %s", err ? err->msg : "");
    return st;
}

kiln_status kiln_session_tensor_copy(kiln_session *s, const kiln_tensor *src, kiln_tensor *dst, kiln_error *err) {
    if (!s || !src || !dst) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_tensor_copy: NULL argument");
    const kiln_value_desc *a = &src->desc, *b = &dst->desc;
    if (a->kind != KILN_VALUE_TENSOR || b->kind != KILN_VALUE_TENSOR || a->dtype == KILN_DTYPE_STRING)
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_tensor_copy: only non-string tensors are copied");
    if (a->dtype != b->dtype || a->count != b->count)
        return kiln_fail(err, KILN_ERR_SHAPE, "kiln_session_tensor_copy: %s x %llu into %s x %llu", kiln_dtype_name((kiln_dtype)a->dtype),
                         (unsigned long long)a->count, kiln_dtype_name((kiln_dtype)b->dtype), (unsigned long long)b->count);
    if ((uint32_t)a->mem_kind >= s->providers->n_kinds || (uint32_t)b->mem_kind >= s->providers->n_kinds)
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_tensor_copy: a tensor of another session's memory");
    size_t bytes;
    if (!kiln_dtype_storage(a->dtype, (int64_t)a->count, &bytes)) return kiln_fail(err, KILN_ERR_SHAPE, "tensor too large");
    kiln_copy_region r;
    memset(&r, 0, sizeof(r));
    r.hdr.struct_size = sizeof(r);
    r.hdr.abi_version = KILN_ABI_VERSION;
    r.src_kind = (uint32_t)a->mem_kind;
    r.dst_kind = (uint32_t)b->mem_kind;
    r.src = a->data;
    r.src_offset = a->offset;
    r.dst = b->data;
    r.dst_offset = b->offset;
    r.bytes = bytes;
    const kiln_copy_region *rp = &r;
    return kiln_kind_copy(s, &rp, 1, &s->env->alloc, err);
}
