/* SPDX-License-Identifier: MIT */
/* rt-ep-check: the conformance kit for a provider library. With a mock host it checks the ABI
 * rules (entry symbol, version negotiation against older, equal and newer host ranges, struct
 * headers, required slots, caps against slots), devices and memory kinds, allocation and copy
 * round trips (batched, offsets, streams and events) and injected allocation failures; through
 * libkiln it runs every ONNX backend test whose nodes the provider claims and compares with the
 * CPU provider and the expected outputs, injects allocation failures into sessions and runs
 * sessions from several threads. Every section runs in a child process, so a crash is a
 * failure in the report, not the end of it. Exit 0 only when every check passes. */
#include <dirent.h>
#include <dlfcn.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/values.h"
#include "kiln.h"
#include "kiln_provider.h"

#define SIZE_1_0(type, last) (offsetof(type, last) + sizeof(((type *)0)->last))
#define V(v) KILN_ABI_MAJOR(v), KILN_ABI_MINOR(v)
#define MAX_OPTIONS 64
#define MAX_TESTS 8192

typedef struct config {
    const char *so;
    const char *tests_dir;
    const char *filter;
    const char *options[MAX_OPTIONS + 1]; /* "key=value" */
    int n_options;
    int jobs, timeout_s, threads, verbose;
    double rtol, atol;
} config;

static config cfg;
static int out_fd = 1;           /* where a section child writes its result lines */

/* ---- result lines: "P text" or "F text", written by children, counted by the parent ---- */

static void result(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void result(int ok, const char *fmt, ...) {
    char line[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + 2, sizeof(line) - 3, fmt, ap);
    va_end(ap);
    line[0] = ok ? 'P' : 'F';
    line[1] = ' ';
    for (char *c = line + 2; *c; c++)
        if (*c == '\n') *c = ' ';
    dprintf(out_fd, "%s\n", line);
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...) {
    char line[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + 2, sizeof(line) - 3, fmt, ap);
    va_end(ap);
    line[0] = 'N';
    line[1] = ' ';
    for (char *c = line + 2; *c; c++)
        if (*c == '\n') *c = ' ';
    dprintf(out_fd, "%s\n", line);
}

static int passed, failed;

/* Runs fn in a child with a time limit; prints its lines under `name`. */
static void section(const char *name, void (*fn)(void), int timeout_s) {
    int p[2];
    if (pipe(p) != 0) {
        printf("[%s] FAIL cannot create a pipe\n", name);
        failed++;
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        out_fd = p[1];
        fn();
        close(p[1]);
        _exit(0);
    }
    close(p[1]);
    char buf[1 << 16];
    size_t len = 0;
    double start = tool_now_ms();
    int status = 0, done = 0, timed_out = 0;
    while (!done) {
        struct pollfd pf = {p[0], POLLIN, 0};
        poll(&pf, 1, 100);
        ssize_t got;
        while ((got = read(p[0], buf + len, sizeof(buf) - 1 - len)) > 0) {
            len += (size_t)got;
            buf[len] = '\0';
            char *nl;
            while ((nl = strchr(buf, '\n')) != NULL) {
                *nl = '\0';
                if (buf[0] == 'P' || buf[0] == 'F') {
                    printf("[%s] %s %s\n", name, buf[0] == 'P' ? "PASS" : "FAIL", buf + 2);
                    if (buf[0] == 'P') passed++;
                    else failed++;
                } else {
                    printf("[%s] %s\n", name, buf + 2);
                }
                len -= (size_t)(nl + 1 - buf);
                memmove(buf, nl + 1, len + 1);
            }
            if (len == sizeof(buf) - 1) len = 0;
        }
        if (waitpid(pid, &status, WNOHANG) == pid) done = 1;
        else if (tool_now_ms() - start > timeout_s * 1000.0) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            timed_out = done = 1;
        }
    }
    close(p[0]);
    if (timed_out) {
        printf("[%s] FAIL the section did not finish within %d s (hang?)\n", name, timeout_s);
        failed++;
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        printf("[%s] FAIL the section crashed (%s %d)\n", name, WIFSIGNALED(status) ? "signal" : "exit status",
               WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        failed++;
    }
    fflush(stdout);
}

/* ---- the mock host ---- */

static atomic_long m_allocs, m_frees, m_calls, m_fail_at;

static void *m_alloc(void *ctx, size_t size, size_t alignment) {
    (void)ctx;
    long n = atomic_fetch_add(&m_calls, 1) + 1;
    if (atomic_load(&m_fail_at) == n) return NULL;
    if (alignment < sizeof(void *)) alignment = sizeof(void *);
    if (alignment & (alignment - 1)) return NULL;
    void *p = NULL;
    if (posix_memalign(&p, alignment, size ? size : 1) != 0) return NULL;
    atomic_fetch_add(&m_allocs, 1);
    return p;
}

static void m_free(void *ctx, void *p) {
    (void)ctx;
    if (!p) return;
    atomic_fetch_add(&m_frees, 1);
    free(p);
}

static void m_log(int32_t level, const char *provider, const char *msg) {
    if (cfg.verbose || level >= KILN_LOG_ERROR) note("log %d [%s]: %s", (int)level, provider ? provider : "?", msg ? msg : "");
}

static uint64_t m_now(void) { return (uint64_t)(tool_now_ms() * 1e6); }

static void m_log_ctx(void *ctx, int32_t level, const char *provider, const char *msg) {
    (void)ctx;
    m_log(level, provider, msg);
}

static int32_t m_set_error(kiln_error *err, int32_t status, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt ? fmt : "", ap);
        va_end(ap);
        err->status = (kiln_status)status;
    }
    return status;
}

static uint64_t m_dtype_size(int32_t dtype) {
    uint32_t bits = dtype == KILN_DTYPE_STRING ? 0 : kiln_dtype_bits((kiln_dtype)dtype);
    return bits % 8 ? 0 : bits / 8;
}

/* Only what a provider may call outside claims and kernels: logging, memory, the clock, and the
 * 1.2 helpers. */
static const kiln_host_api mock_host = {
    .hdr = {sizeof(kiln_host_api), KILN_ABI_VERSION},
    .log = m_log,
    .alloc = m_alloc,
    .free = m_free,
    .now_ns = m_now,
    .log_ctx = m_log_ctx,
    .set_error = m_set_error,
    .dtype_size = m_dtype_size,
};

static long m_live(void) { return atomic_load(&m_allocs) - atomic_load(&m_frees); }

static kiln_provider_entry_fn entry_fn;
static void *dl;

static int load_entry(void) {
    dl = dlopen(cfg.so, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        result(0, "dlopen %s: %s", cfg.so, dlerror());
        return 0;
    }
    void *sym = dlsym(dl, KILN_PROVIDER_ENTRY_NAME);
    if (!sym) {
        result(0, "the library does not export %s", KILN_PROVIDER_ENTRY_NAME);
        return 0;
    }
    memcpy(&entry_fn, &sym, sizeof(entry_fn));
    return 1;
}

/* Calls the entry with [lo, hi]; returns the status; *lib is the library or NULL. */
static int32_t try_entry(uint32_t lo, uint32_t hi, kiln_provider_library **lib, kiln_error *err) {
    memset(err, 0, sizeof(*err));
    *lib = (kiln_provider_library *)(uintptr_t)1; /* a provider must set it: NULL on failure */
    int32_t st = entry_fn(&mock_host, NULL, lo, hi, lib, err);
    err->msg[KILN_ERROR_MSG_MAX - 1] = '\0';
    return st;
}

