/* SPDX-License-Identifier: MIT */
/* The session's side of the graph optimizer: its options, the hook that asks the providers
 * whether they run a fused node, running it between inference and partitioning, and its report. */
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

kiln_status kiln_session_optimize(kiln_session *s, const kiln_session_options *opts, kiln_error *err) {
    int32_t level = opts && opts->opt_level_set ? opts->opt_level : KILN_OPT_ALL;
    s->opt_report = kiln_mem_calloc(&s->env->alloc, 1, sizeof(*s->opt_report));
    if (!s->opt_report) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    kiln_opt_hooks hooks = {s, supports};
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
