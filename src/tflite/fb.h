/* fb: a small FlatBuffers builder.
 *
 * Like the reference builder it writes back to front, so every offset points to a higher address.
 * Large byte vectors (weights) can be added as "blobs": they take their place in the layout but
 * are not copied; lp_fb_emit() streams the literal bytes and the blobs in file order.
 * Positions are "offsets from the end" of the buffer being built (lp_fb_ref).
 */
#ifndef LP_FB_H
#define LP_FB_H

#include <stddef.h>
#include <stdint.h>

typedef uint32_t lp_fb_ref; /* offset from the end; 0 = none */

/* reads bytes [off, off + n) of a blob source into dst */
typedef void (*lp_fb_read_fn)(const void *src, uint64_t off, void *dst, size_t n);

typedef struct lp_fb_blob {
    const void *data;   /* the bytes, or NULL when `read` produces them */
    lp_fb_read_fn read;
    const void *src;    /* argument of read */
    size_t len;
    size_t lit_at;  /* literal size when the blob was added */
} lp_fb_blob;

#define LP_FB_MAX_FIELDS 32

typedef struct lp_fb {
    uint8_t *buf;    /* literal bytes occupy buf[cap - lit .. cap) */
    size_t cap;
    size_t lit;      /* literal bytes written */
    uint64_t vsize;  /* virtual size: literal + blobs */
    size_t minalign;
    lp_fb_blob *blobs;
    int n_blobs, cap_blobs;
    /* table under construction */
    int in_table;
    uint64_t table_start;
    uint32_t field_at[LP_FB_MAX_FIELDS]; /* vsize after each field was written; 0 = absent */
    int n_fields;
    /* written vtables (literal positions) for sharing identical ones */
    size_t *vtables;
    int n_vtables, cap_vtables;
    int failed;      /* out of memory or > 2 GB */
    int too_big;     /* failed because the buffer would pass 2 GB */
} lp_fb;

void lp_fb_init(lp_fb *b);
void lp_fb_free(lp_fb *b);

/* scalars and alignment */
void lp_fb_align(lp_fb *b, size_t size, size_t additional);
lp_fb_ref lp_fb_string(lp_fb *b, const char *s);
lp_fb_ref lp_fb_bytes(lp_fb *b, const void *p, size_t n, size_t align);    /* [ubyte], copied */
lp_fb_ref lp_fb_blob_vec(lp_fb *b, const void *p, size_t n, size_t align); /* [ubyte], not copied */
/* [ubyte] whose bytes `read(src, ...)` produces while the buffer is emitted */
lp_fb_ref lp_fb_blob_read(lp_fb *b, lp_fb_read_fn read, const void *src, size_t n, size_t align);
lp_fb_ref lp_fb_vec_i32(lp_fb *b, const int32_t *v, int n);
lp_fb_ref lp_fb_vec_i64(lp_fb *b, const int64_t *v, int n);
lp_fb_ref lp_fb_vec_f32(lp_fb *b, const float *v, int n);
lp_fb_ref lp_fb_vec_ref(lp_fb *b, const lp_fb_ref *v, int n); /* vector of tables / strings */

/* tables: start, add fields (any order), end -> ref */
void lp_fb_start(lp_fb *b);
void lp_fb_add_u8(lp_fb *b, int field, uint8_t v);
void lp_fb_add_i8(lp_fb *b, int field, int8_t v);
void lp_fb_add_i32(lp_fb *b, int field, int32_t v);
void lp_fb_add_u32(lp_fb *b, int field, uint32_t v);
void lp_fb_add_f32(lp_fb *b, int field, float v);
void lp_fb_add_u64(lp_fb *b, int field, uint64_t v);
/* a uint64 field whose value is set later with lp_fb_patch_u64; returns its slot */
size_t lp_fb_add_u64_slot(lp_fb *b, int field);
void lp_fb_patch_u64(lp_fb *b, size_t slot, uint64_t v);
void lp_fb_add_ref(lp_fb *b, int field, lp_fb_ref r); /* ignored when r == 0 */
lp_fb_ref lp_fb_end(lp_fb *b);

/* Finish with the root table and a 4-byte file identifier. */
void lp_fb_finish(lp_fb *b, lp_fb_ref root, const char *ident);

/* Total size and streaming output in file order. `write` returns 0 on failure. */
uint64_t lp_fb_size(const lp_fb *b);
int lp_fb_emit(const lp_fb *b, int (*write)(void *ud, const void *p, size_t n), void *ud);
/* Streams len bytes produced by read(src, ...) to write in chunks of 1 MiB. 0 on failure. */
int lp_fb_emit_read(lp_fb_read_fn read, const void *src, size_t len,
                    int (*write)(void *ud, const void *p, size_t n), void *ud);

#endif
