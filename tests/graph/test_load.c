/* SPDX-License-Identifier: MIT */
/* Loading ONNX models: every TensorProto storage form, external data, sparse initializers,
 * model-local functions, subgraphs reading outer values, metadata, symbolic dims, loading from a
 * buffer and from a file. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/model_builder.h"
#include "graph/load.h"
#include "kiln.h"

static kiln_env *env;
static kiln_error err;

static void setup(void) { ck_assert_int_eq(kiln_env_create(&env, &err), KILN_OK); }
static void teardown(void) { kiln_env_destroy(env); }

static kiln_session *session_from(mb *b) {
    size_t n;
    const uint8_t *p = mb_pack(b, &n);
    kiln_session *s = NULL;
    kiln_status st = kiln_session_create_from_buffer(env, p, n, NULL, &s, &err);
    ck_assert_msg(st == KILN_OK, "session: %s", err.msg);
    return s;
}

/* Runs a model with no inputs and returns its single output. */
static kiln_tensor *run_single(kiln_session *s) {
    kiln_tensor *out = NULL;
    kiln_status st = kiln_session_run(s, NULL, NULL, 0, NULL, &out, 1, &err);
    ck_assert_msg(st == KILN_OK, "run: %s", err.msg);
    return out;
}

/* A model whose output is Identity(initializer t). */
static mb *identity_of(KilnOnnx__TensorProto *t, mb *b) {
    mb_initializer(b, mb_graph(b), t);
    mb_node(b, mb_graph(b), "Identity", "id", (const char *[]){t->name, NULL}, (const char *[]){"y", NULL});
    mb_output(b, mb_graph(b), "y", t->data_type, -1, NULL);
    return b;
}

START_TEST(storage_float_forms) {
    const int64_t dims[2] = {2, 3};
    const float want[6] = {1.5f, -2.0f, 0.0f, 3.25f, 1e-3f, -7.0f};
    for (int form = 0; form < 2; form++) {
        mb *b = mb_new(8, 17);
        KilnOnnx__TensorProto *t;
        if (form == 0) {
            t = mb_tensor_raw(b, "w", KILN_DTYPE_FLOAT, 2, dims, want, sizeof(want));
        } else {
            t = mb_tensor(b, "w", KILN_DTYPE_FLOAT, 2, dims);
            t->n_float_data = 6;
            t->float_data = mb_alloc(b, sizeof(want));
            memcpy(t->float_data, want, sizeof(want));
        }
        kiln_session *s = session_from(identity_of(t, b));
        kiln_tensor *y = run_single(s);
        ck_assert_int_eq(kiln_tensor_rank(y), 2);
        ck_assert_int_eq(kiln_tensor_dims(y)[1], 3);
        ck_assert_msg(memcmp(kiln_tensor_data(y), want, sizeof(want)) == 0, "form %d: values differ", form);
        kiln_tensor_destroy(y);
        kiln_session_destroy(s);
        mb_free(b);
    }
}
END_TEST

