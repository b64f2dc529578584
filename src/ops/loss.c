/* Losses: NegativeLogLikelihoodLoss (12, 13, 22) and SoftmaxCrossEntropyLoss (12, 13).
 *
 * Both pick -logp[n, target[n, d], d] out of the class axis. Inputs [N, C, d1..dk] are viewed as
 * [N, C, D] (as the reference does) and the pick is a one-hot select and a sum over C:
 * EQUAL(target, 0..C-1) -> SELECT_V2(onehot, logp, 0) -> SUM. A target outside [0, C) (only legal
 * when it is ignore_index) then picks nothing, so no index ever leaves its range. The rules
 * (spec and function body):
 *   - weight[c] multiplies the loss of a sample of class c; an ignored sample has loss 0 and
 *     weight 0;
 *   - reduction 'none' keeps the target's shape, 'sum' sums, 'mean' divides the sum by the sum of
 *     the applied weights (weight[target], or 1 per sample that is not ignored). (The reference
 *     evaluator's NegativeLogLikelihoodLoss divides by every sample when ignore_index is -1 and
 *     there is no weight; the function body and PyTorch do not, and neither does this.)
 *   - SoftmaxCrossEntropyLoss computes logp = log(softmax(scores, axis 1)) first; its optional
 *     second output is logp.
 * Everything is computed in float32; float16 and float64 are cast in and back. */
#include <math.h>
#include <string.h>

#include "compose.h"

#define T(id) lp_T(c, (id))

typedef enum { RED_NONE, RED_SUM, RED_MEAN } reduction;

static lp_status loss_check(lp_ctx *c, const lp_node *n, reduction *red) {
    lp_tensor *x = T(n->in[0]), *t = T(n->in[1]);
    LP_TRY(lp_need_rank(c, x, "input"));
    LP_TRY(lp_need_rank(c, t, "target"));
    if (!lp_cx_float_ok(x->dtype)) return lp_fail(c, LP_ERR_INVALID, "input type %s", lp_dtype_name(x->dtype));
    if (!lp_dtype_is_int(t->dtype)) return lp_fail(c, LP_ERR_INVALID, "target must be an integer tensor");
    if (x->rank < 2) return lp_fail(c, LP_ERR_INVALID, "input must have rank 2 or more, not %d", x->rank);
    if (t->rank != x->rank - 1) return lp_fail(c, LP_ERR_INVALID, "target must have rank %d, not %d", x->rank - 1, t->rank);
    if (x->dims[1] < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "the number of classes must be static");
    if (lp_has_in(n, 2)) {
        lp_tensor *w = T(n->in[2]);
        if (w->rank != 1 || (w->dims[0] >= 0 && w->dims[0] != x->dims[1]))
            return lp_fail(c, LP_ERR_INVALID, "weight must be a vector of %lld class weights", (long long)x->dims[1]);
    }
    const char *r = lp_attr_s(c, n, "reduction", "mean");
    if (c->err->code) return c->err->code;
    if (strcmp(r, "none") == 0) *red = RED_NONE;
    else if (strcmp(r, "sum") == 0) *red = RED_SUM;
    else if (strcmp(r, "mean") == 0) *red = RED_MEAN;
    else return lp_fail(c, LP_ERR_INVALID, "attribute 'reduction'='%s' is not none, sum or mean", r);
    return LP_OK;
}

static lp_status loss_infer(lp_ctx *c, const lp_node *n) {
    reduction red;
    LP_TRY(loss_check(c, n, &red));
    lp_tensor *x = T(n->in[0]), *t = T(n->in[1]);
    if (red == RED_NONE) lp_set_out(c, n, 0, x->dtype, t->rank, t->dims);
    else lp_set_out(c, n, 0, x->dtype, 0, NULL);
    if (n->n_out > 1) lp_set_out(c, n, 1, x->dtype, x->rank, x->dims);
    return LP_OK;
}

/* product of dims [2, rank) of x: the flattened spatial size, or a symbol */
static int64_t spatial_size(lp_ctx *c, const lp_tensor *x) {
    int64_t d = 1;
    for (int i = 2; i < x->rank; i++) {
        if (x->dims[i] < 0) return x->rank == 3 ? x->dims[2] : lp_graph_new_sym(c->g, NULL);
        d *= x->dims[i];
    }
    return d;
}

