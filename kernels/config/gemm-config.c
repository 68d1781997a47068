/* SPDX-License-Identifier: MIT */
/* fp32 GEMM configs per ISA level. kc: an A panel (mr x kc) and a B panel (kc x nr) fit L1
 * (48 KiB on the Xeons Kiln is measured on, 32 KiB and up elsewhere); mc x kc of A fits half of
 * L2; nc bounds the B block a thread streams. Tiles measured in docs/performance.md. */
#include "kernels/config/gemm-config.h"

#include <pthread.h>

#include "kernels/config/cpu.h"

static const kiln_f32_gemm_config *configs[4];
static kiln_f32_gemm_config table[4];

static void fill(kiln_f32_gemm_config *c, const char *name, int isa, uint32_t mr, uint32_t nr, uint32_t kc, uint32_t mc,
                 uint32_t nc, const kiln_f32_gemm_ukernel_fn *uk) {
    c->name = name;
    c->isa = isa;
    c->mr = mr;
    c->nr = nr;
    c->kc = kc;
    c->mc = mc;
    c->nc = nc;
    for (unsigned i = 0; i <= KILN_GEMM_MAX_MR; i++) c->ukernel[i] = i <= mr ? uk[i] : NULL;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void) {
    fill(&table[0], "f32-gemm-4x8-scalar", KILN_ISA_SCALAR, 4, 8, 256, 128, 512, kiln_f32_gemm_ukernels_4x8__scalar);
    fill(&table[1], "f32-gemm-6x16-avx2-fma", KILN_ISA_AVX2, 6, 16, 256, 144, 1024, kiln_f32_gemm_ukernels_6x16__avx2_fma);
    fill(&table[2], "f32-gemm-14x32-avx512f", KILN_ISA_AVX512, 14, 32, 256, 336, 2048,
         kiln_f32_gemm_ukernels_14x32__avx512f);
    fill(&table[3], "f32-gemm-8x32-avx512f", KILN_ISA_AVX512, 8, 32, 256, 256, 2048, kiln_f32_gemm_ukernels_8x32__avx512f);
    for (int i = 0; i < 4; i++) configs[i] = &table[i];
}

const kiln_f32_gemm_config *kiln_f32_gemm_config_at(unsigned i) {
    pthread_once(&once, init);
    return i < 4 ? configs[i] : NULL;
}

const kiln_f32_gemm_config *kiln_f32_gemm_config_get(void) {
    pthread_once(&once, init);
    kiln_isa level = kiln_cpu()->level;
    if (level >= KILN_ISA_AVX512) return configs[2];
    if (level >= KILN_ISA_AVX2) return configs[1];
    return configs[0];
}
