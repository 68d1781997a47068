/* SPDX-License-Identifier: MIT */
/* The implicit-GEMM convolution kernels (kernels/f32-conv) at every ISA level this CPU has against
 * a naive double-accumulated reference: randomized channels and output channels (1, primes, MR
 * edges), kernels 1x1..5x5 and 1xK/Kx1, dilations 1..3, asymmetric pads 0..3 (trailing pads that
 * crop the input too), widths across the NR tile, whole and split ranges of output channels and
 * pixels, bias, residual, every activation, and NaN/Inf propagation. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/common/activation.h"
#include "kernels/config/cpu.h"
#include "kernels/f32-conv/f32-conv.h"

static unsigned rng = 1234u;
static unsigned irand(unsigned n) {
    rng = rng * 1664525u + 1013904223u;
    return (rng >> 8) % n;
}
static float frand(void) { return (float)irand(65536) / 32768.0f - 1.0f; }

static double act_ref(double v, int32_t act, double p0, double p1) {
    switch (act) {
    case KILN_ACT_RELU: return v < 0 ? 0 : v;
    case KILN_ACT_LEAKYRELU: return v < 0 ? v * p0 : v;
    case KILN_ACT_CLIP: return v < p0 ? p0 : v > p1 ? p1 : v;
    case KILN_ACT_SIGMOID: return 1.0 / (1.0 + exp(-v));
    case KILN_ACT_TANH: return tanh(v);
    case KILN_ACT_HARDSWISH: {
        double h = v / 6.0 + 0.5;
        return v * (h < 0 ? 0 : h > 1 ? 1 : h);
    }
    default: return v;
    }
}

typedef struct shape {
    int64_t c, m, ih, iw, kh, kw, dh, dw, ph, pw, eh, ew; /* eh/ew: trailing pads (negative crops) */
} shape;

/* One shape at the current level: the whole output, then (when split) in blocks of output
 * channels and pixels, each compared with the reference. */
static void check(const shape *s, int32_t act, int with_bias, int with_res, int split, int poison) {
    const kiln_f32_conv_config *cfg = kiln_f32_conv_config_get();
    ck_assert_ptr_nonnull(cfg);
    kiln_f32_conv_igeom g = {s->c, s->ih, s->iw, 0, 0, s->kh, s->kw, s->dh, s->dw, s->ph, s->pw};
    g.oh = s->ih + s->ph + s->eh - (s->kh - 1) * s->dh;
    g.ow = s->iw + s->pw + s->ew - (s->kw - 1) * s->dw;
    if (g.oh <= 0 || g.ow <= 0) return;
    size_t isz = (size_t)(s->ih * s->iw), osz = (size_t)(g.oh * g.ow), taps = (size_t)(s->kh * s->kw);
    size_t k = (size_t)s->c * taps, m = (size_t)s->m;
    float *x = malloc(sizeof(float) * isz * (size_t)s->c), *w = malloc(sizeof(float) * m * k);
    float *bias = malloc(sizeof(float) * m), *res = malloc(sizeof(float) * m * osz);
    float *y = malloc(sizeof(float) * m * osz);
    float *pa = malloc(sizeof(float) * kiln_f32_packa_size(cfg->gemm, m, k));
    size_t plane = kiln_f32_conv_plane_size(&g), qn = kiln_f32_conv_qcount(&g);
    float *xp = malloc(sizeof(float) * plane * (size_t)s->c);
    float *work = malloc(sizeof(float) * (cfg->mr * qn + 16));
    size_t *off = malloc(sizeof(size_t) * taps);
    for (size_t i = 0; i < isz * (size_t)s->c; i++) x[i] = frand();
    for (size_t i = 0; i < m * k; i++) w[i] = frand();
    for (size_t i = 0; i < m; i++) bias[i] = frand();
    for (size_t i = 0; i < m * osz; i++) res[i] = frand(), y[i] = 12345.0f;
    if (poison == 1) x[irand((unsigned)(isz * (size_t)s->c))] = NAN;
    if (poison == 2) w[irand((unsigned)(m * k))] = INFINITY;
    kiln_f32_packa(cfg->gemm, m, k, w, k, 0, 1.0f, 0, (m + cfg->mr - 1) / cfg->mr, pa);
    kiln_f32_conv_pad(&g, x, 0, (size_t)s->c, xp);
    kiln_f32_conv_taps(&g, off);
    kiln_f32_epilogue ep = {with_bias ? bias : NULL, 1, with_res ? res : NULL, osz, act, -0.25f, 0.5f};
    if (act == KILN_ACT_LEAKYRELU) ep.p0 = 0.125f;
    size_t mstep = split ? cfg->mr * (1 + irand(2)) : m, qstep = split ? cfg->nr * (1 + irand(3)) + (irand(2) ? 0 : 3) : qn;
    size_t cblock = split ? 1 + irand(4) : irand(2) ? 0 : 1 + irand(20);
    for (size_t i0 = 0; i0 < m; i0 += mstep)
        for (size_t q0 = 0; q0 < qn; q0 += qstep)
            kiln_f32_conv_igemm(cfg, &g, xp, pa, m, off, i0, i0 + mstep, q0, q0 + qstep < qn ? q0 + qstep : qn, cblock, work, y,
                                &ep);
    for (size_t mi = 0; mi < m; mi++)
        for (int64_t oh = 0; oh < g.oh; oh++)
            for (int64_t ow = 0; ow < g.ow; ow++) {
                double acc = with_bias ? bias[mi] : 0.0;
                for (int64_t ci = 0; ci < s->c; ci++)
                    for (int64_t a = 0; a < s->kh; a++)
                        for (int64_t b = 0; b < s->kw; b++) {
                            int64_t r = oh - s->ph + a * s->dh, col = ow - s->pw + b * s->dw;
                            /* the padding is zeros that are multiplied too (0 * Inf = NaN) */
                            int inside = r >= 0 && r < s->ih && col >= 0 && col < s->iw;
                            double xv = inside ? x[(size_t)ci * isz + (size_t)(r * s->iw + col)] : 0.0;
                            acc += (double)w[mi * k + (size_t)ci * taps + (size_t)(a * s->kw + b)] * xv;
                        }
                size_t e = mi * osz + (size_t)(oh * g.ow + ow);
                if (with_res) acc += res[e];
                acc = act_ref(acc, act, ep.p0, ep.p1);
                double got = y[e];
                int same_nan = isnan(got) && isnan(acc);
                if (!same_nan && !(fabs(got - acc) <= 1e-5 * (double)(k + 2) || (isinf(acc) && got == acc)))
                    ck_abort_msg("%s: c%lld m%lld %lldx%lld k%lldx%lld d%lld,%lld p%lld,%lld e%lld,%lld act %d bias %d "
                                 "res %d split %d poison %d: y[%zu][%lld][%lld] = %g, want %g",
                                 cfg->name, (long long)s->c, (long long)s->m, (long long)s->ih, (long long)s->iw,
                                 (long long)s->kh, (long long)s->kw, (long long)s->dh, (long long)s->dw,
                                 (long long)s->ph, (long long)s->pw, (long long)s->eh, (long long)s->ew, act, with_bias,
                                 with_res, split, poison, mi, (long long)oh, (long long)ow, got, acc);
            }
    free(x), free(w), free(bias), free(res), free(y), free(pa), free(xp), free(work), free(off);
}

