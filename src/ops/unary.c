/* Elementwise unary ops and activations. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "ew.h"

#define T(id) lp_T(c, (id))

static lp_status same_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    lp_set_out(c, n, 0, x->dtype, x->rank, x->dims);
    return LP_OK;
}

static lp_status float_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    if (!lp_dtype_is_float(x->dtype))
        return lp_fail(c, LP_ERR_INVALID, "input type %s; this op takes floating point", lp_dtype_name(x->dtype));
    return same_infer(c, n);
}

/* reference kernel: y = f(x), computed in double (or int64 for integer ops) */
static double apply(lp_op op, double x, const float *par) {
    switch (op) {
    case LP_OP_Relu: return x > 0 ? x : 0;
    case LP_OP_LeakyRelu: return x >= 0 ? x : x * par[0];
    case LP_OP_HardSigmoid: { double v = par[0] * x + par[1]; return v < 0 ? 0 : v > 1 ? 1 : v; }
    case LP_OP_HardSwish: { double v = x / 6.0 + 0.5; v = v < 0 ? 0 : v > 1 ? 1 : v; return x * v; }
    case LP_OP_Sigmoid: return 1.0 / (1.0 + exp(-x));
    case LP_OP_Tanh: return tanh(x);
    case LP_OP_Exp: return exp(x);
    case LP_OP_Log: return log(x);
    case LP_OP_Sqrt: return sqrt(x);
    case LP_OP_Neg: return -x;
    case LP_OP_Abs: return fabs(x);
    case LP_OP_Floor: return floor(x);
    case LP_OP_Ceil: return ceil(x);
    case LP_OP_Reciprocal: return 1.0 / x;
    case LP_OP_Clip: { double v = x < par[0] ? par[0] : x; return v > par[1] ? par[1] : v; } /* min > max: max */
    default: return x;
    }
}

static lp_status clip_bounds(lp_ctx *c, const lp_node *n, float *lo, float *hi);

static lp_status unary_eval(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]), *y = T(n->out[0]);
    float par[2] = {0, 0};
    if (n->op == LP_OP_LeakyRelu) par[0] = lp_attr_f(c, n, "alpha", 0.01f);
    if (n->op == LP_OP_HardSigmoid) {
        par[0] = lp_attr_f(c, n, "alpha", 0.2f);
        par[1] = lp_attr_f(c, n, "beta", 0.5f);
    }
    if (n->op == LP_OP_Clip) LP_TRY(clip_bounds(c, n, &par[0], &par[1]));
    int64_t ne = lp_tensor_numel(y);
    void *p = lp_out_data(c, n, 0);
    if (lp_dtype_is_int(x->dtype)) {
        for (int64_t i = 0; i < ne; i++) {
            int64_t v = lp_get_i64(x->dtype, x->data, i);
            if (n->op == LP_OP_Neg) v = -v;
            else if (n->op == LP_OP_Abs) v = v < 0 ? -v : v;
            else if (n->op == LP_OP_Relu) v = v > 0 ? v : 0;
            else if (n->op == LP_OP_Clip) {
                if (v < par[0]) v = (int64_t)par[0];
                if (v > par[1]) v = (int64_t)par[1];
            }
            lp_set_i64(y->dtype, p, i, v);
        }
    } else {
        for (int64_t i = 0; i < ne; i++) lp_set_f64(y->dtype, p, i, apply(n->op, lp_get_f64(x->dtype, x->data, i), par));
    }
    return LP_OK;
}

static lp_status emit1(lp_ctx *c, const lp_node *n, lp_op op) {
    return lp_emit_op(c, op, &n->in[0], 1, &n->out[0], 1) < 0 ? c->err->code : LP_OK;
}

/* RELU is a float kernel; integer Relu (opset 14) is max(x, 0) */
static lp_status relu_lower(lp_ctx *c, const lp_node *n) {
    if (lp_dtype_is_int(T(n->in[0])->dtype)) return ew_done(c, ew_bink(c, LP_TFL_MAXIMUM, n->in[0], 0.0, n->out[0]));
    return emit1(c, n, LP_TFL_RELU);
}
static lp_status sigmoid_lower(lp_ctx *c, const lp_node *n) { return emit1(c, n, LP_TFL_LOGISTIC); }
static lp_status tanh_lower(lp_ctx *c, const lp_node *n) { return emit1(c, n, LP_TFL_TANH); }
static lp_status exp_lower(lp_ctx *c, const lp_node *n) { return emit1(c, n, LP_TFL_EXP); }
static lp_status log_lower(lp_ctx *c, const lp_node *n) { return emit1(c, n, LP_TFL_LOG); }
static lp_status sqrt_lower(lp_ctx *c, const lp_node *n) { return emit1(c, n, LP_TFL_SQRT); }
/* float64 Abs and Neg act on the sign bit of the int64 view, exactly (TFLite has no float64
 * ABS or NEG, and float32 would round the value): adding INT64_MIN flips bit 63 (wrapping) */
