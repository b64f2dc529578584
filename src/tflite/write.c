/* IR (TFLite ops) -> TFLite flatbuffer. Field ids and enum values: ../shared/FORMATS.md section 2. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tflite.h"

static const struct {
    int code;
    int opt;
} tfl_info[LP_OP_COUNT] = {
#define LP_TFL_OP(name, code, opt) [LP_TFL_##name] = {code, opt},
#include "../ops/tfl_ops.def"
#undef LP_TFL_OP
};

int lp_tfl_builtin_code(lp_op op) { return lp_op_is_tfl(op) ? tfl_info[op].code : -1; }

/* TensorType numbering of schema.fbs */
static int tfl_type(lp_dtype t) {
    switch (t) {
    case LP_DT_F32: return 0;
    case LP_DT_F16: return 1;
    case LP_DT_I32: return 2;
    case LP_DT_U8: return 3;
    case LP_DT_I64: return 4;
    case LP_DT_STRING: return 5;
    case LP_DT_BOOL: return 6;
    case LP_DT_I16: return 7;
    case LP_DT_C64: return 8;
    case LP_DT_I8: return 9;
    case LP_DT_F64: return 10;
    case LP_DT_C128: return 11;
    case LP_DT_U64: return 12;
    case LP_DT_U32: return 15;
    case LP_DT_U16: return 16;
    case LP_DT_I4: return 17;
    case LP_DT_BF16: return 18;
    default: return -1;
    }
}

static int max_rank_of_io(const lp_graph *g, const lp_node *n) {
    int r = 0;
    for (int i = 0; i < n->n_in; i++)
        if (n->in[i] >= 0 && g->t[n->in[i]].rank > r) r = g->t[n->in[i]].rank;
    for (int i = 0; i < n->n_out; i++)
        if (n->out[i] >= 0 && g->t[n->out[i]].rank > r) r = g->t[n->out[i]].rank;
    return r;
}

/* Versions of ops with quantized (int8, hybrid) or float16 tensors: LiteRT's op_version.cc
 * (GetBuiltinOperatorVersion), in its order of checks. 0 = not such an op (see below). */
static int dtype_in(const lp_graph *g, const lp_node *n, int k) {
    return k < n->n_in && n->in[k] >= 0 ? (int)g->t[n->in[k]].dtype : -1;
}
static int dtype_out(const lp_graph *g, const lp_node *n, int k) {
    return k < n->n_out && n->out[k] >= 0 ? (int)g->t[n->out[k]].dtype : -1;
}
static int per_channel(const lp_graph *g, const lp_node *n, int k) {
    return k < n->n_in && n->in[k] >= 0 && g->t[n->in[k]].q && g->t[n->in[k]].q->n > 1;
}
static int broadcast_over_4d(const lp_graph *g, const lp_node *n) {
    if (n->n_in < 2 || n->in[0] < 0 || n->in[1] < 0) return 0;
    const lp_tensor *a = &g->t[n->in[0]], *b = &g->t[n->in[1]];
    int same = a->rank == b->rank;
    for (int d = 0; same && d < a->rank; d++) same = a->dims[d] == b->dims[d];
    return !same && (a->rank > 4 || b->rank > 4);
}

static int quant_version(const lp_graph *g, const lp_node *n) {
    int i0 = dtype_in(g, n, 0), i1 = dtype_in(g, n, 1), o0 = dtype_out(g, n, 0);
    int rank0 = n->n_in > 0 && n->in[0] >= 0 ? g->t[n->in[0]].rank : 0;
    const int F32 = LP_DT_F32, I8 = LP_DT_I8;
    switch (n->op) {
    case LP_TFL_CONV_2D:
        if (i0 == I8 && i1 == I8 && o0 == I8) return 3;
        if (i0 == F32 && i1 == I8 && o0 == F32) return per_channel(g, n, 1) ? 5 : 2;
        return 0;
    case LP_TFL_DEPTHWISE_CONV_2D:
        if (i0 == F32 && i1 == I8 && o0 == F32) return per_channel(g, n, 1) ? 6 : 4;
        if (i0 == I8 && i1 == I8 && o0 == I8) return 3;
        return 0;
    case LP_TFL_FULLY_CONNECTED:
        if (i0 == F32 && i1 == I8 && o0 == F32 && per_channel(g, n, 1)) return 12;
        if (i1 != I8) return 0;
        if (n->n_in == 2) return 6;
        if (n->p.keep_num_dims) return 5;
        if (i0 == I8 && o0 == I8) return 4;
        if (i0 == F32 && o0 == F32) return 3;
        return 0;
    case LP_TFL_TRANSPOSE_CONV:
        if (i1 != I8) return 0;
        if (n->p.act) return 4;
        if (n->n_in == 4 && n->in[3] >= 0) return 3;
        return 2;
    case LP_TFL_DEQUANTIZE:
        if (i0 == LP_DT_F16 || i0 == LP_DT_I16) return 3;
        if (i0 == I8) return per_channel(g, n, 0) ? 5 : 2;
        return 0;
    case LP_TFL_QUANTIZE:
        return i0 >= 0 ? 1 : 0;
    case LP_TFL_MUL:
        if (i0 != I8) return 0;
        if (n->in[1] >= 0 && g->t[n->in[0]].q && g->t[n->in[1]].q && n->out[0] >= 0 && g->t[n->out[0]].q &&
            (double)g->t[n->in[0]].q->scale[0] * g->t[n->in[1]].q->scale[0] / g->t[n->out[0]].q->scale[0] >= 1.0)
            return 3;
        return 2;
    case LP_TFL_SUB:
        if (i0 != I8) return 0;
        return broadcast_over_4d(g, n) ? 3 : 2;
    case LP_TFL_MAXIMUM: case LP_TFL_MINIMUM:
        if (i0 != I8) return 0;
        return broadcast_over_4d(g, n) ? 3 : 2;
    case LP_TFL_TRANSPOSE:
        if (i0 != I8) return 0;
        return rank0 > 5 ? 6 : rank0 > 4 ? 4 : 2;
    case LP_TFL_PAD: case LP_TFL_PADV2:
        if (i0 != I8) return 0;
        return rank0 > 4 ? 4 : 2;
    case LP_TFL_SLICE:
        if (i0 != I8) return 0;
        return rank0 > 4 ? 5 : 2;
    case LP_TFL_STRIDED_SLICE:
        if (i0 != I8) return 0;
        if (n->p.offset) return 8;
        if (n->p.ellipsis_mask || n->p.new_axis_mask) return 6;
        return rank0 > 4 ? 4 : 2;
    case LP_TFL_RESIZE_BILINEAR:
        if (i0 != I8) return 0;
        return n->p.half_pixel ? 3 : 2;
    case LP_TFL_RESIZE_NEAREST_NEIGHBOR:
        if (i0 != I8) return 0;
        return (n->p.half_pixel || n->p.align_corners) ? 3 : 2;
    case LP_TFL_SPLIT: /* the input is input 1 */
        return i1 == I8 ? 2 : 0;
    case LP_TFL_GATHER:
        if (i0 != I8) return 0;
        return n->p.batch_dims ? 5 : 2;
    case LP_TFL_TILE: case LP_TFL_BROADCAST_TO:
        return i0 == I8 ? 3 : 0;
    case LP_TFL_SPACE_TO_BATCH_ND: case LP_TFL_BATCH_TO_SPACE_ND:
        if (i0 != I8) return 0;
        return rank0 != 4 ? 3 : 2;
    case LP_TFL_ADD: case LP_TFL_AVERAGE_POOL_2D: case LP_TFL_MAX_POOL_2D: case LP_TFL_CONCATENATION:
    case LP_TFL_SOFTMAX: case LP_TFL_MEAN: case LP_TFL_MIRROR_PAD: case LP_TFL_REDUCE_MAX: case LP_TFL_REDUCE_MIN:
    case LP_TFL_RELU6: case LP_TFL_RSQRT: case LP_TFL_RELU: case LP_TFL_TANH: case LP_TFL_LOGISTIC:
    case LP_TFL_SPACE_TO_DEPTH: case LP_TFL_DEPTH_TO_SPACE: case LP_TFL_SPLIT_V: case LP_TFL_SUM:
    case LP_TFL_LOG_SOFTMAX: case LP_TFL_SQUARED_DIFFERENCE: case LP_TFL_PACK: case LP_TFL_UNPACK:
    case LP_TFL_ARG_MAX: case LP_TFL_ARG_MIN: case LP_TFL_EXP: case LP_TFL_GELU: case LP_TFL_L2_NORMALIZATION:
    case LP_TFL_BATCH_MATMUL: case LP_TFL_ABS:
        return i0 == I8 ? 2 : 0;
    default:
        return 0; /* RESHAPE, SQUEEZE, EXPAND_DIMS, HARD_SWISH, LEAKY_RELU, PRELU, ELU: version 1 */
    }
}

