/* SPDX-License-Identifier: MIT */
/* The memory planner and planned runs: placement never overlaps and reaches the lower bound on a
 * residual pattern; planned runs equal the first; a plan per signature in a bounded cache;
 * outputs into caller tensors; parallel mode. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "models.h"
#include "runtime/planner.h"
#include "runtime/session_impl.h"

static kiln_env *env;
static kiln_error err;

static void setup(void) { ck_assert_int_eq(kiln_env_create(&env, &err), KILN_OK); }
static void teardown(void) { kiln_env_destroy(env); }

static kiln_session *session_of(mb *b, int32_t threads) {
    size_t size;
    const uint8_t *bytes = mb_pack(b, &size);
    kiln_session_options *o;
    ck_assert_int_eq(kiln_session_options_create(&o, &err), KILN_OK);
    ck_assert_int_eq(kiln_session_options_set_intra_op_threads(o, threads, &err), KILN_OK);
    /* The plans checked here are of the model as written (the optimizer would fuse its Relu). */
    ck_assert_int_eq(kiln_session_options_set_optimization_level(o, KILN_OPT_DISABLED, &err), KILN_OK);
    kiln_session *s;
    ck_assert_msg(kiln_session_create_from_buffer(env, bytes, size, o, &s, &err) == KILN_OK, "%s", err.msg);
    kiln_session_options_destroy(o);
    return s;
}

/* Runs the CNN on `batch` images of seeded data; y and z are copied out. */
static void run_cnn(kiln_session *s, int64_t batch, uint32_t seed, float *y, float *z) {
    size_t nx = (size_t)batch * RT_CNN_X;
    float *xv = malloc(nx * sizeof(float));
    rt_fill(xv, nx, seed);
    kiln_tensor *x;
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){batch, 4, 8, 8}, 4, xv, nx * sizeof(float),
                                      &x, &err), KILN_OK);
    kiln_tensor *out[2] = {NULL, NULL};
    ck_assert_msg(kiln_session_run(s, NULL, (const kiln_tensor *const *)&x, 1, NULL, out, 2, &err) == KILN_OK, "%s", err.msg);
    ck_assert_int_eq(kiln_tensor_element_count(out[0]), batch * RT_CNN_Y);
    ck_assert_int_eq(kiln_tensor_element_count(out[1]), batch * RT_CNN_Z);
    memcpy(y, kiln_tensor_data(out[0]), (size_t)batch * RT_CNN_Y * sizeof(float));
    memcpy(z, kiln_tensor_data(out[1]), (size_t)batch * RT_CNN_Z * sizeof(float));
    kiln_tensor_destroy(out[0]);
    kiln_tensor_destroy(out[1]);
    kiln_tensor_destroy(x);
    free(xv);
}

/* ---- placement ---- */

static int overlap(const kiln_block *a, const kiln_block *b) {
    int time = a->start <= b->end && b->start <= a->end;
    int space = a->offset < b->offset + b->size && b->offset < a->offset + a->size;
    return time && space;
}

START_TEST(place_never_overlaps) {
    srand(7);
    for (int trial = 0; trial < 200; trial++) {
        uint32_t n = 1 + (uint32_t)(rand() % 60);
        kiln_block bl[60];
        uint64_t sum = 0;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t a = (uint32_t)(rand() % 40), len = (uint32_t)(rand() % 10);
            bl[i] = (kiln_block){(uint64_t)(1 + rand() % 5000), a, a + len, 0};
            sum += (bl[i].size + 63) / 64 * 64;
        }
        uint64_t arena;
        ck_assert_int_eq(kiln_plan_place(&env->alloc, bl, n, KILN_PLAN_ALIGN, NULL, NULL, &arena, &err), KILN_OK);
        for (uint32_t i = 0; i < n; i++) {
            ck_assert_uint_eq(bl[i].offset % KILN_PLAN_ALIGN, 0);
            ck_assert_uint_le(bl[i].offset + bl[i].size, arena);
            for (uint32_t j = i + 1; j < n; j++) ck_assert_msg(!overlap(&bl[i], &bl[j]), "trial %d: %u and %u overlap", trial, i, j);
        }
        ck_assert_uint_ge(arena, kiln_plan_lower_bound(bl, n));
        ck_assert_uint_le(arena, sum);
    }
}
END_TEST

