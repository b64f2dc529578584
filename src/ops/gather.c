/* Indexing: Gather, GatherElements, GatherND, ScatterND, ScatterElements, Scatter, TensorScatter.
 *
 * TFLite's GATHER / GATHER_ND reject negative indices and know no batch_dims for GATHER_ND, and
 * SCATTER_ND adds its updates into zeros. So indices are normalised at runtime (FLOOR_MOD by the
 * axis size maps [-d, d) onto [0, d), ONNX's valid range), element-wise forms get explicit
 * coordinates (a constant iota per axis, PACKed with the given indices), and scatters are built
 * from SCATTER_ND (none, add) or from a one-hot mask over the N updates reduced with
 * REDUCE_PROD / REDUCE_MAX / REDUCE_MIN (mul, max, min), which handles duplicate indices the way
 * ONNX's reductions do. These need static index shapes. */
#include <math.h>
#include <string.h>

#include "movement.h"

#define T(id) lp_T(c, (id))

/* indices x (any integer type) as int32 with negatives wrapped into [0, d); d < 0: read the size
 * of axis `axis` of `data` at runtime */
static int norm_index(lp_ctx *c, int x, int64_t d, int data, int axis) {
    int xi = mv_as(c, x, LP_DT_I32);
    if (xi < 0) return -1;
    int dt;
    if (d >= 0) {
        dt = mv_iscalar(c, LP_DT_I32, d, "axis_size");
    } else {
        int64_t r = T(data)->rank;
        int sh = lp_emit_tensor(c, LP_DT_I32, 1, &r, "shape");
        if (sh < 0) return -1;
        int id = lp_emit_op(c, LP_TFL_SHAPE, &data, 1, &sh, 1);
        if (id < 0) return -1;
        lp_emit_params(c, id)->out_type = LP_DT_I32;
        int64_t b = axis, one = 1;
        int bi = mv_i32v(c, &b, 1, "begin"), si = mv_i32v(c, &one, 1, "size");
        dt = lp_emit_tensor(c, LP_DT_I32, 1, &one, "axis_size");
        int in[3] = {sh, bi, si};
        if (bi < 0 || si < 0 || dt < 0 || lp_emit_op(c, LP_TFL_SLICE, in, 3, &dt, 1) < 0) return -1;
    }
    if (dt < 0) return -1;
    return mv_bin(c, LP_TFL_FLOOR_MOD, xi, dt, "index");
}

/* ---------------- Gather ---------------- */

static lp_status gather_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]), *idx = T(n->in[1]);
    LP_TRY(lp_need_rank(c, x, "data"));
    LP_TRY(lp_need_rank(c, idx, "indices"));
    int axis;
    LP_TRY(lp_axis(c, lp_attr_i(c, n, "axis", 0), x->rank, &axis, "axis"));
    if (!lp_dtype_is_int(idx->dtype)) return lp_fail(c, LP_ERR_INVALID, "indices must be integers");
    int r = x->rank - 1 + idx->rank;
    if (r > LP_MAX_RANK) return lp_fail(c, LP_ERR_LIMIT, "output rank %d is too large", r);
    int64_t dims[LP_MAX_RANK];
    int k = 0;
    for (int i = 0; i < axis; i++) dims[k++] = x->dims[i];
    for (int i = 0; i < idx->rank; i++) dims[k++] = idx->dims[i];
    for (int i = axis + 1; i < x->rank; i++) dims[k++] = x->dims[i];
    lp_set_out(c, n, 0, x->dtype, r, dims);
    /* shape arithmetic: picking entries of a 1-D symbolic value */
    lp_symval sv, iv;
    if (x->rank == 1 && lp_sv_get(c, n->in[0], &sv) && lp_tensor_is_const(c->g, n->in[1]) &&
        lp_sv_get(c, n->in[1], &iv)) {
        lp_symval out = {0};
        out.n = iv.n;
        for (int i = 0; i < iv.n; i++) {
            int64_t j = iv.v[i] < 0 ? iv.v[i] + sv.n : iv.v[i];
            if (j < 0 || j >= sv.n) return lp_fail(c, LP_ERR_INVALID, "index %lld is out of range", (long long)iv.v[i]);
            out.v[i] = sv.v[j];
            out.sym[i] = sv.sym[j];
        }
        return lp_sv_set(c, n->out[0], &out);
    }
    return LP_OK;
}

