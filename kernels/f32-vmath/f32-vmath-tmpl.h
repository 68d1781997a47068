/* SPDX-License-Identifier: MIT */
/* The f32-vmath kernels written once over a small vector vocabulary that each ISA file defines
 * before including this file (docs/vmath.md has the derivations):
 *   vm_t / vm_m           vector of VM_N floats / lane mask
 *   VM_LD VM_ST           full loads and stores;  VM_LDN(p, k, fill) VM_STN(p, v, k): first k lanes
 *   VM_SET VM_ADD VM_SUB VM_MUL VM_DIV VM_MIN VM_MAX (MIN/MAX return the 2nd operand on NaN)
 *   VM_FMA(a, b, c) = a b + c, VM_FNMA(a, b, c) = c - a b, fused (one rounding) except in scalar
 *   VM_ABS VM_COPYSIGN(mag, sgn) VM_LT VM_GT VM_ISNAN VM_SEL(m, a, b) = m ? a : b
 *   VM_ROUND (to nearest even), VM_EXP2I(p, n) = p 2^n for integral n in [-151, 129]
 *   VM_SQR_EXACT(x, hi, lo): hi + lo = x^2 exactly;  VM_HSUM VM_HMAX: horizontal reductions
 *   VM_NAME(f): the ISA-suffixed name of f. */
#include <math.h>

#include "kernels/f32-vmath/f32-vmath-coeffs.h"
#include "kernels/f32-vmath/f32-vmath.h"

#define VM_LOG2E 1.44269504088896341f
/* ln 2 = HI + LO with HI's 16 significant bits: n HI is exact for |n| <= 256 and x - n HI is exact
 * (Sterbenz), so only the LO step rounds, with or without fused multiply-adds. */
#define VM_LN2_HI 0.693145751953125f
#define VM_LN2_LO 1.42860676533018e-06f
#define VM_SQRT_HALF 0.707106781186547524f
#define VM_SQRT_2_OVER_PI 0.797884560802865356f

/* e^x: n = round(x log2 e), r = x - n ln2 in two FMA steps (|r| <= ln2/2 + tiny),
 * e^r = 1 + r + r^2 q(r) (x - n ln2 with the split ln2 below), then p 2^n. x is clamped to [-104, 89] first (e^-104 rounds to 0,
 * e^89 overflows to inf through 2^n), NaN restored at the end. */
static inline vm_t vm_exp(vm_t x) {
    vm_t xc = VM_MIN(VM_MAX(x, VM_SET(-104.0f)), VM_SET(89.0f));
    vm_t n = VM_ROUND(VM_MUL(xc, VM_SET(VM_LOG2E)));
    vm_t r = VM_FNMA(n, VM_SET(VM_LN2_HI), xc);
    r = VM_FNMA(n, VM_SET(VM_LN2_LO), r);
    vm_t q = VM_FMA(VM_SET(KILN_VM_EXP_C4), r, VM_SET(KILN_VM_EXP_C3));
    q = VM_FMA(q, r, VM_SET(KILN_VM_EXP_C2));
    q = VM_FMA(q, r, VM_SET(KILN_VM_EXP_C1));
    q = VM_FMA(q, r, VM_SET(KILN_VM_EXP_C0));
    vm_t p = VM_ADD(VM_FMA(VM_MUL(r, r), q, r), VM_SET(1.0f));
    vm_t y = VM_EXP2I(p, n);
    return VM_SEL(VM_ISNAN(x), VM_ADD(x, x), y);
}

/* 1 / (1 + e^-x) as num / (1 + e) with e = e^-|x| (never overflows): num = 1 for x >= 0, e below. */
static inline vm_t vm_sigmoid(vm_t x) {
    vm_t e = vm_exp(VM_SUB(VM_SET(0.0f), VM_ABS(x)));
    vm_t num = VM_SEL(VM_LT(x, VM_SET(0.0f)), e, VM_SET(1.0f));
    return VM_DIV(num, VM_ADD(VM_SET(1.0f), e));
}

/* tanh: x + x^3 q(x^2) for |x| < TANH_SPLIT, else sign(x) (1 - 2 / (e^2|x| + 1)) with |x| clamped
 * to 9.5 (tanh rounds to 1 from 9.01 on). */