/* Checks a library struct like the host does; returns 1 when it is sound. */
static int check_library(const kiln_provider_library *lib, uint32_t lo, uint32_t hi) {
    int ok = 1;
    uint32_t v = lib->hdr.abi_version;
    if (v < lo || v > hi) {
        result(0, "host range %u.%u-%u.%u: answered %u.%u, outside the range", V(lo), V(hi), V(v));
        return 0;
    }
    if (lib->hdr.struct_size < SIZE_1_0(kiln_provider_library, release)) {
        result(0, "kiln_provider_library is %u bytes; ABI 1.0 needs %zu", lib->hdr.struct_size, SIZE_1_0(kiln_provider_library, release));
        return 0;
    }
#define SLOT(s)                                                              \
    if (!lib->s) {                                                           \
        result(0, "required slot '" #s "' of kiln_provider_library is NULL"); \
        ok = 0;                                                              \
    }
    SLOT(name) SLOT(device_count) SLOT(device_info) SLOT(create_provider) SLOT(release)
#undef SLOT
    if (ok && !lib->name[0]) {
        result(0, "the library's name is empty");
        ok = 0;
    }
    return ok;
}

/* ---- [abi] ---- */

static void sec_abi(void) {
    if (!load_entry()) return;
    result(1, "dlopen and entry symbol %s", KILN_PROVIDER_ENTRY_NAME);
    kiln_error err;
    kiln_provider_library *lib;
    const struct {
        uint32_t lo, hi;
        const char *what;
        int must_fail;
    } ranges[] = {
        {KILN_ABI_VERSION_MIN, KILN_ABI_VERSION, "this host", 0},
        {KILN_ABI_MAKE(1, 0), KILN_ABI_MAKE(1, 0xffff), "a newer 1.x host", 0},
        {KILN_ABI_MAKE(1, 0), KILN_ABI_MAKE(3, 0), "a host spanning majors 1-3", 0},
        {KILN_ABI_MAKE(0, 1), KILN_ABI_MAKE(0, 9), "an older (0.x) host", 1},
        {KILN_ABI_MAKE(9, 0), KILN_ABI_MAKE(9, 5), "a far newer (9.x) host", 2},
        {KILN_ABI_MAKE(1, 1), KILN_ABI_MAKE(1, 0), "an empty range", 1},
    };
    for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
        uint32_t lo = ranges[i].lo, hi = ranges[i].hi;
        int32_t st = try_entry(lo, hi, &lib, &err);
        if (st != KILN_OK) {
            int clean = lib == NULL && err.msg[0];
            if (ranges[i].must_fail) result(clean, "%s (%u.%u-%u.%u): refused%s: %s", ranges[i].what, V(lo), V(hi),
                                            clean ? " cleanly" : " but left *out set or no message", err.msg);
            else result(0, "%s (%u.%u-%u.%u): refused: %s", ranges[i].what, V(lo), V(hi), err.msg);
            continue;
        }
        if (!lib || lib == (kiln_provider_library *)(uintptr_t)1) {
            result(0, "%s: the entry returned OK and no library", ranges[i].what);
            continue;
        }
        if (ranges[i].must_fail == 1) {
            result(0, "%s (%u.%u-%u.%u): accepted with version %u.%u (no version fits)", ranges[i].what, V(lo), V(hi),
                   V(lib->hdr.abi_version));
        } else if (check_library(lib, lo, hi)) {
            /* A far newer host is fine to accept only within its range; this kit cannot use it. */
            result(1, "%s (%u.%u-%u.%u): answered %u.%u", ranges[i].what, V(lo), V(hi), V(lib->hdr.abi_version));
        }
        if (lib->hdr.struct_size >= SIZE_1_0(kiln_provider_library, release) && lib->release) lib->release(lib);
    }
    /* Repeated loads, two libraries at once, and every allocation freed. */
    long live0 = m_live();
    kiln_provider_library *a = NULL, *b = NULL;
    int ok = 1;
    for (int r = 0; r < 3 && ok; r++) {
        ok = try_entry(KILN_ABI_VERSION_MIN, KILN_ABI_VERSION, &a, &err) == KILN_OK &&
             try_entry(KILN_ABI_VERSION_MIN, KILN_ABI_VERSION, &b, &err) == KILN_OK && a && b && a != b;
        if (a && a != (void *)1 && ok) a->release(a);
        if (b && b != (void *)1 && ok) b->release(b);
    }
    result(ok && m_live() == live0, "three load/release cycles with two libraries alive at once (%ld blocks leaked)",
           m_live() - live0);
    /* Every allocation of the entry failing in turn. */
    int clean = 1;
    long n;
    for (n = 1; n < 1000; n++) {
        live0 = m_live();
        atomic_store(&m_calls, 0);
        atomic_store(&m_fail_at, n);
        int32_t st = try_entry(KILN_ABI_VERSION_MIN, KILN_ABI_VERSION, &lib, &err);
        atomic_store(&m_fail_at, 0);
        if (st == KILN_OK) {
            lib->release(lib);
            if (m_live() != live0) clean = 0;
            break;
        }
        if (lib || !err.msg[0] || m_live() != live0) clean = 0;
    }
    result(clean, "entry with each of its %ld host allocation(s) failing in turn: clean errors, nothing leaked", n - 1);
}

/* ---- [devices] and instances ---- */

static kiln_provider_library *open_lib(void) {
    kiln_error err;
    kiln_provider_library *lib;
    if (!load_entry()) return NULL;
    if (try_entry(KILN_ABI_VERSION_MIN, KILN_ABI_VERSION, &lib, &err) != KILN_OK || !lib) {
        result(0, "cannot load the library: %s", err.msg);
        return NULL;
    }
    return check_library(lib, KILN_ABI_VERSION_MIN, KILN_ABI_VERSION) ? lib : NULL;
}

static int device_info(kiln_provider_library *lib, uint32_t d, kiln_device_info *di, kiln_error *err) {
    memset(di, 0, sizeof(*di));
    di->hdr.struct_size = sizeof(*di);
    di->hdr.abi_version = lib->hdr.abi_version;
    memset(err, 0, sizeof(*err));
    return lib->device_info(lib, d, di, err) == KILN_OK;
}

static void sec_devices(void) {
    kiln_provider_library *lib = open_lib();
    if (!lib) return;
    uint32_t n = lib->device_count(lib), n2 = lib->device_count(lib);
    result(n == n2, "device_count is stable (%u, %u)", n, n2);
    if (n == 0) note("zero devices: a valid answer; the provider takes part in no session here");
    kiln_error err;
    kiln_device_info di, dj;
    for (uint32_t d = 0; d < n && d < 64; d++) {
        if (!device_info(lib, d, &di, &err)) {
            result(0, "device %u: device_info failed: %s", d, err.msg);
            continue;
        }
        int ok = di.id && di.id[0] && di.name && di.type >= KILN_DEVICE_CPU && di.type <= KILN_DEVICE_OTHER &&
                 di.memory_free <= di.memory_total && di.n_mem_kinds <= 64;
        for (uint32_t e = 0; ok && e < d; e++)
            if (device_info(lib, e, &dj, &err) && dj.id && !strcmp(dj.id, di.id)) ok = 0;
        result(ok, "device %u: id '%s', name '%s', type %d, %u memory kind(s), memory %llu of %llu bytes free, caps 0x%llx", d,
               di.id ? di.id : "(null)", di.name ? di.name : "(null)", (int)di.type, di.n_mem_kinds,
               (unsigned long long)di.memory_free, (unsigned long long)di.memory_total, (unsigned long long)di.caps);
        if (di.n_mem_kinds && !lib->mem_kind_info) result(0, "device %u has memory kinds but mem_kind_info is NULL", d);
        for (uint32_t k = 0; k < di.n_mem_kinds && lib->mem_kind_info; k++) {
            kiln_mem_kind_info mi;
            memset(&mi, 0, sizeof(mi));
            mi.hdr.struct_size = sizeof(mi);
            memset(&err, 0, sizeof(err));
            int32_t st = lib->mem_kind_info(lib, d, k, &mi, &err);
            int good = st == KILN_OK && mi.name && mi.name[0] && mi.alignment && !(mi.alignment & (mi.alignment - 1));
            result(good, "device %u memory kind %u: '%s', alignment %u%s%s", d, k, mi.name ? mi.name : "(null)", mi.alignment,
                   st ? ": " : "", st ? err.msg : "");
        }
    }
    memset(&di, 0, sizeof(di));
    di.hdr.struct_size = sizeof(di);
    memset(&err, 0, sizeof(err));
    int32_t st = lib->device_info(lib, n, &di, &err);
    result(st != KILN_OK && err.msg[0], "device_info(%u), past the end, fails cleanly", n);
    lib->release(lib);
}

