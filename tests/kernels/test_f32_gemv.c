/* SPDX-License-Identifier: MIT */
/* The recurrent-step GEMV (kernels/f32-gemv) at every ISA level this CPU has against a double
 * reference: 1 to 4 rows, n around the 4-row passes, k around the 8- and 16-lane widths and their
 * tails, leading dimensions wider than the rows (outputs between rows left untouched), and NaN
 * propagation. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/config/cpu.h"
#include "kernels/f32-gemv/f32-gemv.h"

static unsigned rng = 7u;
static float frand(void) {
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static void check(kiln_f32_gemv_bt_fn fn, const char *isa, size_t m, size_t n, size_t k) {
    size_t lda = k + 3, ldb = k + 5, ldc = n + 2;
    float *a = malloc(sizeof(float) * m * lda), *b = malloc(sizeof(float) * n * ldb), *c = malloc(sizeof(float) * m * ldc);
    for (size_t i = 0; i < m * lda; i++) a[i] = frand();
    for (size_t i = 0; i < n * ldb; i++) b[i] = frand();
    for (size_t i = 0; i < m * ldc; i++) c[i] = 1234.0f;
    fn(m, n, k, a, lda, b, ldb, c, ldc);
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < n; j++) {
            double want = 0.0;
            for (size_t p = 0; p < k; p++) want += (double)a[i * lda + p] * b[j * ldb + p];
            double got = c[i * ldc + j];
            if (!(fabs(got - want) <= 1e-6 * (double)(k + 1)))
                ck_abort_msg("%s: m %zu n %zu k %zu: c[%zu][%zu] = %g, want %g", isa, m, n, k, i, j, got, want);
        }
        for (size_t j = n; j < ldc; j++) ck_assert_float_eq(c[i * ldc + j], 1234.0f);
    }
    free(a), free(b), free(c);
}

START_TEST(gemv_every_isa) {
    const kiln_cpu_info *cpu = kiln_cpu();
    static const int levels[] = {KILN_ISA_SCALAR, KILN_ISA_AVX2, KILN_ISA_AVX512};
    static const size_t ns[] = {1, 3, 4, 5, 8, 13, 512};
    static const size_t ks[] = {1, 2, 7, 8, 15, 16, 17, 31, 64, 128, 130};
    for (int l = 0; l < 3; l++) {
        if (levels[l] > (int)cpu->detected) continue;
        kiln_cpu_set_cap(levels[l]);
        kiln_f32_gemv_bt_fn fn = kiln_f32_gemv_bt_get();
        for (size_t m = 1; m <= 4; m++)
            for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++)
                for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++) check(fn, kiln_isa_name(levels[l]), m, ns[ni], ks[ki]);
    }
    kiln_cpu_set_cap(-1);
}
END_TEST

START_TEST(gemv_nan_propagates) {
    float a[2 * 20], b[5 * 20], c[2 * 5];
    for (int i = 0; i < 40; i++) a[i] = 1.0f;
    for (int i = 0; i < 100; i++) b[i] = 0.5f;
    b[3 * 20 + 18] = NAN; /* in the 16-lane tail of row 3 */
    kiln_f32_gemv_bt_get()(2, 5, 20, a, 20, b, 20, c, 5);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 5; j++) {
            if (j == 3) ck_assert(isnan(c[i * 5 + j]));
            else ck_assert_float_eq(c[i * 5 + j], 10.0f);
        }
}
END_TEST

int main(void) {
    Suite *s = suite_create("f32-gemv");
    TCase *tc = tcase_create("f32-gemv");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, gemv_every_isa);
    tcase_add_test(tc, gemv_nan_propagates);
    suite_add_tcase(s, tc);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_ENV);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
