/* Pooling: MaxPool, AveragePool (count_include_pad both ways, ceil_mode), GlobalAveragePool,
 * GlobalMaxPool. */
#include <float.h>
#include <string.h>

#include "window.h"

#define T(id) lp_T(c, (id))

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

/* ONNX divisor of average pooling at one output position along one dim */
static int64_t avg_count(int64_t o, int64_t in, const lp_window *s, int i, int include_pad) {
    int64_t start = o * s->s[i] - s->pb[i], end = start + s->k[i];
    int64_t lo = include_pad ? -s->pb[i] : 0, hi = include_pad ? in + s->pe[i] : in;
    if (start < lo) start = lo;
    if (end > hi) end = hi;
    return end > start ? end - start : 0;
}

static lp_status pool_lower(lp_ctx *c, const lp_node *n) {
    int is_max = n->op == LP_OP_MaxPool;
    if (is_max && n->n_out > 1 && n->out[1] >= 0)
        return lp_fail(c, LP_ERR_UNSUPPORTED, "output 'Indices' of MaxPool has no TFLite counterpart");
    lp_tensor *x = T(n->in[0]), *y = T(n->out[0]);
    lp_window s;
    int cm;
    LP_TRY(pool_spec(c, n, &s, &cm));
    if (s.nsp == 3) return lp_fail(c, LP_ERR_UNSUPPORTED, "3-D pooling is not supported yet");
    for (int i = 0; i < s.nsp; i++)
        if (s.d[i] != 1) return lp_fail(c, LP_ERR_UNSUPPORTED, "attribute 'dilations' other than 1");
    int include_pad = (int)lp_attr_i(c, n, "count_include_pad", 0);
    int64_t in_sp[2], out_sp[2];
    if (s.nsp == 1) {
        /* [N,C,L] is pooled as [N,1,L,C] */
        s.nsp = 2;
        s.k[1] = s.k[0], s.k[0] = 1;
        s.s[1] = s.s[0], s.s[0] = 1;
        s.d[1] = s.d[0], s.d[0] = 1;
        s.pb[1] = s.pb[0], s.pb[0] = 0;
        s.pe[1] = s.pe[0], s.pe[0] = 0;
        in_sp[0] = out_sp[0] = 1;
        in_sp[1] = x->dims[2];
        out_sp[1] = y->dims[2];
    } else {
        for (int i = 0; i < 2; i++) {
            in_sp[i] = x->dims[2 + i];
            out_sp[i] = y->dims[2 + i];
        }
    }
    int x_nhwc = lp_window_to_nhwc(c, n->in[0]);
    if (x_nhwc < 0) return c->err->code;
    /* ceil_mode: the last windows hang over the end */
    int64_t extra[2] = {0, 0};
    int dyn = in_sp[0] < 0 || in_sp[1] < 0;
    if (!dyn)
        for (int i = 0; i < 2; i++) {
            int64_t reach = (out_sp[i] - 1) * s.s[i] + s.k[i];
            int64_t have = in_sp[i] + s.pb[i] + s.pe[i];
            if (reach > have) extra[i] = reach - have;
        }
    else if (cm)
        return lp_fail(c, LP_ERR_UNSUPPORTED, "ceil_mode with dynamic spatial dimensions");
    int padding;
    int xn;
    int need_fix = 0;
    if (is_max) {
        xn = lp_window_input(c, x_nhwc, &s, &padding, extra[0], extra[1], -FLT_MAX);
    } else {
        int same_ok = !include_pad; /* TFLite SAME averages only in-bounds cells */
        if (!same_ok && !(s.pb[0] || s.pb[1] || s.pe[0] || s.pe[1])) same_ok = 1;
        if (same_ok) {
            xn = lp_window_input(c, x_nhwc, &s, &padding, extra[0], extra[1], 0.0);
        } else {
            /* force an explicit PAD: lp_window_input would pick SAME when the pads match it */
            xn = lp_window_pad(c, x_nhwc, &s, extra[0], extra[1], 0.0);
            padding = 1;
        }
        /* after an explicit PAD, AVERAGE_POOL_2D divides by the full window: correct it */
        need_fix = padding == 1 && (s.pb[0] || s.pb[1] || s.pe[0] || s.pe[1] || extra[0] || extra[1]);
    }
    if (xn < 0) return c->err->code;
    int yn = lp_window_from_nhwc(c, n->out[0]);
    if (yn < 0) return c->err->code;
    int pool_out_t = yn;
    float *fix = NULL;
    if (need_fix) {
        if (dyn) return lp_fail(c, LP_ERR_UNSUPPORTED, "padded average pooling with dynamic spatial dimensions");
        size_t cells = (size_t)(out_sp[0] * out_sp[1]);
        fix = lp_arena_alloc(&c->g->arena, sizeof(float) * cells);
        if (!fix) return lp_fail(c, LP_ERR_NOMEM, "out of memory");
        int all_one = 1;
        for (int64_t oh = 0; oh < out_sp[0]; oh++)
            for (int64_t ow = 0; ow < out_sp[1]; ow++) {
                int64_t cnt = avg_count(oh, in_sp[0], &s, 0, include_pad) * avg_count(ow, in_sp[1], &s, 1, include_pad);
                float f = cnt ? (float)((double)(s.k[0] * s.k[1]) / (double)cnt) : 0.0f;
                fix[oh * out_sp[1] + ow] = f;
                all_one &= f == 1.0f;
            }
        if (all_one) fix = NULL;
        else {
            lp_tensor *YN = T(yn);
            pool_out_t = lp_emit_tensor(c, YN->dtype, 4, YN->dims, "pooled");
            if (pool_out_t < 0) return c->err->code;
        }
    }
    int id = lp_emit_op(c, is_max ? LP_TFL_MAX_POOL_2D : LP_TFL_AVERAGE_POOL_2D, &xn, 1, &pool_out_t, 1);
    if (id < 0) return c->err->code;
    lp_tfl_params *p = lp_emit_params(c, id);
    p->padding = padding;
    p->stride_h = (int)s.s[0];
    p->stride_w = (int)s.s[1];
    p->filter_h = (int)s.k[0];
    p->filter_w = (int)s.k[1];
    if (fix) {
        int64_t fd[3] = {out_sp[0], out_sp[1], 1};
        int fi = lp_emit_const(c, LP_DT_F32, 3, fd, fix, "count_fix");
        int in[2] = {pool_out_t, fi};
        if (fi < 0 || lp_emit_op(c, LP_TFL_MUL, in, 2, &yn, 1) < 0) return c->err->code;
    }
    return LP_OK;
}

const lp_op_impl lp_impl_MaxPool = {pool_infer, NULL, pool_lower};
const lp_op_impl lp_impl_AveragePool = {pool_infer, NULL, pool_lower};

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
    int32_t axes[LP_MAX_RANK];
    for (int i = 2; i < x->rank; i++) axes[i - 2] = i;
    int ai = lp_emit_i32(c, axes, x->rank - 2, "axes");
    if (ai < 0) return c->err->code;
    int in[2] = {n->in[0], ai};
    int id = lp_emit_op(c, n->op == LP_OP_GlobalMaxPool ? LP_TFL_REDUCE_MAX : LP_TFL_MEAN, in, 2, &n->out[0], 1);
    if (id < 0) return c->err->code;
    lp_emit_params(c, id)->keep_dims = 1;
    return LP_OK;
}

const lp_op_impl lp_impl_GlobalAveragePool = {global_infer, NULL, global_lower};
const lp_op_impl lp_impl_GlobalMaxPool = {global_infer, NULL, global_lower};
