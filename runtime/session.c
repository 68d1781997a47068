/* SPDX-License-Identifier: MIT */
/* Session creation (load, bind ops, infer types and shapes, load the providers, partition and
 * create kernels, start the thread pools), input/output metadata, threads/profiling/memory
 * options and figures, destruction. Running is in run.c and executor.c. */
#include <stdlib.h>
#include <string.h>

#include "graph/load.h"
#include "graph/ops.h"
#include "graph/optimizer/optimizer.h"
#include "graph/shape.h"
#include "runtime/providers.h"

void kiln_session_destroy(kiln_session *s) {
    if (!s) return;
    const kiln_allocator *a = &s->env->alloc;
    while (s->free_ctx) {
        kiln_runctx *c = s->free_ctx;
        s->free_ctx = c->next;
        kiln_runctx_destroy(c);
    }
    for (uint32_t i = 0; i < s->n_plans; i++) kiln_plan_free(a, s->plans[i]);
    kiln_threadpool_destroy(s->pool);
    kiln_threadpool_destroy(s->inter);
    if (s->lock_ready) pthread_mutex_destroy(&s->lock);
    kiln_exec_free(s, s->main);
    kiln_partition_destroy(s);
    kiln_providers_destroy(s);
    kiln_mem_free(a, s->inputs);
    kiln_mem_free(a, s->outputs);
    kiln_model_destroy(s->model);
    kiln_profiler_destroy(s->prof);
    kiln_mem_free(a, s->opt_report);
    kiln_mem_free(a, s);
}

static void fill_io(const kiln_model *m, kiln_io_info *io, kiln_value *v, const kiln_type *t, uint32_t index) {
    io->name = v->name;
    io->value = v;
    io->index = index;
    io->kind = (kiln_value_kind)t->kind;
    io->dtype = (kiln_dtype)t->dtype;
    io->rank = t->rank;
    for (int32_t d = 0; d < t->rank; d++) {
        io->dims[d] = t->dims[d] >= 0 ? t->dims[d] : -1;
        io->dim_names[d] = kiln_model_symbol_name(m, t->dims[d]);
    }
}

/* A profiled phase of session creation ends now. */
static void phase(kiln_session *s, const char *name, uint64_t *t0) {
    if (!s->prof) return;
    uint64_t t1 = kiln_prof_now();
    kiln_profiler_phase(s->prof, name, *t0, t1);
    *t0 = t1;
}

static kiln_status prepare(kiln_session *s, const kiln_session_options *opts, uint64_t t0, kiln_error *err) {
    const kiln_allocator *a = &s->env->alloc;
    kiln_graph *g = s->model->graph;
    KILN_TRY(kiln_graph_bind_ops(g, err));
    /* Memory limit (runtime/run_limits.c): the weights first, then what inference finds one value needs. */
    uint64_t loaded = 0;
    for (uint32_t v = 0; v < g->n_values; v++)
        if (g->values[v]->constant) loaded += g->values[v]->constant->nbytes;
    KILN_TRY(kiln_budget_take(&s->budget, loaded, NULL, "the model's weights", err));
    if (s->budget.limit) s->model->value_limit = kiln_budget_left(&s->budget) ? kiln_budget_left(&s->budget) : 1;
    KILN_TRY(kiln_graph_infer(g, err));
    phase(s, "infer", &t0);
    KILN_TRY(kiln_providers_create(s, opts, err));
    KILN_TRY(kiln_session_optimize(s, opts, err));
    phase(s, "optimize", &t0);
    KILN_TRY(kiln_partition_run(s, g, err));
    KILN_TRY(kiln_exec_compile(s, g, &s->main, err));
    phase(s, "partition", &t0);
    /* Weights: the constants still held (a constant every reader pre-packed was freed, its data
     * is NULL) and the kernels' packed copies, each byte once. */
    for (uint32_t v = 0; v < g->n_values; v++) {
        const kiln_value *val = g->values[v];
        if (val->constant && (val->constant->desc.data || !val->constant->nbytes)) s->weights_bytes += val->constant->nbytes;
    }
    s->weights_bytes += s->packed_bytes;
    if (s->weights_bytes > loaded) /* constants made by Constant nodes */
        KILN_TRY(kiln_budget_take(&s->budget, s->weights_bytes - loaded, NULL, "the model's constants", err));
    if (s->intra_threads > 1) KILN_TRY(kiln_threadpool_create(a, s->intra_threads, &s->pool, err));
    if (s->inter_threads > 1) KILN_TRY(kiln_threadpool_create(a, s->inter_threads, &s->inter, err));
    s->n_inputs = g->n_inputs;
    s->n_outputs = g->n_outputs;
    s->inputs = kiln_mem_calloc(a, g->n_inputs + 1, sizeof(kiln_io_info));
    s->outputs = kiln_mem_calloc(a, g->n_outputs + 1, sizeof(kiln_io_info));
    if (!s->inputs || !s->outputs) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    for (uint32_t i = 0; i < g->n_inputs; i++) fill_io(s->model, &s->inputs[i], g->inputs[i], &g->inputs[i]->type, i);
    for (uint32_t i = 0; i < g->n_outputs; i++) {
        /* What the model declares, completed by what inference found. */
        kiln_type t = g->declared_outputs[i];
        const kiln_type *inf = &g->outputs[i]->type;
        if (t.kind == KILN_VALUE_UNKNOWN) t = *inf;
        if (!t.dtype) t.dtype = inf->dtype;
        if (t.rank < 0) {
            t.rank = inf->rank;
            memcpy(t.dims, inf->dims, sizeof(t.dims));
        }
        fill_io(s->model, &s->outputs[i], g->outputs[i], &t, i);
    }
    return KILN_OK;
}

