/* layout: transpose elimination.
 *
 * Lowering leaves every channels-last kernel between two TRANSPOSE ops. This pass removes them:
 *  - graph inputs that feed such kernels become channels-last (unless keep_io_layout);
 *  - transposes sink through the ops they commute with (elementwise ops with permuted constants,
 *    concatenation, padding, reductions, slices, splits, gathers, softmax on a kept last axis,
 *    and reshapes that only split or merge dims that stay contiguous);
 *  - consecutive transposes compose, and cancel when the result is the identity;
 *  - transposes of constants are folded;
 *  - finally a transpose that only moves size-1 dims becomes a reshape, a flatten after a
 *    convolution folds its permutation into the following FULLY_CONNECTED weights, and graph
 *    outputs produced by a layout transpose become channels-last.
 * Operand order is never changed, so non-commutative ops keep their meaning.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes.h"

#define MAX_ROUNDS 64

typedef struct lay {
    lp_ctx *c;
    lp_graph *g;
    int changed;
    int *fwd;  /* fwd[t] = u + 1: readers of t read u instead (applied lazily, see resolve) */
    int n_fwd;
    int dirty; /* forwards recorded since the last resolve_all */
} lay;

/* Tensor `from` is replaced by `to` for every reader. Rewiring all readers at once would scan the
 * whole graph per rewrite (quadratic on long chains); instead the replacement is recorded and
 * applied when a node is next looked at, and to all nodes before dead-code removal. */
static void forward(lay *L, int from, int to) {
    if (from >= L->n_fwd) {
        int n = L->g->n_t + 1024;
        int *f = realloc(L->fwd, sizeof(int) * (size_t)n);
        if (!f) { /* no memory for the lazy form: rewire now */
            lp_graph_replace_uses(L->g, from, to);
            return;
        }
        memset(f + L->n_fwd, 0, sizeof(int) * (size_t)(n - L->n_fwd));
        L->fwd = f;
        L->n_fwd = n;
    }
    L->fwd[from] = to + 1;
    L->dirty = 1;
}

static int resolved(lay *L, int t) {
    int r = t;
    while (r >= 0 && r < L->n_fwd && L->fwd[r]) r = L->fwd[r] - 1;
    /* path compression */
    while (t >= 0 && t < L->n_fwd && L->fwd[t] && L->fwd[t] - 1 != r) {
        int next = L->fwd[t] - 1;
        L->fwd[t] = r + 1;
        t = next;
    }
    return r;
}

static void resolve_node(lay *L, int ni) {
    lp_node *n = &L->g->n[ni];
    for (int j = 0; j < n->n_in; j++)
        if (n->in[j] >= 0) n->in[j] = resolved(L, n->in[j]);
}

static void resolve_all(lay *L) {
    if (!L->dirty) return;
    for (int i = 0; i < L->g->n_n; i++)
        if (!L->g->n[i].dead) resolve_node(L, i);
    L->dirty = 0;
}

/* ---------------- permutation helpers ---------------- */

static int perm_of(const lp_graph *g, const lp_node *n, int *perm) {
    if (n->dead || n->op != LP_TFL_TRANSPOSE || n->n_in < 2 || !lp_tensor_is_const(g, n->in[1])) return -1;
    const lp_tensor *p = &g->t[n->in[1]];
    int64_t k = lp_tensor_numel(p);
    if (k < 0 || k > LP_MAX_RANK) return -1;
    for (int i = 0; i < k; i++) perm[i] = (int)lp_get_i64(p->dtype, p->data, i);
    return (int)k;
}

/* the TRANSPOSE producing tensor t (and its perm), or -1 */
static int transpose_producer(const lp_graph *g, int t, int *perm, int *rank) {
    if (t < 0) return -1;
    int p = g->t[t].producer;
    if (p < 0) return -1;
    int r = perm_of(g, &g->n[p], perm);
    if (r < 0) return -1;
    *rank = r;
    return p;
}

static int is_identity(const int *p, int r) {
    for (int i = 0; i < r; i++)
        if (p[i] != i) return 0;
    return 1;
}

static void invert(const int *p, int r, int *inv) {
    for (int i = 0; i < r; i++) inv[p[i]] = i;
}

static void resolve_all(lay *L);
static int only_consumer(lay *L, int t);

static int consumers(lay *L, int t) {
    resolve_all(L);
    const lp_graph *g = L->g;
    int k = 0;
    for (int i = 0; i < g->n_n; i++) {
        const lp_node *n = &g->n[i];
        if (n->dead) continue;
        for (int j = 0; j < n->n_in; j++) k += n->in[j] == t;
    }
    return k + ((g->t[t].flags & LP_T_OUTPUT) ? 1 : 0);
}

static int const_i32(lay *L, const char *base, const char *hint, const int32_t *v, int n, int rank2) {
    char name[600];
    snprintf(name, sizeof name, "%.400s/%s", base, hint);
    int64_t d[2] = {rank2 ? n / 2 : n, 2};
    return lp_graph_add_const(L->g, name, LP_DT_I32, rank2 ? 2 : 1, d, v, sizeof(int32_t) * (size_t)n, 1);
}

static int const_perm(lay *L, const char *base, const int *perm, int r) {
    int32_t p[LP_MAX_RANK];
    for (int i = 0; i < r; i++) p[i] = perm[i];
    return const_i32(L, base, "perm", p, r, 0);
}

/* a new TRANSPOSE node in -> out; returns the node id */
static int add_transpose(lay *L, int in, const int *perm, int r, int out, int mark, const char *base, int origin) {
    int pc = const_perm(L, base, perm, r);
    if (pc < 0) return -1;
    int ins[2] = {in, pc};
    char name[600];
    snprintf(name, sizeof name, "%.400s/transpose", base);
    int id = lp_graph_add_node(L->g, LP_TFL_TRANSPOSE, name, ins, 2, &out, 1);
    if (id < 0) return -1;
    L->g->n[id].layout = mark;
    L->g->n[id].origin = origin;
    return id;
}

/* dims of T(x, perm) */
static void permute_dims(const int64_t *d, const int *perm, int r, int64_t *out) {
    for (int i = 0; i < r; i++) out[i] = d[perm[i]];
}

/* A constant c (rank <= r, numpy-broadcast against rank r) seen through T(., P): returns the
 * constant c' with T(c', P) == c broadcast to rank r. */
static int permute_const(lay *L, int cid, const int *P, int r, const char *base) {
    lp_graph *g = L->g;
    lp_tensor ext = g->t[cid];
    if (ext.rank > r) return -1;
    int64_t ne = lp_tensor_numel(&ext);
    if (ne == 1 && ext.rank <= 1) return cid; /* scalars broadcast the same way in any layout */
    int off = r - ext.rank;
    for (int i = r - 1; i >= 0; i--) ext.dims[i] = i >= off ? ext.dims[i - off] : 1;
    ext.rank = r;
    int inv[LP_MAX_RANK];
    invert(P, r, inv);
    char name[600];
    snprintf(name, sizeof name, "%.400s/%s", base, g->t[cid].name);
    return lp_graph_add_permuted(g, name, cid, r, ext.dims, inv);
}

/* ---------------- graph inputs ---------------- */

/* 1 if graph input k is the image input and NCHW: 4-D, dim 1 of 1 or 3 channels, dim 3 not. */
static int image_nchw(lay *L, int k) {
    const lp_options *o = L->c->opt;
    if (!o->image_input || lp_image_input_index(L->g, o) != k) return 0;
    const lp_tensor *X = &L->g->t[L->g->inputs.v[k]];
    if ((X->flags & LP_T_OUTPUT) || X->rank != 4) return 0;
    return (X->dims[1] == 1 || X->dims[1] == 3) && X->dims[3] != 1 && X->dims[3] != 3;
}

enum { K_NONE, K_UNARY, K_ELEMENTWISE, K_CONCAT, K_PAD, K_REDUCE, K_SOFTMAX, K_STRIDED, K_SLICE, K_SPLIT_V, K_GATHER, K_FC };
static int kind_of(lp_op op);

/* the permutations of the layout transposes reading t, directly or through up to `depth`
 * rank-keeping ops that a transpose sinks through (unary ops, splits, slices, padding): an input
 * split in two before its convolutions (a ShuffleNet unit as the first layer) still feeds them */
static void layout_readers(const lp_graph *g, int t, int depth, int *budget, int *P, int *have, int *agree) {
    int rank = g->t[t].rank;
    if (--*budget < 0) return; /* each visit scans the graph: a few dozen tensors at most */
    for (int i = 0; i < g->n_n; i++) {
        const lp_node *n = &g->n[i];
        int q[LP_MAX_RANK];
        if (n->dead || n->n_in < 1 || n->in[0] != t) continue;
        if (n->layout) {
            if (perm_of(g, n, q) != rank) continue;
            if (!*have) {
                memcpy(P, q, sizeof q);
                *have = 1;
            } else if (memcmp(P, q, sizeof(int) * (size_t)rank) != 0) {
                *agree = 0;
            }
            continue;
        }
        int kind = kind_of(n->op);
        if (depth <= 0 || (kind != K_UNARY && kind != K_SPLIT_V && kind != K_SLICE && kind != K_STRIDED && kind != K_PAD))
            continue;
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0 && g->t[n->out[k]].rank == rank) layout_readers(g, n->out[k], depth - 1, budget, P, have, agree);
    }
}

/* An input whose layout-transpose consumers all agree on a permutation becomes channels-last:
 * the new input tensor takes the ONNX name; the old tensor is recomputed from it by an inverse
 * transpose, which the rules below cancel against the layout transposes. */
static lp_status adopt_inputs(lay *L) {
    lp_graph *g = L->g;
    for (int k = 0; k < g->inputs.n; k++) {
        int x = g->inputs.v[k];
        lp_tensor *X = &g->t[x];
        if (X->rank < 3 || X->rank > 5 || X->has_io_perm) continue;
        int P[LP_MAX_RANK], have = 0, agree = 1, budget = 1;
        layout_readers(g, x, 0, &budget, P, &have, &agree);
        /* no layout transpose reads it directly: look through unary ops, splits, slices, pads */
        budget = 32;
        if (!have) layout_readers(g, x, 3, &budget, P, &have, &agree);
        if (!have || !agree) {
            /* the image input (lp_options.image_input) becomes channels-last even when nothing
             * inside asks for it (a model that starts with a flatten or elementwise ops): Android
             * hands over height x width x channels pixels. An inverse transpose inside the model
             * restores the ONNX layout. Only an unambiguous NCHW input ([N,1|3,H,W] with a last
             * dim that is not a channel count) is turned. */
            int img = image_nchw(L, k);
            if (!img) continue;
            int nhwc[4] = {0, 2, 3, 1};
            memcpy(P, nhwc, sizeof nhwc);
        }
        int r = X->rank;
        /* a 1-D signal with one channel ([N,1,samples]: audio) keeps its ONNX layout: the
         * permutation moves nothing in memory. Images stay channels-last even with one channel,
         * because Android's image tools read height, width and channels from the shape. */
        int last = -1, moves_data = 0;
        for (int i = 0; i < r; i++) {
            if (X->dims[P[i]] == 1) continue;
            if (P[i] < last) moves_data = 1;
            last = P[i];
        }
        if (!moves_data && r == 3) continue;
        int64_t nd[LP_MAX_RANK];
        permute_dims(X->dims, P, r, nd);
        char oldname[600];
        snprintf(oldname, sizeof oldname, "%.400s/onnx_layout", X->name);
        int nx = lp_graph_add_tensor(g, X->name, X->dtype, r, nd);
        if (nx < 0) return g->err->code;
        X = &g->t[x];
        X->name = lp_arena_strdup(&g->arena, oldname);
        X->flags &= ~LP_T_INPUT;
        g->t[nx].flags |= LP_T_INPUT;
        g->t[nx].has_io_perm = 1;
        for (int i = 0; i < r; i++) g->t[nx].io_perm[i] = (int8_t)P[i];
        g->inputs.v[k] = nx;
        int inv[LP_MAX_RANK];
        invert(P, r, inv);
        if (add_transpose(L, nx, inv, r, x, 1, g->t[nx].name, -1) < 0) return g->err->code;
        L->changed = 1;
    }
    return LP_OK;
}

