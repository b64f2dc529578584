/* compose: emitters for lowerings that build an ONNX op out of many TFLite builtins (attention,
 * losses, signal processing, sampling).
 *
 * Every helper appends one or a few TFLite ops with a fresh result tensor whose dtype and shape
 * follow the TFLite kernel's rule (numpy broadcasting for binary ops, ...), and returns its id.
 * Errors are sticky: a helper given a negative id returns -1 without emitting anything, so a
 * lowering chains calls and checks c->err once (every -1 comes with an error recorded). */
#ifndef LP_OPS_COMPOSE_H
#define LP_OPS_COMPOSE_H

#include "ops.h"

/* constants (copied into the graph arena) */
int lp_cx_const(lp_ctx *c, lp_dtype dt, int rank, const int64_t *dims, const void *data);
int lp_cx_scalar(lp_ctx *c, lp_dtype dt, double v);           /* shape [] */
int lp_cx_f32s(lp_ctx *c, int rank, const int64_t *dims, const float *v);
int lp_cx_i32s(lp_ctx *c, const int32_t *v, int n);            /* 1-D int32 */

/* elementwise */
int lp_cx_un(lp_ctx *c, lp_op op, int x);                      /* same dtype and shape */
int lp_cx_bin(lp_ctx *c, lp_op op, int a, int b);              /* broadcast; comparisons give bool */
int lp_cx_select(lp_ctx *c, int cond, int a, int b);           /* SELECT_V2 with broadcasting */
int lp_cx_cast(lp_ctx *c, int x, lp_dtype to);                 /* x itself when already `to` */

/* data movement */
/* RESHAPE to dims; a dynamic dim (a symbol) is read at run time from an axis of x that carries
 * the same symbol, and at most one dynamic dim may be unknown there (written as -1). */
int lp_cx_reshape(lp_ctx *c, int x, int rank, const int64_t *dims);
int lp_cx_transpose(lp_ctx *c, int x, const int *perm);
int lp_cx_concat(lp_ctx *c, const int *xs, int n, int axis);
/* SLICE: size[d] < 0 means to the end of axis d */
int lp_cx_slice(lp_ctx *c, int x, const int64_t *begin, const int64_t *size);
int lp_cx_gather(lp_ctx *c, int x, int idx, int axis, int batch_dims);
int lp_cx_gather_nd(lp_ctx *c, int x, int idx);
/* the run-time size of axis `axis` of x as an int32 scalar (SHAPE and GATHER) */
int lp_cx_dim(lp_ctx *c, int x, int axis);
/* RANGE(0, limit, 1) in int32 for an int32 scalar limit; len is the result's (symbolic) length */
int lp_cx_iota(lp_ctx *c, int limit, int64_t len);
/* PACK n tensors of one shape along a new axis; UNPACK x along axis into n = dims[axis] tensors */
int lp_cx_pack(lp_ctx *c, const int *xs, int n, int axis);
int lp_cx_unpack(lp_ctx *c, int x, int axis, int *outs);
/* PADV2 with a constant value: pads[2*d], pads[2*d+1] = before, after */
int lp_cx_pad(lp_ctx *c, int x, const int64_t *pads, double value);

/* math */
int lp_cx_matmul(lp_ctx *c, int a, int b, int adj_x, int adj_y); /* BATCH_MATMUL, float32 */
/* FULLY_CONNECTED over the last axis of x with weights [units, in] (bias -1: none) */
int lp_cx_fc(lp_ctx *c, int x, int w, int bias);
int lp_cx_reduce(lp_ctx *c, lp_op op, int x, const int *axes, int n_axes, int keep);
int lp_cx_softmax(lp_ctx *c, int x, int log);                  /* over the last axis */

/* Make `out` (an ONNX output of the node) hold x: the op that produced x in this lowering writes
 * `out` instead when the types agree, else a CAST or a copy is emitted. */
lp_status lp_cx_bind(lp_ctx *c, int x, int out);

/* the float type composite lowerings compute in: float32 (float16/bfloat16/float64 are cast) */
static inline int lp_cx_float_ok(lp_dtype dt) {
    return dt == LP_DT_F32 || dt == LP_DT_F16 || dt == LP_DT_F64 || dt == LP_DT_BF16;
}

#endif
