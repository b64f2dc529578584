/* Options for Android apps: metadata, image input, labels. See android.h and docs/android.md. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "android.h"
#include "passes/passes.h"
#include "tflite/metadata.h"

#define MAX_LABELS_BYTES ((size_t)64 << 20)
#define MAX_LABELS 1000000
#define MAX_META_STRING 65536

void lp_android_free(lp_android *a) {
    free(a->labels);
    free(a->meta);
    free(a->zip);
    memset(a, 0, sizeof *a);
}

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
#if defined(_WIN32)
    const char *bs = strrchr(path, '\\');
    if (bs && (!s || bs > s)) s = bs;
#endif
    return s ? s + 1 : path;
}

static lp_status check_string(const char *what, const char *s, lp_err *err) {
    if (!s) return LP_OK;
    size_t n = strlen(s);
    if (n > MAX_META_STRING) return lp_err_set(err, LP_ERR_LIMIT, "%s is longer than %d bytes", what, MAX_META_STRING);
    if (!lp_utf8_valid(s, n)) return lp_err_set(err, LP_ERR_INVALID, "%s is not valid UTF-8", what);
    return LP_OK;
}

static void list_names(const lp_graph *g, const lp_ivec *io, char *buf, size_t n) {
    buf[0] = 0;
    for (int i = 0; i < io->n; i++) {
        size_t l = strlen(buf);
        snprintf(buf + l, n - l, "%s'%.100s'", i ? ", " : "", g->t[io->v[i]].name);
    }
}

/* Labels: UTF-8 text, one label per line ("\n" or "\r\n"); a final newline is optional; no empty
 * line and no label that is only spaces. Stored normalized with "\n" after every label. */
static lp_status read_labels(lp_android *a, const char *path, lp_err *err) {
    lp_map m;
    lp_status st = lp_map_open(&m, path, err);
    if (st != LP_OK) return st;
    if (m.size > MAX_LABELS_BYTES) {
        lp_map_close(&m);
        return lp_err_set(err, LP_ERR_LIMIT, "labels file '%s' is larger than %zu MB", path, MAX_LABELS_BYTES >> 20);
    }
    const char *s = (const char *)m.data;
    size_t n = m.size;
    if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) { /* a UTF-8 byte order mark */
        s += 3;
        n -= 3;
    }
    if (!lp_utf8_valid(s, n)) {
        lp_map_close(&m);
        return lp_err_set(err, LP_ERR_INVALID, "labels file '%s' is not UTF-8 text", path);
    }
    a->labels = malloc(n + 2);
    if (!a->labels) {
        lp_map_close(&m);
        return lp_err_set(err, LP_ERR_NOMEM, "out of memory");
    }
    size_t out = 0, i = 0;
    int line = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && s[j] != '\n') j++;
        size_t e = j;
        if (e > i && s[e - 1] == '\r') e--;
        line++;
        int blank = 1;
        for (size_t k = i; k < e; k++) blank &= s[k] == ' ' || s[k] == '\t';
        if (blank) {
            lp_map_close(&m);
            return lp_err_set(err, LP_ERR_INVALID, "labels file '%s': line %d is empty (one label per line)", path,
                              line);
        }
        if (memchr(s + i, 0, e - i)) {
            lp_map_close(&m);
            return lp_err_set(err, LP_ERR_INVALID, "labels file '%s': line %d holds a NUL byte", path, line);
        }
        if (a->n_labels == MAX_LABELS) {
            lp_map_close(&m);
            return lp_err_set(err, LP_ERR_LIMIT, "labels file '%s' has more than %d labels", path, MAX_LABELS);
        }
        memcpy(a->labels + out, s + i, e - i);
        out += e - i;
        a->labels[out++] = '\n';
        a->n_labels++;
        i = j + 1;
    }
    lp_map_close(&m);
    a->labels_len = out;
    if (!a->n_labels) return lp_err_set(err, LP_ERR_INVALID, "labels file '%s' is empty", path);
    const char *b = base_name(path);
    if (!*b || strlen(b) >= sizeof a->labels_name)
        return lp_err_set(err, LP_ERR_INVALID, "labels file '%s': the file name must have 1 to %zu bytes", path,
                          sizeof a->labels_name - 1);
    /* the name is the ZIP entry's and AssociatedFile.name, a flatbuffer string: UTF-8 */
    int ctrl = 0;
    for (const char *p = b; *p; p++) ctrl |= (unsigned char)*p < 0x20 || *p == 0x7f;
    if (ctrl || !lp_utf8_valid(b, strlen(b)))
        return lp_err_set(err, LP_ERR_INVALID,
                          "labels file: its name is not UTF-8 text or holds control characters (it is stored in "
                          "the model); rename the file");
    snprintf(a->labels_name, sizeof a->labels_name, "%s", b);
    return LP_OK;
}

