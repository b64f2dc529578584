/* Selection, arg/top-k and scans: ArgMax, ArgMin, TopK, CumSum, CumProd, OneHot, NonZero, Trilu,
 * Compress, Unique, ReverseSequence.
 *
 * Scalars that ONNX passes as tensors (TopK's k, CumSum's axis, OneHot's depth and values, Trilu's
 * k) may be runtime inputs: they are fed to TFLite kernels that read them at run time where one
 * exists, and the output dims they decide become symbols. Ops whose output size depends on data
 * (NonZero, Compress) use TFLite's WHERE, whose output is resized at run time. */
#include <math.h>
#include <string.h>

#include "ops.h"

#define T(id) lp_T(c, (id))

/* ---------------- small emitters ---------------- */

/* op(in...) into a new tensor of dtype dt and the given dims */
static int emit_new(lp_ctx *c, lp_op op, const int *in, int n_in, lp_dtype dt, int rank, const int64_t *dims,
                    const char *hint) {
    int out = lp_emit_tensor(c, dt, rank, dims, hint);
    if (out < 0 || lp_emit_op(c, op, in, n_in, &out, 1) < 0) return -1;
    return out;
}

/* op(a, b) with numpy broadcasting, into out (or a new tensor of dtype dt) */
static int emit_bin(lp_ctx *c, lp_op op, int a, int b, lp_dtype dt, int out, const char *hint) {
    if (out < 0) {
        int rank;
        int64_t dims[LP_MAX_RANK];
        if (lp_broadcast(c, T(a), T(b), &rank, dims) != LP_OK) return -1;
        out = lp_emit_tensor(c, dt, rank, dims, hint);
    }
    int in[2] = {a, b};
    if (out < 0 || lp_emit_op(c, op, in, 2, &out, 1) < 0) return -1;
    return out;
}

/* op(a) shaped like a */
static int emit_un(lp_ctx *c, lp_op op, int a, int out, const char *hint) {
    if (out < 0) out = lp_emit_tensor(c, T(a)->dtype, T(a)->rank, T(a)->dims, hint);
    if (out < 0 || lp_emit_op(c, op, &a, 1, &out, 1) < 0) return -1;
    return out;
}

static int emit_i32_scalar(lp_ctx *c, int32_t v, const char *hint) {
    return lp_emit_const(c, LP_DT_I32, 0, NULL, &v, hint);
}

/* a runtime scalar-like tensor (shape [] or [1]) as an int32 scalar of shape [] */
static int runtime_i32_scalar(lp_ctx *c, int t, const char *hint) {
    int cur = t;
    if (T(t)->dtype != LP_DT_I32) cur = lp_emit_cast(c, t, LP_DT_I32, -1);
    if (cur < 0) return -1;
    if (T(cur)->rank != 0) cur = lp_emit_reshape(c, cur, 0, NULL, -1);
    (void)hint;
    return cur;
}

static lp_status done(lp_ctx *c, int r) { return r < 0 ? (c->err->code ? c->err->code : LP_ERR_INTERNAL) : LP_OK; }

/* permutation moving `axis` last, and its inverse */
static void perm_axis_last(int rank, int axis, int *perm, int *inv) {
    int k = 0;
    for (int i = 0; i < rank; i++)
        if (i != axis) perm[k++] = i;
    perm[rank - 1] = axis;
    for (int i = 0; i < rank; i++) inv[perm[i]] = i;
}

/* ---------------- ArgMax / ArgMin ---------------- */

static lp_status arg_params(lp_ctx *c, const lp_node *n, int *axis, int *keep, int *last) {
    lp_tensor *x = T(n->in[0]);
    LP_TRY(lp_need_rank(c, x, "input"));
    if (x->rank == 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "a scalar input has no axis to reduce");
    LP_TRY(lp_axis(c, lp_attr_i(c, n, "axis", 0), x->rank, axis, "axis"));
    *keep = (int)lp_attr_i(c, n, "keepdims", 1);
    *last = (int)lp_attr_i(c, n, "select_last_index", 0);
    return c->err->code;
}

static lp_status arg_infer(lp_ctx *c, const lp_node *n) {
    int axis, keep, last;
    LP_TRY(arg_params(c, n, &axis, &keep, &last));
    lp_tensor *x = T(n->in[0]);
    int64_t dims[LP_MAX_RANK];
    int r = 0;
    for (int i = 0; i < x->rank; i++) {
        if (i != axis) dims[r++] = x->dims[i];
        else if (keep) dims[r++] = 1;
    }
    lp_set_out(c, n, 0, LP_DT_I64, r, dims);
    return LP_OK;
}

/* the reduction of x over `axis` (int32 axes const ax) into out (or a new tensor) */
static int emit_reduce1(lp_ctx *c, lp_op op, int x, int ax, int axis, int keep, int out) {
    lp_tensor *X = T(x);
    int64_t dims[LP_MAX_RANK];
    int r = 0;
    for (int i = 0; i < X->rank; i++) {
        if (i != axis) dims[r++] = X->dims[i];
        else if (keep) dims[r++] = 1;
    }
    if (out < 0) out = lp_emit_tensor(c, X->dtype, r, dims, "reduced");
    int in[2] = {x, ax};
    int id = out < 0 ? -1 : lp_emit_op(c, op, in, 2, &out, 1);
    if (id < 0) return -1;
    lp_emit_params(c, id)->keep_dims = keep;
    return out;
}

/* ARG_MAX has no int64 kernel and a cast to int32 could reorder values: the index is the
 * smallest (largest, for select_last_index) position where x equals its extreme */
static lp_status arg_lower_by_compare(lp_ctx *c, const lp_node *n, int axis, int keep, int last, int ai) {
    int x = n->in[0];
    lp_tensor *X = T(x);
    int64_t len = X->dims[axis];
    if (len < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "ArgMax/ArgMin of %s needs a static axis size",
                                lp_dtype_name(X->dtype));
    int64_t *iota = lp_table_alloc(c, len, sizeof(int64_t), "table of positions");
    if (!iota) return c->err->code;
    for (int64_t i = 0; i < len; i++) iota[i] = i;
    int64_t idims[LP_MAX_RANK];
    for (int i = 0; i < X->rank; i++) idims[i] = i == axis ? len : 1;
    int io = lp_emit_const(c, LP_DT_I64, X->rank, idims, iota, "iota");
    int m = emit_reduce1(c, n->op == LP_OP_ArgMax ? LP_TFL_REDUCE_MAX : LP_TFL_REDUCE_MIN, x, ai, axis, 1, -1);
    int eq = m < 0 ? -1 : emit_bin(c, LP_TFL_EQUAL, x, m, LP_DT_BOOL, -1, "is_extreme");
    int other = lp_emit_scalar(c, LP_DT_I64, last ? -1.0 : (double)len, "none");
    if (io < 0 || eq < 0 || other < 0) return c->err->code;
    int in[3] = {eq, io, other};
    int sel = emit_new(c, LP_TFL_SELECT_V2, in, 3, LP_DT_I64, X->rank, X->dims, "positions");
    if (sel < 0) return c->err->code;
    return done(c, emit_reduce1(c, last ? LP_TFL_REDUCE_MAX : LP_TFL_REDUCE_MIN, sel, ai, axis, keep, n->out[0]));
}

