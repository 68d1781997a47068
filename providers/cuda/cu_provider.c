/* SPDX-License-Identifier: MIT */
/* The CUDA provider's library and instance: ABI 1.2 negotiation, devices (0 devices when there
 * is no driver or GPU: the host then runs everything on the CPU), the two memory kinds
 * (cuda:device behind a caching allocator, cuda:pinned page-locked host memory), copies, streams
 * and events over the instance's CUDA stream, and CUDA graph capture/replay in the run hooks. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cu.h"

int32_t cu_fail(kiln_error *err, int32_t status, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

int32_t cu_cuda_fail(kiln_error *err, cudaError_t e, const char *what) {
    int32_t st = e == cudaErrorMemoryAllocation ? KILN_ERR_OUT_OF_MEMORY : KILN_ERR_PROVIDER;
    return cu_fail(err, st, "cuda: %s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
}

#define CU_MAX_DEVICES 16

typedef struct cu_library {
    kiln_provider_library abi;
    const kiln_host_api *host;
    void *host_ctx;
    int n_devices;
    char names[CU_MAX_DEVICES][256];
    char ids[CU_MAX_DEVICES][16];
} cu_library;

static void lib_log(const cu_library *cl, int32_t level, const char *msg) {
    if (KILN_ABI_HAS(cl->host, kiln_host_api, log_ctx) && cl->host->log_ctx) cl->host->log_ctx(cl->host_ctx, level, "cuda", msg);
    else if (cl->host->log) cl->host->log(level, "cuda", msg);
}

/* ---- memory ---- */

static int bucket_of(uint64_t bytes, uint64_t *size) {
    uint64_t s = CU_ALIGN;
    int b = 0;
    while (s < bytes && b < CU_BUCKETS - 1) s <<= 1, b++;
    *size = s;
    return s >= bytes ? b : -1;
}

/* Returns every cached free block to CUDA (cudaFree synchronizes the device). */
static void trim(cu_provider *cp) {
    for (int b = 0; b < CU_BUCKETS; b++) {
        while (cp->free_list[b]) {
            cu_block *k = cp->free_list[b];
            cp->free_list[b] = k->next;
            cudaFree(k->ptr);
            cp->held -= k->bytes;
            cp->host->free(cp->host_ctx, k);
        }
    }
}

static int32_t mem_alloc(kiln_provider *p, uint32_t kind, uint64_t bytes, void **block, kiln_error *err) {
    cu_provider *cp = (cu_provider *)p;
    *block = NULL;
    cudaSetDevice(cp->device);
    if (kind == cp->kind_pinned) {
        void *h = NULL;
        cudaError_t e = cudaHostAlloc(&h, bytes ? bytes : 1, cudaHostAllocDefault);
        if (e != cudaSuccess) return cu_cuda_fail(err, e, "cudaHostAlloc");
        *block = h;
        return KILN_OK;
    }
    if (kind != cp->kind_dev) return cu_fail(err, KILN_ERR_INVALID_ARGUMENT, "cuda: memory kind %u is not the CUDA provider's", kind);
    uint64_t size;
    int b = bucket_of(bytes, &size);
    if (b < 0) return cu_fail(err, KILN_ERR_OUT_OF_MEMORY, "cuda: %llu bytes is more than one block can hold", (unsigned long long)bytes);
    pthread_mutex_lock(&cp->lock);
    cu_block *k = cp->free_list[b];
    if (k) {
        cp->free_list[b] = k->next;
        cp->in_use += k->bytes;
        pthread_mutex_unlock(&cp->lock);
        *block = k;
        return KILN_OK;
    }
    if (cp->opt.mem_limit && cp->held + size > cp->opt.mem_limit) trim(cp);
    if (cp->opt.mem_limit && cp->held + size > cp->opt.mem_limit) {
        pthread_mutex_unlock(&cp->lock);
        return cu_fail(err, KILN_ERR_OUT_OF_MEMORY, "cuda: mem_limit %llu bytes reached (%llu held, %llu asked)",
                       (unsigned long long)cp->opt.mem_limit, (unsigned long long)cp->held, (unsigned long long)size);
    }
    k = cp->host->alloc(cp->host_ctx, sizeof(*k), 16);
    void *d = NULL;
    cudaError_t e = k ? cudaMalloc(&d, size) : cudaErrorMemoryAllocation;
    if (k && e == cudaErrorMemoryAllocation) { /* the cache may hold what is missing */
        cudaGetLastError();
        trim(cp);
        e = cudaMalloc(&d, size);
    }
    if (e != cudaSuccess) {
        cudaGetLastError();
        pthread_mutex_unlock(&cp->lock);
        if (k) cp->host->free(cp->host_ctx, k);
        return cu_cuda_fail(err, e, "cudaMalloc");
    }
    k->ptr = d;
    k->bytes = size;
    k->next = NULL;
    cp->held += size;
    cp->in_use += size;
    pthread_mutex_unlock(&cp->lock);
    *block = k;
    return KILN_OK;
}

