/*
 * liteport._core: the CPython binding over include/liteport.h. Thin on purpose: it turns Python
 * arguments into an lp_options struct, runs one conversion with the GIL released, and turns the
 * result into Python objects. Defaults (output paths, option parsing, the report object) live in
 * python/liteport/, where they are easier to read and test.
 *
 *   convert(src, output=None, *, base_dir=None, keep_io_layout=False, no_layout_pass=False,
 *           no_fusions=False, dump_after=None, batch=0, input_shapes=None, metadata=False,
 *           model_name=None, model_description=None, model_version=None, model_author=None,
 *           model_license=None, image_input=None, color_space=0, mean=None, std=None,
 *           norm_scale=0, uint8_input=False, labels_file=None, labels_output=None,
 *           weights_outside=False, quantize=0, calibration=None, eval_data=None,
 *           sample_limit=0, percentile=0.0, io_type=0, image_crop=False)
 *       -> (report_json: str, tflite: bytes | None, dump: str)
 *
 *   run(src, data, out_dir, *, <the same options>) -> report_json: str
 *       converts the model file `src` and runs it in the reference interpreter on `data`,
 *       writing out_dir/<output>.npy (lp_run_file).
 *
 *   src     a path (str / bytes / os.PathLike) or any object exporting a contiguous buffer
 *           (bytes, bytearray, memoryview, mmap, numpy array); a buffer is read in place, not copied.
 *   output  a path, or None. With a buffer src and output None the .tflite bytes are returned;
 *           with a path src an output path is required (the Python layer picks the default).
 *   input_shapes  "name:1,3,224,224;name2:1,10" (the Python layer formats dicts into this).
 *   mean, std     sequences of 1 to 4 floats (lp_options.image_mean / image_std), or None: the
 *                 normalization the model expects, for the metadata, uint8 pixel input and
 *                 calibration images alike (norm_scale 255: given on the 0-255 scale);
 *                 color_space is an lp_color_space number. The other metadata keywords map to the
 *                 lp_options field of (nearly) the same name.
 *
 * Failure raises liteport._core.ConversionError (a ValueError) with .status (lp_status_name),
 * .code (the lp_status number) and .message (lp_converter_message).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "liteport.h"

static PyObject *ConversionError; /* liteport._core.ConversionError, a ValueError subclass */

/* Raise ConversionError(message) with .status/.code/.message set from converter `c`. */
static void raise_conversion_error(lp_converter *c, lp_status st)
{
    const char *msg = lp_converter_message(c);
    if (!msg || !*msg) msg = lp_status_name(st);
    PyObject *text = PyUnicode_DecodeUTF8(msg, (Py_ssize_t)strlen(msg), "replace");
    if (!text) return;
    PyObject *exc = PyObject_CallOneArg(ConversionError, text);
    if (!exc) {
        Py_DECREF(text);
        return;
    }
    PyObject *status = PyUnicode_FromString(lp_status_name(st));
    PyObject *code = PyLong_FromLong((long)st);
    if (status && code && PyObject_SetAttrString(exc, "status", status) == 0 &&
        PyObject_SetAttrString(exc, "code", code) == 0 &&
        PyObject_SetAttrString(exc, "message", text) == 0) {
        PyErr_SetObject(ConversionError, exc);
    }
    Py_XDECREF(status);
    Py_XDECREF(code);
    Py_DECREF(text);
    Py_DECREF(exc);
}

/* Optional path-like argument -> owned bytes object (NULL out when the argument is None). */
static int fs_path_or_none(PyObject *arg, PyObject **out)
{
    *out = NULL;
    if (arg == NULL || arg == Py_None) return 1;
    return PyUnicode_FSConverter(arg, out) ? 1 : 0;
}

/* Optional str argument -> owned UTF-8 bytes object. */
static int utf8_or_none(PyObject *arg, const char *what, PyObject **out)
{
    *out = NULL;
    if (arg == NULL || arg == Py_None) return 1;
    if (!PyUnicode_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "%s must be a str or None, not %.100s", what,
                     Py_TYPE(arg)->tp_name);
        return 0;
    }
    *out = PyUnicode_AsUTF8String(arg);
    return *out != NULL;
}

