/* pb: a protobuf wire-format reader over a memory buffer. No schema, no allocation: the caller
 * asks for the next field of a message and gets its number, wire type and value (or the bounds of
 * its length-delimited payload, which still points into the buffer).
 *
 * Every length and varint is checked against the enclosing message. On malformed input the reader
 * records what went wrong and where (byte offset from the start of the whole buffer); the caller
 * adds what it was reading and turns it into a message. */
#ifndef LP_PB_H
#define LP_PB_H

#include <stddef.h>
#include <stdint.h>

enum {
    LP_PB_VARINT = 0,
    LP_PB_I64 = 1,    /* fixed 64-bit, little-endian */
    LP_PB_LEN = 2,    /* length-delimited */
    LP_PB_SGROUP = 3, /* start group (deprecated; skipped) */
    LP_PB_EGROUP = 4, /* end group */
    LP_PB_I32 = 5     /* fixed 32-bit, little-endian */
};

#define LP_PB_MAX_VARINT 10 /* bytes */
#define LP_PB_MAX_GROUP_NEST 16

typedef struct lp_pb_field {
    uint32_t num;       /* field number (>= 1) */
    int wire;           /* LP_PB_VARINT, LP_PB_I64, LP_PB_LEN or LP_PB_I32 (groups are skipped) */
    uint64_t u;         /* VARINT value; I64 / I32 bits (little-endian decoded) */
    const uint8_t *p;   /* LEN: payload (inside the buffer) */
    size_t len;         /* LEN: payload length */
    size_t at;          /* offset of the field's tag from the start of the buffer */
} lp_pb_field;

typedef struct lp_pb {
    const uint8_t *base; /* start of the whole buffer: offsets are relative to it */
    const uint8_t *p;    /* read position */
    const uint8_t *end;  /* end of the current message */
    const char *err;     /* NULL, or what went wrong (a static string) */
    size_t err_at;       /* byte offset of the problem */
    uint32_t err_field;  /* number of the field being read when it went wrong; 0: in a tag */
} lp_pb;

/* A reader over msg[0..len), a message inside the buffer that starts at `base`. */
void lp_pb_init(lp_pb *r, const uint8_t *base, const uint8_t *msg, size_t len);
/* A reader over the payload of the LEN field f read from `parent`. */
void lp_pb_sub(lp_pb *sub, const lp_pb *parent, const lp_pb_field *f);

/* Reads the next field. Returns 1 with *f filled, 0 at the end of the message, -1 when the input
 * is malformed (r->err set; the reader stays failed). Unknown groups (wire type 3) are skipped up
 * to the matching end group and never returned; wire types 6 and 7 are errors. */
int lp_pb_next(lp_pb *r, lp_pb_field *f);

/* Records an error on the reader (first one wins) and returns -1. */
int lp_pb_fail(lp_pb *r, size_t at, uint32_t field, const char *what);

/* Checks that f has wire type `wire`; records "wrong wire type" and returns 0 otherwise. */
int lp_pb_expect(lp_pb *r, const lp_pb_field *f, int wire);

/* Decodes one varint from [*p, end), advancing *p. Returns 1; 0 when it is truncated; -1 when it is
 * longer than 10 bytes. *p is left unchanged on failure. */
int lp_pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *v);

/* Number of varints in the packed payload p[0..len), or -1 when malformed (*bad = offset of the
 * bad varint within the payload). */
int64_t lp_pb_count_varints(const uint8_t *p, size_t len, size_t *bad);

/* little-endian loads from possibly unaligned memory */
uint32_t lp_pb_le32(const uint8_t *p);
uint64_t lp_pb_le64(const uint8_t *p);

#endif
