/* Shape and data-movement ops: Constant, Shape, Reshape, Flatten, Transpose, Squeeze, Unsqueeze,
 * Concat, Slice, ConstantOfShape, Range, Expand, Pad, Split.
 * Most of these are shape arithmetic in PyTorch exports: infer propagates symbolic values so that
 * chains like Shape -> Gather -> Unsqueeze -> Concat -> Reshape become constants. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "movement.h"

#define T(id) lp_T(c, (id))

/* copy the payload of input 0 to output 0 (same number of elements and dtype) */
static lp_status eval_copy(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]), *y = T(n->out[0]);
    if (x->nbytes != y->nbytes || x->dtype != y->dtype)
        return lp_fail(c, LP_ERR_INVALID, "input has %zu bytes of %s, the output needs %zu bytes of %s", x->nbytes,
                       lp_dtype_name(x->dtype), y->nbytes, lp_dtype_name(y->dtype));
    memcpy(lp_out_data(c, n, 0), x->data, y->nbytes);
    return LP_OK;
}

/* element counts that must agree (Reshape, Flatten, Squeeze, Unsqueeze) when both are known */
static lp_status same_count(lp_ctx *c, const lp_tensor *x, int rank, const int64_t *dims) {
    lp_tensor y = *x;
    y.rank = rank;
    memcpy(y.dims, dims, sizeof(int64_t) * (size_t)rank);
    int64_t a = lp_tensor_numel(x), b = lp_tensor_numel(&y);
    if (a >= 0 && b >= 0 && a != b)
        return lp_fail(c, LP_ERR_INVALID, "cannot reshape %lld elements into %lld", (long long)a, (long long)b);
    for (int i = 0; i < rank; i++)
        if (dims[i] < 0 && dims[i] < -(int64_t)c->g->n_sym)
            return lp_fail(c, LP_ERR_INVALID, "dimension %d of the result is %lld", i, (long long)dims[i]);
    return LP_OK;
}

/* the output keeps the input's symbolic value when the element count is unchanged */
static lp_status keep_sv(lp_ctx *c, const lp_node *n) {
    lp_symval sv;
    lp_tensor *y = T(n->out[0]);
    if (lp_sv_get(c, n->in[0], &sv) && lp_tensor_numel(y) == sv.n) return lp_sv_set(c, n->out[0], &sv);
    return LP_OK;
}

/* ---------------- Constant ---------------- */

static lp_status constant_infer(lp_ctx *c, const lp_node *n) {
    int y = n->out[0];
    lp_tensor *Y = T(y);
    const lp_attr *a;
    if ((a = lp_node_attr(n, "value")) && a->type == LP_ATTR_TENSOR) {
        lp_tensor *src = T(a->tensor);
        Y->dtype = src->dtype;
        Y->rank = src->rank;
        memcpy(Y->dims, src->dims, sizeof Y->dims);
        Y->data = src->data;
        Y->nbytes = src->nbytes;
        Y->flags |= LP_T_CONST;
        return LP_OK;
    }
    if ((a = lp_node_attr(n, "value_float")) && a->type == LP_ATTR_FLOAT) {
        lp_set_out(c, n, 0, LP_DT_F32, 0, NULL);
        float *p = lp_arena_dup(&c->g->arena, &a->f, 4);
        if (!p) return lp_fail(c, LP_ERR_NOMEM, "out of memory");
        Y->data = p;
        Y->nbytes = 4;
    } else if ((a = lp_node_attr(n, "value_int")) && a->type == LP_ATTR_INT) {
        lp_set_out(c, n, 0, LP_DT_I64, 0, NULL);
        int64_t *p = lp_arena_dup(&c->g->arena, &a->i, 8);
        if (!p) return lp_fail(c, LP_ERR_NOMEM, "out of memory");
        Y->data = p;
        Y->nbytes = 8;
    } else if ((a = lp_node_attr(n, "value_floats")) && a->type == LP_ATTR_FLOATS) {
        int64_t d = a->n;
        lp_set_out(c, n, 0, LP_DT_F32, 1, &d);
        Y->data = lp_arena_dup(&c->g->arena, a->floats, 4 * (size_t)a->n);
        Y->nbytes = 4 * (size_t)a->n;
    } else if ((a = lp_node_attr(n, "value_ints")) && a->type == LP_ATTR_INTS) {
        int64_t d = a->n;
        lp_set_out(c, n, 0, LP_DT_I64, 1, &d);
        Y->data = lp_arena_dup(&c->g->arena, a->ints, 8 * (size_t)a->n);
        Y->nbytes = 8 * (size_t)a->n;
    } else if (lp_node_attr(n, "value_string") || lp_node_attr(n, "value_strings")) {
        return lp_fail(c, LP_ERR_UNSUPPORTED, "string constants have no TFLite counterpart here");
    } else if (lp_node_attr(n, "sparse_value")) {
        return lp_fail(c, LP_ERR_UNSUPPORTED, "attribute 'sparse_value' (sparse tensors) is not supported");
    } else {
        return lp_fail(c, LP_ERR_INVALID, "Constant needs one of the attributes 'value', 'value_float', ...");
    }
    if (!Y->data) return lp_fail(c, LP_ERR_NOMEM, "out of memory");
    Y->flags |= LP_T_CONST | LP_T_OWNED;
    return LP_OK;
}

static lp_status never_lowered(lp_ctx *c, const lp_node *n) {
    (void)n;
    return lp_fail(c, LP_ERR_INTERNAL, "a constant op should have been folded");
}

const lp_op_impl lp_impl_Constant = {constant_infer, NULL, never_lowered};

/* ---------------- Shape ---------------- */

static lp_status shape_range(lp_ctx *c, const lp_node *n, int rank, int *s, int *e) {
    int64_t start = lp_attr_i(c, n, "start", 0), end = lp_attr_i(c, n, "end", rank);
    if (start < 0) start += rank;
    if (end < 0) end += rank;
    if (start < 0) start = 0;
    if (end > rank) end = rank;
    if (start > rank) start = rank;
    if (end < start) end = start;
    *s = (int)start;
    *e = (int)end;
    return c->err->code;
}

static lp_status shape_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    LP_TRY(lp_need_rank(c, x, "input"));
    int s, e;
    LP_TRY(shape_range(c, n, x->rank, &s, &e));
    int64_t len = e - s;
    lp_set_out(c, n, 0, LP_DT_I64, 1, &len);
    lp_symval *sv = lp_sv_new(c, (int)len);
    if (!sv) return LP_OK;
    for (int i = s; i < e; i++) {
        if (x->dims[i] >= 0) sv->v[i - s] = x->dims[i];
        else sv->sym[i - s] = (int32_t)-x->dims[i];
    }
    T(n->out[0])->sv = sv;
    return LP_OK;
}

static lp_status shape_lower(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    int s, e;
    LP_TRY(shape_range(c, n, x->rank, &s, &e));
    /* SHAPE in int32 (the type shape arithmetic runs in, see lower_in_int32), cast to ONNX's
     * int64 for readers that need it */
    int y = n->out[0];
    int full = (s == 0 && e == x->rank);
    int64_t rank = x->rank, len = e - s;
    int sh = lp_emit_tensor(c, LP_DT_I32, 1, &rank, "shape");
    int id = sh < 0 ? -1 : lp_emit_op(c, LP_TFL_SHAPE, &n->in[0], 1, &sh, 1);
    if (id < 0) return c->err->code;
    lp_emit_params(c, id)->out_type = LP_DT_I32;
    int y32 = sh;
    if (!full) {
        int32_t b = s, sz = e - s;
        int bi = lp_emit_i32(c, &b, 1, "begin"), si = lp_emit_i32(c, &sz, 1, "size");
        y32 = lp_emit_tensor(c, LP_DT_I32, 1, &len, "shape");
        int in[3] = {sh, bi, si};
        if (bi < 0 || si < 0 || y32 < 0 || lp_emit_op(c, LP_TFL_SLICE, in, 3, &y32, 1) < 0) return c->err->code;
    }
    c->g->t[y32].sv = c->g->t[y].sv;
    if (y < c->n_i32_of) c->i32_of[y] = y32;
    return lp_emit_cast(c, y32, LP_DT_I64, y) < 0 ? c->err->code : LP_OK;
}

const lp_op_impl lp_impl_Shape = {shape_infer, NULL, shape_lower};

/* ---------------- Reshape ---------------- */

/* Resolve a target shape against the input's element count, symbolically. target[i] uses the dims
 * encoding (>= 0 known, < 0 symbol) except at `minus` (the -1 entry, or -1 when there is none). */
static lp_status resolve_minus_one(lp_ctx *c, const lp_tensor *x, int64_t *target, int rank, int minus) {
    if (minus < 0) return LP_OK;
    int64_t p_in = 1, p_out = 1;
    int64_t syms_in[LP_MAX_RANK];
    int n_in = 0;
    for (int i = 0; i < x->rank; i++) {
        if (x->dims[i] >= 0) p_in *= x->dims[i];
        else syms_in[n_in++] = x->dims[i];
    }
    int extra_out = 0;
    for (int i = 0; i < rank; i++) {
        if (i == minus) continue;
        if (target[i] >= 0) {
            /* entries come from the model: a product past the limits cannot match any input */
            if (!lp_mul_i64(p_out, target[i], &p_out) || p_out > LP_MAX_ELEMENTS)
                return lp_fail(c, LP_ERR_INVALID, "the target shape has more than 2^40 elements");
            continue;
        }
        int k;
        for (k = 0; k < n_in; k++)
            if (syms_in[k] == target[i]) break;
        if (k < n_in) syms_in[k] = syms_in[--n_in]; /* cancel a matching symbol */
        else extra_out = 1;
    }
    if (!extra_out && n_in == 0) {
        if (p_out == 0 || p_in % p_out) {
            char a[200], b[200] = "[";
            lp_shape_str(c->g, x, a, sizeof a);
            for (int i = 0; i < rank; i++) /* all known here, but for the -1 */
                snprintf(b + strlen(b), sizeof b - strlen(b), "%s%lld", i ? "," : "",
                         (long long)(i == minus ? -1 : target[i]));
            snprintf(b + strlen(b), sizeof b - strlen(b), "]");
            return lp_fail(c, LP_ERR_INVALID, "cannot reshape %s (%lld elements) into %s", a, (long long)p_in, b);
        }
        target[minus] = p_in / p_out;
    } else if (!extra_out && n_in == 1 && p_in == p_out) {
        target[minus] = syms_in[0];
    } else {
        target[minus] = lp_graph_new_sym(c->g, NULL);
    }
    return LP_OK;
}

