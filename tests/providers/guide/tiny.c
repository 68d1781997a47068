/* SPDX-License-Identifier: MIT */
/* tiny: a provider written from docs/providers.md alone, to prove the guide. It runs float
 * Sigmoid as a kernel on tensors kept in its own memory kind ("tiny:memory": host memory behind
 * handles), and copies in and out of it synchronously. Kernels only: no groups, no streams. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kiln_provider.h"

#define TINY_MIN KILN_ABI_MAKE(1, 0)
#define TINY_MAX KILN_ABI_MAKE(1, 0)
#define TINY_CAPACITY (256u << 20) /* bytes of tiny memory per instance */

static int32_t set_error(kiln_error *err, int32_t status, const char *msg) {
    if (err) {
        err->status = status;
        snprintf(err->msg, sizeof(err->msg), "%s", msg);
    }
    return status;
}

typedef struct tiny_lib {
    kiln_provider_library pub;
    const kiln_host_api *host;
    void *host_ctx;
} tiny_lib;

typedef struct tiny {
    kiln_provider pub;
    const kiln_host_api *host;
    void *host_ctx;
    uint64_t used;               /* bytes of tiny memory in use */
} tiny;

/* A block of tiny memory: its size, then the bytes. */
typedef struct tiny_block {
    uint64_t bytes;
    uint64_t pad[7];             /* the data starts 64 bytes in, the kind's alignment */
    unsigned char data[];
} tiny_block;

static int32_t mem_alloc(kiln_provider *p, uint32_t kind, uint64_t bytes, void **block, kiln_error *err) {
    tiny *t = (tiny *)p;
    *block = NULL;
    if (kind != p->mem_kind) return set_error(err, KILN_ERR_INVALID_ARGUMENT, "not a tiny memory kind");
    if (bytes > TINY_CAPACITY - t->used) return set_error(err, KILN_ERR_OUT_OF_MEMORY, "tiny memory is full");
    tiny_block *b = t->host->alloc(t->host_ctx, sizeof(tiny_block) + (size_t)bytes, 64);
    if (!b) return set_error(err, KILN_ERR_OUT_OF_MEMORY, "out of host memory for tiny memory");
    b->bytes = bytes;
    t->used += bytes;
    *block = b;
    return KILN_OK;
}

static void mem_free(kiln_provider *p, uint32_t kind, void *block) {
    tiny *t = (tiny *)p;
    (void)kind;
    if (!block) return;
    t->used -= ((tiny_block *)block)->bytes;
    t->host->free(t->host_ctx, block);
}

/* Where region bytes start: a host pointer for kind 0, inside a block for tiny memory. */
static unsigned char *locate(uint32_t kind, const void *p, uint64_t offset, uint64_t bytes) {
    if (kind == 0) return p ? (unsigned char *)p + offset : NULL;
    const tiny_block *b = p;
    if (!b || offset > b->bytes || bytes > b->bytes - offset) return NULL;
    return (unsigned char *)b->data + offset;
}

static int32_t copy(kiln_provider *p, const kiln_copy_region *const *regions, uint32_t n, kiln_stream *stream,
                    kiln_error *err) {
    (void)stream; /* no streams: every copy is done on return */
    for (uint32_t i = 0; i < n; i++) {
        const kiln_copy_region *r = regions[i];
        if ((r->src_kind && r->src_kind != p->mem_kind) || (r->dst_kind && r->dst_kind != p->mem_kind))
            return set_error(err, KILN_ERR_INVALID_ARGUMENT, "a copy to or from a kind that is not tiny's");
        unsigned char *src = locate(r->src_kind, r->src, r->src_offset, r->bytes);
        unsigned char *dst = locate(r->dst_kind, r->dst, r->dst_offset, r->bytes);
        if (!src || !dst) return set_error(err, KILN_ERR_INVALID_ARGUMENT, "a copy outside its block");
        if (r->bytes) memmove(dst, src, (size_t)r->bytes);
    }
    return KILN_OK;
}

