/* Elementwise math that TFLite has no single builtin for: trigonometric and hyperbolic functions,
 * Erf, Round, Sign, IsInf, IsNaN, Mod, the activation functions (Celu, Elu, Selu, Gelu, Mish,
 * Softplus, Softsign, ThresholdedRelu, PRelu, Shrink, Swish), variadic Sum and Mean, CastLike,
 * Size and EyeLike.
 *
 * TFLite's float kernels run float32 only, so a float function is built once in float32: the
 * input is cast to float32 first and the result cast back to the ONNX type (float16 and float64
 * results are therefore float32-accurate). Formulas are chosen to keep float32 accuracy where the
 * textbook one cancels (asinh, atanh, softplus near 0; sinh near 0) and to keep ONNX's NaN and
 * infinity results. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "ew.h"

#define T(id) lp_T(c, (id))

/* ---------------- float functions, built in float32 ---------------- */

/* y = f(x) for a float32 tensor x; writes `out` when >= 0 */
typedef int (*f32_chain)(lp_ctx *c, const lp_node *n, int x, int out);

static lp_status lower_f32(lp_ctx *c, const lp_node *n, f32_chain f) {
    int y = n->out[0];
    int direct = T(y)->dtype == LP_DT_F32 ? y : -1;
    return ew_done(c, ew_from_f32(c, f(c, n, ew_to_f32(c, n->in[0]), direct), y));
}

static int k(lp_ctx *c, double v) { return ew_k(c, LP_DT_F32, v); }

#define LN2 0.69314718055994530942

static int chain_sin(lp_ctx *c, const lp_node *n, int x, int out) { (void)n; return ew_un(c, LP_TFL_SIN, x, out); }
static int chain_cos(lp_ctx *c, const lp_node *n, int x, int out) { (void)n; return ew_un(c, LP_TFL_COS, x, out); }
static int chain_round(lp_ctx *c, const lp_node *n, int x, int out) {
    (void)n;
    return ew_un(c, LP_TFL_ROUND, x, out); /* TFLite ROUND rounds half to even, as ONNX */
}

static int chain_tan(lp_ctx *c, const lp_node *n, int x, int out) {
    (void)n;
    return ew_bin(c, LP_TFL_DIV, ew_un(c, LP_TFL_SIN, x, -1), ew_un(c, LP_TFL_COS, x, -1), out);
}

/* ATAN2 does not broadcast (both operands need x's shape): atan(x) = atan2(x, ones_like(x)) */
static int chain_atan(lp_ctx *c, const lp_node *n, int x, int out) {
    (void)n;
    int ones = ew_bink(c, LP_TFL_ADD, ew_un(c, LP_TFL_ZEROS_LIKE, x, -1), 1.0, -1);
    return ew_bin(c, LP_TFL_ATAN2, x, ones, out);
}

/* sqrt(1 - x^2) as sqrt((1 - x)(1 + x)): no cancellation near |x| = 1; NaN for |x| > 1 */
static int cos_of_asin(lp_ctx *c, int x) {
    int p = ew_bin(c, LP_TFL_MUL, ew_kbin(c, LP_TFL_SUB, 1.0, x, -1), ew_bink(c, LP_TFL_ADD, x, 1.0, -1), -1);
    return ew_un(c, LP_TFL_SQRT, p, -1);
}

static int chain_asin(lp_ctx *c, const lp_node *n, int x, int out) {
    (void)n;
    return ew_bin(c, LP_TFL_ATAN2, x, cos_of_asin(c, x), out);
}

static int chain_acos(lp_ctx *c, const lp_node *n, int x, int out) {
    (void)n;
    return ew_bin(c, LP_TFL_ATAN2, cos_of_asin(c, x), x, out);
}

/* e^a / 2 for a >= 0 without overflowing before the result does (e^a overflows float32 above
 * 88.72, e^a / 2 only above 89.41): beyond 88, (e^(a/2) / 2) e^(a/2) */
static int half_exp(lp_ctx *c, int a, int e) {
    int h = ew_un(c, LP_TFL_EXP, ew_bink(c, LP_TFL_MUL, a, 0.5, -1), -1);
    int big = ew_bin(c, LP_TFL_MUL, ew_bink(c, LP_TFL_MUL, h, 0.5, -1), h, -1);
    return ew_sel(c, ew_bink(c, LP_TFL_GREATER, a, 88.0, -1), big, ew_bink(c, LP_TFL_MUL, e, 0.5, -1), -1);
}

/* sinh: (e^x - e^-x)/2 cancels for small |x|; below 0.5 the odd Taylor series to x^9 is exact to
 * float32 (the first omitted term is below 3e-11 relative). NaN takes the series branch (TFLite's
 * EXP returns 0 for NaN). */
static int chain_sinh(lp_ctx *c, const lp_node *n, int x, int out) {
    (void)n;
    static const double taylor[5] = {1.0, 1.0 / 6, 1.0 / 120, 1.0 / 5040, 1.0 / 362880};
    int small = ew_bin(c, LP_TFL_MUL, x, ew_poly(c, ew_bin(c, LP_TFL_MUL, x, x, -1), taylor, 5, -1), -1);
    int a = ew_un(c, LP_TFL_ABS, x, -1);
    int e = ew_un(c, LP_TFL_EXP, a, -1);
    int big = ew_bin(c, LP_TFL_SUB, half_exp(c, a, e), ew_kbin(c, LP_TFL_DIV, 0.5, e, -1), -1);
    big = ew_sel(c, ew_bink(c, LP_TFL_LESS, x, 0.0, -1), ew_un(c, LP_TFL_NEG, big, -1), big, -1);
    return ew_sel(c, ew_bink(c, LP_TFL_GREATER_EQUAL, a, 0.5, -1), big, small, out);
}

static int chain_cosh(lp_ctx *c, const lp_node *n, int x, int out) {
    (void)n;
    int a = ew_un(c, LP_TFL_ABS, x, -1);
    int e = ew_un(c, LP_TFL_EXP, a, -1);
    int r = ew_bin(c, LP_TFL_ADD, half_exp(c, a, e), ew_kbin(c, LP_TFL_DIV, 0.5, e, -1), -1);
    return ew_sel(c, ew_bin(c, LP_TFL_NOT_EQUAL, x, x, -1), x, r, out); /* NaN stays NaN */
}

