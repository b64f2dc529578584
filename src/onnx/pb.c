#include "pb.h"

#include <string.h>

void lp_pb_init(lp_pb *r, const uint8_t *base, const uint8_t *msg, size_t len) {
    r->base = base;
    r->p = msg;
    r->end = msg + len;
    r->err = NULL;
    r->err_at = 0;
    r->err_field = 0;
}

void lp_pb_sub(lp_pb *sub, const lp_pb *parent, const lp_pb_field *f) {
    lp_pb_init(sub, parent->base, f->p, f->len);
}

int lp_pb_fail(lp_pb *r, size_t at, uint32_t field, const char *what) {
    if (!r->err) {
        r->err = what;
        r->err_at = at;
        r->err_field = field;
    }
    return -1;
}

int lp_pb_expect(lp_pb *r, const lp_pb_field *f, int wire) {
    if (f->wire == wire) return 1;
    lp_pb_fail(r, f->at, f->num, "wrong wire type");
    return 0;
}

int lp_pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    const uint8_t *q = *p;
    uint64_t x = 0;
    for (int i = 0; i < LP_PB_MAX_VARINT; i++) {
        if (q >= end) return 0;
        uint8_t b = *q++;
        /* the 10th byte holds only bit 63; higher bits are dropped as protobuf does */
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = x;
            *p = q;
            return 1;
        }
    }
    return -1;
}

int64_t lp_pb_count_varints(const uint8_t *p, size_t len, size_t *bad) {
    const uint8_t *q = p, *end = p + len;
    int64_t n = 0;
    while (q < end) {
        uint64_t v;
        const uint8_t *start = q;
        if (lp_pb_varint(&q, end, &v) != 1) {
            if (bad) *bad = (size_t)(start - p);
            return -1;
        }
        n++;
    }
    return n;
}

uint32_t lp_pb_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t lp_pb_le64(const uint8_t *p) { return (uint64_t)lp_pb_le32(p) | (uint64_t)lp_pb_le32(p + 4) << 32; }

/* Reads a tag at r->p. Returns 1 (num/wire set), 0 at end of message, -1 on error. */
static int read_tag(lp_pb *r, uint32_t *num, int *wire, size_t *at) {
    if (r->p >= r->end) return 0;
    *at = (size_t)(r->p - r->base);
    uint64_t tag;
    int k = lp_pb_varint(&r->p, r->end, &tag);
    if (k == 0) return lp_pb_fail(r, *at, 0, "truncated protobuf");
    if (k < 0) return lp_pb_fail(r, *at, 0, "varint longer than 10 bytes");
    uint64_t fn = tag >> 3;
    if (fn == 0 || fn > 0x1fffffff) return lp_pb_fail(r, *at, 0, "invalid field number");
    *num = (uint32_t)fn;
    *wire = (int)(tag & 7);
    return 1;
}

/* Reads the value of a non-group field whose tag was just read. */
static int read_value(lp_pb *r, lp_pb_field *f) {
    size_t avail = (size_t)(r->end - r->p);
    switch (f->wire) {
    case LP_PB_VARINT: {
        int k = lp_pb_varint(&r->p, r->end, &f->u);
        if (k == 0) return lp_pb_fail(r, (size_t)(r->p - r->base), f->num, "truncated protobuf");
        if (k < 0) return lp_pb_fail(r, (size_t)(r->p - r->base), f->num, "varint longer than 10 bytes");
        return 1;
    }
    case LP_PB_I64:
        if (avail < 8) return lp_pb_fail(r, f->at, f->num, "truncated protobuf");
        f->u = lp_pb_le64(r->p);
        r->p += 8;
        return 1;
    case LP_PB_I32:
        if (avail < 4) return lp_pb_fail(r, f->at, f->num, "truncated protobuf");
        f->u = lp_pb_le32(r->p);
        r->p += 4;
        return 1;
    case LP_PB_LEN: {
        uint64_t n;
        size_t len_at = (size_t)(r->p - r->base);
        int k = lp_pb_varint(&r->p, r->end, &n);
        if (k == 0) return lp_pb_fail(r, len_at, f->num, "truncated protobuf");
        if (k < 0) return lp_pb_fail(r, len_at, f->num, "varint longer than 10 bytes");
        /* the payload must lie inside the enclosing message */
        if (n > (uint64_t)(r->end - r->p)) return lp_pb_fail(r, f->at, f->num, "truncated protobuf");
        f->p = r->p;
        f->len = (size_t)n;
        r->p += (size_t)n;
        return 1;
    }
    case LP_PB_EGROUP:
        return lp_pb_fail(r, f->at, f->num, "end-group tag without a start-group");
    default:
        return lp_pb_fail(r, f->at, f->num, "invalid wire type");
    }
}

/* Skips a group whose start tag (field `num`) was just read: up to the matching end group,
 * skipping nested groups (iteratively, with a nesting cap). */
static int skip_group(lp_pb *r, uint32_t num, size_t start_at) {
    uint32_t stack[LP_PB_MAX_GROUP_NEST];
    int depth = 0;
    stack[depth++] = num;
    while (depth > 0) {
        lp_pb_field f;
        memset(&f, 0, sizeof f);
        int k = read_tag(r, &f.num, &f.wire, &f.at);
        if (k < 0) return -1;
        if (k == 0) return lp_pb_fail(r, start_at, num, "truncated protobuf (group without end)");
        if (f.wire == LP_PB_SGROUP) {
            if (depth >= LP_PB_MAX_GROUP_NEST) return lp_pb_fail(r, f.at, f.num, "groups nested too deeply");
            stack[depth++] = f.num;
        } else if (f.wire == LP_PB_EGROUP) {
            if (f.num != stack[depth - 1]) return lp_pb_fail(r, f.at, f.num, "end-group tag does not match its group");
            depth--;
        } else if (read_value(r, &f) < 0) {
            return -1;
        }
    }
    return 1;
}

int lp_pb_next(lp_pb *r, lp_pb_field *f) {
    if (r->err) return -1;
    for (;;) {
        memset(f, 0, sizeof *f);
        int k = read_tag(r, &f->num, &f->wire, &f->at);
        if (k <= 0) return k;
        if (f->wire == LP_PB_SGROUP) {
            /* no ONNX field is a group: an unknown field, skipped */
            if (skip_group(r, f->num, f->at) < 0) return -1;
            continue;
        }
        if (read_value(r, f) < 0) return -1;
        return 1;
    }
}