static lp_status arg_lower(lp_ctx *c, const lp_node *n) {
    int axis, keep, last;
    LP_TRY(arg_params(c, n, &axis, &keep, &last));
    int x = n->in[0], y = n->out[0];
    lp_tensor *X = T(x);
    int64_t len = X->dims[axis];
    int cur = x;
    int32_t a32 = axis;
    int ai = lp_emit_i32(c, &a32, 1, "axis");
    if (ai < 0) return c->err->code;
    if (X->dtype == LP_DT_I64 || X->dtype == LP_DT_U32 || X->dtype == LP_DT_U64)
        return arg_lower_by_compare(c, n, axis, keep, last, ai);
    if (last) {
        /* the last extreme is the first one of the reversed axis: index = len - 1 - index' */
        if (len < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "select_last_index=1 needs a static size of the axis");
        int in[2] = {x, ai};
        cur = emit_new(c, LP_TFL_REVERSE_V2, in, 2, X->dtype, X->rank, X->dims, "reversed");
        if (cur < 0) return c->err->code;
    }
    int64_t dims[LP_MAX_RANK];
    int r = 0;
    for (int i = 0; i < X->rank; i++)
        if (i != axis) dims[r++] = X->dims[i];
    int direct = !keep && !last;
    int idx = direct ? y : lp_emit_tensor(c, LP_DT_I64, r, dims, "index");
    int in[2] = {cur, ai};
    int id = idx < 0 ? -1 : lp_emit_op(c, n->op == LP_OP_ArgMax ? LP_TFL_ARG_MAX : LP_TFL_ARG_MIN, in, 2, &idx, 1);
    if (id < 0) return c->err->code;
    lp_emit_params(c, id)->out_type = LP_DT_I64;
    if (last) {
        int k = lp_emit_scalar(c, LP_DT_I64, (double)(len - 1), "last");
        idx = k < 0 ? -1 : emit_bin(c, LP_TFL_SUB, k, idx, LP_DT_I64, keep ? -1 : y, "index");
        if (idx < 0) return c->err->code;
    }
    if (keep) {
        int e = emit_i32_scalar(c, axis, "axis");
        int in2[2] = {idx, e};
        if (e < 0 || lp_emit_op(c, LP_TFL_EXPAND_DIMS, in2, 2, &y, 1) < 0) return c->err->code;
    }
    return LP_OK;
}

const lp_op_impl lp_impl_ArgMax = {arg_infer, NULL, arg_lower};
const lp_op_impl lp_impl_ArgMin = {arg_infer, NULL, arg_lower};

/* ---------------- TopK ---------------- */

static lp_status topk_params(lp_ctx *c, const lp_node *n, int *axis, int64_t *k) {
    lp_tensor *x = T(n->in[0]);
    LP_TRY(lp_need_rank(c, x, "input"));
    if (x->rank == 0) return lp_fail(c, LP_ERR_INVALID, "TopK of a scalar");
    LP_TRY(lp_axis(c, lp_attr_i(c, n, "axis", -1), x->rank, axis, "axis"));
    *k = -1;
    if (n->opset < 10) {
        *k = lp_attr_i(c, n, "k", -1);
        if (*k < 0) return lp_fail(c, LP_ERR_INVALID, "attribute 'k' is missing");
    } else {
        if (!lp_has_in(n, 1)) return lp_fail(c, LP_ERR_INVALID, "input 'K' is missing");
        int64_t v[1];
        if (lp_known_ints(c, n, 1, v, 1) == 1) *k = v[0];
        else if (lp_tensor_numel(T(n->in[1])) != 1)
            return lp_fail(c, LP_ERR_INVALID, "input 'K' must hold exactly one value");
    }
    if (*k >= 0 && x->dims[*axis] >= 0 && *k > x->dims[*axis])
        return lp_fail(c, LP_ERR_INVALID, "k=%lld exceeds the axis size %lld", (long long)*k, (long long)x->dims[*axis]);
    return c->err->code;
}

static lp_status topk_infer(lp_ctx *c, const lp_node *n) {
    int axis;
    int64_t k;
    LP_TRY(topk_params(c, n, &axis, &k));
    lp_tensor *x = T(n->in[0]);
    int64_t dims[LP_MAX_RANK];
    memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
    dims[axis] = k >= 0 ? k : lp_graph_new_sym(c->g, NULL);
    lp_set_out(c, n, 0, x->dtype, x->rank, dims);
    lp_set_out(c, n, 1, LP_DT_I64, x->rank, dims);
    return LP_OK;
}

static int is_unsigned(lp_dtype t) { return t == LP_DT_U8 || t == LP_DT_U16 || t == LP_DT_U32 || t == LP_DT_U64; }

static lp_status topk_lower(lp_ctx *c, const lp_node *n) {
    int axis;
    int64_t k;
    LP_TRY(topk_params(c, n, &axis, &k));
    int largest = (int)lp_attr_i(c, n, "largest", 1);
    /* sorted=0 leaves the order unspecified; TOPK_V2's sorted order is one valid answer */
    int x = n->in[0];
    lp_tensor *X = T(x);
    lp_dtype dt = X->dtype;
    int r = X->rank;
    int vals_out = n->n_out > 0 ? n->out[0] : -1, idx_out = n->n_out > 1 ? n->out[1] : -1;
    int64_t ydims[LP_MAX_RANK];
    memcpy(ydims, T(vals_out >= 0 ? vals_out : idx_out)->dims, sizeof(int64_t) * (size_t)r);

    int perm[LP_MAX_RANK], inv[LP_MAX_RANK];
    int moved = axis != r - 1;
    perm_axis_last(r, axis, perm, inv);
    int cur = moved ? lp_emit_transpose(c, x, perm, -1) : x;
    if (cur < 0) return c->err->code;
    int64_t tdims[LP_MAX_RANK];
    for (int i = 0; i < r; i++) tdims[i] = ydims[perm[i]];

    /* smallest-k = largest-k of an order-reversing map: -x for floats (exact), -1 - x (= ~x, no
     * overflow) for signed integers; unsigned values are widened to int64 first */
    lp_dtype wdt = dt;
    if (!largest) {
        if (is_unsigned(dt)) {
            if (dt == LP_DT_U64) return lp_fail(c, LP_ERR_UNSUPPORTED, "largest=0 for uint64 input");
            wdt = LP_DT_I64;
            cur = lp_emit_cast(c, cur, wdt, -1);
        }
        if (cur >= 0) {
            if (lp_dtype_is_float(wdt)) {
                cur = emit_un(c, LP_TFL_NEG, cur, -1, "neg");
            } else {
                int m1 = lp_emit_scalar(c, wdt, -1, "minus_one");
                cur = m1 < 0 ? -1 : emit_bin(c, LP_TFL_SUB, m1, cur, wdt, -1, "flipped");
            }
        }
        if (cur < 0) return c->err->code;
    }
    int kt;
    if (k >= 0) kt = emit_i32_scalar(c, (int32_t)k, "k");
    else kt = runtime_i32_scalar(c, n->in[1], "k");
    if (kt < 0) return c->err->code;
    /* values straight into the output when nothing follows TOPK_V2 */
    int tv = largest && !moved && vals_out >= 0 ? vals_out : lp_emit_tensor(c, wdt, r, tdims, "values");
    int ti = lp_emit_tensor(c, LP_DT_I32, r, tdims, "indices");
    int in[2] = {cur, kt}, outs[2] = {tv, ti};
    if (tv < 0 || ti < 0 || lp_emit_op(c, LP_TFL_TOPK_V2, in, 2, outs, 2) < 0) return c->err->code;
    /* values back: undo the flip, the widening and the transpose */
    if (vals_out >= 0) {
        int v = tv;
        if (!largest) {
            int to = !moved && wdt == dt ? vals_out : -1;
            if (lp_dtype_is_float(wdt)) {
                v = emit_un(c, LP_TFL_NEG, v, to, "neg");
            } else {
                int m1 = lp_emit_scalar(c, wdt, -1, "minus_one");
                v = m1 < 0 ? -1 : emit_bin(c, LP_TFL_SUB, m1, v, wdt, to, "values");
            }
            if (v >= 0 && wdt != dt) v = lp_emit_cast(c, v, dt, moved ? -1 : vals_out);
        }
        if (v < 0) return c->err->code;
        if (moved) v = lp_emit_transpose(c, v, inv, vals_out);
        else if (v != vals_out) v = lp_emit_identity(c, v, vals_out);
        if (v < 0) return c->err->code;
    }
    if (idx_out >= 0) {
        int i64 = lp_emit_cast(c, ti, LP_DT_I64, moved ? -1 : idx_out);
        if (i64 < 0) return c->err->code;
        if (moved && lp_emit_transpose(c, i64, inv, idx_out) < 0) return c->err->code;
    }
    return LP_OK;
}

