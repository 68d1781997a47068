/* SPDX-License-Identifier: MIT */
/* The session's side of the graph optimizer: its options, the hook that asks the providers
 * whether they run a fused node, running it between inference and partitioning, and its report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/optimizer/optimizer.h"
#include "graph/save.h"
#include "graph/shape.h"
#include "runtime/providers.h"

kiln_status kiln_session_options_set_optimization_level(kiln_session_options *opts, kiln_opt_level level, kiln_error *err) {
    if (!opts || level < KILN_OPT_DISABLED || level > KILN_OPT_ALL)
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_options_set_optimization_level: %d is not a level (0..3)",
                         (int)level);
    opts->opt_level = level;
    opts->opt_level_set = 1;
    return KILN_OK;
}

kiln_status kiln_session_options_disable_pass(kiln_session_options *opts, const char *name, kiln_error *err) {
    if (!opts || !name) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_options_disable_pass: NULL argument");
    if (!kiln_opt_pass_known(name))
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_options_disable_pass: no optimizer pass is named '%s'", name);
    char **list = realloc(opts->disabled_passes, (opts->n_disabled_passes + 1) * sizeof(char *));
    if (!list) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    opts->disabled_passes = list;
    if (!(list[opts->n_disabled_passes] = strdup(name))) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    opts->n_disabled_passes++;
    return KILN_OK;
}

kiln_status kiln_session_options_set_optimized_model_path(kiln_session_options *opts, const char *path, kiln_error *err) {
    if (!opts) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_options_set_optimized_model_path: opts is NULL");
    char *copy = NULL;
    if (path && !*path) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_options_set_optimized_model_path: empty path");
    if (path && !(copy = strdup(path))) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    free(opts->optimized_model_path);
    opts->optimized_model_path = copy;
    return KILN_OK;
}

/* The first provider that would take `anchor` must take `fused` too. Providers that only
 * propose groups cannot be asked about one node: their patterns keep the standard form. */
static int supports(void *user, const kiln_node *fused, const kiln_node *anchor) {
    kiln_session *s = user;
    kiln_providers *ps = s->providers;
    for (uint32_t i = 0; i + 1 < ps->n; i++) {
        kiln_provider *p = ps->list[i]->p;
        if (!p->claim_node) return 0;
        int32_t claim = KILN_CLAIM_NO;
        kiln_error local;
        kiln_error_clear(&local);
        if (p->claim_node(p, (const kiln_node_view *)(const void *)anchor, &claim, &local) != KILN_OK) return 0;
        if (claim == KILN_CLAIM_NO) {
            if (p->claim_groups) return 0;
            continue;
        }
        claim = KILN_CLAIM_NO;
        if (p->claim_node(p, (const kiln_node_view *)(const void *)fused, &claim, &local) != KILN_OK) return 0;
        return claim != KILN_CLAIM_NO;
    }
    return 1; /* the CPU provider runs every kiln op of graph/ops.def */
}

/* ---- constant folding: the node alone in a model of its own, run by a CPU-only session ---- */

typedef struct fold_state {
    kiln_session *s;
    kiln_tensor *outs[16];
    uint32_t n;
} fold_state;

static void fold_release(void *user, void *state) {
    (void)user;
    fold_state *f = state;
    if (!f) return;
    for (uint32_t i = 0; i < f->n; i++) kiln_tensor_destroy(f->outs[i]);
    kiln_session_destroy(f->s);
    free(f);
}

