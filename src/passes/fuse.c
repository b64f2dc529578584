/* fuse: the fusions a hand-built TFLite model would have, as a table of rewrite rules
 * (root op, rule) applied until nothing changes:
 *  - x * relu6(x + 3) / 6 (and x * hardsigmoid(x)) -> HARD_SWISH
 *  - a bias ADD of a per-channel constant into CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED
 *  - PAD (zeros) into a VALID convolution, and PADV2 (lowest float) into a VALID max pool, when
 *    the pads are exactly TFLite's SAME; two PADs in a row into one
 *  - RELU / RELU6 / RELU_N1_TO_1 into the producer's fused activation (never TANH)
 *  - a TRANSPOSE of the last two dims of BATCH_MATMUL's second operand into adj_y
 *  - an interleaving CONCATENATION (a channel shuffle) into CONCATENATION + GATHER
 * An intermediate tensor is only absorbed when nothing else reads it and it is not an output. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes.h"

typedef struct fz {
    lp_ctx *c;
    lp_graph *g;
    int *uses;  /* consumers per tensor; kept conservative (never below the truth) within a round */
    int n_uses; /* entries allocated */
} fz;

static int uses_of(const fz *F, int t) { return t >= 0 && t < F->n_uses ? F->uses[t] : 0; }

static int use_add(fz *F, int t, int d) {
    if (t < 0) return 1;
    if (t >= F->n_uses) {
        int n = F->g->n_t + 64;
        int *u = realloc(F->uses, sizeof(int) * (size_t)n);
        if (!u) return 0;
        memset(u + F->n_uses, 0, sizeof(int) * (size_t)(n - F->n_uses));
        F->uses = u;
        F->n_uses = n;
    }
    F->uses[t] += d;
    return 1;
}

/* new inputs for a node, keeping the use counts right */
static int set_inputs(fz *F, int node, const int *in, int n_in) {
    int ok = 1;
    for (int j = 0; j < n_in; j++) ok &= use_add(F, in[j], 1);
    const lp_node *nd = &F->g->n[node];
    for (int j = 0; j < nd->n_in; j++) ok &= use_add(F, nd->in[j], -1);
    return ok && lp_node_set_inputs(F->g, node, in, n_in);
}

static void kill(fz *F, int node) {
    lp_node *nd = &F->g->n[node];
    for (int j = 0; j < nd->n_in; j++) use_add(F, nd->in[j], -1);
    nd->dead = 1;
}

static int producer(const fz *F, int t, lp_op op) {
    if (t < 0) return -1;
    int p = F->g->t[t].producer;
    if (p < 0 || F->g->n[p].dead || F->g->n[p].op != op) return -1;
    return p;
}

static int single_use(const fz *F, int t) { return uses_of(F, t) == 1 && !(F->g->t[t].flags & LP_T_OUTPUT); }

static int scalar_is(const fz *F, int t, double v) {
    double x;
    lp_ctx *c = F->c;
    if (!lp_const_scalar(c, t, &x)) return 0;
    return fabs(x - v) <= 1e-6 * fabs(v);
}

/* the node now writes `out` (an absorbed node's output) */
static void retarget(fz *F, int node, int out) {
    F->g->n[node].out[0] = out;
    F->g->t[out].producer = node;
}

/* ---- x * relu6(x + 3) / 6 ---- */

/* r = RELU6(x + 3) or ADD(x, 3) with a fused RELU6: returns x or -1 */
static int relu6_x_plus_3(fz *F, int r) {
    lp_graph *g = F->g;
    int p = producer(F, r, LP_TFL_RELU6);
    int a;
    if (p >= 0) {
        a = producer(F, g->n[p].in[0], LP_TFL_ADD);
        if (a < 0 || g->n[a].p.act) return -1;
    } else {
        a = producer(F, r, LP_TFL_ADD);
        if (a < 0 || g->n[a].p.act != 3) return -1;
    }
    const lp_node *add = &g->n[a];
    if (scalar_is(F, add->in[1], 3.0)) return add->in[0];
    if (scalar_is(F, add->in[0], 3.0)) return add->in[1];
    return -1;
}

