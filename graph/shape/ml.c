/* SPDX-License-Identifier: MIT */
/* Shape inference for the ai.onnx.ml ops: LabelEncoder, TreeEnsemble, Binarizer,
 * ArrayFeatureExtractor. */
#include "graph/shape/infer_fns.h"

/* Element type of LabelEncoder's values_* attribute (0 when none is set). */
static int32_t values_dtype(const kiln_node *n) {
    const kiln_attr *a;
    if ((a = kiln_node_attr(n, "values_tensor")) && a->type == KILN_ATTR_TENSOR) return a->tensors[0]->desc.dtype;
    if ((a = kiln_node_attr(n, "values_strings")) && a->type == KILN_ATTR_STRINGS) return KILN_DTYPE_STRING;
    if ((a = kiln_node_attr(n, "values_int64s")) && a->type == KILN_ATTR_INTS) return KILN_DTYPE_INT64;
    if ((a = kiln_node_attr(n, "values_floats")) && a->type == KILN_ATTR_FLOATS) return KILN_DTYPE_FLOAT;
    return 0;
}

kiln_status kiln_infer_label_encoder(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    int32_t dt = values_dtype(c->node);
    if (!dt) return kiln_shape_fail(c, "one of values_tensor, values_strings, values_int64s, values_floats is required");
    kiln_shape_set(c, 0, dt, x->t.rank, x->t.dims);
    return KILN_OK;
}

kiln_status kiln_infer_tree_ensemble(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    int32_t dt = x->t.dtype;
    if (dt != KILN_DTYPE_FLOAT && dt != KILN_DTYPE_DOUBLE && dt != KILN_DTYPE_FLOAT16)
        return kiln_shape_fail(c, "input must be float, double or float16");
    if (x->t.rank >= 0 && x->t.rank != 2) return kiln_shape_fail(c, "input must be [N, F], got rank %d", (int)x->t.rank);
    int64_t targets = kiln_attr_int(c->node, "n_targets", KILN_DIM_UNKNOWN);
    if (!kiln_node_attr(c->node, "n_targets")) {
        /* Without n_targets, the targets are those the leaves name. */
        uint32_t n;
        const int64_t *ids = kiln_attr_ints(c->node, "leaf_targetids", &n);
        targets = 0;
        for (uint32_t i = 0; i < n; i++)
            if (ids[i] + 1 > targets) targets = ids[i] + 1;
    }
    if (targets < 1) return kiln_shape_fail(c, "n_targets must be positive");
    int64_t dims[2] = {x->t.rank == 2 ? x->t.dims[0] : KILN_DIM_UNKNOWN, targets};
    kiln_shape_set(c, 0, dt, 2, dims);
    return KILN_OK;
}

kiln_status kiln_infer_binarizer(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    kiln_shape_same(c, 0, 0);
    return KILN_OK;
}

kiln_status kiln_infer_array_feature_extractor(kiln_shape_ctx *c) {
    const kiln_shape_val *x, *y;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    KILN_TRY(kiln_shape_need_tensor(c, 1, &y));
    if (y->t.dtype != KILN_DTYPE_INT64) return kiln_shape_fail(c, "indices must be int64");
    if (x->t.rank == 0) return kiln_shape_fail(c, "input must have at least one dim");
    int64_t n = KILN_DIM_UNKNOWN;
    if (y->t.rank >= 0 && !kiln_dims_count(y->t.dims, y->t.rank, &n)) n = KILN_DIM_UNKNOWN;
    if (x->t.rank < 0) {
        kiln_shape_set(c, 0, x->t.dtype, -1, NULL);
        return KILN_OK;
    }
    /* A vector gives one row, as onnxruntime and the reference do. */
    int64_t dims[KILN_MAX_RANK];
    int32_t r = x->t.rank == 1 ? 2 : x->t.rank;
    for (int32_t d = 0; d < r - 1; d++) dims[d] = x->t.rank == 1 ? 1 : x->t.dims[d];
    dims[r - 1] = n;
    kiln_shape_set(c, 0, x->t.dtype, r, dims);
    return KILN_OK;
}