const lp_op_impl lp_impl_TopK = {topk_infer, NULL, topk_lower};

/* ---------------- CumSum / CumProd ---------------- */

static lp_status same_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    LP_TRY(lp_need_rank(c, x, "input"));
    lp_set_out(c, n, 0, x->dtype, x->rank, x->dims);
    return LP_OK;
}

/* the scan axis when known (constant, or the only axis of a 1-D input); -1 when runtime */
static lp_status scan_axis(lp_ctx *c, const lp_node *n, int *axis) {
    lp_tensor *x = T(n->in[0]);
    LP_TRY(lp_need_rank(c, x, "input"));
    if (x->rank == 0) return lp_fail(c, LP_ERR_INVALID, "a scan of a scalar");
    int64_t v[1];
    int k = lp_known_ints(c, n, 1, v, 1);
    if (k == 1) return lp_axis(c, v[0], x->rank, axis, "axis");
    if (lp_tensor_numel(T(n->in[1])) != 1) return lp_fail(c, LP_ERR_INVALID, "input 'axis' must hold one value");
    *axis = x->rank == 1 ? 0 : -1;
    return LP_OK;
}

static lp_status cumsum_lower(lp_ctx *c, const lp_node *n) {
    int axis;
    LP_TRY(scan_axis(c, n, &axis));
    int at = axis >= 0 ? emit_i32_scalar(c, axis, "axis") : runtime_i32_scalar(c, n->in[1], "axis");
    if (at < 0) return c->err->code;
    int in[2] = {n->in[0], at};
    int id = lp_emit_op(c, LP_TFL_CUMSUM, in, 2, &n->out[0], 1);
    if (id < 0) return c->err->code;
    lp_tfl_params *p = lp_emit_params(c, id);
    p->exclusive = (int)lp_attr_i(c, n, "exclusive", 0) != 0;
    p->reverse = (int)lp_attr_i(c, n, "reverse", 0) != 0;
    return c->err->code;
}

/* reference kernel: constant position arithmetic (e.g. cumsum of a mask) folds */
static lp_status cumsum_eval(lp_ctx *c, const lp_node *n) {
    int axis;
    LP_TRY(scan_axis(c, n, &axis));
    if (axis < 0) return lp_fail(c, LP_ERR_INTERNAL, "runtime axis in constant folding");
    lp_tensor *x = T(n->in[0]), *y = T(n->out[0]);
    int excl = (int)lp_attr_i(c, n, "exclusive", 0) != 0, rev = (int)lp_attr_i(c, n, "reverse", 0) != 0;
    int64_t len = x->dims[axis], inner = 1, outer = 1;
    for (int i = axis + 1; i < x->rank; i++) inner *= x->dims[i];
    for (int i = 0; i < axis; i++) outer *= x->dims[i];
    void *yd = lp_out_data(c, n, 0);
    int is_int = lp_dtype_is_int(x->dtype);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++) {
            double acc = 0;
            int64_t iacc = 0;
            for (int64_t s = 0; s < len; s++) {
                int64_t k = rev ? len - 1 - s : s, at = (o * len + k) * inner + j;
                double v = lp_get_f64(x->dtype, x->data, at);
                int64_t iv = is_int ? lp_get_i64(x->dtype, x->data, at) : 0;
                if (!excl) acc += v, iacc = (int64_t)((uint64_t)iacc + (uint64_t)iv);
                if (is_int) lp_set_i64(y->dtype, yd, at, iacc);
                else lp_set_f64(y->dtype, yd, at, acc);
                if (excl) acc += v, iacc = (int64_t)((uint64_t)iacc + (uint64_t)iv);
            }
        }
    return LP_OK;
}

const lp_op_impl lp_impl_CumSum = {same_infer, cumsum_eval, cumsum_lower};

/* TFLite has no cumulative product and exp(cumsum(log|x|)) is not exact, so the product is
 * unrolled along a static axis: UNPACK, a running MUL in ONNX's order, PACK. */
#define CUMPROD_MAX_LEN 256

static int cumprod_along(lp_ctx *c, int x, int axis, int exclusive, int reverse, int out) {
    lp_tensor *X = T(x);
    int r = X->rank;
    int64_t len = X->dims[axis];
    if (len < 0 || len > CUMPROD_MAX_LEN) {
        lp_fail(c, LP_ERR_UNSUPPORTED, "CumProd along an axis of %s size (at most %d, static, is supported: "
                "TFLite has no cumulative product)", len < 0 ? "dynamic" : "large", CUMPROD_MAX_LEN);
        return -1;
    }
    if (len == 0) return lp_emit_identity(c, x, out);
    lp_dtype dt = X->dtype;
    int64_t sdims[LP_MAX_RANK];
    int sr = 0;
    for (int i = 0; i < r; i++)
        if (i != axis) sdims[sr++] = X->dims[i];
    int slices[CUMPROD_MAX_LEN], res[CUMPROD_MAX_LEN];
    for (int i = 0; i < len; i++) {
        slices[i] = lp_emit_tensor(c, dt, sr, sdims, "slice");
        if (slices[i] < 0) return -1;
    }
    int id = lp_emit_op(c, LP_TFL_UNPACK, &x, 1, slices, (int)len);
    if (id < 0) return -1;
    lp_emit_params(c, id)->num = (int)len;
    lp_emit_params(c, id)->axis = axis;
    int one = -1;
    if (exclusive) {
        int64_t ne = 1;
        for (int i = 0; i < sr; i++) {
            if (sdims[i] < 0) {
                lp_fail(c, LP_ERR_UNSUPPORTED, "exclusive CumProd needs static dims");
                return -1;
            }
            ne *= sdims[i];
        }
        size_t es = lp_dtype_size(dt);
        uint8_t *buf = lp_arena_alloc(&c->g->arena, es * (size_t)(ne ? ne : 1));
        if (!buf) {
            lp_fail(c, LP_ERR_NOMEM, "out of memory");
            return -1;
        }
        for (int64_t i = 0; i < ne; i++) lp_set_f64(dt, buf, i, 1.0);
        one = lp_emit_const(c, dt, sr, sdims, buf, "ones");
        if (one < 0) return -1;
    }
    int acc = -1;
    for (int s = 0; s < len; s++) {
        int i = reverse ? (int)len - 1 - s : s;
        if (exclusive) {
            res[i] = acc < 0 ? one : acc;
            acc = acc < 0 ? slices[i] : emit_bin(c, LP_TFL_MUL, acc, slices[i], dt, -1, "prod");
        } else {
            acc = acc < 0 ? slices[i] : emit_bin(c, LP_TFL_MUL, acc, slices[i], dt, -1, "prod");
            res[i] = acc;
        }
        if (acc < 0) return -1;
    }
    if (out < 0) out = lp_emit_tensor(c, dt, r, X->dims, "cumprod");
    if (out < 0) return -1;
    id = lp_emit_op(c, LP_TFL_PACK, res, (int)len, &out, 1);
    if (id < 0) return -1;
    lp_emit_params(c, id)->num = (int)len;
    lp_emit_params(c, id)->axis = axis;
    return out;
}

