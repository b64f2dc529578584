/* Sampling: GridSample (16, 20, 22), AffineGrid (20), RoiAlign (10, 16, 22), NonMaxSuppression.
 *
 * GridSample computes, for every output location and spatial axis, the sample coordinate from
 * the grid (elementwise ops on [N, out...]), the integer taps and their weights, and gathers the
 * taps from X viewed as [N, H*W, C] with one GATHER (batch_dims 1) per tap combination. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "compose.h"

#define T(id) lp_T(c, (id))

/* ---------------- GridSample ---------------- */

typedef enum { GS_NEAREST, GS_LINEAR, GS_CUBIC } gs_mode;
typedef enum { GS_ZEROS, GS_BORDER, GS_REFLECTION } gs_pad;

typedef struct gs_spec {
    int nd;                      /* spatial dims */
    gs_mode mode;
    gs_pad pad;
    int align;
} gs_spec;

static lp_status gs_spec_get(lp_ctx *c, const lp_node *n, gs_spec *s) {
    lp_tensor *x = T(n->in[0]), *g = T(n->in[1]);
    LP_TRY(lp_need_rank(c, x, "X"));
    LP_TRY(lp_need_rank(c, g, "grid"));
    if (!lp_cx_float_ok(x->dtype) || !lp_cx_float_ok(g->dtype))
        return lp_fail(c, LP_ERR_INVALID, "X and grid must be float tensors");
    s->nd = x->rank - 2;
    if (s->nd < 1 || g->rank != x->rank || g->dims[g->rank - 1] != s->nd)
        return lp_fail(c, LP_ERR_INVALID, "grid must be [N, out..., %d] for a %d-D X", s->nd, x->rank);
    if (n->opset < 20 && s->nd != 2) return lp_fail(c, LP_ERR_INVALID, "GridSample-%d takes 4-D inputs", n->opset);
    const char *m = lp_attr_s(c, n, "mode", n->opset < 20 ? "bilinear" : "linear");
    const char *p = lp_attr_s(c, n, "padding_mode", "zeros");
    s->align = (int)lp_attr_i(c, n, "align_corners", 0);
    if (c->err->code) return c->err->code;
    if (strcmp(m, "nearest") == 0) s->mode = GS_NEAREST;
    else if (strcmp(m, "linear") == 0 || strcmp(m, "bilinear") == 0) s->mode = GS_LINEAR;
    else if (strcmp(m, "cubic") == 0 || strcmp(m, "bicubic") == 0) s->mode = GS_CUBIC;
    else return lp_fail(c, LP_ERR_INVALID, "attribute 'mode'='%s' is not supported", m);
    if (strcmp(p, "zeros") == 0) s->pad = GS_ZEROS;
    else if (strcmp(p, "border") == 0) s->pad = GS_BORDER;
    else if (strcmp(p, "reflection") == 0) s->pad = GS_REFLECTION;
    else return lp_fail(c, LP_ERR_INVALID, "attribute 'padding_mode'='%s' is not supported", p);
    if (s->mode == GS_CUBIC && s->nd != 2)
        return lp_fail(c, LP_ERR_UNSUPPORTED, "cubic mode is defined for 2-D sampling only");
    return LP_OK;
}

static lp_status gs_infer(lp_ctx *c, const lp_node *n) {
    gs_spec s;
    LP_TRY(gs_spec_get(c, n, &s));
    lp_tensor *x = T(n->in[0]), *g = T(n->in[1]);
    int64_t dims[LP_MAX_RANK];
    dims[0] = x->dims[0];
    dims[1] = x->dims[1];
    for (int i = 0; i < s.nd; i++) dims[2 + i] = g->dims[1 + i];
    lp_set_out(c, n, 0, x->dtype, x->rank, dims);
    return LP_OK;
}

/* reflect v into [lo, hi] by folding at the borders (the reference's _gs_reflect) */
static int gs_reflect(lp_ctx *c, int v, double lo, double hi) {
    const lp_dtype f = LP_DT_F32;
    double rng = hi - lo;
    int vlo = lp_cx_scalar(c, f, lo), vhi = lp_cx_scalar(c, f, hi), vr = lp_cx_scalar(c, f, rng);
    int two = lp_cx_scalar(c, f, 2.0), zero = lp_cx_scalar(c, f, 0.0);
    /* below: dx = lo - v, n = floor(dx / rng), r = dx - n rng, even n -> lo + r, odd -> hi - r */
    int out = v;
    for (int side = 0; side < 2; side++) {
        int dx = side == 0 ? lp_cx_bin(c, LP_TFL_SUB, vlo, v) : lp_cx_bin(c, LP_TFL_SUB, v, vhi);
        int k = lp_cx_un(c, LP_TFL_FLOOR, lp_cx_bin(c, LP_TFL_DIV, dx, vr));
        int r = lp_cx_bin(c, LP_TFL_SUB, dx, lp_cx_bin(c, LP_TFL_MUL, k, vr));
        int even = lp_cx_bin(c, LP_TFL_EQUAL, lp_cx_bin(c, LP_TFL_FLOOR_MOD, k, two), zero);
        int near = side == 0 ? lp_cx_bin(c, LP_TFL_ADD, vlo, r) : lp_cx_bin(c, LP_TFL_SUB, vhi, r);
        int far = side == 0 ? lp_cx_bin(c, LP_TFL_SUB, vhi, r) : lp_cx_bin(c, LP_TFL_ADD, vlo, r);
        int cond = side == 0 ? lp_cx_bin(c, LP_TFL_LESS, v, vlo) : lp_cx_bin(c, LP_TFL_GREATER, v, vhi);
        out = lp_cx_select(c, cond, lp_cx_select(c, even, near, far), out);
    }
    return out;
}

/* the integer tap i (float tensor holding an integer) of an axis of length d, as an int32 index
 * that is always in range, and (zeros padding) whether it was in range */
static int gs_tap_index(lp_ctx *c, const gs_spec *s, int i, int64_t d, double lo, double hi, int *valid) {
    const lp_dtype f = LP_DT_F32;
    *valid = -1;
    int fmax = lp_cx_scalar(c, f, (double)(d - 1)), fzero = lp_cx_scalar(c, f, 0.0);
    if (s->pad == GS_ZEROS) {
        *valid = lp_cx_bin(c, LP_TFL_LOGICAL_AND, lp_cx_bin(c, LP_TFL_GREATER_EQUAL, i, fzero),
                           lp_cx_bin(c, LP_TFL_LESS_EQUAL, i, fmax));
    } else if (s->pad == GS_REFLECTION) {
        i = gs_reflect(c, i, lo, hi); /* then int(): truncation, which CAST does */
        i = lp_cx_cast(c, lp_cx_cast(c, i, LP_DT_I32), f);
    }
    /* clamp (border padding, and keeps every gather in range) */
    i = lp_cx_bin(c, LP_TFL_MINIMUM, lp_cx_bin(c, LP_TFL_MAXIMUM, i, fzero), fmax);
    return lp_cx_cast(c, i, LP_DT_I32);
}