static lp_status gather_eval(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]), *idx = T(n->in[1]);
    int axis;
    LP_TRY(lp_axis(c, lp_attr_i(c, n, "axis", 0), x->rank, &axis, "axis"));
    size_t es = lp_dtype_size(x->dtype);
    int64_t outer = 1, inner = 1, d = x->dims[axis];
    for (int i = 0; i < axis; i++) outer *= x->dims[i];
    for (int i = axis + 1; i < x->rank; i++) inner *= x->dims[i];
    int64_t ni = lp_tensor_numel(idx);
    uint8_t *dst = lp_out_data(c, n, 0);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < ni; k++) {
            int64_t j = lp_get_i64(idx->dtype, idx->data, k);
            if (j < 0) j += d;
            if (j < 0 || j >= d) return lp_fail(c, LP_ERR_INVALID, "index %lld is out of range", (long long)j);
            memcpy(dst + (size_t)((o * ni + k) * inner) * es, (const uint8_t *)x->data + (size_t)((o * d + j) * inner) * es,
                   (size_t)inner * es);
        }
    return LP_OK;
}

static lp_status gather_lower(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]), *idx = T(n->in[1]);
    int axis;
    LP_TRY(lp_axis(c, lp_attr_i(c, n, "axis", 0), x->rank, &axis, "axis"));
    int64_t d = x->dims[axis];
    int ii;
    if (lp_tensor_is_const(c->g, n->in[1])) {
        /* constant indices: int32 with negative entries resolved (TFLite GATHER has no negatives) */
        int64_t ni = lp_tensor_numel(idx);
        int32_t *v = lp_arena_alloc(&c->g->arena, sizeof(int32_t) * (size_t)(ni ? ni : 1));
        if (!v) return lp_fail(c, LP_ERR_NOMEM, "out of memory");
        int neg = 0;
        for (int64_t k = 0; k < ni; k++) {
            int64_t j = lp_get_i64(idx->dtype, idx->data, k);
            if (j < 0) {
                if (d < 0) neg = 1;
                else j += d;
            }
            if (j < 0 && !neg) return lp_fail(c, LP_ERR_INVALID, "index %lld is out of range", (long long)j);
            if (d >= 0 && j >= d) return lp_fail(c, LP_ERR_INVALID, "index %lld is out of range", (long long)j);
            v[k] = (int32_t)j;
        }
        ii = lp_emit_const(c, LP_DT_I32, idx->rank, idx->dims, v, "indices");
        if (neg && ii >= 0) ii = norm_index(c, ii, d, n->in[0], axis);
    } else {
        /* runtime indices: ONNX allows [-d, d) */
        ii = norm_index(c, n->in[1], d, n->in[0], axis);
    }
    if (ii < 0) return c->err->code;
    int in[2] = {n->in[0], ii};
    int id = lp_emit_op(c, LP_TFL_GATHER, in, 2, &n->out[0], 1);
    if (id < 0) return c->err->code;
    lp_emit_params(c, id)->axis = axis;
    return LP_OK;
}

const lp_op_impl lp_impl_Gather = {gather_infer, gather_eval, gather_lower};

/* ---------------- element coordinates ---------------- */

/* Coordinates for an element-wise index tensor `idx` of static shape S along `axis` of `data`:
 * an int32 tensor [S..., r] whose entry j is the element's own position along j, except along
 * `axis` where it is idx (normalised). */
