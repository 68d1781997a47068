/* SPDX-License-Identifier: MIT */
/* The OpenCL provider library: the entry point, the devices of every platform, and instances
 * (one OpenCL context and in-order queue per session). Options are listed in docs/opencl.md. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocl.h"

int32_t ocl_fail(kiln_error *err, int32_t status, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

/* ---- the instance ---- */

static void provider_release(kiln_provider *p) {
    ocl_provider *pv = (ocl_provider *)p;
    if (pv->queue) clFinish(pv->queue);
    for (int t = 0; t < OCL_NTYPES; t++)
        if (pv->prog[t]) clReleaseProgram(pv->prog[t]);
    if (pv->queue) clReleaseCommandQueue(pv->queue);
    if (pv->ctx) clReleaseContext(pv->ctx);
    pv->host->free(pv->host_ctx, pv);
}

/* The GEMM tile for a device: the largest of 32, 16, 8 whose work-group and two local tiles fit. */
static void choose_tile(ocl_provider *pv, int forced) {
    static const int tiles[3][2] = {{32, 8}, {16, 4}, {8, 2}};
    for (int i = 0; i < 3; i++) {
        int ts = tiles[i][0], wpt = tiles[i][1];
        size_t wg = (size_t)ts * (size_t)(ts / wpt);
        uint64_t lm = 2ull * (uint64_t)ts * (uint64_t)(ts + 1) * 4u;
        if ((forced && forced != ts) || wg > pv->dev.max_wg || lm > pv->dev.local_mem) continue;
        pv->tile = ts;
        pv->wpt = wpt;
        return;
    }
    pv->tile = 8;
    pv->wpt = 2;
}

