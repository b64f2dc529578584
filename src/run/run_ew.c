/* Elementwise kernels: unary math and activations, broadcasting binary ops, comparisons, CAST,
 * QUANTIZE / DEQUANTIZE. float32 is computed in float (like LiteRT's reference kernels); integer
 * and bool tensors go through int64. */
#include <math.h>
#include <string.h>

#include "run.h"

int lp_run_ew_has(lp_op op) {
    switch (op) {
    case LP_TFL_RELU: case LP_TFL_RELU6: case LP_TFL_RELU_N1_TO_1: case LP_TFL_RELU_0_TO_1:
    case LP_TFL_LOGISTIC: case LP_TFL_TANH: case LP_TFL_EXP: case LP_TFL_LOG: case LP_TFL_SQRT:
    case LP_TFL_RSQRT: case LP_TFL_ABS: case LP_TFL_NEG: case LP_TFL_FLOOR: case LP_TFL_CEIL:
    case LP_TFL_ROUND: case LP_TFL_SIN: case LP_TFL_COS: case LP_TFL_SQUARE: case LP_TFL_HARD_SWISH:
    case LP_TFL_LEAKY_RELU: case LP_TFL_ELU: case LP_TFL_GELU: case LP_TFL_SIGN: case LP_TFL_LOGICAL_NOT:
    case LP_TFL_ZEROS_LIKE:
    case LP_TFL_ADD: case LP_TFL_SUB: case LP_TFL_MUL: case LP_TFL_DIV: case LP_TFL_MAXIMUM:
    case LP_TFL_MINIMUM: case LP_TFL_POW: case LP_TFL_SQUARED_DIFFERENCE: case LP_TFL_FLOOR_DIV:
    case LP_TFL_FLOOR_MOD: case LP_TFL_PRELU: case LP_TFL_ATAN2: case LP_TFL_LESS: case LP_TFL_LESS_EQUAL:
    case LP_TFL_GREATER: case LP_TFL_GREATER_EQUAL: case LP_TFL_EQUAL: case LP_TFL_NOT_EQUAL:
    case LP_TFL_LOGICAL_AND: case LP_TFL_LOGICAL_OR: case LP_TFL_SELECT: case LP_TFL_SELECT_V2:
    case LP_TFL_CAST: case LP_TFL_QUANTIZE: case LP_TFL_DEQUANTIZE:
        return 1;
    default: return 0;
    }
}

static float act_f(int act, float x) {
    switch (act) {
    case 1: return x < 0 ? 0 : x;
    case 2: return x < -1 ? -1 : x > 1 ? 1 : x;
    case 3: return x < 0 ? 0 : x > 6 ? 6 : x;
    default: return x;
    }
}

/* round half to even, like TFLite's ROUND */
static float round_even(float x) {
    float f = floorf(x), d = x - f;
    if (d > 0.5f) return f + 1;
    if (d < 0.5f) return f;
    return fmodf(f, 2.0f) == 0 ? f : f + 1;
}

