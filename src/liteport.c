/* The driver: import, passes, write, report. Implements include/liteport.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "liteport.h"
#include "android.h"
#include "onnx/onnx.h"
#include "passes/passes.h"
#include "quant/quant.h"
#include "tflite/tflite.h"

struct lp_converter {
    lp_options opt;
    char *dump_after;
    char *input_shapes;
    char *strs[9];      /* copies of the metadata option strings */
    char *calibration, *eval_data; /* copies of the quantization option strings */
    const char *run_data, *run_out; /* lp_run_file: samples to run and the folder for outputs */
    lp_err err;
    lp_buf report;
    lp_buf text;
    lp_buf dump;
    uint8_t *out_mem;
    size_t out_size;
};

/* I/O facts recorded before the layout pass changes anything */
typedef struct io_snap {
    int tensor;
    lp_dtype dtype;
    int rank;
    int64_t dims[LP_MAX_RANK];
} io_snap;

const char *lp_status_name(lp_status s) {
    static const char *const names[LP_STATUS_COUNT] = {
        "ok", "i/o error", "parse error", "invalid model", "unsupported", "limit exceeded", "out of memory",
        "internal error"};
    return (unsigned)s < LP_STATUS_COUNT ? names[s] : "unknown status";
}

static char *dupstr(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    if (p) memcpy(p, s, n + 1);
    return p;
}

lp_converter *lp_converter_new(const lp_options *opt) {
    lp_converter *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    if (opt) c->opt = *opt;
    c->dump_after = dupstr(c->opt.dump_after);
    c->input_shapes = dupstr(c->opt.input_shapes);
    c->calibration = dupstr(c->opt.calibration);
    c->eval_data = dupstr(c->opt.eval_data);
    if ((c->opt.dump_after && !c->dump_after) || (c->opt.input_shapes && !c->input_shapes) ||
        (c->opt.calibration && !c->calibration) || (c->opt.eval_data && !c->eval_data)) {
        lp_converter_free(c);
        return NULL;
    }
    c->opt.dump_after = c->dump_after;
    c->opt.input_shapes = c->input_shapes;
    const char **fields[9] = {&c->opt.model_name,  &c->opt.model_description, &c->opt.model_version,
                              &c->opt.model_author, &c->opt.model_license,    &c->opt.image_input,
                              &c->opt.labels_file,  &c->opt.labels_output,    NULL};
    for (int i = 0; fields[i]; i++) {
        if (!*fields[i]) continue;
        c->strs[i] = dupstr(*fields[i]);
        if (!c->strs[i]) {
            lp_converter_free(c);
            return NULL;
        }
        *fields[i] = c->strs[i];
    }
    c->opt.calibration = c->calibration;
    c->opt.eval_data = c->eval_data;
    return c;
}

void lp_converter_free(lp_converter *c) {
    if (!c) return;
    free(c->dump_after);
    free(c->input_shapes);
    for (int i = 0; i < 9; i++) free(c->strs[i]);
    free(c->calibration);
    free(c->eval_data);
    lp_buf_free(&c->report);
    lp_buf_free(&c->text);
    lp_buf_free(&c->dump);
    free(c->out_mem);
    free(c);
}

const char *lp_converter_message(const lp_converter *c) { return c->err.msg; }
lp_status lp_converter_status(const lp_converter *c) { return c->err.code; }
const char *lp_converter_report_json(const lp_converter *c) { return c->report.len ? c->report.data : "{}"; }
const char *lp_converter_report_text(const lp_converter *c) { return c->text.len ? c->text.data : ""; }
const char *lp_converter_dump(const lp_converter *c) { return c->dump.len ? c->dump.data : ""; }

static void reset(lp_converter *c) {
    lp_err_clear(&c->err);
    lp_buf_free(&c->report);
    lp_buf_free(&c->text);
    lp_buf_free(&c->dump);
    free(c->out_mem);
    c->out_mem = NULL;
    c->out_size = 0;
}

/* ---------------- input shape overrides ---------------- */

