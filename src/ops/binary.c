/* Elementwise binary (numpy broadcasting) ops, comparisons, variadic Max/Min and Where. */
#include <math.h>
#include <string.h>

#include "ew.h"

#define T(id) lp_T(c, (id))

static int is_compare(lp_op op) {
    return op == LP_OP_Equal || op == LP_OP_Less || op == LP_OP_Greater || op == LP_OP_GreaterOrEqual ||
           op == LP_OP_LessOrEqual;
}

static int64_t iop(lp_op op, int64_t a, int64_t b);

/* a comparison of shape values: sizes are >= 0, so a size compares with a negative number (the
 * -1 of "infer this dim" in exported shape arithmetic) the same way whatever it is; a size
 * equals itself. Returns 0/1, or -1 when unknown. */
static int compare_sv(lp_op op, int32_t sa, int64_t va, int32_t sb, int64_t vb) {
    if (!sa && !sb) return (int)iop(op, va, vb);
    if (sa && sb) {
        if (sa != sb) return -1;
        return op == LP_OP_Equal || op == LP_OP_GreaterOrEqual || op == LP_OP_LessOrEqual;
    }
    /* size s against number v < 0: s > v */
    int flip = sb != 0;
    int64_t v = flip ? va : vb;
    if (v >= 0) return -1;
    switch (op) {
    case LP_OP_Equal: return 0;
    case LP_OP_Less: case LP_OP_LessOrEqual: return flip;      /* s < v is false; v < s is true */
    case LP_OP_Greater: case LP_OP_GreaterOrEqual: return !flip;
    default: return -1;
    }
}

/* symbolic arithmetic on shape values: known op known is known, x*1, x+0, x-0, x/1 keep the symbol */
static lp_status binary_sv(lp_ctx *c, const lp_node *n) {
    lp_symval a, b;
    lp_tensor *y = T(n->out[0]);
    if (y->rank > 1 || !lp_sv_get(c, n->in[0], &a) || !lp_sv_get(c, n->in[1], &b)) return LP_OK;
    if (is_compare(n->op) && y->dtype == LP_DT_BOOL) {
        int64_t ne = lp_tensor_numel(y);
        if (ne < 0 || ne > LP_MAX_SV || (a.n != ne && a.n != 1) || (b.n != ne && b.n != 1)) return LP_OK;
        lp_symval o = {0};
        o.n = (int)ne;
        for (int i = 0; i < o.n; i++) {
            int ia = a.n == 1 ? 0 : i, ib = b.n == 1 ? 0 : i;
            int r = compare_sv(n->op, a.sym[ia], a.v[ia], b.sym[ib], b.v[ib]);
            if (r < 0) return LP_OK;
            o.v[i] = r;
        }
        return lp_sv_set(c, n->out[0], &o);
    }
    if (!lp_dtype_is_int(y->dtype)) return LP_OK;
    int64_t ne = lp_tensor_numel(y);
    if (ne < 0 || ne > LP_MAX_SV || (a.n != ne && a.n != 1) || (b.n != ne && b.n != 1)) return LP_OK;
    lp_symval o = {0};
    o.n = (int)ne;
    for (int i = 0; i < o.n; i++) {
        int ia = a.n == 1 ? 0 : i, ib = b.n == 1 ? 0 : i;
        int32_t sa = a.sym[ia], sb = b.sym[ib];
        int64_t va = a.v[ia], vb = b.v[ib];
        if (!sa && !sb) {
            switch (n->op) {
            /* wrapping, like the folded kernels (iop) and onnxruntime */
            case LP_OP_Add: o.v[i] = lp_wrap_add(va, vb); break;
            case LP_OP_Sub: o.v[i] = lp_wrap_sub(va, vb); break;
            case LP_OP_Mul: o.v[i] = lp_wrap_mul(va, vb); break;
            case LP_OP_Div:
                if (vb == 0) return LP_OK;
                o.v[i] = lp_wrap_div(va, vb);
                break;
            default: return LP_OK;
            }
        } else if (sa && !sb && ((n->op == LP_OP_Mul && vb == 1) || (n->op == LP_OP_Div && vb == 1) ||
                                 ((n->op == LP_OP_Add || n->op == LP_OP_Sub) && vb == 0))) {
            o.sym[i] = sa;
        } else if (sb && !sa && ((n->op == LP_OP_Mul && va == 1) || (n->op == LP_OP_Add && va == 0))) {
            o.sym[i] = sb;
        } else {
            o.sym[i] = (int32_t)-lp_graph_new_sym(c->g, NULL);
        }
    }
    return lp_sv_set(c, n->out[0], &o);
}