/* ---------------- rules on TRANSPOSE nodes ---------------- */

static lp_status transpose_rules(lay *L, int ni) {
    lp_graph *g = L->g;
    int P[LP_MAX_RANK];
    int r = perm_of(g, &g->n[ni], P);
    if (r < 0) return LP_OK;
    int x = g->n[ni].in[0], y = g->n[ni].out[0];
    if (is_identity(P, r) && !(g->t[y].flags & LP_T_OUTPUT)) {
        forward(L, y, x);
        g->n[ni].dead = 1;
        L->changed = 1;
        return LP_OK;
    }
    if (lp_tensor_is_const(g, x) && !(g->t[y].flags & LP_T_OUTPUT)) {
        /* fold into the constant */
        int64_t xd[LP_MAX_RANK];
        memcpy(xd, g->t[x].dims, sizeof xd);
        int k = g->t[x].rank == r ? lp_graph_add_permuted(g, g->t[y].name, x, r, xd, P) : -1;
        if (k < 0) return g->err->code ? g->err->code : lp_err_set(g->err, LP_ERR_INTERNAL, "transpose rank mismatch");
        forward(L, y, k);
        g->n[ni].dead = 1;
        L->changed = 1;
        return LP_OK;
    }
    int Q[LP_MAX_RANK], rq;
    int p = transpose_producer(g, x, Q, &rq);
    if (p >= 0 && rq == r) {
        /* T_P(T_Q(x0)) = T_C(x0) with C[i] = Q[P[i]] */
        int C[LP_MAX_RANK];
        for (int i = 0; i < r; i++) C[i] = Q[P[i]];
        int x0 = g->n[p].in[0];
        if (is_identity(C, r) && !(g->t[y].flags & LP_T_OUTPUT)) {
            forward(L, y, x0);
            g->n[ni].dead = 1;
        } else {
            int pc = const_perm(L, g->n[ni].name, C, r);
            if (pc < 0) return g->err->code;
            int ins[2] = {x0, pc};
            if (!lp_node_set_inputs(g, ni, ins, 2)) return g->err->code;
            g->n[ni].layout = g->n[ni].layout && g->n[p].layout;
        }
        L->changed = 1;
    }
    return LP_OK;
}

/* ---------------- sinking a transpose through an op ---------------- */

static int kind_of(lp_op op) {
    switch (op) {
    case LP_TFL_RELU: case LP_TFL_RELU6: case LP_TFL_RELU_N1_TO_1: case LP_TFL_RELU_0_TO_1:
    case LP_TFL_LOGISTIC: case LP_TFL_TANH: case LP_TFL_EXP: case LP_TFL_LOG: case LP_TFL_SQRT:
    case LP_TFL_RSQRT: case LP_TFL_NEG: case LP_TFL_ABS: case LP_TFL_FLOOR: case LP_TFL_CEIL:
    case LP_TFL_HARD_SWISH: case LP_TFL_LEAKY_RELU: case LP_TFL_ELU: case LP_TFL_GELU: case LP_TFL_CAST:
    case LP_TFL_SIN: case LP_TFL_COS: case LP_TFL_SQUARE: case LP_TFL_SIGN: case LP_TFL_ROUND:
    case LP_TFL_LOGICAL_NOT: case LP_TFL_DEQUANTIZE: case LP_TFL_QUANTIZE:
        return K_UNARY;
    case LP_TFL_ADD: case LP_TFL_SUB: case LP_TFL_MUL: case LP_TFL_DIV: case LP_TFL_POW:
    case LP_TFL_MAXIMUM: case LP_TFL_MINIMUM: case LP_TFL_SQUARED_DIFFERENCE: case LP_TFL_FLOOR_DIV:
    case LP_TFL_FLOOR_MOD: case LP_TFL_EQUAL: case LP_TFL_NOT_EQUAL: case LP_TFL_LESS: case LP_TFL_LESS_EQUAL:
    case LP_TFL_GREATER: case LP_TFL_GREATER_EQUAL: case LP_TFL_LOGICAL_AND: case LP_TFL_LOGICAL_OR:
    case LP_TFL_SELECT_V2: case LP_TFL_PRELU:
        return K_ELEMENTWISE;
    case LP_TFL_CONCATENATION: return K_CONCAT;
    case LP_TFL_PAD: case LP_TFL_PADV2: case LP_TFL_MIRROR_PAD: return K_PAD;
    case LP_TFL_MEAN: case LP_TFL_SUM: case LP_TFL_REDUCE_MAX: case LP_TFL_REDUCE_MIN: case LP_TFL_REDUCE_PROD:
    case LP_TFL_REDUCE_ALL:
        return K_REDUCE;
    case LP_TFL_SOFTMAX: case LP_TFL_LOG_SOFTMAX: return K_SOFTMAX;
    case LP_TFL_STRIDED_SLICE: return K_STRIDED;
    case LP_TFL_SLICE: return K_SLICE;
    case LP_TFL_SPLIT_V: return K_SPLIT_V;
    case LP_TFL_GATHER: return K_GATHER;
    case LP_TFL_FULLY_CONNECTED: return K_FC;
    default: return K_NONE;
    }
}

/* read a small constant int vector */
static int const_vec(const lp_graph *g, int t, int64_t *v, int max) {
    if (!lp_tensor_is_const(g, t)) return -1;
    const lp_tensor *T = &g->t[t];
    int64_t n = lp_tensor_numel(T);
    if (n < 0 || n > max || !lp_dtype_is_int(T->dtype)) return -1;
    for (int64_t i = 0; i < n; i++) v[i] = lp_get_i64(T->dtype, T->data, i);
    return (int)n;
}

