/* ops: one table of ONNX ops (onnx_ops.def), and for each op the same small set of functions:
 *   infer  - output dtypes and shapes (and symbolic values of small integer tensors)
 *   eval   - reference kernel used for constant folding (NULL: never folded)
 *   lower  - emit TFLite ops with exactly ONNX's meaning, in ONNX (channels-first) layout, with
 *            explicit TRANSPOSE ops around kernels that want channels-last
 * Handlers report what failed with lp_fail(); the driver adds the node, op and pass.
 */
#ifndef LP_OPS_H
#define LP_OPS_H

#include "../ir/ir.h"

typedef struct lp_ctx {
    lp_graph *g;
    lp_err *err;
    const lp_options *opt;
    int node;          /* id of the node being handled */
    lp_node cur;       /* a copy of it (the node array may move while lowering adds nodes) */
    const char *pass;  /* name of the running pass */
    size_t folded_bytes; /* constant payloads made by folding so far (bounded by LP_MAX_FOLD_BYTES) */
    int *sym_src;      /* lowering: sym_src[k] = a tensor whose dim sym_axis[k] is symbol k, or -1 */
    int8_t *sym_axis;
    int n_sym_src;     /* entries in sym_src (symbols made later have none) */
    int *i32_of;       /* lowering: i32_of[t] = an int32 tensor with the values of int64 shape
                          value t (shape arithmetic runs in int32), or -1 */
    int n_i32_of;
    size_t table_bytes;  /* tables built from declared sizes so far (bounded by LP_MAX_TABLE_BYTES) */
} lp_ctx;

typedef struct lp_op_impl {
    lp_status (*infer)(lp_ctx *c, const lp_node *n);
    lp_status (*eval)(lp_ctx *c, const lp_node *n);
    lp_status (*lower)(lp_ctx *c, const lp_node *n);
} lp_op_impl;

extern const lp_op_impl *const lp_op_impls[LP_OP_ONNX_END];

typedef struct lp_op_arity {
    int min_in, max_in, min_out, max_out;
} lp_op_arity;
extern const lp_op_arity lp_op_arities[LP_OP_ONNX_END];

/* Shape inference and constant folding of node `id`: the infer pass's step (passes.c), for
 * control-flow ops that add nodes while inferring (inlined If/Loop/Scan bodies). It overwrites
 * c->node and c->cur (callers save and restore them). */
lp_status lp_infer_node(lp_ctx *c, int id);

