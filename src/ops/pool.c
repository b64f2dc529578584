/* Pooling: MaxPool (and its Indices output), AveragePool, LpPool, GlobalAveragePool,
 * GlobalMaxPool, GlobalLpPool, MaxUnpool.
 *
 * Three exact forms, chosen per node:
 *  - 1-D / 2-D without dilation: MAX_POOL_2D / AVERAGE_POOL_2D on NHWC. TFLite's SAME averages
 *    only in-bounds cells (= count_include_pad 0); any other padding is an explicit PAD and a
 *    VALID pool whose full-window divisor is corrected by a constant per output position.
 *  - 3-D without dilation: the box is separable, so two 2-D pools: (H, W) on [N*D, H, W, C],
 *    then (D, 1) on [N, D, H*W, C], after one explicit PAD.
 *  - anything else (dilations, int32/int64 max, the Indices output): one STRIDED_SLICE of the
 *    padded input per kernel tap, combined with MAXIMUM / ADD in ONNX layout. TFLite pooling has
 *    no dilation; a dilated window is exactly the set of taps offset by multiples of d.
 * LpPool is (sum |x|^p)^(1/p): the pooled sum of |x|^p (pads contribute 0), then the root. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "window.h"

#define T(id) lp_T(c, (id))

typedef enum { POOL_MAX, POOL_AVG, POOL_LP } pool_kind;

/* the tap-by-tap form emits a few ops per tap: bounded so a huge kernel cannot flood the graph */
#define MAX_TAPS 65536

/* output size of one spatial dim (ONNX / PyTorch rule: in ceil mode a window may not start in the
 * end padding) */
static int64_t pool_out(int64_t in, const lp_window *s, int i, int ceil_mode) {
    int64_t eff = (s->k[i] - 1) * s->d[i] + 1;
    int64_t span = in + s->pb[i] + s->pe[i] - eff;
    if (span < 0) return -1;
    int64_t out = (ceil_mode ? (span + s->s[i] - 1) / s->s[i] : span / s->s[i]) + 1;
    if (ceil_mode && (out - 1) * s->s[i] >= in + s->pb[i]) out--;
    return out;
}

static lp_status pool_spec(lp_ctx *c, const lp_node *n, lp_window *s, int *ceil_mode) {
    lp_tensor *x = T(n->in[0]);
    LP_TRY(lp_window_get(c, n, x, NULL, s));
    lp_window_resolve_same(x, s);
    *ceil_mode = (int)lp_attr_i(c, n, "ceil_mode", 0);
    return c->err->code;
}

static lp_status pool_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    lp_window s;
    int cm;
    LP_TRY(pool_spec(c, n, &s, &cm));
    int64_t dims[LP_MAX_RANK];
    dims[0] = x->dims[0];
    dims[1] = x->dims[1];
    for (int i = 0; i < s.nsp; i++) {
        int64_t in = x->dims[2 + i];
        if (in < 0) {
            dims[2 + i] = lp_graph_new_sym(c->g, NULL);
        } else if (s.same_upper || s.same_lower) {
            dims[2 + i] = (in + s.s[i] - 1) / s.s[i];
        } else {
            dims[2 + i] = pool_out(in, &s, i, cm);
            if (dims[2 + i] <= 0) return lp_fail(c, LP_ERR_INVALID, "the kernel is larger than the padded input");
        }
    }
    lp_set_out(c, n, 0, x->dtype, x->rank, dims);
    if (n->n_out > 1 && n->out[1] >= 0) lp_set_out(c, n, 1, LP_DT_I64, x->rank, dims);
    return LP_OK;
}

/* number of taps of the window at output o (dim i) that ONNX averages over: inside the input, or
 * with count_include_pad inside input + explicit pads (never the ceil_mode overhang) */
static int64_t ceil_div(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); } /* b > 0 */

static int64_t avg_count(int64_t o, int64_t in, const lp_window *s, int i, int include_pad) {
    int64_t lo = include_pad ? -s->pb[i] : 0, hi = include_pad ? in + s->pe[i] : in;
    /* taps t in [0, k) with lo <= base + t * d < hi, counted in closed form (k may be huge) */
    int64_t base = o * s->s[i] - s->pb[i];
    int64_t t0 = ceil_div(lo - base, s->d[i]), t1 = ceil_div(hi - base, s->d[i]);
    if (t0 < 0) t0 = 0;
    if (t1 > s->k[i]) t1 = s->k[i];
    return t1 > t0 ? t1 - t0 : 0;
}

