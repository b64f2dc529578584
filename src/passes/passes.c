/* The pass table and the generic passes: canonicalize, infer (with constant folding), lower, dce. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes.h"

const lp_pass lp_passes[] = {
    {"canonicalize", lp_pass_canonicalize, 0},
    {"infer", lp_pass_infer, 0},
    {"simplify", lp_pass_simplify, 0},
    {"fold_bn", lp_pass_fold_bn, 0},
    {"lower", lp_pass_lower, 0},
    {"legalize", lp_pass_legalize, 0},
    {"layout", lp_pass_layout, 2},
    {"fold", lp_pass_fold, 0},
    {"pixels", lp_pass_pixels, 0},
    {"fuse", lp_pass_fuse, 1},
    {"dce", lp_pass_dce, 0},
};
const int lp_n_passes = (int)(sizeof lp_passes / sizeof lp_passes[0]);

void lp_node_where(const lp_graph *g, const lp_node *n, char *buf, size_t size) {
    if (n->origin >= 0 && n->origin < g->n_origin)
        snprintf(buf, size, "node %d '%s' (%s, opset %d)", n->origin, g->origin_names[n->origin],
                 g->origin_ops[n->origin], n->opset);
    else
        snprintf(buf, size, "node '%s' (%s)", n->name, lp_op_name(n->op));
}

static lp_status fail_at(lp_ctx *c, const lp_node *n, const char *stage) {
    char where[600];
    lp_node_where(c->g, n, where, sizeof where);
    lp_err_prefix(c->err, "%s in %s: ", where, stage);
    return c->err->code;
}

/* ---------------- canonicalize ---------------- */

static int alias_of(const int *fwd, int t) {
    while (t >= 0 && fwd[t] >= 0) t = fwd[t];
    return t;
}

lp_status lp_pass_canonicalize(lp_ctx *c) {
    lp_graph *g = c->g;
    /* fwd[t]: the tensor that readers of t read instead. Rewiring readers once at the end keeps
     * this linear on long chains of Identity nodes. */
    int *fwd = malloc(sizeof(int) * (size_t)(g->n_t + 1));
    if (!fwd) return lp_fail(c, LP_ERR_NOMEM, "out of memory");
    for (int t = 0; t <= g->n_t; t++) fwd[t] = -1;
    int any = 0;
    for (int i = 0; i < g->n_n; i++) {
        lp_node *n = &g->n[i];
        if (n->dead || (n->op != LP_OP_Identity && n->op != LP_OP_Dropout)) continue;
        if (n->op == LP_OP_Dropout) {
            /* inference: training_mode (input 2) must be absent or a constant false */
            double tm = 0;
            if (lp_has_in(n, 2) && (!lp_const_scalar(c, n->in[2], &tm) || tm != 0)) continue;
            if (n->n_out > 1 && n->out[1] >= 0) continue; /* the mask is used: lowered as an op */
        }
        int x = alias_of(fwd, n->in[0]), y = n->out[0];
        if (x < 0 || y < 0) continue; /* an absent required input: reported by infer */
        n->in[0] = x;
        lp_tensor *X = &g->t[x], *Y = &g->t[y];
        if (!(Y->flags & LP_T_OUTPUT)) {
            fwd[y] = x;
            n->dead = 1;
            any = 1;
        } else if (!(X->flags & (LP_T_INPUT | LP_T_OUTPUT | LP_T_CONST)) && X->producer >= 0) {
            /* y is a graph output: let x's producer write y directly, keeping y's name */
            lp_node *p = &g->n[X->producer];
            for (int k = 0; k < p->n_out; k++)
                if (p->out[k] == x) p->out[k] = y;
            Y->producer = X->producer;
            fwd[x] = y;
            n->dead = 1;
            any = 1;
        }
        /* otherwise (input or constant straight to an output) the node stays and is lowered as a copy */
    }
    if (any)
        for (int i = 0; i < g->n_n; i++) {
            lp_node *n = &g->n[i];
            if (n->dead) continue;
            for (int j = 0; j < n->n_in; j++) n->in[j] = alias_of(fwd, n->in[j]);
        }
    free(fwd);
    return LP_OK;
}