static inline vm_t vm_tanh(vm_t x) {
    vm_t a = VM_ABS(x), z = VM_MUL(x, x);
    vm_t q = VM_FMA(VM_SET(KILN_VM_TANH_C5), z, VM_SET(KILN_VM_TANH_C4));
    q = VM_FMA(q, z, VM_SET(KILN_VM_TANH_C3));
    q = VM_FMA(q, z, VM_SET(KILN_VM_TANH_C2));
    q = VM_FMA(q, z, VM_SET(KILN_VM_TANH_C1));
    q = VM_FMA(q, z, VM_SET(KILN_VM_TANH_C0));
    vm_t small = VM_COPYSIGN(VM_FMA(VM_MUL(x, z), q, x), x); /* tanh(-0) = -0 */
    vm_t e = vm_exp(VM_ADD(VM_MIN(a, VM_SET(9.5f)), VM_MIN(a, VM_SET(9.5f))));
    vm_t big = VM_SUB(VM_SET(1.0f), VM_DIV(VM_SET(2.0f), VM_ADD(e, VM_SET(1.0f))));
    vm_t y = VM_SEL(VM_LT(a, VM_SET(KILN_VM_TANH_SPLIT)), small, VM_COPYSIGN(big, x));
    return VM_SEL(VM_ISNAN(x), VM_ADD(x, x), y);
}

/* erf(a) - a = a q(a^2) near 0 (a = |x| < ERF_SPLIT): returns a q(a^2). */
static inline vm_t vm_erf_small_rest(vm_t a) {
    vm_t z = VM_MUL(a, a);
    vm_t q = VM_FMA(VM_SET(KILN_VM_ERF_C5), z, VM_SET(KILN_VM_ERF_C4));
    q = VM_FMA(q, z, VM_SET(KILN_VM_ERF_C3));
    q = VM_FMA(q, z, VM_SET(KILN_VM_ERF_C2));
    q = VM_FMA(q, z, VM_SET(KILN_VM_ERF_C1));
    q = VM_FMA(q, z, VM_SET(KILN_VM_ERF_C0));
    return VM_MUL(a, q);
}

/* R(t) of erfc(a) = e^(-a^2) R(t), t = 1 / (1 + K a), for a clamped to [ERF_SPLIT, ERFC_END]. */
static inline vm_t vm_erfc_r(vm_t a) {
    vm_t ac = VM_MIN(VM_MAX(a, VM_SET(KILN_VM_ERF_SPLIT)), VM_SET(KILN_VM_ERFC_END));
    vm_t t = VM_DIV(VM_SET(1.0f), VM_FMA(ac, VM_SET(KILN_VM_ERFC_K), VM_SET(1.0f)));
    vm_t r = VM_FMA(VM_SET(KILN_VM_ERFC_C10), t, VM_SET(KILN_VM_ERFC_C9));
    r = VM_FMA(r, t, VM_SET(KILN_VM_ERFC_C8));
    r = VM_FMA(r, t, VM_SET(KILN_VM_ERFC_C7));
    r = VM_FMA(r, t, VM_SET(KILN_VM_ERFC_C6));
    r = VM_FMA(r, t, VM_SET(KILN_VM_ERFC_C5));
    r = VM_FMA(r, t, VM_SET(KILN_VM_ERFC_C4));
    r = VM_FMA(r, t, VM_SET(KILN_VM_ERFC_C3));
    r = VM_FMA(r, t, VM_SET(KILN_VM_ERFC_C2));
    r = VM_FMA(r, t, VM_SET(KILN_VM_ERFC_C1));
    return VM_FMA(r, t, VM_SET(KILN_VM_ERFC_C0));
}

/* e^-(hi + lo) for hi + lo = a^2 exact and lo tiny against hi: e^-hi (1 - lo). */
static inline vm_t vm_exp_neg_sq(vm_t hi, vm_t lo) {
    vm_t e = vm_exp(VM_SUB(VM_SET(0.0f), hi));
    return VM_FNMA(e, lo, e);
}

/* erf: x + x q(x^2) for |x| < ERF_SPLIT, else sign(x) (1 - erfc(|x|)) with |x| clamped to 4
 * (erf rounds to 1 from 3.92 on) and x^2 exact, so e^-x^2 carries no error from it. */
