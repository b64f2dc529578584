/* Helpers shared by every op family: attributes, shapes, symbolic values and TFLite emitters. */
#include <stdio.h>
#include <string.h>

#include "ops.h"

/* ---------------- op table ---------------- */

#define LP_ONNX_OP(name, a, b, c, d) extern const lp_op_impl lp_impl_##name;
#include "onnx_ops.def"
#undef LP_ONNX_OP

const lp_op_impl *const lp_op_impls[LP_OP_ONNX_END] = {
#define LP_ONNX_OP(name, a, b, c, d) [LP_OP_##name] = &lp_impl_##name,
#include "onnx_ops.def"
#undef LP_ONNX_OP
};

const lp_op_arity lp_op_arities[LP_OP_ONNX_END] = {
#define LP_ONNX_OP(name, a, b, c, d) [LP_OP_##name] = {a, b, c, d},
#include "onnx_ops.def"
#undef LP_ONNX_OP
};

/* ---------------- errors ---------------- */

lp_status lp_fail(lp_ctx *c, lp_status code, const char *fmt, ...) {
    if (code == LP_ERR_NOMEM && c->g && c->g->arena.hit_limit)
        /* not the machine's memory: the arena's bound (base.h) */
        return lp_err_set(c->err, LP_ERR_LIMIT,
                          "the model needs more working memory than liteport allows for its size (%zu MiB)",
                          c->g->arena.limit >> 20);
    va_list ap;
    va_start(ap, fmt);
    lp_err_setv(c->err, code, fmt, ap);
    va_end(ap);
    return code;
}

void *lp_table_alloc(lp_ctx *c, int64_t n, size_t size, const char *what) {
    size_t bytes;
    if (n < 0 || !lp_mul_size((size_t)n, size, &bytes) || bytes > LP_MAX_TABLE_BYTES ||
        c->table_bytes > LP_MAX_TABLE_BYTES - bytes) {
        lp_fail(c, LP_ERR_LIMIT, "the %s would have %lld entries; the tables liteport builds for a model are limited "
                "to %zu MiB in all", what, (long long)n, LP_MAX_TABLE_BYTES >> 20);
        return NULL;
    }
    void *p = lp_arena_alloc(&c->g->arena, bytes ? bytes : 1);
    if (!p) {
        lp_fail(c, LP_ERR_NOMEM, "out of memory for the %s", what);
        return NULL;
    }
    c->table_bytes += bytes;
    return p;
}

/* ---------------- tensors ---------------- */

int lp_has_in(const lp_node *n, int k) { return k < n->n_in && n->in[k] >= 0; }

lp_tensor *lp_in(lp_ctx *c, const lp_node *n, int k) { return lp_has_in(n, k) ? &c->g->t[n->in[k]] : NULL; }

int lp_in_const(lp_ctx *c, const lp_node *n, int k) { return lp_has_in(n, k) && lp_tensor_is_const(c->g, n->in[k]); }

void lp_set_out(lp_ctx *c, const lp_node *n, int k, lp_dtype dt, int rank, const int64_t *dims) {
    if (k >= n->n_out || n->out[k] < 0) return;
    lp_tensor *t = &c->g->t[n->out[k]];
    const char *bad = rank > 0 ? lp_dims_check(c->g, rank, dims) : NULL;
    if (bad) {
        /* recorded for the driver (lp_infer_node checks after every infer); the tensor keeps an
         * unknown rank so nothing reads the impossible shape meanwhile */
        lp_tensor tmp = {.rank = rank > LP_MAX_RANK ? LP_MAX_RANK : rank};
        memcpy(tmp.dims, dims, sizeof(int64_t) * (size_t)tmp.rank);
        char sh[200];
        int neg = -1;
        for (int i = 0; i < tmp.rank && neg < 0; i++)
            if (dims[i] < -(int64_t)c->g->n_sym) neg = i;
        if (neg >= 0) /* not a symbol: a negative size computed from the model's values */
            lp_fail(c, LP_ERR_INVALID, "output %d ('%s') would have dimension %d = %lld", k, t->name, neg,
                    (long long)dims[neg]);
        else
            lp_fail(c, LP_ERR_LIMIT, "output %d ('%s') would have shape %s: %s", k, t->name,
                    lp_shape_str(c->g, &tmp, sh, sizeof sh), bad);
        t->dtype = dt;
        t->rank = -1;
        return;
    }
    t->dtype = dt;
    t->rank = rank;
    for (int i = 0; i < rank && i < LP_MAX_RANK; i++) t->dims[i] = dims[i];
}

