/* SPDX-License-Identifier: MIT */
/* Shape inference for NonMaxSuppression ([selected, 3] int64, the count known only when run)
 * and RoiAlign ([num_rois, C, output_height, output_width]). */
#include "graph/shape/infer_fns.h"

kiln_status kiln_infer_non_max_suppression(kiln_shape_ctx *c) {
    const kiln_shape_val *boxes, *scores;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &boxes));
    KILN_TRY(kiln_shape_need_tensor(c, 1, &scores));
    if ((boxes->t.rank >= 0 && boxes->t.rank != 3) || (scores->t.rank >= 0 && scores->t.rank != 3))
        return kiln_shape_fail(c, "boxes and scores must be 3-D");
    if (boxes->t.rank == 3 && boxes->t.dims[2] >= 0 && boxes->t.dims[2] != 4) return kiln_shape_fail(c, "boxes must be [batches, boxes, 4]");
    int64_t dims[2] = {KILN_DIM_UNKNOWN, 3};
    kiln_shape_set(c, 0, KILN_DTYPE_INT64, 2, dims);
    return KILN_OK;
}

kiln_status kiln_infer_roi_align(kiln_shape_ctx *c) {
    const kiln_shape_val *x, *rois, *bi;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    KILN_TRY(kiln_shape_need_tensor(c, 1, &rois));
    KILN_TRY(kiln_shape_need_tensor(c, 2, &bi));
    if (x->t.rank >= 0 && x->t.rank != 4) return kiln_shape_fail(c, "X must be 4-D");
    if (rois->t.rank >= 0 && (rois->t.rank != 2 || (rois->t.dims[1] >= 0 && rois->t.dims[1] != 4)))
        return kiln_shape_fail(c, "rois must be [num_rois, 4]");
    if (bi->t.rank >= 0 && bi->t.rank != 1) return kiln_shape_fail(c, "batch_indices must be 1-D");
    int64_t oh = kiln_attr_int(c->node, "output_height", 1), ow = kiln_attr_int(c->node, "output_width", 1);
    if (oh < 1 || ow < 1 || oh > ((int64_t)1 << 30) || ow > ((int64_t)1 << 30))
        return kiln_shape_fail(c, "output_height and output_width must be positive");
    int64_t r = rois->t.rank == 2 ? rois->t.dims[0] : bi->t.rank == 1 ? bi->t.dims[0] : -1;
    int64_t dims[4] = {r, x->t.rank == 4 ? x->t.dims[1] : -1, oh, ow};
    kiln_shape_set(c, 0, x->t.dtype, 4, dims);
    return KILN_OK;
}
