/* Baseline JPEG decoding (ITU T.81: sequential DCT, Huffman coding, 8-bit samples), enough for
 * calibration photos: gray or YCbCr (JFIF; Adobe RGB), any sampling factors up to 4, restart
 * intervals. Subsampled chroma is interpolated between sample centres and the IDCT is the plain
 * float one, so pixels may differ from libjpeg's by a level or two. Progressive and arithmetic-coded files are refused. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"

typedef struct jhuff {
    uint8_t vals[256];
    int maxcode[18];  /* largest code of each length, -1 if none */
    int valptr[17];   /* index into vals of the first code of each length */
    int mincode[17];
    int present;
} jhuff;

typedef struct jcomp {
    int id, h, v, tq, td, ta;
    int bw, bh;          /* blocks across / down (over whole MCUs) */
    uint8_t *pix;        /* bw*8 x bh*8 samples */
    int dc_pred;
} jcomp;

typedef struct jdec {
    const uint8_t *d;
    size_t n, pos;
    uint32_t bits;
    int nbits;
    int marker_hit;      /* a marker was met inside entropy-coded data */
    uint16_t q[4][64];
    int q_present[4];
    jhuff dc[4], ac[4];
    jcomp comp[3];
    int ncomp;
    int w, h, hmax, vmax;
    int restart;
    int adobe, adobe_transform;
    const char *what;
    lp_err *err;
} jdec;

static const uint8_t zigzag[64] = {0,  1,  8,  16, 9,  2,  3,  10, 17, 24, 32, 25, 18, 11, 4,  5,
                                   12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6,  7,  14, 21, 28,
                                   35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
                                   58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63};

static lp_status jbad(jdec *j, const char *why) { return lp_err_set(j->err, LP_ERR_PARSE, "%s: %s", j->what, why); }

static int build_huff(jhuff *h, const uint8_t *counts, const uint8_t *vals, int nvals) {
    memcpy(h->vals, vals, (size_t)nvals);
    int code = 0, k = 0;
    for (int l = 1; l <= 16; l++) {
        h->valptr[l] = k;
        h->mincode[l] = code;
        code += counts[l - 1];
        k += counts[l - 1];
        h->maxcode[l] = counts[l - 1] ? code - 1 : -1;
        if (code > (1 << l)) return 0;
        code <<= 1;
    }
    h->maxcode[17] = INT32_MAX;
    h->present = 1;
    return 1;
}

/* next bit of entropy-coded data; stuffed zero bytes are skipped, a marker ends the data (zeros follow) */
static int getbit(jdec *j) {
    if (j->nbits == 0) {
        uint8_t b = 0;
        if (!j->marker_hit && j->pos < j->n) {
            b = j->d[j->pos];
            if (b == 0xff) {
                uint8_t nx = j->pos + 1 < j->n ? j->d[j->pos + 1] : 0;
                if (nx == 0) j->pos += 2;
                else {
                    j->marker_hit = 1;
                    b = 0;
                }
            } else {
                j->pos++;
            }
        }
        j->bits = b;
        j->nbits = 8;
    }
    j->nbits--;
    return (int)((j->bits >> j->nbits) & 1);
}

static int getbits(jdec *j, int k) {
    int v = 0;
    for (int i = 0; i < k; i++) v = (v << 1) | getbit(j);
    return v;
}

static int decode_huff(jdec *j, const jhuff *h) {
    int code = 0;
    for (int l = 1; l <= 16; l++) {
        code = (code << 1) | getbit(j);
        if (h->maxcode[l] >= 0 && code <= h->maxcode[l]) {
            int k = h->valptr[l] + code - h->mincode[l];
            return k < 256 ? h->vals[k] : -1;
        }
    }
    return -1;
}

static int extend(int v, int t) { return t && v < (1 << (t - 1)) ? v - (1 << t) + 1 : v; }

static float idct_cos[8][8]; /* idct_cos[x][u] = c(u) cos((2x+1)u pi / 16) / 2 */
static int idct_ready;

static void idct_init(void) {
    if (idct_ready) return;
    for (int x = 0; x < 8; x++)
        for (int u = 0; u < 8; u++)
            idct_cos[x][u] = (float)((u ? 1.0 : 1.0 / sqrt(2.0)) * cos((2 * x + 1) * u * 3.14159265358979323846 / 16) / 2);
    idct_ready = 1;
}

