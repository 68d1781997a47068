/* SPDX-License-Identifier: MIT */
/* The built-in CPU provider: a provider library with one device (the host CPU) whose instances
 * claim every node whose op has a CPU factory and create kernels through those factories.
 * Linked into libkiln, loaded through its entry point like any plugin, asked last. */
#include <stdio.h>
#include <string.h>

#include "cpu_op.h"
#include "registry.h"

typedef struct cpu_provider {
    kiln_provider abi;
    const kiln_host_api *host;
    void *host_ctx;
} cpu_provider;

static int32_t claim_node(kiln_provider *p, const kiln_node_view *n, int32_t *claim, kiln_error *err) {
    (void)err;
    const cpu_provider *cp = (const cpu_provider *)p;
    *claim = kiln_cpu_find(cp->host->node_domain(n), cp->host->node_op_type(n)) ? KILN_CLAIM_KERNEL : KILN_CLAIM_NO;
    return KILN_OK;
}

static int32_t create_kernel(kiln_provider *p, const kiln_node_view *view, kiln_kernel **out, kiln_error *err) {
    const cpu_provider *cp = (const cpu_provider *)p;
    *out = NULL;
    cpu_node n = {cp->host, cp->host_ctx, view, cp->host->node_op_type(view), cp->host->node_opset(view)};
    cpu_factory f = kiln_cpu_find(cp->host->node_domain(view), n.op_type);
    if (!f) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "the CPU provider has no kernel for op '%s'", n.op_type);
    cpu_kernel *k;
    kiln_status s = f(&n, &k, err);
    if (s != KILN_OK) return s;
    *out = &k->abi;
    return KILN_OK;
}

static void release(kiln_provider *p) {
    cpu_provider *cp = (cpu_provider *)p;
    cp->host->free(cp->host_ctx, cp);
}

/* Ops of domain "kiln" are inserted by the host, which makes their kernels itself. */
kiln_status kiln_cpu_host_only(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    *out = NULL;
    return cpu_fail(err, KILN_ERR_UNSUPPORTED, "op 'kiln.%s' is inserted and run by Kiln's partitioner; a model may not contain it",
                    n->op_type);
}

/* ---- the library: one device (the host CPU), no memory kinds besides host memory ---- */

typedef struct cpu_library {
    kiln_provider_library abi;
    const kiln_host_api *host;
    void *host_ctx;
} cpu_library;

static uint32_t device_count(kiln_provider_library *lib) {
    (void)lib;
    return 1;
}

static int32_t device_info(kiln_provider_library *lib, uint32_t device, kiln_device_info *info, kiln_error *err) {
    if (device != 0 || !info) return cpu_fail(err, KILN_ERR_INVALID_ARGUMENT, "the CPU provider has one device (0), not %u", device);
    kiln_device_info d;
    memset(&d, 0, sizeof(d));
    d.hdr.struct_size = info->hdr.struct_size;
    d.hdr.abi_version = lib->hdr.abi_version;
    d.id = "cpu:0";
    d.name = "host CPU";
    d.type = KILN_DEVICE_CPU;
    d.caps = KILN_DEVICE_CAP_CONCURRENT_RUNS;
    memcpy(info, &d, info->hdr.struct_size < sizeof(d) ? info->hdr.struct_size : sizeof(d));
    return KILN_OK;
}

static int32_t mem_kind_info(kiln_provider_library *lib, uint32_t device, uint32_t kind, kiln_mem_kind_info *info,
                             kiln_error *err) {
    (void)lib, (void)info;
    return cpu_fail(err, KILN_ERR_INVALID_ARGUMENT, "the CPU provider's device %u has no memory kind %u (it uses host memory)",
                    device, kind);
}

static int32_t create_provider(kiln_provider_library *lib, const kiln_provider_params *params, kiln_provider **out,
                               kiln_error *err) {
    *out = NULL;
    if (params->device != 0) return cpu_fail(err, KILN_ERR_INVALID_ARGUMENT, "the CPU provider has no device %u", params->device);
    const kiln_host_api *host = params->host;
    for (uint32_t i = 0; i < params->n_options; i++) {
        char msg[160];
        snprintf(msg, sizeof(msg), "unknown option '%s' ignored", params->option_keys[i]);
        host->log(KILN_LOG_WARNING, "cpu", msg);
    }
    cpu_provider *p = host->alloc(params->host_ctx, sizeof(*p), 64);
    if (!p) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory creating the CPU provider");
    memset(p, 0, sizeof(*p));
    p->abi.hdr.struct_size = sizeof(p->abi);
    p->abi.hdr.abi_version = lib->hdr.abi_version;
    p->abi.name = "cpu";
    p->abi.state = p;
    p->abi.claim_node = claim_node;
    p->abi.create_kernel = create_kernel;
    p->abi.release = release;
    p->abi.mem_kind = 0;
    p->host = host;
    p->host_ctx = params->host_ctx;
    *out = &p->abi;
    return KILN_OK;
}

static void library_release(kiln_provider_library *lib) {
    cpu_library *cl = (cpu_library *)lib;
    cl->host->free(cl->host_ctx, cl);
}

/* Linked into libkiln and loaded like a plugin (runtime/provider_loader.c asks it last). */
int32_t kiln_cpu_provider_entry(const kiln_host_api *host, void *host_ctx, uint32_t host_min, uint32_t host_max,
                                kiln_provider_library **out, kiln_error *err);
int32_t kiln_cpu_provider_entry(const kiln_host_api *host, void *host_ctx, uint32_t host_min, uint32_t host_max,
                                kiln_provider_library **out, kiln_error *err) {
    *out = NULL;
    /* It speaks exactly the version of the header it is built with. */
    if (host_min > KILN_ABI_VERSION || host_max < KILN_ABI_VERSION)
        return cpu_fail(err, KILN_ERR_PROVIDER, "the CPU provider speaks ABI 1.0 only");
    cpu_library *cl = host->alloc(host_ctx, sizeof(*cl), 64);
    if (!cl) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory loading the CPU provider");
    memset(cl, 0, sizeof(*cl));
    cl->abi.hdr.struct_size = sizeof(cl->abi);
    cl->abi.hdr.abi_version = KILN_ABI_VERSION;
    cl->abi.name = "cpu";
    cl->abi.version = "built-in";
    cl->abi.state = cl;
    cl->abi.device_count = device_count;
    cl->abi.device_info = device_info;
    cl->abi.mem_kind_info = mem_kind_info;
    cl->abi.create_provider = create_provider;
    cl->abi.release = library_release;
    cl->host = host;
    cl->host_ctx = host_ctx;
    *out = &cl->abi;
    return KILN_OK;
}
