/* Recurrent networks: RNN, GRU, LSTM (ONNX opsets 7..22).
 *
 * Lowering unrolls the time loop (the sequence length must be static; the batch may be dynamic):
 *   - X times W for all time steps at once: one FULLY_CONNECTED over [T, B, I] (bias Wb + Rb folded
 *     in), then UNPACK into T steps of [B, gates*H];
 *   - per step: FULLY_CONNECTED of the previous state with R, elementwise gate math, activations;
 *   - Y is a PACK of the per-step states, reshaped to ONNX's [T, D, B, H] (layout 0) or
 *     [B, T, D, H] (layout 1); Y_h / Y_c are PACKs of the final states.
 * A zero initial state (initial_h / initial_c absent) makes the first step skip its recurrent terms.
 * sequence_lens masks each step (SELECT_V2 on `t < len[b]`): a masked step keeps the state and
 * writes zeros to Y, which is ONNX's (and onnxruntime's) meaning for forward and reverse
 * directions alike, for constant and runtime lengths. Rows with length 0 get Y_h = Y_c = 0, as in
 * onnxruntime.
 *
 * Semantics follow the ONNX spec, with onnxruntime's reading where the spec is loose:
 *   - activation_alpha / activation_beta are consumed in order by the activations that take them;
 *     missing values default to the ONNX op's defaults (LeakyRelu 0.01, HardSigmoid 0.2/0.5,
 *     Elu 1.0, ThresholdedRelu 1.0); Affine and ScaledTanh have no defaults and need them given;
 *   - `clip` bounds the inputs of the gate activations (f, g), not the cell state before h;
 *   - input_forget couples the gates as f = 1 - i;
 *   - bidirectional with only one direction's activations listed uses them for both.
 * TFLite's UNIDIRECTIONAL_SEQUENCE_LSTM is not used: its states are variable tensors that persist
 * between invocations, it fixes the gate activation to sigmoid and orders gates differently. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ops.h"

#define T(id) lp_T(c, (id))

enum { K_RNN, K_GRU, K_LSTM };
static const int n_gates_of[] = {1, 3, 4};
static const int n_acts_of[] = {1, 2, 3};

enum {
    A_RELU, A_TANH, A_SIGMOID, A_AFFINE, A_LEAKYRELU, A_THRESHOLDEDRELU, A_SCALEDTANH, A_HARDSIGMOID,
    A_ELU, A_SOFTSIGN, A_SOFTPLUS
};

static const struct {
    const char *name;
    int alpha, beta; /* 1: takes it; default below */
    float def_alpha, def_beta;
    int needs_value; /* no ONNX default: must be given */
} act_table[] = {
    [A_RELU] = {"Relu", 0, 0, 0, 0, 0},
    [A_TANH] = {"Tanh", 0, 0, 0, 0, 0},
    [A_SIGMOID] = {"Sigmoid", 0, 0, 0, 0, 0},
    [A_AFFINE] = {"Affine", 1, 1, 0, 0, 1},
    [A_LEAKYRELU] = {"LeakyRelu", 1, 0, 0.01f, 0, 0},
    [A_THRESHOLDEDRELU] = {"ThresholdedRelu", 1, 0, 1.0f, 0, 0},
    [A_SCALEDTANH] = {"ScaledTanh", 1, 1, 0, 0, 1},
    [A_HARDSIGMOID] = {"HardSigmoid", 1, 1, 0.2f, 0.5f, 0},
    [A_ELU] = {"Elu", 1, 0, 1.0f, 0, 0},
    [A_SOFTSIGN] = {"Softsign", 0, 0, 0, 0, 0},
    [A_SOFTPLUS] = {"Softplus", 0, 0, 0, 0, 0},
};
#define N_ACT_KINDS ((int)(sizeof act_table / sizeof act_table[0]))

typedef struct act {
    int kind;
    float alpha, beta;
} act;

/* attributes and shapes, shared by infer and lower */
typedef struct rnn {
    int kind;
    int D;        /* num_directions */
    int reverse;  /* direction == "reverse" */
    int layout;   /* 0: [T, B, ...]; 1: [B, T, ...] */
    int64_t Tn, B, I, H;
    int has_clip;
    float clip;
    int input_forget, lbr;
    act acts[6]; /* per direction: RNN f; GRU f g; LSTM f g h */
    struct kcache *kc; /* lowering only */
} rnn;

static int streq_nocase(const char *a, const char *b) {
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
    return *a == *b;
}

