/* Image decoding for calibration data: PNG (non-interlaced, all colour types and bit depths),
 * BMP (uncompressed 8/24/32-bit), binary PGM/PPM and baseline JPEG. Input bytes are hostile:
 * every length is checked, sizes are capped, and a bad file is an error that says what is wrong. */
#ifndef LP_IMAGE_H
#define LP_IMAGE_H

#include "../base/base.h"

#define LP_IMAGE_MAX_SIDE 16384
#define LP_IMAGE_MAX_PIXELS ((int64_t)1 << 26)

typedef struct lp_image {
    int w, h;
    int channels;   /* 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA */
    uint8_t *px;    /* h * w * channels bytes, row-major (malloc) */
} lp_image;

/* Decode a PNG / BMP / PGM / PPM / JPEG held in memory; the format is recognised by its
 * signature. `what` names the file in messages. On failure *img is empty. */
lp_status lp_image_decode(lp_image *img, const uint8_t *data, size_t size, const char *what, lp_err *err);
void lp_image_free(lp_image *img);

/* 1 when the bytes start like an image this decoder knows */
int lp_image_sniff(const uint8_t *data, size_t size);

/* zlib stream -> exactly `out_size` bytes (PNG). 0 on success, else a static message. */
const char *lp_inflate_zlib(const uint8_t *in, size_t n, uint8_t *out, size_t out_size);

/* baseline JPEG (jpeg.c) */
lp_status lp_jpeg_decode(lp_image *img, const uint8_t *data, size_t size, const char *what, lp_err *err);

#endif