int lp_const_ints(lp_ctx *c, int tid, int64_t *out, int max, const char *what) {
    lp_tensor *t = &c->g->t[tid];
    if (!(t->flags & LP_T_CONST)) {
        lp_fail(c, LP_ERR_UNSUPPORTED, "%s ('%s') must be a constant", what, t->name);
        return -1;
    }
    if (!lp_dtype_is_int(t->dtype) && t->dtype != LP_DT_BOOL) {
        lp_fail(c, LP_ERR_INVALID, "%s ('%s') must be an integer tensor, not %s", what, t->name,
                lp_dtype_name(t->dtype));
        return -1;
    }
    int64_t n = lp_tensor_numel(t);
    if (n < 0 || n > max) {
        lp_fail(c, LP_ERR_LIMIT, "%s ('%s') has %lld values; at most %d are supported", what, t->name, (long long)n,
                max);
        return -1;
    }
    for (int64_t i = 0; i < n; i++) out[i] = lp_get_i64(t->dtype, t->data, i);
    return (int)n;
}

int lp_known_ints(lp_ctx *c, const lp_node *n, int k, int64_t *out, int max) {
    if (!lp_has_in(n, k)) return -1;
    lp_tensor *t = lp_in(c, n, k);
    if (t->flags & LP_T_CONST) {
        int64_t cnt = lp_tensor_numel(t);
        if (cnt < 0 || cnt > max || (!lp_dtype_is_int(t->dtype) && t->dtype != LP_DT_BOOL)) return -1;
        for (int64_t i = 0; i < cnt; i++) out[i] = lp_get_i64(t->dtype, t->data, i);
        return (int)cnt;
    }
    if (t->sv && lp_sv_known(t->sv) && t->sv->n <= max) {
        for (int i = 0; i < t->sv->n; i++) out[i] = t->sv->v[i];
        return t->sv->n;
    }
    return -1;
}

int lp_const_scalar(lp_ctx *c, int tid, double *out) {
    if (tid < 0) return 0;
    lp_tensor *t = &c->g->t[tid];
    if (!(t->flags & LP_T_CONST) || lp_tensor_numel(t) != 1) return 0;
    *out = lp_get_f64(t->dtype, t->data, 0);
    return 1;
}

/* ---------------- attributes ---------------- */

static const lp_attr *attr_typed(lp_ctx *c, const lp_node *n, const char *name, lp_attr_type want,
                                 const char *want_name) {
    const lp_attr *a = lp_node_attr(n, name);
    if (!a) return NULL;
    if (a->type != want) {
        lp_fail(c, LP_ERR_INVALID, "attribute '%s' must be %s", name, want_name);
        return NULL;
    }
    return a;
}

int64_t lp_attr_i(lp_ctx *c, const lp_node *n, const char *name, int64_t def) {
    const lp_attr *a = attr_typed(c, n, name, LP_ATTR_INT, "an int");
    return a ? a->i : def;
}

float lp_attr_f(lp_ctx *c, const lp_node *n, const char *name, float def) {
    const lp_attr *a = lp_node_attr(n, name);
    if (a && a->type == LP_ATTR_INT) return (float)a->i; /* some exporters write 0 for 0.0 */
    a = attr_typed(c, n, name, LP_ATTR_FLOAT, "a float");
    return a ? a->f : def;
}

const char *lp_attr_s(lp_ctx *c, const lp_node *n, const char *name, const char *def) {
    const lp_attr *a = attr_typed(c, n, name, LP_ATTR_STRING, "a string");
    return a ? a->s : def;
}