/* int32_data carries 8- and 16-bit types (and float16/bfloat16 bit patterns) one per item. */
START_TEST(storage_int32_data_narrow_types) {
    const struct {
        int32_t dtype;
        int32_t items[4];
        uint8_t bytes[8];
        size_t size;
    } cases[] = {
        {KILN_DTYPE_INT8, {-1, 2, -128, 127}, {0xff, 2, 0x80, 0x7f}, 1},
        {KILN_DTYPE_UINT8, {0, 1, 200, 255}, {0, 1, 200, 255}, 1},
        {KILN_DTYPE_BOOL, {1, 0, 1, 1}, {1, 0, 1, 1}, 1},
        {KILN_DTYPE_INT16, {-2, 300, 0, 7}, {0xfe, 0xff, 0x2c, 0x01, 0, 0, 7, 0}, 2},
        {KILN_DTYPE_FLOAT16, {0x3c00, 0xc000, 0x0000, 0x7bff}, {0x00, 0x3c, 0x00, 0xc0, 0, 0, 0xff, 0x7b}, 2},
        {KILN_DTYPE_BFLOAT16, {0x3f80, 0x4000, 0xbf80, 0}, {0x80, 0x3f, 0x00, 0x40, 0x80, 0xbf, 0, 0}, 2},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        mb *b = mb_new(8, 17);
        KilnOnnx__TensorProto *t = mb_tensor(b, "w", cases[c].dtype, 1, (const int64_t[]){4});
        t->n_int32_data = 4;
        t->int32_data = mb_alloc(b, sizeof(cases[c].items));
        memcpy(t->int32_data, cases[c].items, sizeof(cases[c].items));
        kiln_session *s = session_from(identity_of(t, b));
        kiln_tensor *y = run_single(s);
        ck_assert_int_eq(kiln_tensor_dtype(y), cases[c].dtype);
        ck_assert_msg(memcmp(kiln_tensor_data(y), cases[c].bytes, 4 * cases[c].size) == 0, "%s: bytes differ",
                      kiln_dtype_name((kiln_dtype)cases[c].dtype));
        kiln_tensor_destroy(y);
        kiln_session_destroy(s);
        mb_free(b);
    }
}
END_TEST

START_TEST(storage_wide_types) {
    /* int64_data, double_data, uint64_data (also carrying uint32). */
    mb *b = mb_new(8, 17);
    KilnOnnx__TensorProto *t = mb_tensor(b, "w", KILN_DTYPE_INT64, 1, (const int64_t[]){3});
    int64_t iv[3] = {-5, 1LL << 40, 7};
    t->n_int64_data = 3;
    t->int64_data = mb_alloc(b, sizeof(iv));
    memcpy(t->int64_data, iv, sizeof(iv));
    kiln_session *s = session_from(identity_of(t, b));
    kiln_tensor *y = run_single(s);
    ck_assert(memcmp(kiln_tensor_data(y), iv, sizeof(iv)) == 0);
    kiln_tensor_destroy(y);
    kiln_session_destroy(s);
    mb_free(b);

    b = mb_new(8, 17);
    t = mb_tensor(b, "w", KILN_DTYPE_DOUBLE, 1, (const int64_t[]){2});
    double dv[2] = {3.141592653589793, -1e300};
    t->n_double_data = 2;
    t->double_data = mb_alloc(b, sizeof(dv));
    memcpy(t->double_data, dv, sizeof(dv));
    s = session_from(identity_of(t, b));
    y = run_single(s);
    ck_assert(memcmp(kiln_tensor_data(y), dv, sizeof(dv)) == 0);
    kiln_tensor_destroy(y);
    kiln_session_destroy(s);
    mb_free(b);

    b = mb_new(8, 17);
    t = mb_tensor(b, "w", KILN_DTYPE_UINT32, 1, (const int64_t[]){2});
    uint64_t uv[2] = {4000000000u, 9};
    t->n_uint64_data = 2;
    t->uint64_data = mb_alloc(b, sizeof(uv));
    memcpy(t->uint64_data, uv, sizeof(uv));
    s = session_from(identity_of(t, b));
    y = run_single(s);
    ck_assert_uint_eq(((uint32_t *)kiln_tensor_data(y))[0], 4000000000u);
    ck_assert_uint_eq(((uint32_t *)kiln_tensor_data(y))[1], 9);
    kiln_tensor_destroy(y);
    kiln_session_destroy(s);
    mb_free(b);
}
END_TEST