/* per output position: num / (taps counted), as a constant of shape out_sp (+ trailing unit dims);
 * -2 when every factor is 1 (nothing to correct), -1 on error */
static int count_fix(lp_ctx *c, const lp_window *s, const int64_t *in_sp, const int64_t *out_sp, int include_pad,
                     double num, int trailing_ones) {
    int64_t total = 1;
    for (int i = 0; i < s->nsp; i++) total *= out_sp[i]; /* dims of one tensor: no overflow (lp_dims_check) */
    float *fix = lp_table_alloc(c, total, sizeof(float), "table of averaging divisors");
    if (!fix) return -1;
    int all_one = 1;
    for (int64_t f = 0; f < total; f++) {
        int64_t rem = f, cnt = 1;
        for (int i = s->nsp - 1; i >= 0; i--) {
            cnt *= avg_count(rem % out_sp[i], in_sp[i], s, i, include_pad);
            rem /= out_sp[i];
        }
        fix[f] = cnt ? (float)(num / (double)cnt) : 0.0f;
        all_one &= fix[f] == 1.0f;
    }
    if (all_one) return -2;
    int64_t fd[LP_MAX_RANK];
    int r = 0;
    for (int i = 0; i < s->nsp; i++) fd[r++] = out_sp[i];
    for (int i = 0; i < trailing_ones; i++) fd[r++] = 1;
    return lp_emit_const(c, LP_DT_F32, r, fd, fix, "count_fix");
}

/* |x|^p (p = 1, 2 or any other positive value) */
static int pow_abs(lp_ctx *c, int x, double p) {
    if (p == 1) return lp_nn_unary(c, LP_TFL_ABS, x, -1);
    if (p == 2) return lp_nn_binary(c, LP_TFL_MUL, x, x, -1);
    return lp_nn_binary_k(c, LP_TFL_POW, lp_nn_unary(c, LP_TFL_ABS, x, -1), p, -1);
}

/* s^(1/p) into out */
static int root(lp_ctx *c, int s, double p, int out) {
    if (p == 1) return out >= 0 ? lp_emit_identity(c, s, out) : s;
    if (p == 2) return lp_nn_unary(c, LP_TFL_SQRT, s, out);
    return lp_nn_binary_k(c, LP_TFL_POW, s, 1.0 / p, out);
}

/* lowest value of a type (max pooling pads with it) */
static double lowest(lp_dtype dt) {
    switch (dt) {
    case LP_DT_I8: return -128;
    case LP_DT_U8: case LP_DT_U16: case LP_DT_U32: case LP_DT_U64: return 0;
    case LP_DT_I16: return -32768;
    case LP_DT_I32: return -2147483648.0;
    case LP_DT_I64: return -9223372036854775808.0;
    default: return -FLT_MAX;
    }
}

typedef struct pool_job {
    pool_kind kind;
    lp_window s;          /* resolved pads */
    int include_pad;      /* AveragePool count_include_pad */
    double p;             /* LpPool */
    int64_t in_sp[3], out_sp[3], extra[3]; /* spatial sizes; ceil_mode overhang at the end */
    int dyn;              /* some spatial dim is dynamic */
} pool_job;

