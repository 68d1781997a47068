/* SPDX-License-Identifier: MIT */
/* Image decoding for ImageDecoder: decoders turn a stream into 8-bit RGB in call scratch memory and
 * return KILN_OK, KILN_ERR_UNSUPPORTED (message set) for a format they refuse, IMG_CORRUPT for a
 * damaged stream (the op outputs an empty image), or KILN_ERR_OUT_OF_MEMORY. */
#ifndef KILN_CPU_OPS_IMAGE_H
#define KILN_CPU_OPS_IMAGE_H

#include "providers/cpu/cpu_op.h"

#define IMG_CORRUPT KILN_ERR_INVALID_ARGUMENT
/* Largest image decoded, in pixels (1 GiB of RGB output at most). */
#define IMG_MAX_PIXELS ((int64_t)1 << 28)

typedef struct cpu_image {
    int64_t h, w;
    uint8_t *rgb;  /* h * w * 3 bytes, row-major */
} cpu_image;

/* Allocates img->rgb for h x w pixels. `max_pixels` is the most the stream can hold (from its
 * length and the format's best compression): a header claiming more is damage (IMG_CORRUPT), so a
 * few hostile bytes never cause a large allocation. Sizes above IMG_MAX_PIXELS are refused. */
kiln_status cpu_image_alloc(kiln_kernel_ctx *ctx, cpu_image *img, int64_t h, int64_t w, int64_t max_pixels,
                            kiln_error *err);
/* Best compression ratio of deflate (RFC 1951): one 258-byte match per ~2 bits, plus slack. */
#define IMG_DEFLATE_RATIO 1040

/* Inflates the zlib stream src[0..n) into dst, which must come out exactly `want` bytes. */
kiln_status cpu_zlib_inflate(const uint8_t *src, size_t n, uint8_t *dst, size_t want);

kiln_status cpu_image_png(kiln_kernel_ctx *ctx, const uint8_t *s, size_t n, cpu_image *img, kiln_error *err);
kiln_status cpu_image_jpeg(kiln_kernel_ctx *ctx, const uint8_t *s, size_t n, cpu_image *img, kiln_error *err);

#endif
