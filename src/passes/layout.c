/* layout: removes transposes. (First version: cancels a TRANSPOSE whose input is another
 * TRANSPOSE with the inverse permutation.) */
#include <string.h>

#include "passes.h"

/* perm of a TRANSPOSE node whose permutation input is constant; rank or -1 */
static int transpose_perm(lp_graph *g, const lp_node *n, int *perm) {
    if (n->op != LP_TFL_TRANSPOSE || n->n_in < 2 || !lp_tensor_is_const(g, n->in[1])) return -1;
    const lp_tensor *p = &g->t[n->in[1]];
    int64_t k = lp_tensor_numel(p);
    if (k < 0 || k > LP_MAX_RANK) return -1;
    for (int i = 0; i < k; i++) perm[i] = (int)lp_get_i64(p->dtype, p->data, i);
    return (int)k;
}

lp_status lp_pass_layout(lp_ctx *c) {
    lp_graph *g = c->g;
    for (int i = 0; i < g->n_n; i++) {
        lp_node *n = &g->n[i];
        int p2[LP_MAX_RANK], p1[LP_MAX_RANK];
        if (n->dead) continue;
        int r2 = transpose_perm(g, n, p2);
        if (r2 < 0) continue;
        int src = g->t[n->in[0]].producer;
        if (src < 0) continue;
        int r1 = transpose_perm(g, &g->n[src], p1);
        if (r1 != r2) continue;
        int ident = 1;
        for (int k = 0; k < r2; k++) ident &= p1[p2[k]] == k;
        if (!ident) continue;
        /* y = T2(T1(x)) == x: consumers of y read x instead */
        int x = g->n[src].in[0], y = n->out[0];
        if (g->t[y].flags & LP_T_OUTPUT) continue;
        for (int j = 0; j < g->n_n; j++) {
            lp_node *m = &g->n[j];
            if (m->dead) continue;
            for (int k = 0; k < m->n_in; k++)
                if (m->in[k] == y) m->in[k] = x;
        }
        n->dead = 1;
    }
    return lp_pass_dce(c);
}
