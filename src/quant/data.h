/* Sample data for calibration, evaluation and `liteport run`: a folder (or one file) of images
 * or .npy arrays, turned into the model's inputs (TFLite layout and dtype) one invocation at a
 * time.
 *
 * Layout of a data path:
 *   - one file: a .npy array or an image (one input models);
 *   - a folder: its .npy files and images in name order (one input), or one sub-folder per input
 *     named like the input (several inputs; the i-th files of the sub-folders form sample i).
 * A .npy array with the input's rank holds several samples along its first axis (split into the
 * model's batch: 1 when the batch is dynamic); one rank lower is a single sample (batch 1 added).
 * Arrays are in ONNX layout and any numeric dtype (converted to the input's). Images feed 4-D
 * inputs: pixels / 255, then (x - mean) / std per channel, resized (bilinear, antialiased when
 * shrinking) to the input's height and width, stretched or resized on the shorter side and
 * centre-cropped; gray, RGB or RGBA as the input's channel count asks. */
#ifndef LP_DATA_H
#define LP_DATA_H

#include "../ir/ir.h"

typedef struct lp_data_opts {
    float mean[4], std[4]; /* per channel (std 0 = 1) */
    int n_mean, n_std;     /* values given (1 = same for every channel) */
    int crop;              /* 1: resize the shorter side and centre-crop; 0: stretch */
    int limit;             /* > 0: at most this many samples */
} lp_data_opts;

typedef struct lp_array {
    lp_dtype dtype;
    int rank;
    int64_t dims[LP_MAX_RANK];
    void *data; /* malloc */
} lp_array;

typedef struct lp_dataset lp_dataset;

/* Index the samples at `path` for the inputs of g (lowered graph: TFLite shapes and io_perm).
 * Files are read later, one sample at a time. */
lp_status lp_dataset_open(lp_dataset **out, const char *path, const lp_graph *g, const lp_data_opts *o, lp_err *err);
void lp_dataset_free(lp_dataset *ds);
int lp_dataset_count(const lp_dataset *ds);
/* Sample k: one array per graph input, TFLite layout and the input's dtype (free each .data). */
lp_status lp_dataset_load(lp_dataset *ds, int k, lp_array *arrays);
/* "12 images from DIR" for reports */
const char *lp_dataset_describe(const lp_dataset *ds);

/* Write an array as .npy (atomically). */
lp_status lp_npy_write(const char *path, const lp_array *a, lp_err *err);

#endif
