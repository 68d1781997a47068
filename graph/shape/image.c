/* SPDX-License-Identifier: MIT */
/* Shape inference for ImageDecoder: a uint8 stream in, [H, W, C] uint8 out (H and W known only
 * after decoding; C is 3 for RGB/BGR, 1 for Grayscale). */
#include <string.h>

#include "graph/shape/infer_fns.h"

kiln_status kiln_infer_image_decoder(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    if (x->t.dtype != KILN_DTYPE_UINT8) return kiln_shape_fail(c, "the encoded stream must be a uint8 tensor");
    const char *f = kiln_attr_str(c->node, "pixel_format", "RGB");
    if (strcmp(f, "RGB") != 0 && strcmp(f, "BGR") != 0 && strcmp(f, "Grayscale") != 0)
        return kiln_shape_fail(c, "pixel_format '%s' is not RGB, BGR or Grayscale", f);
    int64_t dims[3] = {KILN_DIM_UNKNOWN, KILN_DIM_UNKNOWN, strcmp(f, "Grayscale") == 0 ? 1 : 3};
    kiln_shape_set(c, 0, KILN_DTYPE_UINT8, 3, dims);
    return KILN_OK;
}
