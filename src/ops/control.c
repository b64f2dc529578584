/* Control flow: If, Loop, Scan (ONNX opsets 7..25), expanded during shape inference.
 *
 * TFLite's IF and WHILE need one subgraph per body, which the writer does not produce; instead the
 * bodies are inlined into the graph (lp_onnx_import_body) while inferring, so that constant
 * folding sees through them and what follows them gets their shapes:
 *   - If with a constant condition inlines the chosen branch. With a condition known only at run
 *     time it inlines both branches and picks each output with Where: exact when both branches
 *     give outputs of the same type and shape (it then costs both branches; a branch whose ops
 *     fail at run time for the inputs of the other one would fail the model);
 *   - Loop is unrolled when its trip count and condition are constants and the condition the body
 *     computes is a constant in every iteration; scan outputs are stacked with Unsqueeze + Concat;
 *   - Scan is unrolled over its (static) sequence length; slices are Gather ops and scan outputs
 *     are stacked (in reverse for scan_output_directions 1). Scan-8's batch axis is unrolled too.
 * Anything else is a clean "not supported" naming the value that is not a constant.
 * The nodes added are ONNX ops, inferred (and folded) here as they are added, and lowered later
 * like any other node. Names carry the op's name and the branch or iteration. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../onnx/onnx.h"
#include "ops.h"

#define T(id) lp_T(c, (id))
#define MAX_ITERATIONS 4096 /* unrolled Loop iterations, Scan steps (x batch for Scan-8) */

/* the control-flow node being expanded; c->cur / c->node are restored to it after every nested
 * inference (lp_infer_node overwrites them) */
typedef struct self_t {
    lp_node me;
    int node;
} self_t;

static void restore(lp_ctx *c, const self_t *s) {
    c->cur = s->me;
    c->node = s->node;
}

static lp_status nomem(lp_ctx *c) { return lp_fail(c, LP_ERR_NOMEM, "out of memory"); }

/* Infer the nodes [from, n_n) in dependency order (a body's node list may be unsorted). */
static lp_status infer_range(lp_ctx *c, const self_t *s, int from) {
    lp_graph *g = c->g;
    int end = g->n_n, left = end - from, progress = 1;
    char *done = calloc((size_t)(end - from) + 1, 1);
    if (!done) return nomem(c);
    lp_status st = LP_OK;
    while (left > 0 && progress && st == LP_OK) {
        progress = 0;
        for (int i = from; i < end && st == LP_OK; i++) {
            if (done[i - from]) continue;
            int ready = 1;
            for (int j = 0; j < g->n[i].n_in && ready; j++) {
                int t = g->n[i].in[j];
                if (t >= 0 && g->t[t].dtype == LP_DT_UNDEF) ready = 0;
            }
            if (!ready) continue;
            st = lp_infer_node(c, i);
            restore(c, s);
            done[i - from] = 1;
            left--;
            progress = 1;
        }
    }
    free(done);
    if (st == LP_OK && left > 0)
        st = lp_fail(c, LP_ERR_INVALID, "a body's nodes read values that no node produces (or form a cycle)");
    return st;
}

/* ---------------- building ONNX nodes ---------------- */

static int new_value(lp_ctx *c, const self_t *s, const char *what) {
    char name[700];
    snprintf(name, sizeof name, "%.500s/%.180s", s->me.name, what);
    return lp_graph_add_tensor(c->g, name, LP_DT_UNDEF, -1, NULL);
}

static int const_i64(lp_ctx *c, const self_t *s, int rank, int64_t v, const char *what) {
    char name[700];
    snprintf(name, sizeof name, "%.500s/%.180s", s->me.name, what);
    int64_t one = 1;
    return lp_graph_add_const(c->g, name, LP_DT_I64, rank, rank ? &one : NULL, &v, 8, 1);
}

static lp_attr attr_int(const char *name, int64_t v) {
    lp_attr a;
    memset(&a, 0, sizeof a);
    a.name = name;
    a.type = LP_ATTR_INT;
    a.i = v;
    a.tensor = -1;
    return a;
}

