/* SPDX-License-Identifier: MIT */
/* Control flow runs and streaming. An If whose branches read the outer graph's initializers
 * through Slice (computed once per session) and the inputs (computed every run): every run
 * right, warm runs allocate nothing. Streaming with control flow: Silero VAD v5 (an If on the sample rate around STFT, convolutions
 * and an LSTM, with nested Ifs) fed chunk by chunk through I/O binding, its state bound
 * output -> input by swapping two tensors. A counting allocator proves a warm chunk allocates
 * nothing (the If bodies run planned from their own contexts); every chunk's outputs equal those
 * of a fresh session's first, unplanned run. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/model_builder.h"
#include "common/test_alloc.h"

#define CHUNK 576
#define STATE (2 * 1 * 128)
#define CHUNKS 12

static test_alloc ta;
static kiln_env *env;
static kiln_error err;
static char model_path[4096];

static void setup(void) {
    const char *dir = getenv("KILN_SHARED_DIR");
    ck_assert_msg(dir != NULL, "KILN_SHARED_DIR is not set");
    snprintf(model_path, sizeof(model_path), "%s/models/silero_vad_v5.onnx", dir);
    test_alloc_init(&ta);
    ck_assert_int_eq(kiln_env_create_with_allocator(&ta.a, &env, &err), KILN_OK);
}

static void teardown(void) {
    kiln_env_destroy(env);
    ck_assert_int_eq(test_alloc_live(&ta), 0);
}

static kiln_session *open_silero(int32_t intra) {
    kiln_session_options *o;
    ck_assert_int_eq(kiln_session_options_create(&o, &err), KILN_OK);
    ck_assert_int_eq(kiln_session_options_set_intra_op_threads(o, intra, &err), KILN_OK);
    kiln_session *s;
    ck_assert_msg(kiln_session_create(env, model_path, o, &s, &err) == KILN_OK, "%s", err.msg);
    kiln_session_options_destroy(o);
    return s;
}

/* A noisy tone, different per chunk, so the detector's state moves. */
static void chunk_data(float *x, int chunk) {
    uint32_t r = 2026u + (uint32_t)chunk * 7919u;
    for (int i = 0; i < CHUNK; i++) {
        r = r * 1664525u + 1013904223u;
        double t = (double)(i + chunk * CHUNK);
        x[i] = (float)(0.3 * sin(t * 0.05 * (1 + chunk % 3)) + 0.05 * ((double)(r >> 8) / 16777216.0 - 0.5));
    }
}

/* Reference: a new session per chunk, so every chunk is a first (recording, unplanned) run. */
static void reference(const float *x, const float *state, float *out, float *state_out) {
    kiln_session *s = open_silero(1);
    int64_t srv = 16000;
    kiln_tensor *in[3], *res[2] = {NULL, NULL};
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){1, CHUNK}, 2, (void *)x,
                                      CHUNK * sizeof(float), &in[0], &err), KILN_OK);
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){2, 1, 128}, 3, (void *)state,
                                      STATE * sizeof(float), &in[1], &err), KILN_OK);
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_INT64, NULL, 0, &srv, sizeof(srv), &in[2], &err), KILN_OK);
    const char *names[3] = {"input", "state", "sr"};
    ck_assert_msg(kiln_session_run(s, names, (const kiln_tensor *const *)in, 3, NULL, res, 2, &err) == KILN_OK, "%s",
                  err.msg);
    memcpy(out, kiln_tensor_data(res[0]), sizeof(float));
    memcpy(state_out, kiln_tensor_data(res[1]), STATE * sizeof(float));
    for (int i = 0; i < 3; i++) kiln_tensor_destroy(in[i]);
    kiln_tensor_destroy(res[0]);
    kiln_tensor_destroy(res[1]);
    kiln_session_destroy(s);
}

static double max_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m)) m = d; /* NaN counts as a mismatch */
    }
    return m;
}