static int element_coords(lp_ctx *c, int data, int idx, int axis) {
    lp_tensor *X = T(data), *I = T(idx);
    int r = I->rank;
    if (!mv_static(I)) {
        lp_fail(c, LP_ERR_UNSUPPORTED, "indices '%s' must have a static shape", I->name);
        return -1;
    }
    if (X->rank != r) {
        lp_fail(c, LP_ERR_INVALID, "indices have rank %d, data rank %d", r, X->rank);
        return -1;
    }
    int64_t S[LP_MAX_RANK];
    memcpy(S, I->dims, sizeof S);
    int64_t ne = lp_tensor_numel(I);
    int parts[LP_MAX_RANK];
    int64_t st[LP_MAX_RANK];
    lp_strides(r, S, st);
    for (int j = 0; j < r; j++) {
        if (j == axis) {
            parts[j] = norm_index(c, idx, X->dims[axis], data, axis);
        } else {
            int32_t *v = lp_arena_alloc(&c->g->arena, sizeof(int32_t) * (size_t)(ne ? ne : 1));
            if (!v) {
                lp_fail(c, LP_ERR_NOMEM, "out of memory");
                return -1;
            }
            for (int64_t e = 0; e < ne; e++) v[e] = (int32_t)((e / st[j]) % S[j]);
            parts[j] = lp_emit_const(c, LP_DT_I32, r, S, v, "iota");
        }
        if (parts[j] < 0) return -1;
    }
    int64_t od[LP_MAX_RANK + 1];
    memcpy(od, S, sizeof(int64_t) * (size_t)r);
    od[r] = r;
    int y = lp_emit_tensor(c, LP_DT_I32, r + 1, od, "coords");
    if (y < 0) return -1;
    int id = lp_emit_op(c, LP_TFL_PACK, parts, r, &y, 1);
    if (id < 0) return -1;
    lp_emit_params(c, id)->num = r;
    lp_emit_params(c, id)->axis = r;
    return y;
}

/* ---------------- GatherElements ---------------- */

static lp_status ge_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]), *idx = T(n->in[1]);
    LP_TRY(lp_need_rank(c, x, "data"));
    LP_TRY(lp_need_rank(c, idx, "indices"));
    if (idx->rank != x->rank) return lp_fail(c, LP_ERR_INVALID, "indices and data must have the same rank");
    int axis;
    LP_TRY(lp_axis(c, lp_attr_i(c, n, "axis", 0), x->rank, &axis, "axis"));
    lp_set_out(c, n, 0, x->dtype, idx->rank, idx->dims);
    return LP_OK;
}

static lp_status ge_lower(lp_ctx *c, const lp_node *n) {
    int axis;
    LP_TRY(lp_axis(c, lp_attr_i(c, n, "axis", 0), T(n->in[0])->rank, &axis, "axis"));
    int co = element_coords(c, n->in[0], n->in[1], axis);
    if (co < 0) return c->err->code;
    int in[2] = {n->in[0], co};
    return lp_emit_op(c, LP_TFL_GATHER_ND, in, 2, &n->out[0], 1) < 0 ? c->err->code : LP_OK;
}

const lp_op_impl lp_impl_GatherElements = {ge_infer, NULL, ge_lower};

/* ---------------- GatherND ---------------- */

static lp_status gnd_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]), *idx = T(n->in[1]);
    LP_TRY(lp_need_rank(c, x, "data"));
    LP_TRY(lp_need_rank(c, idx, "indices"));
    int64_t b = lp_attr_i(c, n, "batch_dims", 0);
    if (idx->rank < 1) return lp_fail(c, LP_ERR_INVALID, "indices must have rank >= 1");
    int64_t k = idx->dims[idx->rank - 1];
    if (k < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "the last dimension of indices must be static");
    if (b < 0 || b >= idx->rank || b + k > x->rank)
        return lp_fail(c, LP_ERR_INVALID, "batch_dims %lld and index depth %lld do not fit data of rank %d", (long long)b,
                       (long long)k, x->rank);
    /* output: indices.shape[:-1] + data.shape[b+k:] (the batch dims are the leading indices dims) */
    int64_t dims[2 * LP_MAX_RANK];
    int r = 0;
    for (int i = 0; i < idx->rank - 1; i++) dims[r++] = idx->dims[i];
    for (int64_t i = b + k; i < x->rank; i++) dims[r++] = x->dims[i];
    if (r > LP_MAX_RANK) return lp_fail(c, LP_ERR_LIMIT, "output rank %d is too large", r);
    lp_set_out(c, n, 0, x->dtype, r, dims);
    return LP_OK;
}