/* h = relu6(x + 3) / 6 or relu6(x + 3) * (1/6): returns x */
static int hardsigmoid_of(fz *F, int h) {
    lp_graph *g = F->g;
    int d = producer(F, h, LP_TFL_DIV);
    if (d >= 0 && !g->n[d].p.act && scalar_is(F, g->n[d].in[1], 6.0)) return relu6_x_plus_3(F, g->n[d].in[0]);
    int m = producer(F, h, LP_TFL_MUL);
    if (m >= 0 && !g->n[m].p.act) {
        if (scalar_is(F, g->n[m].in[1], 1.0 / 6.0)) return relu6_x_plus_3(F, g->n[m].in[0]);
        if (scalar_is(F, g->n[m].in[0], 1.0 / 6.0)) return relu6_x_plus_3(F, g->n[m].in[1]);
    }
    return -1;
}

static int make_hardswish(fz *F, int ni, int x) {
    lp_graph *g = F->g;
    if (x < 0 || g->t[x].dtype != LP_DT_F32) return 0;
    int out = g->n[ni].out[0];
    if (!set_inputs(F, ni, &x, 1)) return 0;
    lp_node *n = &g->n[ni];
    n->op = LP_TFL_HARD_SWISH;
    memset(&n->p, 0, sizeof n->p);
    n->out[0] = out;
    return 1; /* the rest of the pattern dies in dce */
}

static int rule_hardswish(fz *F, int ni) {
    lp_graph *g = F->g;
    lp_node *n = &g->n[ni];
    if (n->p.act) return 0;
    if (n->op == LP_TFL_MUL) {
        /* x * hardsigmoid(x) */
        for (int k = 0; k < 2; k++) {
            int x = hardsigmoid_of(F, n->in[1 - k]);
            if (x >= 0 && x == n->in[k]) return make_hardswish(F, ni, x);
        }
        /* (x * relu6(x + 3)) * (1/6) */
        for (int k = 0; k < 2; k++) {
            if (!scalar_is(F, n->in[1 - k], 1.0 / 6.0)) continue;
            int m = producer(F, n->in[k], LP_TFL_MUL);
            if (m < 0 || g->n[m].p.act) continue;
            for (int j = 0; j < 2; j++) {
                int x = relu6_x_plus_3(F, g->n[m].in[1 - j]);
                if (x >= 0 && x == g->n[m].in[j]) return make_hardswish(F, ni, x);
            }
        }
    } else if (n->op == LP_TFL_DIV && scalar_is(F, n->in[1], 6.0)) {
        int m = producer(F, n->in[0], LP_TFL_MUL);
        if (m < 0 || g->n[m].p.act) return 0;
        for (int j = 0; j < 2; j++) {
            int x = relu6_x_plus_3(F, g->n[m].in[1 - j]);
            if (x >= 0 && x == g->n[m].in[j]) return make_hardswish(F, ni, x);
        }
    }
    return 0;
}

/* ---- bias add into CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED ---- */

static int rule_bias_add(fz *F, int ni) {
    lp_graph *g = F->g;
    lp_node *add = &g->n[ni];
    if (add->p.act) return 0;
    for (int k = 0; k < 2; k++) {
        int y = add->in[k], b = add->in[1 - k];
        if (y < 0 || b < 0 || !single_use(F, y) || !lp_tensor_is_const(g, b)) continue;
        int p = g->t[y].producer;
        if (p < 0) continue;
        lp_node *conv = &g->n[p];
        if (conv->dead || conv->p.act ||
            (conv->op != LP_TFL_CONV_2D && conv->op != LP_TFL_DEPTHWISE_CONV_2D && conv->op != LP_TFL_FULLY_CONNECTED))
            continue;
        if (conv->op == LP_TFL_FULLY_CONNECTED && conv->p.keep_num_dims) continue;
        const lp_tensor *Y = &g->t[y], *B = &g->t[b];
        if (Y->dtype != LP_DT_F32 || B->dtype != LP_DT_F32 || Y->rank < 1) continue;
        int64_t C = Y->dims[Y->rank - 1];
        /* the constant must vary along the last (channel) axis only: [C], [1,..,1,C] */
        if (C < 0 || lp_tensor_numel(B) != C || B->rank > Y->rank || (B->rank && B->dims[B->rank - 1] != C)) continue;
        /* the output of ADD must have the conv's shape (no broadcasting of the conv output) */
        const lp_tensor *O = &g->t[add->out[0]];
        if (O->rank != Y->rank || !lp_dims_equal(O->dims, Y->dims, Y->rank)) continue;
        int old_bias = conv->n_in > 2 ? conv->in[2] : -1;
        if (old_bias >= 0 && (!lp_tensor_is_const(g, old_bias) || lp_tensor_numel(&g->t[old_bias]) != C)) continue;
        /* large constants may be lazy (ir.h): their bytes, now */
        if (!lp_tensor_bytes(g, b) || (old_bias >= 0 && !lp_tensor_bytes(g, old_bias))) return 0;
        float *nb = lp_arena_alloc(&g->arena, sizeof(float) * (size_t)C);
        if (!nb) return 0;
        for (int64_t i = 0; i < C; i++) {
            double v = lp_get_f64(LP_DT_F32, B->data, i);
            if (old_bias >= 0) v += lp_get_f64(g->t[old_bias].dtype, g->t[old_bias].data, i);
            nb[i] = (float)v;
        }
        char name[600];
        snprintf(name, sizeof name, "%.400s/bias", conv->name);
        int bi = lp_graph_add_const(g, name, LP_DT_F32, 1, &C, nb, sizeof(float) * (size_t)C, 0);
        if (bi < 0) return 0;
        conv = &g->n[p];
        int ins[3] = {conv->in[0], conv->in[1], bi};
        if (!set_inputs(F, p, ins, 3)) return 0;
        retarget(F, p, g->n[ni].out[0]);
        kill(F, ni);
        return 1;
    }
    return 0;
}