static lp_status cumprod_lower(lp_ctx *c, const lp_node *n) {
    int axis;
    LP_TRY(scan_axis(c, n, &axis));
    int excl = (int)lp_attr_i(c, n, "exclusive", 0) != 0, rev = (int)lp_attr_i(c, n, "reverse", 0) != 0;
    int x = n->in[0], y = n->out[0];
    if (axis >= 0) return done(c, cumprod_along(c, x, axis, excl, rev, y));
    /* a runtime axis: one product per possible axis, picked by SELECT_V2 on (axis mod rank) == a */
    lp_tensor *X = T(x);
    int r = X->rank;
    int a = runtime_i32_scalar(c, n->in[1], "axis");
    int rk = emit_i32_scalar(c, r, "rank");
    int an = a < 0 || rk < 0 ? -1 : emit_bin(c, LP_TFL_FLOOR_MOD, a, rk, LP_DT_I32, -1, "axis");
    if (an < 0) return c->err->code;
    int acc = -1;
    for (int i = r - 1; i >= 0; i--) {
        int cand = cumprod_along(c, x, i, excl, rev, -1);
        if (cand < 0) return c->err->code;
        if (acc < 0) {
            acc = cand;
            continue;
        }
        int ci = emit_i32_scalar(c, i, "a");
        int eq = ci < 0 ? -1 : emit_bin(c, LP_TFL_EQUAL, an, ci, LP_DT_BOOL, -1, "is_axis");
        int out = i == 0 ? y : lp_emit_tensor(c, X->dtype, r, X->dims, "cumprod");
        int in[3] = {eq, cand, acc};
        if (eq < 0 || out < 0 || lp_emit_op(c, LP_TFL_SELECT_V2, in, 3, &out, 1) < 0) return c->err->code;
        acc = out;
    }
    return LP_OK;
}

const lp_op_impl lp_impl_CumProd = {same_infer, NULL, cumprod_lower};

/* ---------------- OneHot ---------------- */

static lp_status onehot_params(lp_ctx *c, const lp_node *n, int *axis, int64_t *depth) {
    lp_tensor *idx = T(n->in[0]);
    LP_TRY(lp_need_rank(c, idx, "indices"));
    if (idx->rank + 1 > LP_MAX_RANK) return lp_fail(c, LP_ERR_LIMIT, "output rank too large");
    LP_TRY(lp_axis(c, lp_attr_i(c, n, "axis", -1), idx->rank + 1, axis, "axis"));
    double d;
    *depth = -1;
    if (lp_const_scalar(c, n->in[1], &d)) {
        if (d < 1) return lp_fail(c, LP_ERR_INVALID, "depth must be positive");
        *depth = (int64_t)d;
    } else if (lp_tensor_numel(T(n->in[1])) != 1) {
        return lp_fail(c, LP_ERR_INVALID, "input 'depth' must hold one value");
    }
    if (lp_tensor_numel(T(n->in[2])) != 2) return lp_fail(c, LP_ERR_INVALID, "input 'values' must hold two values");
    return c->err->code;
}

static lp_status onehot_infer(lp_ctx *c, const lp_node *n) {
    int axis;
    int64_t depth;
    LP_TRY(onehot_params(c, n, &axis, &depth));
    lp_tensor *idx = T(n->in[0]);
    int64_t dims[LP_MAX_RANK];
    int r = 0;
    for (int i = 0; i <= idx->rank; i++) {
        if (i == axis) dims[r++] = depth >= 0 ? depth : lp_graph_new_sym(c->g, NULL);
        if (i < idx->rank) dims[r++] = idx->dims[i];
    }
    lp_set_out(c, n, 0, T(n->in[2])->dtype, r, dims);
    return LP_OK;
}

static lp_status onehot_lower(lp_ctx *c, const lp_node *n) {
    int axis;
    int64_t depth;
    LP_TRY(onehot_params(c, n, &axis, &depth));
    int idx = n->in[0], y = n->out[0];
    lp_tensor *I = T(idx);
    lp_dtype vdt = T(n->in[2])->dtype;
    /* ONNX casts non-integer indices (and depth) to int64 */
    lp_dtype idt = I->dtype == LP_DT_I32 ? LP_DT_I32 : LP_DT_I64;
    if (I->dtype != idt) idx = lp_emit_cast(c, idx, idt, -1);
    if (idx < 0) return c->err->code;
    int d32, didx;
    if (depth >= 0) {
        d32 = emit_i32_scalar(c, (int32_t)depth, "depth");
        didx = lp_emit_scalar(c, idt, (double)depth, "depth");
    } else {
        int dt = n->in[1];
        if (lp_dtype_is_float(T(dt)->dtype)) dt = lp_emit_cast(c, dt, LP_DT_I64, -1);
        d32 = dt < 0 ? -1 : runtime_i32_scalar(c, dt, "depth");
        didx = d32 < 0 ? -1 : (idt == LP_DT_I32 ? d32 : lp_emit_cast(c, d32, idt, -1));
    }
    if (d32 < 0 || didx < 0) return c->err->code;
    /* negative indices count from the end (ONNX); TFLite's ONE_HOT gives all-off rows for them */
    int zero = lp_emit_scalar(c, idt, 0, "zero");
    int neg = zero < 0 ? -1 : emit_bin(c, LP_TFL_LESS, idx, zero, LP_DT_BOOL, -1, "negative");
    int wrapped = neg < 0 ? -1 : emit_bin(c, LP_TFL_ADD, idx, didx, idt, -1, "wrapped");
    int fixed = -1;
    if (wrapped >= 0) {
        int in[3] = {neg, wrapped, idx};
        fixed = emit_new(c, LP_TFL_SELECT_V2, in, 3, idt, I->rank, I->dims, "indices");
    }
    if (fixed < 0) return c->err->code;
    int off, on;
    lp_tensor *V = T(n->in[2]);
    if (V->flags & LP_T_CONST) {
        off = lp_emit_scalar(c, vdt, lp_get_f64(V->dtype, V->data, 0), "off");
        on = lp_emit_scalar(c, vdt, lp_get_f64(V->dtype, V->data, 1), "on");
        if (lp_dtype_is_int(vdt)) {
            /* exact for wide integers */
            int64_t o0 = lp_get_i64(V->dtype, V->data, 0), o1 = lp_get_i64(V->dtype, V->data, 1);
            uint8_t b0[8] = {0}, b1[8] = {0};
            lp_set_i64(vdt, b0, 0, o0);
            lp_set_i64(vdt, b1, 0, o1);
            off = lp_emit_const(c, vdt, 0, NULL, b0, "off");
            on = lp_emit_const(c, vdt, 0, NULL, b1, "on");
        }
    } else {
        int v = n->in[2];
        if (V->rank != 1) v = lp_emit_reshape(c, v, 1, (int64_t[]){2}, -1);
        int i0 = emit_i32_scalar(c, 0, "i0"), i1 = emit_i32_scalar(c, 1, "i1");
        int in0[2] = {v, i0}, in1[2] = {v, i1};
        off = v < 0 || i0 < 0 ? -1 : emit_new(c, LP_TFL_GATHER, in0, 2, vdt, 0, NULL, "off");
        on = v < 0 || i1 < 0 ? -1 : emit_new(c, LP_TFL_GATHER, in1, 2, vdt, 0, NULL, "on");
    }
    if (off < 0 || on < 0) return c->err->code;
    int in[4] = {fixed, d32, on, off};
    int id = lp_emit_op(c, LP_TFL_ONE_HOT, in, 4, &y, 1);
    if (id < 0) return c->err->code;
    lp_emit_params(c, id)->axis = axis;
    return LP_OK;
}

const lp_op_impl lp_impl_OneHot = {onehot_infer, NULL, onehot_lower};

/* ---------------- NonZero ---------------- */

static int64_t count_nonzero(const lp_tensor *x) {
    int64_t ne = lp_tensor_numel(x), k = 0;
    for (int64_t i = 0; i < ne; i++) k += lp_get_f64(x->dtype, x->data, i) != 0;
    return k;
}

static lp_status nonzero_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    LP_TRY(lp_need_rank(c, x, "input"));
    int64_t dims[2] = {x->rank, -1};
    if ((x->flags & LP_T_CONST) && lp_tensor_numel(x) >= 0) dims[1] = count_nonzero(x);
    else dims[1] = lp_graph_new_sym(c->g, NULL);
    lp_set_out(c, n, 0, LP_DT_I64, 2, dims);
    return LP_OK;
}