/* add an ONNX node (attributes copied) and infer it; returns its first output or -1 */
static int run_node(lp_ctx *c, const self_t *s, lp_op op, const int *in, int n_in, int out, const lp_attr *attrs,
                    int n_attrs, const char *what) {
    if (out < 0) out = new_value(c, s, what);
    if (out < 0) return -1;
    for (int i = 0; i < n_in; i++)
        if (in[i] < 0) return -1;
    char name[700];
    snprintf(name, sizeof name, "%.500s/%.180s", s->me.name, what);
    int id = lp_graph_add_node(c->g, op, name, in, n_in, &out, 1);
    if (id < 0) return -1;
    lp_node *n = &c->g->n[id];
    n->origin = s->me.origin;
    n->opset = s->me.opset;
    if (n_attrs) {
        lp_attr *a = lp_arena_alloc(&c->g->arena, sizeof(lp_attr) * (size_t)n_attrs);
        if (!a) return nomem(c), -1;
        memcpy(a, attrs, sizeof(lp_attr) * (size_t)n_attrs);
        for (int i = 0; i < n_attrs; i++)
            if (a[i].type == LP_ATTR_INTS) {
                int64_t *v = lp_arena_alloc(&c->g->arena, sizeof(int64_t) * (size_t)(a[i].n + 1));
                if (!v) return nomem(c), -1;
                memcpy(v, a[i].ints, sizeof(int64_t) * (size_t)a[i].n);
                a[i].ints = v;
            }
        c->g->n[id].attrs = a;
        c->g->n[id].n_attrs = n_attrs;
    }
    lp_status st = lp_infer_node(c, id);
    restore(c, s);
    return st == LP_OK ? out : -1;
}

/* x[..., index, ...] along axis (the axis removed) */
static int gather(lp_ctx *c, const self_t *s, int x, int64_t index, int axis, const char *what) {
    int idx = const_i64(c, s, 0, index, what);
    int in[2] = {x, idx};
    lp_attr a = attr_int("axis", axis);
    return run_node(c, s, LP_OP_Gather, in, 2, -1, &a, 1, what);
}

/* Concat of ids[0..n) along axis into out (-1: new); at most 64 inputs per op (the writer's limit
 * for any op), so longer lists are concatenated in groups first. */
static int concat_many(lp_ctx *c, const self_t *s, const int *ids, int n, int axis, int out, const char *what) {
    lp_attr a = attr_int("axis", axis);
    if (n <= 64) return run_node(c, s, LP_OP_Concat, ids, n, out, &a, 1, what);
    int per = (n + 63) / 64, groups[64], n_groups = 0;
    for (int k = 0; k < n; k += per) {
        char w[200];
        snprintf(w, sizeof w, "%.150s_g%d", what, n_groups);
        groups[n_groups] = concat_many(c, s, ids + k, n - k < per ? n - k : per, axis, -1, w);
        if (groups[n_groups++] < 0) return -1;
    }
    return run_node(c, s, LP_OP_Concat, groups, n_groups, out, &a, 1, what);
}

/* the values ids[0..n) stacked along a new axis (0..rank), into `out` (-1: a new value) */
static int stack(lp_ctx *c, const self_t *s, const int *ids, int n, int axis, int out, const char *what) {
    int *parts = malloc(sizeof(int) * (size_t)(n + 1));
    if (!parts) return nomem(c), -1;
    char w[200];
    int ok = 1;
    for (int i = 0; i < n && ok; i++) {
        snprintf(w, sizeof w, "%.150s_%d", what, i);
        if (s->me.opset >= 13) {
            int ax = const_i64(c, s, 1, axis, w);
            int in[2] = {ids[i], ax};
            parts[i] = run_node(c, s, LP_OP_Unsqueeze, in, 2, -1, NULL, 0, w);
        } else {
            int64_t axv = axis;
            lp_attr a = attr_int("axes", 0);
            a.type = LP_ATTR_INTS;
            a.n = 1;
            a.ints = &axv;
            parts[i] = run_node(c, s, LP_OP_Unsqueeze, &ids[i], 1, -1, &a, 1, w);
        }
        ok = parts[i] >= 0;
    }
    int r = ok ? concat_many(c, s, parts, n, axis, out, what) : -1;
    free(parts);
    return r;
}