static void stream(int32_t intra) {
    kiln_session *s = open_silero(intra);
    static float xv[CHUNK], sa[STATE], sb[STATE];
    float outv[1];
    int64_t srv = 16000;
    memset(sa, 0, sizeof(sa));
    kiln_tensor *x, *sr, *st[2], *out;
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){1, CHUNK}, 2, xv, sizeof(xv), &x, &err),
                     KILN_OK);
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_INT64, NULL, 0, &srv, sizeof(srv), &sr, &err), KILN_OK);
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){2, 1, 128}, 3, sa, sizeof(sa), &st[0], &err),
                     KILN_OK);
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){2, 1, 128}, 3, sb, sizeof(sb), &st[1], &err),
                     KILN_OK);
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){1, 1}, 2, outv, sizeof(outv), &out, &err),
                     KILN_OK);
    kiln_binding *bd;
    ck_assert_int_eq(kiln_binding_create(s, &bd, &err), KILN_OK);
    ck_assert_int_eq(kiln_binding_bind_input(bd, "input", x, &err), KILN_OK);
    ck_assert_int_eq(kiln_binding_bind_input(bd, "sr", sr, &err), KILN_OK);
    ck_assert_int_eq(kiln_binding_bind_output(bd, "output", out, &err), KILN_OK);
    float ref_state[STATE], ref_next[STATE], ref_out;
    memset(ref_state, 0, sizeof(ref_state));
    long warm_calls = 0;
    for (int chunk = 0; chunk < CHUNKS; chunk++) {
        int cur = chunk & 1; /* state in st[cur], next state into the other */
        chunk_data(xv, chunk);
        ck_assert_int_eq(kiln_binding_bind_input(bd, "state", st[cur], &err), KILN_OK);
        ck_assert_int_eq(kiln_binding_bind_output(bd, "stateN", st[!cur], &err), KILN_OK);
        long before = atomic_load(&ta.calls);
        ck_assert_msg(kiln_session_run_binding(s, bd, &err) == KILN_OK, "chunk %d: %s", chunk, err.msg);
        if (chunk >= 3) warm_calls += atomic_load(&ta.calls) - before;
        /* Written where bound: no copy in or out. */
        ck_assert_ptr_eq(kiln_binding_output(bd, "stateN"), st[!cur]);
        ck_assert_ptr_eq(kiln_binding_output(bd, "output"), out);
        reference(xv, ref_state, &ref_out, ref_next);
        float *next = cur ? sa : sb;
        ck_assert_msg(max_diff(outv, &ref_out, 1) <= 1e-6, "chunk %d: output %g, reference %g", chunk, outv[0], ref_out);
        ck_assert_msg(max_diff(next, ref_next, STATE) <= 1e-6, "chunk %d: state differs by %g", chunk,
                      max_diff(next, ref_next, STATE));
        memcpy(ref_state, ref_next, sizeof(ref_state));
    }
    ck_assert_int_eq(warm_calls, 0);
    kiln_binding_destroy(bd);
    kiln_tensor_destroy(x);
    kiln_tensor_destroy(sr);
    kiln_tensor_destroy(st[0]);
    kiln_tensor_destroy(st[1]);
    kiln_tensor_destroy(out);
    kiln_session_destroy(s);
}

START_TEST(silero_stream_warm_chunks_allocate_nothing) { stream(1); }
END_TEST

START_TEST(silero_stream_warm_chunks_allocate_nothing_threads) { stream(2); }
END_TEST

/* 8 kHz takes the outer If's other branch (288-sample chunks): each branch gets its own planned
 * context, and switching back and forth gives every run the result of that branch's first run. */
