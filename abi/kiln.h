/* SPDX-License-Identifier: MIT */
/** @file kiln.h
 * Kiln's embedding API: load an ONNX model into a session and run it.
 *
 * Conventions used by every function below:
 * - Handles are opaque; each has one create function and one destroy function. Destroying NULL
 *   is a harmless no-op.
 * - A fallible function returns a kiln_status and takes `kiln_error *err` last (may be NULL).
 *   An output pointer (`**out`) is set to NULL on entry and assigned only on success.
 * - Strings passed in are copied unless the parameter says "borrowed". Strings and arrays
 *   returned are borrowed from the handle they came from and live as long as it does.
 * - Thread-safety: a kiln_env, a kiln_session and kiln_session_options may be shared by
 *   threads; functions marked "not thread-safe" must not run concurrently on the same handle.
 */
#ifndef KILN_H
#define KILN_H

#include "kiln_types.h"
#include "kiln_version.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kiln_env kiln_env;                           /**< allocator, logger; shared by sessions */
typedef struct kiln_session_options kiln_session_options;   /**< settings read by kiln_session_create */
typedef struct kiln_session kiln_session;                   /**< one loaded, prepared model */
typedef struct kiln_tensor kiln_tensor;                     /**< a value given to or returned by a run */
typedef struct kiln_io_info kiln_io_info;                   /**< name, kind, dtype and shape of a model input or output */
typedef struct kiln_binding kiln_binding;                   /**< inputs and outputs bound once for many runs */

/* ---------------------------------------------------------------------------------------------- */
/** @name Version and status text */

/** Version as "MAJOR.MINOR.PATCH". Static string. Thread-safe. */
KILN_API const char *kiln_version_string(void);
/** Version as KILN_VERSION_MAJOR << 16 | MINOR << 8 | PATCH of the library actually loaded. */
KILN_API uint32_t kiln_version_number(void);
/** Static text for a status code ("invalid model", ...); "unknown status" for other numbers. */
KILN_API const char *kiln_status_string(kiln_status status);
/** Static ONNX name of a dtype ("float", "int64", ...); "undefined" for unknown numbers. */
KILN_API const char *kiln_dtype_name(kiln_dtype dtype);
/** Bits per element of a dtype (32 for float, 4 for int4, 8 for bool); 0 for STRING and unknown. */
KILN_API uint32_t kiln_dtype_bits(kiln_dtype dtype);

/* ---------------------------------------------------------------------------------------------- */
/** @name Environment */

/** A heap allocator. Every allocation Kiln makes for an env goes through it.
 * `alloc` returns memory aligned to `alignment` (a power of two, at most 4096) or NULL;
 * `free` accepts NULL. Both may be called from any thread at once. */
typedef struct kiln_allocator {
    void *ctx;                                                  /**< passed back to both functions */
    void *(*alloc)(void *ctx, size_t size, size_t alignment);   /**< size > 0 */
    void (*free)(void *ctx, void *ptr);
} kiln_allocator;


/** Receives log lines (no trailing newline). May be called from any thread. */
typedef void (*kiln_log_fn)(void *user, kiln_log_level level, const char *msg);

/** Creates an environment using the C library's aligned allocation.
 * Statuses: KILN_OK, KILN_ERR_OUT_OF_MEMORY. */
KILN_API kiln_status kiln_env_create(kiln_env **out, kiln_error *err);

/** Creates an environment whose allocations all go through `alloc` (copied; its ctx must
 * outlive the env). Statuses: KILN_OK, KILN_ERR_INVALID_ARGUMENT (NULL member), KILN_ERR_OUT_OF_MEMORY. */
KILN_API kiln_status kiln_env_create_with_allocator(const kiln_allocator *alloc, kiln_env **out,
                                                    kiln_error *err);

/** Destroys an env. Every session and tensor created from it must be destroyed first. */
KILN_API void kiln_env_destroy(kiln_env *env);

/** Routes log lines at or above `level` to `fn` (NULL: standard error, the default, which shows
 * warnings and errors). Not thread-safe: call before creating sessions. */
