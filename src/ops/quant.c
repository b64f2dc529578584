/* Quantisation: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, MatMulInteger,
 * ConvInteger, QLinearMatMul, QLinearConv.
 *
 * Everything is float math with ONNX's exact rounding, not TFLite's QUANTIZE / DEQUANTIZE:
 * those need quantization parameters fixed in the flatbuffer (ONNX passes scales and zero points
 * as tensors, often computed at run time) and QUANTIZE rounds half away from zero where ONNX
 * rounds half to even. Here y = saturate(round_half_even(x / scale) + zero_point) is DIV, ROUND
 * (banker's rounding in TFLite and XNNPACK), ADD, MAXIMUM/MINIMUM and CAST; integers of at most
 * 16 bits are exact in float32.
 *
 * Integer matmul and convolution (MatMulInteger, ConvInteger, and the accumulation of the QLinear
 * ops) run as float32 matmul/convolution of (x - zero_point): products of 8-bit values are exact,
 * and so is every partial sum below 2^24. When the worst case could reach 2^24, the reduction
 * axis is split into chunks that cannot, each chunk's result cast to int32 and summed in int32:
 * exact for any size. */
#include <math.h>
#include <string.h>

#include "window.h"

#define T(id) lp_T(c, (id))

#define F32_EXACT 16777216.0 /* 2^24: every integer below it is a float32 */

static int qrange(lp_dtype dt, double *lo, double *hi) {
    switch (dt) {
    case LP_DT_U8: *lo = 0, *hi = 255; return 1;
    case LP_DT_I8: *lo = -128, *hi = 127; return 1;
    case LP_DT_U16: *lo = 0, *hi = 65535; return 1;
    case LP_DT_I16: *lo = -32768, *hi = 32767; return 1;
    case LP_DT_I32: *lo = -2147483648.0, *hi = 2147483647.0; return 1;
    default: return 0;
    }
}

static lp_status need_qtype(lp_ctx *c, lp_dtype dt, const char *what) {
    double lo, hi;
    if (!qrange(dt, &lo, &hi))
        return lp_fail(c, LP_ERR_UNSUPPORTED, "%s of type %s: TFLite has no such integer type (int8, uint8, int16, "
                       "uint16, int32 are supported)", what, lp_dtype_name(dt));
    return LP_OK;
}

static lp_status done(lp_ctx *c, int last) { return last < 0 ? (c->err->code ? c->err->code : LP_ERR_INTERNAL) : LP_OK; }

/* A scale or zero point made to broadcast against x (rank r) and cast to `to`:
 *  - one element: used as is (per tensor);
 *  - 1-D [C] without block_size: reshaped to [1, .., C, .., 1] on `axis` (per axis);
 *  - block_size > 0: same rank as x, each value repeated block_size times along `axis` and cut to
 *    x's size there (blocked; ONNX's reference does np.repeat + take). */
static int qparam(lp_ctx *c, int p, const lp_tensor *x, int64_t axis_attr, int64_t block, lp_dtype to) {
    if (p < 0) return -1;
    lp_tensor *P = T(p);
    int r = x->rank;
    int64_t ne = lp_tensor_numel(P);
    if (ne == 1) return lp_nn_cast(c, p, to);
    int axis;
    if (lp_axis(c, axis_attr, r, &axis, "attribute 'axis'") != LP_OK) return -1;
    if (ne < 0) {
        lp_fail(c, LP_ERR_UNSUPPORTED, "the shape of '%s' must be static", P->name);
        return -1;
    }
    if (block <= 0) {
        if (P->rank != 1 || (x->dims[axis] >= 0 && P->dims[0] != x->dims[axis])) {
            lp_fail(c, LP_ERR_INVALID, "'%s' has %lld values; per-axis quantization wants %lld (axis %d)", P->name,
                    (long long)ne, (long long)x->dims[axis], axis);
            return -1;
        }
        int64_t d[LP_MAX_RANK];
        for (int i = 0; i < r; i++) d[i] = i == axis ? P->dims[0] : 1;
        int v = lp_tensor_is_const(c->g, p) ? lp_emit_const(c, P->dtype, r, d, P->data, "qparam")
                                             : lp_emit_reshape(c, p, r, d, -1);
        return lp_nn_cast(c, v, to);
    }
    int64_t D = x->dims[axis];
    if (P->rank != r || D < 0 || P->dims[axis] != (D + block - 1) / block) {
        lp_fail(c, LP_ERR_INVALID, "'%s' does not match block_size %lld on axis %d", P->name, (long long)block, axis);
        return -1;
    }
    int32_t *idx = lp_table_alloc(c, D, sizeof(int32_t), "table of block indices");
    if (!idx) return -1;
    for (int64_t i = 0; i < D; i++) idx[i] = (int32_t)(i / block);
    int ic = lp_emit_i32(c, idx, (int)D, "block_index");
    int64_t d[LP_MAX_RANK];
    memcpy(d, P->dims, sizeof d);
    d[axis] = D;
    int out = lp_emit_tensor(c, P->dtype, r, d, "blocked");
    int in[2] = {p, ic};
    int id = ic < 0 || out < 0 ? -1 : lp_emit_op(c, LP_TFL_GATHER, in, 2, &out, 1);
    if (id < 0) return -1;
    lp_emit_params(c, id)->axis = axis;
    return lp_nn_cast(c, out, to);
}