/* log(2a) for large a, as log(a / 2) + 2 log(2): TFLite's LOG returns inf above 2^127 */
static int log_times2(lp_ctx *c, int a) {
    return ew_bink(c, LP_TFL_ADD, ew_un(c, LP_TFL_LOG, ew_bink(c, LP_TFL_MUL, a, 0.5, -1), -1), 2 * LN2, -1);
}

/* asinh(a) = log1p(a + a^2 / (1 + sqrt(1 + a^2))) for a = |x|, with the fraction written as
 * a / (r + sqrt(r^2 + 1)), r = 1/a, so that a^2 cannot overflow (a = 0 gives 0/inf = 0); above
 * 1e18 log(2a) (the dropped terms are far below float32 precision) */
static int chain_asinh(lp_ctx *c, const lp_node *n, int x, int out) {
    (void)n;
    int a = ew_un(c, LP_TFL_ABS, x, -1);
    int r = ew_kbin(c, LP_TFL_DIV, 1.0, a, -1);
    int root = ew_un(c, LP_TFL_SQRT, ew_bink(c, LP_TFL_ADD, ew_bin(c, LP_TFL_MUL, r, r, -1), 1.0, -1), -1);
    int den = ew_bin(c, LP_TFL_ADD, r, root, -1);
    int v = ew_log1p(c, ew_bin(c, LP_TFL_ADD, a, ew_bin(c, LP_TFL_DIV, a, den, -1), -1), -1);
    int big = log_times2(c, a);
    v = ew_sel(c, ew_bink(c, LP_TFL_GREATER, a, 1e18, -1), big, v, -1);
    return ew_sel(c, ew_bink(c, LP_TFL_LESS, x, 0.0, -1), ew_un(c, LP_TFL_NEG, v, -1), v, out);
}

/* acosh(x) = log1p(t + sqrt(t) sqrt(t + 2)), t = x - 1 (exact near 1; NaN below 1, and no
 * overflow in t^2); above 1e18 log(2x) */
static int chain_acosh(lp_ctx *c, const lp_node *n, int x, int out) {
    (void)n;
    int t = ew_bink(c, LP_TFL_SUB, x, 1.0, -1);
    int s = ew_bin(c, LP_TFL_MUL, ew_un(c, LP_TFL_SQRT, t, -1),
                   ew_un(c, LP_TFL_SQRT, ew_bink(c, LP_TFL_ADD, t, 2.0, -1), -1), -1);
    int v = ew_log1p(c, ew_bin(c, LP_TFL_ADD, t, s, -1), -1);
    int big = log_times2(c, x);
    return ew_sel(c, ew_bink(c, LP_TFL_GREATER, x, 1e18, -1), big, v, out);
}

/* atanh(a) = log1p(2a / (1 - a)) / 2 for a = |x| (for negative x, 1 + 2x/(1 - x) would cancel
 * near -1): exact near 0, inf at 1, NaN beyond */
static int chain_atanh(lp_ctx *c, const lp_node *n, int x, int out) {
    (void)n;
    int a = ew_un(c, LP_TFL_ABS, x, -1);
    int q = ew_bin(c, LP_TFL_DIV, ew_bink(c, LP_TFL_MUL, a, 2.0, -1), ew_kbin(c, LP_TFL_SUB, 1.0, a, -1), -1);
    int v = ew_bink(c, LP_TFL_MUL, ew_log1p(c, q, -1), 0.5, -1);
    return ew_sel(c, ew_bink(c, LP_TFL_LESS, x, 0.0, -1), ew_un(c, LP_TFL_NEG, v, -1), v, out);
}

/* Erf (TFLite has no ERF). Two near-minimax polynomials, fitted with mpmath by
 * tools/fit_erf.py and rounded to float32:
 *   |x| < 1:  erf(x) = x * A(x^2)                        (relative error of the fit 1.2e-9)
 *   |x| >= 1: erf(|x|) = 1 - exp(-t^2) * B(t), t = min(|x|, 4)  (absolute error 2.4e-9;
 *             erf(4) is 1 in float32)
 * Evaluated in float32 the result is within 2e-7 relative of erf everywhere. NaN takes the
 * first branch and stays NaN. */
static const double erf_a[7] = {1.128379107e+00, -3.761262596e-01, 1.128358543e-01, -2.685381100e-02,
                                5.188327283e-03, -8.010189049e-04, 7.853846910e-05};
static const double erf_b[9] = {9.922586679e-01, -1.079843760e+00, 8.627189994e-01, -5.188581944e-01,
                                2.305691689e-01, -7.275841385e-02, 1.530204713e-02, -1.911763800e-03,
                                1.068406491e-04};

static int chain_erf(lp_ctx *c, const lp_node *n, int x, int out) {
    (void)n;
    int ax = ew_un(c, LP_TFL_ABS, x, -1);
    int small = ew_bin(c, LP_TFL_MUL, x, ew_poly(c, ew_bin(c, LP_TFL_MUL, x, x, -1), erf_a, 7, -1), -1);
    int t = ew_bink(c, LP_TFL_MINIMUM, ax, 4.0, -1);
    int e = ew_un(c, LP_TFL_EXP, ew_un(c, LP_TFL_NEG, ew_bin(c, LP_TFL_MUL, t, t, -1), -1), -1);
    int b = ew_kbin(c, LP_TFL_SUB, 1.0, ew_bin(c, LP_TFL_MUL, e, ew_poly(c, t, erf_b, 9, -1), -1), -1);
    int big = ew_sel(c, ew_bink(c, LP_TFL_LESS, x, 0.0, -1), ew_un(c, LP_TFL_NEG, b, -1), b, -1);
    return ew_sel(c, ew_bink(c, LP_TFL_GREATER_EQUAL, ax, 1.0, -1), big, small, out);
}