static int is_float_tensor(const kiln_host_api *h, const kiln_node_view *n, int output) {
    kiln_value_info vi;
    memset(&vi, 0, sizeof(vi));
    vi.hdr.struct_size = sizeof(vi);
    int32_t st = output ? h->node_output_info(n, 0, &vi) : h->node_input_info(n, 0, &vi);
    return st == KILN_OK && vi.present && vi.kind == KILN_VALUE_TENSOR && vi.dtype == KILN_DTYPE_FLOAT;
}

static int runs(const kiln_host_api *h, const kiln_node_view *n) {
    return !strcmp(h->node_domain(n), "") && !strcmp(h->node_op_type(n), "Sigmoid") && h->node_input_count(n) == 1 &&
           is_float_tensor(h, n, 0) && is_float_tensor(h, n, 1);
}

static int32_t claim_node(kiln_provider *p, const kiln_node_view *n, int32_t *claim, kiln_error *err) {
    (void)err;
    *claim = runs(((tiny *)p)->host, n) ? KILN_CLAIM_KERNEL : KILN_CLAIM_NO;
    return KILN_OK;
}

typedef struct tiny_kernel {
    kiln_kernel pub;
    tiny *t;
} tiny_kernel;

static int32_t sigmoid(kiln_kernel *k, kiln_kernel_ctx *ctx, kiln_error *err) {
    tiny *t = ((tiny_kernel *)k)->t;
    const kiln_value_desc *x = ctx->inputs[0];
    kiln_value_desc *y = ctx->outputs[0];
    if (!y && ctx->host->alloc_output(ctx, 0, x->rank, x->dims, &y, err) != KILN_OK) return err ? err->status : KILN_ERR_PROVIDER;
    uint64_t bytes = x->count * sizeof(float);
    const float *in = (const float *)locate((uint32_t)x->mem_kind, x->data, x->offset, bytes);
    float *out = (float *)locate((uint32_t)y->mem_kind, y->data, y->offset, bytes);
    if (!in || !out || (uint32_t)x->mem_kind != t->pub.mem_kind)
        return set_error(err, KILN_ERR_INVALID_ARGUMENT, "Sigmoid's tensors are not in tiny memory");
    for (uint64_t i = 0; i < x->count; i++) out[i] = 1.0f / (1.0f + expf(-in[i]));
    return KILN_OK;
}

static void kernel_release(kiln_kernel *k) {
    tiny *t = ((tiny_kernel *)k)->t;
    t->host->free(t->host_ctx, k);
}

