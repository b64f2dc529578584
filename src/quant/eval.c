/* The report's error figures: the float graph against a simulation of its quantized version,
 * both in the reference interpreter, on the evaluation samples.
 *
 * The simulation runs the float kernels on values rounded the way the quantized model holds
 * them: weights and biases on their int8 / int32 grids (or float16), int8 activations rounded
 * and clamped to their parameters after each int8 op (and where a float tensor enters an int8 op,
 * as QUANTIZE does), hybrid ops' inputs quantized per batch row as LiteRT's hybrid kernels do.
 * It does not reproduce LiteRT's fixed-point rounding inside kernels (a level here and there),
 * nor the lookup tables of its int8 LOGISTIC/TANH/SOFTMAX. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qint.h"

#define MAX_SWAP 64

typedef struct sim {
    const lp_plan *p;
    lp_graph *g;
    int sw_t[MAX_SWAP];
    void *sw_data[MAX_SWAP];
    int n_sw;
    lp_err *err;
} sim;

static int is_act(const lp_graph *g, int t) {
    return t >= 0 && g->t[t].dtype == LP_DT_F32 && !(g->t[t].flags & LP_T_CONST);
}

static void fake_buf(float *x, int64_t n, lp_qp q) {
    for (int64_t i = 0; i < n; i++) x[i] = lp_q_fake(x[i], q, -128, 127);
}

static lp_status swap_in(sim *s, lp_run *r, int t, float **copy) {
    for (int k = 0; k < s->n_sw; k++)
        if (s->sw_t[k] == t) { /* the same tensor twice: already replaced */
            *copy = NULL;
            return LP_OK;
        }
    if (s->n_sw == MAX_SWAP) {
        *copy = NULL;
        return LP_OK;
    }
    lp_value *v = &r->v[t];
    float *c = malloc(sizeof(float) * (size_t)(v->numel + 1));
    if (!c) return lp_err_set(s->err, LP_ERR_NOMEM, "out of memory");
    memcpy(c, v->data, sizeof(float) * (size_t)v->numel);
    s->sw_t[s->n_sw] = t;
    s->sw_data[s->n_sw++] = v->data;
    v->data = c;
    *copy = c;
    return LP_OK;
}

static lp_status before(void *ud, lp_run *r, int node) {
    sim *s = ud;
    const lp_plan *p = s->p;
    if (node >= p->n_n || !p->node_int8[node]) return LP_OK;
    const lp_node *n = &s->g->n[node];
    if (p->mode == LP_QUANTIZE_DYNAMIC) {
        /* hybrid kernels quantize their input symmetrically per batch row */
        int t = n->in[0];
        float *c;
        LP_Q_TRY(swap_in(s, r, t, &c));
        if (!c) return LP_OK;
        const lp_value *v = &r->v[t];
        int64_t row = v->numel;
        if (n->op == LP_TFL_FULLY_CONNECTED) row = s->g->t[n->in[1]].dims[1];
        else if (v->rank == 4 && v->dims[0] > 0) row = v->numel / v->dims[0];
        if (row <= 0) return LP_OK;
        for (int64_t b = 0; b + row <= v->numel; b += row) {
            float m = 0;
            for (int64_t i = 0; i < row; i++) m = fmaxf(m, fabsf(c[b + i]));
            if (m == 0) continue;
            float sc = m / 127.0f;
            for (int64_t i = 0; i < row; i++) c[b + i] = nearbyintf(c[b + i] / sc) * sc;
        }
        return LP_OK;
    }
    for (int j = 0; j < n->n_in; j++) {
        int t = n->in[j];
        if (!is_act(s->g, t) || t >= p->n_t) continue;
        int req = p->in_requant[node] && p->in_requant[node][j].scale > 0;
        int prod = s->g->t[t].producer;
        int already = prod >= 0 && prod < p->n_n && p->node_int8[prod]; /* rounded after its op */
        if (already && !req) continue;
        float *c;
        LP_Q_TRY(swap_in(s, r, t, &c));
        if (c) fake_buf(c, r->v[t].numel, req ? p->in_requant[node][j] : p->t_p[t]);
    }
    return LP_OK;
}

