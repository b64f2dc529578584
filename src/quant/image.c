/* PNG (with its zlib/deflate stream), BMP and binary PGM/PPM decoding. JPEG is in jpeg.c. */
#include "image.h"

#include <stdlib.h>
#include <string.h>

void lp_image_free(lp_image *img) {
    free(img->px);
    memset(img, 0, sizeof *img);
}

static lp_status bad(lp_err *err, const char *what, const char *why) {
    return lp_err_set(err, LP_ERR_PARSE, "%s: %s", what, why);
}

static lp_status alloc_image(lp_image *img, int w, int h, int ch, const char *what, lp_err *err) {
    if (w <= 0 || h <= 0) return bad(err, what, "image has no pixels");
    if (w > LP_IMAGE_MAX_SIDE || h > LP_IMAGE_MAX_SIDE || (int64_t)w * h > LP_IMAGE_MAX_PIXELS)
        return lp_err_set(err, LP_ERR_LIMIT, "%s: image of %d x %d pixels is larger than liteport reads (%d per side, %lld pixels)",
                          what, w, h, LP_IMAGE_MAX_SIDE, (long long)LP_IMAGE_MAX_PIXELS);
    img->px = malloc((size_t)w * (size_t)h * (size_t)ch);
    if (!img->px) return lp_err_set(err, LP_ERR_NOMEM, "out of memory for image %s", what);
    img->w = w;
    img->h = h;
    img->channels = ch;
    return LP_OK;
}

/* ---------------- inflate (RFC 1950/1951) ---------------- */

typedef struct bitrd {
    const uint8_t *p;
    size_t n, pos;
    uint32_t buf;
    int cnt;
    int eof;
} bitrd;

static uint32_t getbits(bitrd *b, int k) {
    while (b->cnt < k) {
        if (b->pos >= b->n) {
            b->eof = 1;
            return 0;
        }
        b->buf |= (uint32_t)b->p[b->pos++] << b->cnt;
        b->cnt += 8;
    }
    uint32_t v = b->buf & ((1u << k) - 1);
    b->buf >>= k;
    b->cnt -= k;
    return v;
}

typedef struct huff {
    uint16_t count[16];  /* codes of each length */
    uint16_t sym[320];   /* symbols in canonical order */
} huff;

/* 0 on success; -1 when over-subscribed. Incomplete codes are allowed (decoding fails on the
 * missing codes). */
static int huff_build(huff *h, const uint8_t *len, int n) {
    memset(h->count, 0, sizeof h->count);
    for (int i = 0; i < n; i++) h->count[len[i]]++;
    h->count[0] = 0;
    int left = 1;
    for (int l = 1; l < 16; l++) {
        left <<= 1;
        left -= h->count[l];
        if (left < 0) return -1;
    }
    uint16_t offs[16];
    offs[1] = 0;
    for (int l = 1; l < 15; l++) offs[l + 1] = (uint16_t)(offs[l] + h->count[l]);
    for (int i = 0; i < n; i++)
        if (len[i]) h->sym[offs[len[i]]++] = (uint16_t)i;
    return 0;
}

static int huff_decode(bitrd *b, const huff *h) {
    int code = 0, first = 0, index = 0;
    for (int l = 1; l < 16; l++) {
        code |= (int)getbits(b, 1);
        if (b->eof) return -1;
        int c = h->count[l];
        if (code - first < c) return h->sym[index + code - first];
        index += c;
        first += c;
        first <<= 1;
        code <<= 1;
    }
    return -1;
}

