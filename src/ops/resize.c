/* Spatial rearrangement and resizing: DepthToSpace (DCR, CRD), SpaceToDepth, Resize, Upsample.
 * All are channels-last kernels in TFLite. */
#include <math.h>
#include <string.h>

#include "ops.h"

#define T(id) lp_T(c, (id))

/* ---------------- DepthToSpace / SpaceToDepth ---------------- */

static lp_status d2s_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    if (x->rank != 4) return lp_fail(c, LP_ERR_INVALID, "input must be 4-D");
    int64_t b = lp_attr_i(c, n, "blocksize", 0);
    if (b <= 0) return lp_fail(c, LP_ERR_INVALID, "attribute 'blocksize' must be positive");
    int64_t d[4];
    if (n->op == LP_OP_DepthToSpace) {
        if (x->dims[1] >= 0 && x->dims[1] % (b * b)) return lp_fail(c, LP_ERR_INVALID, "channels not divisible by blocksize^2");
        d[0] = x->dims[0];
        d[1] = x->dims[1] < 0 ? x->dims[1] : x->dims[1] / (b * b);
        d[2] = x->dims[2] < 0 ? lp_graph_new_sym(c->g, NULL) : x->dims[2] * b;
        d[3] = x->dims[3] < 0 ? lp_graph_new_sym(c->g, NULL) : x->dims[3] * b;
    } else {
        if ((x->dims[2] >= 0 && x->dims[2] % b) || (x->dims[3] >= 0 && x->dims[3] % b))
            return lp_fail(c, LP_ERR_INVALID, "spatial size not divisible by blocksize");
        d[0] = x->dims[0];
        d[1] = x->dims[1] < 0 ? x->dims[1] : x->dims[1] * b * b;
        d[2] = x->dims[2] < 0 ? lp_graph_new_sym(c->g, NULL) : x->dims[2] / b;
        d[3] = x->dims[3] < 0 ? lp_graph_new_sym(c->g, NULL) : x->dims[3] / b;
    }
    lp_set_out(c, n, 0, x->dtype, 4, d);
    return LP_OK;
}

static lp_status d2s_lower(lp_ctx *c, const lp_node *n) {
    int64_t b = lp_attr_i(c, n, "blocksize", 0);
    const char *mode = lp_attr_s(c, n, "mode", "DCR");
    int xn = lp_emit_to_last(c, n->in[0]);
    if (xn < 0) return c->err->code;
    if (n->op == LP_OP_DepthToSpace && strcmp(mode, "CRD") == 0) {
        /* CRD reads channel c*b*b + i*b + j where DCR reads (i*b + j)*C' + c: permute channels first */
        lp_tensor *X = T(xn);
        int64_t C = X->dims[3], Cp = C / (b * b);
        if (C < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "dynamic channel count");
        int32_t *idx = lp_arena_alloc(&c->g->arena, sizeof(int32_t) * (size_t)C);
        if (!idx) return lp_fail(c, LP_ERR_NOMEM, "out of memory");
        for (int64_t i = 0; i < b; i++)
            for (int64_t j = 0; j < b; j++)
                for (int64_t ch = 0; ch < Cp; ch++) idx[(i * b + j) * Cp + ch] = (int32_t)(ch * b * b + i * b + j);
        int ii = lp_emit_i32(c, idx, (int)C, "crd_to_dcr");
        int g = lp_emit_tensor(c, X->dtype, 4, X->dims, "dcr");
        int in[2] = {xn, ii};
        int id = (ii < 0 || g < 0) ? -1 : lp_emit_op(c, LP_TFL_GATHER, in, 2, &g, 1);
        if (id < 0) return c->err->code;
        lp_emit_params(c, id)->axis = 3;
        xn = g;
    } else if (strcmp(mode, "DCR") != 0 && strcmp(mode, "CRD") != 0) {
        return lp_fail(c, LP_ERR_INVALID, "attribute 'mode'='%s'", mode);
    }
    int yn = lp_emit_from_last(c, n->out[0]);
    if (yn < 0) return c->err->code;
    int s2d_crd = n->op == LP_OP_SpaceToDepth && strcmp(mode, "CRD") == 0;
    int kout = yn;
    if (s2d_crd) {
        /* the reference SpaceToDepth (opset 25+) takes mode too: CRD puts channel c*b*b + i*b + j
         * where SPACE_TO_DEPTH (DCR) puts (i*b + j)*C + c: permute the channels after it */
        lp_tensor *Y = T(yn);
        kout = lp_emit_tensor(c, Y->dtype, 4, Y->dims, "dcr");
        if (kout < 0) return c->err->code;
    }
    int id = lp_emit_op(c, n->op == LP_OP_DepthToSpace ? LP_TFL_DEPTH_TO_SPACE : LP_TFL_SPACE_TO_DEPTH, &xn, 1, &kout, 1);
    if (id < 0) return c->err->code;
    lp_emit_params(c, id)->block_size = (int)b;
    if (s2d_crd) {
        int64_t Co = T(yn)->dims[3], C = Co / (b * b);
        if (Co < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "dynamic channel count");
        int32_t *idx = lp_arena_alloc(&c->g->arena, sizeof(int32_t) * (size_t)Co);
        if (!idx) return lp_fail(c, LP_ERR_NOMEM, "out of memory");
        for (int64_t ch = 0; ch < C; ch++)
            for (int64_t k = 0; k < b * b; k++) idx[ch * b * b + k] = (int32_t)(k * C + ch);
        int ii = lp_emit_i32(c, idx, (int)Co, "dcr_to_crd");
        int in[2] = {kout, ii};
        id = ii < 0 ? -1 : lp_emit_op(c, LP_TFL_GATHER, in, 2, &yn, 1);
        if (id < 0) return c->err->code;
        lp_emit_params(c, id)->axis = 3;
    }
    return LP_OK;
}

