/* Emitters for composite lowerings (see compose.h). Result shapes follow the TFLite kernels. */
#include <string.h>

#include "compose.h"

#define T(id) lp_T(c, (id))

/* ---------------- constants ---------------- */

int lp_cx_const(lp_ctx *c, lp_dtype dt, int rank, const int64_t *dims, const void *data) {
    return lp_emit_const(c, dt, rank, dims, data, "const");
}

int lp_cx_scalar(lp_ctx *c, lp_dtype dt, double v) { return lp_emit_scalar(c, dt, v, "scalar"); }

int lp_cx_f32s(lp_ctx *c, int rank, const int64_t *dims, const float *v) {
    return lp_emit_const(c, LP_DT_F32, rank, dims, v, "const");
}

int lp_cx_i32s(lp_ctx *c, const int32_t *v, int n) { return lp_emit_i32(c, v, n, "const"); }

/* ---------------- emitting ---------------- */

/* one op with a fresh output of the given type and shape; returns the output */
static int op1(lp_ctx *c, lp_op op, const int *in, int n_in, lp_dtype dt, int rank, const int64_t *dims,
               const char *hint, int *node) {
    for (int i = 0; i < n_in; i++)
        if (in[i] < -1 || (in[i] == -1 && c->err->code)) return -1;
    if (c->err->code) return -1;
    int y = lp_emit_tensor(c, dt, rank, dims, hint);
    if (y < 0) return -1;
    int id = lp_emit_op(c, op, in, n_in, &y, 1);
    if (id < 0) return -1;
    if (node) *node = id;
    return y;
}

static int is_compare(lp_op op) {
    return op == LP_TFL_EQUAL || op == LP_TFL_NOT_EQUAL || op == LP_TFL_LESS || op == LP_TFL_LESS_EQUAL ||
           op == LP_TFL_GREATER || op == LP_TFL_GREATER_EQUAL;
}

int lp_cx_un(lp_ctx *c, lp_op op, int x) {
    if (x < 0) return -1;
    lp_tensor *X = T(x);
    lp_dtype dt = op == LP_TFL_LOGICAL_NOT ? LP_DT_BOOL : X->dtype;
    return op1(c, op, &x, 1, dt, X->rank, X->dims, "un", NULL);
}

int lp_cx_bin(lp_ctx *c, lp_op op, int a, int b) {
    if (a < 0 || b < 0) return -1;
    int rank;
    int64_t dims[LP_MAX_RANK];
    if (lp_broadcast(c, T(a), T(b), &rank, dims) != LP_OK) return -1;
    int in[2] = {a, b};
    return op1(c, op, in, 2, is_compare(op) ? LP_DT_BOOL : T(a)->dtype, rank, dims, "bin", NULL);
}

int lp_cx_select(lp_ctx *c, int cond, int a, int b) {
    if (cond < 0 || a < 0 || b < 0) return -1;
    int r1, r2;
    int64_t d1[LP_MAX_RANK], d2[LP_MAX_RANK];
    if (lp_broadcast(c, T(a), T(b), &r1, d1) != LP_OK) return -1;
    lp_tensor ab = *T(a);
    ab.rank = r1;
    memcpy(ab.dims, d1, sizeof d1);
    if (lp_broadcast(c, T(cond), &ab, &r2, d2) != LP_OK) return -1;
    int in[3] = {cond, a, b};
    return op1(c, LP_TFL_SELECT_V2, in, 3, T(a)->dtype, r2, d2, "select", NULL);
}

int lp_cx_cast(lp_ctx *c, int x, lp_dtype to) {
    if (x < 0) return -1;
    if (T(x)->dtype == to) return x;
    return lp_emit_cast(c, x, to, -1);
}

/* ---------------- data movement ---------------- */

/* Helpers never keep an lp_tensor pointer across an emission: a lowering may add more tensors
 * than the driver reserved, and the tensor array then moves. */

