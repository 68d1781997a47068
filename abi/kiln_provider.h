/* SPDX-License-Identifier: MIT */
/** @file kiln_provider.h
 * Kiln's provider ABI: what an execution provider implements and what the host offers it.
 * The built-in CPU provider uses this same ABI. Plain C only: fixed-width integers, opaque
 * handles, function pointers; no bool, no bitfields.
 *
 * Rules (see docs/providers.md):
 * - Every struct that crosses the boundary starts with kiln_abi_header. A reader touches a field
 *   only if it lies within header.struct_size. The writer stamps abi_version with the
 *   negotiated version.
 * - Function tables only grow at the end; slots added after 1.0 are optional (may be NULL) and
 *   the host documents what it does when they are.
 * - Each side frees what it allocated. Pointers handed across a call are borrowed for that call
 *   unless the slot's comment says otherwise.
 * - Statuses are kiln_status values; messages travel in the caller's kiln_error.
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
/** The version this header describes. */
#define KILN_ABI_VERSION KILN_ABI_MAKE(1, 0)

/** First member of every shared struct. */
typedef struct kiln_abi_header {
    uint32_t struct_size;  /**< sizeof the struct as its writer compiled it */
    uint32_t abi_version;  /**< negotiated version the writer speaks */
} kiln_abi_header;

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
};

/* ---------------------------------------------------------------------------------------------- */
/* Provider side                                                                                   */

/** A kernel: one node prepared for running. Created by the provider, released by the provider. */
typedef struct kiln_kernel {
    kiln_abi_header hdr;
    void *state;   /**< provider-owned */
    /** Computes the node. Must not keep pointers to ctx or its descriptors after returning. */
    int32_t (*compute)(struct kiln_kernel *k, kiln_kernel_ctx *ctx, kiln_error *err);
    /** Frees the kernel and its state. */
    void (*release)(struct kiln_kernel *k);
} kiln_kernel;

/** Answers of claim_node. */
typedef enum kiln_claim {
    KILN_CLAIM_NO = 0,       /**< the provider does not run this node */
    KILN_CLAIM_KERNEL = 1    /**< the provider runs this node with a kernel from create_kernel */
} kiln_claim;

/** A provider instance, created for one session. */
typedef struct kiln_provider {
    kiln_abi_header hdr;
    const char *name;        /**< short name, e.g. "cpu" (provider-owned, lives as long as the provider) */
    void *state;             /**< provider-owned */
    /** Says whether the provider runs node `n`. Sets *claim to a kiln_claim. */
    int32_t (*claim_node)(struct kiln_provider *p, const kiln_node_view *n, int32_t *claim,
                          kiln_error *err);
    /** Creates the kernel for a claimed node: reads attributes and constant inputs (weights may
     * be packed here), validates them, and returns KILN_ERR_UNSUPPORTED or
     * KILN_ERR_INVALID_MODEL with a message when it cannot. */
    int32_t (*create_kernel)(struct kiln_provider *p, const kiln_node_view *n, kiln_kernel **out,
                             kiln_error *err);
    /** Frees the instance. The host releases every kernel first. */
    void (*release)(struct kiln_provider *p);
} kiln_provider;

#ifdef __cplusplus
}
#endif
#endif /* KILN_PROVIDER_H */
