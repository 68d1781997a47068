/* SPDX-License-Identifier: MIT */
/** @file kiln_provider.h
 * Kiln's provider ABI: what an execution provider implements and what the host offers it.
 * The built-in CPU provider uses this same ABI. Plain C only: fixed-width integers, opaque
 * handles, function pointers; no bool, no bitfields. The vendor's guide is docs/providers.md.
 *
 * Rules:
 * - A provider library exports one symbol, kiln_provider_entry (kiln_provider_entry_fn). The
 *   host offers a range of ABI versions; the provider answers the highest version it speaks
 *   within that range, or fails cleanly when there is none. Never its build-time version blindly.
 * - Every struct that crosses the boundary starts with kiln_abi_header. A reader touches a field
 *   only if it lies within header.struct_size (KILN_ABI_HAS). The writer stamps abi_version with
 *   the negotiated version.
 * - Function tables only grow at the end; slots added after 1.0 are optional (may be NULL) and
 *   the host documents what it does when they are.
 * - Each side frees what it allocated. Pointers handed across a call are borrowed for that call
 *   unless the slot's comment says otherwise.
 * - Statuses are kiln_status values; messages travel in the caller's kiln_error.
 * - The error protocol (both directions): a slot taking `kiln_error *err` returns KILN_OK or a
 *   KILN_ERR_* status. `err` may be NULL (the caller wants no message): check before writing,
 *   or use host->set_error, which does. On failure, when `err` is not NULL, the callee sets
 *   err->status equal to the status it returns and a NUL-terminated message naming what failed;
 *   on success it leaves `err` alone. The host always passes a cleared, non-NULL err, prefixes
 *   the node and op to the message, and treats a status outside kiln_status as KILN_ERR_PROVIDER
 *   and an empty message as "failed with status N and no message". rt-ep-check checks it.
 * - A provider never links against libkiln: everything it needs from the host is in
 *   kiln_host_api.
 */
#ifndef KILN_PROVIDER_H
#define KILN_PROVIDER_H

#include "kiln_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** ABI version: major in the high 16 bits, minor in the low 16. */
#define KILN_ABI_MAKE(major, minor) ((uint32_t)(((uint32_t)(major) << 16) | (uint32_t)(minor)))
#define KILN_ABI_MAJOR(v) ((uint32_t)(v) >> 16)
#define KILN_ABI_MINOR(v) ((uint32_t)(v) & 0xffffu)
/** The version this header describes: the newest the host speaks and the newest a provider
 * built against this header can speak. */
#define KILN_ABI_VERSION KILN_ABI_MAKE(1, 2)
/** The oldest version this host still speaks. */
#define KILN_ABI_VERSION_MIN KILN_ABI_MAKE(1, 0)

/** First member of every shared struct. */
typedef struct kiln_abi_header {
    uint32_t struct_size;  /**< sizeof the struct as its writer compiled it */
    uint32_t abi_version;  /**< negotiated version the writer speaks */
} kiln_abi_header;

/** 1 when member `field` of `*(p)` (a `type` starting with kiln_abi_header) lies within the
 * struct_size its writer declared, so a reader may touch it. */
#define KILN_ABI_HAS(p, type, field) \
    (offsetof(type, field) + sizeof(((type *)0)->field) <= (size_t)(p)->hdr.struct_size)

/* ---------------------------------------------------------------------------------------------- */
/* Values seen by kernels                                                                          */

/** One value as a kernel sees it: a tensor, a sequence of tensors, or an empty optional.
 * Written by the host; kernels read it and write only the element storage of their outputs. */
typedef struct kiln_value_desc {
    kiln_abi_header hdr;
    int32_t kind;          /**< KILN_VALUE_TENSOR, KILN_VALUE_SEQUENCE, or KILN_VALUE_OPTIONAL for an empty optional */
    int32_t dtype;         /**< kiln_dtype of the tensor (of the items, for a sequence) */
    int32_t rank;          /**< tensor rank; 0 for a scalar and for non-tensors */
    int32_t mem_kind;      /**< memory kind of `data`; 0 is host memory */
    const int64_t *dims;   /**< `rank` dims, each >= 0 */
    void *data;            /**< tensor storage: row-major, packed, little-endian; STRING: `char *` per element */
    uint64_t offset;       /**< byte offset into `data` (non-host memory kinds only; 0 for host memory) */
    uint64_t count;        /**< elements of a tensor; items of a sequence */
    struct kiln_value_desc *const *items; /**< sequence items (`count` of them); NULL for tensors */
} kiln_value_desc;

