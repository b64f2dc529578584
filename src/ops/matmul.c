/* Linear algebra: Gemm and MatMul. A constant right-hand side becomes FULLY_CONNECTED (weights
 * [units, in]); otherwise BATCH_MATMUL. */
#include <string.h>

#include "ops.h"

#define T(id) lp_T(c, (id))

/* ---------------- Gemm ---------------- */

static lp_status gemm_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *a = T(n->in[0]), *b = T(n->in[1]);
    if (a->rank != 2 || b->rank != 2) return lp_fail(c, LP_ERR_INVALID, "Gemm inputs must be 2-D");
    int ta = (int)lp_attr_i(c, n, "transA", 0), tb = (int)lp_attr_i(c, n, "transB", 0);
    int64_t dims[2] = {ta ? a->dims[1] : a->dims[0], tb ? b->dims[0] : b->dims[1]};
    int64_t ka = ta ? a->dims[0] : a->dims[1], kb = tb ? b->dims[1] : b->dims[0];
    if (ka >= 0 && kb >= 0 && ka != kb)
        return lp_fail(c, LP_ERR_INVALID, "inner dimensions differ (%lld vs %lld)", (long long)ka, (long long)kb);
    lp_set_out(c, n, 0, a->dtype, 2, dims);
    return c->err->code;
}

/* y = x * k for a float constant k, into a new tensor */
static int emit_scale(lp_ctx *c, int x, float k) {
    lp_tensor *X = T(x);
    int kc = lp_emit_f32_scalar(c, k, "alpha");
    int out = lp_emit_tensor(c, X->dtype, X->rank, X->dims, "scaled");
    int in[2] = {x, kc};
    if (kc < 0 || out < 0 || lp_emit_op(c, LP_TFL_MUL, in, 2, &out, 1) < 0) return -1;
    return out;
}

