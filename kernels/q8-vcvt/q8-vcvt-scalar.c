/* SPDX-License-Identifier: MIT */
/* Scalar float32 <-> 8-bit conversions (q8-vcvt.h); also the tails of the vector ones. */
#include "q8-vcvt.h"

void kiln_f32_q8_vcvt__scalar(size_t n, const float *x, float scale, int32_t zp, int s8, void *y) {
    int32_t lo = s8 ? -128 : 0, hi = s8 ? 127 : 255;
    float flo = (float)(lo - zp), fhi = (float)(hi - zp);
    for (size_t i = 0; i < n; i++) {
        float v = x[i] / scale;
        v = v > flo ? v : flo; /* NaN goes low */
        v = v < fhi ? v : fhi;
        int32_t q = (int32_t)((v + 12582912.0f) - 12582912.0f) + zp; /* round half to even, |v| < 2^22 */
        if (s8) ((int8_t *)y)[i] = (int8_t)q;
        else ((uint8_t *)y)[i] = (uint8_t)q;
    }
}

void kiln_q8_f32_vcvt__scalar(size_t n, const void *x, int s8, float scale, float zp, float *y) {
    if (s8)
        for (size_t i = 0; i < n; i++) y[i] = ((float)((const int8_t *)x)[i] - zp) * scale;
    else
        for (size_t i = 0; i < n; i++) y[i] = ((float)((const uint8_t *)x)[i] - zp) * scale;
}

void kiln_f32_minmax__scalar(size_t n, const float *x, float *mn, float *mx) {
    float a = *mn, b = *mx;
    for (size_t i = 0; i < n; i++) {
        a = x[i] < a ? x[i] : a;
        b = x[i] > b ? x[i] : b;
    }
    *mn = a, *mx = b;
}
