#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

/* ---------------- dtypes ---------------- */

static const struct {
    const char *name;
    size_t size;
} dtype_info[LP_DT_COUNT] = {
    [LP_DT_UNDEF] = {"undefined", 0}, [LP_DT_F32] = {"float32", 4}, [LP_DT_F16] = {"float16", 2},
    [LP_DT_BF16] = {"bfloat16", 2},   [LP_DT_F64] = {"float64", 8}, [LP_DT_I8] = {"int8", 1},
    [LP_DT_I16] = {"int16", 2},       [LP_DT_I32] = {"int32", 4},   [LP_DT_I64] = {"int64", 8},
    [LP_DT_U8] = {"uint8", 1},        [LP_DT_U16] = {"uint16", 2},  [LP_DT_U32] = {"uint32", 4},
    [LP_DT_U64] = {"uint64", 8},      [LP_DT_BOOL] = {"bool", 1},   [LP_DT_STRING] = {"string", 0},
    [LP_DT_C64] = {"complex64", 8},   [LP_DT_C128] = {"complex128", 16}, [LP_DT_F8] = {"float8", 1},
    [LP_DT_I4] = {"int4", 0},         [LP_DT_U4] = {"uint4", 0},    [LP_DT_OTHER] = {"unsupported type", 0},
};

size_t lp_dtype_size(lp_dtype t) { return (unsigned)t < LP_DT_COUNT ? dtype_info[t].size : 0; }
const char *lp_dtype_name(lp_dtype t) { return (unsigned)t < LP_DT_COUNT ? dtype_info[t].name : "?"; }
int lp_dtype_is_float(lp_dtype t) {
    return t == LP_DT_F32 || t == LP_DT_F16 || t == LP_DT_BF16 || t == LP_DT_F64;
}
int lp_dtype_is_int(lp_dtype t) {
    return t == LP_DT_I8 || t == LP_DT_I16 || t == LP_DT_I32 || t == LP_DT_I64 || t == LP_DT_U8 ||
           t == LP_DT_U16 || t == LP_DT_U32 || t == LP_DT_U64;
}

/* ---------------- op names ---------------- */

static const char *const op_names[LP_OP_COUNT] = {
#define LP_ONNX_OP(name, a, b, c, d) [LP_OP_##name] = #name,
#include "../ops/onnx_ops.def"
#undef LP_ONNX_OP
    [LP_OP_ONNX_END] = "<onnx end>",
#define LP_TFL_OP(name, code, opt) [LP_TFL_##name] = #name,
#include "../ops/tfl_ops.def"
#undef LP_TFL_OP
};

const char *lp_op_name(lp_op op) { return (unsigned)op < LP_OP_COUNT ? op_names[op] : "?"; }
int lp_op_is_tfl(lp_op op) { return op > LP_OP_ONNX_END && op < LP_OP_COUNT; }

int lp_op_from_onnx_name(const char *name) {
    for (int i = 0; i < LP_OP_ONNX_END; i++)
        if (strcmp(op_names[i], name) == 0) return i;
    return -1;
}

/* ---------------- graph ---------------- */

lp_graph *lp_graph_new(lp_err *err) {
    lp_graph *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    lp_arena_init(&g->arena);
    g->err = err;
    /* symbol 1 (dim -1) is reserved for "some size": code that writes -1 for a dynamic dim says
     * nothing about which size it is, so -1 never names a real symbol */
    if (lp_graph_new_sym(g, NULL) != LP_DIM_UNKNOWN) {
        lp_graph_free(g);
        return NULL;
    }
    return g;
}

void lp_graph_free(lp_graph *g) {
    if (!g) return;
    free(g->t);
    free(g->n);
    free(g->sym_names);
    free(g->origin_names);
    free(g->origin_ops);
    lp_ivec_free(&g->inputs);
    lp_ivec_free(&g->outputs);
    lp_arena_free(&g->arena);
    free(g);
}

static int grow(void **p, int *cap, int need, size_t elem) {
    if (need <= *cap) return 1;
    int nc = *cap ? *cap : 64;
    while (nc < need) {
        if (nc > (1 << 29)) return 0;
        nc *= 2;
    }
    void *q = realloc(*p, (size_t)nc * elem);
    if (!q) return 0;
    memset((char *)q + (size_t)*cap * elem, 0, (size_t)(nc - *cap) * elem);
    *p = q;
    *cap = nc;
    return 1;
}