int lp_tfl_op_version(const lp_graph *g, const lp_node *n) {
    int qv = quant_version(g, n);
    if (qv) return qv;
    const lp_tfl_params *p = &n->p;
    int rank = max_rank_of_io(g, n);
    lp_dtype in_dt = n->n_in > 0 && n->in[0] >= 0 ? g->t[n->in[0]].dtype : LP_DT_F32;
    switch (n->op) {
    case LP_TFL_CONV_2D: {
        /* grouped convolution: the filter's input depth is smaller than the input's */
        const lp_tensor *x = &g->t[n->in[0]], *w = &g->t[n->in[1]];
        if (x->rank == 4 && w->rank == 4 && x->dims[3] >= 0 && w->dims[3] != x->dims[3]) return 6;
        return in_dt == LP_DT_I8 ? 3 : 1;
    }
    case LP_TFL_DEPTHWISE_CONV_2D:
        if (in_dt == LP_DT_I8) return 3;
        return (p->dil_w > 1 || p->dil_h > 1) ? 2 : 1;
    case LP_TFL_FULLY_CONNECTED:
        if (p->keep_num_dims) return 5;
        if (n->n_in == 2) return 6;
        return in_dt == LP_DT_I8 ? 4 : 1;
    case LP_TFL_TRANSPOSE_CONV:
        if (p->act) return 4;
        return (n->n_in > 3 && n->in[3] >= 0) ? 3 : 1;
    case LP_TFL_RESIZE_BILINEAR: return p->half_pixel ? 3 : 1;
    case LP_TFL_RESIZE_NEAREST_NEIGHBOR: return (p->half_pixel || p->align_corners) ? 3 : 1;
    case LP_TFL_STRIDED_SLICE:
        if (p->offset) return 8;
        if (p->ellipsis_mask || p->new_axis_mask) return 6;
        return rank > 4 ? 4 : 1;
    case LP_TFL_GATHER: return p->batch_dims ? 5 : 1;
    case LP_TFL_CAST: {
        /* op_version.cc: the types each CAST version added */
        lp_dtype a = (lp_dtype)p->in_type, b = (lp_dtype)p->out_type;
#define CAST_HAS(t) (a == (t) || b == (t))
        if (CAST_HAS(LP_DT_BF16)) return 7;
        if (a == LP_DT_I4 && b == LP_DT_F32) return 6;
        if (CAST_HAS(LP_DT_F64) || CAST_HAS(LP_DT_F16)) return 5;
        if (CAST_HAS(LP_DT_U16)) return 4;
        if (CAST_HAS(LP_DT_I8)) return 3;
        if (CAST_HAS(LP_DT_U32)) return 2;
#undef CAST_HAS
        return 1;
    }
    case LP_TFL_BROADCAST_TO: return 2;
    case LP_TFL_SIGN: return in_dt == LP_DT_I32 ? 2 : 1;
    case LP_TFL_SUB: return rank > 4 ? 3 : 1;
    case LP_TFL_DIV: return rank > 4 ? 2 : 1;
    case LP_TFL_MAXIMUM:
    case LP_TFL_MINIMUM: return rank > 4 ? 3 : 1;
    case LP_TFL_TRANSPOSE: return rank > 6 ? 8 : rank > 5 ? 6 : rank > 4 ? 4 : 1;
    case LP_TFL_PAD:
    case LP_TFL_PADV2: return rank > 4 ? 4 : 1;
    case LP_TFL_SLICE: return rank > 4 ? 5 : 1;
    case LP_TFL_SELECT: return rank > 4 ? 3 : 1;
    /* SELECT_V2 broadcasts up to 5-D at version 1: LiteRT 2.3's resolver has no version 3 */
    default: return 1;
    }
}

/* Runtime versions that first support an (op, version); informational metadata. Ops not listed
 * need 1.5.0 or less at version 1 (the first LiteRT release with versioned ops). */
