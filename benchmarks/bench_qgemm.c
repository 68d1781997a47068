/* SPDX-License-Identifier: MIT */
/* Int8 GEMM throughput on the ResNet-50 convolution shapes (M = output channels, N = output
 * pixels, K = input channels x kernel size; requantized u8 output as QLinearConv writes it), one
 * thread, against the measured vpdpbusd peak of this core (16 independent zmm accumulators).
 * Prints GOP/s (2 ops per multiply-add) and the share of the peak. Run under
 * flock /tmp/kiln-bench.lock; KILN_CPU_ISA selects a lower kernel. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/config/qgemm-config.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#if defined(__x86_64__) && defined(__GNUC__)
/* 24 independent vpdpbusd zmm per iteration, in registers (inline asm: the compiler cannot
 * merge or spill them); GOP/s = 2 x 64 multiply-adds per instruction. */
__attribute__((target("avx512f,avx512vnni"))) static double vnni_peak_gops(void) {
    const long iters = 50000; /* short runs, best of many: a shared machine preempts long ones */
    double best = 0;
    for (int rep = 0; rep < 200; rep++) {
        double t0 = now();
        __asm__ volatile(
            "vpxord %%zmm0, %%zmm0, %%zmm0\n\t"
            "vpternlogd $0xff, %%zmm30, %%zmm30, %%zmm30\n\t"
            "vpternlogd $0xff, %%zmm31, %%zmm31, %%zmm31\n\t"
            "mov %0, %%rcx\n\t"
            "1:\n\t"
            "vpdpbusd %%zmm30, %%zmm31, %%zmm0\n\t"
            "vpdpbusd %%zmm30, %%zmm31, %%zmm1\n\t"
            "vpdpbusd %%zmm30, %%zmm31, %%zmm2\n\t"
            "vpdpbusd %%zmm30, %%zmm31, %%zmm3\n\t"
            "vpdpbusd %%zmm30, %%zmm31, %%zmm4\n\t"
            "vpdpbusd %%zmm30, %%zmm31, %%zmm5\n\t"
            "vpdpbusd %%zmm30, %%zmm31, %%zmm6\n\t"
            "vpdpbusd %%zmm30, %%zmm31, %%zmm7\n\t"
            "vpdpbusd %%zmm30, %%zmm31, %%zmm8\n\t"
            "vpdpbusd %%zmm30, %%zmm31, %%zmm9\n\t"
            "vpdpbusd %%zmm30, %%zmm31, %%zmm10\n\t"
            "vpdpbusd %%zmm30, %%zmm31, %%zmm11\n\t"
            "vpdpbusd %%zmm30, %%zmm31, %%zmm12\n\t"
            "vpdpbusd %%zmm30, %%zmm31, %%zmm13\n\t"
            "vpdpbusd %%zmm30, %%zmm31, %%zmm14\n\t"
            "vpdpbusd %%zmm30, %%zmm31, %%zmm15\n\t"
            "vpdpbusd %%zmm30, %%zmm31, %%zmm16\n\t"
            "vpdpbusd %%zmm30, %%zmm31, %%zmm17\n\t"
            "vpdpbusd %%zmm30, %%zmm31, %%zmm18\n\t"
            "vpdpbusd %%zmm30, %%zmm31, %%zmm19\n\t"
            "vpdpbusd %%zmm30, %%zmm31, %%zmm20\n\t"
            "vpdpbusd %%zmm30, %%zmm31, %%zmm21\n\t"
            "vpdpbusd %%zmm30, %%zmm31, %%zmm22\n\t"
            "vpdpbusd %%zmm30, %%zmm31, %%zmm23\n\t"
            "dec %%rcx\n\t"
            "jnz 1b\n\t"
            :
            : "r"(iters)
            : "rcx", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23",
              "xmm30", "xmm31", "cc");
        double t = now() - t0, g = (double)iters * 24 * 64 * 2 / t * 1e-9;
        best = g > best ? g : best;
    }
    return best;
}
#endif

int main(void) {
    static const size_t shapes[][3] = {
        {64, 3136, 64},  {64, 3136, 576},  {256, 3136, 64}, {64, 3136, 256}, {128, 784, 1152}, {512, 784, 128},
        {128, 784, 512}, {256, 196, 2304}, {1024, 196, 256}, {256, 196, 1024}, {512, 49, 4608}, {2048, 49, 512},
        {512, 49, 2048},
    };
    const kiln_qgemm_config *cfg = kiln_qgemm_config_get();
    const kiln_cpu_info *cpu = kiln_cpu();
    double peak = 0;
#if defined(__x86_64__) && defined(__GNUC__)
    if (__builtin_cpu_supports("avx512vnni")) peak = vnni_peak_gops(); /* the CPU's, whatever KILN_CPU_ISA caps */
#endif
    printf("# CPU %s, kernel %s, vpdpbusd zmm peak %.1f GOP/s (1 thread)\n", cpu->brand, cfg->name, peak);
    printf("| M | N | K | ms | GOP/s | of peak |\n|---:|---:|---:|---:|---:|---:|\n");
    double tot_ops = 0, tot_t = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        uint8_t *a = malloc(m * k), *b = malloc(k * n), *c = malloc(m * n);
        int8_t *pb = malloc(kiln_u8s8_packed_size(k, n));
        int32_t *cs = malloc(n * sizeof(int32_t)), *zw = malloc(m * sizeof(int32_t)), *ra = malloc(m * sizeof(int32_t));
        float *sc = malloc(m * sizeof(float));
        for (size_t i = 0; i < m * k; i++) a[i] = (uint8_t)(i * 7);
        for (size_t i = 0; i < k * n; i++) b[i] = (uint8_t)(i * 13);
        for (size_t i = 0; i < m; i++) zw[i] = 128, ra[i] = 5, sc[i] = 0.001f;
        kiln_u8s8_pack_b(k, 0, n, b, n, 0x80, pb, cs);
        kiln_qgemm_epilogue ep = {ra, NULL, zw, cs, KILN_QGEMM_OUT_U8, sc, 1, NULL, 0};
        double best = 1e9;
        for (int rep = 0; rep < 40; rep++) {
            double t0 = now();
            kiln_u8s8_gemm_run(cfg, 0, m, 0, n, k, a, k, pb, c, n, &ep);
            double t = now() - t0;
            best = t < best ? t : best;
        }
        double ops = 2.0 * (double)m * (double)n * (double)k, g = ops / best * 1e-9;
        tot_ops += ops, tot_t += best;
        printf("| %zu | %zu | %zu | %.3f | %.1f | %.0f%% |\n", m, n, k, best * 1e3, g, peak > 0 ? 100.0 * g / peak : 0.0);
        free(a), free(b), free(c), free(pb), free(cs), free(zw), free(ra), free(sc);
    }
    double g = tot_ops / tot_t * 1e-9;
    printf("| all | | | %.3f | %.1f | %.0f%% |\n", tot_t * 1e3, g, peak > 0 ? 100.0 * g / peak : 0.0);
    return 0;
}