static lp_status f64_sign_bit(lp_ctx *c, const lp_node *n, int abs) {
    int x = n->in[0], y = n->out[0];
    int b = lp_emit_tensor(c, LP_DT_I64, T(x)->rank, T(x)->dims, "bits");
    if (b < 0 || lp_emit_op(c, LP_TFL_BITCAST, &x, 1, &b, 1) < 0) return c->err->code;
    int flipped = ew_bin(c, LP_TFL_ADD, b, ew_ki(c, LP_DT_I64, INT64_MIN), -1);
    int r = abs ? ew_sel(c, ew_bink(c, LP_TFL_LESS, b, 0.0, -1), flipped, b, -1) : flipped;
    if (r < 0 || lp_emit_op(c, LP_TFL_BITCAST, &r, 1, &y, 1) < 0) return c->err->code;
    return LP_OK;
}

static lp_status neg_lower(lp_ctx *c, const lp_node *n) {
    if (T(n->in[0])->dtype == LP_DT_F64) return f64_sign_bit(c, n, 0);
    return emit1(c, n, LP_TFL_NEG);
}
/* ABS runs float32 and int32 (legalize widens int8/int16, wrapping back like numpy); int64 would
 * be narrowed, so it is max(x, -x); unsigned values are their own absolute value */
static lp_status abs_lower(lp_ctx *c, const lp_node *n) {
    lp_dtype dt = T(n->in[0])->dtype;
    if (dt == LP_DT_U8 || dt == LP_DT_U16 || dt == LP_DT_U32 || dt == LP_DT_U64)
        return ew_done(c, lp_emit_identity(c, n->in[0], n->out[0]));
    if (dt == LP_DT_I64)
        return ew_done(c, ew_bin(c, LP_TFL_MAXIMUM, n->in[0], ew_un(c, LP_TFL_NEG, n->in[0], -1), n->out[0]));
    if (dt == LP_DT_F64) return f64_sign_bit(c, n, 1);
    return emit1(c, n, LP_TFL_ABS);
}
static lp_status floor_lower(lp_ctx *c, const lp_node *n) { return emit1(c, n, LP_TFL_FLOOR); }
static lp_status ceil_lower(lp_ctx *c, const lp_node *n) { return emit1(c, n, LP_TFL_CEIL); }
static lp_status hardswish_lower(lp_ctx *c, const lp_node *n) { return emit1(c, n, LP_TFL_HARD_SWISH); }

static lp_status leakyrelu_lower(lp_ctx *c, const lp_node *n) {
    int id = lp_emit_op(c, LP_TFL_LEAKY_RELU, &n->in[0], 1, &n->out[0], 1);
    if (id < 0) return c->err->code;
    lp_emit_params(c, id)->alpha = lp_attr_f(c, n, "alpha", 0.01f);
    return c->err->code;
}

/* y = op(a, scalar) into out (or a new tensor) */
static int emit_scalar_op(lp_ctx *c, lp_op op, int a, double s, int out, int act) {
    lp_tensor *x = T(a);
    int k = lp_emit_scalar(c, x->dtype, s, "k");
    if (out < 0) out = lp_emit_tensor(c, x->dtype, x->rank, x->dims, "t");
    if (k < 0 || out < 0) return -1;
    int in[2] = {a, k};
    int id = lp_emit_op(c, op, in, 2, &out, 1);
    if (id < 0) return -1;
    lp_emit_params(c, id)->act = act;
    return out;
}

static lp_status hardsigmoid_lower(lp_ctx *c, const lp_node *n) {
    /* max(0, min(1, a*x + b)) = relu6(6a*x + 6b) / 6 */
    double a = lp_attr_f(c, n, "alpha", 0.2f), b = lp_attr_f(c, n, "beta", 0.5f);
    /* PyTorch's hardsigmoid has a = 1/6: then the first multiplication is by 1 */
    int t1 = fabs(6.0 * a - 1.0) < 1e-7 ? n->in[0] : emit_scalar_op(c, LP_TFL_MUL, n->in[0], 6.0 * a, -1, 0);
    int t2 = t1 < 0 ? -1 : emit_scalar_op(c, LP_TFL_ADD, t1, 6.0 * b, -1, 3 /* RELU6 */);
    if (t2 < 0 || emit_scalar_op(c, LP_TFL_MUL, t2, 1.0 / 6.0, n->out[0], 0) < 0) return c->err->code;
    return LP_OK;
}

