/* The interpreter's driver: values, symbol binding, dispatch. Kernels are in run_nn.c (conv,
 * pooling, matmul, softmax, reductions, resize), run_ew.c (elementwise) and run_move.c (data
 * movement). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"

/* what one value may take: 1 GiB (the biggest activations of image models are tens of MB) */
#define RUN_MAX_BYTES ((size_t)1 << 30)

lp_status lp_run_fail(lp_run *r, lp_status code, const char *fmt, ...) {
    char msg[1500];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (r->node >= 0 && r->node < r->g->n_n) {
        const lp_node *n = &r->g->n[r->node];
        return lp_err_set(r->err, code, "reference interpreter: node '%s' (%s): %s", n->name, lp_op_name(n->op), msg);
    }
    return lp_err_set(r->err, code, "reference interpreter: %s", msg);
}

int lp_run_supports(lp_op op) { return lp_run_nn_has(op) || lp_run_ew_has(op) || lp_run_move_has(op); }

static lp_status set_storage(lp_run *r, lp_value *v, lp_dtype dt, int rank, const int64_t *dims) {
    int64_t numel = 1;
    for (int d = 0; d < rank; d++) {
        if (dims[d] < 0 || !lp_mul_i64(numel, dims[d], &numel))
            return lp_run_fail(r, LP_ERR_LIMIT, "a tensor shape overflows");
    }
    size_t es = lp_dtype_size(dt);
    if (es == 0) return lp_run_fail(r, LP_ERR_UNSUPPORTED, "element type %s has no kernels", lp_dtype_name(dt));
    size_t bytes;
    if (!lp_mul_size((size_t)numel, es, &bytes) || bytes > RUN_MAX_BYTES)
        return lp_run_fail(r, LP_ERR_LIMIT, "a tensor of %lld elements is too large to run", (long long)numel);
    if (bytes > v->cap || !v->data) {
        void *p = realloc(v->data, bytes ? bytes : 16);
        if (!p) return lp_run_fail(r, LP_ERR_NOMEM, "out of memory for a %zu-byte tensor", bytes);
        v->data = p;
        v->cap = bytes ? bytes : 16;
    }
    v->dtype = dt;
    v->rank = rank;
    for (int d = 0; d < rank; d++) v->dims[d] = dims[d];
    v->numel = numel;
    return LP_OK;
}

lp_status lp_run_init(lp_run *r, lp_graph *g, lp_err *err) {
    memset(r, 0, sizeof *r);
    r->g = g;
    r->err = err;
    r->node = -1;
    r->v = calloc((size_t)g->n_t + 1, sizeof(lp_value));
    r->sym = malloc(sizeof(int64_t) * (size_t)(g->n_sym + 2));
    r->order = malloc(sizeof(int) * (size_t)(g->n_n + 1));
    if (!r->v || !r->sym || !r->order) return lp_run_fail(r, LP_ERR_NOMEM, "out of memory");
    for (int k = 0; k <= g->n_sym + 1; k++) r->sym[k] = -1;
    for (int i = 0; i < g->n_n; i++) {
        const lp_node *n = &g->n[i];
        if (n->dead) continue;
        r->order[r->n_order++] = i;
        if (!lp_op_is_tfl(n->op))
            return lp_run_fail(r, LP_ERR_INTERNAL, "node '%s' (%s) was not lowered", n->name, lp_op_name(n->op));
    }
    for (int t = 0; t < g->n_t; t++) {
        const lp_tensor *T = &g->t[t];
        if (!(T->flags & LP_T_CONST) || !T->data) continue;
        lp_value *v = &r->v[t];
        lp_status st = set_storage(r, v, T->dtype, T->rank, T->dims);
        if (st != LP_OK) return st;
        size_t bytes = (size_t)v->numel * lp_dtype_size(T->dtype);
        if (T->nbytes < bytes) return lp_run_fail(r, LP_ERR_INTERNAL, "constant '%s' is short", T->name);
        memcpy(v->data, T->data, bytes);
        v->ready = 1;
    }
    return LP_OK;
}

void lp_run_free(lp_run *r) {
    if (r->v)
        for (int t = 0; t < r->g->n_t; t++) free(r->v[t].data);
    free(r->v);
    free(r->sym);
    free(r->order);
    memset(r, 0, sizeof *r);
}

lp_status lp_run_set_const(lp_run *r, int t, const void *data, size_t nbytes) {
    lp_value *v = &r->v[t];
    if (!(r->g->t[t].flags & LP_T_CONST) || !v->ready || nbytes != (size_t)v->numel * lp_dtype_size(v->dtype))
        return lp_run_fail(r, LP_ERR_INTERNAL, "constant override of '%s' does not fit", r->g->t[t].name);
    memcpy(v->data, data, nbytes);
    return LP_OK;
}

