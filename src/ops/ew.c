/* Helpers for the elementwise families: op chains and broadcasting reference kernels (ew.h). */
#include <math.h>
#include <string.h>

#include "ew.h"

#define T(id) lp_T(c, (id))

/* ---------------- emitting ---------------- */

int ew_like(lp_ctx *c, int x, lp_dtype dt) {
    if (x < 0) return -1;
    lp_tensor *t = T(x);
    return lp_emit_tensor(c, dt == LP_DT_UNDEF ? t->dtype : dt, t->rank, t->dims, "t");
}

int ew_k(lp_ctx *c, lp_dtype dt, double v) { return lp_emit_scalar(c, dt, v, "k"); }

int ew_ki(lp_ctx *c, lp_dtype dt, int64_t v) {
    uint8_t buf[16] = {0};
    lp_set_i64(dt, buf, 0, v);
    return lp_emit_const(c, dt, 0, NULL, buf, "k");
}

static int bool_result(lp_op op) {
    switch (op) {
    case LP_TFL_EQUAL: case LP_TFL_NOT_EQUAL: case LP_TFL_LESS: case LP_TFL_LESS_EQUAL: case LP_TFL_GREATER:
    case LP_TFL_GREATER_EQUAL: case LP_TFL_LOGICAL_AND: case LP_TFL_LOGICAL_OR: case LP_TFL_LOGICAL_NOT:
        return 1;
    default: return 0;
    }
}

int ew_un(lp_ctx *c, lp_op op, int x, int out) {
    if (x < 0) return -1;
    if (out < 0) out = ew_like(c, x, bool_result(op) ? LP_DT_BOOL : LP_DT_UNDEF);
    if (out < 0 || lp_emit_op(c, op, &x, 1, &out, 1) < 0) return -1;
    return out;
}

int ew_bin(lp_ctx *c, lp_op op, int a, int b, int out) {
    if (a < 0 || b < 0) return -1;
    if (out < 0) {
        int rank;
        int64_t dims[LP_MAX_RANK];
        if (lp_broadcast(c, T(a), T(b), &rank, dims) != LP_OK) return -1;
        out = lp_emit_tensor(c, bool_result(op) ? LP_DT_BOOL : T(a)->dtype, rank, dims, "t");
    }
    int in[2] = {a, b};
    if (out < 0 || lp_emit_op(c, op, in, 2, &out, 1) < 0) return -1;
    return out;
}

int ew_bink(lp_ctx *c, lp_op op, int a, double k, int out) {
    if (a < 0) return -1;
    return ew_bin(c, op, a, ew_k(c, T(a)->dtype, k), out);
}

int ew_kbin(lp_ctx *c, lp_op op, double k, int b, int out) {
    if (b < 0) return -1;
    return ew_bin(c, op, ew_k(c, T(b)->dtype, k), b, out);
}

int ew_sel(lp_ctx *c, int cond, int a, int b, int out) {
    if (cond < 0 || a < 0 || b < 0) return -1;
    if (out < 0) {
        int r1, r2;
        int64_t d1[LP_MAX_RANK], d2[LP_MAX_RANK];
        if (lp_broadcast(c, T(a), T(b), &r1, d1) != LP_OK) return -1;
        lp_tensor ab = *T(a);
        ab.rank = r1;
        memcpy(ab.dims, d1, sizeof d1);
        if (lp_broadcast(c, T(cond), &ab, &r2, d2) != LP_OK) return -1;
        out = lp_emit_tensor(c, T(a)->dtype, r2, d2, "t");
    }
    int in[3] = {cond, a, b};
    if (out < 0 || lp_emit_op(c, LP_TFL_SELECT_V2, in, 3, &out, 1) < 0) return -1;
    return out;
}

int ew_cast(lp_ctx *c, int x, lp_dtype to, int out) {
    if (x < 0) return -1;
    if (T(x)->dtype == to) return out < 0 ? x : lp_emit_identity(c, x, out);
    return lp_emit_cast(c, x, to, out);
}

int ew_poly(lp_ctx *c, int x, const double *coef, int n, int out) {
    if (n < 2) return n == 1 ? ew_bink(c, LP_TFL_ADD, ew_bink(c, LP_TFL_MUL, x, 0.0, -1), coef[0], out) : -1;
    int r = ew_bink(c, LP_TFL_MUL, x, coef[n - 1], -1);
    for (int k = n - 2; k >= 0; k--) {
        r = ew_bink(c, LP_TFL_ADD, r, coef[k], k == 0 ? out : -1);
        if (k > 0) r = ew_bin(c, LP_TFL_MUL, r, x, -1);
    }
    return r;
}