START_TEST(silero_branch_switch) {
    kiln_session *s = open_silero(1);
    static float xv[CHUNK], state[STATE];
    memset(state, 0, sizeof(state));
    chunk_data(xv, 1);
    kiln_tensor *x[2], *st, *sr[2], *res[2];
    int64_t srv[2] = {16000, 8000};
    const int64_t len[2] = {CHUNK, CHUNK / 2};
    for (int b = 0; b < 2; b++) {
        ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){1, len[b]}, 2, xv,
                                          (size_t)len[b] * sizeof(float), &x[b], &err), KILN_OK);
        ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_INT64, NULL, 0, &srv[b], sizeof(srv[b]), &sr[b], &err), KILN_OK);
    }
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){2, 1, 128}, 3, state, sizeof(state), &st,
                                      &err), KILN_OK);
    const char *names[3] = {"input", "state", "sr"};
    float first[2] = {0, 0};
    for (int r = 0; r < 8; r++) {
        int b = r % 2;
        const kiln_tensor *in[3] = {x[b], st, sr[b]};
        res[0] = res[1] = NULL;
        ck_assert_msg(kiln_session_run(s, names, in, 3, NULL, res, 2, &err) == KILN_OK, "run %d: %s", r, err.msg);
        float v = *(const float *)kiln_tensor_data(res[0]);
        ck_assert(v >= 0.0f && v <= 1.0f);
        if (r < 2) first[b] = v;
        else ck_assert_msg(v == first[b], "run %d: %g, first run of that branch %g", r, v, first[b]);
        kiln_tensor_destroy(res[0]);
        kiln_tensor_destroy(res[1]);
    }
    ck_assert(first[0] != first[1]);
    for (int b = 0; b < 2; b++) {
        kiln_tensor_destroy(x[b]);
        kiln_tensor_destroy(sr[b]);
    }
    kiln_tensor_destroy(st);
    kiln_session_destroy(s);
}
END_TEST

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

/* y = If(c, then: Slice(W, 0, 3) + x, else: Slice(W, 3, 6) * Slice(x, 0, 3)), W and the slice
 * bounds initializers of the main graph. */
static mb *sliced_if_model(void) {
    mb *b = mb_new(8, 13);
    KilnOnnx__GraphProto *g = mb_graph(b), *t = mb_subgraph(b, "then"), *e = mb_subgraph(b, "else");
    static const float w[6] = {1, 2, 3, 10, 20, 30};
    static const int64_t i0[1] = {0}, i3[1] = {3}, i6[1] = {6};
    mb_initializer(b, g, mb_tensor_raw(b, "W", KILN_DTYPE_FLOAT, 1, (const int64_t[]){6}, w, sizeof(w)));
    mb_initializer(b, g, mb_tensor_raw(b, "i0", KILN_DTYPE_INT64, 1, (const int64_t[]){1}, i0, sizeof(i0)));
    mb_initializer(b, g, mb_tensor_raw(b, "i3", KILN_DTYPE_INT64, 1, (const int64_t[]){1}, i3, sizeof(i3)));
    mb_initializer(b, g, mb_tensor_raw(b, "i6", KILN_DTYPE_INT64, 1, (const int64_t[]){1}, i6, sizeof(i6)));
    mb_input(b, g, "c", KILN_DTYPE_BOOL, 0, NULL);
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 1, (const int64_t[]){3});
    mb_node(b, t, "Slice", "tw", L("W", "i0", "i3"), L("tw"));
    mb_node(b, t, "Add", "tadd", L("tw", "x"), L("ty"));
    mb_output(b, t, "ty", KILN_DTYPE_FLOAT, 1, (const int64_t[]){3});
    mb_node(b, e, "Slice", "ew", L("W", "i3", "i6"), L("ew"));
    mb_node(b, e, "Slice", "ex", L("x", "i0", "i3"), L("ex"));
    mb_node(b, e, "Mul", "emul", L("ew", "ex"), L("ey"));
    mb_output(b, e, "ey", KILN_DTYPE_FLOAT, 1, (const int64_t[]){3});
    KilnOnnx__NodeProto *n = mb_node(b, g, "If", "if", L("c"), L("y"));
    mb_attr_graph(b, n, "then_branch", t);
    mb_attr_graph(b, n, "else_branch", e);
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, 1, (const int64_t[]){3});
    return b;
}

