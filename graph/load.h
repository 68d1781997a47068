/* SPDX-License-Identifier: MIT */
/* Loading a serialized ONNX ModelProto into Kiln's IR (graph/ir.h). */
#ifndef KILN_GRAPH_LOAD_H
#define KILN_GRAPH_LOAD_H

#include "graph/ir.h"

/* Lowest and highest ONNX IR versions Kiln loads. */
#define KILN_IR_VERSION_MIN 3
#define KILN_IR_VERSION_MAX 14

/* Parses `size` bytes (borrowed for the call). External data is read relative to `dir`
 * (NULL: refused). On success the model holds its graphs, nodes sorted topologically. */
kiln_status kiln_model_load_buffer(const kiln_allocator *a, const void *data, size_t size,
                                   const char *dir, kiln_model **out, kiln_error *err);

/* Maps the file at `path` and parses it; external data is relative to `dir` or, when NULL,
 * to the file's folder. */
kiln_status kiln_model_load_file(const kiln_allocator *a, const char *path, const char *dir,
                                 kiln_model **out, kiln_error *err);

/* Reads a whole file into a kiln_mem_alloc block (used for test data and small files). */
kiln_status kiln_read_file(const kiln_allocator *a, const char *path, void **data, size_t *size,
                           kiln_error *err);

#endif
