/* SPDX-License-Identifier: MIT */
/* Edge cases and bad input beyond the ONNX backend tests: control flow (loops that
 * never end, bodies that change shape, dead If branches), sequences and optionals out of range,
 * the RE2-syntax regex engine against a table of RE2 answers, string ops, TfIdfVectorizer and
 * ai.onnx.ml attributes, hostile image streams, refused ops, and allocation failure at every
 * allocation of a loop over sequences. */
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

/* ---- building models ---- */

static const char *const NONE[] = {NULL};
#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

static void import_domain(mb *b, const char *domain, int64_t version) {
    KilnOnnx__ModelProto *m = mb_model(b);
    KilnOnnx__OperatorSetIdProto **ops = mb_alloc(b, (m->n_opset_import + 1) * sizeof(*ops));
    memcpy(ops, m->opset_import, m->n_opset_import * sizeof(*ops));
    KilnOnnx__OperatorSetIdProto *o = mb_alloc(b, sizeof(*o));
    kiln_onnx__operator_set_id_proto__init(o);
    o->domain = mb_str(b, domain);
    o->has_version = 1;
    o->version = version;
    ops[m->n_opset_import] = o;
    m->opset_import = ops;
    m->n_opset_import++;
}

static void attr_strings(mb *b, KilnOnnx__NodeProto *n, const char *name, const char *const *v) {
    mb_attr_string(b, n, name, "");
    KilnOnnx__AttributeProto *a = n->attribute[n->n_attribute - 1];
    size_t count = 0;
    while (v[count]) count++;
    a->has_s = 0;
    a->type = KILN_ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS;
    a->strings = mb_alloc(b, (count + 1) * sizeof(ProtobufCBinaryData));
    a->n_strings = count;
    for (size_t i = 0; i < count; i++) {
        a->strings[i].data = (uint8_t *)mb_str(b, v[i]);
        a->strings[i].len = strlen(v[i]);
    }
}

static KilnOnnx__TensorProto *i64s(mb *b, const char *name, int32_t rank, const int64_t *dims, const int64_t *v, size_t n) {
    return mb_tensor_raw(b, name, KILN_DTYPE_INT64, rank, dims, v, n * sizeof(int64_t));
}

static kiln_status open_model(mb *b, kiln_session **s) {
    size_t size;
    const uint8_t *p = mb_pack(b, &size);
    *s = NULL;
    kiln_status st = kiln_session_create_from_buffer(env, p, size, NULL, s, &err);
    mb_free(b);
    return st;
}

static kiln_tensor *tensor(int32_t dtype, int32_t rank, const int64_t *dims, const void *data, size_t bytes) {
    kiln_tensor *t;
    ck_assert_int_eq(kiln_tensor_create(env, dtype, dims, rank, &t, &err), KILN_OK);
    if (bytes) memcpy(kiln_tensor_data(t), data, bytes);
    return t;
}

static kiln_tensor *strings(const char *const *v) {
    int64_t n = 0;
    while (v[n]) n++;
    kiln_tensor *t;
    ck_assert_int_eq(kiln_tensor_create(env, KILN_DTYPE_STRING, &n, 1, &t, &err), KILN_OK);
    for (int64_t i = 0; i < n; i++) ck_assert_int_eq(kiln_tensor_set_string(t, (size_t)i, v[i], strlen(v[i]), &err), KILN_OK);
    return t;
}

/* Runs s on n inputs (consumed) into n_out new outputs. */
static kiln_status run(kiln_session *s, kiln_tensor **in, size_t n, kiln_tensor **out, size_t n_out) {
    for (size_t i = 0; i < n_out; i++) out[i] = NULL;
    kiln_status st = kiln_session_run(s, NULL, (const kiln_tensor *const *)in, n, NULL, out, n_out, &err);
    for (size_t i = 0; i < n; i++) kiln_tensor_destroy(in[i]);
    return st;
}

/* ---- control flow ---- */

/* Loop(M, cond, x) with body x + 1 and scan output x; M or cond may be "" (omitted). */
static mb *counting_loop(const char *m_name, const char *cond_name, int scan_grows) {
    mb *b = mb_new(8, 13);
    KilnOnnx__GraphProto *g = mb_graph(b), *body = mb_subgraph(b, "body");
    mb_input(b, g, "M", KILN_DTYPE_INT64, 0, NULL);
    mb_input(b, g, "cond", KILN_DTYPE_BOOL, 0, NULL);
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 1, (const int64_t[]){1});
    mb_input(b, body, "i", KILN_DTYPE_INT64, 0, NULL);
    mb_input(b, body, "c", KILN_DTYPE_BOOL, 0, NULL);
    mb_input(b, body, "xi", KILN_DTYPE_FLOAT, -1, NULL);
    mb_initializer(b, body, mb_tensor_raw(b, "one", KILN_DTYPE_FLOAT, 1, (const int64_t[]){1}, (const float[]){1}, 4));
    mb_node(b, body, "Identity", "keep", L("c"), L("co"));
    mb_node(b, body, "Add", "inc", L("xi", "one"), L("xo"));
    if (scan_grows) {
        /* The scan output grows each iteration: a shape change Loop must refuse. */
        mb_initializer(b, body, i64s(b, "zero", 0, NULL, (const int64_t[]){0}, 1));
        mb_initializer(b, body, i64s(b, "step", 0, NULL, (const int64_t[]){1}, 1));
        mb_node(b, body, "Range", "grow", L("zero", "i", "step"), L("so"));
    } else {
        mb_node(b, body, "Identity", "scan", L("xi"), L("so"));
    }
    mb_output(b, body, "co", KILN_DTYPE_BOOL, 0, NULL);
    mb_output(b, body, "xo", KILN_DTYPE_FLOAT, -1, NULL);
    mb_output(b, body, "so", scan_grows ? KILN_DTYPE_INT64 : KILN_DTYPE_FLOAT, -1, NULL);
    KilnOnnx__NodeProto *n = mb_node(b, g, "Loop", "loop", L(m_name, cond_name, "x"), L("xf", "s"));
    mb_attr_graph(b, n, "body", body);
    mb_output(b, g, "xf", KILN_DTYPE_FLOAT, -1, NULL);
    mb_output(b, g, "s", scan_grows ? KILN_DTYPE_INT64 : KILN_DTYPE_FLOAT, -1, NULL);
    return b;
}