static inline vm_t vm_erf(vm_t x) {
    vm_t a = VM_ABS(x);
    vm_t small = VM_ADD(x, VM_COPYSIGN(vm_erf_small_rest(a), x));
    vm_t ac = VM_MIN(a, VM_SET(4.0f)), hi, lo;
    VM_SQR_EXACT(ac, hi, lo);
    vm_t ec = VM_MUL(vm_exp_neg_sq(hi, lo), vm_erfc_r(ac));
    vm_t y = VM_SEL(VM_LT(a, VM_SET(KILN_VM_ERF_SPLIT)), small, VM_COPYSIGN(VM_SUB(VM_SET(1.0f), ec), x));
    return VM_SEL(VM_ISNAN(x), VM_ADD(x, x), y);
}

/* GELU, erf form: x/2 (1 + erf(x / sqrt 2)). With u = |x| / sqrt 2: 1 + erf = 2 - erfc(u) for
 * x >= 0 and erfc(u) for x < 0, so the negative side keeps its relative precision; u^2 = x^2 / 2
 * exactly. x below -14.5 is clamped (GELU has underflowed to -0 there), and |x| to 14.5 inside erfc. */
static inline vm_t vm_gelu(vm_t x) {
    vm_t xc = VM_MAX(x, VM_SET(-14.5f)), xe = VM_MIN(xc, VM_SET(14.5f)); /* xe: finite for x^2 */
    vm_t a = VM_MUL(VM_ABS(xe), VM_SET(VM_SQRT_HALF));
    vm_t rest = vm_erf_small_rest(a);   /* erf(u) - u */
    vm_t es = VM_ADD(a, rest);          /* erf(u), u small */
    vm_t hi, lo;
    VM_SQR_EXACT(xe, hi, lo);
    hi = VM_MUL(hi, VM_SET(0.5f));
    lo = VM_MUL(lo, VM_SET(0.5f));
    vm_t ex = vm_exp_neg_sq(hi, lo), rr = vm_erfc_r(a), hx = VM_MUL(xc, VM_SET(0.5f));
    vm_m sm = VM_LT(a, VM_SET(KILN_VM_ERF_SPLIT)), neg = VM_LT(xc, VM_SET(0.0f));
    vm_t pos_f = VM_SEL(sm, VM_ADD(VM_SET(1.0f), es), VM_FNMA(ex, rr, VM_SET(2.0f)));
    vm_t y = VM_MUL(hx, VM_SEL(neg, VM_SUB(VM_SET(1.0f), es), pos_f));
    /* x < 0, u large: x/2 erfc(u) = e^-u^2 (x/2 R): only the last product may round into the subnormals */
    y = VM_SEL(VM_LT(xc, VM_SET(-KILN_VM_ERF_SPLIT * 1.41421356f)), VM_MUL(ex, VM_MUL(hx, rr)), y);
    return VM_SEL(VM_ISNAN(x), VM_ADD(x, x), y);
}

/* GELU, tanh form: x/2 (1 + tanh(w/2)) = x sigmoid(w), w = 2 sqrt(2/pi) (x + 0.044715 x^3):
 * one exp and one division, no cancellation on the negative side. x below -20 is clamped. */
static inline vm_t vm_gelu_tanh(vm_t x) {
    vm_t xc = VM_MAX(x, VM_SET(-20.0f));
    vm_t z = VM_MUL(xc, xc);
    vm_t w = VM_MUL(VM_MUL(xc, VM_SET(2.0f * VM_SQRT_2_OVER_PI)), VM_FMA(z, VM_SET(0.044715f), VM_SET(1.0f)));
    vm_t y = VM_MUL(xc, vm_sigmoid(w));
    return VM_SEL(VM_ISNAN(x), VM_ADD(x, x), y);
}

#define VM_DEF_MAP(NAME, F)                                              \
    static void VM_NAME(NAME)(size_t n, const float *x, float *y) {     \
        size_t i = 0;                                                    \
        for (; i + VM_N <= n; i += VM_N) VM_ST(y + i, F(VM_LD(x + i)));  \
        if (i < n) VM_STN(y + i, F(VM_LDN(x + i, n - i, 0.0f)), n - i); \
    }
VM_DEF_MAP(exp, vm_exp)
VM_DEF_MAP(tanh, vm_tanh)
VM_DEF_MAP(sigmoid, vm_sigmoid)
VM_DEF_MAP(erf, vm_erf)
VM_DEF_MAP(gelu, vm_gelu)
VM_DEF_MAP(gelu_tanh, vm_gelu_tanh)