/* ---- form 1: MAX_POOL_2D / AVERAGE_POOL_2D (1-D as [N,1,L,C]) ---- */
static lp_status pool2d_lower(lp_ctx *c, pool_job *J, int x, int y) {
    lp_window s = J->s;
    int64_t in_sp[2], out_sp[2], extra[2];
    if (s.nsp == 1) {
        lp_window_as_2d(&s);
        in_sp[0] = out_sp[0] = 1, extra[0] = 0;
        in_sp[1] = J->in_sp[0], out_sp[1] = J->out_sp[0], extra[1] = J->extra[0];
    } else {
        memcpy(in_sp, J->in_sp, sizeof in_sp);
        memcpy(out_sp, J->out_sp, sizeof out_sp);
        memcpy(extra, J->extra, sizeof extra);
    }
    int src = J->kind == POOL_LP ? pow_abs(c, x, J->p) : x;
    int x_nhwc = src < 0 ? -1 : lp_window_to_nhwc(c, src);
    if (x_nhwc < 0) return c->err->code;
    int padded = s.pb[0] || s.pb[1] || s.pe[0] || s.pe[1] || extra[0] || extra[1];
    int padding, xn;
    int fix = -2;
    if (J->kind == POOL_MAX) {
        xn = lp_window_input(c, x_nhwc, &s, &padding, extra, lowest(T(x)->dtype));
    } else if (J->kind == POOL_AVG && (!J->include_pad || !padded)) {
        /* TFLite SAME averages only in-bounds cells: count_include_pad = 0 */
        xn = lp_window_input(c, x_nhwc, &s, &padding, extra, 0.0);
    } else {
        /* an explicit PAD: lp_window_input would pick SAME when the pads match it */
        xn = padded ? lp_window_pad(c, x_nhwc, &s, extra, 0.0) : x_nhwc;
        padding = 1;
    }
    if (xn < 0) return c->err->code;
    /* after an explicit PAD, AVERAGE_POOL_2D divides by the full window: correct it (LpPool wants
     * the sum: multiply by the window size) */
    if (J->kind == POOL_LP) {
        if (J->dyn && padded) return lp_fail(c, LP_ERR_UNSUPPORTED, "padded LpPool with dynamic spatial dimensions");
    } else if (J->kind == POOL_AVG && padding == 1 && padded) {
        if (J->dyn) return lp_fail(c, LP_ERR_UNSUPPORTED, "padded average pooling with dynamic spatial dimensions");
        fix = count_fix(c, &s, in_sp, out_sp, J->include_pad, (double)(s.k[0] * s.k[1]), 1);
        if (fix == -1) return c->err->code;
    }
    int post = J->kind == POOL_LP || fix >= 0;
    int yn;
    if (post) {
        int64_t d[4] = {T(xn)->dims[0], out_sp[0], out_sp[1], T(xn)->dims[3]};
        yn = lp_emit_tensor(c, T(xn)->dtype, 4, d, "pooled");
    } else {
        yn = lp_window_from_nhwc(c, y);
    }
    if (yn < 0) return c->err->code;
    int id = lp_emit_op(c, J->kind == POOL_MAX ? LP_TFL_MAX_POOL_2D : LP_TFL_AVERAGE_POOL_2D, &xn, 1, &yn, 1);
    if (id < 0) return c->err->code;
    lp_tfl_params *p = lp_emit_params(c, id);
    p->padding = padding;
    p->stride_h = (int)s.s[0];
    p->stride_w = (int)s.s[1];
    p->filter_h = (int)s.k[0];
    p->filter_w = (int)s.k[1];
    if (!post) return LP_OK;
    int dst = lp_window_from_nhwc(c, y);
    if (dst < 0) return c->err->code;
    if (fix >= 0) return lp_nn_binary(c, LP_TFL_MUL, yn, fix, dst) < 0 ? c->err->code : LP_OK;
    int sum = lp_nn_binary_k(c, LP_TFL_MUL, yn, (double)(s.k[0] * s.k[1]), -1);
    return root(c, sum, J->p, dst) < 0 ? c->err->code : LP_OK;
}

/* ---- form 2: 3-D as two 2-D pools ---- */
static int pool2d_op(lp_ctx *c, pool_kind kind, int xn, int64_t kh, int64_t kw, int64_t sh, int64_t sw) {
    lp_tensor *X = T(xn);
    int64_t d[4] = {X->dims[0], X->dims[1] < 0 ? lp_graph_new_sym(c->g, NULL) : (X->dims[1] - kh) / sh + 1,
                    X->dims[2] < 0 ? lp_graph_new_sym(c->g, NULL) : (X->dims[2] - kw) / sw + 1, X->dims[3]};
    int yn = lp_emit_tensor(c, X->dtype, 4, d, "pooled");
    int id = yn < 0 ? -1 : lp_emit_op(c, kind == POOL_MAX ? LP_TFL_MAX_POOL_2D : LP_TFL_AVERAGE_POOL_2D, &xn, 1, &yn, 1);
    if (id < 0) return -1;
    lp_tfl_params *p = lp_emit_params(c, id);
    p->padding = 1;
    p->stride_h = (int)sh, p->stride_w = (int)sw;
    p->filter_h = (int)kh, p->filter_w = (int)kw;
    return yn;
}