static lp_status sin_lower(lp_ctx *c, const lp_node *n) { return lower_f32(c, n, chain_sin); }
static lp_status cos_lower(lp_ctx *c, const lp_node *n) { return lower_f32(c, n, chain_cos); }
static lp_status tan_lower(lp_ctx *c, const lp_node *n) { return lower_f32(c, n, chain_tan); }
static lp_status asin_lower(lp_ctx *c, const lp_node *n) { return lower_f32(c, n, chain_asin); }
static lp_status acos_lower(lp_ctx *c, const lp_node *n) { return lower_f32(c, n, chain_acos); }
static lp_status atan_lower(lp_ctx *c, const lp_node *n) { return lower_f32(c, n, chain_atan); }
static lp_status sinh_lower(lp_ctx *c, const lp_node *n) { return lower_f32(c, n, chain_sinh); }
static lp_status cosh_lower(lp_ctx *c, const lp_node *n) { return lower_f32(c, n, chain_cosh); }
static lp_status asinh_lower(lp_ctx *c, const lp_node *n) { return lower_f32(c, n, chain_asinh); }
static lp_status acosh_lower(lp_ctx *c, const lp_node *n) { return lower_f32(c, n, chain_acosh); }
static lp_status atanh_lower(lp_ctx *c, const lp_node *n) { return lower_f32(c, n, chain_atanh); }
static lp_status erf_lower(lp_ctx *c, const lp_node *n) { return lower_f32(c, n, chain_erf); }
static lp_status round_lower(lp_ctx *c, const lp_node *n) { return lower_f32(c, n, chain_round); }

/* reference kernels */
static double f_sin(double x, const double *p) { (void)p; return sin(x); }
static double f_cos(double x, const double *p) { (void)p; return cos(x); }
static double f_tan(double x, const double *p) { (void)p; return tan(x); }
static double f_asin(double x, const double *p) { (void)p; return asin(x); }
static double f_acos(double x, const double *p) { (void)p; return acos(x); }
static double f_atan(double x, const double *p) { (void)p; return atan(x); }
static double f_sinh(double x, const double *p) { (void)p; return sinh(x); }
static double f_cosh(double x, const double *p) { (void)p; return cosh(x); }
static double f_asinh(double x, const double *p) { (void)p; return asinh(x); }
static double f_acosh(double x, const double *p) { (void)p; return acosh(x); }
static double f_atanh(double x, const double *p) { (void)p; return atanh(x); }
static double f_erf(double x, const double *p) { (void)p; return erf(x); }
static double f_round(double x, const double *p) { (void)p; return nearbyint(x); /* half to even */ }
static double f_sign(double x, const double *p) { (void)p; return x > 0 ? 1.0 : x < 0 ? -1.0 : x; }

#define EVAL1(name, fn) \
    static lp_status name(lp_ctx *c, const lp_node *n) { return ew_eval_f1(c, n, fn, NULL); }
EVAL1(sin_eval, f_sin)
EVAL1(cos_eval, f_cos)
EVAL1(tan_eval, f_tan)
EVAL1(asin_eval, f_asin)
EVAL1(acos_eval, f_acos)
EVAL1(atan_eval, f_atan)
EVAL1(sinh_eval, f_sinh)
EVAL1(cosh_eval, f_cosh)
EVAL1(asinh_eval, f_asinh)
EVAL1(acosh_eval, f_acosh)
EVAL1(atanh_eval, f_atanh)
EVAL1(erf_eval, f_erf)
EVAL1(round_eval, f_round)
EVAL1(sign_eval, f_sign)

/* Erf before opset 13 also takes integers: computed in float and truncated back, as the reference */
static lp_status numeric_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    if (!lp_dtype_is_float(x->dtype) && !lp_dtype_is_int(x->dtype))
        return lp_fail(c, LP_ERR_INVALID, "input type %s; this op takes numbers", lp_dtype_name(x->dtype));
    return ew_same_infer(c, n);
}

const lp_op_impl lp_impl_Sin = {ew_float_infer, sin_eval, sin_lower};
const lp_op_impl lp_impl_Cos = {ew_float_infer, cos_eval, cos_lower};
const lp_op_impl lp_impl_Tan = {ew_float_infer, tan_eval, tan_lower};
const lp_op_impl lp_impl_Asin = {ew_float_infer, asin_eval, asin_lower};
const lp_op_impl lp_impl_Acos = {ew_float_infer, acos_eval, acos_lower};
const lp_op_impl lp_impl_Atan = {ew_float_infer, atan_eval, atan_lower};
const lp_op_impl lp_impl_Sinh = {ew_float_infer, sinh_eval, sinh_lower};
const lp_op_impl lp_impl_Cosh = {ew_float_infer, cosh_eval, cosh_lower};
const lp_op_impl lp_impl_Asinh = {ew_float_infer, asinh_eval, asinh_lower};
const lp_op_impl lp_impl_Acosh = {ew_float_infer, acosh_eval, acosh_lower};
const lp_op_impl lp_impl_Atanh = {ew_float_infer, atanh_eval, atanh_lower};
const lp_op_impl lp_impl_Erf = {numeric_infer, erf_eval, erf_lower};
const lp_op_impl lp_impl_Round = {ew_float_infer, round_eval, round_lower};

/* ---------------- Sign, IsNaN, IsInf ---------------- */

static int is_unsigned(lp_dtype d) { return d == LP_DT_U8 || d == LP_DT_U16 || d == LP_DT_U32 || d == LP_DT_U64; }

static lp_status sign_lower(lp_ctx *c, const lp_node *n) {
    int x = n->in[0], y = n->out[0];
    lp_dtype dt = T(x)->dtype;
    if (lp_dtype_is_float(dt) || dt == LP_DT_I32 || dt == LP_DT_I8 || dt == LP_DT_I16)
        return ew_done(c, ew_un(c, LP_TFL_SIGN, x, y)); /* float32/64, int32 kernel; legalize widens the rest */
    /* int64 and unsigned: SIGN has no kernel; (x > 0) - (x < 0), without narrowing */
    int pos = ew_cast(c, ew_bink(c, LP_TFL_GREATER, x, 0.0, -1), dt, is_unsigned(dt) ? y : -1);
    if (is_unsigned(dt)) return ew_done(c, pos);
    return ew_done(c, ew_bin(c, LP_TFL_SUB, pos, ew_cast(c, ew_bink(c, LP_TFL_LESS, x, 0.0, -1), dt, -1), y));
}

