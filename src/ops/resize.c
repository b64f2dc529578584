/* Spatial rearrangement and resizing: DepthToSpace (DCR, CRD), SpaceToDepth, Resize, Upsample.
 * All are channels-last kernels in TFLite. */
#include <math.h>
#include <string.h>

#include "movement.h"

#define T(id) lp_T(c, (id))

/* ---------------- DepthToSpace / SpaceToDepth ---------------- */

static lp_status d2s_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    if (x->rank != 4) return lp_fail(c, LP_ERR_INVALID, "input must be 4-D");
    if (!lp_node_attr(n, "blocksize")) return lp_fail(c, LP_ERR_INVALID, "attribute 'blocksize' is required");
    int64_t b = lp_attr_i(c, n, "blocksize", 0);
    if (b <= 0 || b > 4096) return lp_fail(c, LP_ERR_INVALID, "attribute 'blocksize' is %lld (1 to 4096 supported)", (long long)b);
    if (x->dims[1] > LP_MAX_ELEMENTS || x->dims[2] > LP_MAX_ELEMENTS || x->dims[3] > LP_MAX_ELEMENTS)
        return lp_fail(c, LP_ERR_LIMIT, "input dimensions are too large");
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
        if (C > LP_MAX_FOLD_ELEMENTS) return lp_fail(c, LP_ERR_LIMIT, "%lld channels are too many", (long long)C);
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
        if (Co > LP_MAX_FOLD_ELEMENTS) return lp_fail(c, LP_ERR_LIMIT, "%lld channels are too many", (long long)Co);
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

/* Resize is separable: each resized axis maps the input through an (out x in) matrix of weights
 * that depends only on sizes, scale and attributes. The weights are computed here in double
 * exactly as ONNX's reference does (coordinate transform, neighbour window, coefficients, edge
 * clamping, exclude_outside, antialias), then applied per axis: nearest as a GATHER with
 * constant indices (any dtype), linear and cubic as a BATCH_MATMUL with the constant matrix.
 * RESIZE_BILINEAR / RESIZE_NEAREST_NEIGHBOR are used where they compute the same thing. */

#define UNKNOWN_DIM INT64_MIN /* not -1: that is symbol 1 */

typedef struct resize_spec {
    int rank;
    int64_t out[LP_MAX_RANK];
    double scale[LP_MAX_RANK];
    int resized[LP_MAX_RANK]; /* axis listed in 'axes' (all by default) */
    double roi[2 * LP_MAX_RANK];
    int has_roi;
    const char *mode, *ctm, *nearest;
    double cubic_a, extrap;
    int exclude, antialias;
    int from_scales;   /* output sizes come from scales (else from sizes) */
    int runtime_sizes; /* sizes is a run-time input not known symbolically */
} resize_spec;