void lp_run_reset(lp_run *r) {
    for (int k = 0; k <= r->g->n_sym + 1; k++) r->sym[k] = -1;
    for (int t = 0; t < r->g->n_t; t++)
        if (!(r->g->t[t].flags & LP_T_CONST)) r->v[t].ready = 0;
}

/* bind (or check) IR dim `ir` against the actual size `got` */
static int bind_dim(lp_run *r, int64_t ir, int64_t got) {
    if (ir >= 0) return ir == got;
    int64_t k = -ir;
    if (k > r->g->n_sym) return 0;
    if (r->sym[k] < 0) {
        r->sym[k] = got;
        return 1;
    }
    return r->sym[k] == got;
}

lp_status lp_run_set_input(lp_run *r, int k, int rank, const int64_t *dims, const void *data) {
    lp_graph *g = r->g;
    if (k < 0 || k >= g->inputs.n) return lp_run_fail(r, LP_ERR_INTERNAL, "no input %d", k);
    int t = g->inputs.v[k];
    const lp_tensor *T = &g->t[t];
    char want[200];
    lp_shape_str(g, T, want, sizeof want);
    if (T->rank != rank)
        return lp_run_fail(r, LP_ERR_INVALID, "input '%s' has rank %d (shape %s); the data has %d dimensions", T->name,
                           T->rank, want, rank);
    for (int d = 0; d < rank; d++)
        if (!bind_dim(r, T->dims[d], dims[d]))
            return lp_run_fail(r, LP_ERR_INVALID,
                               "input '%s' (TFLite shape %s): the data's dimension %d is %lld, which does not fit",
                               T->name, want, d, (long long)dims[d]);
    lp_value *v = &r->v[t];
    lp_status st = set_storage(r, v, T->dtype, rank, dims);
    if (st != LP_OK) return st;
    memcpy(v->data, data, (size_t)v->numel * lp_dtype_size(T->dtype));
    v->ready = 1;
    return LP_OK;
}

lp_value *lp_run_in(lp_run *r, const lp_node *n, int k) {
    if (k >= n->n_in || n->in[k] < 0) return NULL;
    return &r->v[n->in[k]];
}

lp_value *lp_run_out_shape(lp_run *r, const lp_node *n, int k, int rank, const int64_t *dims) {
    int t = n->out[k];
    const lp_tensor *T = &r->g->t[t];
    if (T->rank != rank) {
        lp_run_fail(r, LP_ERR_INTERNAL, "output '%s' has rank %d, the kernel made %d", T->name, T->rank, rank);
        return NULL;
    }
    for (int d = 0; d < rank; d++)
        if (!bind_dim(r, T->dims[d], dims[d])) {
            char s[200];
            lp_shape_str(r->g, T, s, sizeof s);
            lp_run_fail(r, LP_ERR_INTERNAL, "output '%s' (shape %s): the kernel made dimension %d %lld", T->name, s, d,
                        (long long)dims[d]);
            return NULL;
        }
    lp_value *v = &r->v[t];
    if (set_storage(r, v, T->dtype, rank, dims) != LP_OK) return NULL;
    v->ready = 1;
    return v;
}

lp_value *lp_run_out(lp_run *r, const lp_node *n, int k) {
    int t = n->out[k];
    const lp_tensor *T = &r->g->t[t];
    int64_t dims[LP_MAX_RANK];
    if (T->rank < 0) {
        lp_run_fail(r, LP_ERR_UNSUPPORTED, "output '%s' has an unknown rank", T->name);
        return NULL;
    }
    for (int d = 0; d < T->rank; d++) {
        int64_t x = T->dims[d];
        if (x < 0) x = -x <= r->g->n_sym ? r->sym[-x] : -1;
        if (x < 0) {
            char s[200];
            lp_shape_str(r->g, T, s, sizeof s);
            lp_run_fail(r, LP_ERR_UNSUPPORTED,
                        "the size of dimension %d of '%s' (shape %s) depends on the data; only sizes set by the "
                        "inputs can be run",
                        d, T->name, s);
            return NULL;
        }
        dims[d] = x;
    }
    lp_value *v = &r->v[t];
    if (set_storage(r, v, T->dtype, T->rank, dims) != LP_OK) return NULL;
    v->ready = 1;
    return v;
}

int lp_run_ints(lp_run *r, const lp_value *v, int64_t *out, int max, const char *what) {
    if (!v || !v->ready) {
        lp_run_fail(r, LP_ERR_INTERNAL, "%s is missing", what);
        return -1;
    }
    if (v->numel > max) {
        lp_run_fail(r, LP_ERR_UNSUPPORTED, "%s has %lld values (at most %d)", what, (long long)v->numel, max);
        return -1;
    }
    for (int64_t i = 0; i < v->numel; i++) out[i] = lp_get_i64(v->dtype, v->data, i);
    return (int)v->numel;
}