static float unary_f(const lp_node *n, float x) {
    switch (n->op) {
    case LP_TFL_RELU: return x < 0 ? 0 : x;
    case LP_TFL_RELU6: return x < 0 ? 0 : x > 6 ? 6 : x;
    case LP_TFL_RELU_N1_TO_1: return x < -1 ? -1 : x > 1 ? 1 : x;
    case LP_TFL_RELU_0_TO_1: return x < 0 ? 0 : x > 1 ? 1 : x;
    case LP_TFL_LOGISTIC: return 1.0f / (1.0f + expf(-x));
    case LP_TFL_TANH: return tanhf(x);
    case LP_TFL_EXP: return expf(x);
    case LP_TFL_LOG: return logf(x);
    case LP_TFL_SQRT: return sqrtf(x);
    case LP_TFL_RSQRT: return 1.0f / sqrtf(x);
    case LP_TFL_ABS: return fabsf(x);
    case LP_TFL_NEG: return -x;
    case LP_TFL_FLOOR: return floorf(x);
    case LP_TFL_CEIL: return ceilf(x);
    case LP_TFL_ROUND: return round_even(x);
    case LP_TFL_SIN: return sinf(x);
    case LP_TFL_COS: return cosf(x);
    case LP_TFL_SQUARE: return x * x;
    case LP_TFL_HARD_SWISH: {
        float r = x + 3;
        r = r < 0 ? 0 : r > 6 ? 6 : r;
        return x * r / 6;
    }
    case LP_TFL_LEAKY_RELU: return x >= 0 ? x : x * n->p.alpha;
    case LP_TFL_ELU: return x < 0 ? expm1f(x) : x;
    case LP_TFL_GELU:
        if (n->p.approximate) {
            float c = 0.7978845608028654f; /* sqrt(2/pi) */
            return 0.5f * x * (1.0f + tanhf(c * (x + 0.044715f * x * x * x)));
        }
        return 0.5f * x * (1.0f + erff(x * 0.7071067811865476f));
    case LP_TFL_SIGN: return (float)((x > 0) - (x < 0));
    default: return x;
    }
}

static int64_t unary_i(lp_op op, int64_t x) {
    switch (op) {
    case LP_TFL_ABS: return x < 0 ? -x : x;
    case LP_TFL_NEG: return -x;
    case LP_TFL_SQUARE: return x * x;
    case LP_TFL_SIGN: return (x > 0) - (x < 0);
    case LP_TFL_RELU: return x < 0 ? 0 : x;
    case LP_TFL_RELU6: return x < 0 ? 0 : x > 6 ? 6 : x;
    default: return x;
    }
}

static lp_status k_unary(lp_run *r, const lp_node *n) {
    lp_value *x = lp_run_in(r, n, 0);
    lp_value *y = lp_run_out(r, n, 0);
    if (!x || !y) return r->err->code ? r->err->code : lp_run_fail(r, LP_ERR_INTERNAL, "missing input");
    if (x->numel != y->numel) return lp_run_fail(r, LP_ERR_INTERNAL, "input and output sizes differ");
    if (n->op == LP_TFL_ZEROS_LIKE) {
        memset(y->data, 0, (size_t)y->numel * lp_dtype_size(y->dtype));
        return LP_OK;
    }
    if (n->op == LP_TFL_LOGICAL_NOT) {
        for (int64_t i = 0; i < x->numel; i++) ((uint8_t *)y->data)[i] = !((const uint8_t *)x->data)[i];
        return LP_OK;
    }
    if (x->dtype == LP_DT_F32 && y->dtype == LP_DT_F32) {
        const float *a = x->data;
        float *o = y->data;
        for (int64_t i = 0; i < x->numel; i++) o[i] = unary_f(n, a[i]);
        return LP_OK;
    }
    if (lp_dtype_is_int(x->dtype) && x->dtype == y->dtype) {
        for (int64_t i = 0; i < x->numel; i++)
            lp_set_i64(y->dtype, y->data, i, unary_i(n->op, lp_get_i64(x->dtype, x->data, i)));
        return LP_OK;
    }
    return lp_run_fail(r, LP_ERR_UNSUPPORTED, "element type %s", lp_dtype_name(x->dtype));
}

/* ---- broadcasting ---- */

typedef struct bcast {
    int rank;
    int64_t dims[LP_MAX_RANK];
    int64_t sa[LP_MAX_RANK], sb[LP_MAX_RANK], sc[LP_MAX_RANK]; /* element strides, 0 where broadcast */
} bcast;

static void strides_for(const lp_value *v, int rank, const int64_t *odims, int64_t *s) {
    int64_t st = 1;
    for (int d = rank - 1; d >= 0; d--) {
        int vd = d - (rank - v->rank);
        int64_t sz = vd >= 0 ? v->dims[vd] : 1;
        s[d] = (sz == 1 && odims[d] != 1) ? 0 : st;
        st *= sz;
    }
}