/* Keys cubic convolution coefficients (A = -0.75) of the fraction t for the taps -1, 0, 1, 2 */
static void gs_cubic_coeffs(lp_ctx *c, int t, int *w) {
    const lp_dtype f = LP_DT_F32;
    const double A = -0.75;
#define S(v) lp_cx_scalar(c, f, (v))
#define ADD(a, b) lp_cx_bin(c, LP_TFL_ADD, a, b)
#define SUB(a, b) lp_cx_bin(c, LP_TFL_SUB, a, b)
#define MUL(a, b) lp_cx_bin(c, LP_TFL_MUL, a, b)
    int t1 = ADD(t, S(1.0)), u = SUB(S(1.0), t), u1 = SUB(S(2.0), t);
    /* ((A x - 5A) x + 8A) x - 4A for x = t + 1 and x = 2 - t */
    w[0] = SUB(MUL(ADD(MUL(SUB(MUL(S(A), t1), S(5 * A)), t1), S(8 * A)), t1), S(4 * A));
    w[3] = SUB(MUL(ADD(MUL(SUB(MUL(S(A), u1), S(5 * A)), u1), S(8 * A)), u1), S(4 * A));
    /* ((A + 2) x - (A + 3)) x x + 1 for x = t and x = 1 - t */
    w[1] = ADD(MUL(MUL(SUB(MUL(S(A + 2), t), S(A + 3)), t), t), S(1.0));
    w[2] = ADD(MUL(MUL(SUB(MUL(S(A + 2), u), S(A + 3)), u), u), S(1.0));
#undef S
#undef ADD
#undef SUB
#undef MUL
}

static lp_status gs_lower(lp_ctx *c, const lp_node *n) {
    gs_spec s;
    LP_TRY(gs_spec_get(c, n, &s));
    const lp_dtype f = LP_DT_F32;
    /* copies: emitting may move the tensor array */
    const lp_tensor Xv = *T(n->in[0]), Gv = *T(n->in[1]), *X = &Xv, *G = &Gv;
    int nd = s.nd, r = X->rank;
    int64_t N = X->dims[0], C = X->dims[1], P = 1, Q = 1;
    for (int i = 0; i < nd; i++) {
        if (X->dims[2 + i] < 0 || G->dims[1 + i] < 0)
            return lp_fail(c, LP_ERR_UNSUPPORTED, "spatial dimensions must be static");
        P *= X->dims[2 + i];
        Q *= G->dims[1 + i];
    }
    if (C < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "the channel count must be static");
    /* X as [N, P, C] */
    int perm[LP_MAX_RANK];
    lp_perm_to_last(r, perm);
    int xs = lp_cx_reshape(c, lp_cx_transpose(c, lp_cx_cast(c, n->in[0], f), perm), 3, (int64_t[3]){N, P, C});
    /* grid coordinates, one [N, Q] tensor per spatial axis (the grid lists them last axis first) */
    int gq = lp_cx_reshape(c, lp_cx_cast(c, n->in[1], f), 3, (int64_t[3]){N, Q, nd});
    if (gq < 0) return c->err->code;
    int comps[LP_MAX_RANK];
    if (nd == 1) comps[0] = lp_cx_reshape(c, gq, 2, (int64_t[2]){N, Q});
    else if (lp_cx_unpack(c, gq, 2, comps) < 0) return c->err->code;
    int ntap = s.mode == GS_NEAREST ? 1 : s.mode == GS_LINEAR ? 2 : 4;
    int idx[LP_MAX_RANK][4], val[LP_MAX_RANK][4], wt[LP_MAX_RANK][4];
    int64_t stride = 1;
    int64_t strides[LP_MAX_RANK];
    for (int d = nd - 1; d >= 0; d--) {
        strides[d] = stride;
        stride *= X->dims[2 + d];
    }
    for (int d = 0; d < nd; d++) {
        int64_t len = X->dims[2 + d];
        double lo = s.align ? 0.0 : -0.5, hi = s.align ? (double)(len - 1) : (double)len - 0.5;
        int g = comps[nd - 1 - d];
        /* denormalize: align ? (g + 1) / 2 * (len - 1) : ((g + 1) * len - 1) / 2 */
        int g1 = lp_cx_bin(c, LP_TFL_ADD, g, lp_cx_scalar(c, f, 1.0));
        int v = s.align ? lp_cx_bin(c, LP_TFL_MUL, lp_cx_bin(c, LP_TFL_DIV, g1, lp_cx_scalar(c, f, 2.0)),
                                    lp_cx_scalar(c, f, (double)(len - 1)))
                        : lp_cx_bin(c, LP_TFL_DIV,
                                    lp_cx_bin(c, LP_TFL_SUB, lp_cx_bin(c, LP_TFL_MUL, g1, lp_cx_scalar(c, f, (double)len)),
                                              lp_cx_scalar(c, f, 1.0)),
                                    lp_cx_scalar(c, f, 2.0));
        if (s.mode == GS_NEAREST) v = lp_cx_un(c, LP_TFL_ROUND, v); /* half to even, as np.rint */
        /* a coordinate outside [lo, hi] is clamped (border) or reflected (reflection) */
        if (s.pad == GS_BORDER) {
            int outside = lp_cx_bin(c, LP_TFL_LOGICAL_OR, lp_cx_bin(c, LP_TFL_LESS, v, lp_cx_scalar(c, f, lo)),
                                    lp_cx_bin(c, LP_TFL_GREATER, v, lp_cx_scalar(c, f, hi)));
            int cl = lp_cx_bin(c, LP_TFL_MINIMUM, lp_cx_bin(c, LP_TFL_MAXIMUM, v, lp_cx_scalar(c, f, 0.0)),
                               lp_cx_scalar(c, f, (double)(len - 1)));
            v = lp_cx_select(c, outside, cl, v);
        } else if (s.pad == GS_REFLECTION) {
            v = gs_reflect(c, v, lo, hi);
        }
        if (s.mode == GS_NEAREST) {
            /* astype(int32) truncates */
            int i = lp_cx_cast(c, lp_cx_cast(c, v, LP_DT_I32), f);
            idx[d][0] = gs_tap_index(c, &s, i, len, lo, hi, &val[d][0]);
            wt[d][0] = -1;
            continue;
        }
        int x0 = lp_cx_un(c, LP_TFL_FLOOR, v);
        int t = lp_cx_bin(c, LP_TFL_SUB, v, x0);
        if (s.mode == GS_LINEAR) {
            wt[d][0] = lp_cx_bin(c, LP_TFL_SUB, lp_cx_scalar(c, f, 1.0), t);
            wt[d][1] = t;
        } else {
            gs_cubic_coeffs(c, t, wt[d]);
        }
        int first = s.mode == GS_LINEAR ? 0 : -1;
        for (int k = 0; k < ntap; k++) {
            int i = lp_cx_bin(c, LP_TFL_ADD, x0, lp_cx_scalar(c, f, (double)(first + k)));
            idx[d][k] = gs_tap_index(c, &s, i, len, lo, hi, &val[d][k]);
        }
        if (c->err->code) return c->err->code;
    }
    /* every tap combination: y += prod(w) * (valid ? X[n, lin] : 0) */
    int total = 1;
    for (int d = 0; d < nd; d++) total *= ntap;
    int acc = -1;
    for (int combo = 0; combo < total; combo++) {
        int lin = -1, w = -1, ok = -1, rem = combo;
        for (int d = nd - 1; d >= 0; d--) {
            int k = rem % ntap;
            rem /= ntap;
            int term = strides[d] == 1 ? idx[d][k]
                                       : lp_cx_bin(c, LP_TFL_MUL, idx[d][k], lp_cx_scalar(c, LP_DT_I32, (double)strides[d]));
            lin = lin < 0 ? term : lp_cx_bin(c, LP_TFL_ADD, lin, term);
            if (wt[d][0] >= 0) w = w < 0 ? wt[d][k] : lp_cx_bin(c, LP_TFL_MUL, wt[d][k], w);
            if (val[d][k] >= 0) ok = ok < 0 ? val[d][k] : lp_cx_bin(c, LP_TFL_LOGICAL_AND, ok, val[d][k]);
        }
        int px = lp_cx_gather(c, xs, lin, 1, 1); /* [N, Q, C] */
        int64_t col[3] = {N, Q, 1};
        if (ok >= 0) px = lp_cx_select(c, lp_cx_reshape(c, ok, 3, col), px, lp_cx_scalar(c, f, 0.0));
        if (w >= 0) px = lp_cx_bin(c, LP_TFL_MUL, lp_cx_reshape(c, w, 3, col), px);
        acc = acc < 0 ? px : lp_cx_bin(c, LP_TFL_ADD, acc, px);
        if (c->err->code) return c->err->code;
    }
    /* [N, Q, C] -> [N, out..., C] -> [N, C, out...] */
    int64_t od[LP_MAX_RANK];
    od[0] = N;
    for (int i = 0; i < nd; i++) od[1 + i] = T(n->out[0])->dims[2 + i];
    od[nd + 1] = C;
    int first[LP_MAX_RANK];
    lp_perm_to_first(r, first);
    return lp_cx_bind(c, lp_cx_transpose(c, lp_cx_reshape(c, acc, r, od), first), n->out[0]);
}

