/* SPDX-License-Identifier: MIT */
/* Baseline/extended sequential Huffman JPEG (8-bit, 1 or 3 components) to RGB with libjpeg-turbo's
 * arithmetic: accurate integer IDCT, fancy chroma upsampling, fixed-point YCbCr. Progressive,
 * lossless, arithmetic, 12-bit and CMYK are refused (docs/image-decoder.md). */
#include <string.h>

#include "providers/cpu/ops/image.h"

static const uint8_t ZIGZAG[64] = {0,  1,  8,  16, 9,  2,  3,  10, 17, 24, 32, 25, 18, 11, 4,  5,
                                   12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6,  7,  14, 21, 28,
                                   35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
                                   58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63};

typedef struct jhuff {
    uint8_t present;
    uint8_t sym[256];
    int32_t maxcode[18], valptr[17], mincode[17];
} jhuff;

typedef struct jcomp {
    int id, h, v, tq, td, ta;
    int64_t bw, bh;        /* blocks per row / column in the plane */
    int64_t dw, dh;        /* samples that belong to the image (downsampled size) */
    uint8_t *plane;        /* bw * 8 columns, bh * 8 rows */
    int64_t dc_pred;
} jcomp;

typedef struct jpeg {
    const uint8_t *s;
    size_t n, pos;
    uint16_t q[4][64];     /* natural order */
    jhuff dc[4], ac[4];
    jcomp c[3];
    int nc, hmax, vmax, restart, adobe, adobe_transform;
    int64_t w, h, mcux, mcuy;
    uint32_t bitbuf;
    int nbits, hit_marker;
} jpeg;

static int build_huff(jhuff *t, const uint8_t *counts, const uint8_t *syms, int total) {
    int code = 0, k = 0;
    memcpy(t->sym, syms, (size_t)total);
    for (int l = 1; l <= 16; l++) {
        t->valptr[l] = k;
        t->mincode[l] = code;
        code += counts[l - 1];
        k += counts[l - 1];
        t->maxcode[l] = counts[l - 1] ? code - 1 : -1;
        if (code > (1 << l)) return 0;
        code <<= 1;
    }
    t->maxcode[17] = 0x7fffffff;
    t->present = 1;
    return 1;
}

/* One bit of entropy-coded data; zeros once a marker is reached. */
static int bit(jpeg *j) {
    if (!j->nbits) {
        uint32_t b = 0;
        if (!j->hit_marker && j->pos < j->n) {
            b = j->s[j->pos];
            if (b == 0xff) {
                uint8_t nx = j->pos + 1 < j->n ? j->s[j->pos + 1] : 0xd9;
                if (nx == 0x00) j->pos += 2;
                else j->hit_marker = 1, b = 0;
            } else {
                j->pos++;
            }
        }
        j->bitbuf = b;
        j->nbits = 8;
    }
    j->nbits--;
    return (int)(j->bitbuf >> j->nbits) & 1;
}

static int receive(jpeg *j, int s) {
    int v = 0;
    for (int i = 0; i < s; i++) v = (v << 1) | bit(j);
    return v;
}

static int extend(int v, int s) { return s && v < (1 << (s - 1)) ? v - (1 << s) + 1 : v; }

static int hdecode(jpeg *j, const jhuff *t) {
    int code = bit(j);
    for (int l = 1; l <= 16; l++) {
        if (t->maxcode[l] >= 0 && code <= t->maxcode[l]) return t->sym[t->valptr[l] + code - t->mincode[l]];
        code = (code << 1) | bit(j);
    }
    return -1;
}

#define CONST_BITS 13
#define PASS1_BITS 2
#define DESCALE(x, n) (((x) + ((int64_t)1 << ((n) - 1))) >> (n))

