/* Calibration: the float graph runs on every calibration sample and each float32 activation's
 * range is recorded. With a percentile, a second pass fills a 2048-bin histogram per tensor
 * over its min/max range and the range is clipped to the percentile at both ends. */
#include <stdlib.h>
#include <string.h>

#include "qint.h"

#define CALIB_BINS 2048

typedef struct calib {
    lp_range *ranges;
    uint64_t *hist; /* n_t x CALIB_BINS, allocated for the second pass */
    int pass;
} calib;

static int wanted(const lp_graph *g, int t) {
    return t >= 0 && g->t[t].dtype == LP_DT_F32 && !(g->t[t].flags & LP_T_CONST);
}

static void observe(calib *c, lp_run *r, int t) {
    const lp_value *v = &r->v[t];
    const float *x = v->data;
    lp_range *rg = &c->ranges[t];
    if (c->pass == 0) {
        float lo = rg->seen ? rg->lo : INFINITY, hi = rg->seen ? rg->hi : -INFINITY;
        for (int64_t i = 0; i < v->numel; i++) {
            float f = x[i];
            if (f < lo) lo = f;
            if (f > hi) hi = f; /* NaN compares false: ignored */
        }
        if (lo <= hi) {
            rg->lo = lo;
            rg->hi = hi;
            rg->seen = 1;
        }
        return;
    }
    if (!rg->seen || !(rg->hi > rg->lo)) return;
    uint64_t *h = c->hist + (size_t)t * CALIB_BINS;
    float w = (rg->hi - rg->lo) / CALIB_BINS;
    for (int64_t i = 0; i < v->numel; i++) {
        float f = x[i];
        if (!(f == f)) continue;
        int b = (int)((f - rg->lo) / w);
        b = b < 0 ? 0 : b >= CALIB_BINS ? CALIB_BINS - 1 : b;
        h[b]++;
    }
}

static lp_status after(void *ud, lp_run *r, int node) {
    calib *c = ud;
    const lp_node *n = &r->g->n[node];
    for (int k = 0; k < n->n_out; k++)
        if (wanted(r->g, n->out[k])) observe(c, r, n->out[k]);
    return LP_OK;
}

static lp_status run_all(lp_run *r, lp_dataset *ds, calib *c) {
    int n = lp_dataset_count(ds);
    for (int k = 0; k < n; k++) {
        LP_Q_TRY(lp_q_feed(r, ds, k));
        for (int i = 0; i < r->g->inputs.n; i++)
            if (wanted(r->g, r->g->inputs.v[i])) observe(c, r, r->g->inputs.v[i]);
        LP_Q_TRY(lp_run_invoke(r));
    }
    return LP_OK;
}

lp_status lp_calibrate(lp_graph *g, lp_dataset *ds, float percentile, lp_range *ranges, lp_err *err) {
    calib c;
    memset(&c, 0, sizeof c);
    c.ranges = ranges;
    lp_run r;
    lp_status st = lp_run_init(&r, g, err);
    r.after = after;
    r.ud = &c;
    if (st == LP_OK) st = run_all(&r, ds, &c);
    if (st == LP_OK && percentile > 0 && percentile < 100) {
        c.hist = calloc((size_t)g->n_t * CALIB_BINS + 1, sizeof(uint64_t));
        if (!c.hist) st = lp_err_set(err, LP_ERR_NOMEM, "out of memory for calibration histograms");
        c.pass = 1;
        if (st == LP_OK) st = run_all(&r, ds, &c);
        for (int t = 0; t < g->n_t && st == LP_OK; t++) {
            lp_range *rg = &ranges[t];
            if (!rg->seen || !(rg->hi > rg->lo)) continue;
            const uint64_t *h = c.hist + (size_t)t * CALIB_BINS;
            uint64_t total = 0;
            for (int b = 0; b < CALIB_BINS; b++) total += h[b];
            if (!total) continue;
            double tail = (1.0 - percentile / 100.0) * (double)total;
            float w = (rg->hi - rg->lo) / CALIB_BINS;
            /* the lowest bin whose cumulative count passes the tail, and the same from the top */
            uint64_t acc = 0;
            int lo_b = 0, hi_b = CALIB_BINS - 1;
            for (int b = 0; b < CALIB_BINS; b++) {
                acc += h[b];
                if ((double)acc > tail) {
                    lo_b = b;
                    break;
                }
            }
            acc = 0;
            for (int b = CALIB_BINS - 1; b >= 0; b--) {
                acc += h[b];
                if ((double)acc > tail) {
                    hi_b = b;
                    break;
                }
            }
            float lo = rg->lo + w * (float)lo_b, hi = rg->lo + w * (float)(hi_b + 1);
            if (lo < hi) {
                rg->lo = lo > rg->lo ? lo : rg->lo;
                rg->hi = hi < rg->hi ? hi : rg->hi;
            }
        }
    }
    free(c.hist);
    lp_run_free(&r);
    return st;
}
