/* SPDX-License-Identifier: MIT */
/* The u8 x s8 GEMM path of the quantized ops, end to end through a session, at every ISA level
 * this machine has (kiln_cpu_set_cap before the session is created):
 * - QLinearConv and ConvInteger with constant weights (packed once, u8 x s8 path) give exactly
 *   the bytes of the same model with the weights as a graph input (the int16 path): 1x1, 3x3
 *   padded and strided, grouped; u8 and s8 inputs and weights; per-tensor and per-channel
 *   zero points and scales, bias, zero points at the extremes.
 * - Depthwise QLinearConv and ConvInteger (direct kernel) against a 64-bit reference.
 * - q8_dynamic_matmul (kiln.DynamicQuantMatMul's kernel) against its formula, bit for bit.
 * - kiln.DynamicQuantMatMul as the optimizer makes it (level all) gives exactly the bytes of the
 *   unfused DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul -> Add -> Relu chain (level
 *   disabled), and the optimizer did fuse it (its report).
 * - MatMulInteger and QLinearMatMul (batched A, constant and non-constant B, all four 8-bit
 *   type pairs, per-column zero points and scales) against a 64-bit reference. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/model_builder.h"
#include "kernels/config/cpu.h"
#include "providers/cpu/ops/q8_gemm.h"
#include "kiln.h"

static kiln_env *env;
static kiln_error err;
static uint32_t rng = 777u;
static uint32_t rnd(void) {
    rng = rng * 1664525u + 1013904223u;
    return rng >> 8;
}

static void setup(void) { ck_assert_int_eq(kiln_env_create(&env, &err), KILN_OK); }
static void teardown(void) {
    kiln_env_destroy(env);
    kiln_cpu_set_cap(-1);
}

typedef struct arg {
    int32_t dtype;
    int32_t rank;
    int64_t dims[4];
    const void *data;
    size_t bytes;
    int constant; /* an initializer, else a graph input */
} arg;

static const char *const xs[] = {"x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8"};
static const int64_t *dw_dils; /* dilations for the next run1, or NULL */

/* Runs one node `op` (opset 13) on in[0..n) (data NULL: omitted), returning output 0. */
static kiln_tensor *run1(const char *op, int n, const arg *in, int64_t group, const int64_t *pads, const int64_t *strides) {
    mb *b = mb_new(8, 13);
    KilnOnnx__GraphProto *g = mb_graph(b);
    const char *names[10] = {0}, *outs[2] = {"y", NULL};
    for (int i = 0; i < n; i++) {
        names[i] = in[i].data ? xs[i] : "";
        if (!in[i].data) continue;
        if (in[i].constant) mb_initializer(b, g, mb_tensor_raw(b, xs[i], in[i].dtype, in[i].rank, in[i].dims, in[i].data, in[i].bytes));
        else mb_input(b, g, xs[i], in[i].dtype, -1, NULL);
    }
    mb_output(b, g, "y", 0, -1, NULL);
    KilnOnnx__NodeProto *node = mb_node(b, g, op, "node", names, outs);
    if (group) mb_attr_int(b, node, "group", group);
    if (pads) mb_attr_ints(b, node, "pads", pads, 4);
    if (strides) mb_attr_ints(b, node, "strides", strides, 2);
    if (dw_dils) mb_attr_ints(b, node, "dilations", dw_dils, 2);
    size_t size;
    const uint8_t *p = mb_pack(b, &size);
    kiln_session *s = NULL;
    kiln_status st = kiln_session_create_from_buffer(env, p, size, NULL, &s, &err);
    mb_free(b);
    ck_assert_msg(st == KILN_OK, "%s: %s", op, err.msg);
    kiln_tensor *t[10] = {0}, *out = NULL;
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (!in[i].data || in[i].constant) continue;
        ck_assert_int_eq(kiln_tensor_wrap(env, in[i].dtype, in[i].dims, in[i].rank, (void *)in[i].data, in[i].bytes, &t[k], &err), KILN_OK);
        k++;
    }
    st = kiln_session_run(s, NULL, (const kiln_tensor *const *)t, (size_t)k, NULL, &out, 1, &err);
    ck_assert_msg(st == KILN_OK, "%s: %s", op, err.msg);
    for (int i = 0; i < k; i++) kiln_tensor_destroy(t[i]);
    kiln_session_destroy(s);
    return out;
}