lp_status lp_android_prepare(lp_android *a, const lp_options *opt, lp_graph *g, const char *src_name, lp_err *err) {
    memset(a, 0, sizeof *a);
    a->opt = *opt;
    a->labels_output = -1;
    lp_options *o = &a->opt;
    int image_opts = o->image_uint8 || o->n_image_norm || o->image_color_space || o->norm_scale;
    a->enabled = o->metadata || image_opts || o->model_name || o->model_description || o->model_version ||
                 o->model_author || o->model_license || o->image_input || o->labels_file || o->labels_output;
    if (!a->enabled) return LP_OK;

    LP_TRY(check_string("the model name", o->model_name, err));
    LP_TRY(check_string("the model description", o->model_description, err));
    LP_TRY(check_string("the model version", o->model_version, err));
    LP_TRY(check_string("the model author", o->model_author, err));
    LP_TRY(check_string("the model license", o->model_license, err));
    for (int i = 0; i < g->inputs.n; i++) LP_TRY(check_string("an input name", g->t[g->inputs.v[i]].name, err));
    for (int i = 0; i < g->outputs.n; i++) LP_TRY(check_string("an output name", g->t[g->outputs.v[i]].name, err));

    /* ModelMetadata.name defaults to the ONNX file's stem */
    const char *stem = src_name && src_name[0] != '<' ? base_name(src_name) : "model";
    snprintf(a->default_name, sizeof a->default_name, "%s", *stem ? stem : "model");
    char *dot = strrchr(a->default_name, '.');
    if (dot && dot != a->default_name && strcmp(dot, ".onnx") == 0) *dot = 0;
    if (!lp_utf8_valid(a->default_name, strlen(a->default_name))) snprintf(a->default_name, sizeof a->default_name, "model");

    /* the image input: named, or the only input when an image option asks for one */
    char names[1200];
    if (o->image_input) {
        if (lp_image_input_index(g, o) < 0) {
            list_names(g, &g->inputs, names, sizeof names);
            return lp_err_set(err, LP_ERR_INVALID, "--image-input '%s' is not a model input (inputs: %s)",
                              o->image_input, names);
        }
    } else if (image_opts) {
        if (g->inputs.n != 1) {
            list_names(g, &g->inputs, names, sizeof names);
            return lp_err_set(err, LP_ERR_INVALID,
                              "the model has %d inputs (%s): name the image input (--image-input)", g->inputs.n,
                              names);
        }
        o->image_input = g->t[g->inputs.v[0]].name;
    }
    if ((unsigned)o->image_color_space >= LP_COLOR_COUNT)
        return lp_err_set(err, LP_ERR_INVALID, "unknown image color space %d", o->image_color_space);
    if (o->n_image_norm < 0 || o->n_image_norm > 4)
        return lp_err_set(err, LP_ERR_INVALID, "%d mean/std values: give 1 or one per channel (at most 4)",
                          o->n_image_norm);
    if (o->norm_scale != 0 && o->norm_scale != 1 && o->norm_scale != 255)
        return lp_err_set(err, LP_ERR_INVALID, "norm scale %d: mean and std are on the 0-1 scale (1) or 0-255 (255)",
                          o->norm_scale);
    float k = o->norm_scale == 255 ? 1.0f : 255.0f;
    for (int i = 0; i < o->n_image_norm; i++) {
        float m = o->image_mean[i], s = o->image_std[i];
        if (!isfinite(m) || !isfinite(s) || !(s > 0))
            return lp_err_set(err, LP_ERR_INVALID, "mean %g and std %g: std must be positive and both finite",
                              (double)m, (double)s);
        if (k != 1.0f && (fabsf(m) > 1.0f || s > 1.0f))
            return lp_err_set(err, LP_ERR_INVALID,
                              "mean %g / std %g is not on the 0-1 scale of PyTorch's Normalize; for values on the "
                              "0-255 pixel scale give norm scale 255 (--norm-scale 255)",
                              (double)m, (double)s);
        o->image_mean[i] = m * k;
        o->image_std[i] = s * k;
    }
    o->norm_scale = 255;

    /* labels */
    if (o->labels_output && !o->labels_file)
        return lp_err_set(err, LP_ERR_INVALID, "--labels-output '%s' needs a labels file (--labels)", o->labels_output);
    if (o->labels_file) {
        if (g->outputs.n == 0) return lp_err_set(err, LP_ERR_INVALID, "labels given for a model without outputs");
        a->labels_output = 0;
        if (o->labels_output) {
            a->labels_output = -1;
            for (int i = 0; i < g->outputs.n; i++)
                if (strcmp(g->t[g->outputs.v[i]].name, o->labels_output) == 0) a->labels_output = i;
            if (a->labels_output < 0) {
                list_names(g, &g->outputs, names, sizeof names);
                return lp_err_set(err, LP_ERR_INVALID, "--labels-output '%s' is not a model output (outputs: %s)",
                                  o->labels_output, names);
            }
        }
        LP_TRY(read_labels(a, o->labels_file, err));
    }
    return LP_OK;
}

