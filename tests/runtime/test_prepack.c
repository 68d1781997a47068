/* SPDX-License-Identifier: MIT */
/* Weight pre-packing through the ABI for the built-in CPU provider (docs/memory.md, "Weights"):
 * Conv, Gemm and MatMul pack their constant weights at session creation and the model's copy
 * is freed when nothing else reads it, so the weight figure counts each byte once; a weight
 * that is also read by another node or is a graph output is kept and still read right; results
 * equal those of the same model with its weights fed as inputs (never packed, never freed). */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models.h"
#include "runtime/session_impl.h"

static kiln_env *env;
static kiln_error err;

static void setup(void) { ck_assert_int_eq(kiln_env_create(&env, &err), KILN_OK); }
static void teardown(void) { kiln_env_destroy(env); }

static kiln_session *session_of(mb *b, int32_t threads, int32_t level) {
    size_t size;
    const uint8_t *bytes = mb_pack(b, &size);
    kiln_session_options *o;
    ck_assert_int_eq(kiln_session_options_create(&o, &err), KILN_OK);
    ck_assert_int_eq(kiln_session_options_set_intra_op_threads(o, threads, &err), KILN_OK);
    ck_assert_int_eq(kiln_session_options_set_optimization_level(o, level, &err), KILN_OK);
    kiln_session *s;
    ck_assert_msg(kiln_session_create_from_buffer(env, bytes, size, o, &s, &err) == KILN_OK, "%s", err.msg);
    kiln_session_options_destroy(o);
    return s;
}

static void fill(float *w, size_t n, float scale, uint32_t seed) {
    rt_fill(w, n, seed);
    for (size_t i = 0; i < n; i++) w[i] *= scale;
}

/* ---- a residual conv block: the weight figure counts packed weights once ---- */

/* Channel and column counts are multiples of every config's MR (14, 6, 4) and NR (32, 16, 8),
 * so the packed layouts have no padding to tell apart from a weight held twice. */
#define CB_C 16
#define CB_M 84
#define CB_N 96
#define CB_HW 14

typedef struct cb_weights {
    float w1[CB_M * CB_C * 9], b1[CB_M], w2[CB_M * CB_M], b2[CB_M], wg[CB_M * CB_N], bg[CB_N];
} cb_weights;

/* x [1,16,14,14] -> Conv 3x3 (84, pads 1) -> Relu -> Conv 1x1 (84) -> Add(., relu) -> Relu
 *   -> GlobalAveragePool -> Flatten -> Gemm [1,96] = "y". With `fed`, the six weights are graph
 * inputs instead of initializers. */
static mb *conv_block(const cb_weights *w, int fed) {
    mb *b = mb_new(8, 13);
    KilnOnnx__GraphProto *g = mb_graph(b);
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 4, (const int64_t[]){1, CB_C, CB_HW, CB_HW});
    struct {
        const char *name;
        int32_t rank;
        int64_t dims[4];
        const float *data;
        size_t bytes;
    } t[6] = {{"w1", 4, {CB_M, CB_C, 3, 3}, w->w1, sizeof(w->w1)}, {"b1", 1, {CB_M}, w->b1, sizeof(w->b1)},
              {"w2", 4, {CB_M, CB_M, 1, 1}, w->w2, sizeof(w->w2)}, {"b2", 1, {CB_M}, w->b2, sizeof(w->b2)},
              {"wg", 2, {CB_M, CB_N}, w->wg, sizeof(w->wg)},       {"bg", 1, {CB_N}, w->bg, sizeof(w->bg)}};
    for (int i = 0; i < 6; i++) {
        if (fed) mb_input(b, g, t[i].name, KILN_DTYPE_FLOAT, t[i].rank, t[i].dims);
        else mb_initializer(b, g, mb_tensor_raw(b, t[i].name, KILN_DTYPE_FLOAT, t[i].rank, t[i].dims, t[i].data, t[i].bytes));
    }
    KilnOnnx__NodeProto *n = mb_node(b, g, "Conv", "conv1", (const char *[]){"x", "w1", "b1", NULL}, (const char *[]){"c1", NULL});
    mb_attr_ints(b, n, "pads", (const int64_t[]){1, 1, 1, 1}, 4);
    mb_node(b, g, "Relu", "relu1", (const char *[]){"c1", NULL}, (const char *[]){"r1", NULL});
    mb_node(b, g, "Conv", "conv2", (const char *[]){"r1", "w2", "b2", NULL}, (const char *[]){"c2", NULL});
    mb_node(b, g, "Add", "add", (const char *[]){"c2", "r1", NULL}, (const char *[]){"a1", NULL});
    mb_node(b, g, "Relu", "relu2", (const char *[]){"a1", NULL}, (const char *[]){"r2", NULL});
    mb_node(b, g, "GlobalAveragePool", "gap", (const char *[]){"r2", NULL}, (const char *[]){"p", NULL});
    mb_node(b, g, "Flatten", "flatten", (const char *[]){"p", NULL}, (const char *[]){"f", NULL});
    mb_node(b, g, "Gemm", "fc", (const char *[]){"f", "wg", "bg", NULL}, (const char *[]){"y", NULL});
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, -1, NULL);
    return b;
}