/* ---------------------------------------------------------------------------------------------- */
/* Read-only views of the graph, for claims and kernel creation                                     */

typedef struct kiln_node_view kiln_node_view;   /**< a node: borrowed, valid during the call it is given to */
typedef struct kiln_attr_view kiln_attr_view;   /**< an attribute of a node: same lifetime as the node view */
typedef struct kiln_kernel_ctx kiln_kernel_ctx; /**< the host side of one kernel call */
typedef struct kiln_graph_view kiln_graph_view; /**< a graph, or the nodes of a fused group: borrowed, valid during the call */
typedef struct kiln_claim_sink kiln_claim_sink; /**< where claim_groups records groups: valid during that call */

/** Facts about a node the host has worked out (host->node_flags). */
enum {
    KILN_NODE_F_SHAPE_ONLY = 1u << 0, /**< computes only values read as shapes; the host keeps it on the CPU unless a claim insists */
    KILN_NODE_F_CLAIMED = 1u << 1,    /**< already assigned to a provider asked earlier */
    KILN_NODE_F_SUBGRAPH = 1u << 2    /**< holds subgraphs (If, Loop, Scan): always run by the CPU provider */
};

/** Attribute types (ONNX AttributeProto.AttributeType numbers). */
typedef enum kiln_attr_type {
    KILN_ATTR_UNDEFINED = 0,
    KILN_ATTR_FLOAT = 1,
    KILN_ATTR_INT = 2,
    KILN_ATTR_STRING = 3,
    KILN_ATTR_TENSOR = 4,
    KILN_ATTR_GRAPH = 5,
    KILN_ATTR_FLOATS = 6,
    KILN_ATTR_INTS = 7,
    KILN_ATTR_STRINGS = 8,
    KILN_ATTR_TENSORS = 9,
    KILN_ATTR_GRAPHS = 10,
    KILN_ATTR_SPARSE_TENSOR = 11,
    KILN_ATTR_SPARSE_TENSORS = 12,
    KILN_ATTR_TYPE_PROTO = 13,
    KILN_ATTR_TYPE_PROTOS = 14
} kiln_attr_type;

/** Type and shape of a node input or output as known when the session is created. */
typedef struct kiln_value_info {
    kiln_abi_header hdr;
    const char *name;        /**< value name (borrowed) */
    int32_t present;         /**< 0 when the optional input/output is omitted ("" in ONNX) */
    int32_t kind;            /**< kiln_value_kind */
    int32_t dtype;           /**< kiln_dtype; elements of a sequence or optional */
    int32_t rank;            /**< -1 when unknown */
    int64_t dims[KILN_MAX_RANK]; /**< first `rank` entries used; -1 where unknown or symbolic */
    const kiln_value_desc *constant; /**< the value when it is a constant (initializer or folded); NULL otherwise.
                                          Host memory, valid for the session's lifetime. */
} kiln_value_info;

/* ---------------------------------------------------------------------------------------------- */
/* Host services                                                                                   */

/** Work item for parallel_for: handles indices [begin, end). */
typedef void (*kiln_range_fn)(void *arg, size_t begin, size_t end);

