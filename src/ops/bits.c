/* Logic and bit ops: Not, And, Or, Xor, BitwiseNot/And/Or/Xor, BitShift, BitCast.
 *
 * TFLite's integer bit kernels are BITWISE_XOR and RIGHT_SHIFT (8-, 16- and 32-bit types) and
 * BITCAST; there is no AND, OR or left shift. Those are built from identities that hold exactly
 * in two's complement arithmetic:
 *   a + b = (a ^ b) + 2 (a & b)          so  a & b = (a + b - (a ^ b)) / 2
 *   a | b = (a ^ b) + (a & b)            (the two terms share no bit, so the sum never carries)
 *   x << s = x * 2^s (mod 2^bits)        with 2^s looked up in a constant table
 * 8- and 16-bit values are widened to int32, where the sums cannot overflow; 32-bit values are
 * computed in int32 with wrap-around (TFLite's int32 ADD/SUB/MUL wrap) and the one bit the
 * division by 2 would lose restored separately; 64-bit values are reinterpreted (BITCAST) as
 * pairs of int32 words, on which AND, OR and XOR act word by word. */
#include <string.h>

#include "ew.h"

#define T(id) lp_T(c, (id))

static int is_unsigned(lp_dtype d) { return d == LP_DT_U8 || d == LP_DT_U16 || d == LP_DT_U32 || d == LP_DT_U64; }

/* ---------------- Not, And, Or, Xor ---------------- */

static lp_status logic_infer(lp_ctx *c, const lp_node *n) {
    for (int i = 0; i < n->n_in; i++)
        if (T(n->in[i])->dtype != LP_DT_BOOL)
            return lp_fail(c, LP_ERR_INVALID, "input %d has type %s; this op takes bool", i,
                           lp_dtype_name(T(n->in[i])->dtype));
    if (n->n_in == 1) return ew_same_infer(c, n);
    return ew_binary_infer(c, n, LP_DT_BOOL);
}

static lp_status not_lower(lp_ctx *c, const lp_node *n) {
    return ew_done(c, ew_un(c, LP_TFL_LOGICAL_NOT, n->in[0], n->out[0]));
}

static lp_status logic_lower(lp_ctx *c, const lp_node *n) {
    lp_op op = n->op == LP_OP_And ? LP_TFL_LOGICAL_AND : n->op == LP_OP_Or ? LP_TFL_LOGICAL_OR : LP_TFL_NOT_EQUAL;
    return ew_done(c, ew_bin(c, op, n->in[0], n->in[1], n->out[0]));
}

static lp_status not_eval(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    uint8_t *y = lp_out_data(c, n, 0);
    int64_t ne = lp_tensor_numel(x);
    for (int64_t i = 0; i < ne; i++) y[i] = !((const uint8_t *)x->data)[i];
    return LP_OK;
}

static int64_t fi_logic(int64_t a, int64_t b, const lp_node *n, lp_dtype dt) {
    (void)dt;
    switch (n->op) {
    case LP_OP_And: return a && b;
    case LP_OP_Or: return a || b;
    default: return (a != 0) != (b != 0);
    }
}
static lp_status logic_eval(lp_ctx *c, const lp_node *n) { return ew_eval_f2(c, n, NULL, fi_logic); }

const lp_op_impl lp_impl_Not = {logic_infer, not_eval, not_lower};
const lp_op_impl lp_impl_And = {logic_infer, logic_eval, logic_lower};
const lp_op_impl lp_impl_Or = {logic_infer, logic_eval, logic_lower};
const lp_op_impl lp_impl_Xor = {logic_infer, logic_eval, logic_lower};

/* ---------------- helpers ---------------- */

/* x reinterpreted as `to` (BITCAST). Same element size: same shape. A wider source gains a last
 * dimension of size (source size / target size); a narrower source loses its last dimension. */
