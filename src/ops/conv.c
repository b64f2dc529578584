/* Convolution family: Conv, ConvTranspose, BatchNormalization (when not folded into a conv), and
 * the window helpers of window.h.
 *
 * Conv: CONV_2D (regular and grouped), DEPTHWISE_CONV_2D, CONV_3D (grouped: SPLIT + one CONV_3D
 * per group + CONCATENATION); 1-D as 2-D with a unit height. Weights may be constants (permuted
 * here) or tensors computed at run time (a TRANSPOSE op).
 * ConvTranspose: TRANSPOSE_CONV / CONV_3D_TRANSPOSE with VALID padding give the full result
 * (in - 1) * stride + kernel, which is then cropped by the ONNX pads or extended with zeros by
 * output_padding / output_shape; groups are split as for Conv; a dilated kernel is written as the
 * ordinary kernel with d - 1 zeros between its taps (TFLite has no dilated transposed conv). */
#include <math.h>
#include <string.h>

#include "window.h"

#define T(id) lp_T(c, (id))

static lp_status ints_attr(lp_ctx *c, const lp_node *n, const char *name, int64_t *out, int want, int64_t def) {
    int64_t v[6];
    int k = lp_attr_ints(c, n, name, v, 6);
    if (c->err->code) return c->err->code;
    if (k < 0) {
        for (int i = 0; i < want; i++) out[i] = def;
        return LP_OK;
    }
    if (k != want) return lp_fail(c, LP_ERR_INVALID, "attribute '%s' has %d values; expected %d", name, k, want);
    /* window sizes are tensor dimensions: bounded like them, so the arithmetic on them cannot overflow */
    for (int i = 0; i < want; i++)
        if (v[i] > LP_MAX_DIM)
            return lp_fail(c, LP_ERR_INVALID, "attribute '%s' value %lld is larger than %lld", name, (long long)v[i],
                           (long long)LP_MAX_DIM);
    memcpy(out, v, sizeof(int64_t) * (size_t)want);
    return LP_OK;
}

/* Common attributes of Conv / ConvTranspose / pooling. `w` is the weight (NULL for pooling). */
lp_status lp_window_get(lp_ctx *c, const lp_node *n, const lp_tensor *x, const lp_tensor *w, lp_window *s) {
    memset(s, 0, sizeof *s);
    LP_TRY(lp_need_rank(c, x, "input"));
    s->nsp = x->rank - 2;
    if (s->nsp < 1 || s->nsp > 3) return lp_fail(c, LP_ERR_UNSUPPORTED, "input rank %d (1 to 3 spatial dimensions)", x->rank);
    int64_t ks[3];
    int k = lp_attr_ints(c, n, "kernel_shape", ks, 3);
    if (c->err->code) return c->err->code;
    if (k >= 0 && k != s->nsp) return lp_fail(c, LP_ERR_INVALID, "attribute 'kernel_shape' has %d values", k);
    for (int i = 0; i < s->nsp; i++) {
        if (k >= 0) s->k[i] = ks[i];
        else if (w && w->rank == x->rank) s->k[i] = w->dims[2 + i];
        else return lp_fail(c, LP_ERR_INVALID, "attribute 'kernel_shape' is required");
        if (s->k[i] <= 0) return lp_fail(c, LP_ERR_INVALID, "kernel size %lld", (long long)s->k[i]);
        if (s->k[i] > LP_MAX_DIM)
            return lp_fail(c, LP_ERR_INVALID, "attribute 'kernel_shape' value %lld is larger than %lld", (long long)s->k[i],
                           (long long)LP_MAX_DIM);
    }
    LP_TRY(ints_attr(c, n, "strides", s->s, s->nsp, 1));
    LP_TRY(ints_attr(c, n, "dilations", s->d, s->nsp, 1));
    int64_t pads[6];
    LP_TRY(ints_attr(c, n, "pads", pads, 2 * s->nsp, 0));
    for (int i = 0; i < s->nsp; i++) {
        s->pb[i] = pads[i];
        s->pe[i] = pads[i + s->nsp];
        if (s->s[i] <= 0 || s->d[i] <= 0 || s->pb[i] < 0 || s->pe[i] < 0)
            return lp_fail(c, LP_ERR_INVALID, "strides, dilations and pads must be positive");
        /* the dilated kernel's extent (k - 1) * d + 1 is a size too (both factors < 2^31: no overflow) */
        if ((s->k[i] - 1) * s->d[i] + 1 > LP_MAX_DIM)
            return lp_fail(c, LP_ERR_INVALID, "kernel %lld with dilation %lld spans more than %lld elements",
                           (long long)s->k[i], (long long)s->d[i], (long long)LP_MAX_DIM);
    }
    s->group = lp_attr_i(c, n, "group", 1);
    if (s->group <= 0 || s->group > LP_MAX_DIM)
        return lp_fail(c, LP_ERR_INVALID, "attribute 'group' is %lld", (long long)s->group);
    const char *ap = lp_attr_s(c, n, "auto_pad", "NOTSET");
    if (strcmp(ap, "SAME_UPPER") == 0) s->same_upper = 1;
    else if (strcmp(ap, "SAME_LOWER") == 0) s->same_lower = 1;
    else if (strcmp(ap, "VALID") == 0) {
        for (int i = 0; i < s->nsp; i++) s->pb[i] = s->pe[i] = 0;
    } else if (strcmp(ap, "NOTSET") != 0)
        return lp_fail(c, LP_ERR_INVALID, "attribute 'auto_pad'='%s'", ap);
    return c->err->code;
}

/* Resolve SAME_* padding for a forward window op (needs static spatial dims). */
void lp_window_resolve_same(const lp_tensor *x, lp_window *s) {
    if (!s->same_upper && !s->same_lower) return;
    for (int i = 0; i < s->nsp; i++) {
        int64_t in = x->dims[2 + i];
        if (in < 0) continue;
        int64_t out = (in + s->s[i] - 1) / s->s[i];
        int64_t eff = (s->k[i] - 1) * s->d[i] + 1;
        int64_t total = (out - 1) * s->s[i] + eff - in;
        if (total < 0) total = 0;
        if (s->same_upper) {
            s->pb[i] = total / 2;
            s->pe[i] = total - s->pb[i];
        } else {
            s->pe[i] = total / 2;
            s->pb[i] = total - s->pe[i];
        }
    }
}

/* TFLite SAME padding equals the explicit pads? (FORMATS.md section 3) */
static int pads_are_tfl_same(const lp_tensor *xn, const lp_window *s) {
    for (int i = 0; i < s->nsp; i++) {
        int64_t in = xn->dims[1 + i]; /* channels last */
        if (in < 0 && s->s[i] != 1) return 0; /* stride 1: SAME pads do not depend on the size */
        if (in < 0) in = 1;
        int64_t out = (in + s->s[i] - 1) / s->s[i];
        int64_t eff = (s->k[i] - 1) * s->d[i] + 1;
        int64_t total = (out - 1) * s->s[i] + eff - in;
        if (total < 0) total = 0;
        if (s->pb[i] != total / 2 || s->pe[i] != total - total / 2) return 0;
    }
    return 1;
}

