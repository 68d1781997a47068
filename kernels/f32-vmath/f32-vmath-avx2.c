/* SPDX-License-Identifier: MIT */
/* f32-vmath on AVX2+FMA: 8 lanes, tails through vmaskmovps, p 2^n as two exact power-of-two
 * factors built in the exponent field (n split in halves so neither overflows; the product rounds
 * once, into the subnormals or to inf). */
#include <immintrin.h>
#include <stdint.h>

typedef __m256 vm_t;
typedef __m256 vm_m;
#define VM_N 8
#define VM_NAME(f) kiln_f32_v##f##__avx2
#define VM_TABLE kiln_f32_vmath__avx2
#define VM_ISA_NAME "avx2"

static const int32_t vm_mask_table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
static inline __m256i vm_first(size_t k) { return _mm256_loadu_si256((const __m256i *)(vm_mask_table + 8 - k)); }
static inline __m256 vm_ldn(const float *p, size_t k, float fill) {
    __m256i m = vm_first(k);
    return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
}
static inline __m256 vm_exp2i(__m256 p, __m256 n) {
    __m256i ni = _mm256_cvtps_epi32(n);
    __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
    __m256i b = _mm256_set1_epi32(127);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, b), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, b), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}
static inline float vm_hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
static inline float vm_hmax(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#define VM_LD(p) _mm256_loadu_ps(p)
#define VM_ST(p, v) _mm256_storeu_ps((p), (v))
#define VM_LDN(p, k, fill) vm_ldn((p), (k), (fill))
#define VM_STN(p, v, k) _mm256_maskstore_ps((p), vm_first(k), (v))
#define VM_SET(c) _mm256_set1_ps(c)
#define VM_ADD _mm256_add_ps
#define VM_SUB _mm256_sub_ps
#define VM_MUL _mm256_mul_ps
#define VM_DIV _mm256_div_ps
#define VM_MIN _mm256_min_ps
#define VM_MAX _mm256_max_ps
#define VM_FMA _mm256_fmadd_ps
#define VM_FNMA _mm256_fnmadd_ps
#define VM_ABS(v) _mm256_and_ps((v), _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)))
#define VM_COPYSIGN(mag, sgn)                                                              \
    _mm256_or_ps(_mm256_and_ps((mag), _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff))), \
                 _mm256_and_ps((sgn), _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000u))))
#define VM_LT(a, b) _mm256_cmp_ps((a), (b), _CMP_LT_OQ)
#define VM_GT(a, b) _mm256_cmp_ps((a), (b), _CMP_GT_OQ)
#define VM_ISNAN(a) _mm256_cmp_ps((a), (a), _CMP_UNORD_Q)
#define VM_SEL(m, a, b) _mm256_blendv_ps((b), (a), (m))
#define VM_ROUND(v) _mm256_round_ps((v), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define VM_EXP2I(p, n) vm_exp2i((p), (n))
#define VM_SQR_EXACT(x, hi, lo)                      \
    do {                                             \
        (hi) = _mm256_mul_ps((x), (x));              \
        (lo) = _mm256_fmsub_ps((x), (x), (hi));      \
    } while (0)
#define VM_HSUM vm_hsum
#define VM_HMAX vm_hmax

#include "kernels/f32-vmath/f32-vmath-tmpl.h"