static lp_status bool_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    if (!lp_dtype_is_float(x->dtype))
        return lp_fail(c, LP_ERR_INVALID, "input type %s; this op takes floating point", lp_dtype_name(x->dtype));
    lp_set_out(c, n, 0, LP_DT_BOOL, x->rank, x->dims);
    return LP_OK;
}

/* NaN is the only value unequal to itself; a float64 NaN stays NaN in float32 */
static lp_status isnan_lower(lp_ctx *c, const lp_node *n) {
    int x = ew_to_f32(c, n->in[0]);
    return ew_done(c, ew_bin(c, LP_TFL_NOT_EQUAL, x, x, n->out[0]));
}

static double f_isnan(double x, const double *p) { (void)p; return x != x; }
static lp_status isnan_eval(lp_ctx *c, const lp_node *n) { return ew_eval_f1(c, n, f_isnan, NULL); }

static lp_status isinf_lower(lp_ctx *c, const lp_node *n) {
    int pos = lp_attr_i(c, n, "detect_positive", 1) != 0, neg = lp_attr_i(c, n, "detect_negative", 1) != 0;
    int x = n->in[0], y = n->out[0];
    if (c->err->code) return c->err->code;
    if (T(x)->dtype == LP_DT_F64) {
        /* a float64 beyond float32's range would become inf in float32: compare the bit patterns */
        int b = lp_emit_tensor(c, LP_DT_I64, T(x)->rank, T(x)->dims, "bits");
        if (b < 0 || lp_emit_op(c, LP_TFL_BITCAST, &x, 1, &b, 1) < 0) return c->err->code;
        int p = pos ? ew_bin(c, LP_TFL_EQUAL, b, ew_ki(c, LP_DT_I64, INT64_C(0x7FF0000000000000)), (neg ? -1 : y)) : -1;
        int m = neg ? ew_bin(c, LP_TFL_EQUAL, b, ew_ki(c, LP_DT_I64, -INT64_C(0x0010000000000000)), (pos ? -1 : y))
                    : -1; /* 0xFFF0000000000000 */
        if (pos && neg) return ew_done(c, ew_bin(c, LP_TFL_LOGICAL_OR, p, m, y));
        if (pos || neg) return ew_done(c, pos ? p : m);
    }
    int xf = ew_to_f32(c, x);
    if (pos && neg) return ew_done(c, ew_bink(c, LP_TFL_EQUAL, ew_un(c, LP_TFL_ABS, xf, -1), INFINITY, y));
    if (pos) return ew_done(c, ew_bink(c, LP_TFL_EQUAL, xf, INFINITY, y));
    if (neg) return ew_done(c, ew_bink(c, LP_TFL_EQUAL, xf, -INFINITY, y));
    /* neither sign is detected: all false (no value, not even NaN, exceeds +inf) */
    return ew_done(c, ew_bink(c, LP_TFL_GREATER, xf, INFINITY, y));
}

static lp_status isinf_eval(lp_ctx *c, const lp_node *n) {
    double par[2] = {(double)(lp_attr_i(c, n, "detect_positive", 1) != 0),
                     (double)(lp_attr_i(c, n, "detect_negative", 1) != 0)};
    lp_tensor *x = T(n->in[0]), *y = T(n->out[0]);
    int64_t ne = lp_tensor_numel(y);
    uint8_t *p = lp_out_data(c, n, 0);
    for (int64_t i = 0; i < ne; i++) {
        double v = lp_get_f64(x->dtype, x->data, i);
        p[i] = (uint8_t)((par[0] && v == INFINITY) || (par[1] && v == -INFINITY));
    }
    return c->err->code;
}

const lp_op_impl lp_impl_Sign = {numeric_infer, sign_eval, sign_lower};
const lp_op_impl lp_impl_IsNaN = {bool_infer, isnan_eval, isnan_lower};
const lp_op_impl lp_impl_IsInf = {bool_infer, isinf_eval, isinf_lower};

/* ---------------- activations ---------------- */

/* alpha * ELU(x / scale) for x <= 0, x above: ELU's negative branch is expm1 */
static int elu_like(lp_ctx *c, int x, double scale, double alpha, double pos, int out) {
    int arg = scale == 1.0 ? x : ew_bink(c, LP_TFL_DIV, x, scale, -1);
    int e = ew_un(c, LP_TFL_ELU, arg, (alpha == 1.0 && pos == 1.0 && scale == 1.0) ? out : -1);
    if (alpha == 1.0 && pos == 1.0 && scale == 1.0) return e;
    int neg = alpha == 1.0 ? e : ew_bink(c, LP_TFL_MUL, e, alpha, -1);
    int p = pos == 1.0 ? x : ew_bink(c, LP_TFL_MUL, x, pos, -1);
    return ew_sel(c, ew_bink(c, LP_TFL_GREATER, x, 0.0, -1), p, neg, out);
}

static int chain_elu(lp_ctx *c, const lp_node *n, int x, int out) {
    return elu_like(c, x, 1.0, lp_attr_f(c, n, "alpha", 1.0f), 1.0, out);
}

/* Celu: max(0, x) + min(0, alpha (exp(x / alpha) - 1)) */
static int chain_celu(lp_ctx *c, const lp_node *n, int x, int out) {
    double alpha = lp_attr_f(c, n, "alpha", 1.0f);
    return elu_like(c, x, alpha, alpha, 1.0, out);
}

static int chain_selu(lp_ctx *c, const lp_node *n, int x, int out) {
    double alpha = lp_attr_f(c, n, "alpha", 1.67326319217681884765625f);
    double gamma = lp_attr_f(c, n, "gamma", 1.05070102214813232421875f);
    return elu_like(c, x, 1.0, gamma * alpha, gamma, out);
}