/* The control-flow op's outputs o[k] take the body values b[k]. A value computed by a node of
 * this expansion (from node0 on) is renamed: that node writes o[k] instead (its readers follow),
 * so that every list holding o[k] (an enclosing body's outputs, a graph output) stays valid; a
 * folded constant is shared; anything else (a value of an enclosing graph, or the same value
 * given twice) is copied with an Identity. */
static lp_status connect_outputs(lp_ctx *c, const self_t *s, int node0, const int *o, const int *b, int n) {
    lp_graph *g = c->g;
    for (int k = 0; k < n; k++) {
        int ok_ = o[k], bk = b[k];
        if (ok_ < 0) continue;
        if (bk < 0) return lp_fail(c, LP_ERR_INTERNAL, "body output missing");
        for (int j = 0; j < k; j++)
            if (b[j] == bk && o[j] >= 0) bk = o[j]; /* already renamed to o[j]: copy that */
        lp_tensor *B = &g->t[bk], *O = &g->t[ok_];
        int p = B->producer, renamed = bk != b[k];
        if (!renamed && (B->flags & LP_T_CONST) && !(B->flags & (LP_T_INPUT | LP_T_OUTPUT)) && p < 0) {
            O->dtype = B->dtype;
            O->rank = B->rank;
            memcpy(O->dims, B->dims, sizeof O->dims);
            O->data = B->data;
            O->nbytes = B->nbytes;
            O->sv = B->sv;
            O->flags |= LP_T_CONST | (B->flags & LP_T_OWNED);
            O->producer = -1;
            continue;
        }
        if (!renamed && p >= node0 && !g->n[p].dead && !(B->flags & (LP_T_INPUT | LP_T_OUTPUT))) {
            lp_node *pn = &g->n[p];
            for (int j = 0; j < pn->n_out; j++)
                if (pn->out[j] == bk) pn->out[j] = ok_;
            O->dtype = B->dtype;
            O->rank = B->rank;
            memcpy(O->dims, B->dims, sizeof O->dims);
            O->sv = B->sv;
            O->producer = p;
            B->producer = -1;
            lp_graph_replace_uses(g, bk, ok_);
            continue;
        }
        if (run_node(c, s, LP_OP_Identity, &bk, 1, ok_, NULL, 0, "out") < 0) return c->err->code;
    }
    return LP_OK;
}

static lp_status import_body(lp_ctx *c, const self_t *s, const lp_attr *a, const int *bind, int n_bind,
                             const char *where, lp_onnx_body *b) {
    char prefix[700];
    snprintf(prefix, sizeof prefix, "%.500s/%s/", s->me.name, where);
    LP_TRY(lp_onnx_import_body(c->g, a->graph, &s->me, bind, n_bind, prefix, b));
    return infer_range(c, s, b->node0);
}

static const lp_attr *graph_attr(lp_ctx *c, const lp_node *n, const char *name) {
    const lp_attr *a = lp_node_attr(n, name);
    if (!a || a->type != LP_ATTR_GRAPH || !a->graph) {
        lp_fail(c, LP_ERR_INVALID, "attribute '%s' (a graph) is missing", name);
        return NULL;
    }
    return a;
}

static int same_shape(const lp_tensor *a, const lp_tensor *b) {
    return a->dtype == b->dtype && a->rank >= 0 && a->rank == b->rank && lp_dims_equal(a->dims, b->dims, a->rank);
}

/* ---------------- If ---------------- */

