/* SPDX-License-Identifier: MIT */
/* Sliding-window geometry (see window.h). */
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
    w->sp = sp;
    for (int32_t i = 0; i < sp; i++) {
        w->in[i] = x->dims[2 + i];
        w->out[i] = y->dims[2 + i];
        w->k[i] = a->n_kernel ? a->kernel[i] : kdims[i];
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
    }
    return KILN_OK;
}