static void VM_NAME(swish)(size_t n, const float *x, float *y, float alpha) {
    vm_t al = VM_SET(alpha);
    size_t i = 0;
    for (; i + VM_N <= n; i += VM_N) {
        vm_t v = VM_LD(x + i);
        VM_ST(y + i, VM_MUL(v, vm_sigmoid(VM_MUL(v, al))));
    }
    if (i < n) {
        vm_t v = VM_LDN(x + i, n - i, 0.0f);
        VM_STN(y + i, VM_MUL(v, vm_sigmoid(VM_MUL(v, al))), n - i);
    }
}

/* max of a row (NaN may or may not win; a NaN row gives NaN through exp anyway). */
static float vm_row_max(size_t n, const float *x) {
    vm_t m0 = VM_SET(-INFINITY), m1 = m0;
    size_t i = 0;
    for (; i + 2 * VM_N <= n; i += 2 * VM_N) {
        m0 = VM_MAX(m0, VM_LD(x + i));
        m1 = VM_MAX(m1, VM_LD(x + i + VM_N));
    }
    for (; i + VM_N <= n; i += VM_N) m0 = VM_MAX(m0, VM_LD(x + i));
    if (i < n) m1 = VM_MAX(m1, VM_LDN(x + i, n - i, -INFINITY));
    return VM_HMAX(VM_MAX(m0, m1));
}

#define VM_BLOCK 256 /* elements summed in float before the sum joins the double total */

/* sum of e^(x - m), stored into e when e is set */
static double vm_row_expsum(size_t n, const float *x, float m, float *e) {
    vm_t mv = VM_SET(m);
    double s = 0.0;
    for (size_t b = 0; b < n; b += VM_BLOCK) {
        size_t end = n - b < VM_BLOCK ? n : b + VM_BLOCK, i = b;
        vm_t s0 = VM_SET(0.0f), s1 = s0;
        for (; i + 2 * VM_N <= end; i += 2 * VM_N) {
            vm_t e0 = vm_exp(VM_SUB(VM_LD(x + i), mv)), e1 = vm_exp(VM_SUB(VM_LD(x + i + VM_N), mv));
            if (e) {
                VM_ST(e + i, e0);
                VM_ST(e + i + VM_N, e1);
            }
            s0 = VM_ADD(s0, e0);
            s1 = VM_ADD(s1, e1);
        }
        for (; i + VM_N <= end; i += VM_N) {
            vm_t e0 = vm_exp(VM_SUB(VM_LD(x + i), mv));
            if (e) VM_ST(e + i, e0);
            s0 = VM_ADD(s0, e0);
        }
        if (i < end) { /* masked-off lanes load -inf: e^-inf = 0 */
            vm_t e0 = vm_exp(VM_SUB(VM_LDN(x + i, end - i, -INFINITY), mv));
            if (e) VM_STN(e + i, e0, end - i);
            s1 = VM_ADD(s1, e0);
        }
        s += (double)VM_HSUM(VM_ADD(s0, s1));
    }
    return s;
}

static void VM_NAME(softmax)(size_t n, const float *x, float *y) {
    float m = vm_row_max(n, x);
    double s = vm_row_expsum(n, x, m, y);
    vm_t inv = VM_SET((float)(1.0 / s));
    size_t i = 0;
    for (; i + VM_N <= n; i += VM_N) VM_ST(y + i, VM_MUL(VM_LD(y + i), inv));
    if (i < n) VM_STN(y + i, VM_MUL(VM_LDN(y + i, n - i, 0.0f), inv), n - i);
}

static void VM_NAME(logsoftmax)(size_t n, const float *x, float *y) {
    float m = vm_row_max(n, x);
    double s = vm_row_expsum(n, x, m, NULL);
    vm_t mv = VM_SET(m), ls = VM_SET((float)log(s));
    size_t i = 0;
    for (; i + VM_N <= n; i += VM_N) VM_ST(y + i, VM_SUB(VM_SUB(VM_LD(x + i), mv), ls));
    if (i < n) VM_STN(y + i, VM_SUB(VM_SUB(VM_LDN(x + i, n - i, 0.0f), mv), ls), n - i);
}

