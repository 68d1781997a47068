/* SPDX-License-Identifier: MIT */
/* Size bounds for untrusted models (docs/limits.md): a tiny model can ask, through an attribute or
 * a constant input, for an output of gigabytes (TfIdfVectorizer's ngram_indexes, pooling pads,
 * Resize scales, ConstantOfShape's shape...). Shape inference knows the output's shape before
 * anything is allocated; this file turns it into bytes and refuses what does not fit the limit,
 * naming what set the size. */
#include <stdio.h>
#include <string.h>

#include "graph/size_bounds.h"
#include "runtime/base/error.h"

bool kiln_limit_bytes(int32_t dtype, int64_t count, uint64_t *bytes) {
    if (count < 0) return false;
    if (dtype == KILN_DTYPE_STRING) return !__builtin_mul_overflow((uint64_t)count, (uint64_t)sizeof(char *), bytes);
    size_t b;
    if (!kiln_dtype_storage(dtype, count, &b)) return false;
    *bytes = b;
    return true;
}

/* Ops whose output size an attribute or a (usually constant) input sets. Audited against
 * onnx/docs/Operators.md: every op whose output element count is not bounded by its inputs'. */
static const struct {
    const char *op;
    const char *source;
} SOURCES[] = {
    {"TfIdfVectorizer", "attribute 'ngram_indexes'"},
    {"AveragePool", "attributes 'pads', 'strides', 'dilations'"},
    {"MaxPool", "attributes 'pads', 'strides', 'dilations'"},
    {"LpPool", "attributes 'pads', 'strides', 'dilations'"},
    {"Conv", "attributes 'pads', 'dilations'"},
    {"ConvInteger", "attributes 'pads', 'dilations'"},
    {"QLinearConv", "attributes 'pads', 'dilations'"},
    {"DeformConv", "attributes 'pads', 'dilations'"},
    {"ConvTranspose", "attributes 'strides', 'pads', 'output_padding', 'output_shape'"},
    {"MaxUnpool", "input 'output_shape' or attributes 'strides', 'pads'"},
    {"Col2Im", "input 'image_shape'"},
    {"Pad", "input 'pads'"},
    {"CenterCropPad", "input 'shape'"},
    {"Resize", "input 'scales' or 'sizes'"},
    {"Upsample", "input or attribute 'scales'"},
    {"ConstantOfShape", "input 'input' (the shape)"},
    {"Expand", "input 'shape'"},
    {"Tile", "input 'repeats'"},
    {"Range", "inputs 'start', 'limit', 'delta'"},
    {"OneHot", "input 'depth'"},
    {"EyeLike", "input's shape"},
    {"Constant", "attribute 'value'"},
    {"RandomNormal", "attribute 'shape'"},
    {"RandomUniform", "attribute 'shape'"},
    {"Bernoulli", "input's shape"},
    {"Multinomial", "attribute 'sample_size'"},
    {"HammingWindow", "input 'size'"},
    {"HannWindow", "input 'size'"},
    {"BlackmanWindow", "input 'size'"},
    {"MelWeightMatrix", "inputs 'num_mel_bins', 'dft_length'"},
    {"DFT", "input 'dft_length'"},
    {"STFT", "inputs 'frame_step', 'frame_length'"},
    {"AffineGrid", "input 'size'"},
    {"GridSample", "input 'grid'"},
    {"StringSplit", "input data (the longest split)"},
    {"Unique", "input data"},
    {"NonZero", "input data"},
    {"Compress", "input 'condition'"},
    {"NonMaxSuppression", "input 'max_output_boxes_per_class'"},
    {"ImageDecoder", "the encoded image's header"},
    {"OneHotEncoder", "attribute 'cats_int64s' or 'cats_strings'"},
    {"TreeEnsembleClassifier", "attribute 'classlabels_*'"},
    {"TreeEnsembleRegressor", "attribute 'n_targets'"},
    {"TreeEnsemble", "attribute 'n_targets'"},
    {"LinearClassifier", "attribute 'classlabels_*'"},
    {"SVMClassifier", "attribute 'classlabels_*'"},
    {"DictVectorizer", "attribute 'int64_vocabulary' or 'string_vocabulary'"},
    {"FeatureVectorizer", "attribute 'inputdimensions'"},
};

const char *kiln_limit_size_source(const kiln_node *n) {
    for (size_t i = 0; i < sizeof(SOURCES) / sizeof(SOURCES[0]); i++)
        if (strcmp(n->op_type, SOURCES[i].op) == 0) return SOURCES[i].source;
    return NULL;
}

kiln_status kiln_limit_check_outputs(const kiln_node *n, uint64_t limit, kiln_error *err) {
    if (!limit) return KILN_OK;
    for (uint32_t o = 0; o < n->n_outputs; o++) {
        const kiln_value *v = n->outputs[o];
        const kiln_type *t = v ? &v->type : NULL;
        if (!v || v->constant || t->kind != KILN_VALUE_TENSOR || t->rank < 0) continue;
        int known = 1;
        for (int32_t d = 0; d < t->rank; d++)
            if (t->dims[d] < 0) known = 0;
        if (!known) continue;
        int64_t count;
        uint64_t bytes = 0;
        int fits = kiln_dims_count(t->dims, t->rank, &count) && kiln_limit_bytes(t->dtype, count, &bytes);
        if (fits && bytes <= limit) continue;
        char shape[160];
        size_t w = 0;
        shape[0] = '\0';
        for (int32_t d = 0; d < t->rank && w < sizeof(shape); d++)
            w += (size_t)snprintf(shape + w, sizeof(shape) - w, "%s%lld", d ? "," : "", (long long)t->dims[d]);
        const char *src = kiln_limit_size_source(n);
        char why[96] = "";
        if (src) snprintf(why, sizeof(why), " (size set by %s)", src);
        if (!fits)
            return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, KILN_NODE_FMT ": output '%s' (%s [%s]) would take more than 2^64 bytes%s",
                             KILN_NODE_ARGS(n), v->name, kiln_dtype_name((kiln_dtype)t->dtype), shape, why);
        return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY,
                         KILN_NODE_FMT ": output '%s' (%s [%s]) would take %llu bytes, over the %llu bytes the memory limit leaves%s",
                         KILN_NODE_ARGS(n), v->name, kiln_dtype_name((kiln_dtype)t->dtype), shape, (unsigned long long)bytes,
                         (unsigned long long)limit, why);
    }
    return KILN_OK;
}