const lp_op_impl lp_impl_DepthToSpace = {d2s_infer, NULL, d2s_lower};
const lp_op_impl lp_impl_SpaceToDepth = {d2s_infer, NULL, d2s_lower};

/* ---------------- Resize / Upsample ---------------- */

#define UNKNOWN_DIM INT64_MIN /* not -1: that is symbol 1 */

typedef struct resize_spec {
    int64_t out[LP_MAX_RANK];
    double scale[LP_MAX_RANK];
    int has_scale;
    const char *mode, *ctm, *nearest;
} resize_spec;

static lp_status resize_spec_get(lp_ctx *c, const lp_node *n, resize_spec *r) {
    lp_tensor *x = T(n->in[0]);
    LP_TRY(lp_need_rank(c, x, "input"));
    int rank = x->rank;
    r->mode = lp_attr_s(c, n, "mode", "nearest");
    r->has_scale = 0;
    if (n->op == LP_OP_Upsample || n->opset < 11) {
        /* Upsample and opset-10 Resize: asymmetric coordinates, nearest rounds down */
        r->ctm = "asymmetric";
        r->nearest = "floor";
    } else {
        r->ctm = lp_attr_s(c, n, "coordinate_transformation_mode", "half_pixel");
        r->nearest = lp_attr_s(c, n, "nearest_mode", "round_prefer_floor");
    }
    if (c->err->code) return c->err->code;
    int scale_in = -1, sizes_in = -1;
    float sa[LP_MAX_RANK];
    if (n->op == LP_OP_Upsample) {
        if (lp_has_in(n, 1)) scale_in = 1;
        else {
            int k = lp_attr_floats(c, n, "scales", sa, LP_MAX_RANK);
            if (k != rank) return lp_fail(c, LP_ERR_INVALID, "attribute 'scales' must have %d values", rank);
            for (int i = 0; i < rank; i++) r->scale[i] = sa[i];
            r->has_scale = 1;
        }
    } else if (n->opset < 11) {
        scale_in = 1;
    } else {
        if (lp_has_in(n, 3) && lp_tensor_numel(T(n->in[3])) != 0) sizes_in = 3;
        else if (lp_has_in(n, 2) && lp_tensor_numel(T(n->in[2])) != 0) scale_in = 2;
        else return lp_fail(c, LP_ERR_INVALID, "Resize needs scales or sizes");
    }
    if (lp_node_attr(n, "axes")) return lp_fail(c, LP_ERR_UNSUPPORTED, "attribute 'axes' is not supported yet");
    if (scale_in >= 0) {
        lp_tensor *s = T(n->in[scale_in]);
        if (!lp_tensor_is_const(c->g, n->in[scale_in]) || lp_tensor_numel(s) != rank)
            return lp_fail(c, LP_ERR_UNSUPPORTED, "scales must be a constant with one value per dimension");
        for (int i = 0; i < rank; i++) r->scale[i] = lp_get_f64(s->dtype, s->data, i);
        r->has_scale = 1;
    }
    if (r->has_scale) {
        for (int i = 0; i < rank; i++) {
            if (r->scale[i] <= 0) return lp_fail(c, LP_ERR_INVALID, "scale %g", r->scale[i]);
            /* output size = floor(input * scale) */
            r->out[i] = x->dims[i] < 0 ? (r->scale[i] == 1.0 ? x->dims[i] : UNKNOWN_DIM)
                                       : (int64_t)floor((double)x->dims[i] * r->scale[i] + 1e-9);
        }
    } else {
        /* sizes may carry symbols (PyTorch: concat(shape(x)[:2], [h, w])) */
        lp_symval sv;
        if (!lp_sv_get(c, n->in[sizes_in], &sv) || sv.n != rank)
            return lp_fail(c, LP_ERR_UNSUPPORTED, "sizes must be known with one value per dimension");
        for (int i = 0; i < rank; i++) {
            r->out[i] = sv.sym[i] ? -(int64_t)sv.sym[i] : sv.v[i];
            r->scale[i] = x->dims[i] > 0 && !sv.sym[i] ? (double)sv.v[i] / (double)x->dims[i] : 1.0;
        }
    }
    return LP_OK;
}