START_TEST(if_with_invariant_slices) {
    mb *b = sliced_if_model();
    size_t size;
    const uint8_t *bytes = mb_pack(b, &size);
    kiln_session *s;
    ck_assert_msg(kiln_session_create_from_buffer(env, bytes, size, NULL, &s, &err) == KILN_OK, "%s", err.msg);
    uint8_t cv = 0;
    float xv[3], yv[3];
    kiln_tensor *c, *x, *y;
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_BOOL, NULL, 0, &cv, 1, &c, &err), KILN_OK);
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){3}, 1, xv, sizeof(xv), &x, &err), KILN_OK);
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){3}, 1, yv, sizeof(yv), &y, &err), KILN_OK);
    long warm = 0;
    for (int r = 0; r < 24; r++) {
        cv = (uint8_t)(r % 2);
        for (int i = 0; i < 3; i++) xv[i] = (float)(r * 3 + i);
        const kiln_tensor *in[2] = {c, x};
        kiln_tensor *out[1] = {y};
        long before = atomic_load(&ta.calls);
        ck_assert_msg(kiln_session_run(s, NULL, in, 2, NULL, out, 1, &err) == KILN_OK, "run %d: %s", r, err.msg);
        if (r >= 4) warm += atomic_load(&ta.calls) - before;
        for (int i = 0; i < 3; i++) {
            float want = cv ? (float)(i + 1) + xv[i] : (float)(10 * (i + 1)) * xv[i];
            ck_assert_msg(yv[i] == want, "run %d, y[%d] = %g, want %g", r, i, yv[i], want);
        }
    }
    ck_assert_int_eq(warm, 0);
    kiln_tensor_destroy(c);
    kiln_tensor_destroy(x);
    kiln_tensor_destroy(y);
    kiln_session_destroy(s);
    mb_free(b);
}
END_TEST

/* Two Loops over v (float[4]) with W = [1, 2, 3, 4] read from the main graph: body v' = v + W,
 * scan output v' * v'. Loop "a" has no condition input (M iterations exactly: scan output
 * written in place), loop "b" has one that stays true (scan output gathered). */
static mb *loop_model(void) {
    mb *b = mb_new(8, 13);
    KilnOnnx__GraphProto *g = mb_graph(b), *body[2] = {mb_subgraph(b, "body_a"), mb_subgraph(b, "body_b")};
    static const float w[4] = {1, 2, 3, 4};
    static const uint8_t t = 1;
    mb_initializer(b, g, mb_tensor_raw(b, "W", KILN_DTYPE_FLOAT, 1, (const int64_t[]){4}, w, sizeof(w)));
    mb_initializer(b, g, mb_tensor_raw(b, "T", KILN_DTYPE_BOOL, 0, NULL, &t, 1));
    mb_input(b, g, "M", KILN_DTYPE_INT64, 0, NULL);
    mb_input(b, g, "x", KILN_DTYPE_FLOAT, 1, (const int64_t[]){4});
    for (int l = 0; l < 2; l++) {
        KilnOnnx__GraphProto *bg = body[l];
        mb_input(b, bg, "i", KILN_DTYPE_INT64, 0, NULL);
        mb_input(b, bg, "c", KILN_DTYPE_BOOL, 0, NULL);
        mb_input(b, bg, "v", KILN_DTYPE_FLOAT, 1, (const int64_t[]){4});
        mb_node(b, bg, "Identity", "cid", L("c"), L("co"));
        mb_node(b, bg, "Add", "add", L("v", "W"), L("vo"));
        mb_node(b, bg, "Mul", "sq", L("vo", "vo"), L("so"));
        mb_output(b, bg, "co", KILN_DTYPE_BOOL, 0, NULL);
        mb_output(b, bg, "vo", KILN_DTYPE_FLOAT, 1, (const int64_t[]){4});
        mb_output(b, bg, "so", KILN_DTYPE_FLOAT, 1, (const int64_t[]){4});
    }
    KilnOnnx__NodeProto *na = mb_node(b, g, "Loop", "loop_a", L("M", "", "x"), L("va", "sa"));
    mb_attr_graph(b, na, "body", body[0]);
    KilnOnnx__NodeProto *nb = mb_node(b, g, "Loop", "loop_b", L("M", "T", "x"), L("vb", "sb"));
    mb_attr_graph(b, nb, "body", body[1]);
    mb_output(b, g, "va", KILN_DTYPE_FLOAT, 1, (const int64_t[]){4});
    mb_output(b, g, "sa", KILN_DTYPE_FLOAT, 2, (const int64_t[]){-1, 4});
    mb_output(b, g, "vb", KILN_DTYPE_FLOAT, 1, (const int64_t[]){4});
    mb_output(b, g, "sb", KILN_DTYPE_FLOAT, 2, (const int64_t[]){-1, 4});
    return b;
}

