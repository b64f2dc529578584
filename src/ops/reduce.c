/* Reductions: ReduceMean, ReduceSum, ReduceMax, ReduceMin. */
#include <string.h>

#include "ops.h"

#define T(id) lp_T(c, (id))

/* axes as a mask; *all is set when every axis is reduced; returns 0 for a no-op reduction */
static lp_status reduce_axes(lp_ctx *c, const lp_node *n, int *mask, int *noop) {
    lp_tensor *x = T(n->in[0]);
    LP_TRY(lp_need_rank(c, x, "input"));
    int64_t axes[LP_MAX_RANK];
    int k;
    /* axes moved from an attribute to an input: ReduceSum at opset 13, the others at 18 */
    if (lp_has_in(n, 1)) {
        k = lp_known_ints(c, n, 1, axes, LP_MAX_RANK);
        if (k < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "input 'axes' must be a constant");
    } else {
        k = lp_attr_ints(c, n, "axes", axes, LP_MAX_RANK);
        if (c->err->code) return c->err->code;
    }
    *mask = 0;
    *noop = 0;
    if (k <= 0) {
        if (lp_attr_i(c, n, "noop_with_empty_axes", 0)) *noop = 1;
        else *mask = (1 << x->rank) - 1;
        return c->err->code;
    }
    for (int i = 0; i < k; i++) {
        int a;
        LP_TRY(lp_axis(c, axes[i], x->rank, &a, "axis"));
        *mask |= 1 << a;
    }
    return LP_OK;
}

static lp_status reduce_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    int mask, noop;
    LP_TRY(reduce_axes(c, n, &mask, &noop));
    int keep = (int)lp_attr_i(c, n, "keepdims", 1);
    int64_t dims[LP_MAX_RANK];
    int r = 0;
    for (int i = 0; i < x->rank; i++) {
        if (!(mask & (1 << i))) dims[r++] = x->dims[i];
        else if (keep) dims[r++] = 1;
    }
    lp_set_out(c, n, 0, x->dtype, r, dims);
    return LP_OK;
}

static lp_status reduce_lower(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    int mask, noop;
    LP_TRY(reduce_axes(c, n, &mask, &noop));
    if (noop || mask == 0) return lp_emit_identity(c, n->in[0], n->out[0]) < 0 ? c->err->code : LP_OK;
    int32_t axes[LP_MAX_RANK];
    int k = 0;
    for (int i = 0; i < x->rank; i++)
        if (mask & (1 << i)) axes[k++] = i;
    int ai = lp_emit_i32(c, axes, k, "axes");
    if (ai < 0) return c->err->code;
    lp_op op = n->op == LP_OP_ReduceMean  ? LP_TFL_MEAN
               : n->op == LP_OP_ReduceSum ? LP_TFL_SUM
               : n->op == LP_OP_ReduceMax ? LP_TFL_REDUCE_MAX
                                          : LP_TFL_REDUCE_MIN;
    int in[2] = {n->in[0], ai};
    int id = lp_emit_op(c, op, in, 2, &n->out[0], 1);
    if (id < 0) return c->err->code;
    lp_emit_params(c, id)->keep_dims = (int)lp_attr_i(c, n, "keepdims", 1);
    return c->err->code;
}

const lp_op_impl lp_impl_ReduceMean = {reduce_infer, NULL, reduce_lower};
const lp_op_impl lp_impl_ReduceSum = {reduce_infer, NULL, reduce_lower};
const lp_op_impl lp_impl_ReduceMax = {reduce_infer, NULL, reduce_lower};
const lp_op_impl lp_impl_ReduceMin = {reduce_infer, NULL, reduce_lower};