int lp_cx_reshape(lp_ctx *c, int x, int rank, const int64_t *dims) {
    if (x < 0) return -1;
    lp_tensor *X = T(x);
    const lp_dtype dt = X->dtype;
    const int xrank = X->rank;
    /* the same dims (equal symbols are equal sizes): nothing to do */
    if (X->rank == rank && lp_dims_equal(X->dims, dims, rank)) return x;
    int n_dyn = 0, n_unknown = 0;
    int src[LP_MAX_RANK];
    for (int i = 0; i < rank; i++) {
        src[i] = -1;
        if (dims[i] >= 0) continue;
        n_dyn++;
        for (int k = 0; k < X->rank; k++)
            if (X->dims[k] == dims[i]) src[i] = k;
        if (src[i] < 0) n_unknown++;
    }
    if (n_dyn <= 1) return lp_emit_reshape(c, x, rank, dims, -1);
    if (n_unknown > 1) {
        lp_fail(c, LP_ERR_UNSUPPORTED, "a reshape to a shape with %d dynamic dimensions that are not the input's",
                n_unknown);
        return -1;
    }
    /* runtime shape: GATHER(CONCAT(SHAPE(x), known dims), picks) */
    int32_t known[LP_MAX_RANK + 1], pick[LP_MAX_RANK];
    int nk = 0;
    for (int i = 0; i < rank; i++) {
        if (src[i] >= 0) {
            pick[i] = src[i];
        } else {
            known[nk] = dims[i] < 0 ? -1 : (int32_t)dims[i];
            pick[i] = xrank + nk++;
        }
    }
    int64_t xr = xrank;
    int shp = lp_emit_tensor(c, LP_DT_I32, 1, &xr, "shape");
    int id = shp < 0 ? -1 : lp_emit_op(c, LP_TFL_SHAPE, &x, 1, &shp, 1);
    if (id < 0) return -1;
    lp_emit_params(c, id)->out_type = LP_DT_I32;
    int all = shp;
    if (nk) {
        int parts[2] = {shp, lp_cx_i32s(c, known, nk)};
        all = lp_cx_concat(c, parts, 2, 0);
    }
    int sh = lp_cx_gather(c, all, lp_cx_i32s(c, pick, rank), 0, 0);
    if (sh < 0) return -1;
    int y = lp_emit_tensor(c, dt, rank, dims, "reshaped");
    int in[2] = {x, sh};
    if (y < 0 || lp_emit_op(c, LP_TFL_RESHAPE, in, 2, &y, 1) < 0) return -1;
    return y;
}

int lp_cx_transpose(lp_ctx *c, int x, const int *perm) {
    if (x < 0) return -1;
    int ident = 1;
    for (int i = 0; i < T(x)->rank; i++) ident &= perm[i] == i;
    if (ident) return x;
    return lp_emit_transpose(c, x, perm, -1);
}

/* the flatbuffer writer takes at most this many inputs or outputs per op */
#define CX_MAX_IO 64

int lp_cx_concat(lp_ctx *c, const int *xs, int n, int axis) {
    if (n < 1) return -1;
    for (int i = 0; i < n; i++)
        if (xs[i] < 0) return -1;
    if (n == 1) return xs[0];
    if (n > CX_MAX_IO) {
        /* in groups, then the groups */
        int parts[CX_MAX_IO], np = 0;
        for (int i = 0; i < n; i += CX_MAX_IO) {
            if (np == CX_MAX_IO) {
                lp_fail(c, LP_ERR_LIMIT, "a concatenation of %d tensors", n);
                return -1;
            }
            parts[np++] = lp_cx_concat(c, xs + i, n - i < CX_MAX_IO ? n - i : CX_MAX_IO, axis);
        }
        return lp_cx_concat(c, parts, np, axis);
    }
    lp_tensor *X = T(xs[0]);
    int64_t dims[LP_MAX_RANK];
    memcpy(dims, X->dims, sizeof dims);
    int dyn = 0;
    int64_t tot = 0;
    for (int i = 0; i < n; i++) {
        int64_t d = T(xs[i])->dims[axis];
        if (d < 0) dyn = 1;
        else tot += d;
    }
    dims[axis] = dyn ? lp_graph_new_sym(c->g, NULL) : tot;
    int node;
    int y = op1(c, LP_TFL_CONCATENATION, xs, n, X->dtype, X->rank, dims, "concat", &node);
    if (y >= 0) lp_emit_params(c, node)->axis = axis;
    return y;
}