int lp_graph_add_tensor(lp_graph *g, const char *name, lp_dtype dt, int rank, const int64_t *dims) {
    if (g->n_t >= LP_MAX_TENSORS) {
        lp_err_set(g->err, LP_ERR_LIMIT, "more than %d tensors", LP_MAX_TENSORS);
        return -1;
    }
    if (rank > LP_MAX_RANK) {
        lp_err_set(g->err, LP_ERR_LIMIT, "tensor '%s' has rank %d; at most %d is supported", name ? name : "",
                   rank, LP_MAX_RANK);
        return -1;
    }
    const char *bad = dims && rank > 0 ? lp_dims_check(NULL, rank, dims) : NULL;
    if (bad) {
        lp_tensor tmp = {.rank = rank};
        memcpy(tmp.dims, dims, sizeof(int64_t) * (size_t)rank);
        char sh[200];
        lp_err_set(g->err, LP_ERR_LIMIT, "tensor '%s' has shape %s: %s", name ? name : "",
                   lp_shape_str(g, &tmp, sh, sizeof sh), bad);
        return -1;
    }
    /* dims (and name) may point into the tensor array itself (another tensor's dims), which
     * growing can move: copied first */
    int64_t d[LP_MAX_RANK] = {0};
    if (dims && rank > 0) memcpy(d, dims, sizeof(int64_t) * (size_t)rank);
    char *nm = name ? lp_arena_strdup(&g->arena, name) : "";
    if (!nm) {
        lp_err_set(g->err, LP_ERR_NOMEM, "out of memory");
        return -1;
    }
    if (!grow((void **)&g->t, &g->cap_t, g->n_t + 1, sizeof(lp_tensor))) {
        lp_err_set(g->err, LP_ERR_NOMEM, "out of memory");
        return -1;
    }
    lp_tensor *t = &g->t[g->n_t];
    memset(t, 0, sizeof *t);
    t->name = nm;
    t->dtype = dt;
    t->rank = rank;
    for (int i = 0; i < rank && i < LP_MAX_RANK; i++) t->dims[i] = d[i];
    t->producer = -1;
    return g->n_t++;
}

int lp_graph_reserve(lp_graph *g, int extra) {
    if (!grow((void **)&g->t, &g->cap_t, g->n_t + extra, sizeof(lp_tensor))) {
        lp_err_set(g->err, LP_ERR_NOMEM, "out of memory");
        return 0;
    }
    return 1;
}

int lp_graph_add_const(lp_graph *g, const char *name, lp_dtype dt, int rank, const int64_t *dims,
                       const void *data, size_t nbytes, int copy) {
    int id = lp_graph_add_tensor(g, name, dt, rank, dims);
    if (id < 0) return -1;
    lp_tensor *t = &g->t[id];
    if (copy) {
        void *p = lp_arena_dup(&g->arena, data, nbytes);
        if (!p) {
            lp_err_set(g->err, LP_ERR_NOMEM, "out of memory copying constant '%s'", t->name);
            return -1;
        }
        t->data = p;
        t->flags |= LP_T_OWNED;
    } else {
        t->data = data ? data : "";
    }
    t->nbytes = nbytes;
    t->flags |= LP_T_CONST;
    return id;
}

int64_t lp_graph_new_sym(lp_graph *g, const char *name) {
    if (!grow((void **)&g->sym_names, &g->cap_sym, g->n_sym + 2, sizeof(char *))) {
        lp_err_set(g->err, LP_ERR_NOMEM, "out of memory");
        return -1;
    }
    g->n_sym++;
    g->sym_names[g->n_sym] = name ? lp_arena_strdup(&g->arena, name) : NULL;
    return -(int64_t)g->n_sym;
}

int lp_graph_add_node(lp_graph *g, lp_op op, const char *name, const int *in, int n_in, const int *out,
                      int n_out) {
    if (g->n_n >= LP_MAX_NODES) {
        lp_err_set(g->err, LP_ERR_LIMIT, "more than %d nodes", LP_MAX_NODES);
        return -1;
    }
    if (!grow((void **)&g->n, &g->cap_n, g->n_n + 1, sizeof(lp_node))) {
        lp_err_set(g->err, LP_ERR_NOMEM, "out of memory");
        return -1;
    }
    lp_node *n = &g->n[g->n_n];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->name = lp_arena_strdup(&g->arena, name ? name : "");
    n->in = lp_arena_alloc(&g->arena, sizeof(int) * (size_t)(n_in ? n_in : 1));
    n->out = lp_arena_alloc(&g->arena, sizeof(int) * (size_t)(n_out ? n_out : 1));
    if (!n->name || !n->in || !n->out) {
        lp_err_set(g->err, LP_ERR_NOMEM, "out of memory");
        return -1;
    }
    if (n_in) memcpy(n->in, in, sizeof(int) * (size_t)n_in);
    if (n_out) memcpy(n->out, out, sizeof(int) * (size_t)n_out);
    n->n_in = n_in;
    n->n_out = n_out;
    n->origin = -1;
    for (int i = 0; i < n_out; i++)
        if (out[i] >= 0) g->t[out[i]].producer = g->n_n;
    return g->n_n++;
}