static void fill(void *p, size_t n) {
    for (size_t i = 0; i < n; i++) ((uint8_t *)p)[i] = (uint8_t)rnd();
}

/* Levels to run at: every level up to the detected one. */
static int level_ok(int l) { return l <= (int)kiln_cpu()->detected; }

typedef struct conv_case {
    int64_t c, m, h, w, kh, group, stride, pad;
} conv_case;

static const conv_case convs[] = {
    {16, 24, 7, 9, 1, 1, 1, 0},  /* 1x1: the image packed directly */
    {5, 17, 9, 8, 3, 1, 1, 1},   /* 3x3 padded, odd channels */
    {8, 33, 11, 10, 3, 1, 2, 1}, /* strided */
    {32, 32, 6, 6, 3, 2, 1, 1},  /* grouped, wide enough groups */
    {19, 3, 5, 5, 5, 1, 1, 2},   /* few output channels, 5x5 */
    {64, 9, 16, 15, 3, 1, 1, 1}, /* K = 576, 240 pixels: many row and column tiles */
};

START_TEST(conv_paths_agree) {
    int level = _i;
    if (!level_ok(level)) return;
    kiln_cpu_set_cap(level);
    for (size_t ci = 0; ci < sizeof convs / sizeof convs[0]; ci++)
        for (int variant = 0; variant < 8; variant++) {
            const conv_case *cc = &convs[ci];
            int x_u8 = variant & 1, w_s8 = (variant >> 1) & 1, per_ch = (variant >> 2) & 1;
            int32_t xt = x_u8 ? KILN_DTYPE_UINT8 : KILN_DTYPE_INT8, wt = w_s8 ? KILN_DTYPE_INT8 : KILN_DTYPE_UINT8;
            int64_t cg = cc->c / cc->group, xn = cc->c * cc->h * cc->w, wn = cc->m * cg * cc->kh * cc->kh;
            uint8_t *x = malloc((size_t)xn), *w = malloc((size_t)wn), zx = (uint8_t)(variant % 3 == 0 ? (x_u8 ? 255 : 0x80) : rnd());
            uint8_t zw[64];
            float sw[64], sx = 0.0123f, sy = 0.37f;
            int32_t bias[64];
            fill(x, (size_t)xn), fill(w, (size_t)wn);
            for (int64_t i = 0; i < cc->m; i++) {
                zw[i] = per_ch ? (uint8_t)rnd() : (uint8_t)(w_s8 ? (variant & 2 ? 0x7f : 0) : 255);
                sw[i] = (float)(rnd() % 100 + 1) * 1e-3f;
                bias[i] = (int32_t)(rnd() % 20001) - 10000;
            }
            int64_t pads[4] = {cc->pad, cc->pad, cc->pad, cc->pad}, strides[2] = {cc->stride, cc->stride};
            uint8_t zy = (uint8_t)rnd();
            for (int qlinear = 0; qlinear < 2; qlinear++) {
                kiln_tensor *out[2];
                for (int cst = 0; cst < 2; cst++) {
                    int64_t zn = per_ch ? cc->m : 1;
                    arg xa = {xt, 4, {1, cc->c, cc->h, cc->w}, x, (size_t)xn, 0};
                    arg wa = {wt, 4, {cc->m, cg, cc->kh, cc->kh}, w, (size_t)wn, cst};
                    arg zxa = {xt, 0, {0}, &zx, 1, cst}, zwa = {wt, 1, {zn}, zw, (size_t)zn, cst};
                    if (qlinear) {
                        arg in[9] = {xa, {KILN_DTYPE_FLOAT, 0, {0}, &sx, 4, 1}, zxa, wa, {KILN_DTYPE_FLOAT, 1, {zn}, sw, (size_t)zn * 4, 1},
                                     zwa, {KILN_DTYPE_FLOAT, 0, {0}, &sy, 4, 1}, {xt, 0, {0}, &zy, 1, 1},
                                     {KILN_DTYPE_INT32, 1, {cc->m}, bias, (size_t)cc->m * 4, 1}};
                        out[cst] = run1("QLinearConv", 9, in, cc->group, pads, strides);
                    } else {
                        arg in[4] = {xa, wa, zxa, zwa};
                        out[cst] = run1("ConvInteger", 4, in, cc->group, pads, strides);
                    }
                }
                size_t bytes = kiln_tensor_byte_size(out[0]);
                ck_assert_uint_eq(bytes, kiln_tensor_byte_size(out[1]));
                ck_assert_msg(!memcmp(kiln_tensor_data_const(out[0]), kiln_tensor_data_const(out[1]), bytes),
                              "level %s case %zu variant %d qlinear %d: constant-weight path differs", kiln_isa_name((kiln_isa)level), ci,
                              variant, qlinear);
                kiln_tensor_destroy(out[0]), kiln_tensor_destroy(out[1]);
            }
            free(x), free(w);
        }
}
END_TEST

