/* SPDX-License-Identifier: MIT */
/* The host side of the provider ABI: read-only views of nodes and attributes over the IR, the
 * host heap, logging, and the table that hands them (and the executor's kernel-time services,
 * and the graph views of runtime/graph_view.c) to providers. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "runtime/providers.h"

#define NODE(n) ((const kiln_node *)(const void *)(n))
#define ATTR(a) ((const kiln_attr *)(const void *)(a))

/* The environment of the session calling into a provider on this thread (set around session
 * creation and runs): where the context-less 1.0 `log` slot sends its lines. */
static _Thread_local const kiln_env *log_scope;

const kiln_env *kiln_host_log_scope(const kiln_env *env) {
    const kiln_env *prev = log_scope;
    log_scope = env;
    return prev;
}

static const char *const level_names[] = {"debug", "info", "warning", "error"};

static void log_to(const kiln_env *env, int32_t level, const char *provider, const char *msg) {
    if (level < KILN_LOG_DEBUG || level > KILN_LOG_ERROR) return;
    if (env) {
        kiln_log(env, (kiln_log_level)level, "[%s] %s", provider ? provider : "provider", msg ? msg : "");
        return;
    }
    if (level < KILN_LOG_WARNING) return;
    fprintf(stderr, "kiln %s [%s]: %s\n", level_names[level], provider ? provider : "provider", msg ? msg : "");
}

/* 1.0 slot: no context; the environment of the session on this thread when there is one. */
static void host_log(int32_t level, const char *provider, const char *msg) { log_to(log_scope, level, provider, msg); }

/* 1.2 slot: the context is the env given at entry and in kiln_provider_params. */
static void host_log_ctx(void *host_ctx, int32_t level, const char *provider, const char *msg) {
    log_to(host_ctx ? (const kiln_env *)host_ctx : log_scope, level, provider, msg);
}

static int32_t host_set_error(kiln_error *err, int32_t status, const char *fmt, ...) {
    if (err) {
        err->status = (kiln_status)status;
        err->msg[0] = '\0';
        if (fmt) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
            va_end(ap);
        }
    }
    return status;
}

static uint64_t host_dtype_size(int32_t dtype) {
    if (!kiln_dtype_valid(dtype) || dtype == KILN_DTYPE_STRING) return 0;
    uint32_t bits = kiln_dtype_bits((kiln_dtype)dtype);
    return bits % 8 ? 0 : bits / 8;
}

static void *host_alloc(void *host_ctx, size_t size, size_t alignment) {
    const kiln_env *env = host_ctx;
    if (alignment < 16) alignment = 16;
    if (alignment > 4096 || (alignment & (alignment - 1))) return NULL;
    return env->alloc.alloc(env->alloc.ctx, size ? size : 1, alignment);
}

static void host_free(void *host_ctx, void *p) {
    const kiln_env *env = host_ctx;
    if (p) env->alloc.free(env->alloc.ctx, p);
}

static const char *node_name(const kiln_node_view *n) { return NODE(n)->name; }
static const char *node_op_type(const kiln_node_view *n) { return NODE(n)->op_type; }
static const char *node_domain(const kiln_node_view *n) { return NODE(n)->domain; }
static int64_t node_opset(const kiln_node_view *n) { return NODE(n)->opset; }
static uint32_t node_input_count(const kiln_node_view *n) { return NODE(n)->n_inputs; }
static uint32_t node_output_count(const kiln_node_view *n) { return NODE(n)->n_outputs; }

int32_t kiln_host_fill_info(const kiln_value *v, kiln_value_info *info) {
    uint32_t size = info->hdr.struct_size;
    kiln_value_info tmp;
    memset(&tmp, 0, sizeof(tmp));
    tmp.hdr.struct_size = sizeof(tmp);
    tmp.hdr.abi_version = KILN_ABI_VERSION;
    tmp.rank = -1;
    if (v) {
        tmp.name = v->name;
        tmp.present = 1;
        tmp.kind = v->type.kind;
        tmp.dtype = v->type.dtype;
        tmp.rank = v->type.rank;
        /* Symbols read as -1 for providers: they only need to know the dim is not fixed. */
        for (int32_t d = 0; d < v->type.rank && d < KILN_MAX_RANK; d++)
            tmp.dims[d] = v->type.dims[d] < 0 ? -1 : v->type.dims[d];
        tmp.constant = v->constant ? &v->constant->desc : NULL;
    } else {
        tmp.name = "";
    }
    memcpy(info, &tmp, size < sizeof(tmp) ? size : sizeof(tmp));
    info->hdr.struct_size = size;
    return KILN_OK;
}