/* indices [..., k] addressing data dims [b, b+k): normalised and prefixed with b batch coordinates */
static int nd_coords(lp_ctx *c, int data, int idx, int b) {
    lp_tensor *X = T(data), *I = T(idx);
    int q = I->rank;
    int64_t k = I->dims[q - 1];
    int64_t dk[LP_MAX_RANK];
    for (int j = 0; j < k; j++) {
        dk[j] = X->dims[b + j];
        if (dk[j] < 0) {
            lp_fail(c, LP_ERR_UNSUPPORTED, "indexed dimension %d of data must be static", b + j);
            return -1;
        }
    }
    int xi = mv_as(c, idx, LP_DT_I32);
    int dv = mv_i32v(c, dk, (int)k, "dims");
    if (xi < 0 || dv < 0) return -1;
    int nix = mv_bin(c, LP_TFL_FLOOR_MOD, xi, dv, "index");
    if (nix < 0 || b == 0) return nix;
    if (!mv_static(I)) {
        lp_fail(c, LP_ERR_UNSUPPORTED, "batch_dims with indices of a dynamic shape");
        return -1;
    }
    /* batch coordinates: position along each of the first b dims of the indices */
    int64_t S[LP_MAX_RANK];
    memcpy(S, I->dims, sizeof S);
    S[q - 1] = 1;
    int64_t ne = 1, st[LP_MAX_RANK];
    for (int j = 0; j < q; j++) ne *= S[j];
    lp_strides(q, S, st);
    int parts[LP_MAX_RANK + 1];
    for (int j = 0; j < b; j++) {
        int32_t *v = lp_arena_alloc(&c->g->arena, sizeof(int32_t) * (size_t)(ne ? ne : 1));
        if (!v) {
            lp_fail(c, LP_ERR_NOMEM, "out of memory");
            return -1;
        }
        for (int64_t e = 0; e < ne; e++) v[e] = (int32_t)((e / st[j]) % S[j]);
        parts[j] = lp_emit_const(c, LP_DT_I32, q, S, v, "batch_iota");
        if (parts[j] < 0) return -1;
    }
    parts[b] = nix;
    int64_t od[LP_MAX_RANK];
    memcpy(od, I->dims, sizeof od);
    od[q - 1] = b + k;
    int y = lp_emit_tensor(c, LP_DT_I32, q, od, "coords");
    if (y < 0) return -1;
    int id = lp_emit_op(c, LP_TFL_CONCATENATION, parts, b + 1, &y, 1);
    if (id < 0) return -1;
    lp_emit_params(c, id)->axis = q - 1;
    return y;
}

static lp_status gnd_lower(lp_ctx *c, const lp_node *n) {
    int b = (int)lp_attr_i(c, n, "batch_dims", 0);
    int co = nd_coords(c, n->in[0], n->in[1], b);
    if (co < 0) return c->err->code;
    int in[2] = {n->in[0], co};
    return lp_emit_op(c, LP_TFL_GATHER_ND, in, 2, &n->out[0], 1) < 0 ? c->err->code : LP_OK;
}

const lp_op_impl lp_impl_GatherND = {gnd_infer, NULL, gnd_lower};

/* ---------------- scatters ---------------- */

enum { RED_NONE, RED_ADD, RED_MUL, RED_MAX, RED_MIN };

static lp_status reduction_of(lp_ctx *c, const lp_node *n, int *red) {
    const char *s = lp_attr_s(c, n, "reduction", "none");
    if (c->err->code) return c->err->code;
    if (strcmp(s, "none") == 0) *red = RED_NONE;
    else if (strcmp(s, "add") == 0) *red = RED_ADD;
    else if (strcmp(s, "mul") == 0) *red = RED_MUL;
    else if (strcmp(s, "max") == 0) *red = RED_MAX;
    else if (strcmp(s, "min") == 0) *red = RED_MIN;
    else return lp_fail(c, LP_ERR_INVALID, "attribute 'reduction'='%s'", s);
    return LP_OK;
}

