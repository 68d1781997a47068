/* SPDX-License-Identifier: MIT */
/* ImageDecoder: sniffs the format, decodes BMP, PNM, TIFF here, PNG and baseline JPEG in
 * image_png.c / image_jpeg.c, and writes RGB, BGR or Grayscale [H, W, C] uint8. Unsupported formats
 * are refused; damaged streams give an empty image (docs/image-decoder.md). */
#include <string.h>

#include "providers/cpu/ops/image.h"

kiln_status cpu_image_alloc(kiln_kernel_ctx *ctx, cpu_image *img, int64_t h, int64_t w, int64_t max_pixels,
                            kiln_error *err) {
    if (h <= 0 || w <= 0 || (h <= max_pixels && w > max_pixels / h) || h > max_pixels) return IMG_CORRUPT;
    if (h > IMG_MAX_PIXELS || w > IMG_MAX_PIXELS / h)
        return cpu_fail(err, KILN_ERR_UNSUPPORTED, "ImageDecoder: a %lldx%lld image exceeds the %lld-pixel limit",
                        (long long)w, (long long)h, (long long)IMG_MAX_PIXELS);
    img->h = h, img->w = w;
    img->rgb = ctx->host->scratch(ctx, (size_t)(h * w * 3));
    if (!img->rgb) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory for a %lldx%lld image", (long long)w, (long long)h);
    return KILN_OK;
}

static kiln_status refuse(kiln_error *err, const char *what) {
    return cpu_fail(err, KILN_ERR_UNSUPPORTED, "ImageDecoder: %s are not supported (see docs/image-decoder.md)", what);
}

static uint32_t le16(const uint8_t *p) { return p[0] | (uint32_t)p[1] << 8; }
static uint32_t le32(const uint8_t *p) { return le16(p) | (uint32_t)le16(p + 2) << 16; }

/* ---- BMP ---- */

/* Expands a channel read through `mask` to 0-255. */
static uint8_t masked(uint32_t px, uint32_t mask) {
    if (!mask) return 0;
    int shift = 0;
    while (!((mask >> shift) & 1)) shift++;
    uint32_t max = mask >> shift;
    return (uint8_t)((uint64_t)((px & mask) >> shift) * 255 / max);
}

static kiln_status bmp(kiln_kernel_ctx *ctx, const uint8_t *s, size_t n, cpu_image *img, kiln_error *err) {
    if (n < 26) return IMG_CORRUPT;
    uint32_t off = le32(s + 10), dib = le32(s + 14);
    int64_t w, h;
    uint32_t bpp, comp = 0, used = 0, masks[3] = {0, 0, 0}, pal_entry = 4;
    if (dib == 12) {
        w = le16(s + 18), h = (int16_t)le16(s + 20), bpp = le16(s + 24), pal_entry = 3;
    } else if (dib >= 40 && n >= 54) {
        w = (int32_t)le32(s + 18), h = (int32_t)le32(s + 22), bpp = le16(s + 28), comp = le32(s + 30), used = le32(s + 46);
    } else {
        return IMG_CORRUPT;
    }
    size_t pal = 14 + (size_t)dib;
    if (comp == 1 || comp == 2) return refuse(err, "run-length encoded BMP images");
    if (comp == 4 || comp == 5) return refuse(err, "BMP images holding JPEG or PNG data");
    if (comp == 3 || comp == 6) {
        if (n < 66) return IMG_CORRUPT;
        masks[0] = le32(s + 54), masks[1] = le32(s + 58), masks[2] = le32(s + 62);
        if (dib == 40) pal += comp == 6 ? 16 : 12; /* the masks follow a 40-byte header */
        if (bpp != 16 && bpp != 32) return IMG_CORRUPT;
    } else if (comp != 0) {
        return IMG_CORRUPT;
    } else if (bpp == 16) {
        masks[0] = 0x7c00, masks[1] = 0x03e0, masks[2] = 0x001f;
    }
    if (bpp != 1 && bpp != 4 && bpp != 8 && bpp != 16 && bpp != 24 && bpp != 32) return IMG_CORRUPT;
    int top_down = h < 0;
    if (top_down) h = -h;
    uint32_t colors = bpp <= 8 ? (used && used <= (1u << bpp) ? used : 1u << bpp) : 0;
    if (colors && pal + (size_t)colors * pal_entry > n) return IMG_CORRUPT;
    if (w <= 0 || h <= 0 || w > IMG_MAX_PIXELS) return IMG_CORRUPT;
    size_t stride = (((size_t)w * bpp + 31) / 32) * 4;
    if (off > n || (uint64_t)h > (n - off) / stride) return IMG_CORRUPT;
    KILN_CPU_TRY(cpu_image_alloc(ctx, img, h, w, IMG_MAX_PIXELS, err));
    for (int64_t y = 0; y < h; y++) {
        const uint8_t *row = s + off + stride * (size_t)(top_down ? y : h - 1 - y);
        uint8_t *o = img->rgb + y * w * 3;
        for (int64_t x = 0; x < w; x++, o += 3) {
            if (bpp <= 8) {
                uint32_t i = (row[(x * bpp) >> 3] >> (8 - bpp - ((x * bpp) & 7))) & ((1u << bpp) - 1);
                if (i >= colors) i = 0;
                const uint8_t *c = s + pal + (size_t)i * pal_entry;
                o[0] = c[2], o[1] = c[1], o[2] = c[0];
            } else if (bpp == 24) {
                o[0] = row[3 * x + 2], o[1] = row[3 * x + 1], o[2] = row[3 * x];
            } else if (bpp == 32 && !masks[0]) {
                o[0] = row[4 * x + 2], o[1] = row[4 * x + 1], o[2] = row[4 * x];
            } else {
                uint32_t px = bpp == 16 ? le16(row + 2 * x) : le32(row + 4 * x);
                o[0] = masked(px, masks[0]), o[1] = masked(px, masks[1]), o[2] = masked(px, masks[2]);
            }
        }
    }
    return KILN_OK;
}

