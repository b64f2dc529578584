/* pixels: checks the image input named by lp_options.image_input once the layout is final, and
 * with image_uint8 makes it take 8-bit pixels.
 *
 * An Android bitmap is 8-bit RGB in height x width x channels order. With image_uint8 the image
 * input becomes a uint8 tensor of the same (channels-last) shape, followed inside the model by
 *     CAST(uint8 -> float32) -> SUB(mean) -> MUL(1 / std)
 * with per-channel constants of shape [C] that broadcast over the last axis; the float tensor the
 * rest of the graph reads is unchanged. SUB is left out when every mean is 0, MUL when every std
 * is 1. The driver has already put mean and std on the 0-255 scale (lp_options.norm_scale 255).
 */
#include <stdio.h>
#include <string.h>

#include "passes.h"

int lp_image_input_index(const lp_graph *g, const lp_options *opt) {
    if (!opt->image_input) return -1;
    for (int k = 0; k < g->inputs.n; k++)
        if (strcmp(g->t[g->inputs.v[k]].name, opt->image_input) == 0) return k;
    return -1;
}

int lp_image_color_space(const lp_options *opt, int64_t channels) {
    if (opt->image_color_space == LP_COLOR_RGB) return channels == 3 ? LP_COLOR_RGB : -1;
    if (opt->image_color_space == LP_COLOR_GRAYSCALE) return channels == 1 ? LP_COLOR_GRAYSCALE : -1;
    if (opt->image_color_space != LP_COLOR_AUTO) return -1;
    return channels == 3 ? LP_COLOR_RGB : channels == 1 ? LP_COLOR_GRAYSCALE : -1;
}

static lp_status check_image(lp_ctx *c, const lp_tensor *X) {
    char shape[200];
    lp_shape_str(c->g, X, shape, sizeof shape);
    if (X->rank != 4)
        return lp_fail(c, LP_ERR_INVALID, "image input '%s' has shape %s; an image input has 4 dimensions",
                       X->name, shape);
    int64_t ch = X->dims[3];
    /* channels-last: an NCHW input became NHWC (perm puts ONNX dim 1 last), or the ONNX model
     * already had channels last */
    int last = X->has_io_perm ? X->io_perm[3] == 1 : (ch == 1 || ch == 3);
    if (!last || ch < 0)
        return lp_fail(c, LP_ERR_INVALID,
                       "image input '%s' is %s in the .tflite model, not height x width x channels "
                       "(--keep-io-layout and --no-layout-pass keep the ONNX layout)",
                       X->name, shape);
    if (lp_image_color_space(c->opt, ch) < 0) {
        if (c->opt->image_color_space == LP_COLOR_AUTO)
            return lp_fail(c, LP_ERR_UNSUPPORTED,
                           "image input '%s' has %lld channels; image metadata knows RGB (3) and grayscale (1)",
                           X->name, (long long)ch);
        return lp_fail(c, LP_ERR_INVALID, "image input '%s' has %lld channels; color space %s needs %d", X->name,
                       (long long)ch, c->opt->image_color_space == LP_COLOR_RGB ? "rgb" : "grayscale",
                       c->opt->image_color_space == LP_COLOR_RGB ? 3 : 1);
    }
    int nn = c->opt->n_image_norm;
    if (nn != 0 && nn != 1 && nn != ch)
        return lp_fail(c, LP_ERR_INVALID, "image input '%s' has %lld channels; give 1 or %lld mean/std values, not %d",
                       X->name, (long long)ch, (long long)ch, nn);
    if (X->dtype != LP_DT_F32 && !(X->dtype == LP_DT_U8 && !c->opt->image_uint8))
        return lp_fail(c, LP_ERR_UNSUPPORTED, "image input '%s' has type %s; an image input is float32%s", X->name,
                       lp_dtype_name(X->dtype), c->opt->image_uint8 ? "" : " or uint8");
    if (X->dtype == LP_DT_U8) {
        /* the ONNX model takes pixels and normalizes them itself: a normalization in the metadata
         * would make the app normalize first and then cast the result to uint8 */
        for (int i = 0; i < nn; i++)
            if (c->opt->image_mean[i] != 0.0f || c->opt->image_std[i] != 1.0f)
                return lp_fail(c, LP_ERR_INVALID,
                               "image input '%s' takes uint8 pixels in the ONNX model, which normalizes them "
                               "itself: give no mean/std",
                               X->name);
    }
    if (X->flags & LP_T_OUTPUT)
        return lp_fail(c, LP_ERR_UNSUPPORTED, "image input '%s' is also a graph output", X->name);
    return LP_OK;
}