static lp_status loss_lower(lp_ctx *c, const lp_node *n) {
    reduction red;
    LP_TRY(loss_check(c, n, &red));
    const lp_dtype f = LP_DT_F32;
    /* copies: emitting may move the tensor array */
    const lp_tensor Xv = *T(n->in[0]), Tv = *T(n->in[1]), *X = &Xv, *Tg = &Tv;
    int64_t N = X->dims[0], C = X->dims[1], D = spatial_size(c, X);
    int64_t d3[3] = {N, C, D}, d2[2] = {N, D}, t3d[3] = {N, 1, D};
    int x = lp_cx_reshape(c, lp_cx_cast(c, n->in[0], f), 3, d3);
    int sce = n->op == LP_OP_SoftmaxCrossEntropyLoss;
    int logp = x;
    if (sce) {
        /* log(softmax) over the class axis: (x - max) - log(sum(exp(x - max))) */
        int ax = 1;
        int xm = lp_cx_bin(c, LP_TFL_SUB, x, lp_cx_reduce(c, LP_TFL_REDUCE_MAX, x, &ax, 1, 1));
        int lse = lp_cx_un(c, LP_TFL_LOG, lp_cx_reduce(c, LP_TFL_SUM, lp_cx_un(c, LP_TFL_EXP, xm), &ax, 1, 1));
        logp = lp_cx_bin(c, LP_TFL_SUB, xm, lse);
    }
    /* the one-hot pick */
    int64_t *cls = lp_table_alloc(c, C, sizeof(int64_t), "table of classes");
    if (!cls) return c->err->code;
    for (int64_t i = 0; i < C; i++) cls[i] = i;
    int64_t cd[3] = {1, C, 1};
    int tgt = lp_cx_cast(c, n->in[1], LP_DT_I64);
    int onehot = lp_cx_bin(c, LP_TFL_EQUAL, lp_cx_reshape(c, tgt, 3, t3d), lp_cx_const(c, LP_DT_I64, 3, cd, cls));
    int zero = lp_cx_scalar(c, f, 0.0);
    int ax1 = 1;
    int loss = lp_cx_un(c, LP_TFL_NEG, lp_cx_reduce(c, LP_TFL_SUM, lp_cx_select(c, onehot, logp, zero), &ax1, 1, 0));
    const lp_attr *ia = lp_node_attr(n, "ignore_index");
    int valid = -1;
    if (ia) valid = lp_cx_bin(c, LP_TFL_NOT_EQUAL, lp_cx_reshape(c, tgt, 2, d2),
                              lp_cx_scalar(c, LP_DT_I64, (double)lp_attr_i(c, n, "ignore_index", 0)));
    int wt = -1; /* weight of every sample, for the mean */
    if (lp_has_in(n, 2)) {
        int w = lp_cx_reshape(c, lp_cx_cast(c, n->in[2], f), 3, cd);
        wt = lp_cx_reduce(c, LP_TFL_SUM, lp_cx_select(c, onehot, w, zero), &ax1, 1, 0);
        if (valid >= 0) wt = lp_cx_select(c, valid, wt, zero);
        loss = lp_cx_bin(c, LP_TFL_MUL, loss, wt);
    } else if (valid >= 0) {
        loss = lp_cx_select(c, valid, loss, zero);
        wt = lp_cx_cast(c, valid, f);
    }
    int out;
    if (red == RED_NONE) {
        out = lp_cx_reshape(c, loss, Tg->rank, Tg->dims);
    } else {
        int axes[2] = {0, 1};
        if (red == RED_MEAN && wt < 0) out = lp_cx_reduce(c, LP_TFL_MEAN, loss, axes, 2, 0);
        else out = lp_cx_reduce(c, LP_TFL_SUM, loss, axes, 2, 0);
        if (red == RED_MEAN && wt >= 0) out = lp_cx_bin(c, LP_TFL_DIV, out, lp_cx_reduce(c, LP_TFL_SUM, wt, axes, 2, 0));
    }
    if (c->err->code) return c->err->code;
    if (sce && n->n_out > 1 && n->out[1] >= 0) LP_TRY(lp_cx_bind(c, lp_cx_reshape(c, logp, X->rank, X->dims), n->out[1]));
    return lp_cx_bind(c, out, n->out[0]);
}

const lp_op_impl lp_impl_NegativeLogLikelihoodLoss = {loss_infer, NULL, loss_lower};
const lp_op_impl lp_impl_SoftmaxCrossEntropyLoss = {loss_infer, NULL, loss_lower};
