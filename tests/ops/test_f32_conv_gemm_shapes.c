/* SPDX-License-Identifier: MIT */
/* Conv, Gemm and MatMul (float32) through a session against naive double references on
 * randomized shapes, at every ISA level this CPU has (kiln_cpu_set_cap before each session):
 * weights as initializers (packed once at session creation) and as inputs (packed per call);
 * 1-D, 2-D and 3-D convs with strides, pads, dilations, groups (depthwise included) and batch 2;
 * Gemm with transA/transB, alpha, beta and C of shape [N], [M, N] and [1]; MatMul with batch
 * dims and a 1-D B; M, N and K of 1, primes and non-multiples of the tiles. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/model_builder.h"
#include "kernels/config/cpu.h"
#include "kiln.h"

static kiln_env *env;
static kiln_error err;
static unsigned rng = 7u;

static float frand(void) {
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) & 0xffff) / 32768.0f - 1.0f;
}
static int irand(int n) {
    rng = rng * 1664525u + 1013904223u;
    return (int)((rng >> 8) % (unsigned)n);
}

static void setup(void) { ck_assert_int_eq(kiln_env_create(&env, &err), KILN_OK); }
static void teardown(void) {
    kiln_env_destroy(env);
    kiln_cpu_set_cap(-1);
}

typedef struct tens {
    int32_t rank;
    int64_t dims[5];
    float *data;
    size_t count;
} tens;

static tens make(int32_t rank, const int64_t *dims) {
    tens t = {rank, {0}, NULL, 1};
    for (int i = 0; i < rank; i++) t.dims[i] = dims[i], t.count *= (size_t)dims[i];
    t.data = malloc(t.count * sizeof(float) + 4);
    for (size_t i = 0; i < t.count; i++) t.data[i] = frand();
    return t;
}

/* Runs op on inputs (const_mask bit i: input i is an initializer) and returns output 0. */
static kiln_tensor *run_op(mb *b, KilnOnnx__NodeProto **node, const char *op, int n, const tens *in, unsigned const_mask) {
    KilnOnnx__GraphProto *g = mb_graph(b);
    static const char *const xs[] = {"x0", "x1", "x2"};
    const char *names[4] = {0};
    for (int i = 0; i < n; i++) {
        names[i] = xs[i];
        if (const_mask & (1u << i))
            mb_initializer(b, g, mb_tensor_raw(b, xs[i], KILN_DTYPE_FLOAT, in[i].rank, in[i].dims, in[i].data,
                                               in[i].count * sizeof(float)));
        else
            mb_input(b, g, xs[i], KILN_DTYPE_FLOAT, in[i].rank, in[i].dims);
    }
    static const char *const ys[] = {"y", NULL};
    mb_output(b, g, "y", KILN_DTYPE_FLOAT, -1, NULL);
    *node = mb_node(b, g, op, "node", (const char *const *)names, ys);
    (void)n;
    return NULL;
}

static kiln_tensor *finish(mb *b, int n, const tens *in, unsigned const_mask) {
    size_t size;
    const uint8_t *p = mb_pack(b, &size);
    kiln_session *s = NULL;
    kiln_status st = kiln_session_create_from_buffer(env, p, size, NULL, &s, &err);
    mb_free(b);
    ck_assert_msg(st == KILN_OK, "session: %s", err.msg);
    kiln_tensor *t[3] = {0}, *out = NULL;
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (const_mask & (1u << i)) continue;
        ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, in[i].dims, in[i].rank, in[i].data, in[i].count * sizeof(float),
                                          &t[k], &err),
                         KILN_OK);
        k++;
    }
    st = kiln_session_run(s, NULL, (const kiln_tensor *const *)t, (size_t)k, NULL, &out, 1, &err);
    ck_assert_msg(st == KILN_OK, "run: %s", err.msg);
    for (int i = 0; i < k; i++) kiln_tensor_destroy(t[i]);
    kiln_session_destroy(s);
    return out;
}

static void close_to(const float *got, const double *want, size_t count, double tol, const char *what) {
    for (size_t i = 0; i < count; i++)
        if (!(fabs(got[i] - want[i]) <= tol * (1.0 + fabs(want[i]))))
            ck_abort_msg("%s: element %zu = %g, want %g", what, i, got[i], want[i]);
}

