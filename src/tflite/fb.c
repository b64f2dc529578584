#include "fb.h"

#include <stdlib.h>
#include <string.h>

#define FB_MAX_SIZE 0x7fffffffull /* flatbuffers offsets are < 2^31 */

void lp_fb_init(lp_fb *b) {
    memset(b, 0, sizeof *b);
    b->minalign = 1;
}

void lp_fb_free(lp_fb *b) {
    free(b->buf);
    free(b->blobs);
    free(b->vtables);
    memset(b, 0, sizeof *b);
}

static int ensure(lp_fb *b, size_t n) {
    if (b->failed) return 0;
    if (b->vsize + n > FB_MAX_SIZE) {
        b->failed = b->too_big = 1;
        return 0;
    }
    if (b->cap - b->lit >= n) return 1;
    size_t nc = b->cap ? b->cap : 1024;
    while (nc - b->lit < n) nc *= 2;
    uint8_t *nb = malloc(nc);
    if (!nb) {
        b->failed = 1;
        return 0;
    }
    if (b->lit) memcpy(nb + nc - b->lit, b->buf + b->cap - b->lit, b->lit);
    free(b->buf);
    b->buf = nb;
    b->cap = nc;
    return 1;
}

static void push(lp_fb *b, const void *p, size_t n) {
    if (!ensure(b, n)) return;
    b->lit += n;
    b->vsize += n;
    if (p)
        memcpy(b->buf + b->cap - b->lit, p, n);
    else
        memset(b->buf + b->cap - b->lit, 0, n);
}

void lp_fb_align(lp_fb *b, size_t size, size_t additional) {
    if (size > b->minalign) b->minalign = size;
    size_t pad = (size_t)(-(b->vsize + additional)) & (size - 1);
    if (pad) push(b, NULL, pad);
}

static void push_u32(lp_fb *b, uint32_t v) { push(b, &v, 4); }

static lp_fb_ref here(const lp_fb *b) { return (lp_fb_ref)b->vsize; }

static lp_fb_ref vec_scalars(lp_fb *b, const void *p, int n, size_t es) {
    size_t bytes = (size_t)n * es;
    lp_fb_align(b, 4, bytes);
    lp_fb_align(b, es, bytes);
    /* values are stored little-endian in element order: push as one block */
    push(b, p, bytes);
    push_u32(b, (uint32_t)n);
    return here(b);
}

lp_fb_ref lp_fb_vec_i32(lp_fb *b, const int32_t *v, int n) { return vec_scalars(b, v, n, 4); }
lp_fb_ref lp_fb_vec_i64(lp_fb *b, const int64_t *v, int n) { return vec_scalars(b, v, n, 8); }
lp_fb_ref lp_fb_vec_f32(lp_fb *b, const float *v, int n) { return vec_scalars(b, v, n, 4); }

lp_fb_ref lp_fb_bytes(lp_fb *b, const void *p, size_t n, size_t align) {
    lp_fb_align(b, 4, n);
    if (align > 1) lp_fb_align(b, align, n);
    push(b, p, n);
    push_u32(b, (uint32_t)n);
    return here(b);
}

static lp_fb_ref blob(lp_fb *b, const void *p, lp_fb_read_fn read, const void *src, size_t n, size_t align) {
    lp_fb_align(b, 4, n);
    if (align > 1) lp_fb_align(b, align, n);
    if (b->failed) return 0;
    if (b->vsize + n > FB_MAX_SIZE) {
        b->failed = b->too_big = 1;
        return 0;
    }
    if (n) {
        if (b->n_blobs == b->cap_blobs) {
            int nc = b->cap_blobs ? b->cap_blobs * 2 : 64;
            lp_fb_blob *nb = realloc(b->blobs, sizeof *nb * (size_t)nc);
            if (!nb) {
                b->failed = 1;
                return 0;
            }
            b->blobs = nb;
            b->cap_blobs = nc;
        }
        b->blobs[b->n_blobs].data = p;
        b->blobs[b->n_blobs].read = read;
        b->blobs[b->n_blobs].src = src;
        b->blobs[b->n_blobs].len = n;
        b->blobs[b->n_blobs].lit_at = b->lit;
        b->n_blobs++;
        b->vsize += n;
    }
    push_u32(b, (uint32_t)n);
    return here(b);
}