static lp_status reshape_target(lp_ctx *c, const lp_node *n, int *rank, int64_t *dims) {
    lp_tensor *x = T(n->in[0]);
    lp_symval sv;
    if (lp_has_in(n, 1) && T(n->in[1])->dtype != LP_DT_I64)
        return lp_fail(c, LP_ERR_INVALID, "input 'shape' must be int64, not %s", lp_dtype_name(T(n->in[1])->dtype));
    if (lp_has_in(n, 1)) {
        if (!lp_sv_get(c, n->in[1], &sv)) {
            lp_tensor *s = T(n->in[1]);
            if (s->rank == 1 && s->dims[0] >= 0 && s->dims[0] <= LP_MAX_RANK) {
                /* rank known, values unknown: a runtime shape */
                *rank = (int)s->dims[0];
                for (int i = 0; i < *rank; i++) dims[i] = lp_graph_new_sym(c->g, NULL);
                mv_merge_declared(c, n, 0, *rank, dims);
                return LP_OK;
            }
            return lp_fail(c, LP_ERR_UNSUPPORTED, "the target shape ('%s') is not known at conversion time", s->name);
        }
    } else {
        int64_t v[LP_MAX_RANK];
        int k = lp_attr_ints(c, n, "shape", v, LP_MAX_RANK);
        if (k < 0) return lp_fail(c, LP_ERR_INVALID, "Reshape needs a shape input or attribute");
        memset(&sv, 0, sizeof sv);
        sv.n = k;
        memcpy(sv.v, v, sizeof(int64_t) * (size_t)k);
    }
    if (sv.n > LP_MAX_RANK) return lp_fail(c, LP_ERR_LIMIT, "target rank %d is too large", sv.n);
    int allowzero = (int)lp_attr_i(c, n, "allowzero", 0);
    int minus = -1;
    for (int i = 0; i < sv.n; i++) {
        if (sv.sym[i]) {
            dims[i] = -(int64_t)sv.sym[i];
        } else if (sv.v[i] == 0 && !allowzero) {
            if (i >= x->rank) return lp_fail(c, LP_ERR_INVALID, "shape entry %d is 0 but the input has rank %d", i, x->rank);
            dims[i] = x->dims[i];
        } else if (sv.v[i] == -1) {
            if (minus >= 0) return lp_fail(c, LP_ERR_INVALID, "the target shape has more than one -1");
            minus = i;
        } else if (sv.v[i] < -1) {
            return lp_fail(c, LP_ERR_INVALID, "shape entry %d is %lld", i, (long long)sv.v[i]);
        } else {
            dims[i] = sv.v[i];
        }
    }
    *rank = sv.n;
    return resolve_minus_one(c, x, dims, sv.n, minus);
}

static lp_status reshape_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    LP_TRY(lp_need_rank(c, x, "input"));
    int rank = 0;
    int64_t dims[LP_MAX_RANK];
    LP_TRY(reshape_target(c, n, &rank, dims));
    LP_TRY(same_count(c, x, rank, dims));
    lp_set_out(c, n, 0, x->dtype, rank, dims);
    return keep_sv(c, n);
}

static lp_status reshape_lower(lp_ctx *c, const lp_node *n) {
    lp_tensor *y = T(n->out[0]);
    int ndyn = 0;
    for (int i = 0; i < y->rank; i++) ndyn += y->dims[i] < 0;
    /* several dynamic dims: read from the tensors that carry them (int32 shape arithmetic); a
     * target that is not known symbolically is the Reshape's own shape input, cast */
    int via_dims = !(lp_has_in(n, 1) && n->op == LP_OP_Reshape) ||
                   lp_dims_computable(c, y->rank, y->dims, n->in[0], 1);
    if (ndyn <= 1 || via_dims)
        return lp_emit_reshape(c, n->in[0], y->rank, y->dims, n->out[0]) < 0 ? c->err->code : LP_OK;
    int s = mv_as(c, n->in[1], LP_DT_I32);
    if (s < 0) return c->err->code;
    lp_tensor *x = T(n->in[0]);
    if (!lp_attr_i(c, n, "allowzero", 0) && !lp_tensor_is_const(c->g, n->in[1]) && T(s)->rank == 1 &&
        T(s)->dims[0] >= 0 && T(s)->dims[0] <= x->rank) {
        /* ONNX: a 0 entry copies the input's dimension; TFLite's RESHAPE would take it literally */
        int64_t r = x->rank, L = T(s)->dims[0];
        int sh = lp_emit_tensor(c, LP_DT_I32, 1, &r, "in_shape");
        int id = sh < 0 ? -1 : lp_emit_op(c, LP_TFL_SHAPE, &n->in[0], 1, &sh, 1);
        if (id < 0) return c->err->code;
        lp_emit_params(c, id)->out_type = LP_DT_I32;
        int64_t b0 = 0;
        int bi = mv_i32v(c, &b0, 1, "begin"), si = mv_i32v(c, &L, 1, "size");
        int head = lp_emit_tensor(c, LP_DT_I32, 1, &L, "in_head");
        int in3[3] = {sh, bi, si};
        if (bi < 0 || si < 0 || head < 0 || lp_emit_op(c, LP_TFL_SLICE, in3, 3, &head, 1) < 0) return c->err->code;
        int zero = mv_iscalar(c, LP_DT_I32, 0, "zero");
        int isz = zero < 0 ? -1 : mv_bin(c, LP_TFL_EQUAL, s, zero, "is_zero");
        s = isz < 0 ? -1 : mv_select(c, isz, head, s, "shape");
        if (s < 0) return c->err->code;
    }
    int in[2] = {n->in[0], s};
    return lp_emit_op(c, LP_TFL_RESHAPE, in, 2, &n->out[0], 1) < 0 ? c->err->code : LP_OK;
}

const lp_op_impl lp_impl_Reshape = {reshape_infer, eval_copy, reshape_lower};

/* ---------------- Flatten ---------------- */

/* product of dims[a..b) symbolically: a known number, a single symbol, or a fresh symbol */
static int64_t dim_product(lp_ctx *c, const int64_t *dims, int a, int b) {
    int64_t p = 1, sym = 0;
    int nsym = 0;
    for (int i = a; i < b; i++) {
        if (dims[i] >= 0) p *= dims[i];
        else {
            sym = dims[i];
            nsym++;
        }
    }
    if (nsym == 0) return p;
    if (nsym == 1 && p == 1) return sym;
    return lp_graph_new_sym(c->g, NULL);
}

static lp_status flatten_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    LP_TRY(lp_need_rank(c, x, "input"));
    int axis;
    int64_t a = lp_attr_i(c, n, "axis", 1);
    if (a == x->rank) axis = x->rank;
    else LP_TRY(lp_axis(c, a, x->rank, &axis, "axis"));
    int64_t dims[2] = {dim_product(c, x->dims, 0, axis), dim_product(c, x->dims, axis, x->rank)};
    lp_set_out(c, n, 0, x->dtype, 2, dims);
    return LP_OK;
}

const lp_op_impl lp_impl_Flatten = {flatten_infer, eval_copy, reshape_lower};

/* ---------------- Transpose ---------------- */

static lp_status transpose_perm(lp_ctx *c, const lp_node *n, int rank, int *perm) {
    int64_t p[LP_MAX_RANK];
    int k = lp_attr_ints(c, n, "perm", p, LP_MAX_RANK);
    if (c->err->code) return c->err->code;
    if (k < 0) {
        for (int i = 0; i < rank; i++) perm[i] = rank - 1 - i;
        return LP_OK;
    }
    if (k != rank) return lp_fail(c, LP_ERR_INVALID, "attribute 'perm' has %d entries for rank %d", k, rank);
    int seen[LP_MAX_RANK] = {0};
    for (int i = 0; i < k; i++) {
        int ax;
        LP_TRY(lp_axis(c, p[i], rank, &ax, "attribute 'perm' entry"));
        if (seen[ax]++) return lp_fail(c, LP_ERR_INVALID, "attribute 'perm' repeats axis %d", ax);
        perm[i] = ax;
    }
    return LP_OK;
}

static lp_status transpose_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    LP_TRY(lp_need_rank(c, x, "input"));
    int perm[LP_MAX_RANK];
    LP_TRY(transpose_perm(c, n, x->rank, perm));
    int64_t dims[LP_MAX_RANK];
    for (int i = 0; i < x->rank; i++) dims[i] = x->dims[perm[i]];
    lp_set_out(c, n, 0, x->dtype, x->rank, dims);
    return LP_OK;
}

static lp_status transpose_eval(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    int perm[LP_MAX_RANK];
    LP_TRY(transpose_perm(c, n, x->rank, perm));
    int64_t dims[LP_MAX_RANK];
    void *p = lp_permute_data(c, x, perm, dims);
    if (!p) return c->err->code;
    memcpy(lp_out_data(c, n, 0), p, T(n->out[0])->nbytes);
    return LP_OK;
}

static lp_status transpose_lower(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    int perm[LP_MAX_RANK];
    LP_TRY(transpose_perm(c, n, x->rank, perm));
    return lp_emit_transpose(c, n->in[0], perm, n->out[0]) < 0 ? c->err->code : LP_OK;
}

const lp_op_impl lp_impl_Transpose = {transpose_infer, transpose_eval, transpose_lower};

/* ---------------- Squeeze / Unsqueeze ---------------- */

/* axes from the attribute (opset < 13) or input 1; returns count or -1 when absent */
static int axes_of(lp_ctx *c, const lp_node *n, int64_t *axes, int max) {
    if (lp_has_in(n, 1)) {
        int k = lp_known_ints(c, n, 1, axes, max);
        return k < 0 ? -2 : k;
    }
    return lp_attr_ints(c, n, "axes", axes, max);
}

/* axes only known at runtime: the output shape is the one the model declares (the op itself is a
 * reshape, so no runtime value is needed once the shape is known) */
static lp_status runtime_axes_shape(lp_ctx *c, const lp_node *n) {
    int64_t dims[LP_MAX_RANK];
    int r = mv_declared(c, n, 0, dims);
    lp_tensor *x = T(n->in[0]);
    if (r < 0)
        return lp_fail(c, LP_ERR_UNSUPPORTED, "input 'axes' must be a constant (or the output shape declared)");
    lp_tensor *a = T(n->in[1]);
    int64_t na = a->rank == 1 ? a->dims[0] : -1;
    if (na >= 0 && r != x->rank + (n->op == LP_OP_Unsqueeze ? na : -na))
        return lp_fail(c, LP_ERR_INVALID, "the declared output rank %d does not fit %lld axes", r, (long long)na);
    lp_set_out(c, n, 0, x->dtype, r, dims);
    return LP_OK;
}

static lp_status squeeze_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    LP_TRY(lp_need_rank(c, x, "input"));
    int64_t axes[LP_MAX_RANK];
    int k = axes_of(c, n, axes, LP_MAX_RANK);
    if (c->err->code) return c->err->code;
    if (k == -2) return runtime_axes_shape(c, n);
    int drop[LP_MAX_RANK] = {0};
    if (k < 0) {
        for (int i = 0; i < x->rank; i++) {
            if (x->dims[i] < 0)
                return lp_fail(c, LP_ERR_UNSUPPORTED, "Squeeze without axes on an input with dynamic dimension %d", i);
            drop[i] = x->dims[i] == 1;
        }
    } else {
        for (int i = 0; i < k; i++) {
            int a;
            LP_TRY(lp_axis(c, axes[i], x->rank, &a, "axis"));
            if (x->dims[a] >= 0 && x->dims[a] != 1)
                return lp_fail(c, LP_ERR_INVALID, "cannot squeeze axis %d of size %lld", a, (long long)x->dims[a]);
            drop[a] = 1;
        }
    }
    int64_t dims[LP_MAX_RANK];
    int r = 0;
    for (int i = 0; i < x->rank; i++)
        if (!drop[i]) dims[r++] = x->dims[i];
    lp_set_out(c, n, 0, x->dtype, r, dims);
    return keep_sv(c, n);
}