static void mem_free(kiln_provider *p, uint32_t kind, void *block) {
    cu_provider *cp = (cu_provider *)p;
    if (!block) return;
    if (kind == cp->kind_pinned) {
        cudaFreeHost(block);
        return;
    }
    cu_block *k = block;
    uint64_t size;
    int b = bucket_of(k->bytes, &size);
    pthread_mutex_lock(&cp->lock);
    cp->in_use -= k->bytes;
    k->next = cp->free_list[b];
    cp->free_list[b] = k; /* stream-ordered reuse: see cu_provider */
    pthread_mutex_unlock(&cp->lock);
}

void *cu_ptr(const cu_provider *cp, const kiln_value_desc *d) {
    if (!d || !d->data) return NULL;
    if ((uint32_t)d->mem_kind == cp->kind_dev) return (char *)((cu_block *)d->data)->ptr + d->offset;
    if ((uint32_t)d->mem_kind == cp->kind_pinned) return (char *)d->data + d->offset;
    return NULL;
}

static void *region_ptr(const cu_provider *cp, uint32_t kind, const void *h, uint64_t off) {
    if (kind == cp->kind_dev) return h ? (char *)((const cu_block *)h)->ptr + off : NULL;
    return h ? (char *)h + off : NULL; /* host memory and pinned memory are host pointers */
}

/* ---- streams and events ---- */

typedef struct cu_stream {
    kiln_stream abi;
    cu_provider *cp;
    cudaStream_t s;
    int owned;                   /* created for this wrapper (not the instance's kernel stream) */
} cu_stream;

typedef struct cu_event {
    kiln_event abi;
    cu_provider *cp;
    cudaEvent_t e;
} cu_event;

static int32_t event_wait(kiln_event *e, kiln_error *err) {
    cu_event *ce = (cu_event *)e;
    cudaError_t r = cudaEventSynchronize(ce->e);
    return r == cudaSuccess ? KILN_OK : cu_cuda_fail(err, r, "waiting for an event (an earlier kernel or copy failed)");
}

static void event_release(kiln_event *e) {
    cu_event *ce = (cu_event *)e;
    cudaEventDestroy(ce->e);
    ce->cp->host->free(ce->cp->host_ctx, ce);
}

static int32_t stream_record(kiln_stream *st, kiln_event **out, kiln_error *err) {
    cu_stream *cs = (cu_stream *)st;
    *out = NULL;
    cu_event *ce = cs->cp->host->alloc(cs->cp->host_ctx, sizeof(*ce), 16);
    if (!ce) return cu_fail(err, KILN_ERR_OUT_OF_MEMORY, "cuda: out of memory recording an event");
    memset(ce, 0, sizeof(*ce));
    cudaSetDevice(cs->cp->device);
    cudaError_t r = cudaEventCreateWithFlags(&ce->e, cudaEventDisableTiming);
    if (r == cudaSuccess) r = cudaEventRecord(ce->e, cs->s);
    if (r != cudaSuccess) {
        if (ce->e) cudaEventDestroy(ce->e);
        cs->cp->host->free(cs->cp->host_ctx, ce);
        return cu_cuda_fail(err, r, "recording an event");
    }
    ce->abi.hdr.struct_size = sizeof(ce->abi);
    ce->abi.hdr.abi_version = cs->cp->abi.hdr.abi_version;
    ce->abi.wait = event_wait;
    ce->abi.release = event_release;
    ce->cp = cs->cp;
    *out = &ce->abi;
    return KILN_OK;
}