static uint32_t kind_ids[64];

/* An instance on device d with the kit's options, checked like the host checks it. */
static kiln_provider *instance(kiln_provider_library *lib, uint32_t d, kiln_device_info *di, int quiet) {
    kiln_error err;
    if (!device_info(lib, d, di, &err)) {
        result(0, "device %u: %s", d, err.msg);
        return NULL;
    }
    const char *keys[MAX_OPTIONS + 2], *vals[MAX_OPTIONS + 2];
    char copy[MAX_OPTIONS][256];
    uint32_t n = 0;
    for (int i = 0; i < cfg.n_options; i++) {
        snprintf(copy[i], sizeof(copy[i]), "%s", cfg.options[i]);
        char *eq = strchr(copy[i], '=');
        if (!eq) continue;
        *eq = '\0';
        keys[n] = copy[i];
        vals[n++] = eq + 1;
    }
    for (uint32_t k = 0; k < 64; k++) kind_ids[k] = 1 + k;
    kiln_provider_params prm;
    memset(&prm, 0, sizeof(prm));
    prm.hdr.struct_size = sizeof(prm);
    prm.hdr.abi_version = lib->hdr.abi_version;
    prm.host = &mock_host;
    prm.device = d;
    prm.n_options = n;
    prm.option_keys = keys;
    prm.option_values = vals;
    prm.mem_kind_ids = kind_ids;
    kiln_provider *p = NULL;
    memset(&err, 0, sizeof(err));
    int32_t st = lib->create_provider(lib, &prm, &p, &err);
    if (st != KILN_OK || !p) {
        if (!quiet) result(0, "device %u: create_provider failed: %s", d, err.msg);
        return NULL;
    }
    int ok = p->hdr.abi_version == lib->hdr.abi_version && p->hdr.struct_size >= SIZE_1_0(kiln_provider, create_stream) &&
             p->release && p->name && p->name[0] && (p->claim_node || p->claim_groups) && (!p->claim_node || p->create_kernel) &&
             (!p->claim_groups || p->compile_group) &&
             (!di->n_mem_kinds || (p->mem_alloc && p->mem_free && p->copy)) &&
             (p->mem_kind == 0 || (p->mem_kind >= 1 && p->mem_kind <= di->n_mem_kinds));
    int caps_ok = !(di->caps & KILN_DEVICE_CAP_STREAMS) == !p->create_stream;
    if (!quiet) {
        result(ok, "device %u: instance '%s': header ABI %u.%u, %u bytes, required slots set, memory kind %u", d,
               p->name ? p->name : "(null)", V(p->hdr.abi_version), p->hdr.struct_size, p->mem_kind);
        result(caps_ok, "device %u: the streams cap (%s) matches create_stream (%s)", d,
               di->caps & KILN_DEVICE_CAP_STREAMS ? "set" : "clear", p->create_stream ? "set" : "NULL");
    }
    if (!ok) {
        if (p->release && p->hdr.struct_size >= SIZE_1_0(kiln_provider, release)) p->release(p);
        return NULL;
    }
    return p;
}

static void sec_instances(void) {
    kiln_provider_library *lib = open_lib();
    if (!lib) return;
    uint32_t n = lib->device_count(lib);
    kiln_device_info di;
    long live0 = m_live();
    for (uint32_t d = 0; d < n && d < 16; d++) {
        kiln_provider *p = instance(lib, d, &di, 0);
        if (p) p->release(p);
    }
    result(m_live() == live0, "instances released without leaks (%ld blocks)", m_live() - live0);
    /* An option the provider does not know is a warning, never a failure. */
    if (n) {
        cfg.options[cfg.n_options] = "rt_ep_check_unknown_option=1";
        cfg.n_options++;
        kiln_provider *p = instance(lib, 0, &di, 1);
        cfg.n_options--;
        result(p != NULL, "an unknown option is accepted (a warning at most)");
        if (p) p->release(p);
        int clean = 1;
        long k;
        for (k = 1; k < 1000; k++) {
            atomic_store(&m_calls, 0);
            atomic_store(&m_fail_at, k);
            live0 = m_live();
            kiln_provider *q = instance(lib, 0, &di, 1);
            atomic_store(&m_fail_at, 0);
            if (q) {
                q->release(q);
                if (m_live() != live0) clean = 0;
                break;
            }
            if (m_live() != live0) clean = 0;
        }
        result(clean, "create_provider with each of its %ld host allocation(s) failing in turn: clean errors, nothing leaked", k - 1);
    }
    lib->release(lib);
}

/* ---- [memory] and [copies] ---- */

static int copy1(kiln_provider *p, const kiln_copy_region *r, kiln_stream *s, kiln_error *err) {
    const kiln_copy_region *rp = r;
    memset(err, 0, sizeof(*err));
    return p->copy(p, &rp, 1, s, err) == KILN_OK;
}

static kiln_copy_region region(uint32_t sk, const void *src, uint64_t so, uint32_t dk, void *dst, uint64_t doff, uint64_t bytes) {
    kiln_copy_region r;
    memset(&r, 0, sizeof(r));
    r.hdr.struct_size = sizeof(r);
    r.hdr.abi_version = KILN_ABI_VERSION;
    r.src_kind = sk;
    r.src = src;
    r.src_offset = so;
    r.dst_kind = dk;
    r.dst = dst;
    r.dst_offset = doff;
    r.bytes = bytes;
    return r;
}

static void fill(unsigned char *b, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) b[i] = (unsigned char)((i * 131u + seed * 17u) >> 1);
}

/* Host → A → B → host through kind k, with offsets; batched when `batch`. */
static int round_trip(kiln_provider *p, uint32_t k, size_t bytes, kiln_stream *s1, kiln_stream *s2, char *why, size_t wl) {
    kiln_error err;
    void *a = NULL, *b = NULL;
    size_t pad = 8;
    unsigned char *src = malloc(bytes + pad), *dst = malloc(bytes + pad);
    int ok = src && dst;
    if (ok) {
        fill(src, bytes + pad, (unsigned)bytes);
        memset(dst, 0xee, bytes + pad);
    }
    ok = ok && p->mem_alloc(p, k, bytes + pad, &a, &err) == KILN_OK && p->mem_alloc(p, k, bytes + pad, &b, &err) == KILN_OK;
    if (!ok) snprintf(why, wl, "mem_alloc of %zu bytes: %s", bytes + pad, err.msg);
    kiln_copy_region r1 = region(0, src, 3, k, a, 5, bytes), r2 = region(k, a, 5, k, b, 1, bytes),
                     r3 = region(k, b, 1, 0, dst, 2, bytes);
    if (ok && !s1) {
        ok = copy1(p, &r1, NULL, &err) && copy1(p, &r2, NULL, &err) && copy1(p, &r3, NULL, &err);
    } else if (ok) {
        /* s1: host → A; s2 waits for it, then A → B → host; only synchronize(s2) makes it visible. */
        kiln_event *e = NULL;
        memset(&err, 0, sizeof(err));
        ok = copy1(p, &r1, s1, &err) && s1->record(s1, &e, &err) == KILN_OK && e && s2->wait_event(s2, e, &err) == KILN_OK &&
             copy1(p, &r2, s2, &err) && copy1(p, &r3, s2, &err) && s2->synchronize(s2, &err) == KILN_OK && e->wait(e, &err) == KILN_OK;
        if (e) e->release(e);
    }
    if (ok && memcmp(src + 3, dst + 2, bytes) != 0) {
        ok = 0;
        snprintf(why, wl, "the data came back different");
    } else if (!ok && !why[0]) {
        snprintf(why, wl, "%s", err.msg[0] ? err.msg : "a copy failed with no message");
    }
    if (a) p->mem_free(p, k, a);
    if (b) p->mem_free(p, k, b);
    free(src);
    free(dst);
    return ok;
}