int lp_attr_ints(lp_ctx *c, const lp_node *n, const char *name, int64_t *out, int max) {
    const lp_attr *a = attr_typed(c, n, name, LP_ATTR_INTS, "a list of ints");
    if (!a) return -1;
    if (a->n > max) {
        lp_fail(c, LP_ERR_LIMIT, "attribute '%s' has %d values; at most %d are supported", name, a->n, max);
        return -1;
    }
    for (int i = 0; i < a->n; i++) out[i] = a->ints[i];
    return a->n;
}

int lp_attr_floats(lp_ctx *c, const lp_node *n, const char *name, float *out, int max) {
    const lp_attr *a = attr_typed(c, n, name, LP_ATTR_FLOATS, "a list of floats");
    if (!a) return -1;
    if (a->n > max) {
        lp_fail(c, LP_ERR_LIMIT, "attribute '%s' has %d values; at most %d are supported", name, a->n, max);
        return -1;
    }
    for (int i = 0; i < a->n; i++) out[i] = a->floats[i];
    return a->n;
}

/* ---------------- shapes ---------------- */

lp_status lp_broadcast(lp_ctx *c, const lp_tensor *a, const lp_tensor *b, int *rank, int64_t *dims) {
    if (a->rank < 0 || b->rank < 0) {
        *rank = -1;
        return LP_OK;
    }
    int r = a->rank > b->rank ? a->rank : b->rank;
    for (int i = 0; i < r; i++) {
        int ia = i - (r - a->rank), ib = i - (r - b->rank);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        int64_t d;
        if (da == db) d = da;
        else if (da == 1) d = db;
        else if (db == 1) d = da;
        else if (da >= 0 && db >= 0)
            return lp_fail(c, LP_ERR_INVALID, "shapes of '%s' and '%s' do not broadcast (dimension %d: %lld vs %lld)",
                           a->name, b->name, i, (long long)da, (long long)db);
        else if (da >= 0) d = da; /* a symbolic dim must equal the known one */
        else if (db >= 0) d = db;
        else d = da;              /* two different symbols: assume the first */
        dims[i] = d;
    }
    *rank = r;
    return LP_OK;
}

lp_status lp_axis(lp_ctx *c, int64_t axis, int rank, int *out, const char *what) {
    if (axis < -rank || axis >= rank)
        return lp_fail(c, LP_ERR_INVALID, "%s %lld is out of range for rank %d", what, (long long)axis, rank);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return LP_OK;
}

lp_status lp_need_rank(lp_ctx *c, const lp_tensor *t, const char *what) {
    if (t->rank < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "the rank of %s '%s' is unknown", what, t->name);
    return LP_OK;
}

lp_status lp_need_shape(lp_ctx *c, const lp_tensor *t, const char *what) {
    LP_TRY(lp_need_rank(c, t, what));
    for (int i = 0; i < t->rank; i++)
        if (t->dims[i] < 0)
            return lp_fail(c, LP_ERR_UNSUPPORTED, "dimension %d of %s '%s' must be static here", i, what, t->name);
    return LP_OK;
}

