/* SPDX-License-Identifier: MIT */
/* The optimizer's rewrite API (graph/optimizer/rewrite.h): consumer lists, replace-all-uses
 * (also of a graph output, whose name must stay), removal and insertion, renaming, constants,
 * commit, and the invariant check catching broken graphs. */
#include <check.h>
#include <string.h>

#include "common/model_builder.h"
#include "graph/load.h"
#include "graph/ops.h"
#include "graph/optimizer/optimizer.h"
#include "graph/shape.h"

static kiln_error err;

/* x -> Relu a -> Neg b -> Identity y (output); a -> Exp e (output). */
static kiln_model *small_graph(void) {
    mb *b = mb_new(8, 17);
    KilnOnnx__GraphProto *g = mb_graph(b);
    const int64_t dims[2] = {2, 3};
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 2, dims);
    mb_node(b, g, "Relu", "relu", (const char *[]){"x", NULL}, (const char *[]){"a", NULL});
    mb_node(b, g, "Neg", "neg", (const char *[]){"a", NULL}, (const char *[]){"b", NULL});
    mb_node(b, g, "Identity", "id", (const char *[]){"b", NULL}, (const char *[]){"y", NULL});
    mb_node(b, g, "Exp", "exp", (const char *[]){"a", NULL}, (const char *[]){"e", NULL});
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, 2, dims);
    mb_output(b, g, "e", KILN_DTYPE_FLOAT, 2, dims);
    size_t size;
    const uint8_t *bytes = mb_pack(b, &size);
    kiln_model *m = NULL;
    ck_assert_int_eq(kiln_model_load_buffer(&kiln_default_allocator, bytes, size, NULL, &m, &err), KILN_OK);
    mb_free(b);
    ck_assert_int_eq(kiln_graph_bind_ops(m->graph, &err), KILN_OK);
    ck_assert_int_eq(kiln_graph_infer(m->graph, &err), KILN_OK);
    return m;
}

static kiln_node *node_named(kiln_graph *g, const char *name) {
    for (uint32_t i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i]->name, name) == 0) return g->nodes[i];
    return NULL;
}

START_TEST(consumers_and_replace_output) {
    kiln_model *m = small_graph();
    kiln_graph *g = m->graph;
    kiln_rw rw;
    ck_assert_int_eq(kiln_rw_init(&rw, g, &err), KILN_OK);
    kiln_value *a = kiln_graph_find(g, "a"), *bv = kiln_graph_find(g, "b"), *y = kiln_graph_find(g, "y"), *x = kiln_graph_find(g, "x");
    ck_assert_uint_eq(kiln_rw_use_count(&rw, a), 2);
    ck_assert_ptr_null(kiln_rw_single_consumer(&rw, a));     /* two readers */
    ck_assert_ptr_eq(kiln_rw_single_consumer(&rw, bv), node_named(g, "id"));
    ck_assert_ptr_null(kiln_rw_single_consumer(&rw, y));     /* a graph output */
    /* A graph output fed from a graph input cannot be replaced: its name would change. */
    int done = 1;
    ck_assert_int_eq(kiln_rw_replace_uses(&rw, y, x, &done), KILN_OK);
    ck_assert_int_eq(done, 0);
    /* Removing a node whose output is still read fails. */
    ck_assert_int_eq(kiln_rw_remove_node(&rw, node_named(g, "neg")), KILN_ERR_INTERNAL);
    /* y takes b's place: Neg now writes y, the Identity goes. */
    ck_assert_int_eq(kiln_rw_replace_uses(&rw, y, bv, &done), KILN_OK);
    ck_assert_int_eq(done, 1);
    ck_assert_ptr_eq(y->producer, node_named(g, "neg"));
    ck_assert_int_eq(kiln_rw_remove_node(&rw, node_named(g, "id")), KILN_OK);
    ck_assert_int_eq(kiln_rw_commit(&rw), KILN_OK);
    ck_assert_int_eq(kiln_rw_check(g, "test", &err), KILN_OK);
    ck_assert_uint_eq(g->n_nodes, 3);
    ck_assert_str_eq(g->outputs[0]->name, "y");
    ck_assert_ptr_null(kiln_graph_find(g, "b")); /* dead values leave the graph */
    kiln_rw_free(&rw);
    kiln_model_destroy(m);
}
END_TEST