static lp_status apply_overrides(lp_converter *cv, lp_graph *g) {
    if (cv->opt.fix_batch < 0) return lp_err_set(&cv->err, LP_ERR_INVALID, "batch must be positive");
    if (cv->opt.fix_batch > 0)
        for (int i = 0; i < g->inputs.n; i++) {
            lp_tensor *t = &g->t[g->inputs.v[i]];
            if (t->rank > 0 && t->dims[0] >= 0 && t->dims[0] != cv->opt.fix_batch)
                return lp_err_set(&cv->err, LP_ERR_INVALID,
                                  "input '%s' has a fixed batch of %lld in the model; --batch %d cannot change it",
                                  t->name, (long long)t->dims[0], cv->opt.fix_batch);
            if (t->rank > 0 && t->dims[0] < 0) {
                int64_t sym = t->dims[0];
                /* every dimension carrying the same symbol is the same batch */
                for (int k = 0; k < g->n_t; k++)
                    for (int d = 0; d < g->t[k].rank; d++)
                        if (g->t[k].dims[d] == sym) g->t[k].dims[d] = cv->opt.fix_batch;
            }
        }
    const char *s = cv->opt.input_shapes;
    while (s && *s) {
        const char *end = strchr(s, ';');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        const char *colon = memchr(s, ':', len);
        if (!colon)
            return lp_err_set(&cv->err, LP_ERR_INVALID, "input shape '%.*s' must look like name:1,3,224,224", (int)len,
                              s);
        size_t nlen = (size_t)(colon - s);
        int found = -1;
        for (int i = 0; i < g->inputs.n; i++) {
            const char *nm = g->t[g->inputs.v[i]].name;
            if (strlen(nm) == nlen && memcmp(nm, s, nlen) == 0) found = g->inputs.v[i];
        }
        if (found < 0)
            return lp_err_set(&cv->err, LP_ERR_INVALID, "input shape given for '%.*s', which is not a model input",
                              (int)nlen, s);
        int64_t dims[LP_MAX_RANK];
        int rank = 0;
        const char *p = colon + 1, *stop = s + len;
        while (p < stop) {
            char *e;
            long long v = strtoll(p, &e, 10);
            if (e == p || v <= 0 || v > INT32_MAX || rank == LP_MAX_RANK)
                return lp_err_set(&cv->err, LP_ERR_INVALID, "bad dimension list in input shape '%.*s'", (int)len, s);
            dims[rank++] = v;
            p = e;
            if (p < stop && *p == ',') p++;
            else if (p < stop)
                return lp_err_set(&cv->err, LP_ERR_INVALID, "bad dimension list in input shape '%.*s'", (int)len, s);
        }
        lp_tensor *t = &g->t[found];
        if (t->rank >= 0 && t->rank != rank)
            return lp_err_set(&cv->err, LP_ERR_INVALID, "input '%s' has rank %d; the given shape has %d dimensions",
                              t->name, t->rank, rank);
        for (int d = 0; d < rank; d++) {
            if (t->rank >= 0 && t->dims[d] >= 0 && t->dims[d] != dims[d])
                return lp_err_set(&cv->err, LP_ERR_INVALID,
                                  "input '%s' dimension %d is already fixed at %lld (by the model%s); cannot set it to %lld",
                                  t->name, d, (long long)t->dims[d], (d == 0 && cv->opt.fix_batch) ? " or --batch" : "",
                                  (long long)dims[d]);
        }
        for (int d = 0; d < rank; d++) {
            if (t->rank >= 0 && t->dims[d] < 0) {
                int64_t sym = t->dims[d];
                for (int k = 0; k < g->n_t; k++)
                    for (int e2 = 0; e2 < g->t[k].rank; e2++)
                        if (g->t[k].dims[e2] == sym) g->t[k].dims[e2] = dims[d];
            }
        }
        const char *bad = lp_dims_check(g, rank, dims);
        if (bad) return lp_err_set(&cv->err, LP_ERR_LIMIT, "input shape '%.*s' has %s", (int)len, s, bad);
        t->rank = rank;
        for (int d = 0; d < rank; d++) t->dims[d] = dims[d];
        s = end ? end + 1 : NULL;
    }
    /* the sizes given replace symbols everywhere: every tensor must still be within the limits */
    for (int k = 0; k < g->n_t && (cv->opt.fix_batch || cv->opt.input_shapes); k++) {
        const char *bad = g->t[k].rank > 0 ? lp_dims_check(g, g->t[k].rank, g->t[k].dims) : NULL;
        if (bad)
            return lp_err_set(&cv->err, LP_ERR_LIMIT, "with the sizes given, tensor '%s' would have %s", g->t[k].name,
                              bad);
    }
    return LP_OK;
}

/* ---------------- report ---------------- */

