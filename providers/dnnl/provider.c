/* SPDX-License-Identifier: MIT */
/* The oneDNN provider: entry point and version negotiation, the library (one CPU device), the
 * instance (options, the oneDNN engine and stream, claims). Kernels are in dn_kernel.c, the
 * operators in op_*.c. docs/dnnl.md says what it runs and why. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dn.h"

typedef struct dn_library {
    kiln_provider_library abi;
    const kiln_host_api *host;
    void *host_ctx;
    char version[64];
} dn_library;

static int32_t claim_node(kiln_provider *p, const kiln_node_view *n, int32_t *claim, kiln_error *err) {
    dn_provider *pv = (dn_provider *)p;
    const dn_op *op = dn_find_op(pv->host, n);
    char why[160] = "";
    (void)err;
    *claim = op && op->supports(pv->host, n, why, sizeof(why)) ? KILN_CLAIM_KERNEL : KILN_CLAIM_NO;
    if (pv->verbose && op && *claim == KILN_CLAIM_NO) {
        char msg[320];
        snprintf(msg, sizeof(msg), "node '%s' (%s) left to the next provider: %s", pv->host->node_name(n), op->op_type, why);
        pv->host->log(KILN_LOG_INFO, "dnnl", msg);
    }
    return KILN_OK;
}

static int32_t create_kernel(kiln_provider *p, const kiln_node_view *n, kiln_kernel **out, kiln_error *err) {
    return dn_kernel_create((dn_provider *)p, n, out, err);
}

static int32_t claim_groups(kiln_provider *p, const kiln_graph_view *g, kiln_claim_sink *sink, kiln_error *err) {
    return dn_provider_claim_groups((dn_provider *)p, g, sink, err);
}

static int32_t compile_group(kiln_provider *p, const kiln_graph_view *g, kiln_kernel **out, kiln_error *err) {
    return dn_provider_compile_group((dn_provider *)p, g, out, err);
}

static void provider_release(kiln_provider *p) {
    dn_provider *pv = (dn_provider *)p;
    if (pv->stream) dnnl_stream_destroy(pv->stream);
    if (pv->engine) dnnl_engine_destroy(pv->engine);
    pv->host->free(pv->host_ctx, pv);
}

static int32_t create_provider(kiln_provider_library *lib, const kiln_provider_params *prm, kiln_provider **out, kiln_error *err) {
    const kiln_host_api *h = prm->host;
    *out = NULL;
    if (prm->device != 0) return dn_fail(err, KILN_ERR_INVALID_ARGUMENT, "the dnnl library has one device, not %u", prm->device);
    int bf16 = 0, verbose = 0, fuse = 1;
    for (uint32_t i = 0; i < prm->n_options; i++) {
        const char *k = prm->option_keys[i], *v = prm->option_values[i];
        if (!strcmp(k, "precision")) {
            if (!strcmp(v, "fp32") || !strcmp(v, "f32")) bf16 = 0;
            else if (!strcmp(v, "bf16")) bf16 = 1;
            else return dn_fail(err, KILN_ERR_INVALID_ARGUMENT, "dnnl: precision=%s is not fp32 or bf16", v);
        } else if (!strcmp(k, "fuse")) {
            if (!strcmp(v, "0") || !strcmp(v, "1")) fuse = v[0] == '1';
            else return dn_fail(err, KILN_ERR_INVALID_ARGUMENT, "dnnl: fuse=%s is not 0 or 1", v);
        } else if (!strcmp(k, "verbose")) {
            if (!strcmp(v, "0") || !strcmp(v, "1") || !strcmp(v, "2")) verbose = v[0] - '0';
            else return dn_fail(err, KILN_ERR_INVALID_ARGUMENT, "dnnl: verbose=%s is not 0, 1 or 2", v);
        } else {
            char msg[300];
            snprintf(msg, sizeof(msg), "unknown option %s=%s ignored (known: precision=fp32|bf16, fuse=0|1, verbose=0|1|2)", k, v);
            h->log(KILN_LOG_WARNING, "dnnl", msg);
        }
    }
    dn_provider *pv = h->alloc(prm->host_ctx, sizeof(*pv), 64);
    if (!pv) return dn_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory creating the dnnl provider");
    memset(pv, 0, sizeof(*pv));
    pv->abi.hdr.struct_size = sizeof(pv->abi);
    pv->abi.hdr.abi_version = lib->hdr.abi_version;
    pv->abi.name = "dnnl";
    pv->abi.state = pv;
    pv->abi.claim_node = claim_node;
    pv->abi.create_kernel = create_kernel;
    pv->abi.release = provider_release;
    pv->abi.mem_kind = 0;
    pv->abi.claim_groups = fuse ? claim_groups : NULL;
    pv->abi.compile_group = compile_group;
    pv->host = h;
    pv->host_ctx = prm->host_ctx;
    pv->version = lib->hdr.abi_version;
    pv->bf16 = bf16;
    pv->verbose = verbose;
    if (verbose == 2) dnnl_set_verbose(2);
    if (dnnl_engine_create(&pv->engine, dnnl_cpu, 0) != dnnl_success ||
        dnnl_stream_create(&pv->stream, pv->engine, dnnl_stream_default_flags) != dnnl_success) {
        provider_release(&pv->abi);
        return dn_fail(err, KILN_ERR_PROVIDER, "dnnl: cannot create the CPU engine or stream");
    }
    *out = &pv->abi;
    return KILN_OK;
}

static uint32_t device_count(kiln_provider_library *lib) {
    (void)lib;
    return 1;
}

static int32_t device_info(kiln_provider_library *lib, uint32_t device, kiln_device_info *info, kiln_error *err) {
    if (device != 0) return dn_fail(err, KILN_ERR_INVALID_ARGUMENT, "the dnnl library has one device, not %u", device);
    kiln_device_info d;
    memset(&d, 0, sizeof(d));
    d.hdr.struct_size = info->hdr.struct_size;
    d.hdr.abi_version = lib->hdr.abi_version;
    d.id = "dnnl:cpu0";
    d.name = "oneDNN CPU engine (host memory)";
    d.type = KILN_DEVICE_CPU;
    d.n_mem_kinds = 0;
    memcpy(info, &d, info->hdr.struct_size < sizeof(d) ? info->hdr.struct_size : sizeof(d));
    return KILN_OK;
}

static int32_t mem_kind_info(kiln_provider_library *lib, uint32_t device, uint32_t kind, kiln_mem_kind_info *info, kiln_error *err) {
    (void)lib;
    (void)info;
    return dn_fail(err, KILN_ERR_INVALID_ARGUMENT, "the dnnl device %u has no memory kind %u (it uses host memory)", device, kind);
}

static void library_release(kiln_provider_library *lib) {
    dn_library *dl = (dn_library *)lib;
    dl->host->free(dl->host_ctx, dl);
}

KILN_PROVIDER_EXPORT int32_t kiln_provider_entry(const kiln_host_api *host, void *host_ctx, uint32_t host_min, uint32_t host_max,
                                                 kiln_provider_library **out, kiln_error *err);
KILN_PROVIDER_EXPORT int32_t kiln_provider_entry(const kiln_host_api *host, void *host_ctx, uint32_t host_min, uint32_t host_max,
                                                 kiln_provider_library **out, kiln_error *err) {
    *out = NULL;
    uint32_t v = host_max < DN_ABI_MAX ? host_max : DN_ABI_MAX;
    if (v < host_min || v < DN_ABI_MIN || host_min > host_max)
        return dn_fail(err, KILN_ERR_PROVIDER, "the dnnl provider speaks ABI %u.%u-%u.%u; the host offers %u.%u-%u.%u",
                       KILN_ABI_MAJOR(DN_ABI_MIN), KILN_ABI_MINOR(DN_ABI_MIN), KILN_ABI_MAJOR(DN_ABI_MAX), KILN_ABI_MINOR(DN_ABI_MAX),
                       KILN_ABI_MAJOR(host_min), KILN_ABI_MINOR(host_min), KILN_ABI_MAJOR(host_max), KILN_ABI_MINOR(host_max));
    if (!host || !host->alloc || !host->free) return dn_fail(err, KILN_ERR_INVALID_ARGUMENT, "the host API has no allocator");
    char why[256];
    if (!dn_dnnl_load(why, sizeof(why))) return dn_fail(err, KILN_ERR_PROVIDER, "the dnnl provider: %s", why);
    dn_library *dl = host->alloc(host_ctx, sizeof(*dl), 16);
    if (!dl) return dn_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory loading the dnnl provider");
    memset(dl, 0, sizeof(*dl));
    const dnnl_version_t *dv = dnnl_version();
    snprintf(dl->version, sizeof(dl->version), "1.0.0 (oneDNN %d.%d.%d)", dv->major, dv->minor, dv->patch);
    dl->abi.hdr.struct_size = sizeof(dl->abi);
    dl->abi.hdr.abi_version = v;
    dl->abi.name = "dnnl";
    dl->abi.version = dl->version;
    dl->abi.state = dl;
    dl->abi.device_count = device_count;
    dl->abi.device_info = device_info;
    dl->abi.mem_kind_info = mem_kind_info;
    dl->abi.create_provider = create_provider;
    dl->abi.release = library_release;
    dl->host = host;
    dl->host_ctx = host_ctx;
    *out = &dl->abi;
    return KILN_OK;
}