static const struct {
    lp_op op;
    int version;
    const char *runtime;
} runtime_table[] = {
    {LP_TFL_CONV_2D, 6, "2.9.0"},           {LP_TFL_DEPTHWISE_CONV_2D, 2, "1.12.0"},
    {LP_TFL_FULLY_CONNECTED, 5, "2.0.0"},   {LP_TFL_FULLY_CONNECTED, 6, "2.1.0"},
    {LP_TFL_TRANSPOSE_CONV, 3, "2.3.0"},    {LP_TFL_TRANSPOSE_CONV, 4, "2.13.0"},
    {LP_TFL_GELU, 1, "2.9.0"},              {LP_TFL_BATCH_MATMUL, 1, "2.3.0"},
    {LP_TFL_HARD_SWISH, 1, "1.15.0"},       {LP_TFL_RESIZE_BILINEAR, 3, "2.2.0"},
    {LP_TFL_RESIZE_NEAREST_NEIGHBOR, 3, "2.3.0"}, {LP_TFL_LEAKY_RELU, 1, "1.13.1"},
    {LP_TFL_TRANSPOSE, 4, "2.4.0"},         {LP_TFL_TRANSPOSE, 6, "2.12.0"},
    {LP_TFL_STRIDED_SLICE, 4, "2.3.0"},     {LP_TFL_BROADCAST_TO, 2, "2.5.0"},
    {LP_TFL_GATHER, 5, "2.6.0"},            {LP_TFL_DEPTH_TO_SPACE, 1, "2.1.0"},
    {LP_TFL_MIRROR_PAD, 1, "1.13.1"},       {LP_TFL_SPLIT_V, 1, "1.13.1"},
    {LP_TFL_SELECT_V2, 1, "2.2.0"},         {LP_TFL_CUMSUM, 1, "2.4.0"},
    {LP_TFL_RELU_0_TO_1, 1, "2.15.0"},      {LP_TFL_SIGN, 1, "2.15.0"},
    {LP_TFL_SUB, 3, "2.3.0"},               {LP_TFL_DIV, 2, "2.3.0"},
    {LP_TFL_PAD, 4, "2.6.0"},               {LP_TFL_SLICE, 5, "2.5.0"},
    {LP_TFL_CONV_3D, 1, "2.5.0"},           {LP_TFL_CONV_3D_TRANSPOSE, 1, "2.6.0"},
    {LP_TFL_SCATTER_ND, 1, "2.1.0"},        {LP_TFL_ROUND, 1, "1.14.0"},
    {LP_TFL_CAST, 2, "2.7.0"},              {LP_TFL_CAST, 3, "2.8.0"},
    {LP_TFL_CAST, 4, "2.9.0"},              {LP_TFL_CAST, 5, "2.12.0"},
    {LP_TFL_ATAN2, 1, "2.10.0"},
};

static int version_less(const char *a, const char *b) {
    int x[3] = {0}, y[3] = {0};
    sscanf(a, "%d.%d.%d", &x[0], &x[1], &x[2]);
    sscanf(b, "%d.%d.%d", &y[0], &y[1], &y[2]);
    for (int i = 0; i < 3; i++)
        if (x[i] != y[i]) return x[i] < y[i];
    return 0;
}

static const char *runtime_for(lp_op op, int version) {
    const char *best = "1.5.0";
    for (size_t i = 0; i < sizeof runtime_table / sizeof runtime_table[0]; i++)
        if (runtime_table[i].op == op && runtime_table[i].version <= version &&
            version_less(best, runtime_table[i].runtime))
            best = runtime_table[i].runtime;
    return best;
}

/* ---------------- options ---------------- */