/* ---- pads into SAME ---- */

static int pad_amounts(const fz *F, int t, int64_t *pv) {
    if (!lp_tensor_is_const(F->g, t)) return 0;
    const lp_tensor *P = &F->g->t[t];
    if (lp_tensor_numel(P) != 8) return 0;
    for (int i = 0; i < 8; i++) pv[i] = lp_get_i64(P->dtype, P->data, i);
    return 1;
}

/* TFLite SAME padding for one spatial dim equals (before, after)? */
static int same_pad(int64_t in, int64_t k, int64_t s, int64_t d, int64_t before, int64_t after) {
    if (s <= 0 || (in < 0 && s != 1)) return 0; /* stride 1: SAME pads do not depend on the size */
    if (in < 0) in = 1;
    int64_t out = (in + s - 1) / s, eff = (k - 1) * d + 1;
    int64_t total = (out - 1) * s + eff - in;
    if (total < 0) total = 0;
    return before == total / 2 && after == total - total / 2;
}

static int rule_pad_into_window(fz *F, int ni) {
    lp_graph *g = F->g;
    lp_node *n = &g->n[ni];
    if (n->p.padding != 1) return 0; /* VALID */
    int padded = n->in[0];
    if (!single_use(F, padded)) return 0;
    int p = g->t[padded].producer;
    if (p < 0 || g->n[p].dead) return 0;
    lp_node *pad = &g->n[p];
    int is_pool = n->op == LP_TFL_MAX_POOL_2D;
    if (is_pool) {
        double v;
        if (pad->op != LP_TFL_PADV2 || pad->n_in < 3 || !lp_const_scalar(F->c, pad->in[2], &v) || v > -FLT_MAX * 0.99)
            return 0;
    } else if (pad->op != LP_TFL_PAD) {
        return 0;
    }
    int64_t pv[8];
    if (!pad_amounts(F, pad->in[1], pv) || pv[0] || pv[1] || pv[6] || pv[7]) return 0;
    const lp_tensor *X = &g->t[pad->in[0]];
    if (X->rank != 4) return 0;
    int64_t kh, kw;
    if (is_pool) {
        kh = n->p.filter_h;
        kw = n->p.filter_w;
    } else {
        const lp_tensor *W = &g->t[n->in[1]];
        kh = W->dims[1];
        kw = W->dims[2];
    }
    int dh = n->p.dil_h ? n->p.dil_h : 1, dw = n->p.dil_w ? n->p.dil_w : 1;
    if (is_pool) dh = dw = 1;
    if (!same_pad(X->dims[1], kh, n->p.stride_h, dh, pv[2], pv[3]) ||
        !same_pad(X->dims[2], kw, n->p.stride_w, dw, pv[4], pv[5]))
        return 0;
    int ins[LP_MAX_RANK];
    for (int j = 0; j < n->n_in && j < LP_MAX_RANK; j++) ins[j] = n->in[j];
    ins[0] = pad->in[0];
    if (!set_inputs(F, ni, ins, n->n_in)) return 0;
    g->n[ni].p.padding = 0; /* SAME */
    return 1;
}