static int pads_zero(const lp_window *s) {
    for (int i = 0; i < s->nsp; i++)
        if (s->pb[i] || s->pe[i]) return 0;
    return 1;
}

static int64_t extra_at(const int64_t *extra, int i) { return extra ? extra[i] : 0; }

int lp_window_pad(lp_ctx *c, int xn, const lp_window *s, const int64_t *extra, double value) {
    lp_tensor *x = T(xn);
    int r = x->rank;
    int32_t pads[2 * LP_MAX_RANK] = {0};
    int64_t dims[LP_MAX_RANK];
    memcpy(dims, x->dims, sizeof dims);
    for (int i = 0; i < s->nsp && i + 1 < r - 1; i++) {
        pads[2 * (i + 1)] = (int32_t)s->pb[i];
        pads[2 * (i + 1) + 1] = (int32_t)(s->pe[i] + extra_at(extra, i));
        if (dims[i + 1] >= 0) dims[i + 1] += pads[2 * (i + 1)] + pads[2 * (i + 1) + 1];
        else if (pads[2 * (i + 1)] || pads[2 * (i + 1) + 1]) dims[i + 1] = lp_graph_new_sym(c->g, NULL);
    }
    int64_t pd[2] = {r, 2};
    int pi = lp_emit_const(c, LP_DT_I32, 2, pd, pads, "paddings");
    int out = lp_emit_tensor(c, x->dtype, r, dims, "padded");
    if (pi < 0 || out < 0) return -1;
    if (value == 0) {
        int in[2] = {xn, pi};
        if (lp_emit_op(c, LP_TFL_PAD, in, 2, &out, 1) < 0) return -1;
    } else {
        int v = lp_emit_scalar(c, x->dtype, value, "pad_value");
        int in[3] = {xn, pi, v};
        if (v < 0 || lp_emit_op(c, LP_TFL_PADV2, in, 3, &out, 1) < 0) return -1;
    }
    return out;
}

int lp_window_input(lp_ctx *c, int xn, lp_window *s, int *padding, const int64_t *extra, double pad_value) {
    lp_tensor *X = T(xn);
    int dyn_spatial = 0, any_extra = 0;
    for (int i = 0; i < s->nsp; i++) {
        dyn_spatial |= X->dims[1 + i] < 0;
        any_extra |= extra_at(extra, i) != 0;
    }
    if (pads_zero(s) && !any_extra) {
        *padding = 1; /* VALID */
        return xn;
    }
    if (!any_extra && ((dyn_spatial && s->same_upper) || pads_are_tfl_same(X, s))) {
        *padding = 0; /* SAME */
        return xn;
    }
    if (dyn_spatial && (s->same_upper || s->same_lower)) {
        lp_fail(c, LP_ERR_UNSUPPORTED, "auto_pad SAME_LOWER with dynamic spatial dimensions");
        return -1;
    }
    *padding = 1;
    return lp_window_pad(c, xn, s, extra, pad_value);
}

int lp_window_to_nhwc(lp_ctx *c, int x) {
    lp_tensor *X = T(x);
    if (X->rank != 3) return lp_emit_to_last(c, x);
    /* [N,C,L] -> [N,L,C] (a layout transpose the layout pass can absorb) -> [N,1,L,C] */
    int xt = lp_emit_to_last(c, x);
    if (xt < 0) return -1;
    lp_tensor *XT = T(xt);
    int64_t d[4] = {XT->dims[0], 1, XT->dims[1], XT->dims[2]};
    return lp_emit_reshape(c, xt, 4, d, -1);
}

int lp_window_from_nhwc(lp_ctx *c, int y) {
    lp_tensor *Y = T(y);
    if (Y->rank != 3) return lp_emit_from_last(c, y);
    /* the kernel writes [N,1,L,M]; reshape to [N,L,M], then the layout transpose to [N,M,L] */
    int64_t d4[4] = {Y->dims[0], 1, Y->dims[2], Y->dims[1]}, d3[3] = {Y->dims[0], Y->dims[2], Y->dims[1]};
    int y4 = lp_emit_tensor(c, Y->dtype, 4, d4, "nhwc");
    int y3 = lp_emit_tensor(c, Y->dtype, 3, d3, "nlc");
    if (y4 < 0 || y3 < 0) return -1;
    if (lp_emit_reshape(c, y4, 3, d3, y3) < 0) return -1;
    int perm[3] = {0, 2, 1};
    if (lp_emit_layout_transpose(c, y3, perm, y) < 0) return -1;
    return y4;
}

void lp_window_as_2d(lp_window *s) {
    s->nsp = 2;
    s->k[1] = s->k[0], s->k[0] = 1;
    s->s[1] = s->s[0], s->s[0] = 1;
    s->d[1] = s->d[0], s->d[0] = 1;
    s->pb[1] = s->pb[0], s->pb[0] = 0;
    s->pe[1] = s->pe[0], s->pe[0] = 0;
    s->op[1] = s->op[0], s->op[0] = 0;
}

/* ---------------- weights ---------------- */

/* w seen with shape `dims` (same element count), permuted by perm: a permuted constant when w is
 * constant, else RESHAPE (when the shape differs) + TRANSPOSE at run time. */
static int weight_perm(lp_ctx *c, int w, int rank, const int64_t *dims, const int *perm) {
    lp_tensor *W = T(w);
    if (lp_tensor_is_const(c->g, w)) return lp_emit_permuted(c, w, rank, dims, perm, "weight");
    int t = w;
    if (rank != W->rank || !lp_dims_equal(dims, W->dims, rank)) t = lp_emit_reshape(c, w, rank, dims, -1);
    return t < 0 ? -1 : lp_emit_transpose(c, t, perm, -1);
}

/* the slice [g*len, (g+1)*len) of axis 0 of a constant (contiguous rows), as a new constant view */
static int const_rows(lp_ctx *c, int w, int64_t g, int64_t len) {
    lp_tensor *W = T(w);
    int64_t row = lp_tensor_numel(W) / W->dims[0];
    size_t es = lp_dtype_size(W->dtype);
    int64_t d[LP_MAX_RANK];
    memcpy(d, W->dims, sizeof d);
    d[0] = len;
    if (W->lazy) { /* rows g*len.. of a lazily computed weight: a lazy reorder of axis 0 */
        int64_t *rows = lp_arena_alloc_raw(&c->g->arena, sizeof(int64_t) * (size_t)(len ? len : 1));
        if (!rows) {
            lp_fail(c, LP_ERR_NOMEM, "out of memory");
            return -1;
        }
        for (int64_t i = 0; i < len; i++) rows[i] = g * len + i;
        return lp_emit_gathered(c, w, W->rank, W->dims, 0, rows, len, "group");
    }
    return lp_emit_const(c, W->dtype, W->rank, d, (const uint8_t *)W->data + (size_t)(g * len * row) * es, "group");
}

