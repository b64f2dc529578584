/* window: attributes shared by convolution and pooling (kernel, strides, dilations, pads,
 * auto_pad) and the NCHW -> NHWC input preparation that chooses TFLite SAME / VALID / explicit PAD;
 * plus a few small emitters the nn family (conv.c, pool.c, norm.c, quant.c, matmul.c) shares. */
#ifndef LP_WINDOW_H
#define LP_WINDOW_H

#include "ops.h"

typedef struct lp_window {
    int nsp;                      /* spatial dims */
    int64_t k[3], s[3], d[3];     /* kernel, stride, dilation */
    int64_t pb[3], pe[3];         /* pads at begin / end */
    int64_t op[3];                /* ConvTranspose output_padding */
    int64_t group;
    int same_upper, same_lower;   /* auto_pad */
} lp_window;

/* Read the window attributes; `w` is the weight (kernel size default) or NULL for pooling. */
lp_status lp_window_get(lp_ctx *c, const lp_node *n, const lp_tensor *x, const lp_tensor *w, lp_window *s);
/* Turn auto_pad SAME_UPPER / SAME_LOWER into explicit pads (static spatial dims only). */
void lp_window_resolve_same(const lp_tensor *x, lp_window *s);
/* ONNX-layout x ([N,C,H,W], or [N,C,L] seen as [N,1,L,C]) -> an NHWC 4-D tensor. */
int lp_window_to_nhwc(lp_ctx *c, int x);
/* The NHWC 4-D tensor a kernel should write so that ONNX-layout `y` ([N,C,H,W] or [N,C,L])
 * follows from it; the transposes back are emitted here. */
int lp_window_from_nhwc(lp_ctx *c, int y);
/* Channels-last xn ([N, spatial..., C] with s->nsp spatial dims) -> the tensor a VALID or SAME
 * TFLite window op reads: sets *padding (0 SAME, 1 VALID), inserting PAD/PADV2 (with pad_value)
 * when the pads are not TFLite's SAME; extra[i] (NULL: none) pads the end of spatial dim i
 * further (ceil_mode). Returns the tensor or -1. */
int lp_window_input(lp_ctx *c, int xn, lp_window *s, int *padding, const int64_t *extra, double pad_value);
/* PAD a channels-last tensor by the window's spatial pads (+ extra at the end); returns it. */
int lp_window_pad(lp_ctx *c, int xn, const lp_window *s, const int64_t *extra, double value);
/* A 1-D window as 2-D with a unit first spatial dim ([N,C,L] is handled as [N,1,L,C]). */
void lp_window_as_2d(lp_window *s);

/* Output dims of a Conv-like node (attributes of n) with input x and weight w [M, C/g, k...]. */
lp_status lp_conv_out_dims(lp_ctx *c, const lp_node *n, const lp_tensor *x, const lp_tensor *w, int64_t *dims);
/* Float convolution y = conv(x, w) + b (b < 0: none) with window s: x, w, y in ONNX layout; w a
 * constant or a run-time tensor. Used by Conv, ConvInteger and QLinearConv. */
lp_status lp_conv_emit(lp_ctx *c, int x, int w, int b, const lp_window *s, int y);

/* ---- small emitters (norm.c); each returns the result tensor (a new one when out < 0) or -1 ---- */
/* y = op(a, b), numpy broadcasting; the result has a's type (bool for comparisons) */
int lp_nn_binary(lp_ctx *c, lp_op op, int a, int b, int out);
/* y = op(a, k) with k a scalar constant of a's type */
int lp_nn_binary_k(lp_ctx *c, lp_op op, int a, double k, int out);
int lp_nn_unary(lp_ctx *c, lp_op op, int x, int out);
/* reduction over the listed axes */
int lp_nn_reduce(lp_ctx *c, lp_op op, int x, const int *axes, int n_axes, int keep, int out);
/* y = a @ b with numpy's matmul rules (matmul.c): FULLY_CONNECTED for a constant 2-D b,
 * BATCH_MATMUL otherwise; integer types exactly (multiply and sum) */
int lp_nn_matmul(lp_ctx *c, int a, int b, int out);
/* x cast to `to` (x itself when it already has that type) */
int lp_nn_cast(lp_ctx *c, int x, lp_dtype to);
/* x reshaped to [dims[0]] + [1] * (rank - 1): a per-channel vector that broadcasts over NC... */
int lp_nn_channel_vec(lp_ctx *c, int x, int rank);

#endif