/* ONNX DataType number of the 'precision' attribute (not translated by the importer) */
static lp_dtype precision_type(int64_t v) {
    switch (v) {
    case 1: return LP_DT_F32;
    case 10: return LP_DT_F16;
    case 11: return LP_DT_F64;
    case 16: return LP_DT_BF16;
    default: return LP_DT_UNDEF;
    }
}

/* q (float32, already rounded) -> saturate(q + zp) cast to dt, into out */
static int saturate_cast(lp_ctx *c, int q, int zp, lp_dtype dt, int out) {
    double lo = 0, hi = 0;
    qrange(dt, &lo, &hi);
    if (zp >= 0) q = lp_nn_binary(c, LP_TFL_ADD, q, zp, -1);
    if (dt == LP_DT_I32) {
        /* float32 has no 2^31 - 1: saturate above it through a select on the int32 result */
        int big = lp_nn_binary_k(c, LP_TFL_GREATER_EQUAL, q, 2147483648.0, -1);
        q = lp_nn_binary_k(c, LP_TFL_MAXIMUM, q, lo, -1);
        q = lp_nn_binary_k(c, LP_TFL_MINIMUM, q, 2147483520.0, -1);
        int qi = lp_emit_cast(c, q, LP_DT_I32, -1);
        int mx = lp_emit_scalar(c, LP_DT_I32, hi, "int32_max");
        int in[3] = {big, mx, qi};
        if (big < 0 || qi < 0 || mx < 0) return -1;
        if (out < 0) out = lp_emit_tensor(c, LP_DT_I32, T(qi)->rank, T(qi)->dims, "saturated");
        return out < 0 || lp_emit_op(c, LP_TFL_SELECT_V2, in, 3, &out, 1) < 0 ? -1 : out;
    }
    q = lp_nn_binary_k(c, LP_TFL_MAXIMUM, q, lo, -1);
    q = lp_nn_binary_k(c, LP_TFL_MINIMUM, q, hi, -1);
    return q < 0 ? -1 : lp_emit_cast(c, q, dt, out);
}

/* ---------------- QuantizeLinear ---------------- */

typedef struct qattrs {
    int64_t axis; /* as written: only checked when a scale is per axis or blocked */
    int64_t block;
    lp_dtype out;
} qattrs;

static lp_status q_attrs(lp_ctx *c, const lp_node *n, int zp_in, qattrs *a) {
    lp_tensor *x = T(n->in[0]);
    LP_TRY(lp_need_rank(c, x, "input"));
    a->axis = lp_attr_i(c, n, "axis", 1);
    a->block = lp_attr_i(c, n, "block_size", 0);
    if (a->block < 0) return lp_fail(c, LP_ERR_INVALID, "attribute 'block_size' is negative");
    lp_dtype od = (lp_dtype)lp_attr_i(c, n, "output_dtype", LP_DT_UNDEF);
    if (lp_has_in(n, zp_in)) {
        lp_dtype zd = T(n->in[zp_in])->dtype;
        if (od != LP_DT_UNDEF && od != zd && n->op == LP_OP_QuantizeLinear)
            return lp_fail(c, LP_ERR_INVALID, "attribute 'output_dtype' differs from the zero point's type");
        if (n->op == LP_OP_QuantizeLinear) od = zd;
    }
    if (od == LP_DT_UNDEF) od = n->op == LP_OP_QuantizeLinear ? LP_DT_U8 : T(n->in[1])->dtype;
    a->out = od;
    return c->err->code;
}

static lp_status quantize_infer(lp_ctx *c, const lp_node *n) {
    qattrs a;
    LP_TRY(q_attrs(c, n, 2, &a));
    lp_tensor *x = T(n->in[0]);
    lp_set_out(c, n, 0, a.out, x->rank, x->dims);
    return LP_OK;
}

