/* SPDX-License-Identifier: MIT */
/* Portable 8-bit 2-D max pooling (q8-maxpool.h); the byte loops vectorize at baseline x86-64. */
#include "kernels/q8-maxpool/q8-maxpool.h"

static inline uint8_t max8(uint8_t a, uint8_t b) { return a > b ? a : b; }

void kiln_q8_maxpool2d(const kiln_q8_maxpool_shape *s, const uint8_t *x, int s8, uint8_t *y, uint8_t *row) {
    const uint8_t m = s8 ? 0x80 : 0;
    const int64_t iw = s->iw, ow_n = s->ow, kw = s->kw, sw = s->sw, pw = s->pw;
    /* outputs whose window lies inside [0, iw): ow in [o0, o1) */
    int64_t o0 = (pw + sw - 1) / sw, o1 = iw >= kw ? (iw - kw + pw) / sw + 1 : 0;
    if (o1 > ow_n) o1 = ow_n;
    if (o0 > o1) o0 = o1;
    for (int64_t oh = 0; oh < s->oh; oh++) {
        uint8_t *yr = y + oh * ow_n;
        int64_t hs = oh * s->sh - s->ph, h0 = hs < 0 ? 0 : hs, h1 = hs + s->kh < s->ih ? hs + s->kh : s->ih;
        if (h0 >= h1 || iw == 0) {
            for (int64_t o = 0; o < ow_n; o++) yr[o] = m; /* the lowest value: 0 (u8) or -128 (s8) */
            continue;
        }
        const uint8_t *x0 = x + h0 * iw;
        for (int64_t i = 0; i < iw; i++) row[i] = x0[i] ^ m;
        for (int64_t h = h0 + 1; h < h1; h++) {
            const uint8_t *xr = x + h * iw;
            for (int64_t i = 0; i < iw; i++) row[i] = max8(row[i], xr[i] ^ m);
        }
        /* interior windows: one pass per kernel column */
        if (sw == 1) {
            for (int64_t o = o0; o < o1; o++) yr[o] = row[o - pw];
            for (int64_t b = 1; b < kw; b++)
                for (int64_t o = o0; o < o1; o++) yr[o] = max8(yr[o], row[o - pw + b]);
        } else if (sw == 2) {
            for (int64_t o = o0; o < o1; o++) yr[o] = row[2 * o - pw];
            for (int64_t b = 1; b < kw; b++)
                for (int64_t o = o0; o < o1; o++) yr[o] = max8(yr[o], row[2 * o - pw + b]);
        } else {
            for (int64_t o = o0; o < o1; o++) {
                uint8_t best = row[o * sw - pw];
                for (int64_t b = 1; b < kw; b++) best = max8(best, row[o * sw - pw + b]);
                yr[o] = best;
            }
        }
        /* edge windows, clipped to the row */
        for (int64_t o = 0; o < ow_n; o++) {
            if (o == o0 && o1 > o0) {
                o = o1 - 1;
                continue;
            }
            int64_t ws = o * sw - pw, w0 = ws < 0 ? 0 : ws, w1 = ws + kw < iw ? ws + kw : iw;
            uint8_t best = 0;
            for (int64_t b = w0; b < w1; b++) best = max8(best, row[b]);
            yr[o] = best; /* no pixel inside: 0, the lowest after the xor below */
        }
        for (int64_t o = 0; o < ow_n; o++) yr[o] ^= m;
    }
}