const lp_op_impl lp_impl_GridSample = {gs_infer, NULL, gs_lower};

/* ---------------- AffineGrid (20) ----------------
 * grid[n, ..., j] = sum_k theta[n, j, k] * base[..., k] where base holds the normalized positions
 * (x, y[, z], 1) of every output location: align_corners -> -1 + i * 2/(L-1), else
 * -1 + 1/L + i * 2/L. With a constant size the base is a constant; with a run-time size it is
 * built with RANGE. */

static lp_status ag_check(lp_ctx *c, const lp_node *n, int *nd) {
    lp_tensor *th = T(n->in[0]), *sz = T(n->in[1]);
    LP_TRY(lp_need_rank(c, th, "theta"));
    if (th->rank != 3 || (th->dims[1] != 2 && th->dims[1] != 3) || th->dims[2] != th->dims[1] + 1)
        return lp_fail(c, LP_ERR_INVALID, "theta must be [N, 2, 3] or [N, 3, 4]");
    if (!lp_cx_float_ok(th->dtype)) return lp_fail(c, LP_ERR_INVALID, "theta type %s", lp_dtype_name(th->dtype));
    *nd = (int)th->dims[1];
    if (sz->rank != 1 || sz->dims[0] != *nd + 2)
        return lp_fail(c, LP_ERR_INVALID, "size must hold %d values for theta of %d rows", *nd + 2, *nd);
    return LP_OK;
}

static lp_status ag_infer(lp_ctx *c, const lp_node *n) {
    int nd;
    LP_TRY(ag_check(c, n, &nd));
    lp_tensor *th = T(n->in[0]);
    int64_t sz[5], dims[LP_MAX_RANK];
    int known = lp_known_ints(c, n, 1, sz, 5) == nd + 2;
    dims[0] = th->dims[0];
    for (int i = 0; i < nd; i++) dims[1 + i] = known ? sz[2 + i] : lp_graph_new_sym(c->g, NULL);
    dims[nd + 1] = nd;
    lp_set_out(c, n, 0, th->dtype, nd + 2, dims);
    return LP_OK;
}