static lp_status pool3d_lower(lp_ctx *c, pool_job *J, int x, int y) {
    lp_window *s = &J->s;
    int src = J->kind == POOL_LP ? pow_abs(c, x, J->p) : x;
    int xn = src < 0 ? -1 : lp_emit_to_last(c, src); /* [N, D, H, W, C] */
    if (xn < 0) return c->err->code;
    int padded = 0;
    for (int i = 0; i < 3; i++) padded |= s->pb[i] || s->pe[i] || J->extra[i];
    if (padded) xn = lp_window_pad(c, xn, s, J->extra, J->kind == POOL_MAX ? lowest(T(x)->dtype) : 0.0);
    if (xn < 0) return c->err->code;
    lp_tensor *X = T(xn);
    int64_t N = X->dims[0], Dp = X->dims[1], Hp = X->dims[2], Wp = X->dims[3], C = X->dims[4];
    int64_t Do = J->out_sp[0], Ho = J->out_sp[1], Wo = J->out_sp[2];
    int64_t d1[4] = {N < 0 ? lp_graph_new_sym(c->g, NULL) : N * Dp, Hp, Wp, C};
    int t = lp_emit_reshape(c, xn, 4, d1, -1);
    t = t < 0 ? -1 : pool2d_op(c, J->kind, t, s->k[1], s->k[2], s->s[1], s->s[2]); /* [N*Dp, Ho, Wo, C] */
    int64_t d2[4] = {N, Dp, Ho * Wo, C};
    t = t < 0 ? -1 : lp_emit_reshape(c, t, 4, d2, -1);
    t = t < 0 ? -1 : pool2d_op(c, J->kind, t, s->k[0], 1, s->s[0], 1); /* [N, Do, Ho*Wo, C] */
    int64_t d3[5] = {N, Do, Ho, Wo, C};
    t = t < 0 ? -1 : lp_emit_reshape(c, t, 5, d3, -1);
    if (t < 0) return c->err->code;
    int64_t kvol = s->k[0] * s->k[1] * s->k[2];
    int fix = -2;
    if (J->kind == POOL_AVG && padded) {
        fix = count_fix(c, s, J->in_sp, J->out_sp, J->include_pad, (double)kvol, 1);
        if (fix == -1) return c->err->code;
    }
    int post = J->kind == POOL_LP || fix >= 0;
    int dst = lp_emit_from_last(c, y);
    if (dst < 0) return c->err->code;
    if (!post) return lp_emit_identity(c, t, dst) < 0 ? c->err->code : LP_OK;
    if (fix >= 0) return lp_nn_binary(c, LP_TFL_MUL, t, fix, dst) < 0 ? c->err->code : LP_OK;
    return root(c, lp_nn_binary_k(c, LP_TFL_MUL, t, (double)kvol, -1), J->p, dst) < 0 ? c->err->code : LP_OK;
}

/* ---- form 3: one strided slice per tap (ONNX layout) ---- */

/* x[:, :, o*d : o*d + (out-1)*s + 1 : s, ...] of the padded input */
static int tap_slice(lp_ctx *c, int xp, const pool_job *J, const int64_t *tap) {
    lp_tensor *X = T(xp); /* read before anything is emitted (emitting may move the tensor array) */
    int r = X->rank;
    lp_dtype dt = X->dtype;
    int32_t b[LP_MAX_RANK] = {0}, e[LP_MAX_RANK] = {0}, st[LP_MAX_RANK];
    int64_t od[LP_MAX_RANK];
    od[0] = X->dims[0], od[1] = X->dims[1];
    st[0] = st[1] = 1;
    for (int i = 0; i < J->s.nsp; i++) {
        b[2 + i] = (int32_t)(tap[i] * J->s.d[i]);
        e[2 + i] = (int32_t)(b[2 + i] + (J->out_sp[i] - 1) * J->s.s[i] + 1);
        st[2 + i] = (int32_t)J->s.s[i];
        od[2 + i] = J->out_sp[i];
    }
    int bi = lp_emit_i32(c, b, r, "begin"), ei = lp_emit_i32(c, e, r, "end"), si = lp_emit_i32(c, st, r, "strides");
    int out = lp_emit_tensor(c, dt, r, od, "tap");
    int in[4] = {xp, bi, ei, si};
    int id = bi < 0 || ei < 0 || si < 0 || out < 0 ? -1 : lp_emit_op(c, LP_TFL_STRIDED_SLICE, in, 4, &out, 1);
    if (id < 0) return -1;
    lp_emit_params(c, id)->begin_mask = 3; /* N and C whole */
    lp_emit_params(c, id)->end_mask = 3;
    return out;
}

