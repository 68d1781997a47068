/* SPDX-License-Identifier: MIT */
/* The CUDA provider's internals: the instance (device, stream, cuBLAS handle, caching allocator,
 * graph capture) and what its kernels share. Built against abi/kiln_provider.h, the CUDA runtime
 * and cuBLAS only (docs/cuda.md). */
#ifndef KILN_CUDA_H
#define KILN_CUDA_H

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <pthread.h>

#include "cu_options.h"
#include "kiln_provider.h"

#define CU_ABI_MIN KILN_ABI_MAKE(1, 2) /* it needs the kernel stream: older hosts get a clean refusal */
#define CU_ABI_MAX KILN_ABI_MAKE(1, 2)
#define CU_ALIGN 256                   /* bytes: what cudaMalloc guarantees and cuBLAS likes */
#define CU_BUCKETS 48                  /* size classes of the caching allocator: powers of two from 256 B */

/* A block of device memory (the handle the host sees for kind cuda:device), or of pinned host
 * memory (kind cuda:pinned, whose handle is the host pointer itself). */
typedef struct cu_block {
    void *ptr;
    uint64_t bytes;              /* the size class */
    struct cu_block *next;       /* free list */
} cu_block;

typedef struct cu_provider {
    kiln_provider abi;
    const kiln_host_api *host;
    void *host_ctx;
    int device;
    uint32_t kind_dev, kind_pinned;
    cu_options opt;
    cudaStream_t stream;
    cublasHandle_t blas;
    void *blas_ws;               /* cuBLAS workspace (fixed: graph capture allocates nothing) */
    /* Caching allocator: freed blocks are kept per size class and handed out again. Safe without
     * events because every use of the instance's memory is queued on its one in-order stream (or
     * is a synchronous copy): a block freed after work was queued is reused only by work queued
     * later. */
    pthread_mutex_t lock;
    cu_block *free_list[CU_BUCKETS];
    uint64_t held, in_use;       /* bytes from cudaMalloc; bytes handed out */
    /* Graph capture (graphs=1). */
    int capturing;
    uint64_t cap_run, cap_sig, cap_key;
    cudaGraphExec_t exec;
    uint64_t exec_sig, exec_key;
} cu_provider;

int32_t cu_fail(kiln_error *err, int32_t status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A CUDA runtime error as a provider error naming `what`. */
int32_t cu_cuda_fail(kiln_error *err, cudaError_t e, const char *what);

/* Device pointer of a descriptor in kind cuda:device (or pinned), NULL when it is not one. */
void *cu_ptr(const cu_provider *cp, const kiln_value_desc *d);

/* cu_ops.c: claims and kernels. */
int32_t cu_claim_node(kiln_provider *p, const kiln_node_view *n, int32_t *claim, kiln_error *err);
int32_t cu_create_kernel(kiln_provider *p, const kiln_node_view *n, kiln_kernel **out, kiln_error *err);

#endif
