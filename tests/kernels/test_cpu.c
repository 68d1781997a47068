/* SPDX-License-Identifier: MIT */
/* kernels/config/cpu: level names, the cap ladder, and that a cap clears the features above it. */
#include <check.h>
#include <stdlib.h>

#include "kernels/config/cpu.h"

START_TEST(names_round_trip) {
    for (int i = 0; i < KILN_ISA_COUNT; i++) ck_assert_int_eq(kiln_isa_parse(kiln_isa_name((kiln_isa)i)), i);
    ck_assert_int_eq(kiln_isa_parse("sse9"), -1);
    ck_assert_int_eq(kiln_isa_parse(NULL), -1);
    ck_assert_str_eq(kiln_isa_name(KILN_ISA_COUNT), "unknown");
}
END_TEST

START_TEST(cap_clears_features_above_it) {
    const kiln_cpu_info *c = kiln_cpu();
    kiln_isa detected = c->detected;
    for (int cap = 0; cap < KILN_ISA_COUNT; cap++) {
        kiln_cpu_set_cap(cap);
        ck_assert_int_le(c->level, cap);
        ck_assert_int_le(c->level, detected);
        ck_assert_int_eq(c->level, cap < (int)detected ? cap : (int)detected);
        if (cap < KILN_ISA_AVX2) ck_assert(!c->avx2 && !c->fma);
        if (cap < KILN_ISA_AVX512) ck_assert(!c->avx512f && !c->avx512bw);
        if (cap < KILN_ISA_AVX512VNNI) ck_assert(!c->avx512vnni);
        if (cap < KILN_ISA_AMX) ck_assert(!c->amx_tile && !c->amx_int8);
    }
    kiln_cpu_set_cap(-1);
    ck_assert_int_eq(c->level, detected);
}
END_TEST

START_TEST(level_implies_its_features) {
    kiln_cpu_set_cap(-1);
    const kiln_cpu_info *c = kiln_cpu();
    if (c->level >= KILN_ISA_AVX2) ck_assert(c->avx2 && c->fma && c->f16c);
    if (c->level == KILN_ISA_AVXVNNI) ck_assert(c->avxvnni);
    if (c->level >= KILN_ISA_AVX512) ck_assert(c->avx512f && c->avx512bw && c->avx512dq && c->avx512vl);
    if (c->level >= KILN_ISA_AVX512VNNI) ck_assert(c->avx512vnni);
    if (c->level >= KILN_ISA_AMX) ck_assert(c->amx_tile && c->amx_int8 && c->amx_bf16);
    ck_assert(c->vendor[0] != 0);
#if defined(__x86_64__)
    /* every x86-64 CPU these tests run on (CI and developers) has AVX2 */
    ck_assert_int_ge(c->detected, KILN_ISA_AVX2);
#endif
}
END_TEST

int main(void) {
    Suite *s = suite_create("cpu");
    TCase *tc = tcase_create("cpu");
    tcase_add_test(tc, names_round_trip);
    tcase_add_test(tc, cap_clears_features_above_it);
    tcase_add_test(tc, level_implies_its_features);
    suite_add_tcase(s, tc);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_ENV);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