static lp_status sink(lay *L, int ni) {
    lp_graph *g = L->g;
    lp_node *n = &g->n[ni];
    int kind = kind_of(n->op);
    if (kind == K_NONE) return LP_OK;
    /* which inputs carry data in the op's layout */
    int data[64], nd = 0;
    if (kind == K_ELEMENTWISE || kind == K_CONCAT) {
        if (n->n_in > 64) return LP_OK;
        for (int j = 0; j < n->n_in; j++) data[nd++] = j;
    } else {
        data[nd++] = 0;
    }
    /* the common permutation of the transposed data inputs */
    int P[LP_MAX_RANK], r = -1, mark = 1, any = 0;
    for (int k = 0; k < nd; k++) {
        int t = n->in[data[k]];
        if (t < 0) return LP_OK;
        int q[LP_MAX_RANK], rq, p = transpose_producer(g, t, q, &rq);
        if (p < 0) continue;
        if (!any) {
            memcpy(P, q, sizeof P);
            r = rq;
            any = 1;
        } else if (rq != r || memcmp(P, q, sizeof(int) * (size_t)r) != 0) {
            return LP_OK;
        }
        mark &= g->n[p].layout;
    }
    if (!any || r < 2) return LP_OK;
    /* other data inputs must be constants we can permute */
    for (int k = 0; k < nd; k++) {
        int t = n->in[data[k]];
        int q[LP_MAX_RANK], rq;
        if (transpose_producer(g, t, q, &rq) >= 0) continue;
        if (!lp_tensor_is_const(g, t) || g->t[t].rank > r) return LP_OK;
    }
    /* a gather of one index drops the gathered axis */
    int drops = kind == K_GATHER && n->n_in > 1 && n->in[1] >= 0 && g->t[n->in[1]].rank == 0;
    for (int k = 0; k < n->n_out; k++)
        if (n->out[k] < 0 || (g->t[n->out[k]].rank != r - drops && kind != K_REDUCE)) return LP_OK;

    /* op-specific new parameters, computed before anything changes */
    int inv[LP_MAX_RANK];
    invert(P, r, inv);
    int new_in[64];
    for (int j = 0; j < n->n_in && j < 64; j++) new_in[j] = n->in[j];
    int Qout[LP_MAX_RANK], rout = r; /* perm of the outputs */
    memcpy(Qout, P, sizeof Qout);
    lp_tfl_params np = n->p;
    char base[600];
    snprintf(base, sizeof base, "%.400s", n->name);
    switch (kind) {
    case K_CONCAT: {
        int a = n->p.axis < 0 ? n->p.axis + r : n->p.axis;
        np.axis = P[a];
        break;
    }
    case K_PAD: {
        int64_t pv[2 * LP_MAX_RANK];
        if (const_vec(g, n->in[1], pv, 2 * LP_MAX_RANK) != 2 * r) return LP_OK;
        int32_t q[2 * LP_MAX_RANK];
        for (int i = 0; i < r; i++) {
            q[2 * P[i]] = (int32_t)pv[2 * i];
            q[2 * P[i] + 1] = (int32_t)pv[2 * i + 1];
        }
        new_in[1] = const_i32(L, base, "paddings", q, 2 * r, 1);
        if (new_in[1] < 0) return g->err->code;
        break;
    }
    case K_REDUCE: {
        int64_t av[LP_MAX_RANK];
        int na = const_vec(g, n->in[1], av, LP_MAX_RANK);
        if (na < 0) return LP_OK;
        int32_t q[LP_MAX_RANK];
        int red[LP_MAX_RANK] = {0};
        for (int i = 0; i < na; i++) {
            int a = (int)(av[i] < 0 ? av[i] + r : av[i]);
            if (a < 0 || a >= r) return LP_OK;
            q[i] = P[a];
            red[a] = 1;
        }
        if (!n->p.keep_dims) {
            /* output perm: the kept axes of P, renumbered among the kept input axes */
            int kept_x[LP_MAX_RANK] = {0};
            for (int i = 0; i < r; i++)
                if (!red[i]) kept_x[P[i]] = 1;
            rout = 0;
            for (int i = 0; i < r; i++) {
                if (red[i]) continue;
                int rankpos = 0;
                for (int j = 0; j < P[i]; j++) rankpos += kept_x[j];
                Qout[rout++] = rankpos;
            }
        }
        if (g->t[n->out[0]].rank != rout) return LP_OK;
        new_in[1] = const_i32(L, base, "axes", q, na, 0);
        if (new_in[1] < 0) return g->err->code;
        break;
    }
    case K_SOFTMAX:
        if (P[r - 1] != r - 1) return LP_OK;
        break;
    case K_STRIDED: {
        if (n->p.ellipsis_mask || n->p.new_axis_mask || n->p.shrink_axis_mask || n->p.offset) return LP_OK;
        np.begin_mask = np.end_mask = 0;
        for (int i = 0; i < r; i++) {
            if (n->p.begin_mask & (1 << i)) np.begin_mask |= 1 << P[i];
            if (n->p.end_mask & (1 << i)) np.end_mask |= 1 << P[i];
        }
        /* constant vectors are permuted; run-time ones (lp_emit_dims, slice bounds) are
         * gathered: v'[P[i]] = v[i], i.e. v' = GATHER(v, inverse of P) */
        static const char *const hint[4] = {"", "begin", "end", "strides"};
        for (int j = 1; j <= 3; j++) {
            int64_t v[LP_MAX_RANK];
            int t = n->in[j];
            if (g->t[t].rank != 1 || g->t[t].dims[0] != r) return LP_OK;
            if (const_vec(g, t, v, LP_MAX_RANK) == r) continue;
            if (g->t[t].dtype != LP_DT_I32) return LP_OK;
        }
        for (int j = 1; j <= 3; j++) {
            int64_t v[LP_MAX_RANK];
            int t = new_in[j];
            if (const_vec(g, t, v, LP_MAX_RANK) == r) {
                int32_t nv[LP_MAX_RANK];
                for (int i = 0; i < r; i++) nv[P[i]] = (int32_t)v[i];
                new_in[j] = const_i32(L, base, hint[j], nv, r, 0);
            } else {
                int32_t iv[LP_MAX_RANK];
                for (int i = 0; i < r; i++) iv[P[i]] = i;
                int ic = const_i32(L, base, "perm", iv, r, 0);
                char name[600];
                snprintf(name, sizeof name, "%.400s/%s_permuted", base, hint[j]);
                int64_t d = r;
                int pv = ic < 0 ? -1 : lp_graph_add_tensor(g, name, LP_DT_I32, 1, &d);
                int ins[2] = {t, ic};
                int id = pv < 0 ? -1 : lp_graph_add_node(g, LP_TFL_GATHER, name, ins, 2, &pv, 1);
                if (id < 0) return g->err->code;
                g->n[id].p.axis = 0;
                g->n[id].origin = g->n[ni].origin;
                new_in[j] = pv;
            }
            if (new_in[j] < 0) return g->err->code;
        }
        n = &g->n[ni];
        break;
    }
    case K_SLICE: {
        int64_t b[LP_MAX_RANK], s[LP_MAX_RANK];
        if (const_vec(g, n->in[1], b, LP_MAX_RANK) != r || const_vec(g, n->in[2], s, LP_MAX_RANK) != r) return LP_OK;
        int32_t nb[LP_MAX_RANK], ns[LP_MAX_RANK];
        for (int i = 0; i < r; i++) {
            nb[P[i]] = (int32_t)b[i];
            ns[P[i]] = (int32_t)s[i];
        }
        new_in[1] = const_i32(L, base, "begin", nb, r, 0);
        new_in[2] = const_i32(L, base, "size", ns, r, 0);
        if (new_in[1] < 0 || new_in[2] < 0) return g->err->code;
        break;
    }
    case K_SPLIT_V: {
        int64_t a;
        if (const_vec(g, n->in[2], &a, 1) != 1) return LP_OK;
        int32_t na = P[a < 0 ? a + r : a];
        char name[600];
        snprintf(name, sizeof name, "%.400s/axis", base);
        new_in[2] = lp_graph_add_const(g, name, LP_DT_I32, 0, NULL, &na, 4, 1);
        if (new_in[2] < 0) return g->err->code;
        break;
    }
    case K_GATHER: {
        if (g->t[n->in[1]].rank > 1 || n->p.batch_dims) return LP_OK;
        int a = n->p.axis < 0 ? n->p.axis + r : n->p.axis;
        np.axis = P[a];
        if (drops) {
            /* q, k and v picked from one tensor: worth it only when a view follows that can
             * absorb the transpose (view_chain), else one transpose becomes three */
            int y0 = n->out[0], cons = only_consumer(L, y0);
            if (cons < 0 || g->n[cons].op != LP_TFL_RESHAPE) return LP_OK;
            n = &g->n[ni];
            rout = 0;
            for (int i = 0; i < r; i++)
                if (i != a) Qout[rout++] = P[i] > P[a] ? P[i] - 1 : P[i];
        }
        break;
    }
    case K_FC:
        /* FULLY_CONNECTED maps the last axis: it commutes with any order of the others */
        if (!n->p.keep_num_dims || P[r - 1] != r - 1) return LP_OK;
        break;
    default: break;
    }
    /* data inputs: the transpose's input, or the permuted constant */
    for (int k = 0; k < nd; k++) {
        int j = data[k], t = n->in[j];
        int q[LP_MAX_RANK], rq, p = transpose_producer(g, t, q, &rq);
        if (p >= 0) {
            new_in[j] = g->n[p].in[0];
        } else {
            new_in[j] = permute_const(L, t, P, r, base);
            if (new_in[j] < 0) return L->c->err->code ? L->c->err->code : LP_OK;
        }
    }
    n = &g->n[ni];
    if (!lp_node_set_inputs(g, ni, new_in, n->n_in)) return g->err->code;
    n = &g->n[ni];
    n->p = np;
    /* outputs: each old output is now the transpose of a new pre-layout tensor */
    int origin = n->origin, n_out = n->n_out;
    for (int k = 0; k < n_out; k++) {
        int y = g->n[ni].out[k];
        lp_tensor Y = g->t[y];
        int qinv[LP_MAX_RANK];
        invert(Qout, rout, qinv);
        int64_t dims[LP_MAX_RANK];
        permute_dims(Y.dims, qinv, rout, dims);
        char name[600];
        snprintf(name, sizeof name, "%.400s/pre", Y.name);
        int y2 = lp_graph_add_tensor(g, name, Y.dtype, rout, dims);
        if (y2 < 0) return g->err->code;
        g->n[ni].out[k] = y2;
        g->t[y2].producer = ni;
        if (add_transpose(L, y2, Qout, rout, y, mark, base, origin) < 0) return g->err->code;
    }
    L->changed = 1;
    return LP_OK;
}

/* ---------------- reshapes ---------------- */

/* static shape vector of a tensor for a RESHAPE (-1 for its one dynamic dim); 0 if impossible */
static int reshape_shape(const lp_tensor *t, int32_t *v) {
    int dyn = 0;
    for (int i = 0; i < t->rank; i++) {
        if (t->dims[i] < 0) {
            if (dyn++) return 0;
            v[i] = -1;
        } else {
            v[i] = (int32_t)t->dims[i];
        }
    }
    return 1;
}

/* turn node ni into RESHAPE(x) -> its output (the output tensor's dims are the target) */
static lp_status make_reshape(lay *L, int ni, int x) {
    lp_graph *g = L->g;
    int32_t v[LP_MAX_RANK];
    const lp_tensor *Y = &g->t[g->n[ni].out[0]];
    if (!reshape_shape(Y, v)) return LP_OK;
    int sc = const_i32(L, g->n[ni].name, "shape", v, Y->rank, 0);
    if (sc < 0) return g->err->code;
    int ins[2] = {x, sc};
    if (!lp_node_set_inputs(g, ni, ins, 2)) return g->err->code;
    g->n[ni].op = LP_TFL_RESHAPE;
    memset(&g->n[ni].p, 0, sizeof g->n[ni].p);
    g->n[ni].layout = 0;
    L->changed = 1;
    return LP_OK;
}

static int dims_same(const lp_tensor *a, const lp_tensor *b) {
    return a->rank == b->rank && lp_dims_equal(a->dims, b->dims, a->rank);
}

/* Sink T(x, P) through a RESHAPE whose groups of dims (splits and merges) stay contiguous and in
 * order in x's layout: RESHAPE(T(x, P)) = T(RESHAPE'(x), P'). */
