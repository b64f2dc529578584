/* android: the driver's handling of the options for Android apps (lp_options metadata, image input,
 * labels): checks them against the imported model, reads the labels file, and after the passes
 * builds the TFLITE_METADATA buffer and the ZIP of associated files appended to the .tflite file. */
#ifndef LP_ANDROID_H
#define LP_ANDROID_H

#include "ir/ir.h"

typedef struct lp_android {
    int enabled;          /* metadata is written */
    lp_options opt;       /* the options with image_input resolved and mean/std on the 0-255 scale */
    char *labels;         /* labels file, normalized: one label per line, '\n'-terminated (malloc) */
    size_t labels_len;
    int n_labels;
    char labels_name[256];/* ZIP entry name: the file's base name */
    int labels_output;    /* index in g->outputs, or -1 */
    char default_name[256];
    uint8_t *meta;        /* metadata flatbuffer (malloc) */
    size_t meta_size;
    uint8_t *zip;         /* associated files archive (malloc), appended after the model */
    size_t zip_size;
    char min_parser[16];
} lp_android;

/* Before the passes: check the options against the imported graph, resolve the image input and
 * read the labels. `a->opt` is what the passes must see. `src_name` names the ONNX source. */
lp_status lp_android_prepare(lp_android *a, const lp_options *opt, lp_graph *g, const char *src_name, lp_err *err);

/* After the passes: check the labels against the output's shape and build the metadata buffer. */
lp_status lp_android_metadata(lp_android *a, const lp_graph *g, lp_err *err);

/* After the model is built (`model_size` bytes): the ZIP of associated files, if any. */
lp_status lp_android_files(lp_android *a, uint64_t model_size, lp_err *err);

/* "metadata" member of the JSON report (the value only), and a line for the text report. */
void lp_android_report_json(const lp_android *a, const lp_graph *g, lp_buf *b);
void lp_android_report_text(const lp_android *a, const lp_graph *g, lp_buf *b);

/* 1 and a message in msg when the metadata is likely to mislead an app (an image input of dynamic
 * height or width); for the report's "warnings". */
int lp_android_warning(const lp_android *a, const lp_graph *g, char *msg, size_t n);

void lp_android_free(lp_android *a);

#endif
