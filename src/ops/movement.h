/* Small emit helpers shared by the data-movement families (shape.c, gather.c, resize.c): one TFLite
 * op per call, returning the new result tensor (or -1 with the error set). They build the runtime
 * index arithmetic that ONNX ops with runtime parameters need (negative indices, pads and slice
 * bounds given as graph inputs). */
#ifndef LP_OPS_MOVEMENT_H
#define LP_OPS_MOVEMENT_H

#include <string.h>

#include "ops.h"

/* The shape the model declares for output k (graph output or value_info), read before infer
 * overwrites it. Returns its rank, or -1 when nothing is declared. */
static inline int mv_declared(lp_ctx *c, const lp_node *n, int k, int64_t *dims) {
    if (k >= n->n_out || n->out[k] < 0) return -1;
    const lp_tensor *t = &c->g->t[n->out[k]];
    if (t->rank < 0) return -1;
    memcpy(dims, t->dims, sizeof(int64_t) * (size_t)t->rank);
    return t->rank;
}

/* Where a computed dim is a fresh symbol (unknown) and the model declares a number, take the
 * number: runtime shape parameters (pads, repeats, sizes as graph inputs) leave the output size
 * to the model's own declaration. */
static inline void mv_merge_declared(lp_ctx *c, const lp_node *n, int k, int rank, int64_t *dims) {
    int64_t d[LP_MAX_RANK];
    if (mv_declared(c, n, k, d) != rank) return;
    for (int i = 0; i < rank; i++)
        if (dims[i] < 0 && d[i] >= 0) dims[i] = d[i];
}

static inline int mv_static(const lp_tensor *t) {
    if (t->rank < 0) return 0;
    for (int i = 0; i < t->rank; i++)
        if (t->dims[i] < 0) return 0;
    return 1;
}

/* out = op(a, b) with an explicit result type and shape */
static inline int mv_op2(lp_ctx *c, lp_op op, int a, int b, lp_dtype dt, int rank, const int64_t *dims,
                         const char *hint) {
    int y = lp_emit_tensor(c, dt, rank, dims, hint);
    if (y < 0) return -1;
    int in[2] = {a, b};
    return lp_emit_op(c, op, in, b < 0 ? 1 : 2, &y, 1) < 0 ? -1 : y;
}

/* elementwise binary op; result has a's dtype (or bool for comparisons) and the broadcast shape */
static inline int mv_bin(lp_ctx *c, lp_op op, int a, int b, const char *hint) {
    lp_tensor *A = &c->g->t[a], *B = &c->g->t[b];
    int rank;
    int64_t dims[LP_MAX_RANK];
    if (lp_broadcast(c, A, B, &rank, dims) != LP_OK) return -1;
    lp_dtype dt = A->dtype;
    if (op == LP_TFL_LESS || op == LP_TFL_GREATER || op == LP_TFL_EQUAL || op == LP_TFL_GREATER_EQUAL ||
        op == LP_TFL_LESS_EQUAL || op == LP_TFL_NOT_EQUAL || op == LP_TFL_LOGICAL_AND || op == LP_TFL_LOGICAL_OR)
        dt = LP_DT_BOOL;
    return mv_op2(c, op, a, b, dt, rank, dims, hint);
}

static inline int mv_un(lp_ctx *c, lp_op op, int a, const char *hint) {
    lp_tensor *A = &c->g->t[a];
    return mv_op2(c, op, a, -1, A->dtype, A->rank, A->dims, hint);
}

/* SELECT_V2(cond, a, b) with broadcasting */
static inline int mv_select(lp_ctx *c, int cond, int a, int b, const char *hint) {
    lp_tensor *C = &c->g->t[cond], *A = &c->g->t[a], *B = &c->g->t[b];
    int r1, r2;
    int64_t d1[LP_MAX_RANK], d2[LP_MAX_RANK];
    if (lp_broadcast(c, C, A, &r1, d1) != LP_OK) return -1;
    lp_tensor tmp = *B;
    tmp.rank = r1;
    memcpy(tmp.dims, d1, sizeof d1);
    if (lp_broadcast(c, &tmp, B, &r2, d2) != LP_OK) return -1;
    int y = lp_emit_tensor(c, A->dtype, r2, d2, hint);
    if (y < 0) return -1;
    int in[3] = {cond, a, b};
    return lp_emit_op(c, LP_TFL_SELECT_V2, in, 3, &y, 1) < 0 ? -1 : y;
}

/* a constant of dtype dt and the given shape filled from int64 values */
static inline int mv_const_ints(lp_ctx *c, lp_dtype dt, int rank, const int64_t *dims, const int64_t *v, int64_t n,
                                const char *hint) {
    size_t es = lp_dtype_size(dt);
    void *p = lp_arena_alloc(&c->g->arena, es * (size_t)(n ? n : 1));
    if (!p) {
        lp_fail(c, LP_ERR_NOMEM, "out of memory");
        return -1;
    }
    for (int64_t i = 0; i < n; i++) lp_set_i64(dt, p, i, v[i]);
    return lp_emit_const(c, dt, rank, dims, p, hint);
}

/* 1-D int32 constant of n values */
static inline int mv_i32v(lp_ctx *c, const int64_t *v, int n, const char *hint) {
    int64_t d = n;
    return mv_const_ints(c, LP_DT_I32, 1, &d, v, n, hint);
}

/* int scalar of dtype dt */
static inline int mv_iscalar(lp_ctx *c, lp_dtype dt, int64_t v, const char *hint) {
    return mv_const_ints(c, dt, 0, NULL, &v, 1, hint);
}

/* x cast to dt unless it already has it */
static inline int mv_as(lp_ctx *c, int x, lp_dtype dt) {
    return c->g->t[x].dtype == dt ? x : lp_emit_cast(c, x, dt, -1);
}

/* x reshaped to static dims */
static inline int mv_reshape(lp_ctx *c, int x, int rank, const int64_t *dims) {
    return lp_emit_reshape(c, x, rank, dims, -1);
}

#endif