/* output dims must be the broadcast of the inputs' */
static lp_status bcast_init(lp_run *r, bcast *b, const lp_value *y, const lp_value *a, const lp_value *bv,
                            const lp_value *c) {
    b->rank = y->rank;
    for (int d = 0; d < y->rank; d++) b->dims[d] = y->dims[d];
    const lp_value *vs[3] = {a, bv, c};
    for (int k = 0; k < 3; k++) {
        const lp_value *v = vs[k];
        if (!v) continue;
        if (v->rank > y->rank) return lp_run_fail(r, LP_ERR_INTERNAL, "operand rank above the output's");
        for (int d = 0; d < v->rank; d++) {
            int64_t od = y->dims[d + y->rank - v->rank];
            if (v->dims[d] != od && v->dims[d] != 1)
                return lp_run_fail(r, LP_ERR_INTERNAL, "operand shapes do not broadcast to the output");
        }
    }
    strides_for(a, b->rank, b->dims, b->sa);
    if (bv) strides_for(bv, b->rank, b->dims, b->sb);
    if (c) strides_for(c, b->rank, b->dims, b->sc);
    return LP_OK;
}

/* walks the output in order, giving the operand offsets */
#define BCAST_LOOP(b, numel, BODY)                                                        \
    do {                                                                                  \
        int64_t idx_[LP_MAX_RANK] = {0}, ia = 0, ib = 0, ic = 0;                          \
        for (int64_t i = 0; i < (numel); i++) {                                           \
            BODY;                                                                         \
            for (int d_ = (b)->rank - 1; d_ >= 0; d_--) {                                 \
                ia += (b)->sa[d_];                                                        \
                ib += (b)->sb[d_];                                                        \
                ic += (b)->sc[d_];                                                        \
                if (++idx_[d_] < (b)->dims[d_]) break;                                    \
                ia -= (b)->sa[d_] * (b)->dims[d_];                                        \
                ib -= (b)->sb[d_] * (b)->dims[d_];                                        \
                ic -= (b)->sc[d_] * (b)->dims[d_];                                        \
                idx_[d_] = 0;                                                             \
            }                                                                             \
        }                                                                                 \
        (void)ic;                                                                         \
    } while (0)

static float binary_f(lp_op op, float a, float b, float alpha) {
    (void)alpha;
    switch (op) {
    case LP_TFL_ADD: return a + b;
    case LP_TFL_SUB: return a - b;
    case LP_TFL_MUL: return a * b;
    case LP_TFL_DIV: return a / b;
    case LP_TFL_MAXIMUM: return a != a ? a : b != b ? b : a > b ? a : b;
    case LP_TFL_MINIMUM: return a != a ? a : b != b ? b : a < b ? a : b;
    case LP_TFL_POW: return powf(a, b);
    case LP_TFL_SQUARED_DIFFERENCE: return (a - b) * (a - b);
    case LP_TFL_FLOOR_DIV: return floorf(a / b);
    case LP_TFL_FLOOR_MOD: {
        float m = fmodf(a, b);
        return (m != 0 && ((m < 0) != (b < 0))) ? m + b : m;
    }
    case LP_TFL_PRELU: return a >= 0 ? a : a * b;
    case LP_TFL_ATAN2: return atan2f(a, b);
    default: return 0;
    }
}

static int cmp_result(lp_op op, double a, double b) {
    switch (op) {
    case LP_TFL_LESS: return a < b;
    case LP_TFL_LESS_EQUAL: return a <= b;
    case LP_TFL_GREATER: return a > b;
    case LP_TFL_GREATER_EQUAL: return a >= b;
    case LP_TFL_EQUAL: return a == b;
    case LP_TFL_NOT_EQUAL: return a != b;
    case LP_TFL_LOGICAL_AND: return a != 0 && b != 0;
    case LP_TFL_LOGICAL_OR: return a != 0 || b != 0;
    default: return 0;
    }
}

