/* SPDX-License-Identifier: MIT */
/* Tensor-manipulation and indexing ops under hostile input: out-of-range indices and
 * axes, contradictory sizes and attributes give a status and a message naming the node, at
 * session creation when the values are constants and at run time otherwise; strings move
 * through the data-movement ops; allocation failure at every point of a chain of them. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/model_builder.h"
#include "common/test_alloc.h"
#include "kiln.h"

static kiln_env *env;
static kiln_error err;

static void setup(void) { ck_assert_int_eq(kiln_env_create(&env, &err), KILN_OK); }
static void teardown(void) { kiln_env_destroy(env); }

static kiln_status create_from(mb *b, kiln_session **s) {
    size_t n;
    const uint8_t *p = mb_pack(b, &n);
    *s = NULL;
    return kiln_session_create_from_buffer(env, p, n, NULL, s, &err);
}

/* An int64 1-D initializer. */
static void ints_init(mb *b, KilnOnnx__GraphProto *g, const char *name, const int64_t *v, int64_t n) {
    mb_initializer(b, g, mb_tensor_raw(b, name, KILN_DTYPE_INT64, 1, &n, v, (size_t)n * sizeof(int64_t)));
}

/* One node `op` named "victim" reading float input "x" of dims [2, 3, 4] and the given int64
 * initializers; graph output "y" (the node's first output). */
typedef struct init_spec {
    const char *name;
    int64_t n;
    int64_t v[8];
} init_spec;

static mb *one_node(int64_t opset, const char *op, const char *const *inputs, const char *const *outputs,
                    const init_spec *inits, size_t n_inits, KilnOnnx__NodeProto **node) {
    mb *b = mb_new(8, opset);
    KilnOnnx__GraphProto *g = mb_graph(b);
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 3, (const int64_t[]){2, 3, 4});
    for (size_t i = 0; i < n_inits; i++) ints_init(b, g, inits[i].name, inits[i].v, inits[i].n);
    *node = mb_node(b, g, op, "victim", inputs, outputs);
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, -1, NULL);
    return b;
}

/* Creating the session fails with INVALID_MODEL and a message naming the node and `what`. */
static void refused_at_creation(mb *b, const char *what) {
    kiln_session *s;
    ck_assert_int_eq(create_from(b, &s), KILN_ERR_INVALID_MODEL);
    ck_assert_msg(strstr(err.msg, "victim") && strstr(err.msg, what), "%s", err.msg);
    ck_assert_ptr_null(s);
    mb_free(b);
}

#define Y1 ((const char *[]){"y", NULL})