static lp_status binary_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *a = T(n->in[0]), *b = T(n->in[1]);
    if (a->dtype != b->dtype && n->op != LP_OP_Pow)
        return lp_fail(c, LP_ERR_INVALID, "input types differ (%s and %s)", lp_dtype_name(a->dtype),
                       lp_dtype_name(b->dtype));
    int rank;
    int64_t dims[LP_MAX_RANK];
    LP_TRY(lp_broadcast(c, a, b, &rank, dims));
    lp_set_out(c, n, 0, is_compare(n->op) ? LP_DT_BOOL : a->dtype, rank, dims);
    if (rank < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "input ranks are unknown");
    return binary_sv(c, n);
}

static double fop(lp_op op, double a, double b) {
    switch (op) {
    case LP_OP_Add: return a + b;
    case LP_OP_Sub: return a - b;
    case LP_OP_Mul: return a * b;
    case LP_OP_Div: return a / b;
    case LP_OP_Pow: return pow(a, b);
    case LP_OP_Equal: return a == b;
    case LP_OP_Less: return a < b;
    case LP_OP_Greater: return a > b;
    case LP_OP_GreaterOrEqual: return a >= b;
    case LP_OP_LessOrEqual: return a <= b;
    case LP_OP_Max: return a > b || a != a ? a : b;
    case LP_OP_Min: return a < b || a != a ? a : b;
    default: return 0;
    }
}

static int64_t iop(lp_op op, int64_t a, int64_t b) {
    switch (op) {
    case LP_OP_Add: return lp_wrap_add(a, b);
    case LP_OP_Sub: return lp_wrap_sub(a, b);
    case LP_OP_Mul: return lp_wrap_mul(a, b);
    case LP_OP_Div: return lp_wrap_div(a, b);
    case LP_OP_Pow: {
        int64_t r = 1;
        for (int64_t i = 0; i < b && i < 64; i++) r = (int64_t)((uint64_t)r * (uint64_t)a); /* wraps */
        return r;
    }
    case LP_OP_Equal: return a == b;
    case LP_OP_Less: return a < b;
    case LP_OP_Greater: return a > b;
    case LP_OP_GreaterOrEqual: return a >= b;
    case LP_OP_LessOrEqual: return a <= b;
    case LP_OP_Max: return a > b ? a : b;
    case LP_OP_Min: return a < b ? a : b;
    default: return 0;
    }
}

/* offset of output index idx into an input of shape x broadcast to y's rank */
static int64_t bcast_offset(const lp_tensor *x, const lp_tensor *y, const int64_t *idx) {
    int off = y->rank - x->rank;
    int64_t o = 0, s = 1;
    for (int d = x->rank - 1; d >= 0; d--) {
        int64_t i = x->dims[d] == 1 ? 0 : idx[d + off];
        o += i * s;
        s *= x->dims[d];
    }
    return o;
}

/* y = a op b over broadcast shapes; a, b, y may be any numeric tensors */
static void eval_pair(lp_op op, const lp_tensor *a, const void *ad, const lp_tensor *b, const void *bd,
                      const lp_tensor *y, void *yd) {
    int64_t ne = lp_tensor_numel(y), idx[LP_MAX_RANK] = {0};
    int as_int = lp_dtype_is_int(a->dtype) || a->dtype == LP_DT_BOOL;
    for (int64_t i = 0; i < ne; i++) {
        int64_t oa = bcast_offset(a, y, idx), ob = bcast_offset(b, y, idx);
        if (as_int && (lp_dtype_is_int(b->dtype) || b->dtype == LP_DT_BOOL))
            lp_set_i64(y->dtype, yd, i, iop(op, lp_get_i64(a->dtype, ad, oa), lp_get_i64(b->dtype, bd, ob)));
        else
            lp_set_f64(y->dtype, yd, i, fop(op, lp_get_f64(a->dtype, ad, oa), lp_get_f64(b->dtype, bd, ob)));
        for (int d = y->rank - 1; d >= 0; d--) {
            if (++idx[d] < y->dims[d]) break;
            idx[d] = 0;
        }
    }
}