START_TEST(insert_rename_constant) {
    kiln_model *m = small_graph();
    kiln_graph *g = m->graph;
    kiln_rw rw;
    ck_assert_int_eq(kiln_rw_init(&rw, g, &err), KILN_OK);
    /* e = Exp(a) becomes e = Add(a, 1). */
    kiln_node *exp = node_named(g, "exp");
    const float one = 1.0f;
    kiln_value *c1;
    ck_assert_int_eq(kiln_rw_add_const(&rw, "one", KILN_DTYPE_FLOAT, 0, NULL, &one, &c1), KILN_OK);
    ck_assert(c1->flags & KILN_VALUE_F_CONSTANT);
    kiln_node *add;
    ck_assert_int_eq(kiln_rw_add_node(&rw, "test", "Add", "", 2, 1, 0, &add), KILN_OK);
    ck_assert_ptr_nonnull(add->op);
    ck_assert_int_eq(kiln_rw_set_input(&rw, add, 0, exp->inputs[0]), KILN_OK);
    ck_assert_int_eq(kiln_rw_set_input(&rw, add, 1, c1), KILN_OK);
    kiln_value *e = exp->outputs[0];
    exp->outputs[0] = NULL;
    kiln_rw_set_output(add, 0, e);
    ck_assert_int_eq(kiln_rw_remove_node(&rw, exp), KILN_OK);
    /* A renamed value keeps its readers; graph inputs refuse renaming; taken names are refused. */
    ck_assert_int_eq(kiln_rw_rename(&rw, c1, "the_one"), KILN_OK);
    ck_assert_ptr_eq(kiln_graph_find(g, "the_one"), c1);
    ck_assert_int_eq(kiln_rw_rename(&rw, kiln_graph_find(g, "x"), "z"), KILN_ERR_INTERNAL);
    ck_assert_int_eq(kiln_rw_rename(&rw, c1, "a"), KILN_ERR_INTERNAL);
    ck_assert_int_eq(kiln_rw_commit(&rw), KILN_OK);
    ck_assert_int_eq(kiln_rw_check(g, "test", &err), KILN_OK);
    ck_assert_uint_eq(kiln_rw_use_count(&rw, c1), 1);
    ck_assert_int_eq(kiln_graph_infer(g, &err), KILN_OK);
    kiln_rw_free(&rw);
    kiln_model_destroy(m);
}
END_TEST

START_TEST(check_catches_broken_graphs) {
    kiln_model *m = small_graph();
    kiln_graph *g = m->graph;
    ck_assert_int_eq(kiln_rw_check(g, "test", &err), KILN_OK);
    /* Out of topological order. */
    kiln_node *n0 = g->nodes[0], *n1 = g->nodes[1];
    g->nodes[0] = n1, g->nodes[1] = n0;
    n0->id = 1, n1->id = 0;
    ck_assert_int_eq(kiln_rw_check(g, "test", &err), KILN_ERR_INTERNAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "test"));
    g->nodes[0] = n0, g->nodes[1] = n1;
    n0->id = 0, n1->id = 1;
    ck_assert_int_eq(kiln_rw_check(g, "test", &err), KILN_OK);
    /* A dangling value: read, but produced by nothing. */
    kiln_value *a = kiln_graph_find(g, "a");
    kiln_node *p = a->producer;
    a->producer = NULL;
    ck_assert_int_eq(kiln_rw_check(g, "test", &err), KILN_ERR_INTERNAL);
    a->producer = p;
    /* A graph output whose dtype changed. */
    kiln_value *y = kiln_graph_find(g, "y");
    y->type.dtype = KILN_DTYPE_DOUBLE;
    ck_assert_int_eq(kiln_rw_check(g, "test", &err), KILN_ERR_INTERNAL);
    y->type.dtype = KILN_DTYPE_FLOAT;
    /* replace_uses refuses values of another dtype. */
    kiln_rw rw;
    ck_assert_int_eq(kiln_rw_init(&rw, g, &err), KILN_OK);
    kiln_value *bv = kiln_graph_find(g, "b");
    bv->type.dtype = KILN_DTYPE_INT32;
    int done;
    ck_assert_int_eq(kiln_rw_replace_uses(&rw, a, bv, &done), KILN_ERR_INTERNAL);
    bv->type.dtype = KILN_DTYPE_FLOAT;
    kiln_rw_free(&rw);
    kiln_model_destroy(m);
}
END_TEST