START_TEST(storage_strings_and_int4) {
    mb *b = mb_new(10, 21);
    KilnOnnx__TensorProto *t = mb_tensor(b, "w", KILN_DTYPE_STRING, 1, (const int64_t[]){3});
    const char *words[3] = {"kiln", "", "fired clay"};
    t->n_string_data = 3;
    t->string_data = mb_alloc(b, 3 * sizeof(ProtobufCBinaryData));
    for (int i = 0; i < 3; i++) {
        t->string_data[i].data = (uint8_t *)mb_str(b, words[i]);
        t->string_data[i].len = strlen(words[i]);
    }
    kiln_session *s = session_from(identity_of(t, b));
    kiln_tensor *y = run_single(s);
    for (int i = 0; i < 3; i++) ck_assert_str_eq(kiln_tensor_string(y, (size_t)i), words[i]);
    kiln_tensor_destroy(y);
    kiln_session_destroy(s);
    mb_free(b);

    /* int4: two elements per int32_data item (one byte each), first in the low nibble. */
    b = mb_new(10, 21);
    t = mb_tensor(b, "w", KILN_DTYPE_INT4, 1, (const int64_t[]){3});
    t->n_int32_data = 2;
    t->int32_data = mb_alloc(b, 2 * sizeof(int32_t));
    t->int32_data[0] = 0x7f; /* elements -1 (0xf) and 7 */
    t->int32_data[1] = 0x08; /* element -8, high nibble unused */
    s = session_from(identity_of(t, b));
    y = run_single(s);
    ck_assert_int_eq(kiln_tensor_byte_size(y), 2);
    ck_assert_uint_eq(((uint8_t *)kiln_tensor_data(y))[0], 0x7f);
    ck_assert_uint_eq(((uint8_t *)kiln_tensor_data(y))[1] & 0x0f, 0x08);
    kiln_tensor_destroy(y);
    kiln_session_destroy(s);
    mb_free(b);
}
END_TEST

START_TEST(storage_size_mismatch_rejected) {
    mb *b = mb_new(8, 17);
    const float v[3] = {1, 2, 3};
    KilnOnnx__TensorProto *t = mb_tensor_raw(b, "w", KILN_DTYPE_FLOAT, 1, (const int64_t[]){4}, v, sizeof(v));
    identity_of(t, b);
    size_t n;
    const uint8_t *p = mb_pack(b, &n);
    kiln_session *s = NULL;
    ck_assert_int_eq(kiln_session_create_from_buffer(env, p, n, NULL, &s, &err), KILN_ERR_INVALID_MODEL);
    ck_assert_ptr_null(s);
    ck_assert_msg(strstr(err.msg, "raw_data holds 12 bytes") && strstr(err.msg, "'w'"), "message: %s", err.msg);
    mb_free(b);
}
END_TEST

/* ---- external data ---- */

static char tmpdir[256];

static void make_tmpdir(void) {
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/kiln-test-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(p, 1, n, f), n);
    fclose(f);
}

/* A model in tmpdir whose output is Identity of a float[4] stored externally. */
static kiln_status external_model(const char *location, int64_t offset, int64_t length, kiln_tensor **out) {
    char path[512];
    mb *b = mb_new(8, 17);
    KilnOnnx__TensorProto *t = mb_tensor(b, "w", KILN_DTYPE_FLOAT, 1, (const int64_t[]){4});
    mb_external(b, t, location, offset, length);
    identity_of(t, b);
    snprintf(path, sizeof(path), "%s/model.onnx", tmpdir);
    ck_assert_int_eq(mb_save(b, path), 0);
    mb_free(b);
    kiln_session *s = NULL;
    kiln_status st = kiln_session_create(env, path, NULL, &s, &err);
    if (st == KILN_OK) {
        *out = run_single(s);
        kiln_session_destroy(s);
    }
    return st;
}

