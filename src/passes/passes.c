/* The pass table and the generic passes: canonicalize, infer (with constant folding), lower, dce. */
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

static int outputs_foldable(lp_ctx *c, const lp_node *n) {
    for (int k = 0; k < n->n_out; k++) {
        if (n->out[k] < 0) continue;
        lp_tensor *t = lp_T(c, n->out[k]);
        int64_t ne = lp_tensor_numel(t);
        if (ne < 0 || ne > LP_MAX_FOLD_ELEMENTS || lp_dtype_size(t->dtype) == 0) return 0;
    }
    return 1;
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
    if (!all_const && impl->eval && inputs_const(c, n) && outputs_foldable(c, n) &&
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

lp_status lp_pass_lower(lp_ctx *c) {
    lp_graph *g = c->g;
    int n_old = g->n_n;
    lp_node *old = malloc(sizeof(lp_node) * (size_t)(n_old + 1));
    if (!old) return lp_fail(c, LP_ERR_NOMEM, "out of memory");
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
        if (lp_op_impls[old[i].op]->lower(c, &c->cur) != LP_OK || c->err->code != LP_OK) {
            if (c->err->code == LP_OK) lp_fail(c, LP_ERR_INTERNAL, "lowering failed");
            st = fail_at(c, &c->cur, "lowering");
        }
    }
    free(old);
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