static kiln_status run_loop(kiln_session *s, int64_t m, uint8_t cond, kiln_tensor **out) {
    kiln_tensor *in[3] = {tensor(KILN_DTYPE_INT64, 0, NULL, &m, 8), tensor(KILN_DTYPE_BOOL, 0, NULL, &cond, 1),
                          tensor(KILN_DTYPE_FLOAT, 1, (const int64_t[]){1}, (const float[]){5}, 4)};
    return run(s, in, 3, out, 2);
}

START_TEST(loop_trip_counts) {
    kiln_session *s;
    ck_assert_int_eq(open_model(counting_loop("M", "cond", 0), &s), KILN_OK);
    kiln_tensor *out[2];
    ck_assert_int_eq(run_loop(s, 3, 1, out), KILN_OK);
    ck_assert_float_eq(((float *)kiln_tensor_data(out[0]))[0], 8.0f);
    ck_assert_int_eq(kiln_tensor_dims(out[1])[0], 3);
    ck_assert_float_eq(((float *)kiln_tensor_data(out[1]))[2], 7.0f);
    kiln_tensor_destroy(out[0]), kiln_tensor_destroy(out[1]);
    /* A negative trip count runs nothing: the carried value comes back, the scan output is empty. */
    ck_assert_int_eq(run_loop(s, -4, 1, out), KILN_OK);
    ck_assert_float_eq(((float *)kiln_tensor_data(out[0]))[0], 5.0f);
    ck_assert_int_eq(kiln_tensor_dims(out[1])[0], 0);
    kiln_tensor_destroy(out[0]), kiln_tensor_destroy(out[1]);
    ck_assert_int_eq(run_loop(s, 3, 0, out), KILN_OK);
    ck_assert_float_eq(((float *)kiln_tensor_data(out[0]))[0], 5.0f);
    kiln_tensor_destroy(out[0]), kiln_tensor_destroy(out[1]);
    kiln_session_destroy(s);
}
END_TEST

START_TEST(loop_refusals) {
    kiln_session *s;
    /* Neither a trip count nor a condition: the loop would never end. */
    ck_assert_int_eq(open_model(counting_loop("", "", 0), &s), KILN_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err.msg, "never ends"));
    /* A scan output whose shape changes between iterations. */
    ck_assert_int_eq(open_model(counting_loop("M", "", 1), &s), KILN_OK);
    kiln_tensor *out[2];
    kiln_tensor *in[3] = {tensor(KILN_DTYPE_INT64, 0, NULL, (const int64_t[]){3}, 8),
                          tensor(KILN_DTYPE_BOOL, 0, NULL, (const uint8_t[]){1}, 1),
                          tensor(KILN_DTYPE_FLOAT, 1, (const int64_t[]){1}, (const float[]){5}, 4)};
    ck_assert_int_eq(kiln_session_run(s, NULL, (const kiln_tensor *const *)in, 3, NULL, out, 2, &err), KILN_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(err.msg, "changed"));
    for (int i = 0; i < 3; i++) kiln_tensor_destroy(in[i]);
    kiln_session_destroy(s);
}
END_TEST

START_TEST(loop_body_signature_checked) {
    mb *b = counting_loop("M", "cond", 0);
    /* Drop the body's scan output: 1 + N + K outputs no longer match. */
    KilnOnnx__GraphProto *body = mb_graph(b)->node[0]->attribute[0]->g;
    body->n_output = 2;
    mb_graph(b)->node[0]->n_output = 2;
    kiln_session *s;
    ck_assert_int_eq(open_model(b, &s), KILN_ERR_INVALID_MODEL);
    ck_assert_ptr_nonnull(strstr(err.msg, "body"));
}
END_TEST

/* If(c) with then = x + y (y from the outer graph), else = Split of a 4-vector into 5 parts,
 * which cannot be inferred with the shapes given: a dead branch. */
START_TEST(if_dead_branch_and_bad_cond) {
    mb *b = mb_new(8, 18);
    KilnOnnx__GraphProto *g = mb_graph(b), *t = mb_subgraph(b, "then"), *e = mb_subgraph(b, "else");
    mb_input(b, g, "c", KILN_DTYPE_BOOL, 1, (const int64_t[]){-1});
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 1, (const int64_t[]){4});
    mb_node(b, t, "Add", "add", L("x", "x"), L("ty"));
    mb_output(b, t, "ty", KILN_DTYPE_FLOAT, -1, NULL);
    KilnOnnx__NodeProto *sp = mb_node(b, e, "Split", "split", L("x"), L("a", "b2", "c2", "d", "e2"));
    mb_attr_int(b, sp, "num_outputs", 5);
    mb_output(b, e, "e2", KILN_DTYPE_FLOAT, -1, NULL);
    KilnOnnx__NodeProto *n = mb_node(b, g, "If", "if", L("c"), L("y"));
    mb_attr_graph(b, n, "then_branch", t);
    mb_attr_graph(b, n, "else_branch", e);
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, -1, NULL);
    kiln_session *s;
    ck_assert_int_eq(open_model(b, &s), KILN_OK);
    kiln_tensor *out;
    kiln_tensor *in[2] = {tensor(KILN_DTYPE_BOOL, 1, (const int64_t[]){1}, (const uint8_t[]){1}, 1),
                          tensor(KILN_DTYPE_FLOAT, 1, (const int64_t[]){4}, (const float[]){1, 2, 3, 4}, 16)};
    ck_assert_int_eq(run(s, in, 2, &out, 1), KILN_OK);
    ck_assert_float_eq(((float *)kiln_tensor_data(out))[3], 8.0f);
    kiln_tensor_destroy(out);
    /* A condition of two elements. */
    kiln_tensor *in2[2] = {tensor(KILN_DTYPE_BOOL, 1, (const int64_t[]){2}, (const uint8_t[]){1, 0}, 2),
                           tensor(KILN_DTYPE_FLOAT, 1, (const int64_t[]){4}, (const float[]){1, 2, 3, 4}, 16)};
    ck_assert_int_eq(run(s, in2, 2, &out, 1), KILN_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(err.msg, "cond"));
    kiln_session_destroy(s);
}
END_TEST

