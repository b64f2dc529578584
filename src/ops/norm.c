/* Normalisation: LayerNormalization, RMSNormalization, GroupNormalization, InstanceNormalization,
 * LpNormalization, MeanVarianceNormalization, LRN; and the small emitters of window.h.
 *
 * TFLite has no layer/group/instance norm kernel, so each op is spelled out of MEAN/SUM
 * reductions and elementwise ops, following ONNX's function bodies step by step. The statistics
 * are computed in float32: ONNX's stash_type = 1 ("cast all input variables to 32-bit float,
 * perform the computation, cast the normalized result back"); the final scale and shift run in
 * the input's type (legalize casts float16/float64 for the TFLite kernels). */
#include <math.h>
#include <string.h>

#include "window.h"

#define T(id) lp_T(c, (id))

/* ---------------- small emitters (window.h) ---------------- */

static int is_compare(lp_op op) {
    return op == LP_TFL_EQUAL || op == LP_TFL_NOT_EQUAL || op == LP_TFL_LESS || op == LP_TFL_LESS_EQUAL ||
           op == LP_TFL_GREATER || op == LP_TFL_GREATER_EQUAL;
}

int lp_nn_binary(lp_ctx *c, lp_op op, int a, int b, int out) {
    if (a < 0 || b < 0) return -1;
    if (out < 0) {
        int rank;
        int64_t dims[LP_MAX_RANK];
        if (lp_broadcast(c, T(a), T(b), &rank, dims) != LP_OK) return -1;
        out = lp_emit_tensor(c, is_compare(op) ? LP_DT_BOOL : T(a)->dtype, rank, dims, "t");
        if (out < 0) return -1;
    }
    int in[2] = {a, b};
    return lp_emit_op(c, op, in, 2, &out, 1) < 0 ? -1 : out;
}

int lp_nn_binary_k(lp_ctx *c, lp_op op, int a, double k, int out) {
    if (a < 0) return -1;
    return lp_nn_binary(c, op, a, lp_emit_scalar(c, T(a)->dtype, k, "k"), out);
}

int lp_nn_unary(lp_ctx *c, lp_op op, int x, int out) {
    if (x < 0) return -1;
    if (out < 0) out = lp_emit_tensor(c, T(x)->dtype, T(x)->rank, T(x)->dims, "t");
    if (out < 0) return -1;
    return lp_emit_op(c, op, &x, 1, &out, 1) < 0 ? -1 : out;
}

int lp_nn_reduce(lp_ctx *c, lp_op op, int x, const int *axes, int n_axes, int keep, int out) {
    if (x < 0) return -1;
    lp_tensor *X = T(x);
    int32_t ax[LP_MAX_RANK];
    int mask = 0;
    for (int i = 0; i < n_axes; i++) {
        ax[i] = axes[i];
        mask |= 1 << axes[i];
    }
    if (out < 0) {
        int64_t dims[LP_MAX_RANK];
        int r = 0;
        for (int i = 0; i < X->rank; i++) {
            if (!(mask & (1 << i))) dims[r++] = X->dims[i];
            else if (keep) dims[r++] = 1;
        }
        out = lp_emit_tensor(c, X->dtype, r, dims, "reduced");
    }
    int ai = lp_emit_i32(c, ax, n_axes, "axes");
    if (out < 0 || ai < 0) return -1;
    int in[2] = {x, ai};
    int id = lp_emit_op(c, op, in, 2, &out, 1);
    if (id < 0) return -1;
    lp_emit_params(c, id)->keep_dims = keep;
    return out;
}

