/* SPDX-License-Identifier: MIT */
/* Sliding-window geometry and im2col (see window.h). */
#include "window.h"

#include <string.h>

static int32_t copy_ints(const cpu_node *n, const char *name, int64_t *dst, uint32_t max) {
    uint32_t cnt;
    const int64_t *v = cpu_attr_ints(n, name, &cnt);
    if (!v || cnt > max) return 0;
    memcpy(dst, v, cnt * sizeof(int64_t));
    return (int32_t)cnt;
}

kiln_status cpu_window_read(const cpu_node *n, cpu_window_attrs *a, kiln_error *err) {
    memset(a, 0, sizeof(*a));
    a->n_kernel = copy_ints(n, "kernel_shape", a->kernel, KILN_MAX_RANK);
    a->n_strides = copy_ints(n, "strides", a->strides, KILN_MAX_RANK);
    a->n_dilations = copy_ints(n, "dilations", a->dilations, KILN_MAX_RANK);
    a->n_pads = copy_ints(n, "pads", a->pads, 2 * KILN_MAX_RANK);
    for (int32_t i = 0; i < a->n_kernel; i++)
        if (a->kernel[i] < 1 || a->kernel[i] > CPU_WINDOW_MAX) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "kernel_shape is out of range");
    for (int32_t i = 0; i < a->n_strides; i++)
        if (a->strides[i] < 1 || a->strides[i] > CPU_WINDOW_MAX) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "strides are out of range");
    for (int32_t i = 0; i < a->n_dilations; i++)
        if (a->dilations[i] < 1 || a->dilations[i] > CPU_WINDOW_MAX)
            return cpu_fail(err, KILN_ERR_INVALID_MODEL, "dilations are out of range");
    for (int32_t i = 0; i < a->n_pads; i++)
        if (a->pads[i] < 0 || a->pads[i] > CPU_WINDOW_MAX) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "pads are out of range");
    const char *ap = cpu_attr_str(n, "auto_pad", "NOTSET");
    if (strcmp(ap, "NOTSET") == 0) a->auto_pad = PAD_NOTSET;
    else if (strcmp(ap, "SAME_UPPER") == 0) a->auto_pad = PAD_SAME_UPPER;
    else if (strcmp(ap, "SAME_LOWER") == 0) a->auto_pad = PAD_SAME_LOWER;
    else if (strcmp(ap, "VALID") == 0) a->auto_pad = PAD_VALID;
    else return cpu_fail(err, KILN_ERR_INVALID_MODEL, "unknown auto_pad '%s'", ap);
    return KILN_OK;
}

kiln_status cpu_window_resolve(const cpu_window_attrs *a, const kiln_value_desc *x, const kiln_value_desc *y,
                               const int64_t *kdims, cpu_window *w, kiln_error *err) {
    int32_t sp = x->rank - 2;
    if (sp < 1 || y->rank != x->rank) return cpu_fail(err, KILN_ERR_SHAPE, "input must have rank 3 or more");
    if ((a->n_kernel && a->n_kernel != sp) || (a->n_strides && a->n_strides != sp) ||
        (a->n_dilations && a->n_dilations != sp) || (a->n_pads && a->n_pads != 2 * sp))
        return cpu_fail(err, KILN_ERR_SHAPE, "window attributes do not match %d spatial axes", (int)sp);
    if (!a->n_kernel && !kdims) return cpu_fail(err, KILN_ERR_INVALID_MODEL, "kernel_shape is required");
    w->sp = sp;
    w->in_size = w->out_size = w->k_size = 1;
    for (int32_t i = 0; i < sp; i++) {
        w->in[i] = x->dims[2 + i];
        w->out[i] = y->dims[2 + i];
        w->k[i] = a->n_kernel ? a->kernel[i] : kdims[i];
        if (w->k[i] < 1 || w->k[i] > CPU_WINDOW_MAX) return cpu_fail(err, KILN_ERR_SHAPE, "kernel size on axis %d is out of range", (int)i);
        w->s[i] = a->n_strides ? a->strides[i] : 1;
        w->d[i] = a->n_dilations ? a->dilations[i] : 1;
        w->pb[i] = a->n_pads ? a->pads[i] : 0;
        w->pe[i] = a->n_pads ? a->pads[i + sp] : 0;
        if (a->auto_pad == PAD_VALID) {
            w->pb[i] = w->pe[i] = 0;
        } else if (a->auto_pad == PAD_SAME_UPPER || a->auto_pad == PAD_SAME_LOWER) {
            int64_t total = (w->out[i] - 1) * w->s[i] + w->d[i] * (w->k[i] - 1) + 1 - w->in[i];
            if (total < 0) total = 0;
            w->pb[i] = a->auto_pad == PAD_SAME_UPPER ? total / 2 : total - total / 2;
            w->pe[i] = total - w->pb[i];
        }
        w->in_size = cpu_mul_size(w->in_size, w->in[i]);
        w->out_size = cpu_mul_size(w->out_size, w->out[i]);
        w->k_size = cpu_mul_size(w->k_size, w->k[i]);
    }
    if (w->in_size < 0 || w->out_size < 0 || w->k_size < 0) return cpu_fail(err, KILN_ERR_SHAPE, "window sizes overflow");
    return KILN_OK;
}