void lp_graph_replace_uses(lp_graph *g, int from, int to) {
    for (int i = 0; i < g->n_n; i++) {
        lp_node *n = &g->n[i];
        if (n->dead) continue;
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] == from) n->in[j] = to;
    }
}

int lp_node_set_inputs(lp_graph *g, int node, const int *in, int n_in) {
    int *p = lp_arena_alloc(&g->arena, sizeof(int) * (size_t)(n_in ? n_in : 1));
    if (!p) {
        lp_err_set(g->err, LP_ERR_NOMEM, "out of memory");
        return 0;
    }
    if (n_in) memcpy(p, in, sizeof(int) * (size_t)n_in);
    g->n[node].in = p;
    g->n[node].n_in = n_in;
    return 1;
}

int lp_graph_add_origin(lp_graph *g, const char *name, const char *op_type) {
    if (g->n_origin == g->cap_origin) {
        int nc = g->cap_origin ? g->cap_origin * 2 : 64;
        const char **names = realloc(g->origin_names, sizeof(char *) * (size_t)nc);
        if (!names) return -1;
        g->origin_names = names;
        const char **ops = realloc(g->origin_ops, sizeof(char *) * (size_t)nc);
        if (!ops) return -1;
        g->origin_ops = ops;
        g->cap_origin = nc;
    }
    g->origin_names[g->n_origin] = name;
    g->origin_ops[g->n_origin] = op_type;
    return g->n_origin++;
}

const char *lp_dims_check(const lp_graph *g, int rank, const int64_t *dims) {
    if (rank > LP_MAX_RANK) return "rank above 8";
    int64_t p = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0 && g && dims[i] < -(int64_t)g->n_sym) return "a negative dimension";
        if (dims[i] > LP_MAX_DIM) return "a dimension above 2147483647 (TFLite stores dimensions as int32)";
        if (dims[i] > 0 && (!lp_mul_i64(p, dims[i], &p) || p > LP_MAX_ELEMENTS))
            return "more than 2^40 elements";
    }
    return NULL;
}

int64_t lp_tensor_numel(const lp_tensor *t) {
    if (t->rank < 0) return -1;
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++) {
        if (t->dims[i] < 0) return -1;
        if (!lp_mul_i64(n, t->dims[i], &n)) return -1;
    }
    return n;
}

int lp_tensor_is_const(const lp_graph *g, int id) {
    return id >= 0 && id < g->n_t && (g->t[id].flags & LP_T_CONST);
}

int lp_tensor_shape_known(const lp_tensor *t) { return lp_tensor_numel(t) >= 0; }

const char *lp_shape_str(const lp_graph *g, const lp_tensor *t, char *buf, size_t n) {
    size_t k = 0;
    if (t->rank < 0) {
        snprintf(buf, n, "[?]");
        return buf;
    }
    k += (size_t)snprintf(buf + k, n - k, "[");
    for (int i = 0; i < t->rank && k < n; i++) {
        int64_t d = t->dims[i];
        const char *sep = i ? "," : "";
        if (d >= 0) {
            k += (size_t)snprintf(buf + k, n - k, "%s%lld", sep, (long long)d);
        } else {
            const char *nm = (d >= -(int64_t)g->n_sym) ? g->sym_names[-d] : NULL;
            if (nm)
                k += (size_t)snprintf(buf + k, n - k, "%s%s", sep, nm);
            else
                k += (size_t)snprintf(buf + k, n - k, "%s?", sep);
        }
    }
    if (k < n) snprintf(buf + k, n - k, "]");
    return buf;
}

/* ---------------- consumers ---------------- */