/* SPLIT x into n equal parts along axis; part ids in outs */
static lp_status split_n(lp_ctx *c, int x, int axis, int n, int *outs) {
    lp_tensor *X = T(x);
    int64_t d[LP_MAX_RANK];
    memcpy(d, X->dims, sizeof d);
    d[axis] = X->dims[axis] / n;
    for (int i = 0; i < n; i++)
        if ((outs[i] = lp_emit_tensor(c, X->dtype, X->rank, d, "part")) < 0) return c->err->code;
    int32_t a = axis;
    int ai = lp_emit_const(c, LP_DT_I32, 0, NULL, &a, "axis");
    int in[2] = {ai, x};
    int id = ai < 0 ? -1 : lp_emit_op(c, LP_TFL_SPLIT, in, 2, outs, n);
    if (id < 0) return c->err->code;
    lp_emit_params(c, id)->num = n;
    return LP_OK;
}

static int concat(lp_ctx *c, const int *parts, int n, int axis, int out) {
    lp_tensor *P = T(parts[0]);
    if (out < 0) {
        int64_t d[LP_MAX_RANK];
        memcpy(d, P->dims, sizeof d);
        for (int i = 1; i < n; i++) d[axis] += T(parts[i])->dims[axis];
        out = lp_emit_tensor(c, P->dtype, P->rank, d, "concat");
    }
    int id = out < 0 ? -1 : lp_emit_op(c, LP_TFL_CONCATENATION, parts, n, &out, 1);
    if (id < 0) return -1;
    lp_emit_params(c, id)->axis = axis;
    return out;
}

static int zero_bias(lp_ctx *c, int64_t n) {
    float *z = lp_table_alloc(c, n, sizeof(float), "zero bias");
    if (!z) return -1;
    return lp_emit_const(c, LP_DT_F32, 1, &n, z, "bias");
}

/* ---------------- Conv ---------------- */

lp_status lp_conv_out_dims(lp_ctx *c, const lp_node *n, const lp_tensor *x, const lp_tensor *w, int64_t *dims) {
    lp_window s;
    LP_TRY(lp_window_get(c, n, x, w, &s));
    LP_TRY(lp_need_rank(c, w, "weight"));
    if (w->rank != x->rank) return lp_fail(c, LP_ERR_INVALID, "weight rank %d differs from input rank %d", w->rank, x->rank);
    if (x->dims[1] >= 0 && w->dims[1] >= 0 && x->dims[1] != w->dims[1] * s.group)
        return lp_fail(c, LP_ERR_INVALID, "input has %lld channels; weight expects %lld x group %lld", (long long)x->dims[1],
                       (long long)w->dims[1], (long long)s.group);
    if (w->dims[0] >= 0 && w->dims[0] % s.group != 0)
        return lp_fail(c, LP_ERR_INVALID, "%lld output channels do not split into %lld groups", (long long)w->dims[0],
                       (long long)s.group);
    lp_window_resolve_same(x, &s);
    dims[0] = x->dims[0];
    dims[1] = w->dims[0];
    for (int i = 0; i < s.nsp; i++) {
        int64_t in = x->dims[2 + i];
        if (in < 0) {
            dims[2 + i] = lp_graph_new_sym(c->g, NULL);
            continue;
        }
        int64_t eff = (s.k[i] - 1) * s.d[i] + 1;
        if (s.same_upper || s.same_lower) dims[2 + i] = (in + s.s[i] - 1) / s.s[i];
        else {
            int64_t span = in + s.pb[i] + s.pe[i] - eff;
            if (span < 0) return lp_fail(c, LP_ERR_INVALID, "the kernel is larger than the padded input");
            dims[2 + i] = span / s.s[i] + 1;
        }
    }
    return LP_OK;
}

static lp_status conv_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    int64_t dims[LP_MAX_RANK];
    LP_TRY(lp_conv_out_dims(c, n, x, T(n->in[1]), dims));
    lp_set_out(c, n, 0, x->dtype, x->rank, dims);
    return LP_OK;
}

/* CONV_3D: input NDHWC, filter [kd, kh, kw, C/g, M] (ONNX [M, C/g, kd, kh, kw] permuted (2,3,4,1,0)),
 * groups as SPLIT + one CONV_3D per group + CONCATENATION. */
static lp_status conv3d_emit(lp_ctx *c, int x, int w, int b, lp_window *s, int y) {
    lp_tensor *W = T(w);
    int64_t G = s->group, M = W->dims[0], Mg = M / G;
    int xn = lp_emit_to_last(c, x), padding;
    if (xn >= 0) xn = lp_window_input(c, xn, s, &padding, NULL, 0.0);
    int yn = xn < 0 ? -1 : lp_emit_from_last(c, y);
    if (yn < 0) return c->err->code;
    int xs[64], ws[64], ys[64];
    if (G > 64) return lp_fail(c, LP_ERR_UNSUPPORTED, "3-D convolution with %lld groups (at most 64)", (long long)G);
    if (G > 1) {
        LP_TRY(split_n(c, xn, 4, (int)G, xs));
        if (!lp_tensor_is_const(c->g, w)) LP_TRY(split_n(c, w, 0, (int)G, ws));
    } else {
        xs[0] = xn;
        ws[0] = w;
    }
    int perm[5] = {2, 3, 4, 1, 0};
    for (int g = 0; g < G; g++) {
        int wg = ws[g];
        if (G > 1 && lp_tensor_is_const(c->g, w)) wg = const_rows(c, w, g, Mg);
        if (wg < 0) return c->err->code;
        int wt = weight_perm(c, wg, 5, T(wg)->dims, perm);
        if (wt < 0) return c->err->code;
        if (G == 1) ys[g] = yn;
        else {
            int64_t d[5];
            memcpy(d, T(yn)->dims, sizeof d);
            d[4] = Mg;
            ys[g] = lp_emit_tensor(c, T(yn)->dtype, 5, d, "group_out");
        }
        int in[3] = {xs[g], wt, G == 1 ? b : -1};
        int id = ys[g] < 0 ? -1 : lp_emit_op(c, LP_TFL_CONV_3D, in, in[2] >= 0 ? 3 : 2, &ys[g], 1);
        if (id < 0) return c->err->code;
        lp_tfl_params *p = lp_emit_params(c, id);
        p->padding = padding;
        p->stride_d = (int)s->s[0], p->stride_h = (int)s->s[1], p->stride_w = (int)s->s[2];
        p->dil_d = (int)s->d[0], p->dil_h = (int)s->d[1], p->dil_w = (int)s->d[2];
    }
    if (G == 1) return LP_OK;
    int cat = concat(c, ys, (int)G, 4, b >= 0 ? -1 : yn);
    if (cat >= 0 && b >= 0) cat = lp_nn_binary(c, LP_TFL_ADD, cat, b, yn);
    return cat < 0 ? c->err->code : LP_OK;
}

