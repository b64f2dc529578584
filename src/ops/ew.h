/* Helpers for the elementwise families (unary.c, binary.c, math.c, bits.c): emitting chains of
 * TFLite ops, and broadcasting reference kernels for constant folding.
 *
 * Emitters return the id of the result tensor, or -1 when something failed (the error is set).
 * Every emitter accepts -1 operands and then returns -1 itself, so a chain of ops can be written
 * without a check per step and tested once at the end with ew_done(). `out` is the tensor to
 * write (usually the node's output) or -1 for a new intermediate tensor. */
#ifndef LP_OPS_EW_H
#define LP_OPS_EW_H

#include "ops.h"

/* ---- emitting ---- */
/* A new tensor with x's shape and element type dt (LP_DT_UNDEF: x's type). */
int ew_like(lp_ctx *c, int x, lp_dtype dt);
/* A scalar constant of type dt. */
int ew_k(lp_ctx *c, lp_dtype dt, double v);
/* A scalar integer constant of type dt (exact for 64-bit values). */
int ew_ki(lp_ctx *c, lp_dtype dt, int64_t v);
/* y = op(x); y has x's shape and type (bool for LOGICAL_NOT). */
int ew_un(lp_ctx *c, lp_op op, int x, int out);
/* y = op(a, b) with numpy broadcasting; y is bool for comparisons and logical ops, else a's type. */
int ew_bin(lp_ctx *c, lp_op op, int a, int b, int out);
/* y = op(a, k) and y = op(k, b) with a scalar constant k of the other operand's type. */
int ew_bink(lp_ctx *c, lp_op op, int a, double k, int out);
int ew_kbin(lp_ctx *c, lp_op op, double k, int b, int out);
/* y = cond ? a : b (SELECT_V2, broadcasting). */
int ew_sel(lp_ctx *c, int cond, int a, int b, int out);
/* x cast to `to` (x itself when it already has that type and out < 0). */
int ew_cast(lp_ctx *c, int x, lp_dtype to, int out);
/* c[0] + c[1] x + ... + c[n-1] x^(n-1) by Horner's rule in x's (float) type. */
int ew_poly(lp_ctx *c, int x, const double *coef, int n, int out);
/* log(1 + y), accurate for small y (TFLite's LOG has an absolute error of ~1e-7 near 1, so
 * log(1 + y) is not: near 0 a series is used, and LOG only where its result is not small) */
int ew_log1p(lp_ctx *c, int y, int out);
/* The status to return after a chain whose result is r. */
lp_status ew_done(lp_ctx *c, int r);

/* Float lowering through float32: x (any float type) as a float32 tensor, and the float32 result
 * r written to `out` in out's type (cast when it is not float32). */
int ew_to_f32(lp_ctx *c, int x);
int ew_from_f32(lp_ctx *c, int r, int out);

/* ---- shape inference ---- */
/* output 0 gets input 0's type and shape */
lp_status ew_same_infer(lp_ctx *c, const lp_node *n);
/* the same, and input 0 must be a floating point type */
lp_status ew_float_infer(lp_ctx *c, const lp_node *n);
/* output 0 = broadcast of inputs 0 and 1 (which must share a type), of type `dt` (UNDEF: the
 * inputs' type) */
lp_status ew_binary_infer(lp_ctx *c, const lp_node *n, lp_dtype dt);

/* ---- reference kernels (constant folding) ---- */
/* offset of output index idx into an input of shape x broadcast to y's rank */
int64_t ew_bcast_offset(const lp_tensor *x, const lp_tensor *y, const int64_t *idx);
/* y[i] = f(x[i], par) in double */
typedef double (*ew_f1)(double x, const double *par);
lp_status ew_eval_f1(lp_ctx *c, const lp_node *n, ew_f1 f, const double *par);
/* y = f(a, b) over broadcast shapes, in double (fd) or int64 (fi, for integer and bool inputs) */
typedef double (*ew_fd2)(double a, double b, const lp_node *n);
typedef int64_t (*ew_fi2)(int64_t a, int64_t b, const lp_node *n, lp_dtype dt);
lp_status ew_eval_f2(lp_ctx *c, const lp_node *n, ew_fd2 fd, ew_fi2 fi);

#endif
