/* SPDX-License-Identifier: MIT */
/* The OpenCL provider's internal declarations: devices, the library, the provider instance, its
 * memory blocks, programs and kernels. Built against abi/kiln_provider.h and the OpenCL ICD
 * loader only; see docs/opencl.md. */
#ifndef KILN_OCL_H
#define KILN_OCL_H

#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <stdint.h>

#include "kiln_provider.h"
#include "ocl_act.h"

#define OCL_ABI_MIN KILN_ABI_MAKE(1, 0)
#define OCL_ABI_MAX KILN_ABI_MAKE(1, 1)
#define OCL_MAX_DEVICES 64
#define OCL_BUF_MAGIC 0x6b6f636cu
#define OCL_ALIGN 64 /* bytes: offsets into the arena are multiples of it */

/* One device of one platform, as enumerated at entry. */
typedef struct ocl_device {
    cl_platform_id platform;
    cl_device_id dev;
    char id[32];           /* "opencl:N" */
    char name[320];        /* "device name (platform name, OpenCL version)" */
    char dev_name[256];
    char driver[128];      /* driver version: part of the program cache key */
    int32_t type;          /* kiln_device_type */
    uint64_t global_mem, local_mem;
    size_t max_wg;
    int fp16;              /* cl_khr_fp16 */
} ocl_device;

typedef struct ocl_library {
    kiln_provider_library abi;
    const kiln_host_api *host;
    void *host_ctx;
    uint32_t n_devices;
    ocl_device devices[OCL_MAX_DEVICES];
} ocl_library;

/* A block of the device memory kind: a cl_mem behind a handle that can be checked. */
typedef struct ocl_buf {
    uint32_t magic;
    cl_mem mem;
    uint64_t bytes;
} ocl_buf;

/* Programs: one per storage type (float always; half where the device has cl_khr_fp16). */
enum { OCL_F32 = 0, OCL_F16 = 1, OCL_NTYPES = 2 };

typedef struct ocl_provider {
    kiln_provider abi;
    const kiln_host_api *host;
    void *host_ctx;
    uint32_t version;
    ocl_device dev;
    cl_context ctx;
    cl_command_queue queue;       /* in order: kernels and copies run in the order queued */
    cl_program prog[OCL_NTYPES];  /* built on first use, once per session */
    int tile, wpt;                /* GEMM tile and results per work-item, per device */
    int gemm_cpu;                 /* 1: register-blocked GEMM without local memory (CPU devices) */
    int cache;                    /* 1: programs cached on disk */
    char cache_dir[512];
    int fuse;                     /* propose producer + activation groups */
    int fp16;                     /* claim float16 nodes (the device has cl_khr_fp16) */
    uint64_t mem_limit, mem_used; /* device_memory=BYTES caps allocations (injects out-of-memory) */
    const char *extra_source;     /* test hook: appended to the program source (a kernel that fails to build) */
} ocl_provider;

int32_t ocl_fail(kiln_error *err, int32_t status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
const char *ocl_errstr(cl_int e);

/* ocl_devices.c */
uint32_t ocl_enumerate(ocl_device *out, uint32_t max, char *why, size_t why_size);

/* ocl_memory.c: the memory kind, copies and streams. */
int32_t ocl_mem_alloc(kiln_provider *p, uint32_t kind, uint64_t bytes, void **block, kiln_error *err);
void ocl_mem_free(kiln_provider *p, uint32_t kind, void *block);
int32_t ocl_copy(kiln_provider *p, const kiln_copy_region *const *regions, uint32_t n, kiln_stream *stream, kiln_error *err);
int32_t ocl_create_stream(kiln_provider *p, kiln_stream **out, kiln_error *err);
/* The cl_mem of a block handle; NULL when the handle is not one of ours. */
cl_mem ocl_buf_mem(const void *block);

/* ocl_program.c: the kernel source compiled once per session, cached on disk. */
int32_t ocl_program(ocl_provider *pv, int type, const char *op, cl_program *out, kiln_error *err);
int32_t ocl_kernel_create(ocl_provider *pv, int type, const char *name, const char *op, cl_kernel *out, kiln_error *err);

/* ocl_claim.c */
int32_t ocl_claim_node(kiln_provider *p, const kiln_node_view *n, int32_t *claim, kiln_error *err);
int32_t ocl_create_kernel(kiln_provider *p, const kiln_node_view *n, kiln_kernel **out, kiln_error *err);
int32_t ocl_claim_groups(kiln_provider *p, const kiln_graph_view *g, kiln_claim_sink *sink, kiln_error *err);
int32_t ocl_compile_group(kiln_provider *p, const kiln_graph_view *g, kiln_kernel **out, kiln_error *err);

#endif