KILN_API void kiln_env_set_logger(kiln_env *env, kiln_log_level level, kiln_log_fn fn, void *user);

/* ---------------------------------------------------------------------------------------------- */
/** @name Session options */

/** Creates options holding the defaults. Statuses: KILN_OK, KILN_ERR_OUT_OF_MEMORY. */
KILN_API kiln_status kiln_session_options_create(kiln_session_options **out, kiln_error *err);
/** Destroys options. Sessions created with them keep no pointer to them. */
KILN_API void kiln_session_options_destroy(kiln_session_options *opts);

/** Sets the folder that external-data locations are relative to (copied). Defaults to the folder
 * of the model file; a model loaded from a buffer has none, and then refuses external data unless
 * this is set. Statuses: KILN_OK, KILN_ERR_INVALID_ARGUMENT, KILN_ERR_OUT_OF_MEMORY. */
KILN_API kiln_status kiln_session_options_set_external_data_dir(kiln_session_options *opts,
                                                                const char *dir, kiln_error *err);

/** Threads one kernel may use: the session's intra-op pool, handed to kernels through the
 * provider ABI's parallel_for and shared by the session's runs (a run finding it busy runs its
 * kernel on its own thread). 0 (the default): the KILN_NUM_THREADS environment variable when it
 * holds 1..1024, else the physical cores of the CPUs the process may run on. 1: the session
 * starts no thread. See docs/threads.md. Statuses: KILN_OK, KILN_ERR_INVALID_ARGUMENT (n outside
 * [0, 1024]). */
KILN_API kiln_status kiln_session_options_set_intra_op_threads(kiln_session_options *opts, int32_t n,
                                                               kiln_error *err);

/** Nodes one run may execute at once. 0 or 1 (the default): one after the other. n > 1:
 * parallel mode, where nodes no path orders (independent branches) run at once on n threads
 * (n - 1 started by the session), each kernel still using the intra-op pool when it is free.
 * Statuses: KILN_OK, KILN_ERR_INVALID_ARGUMENT (n outside [0, 1024]). */
KILN_API kiln_status kiln_session_options_set_inter_op_threads(kiln_session_options *opts, int32_t n,
                                                               kiln_error *err);

/** Profiles sessions created with these options. With a `path` (copied), writes a Chrome trace
 * (JSON, opened by Perfetto and chrome://tracing) holding the session's phases ("load",
 * "infer", "optimize", "partition", "plan", "first_run"), every run, and every node that ran (name, op,
 * provider, input shapes, start, duration); the file is complete once the session is destroyed.
 * With `path` NULL, only per-op totals are kept (kiln_session_profile_ops). Session creation
 * fails with KILN_ERR_IO when the file cannot be created.
 * Statuses: KILN_OK, KILN_ERR_INVALID_ARGUMENT, KILN_ERR_OUT_OF_MEMORY. */
KILN_API kiln_status kiln_session_options_enable_profiling(kiln_session_options *opts, const char *path,
                                                           kiln_error *err);

/** Asks the execution provider `path_or_name` to run the nodes it can. A path (it contains '/'
 * or ends in ".so") is used as given; a name NAME is looked up as kiln-provider-NAME.so in each
 * folder of the KILN_PROVIDER_PATH environment variable (':'-separated), then in Kiln's install
 * folder for providers. Providers are asked in the order they are appended, the built-in CPU
 * provider last; the library is loaded when a session is created, and a load failure fails
 * kiln_session_create with KILN_ERR_PROVIDER and a message naming the file.
 * `options` is a NULL-terminated list of "key=value" strings (copied; may be NULL): "device=N"
 * picks the library's device N (default 0); the others go to the provider.
 * Statuses: KILN_OK, KILN_ERR_INVALID_ARGUMENT (empty name, "cpu", an option without '='),
 * KILN_ERR_OUT_OF_MEMORY. Not thread-safe. */
KILN_API kiln_status kiln_session_options_append_provider(kiln_session_options *opts, const char *path_or_name,
                                                         const char *const *options, kiln_error *err);

