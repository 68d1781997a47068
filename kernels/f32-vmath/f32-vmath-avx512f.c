/* SPDX-License-Identifier: MIT */
/* f32-vmath on AVX-512F: 16 lanes, tails through masked loads and stores, p 2^n by vscalefps
 * (which rounds once, into the subnormals or to inf as the product does). */
#include <immintrin.h>

typedef __m512 vm_t;
typedef __mmask16 vm_m;
#define VM_N 16
#define VM_NAME(f) kiln_f32_v##f##__avx512f
#define VM_TABLE kiln_f32_vmath__avx512f
#define VM_ISA_NAME "avx512f"

static inline __mmask16 vm_first(size_t k) { return (__mmask16)((1u << k) - 1u); }
#define VM_LD(p) _mm512_loadu_ps(p)
#define VM_ST(p, v) _mm512_storeu_ps((p), (v))
#define VM_LDN(p, k, fill) _mm512_mask_loadu_ps(_mm512_set1_ps(fill), vm_first(k), (p))
#define VM_STN(p, v, k) _mm512_mask_storeu_ps((p), vm_first(k), (v))
#define VM_SET(c) _mm512_set1_ps(c)
#define VM_ADD _mm512_add_ps
#define VM_SUB _mm512_sub_ps
#define VM_MUL _mm512_mul_ps
#define VM_DIV _mm512_div_ps
#define VM_MIN _mm512_min_ps
#define VM_MAX _mm512_max_ps
#define VM_FMA _mm512_fmadd_ps
#define VM_FNMA _mm512_fnmadd_ps
#define VM_ABS(v) _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(0x7fffffff)))
#define VM_COPYSIGN(mag, sgn)                                                                               \
    _mm512_castsi512_ps(_mm512_ternarylogic_epi32(_mm512_castps_si512(mag), _mm512_castps_si512(sgn),     \
                                                  _mm512_set1_epi32(0x7fffffff), 0xe4))
#define VM_LT(a, b) _mm512_cmp_ps_mask((a), (b), _CMP_LT_OQ)
#define VM_GT(a, b) _mm512_cmp_ps_mask((a), (b), _CMP_GT_OQ)
#define VM_ISNAN(a) _mm512_cmp_ps_mask((a), (a), _CMP_UNORD_Q)
#define VM_SEL(m, a, b) _mm512_mask_blend_ps((m), (b), (a))
#define VM_ROUND(v) _mm512_roundscale_ps((v), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define VM_EXP2I(p, n) _mm512_scalef_ps((p), (n))
#define VM_SQR_EXACT(x, hi, lo)                      \
    do {                                             \
        (hi) = _mm512_mul_ps((x), (x));              \
        (lo) = _mm512_fmsub_ps((x), (x), (hi));      \
    } while (0)
#define VM_HSUM _mm512_reduce_add_ps
#define VM_HMAX _mm512_reduce_max_ps

#include "kernels/f32-vmath/f32-vmath-tmpl.h"