static lp_status quantize_lower(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    qattrs a;
    LP_TRY(q_attrs(c, n, 2, &a));
    LP_TRY(need_qtype(c, a.out, "output"));
    if (a.out == LP_DT_I32) return lp_fail(c, LP_ERR_INVALID, "QuantizeLinear has no int32 output");
    /* x / scale in x's type (numpy's arithmetic in the reference), or in 'precision'; opset 10
     * also quantizes int32 x (float32 here) */
    lp_dtype prec = lp_dtype_is_float(x->dtype) ? x->dtype : LP_DT_F32;
    if (!lp_dtype_is_float(x->dtype) && x->dtype != LP_DT_I32)
        return lp_fail(c, LP_ERR_INVALID, "input type %s", lp_dtype_name(x->dtype));
    int64_t pv = lp_attr_i(c, n, "precision", 0);
    if (pv) {
        prec = precision_type(pv);
        if (prec == LP_DT_UNDEF) return lp_fail(c, LP_ERR_INVALID, "attribute 'precision'=%lld", (long long)pv);
    }
    int s = qparam(c, n->in[1], x, a.axis, a.block, prec);
    int zp = lp_has_in(n, 2) ? qparam(c, n->in[2], x, a.axis, a.block, LP_DT_F32) : -2;
    if (s < 0 || zp == -1) return done(c, -1);
    int q = lp_nn_binary(c, LP_TFL_DIV, lp_nn_cast(c, n->in[0], prec), s, -1);
    q = lp_nn_unary(c, LP_TFL_ROUND, lp_nn_cast(c, q, LP_DT_F32), -1);
    return done(c, saturate_cast(c, q, zp >= 0 ? zp : -1, a.out, n->out[0]));
}

/* ---- reference kernels: constant folding of quantized weights (QDQ models store weights as
 * int8 + DequantizeLinear; folded, the convolution sees a float constant) ---- */

/* the element of scale/zero point p that applies to element i of x */
static int64_t qindex(const lp_tensor *x, const lp_tensor *p, int axis, int64_t block, int64_t i) {
    if (lp_tensor_numel(p) == 1) return 0;
    int64_t xs[LP_MAX_RANK], ps[LP_MAX_RANK];
    lp_strides(x->rank, x->dims, xs);
    if (block <= 0) return (i / xs[axis]) % x->dims[axis];
    lp_strides(p->rank, p->dims, ps);
    int64_t idx = 0;
    for (int d = 0; d < x->rank; d++) {
        int64_t cd = (i / xs[d]) % x->dims[d];
        idx += (d == axis ? cd / block : cd) * ps[d];
    }
    return idx;
}

/* v rounded to the precision of dt (float32, float16, ...) */
static double in_type(lp_dtype dt, double v) {
    uint8_t buf[8];
    lp_set_f64(dt, buf, 0, v);
    return lp_get_f64(dt, buf, 0);
}

static lp_status q_eval_setup(lp_ctx *c, const lp_node *n, qattrs *a, int *axis) {
    LP_TRY(q_attrs(c, n, 2, a));
    lp_tensor *x = T(n->in[0]), *s = T(n->in[1]);
    *axis = 0;
    if (lp_tensor_numel(s) != 1) LP_TRY(lp_axis(c, a->axis, x->rank, axis, "attribute 'axis'"));
    for (int k = 1; k < 3; k++) {
        lp_tensor *p = lp_in(c, n, k);
        if (!p || lp_tensor_numel(p) == 1) continue;
        if (a->block <= 0 ? p->rank != 1 || p->dims[0] != x->dims[*axis]
                          : p->rank != x->rank || p->dims[*axis] != (x->dims[*axis] + a->block - 1) / a->block)
            return lp_fail(c, LP_ERR_INVALID, "'%s' does not match the input's shape", p->name);
    }
    return LP_OK;
}

static lp_status quantize_eval(lp_ctx *c, const lp_node *n) {
    qattrs a;
    int axis;
    LP_TRY(q_eval_setup(c, n, &a, &axis));
    lp_tensor *x = T(n->in[0]), *s = T(n->in[1]), *z = lp_in(c, n, 2);
    double lo = 0, hi = 0;
    LP_TRY(need_qtype(c, a.out, "output"));
    qrange(a.out, &lo, &hi);
    if (a.out == LP_DT_I32) return lp_fail(c, LP_ERR_INVALID, "QuantizeLinear has no int32 output");
    lp_dtype prec = lp_dtype_is_float(x->dtype) ? x->dtype : LP_DT_F32;
    int64_t pv = lp_attr_i(c, n, "precision", 0);
    if (pv && (prec = precision_type(pv)) == LP_DT_UNDEF)
        return lp_fail(c, LP_ERR_INVALID, "attribute 'precision'=%lld", (long long)pv);
    void *y = lp_out_data(c, n, 0);
    int64_t ne = lp_tensor_numel(x);
    for (int64_t i = 0; i < ne; i++) {
        double xv = in_type(prec, lp_get_f64(x->dtype, x->data, i));
        double sv = in_type(prec, lp_get_f64(s->dtype, s->data, qindex(x, s, axis, a.block, i)));
        double q = nearbyint(in_type(prec, xv / sv)); /* round half to even */
        if (z) q += lp_get_f64(z->dtype, z->data, qindex(x, z, axis, a.block, i));
        q = q < lo ? lo : q > hi ? hi : q; /* NaN: lo */
        if (q != q) q = lo;
        lp_set_i64(a.out, y, i, (int64_t)q);
    }
    return LP_OK;
}