static lp_status resize_infer(lp_ctx *c, const lp_node *n) {
    resize_spec r;
    LP_TRY(resize_spec_get(c, n, &r));
    lp_tensor *x = T(n->in[0]);
    for (int i = 0; i < x->rank; i++)
        if (r.out[i] == UNKNOWN_DIM) r.out[i] = lp_graph_new_sym(c->g, NULL);
    lp_set_out(c, n, 0, x->dtype, x->rank, r.out);
    return LP_OK;
}

static lp_status resize_lower(lp_ctx *c, const lp_node *n) {
    resize_spec r;
    LP_TRY(resize_spec_get(c, n, &r));
    lp_tensor *x = T(n->in[0]), *y = T(n->out[0]);
    if (x->rank != 4) return lp_fail(c, LP_ERR_UNSUPPORTED, "resizing a %d-D tensor (4-D only)", x->rank);
    if (y->dims[0] != x->dims[0] || y->dims[1] != x->dims[1])
        return lp_fail(c, LP_ERR_UNSUPPORTED, "resizing the batch or channel dimension");
    if (y->dims[2] < 0 || y->dims[3] < 0) return lp_fail(c, LP_ERR_UNSUPPORTED, "a dynamic output size");
    int linear = strcmp(r.mode, "linear") == 0 || strcmp(r.mode, "bilinear") == 0;
    int nearest = strcmp(r.mode, "nearest") == 0;
    if (!linear && !nearest) return lp_fail(c, LP_ERR_UNSUPPORTED, "attribute 'mode'='%s' is not supported yet", r.mode);
    int align = 0, half = 0;
    const char *ctm = r.ctm;
    if (strcmp(ctm, "align_corners") == 0) align = 1;
    else if (strcmp(ctm, "half_pixel") == 0 || strcmp(ctm, "pytorch_half_pixel") == 0) half = 1;
    else if (strcmp(ctm, "asymmetric") != 0)
        return lp_fail(c, LP_ERR_UNSUPPORTED, "attribute 'coordinate_transformation_mode'='%s' is not supported yet", ctm);
    if (strcmp(ctm, "pytorch_half_pixel") == 0 && (y->dims[2] == 1 || y->dims[3] == 1))
        return lp_fail(c, LP_ERR_UNSUPPORTED, "pytorch_half_pixel with an output size of 1");
    /* TFLite derives the scale from the sizes: ONNX scales must agree with it */
    if (r.has_scale)
        for (int i = 2; i < 4; i++)
            if (fabs(r.scale[i] * (double)x->dims[i] - (double)y->dims[i]) > 1e-6 * (double)y->dims[i])
                return lp_fail(c, LP_ERR_UNSUPPORTED, "scale %g does not give a whole output size", r.scale[i]);
    if (nearest) {
        /* TFLite nearest: floor(x*scale) (asymmetric), round(x*(in-1)/(out-1)) (align_corners),
         * floor((x+0.5)*scale) (half_pixel_centers) */
        const char *nm = r.nearest;
        int ok = (!align && !half && strcmp(nm, "floor") == 0) ||
                 (align && strcmp(nm, "round_prefer_ceil") == 0) ||
                 (half && strcmp(nm, "round_prefer_ceil") == 0);
        if (half && strcmp(nm, "round_prefer_floor") == 0) {
            /* round_prefer_floor((x+0.5)*s - 0.5) equals floor((x+0.5)*s) unless (x+0.5)*s is whole */
            ok = 1;
            for (int i = 2; i < 4 && ok; i++) {
                double s = (double)x->dims[i] / (double)y->dims[i];
                for (int64_t o = 0; o < y->dims[i]; o++) {
                    double v = ((double)o + 0.5) * s;
                    if (fabs(v - floor(v + 0.5)) < 1e-9) {
                        ok = 0;
                        break;
                    }
                }
            }
        }
        if (!ok)
            return lp_fail(c, LP_ERR_UNSUPPORTED,
                           "nearest_mode '%s' with coordinate_transformation_mode '%s' is not supported yet", nm, ctm);
    }
    int xn = lp_emit_to_last(c, n->in[0]);
    int32_t sz[2] = {(int32_t)y->dims[2], (int32_t)y->dims[3]};
    int si = lp_emit_i32(c, sz, 2, "size");
    int yn = lp_emit_from_last(c, n->out[0]);
    if (xn < 0 || si < 0 || yn < 0) return c->err->code;
    int in[2] = {xn, si};
    int id = lp_emit_op(c, linear ? LP_TFL_RESIZE_BILINEAR : LP_TFL_RESIZE_NEAREST_NEIGHBOR, in, 2, &yn, 1);
    if (id < 0) return c->err->code;
    lp_tfl_params *p = lp_emit_params(c, id);
    p->align_corners = align;
    p->half_pixel = half;
    return LP_OK;
}

const lp_op_impl lp_impl_Resize = {resize_infer, NULL, resize_lower};
const lp_op_impl lp_impl_Upsample = {resize_infer, NULL, resize_lower};