lp_status lp_conv_emit(lp_ctx *c, int x, int w, int b, const lp_window *win, int y) {
    lp_tensor *X = T(x), *W = T(w);
    lp_window s = *win;
    LP_TRY(lp_need_shape(c, W, "weight"));
    if (X->dims[1] < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "the channel dimension must be static");
    if (b >= 0 && T(b)->dtype != LP_DT_F32) b = lp_nn_cast(c, b, LP_DT_F32); /* legalize casts data, not biases */
    if (s.nsp == 3) return conv3d_emit(c, x, w, b, &s, y);
    int64_t cin = X->dims[1], cout = W->dims[0];
    int64_t wd[4] = {W->dims[0], W->dims[1], W->dims[2], s.nsp == 2 ? W->dims[3] : 0};
    if (s.nsp == 1) {
        /* 1-D: the same kernel with a unit height */
        lp_window_as_2d(&s);
        wd[3] = W->dims[2];
        wd[2] = 1;
    }
    int depthwise = s.group > 1 && s.group == cin && cout % cin == 0 && wd[1] == 1;
    int padding;
    int xn = lp_window_to_nhwc(c, x);
    if (xn >= 0) xn = lp_window_input(c, xn, &s, &padding, NULL, 0.0);
    if (xn < 0) return c->err->code;
    /* weights: OIHW -> OHWI (regular, grouped) or [1, kh, kw, O] (depthwise) */
    int perm_reg[4] = {0, 2, 3, 1}, perm_dw[4] = {1, 2, 3, 0};
    int wi = weight_perm(c, w, 4, wd, depthwise ? perm_dw : perm_reg);
    int bi = b >= 0 ? b : zero_bias(c, cout); /* CONV_2D needs a bias */
    if (wi < 0 || bi < 0) return c->err->code;
    int yn = lp_window_from_nhwc(c, y);
    if (yn < 0) return c->err->code;
    int in[3] = {xn, wi, bi};
    int id = lp_emit_op(c, depthwise ? LP_TFL_DEPTHWISE_CONV_2D : LP_TFL_CONV_2D, in, 3, &yn, 1);
    if (id < 0) return c->err->code;
    lp_tfl_params *p = lp_emit_params(c, id);
    p->padding = padding;
    p->stride_h = (int)s.s[0];
    p->stride_w = (int)s.s[1];
    p->dil_h = (int)s.d[0];
    p->dil_w = (int)s.d[1];
    if (depthwise) p->depth_mult = (int)(cout / cin);
    return LP_OK;
}

static lp_status conv_lower(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]), *w = T(n->in[1]);
    lp_window s;
    LP_TRY(lp_window_get(c, n, x, w, &s));
    lp_window_resolve_same(x, &s);
    if (!lp_dtype_is_float(x->dtype)) return lp_fail(c, LP_ERR_INVALID, "input type %s", lp_dtype_name(x->dtype));
    return lp_conv_emit(c, n->in[0], n->in[1], lp_has_in(n, 2) ? n->in[2] : -1, &s, n->out[0]);
}

const lp_op_impl lp_impl_Conv = {conv_infer, NULL, conv_lower};

/* ---------------- ConvTranspose ---------------- */

static int64_t floor_div2(int64_t v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); }

/* Output sizes and the (possibly negative) pads of ConvTranspose. ONNX: with output_shape or
 * SAME_* auto_pad, total = stride * (in - 1) + output_padding + eff_kernel - output_size;
 * SAME_UPPER puts floor(total / 2) at the start, otherwise the start gets total - floor(total / 2).
 * A negative pad means zeros added to the full result on that side. */
static lp_status convt_pads(lp_ctx *c, const lp_node *n, const lp_tensor *x, lp_window *s, int64_t *out) {
    LP_TRY(ints_attr(c, n, "output_padding", s->op, s->nsp, 0));
    int64_t os[5];
    int k = lp_attr_ints(c, n, "output_shape", os, 5);
    if (c->err->code) return c->err->code;
    if (k >= 0 && k != s->nsp) {
        /* output_shape may include N and C */
        if (k != s->nsp + 2) return lp_fail(c, LP_ERR_INVALID, "attribute 'output_shape' has %d values", k);
        for (int i = 0; i < s->nsp; i++) os[i] = os[2 + i];
        k = s->nsp;
    }
    for (int i = 0; i < s->nsp; i++) {
        int64_t in = x->dims[2 + i];
        int64_t eff = (s->k[i] - 1) * s->d[i] + 1;
        if (in < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "dynamic spatial dimensions");
        if (s->op[i] < 0) return lp_fail(c, LP_ERR_INVALID, "attribute 'output_padding' is negative");
        if (k >= 0 || s->same_upper || s->same_lower) {
            int64_t target = k >= 0 ? os[i] : in * s->s[i];
            int64_t total = s->s[i] * (in - 1) + s->op[i] + eff - target;
            if (s->same_upper) {
                s->pb[i] = floor_div2(total);
                s->pe[i] = total - s->pb[i];
            } else {
                s->pe[i] = floor_div2(total);
                s->pb[i] = total - s->pe[i];
            }
            out[i] = target;
        } else {
            out[i] = s->s[i] * (in - 1) + s->op[i] + eff - s->pb[i] - s->pe[i];
        }
        if (out[i] <= 0) return lp_fail(c, LP_ERR_INVALID, "output size %lld", (long long)out[i]);
    }
    return LP_OK;
}

static lp_status convt_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]), *w = T(n->in[1]);
    lp_window s;
    LP_TRY(lp_window_get(c, n, x, w, &s));
    LP_TRY(lp_need_rank(c, w, "weight"));
    if (w->rank != x->rank) return lp_fail(c, LP_ERR_INVALID, "weight rank %d differs from input rank %d", w->rank, x->rank);
    if (x->dims[1] >= 0 && w->dims[0] >= 0 && x->dims[1] != w->dims[0])
        return lp_fail(c, LP_ERR_INVALID, "input has %lld channels; the weight has %lld", (long long)x->dims[1],
                       (long long)w->dims[0]);
    if (w->dims[0] >= 0 && w->dims[0] % s.group != 0)
        return lp_fail(c, LP_ERR_INVALID, "%lld input channels do not split into %lld groups", (long long)w->dims[0],
                       (long long)s.group);
    int64_t out[3];
    LP_TRY(convt_pads(c, n, x, &s, out));
    int64_t dims[LP_MAX_RANK];
    dims[0] = x->dims[0];
    dims[1] = w->dims[1] < 0 ? w->dims[1] : w->dims[1] * s.group;
    for (int i = 0; i < s.nsp; i++) dims[2 + i] = out[i];
    lp_set_out(c, n, 0, x->dtype, x->rank, dims);
    return LP_OK;
}

/* A dilated kernel as an ordinary one: taps d apart with zeros between. w: [A, B, k...] (ONNX
 * layout, spatial dims from 2); constants are rewritten here, other tensors at run time one
 * spatial axis at a time (reshape to insert a unit axis after it, pad it to d, merge, crop). */