static lp_status nonzero_eval(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]), *y = T(n->out[0]);
    int64_t ne = lp_tensor_numel(x), cnt = y->dims[1], k = 0, idx[LP_MAX_RANK] = {0};
    void *yd = lp_out_data(c, n, 0);
    for (int64_t i = 0; i < ne; i++) {
        if (lp_get_f64(x->dtype, x->data, i) != 0) {
            for (int d = 0; d < x->rank; d++) lp_set_i64(LP_DT_I64, yd, d * cnt + k, idx[d]);
            k++;
        }
        for (int d = x->rank - 1; d >= 0; d--) {
            if (++idx[d] < x->dims[d]) break;
            idx[d] = 0;
        }
    }
    return LP_OK;
}

/* coordinates of the true elements of a bool tensor: WHERE gives [count, rank] int64 */
static int emit_where(lp_ctx *c, int cond, int64_t count) {
    lp_tensor *C = T(cond);
    int64_t dims[2] = {count >= 0 ? count : lp_graph_new_sym(c->g, NULL), C->rank};
    return emit_new(c, LP_TFL_WHERE, &cond, 1, LP_DT_I64, 2, dims, "where");
}

/* x != 0 as bool (x itself when already bool) */
static int emit_nonzero_mask(lp_ctx *c, int x) {
    if (T(x)->dtype == LP_DT_BOOL) return x;
    int z = lp_emit_scalar(c, T(x)->dtype, 0, "zero");
    return z < 0 ? -1 : emit_bin(c, LP_TFL_NOT_EQUAL, x, z, LP_DT_BOOL, -1, "nonzero");
}

static lp_status nonzero_lower(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    if (x->rank == 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "NonZero of a scalar");
    /* the output size depends on the data: WHERE resizes its output at run time */
    int m = emit_nonzero_mask(c, n->in[0]);
    int w = m < 0 ? -1 : emit_where(c, m, T(n->out[0])->dims[1]);
    int perm[2] = {1, 0};
    return done(c, w < 0 ? -1 : lp_emit_transpose(c, w, perm, n->out[0]));
}

const lp_op_impl lp_impl_NonZero = {nonzero_infer, nonzero_eval, nonzero_lower};

/* ---------------- Trilu ---------------- */

static lp_status trilu_lower(lp_ctx *c, const lp_node *n) {
    int x = n->in[0], y = n->out[0];
    lp_tensor *X = T(x);
    if (X->rank < 2) return lp_fail(c, LP_ERR_INVALID, "Trilu needs rank >= 2");
    int64_t rows = X->dims[X->rank - 2], cols = X->dims[X->rank - 1];
    if (rows < 0 || cols < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "the last two dims must be static");
    int upper = (int)lp_attr_i(c, n, "upper", 1) != 0;
    if (rows == 0 || cols == 0) return done(c, lp_emit_identity(c, x, y));
    int64_t k = 0;
    int k_rt = -1;
    if (lp_has_in(n, 1)) {
        int64_t v[1];
        if (lp_known_ints(c, n, 1, v, 1) == 1) k = v[0];
        else k_rt = n->in[1];
    }
    int64_t ne = rows * cols, md[2] = {rows, cols};
    if (ne > (1 << 24)) return lp_fail(c, LP_ERR_LIMIT, "Trilu mask too large");
    int cond;
    if (k_rt < 0) {
        /* keep (i, j) where j - i >= k (upper) or j - i <= k (lower): a constant mask */
        uint8_t *m = lp_arena_alloc(&c->g->arena, (size_t)ne);
        if (!m) return lp_fail(c, LP_ERR_NOMEM, "out of memory");
        int all = 1;
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < cols; j++) {
                m[i * cols + j] = upper ? j - i >= k : j - i <= k;
                all &= m[i * cols + j];
            }
        if (all) return done(c, lp_emit_identity(c, x, y));
        cond = lp_emit_const(c, LP_DT_BOOL, 2, md, m, "mask");
    } else {
        int64_t *d = lp_arena_alloc(&c->g->arena, sizeof(int64_t) * (size_t)ne);
        if (!d) return lp_fail(c, LP_ERR_NOMEM, "out of memory");
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < cols; j++) d[i * cols + j] = j - i;
        int dc = lp_emit_const(c, LP_DT_I64, 2, md, d, "offset");
        int kk = T(k_rt)->dtype == LP_DT_I64 ? k_rt : lp_emit_cast(c, k_rt, LP_DT_I64, -1);
        cond = dc < 0 || kk < 0 ? -1
                                : emit_bin(c, upper ? LP_TFL_GREATER_EQUAL : LP_TFL_LESS_EQUAL, dc, kk, LP_DT_BOOL, -1,
                                           "mask");
    }
    /* SELECT_V2, not a multiplication by the mask: inf * 0 would give NaN where ONNX gives 0 */
    int z = cond < 0 ? -1 : lp_emit_scalar(c, X->dtype, 0, "zero");
    if (z < 0) return c->err->code;
    int in[3] = {cond, x, z};
    return done(c, lp_emit_op(c, LP_TFL_SELECT_V2, in, 3, &y, 1));
}

/* reference kernel: constant causal masks (Trilu of ConstantOfShape) fold */
static lp_status trilu_eval(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]), *y = T(n->out[0]);
    if (x->rank < 2) return lp_fail(c, LP_ERR_INVALID, "Trilu needs rank >= 2");
    int64_t k = 0, v[1];
    if (lp_has_in(n, 1)) {
        if (lp_known_ints(c, n, 1, v, 1) != 1) return lp_fail(c, LP_ERR_INVALID, "input 'k' must hold one value");
        k = v[0];
    }
    int upper = (int)lp_attr_i(c, n, "upper", 1) != 0;
    int64_t rows = x->dims[x->rank - 2], cols = x->dims[x->rank - 1], ne = lp_tensor_numel(x);
    size_t es = lp_dtype_size(x->dtype);
    uint8_t *yd = lp_out_data(c, n, 0);
    for (int64_t e = 0; e < ne; e++) {
        int64_t j = e % cols, i = (e / cols) % rows;
        int keep = upper ? j - i >= k : j - i <= k;
        if (keep) memcpy(yd + (size_t)e * es, (const uint8_t *)x->data + (size_t)e * es, es);
        else memset(yd + (size_t)e * es, 0, es);
    }
    (void)y;
    return LP_OK;
}

const lp_op_impl lp_impl_Trilu = {same_infer, trilu_eval, trilu_lower};

/* ---------------- Compress ---------------- */

static lp_status compress_params(lp_ctx *c, const lp_node *n, int *axis, int64_t *count) {
    lp_tensor *x = T(n->in[0]), *cond = T(n->in[1]);
    LP_TRY(lp_need_rank(c, x, "input"));
    if (cond->rank != 1) return lp_fail(c, LP_ERR_INVALID, "condition must be 1-D");
    *axis = -1;
    if (lp_node_attr(n, "axis")) LP_TRY(lp_axis(c, lp_attr_i(c, n, "axis", 0), x->rank, axis, "axis"));
    *count = -1;
    if (cond->flags & LP_T_CONST) {
        int64_t len = *axis >= 0 ? x->dims[*axis] : lp_tensor_numel(x);
        int64_t nc = lp_tensor_numel(cond), k = 0;
        for (int64_t i = 0; i < nc && (len < 0 || i < len); i++) k += lp_get_i64(cond->dtype, cond->data, i) != 0;
        *count = k;
    }
    return c->err->code;
}

static lp_status compress_infer(lp_ctx *c, const lp_node *n) {
    int axis;
    int64_t count;
    LP_TRY(compress_params(c, n, &axis, &count));
    lp_tensor *x = T(n->in[0]);
    int64_t dims[LP_MAX_RANK];
    int64_t cnt = count >= 0 ? count : lp_graph_new_sym(c->g, NULL);
    if (axis < 0) {
        lp_set_out(c, n, 0, x->dtype, 1, &cnt);
        return LP_OK;
    }
    memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
    dims[axis] = cnt;
    lp_set_out(c, n, 0, x->dtype, x->rank, dims);
    return LP_OK;
}

