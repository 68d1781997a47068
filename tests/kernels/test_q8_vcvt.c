/* SPDX-License-Identifier: MIT */
/* kernels/q8-vcvt: every float32 <-> 8-bit conversion variant this machine runs gives the
 * scalar variant's bytes, on ties (x.5), both clamps, NaN, infinities, signed zeros,
 * denormals, huge values and a tail shorter than a vector (min/max too, NaN skipped); and the scalar one is right on a few
 * hand-checked values. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/config/qgemm-config.h"
#include "kernels/q8-vcvt/q8-vcvt.h"

START_TEST(scalar_hand_checked) {
    float x[6] = {0.5f, 1.5f, 2.5f, -0.5f, NAN, 1e30f};
    uint8_t y[6];
    kiln_f32_q8_vcvt__scalar(6, x, 1.0f, 10, 0, y);
    ck_assert_int_eq(y[0], 10);
    ck_assert_int_eq(y[1], 12);
    ck_assert_int_eq(y[2], 12);
    ck_assert_int_eq(y[3], 10);
    ck_assert_int_eq(y[4], 0);
    ck_assert_int_eq(y[5], 255);
    int8_t s[2];
    float xs[2] = {-1e30f, 3.0f};
    kiln_f32_q8_vcvt__scalar(2, xs, 0.5f, -100, 1, s);
    ck_assert_int_eq(s[0], -128);
    ck_assert_int_eq(s[1], -94);
    float f[2];
    uint8_t b[2] = {0, 255};
    kiln_q8_f32_vcvt__scalar(2, b, 0, 0.5f, 128.0f, f);
    ck_assert(f[0] == -64.0f && f[1] == 63.5f);
}
END_TEST

START_TEST(variants_match_scalar) {
    kiln_isa levels[3] = {KILN_ISA_SCALAR, KILN_ISA_AVX2, KILN_ISA_AVX512};
    size_t n = 1000;
    float *x = malloc(n * sizeof(float)), *fa = malloc(n * sizeof(float)), *fb = malloc(n * sizeof(float));
    uint8_t *a = malloc(n), *b = malloc(n), *q = malloc(n);
    uint32_t r = 99;
    for (size_t i = 0; i < n; i++) {
        r = r * 1664525u + 1013904223u;
        x[i] = ((float)(int32_t)(r >> 8) / 65536.0f - 128.0f) * 0.37f;
        q[i] = (uint8_t)(r >> 24);
    }
    float special[] = {NAN, -NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1e-45f, -1e-45f, 1e38f, -1e38f, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 127.5f, 128.5f};
    memcpy(x, special, sizeof special);
    for (size_t i = 0; i < 40; i++) x[100 + i] = (float)i * 0.5f - 10.0f; /* ties at scale 1 */
    for (int l = 0; l < 3; l++) {
        kiln_cpu_set_cap((int)levels[l]);
        const kiln_q8_vcvt_config *vc = kiln_q8_vcvt_config_get();
        ck_assert_int_le(vc->isa, levels[l]);
        for (int s8 = 0; s8 < 2; s8++)
            for (int zi = 0; zi < 3; zi++) {
                int32_t zp = s8 ? (zi == 0 ? -128 : zi == 1 ? 127 : 3) : (zi == 0 ? 0 : zi == 1 ? 255 : 131);
                float scale = zi == 2 ? 1.0f : 0.0173f;
                for (size_t len = 0; len < 40; len += 13) {
                    memset(a, 0xa5, n), memset(b, 0xa5, n);
                    kiln_f32_q8_vcvt__scalar(n - len, x + len, scale, zp, s8, a);
                    vc->quantize(n - len, x + len, scale, zp, s8, b);
                    ck_assert_msg(!memcmp(a, b, n), "%s quantize s8=%d zp=%d", vc->name, s8, zp);
                    kiln_q8_f32_vcvt__scalar(n - len, q + len, s8, scale, (float)zp, fa);
                    vc->dequantize(n - len, q + len, s8, scale, (float)zp, fb);
                    ck_assert_msg(!memcmp(fa, fb, (n - len) * sizeof(float)), "%s dequantize s8=%d zp=%d", vc->name, s8, zp);
                    float mn0 = 0.0f, mx0 = 0.0f, mn1 = 0.0f, mx1 = 0.0f;
                    kiln_f32_minmax__scalar(n - len, x + len, &mn0, &mx0);
                    vc->minmax(n - len, x + len, &mn1, &mx1);
                    ck_assert_msg(!memcmp(&mn0, &mn1, 4) && !memcmp(&mx0, &mx1, 4), "%s minmax", vc->name);
                }
            }
    }
    kiln_cpu_set_cap(-1);
    free(x), free(fa), free(fb), free(a), free(b), free(q);
}
END_TEST

int main(void) {
    Suite *s = suite_create("q8-vcvt");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, scalar_hand_checked);
    tcase_add_test(tc, variants_match_scalar);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