START_TEST(external_data) {
    make_tmpdir();
    char path[512];
    float blob[8] = {0, 0, 1, 2, 3, 4, 0, 0};
    snprintf(path, sizeof(path), "%s/weights.bin", tmpdir);
    write_bytes(path, blob, sizeof(blob));
    kiln_tensor *y = NULL;
    ck_assert_msg(external_model("weights.bin", 8, 16, &y) == KILN_OK, "%s", err.msg);
    ck_assert(memcmp(kiln_tensor_data(y), blob + 2, 16) == 0);
    kiln_tensor_destroy(y);
    /* Length omitted: the rest of the file, which must then be the tensor's size. */
    ck_assert_msg(external_model("weights.bin", 16, -1, &y) == KILN_OK, "%s", err.msg);
    ck_assert(memcmp(kiln_tensor_data(y), blob + 4, 16) == 0);
    kiln_tensor_destroy(y);

    /* Refused: escaping the folder, absolute paths, ranges past the end, symlinks out. */
    ck_assert_int_eq(external_model("../weights.bin", 0, 16, &y), KILN_ERR_INVALID_MODEL);
    ck_assert_msg(strstr(err.msg, "escapes"), "%s", err.msg);
    ck_assert_int_eq(external_model("sub/../../x.bin", 0, 16, &y), KILN_ERR_INVALID_MODEL);
    ck_assert_int_eq(external_model("/etc/passwd", 0, 16, &y), KILN_ERR_INVALID_MODEL);
    ck_assert_int_eq(external_model("weights.bin", 24, 16, &y), KILN_ERR_INVALID_MODEL);
    ck_assert_msg(strstr(err.msg, "past the end"), "%s", err.msg);
    ck_assert_int_eq(external_model("weights.bin", 0, 12, &y), KILN_ERR_INVALID_MODEL);
    snprintf(path, sizeof(path), "%s/link.bin", tmpdir);
    ck_assert_int_eq(symlink("/etc/hostname", path), 0);
    ck_assert_int_eq(external_model("link.bin", 0, 16, &y), KILN_ERR_INVALID_MODEL);
    ck_assert_msg(strstr(err.msg, "escapes"), "%s", err.msg);
    ck_assert_int_eq(external_model("missing.bin", 0, 16, &y), KILN_ERR_IO);

    /* From a buffer, external data needs an explicit folder. */
    mb *b = mb_new(8, 17);
    KilnOnnx__TensorProto *t = mb_tensor(b, "w", KILN_DTYPE_FLOAT, 1, (const int64_t[]){4});
    mb_external(b, t, "weights.bin", 8, 16);
    identity_of(t, b);
    size_t n;
    const uint8_t *p = mb_pack(b, &n);
    kiln_session *s = NULL;
    ck_assert_int_eq(kiln_session_create_from_buffer(env, p, n, NULL, &s, &err), KILN_ERR_INVALID_MODEL);
    kiln_session_options *opts;
    ck_assert_int_eq(kiln_session_options_create(&opts, &err), KILN_OK);
    ck_assert_int_eq(kiln_session_options_set_external_data_dir(opts, tmpdir, &err), KILN_OK);
    ck_assert_msg(kiln_session_create_from_buffer(env, p, n, opts, &s, &err) == KILN_OK, "%s", err.msg);
    y = run_single(s);
    ck_assert(memcmp(kiln_tensor_data(y), blob + 2, 16) == 0);
    kiln_tensor_destroy(y);
    kiln_session_destroy(s);
    kiln_session_options_destroy(opts);
    mb_free(b);
}
END_TEST

START_TEST(sparse_initializer) {
    mb *b = mb_new(8, 17);
    KilnOnnx__SparseTensorProto *sp = mb_alloc(b, sizeof(*sp));
    kiln_onnx__sparse_tensor_proto__init(sp);
    const float vals[3] = {5, 6, 7};
    const int64_t idx[3] = {0, 4, 5};
    sp->values = mb_tensor_raw(b, "w", KILN_DTYPE_FLOAT, 1, (const int64_t[]){3}, vals, sizeof(vals));
    sp->indices = mb_tensor_raw(b, "", KILN_DTYPE_INT64, 1, (const int64_t[]){3}, idx, sizeof(idx));
    sp->n_dims = 2;
    sp->dims = mb_alloc(b, 2 * sizeof(int64_t));
    sp->dims[0] = 2;
    sp->dims[1] = 3;
    KilnOnnx__GraphProto *g = mb_graph(b);
    g->n_sparse_initializer = 1;
    g->sparse_initializer = mb_alloc(b, sizeof(void *));
    g->sparse_initializer[0] = sp;
    mb_node(b, g, "Identity", "id", (const char *[]){"w", NULL}, (const char *[]){"y", NULL});
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, 2, (const int64_t[]){2, 3});
    kiln_session *s = session_from(b);
    kiln_tensor *y = run_single(s);
    const float want[6] = {5, 0, 0, 0, 6, 7};
    ck_assert(memcmp(kiln_tensor_data(y), want, sizeof(want)) == 0);
    kiln_tensor_destroy(y);
    kiln_session_destroy(s);
    mb_free(b);
}
END_TEST