static int64_t binary_i(lp_op op, int64_t a, int64_t b) {
    switch (op) {
    case LP_TFL_ADD: return a + b;
    case LP_TFL_SUB: return a - b;
    case LP_TFL_MUL: return a * b;
    case LP_TFL_DIV: return b ? a / b : 0;
    case LP_TFL_MAXIMUM: return a > b ? a : b;
    case LP_TFL_MINIMUM: return a < b ? a : b;
    case LP_TFL_SQUARED_DIFFERENCE: return (a - b) * (a - b);
    case LP_TFL_FLOOR_DIV: {
        if (!b) return 0;
        int64_t q = a / b;
        return (q * b != a && ((a < 0) != (b < 0))) ? q - 1 : q;
    }
    case LP_TFL_FLOOR_MOD: {
        if (!b) return 0;
        int64_t m = a % b;
        return (m != 0 && ((m < 0) != (b < 0))) ? m + b : m;
    }
    case LP_TFL_POW: {
        int64_t p = 1;
        for (int64_t k = 0; k < b && k < 64; k++) p *= a;
        return p;
    }
    default: return 0;
    }
}

static int is_cmp(lp_op op) {
    return op == LP_TFL_LESS || op == LP_TFL_LESS_EQUAL || op == LP_TFL_GREATER || op == LP_TFL_GREATER_EQUAL ||
           op == LP_TFL_EQUAL || op == LP_TFL_NOT_EQUAL || op == LP_TFL_LOGICAL_AND || op == LP_TFL_LOGICAL_OR;
}

static lp_status k_binary(lp_run *r, const lp_node *n) {
    lp_value *a = lp_run_in(r, n, 0), *b = lp_run_in(r, n, 1);
    lp_value *y = lp_run_out(r, n, 0);
    if (!y) return r->err->code;
    if (!a || !b) return lp_run_fail(r, LP_ERR_INTERNAL, "missing operand");
    bcast bc;
    memset(&bc, 0, sizeof bc);
    LP_RUN_TRY(bcast_init(r, &bc, y, a, b, NULL));
    int act = (n->op == LP_TFL_ADD || n->op == LP_TFL_SUB || n->op == LP_TFL_MUL || n->op == LP_TFL_DIV) ? n->p.act : 0;
    if (is_cmp(n->op)) {
        uint8_t *o = y->data;
        if (a->dtype == LP_DT_F32 && b->dtype == LP_DT_F32) {
            const float *pa = a->data, *pb = b->data;
            BCAST_LOOP(&bc, y->numel, o[i] = (uint8_t)cmp_result(n->op, pa[ia], pb[ib]));
        } else if (lp_dtype_is_float(a->dtype)) {
            BCAST_LOOP(&bc, y->numel,
                       o[i] = (uint8_t)cmp_result(n->op, lp_get_f64(a->dtype, a->data, ia),
                                                  lp_get_f64(b->dtype, b->data, ib)));
        } else {
            BCAST_LOOP(&bc, y->numel,
                       o[i] = (uint8_t)cmp_result(n->op, (double)lp_get_i64(a->dtype, a->data, ia),
                                                  (double)lp_get_i64(b->dtype, b->data, ib)));
        }
        return LP_OK;
    }
    if (a->dtype == LP_DT_F32 && b->dtype == LP_DT_F32 && y->dtype == LP_DT_F32) {
        const float *pa = a->data, *pb = b->data;
        float *o = y->data;
        if (a->numel == y->numel && b->numel == y->numel && n->op == LP_TFL_ADD) {
            for (int64_t i = 0; i < y->numel; i++) o[i] = act_f(act, pa[i] + pb[i]);
        } else if (a->numel == y->numel && b->numel == 1 && n->op != LP_TFL_PRELU) {
            float s = pb[0];
            for (int64_t i = 0; i < y->numel; i++) o[i] = act_f(act, binary_f(n->op, pa[i], s, 0));
        } else {
            BCAST_LOOP(&bc, y->numel, o[i] = act_f(act, binary_f(n->op, pa[ia], pb[ib], 0)));
        }
        return LP_OK;
    }
    if (lp_dtype_is_int(a->dtype) && a->dtype == b->dtype && y->dtype == a->dtype) {
        BCAST_LOOP(&bc, y->numel,
                   lp_set_i64(y->dtype, y->data, i,
                              binary_i(n->op, lp_get_i64(a->dtype, a->data, ia), lp_get_i64(b->dtype, b->data, ib))));
        return LP_OK;
    }
    return lp_run_fail(r, LP_ERR_UNSUPPORTED, "element types %s, %s", lp_dtype_name(a->dtype), lp_dtype_name(b->dtype));
}