/** Graph optimization levels (docs/optimizer.md). DISABLED runs the model as written; BASIC
 * applies rewrites that keep standard ONNX ops only (constant and shape folding, eliminations,
 * CSE); EXTENDED adds folds and fusions into `kiln`-domain ops (docs/kiln-ops.md); ALL (the
 * default) adds the layout choices of the CPU kernels. */
typedef enum kiln_opt_level {
    KILN_OPT_DISABLED = 0,
    KILN_OPT_BASIC = 1,
    KILN_OPT_EXTENDED = 2,
    KILN_OPT_ALL = 3
} kiln_opt_level;

/** Sets the optimization level of sessions created with these options (default KILN_OPT_ALL).
 * Statuses: KILN_OK, KILN_ERR_INVALID_ARGUMENT (not a kiln_opt_level). */
KILN_API kiln_status kiln_session_options_set_optimization_level(kiln_session_options *opts, kiln_opt_level level,
                                                                 kiln_error *err);

/** Turns off the optimizer pass `name` (copied; the names are listed in docs/optimizer.md and in
 * the "optimizer" report). Statuses: KILN_OK, KILN_ERR_INVALID_ARGUMENT (NULL or an unknown pass
 * name), KILN_ERR_OUT_OF_MEMORY. */
KILN_API kiln_status kiln_session_options_disable_pass(kiln_session_options *opts, const char *name, kiln_error *err);

/** Saves the optimized model to `path` (copied; NULL turns it off) when a session is created with
 * these options: a valid ONNX file, tensors of 1 KiB or more in one external-data file next to it
 * (`<file name>.data`), metadata "kiln.optimization_level". At level basic it holds standard ONNX
 * ops only; above, `kiln`-domain ops (docs/kiln-ops.md) that only Kiln runs. Session creation
 * fails with KILN_ERR_IO when the files cannot be written.
 * Statuses: KILN_OK, KILN_ERR_INVALID_ARGUMENT, KILN_ERR_OUT_OF_MEMORY. */
KILN_API kiln_status kiln_session_options_set_optimized_model_path(kiln_session_options *opts, const char *path,
                                                                   kiln_error *err);

/* ---------------------------------------------------------------------------------------------- */
/** @name Sessions */

/** Loads the ONNX model at `path` (memory-mapped while it is parsed), checks it, infers types
 * and shapes, and prepares every node for running. `opts` may be NULL (defaults).
 * Statuses: KILN_OK; KILN_ERR_IO (cannot open or read); KILN_ERR_INVALID_MODEL (malformed:
 * truncated protobuf, cycle, dangling reference, external data outside the model's folder...);
 * KILN_ERR_UNSUPPORTED (IR version, op, dtype); KILN_ERR_OUT_OF_MEMORY. Thread-safe. */
KILN_API kiln_status kiln_session_create(kiln_env *env, const char *path,
                                         const kiln_session_options *opts, kiln_session **out,
                                         kiln_error *err);

/** As kiln_session_create, from a serialized ModelProto in memory (borrowed for the call only). */
KILN_API kiln_status kiln_session_create_from_buffer(kiln_env *env, const void *data, size_t size,
                                                     const kiln_session_options *opts,
                                                     kiln_session **out, kiln_error *err);

/** Destroys a session. No run may be in progress on it. */
KILN_API void kiln_session_destroy(kiln_session *session);

/** Number of graph inputs a run takes (initializers listed as inputs are not counted). */
KILN_API size_t kiln_session_input_count(const kiln_session *session);
/** Number of graph outputs. */
KILN_API size_t kiln_session_output_count(const kiln_session *session);
/** Metadata of input `index` (borrowed from the session), or NULL when out of range. */
KILN_API const kiln_io_info *kiln_session_input(const kiln_session *session, size_t index);
/** Metadata of output `index` (borrowed from the session), or NULL when out of range. */
KILN_API const kiln_io_info *kiln_session_output(const kiln_session *session, size_t index);

