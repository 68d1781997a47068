/* SPDX-License-Identifier: MIT */
/* Portable variant: lanes of 4 floats (GNU vector extension, SSE2 or better). */
#include <string.h>

#include "kernels/f32-gemv/f32-gemv.h"

typedef float v4 __attribute__((vector_size(16)));

static inline v4 load4(const float *p) {
    v4 v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static float dot(const float *a, const float *b, size_t k) {
    v4 s0 = {0, 0, 0, 0}, s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 16 <= k; i += 16) {
        s0 += load4(a + i) * load4(b + i);
        s1 += load4(a + i + 4) * load4(b + i + 4);
        s2 += load4(a + i + 8) * load4(b + i + 8);
        s3 += load4(a + i + 12) * load4(b + i + 12);
    }
    for (; i + 4 <= k; i += 4) s0 += load4(a + i) * load4(b + i);
    v4 t = (s0 + s1) + (s2 + s3);
    float s = (t[0] + t[1]) + (t[2] + t[3]);
    for (; i < k; i++) s += a[i] * b[i];
    return s;
}

void kiln_f32_gemv_bt_4x4__scalar(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b, size_t ldb,
                                  float *c, size_t ldc) {
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) c[i * ldc + j] = dot(a + i * lda, b + j * ldb, k);
}