static lp_status ag_lower(lp_ctx *c, const lp_node *n) {
    int nd;
    LP_TRY(ag_check(c, n, &nd));
    const lp_dtype f = LP_DT_F32;
    int align = (int)lp_attr_i(c, n, "align_corners", 0);
    const lp_tensor Yv = *T(n->out[0]), *Y = &Yv; /* a copy: emitting may move the tensor array */
    int64_t sz[5];
    int known = lp_known_ints(c, n, 1, sz, 5) == nd + 2;
    int base;
    int64_t bd[5] = {1, 1, 1, 1, 1};
    bd[nd + 1] = nd + 1;
    if (known) {
        int64_t cnt = 1;
        for (int i = 0; i < nd; i++) {
            if (sz[2 + i] < 1) return lp_fail(c, LP_ERR_INVALID, "size %lld", (long long)sz[2 + i]);
            cnt *= sz[2 + i];
            bd[1 + i] = sz[2 + i];
        }
        if (cnt * (nd + 1) > LP_MAX_FOLD_ELEMENTS) return lp_fail(c, LP_ERR_LIMIT, "a grid of %lld points", (long long)cnt);
        float *b = lp_arena_alloc(&c->g->arena, sizeof(float) * (size_t)(cnt * (nd + 1)));
        if (!b) return lp_fail(c, LP_ERR_NOMEM, "out of memory");
        for (int64_t p = 0; p < cnt; p++) {
            int64_t rem = p;
            for (int d = nd - 1; d >= 0; d--) {
                int64_t L = sz[2 + d], i = rem % L;
                rem /= L;
                double v = align ? -1.0 + (double)i * (2.0 / (double)(L - 1)) : -1.0 + 1.0 / (double)L + (double)i * (2.0 / (double)L);
                if (align && L == 1) v = -1.0;
                b[p * (nd + 1) + (nd - 1 - d)] = (float)v; /* x first: the last spatial axis */
            }
            b[p * (nd + 1) + nd] = 1.0f;
        }
        base = lp_cx_f32s(c, nd + 2, bd, b);
    } else {
        /* per axis: RANGE(0, L) scaled, broadcast against the other axes through zero vectors */
        int s32 = lp_cx_cast(c, n->in[1], LP_DT_I32);
        int comp[3], zero[3];
        for (int d = 0; d < nd; d++) {
            int32_t at = 2 + d;
            int L = lp_cx_reshape(c, lp_cx_gather(c, s32, lp_cx_i32s(c, &at, 1), 0, 0), 0, NULL);
            int64_t len = Y->dims[1 + d];
            int r = lp_emit_tensor(c, LP_DT_I32, 1, &len, "range");
            int in[3] = {lp_cx_scalar(c, LP_DT_I32, 0), L, lp_cx_scalar(c, LP_DT_I32, 1)};
            if (L < 0 || r < 0 || lp_emit_op(c, LP_TFL_RANGE, in, 3, &r, 1) < 0) return c->err->code;
            int Lf = lp_cx_cast(c, L, f), i = lp_cx_cast(c, r, f), v;
            if (align) {
                int step = lp_cx_bin(c, LP_TFL_DIV, lp_cx_scalar(c, f, 2.0), lp_cx_bin(c, LP_TFL_SUB, Lf, lp_cx_scalar(c, f, 1.0)));
                v = lp_cx_bin(c, LP_TFL_ADD, lp_cx_scalar(c, f, -1.0), lp_cx_bin(c, LP_TFL_MUL, i, step));
            } else {
                int step = lp_cx_bin(c, LP_TFL_DIV, lp_cx_scalar(c, f, 2.0), Lf);
                int start = lp_cx_bin(c, LP_TFL_ADD, lp_cx_scalar(c, f, -1.0), lp_cx_bin(c, LP_TFL_DIV, step, lp_cx_scalar(c, f, 2.0)));
                v = lp_cx_bin(c, LP_TFL_ADD, start, lp_cx_bin(c, LP_TFL_MUL, i, step));
            }
            int64_t vd[4] = {1, 1, 1, 1};
            vd[d] = len;
            comp[d] = lp_cx_reshape(c, v, nd + 1, vd);
            zero[d] = lp_cx_bin(c, LP_TFL_MUL, comp[d], lp_cx_scalar(c, f, 0.0));
        }
        /* every component broadcast to the full grid [.., 1] by adding the others' zeros */
        int parts[4];
        for (int d = 0; d < nd; d++) {
            int t = comp[d];
            for (int e = 0; e < nd; e++)
                if (e != d) t = lp_cx_bin(c, LP_TFL_ADD, t, zero[e]);
            parts[nd - 1 - d] = t;
        }
        int ones = lp_cx_bin(c, LP_TFL_ADD, parts[0], lp_cx_scalar(c, f, 0.0));
        ones = lp_cx_bin(c, LP_TFL_ADD, lp_cx_bin(c, LP_TFL_MUL, ones, lp_cx_scalar(c, f, 0.0)), lp_cx_scalar(c, f, 1.0));
        parts[nd] = ones;
        int g = lp_cx_concat(c, parts, nd + 1, nd);
        int64_t gd[5];
        gd[0] = 1;
        if (g >= 0)
            for (int i = 0; i <= nd; i++) gd[1 + i] = T(g)->dims[i];
        base = lp_cx_reshape(c, g, nd + 2, gd);
    }
    /* base [1, (D,) H, W, 1, nd+1] * theta [N, 1, (1,) 1, nd, nd+1], summed over the last axis:
     * [N, (D,) H, W, nd]. (A BATCH_MATMUL with a broadcast constant operand is refused by XNNPACK
     * when the batch is dynamic; three products and a sum are as exact.) */
    lp_tensor *TH = T(n->in[0]);
    int64_t td[6] = {TH->dims[0], 1, 1, 1, 1, 1}, b6[6];
    td[nd + 1] = nd;
    td[nd + 2] = nd + 1;
    if (base < 0) return c->err->code;
    memcpy(b6, T(base)->dims, sizeof(int64_t) * (size_t)(nd + 1));
    b6[nd + 1] = 1;
    b6[nd + 2] = nd + 1;
    int th = lp_cx_reshape(c, lp_cx_cast(c, n->in[0], f), nd + 3, td);
    int ax = nd + 2;
    int y = lp_cx_reduce(c, LP_TFL_SUM, lp_cx_bin(c, LP_TFL_MUL, lp_cx_reshape(c, base, nd + 3, b6), th), &ax, 1, 0);
    if (y >= 0) memcpy(T(y)->dims, Y->dims, sizeof(int64_t) * (size_t)Y->rank);
    return lp_cx_bind(c, y, n->out[0]);
}

const lp_op_impl lp_impl_AffineGrid = {ag_infer, NULL, ag_lower};

/* ---------------- RoiAlign (10, 16, 22) ----------------
 * For ROI r, bin (ph, pw) and sample (iy, ix) of an S x S grid (S = sampling_ratio) the reference
 * samples y = start_h + ph * bin_h + (iy + 0.5) * bin_h / S (likewise x), drops samples outside
 * [-1, H] x [-1, W], clamps to the map and interpolates bilinearly; 'avg' averages the S*S samples,
 * 'max' takes the largest of the four weighted corner terms over all samples. The sample
 * coordinates are separable, so the y and x parts are [R, OH*S] and [R, OW*S] tensors, and
 * each corner is one GATHER from X viewed as [N*H*W, C]. sampling_ratio 0 (an adaptive grid,
 * ceil(roi_size / output_size) samples per bin) depends on the ROI values: not supported. */

typedef struct ra_axis {
    int lo, hi;     /* int32 [R, O*S] indices into the axis */
    int wl, wh;     /* float weights of lo and hi (zero for dropped samples) */
} ra_axis;

