/* SPDX-License-Identifier: MIT */
/* vpdpbusd on ymm, VEX-encoded (AVX-VNNI). Compiled with -mavx2 -mavxvnni. */
#include <immintrin.h>

#include "peak.h"

/* 12 independent chains in inline assembly (the compiler's register allocation of the
 * intrinsic version spilled): enough to cover the instruction's latency times its ports. */
double rb_peak_vnni256(uint64_t iters) {
    const __m256i a = _mm256_set1_epi8(3), b = _mm256_set1_epi8(-2);
    __m256i x0 = _mm256_set1_epi32(1), x1 = _mm256_set1_epi32(1), x2 = _mm256_set1_epi32(1), x3 = _mm256_set1_epi32(1), x4 = _mm256_set1_epi32(1), x5 = _mm256_set1_epi32(1), x6 = _mm256_set1_epi32(1), x7 = _mm256_set1_epi32(1), x8 = _mm256_set1_epi32(1), x9 = _mm256_set1_epi32(1), x10 = _mm256_set1_epi32(1), x11 = _mm256_set1_epi32(1);
    for (uint64_t it = 0; it < iters; it++)
        __asm__ volatile("%{vex%} vpdpbusd %13, %12, %0\n\t" "%{vex%} vpdpbusd %13, %12, %1\n\t" "%{vex%} vpdpbusd %13, %12, %2\n\t" "%{vex%} vpdpbusd %13, %12, %3\n\t" "%{vex%} vpdpbusd %13, %12, %4\n\t" "%{vex%} vpdpbusd %13, %12, %5\n\t" "%{vex%} vpdpbusd %13, %12, %6\n\t" "%{vex%} vpdpbusd %13, %12, %7\n\t" "%{vex%} vpdpbusd %13, %12, %8\n\t" "%{vex%} vpdpbusd %13, %12, %9\n\t" "%{vex%} vpdpbusd %13, %12, %10\n\t" "%{vex%} vpdpbusd %13, %12, %11\n\t"
                         : "+x"(x0), "+x"(x1), "+x"(x2), "+x"(x3), "+x"(x4), "+x"(x5), "+x"(x6), "+x"(x7), "+x"(x8), "+x"(x9), "+x"(x10), "+x"(x11)
                         : "x"(a), "x"(b));
    __m256i s = _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(x0, x1), x2), x3), x4), x5), x6), x7), x8), x9), x10), x11);
    volatile int sink = _mm256_extract_epi32(s, 0);
    (void)sink;
    return (double)iters * 12 * 32 * 2;
}