static lp_status if_infer(lp_ctx *c, const lp_node *n) {
    self_t s = {*n, c->node};
    const lp_attr *at = graph_attr(c, &s.me, "then_branch"), *ae = graph_attr(c, &s.me, "else_branch");
    if (!at || !ae) return c->err->code;
    int cond = s.me.in[0];
    double v;
    lp_onnx_body bt, be;
    if (lp_const_scalar(c, cond, &v)) {
        LP_TRY(import_body(c, &s, v != 0 ? at : ae, NULL, 0, v != 0 ? "then" : "else", &bt));
        if (bt.n_out < s.me.n_out)
            return lp_fail(c, LP_ERR_INVALID, "the branch has %d outputs; the node %d", bt.n_out, s.me.n_out);
        LP_TRY(connect_outputs(c, &s, bt.node0, s.me.out, bt.out, s.me.n_out));
    } else {
        /* a run-time condition: both branches, and Where picks each output */
        if (lp_tensor_numel(T(cond)) != 1)
            return lp_fail(c, LP_ERR_INVALID, "the condition '%s' must hold one element", T(cond)->name);
        LP_TRY(import_body(c, &s, at, NULL, 0, "then", &bt));
        LP_TRY(import_body(c, &s, ae, NULL, 0, "else", &be));
        if (bt.n_out < s.me.n_out || be.n_out < s.me.n_out)
            return lp_fail(c, LP_ERR_INVALID, "the branches have %d and %d outputs; the node %d", bt.n_out, be.n_out,
                           s.me.n_out);
        if (T(cond)->rank != 0) {
            char name[700];
            snprintf(name, sizeof name, "%.500s/scalar_shape", s.me.name);
            int shape = lp_graph_add_const(c->g, name, LP_DT_I64, 1, (int64_t[]){0}, "", 0, 0);
            int in[2] = {cond, shape};
            cond = run_node(c, &s, LP_OP_Reshape, in, 2, -1, NULL, 0, "cond_scalar");
            if (cond < 0) return c->err->code;
        }
        for (int k = 0; k < s.me.n_out; k++) {
            if (s.me.out[k] < 0) continue;
            const lp_tensor *a = T(bt.out[k]), *b = T(be.out[k]);
            if (!same_shape(a, b)) {
                char sa[200], sb[200];
                return lp_fail(c, LP_ERR_UNSUPPORTED,
                               "the condition '%s' is known only at run time and output %d of the branches differs "
                               "(%s %s vs %s %s): choosing at run time needs TFLite's IF with subgraphs, which is "
                               "not supported",
                               T(s.me.in[0])->name, k, lp_dtype_name(a->dtype), lp_shape_str(c->g, a, sa, sizeof sa),
                               lp_dtype_name(b->dtype), lp_shape_str(c->g, b, sb, sizeof sb));
            }
            int in[3] = {cond, bt.out[k], be.out[k]};
            int o = s.me.out[k];
            if (run_node(c, &s, LP_OP_Where, in, 3, o, NULL, 0, "select") < 0) return c->err->code;
        }
    }
    c->g->n[s.node].dead = 1;
    restore(c, &s);
    return LP_OK;
}

static lp_status control_lower(lp_ctx *c, const lp_node *n) {
    /* expanded during inference; a node left here was not (never the case after infer) */
    return lp_fail(c, LP_ERR_INTERNAL, "%s was not expanded during shape inference", lp_op_name(n->op));
}

const lp_op_impl lp_impl_If = {if_infer, NULL, control_lower};

/* ---------------- Loop ---------------- */

