/* SPDX-License-Identifier: MIT */
/* Portable int16 → int32 GEMM on pair-packed B (see igemm.h), the packing itself, and the
 * run-time choice of variant. */
#include <stdatomic.h>
#include <string.h>

#include "igemm.h"

void kiln_s16_gemm_pack_b(size_t k, size_t n, const int16_t *b, size_t ldb, int16_t *packed) {
    size_t npad = (n + KILN_S16_GEMM_NR - 1) / KILN_S16_GEMM_NR * KILN_S16_GEMM_NR;
    for (size_t pp = 0; pp < (k + 1) / 2; pp++) {
        int16_t *dst = packed + pp * 2 * npad;
        const int16_t *r0 = b + 2 * pp * ldb, *r1 = 2 * pp + 1 < k ? r0 + ldb : NULL;
        for (size_t j = 0; j < n; j++) {
            dst[2 * j] = r0[j];
            dst[2 * j + 1] = r1 ? r1[j] : 0;
        }
        memset(dst + 2 * n, 0, (npad - n) * 2 * sizeof(int16_t));
    }
}

void kiln_s16_gemm__scalar(size_t m, size_t n, size_t k, const int16_t *a, size_t lda, const int16_t *packed, int32_t *c,
                           size_t ldc) {
    size_t npad = (n + KILN_S16_GEMM_NR - 1) / KILN_S16_GEMM_NR * KILN_S16_GEMM_NR;
    for (size_t i = 0; i < m; i++) {
        /* unsigned accumulators: sums wrap instead of overflowing */
        uint32_t *ci = (uint32_t *)(c + i * ldc);
        for (size_t j = 0; j < n; j++) ci[j] = 0;
        const int16_t *ai = a + i * lda;
        for (size_t pp = 0; pp < (k + 1) / 2; pp++) {
            int32_t a0 = ai[2 * pp], a1 = 2 * pp + 1 < k ? ai[2 * pp + 1] : 0;
            const int16_t *bp = packed + pp * 2 * npad;
            for (size_t j = 0; j < n; j++) ci[j] += (uint32_t)(a0 * bp[2 * j]) + (uint32_t)(a1 * bp[2 * j + 1]);
        }
    }
}

typedef void (*s16_gemm_fn)(size_t, size_t, size_t, const int16_t *, size_t, const int16_t *, int32_t *, size_t);

static s16_gemm_fn pick(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) return kiln_s16_gemm__avx2;
#endif
    return kiln_s16_gemm__scalar;
}

void kiln_s16_gemm(size_t m, size_t n, size_t k, const int16_t *a, size_t lda, const int16_t *packed, int32_t *c,
                   size_t ldc) {
    /* The choice is idempotent, so a racy first call only repeats it. */
    static _Atomic(s16_gemm_fn) fn;
    s16_gemm_fn f = atomic_load_explicit(&fn, memory_order_relaxed);
    if (!f) {
        f = pick();
        atomic_store_explicit(&fn, f, memory_order_relaxed);
    }
    f(m, n, k, a, lda, packed, c, ldc);
}

const char *kiln_s16_gemm_variant(void) {
    return pick() == kiln_s16_gemm__scalar ? "kiln_s16_gemm__scalar" : "kiln_s16_gemm__avx2";
}