static int rule_pad_pad(fz *F, int ni) {
    lp_graph *g = F->g;
    lp_node *n = &g->n[ni];
    if (n->op != LP_TFL_PAD) return 0;
    int p = producer(F, n->in[0], LP_TFL_PAD);
    if (p < 0 || !single_use(F, n->in[0])) return 0;
    const lp_tensor *A = &g->t[n->in[1]], *B = &g->t[g->n[p].in[1]];
    if (!lp_tensor_is_const(g, n->in[1]) || !lp_tensor_is_const(g, g->n[p].in[1])) return 0;
    int64_t na = lp_tensor_numel(A);
    if (na != lp_tensor_numel(B) || na > 2 * LP_MAX_RANK) return 0;
    int32_t sum[2 * LP_MAX_RANK];
    for (int64_t i = 0; i < na; i++) sum[i] = (int32_t)(lp_get_i64(A->dtype, A->data, i) + lp_get_i64(B->dtype, B->data, i));
    char name[600];
    snprintf(name, sizeof name, "%.400s/paddings", n->name);
    int64_t d[2] = {na / 2, 2};
    int pi = lp_graph_add_const(g, name, LP_DT_I32, 2, d, sum, sizeof(int32_t) * (size_t)na, 1);
    if (pi < 0) return 0;
    int ins[2] = {g->n[p].in[0], pi};
    return set_inputs(F, ni, ins, 2);
}

/* ---- activations into the producer ---- */

/* CONCATENATION has the field too, but LiteRT's float kernel refuses any activation in it
 * ("params->activation != kTfLiteActNone" when the interpreter is prepared) */
static int supports_fused_act(lp_op op) {
    switch (op) {
    case LP_TFL_CONV_2D: case LP_TFL_DEPTHWISE_CONV_2D: case LP_TFL_FULLY_CONNECTED: case LP_TFL_ADD:
    case LP_TFL_SUB: case LP_TFL_MUL: case LP_TFL_DIV: case LP_TFL_AVERAGE_POOL_2D: case LP_TFL_MAX_POOL_2D:
        return 1;
    default: return 0;
    }
}

static int rule_activation(fz *F, int ni) {
    lp_graph *g = F->g;
    lp_node *n = &g->n[ni];
    int act = n->op == LP_TFL_RELU ? 1 : n->op == LP_TFL_RELU_N1_TO_1 ? 2 : n->op == LP_TFL_RELU6 ? 3 : 0;
    if (!act) return 0;
    int x = n->in[0];
    if (!single_use(F, x) || g->t[x].dtype != LP_DT_F32) return 0;
    int p = g->t[x].producer;
    if (p < 0 || g->n[p].dead || !supports_fused_act(g->n[p].op) || g->n[p].p.act || g->n[p].n_out != 1) return 0;
    g->n[p].p.act = act;
    retarget(F, p, n->out[0]);
    kill(F, ni);
    return 1;
}

/* ---- transposed matmul operand ---- */

/* BATCH_MATMUL(a, TRANSPOSE(b) swapping the last two dims) = BATCH_MATMUL(a, b, adj_y): the
 * attention scores q @ k^T read k as it is (XNNPACK and LiteRT's kernel take adj_y). adj_x is left
 * alone: not every kernel takes it. */
static int rule_bmm_adjoint(fz *F, int ni) {
    lp_graph *g = F->g;
    int y = g->n[ni].in[1];
    if (y < 0 || g->n[ni].p.adj_y || !single_use(F, y)) return 0;
    int tp = producer(F, y, LP_TFL_TRANSPOSE);
    if (tp < 0 || g->t[y].dtype != LP_DT_F32) return 0;
    int64_t P[LP_MAX_RANK];
    int r = g->t[y].rank;
    if (r < 2 || r > LP_MAX_RANK || g->n[tp].n_in < 2 || lp_tensor_numel(&g->t[g->n[tp].in[1]]) != r) return 0;
    const lp_tensor *Pt = &g->t[g->n[tp].in[1]];
    if (!lp_tensor_is_const(g, g->n[tp].in[1]) || !Pt->data) return 0;
    for (int i = 0; i < r; i++) P[i] = lp_get_i64(Pt->dtype, Pt->data, i);
    for (int i = 0; i < r - 2; i++)
        if (P[i] != i) return 0;
    if (P[r - 2] != r - 1 || P[r - 1] != r - 2) return 0;
    int ins[2] = {g->n[ni].in[0], g->n[tp].in[0]};
    if (!set_inputs(F, ni, ins, 2)) return 0;
    g->n[ni].p.adj_y = 1;
    kill(F, tp);
    return 1;
}