static int32_t node_input_info(const kiln_node_view *nv, uint32_t i, kiln_value_info *info) {
    const kiln_node *n = NODE(nv);
    if (!info || i >= n->n_inputs) return KILN_ERR_INVALID_ARGUMENT;
    return kiln_host_fill_info(n->inputs[i], info);
}

static int32_t node_output_info(const kiln_node_view *nv, uint32_t i, kiln_value_info *info) {
    const kiln_node *n = NODE(nv);
    if (!info || i >= n->n_outputs) return KILN_ERR_INVALID_ARGUMENT;
    return kiln_host_fill_info(n->outputs[i], info);
}

static uint32_t node_attr_count(const kiln_node_view *n) { return NODE(n)->n_attrs; }

static const kiln_attr_view *node_attr_at(const kiln_node_view *nv, uint32_t i) {
    const kiln_node *n = NODE(nv);
    return i < n->n_attrs ? (const kiln_attr_view *)(const void *)&n->attrs[i] : NULL;
}

static const kiln_attr_view *node_attr(const kiln_node_view *n, const char *name) {
    return (const kiln_attr_view *)(const void *)kiln_node_attr(NODE(n), name);
}

static const char *attr_name(const kiln_attr_view *a) { return ATTR(a)->name; }
static int32_t attr_type(const kiln_attr_view *a) { return ATTR(a)->type; }
static int64_t attr_int(const kiln_attr_view *a) { return ATTR(a)->i; }
static float attr_float(const kiln_attr_view *a) { return ATTR(a)->f; }

static const char *attr_string(const kiln_attr_view *av, uint32_t i, size_t *len) {
    const kiln_attr *a = ATTR(av);
    if (a->type == KILN_ATTR_STRING && i == 0) {
        if (len) *len = a->s_len;
        return a->s;
    }
    if (a->type == KILN_ATTR_STRINGS && i < a->n) {
        if (len) *len = a->string_lens[i];
        return a->strings[i];
    }
    if (len) *len = 0;
    return NULL;
}

static uint32_t attr_count(const kiln_attr_view *a) { return ATTR(a)->n; }
static const int64_t *attr_ints(const kiln_attr_view *a) { return ATTR(a)->ints; }
static const float *attr_floats(const kiln_attr_view *a) { return ATTR(a)->floats; }

static const kiln_value_desc *attr_tensor(const kiln_attr_view *av, uint32_t i) {
    const kiln_attr *a = ATTR(av);
    if (!a->tensors || i >= a->n) return NULL;
    return &a->tensors[i]->desc;
}

const kiln_host_api kiln_host = {
    .hdr = {sizeof(kiln_host_api), KILN_ABI_VERSION},
    .log = host_log,
    .alloc = host_alloc,
    .free = host_free,
    .node_name = node_name,
    .node_op_type = node_op_type,
    .node_domain = node_domain,
    .node_opset = node_opset,
    .node_input_count = node_input_count,
    .node_output_count = node_output_count,
    .node_input_info = node_input_info,
    .node_output_info = node_output_info,
    .node_attr_count = node_attr_count,
    .node_attr_at = node_attr_at,
    .node_attr = node_attr,
    .attr_name = attr_name,
    .attr_type = attr_type,
    .attr_int = attr_int,
    .attr_float = attr_float,
    .attr_string = attr_string,
    .attr_count = attr_count,
    .attr_ints = attr_ints,
    .attr_floats = attr_floats,
    .attr_tensor = attr_tensor,
    .alloc_output = kiln_call_alloc_output,
    .alloc_sequence = kiln_call_alloc_sequence,
    .alloc_item = kiln_call_alloc_item,
    .set_output_none = kiln_call_set_output_none,
    .set_string = kiln_call_set_string,
    .scratch = kiln_call_scratch,
    .parallel_for = kiln_call_parallel_for,
    .run_subgraph = kiln_call_run_subgraph,
    .node_index = kiln_view_node_index,
    .node_flags = kiln_view_node_flags,
    .node_host_inputs = kiln_view_node_host_inputs,
    .node_producer = kiln_view_node_producer,
    .graph_name = kiln_view_graph_name,
    .graph_node_count = kiln_view_graph_node_count,
    .graph_node_at = kiln_view_graph_node_at,
    .graph_input_count = kiln_view_graph_input_count,
    .graph_input_info = kiln_view_graph_input_info,
    .graph_output_count = kiln_view_graph_output_count,
    .graph_output_info = kiln_view_graph_output_info,
    .claim_group = kiln_view_claim_group,
    .now_ns = kiln_view_now_ns,
    .trace = kiln_view_trace,
    .thread_count = kiln_call_thread_count,
    .log_ctx = host_log_ctx,
    .set_error = host_set_error,
    .dtype_size = host_dtype_size,
    .device_scratch = kiln_call_device_scratch,
};