int lp_cx_slice(lp_ctx *c, int x, const int64_t *begin, const int64_t *size) {
    if (x < 0) return -1;
    lp_tensor *X = T(x);
    int r = X->rank;
    int32_t b[LP_MAX_RANK], s[LP_MAX_RANK];
    int64_t dims[LP_MAX_RANK];
    int whole = 1;
    for (int d = 0; d < r; d++) {
        b[d] = (int32_t)begin[d];
        s[d] = size[d] < 0 ? -1 : (int32_t)size[d];
        if (size[d] >= 0) dims[d] = size[d];
        else if (X->dims[d] >= 0) dims[d] = X->dims[d] - begin[d];
        else dims[d] = begin[d] ? lp_graph_new_sym(c->g, NULL) : X->dims[d];
        whole &= begin[d] == 0 && dims[d] == X->dims[d];
    }
    if (whole) return x;
    const lp_dtype dt = X->dtype;
    int in[3] = {x, lp_cx_i32s(c, b, r), lp_cx_i32s(c, s, r)};
    return op1(c, LP_TFL_SLICE, in, 3, dt, r, dims, "slice", NULL);
}

int lp_cx_gather(lp_ctx *c, int x, int idx, int axis, int batch_dims) {
    if (x < 0 || idx < 0) return -1;
    lp_tensor *X = T(x), *I = T(idx);
    int r = X->rank - 1 + I->rank - batch_dims;
    if (r > LP_MAX_RANK) {
        lp_fail(c, LP_ERR_LIMIT, "gather result of rank %d", r);
        return -1;
    }
    int64_t dims[LP_MAX_RANK];
    int k = 0;
    for (int i = 0; i < axis; i++) dims[k++] = X->dims[i];
    for (int i = batch_dims; i < I->rank; i++) dims[k++] = I->dims[i];
    for (int i = axis + 1; i < X->rank; i++) dims[k++] = X->dims[i];
    int node;
    int in[2] = {x, idx};
    int y = op1(c, LP_TFL_GATHER, in, 2, X->dtype, r, dims, "gather", &node);
    if (y >= 0) {
        lp_emit_params(c, node)->axis = axis;
        lp_emit_params(c, node)->batch_dims = batch_dims;
    }
    return y;
}

int lp_cx_gather_nd(lp_ctx *c, int x, int idx) {
    if (x < 0 || idx < 0) return -1;
    lp_tensor *X = T(x), *I = T(idx);
    int64_t m = I->dims[I->rank - 1];
    int r = I->rank - 1 + X->rank - (int)m;
    if (m < 0 || m > X->rank || r > LP_MAX_RANK) {
        lp_fail(c, LP_ERR_INTERNAL, "bad GATHER_ND index depth");
        return -1;
    }
    int64_t dims[LP_MAX_RANK];
    int k = 0;
    for (int i = 0; i < I->rank - 1; i++) dims[k++] = I->dims[i];
    for (int i = (int)m; i < X->rank; i++) dims[k++] = X->dims[i];
    int in[2] = {x, idx};
    return op1(c, LP_TFL_GATHER_ND, in, 2, X->dtype, r, dims, "gather_nd", NULL);
}

int lp_cx_dim(lp_ctx *c, int x, int axis) {
    if (x < 0) return -1;
    int64_t r = T(x)->rank;
    if (T(x)->dims[axis] >= 0) return lp_cx_scalar(c, LP_DT_I32, (double)T(x)->dims[axis]);
    int node;
    int shp = op1(c, LP_TFL_SHAPE, &x, 1, LP_DT_I32, 1, &r, "shape", &node);
    if (shp < 0) return -1;
    lp_emit_params(c, node)->out_type = LP_DT_I32;
    int32_t a = axis;
    int at = lp_emit_const(c, LP_DT_I32, 0, NULL, &a, "axis");
    return lp_cx_gather(c, shp, at, 0, 0);
}

int lp_cx_iota(lp_ctx *c, int limit, int64_t len) {
    if (limit < 0) return -1;
    int in[3] = {lp_cx_scalar(c, LP_DT_I32, 0), limit, lp_cx_scalar(c, LP_DT_I32, 1)};
    return op1(c, LP_TFL_RANGE, in, 3, LP_DT_I32, 1, &len, "range", NULL);
}