static lp_status k_select(lp_run *r, const lp_node *n) {
    lp_value *c = lp_run_in(r, n, 0), *a = lp_run_in(r, n, 1), *b = lp_run_in(r, n, 2);
    lp_value *y = lp_run_out(r, n, 0);
    if (!y) return r->err->code;
    if (!c || !a || !b || a->dtype != y->dtype || b->dtype != y->dtype)
        return lp_run_fail(r, LP_ERR_INTERNAL, "bad operands");
    size_t es = lp_dtype_size(y->dtype);
    uint8_t *o = y->data;
    const uint8_t *pc = c->data, *pa = a->data, *pb = b->data;
    if (n->op == LP_TFL_SELECT && c->rank == 1 && y->rank > 1 && c->dims[0] == y->dims[0]) {
        /* SELECT with a 1-D condition picks whole rows */
        int64_t row = y->dims[0] ? y->numel / y->dims[0] : 0;
        if (a->numel != y->numel || b->numel != y->numel) return lp_run_fail(r, LP_ERR_INTERNAL, "bad shapes");
        for (int64_t i = 0; i < y->dims[0]; i++)
            memcpy(o + (size_t)(i * row) * es, (pc[i] ? pa : pb) + (size_t)(i * row) * es, (size_t)row * es);
        return LP_OK;
    }
    /* bcast with three operands: condition strides in sc */
    bcast bc;
    memset(&bc, 0, sizeof bc);
    LP_RUN_TRY(bcast_init(r, &bc, y, a, b, c));
    BCAST_LOOP(&bc, y->numel,
               memcpy(o + (size_t)i * es, (pc[ic] ? pa + (size_t)ia * es : pb + (size_t)ib * es), es));
    return LP_OK;
}

static lp_status k_cast(lp_run *r, const lp_node *n) {
    lp_value *x = lp_run_in(r, n, 0);
    lp_value *y = lp_run_out(r, n, 0);
    if (!y) return r->err->code;
    if (!x || x->numel != y->numel) return lp_run_fail(r, LP_ERR_INTERNAL, "bad operand");
    int from_float = lp_dtype_is_float(x->dtype), to_float = lp_dtype_is_float(y->dtype);
    for (int64_t i = 0; i < x->numel; i++) {
        if (from_float && to_float) lp_set_f64(y->dtype, y->data, i, lp_get_f64(x->dtype, x->data, i));
        else if (from_float) lp_set_f64(y->dtype, y->data, i, lp_get_f64(x->dtype, x->data, i));
        else if (y->dtype == LP_DT_BOOL) ((uint8_t *)y->data)[i] = lp_get_i64(x->dtype, x->data, i) != 0;
        else lp_set_i64(y->dtype, y->data, i, lp_get_i64(x->dtype, x->data, i));
    }
    return LP_OK;
}

/* per-tensor or per-channel parameters of element i */
static void qparams_at(const lp_tensor *T, const lp_value *v, int64_t i, float *scale, int64_t *zp) {
    const lp_qparams *q = T->q;
    int c = 0;
    if (q->n > 1 && q->dim < v->rank) {
        int64_t inner = 1;
        for (int d = q->dim + 1; d < v->rank; d++) inner *= v->dims[d];
        c = (int)((i / inner) % v->dims[q->dim]);
        if (c >= q->n) c = q->n - 1;
    }
    *scale = q->scale[c];
    *zp = q->zero_point[c];
}