static lp_status run_kernel(lp_run *r, const lp_node *n) {
    if (lp_run_nn_has(n->op)) return lp_run_k_nn(r, n);
    if (lp_run_ew_has(n->op)) return lp_run_k_ew(r, n);
    if (lp_run_move_has(n->op)) return lp_run_k_move(r, n);
    return lp_run_fail(r, LP_ERR_UNSUPPORTED, "the reference interpreter has no kernel for this op");
}

lp_status lp_run_fold_init(lp_run *r, lp_graph *g, lp_err *err) {
    memset(r, 0, sizeof *r);
    r->g = g;
    r->err = err;
    r->node = -1;
    r->v = calloc((size_t)g->n_t + 1, sizeof(lp_value));
    r->sym = malloc(sizeof(int64_t) * (size_t)(g->n_sym + 2));
    r->order = malloc(sizeof(int));
    if (!r->v || !r->sym || !r->order) return lp_run_fail(r, LP_ERR_NOMEM, "out of memory");
    for (int k = 0; k <= g->n_sym + 1; k++) r->sym[k] = -1;
    return LP_OK;
}

static void drop_value(lp_value *v) {
    free(v->data);
    memset(v, 0, sizeof *v);
}

lp_status lp_run_fold(lp_run *r, int id) {
    lp_graph *g = r->g;
    const lp_node *n = &g->n[id];
    r->node = id;
    lp_status st = LP_OK;
    for (int j = 0; j < n->n_in && st == LP_OK; j++) {
        int t = n->in[j];
        if (t < 0 || r->v[t].ready) continue;
        const void *bytes = lp_tensor_bytes(g, t);
        const lp_tensor *T = &g->t[t];
        if (!bytes) return lp_run_fail(r, LP_ERR_NOMEM, "out of memory");
        st = set_storage(r, &r->v[t], T->dtype, T->rank, T->dims);
        if (st != LP_OK) break;
        size_t need = (size_t)r->v[t].numel * lp_dtype_size(T->dtype);
        if (T->nbytes < need) st = lp_run_fail(r, LP_ERR_INTERNAL, "constant '%s' is short", T->name);
        else memcpy(r->v[t].data, bytes, need);
        r->v[t].ready = 1;
    }
    if (st == LP_OK) st = run_kernel(r, n);
    for (int k = 0; k < n->n_out && st == LP_OK; k++) {
        int t = n->out[k];
        if (t < 0) continue;
        lp_value *v = &r->v[t];
        size_t bytes = (size_t)v->numel * lp_dtype_size(v->dtype);
        if (!v->ready) {
            st = lp_run_fail(r, LP_ERR_INTERNAL, "output %d was not computed", k);
            break;
        }
        void *p = lp_arena_alloc(&g->arena, bytes ? bytes : 1);
        if (!p) {
            st = lp_run_fail(r, LP_ERR_NOMEM, "out of memory");
            break;
        }
        memcpy(p, v->data, bytes);
        lp_tensor *T = &g->t[t];
        T->data = p;
        T->nbytes = bytes;
        T->flags |= LP_T_CONST | LP_T_OWNED;
        T->producer = -1;
    }
    /* inputs and outputs are constants of g now: nothing stays in the run */
    for (int j = 0; j < n->n_in; j++)
        if (n->in[j] >= 0) drop_value(&r->v[n->in[j]]);
    for (int k = 0; k < n->n_out; k++)
        if (n->out[k] >= 0) drop_value(&r->v[n->out[k]]);
    if (st == LP_OK) g->n[id].dead = 1;
    r->node = -1;
    return st;
}

lp_status lp_run_invoke(lp_run *r) {
    lp_graph *g = r->g;
    for (int i = 0; i < g->inputs.n; i++)
        if (!r->v[g->inputs.v[i]].ready)
            return lp_run_fail(r, LP_ERR_INVALID, "input '%s' was not given", g->t[g->inputs.v[i]].name);
    for (int k = 0; k < r->n_order; k++) {
        int id = r->order[k];
        const lp_node *n = &g->n[id];
        r->node = id;
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0 && !r->v[n->in[j]].ready)
                return lp_run_fail(r, LP_ERR_INTERNAL, "input %d ('%s') has no value", j, g->t[n->in[j]].name);
        lp_status st;
        if (r->before && (st = r->before(r->ud, r, id)) != LP_OK) return st;
        if ((st = run_kernel(r, n)) != LP_OK) return st;
        for (int j = 0; j < n->n_out; j++)
            if (n->out[j] >= 0 && !r->v[n->out[j]].ready)
                return lp_run_fail(r, LP_ERR_INTERNAL, "output %d was not computed", j);
        if (r->after && (st = r->after(r->ud, r, id)) != LP_OK) return st;
    }
    r->node = -1;
    return LP_OK;
}