static int bitcast(lp_ctx *c, int x, lp_dtype to, int out) {
    if (x < 0) return -1;
    lp_tensor *t = T(x);
    size_t from_sz = lp_dtype_size(t->dtype), to_sz = lp_dtype_size(to);
    if (out < 0) {
        int64_t dims[LP_MAX_RANK];
        int rank = t->rank;
        memcpy(dims, t->dims, sizeof dims);
        if (from_sz > to_sz) {
            if (rank >= LP_MAX_RANK) {
                lp_fail(c, LP_ERR_LIMIT, "rank %d is too large to split 64-bit values into words", rank);
                return -1;
            }
            dims[rank++] = (int64_t)(from_sz / to_sz);
        } else if (from_sz < to_sz) {
            rank--;
        }
        out = lp_emit_tensor(c, to, rank, dims, "bits");
    }
    if (out < 0 || lp_emit_op(c, LP_TFL_BITCAST, &x, 1, &out, 1) < 0) return -1;
    return out;
}

/* int32 view of an 8-, 16- or 32-bit integer: widened (sign or zero extension) or reinterpreted */
static int as_i32(lp_ctx *c, int x) {
    lp_dtype dt = T(x)->dtype;
    if (dt == LP_DT_U32) return bitcast(c, x, LP_DT_I32, -1);
    return ew_cast(c, x, LP_DT_I32, -1);
}

/* the int32 result r back in type dt (narrowing casts wrap, as two's complement) */
static int from_i32(lp_ctx *c, int r, lp_dtype dt, int out) {
    if (dt == LP_DT_U32) return bitcast(c, r, dt, out);
    return ew_cast(c, r, dt, out);
}

/* a & b for int32 views (32-bit words): s = a + b - (a ^ b) = 2 (a & b) mod 2^32 holds bits
 * 0..30 of a & b shifted up one; a logical shift right brings them back, and bit 31 is set when
 * both operands have it (both negative as int32) */
static int and32(lp_ctx *c, int a, int b, int out) {
    int s = ew_bin(c, LP_TFL_SUB, ew_bin(c, LP_TFL_ADD, a, b, -1), ew_bin(c, LP_TFL_BITWISE_XOR, a, b, -1), -1);
    int one = ew_ki(c, LP_DT_U32, 1);
    int h = bitcast(c, ew_bin(c, LP_TFL_RIGHT_SHIFT, bitcast(c, s, LP_DT_U32, -1), one, -1), LP_DT_I32, -1);
    int both =
        ew_bin(c, LP_TFL_LOGICAL_AND, ew_bink(c, LP_TFL_LESS, a, 0.0, -1), ew_bink(c, LP_TFL_LESS, b, 0.0, -1), -1);
    int top = ew_sel(c, both, ew_ki(c, LP_DT_I32, INT32_MIN), ew_ki(c, LP_DT_I32, 0), -1);
    return ew_bin(c, LP_TFL_ADD, h, top, out);
}

/* a & b for values widened from 8 or 16 bits: no overflow in int32, and the halving is exact */
static int and_small(lp_ctx *c, int a, int b) {
    int s = ew_bin(c, LP_TFL_SUB, ew_bin(c, LP_TFL_ADD, a, b, -1), ew_bin(c, LP_TFL_BITWISE_XOR, a, b, -1), -1);
    return ew_bin(c, LP_TFL_RIGHT_SHIFT, s, ew_ki(c, LP_DT_I32, 1), -1);
}

/* ---------------- BitwiseNot / And / Or / Xor ---------------- */

static lp_status bitwise_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    if (!lp_dtype_is_int(x->dtype))
        return lp_fail(c, LP_ERR_INVALID, "input type %s; this op takes integers", lp_dtype_name(x->dtype));
    if (n->n_in == 1) return ew_same_infer(c, n);
    return ew_binary_infer(c, n, LP_DT_UNDEF);
}