lp_fb_ref lp_fb_blob_vec(lp_fb *b, const void *p, size_t n, size_t align) { return blob(b, p, NULL, NULL, n, align); }

lp_fb_ref lp_fb_blob_read(lp_fb *b, lp_fb_read_fn read, const void *src, size_t n, size_t align) {
    return blob(b, NULL, read, src, n, align);
}

lp_fb_ref lp_fb_string(lp_fb *b, const char *s) {
    size_t n = strlen(s);
    lp_fb_align(b, 4, n + 1);
    push(b, NULL, 1); /* the NUL */
    push(b, s, n);
    push_u32(b, (uint32_t)n);
    return here(b);
}

lp_fb_ref lp_fb_vec_ref(lp_fb *b, const lp_fb_ref *v, int n) {
    lp_fb_align(b, 4, (size_t)n * 4);
    for (int i = n - 1; i >= 0; i--) {
        /* each element is relative to its own slot */
        uint32_t off = (uint32_t)(b->vsize + 4 - v[i]);
        push_u32(b, off);
    }
    push_u32(b, (uint32_t)n);
    return here(b);
}

void lp_fb_start(lp_fb *b) {
    b->in_table = 1;
    b->n_fields = 0;
    memset(b->field_at, 0, sizeof b->field_at);
    b->table_start = b->vsize;
}

static void field(lp_fb *b, int f) {
    if (f < 0 || f >= LP_FB_MAX_FIELDS) {
        b->failed = 1;
        return;
    }
    b->field_at[f] = (uint32_t)b->vsize;
    if (f + 1 > b->n_fields) b->n_fields = f + 1;
}

void lp_fb_add_u8(lp_fb *b, int f, uint8_t v) {
    push(b, &v, 1);
    field(b, f);
}
void lp_fb_add_i8(lp_fb *b, int f, int8_t v) {
    push(b, &v, 1);
    field(b, f);
}
void lp_fb_add_i32(lp_fb *b, int f, int32_t v) {
    lp_fb_align(b, 4, 0);
    push(b, &v, 4);
    field(b, f);
}
void lp_fb_add_u32(lp_fb *b, int f, uint32_t v) {
    lp_fb_align(b, 4, 0);
    push(b, &v, 4);
    field(b, f);
}
void lp_fb_add_f32(lp_fb *b, int f, float v) {
    lp_fb_align(b, 4, 0);
    push(b, &v, 4);
    field(b, f);
}
void lp_fb_add_u64(lp_fb *b, int f, uint64_t v) {
    lp_fb_align(b, 8, 0);
    push(b, &v, 8);
    field(b, f);
}
size_t lp_fb_add_u64_slot(lp_fb *b, int f) {
    uint64_t zero = 0;
    lp_fb_align(b, 8, 0);
    push(b, &zero, 8);
    field(b, f);
    return b->lit; /* literal coordinates stay valid as the buffer grows at the front */
}
void lp_fb_patch_u64(lp_fb *b, size_t slot, uint64_t v) {
    if (!b->failed && slot >= 8 && slot <= b->lit) memcpy(b->buf + b->cap - slot, &v, 8);
}
void lp_fb_add_ref(lp_fb *b, int f, lp_fb_ref r) {
    if (!r) return;
    lp_fb_align(b, 4, 0);
    uint32_t off = (uint32_t)(b->vsize + 4 - r);
    push_u32(b, off);
    field(b, f);
}