static int levels(int *out) {
    static const int all[] = {KILN_ISA_SCALAR, KILN_ISA_AVX2, KILN_ISA_AVX512};
    kiln_cpu_set_cap(-1);
    int n = 0;
    for (int i = 0; i < 3; i++)
        if (all[i] <= (int)kiln_cpu()->detected) out[n++] = all[i];
    return n;
}

START_TEST(igemm_random_shapes_every_isa) {
    int lv[3], nl = levels(lv);
    static const int64_t chans[] = {1, 2, 3, 7, 16, 19};
    static const int64_t outs[] = {1, 3, 4, 5, 6, 7, 13, 14, 15, 29, 33};
    static const int32_t acts[] = {KILN_ACT_NONE, KILN_ACT_RELU, KILN_ACT_CLIP, KILN_ACT_LEAKYRELU, KILN_ACT_SIGMOID,
                                   KILN_ACT_HARDSWISH};
    for (int l = 0; l < nl; l++) {
        kiln_cpu_set_cap(lv[l]);
        ck_assert_int_eq(kiln_f32_conv_config_get()->isa, lv[l]);
        for (int r = 0; r < 150; r++) {
            shape s;
            s.c = chans[irand(6)], s.m = outs[irand(11)];
            s.kh = 1 + irand(5), s.kw = 1 + irand(5);
            if (r % 7 == 0) s.kh = 1; /* 1-D along the width */
            s.dh = 1 + irand(3), s.dw = 1 + irand(3);
            s.ph = irand(4), s.pw = irand(4), s.eh = (int64_t)irand(5) - 1, s.ew = (int64_t)irand(5) - 1;
            s.ih = (s.kh - 1) * s.dh + 1 + irand(12), s.iw = (s.kw - 1) * s.dw + 1 + irand(70);
            if (r % 7 == 0) s.ih = 1, s.ph = 0, s.eh = 0;
            check(&s, acts[irand(6)], irand(3) != 0, irand(3) == 0, irand(2), r % 10 == 9 ? 1 + (int)irand(2) : 0);
        }
    }
    kiln_cpu_set_cap(-1);
}
END_TEST

/* A ResNet-like 3x3 pad 1 shape with more channels than a tile, at every level. */
START_TEST(igemm_resnet_like_every_isa) {
    int lv[3], nl = levels(lv);
    for (int l = 0; l < nl; l++) {
        kiln_cpu_set_cap(lv[l]);
        shape s = {37, 30, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1};
        check(&s, KILN_ACT_RELU, 1, 1, 1, 0);
        check(&s, KILN_ACT_NONE, 1, 0, 0, 0);
    }
    kiln_cpu_set_cap(-1);
}
END_TEST

int main(void) {
    Suite *s = suite_create("kernels-f32-conv-igemm");
    TCase *tc = tcase_create("igemm");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, igemm_random_shapes_every_isa);
    tcase_add_test(tc, igemm_resnet_like_every_isa);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