/** Functions the host offers a provider. Given at entry; valid until the provider is released. */
typedef struct kiln_host_api {
    kiln_abi_header hdr;

    /* -- logging and memory -- */
    void (*log)(int32_t level, const char *provider, const char *msg);           /**< kiln_log_level */
    /** Host heap (the session's allocator, so allocations are accounted); `host_ctx` is the one
     * given when the provider instance was created. NULL on failure. */
    void *(*alloc)(void *host_ctx, size_t size, size_t alignment);
    void (*free)(void *host_ctx, void *ptr);                                     /**< frees what alloc returned; NULL ok */

    /* -- node views (claims and kernel creation) -- */
    const char *(*node_name)(const kiln_node_view *n);
    const char *(*node_op_type)(const kiln_node_view *n);
    const char *(*node_domain)(const kiln_node_view *n);                         /**< "" for the default ONNX domain */
    int64_t (*node_opset)(const kiln_node_view *n);                              /**< opset version of the node's domain */
    uint32_t (*node_input_count)(const kiln_node_view *n);
    uint32_t (*node_output_count)(const kiln_node_view *n);
    /** Fills `info` (caller sets info->hdr.struct_size) for input `i`; KILN_ERR_INVALID_ARGUMENT when out of range. */
    int32_t (*node_input_info)(const kiln_node_view *n, uint32_t i, kiln_value_info *info);
    int32_t (*node_output_info)(const kiln_node_view *n, uint32_t i, kiln_value_info *info);
    uint32_t (*node_attr_count)(const kiln_node_view *n);
    const kiln_attr_view *(*node_attr_at)(const kiln_node_view *n, uint32_t i);
    const kiln_attr_view *(*node_attr)(const kiln_node_view *n, const char *name); /**< NULL when absent */

    /* -- attribute views -- */
    const char *(*attr_name)(const kiln_attr_view *a);
    int32_t (*attr_type)(const kiln_attr_view *a);                               /**< kiln_attr_type */
    int64_t (*attr_int)(const kiln_attr_view *a);
    float (*attr_float)(const kiln_attr_view *a);
    /** String bytes (NUL-terminated; `len` may be NULL). For STRINGS, item `i`. */
    const char *(*attr_string)(const kiln_attr_view *a, uint32_t i, size_t *len);
    uint32_t (*attr_count)(const kiln_attr_view *a);                             /**< items of a list attribute */
    const int64_t *(*attr_ints)(const kiln_attr_view *a);
    const float *(*attr_floats)(const kiln_attr_view *a);
    /** Tensor item `i` (0 for TENSOR), as a host descriptor valid for the session. */
    const kiln_value_desc *(*attr_tensor)(const kiln_attr_view *a, uint32_t i);

    /* -- kernel-time services; `ctx` is the one passed to compute -- */
    /** Allocates output `i` with the given shape when the host could not size it before the
     * call (data-dependent shapes), or returns the existing one when the shape matches.
     * The descriptor stays valid for the rest of the call. */
    int32_t (*alloc_output)(kiln_kernel_ctx *ctx, uint32_t i, int32_t rank, const int64_t *dims,
                            kiln_value_desc **out, kiln_error *err);
    /** Makes output `i` a sequence of `n` tensors of `dtype`; items start empty (rank 0, no data)
     * and are sized with alloc_item. */
    int32_t (*alloc_sequence)(kiln_kernel_ctx *ctx, uint32_t i, int32_t dtype, uint64_t n,
                              kiln_value_desc **out, kiln_error *err);
    /** Sizes item `j` of sequence output `i`. */
    int32_t (*alloc_item)(kiln_kernel_ctx *ctx, uint32_t i, uint64_t j, int32_t rank,
                          const int64_t *dims, kiln_value_desc **out, kiln_error *err);
    /** Makes output `i` an empty optional of element type `dtype`. */
    int32_t (*set_output_none)(kiln_kernel_ctx *ctx, uint32_t i, int32_t dtype, kiln_error *err);
    /** Sets element `index` of a STRING tensor the host allocated (an output) to a copy of `len` bytes. */
    int32_t (*set_string)(kiln_kernel_ctx *ctx, kiln_value_desc *t, uint64_t index, const char *s,
                          size_t len, kiln_error *err);
    /** Scratch memory for this call, freed by the host after compute returns; NULL on failure. */
    void *(*scratch)(kiln_kernel_ctx *ctx, size_t bytes);
    /** Runs fn over [0, n) split into ranges of at least `grain` indices on the host's intra-op
     * threads; returns when all ranges are done. fn must not call parallel_for. */
    void (*parallel_for)(kiln_kernel_ctx *ctx, size_t n, size_t grain, kiln_range_fn fn, void *arg);
    /** Runs graph attribute `attr` (item `index` for GRAPHS) of the node with `n_in` inputs bound
     * to the subgraph's inputs in order. On success *outputs points at the subgraph's `n_out`
     * outputs, valid until the next run_subgraph call on this ctx or the end of compute. */
    int32_t (*run_subgraph)(kiln_kernel_ctx *ctx, const char *attr, uint32_t index,
                            const kiln_value_desc *const *inputs, uint32_t n_in,
                            const kiln_value_desc *const **outputs, uint32_t *n_out,
                            kiln_error *err);

    /* -- graph views (claims and group compilation) -- */
    uint32_t (*node_index)(const kiln_node_view *n);                             /**< position in its graph's topological order */
    uint32_t (*node_flags)(const kiln_node_view *n);                             /**< KILN_NODE_F_* bits */
    /** Bit i set: input i reaches the node's kernel in host memory (kind 0) whichever provider
     * runs it, because the host reads its value (shape inputs such as Reshape's `shape`). Every
     * other input, and every output, is in the memory kind of the provider running the node. */
    uint32_t (*node_host_inputs)(const kiln_node_view *n);
    /** The node of the same graph producing input `i` of `n`, and its output index in *slot (may
     * be NULL); NULL for graph inputs, constants, values of enclosing graphs, omitted inputs. */
    const kiln_node_view *(*node_producer)(const kiln_node_view *n, uint32_t i, uint32_t *slot);
    const char *(*graph_name)(const kiln_graph_view *g);                         /**< graph name, or the fused group's name */
    uint32_t (*graph_node_count)(const kiln_graph_view *g);
    const kiln_node_view *(*graph_node_at)(const kiln_graph_view *g, uint32_t i); /**< in topological order; NULL past the end */
    /** Inputs: for a graph, the values fed at run; for a group, every value its nodes read
     * from outside the group, in the order the group kernel receives them. */
    uint32_t (*graph_input_count)(const kiln_graph_view *g);
    int32_t (*graph_input_info)(const kiln_graph_view *g, uint32_t i, kiln_value_info *info);
    /** Outputs: for a graph, its outputs; for a group, every value of its nodes read outside
     * the group, in the order the group kernel writes them. */
    uint32_t (*graph_output_count)(const kiln_graph_view *g);
    int32_t (*graph_output_info)(const kiln_graph_view *g, uint32_t i, kiln_value_info *info);
    /** From claim_groups only: proposes `n` nodes of the graph as one group for compile_group.
     * The host drops nodes it cannot give the provider (claimed earlier, holding subgraphs,
     * shape-only without KILN_GROUP_INSIST, non-tensor values for a device provider) and splits
     * the rest into pieces that create no cycle. KILN_ERR_INVALID_ARGUMENT for a node outside
     * the graph or proposed twice. `nodes` is borrowed for the call. */
    int32_t (*claim_group)(kiln_claim_sink *sink, const kiln_node_view *const *nodes, uint32_t n,
                           uint32_t flags, kiln_error *err);

    /* -- profiling -- */
    uint64_t (*now_ns)(void);                                                    /**< monotonic clock, nanoseconds */
    /** Reports a span [begin_ns, end_ns) of now_ns time spent in `name` (a step of a fused group,
     * device time of a kernel) during the call `ctx`; `name` is copied. The host logs it at debug
     * level with the node and provider named. */
    void (*trace)(kiln_kernel_ctx *ctx, const char *name, uint64_t begin_ns, uint64_t end_ns);

    /* -- threads -- */
    /** Threads a parallel_for on `ctx` may run on, the calling one included (1 when the session
     * has no intra-op pool). A sizing hint: a kernel whose tiles carry a fixed cost (packing a
     * GEMM operand) cuts as many tiles as threads. A provider must check KILN_ABI_HAS before
     * calling it and assume 1 when absent. */
    uint32_t (*thread_count)(kiln_kernel_ctx *ctx);

    /* -- 1.2: a provider checks KILN_ABI_HAS(host, kiln_host_api, slot) before calling these -- */
    /** Logs through the session's environment: the line reaches the application's logger
     * (kiln_env_set_logger) with the provider named, at the environment's log level. `host_ctx`
     * is the one given to the entry point or in kiln_provider_params. Prefer it to `log`, which
     * has no context and can only write to stderr. */
    void (*log_ctx)(void *host_ctx, int32_t level, const char *provider, const char *msg);
    /** The error protocol's helper: when `err` is not NULL, sets err->status to `status` and
     * err->msg to the printf-style message (truncated to KILN_ERROR_MSG_MAX - 1 bytes, always
     * NUL-terminated); returns `status` either way, so `return host->set_error(err, ...)`. */
    int32_t (*set_error)(kiln_error *err, int32_t status, const char *fmt, ...);
    /** Bytes of one element of `dtype` (kiln_dtype); 0 for STRING, for UNDEFINED and for
     * sub-byte or unknown types, whose storage is not a whole number of bytes per element. */
    uint64_t (*dtype_size)(int32_t dtype);
    /** Device scratch for this call, in the memory kind of the provider running the node
     * (kiln_provider.mem_kind, not 0): *block and *offset address `bytes` bytes aligned to the
     * kind's alignment. Planned like host scratch: after the first run of a shape signature it
     * comes from the run's device arena and costs no allocation. Valid until the work queued on
     * the call's stream by this call is done; the host never frees it earlier (the provider's
     * mem_free of a device block follows its stream order: see docs/providers.md). */
    int32_t (*device_scratch)(kiln_kernel_ctx *ctx, uint64_t bytes, void **block, uint64_t *offset, kiln_error *err);
} kiln_host_api;