/** Value of a model metadata_props entry (borrowed), or NULL when the key is absent. */
KILN_API const char *kiln_session_metadata(const kiln_session *session, const char *key);

/** Writes how the session's nodes were partitioned as one JSON object into `buf` (NUL-terminated,
 * truncated to `size` bytes) and the full length (without the NUL) into *length; call with
 * size 0 to learn the length. Keys: "providers" (name, library, version, abi, device,
 * memory_kinds, nodes, copy_calls, bytes_copied), "skipped" (libraries with no device), "nodes"
 * (graph, name, op, provider, group), "groups" (fused groups: name, provider, nodes), "copies"
 * (copies inserted between memory kinds: from, to, values) and "uploads" (constants placed in a
 * device kind once). Statuses: KILN_OK, KILN_ERR_INVALID_ARGUMENT, KILN_ERR_OUT_OF_MEMORY.
 * Thread-safe. */
KILN_API kiln_status kiln_session_partition_report(const kiln_session *session, char *buf, size_t size,
                                                   size_t *length, kiln_error *err);
/** Writes what the graph optimizer did as one JSON object (same buffer rules as
 * kiln_session_partition_report). Keys: "level", "nodes_before", "nodes_after", "time_us" and
 * "passes" (name, fired, time_us; in the order they ran). Statuses: KILN_OK,
 * KILN_ERR_INVALID_ARGUMENT. Thread-safe. */
KILN_API kiln_status kiln_session_optimizer_report(const kiln_session *session, char *buf, size_t size,
                                                   size_t *length, kiln_error *err);
/** Name of a model input or output. */
KILN_API const char *kiln_io_name(const kiln_io_info *io);
/** KILN_VALUE_TENSOR, _SEQUENCE or _OPTIONAL. */
KILN_API kiln_value_kind kiln_io_kind(const kiln_io_info *io);
/** Element type (of the tensors, for a sequence or optional); KILN_DTYPE_UNDEFINED if unknown. */
KILN_API kiln_dtype kiln_io_dtype(const kiln_io_info *io);
/** Rank, or -1 when the model does not give a shape. */
KILN_API int32_t kiln_io_rank(const kiln_io_info *io);
/** Size of dimension `axis`, or -1 when it is symbolic or unknown (or axis is out of range). */
KILN_API int64_t kiln_io_dim(const kiln_io_info *io, int32_t axis);
/** Symbolic name of dimension `axis` (its ONNX dim_param), or NULL when it has none. */
KILN_API const char *kiln_io_dim_name(const kiln_io_info *io, int32_t axis);

/** Runs the model once.
 * - `input_names[i]` names the input fed by `inputs[i]`. When `input_names` is NULL, `inputs`
 *   follow the session's input order and `n_inputs` must equal kiln_session_input_count().
 *   Inputs are borrowed for the call. Every input must be given; its dtype and every concrete
 *   dim must match the model, and symbolic dims are bound from what is given.
 * - `output_names[i]` names the output written to `outputs[i]`; NULL means every output in
 *   order. When `outputs[i]` is NULL on entry, Kiln creates a tensor, and the caller owns it
 *   (kiln_tensor_destroy). When it is a tensor, Kiln writes the result into it; its dtype and
 *   shape must then match exactly (KILN_ERR_SHAPE otherwise).
 * Statuses: KILN_OK; KILN_ERR_INVALID_ARGUMENT (unknown or missing name, NULL input);
 * KILN_ERR_SHAPE (input shape or dtype contradicts the model, or a node finds bad data such as
 * an out-of-range index: the message names the node and op); KILN_ERR_OUT_OF_MEMORY;
 * KILN_ERR_PROVIDER. On failure, tensors Kiln created for this call are destroyed and the
 * entries it set are NULL again. Thread-safe: several threads may run one session at once. */
KILN_API kiln_status kiln_session_run(kiln_session *session,
                                      const char *const *input_names,
                                      const kiln_tensor *const *inputs, size_t n_inputs,
                                      const char *const *output_names,
                                      kiln_tensor **outputs, size_t n_outputs, kiln_error *err);

