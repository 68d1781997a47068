/* SPDX-License-Identifier: MIT */
/* Packing for the fp32 GEMM (docs/kernels.md §5): op(A) into MR-row panels, op(B) into NR-column
 * panels, each K long, zero past the matrix edge. Weights are packed once (prepack); activations
 * per call. */
#include <string.h>

#include "kernels/f32-gemm/f32-gemm.h"

size_t kiln_f32_packa_size(const kiln_f32_gemm_config *cfg, size_t m, size_t k) {
    return (m + cfg->mr - 1) / cfg->mr * cfg->mr * k;
}

size_t kiln_f32_packb_size(const kiln_f32_gemm_config *cfg, size_t k, size_t n) {
    return (n + cfg->nr - 1) / cfg->nr * cfg->nr * k;
}

void kiln_f32_packa(const kiln_f32_gemm_config *cfg, size_t m, size_t k, const float *a, size_t lda, int trans,
                    float alpha, size_t t0, size_t t1, float *out) {
    size_t mr = cfg->mr;
    for (size_t t = t0; t < t1; t++) {
        float *o = out + t * k * mr;
        size_t i0 = t * mr, rows = m - i0 < mr ? m - i0 : mr;
        if (trans) {
            /* A(i, p) = a[p*lda + i]: each p reads `rows` contiguous floats. */
            for (size_t p = 0; p < k; p++) {
                const float *src = a + p * lda + i0;
                float *dst = o + p * mr;
                for (size_t i = 0; i < rows; i++) dst[i] = alpha * src[i];
                for (size_t i = rows; i < mr; i++) dst[i] = 0.0f;
            }
        } else {
            for (size_t i = 0; i < rows; i++) {
                const float *src = a + (i0 + i) * lda;
                for (size_t p = 0; p < k; p++) o[p * mr + i] = alpha * src[p];
            }
            for (size_t i = rows; i < mr; i++)
                for (size_t p = 0; p < k; p++) o[p * mr + i] = 0.0f;
        }
    }
}

void kiln_f32_packb(const kiln_f32_gemm_config *cfg, size_t k, size_t n, const float *b, size_t ldb, int trans,
                    float alpha, size_t t0, size_t t1, float *out) {
    size_t nr = cfg->nr;
    for (size_t t = t0; t < t1; t++) {
        float *o = out + t * k * nr;
        size_t j0 = t * nr, cols = n - j0 < nr ? n - j0 : nr;
        if (!trans) {
            for (size_t p = 0; p < k; p++) {
                const float *src = b + p * ldb + j0;
                float *dst = o + p * nr;
                for (size_t j = 0; j < cols; j++) dst[j] = alpha * src[j];
                for (size_t j = cols; j < nr; j++) dst[j] = 0.0f;
            }
        } else {
            /* B(p, j) = b[j*ldb + p]: column j of op(B) is row j of b. */
            for (size_t j = 0; j < cols; j++) {
                const float *src = b + (j0 + j) * ldb;
                for (size_t p = 0; p < k; p++) o[p * nr + j] = alpha * src[p];
            }
            for (size_t j = cols; j < nr; j++)
                for (size_t p = 0; p < k; p++) o[p * nr + j] = 0.0f;
        }
    }
}