/** The host side of one kernel call. Inputs are ready; outputs the host could size from the
 * node's shape inference are allocated, the others are NULL until alloc_output/alloc_sequence. */
struct kiln_kernel_ctx {
    kiln_abi_header hdr;
    uint32_t n_inputs;
    uint32_t n_outputs;
    const kiln_value_desc *const *inputs;  /**< NULL entries for omitted optional inputs */
    kiln_value_desc **outputs;             /**< NULL entries for outputs not yet allocated or omitted */
    const kiln_host_api *host;
    /** 1.2: the run's stream on the provider's device, when the device declares
     * KILN_DEVICE_CAP_ASYNC_COMPUTE; NULL otherwise (and for host-memory providers). A kernel
     * given a stream enqueues its work on it and returns without waiting; the host waits (an
     * event or synchronize) only where a value crosses to host memory, where another provider
     * reads it, and at the end of the run. Check KILN_ABI_HAS(ctx, kiln_kernel_ctx, stream). */
    struct kiln_stream *stream;
};

/* ---------------------------------------------------------------------------------------------- */
/* Provider side                                                                                   */

/** A kernel: one node (or one fused group) prepared for running. Created by the provider,
 * released by the provider. */
typedef struct kiln_kernel {
    kiln_abi_header hdr;
    void *state;   /**< provider-owned */
    /** Computes the node. Must not keep pointers to ctx or its descriptors after returning. */
    int32_t (*compute)(struct kiln_kernel *k, kiln_kernel_ctx *ctx, kiln_error *err);
    /** Frees the kernel and its state. */
    void (*release)(struct kiln_kernel *k);
    /** (optional) The weight pre-pack hook. Called once per constant input `input` after the host
     * has placed the constant in the memory kind the kernel reads it in (uploaded once per
     * session for a device kind), before the first compute. Set *packed to 1 when the kernel has
     * made its own copy (packed or not) and will never read that input again: when every reader
     * of an uploaded constant says so, the host frees its copy, and the input's descriptor then
     * has data NULL at compute. NULL: the kernel reads its constant inputs at compute. */
    int32_t (*prepack)(struct kiln_kernel *k, uint32_t input, const kiln_value_desc *weight,
                       int32_t *packed, kiln_error *err);
} kiln_kernel;

