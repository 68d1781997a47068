/* SPDX-License-Identifier: MIT */
/* The reference libraries, each behind a switch: OpenBLAS (refs_blas.c) and oneDNN
 * (refs_dnnl.c, with -Dbench_dnnl). Row-major; f32 GEMMs take a transposed A (Gemm transA), the int8 ones do not. */
#ifndef KILN_RT_BENCH_REFS_H
#define KILN_RT_BENCH_REFS_H

#include <stdint.h>

#include "bench.h"

int rb_have_blas(void);
void rb_ref_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, const float *a, const float *b, float *c);

int rb_have_dnnl(void);
const char *rb_dnnl_version(void);
void rb_dnnl_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, const float *a, const float *b, float *c);
/* A is u8 (a_signed 0) or s8 bits; zero offsets. */
void rb_dnnl_igemm(int a_signed, int trans_b, int64_t m, int64_t n, int64_t k, const uint8_t *a, const int8_t *b,
                   int32_t *c);

/* oneDNN's convolution primitive for one shape (NCHW f32 in and out, weights M x C/G x KH x KW,
 * no bias). Memory layouts are oneDNN's choice: reorders in and out happen outside the timed
 * call (rb_dnnl_conv_fetch). */
typedef struct rb_dnnl_conv rb_dnnl_conv;
rb_dnnl_conv *rb_dnnl_conv_create(const rb_conv_shape *s, const float *x, const float *w, int threads, char *err,
                                  size_t err_size);
void rb_dnnl_conv_run(void *conv);
/* Copies the last result into y (NCHW). */
void rb_dnnl_conv_fetch(rb_dnnl_conv *c, float *y);
const char *rb_dnnl_conv_impl(rb_dnnl_conv *c);
void rb_dnnl_conv_destroy(rb_dnnl_conv *c);

#endif