lp_status lp_android_metadata(lp_android *a, const lp_graph *g, lp_err *err) {
    if (!a->enabled) return LP_OK;
    if (a->labels_output >= 0) {
        const lp_tensor *t = &g->t[g->outputs.v[a->labels_output]];
        int64_t last = t->rank > 0 ? t->dims[t->rank - 1] : 1;
        if (last >= 0 && last != a->n_labels) {
            char shape[200];
            lp_shape_str(g, t, shape, sizeof shape);
            return lp_err_set(err, LP_ERR_INVALID,
                              "labels file '%s' has %d labels; output '%s' %s has %lld values in its last dimension",
                              a->opt.labels_file, a->n_labels, t->name, shape, (long long)last);
        }
    }
    lp_meta_in in = {&a->opt, a->default_name, a->labels ? a->labels_name : NULL, a->n_labels, a->labels_output};
    return lp_meta_build(g, &in, &a->meta, &a->meta_size, a->min_parser, err);
}

lp_status lp_android_files(lp_android *a, uint64_t model_size, lp_err *err) {
    if (!a->enabled || !a->labels) return LP_OK;
    const char *names[1] = {a->labels_name};
    const uint8_t *data[1] = {(const uint8_t *)a->labels};
    size_t sizes[1] = {a->labels_len};
    return lp_zip_stored(names, data, sizes, 1, model_size, &a->zip, &a->zip_size, err);
}

static void json_floats(lp_buf *b, const float *v, int n) {
    lp_buf_puts(b, "[");
    for (int i = 0; i < n; i++) lp_buf_printf(b, "%s%.9g", i ? "," : "", (double)v[i]);
    lp_buf_puts(b, "]");
}

static void json_opt_str(lp_buf *b, const char *key, const char *v) {
    lp_buf_printf(b, ",\"%s\":", key);
    if (v) lp_buf_json_str(b, v);
    else lp_buf_puts(b, "null");
}

