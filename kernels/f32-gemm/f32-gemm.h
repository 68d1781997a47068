/* SPDX-License-Identifier: MIT */
/* The packed fp32 GEMM (docs/kernels.md §3-5): microkernel signature, epilogue, packed operands,
 * packers and the single-threaded macro-kernel. Threading lives in providers/cpu/gemm_parallel.c. */
#ifndef KILN_KERNELS_F32_GEMM_H
#define KILN_KERNELS_F32_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/common/activation.h"

/* Largest MR / NR any config uses (sizes of the per-row-count tables and of stack tiles). */
#define KILN_GEMM_MAX_MR 16
#define KILN_GEMM_MAX_NR 32

enum {
    KILN_GEMM_ACCUMULATE = 1u << 0, /* C += product (else C = product) */
    KILN_GEMM_EPILOGUE = 1u << 1    /* apply bias, residual and the in-register activations */
};

typedef struct kiln_f32_epilogue {
    const float *bias;     /* NULL: none */
    int32_t bias_per_row;  /* 1: bias[i] per row of C (Conv output channel); 0: bias[j] per column */
    const float *residual; /* NULL: none; residual[i * ld_residual + j] is added after the bias */
    size_t ld_residual;
    int32_t act;           /* kiln_act, applied last */
    float p0, p1;
} kiln_f32_epilogue;

/* One mr x nr tile (1 <= mr <= MR, 1 <= nr <= NR, kc >= 0) of C from a packed A panel
 * (a[p*MR + i]) and a B panel read at b[p*ldb + j] (ldb = NR for a packed panel, the row stride
 * for rows read in place; columns j >= nr are never read). */
typedef void (*kiln_f32_gemm_ukernel_fn)(size_t mr, size_t nr, size_t kc, const float *a, const float *b, size_t ldb,
                                         float *c, size_t ldc, uint32_t flags, const kiln_f32_epilogue *ep);

typedef struct kiln_f32_gemm_config {
    const char *name; /* "f32-gemm-14x32-avx512f" */
    int isa;          /* kiln_isa the kernels need */
    uint32_t mr, nr;  /* tile */
    uint32_t kc;      /* K block: an A and a B panel of kc stay in L1 */
    uint32_t mc;      /* rows of C per L2 block (multiple of mr) */
    uint32_t nc;      /* columns of C per block (multiple of nr) */
    kiln_f32_gemm_ukernel_fn ukernel[KILN_GEMM_MAX_MR + 1]; /* by row count 1..mr */
} kiln_f32_gemm_config;

enum { KILN_PACKED_A = 0, KILN_PACKED_B = 1 };

/* A packed operand: A as ceil(M/MR) panels of K x MR (pa[t*K*MR + p*MR + i]) or B as ceil(N/NR)
 * panels of K x NR (pb[t*K*NR + p*NR + j]), zero past the edge. */
typedef struct kiln_f32_packed {
    const kiln_f32_gemm_config *cfg;
    int32_t side;      /* KILN_PACKED_A or KILN_PACKED_B */
    size_t rows, cols; /* M x K for A, K x N for B */
    float *data;       /* 64-byte aligned, owned by whoever created the object */
    size_t bytes;
} kiln_f32_packed;

/* Floats a packed A of m x k (or B of k x n) takes. */
size_t kiln_f32_packa_size(const kiln_f32_gemm_config *cfg, size_t m, size_t k);
size_t kiln_f32_packb_size(const kiln_f32_gemm_config *cfg, size_t k, size_t n);

/* Packs op(A) (m x k; A(i,p) = trans ? a[p*lda + i] : a[i*lda + p]) times alpha, panels
 * [t0, t1) of mr rows. */
void kiln_f32_packa(const kiln_f32_gemm_config *cfg, size_t m, size_t k, const float *a, size_t lda, int trans,
                    float alpha, size_t t0, size_t t1, float *out);
/* Packs op(B) (k x n; B(p,j) = trans ? b[j*ldb + p] : b[p*ldb + j]) times alpha, panels [t0, t1). */
void kiln_f32_packb(const kiln_f32_gemm_config *cfg, size_t k, size_t n, const float *b, size_t ldb, int trans,
                    float alpha, size_t t0, size_t t1, float *out);

/* Geometry of one image and group of a 2-D convolution for kiln_f32_packb_im2col. */
typedef struct kiln_f32_conv2d_geom {
    int64_t channels, ih, iw, oh, ow;
    int64_t kh, kw, sh, sw, dh, dw, ph, pw; /* ph/pw: leading pads */
} kiln_f32_conv2d_geom;

/* Packs the im2col operand of a 2-D convolution (K = channels*kh*kw rows, one column per output
 * pixel) for the pixels [j0, j1) as B panels (K x NR each, zero past j1): x is one image and
 * group, NCHW. out holds ceil((j1-j0)/NR)*NR*K floats. */
void kiln_f32_packb_im2col(const kiln_f32_gemm_config *cfg, const float *x, const kiln_f32_conv2d_geom *g, size_t j0,
                           size_t j1, float *out);

/* The B side of the macro-kernel: packed panels (ldb == 0) or rows read in place, element (p, j)
 * at data[p*ldb + j]. */
typedef struct kiln_f32_bview {
    const float *data;
    size_t ldb; /* 0: packed panels */
} kiln_f32_bview;

/* Single-threaded: the rectangle rows [i0, i1) x columns [j0, j1) of C (m x n, row stride ldc)
 * = packed A (m x k) . B (k x n), then the epilogue (pointers relative to C's (0,0)); i0 a
 * multiple of MR, j0 of NR. flags: KILN_GEMM_ACCUMULATE adds onto C. */
void kiln_f32_gemm_packed(const kiln_f32_gemm_config *cfg, size_t m, size_t n, size_t k, const float *a_packed,
                          kiln_f32_bview b, size_t i0, size_t i1, size_t j0, size_t j1, float *c, size_t ldc,
                          uint32_t flags, const kiln_f32_epilogue *ep);

/* Elementwise activation, in place allowed: y[i] = act(x[i]). */
void kiln_f32_vact(size_t n, const float *x, float *y, int32_t act, float p0, float p1);

/* Microkernel tables of each ISA file (filled by the ISA file, read by kernels/config). */
extern const kiln_f32_gemm_ukernel_fn kiln_f32_gemm_ukernels_4x8__scalar[KILN_GEMM_MAX_MR + 1];
extern const kiln_f32_gemm_ukernel_fn kiln_f32_gemm_ukernels_6x16__avx2_fma[KILN_GEMM_MAX_MR + 1];
extern const kiln_f32_gemm_ukernel_fn kiln_f32_gemm_ukernels_14x32__avx512f[KILN_GEMM_MAX_MR + 1];
extern const kiln_f32_gemm_ukernel_fn kiln_f32_gemm_ukernels_8x32__avx512f[KILN_GEMM_MAX_MR + 1];

#endif