/* ---------------- infer + constant folding ---------------- */

static int inputs_const(lp_ctx *c, const lp_node *n) {
    for (int j = 0; j < n->n_in; j++)
        if (n->in[j] >= 0 && !lp_tensor_is_const(c->g, n->in[j])) return 0;
    return 1;
}

/* Outputs of a known, bounded size that do not blow small inputs up into a large constant (an
 * Expand or ConstantOfShape of a scalar to a feature map's shape would make the file that much
 * bigger; as an op it costs nothing in the file, and simplify often removes it). */
static int outputs_foldable(lp_ctx *c, const lp_node *n, size_t out_bytes) {
    for (int k = 0; k < n->n_out; k++) {
        if (n->out[k] < 0) continue;
        lp_tensor *t = lp_T(c, n->out[k]);
        int64_t ne = lp_tensor_numel(t);
        if (ne < 0 || ne > LP_MAX_FOLD_ELEMENTS || lp_dtype_size(t->dtype) == 0) return 0;
    }
    if (out_bytes <= LP_FOLD_GROW_BYTES) return 1;
    size_t in_bytes = 0;
    for (int j = 0; j < n->n_in; j++) {
        const lp_tensor *t = n->in[j] >= 0 ? lp_T(c, n->in[j]) : NULL;
        if (t && lp_tensor_numel(t) > 0) in_bytes += (size_t)lp_tensor_numel(t) * lp_dtype_size(t->dtype);
    }
    return out_bytes <= in_bytes;
}

/* Inputs that share an ONNX type variable must have one element type (type_rules.def, from the
 * schemas): checked here for every op so that no lowering sees, say, a float Conv with int64 weights. */
static const struct {
    lp_op op;
    int a, b, variadic;
} type_rules[] = {
#define LP_SAME_TYPE(name, a, b, v) {LP_OP_##name, a, b, v},
#include "../ops/type_rules.def"
#undef LP_SAME_TYPE
};

static lp_status check_types(lp_ctx *c, const lp_node *n) {
    for (size_t r = 0; r < sizeof type_rules / sizeof type_rules[0]; r++) {
        if (type_rules[r].op != n->op) continue;
        int a = type_rules[r].a, b = type_rules[r].b;
        if (a >= n->n_in || n->in[a] < 0) continue;
        int last = type_rules[r].variadic ? n->n_in - 1 : b;
        /* outer-scope values appended to control-flow ops are not formal inputs (none has rules) */
        for (int j = b; j <= last && j < n->n_in; j++) {
            if (j == a || n->in[j] < 0) continue;
            const lp_tensor *A = lp_T(c, n->in[a]), *B = lp_T(c, n->in[j]);
            if (A->dtype != B->dtype)
                return lp_fail(c, LP_ERR_INVALID, "input %d ('%s') is %s but input %d ('%s') is %s; %s needs the same type",
                               j, B->name, lp_dtype_name(B->dtype), a, A->name, lp_dtype_name(A->dtype), lp_op_name(n->op));
        }
    }
    return LP_OK;
}