static lp_status unsqueeze_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    LP_TRY(lp_need_rank(c, x, "input"));
    int64_t axes[LP_MAX_RANK];
    int k = axes_of(c, n, axes, LP_MAX_RANK);
    if (c->err->code) return c->err->code;
    if (k == -2) return runtime_axes_shape(c, n);
    if (k < 0) return lp_fail(c, LP_ERR_INVALID, "Unsqueeze needs axes");
    int r = x->rank + k;
    if (r > LP_MAX_RANK) return lp_fail(c, LP_ERR_LIMIT, "output rank %d is too large", r);
    int ins[LP_MAX_RANK] = {0};
    for (int i = 0; i < k; i++) {
        int a;
        LP_TRY(lp_axis(c, axes[i], r, &a, "axis"));
        if (ins[a]++) return lp_fail(c, LP_ERR_INVALID, "axis %d is repeated", a);
    }
    int64_t dims[LP_MAX_RANK];
    int j = 0;
    for (int i = 0; i < r; i++) dims[i] = ins[i] ? 1 : x->dims[j++];
    lp_set_out(c, n, 0, x->dtype, r, dims);
    return keep_sv(c, n);
}

/* With several dynamic dims a RESHAPE needs its shape computed at run time; SQUEEZE and
 * EXPAND_DIMS (one per new axis, in increasing order) take the sizes from their input instead. */
static lp_status squeeze_lower(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]), *y = T(n->out[0]);
    int ndyn = 0;
    for (int i = 0; i < y->rank; i++) ndyn += y->dims[i] < 0;
    int64_t axes[LP_MAX_RANK];
    int k = ndyn > 1 ? axes_of(c, n, axes, LP_MAX_RANK) : -1;
    if (c->err->code) return c->err->code;
    if (k <= 0) return reshape_lower(c, n);
    int r = n->op == LP_OP_Unsqueeze ? y->rank : x->rank, mark[LP_MAX_RANK] = {0};
    for (int i = 0; i < k; i++) {
        int a;
        LP_TRY(lp_axis(c, axes[i], r, &a, "axis"));
        mark[a] = 1;
    }
    if (n->op == LP_OP_Squeeze) {
        int id = lp_emit_op(c, LP_TFL_SQUEEZE, &n->in[0], 1, &n->out[0], 1);
        if (id < 0) return c->err->code;
        lp_tfl_params *p = lp_emit_params(c, id);
        p->n_squeeze = 0;
        for (int a = 0; a < r; a++)
            if (mark[a]) p->squeeze_dims[p->n_squeeze++] = a;
        return LP_OK;
    }
    /* after inserting the axes below a, the next one goes to its final position a */
    int cur = n->in[0], left = k;
    int64_t dims[LP_MAX_RANK];
    int cr = x->rank;
    memcpy(dims, x->dims, sizeof(int64_t) * (size_t)cr);
    for (int a = 0; a < r; a++) {
        if (!mark[a]) continue;
        memmove(dims + a + 1, dims + a, sizeof(int64_t) * (size_t)(cr - a));
        dims[a] = 1;
        cr++;
        int32_t a32 = a;
        int ai = lp_emit_const(c, LP_DT_I32, 0, NULL, &a32, "axis");
        int out = --left == 0 ? n->out[0] : lp_emit_tensor(c, x->dtype, cr, dims, "expanded");
        int in[2] = {cur, ai};
        if (ai < 0 || out < 0 || lp_emit_op(c, LP_TFL_EXPAND_DIMS, in, 2, &out, 1) < 0) return c->err->code;
        cur = out;
    }
    return LP_OK;
}

const lp_op_impl lp_impl_Squeeze = {squeeze_infer, eval_copy, squeeze_lower};
const lp_op_impl lp_impl_Unsqueeze = {unsqueeze_infer, eval_copy, squeeze_lower};

/* ---------------- Concat ---------------- */

static lp_status concat_axis(lp_ctx *c, const lp_node *n, int rank, int *axis) {
    const lp_attr *a = lp_node_attr(n, "axis");
    if (!a) return lp_fail(c, LP_ERR_INVALID, "attribute 'axis' is required");
    return lp_axis(c, lp_attr_i(c, n, "axis", 0), rank, axis, "axis");
}

static lp_status concat_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x0 = NULL;
    for (int i = 0; i < n->n_in; i++)
        if (lp_has_in(n, i)) {
            x0 = T(n->in[i]);
            break;
        }
    if (!x0) return lp_fail(c, LP_ERR_INVALID, "Concat has no inputs");
    LP_TRY(lp_need_rank(c, x0, "input"));
    int axis;
    LP_TRY(concat_axis(c, n, x0->rank, &axis));
    int64_t dims[LP_MAX_RANK];
    memcpy(dims, x0->dims, sizeof dims);
    int64_t total = 0;
    int dyn = 0;
    for (int i = 0; i < n->n_in; i++) {
        if (!lp_has_in(n, i)) continue;
        lp_tensor *x = T(n->in[i]);
        if (x->rank != x0->rank)
            return lp_fail(c, LP_ERR_INVALID, "input %d has rank %d, input 0 has rank %d", i, x->rank, x0->rank);
        if (x->dtype != x0->dtype)
            return lp_fail(c, LP_ERR_INVALID, "input %d is %s, input 0 is %s", i, lp_dtype_name(x->dtype),
                           lp_dtype_name(x0->dtype));
        for (int d = 0; d < x->rank; d++) {
            if (d == axis) continue;
            if (dims[d] >= 0 && x->dims[d] >= 0 && dims[d] != x->dims[d])
                return lp_fail(c, LP_ERR_INVALID, "input %d has %lld along dimension %d, input 0 has %lld", i,
                               (long long)x->dims[d], d, (long long)dims[d]);
            if (dims[d] < 0 && x->dims[d] >= 0) dims[d] = x->dims[d];
        }
        if (x->dims[axis] > LP_MAX_ELEMENTS || total > LP_MAX_ELEMENTS)
            return lp_fail(c, LP_ERR_LIMIT, "the concatenated axis is too long");
        if (x->dims[axis] < 0) dyn = 1;
        else total += x->dims[axis];
    }
    dims[axis] = dyn ? lp_graph_new_sym(c->g, NULL) : total;
    lp_set_out(c, n, 0, x0->dtype, x0->rank, dims);
    /* symbolic value of a 1-D concatenation (shape arithmetic) */
    if (x0->rank == 1) {
        lp_symval out = {0}, sv;
        for (int i = 0; i < n->n_in; i++) {
            if (!lp_has_in(n, i)) continue;
            if (!lp_sv_get(c, n->in[i], &sv) || out.n + sv.n > LP_MAX_SV) return LP_OK;
            memcpy(out.v + out.n, sv.v, sizeof(int64_t) * (size_t)sv.n);
            memcpy(out.sym + out.n, sv.sym, sizeof(int32_t) * (size_t)sv.n);
            out.n += sv.n;
        }
        return lp_sv_set(c, n->out[0], &out);
    }
    return LP_OK;
}

static lp_status concat_eval(lp_ctx *c, const lp_node *n) {
    lp_tensor *y = T(n->out[0]);
    int axis;
    LP_TRY(concat_axis(c, n, y->rank, &axis));
    size_t es = lp_dtype_size(y->dtype);
    int64_t outer = 1;
    for (int d = 0; d < axis; d++) outer *= y->dims[d];
    int64_t inner_y = (int64_t)(y->nbytes / es) / (outer ? outer : 1);
    uint8_t *dst = lp_out_data(c, n, 0);
    int64_t off = 0;
    for (int i = 0; i < n->n_in; i++) {
        if (!lp_has_in(n, i)) continue;
        lp_tensor *x = T(n->in[i]);
        int64_t inner_x = lp_tensor_numel(x) / (outer ? outer : 1);
        for (int64_t o = 0; o < outer; o++)
            memcpy(dst + ((size_t)(o * inner_y + off)) * es, (const uint8_t *)x->data + (size_t)(o * inner_x) * es,
                   (size_t)inner_x * es);
        off += inner_x;
    }
    return LP_OK;
}

static lp_status concat_lower(lp_ctx *c, const lp_node *n) {
    lp_tensor *y = T(n->out[0]);
    int axis;
    LP_TRY(concat_axis(c, n, y->rank, &axis));
    int ins[256], k = 0;
    for (int i = 0; i < n->n_in; i++) {
        /* empty inputs (a zero-size axis) contribute nothing */
        if (!lp_has_in(n, i) || T(n->in[i])->dims[axis] == 0) continue;
        if (k == 256) return lp_fail(c, LP_ERR_LIMIT, "more than 256 inputs");
        ins[k++] = n->in[i];
    }
    if (k == 1) return lp_emit_identity(c, ins[0], n->out[0]) < 0 ? c->err->code : LP_OK;
    int id = lp_emit_op(c, LP_TFL_CONCATENATION, ins, k, &n->out[0], 1);
    if (id < 0) return c->err->code;
    lp_emit_params(c, id)->axis = axis;
    return LP_OK;
}

const lp_op_impl lp_impl_Concat = {concat_infer, concat_eval, concat_lower};

/* ---------------- Slice ---------------- */

typedef struct slice_spec {
    int rank;
    int64_t start[LP_MAX_RANK], end[LP_MAX_RANK], step[LP_MAX_RANK]; /* clamped, per axis */
    int sliced[LP_MAX_RANK];
    int to_begin[LP_MAX_RANK]; /* negative step running past index 0 */
    int to_end[LP_MAX_RANK];   /* end beyond a dynamic dim */
    int runtime;               /* starts, ends, axes or steps are runtime inputs */
} slice_spec;