/* Residual blocks: each block's input lives through the block, a big scratch sits in the
 * middle, and the next block's input is born before this one's dies. Best fit from offset 0
 * alone needs 20% more than the lower bound here; the two-ended placement reaches it. */
START_TEST(place_residual_reaches_lower_bound) {
    kiln_block bl[64];
    uint32_t n = 0, t = 0;
    for (int blk = 0; blk < 6; blk++) {
        bl[n++] = (kiln_block){3200, t, t + 6, 0};      /* block input, dies at the add */
        bl[n++] = (kiln_block){800, t + 1, t + 2, 0};   /* conv1 out */
        bl[n++] = (kiln_block){7200, t + 2, t + 2, 0};  /* im2col scratch of conv2 */
        bl[n++] = (kiln_block){800, t + 2, t + 3, 0};   /* conv2 out */
        t += 5;                                         /* conv3 at t + 5 - 0, add at t + 6 */
    }
    bl[n++] = (kiln_block){3200, t, t + 2, 0};          /* the last output */
    uint64_t arena, lb = kiln_plan_lower_bound(bl, n);
    ck_assert_int_eq(kiln_plan_place(&env->alloc, bl, n, KILN_PLAN_ALIGN, NULL, NULL, &arena, &err), KILN_OK);
    ck_assert_uint_eq(arena, lb);
}
END_TEST

/* ---- planned runs ---- */

START_TEST(planned_runs_match_first) {
    mb *b = rt_cnn_model(2);
    kiln_session *s = session_of(b, 1);
    float y0[2 * RT_CNN_Y], z0[2 * RT_CNN_Z], y[2 * RT_CNN_Y], z[2 * RT_CNN_Z];
    ck_assert_uint_eq(kiln_session_memory(s, KILN_MEMORY_PLANS), 0);
    run_cnn(s, 2, 1, y0, z0);
    ck_assert_uint_eq(kiln_session_memory(s, KILN_MEMORY_PLANS), 1);
    for (int r = 0; r < 4; r++) {
        run_cnn(s, 2, 1, y, z);
        ck_assert_double_le(rt_max_diff(y, y0, 2 * RT_CNN_Y), 1e-6);
        ck_assert_double_le(rt_max_diff(z, z0, 2 * RT_CNN_Z), 1e-6);
    }
    /* Relu, Add and Sigmoid reuse their input; Flatten and Reshape are aliases. */
    const kiln_plan *p = s->plans[0];
    ck_assert_uint_eq(p->n_inplace, 3);
    ck_assert_uint_eq(p->n_alias, 2);
    uint64_t arena = kiln_session_memory(s, KILN_MEMORY_ARENA_BYTES), lb = kiln_session_memory(s, KILN_MEMORY_LOWER_BOUND_BYTES);
    ck_assert_uint_gt(lb, 0);
    ck_assert_uint_ge(arena, lb);
    ck_assert_uint_le(arena, lb + lb / 10);
    ck_assert_uint_lt(arena, kiln_session_memory(s, KILN_MEMORY_NAIVE_BYTES));
    /* Weights: the convs' and the Gemm's weights (w1, w2, wg and the Gemm's bias bg) are packed
     * by their kernels and the model's copies freed; b1, "half" and "shape" stay. */
    ck_assert_uint_eq(s->released_bytes, (8 * 4 * 9 + 8 * 8 * 9 + 512 * 10 + 10) * 4);
    ck_assert_uint_gt(s->packed_bytes, (8 * 4 * 9 + 8 * 8 * 9 + 512 * 10 + 10) * 4 - 1);
    ck_assert_uint_eq(kiln_session_memory(s, KILN_MEMORY_WEIGHTS_BYTES), (8 + 1) * 4 + 3 * 8 + s->packed_bytes);
    /* Every node but the aliases skips shape inference in planned runs. */
    for (uint32_t i = 0; i < p->n_nodes; i++) ck_assert_int_eq(p->node_det[i], 1);
    kiln_session_destroy(s);
    mb_free(b);
}
END_TEST