static lp_status ra_spec(lp_ctx *c, const lp_node *n, int *half, int *avg, int64_t *oh, int64_t *ow, int64_t *sr) {
    lp_tensor *x = T(n->in[0]), *r = T(n->in[1]), *b = T(n->in[2]);
    LP_TRY(lp_need_rank(c, x, "X"));
    if (x->rank != 4) return lp_fail(c, LP_ERR_INVALID, "X must be 4-D");
    if (r->rank != 2 || r->dims[1] != 4) return lp_fail(c, LP_ERR_INVALID, "rois must be [num_rois, 4]");
    if (b->rank != 1 || !lp_dtype_is_int(b->dtype)) return lp_fail(c, LP_ERR_INVALID, "batch_indices must be an integer vector");
    if (!lp_cx_float_ok(x->dtype)) return lp_fail(c, LP_ERR_INVALID, "X type %s", lp_dtype_name(x->dtype));
    const char *ctm = lp_attr_s(c, n, "coordinate_transformation_mode", n->opset >= 16 ? "half_pixel" : "output_half_pixel");
    const char *m = lp_attr_s(c, n, "mode", "avg");
    *oh = lp_attr_i(c, n, "output_height", 1);
    *ow = lp_attr_i(c, n, "output_width", 1);
    *sr = lp_attr_i(c, n, "sampling_ratio", 0);
    if (c->err->code) return c->err->code;
    if (strcmp(ctm, "half_pixel") == 0) *half = 1;
    else if (strcmp(ctm, "output_half_pixel") == 0) *half = 0;
    else return lp_fail(c, LP_ERR_INVALID, "attribute 'coordinate_transformation_mode'='%s'", ctm);
    if (strcmp(m, "avg") == 0) *avg = 1;
    else if (strcmp(m, "max") == 0) *avg = 0;
    else return lp_fail(c, LP_ERR_INVALID, "attribute 'mode'='%s' is not avg or max", m);
    if (*oh < 1 || *ow < 1 || *sr < 0 || *oh > 4096 || *ow > 4096 || *sr > 4096)
        return lp_fail(c, LP_ERR_INVALID, "output size %lldx%lld or sampling_ratio %lld out of range (1 to 4096)",
                       (long long)*oh, (long long)*ow, (long long)*sr);
    return LP_OK;
}

static lp_status ra_infer(lp_ctx *c, const lp_node *n) {
    int half, avg;
    int64_t oh, ow, sr;
    LP_TRY(ra_spec(c, n, &half, &avg, &oh, &ow, &sr));
    lp_tensor *x = T(n->in[0]);
    int64_t d[4] = {T(n->in[1])->dims[0], x->dims[1], oh, ow};
    if (d[0] < 0) d[0] = T(n->in[2])->dims[0];
    lp_set_out(c, n, 0, x->dtype, 4, d);
    return LP_OK;
}

/* sample positions and corner weights along one axis of length L (column k of rois: start, k+2: end) */
static ra_axis ra_axis_of(lp_ctx *c, int rois, int k, int64_t L, int64_t O, int64_t S, int half, float scale) {
    const lp_dtype f = LP_DT_F32;
    ra_axis a;
    int32_t ks = k, ke = k + 2;
    int r0 = lp_cx_gather(c, rois, lp_cx_i32s(c, &ks, 1), 1, 0); /* [R, 1] */
    int r1 = lp_cx_gather(c, rois, lp_cx_i32s(c, &ke, 1), 1, 0);
    int sc = lp_cx_scalar(c, f, scale), off = lp_cx_scalar(c, f, half ? 0.5 : 0.0);
    int start = lp_cx_bin(c, LP_TFL_SUB, lp_cx_bin(c, LP_TFL_MUL, r0, sc), off);
    int end = lp_cx_bin(c, LP_TFL_SUB, lp_cx_bin(c, LP_TFL_MUL, r1, sc), off);
    int size = lp_cx_bin(c, LP_TFL_SUB, end, start);
    if (!half) size = lp_cx_bin(c, LP_TFL_MAXIMUM, size, lp_cx_scalar(c, f, 1.0)); /* malformed ROIs become 1x1 */
    int bin = lp_cx_bin(c, LP_TFL_DIV, size, lp_cx_scalar(c, f, (double)O));
    float *pv = lp_table_alloc(c, O * S, sizeof(float), "table of sampling positions");
    float *iv = pv ? lp_table_alloc(c, O * S, sizeof(float), "table of sampling positions") : NULL;
    a.lo = a.hi = a.wl = a.wh = -1;
    if (!pv || !iv) return a; /* lp_table_alloc has set the error */
    for (int64_t p = 0; p < O; p++)
        for (int64_t i = 0; i < S; i++) {
            pv[p * S + i] = (float)p;
            iv[p * S + i] = (float)i + 0.5f;
        }
    int64_t vd[2] = {1, O * S};
    /* (start + p * bin) + ((i + 0.5) * bin) / S, in the reference's order */
    int pos = lp_cx_bin(c, LP_TFL_ADD, lp_cx_bin(c, LP_TFL_ADD, start, lp_cx_bin(c, LP_TFL_MUL, lp_cx_f32s(c, 2, vd, pv), bin)),
                        lp_cx_bin(c, LP_TFL_DIV, lp_cx_bin(c, LP_TFL_MUL, lp_cx_f32s(c, 2, vd, iv), bin),
                                  lp_cx_scalar(c, f, (double)S)));
    int valid = lp_cx_bin(c, LP_TFL_LOGICAL_AND, lp_cx_bin(c, LP_TFL_GREATER_EQUAL, pos, lp_cx_scalar(c, f, -1.0)),
                          lp_cx_bin(c, LP_TFL_LESS_EQUAL, pos, lp_cx_scalar(c, f, (double)L)));
    int p = lp_cx_bin(c, LP_TFL_MAXIMUM, pos, lp_cx_scalar(c, f, 0.0));
    int low = lp_cx_un(c, LP_TFL_FLOOR, p);
    int last = lp_cx_scalar(c, f, (double)(L - 1));
    int at_end = lp_cx_bin(c, LP_TFL_GREATER_EQUAL, low, last);
    low = lp_cx_select(c, at_end, last, low);
    p = lp_cx_select(c, at_end, last, p);
    int high = lp_cx_select(c, at_end, last, lp_cx_bin(c, LP_TFL_ADD, low, lp_cx_scalar(c, f, 1.0)));
    int l = lp_cx_bin(c, LP_TFL_SUB, p, low);
    int h = lp_cx_bin(c, LP_TFL_SUB, lp_cx_scalar(c, f, 1.0), l);
    int vf = lp_cx_cast(c, valid, f);
    a.wl = lp_cx_bin(c, LP_TFL_MUL, h, vf);
    a.wh = lp_cx_bin(c, LP_TFL_MUL, l, vf);
    a.lo = lp_cx_cast(c, low, LP_DT_I32);
    a.hi = lp_cx_cast(c, high, LP_DT_I32);
    return a;
}

