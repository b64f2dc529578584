/* passes: graph-to-graph steps run in order by the driver (see lp_passes in passes.c).
 * A pass is `lp_status run(lp_ctx *c)`; it may add nodes anywhere (the driver re-sorts) and marks
 * removed nodes dead. The driver names the pass in error messages, verifies the IR between passes
 * and can dump the IR after any pass. */
#ifndef LP_PASSES_H
#define LP_PASSES_H

#include "../ops/ops.h"

typedef struct lp_pass {
    const char *name;
    lp_status (*run)(lp_ctx *c);
    int optional; /* 1: skipped by lp_options.no_fusions, 2: skipped by no_layout_pass */
} lp_pass;

extern const lp_pass lp_passes[];
extern const int lp_n_passes;

lp_status lp_pass_canonicalize(lp_ctx *c); /* Identity/Dropout removal */
lp_status lp_pass_infer(lp_ctx *c);        /* shape inference and constant folding */
lp_status lp_pass_simplify(lp_ctx *c);    /* shape-aware ONNX rewrites (redundant Expand) */
lp_status lp_pass_fold_bn(lp_ctx *c);      /* BatchNormalization into Conv/ConvTranspose/Gemm weights */
lp_status lp_pass_lower(lp_ctx *c);        /* ONNX ops -> TFLite ops */
lp_status lp_pass_legalize(lp_ctx *c);     /* element types the TFLite kernels lack -> casts */
lp_status lp_pass_fold(lp_ctx *c);         /* TFLite ops with constant inputs -> constants (src/run kernels) */
lp_status lp_pass_layout(lp_ctx *c);       /* transpose sinking and cancellation */
lp_status lp_pass_fuse(lp_ctx *c);         /* activation / bias fusions */
lp_status lp_pass_dce(lp_ctx *c);          /* dead code removal */
lp_status lp_pass_pixels(lp_ctx *c);       /* image input checks; uint8 pixels with cast + normalization */

/* Index in g->inputs of the input named by opt->image_input, or -1. */
int lp_image_input_index(const lp_graph *g, const lp_options *opt);
/* The lp_color_space of an image input with `channels` channels under opt, or -1 if they disagree. */
int lp_image_color_space(const lp_options *opt, int64_t channels);

/* "node 3 'conv1' (Conv, opset 17)" for messages */
void lp_node_where(const lp_graph *g, const lp_node *n, char *buf, size_t size);

#endif