/* out = data with updates scattered at coords (int32 [Q..., k], normalised), combined by `red`.
 * updates has shape [Q..., data.shape[k:]]. */
static lp_status scatter_core(lp_ctx *c, int data, int coords, int updates, int red, int out) {
    lp_tensor *X = T(data), *Co = T(coords), *U = T(updates);
    if (!mv_static(X) || !mv_static(Co) || !mv_static(U))
        return lp_fail(c, LP_ERR_UNSUPPORTED, "scatter needs static shapes of data, indices and updates");
    int r = X->rank, q = Co->rank;
    int k = (int)Co->dims[q - 1];
    int64_t N = 1, P = 1, R = 1;
    for (int j = 0; j < q - 1; j++) N *= Co->dims[j];
    for (int j = 0; j < k; j++) P *= X->dims[j];
    for (int j = k; j < r; j++) R *= X->dims[j];
    lp_dtype dt = X->dtype;
    if (N == 0) return lp_emit_identity(c, data, out) < 0 ? c->err->code : LP_OK;
    if (red == RED_NONE || red == RED_ADD) {
        /* SCATTER_ND sums the updates into zeros */
        int64_t rd = r;
        int shp = mv_const_ints(c, LP_DT_I32, 1, &rd, X->dims, r, "shape");
        int s = lp_emit_tensor(c, dt, r, X->dims, "scattered");
        int in[3] = {coords, updates, shp};
        if (shp < 0 || s < 0 || lp_emit_op(c, LP_TFL_SCATTER_ND, in, 3, &s, 1) < 0) return c->err->code;
        if (red == RED_ADD) {
            int in2[2] = {data, s};
            return lp_emit_op(c, LP_TFL_ADD, in2, 2, &out, 1) < 0 ? c->err->code : LP_OK;
        }
        /* none: positions hit by any update take the scattered value */
        int64_t qd[LP_MAX_RANK];
        for (int j = 0; j < q - 1; j++) qd[j] = Co->dims[j];
        int64_t *ones = lp_table_alloc(c, N, sizeof(int64_t), "table of ones");
        if (!ones) return c->err->code;
        for (int64_t i = 0; i < N; i++) ones[i] = 1;
        int on = mv_const_ints(c, LP_DT_I32, q - 1, qd, ones, N, "ones");
        int64_t kd = k;
        int ks = mv_const_ints(c, LP_DT_I32, 1, &kd, X->dims, k, "hit_shape");
        int hit = lp_emit_tensor(c, LP_DT_I32, k, X->dims, "hits");
        int in3[3] = {coords, on, ks};
        if (on < 0 || ks < 0 || hit < 0 || lp_emit_op(c, LP_TFL_SCATTER_ND, in3, 3, &hit, 1) < 0) return c->err->code;
        int64_t hd[LP_MAX_RANK];
        for (int j = 0; j < r; j++) hd[j] = j < k ? X->dims[j] : 1;
        int hr = mv_reshape(c, hit, r, hd);
        int zero = hr < 0 ? -1 : mv_iscalar(c, LP_DT_I32, 0, "zero");
        int mask = zero < 0 ? -1 : mv_bin(c, LP_TFL_GREATER, hr, zero, "hit");
        if (mask < 0) return c->err->code;
        int in4[3] = {mask, s, data};
        return lp_emit_op(c, LP_TFL_SELECT_V2, in4, 3, &out, 1) < 0 ? c->err->code : LP_OK;
    }
    /* mul, max, min: a one-hot mask [N, P] of each update's position, every update placed in its
     * row (neutral elsewhere), reduced over the N rows, then combined with data */
    int64_t npr;
    if (!lp_mul_i64(N, P, &npr) || !lp_mul_i64(npr, R, &npr) || npr > (int64_t)1 << 26)
        return lp_fail(c, LP_ERR_LIMIT, "scatter with reduction over %lld x %lld x %lld elements is too large",
                       (long long)N, (long long)P, (long long)R);
    int64_t st[LP_MAX_RANK], kd = k;
    lp_strides(k, X->dims, st);
    int sv = mv_const_ints(c, LP_DT_I32, 1, &kd, st, k, "strides");
    int64_t nk[2] = {N, k};
    int c2 = mv_reshape(c, coords, 2, nk);
    int prod = (sv < 0 || c2 < 0) ? -1 : mv_bin(c, LP_TFL_MUL, c2, sv, "offsets");
    if (prod < 0) return c->err->code;
    int32_t ax = 1;
    int axc = lp_emit_const(c, LP_DT_I32, 1, (int64_t[]){1}, &ax, "axis");
    int64_t n1[2] = {N, 1};
    int lin = lp_emit_tensor(c, LP_DT_I32, 2, n1, "linear");
    int in5[2] = {prod, axc};
    int id = (axc < 0 || lin < 0) ? -1 : lp_emit_op(c, LP_TFL_SUM, in5, 2, &lin, 1);
    if (id < 0) return c->err->code;
    lp_emit_params(c, id)->keep_dims = 1;
    int64_t *iota = lp_table_alloc(c, P, sizeof(int64_t), "table of positions");
    if (!iota) return c->err->code;
    for (int64_t i = 0; i < P; i++) iota[i] = i;
    int64_t p1[2] = {1, P};
    int io = mv_const_ints(c, LP_DT_I32, 2, p1, iota, P, "positions");
    int m = io < 0 ? -1 : mv_bin(c, LP_TFL_EQUAL, lin, io, "onehot");
    int64_t m3[3] = {N, P, 1}, u3[3] = {N, 1, R};
    int mr = m < 0 ? -1 : mv_reshape(c, m, 3, m3);
    int ur = mr < 0 ? -1 : mv_reshape(c, updates, 3, u3);
    if (ur < 0) return c->err->code;
    double neutral = red == RED_MUL ? 1.0 : red == RED_MAX ? -INFINITY : INFINITY;
    int ne;
    if (lp_dtype_is_int(dt)) {
        int64_t lo, hi;
        size_t es = lp_dtype_size(dt);
        int uns = dt == LP_DT_U8 || dt == LP_DT_U16 || dt == LP_DT_U32 || dt == LP_DT_U64;
        if (uns) {
            lo = 0;
            hi = es >= 8 ? INT64_MAX : (int64_t)((1ull << (8 * es)) - 1);
        } else {
            hi = es >= 8 ? INT64_MAX : (int64_t)((1ull << (8 * es - 1)) - 1);
            lo = -hi - 1;
        }
        ne = mv_iscalar(c, dt, red == RED_MUL ? 1 : red == RED_MAX ? lo : hi, "neutral");
    } else {
        ne = lp_emit_scalar(c, dt, neutral, "neutral");
    }
    int sel = ne < 0 ? -1 : mv_select(c, mr, ur, ne, "placed");
    if (sel < 0) return c->err->code;
    int32_t a0 = 0;
    int a0c = lp_emit_const(c, LP_DT_I32, 1, (int64_t[]){1}, &a0, "axis0");
    int64_t pr[2] = {P, R};
    int rd2 = lp_emit_tensor(c, dt, 2, pr, "reduced");
    lp_op rop = red == RED_MUL ? LP_TFL_REDUCE_PROD : red == RED_MAX ? LP_TFL_REDUCE_MAX : LP_TFL_REDUCE_MIN;
    int in6[2] = {sel, a0c};
    if (a0c < 0 || rd2 < 0 || lp_emit_op(c, rop, in6, 2, &rd2, 1) < 0) return c->err->code;
    int rs = mv_reshape(c, rd2, r, X->dims);
    if (rs < 0) return c->err->code;
    lp_op comb = red == RED_MUL ? LP_TFL_MUL : red == RED_MAX ? LP_TFL_MAXIMUM : LP_TFL_MINIMUM;
    int in7[2] = {data, rs};
    return lp_emit_op(c, comb, in7, 2, &out, 1) < 0 ? c->err->code : LP_OK;
}

