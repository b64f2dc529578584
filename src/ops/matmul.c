/* Linear algebra: Gemm and MatMul. A constant right-hand side becomes FULLY_CONNECTED (weights
 * [units, in]); otherwise BATCH_MATMUL. */
#include <string.h>

#include "window.h"

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

/* Integer Gemm (int32/int64/uint32/uint64 since opset 11): an exact integer matmul; alpha and
 * beta are floats in ONNX and only 1 keeps the result an exact integer. */
static lp_status gemm_int_lower(lp_ctx *c, const lp_node *n, int ta, int tb, float alpha, float beta) {
    if (alpha != 1.0f || (lp_has_in(n, 2) && beta != 1.0f))
        return lp_fail(c, LP_ERR_UNSUPPORTED, "integer Gemm with alpha or beta other than 1");
    int perm[2] = {1, 0};
    int A = ta ? lp_emit_transpose(c, n->in[0], perm, -1) : n->in[0];
    int B = tb ? lp_emit_transpose(c, n->in[1], perm, -1) : n->in[1];
    if (A < 0 || B < 0) return c->err->code;
    if (!lp_has_in(n, 2)) return lp_nn_matmul(c, A, B, n->out[0]) < 0 ? c->err->code : LP_OK;
    int mm = lp_nn_matmul(c, A, B, -1);
    return lp_nn_binary(c, LP_TFL_ADD, mm, n->in[2], n->out[0]) < 0 ? c->err->code : LP_OK;
}

static lp_status gemm_lower(lp_ctx *c, const lp_node *n) {
    lp_tensor *a = T(n->in[0]), *b = T(n->in[1]), *y = T(n->out[0]);
    int ta = (int)lp_attr_i(c, n, "transA", 0), tb = (int)lp_attr_i(c, n, "transB", 0);
    float alpha = lp_attr_f(c, n, "alpha", 1.0f), beta = lp_attr_f(c, n, "beta", 1.0f);
    if (c->err->code) return c->err->code;
    if (lp_dtype_is_int(a->dtype)) return gemm_int_lower(c, n, ta, tb, alpha, beta);
    if (!lp_dtype_is_float(a->dtype)) return lp_fail(c, LP_ERR_INVALID, "input type %s", lp_dtype_name(a->dtype));
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
    if (lp_tensor_is_const(c->g, n->in[1]) && lp_dtype_is_float(b->dtype)) {
        /* weights [N, K]: transB=1 already is; alpha folds into them */
        int W;
        int64_t wd[2];
        const void *wdata = alpha == 1.0f ? NULL : lp_tensor_bytes(c->g, n->in[1]);
        if (alpha != 1.0f && !wdata) return c->err->code;
        if (alpha == 1.0f) {
            /* the ONNX weight as it is, or its transpose computed while the file is written */
            int64_t bd[2] = {b->dims[0], b->dims[1]};
            int perm[2] = {1, 0};
            W = tb ? n->in[1] : lp_emit_permuted(c, n->in[1], 2, bd, perm, "weight");
        } else if (!tb) {
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
            for (int64_t i = 0; i < ne; i++) s[i] = (float)(lp_get_f64(b->dtype, wdata, i) * alpha);
            W = lp_emit_const(c, LP_DT_F32, 2, wd, s, "weight");
        }
        if (W < 0) return c->err->code;
        if (has_c && lp_tensor_is_const(c->g, n->in[2]) && lp_dtype_is_float(C->dtype) && N >= 0 &&
            lp_tensor_numel(C) == N && (C->rank == 1 || (C->rank == 2 && C->dims[0] == 1))) {
            /* FULLY_CONNECTED's bias: float32 [N] (legalize converts data, not biases) */
            if (beta == 1.0f && C->rank == 1 && C->dtype == LP_DT_F32) bias = n->in[2];
            else {
                float *bv = lp_arena_alloc(&c->g->arena, sizeof(float) * (size_t)N);
                if (!bv) return lp_fail(c, LP_ERR_NOMEM, "out of memory");
                for (int64_t i = 0; i < N; i++) bv[i] = (float)(lp_get_f64(C->dtype, C->data, i) * beta);
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
            result = lp_nn_binary_k(c, LP_TFL_MUL, mm, alpha, add_c_after ? -1 : n->out[0]);
            if (result < 0) return c->err->code;
        }
    }
    if (add_c_after) {
        int cc = n->in[2];
        if (beta != 1.0f) cc = lp_nn_binary_k(c, LP_TFL_MUL, cc, beta, -1);
        if (lp_nn_binary(c, LP_TFL_ADD, result, cc, n->out[0]) < 0) return c->err->code;
    }
    return LP_OK;
}

const lp_op_impl lp_impl_Gemm = {gemm_infer, NULL, gemm_lower};

/* ---------------- MatMul ---------------- */

/* numpy matmul output shape of a @ b (1-D operands promoted, the added dim removed) */
static lp_status matmul_dims(lp_ctx *c, const lp_tensor *a, const lp_tensor *b, int *rank, int64_t *dims) {
    LP_TRY(lp_need_rank(c, a, "A"));
    LP_TRY(lp_need_rank(c, b, "B"));
    if (a->rank < 1 || b->rank < 1) return lp_fail(c, LP_ERR_INVALID, "MatMul of a scalar");
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
    LP_TRY(lp_broadcast(c, &ba, &bb, rank, dims));
    int r = *rank;
    if (a->rank > 1) dims[r++] = A.dims[A.rank - 2];
    if (b->rank > 1) dims[r++] = B.dims[B.rank - 1];
    *rank = r;
    return LP_OK;
}

static lp_status matmul_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *a = T(n->in[0]), *b = T(n->in[1]);
    int rank;
    int64_t dims[LP_MAX_RANK];
    LP_TRY(matmul_dims(c, a, b, &rank, dims));
    lp_set_out(c, n, 0, a->dtype, rank, dims);
    return LP_OK;
}