/** Answers of claim_node. */
typedef enum kiln_claim {
    KILN_CLAIM_NO = 0,          /**< the provider does not run this node */
    KILN_CLAIM_KERNEL = 1,      /**< the provider runs this node with a kernel from create_kernel */
    KILN_CLAIM_KERNEL_INSIST = 2 /**< as KERNEL, also when the node only computes shapes (KILN_NODE_F_SHAPE_ONLY) */
} kiln_claim;

/** Flags of host->claim_group. */
enum {
    KILN_GROUP_INSIST = 1u << 0   /**< take shape-only nodes too */
};

/** Kinds of device. */
typedef enum kiln_device_type {
    KILN_DEVICE_CPU = 0,
    KILN_DEVICE_GPU = 1,
    KILN_DEVICE_NPU = 2,
    KILN_DEVICE_ACCELERATOR = 3,
    KILN_DEVICE_OTHER = 4
} kiln_device_type;

/** Capability bits of kiln_device_info.caps. */
enum {
    KILN_DEVICE_CAP_STREAMS = 1u << 0,        /**< create_stream is implemented: copies may be queued on streams */
    KILN_DEVICE_CAP_CONCURRENT_RUNS = 1u << 1, /**< every slot of a provider instance may be called from several threads at
                                                   once; without it the host calls one at a time per instance */
    KILN_DEVICE_CAP_ASYNC_COMPUTE = 1u << 2   /**< 1.2, with STREAMS: kernels get the run's stream in kiln_kernel_ctx.stream
                                                   and may return before their work is done (see kiln_kernel_ctx.stream) */
};