START_TEST(constant_contradictions_refused_at_creation) {
    KilnOnnx__NodeProto *n;
    mb *b = one_node(13, "Transpose", (const char *[]){"x", NULL}, Y1, NULL, 0, &n);
    mb_attr_ints(b, n, "perm", (const int64_t[]){0, 0, 1}, 3);
    refused_at_creation(b, "permutation");

    b = one_node(13, "Concat", (const char *[]){"x", "x", NULL}, Y1, NULL, 0, &n);
    mb_attr_int(b, n, "axis", 3);
    refused_at_creation(b, "out of range");

    init_spec sl[] = {{"s", 2, {0, 0}}, {"e", 2, {1, 1}}, {"a", 2, {1, -2}}};
    b = one_node(13, "Slice", (const char *[]){"x", "s", "e", "a", NULL}, Y1, sl, 3, &n);
    refused_at_creation(b, "twice");

    init_spec st[] = {{"s", 1, {0}}, {"e", 1, {1}}, {"a", 1, {0}}, {"p", 1, {0}}};
    b = one_node(13, "Slice", (const char *[]){"x", "s", "e", "a", "p", NULL}, Y1, st, 4, &n);
    refused_at_creation(b, "step");

    init_spec sq[] = {{"a", 1, {1}}};
    b = one_node(13, "Squeeze", (const char *[]){"x", "a", NULL}, Y1, sq, 1, &n);
    refused_at_creation(b, "cannot squeeze");

    init_spec sp[] = {{"sp", 2, {1, 2}}};
    b = one_node(13, "Split", (const char *[]){"x", "sp", NULL}, (const char *[]){"y", "y2", NULL}, sp, 1, &n);
    refused_at_creation(b, "add up");

    init_spec ex[] = {{"sh", 3, {2, 5, 4}}};
    b = one_node(13, "Expand", (const char *[]){"x", "sh", NULL}, Y1, ex, 1, &n);
    refused_at_creation(b, "cannot be expanded");

    init_spec ti[] = {{"r", 3, {1, -1, 1}}};
    b = one_node(13, "Tile", (const char *[]){"x", "r", NULL}, Y1, ti, 1, &n);
    refused_at_creation(b, "negative");

    init_spec pd[] = {{"p", 6, {0, 0, -3, 0, 0, -2}}};
    b = one_node(18, "Pad", (const char *[]){"x", "p", NULL}, Y1, pd, 1, &n);
    refused_at_creation(b, "negative");

    init_spec tk[] = {{"k", 1, {5}}};
    b = one_node(13, "TopK", (const char *[]){"x", "k", NULL}, (const char *[]){"y", "i", NULL}, tk, 1, &n);
    refused_at_creation(b, "larger than the axis");

    init_spec gi[] = {{"i", 1, {0}}};
    b = one_node(13, "Gather", (const char *[]){"x", "i", NULL}, Y1, gi, 1, &n);
    mb_attr_int(b, n, "axis", -4);
    refused_at_creation(b, "out of range");

    b = one_node(13, "DepthToSpace", (const char *[]){"x", NULL}, Y1, NULL, 0, &n);
    mb_attr_int(b, n, "blocksize", -2);
    refused_at_creation(b, "blocksize");
}
END_TEST

/* A model whose int64 input "v" (n values) is fed at run, so the checks happen at run time. */
static void refused_at_run(const char *op, int64_t opset, const char *const *inputs, const int64_t *v, int64_t nv,
                           const char *attr, int64_t attr_v, int n_out, const char *what) {
    mb *b = mb_new(8, opset);
    KilnOnnx__GraphProto *g = mb_graph(b);
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 3, (const int64_t[]){2, 3, 4});
    mb_input(b, g, "v", KILN_DTYPE_INT64, 1, &nv);
    const char *outs[3] = {"y", n_out > 1 ? "y2" : NULL, NULL};
    KilnOnnx__NodeProto *n = mb_node(b, g, op, "victim", inputs, outs);
    if (attr) mb_attr_int(b, n, attr, attr_v);
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, -1, NULL);
    kiln_session *s;
    ck_assert_msg(create_from(b, &s) == KILN_OK, "%s: %s", op, err.msg);
    float xv[24] = {0};
    kiln_tensor *in[2], *out = NULL;
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){2, 3, 4}, 3, xv, sizeof(xv), &in[0], &err), KILN_OK);
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_INT64, &nv, 1, (void *)v, (size_t)nv * sizeof(int64_t), &in[1], &err), KILN_OK);
    kiln_status st = kiln_session_run(s, (const char *[]){"x", "v"}, (const kiln_tensor *const *)in, 2, (const char *[]){"y"},
                                      &out, 1, &err);
    ck_assert_msg(st == KILN_ERR_SHAPE, "%s: status %d (%s)", op, st, err.msg);
    ck_assert_msg(strstr(err.msg, "victim") && strstr(err.msg, what), "%s: %s", op, err.msg);
    ck_assert_ptr_null(out);
    kiln_tensor_destroy(in[0]);
    kiln_tensor_destroy(in[1]);
    kiln_session_destroy(s);
    mb_free(b);
}

