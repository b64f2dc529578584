/* quant: float16, dynamic-range int8 and full-integer int8 versions of the lowered graph, and
 * the sample data they are calibrated and measured on.
 *
 * Runs after the last pass, on the graph the writer turns into the .tflite file (TFLite ops,
 * channels-last, fusions done). Calibration and the error report use the reference interpreter
 * in ../run: the float graph runs on the calibration samples (activation ranges per tensor), and
 * the report compares the float graph with a simulation of the quantized one (weights and
 * activations rounded to their quantized values) on the evaluation samples. */
#ifndef LP_QUANT_H
#define LP_QUANT_H

#include "../ir/ir.h"

typedef struct lp_quant_output {
    const char *name;
    int64_t n;             /* elements compared */
    double max_abs, sum_abs, sum_sq, sum_ref_sq;
    double ref_min, ref_max;
    int64_t rows, top1_same; /* classifier outputs ([batch, classes]): rows and agreeing arg-maxes */
} lp_quant_output;

typedef struct lp_quant_report {
    int mode;                 /* lp_quantize_mode */
    int io_type;              /* lp_io_type */
    float percentile;
    char calib_desc[600];     /* "200 samples from DIR" ("" when none) */
    char eval_desc[600];      /* what the errors were measured on ("" when not measured) */
    int n_int8_ops, n_float_ops, n_hybrid_ops;
    int n_weights;            /* weight tensors converted */
    int n_kept;               /* float16: constants kept in float32 (out of range) */
    lp_buf float_ops;         /* JSON object {"OP": count} of ops left in float32 (int8 mode) */
    lp_quant_output *outs;
    int n_outs;
    lp_buf warnings;          /* JSON strings, comma-separated */
    lp_buf warn_text;         /* the same, one per line */
    int n_warnings;
    uint64_t float_size, size; /* .tflite bytes before and after (set by the driver) */
    uint64_t const_bytes_float, const_bytes; /* bytes of constants (weights) before and after */
} lp_quant_report;

void lp_quant_report_free(lp_quant_report *r);
/* the "quantization" object of the JSON report / lines of the text report */
void lp_quant_report_json(const lp_quant_report *r, lp_buf *b);
void lp_quant_report_text(const lp_quant_report *r, lp_buf *b);

/* Rewrite g (lowered, TFLite ops) as opt->quantize asks; fills rep. */
lp_status lp_quantize(lp_graph *g, const lp_options *opt, lp_err *err, lp_quant_report *rep);

/* `liteport run`: run g in the reference interpreter on every sample at data_path and write
 * out_dir/<output>.npy (ONNX layout, samples stacked along the first axis). Appends a short JSON
 * object to json. */
lp_status lp_run_samples(lp_graph *g, const lp_options *opt, const char *data_path, const char *out_dir, lp_err *err,
                         lp_buf *json);

#endif