lp_fb_ref lp_fb_end(lp_fb *b) {
    lp_fb_align(b, 4, 0);
    int32_t zero = 0;
    push(b, &zero, 4);
    if (b->failed) return 0;
    uint64_t obj = b->vsize;       /* table position (offset from end) */
    size_t obj_lit = b->lit;       /* the same position in literal coordinates */
    uint16_t vt[2 + LP_FB_MAX_FIELDS];
    int nf = b->n_fields;
    vt[0] = (uint16_t)(4 + 2 * nf);
    vt[1] = (uint16_t)(obj - b->table_start);
    for (int i = 0; i < nf; i++) vt[2 + i] = b->field_at[i] ? (uint16_t)(obj - b->field_at[i]) : 0;
    size_t vt_bytes = (size_t)(2 + nf) * 2;
    /* share an identical vtable written earlier */
    uint64_t vt_pos = 0;
    for (int i = 0; i < b->n_vtables && !vt_pos; i++) {
        size_t lp = b->vtables[2 * i];
        const uint8_t *p = b->buf + b->cap - lp;
        uint16_t len;
        memcpy(&len, p, 2);
        if (len == vt_bytes && memcmp(p, vt, vt_bytes) == 0) vt_pos = b->vtables[2 * i + 1];
    }
    if (!vt_pos) {
        push(b, vt, vt_bytes);
        if (b->failed) return 0;
        vt_pos = b->vsize;
        if (b->n_vtables == b->cap_vtables) {
            int nc = b->cap_vtables ? b->cap_vtables * 2 : 64;
            size_t *nv = realloc(b->vtables, sizeof *nv * 2 * (size_t)nc);
            if (!nv) {
                b->failed = 1;
                return 0;
            }
            b->vtables = nv;
            b->cap_vtables = nc;
        }
        b->vtables[2 * b->n_vtables] = b->lit;
        b->vtables[2 * b->n_vtables + 1] = (size_t)vt_pos;
        b->n_vtables++;
    }
    /* soffset = table address - vtable address */
    int32_t soff = (int32_t)((int64_t)vt_pos - (int64_t)obj);
    memcpy(b->buf + b->cap - obj_lit, &soff, 4);
    b->in_table = 0;
    return (lp_fb_ref)obj;
}

void lp_fb_finish(lp_fb *b, lp_fb_ref root, const char *ident) {
    lp_fb_align(b, b->minalign < 4 ? 4 : b->minalign, 8);
    push(b, ident, 4);
    uint32_t off = (uint32_t)(b->vsize + 4 - root);
    push_u32(b, off);
}

uint64_t lp_fb_size(const lp_fb *b) { return b->vsize; }

int lp_fb_emit_read(lp_fb_read_fn read, const void *src, size_t len,
                    int (*write)(void *ud, const void *p, size_t n), void *ud) {
    /* produced in chunks: the whole blob never sits in memory */
    enum { CHUNK = 1 << 20 };
    uint8_t *tmp = malloc(len < CHUNK ? (len ? len : 1) : CHUNK);
    if (!tmp) return 0;
    int ok = 1;
    for (size_t at = 0; at < len && ok; at += CHUNK) {
        size_t n = len - at < CHUNK ? len - at : CHUNK;
        read(src, at, tmp, n);
        ok = write(ud, tmp, n);
    }
    free(tmp);
    return ok;
}

int lp_fb_emit(const lp_fb *b, int (*write)(void *ud, const void *p, size_t n), void *ud) {
    if (b->failed) return 0;
    size_t from = b->lit;
    for (int i = b->n_blobs - 1; i >= 0; i--) {
        const lp_fb_blob *bl = &b->blobs[i];
        size_t to = bl->lit_at;
        if (from > to && !write(ud, b->buf + b->cap - from, from - to)) return 0;
        if (bl->read ? !lp_fb_emit_read(bl->read, bl->src, bl->len, write, ud) : !write(ud, bl->data, bl->len))
            return 0;
        from = to;
    }
    if (from && !write(ud, b->buf + b->cap - from, from)) return 0;
    return 1;
}