/* Runs s on the inputs (names and float data with their shapes) and copies output 0 into y. */
static void run(kiln_session *s, uint32_t n_in, const char *const *names, const float *const *data, const int64_t (*dims)[4],
                const int32_t *ranks, float *y, size_t ny) {
    kiln_tensor *in[8];
    for (uint32_t i = 0; i < n_in; i++) {
        int64_t count = 1;
        for (int32_t d = 0; d < ranks[i]; d++) count *= dims[i][d];
        ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, dims[i], ranks[i], (void *)data[i],
                                          (size_t)count * sizeof(float), &in[i], &err),
                         KILN_OK);
    }
    kiln_tensor *out = NULL;
    ck_assert_msg(kiln_session_run(s, names, (const kiln_tensor *const *)in, n_in, NULL, &out, 1, &err) == KILN_OK, "%s",
                  err.msg);
    ck_assert_uint_eq((uint64_t)kiln_tensor_element_count(out), ny);
    memcpy(y, kiln_tensor_data(out), ny * sizeof(float));
    kiln_tensor_destroy(out);
    for (uint32_t i = 0; i < n_in; i++) kiln_tensor_destroy(in[i]);
}

START_TEST(conv_block_weights_counted_once) {
    cb_weights *w = malloc(sizeof(*w));
    fill(w->w1, CB_M * CB_C * 9, 0.1f, 1);
    fill(w->b1, CB_M, 0.1f, 2);
    fill(w->w2, CB_M * CB_M, 0.1f, 3);
    fill(w->b2, CB_M, 0.1f, 4);
    fill(w->wg, CB_M * CB_N, 0.1f, 5);
    fill(w->bg, CB_N, 0.1f, 6);
    static float x[CB_C * CB_HW * CB_HW];
    fill(x, CB_C * CB_HW * CB_HW, 1.0f, 7);
    mb *packed = conv_block(w, 0), *fed = conv_block(w, 1);
    int threads = _i % 2 + 1, level = _i / 2 ? KILN_OPT_ALL : KILN_OPT_DISABLED;
    kiln_session *s = session_of(packed, threads, level), *r = session_of(fed, threads, KILN_OPT_DISABLED);
    uint64_t init = sizeof(*w), weights = kiln_session_memory(s, KILN_MEMORY_WEIGHTS_BYTES);
    /* Every weight of the block is packed (the Convs' biases stay: the epilogue reads them). */
    ck_assert_uint_gt(s->packed_bytes, 0);
    ck_assert_uint_ge(s->released_bytes, sizeof(w->w1) + sizeof(w->w2) + sizeof(w->wg));
    ck_assert_uint_ge(weights, init - 2 * CB_M * sizeof(float) - sizeof(w->bg));
    ck_assert_msg(weights * 100 <= init * 105, "weights %llu bytes for %llu bytes of initializers", (unsigned long long)weights,
                  (unsigned long long)init);
    /* The fed model packs nothing at creation and frees nothing. */
    ck_assert_uint_eq(r->packed_bytes, 0);
    ck_assert_uint_eq(r->released_bytes, 0);
    float y[CB_N], yr[CB_N];
    for (int rep = 0; rep < 3; rep++) { /* the first run records, later ones are planned */
        run(s, 1, (const char *const[]){"x"}, (const float *const[]){x}, (const int64_t[][4]){{1, CB_C, CB_HW, CB_HW}},
            (const int32_t[]){4}, y, CB_N);
        run(r, 7, (const char *const[]){"x", "w1", "b1", "w2", "b2", "wg", "bg"},
            (const float *const[]){x, w->w1, w->b1, w->w2, w->b2, w->wg, w->bg},
            (const int64_t[][4]){{1, CB_C, CB_HW, CB_HW}, {CB_M, CB_C, 3, 3}, {CB_M}, {CB_M, CB_M, 1, 1}, {CB_M}, {CB_M, CB_N}, {CB_N}},
            (const int32_t[]){4, 4, 1, 4, 1, 2, 1}, yr, CB_N);
        ck_assert_double_le(rt_max_diff(y, yr, CB_N), 1e-5);
    }
    kiln_session_destroy(s);
    kiln_session_destroy(r);
    mb_free(packed);
    mb_free(fed);
    free(w);
}
END_TEST

/* ---- shared weights and weights that are outputs ---- */

#define SH_K 24
#define SH_N 40