static int32_t val(int32_t dt, const uint8_t *p, size_t i) { return dt == KILN_DTYPE_INT8 ? (int32_t)(int8_t)p[i] : (int32_t)p[i]; }

START_TEST(matmul_against_reference) {
    int level = _i;
    if (!level_ok(level)) return;
    kiln_cpu_set_cap(level);
    const size_t batch = 3, m = 7, k = 37, n = 19;
    for (int variant = 0; variant < 16; variant++) {
        int32_t at = variant & 1 ? KILN_DTYPE_INT8 : KILN_DTYPE_UINT8, bt = variant & 2 ? KILN_DTYPE_INT8 : KILN_DTYPE_UINT8;
        int cst = (variant >> 2) & 1, batched_b = (variant >> 3) & 1;
        size_t bmats = batched_b ? batch : 1;
        uint8_t *a = malloc(batch * m * k), *b = malloc(bmats * k * n), za = (uint8_t)(variant == 0 ? 255 : rnd()), zb[19];
        float sa = 0.02f, sb[19], sy = 0.9f;
        uint8_t zy = (uint8_t)rnd();
        fill(a, batch * m * k), fill(b, bmats * k * n);
        for (size_t j = 0; j < n; j++) zb[j] = j == 0 ? (uint8_t)(bt == KILN_DTYPE_INT8 ? 0x80 : 255) : (uint8_t)rnd(), sb[j] = (float)(rnd() % 50 + 1) * 1e-3f;
        if (variant % 3 == 0) memset(zb, zb[0], sizeof zb); /* one zero point for all of B (folded per row) */
        arg aa = {at, 3, {(int64_t)batch, (int64_t)m, (int64_t)k}, a, batch * m * k, 0};
        arg ba = batched_b ? (arg){bt, 3, {(int64_t)batch, (int64_t)k, (int64_t)n}, b, bmats * k * n, cst}
                           : (arg){bt, 2, {(int64_t)k, (int64_t)n}, b, k * n, cst};
        arg zaa = {at, 0, {0}, &za, 1, 1}, zba = {bt, 1, {(int64_t)n}, zb, n, 1};
        arg in4[4] = {aa, ba, zaa, zba};
        kiln_tensor *yi = run1("MatMulInteger", 4, in4, 0, NULL, NULL);
        arg in8[8] = {aa, {KILN_DTYPE_FLOAT, 0, {0}, &sa, 4, 1}, zaa, ba, {KILN_DTYPE_FLOAT, 1, {(int64_t)n}, sb, n * 4, 1}, zba,
                      {KILN_DTYPE_FLOAT, 0, {0}, &sy, 4, 1}, {at, 0, {0}, &zy, 1, 1}};
        kiln_tensor *yq = run1("QLinearMatMul", 8, in8, 0, NULL, NULL);
        const int32_t *gi = kiln_tensor_data_const(yi);
        const uint8_t *gq = kiln_tensor_data_const(yq);
        for (size_t bi = 0; bi < batch; bi++)
            for (size_t i = 0; i < m; i++)
                for (size_t j = 0; j < n; j++) {
                    int64_t s = 0;
                    const uint8_t *bb = b + (batched_b ? bi : 0) * k * n;
                    for (size_t p = 0; p < k; p++)
                        s += (int64_t)(val(at, a, (bi * m + i) * k + p) - val(at, &za, 0)) * (val(bt, bb, p * n + j) - val(bt, zb, j));
                    size_t o = (bi * m + i) * n + j;
                    ck_assert_msg(gi[o] == (int32_t)s, "level %d variant %d MatMulInteger (%zu,%zu,%zu): %d != %lld", level, variant, bi, i, j,
                                  gi[o], (long long)s);
                    float mult = sa * sb[j] / sy, f = (float)s * mult;
                    int32_t zq = val(at, &zy, 0), lo = at == KILN_DTYPE_INT8 ? -128 : 0, hi = lo + 255;
                    f = fminf(fmaxf(f, (float)(lo - zq)), (float)(hi - zq));
                    int32_t want = (int32_t)nearbyintf(f) + zq;
                    ck_assert_msg(val(at, gq, o) == want, "level %d variant %d QLinearMatMul (%zu,%zu,%zu): %d != %d", level, variant, bi, i,
                                  j, val(at, gq, o), want);
                }
        kiln_tensor_destroy(yi), kiln_tensor_destroy(yq);
        free(a), free(b);
    }
}
END_TEST


