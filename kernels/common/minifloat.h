/* SPDX-License-Identifier: MIT */
/* Small float formats ↔ double, header-only: float8 e4m3fn / e4m3fnuz / e5m2 / e5m2fnuz,
 * float4e2m1 and (from double) float16 / bfloat16, rounding to nearest even with the ONNX
 * Cast saturation rules; float8e8m0 with its round modes. Values are bit patterns in the low
 * bits of a uint32_t. */
#ifndef KILN_KERNELS_MINIFLOAT_H
#define KILN_KERNELS_MINIFLOAT_H

#include <math.h>
#include <stdint.h>
#include <string.h>

enum {
    KILN_MF_IEEE = 0, /* all-ones exponent: infinities (zero mantissa) and NaNs */
    KILN_MF_FN = 1,   /* no infinities; all-ones exponent and mantissa is NaN */
    KILN_MF_FNUZ = 2, /* no infinities, no negative zero; the sign bit alone is NaN */
    KILN_MF_NONE = 3  /* neither infinities nor NaN */
};

typedef struct kiln_minifloat {
    uint8_t ebits, mbits; /* exponent and mantissa field widths */
    uint8_t kind;         /* KILN_MF_* */
    int16_t bias;
    uint32_t max_bits;    /* largest finite value (positive) */
    double max;
} kiln_minifloat;

static const kiln_minifloat kiln_mf_e4m3fn = {4, 3, KILN_MF_FN, 7, 0x7e, 448.0};
static const kiln_minifloat kiln_mf_e4m3fnuz = {4, 3, KILN_MF_FNUZ, 8, 0x7f, 240.0};
static const kiln_minifloat kiln_mf_e5m2 = {5, 2, KILN_MF_IEEE, 15, 0x7b, 57344.0};
static const kiln_minifloat kiln_mf_e5m2fnuz = {5, 2, KILN_MF_FNUZ, 16, 0x7f, 57344.0};
static const kiln_minifloat kiln_mf_e2m1 = {2, 1, KILN_MF_NONE, 1, 0x7, 6.0};
static const kiln_minifloat kiln_mf_f16 = {5, 10, KILN_MF_IEEE, 15, 0x7bff, 65504.0};
static const kiln_minifloat kiln_mf_bf16 = {8, 7, KILN_MF_IEEE, 127, 0x7f7f, 3.3895313892515355e38};

static inline double kiln_mf_decode(const kiln_minifloat *f, uint32_t bits) {
    uint32_t nb = f->ebits + f->mbits;
    uint32_t emask = (1u << f->ebits) - 1, mmask = (1u << f->mbits) - 1;
    uint32_t neg = (bits >> nb) & 1u, e = (bits >> f->mbits) & emask, m = bits & mmask;
    if (f->kind == KILN_MF_FNUZ && neg && !e && !m) return NAN;
    if (f->kind == KILN_MF_IEEE && e == emask) return m ? NAN : neg ? -INFINITY : INFINITY;
    if (f->kind == KILN_MF_FN && e == emask && m == mmask) return neg ? -NAN : NAN;
    double v = e ? ldexp(1.0 + ldexp((double)m, -(int)f->mbits), (int)e - f->bias)
                 : ldexp((double)m, 1 - f->bias - (int)f->mbits);
    return neg ? -v : v;
}

/* Round to nearest, ties to even, without depending on the floating-point environment. */
static inline double kiln_mf_rne(double y) {
    double fl = floor(y), d = y - fl;
    if (d > 0.5 || (d == 0.5 && fmod(fl, 2.0) != 0.0)) fl += 1.0;
    return fl;
}

/* Nearest value (ties to even). Out of range: the largest finite value when `saturate`, else
 * infinity (IEEE) or NaN. NaN stays NaN; KILN_MF_NONE has no NaN and follows the ONNX
 * reference (ml_dtypes), which gives the zero of the opposite sign. */