/* a [2,24]: y1 = a·W (MatMul), y2 = Gemm(a, W), y3 = W * 2 when `mul`, and W itself an output when
 * `out`. Also V [24,40] read by two Gemms (both pack it): y4 = Gemm(a, V) + Gemm(a, V). */
static mb *shared_model(const float *wv, const float *vv, int mul, int out) {
    mb *b = mb_new(8, 13);
    KilnOnnx__GraphProto *g = mb_graph(b);
    mb_input(b, g, "a", KILN_DTYPE_FLOAT, 2, (const int64_t[]){2, SH_K});
    const int64_t dims[2] = {SH_K, SH_N};
    const float two = 2.0f;
    mb_initializer(b, g, mb_tensor_raw(b, "W", KILN_DTYPE_FLOAT, 2, dims, wv, SH_K * SH_N * sizeof(float)));
    mb_initializer(b, g, mb_tensor_raw(b, "V", KILN_DTYPE_FLOAT, 2, dims, vv, SH_K * SH_N * sizeof(float)));
    mb_initializer(b, g, mb_tensor_raw(b, "two", KILN_DTYPE_FLOAT, 0, NULL, &two, sizeof(two)));
    mb_node(b, g, "MatMul", "mm", (const char *[]){"a", "W", NULL}, (const char *[]){"y1", NULL});
    mb_node(b, g, "Gemm", "gemm", (const char *[]){"a", "W", NULL}, (const char *[]){"y2", NULL});
    mb_node(b, g, "Gemm", "gv1", (const char *[]){"a", "V", NULL}, (const char *[]){"v1", NULL});
    mb_node(b, g, "Gemm", "gv2", (const char *[]){"a", "V", NULL}, (const char *[]){"v2", NULL});
    mb_node(b, g, "Add", "addv", (const char *[]){"v1", "v2", NULL}, (const char *[]){"y4", NULL});
    mb_output(b, g, "y1", KILN_DTYPE_FLOAT, -1, NULL);
    mb_output(b, g, "y2", KILN_DTYPE_FLOAT, -1, NULL);
    mb_output(b, g, "y4", KILN_DTYPE_FLOAT, -1, NULL);
    if (mul) {
        mb_node(b, g, "Mul", "mul", (const char *[]){"W", "two", NULL}, (const char *[]){"y3", NULL});
        mb_output(b, g, "y3", KILN_DTYPE_FLOAT, -1, NULL);
    }
    if (out) mb_output(b, g, "W", KILN_DTYPE_FLOAT, -1, NULL);
    return b;
}

static void check_shared(int mul, int out) {
    static float wv[SH_K * SH_N], vv[SH_K * SH_N], a[2 * SH_K], ref[2 * SH_N];
    fill(wv, SH_K * SH_N, 0.2f, 11);
    fill(vv, SH_K * SH_N, 0.2f, 12);
    fill(a, 2 * SH_K, 1.0f, 13);
    /* MatMul packs its constant B by default (docs/kernels.md §5); pinned here against a
     * KILN_MATMUL_PACK=0 in the environment. */
    setenv("KILN_MATMUL_PACK", "1", 1);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < SH_N; j++) {
            double acc = 0;
            for (int p = 0; p < SH_K; p++) acc += (double)a[i * SH_K + p] * wv[p * SH_N + j];
            ref[i * SH_N + j] = (float)acc;
        }
    mb *b = shared_model(wv, vv, mul, out);
    kiln_session *s = session_of(b, 1, KILN_OPT_DISABLED);
    unsetenv("KILN_MATMUL_PACK");
    uint32_t n_out = 3 + (uint32_t)mul + (uint32_t)out;
    ck_assert_uint_eq(kiln_session_output_count(s), n_out);
    /* V is read only by the two Gemms, which both packed it: freed. W is freed only when nothing
     * else reads it. */
    size_t wb = SH_K * SH_N * sizeof(float);
    ck_assert_uint_eq(s->released_bytes, (mul || out) ? wb : 2 * wb);
    kiln_tensor *x;
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){2, SH_K}, 2, a, sizeof(a), &x, &err), KILN_OK);
    for (int rep = 0; rep < 3; rep++) {
        kiln_tensor *o[5] = {NULL, NULL, NULL, NULL, NULL};
        ck_assert_msg(kiln_session_run(s, NULL, (const kiln_tensor *const *)&x, 1, NULL, o, n_out, &err) == KILN_OK, "%s",
                      err.msg);
        const float *y1 = kiln_tensor_data(o[0]), *y2 = kiln_tensor_data(o[1]), *y4 = kiln_tensor_data(o[2]);
        ck_assert_double_le(rt_max_diff(y1, ref, 2 * SH_N), 1e-5);
        ck_assert_double_le(rt_max_diff(y2, ref, 2 * SH_N), 1e-5);
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < SH_N; j++) {
                double acc = 0;
                for (int p = 0; p < SH_K; p++) acc += (double)a[i * SH_K + p] * vv[p * SH_N + j];
                ck_assert_double_le(fabs(y4[i * SH_N + j] - 2 * acc), 1e-4 * (1 + fabs(acc)));
            }
        uint32_t k = 3;
        if (mul) {
            const float *y3 = kiln_tensor_data(o[k++]);
            for (int e = 0; e < SH_K * SH_N; e++) ck_assert_float_eq(y3[e], 2.0f * wv[e]);
        }
        if (out) {
            ck_assert_int_eq(kiln_tensor_element_count(o[k]), SH_K * SH_N);
            ck_assert_int_eq(memcmp(kiln_tensor_data(o[k]), wv, wb), 0);
        }
        for (uint32_t i = 0; i < n_out; i++) kiln_tensor_destroy(o[i]);
    }
    kiln_tensor_destroy(x);
    kiln_session_destroy(s);
    mb_free(b);
}