static int32_t stream_wait_event(kiln_stream *st, kiln_event *e, kiln_error *err) {
    cudaError_t r = cudaStreamWaitEvent(((cu_stream *)st)->s, ((cu_event *)e)->e, 0);
    return r == cudaSuccess ? KILN_OK : cu_cuda_fail(err, r, "stream wait for an event");
}

static int32_t stream_synchronize(kiln_stream *st, kiln_error *err) {
    cudaError_t r = cudaStreamSynchronize(((cu_stream *)st)->s);
    return r == cudaSuccess ? KILN_OK : cu_cuda_fail(err, r, "stream synchronize (an earlier kernel or copy failed)");
}

static void stream_release(kiln_stream *st) {
    cu_stream *cs = (cu_stream *)st;
    if (cs->owned) cudaStreamDestroy(cs->s);
    cs->cp->host->free(cs->cp->host_ctx, cs);
}

/* The first stream the host creates wraps the instance's kernel stream; later ones are new. */
static int32_t create_stream(kiln_provider *p, kiln_stream **out, kiln_error *err) {
    cu_provider *cp = (cu_provider *)p;
    *out = NULL;
    cu_stream *cs = cp->host->alloc(cp->host_ctx, sizeof(*cs), 16);
    if (!cs) return cu_fail(err, KILN_ERR_OUT_OF_MEMORY, "cuda: out of memory creating a stream");
    memset(cs, 0, sizeof(*cs));
    cs->cp = cp;
    if (!cp->abi.state) {
        cs->s = cp->stream;
        cp->abi.state = cs; /* marks the kernel stream as handed out */
    } else {
        cudaSetDevice(cp->device);
        cudaError_t r = cudaStreamCreateWithFlags(&cs->s, cudaStreamNonBlocking);
        if (r != cudaSuccess) {
            cp->host->free(cp->host_ctx, cs);
            return cu_cuda_fail(err, r, "cudaStreamCreate");
        }
        cs->owned = 1;
    }
    cs->abi.hdr.struct_size = sizeof(cs->abi);
    cs->abi.hdr.abi_version = cp->abi.hdr.abi_version;
    cs->abi.record = stream_record;
    cs->abi.wait_event = stream_wait_event;
    cs->abi.synchronize = stream_synchronize;
    cs->abi.release = stream_release;
    *out = &cs->abi;
    return KILN_OK;
}

static int32_t copy(kiln_provider *p, const kiln_copy_region *const *regions, uint32_t n, kiln_stream *stream,
                    kiln_error *err) {
    cu_provider *cp = (cu_provider *)p;
    cudaStream_t s = stream ? ((cu_stream *)stream)->s : cp->stream;
    cudaSetDevice(cp->device);
    for (uint32_t i = 0; i < n; i++) {
        const kiln_copy_region *r = regions[i];
        if (!r->bytes) continue;
        void *dst = region_ptr(cp, r->dst_kind, r->dst, r->dst_offset);
        const void *src = region_ptr(cp, r->src_kind, r->src, r->src_offset);
        if (!dst || !src) return cu_fail(err, KILN_ERR_INVALID_ARGUMENT, "cuda: copy of %llu bytes with a NULL block", (unsigned long long)r->bytes);
        cudaError_t e = cudaMemcpyAsync(dst, src, (size_t)r->bytes, cudaMemcpyDefault, s);
        if (e != cudaSuccess) return cu_cuda_fail(err, e, "cudaMemcpyAsync");
    }
    if (!stream) {
        cudaError_t e = cudaStreamSynchronize(s);
        if (e != cudaSuccess) return cu_cuda_fail(err, e, "synchronizing a copy");
    }
    return KILN_OK;
}