/* Optional sequence of 1..4 numbers -> v; returns the count (0 for None), -1 with an exception. */
static int floats_or_none(PyObject *arg, const char *what, float *v)
{
    memset(v, 0, 4 * sizeof *v);
    if (arg == NULL || arg == Py_None) return 0;
    PyObject *seq = PySequence_Fast(arg, "");
    if (!seq) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s must be a sequence of numbers, not %.100s", what,
                     Py_TYPE(arg)->tp_name);
        return -1;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n < 1 || n > 4) {
        Py_DECREF(seq);
        PyErr_Format(PyExc_ValueError, "%s needs 1 to 4 values (one per channel), got %zd", what, n);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        double d = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(seq, i));
        if (d == -1.0 && PyErr_Occurred()) {
            Py_DECREF(seq);
            return -1;
        }
        v[i] = (float)d;
    }
    Py_DECREF(seq);
    return (int)n;
}

static int is_path_like(PyObject *o)
{
    return PyUnicode_Check(o) || PyBytes_Check(o) || PyObject_HasAttrString(o, "__fspath__");
}

/* The quantization options shared by convert() and run(): Python objects in, owned bytes out. */
typedef struct quant_args {
    int quantize, sample_limit, io_type, image_crop, norm_scale, n_norm;
    float percentile, mean[4], std[4];
    PyObject *calibration_arg, *eval_arg, *mean_arg, *std_arg; /* borrowed */
    PyObject *calibration, *eval_data;                         /* owned bytes or NULL */
} quant_args;

static int quant_args_convert(quant_args *q)
{
    if (q->quantize < 0 || q->quantize >= LP_QUANTIZE_COUNT) {
        PyErr_Format(PyExc_ValueError, "quantize must be 0..%d", LP_QUANTIZE_COUNT - 1);
        return 0;
    }
    if (q->io_type < 0 || q->io_type >= LP_IO_COUNT) {
        PyErr_Format(PyExc_ValueError, "io_type must be 0..%d", LP_IO_COUNT - 1);
        return 0;
    }
    if (q->sample_limit < 0) {
        PyErr_SetString(PyExc_ValueError, "sample_limit must be >= 0");
        return 0;
    }
    int n_mean = floats_or_none(q->mean_arg, "mean", q->mean);
    int n_std = floats_or_none(q->std_arg, "std", q->std);
    if (n_mean < 0 || n_std < 0) return 0;
    if (n_mean != n_std) {
        PyErr_SetString(PyExc_ValueError, "mean and std must have the same number of values");
        return 0;
    }
    q->n_norm = n_mean;
    return fs_path_or_none(q->calibration_arg, &q->calibration) &&
           fs_path_or_none(q->eval_arg, &q->eval_data);
}

static void quant_args_apply(const quant_args *q, lp_options *opt)
{
    opt->quantize = q->quantize;
    opt->sample_limit = q->sample_limit;
    opt->io_type = q->io_type;
    opt->image_crop = q->image_crop;
    opt->percentile = q->percentile;
    opt->calibration = q->calibration ? PyBytes_AS_STRING(q->calibration) : NULL;
    opt->eval_data = q->eval_data ? PyBytes_AS_STRING(q->eval_data) : NULL;
    opt->n_image_norm = q->n_norm;
    memcpy(opt->image_mean, q->mean, sizeof q->mean);
    memcpy(opt->image_std, q->std, sizeof q->std);
    opt->norm_scale = q->norm_scale;
}

static void quant_args_free(quant_args *q)
{
    Py_XDECREF(q->calibration);
    Py_XDECREF(q->eval_data);
}