static lp_status loop_infer(lp_ctx *c, const lp_node *n) {
    self_t s = {*n, c->node};
    const lp_attr *ab = graph_attr(c, &s.me, "body");
    if (!ab) return c->err->code;
    const lp_onnx_subgraph *sg = ab->graph;
    int N = sg->n_formal - 2; /* loop-carried values */
    if (N < 0) return lp_fail(c, LP_ERR_INVALID, "Loop takes a trip count and a condition (either may be empty)");
    int K = s.me.n_out - N; /* scan outputs asked for */
    if (K < 0) return lp_fail(c, LP_ERR_INVALID, "Loop with %d loop-carried values has %d outputs", N, s.me.n_out);
    double v;
    int64_t M = -1;
    if (lp_has_in(&s.me, 0)) {
        if (!lp_const_scalar(c, s.me.in[0], &v))
            return lp_fail(c, LP_ERR_UNSUPPORTED,
                           "the trip count '%s' is not a constant: loops are unrolled (TFLite's WHILE needs "
                           "subgraphs, which are not supported)",
                           T(s.me.in[0])->name);
        M = v < 0 ? 0 : (int64_t)v;
    }
    int cond;
    if (lp_has_in(&s.me, 1)) {
        cond = s.me.in[1];
        if (!lp_const_scalar(c, cond, &v))
            return lp_fail(c, LP_ERR_UNSUPPORTED,
                           "the loop condition '%s' is not a constant: loops are unrolled (TFLite's WHILE needs "
                           "subgraphs, which are not supported)",
                           T(cond)->name);
    } else {
        if (M < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "a Loop with neither trip count nor condition never ends");
        v = 1;
        uint8_t t = 1;
        char name[700];
        snprintf(name, sizeof name, "%.500s/true", s.me.name);
        cond = lp_graph_add_const(c->g, name, LP_DT_BOOL, 0, NULL, &t, 1, 1);
        if (cond < 0) return c->err->code;
    }
    int running = v != 0, node0 = c->g->n_n;
    int *vals = malloc(sizeof(int) * (size_t)(N + 2));
    int *bind = malloc(sizeof(int) * (size_t)(N + 2));
    lp_ivec *scans = calloc((size_t)K + 1, sizeof(lp_ivec));
    lp_status st = (!vals || !bind || !scans) ? nomem(c) : LP_OK;
    for (int k = 0; k < N && st == LP_OK; k++) vals[k] = s.me.in[2 + k];
    int64_t it = 0;
    for (; st == LP_OK && running && (M < 0 || it < M); it++) {
        if (it >= MAX_ITERATIONS) {
            st = lp_fail(c, LP_ERR_LIMIT, "the loop runs more than %d iterations: too many to unroll", MAX_ITERATIONS);
            break;
        }
        char w[64];
        snprintf(w, sizeof w, "iter%lld", (long long)it);
        bind[0] = const_i64(c, &s, 0, it, w);
        bind[1] = cond;
        for (int k = 0; k < N; k++) bind[2 + k] = vals[k];
        lp_onnx_body b;
        if (bind[0] < 0 || (st = import_body(c, &s, ab, bind, N + 2, w, &b)) != LP_OK) break;
        if (b.n_out < 1 + N + K) {
            st = lp_fail(c, LP_ERR_INVALID, "the body has %d outputs; Loop needs 1 + %d + %d", b.n_out, N, K);
            break;
        }
        cond = b.out[0];
        if (!lp_const_scalar(c, cond, &v)) {
            st = lp_fail(c, LP_ERR_UNSUPPORTED,
                         "the condition the body computes in iteration %lld is not a constant (it depends on values "
                         "known only at run time): the loop cannot be unrolled",
                         (long long)it);
            break;
        }
        running = v != 0;
        for (int k = 0; k < N; k++) vals[k] = b.out[1 + k];
        for (int k = 0; k < K && st == LP_OK; k++)
            if (!lp_ivec_push(&scans[k], b.out[1 + N + k])) st = nomem(c);
    }
    for (int k = 0; k < K && st == LP_OK; k++) {
        int o = s.me.out[N + k];
        if (o < 0) continue;
        if (it == 0)
            st = lp_fail(c, LP_ERR_UNSUPPORTED, "the loop runs no iteration, so its scan output %d has no known shape", k);
        else if (stack(c, &s, scans[k].v, scans[k].n, 0, o, "scan") < 0)
            st = c->err->code;
    }
    /* after the stacking, which may read the same values */
    if (st == LP_OK) st = connect_outputs(c, &s, node0, s.me.out, vals, N);
    for (int k = 0; scans && k < K; k++) lp_ivec_free(&scans[k]);
    free(scans);
    free(vals);
    free(bind);
    if (st != LP_OK) return st;
    c->g->n[s.node].dead = 1;
    restore(c, &s);
    return LP_OK;
}

