/* Quantization of the lowered graph: planning (which ops run in int8, the parameters of every
 * tensor) and the rewrite that makes the plan the graph. See quant.h and README.md.
 *
 * Rules from LiteRT's kernels that the int8 plan follows:
 *   - activations: asymmetric int8, real = scale * (q - zero_point), the range always holding 0;
 *   - weights of CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED / TRANSPOSE_CONV: symmetric int8
 *     (zero point 0, -127..127) per output channel (quantized_dimension 0, DEPTHWISE 3); biases
 *     int32 with scale input_scale * weight_scale[c];
 *   - fixed output parameters: LOGISTIC and SOFTMAX 1/256 and -128, TANH and L2_NORMALIZATION
 *     1/128 and 0, LOG_SOFTMAX 16/256 and 127 (the kernels check them);
 *   - equal input and output parameters where the kernels move or compare bytes without
 *     rescaling (reshapes, pooling, concatenation, padding, slicing, resizing, max/min, ...).
 * Ops without an int8 kernel stay float32 between DEQUANTIZE and QUANTIZE. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qint.h"

#define F16_MAX 65504.0f
#define F16_MIN_ELEMS 16       /* smaller float constants (eps, masks, bounds) stay float32 */
#define DYNAMIC_MIN_ELEMS 1024 /* dynamic range: smaller weights stay float32 (as TensorFlow does) */
#define CONCAT_WARN_RATIO 16.0 /* warn when an input spans less than 1/16 of a shared range */
#define WILD_RANGE 1e6f        /* activations beyond this stay float32 */

/* ---------------- op classes ---------------- */

enum { K_FLOAT = 0, K_WEIGHTS, K_OWN, K_SHARED, K_FIXED };

static int is_f32_act(const lp_graph *g, int t) {
    return t >= 0 && g->t[t].dtype == LP_DT_F32 && !(g->t[t].flags & LP_T_CONST);
}
static int is_f32_const(const lp_graph *g, int t) {
    return t >= 0 && g->t[t].dtype == LP_DT_F32 && (g->t[t].flags & LP_T_CONST) && g->t[t].data;
}

/* weights input and per-channel dimension of a weighted op, -1 if none */
static int weight_input(lp_op op, int *dim) {
    switch (op) {
    case LP_TFL_CONV_2D: *dim = 0; return 1;
    case LP_TFL_FULLY_CONNECTED: *dim = 0; return 1;
    case LP_TFL_DEPTHWISE_CONV_2D: *dim = 3; return 1;
    case LP_TFL_TRANSPOSE_CONV: *dim = 0; return 1;
    default: return -1;
    }
}
static int bias_input(lp_op op) {
    switch (op) {
    case LP_TFL_CONV_2D: case LP_TFL_FULLY_CONNECTED: case LP_TFL_DEPTHWISE_CONV_2D: return 2;
    case LP_TFL_TRANSPOSE_CONV: return 3;
    default: return -1;
    }
}
/* the activation input of a weighted op */
static int act_input(lp_op op) { return op == LP_TFL_TRANSPOSE_CONV ? 2 : 0; }

static int fixed_params(lp_op op, lp_qp *p) {
    switch (op) {
    case LP_TFL_LOGISTIC: case LP_TFL_SOFTMAX: p->scale = 1.0f / 256; p->zp = -128; return 1;
    case LP_TFL_TANH: case LP_TFL_L2_NORMALIZATION: p->scale = 1.0f / 128; p->zp = 0; return 1;
    case LP_TFL_LOG_SOFTMAX: p->scale = 16.0f / 256; p->zp = 127; return 1;
    default: return 0;
    }
}

static int op_class(lp_op op) {
    switch (op) {
    case LP_TFL_CONV_2D: case LP_TFL_DEPTHWISE_CONV_2D: case LP_TFL_FULLY_CONNECTED: case LP_TFL_TRANSPOSE_CONV:
        return K_WEIGHTS;
    case LP_TFL_ADD: case LP_TFL_SUB: case LP_TFL_MUL: case LP_TFL_SQUARED_DIFFERENCE: case LP_TFL_MEAN:
    case LP_TFL_SUM: case LP_TFL_RELU: case LP_TFL_RELU6: case LP_TFL_RELU_N1_TO_1: case LP_TFL_LEAKY_RELU:
    case LP_TFL_HARD_SWISH: case LP_TFL_PRELU: case LP_TFL_GELU: case LP_TFL_ELU: case LP_TFL_EXP:
    case LP_TFL_RSQRT: case LP_TFL_ARG_MAX: case LP_TFL_ARG_MIN: case LP_TFL_ABS:
        return K_OWN;
    case LP_TFL_LOGISTIC: case LP_TFL_SOFTMAX: case LP_TFL_TANH: case LP_TFL_LOG_SOFTMAX: case LP_TFL_L2_NORMALIZATION:
        return K_FIXED;
    case LP_TFL_AVERAGE_POOL_2D: case LP_TFL_MAX_POOL_2D: case LP_TFL_RESHAPE: case LP_TFL_SQUEEZE:
    case LP_TFL_EXPAND_DIMS: case LP_TFL_TRANSPOSE: case LP_TFL_CONCATENATION: case LP_TFL_PAD: case LP_TFL_PADV2:
    case LP_TFL_MIRROR_PAD: case LP_TFL_STRIDED_SLICE: case LP_TFL_SLICE: case LP_TFL_GATHER: case LP_TFL_SPLIT:
    case LP_TFL_SPLIT_V: case LP_TFL_PACK: case LP_TFL_UNPACK: case LP_TFL_DEPTH_TO_SPACE: case LP_TFL_SPACE_TO_DEPTH:
    case LP_TFL_RESIZE_BILINEAR: case LP_TFL_RESIZE_NEAREST_NEIGHBOR: case LP_TFL_MAXIMUM: case LP_TFL_MINIMUM:
    case LP_TFL_TILE: case LP_TFL_BROADCAST_TO: case LP_TFL_REDUCE_MAX: case LP_TFL_REDUCE_MIN:
    case LP_TFL_BATCH_TO_SPACE_ND: case LP_TFL_SPACE_TO_BATCH_ND:
        return K_SHARED;
    default: return K_FLOAT;
    }
}

/* can node n run in int8? (its float inputs and outputs are float32; weights are constants) */
static int node_int8_ok(const lp_graph *g, const lp_node *n) {
    int k = op_class(n->op);
    if (k == K_FLOAT) return 0;
    int has_float = 0;
    for (int j = 0; j < n->n_in; j++) {
        int t = n->in[j];
        if (t < 0) continue;
        lp_dtype dt = g->t[t].dtype;
        if (lp_dtype_is_float(dt) && dt != LP_DT_F32) return 0;
        if (dt == LP_DT_F32 && (g->t[t].flags & LP_T_CONST) && !g->t[t].data) return 0;
        has_float |= dt == LP_DT_F32;
    }
    for (int j = 0; j < n->n_out; j++) {
        int t = n->out[j];
        if (t >= 0 && lp_dtype_is_float(g->t[t].dtype) && g->t[t].dtype != LP_DT_F32) return 0;
    }
    if (!has_float) return 0;
    if (k == K_WEIGHTS) {
        int dim = 0, wi = weight_input(n->op, &dim), bi = bias_input(n->op), ai = act_input(n->op);
        if (wi >= n->n_in || !is_f32_const(g, n->in[wi]) || !is_f32_act(g, n->in[ai])) return 0;
        if (bi < n->n_in && n->in[bi] >= 0 && !is_f32_const(g, n->in[bi])) return 0;
        const lp_tensor *w = &g->t[n->in[wi]], *x = &g->t[n->in[ai]];
        if (w->rank <= dim) return 0;
        /* grouped convolution has no int8 kernel */
        if (n->op == LP_TFL_CONV_2D && (x->rank != 4 || w->rank != 4 || x->dims[3] != w->dims[3])) return 0;
    }
    if (n->op == LP_TFL_GATHER && !is_f32_act(g, n->in[0]) && !is_f32_const(g, n->in[0])) return 0;
    return 1;
}