/* Warm runs of a Loop model (same trip count, new data) allocate nothing; every run's results
 * are exact. The trip count then changes, and changes back. */
static void loop_runs(int32_t intra) {
    mb *b = loop_model();
    size_t size;
    const uint8_t *bytes = mb_pack(b, &size);
    kiln_session_options *o;
    ck_assert_int_eq(kiln_session_options_create(&o, &err), KILN_OK);
    ck_assert_int_eq(kiln_session_options_set_intra_op_threads(o, intra, &err), KILN_OK);
    kiln_session *s;
    ck_assert_msg(kiln_session_create_from_buffer(env, bytes, size, o, &s, &err) == KILN_OK, "%s", err.msg);
    kiln_session_options_destroy(o);
    int64_t mv = 5;
    float xv[4];
    kiln_tensor *m, *x;
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_INT64, NULL, 0, &mv, sizeof(mv), &m, &err), KILN_OK);
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, (const int64_t[]){4}, 1, xv, sizeof(xv), &x, &err), KILN_OK);
    /* Outputs given for 5 iterations; runtime-made ones for 3. */
    static float ov[4][20];
    kiln_tensor *given[4];
    for (int k = 0; k < 4; k++) {
        const int64_t dims[2] = {k % 2 ? 5 : 4, 4};
        ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, k % 2 ? dims : dims + 1, k % 2 ? 2 : 1, ov[k],
                                          sizeof(ov[k]) / (k % 2 ? 1 : 5), &given[k], &err), KILN_OK);
    }
    long warm = 0;
    for (int r = 0; r < 30; r++) {
        mv = r < 20 ? 5 : r < 25 ? 3 : 5;
        for (int i = 0; i < 4; i++) xv[i] = (float)(r - 2 * i);
        const kiln_tensor *in[2] = {m, x};
        kiln_tensor *out[4] = {NULL, NULL, NULL, NULL};
        if (mv == 5) memcpy(out, given, sizeof(out));
        long before = atomic_load(&ta.calls);
        ck_assert_msg(kiln_session_run(s, NULL, in, 2, NULL, out, 4, &err) == KILN_OK, "run %d: %s", r, err.msg);
        long calls = atomic_load(&ta.calls) - before;
        for (int k = 0; k < 4; k++) {
            const kiln_tensor *t = out[k];
            const int64_t *d = kiln_tensor_dims(t);
            if (k % 2 == 0) {
                ck_assert_int_eq(kiln_tensor_rank(t), 1);
            } else {
                ck_assert_int_eq(kiln_tensor_rank(t), 2);
                ck_assert_int_eq(d[0], mv);
                ck_assert_int_eq(d[1], 4);
            }
            const float *y = kiln_tensor_data_const(t);
            for (int64_t it = 0; it < (k % 2 ? mv : 1); it++)
                for (int i = 0; i < 4; i++) {
                    float v = xv[i] + (float)((k % 2 ? it + 1 : mv) * (i + 1));
                    float want = k % 2 ? v * v : v;
                    ck_assert_msg(y[it * 4 + i] == want, "run %d, output %d [%lld, %d] = %g, want %g", r, k, (long long)it,
                                  i, y[it * 4 + i], want);
                }
            if (mv != 5) kiln_tensor_destroy(out[k]);
        }
        if ((r >= 4 && r < 20) || r >= 27) warm += calls;
    }
    ck_assert_int_eq(warm, 0);
    for (int k = 0; k < 4; k++) kiln_tensor_destroy(given[k]);
    kiln_tensor_destroy(m);
    kiln_tensor_destroy(x);
    kiln_session_destroy(s);
    mb_free(b);
}