static lp_fb_ref write_options(lp_fb *b, const lp_node *n) {
    const lp_tfl_params *p = &n->p;
    int opt = tfl_info[n->op].opt;
    if (!opt) return 0;
    switch (n->op) {
    case LP_TFL_RESHAPE: {
        lp_fb_ref ns = 0;
        if (p->n_new_shape) ns = lp_fb_vec_i32(b, p->new_shape, p->n_new_shape);
        lp_fb_start(b);
        lp_fb_add_ref(b, 0, ns);
        return lp_fb_end(b);
    }
    case LP_TFL_SQUEEZE: {
        lp_fb_ref sd = lp_fb_vec_i32(b, p->squeeze_dims, p->n_squeeze);
        lp_fb_start(b);
        lp_fb_add_ref(b, 0, sd);
        return lp_fb_end(b);
    }
    default: break;
    }
    lp_fb_start(b);
    switch (n->op) {
    case LP_TFL_CONV_2D:
        lp_fb_add_i8(b, 0, (int8_t)p->padding);
        lp_fb_add_i32(b, 1, p->stride_w);
        lp_fb_add_i32(b, 2, p->stride_h);
        lp_fb_add_i8(b, 3, (int8_t)p->act);
        lp_fb_add_i32(b, 4, p->dil_w ? p->dil_w : 1);
        lp_fb_add_i32(b, 5, p->dil_h ? p->dil_h : 1);
        break;
    case LP_TFL_DEPTHWISE_CONV_2D:
        lp_fb_add_i8(b, 0, (int8_t)p->padding);
        lp_fb_add_i32(b, 1, p->stride_w);
        lp_fb_add_i32(b, 2, p->stride_h);
        lp_fb_add_i32(b, 3, p->depth_mult);
        lp_fb_add_i8(b, 4, (int8_t)p->act);
        lp_fb_add_i32(b, 5, p->dil_w ? p->dil_w : 1);
        lp_fb_add_i32(b, 6, p->dil_h ? p->dil_h : 1);
        break;
    case LP_TFL_AVERAGE_POOL_2D:
    case LP_TFL_MAX_POOL_2D:
    case LP_TFL_L2_POOL_2D:
        lp_fb_add_i8(b, 0, (int8_t)p->padding);
        lp_fb_add_i32(b, 1, p->stride_w);
        lp_fb_add_i32(b, 2, p->stride_h);
        lp_fb_add_i32(b, 3, p->filter_w);
        lp_fb_add_i32(b, 4, p->filter_h);
        lp_fb_add_i8(b, 5, (int8_t)p->act);
        break;
    case LP_TFL_FULLY_CONNECTED:
        lp_fb_add_i8(b, 0, (int8_t)p->act);
        if (p->keep_num_dims) lp_fb_add_u8(b, 2, 1);
        break;
    case LP_TFL_SOFTMAX: lp_fb_add_f32(b, 0, p->beta); break;
    case LP_TFL_CONCATENATION:
        lp_fb_add_i32(b, 0, p->axis);
        lp_fb_add_i8(b, 1, (int8_t)p->act);
        break;
    case LP_TFL_ADD:
    case LP_TFL_SUB:
    case LP_TFL_MUL:
    case LP_TFL_DIV:
    case LP_TFL_L2_NORMALIZATION: lp_fb_add_i8(b, 0, (int8_t)p->act); break;
    case LP_TFL_MEAN:
    case LP_TFL_SUM:
    case LP_TFL_REDUCE_PROD:
    case LP_TFL_REDUCE_MAX:
    case LP_TFL_REDUCE_MIN:
    case LP_TFL_REDUCE_ALL: lp_fb_add_u8(b, 0, (uint8_t)(p->keep_dims != 0)); break;
    case LP_TFL_STRIDED_SLICE:
        lp_fb_add_i32(b, 0, p->begin_mask);
        lp_fb_add_i32(b, 1, p->end_mask);
        lp_fb_add_i32(b, 2, p->ellipsis_mask);
        lp_fb_add_i32(b, 3, p->new_axis_mask);
        lp_fb_add_i32(b, 4, p->shrink_axis_mask);
        if (p->offset) lp_fb_add_u8(b, 5, 1);
        break;
    case LP_TFL_SPLIT:
    case LP_TFL_SPLIT_V: lp_fb_add_i32(b, 0, p->num); break;
    case LP_TFL_CAST:
        lp_fb_add_i8(b, 0, (int8_t)tfl_type((lp_dtype)p->in_type));
        lp_fb_add_i8(b, 1, (int8_t)tfl_type((lp_dtype)p->out_type));
        break;
    case LP_TFL_ARG_MAX:
    case LP_TFL_ARG_MIN:
    case LP_TFL_SHAPE: lp_fb_add_i8(b, 0, (int8_t)tfl_type((lp_dtype)p->out_type)); break;
    case LP_TFL_GATHER:
        lp_fb_add_i32(b, 0, p->axis);
        lp_fb_add_i32(b, 1, p->batch_dims);
        break;
    case LP_TFL_RESIZE_BILINEAR:
        lp_fb_add_u8(b, 2, (uint8_t)p->align_corners);
        lp_fb_add_u8(b, 3, (uint8_t)p->half_pixel);
        break;
    case LP_TFL_RESIZE_NEAREST_NEIGHBOR:
        lp_fb_add_u8(b, 0, (uint8_t)p->align_corners);
        lp_fb_add_u8(b, 1, (uint8_t)p->half_pixel);
        break;
    case LP_TFL_LEAKY_RELU: lp_fb_add_f32(b, 0, p->alpha); break;
    case LP_TFL_DEPTH_TO_SPACE:
    case LP_TFL_SPACE_TO_DEPTH: lp_fb_add_i32(b, 0, p->block_size); break;
    case LP_TFL_TRANSPOSE_CONV:
        lp_fb_add_i8(b, 0, (int8_t)p->padding);
        lp_fb_add_i32(b, 1, p->stride_w);
        lp_fb_add_i32(b, 2, p->stride_h);
        if (p->act) lp_fb_add_i8(b, 3, (int8_t)p->act);
        break;
    case LP_TFL_CONV_3D:
    case LP_TFL_CONV_3D_TRANSPOSE:
        lp_fb_add_i8(b, 0, (int8_t)p->padding);
        lp_fb_add_i32(b, 1, p->stride_d);
        lp_fb_add_i32(b, 2, p->stride_w);
        lp_fb_add_i32(b, 3, p->stride_h);
        lp_fb_add_i8(b, 4, (int8_t)p->act);
        lp_fb_add_i32(b, 5, p->dil_d ? p->dil_d : 1);
        lp_fb_add_i32(b, 6, p->dil_w ? p->dil_w : 1);
        lp_fb_add_i32(b, 7, p->dil_h ? p->dil_h : 1);
        break;
    case LP_TFL_LOCAL_RESPONSE_NORMALIZATION:
        lp_fb_add_i32(b, 0, p->radius);
        lp_fb_add_f32(b, 1, p->lrn_bias);
        lp_fb_add_f32(b, 2, p->alpha);
        lp_fb_add_f32(b, 3, p->beta);
        break;
    case LP_TFL_BATCH_MATMUL:
        lp_fb_add_u8(b, 0, (uint8_t)p->adj_x);
        lp_fb_add_u8(b, 1, (uint8_t)p->adj_y);
        break;
    case LP_TFL_PACK:
    case LP_TFL_UNPACK:
        lp_fb_add_i32(b, 0, p->num);
        lp_fb_add_i32(b, 1, p->axis);
        break;
    case LP_TFL_MIRROR_PAD: lp_fb_add_i8(b, 0, (int8_t)p->mode); break;
    case LP_TFL_ONE_HOT: lp_fb_add_i32(b, 0, p->axis); break;
    case LP_TFL_REVERSE_SEQUENCE: /* seq_dim in axis, batch_dim in batch_dims */
        lp_fb_add_i32(b, 0, p->axis);
        lp_fb_add_i32(b, 1, p->batch_dims);
        break;
    case LP_TFL_GELU: lp_fb_add_u8(b, 0, (uint8_t)p->approximate); break;
    case LP_TFL_CUMSUM:
        lp_fb_add_u8(b, 0, (uint8_t)p->exclusive);
        lp_fb_add_u8(b, 1, (uint8_t)p->reverse);
        break;
    default: break; /* options tables without fields */
    }
    return lp_fb_end(b);
}

/* ---------------- buffer dedup ---------------- */

/* A cheap fingerprint: the size and, for small payloads, every byte, else 64 sampled 8-byte words.
 * Equal fingerprints are confirmed with memcmp, so only true duplicates are read in full. */
static uint64_t fingerprint(const void *p, size_t n) {
    const uint8_t *s = p;
    uint64_t h = 1469598103934665603ull ^ n;
    if (n <= 512) {
        for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ull;
        return h;
    }
    for (size_t k = 0; k < 64; k++) {
        size_t at = (n - 8) / 63 * k;
        uint64_t w;
        memcpy(&w, s + at, 8);
        h = (h ^ w) * 1099511628211ull;
        h ^= h >> 29;
    }
    return h;
}

