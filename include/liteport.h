/*
 * liteport: ONNX -> TensorFlow Lite (LiteRT) converter, C11, no dependencies beyond libc/libm.
 *
 * Overview
 *   A conversion reads an ONNX model (memory-mapped, weights are not copied), builds an
 *   intermediate representation, infers shapes, folds constant shape arithmetic, lowers every
 *   ONNX op to TFLite builtin ops with exactly ONNX's meaning, optimises layout, and writes a
 *   .tflite flatbuffer. The library never prints, exits or aborts: every function returns an
 *   lp_status and the converter keeps one message naming the node, op and attribute at fault.
 *
 * Worked example
 *
 *   lp_options opt = {0};                       // zero value = defaults
 *   lp_converter *c = lp_converter_new(&opt);
 *   if (!c) return 1;                           // out of memory
 *   if (lp_convert_file(c, "model.onnx", "model.tflite") != LP_OK)
 *       fprintf(stderr, "liteport: %s\n", lp_converter_message(c));
 *   else
 *       puts(lp_converter_report_json(c));      // JSON report, owned by c
 *   lp_converter_free(c);
 *
 * A converter may be reused for several conversions; each call clears the previous message and
 * report. A converter is not thread-safe; use one per thread.
 */
#ifndef LITEPORT_H
#define LITEPORT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LITEPORT_VERSION "0.1.0"

typedef enum lp_status {
    LP_OK = 0,
    LP_ERR_IO,          /* a file could not be read or written */
    LP_ERR_PARSE,       /* the input is not a well-formed ONNX model */
    LP_ERR_INVALID,     /* the model is well-formed but breaks an ONNX rule */
    LP_ERR_UNSUPPORTED, /* valid ONNX that liteport cannot express in TFLite (yet) */
    LP_ERR_LIMIT,       /* a size or count passes liteport's safety limits */
    LP_ERR_NOMEM,       /* out of memory */
    LP_ERR_INTERNAL,    /* a bug in liteport; the message says where */
    LP_STATUS_COUNT
} lp_status;

/* lp_options.quantize */
typedef enum lp_quantize_mode {
    LP_QUANTIZE_NONE = 0,
    LP_QUANTIZE_FLOAT16,  /* float16 weights, DEQUANTIZE to float32 where kernels read them */
    LP_QUANTIZE_DYNAMIC,  /* int8 weights of CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED, float activations */
    LP_QUANTIZE_INT8,     /* full integer: int8 activations and weights, int32 biases (needs calibration) */
    LP_QUANTIZE_COUNT
} lp_quantize_mode;

/* lp_options.io_type: the element type of a full-integer model's inputs and outputs */
typedef enum lp_io_type {
    LP_IO_FLOAT32 = 0,    /* float32 (QUANTIZE after the inputs, DEQUANTIZE before the outputs) */
    LP_IO_INT8,
    LP_IO_UINT8,
    LP_IO_COUNT
} lp_io_type;

/* Conversion options. The zero value of every field means the default. */
typedef struct lp_options {
    int keep_io_layout;      /* 1: inputs/outputs keep the ONNX layout (no NHWC I/O) */
    int no_layout_pass;      /* 1: skip transpose elimination (debugging) */
    int no_fusions;          /* 1: skip fusions (debugging) */
    const char *dump_after;  /* pass name, or "all": IR text dump kept in the report */
    int fix_batch;           /* > 0: fix every dynamic batch (first) dimension to this value */
    const char *input_shapes;/* "name:1,3,224,224;name2:1,10": fix input shapes by name */
    int weights_outside;     /* 1: constant data after the flatbuffer (Buffer.offset/size), which
                                models over 2 GB get anyway; needs a LiteRT that reads it */

    /* TFLite metadata (Android Studio's ML Model Binding, see docs/android.md). The TFLITE_METADATA
     * buffer is written when `metadata` is 1 or any field below is set; strings are copied. */
    int metadata;                  /* 1: write metadata even when no field below is set */
    const char *model_name;        /* ModelMetadata.name (default: the ONNX file's stem, or "model") */
    const char *model_description; /* ModelMetadata.description */
    const char *model_version;     /* ModelMetadata.version */
    const char *model_author;      /* ModelMetadata.author */
    const char *model_license;     /* ModelMetadata.license */
    const char *image_input;       /* name of the input that is an image (NULL: none) */
    int image_color_space;         /* lp_color_space; LP_COLOR_AUTO: RGB for 3 channels, grayscale for 1 */
    int n_image_norm;              /* 0: no normalization; 1 (every channel) or one value per channel */
    float image_mean[4];           /* the model reads (pixel - mean) / std ... */
    float image_std[4];            /* ... with mean and std on the scale of norm_scale */
    int norm_scale;                /* 0 or 1: mean/std on PyTorch's 0-1 scale (x255); 255: on 0-255 */
    int image_uint8;               /* 1: the image input takes uint8 pixels (height x width x
                                    * channels); the cast and normalization run inside the model */
    const char *labels_file;       /* a text file, one label per line, for an output's last axis */
    const char *labels_output;     /* the output the labels belong to (NULL: the first output) */

    /* quantization (see lp_quantize_mode); sample data is a folder or file of .npy arrays (ONNX
     * layout) or images, with one sub-folder per input when there are several (src/quant/data.h) */
    int quantize;            /* lp_quantize_mode; 0: float32 model */
    const char *calibration; /* int8: calibration samples (folder or file) */
    const char *eval_data;   /* held-out samples for the report's error figures (default: calibration) */
    int sample_limit;        /* > 0: use at most this many calibration / evaluation samples */
    float percentile;        /* int8: 0 = min/max ranges; e.g. 99.99: clip activation ranges to that percentile */
    int io_type;             /* int8: lp_io_type of the model's inputs and outputs */
    int image_crop;          /* images: 1 = resize the shorter side and centre-crop; 0 = stretch.
                                Calibration images are normalized with image_mean / image_std above
                                (pixel / 255 on PyTorch's 0-1 scale, unless norm_scale is 255) */
} lp_options;