static lp_status parse(lp_ctx *c, const lp_node *n, rnn *r) {
    memset(r, 0, sizeof *r);
    r->kind = n->op == LP_OP_LSTM ? K_LSTM : n->op == LP_OP_GRU ? K_GRU : K_RNN;
    int ng = n_gates_of[r->kind], na = n_acts_of[r->kind];
    const char *dir = lp_attr_s(c, n, "direction", "forward");
    if (c->err->code != LP_OK) return c->err->code;
    if (strcmp(dir, "forward") == 0) r->D = 1;
    else if (strcmp(dir, "reverse") == 0) r->D = 1, r->reverse = 1;
    else if (strcmp(dir, "bidirectional") == 0) r->D = 2;
    else return lp_fail(c, LP_ERR_INVALID, "attribute 'direction'='%s' is not forward, reverse or bidirectional", dir);
    r->layout = (int)lp_attr_i(c, n, "layout", 0);
    if (r->layout != 0 && r->layout != 1)
        return lp_fail(c, LP_ERR_INVALID, "attribute 'layout'=%d must be 0 or 1", r->layout);
    if (lp_node_attr(n, "clip")) {
        r->has_clip = 1;
        r->clip = lp_attr_f(c, n, "clip", 0);
        if (!(r->clip > 0)) return lp_fail(c, LP_ERR_INVALID, "attribute 'clip'=%g must be positive", r->clip);
    }
    r->input_forget = r->kind == K_LSTM && lp_attr_i(c, n, "input_forget", 0) != 0;
    r->lbr = r->kind == K_GRU && lp_attr_i(c, n, "linear_before_reset", 0) != 0;
    if (c->err->code != LP_OK) return c->err->code;

    /* activations: defaults, then the attribute (one list for both directions is repeated) */
    static const int defaults[3][3] = {{A_TANH}, {A_SIGMOID, A_TANH}, {A_SIGMOID, A_TANH, A_TANH}};
    int kinds[6];
    for (int d = 0; d < r->D; d++)
        for (int k = 0; k < na; k++) kinds[d * na + k] = defaults[r->kind][k];
    const lp_attr *as = lp_node_attr(n, "activations");
    if (as) {
        if (as->type != LP_ATTR_STRINGS) return lp_fail(c, LP_ERR_INVALID, "attribute 'activations' must be a list of strings");
        if (as->n != na * r->D && !(r->D == 2 && as->n == na))
            return lp_fail(c, LP_ERR_INVALID, "attribute 'activations' has %d names; %s with %d direction(s) takes %d",
                           as->n, lp_op_name(n->op), r->D, na * r->D);
        for (int i = 0; i < na * r->D; i++) {
            const char *s = as->strings[i % as->n];
            int k = -1;
            for (int j = 0; j < N_ACT_KINDS && k < 0; j++)
                if (streq_nocase(s, act_table[j].name)) k = j;
            if (k < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "activation '%s' is not an ONNX recurrent activation", s);
            kinds[i] = k;
        }
    }
    float alphas[16], betas[16];
    int n_alpha = lp_node_attr(n, "activation_alpha") ? lp_attr_floats(c, n, "activation_alpha", alphas, 16) : 0;
    int n_beta = lp_node_attr(n, "activation_beta") ? lp_attr_floats(c, n, "activation_beta", betas, 16) : 0;
    if (n_alpha < 0 || n_beta < 0) return c->err->code;
    int ia = 0, ib = 0;
    for (int i = 0; i < na * r->D; i++) {
        act *a = &r->acts[i];
        a->kind = kinds[i];
        a->alpha = act_table[a->kind].def_alpha;
        a->beta = act_table[a->kind].def_beta;
        if (act_table[a->kind].alpha) {
            if (ia < n_alpha) a->alpha = alphas[ia++];
            else if (act_table[a->kind].needs_value)
                return lp_fail(c, LP_ERR_INVALID, "activation %s needs a value in 'activation_alpha'",
                               act_table[a->kind].name);
        }
        if (act_table[a->kind].beta) {
            if (ib < n_beta) a->beta = betas[ib++];
            else if (act_table[a->kind].needs_value)
                return lp_fail(c, LP_ERR_INVALID, "activation %s needs a value in 'activation_beta'",
                               act_table[a->kind].name);
        }
    }

    /* shapes: X [T, B, I] (layout 1: [B, T, I]), W [D, ng*H, I], R [D, ng*H, H] */
    const lp_tensor *x = T(n->in[0]), *w = T(n->in[1]), *rr = T(n->in[2]);
    LP_TRY(lp_need_rank(c, x, "X"));
    LP_TRY(lp_need_rank(c, w, "W"));
    LP_TRY(lp_need_rank(c, rr, "R"));
    if (x->rank != 3 || w->rank != 3 || rr->rank != 3)
        return lp_fail(c, LP_ERR_INVALID, "X, W and R must be 3-D (ranks %d, %d, %d)", x->rank, w->rank, rr->rank);
    if (!lp_dtype_is_float(x->dtype))
        return lp_fail(c, LP_ERR_INVALID, "X has type %s; %s takes floating point", lp_dtype_name(x->dtype),
                       lp_op_name(n->op));
    r->Tn = x->dims[r->layout ? 1 : 0];
    r->B = x->dims[r->layout ? 0 : 1];
    r->I = x->dims[2];
    r->H = rr->dims[2];
    int64_t hs = lp_attr_i(c, n, "hidden_size", -1);
    if (c->err->code != LP_OK) return c->err->code;
    if (r->H < 0) r->H = hs;
    if (r->H < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "the hidden size (dimension 2 of R) must be static");
    if (hs >= 0 && hs != r->H)
        return lp_fail(c, LP_ERR_INVALID, "attribute 'hidden_size'=%lld but R has %lld columns", (long long)hs,
                       (long long)r->H);
    if ((w->dims[0] >= 0 && w->dims[0] != r->D) || (rr->dims[0] >= 0 && rr->dims[0] != r->D))
        return lp_fail(c, LP_ERR_INVALID, "W and R must have %d direction(s) in dimension 0 for direction '%s'", r->D, dir);
    if ((w->dims[1] >= 0 && w->dims[1] != ng * r->H) || (rr->dims[1] >= 0 && rr->dims[1] != ng * r->H))
        return lp_fail(c, LP_ERR_INVALID, "W and R must have %d*hidden_size = %lld rows", ng, (long long)(ng * r->H));
    if (w->dims[2] >= 0 && r->I >= 0 && w->dims[2] != r->I)
        return lp_fail(c, LP_ERR_INVALID, "W has %lld columns but the input size is %lld", (long long)w->dims[2],
                       (long long)r->I);
    if (r->I < 0) r->I = w->dims[2];
    return LP_OK;
}

static lp_status rnn_infer(lp_ctx *c, const lp_node *n) {
    rnn r;
    LP_TRY(parse(c, n, &r));
    lp_dtype dt = T(n->in[0])->dtype;
    int64_t y[4], s[3];
    if (r.layout == 0) {
        y[0] = r.Tn, y[1] = r.D, y[2] = r.B, y[3] = r.H;
        s[0] = r.D, s[1] = r.B, s[2] = r.H;
    } else {
        y[0] = r.B, y[1] = r.Tn, y[2] = r.D, y[3] = r.H;
        s[0] = r.B, s[1] = r.D, s[2] = r.H;
    }
    lp_set_out(c, n, 0, dt, 4, y);
    lp_set_out(c, n, 1, dt, 3, s);
    lp_set_out(c, n, 2, dt, 3, s);
    return LP_OK;
}