/* ---- run hooks: CUDA graphs (graphs=1) ---- */

static int32_t run_begin(kiln_provider *p, kiln_run_info *run, kiln_error *err) {
    cu_provider *cp = (cu_provider *)p;
    if (!cp->opt.graphs || !run->replay_ok) return KILN_OK;
    cudaSetDevice(cp->device);
    if (cp->exec && run->signature == cp->exec_sig && run->address_key == cp->exec_key) {
        cudaError_t e = cudaGraphLaunch(cp->exec, cp->stream);
        if (e != cudaSuccess) return cu_cuda_fail(err, e, "cudaGraphLaunch");
        run->replayed = 1;
        return KILN_OK;
    }
    cudaError_t e = cudaStreamBeginCapture(cp->stream, cudaStreamCaptureModeRelaxed);
    if (e != cudaSuccess) return cu_cuda_fail(err, e, "cudaStreamBeginCapture");
    cp->capturing = 1;
    cp->cap_run = run->run_id;
    cp->cap_sig = run->signature;
    cp->cap_key = run->address_key;
    return KILN_OK;
}

/* Ends a capture: instantiates the graph and launches it (captured work has not run yet). */
static int32_t run_end(kiln_provider *p, kiln_run_info *run, kiln_error *err) {
    cu_provider *cp = (cu_provider *)p;
    if (!cp->capturing || run->run_id != cp->cap_run) return KILN_OK;
    cp->capturing = 0;
    cudaSetDevice(cp->device);
    cudaGraph_t g = NULL;
    cudaError_t e = cudaStreamEndCapture(cp->stream, &g);
    if (e != cudaSuccess || run->status != KILN_OK) {
        if (g) cudaGraphDestroy(g);
        return e == cudaSuccess ? KILN_OK : cu_cuda_fail(err, e, "cudaStreamEndCapture");
    }
    if (cp->exec) cudaGraphExecDestroy(cp->exec);
    cp->exec = NULL;
    e = cudaGraphInstantiate(&cp->exec, g, 0);
    cudaGraphDestroy(g);
    if (e != cudaSuccess) {
        cp->exec = NULL;
        return cu_cuda_fail(err, e, "cudaGraphInstantiate");
    }
    cp->exec_sig = cp->cap_sig;
    cp->exec_key = cp->cap_key;
    e = cudaGraphLaunch(cp->exec, cp->stream);
    return e == cudaSuccess ? KILN_OK : cu_cuda_fail(err, e, "cudaGraphLaunch");
}

/* ---- instances ---- */

static void provider_release(kiln_provider *p) {
    cu_provider *cp = (cu_provider *)p;
    cudaSetDevice(cp->device);
    if (cp->stream) cudaStreamSynchronize(cp->stream);
    if (cp->exec) cudaGraphExecDestroy(cp->exec);
    if (cp->blas) cublasDestroy(cp->blas);
    if (cp->blas_ws) cudaFree(cp->blas_ws);
    trim(cp);
    if (cp->stream) cudaStreamDestroy(cp->stream);
    pthread_mutex_destroy(&cp->lock);
    cp->host->free(cp->host_ctx, cp);
}

#define CU_BLAS_WORKSPACE (32u << 20)

