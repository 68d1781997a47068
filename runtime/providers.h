/* SPDX-License-Identifier: MIT */
/* The host's view of a session's providers (runtime/provider_loader.c): loaded libraries and
 * instances in the order they are asked, memory kinds with their owners, device tensors, and
 * the partitioner's entry points (runtime/partition.c, runtime/placement.c). Private to runtime/. */
#ifndef KILN_RUNTIME_PROVIDERS_H
#define KILN_RUNTIME_PROVIDERS_H

#include <pthread.h>
#include <stdatomic.h>

#include "graph/ops.h"
#include "runtime/session_impl.h"

/* Node->provider value of nodes that run nothing (every output is a constant). */
#define KILN_PROVIDER_NONE UINT32_MAX

/* One provider instance of a session. */
typedef struct kiln_prov {
    kiln_provider *p;
    kiln_provider_library *lib;
    void *dl;                    /* dlopen handle; NULL for the built-in CPU provider */
    const char *name;            /* the instance's name (provider-owned) */
    char *path;                  /* the .so as found, or "built-in" (env heap) */
    uint32_t index;              /* position in the asking order */
    uint32_t version;            /* negotiated ABI version */
    uint32_t device;             /* device index used */
    uint64_t caps;               /* KILN_DEVICE_CAP_* of that device */
    const char *device_id;       /* library-owned */
    uint32_t first_kind, n_kinds; /* the device's memory kinds in the session's kind table */
    kiln_stream *stream;         /* for copies, when the device has streams */
    kiln_stream *compute_stream; /* ABI 1.2 ASYNC_COMPUTE: `stream`, also given to kernels; else NULL */
    int no_fallback;             /* asked with fallback=error: a node it leaves to the CPU fails the session */
    int serialize;               /* no KILN_DEVICE_CAP_CONCURRENT_RUNS: one call at a time */
    pthread_mutex_t lock;        /* recursive: a kernel may call back into the provider's memory */
    int lock_ready;
    atomic_ullong copy_calls;    /* copy() calls made by the host, and bytes moved */
    atomic_ullong copy_bytes;
} kiln_prov;

/* A memory kind of the session: 0 is host memory; the others belong to a provider. */
typedef struct kiln_kind {
    uint32_t id;                 /* index in the session's kind table */
    char name[64];
    uint32_t alignment;          /* bytes */
    kiln_prov *prov;             /* NULL for host memory */
} kiln_kind;

/* A provider library that answered zero devices: kept only for the report. */
typedef struct kiln_prov_skipped {
    char *path;
    char *name;
} kiln_prov_skipped;

typedef struct kiln_providers {
    kiln_prov **list;            /* asked in this order; the CPU provider is last */
    uint32_t n;
    kiln_kind *kinds;
    uint32_t n_kinds;
    kiln_prov_skipped *skipped;
    uint32_t n_skipped;
} kiln_providers;

/* One provider asked for with kiln_session_options_append_provider (C heap). */
typedef struct kiln_provider_request {
    char *what;                  /* path or name */
    char **keys, **values;       /* options, without the host's own ("device") */
    uint32_t n_options;
    uint32_t device;
    int no_fallback;             /* host option fallback=error */
} kiln_provider_request;

/* ---- provider_loader.c ---- */

/* Loads the requested providers in order, then the CPU provider. */
kiln_status kiln_providers_create(kiln_session *s, const kiln_session_options *opts, kiln_error *err);
void kiln_providers_destroy(kiln_session *s);
void kiln_provider_requests_free(kiln_session_options *opts);

/* Serializes calls into providers without KILN_DEVICE_CAP_CONCURRENT_RUNS. */
void kiln_prov_enter(kiln_prov *pv);
void kiln_prov_leave(kiln_prov *pv);

/* A block of memory kind `kind` (not 0) from its provider, and its release. */
kiln_status kiln_kind_alloc(kiln_session *s, uint32_t kind, uint64_t bytes, void **block, kiln_error *err);
void kiln_kind_free(const kiln_kind *k, void *block);
/* Copies `n` regions of equal (src, dst) kinds through the provider owning the non-host side;
 * device-to-device between two providers goes through a host buffer from `a`. */
kiln_status kiln_kind_copy(kiln_session *s, const kiln_copy_region *const *regions, uint32_t n,
                           const kiln_allocator *a, kiln_error *err);

/* A tensor for value `v` in v's memory kind (host memory through the env's allocator). */
kiln_status kiln_value_alloc(kiln_session *s, const kiln_value *v, int32_t dtype, int32_t rank,
                             const int64_t *dims, kiln_tensor **out, kiln_error *err);

/* ---- device_run.c: ABI 1.2 streams in kernel calls, device scratch, run hooks ---- */

/* The stream kernels of provider p get in their calls (NULL unless it computes asynchronously). */
kiln_stream *kiln_exec_stream(const kiln_session *s, const kiln_provider *p);
/* After a kernel call: records its device scratch for the plan when `record`, frees unplanned blocks. */
void kiln_call_device_done(kiln_call *c, int record);
/* Before the first node of a main-graph run: run_begin of every provider that has it. */
kiln_status kiln_run_hooks_begin(kiln_runctx *c, kiln_error *err);
/* After the last node (also after a failure): run_end, then the end-of-run synchronize of every
 * asynchronous provider's stream. Returns `st`, or the first hook/synchronize failure when st is OK. */
kiln_status kiln_run_hooks_end(kiln_runctx *c, kiln_status st, kiln_error *err);

/* ---- graph_view.c: the graph views and claim sink of kiln_host_api ---- */