static lp_status bitwise_not_lower(lp_ctx *c, const lp_node *n) {
    int x = n->in[0], y = n->out[0];
    lp_dtype dt = T(x)->dtype;
    if (lp_dtype_size(dt) < 8) /* all ones of the type: -1 truncated */
        return ew_done(c, ew_bin(c, LP_TFL_BITWISE_XOR, x, ew_ki(c, dt, -1), y));
    /* 64-bit: ~x = -1 - x in two's complement (never overflows) */
    int xi = dt == LP_DT_I64 ? x : bitcast(c, x, LP_DT_I64, -1);
    int r = ew_bin(c, LP_TFL_SUB, ew_ki(c, LP_DT_I64, -1), xi, dt == LP_DT_I64 ? y : -1);
    return ew_done(c, dt == LP_DT_I64 ? r : bitcast(c, r, dt, y));
}

static lp_status bitwise_lower(lp_ctx *c, const lp_node *n) {
    int a = n->in[0], b = n->in[1], y = n->out[0];
    lp_dtype dt = T(a)->dtype;
    size_t sz = lp_dtype_size(dt);
    if (n->op == LP_OP_BitwiseXor && sz < 8) return ew_done(c, ew_bin(c, LP_TFL_BITWISE_XOR, a, b, y));
    if (sz < 4) { /* 8 and 16 bits, widened */
        int ai = as_i32(c, a), bi = as_i32(c, b);
        int r = and_small(c, ai, bi);
        if (n->op == LP_OP_BitwiseOr) r = ew_bin(c, LP_TFL_ADD, ew_bin(c, LP_TFL_BITWISE_XOR, ai, bi, -1), r, -1);
        return ew_done(c, from_i32(c, r, dt, y));
    }
    /* 32-bit values, or 64-bit values as pairs of 32-bit words */
    int ai = sz == 8 ? bitcast(c, a, LP_DT_I32, -1) : as_i32(c, a);
    int bi = sz == 8 ? bitcast(c, b, LP_DT_I32, -1) : as_i32(c, b);
    int r;
    if (n->op == LP_OP_BitwiseXor) {
        r = ew_bin(c, LP_TFL_BITWISE_XOR, ai, bi, -1);
    } else {
        r = and32(c, ai, bi, -1);
        if (n->op == LP_OP_BitwiseOr) r = ew_bin(c, LP_TFL_ADD, ew_bin(c, LP_TFL_BITWISE_XOR, ai, bi, -1), r, -1);
    }
    return ew_done(c, sz == 8 ? bitcast(c, r, dt, y) : from_i32(c, r, dt, y));
}

static int64_t fi_bitwise(int64_t a, int64_t b, const lp_node *n, lp_dtype dt) {
    (void)dt;
    switch (n->op) {
    case LP_OP_BitwiseAnd: return a & b;
    case LP_OP_BitwiseOr: return a | b;
    default: return a ^ b;
    }
}
static lp_status bitwise_eval(lp_ctx *c, const lp_node *n) { return ew_eval_f2(c, n, NULL, fi_bitwise); }

static lp_status bitwise_not_eval(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]), *y = T(n->out[0]);
    int64_t ne = lp_tensor_numel(x);
    void *p = lp_out_data(c, n, 0);
    for (int64_t i = 0; i < ne; i++) lp_set_i64(y->dtype, p, i, ~lp_get_i64(x->dtype, x->data, i));
    return LP_OK;
}

const lp_op_impl lp_impl_BitwiseNot = {bitwise_infer, bitwise_not_eval, bitwise_not_lower};
const lp_op_impl lp_impl_BitwiseAnd = {bitwise_infer, bitwise_eval, bitwise_lower};
const lp_op_impl lp_impl_BitwiseOr = {bitwise_infer, bitwise_eval, bitwise_lower};
const lp_op_impl lp_impl_BitwiseXor = {bitwise_infer, bitwise_eval, bitwise_lower};

/* ---------------- BitShift ---------------- */

/* ONNX (opset 28 makes the rules explicit): a shift amount that is negative or at least the bit
 * width gives the sign fill alone: -1 for a right shift of a negative value, 0 otherwise. */

static int shift_left(const lp_node *n, lp_ctx *c) {
    const char *d = lp_attr_s(c, n, "direction", "");
    if (!d) return -1;
    if (strcmp(d, "LEFT") == 0) return 1;
    if (strcmp(d, "RIGHT") == 0) return 0;
    lp_fail(c, LP_ERR_INVALID, "attribute 'direction'='%s' must be 'LEFT' or 'RIGHT'", d);
    return -1;
}

