/* Reductions: ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2,
 * ReduceSumSquare, ReduceLogSum, ReduceLogSumExp.
 *
 * Each is  post(reduce(pre(x)))  with TFLite's SUM / MEAN / REDUCE_MAX / REDUCE_MIN / REDUCE_PROD:
 *   L1 = SUM(ABS x), SumSquare = SUM(x*x), L2 = SQRT(SUM(x*x)), LogSum = LOG(SUM x),
 *   LogSumExp = LOG(SUM(EXP(x - m))) + m with m = REDUCE_MAX(x) (the stable form ONNX's reference uses).
 * Axes (ONNX rules): an attribute up to opset 12 (ReduceSum) / 17 (the others), an optional input
 * after. Empty or absent axes reduce every axis, unless noop_with_empty_axes=1: then the reduction
 * step is skipped but pre/post still apply (ReduceSumSquare with noop gives x*x, as the reference).
 * Axes given as a runtime tensor are passed to the TFLite kernel (which resolves negative axes and
 * resizes its output at run time); the output dims are then symbolic.
 * A reduction over an empty set gives the identity: 0, 1 (Prod), -inf / the type's lowest (Max),
 * +inf / highest (Min), -inf (LogSum, LogSumExp), as ONNX's reference. TFLite's REDUCE_MAX starts
 * from the lowest finite float instead, so empty inputs are handled here, not by the kernel. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "ops.h"

#define T(id) lp_T(c, (id))

typedef struct red_axes {
    int mask;    /* statically known reduced axes (bit i) */
    int noop;    /* noop_with_empty_axes with empty axes: no reduction step */
    int runtime; /* axes only known at run time (input 1) */
    int n_rt;    /* number of runtime axes */
} red_axes;

static lp_status reduce_axes(lp_ctx *c, const lp_node *n, red_axes *ra) {
    lp_tensor *x = T(n->in[0]);
    LP_TRY(lp_need_rank(c, x, "input"));
    memset(ra, 0, sizeof *ra);
    int64_t axes[LP_MAX_RANK * 2];
    int k;
    if (lp_has_in(n, 1)) {
        lp_tensor *a = T(n->in[1]);
        k = lp_known_ints(c, n, 1, axes, LP_MAX_RANK * 2);
        if (k < 0) {
            int64_t na = lp_tensor_numel(a);
            if (na < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "input 'axes' has a dynamic length");
            if (na > x->rank) return lp_fail(c, LP_ERR_INVALID, "input 'axes' has more values than the input rank");
            if (na > 0) {
                ra->runtime = 1;
                ra->n_rt = (int)na;
                return LP_OK;
            }
            k = 0; /* a runtime tensor of static shape [0] is known to be empty */
        }
    } else {
        k = lp_attr_ints(c, n, "axes", axes, LP_MAX_RANK * 2);
        if (c->err->code) return c->err->code;
    }
    if (k <= 0) {
        if (lp_attr_i(c, n, "noop_with_empty_axes", 0)) ra->noop = 1;
        else ra->mask = (int)((1u << x->rank) - 1);
        return c->err->code;
    }
    for (int i = 0; i < k; i++) {
        int a;
        LP_TRY(lp_axis(c, axes[i], x->rank, &a, "axis"));
        ra->mask |= 1 << a;
    }
    return LP_OK;
}

/* output dims of reducing x (static or runtime axes); returns the rank */
static int reduce_dims(lp_ctx *c, const lp_tensor *x, const red_axes *ra, int keep, int64_t *dims) {
    int r = 0;
    if (ra->runtime) {
        /* which dims shrink is known only at run time: a dim of 1 stays 1, the others are symbols */
        int out_rank = keep ? x->rank : x->rank - ra->n_rt, all_one = 1;
        for (int j = 0; j < x->rank; j++) all_one &= x->dims[j] == 1;
        for (int i = 0; i < out_rank; i++)
            dims[r++] = (keep && x->dims[i] == 1) || all_one ? 1 : lp_graph_new_sym(c->g, NULL);
        return r;
    }
    for (int i = 0; i < x->rank; i++) {
        if (ra->noop || !(ra->mask & (1 << i))) dims[r++] = x->dims[i];
        else if (keep) dims[r++] = 1;
    }
    return r;
}

static int is_int_type(lp_dtype t) { return lp_dtype_is_int(t) || t == LP_DT_BOOL; }