lp_status lp_infer_node(lp_ctx *c, int i) {
    lp_graph *g = c->g;
    if (g->n[i].dead || lp_op_is_tfl(g->n[i].op)) return LP_OK;
    c->node = i;
    c->cur = g->n[i];
    const lp_node *n = &c->cur;
    const lp_op_impl *impl = lp_op_impls[n->op];
    /* checks every op needs, from the op table: required inputs are present and typed. (Loop's
     * trip count and condition, and opset-8 Scan's sequence_lens, are optional placeholders.) */
    for (int j = 0; j < n->n_in && j < lp_op_arities[n->op].min_in; j++)
        if (n->in[j] < 0 && n->op != LP_OP_Loop && !(n->op == LP_OP_Scan && j == 0)) {
            lp_fail(c, LP_ERR_INVALID, "input %d is required but empty", j);
            return fail_at(c, n, "shape inference");
        }
    for (int k = 0; k < n->n_out && k < lp_op_arities[n->op].min_out; k++)
        if (n->out[k] < 0) {
            lp_fail(c, LP_ERR_INVALID, "output %d is required but has no name", k);
            return fail_at(c, n, "shape inference");
        }
    for (int j = 0; j < n->n_in; j++) {
        if (n->in[j] < 0) continue;
        lp_tensor *t = lp_T(c, n->in[j]);
        if (t->dtype == LP_DT_UNDEF) {
            lp_fail(c, LP_ERR_INVALID, "input %d ('%s') has no known type", j, t->name);
            return fail_at(c, n, "shape inference");
        }
    }
    if (check_types(c, n) != LP_OK) return fail_at(c, n, "shape inference");
    /* types the model declares for the outputs (graph outputs, value_info) */
    lp_dtype declared[8];
    for (int k = 0; k < n->n_out && k < 8; k++)
        declared[k] = n->out[k] >= 0 && !(lp_T(c, n->out[k])->flags & LP_T_CONST) ? lp_T(c, n->out[k])->dtype
                                                                                  : LP_DT_UNDEF;
    if (impl->infer(c, n) != LP_OK || c->err->code != LP_OK) {
        if (c->err->code == LP_OK) lp_fail(c, LP_ERR_INTERNAL, "shape inference failed");
        return fail_at(c, n, "shape inference");
    }
    for (int k = 0; k < n->n_out && k < 8; k++) {
        lp_tensor *t = n->out[k] >= 0 ? lp_T(c, n->out[k]) : NULL;
        if (t && declared[k] != LP_DT_UNDEF && t->dtype != declared[k]) {
            /* onnxruntime refuses such a model too */
            lp_fail(c, LP_ERR_INVALID, "output %d ('%s') is %s, but the model declares it %s", k, t->name,
                    lp_dtype_name(t->dtype), lp_dtype_name(declared[k]));
            return fail_at(c, n, "shape inference");
        }
    }
    int all_const = 1;
    for (int k = 0; k < n->n_out; k++) {
        if (n->out[k] < 0) continue;
        lp_tensor *t = lp_T(c, n->out[k]);
        if (!(t->flags & LP_T_CONST) && t->sv && lp_sv_known(t->sv) && lp_tensor_numel(t) == t->sv->n &&
            lp_sv_materialize(c, n->out[k]) != LP_OK)
            return fail_at(c, n, "constant folding");
        if (!(t->flags & LP_T_CONST)) all_const = 0;
    }
    size_t fold_bytes = 0;
    for (int k = 0; k < n->n_out; k++)
        if (n->out[k] >= 0 && lp_tensor_numel(lp_T(c, n->out[k])) > 0)
            fold_bytes += (size_t)lp_tensor_numel(lp_T(c, n->out[k])) * lp_dtype_size(lp_T(c, n->out[k])->dtype);
    /* folding is bounded in total too: past the budget the op simply runs in the model */
    if (!all_const && impl->eval && inputs_const(c, n) && outputs_foldable(c, n, fold_bytes) &&
        c->folded_bytes + fold_bytes <= LP_MAX_FOLD_BYTES) {
        c->folded_bytes += fold_bytes;
        for (int k = 0; k < n->n_out; k++) {
            if (n->out[k] < 0) continue;
            lp_tensor *t = lp_T(c, n->out[k]);
            size_t bytes = (size_t)lp_tensor_numel(t) * lp_dtype_size(t->dtype);
            /* zeroed: a kernel that does not write some element type leaves zeros, not heap */
            void *p = lp_arena_alloc(&g->arena, bytes);
            if (!p) {
                lp_fail(c, LP_ERR_NOMEM, "out of memory");
                return fail_at(c, n, "constant folding");
            }
            t->data = p;
            t->nbytes = bytes;
            t->flags |= LP_T_CONST | LP_T_OWNED;
        }
        if (impl->eval(c, n) != LP_OK) return fail_at(c, n, "constant folding");
        all_const = 1;
    }
    if (all_const) {
        g->n[i].dead = 1;
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0) g->t[n->out[k]].producer = -1;
    }
    return LP_OK;
}