START_TEST(hostile_values_refused_at_run) {
    const int64_t idx[2] = {1, 9}, neg[2] = {-3, 0}, big[1] = {INT64_MAX}, dup[2] = {0, 0};
    refused_at_run("Gather", 13, (const char *[]){"x", "v", NULL}, idx, 2, "axis", 1, 1, "out of range");
    refused_at_run("Unsqueeze", 13, (const char *[]){"x", "v", NULL}, dup, 2, NULL, 0, 1, "twice");
    refused_at_run("Unsqueeze", 13, (const char *[]){"x", "v", NULL}, big, 1, NULL, 0, 1, "out of range");
    refused_at_run("Reshape", 14, (const char *[]){"x", "v", NULL}, neg, 2, NULL, 0, 1, "invalid");
    refused_at_run("Tile", 13, (const char *[]){"x", "v", NULL}, idx, 2, NULL, 0, 1, "repeats");
    refused_at_run("Expand", 13, (const char *[]){"x", "v", NULL}, neg, 2, NULL, 0, 1, "negative");
    refused_at_run("ConstantOfShape", 13, (const char *[]){"v", NULL}, neg, 2, NULL, 0, 1, "negative");
    refused_at_run("TopK", 13, (const char *[]){"x", "v", NULL}, big, 1, NULL, 0, 2, "K");
    refused_at_run("Split", 13, (const char *[]){"x", "v", NULL}, neg, 2, "axis", 2, 2, "negative");
    refused_at_run("Slice", 13, (const char *[]){"x", "v", "v", "v", NULL}, dup, 2, NULL, 0, 1, "twice");
    refused_at_run("CenterCropPad", 18, (const char *[]){"x", "v", NULL}, neg, 2, NULL, 0, 1, "axes");
    refused_at_run("Pad", 13, (const char *[]){"x", "v", NULL}, neg, 2, NULL, 0, 1, "pads");
}
END_TEST

/* data [3, 2] float, indices (and updates for the scatters) fed at run: every index op refuses
 * an index outside [-3, 3) on axis 0 or [-2, 2) on axis 1. */
static void index_refused(const char *op, const int64_t *idims, int32_t irank, const int64_t *iv, const int64_t *udims,
                          int32_t urank) {
    mb *b = mb_new(8, 13);
    KilnOnnx__GraphProto *g = mb_graph(b);
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 2, (const int64_t[]){3, 2});
    mb_input(b, g, "i", KILN_DTYPE_INT64, irank, idims);
    if (udims) mb_input(b, g, "u", KILN_DTYPE_FLOAT, urank, udims);
    mb_node(b, g, op, "victim", udims ? (const char *[]){"x", "i", "u", NULL} : (const char *[]){"x", "i", NULL},
            (const char *[]){"y", NULL});
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, -1, NULL);
    kiln_session *s;
    ck_assert_msg(create_from(b, &s) == KILN_OK, "%s: %s", op, err.msg);
    int64_t ni = 1, nu = 1;
    for (int32_t d = 0; d < irank; d++) ni *= idims[d];
    for (int32_t d = 0; d < urank && udims; d++) nu *= udims[d];
    float xv[6] = {0}, uv[8] = {0};
    kiln_tensor *in[3] = {NULL, NULL, NULL}, *out = NULL;
    kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){3, 2}, 2, xv, sizeof(xv), &in[0], &err);
    kiln_tensor_wrap(env, KILN_DTYPE_INT64, idims, (size_t)irank, (void *)iv, (size_t)ni * sizeof(int64_t), &in[1], &err);
    if (udims) kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, udims, (size_t)urank, uv, (size_t)nu * sizeof(float), &in[2], &err);
    kiln_status st = kiln_session_run(s, NULL, (const kiln_tensor *const *)in, udims ? 3 : 2, NULL, &out, 1, &err);
    ck_assert_msg(st == KILN_ERR_SHAPE, "%s: status %d (%s)", op, st, err.msg);
    ck_assert_msg(strstr(err.msg, "victim") && strstr(err.msg, "out of range"), "%s: %s", op, err.msg);
    for (int i = 0; i < 3; i++) kiln_tensor_destroy(in[i]);
    kiln_session_destroy(s);
    mb_free(b);
}