static void json_dims(lp_buf *b, const lp_graph *g, int rank, const int64_t *dims, int symbolic) {
    lp_buf_puts(b, "[");
    for (int i = 0; i < rank; i++) {
        if (i) lp_buf_puts(b, ",");
        if (dims[i] >= 0) {
            lp_buf_printf(b, "%lld", (long long)dims[i]);
        } else if (symbolic) {
            const char *nm = dims[i] >= -(int64_t)g->n_sym ? g->sym_names[-dims[i]] : NULL;
            lp_buf_json_str(b, nm ? nm : "?");
        } else {
            lp_buf_puts(b, "-1");
        }
    }
    lp_buf_puts(b, "]");
}

static void json_io(lp_buf *b, const lp_graph *g, const io_snap *snap, const lp_ivec *io) {
    int n = io->n;
    lp_buf_puts(b, "[");
    for (int i = 0; i < n; i++) {
        const lp_tensor *t = &g->t[io->v[i]]; /* the tensor may have been replaced (layout) */
        if (i) lp_buf_puts(b, ",");
        lp_buf_puts(b, "{\"name\":");
        lp_buf_json_str(b, t->name);
        lp_buf_printf(b, ",\"dtype\":\"%s\",\"onnx_shape\":", lp_dtype_name(snap[i].dtype));
        json_dims(b, g, snap[i].rank, snap[i].dims, 1);
        lp_buf_printf(b, ",\"tflite_dtype\":\"%s\",\"shape\":", lp_dtype_name(t->dtype));
        json_dims(b, g, t->rank, t->dims, 0);
        lp_buf_printf(b, ",\"layout_changed\":%s", t->has_io_perm ? "true" : "false");
        if (t->q && t->q->n == 1) /* an integer input or output of a quantized model */
            lp_buf_printf(b, ",\"quantization\":{\"scale\":%.9g,\"zero_point\":%lld}", t->q->scale[0],
                          (long long)t->q->zero_point[0]);
        if (t->has_io_perm) {
            lp_buf_puts(b, ",\"perm\":[");
            for (int d = 0; d < t->rank; d++) lp_buf_printf(b, "%s%d", d ? "," : "", t->io_perm[d]);
            lp_buf_puts(b, "]");
        }
        lp_buf_puts(b, "}");
    }
    lp_buf_puts(b, "]");
}

typedef struct histo {
    lp_op op;
    int count;
} histo;

static int histo_build(const lp_graph *g, int tfl, histo *h) {
    int n = 0;
    for (int i = 0; i < g->n_n; i++) {
        const lp_node *nd = &g->n[i];
        if (nd->dead || lp_op_is_tfl(nd->op) != tfl) continue;
        int k;
        for (k = 0; k < n; k++)
            if (h[k].op == nd->op) break;
        if (k == n) {
            h[n].op = nd->op;
            h[n].count = 0;
            n++;
        }
        h[k].count++;
    }
    /* most frequent first */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && h[j].count > h[j - 1].count; j--) {
            histo t = h[j];
            h[j] = h[j - 1];
            h[j - 1] = t;
        }
    return n;
}

static void json_histo(lp_buf *b, const histo *h, int n) {
    lp_buf_puts(b, "{");
    for (int i = 0; i < n; i++) lp_buf_printf(b, "%s\"%s\":%d", i ? "," : "", lp_op_name(h[i].op), h[i].count);
    lp_buf_puts(b, "}");
}

static int count_nodes(const lp_graph *g) {
    int n = 0;
    for (int i = 0; i < g->n_n; i++) n += !g->n[i].dead;
    return n;
}

static void text_io(lp_buf *b, const lp_graph *g, const io_snap *snap, const lp_ivec *io, const char *what) {
    for (int i = 0; i < io->n; i++) {
        const lp_tensor *t = &g->t[io->v[i]];
        lp_tensor tmp = *t;
        tmp.rank = snap[i].rank;
        memcpy(tmp.dims, snap[i].dims, sizeof tmp.dims);
        char a[200], c2[200];
        lp_shape_str(g, &tmp, a, sizeof a);
        lp_shape_str(g, t, c2, sizeof c2);
        lp_buf_printf(b, "  %s %-20s %s %s", what, t->name, lp_dtype_name(t->dtype), c2);
        if (t->has_io_perm) {
            lp_buf_printf(b, "  (channels-last; ONNX %s, perm ", a);
            for (int d = 0; d < t->rank; d++) lp_buf_printf(b, "%s%d", d ? "," : "", t->io_perm[d]);
            lp_buf_puts(b, ")");
        } else {
            lp_buf_puts(b, "  (ONNX layout)");
        }
        lp_buf_puts(b, "\n");
    }
}