static lp_status compress_lower(lp_ctx *c, const lp_node *n) {
    int axis;
    int64_t count;
    LP_TRY(compress_params(c, n, &axis, &count));
    int x = n->in[0], y = n->out[0];
    lp_tensor *X = T(x), *C = T(n->in[1]);
    if (axis < 0) {
        int64_t ne = lp_tensor_numel(X);
        if (ne < 0 && X->rank > 1) return lp_fail(c, LP_ERR_UNSUPPORTED, "Compress without axis of a dynamic shape");
        if (X->rank != 1) x = lp_emit_reshape(c, x, 1, &ne, -1);
        if (x < 0) return c->err->code;
        axis = 0;
        X = T(x);
    }
    int idx;
    if (count >= 0) {
        /* a constant condition: GATHER of the selected indices */
        int64_t len = X->dims[axis];
        int32_t *v = lp_arena_alloc(&c->g->arena, sizeof(int32_t) * (size_t)(count ? count : 1));
        if (!v) return lp_fail(c, LP_ERR_NOMEM, "out of memory");
        int64_t k = 0, nc = lp_tensor_numel(C);
        for (int64_t i = 0; i < nc && (len < 0 || i < len); i++)
            if (lp_get_i64(C->dtype, C->data, i) != 0) v[k++] = (int32_t)i;
        if (count == 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "Compress selecting nothing gives an empty tensor");
        idx = lp_emit_i32(c, v, (int)count, "indices");
    } else {
        /* a runtime condition: WHERE gives the indices of the true elements, [count, 1] */
        int cond = n->in[1];
        int64_t len = X->dims[axis], nc = C->dims[0];
        if (len < 0 || nc < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "a runtime condition needs static sizes");
        if (nc > len) {
            /* ONNX ignores condition entries past the axis size */
            int32_t b = 0, s = (int32_t)len;
            int bi = lp_emit_i32(c, &b, 1, "begin"), si = lp_emit_i32(c, &s, 1, "size");
            int in[3] = {cond, bi, si};
            cond = bi < 0 || si < 0 ? -1 : emit_new(c, LP_TFL_SLICE, in, 3, LP_DT_BOOL, 1, &len, "condition");
            if (cond < 0) return c->err->code;
        }
        int m = emit_nonzero_mask(c, cond);
        int w = m < 0 ? -1 : emit_where(c, m, -1);
        if (w < 0) return c->err->code;
        int64_t d1 = T(w)->dims[0];
        idx = lp_emit_reshape(c, w, 1, &d1, -1);
    }
    if (idx < 0) return c->err->code;
    int in[2] = {x, idx};
    int id = lp_emit_op(c, LP_TFL_GATHER, in, 2, &y, 1);
    if (id < 0) return c->err->code;
    lp_emit_params(c, id)->axis = axis;
    return LP_OK;
}

const lp_op_impl lp_impl_Compress = {compress_infer, NULL, compress_lower};

/* ---------------- Unique ---------------- */

/* A constant input is folded. A runtime input (static shape) is computed with pairwise
 * comparisons of its N slices along the axis (N x N x slice-size tensors, so N is bounded):
 *   E[i,j]    = slice i equals slice j;   first[i] = no j < i with E[i,j]
 *   uid[i]    = number of first slices ordered before slice i (by value when sorted=1, the
 *               lexicographic order ONNX's reference uses; by first position otherwise)
 *   pos       = WHERE(first), the first occurrences in input order; order = pos permuted by uid
 *   Y = GATHER(x, order), indices = order, inverse_indices = uid, counts = GATHER(sum_j E, order).
 * TFLite's own UNIQUE is 1-D and gives neither sorted values, first indices nor counts. */
typedef struct uniq {
    int64_t n_x;      /* slices along the axis (elements without axis) */
    int64_t slice;    /* elements per slice */
    int64_t n_u;      /* unique slices */
    int64_t *first;   /* index of the first occurrence of each unique slice, in output order */
    int64_t *inverse; /* for each input slice, its unique slice */
    int64_t *counts;
} uniq;

static int slice_cmp(const lp_tensor *x, const uniq *u, int axis, int64_t a, int64_t b) {
    /* slices along `axis` are strided: element j of slice s */
    int64_t inner = 1, outer = 1;
    if (axis >= 0) {
        for (int i = axis + 1; i < x->rank; i++) inner *= x->dims[i];
        for (int i = 0; i < axis; i++) outer *= x->dims[i];
    }
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++) {
            int64_t ia = axis >= 0 ? (o * u->n_x + a) * inner + j : a;
            int64_t ib = axis >= 0 ? (o * u->n_x + b) * inner + j : b;
            double va = lp_get_f64(x->dtype, x->data, ia), vb = lp_get_f64(x->dtype, x->data, ib);
            if (va < vb) return -1;
            if (va > vb) return 1;
        }
    return 0;
}

static lp_status unique_axis(lp_ctx *c, const lp_node *n, int *axis) {
    lp_tensor *x = T(n->in[0]);
    LP_TRY(lp_need_rank(c, x, "input"));
    *axis = -1;
    if (lp_node_attr(n, "axis")) LP_TRY(lp_axis(c, lp_attr_i(c, n, "axis", 0), x->rank, axis, "axis"));
    return LP_OK;
}

static lp_status unique_compute(lp_ctx *c, const lp_node *n, uniq *u, int *axis) {
    lp_tensor *x = T(n->in[0]);
    int64_t ne = lp_tensor_numel(x);
    if (ne < 0 || ne > 65536) return lp_fail(c, LP_ERR_LIMIT, "Unique folding is limited to 65536 elements");
    LP_TRY(unique_axis(c, n, axis));
    int sorted = (int)lp_attr_i(c, n, "sorted", 1);
    u->n_x = *axis >= 0 ? x->dims[*axis] : ne;
    u->slice = u->n_x ? ne / u->n_x : 0;
    size_t sz = sizeof(int64_t) * (size_t)(u->n_x + 1);
    u->first = lp_arena_alloc(&c->g->arena, sz);
    u->inverse = lp_arena_alloc(&c->g->arena, sz);
    u->counts = lp_arena_alloc(&c->g->arena, sz);
    int64_t *order = lp_arena_alloc(&c->g->arena, sz);
    if (!u->first || !u->inverse || !u->counts || !order) return lp_fail(c, LP_ERR_NOMEM, "out of memory");
    u->n_u = 0;
    for (int64_t i = 0; i < u->n_x; i++) {
        int64_t j;
        for (j = 0; j < u->n_u; j++)
            if (slice_cmp(x, u, *axis, u->first[j], i) == 0) break;
        if (j == u->n_u) {
            u->first[u->n_u] = i;
            u->counts[u->n_u++] = 0;
        }
        u->counts[j]++;
        u->inverse[i] = j;
    }
    if (sorted) {
        /* insertion sort of the unique slices by value; then remap the inverse indices */
        for (int64_t j = 0; j < u->n_u; j++) order[j] = j;
        for (int64_t j = 1; j < u->n_u; j++) {
            int64_t t = order[j], m = j;
            while (m > 0 && slice_cmp(x, u, *axis, u->first[order[m - 1]], u->first[t]) > 0) {
                order[m] = order[m - 1];
                m--;
            }
            order[m] = t;
        }
        int64_t *rank_of = lp_arena_alloc(&c->g->arena, sz), *f2 = lp_arena_alloc(&c->g->arena, sz),
                *c2 = lp_arena_alloc(&c->g->arena, sz);
        if (!rank_of || !f2 || !c2) return lp_fail(c, LP_ERR_NOMEM, "out of memory");
        for (int64_t j = 0; j < u->n_u; j++) {
            rank_of[order[j]] = j;
            f2[j] = u->first[order[j]];
            c2[j] = u->counts[order[j]];
        }
        for (int64_t i = 0; i < u->n_x; i++) u->inverse[i] = rank_of[u->inverse[i]];
        u->first = f2;
        u->counts = c2;
    }
    return LP_OK;
}