static lp_status reduce_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    red_axes ra;
    LP_TRY(reduce_axes(c, n, &ra));
    int keep = (int)lp_attr_i(c, n, "keepdims", 1);
    int64_t dims[LP_MAX_RANK];
    int r = reduce_dims(c, x, &ra, keep, dims);
    lp_set_out(c, n, 0, x->dtype, r, dims);
    return c->err->code;
}

/* ---------------- reference kernel (constant folding) ---------------- */

/* identity of the reduction over an empty set */
static double empty_value(lp_op op, lp_dtype dt) {
    int is_int = is_int_type(dt);
    switch (op) {
    case LP_OP_ReduceProd: return 1;
    case LP_OP_ReduceMax:
        if (dt == LP_DT_BOOL || dt == LP_DT_U8 || dt == LP_DT_U16 || dt == LP_DT_U32 || dt == LP_DT_U64) return 0;
        if (dt == LP_DT_I8) return -128;
        if (dt == LP_DT_I16) return -32768;
        if (dt == LP_DT_I32) return -2147483648.0;
        if (dt == LP_DT_I64) return -9223372036854775808.0;
        return -INFINITY;
    case LP_OP_ReduceMin:
        if (dt == LP_DT_BOOL) return 1;
        if (dt == LP_DT_U8) return 255;
        if (dt == LP_DT_U16) return 65535;
        if (dt == LP_DT_U32) return 4294967295.0;
        if (dt == LP_DT_I8) return 127;
        if (dt == LP_DT_I16) return 32767;
        if (dt == LP_DT_I32) return 2147483647.0;
        if (is_int) return 9223372036854775807.0;
        return INFINITY;
    case LP_OP_ReduceLogSum:
    case LP_OP_ReduceLogSumExp: return -INFINITY;
    case LP_OP_ReduceMean: return is_int ? 0 : NAN;
    default: return 0;
    }
}

