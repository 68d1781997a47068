/* SPDX-License-Identifier: MIT */
/* A model built in memory (tests/common/model_builder.c), run through the public API with its
 * inputs and outputs bound once (kiln_binding), so a timed run is kiln_session_run_binding. */
#ifndef KILN_RT_BENCH_ONENODE_H
#define KILN_RT_BENCH_ONENODE_H

#include <stdint.h>

#include "kiln.h"
#include "tests/common/model_builder.h"

#define RB_IO_MAX 4

typedef struct rb_io {
    const char *name;
    int32_t dtype;
    int32_t rank;
    int64_t dims[8];
    void *data;     /* caller memory, borrowed */
    size_t bytes;
} rb_io;

typedef struct rb_session {
    kiln_env *env;
    kiln_session *session;
    kiln_binding *binding;
    kiln_tensor *tensors[2 * RB_IO_MAX];
    int n_tensors;
    char error[600];
} rb_session;

/* Creates the session of model `b` with `threads` intra-op threads and binds `in` and `out`.
 * Returns RB_OK, or RB_LOAD / RB_RUN with rs->error set. */
int rb_session_open(rb_session *rs, mb *b, int threads, const rb_io *in, int n_in, const rb_io *out, int n_out);
/* One run; returns RB_OK or RB_RUN with rs->error set. */
int rb_session_run(rb_session *rs);
void rb_session_close(rb_session *rs);

/* A graph input / output / initializer declared from an rb_io. */
void rb_mb_input(mb *b, const rb_io *io);
void rb_mb_output(mb *b, const rb_io *io);
void rb_mb_initializer(mb *b, const rb_io *io);

#endif
