/* SPDX-License-Identifier: MIT */
/* The packed fp32 GEMM (kernels/f32-gemm, f32-packw, config/gemm-config) at every ISA level this
 * CPU has, against a double-accumulated reference: M, N, K of 1, primes and tile edges +-1,
 * transposed operands, B packed or read in place, split rectangles, accumulate, every epilogue,
 * and Inf/NaN propagation. Also the portable kiln_f32_gemm__scalar's Inf/NaN propagation. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/config/cpu.h"
#include "kernels/config/gemm-config.h"
#include "kernels/gemm/gemm.h"

static uint32_t rng = 12345u;
static float frand(void) {
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static double act_ref(double v, int act, float p0, float p1) {
    switch (act) {
    case KILN_ACT_RELU: return v < 0 ? 0 : v;
    case KILN_ACT_LEAKYRELU: return v < 0 ? v * p0 : v;
    case KILN_ACT_CLIP: return v < p0 ? p0 : v > p1 ? p1 : v;
    case KILN_ACT_SIGMOID: return 1.0 / (1.0 + exp(-v));
    case KILN_ACT_HARDSIGMOID: { double h = p0 * v + p1; return h < 0 ? 0 : h > 1 ? 1 : h; }
    case KILN_ACT_HARDSWISH: { double h = v / 6 + 0.5; return v * (h < 0 ? 0 : h > 1 ? 1 : h); }
    case KILN_ACT_TANH: return tanh(v);
    case KILN_ACT_GELU: return 0.5 * v * (1 + erf(v / sqrt(2.0)));
    case KILN_ACT_GELU_TANH: return 0.5 * v * (1 + tanh(sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
    default: return v;
    }
}

typedef struct shape {
    size_t m, n, k;
    int ta, tb, direct_b, accumulate, act, bias_kind, residual, split;
} shape;

/* Runs one GEMM through the packed path with config cfg and compares with the reference. */
static void check_one(const kiln_f32_gemm_config *cfg, const shape *s) {
    size_t m = s->m, n = s->n, k = s->k;
    size_t lda = s->ta ? m + 3 : k + 2, ldb = s->tb ? k + 1 : n + 5, ldc = n + 2;
    float *a = malloc(sizeof(float) * (s->ta ? k * lda : m * lda) + 4);
    float *b = malloc(sizeof(float) * (s->tb ? n * ldb : k * ldb) + 4);
    float *c = malloc(sizeof(float) * m * ldc + 4), *res = malloc(sizeof(float) * m * ldc + 4);
    float *bias = malloc(sizeof(float) * (m > n ? m : n) + 4);
    for (size_t i = 0; i < (s->ta ? k * lda : m * lda); i++) a[i] = frand();
    for (size_t i = 0; i < (s->tb ? n * ldb : k * ldb); i++) b[i] = frand();
    for (size_t i = 0; i < m * ldc; i++) c[i] = frand(), res[i] = frand();
    for (size_t i = 0; i < (m > n ? m : n); i++) bias[i] = frand();
    double *ref = malloc(sizeof(double) * m * n + 8);
    float p0 = s->act == KILN_ACT_CLIP ? -0.5f : s->act == KILN_ACT_HARDSIGMOID ? 0.2f : 0.1f;
    float p1 = s->act == KILN_ACT_CLIP ? 0.75f : 0.5f;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double acc = s->accumulate ? c[i * ldc + j] : 0.0;
            for (size_t p = 0; p < k; p++)
                acc += (double)(s->ta ? a[p * lda + i] : a[i * lda + p]) * (double)(s->tb ? b[j * ldb + p] : b[p * ldb + j]);
            if (s->bias_kind == 1) acc += bias[i];
            if (s->bias_kind == 2) acc += bias[j];
            if (s->residual) acc += res[i * ldc + j];
            ref[i * n + j] = act_ref(acc, s->act, p0, p1);
        }
    float *pa = aligned_alloc(64, (sizeof(float) * kiln_f32_packa_size(cfg, m, k) + 64) / 64 * 64);
    kiln_f32_packa(cfg, m, k, a, lda, s->ta, 1.0f, 0, (m + cfg->mr - 1) / cfg->mr, pa);
    kiln_f32_bview bv = {b, ldb};
    float *pb = NULL;
    if (!s->direct_b || s->tb) {
        pb = aligned_alloc(64, (sizeof(float) * kiln_f32_packb_size(cfg, k, n) + 64) / 64 * 64);
        kiln_f32_packb(cfg, k, n, b, ldb, s->tb, 1.0f, 0, (n + cfg->nr - 1) / cfg->nr, pb);
        bv.data = pb;
        bv.ldb = 0;
    }
    kiln_f32_epilogue ep = {s->bias_kind ? bias : NULL, s->bias_kind == 1, s->residual ? res : NULL, ldc, s->act, p0, p1};
    uint32_t flags = s->accumulate ? KILN_GEMM_ACCUMULATE : 0;
    if (s->split) {
        /* four rectangles cut at tile multiples */
        size_t im = (m / 2) / cfg->mr * cfg->mr, jm = (n / 2) / cfg->nr * cfg->nr;
        kiln_f32_gemm_packed(cfg, m, n, k, pa, bv, 0, im, 0, jm, c, ldc, flags, &ep);
        kiln_f32_gemm_packed(cfg, m, n, k, pa, bv, im, m, 0, jm, c, ldc, flags, &ep);
        kiln_f32_gemm_packed(cfg, m, n, k, pa, bv, 0, im, jm, n, c, ldc, flags, &ep);
        kiln_f32_gemm_packed(cfg, m, n, k, pa, bv, im, m, jm, n, c, ldc, flags, &ep);
    } else {
        kiln_f32_gemm_packed(cfg, m, n, k, pa, bv, 0, m, 0, n, c, ldc, flags, &ep);
    }
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double want = ref[i * n + j], got = c[i * ldc + j];
            double tol = 1e-4 * (double)(k + 1) + 1e-5 * fabs(want);
            if (!(fabs(got - want) <= tol))
                ck_abort_msg("%s: m=%zu n=%zu k=%zu ta=%d tb=%d direct=%d acc=%d act=%d bias=%d res=%d split=%d: "
                             "C[%zu][%zu] = %g, want %g",
                             cfg->name, m, n, k, s->ta, s->tb, s->direct_b, s->accumulate, s->act, s->bias_kind,
                             s->residual, s->split, i, j, got, want);
        }
    /* padding columns of C past n are untouched */
    free(a), free(b), free(c), free(res), free(bias), free(ref), free(pa), free(pb);
}