int lp_cx_pack(lp_ctx *c, const int *xs, int n, int axis) {
    for (int i = 0; i < n; i++)
        if (xs[i] < 0) return -1;
    lp_tensor *X = T(xs[0]);
    if (X->rank + 1 > LP_MAX_RANK) {
        lp_fail(c, LP_ERR_LIMIT, "PACK of rank %d", X->rank + 1);
        return -1;
    }
    int64_t dims[LP_MAX_RANK];
    for (int d = 0, k = 0; d <= X->rank; d++) dims[d] = d == axis ? n : X->dims[k++];
    if (n > CX_MAX_IO) {
        /* each gets the new unit axis, then one (grouped) concatenation */
        int64_t one[LP_MAX_RANK];
        const int r = X->rank;
        memcpy(one, dims, sizeof one);
        one[axis] = 1;
        int *ys = lp_arena_alloc(&c->g->arena, sizeof(int) * (size_t)n);
        if (!ys) {
            lp_fail(c, LP_ERR_NOMEM, "out of memory");
            return -1;
        }
        for (int i = 0; i < n; i++) ys[i] = lp_cx_reshape(c, xs[i], r + 1, one);
        return lp_cx_concat(c, ys, n, axis);
    }
    int node;
    int y = op1(c, LP_TFL_PACK, xs, n, X->dtype, X->rank + 1, dims, "pack", &node);
    if (y >= 0) {
        lp_emit_params(c, node)->num = n;
        lp_emit_params(c, node)->axis = axis;
    }
    return y;
}

int lp_cx_unpack(lp_ctx *c, int x, int axis, int *outs) {
    if (x < 0) return -1;
    lp_tensor *X = T(x);
    int n = (int)X->dims[axis], r = X->rank;
    const lp_dtype dt = X->dtype;
    int64_t dims[LP_MAX_RANK];
    for (int d = 0, k = 0; d < r; d++)
        if (d != axis) dims[k++] = X->dims[d];
    if (n > CX_MAX_IO) {
        /* one SLICE (and RESHAPE) per part */
        int64_t beg[LP_MAX_RANK] = {0}, size[LP_MAX_RANK];
        for (int d = 0; d < r; d++) size[d] = -1;
        size[axis] = 1;
        for (int i = 0; i < n; i++) {
            beg[axis] = i;
            outs[i] = lp_cx_reshape(c, lp_cx_slice(c, x, beg, size), r - 1, dims);
            if (outs[i] < 0) return -1;
        }
        return n;
    }
    for (int i = 0; i < n; i++) {
        outs[i] = lp_emit_tensor(c, dt, r - 1, dims, "unpacked");
        if (outs[i] < 0) return -1;
    }
    int node = lp_emit_op(c, LP_TFL_UNPACK, &x, 1, outs, n);
    if (node < 0) return -1;
    lp_emit_params(c, node)->num = n;
    lp_emit_params(c, node)->axis = axis;
    return n;
}

int lp_cx_pad(lp_ctx *c, int x, const int64_t *pads, double value) {
    if (x < 0) return -1;
    lp_tensor *X = T(x);
    int r = X->rank, any = 0;
    int32_t p[2 * LP_MAX_RANK];
    int64_t dims[LP_MAX_RANK];
    for (int d = 0; d < r; d++) {
        p[2 * d] = (int32_t)pads[2 * d];
        p[2 * d + 1] = (int32_t)pads[2 * d + 1];
        any |= pads[2 * d] || pads[2 * d + 1];
        dims[d] = X->dims[d] < 0 ? (pads[2 * d] || pads[2 * d + 1] ? lp_graph_new_sym(c->g, NULL) : X->dims[d])
                                 : X->dims[d] + pads[2 * d] + pads[2 * d + 1];
    }
    if (!any) return x;
    int64_t pd[2] = {r, 2};
    const lp_dtype dt = X->dtype;
    int in[3] = {x, lp_emit_const(c, LP_DT_I32, 2, pd, p, "paddings"), lp_cx_scalar(c, dt, value)};
    return op1(c, LP_TFL_PADV2, in, 3, dt, r, dims, "padded", NULL);
}

/* ---------------- math ---------------- */

int lp_cx_matmul(lp_ctx *c, int a, int b, int adj_x, int adj_y) {
    if (a < 0 || b < 0) return -1;
    lp_tensor A = *T(a), B = *T(b);
    if (A.rank < 2 || B.rank < 2 || A.rank > 5 || B.rank > 5) {
        lp_fail(c, LP_ERR_UNSUPPORTED, "BATCH_MATMUL of rank %d and %d", A.rank, B.rank);
        return -1;
    }
    int64_t m = adj_x ? A.dims[A.rank - 1] : A.dims[A.rank - 2];
    int64_t nn = adj_y ? B.dims[B.rank - 2] : B.dims[B.rank - 1];
    A.rank -= 2;
    B.rank -= 2;
    int rank;
    int64_t dims[LP_MAX_RANK];
    if (lp_broadcast(c, &A, &B, &rank, dims) != LP_OK) return -1;
    dims[rank++] = m;
    dims[rank++] = nn;
    int node;
    int in[2] = {a, b};
    int y = op1(c, LP_TFL_BATCH_MATMUL, in, 2, T(a)->dtype, rank, dims, "matmul", &node);
    if (y >= 0) {
        lp_emit_params(c, node)->adj_x = adj_x;
        lp_emit_params(c, node)->adj_y = adj_y;
    }
    return y;
}

