/* SPDX-License-Identifier: MIT */
/* The conformance runner's rule for undefined elements (undefined.h): a float to fixed-point
 * Cast skips only out-of-range, NaN and ±Inf inputs, still fails on a wrong in-range element,
 * and fails when nothing is left to compare. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kiln.h"
#include "undefined.h"

static kiln_env *env;
static kiln_error err;

static void setup(void) { ck_assert_int_eq(kiln_env_create(&env, &err), KILN_OK); }
static void teardown(void) { kiln_env_destroy(env); }

static kiln_tensor *floats(const float *v, int64_t n) {
    kiln_tensor *t = NULL;
    ck_assert_int_eq(kiln_tensor_create(env, KILN_DTYPE_FLOAT, &n, 1, &t, &err), KILN_OK);
    memcpy(kiln_tensor_data(t), v, (size_t)n * sizeof(float));
    return t;
}

/* An int4 tensor from values in [-8, 7], packed two per byte, first in the low nibble. */
static kiln_tensor *int4s(const int *v, int64_t n) {
    kiln_tensor *t = NULL;
    ck_assert_int_eq(kiln_tensor_create(env, KILN_DTYPE_INT4, &n, 1, &t, &err), KILN_OK);
    uint8_t *b = kiln_tensor_data(t);
    memset(b, 0, kiln_tensor_byte_size(t));
    for (int64_t i = 0; i < n; i++) b[i / 2] |= (uint8_t)((v[i] & 15) << (4 * (i % 2)));
    return t;
}

static int check(const float *in, const int *want, const int *got, int64_t n, size_t *skipped, char *why) {
    kiln_tensor *a = floats(in, n), *w = int4s(want, n), *g = int4s(got, n);
    int same = undefined_cast_compare(a, w, g, skipped, why, 200);
    kiln_tensor_destroy(a);
    kiln_tensor_destroy(w);
    kiln_tensor_destroy(g);
    return same;
}

START_TEST(applies_to_float_to_fixed_casts_only) {
    ck_assert(undefined_cast_applies("Cast", KILN_DTYPE_FLOAT, KILN_DTYPE_INT4));
    ck_assert(undefined_cast_applies("CastLike", KILN_DTYPE_FLOAT16, KILN_DTYPE_UINT2));
    ck_assert(undefined_cast_applies("Cast", KILN_DTYPE_DOUBLE, KILN_DTYPE_INT64));
    ck_assert(!undefined_cast_applies("Cast", KILN_DTYPE_INT8, KILN_DTYPE_INT4));     /* integer source */
    ck_assert(!undefined_cast_applies("Cast", KILN_DTYPE_FLOAT, KILN_DTYPE_FLOAT16)); /* float target */
    ck_assert(!undefined_cast_applies("Cast", KILN_DTYPE_FLOAT, KILN_DTYPE_BOOL));    /* defined: x != 0 */
    ck_assert(!undefined_cast_applies("Relu", KILN_DTYPE_FLOAT, KILN_DTYPE_INT4));
}
END_TEST

START_TEST(out_of_range_elements_are_not_compared) {
    /* -9 and 8 lie outside int4: one library wraps them (7, -8), another gives 0. */
    const float in[] = {-9.f, -8.f, -1.5f, 0.f, 7.9f, 8.f, NAN, INFINITY};
    const int wrapped[] = {7, -8, -1, 0, 7, -8, 0, 0};
    const int zeroed[] = {0, -8, -1, 0, 7, 0, 5, -3};
    size_t skipped = 0;
    char why[200];
    ck_assert_msg(check(in, wrapped, zeroed, 8, &skipped, why), "%s", why);
    ck_assert_uint_eq(skipped, 4);
}
END_TEST

START_TEST(wrong_defined_element_fails) {
    const float in[] = {-9.f, -8.f, -1.5f, 0.f, 7.9f};
    const int want[] = {7, -8, -1, 0, 7};
    const int got[] = {7, -8, -2, 0, 7}; /* -1.5 truncates to -1, not -2 */
    size_t skipped = 0;
    char why[200];
    ck_assert(!check(in, want, got, 5, &skipped, why));
    ck_assert_ptr_nonnull(strstr(why, "element 2"));
}
END_TEST

START_TEST(nothing_defined_fails) {
    const float in[] = {100.f, -100.f, NAN};
    const int want[] = {4, -4, 0};
    size_t skipped = 0;
    char why[200];
    ck_assert(!check(in, want, want, 3, &skipped, why));
    ck_assert_ptr_nonnull(strstr(why, "nothing defined"));
}
END_TEST

int main(void) {
    Suite *s = suite_create("conformance-undefined");
    TCase *tc = tcase_create("cast");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, applies_to_float_to_fixed_casts_only);
    tcase_add_test(tc, out_of_range_elements_are_not_compared);
    tcase_add_test(tc, wrong_defined_element_fails);
    tcase_add_test(tc, nothing_defined_fails);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