int lp_uses_build(const lp_graph *g, lp_uses *u) {
    u->start = calloc((size_t)g->n_t + 2, sizeof(int));
    if (!u->start) return 0;
    int total = 0;
    for (int i = 0; i < g->n_n; i++) {
        const lp_node *n = &g->n[i];
        if (n->dead) continue;
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0) {
                u->start[n->in[j] + 1]++;
                total++;
            }
    }
    for (int t = 0; t < g->n_t; t++) u->start[t + 1] += u->start[t];
    u->list = malloc(sizeof(int) * (size_t)(total ? total : 1));
    int *fill = malloc(sizeof(int) * (size_t)(g->n_t + 1));
    if (!u->list || !fill) {
        free(fill);
        lp_uses_free(u);
        return 0;
    }
    memcpy(fill, u->start, sizeof(int) * (size_t)(g->n_t + 1));
    for (int i = 0; i < g->n_n; i++) {
        const lp_node *n = &g->n[i];
        if (n->dead) continue;
        for (int j = 0; j < n->n_in; j++) {
            int t = n->in[j];
            if (t < 0) continue;
            /* a node that uses a tensor twice is listed twice */
            u->list[fill[t]++] = i;
        }
    }
    free(fill);
    return 1;
}

void lp_uses_free(lp_uses *u) {
    free(u->start);
    free(u->list);
    u->start = u->list = NULL;
}

/* ---------------- topological order ---------------- */

lp_status lp_graph_toposort(lp_graph *g) {
    int nn = g->n_n;
    /* ids are checked before anything indexes with them: a lowering bug becomes an internal
     * error, not a read outside the tensor array */
    for (int i = 0; i < nn; i++) {
        const lp_node *n = &g->n[i];
        if (n->dead) continue;
        for (int j = 0; j < n->n_in + n->n_out; j++) {
            int t = j < n->n_in ? n->in[j] : n->out[j - n->n_in];
            if (t < -1 || t >= g->n_t)
                return lp_err_set(g->err, LP_ERR_INTERNAL, "node '%s' (%s) refers to tensor id %d of %d", n->name,
                                  lp_op_name(n->op), t, g->n_t);
        }
    }
    int *indeg = calloc((size_t)nn + 1, sizeof(int));
    int *order = malloc(sizeof(int) * (size_t)(nn + 1));
    int *queue = malloc(sizeof(int) * (size_t)(nn + 1));
    lp_node *nodes = malloc(sizeof(lp_node) * (size_t)(nn + 1));
    lp_uses u = {0};
    if (!indeg || !order || !queue || !nodes || !lp_uses_build(g, &u)) {
        free(indeg);
        free(order);
        free(queue);
        free(nodes);
        return lp_err_set(g->err, LP_ERR_NOMEM, "out of memory");
    }
    int live = 0;
    for (int i = 0; i < nn; i++) {
        lp_node *n = &g->n[i];
        if (n->dead) continue;
        live++;
        for (int j = 0; j < n->n_in; j++) {
            int t = n->in[j];
            if (t >= 0 && g->t[t].producer >= 0 && !g->n[g->t[t].producer].dead) indeg[i]++;
        }
    }
    int qh = 0, qt = 0, no = 0;
    for (int i = 0; i < nn; i++)
        if (!g->n[i].dead && indeg[i] == 0) queue[qt++] = i;
    while (qh < qt) {
        int i = queue[qh++];
        order[no++] = i;
        const lp_node *n = &g->n[i];
        for (int k = 0; k < n->n_out; k++) {
            int t = n->out[k];
            if (t < 0) continue;
            for (int j = u.start[t]; j < u.start[t + 1]; j++) {
                int c = u.list[j];
                if (--indeg[c] == 0) queue[qt++] = c;
            }
        }
    }
    lp_status st = LP_OK;
    if (no != live) {
        int culprit = -1;
        for (int i = 0; i < nn && culprit < 0; i++)
            if (!g->n[i].dead && indeg[i] > 0) culprit = i;
        st = lp_err_set(g->err, LP_ERR_INVALID, "the graph has a cycle (through node '%s', %s)",
                        culprit >= 0 ? g->n[culprit].name : "?",
                        culprit >= 0 ? lp_op_name(g->n[culprit].op) : "?");
    } else {
        for (int i = 0; i < no; i++) nodes[i] = g->n[order[i]];
        if (no) memcpy(g->n, nodes, sizeof(lp_node) * (size_t)no);
        g->n_n = no;
        for (int t = 0; t < g->n_t; t++) g->t[t].producer = -1;
        for (int i = 0; i < no; i++)
            for (int k = 0; k < g->n[i].n_out; k++)
                if (g->n[i].out[k] >= 0) g->t[g->n[i].out[k]].producer = i;
    }
    lp_uses_free(&u);
    free(indeg);
    free(order);
    free(queue);
    free(nodes);
    return st;
}