START_TEST(shared_weights_freed_only_when_all_pack) { check_shared(0, 0); }
END_TEST

START_TEST(weight_read_by_another_node_is_kept) { check_shared(1, 0); }
END_TEST

START_TEST(weight_that_is_an_output_is_kept) { check_shared(0, 1); }
END_TEST

/* A weight also read inside a subgraph (If) is kept for it. */
START_TEST(weight_read_by_a_subgraph_is_kept) {
    static float wv[SH_K * SH_N], a[2 * SH_K];
    fill(wv, SH_K * SH_N, 0.2f, 21);
    fill(a, 2 * SH_K, 1.0f, 22);
    mb *b = mb_new(8, 13);
    KilnOnnx__GraphProto *g = mb_graph(b);
    mb_input(b, g, "a", KILN_DTYPE_FLOAT, 2, (const int64_t[]){2, SH_K});
    mb_input(b, g, "c", KILN_DTYPE_BOOL, 0, NULL);
    mb_initializer(b, g, mb_tensor_raw(b, "W", KILN_DTYPE_FLOAT, 2, (const int64_t[]){SH_K, SH_N}, wv, sizeof(wv)));
    mb_node(b, g, "Gemm", "gemm", (const char *[]){"a", "W", NULL}, (const char *[]){"y", NULL});
    KilnOnnx__GraphProto *then_g = mb_subgraph(b, "then"), *else_g = mb_subgraph(b, "else");
    mb_node(b, then_g, "Identity", "t", (const char *[]){"W", NULL}, (const char *[]){"tw", NULL});
    mb_output(b, then_g, "tw", KILN_DTYPE_FLOAT, -1, NULL);
    mb_node(b, else_g, "Neg", "e", (const char *[]){"W", NULL}, (const char *[]){"ew", NULL});
    mb_output(b, else_g, "ew", KILN_DTYPE_FLOAT, -1, NULL);
    KilnOnnx__NodeProto *n = mb_node(b, g, "If", "if", (const char *[]){"c", NULL}, (const char *[]){"z", NULL});
    mb_attr_graph(b, n, "then_branch", then_g);
    mb_attr_graph(b, n, "else_branch", else_g);
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, -1, NULL);
    mb_output(b, g, "z", KILN_DTYPE_FLOAT, -1, NULL);
    kiln_session *s = session_of(b, 1, KILN_OPT_DISABLED);
    ck_assert_uint_eq(s->released_bytes, 0);
    kiln_tensor *in[2];
    uint8_t cond = 0;
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){2, SH_K}, 2, a, sizeof(a), &in[0], &err), KILN_OK);
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_BOOL, NULL, 0, &cond, 1, &in[1], &err), KILN_OK);
    kiln_tensor *o[2] = {NULL, NULL};
    ck_assert_msg(kiln_session_run(s, (const char *const[]){"a", "c"}, (const kiln_tensor *const *)in, 2, NULL, o, 2, &err) ==
                      KILN_OK,
                  "%s", err.msg);
    const float *z = kiln_tensor_data(o[1]);
    for (int e = 0; e < SH_K * SH_N; e++) ck_assert_float_eq(z[e], -wv[e]);
    for (int i = 0; i < 2; i++) kiln_tensor_destroy(o[i]), kiln_tensor_destroy(in[i]);
    kiln_session_destroy(s);
    mb_free(b);
}
END_TEST

int main(void) {
    Suite *su = suite_create("prepack");
    TCase *tc = tcase_create("prepack");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, conv_block_weights_counted_once, 0, 4);
    tcase_add_test(tc, shared_weights_freed_only_when_all_pack);
    tcase_add_test(tc, weight_read_by_another_node_is_kept);
    tcase_add_test(tc, weight_that_is_an_output_is_kept);
    tcase_add_test(tc, weight_read_by_a_subgraph_is_kept);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
