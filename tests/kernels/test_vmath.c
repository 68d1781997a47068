/* SPDX-License-Identifier: MIT */
/* The f32-vmath kernels (kernels/f32-vmath) at every ISA level this CPU has, against double
 * references: the elementwise functions' error in ulp of the exact result over a sweep of the whole
 * float line (every 2039th bit pattern) and a dense sweep of each function's active range, with
 * the edge inputs (+-0, subnormals, +-inf, NaN, the overflow and underflow thresholds) listed
 * explicitly; each bound of f32-vmath.h asserted. The row kernels (softmax, log-softmax,
 * layernorm with skip/bias/RMS) against double loops on rows of every tail length, and on rows
 * with -inf, huge values and NaN. The maxima found are printed (docs/vmath.md quotes them). */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/config/cpu.h"
#include "kernels/f32-vmath/f32-vmath.h"

static float bits_f(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static uint32_t f_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* |got - ref| in units of the last place of ref as a float (the smallest subnormal below FLT_MIN);
 * a ref beyond FLT_MAX must give the float it rounds to (inf). */
static double ulp_err(float got, double ref) {
    if (isnan(ref)) return isnan(got) ? 0.0 : INFINITY;
    if (isnan(got)) return INFINITY;
    if (isinf(got) || fabs(ref) > FLT_MAX) return got == (float)ref ? 0.0 : INFINITY;
    double a = fabs(ref), ulp = 0x1p-149;
    if (a >= FLT_MIN) {
        int e;
        frexp(a, &e);
        ulp = ldexp(1.0, e - 24);
    }
    return fabs((double)got - ref) / ulp;
}

static double r_exp(double x) { return exp(x); }
static double r_tanh(double x) { return tanh(x); }
static double r_sigmoid(double x) { return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x)); }
static double r_erf(double x) { return erf(x); }
static double r_gelu(double x) { return isinf(x) ? (x > 0 ? x : -0.0) : 0.5 * x * erfc(-x * 0.70710678118654752440); }
static double r_gelu_tanh(double x) {
    if (isinf(x)) return x > 0 ? x : -0.0;
    double w = 2.0 * 0.79788456080286535588 * (x + 0.044715 * x * x * x);
    return x * r_sigmoid(w);
}

typedef struct fn_case {
    const char *name;
    size_t off;          /* offset of the function in kiln_f32_vmath_ops */
    double (*ref)(double);
    double lo, hi;       /* the dense sweep */
    double bound;        /* ulp */
    double per_w;        /* GELU tanh: the bound is bound + per_w |w| ulp, reported scaled to bound */
} fn_case;

static const fn_case cases[] = {
    {"exp", offsetof(kiln_f32_vmath_ops, exp), r_exp, -105, 90, 2, 0},
    {"tanh", offsetof(kiln_f32_vmath_ops, tanh), r_tanh, -10, 10, 3, 0},
    {"sigmoid", offsetof(kiln_f32_vmath_ops, sigmoid), r_sigmoid, -105, 20, 3, 0},
    {"erf", offsetof(kiln_f32_vmath_ops, erf), r_erf, -4.5, 4.5, 4, 0},
    {"gelu", offsetof(kiln_f32_vmath_ops, gelu), r_gelu, -15, 6, 8, 0},
    {"gelu_tanh", offsetof(kiln_f32_vmath_ops, gelu_tanh), r_gelu_tanh, -15, 6, 4, 4.0},
};

#define CHUNK 4096

/* Runs the kernel over xs (in chunks, with odd lengths so tails are exercised), returns the worst. */
static double sweep(const fn_case *c, kiln_f32_vunary_fn f, const float *xs, size_t n, float *worst_x) {
    static float y[CHUNK];
    double worst = 0.0;
    for (size_t b = 0; b < n; b += CHUNK - 3) {
        size_t k = n - b < CHUNK - 3 ? n - b : CHUNK - 3;
        f(k, xs + b, y);
        for (size_t i = 0; i < k; i++) {
            float x = xs[b + i];
            double ref = c->ref((double)x);
            double e = ulp_err(y[i], ref);
            if (c->per_w > 0.0) /* the bound grows with the rounding of the tanh argument w */
                e = e / (c->bound + c->per_w * fabs(2.0 * 0.79788456080286535588 * ((double)x + 0.044715 * (double)x * x * x))) * c->bound;
            if (e > worst) {
                worst = e;
                *worst_x = x;
            }
        }
    }
    return worst;
}