START_TEST(plan_per_signature_and_bounded_cache) {
    mb *b = rt_cnn_model(0);
    kiln_session *s = session_of(b, 1);
    float y1[RT_CNN_Y], z1[RT_CNN_Z];
    float *y = malloc(12 * RT_CNN_Y * sizeof(float)), *z = malloc(12 * RT_CNN_Z * sizeof(float));
    run_cnn(s, 1, 42, y1, z1);
    for (int64_t n = 1; n <= 12; n++) {
        run_cnn(s, n, 42, y, z);
        /* Image 0 of every batch is the same data. */
        ck_assert_double_le(rt_max_diff(y, y1, RT_CNN_Y), 1e-5);
        ck_assert_double_le(rt_max_diff(z, z1, RT_CNN_Z), 1e-5);
        ck_assert_uint_eq(kiln_session_memory(s, KILN_MEMORY_PLANS), n < KILN_PLAN_CACHE ? n : KILN_PLAN_CACHE);
    }
    /* Batch 1 was evicted; it is planned again and still right. */
    for (int r = 0; r < 2; r++) {
        run_cnn(s, 1, 42, y, z);
        ck_assert_double_le(rt_max_diff(y, y1, RT_CNN_Y), 1e-6);
    }
    ck_assert_uint_eq(kiln_session_memory(s, KILN_MEMORY_PLANS), KILN_PLAN_CACHE);
    free(y);
    free(z);
    kiln_session_destroy(s);
    mb_free(b);
}
END_TEST

START_TEST(outputs_into_caller_tensors) {
    mb *b = rt_cnn_model(2);
    kiln_session *s = session_of(b, 1);
    float y0[2 * RT_CNN_Y], z0[2 * RT_CNN_Z];
    run_cnn(s, 2, 3, y0, z0);
    float xv[2 * RT_CNN_X], yv[2 * RT_CNN_Y], zv[2 * RT_CNN_Z];
    rt_fill(xv, 2 * RT_CNN_X, 3);
    kiln_tensor *x, *yt, *zt;
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){2, 4, 8, 8}, 4, xv, sizeof(xv), &x, &err), KILN_OK);
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){2, 10}, 2, yv, sizeof(yv), &yt, &err), KILN_OK);
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){2, 8, 64}, 3, zv, sizeof(zv), &zt, &err), KILN_OK);
    for (int r = 0; r < 3; r++) {
        memset(yv, 0, sizeof(yv));
        memset(zv, 0, sizeof(zv));
        kiln_tensor *out[2] = {yt, zt};
        ck_assert_int_eq(kiln_session_run(s, NULL, (const kiln_tensor *const *)&x, 1, NULL, out, 2, &err), KILN_OK);
        ck_assert_ptr_eq(out[0], yt);
        ck_assert_double_le(rt_max_diff(yv, y0, 2 * RT_CNN_Y), 1e-6);
        ck_assert_double_le(rt_max_diff(zv, z0, 2 * RT_CNN_Z), 1e-6);
    }
    /* A wrong shape is refused and the next run is fine. */
    kiln_tensor *wrong;
    ck_assert_int_eq(kiln_tensor_create(env, KILN_DTYPE_FLOAT, (const int64_t[]){2, 11}, 2, &wrong, &err), KILN_OK);
    kiln_tensor *out[2] = {wrong, NULL};
    ck_assert_int_eq(kiln_session_run(s, NULL, (const kiln_tensor *const *)&x, 1, NULL, out, 2, &err), KILN_ERR_SHAPE);
    ck_assert_ptr_null(out[1]);
    ck_assert_ptr_nonnull(strstr(err.msg, "output 'y'"));
    kiln_tensor_destroy(wrong);
    out[0] = yt;
    out[1] = zt;
    ck_assert_int_eq(kiln_session_run(s, NULL, (const kiln_tensor *const *)&x, 1, NULL, out, 2, &err), KILN_OK);
    ck_assert_double_le(rt_max_diff(zv, z0, 2 * RT_CNN_Z), 1e-6);
    kiln_tensor_destroy(x);
    kiln_tensor_destroy(yt);
    kiln_tensor_destroy(zt);
    kiln_session_destroy(s);
    mb_free(b);
}
END_TEST