static lp_status reshape_sink(lay *L, int ni) {
    lp_graph *g = L->g;
    lp_node *n = &g->n[ni];
    int P[LP_MAX_RANK], r;
    int tp = transpose_producer(g, n->in[0], P, &r);
    if (tp < 0) return LP_OK;
    int x = g->n[tp].in[0];
    const lp_tensor *S = &g->t[n->in[0]], *Y = &g->t[n->out[0]], *X = &g->t[x];
    int q = Y->rank;
    /* non-1 dims of the transposed input (D) and of the output (E) */
    int di[LP_MAX_RANK], ei[LP_MAX_RANK], nd = 0, ne = 0;
    for (int i = 0; i < r; i++)
        if (S->dims[i] != 1) di[nd++] = i;
    for (int i = 0; i < q; i++)
        if (Y->dims[i] != 1) ei[ne++] = i;
    /* groups: gd[k]..gd[k+1] of D map to ge[k]..ge[k+1] of E */
    int gd[LP_MAX_RANK + 1], ge[LP_MAX_RANK + 1], ng = 0, a = 0, b = 0;
    while (a < nd && b < ne) {
        gd[ng] = a;
        ge[ng] = b;
        int64_t pa = S->dims[di[a]], pb = Y->dims[ei[b]];
        if (pa < 0 || pb < 0) {
            if (pa != pb) return LP_OK; /* symbols only pass through one to one */
            a++, b++;
        } else {
            a++, b++;
            while (pa != pb) {
                if (pa < pb) {
                    if (a >= nd || S->dims[di[a]] < 0) return LP_OK;
                    pa *= S->dims[di[a++]];
                } else {
                    if (b >= ne || Y->dims[ei[b]] < 0) return LP_OK;
                    pb *= Y->dims[ei[b++]];
                }
            }
        }
        if (a - gd[ng] > 1 && b - ge[ng] > 1) return LP_OK; /* a mixed group */
        ng++;
    }
    if (a != nd || b != ne) return LP_OK;
    gd[ng] = nd;
    ge[ng] = ne;
    /* in x, each group's dims must be consecutive non-1 dims in the same order */
    int xs[LP_MAX_RANK], nxs = 0; /* non-1 x dims in order */
    for (int i = 0; i < r; i++)
        if (X->dims[i] != 1) xs[nxs++] = i;
    int Q1[LP_MAX_RANK], reorder = 0; /* x dims in group order: x' = T(x, Q1) */
    for (int i = 0; i < r; i++) Q1[i] = i;
    for (int k = 0; k < ng; k++) {
        /* positions of the group's dims among x's non-1 dims: a consecutive run */
        int lo = nxs, hi = -1, len = gd[k + 1] - gd[k];
        for (int j = gd[k]; j < gd[k + 1]; j++)
            for (int m = 0; m < nxs; m++)
                if (xs[m] == P[di[j]]) {
                    lo = m < lo ? m : lo;
                    hi = m > hi ? m : hi;
                }
        if (hi - lo + 1 != len) return LP_OK;
        for (int t = 0; t < len; t++) {
            if (xs[lo + t] != P[di[gd[k] + t]]) reorder = 1;
            Q1[xs[lo + t]] = P[di[gd[k] + t]];
        }
    }
    if (reorder) {
        /* a merge whose dims are out of order in x (a channel shuffle): reorder them with one
         * transpose inside x's layout, which other rules can often remove, and go on from x' */
        int64_t xd[LP_MAX_RANK];
        permute_dims(X->dims, Q1, r, xd);
        char nm[600];
        snprintf(nm, sizeof nm, "%.400s/reordered", X->name);
        int xr = lp_graph_add_tensor(g, nm, X->dtype, r, xd);
        if (xr < 0) return g->err->code;
        if (add_transpose(L, x, Q1, r, xr, 0, g->n[ni].name, g->n[ni].origin) < 0) return g->err->code;
        int q1inv[LP_MAX_RANK], Pn[LP_MAX_RANK] = {0};
        invert(Q1, r, q1inv);
        for (int i = 0; i < r; i++) Pn[i] = q1inv[P[i]];
        memcpy(P, Pn, sizeof P);
        x = xr;
        n = &g->n[ni];
        S = &g->t[n->in[0]];
        Y = &g->t[n->out[0]];
        X = &g->t[x];
        nxs = 0;
        for (int i = 0; i < r; i++)
            if (X->dims[i] != 1) xs[nxs++] = i;
    }
    int xg[LP_MAX_RANK]; /* x dim -> group, -1 for size-1 dims */
    for (int i = 0; i < r; i++) xg[i] = -1;
    for (int k = 0; k < ng; k++)
        for (int j = gd[k]; j < gd[k + 1]; j++) xg[P[di[j]]] = k;
    /* x-side target: groups in x order, each contributing its E dims; size-1 E dims first */
    int64_t zd[LP_MAX_RANK];
    int Pp[LP_MAX_RANK]; /* output dim i of Y is z dim Pp[i] */
    int nz = 0;
    for (int i = 0; i < q; i++)
        if (Y->dims[i] == 1) {
            Pp[i] = nz;
            zd[nz++] = 1;
        }
    int seen[LP_MAX_RANK] = {0};
    for (int m = 0; m < nxs; m++) {
        int k = xg[xs[m]];
        if (k < 0 || seen[k]) continue;
        seen[k] = 1;
        for (int j = ge[k]; j < ge[k + 1]; j++) {
            Pp[ei[j]] = nz;
            zd[nz++] = Y->dims[ei[j]];
        }
    }
    if (nz != q) return LP_OK;
    int32_t sv[LP_MAX_RANK];
    lp_tensor tmp = *Y;
    memcpy(tmp.dims, zd, sizeof zd);
    if (!reshape_shape(&tmp, sv)) return LP_OK;
    /* rewrite: RESHAPE(x) -> z, then T(z, Pp) -> y */
    int mark = g->n[tp].layout, origin = n->origin;
    char base[600];
    snprintf(base, sizeof base, "%.400s", n->name);
    int y = n->out[0];
    char name[600];
    snprintf(name, sizeof name, "%.400s/pre", Y->name);
    int z = lp_graph_add_tensor(g, name, Y->dtype, q, zd);
    int sc = const_i32(L, base, "shape", sv, q, 0);
    if (z < 0 || sc < 0) return g->err->code;
    int ins[2] = {x, sc};
    if (!lp_node_set_inputs(g, ni, ins, 2)) return g->err->code;
    g->n[ni].out[0] = z;
    g->t[z].producer = ni;
    memset(&g->n[ni].p, 0, sizeof g->n[ni].p);
    if (is_identity(Pp, q)) {
        forward(L, y, z);
        if (g->t[y].flags & LP_T_OUTPUT) {
            /* keep the output tensor: make the reshape write it */
            g->n[ni].out[0] = y;
            g->t[y].producer = ni;
        }
    } else if (add_transpose(L, z, Pp, q, y, mark, base, origin) < 0) {
        return g->err->code;
    }
    L->changed = 1;
    return LP_OK;
}

/* the consumer of tensor t when it has exactly one (and is not a graph output), else -1 */
static int only_consumer(lay *L, int t) {
    resolve_all(L);
    const lp_graph *g = L->g;
    if (g->t[t].flags & LP_T_OUTPUT) return -1;
    int found = -1;
    for (int i = 0; i < g->n_n; i++) {
        const lp_node *n = &g->n[i];
        if (n->dead) continue;
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] == t) {
                if (found >= 0) return -1;
                found = i;
            }
    }
    return found;
}

/* T(x, P) costs nothing: x is a constant, or P only moves size-1 dims of x, or x comes from a
 * transpose that P cancels or turns into such a move */
static int transpose_is_free(const lp_graph *g, int x, const int *P, int r) {
    if (lp_tensor_is_const(g, x)) return 1;
    int Q[LP_MAX_RANK], rq, C[LP_MAX_RANK];
    const lp_tensor *X = &g->t[x];
    memcpy(C, P, sizeof C);
    if (transpose_producer(g, x, Q, &rq) >= 0 && rq == r) {
        X = &g->t[g->n[g->t[x].producer].in[0]];
        for (int i = 0; i < r; i++) C[i] = Q[P[i]];
    }
    int last = -1;
    for (int i = 0; i < r; i++) {
        if (X->dims[C[i]] == 1) continue;
        if (C[i] < last) return 0;
        last = C[i];
    }
    return 1;
}

/* T(CONCAT(x_i, axis a), P) = CONCAT(T(x_i, P), axis P^-1[a]) when every T(x_i, P) is free:
 * a channel shuffle after a concatenation becomes an interleaving concatenation. */
static lp_status hoist_into_concat(lay *L, int ni) {
    lp_graph *g = L->g;
    int P[LP_MAX_RANK];
    int r = perm_of(g, &g->n[ni], P);
    if (r < 0) return LP_OK;
    int c = g->n[ni].in[0], y = g->n[ni].out[0];
    int cn = g->t[c].producer;
    if (cn < 0 || g->n[cn].dead || g->n[cn].op != LP_TFL_CONCATENATION || g->n[cn].p.act) return LP_OK;
    if (only_consumer(L, c) != ni || g->n[cn].n_in > 64) return LP_OK;
    int ni_in = g->n[cn].n_in;
    for (int j = 0; j < ni_in; j++)
        if (g->t[g->n[cn].in[j]].rank != r || !transpose_is_free(g, g->n[cn].in[j], P, r)) return LP_OK;
    int inv[LP_MAX_RANK];
    invert(P, r, inv);
    int a = g->n[cn].p.axis < 0 ? g->n[cn].p.axis + r : g->n[cn].p.axis;
    int ins[64];
    char base[600];
    snprintf(base, sizeof base, "%.400s", g->n[cn].name);
    for (int j = 0; j < ni_in; j++) {
        int xj = g->n[cn].in[j];
        const lp_tensor *Xj = &g->t[xj];
        int64_t d[LP_MAX_RANK];
        permute_dims(Xj->dims, P, r, d);
        char nm[600];
        snprintf(nm, sizeof nm, "%.400s/hoisted", Xj->name);
        lp_dtype dt = Xj->dtype;
        int tj = lp_graph_add_tensor(g, nm, dt, r, d);
        if (tj < 0 || add_transpose(L, xj, P, r, tj, g->n[ni].layout, base, g->n[cn].origin) < 0) return g->err->code;
        ins[j] = tj;
    }
    if (!lp_node_set_inputs(g, cn, ins, ni_in)) return g->err->code;
    g->n[cn].p.axis = inv[a];
    g->n[cn].out[0] = y;
    g->t[y].producer = cn;
    g->n[ni].dead = 1;
    L->changed = 1;
    return LP_OK;
}

/* RESHAPE(CONCAT(x_1..x_k, axis a)) that splits axis a into (k, m), each x_i being m wide, is
 * CONCAT(RESHAPE(x_i) with a unit axis, axis a). Done only when a TRANSPOSE reads the result,
 * so that hoist_into_concat can go on. */
static lp_status reshape_into_concat(lay *L, int ni) {
    lp_graph *g = L->g;
    int c = g->n[ni].in[0], y = g->n[ni].out[0];
    int cn = g->t[c].producer;
    if (cn < 0 || g->n[cn].dead || g->n[cn].op != LP_TFL_CONCATENATION || g->n[cn].p.act) return LP_OK;
    if (only_consumer(L, c) != ni) return LP_OK;
    int t = only_consumer(L, y);
    if (t < 0 || g->n[t].op != LP_TFL_TRANSPOSE) return LP_OK;
    const lp_tensor *C = &g->t[c], *Y = &g->t[y];
    int r = C->rank, k = g->n[cn].n_in;
    int a = g->n[cn].p.axis < 0 ? g->n[cn].p.axis + r : g->n[cn].p.axis;
    if (Y->rank != r + 1 || r + 1 > LP_MAX_RANK || k > 64 || Y->dims[a] != k) return LP_OK;
    int64_t m = Y->dims[a + 1];
    for (int i = 0; i < r; i++) {
        if (i == a) continue;
        if (Y->dims[i < a ? i : i + 1] != C->dims[i]) return LP_OK;
    }
    for (int j = 0; j < k; j++)
        if (g->t[g->n[cn].in[j]].dims[a] != m) return LP_OK;
    int ins[64];
    for (int j = 0; j < k; j++) {
        int xj = g->n[cn].in[j];
        const lp_tensor *Xj = &g->t[xj];
        int64_t d[LP_MAX_RANK];
        int q = 0;
        for (int i = 0; i < r; i++) {
            if (i == a) d[q++] = 1;
            d[q++] = Xj->dims[i];
        }
        int32_t sv[LP_MAX_RANK];
        lp_tensor tmp = *Xj;
        tmp.rank = r + 1;
        memcpy(tmp.dims, d, sizeof d);
        if (!reshape_shape(&tmp, sv)) return LP_OK;
        char nm[600];
        snprintf(nm, sizeof nm, "%.400s/unit", Xj->name);
        lp_dtype dt = Xj->dtype;
        int tj = lp_graph_add_tensor(g, nm, dt, r + 1, d);
        int sc = const_i32(L, g->n[cn].name, "shape", sv, r + 1, 0);
        if (tj < 0 || sc < 0) return g->err->code;
        int rin[2] = {xj, sc};
        snprintf(nm, sizeof nm, "%.400s/unit", g->n[cn].name);
        int rid = lp_graph_add_node(g, LP_TFL_RESHAPE, nm, rin, 2, &tj, 1);
        if (rid < 0) return g->err->code;
        g->n[rid].origin = g->n[cn].origin;
        ins[j] = tj;
    }
    if (!lp_node_set_inputs(g, cn, ins, k)) return g->err->code;
    g->n[cn].p.axis = a;
    g->n[cn].out[0] = y;
    g->t[y].producer = cn;
    g->n[ni].dead = 1;
    L->changed = 1;
    return LP_OK;
}