int ew_log1p(lp_ctx *c, int y, int out) {
    /* log1p(y) = 2 atanh(z), z = y / (2 + y): 2z (1 + z^2/3 + ... + z^10/11) while |z| < 1/4
     * (-0.4 < y < 2/3; the first omitted term is below 5e-9 relative) */
    static const double series[6] = {1.0, 1.0 / 3, 1.0 / 5, 1.0 / 7, 1.0 / 9, 1.0 / 11};
    int z = ew_bin(c, LP_TFL_DIV, y, ew_bink(c, LP_TFL_ADD, y, 2.0, -1), -1);
    int near = ew_bin(c, LP_TFL_MUL, ew_bink(c, LP_TFL_MUL, z, 2.0, -1),
                      ew_poly(c, ew_bin(c, LP_TFL_MUL, z, z, -1), series, 6, -1), -1);
    int far = ew_un(c, LP_TFL_LOG, ew_bink(c, LP_TFL_ADD, y, 1.0, -1), -1);
    return ew_sel(c, ew_bink(c, LP_TFL_LESS, ew_un(c, LP_TFL_ABS, z, -1), 0.25, -1), near, far, out);
}

lp_status ew_done(lp_ctx *c, int r) {
    if (r >= 0) return LP_OK;
    return c->err->code ? c->err->code : lp_fail(c, LP_ERR_INTERNAL, "lowering failed");
}

int ew_to_f32(lp_ctx *c, int x) { return ew_cast(c, x, LP_DT_F32, -1); }

int ew_from_f32(lp_ctx *c, int r, int out) {
    if (r < 0 || r == out) return r;
    return ew_cast(c, r, T(out)->dtype, out);
}

/* ---------------- shape inference ---------------- */

lp_status ew_same_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    lp_set_out(c, n, 0, x->dtype, x->rank, x->dims);
    return LP_OK;
}

lp_status ew_float_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    if (!lp_dtype_is_float(x->dtype))
        return lp_fail(c, LP_ERR_INVALID, "input type %s; this op takes floating point", lp_dtype_name(x->dtype));
    return ew_same_infer(c, n);
}

lp_status ew_binary_infer(lp_ctx *c, const lp_node *n, lp_dtype dt) {
    lp_tensor *a = T(n->in[0]), *b = T(n->in[1]);
    if (a->dtype != b->dtype)
        return lp_fail(c, LP_ERR_INVALID, "input types differ (%s and %s)", lp_dtype_name(a->dtype),
                       lp_dtype_name(b->dtype));
    int rank;
    int64_t dims[LP_MAX_RANK];
    LP_TRY(lp_broadcast(c, a, b, &rank, dims));
    if (rank < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "input ranks are unknown");
    lp_set_out(c, n, 0, dt == LP_DT_UNDEF ? a->dtype : dt, rank, dims);
    return LP_OK;
}

/* ---------------- reference kernels ---------------- */

int64_t ew_bcast_offset(const lp_tensor *x, const lp_tensor *y, const int64_t *idx) {
    int off = y->rank - x->rank;
    int64_t o = 0, s = 1;
    for (int d = x->rank - 1; d >= 0; d--) {
        int64_t i = x->dims[d] == 1 ? 0 : idx[d + off];
        o += i * s;
        s *= x->dims[d];
    }
    return o;
}

lp_status ew_eval_f1(lp_ctx *c, const lp_node *n, ew_f1 f, const double *par) {
    lp_tensor *x = T(n->in[0]), *y = T(n->out[0]);
    int64_t ne = lp_tensor_numel(y);
    void *p = lp_out_data(c, n, 0);
    for (int64_t i = 0; i < ne; i++) lp_set_f64(y->dtype, p, i, f(lp_get_f64(x->dtype, x->data, i), par));
    return LP_OK;
}

static int int_like(lp_dtype d) { return lp_dtype_is_int(d) || d == LP_DT_BOOL; }

lp_status ew_eval_f2(lp_ctx *c, const lp_node *n, ew_fd2 fd, ew_fi2 fi) {
    lp_tensor *a = T(n->in[0]), *b = T(n->in[1]), *y = T(n->out[0]);
    int64_t ne = lp_tensor_numel(y), idx[LP_MAX_RANK] = {0};
    void *yd = lp_out_data(c, n, 0);
    int as_int = fi && int_like(a->dtype) && int_like(b->dtype);
    if (!as_int && !fd) return lp_fail(c, LP_ERR_UNSUPPORTED, "no reference kernel for %s", lp_dtype_name(a->dtype));
    for (int64_t i = 0; i < ne; i++) {
        int64_t oa = ew_bcast_offset(a, y, idx), ob = ew_bcast_offset(b, y, idx);
        if (as_int)
            lp_set_i64(y->dtype, yd, i, fi(lp_get_i64(a->dtype, a->data, oa), lp_get_i64(b->dtype, b->data, ob), n,
                                           a->dtype));
        else
            lp_set_f64(y->dtype, yd, i, fd(lp_get_f64(a->dtype, a->data, oa), lp_get_f64(b->dtype, b->data, ob), n));
        for (int d = y->rank - 1; d >= 0; d--) {
            if (++idx[d] < y->dims[d]) break;
            idx[d] = 0;
        }
    }
    return LP_OK;
}
