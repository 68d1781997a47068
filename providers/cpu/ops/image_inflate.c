/* SPDX-License-Identifier: MIT */
/* zlib/DEFLATE decoding (RFC 1950, RFC 1951) for PNG and deflate-compressed TIFF: stored,
 * fixed-Huffman and dynamic-Huffman blocks, canonical codes decoded one bit at a time. Every
 * read is bounds-checked; damaged input gives IMG_CORRUPT. */
#include <string.h>

#include "providers/cpu/ops/image.h"

typedef struct bits {
    const uint8_t *s;
    size_t n, pos;    /* byte position */
    uint32_t buf, nb; /* bit buffer, LSB first */
    int bad;
} bits;

static uint32_t need(bits *b, uint32_t count) {
    while (b->nb < count) {
        if (b->pos >= b->n) {
            b->bad = 1;
            return 0;
        }
        b->buf |= (uint32_t)b->s[b->pos++] << b->nb;
        b->nb += 8;
    }
    uint32_t v = count ? b->buf & ((1u << count) - 1) : 0;
    b->buf = count == 32 ? 0 : b->buf >> count;
    b->nb -= count;
    return v;
}

/* A canonical Huffman code: counts per length and symbols in code order. */
typedef struct huff {
    uint16_t count[16];
    uint16_t sym[320];
} huff;

/* Builds the code from `n` lengths; 0 when a length set is over-subscribed. */
static int build(huff *h, const uint8_t *len, uint32_t n) {
    uint16_t offs[16];
    memset(h->count, 0, sizeof(h->count));
    for (uint32_t i = 0; i < n; i++) h->count[len[i]]++;
    int left = 1;
    for (int l = 1; l < 16; l++) {
        left = left * 2 - h->count[l];
        if (left < 0) return 0;
    }
    offs[1] = 0;
    for (int l = 1; l < 15; l++) offs[l + 1] = (uint16_t)(offs[l] + h->count[l]);
    for (uint32_t i = 0; i < n; i++)
        if (len[i]) h->sym[offs[len[i]]++] = (uint16_t)i;
    return 1;
}

static int decode(bits *b, const huff *h) {
    int code = 0, first = 0, index = 0;
    for (int l = 1; l < 16; l++) {
        code |= (int)need(b, 1);
        if (b->bad) return -1;
        int count = h->count[l];
        if (code - first < count) return h->sym[index + code - first];
        index += count;
        first = (first + count) << 1;
        code <<= 1;
    }
    return -1;
}

static const uint16_t LEN_BASE[29] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
                                      35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t LEN_EXTRA[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint16_t DIST_BASE[30] = {1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
                                       257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const uint8_t DIST_EXTRA[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
                                       7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

/* Decodes literal/length and distance symbols until end of block. */
static int codes(bits *b, const huff *lit, const huff *dist, uint8_t *dst, size_t want, size_t *out) {
    for (;;) {
        int sym = decode(b, lit);
        if (sym < 0) return 0;
        if (sym < 256) {
            if (*out >= want) return 0;
            dst[(*out)++] = (uint8_t)sym;
        } else if (sym == 256) {
            return 1;
        } else {
            sym -= 257;
            if (sym >= 29) return 0;
            size_t len = LEN_BASE[sym] + need(b, LEN_EXTRA[sym]);
            int ds = decode(b, dist);
            if (ds < 0 || ds >= 30 || b->bad) return 0;
            size_t d = DIST_BASE[ds] + need(b, DIST_EXTRA[ds]);
            if (b->bad || d > *out || len > want - *out) return 0;
            for (size_t i = 0; i < len; i++, (*out)++) dst[*out] = dst[*out - d]; /* may overlap */
        }
    }
}

static int dynamic(bits *b, huff *lit, huff *dist) {
    static const uint8_t ORDER[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
    uint8_t len[320];
    uint32_t nlen = need(b, 5) + 257, ndist = need(b, 5) + 1, ncode = need(b, 4) + 4;
    if (b->bad || nlen > 286 || ndist > 30) return 0;
    memset(len, 0, sizeof(len));
    for (uint32_t i = 0; i < ncode; i++) len[ORDER[i]] = (uint8_t)need(b, 3);
    huff lencode;
    if (b->bad || !build(&lencode, len, 19)) return 0;
    uint32_t i = 0;
    while (i < nlen + ndist) {
        int sym = decode(b, &lencode);
        if (sym < 0) return 0;
        if (sym < 16) {
            len[i++] = (uint8_t)sym;
            continue;
        }
        uint8_t v = 0;
        uint32_t rep;
        if (sym == 16) {
            if (i == 0) return 0;
            v = len[i - 1];
            rep = 3 + need(b, 2);
        } else if (sym == 17) {
            rep = 3 + need(b, 3);
        } else {
            rep = 11 + need(b, 7);
        }
        if (b->bad || i + rep > nlen + ndist) return 0;
        while (rep--) len[i++] = v;
    }
    if (len[256] == 0) return 0; /* no end-of-block code */
    return build(lit, len, nlen) && build(dist, len + nlen, ndist);
}

kiln_status cpu_zlib_inflate(const uint8_t *src, size_t n, uint8_t *dst, size_t want) {
    if (n < 6 || (src[0] & 0x0f) != 8 || (src[0] >> 4) > 7 || ((src[0] << 8) | src[1]) % 31 != 0 || (src[1] & 0x20))
        return IMG_CORRUPT;
    bits b = {src, n, 2, 0, 0, 0};
    size_t out = 0;
    huff lit, dist;
    int last;
    do {
        last = (int)need(&b, 1);
        uint32_t type = need(&b, 2);
        if (b.bad) return IMG_CORRUPT;
        if (type == 0) {
            b.buf = 0, b.nb = 0; /* to the byte boundary */
            if (b.pos + 4 > b.n) return IMG_CORRUPT;
            size_t len = b.s[b.pos] | (size_t)b.s[b.pos + 1] << 8, nlen = b.s[b.pos + 2] | (size_t)b.s[b.pos + 3] << 8;
            b.pos += 4;
            if ((len ^ 0xffff) != nlen || len > b.n - b.pos || len > want - out) return IMG_CORRUPT;
            memcpy(dst + out, b.s + b.pos, len);
            b.pos += len, out += len;
        } else if (type == 1) {
            uint8_t len[320];
            memset(len, 8, 144);
            memset(len + 144, 9, 112);
            memset(len + 256, 7, 24);
            memset(len + 280, 8, 8);
            build(&lit, len, 288);
            memset(len, 5, 30);
            build(&dist, len, 30);
            if (!codes(&b, &lit, &dist, dst, want, &out)) return IMG_CORRUPT;
        } else if (type == 2) {
            if (!dynamic(&b, &lit, &dist) || !codes(&b, &lit, &dist, dst, want, &out)) return IMG_CORRUPT;
        } else {
            return IMG_CORRUPT;
        }
    } while (!last);
    if (out != want) return IMG_CORRUPT;
    /* Adler-32 of the output: the 4 bytes after the deflate data (bits left in the buffer belong
     * to the last byte read). */
    if (b.pos + 4 > n) return IMG_CORRUPT;
    uint32_t a = 1, c = 0;
    for (size_t i = 0; i < out; i++) {
        a = (a + dst[i]) % 65521;
        c = (c + a) % 65521;
    }
    const uint8_t *t = src + b.pos;
    uint32_t want_sum = (uint32_t)t[0] << 24 | (uint32_t)t[1] << 16 | (uint32_t)t[2] << 8 | t[3];
    return ((c << 16) | a) == want_sum ? KILN_OK : IMG_CORRUPT;
}