/* v = x + skip (+ bias) into dst, returning the sum of v */
static double vm_row_skip(size_t n, const float *x, const float *skip, const float *bias, float *dst) {
    double s = 0.0;
    for (size_t b = 0; b < n; b += VM_BLOCK) {
        size_t end = n - b < VM_BLOCK ? n : b + VM_BLOCK, i = b;
        vm_t s0 = VM_SET(0.0f);
        for (; i + VM_N <= end; i += VM_N) {
            vm_t v = VM_ADD(VM_LD(x + i), VM_LD(skip + i));
            if (bias) v = VM_ADD(v, VM_LD(bias + i));
            VM_ST(dst + i, v);
            s0 = VM_ADD(s0, v);
        }
        if (i < end) {
            size_t k = end - i;
            vm_t v = VM_ADD(VM_LDN(x + i, k, 0.0f), VM_LDN(skip + i, k, 0.0f));
            if (bias) v = VM_ADD(v, VM_LDN(bias + i, k, 0.0f));
            VM_STN(dst + i, v, k);
            s0 = VM_ADD(s0, v);
        }
        s += (double)VM_HSUM(s0);
    }
    return s;
}

/* sum of x (sq = 0) or of (x - m)^2 (sq = 1) */
static double vm_row_sum(size_t n, const float *x, float m, int sq) {
    vm_t mv = VM_SET(m);
    double s = 0.0;
    for (size_t b = 0; b < n; b += VM_BLOCK) {
        size_t end = n - b < VM_BLOCK ? n : b + VM_BLOCK, i = b;
        vm_t s0 = VM_SET(0.0f), s1 = s0;
        for (; i + 2 * VM_N <= end; i += 2 * VM_N) {
            vm_t v0 = VM_LD(x + i), v1 = VM_LD(x + i + VM_N);
            if (sq) {
                v0 = VM_SUB(v0, mv);
                v1 = VM_SUB(v1, mv);
                s0 = VM_FMA(v0, v0, s0);
                s1 = VM_FMA(v1, v1, s1);
            } else {
                s0 = VM_ADD(s0, v0);
                s1 = VM_ADD(s1, v1);
            }
        }
        for (; i + VM_N <= end; i += VM_N) {
            vm_t v0 = VM_LD(x + i);
            if (sq) {
                v0 = VM_SUB(v0, mv);
                s0 = VM_FMA(v0, v0, s0);
            } else {
                s0 = VM_ADD(s0, v0);
            }
        }
        if (i < end) { /* masked-off lanes load m (sq) or 0: they add nothing */
            vm_t v0 = VM_LDN(x + i, end - i, sq ? m : 0.0f);
            if (sq) {
                v0 = VM_SUB(v0, mv);
                s1 = VM_FMA(v0, v0, s1);
            } else {
                s1 = VM_ADD(s1, v0);
            }
        }
        s += (double)VM_HSUM(VM_ADD(s0, s1));
    }
    return s;
}

static void VM_NAME(layernorm)(const kiln_f32_lnorm_row *r, double *mean_out, double *inv_out) {
    size_t n = r->n;
    const float *v = r->x;
    double mean = 0.0, var;
    if (r->skip) {
        float *dst = r->sum ? r->sum : r->y;
        mean = vm_row_skip(n, r->x, r->skip, r->bias, dst) / (double)n;
        v = dst;
    } else if (!r->rms) {
        mean = vm_row_sum(n, v, 0.0f, 0) / (double)n;
    }
    if (r->rms) mean = 0.0;
    var = vm_row_sum(n, v, (float)mean, 1) / (double)n;
    double inv = 1.0 / sqrt(var + (double)r->eps);
    *mean_out = mean;
    *inv_out = inv;
    vm_t mv = VM_SET((float)mean), iv = VM_SET((float)inv), zero = VM_SET(0.0f);
    const float *g = r->gamma, *be = r->beta;
    float *y = r->y;
    size_t i = 0;
    for (; i + VM_N <= n; i += VM_N) {
        vm_t t = VM_MUL(VM_SUB(VM_LD(v + i), mv), iv);
        VM_ST(y + i, VM_FMA(t, VM_LD(g + i), be ? VM_LD(be + i) : zero));
    }
    if (i < n) {
        size_t k = n - i;
        vm_t t = VM_MUL(VM_SUB(VM_LDN(v + i, k, 0.0f), mv), iv);
        VM_STN(y + i, VM_FMA(t, VM_LDN(g + i, k, 0.0f), be ? VM_LDN(be + i, k, 0.0f) : zero), k);
    }
}

const kiln_f32_vmath_ops VM_TABLE = {
    VM_ISA_NAME,      VM_NAME(exp),     VM_NAME(tanh),       VM_NAME(sigmoid), VM_NAME(erf),
    VM_NAME(gelu),    VM_NAME(gelu_tanh), VM_NAME(swish),    VM_NAME(softmax), VM_NAME(logsoftmax),
    VM_NAME(layernorm),
};