/** Flags of kiln_mem_kind_info.flags (1.2). */
enum {
    /** Page-locked host memory the device reads and writes directly (fast copies). A block
     * handle of such a kind is a host pointer the host may dereference once the work queued on
     * it is done. The host never places graph values in it on its own; applications use it for
     * bound inputs and outputs (kiln_session_tensor_create with the kind's name), whose copies to and
     * from the device are then the provider's fast path. */
    KILN_MEM_KIND_F_PINNED_HOST = 1u << 0
};

/** One device a library can run on. Filled by the provider; strings are library-owned and live
 * until the library is released. */
typedef struct kiln_device_info {
    kiln_abi_header hdr;
    const char *id;          /**< stable identifier, unique within the library ("example:0") */
    const char *name;        /**< human-readable name */
    int32_t type;            /**< kiln_device_type */
    uint32_t n_mem_kinds;    /**< memory kinds of the device besides host memory (0: its kernels use host memory) */
    uint64_t memory_total;   /**< bytes of device memory; 0 when not known or not separate */
    uint64_t memory_free;    /**< bytes free now; at most memory_total */
    uint64_t caps;           /**< KILN_DEVICE_CAP_* bits */
} kiln_device_info;

/** One memory kind of a device. The provider allocates it (mem_alloc) and copies in and out of
 * it (copy); the host never dereferences its blocks (except pinned host kinds, 1.2). */
typedef struct kiln_mem_kind_info {
    kiln_abi_header hdr;
    const char *name;        /**< short name, unique within the library ("example:device"); library-owned */
    uint32_t alignment;      /**< bytes (a power of two): offsets into a block that are multiples of it suit the kernels */
    uint32_t flags;          /**< 0 in 1.0 and 1.1; KILN_MEM_KIND_F_* bits from 1.2 */
} kiln_mem_kind_info;

/** What the host passes to create_provider. Borrowed for the call. */
typedef struct kiln_provider_params {
    kiln_abi_header hdr;
    const kiln_host_api *host;      /**< valid until the provider is released */
    void *host_ctx;                 /**< passed back to host->alloc and host->free */
    uint32_t device;                /**< index below device_count() */
    uint32_t n_options;
    const char *const *option_keys;   /**< `n_options` keys (the user's key=value options); unknown keys: log a warning */
    const char *const *option_values;
    /** Memory kind numbers the host gave the device's kinds, in mem_kind_info order: the numbers
     * the provider sees in descriptors, mem_alloc, mem_free and copy. */
    const uint32_t *mem_kind_ids;
} kiln_provider_params;

/** One region of a batched copy. Host memory (kind 0) is addressed by a host pointer; other
 * kinds by the provider's block handle. Both regions lie inside their blocks. */
typedef struct kiln_copy_region {
    kiln_abi_header hdr;
    uint32_t src_kind;
    uint32_t dst_kind;
    const void *src;         /**< host pointer or block handle */
    uint64_t src_offset;     /**< bytes */
    void *dst;
    uint64_t dst_offset;     /**< bytes */
    uint64_t bytes;
} kiln_copy_region;

/** A point in a stream's work. Created by kiln_stream.record, released by the host. */
typedef struct kiln_event {
    kiln_abi_header hdr;
    void *state;
    /** Blocks the calling thread until the work queued before the event is done. */
    int32_t (*wait)(struct kiln_event *e, kiln_error *err);
    void (*release)(struct kiln_event *e);
} kiln_event;

/** An ordered queue of a provider's work (copies). Created by create_provider's instance through
 * create_stream, released by the host before the provider. */
