/* SPDX-License-Identifier: MIT */
/* Providers of a session: kiln_session_options_append_provider, finding a provider library by
 * path or by name, dlopen, the entry point and ABI version negotiation, checking every struct
 * and required slot a provider returns, instances and their memory kinds, the built-in CPU
 * provider (loaded the same way, asked last), device tensors and copies between kinds. */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "graph/ir.h"
#include "runtime/providers.h"

#ifndef KILN_PROVIDER_DIR
#error "KILN_PROVIDER_DIR (the install folder of provider libraries) must be defined by the build"
#endif

/* Bytes of a struct up to and including its last member of ABI 1.0: what a 1.0 writer fills. */
#define SIZE_1_0(type, last) (offsetof(type, last) + sizeof(((type *)0)->last))

#define V_ARGS(v) KILN_ABI_MAJOR(v), KILN_ABI_MINOR(v)

/* ---- session options ---- */

static void request_free(kiln_provider_request *rq) {
    free(rq->what);
    for (uint32_t i = 0; i < rq->n_options; i++) {
        free(rq->keys[i]);
        free(rq->values[i]);
    }
    free(rq->keys);
    free(rq->values);
}

void kiln_provider_requests_free(kiln_session_options *opts) {
    for (uint32_t i = 0; i < opts->n_providers; i++) request_free(&opts->providers[i]);
    free(opts->providers);
    opts->providers = NULL;
    opts->n_providers = 0;
}

static char *dup_n(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

kiln_status kiln_session_options_append_provider(kiln_session_options *opts, const char *path_or_name,
                                                 const char *const *options, kiln_error *err) {
    static const char fn[] = "kiln_session_options_append_provider";
    if (!opts || !path_or_name || !*path_or_name)
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "%s: NULL options or empty provider", fn);
    if (strcmp(path_or_name, "cpu") == 0)
        return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "%s: the CPU provider is built in and always asked last", fn);
    kiln_provider_request rq;
    memset(&rq, 0, sizeof(rq));
    size_t n = 0;
    while (options && options[n]) n++;
    if (n > 1024) return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "%s: %zu options (at most 1024)", fn, n);
    rq.what = dup_n(path_or_name, strlen(path_or_name));
    rq.keys = calloc(n + 1, sizeof(char *));
    rq.values = calloc(n + 1, sizeof(char *));
    kiln_status st = KILN_OK;
    if (!rq.what || !rq.keys || !rq.values) {
        st = kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(options[i], '=');
        if (!eq || eq == options[i]) {
            st = kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "%s: provider '%s': option '%s' is not key=value", fn,
                           path_or_name, options[i]);
            goto fail;
        }
        size_t kl = (size_t)(eq - options[i]);
        if (kl == 6 && strncmp(options[i], "device", 6) == 0) {
            /* Read by the host: which of the library's devices the instance runs on. */
            char *end;
            errno = 0;
            unsigned long d = strtoul(eq + 1, &end, 10);
            if (!eq[1] || *end || errno || d > UINT32_MAX - 1) {
                st = kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "%s: provider '%s': device '%s' is not a device index", fn,
                               path_or_name, eq + 1);
                goto fail;
            }
            rq.device = (uint32_t)d;
            continue;
        }
        if (kl == 8 && strncmp(options[i], "fallback", 8) == 0) {
            /* Read by the host: "error" fails the session when a node this provider does not
             * run would fall back to the CPU provider; "cpu" (the default) lets it. */
            if (strcmp(eq + 1, "error") != 0 && strcmp(eq + 1, "cpu") != 0) {
                st = kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "%s: provider '%s': fallback='%s' (expected cpu or error)", fn,
                               path_or_name, eq + 1);
                goto fail;
            }
            rq.no_fallback = strcmp(eq + 1, "error") == 0;
            continue;
        }
        rq.keys[rq.n_options] = dup_n(options[i], kl);
        rq.values[rq.n_options] = dup_n(eq + 1, strlen(eq + 1));
        rq.n_options++;
        if (!rq.keys[rq.n_options - 1] || !rq.values[rq.n_options - 1]) {
            st = kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
            goto fail;
        }
    }
    kiln_provider_request *list = realloc(opts->providers, (opts->n_providers + 1) * sizeof(*list));
    if (!list) {
        st = kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        goto fail;
    }
    opts->providers = list;
    list[opts->n_providers++] = rq;
    return KILN_OK;