static lp_status slice_spec_get(lp_ctx *c, const lp_node *n, slice_spec *s) {
    lp_tensor *x = T(n->in[0]);
    LP_TRY(lp_need_rank(c, x, "data"));
    int64_t starts[LP_MAX_RANK], ends[LP_MAX_RANK], axes[LP_MAX_RANK], steps[LP_MAX_RANK];
    int ns, ne, na = -1, nst = -1;
    if (n->opset < 10 && !lp_has_in(n, 1)) {
        ns = lp_attr_ints(c, n, "starts", starts, LP_MAX_RANK);
        ne = lp_attr_ints(c, n, "ends", ends, LP_MAX_RANK);
        na = lp_attr_ints(c, n, "axes", axes, LP_MAX_RANK);
    } else {
        if (!lp_has_in(n, 1) || !lp_has_in(n, 2)) return lp_fail(c, LP_ERR_INVALID, "inputs 'starts' and 'ends' are required");
        ns = lp_known_ints(c, n, 1, starts, LP_MAX_RANK);
        ne = lp_known_ints(c, n, 2, ends, LP_MAX_RANK);
        if (lp_has_in(n, 3)) na = lp_known_ints(c, n, 3, axes, LP_MAX_RANK);
        if (lp_has_in(n, 4)) nst = lp_known_ints(c, n, 4, steps, LP_MAX_RANK);
        if (ns < 0 || ne < 0 || (lp_has_in(n, 3) && na < 0) || (lp_has_in(n, 4) && nst < 0)) {
            s->runtime = 1; /* see slice_runtime_lower */
            s->rank = x->rank;
            return LP_OK;
        }
    }
    s->runtime = 0;
    if (c->err->code) return c->err->code;
    if (ns < 0 || ne < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "starts and ends must be constants");
    if (ns != ne || (na >= 0 && na != ns) || (nst >= 0 && nst != ns))
        return lp_fail(c, LP_ERR_INVALID, "starts, ends, axes and steps must have the same length");
    s->rank = x->rank;
    for (int d = 0; d < x->rank; d++) {
        s->sliced[d] = 0;
        s->to_begin[d] = s->to_end[d] = 0;
        s->start[d] = 0;
        s->end[d] = x->dims[d];
        s->step[d] = 1;
    }
    for (int i = 0; i < ns; i++) {
        int a;
        LP_TRY(lp_axis(c, na >= 0 ? axes[i] : i, x->rank, &a, "axis"));
        if (s->sliced[a]) return lp_fail(c, LP_ERR_INVALID, "axis %d is repeated", a);
        int64_t st = nst >= 0 ? steps[i] : 1;
        if (st == 0) return lp_fail(c, LP_ERR_INVALID, "step 0");
        int64_t d = x->dims[a], b = starts[i], e = ends[i];
        s->sliced[a] = 1;
        s->step[a] = st;
        if (d < 0) {
            /* dynamic dim: only what TFLite can do with masks and negative indices */
            if (st != 1) return lp_fail(c, LP_ERR_UNSUPPORTED, "a step other than 1 on dynamic axis %d", a);
            if (b < INT32_MIN || b > INT32_MAX) return lp_fail(c, LP_ERR_UNSUPPORTED, "start on dynamic axis %d", a);
            s->start[a] = b;
            if (e >= INT32_MAX) s->to_end[a] = 1;
            else if (e < INT32_MIN) return lp_fail(c, LP_ERR_UNSUPPORTED, "end on dynamic axis %d", a);
            s->end[a] = e;
            continue;
        }
        if (b < 0) b += d;
        if (e < 0) e += d;
        if (st > 0) {
            b = b < 0 ? 0 : b > d ? d : b;
            e = e < 0 ? 0 : e > d ? d : e;
        } else {
            b = b < 0 ? -1 : b > d - 1 ? d - 1 : b;
            e = e < -1 ? -1 : e > d - 1 ? d - 1 : e;
            if (e == -1) s->to_begin[a] = 1;
        }
        s->start[a] = b;
        s->end[a] = e;
    }
    return LP_OK;
}

/* b and e are clamped into [-1, dim], so only the step can be extreme (INT64_MIN included) */
static int64_t slice_len(int64_t b, int64_t e, int64_t st) {
    if (st > 0) return e > b ? (e - b - 1) / st + 1 : 0;
    if (b <= e) return 0;
    return st == INT64_MIN ? 1 : (b - e - 1) / -st + 1;
}

static lp_status slice_infer(lp_ctx *c, const lp_node *n) {
    slice_spec s;
    LP_TRY(slice_spec_get(c, n, &s));
    lp_tensor *x = T(n->in[0]);
    int64_t dims[LP_MAX_RANK];
    if (s.runtime) {
        /* axes known: the other axes keep their sizes */
        int64_t axes[LP_MAX_RANK];
        int na = lp_has_in(n, 3) ? lp_known_ints(c, n, 3, axes, LP_MAX_RANK) : -1;
        lp_tensor *st = T(n->in[1]);
        int k = st->rank == 1 && st->dims[0] >= 0 && st->dims[0] <= s.rank ? (int)st->dims[0] : -1;
        int sliced[LP_MAX_RANK] = {0}, known = k >= 0 && (!lp_has_in(n, 3) || na == k);
        for (int i = 0; known && i < k; i++) {
            int64_t a = na >= 0 ? axes[i] : i;
            if (a < -s.rank || a >= s.rank) known = 0;
            else sliced[a < 0 ? a + s.rank : a] = 1;
        }
        for (int d = 0; d < s.rank; d++) dims[d] = known && !sliced[d] ? x->dims[d] : lp_graph_new_sym(c->g, NULL);
        mv_merge_declared(c, n, 0, s.rank, dims);
        lp_set_out(c, n, 0, x->dtype, s.rank, dims);
        return LP_OK;
    }
    for (int d = 0; d < s.rank; d++) {
        if (!s.sliced[d]) dims[d] = x->dims[d];
        else if (x->dims[d] < 0) dims[d] = (s.start[d] == 0 && s.to_end[d]) ? x->dims[d] : lp_graph_new_sym(c->g, NULL);
        else dims[d] = slice_len(s.start[d], s.end[d], s.step[d]);
    }
    lp_set_out(c, n, 0, x->dtype, s.rank, dims);
    lp_symval sv;
    if (s.rank == 1 && x->dims[0] >= 0 && lp_sv_get(c, n->in[0], &sv)) {
        lp_symval out = {0};
        out.n = (int)dims[0];
        for (int i = 0; i < out.n; i++) {
            int64_t j = s.start[0] + i * s.step[0];
            out.v[i] = sv.v[j];
            out.sym[i] = sv.sym[j];
        }
        return lp_sv_set(c, n->out[0], &out);
    }
    return LP_OK;
}

static lp_status slice_eval(lp_ctx *c, const lp_node *n) {
    slice_spec s;
    LP_TRY(slice_spec_get(c, n, &s));
    lp_tensor *x = T(n->in[0]), *y = T(n->out[0]);
    size_t es = lp_dtype_size(x->dtype);
    int64_t xs[LP_MAX_RANK], idx[LP_MAX_RANK] = {0};
    lp_strides(x->rank, x->dims, xs);
    int64_t total = lp_tensor_numel(y);
    uint8_t *dst = lp_out_data(c, n, 0);
    for (int64_t o = 0; o < total; o++) {
        int64_t off = 0;
        for (int d = 0; d < y->rank; d++) off += (s.start[d] + idx[d] * s.step[d]) * xs[d];
        memcpy(dst + (size_t)o * es, (const uint8_t *)x->data + (size_t)off * es, es);
        for (int d = y->rank - 1; d >= 0; d--) {
            if (++idx[d] < y->dims[d]) break;
            idx[d] = 0;
        }
    }
    return LP_OK;
}

/* input k as int32, int64 values clamped into int32's range first (ONNX writes INT64_MAX for
 * "to the end"; STRIDED_SLICE clamps in-range values exactly as ONNX does) */
static int slice_i32(lp_ctx *c, int t) {
    if (T(t)->dtype == LP_DT_I32) return t;
    if (T(t)->dtype == LP_DT_I64 && t < c->n_i32_of && c->i32_of[t] >= 0) return c->i32_of[t]; /* a shape value */
    lp_tensor *K = T(t);
    int64_t cnt = lp_tensor_numel(K);
    if (lp_tensor_is_const(c->g, t) && lp_dtype_is_int(K->dtype) && cnt >= 0 && cnt <= LP_MAX_RANK && K->rank <= 1) {
        /* constant bounds (a literal 0 or INT64_MAX beside a run-time one) clamp now */
        int64_t v[LP_MAX_RANK];
        for (int64_t i = 0; i < cnt; i++) {
            v[i] = lp_get_i64(K->dtype, K->data, i);
            v[i] = v[i] < INT32_MIN ? INT32_MIN : v[i] > INT32_MAX ? INT32_MAX : v[i];
        }
        int64_t d = cnt;
        return mv_const_ints(c, LP_DT_I32, K->rank, &d, v, cnt, "bound");
    }
    if (T(t)->dtype == LP_DT_I64) {
        int lo = mv_iscalar(c, LP_DT_I64, INT32_MIN, "i32_min"), hi = mv_iscalar(c, LP_DT_I64, INT32_MAX, "i32_max");
        int a = (lo < 0 || hi < 0) ? -1 : mv_bin(c, LP_TFL_MAXIMUM, t, lo, "clamp_lo");
        t = a < 0 ? -1 : mv_bin(c, LP_TFL_MINIMUM, a, hi, "clamp_hi");
        if (t < 0) return -1;
    }
    return mv_as(c, t, LP_DT_I32);
}

/* Runtime starts/ends with constant axes and steps: full-rank begin and end vectors gather the
 * given values into place (GATHER of CONCAT(values, 0)); unsliced axes are masked. */
static lp_status slice_runtime_const_axes(lp_ctx *c, const lp_node *n, int64_t k) {
    lp_tensor *x = T(n->in[0]);
    int r = x->rank;
    int64_t axes[LP_MAX_RANK], steps[LP_MAX_RANK];
    int na = lp_has_in(n, 3) ? lp_known_ints(c, n, 3, axes, LP_MAX_RANK) : -1;
    int ns = lp_has_in(n, 4) ? lp_known_ints(c, n, 4, steps, LP_MAX_RANK) : -1;
    if ((na >= 0 && na != k) || (ns >= 0 && ns != k) || k > r)
        return lp_fail(c, LP_ERR_INVALID, "starts, ends, axes and steps must have the same length");
    int64_t pick[LP_MAX_RANK], strides[LP_MAX_RANK];
    int mask = 0;
    for (int d = 0; d < r; d++) {
        pick[d] = k; /* the appended 0 */
        strides[d] = 1;
        mask |= 1 << d;
    }
    for (int i = 0; i < k; i++) {
        int a;
        LP_TRY(lp_axis(c, na >= 0 ? axes[i] : i, r, &a, "axis"));
        if (!(mask & (1 << a))) return lp_fail(c, LP_ERR_INVALID, "axis %d is repeated", a);
        if (ns >= 0 && (steps[i] == 0 || steps[i] < INT32_MIN || steps[i] > INT32_MAX))
            return lp_fail(c, LP_ERR_INVALID, "step %lld", (long long)steps[i]);
        mask &= ~(1 << a);
        pick[a] = i;
        strides[a] = ns >= 0 ? steps[i] : 1;
    }
    int vec[2];
    for (int j = 0; j < 2; j++) {
        int v = slice_i32(c, n->in[1 + j]);
        if (v >= 0 && lp_tensor_is_const(c->g, v) && lp_tensor_numel(T(v)) == k) {
            /* the constant one of the two (starts 0 beside run-time ends): placed now */
            int64_t full[LP_MAX_RANK];
            for (int d = 0; d < r; d++) full[d] = pick[d] == k ? 0 : lp_get_i64(T(v)->dtype, T(v)->data, pick[d]);
            vec[j] = mv_i32v(c, full, r, j ? "end" : "begin");
            if (vec[j] < 0) return c->err->code;
            continue;
        }
        int64_t one = 1, zero = 0;
        if (v >= 0 && T(v)->rank != 1) v = mv_reshape(c, v, 1, &k);
        int z = mv_const_ints(c, LP_DT_I32, 1, &one, &zero, 1, "zero");
        int64_t len = k + 1, r64 = r;
        int pool = lp_emit_tensor(c, LP_DT_I32, 1, &len, "pool");
        int parts[2] = {v, z};
        int id = (v < 0 || z < 0 || pool < 0) ? -1 : lp_emit_op(c, LP_TFL_CONCATENATION, parts, 2, &pool, 1);
        if (id < 0) return c->err->code;
        lp_emit_params(c, id)->axis = 0;
        int pi = mv_i32v(c, pick, r, "pick");
        int full = lp_emit_tensor(c, LP_DT_I32, 1, &r64, j ? "end" : "begin");
        int in2[2] = {pool, pi};
        id = (pi < 0 || full < 0) ? -1 : lp_emit_op(c, LP_TFL_GATHER, in2, 2, &full, 1);
        if (id < 0) return c->err->code;
        lp_emit_params(c, id)->axis = 0;
        vec[j] = full;
    }
    int si = mv_i32v(c, strides, r, "strides");
    if (si < 0) return c->err->code;
    int in[4] = {n->in[0], vec[0], vec[1], si};
    int id = lp_emit_op(c, LP_TFL_STRIDED_SLICE, in, 4, &n->out[0], 1);
    if (id < 0) return c->err->code;
    lp_emit_params(c, id)->begin_mask = mask;
    lp_emit_params(c, id)->end_mask = mask;
    return LP_OK;
}