int lp_cx_fc(lp_ctx *c, int x, int w, int bias) {
    if (x < 0 || w < 0 || bias < -1) return -1;
    lp_tensor *X = T(x);
    int64_t dims[LP_MAX_RANK];
    memcpy(dims, X->dims, sizeof dims);
    dims[X->rank - 1] = T(w)->dims[0];
    int node;
    int in[3] = {x, w, bias};
    int y = op1(c, LP_TFL_FULLY_CONNECTED, in, 3, X->dtype, X->rank, dims, "fc", &node);
    if (y >= 0 && X->rank > 2) lp_emit_params(c, node)->keep_num_dims = 1;
    return y;
}

int lp_cx_reduce(lp_ctx *c, lp_op op, int x, const int *axes, int n_axes, int keep) {
    if (x < 0) return -1;
    lp_tensor *X = T(x);
    int red[LP_MAX_RANK] = {0};
    int32_t ax[LP_MAX_RANK];
    for (int i = 0; i < n_axes; i++) {
        red[axes[i]] = 1;
        ax[i] = axes[i];
    }
    int64_t dims[LP_MAX_RANK];
    int r = 0;
    for (int d = 0; d < X->rank; d++) {
        if (!red[d]) dims[r++] = X->dims[d];
        else if (keep) dims[r++] = 1;
    }
    int node;
    const lp_dtype dt = op == LP_TFL_REDUCE_ALL ? LP_DT_BOOL : X->dtype;
    int in[2] = {x, lp_cx_i32s(c, ax, n_axes)};
    int y = op1(c, op, in, 2, dt, r, dims, "reduced", &node);
    if (y >= 0) lp_emit_params(c, node)->keep_dims = keep;
    return y;
}

int lp_cx_softmax(lp_ctx *c, int x, int log) {
    if (x < 0) return -1;
    lp_tensor *X = T(x);
    int node;
    int y = op1(c, log ? LP_TFL_LOG_SOFTMAX : LP_TFL_SOFTMAX, &x, 1, X->dtype, X->rank, X->dims, "softmax", &node);
    if (y >= 0) lp_emit_params(c, node)->beta = 1.0f;
    return y;
}

/* ---------------- outputs ---------------- */

lp_status lp_cx_bind(lp_ctx *c, int x, int out) {
    if (out < 0) return c->err->code;
    if (x < 0) return c->err->code ? c->err->code : lp_fail(c, LP_ERR_INTERNAL, "no result to bind");
    lp_graph *g = c->g;
    lp_tensor *X = T(x), *Y = T(out);
    if (X->dtype != Y->dtype) return lp_emit_cast(c, x, Y->dtype, out) < 0 ? c->err->code : LP_OK;
    if (X->producer < 0 && !(X->flags & (LP_T_INPUT | LP_T_CONST)))
        return lp_fail(c, LP_ERR_INTERNAL, "'%s' was already bound to an output", X->name);
    int fresh = X->producer >= 0 && !(X->flags & (LP_T_INPUT | LP_T_OUTPUT | LP_T_CONST));
    for (int i = 0; i < c->cur.n_in; i++) fresh &= c->cur.in[i] != x;
    for (int i = 0; i < c->cur.n_out; i++) fresh &= c->cur.out[i] != x;
    if (!fresh || X->rank != Y->rank) /* a copy */
        return lp_emit_reshape(c, x, Y->rank, Y->dims, out) < 0 ? c->err->code : LP_OK;
    /* rename: the producer writes `out`, later readers of x read `out` */
    int p = X->producer;
    lp_node *pn = &g->n[p];
    for (int k = 0; k < pn->n_out; k++)
        if (pn->out[k] == x) pn->out[k] = out;
    Y->producer = p;
    X->producer = -1;
    for (int i = p + 1; i < g->n_n; i++) {
        lp_node *nd = &g->n[i];
        for (int j = 0; j < nd->n_in; j++)
            if (nd->in[j] == x) nd->in[j] = out;
    }
    return LP_OK;
}