/* ---- PNM (PBM, PGM, PPM; ASCII and binary) ---- */

typedef struct rd {
    const uint8_t *s;
    size_t n, pos;
} rd;

static int is_space(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/* A decimal header or ASCII-raster number (skipping whitespace and comments); -1 when none. */
static int64_t pnm_number(rd *r) {
    for (;;) {
        while (r->pos < r->n && is_space(r->s[r->pos])) r->pos++;
        if (r->pos < r->n && r->s[r->pos] == '#') {
            while (r->pos < r->n && r->s[r->pos] != '\n') r->pos++;
            continue;
        }
        break;
    }
    int64_t v = -1;
    while (r->pos < r->n && r->s[r->pos] >= '0' && r->s[r->pos] <= '9') {
        v = (v < 0 ? 0 : v) * 10 + (r->s[r->pos++] - '0');
        if (v > ((int64_t)1 << 40)) return -1;
    }
    return v;
}

static kiln_status pnm(kiln_kernel_ctx *ctx, const uint8_t *s, size_t n, cpu_image *img, kiln_error *err) {
    int kind = s[1] - '0';
    rd r = {s, n, 2};
    int64_t w = pnm_number(&r), h = pnm_number(&r), maxval = kind == 1 || kind == 4 ? 1 : pnm_number(&r);
    if (w <= 0 || h <= 0 || maxval < 1 || maxval > 65535) return IMG_CORRUPT;
    if (kind >= 4) {
        if (r.pos >= n || !is_space(s[r.pos])) return IMG_CORRUPT;
        r.pos++; /* one whitespace byte ends the header of a binary raster */
    }
    int ch = kind == 3 || kind == 6 ? 3 : 1, wide = maxval > 255;
    if (w > IMG_MAX_PIXELS) return IMG_CORRUPT;
    size_t rowbytes = kind == 4 ? ((size_t)w + 7) / 8 : (size_t)w * ch * (wide ? 2 : 1);
    if (kind >= 4 && (uint64_t)h > (n - r.pos) / rowbytes) return IMG_CORRUPT;
    /* An ASCII raster needs at least one byte per sample. */
    KILN_CPU_TRY(cpu_image_alloc(ctx, img, h, w, (int64_t)(n - r.pos) * (kind >= 4 ? 8 : 1), err));
    for (int64_t y = 0; y < h; y++) {
        const uint8_t *row = s + r.pos + rowbytes * (size_t)y;
        for (int64_t x = 0; x < w; x++) {
            uint8_t *o = img->rgb + (y * w + x) * 3;
            for (int c = 0; c < ch; c++) {
                int64_t v;
                if (kind == 4) {
                    v = (row[x >> 3] >> (7 - (x & 7))) & 1;
                } else if (kind == 1) {
                    /* Digits of a plain PBM may run together. */
                    while (r.pos < n && (is_space(s[r.pos]) || s[r.pos] == '#')) {
                        if (s[r.pos] == '#')
                            while (r.pos < n && s[r.pos] != '\n') r.pos++;
                        else r.pos++;
                    }
                    if (r.pos >= n || (s[r.pos] != '0' && s[r.pos] != '1')) return IMG_CORRUPT;
                    v = s[r.pos++] - '0';
                } else if (kind <= 3) {
                    if ((v = pnm_number(&r)) < 0) return IMG_CORRUPT;
                } else {
                    size_t i = (size_t)(x * ch + c);
                    v = wide ? (int64_t)row[2 * i] << 8 | row[2 * i + 1] : row[i];
                }
                if (kind == 1 || kind == 4) v = v ? 0 : 255; /* 1 is black */
                else v = (v > maxval ? maxval : v) * 255 / maxval;
                o[c] = (uint8_t)v;
            }
            if (ch == 1) o[1] = o[2] = o[0];
        }
    }
    return KILN_OK;
}

/* ---- TIFF (strips; none, PackBits, LZW, Deflate) ---- */

typedef struct tiff {
    const uint8_t *s;
    size_t n;
    int be;       /* big-endian (MM) */
    size_t ifd;   /* offset of the first IFD */
} tiff;

static uint32_t t16(const tiff *t, size_t o) { return t->be ? (uint32_t)t->s[o] << 8 | t->s[o + 1] : le16(t->s + o); }
static uint32_t t32(const tiff *t, size_t o) {
    return t->be ? t16(t, o) << 16 | t16(t, o + 2) : le32(t->s + o);
}

/* Entry `tag` of the IFD: value i (SHORT/LONG/BYTE) into *v; 0 when absent or malformed. */
static int tag_value(const tiff *t, uint32_t tag, uint32_t i, uint32_t *v, uint32_t *count) {
    size_t e = t->ifd + 2;
    uint32_t n = t16(t, t->ifd);
    for (uint32_t k = 0; k < n; k++, e += 12) {
        if (e + 12 > t->n) return 0;
        if (t16(t, e) != tag) continue;
        uint32_t type = t16(t, e + 2), cnt = t32(t, e + 4), size = type == 3 ? 2 : type == 4 ? 4 : type == 1 ? 1 : 0;
        if (!size || i >= cnt) return 0;
        if (count) *count = cnt;
        size_t at = (uint64_t)cnt * size <= 4 ? e + 8 : t32(t, e + 8);
        at += (size_t)i * size;
        if (at + size > t->n) return 0;
        *v = size == 2 ? t16(t, at) : size == 4 ? t32(t, at) : t->s[at];
        return 1;
    }
    return 0;
}

static uint32_t tag_or(const tiff *t, uint32_t tag, uint32_t dflt) {
    uint32_t v;
    return tag_value(t, tag, 0, &v, NULL) ? v : dflt;
}

static int packbits(const uint8_t *s, size_t n, uint8_t *d, size_t want) {
    size_t i = 0, o = 0;
    while (o < want && i < n) {
        int c = (int8_t)s[i++];
        if (c >= 0) {
            if (i + (size_t)c + 1 > n || o + (size_t)c + 1 > want) return 0;
            memcpy(d + o, s + i, (size_t)c + 1);
            i += (size_t)c + 1, o += (size_t)c + 1;
        } else if (c != -128) {
            if (i >= n || o + (size_t)(1 - c) > want) return 0;
            memset(d + o, s[i++], (size_t)(1 - c));
            o += (size_t)(1 - c);
        }
    }
    return o == want;
}

/* TIFF LZW: MSB-first codes of 9-12 bits, 256 clears, 257 ends; the width grows one code early. */
static int lzw(kiln_kernel_ctx *ctx, const uint8_t *s, size_t n, uint8_t *d, size_t want) {
    uint16_t *prefix = ctx->host->scratch(ctx, 4096 * sizeof(uint16_t));
    uint8_t *suffix = ctx->host->scratch(ctx, 4096), *stack = ctx->host->scratch(ctx, 4096);
    if (!prefix || !suffix || !stack) return -1;
    for (int i = 0; i < 256; i++) prefix[i] = 0xffff, suffix[i] = (uint8_t)i;
    size_t bitpos = 0, o = 0;
    int width = 9, next = 258, prev = -1;
    uint8_t first = 0;
    while (o < want) {
        if (bitpos + (size_t)width > n * 8) break;
        int code = 0;
        for (int b = 0; b < width; b++, bitpos++) code = code << 1 | ((s[bitpos >> 3] >> (7 - (bitpos & 7))) & 1);
        if (code == 257) break;
        if (code == 256) {
            width = 9, next = 258, prev = -1;
            continue;
        }
        int cur = code, sp = 0;
        if (code > next || (code == next && prev < 0)) return 0;
        if (code == next) {
            stack[sp++] = first; /* KwKwK: the new string is prev + its own first byte */
            cur = prev;
        }
        while (cur >= 256) {
            if (sp >= 4095) return 0;
            stack[sp++] = suffix[cur];
            cur = prefix[cur];
        }
        stack[sp++] = (uint8_t)cur;
        first = (uint8_t)cur;
        while (sp && o < want) d[o++] = stack[--sp];
        if (prev >= 0 && next < 4096) prefix[next] = (uint16_t)prev, suffix[next] = first, next++;
        prev = code;
        if (next + 1 >= (1 << width) && width < 12) width++;
    }
    return o == want;
}

static kiln_status tiff_decode(kiln_kernel_ctx *ctx, const uint8_t *s, size_t n, cpu_image *img, kiln_error *err) {
    if (n < 8) return IMG_CORRUPT;
    tiff t = {s, n, s[0] == 'M', 0};
    t.ifd = t32(&t, 4);
    if (t.ifd + 2 > n) return IMG_CORRUPT;
    uint32_t w = tag_or(&t, 256, 0), h = tag_or(&t, 257, 0), spp = tag_or(&t, 277, 1), bits = tag_or(&t, 258, 1);
    uint32_t comp = tag_or(&t, 259, 1), photo = tag_or(&t, 262, 0xffff), planar = tag_or(&t, 284, 1), pred = tag_or(&t, 317, 1);
    uint32_t rps = tag_or(&t, 278, 0xffffffffu), n_strips = 0, v;
    if (tag_or(&t, 322, 0)) return refuse(err, "tiled TIFF images");
    if (planar != 1) return refuse(err, "planar TIFF images");
    if (comp != 1 && comp != 5 && comp != 8 && comp != 32946 && comp != 32773)
        return refuse(err, "TIFF images with this compression (only none, PackBits, LZW and Deflate are)");
    for (uint32_t i = 1; i < spp; i++)
        if (tag_value(&t, 258, i, &v, NULL) && v != bits) return refuse(err, "TIFF images with mixed sample sizes");
    int gray = (photo == 0 || photo == 1) && spp >= 1, rgb = photo == 2 && spp >= 3, pal = photo == 3 && spp == 1;
    if (!gray && !rgb && !pal) return refuse(err, "TIFF images in this color space (only gray, RGB and palette are)");
    if (rgb ? bits != 8 && bits != 16 : bits != 1 && bits != 2 && bits != 4 && bits != 8 && bits != 16)
        return refuse(err, "TIFF images with this sample size");
    if (pred != 1 && !(pred == 2 && bits == 8)) return refuse(err, "TIFF images with this predictor");
    if (!tag_value(&t, 273, 0, &v, &n_strips) || !w || !h) return IMG_CORRUPT;
    /* Raw bytes per stream byte at best: none 1, PackBits 64, LZW 4096 (one code per string), Deflate. */
    int64_t ratio = comp == 1 ? 1 : comp == 32773 ? 64 : comp == 5 ? 4096 : IMG_DEFLATE_RATIO;
    int64_t bits_px = (int64_t)spp * bits;
    KILN_CPU_TRY(cpu_image_alloc(ctx, img, h, w, (int64_t)n * ratio * 8 / bits_px + 8, err));
    size_t rowbytes = ((size_t)w * spp * bits + 7) / 8;
    uint8_t *raw = ctx->host->scratch(ctx, rowbytes * h);
    if (!raw) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
    if (rps > h) rps = h;
    if (!rps || (uint64_t)n_strips * rps < h) return IMG_CORRUPT;
    for (uint32_t k = 0; k * (uint64_t)rps < h; k++) {
        uint32_t so, sc;
        if (!tag_value(&t, 273, k, &so, NULL)) return IMG_CORRUPT;
        if (!tag_value(&t, 279, k, &sc, NULL)) sc = (uint32_t)(n - so < rowbytes * rps ? n - so : rowbytes * rps);
        if (so > n || sc > n - so) return IMG_CORRUPT;
        uint32_t rows = h - k * rps < rps ? h - k * rps : rps;
        size_t want = rowbytes * rows;
        uint8_t *dst = raw + rowbytes * (size_t)k * rps;
        int ok;
        if (comp == 1) ok = sc >= want && (memcpy(dst, s + so, want), 1);
        else if (comp == 32773) ok = packbits(s + so, sc, dst, want);
        else if (comp == 5) ok = lzw(ctx, s + so, sc, dst, want);
        else ok = cpu_zlib_inflate(s + so, sc, dst, want) == KILN_OK;
        if (ok < 0) return cpu_fail(err, KILN_ERR_OUT_OF_MEMORY, "out of memory");
        if (!ok) return IMG_CORRUPT;
    }
    if (pred == 2)
        for (uint32_t y = 0; y < h; y++)
            for (size_t i = spp; i < (size_t)w * spp; i++) raw[y * rowbytes + i] = (uint8_t)(raw[y * rowbytes + i] + raw[y * rowbytes + i - spp]);
    uint32_t pal_n = 0;
    if (pal && (!tag_value(&t, 320, 0, &v, &pal_n) || pal_n < 3u << bits)) return IMG_CORRUPT;
    for (uint32_t y = 0; y < h; y++) {
        const uint8_t *row = raw + rowbytes * y;
        for (uint32_t x = 0; x < w; x++) {
            uint8_t *o = img->rgb + ((size_t)y * w + x) * 3;
            uint32_t sv[3];
            for (uint32_t c = 0; c < (rgb ? 3u : 1u); c++) {
                size_t i = (size_t)x * spp + c;
                if (bits == 16) sv[c] = t.be ? row[2 * i] : row[2 * i + 1]; /* the high byte */
                else if (bits == 8) sv[c] = row[i];
                else sv[c] = (row[(i * bits) >> 3] >> (8 - bits - ((i * bits) & 7))) & ((1u << bits) - 1);
            }
            if (rgb) {
                o[0] = (uint8_t)sv[0], o[1] = (uint8_t)sv[1], o[2] = (uint8_t)sv[2];
            } else if (pal) {
                uint32_t r, g, b;
                uint32_t c = 1u << bits;
                tag_value(&t, 320, sv[0], &r, NULL), tag_value(&t, 320, c + sv[0], &g, NULL), tag_value(&t, 320, 2 * c + sv[0], &b, NULL);
                o[0] = (uint8_t)(r >> 8), o[1] = (uint8_t)(g >> 8), o[2] = (uint8_t)(b >> 8);
            } else {
                uint32_t g = bits < 8 ? sv[0] * 255 / ((1u << bits) - 1) : sv[0];
                if (photo == 0) g = 255 - g;
                o[0] = o[1] = o[2] = (uint8_t)g;
            }
        }
    }
    return KILN_OK;
}

/* ---- the op ---- */

enum { FMT_RGB, FMT_BGR, FMT_GRAY };

typedef struct decoder_kernel {
    cpu_kernel base;
    int format;
} decoder_kernel;

static int starts(const uint8_t *s, size_t n, const char *magic, size_t len) { return n >= len && memcmp(s, magic, len) == 0; }

static kiln_status decode_any(kiln_kernel_ctx *ctx, const uint8_t *s, size_t n, cpu_image *img, kiln_error *err) {
    if (starts(s, n, "\x89PNG\r\n\x1a\n", 8)) return cpu_image_png(ctx, s, n, img, err);
    if (starts(s, n, "\xff\xd8\xff", 3)) return cpu_image_jpeg(ctx, s, n, img, err);
    if (starts(s, n, "BM", 2)) return bmp(ctx, s, n, img, err);
    if (n >= 3 && s[0] == 'P' && s[1] >= '1' && s[1] <= '6' && is_space(s[2])) return pnm(ctx, s, n, img, err);
    if (starts(s, n, "II*\0", 4) || starts(s, n, "MM\0*", 4)) return tiff_decode(ctx, s, n, img, err);
    if (starts(s, n, "II+\0", 4) || starts(s, n, "MM\0+", 4)) return refuse(err, "BigTIFF images");
    if (starts(s, n, "\0\0\0\x0cjP  \r\n\x87\n", 12) || starts(s, n, "\xff\x4f\xff\x51", 4)) return refuse(err, "JPEG 2000 images");
    if (n >= 12 && starts(s, n, "RIFF", 4) && memcmp(s + 8, "WEBP", 4) == 0) return refuse(err, "WebP images");
    if (starts(s, n, "GIF8", 4)) return refuse(err, "GIF images");
    if (starts(s, n, "P7", 2)) return refuse(err, "PAM (P7) images");
    return IMG_CORRUPT;
}

static kiln_status decoder_compute(const cpu_kernel *base, kiln_kernel_ctx *ctx, kiln_error *err) {
    const decoder_kernel *k = (const decoder_kernel *)base;
    const kiln_value_desc *x = cpu_in(ctx, 0);
    if (x->kind != KILN_VALUE_TENSOR || x->dtype != KILN_DTYPE_UINT8)
        return cpu_fail(err, KILN_ERR_SHAPE, "ImageDecoder: the encoded stream must be a uint8 tensor");
    cpu_image img = {0, 0, NULL};
    kiln_status st = decode_any(ctx, x->data, (size_t)x->count, &img, err);
    if (st != KILN_OK && st != IMG_CORRUPT) return st;
    int64_t ch = k->format == FMT_GRAY ? 1 : 3, dims[3] = {st == KILN_OK ? img.h : 0, st == KILN_OK ? img.w : 0, ch};
    kiln_value_desc *y;
    KILN_CPU_TRY(cpu_output(ctx, 0, 3, dims, &y, err));
    if (st != KILN_OK) return KILN_OK; /* damaged stream: an empty image */
    uint8_t *o = y->data;
    const uint8_t *p = img.rgb;
    for (int64_t i = 0; i < img.h * img.w; i++, p += 3) {
        if (k->format == FMT_RGB) o[0] = p[0], o[1] = p[1], o[2] = p[2], o += 3;
        else if (k->format == FMT_BGR) o[0] = p[2], o[1] = p[1], o[2] = p[0], o += 3;
        else *o++ = (uint8_t)((p[0] * 19595u + p[1] * 38470u + p[2] * 7471u + 0x8000u) >> 16);
    }
    return KILN_OK;
}

kiln_status kiln_cpu_image_decoder(const cpu_node *n, cpu_kernel **out, kiln_error *err) {
    const char *f = cpu_attr_str(n, "pixel_format", "RGB");
    int format = strcmp(f, "RGB") == 0 ? FMT_RGB : strcmp(f, "BGR") == 0 ? FMT_BGR : strcmp(f, "Grayscale") == 0 ? FMT_GRAY : -1;
    if (format < 0)
        return cpu_fail(err, KILN_ERR_INVALID_MODEL, "ImageDecoder: pixel_format '%s' is not RGB, BGR or Grayscale", f);
    KILN_CPU_TRY(cpu_kernel_new(n, sizeof(decoder_kernel), decoder_compute, out, err));
    ((decoder_kernel *)*out)->format = format;
    return KILN_OK;
}