fail:
    request_free(&rq);
    return st;
}

/* ---- locking and memory kinds ---- */

void kiln_prov_enter(kiln_prov *pv) {
    if (pv->serialize) pthread_mutex_lock(&pv->lock);
}

void kiln_prov_leave(kiln_prov *pv) {
    if (pv->serialize) pthread_mutex_unlock(&pv->lock);
}

kiln_status kiln_provider_status(int32_t st, kiln_error *err) {
    if (err) {
        err->msg[KILN_ERROR_MSG_MAX - 1] = '\0';
        if (!err->msg[0]) snprintf(err->msg, sizeof(err->msg), "failed with status %d and no message", (int)st);
    }
    kiln_status s = st > KILN_OK && st <= KILN_ERR_INTERNAL ? (kiln_status)st : KILN_ERR_PROVIDER;
    if (err) err->status = s;
    return s;
}

kiln_status kiln_kind_alloc(kiln_session *s, uint32_t kind, uint64_t bytes, void **block, kiln_error *err) {
    *block = NULL;
    kiln_providers *ps = s->providers;
    if (kind == 0 || kind >= ps->n_kinds) return kiln_fail(err, KILN_ERR_INTERNAL, "memory kind %u is not a device kind", kind);
    kiln_prov *pv = ps->kinds[kind].prov;
    kiln_error local;
    kiln_error_clear(&local);
    kiln_prov_enter(pv);
    int32_t st = pv->p->mem_alloc(pv->p, kind, bytes, block, &local);
    kiln_prov_leave(pv);
    if (st == KILN_OK && !*block) {
        st = KILN_ERR_PROVIDER;
        snprintf(local.msg, sizeof(local.msg), "mem_alloc returned no block");
    }
    if (st != KILN_OK) {
        *block = NULL;
        kiln_status k = kiln_provider_status(st, &local);
        return kiln_fail(err, k, "the %s provider could not allocate %llu bytes of '%s': %s", pv->name,
                         (unsigned long long)bytes, ps->kinds[kind].name, local.msg);
    }
    return KILN_OK;
}

void kiln_kind_free(const kiln_kind *k, void *block) {
    if (!block || !k->prov) return;
    kiln_prov *pv = k->prov;
    kiln_prov_enter(pv);
    pv->p->mem_free(pv->p, k->id, block);
    kiln_prov_leave(pv);
}

/* One batched copy through provider pv, finished on return: on its stream when it has one,
 * then waiting for an event recorded after the batch. */
static kiln_status prov_copy(kiln_prov *pv, const kiln_copy_region *const *regions, uint32_t n, kiln_error *err) {
    kiln_error local;
    kiln_error_clear(&local);
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < n; i++) bytes += regions[i]->bytes;
    kiln_prov_enter(pv);
    int32_t st = pv->p->copy(pv->p, regions, n, pv->stream, &local);
    if (st == KILN_OK && pv->stream) {
        kiln_event *ev = NULL;
        st = pv->stream->record(pv->stream, &ev, &local);
        if (st == KILN_OK && !ev) {
            st = KILN_ERR_PROVIDER;
            snprintf(local.msg, sizeof(local.msg), "stream record returned no event");
        }
        if (st == KILN_OK) st = ev->wait(ev, &local);
        if (ev) ev->release(ev);
    }
    if (st != KILN_OK && pv->stream) {
        /* Nothing may stay queued on memory the caller frees after this failure. */
        kiln_error ignored;
        pv->stream->synchronize(pv->stream, &ignored);
    }
    kiln_prov_leave(pv);
    if (st != KILN_OK) {
        kiln_status k = kiln_provider_status(st, &local);
        return kiln_fail(err, k, "the %s provider failed to copy %llu bytes: %s", pv->name, (unsigned long long)bytes,
                         local.msg);
    }
    atomic_fetch_add(&pv->copy_calls, 1);
    atomic_fetch_add(&pv->copy_bytes, bytes);
    return KILN_OK;
}