static lp_status after(void *ud, lp_run *r, int node) {
    sim *s = ud;
    const lp_plan *p = s->p;
    for (int k = 0; k < s->n_sw; k++) {
        lp_value *v = &r->v[s->sw_t[k]];
        free(v->data);
        v->data = s->sw_data[k];
    }
    s->n_sw = 0;
    if (p->mode != LP_QUANTIZE_INT8 || node >= p->n_n || !p->node_int8[node]) return LP_OK;
    const lp_node *n = &s->g->n[node];
    for (int k = 0; k < n->n_out; k++) {
        int t = n->out[k];
        if (is_act(s->g, t) && t < p->n_t && p->t_q[t]) fake_buf(r->v[t].data, r->v[t].numel, p->t_p[t]);
    }
    return LP_OK;
}

static void compare(lp_quant_output *o, const lp_value *ref, const lp_value *got) {
    if (ref->numel != got->numel || ref->dtype != got->dtype) return;
    for (int64_t i = 0; i < ref->numel; i++) {
        double a = lp_get_f64(ref->dtype, ref->data, i), b = lp_get_f64(got->dtype, got->data, i);
        double d = fabs(a - b);
        if (!(d == d)) d = INFINITY;
        if (d > o->max_abs) o->max_abs = d;
        o->sum_abs += d;
        o->sum_sq += d * d;
        o->sum_ref_sq += a * a;
        if (o->n == 0 || a < o->ref_min) o->ref_min = a;
        if (o->n == 0 || a > o->ref_max) o->ref_max = a;
        o->n++;
    }
    /* classifier: [batch, classes] */
    if (ref->rank == 2 && ref->dims[1] >= 2) {
        int64_t C = ref->dims[1];
        for (int64_t b = 0; b < ref->dims[0]; b++) {
            int64_t ia = 0, ib = 0;
            for (int64_t c = 1; c < C; c++) {
                if (lp_get_f64(ref->dtype, ref->data, b * C + c) > lp_get_f64(ref->dtype, ref->data, b * C + ia)) ia = c;
                if (lp_get_f64(got->dtype, got->data, b * C + c) > lp_get_f64(got->dtype, got->data, b * C + ib)) ib = c;
            }
            o->rows++;
            o->top1_same += ia == ib;
        }
    }
}

lp_status lp_q_evaluate(lp_graph *g, const lp_plan *p, lp_dataset *ds, lp_quant_report *rep, lp_err *err) {
    lp_run r0, r1;
    sim s;
    memset(&s, 0, sizeof s);
    s.p = p;
    s.g = g;
    s.err = err;
    memset(&r1, 0, sizeof r1);
    lp_status st = lp_run_init(&r0, g, err);
    if (st == LP_OK) st = lp_run_init(&r1, g, err);
    r1.before = before;
    r1.after = after;
    r1.ud = &s;
    for (int t = 0; t < p->n_t && st == LP_OK; t++)
        if (p->sim_const[t])
            st = lp_run_set_const(&r1, t, p->sim_const[t], sizeof(float) * (size_t)lp_tensor_numel(&g->t[t]));
    rep->n_outs = g->outputs.n;
    rep->outs = calloc((size_t)g->outputs.n + 1, sizeof(lp_quant_output));
    if (!rep->outs && st == LP_OK) st = lp_err_set(err, LP_ERR_NOMEM, "out of memory");
    for (int i = 0; i < g->outputs.n && rep->outs; i++) rep->outs[i].name = g->t[g->outputs.v[i]].name;
    int n = lp_dataset_count(ds);
    for (int k = 0; k < n && st == LP_OK; k++) {
        st = lp_q_feed(&r0, ds, k);
        if (st == LP_OK) st = lp_q_feed(&r1, ds, k);
        /* integer model inputs: the app's values are already rounded */
        for (int i = 0; i < g->inputs.n && st == LP_OK; i++) {
            int t = g->inputs.v[i];
            if (p->mode == LP_QUANTIZE_INT8 && t < p->n_t && p->t_q[t] && is_act(g, t))
                fake_buf(r1.v[t].data, r1.v[t].numel, p->t_p[t]);
        }
        if (st == LP_OK) st = lp_run_invoke(&r0);
        if (st == LP_OK) st = lp_run_invoke(&r1);
        for (int i = 0; i < g->outputs.n && st == LP_OK; i++)
            compare(&rep->outs[i], &r0.v[g->outputs.v[i]], &r1.v[g->outputs.v[i]]);
    }
    lp_run_free(&r0);
    if (r1.g) lp_run_free(&r1);
    return st;
}