/* PAD/PADV2 in ONNX layout by the window's pads plus the ceil overhang */
static int pad_onnx(lp_ctx *c, int x, const pool_job *J, double value) {
    lp_tensor *X = T(x);
    int r = X->rank, any = 0;
    int32_t pads[2 * LP_MAX_RANK] = {0};
    int64_t d[LP_MAX_RANK];
    memcpy(d, X->dims, sizeof d);
    for (int i = 0; i < J->s.nsp; i++) {
        pads[2 * (2 + i)] = (int32_t)J->s.pb[i];
        pads[2 * (2 + i) + 1] = (int32_t)(J->s.pe[i] + J->extra[i]);
        any |= pads[2 * (2 + i)] || pads[2 * (2 + i) + 1];
        if (d[2 + i] >= 0) d[2 + i] += pads[2 * (2 + i)] + pads[2 * (2 + i) + 1];
        else if (pads[2 * (2 + i)] || pads[2 * (2 + i) + 1]) d[2 + i] = lp_graph_new_sym(c->g, NULL);
    }
    if (!any) return x;
    int64_t pd[2] = {r, 2};
    int pc = lp_emit_const(c, LP_DT_I32, 2, pd, pads, "paddings");
    int out = lp_emit_tensor(c, X->dtype, r, d, "padded");
    int vc = lp_emit_scalar(c, X->dtype, value, "pad_value");
    int in[3] = {x, pc, vc};
    if (pc < 0 || out < 0 || vc < 0 || lp_emit_op(c, LP_TFL_PADV2, in, 3, &out, 1) < 0) return -1;
    return out;
}

/* flat NCHW index of every input element (storage_order 1: spatial dims column-major), int64 */
static int index_grid(lp_ctx *c, const lp_tensor *x, int storage_order) {
    int64_t n = lp_tensor_numel(x);
    int64_t *v = lp_table_alloc(c, n, sizeof(int64_t), "table of MaxPool indices");
    if (!v) return -1;
    int r = x->rank;
    int64_t sp = 1;
    for (int i = 2; i < r; i++) sp *= x->dims[i];
    for (int64_t f = 0; f < n; f++) {
        int64_t idx = f;
        if (storage_order == 1) {
            /* reverse the spatial coordinates' significance */
            int64_t rem = f % sp, col = 0, mul = 1;
            int64_t coord[LP_MAX_RANK];
            for (int i = r - 1; i >= 2; i--) {
                coord[i] = rem % x->dims[i];
                rem /= x->dims[i];
            }
            for (int i = 2; i < r; i++) {
                col += coord[i] * mul;
                mul *= x->dims[i];
            }
            idx = f - f % sp + col;
        }
        v[f] = idx;
    }
    return lp_emit_const(c, LP_DT_I64, r, x->dims, v, "indices");
}

static lp_status pool_slices_lower(lp_ctx *c, pool_job *J, int x, int y, int y_idx, int storage_order) {
    lp_tensor *X = T(x);
    int nsp = J->s.nsp;
    int src = J->kind == POOL_LP ? pow_abs(c, x, J->p) : x;
    double pv = J->kind == POOL_MAX ? lowest(X->dtype) : 0.0;
    int xp = src < 0 ? -1 : pad_onnx(c, src, J, pv);
    int ip = -1;
    if (y_idx >= 0) {
        if (lp_tensor_numel(X) < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "output 'Indices' needs a static input shape");
        int grid = index_grid(c, X, storage_order);
        ip = grid < 0 ? -1 : pad_onnx(c, grid, J, -1.0);
        if (ip < 0) return c->err->code;
    }
    if (xp < 0) return c->err->code;
    int64_t tap[3] = {0, 0, 0}, ntaps = 1;
    for (int i = 0; i < nsp; i++)
        if (!lp_mul_i64(ntaps, J->s.k[i], &ntaps) || ntaps > MAX_TAPS)
            return lp_fail(c, LP_ERR_UNSUPPORTED, "a window of more than %d taps in this form (one slice per tap)",
                           MAX_TAPS);
    /* every tap adds a few tensors: room for all of them up front (the driver reserves LP_LOWER_RESERVE) */
    if (!lp_graph_reserve(c->g, (int)(8 * ntaps + 64))) return lp_fail(c, LP_ERR_NOMEM, "out of memory");
    int acc = -1, acc_i = -1;
    for (int64_t t = 0; t < ntaps; t++) {
        int64_t rem = t;
        for (int i = nsp - 1; i >= 0; i--) {
            tap[i] = rem % J->s.k[i];
            rem /= J->s.k[i];
        }
        int v = tap_slice(c, xp, J, tap);
        if (v < 0) return c->err->code;
        if (acc < 0) {
            acc = v;
            if (ip >= 0 && (acc_i = tap_slice(c, ip, J, tap)) < 0) return c->err->code;
            continue;
        }
        if (ip >= 0) {
            /* the first maximum in scan order wins (strictly greater replaces) */
            int vi = tap_slice(c, ip, J, tap);
            int gt = lp_nn_binary(c, LP_TFL_GREATER, v, acc, -1);
            int nv = lp_emit_tensor(c, T(acc)->dtype, T(acc)->rank, T(acc)->dims, "best");
            int ni = lp_emit_tensor(c, LP_DT_I64, T(acc)->rank, T(acc)->dims, "best_index");
            int in1[3] = {gt, v, acc}, in2[3] = {gt, vi, acc_i};
            if (vi < 0 || gt < 0 || nv < 0 || ni < 0 || lp_emit_op(c, LP_TFL_SELECT_V2, in1, 3, &nv, 1) < 0 ||
                lp_emit_op(c, LP_TFL_SELECT_V2, in2, 3, &ni, 1) < 0)
                return c->err->code;
            acc = nv, acc_i = ni;
            continue;
        }
        acc = lp_nn_binary(c, J->kind == POOL_MAX ? LP_TFL_MAXIMUM : LP_TFL_ADD, acc, v, -1);
        if (acc < 0) return c->err->code;
    }
    if (y_idx >= 0 && lp_emit_identity(c, acc_i, y_idx) < 0) return c->err->code;
    if (J->kind == POOL_MAX) return lp_emit_identity(c, acc, y) < 0 ? c->err->code : LP_OK;
    if (J->kind == POOL_LP) return root(c, acc, J->p, y) < 0 ? c->err->code : LP_OK;
    int fix = count_fix(c, &J->s, J->in_sp, J->out_sp, J->include_pad, 1.0, 0);
    if (fix == -1) return c->err->code;
    if (fix == -2) return lp_emit_identity(c, acc, y) < 0 ? c->err->code : LP_OK;
    return lp_nn_binary(c, LP_TFL_MUL, acc, fix, y) < 0 ? c->err->code : LP_OK;
}