/* A caller may pass one tensor as input and output: the output is then not computed in place
 * (the input would be overwritten while nodes still read it). */
START_TEST(input_used_as_output) {
    mb *b = mb_new(8, 13);
    KilnOnnx__GraphProto *g = mb_graph(b);
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 1, (const int64_t[]){4});
    mb_node(b, g, "Relu", "r", (const char *[]){"x", NULL}, (const char *[]){"h", NULL});
    mb_node(b, g, "Add", "a", (const char *[]){"h", "x", NULL}, (const char *[]){"y", NULL});
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, 1, (const int64_t[]){4});
    kiln_session *s = session_of(b, 1);
    for (int r = 0; r < 3; r++) {
        float v[4] = {-1, 2, -3, 4};
        kiln_tensor *t;
        ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){4}, 1, v, sizeof(v), &t, &err), KILN_OK);
        kiln_tensor *out[1] = {t};
        ck_assert_int_eq(kiln_session_run(s, NULL, (const kiln_tensor *const *)&t, 1, NULL, out, 1, &err), KILN_OK);
        ck_assert_float_eq(v[0], -1.0f);
        ck_assert_float_eq(v[1], 4.0f);
        ck_assert_float_eq(v[2], -3.0f);
        ck_assert_float_eq(v[3], 8.0f);
        kiln_tensor_destroy(t);
    }
    kiln_session_destroy(s);
    mb_free(b);
}
END_TEST

START_TEST(parallel_mode_matches) {
    mb *b = rt_cnn_model(0);
    kiln_session *seq = session_of(b, 1);
    size_t size;
    const uint8_t *bytes = mb_pack(b, &size);
    kiln_session_options *o;
    ck_assert_int_eq(kiln_session_options_create(&o, &err), KILN_OK);
    ck_assert_int_eq(kiln_session_options_set_inter_op_threads(o, 3, &err), KILN_OK);
    ck_assert_int_eq(kiln_session_options_set_intra_op_threads(o, 2, &err), KILN_OK);
    kiln_session *par;
    ck_assert_int_eq(kiln_session_create_from_buffer(env, bytes, size, o, &par, &err), KILN_OK);
    kiln_session_options_destroy(o);
    ck_assert_uint_eq(kiln_session_inter_op_threads(par), 3);
    float y0[3 * RT_CNN_Y], z0[3 * RT_CNN_Z], y[3 * RT_CNN_Y], z[3 * RT_CNN_Z];
    for (int r = 0; r < 6; r++) {
        int64_t n = 1 + r % 3;
        run_cnn(seq, n, (uint32_t)r, y0, z0);
        run_cnn(par, n, (uint32_t)r, y, z);
        ck_assert_double_le(rt_max_diff(y, y0, (size_t)n * RT_CNN_Y), 1e-5);
        ck_assert_double_le(rt_max_diff(z, z0, (size_t)n * RT_CNN_Z), 1e-5);
    }
    kiln_session_destroy(seq);
    kiln_session_destroy(par);
    mb_free(b);
}
END_TEST

int main(void) {
    Suite *su = suite_create("planner");
    TCase *tc = tcase_create("planner");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, place_never_overlaps);
    tcase_add_test(tc, place_residual_reaches_lower_bound);
    tcase_add_test(tc, planned_runs_match_first);
    tcase_add_test(tc, plan_per_signature_and_bounded_cache);
    tcase_add_test(tc, outputs_into_caller_tensors);
    tcase_add_test(tc, input_used_as_output);
    tcase_add_test(tc, parallel_mode_matches);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