static lp_status binary_eval(lp_ctx *c, const lp_node *n) {
    lp_tensor *a = T(n->in[0]), *b = T(n->in[1]), *y = T(n->out[0]);
    eval_pair(n->op, a, a->data, b, b->data, y, lp_out_data(c, n, 0));
    return LP_OK;
}

static lp_op tfl_of(lp_op op) {
    switch (op) {
    case LP_OP_Add: return LP_TFL_ADD;
    case LP_OP_Sub: return LP_TFL_SUB;
    case LP_OP_Mul: return LP_TFL_MUL;
    case LP_OP_Div: return LP_TFL_DIV;
    case LP_OP_Pow: return LP_TFL_POW;
    case LP_OP_Equal: return LP_TFL_EQUAL;
    case LP_OP_Less: return LP_TFL_LESS;
    case LP_OP_Greater: return LP_TFL_GREATER;
    case LP_OP_GreaterOrEqual: return LP_TFL_GREATER_EQUAL;
    case LP_OP_LessOrEqual: return LP_TFL_LESS_EQUAL;
    case LP_OP_Max: return LP_TFL_MAXIMUM;
    case LP_OP_Min: return LP_TFL_MINIMUM;
    default: return LP_OP_COUNT;
    }
}

/* Integer division of int64 (and uint32, uint64) values: TFLite's DIV and FLOOR_DIV run int32 at
 * most, but FLOOR_MOD, MUL and SUB run int64. r = a mod b (floor) makes m = a - r an exact
 * multiple of b; its quotient is estimated in float32 and corrected twice with the exact int64
 * remainder (each estimate has a relative error below 2^-22, so the error falls from 2^41 to 2^19
 * to below 1/8, and rounding is then exact). ONNX truncates toward zero: the floor quotient is 1
 * too small when r != 0 and a, b have different signs. */
static int div_int64(lp_ctx *c, int a, int b, int out, int is_signed) {
    int r = ew_bin(c, LP_TFL_FLOOR_MOD, a, b, -1);
    int m = ew_bin(c, LP_TFL_SUB, a, r, -1);
    int bf = ew_cast(c, b, LP_DT_F32, -1);
    int q = -1;
    for (int step = 0; step < 3; step++) {
        int d = step == 0 ? m : ew_bin(c, LP_TFL_SUB, m, ew_bin(c, LP_TFL_MUL, q, b, -1), -1);
        int est = ew_un(c, LP_TFL_ROUND, ew_bin(c, LP_TFL_DIV, ew_cast(c, d, LP_DT_F32, -1), bf, -1), -1);
        est = ew_cast(c, est, LP_DT_I64, -1);
        int last = step == 2 && !is_signed;
        q = step == 0 ? est : ew_bin(c, LP_TFL_ADD, q, est, last ? out : -1);
    }
    if (!is_signed) return q;
    int signs =
        ew_bin(c, LP_TFL_NOT_EQUAL, ew_bink(c, LP_TFL_LESS, a, 0.0, -1), ew_bink(c, LP_TFL_LESS, b, 0.0, -1), -1);
    int adj = ew_bin(c, LP_TFL_LOGICAL_AND, ew_bink(c, LP_TFL_NOT_EQUAL, r, 0.0, -1), signs, -1);
    return ew_bin(c, LP_TFL_ADD, q, ew_cast(c, adj, LP_DT_I64, -1), out);
}

