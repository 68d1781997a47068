/* SPDX-License-Identifier: MIT */
/* f32-vmath, portable: one lane. Same polynomials and steps as the vector files; products are
 * separate roundings (no fused multiply-add is assumed), and the exact square of the erf paths is
 * taken in double. */
#include <stdint.h>
#include <string.h>

typedef float vm_t;
typedef int vm_m;
#define VM_N 1
#define VM_NAME(f) kiln_f32_v##f##__scalar
#define VM_TABLE kiln_f32_vmath__scalar
#define VM_ISA_NAME "scalar"

static inline float vm_bits_f(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static inline uint32_t vm_f_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static inline float vm_min(float a, float b) { return a < b ? a : b; }
static inline float vm_max(float a, float b) { return a > b ? a : b; }
static inline float vm_round(float v) { /* |v| < 2^22 here: to nearest even by the 1.5 * 2^23 shift */
    return (v + 12582912.0f) - 12582912.0f;
}
static inline float vm_exp2i(float p, float n) {
    int32_t ni = (int32_t)n, n1 = ni / 2, n2 = ni - n1;
    return p * vm_bits_f((uint32_t)(n1 + 127) << 23) * vm_bits_f((uint32_t)(n2 + 127) << 23);
}
#define VM_LD(p) (*(p))
#define VM_ST(p, v) (*(p) = (v))
#define VM_LDN(p, k, fill) ((void)(k), (void)(fill), *(p))
#define VM_STN(p, v, k) ((void)(k), *(p) = (v))
#define VM_SET(c) ((float)(c))
#define VM_ADD(a, b) ((a) + (b))
#define VM_SUB(a, b) ((a) - (b))
#define VM_MUL(a, b) ((a) * (b))
#define VM_DIV(a, b) ((a) / (b))
#define VM_MIN vm_min
#define VM_MAX vm_max
#define VM_FMA(a, b, c) ((a) * (b) + (c))
#define VM_FNMA(a, b, c) ((c) - (a) * (b))
#define VM_ABS(v) vm_bits_f(vm_f_bits(v) & 0x7fffffffu)
#define VM_COPYSIGN(mag, sgn) vm_bits_f((vm_f_bits(mag) & 0x7fffffffu) | (vm_f_bits(sgn) & 0x80000000u))
#define VM_LT(a, b) ((a) < (b))
#define VM_GT(a, b) ((a) > (b))
#define VM_ISNAN(a) ((a) != (a))
#define VM_SEL(m, a, b) ((m) ? (a) : (b))
#define VM_ROUND vm_round
#define VM_EXP2I vm_exp2i
#define VM_SQR_EXACT(x, hi, lo)                     \
    do {                                            \
        double d_ = (double)(x) * (double)(x);      \
        (hi) = (float)d_;                           \
        (lo) = (float)(d_ - (double)(hi));          \
    } while (0)
#define VM_HSUM(v) (v)
#define VM_HMAX(v) (v)

#include "kernels/f32-vmath/f32-vmath-tmpl.h"
