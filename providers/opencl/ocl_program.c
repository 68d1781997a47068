/* SPDX-License-Identifier: MIT */
/* The provider's OpenCL C (the cl/ files, embedded at build time) is compiled once per session
 * and type, on the first kernel that needs it. Binaries are cached on disk keyed by a hash of the
 * source, the build options, the device and its driver; `cache=0` (or KILN_OPENCL_CACHE=0) turns
 * the cache off. A failed build logs the compiler's log and names the op that asked. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ocl.h"

extern const char ocl_kernel_source[];

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static int mkdirs(const char *path) {
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *q = buf + 1; *q; q++) {
        if (*q != '/') continue;
        *q = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -1;
        *q = '/';
    }
    return mkdir(buf, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

/* Reads the whole file into host memory; NULL when absent. */
static unsigned char *read_file(ocl_provider *pv, const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *buf = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0) n = ftell(f);
    if (n > 0 && fseek(f, 0, SEEK_SET) == 0) buf = pv->host->alloc(pv->host_ctx, (size_t)n, 16);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        pv->host->free(pv->host_ctx, buf);
        buf = NULL;
    }
    fclose(f);
    *len = buf ? (size_t)n : 0;
    return buf;
}

/* Writes the program's binary for our one device to `path` (through a temporary file and a
 * rename, so concurrent sessions never read half a file). Failures only cost the cache. */
static void save_binary(ocl_provider *pv, cl_program prog, const char *path) {
    size_t size = 0;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof(size), &size, NULL) != CL_SUCCESS || !size) return;
    unsigned char *bin = pv->host->alloc(pv->host_ctx, size, 16);
    if (!bin) return;
    unsigned char *bins[1] = {bin};
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof(bins), bins, NULL) == CL_SUCCESS) {
        char tmp[600];
        snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
        FILE *f = fopen(tmp, "wb");
        if (f) {
            int ok = fwrite(bin, 1, size, f) == size;
            ok = (fclose(f) == 0) && ok;
            if (!ok || rename(tmp, path) != 0) remove(tmp);
        }
    }
    pv->host->free(pv->host_ctx, bin);
}

static int32_t build_failed(ocl_provider *pv, cl_program prog, cl_int e, const char *op, const char *opts, kiln_error *err) {
    size_t n = 0;
    char *log = NULL;
    if (clGetProgramBuildInfo(prog, pv->dev.dev, CL_PROGRAM_BUILD_LOG, 0, NULL, &n) == CL_SUCCESS && n)
        log = pv->host->alloc(pv->host_ctx, n + 1, 16);
    if (log) {
        if (clGetProgramBuildInfo(prog, pv->dev.dev, CL_PROGRAM_BUILD_LOG, n, log, NULL) != CL_SUCCESS) log[0] = '\0';
        log[n] = '\0';
    }
    char head[600];
    snprintf(head, sizeof(head), "building the OpenCL kernels for %s on '%s' (options '%s') failed: %s (%d); build log:\n%s", op,
             pv->dev.dev_name, opts, ocl_errstr(e), e, log && log[0] ? log : "(empty)");
    pv->host->log(KILN_LOG_ERROR, "opencl", head);
    /* The message carries the first error line of the log. */
    const char *first = log ? strstr(log, "error") : NULL;
    char line[200] = "";
    if (first) {
        size_t k = 0;
        while (first[k] && first[k] != '\n' && k + 1 < sizeof(line)) k++;
        memcpy(line, first, k);
        line[k] = '\0';
    }
    if (log) pv->host->free(pv->host_ctx, log);
    return ocl_fail(err, KILN_ERR_PROVIDER, "the OpenCL kernels for %s failed to build on '%s': %s (%d)%s%s (full build log logged)",
                    op, pv->dev.dev_name, ocl_errstr(e), e, line[0] ? ": " : "", line);
}

int32_t ocl_program(ocl_provider *pv, int type, const char *op, cl_program *out, kiln_error *err) {
    *out = NULL;
    if (pv->prog[type]) {
        *out = pv->prog[type];
        return KILN_OK;
    }
    char opts[160];
    snprintf(opts, sizeof(opts), "-cl-std=CL1.2 -DTS=%d -DWPT=%d%s", pv->tile, pv->wpt, type == OCL_F16 ? " -DKILN_HALF" : "");
    const char *srcs[2] = {ocl_kernel_source, pv->extra_source ? pv->extra_source : ""};
    uint64_t h = 0xcbf29ce484222325ull;
    h = fnv(h, srcs[0], strlen(srcs[0]));
    h = fnv(h, srcs[1], strlen(srcs[1]) + 1);
    h = fnv(h, opts, strlen(opts) + 1);
    h = fnv(h, pv->dev.dev_name, strlen(pv->dev.dev_name) + 1);
    h = fnv(h, pv->dev.driver, strlen(pv->dev.driver) + 1);
    char path[600] = "";
    if (pv->cache && pv->cache_dir[0] && mkdirs(pv->cache_dir) == 0)
        snprintf(path, sizeof(path), "%s/%016llx.bin", pv->cache_dir, (unsigned long long)h);
    cl_int e = CL_SUCCESS;
    cl_program prog = NULL;
    if (path[0]) {
        size_t len = 0;
        unsigned char *bin = read_file(pv, path, &len);
        if (bin) {
            const unsigned char *bins[1] = {bin};
            cl_int st = CL_SUCCESS;
            prog = clCreateProgramWithBinary(pv->ctx, 1, &pv->dev.dev, &len, bins, &st, &e);
            if (prog && e == CL_SUCCESS && st == CL_SUCCESS) e = clBuildProgram(prog, 1, &pv->dev.dev, opts, NULL, NULL);
            if (prog && (e != CL_SUCCESS || st != CL_SUCCESS)) {
                /* A stale or foreign binary: rebuilt from source below. */
                clReleaseProgram(prog);
                prog = NULL;
            }
            pv->host->free(pv->host_ctx, bin);
        }
    }
    if (!prog) {
        prog = clCreateProgramWithSource(pv->ctx, 2, srcs, NULL, &e);
        if (!prog || e != CL_SUCCESS)
            return ocl_fail(err, KILN_ERR_PROVIDER, "clCreateProgramWithSource for %s failed: %s (%d)", op, ocl_errstr(e), e);
        e = clBuildProgram(prog, 1, &pv->dev.dev, opts, NULL, NULL);
        if (e != CL_SUCCESS) {
            int32_t st = build_failed(pv, prog, e, op, opts, err);
            clReleaseProgram(prog);
            return st;
        }
        if (path[0]) save_binary(pv, prog, path);
    }
    pv->prog[type] = prog;
    *out = prog;
    return KILN_OK;
}

int32_t ocl_kernel_create(ocl_provider *pv, int type, const char *name, const char *op, cl_kernel *out, kiln_error *err) {
    cl_program prog;
    *out = NULL;
    int32_t st = ocl_program(pv, type, op, &prog, err);
    if (st != KILN_OK) return st;
    cl_int e = CL_SUCCESS;
    *out = clCreateKernel(prog, name, &e);
    if (!*out || e != CL_SUCCESS) {
        *out = NULL;
        return ocl_fail(err, KILN_ERR_PROVIDER, "clCreateKernel(%s) for %s failed: %s (%d)", name, op, ocl_errstr(e), e);
    }
    return KILN_OK;
}