static lp_status scatter_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    LP_TRY(lp_need_rank(c, x, "data"));
    int red = RED_NONE;
    if (n->op != LP_OP_Scatter && n->op != LP_OP_TensorScatter) LP_TRY(reduction_of(c, n, &red));
    lp_set_out(c, n, 0, x->dtype, x->rank, x->dims);
    return LP_OK;
}

static lp_status snd_lower(lp_ctx *c, const lp_node *n) {
    int red = RED_NONE;
    LP_TRY(reduction_of(c, n, &red));
    lp_tensor *I = T(n->in[1]);
    LP_TRY(lp_need_rank(c, I, "indices"));
    if (I->rank < 1 || I->dims[I->rank - 1] < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "the index depth must be static");
    lp_tensor *X = T(n->in[0]), *U = T(n->in[2]);
    int64_t k = I->dims[I->rank - 1];
    if (k > X->rank)
        return lp_fail(c, LP_ERR_INVALID, "index depth %lld (the last dimension of 'indices') is larger than the rank %d "
                       "of 'data'", (long long)k, X->rank);
    /* updates: indices.shape[:-1] + data.shape[k:] */
    LP_TRY(lp_need_rank(c, U, "updates"));
    int ur = I->rank - 1 + X->rank - (int)k, bad = U->rank != ur;
    for (int j = 0; !bad && j < ur; j++) {
        int64_t want = j < I->rank - 1 ? I->dims[j] : X->dims[k + j - (I->rank - 1)];
        bad = want >= 0 && U->dims[j] >= 0 && want != U->dims[j];
    }
    char ub[160];
    if (bad) return lp_fail(c, LP_ERR_INVALID, "'updates' has shape %s, not indices.shape[:-1] + data.shape[%lld:]",
                            lp_shape_str(c->g, U, ub, sizeof ub), (long long)k);
    int co = nd_coords(c, n->in[0], n->in[1], 0);
    if (co < 0) return c->err->code;
    return scatter_core(c, n->in[0], co, n->in[2], red, n->out[0]);
}

