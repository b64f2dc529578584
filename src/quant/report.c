/* The quantization part of the conversion report. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant.h"

static const char *mode_name(int m) {
    switch (m) {
    case LP_QUANTIZE_FLOAT16: return "float16";
    case LP_QUANTIZE_DYNAMIC: return "dynamic";
    case LP_QUANTIZE_INT8: return "int8";
    default: return "none";
    }
}

static const char *io_name(int io) { return io == LP_IO_INT8 ? "int8" : io == LP_IO_UINT8 ? "uint8" : "float32"; }

void lp_quant_report_free(lp_quant_report *r) {
    lp_buf_free(&r->float_ops);
    lp_buf_free(&r->warnings);
    lp_buf_free(&r->warn_text);
    free(r->outs);
    memset(r, 0, sizeof *r);
}

typedef struct metrics {
    double mean_abs, rms, snr_db, psnr_db, top1;
    int has_top1, finite_snr, finite_psnr;
} metrics;

static metrics metrics_of(const lp_quant_output *o) {
    metrics m;
    memset(&m, 0, sizeof m);
    if (!o->n) return m;
    m.mean_abs = o->sum_abs / (double)o->n;
    m.rms = sqrt(o->sum_sq / (double)o->n);
    /* signal-to-noise of the output, and PSNR with the float output's range as the peak */
    if (o->sum_sq > 0 && o->sum_ref_sq > 0) {
        m.snr_db = 10 * log10(o->sum_ref_sq / o->sum_sq);
        m.finite_snr = 1;
    }
    double peak = o->ref_max - o->ref_min;
    if (m.rms > 0 && peak > 0) {
        m.psnr_db = 20 * log10(peak / m.rms);
        m.finite_psnr = 1;
    }
    if (o->rows) {
        m.has_top1 = 1;
        m.top1 = (double)o->top1_same / (double)o->rows;
    }
    return m;
}

static void json_num(lp_buf *b, double v) {
    if (isfinite(v)) lp_buf_printf(b, "%.6g", v);
    else lp_buf_puts(b, "null");
}

void lp_quant_report_json(const lp_quant_report *r, lp_buf *b) {
    lp_buf_printf(b, "{\"mode\":\"%s\",\"io_type\":\"%s\",\"float_size\":%llu,\"size\":%llu,\"size_ratio\":",
                  mode_name(r->mode), io_name(r->io_type), (unsigned long long)r->float_size, (unsigned long long)r->size);
    json_num(b, r->float_size ? (double)r->size / (double)r->float_size : 0);
    lp_buf_printf(b, ",\"weights_float_bytes\":%llu,\"weights_bytes\":%llu", (unsigned long long)r->const_bytes_float,
                  (unsigned long long)r->const_bytes);
    lp_buf_puts(b, ",\"calibration\":");
    if (r->calib_desc[0]) lp_buf_json_str(b, r->calib_desc);
    else lp_buf_puts(b, "null");
    lp_buf_puts(b, ",\"percentile\":");
    if (r->mode == LP_QUANTIZE_INT8 && r->percentile > 0) json_num(b, r->percentile);
    else lp_buf_puts(b, "null");
    lp_buf_printf(b, ",\"weights_converted\":%d,\"kept_float32\":%d,\"int8_ops\":%d,\"hybrid_ops\":%d,\"float_ops\":",
                  r->n_weights, r->n_kept, r->n_int8_ops, r->n_hybrid_ops);
    if (r->float_ops.len) lp_buf_append(b, r->float_ops.data, r->float_ops.len);
    else lp_buf_puts(b, "{}");
    lp_buf_puts(b, ",\"evaluated_on\":");
    if (r->eval_desc[0]) lp_buf_json_str(b, r->eval_desc);
    else lp_buf_puts(b, "null");
    lp_buf_puts(b, ",\"simulated\":true,\"outputs\":[");
    for (int i = 0; r->eval_desc[0] && i < r->n_outs; i++) {
        const lp_quant_output *o = &r->outs[i];
        metrics m = metrics_of(o);
        lp_buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
        lp_buf_json_str(b, o->name);
        lp_buf_printf(b, ",\"elements\":%lld,\"max_abs_error\":", (long long)o->n);
        json_num(b, o->max_abs);
        lp_buf_puts(b, ",\"mean_abs_error\":");
        json_num(b, m.mean_abs);
        lp_buf_puts(b, ",\"rms_error\":");
        json_num(b, m.rms);
        lp_buf_puts(b, ",\"float_min\":");
        json_num(b, o->ref_min);
        lp_buf_puts(b, ",\"float_max\":");
        json_num(b, o->ref_max);
        lp_buf_puts(b, ",\"snr_db\":");
        if (m.finite_snr) json_num(b, m.snr_db);
        else lp_buf_puts(b, "null");
        lp_buf_puts(b, ",\"psnr_db\":");
        if (m.finite_psnr) json_num(b, m.psnr_db);
        else lp_buf_puts(b, "null");
        if (m.has_top1) {
            lp_buf_puts(b, ",\"top1_agreement\":");
            json_num(b, m.top1);
        }
        lp_buf_puts(b, "}");
    }
    lp_buf_puts(b, "],\"warnings\":[");
    if (r->warnings.len) lp_buf_append(b, r->warnings.data, r->warnings.len);
    lp_buf_puts(b, "]}");
}

void lp_quant_report_text(const lp_quant_report *r, lp_buf *b) {
    lp_buf_printf(b, "  quantized %s", mode_name(r->mode));
    if (r->mode == LP_QUANTIZE_INT8) lp_buf_printf(b, " (inputs/outputs %s)", io_name(r->io_type));
    lp_buf_printf(b, ": %.1f KiB -> %.1f KiB (%.2fx)", (double)r->float_size / 1024, (double)r->size / 1024,
                  r->float_size ? (double)r->size / (double)r->float_size : 0.0);
    lp_buf_printf(b, "; weights %.1f KiB -> %.1f KiB", (double)r->const_bytes_float / 1024, (double)r->const_bytes / 1024);
    if (r->mode == LP_QUANTIZE_INT8) lp_buf_printf(b, ", %d int8 ops, %d float ops", r->n_int8_ops, r->n_float_ops);
    if (r->mode == LP_QUANTIZE_DYNAMIC) lp_buf_printf(b, ", %d hybrid ops", r->n_hybrid_ops);
    if (r->mode == LP_QUANTIZE_FLOAT16) lp_buf_printf(b, ", %d constants in float16", r->n_weights);
    lp_buf_puts(b, "\n");
    if (r->calib_desc[0] && r->mode == LP_QUANTIZE_INT8) {
        lp_buf_printf(b, "  calibrated on %s", r->calib_desc);
        if (r->percentile > 0) lp_buf_printf(b, ", ranges clipped to the %g percentile", r->percentile);
        lp_buf_puts(b, "\n");
    }
    if (r->eval_desc[0]) {
        lp_buf_printf(b, "  error against the float model (simulated) on %s:\n", r->eval_desc);
        for (int i = 0; i < r->n_outs; i++) {
            const lp_quant_output *o = &r->outs[i];
            metrics m = metrics_of(o);
            lp_buf_printf(b, "    %-20s max %.3g, mean %.3g", o->name, o->max_abs, m.mean_abs);
            if (m.finite_snr) lp_buf_printf(b, ", SNR %.1f dB", m.snr_db);
            if (m.finite_psnr) lp_buf_printf(b, ", PSNR %.1f dB", m.psnr_db);
            if (m.has_top1) lp_buf_printf(b, ", top-1 agreement %.2f%%", 100 * m.top1);
            lp_buf_puts(b, "\n");
        }
    }
}