START_TEST(scan_bad_axes_and_lengths) {
    for (int bad = 0; bad < 2; bad++) {
        mb *b = mb_new(8, 16);
        KilnOnnx__GraphProto *g = mb_graph(b), *body = mb_subgraph(b, "body");
        mb_input(b, g, "x", KILN_DTYPE_FLOAT, 2, (const int64_t[]){3, 2});
        mb_input(b, g, "y", KILN_DTYPE_FLOAT, -1, NULL);
        mb_input(b, body, "xs", KILN_DTYPE_FLOAT, -1, NULL);
        mb_input(b, body, "ys", KILN_DTYPE_FLOAT, -1, NULL);
        mb_node(b, body, "Add", "add", L("xs", "ys"), L("o"));
        mb_output(b, body, "o", KILN_DTYPE_FLOAT, -1, NULL);
        KilnOnnx__NodeProto *n = mb_node(b, g, "Scan", "scan", L("x", "y"), L("out"));
        mb_attr_graph(b, n, "body", body);
        mb_attr_int(b, n, "num_scan_inputs", 2);
        mb_attr_ints(b, n, "scan_input_axes", (const int64_t[]){bad ? 2 : 0, 0}, 2);
        mb_output(b, g, "out", KILN_DTYPE_FLOAT, -1, NULL);
        kiln_session *s;
        if (bad) {
            ck_assert_int_eq(open_model(b, &s), KILN_ERR_INVALID_MODEL);
            ck_assert_ptr_nonnull(strstr(err.msg, "axis"));
            continue;
        }
        ck_assert_int_eq(open_model(b, &s), KILN_OK);
        kiln_tensor *out;
        kiln_tensor *in[2] = {tensor(KILN_DTYPE_FLOAT, 2, (const int64_t[]){3, 2}, (const float[]){0, 0, 0, 0, 0, 0}, 24),
                              tensor(KILN_DTYPE_FLOAT, 2, (const int64_t[]){4, 2}, NULL, 0)};
        ck_assert_int_eq(run(s, in, 2, &out, 1), KILN_ERR_SHAPE);
        ck_assert_ptr_nonnull(strstr(err.msg, "lengths"));
        kiln_session_destroy(s);
    }
}
END_TEST

/* ---- sequences and optionals ---- */

/* x -> SplitToSequence (chunks of 1) -> op(seq, p) -> y */
static kiln_status seq_op(const char *op, int64_t pos, int32_t out_dtype, kiln_tensor **out) {
    mb *b = mb_new(8, 18);
    KilnOnnx__GraphProto *g = mb_graph(b);
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 1, (const int64_t[]){3});
    mb_input(b, g, "p", KILN_DTYPE_INT64, 0, NULL);
    mb_node(b, g, "SplitToSequence", "split", L("x"), L("q"));
    if (strcmp(op, "SequenceErase") == 0) {
        mb_node(b, g, op, "op", L("q", "p"), L("q2"));
        mb_node(b, g, "SequenceLength", "len", L("q2"), L("y"));
    } else {
        mb_node(b, g, op, "op", L("q", "p"), L("y"));
    }
    mb_output(b, g, "y", out_dtype, -1, NULL);
    kiln_session *s;
    kiln_status st = open_model(b, &s);
    if (st != KILN_OK) return st;
    kiln_tensor *in[2] = {tensor(KILN_DTYPE_FLOAT, 1, (const int64_t[]){3}, (const float[]){1, 2, 3}, 12),
                          tensor(KILN_DTYPE_INT64, 0, NULL, &pos, 8)};
    st = run(s, in, 2, out, 1);
    kiln_session_destroy(s);
    return st;
}

START_TEST(sequence_positions_checked) {
    kiln_tensor *y;
    ck_assert_int_eq(seq_op("SequenceAt", -3, KILN_DTYPE_FLOAT, &y), KILN_OK);
    ck_assert_float_eq(((float *)kiln_tensor_data(y))[0], 1.0f);
    kiln_tensor_destroy(y);
    ck_assert_int_eq(seq_op("SequenceAt", 3, KILN_DTYPE_FLOAT, &y), KILN_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(err.msg, "out of range"));
    ck_assert_int_eq(seq_op("SequenceAt", -4, KILN_DTYPE_FLOAT, &y), KILN_ERR_SHAPE);
    ck_assert_int_eq(seq_op("SequenceErase", 2, KILN_DTYPE_INT64, &y), KILN_OK);
    ck_assert_int_eq(((int64_t *)kiln_tensor_data(y))[0], 2);
    kiln_tensor_destroy(y);
    ck_assert_int_eq(seq_op("SequenceErase", 3, KILN_DTYPE_INT64, &y), KILN_ERR_SHAPE);
}
END_TEST

