/* SPDX-License-Identifier: MIT */
/* The implicit-GEMM KxK convolution's portable parts (f32-conv.h): the padded planes, the tap
 * offsets and the single-threaded block driver that runs the per-ISA microkernels and writes the
 * valid pixels of each tile out to NCHW. */
#include <string.h>

#include "kernels/f32-conv/f32-conv.h"

size_t kiln_f32_conv_plane_pitch(const kiln_f32_conv_igeom *g) { return (size_t)(g->ow + (g->kw - 1) * g->dw); }

size_t kiln_f32_conv_plane_size(const kiln_f32_conv_igeom *g) {
    size_t rows = (size_t)(g->oh + (g->kh - 1) * g->dh);
    return (rows * kiln_f32_conv_plane_pitch(g) + 15) / 16 * 16;
}

size_t kiln_f32_conv_qcount(const kiln_f32_conv_igeom *g) {
    return g->oh > 0 && g->ow > 0 ? (size_t)(g->oh - 1) * kiln_f32_conv_plane_pitch(g) + (size_t)g->ow : 0;
}

void kiln_f32_conv_taps(const kiln_f32_conv_igeom *g, size_t *off) {
    size_t pitch = kiln_f32_conv_plane_pitch(g);
    for (int64_t a = 0; a < g->kh; a++)
        for (int64_t b = 0; b < g->kw; b++) *off++ = (size_t)(a * g->dh) * pitch + (size_t)(b * g->dw);
}

void kiln_f32_conv_pad(const kiln_f32_conv_igeom *g, const float *x, size_t c0, size_t c1, float *out) {
    size_t pitch = kiln_f32_conv_plane_pitch(g), rows = (size_t)(g->oh + (g->kh - 1) * g->dh);
    size_t plane = kiln_f32_conv_plane_size(g);
    /* padded column j reads input column j - pw when that is inside [0, iw) */
    int64_t lo = g->pw, hi = g->pw + g->iw; /* columns [lo, hi) of the pitch hold input */
    if (lo > (int64_t)pitch) lo = (int64_t)pitch;
    if (hi > (int64_t)pitch) hi = (int64_t)pitch;
    int64_t src0 = lo - g->pw; /* first input column copied (>0 when the leading pad is negative: never) */
    for (size_t c = c0; c < c1; c++) {
        float *o = out + (c - c0) * plane;
        const float *xc = x + c * (size_t)(g->ih * g->iw);
        for (size_t r = 0; r < rows; r++) {
            float *orow = o + r * pitch;
            int64_t ih = (int64_t)r - g->ph;
            if (ih < 0 || ih >= g->ih || hi <= lo) {
                memset(orow, 0, pitch * sizeof(float));
                continue;
            }
            if (lo > 0) memset(orow, 0, (size_t)lo * sizeof(float));
            memcpy(orow + lo, xc + ih * g->iw + src0, (size_t)(hi - lo) * sizeof(float));
            if ((size_t)hi < pitch) memset(orow + hi, 0, (pitch - (size_t)hi) * sizeof(float));
        }
        if (plane > rows * pitch) memset(o + rows * pitch, 0, (plane - rows * pitch) * sizeof(float));
    }
}

void kiln_f32_conv_igemm(const kiln_f32_conv_config *cfg, const kiln_f32_conv_igeom *g, const float *xp,
                         const float *a_packed, size_t m, const size_t *off, size_t i0, size_t i1, size_t q0,
                         size_t q1, size_t cblock, float *work, float *y, const kiln_f32_epilogue *ep) {
    size_t mr = cfg->mr, nr = cfg->nr, taps = (size_t)(g->kh * g->kw), cs = (size_t)g->channels;
    size_t k = cs * taps, pitch = kiln_f32_conv_plane_pitch(g), plane = kiln_f32_conv_plane_size(g);
    size_t ow = (size_t)g->ow, osz = (size_t)(g->oh * g->ow), ldw = q1 - q0;
    if (i1 > m) i1 = m;
    /* The bias and a clamp-type activation go in the microkernel's epilogue; a residual (added
     * before the activation) and the other activations when the valid pixels are written out. */
    int in_reg = !ep->residual && kiln_act_in_registers(ep->act);
    for (size_t i = i0; i < i1; i += mr) {
        size_t rows = i1 - i < mr ? i1 - i : mr;
        const float *a = a_packed + (i / mr) * k * mr;
        kiln_f32_epilogue tep = {ep->bias ? ep->bias + i : NULL, 1, NULL, 0, in_reg ? ep->act : KILN_ACT_NONE, ep->p0, ep->p1};
        size_t cb = cblock && cblock < cs ? cblock : cs;
        for (size_t c0 = 0; c0 < cs; c0 += cb) {
            /* a block of channels: its slice of the A panel stays in L1 across the pixel tiles */
            size_t cn = cs - c0 < cb ? cs - c0 : cb;
            uint32_t flags = (c0 ? KILN_GEMM_ACCUMULATE : 0u) | (c0 + cn == cs ? KILN_GEMM_EPILOGUE : 0u);
            for (size_t q = q0; q < q1; q += nr) {
                size_t n = q1 - q < nr ? q1 - q : nr;
                cfg->ukernel[rows](n, cn, taps, a + c0 * taps * mr, xp + c0 * plane + q, plane, off, work + (q - q0),
                                   ldw, flags, &tep);
            }
        }
        /* write the valid pixels: row by row of the output */
        for (size_t r = 0; r < rows; r++) {
            const float *wr = work + r * ldw;
            float *yr = y + (i + r) * osz;
            const float *rr = ep->residual ? ep->residual + (i + r) * ep->ld_residual : NULL;
            size_t q = q0;
            while (q < q1) {
                size_t oh = q / pitch, col = q % pitch;
                size_t end = (oh + 1) * pitch < q1 ? (oh + 1) * pitch : q1;
                if (col < ow) {
                    size_t cnt = (end - q) < ow - col ? end - q : ow - col;
                    float *d = yr + oh * ow + col;
                    const float *s = wr + (q - q0);
                    if (rr) {
                        const float *res = rr + oh * ow + col;
                        for (size_t e = 0; e < cnt; e++) d[e] = s[e] + res[e];
                    } else {
                        memcpy(d, s, cnt * sizeof(float));
                    }
                    if (!in_reg && ep->act != KILN_ACT_NONE) kiln_f32_vact(cnt, d, d, ep->act, ep->p0, ep->p1);
                }
                q = end;
            }
        }
    }
}