static int dilate_kernel(lp_ctx *c, int w, int nsp, const int64_t *d) {
    lp_tensor *W = T(w);
    int r = W->rank;
    int64_t kd[LP_MAX_RANK];
    memcpy(kd, W->dims, sizeof kd);
    for (int i = 0; i < nsp; i++) kd[2 + i] = (W->dims[2 + i] - 1) * d[i] + 1;
    if (lp_tensor_is_const(c->g, w)) {
        if (!lp_tensor_bytes(c->g, w)) return -1; /* read element by element below */
        int64_t n_out = 1, n_in = lp_tensor_numel(W);
        for (int i = 0; i < r; i++) n_out *= kd[i];
        size_t es = lp_dtype_size(W->dtype);
        uint8_t *dst = lp_arena_alloc(&c->g->arena, (size_t)n_out * es);
        if (!dst) {
            lp_fail(c, LP_ERR_NOMEM, "out of memory");
            return -1;
        }
        int64_t ss[LP_MAX_RANK], ds[LP_MAX_RANK];
        lp_strides(r, W->dims, ss);
        lp_strides(r, kd, ds);
        for (int64_t i = 0; i < n_in; i++) {
            int64_t o = 0, rem = i;
            for (int a = 0; a < r; a++) {
                int64_t idx = rem / ss[a];
                rem %= ss[a];
                o += (a >= 2 ? idx * d[a - 2] : idx) * ds[a];
            }
            memcpy(dst + (size_t)o * es, (const uint8_t *)W->data + (size_t)i * es, es);
        }
        return lp_emit_const(c, W->dtype, r, kd, dst, "dilated");
    }
    /* [A, B, k1..kn] -> [A*B, k1..kn], then per axis */
    int64_t cur[LP_MAX_RANK];
    int cr = nsp + 1;
    cur[0] = W->dims[0] * W->dims[1];
    for (int i = 0; i < nsp; i++) cur[1 + i] = W->dims[2 + i];
    int t = lp_emit_reshape(c, w, cr, cur, -1);
    for (int i = 0; i < nsp && t >= 0; i++) {
        if (d[i] == 1) continue;
        int ax = 1 + i;
        int64_t e[LP_MAX_RANK];
        int er = 0;
        for (int a = 0; a < cr; a++) {
            e[er++] = cur[a];
            if (a == ax) e[er++] = 1;
        }
        t = lp_emit_reshape(c, t, er, e, -1);
        int32_t pads[2 * LP_MAX_RANK] = {0};
        pads[2 * (ax + 1) + 1] = (int32_t)(d[i] - 1);
        int64_t pd[2] = {er, 2};
        e[ax + 1] = d[i];
        int pc = lp_emit_const(c, LP_DT_I32, 2, pd, pads, "paddings");
        int padded = lp_emit_tensor(c, W->dtype, er, e, "spread");
        int in[2] = {t, pc};
        if (t < 0 || pc < 0 || padded < 0 || lp_emit_op(c, LP_TFL_PAD, in, 2, &padded, 1) < 0) return -1;
        cur[ax] *= d[i];
        t = lp_emit_reshape(c, padded, cr, cur, -1);
        int32_t b[LP_MAX_RANK] = {0}, sz[LP_MAX_RANK];
        for (int a = 0; a < cr; a++) sz[a] = (int32_t)cur[a];
        cur[ax] = kd[2 + i];
        sz[ax] = (int32_t)cur[ax];
        int bi = lp_emit_i32(c, b, cr, "begin"), si = lp_emit_i32(c, sz, cr, "size");
        int cropped = lp_emit_tensor(c, W->dtype, cr, cur, "dilated");
        int sin[3] = {t, bi, si};
        if (t < 0 || bi < 0 || si < 0 || cropped < 0 || lp_emit_op(c, LP_TFL_SLICE, sin, 3, &cropped, 1) < 0) return -1;
        t = cropped;
    }
    return t < 0 ? -1 : lp_emit_reshape(c, t, r, kd, -1);
}

/* output_shape input of TRANSPOSE_CONV / CONV_3D_TRANSPOSE: constant, or with a dynamic batch
 * concat(shape(x)[0:1], rest) */
static int out_shape_tensor(lp_ctx *c, int xn, const int64_t *full, int nsp, int64_t cout) {
    int r = nsp + 2;
    int32_t os[LP_MAX_RANK];
    os[0] = (int32_t)T(xn)->dims[0];
    for (int i = 0; i < nsp; i++) os[1 + i] = (int32_t)full[i];
    os[r - 1] = (int32_t)cout;
    if (T(xn)->dims[0] >= 0) return lp_emit_i32(c, os, r, "output_shape");
    int64_t one = 1, rr = r, rest_n = r - 1;
    int sh = lp_emit_tensor(c, LP_DT_I32, 1, &rr, "in_shape");
    int b0 = lp_emit_tensor(c, LP_DT_I32, 1, &one, "batch");
    int shape_t = lp_emit_tensor(c, LP_DT_I32, 1, &rr, "output_shape");
    int32_t zero = 0, len = 1;
    int bz = lp_emit_i32(c, &zero, 1, "begin"), bl = lp_emit_i32(c, &len, 1, "size");
    int ri = lp_emit_i32(c, os + 1, (int)rest_n, "rest");
    if (sh < 0 || b0 < 0 || shape_t < 0 || bz < 0 || bl < 0 || ri < 0) return -1;
    int id = lp_emit_op(c, LP_TFL_SHAPE, &xn, 1, &sh, 1);
    if (id < 0) return -1;
    lp_emit_params(c, id)->out_type = LP_DT_I32;
    int sin[3] = {sh, bz, bl};
    if (lp_emit_op(c, LP_TFL_SLICE, sin, 3, &b0, 1) < 0) return -1;
    int parts[2] = {b0, ri};
    return concat(c, parts, 2, 0, shape_t);
}

