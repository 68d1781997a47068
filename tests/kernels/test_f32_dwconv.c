/* SPDX-License-Identifier: MIT */
/* The depthwise kernels (kernels/f32-dwconv) at every ISA level this CPU has against a naive
 * reference: kernel sizes 1..7, strides 1..3, dilations 1..2, pads 0..3, planes from 1x1 to
 * wider than two 16-wide chunks, each fused activation, and NaN propagation. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/common/activation.h"
#include "kernels/config/cpu.h"
#include "kernels/f32-dwconv/f32-dwconv.h"

static unsigned rng = 99u;
static float frand(void) {
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static void check(kiln_f32_dwconv_fn fn, const char *isa, int64_t ih, int64_t iw, int64_t kh, int64_t kw, int64_t s,
                  int64_t d, int64_t pad, int32_t act) {
    kiln_f32_dwconv_params p = {ih, iw, 0, 0, kh, kw, s, s, d, d, pad, pad, act, -0.25f, 0.5f};
    p.oh = (ih + 2 * pad - (kh - 1) * d - 1) / s + 1;
    p.ow = (iw + 2 * pad - (kw - 1) * d - 1) / s + 1;
    if (p.oh <= 0 || p.ow <= 0) return;
    float *x = malloc(sizeof(float) * (size_t)(ih * iw)), *k = malloc(sizeof(float) * (size_t)(kh * kw));
    float *y = malloc(sizeof(float) * (size_t)(p.oh * p.ow));
    float *zeros = malloc(sizeof(float) * kiln_f32_dwconv_work_size(&p));
    for (int64_t i = 0; i < ih * iw; i++) x[i] = frand();
    for (int64_t i = 0; i < kh * kw; i++) k[i] = frand();
    float bias = frand();
    fn(&p, x, k, bias, zeros, y);
    for (int64_t oh = 0; oh < p.oh; oh++)
        for (int64_t ow = 0; ow < p.ow; ow++) {
            double acc = bias;
            for (int64_t a = 0; a < kh; a++)
                for (int64_t b = 0; b < kw; b++) {
                    int64_t r = oh * s - pad + a * d, c = ow * s - pad + b * d;
                    if (r >= 0 && r < ih && c >= 0 && c < iw) acc += (double)k[a * kw + b] * x[r * iw + c];
                }
            if (act == KILN_ACT_RELU) acc = acc < 0 ? 0 : acc;
            if (act == KILN_ACT_CLIP) acc = acc < -0.25 ? -0.25 : acc > 0.5 ? 0.5 : acc;
            if (act == KILN_ACT_LEAKYRELU) acc = acc < 0 ? acc * -0.25 : acc;
            double got = y[oh * p.ow + ow];
            if (!(fabs(got - acc) <= 1e-5 * (double)(kh * kw + 1)))
                ck_abort_msg("%s: %lldx%lld k%lldx%lld s%lld d%lld p%lld act %d: y[%lld][%lld] = %g, want %g", isa,
                             (long long)ih, (long long)iw, (long long)kh, (long long)kw, (long long)s, (long long)d,
                             (long long)pad, act, (long long)oh, (long long)ow, got, acc);
        }
    free(x), free(k), free(y), free(zeros);
}

START_TEST(dwconv_every_isa) {
    const kiln_cpu_info *cpu = kiln_cpu();
    static const int levels[] = {KILN_ISA_SCALAR, KILN_ISA_AVX2, KILN_ISA_AVX512};
    static const int64_t widths[] = {1, 3, 7, 16, 17, 33, 56};
    static const int32_t acts[] = {KILN_ACT_NONE, KILN_ACT_RELU, KILN_ACT_CLIP, KILN_ACT_LEAKYRELU};
    for (int l = 0; l < 3; l++) {
        if (levels[l] > (int)cpu->detected) continue;
        kiln_cpu_set_cap(levels[l]);
        kiln_f32_dwconv_fn fn = kiln_f32_dwconv_get();
        for (int64_t kk = 1; kk <= 7; kk += 2)
            for (int64_t s = 1; s <= 3; s++)
                for (int64_t d = 1; d <= 2; d++)
                    for (int64_t pad = 0; pad <= 3; pad++)
                        for (size_t wi = 0; wi < sizeof widths / sizeof *widths; wi++)
                            check(fn, kiln_isa_name(levels[l]), widths[(wi + 2) % 7] + 2, widths[wi], kk, kk == 7 ? 5 : kk,
                                  s, d, pad, acts[(kk + s + d + pad + (int64_t)wi) % 4]);
    }
    kiln_cpu_set_cap(-1);
}
END_TEST

START_TEST(dwconv_nan_propagates) {
    kiln_f32_dwconv_params p = {4, 40, 4, 40, 3, 3, 1, 1, 1, 1, 1, 1, KILN_ACT_NONE, 0, 0};
    float x[160], k[9], y[160], zeros[4096];
    ck_assert_uint_le(kiln_f32_dwconv_work_size(&p), 4096);
    for (int i = 0; i < 160; i++) x[i] = 1.0f;
    for (int i = 0; i < 9; i++) k[i] = 0.0f;
    x[1 * 40 + 20] = NAN;
    kiln_f32_dwconv_get()(&p, x, k, 0.0f, zeros, y);
    ck_assert(isnan(y[0 * 40 + 20]) && isnan(y[1 * 40 + 21]) && isnan(y[2 * 40 + 19]));
    ck_assert_float_eq(y[3 * 40 + 20], 0.0f);
}
END_TEST

int main(void) {
    Suite *s = suite_create("f32-dwconv");
    TCase *tc = tcase_create("f32-dwconv");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, dwconv_every_isa);
    tcase_add_test(tc, dwconv_nan_propagates);
    suite_add_tcase(s, tc);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_ENV);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