const lp_op_impl lp_impl_ScatterND = {scatter_infer, NULL, snd_lower};

static lp_status se_lower(lp_ctx *c, const lp_node *n) {
    int red = RED_NONE;
    if (n->op == LP_OP_ScatterElements) LP_TRY(reduction_of(c, n, &red));
    int axis;
    LP_TRY(lp_axis(c, lp_attr_i(c, n, "axis", 0), T(n->in[0])->rank, &axis, "axis"));
    int co = element_coords(c, n->in[0], n->in[1], axis);
    if (co < 0) return c->err->code;
    return scatter_core(c, n->in[0], co, n->in[2], red, n->out[0]);
}

const lp_op_impl lp_impl_ScatterElements = {scatter_infer, NULL, se_lower};
const lp_op_impl lp_impl_Scatter = {scatter_infer, NULL, se_lower};

/* ---------------- TensorScatter ---------------- */

/* present[b, ..., p, ...] = update[b, ..., s, ...] with s = p - write_indices[b] (circular: mod
 * max_sequence_length) when 0 <= s < sequence_length, else past[b, ..., p, ...]: one batched
 * GATHER along the sequence axis and a SELECT. */
static lp_status ts_lower(lp_ctx *c, const lp_node *n) {
    lp_tensor *X = T(n->in[0]), *U = T(n->in[1]);
    int r = X->rank;
    int axis;
    LP_TRY(lp_axis(c, lp_attr_i(c, n, "axis", -2), r, &axis, "axis"));
    const char *mode = lp_attr_s(c, n, "mode", "linear");
    if (c->err->code) return c->err->code;
    int circular = strcmp(mode, "circular") == 0;
    if (!circular && strcmp(mode, "linear") != 0) return lp_fail(c, LP_ERR_INVALID, "attribute 'mode'='%s'", mode);
    if (axis == 0) return lp_fail(c, LP_ERR_INVALID, "axis 0 leaves no batch dimension for write_indices");
    int64_t B = X->dims[0], M = X->dims[axis], S = U->rank == r ? U->dims[axis] : -1;
    if (B < 0 || M < 0 || S < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "batch and sequence sizes must be static");
    int64_t *pv = lp_table_alloc(c, M, sizeof(int64_t), "table of positions");
    if (!pv) return c->err->code;
    for (int64_t i = 0; i < M; i++) pv[i] = i;
    int64_t d1m[2] = {1, M}, db1[2] = {B, 1};
    int pos = mv_const_ints(c, LP_DT_I32, 2, d1m, pv, M, "positions");
    int src;
    if (lp_has_in(n, 2)) {
        int w = mv_as(c, n->in[2], LP_DT_I32);
        int wr = w < 0 ? -1 : mv_reshape(c, w, 2, db1);
        src = (pos < 0 || wr < 0) ? -1 : mv_bin(c, LP_TFL_SUB, pos, wr, "source");
        /* [1, M] - [B, 1] -> [B, M] */
    } else {
        int64_t *z = lp_table_alloc(c, B, sizeof(int64_t), "table of zeros");
        if (!z) return c->err->code;
        memset(z, 0, sizeof(int64_t) * (size_t)B);
        int zc = mv_const_ints(c, LP_DT_I32, 2, db1, z, B, "zeros");
        src = (pos < 0 || zc < 0) ? -1 : mv_bin(c, LP_TFL_ADD, zc, pos, "source");
    }
    if (src < 0) return c->err->code;
    if (circular) {
        int mc = mv_iscalar(c, LP_DT_I32, M, "max_len");
        src = mc < 0 ? -1 : mv_bin(c, LP_TFL_FLOOR_MOD, src, mc, "source_mod");
    }
    int zero = mv_iscalar(c, LP_DT_I32, 0, "zero"), smax = mv_iscalar(c, LP_DT_I32, S - 1, "last");
    int sc = mv_iscalar(c, LP_DT_I32, S, "seq_len");
    if (src < 0 || zero < 0 || smax < 0 || sc < 0) return c->err->code;
    int lo = mv_bin(c, LP_TFL_GREATER_EQUAL, src, zero, "lo");
    int hi = mv_bin(c, LP_TFL_LESS, src, sc, "hi");
    int valid = (lo < 0 || hi < 0) ? -1 : mv_bin(c, LP_TFL_LOGICAL_AND, lo, hi, "valid");
    int cl = valid < 0 ? -1 : mv_bin(c, LP_TFL_MINIMUM, src, smax, "clamp_hi");
    cl = cl < 0 ? -1 : mv_bin(c, LP_TFL_MAXIMUM, cl, zero, "clamp");
    if (cl < 0) return c->err->code;
    int64_t gd[LP_MAX_RANK];
    memcpy(gd, U->dims, sizeof gd);
    gd[axis] = M;
    int g = lp_emit_tensor(c, U->dtype, r, gd, "gathered");
    int in[2] = {n->in[1], cl};
    int id = g < 0 ? -1 : lp_emit_op(c, LP_TFL_GATHER, in, 2, &g, 1);
    if (id < 0) return c->err->code;
    lp_emit_params(c, id)->axis = axis;
    lp_emit_params(c, id)->batch_dims = 1;
    int64_t vd[LP_MAX_RANK];
    for (int j = 0; j < r; j++) vd[j] = j == 0 ? B : j == axis ? M : 1;
    int vr = mv_reshape(c, valid, r, vd);
    if (vr < 0) return c->err->code;
    int in2[3] = {vr, g, n->in[0]};
    return lp_emit_op(c, LP_TFL_SELECT_V2, in2, 3, &n->out[0], 1) < 0 ? c->err->code : LP_OK;
}

const lp_op_impl lp_impl_TensorScatter = {scatter_infer, NULL, ts_lower};