static void one_conv(int sp, int level) {
    int64_t n = 1 + irand(2), g = irand(3) == 0 ? 1 + irand(3) : 1;
    int64_t cg = 1 + irand(6), mg = 1 + irand(20);
    if (irand(4) == 0) cg = 1, mg = 1, g = 1 + irand(40); /* depthwise */
    int64_t c = cg * g, m = mg * g;
    int64_t in[3], k[3], s[3], d[3], pb[3], pe[3], out[3];
    for (int i = 0; i < sp; i++) {
        k[i] = 1 + irand(sp == 3 ? 3 : 5);
        s[i] = 1 + irand(3);
        d[i] = 1 + irand(2);
        pb[i] = irand(3);
        pe[i] = irand(3);
        in[i] = (k[i] - 1) * d[i] + 1 + irand(sp == 3 ? 6 : 40);
        out[i] = (in[i] + pb[i] + pe[i] - (k[i] - 1) * d[i] - 1) / s[i] + 1;
    }
    int64_t xd[5] = {n, c}, wd[5] = {m, cg}, bd[1] = {m};
    for (int i = 0; i < sp; i++) xd[2 + i] = in[i], wd[2 + i] = k[i];
    tens t[3] = {make(2 + sp, xd), make(2 + sp, wd), make(1, bd)};
    unsigned cm = irand(3) ? 6u : 0u; /* weights and bias as initializers, mostly */
    int with_bias = irand(3) != 0;
    kiln_cpu_set_cap(level);
    mb *b = mb_new(8, 17);
    KilnOnnx__NodeProto *node;
    run_op(b, &node, "Conv", with_bias ? 3 : 2, t, cm);
    int64_t pads[6], strides[3], dil[3];
    for (int i = 0; i < sp; i++) pads[i] = pb[i], pads[sp + i] = pe[i], strides[i] = s[i], dil[i] = d[i];
    mb_attr_ints(b, node, "pads", pads, (size_t)(2 * sp));
    mb_attr_ints(b, node, "strides", strides, (size_t)sp);
    mb_attr_ints(b, node, "dilations", dil, (size_t)sp);
    mb_attr_int(b, node, "group", g);
    kiln_tensor *y = finish(b, with_bias ? 3 : 2, t, cm);
    int64_t osz = 1, isz = 1, ksz = 1;
    for (int i = 0; i < sp; i++) osz *= out[i], isz *= in[i], ksz *= k[i];
    size_t count = (size_t)(n * m * osz);
    double *ref = malloc(count * sizeof(double));
    for (int64_t ni = 0; ni < n; ni++)
        for (int64_t mi = 0; mi < m; mi++)
            for (int64_t o = 0; o < osz; o++) {
                int64_t oc[3], rem = o;
                for (int i = sp - 1; i >= 0; i--) oc[i] = rem % out[i], rem /= out[i];
                double acc = with_bias ? t[2].data[mi] : 0.0;
                int64_t gi = mi / mg;
                for (int64_t ci = 0; ci < cg; ci++)
                    for (int64_t kk = 0; kk < ksz; kk++) {
                        int64_t kc[3], r2 = kk, off = 0, ok = 1;
                        for (int i = sp - 1; i >= 0; i--) kc[i] = r2 % k[i], r2 /= k[i];
                        for (int i = 0; i < sp; i++) {
                            int64_t p = oc[i] * s[i] - pb[i] + kc[i] * d[i];
                            if (p < 0 || p >= in[i]) ok = 0;
                            off = off * in[i] + p;
                        }
                        if (!ok) continue;
                        acc += (double)t[1].data[(mi * cg + ci) * ksz + kk] * t[0].data[(ni * c + gi * cg + ci) * isz + off];
                    }
                ref[(ni * m + mi) * osz + o] = acc;
            }
    ck_assert_uint_eq((size_t)kiln_tensor_element_count(y), count);
    char what[200];
    snprintf(what, sizeof what, "Conv %dD level %s n%lld c%lld m%lld g%lld k%lld s%lld d%lld in%lld const%u", sp,
             kiln_isa_name((kiln_isa)level), (long long)n, (long long)c, (long long)m, (long long)g, (long long)k[0],
             (long long)s[0], (long long)d[0], (long long)in[0], cm);
    close_to(kiln_tensor_data_const(y), ref, count, 1e-4, what);
    kiln_tensor_destroy(y);
    free(ref);
    for (int i = 0; i < 3; i++) free(t[i].data);
}

static int levels(int *out) {
    static const int all[] = {KILN_ISA_SCALAR, KILN_ISA_AVX2, KILN_ISA_AVX512};
    kiln_cpu_set_cap(-1);
    int n = 0;
    for (int i = 0; i < 3; i++)
        if (all[i] <= (int)kiln_cpu()->detected) out[n++] = all[i];
    return n;
}

START_TEST(conv_random_shapes_every_isa) {
    int lv[3], nl = levels(lv);
    for (int l = 0; l < nl; l++)
        for (int r = 0; r < 40; r++) one_conv(r % 5 == 4 ? 3 : r % 3 == 2 ? 1 : 2, lv[l]);
}
END_TEST