static lp_status convt_lower(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]), *w = T(n->in[1]), *y = T(n->out[0]);
    lp_window s;
    LP_TRY(lp_window_get(c, n, x, w, &s));
    int64_t out[3];
    LP_TRY(convt_pads(c, n, x, &s, out));
    LP_TRY(lp_need_shape(c, w, "weight"));
    if (x->dims[1] < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "the channel dimension must be static");
    if (!lp_dtype_is_float(x->dtype)) return lp_fail(c, LP_ERR_INVALID, "input type %s", lp_dtype_name(x->dtype));
    for (int i = 0; i < s.nsp; i++)
        if (s.k[i] != w->dims[2 + i])
            return lp_fail(c, LP_ERR_INVALID, "attribute 'kernel_shape' differs from the weight's shape");
    int64_t G = s.group, cin_g = w->dims[0] / G, cout_g = w->dims[1], cout = cout_g * G;
    if (G > 64) return lp_fail(c, LP_ERR_UNSUPPORTED, "transposed convolution with %lld groups (at most 64)", (long long)G);
    /* weight per group [Cin/g, Cout/g, k...], dilated */
    int wgs[64];
    int wconst = lp_tensor_is_const(c->g, n->in[1]);
    if (G > 1 && !wconst) LP_TRY(split_n(c, n->in[1], 0, (int)G, wgs));
    for (int g = 0; g < G; g++) {
        if (G == 1) wgs[g] = n->in[1];
        else if (wconst) wgs[g] = const_rows(c, n->in[1], g, cin_g);
        int dil = 0;
        for (int i = 0; i < s.nsp; i++) dil |= s.d[i] != 1;
        if (wgs[g] >= 0 && dil) wgs[g] = dilate_kernel(c, wgs[g], s.nsp, s.d);
        if (wgs[g] < 0) return c->err->code;
    }
    for (int i = 0; i < s.nsp; i++) {
        s.k[i] = (s.k[i] - 1) * s.d[i] + 1;
        s.d[i] = 1;
    }
    int nsp = s.nsp;
    int64_t wd[5];
    int wr = nsp == 1 ? 4 : nsp + 2;
    if (nsp == 1) {
        lp_window_as_2d(&s);
        out[1] = out[0];
        out[0] = 1;
        nsp = 2;
    }
    int is3d = nsp == 3;
    int xn = lp_window_to_nhwc(c, n->in[0]);
    int yn = xn < 0 ? -1 : lp_window_from_nhwc(c, n->out[0]); /* the last op below writes yn */
    if (xn < 0 || yn < 0) return c->err->code;
    int r = nsp + 2;
    int64_t full[3], xN = T(xn)->dims[0];
    for (int i = 0; i < nsp; i++) full[i] = (T(xn)->dims[1 + i] - 1) * s.s[i] + s.k[i];
    /* crop window of the full result: start pb (a negative start or a too short result: zeros) */
    int64_t before[3], after[3], start[3];
    int direct = 1;
    for (int i = 0; i < nsp; i++) {
        before[i] = s.pb[i] < 0 ? -s.pb[i] : 0;
        start[i] = s.pb[i] + before[i];
        int64_t end = start[i] + out[i], have = full[i] + before[i];
        after[i] = end > have ? end - have : 0;
        if (s.pb[i] != 0 || out[i] != full[i]) direct = 0;
    }
    int bias = lp_has_in(n, 2) ? lp_nn_cast(c, n->in[2], LP_DT_F32) : -1;
    direct = direct && G == 1;
    int xs[64], ys[64];
    if (G > 1) LP_TRY(split_n(c, xn, r - 1, (int)G, xs));
    else xs[0] = xn;
    int shape_t = out_shape_tensor(c, xn, full, nsp, cout_g);
    if (shape_t < 0) return c->err->code;
    for (int g = 0; g < G; g++) {
        /* [Cin, Cout, kh, kw] -> [Cout, kh, kw, Cin]; 3-D: [kd, kh, kw, Cout, Cin] */
        lp_tensor *WG = T(wgs[g]);
        memcpy(wd, WG->dims, sizeof(int64_t) * (size_t)WG->rank);
        if (wr == 4 && WG->rank == 3) wd[3] = wd[2], wd[2] = 1;
        int perm2[4] = {1, 2, 3, 0}, perm3[5] = {2, 3, 4, 1, 0};
        int wt = weight_perm(c, wgs[g], wr, wd, is3d ? perm3 : perm2);
        int64_t yd[5];
        yd[0] = xN;
        for (int i = 0; i < nsp; i++) yd[1 + i] = full[i];
        yd[r - 1] = cout_g;
        ys[g] = direct ? yn : lp_emit_tensor(c, y->dtype, r, yd, "full");
        if (wt < 0 || ys[g] < 0) return c->err->code;
        int in[4] = {shape_t, wt, xs[g], direct ? bias : -1};
        int id = lp_emit_op(c, is3d ? LP_TFL_CONV_3D_TRANSPOSE : LP_TFL_TRANSPOSE_CONV, in, in[3] >= 0 ? 4 : 3, &ys[g], 1);
        if (id < 0) return c->err->code;
        lp_tfl_params *p = lp_emit_params(c, id);
        p->padding = 1;
        if (is3d) {
            p->stride_d = (int)s.s[0], p->stride_h = (int)s.s[1], p->stride_w = (int)s.s[2];
            p->dil_d = p->dil_h = p->dil_w = 1;
        } else {
            p->stride_h = (int)s.s[0], p->stride_w = (int)s.s[1];
        }
    }
    if (direct) return LP_OK;
    int cur = G > 1 ? concat(c, ys, (int)G, r - 1, -1) : ys[0];
    if (cur < 0) return c->err->code;
    int grow = 0;
    for (int i = 0; i < nsp; i++) grow |= before[i] || after[i];
    if (grow) {
        lp_window zp;
        memset(&zp, 0, sizeof zp);
        zp.nsp = nsp;
        for (int i = 0; i < nsp; i++) zp.pb[i] = before[i], zp.pe[i] = after[i];
        cur = lp_window_pad(c, cur, &zp, NULL, 0.0);
        if (cur < 0) return c->err->code;
    }
    int32_t b[5] = {0}, sz[5];
    int64_t cd[5];
    sz[0] = -1, cd[0] = xN;
    for (int i = 0; i < nsp; i++) b[1 + i] = (int32_t)start[i], sz[1 + i] = (int32_t)out[i], cd[1 + i] = out[i];
    sz[r - 1] = -1, cd[r - 1] = cout;
    int bi = lp_emit_i32(c, b, r, "begin"), si = lp_emit_i32(c, sz, r, "size");
    int cropped = bias >= 0 ? lp_emit_tensor(c, y->dtype, r, cd, "cropped") : yn;
    int sin[3] = {cur, bi, si};
    if (bi < 0 || si < 0 || cropped < 0 || lp_emit_op(c, LP_TFL_SLICE, sin, 3, &cropped, 1) < 0) return c->err->code;
    if (bias >= 0 && lp_nn_binary(c, LP_TFL_ADD, cropped, bias, yn) < 0) return c->err->code;
    return LP_OK;
}

const lp_op_impl lp_impl_ConvTranspose = {convt_infer, NULL, convt_lower};

/* ---------------- BatchNormalization ---------------- */

static lp_status bn_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    LP_TRY(lp_need_rank(c, x, "input"));
    if (x->rank < 2) return lp_fail(c, LP_ERR_INVALID, "input rank %d", x->rank);
    if (lp_attr_i(c, n, "training_mode", 0) != 0)
        return lp_fail(c, LP_ERR_UNSUPPORTED, "attribute 'training_mode'=1 (inference only)");
    /* scale, B, mean, var: one value per channel (opset 6/7 spatial=0: per activation, not checked) */
    static const char *const names[5] = {"", "scale", "B", "input_mean", "input_var"};
    for (int k = 1; k <= 4 && k < n->n_in; k++) {
        lp_tensor *p = lp_in(c, n, k);
        if (p && p->rank == 1 && p->dims[0] >= 0 && x->dims[1] >= 0 && p->dims[0] != x->dims[1])
            return lp_fail(c, LP_ERR_INVALID, "input %d '%s' ('%s') has %lld values; the input has %lld channels", k,
                           names[k], p->name, (long long)p->dims[0], (long long)x->dims[1]);
    }
    lp_set_out(c, n, 0, x->dtype, x->rank, x->dims);
    return c->err->code;
}

/* per-channel scale s and shift t so that y = x * s + t, from constant parameters */
static lp_status bn_affine(lp_ctx *c, const lp_node *n, float **s, float **t, int64_t C) {
    float eps = lp_attr_f(c, n, "epsilon", 1e-5f);
    *s = lp_arena_alloc(&c->g->arena, sizeof(float) * (size_t)C);
    *t = lp_arena_alloc(&c->g->arena, sizeof(float) * (size_t)C);
    if (!*s || !*t) return lp_fail(c, LP_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < C; i++) {
        double sc = lp_get_f64(T(n->in[1])->dtype, T(n->in[1])->data, i);
        double b = lp_get_f64(T(n->in[2])->dtype, T(n->in[2])->data, i);
        double m = lp_get_f64(T(n->in[3])->dtype, T(n->in[3])->data, i);
        double v = lp_get_f64(T(n->in[4])->dtype, T(n->in[4])->data, i);
        double k = sc / sqrt(v + eps);
        (*s)[i] = (float)k;
        (*t)[i] = (float)(b - m * k);
    }
    return LP_OK;
}

