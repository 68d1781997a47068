/* SPDX-License-Identifier: MIT */
/* Which u8 x s8 GEMM microkernel (and float <-> 8-bit conversion) (kernels/u8s8-gemm/) this CPU runs, with its tile, chosen from
 * kiln_cpu() (so KILN_CPU_ISA and kiln_cpu_set_cap apply), and the tiled driver over a block of C.
 *   avx512vnni: 8 x 32 (vpdpbusd zmm)   avxvnni: 6 x 16 (vpdpbusd ymm, VEX)
 *   avx2: 4 x 16 (exact vpmaddwd on widened bytes)   scalar: 4 x 16
 * AMX-INT8 has no kernel yet: the machines measured so far did not expose it (docs/int8.md). */
#ifndef KILN_KERNELS_CONFIG_QGEMM_CONFIG_H
#define KILN_KERNELS_CONFIG_QGEMM_CONFIG_H

#include "kernels/config/cpu.h"
#include "kernels/u8s8-gemm/u8s8-gemm.h"

typedef struct kiln_qgemm_config {
    kiln_u8s8_gemm_fn gemm;
    size_t mr, nr;   /* nr: a multiple of KILN_U8S8_NR */
    kiln_isa isa;    /* the level the kernel needs */
    const char *name;
} kiln_qgemm_config;

/* The best kernel for kiln_cpu() now (read it when a kernel is created, not per call). */
const kiln_qgemm_config *kiln_qgemm_config_get(void);

/* The kernel of exactly this level (KILN_ISA_SCALAR, AVX2, AVXVNNI, AVX512VNNI), or NULL when
 * this build or this CPU lacks it. */
const kiln_qgemm_config *kiln_qgemm_config_for(kiln_isa isa);

/* C[m0..m1) x [n0..n1) (n0 a multiple of KILN_U8S8_NR) with cfg's microkernel: A rows of k bytes
 * (a, lda), B packed (u8s8-gemm.h), C at c with leading dimension ldc (elements of ep->out). */
void kiln_u8s8_gemm_run(const kiln_qgemm_config *cfg, size_t m0, size_t m1, size_t n0, size_t n1, size_t k,
                        const uint8_t *a, size_t lda, const int8_t *packed, void *c, size_t ldc,
                        const kiln_qgemm_epilogue *ep);

/* Per-tensor float32 <-> 8-bit conversions (kernels/q8-vcvt/q8-vcvt.h) for this CPU. */
typedef struct kiln_q8_vcvt_config {
    void (*quantize)(size_t n, const float *x, float scale, int32_t zp, int s8, void *y);
    void (*dequantize)(size_t n, const void *x, int s8, float scale, float zp, float *y);
    void (*minmax)(size_t n, const float *x, float *mn, float *mx);
    kiln_isa isa;
    const char *name;
} kiln_q8_vcvt_config;

const kiln_q8_vcvt_config *kiln_q8_vcvt_config_get(void);

#endif
