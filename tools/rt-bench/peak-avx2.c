/* SPDX-License-Identifier: MIT */
/* 256-bit FMA throughput and the ymm read loop. Compiled with -mavx2 -mfma. */
#include <immintrin.h>

#include "peak.h"

/* 12 independent chains in inline assembly (the compiler's register allocation of the
 * intrinsic version spilled): enough to cover the instruction's latency times its ports. */
double rb_peak_fma256(uint64_t iters) {
    const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    __m256 x0 = _mm256_set1_ps(1.0f), x1 = _mm256_set1_ps(1.0f), x2 = _mm256_set1_ps(1.0f), x3 = _mm256_set1_ps(1.0f), x4 = _mm256_set1_ps(1.0f), x5 = _mm256_set1_ps(1.0f), x6 = _mm256_set1_ps(1.0f), x7 = _mm256_set1_ps(1.0f), x8 = _mm256_set1_ps(1.0f), x9 = _mm256_set1_ps(1.0f), x10 = _mm256_set1_ps(1.0f), x11 = _mm256_set1_ps(1.0f);
    for (uint64_t it = 0; it < iters; it++)
        __asm__ volatile("vfmadd231ps %13, %12, %0\n\t" "vfmadd231ps %13, %12, %1\n\t" "vfmadd231ps %13, %12, %2\n\t" "vfmadd231ps %13, %12, %3\n\t" "vfmadd231ps %13, %12, %4\n\t" "vfmadd231ps %13, %12, %5\n\t" "vfmadd231ps %13, %12, %6\n\t" "vfmadd231ps %13, %12, %7\n\t" "vfmadd231ps %13, %12, %8\n\t" "vfmadd231ps %13, %12, %9\n\t" "vfmadd231ps %13, %12, %10\n\t" "vfmadd231ps %13, %12, %11\n\t"
                         : "+x"(x0), "+x"(x1), "+x"(x2), "+x"(x3), "+x"(x4), "+x"(x5), "+x"(x6), "+x"(x7), "+x"(x8), "+x"(x9), "+x"(x10), "+x"(x11)
                         : "x"(a), "x"(b));
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(_mm256_add_ps(_mm256_add_ps(_mm256_add_ps(_mm256_add_ps(_mm256_add_ps(_mm256_add_ps(_mm256_add_ps(_mm256_add_ps(x0, x1), x2), x3), x4), x5), x6), x7), x8), x9), x10), x11);
    volatile float sink = _mm256_cvtss_f32(s);
    (void)sink;
    return (double)iters * 12 * 8 * 2;
}

float rb_read_avx2(const float *p, size_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (size_t i = 0; i < n; i += 32) {
        s0 = _mm256_add_ps(s0, _mm256_load_ps(p + i));
        s1 = _mm256_add_ps(s1, _mm256_load_ps(p + i + 8));
        s2 = _mm256_add_ps(s2, _mm256_load_ps(p + i + 16));
        s3 = _mm256_add_ps(s3, _mm256_load_ps(p + i + 24));
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
    return _mm256_cvtss_f32(s);
}