static lp_status gemm_lower(lp_ctx *c, const lp_node *n) {
    lp_tensor *a = T(n->in[0]), *b = T(n->in[1]), *y = T(n->out[0]);
    int ta = (int)lp_attr_i(c, n, "transA", 0), tb = (int)lp_attr_i(c, n, "transB", 0);
    float alpha = lp_attr_f(c, n, "alpha", 1.0f), beta = lp_attr_f(c, n, "beta", 1.0f);
    if (a->dtype != LP_DT_F32) return lp_fail(c, LP_ERR_UNSUPPORTED, "input type %s", lp_dtype_name(a->dtype));
    int A = n->in[0];
    if (ta) {
        int perm[2] = {1, 0};
        A = lp_emit_transpose(c, A, perm, -1);
        if (A < 0) return c->err->code;
    }
    int64_t N = y->dims[1];
    int has_c = lp_has_in(n, 2);
    lp_tensor *C = has_c ? T(n->in[2]) : NULL;
    int bias = -1, add_c_after = 0;
    int result = n->out[0];
    if (lp_tensor_is_const(c->g, n->in[1]) && b->dtype == LP_DT_F32) {
        /* weights [N, K]: transB=1 already is; alpha folds into them */
        int W;
        int64_t wd[2];
        const void *wdata = b->data;
        if (!tb) {
            int perm[2] = {1, 0};
            wdata = lp_permute_data(c, b, perm, wd);
            if (!wdata) return c->err->code;
        } else {
            wd[0] = b->dims[0];
            wd[1] = b->dims[1];
        }
        if (alpha != 1.0f) {
            int64_t ne = wd[0] * wd[1];
            float *s = lp_arena_alloc(&c->g->arena, sizeof(float) * (size_t)ne);
            if (!s) return lp_fail(c, LP_ERR_NOMEM, "out of memory");
            for (int64_t i = 0; i < ne; i++) s[i] = (float)lp_get_f64(LP_DT_F32, wdata, i) * alpha;
            wdata = s;
        }
        if (tb && alpha == 1.0f) W = n->in[1]; /* zero copy: the ONNX weight is used as is */
        else W = lp_emit_const(c, LP_DT_F32, 2, wd, wdata, "weight");
        if (W < 0) return c->err->code;
        if (has_c && lp_tensor_is_const(c->g, n->in[2]) && C->dtype == LP_DT_F32 && lp_tensor_numel(C) == N &&
            (C->rank == 1 || (C->rank == 2 && C->dims[0] == 1))) {
            if (beta == 1.0f && C->rank == 1) bias = n->in[2];
            else {
                float *bv = lp_arena_alloc(&c->g->arena, sizeof(float) * (size_t)N);
                if (!bv) return lp_fail(c, LP_ERR_NOMEM, "out of memory");
                for (int64_t i = 0; i < N; i++) bv[i] = (float)lp_get_f64(LP_DT_F32, C->data, i) * beta;
                bias = lp_emit_const(c, LP_DT_F32, 1, &N, bv, "bias");
                if (bias < 0) return c->err->code;
            }
        } else if (has_c) {
            add_c_after = 1;
        }
        if (add_c_after) {
            result = lp_emit_tensor(c, y->dtype, 2, y->dims, "matmul");
            if (result < 0) return c->err->code;
        }
        int in[3] = {A, W, bias};
        if (lp_emit_op(c, LP_TFL_FULLY_CONNECTED, in, 3, &result, 1) < 0) return c->err->code;
    } else {
        if (has_c) add_c_after = 1;
        int mm = (add_c_after || alpha != 1.0f) ? lp_emit_tensor(c, y->dtype, 2, y->dims, "matmul") : n->out[0];
        int in[2] = {A, n->in[1]};
        int id = mm < 0 ? -1 : lp_emit_op(c, LP_TFL_BATCH_MATMUL, in, 2, &mm, 1);
        if (id < 0) return c->err->code;
        lp_emit_params(c, id)->adj_y = tb;
        result = mm;
        if (alpha != 1.0f) {
            int scaled = add_c_after ? lp_emit_tensor(c, y->dtype, 2, y->dims, "alpha") : n->out[0];
            int kc = lp_emit_f32_scalar(c, alpha, "alpha");
            int sin[2] = {mm, kc};
            if (scaled < 0 || kc < 0 || lp_emit_op(c, LP_TFL_MUL, sin, 2, &scaled, 1) < 0) return c->err->code;
            result = scaled;
        }
    }
    if (add_c_after) {
        int cc = n->in[2];
        if (beta != 1.0f) cc = emit_scale(c, cc, beta);
        int in[2] = {result, cc};
        if (cc < 0 || lp_emit_op(c, LP_TFL_ADD, in, 2, &n->out[0], 1) < 0) return c->err->code;
    }
    return LP_OK;
}

const lp_op_impl lp_impl_Gemm = {gemm_infer, NULL, gemm_lower};

/* ---------------- MatMul ---------------- */

static lp_status matmul_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *a = T(n->in[0]), *b = T(n->in[1]);
    LP_TRY(lp_need_rank(c, a, "A"));
    LP_TRY(lp_need_rank(c, b, "B"));
    if (a->rank < 1 || b->rank < 1) return lp_fail(c, LP_ERR_INVALID, "MatMul of a scalar");
    /* numpy matmul: 1-D operands are promoted and the added dim removed afterwards */
    lp_tensor A = *a, B = *b;
    if (A.rank == 1) {
        A.rank = 2;
        A.dims[1] = a->dims[0];
        A.dims[0] = 1;
    }
    if (B.rank == 1) {
        B.rank = 2;
        B.dims[1] = 1;
    }
    int64_t ka = A.dims[A.rank - 1], kb = B.dims[B.rank - 2];
    if (ka >= 0 && kb >= 0 && ka != kb)
        return lp_fail(c, LP_ERR_INVALID, "inner dimensions differ (%lld vs %lld)", (long long)ka, (long long)kb);
    lp_tensor ba = A, bb = B;
    ba.rank = A.rank - 2;
    bb.rank = B.rank - 2;
    int rank;
    int64_t dims[LP_MAX_RANK];
    LP_TRY(lp_broadcast(c, &ba, &bb, &rank, dims));
    int r = rank;
    if (a->rank > 1) dims[r++] = A.dims[A.rank - 2];
    if (b->rank > 1) dims[r++] = B.dims[B.rank - 1];
    lp_set_out(c, n, 0, a->dtype, r, dims);
    return LP_OK;
}