static int32_t create_kernel(kiln_provider *p, const kiln_node_view *n, kiln_kernel **out, kiln_error *err) {
    tiny *t = (tiny *)p;
    *out = NULL;
    if (!runs(t->host, n)) return set_error(err, KILN_ERR_UNSUPPORTED, "tiny runs float Sigmoid only");
    tiny_kernel *k = t->host->alloc(t->host_ctx, sizeof(*k), 16);
    if (!k) return set_error(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    memset(k, 0, sizeof(*k));
    k->pub.hdr.struct_size = sizeof(k->pub);
    k->pub.hdr.abi_version = p->hdr.abi_version;
    k->pub.compute = sigmoid;
    k->pub.release = kernel_release;
    k->t = t;
    *out = &k->pub;
    return KILN_OK;
}

static void provider_release(kiln_provider *p) {
    tiny *t = (tiny *)p;
    t->host->free(t->host_ctx, t);
}

static int32_t create_provider(kiln_provider_library *lib, const kiln_provider_params *params, kiln_provider **out,
                               kiln_error *err) {
    *out = NULL;
    if (params->device != 0) return set_error(err, KILN_ERR_INVALID_ARGUMENT, "tiny has one device");
    for (uint32_t i = 0; i < params->n_options; i++) params->host->log(KILN_LOG_WARNING, "tiny", "tiny takes no options");
    tiny *t = params->host->alloc(params->host_ctx, sizeof(*t), 16);
    if (!t) return set_error(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    memset(t, 0, sizeof(*t));
    t->pub.hdr.struct_size = sizeof(t->pub);
    t->pub.hdr.abi_version = lib->hdr.abi_version;
    t->pub.name = "tiny";
    t->pub.claim_node = claim_node;
    t->pub.create_kernel = create_kernel;
    t->pub.release = provider_release;
    t->pub.mem_kind = params->mem_kind_ids[0];
    t->pub.mem_alloc = mem_alloc;
    t->pub.mem_free = mem_free;
    t->pub.copy = copy;
    t->host = params->host;
    t->host_ctx = params->host_ctx;
    *out = &t->pub;
    return KILN_OK;
}

static uint32_t device_count(kiln_provider_library *lib) {
    (void)lib;
    return 1;
}

static int32_t device_info(kiln_provider_library *lib, uint32_t device, kiln_device_info *info, kiln_error *err) {
    if (device != 0) return set_error(err, KILN_ERR_INVALID_ARGUMENT, "tiny has one device");
    kiln_device_info d;
    memset(&d, 0, sizeof(d));
    d.hdr.struct_size = info->hdr.struct_size;
    d.hdr.abi_version = lib->hdr.abi_version;
    d.id = "tiny:0";
    d.name = "tiny";
    d.type = KILN_DEVICE_OTHER;
    d.n_mem_kinds = 1;
    d.memory_total = d.memory_free = TINY_CAPACITY;
    memcpy(info, &d, info->hdr.struct_size < sizeof(d) ? info->hdr.struct_size : sizeof(d));
    return KILN_OK;
}

static int32_t mem_kind_info(kiln_provider_library *lib, uint32_t device, uint32_t kind, kiln_mem_kind_info *info,
                             kiln_error *err) {
    if (device != 0 || kind != 0) return set_error(err, KILN_ERR_INVALID_ARGUMENT, "tiny has one memory kind");
    kiln_mem_kind_info m;
    memset(&m, 0, sizeof(m));
    m.hdr.struct_size = info->hdr.struct_size;
    m.hdr.abi_version = lib->hdr.abi_version;
    m.name = "tiny:memory";
    m.alignment = 64;
    memcpy(info, &m, info->hdr.struct_size < sizeof(m) ? info->hdr.struct_size : sizeof(m));
    return KILN_OK;
}

static void library_release(kiln_provider_library *lib) {
    tiny_lib *l = (tiny_lib *)lib;
    l->host->free(l->host_ctx, l);
}

KILN_PROVIDER_EXPORT int32_t kiln_provider_entry(const kiln_host_api *host, void *host_ctx, uint32_t host_min,
                                                 uint32_t host_max, kiln_provider_library **out, kiln_error *err);
KILN_PROVIDER_EXPORT int32_t kiln_provider_entry(const kiln_host_api *host, void *host_ctx, uint32_t host_min,
                                                 uint32_t host_max, kiln_provider_library **out, kiln_error *err) {
    *out = NULL;
    uint32_t v = host_max < TINY_MAX ? host_max : TINY_MAX;
    if (v < host_min || v < TINY_MIN) return set_error(err, KILN_ERR_PROVIDER, "tiny speaks ABI 1.0 only");
    tiny_lib *l = host->alloc(host_ctx, sizeof(*l), 16);
    if (!l) return set_error(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    memset(l, 0, sizeof(*l));
    l->pub.hdr.struct_size = sizeof(l->pub);
    l->pub.hdr.abi_version = v;
    l->pub.name = "tiny";
    l->pub.version = "1";
    l->pub.device_count = device_count;
    l->pub.device_info = device_info;
    l->pub.mem_kind_info = mem_kind_info;
    l->pub.create_provider = create_provider;
    l->pub.release = library_release;
    l->host = host;
    l->host_ctx = host_ctx;
    *out = &l->pub;
    return KILN_OK;
}