void lp_android_report_json(const lp_android *a, const lp_graph *g, lp_buf *b) {
    if (!a->enabled) {
        lp_buf_puts(b, "null");
        return;
    }
    const lp_options *o = &a->opt;
    lp_buf_puts(b, "{\"name\":");
    lp_buf_json_str(b, o->model_name && *o->model_name ? o->model_name : a->default_name);
    json_opt_str(b, "description", o->model_description);
    json_opt_str(b, "version", o->model_version);
    json_opt_str(b, "author", o->model_author);
    json_opt_str(b, "license", o->model_license);
    lp_buf_printf(b, ",\"min_parser_version\":\"%s\",\"size\":%zu,\"image_input\":", a->min_parser, a->meta_size);
    int k = lp_image_input_index(g, o);
    if (k < 0) {
        lp_buf_puts(b, "null");
    } else {
        const lp_tensor *t = &g->t[g->inputs.v[k]];
        int cs = lp_image_color_space(o, t->dims[3]);
        lp_buf_puts(b, "{\"name\":");
        lp_buf_json_str(b, t->name);
        lp_buf_printf(b, ",\"color_space\":\"%s\",\"channels\":%lld,\"uint8\":%s,\"mean\":",
                      cs == LP_COLOR_GRAYSCALE ? "grayscale" : "rgb", (long long)t->dims[3],
                      t->dtype == LP_DT_U8 ? "true" : "false");
        /* mean and std on the 0-255 scale, one per channel */
        float mean[4], std[4];
        int ch = (int)(t->dims[3] > 4 ? 4 : t->dims[3]);
        for (int i = 0; i < ch; i++) {
            int j = o->n_image_norm == 1 ? 0 : i;
            mean[i] = o->n_image_norm ? o->image_mean[j] : 0.0f;
            std[i] = o->n_image_norm ? o->image_std[j] : 1.0f;
        }
        json_floats(b, mean, ch);
        lp_buf_puts(b, ",\"std\":");
        json_floats(b, std, ch);
        lp_buf_puts(b, "}");
    }
    lp_buf_puts(b, ",\"labels\":");
    if (!a->labels) {
        lp_buf_puts(b, "null");
    } else {
        lp_buf_puts(b, "{\"file\":");
        lp_buf_json_str(b, a->labels_name);
        lp_buf_puts(b, ",\"output\":");
        lp_buf_json_str(b, g->t[g->outputs.v[a->labels_output]].name);
        lp_buf_printf(b, ",\"count\":%d}", a->n_labels);
    }
    lp_buf_puts(b, "}");
}

int lp_android_warning(const lp_android *a, const lp_graph *g, char *msg, size_t n) {
    int k = a->enabled ? lp_image_input_index(g, &a->opt) : -1;
    if (k < 0) return 0;
    const lp_tensor *t = &g->t[g->inputs.v[k]];
    if (t->rank != 4 || (t->dims[1] > 0 && t->dims[2] > 0)) return 0;
    /* the metadata has no default size, and Android's generated wrapper resizes every picture to
     * the input tensor's shape, 1 x 1 in a dynamic dimension until the app resizes the input */
    snprintf(msg, n,
             "image input '%.200s' has a dynamic height or width: Android Studio's wrapper would resize pictures "
             "to 1x1; fix the size with --input-shape %.200s:N,C,H,W (input_shapes=)",
             t->name, t->name);
    return 1;
}

void lp_android_report_text(const lp_android *a, const lp_graph *g, lp_buf *b) {
    if (!a->enabled) return;
    const lp_options *o = &a->opt;
    lp_buf_printf(b, "  metadata '%s' (parser %s)", o->model_name && *o->model_name ? o->model_name : a->default_name,
                  a->min_parser);
    int k = lp_image_input_index(g, o);
    if (k >= 0) {
        const lp_tensor *t = &g->t[g->inputs.v[k]];
        int cs = lp_image_color_space(o, t->dims[3]);
        lp_buf_printf(b, ", image input '%s' %s%s", t->name, cs == LP_COLOR_GRAYSCALE ? "grayscale" : "RGB",
                      t->dtype == LP_DT_U8 ? " uint8 pixels" : "");
    }
    if (a->labels)
        lp_buf_printf(b, ", %d labels (%s) for '%s'", a->n_labels, a->labels_name,
                      g->t[g->outputs.v[a->labels_output]].name);
    lp_buf_puts(b, "\n");
    char w[600];
    if (lp_android_warning(a, g, w, sizeof w)) lp_buf_printf(b, "  warning: %s\n", w);
}