static int chain_gelu(lp_ctx *c, const lp_node *n, int x, int out) {
    const char *a = lp_attr_s(c, n, "approximate", "none");
    if (!a) return -1;
    if (strcmp(a, "none") != 0 && strcmp(a, "tanh") != 0) {
        lp_fail(c, LP_ERR_INVALID, "attribute 'approximate'='%s' must be 'none' or 'tanh'", a);
        return -1;
    }
    if (x < 0 || (out < 0 && (out = ew_like(c, x, LP_DT_UNDEF)) < 0)) return -1;
    int id = lp_emit_op(c, LP_TFL_GELU, &x, 1, &out, 1);
    if (id < 0) return -1;
    lp_emit_params(c, id)->approximate = a[0] == 't';
    return out;
}

/* mish(x) = x tanh(softplus(x)) = x n / (n + 2) with n = e^x (e^x + 2): no cancellation, and
 * e^x is capped at e^20 where n / (n + 2) is already 1 in float32 */
static int chain_mish(lp_ctx *c, const lp_node *n, int x, int out) {
    (void)n;
    int e = ew_un(c, LP_TFL_EXP, ew_bink(c, LP_TFL_MINIMUM, x, 20.0, -1), -1);
    int nn = ew_bin(c, LP_TFL_MUL, e, ew_bink(c, LP_TFL_ADD, e, 2.0, -1), -1);
    int r = ew_bin(c, LP_TFL_DIV, nn, ew_bink(c, LP_TFL_ADD, nn, 2.0, -1), -1);
    return ew_bin(c, LP_TFL_MUL, x, r, out);
}

/* softplus(x) = log1p(e^x), exact for very negative x; x itself above 20, where log1p(e^-x) is
 * below half an ulp of x */
static int chain_softplus(lp_ctx *c, const lp_node *n, int x, int out) {
    (void)n;
    int v = ew_log1p(c, ew_un(c, LP_TFL_EXP, ew_bink(c, LP_TFL_MINIMUM, x, 20.0, -1), -1), -1);
    return ew_sel(c, ew_bink(c, LP_TFL_LESS_EQUAL, x, 20.0, -1), v, x, out); /* NaN: x */
}

static int chain_softsign(lp_ctx *c, const lp_node *n, int x, int out) {
    (void)n;
    return ew_bin(c, LP_TFL_DIV, x, ew_bink(c, LP_TFL_ADD, ew_un(c, LP_TFL_ABS, x, -1), 1.0, -1), out);
}

static int chain_thresholded_relu(lp_ctx *c, const lp_node *n, int x, int out) {
    double alpha = lp_attr_f(c, n, "alpha", 1.0f);
    return ew_sel(c, ew_bink(c, LP_TFL_GREATER, x, alpha, -1), x, k(c, 0.0), out);
}

/* Shrink: x + bias below -lambd, x - bias above lambd, 0 between (integers go through float32) */
static int chain_shrink(lp_ctx *c, const lp_node *n, int x, int out) {
    double bias = lp_attr_f(c, n, "bias", 0.0f), lambd = lp_attr_f(c, n, "lambd", 0.5f);
    int hi = ew_sel(c, ew_bink(c, LP_TFL_GREATER, x, lambd, -1), ew_bink(c, LP_TFL_SUB, x, bias, -1), k(c, 0.0), -1);
    return ew_sel(c, ew_bink(c, LP_TFL_LESS, x, -lambd, -1), ew_bink(c, LP_TFL_ADD, x, bias, -1), hi, out);
}

static int chain_swish(lp_ctx *c, const lp_node *n, int x, int out) {
    double alpha = lp_attr_f(c, n, "alpha", 1.0f);
    int ax = alpha == 1.0 ? x : ew_bink(c, LP_TFL_MUL, x, alpha, -1);
    return ew_bin(c, LP_TFL_MUL, x, ew_un(c, LP_TFL_LOGISTIC, ax, -1), out);
}

static lp_status elu_lower(lp_ctx *c, const lp_node *n) { return lower_f32(c, n, chain_elu); }
static lp_status celu_lower(lp_ctx *c, const lp_node *n) { return lower_f32(c, n, chain_celu); }
static lp_status selu_lower(lp_ctx *c, const lp_node *n) { return lower_f32(c, n, chain_selu); }
static lp_status gelu_lower(lp_ctx *c, const lp_node *n) { return lower_f32(c, n, chain_gelu); }
static lp_status mish_lower(lp_ctx *c, const lp_node *n) { return lower_f32(c, n, chain_mish); }
static lp_status softplus_lower(lp_ctx *c, const lp_node *n) { return lower_f32(c, n, chain_softplus); }
static lp_status softsign_lower(lp_ctx *c, const lp_node *n) { return lower_f32(c, n, chain_softsign); }
static lp_status thresholded_relu_lower(lp_ctx *c, const lp_node *n) { return lower_f32(c, n, chain_thresholded_relu); }
static lp_status shrink_lower(lp_ctx *c, const lp_node *n) { return lower_f32(c, n, chain_shrink); }
static lp_status swish_lower(lp_ctx *c, const lp_node *n) { return lower_f32(c, n, chain_swish); }

/* reference kernels: par[] holds the attributes */
static double f_elu(double x, const double *p) { return x > 0 ? x : p[0] * expm1(x); }
static double f_celu(double x, const double *p) { return x > 0 ? x : p[0] * expm1(x / p[0]); }
static double f_selu(double x, const double *p) { return p[1] * (x > 0 ? x : p[0] * expm1(x)); }
static double f_gelu(double x, const double *p) {
    if (p[0]) return 0.5 * x * (1.0 + tanh(0.79788456080286535588 /* sqrt(2 / pi) */ * (x + 0.044715 * x * x * x)));
    return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
}
static double f_softplus(double x, const double *p) { (void)p; return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }
static double f_mish(double x, const double *p) { return x * tanh(f_softplus(x, p)); }
static double f_softsign(double x, const double *p) { (void)p; return x / (1.0 + fabs(x)); }
static double f_thresholded_relu(double x, const double *p) { return x > p[0] ? x : 0.0; }
static double f_shrink(double x, const double *p) { return x < -p[1] ? x + p[0] : x > p[1] ? x - p[0] : 0.0; }
static double f_swish(double x, const double *p) { return x / (1.0 + exp(-p[0] * x)); }

