/* SPDX-License-Identifier: MIT */
/* Depthwise int8 convolution, one channel (q8-dwconv.h). */
#include "q8-dwconv.h"

#define DW_ROWS(T)                                                                                   \
    do {                                                                                             \
        const T *xp = x;                                                                             \
        for (int64_t oh = 0; oh < s->oh; oh++) {                                                     \
            for (int64_t ow = 0; ow < s->ow; ow++) acc[ow] = 0; /* uint32: wraps, never overflows */                                      \
            for (int64_t kh = 0; kh < s->kh; kh++) {                                                 \
                int64_t ih = oh * s->sh - s->ph + kh * s->dh;                                        \
                if (ih < 0 || ih >= s->ih) continue;                                                 \
                const T *xr = xp + ih * s->iw;                                                       \
                for (int64_t kw = 0; kw < s->kw; kw++) {                                             \
                    int32_t wv = w[kh * s->kw + kw];                                                 \
                    int64_t off = kw * s->dw - s->pw;                                                \
                    /* ow range with 0 <= ow * sw + off < iw */                                      \
                    int64_t lo = off >= 0 ? 0 : (-off + s->sw - 1) / s->sw;                          \
                    int64_t hi = s->iw - off <= 0 ? 0 : (s->iw - off + s->sw - 1) / s->sw;           \
                    if (hi > s->ow) hi = s->ow;                                                      \
                    if (s->sw == 1)                                                                  \
                        for (int64_t ow = lo; ow < hi; ow++) acc[ow] += (uint32_t)(((int32_t)xr[ow + off] - zx) * wv); \
                    else                                                                             \
                        for (int64_t ow = lo; ow < hi; ow++)                                         \
                            acc[ow] += (uint32_t)(((int32_t)xr[ow * s->sw + off] - zx) * wv);                   \
                }                                                                                    \
            }                                                                                        \
            for (int64_t ow = 0; ow < s->ow; ow++)                                                   \
                kiln_qgemm_store1(ep, (int32_t)acc[ow], ch, 0, y, (size_t)(oh * s->ow + ow));                 \
        }                                                                                            \
    } while (0)

void kiln_q8_dwconv2d(const kiln_q8_dwconv_shape *s, const void *x, int x_s8, int32_t zx, const int16_t *w,
                      const kiln_qgemm_epilogue *ep, size_t ch, void *y, int32_t *acc_row) {
    uint32_t *acc = (uint32_t *)acc_row;
    if (x_s8) DW_ROWS(int8_t);
    else DW_ROWS(uint8_t);
}