static float *inputs(const fn_case *c, size_t *n_out) {
    static const float edges[] = {0.0f, -0.0f, 0x1p-149f, -0x1p-149f, 0x1p-130f, -0x1p-130f, FLT_MIN, -FLT_MIN,
                                  INFINITY, -INFINITY, NAN, -NAN, FLT_MAX, -FLT_MAX, 88.7228394f, 88.7228393f,
                                  88.72284f, -87.33654f, -103.972076f, -103.97208f, -104.0f, 89.0f, 9.01f, -9.01f,
                                  3.92f, -3.92f, 0.5f, -0.5f, 0.625f, -0.625f, 1e-20f, -1e-20f, 13.5f, -13.5f, 4.0f, -4.0f};
    size_t ne = sizeof edges / sizeof *edges, nfull = (1ull << 32) / 2039 + 1, ndense = 1u << 20;
    float *xs = malloc(sizeof(float) * (ne + nfull + ndense));
    size_t n = 0;
    for (size_t i = 0; i < ne; i++) xs[n++] = edges[i];
    for (uint64_t u = 0; u < (1ull << 32); u += 2039) xs[n++] = bits_f((uint32_t)u);
    for (size_t i = 0; i < ndense; i++) xs[n++] = (float)(c->lo + (c->hi - c->lo) * ((double)i / (double)ndense));
    *n_out = n;
    return xs;
}

static const int levels[] = {KILN_ISA_SCALAR, KILN_ISA_AVX2, KILN_ISA_AVX512};

START_TEST(elementwise_ulp) {
    const kiln_cpu_info *cpu = kiln_cpu();
    for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
        const fn_case *c = &cases[ci];
        size_t n;
        float *xs = inputs(c, &n);
        for (int l = 0; l < 3; l++) {
            if (levels[l] > (int)cpu->detected) continue;
            kiln_cpu_set_cap(levels[l]);
            const kiln_f32_vmath_ops *ops = kiln_f32_vmath();
            kiln_f32_vunary_fn f;
            memcpy(&f, (const char *)ops + c->off, sizeof f);
            float wx = 0.0f;
            double e = sweep(c, f, xs, n, &wx);
            fprintf(stderr, "# %-9s %-8s max %.3f ulp (at x = %.9g)", c->name, ops->isa, e, (double)wx);
            if (c->per_w > 0.0) fprintf(stderr, " (scaled: the bound is %g + %g |w| ulp)", c->bound, c->per_w);
            fprintf(stderr, "\n");
            ck_assert_msg(e <= c->bound, "%s (%s): %.3f ulp at x = %.9g, bound %g", c->name, ops->isa, e, (double)wx, c->bound);
        }
        free(xs);
    }
    kiln_cpu_set_cap(-1);
}
END_TEST

/* Signed zeros and tiny inputs keep their sign and value where the function is odd. */
START_TEST(signed_zero_and_subnormals) {
    const kiln_cpu_info *cpu = kiln_cpu();
    for (int l = 0; l < 3; l++) {
        if (levels[l] > (int)cpu->detected) continue;
        kiln_cpu_set_cap(levels[l]);
        const kiln_f32_vmath_ops *ops = kiln_f32_vmath();
        float x[4] = {0.0f, -0.0f, 0x1p-149f, -0x1p-140f}, y[4];
        ops->tanh(4, x, y);
        for (int i = 0; i < 4; i++) ck_assert_msg(f_bits(y[i]) == f_bits(x[i]), "%s tanh(%a) = %a", ops->isa, (double)x[i], (double)y[i]);
        ops->erf(4, x, y);
        ck_assert_msg(f_bits(y[0]) == 0u && f_bits(y[1]) == 0x80000000u, "%s erf(+-0) = %a %a", ops->isa, (double)y[0], (double)y[1]);
        ck_assert(y[2] > 0.0f && y[3] < 0.0f);
        ops->exp(4, x, y);
        for (int i = 0; i < 4; i++) ck_assert_msg(y[i] == 1.0f, "%s exp(%a) = %a", ops->isa, (double)x[i], (double)y[i]);
        ops->sigmoid(2, x, y);
        ck_assert(y[0] == 0.5f && y[1] == 0.5f);
    }
    kiln_cpu_set_cap(-1);
}
END_TEST