static lp_status bitshift_infer(lp_ctx *c, const lp_node *n) {
    if (shift_left(n, c) < 0) return c->err->code;
    return bitwise_infer(c, n);
}

/* The shift amount y as an int32 index into a table of bits + 1 entries: y itself when
 * 0 <= y < bits, else `bits` (the table's out-of-range entry). */
static int shift_index(lp_ctx *c, int y, int bits) {
    lp_dtype dt = T(y)->dtype;
    int yi;
    if (lp_dtype_size(dt) == 8) { /* clamp in 64 bits before narrowing */
        int y64 = dt == LP_DT_I64 ? y : bitcast(c, y, LP_DT_I64, -1); /* uint64 >= 2^63: negative: out of range */
        yi = ew_cast(c, ew_bink(c, LP_TFL_MAXIMUM, ew_bink(c, LP_TFL_MINIMUM, y64, bits, -1), -1.0, -1), LP_DT_I32, -1);
    } else {
        yi = as_i32(c, y); /* uint32 >= 2^31 becomes negative: out of range, as it should */
    }
    int in_range = ew_bink(c, LP_TFL_MINIMUM, yi, bits, -1);
    return ew_sel(c, ew_bink(c, LP_TFL_LESS, yi, 0.0, -1), ew_ki(c, LP_DT_I32, bits), in_range, -1);
}

/* 2^s for s = 0 .. bits-1 (wrapping to the type's sign bit at bits-1) and 0 at s = bits, in dt,
 * gathered at index idx */
static int pow2(lp_ctx *c, int idx, int bits, lp_dtype dt) {
    uint8_t buf[65 * 8];
    for (int i = 0; i <= bits; i++) lp_set_i64(dt, buf, i, i < bits ? (int64_t)(UINT64_C(1) << i) : 0);
    int64_t len = bits + 1;
    int table = lp_emit_const(c, dt, 1, &len, buf, "pow2");
    if (table < 0 || idx < 0) return -1;
    int out = lp_emit_tensor(c, dt, T(idx)->rank, T(idx)->dims, "pow2");
    int in[2] = {table, idx};
    if (out < 0 || lp_emit_op(c, LP_TFL_GATHER, in, 2, &out, 1) < 0) return -1;
    return out;
}

/* logical right shift of int32 words by s (int32, 0..31) */
static int lsr32(lp_ctx *c, int x, int s) {
    return bitcast(c, ew_bin(c, LP_TFL_RIGHT_SHIFT, bitcast(c, x, LP_DT_U32, -1), bitcast(c, s, LP_DT_U32, -1), -1),
                   LP_DT_I32, -1);
}

/* one word (0 = low, 1 = high) of int32 pairs p [..., 2] */
static int word(lp_ctx *c, int p, int w) {
    if (p < 0) return -1;
    lp_tensor *t = T(p);
    int32_t iw = w;
    int idx = lp_emit_const(c, LP_DT_I32, 0, NULL, &iw, "word");
    int out = lp_emit_tensor(c, LP_DT_I32, t->rank - 1, t->dims, "word");
    int in[2] = {p, idx};
    int id = idx < 0 || out < 0 ? -1 : lp_emit_op(c, LP_TFL_GATHER, in, 2, &out, 1);
    if (id < 0) return -1;
    lp_emit_params(c, id)->axis = t->rank - 1;
    return out;
}

/* 64-bit right shift on (lo, hi) int32 words, s in 0..63 (int32):
 *   s < 32:  lo' = (lo >>> s) | (hi << (32 - s)),  hi' = hi >> s
 *   s >= 32: lo' = hi >> (s - 32),                  hi' = hi >> 31 (or 0 when logical)
 * where >> is arithmetic for signed types and logical for unsigned ones; the two parts of lo' share
 * no bit, so | is an ADD; hi << (32 - s) is a multiplication by a table entry (0 for s = 0). */