kiln_status kiln_kind_copy(kiln_session *s, const kiln_copy_region *const *regions, uint32_t n,
                           const kiln_allocator *a, kiln_error *err) {
    if (!n) return KILN_OK;
    const kiln_providers *ps = s->providers;
    uint32_t src = regions[0]->src_kind, dst = regions[0]->dst_kind;
    if (src >= ps->n_kinds || dst >= ps->n_kinds)
        return kiln_fail(err, KILN_ERR_INTERNAL, "copy between unknown memory kinds %u and %u", src, dst);
    kiln_prov *ps_src = ps->kinds[src].prov, *ps_dst = ps->kinds[dst].prov;
    if (!ps_src && !ps_dst) {
        for (uint32_t i = 0; i < n; i++)
            if (regions[i]->bytes)
                memcpy((char *)regions[i]->dst + regions[i]->dst_offset,
                       (const char *)regions[i]->src + regions[i]->src_offset, (size_t)regions[i]->bytes);
        return KILN_OK;
    }
    if (!ps_src || !ps_dst || ps_src == ps_dst) return prov_copy(ps_src ? ps_src : ps_dst, regions, n, err);
    /* Two providers: through host memory, one batch out of the source and one into the target. */
    kiln_copy_region *stage = kiln_mem_calloc(a, (size_t)n * 2, sizeof(*stage));
    const kiln_copy_region **ptrs = kiln_mem_calloc(a, n, sizeof(*ptrs));
    void **bufs = kiln_mem_calloc(a, n, sizeof(*bufs));
    kiln_status st = KILN_OK;
    if (!stage || !ptrs || !bufs) {
        st = kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory staging a copy");
        goto done;
    }
    for (uint32_t i = 0; i < n && st == KILN_OK; i++) {
        bufs[i] = regions[i]->bytes ? kiln_mem_alloc(a, (size_t)regions[i]->bytes) : NULL;
        if (regions[i]->bytes && !bufs[i]) st = kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory staging a copy");
        stage[i] = *regions[i];
        stage[i].dst_kind = 0;
        stage[i].dst = bufs[i];
        stage[i].dst_offset = 0;
        stage[n + i] = *regions[i];
        stage[n + i].src_kind = 0;
        stage[n + i].src = bufs[i];
        stage[n + i].src_offset = 0;
    }
    for (uint32_t i = 0; i < n; i++) ptrs[i] = &stage[i];
    if (st == KILN_OK) st = prov_copy(ps_src, ptrs, n, err);
    for (uint32_t i = 0; i < n; i++) ptrs[i] = &stage[n + i];
    if (st == KILN_OK) st = prov_copy(ps_dst, ptrs, n, err);
done:
    for (uint32_t i = 0; bufs && i < n; i++) kiln_mem_free(a, bufs[i]);
    kiln_mem_free(a, bufs);
    kiln_mem_free(a, ptrs);
    kiln_mem_free(a, stage);
    return st;
}

static kiln_status device_value_alloc(kiln_session *s, const kiln_value *v, int32_t dtype, int32_t rank, const int64_t *dims,
                                      kiln_tensor **out, kiln_error *err);

kiln_status kiln_value_alloc(kiln_session *s, const kiln_value *v, int32_t dtype, int32_t rank, const int64_t *dims,
                             kiln_tensor **out, kiln_error *err) {
    const kiln_allocator *a = &s->env->alloc;
    uint64_t taken;
    *out = NULL;
    KILN_TRY(kiln_budget_take_tensor(s, v, dtype, rank, dims, &taken, err)); /* memory limit: before allocating */
    kiln_status st = !v || v->mem_kind == 0 ? kiln_tensor_new(a, dtype, rank, dims, out, err)
                                             : device_value_alloc(s, v, dtype, rank, dims, out, err);
    if (st != KILN_OK) {
        kiln_budget_give(&s->budget, taken);
        return st;
    }
    if (taken && taken == (*out)->nbytes) (*out)->budget = &s->budget; /* given back when it is destroyed */
    else kiln_budget_give(&s->budget, taken);
    return KILN_OK;
}