/* RESHAPE(RESHAPE(x)) -> RESHAPE(x); a RESHAPE to the input's own shape disappears */
static lp_status reshape_rules(lay *L, int ni) {
    lp_graph *g = L->g;
    lp_node *n = &g->n[ni];
    int x = n->in[0], y = n->out[0];
    int p = g->t[x].producer;
    if (p >= 0 && !g->n[p].dead && g->n[p].op == LP_TFL_RESHAPE) {
        int x0 = g->n[p].in[0];
        if (make_reshape(L, ni, x0) != LP_OK) return g->err->code;
        n = &g->n[ni];
        x = n->in[0];
    }
    if (dims_same(&g->t[x], &g->t[y]) && !(g->t[y].flags & LP_T_OUTPUT) && g->t[x].dtype == g->t[y].dtype) {
        /* equal symbols are equal sizes; LP_DIM_UNKNOWN is "some size" and proves nothing
         * unless it is the only dynamic dim (the element count then fixes it) */
        int dyn = 0, unknown = 0;
        for (int i = 0; i < g->t[x].rank; i++) {
            dyn += g->t[x].dims[i] < 0;
            unknown |= g->t[x].dims[i] == LP_DIM_UNKNOWN;
        }
        if (dyn <= 1 || !unknown) {
            forward(L, y, x);
            g->n[ni].dead = 1;
            L->changed = 1;
        }
    }
    return LP_OK;
}

/* A transpose that only moves size-1 dims does not move data: a reshape. */
static lp_status transpose_as_reshape(lay *L, int ni) {
    lp_graph *g = L->g;
    int P[LP_MAX_RANK];
    int r = perm_of(g, &g->n[ni], P);
    if (r < 0) return LP_OK;
    const lp_tensor *X = &g->t[g->n[ni].in[0]];
    int last = -1;
    for (int i = 0; i < r; i++) {
        if (X->dims[P[i]] == 1) continue;
        if (P[i] < last) return LP_OK;
        last = P[i];
    }
    return make_reshape(L, ni, g->n[ni].in[0]);
}

/* ---------------- chains of views ---------------- */

/* A chain of RESHAPE and TRANSPOSE ops (each intermediate read only by the next) is one
 * permutation of the data's "atoms": the finest sizes every step's dims are products of. Multi-head
 * attention as PyTorch exports it (batch-first to sequence-first, heads split by a view, moved by
 * transpose(0, 1), ...) gives chains of two or three transposes that are one permutation of
 * [batch, tokens, heads, head dim]. The chain is rewritten as RESHAPE -> TRANSPOSE -> RESHAPE (each
 * left out when it is the identity) when that has fewer transposes, or as many and fewer ops.
 *
 * Sizes are monomials c * D^k (k 0 or 1), D the one dynamic dim of the chain's input: a step may
 * have one dynamic dim, whose size follows from the element count. D is an atom of its own and is
 * never split, so a merged size like 12 * D is a run of atoms in a known order. */

#define VC_MAX_ATOMS 32
#define VC_MAX_CHAIN 16

typedef struct vc_mono {
    int64_t c;
    int k;
} vc_mono;

static int vc_divides(vc_mono a, vc_mono b) { return a.k <= b.k && a.c > 0 && b.c % a.c == 0; }
static vc_mono vc_div(vc_mono b, vc_mono a) { return (vc_mono){b.c / a.c, b.k - a.k}; }
static int vc_eq(vc_mono a, vc_mono b) { return a.c == b.c && a.k == b.k; }

/* dims of t as monomials; total: the chain's element count; 0 when not expressible */
static int vc_dims(const lp_tensor *t, vc_mono total, vc_mono *m) {
    int64_t known = 1;
    int dyn = -1;
    for (int i = 0; i < t->rank; i++) {
        if (t->dims[i] < 0) {
            if (dyn >= 0) return 0;
            dyn = i;
        } else {
            if (t->dims[i] == 0) return 0;
            known *= t->dims[i];
            m[i] = (vc_mono){t->dims[i], 0};
        }
    }
    if (dyn < 0) return total.k == 0 && total.c == known;
    if (total.k != 1 || total.c % known) return 0;
    m[dyn] = (vc_mono){total.c / known, 1};
    return 1;
}

typedef struct vc_state {
    vc_mono size[VC_MAX_ATOMS];
    int n_atoms;
    int xo[VC_MAX_ATOMS], nx;   /* atoms in the chain input's memory order */
    int cur[VC_MAX_ATOMS], nc;  /* atoms in the current step's memory order */
    int dl[LP_MAX_RANK], rank;  /* atoms per dim of the current step */
    int is_n[VC_MAX_ATOMS];     /* made by the FULLY_CONNECTED of the chain (its output features) */
} vc_state;

/* split atom a into (outer of size o, inner) everywhere; 0 when out of room */
static int vc_split(vc_state *s, int a, vc_mono o) {
    if (s->n_atoms >= VC_MAX_ATOMS || s->nx >= VC_MAX_ATOMS || s->nc >= VC_MAX_ATOMS) return 0;
    int b = s->n_atoms++;
    s->size[b] = vc_div(s->size[a], o);
    s->size[a] = o;
    s->is_n[b] = s->is_n[a];
    int *lists[2] = {s->xo, s->cur}, *lens[2] = {&s->nx, &s->nc};
    for (int l = 0; l < 2; l++) {
        int *v = lists[l], n = *lens[l];
        for (int i = 0; i < n; i++)
            if (v[i] == a) {
                memmove(v + i + 2, v + i + 1, sizeof(int) * (size_t)(n - i - 1));
                v[i + 1] = b;
                (*lens[l])++;
                break;
            }
    }
    return 1;
}

/* the current step regrouped into dims m[0..q-1] (a RESHAPE); 0 when the atoms do not line up */
static int vc_reshape(vc_state *s, const vc_mono *m, int q) {
    int j = 0;
    for (int i = 0; i < q; i++) {
        vc_mono acc = {1, 0};
        int cnt = 0;
        while (!vc_eq(acc, m[i])) {
            if (!vc_divides(acc, m[i]) || j >= s->nc) return 0;
            vc_mono need = vc_div(m[i], acc);
            int a = s->cur[j];
            if (!vc_divides(s->size[a], need)) {
                if (!vc_divides(need, s->size[a]) || s->size[a].k) return 0;
                if (!vc_split(s, a, need)) return 0;
            }
            acc.c *= s->size[a].c;
            acc.k += s->size[a].k;
            j++;
            cnt++;
        }
        s->dl[i] = cnt;
    }
    s->rank = q;
    return j == s->nc;
}

static void vc_transpose(vc_state *s, const int *P, int r) {
    int start[LP_MAX_RANK], o = 0, out[VC_MAX_ATOMS], dl[LP_MAX_RANK], n = 0;
    for (int i = 0; i < r; i++) {
        start[i] = o;
        o += s->dl[i];
    }
    for (int i = 0; i < r; i++) {
        for (int t = 0; t < s->dl[P[i]]; t++) out[n++] = s->cur[start[P[i]] + t];
        dl[i] = s->dl[P[i]];
    }
    memcpy(s->cur, out, sizeof(int) * (size_t)n);
    memcpy(s->dl, dl, sizeof(int) * (size_t)r);
}

/* a dim value for monomial m: a dim of some tensor of the chain with that size, else unknown */
static int64_t vc_dim_value(const lp_graph *g, const int *ts, int nt, vc_mono total, vc_mono m) {
    if (m.k == 0) return m.c;
    for (int i = 0; i < nt; i++) {
        vc_mono d[LP_MAX_RANK];
        const lp_tensor *t = &g->t[ts[i]];
        if (!vc_dims(t, total, d)) continue;
        for (int j = 0; j < t->rank; j++)
            if (t->dims[j] < 0 && vc_eq(d[j], m)) return t->dims[j];
    }
    return LP_DIM_UNKNOWN;
}

static int vc_link(const lp_graph *g, int ni) {
    const lp_node *n = &g->n[ni];
    if (n->dead || n->n_out != 1 || n->out[0] < 0) return 0;
    if (n->op == LP_TFL_RESHAPE) return 1;
    int P[LP_MAX_RANK];
    return perm_of(g, n, P) > 0;
}

/* a FULLY_CONNECTED that a chain may pass through: it maps the last dim's atoms (K features, a
 * static weight [N, K]) to N features and treats all other atoms alike, so they may be in any
 * order while it runs */
static int vc_fc(const lp_graph *g, int ni) {
    const lp_node *n = &g->n[ni];
    if (n->dead || n->op != LP_TFL_FULLY_CONNECTED || n->n_out != 1 || n->out[0] < 0 || n->n_in < 2) return 0;
    const lp_tensor *W = &g->t[n->in[1]], *X = &g->t[n->in[0]];
    return W->rank == 2 && W->dims[0] > 0 && W->dims[1] > 0 && X->rank >= 1 && X->dims[X->rank - 1] == W->dims[1] &&
           X->dtype == LP_DT_F32 && g->t[n->out[0]].dtype == LP_DT_F32;
}

/* a RESHAPE node in -> out (out's dims, at most one dynamic) */
static int add_reshape(lay *L, int in, int out, const char *base, int origin) {
    lp_graph *g = L->g;
    int32_t v[LP_MAX_RANK];
    if (!reshape_shape(&g->t[out], v)) return -1;
    int sc = const_i32(L, base, "shape", v, g->t[out].rank, 0);
    if (sc < 0) return -1;
    int ins[2] = {in, sc};
    char name[600];
    snprintf(name, sizeof name, "%.400s/reshape", base);
    int id = lp_graph_add_node(g, LP_TFL_RESHAPE, name, ins, 2, &out, 1);
    if (id < 0) return -1;
    g->n[id].origin = origin;
    g->t[out].producer = id;
    return id;
}

/* The x-side plan of a chain: x's atoms merged into runs that stay together in the target order
 * (pos[atom] = its place there), as dims zd, and the permutation that puts the runs in target
 * order (wd: the permuted dims). Dim values come from the chain's tensors ts[0..nt-1], whose
 * element count is `total`. 0 when an atom has no place or a TRANSPOSE would pass 6 dims. */
typedef struct vc_plan {
    int ng, perm[LP_MAX_RANK];
    int64_t zd[LP_MAX_RANK], wd[LP_MAX_RANK];
} vc_plan;