/* Runtime starts/ends/axes/steps: full-rank begin, end and strides vectors are built with
 * SCATTER_ND at the (normalised) axes; unsliced axes get 0, the axis size and 1. */
static lp_status slice_runtime_lower(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]), *st = T(n->in[1]);
    int r = x->rank;
    if (st->rank > 1 || (st->rank == 1 && st->dims[0] < 0))
        return lp_fail(c, LP_ERR_UNSUPPORTED, "starts must be 1-D of static length");
    int64_t k = st->rank == 1 ? st->dims[0] : 1, r64 = r, tmp[LP_MAX_RANK];
    if (k > r) return lp_fail(c, LP_ERR_INVALID, "starts has %lld entries for an input of rank %d", (long long)k, r);
    if ((!lp_has_in(n, 3) || lp_known_ints(c, n, 3, tmp, LP_MAX_RANK) >= 0) &&
        (!lp_has_in(n, 4) || lp_known_ints(c, n, 4, tmp, LP_MAX_RANK) >= 0))
        return slice_runtime_const_axes(c, n, k);
    int ax;
    if (lp_has_in(n, 3)) {
        int a = slice_i32(c, n->in[3]);
        int rc = mv_iscalar(c, LP_DT_I32, r, "rank");
        ax = (a < 0 || rc < 0) ? -1 : mv_bin(c, LP_TFL_FLOOR_MOD, a, rc, "axes");
    } else {
        int64_t v[LP_MAX_RANK];
        for (int i = 0; i < k; i++) v[i] = i;
        ax = mv_i32v(c, v, (int)k, "axes");
    }
    int64_t k1[2] = {k, 1};
    int axi = ax < 0 ? -1 : mv_reshape(c, ax, 2, k1);
    int shp = mv_i32v(c, &r64, 1, "rank_shape");
    if (axi < 0 || shp < 0) return c->err->code;
    /* scatter(v) puts v[i] at axes[i] and 0 elsewhere */
    int vals[4] = {n->in[1], n->in[2], lp_has_in(n, 4) ? n->in[4] : -1, -1};
    int64_t ones[LP_MAX_RANK];
    for (int i = 0; i < k; i++) ones[i] = 1;
    vals[3] = mv_i32v(c, ones, (int)k, "ones");
    if (vals[3] < 0) return c->err->code;
    int sc[4];
    for (int j = 0; j < 4; j++) {
        sc[j] = -1;
        if (vals[j] < 0) continue;
        int v = slice_i32(c, vals[j]);
        int y = lp_emit_tensor(c, LP_DT_I32, 1, &r64, "scattered");
        int in[3] = {axi, v, shp};
        if (v < 0 || y < 0 || lp_emit_op(c, LP_TFL_SCATTER_ND, in, 3, &y, 1) < 0) return c->err->code;
        sc[j] = y;
    }
    /* missing = 1 - hit: the unsliced axes */
    int one = mv_iscalar(c, LP_DT_I32, 1, "one");
    int miss = one < 0 ? -1 : mv_bin(c, LP_TFL_SUB, one, sc[3], "unsliced");
    int dv = lp_emit_dims(c, r, x->dims, n->in[0], 0);
    int fill_end = (miss < 0 || dv < 0) ? -1 : mv_bin(c, LP_TFL_MUL, miss, dv, "end_fill");
    int end = fill_end < 0 ? -1 : mv_bin(c, LP_TFL_ADD, sc[1], fill_end, "end");
    int strides = miss < 0 ? -1 : sc[2] < 0 ? mv_i32v(c, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 1}, r, "strides")
                                            : mv_bin(c, LP_TFL_ADD, sc[2], miss, "strides");
    if (end < 0 || strides < 0) return c->err->code;
    int in[4] = {n->in[0], sc[0], end, strides};
    return lp_emit_op(c, LP_TFL_STRIDED_SLICE, in, 4, &n->out[0], 1) < 0 ? c->err->code : LP_OK;
}

static lp_status slice_lower(lp_ctx *c, const lp_node *n) {
    slice_spec s;
    LP_TRY(slice_spec_get(c, n, &s));
    if (s.runtime) return slice_runtime_lower(c, n);
    int32_t b[LP_MAX_RANK], e[LP_MAX_RANK], st[LP_MAX_RANK];
    int bm = 0, em = 0;
    for (int d = 0; d < s.rank; d++) {
        b[d] = (int32_t)s.start[d];
        e[d] = (int32_t)s.end[d];
        /* a step beyond int32 takes one element, as a step of INT32_MAX does (dims are int32) */
        st[d] = (int32_t)(s.step[d] > INT32_MAX ? INT32_MAX : s.step[d] < -INT32_MAX ? -INT32_MAX : s.step[d]);
        if (!s.sliced[d]) {
            bm |= 1 << d;
            em |= 1 << d;
            b[d] = e[d] = 0;
            st[d] = 1;
        }
        if (s.to_begin[d] || s.to_end[d]) {
            em |= 1 << d;
            e[d] = 0;
        }
    }
    int bi = lp_emit_i32(c, b, s.rank, "begin"), ei = lp_emit_i32(c, e, s.rank, "end"),
        si = lp_emit_i32(c, st, s.rank, "strides");
    if (bi < 0 || ei < 0 || si < 0) return c->err->code;
    int in[4] = {n->in[0], bi, ei, si};
    int id = lp_emit_op(c, LP_TFL_STRIDED_SLICE, in, 4, &n->out[0], 1);
    if (id < 0) return c->err->code;
    lp_emit_params(c, id)->begin_mask = bm;
    lp_emit_params(c, id)->end_mask = em;
    return LP_OK;
}

const lp_op_impl lp_impl_Slice = {slice_infer, slice_eval, slice_lower};

/* ---------------- ConstantOfShape ---------------- */

static lp_status cos_value(lp_ctx *c, const lp_node *n, lp_dtype *dt, double *v) {
    const lp_attr *a = lp_node_attr(n, "value");
    *dt = LP_DT_F32;
    *v = 0;
    if (!a) return LP_OK;
    if (a->type != LP_ATTR_TENSOR) return lp_fail(c, LP_ERR_INVALID, "attribute 'value' must be a tensor");
    lp_tensor *t = T(a->tensor);
    if (lp_tensor_numel(t) != 1) return lp_fail(c, LP_ERR_INVALID, "attribute 'value' must hold one element");
    *dt = t->dtype;
    *v = lp_get_f64(t->dtype, t->data, 0);
    if (lp_dtype_is_int(t->dtype)) *v = (double)lp_get_i64(t->dtype, t->data, 0);
    return LP_OK;
}

static lp_status cos_infer(lp_ctx *c, const lp_node *n) {
    lp_dtype dt;
    double v;
    LP_TRY(cos_value(c, n, &dt, &v));
    lp_symval sv;
    if (!lp_sv_get(c, n->in[0], &sv)) {
        lp_tensor *s = T(n->in[0]);
        if (s->rank != 1 || s->dims[0] < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "the shape must have a known length");
        int64_t dims[LP_MAX_RANK];
        if (s->dims[0] > LP_MAX_RANK) return lp_fail(c, LP_ERR_LIMIT, "rank too large");
        for (int i = 0; i < s->dims[0]; i++) dims[i] = lp_graph_new_sym(c->g, NULL);
        lp_set_out(c, n, 0, dt, (int)s->dims[0], dims);
        return LP_OK;
    }
    if (sv.n > LP_MAX_RANK) return lp_fail(c, LP_ERR_LIMIT, "rank %d is too large", sv.n);
    int64_t dims[LP_MAX_RANK];
    for (int i = 0; i < sv.n; i++) {
        if (!sv.sym[i] && sv.v[i] < 0) return lp_fail(c, LP_ERR_INVALID, "negative dimension %lld", (long long)sv.v[i]);
        dims[i] = sv.sym[i] ? -(int64_t)sv.sym[i] : sv.v[i];
    }
    lp_set_out(c, n, 0, dt, sv.n, dims);
    lp_tensor *y = T(n->out[0]);
    int64_t ne = lp_tensor_numel(y);
    if (ne >= 0 && ne <= LP_MAX_SV && y->rank <= 1 && lp_dtype_is_int(dt)) {
        lp_symval o = {0};
        o.n = (int)ne;
        for (int i = 0; i < o.n; i++) o.v[i] = (int64_t)v;
        return lp_sv_set(c, n->out[0], &o);
    }
    return LP_OK;
}

static lp_status cos_eval(lp_ctx *c, const lp_node *n) {
    lp_dtype dt;
    double v;
    LP_TRY(cos_value(c, n, &dt, &v));
    lp_tensor *y = T(n->out[0]);
    int64_t ne = lp_tensor_numel(y);
    void *p = lp_out_data(c, n, 0);
    for (int64_t i = 0; i < ne; i++) lp_set_f64(dt, p, i, v);
    return LP_OK;
}

static lp_status cos_lower(lp_ctx *c, const lp_node *n) {
    lp_dtype dt;
    double v;
    LP_TRY(cos_value(c, n, &dt, &v));
    int s = n->in[0];
    lp_tensor *y = T(n->out[0]);
    if (y->rank >= 0 && lp_dims_computable(c, y->rank, y->dims, -1, 0)) s = lp_emit_dims(c, y->rank, y->dims, -1, 0);
    else if (T(s)->dtype != LP_DT_I32) s = lp_emit_cast(c, s, LP_DT_I32, -1);
    int val = lp_emit_scalar(c, dt, v, "value");
    if (s < 0 || val < 0) return c->err->code;
    int in[2] = {s, val};
    return lp_emit_op(c, LP_TFL_FILL, in, 2, &n->out[0], 1) < 0 ? c->err->code : LP_OK;
}

const lp_op_impl lp_impl_ConstantOfShape = {cos_infer, cos_eval, cos_lower};

/* ---------------- Range ---------------- */

static lp_status range_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *s = T(n->in[0]);
    double a, b, d;
    int64_t len;
    if (lp_const_scalar(c, n->in[0], &a) && lp_const_scalar(c, n->in[1], &b) && lp_const_scalar(c, n->in[2], &d)) {
        if (d == 0) return lp_fail(c, LP_ERR_INVALID, "delta is 0");
        double k = ceil((b - a) / d);
        if (k != k) return lp_fail(c, LP_ERR_INVALID, "start %g, limit %g and delta %g give no length", a, b, d);
        if (k > (double)LP_MAX_DIM) return lp_fail(c, LP_ERR_LIMIT, "a range of %g elements (at most %lld)", k,
                                                   (long long)LP_MAX_DIM);
        len = k > 0 ? (int64_t)k : 0;
    } else {
        len = lp_graph_new_sym(c->g, NULL);
    }
    lp_set_out(c, n, 0, s->dtype, 1, &len);
    return LP_OK;
}