START_TEST(out_of_range_indices) {
    const int64_t d22[2] = {2, 2}, d12[2] = {1, 2}, d21[2] = {2, 1};
    index_refused("GatherElements", d22, 2, (const int64_t[]){0, 1, 3, 0}, NULL, 0);
    index_refused("GatherElements", d12, 2, (const int64_t[]){-4, 0}, NULL, 0);
    index_refused("GatherND", d22, 2, (const int64_t[]){0, 1, 0, 2}, NULL, 0);
    index_refused("ScatterElements", d22, 2, (const int64_t[]){0, 1, 3, 0}, d22, 2);
    index_refused("ScatterND", d21, 2, (const int64_t[]){1, -4}, d22, 2);
}
END_TEST

/* Strings through Transpose, Slice with a negative step, Pad (constant ""), Concat, Gather. */
START_TEST(strings_move) {
    mb *b = mb_new(8, 18);
    KilnOnnx__GraphProto *g = mb_graph(b);
    mb_input(b, g, "s", KILN_DTYPE_STRING, 2, (const int64_t[]){2, 3});
    ints_init(b, g, "st", (const int64_t[]){-1}, 1);
    ints_init(b, g, "en", (const int64_t[]){INT64_MIN}, 1);
    ints_init(b, g, "ax", (const int64_t[]){0}, 1);
    ints_init(b, g, "stp", (const int64_t[]){-2}, 1);
    ints_init(b, g, "pads", (const int64_t[]){0, 1, 0, 0}, 4);
    ints_init(b, g, "gi", (const int64_t[]){2, 0}, 2);
    mb_node(b, g, "Transpose", "t", (const char *[]){"s", NULL}, (const char *[]){"t", NULL});              /* [3,2] */
    mb_node(b, g, "Slice", "sl", (const char *[]){"t", "st", "en", "ax", "stp", NULL}, (const char *[]){"r", NULL}); /* rows 2,0 */
    mb_node(b, g, "Pad", "p", (const char *[]){"r", "pads", NULL}, (const char *[]){"p", NULL});           /* [2,3] */
    KilnOnnx__NodeProto *c = mb_node(b, g, "Concat", "c", (const char *[]){"p", "p", NULL}, (const char *[]){"c", NULL});
    mb_attr_int(b, c, "axis", 0);                                                                           /* [4,3] */
    KilnOnnx__NodeProto *ga = mb_node(b, g, "Gather", "g", (const char *[]){"c", "gi", NULL}, (const char *[]){"y", NULL});
    mb_attr_int(b, ga, "axis", 1);                                                                          /* [4,2] */
    mb_output(b, g, "y", KILN_DTYPE_STRING, 2, (const int64_t[]){4, 2});
    kiln_session *s;
    ck_assert_msg(create_from(b, &s) == KILN_OK, "%s", err.msg);
    kiln_tensor *in, *out = NULL;
    ck_assert_int_eq(kiln_tensor_create(env, KILN_DTYPE_STRING, (const int64_t[]){2, 3}, 2, &in, &err), KILN_OK);
    const char *sv[6] = {"a", "bb", "ccc", "dddd", "", "f"};
    for (size_t i = 0; i < 6; i++) ck_assert_int_eq(kiln_tensor_set_string(in, i, sv[i], strlen(sv[i]), &err), KILN_OK);
    ck_assert_msg(kiln_session_run(s, NULL, (const kiln_tensor *const *)&in, 1, NULL, &out, 1, &err) == KILN_OK, "%s", err.msg);
    /* t = [[a,dddd],[bb,""],[ccc,f]]; r = [[ccc,f],[a,dddd]]; p = [["",ccc,f],["",a,dddd]]; y picks columns 2, 0 */
    const char *want[8] = {"f", "", "dddd", "", "f", "", "dddd", ""};
    for (size_t i = 0; i < 8; i++) ck_assert_str_eq(kiln_tensor_string(out, i), want[i]);
    kiln_tensor_destroy(out);
    kiln_tensor_destroy(in);
    kiln_session_destroy(s);
    mb_free(b);
}
END_TEST

