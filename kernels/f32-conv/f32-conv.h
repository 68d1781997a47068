/* SPDX-License-Identifier: MIT */
/* KxK stride-1 fp32 convolution as an implicit GEMM on a padded NCHW plane (docs/kernels.md §9):
 * Y[oc][q] = sum_{c, tap} W[oc][c][tap] * X'[c][q + off[tap]], where X' is one image and group of
 * the input copied with its padding into planes of pitch pw (rows of the padded width) and q runs
 * over the output pixels laid out on that same pitch (q = oh * pw + ow). A tile of NR consecutive
 * q reads NR consecutive floats of each input row in place, so no im2col copy exists; the columns
 * with ow >= OW (pw - OW per row) are computed and thrown away when the tile is written out.
 * The weights are the GEMM's packed A (kiln_f32_packa of W as M x K, K = C*taps in W's own
 * order): the same panels the im2col path multiplies, so one packed weight serves both. */
#ifndef KILN_KERNELS_F32_CONV_H
#define KILN_KERNELS_F32_CONV_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/f32-gemm/f32-gemm.h"

/* Most taps (kernel elements kh*kw) the microkernels take per call: larger kernels use the
 * im2col path. */
#define KILN_CONV_MAX_TAPS 64

/* One mr x nr tile (rows by the table index, 1 <= nr <= NR) of C: c[i*ldc + j] = sum over
 * channels ch < cs and taps t < taps of a[(ch*taps + t)*MR + i] * x[ch*plane + off[t] + j], then
 * (KILN_GEMM_ACCUMULATE, KILN_GEMM_EPILOGUE) as the GEMM microkernel (docs/kernels.md §3-4).
 * Columns j >= nr of x are never read. */
typedef void (*kiln_f32_conv_ukernel_fn)(size_t nr, size_t cs, size_t taps, const float *a, const float *x,
                                         size_t plane, const size_t *off, float *c, size_t ldc, uint32_t flags,
                                         const kiln_f32_epilogue *ep);

typedef struct kiln_f32_conv_config {
    const char *name;                 /* "f32-conv-igemm-14x32-avx512f" */
    int isa;                          /* kiln_isa the kernels need */
    uint32_t mr, nr;                  /* tile: mr equals the GEMM config's (same packed A panels) */
    const kiln_f32_gemm_config *gemm; /* the config whose packed A the kernels read */
    kiln_f32_conv_ukernel_fn ukernel[KILN_GEMM_MAX_MR + 1];
} kiln_f32_conv_config;

/* The config for the current ISA level (read when called, like kiln_f32_gemm_config_get). */
const kiln_f32_conv_config *kiln_f32_conv_config_get(void);
/* The config whose kernels read weights packed by gemm (NULL: none; the caller uses im2col). */
const kiln_f32_conv_config *kiln_f32_conv_config_for(const kiln_f32_gemm_config *gemm);
/* Every config, for tests (NULL past the last). */
const kiln_f32_conv_config *kiln_f32_conv_config_at(unsigned i);

/* Geometry of one image and group (stride 1; any dilation and pads). */
typedef struct kiln_f32_conv_igeom {
    int64_t channels, ih, iw, oh, ow, kh, kw, dh, dw, ph, pw; /* ph/pw: leading pads (may exceed the kernel) */
} kiln_f32_conv_igeom;

/* Padded-plane sizes: rows oh + (kh-1)*dh, pitch ow + (kw-1)*dw, plus a zero tail so that the
 * vector reads of the last tile stay inside. */
size_t kiln_f32_conv_plane_pitch(const kiln_f32_conv_igeom *g);
size_t kiln_f32_conv_plane_size(const kiln_f32_conv_igeom *g);
/* Pixels on the padded pitch a full output covers: (oh-1)*pitch + ow. */
size_t kiln_f32_conv_qcount(const kiln_f32_conv_igeom *g);

/* Copies channels [c0, c1) of x (NCHW, one image and group) into their padded planes of out
 * (plane_size floats each, zeros around). */
void kiln_f32_conv_pad(const kiln_f32_conv_igeom *g, const float *x, size_t c0, size_t c1, float *out);

/* Tap offsets (kh*kw of them) on the padded pitch. */
void kiln_f32_conv_taps(const kiln_f32_conv_igeom *g, size_t *off);

/* Computes output channels [i0, i1) (i0 a multiple of MR) and padded pixels [q0, q1) of one image
 * and group into y (NCHW, oh*ow per channel, channel i0 at y + i0*oh*ow) from the padded planes
 * xp and the packed weights (m rows): y = act(W.X' + bias + residual), bias/residual/act from ep
 * (residual at the output's layout, ld_residual = oh*ow, pointer at channel 0). work holds
 * MR * (q1 - q0) floats. cblock (0: all) channels are summed per pass over the pixel tiles, the
 * later passes accumulating in work, so an A slice of MR x cblock x taps stays in L1. Single-threaded. */
void kiln_f32_conv_igemm(const kiln_f32_conv_config *cfg, const kiln_f32_conv_igeom *g, const float *xp,
                         const float *a_packed, size_t m, const size_t *off, size_t i0, size_t i1, size_t q0,
                         size_t q1, size_t cblock, float *work, float *y, const kiln_f32_epilogue *ep);

extern const kiln_f32_conv_ukernel_fn kiln_f32_conv_ukernels_4x8__scalar[KILN_GEMM_MAX_MR + 1];
extern const kiln_f32_conv_ukernel_fn kiln_f32_conv_ukernels_6x16__avx2_fma[KILN_GEMM_MAX_MR + 1];
extern const kiln_f32_conv_ukernel_fn kiln_f32_conv_ukernels_14x32__avx512f[KILN_GEMM_MAX_MR + 1];

#endif