/* Integer matmul, exact with wrap-around like ONNX's: TFLite's BATCH_MATMUL and FULLY_CONNECTED
 * have no plain int32/int64 kernels, so A[..., M, K, 1] * B[..., 1, K, N] summed over K. */
static int int_matmul(lp_ctx *c, int a, int b, int out) {
    lp_tensor *A = T(a), *B = T(b);
    int64_t ad[LP_MAX_RANK], bd[LP_MAX_RANK];
    int ar = A->rank, br = B->rank;
    if (ar == 1) ad[0] = 1, ad[1] = A->dims[0], ar = 2;
    else memcpy(ad, A->dims, sizeof(int64_t) * (size_t)ar);
    if (br == 1) bd[0] = B->dims[0], bd[1] = 1, br = 2;
    else memcpy(bd, B->dims, sizeof(int64_t) * (size_t)br);
    if (ar + 1 > 6 || br + 1 > 6) {
        lp_fail(c, LP_ERR_UNSUPPORTED, "integer MatMul of rank above 5");
        return -1;
    }
    ad[ar] = 1;
    memmove(bd + br - 1, bd + br - 2, sizeof(int64_t) * 2);
    bd[br - 2] = 1;
    int a3 = lp_emit_reshape(c, a, ar + 1, ad, -1), b3 = lp_emit_reshape(c, b, br + 1, bd, -1);
    int prod = lp_nn_binary(c, LP_TFL_MUL, a3, b3, -1);
    if (prod < 0) return -1;
    int axis = T(prod)->rank - 2;
    int sum = lp_nn_reduce(c, LP_TFL_SUM, prod, &axis, 1, 0, -1);
    if (sum < 0) return -1;
    if (out < 0) return sum;
    return lp_emit_reshape(c, sum, T(out)->rank, T(out)->dims, out);
}