/* ---- interleaving concatenation ---- */

/* RESHAPE(CONCATENATION(RESHAPE(x_1), .., RESHAPE(x_k), axis a)), each inner RESHAPE inserting a
 * unit axis at a and the outer one merging axes a-1 and a, interleaves the x_i along axis a-1:
 * the layout pass's transpose-free form of a channel shuffle. LiteRT copies such a concatenation
 * (inner size 1) element by element; CONCATENATION of the x_i on axis a-1 followed by a GATHER of
 * the interleaving order is faster (bench/shuffle.py) and still has no TRANSPOSE. */
static int rule_interleave(fz *F, int ni) {
    lp_graph *g = F->g;
    int y = g->n[ni].in[0], z = g->n[ni].out[0];
    int cn = producer(F, y, LP_TFL_CONCATENATION);
    if (cn < 0 || !single_use(F, y) || g->n[cn].p.act) return 0;
    const lp_tensor *Y = &g->t[y], *Z = &g->t[z];
    int r = Y->rank, k = g->n[cn].n_in;
    int a = g->n[cn].p.axis < 0 ? g->n[cn].p.axis + r : g->n[cn].p.axis;
    if (a < 1 || a >= r || Z->rank != r - 1 || k < 2 || k > 64 || Y->dims[a] != k) return 0;
    int64_t m = Y->dims[a - 1];
    if (m <= 0 || m > (1 << 20) / k || Z->dims[a - 1] != m * k) return 0;
    for (int i = 0; i < r - 1; i++)
        if (i != a - 1 && Z->dims[i] != Y->dims[i < a - 1 ? i : i + 1]) return 0;
    int xs[64];
    for (int j = 0; j < k; j++) {
        int t = g->n[cn].in[j];
        int rp = producer(F, t, LP_TFL_RESHAPE);
        if (rp < 0 || g->t[t].dims[a] != 1) return 0;
        const lp_tensor *X = &g->t[g->n[rp].in[0]];
        if (X->rank != r - 1 || X->dtype != Y->dtype) return 0;
        for (int i = 0; i < r - 1; i++)
            if (X->dims[i] != Y->dims[i < a ? i : i + 1]) return 0;
        xs[j] = g->n[rp].in[0];
    }
    char name[600];
    int64_t zd[LP_MAX_RANK];
    memcpy(zd, Z->dims, sizeof zd); /* adding a tensor may move g->t */
    snprintf(name, sizeof name, "%.400s/concatenated", g->n[cn].name);
    int cat = lp_graph_add_tensor(g, name, Y->dtype, r - 1, zd);
    int64_t n = m * k;
    int32_t *idx = malloc(sizeof(int32_t) * (size_t)n);
    if (cat < 0 || !idx) {
        free(idx);
        if (!g->err->code) lp_err_set(g->err, LP_ERR_NOMEM, "out of memory");
        return 0;
    }
    /* output position i * k + j holds element i of x_j, at j * m + i of the concatenation */
    for (int64_t i = 0; i < m; i++)
        for (int j = 0; j < k; j++) idx[i * k + j] = (int32_t)(j * m + i);
    snprintf(name, sizeof name, "%.400s/interleave", g->n[ni].name);
    int ic = lp_graph_add_const(g, name, LP_DT_I32, 1, &n, idx, sizeof(int32_t) * (size_t)n, 1);
    free(idx);
    if (ic < 0) return 0;
    int gin[2] = {cat, ic};
    if (!set_inputs(F, cn, xs, k) || !set_inputs(F, ni, gin, 2)) {
        if (!g->err->code) lp_err_set(g->err, LP_ERR_NOMEM, "out of memory");
        return 0;
    }
    g->n[cn].p.axis = a - 1;
    retarget(F, cn, cat);
    g->n[ni].op = LP_TFL_GATHER;
    memset(&g->n[ni].p, 0, sizeof g->n[ni].p);
    g->n[ni].p.axis = a - 1;
    return 1;
}