static lp_status act_eval(lp_ctx *c, const lp_node *n) {
    double p[2] = {0, 0};
    ew_f1 f = NULL;
    switch (n->op) {
    case LP_OP_Elu: p[0] = lp_attr_f(c, n, "alpha", 1.0f), f = f_elu; break;
    case LP_OP_Celu: p[0] = lp_attr_f(c, n, "alpha", 1.0f), f = f_celu; break;
    case LP_OP_Selu:
        p[0] = lp_attr_f(c, n, "alpha", 1.67326319217681884765625f);
        p[1] = lp_attr_f(c, n, "gamma", 1.05070102214813232421875f);
        f = f_selu;
        break;
    case LP_OP_Gelu: {
        const char *a = lp_attr_s(c, n, "approximate", "none");
        p[0] = a && strcmp(a, "tanh") == 0;
        f = f_gelu;
        break;
    }
    case LP_OP_Mish: f = f_mish; break;
    case LP_OP_Softplus: f = f_softplus; break;
    case LP_OP_Softsign: f = f_softsign; break;
    case LP_OP_ThresholdedRelu: p[0] = lp_attr_f(c, n, "alpha", 1.0f), f = f_thresholded_relu; break;
    case LP_OP_Shrink: p[0] = lp_attr_f(c, n, "bias", 0.0f), p[1] = lp_attr_f(c, n, "lambd", 0.5f), f = f_shrink; break;
    case LP_OP_Swish: p[0] = lp_attr_f(c, n, "alpha", 1.0f), f = f_swish; break;
    default: return lp_fail(c, LP_ERR_INTERNAL, "no reference kernel");
    }
    if (c->err->code) return c->err->code;
    return ew_eval_f1(c, n, f, p);
}

const lp_op_impl lp_impl_Elu = {ew_float_infer, act_eval, elu_lower};
const lp_op_impl lp_impl_Celu = {ew_float_infer, act_eval, celu_lower};
const lp_op_impl lp_impl_Selu = {ew_float_infer, act_eval, selu_lower};
const lp_op_impl lp_impl_Gelu = {ew_float_infer, act_eval, gelu_lower};
const lp_op_impl lp_impl_Mish = {ew_float_infer, act_eval, mish_lower};
const lp_op_impl lp_impl_Softplus = {ew_float_infer, act_eval, softplus_lower};
const lp_op_impl lp_impl_Softsign = {ew_float_infer, act_eval, softsign_lower};
const lp_op_impl lp_impl_ThresholdedRelu = {ew_float_infer, act_eval, thresholded_relu_lower};
const lp_op_impl lp_impl_Shrink = {numeric_infer, act_eval, shrink_lower};
const lp_op_impl lp_impl_Swish = {ew_float_infer, act_eval, swish_lower};

/* ---------------- PRelu ---------------- */

/* Before opset 7 (no numpy broadcasting), a 1-D slope of X's channel count applies per channel
 * (axis 1), as PyTorch exported nn.PReLU(num_parameters=C). */
static int prelu_channelwise(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]), *s = T(n->in[1]);
    return n->opset < 7 && s->rank == 1 && x->rank >= 2 && s->dims[0] > 1 && s->dims[0] == x->dims[1];
}

/* slope broadcasts to X (unidirectionally); the output has X's shape */
static lp_status prelu_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]), *s = T(n->in[1]);
    if (x->dtype != s->dtype)
        return lp_fail(c, LP_ERR_INVALID, "X and slope types differ (%s and %s)", lp_dtype_name(x->dtype),
                       lp_dtype_name(s->dtype));
    if (prelu_channelwise(c, n)) return ew_same_infer(c, n);
    int rank;
    int64_t dims[LP_MAX_RANK];
    LP_TRY(lp_broadcast(c, x, s, &rank, dims));
    int ok = x->rank < 0 || rank == x->rank;
    for (int i = 0; ok && x->rank >= 0 && i < rank; i++) ok = x->dims[i] < 0 || dims[i] == x->dims[i];
    if (!ok) return lp_fail(c, LP_ERR_INVALID, "slope '%s' does not broadcast to the shape of X", s->name);
    return ew_same_infer(c, n);
}

static lp_status prelu_lower(lp_ctx *c, const lp_node *n) {
    int x = n->in[0], s = n->in[1], y = n->out[0];
    if (prelu_channelwise(c, n)) { /* slope [C] -> [C, 1, ..., 1] */
        int64_t dims[LP_MAX_RANK];
        int rank = T(x)->rank - 1;
        dims[0] = T(s)->dims[0];
        for (int i = 1; i < rank; i++) dims[i] = 1;
        s = lp_emit_reshape(c, s, rank, dims, -1);
        if (s < 0) return c->err->code;
    }
    /* TFLite's PRELU kernel broadcasts the slope up to 4-D and runs float32 (legalize casts) */
    if (lp_dtype_is_float(T(x)->dtype) && T(x)->rank <= 4 && T(x)->rank >= 1) {
        int in[2] = {x, s};
        return lp_emit_op(c, LP_TFL_PRELU, in, 2, &y, 1) < 0 ? c->err->code : LP_OK;
    }
    /* any rank and integers: x < 0 ? x * slope : x */
    return ew_done(c, ew_sel(c, ew_bink(c, LP_TFL_LESS, x, 0.0, -1), ew_bin(c, LP_TFL_MUL, x, s, -1), x, y));
}

static double fd_prelu(double a, double b, const lp_node *n) { (void)n; return a < 0 ? a * b : a; }
static int64_t fi_prelu(int64_t a, int64_t b, const lp_node *n, lp_dtype dt) {
    (void)n, (void)dt;
    return a < 0 ? (int64_t)((uint64_t)a * (uint64_t)b) : a;
}
static lp_status prelu_eval(lp_ctx *c, const lp_node *n) {
    if (!prelu_channelwise(c, n)) return ew_eval_f2(c, n, fd_prelu, fi_prelu);
    lp_tensor *x = T(n->in[0]), *s = T(n->in[1]), *y = T(n->out[0]);
    int64_t ne = lp_tensor_numel(y), inner = 1;
    for (int i = 2; i < x->rank; i++) inner *= x->dims[i];
    void *p = lp_out_data(c, n, 0);
    for (int64_t i = 0; i < ne; i++) {
        double v = lp_get_f64(x->dtype, x->data, i);
        lp_set_f64(y->dtype, p, i, fd_prelu(v, lp_get_f64(s->dtype, s->data, (i / inner) % s->dims[0]), n));
    }
    return LP_OK;
}