typedef struct kiln_stream {
    kiln_abi_header hdr;
    void *state;
    /** Creates an event marking the work queued so far. */
    int32_t (*record)(struct kiln_stream *s, kiln_event **out, kiln_error *err);
    /** Makes work queued on `s` after this call wait for event `e` (recorded on any stream of the
     * same provider instance). */
    int32_t (*wait_event)(struct kiln_stream *s, kiln_event *e, kiln_error *err);
    /** Blocks until all work queued on `s` is done. */
    int32_t (*synchronize)(struct kiln_stream *s, kiln_error *err);
    /** Frees the stream. Work still queued may be dropped: synchronize first to keep it. */
    void (*release)(struct kiln_stream *s);
} kiln_stream;

/** Facts about one run given to run_begin and run_end (1.2). Written by the host, except
 * `replayed`, which run_begin may set. */
typedef struct kiln_run_info {
    kiln_abi_header hdr;
    uint64_t run_id;         /**< increases with each run of the session (concurrent runs differ) */
    uint64_t signature;      /**< hash of the run's input kinds, dtypes and shapes: equal for runs of one shape signature */
    uint32_t planned;        /**< 1 when this signature has a memory plan: every intermediate sits where it sat in the
                                  previous planned run of the same run context (same address_key) */
    uint32_t replay_ok;      /**< 1 when the run's work is nothing but this provider's kernels (no copies, no other
                                  provider, no subgraph), planned, with every output in the arena or a bound tensor:
                                  a captured graph of the same signature and address_key computes it */
    uint64_t address_key;    /**< hash of the device addresses the run reads and writes (arena blocks, bound inputs and
                                  outputs); 0 when not planned */
    struct kiln_stream *stream; /**< the stream the provider's kernels get in this run (NULL without ASYNC_COMPUTE) */
    int32_t status;          /**< run_end: KILN_OK or the run's failure */
    uint32_t replayed;       /**< run_begin sets 1 when it launched a captured graph for this run */
} kiln_run_info;

/** A provider instance, created for one session on one device. name and release are required;
 * claim_node with create_kernel, or claim_groups with compile_group, or both; the (device kinds)
 * slots when the device declares memory kinds. The host checks this when it loads the provider. */
typedef struct kiln_provider {
    kiln_abi_header hdr;
    const char *name;        /**< short name, e.g. "cpu" (provider-owned, lives as long as the provider) */
    void *state;             /**< provider-owned */
    /** (with create_kernel, unless claim_groups is set) Says whether the provider runs node `n`
     * with a kernel. Sets *claim to a kiln_claim. Asked only about nodes no earlier provider took. */
    int32_t (*claim_node)(struct kiln_provider *p, const kiln_node_view *n, int32_t *claim,
                          kiln_error *err);
    /** (with claim_node) Creates the kernel for a claimed node: reads attributes and constant
     * inputs (weights may be packed here), validates them, and returns KILN_ERR_UNSUPPORTED or
     * KILN_ERR_INVALID_MODEL with a message when it cannot. After KILN_ERR_UNSUPPORTED the
     * host gives the node to the next provider. */
    int32_t (*create_kernel)(struct kiln_provider *p, const kiln_node_view *n, kiln_kernel **out,
                             kiln_error *err);
    /** Frees the instance. The host releases every kernel and stream first. */
    void (*release)(struct kiln_provider *p);

    /** Memory kind its kernels read and write (see node_host_inputs): 0 for host memory, else one
     * of params->mem_kind_ids. */
    uint32_t mem_kind;
    /** (optional) Proposes fused groups among the nodes of `g` through host->claim_group. Asked
     * before claim_node, once per graph (the main graph and every subgraph). */
    int32_t (*claim_groups)(struct kiln_provider *p, const kiln_graph_view *g, kiln_claim_sink *sink,
                            kiln_error *err);
    /** (required with claim_groups) Compiles one accepted group into a kernel whose compute gets
     * the group's inputs and outputs (graph_input_info / graph_output_info order). After
     * KILN_ERR_UNSUPPORTED the host offers the group's nodes to claim_node and later providers. */
    int32_t (*compile_group)(struct kiln_provider *p, const kiln_graph_view *group, kiln_kernel **out,
                             kiln_error *err);
    /** (device kinds) Allocates `bytes` (0 allowed) of memory kind `kind`; *block is an opaque
     * handle. KILN_ERR_OUT_OF_MEMORY when it cannot. */
    int32_t (*mem_alloc)(struct kiln_provider *p, uint32_t kind, uint64_t bytes, void **block,
                         kiln_error *err);
    /** (device kinds) Frees a block of `kind`; NULL is a no-op. */
    void (*mem_free)(struct kiln_provider *p, uint32_t kind, void *block);
    /** (device kinds) Copies `n` regions between host memory and the provider's kinds, or between
     * its kinds. With a stream (from create_stream) the copies may finish later, in queue order;
     * with NULL they are done on return. `regions` is borrowed for the call. */
    int32_t (*copy)(struct kiln_provider *p, const kiln_copy_region *const *regions, uint32_t n,
                    kiln_stream *stream, kiln_error *err);
    /** (optional; KILN_DEVICE_CAP_STREAMS) Creates a stream. NULL: copies are synchronous. */
    int32_t (*create_stream)(struct kiln_provider *p, kiln_stream **out, kiln_error *err);

    /* -- 1.2 (optional; the host reads them only within hdr.struct_size) -- */
    /** Called before the first node of every run of the main graph, with the run's facts. A
     * provider may begin capturing its stream's work here (a CUDA graph) or, when `run->replay_ok`
     * and it holds a capture for `run->signature` and `run->address_key`, launch it and set
     * run->replayed = 1: its kernels of this run are then not called. KILN_ERR_* fails the run. */
    int32_t (*run_begin)(struct kiln_provider *p, struct kiln_run_info *run, kiln_error *err);
    /** Called after the last node of every run begun with run_begin, also when the run failed
     * (`run->status`), before the host's end-of-run synchronize of the provider's stream. */
    int32_t (*run_end)(struct kiln_provider *p, struct kiln_run_info *run, kiln_error *err);
} kiln_provider;