/* ---- the rule table ---- */

typedef struct rule {
    lp_op root;
    int (*apply)(fz *F, int node);
    const char *name;
} rule;

static const rule rules[] = {
    {LP_TFL_MUL, rule_hardswish, "hardswish"},
    {LP_TFL_DIV, rule_hardswish, "hardswish"},
    {LP_TFL_ADD, rule_bias_add, "bias add"},
    {LP_TFL_PAD, rule_pad_pad, "pad pad"},
    {LP_TFL_CONV_2D, rule_pad_into_window, "pad into conv"},
    {LP_TFL_DEPTHWISE_CONV_2D, rule_pad_into_window, "pad into conv"},
    {LP_TFL_MAX_POOL_2D, rule_pad_into_window, "pad into max pool"},
    {LP_TFL_RELU, rule_activation, "fused activation"},
    {LP_TFL_RELU6, rule_activation, "fused activation"},
    {LP_TFL_RELU_N1_TO_1, rule_activation, "fused activation"},
    {LP_TFL_BATCH_MATMUL, rule_bmm_adjoint, "transposed matmul operand"},
    {LP_TFL_RESHAPE, rule_interleave, "interleaving concatenation"},
};

static int count_uses(fz *F) {
    lp_graph *g = F->g;
    free(F->uses);
    F->n_uses = g->n_t + 64;
    F->uses = calloc((size_t)F->n_uses, sizeof(int));
    if (!F->uses) return 0;
    for (int i = 0; i < g->n_n; i++) {
        const lp_node *n = &g->n[i];
        if (n->dead) continue;
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0) F->uses[n->in[j]]++;
    }
    return 1;
}

/* SHAPE readers (run-time sizes, lp_emit_dims) must not keep an intermediate alive that a fusion
 * would absorb: a SHAPE of t moves to the output of t's only other reader when that output has
 * the same dims (equal symbols are equal sizes) and the reader's other inputs are constants (so
 * it cannot depend on the SHAPE). Then SHAPEs of one tensor are merged. */
static lp_status shape_readers(lp_ctx *c) {
    lp_graph *g = c->g;
    lp_uses u;
    if (!lp_uses_build(g, &u)) return lp_fail(c, LP_ERR_NOMEM, "out of memory");
    int any = 0;
    for (int i = 0; i < g->n_n; i++) {
        lp_node *sn = &g->n[i];
        if (sn->dead || sn->op != LP_TFL_SHAPE) continue;
        for (int hop = 0; hop < 64; hop++) {
            int t = sn->in[0], next = -1, others = 0;
            if (g->t[t].flags & LP_T_OUTPUT) break;
            for (int k = u.start[t]; k < u.start[t + 1]; k++) {
                const lp_node *r = &g->n[u.list[k]];
                if (r->dead || r->op == LP_TFL_SHAPE) continue;
                others++;
                next = u.list[k];
            }
            if (others != 1) break;
            const lp_node *r = &g->n[next];
            int y = r->n_out == 1 ? r->out[0] : -1, ok = y >= 0;
            for (int j = 0; j < r->n_in && ok; j++)
                ok = r->in[j] < 0 || r->in[j] == t || lp_tensor_is_const(g, r->in[j]);
            if (!ok || g->t[y].rank != g->t[t].rank || !lp_dims_equal(g->t[y].dims, g->t[t].dims, g->t[t].rank)) break;
            for (int d = 0; d < g->t[t].rank && ok; d++) ok = g->t[t].dims[d] != LP_DIM_UNKNOWN;
            if (!ok) break;
            sn->in[0] = y; /* the use index goes stale: y's list lacks this SHAPE, which only
                              makes later moves through y more conservative */
            any = 1;
        }
    }
    lp_uses_free(&u);
    /* one SHAPE per tensor and output type */
    for (int i = 0; i < g->n_n; i++) {
        lp_node *a = &g->n[i];
        if (a->dead || a->op != LP_TFL_SHAPE) continue;
        for (int j = i + 1; j < g->n_n; j++) {
            lp_node *b = &g->n[j];
            if (b->dead || b->op != LP_TFL_SHAPE || b->in[0] != a->in[0] || b->p.out_type != a->p.out_type ||
                (g->t[b->out[0]].flags & LP_T_OUTPUT))
                continue;
            lp_graph_replace_uses(g, b->out[0], a->out[0]);
            b->dead = 1;
            any = 1;
        }
    }
    return any ? lp_graph_toposort(g) : LP_OK;
}

