/* SPDX-License-Identifier: MIT */
/* Choice of the u8 x s8 GEMM microkernel from kiln_cpu(), and its tiled driver. */
#include "kernels/config/qgemm-config.h"
#include "kernels/q8-vcvt/q8-vcvt.h"

static const kiln_qgemm_config configs[] = {
#if defined(KILN_HAVE_U8S8_AVX512VNNI)
    {kiln_u8s8_gemm_8x32__avx512vnni, 8, 32, KILN_ISA_AVX512VNNI, "u8s8-gemm-8x32-avx512vnni"},
#endif
#if defined(KILN_HAVE_U8S8_AVXVNNI)
    {kiln_u8s8_gemm_6x16__avxvnni, 6, 16, KILN_ISA_AVXVNNI, "u8s8-gemm-6x16-avxvnni"},
#endif
#if defined(KILN_HAVE_Q8_AVX2)
    {kiln_u8s8_gemm_4x16__avx2, 4, 16, KILN_ISA_AVX2, "u8s8-gemm-4x16-avx2"},
#endif
    {kiln_u8s8_gemm_4x16__scalar, 4, 16, KILN_ISA_SCALAR, "u8s8-gemm-4x16-scalar"},
};

static int usable(const kiln_cpu_info *cpu, kiln_isa isa) {
    switch (isa) {
    case KILN_ISA_AVX512VNNI: return cpu->level >= KILN_ISA_AVX512VNNI && cpu->avx512vnni && cpu->avx512bw && cpu->avx512vl;
    case KILN_ISA_AVXVNNI: return cpu->level >= KILN_ISA_AVXVNNI && cpu->avxvnni && cpu->avx2;
    case KILN_ISA_AVX2: return cpu->level >= KILN_ISA_AVX2 && cpu->avx2;
    case KILN_ISA_SCALAR: return 1;
    default: return 0;
    }
}

const kiln_qgemm_config *kiln_qgemm_config_get(void) {
    const kiln_cpu_info *cpu = kiln_cpu();
    size_t n = sizeof configs / sizeof configs[0];
    for (size_t i = 0; i < n; i++)
        if (usable(cpu, configs[i].isa)) return &configs[i];
    return &configs[n - 1];
}

const kiln_qgemm_config *kiln_qgemm_config_for(kiln_isa isa) {
    const kiln_cpu_info *cpu = kiln_cpu();
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++)
        if (configs[i].isa == isa) return usable(cpu, isa) ? &configs[i] : NULL;
    return NULL;
}

void kiln_u8s8_gemm_run(const kiln_qgemm_config *cfg, size_t m0, size_t m1, size_t n0, size_t n1, size_t k,
                        const uint8_t *a, size_t lda, const int8_t *packed, void *c, size_t ldc,
                        const kiln_qgemm_epilogue *ep) {
    size_t ps = kiln_u8s8_panel_stride(k), es = kiln_qgemm_out_size(ep->out);
    for (size_t j = n0; j < n1; j += cfg->nr) {
        size_t nc = n1 - j < cfg->nr ? n1 - j : cfg->nr;
        const int8_t *bj = packed + j / KILN_U8S8_NR * ps;
        for (size_t i = m0; i < m1; i += cfg->mr) {
            size_t mr = m1 - i < cfg->mr ? m1 - i : cfg->mr;
            cfg->gemm(mr, nc, k, a + i * lda, lda, bj, ps, (char *)c + (i * ldc + j) * es, ldc, ep, i, j);
        }
    }
}

static const kiln_q8_vcvt_config vcvts[] = {
#if defined(KILN_HAVE_Q8_AVX512)
    {kiln_f32_q8_vcvt__avx512, kiln_q8_f32_vcvt__avx512, kiln_f32_minmax__avx512, KILN_ISA_AVX512, "q8-vcvt-avx512"},
#endif
#if defined(KILN_HAVE_Q8_AVX2)
    {kiln_f32_q8_vcvt__avx2, kiln_q8_f32_vcvt__avx2, kiln_f32_minmax__avx2, KILN_ISA_AVX2, "q8-vcvt-avx2"},
#endif
    {kiln_f32_q8_vcvt__scalar, kiln_q8_f32_vcvt__scalar, kiln_f32_minmax__scalar, KILN_ISA_SCALAR, "q8-vcvt-scalar"},
};

const kiln_q8_vcvt_config *kiln_q8_vcvt_config_get(void) {
    const kiln_cpu_info *cpu = kiln_cpu();
    size_t n = sizeof vcvts / sizeof vcvts[0];
    for (size_t i = 0; i < n; i++) {
        kiln_isa isa = vcvts[i].isa;
        if (isa == KILN_ISA_SCALAR || (isa == KILN_ISA_AVX2 && cpu->level >= KILN_ISA_AVX2 && cpu->avx2) ||
            (isa == KILN_ISA_AVX512 && cpu->level >= KILN_ISA_AVX512 && cpu->avx512f && cpu->avx512bw))
            return &vcvts[i];
    }
    return &vcvts[n - 1];
}