static lp_status pool_lower(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]), *y = T(n->out[0]);
    pool_job J;
    memset(&J, 0, sizeof J);
    J.kind = n->op == LP_OP_MaxPool ? POOL_MAX : n->op == LP_OP_AveragePool ? POOL_AVG : POOL_LP;
    int cm;
    LP_TRY(pool_spec(c, n, &J.s, &cm));
    int nsp = J.s.nsp;
    int y_idx = n->op == LP_OP_MaxPool && n->n_out > 1 ? n->out[1] : -1;
    int storage_order = (int)lp_attr_i(c, n, "storage_order", 0);
    if (J.kind == POOL_AVG) J.include_pad = (int)lp_attr_i(c, n, "count_include_pad", 0);
    if (J.kind == POOL_LP) {
        J.p = lp_attr_f(c, n, "p", 2.0f); /* a float in opset 1, an int later */
        if (!(J.p > 0)) return lp_fail(c, LP_ERR_INVALID, "attribute 'p'=%g", J.p);
    }
    if (c->err->code) return c->err->code;
    if (J.kind != POOL_MAX && !lp_dtype_is_float(x->dtype))
        return lp_fail(c, LP_ERR_INVALID, "input type %s", lp_dtype_name(x->dtype));
    int dilated = 0;
    for (int i = 0; i < nsp; i++) {
        J.in_sp[i] = x->dims[2 + i];
        J.out_sp[i] = y->dims[2 + i];
        J.dyn |= J.in_sp[i] < 0;
        dilated |= J.s.d[i] != 1;
    }
    /* ceil_mode: the last windows hang over the end */
    if (!J.dyn)
        for (int i = 0; i < nsp; i++) {
            int64_t reach = (J.out_sp[i] - 1) * J.s.s[i] + (J.s.k[i] - 1) * J.s.d[i] + 1;
            int64_t have = J.in_sp[i] + J.s.pb[i] + J.s.pe[i];
            if (reach > have) J.extra[i] = reach - have;
        }
    else if (cm)
        return lp_fail(c, LP_ERR_UNSUPPORTED, "ceil_mode with dynamic spatial dimensions");
    int wide_int = x->dtype == LP_DT_I32 || x->dtype == LP_DT_I64 || x->dtype == LP_DT_U32 || x->dtype == LP_DT_U64;
    if (y_idx >= 0 || dilated || wide_int) {
        if (J.dyn) return lp_fail(c, LP_ERR_UNSUPPORTED, "dilated pooling (or Indices) with dynamic spatial dimensions");
        return pool_slices_lower(c, &J, n->in[0], n->out[0], y_idx, storage_order);
    }
    /* small integers (MaxPool int8/uint8): TFLite's integer MAX_POOL_2D wants quantization
     * parameters; float32 holds them exactly */
    int xf = n->in[0], yf = n->out[0];
    if (lp_dtype_is_int(x->dtype)) {
        xf = lp_emit_cast(c, n->in[0], LP_DT_F32, -1);
        yf = lp_emit_tensor(c, LP_DT_F32, y->rank, y->dims, "pooled_f32");
        if (xf < 0 || yf < 0) return c->err->code;
    }
    lp_status st;
    if (nsp == 3) {
        if (J.dyn) return lp_fail(c, LP_ERR_UNSUPPORTED, "3-D pooling with dynamic spatial dimensions");
        st = pool3d_lower(c, &J, xf, yf);
    } else {
        st = pool2d_lower(c, &J, xf, yf);
    }
    if (st != LP_OK || yf == n->out[0]) return st;
    return lp_emit_cast(c, yf, x->dtype, n->out[0]) < 0 ? c->err->code : LP_OK;
}

