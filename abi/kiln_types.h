/* SPDX-License-Identifier: MIT */
/** @file kiln_types.h
 * Types shared by the embedding API (kiln.h) and the provider ABI (kiln_provider.h):
 * status codes, the error record, element types, log levels, value kinds, export macros.
 * C standard headers only. Numbers in this file are stable: values are only appended.
 */
#ifndef KILN_TYPES_H
#define KILN_TYPES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Marks a function exported from libkiln. */
#if defined(_WIN32)
#  if defined(KILN_BUILDING_LIBRARY)
#    define KILN_API __declspec(dllexport)
#  else
#    define KILN_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__)
#  define KILN_API __attribute__((visibility("default")))
#else
#  define KILN_API
#endif

/** Largest tensor rank Kiln handles. A model with a larger rank is refused with KILN_ERR_UNSUPPORTED. */
#define KILN_MAX_RANK 16

/** Size of the message buffer in kiln_error, including the terminating NUL. */
#define KILN_ERROR_MSG_MAX 512

/** Status of every fallible call. 0 is success; the numbers never change. */
typedef enum kiln_status {
    KILN_OK = 0,
    KILN_ERR_INVALID_ARGUMENT = 1, /**< the caller misused the API (NULL handle, wrong index, bad flag) */
    KILN_ERR_INVALID_MODEL = 2,    /**< the model is malformed or hostile (truncated, cycle, bad reference) */
    KILN_ERR_UNSUPPORTED = 3,      /**< valid, but Kiln does not implement it (op, dtype, opset, IR version) */
    KILN_ERR_SHAPE = 4,            /**< a shape or dtype does not match (input given to run, broadcast, index) */
    KILN_ERR_OUT_OF_MEMORY = 5,    /**< an allocation failed */
    KILN_ERR_IO = 6,               /**< a file could not be opened, read or written */
    KILN_ERR_PROVIDER = 7,         /**< a provider plugin failed or broke the ABI */
    KILN_ERR_CANCELLED = 8,        /**< the run was cancelled */
    KILN_ERR_INTERNAL = 9,         /**< a bug in Kiln */
    KILN_ERR_TIMEOUT = 10          /**< the run passed the deadline of its run options */
} kiln_status;

/** A status and its message. Owned by the caller, usually on the stack.
 * Every fallible function takes `kiln_error *err` as its last parameter; it may be NULL when the
 * caller does not want the message. On failure the function sets `status` and writes a one-line,
 * NUL-terminated message naming the cause (and the node and op where there is one). Recording an
 * error never allocates. On success `err` is left untouched. */
typedef struct kiln_error {
    int32_t status;                /**< a kiln_status */
    char msg[KILN_ERROR_MSG_MAX];  /**< UTF-8, NUL-terminated */
} kiln_error;

/** Element types. The numbers are those of ONNX TensorProto.DataType. */
typedef enum kiln_dtype {
    KILN_DTYPE_UNDEFINED = 0,
    KILN_DTYPE_FLOAT = 1,
    KILN_DTYPE_UINT8 = 2,
    KILN_DTYPE_INT8 = 3,
    KILN_DTYPE_UINT16 = 4,
    KILN_DTYPE_INT16 = 5,
    KILN_DTYPE_INT32 = 6,
    KILN_DTYPE_INT64 = 7,
    KILN_DTYPE_STRING = 8,          /**< elements are `char *`, NUL-terminated UTF-8, owned by the tensor */
    KILN_DTYPE_BOOL = 9,            /**< one byte per element, 0 or 1 */
    KILN_DTYPE_FLOAT16 = 10,
    KILN_DTYPE_DOUBLE = 11,
    KILN_DTYPE_UINT32 = 12,
    KILN_DTYPE_UINT64 = 13,
    KILN_DTYPE_COMPLEX64 = 14,
    KILN_DTYPE_COMPLEX128 = 15,
    KILN_DTYPE_BFLOAT16 = 16,
    KILN_DTYPE_FLOAT8E4M3FN = 17,
    KILN_DTYPE_FLOAT8E4M3FNUZ = 18,
    KILN_DTYPE_FLOAT8E5M2 = 19,
    KILN_DTYPE_FLOAT8E5M2FNUZ = 20,
    KILN_DTYPE_UINT4 = 21,          /**< two elements per byte, first in the low nibble */
    KILN_DTYPE_INT4 = 22,           /**< two elements per byte, first in the low nibble */
    KILN_DTYPE_FLOAT4E2M1 = 23,     /**< two elements per byte, first in the low nibble */
    KILN_DTYPE_FLOAT8E8M0 = 24,
    KILN_DTYPE_UINT2 = 25,          /**< four elements per byte, first in bits 0-1 */
    KILN_DTYPE_INT2 = 26,           /**< four elements per byte, first in bits 0-1 */
    KILN_DTYPE_COUNT_ = 27          /**< not a type: one past the last */
} kiln_dtype;

/** Log severities, least severe first (kiln_env_set_logger; kiln_host_api.log for providers). */
typedef enum kiln_log_level {
    KILN_LOG_DEBUG = 0,
    KILN_LOG_INFO = 1,
    KILN_LOG_WARNING = 2,
    KILN_LOG_ERROR = 3,
    KILN_LOG_NONE = 4
} kiln_log_level;

/** What a value is. Most values are tensors; ONNX sequences and optionals exist too. */
typedef enum kiln_value_kind {
    KILN_VALUE_TENSOR = 0,
    KILN_VALUE_SEQUENCE = 1,  /**< an ordered list of tensors of one dtype */
    KILN_VALUE_OPTIONAL = 2,  /**< an optional: empty, or holding a tensor or a sequence */
    KILN_VALUE_UNKNOWN = 3    /**< not known (only in metadata of models that leave a type out) */
} kiln_value_kind;

#ifdef __cplusplus
}
#endif
#endif /* KILN_TYPES_H */
