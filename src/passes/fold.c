/* fold: constant folding of the lowered graph.
 *
 * Shape inference folds the ONNX ops that have reference kernels; what is left with constant
 * inputs is lowered like any other op: a mask built with ScatterND (Swin's shifted windows), the
 * index arithmetic a lowering adds around a constant (CAST, FLOOR_MOD of indices), comparisons and
 * selects of constants. Here every TFLite op whose inputs are all constants of static shape is run
 * once by the reference interpreter (src/run, LiteRT's kernel semantics) and its outputs become
 * constants. Bounded: outputs no larger than their inputs or LP_FOLD_GROW_BYTES (a BROADCAST_TO
 * of a scalar to a huge tensor would make the file bigger; shape inference's folding obeys the same
 * bound), and LP_MAX_FOLD_BYTES over the whole graph
 * (shared with shape inference's folding). A view (RESHAPE) of a constant that several ops read is
 * kept (see foldable). A kernel that refuses the op leaves it in the model.
 */
#include <stdlib.h>
#include <string.h>

#include "../run/run.h"
#include "passes.h"

#define FOLD_MAX_OUT ((size_t)16 << 20) /* no folded output larger than this */

static int is_view(lp_op op) { return op == LP_TFL_RESHAPE || op == LP_TFL_SQUEEZE || op == LP_TFL_EXPAND_DIMS; }

static int foldable(lp_ctx *c, const lp_node *n, const int *readers, size_t *out_bytes) {
    const lp_graph *g = c->g;
    if (!lp_run_supports(n->op) || n->op == LP_TFL_QUANTIZE || n->op == LP_TFL_DEQUANTIZE) return 0;
    /* a view of a constant that several ops read stays a run-time tensor: XNNPACK packs a
     * constant filter once per op, so the recurrent weights that every unrolled step reads
     * (src/ops/rnn.c) are one reshaped tensor on purpose */
    if (is_view(n->op) && n->out[0] >= 0 && readers[n->out[0]] > 1) return 0;
    size_t in_bytes = 0;
    int any = 0;
    for (int j = 0; j < n->n_in; j++) {
        int t = n->in[j];
        if (t < 0) continue;
        if (!lp_tensor_is_const(g, t) || lp_tensor_numel(&g->t[t]) < 0) return 0;
        in_bytes += (size_t)lp_tensor_numel(&g->t[t]) * lp_dtype_size(g->t[t].dtype);
        any = 1;
    }
    size_t bytes = 0;
    for (int k = 0; k < n->n_out; k++) {
        int t = n->out[k];
        if (t < 0) continue;
        const lp_tensor *T = &g->t[t];
        /* a graph output stays an op's result (a TFLite output is not a constant buffer) */
        if ((T->flags & (LP_T_OUTPUT | LP_T_CONST)) || lp_tensor_numel(T) < 0) return 0;
        bytes += (size_t)lp_tensor_numel(T) * lp_dtype_size(T->dtype);
    }
    if (!any || bytes > FOLD_MAX_OUT || (bytes > LP_FOLD_GROW_BYTES && bytes > in_bytes)) return 0;
    if (c->folded_bytes + bytes > LP_MAX_FOLD_BYTES) return 0;
    *out_bytes = bytes;
    return 1;
}

lp_status lp_pass_fold(lp_ctx *c) {
    lp_graph *g = c->g;
    LP_TRY(lp_graph_toposort(g));
    lp_err scratch;
    lp_err_clear(&scratch);
    int *readers = calloc((size_t)g->n_t + 1, sizeof(int));
    if (!readers) return lp_fail(c, LP_ERR_NOMEM, "out of memory");
    for (int i = 0; i < g->n_n; i++)
        if (!g->n[i].dead)
            for (int j = 0; j < g->n[i].n_in; j++)
                if (g->n[i].in[j] >= 0) readers[g->n[i].in[j]]++;
    lp_run r;
    lp_status st = lp_run_fold_init(&r, g, &scratch);
    for (int i = 0; i < g->n_n && st == LP_OK; i++) {
        size_t bytes;
        if (g->n[i].dead || !foldable(c, &g->n[i], readers, &bytes)) continue;
        lp_status fs = lp_run_fold(&r, i);
        if (fs == LP_OK) {
            c->folded_bytes += bytes;
        } else if (fs == LP_ERR_NOMEM) {
            st = fs;
        }
        lp_err_clear(&scratch); /* a refused op simply stays in the model */
    }
    lp_run_free(&r);
    free(readers);
    if (st != LP_OK) return lp_fail(c, st, "out of memory while folding constants");
    return LP_OK;
}