static kiln_status device_value_alloc(kiln_session *s, const kiln_value *v, int32_t dtype, int32_t rank, const int64_t *dims,
                                      kiln_tensor **out, kiln_error *err) {
    const kiln_allocator *a = &s->env->alloc;
    int64_t count;
    size_t bytes;
    if (rank < 0 || rank > KILN_MAX_RANK || !kiln_dims_count(dims, rank, &count) || dtype == KILN_DTYPE_STRING ||
        !kiln_dtype_storage(dtype, count, &bytes))
        return kiln_fail(err, KILN_ERR_SHAPE, "value '%s': a %s tensor of rank %d cannot be placed in device memory", v->name,
                         kiln_dtype_name((kiln_dtype)dtype), (int)rank);
    kiln_tensor *t = kiln_mem_calloc(a, 1, sizeof(*t));
    if (!t) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    kiln_desc_init(&t->desc);
    t->desc.dims = t->dims;
    t->alloc = a;
    void *block;
    kiln_status st = kiln_kind_alloc(s, v->mem_kind, bytes, &block, err);
    if (st != KILN_OK) {
        kiln_mem_free(a, t);
        return kiln_error_prefix(err, "value '%s': ", v->name);
    }
    t->kind = &s->providers->kinds[v->mem_kind];
    t->owned = block;
    t->nbytes = bytes;
    t->desc.kind = KILN_VALUE_TENSOR;
    t->desc.dtype = dtype;
    t->desc.rank = rank;
    t->desc.mem_kind = (int32_t)v->mem_kind;
    for (int32_t i = 0; i < rank; i++) t->dims[i] = dims[i];
    t->desc.data = block;
    t->desc.count = (uint64_t)count;
    *out = t;
    return KILN_OK;
}

/* ---- loading ---- */

/* Finds `what`: a path when it names a folder or ends in ".so", else kiln-provider-NAME.so in
 * each folder of KILN_PROVIDER_PATH, then in the install folder. */
static kiln_status resolve(const char *what, char *path, size_t size, kiln_error *err) {
    struct stat st;
    size_t wl = strlen(what);
    if (strchr(what, '/') || (wl > 3 && strcmp(what + wl - 3, ".so") == 0)) {
        if (stat(what, &st) != 0)
            return kiln_fail(err, KILN_ERR_PROVIDER, "provider '%s': not found (%s)", what, strerror(errno));
        if (!S_ISREG(st.st_mode)) return kiln_fail(err, KILN_ERR_PROVIDER, "provider '%s': not a regular file", what);
        snprintf(path, size, "%s", what);
        return KILN_OK;
    }
    for (const char *c = what; *c; c++)
        if (!(*c == '-' || *c == '_' || *c == '.' || (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') ||
              (*c >= 'A' && *c <= 'Z')))
            return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "provider name '%s' may hold only letters, digits, '-', '_' and '.'",
                             what);
    const char *env_path = getenv("KILN_PROVIDER_PATH");
    const char *dirs[2] = {env_path ? env_path : "", KILN_PROVIDER_DIR};
    for (int d = 0; d < 2; d++) {
        const char *p = dirs[d];
        while (*p) {
            const char *end = strchr(p, ':');
            size_t n = end ? (size_t)(end - p) : strlen(p);
            if (n && (size_t)snprintf(path, size, "%.*s/kiln-provider-%s.so", (int)n, p, what) < size &&
                stat(path, &st) == 0 && S_ISREG(st.st_mode))
                return KILN_OK;
            p += n + (end ? 1 : 0);
        }
    }
    return kiln_fail(err, KILN_ERR_PROVIDER,
                     "provider '%s': not found: no kiln-provider-%s.so in KILN_PROVIDER_PATH ('%s') or in %s", what, what,
                     env_path ? env_path : "", KILN_PROVIDER_DIR);
}

static void prov_free(kiln_session *s, kiln_prov *pv) {
    if (!pv) return;
    const kiln_allocator *a = &s->env->alloc;
    if (pv->stream) pv->stream->release(pv->stream);
    if (pv->p) pv->p->release(pv->p);
    if (pv->lib) pv->lib->release(pv->lib);
    if (pv->dl) dlclose(pv->dl);
    if (pv->lock_ready) pthread_mutex_destroy(&pv->lock);
    kiln_mem_free(a, pv->path);
    kiln_mem_free(a, pv);
}

static char *heap_strdup(const kiln_allocator *a, const char *s) {
    size_t n = strlen(s) + 1;
    char *d = kiln_mem_alloc(a, n);
    if (d) memcpy(d, s, n);
    return d;
}