const lp_op_impl lp_impl_QuantizeLinear = {quantize_infer, quantize_eval, quantize_lower};

/* ---------------- DequantizeLinear ---------------- */

static lp_status dequantize_infer(lp_ctx *c, const lp_node *n) {
    qattrs a;
    LP_TRY(q_attrs(c, n, 2, &a));
    lp_tensor *x = T(n->in[0]);
    lp_set_out(c, n, 0, a.out, x->rank, x->dims);
    return LP_OK;
}

static lp_status dequantize_lower(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    qattrs a;
    LP_TRY(q_attrs(c, n, 2, &a));
    LP_TRY(need_qtype(c, x->dtype, "input"));
    if (!lp_dtype_is_float(a.out)) return lp_fail(c, LP_ERR_INVALID, "output type %s", lp_dtype_name(a.out));
    /* (float32(x) - zero_point) * scale, then the scale's (or output_dtype's) type */
    int s = qparam(c, n->in[1], x, a.axis, a.block, LP_DT_F32);
    int zp = lp_has_in(n, 2) ? qparam(c, n->in[2], x, a.axis, a.block, LP_DT_F32) : -2;
    if (s < 0 || zp == -1) return done(c, -1);
    int d = lp_nn_cast(c, n->in[0], LP_DT_F32);
    if (zp >= 0) d = lp_nn_binary(c, LP_TFL_SUB, d, zp, -1);
    int y = lp_nn_binary(c, LP_TFL_MUL, d, s, a.out == LP_DT_F32 ? n->out[0] : -1);
    if (y >= 0 && a.out != LP_DT_F32) y = lp_emit_cast(c, y, a.out, n->out[0]);
    return done(c, y);
}

static lp_status dequantize_eval(lp_ctx *c, const lp_node *n) {
    qattrs a;
    int axis;
    LP_TRY(q_eval_setup(c, n, &a, &axis));
    lp_tensor *x = T(n->in[0]), *s = T(n->in[1]), *z = lp_in(c, n, 2);
    LP_TRY(need_qtype(c, x->dtype, "input"));
    if (!lp_dtype_is_float(a.out)) return lp_fail(c, LP_ERR_INVALID, "output type %s", lp_dtype_name(a.out));
    void *y = lp_out_data(c, n, 0);
    int64_t ne = lp_tensor_numel(x);
    for (int64_t i = 0; i < ne; i++) {
        /* as the lowering: (float32(x) - float32(zp)) * float32(scale), then the output type */
        float d = (float)lp_get_f64(x->dtype, x->data, i);
        if (z) d -= (float)lp_get_f64(z->dtype, z->data, qindex(x, z, axis, a.block, i));
        float v = d * (float)lp_get_f64(s->dtype, s->data, qindex(x, s, axis, a.block, i));
        lp_set_f64(a.out, y, i, (double)v);
    }
    return LP_OK;
}

const lp_op_impl lp_impl_DequantizeLinear = {dequantize_infer, dequantize_eval, dequantize_lower};

/* ---------------- DynamicQuantizeLinear ---------------- */

static lp_status dql_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    LP_TRY(lp_need_rank(c, x, "input"));
    if (x->dtype != LP_DT_F32) return lp_fail(c, LP_ERR_INVALID, "input type %s (float only)", lp_dtype_name(x->dtype));
    lp_set_out(c, n, 0, LP_DT_U8, x->rank, x->dims);
    lp_set_out(c, n, 1, LP_DT_F32, 0, NULL);
    lp_set_out(c, n, 2, LP_DT_U8, 0, NULL);
    return LP_OK;
}