static kiln_status create(kiln_env *env, const char *path, const void *data, size_t size, kiln_model *prebuilt,
                          const kiln_session_options *opts, kiln_session **out, kiln_error *err) {
    kiln_error local;
    if (!err) err = &local;
    if (!out) {
        kiln_model_destroy(prebuilt);
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_create: out is NULL");
    }
    *out = NULL;
    if (!env || (!path && !data && !prebuilt)) {
        kiln_model_destroy(prebuilt);
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_create: NULL env or model");
    }
    kiln_session *s = kiln_mem_calloc(&env->alloc, 1, sizeof(*s));
    if (!s) {
        kiln_model_destroy(prebuilt);
        return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory creating a session");
    }
    s->env = env;
    s->budget.limit = opts ? opts->memory_limit : 0;
    pthread_mutex_init(&s->lock, NULL);
    s->lock_ready = 1;
    s->intra_threads = kiln_threads_resolve(opts ? opts->intra_op_threads : 0);
    s->inter_threads = opts && opts->inter_op_threads > 1 ? (uint32_t)opts->inter_op_threads : 1;
    uint64_t t0 = kiln_prof_now();
    kiln_status st = KILN_OK;
    if (opts && opts->profiling) st = kiln_profiler_create(&env->alloc, opts->profile_path, &s->prof, err);
    const char *dir = opts ? opts->external_data_dir : NULL;
    if (prebuilt) s->model = prebuilt;
    else if (st == KILN_OK)
        st = path ? kiln_model_load_file(&env->alloc, path, dir, &s->model, err)
                  : kiln_model_load_buffer(&env->alloc, data, size, dir, &s->model, err);
    if (st == KILN_OK) phase(s, "load", &t0);
    const kiln_env *log_prev = kiln_host_log_scope(env); /* providers' context-less log lines reach env's logger */
    if (st == KILN_OK) st = prepare(s, opts, t0, err);
    kiln_host_log_scope(log_prev);
    if (st != KILN_OK) {
        kiln_session_destroy(s);
        return st;
    }
    *out = s;
    return KILN_OK;
}

kiln_status kiln_session_create(kiln_env *env, const char *path, const kiln_session_options *opts,
                                kiln_session **out, kiln_error *err) {
    if (!path) {
        if (out) *out = NULL;
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_create: path is NULL");
    }
    return create(env, path, NULL, 0, NULL, opts, out, err);
}

kiln_status kiln_session_create_from_buffer(kiln_env *env, const void *data, size_t size,
                                            const kiln_session_options *opts, kiln_session **out, kiln_error *err) {
    if (!data) {
        if (out) *out = NULL;
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_create_from_buffer: data is NULL");
    }
    return create(env, NULL, data, size, NULL, opts, out, err);
}