/* Color space of an image input (lp_options.image_color_space). */
typedef enum lp_color_space {
    LP_COLOR_AUTO = 0,      /* from the channel count: 3 RGB, 1 grayscale */
    LP_COLOR_RGB,
    LP_COLOR_GRAYSCALE,
    LP_COLOR_COUNT
} lp_color_space;

typedef struct lp_converter lp_converter;

/* Create a converter. `opt` may be NULL (defaults); it is copied, strings included.
 * Returns NULL only when out of memory. Free with lp_converter_free. */
lp_converter *lp_converter_new(const lp_options *opt);

/* Free a converter and everything it owns (reports, messages, output buffers). NULL is allowed. */
void lp_converter_free(lp_converter *c);

/* Convert the ONNX file at `onnx_path` and write the .tflite file to `out_path`.
 * External data files are resolved relative to the model's folder and must stay inside it.
 * The output is written atomically: on any failure no new file exists and an existing file at
 * `out_path` is unchanged (on Linux even when the process is killed).
 * Files up to 64 MiB are read; larger ones (model or external data) are memory-mapped, and, as
 * with any mapping, truncating one while it is converted raises SIGBUS in the calling process
 * (the library installs no signal handler; the liteport CLI reports it as an error). */
lp_status lp_convert_file(lp_converter *c, const char *onnx_path, const char *out_path);

/* Convert an ONNX model held in memory. `base_dir` is the folder for external data (NULL: external
 * data is refused). On success *out / *out_size hold the .tflite bytes, owned by the converter and
 * valid until the next conversion or lp_converter_free. `data` must stay valid during the call. */
lp_status lp_convert_buffer(lp_converter *c, const void *data, size_t size, const char *base_dir,
                            const void **out, size_t *out_size);

/* Like lp_convert_buffer, but writes to `out_path` atomically (see lp_convert_file). */
lp_status lp_convert_buffer_to_file(lp_converter *c, const void *data, size_t size,
                                    const char *base_dir, const char *out_path);

/* Convert the ONNX file like lp_convert_file, write no model, and run the converted float model
 * in liteport's reference interpreter on the samples at `data_path` (a folder or file of .npy
 * arrays or images, see lp_options). Writes `out_dir`/NAME.npy per output (ONNX layout, the
 * samples stacked along the first axis; characters outside [A-Za-z0-9._-] in NAME become '_').
 * `out_dir` must exist. The report (lp_converter_report_json) lists the files. */
lp_status lp_run_file(lp_converter *c, const char *onnx_path, const char *data_path, const char *out_dir);

/* The message of the last failed conversion ("" after success). Owned by the converter. */
const char *lp_converter_message(const lp_converter *c);

/* The status of the last conversion. */
lp_status lp_converter_status(const lp_converter *c);

/* JSON report of the last successful conversion ("{}" otherwise): inputs and outputs with shapes
 * and layouts, op histogram, transpose count, output size, time, warnings. Owned by the converter. */
const char *lp_converter_report_json(const lp_converter *c);

/* The same report as short human-readable text (what the CLI prints). Owned by the converter. */
const char *lp_converter_report_text(const lp_converter *c);

/* Text dump of the IR requested with lp_options.dump_after ("" if none). Owned by the converter. */
const char *lp_converter_dump(const lp_converter *c);

/* Short English name of a status ("ok", "parse error", ...). Static storage. */
const char *lp_status_name(lp_status s);

#ifdef __cplusplus
}
#endif
#endif /* LITEPORT_H */
