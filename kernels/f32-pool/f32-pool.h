/* SPDX-License-Identifier: MIT */
/* 2-D fp32 max and average pooling on one NCHW plane (docs/kernels.md §7): separable, so each
 * output row costs one vertical pass (max or sum of the window's input rows into a padded row,
 * contiguous and vectorized) and one horizontal pass over that row (stride and dilation as
 * constant-stride reads). Any kernel, stride, dilation and pads (ceil_mode included). */
#ifndef KILN_KERNELS_F32_POOL_H
#define KILN_KERNELS_F32_POOL_H

#include <stddef.h>
#include <stdint.h>

enum { KILN_POOL_MAX = 0, KILN_POOL_AVG = 1 };

typedef struct kiln_f32_pool_params {
    int64_t ih, iw, oh, ow, kh, kw, sh, sw, dh, dw;
    int64_t ph, pw, eh, ew;    /* leading and trailing pads (the trailing ones only count for count_include_pad) */
    int32_t kind;              /* KILN_POOL_MAX or KILN_POOL_AVG */
    int32_t count_include_pad; /* AVG: divide by the taps inside input + pads, else by those inside the input */
} kiln_f32_pool_params;

/* y (oh x ow) from x (ih x iw). MAX: the largest tap inside the input (-FLT_MAX for a window with
 * none); AVG: the mean as above (0 for a window with no taps to count). work holds
 * kiln_f32_pool_work_size floats. */
typedef void (*kiln_f32_pool_fn)(const kiln_f32_pool_params *p, const float *x, float *work, float *y);

size_t kiln_f32_pool_work_size(const kiln_f32_pool_params *p);

/* The kernel for the current ISA level (read when called; KILN_CPU_ISA caps it). */
kiln_f32_pool_fn kiln_f32_pool_get(void);

void kiln_f32_pool_2d__scalar(const kiln_f32_pool_params *p, const float *x, float *work, float *y);
void kiln_f32_pool_2d__avx2(const kiln_f32_pool_params *p, const float *x, float *work, float *y);
void kiln_f32_pool_2d__avx512f(const kiln_f32_pool_params *p, const float *x, float *work, float *y);

#endif