/* Three regions in one call: host → A at three offsets, then back in one call. */
static int batched(kiln_provider *p, uint32_t k, char *why, size_t wl) {
    kiln_error err;
    enum { N = 3, PART = 1000 };
    unsigned char src[N * PART], dst[N * PART];
    fill(src, sizeof(src), 7);
    memset(dst, 0, sizeof(dst));
    void *a = NULL;
    if (p->mem_alloc(p, k, sizeof(src), &a, &err) != KILN_OK) {
        snprintf(why, wl, "mem_alloc: %s", err.msg);
        return 0;
    }
    kiln_copy_region up[N], down[N];
    const kiln_copy_region *pu[N], *pd[N];
    for (int i = 0; i < N; i++) {
        up[i] = region(0, src, (uint64_t)i * PART, k, a, (uint64_t)(N - 1 - i) * PART, PART);
        down[i] = region(k, a, (uint64_t)(N - 1 - i) * PART, 0, dst, (uint64_t)i * PART, PART);
        pu[i] = &up[i];
        pd[i] = &down[i];
    }
    memset(&err, 0, sizeof(err));
    int ok = p->copy(p, pu, N, NULL, &err) == KILN_OK && p->copy(p, pd, N, NULL, &err) == KILN_OK;
    if (!ok) snprintf(why, wl, "%s", err.msg);
    else if (memcmp(src, dst, sizeof(src)) != 0) ok = 0, snprintf(why, wl, "the data came back different");
    p->mem_free(p, k, a);
    return ok;
}

static void sec_memory(void) {
    kiln_provider_library *lib = open_lib();
    if (!lib) return;
    uint32_t n = lib->device_count(lib);
    kiln_device_info di;
    for (uint32_t d = 0; d < n && d < 16; d++) {
        kiln_provider *p = instance(lib, d, &di, 1);
        if (!p) {
            result(0, "device %u: no instance", d);
            continue;
        }
        if (!di.n_mem_kinds) note("device %u: host memory only, no copies to check", d);
        long live0 = m_live();
        for (uint32_t k = 1; k <= di.n_mem_kinds; k++) {
            kiln_error err;
            static const size_t sizes[] = {0, 1, 17, 4u << 20};
            int ok = 1;
            for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]) && ok; i++) {
                void *blk = NULL;
                memset(&err, 0, sizeof(err));
                ok = p->mem_alloc(p, k, sizes[i], &blk, &err) == KILN_OK && blk;
                if (blk) p->mem_free(p, k, blk);
            }
            p->mem_free(p, k, NULL);
            result(ok, "device %u kind %u: blocks of 0, 1, 17 and 4 MiB allocated and freed%s%s", d, k, ok ? "" : ": ", ok ? "" : err.msg);
            void *huge = NULL;
            memset(&err, 0, sizeof(err));
            int32_t st = p->mem_alloc(p, k, UINT64_C(1) << 62, &huge, &err);
            result(st == KILN_ERR_OUT_OF_MEMORY && !huge && err.msg[0], "device %u kind %u: 2^62 bytes refused with OUT_OF_MEMORY: %s", d, k,
                   err.msg);
            if (huge) p->mem_free(p, k, huge);
            static const size_t rt[] = {0, 1, 17, 3u << 20};
            for (size_t i = 0; i < sizeof(rt) / sizeof(rt[0]); i++) {
                char why[600] = "";
                result(round_trip(p, k, rt[i], NULL, NULL, why, sizeof(why)), "device %u kind %u: %zu bytes host -> device -> device -> host with offsets%s%s",
                       d, k, rt[i], why[0] ? ": " : "", why);
            }
            char why[600] = "";
            result(batched(p, k, why, sizeof(why)), "device %u kind %u: batched copies (3 regions per call)%s%s", d, k, why[0] ? ": " : "", why);
            if (p->create_stream) {
                kiln_stream *s1 = NULL, *s2 = NULL;
                memset(&err, 0, sizeof(err));
                int sok = p->create_stream(p, &s1, &err) == KILN_OK && s1 && p->create_stream(p, &s2, &err) == KILN_OK && s2;
                if (sok) {
                    sok = s1->hdr.struct_size >= SIZE_1_0(kiln_stream, release) && s1->record && s1->wait_event && s1->synchronize &&
                          s1->release;
                    why[0] = '\0';
                    for (size_t i = 1; sok && i < sizeof(rt) / sizeof(rt[0]); i++) sok = round_trip(p, k, rt[i], s1, s2, why, sizeof(why));
                }
                result(sok, "device %u kind %u: copies queued on two streams, ordered by an event, visible after synchronize%s%s", d, k,
                       why[0] || err.msg[0] ? ": " : "", why[0] ? why : err.msg);
                if (s1) s1->release(s1);
                if (s2) s2->release(s2);
            }
        }
        result(m_live() == live0, "device %u: every block freed (%ld host blocks still live)", d, m_live() - live0);
        /* Device allocations failing because the host heap behind them fails. */
        int clean = 1;
        for (long f = 1; f < 8 && di.n_mem_kinds; f++) {
            void *blk = NULL;
            kiln_error err;
            memset(&err, 0, sizeof(err));
            atomic_store(&m_calls, 0);
            atomic_store(&m_fail_at, f);
            int32_t st = p->mem_alloc(p, 1, 4096, &blk, &err);
            atomic_store(&m_fail_at, 0);
            if (st == KILN_OK) {
                p->mem_free(p, 1, blk);
                break;
            }
            if (blk || !err.msg[0]) clean = 0;
        }
        if (di.n_mem_kinds) result(clean, "device %u: mem_alloc with host allocations failing: clean errors", d);
        p->release(p);
    }
    lib->release(lib);
}

/* ---- [conformance], [alloc], [threads]: through libkiln ---- */

typedef struct test_case {
    char id[512];
    char dir[2300];
} test_case;

static test_case *tests;
static size_t n_tests;
static char claimed_ids[64][2300];
static int n_claimed_ids;

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
static int cmp_id(const void *a, const void *b) { return strcmp((const char *)a, (const char *)b); }

static void scan_tests(void) {
    static const char *const cats[] = {"node", "pytorch-converted", "pytorch-operator", "simple"};
    tests = calloc(MAX_TESTS, sizeof(*tests));
    for (size_t c = 0; tests && c < 4; c++) {
        char root[2048];
        snprintf(root, sizeof(root), "%s/%s", cfg.tests_dir, cats[c]);
        DIR *d = opendir(root);
        struct dirent *e;
        char *names[MAX_TESTS];
        size_t n = 0;
        while (d && (e = readdir(d)) && n < MAX_TESTS)
            if (e->d_name[0] != '.') names[n++] = strdup(e->d_name);
        if (d) closedir(d);
        qsort(names, n, sizeof(char *), cmp_str);
        for (size_t i = 0; i < n; i++) {
            char id[600];
            snprintf(id, sizeof(id), "%s/%s", cats[c], names[i]);
            if ((!cfg.filter || strstr(id, cfg.filter)) && n_tests < MAX_TESTS) {
                test_case *t = &tests[n_tests];
                snprintf(t->id, sizeof(t->id), "%.500s", id);
                snprintf(t->dir, sizeof(t->dir), "%.2040s/%.250s", root, names[i]);
                char model[2400];
                snprintf(model, sizeof(model), "%s/model.onnx", t->dir);
                if (access(model, R_OK) == 0) n_tests++;
            }
            free(names[i]);
        }
    }
}