static PyObject *core_convert(PyObject *self, PyObject *args, PyObject *kwargs)
{
    (void)self;
    static char *kwlist[] = {"src",        "output",     "base_dir", "keep_io_layout",
                             "no_layout_pass", "no_fusions", "dump_after", "batch",
                             "input_shapes", "metadata", "model_name", "model_description",
                             "model_version", "model_author", "model_license", "image_input",
                             "color_space", "mean", "std", "norm_scale", "uint8_input",
                             "labels_file", "labels_output", "weights_outside", "quantize",
                             "calibration", "eval_data", "sample_limit", "percentile", "io_type",
                             "image_crop", NULL};
    PyObject *src = NULL, *output_arg = Py_None, *base_dir_arg = Py_None;
    PyObject *dump_arg = Py_None, *shapes_arg = Py_None;
    int keep_io_layout = 0, no_layout_pass = 0, no_fusions = 0, batch = 0, weights_outside = 0;
    int metadata = 0, color_space = 0, uint8_input = 0;
    PyObject *str_args[8] = {Py_None, Py_None, Py_None, Py_None, Py_None, Py_None, Py_None, Py_None};
    quant_args q;
    memset(&q, 0, sizeof q);
    q.calibration_arg = q.eval_arg = q.mean_arg = q.std_arg = Py_None;

    if (!PyArg_ParseTupleAndKeywords(
            args, kwargs, "O|O$OpppOiOpOOOOOOiOOipOOpiOOifip:convert", kwlist, &src, &output_arg,
            &base_dir_arg, &keep_io_layout, &no_layout_pass, &no_fusions, &dump_arg, &batch,
            &shapes_arg, &metadata, &str_args[0], &str_args[1], &str_args[2], &str_args[3],
            &str_args[4], &str_args[5], &color_space, &q.mean_arg, &q.std_arg, &q.norm_scale,
            &uint8_input, &str_args[6], &str_args[7], &weights_outside, &q.quantize,
            &q.calibration_arg, &q.eval_arg, &q.sample_limit, &q.percentile, &q.io_type,
            &q.image_crop))
        return NULL;
    if (batch < 0) {
        PyErr_SetString(PyExc_ValueError, "batch must be >= 0 (0: keep dynamic batch)");
        return NULL;
    }

    PyObject *src_path = NULL, *out_path = NULL, *base_dir = NULL, *dump_after = NULL,
             *input_shapes = NULL, *result = NULL;
    PyObject *strs[8] = {NULL};
    static const char *const str_names[8] = {"model_name",    "model_description", "model_version",
                                             "model_author",  "model_license",     "image_input",
                                             "labels_file",   "labels_output"};
    Py_buffer view = {0};
    int have_view = 0;
    lp_converter *c = NULL;

    /* bytes is a path (os.fsencode form) only when passed as such; bytes-like model data must
     * come as bytes too, so: a bytes object is model data, str/PathLike is a path. */
    int src_is_path = !PyBytes_Check(src) && is_path_like(src);
    if (src_is_path) {
        if (!PyUnicode_FSConverter(src, &src_path)) goto done;
    } else {
        if (PyObject_GetBuffer(src, &view, PyBUF_SIMPLE) != 0) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError,
                         "src must be a path (str or os.PathLike) or a bytes-like object, "
                         "not %.100s",
                         Py_TYPE(src)->tp_name);
            goto done;
        }
        have_view = 1;
    }
    if (!fs_path_or_none(output_arg, &out_path)) goto done;
    if (!fs_path_or_none(base_dir_arg, &base_dir)) goto done;
    if (!utf8_or_none(dump_arg, "dump_after", &dump_after)) goto done;
    if (!utf8_or_none(shapes_arg, "input_shapes", &input_shapes)) goto done;
    for (int i = 0; i < 8; i++) {
        /* labels_file is a path: os.PathLike allowed, encoded like every other path */
        if (i == 6 ? !fs_path_or_none(str_args[i], &strs[i]) : !utf8_or_none(str_args[i], str_names[i], &strs[i]))
            goto done;
    }
    if (!quant_args_convert(&q)) goto done;
    if (src_is_path && !out_path) {
        PyErr_SetString(PyExc_ValueError,
                        "converting a file needs an output path (liteport.convert picks one)");
        goto done;
    }
    if (src_is_path && base_dir) {
        PyErr_SetString(PyExc_ValueError,
                        "base_dir applies to in-memory models only (a file uses its own folder)");
        goto done;
    }

    lp_options opt;
    memset(&opt, 0, sizeof opt);
    opt.keep_io_layout = keep_io_layout;
    opt.no_layout_pass = no_layout_pass;
    opt.no_fusions = no_fusions;
    opt.dump_after = dump_after ? PyBytes_AS_STRING(dump_after) : NULL;
    opt.fix_batch = batch;
    opt.input_shapes = input_shapes ? PyBytes_AS_STRING(input_shapes) : NULL;
    opt.weights_outside = weights_outside;
    opt.metadata = metadata;
    const char **fields[8] = {&opt.model_name,    &opt.model_description, &opt.model_version,
                              &opt.model_author,  &opt.model_license,     &opt.image_input,
                              &opt.labels_file,   &opt.labels_output};
    for (int i = 0; i < 8; i++) *fields[i] = strs[i] ? PyBytes_AS_STRING(strs[i]) : NULL;
    opt.image_color_space = color_space;
    opt.image_uint8 = uint8_input;
    quant_args_apply(&q, &opt);

    c = lp_converter_new(&opt); /* copies the option strings */
    if (!c) {
        PyErr_NoMemory();
        goto done;
    }

    const char *out_c = out_path ? PyBytes_AS_STRING(out_path) : NULL;
    const char *base_c = base_dir ? PyBytes_AS_STRING(base_dir) : NULL;
    const void *tfl = NULL;
    size_t tfl_size = 0;
    lp_status st;

    /* The buffer view keeps `src` pinned while the GIL is released; the path/option bytes
     * objects are owned here, so nothing the C side reads can move or die meanwhile. */
    Py_BEGIN_ALLOW_THREADS
    if (src_is_path)
        st = lp_convert_file(c, PyBytes_AS_STRING(src_path), out_c);
    else if (out_c)
        st = lp_convert_buffer_to_file(c, view.buf, (size_t)view.len, base_c, out_c);
    else
        st = lp_convert_buffer(c, view.buf, (size_t)view.len, base_c, &tfl, &tfl_size);
    Py_END_ALLOW_THREADS

    if (st != LP_OK) {
        raise_conversion_error(c, st);
        goto done;
    }

    const char *report = lp_converter_report_json(c);
    const char *dump = lp_converter_dump(c);
    if (!report) report = "{}";
    if (!dump) dump = "";
    PyObject *report_obj = PyUnicode_DecodeUTF8(report, (Py_ssize_t)strlen(report), "replace");
    PyObject *dump_obj = PyUnicode_DecodeUTF8(dump, (Py_ssize_t)strlen(dump), "replace");
    PyObject *tfl_obj = NULL;
    if (!out_c) {
        if (tfl_size > (size_t)PY_SSIZE_T_MAX) {
            PyErr_SetString(PyExc_OverflowError, "output too large");
        } else {
            tfl_obj = PyBytes_FromStringAndSize((const char *)tfl, (Py_ssize_t)tfl_size);
        }
    } else {
        tfl_obj = Py_NewRef(Py_None);
    }
    if (report_obj && dump_obj && tfl_obj) result = PyTuple_Pack(3, report_obj, tfl_obj, dump_obj);
    Py_XDECREF(report_obj);
    Py_XDECREF(dump_obj);
    Py_XDECREF(tfl_obj);