static void idct_block(const float *coef, uint8_t *out, int stride) {
    float tmp[64];
    for (int y = 0; y < 8; y++)       /* rows: tmp[y][u] over v */
        for (int u = 0; u < 8; u++) {
            float s = 0;
            for (int v = 0; v < 8; v++) s += idct_cos[y][v] * coef[v * 8 + u];
            tmp[y * 8 + u] = s;
        }
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 8; x++) {
            float s = 0;
            for (int u = 0; u < 8; u++) s += idct_cos[x][u] * tmp[y * 8 + u];
            int v = (int)lrintf(s + 128.0f);
            out[y * stride + x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
}

static lp_status decode_block(jdec *j, jcomp *c, uint8_t *out, int stride) {
    float coef[64] = {0};
    const uint16_t *q = j->q[c->tq];
    int t = decode_huff(j, &j->dc[c->td]);
    if (t < 0 || t > 11) return jbad(j, "corrupt JPEG data (DC code)");
    int diff = extend(getbits(j, t), t);
    c->dc_pred += diff;
    coef[0] = (float)(c->dc_pred * q[0]);
    for (int k = 1; k < 64;) {
        int rs = decode_huff(j, &j->ac[c->ta]);
        if (rs < 0) return jbad(j, "corrupt JPEG data (AC code)");
        int r = rs >> 4, s = rs & 15;
        if (!s) {
            if (r != 15) break;
            k += 16;
            continue;
        }
        k += r;
        if (k > 63) return jbad(j, "corrupt JPEG data (coefficient index)");
        coef[zigzag[k]] = (float)(extend(getbits(j, s), s) * q[k]);
        k++;
    }
    idct_block(coef, out, stride);
    return LP_OK;
}

static lp_status read_scan(jdec *j, const uint8_t *seg, size_t len) {
    if (len < 1) return jbad(j, "short SOS");
    int ns = seg[0];
    if (ns != j->ncomp || len < (size_t)(1 + 2 * ns + 3))
        return lp_err_set(j->err, LP_ERR_UNSUPPORTED, "%s: JPEG with several scans (non-interleaved) is not supported", j->what);
    for (int i = 0; i < ns; i++) {
        int id = seg[1 + 2 * i], tb = seg[2 + 2 * i];
        jcomp *c = NULL;
        for (int k = 0; k < j->ncomp; k++)
            if (j->comp[k].id == id) c = &j->comp[k];
        if (!c) return jbad(j, "SOS names an unknown component");
        c->td = tb >> 4;
        c->ta = tb & 15;
        if (c->td > 3 || c->ta > 3 || !j->dc[c->td].present || !j->ac[c->ta].present || !j->q_present[c->tq])
            return jbad(j, "SOS uses a missing Huffman or quantization table");
        c->dc_pred = 0;
    }
    int mcux = (j->w + 8 * j->hmax - 1) / (8 * j->hmax), mcuy = (j->h + 8 * j->vmax - 1) / (8 * j->vmax);
    j->bits = 0;
    j->nbits = 0;
    j->marker_hit = 0;
    int todo = j->restart;
    for (int my = 0; my < mcuy; my++)
        for (int mx = 0; mx < mcux; mx++) {
            if (j->restart && todo == 0) {
                /* expect RSTn: skip to it */
                j->nbits = 0;
                while (j->pos + 1 < j->n && !(j->d[j->pos] == 0xff && j->d[j->pos + 1] >= 0xd0 && j->d[j->pos + 1] <= 0xd7))
                    j->pos++;
                if (j->pos + 1 >= j->n) return jbad(j, "truncated JPEG (missing restart marker)");
                j->pos += 2;
                j->marker_hit = 0;
                for (int k = 0; k < j->ncomp; k++) j->comp[k].dc_pred = 0;
                todo = j->restart;
            }
            for (int k = 0; k < j->ncomp; k++) {
                jcomp *c = &j->comp[k];
                int stride = c->bw * 8;
                for (int by = 0; by < c->v; by++)
                    for (int bx = 0; bx < c->h; bx++) {
                        int x0 = (mx * c->h + bx) * 8, y0 = (my * c->v + by) * 8;
                        lp_status st = decode_block(j, c, c->pix + (size_t)y0 * (size_t)stride + (size_t)x0, stride);
                        if (st != LP_OK) return st;
                    }
            }
            if (j->restart) todo--;
        }
    /* past the entropy-coded data: continue at the next marker */
    while (j->pos + 1 < j->n && !(j->d[j->pos] == 0xff && j->d[j->pos + 1] != 0 && !(j->d[j->pos + 1] >= 0xd0 && j->d[j->pos + 1] <= 0xd7)))
        j->pos++;
    return LP_OK;
}

lp_status lp_jpeg_decode(lp_image *img, const uint8_t *d, size_t n, const char *what, lp_err *err) {
    memset(img, 0, sizeof *img);
    jdec *j = calloc(1, sizeof *j);
    if (!j) return lp_err_set(err, LP_ERR_NOMEM, "out of memory reading %s", what);
    j->d = d;
    j->n = n;
    j->pos = 2;
    j->what = what;
    j->err = err;
    idct_init();
    lp_status st = LP_OK;
    int have_frame = 0, done_scan = 0;
    while (!done_scan) {
        while (j->pos < n && d[j->pos] == 0xff && j->pos + 1 < n && d[j->pos + 1] == 0xff) j->pos++;
        if (j->pos + 4 > n || d[j->pos] != 0xff) {
            st = jbad(j, "truncated or corrupt JPEG (expected a marker)");
            goto done;
        }
        int m = d[j->pos + 1];
        if (m == 0xd9) break;
        size_t len = (size_t)(d[j->pos + 2] << 8 | d[j->pos + 3]);
        if (len < 2 || len > n - j->pos - 2) {
            st = jbad(j, "truncated JPEG segment");
            goto done;
        }
        const uint8_t *seg = d + j->pos + 4;
        size_t sl = len - 2;
        j->pos += 2 + len;
        if (m == 0xdb) { /* DQT */
            size_t p = 0;
            while (p < sl) {
                int pq = seg[p] >> 4, tq = seg[p] & 15;
                size_t need = 1 + 64 * (size_t)(pq ? 2 : 1);
                if (tq > 3 || pq > 1 || sl - p < need) {
                    st = jbad(j, "bad quantization table");
                    goto done;
                }
                for (int k = 0; k < 64; k++)
                    j->q[tq][k] = pq ? (uint16_t)(seg[p + 1 + 2 * k] << 8 | seg[p + 2 + 2 * k]) : seg[p + 1 + k];
                j->q_present[tq] = 1;
                p += need;
            }
        } else if (m == 0xc4) { /* DHT */
            size_t p = 0;
            while (p < sl) {
                if (sl - p < 17) {
                    st = jbad(j, "bad Huffman table");
                    goto done;
                }
                int tc = seg[p] >> 4, th = seg[p] & 15, total = 0;
                for (int k = 0; k < 16; k++) total += seg[p + 1 + k];
                if (tc > 1 || th > 3 || total > 256 || sl - p - 17 < (size_t)total ||
                    !build_huff(tc ? &j->ac[th] : &j->dc[th], seg + p + 1, seg + p + 17, total)) {
                    st = jbad(j, "bad Huffman table");
                    goto done;
                }
                p += 17 + (size_t)total;
            }
        } else if (m == 0xc0 || m == 0xc1) { /* SOF0 / SOF1 */
            if (sl < 6 || seg[0] != 8) {
                st = lp_err_set(err, LP_ERR_UNSUPPORTED, "%s: only 8-bit JPEG is supported", what);
                goto done;
            }
            j->h = seg[1] << 8 | seg[2];
            j->w = seg[3] << 8 | seg[4];
            j->ncomp = seg[5];
            if (j->ncomp != 1 && j->ncomp != 3) {
                st = lp_err_set(err, LP_ERR_UNSUPPORTED, "%s: JPEG with %d components is not supported (gray and colour are)",
                                what, j->ncomp);
                goto done;
            }
            if (sl < 6 + 3 * (size_t)j->ncomp || j->w == 0 || j->h == 0) {
                st = jbad(j, "bad frame header");
                goto done;
            }
            j->hmax = j->vmax = 1;
            for (int k = 0; k < j->ncomp; k++) {
                jcomp *c = &j->comp[k];
                c->id = seg[6 + 3 * k];
                c->h = seg[7 + 3 * k] >> 4;
                c->v = seg[7 + 3 * k] & 15;
                c->tq = seg[8 + 3 * k];
                if (c->h < 1 || c->h > 4 || c->v < 1 || c->v > 4 || c->tq > 3) {
                    st = jbad(j, "bad component sampling");
                    goto done;
                }
                if (c->h > j->hmax) j->hmax = c->h;
                if (c->v > j->vmax) j->vmax = c->v;
            }
            if ((int64_t)j->w * j->h > LP_IMAGE_MAX_PIXELS || j->w > LP_IMAGE_MAX_SIDE || j->h > LP_IMAGE_MAX_SIDE) {
                st = lp_err_set(err, LP_ERR_LIMIT, "%s: image of %d x %d pixels is larger than liteport reads", what, j->w, j->h);
                goto done;
            }
            int mcux = (j->w + 8 * j->hmax - 1) / (8 * j->hmax), mcuy = (j->h + 8 * j->vmax - 1) / (8 * j->vmax);
            for (int k = 0; k < j->ncomp; k++) {
                jcomp *c = &j->comp[k];
                c->bw = mcux * c->h;
                c->bh = mcuy * c->v;
                c->pix = calloc((size_t)c->bw * 8, (size_t)c->bh * 8);
                if (!c->pix) {
                    st = lp_err_set(err, LP_ERR_NOMEM, "out of memory reading %s", what);
                    goto done;
                }
            }
            have_frame = 1;
        } else if (m == 0xc2 || m == 0xc6 || m == 0xca || m == 0xce) {
            st = lp_err_set(err, LP_ERR_UNSUPPORTED, "%s: progressive JPEG is not supported; save it as baseline JPEG or PNG", what);
            goto done;
        } else if ((m >= 0xc3 && m <= 0xcf) && m != 0xc4 && m != 0xc8 && m != 0xcc) {
            st = lp_err_set(err, LP_ERR_UNSUPPORTED, "%s: this JPEG coding (lossless or arithmetic) is not supported", what);
            goto done;
        } else if (m == 0xdd) { /* DRI */
            if (sl < 2) {
                st = jbad(j, "bad restart interval");
                goto done;
            }
            j->restart = seg[0] << 8 | seg[1];
        } else if (m == 0xee) { /* Adobe APP14: transform flag */
            if (sl >= 12 && !memcmp(seg, "Adobe", 5)) {
                j->adobe = 1;
                j->adobe_transform = seg[11];
            }
        } else if (m == 0xda) { /* SOS */
            if (!have_frame) {
                st = jbad(j, "scan before the frame header");
                goto done;
            }
            st = read_scan(j, seg, sl);
            if (st != LP_OK) goto done;
            done_scan = 1;
        }
        /* APPn, COM and others: skipped */
    }
    if (!have_frame || !done_scan) {
        st = jbad(j, "JPEG without image data");
        goto done;
    }
    {
        int ch = j->ncomp == 1 ? 1 : 3;
        img->px = malloc((size_t)j->w * (size_t)j->h * (size_t)ch);
        if (!img->px) {
            st = lp_err_set(err, LP_ERR_NOMEM, "out of memory reading %s", what);
            goto done;
        }
        img->w = j->w;
        img->h = j->h;
        img->channels = ch;
        int ycc = j->ncomp == 3 && !(j->adobe && j->adobe_transform == 0);
        for (int y = 0; y < j->h; y++)
            for (int x = 0; x < j->w; x++) {
                float s[3];
                for (int k = 0; k < j->ncomp; k++) {
                    const jcomp *c = &j->comp[k];
                    if (c->h == j->hmax && c->v == j->vmax) {
                        s[k] = c->pix[(size_t)y * (size_t)c->bw * 8 + (size_t)x];
                        continue;
                    }
                    /* subsampled chroma: bilinear between the samples' centres (libjpeg's
                     * "fancy" upsampling for 2x is the same triangle filter) */
                    int cw = (j->w * c->h + j->hmax - 1) / j->hmax, ch = (j->h * c->v + j->vmax - 1) / j->vmax;
                    float fx = ((float)x + 0.5f) * (float)c->h / (float)j->hmax - 0.5f;
                    float fy = ((float)y + 0.5f) * (float)c->v / (float)j->vmax - 0.5f;
                    int x0 = (int)floorf(fx), y0 = (int)floorf(fy);
                    float ax = fx - (float)x0, ay = fy - (float)y0;
                    int x1 = x0 + 1, y1 = y0 + 1;
                    x0 = x0 < 0 ? 0 : x0 >= cw ? cw - 1 : x0;
                    x1 = x1 < 0 ? 0 : x1 >= cw ? cw - 1 : x1;
                    y0 = y0 < 0 ? 0 : y0 >= ch ? ch - 1 : y0;
                    y1 = y1 < 0 ? 0 : y1 >= ch ? ch - 1 : y1;
                    size_t st = (size_t)c->bw * 8;
                    const uint8_t *p = c->pix;
                    s[k] = (1 - ay) * ((1 - ax) * p[(size_t)y0 * st + (size_t)x0] + ax * p[(size_t)y0 * st + (size_t)x1]) +
                           ay * ((1 - ax) * p[(size_t)y1 * st + (size_t)x0] + ax * p[(size_t)y1 * st + (size_t)x1]);
                }
                uint8_t *o = img->px + ((size_t)y * (size_t)j->w + (size_t)x) * (size_t)ch;
                if (ch == 1) {
                    o[0] = (uint8_t)s[0];
                    continue;
                }
                float r = s[0], g = s[1], b = s[2];
                if (ycc) {
                    r = s[0] + 1.402f * (s[2] - 128);
                    g = s[0] - 0.344136f * (s[1] - 128) - 0.714136f * (s[2] - 128);
                    b = s[0] + 1.772f * (s[1] - 128);
                }
                float v[3] = {r, g, b};
                for (int k = 0; k < 3; k++) {
                    int q = (int)lrintf(v[k]);
                    o[k] = (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
                }
            }
    }
done:
    for (int k = 0; k < 3; k++) free(j->comp[k].pix);
    free(j);
    if (st != LP_OK) lp_image_free(img);
    return st;
}