/* ---------------- emitters (tensor ids only: the tensor array may move while emitting) ---------------- */

typedef struct em {
    lp_ctx *c;
    char tag[64]; /* names of the tensors of the current step */
} em;

static int new_f32(lp_ctx *c, int rank, const int64_t *dims, const char *hint) {
    return lp_emit_tensor(c, LP_DT_F32, rank, dims, hint);
}

/* a op b (elementwise, broadcasting) */
static int bin(lp_ctx *c, lp_op op, int a, int b, const char *hint) {
    if (a < 0 || b < 0) return -1;
    int rank;
    int64_t dims[LP_MAX_RANK];
    lp_tensor ta = *T(a), tb = *T(b);
    if (lp_broadcast(c, &ta, &tb, &rank, dims) != LP_OK) return -1;
    lp_dtype dt = (op == LP_TFL_GREATER || op == LP_TFL_LESS || op == LP_TFL_GREATER_EQUAL) ? LP_DT_BOOL : ta.dtype;
    int out = lp_emit_tensor(c, dt, rank, dims, hint);
    int in[2] = {a, b};
    if (out < 0 || lp_emit_op(c, op, in, 2, &out, 1) < 0) return -1;
    return out;
}

static int un(lp_ctx *c, lp_op op, int x, const char *hint) {
    if (x < 0) return -1;
    lp_tensor tx = *T(x);
    int out = lp_emit_tensor(c, tx.dtype, tx.rank, tx.dims, hint);
    if (out < 0 || lp_emit_op(c, op, &x, 1, &out, 1) < 0) return -1;
    return out;
}

/* float32 scalars and the int32 axis constant, emitted once per node (a long unrolled sequence
 * would otherwise carry thousands of copies) */
typedef struct kcache {
    int n;
    float v[16];
    int id[16];
    int axis1; /* int32 1 */
} kcache;

static int scalar(lp_ctx *c, kcache *kc, float v) {
    for (int i = 0; i < kc->n; i++)
        if (kc->v[i] == v && !(v == 0 && signbit(v) != signbit(kc->v[i]))) return kc->id[i];
    int id = lp_emit_f32_scalar(c, v, "k");
    if (id >= 0 && kc->n < 16) {
        kc->v[kc->n] = v;
        kc->id[kc->n++] = id;
    }
    return id;
}

static int select2(lp_ctx *c, int m, int a, int b, const char *hint) {
    if (m < 0 || a < 0 || b < 0) return -1;
    lp_tensor ta = *T(a);
    int out = lp_emit_tensor(c, ta.dtype, ta.rank, ta.dims, hint);
    int in[3] = {m, a, b};
    if (out < 0 || lp_emit_op(c, LP_TFL_SELECT_V2, in, 3, &out, 1) < 0) return -1;
    return out;
}

/* y = x W^T + bias for W [units, in] (bias -1: none); keeps x's leading dims */
static int fc(lp_ctx *c, int x, int w, int bias, const char *hint) {
    if (x < 0 || w < 0) return -1;
    lp_tensor tx = *T(x);
    int64_t dims[LP_MAX_RANK];
    memcpy(dims, tx.dims, sizeof dims);
    dims[tx.rank - 1] = T(w)->dims[0];
    int out = new_f32(c, tx.rank, dims, hint);
    int in[3] = {x, w, bias};
    int id = out < 0 ? -1 : lp_emit_op(c, LP_TFL_FULLY_CONNECTED, in, 3, &out, 1);
    if (id < 0) return -1;
    lp_emit_params(c, id)->keep_num_dims = tx.rank > 2;
    return out;
}

/* split x along its last axis into `k` equal parts */
static int split_last(lp_ctx *c, struct kcache *kc, int x, int k, int *parts, const char *hint) {
    if (x < 0) return -1;
    lp_tensor tx = *T(x);
    int64_t dims[LP_MAX_RANK];
    memcpy(dims, tx.dims, sizeof dims);
    dims[tx.rank - 1] /= k;
    int32_t ax = tx.rank - 1; /* always 1 here: [B, gates*H] */
    int axis = ax == 1 && kc->axis1 > 0 ? kc->axis1 : lp_emit_const(c, LP_DT_I32, 0, NULL, &ax, "axis");
    if (axis < 0) return -1;
    if (ax == 1) kc->axis1 = axis;
    for (int i = 0; i < k; i++) {
        char h[96];
        snprintf(h, sizeof h, "%.80s%d", hint, i);
        if ((parts[i] = lp_emit_tensor(c, tx.dtype, tx.rank, dims, h)) < 0) return -1;
    }
    int in[2] = {axis, x};
    int id = lp_emit_op(c, LP_TFL_SPLIT, in, 2, parts, k);
    if (id < 0) return -1;
    lp_emit_params(c, id)->num = k;
    return 0;
}

/* clip to [-clip, clip] when the attribute is set */
static int clipped(lp_ctx *c, const rnn *r, int x, const char *tag) {
    if (!r->has_clip || x < 0) return x;
    char h[96];
    snprintf(h, sizeof h, "%.80s_clip", tag);
    int lo = bin(c, LP_TFL_MAXIMUM, x, scalar(c, r->kc, -r->clip), h);
    return bin(c, LP_TFL_MINIMUM, lo, scalar(c, r->kc, r->clip), h);
}