/* The accurate integer inverse DCT of one dequantized block into 8x8 samples. */
static void idct(const int32_t *in, uint8_t *out, int64_t stride) {
    int64_t ws[64];
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < 8; i++) {
            /* Pass 0 reads columns of `in`; pass 1 rows of ws. */
            int64_t x[8];
            for (int k = 0; k < 8; k++) x[k] = pass == 0 ? in[k * 8 + i] : ws[i * 8 + k];
            int64_t z1 = (x[2] + x[6]) * 4433;                     /* 0.541196100 */
            int64_t tmp2 = z1 - x[6] * 15137;                      /* 1.847759065 */
            int64_t tmp3 = z1 + x[2] * 6270;                       /* 0.765366865 */
            int64_t tmp0 = (x[0] + x[4]) * (1 << CONST_BITS), tmp1 = (x[0] - x[4]) * (1 << CONST_BITS);
            int64_t t10 = tmp0 + tmp3, t13 = tmp0 - tmp3, t11 = tmp1 + tmp2, t12 = tmp1 - tmp2;
            int64_t o0 = x[7], o1 = x[5], o2 = x[3], o3 = x[1];
            int64_t za = o0 + o3, zb = o1 + o2, zc = o0 + o2, zd = o1 + o3;
            int64_t z5 = (zc + zd) * 9633;                         /* 1.175875602 */
            o0 *= 2446, o1 *= 16819, o2 *= 25172, o3 *= 12299;     /* 0.298631336 2.053119869 3.072711026 1.501321110 */
            za *= -7373, zb *= -20995, zc *= -16069, zd *= -3196;  /* 0.899976223 2.562915447 1.961570560 0.390180644 */
            zc += z5, zd += z5;
            o0 += za + zc, o1 += zb + zd, o2 += zb + zc, o3 += za + zd;
            int64_t r[8] = {t10 + o3, t11 + o2, t12 + o1, t13 + o0, t13 - o0, t12 - o1, t11 - o2, t10 - o3};
            for (int k = 0; k < 8; k++) {
                if (pass == 0) {
                    ws[k * 8 + i] = DESCALE(r[k], CONST_BITS - PASS1_BITS);
                } else {
                    int64_t v = DESCALE(r[k], CONST_BITS + PASS1_BITS + 3) + 128;
                    out[i * stride + k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
                }
            }
        }
    }
}

static int decode_block(jpeg *j, jcomp *c, int64_t bx, int64_t by) {
    int32_t coef[64];
    memset(coef, 0, sizeof(coef));
    const jhuff *dc = &j->dc[c->td], *ac = &j->ac[c->ta];
    const uint16_t *q = j->q[c->tq];
    int s = hdecode(j, dc);
    if (s < 0 || s > 11) return 0;
    c->dc_pred += extend(receive(j, s), s);
    if (c->dc_pred > (1 << 16) || c->dc_pred < -(1 << 16)) return 0; /* beyond any 8-bit image */
    coef[0] = (int32_t)(c->dc_pred * q[0]);
    for (int k = 1; k < 64; k++) {
        int rs = hdecode(j, ac);
        if (rs < 0) return 0;
        int r = rs >> 4;
        s = rs & 15;
        if (!s) {
            if (r != 15) break;
            k += 15;
            continue;
        }
        k += r;
        if (k > 63) return 0;
        coef[ZIGZAG[k]] = extend(receive(j, s), s) * q[ZIGZAG[k]];
    }
    if (bx < c->bw && by < c->bh) idct(coef, c->plane + by * 8 * (c->bw * 8) + bx * 8, c->bw * 8);
    return 1;
}

/* At a restart interval: the RSTn marker, then fresh bits and predictions. */
static int restart(jpeg *j) {
    j->nbits = 0;
    j->hit_marker = 0;
    while (j->pos + 1 < j->n && !(j->s[j->pos] == 0xff && j->s[j->pos + 1] >= 0xd0 && j->s[j->pos + 1] <= 0xd7)) j->pos++;
    if (j->pos + 1 >= j->n) return 0;
    j->pos += 2;
    for (int i = 0; i < j->nc; i++) j->c[i].dc_pred = 0;
    return 1;
}