lp_status lp_pass_infer(lp_ctx *c) {
    /* nodes that control-flow ops add while inferring (inlined bodies) are inferred by them */
    int n0 = c->g->n_n;
    for (int i = 0; i < n0; i++) LP_TRY(lp_infer_node(c, i));
    return LP_OK;
}

/* ---------------- lowering ---------------- */

/* For each symbol, the first tensor (graph inputs, then node outputs in topological order) that
 * has it as a dim and that something reads: where lowerings read a run-time size (lp_emit_dims).
 * Readers of a source are always later in the order, so reading its SHAPE makes no cycle. */
static lp_status sym_sources(lp_ctx *c) {
    lp_graph *g = c->g;
    c->n_sym_src = g->n_sym + 1;
    c->sym_src = malloc(sizeof(int) * (size_t)c->n_sym_src);
    c->sym_axis = malloc((size_t)c->n_sym_src);
    char *read = calloc((size_t)g->n_t + 1, 1);
    if (!c->sym_src || !c->sym_axis || !read) {
        free(read);
        return lp_fail(c, LP_ERR_NOMEM, "out of memory");
    }
    for (int k = 0; k < c->n_sym_src; k++) c->sym_src[k] = -1;
    for (int i = 0; i < g->n_n; i++)
        if (!g->n[i].dead)
            for (int j = 0; j < g->n[i].n_in; j++)
                if (g->n[i].in[j] >= 0) read[g->n[i].in[j]] = 1;
    for (int i = 0; i < g->outputs.n; i++) read[g->outputs.v[i]] = 1;
    for (int i = -1; i < g->n_n; i++) {
        const int *ts = i < 0 ? g->inputs.v : g->n[i].out;
        int nt = i < 0 ? g->inputs.n : g->n[i].n_out;
        if (i >= 0 && g->n[i].dead) continue;
        for (int j = 0; j < nt; j++) {
            int t = ts[j];
            if (t < 0 || (i >= 0 && !read[t])) continue;
            const lp_tensor *T = &g->t[t];
            for (int d = 0; d < T->rank; d++) {
                int64_t k = -T->dims[d];
                if (k > 1 && k < c->n_sym_src && c->sym_src[k] < 0) { /* 1: LP_DIM_UNKNOWN */
                    c->sym_src[k] = t;
                    c->sym_axis[k] = (int8_t)d;
                }
            }
        }
    }
    free(read);
    return LP_OK;
}

static void sym_sources_free(lp_ctx *c) {
    free(c->sym_src);
    free(c->sym_axis);
    c->sym_src = NULL;
    c->sym_axis = NULL;
    c->n_sym_src = 0;
}

/* ---- shape arithmetic in int32 ----
 * ONNX computes shapes in int64; TFLite's kernels want int32 shapes, slice bounds and indices,
 * and some (DIV, FLOOR_DIV) have no int64 version. An op whose int64 outputs are shape values
 * (inference gave them a symbolic value) and whose int64 inputs are shape values or constants
 * that fit int32 is lowered on int32 twins of its values: its outputs get int32 twins, and a CAST
 * to int64 feeds any reader that needs the ONNX type (dead code otherwise). A Range over a
 * run-time length (positions 0..S-1) has no shape value itself but stays between its int32
 * bounds, so it is done in int32 the same way. */