/* Checks a struct the provider returned: header, size for the negotiated version. */
static kiln_status check_header(const kiln_prov *pv, const kiln_abi_header *h, const char *type, size_t need,
                                kiln_error *err) {
    if (h->abi_version != pv->version)
        return kiln_fail(err, KILN_ERR_PROVIDER, "provider '%s': its %s is stamped ABI %u.%u, but %u.%u was negotiated",
                         pv->path, type, V_ARGS(h->abi_version), V_ARGS(pv->version));
    if (h->struct_size < need)
        return kiln_fail(err, KILN_ERR_PROVIDER, "provider '%s': its %s is %u bytes, ABI %u.%u needs at least %zu", pv->path,
                         type, h->struct_size, V_ARGS(pv->version), need);
    return KILN_OK;
}

#define NEED_SLOT(obj, type, slot)                                                                               \
    do {                                                                                                         \
        if (!(obj)->slot)                                                                                        \
            return kiln_fail(err, KILN_ERR_PROVIDER, "provider '%s': required slot '" #slot "' of " #type " is NULL", \
                             pv->path);                                                                          \
    } while (0)

/* Calls the entry point and checks the library it returns. */
static kiln_status open_library(kiln_session *s, kiln_prov *pv, kiln_provider_entry_fn entry, kiln_error *err) {
    kiln_error local;
    kiln_error_clear(&local);
    kiln_provider_library *lib = NULL;
    int32_t st = entry(&kiln_host, s->env, KILN_ABI_VERSION_MIN, KILN_ABI_VERSION, &lib, &local);
    if (st != KILN_OK) {
        /* Whatever it left in `lib` is not trusted, so not released. */
        kiln_status k = kiln_provider_status(st, &local);
        return kiln_fail(err, k, "provider '%s': initialization failed: %s", pv->path, local.msg);
    }
    if (!lib) return kiln_fail(err, KILN_ERR_PROVIDER, "provider '%s': the entry point returned no library", pv->path);
    uint32_t v = lib->hdr.abi_version;
    /* Within this major version the layout up to `release` is known, so it can be released. */
    if (KILN_ABI_MAJOR(v) == KILN_ABI_MAJOR(KILN_ABI_VERSION) && lib->hdr.struct_size >= SIZE_1_0(kiln_provider_library, release) &&
        lib->release)
        pv->lib = lib;
    if (v < KILN_ABI_VERSION_MIN || v > KILN_ABI_VERSION)
        return kiln_fail(err, KILN_ERR_PROVIDER,
                         "provider '%s': answered ABI version %u.%u, outside the range %u.%u-%u.%u the host offered", pv->path,
                         V_ARGS(v), V_ARGS(KILN_ABI_VERSION_MIN), V_ARGS(KILN_ABI_VERSION));
    pv->version = v;
    KILN_TRY(check_header(pv, &lib->hdr, "kiln_provider_library", SIZE_1_0(kiln_provider_library, release), err));
    NEED_SLOT(lib, kiln_provider_library, release);
    NEED_SLOT(lib, kiln_provider_library, name);
    NEED_SLOT(lib, kiln_provider_library, device_count);
    NEED_SLOT(lib, kiln_provider_library, device_info);
    NEED_SLOT(lib, kiln_provider_library, create_provider);
    if (!lib->name[0]) return kiln_fail(err, KILN_ERR_PROVIDER, "provider '%s': the library's name is empty", pv->path);
    return KILN_OK;
}