static int scan(jpeg *j, const uint8_t *sos, size_t len) {
    int ns = sos[0];
    jcomp *sc[3];
    if (ns < 1 || ns > j->nc || len < (size_t)(1 + 2 * ns + 3)) return 0;
    for (int i = 0; i < ns; i++) {
        int id = sos[1 + 2 * i], tables = sos[2 + 2 * i];
        sc[i] = NULL;
        for (int k = 0; k < j->nc; k++)
            if (j->c[k].id == id) sc[i] = &j->c[k];
        if (!sc[i]) return 0;
        sc[i]->td = tables >> 4, sc[i]->ta = tables & 15;
        if (sc[i]->td > 3 || sc[i]->ta > 3 || !j->dc[sc[i]->td].present || !j->ac[sc[i]->ta].present) return 0;
        sc[i]->dc_pred = 0;
    }
    j->nbits = 0;
    j->hit_marker = 0;
    int64_t units;
    if (ns == 1) {
        /* Non-interleaved: one block per unit over the component's own extent. */
        jcomp *c = sc[0];
        int64_t cols = (c->dw + 7) / 8, rows = (c->dh + 7) / 8;
        units = cols * rows;
        for (int64_t u = 0; u < units; u++) {
            if (j->restart && u && u % j->restart == 0 && !restart(j)) return 0;
            if (!decode_block(j, c, u % cols, u / cols)) return 0;
        }
        return 1;
    }
    units = j->mcux * j->mcuy;
    for (int64_t u = 0; u < units; u++) {
        if (j->restart && u && u % j->restart == 0 && !restart(j)) return 0;
        int64_t mx = u % j->mcux, my = u / j->mcux;
        for (int i = 0; i < ns; i++)
            for (int v = 0; v < sc[i]->v; v++)
                for (int hh = 0; hh < sc[i]->h; hh++)
                    if (!decode_block(j, sc[i], mx * sc[i]->h + hh, my * sc[i]->v + v)) return 0;
    }
    return 1;
}

/* Upsamples component c to full resolution (row y of the image, W samples) into out. */
static void upsample_row(const jpeg *j, const jcomp *c, int64_t y, uint8_t *out, int32_t *colsum) {
    int hf = j->hmax / c->h, vf = j->vmax / c->v;
    int64_t stride = c->bw * 8, dw = c->dw;
    const uint8_t *base = c->plane;
    int64_t r = y / vf;
    if (r >= c->dh) r = c->dh - 1;
    /* libjpeg-turbo filters 2x horizontal upsampling only for components wider than 2. */
    if (vf == 2 && (hf == 1 || (hf == 2 && dw > 2))) {
        /* Vertical triangle: 3/4 of the nearer row, 1/4 of the farther (edges replicate). */
        int64_t far = (y & 1) ? r + 1 : r - 1;
        if (far < 0) far = 0;
        if (far >= c->dh) far = c->dh - 1;
        const uint8_t *a = base + r * stride, *b = base + far * stride;
        for (int64_t i = 0; i < dw; i++) colsum[i] = 3 * a[i] + b[i];
        if (hf == 1) {
            int bias = (y & 1) ? 2 : 1;
            for (int64_t i = 0; i < j->w; i++) out[i] = (uint8_t)((colsum[i] + bias) >> 2);
            return;
        }
        for (int64_t i = 0, o = 0; i < dw && o < j->w; i++) {
            int32_t left = i ? colsum[i - 1] : colsum[i], right = i + 1 < dw ? colsum[i + 1] : colsum[i];
            out[o++] = (uint8_t)((colsum[i] * 3 + left + 8) >> 4);
            if (o < j->w) out[o++] = (uint8_t)((colsum[i] * 3 + right + 7) >> 4);
        }
        return;
    }
    const uint8_t *row = base + r * stride;
    if (hf == 2 && vf == 1 && dw > 2) {
        for (int64_t i = 0, o = 0; i < dw && o < j->w; i++) {
            int left = i ? row[i - 1] : row[i], right = i + 1 < dw ? row[i + 1] : row[i];
            out[o++] = (uint8_t)(i ? (row[i] * 3 + left + 1) >> 2 : row[i]);
            if (o < j->w) out[o++] = (uint8_t)(i + 1 < dw ? (row[i] * 3 + right + 2) >> 2 : row[i]);
        }
        return;
    }
    for (int64_t x = 0; x < j->w; x++) {
        int64_t i = x / hf;
        out[x] = row[i < dw ? i : dw - 1];
    }
}