/* activation a(x) with the ONNX recurrent activation formulas */
static int activation(lp_ctx *c, kcache *kc, const act *a, int x, const char *tag) {
    char h[96];
    snprintf(h, sizeof h, "%.70s_%s", tag, act_table[a->kind].name);
    switch (a->kind) {
    case A_RELU: return un(c, LP_TFL_RELU, x, h);
    case A_TANH: return un(c, LP_TFL_TANH, x, h);
    case A_SIGMOID: return un(c, LP_TFL_LOGISTIC, x, h);
    case A_AFFINE: return bin(c, LP_TFL_ADD, bin(c, LP_TFL_MUL, x, scalar(c, kc, a->alpha), h), scalar(c, kc, a->beta), h);
    case A_LEAKYRELU: {
        int y = un(c, LP_TFL_LEAKY_RELU, x, h);
        if (y >= 0) lp_emit_params(c, T(y)->producer)->alpha = a->alpha;
        return y;
    }
    case A_THRESHOLDEDRELU: /* x > alpha ? x : 0 */
        return select2(c, bin(c, LP_TFL_GREATER, x, scalar(c, kc, a->alpha), h), x, scalar(c, kc, 0), h);
    case A_SCALEDTANH:
        return bin(c, LP_TFL_MUL, un(c, LP_TFL_TANH, bin(c, LP_TFL_MUL, x, scalar(c, kc, a->beta), h), h),
                   scalar(c, kc, a->alpha), h);
    case A_HARDSIGMOID: {
        int v = bin(c, LP_TFL_ADD, bin(c, LP_TFL_MUL, x, scalar(c, kc, a->alpha), h), scalar(c, kc, a->beta), h);
        return bin(c, LP_TFL_MINIMUM, bin(c, LP_TFL_MAXIMUM, v, scalar(c, kc, 0), h), scalar(c, kc, 1), h);
    }
    case A_ELU: {
        int e = un(c, LP_TFL_ELU, x, h); /* x >= 0 ? x : exp(x) - 1 */
        if (a->alpha == 1.0f) return e;
        /* relu(x) + alpha * min(elu(x), 0) */
        int neg = bin(c, LP_TFL_MUL, bin(c, LP_TFL_MINIMUM, e, scalar(c, kc, 0), h), scalar(c, kc, a->alpha), h);
        return bin(c, LP_TFL_ADD, un(c, LP_TFL_RELU, x, h), neg, h);
    }
    case A_SOFTSIGN:
        return bin(c, LP_TFL_DIV, x, bin(c, LP_TFL_ADD, un(c, LP_TFL_ABS, x, h), scalar(c, kc, 1), h), h);
    case A_SOFTPLUS: {
        /* log(1 + exp(x)) = relu(x) + log(1 + exp(-|x|)), without overflow for large x */
        int e = un(c, LP_TFL_EXP, un(c, LP_TFL_NEG, un(c, LP_TFL_ABS, x, h), h), h);
        int l = un(c, LP_TFL_LOG, bin(c, LP_TFL_ADD, e, scalar(c, kc, 1), h), h);
        return bin(c, LP_TFL_ADD, un(c, LP_TFL_RELU, x, h), l, h);
    }
    default: return -1;
    }
}

static int to_f32(lp_ctx *c, int x) {
    if (x < 0 || T(x)->dtype == LP_DT_F32) return x;
    return lp_emit_cast(c, x, LP_DT_F32, -1);
}

/* rows [row0, row0+nrows) of direction d of src ([D, rows, cols] -> [nrows, cols], or [D, n] -> [nrows]),
 * as float32: a new constant when src is constant, else a STRIDED_SLICE. */
static int dir_rows(lp_ctx *c, int src, int d, int64_t row0, int64_t nrows, const char *hint) {
    lp_tensor ts = *T(src);
    int64_t cols = ts.rank == 3 ? ts.dims[2] : 1;
    int64_t od[2] = {nrows, cols};
    if (ts.flags & LP_T_CONST) {
        int64_t rows = ts.dims[1];
        float *v = lp_arena_alloc(&c->g->arena, sizeof(float) * (size_t)(nrows * cols > 0 ? nrows * cols : 1));
        if (!v) {
            lp_fail(c, LP_ERR_NOMEM, "out of memory");
            return -1;
        }
        for (int64_t i = 0; i < nrows * cols; i++)
            v[i] = (float)lp_get_f64(ts.dtype, ts.data, (d * rows + row0) * cols + i);
        return lp_emit_const(c, LP_DT_F32, ts.rank - 1, od, v, hint);
    }
    if (cols < 0) {
        lp_fail(c, LP_ERR_UNSUPPORTED, "the last dimension of '%s' must be static", ts.name);
        return -1;
    }
    int32_t b[3] = {d, (int32_t)row0, 0}, e[3] = {d + 1, (int32_t)(row0 + nrows), (int32_t)cols}, s[3] = {1, 1, 1};
    int x = to_f32(c, src);
    int bi = lp_emit_i32(c, b, ts.rank, "begin"), ei = lp_emit_i32(c, e, ts.rank, "end"),
        si = lp_emit_i32(c, s, ts.rank, "strides");
    int out = new_f32(c, ts.rank - 1, od, hint);
    int in[4] = {x, bi, ei, si};
    int id = (x < 0 || bi < 0 || ei < 0 || si < 0 || out < 0) ? -1 : lp_emit_op(c, LP_TFL_STRIDED_SLICE, in, 4, &out, 1);
    if (id < 0) return -1;
    lp_emit_params(c, id)->shrink_axis_mask = 1;
    return out;
}

/* B[d, a:a+n] + B[d, b:b+n] (b < 0: just the first), folded when B is constant */
static int bias_sum(lp_ctx *c, int bt, int d, int64_t a, int64_t b, int64_t n, const char *hint) {
    if (bt < 0) return -1;
    lp_tensor tb = *T(bt);
    if (tb.flags & LP_T_CONST) {
        int64_t w = tb.dims[1];
        float *v = lp_arena_alloc(&c->g->arena, sizeof(float) * (size_t)(n ? n : 1));
        if (!v) {
            lp_fail(c, LP_ERR_NOMEM, "out of memory");
            return -1;
        }
        for (int64_t i = 0; i < n; i++)
            v[i] = (float)lp_get_f64(tb.dtype, tb.data, d * w + a + i) +
                   (b >= 0 ? (float)lp_get_f64(tb.dtype, tb.data, d * w + b + i) : 0.0f);
        return lp_emit_const(c, LP_DT_F32, 1, &n, v, hint);
    }
    int x = dir_rows(c, bt, d, a, n, hint);
    if (b < 0) return x;
    return bin(c, LP_TFL_ADD, x, dir_rows(c, bt, d, b, n, hint), hint);
}