START_TEST(sequence_type_errors) {
    /* Inserting an int64 tensor into a float sequence is a contradiction at creation. */
    mb *b = mb_new(8, 18);
    KilnOnnx__GraphProto *g = mb_graph(b);
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 1, (const int64_t[]){3});
    mb_input(b, g, "i", KILN_DTYPE_INT64, 1, (const int64_t[]){3});
    mb_node(b, g, "SequenceConstruct", "mk", L("x"), L("q"));
    mb_node(b, g, "SequenceInsert", "ins", L("q", "i"), L("q2"));
    mb_node(b, g, "SequenceLength", "len", L("q2"), L("y"));
    mb_output(b, g, "y", KILN_DTYPE_INT64, -1, NULL);
    kiln_session *s;
    ck_assert_int_eq(open_model(b, &s), KILN_ERR_INVALID_MODEL);
    ck_assert_ptr_nonnull(strstr(err.msg, "insert"));
    /* ConcatFromSequence of an empty sequence; OptionalGetElement of an empty optional. */
    b = mb_new(8, 18);
    g = mb_graph(b);
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 1, (const int64_t[]){3});
    mb_node(b, g, "SequenceEmpty", "e", NONE, L("q"));
    KilnOnnx__NodeProto *n = mb_node(b, g, "ConcatFromSequence", "cat", L("q"), L("y"));
    mb_attr_int(b, n, "axis", 0);
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, -1, NULL);
    ck_assert_int_eq(open_model(b, &s), KILN_OK);
    kiln_tensor *y, *in[1] = {tensor(KILN_DTYPE_FLOAT, 1, (const int64_t[]){3}, NULL, 0)};
    ck_assert_int_eq(run(s, in, 1, &y, 1), KILN_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(err.msg, "empty"));
    kiln_session_destroy(s);
}
END_TEST

START_TEST(split_to_sequence_bad_split) {
    mb *b = mb_new(8, 18);
    KilnOnnx__GraphProto *g = mb_graph(b);
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 1, (const int64_t[]){5});
    mb_input(b, g, "sp", KILN_DTYPE_INT64, 1, (const int64_t[]){2});
    mb_node(b, g, "SplitToSequence", "split", L("x", "sp"), L("q"));
    mb_node(b, g, "SequenceLength", "len", L("q"), L("y"));
    mb_output(b, g, "y", KILN_DTYPE_INT64, -1, NULL);
    kiln_session *s;
    ck_assert_int_eq(open_model(b, &s), KILN_OK);
    static const int64_t cases[][2] = {{2, 3}, {2, 2}, {-1, 6}, {6, -1}};
    for (int i = 0; i < 4; i++) {
        kiln_tensor *y, *in[2] = {tensor(KILN_DTYPE_FLOAT, 1, (const int64_t[]){5}, NULL, 0),
                                  tensor(KILN_DTYPE_INT64, 1, (const int64_t[]){2}, cases[i], 16)};
        kiln_status st = run(s, in, 2, &y, 1);
        if (i == 0) {
            ck_assert_int_eq(st, KILN_OK);
            ck_assert_int_eq(((int64_t *)kiln_tensor_data(y))[0], 2);
            kiln_tensor_destroy(y);
        } else {
            ck_assert_int_eq(st, KILN_ERR_SHAPE);
        }
    }
    kiln_session_destroy(s);
}
END_TEST

/* ---- regex ---- */

