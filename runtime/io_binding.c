/* SPDX-License-Identifier: MIT */
/* I/O binding: inputs and outputs bound once and used by every run, with outputs computed into
 * the bound tensors (or into tensors the binding keeps), so warm runs copy and allocate nothing. */
#include <string.h>

#include "runtime/session_impl.h"

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
    KILN_TRY(kiln_check_input(io, t, &d, err));
    b->inputs[io->index] = t;
    return KILN_OK;
}

kiln_status kiln_binding_bind_output(kiln_binding *b, const char *name, kiln_tensor *t, kiln_error *err) {
    if (!b) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_binding_bind_output: binding is NULL");
    const kiln_io_info *io = kiln_session_find_output(b->s, name);
    if (!io) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_binding_bind_output: the model has no output '%s'", name ? name : "");
    size_t i = io->index;
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
        if (!b->inputs[i])
            return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_run_binding: input '%s' is not bound", io->name);
        KILN_TRY(kiln_check_input(io, b->inputs[i], &c->frame.desc[io->value->id], err));
    }
    for (size_t i = 0; i < s->n_outputs; i++) {
        if (!b->bound[i]) continue;
        const kiln_io_info *io = &s->outputs[i];
        if (b->kept[i]) {
            /* Computed into the kept tensor while the shape holds, into a new one otherwise. */
            if (b->outputs[i]) kiln_runctx_want(c, io, b->outputs[i]);
            c->move_out[io->value->id] = 1;
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
    kiln_error local;
    if (!err) err = &local;
    if (!s || !b || b->s != s)
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_run_binding: NULL, or a binding of another session");
    kiln_runctx *c;
    KILN_TRY(kiln_runctx_acquire(s, &c, err));
    kiln_status st = run_binding(s, b, c, err);
    kiln_runctx_reset(c);
    kiln_runctx_release(c);
    return st;
}