static int32_t create_provider(kiln_provider_library *lib, const kiln_provider_params *prm, kiln_provider **out,
                               kiln_error *err) {
    cu_library *cl = (cu_library *)lib;
    *out = NULL;
    if ((int)prm->device >= cl->n_devices)
        return cu_fail(err, KILN_ERR_INVALID_ARGUMENT, "cuda: device %u asked for, %d found", prm->device, cl->n_devices);
    cu_options opt;
    char warn[512], msg[256];
    if (cu_options_parse(prm->option_keys, prm->option_values, prm->n_options, &opt, warn, sizeof(warn), msg, sizeof(msg)))
        return cu_fail(err, KILN_ERR_INVALID_ARGUMENT, "%s", msg);
    if (warn[0]) lib_log(cl, KILN_LOG_WARNING, warn);
    cu_provider *cp = prm->host->alloc(prm->host_ctx, sizeof(*cp), 64);
    if (!cp) return cu_fail(err, KILN_ERR_OUT_OF_MEMORY, "cuda: out of memory creating the provider");
    memset(cp, 0, sizeof(*cp));
    pthread_mutex_init(&cp->lock, NULL);
    cp->host = prm->host;
    cp->host_ctx = prm->host_ctx;
    cp->device = (int)prm->device;
    cp->opt = opt;
    cp->kind_dev = prm->mem_kind_ids[0];
    cp->kind_pinned = prm->mem_kind_ids[1];
    cp->abi.hdr.struct_size = sizeof(cp->abi);
    cp->abi.hdr.abi_version = lib->hdr.abi_version;
    cp->abi.name = "cuda";
    cp->abi.claim_node = cu_claim_node;
    cp->abi.create_kernel = cu_create_kernel;
    cp->abi.release = provider_release;
    cp->abi.mem_kind = cp->kind_dev;
    cp->abi.mem_alloc = mem_alloc;
    cp->abi.mem_free = mem_free;
    cp->abi.copy = copy;
    cp->abi.create_stream = create_stream;
    cp->abi.run_begin = run_begin;
    cp->abi.run_end = run_end;
    cudaError_t e = cudaSetDevice(cp->device);
    if (e == cudaSuccess) e = cudaStreamCreateWithFlags(&cp->stream, cudaStreamNonBlocking);
    if (e == cudaSuccess) e = cudaMalloc(&cp->blas_ws, CU_BLAS_WORKSPACE);
    if (e != cudaSuccess) {
        int32_t st = cu_cuda_fail(err, e, "setting up the device");
        provider_release(&cp->abi);
        return st;
    }
    cublasStatus_t bs = cublasCreate(&cp->blas);
    if (bs == CUBLAS_STATUS_SUCCESS) bs = cublasSetStream(cp->blas, cp->stream);
    if (bs == CUBLAS_STATUS_SUCCESS) bs = cublasSetWorkspace(cp->blas, cp->blas_ws, CU_BLAS_WORKSPACE);
    if (bs == CUBLAS_STATUS_SUCCESS)
        bs = cublasSetMathMode(cp->blas, cp->opt.tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_PEDANTIC_MATH);
    if (bs != CUBLAS_STATUS_SUCCESS) {
        int32_t st = cu_fail(err, KILN_ERR_PROVIDER, "cuda: cuBLAS setup failed: %s", cublasGetStatusString(bs));
        provider_release(&cp->abi);
        return st;
    }
    cp->abi.state = NULL; /* set by the first create_stream (the kernel stream) */
    *out = &cp->abi;
    return KILN_OK;
}

/* ---- the library ---- */

static uint32_t device_count(kiln_provider_library *lib) { return (uint32_t)((cu_library *)lib)->n_devices; }

static int32_t device_info(kiln_provider_library *lib, uint32_t device, kiln_device_info *info, kiln_error *err) {
    cu_library *cl = (cu_library *)lib;
    if ((int)device >= cl->n_devices) return cu_fail(err, KILN_ERR_INVALID_ARGUMENT, "cuda: no device %u (%d found)", device, cl->n_devices);
    struct cudaDeviceProp prop;
    memset(&prop, 0, sizeof(prop));
    cudaError_t e = cudaGetDeviceProperties(&prop, (int)device);
    if (e != cudaSuccess) return cu_cuda_fail(err, e, "cudaGetDeviceProperties");
    snprintf(cl->names[device], sizeof(cl->names[device]), "%.200s (sm_%d%d)", prop.name, prop.major, prop.minor);
    kiln_device_info d;
    memset(&d, 0, sizeof(d));
    d.hdr.struct_size = info->hdr.struct_size;
    d.hdr.abi_version = lib->hdr.abi_version;
    d.id = cl->ids[device];
    d.name = cl->names[device];
    d.type = KILN_DEVICE_GPU;
    d.n_mem_kinds = 2;
    d.memory_total = d.memory_free = prop.totalGlobalMem; /* free memory needs a context: not made while enumerating */
    d.caps = KILN_DEVICE_CAP_STREAMS | KILN_DEVICE_CAP_ASYNC_COMPUTE;
    memcpy(info, &d, info->hdr.struct_size < sizeof(d) ? info->hdr.struct_size : sizeof(d));
    return KILN_OK;
}