/* a parameter of BatchNormalization shaped to broadcast over x: [C] -> [C, 1, ..., 1]; opset 6/7
 * with spatial = 0 gives one value per activation ([C, D1, ...], used as is) */
static int bn_param(lp_ctx *c, int p, int xrank) {
    lp_tensor *P = T(p);
    return P->rank == xrank - 1 ? p : lp_nn_channel_vec(c, p, xrank - 1);
}

static lp_status bn_lower(lp_ctx *c, const lp_node *n) {
    for (int k = 1; k < n->n_out; k++)
        if (n->out[k] >= 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "running mean/var outputs (training)");
    if (n->opset < 7 && lp_attr_i(c, n, "is_test", 0) == 0)
        return lp_fail(c, LP_ERR_UNSUPPORTED, "attribute 'is_test'=0 (training)");
    lp_tensor *x = T(n->in[0]);
    if (!lp_dtype_is_float(x->dtype)) return lp_fail(c, LP_ERR_INVALID, "input type %s", lp_dtype_name(x->dtype));
    int64_t C = x->dims[1];
    int all_const = C >= 0;
    for (int k = 1; k <= 4; k++)
        all_const &= lp_in_const(c, n, k) && lp_tensor_numel(T(n->in[k])) == C;
    int r = x->rank - 1;
    if (all_const) {
        float *s = NULL, *t = NULL;
        LP_TRY(bn_affine(c, n, &s, &t, C));
        /* constants shaped [C, 1, ..., 1] broadcast over NC... */
        int64_t cd[LP_MAX_RANK];
        cd[0] = C;
        for (int i = 1; i < r; i++) cd[i] = 1;
        int si = lp_emit_const(c, LP_DT_F32, r, cd, s, "scale");
        int ti = lp_emit_const(c, LP_DT_F32, r, cd, t, "shift");
        if (si < 0 || ti < 0) return c->err->code;
        si = lp_nn_cast(c, si, x->dtype), ti = lp_nn_cast(c, ti, x->dtype);
        int mid = lp_nn_binary(c, LP_TFL_MUL, n->in[0], si, -1);
        return lp_nn_binary(c, LP_TFL_ADD, mid, ti, n->out[0]) < 0 ? c->err->code : LP_OK;
    }
    /* parameters computed at run time: y = (x - mean) * scale / sqrt(var + eps) + bias */
    float eps = lp_attr_f(c, n, "epsilon", 1e-5f);
    int sc = bn_param(c, n->in[1], x->rank), b = bn_param(c, n->in[2], x->rank);
    int m = bn_param(c, n->in[3], x->rank), v = bn_param(c, n->in[4], x->rank);
    int k = lp_nn_binary(c, LP_TFL_DIV, sc, lp_nn_unary(c, LP_TFL_SQRT, lp_nn_binary_k(c, LP_TFL_ADD, v, eps, -1), -1), -1);
    int y = lp_nn_binary(c, LP_TFL_MUL, lp_nn_binary(c, LP_TFL_SUB, n->in[0], m, -1), k, -1);
    return lp_nn_binary(c, LP_TFL_ADD, y, b, n->out[0]) < 0 ? c->err->code : LP_OK;
}

const lp_op_impl lp_impl_BatchNormalization = {bn_infer, NULL, bn_lower};

/* ---------------- DeformConv (2-D) ----------------
 * Each kernel tap samples X bilinearly at its regular position plus a learned offset (zero
 * outside the image, ONNX's GridSample with align_corners = 1), times the optional mask; the
 * samples then meet the weights in a matmul. Written out of TFLite ops:
 *   positions h, w = base + offset                      [N, G, kh*kw, P]   (G offset groups, P = oh*ow)
 *   per corner: weight = bilinear factor * in-bounds (* mask), index = y * W + x
 *   GATHER(X as [N, G, H*W, C/G], index, batch_dims 2)  [N, G, kh*kw*P, C/G], weighted, summed
 *   columns [N, group, P, C/group * kh*kw] @ weights [group, C/group * kh*kw, M/group]. */

static int shape_to(lp_ctx *c, int x, int r, const int64_t *d) { return x < 0 ? -1 : lp_emit_reshape(c, x, r, d, -1); }

static lp_status deform_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    int64_t dims[LP_MAX_RANK];
    LP_TRY(lp_conv_out_dims(c, n, x, T(n->in[1]), dims));
    lp_set_out(c, n, 0, x->dtype, x->rank, dims);
    return LP_OK;
}

