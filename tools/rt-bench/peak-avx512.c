/* SPDX-License-Identifier: MIT */
/* 512-bit FMA throughput and the zmm read loop. Compiled with -mavx512f. */
#include <immintrin.h>

#include "peak.h"

/* 12 independent chains in inline assembly (the compiler's register allocation of the
 * intrinsic version spilled): enough to cover the instruction's latency times its ports. */
double rb_peak_fma512(uint64_t iters) {
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    __m512 x0 = _mm512_set1_ps(1.0f), x1 = _mm512_set1_ps(1.0f), x2 = _mm512_set1_ps(1.0f), x3 = _mm512_set1_ps(1.0f), x4 = _mm512_set1_ps(1.0f), x5 = _mm512_set1_ps(1.0f), x6 = _mm512_set1_ps(1.0f), x7 = _mm512_set1_ps(1.0f), x8 = _mm512_set1_ps(1.0f), x9 = _mm512_set1_ps(1.0f), x10 = _mm512_set1_ps(1.0f), x11 = _mm512_set1_ps(1.0f);
    for (uint64_t it = 0; it < iters; it++)
        __asm__ volatile("vfmadd231ps %13, %12, %0\n\t" "vfmadd231ps %13, %12, %1\n\t" "vfmadd231ps %13, %12, %2\n\t" "vfmadd231ps %13, %12, %3\n\t" "vfmadd231ps %13, %12, %4\n\t" "vfmadd231ps %13, %12, %5\n\t" "vfmadd231ps %13, %12, %6\n\t" "vfmadd231ps %13, %12, %7\n\t" "vfmadd231ps %13, %12, %8\n\t" "vfmadd231ps %13, %12, %9\n\t" "vfmadd231ps %13, %12, %10\n\t" "vfmadd231ps %13, %12, %11\n\t"
                         : "+v"(x0), "+v"(x1), "+v"(x2), "+v"(x3), "+v"(x4), "+v"(x5), "+v"(x6), "+v"(x7), "+v"(x8), "+v"(x9), "+v"(x10), "+v"(x11)
                         : "v"(a), "v"(b));
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(x0, x1), x2), x3), x4), x5), x6), x7), x8), x9), x10), x11);
    volatile float sink = _mm512_reduce_add_ps(s);
    (void)sink;
    return (double)iters * 12 * 16 * 2;
}

float rb_read_avx512(const float *p, size_t n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (size_t i = 0; i < n; i += 64) {
        s0 = _mm512_add_ps(s0, _mm512_load_ps(p + i));
        s1 = _mm512_add_ps(s1, _mm512_load_ps(p + i + 16));
        s2 = _mm512_add_ps(s2, _mm512_load_ps(p + i + 32));
        s3 = _mm512_add_ps(s3, _mm512_load_ps(p + i + 48));
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}