/* im2col for one element type. The 2-D unfold writes rows (c, kh, kw), each a full output
 * plane, with contiguous copies where the stride is 1; other ranks walk an odometer. */
#define IM2COL_DEFINE(NAME, T)                                                                        \
static void NAME##_2d(const T *x, int64_t channels, const cpu_window *w, T pad, T *col) {             \
    int64_t ih_n = w->in[0], iw_n = w->in[1], oh_n = w->out[0], ow_n = w->out[1];                     \
    for (int64_t c = 0; c < channels; c++) {                                                          \
        const T *xc = x + c * ih_n * iw_n;                                                            \
        for (int64_t kh = 0; kh < w->k[0]; kh++) {                                                    \
            for (int64_t kw = 0; kw < w->k[1]; kw++) {                                                \
                T *row = col;                                                                         \
                col += oh_n * ow_n;                                                                   \
                int64_t x0 = kw * w->d[1] - w->pb[1];                                                 \
                /* output columns whose input column is inside [0, iw_n) */                           \
                int64_t lo = x0 >= 0 ? 0 : (-x0 + w->s[1] - 1) / w->s[1];                             \
                int64_t hi = iw_n - x0 <= 0 ? 0 : (iw_n - x0 + w->s[1] - 1) / w->s[1];                \
                if (hi > ow_n) hi = ow_n;                                                             \
                if (lo > hi) lo = hi;                                                                 \
                for (int64_t oh = 0; oh < oh_n; oh++, row += ow_n) {                                  \
                    int64_t ih = oh * w->s[0] - w->pb[0] + kh * w->d[0];                              \
                    if (ih < 0 || ih >= ih_n) {                                                       \
                        for (int64_t ow = 0; ow < ow_n; ow++) row[ow] = pad;                          \
                        continue;                                                                     \
                    }                                                                                 \
                    const T *src = xc + ih * iw_n;                                                    \
                    for (int64_t ow = 0; ow < lo; ow++) row[ow] = pad;                                \
                    if (w->s[1] == 1) {                                                               \
                        if (hi > lo) memcpy(row + lo, src + x0 + lo, (size_t)(hi - lo) * sizeof(T));  \
                    } else {                                                                          \
                        for (int64_t ow = lo; ow < hi; ow++) row[ow] = src[x0 + ow * w->s[1]];        \
                    }                                                                                 \
                    for (int64_t ow = hi; ow < ow_n; ow++) row[ow] = pad;                             \
                }                                                                                     \
            }                                                                                         \
        }                                                                                             \
    }                                                                                                 \
}                                                                                                     \
                                                                                                      \
void NAME(const T *x, int64_t channels, const cpu_window *w, T pad, T *col) {                         \
    if (w->sp == 2) {                                                                                 \
        NAME##_2d(x, channels, w, pad, col);                                                          \
        return;                                                                                       \
    }                                                                                                 \
    int32_t sp = w->sp;                                                                               \
    int64_t kidx[KILN_MAX_RANK], oidx[KILN_MAX_RANK];                                                 \
    for (int64_t c = 0; c < channels; c++) {                                                          \
        const T *xc = x + c * w->in_size;                                                             \
        memset(kidx, 0, sizeof(kidx));                                                                \
        for (int64_t kk = 0; kk < w->k_size; kk++) {                                                  \
            T *row = col + (c * w->k_size + kk) * w->out_size;                                        \
            memset(oidx, 0, sizeof(oidx));                                                            \
            for (int64_t o = 0; o < w->out_size; o++) {                                               \
                int64_t off = 0;                                                                      \
                int inside = 1;                                                                       \
                for (int32_t i = 0; i < sp; i++) {                                                    \
                    int64_t p = oidx[i] * w->s[i] - w->pb[i] + kidx[i] * w->d[i];                     \
                    if (p < 0 || p >= w->in[i]) {                                                     \
                        inside = 0;                                                                   \
                        break;                                                                        \
                    }                                                                                 \
                    off = off * w->in[i] + p;                                                         \
                }                                                                                     \
                row[o] = inside ? xc[off] : pad;                                                      \
                for (int32_t i = sp - 1; i >= 0; i--) {                                               \
                    if (++oidx[i] < w->out[i]) break;                                                 \
                    oidx[i] = 0;                                                                      \
                }                                                                                     \
            }                                                                                         \
            for (int32_t i = sp - 1; i >= 0; i--) {                                                   \
                if (++kidx[i] < w->k[i]) break;                                                       \
                kidx[i] = 0;                                                                          \
            }                                                                                         \
        }                                                                                             \
    }                                                                                                 \
}

IM2COL_DEFINE(cpu_im2col_f32, float)
IM2COL_DEFINE(cpu_im2col_s16, int16_t)
IM2COL_DEFINE(cpu_im2col_u8, uint8_t)