/* ---------------- the pipeline ---------------- */

typedef struct sink {
    lp_outfile *file;
    uint8_t *mem;
    size_t at;
} sink;

static int sink_write(void *ud, const void *p, size_t n) {
    sink *s = ud;
    if (s->file) {
        lp_outfile_write(s->file, p, n);
        return !s->file->failed;
    }
    memcpy(s->mem + s->at, p, n);
    s->at += n;
    return 1;
}

/* The graph arena's bound: LP_ARENA_BASE + LP_ARENA_PER_BYTE x (model + external data bytes).
 * Legitimate work (permuted weights, casts, folded constants) stays well inside it; a file whose
 * declared sizes would make us build far more than its own data is refused instead. */
static size_t arena_limit(size_t size, const lp_onnx_import *imp) {
    uint64_t in = size;
    for (int i = 0; i < imp->n_ext; i++) in += imp->ext[i].size;
    uint64_t lim = (uint64_t)LP_ARENA_BASE + (uint64_t)LP_ARENA_PER_BYTE * in;
    return lim > (uint64_t)SIZE_MAX / 2 ? SIZE_MAX / 2 : (size_t)lim;
}

/* "out of memory" that was really the arena's bound: say so (the node prefix stays) */
static void explain_limit(lp_err *err, const lp_graph *g) {
    if (!g || !g->arena.hit_limit || err->code != LP_ERR_NOMEM) return;
    char *at = strstr(err->msg, "out of memory");
    char tail[sizeof err->msg];
    snprintf(tail, sizeof tail, "the model needs more working memory than liteport allows for its size (%zu MiB)",
             g->arena.limit >> 20);
    if (at) *at = 0;
    char head[sizeof err->msg];
    snprintf(head, sizeof head, "%s", err->msg);
    lp_err_clear(err);
    lp_err_set(err, LP_ERR_LIMIT, "%s%s", head, tail);
}