START_TEST(swish_matches_sigmoid) {
    const kiln_cpu_info *cpu = kiln_cpu();
    for (int l = 0; l < 3; l++) {
        if (levels[l] > (int)cpu->detected) continue;
        kiln_cpu_set_cap(levels[l]);
        const kiln_f32_vmath_ops *ops = kiln_f32_vmath();
        float x[37], y[37];
        for (int i = 0; i < 37; i++) x[i] = (float)(i - 18) * 0.7f;
        x[3] = NAN;
        ops->swish(37, x, y, 1.702f);
        for (int i = 0; i < 37; i++) {
            double ref = (double)x[i] * r_sigmoid((double)(1.702f * x[i]));
            if (i == 3) ck_assert(isnan(y[i]));
            else ck_assert_msg(fabs(y[i] - ref) <= 6e-7 * fabs(ref) + 1e-30, "%s swish(%g) = %g, want %g", ops->isa, (double)x[i], (double)y[i], ref);
        }
    }
    kiln_cpu_set_cap(-1);
}
END_TEST

static unsigned rng = 12345u;
static float frand(float lo, float hi) {
    rng = rng * 1664525u + 1013904223u;
    return lo + (hi - lo) * (float)((rng >> 8) & 0xffffff) / 16777216.0f;
}

static void check_softmax_row(const kiln_f32_vmath_ops *ops, const float *x, size_t n) {
    float *y = malloc(sizeof(float) * n), *z = malloc(sizeof(float) * n);
    ops->softmax(n, x, y);
    ops->logsoftmax(n, x, z);
    double m = -INFINITY, s = 0.0;
    for (size_t i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
    /* x - max is rounded to float as the kernel (and the spec's float arithmetic) does */
    for (size_t i = 0; i < n; i++) s += exp((double)(x[i] - (float)m));
    for (size_t i = 0; i < n; i++) {
        double d = (double)(x[i] - (float)m), p = exp(d) / s, lp = d - log(s);
        ck_assert_msg(fabs(y[i] - p) <= 4e-7 * p + 1e-37, "%s softmax n=%zu [%zu] = %.9g, want %.9g", ops->isa, n, i, (double)y[i], p);
        if (isinf(lp)) ck_assert_msg(z[i] == (float)lp, "%s logsoftmax n=%zu [%zu] = %g, want %g", ops->isa, n, i, (double)z[i], lp);
        else ck_assert_msg(fabs(z[i] - lp) <= 4e-7 * fabs(lp) + 2e-7, "%s logsoftmax n=%zu [%zu] = %.9g, want %.9g",
                           ops->isa, n, i, (double)z[i], lp);
    }
    free(y), free(z);
}

START_TEST(softmax_rows) {
    const kiln_cpu_info *cpu = kiln_cpu();
    for (int l = 0; l < 3; l++) {
        if (levels[l] > (int)cpu->detected) continue;
        kiln_cpu_set_cap(levels[l]);
        const kiln_f32_vmath_ops *ops = kiln_f32_vmath();
        float x[1100];
        for (size_t n = 1; n <= 70; n++) {
            for (size_t i = 0; i < n; i++) x[i] = frand(-20.0f, 20.0f);
            check_softmax_row(ops, x, n);
        }
        for (size_t n = 250; n <= 1100; n += 283) { /* blocks of 256 summed in float, then double */
            for (size_t i = 0; i < n; i++) x[i] = frand(-8.0f, 8.0f) + 1e4f;
            check_softmax_row(ops, x, n);
        }
        for (size_t i = 0; i < 33; i++) x[i] = i % 3 ? -INFINITY : frand(-1e30f, 1e30f); /* -inf and huge */
        check_softmax_row(ops, x, 33);
        float y[33];
        x[5] = NAN; /* a NaN row is NaN */
        ops->softmax(33, x, y);
        for (int i = 0; i < 33; i++) ck_assert(isnan(y[i]));
        for (size_t i = 0; i < 33; i++) x[i] = frand(-3.0f, 3.0f); /* in place */
        memcpy(y, x, sizeof y);
        ops->softmax(33, y, y);
        float w[33];
        ops->softmax(33, x, w);
        ck_assert(!memcmp(w, y, sizeof y));
    }
    kiln_cpu_set_cap(-1);
}
END_TEST

static void check_ln(const kiln_f32_vmath_ops *ops, size_t n, int skip, int bias, int beta, int sum, int rms) {
    float *x = malloc(4 * n), *sk = malloc(4 * n), *bi = malloc(4 * n), *g = malloc(4 * n), *be = malloc(4 * n);
    float *y = malloc(4 * n), *s = malloc(4 * n);
    for (size_t i = 0; i < n; i++) {
        x[i] = frand(-3.0f, 5.0f) + 100.0f; /* an offset the mean removes */
        sk[i] = frand(-1.0f, 1.0f);
        bi[i] = frand(-1.0f, 1.0f);
        g[i] = frand(0.5f, 1.5f);
        be[i] = frand(-1.0f, 1.0f);
    }
    kiln_f32_lnorm_row r = {x, skip ? sk : NULL, bias ? bi : NULL, g, beta ? be : NULL, y, sum ? s : NULL, n, 1e-5f, rms};
    double mean, inv;
    ops->layernorm(&r, &mean, &inv);
    double *v = malloc(sizeof(double) * n), m = 0.0, var = 0.0;
    for (size_t i = 0; i < n; i++) {
        float t = x[i];
        if (skip) {
            t = x[i] + sk[i];
            if (bias) t += bi[i];
        }
        v[i] = t;
        m += t;
    }
    m = rms ? 0.0 : m / (double)n;
    for (size_t i = 0; i < n; i++) var += (v[i] - m) * (v[i] - m);
    double ri = 1.0 / sqrt(var / (double)n + 1e-5);
    ck_assert_msg(fabs(mean - m) <= 1e-6 * (fabs(m) + 1) && fabs(inv - ri) <= 1e-5 * ri, "%s ln n=%zu: mean %g inv %g, want %g %g",
                  ops->isa, n, mean, inv, m, ri);
    for (size_t i = 0; i < n; i++) {
        double want = (v[i] - m) * ri * g[i] + (beta ? be[i] : 0.0);
        double tol = rms ? 2e-6 * fabs(want) + 1e-6 : 4e-5 * (1.0 + fabs(want)); /* x - mean cancels ~100 */
        ck_assert_msg(fabs(y[i] - want) <= tol, "%s ln n=%zu skip %d bias %d beta %d rms %d: y[%zu] = %.9g, want %.9g", ops->isa, n,
                      skip, bias, beta, rms, i, (double)y[i], want);
        if (sum) ck_assert(s[i] == (float)v[i]);
    }
    free(x), free(sk), free(bi), free(g), free(be), free(y), free(s), free(v);
}

START_TEST(layernorm_rows) {
    const kiln_cpu_info *cpu = kiln_cpu();
    for (int l = 0; l < 3; l++) {
        if (levels[l] > (int)cpu->detected) continue;
        kiln_cpu_set_cap(levels[l]);
        const kiln_f32_vmath_ops *ops = kiln_f32_vmath();
        static const size_t ns[] = {1, 2, 7, 15, 16, 17, 31, 33, 64, 255, 256, 257, 768, 1000};
        for (size_t k = 0; k < sizeof ns / sizeof *ns; k++)
            for (int mode = 0; mode < 16; mode++) {
                int skip = mode & 1, bias = (mode >> 1) & 1, beta = (mode >> 2) & 1, sum = (mode >> 3) & 1;
                if ((bias || sum) && !skip) continue;
                check_ln(ops, ns[k], skip, bias, beta, sum, 0);
            }
        for (size_t k = 0; k < sizeof ns / sizeof *ns; k++) check_ln(ops, ns[k], 0, 0, 0, 0, 1);
    }
    kiln_cpu_set_cap(-1);
}
END_TEST

int main(void) {
    Suite *s = suite_create("kernels-f32-vmath");
    TCase *tc = tcase_create("vmath");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, elementwise_ulp);
    tcase_add_test(tc, signed_zero_and_subnormals);
    tcase_add_test(tc, swish_matches_sigmoid);
    tcase_add_test(tc, softmax_rows);
    tcase_add_test(tc, layernorm_rows);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