/* Answers RE2 gives for FullMatch (checked against RE2's documented syntax). */
static const struct {
    const char *pattern, *text;
    int match;
} REGEX[] = {
    {"a*b", "aaab", 1}, {"a*b", "aaa", 0}, {"(a|b)*abb", "babb", 1}, {"x{2,3}", "xxxx", 0}, {"x{2,}", "xxxxx", 1},
    {"x{0}y", "y", 1}, {"[^a-c]+", "xyz", 1}, {"[^a-c]+", "xaz", 0}, {"(?i)hello", "HeLLo", 1}, {"(?i:h)ello", "Hello", 1},
    {"(?i:h)ello", "HELLO", 0}, {"\\d+\\.\\d*", "12.", 1}, {"\\w+@\\w+\\.com", "a_1@b.com", 1}, {"\\w+", "é", 0},
    {"(?s).+", "a\nb", 1}, {".+", "a\nb", 0}, {"^abc$", "abc", 1}, {"(^|x)abc($|y)", "xabcy", 1}, {"a\\bb", "ab", 0},
    {"\\bfoo\\b.*", "foo bar", 1}, {"(?:ab)+", "ababab", 1}, {"(?P<x>a)(?<y>b)c", "abc", 1}, {"(a*)*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0},
    {"[[:alpha:]]+[[:digit:]]*", "abc123", 1}, {"[[:^alpha:]]+", "123", 1}, {"\\x41\\x{42}C", "ABC", 1}, {"a.c", "a\xc3\xa9" "c", 1},
    {"(?i)\xc3\x89", "\xc3\xa9", 1}, {"[\\d\\-]+", "1-2", 1}, {"a|", "", 1}, {"[]a]+", "a]", 1}, {"[a-]+", "a-a", 1},
    {"\\Qa.b\\E", "a.b", 1}, {"\\Qa.b\\E", "axb", 0}, {"a+?b*?", "aabb", 1}, {"(?m)^a$\\n^b$", "a\nb", 1}, {"a{,2}", "a{,2}", 1},
    {"www\\.[\\w.-]+\\.\\bcom\\b", "www.bbc.co.uk", 0}, {"(a?){20}a{20}", "aaaaaaaaaaaaaaaaaaaa", 1},
};

static const struct {
    const char *pattern;
    kiln_status status;
} BAD_REGEX[] = {
    {"a**", KILN_ERR_INVALID_MODEL}, {"(a", KILN_ERR_INVALID_MODEL}, {"a)", KILN_ERR_INVALID_MODEL}, {"[a", KILN_ERR_INVALID_MODEL},
    {"\\1", KILN_ERR_INVALID_MODEL}, {"(?=a)", KILN_ERR_INVALID_MODEL}, {"x{3,2}", KILN_ERR_INVALID_MODEL},
    {"\\p{L}", KILN_ERR_UNSUPPORTED}, {"a{1001}", KILN_ERR_UNSUPPORTED}, {"((a{1000}){1000}){1000}", KILN_ERR_UNSUPPORTED},
    {"*", KILN_ERR_INVALID_MODEL}, {"\\", KILN_ERR_INVALID_MODEL}, {"[z-a]", KILN_ERR_INVALID_MODEL},
};

static kiln_status regex_model(const char *pattern, kiln_session **s) {
    mb *b = mb_new(8, 20);
    KilnOnnx__GraphProto *g = mb_graph(b);
    mb_input(b, g, "x", KILN_DTYPE_STRING, 1, (const int64_t[]){-1});
    KilnOnnx__NodeProto *n = mb_node(b, g, "RegexFullMatch", "re", L("x"), L("y"));
    mb_attr_string(b, n, "pattern", pattern);
    mb_output(b, g, "y", KILN_DTYPE_BOOL, -1, NULL);
    return open_model(b, s);
}

START_TEST(regex_re2_answers) {
    for (size_t i = 0; i < sizeof(REGEX) / sizeof(REGEX[0]); i++) {
        kiln_session *s;
        ck_assert_msg(regex_model(REGEX[i].pattern, &s) == KILN_OK, "%s: %s", REGEX[i].pattern, err.msg);
        kiln_tensor *y, *in[1] = {strings(L(REGEX[i].text))};
        ck_assert_int_eq(run(s, in, 1, &y, 1), KILN_OK);
        ck_assert_msg(((uint8_t *)kiln_tensor_data(y))[0] == REGEX[i].match, "pattern '%s' on '%s'", REGEX[i].pattern,
                      REGEX[i].text);
        kiln_tensor_destroy(y);
        kiln_session_destroy(s);
    }
    for (size_t i = 0; i < sizeof(BAD_REGEX) / sizeof(BAD_REGEX[0]); i++) {
        kiln_session *s;
        kiln_status st = regex_model(BAD_REGEX[i].pattern, &s);
        ck_assert_msg(st == BAD_REGEX[i].status, "pattern '%s': status %d (%s)", BAD_REGEX[i].pattern, st, err.msg);
        ck_assert_ptr_nonnull(strstr(err.msg, "regex pattern"));
    }
}
END_TEST

/* ---- strings ---- */

START_TEST(string_split_and_normalize_edges) {
    mb *b = mb_new(8, 20);
    KilnOnnx__GraphProto *g = mb_graph(b);
    mb_input(b, g, "x", KILN_DTYPE_STRING, 1, (const int64_t[]){-1});
    KilnOnnx__NodeProto *n = mb_node(b, g, "StringSplit", "split", L("x"), L("y", "z"));
    mb_attr_int(b, n, "maxsplit", 1);
    n = mb_node(b, g, "StringNormalizer", "norm", L("x"), L("w"));
    mb_attr_string(b, n, "case_change_action", "UPPER");
    attr_strings(b, n, "stopwords", L("  a b  ", "", "\xc3\xa9t\xc3\xa9"));
    mb_output(b, g, "y", KILN_DTYPE_STRING, -1, NULL);
    mb_output(b, g, "z", KILN_DTYPE_INT64, -1, NULL);
    mb_output(b, g, "w", KILN_DTYPE_STRING, -1, NULL);
    kiln_session *s;
    ck_assert_int_eq(open_model(b, &s), KILN_OK);
    kiln_tensor *out[3], *in[1] = {strings(L("  a b  ", "", "\xc3\x89T\xc3\xa9", "x"))};
    ck_assert_int_eq(run(s, in, 1, out, 3), KILN_OK);
    /* Whitespace split with maxsplit 1 keeps the rest as Python does: "a", "b  ". */
    ck_assert_int_eq(kiln_tensor_dims(out[0])[1], 2);
    ck_assert_str_eq(kiln_tensor_string(out[0], 0), "a");
    ck_assert_str_eq(kiln_tensor_string(out[0], 1), "b  ");
    ck_assert_int_eq(((int64_t *)kiln_tensor_data(out[1]))[1], 0);
    /* Stopwords match case-insensitively (É = é): only "x" survives, uppercased. */
    ck_assert_int_eq(kiln_tensor_dims(out[2])[0], 1);
    ck_assert_str_eq(kiln_tensor_string(out[2], 0), "X");
    for (int i = 0; i < 3; i++) kiln_tensor_destroy(out[i]);
    /* Everything dropped: one empty string. */
    kiln_tensor *in2[1] = {strings(L("", ""))};
    ck_assert_int_eq(run(s, in2, 1, out, 3), KILN_OK);
    ck_assert_int_eq(kiln_tensor_dims(out[2])[0], 1);
    ck_assert_str_eq(kiln_tensor_string(out[2], 0), "");
    for (int i = 0; i < 3; i++) kiln_tensor_destroy(out[i]);
    kiln_session_destroy(s);
}
END_TEST

START_TEST(tfidf_bad_attributes) {
    static const int64_t bad_idx[] = {0, -1}, ok_idx[] = {0, 1}, bad_counts[] = {0, 5};
    for (int k = 0; k < 3; k++) {
        mb *b = mb_new(8, 9);
        KilnOnnx__GraphProto *g = mb_graph(b);
        mb_input(b, g, "x", KILN_DTYPE_INT64, 1, (const int64_t[]){4});
        KilnOnnx__NodeProto *n = mb_node(b, g, "TfIdfVectorizer", "tfidf", L("x"), L("y"));
        mb_attr_string(b, n, "mode", k == 2 ? "BM25" : "TF");
        mb_attr_int(b, n, "min_gram_length", 1);
        mb_attr_int(b, n, "max_gram_length", 1);
        mb_attr_int(b, n, "max_skip_count", 0);
        mb_attr_ints(b, n, "ngram_counts", k == 1 ? bad_counts : (const int64_t[]){0}, k == 1 ? 2 : 1);
        mb_attr_ints(b, n, "ngram_indexes", k == 0 ? bad_idx : ok_idx, 2);
        mb_attr_ints(b, n, "pool_int64s", (const int64_t[]){7, 8}, 2);
        mb_output(b, g, "y", KILN_DTYPE_FLOAT, -1, NULL);
        kiln_session *s;
        ck_assert_int_eq(open_model(b, &s), KILN_ERR_INVALID_MODEL);
    }
}
END_TEST

/* ---- ai.onnx.ml ---- */

static mb *tree(const int64_t *truenodes, const int64_t *trueleafs, int64_t feature) {
    mb *b = mb_new(8, 21);
    import_domain(b, "ai.onnx.ml", 5);
    KilnOnnx__GraphProto *g = mb_graph(b);
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 2, (const int64_t[]){1, 2});
    KilnOnnx__NodeProto *n = mb_node(b, g, "TreeEnsemble", "tree", L("x"), L("y"));
    n->domain = mb_str(b, "ai.onnx.ml");
    mb_attr_ints(b, n, "nodes_featureids", (const int64_t[]){feature, 0}, 2);
    mb_attr_tensor(b, n, "nodes_splits", mb_tensor_raw(b, "", KILN_DTYPE_FLOAT, 1, (const int64_t[]){2}, (const float[]){0, 0}, 8));
    mb_attr_tensor(b, n, "nodes_modes", mb_tensor_raw(b, "", KILN_DTYPE_UINT8, 1, (const int64_t[]){2}, (const uint8_t[]){0, 0}, 2));
    mb_attr_ints(b, n, "nodes_truenodeids", truenodes, 2);
    mb_attr_ints(b, n, "nodes_falsenodeids", (const int64_t[]){0, 1}, 2);
    mb_attr_ints(b, n, "nodes_trueleafs", trueleafs, 2);
    mb_attr_ints(b, n, "nodes_falseleafs", (const int64_t[]){1, 1}, 2);
    mb_attr_ints(b, n, "leaf_targetids", (const int64_t[]){0, 0}, 2);
    mb_attr_tensor(b, n, "leaf_weights", mb_tensor_raw(b, "", KILN_DTYPE_FLOAT, 1, (const int64_t[]){2}, (const float[]){1, 2}, 8));
    mb_attr_ints(b, n, "tree_roots", (const int64_t[]){0}, 1);
    mb_attr_int(b, n, "n_targets", 1);
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, -1, NULL);
    return b;
}