static int32_t mem_kind_info(kiln_provider_library *lib, uint32_t device, uint32_t kind, kiln_mem_kind_info *info,
                             kiln_error *err) {
    cu_library *cl = (cu_library *)lib;
    if ((int)device >= cl->n_devices || kind > 1)
        return cu_fail(err, KILN_ERR_INVALID_ARGUMENT, "cuda: no memory kind %u on device %u", kind, device);
    kiln_mem_kind_info m;
    memset(&m, 0, sizeof(m));
    m.hdr.struct_size = info->hdr.struct_size;
    m.hdr.abi_version = lib->hdr.abi_version;
    m.name = kind ? "cuda:pinned" : "cuda:device";
    m.alignment = CU_ALIGN;
    m.flags = kind ? KILN_MEM_KIND_F_PINNED_HOST : 0;
    memcpy(info, &m, info->hdr.struct_size < sizeof(m) ? info->hdr.struct_size : sizeof(m));
    return KILN_OK;
}

static void library_release(kiln_provider_library *lib) {
    cu_library *cl = (cu_library *)lib;
    cl->host->free(cl->host_ctx, cl);
}

KILN_PROVIDER_EXPORT int32_t kiln_provider_entry(const kiln_host_api *host, void *host_ctx, uint32_t host_min,
                                                 uint32_t host_max, kiln_provider_library **out, kiln_error *err);
KILN_PROVIDER_EXPORT int32_t kiln_provider_entry(const kiln_host_api *host, void *host_ctx, uint32_t host_min,
                                                 uint32_t host_max, kiln_provider_library **out, kiln_error *err) {
    *out = NULL;
    uint32_t v = host_max < CU_ABI_MAX ? host_max : CU_ABI_MAX;
    if (v < host_min || v < CU_ABI_MIN || host_min > host_max)
        return cu_fail(err, KILN_ERR_PROVIDER, "the CUDA provider needs ABI 1.2 (kernel streams); the host offers %u.%u-%u.%u",
                       KILN_ABI_MAJOR(host_min), KILN_ABI_MINOR(host_min), KILN_ABI_MAJOR(host_max), KILN_ABI_MINOR(host_max));
    if (!host || !host->alloc || !host->free) return cu_fail(err, KILN_ERR_INVALID_ARGUMENT, "cuda: the host API has no allocator");
    cu_library *cl = host->alloc(host_ctx, sizeof(*cl), 16);
    if (!cl) return cu_fail(err, KILN_ERR_OUT_OF_MEMORY, "cuda: out of memory loading the provider");
    memset(cl, 0, sizeof(*cl));
    cl->host = host;
    cl->host_ctx = host_ctx;
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n <= 0) {
        char msg[256];
        snprintf(msg, sizeof(msg), "no CUDA device: %s", e != cudaSuccess ? cudaGetErrorString(e) : "cudaGetDeviceCount found 0");
        cudaGetLastError();
        lib_log(cl, KILN_LOG_WARNING, msg);
        n = 0;
    }
    cl->n_devices = n > CU_MAX_DEVICES ? CU_MAX_DEVICES : n;
    for (int d = 0; d < cl->n_devices; d++) snprintf(cl->ids[d], sizeof(cl->ids[d]), "cuda:%d", d);
    cl->abi.hdr.struct_size = sizeof(cl->abi);
    cl->abi.hdr.abi_version = v;
    cl->abi.name = "cuda";
    cl->abi.version = "0.1.0";
    cl->abi.state = cl;
    cl->abi.device_count = device_count;
    cl->abi.device_info = device_info;
    cl->abi.mem_kind_info = mem_kind_info;
    cl->abi.create_provider = create_provider;
    cl->abi.release = library_release;
    *out = &cl->abi;
    return KILN_OK;
}