/* TopK: equal values come in index order; the heap path (k small against the row) and the
 * sorting path agree. */
START_TEST(topk_ties_by_index) {
    for (int64_t k = 1; k <= 64; k *= 4) {
        mb *b = mb_new(8, 13);
        KilnOnnx__GraphProto *g = mb_graph(b);
        mb_input(b, g, "x", KILN_DTYPE_FLOAT, 1, (const int64_t[]){64});
        ints_init(b, g, "k", &k, 1);
        mb_node(b, g, "TopK", "top", (const char *[]){"x", "k", NULL}, (const char *[]){"v", "i", NULL});
        mb_output(b, g, "v", KILN_DTYPE_FLOAT, 1, &k);
        mb_output(b, g, "i", KILN_DTYPE_INT64, 1, &k);
        kiln_session *s;
        ck_assert_msg(create_from(b, &s) == KILN_OK, "%s", err.msg);
        float xv[64];
        for (int i = 0; i < 64; i++) xv[i] = (float)(i % 4); /* 3 at 3, 7, 11, ... */
        kiln_tensor *in, *out[2] = {NULL, NULL};
        kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){64}, 1, xv, sizeof(xv), &in, &err);
        ck_assert_msg(kiln_session_run(s, NULL, (const kiln_tensor *const *)&in, 1, NULL, out, 2, &err) == KILN_OK, "%s", err.msg);
        const int64_t *ix = kiln_tensor_data(out[1]);
        for (int64_t j = 0; j < k; j++) {
            int64_t want = (3 - j / 16) + 4 * (j % 16); /* by value, then by index */
            ck_assert_msg(ix[j] == want, "k %lld: index %lld is %lld, want %lld", (long long)k, (long long)j, (long long)ix[j],
                          (long long)want);
        }
        kiln_tensor_destroy(out[0]);
        kiln_tensor_destroy(out[1]);
        kiln_tensor_destroy(in);
        kiln_session_destroy(s);
        mb_free(b);
    }
}
END_TEST

/* Transpose → Slice → Pad(reflect) → Resize(linear) → TopK → Unique → NonZero → Concat with
 * Shape: every allocation failing in turn gives OUT_OF_MEMORY and leaks nothing. */
static mb *chain(void) {
    mb *b = mb_new(8, 19);
    KilnOnnx__GraphProto *g = mb_graph(b);
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 3, (const int64_t[]){2, 3, 4});
    ints_init(b, g, "st", (const int64_t[]){3}, 1);
    ints_init(b, g, "en", (const int64_t[]){0}, 1);
    ints_init(b, g, "ax", (const int64_t[]){1}, 1);
    ints_init(b, g, "stp", (const int64_t[]){-1}, 1);
    ints_init(b, g, "pads", (const int64_t[]){0, 1, 1, 0, 1, 1}, 6);
    ints_init(b, g, "k", (const int64_t[]){3}, 1);
    float sc[3] = {1, 2, 1.5f};
    mb_initializer(b, g, mb_tensor_raw(b, "sc", KILN_DTYPE_FLOAT, 1, (const int64_t[]){3}, sc, sizeof(sc)));
    KilnOnnx__NodeProto *t = mb_node(b, g, "Transpose", "t", (const char *[]){"x", NULL}, (const char *[]){"t", NULL});
    mb_attr_ints(b, t, "perm", (const int64_t[]){0, 2, 1}, 3);
    mb_node(b, g, "Slice", "sl", (const char *[]){"t", "st", "en", "ax", "stp", NULL}, (const char *[]){"s", NULL});
    KilnOnnx__NodeProto *p = mb_node(b, g, "Pad", "p", (const char *[]){"s", "pads", NULL}, (const char *[]){"p", NULL});
    mb_attr_string(b, p, "mode", "reflect");
    KilnOnnx__NodeProto *r = mb_node(b, g, "Resize", "r", (const char *[]){"p", "", "sc", NULL}, (const char *[]){"r", NULL});
    mb_attr_string(b, r, "mode", "linear");
    mb_node(b, g, "TopK", "top", (const char *[]){"r", "k", NULL}, (const char *[]){"v", "i", NULL});
    mb_node(b, g, "Unique", "u", (const char *[]){"i", NULL}, (const char *[]){"uy", "ui", "uinv", "uc", NULL});
    mb_node(b, g, "NonZero", "nz", (const char *[]){"uinv", NULL}, (const char *[]){"nz", NULL});
    mb_node(b, g, "Shape", "sh", (const char *[]){"v", NULL}, (const char *[]){"sh", NULL});
    KilnOnnx__NodeProto *c = mb_node(b, g, "Concat", "c", (const char *[]){"uy", "sh", NULL}, (const char *[]){"y", NULL});
    mb_attr_int(b, c, "axis", 0);
    mb_output(b, g, "y", KILN_DTYPE_INT64, 1, NULL);
    mb_output(b, g, "nz", KILN_DTYPE_INT64, 2, NULL);
    return b;
}