/* Depthwise QLinearConv/ConvInteger (the direct kernel, kernels/q8-dwconv) against a 64-bit
 * reference: 3x3 and 5x5, strides 1 and 2, padding, dilation 2, u8/s8, per-channel zero points
 * and scales, bias. */
START_TEST(depthwise_against_reference) {
    int level = _i;
    if (!level_ok(level)) return;
    kiln_cpu_set_cap(level);
    static const int64_t cfgs[][5] = {{3, 1, 1, 1, 0}, {3, 2, 1, 1, 1}, {5, 1, 2, 1, 2}, {3, 1, 2, 2, 3}};
    for (size_t ci = 0; ci < 4; ci++) {
        int64_t kk = cfgs[ci][0], st = cfgs[ci][1], pad = cfgs[ci][2], dil = cfgs[ci][3];
        int variant = (int)cfgs[ci][4];
        int x_u8 = variant & 1, w_s8 = (variant >> 1) & 1;
        int32_t xt = x_u8 ? KILN_DTYPE_UINT8 : KILN_DTYPE_INT8, wt = w_s8 ? KILN_DTYPE_INT8 : KILN_DTYPE_UINT8;
        const int64_t C = 6, H = 9, W = 11;
        int64_t oh = (H + 2 * pad - dil * (kk - 1) - 1) / st + 1, ow = (W + 2 * pad - dil * (kk - 1) - 1) / st + 1;
        uint8_t x[6 * 9 * 11], w[6 * 25], zw[6], zx = (uint8_t)rnd(), zy = (uint8_t)rnd();
        float sw[6], sx = 0.02f, sy = 0.11f;
        int32_t bias[6];
        fill(x, sizeof x), fill(w, sizeof w);
        for (int i = 0; i < 6; i++) zw[i] = (uint8_t)rnd(), sw[i] = (float)(rnd() % 100 + 1) * 1e-3f, bias[i] = (int32_t)(rnd() % 2001) - 1000;
        int64_t pads[4] = {pad, pad, pad, pad}, strides[2] = {st, st}, dils[2] = {dil, dil};
        arg xa = {xt, 4, {1, C, H, W}, x, (size_t)(C * H * W), 0}, wa = {wt, 4, {C, 1, kk, kk}, w, (size_t)(C * kk * kk), 1};
        arg zxa = {xt, 0, {0}, &zx, 1, 1}, zwa = {wt, 1, {C}, zw, (size_t)C, 1};
        arg in4[4] = {xa, wa, zxa, zwa};
        arg in9[9] = {xa, {KILN_DTYPE_FLOAT, 0, {0}, &sx, 4, 1}, zxa, wa, {KILN_DTYPE_FLOAT, 1, {C}, sw, (size_t)C * 4, 1}, zwa,
                      {KILN_DTYPE_FLOAT, 0, {0}, &sy, 4, 1}, {xt, 0, {0}, &zy, 1, 1}, {KILN_DTYPE_INT32, 1, {C}, bias, (size_t)C * 4, 1}};
        dw_dils = dils;
        kiln_tensor *yi = run1("ConvInteger", 4, in4, C, pads, strides);
        kiln_tensor *yq = run1("QLinearConv", 9, in9, C, pads, strides);
        dw_dils = NULL;
        ck_assert_int_eq(kiln_tensor_element_count(yi), C * oh * ow);
        const int32_t *gi = kiln_tensor_data_const(yi);
        const uint8_t *gq = kiln_tensor_data_const(yq);
        for (int64_t c = 0; c < C; c++)
            for (int64_t a = 0; a < oh; a++)
                for (int64_t b = 0; b < ow; b++) {
                    int64_t sum = 0;
                    for (int64_t p = 0; p < kk; p++)
                        for (int64_t q = 0; q < kk; q++) {
                            int64_t ih = a * st - pad + p * dil, iw = b * st - pad + q * dil;
                            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                            sum += (int64_t)(val(xt, x, (size_t)((c * H + ih) * W + iw)) - val(xt, &zx, 0)) *
                                   (val(wt, w, (size_t)(c * kk * kk + p * kk + q)) - val(wt, zw, (size_t)c));
                        }
                    size_t o = (size_t)((c * oh + a) * ow + b);
                    ck_assert_msg(gi[o] == (int32_t)sum, "level %d case %zu ConvInteger (%lld,%lld,%lld): %d != %lld", level, ci,
                                  (long long)c, (long long)a, (long long)b, gi[o], (long long)sum);
                    float mult = sx * sw[c] / sy, f = (float)(sum + bias[c]) * mult;
                    int32_t zq = val(xt, &zy, 0), lo = xt == KILN_DTYPE_INT8 ? -128 : 0, hi = lo + 255;
                    f = fminf(fmaxf(f, (float)(lo - zq)), (float)(hi - zq));
                    int32_t want = (int32_t)nearbyintf(f) + zq;
                    ck_assert_msg(val(xt, gq, o) == want, "level %d case %zu QLinearConv (%lld,%lld,%lld): %d != %d", level, ci,
                                  (long long)c, (long long)a, (long long)b, val(xt, gq, o), want);
                }
        kiln_tensor_destroy(yi), kiln_tensor_destroy(yq);
    }
}
END_TEST