static inline uint32_t kiln_mf_encode(const kiln_minifloat *f, double x, int saturate) {
    uint32_t nb = f->ebits + f->mbits;
    uint32_t sbit = 1u << nb, emask = (1u << f->ebits) - 1, mmask = (1u << f->mbits) - 1;
    uint32_t sign = signbit(x) ? sbit : 0;
    if (x != x) {
        switch (f->kind) {
        case KILN_MF_IEEE: return sign | emask << f->mbits | 1u << (f->mbits - 1);
        case KILN_MF_FN: return sign | emask << f->mbits | mmask;
        case KILN_MF_FNUZ: return sbit;
        default: return sign ^ sbit;
        }
    }
    double a = fabs(x), r = a;
    int emin = 1 - f->bias;
    if (a != INFINITY && a != 0.0) {
        int e;
        frexp(a, &e);
        int E = e - 1 < emin ? emin : e - 1;                     /* exponent of the quantum's scale */
        double q = ldexp(1.0, E - (int)f->mbits);                /* spacing of values near a */
        r = kiln_mf_rne(a / q) * q;                              /* a / q is exact: q is a power of 2 */
    }
    if (r > f->max) {
        if (saturate || f->kind == KILN_MF_NONE) return sign | f->max_bits;
        if (f->kind == KILN_MF_IEEE) return sign | emask << f->mbits;
        if (f->kind == KILN_MF_FN) return sign | emask << f->mbits | mmask;
        return sbit;
    }
    if (r == 0.0) return f->kind == KILN_MF_FNUZ ? 0 : sign;
    int e;
    frexp(r, &e);
    if (e - 1 < emin) return sign | (uint32_t)ldexp(r, f->bias - 1 + (int)f->mbits); /* subnormal */
    uint32_t m = (uint32_t)ldexp(r, (int)f->mbits - (e - 1)) - (1u << f->mbits);
    return sign | (uint32_t)(e - 1 + f->bias) << f->mbits | m;
}

/* float16 ↔ float32 without branches, so conversion loops vectorize; bit for bit the results
 * of kiln_f16_to_f32 / kiln_f32_to_f16 in half.h (round to nearest even, NaN payloads kept). */
static inline float kiln_f16_to_f32_v(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, em = h & 0x7fffu;
    uint32_t normal = (em << 13) + (112u << 23);                  /* rebias the exponent */
    uint32_t special = normal + (112u << 23);                      /* inf and NaN: all-ones exponent */
    float sub = (float)em * (1.0f / 16777216.0f);                  /* subnormal (and zero): em * 2^-24 */
    uint32_t sb;
    memcpy(&sb, &sub, 4);
    uint32_t m1 = 0u - (uint32_t)(em < 0x400u), m2 = 0u - (uint32_t)(em >= 0x7c00u);
    uint32_t u = sign | (sb & m1) | (special & m2) | (normal & ~m1 & ~m2);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline uint16_t kiln_f32_to_f16_v(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t sign = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
    uint32_t nan = 0x7e00u | ((a >> 13) & 0x3ffu);
    uint32_t normal = ((a + 0xfffu + ((a >> 13) & 1u)) >> 13) - (112u << 10); /* round half to even */
    /* below 2^-14: adding 0.5 leaves a * 2^24 rounded to even in the low mantissa bits */
    float af, t;
    memcpy(&af, &a, 4);
    t = af + 0.5f;
    uint32_t tb;
    memcpy(&tb, &t, 4);
    uint32_t sub = tb - 0x3f000000u;
    uint32_t ms = 0u - (uint32_t)(a < 0x38800000u), mn = 0u - (uint32_t)(a < 0x477ff000u);
    uint32_t mi = 0u - (uint32_t)(a <= 0x7f800000u);
    uint32_t r = (sub & ms) | (normal & mn & ~ms) | (0x7c00u & mi & ~mn) | (nan & ~mi);
    return (uint16_t)(sign | r);
}

/* float8e8m0: 2^(e - 127), 0xff is NaN. */
static inline double kiln_e8m0_decode(uint32_t bits) { return bits == 0xff ? NAN : ldexp(1.0, (int)bits - 127); }

enum { KILN_E8M0_UP = 0, KILN_E8M0_DOWN = 1, KILN_E8M0_NEAREST = 2 };

/* From float's bits (the sign is ignored; negative inputs are undefined by the spec): the
 * exponent field, rounded by `mode` using the mantissa; with `saturate` never past 0xfe. */
static inline uint32_t kiln_e8m0_encode(float x, int saturate, int mode) {
    uint32_t u;
    memcpy(&u, &x, 4);
    uint32_t e = (u >> 23) & 0xffu;
    if (e == 0xff) return 0xff;
    int up = 0;
    if (mode == KILN_E8M0_UP) {
        up = (u & 0x7fffffu) != 0;
    } else if (mode == KILN_E8M0_NEAREST) {
        /* ties go up, except below the smallest normal, where the mantissa has no hidden 1 */
        int g = (u & 0x400000u) != 0, rest = (u & 0x3fffffu) != 0;
        up = g && (rest || e > 0);
    }
    if (up && e == 0xfe && saturate) up = 0;
    return e + (uint32_t)up;
}

#endif