static lp_status ra_lower(lp_ctx *c, const lp_node *n) {
    int half, avg;
    int64_t oh, ow, S;
    LP_TRY(ra_spec(c, n, &half, &avg, &oh, &ow, &S));
    if (S == 0)
        return lp_fail(c, LP_ERR_UNSUPPORTED,
                       "sampling_ratio 0 (an adaptive sampling grid that depends on the ROI values) is not supported");
    const lp_dtype f = LP_DT_F32;
    lp_tensor *X = T(n->in[0]), *Y = T(n->out[0]);
    int64_t N = X->dims[0], C = X->dims[1], H = X->dims[2], W = X->dims[3], R = Y->dims[0];
    if (C < 0 || H < 0 || W < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "channels and spatial dimensions must be static");
    float scale = lp_attr_f(c, n, "spatial_scale", 1.0f);
    int perm[4] = {0, 2, 3, 1};
    int xs = lp_cx_reshape(c, lp_cx_transpose(c, lp_cx_cast(c, n->in[0], f), perm), 2,
                           (int64_t[2]){N < 0 ? N : N * H * W, C});
    int rois = lp_cx_cast(c, n->in[1], f);
    ra_axis ay = ra_axis_of(c, rois, 1, H, oh, S, half, scale), ax = ra_axis_of(c, rois, 0, W, ow, S, half, scale);
    if (c->err->code) return c->err->code;
    int64_t ycol[3] = {R, oh * S, 1}, xrow[3] = {R, 1, ow * S}, bd[3] = {R, 1, 1};
    int boff = lp_cx_reshape(c, lp_cx_bin(c, LP_TFL_MUL, lp_cx_cast(c, n->in[2], LP_DT_I32), lp_cx_scalar(c, LP_DT_I32, (double)(H * W))), 3, bd);
    int yrow[2], xcol[2], wy[2], wx[2];
    int iw = lp_cx_scalar(c, LP_DT_I32, (double)W);
    yrow[0] = lp_cx_bin(c, LP_TFL_ADD, boff, lp_cx_reshape(c, lp_cx_bin(c, LP_TFL_MUL, ay.lo, iw), 3, ycol));
    yrow[1] = lp_cx_bin(c, LP_TFL_ADD, boff, lp_cx_reshape(c, lp_cx_bin(c, LP_TFL_MUL, ay.hi, iw), 3, ycol));
    xcol[0] = lp_cx_reshape(c, ax.lo, 3, xrow);
    xcol[1] = lp_cx_reshape(c, ax.hi, 3, xrow);
    int64_t ycol4[4] = {R, oh * S, 1, 1}, xrow4[4] = {R, 1, ow * S, 1};
    wy[0] = lp_cx_reshape(c, ay.wl, 4, ycol4);
    wy[1] = lp_cx_reshape(c, ay.wh, 4, ycol4);
    wx[0] = lp_cx_reshape(c, ax.wl, 4, xrow4);
    wx[1] = lp_cx_reshape(c, ax.wh, 4, xrow4);
    int acc = -1;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            int px = lp_cx_gather(c, xs, lp_cx_bin(c, LP_TFL_ADD, yrow[i], xcol[j]), 0, 0); /* [R, OH*S, OW*S, C] */
            int term = lp_cx_bin(c, LP_TFL_MUL, lp_cx_bin(c, LP_TFL_MUL, wy[i], wx[j]), px);
            acc = acc < 0 ? term : lp_cx_bin(c, avg ? LP_TFL_ADD : LP_TFL_MAXIMUM, acc, term);
        }
    /* [R*OH, S, OW, S, C] reduced over the samples */
    int64_t r5[5] = {R < 0 ? R : R * oh, S, ow, S, C};
    if (R < 0) r5[0] = lp_graph_new_sym(c->g, NULL);
    int axes[2] = {1, 3};
    int red = lp_cx_reduce(c, avg ? LP_TFL_SUM : LP_TFL_REDUCE_MAX, lp_cx_reshape(c, acc, 5, r5), axes, 2, 0);
    if (avg) red = lp_cx_bin(c, LP_TFL_DIV, red, lp_cx_scalar(c, f, (double)(S * S)));
    int y = lp_cx_reshape(c, red, 4, (int64_t[4]){R, oh, ow, C});
    int back[4] = {0, 3, 1, 2};
    return lp_cx_bind(c, lp_cx_transpose(c, y, back), n->out[0]);
}

const lp_op_impl lp_impl_RoiAlign = {ra_infer, NULL, ra_lower};

/* ---------------- NonMaxSuppression (10, 11) ----------------
 * One TFLite NON_MAX_SUPPRESSION_V4 per (batch, class), made to follow ONNX exactly:
 *   - ONNX suppresses when IoU > iou_threshold, the kernel when IoU >= its threshold: it gets the
 *     next float above iou_threshold (for a run-time threshold t: t + t * (2^-24 + 2^-47), which
 *     rounds to that next float), at least the smallest normal float (IoU 0, boxes that do not
 *     overlap, never suppresses in ONNX); its IoU arithmetic is ONNX's term for term once the
 *     corners are ordered (min/max of the two corners, or center -+ size/2 for center_point_box);
 *   - ONNX takes equal scores in index order; the kernel's queue does not promise that, so the
 *     boxes are first sorted by TOPK_V2 (ties: lower index first) and the kernel gets strictly
 *     decreasing stand-in scores, -1 for boxes it must not consider (threshold 0);
 *   - boxes of zero area never suppress and are never suppressed in ONNX, and with
 *     iou_threshold >= 1 nothing is suppressed. The kernel re-queues a selected box and drops it
 *     only through its IoU with itself, which is 0 for such a box (or below a threshold above
 *     1), so it would select it again and again: these boxes bypass the kernel and are merged
 *     with its selection (SCATTER_ND) in score order;
 *   - at most max_output_boxes_per_class (no input: 0) boxes per class: the first ones in score
 *     order (CUMSUM).
 * The (batch, class, box) rows of every class are concatenated and the selected ones kept with
 * WHERE and GATHER: the output has a run-time length. */

static lp_status nms_check(lp_ctx *c, const lp_node *n) {
    lp_tensor *b = T(n->in[0]), *s = T(n->in[1]);
    LP_TRY(lp_need_rank(c, b, "boxes"));
    LP_TRY(lp_need_rank(c, s, "scores"));
    if (b->rank != 3 || b->dims[2] != 4) return lp_fail(c, LP_ERR_INVALID, "boxes must be [batches, boxes, 4]");
    if (s->rank != 3) return lp_fail(c, LP_ERR_INVALID, "scores must be [batches, classes, boxes]");
    if (!lp_cx_float_ok(b->dtype) || !lp_cx_float_ok(s->dtype)) return lp_fail(c, LP_ERR_INVALID, "boxes and scores must be float");
    return LP_OK;
}