static void one_gemm(int level) {
    static const int64_t sizes[] = {1, 2, 5, 7, 13, 14, 15, 17, 31, 33, 37, 64, 97};
    int64_t m = sizes[irand(13)], n = sizes[irand(13)], kk = sizes[irand(13)];
    int ta = irand(2), tb = irand(2), ckind = irand(4);
    float alpha = irand(2) ? 1.0f : 0.5f, beta = irand(2) ? 1.0f : -2.0f;
    int64_t ad[2] = {ta ? kk : m, ta ? m : kk}, bd[2] = {tb ? n : kk, tb ? kk : n};
    int64_t cd[2] = {m, n};
    tens t[3] = {make(2, ad), make(2, bd), ckind == 0 ? make(1, cd + 1) : ckind == 1 ? make(2, cd) : make(1, (int64_t[]){1})};
    unsigned cm = irand(3) ? 6u : 0u;
    kiln_cpu_set_cap(level);
    mb *b = mb_new(8, 13);
    KilnOnnx__NodeProto *node;
    int nin = ckind == 3 ? 2 : 3;
    run_op(b, &node, "Gemm", nin, t, cm);
    mb_attr_int(b, node, "transA", ta);
    mb_attr_int(b, node, "transB", tb);
    mb_attr_float(b, node, "alpha", alpha);
    mb_attr_float(b, node, "beta", beta);
    kiln_tensor *y = finish(b, nin, t, cm);
    double *ref = malloc((size_t)(m * n) * sizeof(double));
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double acc = 0;
            for (int64_t p = 0; p < kk; p++)
                acc += (double)(ta ? t[0].data[p * m + i] : t[0].data[i * kk + p]) * (tb ? t[1].data[j * kk + p] : t[1].data[p * n + j]);
            double cv = ckind == 0 ? t[2].data[j] : ckind == 1 ? t[2].data[i * n + j] : ckind == 2 ? t[2].data[0] : 0.0;
            ref[i * n + j] = alpha * acc + beta * cv;
        }
    char what[160];
    snprintf(what, sizeof what, "Gemm level %s m%lld n%lld k%lld ta%d tb%d c%d const%u", kiln_isa_name((kiln_isa)level),
             (long long)m, (long long)n, (long long)kk, ta, tb, ckind, cm);
    close_to(kiln_tensor_data_const(y), ref, (size_t)(m * n), 1e-4, what);
    kiln_tensor_destroy(y);
    free(ref);
    for (int i = 0; i < 3; i++) free(t[i].data);
}

static void one_matmul(int level) {
    static const int64_t sizes[] = {1, 3, 8, 13, 16, 17, 33, 50, 65};
    int64_t batch = 1 + irand(3), m = sizes[irand(9)], n = sizes[irand(9)], kk = sizes[irand(9)];
    int b1d = irand(5) == 0, b3d = !b1d && irand(3) == 0;
    int64_t ad[3] = {batch, m, kk}, bd[3] = {b3d ? batch : kk, b3d ? kk : n, n};
    tens t[2] = {make(3, ad), b1d ? make(1, (int64_t[]){kk}) : make(b3d ? 3 : 2, bd)};
    if (b1d) n = 1;
    unsigned cm = irand(3) ? 2u : 0u;
    kiln_cpu_set_cap(level);
    mb *b = mb_new(8, 13);
    KilnOnnx__NodeProto *node;
    run_op(b, &node, "MatMul", 2, t, cm);
    kiln_tensor *y = finish(b, 2, t, cm);
    size_t count = (size_t)(batch * m * n);
    double *ref = malloc(count * sizeof(double));
    for (int64_t bi = 0; bi < batch; bi++)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double acc = 0;
                const float *bb = t[1].data + (b3d ? bi * kk * n : 0);
                for (int64_t p = 0; p < kk; p++) acc += (double)t[0].data[(bi * m + i) * kk + p] * bb[p * n + j];
                ref[(bi * m + i) * n + j] = acc;
            }
    char what[160];
    snprintf(what, sizeof what, "MatMul level %s b%lld m%lld n%lld k%lld b1d%d b3d%d const%u", kiln_isa_name((kiln_isa)level),
             (long long)batch, (long long)m, (long long)n, (long long)kk, b1d, b3d, cm);
    ck_assert_uint_eq((size_t)kiln_tensor_element_count(y), count);
    close_to(kiln_tensor_data_const(y), ref, count, 1e-4, what);
    kiln_tensor_destroy(y);
    free(ref);
    for (int i = 0; i < 2; i++) free(t[i].data);
}

START_TEST(gemm_matmul_random_shapes_every_isa) {
    int lv[3], nl = levels(lv);
    for (int l = 0; l < nl; l++)
        for (int r = 0; r < 40; r++) {
            one_gemm(lv[l]);
            one_matmul(lv[l]);
        }
}
END_TEST

int main(void) {
    Suite *s = suite_create("ops-f32-conv-gemm-shapes");
    TCase *tc = tcase_create("shapes");
    tcase_set_timeout(tc, 600);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, conv_random_shapes_every_isa);
    tcase_add_test(tc, gemm_matmul_random_shapes_every_isa);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