/* Node->provider of a node no provider has taken yet. */
#define KILN_PROVIDER_UNASSIGNED (UINT32_MAX - 1)

/* A graph, or a fused group (fused != NULL), as providers see it. */
struct kiln_graph_view {
    kiln_graph *g;
    kiln_node *fused;
};

/* Groups proposed during one claim_groups call. */
typedef struct kiln_proposal {
    uint32_t *nodes;             /* node ids (indices in g->nodes), env heap */
    uint32_t n;
    uint32_t flags;              /* KILN_GROUP_* */
} kiln_proposal;

struct kiln_claim_sink {
    const kiln_allocator *a;
    kiln_graph *g;
    uint8_t *proposed;           /* per node: already in a proposal of this call */
    kiln_proposal *list;
    uint32_t n, cap;
};

int32_t kiln_host_fill_info(const kiln_value *v, kiln_value_info *info);
uint32_t kiln_view_node_index(const kiln_node_view *n);
uint32_t kiln_view_node_flags(const kiln_node_view *n);
uint32_t kiln_view_node_host_inputs(const kiln_node_view *n);
const kiln_node_view *kiln_view_node_producer(const kiln_node_view *n, uint32_t i, uint32_t *slot);
const char *kiln_view_graph_name(const kiln_graph_view *g);
uint32_t kiln_view_graph_node_count(const kiln_graph_view *g);
const kiln_node_view *kiln_view_graph_node_at(const kiln_graph_view *g, uint32_t i);
uint32_t kiln_view_graph_input_count(const kiln_graph_view *g);
int32_t kiln_view_graph_input_info(const kiln_graph_view *g, uint32_t i, kiln_value_info *info);
uint32_t kiln_view_graph_output_count(const kiln_graph_view *g);
int32_t kiln_view_graph_output_info(const kiln_graph_view *g, uint32_t i, kiln_value_info *info);
int32_t kiln_view_claim_group(kiln_claim_sink *sink, const kiln_node_view *const *nodes, uint32_t n, uint32_t flags,
                              kiln_error *err);
uint64_t kiln_view_now_ns(void);
void kiln_view_trace(kiln_kernel_ctx *ctx, const char *name, uint64_t begin_ns, uint64_t end_ns);
/* 1 when input i of n (a node or a fused group) is read in host memory: a shape input. */
int kiln_node_input_on_host(const kiln_node *n, uint32_t i);

/* ---- partition.c / placement.c ---- */

/* A kernel made at partition time, until the executor takes it. */
typedef struct kiln_part_kernel {
    const kiln_node *node;
    kiln_kernel *kernel;
    kiln_prov *prov;
} kiln_part_kernel;

/* A constant placed in a device memory kind once per session. */
typedef struct kiln_upload {
    kiln_const *c;               /* the device copy (arena); c->desc.data is the block until released */
    const kiln_value *src;
    uint32_t kind;
    void *block;
    uint32_t readers, packed;    /* kernel inputs reading it, and those whose kernel pre-packed it */
    uint8_t released;            /* every reader pre-packed it: the block is freed */
} kiln_upload;

typedef struct kiln_partition {
    kiln_part_kernel *kernels;   /* sorted by node once partitioning is done */
    uint32_t n_kernels, cap_kernels;
    kiln_upload *uploads;
    uint32_t n_uploads, cap_uploads;
    uint32_t n_groups;           /* for unique group names */
    uint32_t n_copies;           /* for unique copy names */
} kiln_partition;

/* Status a provider returned: kept when it is a known error, KILN_ERR_PROVIDER otherwise; the
 * message is made printable ("failed with status N and no message" when empty). */
kiln_status kiln_provider_status(int32_t st, kiln_error *err);
/* Records a kernel made for node n by provider pv (owned by the partition until taken). */
kiln_status kiln_partition_add_kernel(kiln_session *s, const kiln_node *n, kiln_kernel *k, kiln_prov *pv,
                                      kiln_error *err);
/* A node outside g's node list (arena): op `op` of domain kiln, inputs and outputs to fill. */
kiln_status kiln_partition_new_node(kiln_graph *g, const char *name, kiln_op_id op, uint32_t n_in, uint32_t n_out,
                                    kiln_node **out, kiln_error *err);
/* Places g's values in memory kinds, inserts copies, uploads constants, makes copy kernels and
 * offers constants to the kernels' prepack hooks (placement.c). g is fused and sorted. */
kiln_status kiln_partition_place(kiln_session *s, kiln_graph *g, kiln_error *err);
/* Right after the built-in provider made n's kernel: frees each constant input of n (main graph)
 * that every reader has now packed, so the originals go while the packed copies are made and
 * peak memory holds each weight about once (runtime/placement.c). */
void kiln_partition_release_packed(kiln_session *s, kiln_graph *g, const kiln_node *n);

/* Assigns every node of g and of its subgraphs to a provider, fuses claimed groups, places
 * every value in a memory kind, inserts copies and uploads constants, and creates kernels. */
kiln_status kiln_partition_run(kiln_session *s, kiln_graph *g, kiln_error *err);
void kiln_partition_destroy(kiln_session *s);
/* Hands node n's kernel (created by kiln_partition_run) to the executor, which then owns it. */
kiln_status kiln_partition_take_kernel(kiln_session *s, const kiln_node *n, kiln_kernel **kernel,
                                       kiln_provider **provider, kiln_error *err);
/* The partition as JSON (see kiln_session_partition_report). */
kiln_status kiln_partition_report(const kiln_session *s, char *buf, size_t size, size_t *length,
                                  kiln_error *err);

#endif
