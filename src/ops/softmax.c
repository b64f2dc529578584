/* Softmax and LogSoftmax. TFLite normalises over the last axis only: other axes are moved there
 * (opset >= 13) or the input is flattened at the axis (opset < 13 semantics). */
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

const lp_op_impl lp_impl_Softmax = {softmax_infer, NULL, softmax_lower};
const lp_op_impl lp_impl_LogSoftmax = {softmax_infer, NULL, softmax_lower};