static lp_status convert(lp_converter *cv, const uint8_t *data, size_t size, const char *base_dir,
                         const char *src_name, const char *out_path) {
    double t0 = lp_now();
    reset(cv);
    lp_err *err = &cv->err;
    lp_graph *g = lp_graph_new(err);
    if (!g) return lp_err_set(err, LP_ERR_NOMEM, "out of memory");
    lp_onnx_import imp = {0};
    lp_tflite_out fb = {0};
    io_snap *snap_in = NULL, *snap_out = NULL;
    histo *h_onnx = NULL, *h_tfl = NULL;
    int n_h_onnx = 0, onnx_nodes = 0;
    lp_android android;
    memset(&android, 0, sizeof android);
    g->arena.limit = arena_limit(size, &imp);
    lp_status st = lp_onnx_import(g, data, size, base_dir, &imp);
    g->arena.limit = arena_limit(size, &imp); /* with the external data now mapped */
    if (st == LP_OK) st = lp_graph_toposort(g);
    if (st == LP_OK) st = apply_overrides(cv, g);
    if (st == LP_OK) st = lp_android_prepare(&android, &cv->opt, g, src_name, err);
    if (st == LP_OK) {
        h_onnx = malloc(sizeof(histo) * (size_t)(g->n_n + 1));
        snap_in = malloc(sizeof(io_snap) * (size_t)(g->inputs.n + 1));
        snap_out = malloc(sizeof(io_snap) * (size_t)(g->outputs.n + 1));
        if (!h_onnx || !snap_in || !snap_out) st = lp_err_set(err, LP_ERR_NOMEM, "out of memory");
    }
    if (st == LP_OK) {
        n_h_onnx = histo_build(g, 0, h_onnx);
        onnx_nodes = count_nodes(g);
    }
    lp_ctx ctx = {0};
    ctx.g = g;
    ctx.err = err;
    ctx.opt = &android.opt; /* cv->opt with the image input resolved (android.c) */
    for (int p = 0; p < lp_n_passes && st == LP_OK; p++) {
        const lp_pass *ps = &lp_passes[p];
        if ((ps->optional == 1 && cv->opt.no_fusions) || (ps->optional == 2 && cv->opt.no_layout_pass)) continue;
        ctx.pass = ps->name;
        st = ps->run(&ctx);
        if (st == LP_OK && err->code != LP_OK) st = err->code;
        if (st == LP_OK) st = lp_graph_toposort(g);
        if (st == LP_OK) st = lp_graph_verify(g, ps->name);
        if (st == LP_ERR_INTERNAL && cv->opt.dump_after) {
            /* show the broken IR: the point of asking for a dump */
            lp_buf_printf(&cv->dump, "=== after %s (failed verification) ===\n", ps->name);
            lp_graph_dump(g, &cv->dump);
        }
        if (st == LP_OK && strcmp(ps->name, "infer") == 0) {
            for (int i = 0; i < g->inputs.n; i++) {
                const lp_tensor *t = &g->t[g->inputs.v[i]];
                snap_in[i].tensor = g->inputs.v[i];
                snap_in[i].dtype = t->dtype;
                snap_in[i].rank = t->rank;
                memcpy(snap_in[i].dims, t->dims, sizeof t->dims);
            }
            for (int i = 0; i < g->outputs.n; i++) {
                const lp_tensor *t = &g->t[g->outputs.v[i]];
                snap_out[i].tensor = g->outputs.v[i];
                snap_out[i].dtype = t->dtype;
                snap_out[i].rank = t->rank;
                memcpy(snap_out[i].dims, t->dims, sizeof t->dims);
            }
        }
        if (st == LP_OK && cv->opt.dump_after &&
            (strcmp(cv->opt.dump_after, "all") == 0 || strcmp(cv->opt.dump_after, ps->name) == 0)) {
            lp_buf_printf(&cv->dump, "=== after %s ===\n", ps->name);
            lp_graph_dump(g, &cv->dump);
        }
    }
    if (st == LP_OK && cv->opt.dump_after && !cv->dump.len) {
        int known = strcmp(cv->opt.dump_after, "all") == 0;
        for (int p = 0; p < lp_n_passes; p++) known |= strcmp(cv->opt.dump_after, lp_passes[p].name) == 0;
        if (!known) {
            char names[512] = "";
            for (int p = 0; p < lp_n_passes; p++) {
                size_t l = strlen(names);
                snprintf(names + l, sizeof names - l, "%s%s", p ? ", " : "", lp_passes[p].name);
            }
            st = lp_err_set(err, LP_ERR_INVALID, "--dump-after: no pass is called '%s' (passes: %s, or all)",
                            cv->opt.dump_after, names);
        }
    }
    /* the reference interpreter and the quantizer read constants directly: lazily transformed
     * weights (src/ir/lazy.c) are computed now */
    for (int i = 0; st == LP_OK && (cv->run_out || cv->opt.quantize) && i < g->n_t; i++)
        if (g->t[i].lazy && !lp_tensor_bytes(g, i)) st = g->err->code;
    lp_quant_report qrep;
    memset(&qrep, 0, sizeof qrep);
    lp_buf run_json = {0};
    if (st == LP_OK && cv->run_out) {
        st = lp_run_samples(g, &cv->opt, cv->run_data, cv->run_out, err, &run_json);
    } else if (st == LP_OK && cv->opt.quantize) {
        /* the float model's size first, for the report */
        lp_tflite_out ffb;
        lp_tflite_info finfo;
        st = lp_tflite_build(g, &ffb, 0, NULL, 0, &finfo);
        qrep.float_size = ffb.size;
        lp_tflite_out_free(&ffb);
        if (st == LP_OK) st = lp_quantize(g, &cv->opt, err, &qrep);
        if (st == LP_OK) st = lp_graph_verify(g, "quantize");
    }
    lp_tflite_info info;
    memset(&info, 0, sizeof info);
    if (st == LP_OK && !cv->run_out) st = lp_android_metadata(&android, g, err);
    if (st == LP_OK && !cv->run_out)
        st = lp_tflite_build(g, &fb, cv->opt.weights_outside, android.meta, android.meta_size, &info);
    if (st == LP_OK && !cv->run_out) st = lp_android_files(&android, fb.size, err);
    uint64_t out_size = cv->run_out ? 0 : fb.size + android.zip_size; /* associated files follow the model */
    qrep.size = out_size;
    double ms = (lp_now() - t0) * 1000.0;
    if (st == LP_OK) {
        h_tfl = malloc(sizeof(histo) * (size_t)(g->n_n + 1));
        if (!h_tfl) st = lp_err_set(err, LP_ERR_NOMEM, "out of memory");
    }
    if (st == LP_OK) {
        int n_h_tfl = histo_build(g, 1, h_tfl);
        int transposes = 0, n_ops = 0;
        for (int i = 0; i < n_h_tfl; i++) {
            if (h_tfl[i].op == LP_TFL_TRANSPOSE) transposes = h_tfl[i].count;
            n_ops += h_tfl[i].count;
        }
        /* a run writes no flatbuffer: its op count is the graph's */
        if (cv->run_out) info.n_ops = n_ops;
        lp_buf *b = &cv->report;
        lp_buf_puts(b, "{\"input\":");
        lp_buf_json_str(b, src_name);
        lp_buf_puts(b, ",\"output\":");
        if (out_path) lp_buf_json_str(b, out_path);
        else lp_buf_puts(b, "null");
        lp_buf_printf(b,
                      ",\"output_size\":%llu,\"weights_outside\":%s,\"time_ms\":%.3f,\"opset\":%d,"
                      "\"ir_version\":%lld,\"producer\":",
                      (unsigned long long)out_size, fb.outside ? "true" : "false", ms, g->opset,
                      (long long)imp.ir_version);
        lp_buf_json_str(b, imp.producer ? imp.producer : "");
        lp_buf_puts(b, ",\"inputs\":");
        json_io(b, g, snap_in, &g->inputs);
        lp_buf_puts(b, ",\"outputs\":");
        json_io(b, g, snap_out, &g->outputs);
        lp_buf_puts(b, ",\"onnx_ops\":");
        json_histo(b, h_onnx, n_h_onnx);
        lp_buf_printf(b, ",\"n_onnx_nodes\":%d,\"tflite_ops\":", onnx_nodes);
        json_histo(b, h_tfl, n_h_tfl);
        lp_buf_printf(b,
                      ",\"n_tflite_ops\":%d,\"transposes\":%d,\"n_tensors\":%d,\"n_buffers\":%d,"
                      "\"shared_buffers\":%d,\"min_runtime_version\":\"%s\"",
                      info.n_ops, transposes, info.n_tensors, info.n_buffers, info.n_dedup, info.min_runtime);
        if (cv->opt.quantize && !cv->run_out) {
            lp_buf_puts(b, ",\"quantization\":");
            lp_quant_report_json(&qrep, b);
        }
        if (cv->run_out) {
            lp_buf_puts(b, ",\"run\":");
            lp_buf_append(b, run_json.data, run_json.len);
        }
        lp_buf_puts(b, ",\"warnings\":[");
        char warn[600];
        int n_warn = 0;
        if (!cv->run_out && lp_android_warning(&android, g, warn, sizeof warn)) {
            lp_buf_json_str(b, warn);
            n_warn++;
        }
        if (qrep.warnings.len) {
            if (n_warn) lp_buf_puts(b, ",");
            lp_buf_append(b, qrep.warnings.data, qrep.warnings.len);
        }
        lp_buf_puts(b, "]");
        lp_buf_puts(b, ",\"metadata\":");
        lp_android_report_json(&android, g, b);
        lp_buf_puts(b, "}");

        lp_buf *t = &cv->text;
        lp_buf_printf(t, "%s -> %s\n", src_name, out_path ? out_path : "(memory)");
        text_io(t, g, snap_in, &g->inputs, "input ");
        text_io(t, g, snap_out, &g->outputs, "output");
        lp_buf_printf(t, "  ONNX nodes %d (opset %d) -> TFLite ops %d, TRANSPOSE %d\n  ", onnx_nodes, g->opset,
                      info.n_ops, transposes);
        for (int i = 0; i < n_h_tfl; i++) lp_buf_printf(t, "%s%s %d", i ? ", " : "", lp_op_name(h_tfl[i].op), h_tfl[i].count);
        if (cv->run_out)
            lp_buf_printf(t, "\n  ran the reference interpreter, outputs in %s, %.1f ms\n", cv->run_out, ms);
        else
            lp_buf_printf(t, "\n  size %.1f KiB%s, %.1f ms\n", (double)out_size / 1024.0,
                          fb.outside ? " (weights after the flatbuffer)" : "", ms);
        if (!cv->run_out) lp_android_report_text(&android, g, t);
        if (cv->opt.quantize && !cv->run_out) lp_quant_report_text(&qrep, t);
        if (qrep.warn_text.len) {
            const char *w = lp_buf_cstr(&qrep.warn_text);
            while (*w) {
                const char *e = strchr(w, '\n');
                size_t len = e ? (size_t)(e - w) : strlen(w);
                lp_buf_printf(t, "  warning: %.*s\n", (int)len, w);
                w += len + (e ? 1 : 0);
            }
        }
        if (b->failed || t->failed) st = lp_err_set(err, LP_ERR_NOMEM, "out of memory writing the report");
    }
    lp_quant_report_free(&qrep);
    lp_buf_free(&run_json);
    /* the output is written last: a failure anywhere before leaves no file */
    if (st == LP_OK && !cv->run_out) {
        sink s = {0};
        lp_outfile of;
        if (out_path) {
            st = lp_outfile_open(&of, out_path, err);
            if (st == LP_OK) {
                s.file = &of;
                if (!lp_tflite_emit(&fb, sink_write, &s) || (android.zip_size && !sink_write(&s, android.zip, android.zip_size))) {
                    lp_outfile_abort(&of);
                    st = lp_err_set(err, LP_ERR_IO, "cannot write output '%s'", out_path);
                } else {
                    st = lp_outfile_commit(&of, err);
                }
            }
        } else {
            s.mem = malloc((size_t)out_size ? (size_t)out_size : 1);
            if (!s.mem) {
                st = lp_err_set(err, LP_ERR_NOMEM, "out of memory for the %llu-byte output",
                                (unsigned long long)out_size);
            } else {
                lp_tflite_emit(&fb, sink_write, &s);
                if (android.zip_size) sink_write(&s, android.zip, android.zip_size);
                cv->out_mem = s.mem;
                cv->out_size = (size_t)out_size;
            }
        }
    }
    if (st != LP_OK) {
        if (err->code == LP_OK) lp_err_set(err, st, "conversion failed");
        explain_limit(err, g);
        st = err->code;
        lp_err_prefix(err, "%s: ", src_name);
        lp_buf_free(&cv->report);
        lp_buf_free(&cv->text);
        free(cv->out_mem);
        cv->out_mem = NULL;
        cv->out_size = 0;
    }
    free(h_onnx);
    free(h_tfl);
    free(snap_in);
    free(snap_out);
    lp_tflite_out_free(&fb);
    lp_android_free(&android);
    lp_graph_free(g);
    lp_onnx_import_free(&imp);
    return st;
}