/* ---- functions ---- */

static void add_opset(mb *b, const char *domain, int64_t version) {
    KilnOnnx__ModelProto *m = mb_model(b);
    KilnOnnx__OperatorSetIdProto **ops = mb_alloc(b, (m->n_opset_import + 1) * sizeof(void *));
    memcpy(ops, m->opset_import, m->n_opset_import * sizeof(void *));
    KilnOnnx__OperatorSetIdProto *o = mb_alloc(b, sizeof(*o));
    kiln_onnx__operator_set_id_proto__init(o);
    o->domain = mb_str(b, domain);
    o->has_version = 1;
    o->version = version;
    ops[m->n_opset_import++] = o;
    m->opset_import = ops;
}

START_TEST(local_function_expanded) {
    mb *b = mb_new(8, 17);
    add_opset(b, "custom", 1);
    KilnOnnx__FunctionProto *f = mb_alloc(b, sizeof(*f));
    kiln_onnx__function_proto__init(f);
    f->name = mb_str(b, "ScaledAddRelu");
    f->domain = mb_str(b, "custom");
    f->n_input = 2;
    f->input = mb_alloc(b, 2 * sizeof(char *));
    f->input[0] = mb_str(b, "a");
    f->input[1] = mb_str(b, "b");
    f->n_output = 1;
    f->output = mb_alloc(b, sizeof(char *));
    f->output[0] = mb_str(b, "out");
    /* body: k = Constant(value_float = @alpha); t = Add(a, b); u = Mul(t, k); out = Relu(u) */
    KilnOnnx__GraphProto *body = mb_subgraph(b, "body");
    KilnOnnx__NodeProto *kn = mb_node(b, body, "Constant", "k", NULL, (const char *[]){"k", NULL});
    mb_attr_ref(b, kn, "value_float", "alpha");
    mb_node(b, body, "Add", "add", (const char *[]){"a", "b", NULL}, (const char *[]){"t", NULL});
    mb_node(b, body, "Mul", "mul", (const char *[]){"t", "k", NULL}, (const char *[]){"u", NULL});
    mb_node(b, body, "Relu", "relu", (const char *[]){"u", NULL}, (const char *[]){"out", NULL});
    f->n_node = body->n_node;
    f->node = body->node;
    /* default alpha = 2 */
    KilnOnnx__NodeProto scratch;
    kiln_onnx__node_proto__init(&scratch);
    mb_attr_float(b, &scratch, "alpha", 2.0f);
    f->n_attribute_proto = 1;
    f->attribute_proto = scratch.attribute;
    KilnOnnx__ModelProto *m = mb_model(b);
    m->n_functions = 1;
    m->functions = mb_alloc(b, sizeof(void *));
    m->functions[0] = f;

    KilnOnnx__GraphProto *g = mb_graph(b);
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 1, (const int64_t[]){4});
    KilnOnnx__NodeProto *call = mb_node(b, g, "ScaledAddRelu", "call1", (const char *[]){"x", "x", NULL},
                                        (const char *[]){"y", NULL});
    call->domain = mb_str(b, "custom");
    KilnOnnx__NodeProto *call2 = mb_node(b, g, "ScaledAddRelu", "call2", (const char *[]){"y", "x", NULL},
                                         (const char *[]){"z", NULL});
    call2->domain = mb_str(b, "custom");
    mb_attr_float(b, call2, "alpha", 0.5f);
    mb_output(b, g, "z", KILN_DTYPE_FLOAT, 1, (const int64_t[]){4});

    kiln_session *s = session_from(b);
    float xv[4] = {1, -1, 2, -3};
    kiln_tensor *x;
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){4}, 1, xv, sizeof(xv), &x, &err), KILN_OK);
    kiln_tensor *z = NULL;
    ck_assert_msg(kiln_session_run(s, NULL, (const kiln_tensor *const *)&x, 1, NULL, &z, 1, &err) == KILN_OK, "%s", err.msg);
    for (int i = 0; i < 4; i++) {
        float y = fmaxf(0.0f, 2.0f * (xv[i] + xv[i]));
        float want = fmaxf(0.0f, 0.5f * (y + xv[i]));
        ck_assert_float_eq_tol(((float *)kiln_tensor_data(z))[i], want, 1e-6f);
    }
    kiln_tensor_destroy(x);
    kiln_tensor_destroy(z);
    kiln_session_destroy(s);
    mb_free(b);
}
END_TEST