const lp_op_impl lp_impl_PRelu = {prelu_infer, prelu_eval, prelu_lower};

/* ---------------- Mod ---------------- */

static lp_status mod_infer(lp_ctx *c, const lp_node *n) {
    int64_t fmod_ = lp_attr_i(c, n, "fmod", 0);
    if (fmod_ != 0 && fmod_ != 1)
        return lp_fail(c, LP_ERR_INVALID, "attribute 'fmod' must be 0 or 1, not %lld", (long long)fmod_);
    return ew_binary_infer(c, n, LP_DT_UNDEF);
}

static lp_status mod_lower(lp_ctx *c, const lp_node *n) {
    int a = n->in[0], b = n->in[1], y = n->out[0];
    int fmod_ = lp_attr_i(c, n, "fmod", 0) != 0;
    lp_dtype dt = T(a)->dtype;
    if (lp_dtype_is_float(dt)) {
        int af = ew_to_f32(c, a), bf = ew_to_f32(c, b);
        int direct = dt == LP_DT_F32 ? y : -1;
        /* FLOOR_MOD is the remainder with the sign of B (Python's %, ONNX fmod=0); its float kernel
         * is fmod() plus B when the signs differ, so for |A|, |B| it is exactly C's fmod */
        if (!fmod_) return ew_done(c, ew_from_f32(c, ew_bin(c, LP_TFL_FLOOR_MOD, af, bf, direct), y));
        int r = ew_bin(c, LP_TFL_FLOOR_MOD, ew_un(c, LP_TFL_ABS, af, -1), ew_un(c, LP_TFL_ABS, bf, -1), -1);
        return ew_done(c, ew_from_f32(c, ew_bin(c, LP_TFL_MUL, r, ew_un(c, LP_TFL_SIGN, af, -1), direct), y));
    }
    if (!fmod_ || is_unsigned(dt)) return ew_done(c, ew_bin(c, LP_TFL_FLOOR_MOD, a, b, y));
    /* integer fmod=1 (C's %, sign of A): the floor remainder r, minus B when r != 0 and its sign
     * differs from A's */
    int r = ew_bin(c, LP_TFL_FLOOR_MOD, a, b, -1);
    int differ =
        ew_bin(c, LP_TFL_NOT_EQUAL, ew_bink(c, LP_TFL_LESS, r, 0.0, -1), ew_bink(c, LP_TFL_LESS, a, 0.0, -1), -1);
    int fix = ew_bin(c, LP_TFL_LOGICAL_AND, ew_bink(c, LP_TFL_NOT_EQUAL, r, 0.0, -1), differ, -1);
    return ew_done(c, ew_sel(c, fix, ew_bin(c, LP_TFL_SUB, r, b, -1), r, y));
}

static double fd_mod(double a, double b, const lp_node *n) {
    if (lp_node_attr(n, "fmod") && lp_node_attr(n, "fmod")->i) return fmod(a, b);
    double r = fmod(a, b);
    return (r != 0 && ((b < 0) != (r < 0))) ? r + b : r;
}
static int64_t fi_mod(int64_t a, int64_t b, const lp_node *n, lp_dtype dt) {
    if (b == 0) return 0;
    if (dt == LP_DT_U64) return (int64_t)((uint64_t)a % (uint64_t)b);
    if (b == -1) return 0;
    int64_t r = a % b;
    if (lp_node_attr(n, "fmod") && lp_node_attr(n, "fmod")->i) return r;
    return (r != 0 && ((b < 0) != (r < 0))) ? r + b : r;
}
static lp_status mod_eval(lp_ctx *c, const lp_node *n) { return ew_eval_f2(c, n, fd_mod, fi_mod); }

const lp_op_impl lp_impl_Mod = {mod_infer, mod_eval, mod_lower};

/* ---------------- Sum, Mean ---------------- */

static lp_status variadic_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor acc = *T(n->in[0]);
    for (int i = 1; i < n->n_in; i++) {
        lp_tensor *x = T(n->in[i]);
        if (x->dtype != acc.dtype) return lp_fail(c, LP_ERR_INVALID, "input types differ");
        int rank;
        int64_t dims[LP_MAX_RANK];
        LP_TRY(lp_broadcast(c, &acc, x, &rank, dims));
        if (rank < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "input ranks are unknown");
        acc.rank = rank;
        memcpy(acc.dims, dims, sizeof dims);
    }
    lp_set_out(c, n, 0, acc.dtype, acc.rank, acc.dims);
    return LP_OK;
}

static lp_status sum_mean_eval(lp_ctx *c, const lp_node *n) {
    lp_tensor *y = T(n->out[0]);
    int64_t ne = lp_tensor_numel(y), idx[LP_MAX_RANK] = {0};
    void *yd = lp_out_data(c, n, 0);
    for (int64_t i = 0; i < ne; i++) {
        double s = 0;
        for (int k2 = 0; k2 < n->n_in; k2++) {
            lp_tensor *x = T(n->in[k2]);
            s += lp_get_f64(x->dtype, x->data, ew_bcast_offset(x, y, idx));
        }
        lp_set_f64(y->dtype, yd, i, n->op == LP_OP_Mean ? s / n->n_in : s);
        for (int d = y->rank - 1; d >= 0; d--) {
            if (++idx[d] < y->dims[d]) break;
            idx[d] = 0;
        }
    }
    return LP_OK;
}