static lp_status k_quant(lp_run *r, const lp_node *n) {
    lp_value *x = lp_run_in(r, n, 0);
    lp_value *y = lp_run_out(r, n, 0);
    if (!y) return r->err->code;
    if (!x || x->numel != y->numel) return lp_run_fail(r, LP_ERR_INTERNAL, "bad operand");
    const lp_tensor *X = &r->g->t[n->in[0]], *Y = &r->g->t[n->out[0]];
    if (n->op == LP_TFL_DEQUANTIZE) {
        if (X->dtype == LP_DT_F16 || X->dtype == LP_DT_BF16) {
            for (int64_t i = 0; i < x->numel; i++) lp_set_f64(y->dtype, y->data, i, lp_get_f64(x->dtype, x->data, i));
            return LP_OK;
        }
        if (!X->q) return lp_run_fail(r, LP_ERR_INTERNAL, "DEQUANTIZE input without quantization parameters");
        for (int64_t i = 0; i < x->numel; i++) {
            float s;
            int64_t zp;
            qparams_at(X, x, i, &s, &zp);
            lp_set_f64(y->dtype, y->data, i, (double)(s * (float)(lp_get_i64(x->dtype, x->data, i) - zp)));
        }
        return LP_OK;
    }
    if (!Y->q) return lp_run_fail(r, LP_ERR_INTERNAL, "QUANTIZE output without quantization parameters");
    int64_t lo = Y->dtype == LP_DT_U8 ? 0 : Y->dtype == LP_DT_I8 ? -128 : Y->dtype == LP_DT_I16 ? -32768 : INT32_MIN;
    int64_t hi = Y->dtype == LP_DT_U8 ? 255 : Y->dtype == LP_DT_I8 ? 127 : Y->dtype == LP_DT_I16 ? 32767 : INT32_MAX;
    for (int64_t i = 0; i < x->numel; i++) {
        float s;
        int64_t zp;
        qparams_at(Y, y, i, &s, &zp);
        double real;
        if (X->q) { /* requantize */
            float s0;
            int64_t z0;
            qparams_at(X, x, i, &s0, &z0);
            real = (double)s0 * (double)(lp_get_i64(x->dtype, x->data, i) - z0);
        } else {
            real = lp_get_f64(x->dtype, x->data, i);
        }
        double q = nearbyint(real / s) + (double)zp;
        int64_t qi = q < (double)lo ? lo : q > (double)hi ? hi : (int64_t)q;
        lp_set_i64(y->dtype, y->data, i, qi);
    }
    return LP_OK;
}

lp_status lp_run_k_ew(lp_run *r, const lp_node *n) {
    switch (n->op) {
    case LP_TFL_ADD: case LP_TFL_SUB: case LP_TFL_MUL: case LP_TFL_DIV: case LP_TFL_MAXIMUM:
    case LP_TFL_MINIMUM: case LP_TFL_POW: case LP_TFL_SQUARED_DIFFERENCE: case LP_TFL_FLOOR_DIV:
    case LP_TFL_FLOOR_MOD: case LP_TFL_PRELU: case LP_TFL_ATAN2: case LP_TFL_LESS: case LP_TFL_LESS_EQUAL:
    case LP_TFL_GREATER: case LP_TFL_GREATER_EQUAL: case LP_TFL_EQUAL: case LP_TFL_NOT_EQUAL:
    case LP_TFL_LOGICAL_AND: case LP_TFL_LOGICAL_OR:
        return k_binary(r, n);
    case LP_TFL_SELECT: case LP_TFL_SELECT_V2: return k_select(r, n);
    case LP_TFL_CAST: return k_cast(r, n);
    case LP_TFL_QUANTIZE: case LP_TFL_DEQUANTIZE: return k_quant(r, n);
    default: return k_unary(r, n);
    }
}