static int vc_make_plan(const lp_graph *g, const vc_state *s, const int *pos, const int *ts, int nt, vc_mono total,
                        vc_plan *pl) {
    int gstart[VC_MAX_ATOMS + 1], ng = 0;
    for (int i = 0; i < s->nx; i++) {
        if (pos[s->xo[i]] < 0) return 0;
        if (i == 0 || pos[s->xo[i]] != pos[s->xo[i - 1]] + 1) gstart[ng++] = i;
    }
    gstart[ng] = s->nx;
    if (ng < 1 || ng > 6) return 0; /* TRANSPOSE kernels take up to 6 dims */
    for (int k = 0; k < ng; k++) {
        vc_mono size = {1, 0};
        for (int i = gstart[k]; i < gstart[k + 1]; i++) {
            size.c *= s->size[s->xo[i]].c;
            size.k += s->size[s->xo[i]].k;
        }
        pl->zd[k] = vc_dim_value(g, ts, nt, total, size);
        /* target order of the runs: by the place of their first atom */
        int rank = 0;
        for (int j = 0; j < ng; j++) rank += pos[s->xo[gstart[j]]] < pos[s->xo[gstart[k]]];
        pl->perm[rank] = k;
    }
    for (int k = 0; k < ng; k++) pl->wd[k] = pl->zd[pl->perm[k]];
    pl->ng = ng;
    return 1;
}

/* the chain's nodes dead, and in their place RESHAPE(x -> the plan's dims, when they differ from
 * x's) -> TRANSPOSE (when the permutation is not the identity) writing `w` (a new tensor when w <
 * 0); returns the last tensor written (x when neither is needed), -1 on error */
static int vc_emit(lay *L, const int *chain, int len, const vc_plan *pl, int x, int w, const char *base, int origin) {
    lp_graph *g = L->g;
    int mark = 1;
    for (int k = 0; k < len; k++) {
        if (g->n[chain[k]].op == LP_TFL_TRANSPOSE) mark &= g->n[chain[k]].layout;
        g->n[chain[k]].dead = 1;
    }
    char name[620];
    lp_tensor Z = g->t[x];
    Z.rank = pl->ng;
    memcpy(Z.dims, pl->zd, sizeof pl->zd);
    int cur = x;
    if (!dims_same(&Z, &g->t[x])) {
        snprintf(name, sizeof name, "%s/atoms", base);
        cur = lp_graph_add_tensor(g, name, Z.dtype, pl->ng, pl->zd);
        if (cur < 0 || add_reshape(L, x, cur, base, origin) < 0) return -1;
    }
    if (is_identity(pl->perm, pl->ng)) return cur;
    if (w < 0) {
        snprintf(name, sizeof name, "%s/permuted", base);
        w = lp_graph_add_tensor(g, name, Z.dtype, pl->ng, pl->wd);
        if (w < 0) return -1;
    }
    int tid = add_transpose(L, cur, pl->perm, pl->ng, w, mark, base, origin);
    if (tid < 0) return -1;
    g->t[w].producer = tid;
    return w;
}

/* The chain through a FULLY_CONNECTED, rewritten as RESHAPE -> TRANSPOSE -> RESHAPE -> FC ->
 * RESHAPE: the transpose brings the other atoms into the order the chain's output has them and the
 * K features last, so nothing moves after the FC. Only when that saves a transpose. */
static lp_status vc_rewrite_fc(lay *L, const int *chain, int len, int fc, const int *ts, const vc_state *s,
                               const int *ka, int nk, vc_mono xtotal, int n_tr) {
    lp_graph *g = L->g;
    int x = ts[0], y = ts[len], fcn = chain[fc];
    /* the output features must be innermost in the output, in their own order */
    int nn = 0;
    for (int i = 0; i < s->nc; i++) nn += s->is_n[s->cur[i]];
    for (int i = 0; i < s->nc; i++)
        if (s->is_n[s->cur[i]] != (i >= s->nc - nn)) return LP_OK;
    int nl = s->nc - nn;
    if (s->nx != nl + nk) return LP_OK;
    /* target order before the FC: the output's other atoms, then the K features */
    int tgt[VC_MAX_ATOMS], pos[VC_MAX_ATOMS];
    for (int i = 0; i < VC_MAX_ATOMS; i++) pos[i] = -1;
    memcpy(tgt, s->cur, sizeof(int) * (size_t)nl);
    memcpy(tgt + nl, ka, sizeof(int) * (size_t)nk);
    for (int i = 0; i < s->nx; i++) pos[tgt[i]] = i;
    vc_plan pl;
    if (!vc_make_plan(g, s, pos, ts, fc + 1, xtotal, &pl)) return LP_OK;
    if ((is_identity(pl.perm, pl.ng) ? 0 : 1) >= n_tr) return LP_OK; /* fewer transposes, or none */
    vc_mono M = {1, 0};
    for (int i = 0; i < nl; i++) {
        M.c *= s->size[tgt[i]].c;
        M.k += s->size[tgt[i]].k;
    }
    int64_t K = g->t[g->n[fcn].in[1]].dims[1], N = g->t[g->n[fcn].in[1]].dims[0];
    int64_t md = vc_dim_value(g, ts, fc + 1, xtotal, M);
    lp_tensor Z = g->t[x], W = g->t[x], F = g->t[x], O = g->t[y];
    Z.rank = W.rank = pl.ng;
    memcpy(Z.dims, pl.zd, sizeof pl.zd);
    memcpy(W.dims, pl.wd, sizeof pl.wd);
    F.rank = O.rank = 2;
    F.dims[0] = O.dims[0] = md;
    F.dims[1] = K;
    O.dims[1] = N;
    int32_t sv[LP_MAX_RANK];
    if (!reshape_shape(&Z, sv) || !reshape_shape(&W, sv) || !reshape_shape(&F, sv) || !reshape_shape(&O, sv) ||
        !reshape_shape(&g->t[y], sv))
        return LP_OK;
    char base[600], nf[620], no[620];
    snprintf(base, sizeof base, "%.400s", g->n[fcn].name);
    snprintf(nf, sizeof nf, "%s/rows", base);
    snprintf(no, sizeof no, "%s/out", base);
    int origin = g->n[fcn].origin;
    int cur = vc_emit(L, chain, len, &pl, x, -1, base, origin);
    if (cur < 0) return g->err->code;
    g->n[fcn].dead = 0; /* the FC stays, reading the permuted rows */
    if (!dims_same(&F, &g->t[cur])) {
        int f = lp_graph_add_tensor(g, nf, g->t[x].dtype, 2, F.dims);
        if (f < 0 || add_reshape(L, cur, f, base, origin) < 0) return g->err->code;
        cur = f;
    }
    int o = y;
    if (!dims_same(&O, &g->t[y])) {
        o = lp_graph_add_tensor(g, no, g->t[y].dtype, 2, O.dims);
        if (o < 0) return g->err->code;
    }
    int ins[LP_MAX_RANK];
    int n_in = g->n[fcn].n_in;
    if (n_in > LP_MAX_RANK) return LP_OK;
    memcpy(ins, g->n[fcn].in, sizeof(int) * (size_t)n_in);
    ins[0] = cur;
    if (!lp_node_set_inputs(g, fcn, ins, n_in)) return g->err->code;
    g->n[fcn].out[0] = o;
    g->n[fcn].p.keep_num_dims = 0;
    g->t[o].producer = fcn;
    if (o != y && add_reshape(L, o, y, base, origin) < 0) return g->err->code;
    L->changed = 1;
    return LP_OK;
}

/* uses[t]: readers of t (a graph output counts as one), reader[t] one of them; tensors past
 * n_uses (made since they were counted) end a chain */
static lp_status view_chain(lay *L, int ni, const int *uses, const int *reader, int n_uses) {
    lp_graph *g = L->g;
    if (!vc_link(g, ni)) return LP_OK;
    int x = g->n[ni].in[0];
    int p = x >= 0 ? g->t[x].producer : -1;
    /* only from the head of a chain */
    if (p >= 0 && vc_link(g, p) && x < n_uses && uses[x] == 1 && !(g->t[x].flags & LP_T_OUTPUT)) return LP_OK;
    int chain[VC_MAX_CHAIN], len = 0, n_tr = 0, fc = -1;
    int ts[VC_MAX_CHAIN + 1];
    ts[0] = x;
    for (int at = ni;;) {
        chain[len++] = at;
        n_tr += g->n[at].op == LP_TFL_TRANSPOSE;
        int y = g->n[at].out[0];
        ts[len] = y;
        if (len == VC_MAX_CHAIN || y >= n_uses || uses[y] != 1 || (g->t[y].flags & LP_T_OUTPUT)) break;
        int next = reader[y];
        if (next < 0 || g->n[next].in[0] != y) break;
        if (fc < 0 && vc_fc(g, next)) {
            fc = len;
        } else if (!vc_link(g, next)) {
            break;
        }
        at = next;
    }
    if (fc == len - 1) { /* a chain ending in its FULLY_CONNECTED: without it */
        len--;
        fc = -1;
    }
    if (len < 2 || n_tr == 0) return LP_OK;
    int y = ts[len];
    const lp_tensor *X = &g->t[x];
    if (X->rank < 1 || g->t[y].dtype != X->dtype) return LP_OK;
    /* the element count and the atoms of x */
    vc_state s;
    memset(&s, 0, sizeof s);
    vc_mono total = {1, 0};
    for (int i = 0; i < X->rank; i++) {
        if (X->dims[i] < 0) {
            if (total.k) return LP_OK;
            total.k = 1;
        } else if (X->dims[i] == 0) {
            return LP_OK;
        } else {
            total.c *= X->dims[i];
        }
    }
    vc_mono m[LP_MAX_RANK];
    if (!vc_dims(X, total, m)) return LP_OK;
    for (int i = 0; i < X->rank; i++) {
        s.dl[i] = 0;
        if (vc_eq(m[i], (vc_mono){1, 0})) continue;
        s.size[s.n_atoms] = m[i];
        s.xo[s.nx++] = s.cur[s.nc++] = s.n_atoms++;
        s.dl[i] = 1;
    }
    s.rank = X->rank;
    int ka[VC_MAX_ATOMS], nk = 0, n_atom = -1;
    vc_mono xtotal = total;
    for (int k = 0; k < len; k++) {
        const lp_node *n = &g->n[chain[k]];
        if (k == fc) {
            /* the last dim's atoms (the innermost ones) become one atom of N features */
            int64_t N = g->t[n->in[1]].dims[0];
            nk = s.dl[s.rank - 1];
            if (nk < 1 || s.n_atoms >= VC_MAX_ATOMS) return LP_OK;
            memcpy(ka, s.cur + s.nc - nk, sizeof(int) * (size_t)nk);
            n_atom = s.n_atoms++;
            s.size[n_atom] = (vc_mono){N, 0};
            s.is_n[n_atom] = 1;
            s.nc -= nk;
            s.cur[s.nc++] = n_atom;
            const lp_tensor *Y = &g->t[n->out[0]];
            int lead = s.nc - 1;
            if (n->p.keep_num_dims) {
                if (Y->rank != s.rank) return LP_OK;
                s.dl[s.rank - 1] = 1;
            } else {
                if (Y->rank != 2) return LP_OK;
                s.dl[0] = lead;
                s.dl[1] = 1;
                s.rank = 2;
            }
            total = (vc_mono){total.c / g->t[n->in[1]].dims[1] * N, total.k};
            if (!vc_dims(Y, total, m) || !vc_eq(m[Y->rank - 1], (vc_mono){N, 0})) return LP_OK;
            continue;
        }
        if (n->op == LP_TFL_TRANSPOSE) {
            int P[LP_MAX_RANK];
            if (perm_of(g, n, P) != s.rank) return LP_OK;
            vc_transpose(&s, P, s.rank);
        } else {
            const lp_tensor *Y = &g->t[n->out[0]];
            if (!vc_dims(Y, total, m) || !vc_reshape(&s, m, Y->rank)) return LP_OK;
        }
    }
    if (fc >= 0) return vc_rewrite_fc(L, chain, len, fc, ts, &s, ka, nk, xtotal, n_tr);
    /* the target order is the chain's output order */
    int pos[VC_MAX_ATOMS];
    for (int i = 0; i < VC_MAX_ATOMS; i++) pos[i] = -1;
    for (int i = 0; i < s.nc; i++) pos[s.cur[i]] = i;
    vc_plan pl;
    if (!vc_make_plan(g, &s, pos, ts, len + 1, total, &pl)) return LP_OK;
    int tr = !is_identity(pl.perm, pl.ng);
    lp_tensor Z = *X, W = g->t[y];
    Z.rank = W.rank = pl.ng;
    memcpy(Z.dims, pl.zd, sizeof pl.zd);
    memcpy(W.dims, pl.wd, sizeof pl.wd);
    int r1 = !dims_same(&Z, X), r2 = !dims_same(&W, &g->t[y]);
    if (!tr) r1 = 1, r2 = 0; /* one reshape x -> y */
    int new_ops = r1 + tr + r2;
    if (!(tr < n_tr || (tr == n_tr && new_ops < len))) return LP_OK;
    int32_t sv[LP_MAX_RANK];
    if (!reshape_shape(&Z, sv) || !reshape_shape(&W, sv) || !reshape_shape(&g->t[y], sv)) return LP_OK;

    char base[600];
    snprintf(base, sizeof base, "%.400s", g->n[chain[0]].name);
    int origin = g->n[chain[0]].origin;
    if (!tr) { /* the chain moves nothing: one reshape */
        for (int k = 0; k < len; k++) g->n[chain[k]].dead = 1;
        if (add_reshape(L, x, y, base, origin) < 0) return g->err->code;
    } else {
        int w = vc_emit(L, chain, len, &pl, x, r2 ? -1 : y, base, origin);
        if (w < 0 || (r2 && add_reshape(L, w, y, base, origin) < 0)) return g->err->code;
    }
    L->changed = 1;
    return LP_OK;
}