/* Checks a provider instance: header, required slots, its memory kind. */
static kiln_status check_provider(kiln_prov *pv, kiln_provider *p, uint32_t n_dev_kinds, kiln_error *err) {
    KILN_TRY(check_header(pv, &p->hdr, "kiln_provider", SIZE_1_0(kiln_provider, create_stream), err));
    NEED_SLOT(p, kiln_provider, release);
    NEED_SLOT(p, kiln_provider, name);
    if (!p->name[0]) return kiln_fail(err, KILN_ERR_PROVIDER, "provider '%s': the instance's name is empty", pv->path);
    if (!p->claim_node && !p->claim_groups)
        return kiln_fail(err, KILN_ERR_PROVIDER, "provider '%s': required slot 'claim_node' of kiln_provider is NULL (and so is claim_groups)",
                         pv->path);
    if (p->claim_node) NEED_SLOT(p, kiln_provider, create_kernel);
    if (p->claim_groups) NEED_SLOT(p, kiln_provider, compile_group);
    if (n_dev_kinds) {
        NEED_SLOT(p, kiln_provider, mem_alloc);
        NEED_SLOT(p, kiln_provider, mem_free);
        NEED_SLOT(p, kiln_provider, copy);
    }
    if (pv->caps & KILN_DEVICE_CAP_STREAMS) NEED_SLOT(p, kiln_provider, create_stream);
    if (p->mem_kind != 0 && (p->mem_kind < pv->first_kind || p->mem_kind >= pv->first_kind + pv->n_kinds))
        return kiln_fail(err, KILN_ERR_PROVIDER, "provider '%s': its kernels' memory kind %u is not one of its device's kinds",
                         pv->path, p->mem_kind);
    return KILN_OK;
}

/* Instance of an opened library on device rq->device; kinds appended to the session's table. */
static kiln_status create_instance(kiln_session *s, kiln_prov *pv, const kiln_provider_request *rq, kiln_error *err) {
    kiln_providers *ps = s->providers;
    const kiln_allocator *a = &s->env->alloc;
    kiln_provider_library *lib = pv->lib;
    kiln_error local;
    kiln_error_clear(&local);
    kiln_device_info di;
    memset(&di, 0, sizeof(di));
    di.hdr.struct_size = sizeof(di);
    di.hdr.abi_version = pv->version;
    int32_t st = lib->device_info(lib, rq->device, &di, &local);
    if (st != KILN_OK)
        return kiln_fail(err, kiln_provider_status(st, &local), "provider '%s': device %u: %s", pv->path, rq->device, local.msg);
    pv->device = rq->device;
    pv->caps = di.caps;
    pv->device_id = di.id ? di.id : "";
    if (di.n_mem_kinds > 64)
        return kiln_fail(err, KILN_ERR_PROVIDER, "provider '%s': device %u declares %u memory kinds (at most 64)", pv->path,
                         rq->device, di.n_mem_kinds);
    if (di.n_mem_kinds && !lib->mem_kind_info)
        return kiln_fail(err, KILN_ERR_PROVIDER, "provider '%s': required slot 'mem_kind_info' of kiln_provider_library is NULL",
                         pv->path);
    kiln_kind *kinds = kiln_mem_grow(a, ps->kinds, ps->n_kinds * sizeof(*kinds), (ps->n_kinds + di.n_mem_kinds) * sizeof(*kinds));
    if (!kinds) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    ps->kinds = kinds;
    pv->first_kind = ps->n_kinds;
    uint32_t ids[64];
    for (uint32_t k = 0; k < di.n_mem_kinds; k++) {
        kiln_mem_kind_info mi;
        memset(&mi, 0, sizeof(mi));
        mi.hdr.struct_size = sizeof(mi);
        mi.hdr.abi_version = pv->version;
        kiln_error_clear(&local);
        st = lib->mem_kind_info(lib, rq->device, k, &mi, &local);
        if (st != KILN_OK)
            return kiln_fail(err, kiln_provider_status(st, &local), "provider '%s': memory kind %u of device %u: %s", pv->path, k,
                             rq->device, local.msg);
        if (!mi.alignment || (mi.alignment & (mi.alignment - 1)))
            return kiln_fail(err, KILN_ERR_PROVIDER, "provider '%s': memory kind %u has alignment %u (not a power of two)",
                             pv->path, k, mi.alignment);
        kiln_kind *kd = &kinds[ps->n_kinds];
        memset(kd, 0, sizeof(*kd));
        kd->id = ps->n_kinds;
        snprintf(kd->name, sizeof(kd->name), "%s", mi.name && mi.name[0] ? mi.name : lib->name);
        kd->alignment = mi.alignment;
        kd->prov = pv;
        ids[k] = ps->n_kinds++;
        pv->n_kinds++;
    }
    kiln_provider_params prm;
    memset(&prm, 0, sizeof(prm));
    prm.hdr.struct_size = sizeof(prm);
    prm.hdr.abi_version = pv->version;
    prm.host = &kiln_host;
    prm.host_ctx = s->env;
    prm.device = rq->device;
    prm.n_options = rq->n_options;
    prm.option_keys = (const char *const *)rq->keys;
    prm.option_values = (const char *const *)rq->values;
    prm.mem_kind_ids = ids;
    kiln_error_clear(&local);
    kiln_provider *p = NULL;
    st = lib->create_provider(lib, &prm, &p, &local);
    if (st != KILN_OK) {
        return kiln_fail(err, kiln_provider_status(st, &local), "provider '%s': creating an instance on device %u failed: %s",
                         pv->path, rq->device, local.msg);
    }
    if (!p) return kiln_fail(err, KILN_ERR_PROVIDER, "provider '%s': create_provider returned no instance", pv->path);
    if (p->hdr.struct_size >= SIZE_1_0(kiln_provider, release) && p->release) pv->p = p;
    KILN_TRY(check_provider(pv, p, di.n_mem_kinds, err));
    pv->name = p->name;
    if ((pv->caps & KILN_DEVICE_CAP_STREAMS) && p->create_stream) {
        kiln_error_clear(&local);
        st = p->create_stream(p, &pv->stream, &local);
        if (st == KILN_OK && (!pv->stream || !pv->stream->record || !pv->stream->synchronize || !pv->stream->release ||
                              pv->stream->hdr.struct_size < SIZE_1_0(kiln_stream, release)))
            return kiln_fail(err, KILN_ERR_PROVIDER, "provider '%s': create_stream returned an incomplete stream", pv->path);
        if (st != KILN_OK)
            return kiln_fail(err, kiln_provider_status(st, &local), "provider '%s': creating a stream failed: %s", pv->path,
                             local.msg);
    }
    pv->serialize = !(pv->caps & KILN_DEVICE_CAP_CONCURRENT_RUNS);
    pv->no_fallback = rq->no_fallback;
    /* ABI 1.2: kernels of an asynchronous device get its stream; the host waits only at copies
     * out of it and at the end of the run (runtime/device_run.c). */
    if (pv->version >= KILN_ABI_MAKE(1, 2) && (pv->caps & KILN_DEVICE_CAP_ASYNC_COMPUTE)) {
        if (!pv->stream)
            return kiln_fail(err, KILN_ERR_PROVIDER, "provider '%s': its device declares ASYNC_COMPUTE without STREAMS", pv->path);
        if (!p->mem_kind)
            return kiln_fail(err, KILN_ERR_PROVIDER, "provider '%s': ASYNC_COMPUTE with kernels in host memory (mem_kind 0)", pv->path);
        pv->compute_stream = pv->stream;
    }
    if (pv->version >= KILN_ABI_MAKE(1, 2) && KILN_ABI_HAS(p, kiln_provider, run_end) && !p->run_begin != !p->run_end)
        return kiln_fail(err, KILN_ERR_PROVIDER, "provider '%s': run_begin and run_end must both be set or both be NULL", pv->path);
    return KILN_OK;
}