/* q8_dynamic_matmul (the kernel of kiln.DynamicQuantMatMul) against DynamicQuantizeLinear's
 * formula, a 64-bit sum and the float scaling, bit for bit, for s8 and u8 B. */
START_TEST(dynamic_matmul_core) {
    int level = _i;
    if (!level_ok(level)) return;
    kiln_cpu_set_cap(level);
    const kiln_qgemm_config *cfg = kiln_qgemm_config_get();
    const size_t rows = 13, k = 37, n = 21;
    for (int b_u8 = 0; b_u8 < 2; b_u8++) {
        float a[13 * 37], bs[21], bias[21], y[13 * 21];
        uint8_t b[37 * 21];
        int32_t zb[21], zb2[21], cs[21];
        for (size_t i = 0; i < rows * k; i++) a[i] = ((float)(rnd() % 20001) - 7000.0f) * 1e-3f;
        fill(b, sizeof b);
        for (size_t j = 0; j < n; j++) {
            zb[j] = b_u8 ? (int32_t)(rnd() & 255) : (int32_t)(rnd() & 255) - 128;
            zb2[j] = zb[j] - (b_u8 ? 128 : 0);
            bs[j] = (float)(rnd() % 100 + 1) * 1e-3f, bias[j] = (float)(rnd() % 200) * 0.01f - 1.0f;
        }
        int8_t *packed = malloc(kiln_u8s8_packed_size(k, n));
        kiln_u8s8_pack_b(k, 0, n, b, n, b_u8 ? 0x80 : 0, packed, cs);
        ck_assert_int_eq(q8_dynamic_matmul(NULL, cfg, a, rows, k, n, packed, cs, zb2, bs, bias, y, &err), KILN_OK);
        float mn = 0.0f, mx = 0.0f;
        for (size_t i = 0; i < rows * k; i++) mn = a[i] < mn ? a[i] : mn, mx = a[i] > mx ? a[i] : mx;
        float scale = (mx - mn) / 255.0f;
        int32_t za = (int32_t)nearbyintf(fminf(fmaxf(0.0f - mn / scale, 0.0f), 255.0f));
        for (size_t r = 0; r < rows; r++)
            for (size_t j = 0; j < n; j++) {
                int64_t sum = 0;
                for (size_t p = 0; p < k; p++) {
                    float v = fminf(fmaxf(a[r * k + p] / scale, (float)-za), (float)(255 - za));
                    int32_t q = (int32_t)nearbyintf(v) + za;
                    int32_t bv = b_u8 ? (int32_t)b[p * n + j] : (int32_t)(int8_t)b[p * n + j];
                    sum += (int64_t)(q - za) * (bv - zb[j]);
                }
                float want = (float)sum * (scale * bs[j]) + bias[j];
                ck_assert_msg(memcmp(&want, &y[r * n + j], 4) == 0, "level %d b_u8 %d (%zu,%zu): %g != %g", level, b_u8, r, j,
                              (double)y[r * n + j], (double)want);
            }
        free(packed);
    }
}
END_TEST