/* ---- subgraphs ---- */

START_TEST(subgraph_outer_scope_resolved) {
    mb *b = mb_new(8, 17);
    KilnOnnx__GraphProto *g = mb_graph(b);
    mb_input(b, g, "cond", KILN_DTYPE_BOOL, 0, NULL);
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 1, (const int64_t[]){2});
    mb_node(b, g, "Relu", "r", (const char *[]){"x", NULL}, (const char *[]){"rx", NULL});
    KilnOnnx__NodeProto *n = mb_node(b, g, "If", "if", (const char *[]){"cond", NULL}, (const char *[]){"y", NULL});
    KilnOnnx__GraphProto *then_g = mb_subgraph(b, "then");
    mb_node(b, then_g, "Identity", "t", (const char *[]){"rx", NULL}, (const char *[]){"ty", NULL});
    mb_output(b, then_g, "ty", KILN_DTYPE_FLOAT, 1, (const int64_t[]){2});
    KilnOnnx__GraphProto *else_g = mb_subgraph(b, "else");
    mb_node(b, else_g, "Identity", "e", (const char *[]){"x", NULL}, (const char *[]){"ey", NULL});
    mb_output(b, else_g, "ey", KILN_DTYPE_FLOAT, 1, (const int64_t[]){2});
    mb_attr_graph(b, n, "then_branch", then_g);
    mb_attr_graph(b, n, "else_branch", else_g);
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, 1, (const int64_t[]){2});
    size_t size;
    const uint8_t *p = mb_pack(b, &size);
    kiln_model *m = NULL;
    ck_assert_msg(kiln_model_load_buffer(&kiln_default_allocator, p, size, NULL, &m, &err) == KILN_OK,
                  "%s", err.msg);
    const kiln_graph *mg = m->graph;
    ck_assert_uint_eq(mg->n_nodes, 2);
    /* Relu must come before If, which reads rx through its then branch. */
    ck_assert_str_eq(mg->nodes[0]->op_type, "Relu");
    const kiln_node *ifn = mg->nodes[1];
    ck_assert_str_eq(ifn->op_type, "If");
    ck_assert_uint_eq(ifn->n_implicit, 2);
    const kiln_graph *tg = ifn->attrs[0].graphs[0];
    const kiln_value *outer = kiln_graph_find(tg, "rx");
    ck_assert_ptr_nonnull(outer);
    ck_assert(outer->flags & KILN_VALUE_F_OUTER);
    ck_assert_ptr_eq(outer->outer, kiln_graph_find(mg, "rx"));
    ck_assert_ptr_eq(tg->parent, mg);
    kiln_model_destroy(m);
    mb_free(b);
}
END_TEST

/* ---- metadata, symbolic dims, file vs buffer ---- */