static kiln_session_options *kit_options(void) {
    kiln_session_options *o = NULL;
    kiln_error err;
    if (kiln_session_options_create(&o, &err) != KILN_OK) return NULL;
    if (kiln_session_options_append_provider(o, cfg.so, cfg.options, &err) != KILN_OK) {
        kiln_session_options_destroy(o);
        return NULL;
    }
    return o;
}

/* Reads a JSON string at *p (after the opening quote) into out; returns the position after it. */
static const char *json_string(const char *p, char *out, size_t size) {
    size_t n = 0;
    while (*p && *p != '"') {
        char c = *p++;
        if (c == '\\' && *p) {
            c = *p++;
            if (c == 'u') {
                for (int i = 0; i < 4 && *p; i++) p++;
                c = '?';
            }
        }
        if (n + 1 < size) out[n++] = c;
    }
    out[n] = '\0';
    return *p ? p + 1 : p;
}

/* The ops of the nodes the session gave to its first provider (ours), space-separated. */
static int claimed_ops(const kiln_session *s, char *ops, size_t size) {
    size_t len = 0;
    kiln_error err;
    ops[0] = '\0';
    if (kiln_session_partition_report(s, NULL, 0, &len, &err) != KILN_OK) return 0;
    char *json = malloc(len + 1);
    if (!json || kiln_session_partition_report(s, json, len + 1, &len, &err) != KILN_OK) {
        free(json);
        return 0;
    }
    char ours[256] = "", key[64], val[256], op[256] = "";
    int count = 0;
    const char *p = strstr(json, "\"providers\":[{\"name\":\"");
    if (p) json_string(p + strlen("\"providers\":[{\"name\":\""), ours, sizeof(ours));
    p = strstr(json, "],\"nodes\":[");
    const char *end = p ? strstr(p, "],\"groups\":[") : NULL;
    while (p && end && (p = strchr(p, '"')) && p < end) {
        p = json_string(p + 1, key, sizeof(key));
        if (*p != ':') continue;
        p++;
        if (*p != '"') continue;
        p = json_string(p + 1, val, sizeof(val));
        if (!strcmp(key, "op")) snprintf(op, sizeof(op), "%s", val);
        if (!strcmp(key, "provider") && !strcmp(val, ours)) {
            count++;
            char pat[300];
            snprintf(pat, sizeof(pat), " %s ", op);
            char have[2100];
            snprintf(have, sizeof(have), " %s ", ops);
            if (!strstr(have, pat) && strlen(ops) + strlen(op) + 2 < size) {
                if (ops[0]) strcat(ops, " ");
                strcat(ops, op);
            }
        }
    }
    free(json);
    return count;
}

static int data_sets(const char *dir, char **sets, int max) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) && n < max)
        if (!strncmp(e->d_name, "test_data_set_", 14)) sets[n++] = strdup(e->d_name);
    if (d) closedir(d);
    qsort(sets, (size_t)n, sizeof(char *), cmp_str);
    return n;
}

static void free_tensors(kiln_tensor **t, size_t n) {
    for (size_t i = 0; i < n; i++) {
        kiln_tensor_destroy(t[i]);
        t[i] = NULL;
    }
}

/* One test: 0 not claimed, 1 pass, 2 fail, 3 Kiln cannot load it. */
static int check_test(const test_case *t, char *ops, size_t ops_size, char *msg, size_t ml) {
    kiln_env *env;
    kiln_error err = {0};
    if (kiln_env_create(&env, &err) != KILN_OK) return 2;
    char model[2400];
    snprintf(model, sizeof(model), "%s/model.onnx", t->dir);
    kiln_session_options *o = kit_options();
    kiln_session *sp = NULL, *sc = NULL;
    int res = 1;
    kiln_status st = o ? kiln_session_create(env, model, o, &sp, &err) : KILN_ERR_OUT_OF_MEMORY;
    kiln_session_options_destroy(o);
    kiln_error cerr = {0};
    kiln_status cst = kiln_session_create(env, model, NULL, &sc, &cerr);
    ops[0] = '\0';
    if (st != KILN_OK) {
        res = cst == KILN_OK ? 2 : 3;
        snprintf(msg, ml, "%s", res == 2 ? err.msg : cerr.msg);
        if (res == 2) snprintf(ops, ops_size, "?");
        goto done;
    }
    if (!claimed_ops(sp, ops, ops_size)) {
        res = 0;
        goto done;
    }
    char *sets[64];
    int n_sets = data_sets(t->dir, sets, 64);
    size_t ni = kiln_session_input_count(sp), no = kiln_session_output_count(sp);
    if (ni > 64 || no > 64 || !n_sets) {
        res = 2;
        snprintf(msg, ml, "%s", n_sets ? "too many inputs or outputs" : "no test_data_set");
    }
    for (int k = 0; k < n_sets && res == 1; k++) {
        kiln_tensor *in[64] = {0}, *got[64] = {0}, *ref[64] = {0}, *want[64] = {0};
        char path[2800];
        for (size_t i = 0; i < ni && res == 1; i++) {
            snprintf(path, sizeof(path), "%s/%s/input_%zu.pb", t->dir, sets[k], i);
            if (kiln_tensor_load_proto(env, path, kiln_io_kind(kiln_session_input(sp, i)), &in[i], &err) != KILN_OK)
                res = 2, snprintf(msg, ml, "%s", err.msg);
        }
        for (size_t i = 0; i < no && res == 1; i++) {
            snprintf(path, sizeof(path), "%s/%s/output_%zu.pb", t->dir, sets[k], i);
            if (kiln_tensor_load_proto(env, path, kiln_io_kind(kiln_session_output(sp, i)), &want[i], &err) != KILN_OK)
                res = 2, snprintf(msg, ml, "%s", err.msg);
        }
        if (res == 1 && kiln_session_run(sp, NULL, (const kiln_tensor *const *)in, ni, NULL, got, no, &err) != KILN_OK)
            res = 2, snprintf(msg, ml, "%s: run with the provider failed: %s", sets[k], err.msg);
        int cpu_ran = res == 1 && sc &&
                      kiln_session_run(sc, NULL, (const kiln_tensor *const *)in, ni, NULL, ref, no, &cerr) == KILN_OK;
        char why[600];
        for (size_t i = 0; i < no && res == 1; i++) {
            const char *name = kiln_io_name(kiln_session_output(sp, i));
            int cpu_right = cpu_ran && tool_compare(want[i], ref[i], cfg.rtol, cfg.atol, why, sizeof(why));
            if (cpu_ran && !tool_compare(ref[i], got[i], cfg.rtol, cfg.atol, why, sizeof(why)))
                res = 2, snprintf(msg, ml, "%s: output '%s' differs from the CPU provider's: %s", sets[k], name, why);
            else if ((cpu_right || !cpu_ran) && !tool_compare(want[i], got[i], cfg.rtol, cfg.atol, why, sizeof(why)))
                res = 2, snprintf(msg, ml, "%s: output '%s' differs from the expected: %s", sets[k], name, why);
        }
        free_tensors(in, ni);
        free_tensors(got, no);
        free_tensors(ref, no);
        free_tensors(want, no);
    }
    if (res == 1) snprintf(msg, ml, "%d data set%s", n_sets, n_sets == 1 ? "" : "s");
    for (int k = 0; k < n_sets; k++) free(sets[k]);
done:
    kiln_session_destroy(sp);
    kiln_session_destroy(sc);
    kiln_env_destroy(env);
    return res;
}

