/* Softmax, LogSoftmax and Hardmax. TFLite normalises over the last axis only: other axes are moved
 * there (opset >= 13) or the input is flattened at the axis (opset < 13 semantics: the op works on
 * the 2-D view [prod(dims[:axis]), prod(dims[axis:])]). Hardmax is ONE_HOT(ARG_MAX) over the same
 * axis: the first maximum wins, as in ONNX. */
#include <string.h>

#include "ops.h"

#define T(id) lp_T(c, (id))

static lp_status softmax_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    LP_TRY(lp_need_rank(c, x, "input"));
    if (!lp_dtype_is_float(x->dtype)) return lp_fail(c, LP_ERR_INVALID, "input type %s", lp_dtype_name(x->dtype));
    int axis;
    LP_TRY(lp_axis(c, lp_attr_i(c, n, "axis", n->opset >= 13 ? -1 : 1), x->rank ? x->rank : 1, &axis, "axis"));
    lp_set_out(c, n, 0, x->dtype, x->rank, x->dims);
    return LP_OK;
}

static lp_status emit_softmax(lp_ctx *c, const lp_node *n, int x, int y) {
    int id = lp_emit_op(c, n->op == LP_OP_Softmax ? LP_TFL_SOFTMAX : LP_TFL_LOG_SOFTMAX, &x, 1, &y, 1);
    if (id < 0) return c->err->code;
    lp_emit_params(c, id)->beta = 1.0f;
    return LP_OK;
}

static lp_status softmax_lower(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    int r = x->rank;
    int axis;
    LP_TRY(lp_axis(c, lp_attr_i(c, n, "axis", n->opset >= 13 ? -1 : 1), r ? r : 1, &axis, "axis"));
    if (r == 0 || axis == r - 1) return emit_softmax(c, n, n->in[0], n->out[0]);
    if (n->opset >= 13) {
        /* move the axis last and back */
        int perm[LP_MAX_RANK], inv[LP_MAX_RANK], k = 0;
        for (int i = 0; i < r; i++)
            if (i != axis) perm[k++] = i;
        perm[r - 1] = axis;
        for (int i = 0; i < r; i++) inv[perm[i]] = i;
        int xt = lp_emit_transpose(c, n->in[0], perm, -1);
        if (xt < 0) return c->err->code;
        lp_tensor *XT = T(xt);
        int yt = lp_emit_tensor(c, XT->dtype, r, XT->dims, "softmax");
        if (yt < 0) return c->err->code;
        LP_TRY(emit_softmax(c, n, xt, yt));
        return lp_emit_transpose(c, yt, inv, n->out[0]) < 0 ? c->err->code : LP_OK;
    }
    /* opset < 13: softmax over the flattened trailing dims [axis, r) */
    int64_t inner = 1, outer = 1;
    int dyn_inner = 0;
    for (int i = 0; i < r; i++) {
        if (i >= axis) {
            if (x->dims[i] < 0) dyn_inner = 1;
            else inner *= x->dims[i];
        } else if (x->dims[i] >= 0) {
            outer *= x->dims[i];
        } else {
            outer = -1;
        }
    }
    if (dyn_inner) return lp_fail(c, LP_ERR_UNSUPPORTED, "dynamic dimensions after the softmax axis");
    int64_t d2[2] = {outer < 0 ? -1 : outer, inner};
    int x2 = lp_emit_reshape(c, n->in[0], 2, d2, -1);
    if (x2 < 0) return c->err->code;
    int y2 = lp_emit_tensor(c, x->dtype, 2, T(x2)->dims, "softmax");
    if (y2 < 0) return c->err->code;
    LP_TRY(emit_softmax(c, n, x2, y2));
    lp_tensor *Y = T(n->out[0]);
    return lp_emit_reshape(c, y2, Y->rank, Y->dims, n->out[0]) < 0 ? c->err->code : LP_OK;
}

/* ---------------- Hardmax ---------------- */

/* y = one_hot(argmax(x, axis), n, axis) in x's type */
static int emit_hardmax(lp_ctx *c, int x, int axis, int y) {
    lp_tensor *X = T(x);
    int64_t n = X->dims[axis];
    if (n < 0) {
        lp_fail(c, LP_ERR_UNSUPPORTED, "Hardmax needs a static size of the axis");
        return -1;
    }
    int32_t a32 = axis, n32 = (int32_t)n;
    int ai = lp_emit_i32(c, &a32, 1, "axis");
    int64_t dims[LP_MAX_RANK];
    int r = 0;
    for (int i = 0; i < X->rank; i++)
        if (i != axis) dims[r++] = X->dims[i];
    int idx = lp_emit_tensor(c, LP_DT_I32, r, dims, "argmax");
    if (ai < 0 || idx < 0) return -1;
    int in[2] = {x, ai};
    int id = lp_emit_op(c, LP_TFL_ARG_MAX, in, 2, &idx, 1);
    if (id < 0) return -1;
    lp_emit_params(c, id)->out_type = LP_DT_I32;
    int depth = lp_emit_const(c, LP_DT_I32, 0, NULL, &n32, "depth");
    int on = lp_emit_scalar(c, X->dtype, 1, "on"), off = lp_emit_scalar(c, X->dtype, 0, "off");
    if (y < 0) y = lp_emit_tensor(c, X->dtype, X->rank, X->dims, "hardmax");
    if (depth < 0 || on < 0 || off < 0 || y < 0) return -1;
    int in2[4] = {idx, depth, on, off};
    id = lp_emit_op(c, LP_TFL_ONE_HOT, in2, 4, &y, 1);
    if (id < 0) return -1;
    lp_emit_params(c, id)->axis = axis;
    return y;
}

static lp_status hardmax_lower(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    int r = x->rank;
    if (r == 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "Hardmax of a scalar");
    int axis;
    LP_TRY(lp_axis(c, lp_attr_i(c, n, "axis", n->opset >= 13 ? -1 : 1), r, &axis, "axis"));
    if (n->opset >= 13 || axis == r - 1) return emit_hardmax(c, n->in[0], axis, n->out[0]) < 0 ? c->err->code : LP_OK;
    /* opset < 13: hardmax over the flattened trailing dims [axis, r) */
    int64_t inner = 1, outer = 1;
    for (int i = 0; i < r; i++) {
        if (i >= axis) {
            if (x->dims[i] < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "dynamic dimensions after the Hardmax axis");
            inner *= x->dims[i];
        } else {
            outer = x->dims[i] < 0 || outer < 0 ? -1 : outer * x->dims[i];
        }
    }
    int64_t d2[2] = {outer, inner};
    int x2 = lp_emit_reshape(c, n->in[0], 2, d2, -1);
    int y2 = x2 < 0 ? -1 : emit_hardmax(c, x2, 1, -1);
    lp_tensor *Y = T(n->out[0]);
    return y2 < 0 || lp_emit_reshape(c, y2, Y->rank, Y->dims, n->out[0]) < 0 ? c->err->code : LP_OK;
}

const lp_op_impl lp_impl_Softmax = {softmax_infer, NULL, softmax_lower};
const lp_op_impl lp_impl_LogSoftmax = {softmax_infer, NULL, softmax_lower};
const lp_op_impl lp_impl_Hardmax = {softmax_infer, NULL, hardmax_lower};