/* ---------------- parameters ---------------- */

static lp_qp params_of_range(float lo, float hi) {
    lp_qp p;
    if (!(lo <= 0)) lo = 0;
    if (!(hi >= 0)) hi = 0;
    if (hi - lo < 1e-12f) hi = lo + 1e-12f;
    p.scale = (hi - lo) / 255.0f;
    double zp = nearbyint(-128.0 - (double)lo / p.scale);
    p.zp = (int64_t)(zp < -128 ? -128 : zp > 127 ? 127 : zp);
    return p;
}

static void const_range(const lp_tensor *t, float *lo, float *hi) {
    int64_t n = lp_tensor_numel(t);
    float a = INFINITY, b = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        float v;
        memcpy(&v, (const uint8_t *)t->data + 4 * i, 4);
        if (v < a) a = v;
        if (v > b) b = v;
    }
    *lo = a <= b ? a : 0;
    *hi = a <= b ? b : 0;
}

/* per-channel symmetric scales of weight w along dim; bias (may be NULL) raises a scale where
 * its int32 value would overflow */
static void weight_scales(const lp_tensor *w, int dim, const float *bias, float in_scale, float *scales, int nch) {
    int64_t numel = lp_tensor_numel(w), inner = 1;
    for (int d = dim + 1; d < w->rank; d++) inner *= w->dims[d];
    for (int c = 0; c < nch; c++) scales[c] = 0;
    for (int64_t i = 0; i < numel; i++) {
        float v;
        memcpy(&v, (const uint8_t *)w->data + 4 * i, 4);
        int c = (int)((i / inner) % nch);
        if (fabsf(v) > scales[c]) scales[c] = fabsf(v);
    }
    for (int c = 0; c < nch; c++) {
        float s = scales[c] / 127.0f;
        if (bias && in_scale > 0) {
            /* |bias| / (in_scale * s) must stay inside int32 */
            float need = fabsf(bias[c]) / (in_scale * 2147483000.0f);
            if (s < need) s = need;
        }
        if (!(s > 0)) s = 1.0f; /* an all-zero channel: any positive scale represents it */
        scales[c] = s;
    }
}

static void quantize_weights(const lp_tensor *w, int dim, const float *scales, int nch, int8_t *q, float *sim) {
    int64_t numel = lp_tensor_numel(w), inner = 1;
    for (int d = dim + 1; d < w->rank; d++) inner *= w->dims[d];
    for (int64_t i = 0; i < numel; i++) {
        float v;
        memcpy(&v, (const uint8_t *)w->data + 4 * i, 4);
        int c = (int)((i / inner) % nch);
        float r = nearbyintf(v / scales[c]);
        r = r < -127 ? -127 : r > 127 ? 127 : r;
        if (q) q[i] = (int8_t)r;
        if (sim) sim[i] = r * scales[c];
    }
}

/* ---------------- plan ---------------- */

typedef struct uf {
    int *parent;
    float *lo, *hi;
    char *has;   /* range known */
    char *fixed; /* fixed parameters (fp) */
    lp_qp *fp;
} uf;

static int uf_find(uf *u, int x) {
    while (u->parent[x] != x) {
        u->parent[x] = u->parent[u->parent[x]];
        x = u->parent[x];
    }
    return x;
}

/* representable range of fixed parameters */
static void qp_range(lp_qp p, float *lo, float *hi) {
    *lo = p.scale * (float)(-128 - p.zp);
    *hi = p.scale * (float)(127 - p.zp);
}

/* unite a and b unless that would put a range under fixed parameters that cannot hold it; 0 = refused */
static int uf_unite(uf *u, int a, int b) {
    a = uf_find(u, a);
    b = uf_find(u, b);
    if (a == b) return 1;
    if (u->fixed[a] && u->fixed[b]) return u->fp[a].scale == u->fp[b].scale && u->fp[a].zp == u->fp[b].zp ? (u->parent[b] = a, 1) : 0;
    if (u->fixed[a] || u->fixed[b]) {
        int f = u->fixed[a] ? a : b, o = f == a ? b : a;
        float lo, hi;
        qp_range(u->fp[f], &lo, &hi);
        float tol = u->fp[f].scale;
        if (u->has[o] && (u->lo[o] < lo - tol || u->hi[o] > hi + tol)) return 0;
    }
    u->parent[b] = a;
    if (u->has[b]) {
        if (!u->has[a]) {
            u->lo[a] = u->lo[b];
            u->hi[a] = u->hi[b];
        } else {
            if (u->lo[b] < u->lo[a]) u->lo[a] = u->lo[b];
            if (u->hi[b] > u->hi[a]) u->hi[a] = u->hi[b];
        }
        u->has[a] = 1;
    }
    if (u->fixed[b]) {
        u->fixed[a] = 1;
        u->fp[a] = u->fp[b];
    }
    return 1;
}

void lp_plan_free(lp_plan *p) {
    if (p->in_requant)
        for (int i = 0; i < p->n_n; i++) free(p->in_requant[i]);
    if (p->sim_const)
        for (int t = 0; t < p->n_t; t++) free(p->sim_const[t]);
    free(p->in_requant);
    free(p->sim_const);
    free(p->node_int8);
    free(p->node_base);
    free(p->t_q);
    free(p->t_p);
    memset(p, 0, sizeof *p);
}

static lp_status plan_alloc(lp_plan *p, const lp_graph *g, int mode, lp_err *err) {
    memset(p, 0, sizeof *p);
    p->mode = mode;
    p->n_t = g->n_t;
    p->n_n = g->n_n;
    p->node_int8 = calloc((size_t)g->n_n + 1, 1);
    p->node_base = malloc(sizeof(int) * (size_t)(g->n_n + 1));
    if (p->node_base)
        for (int i = 0; i <= g->n_n; i++) p->node_base[i] = -1;
    p->t_q = calloc((size_t)g->n_t + 1, 1);
    p->t_p = calloc((size_t)g->n_t + 1, sizeof(lp_qp));
    p->in_requant = calloc((size_t)g->n_n + 1, sizeof(lp_qp *));
    p->sim_const = calloc((size_t)g->n_t + 1, sizeof(float *));
    if (!p->node_int8 || !p->node_base || !p->t_q || !p->t_p || !p->in_requant || !p->sim_const)
        return lp_err_set(err, LP_ERR_NOMEM, "out of memory");
    return LP_OK;
}

