/* metadata: TFLite metadata for Android Studio's ML Model Binding and the tflite-support tools.
 *
 * lp_meta_build writes the TFLITE_METADATA flatbuffer (identifier "M001"; field ids in
 * shared/FORMATS.md section 4): ModelMetadata with one SubGraphMetadata and a TensorMetadata for
 * every graph input and output. lp_zip_stored writes the associated files (labels) as the ZIP
 * archive that is appended after the .tflite flatbuffer.
 */
#ifndef LP_METADATA_H
#define LP_METADATA_H

#include "tflite.h"

/* What the driver knows about the Android-facing options of one conversion. */
typedef struct lp_meta_in {
    const lp_options *opt;   /* image_input resolved; image_mean/std on the 0-255 scale */
    const char *default_name;/* ModelMetadata.name when opt->model_name is NULL */
    const char *labels_name; /* ZIP entry name of the labels file, or NULL */
    int n_labels;
    int labels_output;       /* index in g->outputs, or -1 */
} lp_meta_in;

/* Build the metadata flatbuffer for g (after all passes). On success *out is a malloc'd buffer
 * of *size bytes (the caller frees it) and min_parser holds ModelMetadata.min_parser_version. */
lp_status lp_meta_build(const lp_graph *g, const lp_meta_in *in, uint8_t **out, size_t *size,
                        char min_parser[16], lp_err *err);

/* A ZIP archive of n stored (uncompressed) entries, no comment, no ZIP64, whose offsets count
 * from the start of a file in which the archive begins `base` bytes in. *out is malloc'd. */
lp_status lp_zip_stored(const char *const *names, const uint8_t *const *data, const size_t *sizes, int n,
                        uint64_t base, uint8_t **out, size_t *size, lp_err *err);

#endif
