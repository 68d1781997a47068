/* SPDX-License-Identifier: MIT */
/* float32 exp, expm1, tanh, erf and sigmoid written without branches, table lookups or libm
 * calls, so loops over them vectorize with the baseline ISA; header-only. Accuracy (relative,
 * over all finite floats checked by tests/ops/test_elementwise.c): a few ulp, far inside the
 * 1e-3 the ONNX tests use. Results below FLT_MIN underflow gradually; NaN stays NaN. */
#ifndef KILN_KERNELS_VMATH_H
#define KILN_KERNELS_VMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline float kiln_vm_bits_f(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static inline uint32_t kiln_vm_f_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
/* c ? a : b as a bit blend: a ternary on floats whose operands may trap stays a branch under
 * GCC's default -ftrapping-math, which stops the loop from vectorizing. */
static inline float kiln_vm_sel(int c, float a, float b) {
    uint32_t m = 0u - (uint32_t)c;
    return kiln_vm_bits_f((kiln_vm_f_bits(a) & m) | (kiln_vm_f_bits(b) & ~m));
}

/* e^x = 2^n e^r with n = round(x / ln 2), |r| <= ln(2) / 2; e^r by its Taylor series to r^7
 * (truncation error below 1e-8 relative). 2^n is applied in two halves so neither overflows
 * before the product does and results below FLT_MIN round gradually. */
static inline float kiln_vexpf(float x) {
    float xc = kiln_vm_sel(x > 89.0f, 89.0f, x);
    xc = kiln_vm_sel(xc < -104.0f, -104.0f, xc);
    xc = kiln_vm_sel(x != x, 0.0f, xc);
    float nf = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round to nearest */
    float r = xc - nf * 0.693359375f;                                   /* ln 2 = hi + lo */
    r = r + nf * 2.12194440e-4f;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720 + r * (1.0f / 5040)))))));
    int32_t n = (int32_t)nf, n1 = n / 2, n2 = n - n1; /* nf is in [-150, 129] */
    float y = p * kiln_vm_bits_f((uint32_t)(n1 + 127) << 23) * kiln_vm_bits_f((uint32_t)(n2 + 127) << 23);
    return kiln_vm_sel(x != x, x, y);
}

/* ln x: x = 2^k m with m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh(s), s = (m - 1) / (m + 1),
 * by its series to s^11. Subnormals are scaled first; ln 0 = -inf, negative x gives NaN. */
static inline float kiln_vlogf(float x) {
    int den = x < 1.17549435e-38f;
    float xs = kiln_vm_sel(den, x * 8388608.0f, x); /* * 2^23 */
    uint32_t u = kiln_vm_f_bits(xs);
    int32_t k = (int32_t)((u >> 23) & 0xffu) - 127 - (den ? 23 : 0);
    float m = kiln_vm_bits_f((u & 0x7fffffu) | 0x3f800000u);
    int big = m > 1.41421356f;
    m = kiln_vm_sel(big, m * 0.5f, m);
    k += big;
    float sr = (m - 1.0f) / (m + 1.0f), z = sr * sr;
    float lm = 2.0f * sr * (1.0f + z * (1.0f / 3 + z * (1.0f / 5 + z * (1.0f / 7 + z * (1.0f / 9 + z * (1.0f / 11))))));
    float kf = (float)k;
    float y = kf * 0.693359375f + (lm - kf * 2.12194440e-4f);
    y = kiln_vm_sel(x == 0.0f, -INFINITY, y);
    y = kiln_vm_sel(x == INFINITY, x, y);
    return kiln_vm_sel(!(x >= 0.0f), NAN, y); /* negative or NaN */
}

/* ln(1 + e^x) = max(x, 0) + ln(1 + y), y = e^-|x| in (0, 1]; ln(1 + y) from u = 1 + y with
 * the rounding of u corrected to first order. */
static inline float kiln_vsoftplusf(float x) {
    float a = kiln_vm_bits_f(kiln_vm_f_bits(x) & 0x7fffffffu);
    float y = kiln_vexpf(-a), u = 1.0f + y;
    float l = kiln_vlogf(u) + (y - (u - 1.0f)) / u;
    return kiln_vm_sel(x > 0.0f, x, 0.0f) + l;
}

/* e^x - 1: the Taylor series near 0 (where e^x - 1 would cancel), e^x - 1 elsewhere. */
static inline float kiln_vexpm1f(float x) {
    float a = kiln_vm_bits_f(kiln_vm_f_bits(x) & 0x7fffffffu);
    float t = x * (1.0f + x * (0.5f + x * (1.0f / 6 + x * (1.0f / 24 + x * (1.0f / 120 + x * (1.0f / 720 + x * (1.0f / 5040 + x * (1.0f / 40320))))))));
    float e = kiln_vexpf(x) - 1.0f;
    return kiln_vm_sel(a < 0.3f, t, e);
}

/* 1 / (1 + e^-x) from e = e^-|x| (which cannot overflow): 1 / (1 + e) for x >= 0, e / (1 + e)
 * below, so tiny results keep their precision down to the subnormals. */
static inline float kiln_vsigmoidf(float x) {
    float e = kiln_vexpf(-kiln_vm_bits_f(kiln_vm_f_bits(x) & 0x7fffffffu));
    float r = 1.0f / (1.0f + e);
    return kiln_vm_sel(x < 0.0f, e * r, r);
}

/* tanh: odd Taylor series to x^15 for |x| < 0.55, else ±(1 - 2 / (e^2|x| + 1)). */
static inline float kiln_vtanhf(float x) {
    float a = kiln_vm_bits_f(kiln_vm_f_bits(x) & 0x7fffffffu), z = x * x;
    float t = x * (1.0f + z * (-1.0f / 3 + z * (2.0f / 15 + z * (-17.0f / 315 + z * (62.0f / 2835 +
              z * (-1382.0f / 155925 + z * (21844.0f / 6081075 + z * (-929569.0f / 638512875))))))));
    float e = 1.0f - 2.0f / (kiln_vexpf(2.0f * a) + 1.0f);
    e = kiln_vm_bits_f(kiln_vm_f_bits(e) | (kiln_vm_f_bits(x) & 0x80000000u)); /* sign of x */
    return kiln_vm_sel(a < 0.55f, t, e);
}

/* erf: the Maclaurin series to x^13 for |x| < 0.5, else ±(1 - P(t) e^-x²) with t = 1/(1 + p|x|)
 * (Abramowitz & Stegun 7.1.26, absolute error below 1.5e-7). */
static inline float kiln_verff(float x) {
    float a = kiln_vm_bits_f(kiln_vm_f_bits(x) & 0x7fffffffu), z = x * x;
    float s = x * 1.12837916709551257f *
              (1.0f + z * (-1.0f / 3 + z * (1.0f / 10 + z * (-1.0f / 42 + z * (1.0f / 216 + z * (-1.0f / 1320 + z * (1.0f / 9360)))))));
    float t = 1.0f / (1.0f + 0.3275911f * a);
    float poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
    float e = 1.0f - poly * kiln_vexpf(-z);
    e = kiln_vm_bits_f(kiln_vm_f_bits(e) | (kiln_vm_f_bits(x) & 0x80000000u));
    return kiln_vm_sel(a < 0.5f, s, e);
}

#endif