static lp_status resize_spec_get(lp_ctx *c, const lp_node *n, resize_spec *r) {
    lp_tensor *x = T(n->in[0]);
    LP_TRY(lp_need_rank(c, x, "input"));
    int rank = x->rank;
    r->rank = rank;
    r->mode = lp_attr_s(c, n, "mode", "nearest");
    r->cubic_a = lp_attr_f(c, n, "cubic_coeff_a", -0.75f);
    r->exclude = (int)lp_attr_i(c, n, "exclude_outside", 0);
    r->extrap = lp_attr_f(c, n, "extrapolation_value", 0.0f);
    r->antialias = (int)lp_attr_i(c, n, "antialias", 0);
    r->has_roi = 0;
    r->from_scales = 0;
    r->runtime_sizes = 0;
    const char *policy = lp_attr_s(c, n, "keep_aspect_ratio_policy", "stretch");
    if (n->op == LP_OP_Upsample || n->opset < 11) {
        /* Upsample and opset-10 Resize: asymmetric coordinates, nearest rounds down */
        r->ctm = "asymmetric";
        r->nearest = "floor";
    } else {
        r->ctm = lp_attr_s(c, n, "coordinate_transformation_mode", "half_pixel");
        r->nearest = lp_attr_s(c, n, "nearest_mode", "round_prefer_floor");
    }
    if (c->err->code) return c->err->code;
    if (strcmp(r->mode, "bilinear") == 0) r->mode = "linear"; /* Upsample-7 spelling */
    if (strcmp(r->mode, "nearest") && strcmp(r->mode, "linear") && strcmp(r->mode, "cubic"))
        return lp_fail(c, LP_ERR_INVALID, "attribute 'mode'='%s'", r->mode);
    int64_t axes[LP_MAX_RANK];
    int na = lp_attr_ints(c, n, "axes", axes, LP_MAX_RANK);
    if (c->err->code) return c->err->code;
    for (int i = 0; i < rank; i++) r->resized[i] = na < 0;
    int ax[LP_MAX_RANK];
    if (na < 0) {
        na = rank;
        for (int i = 0; i < rank; i++) ax[i] = i;
    } else {
        for (int i = 0; i < na; i++) {
            LP_TRY(lp_axis(c, axes[i], rank, &ax[i], "axis"));
            if (r->resized[ax[i]]++) return lp_fail(c, LP_ERR_INVALID, "axis %d is repeated", ax[i]);
        }
    }
    for (int i = 0; i < rank; i++) {
        r->out[i] = x->dims[i];
        r->scale[i] = 1.0;
        r->roi[i] = 0.0;
        r->roi[rank + i] = 1.0;
    }
    int scale_in = -1, sizes_in = -1;
    float sa[LP_MAX_RANK];
    double sc[LP_MAX_RANK];
    int have_scales = 0;
    if (n->op == LP_OP_Upsample) {
        if (lp_has_in(n, 1)) scale_in = 1;
        else {
            int k = lp_attr_floats(c, n, "scales", sa, LP_MAX_RANK);
            if (k != rank) return lp_fail(c, LP_ERR_INVALID, "attribute 'scales' must have %d values", rank);
            for (int i = 0; i < rank; i++) sc[i] = sa[i];
            have_scales = 1;
        }
    } else if (n->opset < 11) {
        scale_in = 1;
    } else {
        if (lp_has_in(n, 3) && lp_tensor_numel(T(n->in[3])) != 0) sizes_in = 3;
        else if (lp_has_in(n, 2) && lp_tensor_numel(T(n->in[2])) != 0) scale_in = 2;
        else return lp_fail(c, LP_ERR_INVALID, "Resize needs scales or sizes");
        if (strcmp(r->ctm, "tf_crop_and_resize") == 0) {
            if (!lp_has_in(n, 1)) return lp_fail(c, LP_ERR_INVALID, "tf_crop_and_resize needs roi");
            lp_tensor *R = T(n->in[1]);
            if (!lp_tensor_is_const(c->g, n->in[1]) || lp_tensor_numel(R) != 2 * na)
                return lp_fail(c, LP_ERR_UNSUPPORTED, "roi must be a constant with 2 values per resized axis");
            for (int i = 0; i < na; i++) {
                r->roi[ax[i]] = lp_get_f64(R->dtype, R->data, i);
                r->roi[rank + ax[i]] = lp_get_f64(R->dtype, R->data, na + i);
            }
            r->has_roi = 1;
        }
    }
    if (scale_in >= 0) {
        lp_tensor *s = T(n->in[scale_in]);
        if (!lp_tensor_is_const(c->g, n->in[scale_in]) || lp_tensor_numel(s) != na)
            return lp_fail(c, LP_ERR_UNSUPPORTED,
                           "scales must be a constant with one value per resized axis (the weights are built at "
                           "conversion time)");
        for (int i = 0; i < na; i++) sc[i] = lp_get_f64(s->dtype, s->data, i);
        have_scales = 1;
    }
    if (have_scales) {
        r->from_scales = 1;
        for (int i = 0; i < na; i++) {
            int a = ax[i];
            if (!(sc[i] > 0)) return lp_fail(c, LP_ERR_INVALID, "scale %g", sc[i]);
            r->scale[a] = sc[i];
            /* ONNX: output size = floor(input * scale) */
            double o = x->dims[a] < 0 ? 0 : floor((double)x->dims[a] * sc[i]);
            if (!(o <= (double)LP_MAX_DIM))
                return lp_fail(c, LP_ERR_INVALID, "scale %g makes dimension %d %g long (at most %lld)", sc[i], a, o,
                               (long long)LP_MAX_DIM);
            r->out[a] = x->dims[a] < 0 ? (sc[i] == 1.0 ? x->dims[a] : UNKNOWN_DIM) : (int64_t)o;
        }
        return LP_OK;
    }
    /* sizes may carry symbols (PyTorch: concat(shape(x)[:2], [h, w])); a run-time sizes input
     * that is not known symbolically gives fresh symbols (read at run time by the lowering),
     * except where the model declares a number */
    lp_symval sv;
    int64_t sz[LP_MAX_RANK];
    int known = lp_sv_get(c, n->in[sizes_in], &sv) && sv.n == na;
    if (known) {
        for (int i = 0; i < na; i++) {
            if (!sv.sym[i] && (sv.v[i] < 0 || sv.v[i] > LP_MAX_DIM))
                return lp_fail(c, LP_ERR_INVALID, "sizes entry %d is %lld", i, (long long)sv.v[i]);
            sz[i] = sv.sym[i] ? -(int64_t)sv.sym[i] : sv.v[i];
        }
    } else {
        lp_tensor *S = T(n->in[sizes_in]);
        if (strcmp(policy, "stretch") != 0)
            return lp_fail(c, LP_ERR_UNSUPPORTED, "keep_aspect_ratio_policy '%s' with run-time sizes", policy);
        if (S->rank != 1 || S->dims[0] != na)
            return lp_fail(c, LP_ERR_INVALID, "sizes must be 1-D with one value per resized axis");
        int64_t dd[LP_MAX_RANK];
        int declared = mv_declared(c, n, 0, dd) == rank;
        for (int i = 0; i < na; i++) sz[i] = declared && dd[ax[i]] >= 0 ? dd[ax[i]] : UNKNOWN_DIM;
        r->runtime_sizes = 1;
        for (int i = 0; i < na; i++) {
            r->out[ax[i]] = sz[i];
            r->scale[ax[i]] = x->dims[ax[i]] > 0 && sz[i] >= 0 ? (double)sz[i] / (double)x->dims[ax[i]] : 1.0;
        }
        return LP_OK;
    }
    if (strcmp(policy, "stretch") == 0) {
        for (int i = 0; i < na; i++) {
            int a = ax[i];
            r->out[a] = sz[i];
            r->scale[a] = x->dims[a] > 0 && sz[i] >= 0 ? (double)sz[i] / (double)x->dims[a] : 1.0;
        }
        return LP_OK;
    }
    int larger = strcmp(policy, "not_smaller") == 0;
    if (!larger && strcmp(policy, "not_larger") != 0)
        return lp_fail(c, LP_ERR_INVALID, "attribute 'keep_aspect_ratio_policy'='%s'", policy);
    double s = larger ? 0 : INFINITY;
    for (int i = 0; i < na; i++) {
        if (sz[i] < 0 || x->dims[ax[i]] <= 0)
            return lp_fail(c, LP_ERR_UNSUPPORTED, "keep_aspect_ratio_policy with dynamic sizes");
        double q = (double)sz[i] / (double)x->dims[ax[i]];
        s = larger ? (q > s ? q : s) : (q < s ? q : s);
    }
    for (int i = 0; i < na; i++) {
        int a = ax[i];
        r->scale[a] = s;
        r->out[a] = (int64_t)(s * (double)x->dims[a] + 0.5); /* round half up */
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

/* ONNX's source coordinate of output position o along an axis; *extrap set for tf_crop_and_resize
 * positions outside the input */
static double resize_coord(const resize_spec *r, int a, double o, int64_t in, int64_t out, int *extrap) {
    double s = r->scale[a], ow = s * (double)in, x;
    *extrap = 0;
    const char *m = r->ctm;
    /* align_corners, tf_crop_and_resize and pytorch_half_pixel take the fractional output width
     * scale * in, as ONNX's reference (and so the backend suite's expected data) does; the spec
     * text and onnxruntime use the integer length, which differs only when scale * in is not whole */
    if (strcmp(m, "align_corners") == 0) {
        x = ow == 1 ? 0.0 : o * (double)(in - 1) / (ow - 1);
    } else if (strcmp(m, "asymmetric") == 0) {
        x = o / s;
    } else if (strcmp(m, "tf_crop_and_resize") == 0) {
        double r0 = r->roi[a], r1 = r->roi[r->rank + a];
        x = ow == 1 ? (r1 - r0) * (double)(in - 1) / 2 : o * (r1 - r0) * (double)(in - 1) / (ow - 1);
        x += r0 * (double)(in - 1);
        if (x < 0 || x > (double)(in - 1)) *extrap = 1;
    } else if (strcmp(m, "pytorch_half_pixel") == 0) {
        x = ow == 1 ? -0.5 : (o + 0.5) / s - 0.5;
    } else if (strcmp(m, "half_pixel_symmetric") == 0) {
        double adj = (double)out / ow, center = (double)in / 2;
        x = center * (1 - adj) + (o + 0.5) / s - 0.5;
    } else {
        x = (o + 0.5) / s - 0.5; /* half_pixel */
    }
    return x;
}

static double cubic_w(double x, double A) {
    x = fabs(x);
    if (x <= 1) return ((A + 2) * x - (A + 3)) * x * x + 1;
    if (x < 2) return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
    return 0;
}

/* coefficients for the fractional position `ratio` in (0, 1]; returns their count */
static int resize_coeffs(const resize_spec *r, double ratio, double s, double *co) {
    if (r->mode[0] == 'n') {
        const char *nm = r->nearest;
        int up;
        if (ratio == 1.0) up = 1;
        else if (strcmp(nm, "round_prefer_ceil") == 0) up = ratio >= 0.5;
        else if (strcmp(nm, "floor") == 0) up = 0;
        else if (strcmp(nm, "ceil") == 0) up = 1;
        else up = ratio > 0.5; /* round_prefer_floor */
        co[0] = !up;
        co[1] = up;
        return 2;
    }
    if (!r->antialias || s >= 1.0) {
        if (r->mode[0] == 'l') {
            co[0] = 1 - ratio;
            co[1] = ratio;
            return 2;
        }
        double A = r->cubic_a;
        co[0] = cubic_w(ratio + 1, A);
        co[1] = cubic_w(ratio, A);
        co[2] = cubic_w(1 - ratio, A);
        co[3] = cubic_w(2 - ratio, A);
        return 4;
    }
    /* antialias (downsampling): the kernel stretched by 1/scale, normalised */
    int k = 0;
    double sum = 0;
    if (r->mode[0] == 'l') {
        int start = (int)floor(-1 / s) + 1, fp = 2 - 2 * start;
        for (int i = 0; i < fp && k < 256; i++, k++) {
            double v = 1 - fabs(((double)(start + i) - ratio) * s);
            co[k] = v < 0 ? 0 : v > 1 ? 1 : v;
            sum += co[k];
        }
    } else {
        int i0 = (int)floor(-2 / s) + 1, i1 = 2 - i0;
        for (int i = i0; i < i1 && k < 256; i++, k++) {
            co[k] = cubic_w(s * ((double)i - ratio), r->cubic_a);
            sum += co[k];
        }
    }
    for (int i = 0; i < k; i++) co[i] /= sum;
    return k;
}

/* The (out x in) weights of axis a (row-major, doubles) and the extrapolated rows. */
static lp_status resize_weights(lp_ctx *c, const resize_spec *r, int a, int64_t in, int64_t out, double *w,
                                uint8_t *ext) {
    memset(w, 0, sizeof(double) * (size_t)(in * out));
    for (int64_t o = 0; o < out; o++) {
        int e;
        double x = resize_coord(r, a, (double)o, in, out, &e);
        ext[o] = (uint8_t)e;
        double xi = floor(x), ratio = x == xi ? 1.0 : x - xi;
        double co[256];
        int nco = resize_coeffs(r, ratio, r->scale[a], co);
        if (nco <= 0 || nco >= 256) return lp_fail(c, LP_ERR_LIMIT, "antialias kernel too wide");
        /* the window of nco neighbours of x (ties toward smaller indices), as the reference picks it */
        int pad = (nco + 1) / 2;
        double xp = x + pad, pp = floor(xp), frac = xp - pp;
        int64_t off = nco % 2 == 0 ? (frac == 0 ? -(nco / 2) : -(nco / 2) + 1)
                                   : (frac <= 0.5 ? -((nco - 1) / 2) : -((nco - 1) / 2) + 1);
        int64_t start = (int64_t)pp + off - pad;
        if (r->exclude) {
            double sum = 0;
            for (int t = 0; t < nco; t++) {
                int64_t i = start + t;
                if (i < 0 || i >= in) co[t] = 0;
                sum += co[t];
            }
            if (sum == 0) sum = 1;
            for (int t = 0; t < nco; t++) co[t] /= sum;
        }
        for (int t = 0; t < nco; t++) {
            int64_t i = start + t;
            i = i < 0 ? 0 : i >= in ? in - 1 : i;
            w[o * in + i] += co[t];
        }
    }
    return LP_OK;
}

/* y = resize of x along axis a (x has static dims); out >= 0 names the result tensor */
static int resize_axis(lp_ctx *c, const resize_spec *r, int x, int a, int64_t outn, int out) {
    lp_tensor *X = T(x);
    int rank = X->rank;
    int64_t in = X->dims[a];
    int64_t cells;
    if (in < 0 || outn < 0 || !lp_mul_i64(in, outn, &cells) || cells > ((int64_t)1 << 26))
        return lp_fail(c, LP_ERR_LIMIT, "resize matrix %lld x %lld is too large", (long long)outn, (long long)in), -1;
    double *w = lp_arena_alloc(&c->g->arena, sizeof(double) * ((size_t)(in * outn) + 1));
    uint8_t *ext = lp_arena_alloc(&c->g->arena, (size_t)(outn ? outn : 1));
    if (!w || !ext) return lp_fail(c, LP_ERR_NOMEM, "out of memory"), -1;
    if (resize_weights(c, r, a, in, outn, w, ext) != LP_OK) return -1;
    int any_ext = 0;
    for (int64_t o = 0; o < outn; o++) any_ext |= ext[o];
    int64_t yd[LP_MAX_RANK];
    memcpy(yd, X->dims, sizeof yd);
    yd[a] = outn;
    int res = (out >= 0 && !any_ext) ? out : lp_emit_tensor(c, X->dtype, rank, yd, "resized");
    if (res < 0) return -1;
    if (r->mode[0] == 'n') {
        /* nearest: each row has a single 1 */
        int32_t *idx = lp_arena_alloc(&c->g->arena, sizeof(int32_t) * (size_t)(outn ? outn : 1));
        if (!idx) return lp_fail(c, LP_ERR_NOMEM, "out of memory"), -1;
        for (int64_t o = 0; o < outn; o++) {
            idx[o] = 0;
            for (int64_t i = 0; i < in; i++)
                if (w[o * in + i] > 0.5) idx[o] = (int32_t)i;
        }
        int ii = lp_emit_i32(c, idx, (int)outn, "nearest_index");
        int in2[2] = {x, ii};
        int id = ii < 0 ? -1 : lp_emit_op(c, LP_TFL_GATHER, in2, 2, &res, 1);
        if (id < 0) return -1;
        lp_emit_params(c, id)->axis = a;
    } else {
        /* [outer, in, inner] -> W [out, in] applied as BATCH_MATMUL */
        int64_t outer = 1, inner = 1;
        for (int i = 0; i < a; i++) outer *= X->dims[i];
        for (int i = a + 1; i < rank; i++) inner *= X->dims[i];
        float *wf = lp_arena_alloc(&c->g->arena, sizeof(float) * ((size_t)(in * outn) + 1));
        if (!wf) return lp_fail(c, LP_ERR_NOMEM, "out of memory"), -1;
        int mm;
        if (inner == 1) {
            /* x [outer, in] @ W^T [in, out] */
            for (int64_t o = 0; o < outn; o++)
                for (int64_t i = 0; i < in; i++) wf[i * outn + o] = (float)w[o * in + i];
            int64_t x2[2] = {outer, in}, wd[2] = {in, outn}, y2[2] = {outer, outn};
            int xr = mv_reshape(c, x, 2, x2);
            int wc = lp_emit_const(c, LP_DT_F32, 2, wd, wf, "resize_weights");
            mm = lp_emit_tensor(c, X->dtype, 2, y2, "mm");
            int in2[2] = {xr, wc};
            if (xr < 0 || wc < 0 || mm < 0 || lp_emit_op(c, LP_TFL_BATCH_MATMUL, in2, 2, &mm, 1) < 0) return -1;
        } else {
            /* W [1, out, in] @ x [outer, in, inner] */
            for (int64_t k = 0; k < in * outn; k++) wf[k] = (float)w[k];
            int64_t x3[3] = {outer, in, inner}, wd[3] = {1, outn, in}, y3[3] = {outer, outn, inner};
            int xr = mv_reshape(c, x, 3, x3);
            int wc = lp_emit_const(c, LP_DT_F32, 3, wd, wf, "resize_weights");
            mm = lp_emit_tensor(c, X->dtype, 3, y3, "mm");
            int in2[2] = {wc, xr};
            if (xr < 0 || wc < 0 || mm < 0 || lp_emit_op(c, LP_TFL_BATCH_MATMUL, in2, 2, &mm, 1) < 0) return -1;
        }
        if (lp_emit_reshape(c, mm, rank, yd, res) < 0) return -1;
    }
    if (!any_ext) return res;
    /* tf_crop_and_resize: positions outside the input take extrapolation_value */
    int64_t md[LP_MAX_RANK];
    for (int i = 0; i < rank; i++) md[i] = i == a ? outn : 1;
    int64_t *mv = lp_arena_alloc(&c->g->arena, sizeof(int64_t) * (size_t)outn);
    if (!mv) return lp_fail(c, LP_ERR_NOMEM, "out of memory"), -1;
    for (int64_t o = 0; o < outn; o++) mv[o] = ext[o];
    int mask = mv_const_ints(c, LP_DT_BOOL, rank, md, mv, outn, "extrapolated");
    int ev = lp_emit_scalar(c, X->dtype, r->extrap, "extrapolation_value");
    if (mask < 0 || ev < 0) return -1;
    if (out < 0) out = lp_emit_tensor(c, X->dtype, rank, yd, "resized");
    int in3[3] = {mask, ev, res};
    if (out < 0 || lp_emit_op(c, LP_TFL_SELECT_V2, in3, 3, &out, 1) < 0) return -1;
    return out;
}

/* The TFLite kernels when they compute exactly ONNX's result: 4-D, only H and W resized, scales
 * agreeing with the sizes, and a coordinate/nearest mode TFLite has. TFLite derives its scale
 * from the sizes (in / out): a dynamic axis resized by scales needs a whole scale (out = in *
 * scale exactly); sizes always agree (ONNX's scale is then out / in). */
static int resize_fast(lp_ctx *c, const lp_node *n, const resize_spec *r, int *align, int *half) {
    lp_tensor *x = T(n->in[0]), *y = T(n->out[0]);
    if (x->rank != 4 || y->rank != 4 || r->antialias) return 0;
    if (y->dims[0] != x->dims[0] || y->dims[1] != x->dims[1] || r->mode[0] == 'c') return 0;
    if (r->ctm[0] == 't' || strcmp(r->ctm, "half_pixel_symmetric") == 0) return 0;
    for (int i = 2; i < 4; i++) {
        if (x->dims[i] >= 0 && y->dims[i] >= 0) {
            if (fabs(r->scale[i] * (double)x->dims[i] - (double)y->dims[i]) > 1e-9 * (double)y->dims[i]) return 0;
        } else if (r->from_scales && (r->scale[i] < 1 || r->scale[i] != floor(r->scale[i]) || r->scale[i] > 65536)) {
            return 0;
        }
    }
    *align = strcmp(r->ctm, "align_corners") == 0;
    *half = strcmp(r->ctm, "half_pixel") == 0 || strcmp(r->ctm, "pytorch_half_pixel") == 0;
    /* pytorch_half_pixel reads position 0 for an output size of 1 (TFLite's half-pixel kernel
     * reads the middle): a static size 1 takes the general path, a dynamic one is handled by
     * resize_fast_lower */
    if (strcmp(r->ctm, "pytorch_half_pixel") == 0 && (y->dims[2] == 1 || y->dims[3] == 1)) return 0;
    if (r->mode[0] == 'l') {
        /* RESIZE_BILINEAR with align_corners: scale (in-1)/(out-1), as ONNX; out == 1 differs */
        if (*align && (y->dims[2] == 1 || y->dims[3] == 1)) return 0;
        if (*align && (y->dims[2] < 0 || y->dims[3] < 0)) return 0; /* could be 1 at run time */
        return 1;
    }
    /* nearest: TFLite's asymmetric kernel is floor(x * in/out), ONNX's asymmetric + floor; its
     * align_corners and half_pixel_centers roundings differ from ONNX's at ties, so those take
     * the GATHER path (constant indices, as cheap) */
    return !*align && !*half && strcmp(r->nearest, "floor") == 0;
}

/* the output size [H, W] of a 4-D resize as an int32 tensor (constant when static) */
static int resize_size(lp_ctx *c, const lp_node *n, const resize_spec *r) {
    lp_tensor *x = T(n->in[0]), *y = T(n->out[0]);
    int64_t yd[2] = {y->dims[2], y->dims[3]}, xd[2] = {x->dims[2], x->dims[3]};
    if (yd[0] >= 0 && yd[1] >= 0) return mv_i32v(c, yd, 2, "size");
    if (lp_dims_computable(c, 2, yd, -1, 0)) return lp_emit_dims(c, 2, yd, -1, 0);
    if (r->from_scales) {
        /* out = in * scale, a whole scale (resize_fast) */
        int64_t k[2] = {(int64_t)r->scale[2], (int64_t)r->scale[3]};
        int in = lp_emit_dims(c, 2, xd, n->in[0], 0);
        int kc = mv_i32v(c, k, 2, "scale");
        return (in < 0 || kc < 0) ? -1 : mv_bin(c, LP_TFL_MUL, in, kc, "size");
    }
    /* a run-time sizes input: its H and W entries */
    int s = n->in[n->opset < 11 ? 1 : 3];
    lp_tensor *S = T(s);
    int64_t len = S->dims[0], hw[2] = {len - 2, len - 1};
    const lp_attr *axes = lp_node_attr(n, "axes");
    if (axes && axes->type == LP_ATTR_INTS) {
        for (int i = 0; i < axes->n; i++) {
            int64_t a = axes->ints[i] < 0 ? axes->ints[i] + 4 : axes->ints[i];
            if (a == 2) hw[0] = i;
            if (a == 3) hw[1] = i;
        }
    }
    int si = mv_as(c, s, LP_DT_I32);
    int ii = mv_i32v(c, hw, 2, "hw");
    int64_t two = 2;
    int out = lp_emit_tensor(c, LP_DT_I32, 1, &two, "size");
    int in2[2] = {si, ii};
    if (si < 0 || ii < 0 || out < 0) return -1;
    int id = lp_emit_op(c, LP_TFL_GATHER, in2, 2, &out, 1);
    if (id < 0) return -1;
    lp_emit_params(c, id)->axis = 0;
    return out;
}

static lp_status resize_lower(lp_ctx *c, const lp_node *n) {
    resize_spec r;
    LP_TRY(resize_spec_get(c, n, &r));
    lp_tensor *x = T(n->in[0]), *y = T(n->out[0]);
    int align = 0, half = 0;
    if (resize_fast(c, n, &r, &align, &half)) {
        int xn = lp_emit_to_last(c, n->in[0]);
        int si = resize_size(c, n, &r);
        if (xn < 0 || si < 0) return c->err->code;
        if (strcmp(r.ctm, "pytorch_half_pixel") == 0 && (T(n->out[0])->dims[2] < 0 || T(n->out[0])->dims[3] < 0)) {
            /* an output size that may be 1 at run time: ONNX then reads position 0. Cropping the
             * input to that one position there makes TFLite's half-pixel kernel read it too:
             * in' = min(in, (out - 1) * in + 1) is 1 for out == 1 and in otherwise. */
            int64_t xd[2] = {T(n->in[0])->dims[2], T(n->in[0])->dims[3]};
            int in = lp_emit_dims(c, 2, xd, n->in[0], 0);
            int one = mv_iscalar(c, LP_DT_I32, 1, "one");
            int a = (in < 0 || one < 0) ? -1 : mv_bin(c, LP_TFL_SUB, si, one, "out_minus_1");
            a = a < 0 ? -1 : mv_bin(c, LP_TFL_MUL, a, in, "scaled");
            a = a < 0 ? -1 : mv_bin(c, LP_TFL_ADD, a, one, "plus_1");
            a = a < 0 ? -1 : mv_bin(c, LP_TFL_MINIMUM, a, in, "kept");
            int64_t m1 = -1, z4[4] = {0, 0, 0, 0};
            int e = mv_i32v(c, &m1, 1, "all");
            int parts[3] = {e, a, e};
            int64_t four = 4;
            int sz = lp_emit_tensor(c, LP_DT_I32, 1, &four, "crop");
            int cid = (a < 0 || e < 0 || sz < 0) ? -1 : lp_emit_op(c, LP_TFL_CONCATENATION, parts, 3, &sz, 1);
            if (cid < 0) return c->err->code;
            lp_emit_params(c, cid)->axis = 0;
            int b = mv_i32v(c, z4, 4, "begin");
            lp_tensor *X = T(xn);
            int64_t cd[4] = {X->dims[0], lp_graph_new_sym(c->g, NULL), lp_graph_new_sym(c->g, NULL), X->dims[3]};
            int cropped = lp_emit_tensor(c, X->dtype, 4, cd, "cropped");
            int in3[3] = {xn, b, sz};
            if (b < 0 || cropped < 0 || lp_emit_op(c, LP_TFL_SLICE, in3, 3, &cropped, 1) < 0) return c->err->code;
            xn = cropped;
        }
        int yn = lp_emit_from_last(c, n->out[0]);
        if (yn < 0) return c->err->code;
        int in[2] = {xn, si};
        int id = lp_emit_op(c, r.mode[0] == 'l' ? LP_TFL_RESIZE_BILINEAR : LP_TFL_RESIZE_NEAREST_NEIGHBOR, in, 2, &yn, 1);
        if (id < 0) return c->err->code;
        lp_tfl_params *p = lp_emit_params(c, id);
        p->align_corners = align;
        p->half_pixel = half;
        return LP_OK;
    }
    if (!mv_static(x) || !mv_static(y))
        return lp_fail(c, LP_ERR_UNSUPPORTED,
                       "resizing needs static input and output shapes here (dynamic shapes: 4-D, H and W only, "
                       "linear or nearest (floor, asymmetric), and whole scales)");
    /* axes that change (an axis with scale 1 and the same size is left alone, as ONNX does) */
    int todo[LP_MAX_RANK], nt = 0;
    for (int a = 0; a < r.rank; a++) {
        if (!r.resized[a]) continue;
        int trivial_roi = !r.has_roi || (r.roi[a] == 0.0 && r.roi[r.rank + a] == 1.0);
        if (fabs(r.scale[a] - 1.0) < 1e-9 && y->dims[a] == x->dims[a] && trivial_roi) continue;
        todo[nt++] = a;
    }
    if (nt == 0) return lp_emit_identity(c, n->in[0], n->out[0]) < 0 ? c->err->code : LP_OK;
    int cur = n->in[0];
    for (int k = 0; k < nt; k++) {
        cur = resize_axis(c, &r, cur, todo[k], y->dims[todo[k]], k == nt - 1 ? n->out[0] : -1);
        if (cur < 0) return c->err->code;
    }
    return LP_OK;
}

const lp_op_impl lp_impl_Resize = {resize_infer, NULL, resize_lower};
const lp_op_impl lp_impl_Upsample = {resize_infer, NULL, resize_lower};