int lp_nn_cast(lp_ctx *c, int x, lp_dtype to) {
    if (x < 0) return -1;
    lp_tensor *X = T(x);
    if (X->dtype == to) return x;
    int64_t ne = lp_tensor_numel(X);
    if (!lp_tensor_is_const(c->g, x) || ne < 0 || ne > 4096 || !lp_dtype_size(to))
        return lp_emit_cast(c, x, to, -1);
    /* a small constant is converted here rather than by a CAST at run time */
    void *d = lp_arena_alloc(&c->g->arena, lp_dtype_size(to) * (size_t)(ne ? ne : 1));
    if (!d) {
        lp_fail(c, LP_ERR_NOMEM, "out of memory");
        return -1;
    }
    for (int64_t i = 0; i < ne; i++) {
        if (lp_dtype_is_float(X->dtype) || lp_dtype_is_float(to)) lp_set_f64(to, d, i, lp_get_f64(X->dtype, X->data, i));
        else lp_set_i64(to, d, i, lp_get_i64(X->dtype, X->data, i));
    }
    return lp_emit_const(c, to, X->rank, X->dims, d, "converted");
}

int lp_nn_channel_vec(lp_ctx *c, int x, int rank) {
    if (x < 0) return -1;
    lp_tensor *X = T(x);
    int64_t d[LP_MAX_RANK];
    d[0] = lp_tensor_numel(X);
    if (d[0] < 0) {
        lp_fail(c, LP_ERR_UNSUPPORTED, "the size of '%s' must be static", X->name);
        return -1;
    }
    for (int i = 1; i < rank; i++) d[i] = 1;
    if (lp_tensor_is_const(c->g, x)) return lp_emit_const(c, X->dtype, rank, d, X->data, "chan");
    return lp_emit_reshape(c, x, rank, d, -1);
}

/* ---------------- shared pieces ---------------- */

static lp_status need_stash_f32(lp_ctx *c, const lp_node *n) {
    int64_t st = lp_attr_i(c, n, "stash_type", 1);
    if (c->err->code) return c->err->code;
    if (st != 1)
        return lp_fail(c, LP_ERR_UNSUPPORTED, "attribute 'stash_type'=%lld: the statistics are computed in float32 only",
                       (long long)st);
    return LP_OK;
}

static lp_status need_float(lp_ctx *c, const lp_tensor *x) {
    if (!lp_dtype_is_float(x->dtype))
        return lp_fail(c, LP_ERR_INVALID, "input type %s; this op takes floating point", lp_dtype_name(x->dtype));
    return LP_OK;
}

/* (x - mean) * rsqrt(mean((x - mean)^2) + eps) over `axes` of the float32 tensor xf; the mean and
 * 1/std go to mean_out / inv_out when >= 0 (LayerNormalization's extra outputs). */
static int standardize(lp_ctx *c, int xf, const int *axes, int n_axes, float eps, int mean_out, int inv_out) {
    int mean = lp_nn_reduce(c, LP_TFL_MEAN, xf, axes, n_axes, 1, mean_out);
    int d = lp_nn_binary(c, LP_TFL_SUB, xf, mean, -1);
    int dd = lp_nn_binary(c, LP_TFL_MUL, d, d, -1);
    int var = lp_nn_reduce(c, LP_TFL_MEAN, dd, axes, n_axes, 1, -1);
    int ve = lp_nn_binary_k(c, LP_TFL_ADD, var, eps, -1);
    int inv = lp_nn_unary(c, LP_TFL_RSQRT, ve, inv_out);
    return lp_nn_binary(c, LP_TFL_MUL, d, inv, -1);
}

static lp_status done(lp_ctx *c, int last) { return last < 0 ? (c->err->code ? c->err->code : LP_ERR_INTERNAL) : LP_OK; }

/* ---------------- LayerNormalization (opset 17) ---------------- */

static lp_status ln_axis(lp_ctx *c, const lp_node *n, int *axis) {
    lp_tensor *x = T(n->in[0]);
    LP_TRY(lp_need_rank(c, x, "input"));
    LP_TRY(need_float(c, x));
    int64_t a = lp_attr_i(c, n, "axis", -1);
    if (c->err->code) return c->err->code;
    return lp_axis(c, a, x->rank, axis, "attribute 'axis'");
}