static lp_status matmul_lower(lp_ctx *c, const lp_node *n) {
    lp_tensor *a = T(n->in[0]), *b = T(n->in[1]), *y = T(n->out[0]);
    if (!lp_dtype_is_float(a->dtype)) return lp_fail(c, LP_ERR_UNSUPPORTED, "input type %s", lp_dtype_name(a->dtype));
    int A = n->in[0], Bt = n->in[1];
    if (a->rank == 1) {
        int64_t d[2] = {1, a->dims[0]};
        A = lp_emit_reshape(c, A, 2, d, -1);
        if (A < 0) return c->err->code;
    }
    lp_tensor *AA = T(A);
    /* FULLY_CONNECTED: constant 2-D (or 1-D) weight */
    if (lp_tensor_is_const(c->g, n->in[1]) && b->dtype == LP_DT_F32 && b->rank <= 2 && a->dtype == LP_DT_F32) {
        int64_t K = b->dims[0], N = b->rank == 2 ? b->dims[1] : 1;
        lp_tensor b2 = *b;
        b2.rank = 2;
        b2.dims[0] = K;
        b2.dims[1] = N;
        int perm[2] = {1, 0};
        int64_t wd[2];
        void *w = lp_permute_data(c, &b2, perm, wd);
        if (!w) return c->err->code;
        int W = lp_emit_const(c, LP_DT_F32, 2, wd, w, "weight");
        if (W < 0) return c->err->code;
        /* result with A's leading dims and N */
        int64_t rd[LP_MAX_RANK];
        int rr = AA->rank;
        memcpy(rd, AA->dims, sizeof rd);
        rd[rr - 1] = N;
        int direct = rr == y->rank && lp_dims_equal(rd, y->dims, rr);
        int out = direct ? n->out[0] : lp_emit_tensor(c, y->dtype, rr, rd, "fc");
        int in[3] = {A, W, -1};
        int id = out < 0 ? -1 : lp_emit_op(c, LP_TFL_FULLY_CONNECTED, in, 3, &out, 1);
        if (id < 0) return c->err->code;
        if (rr > 2) lp_emit_params(c, id)->keep_num_dims = 1;
        if (!direct) return lp_emit_reshape(c, out, y->rank, y->dims, n->out[0]) < 0 ? c->err->code : LP_OK;
        return LP_OK;
    }
    if (b->rank == 1) {
        int64_t d[2] = {b->dims[0], 1};
        Bt = lp_emit_reshape(c, Bt, 2, d, -1);
        if (Bt < 0) return c->err->code;
    }
    lp_tensor *BB = T(Bt);
    if (AA->rank > 5 || BB->rank > 5) return lp_fail(c, LP_ERR_UNSUPPORTED, "MatMul of rank above 5");
    /* BATCH_MATMUL's output: broadcast batch dims, then M, N */
    lp_tensor ba = *AA, bb = *BB;
    ba.rank -= 2;
    bb.rank -= 2;
    int rank;
    int64_t dims[LP_MAX_RANK];
    LP_TRY(lp_broadcast(c, &ba, &bb, &rank, dims));
    dims[rank] = AA->dims[AA->rank - 2];
    dims[rank + 1] = BB->dims[BB->rank - 1];
    rank += 2;
    int direct = rank == y->rank && lp_dims_equal(dims, y->dims, rank);
    int out = direct ? n->out[0] : lp_emit_tensor(c, y->dtype, rank, dims, "bmm");
    int in[2] = {A, Bt};
    if (out < 0 || lp_emit_op(c, LP_TFL_BATCH_MATMUL, in, 2, &out, 1) < 0) return c->err->code;
    if (!direct) return lp_emit_reshape(c, out, y->rank, y->dims, n->out[0]) < 0 ? c->err->code : LP_OK;
    return LP_OK;
}

const lp_op_impl lp_impl_MatMul = {matmul_infer, NULL, matmul_lower};
