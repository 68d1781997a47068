/* SPDX-License-Identifier: MIT */
/* Shape inference for RNN, GRU and LSTM: Y [seq, dirs, batch, hidden] and Y_h / Y_c
 * [dirs, batch, hidden] (layout 0), or [batch, seq, dirs, hidden] and [batch, dirs, hidden]
 * (layout 1). X is [seq, batch, input] or [batch, seq, input]; W [dirs, gates*hidden, input]. */
#include <string.h>

#include "graph/shape/infer_fns.h"

kiln_status kiln_infer_rnn(kiln_shape_ctx *c) {
    const kiln_shape_val *x, *w, *r;
    KILN_TRY(kiln_shape_need_tensor(c, 0, &x));
    KILN_TRY(kiln_shape_need_tensor(c, 1, &w));
    KILN_TRY(kiln_shape_need_tensor(c, 2, &r));
    if (w->t.dtype != x->t.dtype || r->t.dtype != x->t.dtype) return kiln_shape_fail(c, "X, W and R must have the same type");
    const char *op = c->node->op_type;
    int64_t gates = strcmp(op, "LSTM") == 0 ? 4 : strcmp(op, "GRU") == 0 ? 3 : 1;
    const char *dir = kiln_attr_str(c->node, "direction", "forward");
    int64_t dirs;
    if (strcmp(dir, "forward") == 0 || strcmp(dir, "reverse") == 0) dirs = 1;
    else if (strcmp(dir, "bidirectional") == 0) dirs = 2;
    else return kiln_shape_fail(c, "unknown direction '%s'", dir);
    int64_t layout = kiln_attr_int(c->node, "layout", 0);
    if (layout != 0 && layout != 1) return kiln_shape_fail(c, "layout must be 0 or 1");
    if ((x->t.rank >= 0 && x->t.rank != 3) || (w->t.rank >= 0 && w->t.rank != 3) || (r->t.rank >= 0 && r->t.rank != 3))
        return kiln_shape_fail(c, "X, W and R must be 3-D");
    int64_t hidden = kiln_attr_int(c->node, "hidden_size", -1);
    if (hidden == 0 || hidden < -1 || hidden > ((int64_t)1 << 30)) return kiln_shape_fail(c, "hidden_size must be positive");
    if (r->t.rank == 3 && r->t.dims[2] >= 0) {
        if (hidden >= 0 && r->t.dims[2] != hidden)
            return kiln_shape_fail(c, "R has hidden size %lld, hidden_size is %lld", (long long)r->t.dims[2], (long long)hidden);
        hidden = r->t.dims[2];
    }
    if (hidden > 0) {
        if (w->t.rank == 3 && w->t.dims[1] >= 0 && w->t.dims[1] != gates * hidden)
            return kiln_shape_fail(c, "W must have %lld rows per direction", (long long)(gates * hidden));
        if (r->t.rank == 3 && r->t.dims[1] >= 0 && r->t.dims[1] != gates * hidden)
            return kiln_shape_fail(c, "R must have %lld rows per direction", (long long)(gates * hidden));
    }
    if ((w->t.rank == 3 && w->t.dims[0] >= 0 && w->t.dims[0] != dirs) || (r->t.rank == 3 && r->t.dims[0] >= 0 && r->t.dims[0] != dirs))
        return kiln_shape_fail(c, "W and R must have %lld directions", (long long)dirs);
    if (x->t.rank == 3 && w->t.rank == 3 && x->t.dims[2] >= 0 && w->t.dims[2] >= 0 && x->t.dims[2] != w->t.dims[2])
        return kiln_shape_fail(c, "X has %lld inputs, W expects %lld", (long long)x->t.dims[2], (long long)w->t.dims[2]);
    int64_t seq = -1, batch = -1;
    if (x->t.rank == 3) {
        seq = x->t.dims[layout ? 1 : 0];
        batch = x->t.dims[layout ? 0 : 1];
    }
    if (hidden < 0) hidden = KILN_DIM_UNKNOWN;
    int64_t y[4], yh[3];
    if (layout == 0) {
        y[0] = seq, y[1] = dirs, y[2] = batch, y[3] = hidden;
        yh[0] = dirs, yh[1] = batch, yh[2] = hidden;
    } else {
        y[0] = batch, y[1] = seq, y[2] = dirs, y[3] = hidden;
        yh[0] = batch, yh[1] = dirs, yh[2] = hidden;
    }
    kiln_shape_set(c, 0, x->t.dtype, 4, y);
    kiln_shape_set(c, 1, x->t.dtype, 3, yh);
    if (gates == 4) kiln_shape_set(c, 2, x->t.dtype, 3, yh);
    return KILN_OK;
}