static lp_status unique_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    uniq u;
    int axis;
    if (x->flags & LP_T_CONST) {
        LP_TRY(unique_compute(c, n, &u, &axis));
    } else {
        LP_TRY(unique_axis(c, n, &axis));
        u.n_x = axis >= 0 ? x->dims[axis] : lp_tensor_numel(x);
        if (u.n_x < 0) u.n_x = lp_graph_new_sym(c->g, NULL);
        u.n_u = lp_graph_new_sym(c->g, NULL);
    }
    int64_t dims[LP_MAX_RANK];
    if (axis < 0) {
        lp_set_out(c, n, 0, x->dtype, 1, &u.n_u);
    } else {
        memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
        dims[axis] = u.n_u;
        lp_set_out(c, n, 0, x->dtype, x->rank, dims);
    }
    lp_set_out(c, n, 1, LP_DT_I64, 1, &u.n_u);
    lp_set_out(c, n, 2, LP_DT_I64, 1, &u.n_x);
    lp_set_out(c, n, 3, LP_DT_I64, 1, &u.n_u);
    return LP_OK;
}

static lp_status unique_eval(lp_ctx *c, const lp_node *n) {
    uniq u;
    int axis;
    LP_TRY(unique_compute(c, n, &u, &axis));
    lp_tensor *x = T(n->in[0]);
    size_t es = lp_dtype_size(x->dtype);
    if (n->out[0] >= 0) {
        uint8_t *yd = lp_out_data(c, n, 0);
        int64_t inner = 1, outer = 1;
        if (axis >= 0) {
            for (int i = axis + 1; i < x->rank; i++) inner *= x->dims[i];
            for (int i = 0; i < axis; i++) outer *= x->dims[i];
        }
        const uint8_t *xd = x->data;
        for (int64_t o = 0; o < outer; o++)
            for (int64_t j = 0; j < u.n_u; j++)
                memcpy(yd + (size_t)((o * u.n_u + j) * inner) * es,
                       xd + (size_t)((o * u.n_x + u.first[j]) * inner) * es, (size_t)inner * es);
    }
    for (int k = 1; k < 4 && k < n->n_out; k++) {
        if (n->out[k] < 0) continue;
        const int64_t *src = k == 1 ? u.first : k == 2 ? u.inverse : u.counts;
        int64_t cnt = k == 2 ? u.n_x : u.n_u;
        memcpy(lp_out_data(c, n, k), src, sizeof(int64_t) * (size_t)cnt);
    }
    return LP_OK;
}

#define UNIQUE_MAX_PAIRS (1 << 22) /* N * N * slice elements */

/* y = op(x) reducing axis `axis` without keeping it */
static int emit_reduce_axis(lp_ctx *c, lp_op op, int x, int axis) {
    lp_tensor *X = T(x);
    int64_t dims[LP_MAX_RANK];
    int r = 0;
    for (int i = 0; i < X->rank; i++)
        if (i != axis) dims[r++] = X->dims[i];
    int32_t a = axis;
    int ai = lp_emit_i32(c, &a, 1, "axis");
    int in[2] = {x, ai};
    int y = ai < 0 ? -1 : emit_new(c, op, in, 2, X->dtype, r, dims, "reduced");
    if (y >= 0) lp_emit_params(c, c->g->n_n - 1)->keep_dims = 0;
    return y;
}

static int emit_i32_const(lp_ctx *c, int rank, const int64_t *dims, const int32_t *v, const char *hint) {
    return lp_emit_const(c, LP_DT_I32, rank, dims, v, hint);
}

