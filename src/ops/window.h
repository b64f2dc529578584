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
/* NHWC xn -> the tensor a VALID or SAME TFLite window op reads: sets *padding (0 SAME, 1 VALID),
 * inserting PAD/PADV2 (with pad_value) when the pads are not TFLite's SAME; extra_h/extra_w pad
 * the end further (ceil_mode). Returns the tensor or -1. */
int lp_window_input(lp_ctx *c, int xn, lp_window *s, int *padding, int64_t extra_h, int64_t extra_w, double pad_value);
/* PAD an NHWC tensor by the window's spatial pads (+ extra at the end); returns the padded tensor. */
int lp_window_pad(lp_ctx *c, int x_nhwc, const lp_window *s, int64_t extra_end_h, int64_t extra_end_w, double value);

/* ---- small emitters (norm.c); each returns the result tensor (a new one when out < 0) or -1 ---- */
/* y = op(a, b), numpy broadcasting; the result has a's type (bool for comparisons) */
int lp_nn_binary(lp_ctx *c, lp_op op, int a, int b, int out);
/* y = op(a, k) with k a scalar constant of a's type */
int lp_nn_binary_k(lp_ctx *c, lp_op op, int a, double k, int out);
int lp_nn_unary(lp_ctx *c, lp_op op, int x, int out);
/* reduction over the listed axes */
int lp_nn_reduce(lp_ctx *c, lp_op op, int x, const int *axes, int n_axes, int keep, int out);
/* x cast to `to` (x itself when it already has that type) */
int lp_nn_cast(lp_ctx *c, int x, lp_dtype to);
/* x reshaped to [dims[0]] + [1] * (rank - 1): a per-channel vector that broadcasts over NC... */
int lp_nn_channel_vec(lp_ctx *c, int x, int rank);

#endif