const lp_op_impl lp_impl_Loop = {loop_infer, NULL, control_lower};

/* ---------------- Scan ---------------- */

typedef struct scan_spec {
    int N, M, K;
    int in_axis[64], in_dir[64], out_axis[64], out_dir[64];
} scan_spec;

/* One scan over states[N] and scan inputs xs[M]: final states into fin[N], the per-step outputs
 * stacked into outs[K] (values given: -1 entries are made). */
static lp_status scan_run(lp_ctx *c, const self_t *s, const lp_attr *ab, const scan_spec *sp, const int *states,
                          const int *xs, int *fin, int *outs, const char *tag) {
    int N = sp->N, M = sp->M, K = sp->K;
    int64_t L = -1;
    for (int j = 0; j < M; j++) {
        const lp_tensor *x = T(xs[j]);
        LP_TRY(lp_need_rank(c, x, "scan input"));
        if (sp->in_axis[j] >= x->rank)
            return lp_fail(c, LP_ERR_INVALID, "scan axis %d is out of range for '%s'", sp->in_axis[j], x->name);
        int64_t d = x->dims[sp->in_axis[j]];
        if (d < 0)
            return lp_fail(c, LP_ERR_UNSUPPORTED,
                           "the sequence length (dimension %d of '%s') must be static: the scan is unrolled",
                           sp->in_axis[j], x->name);
        if (L >= 0 && d != L)
            return lp_fail(c, LP_ERR_INVALID, "scan inputs have different sequence lengths (%lld and %lld)",
                           (long long)L, (long long)d);
        L = d;
    }
    if (L <= 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "a scan of length 0 (or without scan inputs) is not supported");
    if (L > MAX_ITERATIONS)
        return lp_fail(c, LP_ERR_LIMIT, "the scan has %lld steps: more than %d to unroll", (long long)L, MAX_ITERATIONS);
    int *bind = malloc(sizeof(int) * (size_t)(N + M + 1));
    int *steps = malloc(sizeof(int) * (size_t)(K * L + 1));
    int *order = malloc(sizeof(int) * (size_t)(L + 1));
    lp_status st = (!bind || !steps || !order) ? nomem(c) : LP_OK;
    for (int k = 0; k < N && st == LP_OK; k++) fin[k] = states[k];
    for (int64_t t = 0; t < L && st == LP_OK; t++) {
        char w[120];
        for (int j = 0; j < M && st == LP_OK; j++) {
            snprintf(w, sizeof w, "%.60s_x%d_t%lld", tag, j, (long long)t);
            bind[N + j] = gather(c, s, xs[j], sp->in_dir[j] ? L - 1 - t : t, sp->in_axis[j], w);
            if (bind[N + j] < 0) st = c->err->code;
        }
        for (int k = 0; k < N; k++) bind[k] = fin[k];
        snprintf(w, sizeof w, "%.60s_t%lld", tag, (long long)t);
        lp_onnx_body b;
        if (st == LP_OK) st = import_body(c, s, ab, bind, N + M, w, &b);
        if (st == LP_OK && b.n_out < N + K)
            st = lp_fail(c, LP_ERR_INVALID, "the body has %d outputs; Scan needs %d + %d", b.n_out, N, K);
        for (int k = 0; k < N && st == LP_OK; k++) fin[k] = b.out[k];
        for (int k = 0; k < K && st == LP_OK; k++) steps[k * L + t] = b.out[N + k];
    }
    for (int k = 0; k < K && st == LP_OK; k++) {
        const lp_tensor *y = T(steps[k * L]);
        int r = y->rank, ax = sp->out_axis[k];
        if (r < 0) {
            st = lp_fail(c, LP_ERR_UNSUPPORTED, "the rank of scan output %d is unknown", k);
            break;
        }
        if (ax < -(r + 1) || ax > r) {
            st = lp_fail(c, LP_ERR_INVALID, "scan_output_axes[%d]=%d is out of range for rank %d", k, ax, r + 1);
            break;
        }
        if (ax < 0) ax += r + 1;
        for (int64_t t = 0; t < L; t++) order[t] = steps[k * L + (sp->out_dir[k] ? L - 1 - t : t)];
        char w[120];
        snprintf(w, sizeof w, "%.60s_y%d", tag, k);
        outs[k] = stack(c, s, order, (int)L, ax, outs[k], w);
        if (outs[k] < 0) st = c->err->code;
    }
    free(bind);
    free(steps);
    free(order);
    return st;
}