static void default_cache_dir(char *buf, size_t size) {
    const char *env = getenv("KILN_OPENCL_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    buf[0] = '\0';
    if (env && env[0]) snprintf(buf, size, "%s", env);
    else if (xdg && xdg[0]) snprintf(buf, size, "%s/kiln/opencl", xdg);
    else if (home && home[0]) snprintf(buf, size, "%s/.cache/kiln/opencl", home);
}

static int32_t create_provider(kiln_provider_library *lib, const kiln_provider_params *prm, kiln_provider **out, kiln_error *err) {
    ocl_library *ol = (ocl_library *)lib;
    const kiln_host_api *h = prm->host;
    *out = NULL;
    if (prm->device >= ol->n_devices)
        return ocl_fail(err, KILN_ERR_INVALID_ARGUMENT, "no OpenCL device %u: %u found", prm->device, ol->n_devices);
    ocl_provider *pv = h->alloc(prm->host_ctx, sizeof(*pv), 16);
    if (!pv) return ocl_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory creating the OpenCL provider");
    memset(pv, 0, sizeof(*pv));
    pv->host = h;
    pv->host_ctx = prm->host_ctx;
    pv->version = lib->hdr.abi_version;
    pv->dev = ol->devices[prm->device];
    pv->cache = 1;
    pv->fuse = 1;
    pv->fp16 = pv->dev.fp16;
    pv->mem_limit = pv->dev.global_mem ? pv->dev.global_mem : UINT64_MAX;
    default_cache_dir(pv->cache_dir, sizeof(pv->cache_dir));
    const char *env = getenv("KILN_OPENCL_CACHE");
    if (env && !strcmp(env, "0")) pv->cache = 0;
    int tile = 0;
    pv->gemm_cpu = pv->dev.type == KILN_DEVICE_CPU;
    for (uint32_t i = 0; i < prm->n_options; i++) {
        const char *k = prm->option_keys[i], *v = prm->option_values[i];
        char *end;
        int bit = !strcmp(v, "0") || !strcmp(v, "1");
        if (!strcmp(k, "cache") && bit) pv->cache = v[0] == '1';
        else if (!strcmp(k, "cache_dir") && v[0]) snprintf(pv->cache_dir, sizeof(pv->cache_dir), "%s", v);
        else if (!strcmp(k, "fuse") && bit) pv->fuse = v[0] == '1';
        else if (!strcmp(k, "fp16") && bit) pv->fp16 = v[0] == '1' && pv->dev.fp16;
        else if (!strcmp(k, "fp16") && !strcmp(v, "force")) pv->fp16 = 1; /* test hook: float16 without cl_khr_fp16 */
        else if (!strcmp(k, "tile") && (!strcmp(v, "8") || !strcmp(v, "16") || !strcmp(v, "32"))) {
            tile = atoi(v);
            pv->gemm_cpu = 0; /* a tile asks for the local-memory kernel */
        } else if (!strcmp(k, "tile") && !strcmp(v, "cpu")) pv->gemm_cpu = 1;
        else if (!strcmp(k, "break_build") && bit) {
            /* Test hook: a program that cannot compile, to check the build failure path. */
            if (v[0] == '1') pv->extra_source = "kernel void kiln_broken(void) { this_is_not_opencl_c; }\n";
        } else if (!strcmp(k, "device_memory")) {
            unsigned long long b = strtoull(v, &end, 10);
            if (!v[0] || *end) {
                h->free(prm->host_ctx, pv);
                return ocl_fail(err, KILN_ERR_INVALID_ARGUMENT, "device_memory='%s' is not a byte count", v);
            }
            pv->mem_limit = b;
        } else {
            char msg[300];
            snprintf(msg, sizeof(msg),
                     "unknown option %s=%s ignored (known: cache=0|1, cache_dir=PATH, fuse=0|1, fp16=0|1|force, tile=8|16|32|cpu, "
                     "device_memory=BYTES, break_build=0|1)",
                     k, v);
            h->log(KILN_LOG_WARNING, "opencl", msg);
        }
    }
    choose_tile(pv, tile);
    cl_int e = CL_SUCCESS;
    cl_context_properties props[3] = {CL_CONTEXT_PLATFORM, (cl_context_properties)pv->dev.platform, 0};
    pv->ctx = clCreateContext(props, 1, &pv->dev.dev, NULL, NULL, &e);
    if (pv->ctx && e == CL_SUCCESS) pv->queue = clCreateCommandQueue(pv->ctx, pv->dev.dev, 0, &e);
    if (!pv->ctx || !pv->queue || e != CL_SUCCESS) {
        provider_release(&pv->abi);
        return ocl_fail(err, KILN_ERR_PROVIDER, "cannot open OpenCL device '%s': %s (%d)", ol->devices[prm->device].name,
                        ocl_errstr(e), e);
    }
    pv->abi.hdr.struct_size = sizeof(pv->abi);
    pv->abi.hdr.abi_version = lib->hdr.abi_version;
    pv->abi.name = "opencl";
    pv->abi.state = pv;
    pv->abi.claim_node = ocl_claim_node;
    pv->abi.create_kernel = ocl_create_kernel;
    pv->abi.release = provider_release;
    pv->abi.mem_kind = prm->mem_kind_ids[0];
    pv->abi.claim_groups = pv->fuse ? ocl_claim_groups : NULL;
    pv->abi.compile_group = ocl_compile_group;
    pv->abi.mem_alloc = ocl_mem_alloc;
    pv->abi.mem_free = ocl_mem_free;
    pv->abi.copy = ocl_copy;
    pv->abi.create_stream = ocl_create_stream;
    *out = &pv->abi;
    return KILN_OK;
}

/* ---- the library ---- */

static uint32_t device_count(kiln_provider_library *lib) {
    return ((ocl_library *)lib)->n_devices;
}

static int32_t device_info(kiln_provider_library *lib, uint32_t device, kiln_device_info *info, kiln_error *err) {
    ocl_library *ol = (ocl_library *)lib;
    if (device >= ol->n_devices) return ocl_fail(err, KILN_ERR_INVALID_ARGUMENT, "no OpenCL device %u: %u found", device, ol->n_devices);
    const ocl_device *d = &ol->devices[device];
    kiln_device_info di;
    memset(&di, 0, sizeof(di));
    di.hdr.struct_size = info->hdr.struct_size;
    di.hdr.abi_version = lib->hdr.abi_version;
    di.id = d->id;
    di.name = d->name;
    di.type = d->type;
    di.n_mem_kinds = 1;
    di.memory_total = di.memory_free = d->global_mem;
    di.caps = KILN_DEVICE_CAP_STREAMS;
    memcpy(info, &di, info->hdr.struct_size < sizeof(di) ? info->hdr.struct_size : sizeof(di));
    return KILN_OK;
}

static int32_t mem_kind_info(kiln_provider_library *lib, uint32_t device, uint32_t kind, kiln_mem_kind_info *info, kiln_error *err) {
    ocl_library *ol = (ocl_library *)lib;
    if (device >= ol->n_devices || kind != 0)
        return ocl_fail(err, KILN_ERR_INVALID_ARGUMENT, "no memory kind %u on OpenCL device %u", kind, device);
    kiln_mem_kind_info m;
    memset(&m, 0, sizeof(m));
    m.hdr.struct_size = info->hdr.struct_size;
    m.hdr.abi_version = lib->hdr.abi_version;
    m.name = "opencl:device";
    m.alignment = OCL_ALIGN;
    memcpy(info, &m, info->hdr.struct_size < sizeof(m) ? info->hdr.struct_size : sizeof(m));
    return KILN_OK;
}

static void library_release(kiln_provider_library *lib) {
    ocl_library *ol = (ocl_library *)lib;
    ol->host->free(ol->host_ctx, ol);
}

KILN_PROVIDER_EXPORT int32_t kiln_provider_entry(const kiln_host_api *host, void *host_ctx, uint32_t host_min, uint32_t host_max,
                                                 kiln_provider_library **out, kiln_error *err);
KILN_PROVIDER_EXPORT int32_t kiln_provider_entry(const kiln_host_api *host, void *host_ctx, uint32_t host_min, uint32_t host_max,
                                                 kiln_provider_library **out, kiln_error *err) {
    *out = NULL;
    uint32_t v = host_max < OCL_ABI_MAX ? host_max : OCL_ABI_MAX;
    if (host_min > host_max || v < host_min || v < OCL_ABI_MIN)
        return ocl_fail(err, KILN_ERR_PROVIDER, "the OpenCL provider speaks ABI %u.%u-%u.%u; the host offers %u.%u-%u.%u",
                        KILN_ABI_MAJOR(OCL_ABI_MIN), KILN_ABI_MINOR(OCL_ABI_MIN), KILN_ABI_MAJOR(OCL_ABI_MAX),
                        KILN_ABI_MINOR(OCL_ABI_MAX), KILN_ABI_MAJOR(host_min), KILN_ABI_MINOR(host_min),
                        KILN_ABI_MAJOR(host_max), KILN_ABI_MINOR(host_max));
    if (!host || !host->alloc || !host->free || !host->log)
        return ocl_fail(err, KILN_ERR_INVALID_ARGUMENT, "the host API has no allocator or log");
    ocl_library *ol = host->alloc(host_ctx, sizeof(*ol), 16);
    if (!ol) return ocl_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory loading the OpenCL provider");
    memset(ol, 0, sizeof(*ol));
    char why[200];
    ol->n_devices = ocl_enumerate(ol->devices, OCL_MAX_DEVICES, why, sizeof(why));
    if (!ol->n_devices) {
        char msg[300];
        snprintf(msg, sizeof(msg), "%s: the OpenCL provider runs nothing, the CPU provider runs every node", why);
        host->log(KILN_LOG_WARNING, "opencl", msg);
    }
    for (uint32_t i = 0; i < ol->n_devices; i++) {
        char msg[400];
        snprintf(msg, sizeof(msg), "device=%u: %s [%s]%s", i, ol->devices[i].name, ol->devices[i].driver,
                 ol->devices[i].fp16 ? " cl_khr_fp16" : "");
        host->log(KILN_LOG_INFO, "opencl", msg);
    }
    ol->abi.hdr.struct_size = sizeof(ol->abi);
    ol->abi.hdr.abi_version = v;
    ol->abi.name = "opencl";
    ol->abi.version = "0.1.0";
    ol->abi.state = ol;
    ol->abi.device_count = device_count;
    ol->abi.device_info = device_info;
    ol->abi.mem_kind_info = mem_kind_info;
    ol->abi.create_provider = create_provider;
    ol->abi.release = library_release;
    ol->host = host;
    ol->host_ctx = host_ctx;
    *out = &ol->abi;
    return KILN_OK;
}