static lp_status ln_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    int axis;
    LP_TRY(ln_axis(c, n, &axis));
    lp_set_out(c, n, 0, x->dtype, x->rank, x->dims);
    /* Mean and InvStdDev: type U (float for stash_type 1), shape d[0..axis-1] + [1] * (rank - axis) */
    int64_t rd[LP_MAX_RANK];
    for (int i = 0; i < x->rank; i++) rd[i] = i < axis ? x->dims[i] : 1;
    lp_set_out(c, n, 1, LP_DT_F32, x->rank, rd);
    lp_set_out(c, n, 2, LP_DT_F32, x->rank, rd);
    return LP_OK;
}

static int opt_out(const lp_node *n, int k) { return k < n->n_out ? n->out[k] : -1; }

static lp_status ln_lower(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    int axis;
    LP_TRY(ln_axis(c, n, &axis));
    LP_TRY(need_stash_f32(c, n));
    float eps = lp_attr_f(c, n, "epsilon", 1e-5f);
    int axes[LP_MAX_RANK], na = 0;
    for (int i = axis; i < x->rank; i++) axes[na++] = i;
    int xf = lp_nn_cast(c, n->in[0], LP_DT_F32);
    int nrm = standardize(c, xf, axes, na, eps, opt_out(n, 1), opt_out(n, 2));
    nrm = lp_nn_cast(c, nrm, x->dtype);
    int has_b = lp_has_in(n, 2);
    int y = lp_nn_binary(c, LP_TFL_MUL, nrm, n->in[1], has_b ? -1 : n->out[0]);
    if (has_b) y = lp_nn_binary(c, LP_TFL_ADD, y, n->in[2], n->out[0]);
    return done(c, y);
}

const lp_op_impl lp_impl_LayerNormalization = {ln_infer, NULL, ln_lower};

/* ---------------- RMSNormalization (opset 23) ---------------- */

static lp_status rms_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]), *s = T(n->in[1]);
    int axis;
    LP_TRY(ln_axis(c, n, &axis));
    lp_set_out(c, n, 0, s->dtype, x->rank, x->dims); /* Y has the scale's type V */
    return LP_OK;
}

static lp_status rms_lower(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]), *s = T(n->in[1]);
    int axis;
    LP_TRY(ln_axis(c, n, &axis));
    LP_TRY(need_stash_f32(c, n));
    float eps = lp_attr_f(c, n, "epsilon", 1e-5f);
    int axes[LP_MAX_RANK], na = 0;
    for (int i = axis; i < x->rank; i++) axes[na++] = i;
    /* RMS = sqrt(mean(x * x) + eps); Normalized = x / RMS */
    int xf = lp_nn_cast(c, n->in[0], LP_DT_F32);
    int sq = lp_nn_binary(c, LP_TFL_MUL, xf, xf, -1);
    int ms = lp_nn_reduce(c, LP_TFL_MEAN, sq, axes, na, 1, -1);
    int rms = lp_nn_unary(c, LP_TFL_SQRT, lp_nn_binary_k(c, LP_TFL_ADD, ms, eps, -1), -1);
    int nrm = lp_nn_binary(c, LP_TFL_DIV, xf, rms, -1);
    nrm = lp_nn_cast(c, lp_nn_cast(c, nrm, x->dtype), s->dtype);
    return done(c, lp_nn_binary(c, LP_TFL_MUL, nrm, n->in[1], n->out[0]));
}

const lp_op_impl lp_impl_RMSNormalization = {rms_infer, NULL, rms_lower};

/* ---------------- InstanceNormalization ---------------- */

static lp_status same_float_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    LP_TRY(lp_need_rank(c, x, "input"));
    LP_TRY(need_float(c, x));
    lp_set_out(c, n, 0, x->dtype, x->rank, x->dims);
    return LP_OK;
}

static lp_status instnorm_infer(lp_ctx *c, const lp_node *n) {
    LP_TRY(same_float_infer(c, n));
    if (T(n->in[0])->rank < 3) return lp_fail(c, LP_ERR_INVALID, "input rank %d (N, C and spatial dimensions)", T(n->in[0])->rank);
    return LP_OK;
}

/* y = s * x + b with per-channel s, b ([C] vectors) over NC... */
static int channel_affine(lp_ctx *c, int x, int s, int b, int rank, int out) {
    int sv = lp_nn_channel_vec(c, s, rank - 1), bv = lp_nn_channel_vec(c, b, rank - 1);
    return lp_nn_binary(c, LP_TFL_ADD, lp_nn_binary(c, LP_TFL_MUL, x, sv, -1), bv, out);
}

