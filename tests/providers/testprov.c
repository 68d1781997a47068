/* SPDX-License-Identifier: MIT */
/* Provider libraries for the tests, one per TP_MODE: broken ones (no entry symbol, a version
 * answered blindly, no common version, failing init, a NULL slot, zero devices, a failing or
 * silent kernel, failing device memory, a claim_groups that misuses the sink, a kernel that
 * relabels its output's dtype) and well-behaved
 * ones for partitioning rules (host-memory Add kernels claiming, insisting on shape-only nodes,
 * or declining after the claim), and a 1.1 provider whose table ends at the 1.1 layout (slots past
 * it hold a trap the host must never call). Built only against kiln_provider.h. */
#include <stddef.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kiln_provider.h"

/* Macros, not an enum: TP_NOSYM is tested by the preprocessor. Numbers as in meson.build. */
#define TP_NOSYM 1
#define TP_BLIND 2
#define TP_FUTURE 3
#define TP_INITFAIL 4
#define TP_NULLSLOT 5
#define TP_NOLIBSLOT 6
#define TP_ZERODEV 7
#define TP_KERNELFAIL 8
#define TP_SILENT 9
#define TP_ALLOCFAIL 10
#define TP_GREEDY 11
#define TP_INSIST 12
#define TP_DECLINE 13
#define TP_BADGROUP 14
#define TP_V11 15     /* speaks ABI 1.1 only; its provider table is cut at the 1.1 layout */
#define TP_WRONGDTYPE 16
#ifndef TP_MODE
#error "TP_MODE selects the library"
#endif

/* Modes with a device memory kind (its kernels read and write it). */
#define TP_DEVICE (TP_MODE == TP_NULLSLOT || TP_MODE == TP_ALLOCFAIL)