static const uint16_t len_base[29] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27,
                                      31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t len_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint16_t dist_base[30] = {1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129,
                                       193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const uint8_t dist_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

static const char *inflate_codes(bitrd *b, const huff *lh, const huff *dh, uint8_t *out, size_t cap, size_t *at) {
    for (;;) {
        int s = huff_decode(b, lh);
        if (s < 0) return "corrupt compressed data (bad literal/length code)";
        if (s < 256) {
            if (*at >= cap) return "decompressed data is longer than the image";
            out[(*at)++] = (uint8_t)s;
        } else if (s == 256) {
            return NULL;
        } else {
            s -= 257;
            if (s >= 29) return "corrupt compressed data (bad length)";
            size_t len = len_base[s] + getbits(b, len_extra[s]);
            int d = huff_decode(b, dh);
            if (d < 0 || d >= 30) return "corrupt compressed data (bad distance code)";
            size_t dist = dist_base[d] + getbits(b, dist_extra[d]);
            if (b->eof) return "compressed data is truncated";
            if (dist > *at) return "corrupt compressed data (distance before the start)";
            if (len > cap - *at) return "decompressed data is longer than the image";
            for (size_t i = 0; i < len; i++, (*at)++) out[*at] = out[*at - dist];
        }
    }
}

const char *lp_inflate_zlib(const uint8_t *in, size_t n, uint8_t *out, size_t out_size) {
    if (n < 2) return "compressed data is truncated";
    if ((in[0] & 15) != 8 || ((in[0] << 8) | in[1]) % 31) return "not a zlib stream";
    if (in[1] & 0x20) return "zlib preset dictionaries are not supported";
    bitrd b = {in + 2, n - 2, 0, 0, 0, 0};
    size_t at = 0;
    huff lh, dh;
    int last;
    do {
        last = (int)getbits(&b, 1);
        int type = (int)getbits(&b, 2);
        if (b.eof) return "compressed data is truncated";
        if (type == 0) {
            b.buf = 0;
            b.cnt = 0;
            if (b.pos + 4 > b.n) return "compressed data is truncated";
            size_t len = b.p[b.pos] | (size_t)b.p[b.pos + 1] << 8;
            size_t nlen = b.p[b.pos + 2] | (size_t)b.p[b.pos + 3] << 8;
            b.pos += 4;
            if (len != (~nlen & 0xffff)) return "corrupt compressed data (stored block length)";
            if (len > b.n - b.pos) return "compressed data is truncated";
            if (len > out_size - at) return "decompressed data is longer than the image";
            memcpy(out + at, b.p + b.pos, len);
            at += len;
            b.pos += len;
        } else if (type == 1) {
            uint8_t l[320];
            int i = 0;
            for (; i < 144; i++) l[i] = 8;
            for (; i < 256; i++) l[i] = 9;
            for (; i < 280; i++) l[i] = 7;
            for (; i < 288; i++) l[i] = 8;
            huff_build(&lh, l, 288);
            for (i = 0; i < 30; i++) l[i] = 5;
            huff_build(&dh, l, 30);
            const char *e = inflate_codes(&b, &lh, &dh, out, out_size, &at);
            if (e) return e;
        } else if (type == 2) {
            static const uint8_t order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
            int nlit = (int)getbits(&b, 5) + 257, ndist = (int)getbits(&b, 5) + 1, ncode = (int)getbits(&b, 4) + 4;
            if (b.eof) return "compressed data is truncated";
            if (nlit > 286 || ndist > 30) return "corrupt compressed data (code counts)";
            uint8_t l[320] = {0};
            for (int i = 0; i < ncode; i++) l[order[i]] = (uint8_t)getbits(&b, 3);
            huff ch;
            if (huff_build(&ch, l, 19) < 0) return "corrupt compressed data (code-length code)";
            int i = 0;
            while (i < nlit + ndist) {
                int s = huff_decode(&b, &ch);
                if (s < 0) return "corrupt compressed data (code lengths)";
                if (s < 16) {
                    l[i++] = (uint8_t)s;
                    continue;
                }
                int rep, val = 0;
                if (s == 16) {
                    if (i == 0) return "corrupt compressed data (repeat with no previous length)";
                    val = l[i - 1];
                    rep = 3 + (int)getbits(&b, 2);
                } else if (s == 17) {
                    rep = 3 + (int)getbits(&b, 3);
                } else {
                    rep = 11 + (int)getbits(&b, 7);
                }
                if (i + rep > nlit + ndist) return "corrupt compressed data (too many lengths)";
                while (rep--) l[i++] = (uint8_t)val;
            }
            if (b.eof) return "compressed data is truncated";
            if (l[256] == 0) return "corrupt compressed data (no end-of-block code)";
            if (huff_build(&lh, l, nlit) < 0 || huff_build(&dh, l + nlit, ndist) < 0)
                return "corrupt compressed data (over-subscribed code)";
            const char *e = inflate_codes(&b, &lh, &dh, out, out_size, &at);
            if (e) return e;
        } else {
            return "corrupt compressed data (block type 3)";
        }
    } while (!last);
    if (at != out_size) return "decompressed data is shorter than the image";
    return NULL;
}

/* ---------------- PNG ---------------- */

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

static int paeth(int a, int b, int c) {
    int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    if (pa <= pb && pa <= pc) return a;
    return pb <= pc ? b : c;
}

static lp_status png_decode(lp_image *img, const uint8_t *d, size_t n, const char *what, lp_err *err) {
    size_t pos = 8;
    uint32_t w = 0, h = 0;
    int depth = 0, ctype = -1, have_ihdr = 0;
    uint8_t pal[256 * 4];
    int npal = 0;
    memset(pal, 255, sizeof pal);
    /* IDAT chunks are concatenated into one buffer */
    uint8_t *z = NULL;
    size_t zn = 0, zcap = 0;
    lp_status st = LP_OK;
    int ended = 0;
    while (!ended) {
        if (n - pos < 12) {
            st = bad(err, what, "truncated PNG (no IEND chunk)");
            goto done;
        }
        uint32_t len = be32(d + pos);
        const uint8_t *type = d + pos + 4, *body = d + pos + 8;
        if (len > n - pos - 12) {
            st = bad(err, what, "truncated PNG chunk");
            goto done;
        }
        if (!memcmp(type, "IHDR", 4)) {
            if (len < 13) {
                st = bad(err, what, "short IHDR");
                goto done;
            }
            w = be32(body);
            h = be32(body + 4);
            depth = body[8];
            ctype = body[9];
            if (body[10] || body[11]) {
                st = bad(err, what, "unknown PNG compression or filter method");
                goto done;
            }
            if (body[12]) {
                st = lp_err_set(err, LP_ERR_UNSUPPORTED, "%s: interlaced PNG is not supported; save it without interlacing",
                                what);
                goto done;
            }
            int ok = (ctype == 0 && (depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16)) ||
                     (ctype == 3 && (depth == 1 || depth == 2 || depth == 4 || depth == 8)) ||
                     ((ctype == 2 || ctype == 4 || ctype == 6) && (depth == 8 || depth == 16));
            if (!ok) {
                st = bad(err, what, "invalid PNG colour type / bit depth");
                goto done;
            }
            have_ihdr = 1;
        } else if (!memcmp(type, "PLTE", 4)) {
            if (len % 3 || len > 768) {
                st = bad(err, what, "bad PNG palette");
                goto done;
            }
            npal = (int)(len / 3);
            for (int i = 0; i < npal; i++) memcpy(pal + 4 * i, body + 3 * i, 3);
        } else if (!memcmp(type, "tRNS", 4)) {
            if (ctype == 3)
                for (uint32_t i = 0; i < len && i < 256; i++) pal[4 * i + 3] = body[i];
        } else if (!memcmp(type, "IDAT", 4)) {
            if (zn + len > zcap) {
                size_t nc = zcap ? zcap : 65536;
                while (nc < zn + len) nc *= 2;
                uint8_t *q = realloc(z, nc);
                if (!q) {
                    st = lp_err_set(err, LP_ERR_NOMEM, "out of memory reading %s", what);
                    goto done;
                }
                z = q;
                zcap = nc;
            }
            memcpy(z + zn, body, len);
            zn += len;
        } else if (!memcmp(type, "IEND", 4)) {
            ended = 1;
        } else if (!(type[0] & 0x20)) {
            st = bad(err, what, "unknown critical PNG chunk");
            goto done;
        }
        pos += 12 + (size_t)len;
    }
    if (!have_ihdr || !zn) {
        st = bad(err, what, "PNG without IHDR or image data");
        goto done;
    }
    if (ctype == 3 && !npal) {
        st = bad(err, what, "palette PNG without a palette");
        goto done;
    }
    {
        int spp = ctype == 0 ? 1 : ctype == 2 ? 3 : ctype == 3 ? 1 : ctype == 4 ? 2 : 4; /* samples per pixel */
        int out_ch = ctype == 3 ? 4 : spp;
        st = alloc_image(img, (int)(w > INT32_MAX ? 0 : w), (int)(h > INT32_MAX ? 0 : h), out_ch, what, err);
        if (st != LP_OK) goto done;
        size_t stride = ((size_t)w * (size_t)spp * (size_t)depth + 7) / 8;
        size_t bpp = ((size_t)spp * (size_t)depth + 7) / 8;
        size_t raw_n = (stride + 1) * h;
        uint8_t *raw = malloc(raw_n);
        if (!raw) {
            st = lp_err_set(err, LP_ERR_NOMEM, "out of memory reading %s", what);
            goto done;
        }
        const char *e = lp_inflate_zlib(z, zn, raw, raw_n);
        if (e) {
            free(raw);
            st = bad(err, what, e);
            goto done;
        }
        /* unfilter in place: row y at raw + y*(stride+1) + 1 */
        for (uint32_t y = 0; y < h; y++) {
            uint8_t *row = raw + (size_t)y * (stride + 1);
            int f = row[0];
            uint8_t *cur = row + 1, *prev = y ? raw + (size_t)(y - 1) * (stride + 1) + 1 : NULL;
            if (f > 4) {
                free(raw);
                st = bad(err, what, "bad PNG filter type");
                goto done;
            }
            for (size_t i = 0; i < stride; i++) {
                int a = i >= bpp ? cur[i - bpp] : 0, b = prev ? prev[i] : 0, c = (prev && i >= bpp) ? prev[i - bpp] : 0;
                int p = f == 1 ? a : f == 2 ? b : f == 3 ? (a + b) / 2 : f == 4 ? paeth(a, b, c) : 0;
                cur[i] = (uint8_t)(cur[i] + p);
            }
        }
        for (uint32_t y = 0; y < h; y++) {
            const uint8_t *cur = raw + (size_t)y * (stride + 1) + 1;
            uint8_t *o = img->px + (size_t)y * w * (size_t)out_ch;
            for (uint32_t x = 0; x < w; x++)
                for (int s = 0; s < spp; s++) {
                    int v;
                    size_t k = (size_t)x * (size_t)spp + (size_t)s;
                    if (depth == 8) v = cur[k];
                    else if (depth == 16) v = cur[2 * k]; /* high byte */
                    else {
                        size_t bit = k * (size_t)depth;
                        v = (cur[bit / 8] >> (8 - depth - (int)(bit % 8))) & ((1 << depth) - 1);
                        if (ctype == 0) v = v * 255 / ((1 << depth) - 1);
                    }
                    if (ctype == 3) {
                        if (v >= npal) {
                            free(raw);
                            st = bad(err, what, "PNG palette index out of range");
                            goto done;
                        }
                        memcpy(o + 4 * (size_t)x, pal + 4 * v, 4);
                    } else {
                        o[(size_t)x * (size_t)spp + (size_t)s] = (uint8_t)v;
                    }
                }
        }
        free(raw);
    }
done:
    free(z);
    if (st != LP_OK) lp_image_free(img);
    return st;
}

/* ---------------- BMP ---------------- */

static uint32_t le32(const uint8_t *p) { return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static lp_status bmp_decode(lp_image *img, const uint8_t *d, size_t n, const char *what, lp_err *err) {
    if (n < 54) return bad(err, what, "truncated BMP header");
    uint32_t off = le32(d + 10), dib = le32(d + 14);
    if (dib < 40 || dib > n - 14) return bad(err, what, "unsupported BMP header");
    int32_t w = (int32_t)le32(d + 18), hh = (int32_t)le32(d + 22);
    int bpp = le16(d + 28);
    uint32_t comp = le32(d + 30), ncolors = le32(d + 46);
    if (comp != 0 && !(comp == 3 && bpp == 32))
        return lp_err_set(err, LP_ERR_UNSUPPORTED, "%s: compressed BMP is not supported", what);
    if (bpp != 8 && bpp != 24 && bpp != 32)
        return lp_err_set(err, LP_ERR_UNSUPPORTED, "%s: %d-bit BMP is not supported (8, 24 and 32 are)", what, bpp);
    if (hh == INT32_MIN || w <= 0) return bad(err, what, "bad BMP size");
    int top_down = hh < 0;
    int h = top_down ? -hh : hh;
    lp_status st = alloc_image(img, w, h, 3, what, err);
    if (st != LP_OK) return st;
    size_t stride = (((size_t)w * (size_t)bpp + 31) / 32) * 4;
    if (off > n || stride * (size_t)h > n - off) {
        lp_image_free(img);
        return bad(err, what, "truncated BMP pixel data");
    }
    const uint8_t *pal = d + 14 + dib;
    uint32_t npal = ncolors ? ncolors : 256;
    if (bpp == 8 && (npal > 256 || (size_t)(pal - d) + 4 * (size_t)npal > off)) {
        lp_image_free(img);
        return bad(err, what, "bad BMP palette");
    }
    for (int y = 0; y < h; y++) {
        const uint8_t *row = d + off + stride * (size_t)(top_down ? y : h - 1 - y);
        uint8_t *o = img->px + (size_t)y * (size_t)w * 3;
        for (int x = 0; x < w; x++) {
            const uint8_t *p;
            if (bpp == 8) {
                if (row[x] >= npal) {
                    lp_image_free(img);
                    return bad(err, what, "BMP palette index out of range");
                }
                p = pal + 4 * row[x];
            } else {
                p = row + (size_t)x * (size_t)(bpp / 8);
            }
            o[3 * x] = p[2];
            o[3 * x + 1] = p[1];
            o[3 * x + 2] = p[0];
        }
    }
    return LP_OK;
}

/* ---------------- PGM / PPM (binary) ---------------- */

static int pnm_int(const uint8_t *d, size_t n, size_t *pos, long *out) {
    for (;;) {
        while (*pos < n && (d[*pos] == ' ' || d[*pos] == '\t' || d[*pos] == '\n' || d[*pos] == '\r')) (*pos)++;
        if (*pos < n && d[*pos] == '#') {
            while (*pos < n && d[*pos] != '\n') (*pos)++;
            continue;
        }
        break;
    }
    long v = 0;
    int digits = 0;
    while (*pos < n && d[*pos] >= '0' && d[*pos] <= '9' && digits < 9) {
        v = v * 10 + (d[*pos] - '0');
        (*pos)++;
        digits++;
    }
    *out = v;
    return digits > 0 && digits < 9;
}

static lp_status pnm_decode(lp_image *img, const uint8_t *d, size_t n, const char *what, lp_err *err) {
    int ch = d[1] == '5' ? 1 : 3;
    size_t pos = 2;
    long w, h, maxv;
    if (!pnm_int(d, n, &pos, &w) || !pnm_int(d, n, &pos, &h) || !pnm_int(d, n, &pos, &maxv) || maxv < 1 || maxv > 65535)
        return bad(err, what, "bad PGM/PPM header");
    if (pos >= n) return bad(err, what, "truncated PGM/PPM");
    pos++; /* the single whitespace after maxval */
    lp_status st = alloc_image(img, (int)w, (int)h, ch, what, err);
    if (st != LP_OK) return st;
    size_t bps = maxv > 255 ? 2 : 1, count = (size_t)w * (size_t)h * (size_t)ch;
    if (count * bps > n - pos) {
        lp_image_free(img);
        return bad(err, what, "truncated PGM/PPM pixel data");
    }
    for (size_t i = 0; i < count; i++) {
        long v = bps == 2 ? (d[pos + 2 * i] << 8 | d[pos + 2 * i + 1]) : d[pos + i];
        if (v > maxv) v = maxv;
        img->px[i] = (uint8_t)((v * 255 + maxv / 2) / maxv);
    }
    return LP_OK;
}

int lp_image_sniff(const uint8_t *d, size_t n) {
    if (n >= 8 && !memcmp(d, "\x89PNG\r\n\x1a\n", 8)) return 1;
    if (n >= 2 && d[0] == 'B' && d[1] == 'M') return 1;
    if (n >= 2 && d[0] == 'P' && (d[1] == '5' || d[1] == '6')) return 1;
    if (n >= 3 && d[0] == 0xff && d[1] == 0xd8 && d[2] == 0xff) return 1;
    return 0;
}

lp_status lp_image_decode(lp_image *img, const uint8_t *d, size_t n, const char *what, lp_err *err) {
    memset(img, 0, sizeof *img);
    if (n >= 8 && !memcmp(d, "\x89PNG\r\n\x1a\n", 8)) return png_decode(img, d, n, what, err);
    if (n >= 2 && d[0] == 'B' && d[1] == 'M') return bmp_decode(img, d, n, what, err);
    if (n >= 2 && d[0] == 'P' && (d[1] == '5' || d[1] == '6')) return pnm_decode(img, d, n, what, err);
    if (n >= 3 && d[0] == 0xff && d[1] == 0xd8 && d[2] == 0xff) return lp_jpeg_decode(img, d, n, what, err);
    return bad(err, what, "not a PNG, BMP, PGM/PPM or JPEG image");
}