lp_status lp_convert_file(lp_converter *c, const char *onnx_path, const char *out_path) {
    reset(c);
    if (out_path && lp_same_file(onnx_path, out_path))
        return lp_err_set(&c->err, LP_ERR_IO, "%s: the output path names the input model; choose another output",
                          onnx_path);
    lp_map m;
    lp_status st = lp_map_open(&m, onnx_path, &c->err);
    if (st != LP_OK) return st;
    lp_arena a;
    lp_arena_init(&a);
    char *dir = lp_path_dir(&a, onnx_path);
    if (!dir) st = lp_err_set(&c->err, LP_ERR_NOMEM, "out of memory");
    else st = convert(c, m.data, m.size, dir, onnx_path, out_path);
    lp_arena_free(&a);
    lp_map_close(&m);
    return st;
}

lp_status lp_run_file(lp_converter *c, const char *onnx_path, const char *data_path, const char *out_dir) {
    reset(c);
    if (!data_path || !out_dir) return lp_err_set(&c->err, LP_ERR_INVALID, "running a model needs data and an output folder");
    c->run_data = data_path;
    c->run_out = out_dir;
    lp_status st = lp_convert_file(c, onnx_path, NULL);
    c->run_data = c->run_out = NULL;
    return st;
}

lp_status lp_convert_buffer(lp_converter *c, const void *data, size_t size, const char *base_dir, const void **out,
                            size_t *out_size) {
    lp_status st = convert(c, data, size, base_dir, "<memory>", NULL);
    *out = st == LP_OK ? c->out_mem : NULL;
    *out_size = st == LP_OK ? c->out_size : 0;
    return st;
}

lp_status lp_convert_buffer_to_file(lp_converter *c, const void *data, size_t size, const char *base_dir,
                                    const char *out_path) {
    return convert(c, data, size, base_dir, "<memory>", out_path);
}
