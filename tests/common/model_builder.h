/* SPDX-License-Identifier: MIT */
/* Builds ONNX models in memory for tests, with protobuf-c directly, so the loader can be fed
 * every storage form and every malformed model without Python. All memory belongs to the
 * builder and is freed by mb_free. */
#ifndef KILN_TESTS_MODEL_BUILDER_H
#define KILN_TESTS_MODEL_BUILDER_H

#include <stddef.h>
#include <stdint.h>

#include "graph/onnx/kiln_onnx.pb-c.h"

typedef struct mb mb;

/* A model with `ir_version` importing the default domain at `opset`. */
mb *mb_new(int64_t ir_version, int64_t opset);
void mb_free(mb *b);
KilnOnnx__ModelProto *mb_model(mb *b);
KilnOnnx__GraphProto *mb_graph(mb *b);

/* Memory owned by the builder (zeroed). */
void *mb_alloc(mb *b, size_t size);
char *mb_str(mb *b, const char *s);

/* Types and value infos; dims < 0 are left unknown; `sym` names (may be NULL) set dim_param. */
KilnOnnx__TypeProto *mb_tensor_type(mb *b, int32_t dtype, int32_t rank, const int64_t *dims, const char *const *sym);
void mb_input(mb *b, KilnOnnx__GraphProto *g, const char *name, int32_t dtype, int32_t rank, const int64_t *dims);
void mb_output(mb *b, KilnOnnx__GraphProto *g, const char *name, int32_t dtype, int32_t rank, const int64_t *dims);
KilnOnnx__ValueInfoProto *mb_value_info(mb *b, const char *name, KilnOnnx__TypeProto *t);

/* A node; inputs/outputs are NULL-terminated name lists ("" for an omitted optional one). */
KilnOnnx__NodeProto *mb_node(mb *b, KilnOnnx__GraphProto *g, const char *op, const char *name,
                             const char *const *inputs, const char *const *outputs);
void mb_attr_int(mb *b, KilnOnnx__NodeProto *n, const char *name, int64_t v);
void mb_attr_float(mb *b, KilnOnnx__NodeProto *n, const char *name, float v);
void mb_attr_ints(mb *b, KilnOnnx__NodeProto *n, const char *name, const int64_t *v, size_t count);
void mb_attr_string(mb *b, KilnOnnx__NodeProto *n, const char *name, const char *v);
void mb_attr_tensor(mb *b, KilnOnnx__NodeProto *n, const char *name, KilnOnnx__TensorProto *t);
void mb_attr_graph(mb *b, KilnOnnx__NodeProto *n, const char *name, KilnOnnx__GraphProto *g);
KilnOnnx__AttributeProto *mb_attr_ref(mb *b, KilnOnnx__NodeProto *n, const char *name, const char *ref);

/* A subgraph (for GRAPH attributes). */
KilnOnnx__GraphProto *mb_subgraph(mb *b, const char *name);

/* A tensor whose elements are in raw_data (bytes copied). */
KilnOnnx__TensorProto *mb_tensor_raw(mb *b, const char *name, int32_t dtype, int32_t rank, const int64_t *dims,
                                     const void *data, size_t bytes);
/* An empty tensor header; the caller fills a typed *_data field. */
KilnOnnx__TensorProto *mb_tensor(mb *b, const char *name, int32_t dtype, int32_t rank, const int64_t *dims);
void mb_initializer(mb *b, KilnOnnx__GraphProto *g, KilnOnnx__TensorProto *t);
/* Marks t as external data at `location`, offset, length (length < 0: omitted). */
void mb_external(mb *b, KilnOnnx__TensorProto *t, const char *location, int64_t offset, int64_t length);

/* Serializes the model; the buffer is owned by the builder. */
const uint8_t *mb_pack(mb *b, size_t *size);
/* Writes the model to a file; returns 0 on success. */
int mb_save(mb *b, const char *path);

#endif