static lp_status reciprocal_lower(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    int one = lp_emit_scalar(c, x->dtype, 1.0, "one");
    if (one < 0) return c->err->code;
    int in[2] = {one, n->in[0]};
    return lp_emit_op(c, LP_TFL_DIV, in, 2, &n->out[0], 1) < 0 ? c->err->code : LP_OK;
}

/* ---------------- Clip ---------------- */

static lp_status clip_bounds(lp_ctx *c, const lp_node *n, float *lo, float *hi) {
    *lo = -FLT_MAX;
    *hi = FLT_MAX;
    if (n->opset < 11) {
        *lo = lp_attr_f(c, n, "min", -FLT_MAX);
        *hi = lp_attr_f(c, n, "max", FLT_MAX);
        return c->err->code;
    }
    double v;
    if (lp_has_in(n, 1)) {
        if (!lp_const_scalar(c, n->in[1], &v)) return LP_ERR_UNSUPPORTED;
        *lo = (float)v;
    }
    if (lp_has_in(n, 2)) {
        if (!lp_const_scalar(c, n->in[2], &v)) return LP_ERR_UNSUPPORTED;
        *hi = (float)v;
    }
    return LP_OK;
}

static lp_status clip_lower(lp_ctx *c, const lp_node *n) {
    float lo, hi;
    lp_status st = clip_bounds(c, n, &lo, &hi);
    if (c->err->code) return c->err->code;
    int x = n->in[0], y = n->out[0];
    lp_tensor *X = T(x);
    if (st == LP_OK && lp_dtype_is_float(X->dtype)) {
        if (lo == 0.0f && hi == 6.0f) return emit1(c, n, LP_TFL_RELU6);
        if (lo == -1.0f && hi == 1.0f) return emit1(c, n, LP_TFL_RELU_N1_TO_1);
        if (lo == 0.0f && hi == FLT_MAX) return emit1(c, n, LP_TFL_RELU);
    }
    /* general form: MINIMUM(MAXIMUM(x, lo), hi), with runtime bounds when they are tensors */
    int lo_t = -1, hi_t = -1;
    if (n->opset >= 11) {
        if (lp_has_in(n, 1)) lo_t = n->in[1];
        if (lp_has_in(n, 2)) hi_t = n->in[2];
    } else {
        if (lo > -FLT_MAX) lo_t = lp_emit_scalar(c, X->dtype, lo, "min");
        if (hi < FLT_MAX) hi_t = lp_emit_scalar(c, X->dtype, hi, "max");
    }
    if (lo_t < 0 && hi_t < 0) return lp_emit_identity(c, x, y) < 0 ? c->err->code : LP_OK;
    int cur = x;
    if (lo_t >= 0) {
        int out = hi_t >= 0 ? lp_emit_tensor(c, X->dtype, X->rank, X->dims, "max") : y;
        int in[2] = {cur, lo_t};
        if (out < 0 || lp_emit_op(c, LP_TFL_MAXIMUM, in, 2, &out, 1) < 0) return c->err->code;
        cur = out;
    }
    if (hi_t >= 0) {
        int in[2] = {cur, hi_t};
        if (lp_emit_op(c, LP_TFL_MINIMUM, in, 2, &y, 1) < 0) return c->err->code;
    }
    return LP_OK;
}

static lp_status clip_infer(lp_ctx *c, const lp_node *n) { return same_infer(c, n); }

static lp_status clip_eval(lp_ctx *c, const lp_node *n) {
    float lo, hi;
    if (clip_bounds(c, n, &lo, &hi) != LP_OK)
        return c->err->code ? c->err->code : lp_fail(c, LP_ERR_UNSUPPORTED, "non-scalar bounds");
    return unary_eval(c, n);
}

/* ---------------- Identity / Dropout / Cast ---------------- */

static lp_status identity_eval(lp_ctx *c, const lp_node *n) {
    memcpy(lp_out_data(c, n, 0), T(n->in[0])->data, T(n->out[0])->nbytes);
    return LP_OK;
}

static lp_status identity_infer(lp_ctx *c, const lp_node *n) {
    LP_TRY(same_infer(c, n));
    lp_symval sv;
    if (lp_sv_get(c, n->in[0], &sv)) return lp_sv_set(c, n->out[0], &sv);
    return LP_OK;
}

static lp_status identity_lower(lp_ctx *c, const lp_node *n) {
    return lp_emit_identity(c, n->in[0], n->out[0]) < 0 ? c->err->code : LP_OK;
}