START_TEST(symbolic_dims_and_metadata) {
    mb *b = mb_new(8, 17);
    KilnOnnx__GraphProto *g = mb_graph(b);
    KilnOnnx__TypeProto *t = mb_tensor_type(b, KILN_DTYPE_FLOAT, 2, (const int64_t[]){-1, 4}, (const char *[]){"N", NULL});
    g->n_input = 1;
    g->input = mb_alloc(b, sizeof(void *));
    g->input[0] = mb_value_info(b, "x", t);
    mb_node(b, g, "Relu", "r", (const char *[]){"x", NULL}, (const char *[]){"y", NULL});
    g->n_output = 1;
    g->output = mb_alloc(b, sizeof(void *));
    g->output[0] = mb_value_info(b, "y", mb_tensor_type(b, KILN_DTYPE_FLOAT, 2, (const int64_t[]){-1, 4}, (const char *[]){"N", NULL}));
    KilnOnnx__ModelProto *m = mb_model(b);
    KilnOnnx__StringStringEntryProto *kv = mb_alloc(b, sizeof(*kv));
    kiln_onnx__string_string_entry_proto__init(kv);
    kv->key = mb_str(b, "author");
    kv->value = mb_str(b, "kiln tests");
    m->n_metadata_props = 1;
    m->metadata_props = mb_alloc(b, sizeof(void *));
    m->metadata_props[0] = kv;
    kiln_session *s = session_from(b);
    ck_assert_str_eq(kiln_session_metadata(s, "author"), "kiln tests");
    ck_assert_ptr_null(kiln_session_metadata(s, "nope"));
    const kiln_io_info *io = kiln_session_input(s, 0);
    ck_assert_str_eq(kiln_io_name(io), "x");
    ck_assert_int_eq(kiln_io_rank(io), 2);
    ck_assert_int_eq(kiln_io_dim(io, 0), -1);
    ck_assert_str_eq(kiln_io_dim_name(io, 0), "N");
    ck_assert_int_eq(kiln_io_dim(io, 1), 4);
    ck_assert_ptr_null(kiln_io_dim_name(io, 1));
    ck_assert_str_eq(kiln_io_dim_name(kiln_session_output(s, 0), 0), "N");
    for (int64_t nrows = 1; nrows <= 5; nrows += 2) {
        kiln_tensor *x = NULL, *y = NULL;
        ck_assert_int_eq(kiln_tensor_create(env, KILN_DTYPE_FLOAT, (const int64_t[]){nrows, 4}, 2, &x, &err), KILN_OK);
        for (int64_t i = 0; i < nrows * 4; i++) ((float *)kiln_tensor_data(x))[i] = (float)(i % 3) - 1.0f;
        ck_assert_msg(kiln_session_run(s, NULL, (const kiln_tensor *const *)&x, 1, NULL, &y, 1, &err) == KILN_OK, "%s",
                      err.msg);
        ck_assert_int_eq(kiln_tensor_dims(y)[0], nrows);
        for (int64_t i = 0; i < nrows * 4; i++)
            ck_assert_float_eq(((float *)kiln_tensor_data(y))[i], fmaxf(0.0f, (float)(i % 3) - 1.0f));
        kiln_tensor_destroy(x);
        kiln_tensor_destroy(y);
    }
    /* A concrete dim that contradicts the model names the input, expected and given dims. */
    kiln_tensor *x = NULL, *y = NULL;
    ck_assert_int_eq(kiln_tensor_create(env, KILN_DTYPE_FLOAT, (const int64_t[]){3, 5}, 2, &x, &err), KILN_OK);
    ck_assert_int_eq(kiln_session_run(s, NULL, (const kiln_tensor *const *)&x, 1, NULL, &y, 1, &err), KILN_ERR_SHAPE);
    ck_assert_msg(strstr(err.msg, "'x'") && strstr(err.msg, "[N,4]") && strstr(err.msg, "[3,5]"), "%s", err.msg);
    ck_assert_ptr_null(y);
    kiln_tensor_destroy(x);
    ck_assert_int_eq(kiln_tensor_create(env, KILN_DTYPE_INT64, (const int64_t[]){3, 4}, 2, &x, &err), KILN_OK);
    ck_assert_int_eq(kiln_session_run(s, NULL, (const kiln_tensor *const *)&x, 1, NULL, &y, 1, &err), KILN_ERR_SHAPE);
    ck_assert_msg(strstr(err.msg, "'x'") && strstr(err.msg, "float") && strstr(err.msg, "int64"), "%s", err.msg);
    kiln_tensor_destroy(x);
    kiln_session_destroy(s);
    mb_free(b);
}
END_TEST