static int32_t fail(kiln_error *err, int32_t status, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

typedef struct tp {
    kiln_provider abi;
    const kiln_host_api *host;
    void *host_ctx;
} tp;

typedef struct tp_kernel {
    kiln_kernel abi;
    tp *p;
    int32_t dtype;
} tp_kernel;

static int is(const kiln_host_api *h, const kiln_node_view *n, const char *op) {
    return !*h->node_domain(n) && !strcmp(h->node_op_type(n), op);
}

static int32_t in_dtype(const kiln_host_api *h, const kiln_node_view *n, uint32_t i) {
    kiln_value_info vi;
    memset(&vi, 0, sizeof(vi));
    vi.hdr.struct_size = sizeof(vi);
    return h->node_input_info(n, i, &vi) == KILN_OK && vi.kind == KILN_VALUE_TENSOR ? vi.dtype : 0;
}

static const char *target_op(void) {
    return TP_MODE == TP_GREEDY || TP_MODE == TP_INSIST || TP_MODE == TP_BADGROUP || TP_MODE == TP_V11 ? "Add" : "Relu";
}

static int32_t claim_node(kiln_provider *p, const kiln_node_view *n, int32_t *claim, kiln_error *err) {
    tp *t = (tp *)p;
    (void)err;
    int32_t dt = in_dtype(t->host, n, 0);
    int ok = is(t->host, n, target_op()) && (dt == KILN_DTYPE_FLOAT || (TP_MODE != TP_KERNELFAIL && dt == KILN_DTYPE_INT64));
    *claim = !ok ? KILN_CLAIM_NO : TP_MODE == TP_INSIST ? KILN_CLAIM_KERNEL_INSIST : KILN_CLAIM_KERNEL;
    return KILN_OK;
}

static void kernel_release(kiln_kernel *k) {
    tp_kernel *tk = (tp_kernel *)k;
    tk->p->host->free(tk->p->host_ctx, tk);
}

/* Relu or a same-shape Add, in host memory; or the simulated faults. */
static int32_t compute(kiln_kernel *k, kiln_kernel_ctx *ctx, kiln_error *err) {
    tp_kernel *tk = (tp_kernel *)k;
    if (TP_MODE == TP_KERNELFAIL) return fail(err, KILN_ERR_PROVIDER, "simulated device fault");
    if (TP_MODE == TP_SILENT) return 42;
    const kiln_value_desc *a = ctx->inputs[0], *b = ctx->n_inputs > 1 ? ctx->inputs[1] : NULL;
    kiln_value_desc *o = ctx->outputs[0];
    if (!o || a->mem_kind || (b && (b->mem_kind || b->count != a->count)) || o->count != a->count)
        return fail(err, KILN_ERR_SHAPE, "inputs must be same-shape host tensors");
    for (uint64_t i = 0; i < a->count; i++) {
        if (tk->dtype == KILN_DTYPE_INT64) {
            const int64_t *x = a->data, *y = b ? b->data : NULL;
            ((int64_t *)o->data)[i] = y ? x[i] + y[i] : (x[i] > 0 ? x[i] : 0);
        } else {
            const float *x = a->data, *y = b ? b->data : NULL;
            ((float *)o->data)[i] = y ? x[i] + y[i] : (x[i] > 0 ? x[i] : 0.0f);
        }
    }
    if (TP_MODE == TP_WRONGDTYPE) o->dtype = KILN_DTYPE_INT64; /* breaks the contract: readers must refuse it */
    return KILN_OK;
}

static int32_t create_kernel(kiln_provider *p, const kiln_node_view *n, kiln_kernel **out, kiln_error *err) {
    tp *t = (tp *)p;
    *out = NULL;
    if (TP_MODE == TP_DECLINE) return fail(err, KILN_ERR_UNSUPPORTED, "declined after claiming");
    tp_kernel *k = t->host->alloc(t->host_ctx, sizeof(*k), 16);
    if (!k) return fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    memset(k, 0, sizeof(*k));
    k->abi.hdr.struct_size = sizeof(k->abi);
    k->abi.hdr.abi_version = p->hdr.abi_version;
    k->abi.compute = compute;
    k->abi.release = kernel_release;
    k->p = t;
    k->dtype = in_dtype(t->host, n, 0);
    *out = &k->abi;
    return KILN_OK;
}

/* Proposes the first node twice in one group: the host must refuse it. */
static int32_t claim_groups(kiln_provider *p, const kiln_graph_view *g, kiln_claim_sink *sink, kiln_error *err) {
    tp *t = (tp *)p;
    const kiln_node_view *n[2] = {t->host->graph_node_at(g, 0), t->host->graph_node_at(g, 0)};
    return n[0] ? t->host->claim_group(sink, n, 2, 0, err) : KILN_OK;
}

static int32_t compile_group(kiln_provider *p, const kiln_graph_view *g, kiln_kernel **out, kiln_error *err) {
    (void)p, (void)g;
    *out = NULL;
    return fail(err, KILN_ERR_UNSUPPORTED, "no groups");
}

static int32_t mem_alloc(kiln_provider *p, uint32_t kind, uint64_t bytes, void **block, kiln_error *err) {
    (void)p, (void)kind;
    *block = NULL;
    return fail(err, KILN_ERR_OUT_OF_MEMORY, "device memory exhausted (simulated) asking %llu bytes", (unsigned long long)bytes);
}

static void mem_free(kiln_provider *p, uint32_t kind, void *block) { (void)p, (void)kind, (void)block; }

static int32_t copy(kiln_provider *p, const kiln_copy_region *const *r, uint32_t n, kiln_stream *s, kiln_error *err) {
    (void)p, (void)r, (void)n, (void)s;
    return fail(err, KILN_ERR_PROVIDER, "this device holds no memory");
}

static void release(kiln_provider *p) {
    tp *t = (tp *)p;
    t->host->free(t->host_ctx, t);
}

#if TP_MODE == TP_V11
/* Lies past the 1.1 table's struct_size: a host reading it crashes the test. */
static int32_t trap_hook(kiln_provider *p, struct kiln_run_info *run, kiln_error *err) {
    (void)p, (void)run, (void)err;
    fprintf(stderr, "testprov: the host called a slot past the 1.1 table\n");
    abort();
}
#endif

static int32_t create_provider(kiln_provider_library *lib, const kiln_provider_params *prm, kiln_provider **out, kiln_error *err) {
    tp *t = prm->host->alloc(prm->host_ctx, sizeof(*t), 16);
    *out = NULL;
    if (!t) return fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    memset(t, 0, sizeof(*t));
    t->abi.hdr.struct_size = sizeof(t->abi);
    t->abi.hdr.abi_version = lib->hdr.abi_version;
    t->abi.name = "testprov";
    t->abi.claim_node = claim_node;
    t->abi.create_kernel = create_kernel;
    t->abi.release = release;
    t->abi.mem_kind = TP_DEVICE ? prm->mem_kind_ids[0] : 0;
    if (TP_MODE == TP_BADGROUP) {
        t->abi.claim_groups = claim_groups;
        t->abi.compile_group = compile_group;
    }
    if (TP_DEVICE) {
        t->abi.mem_alloc = mem_alloc;
        t->abi.mem_free = mem_free;
        t->abi.copy = TP_MODE == TP_NULLSLOT ? NULL : copy;
    }
    t->host = prm->host;
    t->host_ctx = prm->host_ctx;
#if TP_MODE == TP_V11
    prm->host->log(KILN_LOG_INFO, "testprov", "a 1.1 provider instance was created");
    t->abi.hdr.struct_size = (uint32_t)offsetof(kiln_provider, run_begin); /* the 1.1 layout */
    t->abi.run_begin = trap_hook;
    t->abi.run_end = trap_hook;
#endif
    *out = &t->abi;
    return KILN_OK;
}

static uint32_t device_count(kiln_provider_library *lib) {
    (void)lib;
    return TP_MODE == TP_ZERODEV ? 0 : 1;
}

static int32_t device_info(kiln_provider_library *lib, uint32_t d, kiln_device_info *info, kiln_error *err) {
    if (d != 0) return fail(err, KILN_ERR_INVALID_ARGUMENT, "one device");
    kiln_device_info di;
    memset(&di, 0, sizeof(di));
    di.hdr.struct_size = info->hdr.struct_size;
    di.hdr.abi_version = lib->hdr.abi_version;
    di.id = "testprov:0";
    di.name = "test device";
    di.type = KILN_DEVICE_OTHER;
    di.n_mem_kinds = TP_DEVICE ? 1 : 0;
    di.caps = KILN_DEVICE_CAP_CONCURRENT_RUNS;
    memcpy(info, &di, info->hdr.struct_size < sizeof(di) ? info->hdr.struct_size : sizeof(di));
    return KILN_OK;
}

static int32_t mem_kind_info(kiln_provider_library *lib, uint32_t d, uint32_t k, kiln_mem_kind_info *info, kiln_error *err) {
    if (d || k) return fail(err, KILN_ERR_INVALID_ARGUMENT, "one kind");
    kiln_mem_kind_info mi;
    memset(&mi, 0, sizeof(mi));
    mi.hdr.struct_size = info->hdr.struct_size;
    mi.hdr.abi_version = lib->hdr.abi_version;
    mi.name = "testprov:mem";
    mi.alignment = 64;
    memcpy(info, &mi, info->hdr.struct_size < sizeof(mi) ? info->hdr.struct_size : sizeof(mi));
    return KILN_OK;
}

typedef struct tp_library {
    kiln_provider_library abi;
    const kiln_host_api *host;
    void *host_ctx;
} tp_library;

static void library_release(kiln_provider_library *lib) {
    tp_library *l = (tp_library *)lib;
    l->host->free(l->host_ctx, l);
}

#if TP_MODE == TP_NOSYM
#define ENTRY kiln_provider_entry_v0
#else
#define ENTRY kiln_provider_entry
#endif

KILN_PROVIDER_EXPORT int32_t ENTRY(const kiln_host_api *host, void *host_ctx, uint32_t lo, uint32_t hi,
                                   kiln_provider_library **out, kiln_error *err);
KILN_PROVIDER_EXPORT int32_t ENTRY(const kiln_host_api *host, void *host_ctx, uint32_t lo, uint32_t hi,
                                   kiln_provider_library **out, kiln_error *err) {
    *out = NULL;
    uint32_t v = TP_MODE == TP_V11 ? KILN_ABI_MAKE(1, 1) : KILN_ABI_VERSION;
    if (TP_MODE == TP_INITFAIL) return fail(err, KILN_ERR_PROVIDER, "device driver not found (simulated)");
    if (TP_MODE == TP_FUTURE) {
        /* Speaks 2.0 only: the right answer to a 1.x host is a clean refusal. */
        if (lo > KILN_ABI_MAKE(2, 0) || hi < KILN_ABI_MAKE(2, 0))
            return fail(err, KILN_ERR_PROVIDER, "testprov speaks ABI 2.0 only");
        v = KILN_ABI_MAKE(2, 0);
    } else if (TP_MODE == TP_BLIND) {
        v = KILN_ABI_MAKE(1, 7); /* its build-time version, whatever the host offered */
    } else if (lo > v || hi < v) {
        return fail(err, KILN_ERR_PROVIDER, "testprov speaks ABI %u.%u only", KILN_ABI_MAJOR(v), KILN_ABI_MINOR(v));
    }
    tp_library *l = host->alloc(host_ctx, sizeof(*l), 16);
    if (!l) return fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    memset(l, 0, sizeof(*l));
    l->abi.hdr.struct_size = sizeof(l->abi);
    l->abi.hdr.abi_version = v;
    l->abi.name = "testprov";
    l->abi.version = "0";
    l->abi.device_count = device_count;
    l->abi.device_info = TP_MODE == TP_NOLIBSLOT ? NULL : device_info;
    l->abi.mem_kind_info = mem_kind_info;
    l->abi.create_provider = create_provider;
    l->abi.release = library_release;
    l->host = host;
    l->host_ctx = host_ctx;
    *out = &l->abi;
    return KILN_OK;
}