START_TEST(tree_ensemble_hostile_trees) {
    kiln_session *s;
    /* A branch to a node that does not exist. */
    ck_assert_int_eq(open_model(tree((const int64_t[]){7, 0}, (const int64_t[]){0, 1}, 0), &s), KILN_ERR_INVALID_MODEL);
    /* Node 0 -> node 1 -> node 0: a cycle, found when a row walks it. */
    ck_assert_int_eq(open_model(tree((const int64_t[]){1, 0}, (const int64_t[]){0, 0}, 0), &s), KILN_OK);
    kiln_tensor *y, *in[1] = {tensor(KILN_DTYPE_FLOAT, 2, (const int64_t[]){1, 2}, (const float[]){-1, -1}, 8)};
    ck_assert_int_eq(run(s, in, 1, &y, 1), KILN_ERR_INVALID_MODEL);
    ck_assert_ptr_nonnull(strstr(err.msg, "cycle"));
    kiln_session_destroy(s);
    /* A feature beyond the input's columns. */
    ck_assert_int_eq(open_model(tree((const int64_t[]){1, 0}, (const int64_t[]){1, 1}, 9), &s), KILN_OK);
    kiln_tensor *in2[1] = {tensor(KILN_DTYPE_FLOAT, 2, (const int64_t[]){1, 2}, (const float[]){-1, -1}, 8)};
    ck_assert_int_eq(run(s, in2, 1, &y, 1), KILN_ERR_SHAPE);
    kiln_session_destroy(s);
}
END_TEST

START_TEST(label_encoder_mismatches) {
    for (int k = 0; k < 2; k++) {
        mb *b = mb_new(8, 21);
        import_domain(b, "ai.onnx.ml", 4);
        KilnOnnx__GraphProto *g = mb_graph(b);
        mb_input(b, g, "x", k ? KILN_DTYPE_FLOAT : KILN_DTYPE_INT64, 1, (const int64_t[]){2});
        KilnOnnx__NodeProto *n = mb_node(b, g, "LabelEncoder", "enc", L("x"), L("y"));
        n->domain = mb_str(b, "ai.onnx.ml");
        mb_attr_ints(b, n, "keys_int64s", (const int64_t[]){1, 2}, 2);
        attr_strings(b, n, "values_strings", k ? L("a", "b") : L("a"));
        mb_output(b, g, "y", KILN_DTYPE_STRING, -1, NULL);
        kiln_session *s;
        ck_assert_int_eq(open_model(b, &s), KILN_ERR_INVALID_MODEL);
        ck_assert_ptr_nonnull(strstr(err.msg, k ? "keys are int64" : "2 keys but 1 values"));
    }
}
END_TEST

/* ---- images ---- */

/* A 2x2 RGB PNG (filter 0 rows) and a 2x1 24-bit BMP, written by hand. */
static const uint8_t PNG_2X2[] = {
    137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 2, 0, 0, 0, 2, 8, 2, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 25, 73, 68, 65, 84, 120, 1, 1, 14, 0, 241, 255, 0, 255, 0, 0, 0, 255, 0, 0, 0, 0, 255, 9, 9, 9, 26, 42,
    3, 25, 0, 0, 0, 0, 0, 0, 0, 0, 73, 69, 78, 68, 0, 0, 0, 0};