/* float16: constants converted (sim_const holds their float16 values) */
static lp_status plan_float16(lp_graph *g, lp_plan *p, lp_quant_report *rep, lp_err *err) {
    char *used = calloc((size_t)g->n_t + 1, 1);
    if (!used) return lp_err_set(err, LP_ERR_NOMEM, "out of memory");
    for (int i = 0; i < g->n_n; i++)
        if (!g->n[i].dead)
            for (int j = 0; j < g->n[i].n_in; j++)
                if (g->n[i].in[j] >= 0) used[g->n[i].in[j]] = 1;
    lp_status st = LP_OK;
    for (int t = 0; t < g->n_t && st == LP_OK; t++) {
        const lp_tensor *T = &g->t[t];
        if (!used[t] || !is_f32_const(g, t) || (T->flags & (LP_T_OUTPUT | LP_T_INPUT))) continue;
        int64_t n = lp_tensor_numel(T);
        if (n < F16_MIN_ELEMS) continue;
        int fits = 1;
        for (int64_t i = 0; i < n && fits; i++) {
            float v;
            memcpy(&v, (const uint8_t *)T->data + 4 * i, 4);
            fits = isfinite(v) && fabsf(v) <= F16_MAX;
        }
        if (!fits) { /* (1 - mask) * 1e30 and friends: float16 would make inf, then NaN */
            rep->n_kept++;
            continue;
        }
        float *sim = malloc(sizeof(float) * (size_t)n);
        if (!sim) {
            st = lp_err_set(err, LP_ERR_NOMEM, "out of memory");
            break;
        }
        for (int64_t i = 0; i < n; i++) {
            float v;
            memcpy(&v, (const uint8_t *)T->data + 4 * i, 4);
            sim[i] = lp_f16_to_f32(lp_f32_to_f16(v));
        }
        p->sim_const[t] = sim;
        rep->n_weights++;
    }
    free(used);
    return st;
}

/* dynamic range: hybrid CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED (node_int8 marks them) */
static lp_status plan_dynamic(lp_graph *g, lp_plan *p, lp_quant_report *rep, lp_err *err) {
    for (int i = 0; i < g->n_n; i++) {
        lp_node *n = &g->n[i];
        if (n->dead || (n->op != LP_TFL_CONV_2D && n->op != LP_TFL_DEPTHWISE_CONV_2D && n->op != LP_TFL_FULLY_CONNECTED))
            continue;
        int dim = 0, wi = weight_input(n->op, &dim);
        if (n->n_in <= wi || !is_f32_const(g, n->in[wi]) || !is_f32_act(g, n->in[0])) continue;
        const lp_tensor *w = &g->t[n->in[wi]], *x = &g->t[n->in[0]];
        if (lp_tensor_numel(w) < DYNAMIC_MIN_ELEMS || w->rank <= dim) continue;
        if (n->op == LP_TFL_CONV_2D && (w->rank != 4 || x->rank != 4 || x->dims[3] != w->dims[3])) continue;
        int nch = (int)w->dims[dim];
        float *scales = malloc(sizeof(float) * (size_t)nch);
        float *sim = malloc(sizeof(float) * (size_t)lp_tensor_numel(w));
        if (!scales || !sim) {
            free(scales);
            free(sim);
            return lp_err_set(err, LP_ERR_NOMEM, "out of memory");
        }
        weight_scales(w, dim, NULL, 0, scales, nch);
        quantize_weights(w, dim, scales, nch, NULL, sim);
        free(scales);
        free(p->sim_const[n->in[wi]]);
        p->sim_const[n->in[wi]] = sim;
        p->node_int8[i] = 1;
        rep->n_hybrid_ops++;
        rep->n_weights++;
    }
    return LP_OK;
}