START_TEST(shared_model_from_file_and_buffer) {
    const char *shared = getenv("KILN_SHARED_DIR");
    ck_assert_ptr_nonnull(shared);
    char dir[1024], path[1100];
    snprintf(dir, sizeof(dir), "%s/onnx-tests/node/test_add", shared);
    snprintf(path, sizeof(path), "%s/model.onnx", dir);
    kiln_session *s = NULL;
    ck_assert_msg(kiln_session_create(env, path, NULL, &s, &err) == KILN_OK, "%s", err.msg);
    ck_assert_uint_eq(kiln_session_input_count(s), 2);
    ck_assert_uint_eq(kiln_session_output_count(s), 1);
    ck_assert_int_eq(kiln_io_dtype(kiln_session_input(s, 0)), KILN_DTYPE_FLOAT);
    kiln_tensor *in[2], *want, *got = NULL;
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "%s/test_data_set_0/input_%d.pb", dir, i);
        ck_assert_int_eq(kiln_tensor_load_proto(env, path, KILN_VALUE_TENSOR, &in[i], &err), KILN_OK);
    }
    snprintf(path, sizeof(path), "%s/test_data_set_0/output_0.pb", dir);
    ck_assert_int_eq(kiln_tensor_load_proto(env, path, KILN_VALUE_TENSOR, &want, &err), KILN_OK);
    const char *names[2] = {"y", "x"};
    const kiln_tensor *by_name[2] = {in[1], in[0]};
    const char *out_names[1] = {"sum"};
    ck_assert_msg(kiln_session_run(s, names, by_name, 2, out_names, &got, 1, &err) == KILN_OK, "%s", err.msg);
    int64_t n = kiln_tensor_element_count(want);
    for (int64_t i = 0; i < n; i++)
        ck_assert_float_eq_tol(((float *)kiln_tensor_data(got))[i], ((float *)kiln_tensor_data(want))[i], 1e-6f);
    kiln_session_destroy(s);

    /* The same bytes from a buffer. */
    snprintf(path, sizeof(path), "%s/model.onnx", dir);
    void *data;
    size_t size;
    ck_assert_int_eq(kiln_read_file(&kiln_default_allocator, path, &data, &size, &err), KILN_OK);
    ck_assert_int_eq(kiln_session_create_from_buffer(env, data, size, NULL, &s, &err), KILN_OK);
    kiln_mem_free(&kiln_default_allocator, data);
    kiln_tensor_destroy(got);
    got = NULL;
    ck_assert_int_eq(kiln_session_run(s, NULL, (const kiln_tensor *const *)in, 2, NULL, &got, 1, &err), KILN_OK);
    ck_assert(memcmp(kiln_tensor_data(got), kiln_tensor_data(want), kiln_tensor_byte_size(want)) == 0 ||
              fabsf(((float *)kiln_tensor_data(got))[0] - ((float *)kiln_tensor_data(want))[0]) < 1e-6f);
    kiln_session_destroy(s);
    for (int i = 0; i < 2; i++) kiln_tensor_destroy(in[i]);
    kiln_tensor_destroy(want);
    kiln_tensor_destroy(got);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("graph.load");
    TCase *tc = tcase_create("load");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, storage_float_forms);
    tcase_add_test(tc, storage_int32_data_narrow_types);
    tcase_add_test(tc, storage_wide_types);
    tcase_add_test(tc, storage_strings_and_int4);
    tcase_add_test(tc, storage_size_mismatch_rejected);
    tcase_add_test(tc, external_data);
    tcase_add_test(tc, sparse_initializer);
    tcase_add_test(tc, local_function_expanded);
    tcase_add_test(tc, subgraph_outer_scope_resolved);
    tcase_add_test(tc, symbolic_dims_and_metadata);
    tcase_add_test(tc, shared_model_from_file_and_buffer);
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
