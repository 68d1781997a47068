/* SPDX-License-Identifier: MIT */
/* fp32 GEMM GFLOP/s on ResNet-50 and BERT-base shapes, one thread: Kiln's packed GEMM (weights
 * packed once, the activation operand packed or read in place per call, as the ops do) against
 * OpenBLAS's cblas_sgemm when Kiln was built with -Dblas=enabled, alternating in one process;
 * best of several repeats (the machine is shared). Also every config this CPU has.
 *   bench-gemm [repeats]      (run under flock /tmp/kiln-bench.lock) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/config/cpu.h"
#include "kernels/config/gemm-config.h"
#include "kernels/gemm/gemm.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct shape {
    const char *name;
    size_t m, n, k;
    int weights_left; /* 1: conv (weights = A, packed; activations B read in place); 0: matmul (weights = B packed, A packed per call) */
} shape;

static const shape shapes[] = {
    {"mobilenet expand 96x12544x16", 96, 12544, 16, 1},
    {"mobilenet project 24x3136x144", 24, 3136, 144, 1},
    {"resnet conv2_1x1 64x3136x256", 64, 3136, 256, 1},
    {"resnet conv2_3x3 64x3136x576", 64, 3136, 576, 1},
    {"resnet conv3_1x1 512x784x128", 512, 784, 128, 1},
    {"resnet conv4_3x3 256x196x2304", 256, 196, 2304, 1},
    {"resnet conv5_1x1 2048x49x512", 2048, 49, 512, 1},
    {"bert qkv 128x768x768", 128, 768, 768, 0},
    {"bert ffn1 128x3072x768", 128, 3072, 768, 0},
    {"bert ffn2 128x768x3072", 128, 768, 3072, 0},
};

static float *rnd(size_t n) {
    float *p = aligned_alloc(64, (n * sizeof(float) + 127) / 64 * 64);
    for (size_t i = 0; i < n; i++) p[i] = (float)(rand() % 1000) / 1000.0f - 0.5f;
    return p;
}

static double run_kiln(const kiln_f32_gemm_config *cfg, const shape *s, const float *a, const float *b, float *c,
                       int reps) {
    size_t m = s->m, n = s->n, k = s->k;
    float *pa = aligned_alloc(64, (kiln_f32_packa_size(cfg, m, k) * sizeof(float) + 127) / 64 * 64);
    float *pb = aligned_alloc(64, (kiln_f32_packb_size(cfg, k, n) * sizeof(float) + 127) / 64 * 64);
    size_t ta = (m + cfg->mr - 1) / cfg->mr, tb = (n + cfg->nr - 1) / cfg->nr;
    if (s->weights_left) kiln_f32_packa(cfg, m, k, a, k, 0, 1.0f, 0, ta, pa);
    else kiln_f32_packb(cfg, k, n, b, n, 0, 1.0f, 0, tb, pb);
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        kiln_f32_bview bv = {pb, 0};
        if (s->weights_left) bv = (kiln_f32_bview){b, n};
        else kiln_f32_packa(cfg, m, k, a, k, 0, 1.0f, 0, ta, pa);
        kiln_f32_gemm_packed(cfg, m, n, k, pa, bv, 0, m, 0, n, c, n, 0, NULL);
        double t = now() - t0;
        if (t < best) best = t;
    }
    free(pa), free(pb);
    return 2.0 * (double)m * (double)n * (double)k / best * 1e-9;
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 20;
    const kiln_cpu_info *cpu = kiln_cpu();
    printf("CPU: %s (level %s)\n", cpu->brand, kiln_isa_name(cpu->level));
    printf("| shape | %s", "");
    for (unsigned i = 0; kiln_f32_gemm_config_at(i); i++)
        if (kiln_f32_gemm_config_at(i)->isa <= (int)cpu->level) printf("%s GFLOP/s | ", kiln_f32_gemm_config_at(i)->name);
#ifdef KILN_HAVE_BLAS
    printf("OpenBLAS GFLOP/s |");
#endif
    printf("\n");
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
        const shape *s = &shapes[si];
        float *a = rnd(s->m * s->k), *b = rnd(s->k * s->n), *c = rnd(s->m * s->n);
        printf("| %s | ", s->name);
        for (unsigned i = 0; kiln_f32_gemm_config_at(i); i++) {
            const kiln_f32_gemm_config *cfg = kiln_f32_gemm_config_at(i);
            if (cfg->isa > (int)cpu->level) continue;
            printf("%.1f | ", run_kiln(cfg, s, a, b, c, reps));
            fflush(stdout);
        }
#ifdef KILN_HAVE_BLAS
        double best = 1e30;
        for (int r = 0; r < reps; r++) {
            double t0 = now();
            kiln_f32_gemm__blas(0, 0, s->m, s->n, s->k, 1.0f, a, s->k, b, s->n, 0.0f, c, s->n);
            double t = now() - t0;
            if (t < best) best = t;
        }
        printf("%.1f |", 2.0 * (double)s->m * (double)s->n * (double)s->k / best * 1e-9);
#endif
        printf("\n");
        free(a), free(b), free(c);
    }
    return 0;
}