static void warn(lp_quant_report *rep, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void warn(lp_quant_report *rep, const char *fmt, ...) {
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (rep->n_warnings) lp_buf_puts(&rep->warnings, ",");
    lp_buf_json_str(&rep->warnings, msg);
    lp_buf_printf(&rep->warn_text, "%s\n", msg);
    rep->n_warnings++;
}

static lp_status requant_set(lp_plan *p, const lp_node *n, int node, int j, lp_qp q, lp_err *err) {
    if (!p->in_requant[node]) {
        p->in_requant[node] = calloc((size_t)n->n_in + 1, sizeof(lp_qp));
        if (!p->in_requant[node]) return lp_err_set(err, LP_ERR_NOMEM, "out of memory");
    }
    p->in_requant[node][j] = q;
    return LP_OK;
}

/* parameters of constant input j of int8 node n: the shared parameters of its op, else its own */
static lp_qp use_params(const lp_graph *g, const lp_plan *p, int node, int j) {
    const lp_node *n = &g->n[node];
    if (op_class(n->op) == K_SHARED && p->node_base[node] >= 0) return p->t_p[p->node_base[node]];
    float lo, hi;
    const_range(&g->t[n->in[j]], &lo, &hi);
    return params_of_range(lo, hi);
}

/* full integer */
static lp_status plan_int8(lp_graph *g, lp_plan *p, const lp_range *ranges, int io_type, lp_quant_report *rep,
                           lp_err *err) {
    int nt = g->n_t;
    uf u;
    u.parent = malloc(sizeof(int) * (size_t)(nt + 1));
    u.lo = malloc(sizeof(float) * (size_t)(nt + 1));
    u.hi = malloc(sizeof(float) * (size_t)(nt + 1));
    u.has = calloc((size_t)nt + 1, 1);
    u.fixed = calloc((size_t)nt + 1, 1);
    u.fp = calloc((size_t)nt + 1, sizeof(lp_qp));
    lp_range *eff = NULL; /* ranges as the int8 test sees them */
    lp_status st = LP_OK;
    if (!u.parent || !u.lo || !u.hi || !u.has || !u.fixed || !u.fp) {
        st = lp_err_set(err, LP_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int t = 0; t < nt; t++) {
        u.parent[t] = t;
        if (is_f32_const(g, t)) {
            const_range(&g->t[t], &u.lo[t], &u.hi[t]);
            u.has[t] = 1;
        } else if (ranges[t].seen) {
            u.lo[t] = ranges[t].lo;
            u.hi[t] = ranges[t].hi;
            u.has[t] = 1;
        }
    }
    /* which nodes run in int8; outputs with fixed parameters. An activation beyond +-1e6 (a
     * -1e30 mask term, an overflowing sum) has no useful int8 scale, and LiteRT refuses the
     * multipliers it would need: ops touching one stay float32. Shared-parameter ops are judged
     * by their inputs (PADV2's output holds -FLT_MAX before max pooling). */
    eff = malloc(sizeof(lp_range) * (size_t)(nt + 1));
    if (!eff) {
        st = lp_err_set(err, LP_ERR_NOMEM, "out of memory");
        goto done;
    }
    memcpy(eff, ranges, sizeof(lp_range) * (size_t)nt);
    for (int i = 0; i < g->n_n; i++) /* a padded tensor ranges like its input (the pad value saturates) */
        if (!g->n[i].dead && g->n[i].op == LP_TFL_PADV2 && is_f32_act(g, g->n[i].in[0]) && is_f32_act(g, g->n[i].out[0]))
            eff[g->n[i].out[0]] = eff[g->n[i].in[0]];
    for (int i = 0; i < g->n_n; i++) {
        const lp_node *n = &g->n[i];
        if (n->dead || !node_int8_ok(g, n)) continue;
        int wild = 0;
        for (int pass = 0; pass < 2; pass++)
            for (int j = 0; j < (pass ? n->n_out : n->n_in); j++) {
                int t = pass ? n->out[j] : n->in[j];
                if (pass && op_class(n->op) == K_SHARED) continue;
                if (is_f32_act(g, t) && eff[t].seen && !(fabsf(eff[t].lo) <= WILD_RANGE && fabsf(eff[t].hi) <= WILD_RANGE)) {
                    if (!wild)
                        warn(rep, "%s '%s' stays float32: tensor '%s' ranges over [%g, %g], too wide for int8",
                             lp_op_name(n->op), n->name, g->t[t].name, eff[t].lo, eff[t].hi);
                    wild = 1;
                }
            }
        if (wild) continue;
        p->node_int8[i] = 1;
        lp_qp fp;
        if (fixed_params(n->op, &fp) && is_f32_act(g, n->out[0])) {
            u.fixed[n->out[0]] = 1;
            u.fp[n->out[0]] = fp;
        }
    }
    /* shared parameters */
    for (int i = 0; i < g->n_n && st == LP_OK; i++) {
        const lp_node *n = &g->n[i];
        if (!p->node_int8[i] || op_class(n->op) != K_SHARED) continue;
        int base = -1;
        for (int k = 0; k < n->n_out; k++)
            if (is_f32_act(g, n->out[k])) {
                /* these ops only move (or drop) their inputs' values: the inputs' ranges cover the
                 * outputs, and PADV2's output holds the pad value (-FLT_MAX before max pooling) */
                if (uf_find(&u, n->out[k]) == n->out[k]) u.has[n->out[k]] = 0;
                if (base < 0) base = n->out[k];
                else uf_unite(&u, base, n->out[k]);
            }
        p->node_base[i] = base;
        if (base < 0) continue;
        /* inputs with free parameters first, so that the group's range is known when an input
         * with fixed parameters (a LOGISTIC output, say) asks to join: it joins only when its
         * fixed range holds the group's, else it is requantized to the group's parameters */
        for (int pass = 0; pass < 2; pass++)
            for (int j = 0; j < n->n_in && st == LP_OK; j++) {
                int t = n->in[j];
                if (t < 0 || g->t[t].dtype != LP_DT_F32) continue;
                if (g->t[t].flags & LP_T_CONST) continue; /* constants take the group's parameters */
                if (u.fixed[uf_find(&u, t)] != pass) continue;
                if (!uf_unite(&u, base, t)) st = requant_set(p, n, i, j, (lp_qp){-1, 0}, err); /* filled below */
            }
    }
    if (st != LP_OK) goto done;
    /* constants of shared ops widen their group's range */
    for (int i = 0; i < g->n_n; i++) {
        const lp_node *n = &g->n[i];
        if (!p->node_int8[i] || op_class(n->op) != K_SHARED) continue;
        int base = -1;
        for (int k = 0; k < n->n_out && base < 0; k++)
            if (is_f32_act(g, n->out[k])) base = n->out[k];
        if (base < 0) continue;
        int r = uf_find(&u, base);
        for (int j = 0; j < n->n_in; j++) {
            int t = n->in[j];
            if (!is_f32_const(g, t) || u.fixed[r]) continue;
            if (n->op == LP_TFL_PADV2) continue; /* the pad value (-inf for max pooling) saturates */
            if (!u.has[r]) {
                u.lo[r] = u.lo[t];
                u.hi[r] = u.hi[t];
                u.has[r] = 1;
            } else {
                if (u.lo[t] < u.lo[r]) u.lo[r] = u.lo[t];
                if (u.hi[t] > u.hi[r]) u.hi[r] = u.hi[t];
            }
        }
    }
    /* parameters of every float32 activation an int8 node touches (and of the I/O when it is int8);
     * constants get theirs per use (use_params) */
    for (int i = 0; i < g->n_n; i++) {
        const lp_node *n = &g->n[i];
        if (!p->node_int8[i]) continue;
        for (int pass = 0; pass < 2; pass++)
            for (int j = 0; j < (pass ? n->n_out : n->n_in); j++) {
                int t = pass ? n->out[j] : n->in[j];
                if (is_f32_act(g, t)) p->t_q[t] = 1;
            }
    }
    if (io_type != LP_IO_FLOAT32) {
        for (int i = 0; i < g->inputs.n; i++)
            if (g->t[g->inputs.v[i]].dtype == LP_DT_F32) p->t_q[g->inputs.v[i]] = 1;
        for (int i = 0; i < g->outputs.n; i++)
            if (g->t[g->outputs.v[i]].dtype == LP_DT_F32 && !(g->t[g->outputs.v[i]].flags & LP_T_CONST))
                p->t_q[g->outputs.v[i]] = 1;
    }
    for (int t = 0; t < nt; t++) {
        if (!p->t_q[t]) continue;
        int r = uf_find(&u, t);
        if (u.fixed[r]) p->t_p[t] = u.fp[r];
        else if (u.has[r]) p->t_p[t] = params_of_range(u.lo[r], u.hi[r]);
        else {
            p->t_p[t] = params_of_range(0, 1);
            warn(rep, "tensor '%s' was never computed during calibration; its int8 range is a guess ([0, 1])", g->t[t].name);
        }
    }
    /* requantized inputs take the parameters of their op's output */
    for (int i = 0; i < g->n_n; i++) {
        const lp_node *n = &g->n[i];
        if (!p->in_requant[i]) continue;
        int base = -1;
        for (int k = 0; k < n->n_out && base < 0; k++)
            if (is_f32_act(g, n->out[k])) base = n->out[k];
        for (int j = 0; j < n->n_in; j++)
            if (p->in_requant[i][j].scale < 0) p->in_requant[i][j] = p->t_p[base];
    }
    /* concatenated ranges far apart: the narrow input keeps few levels */
    for (int i = 0; i < g->n_n; i++) {
        const lp_node *n = &g->n[i];
        if (!p->node_int8[i] || n->op != LP_TFL_CONCATENATION || !is_f32_act(g, n->out[0])) continue;
        int r = uf_find(&u, n->out[0]);
        float glo, ghi;
        if (u.fixed[r]) qp_range(u.fp[r], &glo, &ghi);
        else {
            glo = u.lo[r] < 0 ? u.lo[r] : 0;
            ghi = u.hi[r] > 0 ? u.hi[r] : 0;
        }
        double gw = (double)ghi - glo;
        for (int j = 0; j < n->n_in; j++) {
            int t = n->in[j];
            if (t < 0 || g->t[t].dtype != LP_DT_F32) continue;
            float lo = u.has[t] || is_f32_const(g, t) ? u.lo[t] : 0, hi = u.has[t] ? u.hi[t] : 0;
            if (ranges[t].seen) {
                lo = ranges[t].lo;
                hi = ranges[t].hi;
            }
            double w = (double)hi - lo;
            if (w > 0 && gw > CONCAT_WARN_RATIO * w)
                warn(rep,
                     "CONCATENATION '%s': input '%s' spans [%g, %g] but shares the int8 parameters of the "
                     "concatenated range [%g, %g] (%.0fx wider), so it keeps about %.1f of 256 levels",
                     n->name, g->t[t].name, lo, hi, glo, ghi, gw / w, 255.0 * w / gw);
        }
    }
    /* weights, biases and constants as the int8 model holds them (for the simulation) */
    for (int i = 0; i < g->n_n && st == LP_OK; i++) {
        const lp_node *n = &g->n[i];
        if (!p->node_int8[i]) continue;
        if (op_class(n->op) == K_WEIGHTS) {
            int dim = 0, wi = weight_input(n->op, &dim), bi = bias_input(n->op), ai = act_input(n->op);
            const lp_tensor *w = &g->t[n->in[wi]];
            int nch = (int)w->dims[dim];
            float in_scale = p->in_requant[i] && p->in_requant[i][ai].scale > 0 ? p->in_requant[i][ai].scale
                                                                                 : p->t_p[n->in[ai]].scale;
            const float *bias = bi < n->n_in && n->in[bi] >= 0 ? g->t[n->in[bi]].data : NULL;
            float *scales = malloc(sizeof(float) * (size_t)nch);
            float *sim = malloc(sizeof(float) * (size_t)lp_tensor_numel(w));
            float *bsim = bias ? malloc(sizeof(float) * (size_t)nch) : NULL;
            float *bcopy = bias ? malloc(sizeof(float) * (size_t)nch) : NULL;
            if (!scales || !sim || (bias && (!bsim || !bcopy))) {
                free(scales);
                free(sim);
                free(bsim);
                free(bcopy);
                st = lp_err_set(err, LP_ERR_NOMEM, "out of memory");
                break;
            }
            if (bias) memcpy(bcopy, bias, sizeof(float) * (size_t)nch);
            weight_scales(w, dim, bcopy, in_scale, scales, nch);
            quantize_weights(w, dim, scales, nch, NULL, sim);
            if (bias)
                for (int c = 0; c < nch; c++) {
                    double bs = (double)in_scale * scales[c];
                    bsim[c] = (float)(nearbyint(bcopy[c] / bs) * bs);
                }
            free(scales);
            free(bcopy);
            free(p->sim_const[n->in[wi]]);
            p->sim_const[n->in[wi]] = sim;
            if (bias) {
                free(p->sim_const[n->in[bi]]);
                p->sim_const[n->in[bi]] = bsim;
            }
            rep->n_weights++;
            continue;
        }
        for (int j = 0; j < n->n_in; j++) {
            int t = n->in[j];
            if (!is_f32_const(g, t) || p->sim_const[t]) continue;
            int64_t ne = lp_tensor_numel(&g->t[t]);
            float *sim = malloc(sizeof(float) * (size_t)(ne + 1));
            if (!sim) {
                st = lp_err_set(err, LP_ERR_NOMEM, "out of memory");
                break;
            }
            lp_qp q = use_params(g, p, i, j);
            for (int64_t e = 0; e < ne; e++) {
                float v;
                memcpy(&v, (const uint8_t *)g->t[t].data + 4 * e, 4);
                sim[e] = lp_q_fake(v, q, -128, 127);
            }
            p->sim_const[t] = sim;
        }
    }
done:
    free(u.parent);
    free(u.lo);
    free(u.hi);
    free(u.has);
    free(u.fixed);
    free(u.fp);
    free(eff);
    return st;
}

/* ---------------- rewrite ---------------- */

static lp_qparams *new_qparams(lp_graph *g, int n, int dim, const float *scales, const int64_t *zps) {
    lp_qparams *q = lp_arena_alloc(&g->arena, sizeof *q);
    if (!q) return NULL;
    q->n = n;
    q->dim = dim;
    q->scale = lp_arena_alloc(&g->arena, sizeof(float) * (size_t)n);
    q->zero_point = lp_arena_alloc(&g->arena, sizeof(int64_t) * (size_t)n);
    if (!q->scale || !q->zero_point) return NULL;
    memcpy(q->scale, scales, sizeof(float) * (size_t)n);
    if (zps) memcpy(q->zero_point, zps, sizeof(int64_t) * (size_t)n);
    return q;
}

static lp_qparams *qp1(lp_graph *g, lp_qp p) { return new_qparams(g, 1, 0, &p.scale, &p.zp); }

static char *suffixed(lp_graph *g, const char *name, const char *suffix) {
    return lp_arena_printf(&g->arena, "%s%s", name, suffix);
}

/* a new activation tensor like t (dims), of dtype dt */
static int like(lp_graph *g, int t, lp_dtype dt, const char *suffix) {
    const char *nm = suffixed(g, g->t[t].name, suffix);
    if (!nm) return -1;
    int64_t dims[LP_MAX_RANK];
    memcpy(dims, g->t[t].dims, sizeof dims);
    int id = lp_graph_add_tensor(g, nm, dt, g->t[t].rank, dims);
    return id;
}

static int add_op1(lp_graph *g, lp_op op, const char *name, int in, int out) {
    int id = lp_graph_add_node(g, op, name, &in, 1, &out, 1);
    return id;
}

static lp_status rewrite_float16(lp_graph *g, const lp_plan *p, lp_err *err) {
    int nt = p->n_t;
    for (int t = 0; t < nt; t++) {
        if (!p->sim_const[t]) continue;
        lp_tensor *T = &g->t[t];
        int64_t n = lp_tensor_numel(T);
        uint16_t *h = lp_arena_alloc(&g->arena, sizeof(uint16_t) * (size_t)(n + 1));
        if (!h) return lp_err_set(err, LP_ERR_NOMEM, "out of memory");
        for (int64_t i = 0; i < n; i++) {
            float v;
            memcpy(&v, (const uint8_t *)T->data + 4 * i, 4);
            h[i] = lp_f32_to_f16(v);
        }
        int64_t dims[LP_MAX_RANK];
        memcpy(dims, T->dims, sizeof dims);
        int hc = lp_graph_add_const(g, T->name, LP_DT_F16, T->rank, dims, h, sizeof(uint16_t) * (size_t)n, 0);
        if (hc < 0) return err->code;
        g->t[hc].flags |= LP_T_OWNED;
        int d = like(g, t, LP_DT_F32, "/dequantize");
        if (d < 0) return err->code;
        lp_graph_replace_uses(g, t, d);
        if (add_op1(g, LP_TFL_DEQUANTIZE, g->t[d].name, hc, d) < 0) return err->code;
    }
    return LP_OK;
}

static lp_status rewrite_dynamic(lp_graph *g, const lp_plan *p, lp_err *err) {
    for (int i = 0; i < p->n_n; i++) {
        if (!p->node_int8[i]) continue;
        lp_node *n = &g->n[i];
        int dim = 0, wi = weight_input(n->op, &dim);
        const lp_tensor *w = &g->t[n->in[wi]];
        int nch = (int)w->dims[dim];
        int64_t ne = lp_tensor_numel(w);
        float *scales = malloc(sizeof(float) * (size_t)nch);
        int8_t *q = lp_arena_alloc(&g->arena, (size_t)ne + 1);
        if (!scales || !q) {
            free(scales);
            return lp_err_set(err, LP_ERR_NOMEM, "out of memory");
        }
        weight_scales(w, dim, NULL, 0, scales, nch);
        quantize_weights(w, dim, scales, nch, q, NULL);
        int64_t dims[LP_MAX_RANK];
        memcpy(dims, w->dims, sizeof dims);
        int qt = lp_graph_add_const(g, w->name, LP_DT_I8, w->rank, dims, q, (size_t)ne, 0);
        lp_qparams *qp = qt >= 0 ? new_qparams(g, nch, dim, scales, NULL) : NULL;
        free(scales);
        if (!qp) return err->code ? err->code : lp_err_set(err, LP_ERR_NOMEM, "out of memory");
        g->t[qt].flags |= LP_T_OWNED;
        g->t[qt].q = qp;
        g->n[i].in[wi] = qt;
    }
    return LP_OK;
}

typedef struct rw {
    lp_graph *g;
    const lp_plan *p;
    lp_err *err;
    int io;
    int *qv, *fv; /* int8 / float32 version of each original tensor (-1: not made yet) */
    /* requantized versions: (source int8 tensor, params) -> tensor */
    int *rq_src, *rq_dst;
    lp_qp *rq_p;
    int n_rq, cap_rq;
} rw;

static int t_output(const lp_graph *g, int t) { return (g->t[t].flags & LP_T_OUTPUT) != 0; }
static int t_input(const lp_graph *g, int t) { return (g->t[t].flags & LP_T_INPUT) != 0; }

/* the int8 version of original float tensor t */
static int qver(rw *w, int t) {
    lp_graph *g = w->g;
    if (w->qv[t] >= 0) return w->qv[t];
    /* float native: QUANTIZE(float version) */
    int f = w->fv[t] >= 0 ? w->fv[t] : t;
    int q = like(g, t, LP_DT_I8, "_int8");
    if (q < 0) return -1;
    g->t[q].q = qp1(g, w->p->t_p[t]);
    if (!g->t[q].q || add_op1(g, LP_TFL_QUANTIZE, g->t[q].name, f, q) < 0) return -1;
    w->qv[t] = q;
    return q;
}

/* the float32 version of original tensor t */
static int fver(rw *w, int t) {
    lp_graph *g = w->g;
    if (w->fv[t] >= 0) return w->fv[t];
    int src = w->qv[t];
    int f = like(g, t, LP_DT_F32, "/dequantize");
    if (f < 0 || add_op1(g, LP_TFL_DEQUANTIZE, g->t[f].name, src, f) < 0) return -1;
    w->fv[t] = f;
    return f;
}

static int requant(rw *w, int src, lp_qp p) {
    for (int k = 0; k < w->n_rq; k++)
        if (w->rq_src[k] == src && w->rq_p[k].scale == p.scale && w->rq_p[k].zp == p.zp) return w->rq_dst[k];
    lp_graph *g = w->g;
    int d = like(g, src, LP_DT_I8, "/requantized");
    if (d < 0) return -1;
    g->t[d].q = qp1(g, p);
    if (!g->t[d].q || add_op1(g, LP_TFL_QUANTIZE, g->t[d].name, src, d) < 0) return -1;
    if (w->n_rq == w->cap_rq) {
        int nc = w->cap_rq ? w->cap_rq * 2 : 16;
        int *a = realloc(w->rq_src, sizeof(int) * (size_t)nc), *b = a ? realloc(w->rq_dst, sizeof(int) * (size_t)nc) : NULL;
        lp_qp *c = b ? realloc(w->rq_p, sizeof(lp_qp) * (size_t)nc) : NULL;
        if (a) w->rq_src = a;
        if (b) w->rq_dst = b;
        if (!c) return -1;
        w->rq_p = c;
        w->cap_rq = nc;
    }
    w->rq_src[w->n_rq] = src;
    w->rq_dst[w->n_rq] = d;
    w->rq_p[w->n_rq++] = p;
    return d;
}

/* int8 constant from float constant t with per-tensor parameters */
static int const_int8(rw *w, int t, lp_qp p) {
    lp_graph *g = w->g;
    const lp_tensor *T = &g->t[t];
    int64_t ne = lp_tensor_numel(T);
    int8_t *q = lp_arena_alloc(&g->arena, (size_t)ne + 1);
    if (!q) return -1;
    for (int64_t i = 0; i < ne; i++) {
        float v;
        memcpy(&v, (const uint8_t *)T->data + 4 * i, 4);
        double r = nearbyint((double)v / p.scale) + (double)p.zp;
        q[i] = (int8_t)(r < -128 ? -128 : r > 127 ? 127 : r);
    }
    int64_t dims[LP_MAX_RANK];
    memcpy(dims, T->dims, sizeof dims);
    int id = lp_graph_add_const(g, suffixed(g, T->name, "_int8"), LP_DT_I8, T->rank, dims, q, (size_t)ne, 0);
    if (id < 0) return -1;
    g->t[id].flags |= LP_T_OWNED;
    g->t[id].q = qp1(g, p);
    return g->t[id].q ? id : -1;
}

static lp_status weighted_consts(rw *w, int i, int act) {
    lp_graph *g = w->g;
    const lp_plan *p = w->p;
    lp_node *n = &g->n[i];
    int dim = 0, wi = weight_input(n->op, &dim), bi = bias_input(n->op), ai = act_input(n->op);
    const lp_tensor *W = &g->t[n->in[wi]];
    int nch = (int)W->dims[dim];
    float in_scale = p->in_requant[i] && p->in_requant[i][ai].scale > 0 ? p->in_requant[i][ai].scale : p->t_p[act].scale;
    int has_bias = bi < n->n_in && n->in[bi] >= 0;
    float *bias = has_bias ? malloc(sizeof(float) * (size_t)nch) : NULL;
    float *scales = malloc(sizeof(float) * (size_t)nch);
    int64_t ne = lp_tensor_numel(W);
    int8_t *q = lp_arena_alloc(&g->arena, (size_t)ne + 1);
    if (!scales || !q || (has_bias && !bias)) {
        free(bias);
        free(scales);
        return lp_err_set(w->err, LP_ERR_NOMEM, "out of memory");
    }
    if (has_bias) memcpy(bias, g->t[n->in[bi]].data, sizeof(float) * (size_t)nch);
    weight_scales(W, dim, bias, in_scale, scales, nch);
    quantize_weights(W, dim, scales, nch, q, NULL);
    int64_t dims[LP_MAX_RANK];
    memcpy(dims, W->dims, sizeof dims);
    int qt = lp_graph_add_const(g, W->name, LP_DT_I8, W->rank, dims, q, (size_t)ne, 0);
    lp_status st = LP_OK;
    if (qt < 0 || !(g->t[qt].q = new_qparams(g, nch, dim, scales, NULL))) st = w->err->code ? w->err->code : LP_ERR_NOMEM;
    if (st == LP_OK) {
        g->t[qt].flags |= LP_T_OWNED;
        n = &g->n[i];
        n->in[wi] = qt;
    }
    if (st == LP_OK && has_bias) {
        const lp_tensor *B = &g->t[n->in[bi]];
        int32_t *bq = lp_arena_alloc(&g->arena, sizeof(int32_t) * (size_t)nch);
        float *bscale = malloc(sizeof(float) * (size_t)nch);
        if (!bq || !bscale) {
            free(bscale);
            st = lp_err_set(w->err, LP_ERR_NOMEM, "out of memory");
        } else {
            for (int c = 0; c < nch; c++) {
                bscale[c] = in_scale * scales[c];
                double r = nearbyint((double)bias[c] / bscale[c]);
                bq[c] = (int32_t)(r < -2147483647.0 ? -2147483647.0 : r > 2147483647.0 ? 2147483647.0 : r);
            }
            int64_t bd = nch;
            int bt = lp_graph_add_const(g, B->name, LP_DT_I32, 1, &bd, bq, sizeof(int32_t) * (size_t)nch, 0);
            if (bt < 0 || !(g->t[bt].q = new_qparams(g, nch, 0, bscale, NULL))) st = w->err->code ? w->err->code : LP_ERR_NOMEM;
            else {
                g->t[bt].flags |= LP_T_OWNED;
                g->n[i].in[bi] = bt;
            }
            free(bscale);
        }
    }
    free(bias);
    free(scales);
    return st;
}

static lp_status rewrite_int8(lp_graph *g, const lp_plan *p, int io, lp_err *err) {
    rw w;
    memset(&w, 0, sizeof w);
    w.g = g;
    w.p = p;
    w.err = err;
    w.io = io;
    int nt = p->n_t, nn = p->n_n;
    w.qv = malloc(sizeof(int) * (size_t)(nt + 1));
    w.fv = malloc(sizeof(int) * (size_t)(nt + 1));
    lp_status st = LP_OK;
    if (!w.qv || !w.fv) {
        st = lp_err_set(err, LP_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int t = 0; t < nt; t++) w.qv[t] = w.fv[t] = -1;
    lp_qp u8shift;
    /* 1. outputs of int8 nodes become int8 */
    for (int i = 0; i < nn && st == LP_OK; i++) {
        if (!p->node_int8[i]) continue;
        for (int k = 0; k < g->n[i].n_out; k++) {
            int t = g->n[i].out[k];
            if (t < 0 || g->t[t].dtype != LP_DT_F32) continue;
            if (!t_output(g, t) || io == LP_IO_INT8) {
                /* in place: the tensor is the int8 one */
                g->t[t].dtype = LP_DT_I8;
                g->t[t].q = qp1(g, p->t_p[t]);
                if (!g->t[t].q) st = lp_err_set(err, LP_ERR_NOMEM, "out of memory");
                w.qv[t] = t;
                continue;
            }
            /* a float (or uint8) graph output: the op writes an int8 tensor that is converted */
            int q = like(g, t, LP_DT_I8, "_int8");
            if (q < 0 || !(g->t[q].q = qp1(g, p->t_p[t]))) {
                st = err->code ? err->code : LP_ERR_NOMEM;
                break;
            }
            g->n[i].out[k] = q;
            g->t[q].producer = i;
            w.qv[t] = q;
            if (io == LP_IO_FLOAT32) {
                if (add_op1(g, LP_TFL_DEQUANTIZE, g->t[t].name, q, t) < 0) st = err->code;
                w.fv[t] = t;
            } else { /* uint8: the same real values, zero point + 128 */
                g->t[t].dtype = LP_DT_U8;
                u8shift = p->t_p[t];
                u8shift.zp += 128;
                if (!(g->t[t].q = qp1(g, u8shift)) || add_op1(g, LP_TFL_QUANTIZE, g->t[t].name, q, t) < 0)
                    st = err->code ? err->code : LP_ERR_NOMEM;
            }
        }
    }
    /* 2. integer model I/O */
    if (io != LP_IO_FLOAT32 && st == LP_OK) {
        for (int i = 0; i < g->inputs.n && st == LP_OK; i++) {
            int t = g->inputs.v[i];
            if (!p->t_q[t] || g->t[t].dtype != LP_DT_F32) continue;
            lp_qp q = p->t_p[t];
            if (io == LP_IO_UINT8) {
                q.zp += 128;
                g->t[t].dtype = LP_DT_U8;
                g->t[t].q = qp1(g, q);
                int q8 = like(g, t, LP_DT_I8, "_int8");
                if (q8 < 0 || !g->t[t].q || !(g->t[q8].q = qp1(g, p->t_p[t])) ||
                    add_op1(g, LP_TFL_QUANTIZE, g->t[q8].name, t, q8) < 0) {
                    st = err->code ? err->code : LP_ERR_NOMEM;
                    break;
                }
                w.qv[t] = q8;
            } else {
                g->t[t].dtype = LP_DT_I8;
                g->t[t].q = qp1(g, q);
                if (!g->t[t].q) st = lp_err_set(err, LP_ERR_NOMEM, "out of memory");
                w.qv[t] = t;
            }
            /* float readers get a DEQUANTIZE when they exist (fver) */
        }
        for (int i = 0; i < g->outputs.n && st == LP_OK; i++) {
            int t = g->outputs.v[i];
            if (!p->t_q[t] || w.qv[t] >= 0 || t_input(g, t)) continue;
            /* produced by a float op: the op writes a float tensor, QUANTIZE makes the output */
            int prod = g->t[t].producer;
            if (prod < 0) continue;
            int f = like(g, t, LP_DT_F32, "_float");
            if (f < 0) {
                st = err->code;
                break;
            }
            for (int k = 0; k < g->n[prod].n_out; k++)
                if (g->n[prod].out[k] == t) g->n[prod].out[k] = f;
            g->t[f].producer = prod;
            lp_qp q = p->t_p[t];
            if (io == LP_IO_UINT8) q.zp += 128;
            g->t[t].dtype = io == LP_IO_UINT8 ? LP_DT_U8 : LP_DT_I8;
            if (!(g->t[t].q = qp1(g, q)) || add_op1(g, LP_TFL_QUANTIZE, g->t[t].name, f, t) < 0) {
                st = err->code ? err->code : LP_ERR_NOMEM;
                break;
            }
            w.fv[t] = f;
            w.qv[t] = io == LP_IO_INT8 ? t : -1;
        }
    }
    /* 3. every original node reads the version of each float tensor its mode needs */
    for (int i = 0; i < nn && st == LP_OK; i++) {
        if (g->n[i].dead) continue;
        int mode8 = p->node_int8[i];
        int k = op_class(g->n[i].op);
        int act = k == K_WEIGHTS ? g->n[i].in[act_input(g->n[i].op)] : -1; /* before it is rewired */
        for (int j = 0; j < g->n[i].n_in && st == LP_OK; j++) {
            int t = g->n[i].in[j];
            if (t < 0 || t >= nt) continue;
            if (g->t[t].flags & LP_T_CONST) {
                if (!mode8 || !is_f32_const(g, t)) continue;
                if (k == K_WEIGHTS) {
                    int dim = 0;
                    if (j == weight_input(g->n[i].op, &dim) || j == bias_input(g->n[i].op)) continue; /* below */
                }
                lp_qp q = use_params(g, p, i, j);
                int c = const_int8(&w, t, q);
                if (c < 0) st = err->code ? err->code : lp_err_set(err, LP_ERR_NOMEM, "out of memory");
                else g->n[i].in[j] = c;
                continue;
            }
            /* an original float tensor: pick the version (originally float32 activations only) */
            int was_float = w.qv[t] >= 0 || w.fv[t] >= 0 || g->t[t].dtype == LP_DT_F32;
            if (!was_float) continue;
            int v;
            if (mode8) {
                v = qver(&w, t);
                if (v >= 0 && p->in_requant[i] && p->in_requant[i][j].scale > 0) v = requant(&w, v, p->in_requant[i][j]);
            } else {
                v = w.qv[t] >= 0 ? fver(&w, t) : t;
            }
            if (v < 0) st = err->code ? err->code : lp_err_set(err, LP_ERR_NOMEM, "out of memory");
            else g->n[i].in[j] = v;
        }
        if (st == LP_OK && mode8 && k == K_WEIGHTS) st = weighted_consts(&w, i, act);
    }
    /* 4. a graph output that is an int8 tensor in a float model (an int8 op wrote it in place
     * because it is also an input elsewhere) cannot happen: outputs were handled in step 1 */
done:
    free(w.qv);
    free(w.fv);
    free(w.rq_src);
    free(w.rq_dst);
    free(w.rq_p);
    return st;
}

/* ---------------- driver ---------------- */

/* bytes of the constants live nodes read (each once) */
static uint64_t const_bytes(const lp_graph *g) {
    char *seen = calloc((size_t)g->n_t + 1, 1);
    uint64_t total = 0;
    if (!seen) return 0;
    for (int i = 0; i < g->n_n; i++) {
        const lp_node *n = &g->n[i];
        if (n->dead) continue;
        for (int j = 0; j < n->n_in; j++) {
            int t = n->in[j];
            if (t < 0 || seen[t] || !(g->t[t].flags & LP_T_CONST)) continue;
            seen[t] = 1;
            int64_t ne = lp_tensor_numel(&g->t[t]);
            if (ne > 0) total += (uint64_t)ne * lp_dtype_size(g->t[t].dtype);
        }
    }
    free(seen);
    return total;
}

/* nodes none of whose outputs is read or is a graph output (the graph is in topological order) */
static lp_status drop_unused(lp_graph *g, lp_err *err) {
    char *needed = calloc((size_t)g->n_t + 1, 1);
    if (!needed) return lp_err_set(err, LP_ERR_NOMEM, "out of memory");
    for (int i = 0; i < g->outputs.n; i++) needed[g->outputs.v[i]] = 1;
    for (int i = g->n_n - 1; i >= 0; i--) {
        lp_node *n = &g->n[i];
        if (n->dead) continue;
        int live = 0;
        for (int k = 0; k < n->n_out; k++) live |= n->out[k] >= 0 && needed[n->out[k]];
        if (!live) {
            n->dead = 1;
            continue;
        }
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0) needed[n->in[j]] = 1;
    }
    free(needed);
    return lp_graph_toposort(g);
}

static void histogram_float_ops(const lp_graph *g, const lp_plan *p, lp_quant_report *rep) {
    int counts[LP_OP_COUNT];
    memset(counts, 0, sizeof counts);
    for (int i = 0; i < p->n_n; i++) {
        const lp_node *n = &g->n[i];
        if (n->dead) continue;
        int has_float = 0;
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0 && g->t[n->in[j]].dtype == LP_DT_F32) has_float = 1;
        for (int j = 0; j < n->n_out; j++)
            if (n->out[j] >= 0 && g->t[n->out[j]].dtype == LP_DT_F32) has_float = 1;
        if (p->node_int8[i]) rep->n_int8_ops++;
        else if (has_float) {
            counts[n->op]++;
            rep->n_float_ops++;
        }
    }
    lp_buf_puts(&rep->float_ops, "{");
    int first = 1;
    for (int op = 0; op < LP_OP_COUNT; op++)
        if (counts[op]) {
            lp_buf_printf(&rep->float_ops, "%s\"%s\":%d", first ? "" : ",", lp_op_name((lp_op)op), counts[op]);
            first = 0;
        }
    lp_buf_puts(&rep->float_ops, "}");
}

lp_status lp_quantize(lp_graph *g, const lp_options *opt, lp_err *err, lp_quant_report *rep) {
    int mode = opt->quantize;
    rep->mode = mode;
    rep->io_type = opt->io_type;
    rep->percentile = opt->percentile;
    if (mode <= LP_QUANTIZE_NONE || mode >= LP_QUANTIZE_COUNT)
        return lp_err_set(err, LP_ERR_INVALID, "unknown quantization mode %d", mode);
    if (opt->io_type < 0 || opt->io_type >= LP_IO_COUNT)
        return lp_err_set(err, LP_ERR_INVALID, "unknown input/output type %d", opt->io_type);
    if (opt->io_type != LP_IO_FLOAT32 && mode != LP_QUANTIZE_INT8)
        return lp_err_set(err, LP_ERR_INVALID, "int8 or uint8 inputs and outputs need full int8 quantization");
    if (opt->percentile != 0 && !(opt->percentile >= 50 && opt->percentile < 100))
        return lp_err_set(err, LP_ERR_INVALID, "percentile %g must lie in [50, 100) (0: min/max ranges)", opt->percentile);
    if (opt->percentile != 0 && mode != LP_QUANTIZE_INT8)
        return lp_err_set(err, LP_ERR_INVALID, "a percentile applies to int8 calibration only");
    if (mode == LP_QUANTIZE_INT8 && (!opt->calibration || !*opt->calibration))
        return lp_err_set(err, LP_ERR_INVALID,
                          "int8 quantization needs calibration data: a folder of images or .npy arrays (--calibration DIR)");
    lp_data_opts dopt;
    LP_Q_TRY(lp_q_data_opts(opt, &dopt, err));
    rep->const_bytes_float = const_bytes(g);
    lp_dataset *calib = NULL, *eval = NULL;
    lp_range *ranges = NULL;
    lp_plan plan;
    memset(&plan, 0, sizeof plan);
    lp_status st = LP_OK;
    if (opt->calibration && *opt->calibration) {
        st = lp_dataset_open(&calib, opt->calibration, g, &dopt, err);
        if (st != LP_OK) {
            lp_err_prefix(err, "calibration data: ");
            goto done;
        }
        snprintf(rep->calib_desc, sizeof rep->calib_desc, "%s", lp_dataset_describe(calib));
    }
    if (opt->eval_data && *opt->eval_data) {
        st = lp_dataset_open(&eval, opt->eval_data, g, &dopt, err);
        if (st != LP_OK) {
            lp_err_prefix(err, "evaluation data: ");
            goto done;
        }
    }
    st = plan_alloc(&plan, g, mode, err);
    if (st != LP_OK) goto done;
    if (mode == LP_QUANTIZE_FLOAT16) st = plan_float16(g, &plan, rep, err);
    else if (mode == LP_QUANTIZE_DYNAMIC) st = plan_dynamic(g, &plan, rep, err);
    else {
        ranges = calloc((size_t)g->n_t + 1, sizeof(lp_range));
        if (!ranges) st = lp_err_set(err, LP_ERR_NOMEM, "out of memory");
        if (st == LP_OK) {
            st = lp_calibrate(g, calib, opt->percentile, ranges, err);
            if (st != LP_OK) lp_err_prefix(err, "calibration: ");
        }
        if (st == LP_OK) st = plan_int8(g, &plan, ranges, opt->io_type, rep, err);
    }
    if (st != LP_OK) goto done;
    {
        lp_dataset *on = eval ? eval : calib;
        if (on) {
            st = lp_q_evaluate(g, &plan, on, rep, err);
            if (st != LP_OK) {
                lp_err_prefix(err, "quantization report: ");
                goto done;
            }
            snprintf(rep->eval_desc, sizeof rep->eval_desc, "%s%s", lp_dataset_describe(on),
                     eval ? "" : " (the calibration data)");
        }
    }
    if (mode == LP_QUANTIZE_INT8) histogram_float_ops(g, &plan, rep);
    if (mode == LP_QUANTIZE_FLOAT16) st = rewrite_float16(g, &plan, err);
    else if (mode == LP_QUANTIZE_DYNAMIC) st = rewrite_dynamic(g, &plan, err);
    else st = rewrite_int8(g, &plan, opt->io_type, err);
    if (st == LP_OK) st = lp_graph_toposort(g);
    if (st == LP_OK) st = drop_unused(g, err);
    rep->const_bytes = const_bytes(g);
    if (mode == LP_QUANTIZE_INT8 && st == LP_OK && rep->n_float_ops)
        warn(rep, "%d op(s) have no int8 kernel and run in float32 between DEQUANTIZE and QUANTIZE (see float_ops)",
             rep->n_float_ops);
    if (mode == LP_QUANTIZE_FLOAT16 && rep->n_kept)
        warn(rep, "%d constant(s) with values beyond the float16 range (|x| > 65504) stay float32", rep->n_kept);
done:
    lp_plan_free(&plan);
    free(ranges);
    lp_dataset_free(calib);
    lp_dataset_free(eval);
    return st;
}