/* ---- errors ---- */
lp_status lp_fail(lp_ctx *c, lp_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
#define LP_TRY(expr)                         \
    do {                                     \
        lp_status lp_try_st_ = (expr);       \
        if (lp_try_st_ != LP_OK) return lp_try_st_; \
    } while (0)

/* Zeroed memory (graph arena) for a table a lowering builds from declared sizes rather than from
 * the model's data: divisor and index tables, zero biases, masks, interpolation matrices. n
 * elements of `size` bytes; all such tables of a conversion share LP_MAX_TABLE_BYTES. NULL with an
 * error naming `what` when the table would pass it. */
void *lp_table_alloc(lp_ctx *c, int64_t n, size_t size, const char *what);

/* ---- tensors ---- */
static inline lp_tensor *lp_T(lp_ctx *c, int id) { return &c->g->t[id]; }
/* input k of n, or NULL when absent */
lp_tensor *lp_in(lp_ctx *c, const lp_node *n, int k);
int lp_has_in(const lp_node *n, int k);
int lp_in_const(lp_ctx *c, const lp_node *n, int k);
/* Set output k's dtype and shape (dims copied). */
void lp_set_out(lp_ctx *c, const lp_node *n, int k, lp_dtype dt, int rank, const int64_t *dims);
/* Read a constant integer tensor into out[] (at most max values). Returns count, or -1 (error set). */
int lp_const_ints(lp_ctx *c, int tid, int64_t *out, int max, const char *what);
/* Value of input k as integers from its constant payload or a fully known symbolic value; -1 if unknown
 * (no error). */
int lp_known_ints(lp_ctx *c, const lp_node *n, int k, int64_t *out, int max);
/* Read a constant scalar (any numeric type) as double. 0 if not a constant scalar. */
int lp_const_scalar(lp_ctx *c, int tid, double *out);

/* ---- attributes; a wrong type is an error that names the attribute ---- */
int64_t lp_attr_i(lp_ctx *c, const lp_node *n, const char *name, int64_t def);
float lp_attr_f(lp_ctx *c, const lp_node *n, const char *name, float def);
const char *lp_attr_s(lp_ctx *c, const lp_node *n, const char *name, const char *def);
/* INTS: returns the count (0..max), -1 when absent; more than max elements is an error. */
int lp_attr_ints(lp_ctx *c, const lp_node *n, const char *name, int64_t *out, int max);
int lp_attr_floats(lp_ctx *c, const lp_node *n, const char *name, float *out, int max);

/* ---- shape helpers ---- */
/* numpy-style broadcast of a and b; error when incompatible. */
lp_status lp_broadcast(lp_ctx *c, const lp_tensor *a, const lp_tensor *b, int *rank, int64_t *dims);
/* normalise a possibly negative axis for `rank`; error when out of range */
lp_status lp_axis(lp_ctx *c, int64_t axis, int rank, int *out, const char *what);
/* known tensor rank, or error */
lp_status lp_need_rank(lp_ctx *c, const lp_tensor *t, const char *what);
lp_status lp_need_shape(lp_ctx *c, const lp_tensor *t, const char *what);
int lp_dims_equal(const int64_t *a, const int64_t *b, int rank);
/* writable payload of output k during eval (allocated by the driver) */
static inline void *lp_out_data(lp_ctx *c, const lp_node *n, int k) { return (void *)c->g->t[n->out[k]].data; }
/* symbolic value of a tensor: its sv, or its constant payload when integer and small; 0 if none */
int lp_sv_get(lp_ctx *c, int tid, lp_symval *out);
/* attach a copy of sv to tensor tid */
lp_status lp_sv_set(lp_ctx *c, int tid, const lp_symval *sv);
/* row-major strides of dims */
void lp_strides(int rank, const int64_t *dims, int64_t *strides);
/* symbolic value helpers */
lp_symval *lp_sv_new(lp_ctx *c, int n);
int lp_sv_known(const lp_symval *sv);
/* Give output k a constant payload from a fully known symbolic value (int64 or int32). */
lp_status lp_sv_materialize(lp_ctx *c, int tid);

/* ---- emitting TFLite ops (lowering) ---- */
/* A new activation tensor named after the node plus `hint`. */
int lp_emit_tensor(lp_ctx *c, lp_dtype dt, int rank, const int64_t *dims, const char *hint);
/* A new constant; data copied into the graph arena. */
int lp_emit_const(lp_ctx *c, lp_dtype dt, int rank, const int64_t *dims, const void *data, const char *hint);
/* constant src viewed as vdims and permuted by perm (computed lazily when large, see ir.h) */
int lp_emit_permuted(lp_ctx *c, int src, int vrank, const int64_t *vdims, const int *perm, const char *hint);
/* constant src viewed as vdims, entry i along axis taken from entry index[i] (lazy when large) */
int lp_emit_gathered(lp_ctx *c, int src, int vrank, const int64_t *vdims, int axis, const int64_t *index,
                     int64_t n_index, const char *hint);
int lp_emit_i32(lp_ctx *c, const int32_t *v, int n, const char *hint);   /* 1-D int32 */
int lp_emit_i32_dims(lp_ctx *c, const int64_t *v, int n, const char *hint); /* 1-D int32 from int64, <0 -> -1 */
int lp_emit_f32_scalar(lp_ctx *c, float v, const char *hint);             /* shape [] */
int lp_emit_scalar(lp_ctx *c, lp_dtype dt, double v, const char *hint);
/* Append a TFLite op; returns its node id (-1 on error). Use lp_emit_params() to set options. */
int lp_emit_op(lp_ctx *c, lp_op op, const int *in, int n_in, const int *out, int n_out);
lp_tfl_params *lp_emit_params(lp_ctx *c, int node);
/* x permuted by perm into a new tensor (or `out` if >= 0); returns the result tensor. */
int lp_emit_transpose(lp_ctx *c, int x, const int *perm, int out);
/* the same, marked as a layout transpose (one the layout pass may absorb into graph I/O) */
int lp_emit_layout_transpose(lp_ctx *c, int x, const int *perm, int out);
/* x reshaped to dims: a constant shape when at most one dim is dynamic (written -1), else the
 * shape computed at run time (lp_emit_dims) */
int lp_emit_reshape(lp_ctx *c, int x, int rank, const int64_t *dims, int out);
/* The run-time value of dims as a 1-D int32 tensor. Known entries are constants; a symbol is read
 * (SHAPE, GATHER) from a tensor that carries it and is already computed: `prefer` (if >= 0), an
 * input of the node being lowered, or the graph's first tensor with that symbol (c->sym_src).
 * With `minus`, one symbol that nothing carries is written as -1 (for RESHAPE). -1 with an error
 * when a symbol cannot be read. */
int lp_emit_dims(lp_ctx *c, int rank, const int64_t *dims, int prefer, int minus);
/* 1 when lp_emit_dims would succeed (nothing emitted, no error) */
int lp_dims_computable(lp_ctx *c, int rank, const int64_t *dims, int prefer, int minus);
/* The run-time size of symbol `d` (< 0) as an int32 scalar, read like lp_emit_dims; -1 if none. */
int lp_emit_sym(lp_ctx *c, int64_t d, int prefer);
/* channels-first <-> channels-last for rank >= 3 */
void lp_perm_to_last(int rank, int *perm);
void lp_perm_to_first(int rank, int *perm);
/* Wrap a channels-last TFLite kernel: x (ONNX layout) -> transposed input tensor */
int lp_emit_to_last(lp_ctx *c, int x);
/* Emit the channels-last output tensor of a kernel whose ONNX-layout result is `out`;
 * returns the NHWC tensor to use as the kernel output and adds the TRANSPOSE back to `out`. */
int lp_emit_from_last(lp_ctx *c, int out);
/* A copy of x into out (RESHAPE to the same shape), used when an op is an identity. */
int lp_emit_identity(lp_ctx *c, int x, int out);
/* Cast x to dtype into a new tensor (or out). An int64 shape value cast to int32 into a new
 * tensor is its int32 twin when lowering made one (c->i32_of). */
int lp_emit_cast(lp_ctx *c, int x, lp_dtype to, int out);

/* permuted copy of a constant (row-major), into the graph arena */
void *lp_permute_data(lp_ctx *c, const lp_tensor *t, const int *perm, int64_t *out_dims);

#endif