START_TEST(levels_and_pass_names) {
    kiln_model *m = small_graph();
    kiln_opt_report rep;
    /* Disabled changes nothing; basic removes the Identity. */
    ck_assert_int_eq(kiln_optimize(m->graph, KILN_OPT_DISABLED, NULL, 0, NULL, &rep, &err), KILN_OK);
    ck_assert_uint_eq(rep.nodes_after, 4);
    ck_assert_uint_eq(rep.n_passes, 0);
    const char *off[] = {"identity_elimination"};
    ck_assert_int_eq(kiln_optimize(m->graph, KILN_OPT_BASIC, off, 1, NULL, &rep, &err), KILN_OK);
    ck_assert_uint_eq(rep.nodes_after, 4);
    ck_assert_int_eq(kiln_optimize(m->graph, KILN_OPT_BASIC, NULL, 0, NULL, &rep, &err), KILN_OK);
    ck_assert_uint_eq(rep.nodes_before, 4);
    ck_assert_uint_eq(rep.nodes_after, 3);
    char buf[2048];
    size_t len = kiln_opt_report_json(&rep, buf, sizeof(buf));
    ck_assert_uint_lt(len, sizeof(buf));
    ck_assert_ptr_nonnull(strstr(buf, "{\"name\":\"identity_elimination\",\"fired\":1,"));
    ck_assert_uint_eq(kiln_opt_report_json(&rep, NULL, 0), len);
    ck_assert(kiln_opt_pass_known("conv_fusion"));
    ck_assert(!kiln_opt_pass_known("no_such_pass"));
    kiln_model_destroy(m);
    kiln_session_options *o;
    ck_assert_int_eq(kiln_session_options_create(&o, &err), KILN_OK);
    ck_assert_int_eq(kiln_session_options_disable_pass(o, "no_such_pass", &err), KILN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(kiln_session_options_disable_pass(o, "cse", &err), KILN_OK);
    ck_assert_int_eq(kiln_session_options_set_optimization_level(o, (kiln_opt_level)7, &err), KILN_ERR_INVALID_ARGUMENT);
    kiln_session_options_destroy(o);
}
END_TEST

/* x [2,3] -> MatMul(w const [3,4]) -> Add(b const [4]) -> Relu -> y. */
static kiln_model *linear_graph(void) {
    mb *b = mb_new(8, 17);
    KilnOnnx__GraphProto *g = mb_graph(b);
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 2, (const int64_t[]){2, 3});
    float w[12] = {0}, bias[4] = {0};
    mb_initializer(b, g, mb_tensor_raw(b, "w", KILN_DTYPE_FLOAT, 2, (const int64_t[]){3, 4}, w, sizeof(w)));
    mb_initializer(b, g, mb_tensor_raw(b, "b", KILN_DTYPE_FLOAT, 1, (const int64_t[]){4}, bias, sizeof(bias)));
    mb_node(b, g, "MatMul", "mm", (const char *[]){"x", "w", NULL}, (const char *[]){"m", NULL});
    mb_node(b, g, "Add", "add", (const char *[]){"m", "b", NULL}, (const char *[]){"a", NULL});
    mb_node(b, g, "Relu", "relu", (const char *[]){"a", NULL}, (const char *[]){"y", NULL});
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, 2, (const int64_t[]){2, 4});
    size_t size;
    const uint8_t *bytes = mb_pack(b, &size);
    kiln_model *m = NULL;
    ck_assert_int_eq(kiln_model_load_buffer(&kiln_default_allocator, bytes, size, NULL, &m, &err), KILN_OK);
    mb_free(b);
    ck_assert_int_eq(kiln_graph_bind_ops(m->graph, &err), KILN_OK);
    ck_assert_int_eq(kiln_graph_infer(m->graph, &err), KILN_OK);
    return m;
}

static int asked;
static int deny(void *user, const kiln_node *fused, const kiln_node *anchor) {
    (void)user;
    ck_assert_str_eq(anchor->op_type, "MatMul");
    ck_assert_ptr_eq(fused->outputs[0]->producer, fused); /* the fused node is complete when asked */
    asked++;
    return 0;
}

START_TEST(providers_decide_fusions) {
    kiln_model *m = linear_graph();
    kiln_opt_report rep;
    kiln_opt_hooks no = {.user = NULL, .supports = deny};
    asked = 0;
    ck_assert_int_eq(kiln_optimize(m->graph, KILN_OPT_ALL, NULL, 0, &no, &rep, &err), KILN_OK);
    ck_assert_int_gt(asked, 0);
    ck_assert_uint_eq(rep.nodes_after, 3); /* every fusion taken back, the graph intact */
    ck_assert_int_eq(kiln_rw_check(m->graph, "test", &err), KILN_OK);
    ck_assert_str_eq(m->graph->outputs[0]->producer->op_type, "Relu");
    ck_assert_int_eq(kiln_graph_infer(m->graph, &err), KILN_OK);
    ck_assert_int_eq(kiln_optimize(m->graph, KILN_OPT_ALL, NULL, 0, NULL, &rep, &err), KILN_OK);
    ck_assert_uint_eq(rep.nodes_after, 1); /* Gemm, then with its Relu: kiln.FusedGemm */
    ck_assert_str_eq(m->graph->nodes[0]->op_type, "FusedGemm");
    ck_assert_str_eq(m->graph->nodes[0]->domain, "kiln");
    ck_assert_str_eq(m->graph->outputs[0]->name, "y");
    kiln_model_destroy(m);
}
END_TEST

int main(void) {
    Suite *s = suite_create("rewrite");
    TCase *tc = tcase_create("rewrite");
    tcase_add_test(tc, consumers_and_replace_output);
    tcase_add_test(tc, insert_rename_constant);
    tcase_add_test(tc, check_catches_broken_graphs);
    tcase_add_test(tc, levels_and_pass_names);
    tcase_add_test(tc, providers_decide_fusions);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