/** Threads of the session's intra-op pool counting the calling thread (1 when it started none). */
KILN_API uint32_t kiln_session_intra_op_threads(const kiln_session *session);
/** Threads a run executes nodes on (1: sequential). */
KILN_API uint32_t kiln_session_inter_op_threads(const kiln_session *session);

/** Memory figures of a session (see kiln_session_memory). */
typedef enum kiln_memory_stat {
    KILN_MEMORY_ARENA_BYTES = 0,       /**< planned arena of the newest plan, all memory kinds: intermediates and scratch */
    KILN_MEMORY_LOWER_BOUND_BYTES = 1, /**< largest total of bytes live at one moment in that plan (no arena is smaller) */
    KILN_MEMORY_NAIVE_BYTES = 2,       /**< every tensor the nodes make and every scratch block, summed (no reuse) */
    KILN_MEMORY_WEIGHTS_BYTES = 3,     /**< constants of the main graph, kept apart from the arenas */
    KILN_MEMORY_PLANS = 4              /**< plans cached, one per input-shape signature (at most 8) */
} kiln_memory_stat;

/** A memory figure of the session; plan figures are 0 until a run has completed (the first run
 * of each input-shape signature records what it needs, and the plan serves the next ones).
 * 0 for a NULL session or an unknown stat. Thread-safe. */
KILN_API uint64_t kiln_session_memory(kiln_session *session, kiln_memory_stat stat);

/** Time spent in nodes of one op type, over every run profiled so far. */
typedef struct kiln_op_profile {
    const char *op_type;   /**< borrowed from the session */
    uint64_t count;        /**< node executions */
    uint64_t total_ns;     /**< summed durations, nanoseconds */
} kiln_op_profile;

/** Per-op totals of a profiled session (kiln_session_options_enable_profiling), most time first:
 * writes up to `cap` entries to `out` (may be NULL when cap is 0) and returns how many op types
 * there are. 0 when the session is not profiled. Thread-safe. */
KILN_API size_t kiln_session_profile_ops(kiln_session *session, kiln_op_profile *out, size_t cap);

/* ---------------------------------------------------------------------------------------------- */
/** @name I/O binding
 * Bind inputs and outputs once, then run again and again: bound inputs are read where they are,
 * bound outputs are computed in place, and once the session has run a signature (the shapes of
 * the inputs) once, a run allocates nothing. A binding is used by one thread at a time; several
 * bindings of one session may run at once. */

/** Creates an empty binding for `session`, which must outlive it.
 * Statuses: KILN_OK, KILN_ERR_INVALID_ARGUMENT, KILN_ERR_OUT_OF_MEMORY. */
KILN_API kiln_status kiln_binding_create(kiln_session *session, kiln_binding **out, kiln_error *err);
/** Destroys a binding and the outputs Kiln allocated for it. */
KILN_API void kiln_binding_destroy(kiln_binding *binding);

/** Binds input `name` to `tensor` (borrowed: it must live until it is rebound or the binding is
 * destroyed; its elements may change between runs). Its dtype, shape and memory kind are checked
 * as kiln_session_run checks inputs. Statuses: KILN_OK, KILN_ERR_INVALID_ARGUMENT (no such input,
 * NULL tensor, memory kind), KILN_ERR_SHAPE (dtype or shape). */
KILN_API kiln_status kiln_binding_bind_input(kiln_binding *binding, const char *name, const kiln_tensor *tensor,
                                             kiln_error *err);

/** Binds output `name` to `tensor` (borrowed, as for inputs), which every run writes; its dtype
 * and shape must be the result's (KILN_ERR_SHAPE at run otherwise). With `tensor` NULL, Kiln
 * allocates the output at the first run and keeps it in the binding, allocating again only
 * when the result's shape changes: read it with kiln_binding_output. Outputs not bound are
 * computed and dropped. Statuses: KILN_OK, KILN_ERR_INVALID_ARGUMENT (no such output). */
KILN_API kiln_status kiln_binding_bind_output(kiln_binding *binding, const char *name, kiln_tensor *tensor,
                                              kiln_error *err);

