/* SPDX-License-Identifier: MIT */
/* Implicit-GEMM convolution configs per ISA level (kernels/f32-conv/f32-conv.h): each reads the
 * packed A panels of the GEMM config with the same MR, so a weight packed once serves the im2col
 * path and this one. */
#include <pthread.h>

#include "kernels/config/cpu.h"
#include "kernels/config/gemm-config.h"
#include "kernels/f32-conv/f32-conv.h"

#define NCONF 3
static kiln_f32_conv_config table[NCONF];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void fill(kiln_f32_conv_config *c, const char *name, const kiln_f32_gemm_config *gemm,
                 const kiln_f32_conv_ukernel_fn *uk) {
    c->name = name;
    c->isa = gemm->isa;
    c->mr = gemm->mr;
    c->nr = gemm->nr;
    c->gemm = gemm;
    for (unsigned i = 0; i <= KILN_GEMM_MAX_MR; i++) c->ukernel[i] = i <= gemm->mr ? uk[i] : NULL;
}

static void init(void) {
    /* kiln_f32_gemm_config_at: 0 4x8 scalar, 1 6x16 avx2-fma, 2 14x32 avx512f */
    fill(&table[0], "f32-conv-igemm-4x8-scalar", kiln_f32_gemm_config_at(0), kiln_f32_conv_ukernels_4x8__scalar);
    fill(&table[1], "f32-conv-igemm-6x16-avx2-fma", kiln_f32_gemm_config_at(1), kiln_f32_conv_ukernels_6x16__avx2_fma);
    fill(&table[2], "f32-conv-igemm-14x32-avx512f", kiln_f32_gemm_config_at(2), kiln_f32_conv_ukernels_14x32__avx512f);
}

const kiln_f32_conv_config *kiln_f32_conv_config_at(unsigned i) {
    pthread_once(&once, init);
    return i < NCONF ? &table[i] : NULL;
}

const kiln_f32_conv_config *kiln_f32_conv_config_for(const kiln_f32_gemm_config *gemm) {
    pthread_once(&once, init);
    for (unsigned i = 0; i < NCONF; i++)
        if (table[i].gemm == gemm && (int)kiln_cpu()->level >= table[i].isa) return &table[i];
    return NULL;
}

const kiln_f32_conv_config *kiln_f32_conv_config_get(void) {
    return kiln_f32_conv_config_for(kiln_f32_gemm_config_get());
}