static lp_status instnorm_lower(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    float eps = lp_attr_f(c, n, "epsilon", 1e-5f);
    int axes[LP_MAX_RANK], na = 0;
    for (int i = 2; i < x->rank; i++) axes[na++] = i;
    int nrm = standardize(c, lp_nn_cast(c, n->in[0], LP_DT_F32), axes, na, eps, -1, -1);
    nrm = lp_nn_cast(c, nrm, x->dtype);
    return done(c, channel_affine(c, nrm, n->in[1], n->in[2], x->rank, n->out[0]));
}

const lp_op_impl lp_impl_InstanceNormalization = {instnorm_infer, NULL, instnorm_lower};

/* ---------------- GroupNormalization (opset 18: scale/bias per group; 21: per channel) ---------------- */

static lp_status groupnorm_infer(lp_ctx *c, const lp_node *n) {
    LP_TRY(instnorm_infer(c, n));
    int64_t g = lp_attr_i(c, n, "num_groups", 0);
    if (c->err->code) return c->err->code;
    int64_t C = T(n->in[0])->dims[1];
    if (g <= 0 || (C >= 0 && C % g != 0))
        return lp_fail(c, LP_ERR_INVALID, "attribute 'num_groups'=%lld does not divide the %lld channels", (long long)g,
                       (long long)C);
    return LP_OK;
}

static lp_status groupnorm_lower(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    int64_t G = lp_attr_i(c, n, "num_groups", 0);
    float eps = lp_attr_f(c, n, "epsilon", 1e-5f);
    if (n->opset >= 21) LP_TRY(need_stash_f32(c, n));
    /* the groups are reshaped: at most one dimension may be dynamic (RESHAPE's -1) */
    int64_t K = 1;
    int n_dyn = 0;
    if (x->dims[1] < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "the channel dimension must be static");
    for (int i = 0; i < x->rank; i++) n_dyn += x->dims[i] < 0;
    if (n_dyn > 1) return lp_fail(c, LP_ERR_UNSUPPORTED, "GroupNormalization with more than one dynamic dimension");
    for (int i = 1; i < x->rank; i++) K = x->dims[i] < 0 || K < 0 ? -1 : K * x->dims[i];
    K = K < 0 ? lp_graph_new_sym(c->g, NULL) : K / G;
    /* [N, C, ...] -> [N, G, C/G * spatial]: statistics per instance and group */
    int64_t gd[3] = {x->dims[0], G, K};
    int xg = lp_emit_reshape(c, lp_nn_cast(c, n->in[0], LP_DT_F32), 3, gd, -1);
    int ax = 2;
    int nrm = standardize(c, xg, &ax, 1, eps, -1, -1);
    nrm = lp_nn_cast(c, nrm, x->dtype);
    if (n->opset < 21) {
        /* opset 18: scale and bias have one value per group */
        int y = channel_affine(c, nrm, n->in[1], n->in[2], 3, -1);
        return done(c, y < 0 ? -1 : lp_emit_reshape(c, y, x->rank, x->dims, n->out[0]));
    }
    nrm = lp_emit_reshape(c, nrm, x->rank, x->dims, -1);
    return done(c, channel_affine(c, nrm, n->in[1], n->in[2], x->rank, n->out[0]));
}

const lp_op_impl lp_impl_GroupNormalization = {groupnorm_infer, NULL, groupnorm_lower};

/* ---------------- LpNormalization ---------------- */