static const uint8_t BMP_2X1[] = {'B', 'M', 62, 0, 0, 0, 0, 0, 0, 0, 54, 0, 0, 0, 40, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0,
                                  1, 0, 24, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                  10, 20, 30, 40, 50, 60, 0, 0};

static kiln_session *image_session(const char *format) {
    mb *b = mb_new(8, 20);
    KilnOnnx__GraphProto *g = mb_graph(b);
    mb_input(b, g, "x", KILN_DTYPE_UINT8, 1, (const int64_t[]){-1});
    KilnOnnx__NodeProto *n = mb_node(b, g, "ImageDecoder", "dec", L("x"), L("y"));
    mb_attr_string(b, n, "pixel_format", format);
    mb_output(b, g, "y", KILN_DTYPE_UINT8, -1, NULL);
    kiln_session *s;
    ck_assert_int_eq(open_model(b, &s), KILN_OK);
    return s;
}

static kiln_status decode(kiln_session *s, const uint8_t *data, size_t n, kiln_tensor **y) {
    int64_t len = (int64_t)n;
    kiln_tensor *in[1] = {tensor(KILN_DTYPE_UINT8, 1, &len, data, n)};
    return run(s, in, 1, y, 1);
}

START_TEST(image_decoder_small_images) {
    kiln_session *s = image_session("BGR");
    kiln_tensor *y;
    ck_assert_int_eq(decode(s, PNG_2X2, sizeof(PNG_2X2), &y), KILN_OK);
    const uint8_t *p = kiln_tensor_data(y);
    ck_assert_int_eq(kiln_tensor_dims(y)[0], 2);
    ck_assert_int_eq(p[0], 0); /* red, as BGR */
    ck_assert_int_eq(p[2], 255);
    ck_assert_int_eq(p[9], 9);
    kiln_tensor_destroy(y);
    ck_assert_int_eq(decode(s, BMP_2X1, sizeof(BMP_2X1), &y), KILN_OK);
    p = kiln_tensor_data(y);
    ck_assert_int_eq(kiln_tensor_dims(y)[1], 2);
    ck_assert_int_eq(p[0], 10); /* BMP stores BGR */
    ck_assert_int_eq(p[5], 60);
    kiln_tensor_destroy(y);
    /* Unknown data: an empty image. WebP: refused by name. */
    ck_assert_int_eq(decode(s, (const uint8_t *)"hello", 5, &y), KILN_OK);
    ck_assert_int_eq(kiln_tensor_dims(y)[0], 0);
    kiln_tensor_destroy(y);
    ck_assert_int_eq(decode(s, (const uint8_t *)"RIFF\0\0\0\0WEBPVP8 ", 16, &y), KILN_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err.msg, "WebP"));
    kiln_session_destroy(s);
}
END_TEST

/* Every truncation and many byte flips of small images decode or come back empty or refused,
 * never crash (the ASan build checks the reads). */
START_TEST(image_decoder_damaged_streams) {
    kiln_session *s = image_session("Grayscale");
    static const char PNM[] = "P6\n2 1\n255\n\x01\x02\x03\x04\x05\x06";
    static const uint8_t TIFF[] = {'I', 'I', 42, 0, 8, 0, 0, 0, 5, 0, 0, 1, 3, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 3, 0, 1,
                                   0, 0, 0, 1, 0, 0, 0, 6, 1, 3, 0, 1, 0, 0, 0, 1, 0, 0, 0, 17, 1, 4, 0, 1, 0, 0, 0, 74,
                                   0, 0, 0, 21, 1, 3, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 77};
    const struct {
        const uint8_t *d;
        size_t n;
    } imgs[] = {{PNG_2X2, sizeof(PNG_2X2)}, {BMP_2X1, sizeof(BMP_2X1)}, {(const uint8_t *)PNM, sizeof(PNM) - 1},
                {TIFF, sizeof(TIFF)}};
    uint8_t buf[128];
    uint32_t seed = 1;
    for (size_t k = 0; k < sizeof(imgs) / sizeof(imgs[0]); k++) {
        kiln_tensor *y;
        ck_assert_msg(decode(s, imgs[k].d, imgs[k].n, &y) == KILN_OK, "image %zu: %s", k, err.msg);
        ck_assert_int_gt(kiln_tensor_dims(y)[0], 0);
        kiln_tensor_destroy(y);
        for (size_t cut = 0; cut < imgs[k].n; cut++) {
            kiln_status st = decode(s, imgs[k].d, cut, &y);
            ck_assert_msg(st == KILN_OK || st == KILN_ERR_UNSUPPORTED, "image %zu cut %zu: %s", k, cut, err.msg);
            kiln_tensor_destroy(y);
        }
        for (int flip = 0; flip < 400; flip++) {
            memcpy(buf, imgs[k].d, imgs[k].n);
            for (int f = 0; f < 3; f++) {
                seed = seed * 1103515245u + 12345u;
                buf[(seed >> 8) % imgs[k].n] = (uint8_t)(seed >> 20);
            }
            kiln_status st = decode(s, buf, imgs[k].n, &y);
            ck_assert_msg(st == KILN_OK || st == KILN_ERR_UNSUPPORTED, "image %zu flip %d: %s", k, flip, err.msg);
            kiln_tensor_destroy(y);
        }
    }
    kiln_session_destroy(s);
}
END_TEST

/* ---- refusals ---- */