int lp_dims_equal(const int64_t *a, const int64_t *b, int rank) {
    for (int i = 0; i < rank; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

lp_symval *lp_sv_new(lp_ctx *c, int n) {
    if (n > LP_MAX_SV) return NULL;
    lp_symval *sv = lp_arena_alloc(&c->g->arena, sizeof *sv);
    if (sv) sv->n = n;
    return sv;
}

int lp_sv_known(const lp_symval *sv) {
    for (int i = 0; i < sv->n; i++)
        if (sv->sym[i]) return 0;
    return 1;
}

int lp_sv_get(lp_ctx *c, int tid, lp_symval *out) {
    if (tid < 0) return 0;
    lp_tensor *t = &c->g->t[tid];
    if (t->sv) {
        *out = *t->sv;
        return 1;
    }
    if ((t->flags & LP_T_CONST) && (lp_dtype_is_int(t->dtype) || t->dtype == LP_DT_BOOL)) {
        int64_t n = lp_tensor_numel(t);
        if (n < 0 || n > LP_MAX_SV || t->rank > 1) return 0;
        memset(out, 0, sizeof *out);
        out->n = (int)n;
        for (int64_t i = 0; i < n; i++) out->v[i] = lp_get_i64(t->dtype, t->data, i);
        return 1;
    }
    return 0;
}

lp_status lp_sv_set(lp_ctx *c, int tid, const lp_symval *sv) {
    lp_symval *p = lp_arena_dup(&c->g->arena, sv, sizeof *sv);
    if (!p) return lp_fail(c, LP_ERR_NOMEM, "out of memory");
    c->g->t[tid].sv = p;
    return LP_OK;
}

void lp_strides(int rank, const int64_t *dims, int64_t *strides) {
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        strides[i] = s;
        s *= dims[i] > 0 ? dims[i] : 1;
    }
}

lp_status lp_sv_materialize(lp_ctx *c, int tid) {
    lp_tensor *t = &c->g->t[tid];
    if (!t->sv || !lp_sv_known(t->sv) || (!lp_dtype_is_int(t->dtype) && t->dtype != LP_DT_BOOL)) return LP_OK;
    size_t es = lp_dtype_size(t->dtype);
    void *p = lp_arena_alloc(&c->g->arena, es * (size_t)(t->sv->n ? t->sv->n : 1));
    if (!p) return lp_fail(c, LP_ERR_NOMEM, "out of memory");
    for (int i = 0; i < t->sv->n; i++) lp_set_i64(t->dtype, p, i, t->sv->v[i]);
    t->data = p;
    t->nbytes = es * (size_t)t->sv->n;
    t->flags |= LP_T_CONST | LP_T_OWNED;
    return LP_OK;
}

/* ---------------- emitters ---------------- */

int lp_emit_tensor(lp_ctx *c, lp_dtype dt, int rank, const int64_t *dims, const char *hint) {
    char name[512];
    snprintf(name, sizeof name, "%s/%s", c->cur.name, hint ? hint : "t");
    return lp_graph_add_tensor(c->g, name, dt, rank, dims);
}

int lp_emit_const(lp_ctx *c, lp_dtype dt, int rank, const int64_t *dims, const void *data, const char *hint) {
    char name[512];
    snprintf(name, sizeof name, "%s/%s", c->cur.name, hint ? hint : "const");
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    return lp_graph_add_const(c->g, name, dt, rank, dims, data, (size_t)n * lp_dtype_size(dt), 1);
}

int lp_emit_permuted(lp_ctx *c, int src, int vrank, const int64_t *vdims, const int *perm, const char *hint) {
    char name[512];
    snprintf(name, sizeof name, "%s/%s", c->cur.name, hint ? hint : "const");
    return lp_graph_add_permuted(c->g, name, src, vrank, vdims, perm);
}

int lp_emit_gathered(lp_ctx *c, int src, int vrank, const int64_t *vdims, int axis, const int64_t *index,
                     int64_t n_index, const char *hint) {
    char name[512];
    snprintf(name, sizeof name, "%s/%s", c->cur.name, hint ? hint : "const");
    return lp_graph_add_gathered(c->g, name, src, vrank, vdims, axis, index, n_index);
}

int lp_emit_i32(lp_ctx *c, const int32_t *v, int n, const char *hint) {
    int64_t d = n;
    return lp_emit_const(c, LP_DT_I32, 1, &d, v, hint);
}

int lp_emit_i32_dims(lp_ctx *c, const int64_t *v, int n, const char *hint) {
    int32_t tmp[LP_MAX_RANK * 2 + 2];
    if (n > (int)(sizeof tmp / sizeof tmp[0])) return -1;
    for (int i = 0; i < n; i++) tmp[i] = v[i] < 0 ? -1 : (int32_t)v[i];
    return lp_emit_i32(c, tmp, n, hint);
}

int lp_emit_f32_scalar(lp_ctx *c, float v, const char *hint) { return lp_emit_const(c, LP_DT_F32, 0, NULL, &v, hint); }

int lp_emit_scalar(lp_ctx *c, lp_dtype dt, double v, const char *hint) {
    uint8_t buf[16] = {0};
    lp_set_f64(dt, buf, 0, v);
    return lp_emit_const(c, dt, 0, NULL, buf, hint);
}

int lp_emit_op(lp_ctx *c, lp_op op, const int *in, int n_in, const int *out, int n_out) {
    char name[512];
    snprintf(name, sizeof name, "%s", c->cur.name);
    int id = lp_graph_add_node(c->g, op, name, in, n_in, out, n_out);
    if (id >= 0) {
        c->g->n[id].origin = c->cur.origin;
        c->g->n[id].opset = c->cur.opset;
    }
    return id;
}

lp_tfl_params *lp_emit_params(lp_ctx *c, int node) { return &c->g->n[node].p; }

int lp_emit_transpose(lp_ctx *c, int x, const int *perm, int out) {
    lp_tensor *t = &c->g->t[x];
    int rank = t->rank;
    int64_t dims[LP_MAX_RANK];
    int32_t p32[LP_MAX_RANK];
    for (int i = 0; i < rank; i++) {
        dims[i] = t->dims[perm[i]];
        p32[i] = perm[i];
    }
    lp_dtype dt = t->dtype;
    if (out < 0) out = lp_emit_tensor(c, dt, rank, dims, "transposed");
    int pc = lp_emit_i32(c, p32, rank, "perm");
    if (out < 0 || pc < 0) return -1;
    int in[2] = {x, pc};
    if (lp_emit_op(c, LP_TFL_TRANSPOSE, in, 2, &out, 1) < 0) return -1;
    return out;
}

/* ---------------- run-time dims ---------------- */

/* a tensor whose SHAPE may be read now: computed already (a graph input or produced by an op
 * emitted before), so reading it cannot make a cycle */
static int dims_readable(lp_ctx *c, int t) {
    if (t < 0 || t >= c->g->n_t) return 0;
    const lp_tensor *T = &c->g->t[t];
    if (T->flags & LP_T_CONST) return 0;
    return (T->flags & LP_T_INPUT) || T->producer >= 0;
}

static int axis_of_sym(const lp_tensor *T, int64_t d) {
    for (int i = 0; i < T->rank; i++)
        if (T->dims[i] == d) return i;
    return -1;
}

/* a readable tensor with symbol d in its dims (and the axis), or -1 */
static int sym_source(lp_ctx *c, int64_t d, int prefer, int *axis) {
    if (d == LP_DIM_UNKNOWN) return -1;
    int64_t k = -d;
    /* a graph input that carries the symbol first: it is alive anyway, and every reader of the
     * same sizes then shares one SHAPE (and the shape arithmetic after it merges, fuse.c) */
    if (k < c->n_sym_src && c->sym_src && c->sym_src[k] >= 0 && (c->g->t[c->sym_src[k]].flags & LP_T_INPUT)) {
        int t = c->sym_src[k];
        *axis = c->sym_axis[k];
        if (*axis < c->g->t[t].rank && c->g->t[t].dims[*axis] == d) return t;
    }
    if (prefer >= 0 && dims_readable(c, prefer) && (*axis = axis_of_sym(&c->g->t[prefer], d)) >= 0) return prefer;
    for (int j = 0; j < c->cur.n_in; j++) {
        int t = c->cur.in[j];
        if (dims_readable(c, t) && (*axis = axis_of_sym(&c->g->t[t], d)) >= 0) return t;
    }
    if (k < c->n_sym_src && c->sym_src && c->sym_src[k] >= 0 && dims_readable(c, c->sym_src[k])) {
        int t = c->sym_src[k];
        *axis = c->sym_axis[k];
        if (*axis < c->g->t[t].rank && c->g->t[t].dims[*axis] == d) return t;
    }
    return -1;
}

/* sources per entry: src[i] tensor (-1: a known value, or a free -1 entry), ax[i] its axis */
static int dims_plan(lp_ctx *c, int rank, const int64_t *dims, int prefer, int minus, int *src, int *ax) {
    int n_free = 0;
    for (int i = 0; i < rank; i++) {
        src[i] = -1;
        ax[i] = 0;
        if (dims[i] >= 0) continue;
        src[i] = sym_source(c, dims[i], prefer, &ax[i]);
        if (src[i] < 0) n_free++;
    }
    return n_free <= (minus ? 1 : 0);
}

int lp_dims_computable(lp_ctx *c, int rank, const int64_t *dims, int prefer, int minus) {
    int src[LP_MAX_RANK], ax[LP_MAX_RANK];
    return rank <= LP_MAX_RANK && dims_plan(c, rank, dims, prefer, minus, src, ax);
}

int lp_emit_dims(lp_ctx *c, int rank, const int64_t *dims, int prefer, int minus) {
    int src[LP_MAX_RANK], ax[LP_MAX_RANK];
    if (rank > LP_MAX_RANK) return lp_fail(c, LP_ERR_LIMIT, "rank %d", rank), -1;
    if (!dims_plan(c, rank, dims, prefer, minus, src, ax)) {
        char buf[160];
        lp_tensor tmp = {0};
        tmp.rank = rank;
        memcpy(tmp.dims, dims, sizeof(int64_t) * (size_t)rank);
        lp_fail(c, LP_ERR_UNSUPPORTED, "the shape %s depends on run-time sizes that no computed tensor carries",
                lp_shape_str(c->g, &tmp, buf, sizeof buf));
        return -1;
    }
    /* distinct source tensors, each read once with SHAPE; then one GATHER from
     * CONCAT(SHAPE(s_1), ..., SHAPE(s_m), constants) */
    int srcs[LP_MAX_RANK], base[LP_MAX_RANK + 1], m = 0, total = 0;
    int32_t konst[LP_MAX_RANK], pick[LP_MAX_RANK];
    int nk = 0;
    for (int i = 0; i < rank; i++) {
        if (src[i] < 0) continue;
        int j;
        for (j = 0; j < m; j++)
            if (srcs[j] == src[i]) break;
        if (j == m) {
            srcs[m] = src[i];
            base[m] = total;
            total += c->g->t[src[i]].rank;
            m++;
        }
    }
    for (int i = 0; i < rank; i++) {
        if (src[i] >= 0) {
            int j = 0;
            while (srcs[j] != src[i]) j++;
            pick[i] = base[j] + ax[i];
        } else {
            konst[nk] = dims[i] >= 0 ? (int32_t)dims[i] : -1;
            pick[i] = total + nk++;
        }
    }
    if (m == 0) return lp_emit_i32(c, konst, nk, "shape");
    int parts[LP_MAX_RANK + 1] = {0};
    for (int j = 0; j < m; j++) {
        int64_t r = c->g->t[srcs[j]].rank;
        int s = lp_emit_tensor(c, LP_DT_I32, 1, &r, "shape_of");
        int id = s < 0 ? -1 : lp_emit_op(c, LP_TFL_SHAPE, &srcs[j], 1, &s, 1);
        if (id < 0) return -1;
        lp_emit_params(c, id)->out_type = LP_DT_I32;
        parts[j] = s;
    }
    int np = m;
    if (nk) {
        parts[np] = lp_emit_i32(c, konst, nk, "known_dims");
        if (parts[np++] < 0) return -1;
    }
    int all = parts[0];
    int64_t len = total + nk;
    if (np > 1) {
        all = lp_emit_tensor(c, LP_DT_I32, 1, &len, "dims_pool");
        int id = all < 0 ? -1 : lp_emit_op(c, LP_TFL_CONCATENATION, parts, np, &all, 1);
        if (id < 0) return -1;
        lp_emit_params(c, id)->axis = 0;
    }
    int identity = rank == len;
    for (int i = 0; i < rank && identity; i++) identity = pick[i] == i;
    if (identity) return all;
    int pi = lp_emit_i32(c, pick, rank, "dims_pick");
    int64_t r64 = rank;
    int y = lp_emit_tensor(c, LP_DT_I32, 1, &r64, "dims");
    int in[2] = {all, pi};
    int id = (pi < 0 || y < 0) ? -1 : lp_emit_op(c, LP_TFL_GATHER, in, 2, &y, 1);
    if (id < 0) return -1;
    lp_emit_params(c, id)->axis = 0;
    return y;
}

int lp_emit_sym(lp_ctx *c, int64_t d, int prefer) {
    int ax;
    int s = sym_source(c, d, prefer, &ax);
    if (d >= 0 || s < 0) {
        lp_fail(c, LP_ERR_UNSUPPORTED, "a run-time size that no computed tensor carries");
        return -1;
    }
    int64_t r = c->g->t[s].rank;
    int sh = lp_emit_tensor(c, LP_DT_I32, 1, &r, "shape_of");
    int id = sh < 0 ? -1 : lp_emit_op(c, LP_TFL_SHAPE, &s, 1, &sh, 1);
    if (id < 0) return -1;
    lp_emit_params(c, id)->out_type = LP_DT_I32;
    int32_t a = ax;
    int ai = lp_emit_const(c, LP_DT_I32, 0, NULL, &a, "axis");
    int y = lp_emit_tensor(c, LP_DT_I32, 0, NULL, "size");
    int in[2] = {sh, ai};
    id = (ai < 0 || y < 0) ? -1 : lp_emit_op(c, LP_TFL_GATHER, in, 2, &y, 1);
    if (id < 0) return -1;
    lp_emit_params(c, id)->axis = 0;
    return y;
}

int lp_emit_reshape(lp_ctx *c, int x, int rank, const int64_t *dims, int out) {
    lp_tensor *t = &c->g->t[x];
    lp_dtype dt = t->dtype;
    if (out < 0) out = lp_emit_tensor(c, dt, rank, dims, "reshaped");
    if (out < 0) return -1;
    /* at most one dynamic dim can be written as -1; more are read at run time */
    int n_dyn = 0;
    for (int i = 0; i < rank; i++) n_dyn += dims[i] < 0;
    int sc = n_dyn > 1 ? lp_emit_dims(c, rank, dims, x, 1) : lp_emit_i32_dims(c, dims, rank, "shape");
    if (sc < 0) return -1;
    int in[2] = {x, sc};
    int id = lp_emit_op(c, LP_TFL_RESHAPE, in, 2, &out, 1);
    if (id < 0) return -1;
    return out;
}

void lp_perm_to_last(int rank, int *perm) {
    perm[0] = 0;
    for (int i = 1; i < rank - 1; i++) perm[i] = i + 1;
    perm[rank - 1] = 1;
}

void lp_perm_to_first(int rank, int *perm) {
    perm[0] = 0;
    perm[1] = rank - 1;
    for (int i = 2; i < rank; i++) perm[i] = i - 1;
}

/* the last node added (a TRANSPOSE) is marked as a layout transpose */
static int mark_layout(lp_ctx *c, int ret) {
    if (ret >= 0) c->g->n[c->g->n_n - 1].layout = 1;
    return ret;
}

int lp_emit_layout_transpose(lp_ctx *c, int x, const int *perm, int out) {
    return mark_layout(c, lp_emit_transpose(c, x, perm, out));
}

int lp_emit_to_last(lp_ctx *c, int x) {
    int perm[LP_MAX_RANK];
    lp_perm_to_last(c->g->t[x].rank, perm);
    return mark_layout(c, lp_emit_transpose(c, x, perm, -1));
}

int lp_emit_from_last(lp_ctx *c, int out) {
    lp_tensor *t = &c->g->t[out];
    int rank = t->rank;
    int to_last[LP_MAX_RANK], to_first[LP_MAX_RANK];
    lp_perm_to_last(rank, to_last);
    lp_perm_to_first(rank, to_first);
    int64_t dims[LP_MAX_RANK];
    for (int i = 0; i < rank; i++) dims[i] = t->dims[to_last[i]];
    int nhwc = lp_emit_tensor(c, t->dtype, rank, dims, "nhwc");
    if (nhwc < 0) return -1;
    if (mark_layout(c, lp_emit_transpose(c, nhwc, to_first, out)) < 0) return -1;
    return nhwc;
}

int lp_emit_identity(lp_ctx *c, int x, int out) {
    lp_tensor *t = &c->g->t[x];
    return lp_emit_reshape(c, x, t->rank, t->dims, out);
}

int lp_emit_cast(lp_ctx *c, int x, lp_dtype to, int out) {
    /* copies, not a pointer: adding the output tensor may move the tensor array */
    lp_dtype from = c->g->t[x].dtype;
    if (out < 0 && from == LP_DT_I64 && to == LP_DT_I32 && x < c->n_i32_of && c->i32_of[x] >= 0) return c->i32_of[x];
    int rank = c->g->t[x].rank;
    int64_t dims[LP_MAX_RANK];
    memcpy(dims, c->g->t[x].dims, sizeof dims);
    if (out < 0) out = lp_emit_tensor(c, to, rank, dims, "cast");
    if (out < 0) return -1;
    int id = lp_emit_op(c, LP_TFL_CAST, &x, 1, &out, 1);
    if (id < 0) return -1;
    c->g->n[id].p.in_type = from;
    c->g->n[id].p.out_type = to;
    return out;
}

void *lp_permute_data(lp_ctx *c, const lp_tensor *t, const int *perm, int64_t *out_dims) {
    int rank = t->rank;
    int64_t n = lp_tensor_numel(t);
    size_t es = lp_dtype_size(t->dtype);
    if (n < 0 || es == 0) {
        lp_fail(c, LP_ERR_INTERNAL, "cannot permute constant '%s'", t->name);
        return NULL;
    }
    uint8_t *dst = lp_arena_alloc_raw(&c->g->arena, (size_t)n * es);
    if (!dst) {
        lp_fail(c, LP_ERR_NOMEM, "out of memory permuting '%s'", t->name);
        return NULL;
    }
    int64_t in_strides[LP_MAX_RANK], idx[LP_MAX_RANK] = {0};
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        in_strides[i] = s;
        s *= t->dims[i];
    }
    for (int i = 0; i < rank; i++) out_dims[i] = t->dims[perm[i]];
    const uint8_t *src = t->data;
    if (t->lazy) { /* a lazily transformed source is computed first */
        uint8_t *m = lp_arena_alloc_raw(&c->g->arena, (size_t)n * es);
        if (!m) {
            lp_fail(c, LP_ERR_NOMEM, "out of memory permuting '%s'", t->name);
            return NULL;
        }
        lp_tensor_read(t, 0, m, (size_t)n * es);
        src = m;
    }
    /* walk the output in row-major order; the innermost output axis is a strided run of the input */
    int64_t inner = rank ? out_dims[rank - 1] : 1, istride = rank ? in_strides[perm[rank - 1]] : 1;
    if (inner <= 0) return dst;
    for (int64_t o = 0; o < n; o += inner) {
        int64_t off = 0;
        for (int i = 0; i < rank - 1; i++) off += idx[i] * in_strides[perm[i]];
        uint8_t *d = dst + (size_t)o * es;
        const uint8_t *s = src + (size_t)off * es;
        if (es == 4)
            for (int64_t k = 0; k < inner; k++) memcpy(d + 4 * k, s + 4 * k * istride, 4);
        else
            for (int64_t k = 0; k < inner; k++) memcpy(d + (size_t)k * es, s + (size_t)(k * istride) * es, es);
        for (int i = rank - 2; i >= 0; i--) {
            if (++idx[i] < out_dims[i]) break;
            idx[i] = 0;
        }
    }
    return dst;
}