/** The tensor bound to output `name`, or the one Kiln keeps for it (borrowed from the binding,
 * valid until the next run); NULL before the first run or when `name` is not bound. */
KILN_API kiln_tensor *kiln_binding_output(const kiln_binding *binding, const char *name);

/** Runs the binding's session with its inputs (every input must be bound) and outputs.
 * Statuses: as kiln_session_run. */
KILN_API kiln_status kiln_session_run_binding(kiln_session *session, kiln_binding *binding, kiln_error *err);

/** Creates a tensor in a memory kind of the session: "host" (or NULL) for host memory, else a
 * device memory kind of one of its providers (the names kiln_session_partition_report lists as
 * "memory_kinds", e.g. "example:device"). A device tensor's storage comes from that provider and
 * is not host-addressable (kiln_tensor_data gives the provider's handle): fill and read it with
 * kiln_session_tensor_copy, and destroy it before the session. Bound to an input that the
 * session copies to that kind, or to an output it copies from that kind, it replaces the copy:
 * the device kernels read or write it directly. Statuses: KILN_OK, KILN_ERR_INVALID_ARGUMENT
 * (unknown kind, STRING in a device kind, bad dtype or shape), KILN_ERR_OUT_OF_MEMORY,
 * KILN_ERR_PROVIDER. */
KILN_API kiln_status kiln_session_tensor_create(kiln_session *session, const char *memory_kind, kiln_dtype dtype,
                                                const int64_t *dims, int32_t rank, kiln_tensor **out,
                                                kiln_error *err);

/** Copies the elements of `src` into `dst` (same dtype and element count; not STRING) between
 * host memory and the session's memory kinds, through the providers that own them.
 * Statuses: KILN_OK, KILN_ERR_INVALID_ARGUMENT, KILN_ERR_SHAPE, KILN_ERR_PROVIDER. */
KILN_API kiln_status kiln_session_tensor_copy(kiln_session *session, const kiln_tensor *src, kiln_tensor *dst,
                                              kiln_error *err);

/* ---------------------------------------------------------------------------------------------- */
/** @name Tensors and other values */

/** Creates a tensor with Kiln-owned, zero-filled storage (empty strings for STRING).
 * `dims` (copied) has `rank` entries, each >= 0; rank 0 is a scalar.
 * Statuses: KILN_OK, KILN_ERR_INVALID_ARGUMENT (bad dtype, rank or dim; element count or byte
 * size overflows), KILN_ERR_OUT_OF_MEMORY. Thread-safe. */
KILN_API kiln_status kiln_tensor_create(kiln_env *env, kiln_dtype dtype, const int64_t *dims,
                                        int32_t rank, kiln_tensor **out, kiln_error *err);

/** Creates a tensor over caller memory: `data` is borrowed, must hold `bytes` bytes (at least
 * the tensor's byte size), stays owned by the caller and must outlive the tensor. Kiln writes
 * into it only when the tensor is passed as an output of kiln_session_run. STRING cannot be
 * wrapped. Statuses: as kiln_tensor_create. */
KILN_API kiln_status kiln_tensor_wrap(kiln_env *env, kiln_dtype dtype, const int64_t *dims,
                                      int32_t rank, void *data, size_t bytes, kiln_tensor **out,
                                      kiln_error *err);

/** Destroys any value (tensor, sequence, optional) and what it owns. */
KILN_API void kiln_tensor_destroy(kiln_tensor *tensor);