const lp_op_impl lp_impl_MaxPool = {pool_infer, NULL, pool_lower};
const lp_op_impl lp_impl_AveragePool = {pool_infer, NULL, pool_lower};
const lp_op_impl lp_impl_LpPool = {pool_infer, NULL, pool_lower};

/* ---------------- global pooling ---------------- */

static lp_status global_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    LP_TRY(lp_need_rank(c, x, "input"));
    if (x->rank < 3) return lp_fail(c, LP_ERR_INVALID, "input rank %d", x->rank);
    int64_t dims[LP_MAX_RANK];
    dims[0] = x->dims[0];
    dims[1] = x->dims[1];
    for (int i = 2; i < x->rank; i++) dims[i] = 1;
    lp_set_out(c, n, 0, x->dtype, x->rank, dims);
    return LP_OK;
}

static lp_status global_lower(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    int axes[LP_MAX_RANK];
    for (int i = 2; i < x->rank; i++) axes[i - 2] = i;
    if (n->op == LP_OP_GlobalLpPool) {
        double p = lp_attr_f(c, n, "p", 2.0f);
        if (c->err->code) return c->err->code;
        if (!(p > 0)) return lp_fail(c, LP_ERR_INVALID, "attribute 'p'=%g", p);
        int s = lp_nn_reduce(c, LP_TFL_SUM, pow_abs(c, n->in[0], p), axes, x->rank - 2, 1, -1);
        return root(c, s, p, n->out[0]) < 0 ? c->err->code : LP_OK;
    }
    lp_op op = n->op == LP_OP_GlobalMaxPool ? LP_TFL_REDUCE_MAX : LP_TFL_MEAN;
    return lp_nn_reduce(c, op, n->in[0], axes, x->rank - 2, 1, n->out[0]) < 0 ? c->err->code : LP_OK;
}

const lp_op_impl lp_impl_GlobalAveragePool = {global_infer, NULL, global_lower};
const lp_op_impl lp_impl_GlobalMaxPool = {global_infer, NULL, global_lower};
const lp_op_impl lp_impl_GlobalLpPool = {global_infer, NULL, global_lower};

/* ---------------- MaxUnpool ---------------- */

/* the unpooled size of each spatial dim: (in - 1) * stride - pads + kernel; *rt is set when the
 * output_shape input is only known at run time (then out has fresh symbols) */
static lp_status unpool_dims(lp_ctx *c, const lp_node *n, int64_t *inferred, int64_t *out, int *rt) {
    lp_tensor *x = T(n->in[0]);
    lp_window s;
    LP_TRY(lp_window_get(c, n, x, NULL, &s));
    inferred[0] = x->dims[0], inferred[1] = x->dims[1];
    for (int i = 0; i < s.nsp; i++)
        inferred[2 + i] = x->dims[2 + i] < 0 ? lp_graph_new_sym(c->g, NULL)
                                             : (x->dims[2 + i] - 1) * s.s[i] - s.pb[i] - s.pe[i] + s.k[i];
    memcpy(out, inferred, sizeof(int64_t) * (size_t)x->rank);
    *rt = 0;
    if (lp_has_in(n, 2)) {
        int64_t os[LP_MAX_RANK];
        int k = lp_known_ints(c, n, 2, os, LP_MAX_RANK);
        if (k < 0) {
            lp_tensor *S = T(n->in[2]);
            if (S->rank != 1 || S->dims[0] != x->rank)
                return lp_fail(c, LP_ERR_INVALID, "input 'output_shape' must have %d values", x->rank);
            *rt = 1;
            for (int i = 0; i < x->rank; i++) out[i] = lp_graph_new_sym(c->g, NULL);
            return LP_OK;
        }
        if (k != x->rank) return lp_fail(c, LP_ERR_INVALID, "input 'output_shape' has %d values", k);
        memcpy(out, os, sizeof(int64_t) * (size_t)k);
    }
    return LP_OK;
}