/* the inputs of op that carry shape values (bit i: input i), 0 for ops not done in int32 */
static unsigned shape_value_inputs(const lp_node *n) {
    switch (n->op) {
    case LP_OP_Add: case LP_OP_Sub: case LP_OP_Mul: case LP_OP_Div: case LP_OP_Max: case LP_OP_Min:
    case LP_OP_Concat: case LP_OP_Range:
        return n->n_in >= 32 ? 0 : (1u << n->n_in) - 1;
    case LP_OP_Neg: case LP_OP_Abs: case LP_OP_Gather: case LP_OP_Unsqueeze: case LP_OP_Squeeze:
    case LP_OP_Reshape: case LP_OP_Slice: case LP_OP_Identity: case LP_OP_Flatten: case LP_OP_Cast:
        return 1;
    default:
        return 0;
    }
}

static int fits_i32(const lp_tensor *t) {
    int64_t n = lp_tensor_numel(t);
    if (n < 0) return 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t v = lp_get_i64(t->dtype, t->data, i);
        if (v < INT32_MIN || v > INT32_MAX) return 0;
    }
    return 1;
}

static int in_int32(lp_ctx *c, const lp_node *n) {
    unsigned mask = shape_value_inputs(n);
    if (!mask || n->n_out != 1 || n->out[0] < 0 || n->out[0] >= c->n_i32_of) return 0;
    const lp_tensor *y = &c->g->t[n->out[0]];
    if (y->dtype != LP_DT_I64 || (!y->sv && n->op != LP_OP_Range) || y->rank > 1 || (y->flags & LP_T_OUTPUT))
        return 0;
    int any = 0;
    for (int j = 0; j < n->n_in; j++) {
        if (!(mask >> j & 1) || n->in[j] < 0) continue;
        const lp_tensor *t = &c->g->t[n->in[j]];
        if (t->dtype != LP_DT_I64) return 0;
        if (t->flags & LP_T_CONST) {
            if (!fits_i32(t)) return 0;
        } else {
            if (n->in[j] >= c->n_i32_of || c->i32_of[n->in[j]] < 0) return 0;
            any = 1;
        }
    }
    return any;
}

static lp_status lower_in_int32(lp_ctx *c, lp_node *n) {
    lp_graph *g = c->g;
    unsigned mask = shape_value_inputs(n);
    for (int j = 0; j < n->n_in; j++) {
        int t = n->in[j];
        if (!(mask >> j & 1) || t < 0) continue;
        if (!(g->t[t].flags & LP_T_CONST)) {
            n->in[j] = c->i32_of[t];
            continue;
        }
        int64_t cnt = lp_tensor_numel(&g->t[t]);
        int32_t *v = lp_arena_alloc(&g->arena, sizeof(int32_t) * (size_t)(cnt ? cnt : 1));
        if (!v) return lp_fail(c, LP_ERR_NOMEM, "out of memory");
        for (int64_t i = 0; i < cnt; i++) v[i] = (int32_t)lp_get_i64(g->t[t].dtype, g->t[t].data, i);
        lp_tensor T = g->t[t];
        int k = lp_emit_const(c, LP_DT_I32, T.rank, T.dims, v, "i32");
        if (k < 0) return c->err->code;
        n->in[j] = k;
    }
    int y = n->out[0];
    lp_tensor Y = g->t[y];
    int y32 = lp_emit_tensor(c, LP_DT_I32, Y.rank, Y.dims, "i32");
    if (y32 < 0) return c->err->code;
    g->t[y32].sv = Y.sv;
    n->out[0] = y32;
    LP_TRY(lp_op_impls[n->op]->lower(c, n));
    LP_TRY(c->err->code);
    n->out[0] = y;
    c->i32_of[y] = y32;
    int id = lp_emit_op(c, LP_TFL_CAST, &y32, 1, &y, 1);
    if (id < 0) return c->err->code;
    g->n[id].p.in_type = LP_DT_I32;
    g->n[id].p.out_type = LP_DT_I64;
    return LP_OK;
}

