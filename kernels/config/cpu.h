/* SPDX-License-Identifier: MIT */
/* What this CPU and OS let Kiln's kernels use, detected once (cpuid, XCR0 through xgetbv, and on
 * Linux the AMX tile-data permission through arch_prctl). Every kernel family's config
 * (kernels/config/<family>-config.c) chooses its microkernel from kiln_cpu() and nothing else.
 *
 * Levels are a ladder; KILN_CPU_ISA=<name> caps the ladder for tests and benchmarks: every feature
 * above the named level is reported absent, so a machine with AVX-512 still runs and tests its AVX2
 * and scalar kernels. A name the CPU does not reach leaves the CPU's own level (a cap, not a wish).
 *   scalar < avx2 (AVX2+FMA+F16C) < avxvnni (+AVX-VNNI) < avx512 (F/BW/DQ/VL, OS zmm state)
 *          < avx512vnni (+AVX512-VNNI, +AVX512-BF16 where present) < amx (AMX-TILE/INT8/BF16, permitted) */
#ifndef KILN_KERNELS_CONFIG_CPU_H
#define KILN_KERNELS_CONFIG_CPU_H

#include <stdbool.h>

typedef enum kiln_isa {
    KILN_ISA_SCALAR = 0,
    KILN_ISA_AVX2,
    KILN_ISA_AVXVNNI,
    KILN_ISA_AVX512,
    KILN_ISA_AVX512VNNI,
    KILN_ISA_AMX,
    KILN_ISA_COUNT
} kiln_isa;

typedef struct kiln_cpu_info {
    kiln_isa level;    /**< the highest level whose every feature is usable, after the cap */
    kiln_isa detected; /**< the level before KILN_CPU_ISA's cap */
    bool avx2, fma, f16c;
    bool avxvnni;                                   /**< VEX-encoded vpdpbusd on ymm */
    bool avx512f, avx512bw, avx512dq, avx512vl;     /**< all four, with the OS saving zmm/opmask state */
    bool avx512vnni, avx512bf16, avx512fp16;
    bool amx_tile, amx_int8, amx_bf16;              /**< CPU bits, OS tile state and Linux permission */
    char vendor[13];                                /**< "GenuineIntel", "AuthenticAMD", ... */
    char brand[49];                                 /**< cpuid brand string, trimmed */
} kiln_cpu_info;

/* The features, detected on the first call (thread-safe) and read-only afterwards. */
const kiln_cpu_info *kiln_cpu(void);

/* The name of a level ("scalar", "avx2", "avxvnni", "avx512", "avx512vnni", "amx"). */
const char *kiln_isa_name(kiln_isa isa);

/* Parses a level name; returns -1 for an unknown one. */
int kiln_isa_parse(const char *name);

/* Re-applies a cap in-process (tests and rt-bench only; not thread-safe with running kernels):
 * `cap` < 0 restores the detected level, else features above `cap` are cleared. Kernel configs
 * read kiln_cpu() when a kernel is created, so kernels created afterwards follow the new cap. */
void kiln_cpu_set_cap(int cap);

#endif
