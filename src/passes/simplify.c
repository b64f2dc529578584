/* simplify: ONNX-level rewrites that need the inferred shapes.
 *  - Expand whose result only feeds broadcasting elementwise ops whose other operand already has
 *    the expanded shape: the broadcast happens anyway, so the Expand is dropped (PyTorch's
 *    `gate.expand_as(x) * x`). */
#include <string.h>

#include "passes.h"

static int broadcasting_binary(lp_op op) {
    return op == LP_OP_Add || op == LP_OP_Sub || op == LP_OP_Mul || op == LP_OP_Div || op == LP_OP_Pow ||
           op == LP_OP_Max || op == LP_OP_Min || op == LP_OP_Equal || op == LP_OP_Less || op == LP_OP_Greater;
}

static int same_shape(const lp_tensor *a, const lp_tensor *b) {
    return a->rank == b->rank && a->rank >= 0 && lp_dims_equal(a->dims, b->dims, a->rank);
}

lp_status lp_pass_simplify(lp_ctx *c) {
    lp_graph *g = c->g;
    for (int i = 0; i < g->n_n; i++) {
        lp_node *e = &g->n[i];
        if (e->dead || e->op != LP_OP_Expand) continue;
        int x = e->in[0], y = e->out[0];
        const lp_tensor *Y = &g->t[y], *X = &g->t[x];
        if ((Y->flags & LP_T_OUTPUT) || X->rank > Y->rank) continue;
        int ok = 1, used = 0;
        for (int j = 0; j < g->n_n && ok; j++) {
            const lp_node *n = &g->n[j];
            if (n->dead) continue;
            for (int k = 0; k < n->n_in; k++) {
                if (n->in[k] != y) continue;
                used = 1;
                /* the op's result must not depend on the Expand for its shape */
                if (!broadcasting_binary(n->op) || n->n_in != 2 || n->in[1 - k] == y ||
                    !same_shape(&g->t[n->in[1 - k]], Y))
                    ok = 0;
            }
        }
        if (!ok || !used) continue;
        lp_graph_replace_uses(g, y, x);
        g->n[i].dead = 1;
    }
    return LP_OK;
}