static lp_status dropout_infer(lp_ctx *c, const lp_node *n) {
    LP_TRY(identity_infer(c, n));
    if (n->n_out > 1 && n->out[1] >= 0) {
        lp_tensor *x = T(n->in[0]);
        lp_set_out(c, n, 1, LP_DT_BOOL, x->rank, x->dims);
    }
    return LP_OK;
}

static lp_status dropout_lower(lp_ctx *c, const lp_node *n) {
    double tm = 0;
    if (lp_has_in(n, 2) && (!lp_const_scalar(c, n->in[2], &tm) || tm != 0))
        return lp_fail(c, LP_ERR_UNSUPPORTED, "training_mode must be a constant false (inference only)");
    if (n->n_out > 1 && n->out[1] >= 0) {
        /* the mask of an inference-mode dropout is all true */
        lp_tensor *x = T(n->in[0]);
        int64_t ne = lp_tensor_numel(x);
        if (ne < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "output 'mask' with a dynamic shape");
        uint8_t *ones = lp_table_alloc(c, ne, 1, "dropout mask");
        if (!ones) return c->err->code;
        memset(ones, 1, (size_t)ne);
        int k = lp_emit_const(c, LP_DT_BOOL, x->rank, x->dims, ones, "mask");
        if (k < 0 || lp_emit_identity(c, k, n->out[1]) < 0) return c->err->code;
    }
    return identity_lower(c, n);
}

static lp_status cast_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    int64_t to = lp_attr_i(c, n, "to", -1);
    if (to <= LP_DT_UNDEF || to >= LP_DT_COUNT) return lp_fail(c, LP_ERR_INVALID, "attribute 'to' is missing or invalid");
    lp_set_out(c, n, 0, (lp_dtype)to, x->rank, x->dims);
    lp_symval sv;
    if (lp_dtype_is_int((lp_dtype)to) && lp_sv_get(c, n->in[0], &sv)) return lp_sv_set(c, n->out[0], &sv);
    return LP_OK;
}

static lp_status cast_eval(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]), *y = T(n->out[0]);
    int64_t ne = lp_tensor_numel(y);
    void *p = lp_out_data(c, n, 0);
    for (int64_t i = 0; i < ne; i++) {
        if (lp_dtype_is_float(x->dtype)) lp_set_f64(y->dtype, p, i, lp_get_f64(x->dtype, x->data, i));
        else lp_set_i64(y->dtype, p, i, lp_get_i64(x->dtype, x->data, i));
    }
    return LP_OK;
}

static lp_status cast_lower(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]), *y = T(n->out[0]);
    if (x->dtype == y->dtype) return identity_lower(c, n);
    return lp_emit_cast(c, n->in[0], y->dtype, n->out[0]) < 0 ? c->err->code : LP_OK;
}

const lp_op_impl lp_impl_Relu = {same_infer, unary_eval, relu_lower};
const lp_op_impl lp_impl_Clip = {clip_infer, clip_eval, clip_lower};
const lp_op_impl lp_impl_LeakyRelu = {float_infer, unary_eval, leakyrelu_lower};
const lp_op_impl lp_impl_HardSwish = {float_infer, unary_eval, hardswish_lower};
const lp_op_impl lp_impl_HardSigmoid = {float_infer, unary_eval, hardsigmoid_lower};
const lp_op_impl lp_impl_Sigmoid = {float_infer, unary_eval, sigmoid_lower};
const lp_op_impl lp_impl_Tanh = {float_infer, unary_eval, tanh_lower};
const lp_op_impl lp_impl_Exp = {float_infer, unary_eval, exp_lower};
const lp_op_impl lp_impl_Log = {float_infer, unary_eval, log_lower};
const lp_op_impl lp_impl_Sqrt = {float_infer, unary_eval, sqrt_lower};
const lp_op_impl lp_impl_Neg = {same_infer, unary_eval, neg_lower};
const lp_op_impl lp_impl_Abs = {same_infer, unary_eval, abs_lower};
const lp_op_impl lp_impl_Floor = {float_infer, unary_eval, floor_lower};
const lp_op_impl lp_impl_Ceil = {float_infer, unary_eval, ceil_lower};
const lp_op_impl lp_impl_Reciprocal = {float_infer, unary_eval, reciprocal_lower};
const lp_op_impl lp_impl_Identity = {identity_infer, identity_eval, identity_lower};
const lp_op_impl lp_impl_Dropout = {dropout_infer, NULL, dropout_lower};
const lp_op_impl lp_impl_Cast = {cast_infer, cast_eval, cast_lower};