/* fingerprint of a constant's payload (lazy or not): reads only the sampled words */
static uint64_t payload_fingerprint(const lp_tensor *t, size_t n) {
    if (!t->lazy) return fingerprint(t->data, n);
    uint64_t h = 1469598103934665603ull ^ n;
    uint8_t w[8];
    if (n < 8) {
        lp_tensor_read(t, 0, w, n);
        for (size_t i = 0; i < n; i++) h = (h ^ w[i]) * 1099511628211ull;
        return h;
    }
    for (size_t k = 0; k < 64; k++) {
        uint64_t v;
        lp_tensor_read(t, (n - 8) / 63 * k, w, 8);
        memcpy(&v, w, 8);
        h = (h ^ v) * 1099511628211ull;
        h ^= h >> 29;
    }
    return h;
}

/* 1 when two constants' payloads hold the same n bytes; lazy ones are compared in chunks */
static int payload_equal(const lp_tensor *a, const lp_tensor *b, size_t n) {
    if (!a->lazy && !b->lazy) return memcmp(a->data, b->data, n) == 0;
    if (a->lazy && b->lazy && lp_lazy_same(a->lazy, b->lazy)) return 1;
    enum { CHUNK = 1 << 16 };
    uint8_t *x = malloc(2 * CHUNK);
    if (!x) return 0; /* not shared: correct, only larger */
    int eq = 1;
    for (size_t at = 0; at < n && eq; at += CHUNK) {
        size_t k = n - at < CHUNK ? n - at : CHUNK;
        lp_tensor_read(a, at, x, k);
        lp_tensor_read(b, at, x + CHUNK, k);
        eq = memcmp(x, x + CHUNK, k) == 0;
    }
    free(x);
    return eq;
}

static void read_tensor(const void *t, uint64_t off, void *dst, size_t n) { lp_tensor_read(t, off, dst, n); }

/* ---------------- model ---------------- */

typedef struct opcode {
    int code, version;
} opcode;

/* The order the operators are written in: depth-first from the graph outputs (in order), each node
 * after the producers of its inputs (in input order). It depends only on the graph's structure, not
 * on the order in which lowerings created the nodes: C leaves the evaluation order of function
 * arguments unspecified (GCC on x86-64 evaluates them right to left, GCC on AArch64 and clang left
 * to right), so `bin(c, DIV, un(c, SIN, x), un(c, COS, x))` creates its two nodes in a
 * compiler-dependent order, and the .tflite must be the same wherever liteport was built. Live
 * nodes that no output depends on follow, each after its inputs too. Returns the number of nodes
 * written to `out`, -1 when out of memory. */
static int canonical_order(const lp_graph *g, int *out) {
    int nn = g->n_n, k = 0, sp = 0;
    unsigned char *seen = calloc((size_t)nn + 1, 1);
    int *stack = malloc(sizeof(int) * 2 * (size_t)(nn + 1)); /* (node, next input) pairs */
    if (!seen || !stack) {
        free(seen);
        free(stack);
        return -1;
    }
    for (int r = 0; r < g->outputs.n + nn; r++) {
        int root = r - g->outputs.n;
        if (r < g->outputs.n) root = g->outputs.v[r] >= 0 ? g->t[g->outputs.v[r]].producer : -1;
        if (root < 0 || root >= nn || g->n[root].dead || seen[root]) continue;
        seen[root] = 1;
        stack[sp++] = root;
        stack[sp++] = 0;
        while (sp) {
            const lp_node *n = &g->n[stack[sp - 2]];
            int j = stack[sp - 1];
            if (j < n->n_in) {
                stack[sp - 1] = j + 1;
                int p = n->in[j] >= 0 ? g->t[n->in[j]].producer : -1;
                if (p >= 0 && p < nn && !g->n[p].dead && !seen[p]) {
                    seen[p] = 1;
                    stack[sp++] = p;
                    stack[sp++] = 0;
                }
            } else {
                out[k++] = stack[sp - 2];
                sp -= 2;
            }
        }
    }
    free(seen);
    free(stack);
    return k;
}

/* builds the model into b; with `outside` the constant data is not in the flatbuffer: each
 * tensor buffer gets Buffer.offset/size slots (out->tail) that lp_tflite_build fills in */