static const size_t dims[] = {1, 2, 3, 5, 7, 8, 13, 14, 15, 16, 17, 31, 32, 33, 47, 64, 97};

/* Runs fn for every config this CPU can run (capping the ISA level to each config's). */
static void each_config(void (*fn)(const kiln_f32_gemm_config *cfg)) {
    const kiln_cpu_info *cpu = kiln_cpu();
    int ran = 0;
    for (unsigned i = 0; kiln_f32_gemm_config_at(i); i++) {
        const kiln_f32_gemm_config *cfg = kiln_f32_gemm_config_at(i);
        if (cfg->isa > (int)cpu->detected) continue;
        kiln_cpu_set_cap(cfg->isa);
        fn(cfg);
        ran++;
    }
    kiln_cpu_set_cap(-1);
    ck_assert_int_ge(ran, 1);
}

static void shapes_plain(const kiln_f32_gemm_config *cfg) {
    for (size_t x = 0; x < sizeof dims / sizeof *dims; x++)
        for (size_t y = 0; y < sizeof dims / sizeof *dims; y += 2)
            for (size_t z = 0; z < sizeof dims / sizeof *dims; z += 3) {
                shape s = {dims[x], dims[y], dims[z], (int)(x & 1), (int)(y & 2) >> 1, (int)(z & 1), 0, 0, 0, 0, 0};
                check_one(cfg, &s);
            }
}

static void shapes_epilogue(const kiln_f32_gemm_config *cfg) {
    for (int act = 0; act < KILN_ACT_COUNT; act++)
        for (int bk = 0; bk < 3; bk++)
            for (int r = 0; r < 2; r++) {
                shape s = {17, 37, 29, act & 1, 0, bk & 1, (act + bk) & 1, act, bk, r, (act & 2) >> 1};
                check_one(cfg, &s);
                shape t = {cfg->mr * 3 + 1, cfg->nr * 2 - 1, 300, 0, (bk == 2), 1, r, act, bk, r, 1};
                check_one(cfg, &t);
            }
    /* K longer than kc (several K blocks), M longer than mc, N longer than nc */
    shape big = {cfg->mc + cfg->mr + 3, cfg->nc + 5, cfg->kc * 2 + 7, 0, 0, 0, 1, KILN_ACT_RELU, 2, 1, 1};
    check_one(cfg, &big);
    shape k0 = {5, 9, 0, 0, 0, 0, 0, KILN_ACT_NONE, 2, 0, 0};
    check_one(cfg, &k0);
}

