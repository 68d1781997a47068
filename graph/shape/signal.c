/* SPDX-License-Identifier: MIT */
/* Shape inference for signal processing: DFT (axis an attribute before opset 20, input 2 from
 * 20), STFT, the Hann/Hamming/Blackman windows and MelWeightMatrix. */
#include "graph/shape/infer_fns.h"

static int is_float(int32_t dt) {
    return dt == KILN_DTYPE_FLOAT || dt == KILN_DTYPE_DOUBLE || dt == KILN_DTYPE_FLOAT16 || dt == KILN_DTYPE_BFLOAT16;
}

/* One integer from input i when it is present and its value known; *known 0 otherwise. */
static kiln_status scalar(kiln_shape_ctx *c, uint32_t i, const char *what, int64_t *v, int *known) {
    int64_t vals[1];
    uint32_t n = 0;
    *known = 0;
    if (!kiln_shape_in(c, i)) return KILN_OK;
    KILN_TRY(kiln_shape_ints(c, i, vals, 1, &n, known));
    if (*known && n != 1) return kiln_shape_fail(c, "%s must be one value", what);
    if (*known) *v = vals[0];
    return KILN_OK;
}

kiln_status kiln_infer_dft(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    if (!is_float(x->t.dtype)) return kiln_shape_fail(c, "input must be a float tensor, not %s", kiln_dtype_name((kiln_dtype)x->t.dtype));
    int32_t r = x->t.rank;
    int inverse = kiln_attr_int(c->node, "inverse", 0) != 0, onesided = kiln_attr_int(c->node, "onesided", 0) != 0;
    if (r < 0) {
        kiln_shape_set(c, 0, x->t.dtype, -1, NULL);
        return KILN_OK;
    }
    if (r < 2) return kiln_shape_fail(c, "input must have rank 2 or more, not %d", (int)r);
    int64_t last = x->t.dims[r - 1];
    if (last >= 0 && last != 1 && last != 2) return kiln_shape_fail(c, "the last dim must be 1 (real) or 2 (complex), not %lld", (long long)last);
    int64_t axis = -2, len = 0;
    int axis_known = 1, len_known;
    if (c->opset < 20) axis = kiln_attr_int(c->node, "axis", 1);
    else if (kiln_shape_in(c, 2)) KILN_TRY(scalar(c, 2, "axis", &axis, &axis_known));
    KILN_TRY(scalar(c, 1, "dft_length", &len, &len_known));
    int64_t dims[KILN_MAX_RANK];
    for (int32_t d = 0; d < r; d++) dims[d] = x->t.dims[d];
    dims[r - 1] = onesided && inverse ? 1 : 2;
    if (!axis_known) {
        for (int32_t d = 0; d < r - 1; d++) dims[d] = -1;
        kiln_shape_set(c, 0, x->t.dtype, r, dims);
        return KILN_OK;
    }
    if (axis < -r || axis > r - 2 || axis == -1)
        return kiln_shape_fail(c, "axis %lld is out of range for rank %d (the last dim holds complex parts)", (long long)axis, (int)r);
    if (axis < 0) axis += r;
    int64_t n = x->t.dims[axis];
    if (!len_known) {
        len = n < 0 ? -1 : onesided && inverse ? 2 * (n - 1) : n;
        if (kiln_shape_in(c, 1)) len = -1; /* given, not known yet */
    }
    if (len_known && len <= 0) return kiln_shape_fail(c, "dft_length must be positive, not %lld", (long long)len);
    if (!len_known && len == 0 && n >= 0) return kiln_shape_fail(c, "the default dft_length is 0");
    dims[axis] = len < 0 ? -1 : onesided && !inverse ? len / 2 + 1 : len;
    kiln_shape_set(c, 0, x->t.dtype, r, dims);
    return KILN_OK;
}