static lp_status build(lp_graph *g, lp_fb *b, lp_tflite_info *info, int outside, lp_tflite_out *out,
                       const void *meta, size_t meta_size) {
    memset(info, 0, sizeof *info);
    lp_status st = LP_OK;
    int nt = g->n_t;
    int *tidx = malloc(sizeof(int) * (size_t)(nt + 1));     /* IR tensor -> tflite tensor index */
    int *order = malloc(sizeof(int) * (size_t)(nt + 1));    /* tflite index -> IR tensor */
    int *bufidx = calloc((size_t)nt + 1, sizeof(int));      /* IR tensor -> buffer index */
    uint64_t *hashes = calloc((size_t)nt + 1, sizeof(uint64_t));
    /* buffers by fingerprint: chained hash table (a linear scan is quadratic in the constants) */
    size_t nbuckets = 64;
    while (nbuckets < 2 * (size_t)(nt + 1)) nbuckets *= 2;
    int *bucket = malloc(sizeof(int) * nbuckets), *chain = malloc(sizeof(int) * (size_t)(nt + 2));
    int *buf_tensor = malloc(sizeof(int) * (size_t)(nt + 2)); /* buffer index -> IR tensor */
    opcode *codes = malloc(sizeof(opcode) * (size_t)(g->n_n + 1));
    int *op_code_idx = malloc(sizeof(int) * (size_t)(g->n_n + 1));
    lp_fb_ref *refs = malloc(sizeof(lp_fb_ref) * (size_t)(nt + g->n_n + 16));
    int *norder = malloc(sizeof(int) * (size_t)(g->n_n + 1)); /* nodes in the order written */
    int n_live = norder ? canonical_order(g, norder) : -1;
    if (!tidx || !order || !bufidx || !hashes || !bucket || !chain || !buf_tensor || !codes || !op_code_idx || !refs || n_live < 0) {
        st = lp_err_set(g->err, LP_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < nt; i++) tidx[i] = -1;
    for (size_t i = 0; i < nbuckets; i++) bucket[i] = 0; /* 0: empty (buffer 0 is the sentinel) */

    /* tensors in a stable order: inputs, then in node order */
    int n_tfl = 0;
#define USE_TENSOR(t)                               \
    do {                                            \
        if ((t) >= 0 && tidx[(t)] < 0) {            \
            tidx[(t)] = n_tfl;                      \
            order[n_tfl++] = (t);                   \
        }                                           \
    } while (0)
    for (int i = 0; i < g->inputs.n; i++) USE_TENSOR(g->inputs.v[i]);
    int n_ops = 0, n_codes = 0;
    for (int q = 0; q < n_live; q++) {
        int i = norder[q];
        const lp_node *n = &g->n[i];
        if (!lp_op_is_tfl(n->op)) {
            st = lp_err_set(g->err, LP_ERR_INTERNAL, "node '%s' (%s) was not lowered", n->name, lp_op_name(n->op));
            goto done;
        }
        for (int j = 0; j < n->n_in; j++) USE_TENSOR(n->in[j]);
        for (int j = 0; j < n->n_out; j++) USE_TENSOR(n->out[j]);
        int code = tfl_info[n->op].code, ver = lp_tfl_op_version(g, n);
        int k;
        for (k = 0; k < n_codes; k++)
            if (codes[k].code == code && codes[k].version == ver) break;
        if (k == n_codes) {
            codes[n_codes].code = code;
            codes[n_codes].version = ver;
            n_codes++;
        }
        op_code_idx[i] = k;
        n_ops++;
    }
    for (int i = 0; i < g->outputs.n; i++) USE_TENSOR(g->outputs.v[i]);
#undef USE_TENSOR

    /* buffers: 0 is the empty sentinel; identical constant payloads are stored once */
    int n_bufs = 1;
    for (int k = 0; k < n_tfl; k++) {
        int t = order[k];
        const lp_tensor *T = &g->t[t];
        if (!(T->flags & LP_T_CONST)) continue;
        int64_t numel = lp_tensor_numel(T);
        size_t need = numel >= 0 ? (size_t)numel * lp_dtype_size(T->dtype) : 0;
        if (numel < 0 || T->nbytes < need || lp_dtype_size(T->dtype) == 0) {
            st = lp_err_set(g->err, LP_ERR_INTERNAL, "constant '%s' has %zu bytes for shape needing %zu", T->name,
                            T->nbytes, need);
            goto done;
        }
        uint64_t h = payload_fingerprint(T, need);
        int found = 0;
        size_t hb = (size_t)(h ^ (h >> 32)) & (nbuckets - 1);
        for (int j = bucket[hb]; j && !found; j = chain[j]) {
            int o = buf_tensor[j];
            size_t on = (size_t)lp_tensor_numel(&g->t[o]) * lp_dtype_size(g->t[o].dtype);
            if (hashes[o] == h && on == need && payload_equal(&g->t[o], T, need)) {
                bufidx[t] = j;
                found = 1;
                info->n_dedup++;
            }
        }
        if (!found) {
            hashes[t] = h;
            bufidx[t] = n_bufs;
            chain[n_bufs] = bucket[hb];
            bucket[hb] = n_bufs;
            buf_tensor[n_bufs++] = t;
        }
    }

    /* metadata: min_runtime_version */
    const char *rt = "1.5.0";
    for (int q = 0; q < n_live; q++) {
        int i = norder[q];
        const lp_node *n = &g->n[i];
        const char *r = runtime_for(n->op, codes[op_code_idx[i]].version);
        if (version_less(rt, r)) rt = r;
    }
    snprintf(info->min_runtime, sizeof info->min_runtime, "%s", rt);
    int rt_buf = n_bufs++;
    int loc_buf = outside ? n_bufs++ : -1; /* "buffer_location" metadata */
    if (outside) {
        out->tail = calloc((size_t)n_bufs + 1, sizeof *out->tail);
        if (!out->tail) {
            st = lp_err_set(g->err, LP_ERR_NOMEM, "out of memory");
            goto done;
        }
    }
    int md_buf = meta ? n_bufs++ : -1; /* TFLITE_METADATA */

    /* ---- build back to front: buffers' data first (it ends up at the end of the file) ---- */
    lp_fb_ref *buf_refs = refs; /* n_bufs entries */
    lp_fb_ref empty_buf;
    for (int j = n_bufs - 1; j >= 1; j--) {
        lp_fb_ref data;
        if (j == rt_buf) {
            char v[16] = {0};
            memcpy(v, rt, strlen(rt));
            data = lp_fb_bytes(b, v, 16, 16);
        } else if (j == loc_buf) {
            static const char where[] = "outside flatbuffers";
            data = lp_fb_bytes(b, where, sizeof where - 1, 16);
        } else if (j == md_buf) {
            data = lp_fb_bytes(b, meta, meta_size, 16);
        } else {
            const lp_tensor *T = &g->t[buf_tensor[j]];
            size_t need = (size_t)lp_tensor_numel(T) * lp_dtype_size(T->dtype);
            if (outside && need) {
                /* Buffer.offset (from the start of the file) and Buffer.size, set once the
                 * flatbuffer's size is known */
                lp_tflite_tail *e = &out->tail[out->n_tail++];
                e->t = T;
                e->size = need;
                lp_fb_start(b);
                e->slot = lp_fb_add_u64_slot(b, 1);
                lp_fb_add_u64(b, 2, need);
                buf_refs[j] = lp_fb_end(b);
                continue;
            }
            /* Buffer.data has force_align 16 */
            if (need >= 64)
                data = T->lazy ? lp_fb_blob_read(b, read_tensor, T, need, 16) : lp_fb_blob_vec(b, T->data, need, 16);
            else if (T->lazy) {
                uint8_t small[64];
                lp_tensor_read(T, 0, small, need);
                data = lp_fb_bytes(b, small, need, 16);
            } else
                data = lp_fb_bytes(b, T->data, need, 16);
        }
        lp_fb_start(b);
        lp_fb_add_ref(b, 0, data);
        buf_refs[j] = lp_fb_end(b);
    }
    lp_fb_start(b);
    empty_buf = lp_fb_end(b);
    buf_refs[0] = empty_buf;
    lp_fb_ref buffers = lp_fb_vec_ref(b, buf_refs, n_bufs);

    /* tensors */
    lp_fb_ref *trefs = refs;
    for (int k = 0; k < n_tfl; k++) {
        const lp_tensor *T = &g->t[order[k]];
        int ty = tfl_type(T->dtype);
        if (ty < 0) {
            st = lp_err_set(g->err, LP_ERR_UNSUPPORTED, "tensor '%s' has type %s, which TFLite cannot store", T->name,
                            lp_dtype_name(T->dtype));
            goto done;
        }
        if (T->rank < 0) {
            st = lp_err_set(g->err, LP_ERR_UNSUPPORTED, "tensor '%s' has unknown rank", T->name);
            goto done;
        }
        int32_t shape[LP_MAX_RANK], sig[LP_MAX_RANK];
        int dyn = 0;
        for (int i = 0; i < T->rank; i++) {
            if (T->dims[i] > INT32_MAX) {
                st = lp_err_set(g->err, LP_ERR_LIMIT, "tensor '%s' dimension %d is too large for TFLite", T->name, i);
                goto done;
            }
            shape[i] = T->dims[i] >= 0 ? (int32_t)T->dims[i] : 1;
            sig[i] = T->dims[i] >= 0 ? (int32_t)T->dims[i] : -1;
            dyn |= T->dims[i] < 0;
        }
        lp_fb_ref qref = 0;
        if (T->q && T->q->n > 0) { /* QuantizationParameters: 2 scale, 3 zero_point, 6 quantized_dimension */
            lp_fb_ref sc = lp_fb_vec_f32(b, T->q->scale, T->q->n);
            lp_fb_ref zp = lp_fb_vec_i64(b, T->q->zero_point, T->q->n);
            lp_fb_start(b);
            lp_fb_add_ref(b, 2, sc);
            lp_fb_add_ref(b, 3, zp);
            if (T->q->n > 1 && T->q->dim) lp_fb_add_i32(b, 6, T->q->dim);
            qref = lp_fb_end(b);
        }
        lp_fb_ref name = lp_fb_string(b, T->name);
        lp_fb_ref shp = lp_fb_vec_i32(b, shape, T->rank);
        lp_fb_ref shs = dyn ? lp_fb_vec_i32(b, sig, T->rank) : 0;
        /* integer graph inputs and outputs get an empty QuantizationParameters table, as the
         * TensorFlow converter writes: Android Studio's model binding reads quantization().scale(0)
         * of INT32/INT64/UINT8 inputs and outputs without checking for a missing table */
        lp_fb_ref quant = 0;
        if (!qref && (T->flags & (LP_T_INPUT | LP_T_OUTPUT)) && (ty == 2 || ty == 3 || ty == 4)) {
            lp_fb_start(b);
            quant = lp_fb_end(b);
        }
        lp_fb_start(b);
        lp_fb_add_ref(b, 0, shp);
        if (ty) lp_fb_add_i8(b, 1, (int8_t)ty);
        if (bufidx[order[k]]) lp_fb_add_u32(b, 2, (uint32_t)bufidx[order[k]]);
        lp_fb_add_ref(b, 3, name);
        lp_fb_add_ref(b, 4, qref ? qref : quant);
        lp_fb_add_ref(b, 7, shs);
        trefs[k] = lp_fb_end(b);
    }
    lp_fb_ref tensors = lp_fb_vec_ref(b, trefs, n_tfl);

    /* operators */
    lp_fb_ref *orefs = refs;
    int oi = 0;
    for (int q = 0; q < n_live; q++) {
        int i = norder[q];
        const lp_node *n = &g->n[i];
        int32_t ins[64], outs[64];
        if (n->n_in > 64 || n->n_out > 64) {
            st = lp_err_set(g->err, LP_ERR_LIMIT, "node '%s' has too many inputs or outputs", n->name);
            goto done;
        }
        for (int j = 0; j < n->n_in; j++) ins[j] = n->in[j] >= 0 ? tidx[n->in[j]] : -1;
        for (int j = 0; j < n->n_out; j++) outs[j] = n->out[j] >= 0 ? tidx[n->out[j]] : -1;
        lp_fb_ref vin = lp_fb_vec_i32(b, ins, n->n_in);
        lp_fb_ref vout = lp_fb_vec_i32(b, outs, n->n_out);
        lp_fb_ref opts = write_options(b, n);
        lp_fb_start(b);
        if (op_code_idx[i]) lp_fb_add_u32(b, 0, (uint32_t)op_code_idx[i]);
        lp_fb_add_ref(b, 1, vin);
        lp_fb_add_ref(b, 2, vout);
        if (opts) {
            lp_fb_add_u8(b, 3, (uint8_t)tfl_info[n->op].opt);
            lp_fb_add_ref(b, 4, opts);
        }
        orefs[oi++] = lp_fb_end(b);
    }
    lp_fb_ref operators = lp_fb_vec_ref(b, orefs, oi);

    int32_t gin[1024], gout[1024];
    if (g->inputs.n > 1024 || g->outputs.n > 1024) {
        st = lp_err_set(g->err, LP_ERR_LIMIT, "too many graph inputs or outputs");
        goto done;
    }
    for (int i = 0; i < g->inputs.n; i++) gin[i] = tidx[g->inputs.v[i]];
    for (int i = 0; i < g->outputs.n; i++) gout[i] = tidx[g->outputs.v[i]];
    lp_fb_ref vgin = lp_fb_vec_i32(b, gin, g->inputs.n);
    lp_fb_ref vgout = lp_fb_vec_i32(b, gout, g->outputs.n);
    lp_fb_ref sgname = lp_fb_string(b, "main");
    lp_fb_start(b);
    lp_fb_add_ref(b, 0, tensors);
    lp_fb_add_ref(b, 1, vgin);
    lp_fb_add_ref(b, 2, vgout);
    lp_fb_add_ref(b, 3, operators);
    lp_fb_add_ref(b, 4, sgname);
    lp_fb_ref sub = lp_fb_end(b);
    lp_fb_ref subgraphs = lp_fb_vec_ref(b, &sub, 1);

    /* operator codes */
    lp_fb_ref *crefs = refs;
    for (int k = 0; k < n_codes; k++) {
        lp_fb_start(b);
        lp_fb_add_i8(b, 0, (int8_t)(codes[k].code < 127 ? codes[k].code : 127));
        if (codes[k].version != 1) lp_fb_add_i32(b, 2, codes[k].version);
        lp_fb_add_i32(b, 3, codes[k].code);
        crefs[k] = lp_fb_end(b);
    }
    lp_fb_ref opcodes = lp_fb_vec_ref(b, crefs, n_codes);

    /* signature def: keys are the ONNX input/output names in ONNX order */
    lp_fb_ref sig_in[1024], sig_out[1024];
    for (int i = 0; i < g->inputs.n; i++) {
        lp_fb_ref nm = lp_fb_string(b, g->t[g->inputs.v[i]].name);
        lp_fb_start(b);
        lp_fb_add_ref(b, 0, nm);
        lp_fb_add_u32(b, 1, (uint32_t)gin[i]);
        sig_in[i] = lp_fb_end(b);
    }
    for (int i = 0; i < g->outputs.n; i++) {
        lp_fb_ref nm = lp_fb_string(b, g->t[g->outputs.v[i]].name);
        lp_fb_start(b);
        lp_fb_add_ref(b, 0, nm);
        lp_fb_add_u32(b, 1, (uint32_t)gout[i]);
        sig_out[i] = lp_fb_end(b);
    }
    lp_fb_ref vsin = lp_fb_vec_ref(b, sig_in, g->inputs.n);
    lp_fb_ref vsout = lp_fb_vec_ref(b, sig_out, g->outputs.n);
    lp_fb_ref skey = lp_fb_string(b, "serving_default");
    lp_fb_start(b);
    lp_fb_add_ref(b, 0, vsin);
    lp_fb_add_ref(b, 1, vsout);
    lp_fb_add_ref(b, 2, skey);
    lp_fb_ref sigdef = lp_fb_end(b);
    lp_fb_ref sigdefs = lp_fb_vec_ref(b, &sigdef, 1);

    lp_fb_ref meta_ent[3];
    int n_meta = 0;
    for (int k = 0; k < 3; k++) {
        static const char *const key[3] = {"min_runtime_version", "buffer_location", "TFLITE_METADATA"};
        int buf = k == 0 ? rt_buf : k == 1 ? loc_buf : md_buf; /* buffer_location: what TensorFlow's
                                                                  converter writes with data after
                                                                  the flatbuffer */
        if (buf < 0) continue;
        lp_fb_ref mname = lp_fb_string(b, key[k]);
        lp_fb_start(b);
        lp_fb_add_ref(b, 0, mname);
        lp_fb_add_u32(b, 1, (uint32_t)buf);
        meta_ent[n_meta++] = lp_fb_end(b);
    }
    lp_fb_ref metas = lp_fb_vec_ref(b, meta_ent, n_meta);

    lp_fb_ref desc = lp_fb_string(b, "liteport " LITEPORT_VERSION);
    lp_fb_start(b);
    lp_fb_add_u32(b, 0, 3);
    lp_fb_add_ref(b, 1, opcodes);
    lp_fb_add_ref(b, 2, subgraphs);
    lp_fb_add_ref(b, 3, desc);
    lp_fb_add_ref(b, 4, buffers);
    lp_fb_add_ref(b, 6, metas);
    lp_fb_add_ref(b, 7, sigdefs);
    lp_fb_ref model = lp_fb_end(b);
    lp_fb_finish(b, model, "TFL3");
    if (b->too_big && !outside) {
        st = LP_ERR_LIMIT; /* no message: the caller retries with the data outside */
        goto done;
    }
    if (b->failed) {
        st = b->too_big ? lp_err_set(g->err, LP_ERR_LIMIT, "the .tflite flatbuffer would exceed 2 GB even with "
                                                         "the constant data outside it")
                        : lp_err_set(g->err, LP_ERR_NOMEM, "out of memory building the .tflite flatbuffer");
        goto done;
    }
    info->n_ops = n_ops;
    info->n_tensors = n_tfl;
    info->n_buffers = n_bufs;
done:
    free(norder);
    free(tidx);
    free(order);
    free(bufidx);
    free(hashes);
    free(bucket);
    free(chain);
    free(buf_tensor);
    free(codes);
    free(op_code_idx);
    free(refs);
    return st;
}

/* ---------------- output: one flatbuffer, or a flatbuffer followed by the data ---------------- */

#define ALIGN16(x) (((x) + 15) & ~(uint64_t)15)

void lp_tflite_out_free(lp_tflite_out *o) {
    lp_fb_free(&o->fb);
    free(o->tail);
    memset(o, 0, sizeof *o);
}

lp_status lp_tflite_build(lp_graph *g, lp_tflite_out *o, int outside, const void *meta, size_t meta_size,
                          lp_tflite_info *info) {
    memset(o, 0, sizeof *o);
    lp_fb_init(&o->fb);
    lp_status st = LP_ERR_LIMIT;
    if (!outside) {
        st = build(g, &o->fb, info, 0, o, meta, meta_size);
        if (st == LP_OK) {
            o->size = lp_fb_size(&o->fb);
            return LP_OK;
        }
        if (!o->fb.too_big || g->err->code != LP_OK) return st;
        /* past 2 GB: the constant data goes after the flatbuffer */
        lp_tflite_out_free(o);
        lp_fb_init(&o->fb);
    }
    o->outside = 1;
    st = build(g, &o->fb, info, 1, o, meta, meta_size);
    if (st != LP_OK) return st;
    /* the data starts at the first 16-byte boundary after the flatbuffer; each buffer is
     * 16-aligned and 16 zero bytes close the file (TensorFlow's converter leaves them for XNNPack) */
    uint64_t at = ALIGN16(lp_fb_size(&o->fb));
    for (int i = 0; i < o->n_tail; i++) {
        o->tail[i].offset = at;
        lp_fb_patch_u64(&o->fb, o->tail[i].slot, at);
        at = ALIGN16(at + o->tail[i].size);
    }
    o->size = at + 16;
    return LP_OK;
}

static int zeros(int (*write)(void *ud, const void *p, size_t n), void *ud, uint64_t n) {
    static const uint8_t z[16];
    return n <= 16 ? (n == 0 || write(ud, z, (size_t)n)) : 0;
}

int lp_tflite_emit(const lp_tflite_out *o, int (*write)(void *ud, const void *p, size_t n), void *ud) {
    if (!lp_fb_emit(&o->fb, write, ud)) return 0;
    if (!o->outside) return 1;
    uint64_t at = lp_fb_size(&o->fb);
    for (int i = 0; i < o->n_tail; i++) {
        const lp_tflite_tail *e = &o->tail[i];
        if (!zeros(write, ud, e->offset - at)) return 0;
        if (e->t->lazy ? !lp_fb_emit_read(read_tensor, e->t, e->size, write, ud)
                       : !write(ud, e->t->data, e->size))
            return 0;
        at = e->offset + e->size;
    }
    return zeros(write, ud, ALIGN16(at) - at) && zeros(write, ud, 16);
}