static lp_status view_chains(lay *L) {
    resolve_all(L);
    lp_graph *g = L->g;
    int n = g->n_t;
    int *uses = calloc((size_t)n + 1, sizeof(int)), *reader = malloc(sizeof(int) * ((size_t)n + 1));
    if (!uses || !reader) { /* an optimisation: without memory for it, the chains stay */
        free(uses);
        free(reader);
        return LP_OK;
    }
    for (int t = 0; t < n; t++) {
        reader[t] = -1;
        uses[t] = (g->t[t].flags & LP_T_OUTPUT) ? 1 : 0;
    }
    for (int i = 0; i < g->n_n; i++) {
        if (g->n[i].dead) continue;
        for (int j = 0; j < g->n[i].n_in; j++) {
            int t = g->n[i].in[j];
            if (t >= 0 && t < n) {
                uses[t]++;
                reader[t] = i;
            }
        }
    }
    lp_status st = LP_OK;
    int n0 = g->n_n;
    for (int i = 0; i < n0 && st == LP_OK; i++)
        if (!g->n[i].dead && (g->n[i].op == LP_TFL_RESHAPE || g->n[i].op == LP_TFL_TRANSPOSE))
            st = view_chain(L, i, uses, reader, n);
    free(uses);
    free(reader);
    return st;
}

/* FULLY_CONNECTED(RESHAPE(T(x, P)) -> [N, K]) = FULLY_CONNECTED'(RESHAPE(x)) with the weight
 * columns permuted: the flatten after a convolution reads NHWC directly. */
static lp_status fc_fold(lay *L, int ni) {
    lp_graph *g = L->g;
    lp_node *fc = &g->n[ni];
    if (fc->op != LP_TFL_FULLY_CONNECTED || fc->p.keep_num_dims || !lp_tensor_is_const(g, fc->in[1])) return LP_OK;
    int rs = g->t[fc->in[0]].producer;
    if (rs < 0 || g->n[rs].op != LP_TFL_RESHAPE || g->n[rs].dead) return LP_OK;
    int flat = g->n[rs].out[0];
    if (consumers(L, flat) != 1 || g->t[flat].rank != 2) return LP_OK;
    int P[LP_MAX_RANK], r;
    int tp = transpose_producer(g, g->n[rs].in[0], P, &r);
    if (tp < 0 || P[0] != 0) return LP_OK;
    int x = g->n[tp].in[0];
    const lp_tensor *X = &g->t[x], *W = &g->t[fc->in[1]];
    int64_t K = 1;
    for (int i = 1; i < r; i++) {
        if (X->dims[i] < 0) return LP_OK;
        K *= X->dims[i];
    }
    if (g->t[flat].dims[1] != K || W->rank != 2 || W->dims[1] != K || W->dtype != LP_DT_F32) return LP_OK;
    /* column j' (x order, batch excluded) of the new weight = column j (transposed order) */
    int64_t xs[LP_MAX_RANK], ts[LP_MAX_RANK], td[LP_MAX_RANK];
    permute_dims(X->dims, P, r, td);
    int64_t s = 1;
    for (int i = r - 1; i >= 1; i--) {
        xs[i] = s;
        s *= X->dims[i];
    }
    s = 1;
    for (int i = r - 1; i >= 1; i--) {
        ts[i] = s;
        s *= td[i];
    }
    int64_t units = W->dims[0];
    int64_t *map = malloc(sizeof(int64_t) * (size_t)K);
    if (!map) {
        free(map);
        return lp_err_set(g->err, LP_ERR_NOMEM, "out of memory");
    }
    for (int64_t jp = 0; jp < K; jp++) {
        int64_t j = 0, rem = jp;
        for (int i = 1; i < r; i++) {
            int64_t u = rem / xs[i]; /* index along x dim i */
            rem %= xs[i];
            /* x dim i is transposed dim inv(i): T dim t has x dim P[t] */
            for (int t = 1; t < r; t++)
                if (P[t] == i) j += u * ts[t];
        }
        map[jp] = j;
    }
    /* the reordered weight is computed while the file is written (lazy.c) */
    char name[600];
    snprintf(name, sizeof name, "%.400s/nhwc", W->name);
    int64_t wd[2] = {units, K};
    int wi = lp_graph_add_gathered(g, name, fc->in[1], 2, wd, 1, map, K);
    free(map);
    if (wi < 0) return g->err->code;
    g->n[ni].in[1] = wi;
    /* the reshape now flattens x itself */
    int32_t sv[2] = {g->t[flat].dims[0] < 0 ? -1 : (int32_t)g->t[flat].dims[0], (int32_t)K};
    int sc = const_i32(L, g->n[rs].name, "shape", sv, 2, 0);
    if (sc < 0) return g->err->code;
    int ins[2] = {x, sc};
    if (!lp_node_set_inputs(g, rs, ins, 2)) return g->err->code;
    L->changed = 1;
    return LP_OK;
}

/* ---------------- channel permutations ---------------- */

/* new constant: rows (dim 0) or last-dim entries of float tensor w permuted: out[.., i, ..] =
 * w[.., src[i], ..] along `axis` (0 or last) */
static int permuted_weight(lay *L, int w, int axis, const int64_t *src, const char *hint) {
    lp_graph *g = L->g;
    const lp_tensor *W = &g->t[w];
    int64_t n = lp_tensor_numel(W);
    if (n < 0 || W->dtype != LP_DT_F32) return -1;
    int64_t wd[LP_MAX_RANK];
    memcpy(wd, W->dims, sizeof wd);
    char name[600];
    snprintf(name, sizeof name, "%.400s/%s", W->name, hint);
    return lp_graph_add_gathered(g, name, w, W->rank, wd, axis, src, wd[axis]);
}

/* RESHAPE(split last dim) -> TRANSPOSE of the split dims -> RESHAPE(merge) is a permutation of
 * channels (a channel shuffle without a concatenation). It costs nothing when the producing
 * convolution's output channels, or the consuming convolutions' input channels, are permuted. */
