/* SPDX-License-Identifier: MIT */
/* Writes a model's IR back as an ONNX file (protobuf-c), for optimized models: tensors of at
 * least `external_min` bytes go to one external-data file next to it (`<file name>.data`,
 * referenced by a relative location). */
#ifndef KILN_GRAPH_SAVE_H
#define KILN_GRAPH_SAVE_H

#include "graph/ir.h"
#include "runtime/base/error.h"

/* metadata: extra key/value pairs added to the model's metadata_props (NULL-terminated pairs,
 * may be NULL). Fails with KILN_ERR_IO naming the file, or KILN_ERR_UNSUPPORTED naming the node
 * for attributes Kiln cannot write back (sparse tensors, type protos). */
kiln_status kiln_model_save(const kiln_model *m, const char *path, size_t external_min, const char *const *metadata,
                            kiln_error *err);

#endif