static lp_status lpnorm_lower(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    int axis;
    LP_TRY(lp_axis(c, lp_attr_i(c, n, "axis", -1), x->rank, &axis, "attribute 'axis'"));
    int64_t p = lp_attr_i(c, n, "p", 2);
    if (c->err->code) return c->err->code;
    if (p != 1 && p != 2) return lp_fail(c, LP_ERR_INVALID, "attribute 'p'=%lld (1 or 2)", (long long)p);
    /* TFLite's L2_NORMALIZATION divides by max(norm, 1e-6) (and only on the last axis), so it is
     * not ONNX's x / norm: the norm is written out. */
    int norm;
    if (p == 1) norm = lp_nn_reduce(c, LP_TFL_SUM, lp_nn_unary(c, LP_TFL_ABS, n->in[0], -1), &axis, 1, 1, -1);
    else
        norm = lp_nn_unary(c, LP_TFL_SQRT,
                           lp_nn_reduce(c, LP_TFL_SUM, lp_nn_binary(c, LP_TFL_MUL, n->in[0], n->in[0], -1), &axis, 1, 1, -1),
                           -1);
    int q = lp_nn_binary(c, LP_TFL_DIV, n->in[0], norm, -1);
    /* "When the Lp norm is zero, the output is defined to be zero" (not 0/0) */
    int zero = lp_emit_scalar(c, x->dtype, 0.0, "zero");
    int is0 = lp_nn_binary(c, LP_TFL_EQUAL, norm, zero, -1);
    if (q < 0 || is0 < 0) return done(c, -1);
    int in[3] = {is0, zero, q};
    return lp_emit_op(c, LP_TFL_SELECT_V2, in, 3, &n->out[0], 1) < 0 ? done(c, -1) : LP_OK;
}

const lp_op_impl lp_impl_LpNormalization = {same_float_infer, NULL, lpnorm_lower};

/* ---------------- MeanVarianceNormalization ---------------- */

static lp_status mvn_lower(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    int64_t a[LP_MAX_RANK];
    int k = lp_attr_ints(c, n, "axes", a, LP_MAX_RANK);
    if (c->err->code) return c->err->code;
    int axes[LP_MAX_RANK], na = 0, mask = 0;
    if (k < 0) {
        if (x->rank != 4) return lp_fail(c, LP_ERR_INVALID, "the default axes [0, 2, 3] need a 4-D input");
        axes[na++] = 0, axes[na++] = 2, axes[na++] = 3;
    } else {
        for (int i = 0; i < k; i++) {
            int ax;
            LP_TRY(lp_axis(c, a[i], x->rank, &ax, "axis"));
            if (!(mask & (1 << ax))) axes[na++] = ax;
            mask |= 1 << ax;
        }
    }
    /* ONNX's function body: (X - E[X]) / (sqrt(E[X^2] - E[X]^2) + 1e-9) */
    int xf = lp_nn_cast(c, n->in[0], LP_DT_F32);
    int mean = lp_nn_reduce(c, LP_TFL_MEAN, xf, axes, na, 1, -1);
    int ex2 = lp_nn_binary(c, LP_TFL_MUL, mean, mean, -1);
    int e2x = lp_nn_reduce(c, LP_TFL_MEAN, lp_nn_binary(c, LP_TFL_MUL, xf, xf, -1), axes, na, 1, -1);
    int sd = lp_nn_unary(c, LP_TFL_SQRT, lp_nn_binary(c, LP_TFL_SUB, e2x, ex2, -1), -1);
    int y = lp_nn_binary(c, LP_TFL_DIV, lp_nn_binary(c, LP_TFL_SUB, xf, mean, -1),
                         lp_nn_binary_k(c, LP_TFL_ADD, sd, 1e-9, -1), x->dtype == LP_DT_F32 ? n->out[0] : -1);
    if (y >= 0 && x->dtype != LP_DT_F32) y = lp_emit_cast(c, y, x->dtype, n->out[0]);
    return done(c, y);
}

const lp_op_impl lp_impl_MeanVarianceNormalization = {same_float_infer, NULL, mvn_lower};

/* ---------------- LRN ---------------- */