/* Runs every test in its own child, cfg.jobs at a time. */
static void sec_conformance(void) {
    if (!n_tests) {
        result(0, "no ONNX backend tests under %s%s", cfg.tests_dir, cfg.filter ? " matching the filter" : "");
        return;
    }
    typedef struct slot {
        pid_t pid;
        int fd;
        size_t test;
        double start;
        char buf[1600];
        size_t len;
    } slot;
    slot sl[16];
    memset(sl, 0, sizeof(sl));
    int jobs = cfg.jobs < 1 ? 1 : cfg.jobs > 16 ? 16 : cfg.jobs;
    size_t next = 0, done = 0;
    int counts[4] = {0};
    char all_ops[2048] = "";
    while (done < n_tests) {
        for (int j = 0; j < jobs && next < n_tests; j++) {
            if (sl[j].pid) continue;
            int p[2];
            if (pipe(p) != 0) break;
            fflush(NULL);
            pid_t pid = fork();
            if (pid == 0) {
                close(p[0]);
                char ops[1024], msg[1024] = "";
                int r = check_test(&tests[next], ops, sizeof(ops), msg, sizeof(msg));
                for (char *c = msg; *c; c++)
                    if (*c == '\n' || *c == '\t') *c = ' ';
                dprintf(p[1], "%d\t%s\t%s\n", r, ops, msg);
                _exit(0);
            }
            close(p[1]);
            sl[j] = (slot){pid, p[0], next++, tool_now_ms(), "", 0};
        }
        struct pollfd pf[16];
        int np = 0;
        for (int j = 0; j < jobs; j++)
            if (sl[j].pid) pf[np++] = (struct pollfd){sl[j].fd, POLLIN, 0};
        poll(pf, (nfds_t)np, 50);
        for (int j = 0; j < jobs; j++) {
            if (!sl[j].pid) continue;
            ssize_t got;
            while ((got = read(sl[j].fd, sl[j].buf + sl[j].len, sizeof(sl[j].buf) - 1 - sl[j].len)) > 0) sl[j].len += (size_t)got;
            int status = 0, over = tool_now_ms() - sl[j].start > cfg.timeout_s * 1000.0;
            pid_t w = waitpid(sl[j].pid, &status, WNOHANG);
            if (w != sl[j].pid && !over) continue;
            if (w != sl[j].pid) {
                kill(sl[j].pid, SIGKILL);
                waitpid(sl[j].pid, &status, 0);
            }
            while ((got = read(sl[j].fd, sl[j].buf + sl[j].len, sizeof(sl[j].buf) - 1 - sl[j].len)) > 0) sl[j].len += (size_t)got;
            sl[j].buf[sl[j].len] = '\0';
            const test_case *t = &tests[sl[j].test];
            char *t1 = strchr(sl[j].buf, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
            if (w != sl[j].pid || !t2) {
                result(0, "%s: %s", t->id, w != sl[j].pid ? "timed out (hang?)" : "the test crashed");
            } else {
                *t1 = *t2 = '\0';
                char *nl = strchr(t2 + 1, '\n');
                if (nl) *nl = '\0';
                int r = atoi(sl[j].buf);
                counts[r & 3]++;
                if (r == 1 || r == 2) {
                    result(r == 1, "%s [%s]: %s", t->id, t1 + 1, t2 + 1);
                    if (r == 1 && n_claimed_ids < 64) snprintf(claimed_ids[n_claimed_ids++], sizeof(claimed_ids[0]), "%.2290s", t->dir);
                    char *save, *tok;
                    for (tok = strtok_r(t1 + 1, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
                        char pat[256], have[2100];
                        snprintf(pat, sizeof(pat), " %s ", tok);
                        snprintf(have, sizeof(have), " %s ", all_ops);
                        if (!strstr(have, pat) && strlen(all_ops) + strlen(tok) + 2 < sizeof(all_ops)) {
                            if (all_ops[0]) strcat(all_ops, " ");
                            strcat(all_ops, tok);
                        }
                    }
                } else if (cfg.verbose && r == 3) {
                    note("%s: not loadable by Kiln itself: %s", t->id, t2 + 1);
                }
            }
            close(sl[j].fd);
            sl[j].pid = 0;
            done++;
        }
    }
    note("claimed ops: %s", all_ops[0] ? all_ops : "(none)");
    note("%zu tests: %d claimed and passing, %d claimed and failing, %d not claimed, %d not loadable by Kiln", n_tests, counts[1],
         counts[2], counts[0], counts[3]);
    /* Hand the passing claimed tests to the next sections. */
    for (int i = 0; i < n_claimed_ids; i++) dprintf(out_fd, "C %s\n", claimed_ids[i]);
}

/* Creates a session with the provider over dir's model and runs its first data set;
 * returns the status and, on success, the outputs in out (caller frees). */
static kiln_status run_first(kiln_env *env, kiln_session *s, const char *dir, kiln_tensor **out, size_t *n_out, kiln_error *err) {
    char *sets[64];
    int n_sets = data_sets(dir, sets, 64);
    size_t ni = kiln_session_input_count(s), no = kiln_session_output_count(s);
    kiln_status st = n_sets && ni <= 64 && no <= 64 ? KILN_OK : KILN_ERR_INVALID_ARGUMENT;
    kiln_tensor *in[64] = {0};
    char path[2800];
    for (size_t i = 0; i < ni && st == KILN_OK; i++) {
        snprintf(path, sizeof(path), "%s/%s/input_%zu.pb", dir, sets[0], i);
        st = kiln_tensor_load_proto(env, path, kiln_io_kind(kiln_session_input(s, i)), &in[i], err);
    }
    for (size_t i = 0; i < no; i++) out[i] = NULL;
    if (st == KILN_OK) st = kiln_session_run(s, NULL, (const kiln_tensor *const *)in, ni, NULL, out, no, err);
    *n_out = no;
    free_tensors(in, ni);
    for (int k = 0; k < n_sets; k++) free(sets[k]);
    return st;
}

static void sec_alloc(void) {
    for (int c = 0; c < n_claimed_ids && c < 2; c++) {
        const char *dir = claimed_ids[c];
        char model[2400];
        snprintf(model, sizeof(model), "%.2300s/model.onnx", dir);
        kiln_allocator al = {NULL, m_alloc, m_free}; /* the counting heap, failing its Nth allocation */
        int clean = 1, succeeded = 0;
        long f;
        char why[1200] = "";
        for (f = 1; f < 50000 && !succeeded && clean; f++) {
            atomic_store(&m_calls, 0);
            atomic_store(&m_fail_at, f);
            long live0 = m_live();
            kiln_env *env = NULL;
            kiln_error err = {0};
            kiln_session *s = NULL;
            kiln_tensor *out[64];
            size_t no = 0;
            kiln_session_options *o = kit_options();
            kiln_status st = kiln_env_create_with_allocator(&al, &env, &err);
            if (st == KILN_OK) st = kiln_session_create(env, model, o, &s, &err);
            if (st == KILN_OK) st = run_first(env, s, dir, out, &no, &err);
            if (st == KILN_OK) {
                succeeded = 1;
                free_tensors(out, no);
            } else if (st != KILN_ERR_OUT_OF_MEMORY || !err.msg[0]) {
                clean = 0;
                snprintf(why, sizeof(why), "allocation %ld failing gave status %d: %s", f, (int)st, err.msg);
            }
            kiln_session_destroy(s);
            kiln_session_options_destroy(o);
            kiln_env_destroy(env);
            atomic_store(&m_fail_at, 0);
            if (m_live() != live0) {
                clean = 0;
                snprintf(why, sizeof(why), "allocation %ld failing leaked %ld blocks", f, m_live() - live0);
            }
        }
        const char *slash = strrchr(dir, '/');
        result(clean && succeeded, "%s: session and run with each of %ld allocations failing in turn: OUT_OF_MEMORY every time, nothing leaked%s%s",
               slash ? slash + 1 : dir, f - 2, why[0] ? "; " : "", why);
    }
    if (!n_claimed_ids) note("no claimed test passed: nothing to inject failures into");
}

typedef struct thread_job {
    kiln_env *env;
    kiln_session *s;
    const char *dir;
    kiln_tensor **ref;
    size_t n_ref;
    int bad;
    char why[600];
} thread_job;

static void *thread_main(void *arg) {
    thread_job *j = arg;
    for (int r = 0; r < 5 && !j->bad; r++) {
        kiln_tensor *out[64];
        size_t no = 0;
        kiln_error err = {0};
        if (run_first(j->env, j->s, j->dir, out, &no, &err) != KILN_OK) {
            j->bad = 1;
            snprintf(j->why, sizeof(j->why), "run failed: %s", err.msg);
            break;
        }
        for (size_t i = 0; i < no && !j->bad; i++)
            if (!tool_compare(j->ref[i], out[i], 0.0, 0.0, j->why, sizeof(j->why))) j->bad = 1;
        free_tensors(out, no);
    }
    return NULL;
}

/* Runs dir's first data set on one session from cfg.threads threads, 5 times each, and
 * compares with a first single-thread run: 1 same, 0 different (why says how), -1 no run. */
static int thread_check(const char *dir, int with_provider, char *why, size_t wl) {
    char model[2400];
    snprintf(model, sizeof(model), "%.2300s/model.onnx", dir);
    kiln_env *env = NULL;
    kiln_error err = {0};
    kiln_session *s = NULL;
    kiln_tensor *ref[64];
    size_t nr = 0;
    kiln_session_options *o = with_provider ? kit_options() : NULL;
    int ok = kiln_env_create(&env, &err) == KILN_OK && kiln_session_create(env, model, o, &s, &err) == KILN_OK &&
             run_first(env, s, dir, ref, &nr, &err) == KILN_OK;
    if (!ok) snprintf(why, wl, "%s", err.msg);
    int res = ok ? 1 : -1;
    int n = cfg.threads < 1 ? 1 : cfg.threads > 32 ? 32 : cfg.threads;
    thread_job jobs[32];
    pthread_t th[32];
    int started = 0;
    for (int t = 0; ok && t < n; t++) {
        jobs[t] = (thread_job){env, s, dir, ref, nr, 0, ""};
        if (pthread_create(&th[t], NULL, thread_main, &jobs[t]) == 0) started++;
    }
    for (int t = 0; t < started; t++) {
        pthread_join(th[t], NULL);
        if (jobs[t].bad && res == 1) {
            res = 0;
            snprintf(why, wl, "thread %d: %s", t, jobs[t].why);
        }
    }
    if (ok) free_tensors(ref, nr);
    kiln_session_destroy(s);
    kiln_session_options_destroy(o);
    kiln_env_destroy(env);
    return res;
}

static void sec_threads(void) {
    int checked = 0;
    for (int c = 0; c < n_claimed_ids && checked < 3; c++) {
        const char *dir = claimed_ids[c], *slash = strrchr(dir, '/');
        const char *name = slash ? slash + 1 : dir;
        char why[700] = "";
        /* Only models Kiln itself runs consistently without the provider tell about the provider. */
        if (thread_check(dir, 0, why, sizeof(why)) != 1) {
            note("%s: Kiln's own repeated or concurrent runs differ without the provider (a host bug, not the provider's): %s",
                 name, why);
            continue;
        }
        why[0] = '\0';
        int r = thread_check(dir, 1, why, sizeof(why));
        result(r == 1, "%s: %d threads x 5 runs on one session give the single-thread outputs%s%s", name, cfg.threads,
               why[0] ? ": " : "", why);
        checked++;
    }
    if (!checked) note("no claimed test passed that Kiln runs consistently: nothing to run concurrently");
}

/* ---- main ---- */

/* ---- [abi12]: the error protocol, the 1.2 capabilities and slots ---- */

/* A failing call checked both ways: with an error (status returned == err.status, a message)
 * and with err NULL (still a failure, no crash: the section runs in a child). */
#define PROTOCOL(what, call_err, call_null)                                                                  \
    do {                                                                                                   \
        kiln_error e_;                                                                                     \
        memset(&e_, 0, sizeof(e_));                                                                        \
        kiln_error *err = &e_;                                                                             \
        int32_t st_ = (call_err);                                                                          \
        e_.msg[KILN_ERROR_MSG_MAX - 1] = '\0';                                                             \
        result(st_ != KILN_OK && (int32_t)e_.status == st_ && e_.msg[0],                                  \
               "error protocol: %s fails with status %d, err->status %d, message '%s'", what, (int)st_,     \
               (int)e_.status, e_.msg);                                                                    \
        err = NULL;                                                                                        \
        st_ = (call_null);                                                                                 \
        result(st_ != KILN_OK, "error protocol: %s with err NULL fails cleanly (status %d)", what, (int)st_); \
    } while (0)

static void sec_abi12(void) {
    kiln_provider_library *lib = open_lib();
    if (!lib) return;
    uint32_t v = lib->hdr.abi_version;
    uint32_t n = lib->device_count(lib);
    kiln_device_info di;
    memset(&di, 0, sizeof(di));
    di.hdr.struct_size = sizeof(di);
    di.hdr.abi_version = v;
    PROTOCOL("device_info past the last device", lib->device_info(lib, n, &di, err), lib->device_info(lib, n, &di, err));
    kiln_provider_params prm;
    memset(&prm, 0, sizeof(prm));
    prm.hdr.struct_size = sizeof(prm);
    prm.hdr.abi_version = v;
    prm.host = &mock_host;
    prm.device = n;
    prm.mem_kind_ids = kind_ids;
    kiln_provider *bad = NULL;
    PROTOCOL("create_provider on a device past the last", lib->create_provider(lib, &prm, &bad, err),
             lib->create_provider(lib, &prm, &bad, err));
    result(bad == NULL, "a failed create_provider leaves *out NULL");
    if (v < KILN_ABI_MAKE(1, 2)) {
        note("the provider speaks ABI %u.%u: the 1.2 checks (async compute, run hooks, memory kind flags) do not apply", V(v));
        lib->release(lib);
        return;
    }
    for (uint32_t d = 0; d < n && d < 16; d++) {
        kiln_error e;
        if (!device_info(lib, d, &di, &e)) continue;
        if (di.n_mem_kinds && lib->mem_kind_info) {
            kiln_mem_kind_info mi;
            memset(&mi, 0, sizeof(mi));
            mi.hdr.struct_size = sizeof(mi);
            mi.hdr.abi_version = v;
            PROTOCOL("mem_kind_info past the last kind", lib->mem_kind_info(lib, d, di.n_mem_kinds, &mi, err),
                     lib->mem_kind_info(lib, d, di.n_mem_kinds, &mi, err));
            for (uint32_t k = 0; k < di.n_mem_kinds; k++) {
                memset(&mi, 0, sizeof(mi));
                mi.hdr.struct_size = sizeof(mi);
                mi.hdr.abi_version = v;
                memset(&e, 0, sizeof(e));
                if (lib->mem_kind_info(lib, d, k, &mi, &e) != KILN_OK) continue;
                result(!(mi.flags & ~(uint32_t)KILN_MEM_KIND_F_PINNED_HOST), "device %u memory kind %u: flags 0x%x are known bits", d,
                       k, mi.flags);
            }
        }
        int async = (di.caps & KILN_DEVICE_CAP_ASYNC_COMPUTE) != 0;
        if (async) result((di.caps & KILN_DEVICE_CAP_STREAMS) != 0, "device %u: ASYNC_COMPUTE comes with STREAMS", d);
        kiln_provider *p = instance(lib, d, &di, 1);
        if (!p) {
            result(0, "device %u: no instance for the 1.2 checks", d);
            continue;
        }
        int has = KILN_ABI_HAS(p, kiln_provider, run_end);
        result(!has || !p->run_begin == !p->run_end, "device %u: run_begin and run_end are both set or both NULL (%s)", d,
               has && p->run_begin ? "set" : "NULL");
        if (async) result(p->mem_kind != 0, "device %u: ASYNC_COMPUTE kernels work in a device memory kind (%u)", d, p->mem_kind);
        if (async && p->create_stream) {
            /* The run's stream: record an event, wait for it, synchronize, all on an empty stream. */
            kiln_stream *s = NULL;
            memset(&e, 0, sizeof(e));
            int ok = p->create_stream(p, &s, &e) == KILN_OK && s && s->record && s->synchronize && s->release;
            kiln_event *ev = NULL;
            if (ok) ok = s->record(s, &ev, &e) == KILN_OK && ev && ev->wait && ev->release;
            if (ok) ok = ev->wait(ev, &e) == KILN_OK;
            if (ok && s->wait_event) ok = s->wait_event(s, ev, &e) == KILN_OK;
            if (ok) ok = s->synchronize(s, &e) == KILN_OK;
            if (ev) ev->release(ev);
            if (s) s->release(s);
            result(ok, "device %u: the compute stream records, waits and synchronizes%s%s", d, ok ? "" : ": ", ok ? "" : e.msg);
        }
        if (has && p->run_begin) {
            /* Hooks on a run the provider did not see kernels of: nothing to capture, nothing to fail. */
            kiln_run_info ri;
            memset(&ri, 0, sizeof(ri));
            ri.hdr.struct_size = sizeof(ri);
            ri.hdr.abi_version = v;
            ri.run_id = 1;
            ri.signature = 42;
            memset(&e, 0, sizeof(e));
            int ok = p->run_begin(p, &ri, &e) == KILN_OK && !ri.replayed;
            memset(&e, 0, sizeof(e));
            if (ok) ok = p->run_end(p, &ri, &e) == KILN_OK;
            result(ok, "device %u: run_begin/run_end of an unplanned run succeed and replay nothing%s%s", d, ok ? "" : ": ",
                   ok ? "" : e.msg);
        }
        p->release(p);
    }
    note("the kernels' stream path (async compute, device scratch, end-of-run synchronize) is checked by [conformance]");
    lib->release(lib);
}

static void usage(FILE *f) {
    fprintf(f, "usage: rt-ep-check PROVIDER.so [--onnx-tests DIR] [--filter SUBSTRING] [--option KEY=VALUE]...\n"
               "                   [--jobs N] [--timeout S] [--threads N] [--rtol X] [--atol X] [--verbose]\n"
               "  --onnx-tests DIR   the ONNX backend tests (node/, pytorch-converted/, pytorch-operator/,\n"
               "                     simple/); default ../shared/onnx-tests\n"
               "  --filter S         only tests whose category/name contains S\n"
               "  --option K=V       passed to the provider (repeatable)\n"
               "  --jobs N           tests run at once (default 2); --timeout S per test (default 10)\n"
               "  --threads N        threads of the concurrency check (default 4)\n"
               "exit status: 0 when every check passes, 1 when one fails, 2 on a usage error\n");
}

int main(int argc, char **argv) {
    cfg.tests_dir = "../shared/onnx-tests";
    cfg.jobs = 2;
    cfg.timeout_s = 10;
    cfg.threads = 4;
    cfg.rtol = 1e-3;
    cfg.atol = 1e-7;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        int takes = !strcmp(a, "--onnx-tests") || !strcmp(a, "--filter") || !strcmp(a, "--option") || !strcmp(a, "--jobs") ||
                    !strcmp(a, "--timeout") || !strcmp(a, "--threads") || !strcmp(a, "--rtol") || !strcmp(a, "--atol");
        if (takes && !v) {
            fprintf(stderr, "rt-ep-check: %s needs a value\n", a);
            return 2;
        }
        if (!strcmp(a, "--onnx-tests")) cfg.tests_dir = v;
        else if (!strcmp(a, "--filter")) cfg.filter = v;
        else if (!strcmp(a, "--option")) {
            if (cfg.n_options == MAX_OPTIONS - 1 || !strchr(v, '=')) {
                fprintf(stderr, "rt-ep-check: --option takes KEY=VALUE, got '%s'\n", v);
                return 2;
            }
            cfg.options[cfg.n_options++] = v;
        } else if (!strcmp(a, "--jobs")) cfg.jobs = atoi(v);
        else if (!strcmp(a, "--timeout")) cfg.timeout_s = atoi(v);
        else if (!strcmp(a, "--threads")) cfg.threads = atoi(v);
        else if (!strcmp(a, "--rtol")) cfg.rtol = atof(v);
        else if (!strcmp(a, "--atol")) cfg.atol = atof(v);
        else if (!strcmp(a, "--verbose")) cfg.verbose = 1;
        else if (a[0] == '-' || cfg.so) {
            fprintf(stderr, "rt-ep-check: unexpected argument '%s'\n", a);
            usage(stderr);
            return 2;
        } else cfg.so = a;
        if (takes) i++;
    }
    if (!cfg.so) {
        usage(stderr);
        return 2;
    }
    if (cfg.timeout_s < 1) cfg.timeout_s = 10;
    printf("rt-ep-check %s (Kiln %s, host ABI %u.%u-%u.%u)\n", cfg.so, kiln_version_string(), V(KILN_ABI_VERSION_MIN),
           V(KILN_ABI_VERSION));
    section("abi", sec_abi, 60);
    section("devices", sec_devices, 60);
    section("instances", sec_instances, 60);
    section("memory", sec_memory, 120);
    section("abi12", sec_abi12, 60);
    scan_tests();
    /* The conformance child reports the passing claimed tests ("C dir" lines) for the next two. */
    int p[2];
    if (pipe(p) == 0) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            close(p[0]);
            out_fd = p[1];
            sec_conformance();
            _exit(0);
        }
        close(p[1]);
        FILE *f = fdopen(p[0], "r");
        char line[4096];
        while (f && fgets(line, sizeof(line), f)) {
            char *nl = strchr(line, '\n');
            if (nl) *nl = '\0';
            if (line[0] == 'C' && n_claimed_ids < 64) snprintf(claimed_ids[n_claimed_ids++], sizeof(claimed_ids[0]), "%.2290s", line + 2);
            else if (line[0] == 'P' || line[0] == 'F') {
                printf("[conformance] %s %s\n", line[0] == 'P' ? "PASS" : "FAIL", line + 2);
                if (line[0] == 'P') passed++;
                else failed++;
            } else printf("[conformance] %s\n", line + 2);
        }
        if (f) fclose(f);
        int status = 0;
        waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status)) {
            printf("[conformance] FAIL the runner died\n");
            failed++;
        }
    }
    /* The next sections pick the first passing tests by name, not by finishing order. */
    qsort(claimed_ids, (size_t)n_claimed_ids, sizeof(claimed_ids[0]), cmp_id);
    section("alloc", sec_alloc, 600);
    section("threads", sec_threads, 300);
    free(tests);
    printf("summary: %d checks, %d passed, %d failed\n", passed + failed, passed, failed);
    return failed ? 1 : 0;
}
