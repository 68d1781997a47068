/* SPDX-License-Identifier: MIT */
/* Environments, session options, logging, version and status texts. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/providers.h"

const char *kiln_version_string(void) { return KILN_VERSION_STRING; }

uint32_t kiln_version_number(void) {
    return ((uint32_t)KILN_VERSION_MAJOR << 16) | ((uint32_t)KILN_VERSION_MINOR << 8) | KILN_VERSION_PATCH;
}

const char *kiln_status_string(kiln_status status) {
    switch (status) {
    case KILN_OK: return "ok";
    case KILN_ERR_INVALID_ARGUMENT: return "invalid argument";
    case KILN_ERR_INVALID_MODEL: return "invalid model";
    case KILN_ERR_UNSUPPORTED: return "unsupported";
    case KILN_ERR_SHAPE: return "shape or type mismatch";
    case KILN_ERR_OUT_OF_MEMORY: return "out of memory";
    case KILN_ERR_IO: return "i/o error";
    case KILN_ERR_PROVIDER: return "provider failure";
    case KILN_ERR_CANCELLED: return "cancelled";
    case KILN_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

kiln_status kiln_env_create(kiln_env **out, kiln_error *err) {
    return kiln_env_create_with_allocator(&kiln_default_allocator, out, err);
}

kiln_status kiln_env_create_with_allocator(const kiln_allocator *alloc, kiln_env **out, kiln_error *err) {
    if (!out) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_env_create: out is NULL");
    *out = NULL;
    if (!alloc || !alloc->alloc || !alloc->free)
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_env_create_with_allocator: allocator or a function is NULL");
    kiln_env *env = kiln_mem_calloc(alloc, 1, sizeof(*env));
    if (!env) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory creating an env");
    env->alloc = *alloc;
    env->log_level = KILN_LOG_WARNING;
    *out = env;
    return KILN_OK;
}

void kiln_env_destroy(kiln_env *env) {
    if (!env) return;
    kiln_allocator a = env->alloc;
    kiln_mem_free(&a, env);
}

void kiln_env_set_logger(kiln_env *env, kiln_log_level level, kiln_log_fn fn, void *user) {
    if (!env) return;
    env->log_level = level;
    env->log_fn = fn;
    env->log_user = user;
}

void kiln_log(const kiln_env *env, kiln_log_level level, const char *fmt, ...) {
    if (!env || level < env->log_level || level >= KILN_LOG_NONE) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (env->log_fn) {
        env->log_fn(env->log_user, level, msg);
    } else {
        static const char *const names[] = {"debug", "info", "warning", "error"};
        fprintf(stderr, "kiln %s: %s\n", names[level], msg);
    }
}

/* Options are small and created rarely: they use the C heap, not an env. */
kiln_status kiln_session_options_create(kiln_session_options **out, kiln_error *err) {
    if (!out) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_options_create: out is NULL");
    *out = calloc(1, sizeof(**out));
    if (!*out) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory creating session options");
    return KILN_OK;
}

void kiln_session_options_destroy(kiln_session_options *opts) {
    if (!opts) return;
    free(opts->external_data_dir);
    free(opts->profile_path);
    for (uint32_t i = 0; i < opts->n_disabled_passes; i++) free(opts->disabled_passes[i]);
    free(opts->disabled_passes);
    free(opts->optimized_model_path);
    kiln_provider_requests_free(opts);
    free(opts);
}

kiln_status kiln_session_options_set_external_data_dir(kiln_session_options *opts, const char *dir,
                                                       kiln_error *err) {
    if (!opts || !dir)
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "kiln_session_options_set_external_data_dir: NULL argument");
    char *copy = strdup(dir);
    if (!copy) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    free(opts->external_data_dir);
    opts->external_data_dir = copy;
    return KILN_OK;
}