static lp_status deform_lower(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]), *w = T(n->in[1]), *y = T(n->out[0]);
    lp_window s;
    LP_TRY(lp_window_get(c, n, x, w, &s));
    if (s.nsp != 2) return lp_fail(c, LP_ERR_UNSUPPORTED, "DeformConv with %d spatial dimensions (2-D only)", s.nsp);
    if (!lp_dtype_is_float(x->dtype)) return lp_fail(c, LP_ERR_INVALID, "input type %s", lp_dtype_name(x->dtype));
    LP_TRY(lp_need_shape(c, w, "weight"));
    for (int i = 1; i < 4; i++)
        if (x->dims[i] < 0 || y->dims[i] < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "DeformConv needs static C, H and W");
    int64_t G = lp_attr_i(c, n, "offset_group", 1);
    if (c->err->code) return c->err->code;
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
    int64_t oh = y->dims[2], ow = y->dims[3], P = oh * ow, kh = s.k[0], kw = s.k[1], Kk = kh * kw;
    int64_t grp = s.group, M = w->dims[0], Cpg = C / grp, Mg = M / grp;
    if (G <= 0 || C % G != 0) return lp_fail(c, LP_ERR_INVALID, "attribute 'offset_group'=%lld", (long long)G);
    int64_t Cg = C / G;
    /* regular sampling positions of every tap at every output position */
    float *bh = lp_arena_alloc(&c->g->arena, sizeof(float) * (size_t)(Kk * P));
    float *bw = lp_arena_alloc(&c->g->arena, sizeof(float) * (size_t)(Kk * P));
    if (!bh || !bw) return lp_fail(c, LP_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < kh; i++)
        for (int64_t j = 0; j < kw; j++)
            for (int64_t a = 0; a < oh; a++)
                for (int64_t b = 0; b < ow; b++) {
                    int64_t k = ((i * kw + j) * oh + a) * ow + b;
                    bh[k] = (float)(a * s.s[0] - s.pb[0] + i * s.d[0]);
                    bw[k] = (float)(b * s.s[1] - s.pb[1] + j * s.d[1]);
                }
    int64_t bd[4] = {1, 1, Kk, P};
    int base_h = lp_emit_const(c, LP_DT_F32, 4, bd, bh, "base_h"), base_w = lp_emit_const(c, LP_DT_F32, 4, bd, bw, "base_w");
    /* offsets [N, G*kh*kw*2, oh, ow] = [N, G, kh*kw, 2, P]: channel pairs (dy, dx) */
    int64_t od[5] = {N, G, Kk, 2, P}, pd[4] = {N, G, Kk, P};
    int off = shape_to(c, lp_nn_cast(c, n->in[2], LP_DT_F32), 5, od);
    int parts[2];
    if (off < 0) return c->err->code;
    LP_TRY(split_n(c, off, 3, 2, parts));
    int h = lp_nn_binary(c, LP_TFL_ADD, shape_to(c, parts[0], 4, pd), base_h, -1);
    int wq = lp_nn_binary(c, LP_TFL_ADD, shape_to(c, parts[1], 4, pd), base_w, -1);
    int h0 = lp_nn_unary(c, LP_TFL_FLOOR, h, -1), w0 = lp_nn_unary(c, LP_TFL_FLOOR, wq, -1);
    int lh = lp_nn_binary(c, LP_TFL_SUB, h, h0, -1), lw = lp_nn_binary(c, LP_TFL_SUB, wq, w0, -1);
    int one = lp_emit_f32_scalar(c, 1.0f, "one");
    int hh = lp_nn_binary(c, LP_TFL_SUB, one, lh, -1), hw = lp_nn_binary(c, LP_TFL_SUB, one, lw, -1);
    int msk = lp_has_in(n, 4) ? shape_to(c, lp_nn_cast(c, n->in[4], LP_DT_F32), 4, pd) : -2;
    /* X as [N, G, H*W, C/G]: the gathered axis third, channels last */
    int64_t xd[4] = {N, G, Cg, H * W};
    int perm4[4] = {0, 1, 3, 2};
    int xr = shape_to(c, lp_nn_cast(c, n->in[0], LP_DT_F32), 4, xd);
    int xt = xr < 0 ? -1 : lp_emit_transpose(c, xr, perm4, -1);
    if (hh < 0 || hw < 0 || msk == -1 || xt < 0) return c->err->code;
    int64_t id3[3] = {N, G, Kk * P}, wd4[4] = {N, G, Kk * P, 1};
    int acc = -1;
    for (int dy = 0; dy < 2; dy++)
        for (int dx = 0; dx < 2; dx++) {
            int yy = dy ? lp_nn_binary_k(c, LP_TFL_ADD, h0, 1.0, -1) : h0;
            int xx = dx ? lp_nn_binary_k(c, LP_TFL_ADD, w0, 1.0, -1) : w0;
            int vy = lp_nn_binary(c, LP_TFL_LOGICAL_AND, lp_nn_binary_k(c, LP_TFL_GREATER_EQUAL, yy, 0.0, -1),
                                  lp_nn_binary_k(c, LP_TFL_LESS_EQUAL, yy, (double)(H - 1), -1), -1);
            int vx = lp_nn_binary(c, LP_TFL_LOGICAL_AND, lp_nn_binary_k(c, LP_TFL_GREATER_EQUAL, xx, 0.0, -1),
                                  lp_nn_binary_k(c, LP_TFL_LESS_EQUAL, xx, (double)(W - 1), -1), -1);
            int valid = lp_nn_binary(c, LP_TFL_LOGICAL_AND, vy, vx, -1);
            valid = valid < 0 ? -1 : lp_emit_cast(c, valid, LP_DT_F32, -1);
            int wt = lp_nn_binary(c, LP_TFL_MUL, lp_nn_binary(c, LP_TFL_MUL, dy ? lh : hh, dx ? lw : hw, -1), valid, -1);
            if (msk >= 0) wt = lp_nn_binary(c, LP_TFL_MUL, wt, msk, -1);
            int yc = lp_nn_binary_k(c, LP_TFL_MINIMUM, lp_nn_binary_k(c, LP_TFL_MAXIMUM, yy, 0.0, -1), (double)(H - 1), -1);
            int xc = lp_nn_binary_k(c, LP_TFL_MINIMUM, lp_nn_binary_k(c, LP_TFL_MAXIMUM, xx, 0.0, -1), (double)(W - 1), -1);
            int fi = lp_nn_binary(c, LP_TFL_ADD, lp_nn_binary_k(c, LP_TFL_MUL, yc, (double)W, -1), xc, -1);
            int idx = fi < 0 ? -1 : shape_to(c, lp_emit_cast(c, fi, LP_DT_I32, -1), 3, id3);
            int64_t gd[4] = {N, G, Kk * P, Cg};
            int gath = lp_emit_tensor(c, LP_DT_F32, 4, gd, "samples");
            int gin[2] = {xt, idx};
            int gid = idx < 0 || gath < 0 ? -1 : lp_emit_op(c, LP_TFL_GATHER, gin, 2, &gath, 1);
            if (gid < 0 || wt < 0) return c->err->code;
            lp_emit_params(c, gid)->axis = 2;
            lp_emit_params(c, gid)->batch_dims = 2;
            int term = lp_nn_binary(c, LP_TFL_MUL, gath, shape_to(c, wt, 4, wd4), -1);
            acc = acc < 0 ? term : lp_nn_binary(c, LP_TFL_ADD, acc, term, -1);
            if (acc < 0) return c->err->code;
        }
    /* columns: [N, G, Kk, P, Cg] -> [N, P, G, Cg, Kk] (channel-major like the weights) -> [N, group, P, Cpg*Kk] */
    int64_t cd5[5] = {N, G, Kk, P, Cg}, cd4[4] = {N, P, grp, Cpg * Kk};
    int perm5[5] = {0, 3, 1, 4, 2}, perm_g[4] = {0, 2, 1, 3};
    int cols = shape_to(c, acc, 5, cd5);
    cols = cols < 0 ? -1 : lp_emit_transpose(c, cols, perm5, -1);
    cols = shape_to(c, cols, 4, cd4);
    cols = cols < 0 ? -1 : lp_emit_transpose(c, cols, perm_g, -1);
    /* weights [M, Cpg, kh, kw] = [group, Mg, Cpg*Kk] -> [group, Cpg*Kk, Mg] */
    int64_t wv[3] = {grp, Mg, Cpg * Kk};
    int perm3[3] = {0, 2, 1};
    int wm = weight_perm(c, lp_nn_cast(c, n->in[1], LP_DT_F32), 3, wv, perm3);
    int64_t md[4] = {N, grp, P, Mg};
    int mm = lp_emit_tensor(c, LP_DT_F32, 4, md, "deform_mm");
    int min[2] = {cols, wm};
    if (cols < 0 || wm < 0 || mm < 0 || lp_emit_op(c, LP_TFL_BATCH_MATMUL, min, 2, &mm, 1) < 0) return c->err->code;
    int yt = lp_emit_transpose(c, mm, perm4, -1); /* [N, group, Mg, P] */
    int64_t yd[4] = {N, M, oh, ow};
    int has_b = lp_has_in(n, 3), f32 = y->dtype == LP_DT_F32;
    int r = yt < 0 ? -1 : lp_emit_reshape(c, yt, 4, yd, has_b || !f32 ? -1 : n->out[0]);
    if (has_b) r = lp_nn_binary(c, LP_TFL_ADD, r, lp_nn_channel_vec(c, lp_nn_cast(c, n->in[3], LP_DT_F32), 3),
                                f32 ? n->out[0] : -1);
    if (r >= 0 && !f32) r = lp_emit_cast(c, r, y->dtype, n->out[0]);
    return r < 0 ? c->err->code : LP_OK;
}

const lp_op_impl lp_impl_DeformConv = {deform_infer, NULL, deform_lower};