static int shift_right64(lp_ctx *c, int x, int s, int sign, lp_dtype dt, int out) {
    int p = bitcast(c, x, LP_DT_I32, -1);
    int lo = word(c, p, 0), hi = word(c, p, 1);
    int lt32 = ew_bink(c, LP_TFL_LESS, s, 32.0, -1);
    int s_lo = ew_bink(c, LP_TFL_MINIMUM, s, 31.0, -1);                                 /* s when s < 32 */
    int s_hi = ew_bink(c, LP_TFL_MAXIMUM, ew_bink(c, LP_TFL_SUB, s, 32.0, -1), 0.0, -1); /* s - 32 when s >= 32 */
    int up = ew_bin(c, LP_TFL_MUL, hi, pow2(c, ew_kbin(c, LP_TFL_SUB, 32.0, s_lo, -1), 32, LP_DT_I32), -1);
    int lo_a = ew_bin(c, LP_TFL_ADD, lsr32(c, lo, s_lo), up, -1);
    int lo_b = sign ? ew_bin(c, LP_TFL_RIGHT_SHIFT, hi, s_hi, -1) : lsr32(c, hi, s_hi);
    int hi_a = sign ? ew_bin(c, LP_TFL_RIGHT_SHIFT, hi, s_lo, -1) : lsr32(c, hi, s_lo);
    int hi_b = sign ? ew_bin(c, LP_TFL_RIGHT_SHIFT, hi, ew_ki(c, LP_DT_I32, 31), -1) : ew_ki(c, LP_DT_I32, 0);
    int nlo = ew_sel(c, lt32, lo_a, lo_b, -1);
    int nhi = ew_sel(c, lt32, hi_a, hi_b, -1);
    if (nlo < 0 || nhi < 0) return -1;
    /* both words have the broadcast shape of x and s: pack them back into pairs */
    lp_tensor *t = T(nlo);
    int64_t dims[LP_MAX_RANK];
    int rank = t->rank;
    if (rank >= LP_MAX_RANK) return -1;
    memcpy(dims, t->dims, sizeof dims);
    dims[rank++] = 2;
    int pk = lp_emit_tensor(c, LP_DT_I32, rank, dims, "words");
    int in[2] = {nlo, nhi};
    int id = pk < 0 ? -1 : lp_emit_op(c, LP_TFL_PACK, in, 2, &pk, 1);
    if (id < 0) return -1;
    lp_emit_params(c, id)->num = 2;
    lp_emit_params(c, id)->axis = rank - 1;
    return bitcast(c, pk, dt, out);
}

static lp_status bitshift_lower(lp_ctx *c, const lp_node *n) {
    int x = n->in[0], y = n->in[1], out = n->out[0];
    int left = shift_left(n, c);
    if (left < 0) return c->err->code;
    lp_dtype dt = T(x)->dtype;
    int bits = (int)lp_dtype_size(dt) * 8, sign = !is_unsigned(dt);
    int idx = shift_index(c, y, bits); /* 0..bits-1, or bits when out of range */
    if (left) {
        /* x * 2^s, wrapping; the table's last entry (0) gives the out-of-range result */
        if (bits == 64) {
            int xi = dt == LP_DT_I64 ? x : bitcast(c, x, LP_DT_I64, -1);
            int r = ew_bin(c, LP_TFL_MUL, xi, pow2(c, idx, 64, LP_DT_I64), dt == LP_DT_I64 ? out : -1);
            return ew_done(c, dt == LP_DT_I64 ? r : bitcast(c, r, dt, out));
        }
        int r = ew_bin(c, LP_TFL_MUL, as_i32(c, x), pow2(c, idx, bits, LP_DT_I32), -1);
        return ew_done(c, from_i32(c, r, dt, out));
    }
    /* right: out of range acts as a shift by bits - 1 for signed types (the sign fill) and gives 0
     * for unsigned ones */
    int s = ew_bink(c, LP_TFL_MINIMUM, idx, bits - 1, -1);
    int r;
    if (bits == 64) r = shift_right64(c, x, s, sign, LP_DT_I64, dt == LP_DT_I64 ? out : -1);
    else r = ew_bin(c, LP_TFL_RIGHT_SHIFT, x, ew_cast(c, s, dt, -1), sign ? out : -1);
    if (sign) return ew_done(c, r);
    /* (uint64 stays in its int64 view: no TFLite kernel but BITCAST takes uint64) */
    lp_dtype vt = bits == 64 ? LP_DT_I64 : dt;
    r = ew_sel(c, ew_bink(c, LP_TFL_EQUAL, idx, bits, -1), ew_ki(c, vt, 0), r, vt == dt ? out : -1);
    return ew_done(c, vt == dt ? r : bitcast(c, r, dt, out));
}