static lp_status binary_lower(lp_ctx *c, const lp_node *n) {
    lp_tensor *b = T(n->in[1]);
    lp_dtype at = T(n->in[0])->dtype;
    if (n->op == LP_OP_Div && (at == LP_DT_I64 || at == LP_DT_U32 || at == LP_DT_U64)) {
        /* uint32 fits int64 exactly; uint64 is reinterpreted (values below 2^63 divide right) */
        int y = n->out[0], direct = at == LP_DT_I64 ? y : -1;
        int a64 = ew_cast(c, n->in[0], LP_DT_I64, -1), b64 = ew_cast(c, n->in[1], LP_DT_I64, -1);
        int q = div_int64(c, a64, b64, direct, at == LP_DT_I64);
        return ew_done(c, q == y ? q : ew_cast(c, q, at, y));
    }
    if (n->op == LP_OP_Pow && lp_dtype_is_int(at) && lp_dtype_is_float(b->dtype)) {
        /* an integer base with a float exponent: the power in float, truncated back (the reference
         * computes np.power in float64 and casts) */
        int p = ew_bin(c, LP_TFL_POW, ew_cast(c, n->in[0], LP_DT_F32, -1), ew_cast(c, n->in[1], LP_DT_F32, -1), -1);
        return ew_done(c, ew_cast(c, p, at, n->out[0]));
    }
    double e;
    if (n->op == LP_OP_Pow && lp_const_scalar(c, n->in[1], &e) && lp_dtype_is_float(T(n->in[0])->dtype) &&
        lp_dims_equal(T(n->in[0])->dims, T(n->out[0])->dims, T(n->out[0])->rank) && T(n->in[0])->rank == T(n->out[0])->rank) {
        /* common exponents as cheaper exact kernels */
        if (e == 2.0) {
            int in[2] = {n->in[0], n->in[0]};
            return lp_emit_op(c, LP_TFL_MUL, in, 2, &n->out[0], 1) < 0 ? c->err->code : LP_OK;
        }
        if (e == 1.0) return lp_emit_identity(c, n->in[0], n->out[0]) < 0 ? c->err->code : LP_OK;
        if (e == 0.5) return lp_emit_op(c, LP_TFL_SQRT, &n->in[0], 1, &n->out[0], 1) < 0 ? c->err->code : LP_OK;
    }
    int in[2] = {n->in[0], n->in[1]};
    if (n->op == LP_OP_Pow && b->dtype != T(n->in[0])->dtype) {
        in[1] = lp_emit_cast(c, n->in[1], T(n->in[0])->dtype, -1);
        if (in[1] < 0) return c->err->code;
    }
    return lp_emit_op(c, tfl_of(n->op), in, 2, &n->out[0], 1) < 0 ? c->err->code : LP_OK;
}

const lp_op_impl lp_impl_Add = {binary_infer, binary_eval, binary_lower};
const lp_op_impl lp_impl_Sub = {binary_infer, binary_eval, binary_lower};
const lp_op_impl lp_impl_Mul = {binary_infer, binary_eval, binary_lower};
const lp_op_impl lp_impl_Div = {binary_infer, binary_eval, binary_lower};
const lp_op_impl lp_impl_Pow = {binary_infer, binary_eval, binary_lower};
const lp_op_impl lp_impl_Equal = {binary_infer, binary_eval, binary_lower};
const lp_op_impl lp_impl_Less = {binary_infer, binary_eval, binary_lower};
const lp_op_impl lp_impl_Greater = {binary_infer, binary_eval, binary_lower};
const lp_op_impl lp_impl_GreaterOrEqual = {binary_infer, binary_eval, binary_lower};
const lp_op_impl lp_impl_LessOrEqual = {binary_infer, binary_eval, binary_lower};

/* ---------------- variadic Max / Min ---------------- */

static lp_status variadic_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor acc = *T(n->in[0]);
    for (int i = 1; i < n->n_in; i++) {
        lp_tensor *x = T(n->in[i]);
        if (x->dtype != acc.dtype) return lp_fail(c, LP_ERR_INVALID, "input types differ");
        int rank;
        int64_t dims[LP_MAX_RANK];
        LP_TRY(lp_broadcast(c, &acc, x, &rank, dims));
        acc.rank = rank;
        memcpy(acc.dims, dims, sizeof dims);
    }
    lp_set_out(c, n, 0, acc.dtype, acc.rank, acc.dims);
    return LP_OK;
}

static lp_status variadic_eval(lp_ctx *c, const lp_node *n) {
    lp_tensor *y = T(n->out[0]);
    void *yd = lp_out_data(c, n, 0);
    lp_tensor *x0 = T(n->in[0]);
    /* y starts as x0 broadcast, then folds in every other input */
    int64_t ne = lp_tensor_numel(y), idx[LP_MAX_RANK] = {0};
    size_t es = lp_dtype_size(y->dtype);
    for (int64_t i = 0; i < ne; i++) {
        memcpy((uint8_t *)yd + (size_t)i * es, (const uint8_t *)x0->data + (size_t)bcast_offset(x0, y, idx) * es, es);
        for (int d = y->rank - 1; d >= 0; d--) {
            if (++idx[d] < y->dims[d]) break;
            idx[d] = 0;
        }
    }
    for (int k = 1; k < n->n_in; k++) {
        lp_tensor *x = T(n->in[k]);
        eval_pair(n->op, y, yd, x, x->data, y, yd);
    }
    return LP_OK;
}