/* Loads one provider (the built-in CPU one when `builtin`) and appends it to the list. */
static kiln_status load(kiln_session *s, const kiln_provider_request *rq, int builtin, kiln_error *err) {
    kiln_providers *ps = s->providers;
    const kiln_allocator *a = &s->env->alloc;
    char path[4096];
    kiln_provider_entry_fn entry = kiln_cpu_provider_entry;
    if (!builtin) KILN_TRY(resolve(rq->what, path, sizeof(path), err));
    kiln_prov *pv = kiln_mem_calloc(a, 1, sizeof(*pv));
    if (!pv) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    kiln_status st = KILN_OK;
    pv->path = heap_strdup(a, builtin ? "built-in" : path);
    if (!pv->path) {
        st = kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        goto fail;
    }
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pv->lock_ready = pthread_mutex_init(&pv->lock, &attr) == 0;
    pthread_mutexattr_destroy(&attr);
    if (!pv->lock_ready) {
        st = kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "cannot create a lock for provider '%s'", pv->path);
        goto fail;
    }
    if (!builtin) {
        /* RTLD_LOCAL: a provider's symbols never satisfy another's; RTLD_NOW: missing symbols
         * fail here, with a message, not in the middle of a run. */
        pv->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!pv->dl) {
            const char *why = dlerror();
            st = kiln_fail(err, KILN_ERR_PROVIDER, "provider '%s': not a loadable shared object: %s", path, why ? why : "");
            goto fail;
        }
        dlerror();
        void *sym = dlsym(pv->dl, KILN_PROVIDER_ENTRY_NAME);
        if (!sym) {
            st = kiln_fail(err, KILN_ERR_PROVIDER, "provider '%s': missing entry symbol '%s' (not a Kiln provider?)", path,
                           KILN_PROVIDER_ENTRY_NAME);
            goto fail;
        }
        memcpy(&entry, &sym, sizeof(entry)); /* POSIX: data and function pointers convert */
    }
    if ((st = open_library(s, pv, entry, err)) != KILN_OK) goto fail;
    uint32_t n_dev = pv->lib->device_count(pv->lib);
    if (n_dev == 0) {
        /* Zero devices is a valid answer: the provider takes no part in this session. */
        kiln_log(s->env, KILN_LOG_INFO, "provider '%s' (%s) found no device; it runs nothing", pv->lib->name, pv->path);
        kiln_prov_skipped *sk = kiln_mem_grow(a, ps->skipped, ps->n_skipped * sizeof(*sk), (ps->n_skipped + 1) * sizeof(*sk));
        if (!sk) {
            st = kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
            goto fail;
        }
        ps->skipped = sk;
        sk[ps->n_skipped].path = pv->path;
        sk[ps->n_skipped].name = heap_strdup(a, pv->lib->name);
        pv->path = NULL;
        if (!sk[ps->n_skipped++].name) st = kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        prov_free(s, pv);
        return st;
    }
    if (rq->device >= n_dev) {
        st = kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "provider '%s': device %u asked for, the library has %u", pv->path,
                       rq->device, n_dev);
        goto fail;
    }
    if ((st = create_instance(s, pv, rq, err)) != KILN_OK) goto fail;
    kiln_prov **list = kiln_mem_grow(a, ps->list, ps->n * sizeof(*list), (ps->n + 1) * sizeof(*list));
    if (!list) {
        st = kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        goto fail;
    }
    ps->list = list;
    pv->index = ps->n;
    list[ps->n++] = pv;
    return KILN_OK;
