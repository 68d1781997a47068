/* SPDX-License-Identifier: MIT */
/* One node-level case of rt-bench (conv, pool, unary..., and the cases_nodes.c ones): a one-node
 * model built in memory, its inputs, the naive result; run_case gates every implementation
 * against the naive result (floats: relative max error; 8-bit outputs: absolute difference in
 * quantized units) and times it through the public API for each --threads count. */
#ifndef KILN_RT_BENCH_GRAPH_CASE_H
#define KILN_RT_BENCH_GRAPH_CASE_H

#include "bench.h"
#include "onenode.h"

typedef struct graph_case {
    char group[96];
    const char *impl;          /* "kiln:Conv" ... */
    mb *b;
    rb_io in[RB_IO_MAX];       /* graph inputs (freed by rb_case_free) */
    int n_in;
    rb_io out;                 /* float, or uint8/int8 (QLinearConv) */
    void *ref;                 /* naive result, out.bytes, out.dtype */
    double naive_s;
    double flops, bytes;
    int memory_bound;
    double tol;
    const char *ref_note;      /* when set: a reference row with this note (why no library row) */
} graph_case;

float *rb_falloc(size_t n);
/* Fixed-seed uniform floats in [lo, hi). */
void rb_frand(float *p, size_t n, uint32_t seed, float lo, float hi);
size_t rb_numel(const int64_t *d, int r);
rb_io rb_io_f32(const char *name, int rank, const int64_t *dims, float *data);

/* Gates and times Kiln for every thread count, then the oneDNN convolution (when `conv`), then
 * the naive row. Returns RB_OK, RB_MISMATCH or RB_RUN. */
int rb_run_case(const rb_args *a, graph_case *gc, rb_rows *rows, const rb_conv_shape *conv, const float *x,
                const float *w);
void rb_case_free(graph_case *gc);

#endif