done:
    lp_converter_free(c);
    if (have_view) PyBuffer_Release(&view);
    Py_XDECREF(src_path);
    Py_XDECREF(out_path);
    Py_XDECREF(base_dir);
    Py_XDECREF(dump_after);
    Py_XDECREF(input_shapes);
    for (int i = 0; i < 8; i++) Py_XDECREF(strs[i]);
    quant_args_free(&q);
    return result;
}

static PyObject *core_run(PyObject *self, PyObject *args, PyObject *kwargs)
{
    (void)self;
    static char *kwlist[] = {"src", "data", "out_dir", "keep_io_layout", "no_layout_pass",
                             "no_fusions", "batch", "input_shapes", "sample_limit",
                             "mean", "std", "norm_scale", "image_crop", NULL};
    PyObject *src = NULL, *data_arg = NULL, *out_arg = NULL, *shapes_arg = Py_None;
    int keep_io_layout = 0, no_layout_pass = 0, no_fusions = 0, batch = 0;
    quant_args q;
    memset(&q, 0, sizeof q);
    q.calibration_arg = q.eval_arg = q.mean_arg = q.std_arg = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOO|$pppiOiOOip:run", kwlist, &src, &data_arg,
                                     &out_arg, &keep_io_layout, &no_layout_pass, &no_fusions,
                                     &batch, &shapes_arg, &q.sample_limit, &q.mean_arg, &q.std_arg,
                                     &q.norm_scale, &q.image_crop))
        return NULL;
    PyObject *src_path = NULL, *data = NULL, *out_dir = NULL, *input_shapes = NULL, *result = NULL;
    lp_converter *c = NULL;
    if (batch < 0) {
        PyErr_SetString(PyExc_ValueError, "batch must be >= 0 (0: keep dynamic batch)");
        goto done;
    }
    if (!PyUnicode_FSConverter(src, &src_path) || !PyUnicode_FSConverter(data_arg, &data) ||
        !PyUnicode_FSConverter(out_arg, &out_dir) ||
        !utf8_or_none(shapes_arg, "input_shapes", &input_shapes) || !quant_args_convert(&q))
        goto done;
    lp_options opt;
    memset(&opt, 0, sizeof opt);
    opt.keep_io_layout = keep_io_layout;
    opt.no_layout_pass = no_layout_pass;
    opt.no_fusions = no_fusions;
    opt.fix_batch = batch;
    opt.input_shapes = input_shapes ? PyBytes_AS_STRING(input_shapes) : NULL;
    quant_args_apply(&q, &opt);
    c = lp_converter_new(&opt);
    if (!c) {
        PyErr_NoMemory();
        goto done;
    }
    lp_status st;
    Py_BEGIN_ALLOW_THREADS
    st = lp_run_file(c, PyBytes_AS_STRING(src_path), PyBytes_AS_STRING(data), PyBytes_AS_STRING(out_dir));
    Py_END_ALLOW_THREADS
    if (st != LP_OK) {
        raise_conversion_error(c, st);
        goto done;
    }
    const char *report = lp_converter_report_json(c);
    result = PyUnicode_DecodeUTF8(report, (Py_ssize_t)strlen(report), "replace");