static lp_status range_eval(lp_ctx *c, const lp_node *n) {
    lp_tensor *y = T(n->out[0]);
    void *p = lp_out_data(c, n, 0);
    int64_t ne = lp_tensor_numel(y);
    if (lp_dtype_is_int(y->dtype)) {
        int64_t a = lp_get_i64(T(n->in[0])->dtype, T(n->in[0])->data, 0);
        int64_t d = lp_get_i64(T(n->in[2])->dtype, T(n->in[2])->data, 0);
        for (int64_t i = 0; i < ne; i++) lp_set_i64(y->dtype, p, i, lp_wrap_add(a, lp_wrap_mul(i, d)));
    } else {
        double a, b, d;
        lp_const_scalar(c, n->in[0], &a);
        lp_const_scalar(c, n->in[1], &b);
        lp_const_scalar(c, n->in[2], &d);
        for (int64_t i = 0; i < ne; i++) lp_set_f64(y->dtype, p, i, a + (double)i * d);
    }
    return LP_OK;
}

static lp_status range_lower(lp_ctx *c, const lp_node *n) {
    int in[3] = {n->in[0], n->in[1], n->in[2]};
    /* TFLite's RANGE wants scalars; onnxruntime also takes one-element tensors */
    for (int k = 0; k < 3; k++)
        if (T(in[k])->rank > 0) {
            in[k] = lp_emit_reshape(c, in[k], 0, NULL, -1);
            if (in[k] < 0) return c->err->code;
        }
    return lp_emit_op(c, LP_TFL_RANGE, in, 3, &n->out[0], 1) < 0 ? c->err->code : LP_OK;
}

const lp_op_impl lp_impl_Range = {range_infer, range_eval, range_lower};

/* ---------------- Expand ---------------- */

static lp_status expand_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    LP_TRY(lp_need_rank(c, x, "input"));
    lp_symval sv;
    if (!lp_sv_get(c, n->in[1], &sv)) {
        /* a runtime shape of known length: rank known, sizes unknown (or declared) */
        lp_tensor *s = T(n->in[1]);
        if (s->rank != 1 || s->dims[0] < 0 || s->dims[0] > LP_MAX_RANK)
            return lp_fail(c, LP_ERR_UNSUPPORTED, "the target shape must have a known length");
        int r = (int)(s->dims[0] > x->rank ? s->dims[0] : x->rank);
        int64_t dims[LP_MAX_RANK];
        for (int i = 0; i < r; i++) dims[i] = lp_graph_new_sym(c->g, NULL);
        mv_merge_declared(c, n, 0, r, dims);
        lp_set_out(c, n, 0, x->dtype, r, dims);
        return LP_OK;
    }
    if (sv.n > LP_MAX_RANK) return lp_fail(c, LP_ERR_LIMIT, "rank %d is too large", sv.n);
    if (T(n->in[1])->dtype != LP_DT_I64) return lp_fail(c, LP_ERR_INVALID, "input 'shape' must be int64");
    lp_tensor shp = {0};
    shp.name = "shape";
    shp.rank = sv.n;
    for (int i = 0; i < sv.n; i++) {
        if (!sv.sym[i] && (sv.v[i] < 0 || sv.v[i] > LP_MAX_ELEMENTS))
            return lp_fail(c, LP_ERR_INVALID, "shape entry %d is %lld", i, (long long)sv.v[i]);
        shp.dims[i] = sv.sym[i] ? -(int64_t)sv.sym[i] : sv.v[i];
    }
    int rank;
    int64_t dims[LP_MAX_RANK];
    LP_TRY(lp_broadcast(c, x, &shp, &rank, dims));
    lp_set_out(c, n, 0, x->dtype, rank, dims);
    return LP_OK;
}

static lp_status expand_eval(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]), *y = T(n->out[0]);
    size_t es = lp_dtype_size(x->dtype);
    int64_t xs[LP_MAX_RANK], idx[LP_MAX_RANK] = {0}, xd[LP_MAX_RANK];
    int off = y->rank - x->rank;
    for (int d = 0; d < y->rank; d++) xd[d] = d < off ? 1 : x->dims[d - off];
    lp_strides(y->rank, xd, xs);
    int64_t total = lp_tensor_numel(y);
    uint8_t *dst = lp_out_data(c, n, 0);
    for (int64_t o = 0; o < total; o++) {
        int64_t src = 0;
        for (int d = 0; d < y->rank; d++) src += (xd[d] == 1 ? 0 : idx[d]) * xs[d];
        memcpy(dst + (size_t)o * es, (const uint8_t *)x->data + (size_t)src * es, es);
        for (int d = y->rank - 1; d >= 0; d--) {
            if (++idx[d] < y->dims[d]) break;
            idx[d] = 0;
        }
    }
    return LP_OK;
}

static lp_status expand_lower(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]), *y = T(n->out[0]);
    if (x->rank == y->rank && lp_dims_equal(x->dims, y->dims, x->rank))
        return lp_emit_identity(c, n->in[0], n->out[0]) < 0 ? c->err->code : LP_OK;
    int dyn = 0;
    for (int d = 0; d < y->rank; d++) dyn |= y->dims[d] < 0;
    int s;
    if (!dyn) {
        s = lp_emit_i32_dims(c, y->dims, y->rank, "shape");
    } else if (lp_dims_computable(c, y->rank, y->dims, n->in[0], 0)) {
        /* the output's sizes are known symbolically: read them where they are (int32) */
        s = lp_emit_dims(c, y->rank, y->dims, n->in[0], 0);
    } else {
        /* a runtime shape: usable as BROADCAST_TO's target when it is exactly the output shape
         * (ONNX Expand also accepts 1s where the input is larger; BROADCAST_TO does not) */
        /* a runtime shape: ONNX Expand broadcasts both ways (the shape may hold 1s where the input
         * is larger), so the target is BROADCAST_ARGS(shape(x), shape), exactly numpy's rule */
        int64_t r = x->rank;
        int sh = lp_emit_tensor(c, LP_DT_I32, 1, &r, "in_shape");
        int id = sh < 0 ? -1 : lp_emit_op(c, LP_TFL_SHAPE, &n->in[0], 1, &sh, 1);
        if (id < 0) return c->err->code;
        lp_emit_params(c, id)->out_type = LP_DT_I32;
        int t = mv_as(c, n->in[1], LP_DT_I32);
        int64_t yr = y->rank;
        s = t < 0 ? -1 : lp_emit_tensor(c, LP_DT_I32, 1, &yr, "target");
        int in2[2] = {sh, t};
        if (s < 0 || lp_emit_op(c, LP_TFL_BROADCAST_ARGS, in2, 2, &s, 1) < 0) return c->err->code;
    }
    if (s < 0) return c->err->code;
    int in[2] = {n->in[0], s};
    return lp_emit_op(c, LP_TFL_BROADCAST_TO, in, 2, &n->out[0], 1) < 0 ? c->err->code : LP_OK;
}

const lp_op_impl lp_impl_Expand = {expand_infer, expand_eval, expand_lower};

/* ---------------- Tile ---------------- */

static lp_status tile_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    LP_TRY(lp_need_rank(c, x, "input"));
    int64_t rep[LP_MAX_RANK], dims[LP_MAX_RANK];
    int k = lp_known_ints(c, n, 1, rep, LP_MAX_RANK);
    if (k >= 0 && k != x->rank) return lp_fail(c, LP_ERR_INVALID, "repeats has %d values for rank %d", k, x->rank);
    for (int i = 0; i < x->rank; i++) {
        if (k < 0) dims[i] = lp_graph_new_sym(c->g, NULL);
        else if (rep[i] < 0 || rep[i] > LP_MAX_DIM) return lp_fail(c, LP_ERR_INVALID, "repeat %lld", (long long)rep[i]);
        else if (rep[i] == 1) dims[i] = x->dims[i];
        else dims[i] = x->dims[i] >= 0 ? x->dims[i] * rep[i] : lp_graph_new_sym(c->g, NULL);
    }
    if (k < 0) mv_merge_declared(c, n, 0, x->rank, dims);
    lp_set_out(c, n, 0, x->dtype, x->rank, dims);
    return LP_OK;
}

static lp_status tile_eval(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]), *y = T(n->out[0]);
    size_t es = lp_dtype_size(x->dtype);
    int64_t xs[LP_MAX_RANK], idx[LP_MAX_RANK] = {0};
    lp_strides(x->rank, x->dims, xs);
    int64_t total = lp_tensor_numel(y);
    uint8_t *dst = lp_out_data(c, n, 0);
    for (int64_t o = 0; o < total; o++) {
        int64_t src = 0;
        for (int d = 0; d < y->rank; d++) src += (idx[d] % x->dims[d]) * xs[d];
        memcpy(dst + (size_t)o * es, (const uint8_t *)x->data + (size_t)src * es, es);
        for (int d = y->rank - 1; d >= 0; d--) {
            if (++idx[d] < y->dims[d]) break;
            idx[d] = 0;
        }
    }
    return LP_OK;
}

static lp_status tile_lower(lp_ctx *c, const lp_node *n) {
    /* TILE takes its multiples as a (runtime) int32/int64 tensor */
    int m = lp_tensor_is_const(c->g, n->in[1]) ? mv_as(c, n->in[1], LP_DT_I32) : n->in[1];
    if (m < 0) return c->err->code;
    if (T(m)->dtype != LP_DT_I32 && T(m)->dtype != LP_DT_I64) m = mv_as(c, m, LP_DT_I32);
    int in[2] = {n->in[0], m};
    return m < 0 || lp_emit_op(c, LP_TFL_TILE, in, 2, &n->out[0], 1) < 0 ? c->err->code : LP_OK;
}

const lp_op_impl lp_impl_Tile = {tile_infer, tile_eval, tile_lower};

/* ---------------- Pad ---------------- */

typedef struct pad_spec {
    int rank;
    int64_t before[LP_MAX_RANK], after[LP_MAX_RANK];
    const char *mode;
    double value;
    int value_tensor; /* input 2 when not a constant scalar */
    int runtime;      /* pads (or axes) are runtime inputs: before/after unknown */
} pad_spec;