/* the D slices [B, H] of a state input ([D, B, H]; layout 1: [B, D, H]) */
static int unpack_dirs(lp_ctx *c, const rnn *r, int src, int *out, const char *hint) {
    int x = to_f32(c, src);
    if (x < 0) return -1;
    int64_t dims[2] = {r->B, r->H};
    for (int d = 0; d < r->D; d++)
        if ((out[d] = new_f32(c, 2, dims, hint)) < 0) return -1;
    int id = lp_emit_op(c, LP_TFL_UNPACK, &x, 1, out, r->D);
    if (id < 0) return -1;
    lp_emit_params(c, id)->num = r->D;
    lp_emit_params(c, id)->axis = r->layout ? 1 : 0;
    return 0;
}

/* write f32 tensor x into ONNX output `out` (cast when the output is not float32) */
static lp_status finish_cast(lp_ctx *c, int x, int out) {
    if (x < 0) return c->err->code ? c->err->code : lp_fail(c, LP_ERR_INTERNAL, "lowering failed");
    if (x == out) return LP_OK;
    return lp_emit_cast(c, x, T(out)->dtype, out) < 0 ? c->err->code : LP_OK;
}

/* the tensor an op should write for ONNX output `out`: out itself, or a float32 temporary */
static int out_target(lp_ctx *c, int out, const char *hint) {
    lp_tensor to = *T(out);
    if (to.dtype == LP_DT_F32) return out;
    return new_f32(c, to.rank, to.dims, hint);
}

/* The writer takes at most 64 inputs/outputs per op: longer lists are split into chunks. */
#define MAX_OP_IO 64

/* ids[0..n) ([B, H] each) stacked along `axis` into `out` (-1: a new tensor) */
static int pack_many(lp_ctx *c, const int *ids, int n, int axis, int out, const char *hint) {
    lp_tensor t0 = *T(ids[0]);
    int64_t dims[LP_MAX_RANK];
    int r = 0;
    for (int i = 0; i <= t0.rank; i++) dims[r++] = i == axis ? n : t0.dims[i - (i > axis)];
    if (out < 0 && (out = new_f32(c, r, dims, hint)) < 0) return -1;
    if (n <= MAX_OP_IO) {
        int id = lp_emit_op(c, LP_TFL_PACK, ids, n, &out, 1);
        if (id < 0) return -1;
        lp_emit_params(c, id)->num = n;
        lp_emit_params(c, id)->axis = axis;
        return out;
    }
    /* pack chunks, then concatenate them (recursively: at most 64 per op) */
    int n_chunks = (n + MAX_OP_IO - 1) / MAX_OP_IO;
    int parts[MAX_OP_IO];
    if (n_chunks > MAX_OP_IO) {
        int per = (n + MAX_OP_IO - 1) / MAX_OP_IO; /* steps per part, each part packed recursively */
        n_chunks = (n + per - 1) / per;
        for (int k = 0; k < n_chunks; k++) {
            int m = n - k * per < per ? n - k * per : per;
            if ((parts[k] = pack_many(c, ids + k * per, m, axis, -1, hint)) < 0) return -1;
        }
    } else {
        for (int k = 0; k < n_chunks; k++) {
            int m = n - k * MAX_OP_IO < MAX_OP_IO ? n - k * MAX_OP_IO : MAX_OP_IO;
            if ((parts[k] = pack_many(c, ids + k * MAX_OP_IO, m, axis, -1, hint)) < 0) return -1;
        }
    }
    int id = lp_emit_op(c, LP_TFL_CONCATENATION, parts, n_chunks, &out, 1);
    if (id < 0) return -1;
    lp_emit_params(c, id)->axis = axis;
    return out;
}

/* x split along `axis` into n tensors outs[0..n) (already made) */
static int unpack_many(lp_ctx *c, int x, int n, int axis, const int *outs) {
    if (n <= MAX_OP_IO) {
        int id = lp_emit_op(c, LP_TFL_UNPACK, &x, 1, outs, n);
        if (id < 0) return -1;
        lp_emit_params(c, id)->num = n;
        lp_emit_params(c, id)->axis = axis;
        return 0;
    }
    lp_tensor tx = *T(x);
    for (int k0 = 0; k0 < n; k0 += MAX_OP_IO) {
        int m = n - k0 < MAX_OP_IO ? n - k0 : MAX_OP_IO;
        int32_t b[LP_MAX_RANK] = {0}, sz[LP_MAX_RANK];
        int64_t dims[LP_MAX_RANK];
        for (int i = 0; i < tx.rank; i++) {
            sz[i] = -1; /* to the end: the batch may be dynamic */
            dims[i] = tx.dims[i];
        }
        b[axis] = k0;
        sz[axis] = m;
        dims[axis] = m;
        int bi = lp_emit_i32(c, b, tx.rank, "begin"), si = lp_emit_i32(c, sz, tx.rank, "size");
        int chunk = new_f32(c, tx.rank, dims, "chunk");
        int in[3] = {x, bi, si};
        if (bi < 0 || si < 0 || chunk < 0 || lp_emit_op(c, LP_TFL_SLICE, in, 3, &chunk, 1) < 0) return -1;
        if (unpack_many(c, chunk, m, axis, outs + k0) < 0) return -1;
    }
    return 0;
}

/* A recurrent weight read by one FULLY_CONNECTED per step. A constant filter is packed by
 * XNNPACK once per op: T copies of R, which multiplies memory and runs ~10x slower than the
 * builtin kernels (measured on a 2-layer LSTM, 50 steps). Stored as [1, rows, cols] and reshaped
 * at run time, every step reads the same tensor (no per-op copies). */