static lp_status sum_mean_lower(lp_ctx *c, const lp_node *n) {
    int y = n->out[0];
    int f32 = lp_dtype_is_float(T(y)->dtype);
    int direct = !f32 || T(y)->dtype == LP_DT_F32 ? y : -1;
    int mean = n->op == LP_OP_Mean && n->n_in > 1;
    int acc = f32 ? ew_to_f32(c, n->in[0]) : n->in[0];
    if (n->n_in == 1) return ew_done(c, ew_cast(c, acc, T(y)->dtype, y));
    for (int i = 1; i < n->n_in && acc >= 0; i++) {
        int xi = f32 ? ew_to_f32(c, n->in[i]) : n->in[i];
        acc = ew_bin(c, LP_TFL_ADD, acc, xi, (i == n->n_in - 1 && !mean) ? direct : -1);
    }
    if (mean) acc = ew_bink(c, LP_TFL_DIV, acc, (double)n->n_in, direct);
    return ew_done(c, f32 ? ew_from_f32(c, acc, y) : acc);
}

const lp_op_impl lp_impl_Sum = {variadic_infer, sum_mean_eval, sum_mean_lower};
const lp_op_impl lp_impl_Mean = {variadic_infer, sum_mean_eval, sum_mean_lower};

/* ---------------- CastLike ---------------- */

static lp_status castlike_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]), *like = T(n->in[1]);
    lp_set_out(c, n, 0, like->dtype, x->rank, x->dims);
    lp_symval sv;
    if (lp_dtype_is_int(like->dtype) && lp_dtype_is_int(x->dtype) && lp_sv_get(c, n->in[0], &sv))
        return lp_sv_set(c, n->out[0], &sv);
    return LP_OK;
}

static lp_status castlike_eval(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]), *y = T(n->out[0]);
    int64_t ne = lp_tensor_numel(y);
    void *p = lp_out_data(c, n, 0);
    for (int64_t i = 0; i < ne; i++) {
        if (lp_dtype_is_float(x->dtype)) lp_set_f64(y->dtype, p, i, lp_get_f64(x->dtype, x->data, i));
        else lp_set_i64(y->dtype, p, i, lp_get_i64(x->dtype, x->data, i));
    }
    return LP_OK;
}

static lp_status castlike_lower(lp_ctx *c, const lp_node *n) {
    lp_dtype to = T(n->out[0])->dtype;
    if (lp_dtype_size(to) == 0 || to == LP_DT_BF16 || to == LP_DT_F8)
        return lp_fail(c, LP_ERR_UNSUPPORTED, "casting to %s: TFLite has no such tensor type", lp_dtype_name(to));
    if (T(n->in[0])->dtype == to) return ew_done(c, lp_emit_identity(c, n->in[0], n->out[0]));
    return ew_done(c, lp_emit_cast(c, n->in[0], to, n->out[0]));
}

const lp_op_impl lp_impl_CastLike = {castlike_infer, castlike_eval, castlike_lower};

/* ---------------- Size ---------------- */

static lp_status size_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    lp_set_out(c, n, 0, LP_DT_I64, 0, NULL);
    int64_t ne = lp_tensor_numel(x);
    if (ne < 0) return LP_OK;
    lp_symval sv = {0};
    sv.n = 1;
    sv.v[0] = ne;
    return lp_sv_set(c, n->out[0], &sv); /* a known value: the driver makes it a constant */
}

static lp_status size_lower(lp_ctx *c, const lp_node *n) {
    int x = n->in[0];
    LP_TRY(lp_need_rank(c, T(x), "input"));
    int64_t r = T(x)->rank;
    int shape = lp_emit_tensor(c, LP_DT_I64, 1, &r, "shape");
    if (shape < 0) return c->err->code;
    int id = lp_emit_op(c, LP_TFL_SHAPE, &x, 1, &shape, 1);
    if (id < 0) return c->err->code;
    lp_emit_params(c, id)->out_type = LP_DT_I64;
    int32_t axis = 0;
    int in[2] = {shape, lp_emit_i32(c, &axis, 1, "axis")};
    if (in[1] < 0 || (id = lp_emit_op(c, LP_TFL_REDUCE_PROD, in, 2, &n->out[0], 1)) < 0) return c->err->code;
    lp_emit_params(c, id)->keep_dims = 0;
    return LP_OK;
}

const lp_op_impl lp_impl_Size = {size_infer, NULL, size_lower};

/* ---------------- EyeLike ---------------- */

/* The output depends only on the input's shape: with a static shape it is a constant, made here. */
static lp_status eyelike_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    int64_t dt = lp_attr_i(c, n, "dtype", LP_DT_UNDEF);
    int64_t kk = lp_attr_i(c, n, "k", 0);
    if (c->err->code) return c->err->code;
    lp_dtype to = dt == LP_DT_UNDEF ? x->dtype : (lp_dtype)dt;
    if (x->rank >= 0 && x->rank != 2) return lp_fail(c, LP_ERR_INVALID, "input must be 2-D, not %d-D", x->rank);
    if (to <= LP_DT_UNDEF || to >= LP_DT_COUNT || lp_dtype_size(to) == 0)
        return lp_fail(c, LP_ERR_UNSUPPORTED, "attribute 'dtype' is not a supported tensor type");
    lp_set_out(c, n, 0, to, x->rank, x->dims);
    lp_tensor *y = T(n->out[0]);
    int64_t ne = lp_tensor_numel(y);
    if (ne < 0 || ne > LP_MAX_FOLD_ELEMENTS) return LP_OK;
    size_t es = lp_dtype_size(to);
    uint8_t *p = lp_arena_alloc(&c->g->arena, es * (size_t)(ne ? ne : 1));
    if (!p) return lp_fail(c, LP_ERR_NOMEM, "out of memory");
    memset(p, 0, es * (size_t)ne);
    for (int64_t i = 0; i < y->dims[0]; i++) {
        int64_t j = i + kk;
        if (j >= 0 && j < y->dims[1]) lp_set_f64(to, p, i * y->dims[1] + j, 1.0);
    }
    y->data = p;
    y->nbytes = es * (size_t)ne;
    y->flags |= LP_T_CONST | LP_T_OWNED;
    return LP_OK;
}

static lp_status eyelike_lower(lp_ctx *c, const lp_node *n) {
    (void)n;
    return lp_fail(c, LP_ERR_UNSUPPORTED, "EyeLike of an input with a dynamic shape is not supported");
}

const lp_op_impl lp_impl_EyeLike = {eyelike_infer, NULL, eyelike_lower};