/* ---------------- attributes ---------------- */

const lp_attr *lp_node_attr(const lp_node *n, const char *name) {
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
    return NULL;
}

/* ---------------- element access ---------------- */

double lp_get_f64(lp_dtype dt, const void *data, int64_t i) {
    const uint8_t *p = data;
    switch (dt) {
    case LP_DT_F32: { float v; memcpy(&v, p + 4 * i, 4); return v; }
    case LP_DT_F64: { double v; memcpy(&v, p + 8 * i, 8); return v; }
    case LP_DT_F16: { uint16_t v; memcpy(&v, p + 2 * i, 2); return lp_f16_to_f32(v); }
    case LP_DT_BF16: { uint16_t v; memcpy(&v, p + 2 * i, 2); return lp_bf16_to_f32(v); }
    case LP_DT_U64: { uint64_t v; memcpy(&v, p + 8 * i, 8); return (double)v; }
    default: return (double)lp_get_i64(dt, data, i);
    }
}

int64_t lp_get_i64(lp_dtype dt, const void *data, int64_t i) {
    const uint8_t *p = data;
    switch (dt) {
    case LP_DT_I8: return (int8_t)p[i];
    case LP_DT_U8: case LP_DT_BOOL: return p[i];
    case LP_DT_I16: { int16_t v; memcpy(&v, p + 2 * i, 2); return v; }
    case LP_DT_U16: { uint16_t v; memcpy(&v, p + 2 * i, 2); return v; }
    case LP_DT_I32: { int32_t v; memcpy(&v, p + 4 * i, 4); return v; }
    case LP_DT_U32: { uint32_t v; memcpy(&v, p + 4 * i, 4); return v; }
    case LP_DT_I64: { int64_t v; memcpy(&v, p + 8 * i, 8); return v; }
    case LP_DT_U64: { uint64_t v; memcpy(&v, p + 8 * i, 8); return (int64_t)v; }
    case LP_DT_F32: case LP_DT_F64: case LP_DT_F16: case LP_DT_BF16: {
        double d = lp_get_f64(dt, data, i);
        if (d != d) return 0;
        if (d >= 9.2e18) return INT64_MAX;
        if (d <= -9.2e18) return INT64_MIN;
        return (int64_t)d;
    }
    default: return 0;
    }
}

void lp_set_f64(lp_dtype dt, void *data, int64_t i, double v) {
    uint8_t *p = data;
    switch (dt) {
    case LP_DT_F32: { float f = (float)v; memcpy(p + 4 * i, &f, 4); return; }
    case LP_DT_F64: memcpy(p + 8 * i, &v, 8); return;
    case LP_DT_F16: { uint16_t h = lp_f32_to_f16((float)v); memcpy(p + 2 * i, &h, 2); return; }
    case LP_DT_BF16: {
        float f = (float)v;
        uint32_t b;
        memcpy(&b, &f, 4);
        uint32_t r = b + 0x7fff + ((b >> 16) & 1); /* round to nearest even */
        uint16_t h = (uint16_t)(r >> 16);
        if (f != f) h = 0x7fc0;
        memcpy(p + 2 * i, &h, 2);
        return;
    }
    case LP_DT_BOOL: p[i] = v != 0; return;
    default: {
        /* float -> int: truncation toward zero (ONNX Cast), saturating outside the range */
        int64_t x;
        if (v != v) x = 0;
        else if (v >= 9.2e18) x = INT64_MAX;
        else if (v <= -9.2e18) x = INT64_MIN;
        else x = (int64_t)v;
        lp_set_i64(dt, data, i, x);
    }
    }
}

void lp_set_i64(lp_dtype dt, void *data, int64_t i, int64_t v) {
    uint8_t *p = data;
    switch (dt) {
    case LP_DT_I8: case LP_DT_U8: p[i] = (uint8_t)v; return;
    case LP_DT_BOOL: p[i] = v != 0; return;
    case LP_DT_I16: case LP_DT_U16: { uint16_t x = (uint16_t)v; memcpy(p + 2 * i, &x, 2); return; }
    case LP_DT_I32: case LP_DT_U32: { uint32_t x = (uint32_t)v; memcpy(p + 4 * i, &x, 4); return; }
    case LP_DT_I64: case LP_DT_U64: memcpy(p + 8 * i, &v, 8); return;
    case LP_DT_F32: case LP_DT_F64: case LP_DT_F16: case LP_DT_BF16: lp_set_f64(dt, data, i, (double)v); return;
    default: return;
    }
}