static lp_status dql_lower(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    int axes[LP_MAX_RANK];
    for (int i = 0; i < x->rank; i++) axes[i] = i;
    int y_scale = n->n_out > 1 ? n->out[1] : -1, y_zp = n->n_out > 2 ? n->out[2] : -1;
    /* ONNX: x_max = max(0, max(x)), x_min = min(0, min(x)); scale = (x_max - x_min) / 255;
     * zp = round(saturate(0 - x_min / scale)); y = saturate(round(x / scale) + zp). For an all-zero
     * x (scale 0) onnxruntime uses scale 1 (ONNX's reference writes 1 / 255; y and zp are 0 either way) */
    int mx = lp_nn_binary_k(c, LP_TFL_MAXIMUM, lp_nn_reduce(c, LP_TFL_REDUCE_MAX, n->in[0], axes, x->rank, 0, -1), 0.0, -1);
    int mn = lp_nn_binary_k(c, LP_TFL_MINIMUM, lp_nn_reduce(c, LP_TFL_REDUCE_MIN, n->in[0], axes, x->rank, 0, -1), 0.0, -1);
    int range = lp_nn_binary_k(c, LP_TFL_DIV, lp_nn_binary(c, LP_TFL_SUB, mx, mn, -1), 255.0, -1);
    int same = lp_nn_binary(c, LP_TFL_EQUAL, mx, mn, -1);
    int one = lp_emit_f32_scalar(c, 1.0f, "one");
    int scale = y_scale >= 0 ? y_scale : lp_emit_tensor(c, LP_DT_F32, 0, NULL, "scale");
    int in[3] = {same, one, range};
    if (range < 0 || same < 0 || one < 0 || scale < 0 || lp_emit_op(c, LP_TFL_SELECT_V2, in, 3, &scale, 1) < 0)
        return done(c, -1);
    int izp = lp_nn_binary(c, LP_TFL_SUB, lp_emit_f32_scalar(c, 0.0f, "qmin"), lp_nn_binary(c, LP_TFL_DIV, mn, scale, -1), -1);
    izp = lp_nn_binary_k(c, LP_TFL_MINIMUM, lp_nn_binary_k(c, LP_TFL_MAXIMUM, izp, 0.0, -1), 255.0, -1);
    int zp = lp_nn_unary(c, LP_TFL_ROUND, izp, -1);
    if (zp >= 0 && y_zp >= 0 && lp_emit_cast(c, zp, LP_DT_U8, y_zp) < 0) return done(c, -1);
    int q = lp_nn_unary(c, LP_TFL_ROUND, lp_nn_binary(c, LP_TFL_DIV, n->in[0], scale, -1), -1);
    return done(c, q < 0 || zp < 0 ? -1 : saturate_cast(c, q, zp, LP_DT_U8, n->out[0]));
}

const lp_op_impl lp_impl_DynamicQuantizeLinear = {dql_infer, NULL, dql_lower};

/* ---------------- exact integer accumulation ---------------- */

/* largest |v - zp| over the values v of an 8-bit tensor: from the data when constant */
static double max_dev(lp_ctx *c, int v, int zp) {
    lp_tensor *V = T(v);
    double lo, hi, z = 0, m = 0;
    if (!qrange(V->dtype, &lo, &hi)) return 65535.0;
    double zmin = 0, zmax = 0;
    if (zp >= 0) {
        lp_tensor *Z = T(zp);
        if (lp_tensor_is_const(c->g, zp)) {
            int64_t k = lp_tensor_numel(Z);
            zmin = zmax = k > 0 ? lp_get_f64(Z->dtype, Z->data, 0) : 0;
            for (int64_t i = 1; i < k; i++) {
                z = lp_get_f64(Z->dtype, Z->data, i);
                zmin = z < zmin ? z : zmin;
                zmax = z > zmax ? z : zmax;
            }
        } else {
            zmin = lo, zmax = hi;
        }
    }
    if (lp_tensor_is_const(c->g, v)) {
        int64_t k = lp_tensor_numel(V);
        for (int64_t i = 0; i < k; i++) {
            double x = lp_get_f64(V->dtype, V->data, i);
            double d = fmax(fabs(x - zmin), fabs(x - zmax));
            m = d > m ? d : m;
        }
        return m;
    }
    return fmax(fmax(fabs(hi - zmin), fabs(lo - zmax)), fmax(fabs(hi - zmax), fabs(lo - zmin)));
}

/* float32(v) - zp (zp: -1 none, else already broadcastable) */
static int shifted(lp_ctx *c, int v, int zp_b) {
    int f = lp_nn_cast(c, v, LP_DT_F32);
    return zp_b >= 0 ? lp_nn_binary(c, LP_TFL_SUB, f, zp_b, -1) : f;
}

/* slice [from, from + len) of axis `axis` */
static int slice_axis(lp_ctx *c, int x, int axis, int64_t from, int64_t len) {
    lp_tensor *X = T(x);
    int32_t b[LP_MAX_RANK] = {0}, sz[LP_MAX_RANK];
    int64_t d[LP_MAX_RANK];
    memcpy(d, X->dims, sizeof d);
    for (int i = 0; i < X->rank; i++) sz[i] = -1;
    b[axis] = (int32_t)from, sz[axis] = (int32_t)len, d[axis] = len;
    int bi = lp_emit_i32(c, b, X->rank, "begin"), si = lp_emit_i32(c, sz, X->rank, "size");
    int out = lp_emit_tensor(c, X->dtype, X->rank, d, "chunk");
    int in[3] = {x, bi, si};
    return bi < 0 || si < 0 || out < 0 || lp_emit_op(c, LP_TFL_SLICE, in, 3, &out, 1) < 0 ? -1 : out;
}

/* number of chunks of a reduction of K terms each at most `term` so that every chunk sums below 2^24 */
static int64_t chunks_for(int64_t K, double term) {
    if (term <= 0 || K * term < F32_EXACT) return 1;
    int64_t per = (int64_t)((F32_EXACT - 1) / term);
    if (per < 1) per = 1;
    return (K + per - 1) / per;
}