int lp_nn_matmul(lp_ctx *c, int a_id, int b_id, int out) {
    lp_tensor *a = T(a_id), *b = T(b_id);
    int yr;
    int64_t yd[LP_MAX_RANK];
    if (matmul_dims(c, a, b, &yr, yd) != LP_OK) return -1;
    if (out < 0) out = lp_emit_tensor(c, a->dtype, yr, yd, "matmul");
    if (out < 0) return -1;
    lp_tensor *y = T(out);
    if (!lp_dtype_is_float(a->dtype)) return int_matmul(c, a_id, b_id, out);
    int A = a_id, Bt = b_id;
    if (a->rank == 1) {
        int64_t d[2] = {1, a->dims[0]};
        A = lp_emit_reshape(c, A, 2, d, -1);
        if (A < 0) return -1;
    }
    lp_tensor *AA = T(A);
    /* FULLY_CONNECTED: constant 2-D (or 1-D) weight */
    if (lp_tensor_is_const(c->g, b_id) && lp_dtype_is_float(b->dtype) && b->rank <= 2) {
        int64_t K = b->dims[0], N = b->rank == 2 ? b->dims[1] : 1;
        int64_t kn[2] = {K, N};
        int perm[2] = {1, 0};
        int W = lp_emit_permuted(c, b_id, 2, kn, perm, "weight");
        if (W < 0) return -1;
        /* result with A's leading dims and N */
        int64_t rd[LP_MAX_RANK];
        int rr = AA->rank;
        memcpy(rd, AA->dims, sizeof rd);
        rd[rr - 1] = N;
        int direct = rr == y->rank && lp_dims_equal(rd, y->dims, rr);
        int fc = direct ? out : lp_emit_tensor(c, y->dtype, rr, rd, "fc");
        int in[3] = {A, W, -1};
        int id = fc < 0 ? -1 : lp_emit_op(c, LP_TFL_FULLY_CONNECTED, in, 3, &fc, 1);
        if (id < 0) return -1;
        if (rr > 2) lp_emit_params(c, id)->keep_num_dims = 1;
        if (!direct) return lp_emit_reshape(c, fc, y->rank, y->dims, out);
        return out;
    }
    if (b->rank == 1) {
        int64_t d[2] = {b->dims[0], 1};
        Bt = lp_emit_reshape(c, Bt, 2, d, -1);
        if (Bt < 0) return -1;
    }
    lp_tensor *BB = T(Bt);
    if (AA->rank > 5 || BB->rank > 5) {
        lp_fail(c, LP_ERR_UNSUPPORTED, "MatMul of rank above 5 (BATCH_MATMUL's limit)");
        return -1;
    }
    /* BATCH_MATMUL's output: broadcast batch dims, then M, N */
    lp_tensor ba = *AA, bb = *BB;
    ba.rank -= 2;
    bb.rank -= 2;
    int rank;
    int64_t dims[LP_MAX_RANK];
    if (lp_broadcast(c, &ba, &bb, &rank, dims) != LP_OK) return -1;
    dims[rank] = AA->dims[AA->rank - 2];
    dims[rank + 1] = BB->dims[BB->rank - 1];
    rank += 2;
    int direct = rank == y->rank && lp_dims_equal(dims, y->dims, rank);
    int mm = direct ? out : lp_emit_tensor(c, y->dtype, rank, dims, "bmm");
    int in[2] = {A, Bt};
    if (mm < 0 || lp_emit_op(c, LP_TFL_BATCH_MATMUL, in, 2, &mm, 1) < 0) return -1;
    if (!direct) return lp_emit_reshape(c, mm, y->rank, y->dims, out);
    return out;
}

static lp_status matmul_lower(lp_ctx *c, const lp_node *n) {
    return lp_nn_matmul(c, n->in[0], n->in[1], n->out[0]) < 0 ? (c->err->code ? c->err->code : LP_ERR_INTERNAL) : LP_OK;
}

const lp_op_impl lp_impl_MatMul = {matmul_infer, NULL, matmul_lower};