/* ---------------- dump ---------------- */

static void dump_tensor_ref(const lp_graph *g, int id, lp_buf *out) {
    if (id < 0) {
        lp_buf_puts(out, "<none>");
        return;
    }
    const lp_tensor *t = &g->t[id];
    char sh[160];
    lp_buf_printf(out, "%%%d'%s':%s%s%s", id, t->name, lp_dtype_name(t->dtype), lp_shape_str(g, t, sh, sizeof sh),
                  (t->flags & LP_T_CONST) ? "=const" : "");
}

void lp_graph_dump(const lp_graph *g, lp_buf *out) {
    lp_buf_puts(out, "inputs:");
    for (int i = 0; i < g->inputs.n; i++) {
        lp_buf_puts(out, " ");
        dump_tensor_ref(g, g->inputs.v[i], out);
    }
    lp_buf_puts(out, "\n");
    for (int i = 0; i < g->n_n; i++) {
        const lp_node *n = &g->n[i];
        if (n->dead) continue;
        lp_buf_printf(out, "#%d %s '%s' (", i, lp_op_name(n->op), n->name);
        for (int j = 0; j < n->n_in; j++) {
            if (j) lp_buf_puts(out, ", ");
            dump_tensor_ref(g, n->in[j], out);
        }
        lp_buf_puts(out, ") -> ");
        for (int j = 0; j < n->n_out; j++) {
            if (j) lp_buf_puts(out, ", ");
            dump_tensor_ref(g, n->out[j], out);
        }
        if (lp_op_is_tfl(n->op)) {
            const lp_tfl_params *p = &n->p;
            if (p->stride_w || p->stride_h) lp_buf_printf(out, " stride=%d,%d", p->stride_h, p->stride_w);
            if (p->act) lp_buf_printf(out, " act=%d", p->act);
            if (p->axis) lp_buf_printf(out, " axis=%d", p->axis);
        }
        lp_buf_puts(out, "\n");
    }
    lp_buf_puts(out, "outputs:");
    for (int i = 0; i < g->outputs.n; i++) {
        lp_buf_puts(out, " ");
        dump_tensor_ref(g, g->outputs.v[i], out);
    }
    lp_buf_puts(out, "\n");
}

/* ---------------- verifier ---------------- */

lp_status lp_graph_verify(lp_graph *g, const char *after_pass) {
    int *seen = calloc((size_t)g->n_t + 1, sizeof(int));
    if (!seen) return lp_err_set(g->err, LP_ERR_NOMEM, "out of memory");
    lp_status st = LP_OK;
    for (int i = 0; i < g->inputs.n; i++) seen[g->inputs.v[i]] = 1;
    for (int t = 0; t < g->n_t; t++)
        if (g->t[t].flags & LP_T_CONST) seen[t] = 1;
    for (int i = 0; i < g->n_n && st == LP_OK; i++) {
        const lp_node *n = &g->n[i];
        if (n->dead) continue;
        for (int j = 0; j < n->n_in; j++) {
            int t = n->in[j];
            if (t < -1 || t >= g->n_t) {
                st = lp_err_set(g->err, LP_ERR_INTERNAL, "after pass %s: node #%d '%s' input %d out of range",
                                after_pass, i, n->name, j);
            } else if (t >= 0 && !seen[t]) {
                st = lp_err_set(g->err, LP_ERR_INTERNAL,
                                "after pass %s: node #%d '%s' (%s) reads tensor '%s' before it is produced",
                                after_pass, i, n->name, lp_op_name(n->op), g->t[t].name);
            }
        }
        for (int j = 0; j < n->n_out && st == LP_OK; j++) {
            int t = n->out[j];
            if (t < 0) continue;
            if (t >= g->n_t || seen[t] == 2 || (g->t[t].flags & LP_T_CONST)) {
                st = lp_err_set(g->err, LP_ERR_INTERNAL,
                                "after pass %s: node #%d '%s' (%s) writes tensor %d which already has a value",
                                after_pass, i, n->name, lp_op_name(n->op), t);
            } else {
                seen[t] = 2;
            }
        }
    }
    for (int i = 0; i < g->outputs.n && st == LP_OK; i++)
        if (!seen[g->outputs.v[i]])
            st = lp_err_set(g->err, LP_ERR_INTERNAL, "after pass %s: graph output '%s' is never produced", after_pass,
                            g->t[g->outputs.v[i]].name);
    free(seen);
    return st;
}