/* sum of the chunk results as int32 (*is_int = 1), or the single float result */
static int accumulate(lp_ctx *c, int acc, int part, int n_chunks) {
    if (n_chunks == 1 || part < 0) return part;
    int pi = lp_emit_cast(c, part, LP_DT_I32, -1);
    return acc < 0 ? pi : lp_nn_binary(c, LP_TFL_ADD, acc, pi, -1);
}

/* (a - azp) @ (b - bzp) with exact integer sums: float32 (n_chunks == 1) or int32 */
static int int_matmul(lp_ctx *c, int a, int azp, int b, int bzp, int *n_chunks) {
    lp_tensor *A = T(a), *B = T(b);
    if (A->rank < 1 || B->rank < 1) {
        lp_fail(c, LP_ERR_INVALID, "MatMul of a scalar");
        return -1;
    }
    int64_t K = A->dims[A->rank - 1];
    if (K < 0) {
        lp_fail(c, LP_ERR_UNSUPPORTED, "the inner dimension must be static");
        return -1;
    }
    /* per-row zero point of A: [M] -> [M, 1]; B's per-column [N] broadcasts as is */
    int azb = -1, bzb = -1;
    if (azp >= 0) {
        lp_tensor *Z = T(azp);
        azb = azp;
        if (lp_tensor_numel(Z) != 1 && Z->rank == 1) {
            int64_t d[2] = {Z->dims[0], 1};
            azb = lp_emit_reshape(c, azp, 2, d, -1);
        }
        azb = lp_nn_cast(c, azb, LP_DT_F32);
    }
    if (bzp >= 0) bzb = lp_nn_cast(c, bzp, LP_DT_F32);
    double term = max_dev(c, a, azp) * max_dev(c, b, bzp);
    int64_t nc = chunks_for(K, term);
    *n_chunks = (int)nc;
    int af = shifted(c, a, azb), bf = shifted(c, b, bzb);
    if (af < 0 || bf < 0) return -1;
    if (nc == 1) return lp_nn_matmul(c, af, bf, -1);
    if (T(bf)->rank < 2) {
        lp_fail(c, LP_ERR_UNSUPPORTED, "a long 1-D integer matmul");
        return -1;
    }
    int64_t per = (K + nc - 1) / nc;
    int acc = -1;
    for (int64_t k0 = 0; k0 < K; k0 += per) {
        int64_t len = K - k0 < per ? K - k0 : per;
        int ac = slice_axis(c, af, T(af)->rank - 1, k0, len), bc = slice_axis(c, bf, T(bf)->rank - 2, k0, len);
        acc = accumulate(c, acc, ac < 0 || bc < 0 ? -1 : lp_nn_matmul(c, ac, bc, -1), (int)nc);
        if (acc < 0) return -1;
    }
    return acc;
}

/* conv(x - xzp, w - wzp) with exact integer sums, as int_matmul; chunks split the input channels
 * (group 1 only) */