START_TEST(out_of_memory_everywhere) {
    mb *b = chain();
    size_t n;
    const uint8_t *p = mb_pack(b, &n);
    int succeeded = 0;
    long fail_at;
    float xv[24];
    for (int i = 0; i < 24; i++) xv[i] = (float)((i * 7) % 11);
    for (fail_at = 1; fail_at < 100000 && !succeeded; fail_at++) {
        test_alloc ta;
        test_alloc_init(&ta);
        kiln_env *e = NULL;
        kiln_error er = {0};
        atomic_store(&ta.fail_at, fail_at);
        kiln_status st = kiln_env_create_with_allocator(&ta.a, &e, &er);
        kiln_session *s = NULL;
        kiln_tensor *x = NULL, *y[2] = {NULL, NULL};
        if (st == KILN_OK) st = kiln_session_create_from_buffer(e, p, n, NULL, &s, &er);
        if (st == KILN_OK) st = kiln_tensor_wrap(e, KILN_DTYPE_FLOAT, (const int64_t[]){2, 3, 4}, 3, xv, sizeof(xv), &x, &er);
        if (st == KILN_OK) st = kiln_session_run(s, NULL, (const kiln_tensor *const *)&x, 1, NULL, y, 2, &er);
        if (st == KILN_OK) succeeded = 1;
        else ck_assert_msg(st == KILN_ERR_OUT_OF_MEMORY, "fail_at %ld: status %d (%s)", fail_at, st, er.msg);
        if (succeeded) {
            /* x [2,3,4] -> Transpose [2,4,3] -> Slice [2,3,3] -> Pad [2,5,5] -> Resize [2,10,7] ->
             * TopK [2,10,3]; y = the unique top-3 indices, then that shape */
            int64_t cnt = kiln_tensor_element_count(y[0]);
            ck_assert_int_ge(cnt, 4);
            const int64_t *yv = kiln_tensor_data(y[0]);
            ck_assert_int_eq(yv[cnt - 3], 2);
            ck_assert_int_eq(yv[cnt - 2], 10);
            ck_assert_int_eq(yv[cnt - 1], 3);
        }
        kiln_tensor_destroy(y[0]);
        kiln_tensor_destroy(y[1]);
        kiln_tensor_destroy(x);
        kiln_session_destroy(s);
        kiln_env_destroy(e);
        ck_assert_msg(test_alloc_live(&ta) == 0, "fail_at %ld: %ld blocks leaked", fail_at, test_alloc_live(&ta));
    }
    ck_assert_msg(succeeded, "never succeeded");
    ck_assert_msg(fail_at > 20, "suspiciously few allocations (%ld)", fail_at);
    mb_free(b);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("ops.tensor");
    TCase *tc = tcase_create("tensor_ops");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, constant_contradictions_refused_at_creation);
    tcase_add_test(tc, hostile_values_refused_at_run);
    tcase_add_test(tc, out_of_range_indices);
    tcase_add_test(tc, strings_move);
    tcase_add_test(tc, topk_ties_by_index);
    tcase_add_test(tc, out_of_memory_everywhere);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