static lp_status read_axes(lp_ctx *c, const lp_node *n, const char *name, int *out, int count) {
    int64_t v[64];
    for (int i = 0; i < count; i++) out[i] = 0;
    if (!lp_node_attr(n, name)) return LP_OK;
    int k = lp_attr_ints(c, n, name, v, 64);
    if (k < 0) return c->err->code;
    if (k != count) return lp_fail(c, LP_ERR_INVALID, "attribute '%s' has %d values; %d expected", name, k, count);
    for (int i = 0; i < k; i++) out[i] = (int)v[i];
    return LP_OK;
}

static lp_status scan_infer(lp_ctx *c, const lp_node *n) {
    self_t s = {*n, c->node};
    const lp_attr *ab = graph_attr(c, &s.me, "body");
    if (!ab) return c->err->code;
    const lp_onnx_subgraph *sg = ab->graph;
    int v8 = s.me.opset < 9; /* Scan-8: inputs (sequence_lens, states..., scans...) with a batch axis */
    scan_spec sp;
    memset(&sp, 0, sizeof sp);
    int64_t m = lp_attr_i(c, &s.me, "num_scan_inputs", -1);
    int first = v8 ? 1 : 0;
    if (c->err->code != LP_OK) return c->err->code;
    if (m < 1 || m > 64 || m > sg->n_formal - first)
        return lp_fail(c, LP_ERR_INVALID, "attribute 'num_scan_inputs'=%lld does not fit the %d inputs", (long long)m,
                       sg->n_formal - first);
    sp.M = (int)m;
    sp.N = sg->n_formal - first - sp.M;
    sp.K = s.me.n_out - sp.N;
    if (sp.K < 0 || sp.K > 64) return lp_fail(c, LP_ERR_INVALID, "Scan has %d outputs for %d states", s.me.n_out, sp.N);
    const int *states = &s.me.in[first], *xs = &s.me.in[first + sp.N];
    for (int j = 0; j < sp.N + sp.M; j++)
        if (s.me.in[first + j] < 0) return lp_fail(c, LP_ERR_INVALID, "Scan input %d is empty", first + j);
    int fin[64], outs[64], node0 = c->g->n_n;
    if (sp.N > 64) return lp_fail(c, LP_ERR_LIMIT, "more than 64 scan states");
    lp_status st = LP_OK;
    if (!v8) {
        LP_TRY(read_axes(c, &s.me, "scan_input_axes", sp.in_axis, sp.M));
        LP_TRY(read_axes(c, &s.me, "scan_input_directions", sp.in_dir, sp.M));
        LP_TRY(read_axes(c, &s.me, "scan_output_axes", sp.out_axis, sp.K));
        LP_TRY(read_axes(c, &s.me, "scan_output_directions", sp.out_dir, sp.K));
        for (int j = 0; j < sp.M; j++) {
            int r = T(xs[j])->rank;
            if (sp.in_axis[j] < 0 && r >= 0) sp.in_axis[j] += r;
            if (sp.in_axis[j] < 0) return lp_fail(c, LP_ERR_INVALID, "scan_input_axes[%d] is out of range", j);
        }
        for (int k = 0; k < sp.K; k++) outs[k] = s.me.out[sp.N + k];
        st = scan_run(c, &s, ab, &sp, states, xs, fin, outs, "scan");
    } else {
        /* Scan-8: every input has a batch axis 0 (scan inputs: [batch, sequence, ...]); the body
         * sees one batch row. Unrolled over the batch, each row scanned along its axis 0. */
        LP_TRY(read_axes(c, &s.me, "directions", sp.in_dir, sp.M));
        if (lp_has_in(&s.me, 0)) {
            lp_tensor *sl = T(s.me.in[0]);
            int64_t L = T(xs[0])->rank >= 2 ? T(xs[0])->dims[1] : -1;
            int64_t ne = lp_tensor_numel(sl);
            int full = (sl->flags & LP_T_CONST) && L >= 0 && ne >= 0;
            for (int64_t i = 0; full && i < ne; i++) full = lp_get_i64(sl->dtype, sl->data, i) == L;
            if (!full)
                return lp_fail(c, LP_ERR_UNSUPPORTED,
                               "sequence_lens '%s' must be a constant equal to the sequence length for every row",
                               sl->name);
        }
        const lp_tensor *x0 = T(sp.N ? states[0] : xs[0]);
        LP_TRY(lp_need_rank(c, x0, "Scan input"));
        int64_t B = x0->rank > 0 ? x0->dims[0] : -1;
        if (B < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "the batch size of Scan-8 (dimension 0 of '%s') must be static", x0->name);
        if (B * (sp.N + sp.K) > 4096) return lp_fail(c, LP_ERR_LIMIT, "batch %lld is too large to unroll", (long long)B);
        int *fins = malloc(sizeof(int) * (size_t)(B * sp.N + 1)), *ys = malloc(sizeof(int) * (size_t)(B * sp.K + 1));
        int st8[64], xs8[64];
        if (!fins || !ys) st = nomem(c);
        for (int64_t b = 0; b < B && st == LP_OK; b++) {
            char w[64];
            snprintf(w, sizeof w, "b%lld", (long long)b);
            for (int j = 0; j < sp.N && st == LP_OK; j++)
                if ((st8[j] = gather(c, &s, states[j], b, 0, w)) < 0) st = c->err->code;
            for (int j = 0; j < sp.M && st == LP_OK; j++)
                if ((xs8[j] = gather(c, &s, xs[j], b, 0, w)) < 0) st = c->err->code;
            for (int k = 0; k < sp.K; k++) outs[k] = -1;
            if (st == LP_OK) st = scan_run(c, &s, ab, &sp, st8, xs8, fin, outs, w);
            for (int k = 0; k < sp.N && st == LP_OK; k++) fins[k * B + b] = fin[k];
            for (int k = 0; k < sp.K && st == LP_OK; k++) ys[k * B + b] = outs[k];
        }
        for (int k = 0; k < sp.N && st == LP_OK; k++)
            if ((fin[k] = stack(c, &s, &fins[k * B], (int)B, 0, -1, "state")) < 0) st = c->err->code;
        for (int k = 0; k < sp.K && st == LP_OK; k++)
            if (s.me.out[sp.N + k] >= 0 && stack(c, &s, &ys[k * B], (int)B, 0, s.me.out[sp.N + k], "y") < 0)
                st = c->err->code;
        free(fins);
        free(ys);
    }
    if (st == LP_OK) st = connect_outputs(c, &s, node0, s.me.out, fin, sp.N);
    if (st != LP_OK) return st;
    c->g->n[s.node].dead = 1;
    restore(c, &s);
    return LP_OK;
}

const lp_op_impl lp_impl_Scan = {scan_infer, NULL, control_lower};
