/* SPDX-License-Identifier: MIT */
/* PNG to 8-bit RGB: every color type and bit depth, Adam7, the five filters. 16-bit samples keep
 * their high byte, gray below 8 bits is scaled, alpha is dropped; chunk CRCs are not checked (the
 * zlib checksum is). */
#include <string.h>

#include "providers/cpu/ops/image.h"

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

static uint8_t paeth(int a, int b, int c) {
    int p = a + b - c, pa = p > a ? p - a : a - p, pb = p > b ? p - b : b - p, pc = p > c ? p - c : c - p;
    return (uint8_t)(pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
}

/* Reverses the filters of `rows` scanlines of `rowbytes` bytes (each after its filter byte). */
static int unfilter(uint8_t *d, int64_t rows, size_t rowbytes, size_t bpp) {
    const uint8_t *prev = NULL;
    for (int64_t y = 0; y < rows; y++) {
        uint8_t ft = d[0], *cur = d + 1;
        for (size_t i = 0; i < rowbytes; i++) {
            int a = i >= bpp ? cur[i - bpp] : 0, b = prev ? prev[i] : 0, c = prev && i >= bpp ? prev[i - bpp] : 0;
            switch (ft) {
            case 0: break;
            case 1: cur[i] = (uint8_t)(cur[i] + a); break;
            case 2: cur[i] = (uint8_t)(cur[i] + b); break;
            case 3: cur[i] = (uint8_t)(cur[i] + ((a + b) >> 1)); break;
            case 4: cur[i] = (uint8_t)(cur[i] + paeth(a, b, c)); break;
            default: return 0;
            }
        }
        prev = cur;
        d += rowbytes + 1;
    }
    return 1;
}

typedef struct png {
    int64_t w, h;
    int depth, color, channels;
    const uint8_t *plte;
    uint32_t n_plte;
} png;

/* Color type and bit depth combinations the PNG spec allows. */
static int bad_header(const png *p) {
    int d = p->depth;
    switch (p->color) {
    case 0: return !(d == 1 || d == 2 || d == 4 || d == 8 || d == 16);
    case 3: return !(d == 1 || d == 2 || d == 4 || d == 8);
    case 2: case 4: case 6: return !(d == 8 || d == 16);
    default: return 1;
    }
}

/* Sample `i` of a scanline at `depth` bits. */
static uint32_t sample(const uint8_t *row, int64_t i, int depth) {
    if (depth == 8) return row[i];
    if (depth == 16) return (uint32_t)row[2 * i] << 8 | row[2 * i + 1];
    int64_t bit = i * depth;
    return (uint32_t)(row[bit >> 3] >> (8 - depth - (bit & 7))) & ((1u << depth) - 1);
}

/* Writes the pixels of one (pass) scanline to img at (y, x0 + k * dx). */
static int put_row(const png *p, const uint8_t *row, int64_t cols, cpu_image *img, int64_t y, int64_t x0, int64_t dx) {
    for (int64_t k = 0; k < cols; k++) {
        uint8_t *o = img->rgb + (y * img->w + x0 + k * dx) * 3;
        uint32_t v[4];
        for (int c = 0; c < p->channels; c++) v[c] = sample(row, k * p->channels + c, p->depth);
        if (p->color == 3) {
            if (v[0] >= p->n_plte) return 0;
            memcpy(o, p->plte + 3 * v[0], 3);
            continue;
        }
        for (int c = 0; c < p->channels; c++)
            v[c] = p->depth == 16 ? v[c] >> 8 : p->depth < 8 ? v[c] * 255 / ((1u << p->depth) - 1) : v[c];
        if (p->color == 0 || p->color == 4) o[0] = o[1] = o[2] = (uint8_t)v[0];
        else o[0] = (uint8_t)v[0], o[1] = (uint8_t)v[1], o[2] = (uint8_t)v[2];
    }
    return 1;
}

kiln_status cpu_image_png(kiln_kernel_ctx *ctx, const uint8_t *s, size_t n, cpu_image *img, kiln_error *err) {
    png p;
    memset(&p, 0, sizeof(p));
    size_t pos = 8, idat_total = 0;
    int interlace = 0, have_ihdr = 0;
    /* Pass 1: header, palette, total IDAT size. */
    while (pos + 12 <= n) {
        uint32_t len = be32(s + pos);
        const uint8_t *type = s + pos + 4, *d = s + pos + 8;
        if (len > n - pos - 12) return IMG_CORRUPT;
        if (!memcmp(type, "IHDR", 4)) {
            if (len < 13) return IMG_CORRUPT;
            p.w = be32(d), p.h = be32(d + 4), p.depth = d[8], p.color = d[9], interlace = d[12];
            have_ihdr = 1;
        } else if (!memcmp(type, "PLTE", 4)) {
            if (len % 3) return IMG_CORRUPT;
            p.plte = d, p.n_plte = len / 3;
        } else if (!memcmp(type, "IDAT", 4)) {
            idat_total += len;
        } else if (!memcmp(type, "IEND", 4)) {
            break;
        }
        pos += 12 + (size_t)len;
    }
    if (!have_ihdr || !idat_total || p.w <= 0 || p.h <= 0 || bad_header(&p) || interlace > 1 || (p.color == 3 && !p.plte))
        return IMG_CORRUPT;
    p.channels = p.color == 0 || p.color == 3 ? 1 : p.color == 2 ? 3 : p.color == 4 ? 2 : 4;
    /* Raw bytes per IDAT byte are at most deflate's ratio; a pixel takes at least 1/8 byte. */
    KILN_CPU_TRY(cpu_image_alloc(ctx, img, p.h, p.w, (int64_t)idat_total * IMG_DEFLATE_RATIO * 8, err));
    uint8_t *idat = ctx->host->scratch(ctx, idat_total);
    if (!idat) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    size_t at = 0;
    for (pos = 8; pos + 12 <= n;) {
        uint32_t len = be32(s + pos);
        if (!memcmp(s + pos + 4, "IDAT", 4)) memcpy(idat + at, s + pos + 8, len), at += len;
        if (!memcmp(s + pos + 4, "IEND", 4)) break;
        pos += 12 + (size_t)len;
    }
    /* Adam7 passes: start and step per pass; a plain image is one pass of step 1. */
    static const int X0[7] = {0, 4, 0, 2, 0, 1, 0}, Y0[7] = {0, 0, 4, 0, 2, 0, 1};
    static const int DX[7] = {8, 8, 4, 4, 2, 2, 1}, DY[7] = {8, 8, 8, 4, 4, 2, 2};
    int passes = interlace ? 7 : 1;
    size_t bits_px = (size_t)p.depth * (size_t)p.channels, bpp = bits_px < 8 ? 1 : bits_px / 8, raw = 0;
    int64_t pw[7], ph[7];
    for (int i = 0; i < passes; i++) {
        pw[i] = interlace ? (p.w - X0[i] + DX[i] - 1) / DX[i] : p.w;
        ph[i] = interlace ? (p.h - Y0[i] + DY[i] - 1) / DY[i] : p.h;
        if (pw[i] > 0 && ph[i] > 0) raw += (size_t)ph[i] * (1 + ((size_t)pw[i] * bits_px + 7) / 8);
    }
    uint8_t *d = ctx->host->scratch(ctx, raw ? raw : 1);
    if (!d) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    kiln_status st = cpu_zlib_inflate(idat, idat_total, d, raw);
    if (st != KILN_OK) return st;
    for (int i = 0; i < passes; i++) {
        if (pw[i] <= 0 || ph[i] <= 0) continue;
        size_t rowbytes = ((size_t)pw[i] * bits_px + 7) / 8;
        if (!unfilter(d, ph[i], rowbytes, bpp)) return IMG_CORRUPT;
        for (int64_t y = 0; y < ph[i]; y++) {
            int64_t oy = interlace ? Y0[i] + y * DY[i] : y, ox = interlace ? X0[i] : 0, sx = interlace ? DX[i] : 1;
            if (!put_row(&p, d + (size_t)y * (rowbytes + 1) + 1, pw[i], img, oy, ox, sx)) return IMG_CORRUPT;
        }
        d += (size_t)ph[i] * (rowbytes + 1);
    }
    return KILN_OK;
}