static int shared_weight(lp_ctx *c, int w) {
    if (w < 0 || !(T(w)->flags & LP_T_CONST)) return w;
    lp_tensor tw = *T(w);
    int64_t d3[3] = {1, tw.dims[0], tw.dims[1]};
    char name[600];
    snprintf(name, sizeof name, "%.500s_3d", tw.name);
    int w3 = lp_graph_add_const(c->g, name, LP_DT_F32, 3, d3, tw.data, tw.nbytes, 0);
    return w3 < 0 ? -1 : lp_emit_reshape(c, w3, 2, tw.dims, -1);
}

/* ---------------- lowering ---------------- */

typedef struct step_in {
    int x[2];  /* precomputed input projections of this step (GRU: zr and h parts) */
    int h, cs; /* previous hidden / cell state, -1 = zero */
} step_in;

typedef struct weights {
    int r_all, r_zr, r_h; /* recurrent weights (R, or GRU's zr and h rows) */
    int rb_h;             /* GRU linear_before_reset: Rbh */
    int p[3];             /* LSTM peepholes i, o, f */
} weights;

static int rnn_step(lp_ctx *c, const rnn *r, const act *acts, const weights *w, const step_in *s, const char *tag,
                    int *c_out) {
    char h[96];
    snprintf(h, sizeof h, "%.60s_pre", tag);
    int pre = s->x[0];
    if (s->h >= 0) pre = bin(c, LP_TFL_ADD, pre, fc(c, s->h, w->r_all, -1, h), h);
    (void)c_out;
    return activation(c, r->kc, &acts[0], clipped(c, r, pre, tag), tag);
}

static int gru_step(lp_ctx *c, const rnn *r, const act *acts, const weights *w, const step_in *s, const char *tag) {
    char h[96];
    snprintf(h, sizeof h, "%.60s_zr", tag);
    int zr = s->x[0];
    if (s->h >= 0) zr = bin(c, LP_TFL_ADD, zr, fc(c, s->h, w->r_zr, -1, h), h);
    zr = activation(c, r->kc, &acts[0], clipped(c, r, zr, h), h);
    int parts[2];
    if (split_last(c, r->kc, zr, 2, parts, h) < 0) return -1;
    int z = parts[0], rg = parts[1];
    snprintf(h, sizeof h, "%.60s_h", tag);
    int hp = s->x[1];
    if (r->lbr) {
        /* ht = g(Xt*Wh^T + Wbh + rt (.) (Ht-1*Rh^T + Rbh)) */
        int lin = s->h >= 0 ? fc(c, s->h, w->r_h, w->rb_h, h) : w->rb_h;
        if (lin >= 0) hp = bin(c, LP_TFL_ADD, hp, bin(c, LP_TFL_MUL, rg, lin, h), h);
    } else if (s->h >= 0) {
        /* ht = g(Xt*Wh^T + (rt (.) Ht-1)*Rh^T + Rbh + Wbh), the biases are in x */
        hp = bin(c, LP_TFL_ADD, hp, fc(c, bin(c, LP_TFL_MUL, rg, s->h, h), w->r_h, -1, h), h);
    }
    int hc = activation(c, r->kc, &acts[1], clipped(c, r, hp, h), h);
    /* Ht = (1 - zt) (.) ht + zt (.) Ht-1 = ht + zt (.) (Ht-1 - ht) */
    snprintf(h, sizeof h, "%.60s_H", tag);
    if (s->h < 0) return bin(c, LP_TFL_SUB, hc, bin(c, LP_TFL_MUL, z, hc, h), h);
    return bin(c, LP_TFL_ADD, hc, bin(c, LP_TFL_MUL, z, bin(c, LP_TFL_SUB, s->h, hc, h), h), h);
}

static int lstm_step(lp_ctx *c, const rnn *r, const act *acts, const weights *w, const step_in *s, const char *tag,
                     int *c_out) {
    char h[96];
    snprintf(h, sizeof h, "%.60s_gates", tag);
    int gates = s->x[0];
    if (s->h >= 0) gates = bin(c, LP_TFL_ADD, gates, fc(c, s->h, w->r_all, -1, h), h);
    int g[4]; /* i, o, f, c */
    if (split_last(c, r->kc, gates, 4, g, h) < 0) return -1;
    snprintf(h, sizeof h, "%.60s_i", tag);
    int i = g[0];
    if (w->p[0] >= 0 && s->cs >= 0) i = bin(c, LP_TFL_ADD, i, bin(c, LP_TFL_MUL, w->p[0], s->cs, h), h);
    i = activation(c, r->kc, &acts[0], clipped(c, r, i, h), h);
    snprintf(h, sizeof h, "%.60s_f", tag);
    int f;
    if (r->input_forget) {
        f = bin(c, LP_TFL_SUB, scalar(c, r->kc, 1), i, h);
    } else {
        f = g[2];
        if (w->p[2] >= 0 && s->cs >= 0) f = bin(c, LP_TFL_ADD, f, bin(c, LP_TFL_MUL, w->p[2], s->cs, h), h);
        f = activation(c, r->kc, &acts[0], clipped(c, r, f, h), h);
    }
    snprintf(h, sizeof h, "%.60s_c", tag);
    int cc = activation(c, r->kc, &acts[1], clipped(c, r, g[3], h), h);
    snprintf(h, sizeof h, "%.60s_C", tag);
    int C = bin(c, LP_TFL_MUL, i, cc, h);
    if (s->cs >= 0) C = bin(c, LP_TFL_ADD, bin(c, LP_TFL_MUL, f, s->cs, h), C, h);
    snprintf(h, sizeof h, "%.60s_o", tag);
    int o = g[1];
    if (w->p[1] >= 0) o = bin(c, LP_TFL_ADD, o, bin(c, LP_TFL_MUL, w->p[1], C, h), h);
    o = activation(c, r->kc, &acts[0], clipped(c, r, o, h), h);
    snprintf(h, sizeof h, "%.60s_H", tag);
    *c_out = C;
    return bin(c, LP_TFL_MUL, o, activation(c, r->kc, &acts[2], C, h), h);
}