/** What kiln_provider_entry returns: the library's devices and its provider factory. */
typedef struct kiln_provider_library {
    kiln_abi_header hdr;
    const char *name;        /**< short name used in messages and reports ("example"); library-owned */
    const char *version;     /**< the provider's own version (free text) */
    void *state;             /**< provider-owned */
    /** Number of devices found; 0 is a valid answer (the host then asks the provider nothing). */
    uint32_t (*device_count)(struct kiln_provider_library *lib);
    /** Fills `info` (caller sets info->hdr.struct_size) for device `device`;
     * KILN_ERR_INVALID_ARGUMENT when out of range. */
    int32_t (*device_info)(struct kiln_provider_library *lib, uint32_t device, kiln_device_info *info,
                           kiln_error *err);
    /** Fills `info` for memory kind `kind` (below the device's n_mem_kinds) of `device`. */
    int32_t (*mem_kind_info)(struct kiln_provider_library *lib, uint32_t device, uint32_t kind,
                             kiln_mem_kind_info *info, kiln_error *err);
    /** Creates a provider instance for one session (params->device). */
    int32_t (*create_provider)(struct kiln_provider_library *lib, const kiln_provider_params *params,
                               kiln_provider **out, kiln_error *err);
    /** Frees the library object. The host releases every instance first. */
    void (*release)(struct kiln_provider_library *lib);
} kiln_provider_library;

/** The one symbol a provider library exports. */
#define KILN_PROVIDER_ENTRY_NAME "kiln_provider_entry"

/** The entry point. The host offers versions [host_min, host_max]; the provider picks the
 * highest version in that range it speaks, stamps it in every struct it returns, and returns
 * a library in *out; when no version fits it returns KILN_ERR_PROVIDER with a message and
 * leaves *out NULL. It may be called several times (each call returns a new library object,
 * released with lib->release) and from several threads. Must not start threads or touch
 * devices beyond enumerating them. `host` and `host_ctx` stay valid until the library is
 * released; host->alloc with `host_ctx` is the host heap for library-level allocations. */
typedef int32_t (*kiln_provider_entry_fn)(const kiln_host_api *host, void *host_ctx, uint32_t host_min,
                                          uint32_t host_max, kiln_provider_library **out,
                                          kiln_error *err);

/** Marks the entry point exported from a provider built with hidden visibility. */
#if defined(_WIN32)
#  define KILN_PROVIDER_EXPORT __declspec(dllexport)
#elif defined(__GNUC__)
#  define KILN_PROVIDER_EXPORT __attribute__((visibility("default")))
#else
#  define KILN_PROVIDER_EXPORT
#endif

#ifdef __cplusplus
}
#endif
#endif /* KILN_PROVIDER_H */