fail:
    /* Kinds this provider added stay in the table but point at nothing usable. */
    for (uint32_t k = 0; k < ps->n_kinds; k++)
        if (ps->kinds[k].prov == pv) ps->kinds[k].prov = NULL;
    prov_free(s, pv);
    return st;
}

kiln_status kiln_providers_create(kiln_session *s, const kiln_session_options *opts, kiln_error *err) {
    const kiln_allocator *a = &s->env->alloc;
    kiln_providers *ps = kiln_mem_calloc(a, 1, sizeof(*ps));
    if (!ps) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    s->providers = ps;
    ps->kinds = kiln_mem_calloc(a, 1, sizeof(*ps->kinds));
    if (!ps->kinds) return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    ps->n_kinds = 1;
    snprintf(ps->kinds[0].name, sizeof(ps->kinds[0].name), "host");
    ps->kinds[0].alignment = KILN_MEM_ALIGN;
    for (uint32_t i = 0; opts && i < opts->n_providers; i++) KILN_TRY(load(s, &opts->providers[i], 0, err));
    kiln_provider_request cpu;
    memset(&cpu, 0, sizeof(cpu));
    return load(s, &cpu, 1, err);
}

void kiln_providers_destroy(kiln_session *s) {
    kiln_providers *ps = s->providers;
    if (!ps) return;
    const kiln_allocator *a = &s->env->alloc;
    /* Last asked first: the CPU provider goes before the plugins whose libraries close. */
    for (uint32_t i = ps->n; i-- > 0;) prov_free(s, ps->list[i]);
    for (uint32_t i = 0; i < ps->n_skipped; i++) {
        kiln_mem_free(a, ps->skipped[i].path);
        kiln_mem_free(a, ps->skipped[i].name);
    }
    kiln_mem_free(a, ps->skipped);
    kiln_mem_free(a, ps->list);
    kiln_mem_free(a, ps->kinds);
    kiln_mem_free(a, ps);
    s->providers = NULL;
}