static lp_status unpool_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    int64_t inf[LP_MAX_RANK], out[LP_MAX_RANK];
    int rt;
    LP_TRY(unpool_dims(c, n, inf, out, &rt));
    lp_set_out(c, n, 0, x->dtype, x->rank, out);
    return LP_OK;
}

static lp_status unpool_lower(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]), *I = T(n->in[1]);
    int64_t inf[LP_MAX_RANK], out[LP_MAX_RANK];
    int rt;
    LP_TRY(unpool_dims(c, n, inf, out, &rt));
    int r = x->rank;
    int64_t m = lp_tensor_numel(x);
    if (m < 0 || lp_tensor_numel(I) != m) return lp_fail(c, LP_ERR_UNSUPPORTED, "MaxUnpool needs static input and index shapes");
    /* The indices are MaxPool's: flat positions in the tensor being unpooled to, i.e. in the
     * output_shape tensor when that input is given (onnxruntime and PyTorch's max_unpool; the ONNX
     * reference instead indexes the inferred shape and pads it, which only agrees when the two
     * shapes are equal). SCATTER_ND adds duplicates where ONNX writes them: the sums are divided
     * by how often each index occurs, exact for what MaxPool produces (an index repeats only with
     * its one value when windows overlap). */
    int64_t m2[2] = {m, 1};
    int ii = lp_emit_reshape(c, lp_nn_cast(c, n->in[1], LP_DT_I32), 2, m2, -1);
    int xv = lp_emit_reshape(c, n->in[0], 1, &m, -1);
    int total_t, shape_t;
    int64_t total = 1;
    if (rt) {
        shape_t = lp_nn_cast(c, n->in[2], LP_DT_I32);
        int ax = 0;
        total_t = lp_nn_reduce(c, LP_TFL_REDUCE_PROD, shape_t, &ax, 1, 1, -1);
        total = lp_graph_new_sym(c->g, NULL);
    } else {
        for (int i = 0; i < r; i++) total *= out[i]; /* checked at inference (lp_dims_check) */
        if (total > INT32_MAX) return lp_fail(c, LP_ERR_UNSUPPORTED, "an output of more than 2^31 elements");
        int32_t t32 = (int32_t)total;
        total_t = lp_emit_i32(c, &t32, 1, "size");
        shape_t = lp_emit_i32_dims(c, out, r, "shape");
    }
    int sum = lp_emit_tensor(c, x->dtype, 1, &total, "scattered");
    float *ones = lp_table_alloc(c, m, sizeof(float), "table of ones");
    if (!ones) return c->err->code;
    for (int64_t i = 0; i < m; i++) ones[i] = 1.0f;
    int oc = lp_emit_const(c, LP_DT_F32, 1, &m, ones, "ones");
    int cnt = lp_emit_tensor(c, LP_DT_F32, 1, &total, "count");
    int in1[3] = {ii, xv, total_t}, in2[3] = {ii, oc, total_t};
    if (ii < 0 || xv < 0 || total_t < 0 || shape_t < 0 || sum < 0 || oc < 0 || cnt < 0 ||
        lp_emit_op(c, LP_TFL_SCATTER_ND, in1, 3, &sum, 1) < 0 || lp_emit_op(c, LP_TFL_SCATTER_ND, in2, 3, &cnt, 1) < 0)
        return c->err->code;
    int den = lp_nn_cast(c, lp_nn_binary_k(c, LP_TFL_MAXIMUM, cnt, 1.0, -1), x->dtype);
    int flat = lp_nn_binary(c, LP_TFL_DIV, sum, den, -1);
    if (flat < 0) return c->err->code;
    int in[2] = {flat, shape_t};
    return lp_emit_op(c, LP_TFL_RESHAPE, in, 2, &n->out[0], 1) < 0 ? c->err->code : LP_OK;
}

const lp_op_impl lp_impl_MaxUnpool = {unpool_infer, NULL, unpool_lower};
