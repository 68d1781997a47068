/* SPDX-License-Identifier: MIT */
/* One-node models run through the public API (see onenode.h). */
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "onenode.h"

void rb_mb_input(mb *b, const rb_io *io) { mb_input(b, mb_graph(b), io->name, io->dtype, io->rank, io->dims); }
void rb_mb_output(mb *b, const rb_io *io) { mb_output(b, mb_graph(b), io->name, io->dtype, io->rank, io->dims); }
void rb_mb_initializer(mb *b, const rb_io *io) {
    mb_initializer(b, mb_graph(b), mb_tensor_raw(b, io->name, io->dtype, io->rank, io->dims, io->data, io->bytes));
}

int rb_session_open(rb_session *rs, mb *b, int threads, const rb_io *in, int n_in, const rb_io *out, int n_out) {
    memset(rs, 0, sizeof(*rs));
    kiln_error err = {0};
    size_t size;
    const uint8_t *buf = mb_pack(b, &size);
    kiln_session_options *opts = NULL;
    int rc = RB_LOAD;
    if (kiln_env_create(&rs->env, &err) || kiln_session_options_create(&opts, &err) ||
        kiln_session_options_set_intra_op_threads(opts, threads, &err) ||
        kiln_session_create_from_buffer(rs->env, buf, size, opts, &rs->session, &err))
        goto fail;
    rc = RB_RUN;
    if (kiln_binding_create(rs->session, &rs->binding, &err)) goto fail;
    for (int i = 0; i < n_in + n_out; i++) {
        const rb_io *io = i < n_in ? &in[i] : &out[i - n_in];
        kiln_tensor *t = NULL;
        if (kiln_tensor_wrap(rs->env, (kiln_dtype)io->dtype, io->dims, io->rank, io->data, io->bytes, &t, &err))
            goto fail;
        rs->tensors[rs->n_tensors++] = t;
        if (i < n_in ? kiln_binding_bind_input(rs->binding, io->name, t, &err)
                     : kiln_binding_bind_output(rs->binding, io->name, t, &err))
            goto fail;
    }
    kiln_session_options_destroy(opts);
    return RB_OK;
fail:
    snprintf(rs->error, sizeof(rs->error), "%s", err.msg[0] ? err.msg : "out of memory");
    kiln_session_options_destroy(opts);
    rb_session_close(rs);
    return rc;
}

int rb_session_run(rb_session *rs) {
    kiln_error err = {0};
    if (kiln_session_run_binding(rs->session, rs->binding, &err) == KILN_OK) return RB_OK;
    snprintf(rs->error, sizeof(rs->error), "%s", err.msg);
    return RB_RUN;
}

void rb_session_close(rb_session *rs) {
    kiln_binding_destroy(rs->binding);
    for (int i = 0; i < rs->n_tensors; i++) kiln_tensor_destroy(rs->tensors[i]);
    kiln_session_destroy(rs->session);
    kiln_env_destroy(rs->env);
    rs->binding = NULL;
    rs->session = NULL;
    rs->env = NULL;
    rs->n_tensors = 0;
}