START_TEST(random_and_training_ops_refused) {
    const char *ops[][2] = {{"RandomNormal", ""}, {"Bernoulli", ""}, {"Adam", "ai.onnx.preview.training"}};
    for (int k = 0; k < 3; k++) {
        mb *b = mb_new(8, 18);
        if (*ops[k][1]) import_domain(b, ops[k][1], 1);
        KilnOnnx__GraphProto *g = mb_graph(b);
        mb_input(b, g, "x", KILN_DTYPE_FLOAT, 1, (const int64_t[]){2});
        KilnOnnx__NodeProto *n = mb_node(b, g, ops[k][0], "op", k == 0 ? NONE : L("x"), L("y"));
        if (*ops[k][1]) n->domain = mb_str(b, ops[k][1]);
        if (k == 0) mb_attr_ints(b, n, "shape", (const int64_t[]){2}, 1);
        mb_output(b, g, "y", KILN_DTYPE_FLOAT, -1, NULL);
        kiln_session *s;
        ck_assert_int_eq(open_model(b, &s), KILN_ERR_UNSUPPORTED);
        ck_assert_ptr_nonnull(strstr(err.msg, ops[k][0]));
        ck_assert_ptr_nonnull(strstr(err.msg, k == 2 ? "training" : "non-deterministic"));
    }
}
END_TEST

/* ---- allocation failure ---- */

/* Loop building a sequence (SequenceInsert) with a scan output, then ConcatFromSequence: every
 * allocation is failed in turn; each attempt must fail cleanly or succeed, leaking nothing. */
START_TEST(loop_over_sequences_out_of_memory) {
    mb *b = mb_new(8, 13);
    KilnOnnx__GraphProto *g = mb_graph(b), *body = mb_subgraph(b, "body");
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 1, (const int64_t[]){2});
    mb_initializer(b, g, i64s(b, "M", 0, NULL, (const int64_t[]){3}, 1));
    mb_input(b, body, "i", KILN_DTYPE_INT64, 0, NULL);
    mb_input(b, body, "c", KILN_DTYPE_BOOL, 0, NULL);
    mb_input(b, body, "q", KILN_DTYPE_FLOAT, -1, NULL);
    body->input[2]->type->tensor_type = NULL; /* typed by the loop: a sequence */
    body->input[2]->type->value_case = KILN_ONNX__TYPE_PROTO__VALUE__NOT_SET;
    mb_node(b, body, "Identity", "keep", L("c"), L("co"));
    mb_node(b, body, "SequenceInsert", "ins", L("q", "x"), L("qo"));
    mb_node(b, body, "Identity", "scan", L("x"), L("so"));
    mb_output(b, body, "co", KILN_DTYPE_BOOL, 0, NULL);
    mb_output(b, body, "qo", KILN_DTYPE_FLOAT, -1, NULL);
    body->output[1]->type = NULL;
    mb_output(b, body, "so", KILN_DTYPE_FLOAT, -1, NULL);
    mb_node(b, g, "SequenceEmpty", "empty", NONE, L("e"));
    KilnOnnx__NodeProto *n = mb_node(b, g, "Loop", "loop", L("M", "", "e"), L("qf", "s"));
    mb_attr_graph(b, n, "body", body);
    n = mb_node(b, g, "ConcatFromSequence", "cat", L("qf"), L("y"));
    mb_attr_int(b, n, "axis", 0);
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, -1, NULL);
    mb_output(b, g, "s", KILN_DTYPE_FLOAT, -1, NULL);
    size_t size;
    const uint8_t *p = mb_pack(b, &size);
    int succeeded = 0;
    long fail_at;
    for (fail_at = 1; fail_at < 100000 && !succeeded; fail_at++) {
        test_alloc ta;
        test_alloc_init(&ta);
        atomic_store(&ta.fail_at, fail_at);
        kiln_env *e = NULL;
        kiln_error er = {0};
        kiln_session *s = NULL;
        kiln_tensor *x = NULL, *out[2] = {NULL, NULL};
        kiln_status st = kiln_env_create_with_allocator(&ta.a, &e, &er);
        if (st == KILN_OK) st = kiln_session_create_from_buffer(e, p, size, NULL, &s, &er);
        if (st == KILN_OK) st = kiln_tensor_create(e, KILN_DTYPE_FLOAT, (const int64_t[]){2}, 1, &x, &er);
        if (st == KILN_OK) st = kiln_session_run(s, NULL, (const kiln_tensor *const *)&x, 1, NULL, out, 2, &er);
        if (st == KILN_OK) {
            succeeded = 1;
            ck_assert_int_eq(kiln_tensor_dims(out[0])[0], 6);
            ck_assert_int_eq(kiln_tensor_dims(out[1])[0], 3);
        } else {
            ck_assert_msg(st == KILN_ERR_OUT_OF_MEMORY, "fail_at %ld: status %d (%s)", fail_at, st, er.msg);
        }
        kiln_tensor_destroy(out[0]);
        kiln_tensor_destroy(out[1]);
        kiln_tensor_destroy(x);
        kiln_session_destroy(s);
        kiln_env_destroy(e);
        ck_assert_msg(test_alloc_live(&ta) == 0, "fail_at %ld: %ld blocks leaked", fail_at, test_alloc_live(&ta));
    }
    ck_assert_msg(succeeded, "never succeeded");
    mb_free(b);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("control-strings");
    TCase *t = tcase_create("control-strings");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 120);
    tcase_add_test(t, loop_trip_counts);
    tcase_add_test(t, loop_refusals);
    tcase_add_test(t, loop_body_signature_checked);
    tcase_add_test(t, if_dead_branch_and_bad_cond);
    tcase_add_test(t, scan_bad_axes_and_lengths);
    tcase_add_test(t, sequence_positions_checked);
    tcase_add_test(t, sequence_type_errors);
    tcase_add_test(t, split_to_sequence_bad_split);
    tcase_add_test(t, regex_re2_answers);
    tcase_add_test(t, string_split_and_normalize_edges);
    tcase_add_test(t, tfidf_bad_attributes);
    tcase_add_test(t, tree_ensemble_hostile_trees);
    tcase_add_test(t, label_encoder_mismatches);
    tcase_add_test(t, image_decoder_small_images);
    tcase_add_test(t, image_decoder_damaged_streams);
    tcase_add_test(t, random_and_training_ops_refused);
    tcase_add_test(t, loop_over_sequences_out_of_memory);
    suite_add_tcase(s, t);
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