START_TEST(loop_warm_runs_allocate_nothing) { loop_runs(1); }
END_TEST

START_TEST(loop_warm_runs_allocate_nothing_threads) { loop_runs(2); }
END_TEST

/* Scan-9 over xs [T, 4] (forward) and xr [4, T] (axis 1, reversed), states s (float[4]) and
 * n (int64 scalar): s' = s + xs_t, n' = n + 1, scan outputs s' * 2 (axis 0) and xr_t (axis 1). */
static mb *scan_model(void) {
    mb *b = mb_new(8, 13);
    KilnOnnx__GraphProto *g = mb_graph(b), *bg = mb_subgraph(b, "body");
    static const int64_t one = 1;
    static const float two = 2;
    mb_initializer(b, g, mb_tensor_raw(b, "one", KILN_DTYPE_INT64, 0, NULL, &one, sizeof(one)));
    mb_initializer(b, g, mb_tensor_raw(b, "two", KILN_DTYPE_FLOAT, 0, NULL, &two, sizeof(two)));
    mb_input(b, g, "s0", KILN_DTYPE_FLOAT, 1, (const int64_t[]){4});
    mb_input(b, g, "n0", KILN_DTYPE_INT64, 0, NULL);
    mb_input(b, g, "xs", KILN_DTYPE_FLOAT, 2, (const int64_t[]){-1, 4});
    mb_input(b, g, "xr", KILN_DTYPE_FLOAT, 2, (const int64_t[]){4, -1});
    mb_input(b, bg, "s", KILN_DTYPE_FLOAT, 1, (const int64_t[]){4});
    mb_input(b, bg, "n", KILN_DTYPE_INT64, 0, NULL);
    mb_input(b, bg, "xt", KILN_DTYPE_FLOAT, 1, (const int64_t[]){4});
    mb_input(b, bg, "rt", KILN_DTYPE_FLOAT, 1, (const int64_t[]){4});
    mb_node(b, bg, "Add", "add", L("s", "xt"), L("so"));
    mb_node(b, bg, "Add", "inc", L("n", "one"), L("no"));
    mb_node(b, bg, "Mul", "dbl", L("so", "two"), L("yo"));
    mb_node(b, bg, "Identity", "rid", L("rt"), L("ro"));
    mb_output(b, bg, "so", KILN_DTYPE_FLOAT, 1, (const int64_t[]){4});
    mb_output(b, bg, "no", KILN_DTYPE_INT64, 0, NULL);
    mb_output(b, bg, "yo", KILN_DTYPE_FLOAT, 1, (const int64_t[]){4});
    mb_output(b, bg, "ro", KILN_DTYPE_FLOAT, 1, (const int64_t[]){4});
    KilnOnnx__NodeProto *n = mb_node(b, g, "Scan", "scan", L("s0", "n0", "xs", "xr"), L("s", "n", "y", "r"));
    mb_attr_graph(b, n, "body", bg);
    mb_attr_int(b, n, "num_scan_inputs", 2);
    mb_attr_ints(b, n, "scan_input_axes", (const int64_t[]){0, 1}, 2);
    mb_attr_ints(b, n, "scan_input_directions", (const int64_t[]){0, 1}, 2);
    mb_attr_ints(b, n, "scan_output_axes", (const int64_t[]){0, 1}, 2);
    mb_output(b, g, "s", KILN_DTYPE_FLOAT, 1, (const int64_t[]){4});
    mb_output(b, g, "n", KILN_DTYPE_INT64, 0, NULL);
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, 2, (const int64_t[]){-1, 4});
    mb_output(b, g, "r", KILN_DTYPE_FLOAT, 2, (const int64_t[]){4, -1});
    return b;
}