/* A [C] float constant named base/what. */
static int channel_const(lp_graph *g, const char *base, const char *what, const float *v, int64_t ch) {
    char name[600];
    snprintf(name, sizeof name, "%.400s/%s", base, what);
    return lp_graph_add_const(g, name, LP_DT_F32, 1, &ch, v, sizeof(float) * (size_t)ch, 1);
}

lp_status lp_pass_pixels(lp_ctx *c) {
    lp_graph *g = c->g;
    const lp_options *o = c->opt;
    if (!o->image_input) return LP_OK;
    int k = lp_image_input_index(g, o);
    if (k < 0) return lp_fail(c, LP_ERR_INTERNAL, "image input '%s' disappeared", o->image_input);
    int x = g->inputs.v[k];
    LP_TRY(check_image(c, &g->t[x]));
    if (!o->image_uint8 || g->t[x].dtype == LP_DT_U8) return LP_OK;

    int64_t ch = g->t[x].dims[3];
    float mean[4], scale[4];
    int sub = 0, mul = 0;
    for (int i = 0; i < ch; i++) {
        int j = o->n_image_norm == 1 ? 0 : i;
        mean[i] = o->n_image_norm ? o->image_mean[j] : 0.0f;
        float sd = o->n_image_norm ? o->image_std[j] : 1.0f;
        scale[i] = 1.0f / sd;
        sub |= mean[i] != 0.0f;
        mul |= sd != 1.0f;
    }
    /* the uint8 tensor takes over the name, the place among the inputs and the layout record */
    const char *name = g->t[x].name;
    char fname[600];
    snprintf(fname, sizeof fname, "%.400s/float", name);
    int u = lp_graph_add_tensor(g, name, LP_DT_U8, 4, g->t[x].dims);
    if (u < 0) return g->err->code;
    lp_tensor *X = &g->t[x], *U = &g->t[u];
    U->flags |= LP_T_INPUT;
    U->has_io_perm = X->has_io_perm;
    memcpy(U->io_perm, X->io_perm, sizeof U->io_perm);
    X->name = lp_arena_strdup(&g->arena, fname);
    if (!X->name) return lp_fail(c, LP_ERR_NOMEM, "out of memory");
    X->flags &= ~LP_T_INPUT;
    X->has_io_perm = 0;
    g->inputs.v[k] = u;

    /* u -> cast -> [sub] -> [mul] -> x */
    int steps = 1 + sub + mul, cur = u;
    for (int s = 0; s < steps; s++) {
        int last = s == steps - 1;
        char tname[600];
        int out = x;
        if (!last) {
            snprintf(tname, sizeof tname, "%.400s/%s", name, s == 0 ? "cast" : "centered");
            out = lp_graph_add_tensor(g, tname, LP_DT_F32, 4, g->t[x].dims);
            if (out < 0) return g->err->code;
        }
        int id;
        if (s == 0) {
            snprintf(tname, sizeof tname, "%.400s/cast", name);
            id = lp_graph_add_node(g, LP_TFL_CAST, tname, &cur, 1, &out, 1);
            if (id >= 0) {
                g->n[id].p.in_type = LP_DT_U8;
                g->n[id].p.out_type = LP_DT_F32;
            }
        } else {
            int is_sub = sub && s == 1;
            int cst = channel_const(g, name, is_sub ? "mean" : "inv_std", is_sub ? mean : scale, ch);
            if (cst < 0) return g->err->code;
            int ins[2] = {cur, cst};
            snprintf(tname, sizeof tname, "%.400s/%s", name, is_sub ? "sub_mean" : "div_std");
            id = lp_graph_add_node(g, is_sub ? LP_TFL_SUB : LP_TFL_MUL, tname, ins, 2, &out, 1);
        }
        if (id < 0) return g->err->code;
        cur = out;
    }
    return LP_OK;
}
