/* BatchNormalization (inference form) folded into the weights of the Conv, ConvTranspose or Gemm
 * that feeds it:  y = (x*W + B - mean) * s + beta  with  s = scale / sqrt(var + eps)
 *              => W' = W * s (per output channel), B' = (B - mean) * s + beta. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes.h"

static int f32_const(lp_ctx *c, int id, int64_t n) {
    return id >= 0 && lp_tensor_is_const(c->g, id) && lp_T(c, id)->dtype == LP_DT_F32 &&
           lp_tensor_numel(lp_T(c, id)) == n;
}

static float getf(const lp_tensor *t, int64_t i) { return (float)lp_get_f64(LP_DT_F32, t->data, i); }

lp_status lp_pass_fold_bn(lp_ctx *c) {
    lp_graph *g = c->g;
    lp_uses u;
    if (!lp_uses_build(g, &u)) return lp_fail(c, LP_ERR_NOMEM, "out of memory");
    lp_status st = LP_OK;
    for (int i = 0; i < g->n_n && st == LP_OK; i++) {
        lp_node *bn = &g->n[i];
        if (bn->dead || bn->op != LP_OP_BatchNormalization) continue;
        if (bn->n_out > 1 && (bn->out[1] >= 0 || (bn->n_out > 2 && bn->out[2] >= 0))) continue;
        int x = bn->in[0];
        lp_tensor *X = lp_T(c, x);
        if (X->producer < 0 || (X->flags & LP_T_OUTPUT) || lp_uses_count(&u, x) != 1) continue;
        int prod = X->producer;
        lp_node *p = &g->n[prod];
        if (p->dead || (p->op != LP_OP_Conv && p->op != LP_OP_ConvTranspose && p->op != LP_OP_Gemm)) continue;
        if (X->rank < 2 || X->dims[1] < 0) continue;
        int64_t C = X->dims[1];
        if (!f32_const(c, bn->in[1], C) || !f32_const(c, bn->in[2], C) || !f32_const(c, bn->in[3], C) ||
            !f32_const(c, bn->in[4], C))
            continue;
        int w = p->in[1];
        if (!lp_tensor_is_const(g, w) || lp_T(c, w)->dtype != LP_DT_F32) continue;
        int has_b = lp_has_in(p, 2);
        if (has_b && !f32_const(c, p->in[2], C)) continue;
        lp_tensor *W = lp_T(c, w);
        /* which weight dimension is the output channel, and how the rest is strided */
        int64_t group = 1;
        const lp_attr *ga = lp_node_attr(p, "group");
        if (ga && ga->type == LP_ATTR_INT) group = ga->i;
        int64_t outer, ch, inner; /* W viewed as [outer, ch, inner]; output channel index computed below */
        int mode;                 /* 0: conv, 1: convtranspose, 2: gemm transB=1, 3: gemm transB=0 */
        if (p->op == LP_OP_Conv) {
            mode = 0;
            outer = 1;
            ch = W->dims[0];
            inner = lp_tensor_numel(W) / (ch ? ch : 1);
        } else if (p->op == LP_OP_ConvTranspose) {
            mode = 1;
            outer = W->dims[0];
            ch = W->dims[1];
            inner = lp_tensor_numel(W) / ((outer * ch) != 0 ? outer * ch : 1);
            if (group < 1 || outer % group) continue;
        } else {
            const lp_attr *tb = lp_node_attr(p, "transB");
            int transB = tb && tb->type == LP_ATTR_INT ? (int)tb->i : 0;
            const lp_attr *al = lp_node_attr(p, "alpha");
            const lp_attr *be = lp_node_attr(p, "beta");
            if ((al && al->f != 1.0f) || (be && be->f != 1.0f) || W->rank != 2) continue;
            mode = transB ? 2 : 3;
            outer = transB ? 1 : W->dims[0];
            ch = transB ? W->dims[0] : W->dims[1];
            inner = transB ? W->dims[1] : 1;
        }
        if ((mode == 1 ? ch * group : ch) != C) continue;
        const lp_tensor *S = lp_T(c, bn->in[1]), *Bt = lp_T(c, bn->in[2]), *M = lp_T(c, bn->in[3]),
                        *V = lp_T(c, bn->in[4]);
        float eps = 1e-5f;
        const lp_attr *ea = lp_node_attr(bn, "epsilon");
        if (ea && ea->type == LP_ATTR_FLOAT) eps = ea->f;
        float *s = malloc(sizeof(float) * (size_t)C);
        float *nb = lp_arena_alloc(&g->arena, sizeof(float) * (size_t)C);
        if (!s || !nb) {
            free(s);
            st = lp_fail(c, LP_ERR_NOMEM, "out of memory");
            break;
        }
        for (int64_t k = 0; k < C; k++) s[k] = getf(S, k) / sqrtf(getf(V, k) + eps);
        for (int64_t k = 0; k < C; k++) {
            float b0 = has_b ? getf(lp_T(c, p->in[2]), k) : 0.0f;
            nb[k] = (b0 - getf(M, k)) * s[k] + getf(Bt, k);
        }
        /* W' = W * s[output channel], computed while the file is written (lazy.c). W seen as
         * [outer, ch, inner]; for ConvTranspose (W [C_in, M/g, kh, kw]) as [g, C_in/g, M/g, inner],
         * whose output channel is group * (M/g) + k. */
        int64_t per_group_in = mode == 1 ? outer / group : 1;
        int64_t vd[4], ss[4];
        int vr;
        if (mode == 1) {
            vr = 4;
            vd[0] = group, vd[1] = per_group_in, vd[2] = ch, vd[3] = inner;
            ss[0] = ch, ss[1] = 0, ss[2] = 1, ss[3] = 0;
        } else {
            vr = 3;
            vd[0] = outer, vd[1] = ch, vd[2] = inner;
            ss[0] = 0, ss[1] = 1, ss[2] = 0;
        }
        char name[512];
        int64_t cdim = C;
        int wrank = W->rank;
        int64_t wdims[LP_MAX_RANK];
        memcpy(wdims, W->dims, sizeof wdims);
        snprintf(name, sizeof name, "%s/bn_folded_weight", p->name);
        int nwid = lp_graph_add_scaled(g, name, w, vr, vd, ss, s, C);
        free(s);
        if (nwid >= 0) { /* the weight keeps its shape */
            g->t[nwid].rank = wrank;
            memcpy(g->t[nwid].dims, wdims, sizeof wdims);
        }
        snprintf(name, sizeof name, "%s/bn_folded_bias", p->name);
        int nbid = lp_graph_add_const(g, name, LP_DT_F32, 1, &cdim, nb, sizeof(float) * (size_t)C, 0);
        if (nwid < 0 || nbid < 0) {
            st = c->err->code;
            break;
        }
        /* adding tensors may have moved the tensor array (X, W, ...); the node array did not move */
        int ins[3] = {p->in[0], nwid, nbid};
        if (!lp_node_set_inputs(g, prod, ins, 3)) {
            st = c->err->code;
            break;
        }
        /* the producer now writes the BatchNormalization output directly */
        int y = bn->out[0];
        g->n[prod].out[0] = y;
        lp_T(c, y)->producer = prod;
        g->t[nwid].flags |= LP_T_OWNED;
        g->t[nbid].flags |= LP_T_OWNED;
        bn->dead = 1;
    }
    lp_uses_free(&u);
    return st;
}