static lp_status pad_spec_get(lp_ctx *c, const lp_node *n, pad_spec *p) {
    lp_tensor *x = T(n->in[0]);
    LP_TRY(lp_need_rank(c, x, "data"));
    p->rank = x->rank;
    p->mode = lp_attr_s(c, n, "mode", "constant");
    p->value = 0;
    p->value_tensor = -1;
    p->runtime = 0;
    if (c->err->code) return c->err->code;
    if (strcmp(p->mode, "constant") && strcmp(p->mode, "reflect") && strcmp(p->mode, "edge") && strcmp(p->mode, "wrap"))
        return lp_fail(c, LP_ERR_INVALID, "attribute 'mode'='%s'", p->mode);
    int64_t pads[2 * LP_MAX_RANK], axes[LP_MAX_RANK];
    int np, na = -1;
    if (n->opset < 11) {
        np = lp_attr_ints(c, n, "pads", pads, 2 * LP_MAX_RANK);
        if (np < 0) np = lp_attr_ints(c, n, "paddings", pads, 2 * LP_MAX_RANK);
        p->value = lp_attr_f(c, n, "value", 0.0f);
    } else {
        if (!lp_has_in(n, 1)) return lp_fail(c, LP_ERR_INVALID, "input 1 'pads' is required (opset 11 and later)");
        np = lp_known_ints(c, n, 1, pads, 2 * LP_MAX_RANK);
        if (lp_has_in(n, 2) && lp_tensor_numel(T(n->in[2])) != 0) {
            if (!lp_const_scalar(c, n->in[2], &p->value)) p->value_tensor = n->in[2];
        }
        if (lp_has_in(n, 3)) na = lp_known_ints(c, n, 3, axes, LP_MAX_RANK);
        if (np < 0 || (lp_has_in(n, 3) && na < 0)) {
            p->runtime = 1;
            return LP_OK;
        }
    }
    if (c->err->code) return c->err->code;
    int k = na >= 0 ? na : x->rank;
    if (np != 2 * k) return lp_fail(c, LP_ERR_INVALID, "pads has %d entries; expected %d", np, 2 * k);
    for (int d = 0; d < x->rank; d++) p->before[d] = p->after[d] = 0;
    for (int i = 0; i < 2 * k; i++)
        if (pads[i] > LP_MAX_DIM || pads[i] < -LP_MAX_DIM)
            return lp_fail(c, LP_ERR_INVALID, "pads entry %d is %lld (at most %lld either way)", i, (long long)pads[i],
                           (long long)LP_MAX_DIM);
    for (int i = 0; i < k; i++) {
        int a = i;
        if (na >= 0) LP_TRY(lp_axis(c, axes[i], x->rank, &a, "axis"));
        p->before[a] = pads[i];
        p->after[a] = pads[i + k];
    }
    /* edge, reflect and wrap copy existing elements: an axis left empty by cropping has none */
    for (int d = 0; d < x->rank && strcmp(p->mode, "constant") != 0; d++) {
        int64_t left = x->dims[d] + (p->before[d] < 0 ? p->before[d] : 0) + (p->after[d] < 0 ? p->after[d] : 0);
        if (x->dims[d] >= 0 && left <= 0 && (p->before[d] > 0 || p->after[d] > 0))
            return lp_fail(c, LP_ERR_INVALID, "mode '%s' cannot pad axis %d, which has no elements", p->mode, d);
    }
    return LP_OK;
}

static lp_status pad_infer(lp_ctx *c, const lp_node *n) {
    pad_spec p;
    LP_TRY(pad_spec_get(c, n, &p));
    lp_tensor *x = T(n->in[0]);
    int64_t dims[LP_MAX_RANK];
    for (int d = 0; d < p.rank; d++) {
        if (p.runtime) dims[d] = lp_graph_new_sym(c->g, NULL);
        else if (x->dims[d] < 0) dims[d] = (p.before[d] || p.after[d]) ? lp_graph_new_sym(c->g, NULL) : x->dims[d];
        else {
            dims[d] = x->dims[d] + p.before[d] + p.after[d];
            if (dims[d] < 0) return lp_fail(c, LP_ERR_INVALID, "padding makes dimension %d negative", d);
        }
    }
    if (p.runtime) mv_merge_declared(c, n, 0, p.rank, dims);
    lp_set_out(c, n, 0, x->dtype, p.rank, dims);
    return LP_OK;
}

/* Source index along an axis of size d for output position o of a padded axis ('before' elements
 * added in front; negative crops): edge clamps, wrap is periodic, reflect mirrors without
 * repeating the border (numpy's modes, which ONNX follows, including pads larger than d). */
static int64_t pad_index(const char *mode, int64_t s, int64_t d) {
    if (mode[0] == 'e') return s < 0 ? 0 : s >= d ? d - 1 : s;
    if (mode[0] == 'w') return ((s % d) + d) % d;
    if (d == 1) return 0;
    int64_t per = 2 * (d - 1), m = ((s % per) + per) % per;
    return m < d ? m : per - m;
}

/* Negative pads crop first; the remaining d' elements are then padded (as onnxruntime does). */
static int64_t pad_source(const char *mode, int64_t o, int64_t before, int64_t after, int64_t d) {
    int64_t cb = before < 0 ? -before : 0, ce = after < 0 ? -after : 0, pb = before > 0 ? before : 0;
    return cb + pad_index(mode, o - pb, d - cb - ce);
}

/* y = x gathered along `axis` by the pad mode; before_t >= 0 is a runtime int32 scalar (runtime
 * pads are taken as non-negative: cropping needs both ends) */
static int pad_gather_axis(lp_ctx *c, int x, int axis, int64_t out_len, int64_t before, int64_t after, int before_t,
                           const char *mode, int out) {
    lp_tensor *X = T(x);
    int64_t d = X->dims[axis];
    int idx;
    if (before_t < 0) {
        int64_t *v = lp_table_alloc(c, out_len, sizeof(int64_t), "table of padding sources");
        if (!v) return -1;
        for (int64_t o = 0; o < out_len; o++) v[o] = pad_source(mode, o, before, after, d);
        idx = mv_const_ints(c, LP_DT_I32, 1, &out_len, v, out_len, "pad_index");
    } else {
        int64_t *v = lp_table_alloc(c, out_len, sizeof(int64_t), "table of positions");
        if (!v) return -1;
        for (int64_t o = 0; o < out_len; o++) v[o] = o;
        int pos = mv_const_ints(c, LP_DT_I32, 1, &out_len, v, out_len, "positions");
        int s = pos < 0 ? -1 : mv_bin(c, LP_TFL_SUB, pos, before_t, "source");
        if (s < 0) return -1;
        if (mode[0] == 'e') {
            int z = mv_iscalar(c, LP_DT_I32, 0, "zero"), hi = mv_iscalar(c, LP_DT_I32, d - 1, "last");
            int a = (z < 0 || hi < 0) ? -1 : mv_bin(c, LP_TFL_MAXIMUM, s, z, "clamp_lo");
            idx = a < 0 ? -1 : mv_bin(c, LP_TFL_MINIMUM, a, hi, "pad_index");
        } else if (mode[0] == 'w') {
            int dc = mv_iscalar(c, LP_DT_I32, d, "size");
            idx = dc < 0 ? -1 : mv_bin(c, LP_TFL_FLOOR_MOD, s, dc, "pad_index");
        } else if (d == 1) {
            int z = mv_iscalar(c, LP_DT_I32, 0, "zero");
            idx = z < 0 ? -1 : mv_bin(c, LP_TFL_MUL, s, z, "pad_index");
        } else {
            /* (d-1) - |m - (d-1)| with m = s mod 2(d-1) */
            int per = mv_iscalar(c, LP_DT_I32, 2 * (d - 1), "period"), dm = mv_iscalar(c, LP_DT_I32, d - 1, "last");
            int m = (per < 0 || dm < 0) ? -1 : mv_bin(c, LP_TFL_FLOOR_MOD, s, per, "phase");
            int e = m < 0 ? -1 : mv_bin(c, LP_TFL_SUB, m, dm, "centered");
            int ab = e < 0 ? -1 : mv_un(c, LP_TFL_ABS, e, "dist");
            idx = ab < 0 ? -1 : mv_bin(c, LP_TFL_SUB, dm, ab, "pad_index");
        }
    }
    if (idx < 0) return -1;
    if (out < 0) {
        int64_t dims[LP_MAX_RANK];
        memcpy(dims, X->dims, sizeof dims);
        dims[axis] = out_len;
        out = lp_emit_tensor(c, X->dtype, X->rank, dims, "padded");
        if (out < 0) return -1;
    }
    int in[2] = {x, idx};
    int id = lp_emit_op(c, LP_TFL_GATHER, in, 2, &out, 1);
    if (id < 0) return -1;
    lp_emit_params(c, id)->axis = axis;
    return out;
}

/* runtime pads [2k] (and axes [k]) -> int32 paddings [rank, 2] */
static int pad_runtime_paddings(lp_ctx *c, const lp_node *n, int rank) {
    lp_tensor *P = T(n->in[1]);
    if (P->rank != 1 || P->dims[0] < 0 || P->dims[0] % 2)
        return lp_fail(c, LP_ERR_UNSUPPORTED, "pads must be 1-D of static even length"), -1;
    int64_t k = P->dims[0] / 2;
    if (!lp_has_in(n, 3) && k != rank) return lp_fail(c, LP_ERR_INVALID, "pads has %lld entries for rank %d", (long long)(2 * k), rank), -1;
    int p = mv_as(c, n->in[1], LP_DT_I32);
    int64_t d2k[2] = {2, k};
    int pr = p < 0 ? -1 : mv_reshape(c, p, 2, d2k);
    int pt = pr < 0 ? -1 : lp_emit_transpose(c, pr, (int[]){1, 0}, -1); /* [k, 2]: (before, after) rows */
    if (pt < 0 || !lp_has_in(n, 3)) return pt;
    int a = mv_as(c, n->in[3], LP_DT_I32);
    int rc = mv_iscalar(c, LP_DT_I32, rank, "rank");
    int an = (a < 0 || rc < 0) ? -1 : mv_bin(c, LP_TFL_FLOOR_MOD, a, rc, "axes");
    int64_t k1[2] = {k, 1}, r2[2] = {rank, 2}, two = 2;
    int ai = an < 0 ? -1 : mv_reshape(c, an, 2, k1);
    int shp = mv_const_ints(c, LP_DT_I32, 1, &two, r2, 2, "pads_shape");
    int y = lp_emit_tensor(c, LP_DT_I32, 2, r2, "paddings");
    int in[3] = {ai, pt, shp};
    if (ai < 0 || shp < 0 || y < 0 || lp_emit_op(c, LP_TFL_SCATTER_ND, in, 3, &y, 1) < 0) return -1;
    return y;
}