/* The dynamic-quantization chain of onnxruntime's quantizer, run with the optimizer off (as
 * written) and at level all (one kiln.DynamicQuantMatMul): the same bytes. A [2, 7, k] (batched
 * rows), B u8 or s8 with per-column zero points and scales, bias, Relu (fused as activation). */
static kiln_tensor *run_dynq_chain(int all, const float *a, const int64_t *adims, int32_t bdt, const uint8_t *b,
                                   const uint8_t *zb, const float *bs, const float *bias, size_t k, size_t n) {
    mb *m = mb_new(8, 13);
    KilnOnnx__GraphProto *g = mb_graph(m);
    int64_t bd[2] = {(int64_t)k, (int64_t)n}, nd[1] = {(int64_t)n};
    mb_input(m, g, "a", KILN_DTYPE_FLOAT, 3, adims);
    mb_output(m, g, "y", KILN_DTYPE_FLOAT, -1, NULL);
    mb_initializer(m, g, mb_tensor_raw(m, "b", bdt, 2, bd, b, k * n));
    mb_initializer(m, g, mb_tensor_raw(m, "zb", bdt, 1, nd, zb, n));
    mb_initializer(m, g, mb_tensor_raw(m, "bs", KILN_DTYPE_FLOAT, 1, nd, bs, n * 4));
    mb_initializer(m, g, mb_tensor_raw(m, "bias", KILN_DTYPE_FLOAT, 1, nd, bias, n * 4));
    mb_node(m, g, "DynamicQuantizeLinear", "dq", (const char *[]){"a", NULL}, (const char *[]){"qa", "sa", "za", NULL});
    mb_node(m, g, "MatMulInteger", "mmi", (const char *[]){"qa", "b", "za", "zb", NULL}, (const char *[]){"acc", NULL});
    KilnOnnx__NodeProto *cast = mb_node(m, g, "Cast", "cast", (const char *[]){"acc", NULL}, (const char *[]){"accf", NULL});
    mb_attr_int(m, cast, "to", KILN_DTYPE_FLOAT);
    mb_node(m, g, "Mul", "smul", (const char *[]){"sa", "bs", NULL}, (const char *[]){"sc", NULL});
    mb_node(m, g, "Mul", "mul", (const char *[]){"accf", "sc", NULL}, (const char *[]){"yf", NULL});
    mb_node(m, g, "Add", "add", (const char *[]){"yf", "bias", NULL}, (const char *[]){"yb", NULL});
    mb_node(m, g, "Relu", "relu", (const char *[]){"yb", NULL}, (const char *[]){"y", NULL});
    size_t size;
    const uint8_t *p = mb_pack(m, &size);
    kiln_session_options *o = NULL;
    ck_assert_int_eq(kiln_session_options_create(&o, &err), KILN_OK);
    ck_assert_int_eq(kiln_session_options_set_optimization_level(o, all ? KILN_OPT_ALL : KILN_OPT_DISABLED, &err), KILN_OK);
    kiln_session *s = NULL;
    kiln_status st = kiln_session_create_from_buffer(env, p, size, o, &s, &err);
    kiln_session_options_destroy(o);
    mb_free(m);
    ck_assert_msg(st == KILN_OK, "%s", err.msg);
    char rep[8192];
    size_t len = 0;
    ck_assert_int_eq(kiln_session_optimizer_report(s, rep, sizeof rep, &len, &err), KILN_OK);
    /* fused: 7 nodes -> 1 at level all; nothing at level disabled */
    ck_assert_msg(strstr(rep, all ? "\"nodes_after\":1" : "\"nodes_after\":7") != NULL, "optimizer report: %s", rep);
    kiln_tensor *t = NULL, *out = NULL;
    size_t count = (size_t)(adims[0] * adims[1] * adims[2]);
    ck_assert_int_eq(kiln_tensor_wrap(env, KILN_DTYPE_FLOAT, adims, 3, (void *)a, count * 4, &t, &err), KILN_OK);
    st = kiln_session_run(s, NULL, (const kiln_tensor *const *)&t, 1, NULL, &out, 1, &err);
    ck_assert_msg(st == KILN_OK, "%s", err.msg);
    kiln_tensor_destroy(t);
    kiln_session_destroy(s);
    return out;
}