/** What the value is: a tensor, a sequence or an optional. */
KILN_API kiln_value_kind kiln_tensor_kind(const kiln_tensor *tensor);
/** Element type (of the items, for a sequence; of the content, for an optional). */
KILN_API kiln_dtype kiln_tensor_dtype(const kiln_tensor *tensor);
/** Rank of a tensor; 0 for other kinds. */
KILN_API int32_t kiln_tensor_rank(const kiln_tensor *tensor);
/** Dims of a tensor (borrowed, `rank` entries). */
KILN_API const int64_t *kiln_tensor_dims(const kiln_tensor *tensor);
/** Number of elements (product of dims; 1 for a scalar). */
KILN_API int64_t kiln_tensor_element_count(const kiln_tensor *tensor);
/** Bytes of storage (sub-byte types are packed; STRING: count × sizeof(char *)). */
KILN_API size_t kiln_tensor_byte_size(const kiln_tensor *tensor);
/** Element storage, row-major, little-endian; NULL for non-tensors. For STRING it is an array of
 * `char *`; change strings with kiln_tensor_set_string only. Not thread-safe for writers. */
KILN_API void *kiln_tensor_data(kiln_tensor *tensor);
/** Read-only element storage (see kiln_tensor_data). */
KILN_API const void *kiln_tensor_data_const(const kiln_tensor *tensor);
/** Element `index` of a STRING tensor (borrowed, NUL-terminated), or NULL when out of range. */
KILN_API const char *kiln_tensor_string(const kiln_tensor *tensor, size_t index);
/** Sets element `index` of a STRING tensor to a copy of `len` bytes at `s`.
 * Statuses: KILN_OK, KILN_ERR_INVALID_ARGUMENT, KILN_ERR_OUT_OF_MEMORY. */
KILN_API kiln_status kiln_tensor_set_string(kiln_tensor *tensor, size_t index, const char *s,
                                            size_t len, kiln_error *err);

/** Creates a sequence of `n` tensors of type `dtype`. Takes ownership of every item (on
 * success and on failure alike); each must be a tensor of `dtype`. `n` may be 0. */
KILN_API kiln_status kiln_sequence_create(kiln_env *env, kiln_dtype dtype, kiln_tensor **items,
                                          size_t n, kiln_tensor **out, kiln_error *err);
/** Number of items of a sequence; 0 for other kinds. */
KILN_API size_t kiln_sequence_length(const kiln_tensor *seq);
/** Item `index` of a sequence (borrowed), or NULL when out of range. */
KILN_API const kiln_tensor *kiln_sequence_item(const kiln_tensor *seq, size_t index);

/** Creates an optional holding `value` (ownership taken, also on failure) or, when `value` is
 * NULL, an empty optional whose element type is `dtype`. */
KILN_API kiln_status kiln_optional_create(kiln_env *env, kiln_dtype dtype, kiln_tensor *value,
                                          kiln_tensor **out, kiln_error *err);
/** Content of an optional (borrowed), or NULL when it is empty or not an optional. */
KILN_API const kiln_tensor *kiln_optional_value(const kiln_tensor *opt);

/** Reads a serialized ONNX value: a TensorProto when `kind` is KILN_VALUE_TENSOR, a
 * SequenceProto for _SEQUENCE, an OptionalProto for _OPTIONAL (the .pb files of the ONNX test
 * suite). `data` is borrowed for the call. Statuses: KILN_OK, KILN_ERR_INVALID_MODEL (malformed),
 * KILN_ERR_UNSUPPORTED, KILN_ERR_OUT_OF_MEMORY. Thread-safe. */
KILN_API kiln_status kiln_tensor_read_proto(kiln_env *env, const void *data, size_t size,
                                            kiln_value_kind kind, kiln_tensor **out,
                                            kiln_error *err);

/** Reads a serialized ONNX value from a file (see kiln_tensor_read_proto); KILN_ERR_IO when the
 * file cannot be read. */
KILN_API kiln_status kiln_tensor_load_proto(kiln_env *env, const char *path, kiln_value_kind kind,
                                            kiln_tensor **out, kiln_error *err);

/** Writes a value to a file as a TensorProto (tensor), SequenceProto or OptionalProto named
 * `name` (may be NULL). Statuses: KILN_OK, KILN_ERR_IO, KILN_ERR_OUT_OF_MEMORY. */
KILN_API kiln_status kiln_tensor_save_proto(const kiln_tensor *tensor, const char *name,
                                            const char *path, kiln_error *err);

#ifdef __cplusplus
}
#endif
#endif /* KILN_H */
