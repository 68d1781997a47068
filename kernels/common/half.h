/* SPDX-License-Identifier: MIT */
/* float16 and bfloat16 ↔ float32 conversions (IEEE round to nearest even), header-only. */
#ifndef KILN_KERNELS_HALF_H
#define KILN_KERNELS_HALF_H

#include <stdint.h>
#include <string.h>

static inline float kiln_f32_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline uint32_t kiln_f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float kiln_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    if (exp == 0x1f) return kiln_f32_from_bits(sign | 0x7f800000u | (man << 13)); /* inf, NaN */
    if (exp == 0) {
        if (!man) return kiln_f32_from_bits(sign);
        /* subnormal: value = man * 2^-24 */
        float f = (float)man * (1.0f / 16777216.0f);
        return sign ? -f : f;
    }
    return kiln_f32_from_bits(sign | ((exp + 112u) << 23) | (man << 13));
}

static inline uint16_t kiln_f32_to_f16(float f) {
    uint32_t u = kiln_f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a >= 0x7f800000u) return (uint16_t)(sign | 0x7c00u | (a > 0x7f800000u ? 0x200u | ((a >> 13) & 0x3ffu) : 0));
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds to >= 65520: inf */
    if (a < 0x38800000u) {
        /* result is subnormal or zero: scale so the integer part is the mantissa, round to even */
        float x = kiln_f32_from_bits(a) * 16777216.0f; /* * 2^24 */
        uint32_t m = (uint32_t)x;
        float rem = x - (float)m;
        if (rem > 0.5f || (rem == 0.5f && (m & 1u))) m++;
        return (uint16_t)(sign | m);
    }
    uint32_t exp = ((a >> 23) - 112u) << 10;
    uint32_t man = (a >> 13) & 0x3ffu;
    uint32_t r = exp | man;
    uint32_t rest = a & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (r & 1u))) r++;
    return (uint16_t)(sign | r);
}

static inline float kiln_bf16_to_f32(uint16_t b) { return kiln_f32_from_bits((uint32_t)b << 16); }

static inline uint16_t kiln_f32_to_bf16(float f) {
    uint32_t u = kiln_f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

#endif
