/* Convolution family: Conv, ConvTranspose, BatchNormalization (when not folded into a conv). */
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
    }
    s->group = lp_attr_i(c, n, "group", 1);
    if (s->group <= 0) return lp_fail(c, LP_ERR_INVALID, "attribute 'group' is %lld", (long long)s->group);
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
        int64_t in = xn->dims[1 + i]; /* NHWC */
        if (in < 0) return 0;
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

static lp_status conv_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]), *w = T(n->in[1]);
    lp_window s;
    LP_TRY(lp_window_get(c, n, x, w, &s));
    LP_TRY(lp_need_rank(c, w, "weight"));
    if (w->rank != x->rank) return lp_fail(c, LP_ERR_INVALID, "weight rank %d differs from input rank %d", w->rank, x->rank);
    if (x->dims[1] >= 0 && w->dims[1] >= 0 && x->dims[1] != w->dims[1] * s.group)
        return lp_fail(c, LP_ERR_INVALID, "input has %lld channels; weight expects %lld x group %lld", (long long)x->dims[1],
                       (long long)w->dims[1], (long long)s.group);
    lp_window_resolve_same(x, &s);
    int64_t dims[LP_MAX_RANK];
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
    lp_set_out(c, n, 0, x->dtype, x->rank, dims);
    return LP_OK;
}

/* Emit PAD (NHWC) of x with the spatial pads of s, returning the padded tensor. */
int lp_window_pad(lp_ctx *c, int x_nhwc, const lp_window *s, int64_t extra_end_h, int64_t extra_end_w,
                            double value) {
    lp_tensor *x = T(x_nhwc);
    int32_t pads[8] = {0, 0, (int32_t)s->pb[0], (int32_t)(s->pe[0] + extra_end_h), (int32_t)s->pb[1],
                       (int32_t)(s->pe[1] + extra_end_w), 0, 0};
    int64_t dims[4] = {x->dims[0], x->dims[1] < 0 ? x->dims[1] : x->dims[1] + pads[2] + pads[3],
                       x->dims[2] < 0 ? x->dims[2] : x->dims[2] + pads[4] + pads[5], x->dims[3]};
    int64_t pd[2] = {4, 2};
    int pi = lp_emit_const(c, LP_DT_I32, 2, pd, pads, "paddings");
    int out = lp_emit_tensor(c, x->dtype, 4, dims, "padded");
    if (pi < 0 || out < 0) return -1;
    if (value == 0) {
        int in[2] = {x_nhwc, pi};
        if (lp_emit_op(c, LP_TFL_PAD, in, 2, &out, 1) < 0) return -1;
    } else {
        int v = lp_emit_scalar(c, x->dtype, value, "pad_value");
        int in[3] = {x_nhwc, pi, v};
        if (v < 0 || lp_emit_op(c, LP_TFL_PADV2, in, 3, &out, 1) < 0) return -1;
    }
    return out;
}

int lp_window_input(lp_ctx *c, int xn, lp_window *s, int *padding, int64_t extra_h, int64_t extra_w,
                    double pad_value) {
    lp_tensor *X = T(xn);
    int dyn_spatial = X->dims[1] < 0 || X->dims[2] < 0;
    if (pads_zero(s) && !extra_h && !extra_w) {
        *padding = 1; /* VALID */
        return xn;
    }
    if (!extra_h && !extra_w && ((dyn_spatial && s->same_upper) || (!dyn_spatial && pads_are_tfl_same(X, s)))) {
        *padding = 0; /* SAME */
        return xn;
    }
    if (dyn_spatial && (s->same_upper || s->same_lower)) {
        lp_fail(c, LP_ERR_UNSUPPORTED, "auto_pad SAME_LOWER with dynamic spatial dimensions");
        return -1;
    }
    *padding = 1;
    return lp_window_pad(c, xn, s, extra_h, extra_w, pad_value);
}

int lp_window_to_nhwc(lp_ctx *c, int x) {
    lp_tensor *X = T(x);
    if (X->rank == 4) return lp_emit_to_last(c, x);
    /* [N,C,L] -> [N,L,C] (a layout transpose the layout pass can absorb) -> [N,1,L,C] */
    int xt = lp_emit_to_last(c, x);
    if (xt < 0) return -1;
    lp_tensor *XT = T(xt);
    int64_t d[4] = {XT->dims[0], 1, XT->dims[1], XT->dims[2]};
    return lp_emit_reshape(c, xt, 4, d, -1);
}