static lp_status nms_infer(lp_ctx *c, const lp_node *n) {
    LP_TRY(nms_check(c, n));
    int64_t d[2] = {lp_graph_new_sym(c->g, NULL), 3};
    lp_set_out(c, n, 0, LP_DT_I64, 2, d);
    return LP_OK;
}

/* a scalar float input (shape [] or [1]) as a float32 scalar tensor */
static int nms_scalar_in(lp_ctx *c, const lp_node *n, int k) {
    return lp_cx_reshape(c, lp_cx_cast(c, n->in[k], LP_DT_F32), 0, NULL);
}

#define NMS_MAX_PAIRS 4096

static lp_status nms_lower(lp_ctx *c, const lp_node *n) {
    LP_TRY(nms_check(c, n));
    const lp_dtype f = LP_DT_F32, i32 = LP_DT_I32;
    lp_tensor *B = T(n->in[0]), *S = T(n->in[1]);
    int64_t nb = B->dims[0], nbox = B->dims[1], ncls = S->dims[1];
    if (nb < 0 || nbox < 0 || ncls < 0)
        return lp_fail(c, LP_ERR_UNSUPPORTED, "batch, class and box counts must be static (one kernel per batch and class)");
    if (nb * ncls > NMS_MAX_PAIRS)
        return lp_fail(c, LP_ERR_LIMIT, "%lld batch-class pairs (one kernel each, at most %d)", (long long)(nb * ncls),
                       NMS_MAX_PAIRS);
    int center = (int)lp_attr_i(c, n, "center_point_box", 0);
    if (center != 0 && center != 1) return lp_fail(c, LP_ERR_INVALID, "attribute 'center_point_box'=%d", center);
    int64_t M, mv;
    int mx; /* min(max_output_boxes_per_class, boxes), int32 scalar */
    if (!lp_has_in(n, 2)) {
        M = 0;
        mx = lp_cx_scalar(c, i32, 0);
    } else if (lp_known_ints(c, n, 2, &mv, 1) == 1) {
        M = mv < 0 ? 0 : mv > nbox ? nbox : mv;
        mx = lp_cx_scalar(c, i32, (double)M);
    } else {
        int m64 = lp_cx_reshape(c, lp_cx_cast(c, n->in[2], LP_DT_I64), 0, NULL);
        m64 = lp_cx_bin(c, LP_TFL_MAXIMUM, lp_cx_bin(c, LP_TFL_MINIMUM, m64, lp_cx_scalar(c, LP_DT_I64, (double)nbox)),
                        lp_cx_scalar(c, LP_DT_I64, 0));
        mx = lp_cx_cast(c, m64, i32);
        M = lp_graph_new_sym(c->g, NULL);
    }
    /* the kernel's IoU threshold, and whether nothing is suppressed at all (t >= 1) */
    int iou, no_supp = -1;
    int all_free = 0;
    double tv = 0;
    if (!lp_has_in(n, 3) || lp_const_scalar(c, n->in[3], &tv)) {
        float t = (float)tv, t1 = nextafterf(t, INFINITY);
        iou = lp_cx_scalar(c, f, t1 > FLT_MIN ? t1 : FLT_MIN);
        all_free = t >= 1.0f;
    } else {
        int t = nms_scalar_in(c, n, 3);
        const double bump = ldexp(1.0, -24) + ldexp(1.0, -47);
        iou = lp_cx_bin(c, LP_TFL_MAXIMUM, lp_cx_bin(c, LP_TFL_ADD, t, lp_cx_bin(c, LP_TFL_MUL, t, lp_cx_scalar(c, f, bump))),
                        lp_cx_scalar(c, f, FLT_MIN));
        no_supp = lp_cx_bin(c, LP_TFL_GREATER_EQUAL, t, lp_cx_scalar(c, f, 1.0));
    }
    int sthr = lp_has_in(n, 4) ? nms_scalar_in(c, n, 4) : -1;
    /* corners [ymin, xmin, ymax, xmax] of every box: [nb, nbox, 4], and areas [nb, nbox] */
    int comp[4];
    if (lp_cx_unpack(c, lp_cx_cast(c, n->in[0], f), 2, comp) < 0) return c->err->code;
    int ymin, xmin, ymax, xmax;
    if (center) {
        /* [x_center, y_center, width, height] */
        int two = lp_cx_scalar(c, f, 2.0);
        int hw = lp_cx_bin(c, LP_TFL_DIV, comp[2], two), hh = lp_cx_bin(c, LP_TFL_DIV, comp[3], two);
        xmin = lp_cx_bin(c, LP_TFL_SUB, comp[0], hw);
        xmax = lp_cx_bin(c, LP_TFL_ADD, comp[0], hw);
        ymin = lp_cx_bin(c, LP_TFL_SUB, comp[1], hh);
        ymax = lp_cx_bin(c, LP_TFL_ADD, comp[1], hh);
    } else {
        ymin = lp_cx_bin(c, LP_TFL_MINIMUM, comp[0], comp[2]);
        ymax = lp_cx_bin(c, LP_TFL_MAXIMUM, comp[0], comp[2]);
        xmin = lp_cx_bin(c, LP_TFL_MINIMUM, comp[1], comp[3]);
        xmax = lp_cx_bin(c, LP_TFL_MAXIMUM, comp[1], comp[3]);
    }
    int corners[4] = {ymin, xmin, ymax, xmax};
    int boxes = lp_cx_pack(c, corners, 4, 2);
    int area = lp_cx_bin(c, LP_TFL_MUL, lp_cx_bin(c, LP_TFL_SUB, ymax, ymin), lp_cx_bin(c, LP_TFL_SUB, xmax, xmin));
    int flat = lp_cx_bin(c, LP_TFL_LESS_EQUAL, area, lp_cx_scalar(c, f, 0.0)); /* [nb, nbox] */
    if (no_supp >= 0) flat = lp_cx_bin(c, LP_TFL_LOGICAL_OR, flat, no_supp);
    int scores = lp_cx_cast(c, n->in[1], f);
    float *rank = lp_arena_alloc(&c->g->arena, sizeof(float) * (size_t)(nbox ? nbox : 1));
    if (!rank) return lp_fail(c, LP_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < nbox; i++) rank[i] = (float)(nbox - i);
    int rankc = lp_cx_f32s(c, 1, &nbox, rank), kbox = lp_cx_scalar(c, i32, (double)nbox);
    int32_t ax0 = 0;
    int axis0 = lp_emit_const(c, i32, 0, NULL, &ax0, "axis"), shp = lp_cx_i32s(c, (int32_t[1]){(int32_t)nbox}, 1);
    int64_t m1[2] = {M, 1};
    int *rows = lp_arena_alloc(&c->g->arena, sizeof(int) * (size_t)(nb * ncls + 1));
    int *masks = lp_arena_alloc(&c->g->arena, sizeof(int) * (size_t)(nb * ncls + 1));
    if (!rows || !masks) return lp_fail(c, LP_ERR_NOMEM, "out of memory");
    int nr = 0;
    for (int64_t b = 0; b < nb && M != 0; b++) {
        int bx = lp_cx_reshape(c, lp_cx_slice(c, boxes, (int64_t[3]){b, 0, 0}, (int64_t[3]){1, -1, -1}), 2,
                               (int64_t[2]){nbox, 4});
        int bflat = lp_cx_reshape(c, lp_cx_slice(c, flat, (int64_t[2]){b, 0}, (int64_t[2]){1, -1}), 1, &nbox);
        for (int64_t k = 0; k < ncls; k++) {
            int sc = lp_cx_reshape(c, lp_cx_slice(c, scores, (int64_t[3]){b, k, 0}, (int64_t[3]){1, 1, -1}), 1, &nbox);
            /* sorted by score, ties by index */
            int sv = lp_emit_tensor(c, f, 1, &nbox, "sorted"), si = lp_emit_tensor(c, i32, 1, &nbox, "order");
            int tin[2] = {sc, kbox}, tout[2] = {sv, si};
            if (sc < 0 || sv < 0 || si < 0 || lp_emit_op(c, LP_TFL_TOPK_V2, tin, 2, tout, 2) < 0) return c->err->code;
            int valid = sthr >= 0 ? lp_cx_bin(c, LP_TFL_GREATER, sv, sthr) : -1;
            int bypass = all_free ? valid : lp_cx_gather(c, bflat, si, 0, 0);
            if (!all_free && valid >= 0) bypass = lp_cx_bin(c, LP_TFL_LOGICAL_AND, bypass, valid);
            int chosen; /* bool [nbox] in sorted order */
            if (all_free) {
                chosen = valid >= 0 ? valid : lp_cx_bin(c, LP_TFL_EQUAL, si, si);
            } else {
                int to_kernel = lp_cx_un(c, LP_TFL_LOGICAL_NOT, bypass);
                if (valid >= 0) to_kernel = lp_cx_bin(c, LP_TFL_LOGICAL_AND, to_kernel, valid);
                int stand = lp_cx_select(c, to_kernel, rankc, lp_cx_scalar(c, f, -1.0));
                int sorted_boxes = lp_cx_gather(c, bx, si, 0, 0);
                int sel = lp_emit_tensor(c, i32, 1, &M, "selected"), cnt = lp_emit_tensor(c, i32, 0, NULL, "count");
                int nin[5] = {sorted_boxes, stand, mx, iou, lp_cx_scalar(c, f, 0.0)}, nout[2] = {sel, cnt};
                for (int i = 0; i < 5; i++)
                    if (nin[i] < 0) return c->err->code;
                if (sel < 0 || cnt < 0 || lp_emit_op(c, LP_TFL_NON_MAX_SUPPRESSION_V4, nin, 5, nout, 2) < 0)
                    return c->err->code;
                /* the kernel's picks (the first cnt entries) as a mask over the sorted boxes */
                int real = lp_cx_cast(c, lp_cx_bin(c, LP_TFL_LESS, lp_cx_iota(c, mx, M), cnt), i32);
                int hit = lp_emit_tensor(c, i32, 1, &nbox, "picked");
                int sin_[3] = {lp_cx_reshape(c, sel, 2, m1), real, shp};
                if (hit < 0 || sin_[0] < 0 || sin_[1] < 0 || lp_emit_op(c, LP_TFL_SCATTER_ND, sin_, 3, &hit, 1) < 0)
                    return c->err->code;
                chosen = lp_cx_bin(c, LP_TFL_LOGICAL_OR, lp_cx_bin(c, LP_TFL_GREATER, hit, lp_cx_scalar(c, i32, 0)), bypass);
            }
            /* the first max_output of them */
            int csum = lp_emit_tensor(c, i32, 1, &nbox, "rank");
            int cin[2] = {lp_cx_cast(c, chosen, i32), axis0};
            if (csum < 0 || cin[0] < 0 || lp_emit_op(c, LP_TFL_CUMSUM, cin, 2, &csum, 1) < 0) return c->err->code;
            masks[nr] = lp_cx_bin(c, LP_TFL_LOGICAL_AND, chosen, lp_cx_bin(c, LP_TFL_LESS_EQUAL, csum, mx));
            int zero = lp_cx_bin(c, LP_TFL_MUL, si, lp_cx_scalar(c, i32, 0));
            int cols[3] = {lp_cx_bin(c, LP_TFL_ADD, zero, lp_cx_scalar(c, i32, (double)b)),
                           lp_cx_bin(c, LP_TFL_ADD, zero, lp_cx_scalar(c, i32, (double)k)), si};
            rows[nr++] = lp_cx_pack(c, cols, 3, 1);
            if (c->err->code) return c->err->code;
        }
    }
    if (nr == 0) {
        /* nothing can be selected */
        int64_t d0[2] = {0, 3};
        return lp_cx_bind(c, lp_cx_const(c, LP_DT_I64, 2, d0, NULL), n->out[0]);
    }
    int all = lp_cx_concat(c, rows, nr, 0), ok = lp_cx_concat(c, masks, nr, 0);
    if (all < 0 || ok < 0) return c->err->code;
    /* WHERE gives the [K, 1] positions of the selected rows */
    int64_t wd[2] = {lp_graph_new_sym(c->g, NULL), 1};
    int pos = lp_emit_tensor(c, LP_DT_I64, 2, wd, "where");
    if (pos < 0 || lp_emit_op(c, LP_TFL_WHERE, &ok, 1, &pos, 1) < 0) return c->err->code;
    int idx = lp_cx_reshape(c, pos, 1, (int64_t[1]){wd[0]});
    return lp_cx_bind(c, lp_cx_cast(c, lp_cx_gather(c, all, idx, 0, 0), LP_DT_I64), n->out[0]);
}

const lp_op_impl lp_impl_NonMaxSuppression = {nms_infer, NULL, nms_lower};