done:
    lp_converter_free(c);
    Py_XDECREF(src_path);
    Py_XDECREF(data);
    Py_XDECREF(out_dir);
    Py_XDECREF(input_shapes);
    quant_args_free(&q);
    return result;
}

static PyObject *core_status_name(PyObject *self, PyObject *arg)
{
    (void)self;
    long code = PyLong_AsLong(arg);
    if (code == -1 && PyErr_Occurred()) return NULL;
    if (code < 0 || code >= LP_STATUS_COUNT) {
        PyErr_Format(PyExc_ValueError, "no lp_status %ld", code);
        return NULL;
    }
    return PyUnicode_FromString(lp_status_name((lp_status)code));
}

static PyMethodDef core_methods[] = {
    {"convert", (PyCFunction)(void (*)(void))core_convert, METH_VARARGS | METH_KEYWORDS,
     "convert(src, output=None, *, base_dir=None, keep_io_layout=False, no_layout_pass=False,\n"
     "        no_fusions=False, dump_after=None, batch=0, input_shapes=None, metadata=False,\n"
     "        model_name=None, model_description=None, model_version=None, model_author=None,\n"
     "        model_license=None, image_input=None, color_space=0, mean=None, std=None,\n"
     "        norm_scale=0, uint8_input=False, labels_file=None, labels_output=None,\n"
     "        weights_outside=False, quantize=0, calibration=None, eval_data=None,\n"
     "        sample_limit=0, percentile=0.0, io_type=0, image_crop=False)\n"
     "-> (report_json, tflite_bytes_or_None, dump_text)\n\n"
     "Convert an ONNX model (path or bytes-like) to TFLite. With bytes-like src and no output,\n"
     "returns the .tflite bytes; otherwise writes `output` atomically and returns None for them.\n"
     "Raises ConversionError on failure. The GIL is released during the conversion."},
    {"run", (PyCFunction)(void (*)(void))core_run, METH_VARARGS | METH_KEYWORDS,
     "run(src, data, out_dir, *, keep_io_layout=False, no_layout_pass=False, no_fusions=False,\n"
     "    batch=0, input_shapes=None, sample_limit=0, mean=None, std=None, norm_scale=0,\n"
     "    image_crop=False) -> report_json\n\n"
     "Convert the ONNX file `src` and run it in liteport's reference interpreter on the samples\n"
     "at `data`, writing out_dir/<output>.npy. Raises ConversionError on failure."},
    {"status_name", core_status_name, METH_O, "status_name(code) -> the lp_status_name string"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT,
    "liteport._core",
    "C core of liteport (ONNX -> TFLite); use the liteport package instead.",
    -1,
    core_methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC PyInit__core(void)
{
    PyObject *m = PyModule_Create(&core_module);
    if (!m) return NULL;
    ConversionError = PyErr_NewExceptionWithDoc(
        "liteport._core.ConversionError",
        "An ONNX model could not be converted. Attributes: status (short name of the lp_status),\n"
        "code (its number) and message (the converter's message naming node, op and attribute).",
        PyExc_ValueError, NULL);
    if (!ConversionError || PyModule_AddObjectRef(m, "ConversionError", ConversionError) < 0 ||
        PyModule_AddStringConstant(m, "version", LITEPORT_VERSION) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