static lp_status pad_lower(lp_ctx *c, const lp_node *n) {
    pad_spec p;
    LP_TRY(pad_spec_get(c, n, &p));
    lp_tensor *x = T(n->in[0]);
    lp_tensor *y = T(n->out[0]);
    int constant = strcmp(p.mode, "constant") == 0, reflect = strcmp(p.mode, "reflect") == 0;
    int pi, neg = 0;
    if (p.runtime) {
        pi = pad_runtime_paddings(c, n, p.rank);
        if (pi < 0) return c->err->code;
        if (!constant && !reflect) {
            /* edge and wrap: per-axis GATHER with runtime source indices; needs the output shape */
            if (!mv_static(x) || !mv_static(y))
                return lp_fail(c, LP_ERR_UNSUPPORTED, "mode '%s' with runtime pads needs static (or declared) shapes", p.mode);
            int cur = n->in[0];
            for (int d = 0; d < p.rank; d++) {
                int64_t b[2] = {d, 0}, sz[2] = {1, 1}, one = 1;
                int bi = mv_i32v(c, b, 2, "begin"), si = mv_i32v(c, sz, 2, "size");
                int bt = lp_emit_tensor(c, LP_DT_I32, 2, sz, "before");
                int in3[3] = {pi, bi, si};
                if (bi < 0 || si < 0 || bt < 0 || lp_emit_op(c, LP_TFL_SLICE, in3, 3, &bt, 1) < 0) return c->err->code;
                int bs = mv_reshape(c, bt, 1, &one);
                if (bs < 0) return c->err->code;
                cur = pad_gather_axis(c, cur, d, y->dims[d], 0, 0, bs, p.mode, d == p.rank - 1 ? n->out[0] : -1);
                if (cur < 0) return c->err->code;
            }
            return LP_OK;
        }
    } else {
        for (int d = 0; d < p.rank; d++) neg |= p.before[d] < 0 || p.after[d] < 0;
        if (!constant && (!reflect || neg)) {
            /* edge, wrap (and reflect that crops): one GATHER per padded axis, constant indices */
            if (!mv_static(x)) return lp_fail(c, LP_ERR_UNSUPPORTED, "mode '%s' on an input of dynamic shape", p.mode);
            int cur = n->in[0], last = -1;
            for (int d = 0; d < p.rank; d++)
                if (p.before[d] || p.after[d]) last = d;
            if (last < 0) return lp_emit_identity(c, n->in[0], n->out[0]) < 0 ? c->err->code : LP_OK;
            for (int d = 0; d <= last; d++) {
                if (!p.before[d] && !p.after[d]) continue;
                cur = pad_gather_axis(c, cur, d, x->dims[d] + p.before[d] + p.after[d], p.before[d], p.after[d], -1, p.mode,
                                      d == last ? n->out[0] : -1);
                if (cur < 0) return c->err->code;
            }
            return LP_OK;
        }
        int32_t pads[2 * LP_MAX_RANK];
        for (int d = 0; d < p.rank; d++) {
            pads[2 * d] = (int32_t)(p.before[d] > 0 ? p.before[d] : 0);
            pads[2 * d + 1] = (int32_t)(p.after[d] > 0 ? p.after[d] : 0);
        }
        int64_t pd[2] = {p.rank, 2};
        pi = lp_emit_const(c, LP_DT_I32, 2, pd, pads, "paddings");
        if (pi < 0) return c->err->code;
    }
    /* negative pads crop: pad first, then slice */
    int64_t mid[LP_MAX_RANK];
    for (int d = 0; d < p.rank; d++)
        mid[d] = x->dims[d] < 0 || p.runtime ? -1 : x->dims[d] + (p.before[d] > 0 ? p.before[d] : 0) +
                                                        (p.after[d] > 0 ? p.after[d] : 0);
    int out = neg ? lp_emit_tensor(c, x->dtype, p.rank, mid, "padded") : n->out[0];
    if (out < 0) return c->err->code;
    int id;
    if (constant) {
        if (p.value == 0 && p.value_tensor < 0) {
            int in[2] = {n->in[0], pi};
            id = lp_emit_op(c, LP_TFL_PAD, in, 2, &out, 1);
        } else {
            int v = p.value_tensor >= 0 ? p.value_tensor : lp_emit_scalar(c, x->dtype, p.value, "pad_value");
            if (v >= 0 && T(v)->rank > 0) {
                int64_t one = 1;
                v = mv_reshape(c, v, 1, &one); /* PADV2 wants one value */
            }
            int in[3] = {n->in[0], pi, v};
            id = v < 0 ? -1 : lp_emit_op(c, LP_TFL_PADV2, in, 3, &out, 1);
        }
    } else {
        int in[2] = {n->in[0], pi};
        id = lp_emit_op(c, LP_TFL_MIRROR_PAD, in, 2, &out, 1);
        if (id >= 0) lp_emit_params(c, id)->mode = 0; /* REFLECT */
    }
    if (id < 0) return c->err->code;
    if (neg) {
        int32_t b[LP_MAX_RANK], sz[LP_MAX_RANK];
        for (int d = 0; d < p.rank; d++) {
            b[d] = (int32_t)(p.before[d] < 0 ? -p.before[d] : 0);
            sz[d] = y->dims[d] < 0 ? -1 : (int32_t)y->dims[d];
        }
        int bi = lp_emit_i32(c, b, p.rank, "begin"), si = lp_emit_i32(c, sz, p.rank, "size");
        int in[3] = {out, bi, si};
        if (lp_emit_op(c, LP_TFL_SLICE, in, 3, &n->out[0], 1) < 0) return c->err->code;
    }
    return LP_OK;
}

const lp_op_impl lp_impl_Pad = {pad_infer, NULL, pad_lower};

/* ---------------- Split ---------------- */

#define SPLIT_EACH (-2) /* a part of a dynamic axis split evenly, and the last part */
#define SPLIT_LAST (-3)

/* sizes[i] < 0 (a fresh symbol or the declared size) when 'split' is a runtime input */
static lp_status split_sizes(lp_ctx *c, const lp_node *n, int *axis, int64_t *sizes) {
    lp_tensor *x = T(n->in[0]);
    LP_TRY(lp_need_rank(c, x, "input"));
    LP_TRY(lp_axis(c, lp_attr_i(c, n, "axis", 0), x->rank, axis, "axis"));
    int k;
    if (lp_has_in(n, 1)) {
        k = lp_known_ints(c, n, 1, sizes, 256);
        if (k < 0) {
            lp_tensor *s = T(n->in[1]);
            if (s->rank != 1 || s->dims[0] != n->n_out)
                return lp_fail(c, LP_ERR_UNSUPPORTED, "input 'split' must be a constant or have one size per output");
            for (int i = 0; i < n->n_out; i++) {
                int64_t dd[LP_MAX_RANK];
                sizes[i] = mv_declared(c, n, i, dd) == x->rank && dd[*axis] >= 0 ? dd[*axis] : -1;
            }
            return LP_OK;
        }
    } else {
        k = lp_attr_ints(c, n, "split", sizes, 256);
        if (c->err->code) return c->err->code;
    }
    int64_t d = x->dims[*axis];
    if (k >= 0) {
        if (k != n->n_out) return lp_fail(c, LP_ERR_INVALID, "split has %d sizes for %d outputs", k, n->n_out);
        int64_t sum = 0;
        for (int i = 0; i < k; i++) {
            if (sizes[i] < 0 || sizes[i] > LP_MAX_ELEMENTS)
                return lp_fail(c, LP_ERR_INVALID, "split size %d is %lld", i, (long long)sizes[i]);
            sum += sizes[i];
        }
        if (d >= 0 && sum != d) return lp_fail(c, LP_ERR_INVALID, "split sizes add up to %lld, not %lld", (long long)sum, (long long)d);
        return LP_OK;
    }
    /* equal parts; opset 18 num_outputs allows a smaller last part */
    int64_t parts = n->n_out;
    if (d < 0) {
        /* a dynamic axis: sizes computed at run time (split_lower); the parts but the last are
         * equal */
        for (int i = 0; i < parts; i++) sizes[i] = i == parts - 1 ? SPLIT_LAST : SPLIT_EACH;
        return LP_OK;
    }
    int64_t each = (d + parts - 1) / parts;
    for (int i = 0; i < parts; i++) {
        int64_t left = d - each * i;
        sizes[i] = left < each ? (left > 0 ? left : 0) : each;
    }
    return LP_OK;
}

static lp_status split_infer(lp_ctx *c, const lp_node *n) {
    int axis;
    int64_t sizes[256];
    if (n->n_out > 256) return lp_fail(c, LP_ERR_LIMIT, "more than 256 outputs");
    LP_TRY(split_sizes(c, n, &axis, sizes));
    lp_tensor *x = T(n->in[0]);
    int64_t each = n->n_out > 1 && sizes[0] == SPLIT_EACH ? lp_graph_new_sym(c->g, NULL) : 0;
    for (int i = 0; i < n->n_out; i++) {
        int64_t dims[LP_MAX_RANK];
        memcpy(dims, x->dims, sizeof dims);
        dims[axis] = sizes[i] >= 0 ? sizes[i] : sizes[i] == SPLIT_EACH ? each : lp_graph_new_sym(c->g, NULL);
        lp_set_out(c, n, i, x->dtype, x->rank, dims);
    }
    return LP_OK;
}

static lp_status split_eval(lp_ctx *c, const lp_node *n) {
    int axis;
    int64_t sizes[256];
    LP_TRY(split_sizes(c, n, &axis, sizes));
    lp_tensor *x = T(n->in[0]);
    size_t es = lp_dtype_size(x->dtype);
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= x->dims[d];
    for (int d = axis + 1; d < x->rank; d++) inner *= x->dims[d];
    int64_t off = 0;
    for (int i = 0; i < n->n_out; i++) {
        if (n->out[i] >= 0) {
            uint8_t *dst = lp_out_data(c, n, i);
            for (int64_t o = 0; o < outer; o++)
                memcpy(dst + (size_t)(o * sizes[i] * inner) * es,
                       (const uint8_t *)x->data + (size_t)((o * x->dims[axis] + off) * inner) * es,
                       (size_t)(sizes[i] * inner) * es);
        }
        off += sizes[i];
    }
    return LP_OK;
}

static lp_status split_lower(lp_ctx *c, const lp_node *n) {
    int axis;
    int64_t sizes[256];
    LP_TRY(split_sizes(c, n, &axis, sizes));
    int outs[256];
    for (int i = 0; i < n->n_out; i++) {
        outs[i] = n->out[i];
        if (outs[i] < 0) {
            /* an unused output still needs a tensor */
            lp_tensor *x = T(n->in[0]);
            int64_t dims[LP_MAX_RANK];
            memcpy(dims, x->dims, sizeof dims);
            dims[axis] = sizes[i] >= 0 ? sizes[i] : LP_DIM_UNKNOWN;
            outs[i] = lp_emit_tensor(c, x->dtype, x->rank, dims, "unused");
            if (outs[i] < 0) return c->err->code;
        }
    }
    int32_t s32[256];
    for (int i = 0; i < n->n_out; i++) s32[i] = (int32_t)sizes[i];
    int32_t ax = axis;
    /* runtime sizes go to SPLIT_V as they are */
    int64_t tmp[256];
    int runtime = lp_has_in(n, 1) && lp_known_ints(c, n, 1, tmp, 256) < 0;
    int si;
    if (sizes[n->n_out - 1] == SPLIT_LAST) {
        /* a dynamic axis in n parts: each = ceil(d / n), part i = min(each, max(d - each * i, 0)) */
        int64_t k = n->n_out, *iv = tmp;
        for (int i = 0; i < n->n_out; i++) iv[i] = i;
        int d = lp_emit_sym(c, T(n->in[0])->dims[axis], n->in[0]);
        int km1 = mv_iscalar(c, LP_DT_I32, k - 1, "parts_minus_1"), kc = mv_iscalar(c, LP_DT_I32, k, "parts");
        int zero = mv_iscalar(c, LP_DT_I32, 0, "zero"), idx = mv_i32v(c, iv, n->n_out, "part");
        if (d < 0 || km1 < 0 || kc < 0 || zero < 0 || idx < 0) return c->err->code;
        int e = mv_bin(c, LP_TFL_ADD, d, km1, "rounded_up");
        e = e < 0 ? -1 : mv_bin(c, LP_TFL_FLOOR_DIV, e, kc, "each");
        int used = e < 0 ? -1 : mv_bin(c, LP_TFL_MUL, idx, e, "before");
        int left = used < 0 ? -1 : mv_bin(c, LP_TFL_SUB, d, used, "left");
        left = left < 0 ? -1 : mv_bin(c, LP_TFL_MAXIMUM, left, zero, "left");
        si = left < 0 ? -1 : mv_bin(c, LP_TFL_MINIMUM, left, e, "sizes");
    } else {
        si = runtime ? mv_as(c, n->in[1], LP_DT_I32) : lp_emit_i32(c, s32, n->n_out, "sizes");
    }
    int ai = lp_emit_const(c, LP_DT_I32, 0, NULL, &ax, "axis");
    if (si < 0 || ai < 0) return c->err->code;
    int in[3] = {n->in[0], si, ai};
    int id = lp_emit_op(c, LP_TFL_SPLIT_V, in, 3, outs, n->n_out);
    if (id < 0) return c->err->code;
    lp_emit_params(c, id)->num = n->n_out;
    return LP_OK;
}

const lp_op_impl lp_impl_Split = {split_infer, split_eval, split_lower};