int lp_window_from_nhwc(lp_ctx *c, int y) {
    lp_tensor *Y = T(y);
    if (Y->rank == 4) return lp_emit_from_last(c, y);
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

/* weights of a 1-D op seen as 2-D: insert a unit height */
static void as_2d(lp_window *s) {
    s->nsp = 2;
    s->k[1] = s->k[0], s->k[0] = 1;
    s->s[1] = s->s[0], s->s[0] = 1;
    s->d[1] = s->d[0], s->d[0] = 1;
    s->pb[1] = s->pb[0], s->pb[0] = 0;
    s->pe[1] = s->pe[0], s->pe[0] = 0;
    s->op[1] = s->op[0], s->op[0] = 0;
}

static lp_status conv_lower(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]), *w = T(n->in[1]);
    lp_window s;
    LP_TRY(lp_window_get(c, n, x, w, &s));
    lp_window_resolve_same(x, &s);
    if (s.nsp == 3) return lp_fail(c, LP_ERR_UNSUPPORTED, "3-D convolution is not supported yet");
    if (!lp_tensor_is_const(c->g, n->in[1]))
        return lp_fail(c, LP_ERR_UNSUPPORTED, "the weight ('%s') must be a constant", w->name);
    if (w->dtype != LP_DT_F32) return lp_fail(c, LP_ERR_UNSUPPORTED, "weight type %s", lp_dtype_name(w->dtype));
    if (x->dims[1] < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "the channel dimension must be static");
    lp_tensor w4 = *w;
    if (s.nsp == 1) {
        /* 1-D: the same kernel with a unit height */
        as_2d(&s);
        w4.rank = 4;
        w4.dims[3] = w->dims[2];
        w4.dims[2] = 1;
    }
    int64_t cin = x->dims[1], cout = w->dims[0];
    int depthwise = s.group > 1 && s.group == cin && cout % cin == 0 && w4.dims[1] == 1;
    int padding;
    int xn = lp_window_to_nhwc(c, n->in[0]);
    if (xn >= 0) xn = lp_window_input(c, xn, &s, &padding, 0, 0, 0.0);
    if (xn < 0) return c->err->code;
    /* weights: OIHW -> OHWI (regular, grouped) or [1, kh, kw, O] (depthwise) */
    int perm_reg[4] = {0, 2, 3, 1}, perm_dw[4] = {1, 2, 3, 0};
    int64_t wd[4];
    void *wdata = lp_permute_data(c, &w4, depthwise ? perm_dw : perm_reg, wd);
    if (!wdata) return c->err->code;
    int wi = lp_emit_const(c, LP_DT_F32, 4, wd, wdata, "weight");
    int bi;
    if (lp_has_in(n, 2)) {
        bi = n->in[2];
    } else {
        float *zero = lp_arena_alloc(&c->g->arena, sizeof(float) * (size_t)cout);
        if (!zero) return lp_fail(c, LP_ERR_NOMEM, "out of memory");
        bi = lp_emit_const(c, LP_DT_F32, 1, &cout, zero, "bias"); /* CONV_2D needs a bias */
    }
    if (wi < 0 || bi < 0) return c->err->code;
    int yn = lp_window_from_nhwc(c, n->out[0]);
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

const lp_op_impl lp_impl_Conv = {conv_infer, NULL, conv_lower};

/* ---------------- ConvTranspose ---------------- */

