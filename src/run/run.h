/* run: the reference interpreter of the lowered graph (TFLite ops, channels-last).
 *
 * It executes the IR that the writer would turn into a .tflite file, op by op, with plain C
 * kernels that follow LiteRT's reference kernels (float32 math; integer and bool tensors for the
 * shape and index ops). Int8 calibration runs the float model here to collect activation ranges;
 * the quantization report runs it again with fake-quantized weights and activations; `liteport
 * run` uses it to execute a model without any other runtime.
 *
 * Dynamic dims are symbols in the IR: the inputs given bind them, and every tensor's shape is its
 * IR shape with the symbols substituted (RESHAPE binds a symbol it introduces from its element
 * count). Values stay alive for the whole invocation, so hooks can read any tensor.
 */
#ifndef LP_RUN_H
#define LP_RUN_H

#include "../ir/ir.h"

typedef struct lp_value {
    lp_dtype dtype;
    int rank;
    int64_t dims[LP_MAX_RANK];
    int64_t numel;
    void *data;   /* numel elements of dtype, 16-byte aligned */
    size_t cap;   /* bytes allocated for data (owned by the run) */
    int ready;    /* computed (or set) in this invocation */
} lp_value;

typedef struct lp_run lp_run;

/* A hook called before / after each node; it may read and modify the node's values. */
typedef lp_status (*lp_run_hook)(void *ud, lp_run *r, int node);

struct lp_run {
    lp_graph *g;
    lp_err *err;
    lp_value *v;        /* one per tensor of g */
    int64_t *sym;       /* size bound to symbol k (index 1..n_sym); -1 = unbound */
    int *order;         /* live nodes in execution order */
    int n_order;
    lp_run_hook before, after;
    void *ud;
    int node;           /* node being executed (messages) */
};

/* Prepare to run g (TFLite ops, topologically sorted): constant payloads are copied into aligned
 * buffers. g must outlive the run. Free with lp_run_free (also after a failure). */
lp_status lp_run_init(lp_run *r, lp_graph *g, lp_err *err);
void lp_run_free(lp_run *r);

/* Replace the payload of constant tensor `t` (same dtype and element count); copied. */
lp_status lp_run_set_const(lp_run *r, int t, const void *data, size_t nbytes);

/* Set graph input k (in TFLite layout; the dtype must be the input's). Binds its symbols; fixed
 * dims must match. Copied. Call lp_run_reset first when the shapes may change between runs. */
lp_status lp_run_set_input(lp_run *r, int k, int rank, const int64_t *dims, const void *data);

/* Run every node. Graph outputs are then in r->v[g->outputs.v[i]]. */
lp_status lp_run_invoke(lp_run *r);

/* Forget the inputs and values of the last invocation (symbol bindings included). */
void lp_run_reset(lp_run *r);

/* Constant folding of the lowered graph: lp_run_fold_init prepares an empty run over g (no
 * constant is copied; free it with lp_run_free), then each lp_run_fold computes node `id`, every
 * input of which is a constant of static shape, into its outputs, which become constants of g
 * (payload in g's arena); the node is marked dead. The caller bounds the sizes. On failure the
 * node and its outputs are left as they were, except that lazy input payloads may have been
 * computed. */
lp_status lp_run_fold_init(lp_run *r, lp_graph *g, lp_err *err);
lp_status lp_run_fold(lp_run *r, int id);

/* 1 when op has a reference kernel */
int lp_run_supports(lp_op op);

/* The kernels' error: "node 'name' (OP): ..." recorded on r->err. */
lp_status lp_run_fail(lp_run *r, lp_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* ---- for kernels (run_*.c) ---- */
#define LP_RUN_TRY(expr)                          \
    do {                                          \
        lp_status lp_run_st_ = (expr);            \
        if (lp_run_st_ != LP_OK) return lp_run_st_; \
    } while (0)
typedef lp_status (*lp_run_kernel)(lp_run *r, const lp_node *n);
/* input k's value (NULL when absent) */
lp_value *lp_run_in(lp_run *r, const lp_node *n, int k);
/* Output k with its shape resolved and storage allocated; NULL on error (recorded). */
lp_value *lp_run_out(lp_run *r, const lp_node *n, int k);
/* Output k with an explicit shape (kernels that compute their own, e.g. RESHAPE). */
lp_value *lp_run_out_shape(lp_run *r, const lp_node *n, int k, int rank, const int64_t *dims);
/* integers of a (small) integer or float value */
int lp_run_ints(lp_run *r, const lp_value *v, int64_t *out, int max, const char *what);
/* element k of v as double / int64 */
static inline const float *lp_run_f32(const lp_value *v) { return (const float *)v->data; }

lp_status lp_run_k_nn(lp_run *r, const lp_node *n);   /* run_nn.c */
lp_status lp_run_k_ew(lp_run *r, const lp_node *n);   /* run_ew.c */
lp_status lp_run_k_move(lp_run *r, const lp_node *n); /* run_move.c */
int lp_run_nn_has(lp_op op);
int lp_run_ew_has(lp_op op);
int lp_run_move_has(lp_op op);

#endif