static lp_status reduce_eval(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]), *y = T(n->out[0]);
    red_axes ra;
    LP_TRY(reduce_axes(c, n, &ra));
    if (ra.runtime) return lp_fail(c, LP_ERR_INTERNAL, "runtime axes in constant folding");
    int mask = ra.noop ? 0 : ra.mask;
    int64_t ny = lp_tensor_numel(y), nx = lp_tensor_numel(x);
    void *yd = lp_out_data(c, n, 0);
    lp_op op = n->op;
    int is_int = is_int_type(x->dtype);
    if (nx == 0) {
        double v = empty_value(op, x->dtype);
        for (int64_t i = 0; i < ny; i++) {
            if (is_int && isfinite(v)) lp_set_i64(y->dtype, yd, i, (int64_t)v);
            else lp_set_f64(y->dtype, yd, i, v);
        }
        return LP_OK;
    }
    double *acc = lp_arena_alloc(&c->g->arena, sizeof(double) * (size_t)(ny ? ny : 1));
    double *mx = lp_arena_alloc(&c->g->arena, sizeof(double) * (size_t)(ny ? ny : 1));
    int64_t *iacc = lp_arena_alloc(&c->g->arena, sizeof(int64_t) * (size_t)(ny ? ny : 1));
    int64_t *cnt = lp_arena_alloc(&c->g->arena, sizeof(int64_t) * (size_t)(ny ? ny : 1));
    if (!acc || !mx || !iacc || !cnt) return lp_fail(c, LP_ERR_NOMEM, "out of memory");
    /* output strides over the input's axes (0 for reduced axes) */
    int64_t ostr[LP_MAX_RANK], s = 1;
    for (int i = x->rank - 1; i >= 0; i--) {
        ostr[i] = (mask & (1 << i)) ? 0 : s;
        if (!(mask & (1 << i))) s *= x->dims[i];
    }
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1 && op != LP_OP_ReduceLogSumExp) break;
        for (int64_t j = 0; j < ny; j++) {
            acc[j] = op == LP_OP_ReduceProd ? 1 : 0;
            iacc[j] = op == LP_OP_ReduceProd ? 1 : 0;
            cnt[j] = 0;
        }
        int64_t idx[LP_MAX_RANK] = {0};
        for (int64_t i = 0; i < nx; i++) {
            int64_t o = 0;
            for (int d = 0; d < x->rank; d++) o += idx[d] * ostr[d];
            double v = lp_get_f64(x->dtype, x->data, i);
            int64_t iv = is_int ? lp_get_i64(x->dtype, x->data, i) : 0;
            int first = cnt[o]++ == 0;
            switch (op) {
            case LP_OP_ReduceSum:
            case LP_OP_ReduceMean: acc[o] += v; iacc[o] += iv; break;
            case LP_OP_ReduceProd: acc[o] *= v; iacc[o] *= iv; break;
            case LP_OP_ReduceMax:
                if (first || v > acc[o] || v != v) acc[o] = v;
                if (first || iv > iacc[o]) iacc[o] = iv;
                break;
            case LP_OP_ReduceMin:
                if (first || v < acc[o] || v != v) acc[o] = v;
                if (first || iv < iacc[o]) iacc[o] = iv;
                break;
            case LP_OP_ReduceL1: acc[o] += fabs(v); iacc[o] += iv < 0 ? -iv : iv; break;
            case LP_OP_ReduceL2:
            case LP_OP_ReduceSumSquare: acc[o] += v * v; iacc[o] += iv * iv; break;
            case LP_OP_ReduceLogSum: acc[o] += v; break;
            case LP_OP_ReduceLogSumExp:
                if (pass == 0) {
                    if (first || v > acc[o]) acc[o] = v;
                } else {
                    acc[o] += exp(v - mx[o]);
                }
                break;
            default: return lp_fail(c, LP_ERR_INTERNAL, "not a reduction");
            }
            for (int d = x->rank - 1; d >= 0; d--) {
                if (++idx[d] < x->dims[d]) break;
                idx[d] = 0;
            }
        }
        if (op == LP_OP_ReduceLogSumExp && pass == 0) memcpy(mx, acc, sizeof(double) * (size_t)ny);
    }
    for (int64_t j = 0; j < ny; j++) {
        if (is_int && op != LP_OP_ReduceL2 && op != LP_OP_ReduceLogSum && op != LP_OP_ReduceLogSumExp) {
            int64_t v = iacc[j];
            if (op == LP_OP_ReduceMean) v = cnt[j] ? v / cnt[j] : 0;
            lp_set_i64(y->dtype, yd, j, v);
            continue;
        }
        double v = acc[j];
        if (op == LP_OP_ReduceMean) v /= (double)cnt[j];
        else if (op == LP_OP_ReduceL2) v = sqrt(is_int ? (double)iacc[j] : v);
        else if (op == LP_OP_ReduceLogSum) v = log(v);
        else if (op == LP_OP_ReduceLogSumExp) v = log(v) + mx[j];
        if (is_int) lp_set_i64(y->dtype, yd, j, (int64_t)v);
        else lp_set_f64(y->dtype, yd, j, v);
    }
    return LP_OK;
}

/* ---------------- lowering ---------------- */

/* a TFLite op with one or two inputs into out (or a new tensor shaped like `like`) */
static int emit_op2(lp_ctx *c, lp_op op, int a, int b, int out, lp_dtype dt, int like, const char *hint) {
    if (out < 0) out = lp_emit_tensor(c, dt, T(like)->rank, T(like)->dims, hint);
    if (out < 0) return -1;
    int in[2] = {a, b};
    return lp_emit_op(c, op, in, b >= 0 ? 2 : 1, &out, 1) < 0 ? -1 : out;
}

/* x reduced by `op` over the axes tensor `ax` (int32) into out (or a new tensor) */
static int emit_reduce(lp_ctx *c, lp_op op, int x, int ax, const red_axes *ra, int keep, int out) {
    lp_tensor *X = T(x);
    if (out < 0) {
        int64_t dims[LP_MAX_RANK];
        int r = reduce_dims(c, X, ra, keep, dims);
        out = lp_emit_tensor(c, X->dtype, r, dims, "reduced");
    }
    if (out < 0) return -1;
    int in[2] = {x, ax};
    int id = lp_emit_op(c, op, in, 2, &out, 1);
    if (id < 0) return -1;
    lp_emit_params(c, id)->keep_dims = keep;
    return out;
}