/* Run-time shape arithmetic is emitted per op (lp_emit_dims): the reshapes of q, k and v build
 * the same [B, S, H, D] from the same SHAPE. Ops with int32 vector results whose op, parameters
 * and inputs (the same tensor, or constants with the same bytes) agree are computed once. */
static int cse_op(int op) {
    switch (op) {
    case LP_TFL_CONCATENATION: case LP_TFL_GATHER: case LP_TFL_STRIDED_SLICE: case LP_TFL_SLICE:
    case LP_TFL_ADD: case LP_TFL_SUB: case LP_TFL_MUL: case LP_TFL_DIV: case LP_TFL_FLOOR_DIV:
    case LP_TFL_FLOOR_MOD: case LP_TFL_MAXIMUM: case LP_TFL_MINIMUM: case LP_TFL_PACK: case LP_TFL_RESHAPE:
    case LP_TFL_CAST: case LP_TFL_SQUEEZE: case LP_TFL_EXPAND_DIMS: case LP_TFL_SELECT_V2:
        return 1;
    default:
        return 0;
    }
}

static int same_value(const lp_graph *g, int a, int b) {
    if (a == b) return 1;
    if (a < 0 || b < 0) return 0;
    const lp_tensor *A = &g->t[a], *B = &g->t[b];
    if (!(A->flags & LP_T_CONST) || !(B->flags & LP_T_CONST) || !A->data || !B->data) return 0;
    return A->dtype == B->dtype && A->rank == B->rank && lp_dims_equal(A->dims, B->dims, A->rank) &&
           A->nbytes == B->nbytes && memcmp(A->data, B->data, A->nbytes) == 0;
}

static int shape_math(const lp_graph *g, const lp_node *n) {
    if (n->dead || n->n_out != 1 || n->out[0] < 0 || !cse_op(n->op)) return 0;
    const lp_tensor *y = &g->t[n->out[0]];
    return y->dtype == LP_DT_I32 && y->rank <= 1 && !(y->flags & LP_T_OUTPUT);
}

static lp_status merge_shape_math(lp_ctx *c) {
    lp_graph *g = c->g;
    LP_TRY(lp_graph_toposort(g));
    int any = 1;
    for (int round = 0; round < 32 && any; round++) {
        any = 0;
        for (int i = 0; i < g->n_n; i++) {
            const lp_node *a = &g->n[i];
            if (!shape_math(g, a)) continue;
            for (int j = i + 1; j < g->n_n; j++) {
                lp_node *b = &g->n[j];
                if (b->op != a->op || b->n_in != a->n_in || !shape_math(g, b) ||
                    memcmp(&a->p, &b->p, sizeof a->p) != 0)
                    continue;
                int same = 1;
                for (int k = 0; k < a->n_in && same; k++) same = same_value(g, a->in[k], b->in[k]);
                if (!same) continue;
                /* a comes first in topological order: its result can replace b's */
                lp_graph_replace_uses(g, b->out[0], a->out[0]);
                b->dead = 1;
                any = 1;
            }
        }
    }
    return LP_OK;
}

lp_status lp_pass_fuse(lp_ctx *c) {
    lp_graph *g = c->g;
    fz F = {c, g, NULL, 0};
    lp_status st = shape_readers(c);
    if (st == LP_OK) st = merge_shape_math(c);
    for (int round = 0; round < 16 && st == LP_OK; round++) {
        if (!count_uses(&F)) {
            st = lp_fail(c, LP_ERR_NOMEM, "out of memory");
            break;
        }
        int changed = 0, n0 = g->n_n;
        for (int i = 0; i < n0 && st == LP_OK; i++)
            for (size_t r = 0; r < sizeof rules / sizeof rules[0]; r++) {
                if (g->n[i].dead || g->n[i].op != rules[r].root) continue;
                if (rules[r].apply(&F, i)) changed = 1;
                if (g->err->code) {
                    st = g->err->code;
                    break;
                }
            }
        if (st == LP_OK) st = lp_pass_dce(c);
        if (!changed) break;
    }
    free(F.uses);
    return st;
}
