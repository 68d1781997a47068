/* SPDX-License-Identifier: MIT */
/* Depthwise 2-D convolution on one NCHW plane (docs/kernels.md §7): any kernel size, stride,
 * dilation and padding, bias and a fused activation. The plane is first copied into `work` with
 * its left/right padding and slack as zeros (rows in the padding read a zero row), so every
 * output is computed by the vector loop: 16 (AVX-512) or 8 (AVX2) outputs of a row in one
 * register across every tap, stride 1 loaded directly, stride 2 de-interleaved, others gathered,
 * the row's tail stored through a mask. */
#ifndef KILN_KERNELS_F32_DWCONV_H
#define KILN_KERNELS_F32_DWCONV_H

#include <stddef.h>
#include <stdint.h>

typedef struct kiln_f32_dwconv_params {
    int64_t ih, iw, oh, ow; /* input and output plane */
    int64_t kh, kw, sh, sw, dh, dw, ph, pw; /* kernel, strides, dilations, leading pads */
    int32_t act;            /* kiln_act */
    float p0, p1;
} kiln_f32_dwconv_params;

/* Floats of `work` a call with p needs (the padded plane plus a zero row). */
size_t kiln_f32_dwconv_work_size(const kiln_f32_dwconv_params *p);

/* y (oh x ow) = act(x (ih x iw) (*) k (kh x kw) + bias); work: kiln_f32_dwconv_work_size floats. */
typedef void (*kiln_f32_dwconv_fn)(const kiln_f32_dwconv_params *p, const float *x, const float *k, float bias,
                                   float *work, float *y);

void kiln_f32_dwconv2d__scalar(const kiln_f32_dwconv_params *p, const float *x, const float *k, float bias,
                               float *work, float *y);
void kiln_f32_dwconv2d__avx2(const kiln_f32_dwconv_params *p, const float *x, const float *k, float bias,
                             float *work, float *y);
void kiln_f32_dwconv2d__avx512f(const kiln_f32_dwconv_params *p, const float *x, const float *k, float bias,
                                float *work, float *y);

/* The variant for the current KILN_CPU_ISA level (kernels/config/dwconv-config.c). */
kiln_f32_dwconv_fn kiln_f32_dwconv_get(void);

#endif