#define MAX_UNROLL 100000 /* time steps x directions */

static lp_status rnn_lower(lp_ctx *c, const lp_node *n) {
    rnn r;
    LP_TRY(parse(c, n, &r));
    if (r.Tn < 0)
        return lp_fail(c, LP_ERR_UNSUPPORTED,
                       "the sequence length (dimension %d of X) must be static: the time loop is unrolled (give the "
                       "input a static shape, e.g. with --input-shape)",
                       r.layout);
    if (r.Tn == 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "the sequence length is 0");
    if (r.I < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "the input size (dimension 2 of X) must be static");
    if (r.Tn * r.D > MAX_UNROLL)
        return lp_fail(c, LP_ERR_LIMIT, "%lld time steps x %d directions exceed the unroll limit %d", (long long)r.Tn,
                       r.D, MAX_UNROLL);
    int kind = r.kind, ng = n_gates_of[kind], na = n_acts_of[kind];
    int64_t H = r.H, Tn = r.Tn;
    kcache kc;
    memset(&kc, 0, sizeof kc);
    r.kc = &kc;
    int in_b = lp_has_in(n, 3) ? n->in[3] : -1, in_seq = lp_has_in(n, 4) ? n->in[4] : -1,
        in_h0 = lp_has_in(n, 5) ? n->in[5] : -1, in_c0 = kind == K_LSTM && lp_has_in(n, 6) ? n->in[6] : -1,
        in_p = kind == K_LSTM && lp_has_in(n, 7) ? n->in[7] : -1;
    if (in_b >= 0 && (T(in_b)->rank != 2 || T(in_b)->dims[1] != 2 * ng * H))
        return lp_fail(c, LP_ERR_INVALID, "B must have shape [%d, %lld]", r.D, (long long)(2 * ng * H));
    if (in_p >= 0 && (T(in_p)->rank != 2 || T(in_p)->dims[1] != 3 * H))
        return lp_fail(c, LP_ERR_INVALID, "P must have shape [%d, %lld]", r.D, (long long)(3 * H));

    /* sequence_lens: ignored when a constant equal to T everywhere; else a [B, 1] int32 mask source */
    int seq2d = -1, seq_zero_rows = 0;
    if (in_seq >= 0) {
        lp_tensor ts = *T(in_seq);
        int all_full = 0;
        if ((ts.flags & LP_T_CONST) && lp_dtype_is_int(ts.dtype)) {
            int64_t ne = lp_tensor_numel(&ts);
            all_full = 1;
            for (int64_t i = 0; i < ne; i++) {
                int64_t v = lp_get_i64(ts.dtype, ts.data, i);
                if (v != Tn) all_full = 0;
                if (v == 0) seq_zero_rows = 1;
            }
        } else {
            seq_zero_rows = 1; /* unknown at conversion time */
        }
        if (!all_full) {
            int sq = in_seq;
            if (ts.dtype != LP_DT_I32) sq = lp_emit_cast(c, sq, LP_DT_I32, -1);
            int64_t d2[2] = {r.B, 1};
            seq2d = sq < 0 ? -1 : lp_emit_reshape(c, sq, 2, d2, -1);
            if (seq2d < 0) return c->err->code;
        }
    }

    int x = to_f32(c, n->in[0]);
    if (x < 0) return c->err->code;
    int h0[2] = {-1, -1}, c0[2] = {-1, -1};
    if (in_h0 >= 0 && unpack_dirs(c, &r, in_h0, h0, "initial_h") < 0) return c->err->code;
    if (in_c0 >= 0 && unpack_dirs(c, &r, in_c0, c0, "initial_c") < 0) return c->err->code;
    int zero = scalar(c, &kc, 0);
    if (zero < 0) return c->err->code;

    int want_y = n->n_out > 0 && n->out[0] >= 0;
    int *ys = want_y ? lp_arena_alloc(&c->g->arena, sizeof(int) * (size_t)(Tn * r.D)) : NULL;
    if (want_y && !ys) return lp_fail(c, LP_ERR_NOMEM, "out of memory");
    int hT[2] = {-1, -1}, cT[2] = {-1, -1};
    int *steps = lp_arena_alloc(&c->g->arena, sizeof(int) * (size_t)Tn * 2);
    if (!steps) return lp_fail(c, LP_ERR_NOMEM, "out of memory");

    for (int d = 0; d < r.D; d++) {
        int rev = r.reverse || d == 1;
        const act *acts = &r.acts[d * na];
        char tag[64];
        weights w;
        memset(&w, -1, sizeof w);
        /* input projections for all steps: [T, B, parts] (layout 1: [B, T, parts]) -> T x [B, parts] */
        int n_parts = kind == K_GRU ? 2 : 1;
        int64_t prow[2] = {0, 2 * H}, pn[2] = {kind == K_GRU ? 2 * H : ng * H, H};
        for (int k = 0; k < n_parts; k++) {
            snprintf(tag, sizeof tag, "d%d_W%d", d, k);
            int wk = dir_rows(c, n->in[1], d, prow[k], pn[k], tag);
            int bk = -1;
            if (in_b >= 0) {
                /* the recurrent bias joins the input bias, except GRU's Rbh with linear_before_reset */
                int add_rb = !(kind == K_GRU && k == 1 && r.lbr);
                bk = bias_sum(c, in_b, d, prow[k], add_rb ? ng * H + prow[k] : -1, pn[k], tag);
                if (bk < 0) return c->err->code;
            }
            int xw = fc(c, x, wk, bk, tag);
            if (xw < 0) return c->err->code;
            int64_t sd[2] = {r.B, pn[k]};
            for (int64_t t = 0; t < Tn; t++) {
                snprintf(tag, sizeof tag, "d%d_t%lld_x%d", d, (long long)t, k);
                if ((steps[t * 2 + k] = new_f32(c, 2, sd, tag)) < 0) return c->err->code;
            }
            int *outs = lp_arena_alloc(&c->g->arena, sizeof(int) * (size_t)Tn);
            if (!outs) return lp_fail(c, LP_ERR_NOMEM, "out of memory");
            for (int64_t t = 0; t < Tn; t++) outs[t] = steps[t * 2 + k];
            if (unpack_many(c, xw, (int)Tn, r.layout ? 1 : 0, outs) < 0) return c->err->code;
        }
        snprintf(tag, sizeof tag, "d%d_R", d);
        if (kind == K_GRU) {
            w.r_zr = shared_weight(c, dir_rows(c, n->in[2], d, 0, 2 * H, tag));
            w.r_h = shared_weight(c, dir_rows(c, n->in[2], d, 2 * H, H, tag));
            if (r.lbr && in_b >= 0) w.rb_h = bias_sum(c, in_b, d, 5 * H, -1, H, tag);
            if (w.r_zr < 0 || w.r_h < 0 || (r.lbr && in_b >= 0 && w.rb_h < 0)) return c->err->code;
        } else {
            w.r_all = shared_weight(c, dir_rows(c, n->in[2], d, 0, ng * H, tag));
            if (w.r_all < 0) return c->err->code;
        }
        if (in_p >= 0)
            for (int k = 0; k < 3; k++) {
                snprintf(tag, sizeof tag, "d%d_P%d", d, k);
                if ((w.p[k] = dir_rows(c, in_p, d, k * H, H, tag)) < 0) return c->err->code;
            }

        step_in s = {{-1, -1}, h0[d], c0[d]};
        for (int64_t k = 0; k < Tn; k++) {
            int64_t t = rev ? Tn - 1 - k : k;
            snprintf(tag, sizeof tag, "d%d_t%lld", d, (long long)t);
            s.x[0] = steps[t * 2];
            s.x[1] = steps[t * 2 + 1];
            int cn = -1, hn;
            if (kind == K_LSTM) hn = lstm_step(c, &r, acts, &w, &s, tag, &cn);
            else if (kind == K_GRU) hn = gru_step(c, &r, acts, &w, &s, tag);
            else hn = rnn_step(c, &r, acts, &w, &s, tag, &cn);
            if (hn < 0 || (kind == K_LSTM && cn < 0)) return c->err->code ? c->err->code : lp_fail(c, LP_ERR_INTERNAL, "step");
            int yt = hn;
            if (seq2d >= 0) {
                /* rows whose sequence has ended keep their state and output zeros */
                int32_t tv = (int32_t)t;
                int tc = lp_emit_i32(c, &tv, 1, "t");
                int m = bin(c, LP_TFL_GREATER, seq2d, tc, tag);
                yt = select2(c, m, hn, zero, tag);
                hn = select2(c, m, hn, s.h >= 0 ? s.h : zero, tag);
                if (kind == K_LSTM) cn = select2(c, m, cn, s.cs >= 0 ? s.cs : zero, tag);
                if (yt < 0 || hn < 0 || (kind == K_LSTM && cn < 0)) return c->err->code;
            }
            if (want_y) ys[t * r.D + d] = yt;
            s.h = hn;
            s.cs = cn;
        }
        if (seq2d >= 0 && seq_zero_rows && (h0[d] >= 0 || c0[d] >= 0)) {
            /* onnxruntime: a row of length 0 has Y_h = Y_c = 0 (not its initial state) */
            int32_t zv = 0;
            int m = bin(c, LP_TFL_GREATER, seq2d, lp_emit_i32(c, &zv, 1, "t"), "nonempty");
            s.h = select2(c, m, s.h, zero, "Y_h");
            if (kind == K_LSTM) s.cs = select2(c, m, s.cs, zero, "Y_c");
            if (s.h < 0 || (kind == K_LSTM && s.cs < 0)) return c->err->code;
        }
        hT[d] = s.h;
        cT[d] = s.cs;
    }

    /* Y: PACK of T*D states in (t, d) order along the time axis, reshaped to 4-D */
    int axis = r.layout ? 1 : 0;
    if (want_y) {
        int64_t pd[3];
        if (r.layout == 0) pd[0] = Tn * r.D, pd[1] = r.B, pd[2] = H;
        else pd[0] = r.B, pd[1] = Tn * r.D, pd[2] = H;
        int packed = new_f32(c, 3, pd, "Y_steps");
        if (packed < 0 || pack_many(c, ys, (int)(Tn * r.D), axis, packed, "Y_steps") < 0) return c->err->code;
        int out = n->out[0];
        int dst = out_target(c, out, "Y");
        lp_tensor to = *T(out);
        if (dst < 0 || lp_emit_reshape(c, packed, 4, to.dims, dst) < 0) return c->err->code;
        LP_TRY(finish_cast(c, dst, out));
    }
    for (int k = 1; k <= 2; k++) {
        if (k >= n->n_out || n->out[k] < 0) continue;
        int *src = k == 1 ? hT : cT;
        if (k == 2 && kind != K_LSTM) continue;
        int out = n->out[k];
        int dst = out_target(c, out, k == 1 ? "Y_h" : "Y_c");
        int id = dst < 0 ? -1 : lp_emit_op(c, LP_TFL_PACK, src, r.D, &dst, 1);
        if (id < 0) return c->err->code;
        lp_emit_params(c, id)->num = r.D;
        lp_emit_params(c, id)->axis = axis;
        LP_TRY(finish_cast(c, dst, out));
    }
    return c->err->code;
}

const lp_op_impl lp_impl_RNN = {rnn_infer, NULL, rnn_lower};
const lp_op_impl lp_impl_GRU = {rnn_infer, NULL, rnn_lower};
const lp_op_impl lp_impl_LSTM = {rnn_infer, NULL, rnn_lower};