static kiln_status fold_model(const kiln_node *n, const kiln_allocator *a, kiln_model **out, kiln_error *e) {
    const kiln_model *pm = n->graph->model;
    kiln_model *m;
    KILN_TRY(kiln_model_create(a, &m, e));
    *out = m;
    m->ir_version = pm->ir_version;
    m->n_opsets = pm->n_opsets;
    m->opsets = kiln_arena_memdup(&m->arena, pm->opsets, (pm->n_opsets + 1) * sizeof(*pm->opsets));
    kiln_graph *g;
    KILN_TRY(kiln_graph_create(m, NULL, "fold", &g, e));
    m->graph = g;
    kiln_node *fn;
    KILN_TRY(kiln_graph_add_node(g, n->name, n->op_type, n->domain, n->n_inputs, n->n_outputs, n->n_attrs, &fn, e));
    for (uint32_t i = 0; i < n->n_attrs; i++) fn->attrs[i] = n->attrs[i]; /* shallow: the parent model outlives this one */
    g->outputs = kiln_arena_calloc(&m->arena, n->n_outputs + 1, sizeof(*g->outputs));
    g->declared_outputs = kiln_arena_calloc(&m->arena, n->n_outputs + 1, sizeof(*g->declared_outputs));
    if (!m->opsets || !g->outputs || !g->declared_outputs) return kiln_fail(e, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    char name[32];
    for (uint32_t i = 0; i < n->n_inputs; i++) {
        if (!n->inputs[i]) continue;
        kiln_value *v;
        snprintf(name, sizeof(name), "i%u", i);
        KILN_TRY(kiln_graph_add_value(g, name, &v, e));
        v->flags = KILN_VALUE_F_INITIALIZER | KILN_VALUE_F_CONSTANT;
        v->constant = n->inputs[i]->constant;
        kiln_type_tensor(&v->type, v->constant->desc.dtype, v->constant->desc.rank, v->constant->dims);
        fn->inputs[i] = v;
    }
    for (uint32_t i = 0; i < n->n_outputs; i++) {
        if (!n->outputs[i]) continue;
        kiln_value *v;
        snprintf(name, sizeof(name), "o%u", i);
        KILN_TRY(kiln_graph_add_value(g, name, &v, e));
        v->producer = fn;
        v->producer_slot = i;
        v->flags = KILN_VALUE_F_OUTPUT;
        fn->outputs[i] = v;
        g->declared_outputs[g->n_outputs].kind = KILN_VALUE_UNKNOWN;
        g->declared_outputs[g->n_outputs].rank = -1;
        g->outputs[g->n_outputs++] = v;
    }
    return kiln_graph_sort(g, e);
}

static int fold(void *user, const kiln_node *n, kiln_folded *out, void **state) {
    kiln_session *parent = user;
    kiln_env *env = parent->env;
    kiln_error e = {0};
    *state = NULL;
    kiln_model *m = NULL;
    if (n->n_outputs > 16 || fold_model(n, &env->alloc, &m, &e) != KILN_OK) {
        kiln_model_destroy(m);
        return 0;
    }
    fold_state *f = calloc(1, sizeof(*f));
    kiln_session_options o;
    memset(&o, 0, sizeof(o));
    o.intra_op_threads = 1;
    o.opt_level_set = 1;
    o.opt_level = KILN_OPT_DISABLED;
    if (!f || kiln_session_create_from_model(env, m, &o, &f->s, &e) != KILN_OK) {
        free(f);
        return 0;
    }
    const char *names[16];
    char buf[16][16];
    uint32_t k = 0;
    for (uint32_t i = 0; i < n->n_outputs && i < 16; i++) {
        if (!n->outputs[i]) continue;
        snprintf(buf[k], sizeof(buf[k]), "o%u", i);
        names[k] = buf[k];
        k++;
    }
    f->n = k;
    if (kiln_session_run(f->s, NULL, NULL, 0, names, f->outs, k, &e) != KILN_OK) {
        f->n = 0;
        fold_release(NULL, f);
        return 0;
    }
    k = 0;
    for (uint32_t i = 0; i < n->n_outputs; i++) {
        if (!n->outputs[i]) continue;
        kiln_tensor *t = f->outs[k++];
        int64_t cnt;
        if (!t || kiln_tensor_kind(t) != KILN_VALUE_TENSOR || kiln_tensor_rank(t) > KILN_MAX_RANK) goto fail;
        out[i].dtype = kiln_tensor_dtype(t);
        out[i].rank = kiln_tensor_rank(t);
        memcpy(out[i].dims, kiln_tensor_dims(t), (size_t)out[i].rank * sizeof(int64_t));
        out[i].data = kiln_tensor_data_const(t);
        if (!kiln_dims_count(out[i].dims, out[i].rank, &cnt) || !kiln_dtype_storage(out[i].dtype, cnt, &out[i].nbytes) ||
            out[i].dtype == KILN_DTYPE_STRING)
            goto fail;
    }
    *state = f;
    return 1;
fail:
    fold_release(NULL, f);
    return 0;
}

kiln_status kiln_session_optimize(kiln_session *s, const kiln_session_options *opts, kiln_error *err) {
    int32_t level = opts && opts->opt_level_set ? opts->opt_level : KILN_OPT_ALL;
    s->opt_report = kiln_mem_calloc(&s->env->alloc, 1, sizeof(*s->opt_report));
    if (!s->opt_report) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    kiln_opt_hooks hooks = {.user = s, .fold = fold, .fold_release = fold_release, .supports = supports};
    kiln_graph *g = s->model->graph;
    /* A model saved by Kiln at this level or above is not optimized again (rt-opt). */
    static const char *const names[] = {"disabled", "basic", "extended", "all"};
    for (uint32_t i = 0; i < s->model->n_metadata; i++) {
        if (strcmp(s->model->metadata[i].key, "kiln.optimization_level") != 0) continue;
        for (int32_t k = level; k <= KILN_OPT_ALL; k++)
            if (strcmp(s->model->metadata[i].value, names[k]) == 0) level = KILN_OPT_DISABLED;
    }
    KILN_TRY(kiln_optimize(g, level, opts ? (const char *const *)opts->disabled_passes : NULL,
                           opts ? opts->n_disabled_passes : 0, &hooks, s->opt_report, err));
    if (level > KILN_OPT_DISABLED) KILN_TRY(kiln_graph_infer(g, err));
    if (opts && opts->optimized_model_path) {
        int32_t asked = opts->opt_level_set ? opts->opt_level : KILN_OPT_ALL;
        const char *meta[] = {"kiln.optimization_level", names[asked], NULL, NULL};
        KILN_TRY(kiln_model_save(s->model, opts->optimized_model_path, 1024, meta, err));
    }
    return KILN_OK;
}

kiln_status kiln_session_optimizer_report(const kiln_session *s, char *buf, size_t size, size_t *length, kiln_error *err) {
    if (length) *length = 0;
    if (!s || (!buf && size)) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_optimizer_report: NULL argument");
    kiln_opt_report empty;
    memset(&empty, 0, sizeof(empty));
    size_t len = kiln_opt_report_json(s->opt_report ? s->opt_report : &empty, buf, size);
    if (length) *length = len;
    return KILN_OK;
}