static lp_status unique_lower(lp_ctx *c, const lp_node *n) {
    int axis;
    LP_TRY(unique_axis(c, n, &axis));
    int x = n->in[0];
    lp_tensor *X = T(x);
    LP_TRY(lp_need_shape(c, X, "input"));
    int sorted = (int)lp_attr_i(c, n, "sorted", 1);
    int64_t N = axis >= 0 ? X->dims[axis] : lp_tensor_numel(X);
    int64_t S = N ? lp_tensor_numel(X) / N : 0;
    if (N == 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "Unique of an empty tensor");
    if (N * N * S > UNIQUE_MAX_PAIRS)
        return lp_fail(c, LP_ERR_UNSUPPORTED, "Unique of a runtime tensor compares all pairs of slices: %lld x %lld "
                       "slices of %lld elements is too large", (long long)N, (long long)N, (long long)S);
    lp_dtype dt = X->dtype;
    int64_t U = T(n->out[0])->rank == 1 ? T(n->out[0])->dims[0] : T(n->out[0])->dims[axis];

    /* xs: [N, S], the slices as rows */
    int perm[LP_MAX_RANK], inv[LP_MAX_RANK];
    int xt = x;
    if (axis > 0) {
        perm[0] = axis;
        for (int i = 0, k = 1; i < X->rank; i++)
            if (i != axis) perm[k++] = i;
        xt = lp_emit_transpose(c, x, perm, -1);
        if (xt < 0) return c->err->code;
    }
    int64_t d2[2] = {N, S}, da[3] = {N, 1, S}, db[3] = {1, N, S}, nn[2] = {N, N}, nns[3] = {N, N, S};
    int xs = lp_emit_reshape(c, xt, 2, d2, -1);
    int a = xs < 0 ? -1 : lp_emit_reshape(c, xs, 3, da, -1);
    int b = a < 0 ? -1 : lp_emit_reshape(c, xs, 3, db, -1);
    if (b < 0) return c->err->code;
    /* E[i,j]: all elements of slices i and j equal */
    int eq3 = emit_bin(c, LP_TFL_EQUAL, a, b, LP_DT_BOOL, -1, "equal");
    int eqi = eq3 < 0 ? -1 : lp_emit_cast(c, eq3, LP_DT_I32, -1);
    int E = eqi < 0 ? -1 : emit_reduce_axis(c, LP_TFL_REDUCE_MIN, eqi, 2);
    if (E < 0) return c->err->code;
    /* first[i]: no equal slice before i */
    int64_t nsq;
    if (!lp_mul_i64(N, N, &nsq)) return lp_fail(c, LP_ERR_LIMIT, "%lld slices are too many", (long long)N);
    int32_t *lower = lp_table_alloc(c, nsq, sizeof(int32_t), "triangular mask");
    int32_t *iota = lower ? lp_table_alloc(c, N > S ? N : S, sizeof(int32_t), "table of positions") : NULL;
    if (!lower || !iota) return c->err->code;
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < N; j++) lower[i * N + j] = j < i;
    for (int64_t i = 0; i < (N > S ? N : S); i++) iota[i] = (int32_t)i;
    int lc = emit_i32_const(c, 2, nn, lower, "before");
    int dup = lc < 0 ? -1 : emit_bin(c, LP_TFL_MUL, E, lc, LP_DT_I32, -1, "dup");
    int dupn = dup < 0 ? -1 : emit_reduce_axis(c, LP_TFL_SUM, dup, 1);
    int z = lp_emit_scalar(c, LP_DT_I32, 0, "zero");
    int first = dupn < 0 || z < 0 ? -1 : emit_bin(c, LP_TFL_EQUAL, dupn, z, LP_DT_BOOL, -1, "first");
    int first_i = first < 0 ? -1 : lp_emit_cast(c, first, LP_DT_I32, -1);
    int64_t d1n[2] = {1, N}, dn1[2] = {N, 1};
    int first_row = first_i < 0 ? -1 : lp_emit_reshape(c, first_i, 2, d1n, -1);
    if (first_row < 0) return c->err->code;
    /* less[i,j]: slice j is ordered before slice i */
    int less;
    if (sorted) {
        /* lexicographic: at the first differing element p, x[j,p] < x[i,p] */
        int ne3 = emit_bin(c, LP_TFL_NOT_EQUAL, a, b, LP_DT_BOOL, -1, "differ");
        int64_t dp[3] = {1, 1, S};
        int ip = emit_i32_const(c, 3, dp, iota, "iota_p");
        int sc = lp_emit_scalar(c, LP_DT_I32, (double)S, "S");
        int sel = -1;
        if (ne3 >= 0 && ip >= 0 && sc >= 0) {
            int in[3] = {ne3, ip, sc};
            sel = emit_new(c, LP_TFL_SELECT_V2, in, 3, LP_DT_I32, 3, nns, "pos");
        }
        int fd = sel < 0 ? -1 : emit_reduce_axis(c, LP_TFL_REDUCE_MIN, sel, 2);
        int64_t dnn1[3] = {N, N, 1};
        int fd3 = fd < 0 ? -1 : lp_emit_reshape(c, fd, 3, dnn1, -1);
        int at = fd3 < 0 ? -1 : emit_bin(c, LP_TFL_EQUAL, ip, fd3, LP_DT_BOOL, -1, "at_first_diff");
        int lt = at < 0 ? -1 : emit_bin(c, LP_TFL_LESS, b, a, LP_DT_BOOL, -1, "lt");
        int ati = at < 0 ? -1 : lp_emit_cast(c, at, LP_DT_I32, -1);
        int lti = lt < 0 ? -1 : lp_emit_cast(c, lt, LP_DT_I32, -1);
        int both = ati < 0 || lti < 0 ? -1 : emit_bin(c, LP_TFL_MUL, ati, lti, LP_DT_I32, -1, "lt_first");
        less = both < 0 ? -1 : emit_reduce_axis(c, LP_TFL_REDUCE_MAX, both, 2);
    } else {
        /* by first occurrence: fidx[i] = min j with E[i,j]; j is before i when j < fidx[i] */
        int one = lp_emit_scalar(c, LP_DT_I32, 1, "one");
        int eb = one < 0 ? -1 : emit_bin(c, LP_TFL_EQUAL, E, one, LP_DT_BOOL, -1, "eq");
        int ij = emit_i32_const(c, 2, d1n, iota, "iota_j");
        int big = lp_emit_scalar(c, LP_DT_I32, (double)N, "N");
        int sel = -1;
        if (eb >= 0 && ij >= 0 && big >= 0) {
            int in[3] = {eb, ij, big};
            sel = emit_new(c, LP_TFL_SELECT_V2, in, 3, LP_DT_I32, 2, nn, "pos");
        }
        int fidx = sel < 0 ? -1 : emit_reduce_axis(c, LP_TFL_REDUCE_MIN, sel, 1);
        int fcol = fidx < 0 ? -1 : lp_emit_reshape(c, fidx, 2, dn1, -1);
        int lt = fcol < 0 ? -1 : emit_bin(c, LP_TFL_LESS, ij, fcol, LP_DT_BOOL, -1, "lt");
        less = lt < 0 ? -1 : lp_emit_cast(c, lt, LP_DT_I32, -1);
    }
    if (less < 0) return c->err->code;
    int lf = emit_bin(c, LP_TFL_MUL, less, first_row, LP_DT_I32, -1, "lt_first");
    int uid = lf < 0 ? -1 : emit_reduce_axis(c, LP_TFL_SUM, lf, 1); /* [N] */
    /* the first occurrences in input order, then in output order */
    int w = uid < 0 ? -1 : emit_where(c, first, U);
    int64_t du = U, du1[2] = {U, 1};
    int pos64 = w < 0 ? -1 : lp_emit_reshape(c, w, 1, &du, -1);
    int pos = pos64 < 0 ? -1 : lp_emit_cast(c, pos64, LP_DT_I32, -1);
    if (pos < 0) return c->err->code;
    int order = pos;
    if (sorted) {
        int in[2] = {uid, pos};
        int uat = emit_new(c, LP_TFL_GATHER, in, 2, LP_DT_I32, 1, &du, "uid");
        int uat2 = uat < 0 ? -1 : lp_emit_reshape(c, uat, 2, du1, -1);
        int64_t one = 1;
        int shp = uat2 < 0 ? -1 : emit_new(c, LP_TFL_SHAPE, &pos, 1, LP_DT_I32, 1, &one, "n_unique");
        if (shp < 0) return c->err->code;
        lp_emit_params(c, c->g->n_n - 1)->out_type = LP_DT_I32;
        int in2[3] = {uat2, pos, shp};
        order = emit_new(c, LP_TFL_SCATTER_ND, in2, 3, LP_DT_I32, 1, &du, "order");
        if (order < 0) return c->err->code;
    }
    /* outputs */
    if (n->out[0] >= 0) {
        lp_tensor *Y = T(n->out[0]);
        int in[2] = {xs, order};
        int64_t gd[2] = {U, S};
        int g = emit_new(c, LP_TFL_GATHER, in, 2, dt, 2, gd, "values");
        if (g < 0) return c->err->code;
        if (axis <= 0) {
            if (lp_emit_reshape(c, g, Y->rank, Y->dims, n->out[0]) < 0) return c->err->code;
        } else {
            /* [U, S] -> the transposed shape -> the input's axis order */
            int64_t td[LP_MAX_RANK];
            for (int i = 0; i < X->rank; i++) td[i] = Y->dims[perm[i]];
            for (int i = 0; i < X->rank; i++) inv[perm[i]] = i;
            int gt = lp_emit_reshape(c, g, X->rank, td, -1);
            if (gt < 0 || lp_emit_transpose(c, gt, inv, n->out[0]) < 0) return c->err->code;
        }
    }
    if (n->n_out > 1 && n->out[1] >= 0 && lp_emit_cast(c, order, LP_DT_I64, n->out[1]) < 0) return c->err->code;
    if (n->n_out > 2 && n->out[2] >= 0 && lp_emit_cast(c, uid, LP_DT_I64, n->out[2]) < 0) return c->err->code;
    if (n->n_out > 3 && n->out[3] >= 0) {
        int cnt = emit_reduce_axis(c, LP_TFL_SUM, E, 1); /* equal slices of each slice */
        int in[2] = {cnt, order};
        int cu = cnt < 0 ? -1 : emit_new(c, LP_TFL_GATHER, in, 2, LP_DT_I32, 1, &du, "counts");
        if (cu < 0 || lp_emit_cast(c, cu, LP_DT_I64, n->out[3]) < 0) return c->err->code;
    }
    return LP_OK;
}

const lp_op_impl lp_impl_Unique = {unique_infer, unique_eval, unique_lower};

/* ---------------- ReverseSequence ---------------- */

static lp_status revseq_lower(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    LP_TRY(lp_need_rank(c, x, "input"));
    int batch, time;
    LP_TRY(lp_axis(c, lp_attr_i(c, n, "batch_axis", 1), x->rank, &batch, "batch_axis"));
    LP_TRY(lp_axis(c, lp_attr_i(c, n, "time_axis", 0), x->rank, &time, "time_axis"));
    if (batch == time) return lp_fail(c, LP_ERR_INVALID, "batch_axis and time_axis are equal");
    /* TFLite's REVERSE_SEQUENCE has ONNX's meaning: the first seq_lengths[b] steps are reversed */
    int in[2] = {n->in[0], n->in[1]};
    int id = lp_emit_op(c, LP_TFL_REVERSE_SEQUENCE, in, 2, &n->out[0], 1);
    if (id < 0) return c->err->code;
    lp_emit_params(c, id)->axis = time;
    lp_emit_params(c, id)->batch_dims = batch;
    return LP_OK;
}

const lp_op_impl lp_impl_ReverseSequence = {same_infer, NULL, revseq_lower};