static lp_status lrn_lower(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    int64_t size = lp_attr_i(c, n, "size", 0);
    float alpha = lp_attr_f(c, n, "alpha", 1e-4f), beta = lp_attr_f(c, n, "beta", 0.75f),
          bias = lp_attr_f(c, n, "bias", 1.0f);
    if (c->err->code) return c->err->code;
    if (size <= 0) return lp_fail(c, LP_ERR_INVALID, "attribute 'size' is required and positive");
    if (x->rank < 3) return lp_fail(c, LP_ERR_INVALID, "input rank %d", x->rank);
    /* ONNX sums the squares of channels [c - floor((size-1)/2), c + ceil((size-1)/2)]; TFLite's
     * LOCAL_RESPONSE_NORMALIZATION (4-D, channels last) sums [c - radius, c + radius]: equal for
     * an odd size, with alpha divided by size. */
    if (size % 2 == 1 && x->rank == 4 && x->dtype == LP_DT_F32) {
        int xn = lp_emit_to_last(c, n->in[0]);
        int yn = xn < 0 ? -1 : lp_emit_from_last(c, n->out[0]);
        if (yn < 0) return done(c, -1);
        int id = lp_emit_op(c, LP_TFL_LOCAL_RESPONSE_NORMALIZATION, &xn, 1, &yn, 1);
        if (id < 0) return done(c, -1);
        lp_tfl_params *p = lp_emit_params(c, id);
        p->radius = (int)(size / 2);
        p->lrn_bias = bias;
        p->alpha = alpha / (float)size;
        p->beta = beta;
        return LP_OK;
    }
    /* otherwise: the window sum of x^2 along C as `size` shifted slices of the zero-padded squares */
    int64_t C = x->dims[1];
    if (C < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "the channel dimension must be static");
    int64_t lo = (size - 1) / 2, hi = size / 2;
    int xf = lp_nn_cast(c, n->in[0], LP_DT_F32);
    int sq = lp_nn_binary(c, LP_TFL_MUL, xf, xf, -1);
    if (sq < 0) return done(c, -1);
    int32_t pads[2 * LP_MAX_RANK] = {0};
    pads[2] = (int32_t)lo, pads[3] = (int32_t)hi;
    int64_t pd[2] = {x->rank, 2}, dims[LP_MAX_RANK];
    memcpy(dims, x->dims, sizeof dims);
    dims[1] = C + lo + hi;
    int pc = lp_emit_const(c, LP_DT_I32, 2, pd, pads, "paddings");
    int padded = lp_emit_tensor(c, LP_DT_F32, x->rank, dims, "padded");
    int pin[2] = {sq, pc};
    if (pc < 0 || padded < 0 || lp_emit_op(c, LP_TFL_PAD, pin, 2, &padded, 1) < 0) return done(c, -1);
    int sum = -1;
    for (int64_t j = 0; j < size; j++) {
        int32_t b[LP_MAX_RANK] = {0}, sz[LP_MAX_RANK];
        for (int i = 0; i < x->rank; i++) sz[i] = -1;
        b[1] = (int32_t)j, sz[1] = (int32_t)C;
        int bi = lp_emit_i32(c, b, x->rank, "begin"), si = lp_emit_i32(c, sz, x->rank, "size");
        int sl = lp_emit_tensor(c, LP_DT_F32, x->rank, x->dims, "window");
        int in[3] = {padded, bi, si};
        if (bi < 0 || si < 0 || sl < 0 || lp_emit_op(c, LP_TFL_SLICE, in, 3, &sl, 1) < 0) return done(c, -1);
        sum = sum < 0 ? sl : lp_nn_binary(c, LP_TFL_ADD, sum, sl, -1);
    }
    /* y = x / (bias + alpha / size * sum) ^ beta */
    int den = lp_nn_binary_k(c, LP_TFL_ADD, lp_nn_binary_k(c, LP_TFL_MUL, sum, alpha / (double)size, -1), bias, -1);
    den = lp_nn_binary_k(c, LP_TFL_POW, den, beta, -1);
    int y = lp_nn_binary(c, LP_TFL_DIV, xf, den, x->dtype == LP_DT_F32 ? n->out[0] : -1);
    if (y >= 0 && x->dtype != LP_DT_F32) y = lp_emit_cast(c, y, x->dtype, n->out[0]);
    return done(c, y);
}

const lp_op_impl lp_impl_LRN = {same_float_infer, NULL, lrn_lower};