static int clamp8(int v) { return v < 0 ? 0 : v > 255 ? 255 : v; }

kiln_status cpu_image_jpeg(kiln_kernel_ctx *ctx, const uint8_t *s, size_t n, cpu_image *img, kiln_error *err) {
    jpeg *j = ctx->host->scratch(ctx, sizeof(jpeg));
    if (!j) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    memset(j, 0, sizeof(*j));
    j->s = s, j->n = n, j->pos = 2;
    int have_frame = 0, done = 0;
    while (!done) {
        while (j->pos < n && s[j->pos] != 0xff) j->pos++;
        while (j->pos < n && s[j->pos] == 0xff) j->pos++;
        if (j->pos >= n) return IMG_CORRUPT;
        int m = s[j->pos++];
        if (m == 0xd9) break;
        if (m >= 0xd0 && m <= 0xd7) continue;
        if (j->pos + 2 > n) return IMG_CORRUPT;
        size_t len = (size_t)s[j->pos] << 8 | s[j->pos + 1];
        if (len < 2 || j->pos + len > n) return IMG_CORRUPT;
        const uint8_t *d = s + j->pos + 2;
        size_t dl = len - 2;
        j->pos += len;
        if (m == 0xc2 || m == 0xc6 || m == 0xca || m == 0xce)
            return cpu_fail(err, KILN_ERR_UNSUPPORTED, "ImageDecoder: progressive JPEG images are not supported (see docs/image-decoder.md)");
        if (m == 0xc3 || m == 0xc7 || m == 0xcb || m == 0xcf)
            return cpu_fail(err, KILN_ERR_UNSUPPORTED, "ImageDecoder: lossless JPEG images are not supported (see docs/image-decoder.md)");
        if (m == 0xc5 || m == 0xc9 || m == 0xca || m == 0xcd)
            return cpu_fail(err, KILN_ERR_UNSUPPORTED, "ImageDecoder: hierarchical or arithmetic-coded JPEG images are not supported");
        if (m == 0xdb) {
            for (size_t p = 0; p < dl;) {
                int pq = d[p] >> 4, tq = d[p] & 15;
                size_t need = 1 + (pq ? 128 : 64);
                if (tq > 3 || pq > 1 || p + need > dl) return IMG_CORRUPT;
                for (int k = 0; k < 64; k++) j->q[tq][ZIGZAG[k]] = pq ? (uint16_t)(d[p + 1 + 2 * k] << 8 | d[p + 2 + 2 * k]) : d[p + 1 + k];
                p += need;
            }
        } else if (m == 0xc4) {
            for (size_t p = 0; p < dl;) {
                if (p + 17 > dl) return IMG_CORRUPT;
                int tc = d[p] >> 4, th = d[p] & 15, total = 0;
                for (int k = 0; k < 16; k++) total += d[p + 1 + k];
                if (tc > 1 || th > 3 || total > 256 || p + 17 + (size_t)total > dl) return IMG_CORRUPT;
                if (!build_huff(tc ? &j->ac[th] : &j->dc[th], d + p + 1, d + p + 17, total)) return IMG_CORRUPT;
                p += 17 + (size_t)total;
            }
        } else if (m == 0xdd) {
            if (dl < 2) return IMG_CORRUPT;
            j->restart = d[0] << 8 | d[1];
        } else if (m == 0xee) {
            if (dl >= 12 && memcmp(d, "Adobe", 5) == 0) j->adobe = 1, j->adobe_transform = d[11];
        } else if (m == 0xc0 || m == 0xc1) {
            if (dl < 6) return IMG_CORRUPT;
            if (d[0] != 8) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "ImageDecoder: %d-bit JPEG images are not supported", d[0]);
            j->h = d[1] << 8 | d[2], j->w = d[3] << 8 | d[4], j->nc = d[5];
            if (j->nc == 4) return cpu_fail(err, KILN_ERR_UNSUPPORTED, "ImageDecoder: CMYK JPEG images are not supported");
            if ((j->nc != 1 && j->nc != 3) || dl < 6 + 3 * (size_t)j->nc || !j->h || !j->w || have_frame) return IMG_CORRUPT;
            for (int i = 0; i < j->nc; i++) {
                jcomp *c = &j->c[i];
                c->id = d[6 + 3 * i], c->h = d[7 + 3 * i] >> 4, c->v = d[7 + 3 * i] & 15, c->tq = d[8 + 3 * i];
                if (c->h < 1 || c->h > 4 || c->v < 1 || c->v > 4 || c->tq > 3) return IMG_CORRUPT;
                if (c->h > j->hmax) j->hmax = c->h;
                if (c->v > j->vmax) j->vmax = c->v;
            }
            /* A block costs at least two bits (DC and end of block): 64 pixels per 2 bits, and chroma
             * subsampled up to 4x4 a block covers at most 1024 pixels; 4096 per byte is generous. */
            KILN_CPU_TRY(cpu_image_alloc(ctx, img, j->h, j->w, (int64_t)n * 4096 + 65536, err));
            j->mcux = (j->w + 8 * j->hmax - 1) / (8 * j->hmax), j->mcuy = (j->h + 8 * j->vmax - 1) / (8 * j->vmax);
            for (int i = 0; i < j->nc; i++) {
                jcomp *c = &j->c[i];
                if (j->hmax % c->h || j->vmax % c->v)
                    return cpu_fail(err, KILN_ERR_UNSUPPORTED, "ImageDecoder: JPEG sampling factors that do not divide evenly are not supported");
                c->bw = j->mcux * c->h, c->bh = j->mcuy * c->v;
                c->dw = (j->w * c->h + j->hmax - 1) / j->hmax, c->dh = (j->h * c->v + j->vmax - 1) / j->vmax;
                c->plane = ctx->host->scratch(ctx, (size_t)(c->bw * c->bh * 64));
                if (!c->plane) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
                memset(c->plane, 0, (size_t)(c->bw * c->bh * 64));
            }
            have_frame = 1;
        } else if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc) {
            return cpu_fail(err, KILN_ERR_UNSUPPORTED, "ImageDecoder: this JPEG coding process (marker 0x%02x) is not supported", m);
        } else if (m == 0xda) {
            /* The entropy-coded data follows the header; the marker search resumes where it stops. */
            if (!have_frame || !scan(j, d, dl)) return IMG_CORRUPT;
        }
    }
    if (!have_frame) return IMG_CORRUPT;
    /* Upsample and convert, one output row at a time. */
    uint8_t *rows = ctx->host->scratch(ctx, (size_t)(3 * j->w));
    int32_t *colsum = ctx->host->scratch(ctx, (size_t)(j->mcux * 8 * j->hmax + 1) * sizeof(int32_t));
    if (!rows || !colsum) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    int rgb_stored = j->nc == 3 && j->adobe && j->adobe_transform == 0;
    for (int64_t y = 0; y < j->h; y++) {
        for (int i = 0; i < j->nc; i++) upsample_row(j, &j->c[i], y, rows + i * j->w, colsum);
        uint8_t *o = img->rgb + y * j->w * 3;
        for (int64_t x = 0; x < j->w; x++, o += 3) {
            int yy = rows[x];
            if (j->nc == 1) {
                o[0] = o[1] = o[2] = (uint8_t)yy;
                continue;
            }
            int cb = rows[j->w + x], cr = rows[2 * j->w + x];
            if (rgb_stored) {
                o[0] = (uint8_t)yy, o[1] = (uint8_t)cb, o[2] = (uint8_t)cr;
                continue;
            }
            /* 16-bit fixed point: 1.40200, 1.77200, 0.71414, 0.34414 scaled by 65536, half added. */
            int cbv = cb - 128, crv = cr - 128;
            int r = yy + (int)((91881 * (int64_t)crv + 32768) >> 16);
            int b = yy + (int)((116130 * (int64_t)cbv + 32768) >> 16);
            int g = yy + (int)((-46802 * (int64_t)crv - 22554 * (int64_t)cbv + 32768) >> 16);
            o[0] = (uint8_t)clamp8(r), o[1] = (uint8_t)clamp8(g), o[2] = (uint8_t)clamp8(b);
        }
    }
    return KILN_OK;
}
