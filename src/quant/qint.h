/* quant: what its files share (not a public interface). */
#ifndef LP_QINT_H
#define LP_QINT_H

#include <math.h>

#include "../run/run.h"
#include "data.h"
#include "quant.h"

#define LP_Q_TRY(expr)                         \
    do {                                       \
        lp_status lp_q_st_ = (expr);           \
        if (lp_q_st_ != LP_OK) return lp_q_st_; \
    } while (0)

/* samples.c */
lp_status lp_q_data_opts(const lp_options *opt, lp_data_opts *o, lp_err *err);
/* load sample k into the run's inputs (after lp_run_reset) */
lp_status lp_q_feed(lp_run *r, lp_dataset *ds, int k);

/* calib.c: per-tensor activation ranges of the float graph over a data set */
typedef struct lp_range {
    float lo, hi;  /* min / max seen (or clipped by the percentile) */
    int seen;
} lp_range;
/* ranges[t] for every tensor of g (float32 activations; others untouched) */
lp_status lp_calibrate(lp_graph *g, lp_dataset *ds, float percentile, lp_range *ranges, lp_err *err);

/* the plan of a quantized graph, made before the graph is rewritten, so that the report can
 * simulate it on the float graph */
typedef struct lp_qp {
    float scale;
    int64_t zp;
} lp_qp;

typedef struct lp_plan {
    int mode;            /* lp_quantize_mode */
    int n_t, n_n;        /* sizes of the float graph the plan refers to */
    char *node_int8;     /* int8 mode: node runs in int8; dynamic: hybrid node */
    int *node_base;      /* int8 shared-parameter ops: the output whose parameters they share */
    char *t_q;           /* tensor has int8 parameters (activation) */
    lp_qp *t_p;          /* its parameters */
    /* per node and input: a requantization (the input keeps its own parameters, the op needs others) */
    lp_qp **in_requant;  /* in_requant[node][j].scale > 0 when needed (NULL rows for most nodes) */
    /* constants rewritten for the simulation: tensor id -> float32 values as the quantized model
     * represents them (weights after rounding, biases on their int32 grid, float16 round trips) */
    float **sim_const;
    /* dynamic mode: hybrid nodes quantize their input per batch row */
} lp_plan;

void lp_plan_free(lp_plan *p);

/* eval.c: compare the float graph with the plan's simulation on a data set */
lp_status lp_q_evaluate(lp_graph *g, const lp_plan *p, lp_dataset *ds, lp_quant_report *rep, lp_err *err);

/* float <-> int8 */
static inline float lp_q_fake(float x, lp_qp p, int lo, int hi) {
    float q = nearbyintf(x / p.scale) + (float)p.zp;
    q = q < (float)lo ? (float)lo : q > (float)hi ? (float)hi : q;
    return p.scale * (q - (float)p.zp);
}

#endif