static int int_conv(lp_ctx *c, const lp_node *n, int x, int xzp, int w, int wzp, int *n_chunks) {
    lp_tensor *X = T(x), *W = T(w);
    lp_window s;
    if (lp_window_get(c, n, X, W, &s) != LP_OK) return -1;
    lp_window_resolve_same(X, &s);
    if (lp_need_shape(c, W, "weight") != LP_OK) return -1;
    int64_t M = W->dims[0], Cg = W->dims[1], taps = 1;
    for (int i = 2; i < W->rank; i++) taps *= W->dims[i];
    /* per-output-channel weight zero point: [M] -> [M, 1, ..., 1] */
    int wzb = -1, xzb = xzp >= 0 ? lp_nn_cast(c, xzp, LP_DT_F32) : -1;
    if (wzp >= 0) {
        wzb = lp_tensor_numel(T(wzp)) == 1 ? wzp : lp_nn_channel_vec(c, wzp, W->rank);
        wzb = lp_nn_cast(c, wzb, LP_DT_F32);
    }
    /* the largest possible |sum| of one output (worst) and of one input channel's share of it
     * (per_c): from the weights' absolute sums when they are constant */
    double xdev = max_dev(c, x, xzp), worst = 0, per_c = 0;
    if (lp_tensor_is_const(c->g, w) && (wzp < 0 || lp_tensor_is_const(c->g, wzp))) {
        int64_t nz = wzp >= 0 ? lp_tensor_numel(T(wzp)) : 0;
        for (int64_t m = 0; m < M; m++) {
            double z = wzp >= 0 ? lp_get_f64(T(wzp)->dtype, T(wzp)->data, nz == 1 ? 0 : m) : 0, sum = 0;
            for (int64_t ch = 0; ch < Cg; ch++) {
                double cs = 0;
                for (int64_t k = 0; k < taps; k++)
                    cs += fabs(lp_get_f64(W->dtype, W->data, (m * Cg + ch) * taps + k) - z);
                sum += cs;
                per_c = cs > per_c ? cs : per_c;
            }
            worst = sum > worst ? sum : worst;
        }
        worst *= xdev, per_c *= xdev;
    } else {
        per_c = xdev * max_dev(c, w, wzp) * (double)taps;
        worst = per_c * (double)Cg;
    }
    int64_t nc = worst < F32_EXACT ? 1 : chunks_for(Cg, per_c);
    if (nc > 1 && per_c >= F32_EXACT) {
        lp_fail(c, LP_ERR_UNSUPPORTED, "integer convolution whose single-channel sums could reach 2^24 (float32 would round)");
        return -1;
    }
    *n_chunks = (int)nc;
    int xf = shifted(c, x, xzb), wf = shifted(c, w, wzb);
    if (xf < 0 || wf < 0) return -1;
    int64_t od[LP_MAX_RANK];
    if (lp_conv_out_dims(c, n, X, W, od) != LP_OK) return -1;
    if (nc == 1) {
        int y = lp_emit_tensor(c, LP_DT_F32, X->rank, od, "conv");
        return y < 0 || lp_conv_emit(c, xf, wf, -1, &s, y) != LP_OK ? -1 : y;
    }
    if (s.group != 1) {
        lp_fail(c, LP_ERR_UNSUPPORTED, "grouped integer convolution whose sums could exceed 2^24 (float32 would round)");
        return -1;
    }
    int64_t per = (Cg + nc - 1) / nc;
    int acc = -1;
    for (int64_t c0 = 0; c0 < Cg; c0 += per) {
        int64_t len = Cg - c0 < per ? Cg - c0 : per;
        int xc = slice_axis(c, xf, 1, c0, len), wc = slice_axis(c, wf, 1, c0, len);
        int y = lp_emit_tensor(c, LP_DT_F32, X->rank, od, "conv");
        if (xc < 0 || wc < 0 || y < 0 || lp_conv_emit(c, xc, wc, -1, &s, y) != LP_OK) return -1;
        acc = accumulate(c, acc, y, (int)nc);
        if (acc < 0) return -1;
    }
    return acc;
}

static int opt_in(const lp_node *n, int k) { return lp_has_in(n, k) ? n->in[k] : -1; }

static lp_status need_8bit(lp_ctx *c, const lp_node *n, int k, const char *what) {
    lp_dtype dt = T(n->in[k])->dtype;
    if (dt != LP_DT_U8 && dt != LP_DT_I8)
        return lp_fail(c, LP_ERR_UNSUPPORTED, "%s of type %s (int8 and uint8 are supported)", what, lp_dtype_name(dt));
    return LP_OK;
}

/* ---------------- MatMulInteger ---------------- */

static lp_status mmi_infer(lp_ctx *c, const lp_node *n) {
    LP_TRY(lp_op_impls[LP_OP_MatMul]->infer(c, n));
    T(n->out[0])->dtype = LP_DT_I32;
    return LP_OK;
}

static lp_status mmi_lower(lp_ctx *c, const lp_node *n) {
    LP_TRY(need_8bit(c, n, 0, "A"));
    LP_TRY(need_8bit(c, n, 1, "B"));
    int nc;
    int r = int_matmul(c, n->in[0], opt_in(n, 2), n->in[1], opt_in(n, 3), &nc);
    if (r < 0) return done(c, -1);
    lp_tensor *Y = T(n->out[0]);
    if (nc == 1) return done(c, lp_emit_cast(c, lp_emit_reshape(c, r, Y->rank, Y->dims, -1), LP_DT_I32, n->out[0]));
    return done(c, lp_emit_reshape(c, r, Y->rank, Y->dims, n->out[0]));
}

const lp_op_impl lp_impl_MatMulInteger = {mmi_infer, NULL, mmi_lower};

/* ---------------- ConvInteger ---------------- */

static lp_status convi_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    int64_t dims[LP_MAX_RANK];
    LP_TRY(lp_conv_out_dims(c, n, x, T(n->in[1]), dims));
    lp_set_out(c, n, 0, LP_DT_I32, x->rank, dims);
    return LP_OK;
}

static lp_status convi_lower(lp_ctx *c, const lp_node *n) {
    LP_TRY(need_8bit(c, n, 0, "x"));
    LP_TRY(need_8bit(c, n, 1, "w"));
    int nc;
    int r = int_conv(c, n, n->in[0], opt_in(n, 2), n->in[1], opt_in(n, 3), &nc);
    if (r < 0) return done(c, -1);
    return done(c, nc == 1 ? lp_emit_cast(c, r, LP_DT_I32, n->out[0]) : lp_emit_identity(c, r, n->out[0]));
}