static int64_t fi_shift(int64_t a, int64_t b, const lp_node *n, lp_dtype dt) {
    int bits = (int)lp_dtype_size(dt) * 8;
    const lp_attr *d = lp_node_attr(n, "direction");
    int left = d && d->s && strcmp(d->s, "LEFT") == 0;
    uint64_t mask = bits == 64 ? ~UINT64_C(0) : (UINT64_C(1) << bits) - 1;
    if (!is_unsigned(dt) && b < 0) b = bits;
    if (is_unsigned(dt)) b = (int64_t)((uint64_t)b & mask);
    if ((uint64_t)b >= (uint64_t)bits) return (!left && !is_unsigned(dt) && a < 0) ? -1 : 0;
    if (left) return (int64_t)(((uint64_t)a << b) & mask);
    if (is_unsigned(dt)) return (int64_t)(((uint64_t)a & mask) >> b);
    return a < 0 ? ~(~a >> b) : a >> b; /* arithmetic shift without relying on >> of negatives */
}
static lp_status bitshift_eval(lp_ctx *c, const lp_node *n) { return ew_eval_f2(c, n, NULL, fi_shift); }

const lp_op_impl lp_impl_BitShift = {bitshift_infer, bitshift_eval, bitshift_lower};

/* ---------------- BitCast ---------------- */

static int tflite_has_type(lp_dtype d) {
    return lp_dtype_size(d) > 0 && d != LP_DT_F8 && d != LP_DT_STRING && d != LP_DT_OTHER;
}

static lp_status bitcast_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    int64_t to = lp_attr_i(c, n, "to", LP_DT_UNDEF);
    if (c->err->code) return c->err->code;
    if (to <= LP_DT_UNDEF || to >= LP_DT_COUNT)
        return lp_fail(c, LP_ERR_INVALID, "attribute 'to' is missing or invalid");
    if (lp_dtype_size((lp_dtype)to) != lp_dtype_size(x->dtype) || lp_dtype_size(x->dtype) == 0)
        return lp_fail(c, LP_ERR_INVALID, "BitCast from %s to %s: the bit widths differ", lp_dtype_name(x->dtype),
                       lp_dtype_name((lp_dtype)to));
    lp_set_out(c, n, 0, (lp_dtype)to, x->rank, x->dims);
    return LP_OK;
}

static lp_status bitcast_eval(lp_ctx *c, const lp_node *n) {
    memcpy(lp_out_data(c, n, 0), T(n->in[0])->data, T(n->out[0])->nbytes);
    return LP_OK;
}

static lp_status bitcast_lower(lp_ctx *c, const lp_node *n) {
    lp_dtype from = T(n->in[0])->dtype, to = T(n->out[0])->dtype;
    if (!tflite_has_type(from) || !tflite_has_type(to))
        return lp_fail(c, LP_ERR_UNSUPPORTED, "BitCast from %s to %s: TFLite has no such tensor type",
                       lp_dtype_name(from), lp_dtype_name(to));
    if (from == to) return ew_done(c, lp_emit_identity(c, n->in[0], n->out[0]));
    return ew_done(c, bitcast(c, n->in[0], to, n->out[0]));
}

const lp_op_impl lp_impl_BitCast = {bitcast_infer, bitcast_eval, bitcast_lower};