/* y = x; a RESHAPE to x's runtime SHAPE when more than one dim is dynamic */
static int emit_copy(lp_ctx *c, int x, int y) {
    lp_tensor *X = T(x);
    int n_dyn = 0;
    for (int i = 0; i < X->rank; i++) n_dyn += X->dims[i] < 0;
    if (n_dyn <= 1) return lp_emit_identity(c, x, y);
    int64_t r = X->rank;
    int sh = lp_emit_tensor(c, LP_DT_I32, 1, &r, "shape");
    int id = sh < 0 ? -1 : lp_emit_op(c, LP_TFL_SHAPE, &x, 1, &sh, 1);
    if (id < 0) return -1;
    lp_emit_params(c, id)->out_type = LP_DT_I32;
    int in[2] = {x, sh};
    return lp_emit_op(c, LP_TFL_RESHAPE, in, 2, &y, 1) < 0 ? -1 : y;
}

static lp_op tfl_reducer(lp_op op) {
    switch (op) {
    case LP_OP_ReduceMean: return LP_TFL_MEAN;
    case LP_OP_ReduceMax: return LP_TFL_REDUCE_MAX;
    case LP_OP_ReduceMin: return LP_TFL_REDUCE_MIN;
    case LP_OP_ReduceProd: return LP_TFL_REDUCE_PROD;
    default: return LP_TFL_SUM;
    }
}

/* the axes as an int32 tensor for the TFLite kernels (a runtime int64 tensor is cast) */
static int axes_tensor(lp_ctx *c, const lp_node *n, const red_axes *ra, int rank) {
    if (ra->runtime) {
        int a = n->in[1];
        return T(a)->dtype == LP_DT_I32 ? a : lp_emit_cast(c, a, LP_DT_I32, -1);
    }
    int32_t axes[LP_MAX_RANK];
    int k = 0;
    for (int i = 0; i < rank; i++)
        if (ra->mask & (1 << i)) axes[k++] = i;
    return lp_emit_i32(c, axes, k, "axes");
}