static lp_status variadic_lower(lp_ctx *c, const lp_node *n) {
    if (n->n_in == 1) return lp_emit_identity(c, n->in[0], n->out[0]) < 0 ? c->err->code : LP_OK;
    lp_tensor *y = T(n->out[0]);
    int cur = n->in[0];
    for (int k = 1; k < n->n_in; k++) {
        int out = k == n->n_in - 1 ? n->out[0] : lp_emit_tensor(c, y->dtype, y->rank, y->dims, "acc");
        int in[2] = {cur, n->in[k]};
        if (out < 0 || lp_emit_op(c, tfl_of(n->op), in, 2, &out, 1) < 0) return c->err->code;
        cur = out;
    }
    return LP_OK;
}

const lp_op_impl lp_impl_Max = {variadic_infer, variadic_eval, variadic_lower};
const lp_op_impl lp_impl_Min = {variadic_infer, variadic_eval, variadic_lower};

/* ---------------- Where ---------------- */

static lp_status where_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *cond = T(n->in[0]), *a = T(n->in[1]), *b = T(n->in[2]);
    if (cond->dtype != LP_DT_BOOL) return lp_fail(c, LP_ERR_INVALID, "condition must be bool");
    if (a->dtype != b->dtype) return lp_fail(c, LP_ERR_INVALID, "X and Y types differ");
    lp_tensor ab = *a;
    int rank;
    int64_t dims[LP_MAX_RANK];
    LP_TRY(lp_broadcast(c, a, b, &rank, dims));
    ab.rank = rank;
    memcpy(ab.dims, dims, sizeof dims);
    LP_TRY(lp_broadcast(c, cond, &ab, &rank, dims));
    lp_set_out(c, n, 0, a->dtype, rank, dims);
    /* shape values chosen by a known condition (exported Expand/Reshape arithmetic) */
    lp_symval sc, sa, sb;
    lp_tensor *y = T(n->out[0]);
    int64_t ne = lp_tensor_numel(y);
    if (!lp_dtype_is_int(y->dtype) || y->rank > 1 || ne < 0 || ne > LP_MAX_SV || !lp_sv_get(c, n->in[0], &sc) ||
        !lp_sv_known(&sc) || !lp_sv_get(c, n->in[1], &sa) || !lp_sv_get(c, n->in[2], &sb))
        return LP_OK;
    if ((sc.n != ne && sc.n != 1) || (sa.n != ne && sa.n != 1) || (sb.n != ne && sb.n != 1)) return LP_OK;
    lp_symval o = {0};
    o.n = (int)ne;
    for (int i = 0; i < o.n; i++) {
        const lp_symval *src = sc.v[sc.n == 1 ? 0 : i] ? &sa : &sb;
        int k = src->n == 1 ? 0 : i;
        o.v[i] = src->v[k];
        o.sym[i] = src->sym[k];
    }
    return lp_sv_set(c, n->out[0], &o);
}

static lp_status where_eval(lp_ctx *c, const lp_node *n) {
    lp_tensor *cond = T(n->in[0]), *a = T(n->in[1]), *b = T(n->in[2]), *y = T(n->out[0]);
    int64_t ne = lp_tensor_numel(y), idx[LP_MAX_RANK] = {0};
    size_t es = lp_dtype_size(y->dtype);
    uint8_t *yd = lp_out_data(c, n, 0);
    for (int64_t i = 0; i < ne; i++) {
        int64_t oc = bcast_offset(cond, y, idx);
        const lp_tensor *src = ((const uint8_t *)cond->data)[oc] ? a : b;
        memcpy(yd + (size_t)i * es, (const uint8_t *)src->data + (size_t)bcast_offset(src, y, idx) * es, es);
        for (int d = y->rank - 1; d >= 0; d--) {
            if (++idx[d] < y->dims[d]) break;
            idx[d] = 0;
        }
    }
    return LP_OK;
}

static lp_status where_lower(lp_ctx *c, const lp_node *n) {
    int in[3] = {n->in[0], n->in[1], n->in[2]};
    return lp_emit_op(c, LP_TFL_SELECT_V2, in, 3, &n->out[0], 1) < 0 ? c->err->code : LP_OK;
}

const lp_op_impl lp_impl_Where = {where_infer, where_eval, where_lower};