static lp_status channel_perm_absorb(lay *L, int ni) {
    lp_graph *g = L->g;
    int P[LP_MAX_RANK];
    int r = perm_of(g, &g->n[ni], P);
    if (r < 0) return LP_OK;
    int x = g->n[ni].in[0], y = g->n[ni].out[0];
    int rs1 = g->t[x].producer;
    if (rs1 < 0 || g->n[rs1].dead || g->n[rs1].op != LP_TFL_RESHAPE || only_consumer(L, x) != ni) return LP_OK;
    int rs2 = only_consumer(L, y);
    if (rs2 < 0 || g->n[rs2].op != LP_TFL_RESHAPE) return LP_OK;
    int z = g->n[rs1].in[0], out = g->n[rs2].out[0];
    const lp_tensor *Z = &g->t[z], *X = &g->t[x], *O = &g->t[out], *Yt = &g->t[y];
    int k = Z->rank;
    if (k < 1 || O->rank != k || !lp_dims_equal(O->dims, Z->dims, k) || r < k) return LP_OK;
    for (int i = 0; i < k - 1; i++)
        if (X->dims[i] != Z->dims[i] || P[i] != i) return LP_OK;
    int64_t C = Z->dims[k - 1];
    if (C <= 0 || C > (1 << 20)) return LP_OK;
    /* pi[c'] = source channel of output channel c' */
    int nt = r - (k - 1);
    int64_t xs[LP_MAX_RANK], prod = 1;
    for (int i = r - 1; i >= k - 1; i--) {
        if (X->dims[i] <= 0) return LP_OK;
        xs[i] = prod;
        prod *= X->dims[i];
    }
    if (prod != C) return LP_OK;
    int64_t *pi = malloc(sizeof(int64_t) * (size_t)C * 2);
    if (!pi) return lp_err_set(g->err, LP_ERR_NOMEM, "out of memory");
    int64_t *pinv = pi + C;
    for (int64_t cp = 0; cp < C; cp++) {
        int64_t rem = cp, src = 0;
        for (int i = r - 1; i >= k - 1; i--) {
            int64_t t = rem % Yt->dims[i];
            rem /= Yt->dims[i];
            src += t * xs[P[i]];
        }
        pi[cp] = src;
        pinv[src] = cp;
    }
    (void)nt;
    lp_status st = LP_OK;
    int done = 0;
    /* (a) the producer's output channels */
    int pz = Z->producer;
    if (pz >= 0 && !g->n[pz].dead && only_consumer(L, z) == rs1 &&
        (g->n[pz].op == LP_TFL_CONV_2D || g->n[pz].op == LP_TFL_FULLY_CONNECTED) && g->n[pz].n_out == 1 &&
        lp_tensor_is_const(g, g->n[pz].in[1]) && !(g->n[pz].op == LP_TFL_FULLY_CONNECTED && k < 2)) {
        const lp_node *p = &g->n[pz];
        const lp_tensor *W = &g->t[p->in[1]], *Xin = &g->t[p->in[0]];
        int grouped = p->op == LP_TFL_CONV_2D && Xin->rank == 4 && W->dims[3] != Xin->dims[3];
        int bias = p->n_in > 2 ? p->in[2] : -1;
        if (!grouped && W->dims[0] == C && (bias < 0 || lp_tensor_is_const(g, bias))) {
            int nw = permuted_weight(L, p->in[1], 0, pi, "shuffled");
            int nb = bias >= 0 ? permuted_weight(L, bias, 0, pi, "shuffled") : -1;
            if (nw >= 0 && (bias < 0 || nb >= 0)) {
                int ins[3] = {g->n[pz].in[0], nw, nb};
                if (!lp_node_set_inputs(g, pz, ins, g->n[pz].n_in)) st = g->err->code;
                g->n[pz].out[0] = out;
                g->t[out].producer = pz;
                g->n[rs1].dead = g->n[ni].dead = g->n[rs2].dead = 1;
                done = 1;
            }
        }
    }
    /* (b) the consumers' input channels */
    if (!done && st == LP_OK && !(g->t[out].flags & LP_T_OUTPUT)) {
        int ok = 1, any = 0;
        for (int i = 0; i < g->n_n && ok; i++) {
            const lp_node *n = &g->n[i];
            if (n->dead) continue;
            for (int j = 0; j < n->n_in; j++) {
                if (n->in[j] != out) continue;
                any = 1;
                const lp_tensor *W = n->n_in > 1 ? &g->t[n->in[1]] : NULL;
                if (j != 0 || (n->op != LP_TFL_CONV_2D && n->op != LP_TFL_FULLY_CONNECTED) || !W ||
                    !lp_tensor_is_const(g, n->in[1]) || W->dims[W->rank - 1] != C)
                    ok = 0;
            }
        }
        if (ok && any) {
            for (int i = 0; i < g->n_n; i++) {
                lp_node *n = &g->n[i];
                if (n->dead || n->n_in < 2 || n->in[0] != out) continue;
                int nw = permuted_weight(L, n->in[1], g->t[n->in[1]].rank - 1, pinv, "unshuffled");
                if (nw < 0) {
                    st = g->err->code ? g->err->code : lp_err_set(g->err, LP_ERR_NOMEM, "out of memory");
                    break;
                }
                n = &g->n[i];
                n->in[0] = z;
                n->in[1] = nw;
            }
            done = st == LP_OK;
        }
    }
    free(pi);
    if (done) L->changed = 1;
    return st;
}

/* ---------------- graph outputs ---------------- */

static lp_status adopt_outputs(lay *L) {
    lp_graph *g = L->g;
    for (int k = 0; k < g->outputs.n; k++) {
        int y = g->outputs.v[k];
        int P[LP_MAX_RANK], r;
        int tp = transpose_producer(g, y, P, &r);
        if (tp < 0 || !g->n[tp].layout || r < 3 || r > 5) continue;
        int first[LP_MAX_RANK];
        lp_perm_to_first(r, first);
        if (memcmp(P, first, sizeof(int) * (size_t)r) != 0) continue;
        int z = g->n[tp].in[0];
        lp_tensor *Z = &g->t[z];
        if (Z->flags & (LP_T_INPUT | LP_T_OUTPUT | LP_T_CONST) || Z->producer < 0) continue;
        /* z takes the output's name and place; y stays for internal consumers */
        const char *nm = g->t[y].name;
        char old[600];
        snprintf(old, sizeof old, "%.400s/onnx_layout", nm);
        g->t[y].name = lp_arena_strdup(&g->arena, old);
        g->t[y].flags &= ~LP_T_OUTPUT;
        Z = &g->t[z];
        Z->name = nm;
        Z->flags |= LP_T_OUTPUT;
        Z->has_io_perm = 1;
        int to_last[LP_MAX_RANK];
        lp_perm_to_last(r, to_last);
        for (int i = 0; i < r; i++) Z->io_perm[i] = (int8_t)to_last[i];
        g->outputs.v[k] = z;
        L->changed = 1;
    }
    return LP_OK;
}

/* ---------------- run-time shapes ---------------- */

/* SHAPE(T(x, P)) = GATHER(SHAPE(x), P): lowerings read run-time sizes (lp_emit_dims) of tensors
 * in ONNX's layout; this keeps those reads from pinning a transpose. */
static lp_status shape_rule(lay *L, int ni) {
    lp_graph *g = L->g;
    int P[LP_MAX_RANK], r;
    int tp = transpose_producer(g, g->n[ni].in[0], P, &r);
    if (tp < 0) return LP_OK;
    int x = g->n[tp].in[0], y = g->n[ni].out[0];
    lp_tensor Y = g->t[y];
    char name[600];
    snprintf(name, sizeof name, "%.400s/pre", Y.name);
    int s = lp_graph_add_tensor(g, name, Y.dtype, Y.rank, Y.dims);
    if (s < 0) return g->err->code;
    int32_t p32[LP_MAX_RANK];
    for (int i = 0; i < r; i++) p32[i] = P[i];
    int pc = const_i32(L, g->n[ni].name, "perm", p32, r, 0);
    if (pc < 0) return g->err->code;
    g->n[ni].in[0] = x;
    g->n[ni].out[0] = s;
    g->t[s].producer = ni;
    int ins[2] = {s, pc};
    snprintf(name, sizeof name, "%.400s/permuted", g->n[ni].name);
    int id = lp_graph_add_node(g, LP_TFL_GATHER, name, ins, 2, &y, 1);
    if (id < 0) return g->err->code;
    g->n[id].origin = g->n[ni].origin;
    g->n[id].p.axis = 0;
    L->changed = 1;
    return LP_OK;
}

/* GATHER(GATHER(v, I), J) on a 1-D v with constant I and J is GATHER(v, I[J]) */
static lp_status gather_gather(lay *L, int ni) {
    lp_graph *g = L->g;
    lp_node *n = &g->n[ni];
    if (n->op != LP_TFL_GATHER || n->p.axis != 0 || n->p.batch_dims) return LP_OK;
    int p = g->t[n->in[0]].producer;
    if (p < 0 || g->n[p].dead || g->n[p].op != LP_TFL_GATHER || g->n[p].p.axis != 0 || g->n[p].p.batch_dims ||
        g->t[g->n[p].in[0]].rank != 1)
        return LP_OK;
    int64_t I[LP_MAX_RANK * 2], J[LP_MAX_RANK * 2];
    int ni_ = const_vec(g, g->n[p].in[1], I, LP_MAX_RANK * 2);
    if (ni_ < 0 || g->t[g->n[p].in[1]].rank != 1) return LP_OK;
    int nj = const_vec(g, n->in[1], J, LP_MAX_RANK * 2);
    if (nj < 0 || g->t[n->in[1]].rank > 1) return LP_OK;
    int32_t K[LP_MAX_RANK * 2];
    for (int i = 0; i < nj; i++) {
        if (J[i] < 0 || J[i] >= ni_) return LP_OK;
        K[i] = (int32_t)I[J[i]];
    }
    char name[600];
    snprintf(name, sizeof name, "%.400s/indices", n->name);
    int64_t d = nj;
    int kc = lp_graph_add_const(g, name, LP_DT_I32, g->t[n->in[1]].rank, &d, K, sizeof(int32_t) * (size_t)nj, 1);
    if (kc < 0) return g->err->code;
    int ins[2] = {g->n[p].in[0], kc};
    if (!lp_node_set_inputs(g, ni, ins, 2)) return g->err->code;
    L->changed = 1;
    return LP_OK;
}

/* ---------------- driver ---------------- */

lp_status lp_pass_layout(lp_ctx *c) {
    lay L = {c, c->g, 0, NULL, 0, 0};
    lp_graph *g = c->g;
    lp_status st = LP_OK;
    if (!c->opt->keep_io_layout) st = adopt_inputs(&L);
    for (int round = 0; round < MAX_ROUNDS && st == LP_OK; round++) {
        L.changed = 0;
        int n0 = g->n_n;
        for (int i = 0; i < n0 && st == LP_OK; i++) {
            if (g->n[i].dead) continue;
            resolve_node(&L, i);
            if (g->n[i].op == LP_TFL_TRANSPOSE) {
                st = transpose_rules(&L, i);
                if (st == LP_OK && !g->n[i].dead && g->n[i].op == LP_TFL_TRANSPOSE) st = hoist_into_concat(&L, i);
            } else if (g->n[i].op == LP_TFL_RESHAPE) {
                st = reshape_sink(&L, i);
                if (st == LP_OK && !g->n[i].dead && g->n[i].op == LP_TFL_RESHAPE) st = reshape_rules(&L, i);
                if (st == LP_OK && !g->n[i].dead && g->n[i].op == LP_TFL_RESHAPE) st = reshape_into_concat(&L, i);
            } else if (g->n[i].op == LP_TFL_SHAPE) {
                st = shape_rule(&L, i);
            } else {
                st = sink(&L, i);
                if (st == LP_OK && !g->n[i].dead && g->n[i].op == LP_TFL_GATHER) st = gather_gather(&L, i);
            }
        }
        resolve_all(&L);
        if (st == LP_OK) st = lp_pass_dce(c);
        if (st == LP_OK) st = lp_graph_toposort(g);
        if (!L.changed) break;
    }
    /* clean-up rules that would block cancellation if applied earlier */
    for (int round = 0; round < 4 && st == LP_OK; round++) {
        L.changed = 0;
        for (int i = 0; i < g->n_n && st == LP_OK; i++) {
            if (g->n[i].dead) continue;
            if (g->n[i].op == LP_TFL_FULLY_CONNECTED) st = fc_fold(&L, i);
        }
        if (st == LP_OK) st = view_chains(&L);
        if (!c->opt->keep_io_layout && st == LP_OK) st = adopt_outputs(&L);
        for (int i = 0; i < g->n_n && st == LP_OK; i++) {
            if (g->n[i].dead) continue;
            resolve_node(&L, i);
            if (g->n[i].op == LP_TFL_TRANSPOSE) {
                st = transpose_rules(&L, i);
                if (st == LP_OK && !g->n[i].dead && g->n[i].op == LP_TFL_TRANSPOSE) st = transpose_as_reshape(&L, i);
                if (st == LP_OK && !g->n[i].dead && g->n[i].op == LP_TFL_TRANSPOSE) st = channel_perm_absorb(&L, i);
            }
            if (st == LP_OK && !g->n[i].dead && g->n[i].op == LP_TFL_RESHAPE) st = reshape_rules(&L, i);
        }
        resolve_all(&L);
        if (st == LP_OK) st = lp_pass_dce(c);
        if (st == LP_OK) st = lp_graph_toposort(g);
        if (!L.changed) break;
    }
    resolve_all(&L);
    free(L.fwd);
    return st;
}