kiln_status kiln_infer_stft(kiln_shape_ctx *c) {
    const kiln_shape_val *x;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    if (!is_float(x->t.dtype)) return kiln_shape_fail(c, "signal must be a float tensor, not %s", kiln_dtype_name((kiln_dtype)x->t.dtype));
    if (x->t.rank >= 0 && x->t.rank != 3) return kiln_shape_fail(c, "signal must be [batch, length, 1 or 2], not rank %d", (int)x->t.rank);
    int onesided = kiln_attr_int(c->node, "onesided", 1) != 0;
    int64_t step = 0, flen = -1;
    int step_known, flen_known;
    KILN_TRY(scalar(c, 1, "frame_step", &step, &step_known));
    KILN_TRY(scalar(c, 3, "frame_length", &flen, &flen_known));
    if (step_known && step <= 0) return kiln_shape_fail(c, "frame_step must be positive, not %lld", (long long)step);
    const kiln_shape_val *w = kiln_shape_in(c, 2);
    if (w && w->t.rank >= 0 && w->t.rank != 1) return kiln_shape_fail(c, "window must be 1-D");
    if (!flen_known) flen = kiln_shape_in(c, 3) ? -1 : w ? (w->t.rank == 1 ? w->t.dims[0] : -1) : -1;
    int64_t dims[4] = {-1, -1, -1, 2};
    int64_t len = -1;
    if (x->t.rank == 3) {
        dims[0] = x->t.dims[0];
        len = x->t.dims[1];
        if (x->t.dims[2] >= 0 && x->t.dims[2] != 1 && x->t.dims[2] != 2)
            return kiln_shape_fail(c, "the last dim of signal must be 1 or 2, not %lld", (long long)x->t.dims[2]);
        if (!w && !kiln_shape_in(c, 3)) flen = len;
    }
    if (flen == 0 || flen < -1) return kiln_shape_fail(c, "frame_length must be positive, not %lld", (long long)flen);
    if (flen > 0 && len >= 0) {
        if (flen > len) return kiln_shape_fail(c, "frame_length %lld is longer than the signal (%lld)", (long long)flen, (long long)len);
        if (step_known) dims[1] = 1 + (len - flen) / step;
    }
    if (flen > 0) dims[2] = onesided ? flen / 2 + 1 : flen;
    kiln_shape_set(c, 0, x->t.dtype, 4, dims);
    return KILN_OK;
}

static int numeric(int64_t dt) {
    return dt >= KILN_DTYPE_FLOAT && dt <= KILN_DTYPE_BFLOAT16 && dt != KILN_DTYPE_STRING && dt != KILN_DTYPE_BOOL &&
           dt != KILN_DTYPE_COMPLEX64 && dt != KILN_DTYPE_COMPLEX128;
}

kiln_status kiln_infer_window(kiln_shape_ctx *c) {
    int64_t dt = kiln_attr_int(c->node, "output_datatype", KILN_DTYPE_FLOAT), size = -1;
    if (!numeric(dt)) return kiln_shape_fail(c, "output_datatype %lld is not a numeric type", (long long)dt);
    int known;
    KILN_TRY(scalar(c, 0, "size", &size, &known));
    if (known && size < 0) return kiln_shape_fail(c, "size must not be negative, not %lld", (long long)size);
    kiln_shape_set(c, 0, (int32_t)dt, 1, known ? &size : NULL);
    return KILN_OK;
}

kiln_status kiln_infer_melweight(kiln_shape_ctx *c) {
    int64_t dt = kiln_attr_int(c->node, "output_datatype", KILN_DTYPE_FLOAT), bins = -1, len = -1;
    if (!numeric(dt)) return kiln_shape_fail(c, "output_datatype %lld is not a numeric type", (long long)dt);
    int kb, kl;
    KILN_TRY(scalar(c, 0, "num_mel_bins", &bins, &kb));
    KILN_TRY(scalar(c, 1, "dft_length", &len, &kl));
    if (kb && bins <= 0) return kiln_shape_fail(c, "num_mel_bins must be positive, not %lld", (long long)bins);
    if (kl && len <= 0) return kiln_shape_fail(c, "dft_length must be positive, not %lld", (long long)len);
    int64_t dims[2] = {kl ? len / 2 + 1 : -1, kb ? bins : -1};
    kiln_shape_set(c, 0, (int32_t)dt, 2, dims);
    return KILN_OK;
}
