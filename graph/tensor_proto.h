/* SPDX-License-Identifier: MIT */
/* TensorProto ↔ dense host tensors: every storage form (raw_data, the typed *_data fields,
 * 16-bit floats in int32_data, strings, external data, sparse tensors made dense). */
#ifndef KILN_GRAPH_TENSOR_PROTO_H
#define KILN_GRAPH_TENSOR_PROTO_H

#include "graph/onnx/kiln_onnx.pb-c.h"
#include "kiln.h"

typedef struct kiln_dense {
    int32_t dtype;
    int32_t rank;
    int64_t dims[KILN_MAX_RANK];
    int64_t count;
    size_t nbytes;
    /* kiln_mem_alloc block of nbytes (at least 1 byte); STRING: `count` char* each a
     * kiln_mem_alloc block (NUL-terminated). Owned by the caller after a successful decode. */
    void *data;
} kiln_dense;

/* Where external data may be read from: `dir` is the model's folder (NULL: external data is
 * refused). */
typedef struct kiln_external_ctx {
    const char *dir;
} kiln_external_ctx;

/* Decodes `tp`. May take the raw_data / float_data / ... buffer out of `tp` instead of copying
 * (the message must have been unpacked with the allocator `a`). */
kiln_status kiln_dense_from_proto(const kiln_allocator *a, KilnOnnx__TensorProto *tp,
                                  const kiln_external_ctx *ext, kiln_dense *out, kiln_error *err);
/* Dense form of a SparseTensorProto. */
kiln_status kiln_dense_from_sparse(const kiln_allocator *a, KilnOnnx__SparseTensorProto *sp,
                                   const kiln_external_ctx *ext, kiln_dense *out,
                                   kiln_error *err);
/* Frees the storage of a decoded tensor (and its strings). */
void kiln_dense_free(const kiln_allocator *a, kiln_dense *d);

/* protobuf-c allocator that routes to a kiln_allocator and remembers a failed allocation, so a
 * failed unpack can be told apart: out of memory, or a malformed message. */
typedef struct kiln_pb_alloc {
    ProtobufCAllocator pc;   /* pass &pc to protobuf-c */
    const kiln_allocator *a;
    int failed;
} kiln_pb_alloc;
void kiln_pb_alloc_init(kiln_pb_alloc *p, const kiln_allocator *a);
/* Checks nesting depth (≤ 64 messages) and that every length stays inside the buffer, before
 * protobuf-c (which recurses without limit) sees hostile bytes. */
kiln_status kiln_protobuf_check(const ProtobufCMessageDescriptor *d, const uint8_t *data,
                                size_t size, kiln_error *err);

#endif