lp_status lp_pass_lower(lp_ctx *c) {
    lp_graph *g = c->g;
    LP_TRY(sym_sources(c));
    int n_old = g->n_n;
    lp_node *old = malloc(sizeof(lp_node) * (size_t)(n_old + 1));
    c->n_i32_of = g->n_t;
    c->i32_of = malloc(sizeof(int) * (size_t)(g->n_t + 1));
    if (!old || !c->i32_of) {
        free(old);
        free(c->i32_of);
        c->i32_of = NULL;
        c->n_i32_of = 0;
        sym_sources_free(c);
        return lp_fail(c, LP_ERR_NOMEM, "out of memory");
    }
    for (int t = 0; t < c->n_i32_of; t++) c->i32_of[t] = -1;
    if (n_old) memcpy(old, g->n, sizeof(lp_node) * (size_t)n_old);
    g->n_n = 0;
    for (int t = 0; t < g->n_t; t++) g->t[t].producer = -1;
    lp_status st = LP_OK;
    for (int i = 0; i < n_old && st == LP_OK; i++) {
        if (old[i].dead) continue;
        c->cur = old[i];
        c->node = -1;
        /* tensor pointers held by a lowering stay valid while it adds tensors */
        if (!lp_graph_reserve(g, LP_LOWER_RESERVE)) {
            st = c->err->code;
            break;
        }
        if (lp_op_is_tfl(old[i].op)) {
            int id = lp_graph_add_node(g, old[i].op, old[i].name, old[i].in, old[i].n_in, old[i].out, old[i].n_out);
            if (id < 0) st = c->err->code;
            else {
                g->n[id].p = old[i].p;
                g->n[id].layout = old[i].layout;
                g->n[id].origin = old[i].origin;
                g->n[id].opset = old[i].opset;
            }
            continue;
        }
        /* lazily computed weights (fold_bn) reach only these lowerings, which keep them lazy;
         * any other op gets its inputs' bytes (see "lazily transformed constants" in ir.h) */
        int keeps_lazy = old[i].op == LP_OP_Conv || old[i].op == LP_OP_ConvTranspose || old[i].op == LP_OP_Gemm;
        for (int j = 0; j < old[i].n_in && !keeps_lazy && st == LP_OK; j++)
            if (old[i].in[j] >= 0 && g->t[old[i].in[j]].lazy && !lp_tensor_bytes(g, old[i].in[j])) st = c->err->code;
        if (st != LP_OK) break;
        lp_status ls = in_int32(c, &c->cur) ? lower_in_int32(c, &c->cur) : lp_op_impls[old[i].op]->lower(c, &c->cur);
        if (ls != LP_OK || c->err->code != LP_OK) {
            if (c->err->code == LP_OK) lp_fail(c, LP_ERR_INTERNAL, "lowering failed");
            st = fail_at(c, &c->cur, "lowering");
        }
    }
    free(old);
    free(c->i32_of);
    c->i32_of = NULL;
    c->n_i32_of = 0;
    sym_sources_free(c);
    return st;
}

/* ---------------- dead code ---------------- */

lp_status lp_pass_dce(lp_ctx *c) {
    lp_graph *g = c->g;
    /* the backward walk needs topological order (passes append nodes anywhere) */
    lp_status st = lp_graph_toposort(g);
    if (st != LP_OK) return st;
    char *needed = calloc((size_t)g->n_t + 1, 1);
    if (!needed) return lp_fail(c, LP_ERR_NOMEM, "out of memory");
    for (int i = 0; i < g->outputs.n; i++) needed[g->outputs.v[i]] = 1;
    for (int i = g->n_n - 1; i >= 0; i--) {
        lp_node *n = &g->n[i];
        if (n->dead) continue;
        int live = 0;
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0 && needed[n->out[k]]) live = 1;
        if (!live) {
            n->dead = 1;
            continue;
        }
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0) needed[n->in[j]] = 1;
    }
    free(needed);
    return LP_OK;
}