#define SCAN_T 6

START_TEST(scan_warm_runs_allocate_nothing) {
    mb *b = scan_model();
    size_t size;
    const uint8_t *bytes = mb_pack(b, &size);
    kiln_session *s;
    ck_assert_msg(kiln_session_create_from_buffer(env, bytes, size, NULL, &s, &err) == KILN_OK, "%s", err.msg);
    static float s0[4], xs[SCAN_T * 4], xr[4 * SCAN_T], so[4], y[SCAN_T * 4], r[4 * SCAN_T];
    int64_t n0 = 0, no = 0;
    kiln_tensor *t[8];
    const int64_t d4[1] = {4}, dts[2] = {SCAN_T, 4}, dtr[2] = {4, SCAN_T};
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, d4, 1, s0, sizeof(s0), &t[0], &err), KILN_OK);
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_INT64, NULL, 0, &n0, sizeof(n0), &t[1], &err), KILN_OK);
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, dts, 2, xs, sizeof(xs), &t[2], &err), KILN_OK);
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, dtr, 2, xr, sizeof(xr), &t[3], &err), KILN_OK);
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, d4, 1, so, sizeof(so), &t[4], &err), KILN_OK);
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_INT64, NULL, 0, &no, sizeof(no), &t[5], &err), KILN_OK);
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, dts, 2, y, sizeof(y), &t[6], &err), KILN_OK);
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, dtr, 2, r, sizeof(r), &t[7], &err), KILN_OK);
    long warm = 0;
    for (int run = 0; run < 24; run++) {
        n0 = run;
        for (int i = 0; i < 4; i++) s0[i] = (float)(run * i);
        for (int i = 0; i < SCAN_T * 4; i++) {
            xs[i] = (float)((i * 7 + run) % 11) - 5.0f;
            xr[i] = (float)(i * 3 + run);
        }
        const kiln_tensor *in[4] = {t[0], t[1], t[2], t[3]};
        kiln_tensor *out[4] = {t[4], t[5], t[6], t[7]};
        long before = atomic_load(&ta.calls);
        ck_assert_msg(kiln_session_run(s, NULL, in, 4, NULL, out, 4, &err) == KILN_OK, "run %d: %s", run, err.msg);
        if (run >= 4) warm += atomic_load(&ta.calls) - before;
        ck_assert_int_eq(no, n0 + SCAN_T);
        float acc[4];
        memcpy(acc, s0, sizeof(acc));
        for (int tt = 0; tt < SCAN_T; tt++)
            for (int i = 0; i < 4; i++) {
                acc[i] += xs[tt * 4 + i];
                ck_assert_msg(y[tt * 4 + i] == acc[i] * 2, "run %d: y[%d, %d] = %g, want %g", run, tt, i, y[tt * 4 + i],
                              acc[i] * 2);
                /* reversed scan input, forward output: r[i, t] = xr[i, T - 1 - t] */
                ck_assert_float_eq(r[i * SCAN_T + tt], xr[i * SCAN_T + SCAN_T - 1 - tt]);
            }
        for (int i = 0; i < 4; i++) ck_assert_float_eq(so[i], acc[i]);
    }
    ck_assert_int_eq(warm, 0);
    for (int i = 0; i < 8; i++) kiln_tensor_destroy(t[i]);
    kiln_session_destroy(s);
    mb_free(b);
}
END_TEST

int main(void) {
    Suite *su = suite_create("streaming");
    TCase *tc = tcase_create("silero");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, if_with_invariant_slices);
    tcase_add_test(tc, loop_warm_runs_allocate_nothing);
    tcase_add_test(tc, loop_warm_runs_allocate_nothing_threads);
    tcase_add_test(tc, scan_warm_runs_allocate_nothing);
    tcase_add_test(tc, silero_stream_warm_chunks_allocate_nothing);
    tcase_add_test(tc, silero_stream_warm_chunks_allocate_nothing_threads);
    tcase_add_test(tc, silero_branch_switch);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