START_TEST(dynamic_matmul_fused_equals_chain) {
    int level = _i;
    if (!level_ok(level)) return;
    kiln_cpu_set_cap(level);
    enum { K = 45, N = 37, ROWS = 14 };
    const int64_t adims[3] = {2, 7, K};
    for (int b_u8 = 0; b_u8 < 2; b_u8++) {
        static float a[ROWS * K], bs[N], bias[N];
        static uint8_t b[K * N], zb[N];
        for (size_t i = 0; i < ROWS * K; i++) a[i] = ((float)(rnd() % 20001) - 9000.0f) * 7e-4f;
        a[5] = 0.5f * 255.0f * 7e-4f; /* values on the rounding boundary too */
        fill(b, sizeof b);
        fill(zb, sizeof zb);
        for (size_t j = 0; j < N; j++) bs[j] = (float)(rnd() % 100 + 1) * 1.3e-3f, bias[j] = (float)(rnd() % 200) * 0.01f - 1.0f;
        int32_t bdt = b_u8 ? KILN_DTYPE_UINT8 : KILN_DTYPE_INT8;
        kiln_tensor *chain = run_dynq_chain(0, a, adims, bdt, b, zb, bs, bias, K, N);
        kiln_tensor *fused = run_dynq_chain(1, a, adims, bdt, b, zb, bs, bias, K, N);
        const float *yc = kiln_tensor_data_const(chain), *yf = kiln_tensor_data_const(fused);
        int positive = 0;
        for (size_t i = 0; i < ROWS * N; i++) {
            ck_assert_msg(memcmp(&yc[i], &yf[i], 4) == 0, "level %d b_u8 %d [%zu]: fused %.9g, chain %.9g", level, b_u8, i,
                          (double)yf[i], (double)yc[i]);
            positive += yc[i] > 0.0f;
        }
        ck_assert_int_gt(positive, 0); /* not all clamped by the Relu */
        kiln_tensor_destroy(chain);
        kiln_tensor_destroy(fused);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("qlinear-q8");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, conv_paths_agree, 0, KILN_ISA_COUNT);
    tcase_add_loop_test(tc, matmul_against_reference, 0, KILN_ISA_COUNT);
    tcase_add_loop_test(tc, depthwise_against_reference, 0, KILN_ISA_COUNT);
    tcase_add_loop_test(tc, dynamic_matmul_core, 0, KILN_ISA_COUNT);
    tcase_add_loop_test(tc, dynamic_matmul_fused_equals_chain, 0, KILN_ISA_COUNT);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