static lp_status convt_pads(lp_ctx *c, const lp_node *n, const lp_tensor *x, lp_window *s, int64_t *out) {
    LP_TRY(ints_attr(c, n, "output_padding", s->op, s->nsp, 0));
    int64_t os[3];
    int k = lp_attr_ints(c, n, "output_shape", os, 3);
    if (c->err->code) return c->err->code;
    if (k >= 0 && k != s->nsp) {
        /* output_shape may include N and C */
        int64_t full[5];
        int k2 = lp_attr_ints(c, n, "output_shape", full, 5);
        if (k2 == s->nsp + 2) {
            for (int i = 0; i < s->nsp; i++) os[i] = full[2 + i];
            k = s->nsp;
        } else
            return lp_fail(c, LP_ERR_INVALID, "attribute 'output_shape' has %d values", k2);
    }
    for (int i = 0; i < s->nsp; i++) {
        int64_t in = x->dims[2 + i];
        int64_t eff = (s->k[i] - 1) * s->d[i] + 1;
        if (in < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "dynamic spatial dimensions");
        if (k >= 0 || s->same_upper || s->same_lower) {
            int64_t target = k >= 0 ? os[i] : in * s->s[i];
            int64_t total = s->s[i] * (in - 1) + s->op[i] + eff - target;
            if (total < 0) total = 0;
            /* the ONNX rule: SAME_UPPER puts the odd pixel at the end */
            if (s->same_lower) {
                s->pb[i] = total - total / 2;
                s->pe[i] = total / 2;
            } else {
                s->pb[i] = total / 2;
                s->pe[i] = total - total / 2;
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
    int64_t out[3];
    LP_TRY(convt_pads(c, n, x, &s, out));
    int64_t dims[LP_MAX_RANK];
    dims[0] = x->dims[0];
    dims[1] = w->dims[1] * s.group;
    for (int i = 0; i < s.nsp; i++) dims[2 + i] = out[i];
    lp_set_out(c, n, 0, x->dtype, x->rank, dims);
    return LP_OK;
}

static lp_status convt_lower(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]), *w = T(n->in[1]), *y = T(n->out[0]);
    lp_window s;
    LP_TRY(lp_window_get(c, n, x, w, &s));
    int64_t out[3];
    LP_TRY(convt_pads(c, n, x, &s, out));
    if (s.nsp == 3) return lp_fail(c, LP_ERR_UNSUPPORTED, "3-D transposed convolution is not supported yet");
    if (s.group != 1) return lp_fail(c, LP_ERR_UNSUPPORTED, "attribute 'group'=%lld is not supported yet", (long long)s.group);
    for (int i = 0; i < s.nsp; i++)
        if (s.d[i] != 1) return lp_fail(c, LP_ERR_UNSUPPORTED, "attribute 'dilations' other than 1");
    if (!lp_tensor_is_const(c->g, n->in[1]) || w->dtype != LP_DT_F32)
        return lp_fail(c, LP_ERR_UNSUPPORTED, "the weight must be a float32 constant");
    lp_tensor w4 = *w;
    if (s.nsp == 1) {
        as_2d(&s);
        out[1] = out[0];
        out[0] = 1;
        w4.rank = 4;
        w4.dims[3] = w->dims[2];
        w4.dims[2] = 1;
    }
    int64_t cout = w->dims[1];
    int xn = lp_window_to_nhwc(c, n->in[0]);
    int yn = xn < 0 ? -1 : lp_window_from_nhwc(c, n->out[0]); /* the last op below writes yn */
    if (xn < 0 || yn < 0) return c->err->code;
    int64_t xN = T(xn)->dims[0], xH = T(xn)->dims[1], xW = T(xn)->dims[2];
    int perm[4] = {1, 2, 3, 0}; /* [Cin, Cout, kh, kw] -> [Cout, kh, kw, Cin] */
    int64_t wd[4];
    void *wdata = lp_permute_data(c, &w4, perm, wd);
    if (!wdata) return c->err->code;
    int wi = lp_emit_const(c, LP_DT_F32, 4, wd, wdata, "weight");
    /* full-size result (VALID), then crop the ONNX pads / extend by output_padding */
    int64_t full[2], need[2];
    full[0] = (xH - 1) * s.s[0] + s.k[0];
    full[1] = (xW - 1) * s.s[1] + s.k[1];
    int direct = 1;
    for (int i = 0; i < 2; i++) {
        need[i] = s.pb[i] + out[i];
        if (s.pb[i] != 0 || need[i] != full[i]) direct = 0;
    }
    int64_t nd[4] = {xN, full[0], full[1], cout};
    int yfull = direct ? yn : lp_emit_tensor(c, y->dtype, 4, nd, "full");
    if (wi < 0 || yfull < 0) return c->err->code;
    int shape_t;
    if (xN >= 0) {
        int32_t os[4] = {(int32_t)xN, (int32_t)full[0], (int32_t)full[1], (int32_t)cout};
        shape_t = lp_emit_i32(c, os, 4, "output_shape");
    } else {
        /* dynamic batch: output_shape = concat(shape(x)[0:1], [H, W, C]) */
        int64_t one = 1, four = 4, r4 = 4;
        int sh = lp_emit_tensor(c, LP_DT_I32, 1, &r4, "in_shape");
        int b0 = lp_emit_tensor(c, LP_DT_I32, 1, &one, "batch");
        shape_t = lp_emit_tensor(c, LP_DT_I32, 1, &four, "output_shape");
        int32_t zero = 0, len = 1, rest[3] = {(int32_t)full[0], (int32_t)full[1], (int32_t)cout};
        int bz = lp_emit_i32(c, &zero, 1, "begin"), bl = lp_emit_i32(c, &len, 1, "size");
        int ri = lp_emit_i32(c, rest, 3, "hwc");
        if (sh < 0 || b0 < 0 || shape_t < 0 || bz < 0 || bl < 0 || ri < 0) return c->err->code;
        int id = lp_emit_op(c, LP_TFL_SHAPE, &xn, 1, &sh, 1);
        if (id < 0) return c->err->code;
        lp_emit_params(c, id)->out_type = LP_DT_I32;
        int sin[3] = {sh, bz, bl};
        if (lp_emit_op(c, LP_TFL_SLICE, sin, 3, &b0, 1) < 0) return c->err->code;
        int cin2[2] = {b0, ri};
        if (lp_emit_op(c, LP_TFL_CONCATENATION, cin2, 2, &shape_t, 1) < 0) return c->err->code;
    }
    if (shape_t < 0) return c->err->code;
    int bias = lp_has_in(n, 2) ? n->in[2] : -1;
    int in[4] = {shape_t, wi, xn, direct ? bias : -1};
    int id = lp_emit_op(c, LP_TFL_TRANSPOSE_CONV, in, bias >= 0 && direct ? 4 : 3, &yfull, 1);
    if (id < 0) return c->err->code;
    lp_tfl_params *p = lp_emit_params(c, id);
    p->padding = 1;
    p->stride_h = (int)s.s[0];
    p->stride_w = (int)s.s[1];
    if (direct) return LP_OK;
    int cur = yfull;
    int64_t grow_h = need[0] > full[0] ? need[0] - full[0] : 0, grow_w = need[1] > full[1] ? need[1] - full[1] : 0;
    if (grow_h || grow_w) {
        lp_window zp = {0};
        zp.nsp = 2;
        cur = lp_window_pad(c, cur, &zp, grow_h, grow_w, 0.0);
        if (cur < 0) return c->err->code;
    }
    int32_t b[4] = {0, (int32_t)s.pb[0], (int32_t)s.pb[1], 0};
    int32_t sz[4] = {-1, (int32_t)out[0], (int32_t)out[1], -1};
    int64_t cd[4] = {xN, out[0], out[1], cout};
    int bi = lp_emit_i32(c, b, 4, "begin"), si = lp_emit_i32(c, sz, 4, "size");
    int cropped = bias >= 0 ? lp_emit_tensor(c, y->dtype, 4, cd, "cropped") : yn;
    int sin[3] = {cur, bi, si};
    if (bi < 0 || si < 0 || cropped < 0 || lp_emit_op(c, LP_TFL_SLICE, sin, 3, &cropped, 1) < 0) return c->err->code;
    if (bias >= 0) {
        int ain[2] = {cropped, bias};
        if (lp_emit_op(c, LP_TFL_ADD, ain, 2, &yn, 1) < 0) return c->err->code;
    }
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
    lp_set_out(c, n, 0, x->dtype, x->rank, x->dims);
    return c->err->code;
}

/* per-channel scale s and shift t so that y = x * s + t */
static lp_status bn_affine(lp_ctx *c, const lp_node *n, float **s, float **t, int64_t *C) {
    lp_tensor *x = T(n->in[0]);
    *C = x->dims[1];
    if (*C < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "the channel dimension must be static");
    for (int k = 1; k <= 4; k++)
        if (!lp_in_const(c, n, k) || lp_tensor_numel(T(n->in[k])) != *C)
            return lp_fail(c, LP_ERR_UNSUPPORTED, "scale, bias, mean and var must be constants of size C");
    float eps = lp_attr_f(c, n, "epsilon", 1e-5f);
    *s = lp_arena_alloc(&c->g->arena, sizeof(float) * (size_t)*C);
    *t = lp_arena_alloc(&c->g->arena, sizeof(float) * (size_t)*C);
    if (!*s || !*t) return lp_fail(c, LP_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < *C; i++) {
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

static lp_status bn_lower(lp_ctx *c, const lp_node *n) {
    if (n->n_out > 1 && (n->out[1] >= 0 || (n->n_out > 2 && n->out[2] >= 0)))
        return lp_fail(c, LP_ERR_UNSUPPORTED, "running mean/var outputs (training)");
    lp_tensor *x = T(n->in[0]);
    if (x->dtype != LP_DT_F32) return lp_fail(c, LP_ERR_UNSUPPORTED, "input type %s", lp_dtype_name(x->dtype));
    float *s = NULL, *t = NULL;
    int64_t C = 0;
    LP_TRY(bn_affine(c, n, &s, &t, &C));
    /* constants shaped [C, 1, ..., 1] broadcast over NC... */
    int64_t cd[LP_MAX_RANK];
    int r = x->rank - 1;
    cd[0] = C;
    for (int i = 1; i < r; i++) cd[i] = 1;
    int si = lp_emit_const(c, LP_DT_F32, r, cd, s, "scale");
    int ti = lp_emit_const(c, LP_DT_F32, r, cd, t, "shift");
    int mid = lp_emit_tensor(c, x->dtype, x->rank, x->dims, "scaled");
    if (si < 0 || ti < 0 || mid < 0) return c->err->code;
    int in1[2] = {n->in[0], si}, in2[2] = {mid, ti};
    if (lp_emit_op(c, LP_TFL_MUL, in1, 2, &mid, 1) < 0 || lp_emit_op(c, LP_TFL_ADD, in2, 2, &n->out[0], 1) < 0)
        return c->err->code;
    return LP_OK;
}

const lp_op_impl lp_impl_BatchNormalization = {bn_infer, NULL, bn_lower};
