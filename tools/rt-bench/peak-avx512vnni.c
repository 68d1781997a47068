/* SPDX-License-Identifier: MIT */
/* vpdpbusd on zmm (AVX512-VNNI). Compiled with -mavx512f -mavx512vnni. */
#include <immintrin.h>

#include "peak.h"

/* 12 independent chains in inline assembly (the compiler's register allocation of the
 * intrinsic version spilled): enough to cover the instruction's latency times its ports. */
double rb_peak_vnni512(uint64_t iters) {
    const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-2);
    __m512i x0 = _mm512_set1_epi32(1), x1 = _mm512_set1_epi32(1), x2 = _mm512_set1_epi32(1), x3 = _mm512_set1_epi32(1), x4 = _mm512_set1_epi32(1), x5 = _mm512_set1_epi32(1), x6 = _mm512_set1_epi32(1), x7 = _mm512_set1_epi32(1), x8 = _mm512_set1_epi32(1), x9 = _mm512_set1_epi32(1), x10 = _mm512_set1_epi32(1), x11 = _mm512_set1_epi32(1);
    for (uint64_t it = 0; it < iters; it++)
        __asm__ volatile("vpdpbusd %13, %12, %0\n\t" "vpdpbusd %13, %12, %1\n\t" "vpdpbusd %13, %12, %2\n\t" "vpdpbusd %13, %12, %3\n\t" "vpdpbusd %13, %12, %4\n\t" "vpdpbusd %13, %12, %5\n\t" "vpdpbusd %13, %12, %6\n\t" "vpdpbusd %13, %12, %7\n\t" "vpdpbusd %13, %12, %8\n\t" "vpdpbusd %13, %12, %9\n\t" "vpdpbusd %13, %12, %10\n\t" "vpdpbusd %13, %12, %11\n\t"
                         : "+v"(x0), "+v"(x1), "+v"(x2), "+v"(x3), "+v"(x4), "+v"(x5), "+v"(x6), "+v"(x7), "+v"(x8), "+v"(x9), "+v"(x10), "+v"(x11)
                         : "v"(a), "v"(b));
    __m512i s = _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(x0, x1), x2), x3), x4), x5), x6), x7), x8), x9), x10), x11);
    volatile int sink = _mm_cvtsi128_si32(_mm512_castsi512_si128(s)); /* lane 0: the sums wrap */
    (void)sink;
    return (double)iters * 12 * 64 * 2;
}