const lp_op_impl lp_impl_ConvInteger = {convi_infer, NULL, convi_lower};

/* ---------------- QLinearMatMul, QLinearConv ---------------- */

/* y = saturate(round(acc * (a_scale * b_scale / y_scale)) + y_zp): the multiplier in the scales'
 * type (numpy's arithmetic in the reference), the product in float32 */
static int requantize(lp_ctx *c, int acc, int s1, int s2, int ys, int yzp, lp_dtype out_dt, int out) {
    int m = lp_nn_binary(c, LP_TFL_DIV, lp_nn_binary(c, LP_TFL_MUL, s1, s2, -1), ys, -1);
    int v = lp_nn_binary(c, LP_TFL_MUL, lp_nn_cast(c, acc, LP_DT_F32), lp_nn_cast(c, m, LP_DT_F32), -1);
    int zp = yzp >= 0 ? lp_nn_cast(c, yzp, LP_DT_F32) : -1;
    if (zp >= 0) v = lp_nn_binary(c, LP_TFL_ADD, v, zp, -1);
    v = lp_nn_unary(c, LP_TFL_ROUND, v, -1);
    return v < 0 ? -1 : saturate_cast(c, v, -1, out_dt, out);
}

static lp_status qlmm_infer(lp_ctx *c, const lp_node *n) {
    lp_node mm = *n;
    int in[2] = {n->in[0], n->in[3]};
    mm.in = in;
    mm.n_in = 2;
    LP_TRY(lp_op_impls[LP_OP_MatMul]->infer(c, &mm));
    T(n->out[0])->dtype = T(n->in[7])->dtype;
    return LP_OK;
}

/* a per-row scale/zero point of A ([M]) as [M, 1] */
static int per_row(lp_ctx *c, int p) {
    lp_tensor *P = T(p);
    if (lp_tensor_numel(P) == 1 || P->rank != 1) return p;
    int64_t d[2] = {P->dims[0], 1};
    return lp_emit_reshape(c, p, 2, d, -1);
}

static lp_status qlmm_lower(lp_ctx *c, const lp_node *n) {
    LP_TRY(need_8bit(c, n, 0, "a"));
    LP_TRY(need_8bit(c, n, 3, "b"));
    LP_TRY(need_8bit(c, n, 7, "y_zero_point"));
    int nc;
    int acc = int_matmul(c, n->in[0], opt_in(n, 2), n->in[3], opt_in(n, 5), &nc);
    if (acc < 0) return done(c, -1);
    lp_tensor *Y = T(n->out[0]);
    int sa = per_row(c, n->in[1]);
    int y = requantize(c, acc, sa, n->in[4], n->in[6], n->in[7], Y->dtype, -1);
    return done(c, y < 0 ? -1 : lp_emit_reshape(c, y, Y->rank, Y->dims, n->out[0]));
}

const lp_op_impl lp_impl_QLinearMatMul = {qlmm_infer, NULL, qlmm_lower};

static lp_status qlconv_infer(lp_ctx *c, const lp_node *n) {
    lp_tensor *x = T(n->in[0]);
    int64_t dims[LP_MAX_RANK];
    LP_TRY(lp_conv_out_dims(c, n, x, T(n->in[3]), dims));
    lp_set_out(c, n, 0, T(n->in[7])->dtype, x->rank, dims);
    return LP_OK;
}

static lp_status qlconv_lower(lp_ctx *c, const lp_node *n) {
    LP_TRY(need_8bit(c, n, 0, "x"));
    LP_TRY(need_8bit(c, n, 3, "w"));
    LP_TRY(need_8bit(c, n, 7, "y_zero_point"));
    lp_tensor *X = T(n->in[0]);
    int nc;
    int acc = int_conv(c, n, n->in[0], opt_in(n, 2), n->in[3], opt_in(n, 5), &nc);
    if (acc < 0) return done(c, -1);
    if (lp_has_in(n, 8)) {
        /* the int32 bias joins the integer sum */
        int b = lp_nn_channel_vec(c, n->in[8], X->rank - 1);
        if (nc == 1) acc = lp_emit_cast(c, acc, LP_DT_I32, -1);
        acc = lp_nn_binary(c, LP_TFL_ADD, acc, lp_nn_cast(c, b, LP_DT_I32), -1);
        if (acc < 0) return done(c, -1);
    }
    /* per-output-channel w_scale: [M] -> [M, 1, ..., 1] */
    int ws = lp_tensor_numel(T(n->in[4])) == 1 ? n->in[4] : lp_nn_channel_vec(c, n->in[4], X->rank - 1);
    return done(c, requantize(c, acc, n->in[1], ws, n->in[6], n->in[7], T(n->out[0])->dtype, n->out[0]));
}

const lp_op_impl lp_impl_QLinearConv = {qlconv_infer, NULL, qlconv_lower};