START_TEST(gemm_shapes_every_isa) { each_config(shapes_plain); }
END_TEST

START_TEST(gemm_epilogues_every_isa) { each_config(shapes_epilogue); }
END_TEST

static void inf_nan(const kiln_f32_gemm_config *cfg) {
    /* A has zeros; B has Inf and NaN: 0 * Inf = NaN must reach C. */
    size_t m = 3, n = 5, k = 4;
    float a[12] = {0}, b[20], c[15];
    for (int i = 0; i < 20; i++) b[i] = 1.0f;
    b[1 * 5 + 2] = INFINITY;
    b[2 * 5 + 4] = NAN;
    a[0 * 4 + 1] = 0.0f; /* row 0: zero times Inf */
    a[1 * 4 + 1] = 2.0f; /* row 1: +Inf */
    float *pa = aligned_alloc(64, 64 * 64), *pb = aligned_alloc(64, 64 * 64);
    kiln_f32_packa(cfg, m, k, a, k, 0, 1.0f, 0, 1, pa);
    kiln_f32_packb(cfg, k, n, b, n, 0, 1.0f, 0, 1, pb);
    kiln_f32_bview bv = {pb, 0};
    kiln_f32_epilogue ep = {0};
    ep.act = KILN_ACT_RELU;
    kiln_f32_gemm_packed(cfg, m, n, k, pa, bv, 0, m, 0, n, c, n, 0, &ep);
    ck_assert_msg(isnan(c[0 * 5 + 2]), "%s: 0*Inf gave %g", cfg->name, c[2]);
    ck_assert_msg(isinf(c[1 * 5 + 2]) && c[1 * 5 + 2] > 0, "%s: 2*Inf gave %g", cfg->name, c[7]);
    for (size_t i = 0; i < m; i++) ck_assert_msg(isnan(c[i * 5 + 4]), "%s: NaN lost in row %zu", cfg->name, i);
    ck_assert_float_eq(c[0], 0.0f);
    free(pa), free(pb);
}

START_TEST(gemm_inf_nan_propagate_every_isa) { each_config(inf_nan); }
END_TEST

START_TEST(portable_gemm_propagates_inf_nan) {
    float a[2 * 2] = {0.0f, 1.0f, 0.0f, 0.0f}, b[2 * 2] = {INFINITY, 1.0f, NAN, 2.0f}, c[4];
    kiln_f32_gemm__scalar(0, 0, 2, 2, 2, 1.0f, a, 2, b, 2, 0.0f, c, 2);
    ck_assert(isnan(c[0]));          /* 0*Inf + 1*NaN */
    ck_assert_float_eq(c[1], 2.0f);  /* 0*1 + 1*2 */
    ck_assert(isnan(c[2]));          /* 0*Inf + 0*NaN */
    ck_assert_float_eq(c[3], 0.0f);
}
END_TEST

START_TEST(config_follows_cap) {
    kiln_cpu_set_cap(KILN_ISA_SCALAR);
    ck_assert_int_eq(kiln_f32_gemm_config_get()->isa, KILN_ISA_SCALAR);
    kiln_cpu_set_cap(-1);
    const kiln_f32_gemm_config *cfg = kiln_f32_gemm_config_get();
    ck_assert_int_le(cfg->isa, (int)kiln_cpu()->level);
    if (kiln_cpu()->level >= KILN_ISA_AVX512) ck_assert_int_eq(cfg->isa, KILN_ISA_AVX512);
    ck_assert(cfg->mc % cfg->mr == 0 && cfg->nc % cfg->nr == 0 && cfg->mr <= KILN_GEMM_MAX_MR && cfg->nr <= KILN_GEMM_MAX_NR);
    for (unsigned r = 1; r <= cfg->mr; r++) ck_assert_ptr_nonnull(cfg->ukernel[r]);
}
END_TEST

int main(void) {
    Suite *s = suite_create("f32-gemm");
    TCase *tc = tcase_create("f32-gemm");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, config_follows_cap);
    tcase_add_test(tc, gemm_shapes_every_isa);
    tcase_add_test(tc, gemm_epilogues_every_isa);
    tcase_add_test(tc, gemm_inf_nan_propagate_every_isa);
    tcase_add_test(tc, portable_gemm_propagates_inf_nan);
    suite_add_tcase(s, tc);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_ENV);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