kiln_status kiln_session_create_from_model(kiln_env *env, kiln_model *model, const kiln_session_options *opts,
                                           kiln_session **out, kiln_error *err) {
    return create(env, NULL, NULL, 0, model, opts, out, err);
}

size_t kiln_session_input_count(const kiln_session *s) { return s ? s->n_inputs : 0; }
size_t kiln_session_output_count(const kiln_session *s) { return s ? s->n_outputs : 0; }

const kiln_io_info *kiln_session_input(const kiln_session *s, size_t i) {
    return s && i < s->n_inputs ? &s->inputs[i] : NULL;
}

const kiln_io_info *kiln_session_output(const kiln_session *s, size_t i) {
    return s && i < s->n_outputs ? &s->outputs[i] : NULL;
}

const char *kiln_session_metadata(const kiln_session *s, const char *key) {
    if (!s || !key) return NULL;
    for (uint32_t i = 0; i < s->model->n_metadata; i++)
        if (strcmp(s->model->metadata[i].key, key) == 0) return s->model->metadata[i].value;
    return NULL;
}

const char *kiln_io_name(const kiln_io_info *io) { return io ? io->name : NULL; }
kiln_value_kind kiln_io_kind(const kiln_io_info *io) { return io ? io->kind : KILN_VALUE_UNKNOWN; }
kiln_dtype kiln_io_dtype(const kiln_io_info *io) { return io ? io->dtype : KILN_DTYPE_UNDEFINED; }
int32_t kiln_io_rank(const kiln_io_info *io) { return io ? io->rank : -1; }

int64_t kiln_io_dim(const kiln_io_info *io, int32_t axis) {
    return io && axis >= 0 && axis < io->rank ? io->dims[axis] : -1;
}

const char *kiln_io_dim_name(const kiln_io_info *io, int32_t axis) {
    return io && axis >= 0 && axis < io->rank ? io->dim_names[axis] : NULL;
}

/* ---- threads, profiling and memory ---- */

kiln_status kiln_session_options_set_intra_op_threads(kiln_session_options *opts, int32_t n, kiln_error *err) {
    if (!opts || n < 0 || n > 1024)
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_options_set_intra_op_threads: %d is not in [0, 1024]",
                         (int)n);
    opts->intra_op_threads = n;
    return KILN_OK;
}

kiln_status kiln_session_options_set_inter_op_threads(kiln_session_options *opts, int32_t n, kiln_error *err) {
    if (!opts || n < 0 || n > 1024)
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_options_set_inter_op_threads: %d is not in [0, 1024]",
                         (int)n);
    opts->inter_op_threads = n;
    return KILN_OK;
}

kiln_status kiln_session_options_enable_profiling(kiln_session_options *opts, const char *path, kiln_error *err) {
    if (!opts) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_options_enable_profiling: opts is NULL");
    char *copy = NULL;
    if (path && !(copy = strdup(path))) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    free(opts->profile_path);
    opts->profile_path = copy;
    opts->profiling = 1;
    return KILN_OK;
}

uint32_t kiln_session_intra_op_threads(const kiln_session *s) { return s ? kiln_threadpool_size(s->pool) : 0; }
uint32_t kiln_session_inter_op_threads(const kiln_session *s) { return s ? kiln_threadpool_size(s->inter) : 0; }

uint64_t kiln_session_memory(kiln_session *s, kiln_memory_stat stat) {
    if (!s) return 0;
    uint64_t v = 0;
    pthread_mutex_lock(&s->lock);
    switch (stat) {
    case KILN_MEMORY_ARENA_BYTES: v = s->last_arena; break;
    case KILN_MEMORY_LOWER_BOUND_BYTES: v = s->last_lower; break;
    case KILN_MEMORY_NAIVE_BYTES: v = s->last_naive; break;
    case KILN_MEMORY_WEIGHTS_BYTES: v = s->weights_bytes; break;
    case KILN_MEMORY_PLANS: v = s->n_plans; break;
    }
    pthread_mutex_unlock(&s->lock);
    return v;
}

size_t kiln_session_profile_ops(kiln_session *s, kiln_op_profile *out, size_t cap) {
    return s && s->prof ? kiln_profiler_ops(s->prof, out, cap) : 0;
}