static lp_status reduce_lower(lp_ctx *c, const lp_node *n) {
    int x = n->in[0], y = n->out[0];
    lp_tensor *X = T(x), *Y = T(y);
    lp_dtype dt = X->dtype;
    lp_op op = n->op;
    red_axes ra;
    LP_TRY(reduce_axes(c, n, &ra));
    int keep = (int)lp_attr_i(c, n, "keepdims", 1);
    int64_t nx = lp_tensor_numel(X);

    /* an empty input: every output element is the identity of the reduction */
    if (nx == 0) {
        double v = empty_value(op, dt);
        int64_t ny = lp_tensor_numel(Y);
        if (ny >= 0) {
            size_t es = lp_dtype_size(dt);
            uint8_t *buf = lp_arena_alloc(&c->g->arena, es * (size_t)(ny ? ny : 1));
            if (!buf) return lp_fail(c, LP_ERR_NOMEM, "out of memory");
            for (int64_t i = 0; i < ny; i++) {
                if (is_int_type(dt) && isfinite(v)) lp_set_i64(dt, buf, i, (int64_t)v);
                else lp_set_f64(dt, buf, i, v);
            }
            int k = lp_emit_const(c, dt, Y->rank, Y->dims, buf, "empty");
            return k < 0 || lp_emit_identity(c, k, y) < 0 ? c->err->code : LP_OK;
        }
        /* runtime axes: SUM gives zeros of the right shape, then add the identity */
        int ax = axes_tensor(c, n, &ra, X->rank);
        if (ax < 0) return c->err->code;
        if (v == 0) return emit_reduce(c, LP_TFL_SUM, x, ax, &ra, keep, y) < 0 ? c->err->code : LP_OK;
        int z = emit_reduce(c, LP_TFL_SUM, x, ax, &ra, keep, -1);
        int k = z < 0 ? -1 : lp_emit_scalar(c, dt, v, "identity");
        return k < 0 || emit_op2(c, LP_TFL_ADD, z, k, y, dt, y, "t") < 0 ? c->err->code : LP_OK;
    }

    /* L2, LogSum and LogSumExp of integers (allowed before opset 28): computed in float and
     * truncated back, as ONNX's reference does for L2 */
    int cur = x;
    lp_dtype wdt = dt;
    if ((op == LP_OP_ReduceL2 || op == LP_OP_ReduceLogSum || op == LP_OP_ReduceLogSumExp) && is_int_type(dt)) {
        cur = lp_emit_cast(c, x, LP_DT_F32, -1);
        if (cur < 0) return c->err->code;
        wdt = LP_DT_F32;
    }
    int ax = ra.noop ? -1 : axes_tensor(c, n, &ra, X->rank);
    if (!ra.noop && ax < 0) return c->err->code;
    int final_cast = wdt != dt;

    /* pre */
    switch (op) {
    case LP_OP_ReduceL1: cur = emit_op2(c, LP_TFL_ABS, cur, -1, -1, wdt, cur, "abs"); break;
    case LP_OP_ReduceL2:
    case LP_OP_ReduceSumSquare: cur = emit_op2(c, LP_TFL_MUL, cur, cur, -1, wdt, cur, "square"); break;
    default: break;
    }
    if (cur < 0) return c->err->code;

    int final_y = final_cast ? -1 : y;
    if (op == LP_OP_ReduceLogSumExp) {
        if (ra.noop) return emit_copy(c, x, y) < 0 ? c->err->code : LP_OK; /* log(exp(x - x)) + x */
        /* m = max(x) (kept dims, to broadcast); y = log(sum(exp(x - m))) + m */
        int m = emit_reduce(c, LP_TFL_REDUCE_MAX, cur, ax, &ra, 1, -1);
        int d = m < 0 ? -1 : emit_op2(c, LP_TFL_SUB, cur, m, -1, wdt, cur, "shifted");
        int e = d < 0 ? -1 : emit_op2(c, LP_TFL_EXP, d, -1, -1, wdt, cur, "exp");
        int s = e < 0 ? -1 : emit_reduce(c, LP_TFL_SUM, e, ax, &ra, keep, -1);
        int l = s < 0 ? -1 : emit_op2(c, LP_TFL_LOG, s, -1, -1, wdt, s, "log");
        if (l < 0) return c->err->code;
        int m2 = m;
        if (!keep) {
            int n_dyn = 0;
            for (int i = 0; i < Y->rank; i++) n_dyn += Y->dims[i] < 0;
            m2 = n_dyn <= 1 ? lp_emit_reshape(c, m, Y->rank, Y->dims, -1)
                            : emit_reduce(c, LP_TFL_REDUCE_MAX, cur, ax, &ra, 0, -1);
            if (m2 < 0) return c->err->code;
        }
        int res = emit_op2(c, LP_TFL_ADD, l, m2, final_y, wdt, l, "t");
        if (res < 0) return c->err->code;
        return final_cast && lp_emit_cast(c, res, dt, y) < 0 ? c->err->code : LP_OK;
    }

    int has_post = op == LP_OP_ReduceL2 || op == LP_OP_ReduceLogSum;
    if (!ra.noop) {
        int out = has_post || final_cast ? -1 : y;
        cur = emit_reduce(c, tfl_reducer(op), cur, ax, &ra, keep, out);
        if (cur < 0) return c->err->code;
    }
    /* post */
    if (has_post) {
        int out = final_cast ? -1 : y;
        cur = emit_op2(c, op == LP_OP_ReduceL2 ? LP_TFL_SQRT : LP_TFL_LOG, cur, -1, out, wdt, cur, "post");
        if (cur < 0) return c->err->code;
    }
    if (final_cast) return lp_emit_cast(c, cur, dt, y) < 0 ? c->err->code : LP_OK;
    if (cur != y) return emit_copy(c, cur, y) < 0 ? c->err->code : LP_OK;
    return LP_OK;
}

const lp_op_impl lp_impl_ReduceMean = {reduce_infer, reduce_eval, reduce_lower};
const lp_op_impl lp_impl_ReduceSum = {reduce_infer, reduce_eval, reduce_lower};
const lp_op_impl lp_impl_ReduceMax = {reduce_infer, reduce_eval, reduce_lower};
const lp_op_impl lp_impl_ReduceMin = {reduce_infer, reduce_eval, reduce_lower};
const lp_op_impl lp_impl_ReduceProd = {reduce_infer, reduce_eval, reduce_lower};
const lp_op_impl lp_impl_ReduceL1 = {reduce_infer, reduce_eval, reduce_lower};
const lp_op_impl lp_impl_ReduceL2 = {reduce_infer, reduce_eval, reduce_lower};
const lp_op_impl lp_impl_ReduceSumSquare = {reduce_infer, reduce_eval, reduce_lower};
const lp_op_impl lp_impl_ReduceLogSum = {reduce_infer, reduce_eval, reduce_lower};
const lp_op_impl lp_impl_ReduceLogSumExp = {reduce_infer, reduce_eval, reduce_lower};
