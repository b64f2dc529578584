/*
 * liteport._core: the CPython binding over include/liteport.h. Thin on purpose: it turns Python
 * arguments into an lp_options struct, runs one conversion with the GIL released, and turns the
 * result into Python objects. Defaults (output paths, option parsing, the report object) live in
 * python/liteport/, where they are easier to read and test.
 *
 *   convert(src, output=None, *, base_dir=None, keep_io_layout=False, no_layout_pass=False,
 *           no_fusions=False, dump_after=None, batch=0, input_shapes=None, quantize=0,
 *           calibration=None, eval_data=None, sample_limit=0, percentile=0.0, io_type=0,
 *           image_mean=None, image_std=None, image_crop=False)
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

static int is_path_like(PyObject *o)
{
    return PyUnicode_Check(o) || PyBytes_Check(o) || PyObject_HasAttrString(o, "__fspath__");
}

/* The quantization options shared by convert() and run(): Python objects in, owned bytes out. */
typedef struct quant_args {
    int quantize, sample_limit, io_type, image_crop;
    float percentile;
    PyObject *calibration_arg, *eval_arg, *mean_arg, *std_arg; /* borrowed */
    PyObject *calibration, *eval_data, *image_mean, *image_std; /* owned bytes or NULL */
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
    return fs_path_or_none(q->calibration_arg, &q->calibration) &&
           fs_path_or_none(q->eval_arg, &q->eval_data) &&
           utf8_or_none(q->mean_arg, "image_mean", &q->image_mean) &&
           utf8_or_none(q->std_arg, "image_std", &q->image_std);
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
    opt->image_mean = q->image_mean ? PyBytes_AS_STRING(q->image_mean) : NULL;
    opt->image_std = q->image_std ? PyBytes_AS_STRING(q->image_std) : NULL;
}

static void quant_args_free(quant_args *q)
{
    Py_XDECREF(q->calibration);
    Py_XDECREF(q->eval_data);
    Py_XDECREF(q->image_mean);
    Py_XDECREF(q->image_std);
}

static PyObject *core_convert(PyObject *self, PyObject *args, PyObject *kwargs)
{
    (void)self;
    static char *kwlist[] = {"src",        "output",     "base_dir", "keep_io_layout",
                             "no_layout_pass", "no_fusions", "dump_after", "batch",
                             "input_shapes", "quantize", "calibration", "eval_data",
                             "sample_limit", "percentile", "io_type", "image_mean",
                             "image_std", "image_crop", NULL};
    PyObject *src = NULL, *output_arg = Py_None, *base_dir_arg = Py_None;
    PyObject *dump_arg = Py_None, *shapes_arg = Py_None;
    int keep_io_layout = 0, no_layout_pass = 0, no_fusions = 0, batch = 0;
    quant_args q;
    memset(&q, 0, sizeof q);
    q.calibration_arg = q.eval_arg = q.mean_arg = q.std_arg = Py_None;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|O$OpppOiOiOOifiOOp:convert", kwlist, &src,
                                     &output_arg, &base_dir_arg, &keep_io_layout,
                                     &no_layout_pass, &no_fusions, &dump_arg, &batch,
                                     &shapes_arg, &q.quantize, &q.calibration_arg, &q.eval_arg,
                                     &q.sample_limit, &q.percentile, &q.io_type, &q.mean_arg,
                                     &q.std_arg, &q.image_crop))
        return NULL;
    if (batch < 0) {
        PyErr_SetString(PyExc_ValueError, "batch must be >= 0 (0: keep dynamic batch)");
        return NULL;
    }

    PyObject *src_path = NULL, *out_path = NULL, *base_dir = NULL, *dump_after = NULL,
             *input_shapes = NULL, *result = NULL;
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
    quant_args_free(&q);
    return result;
}

static PyObject *core_run(PyObject *self, PyObject *args, PyObject *kwargs)
{
    (void)self;
    static char *kwlist[] = {"src", "data", "out_dir", "keep_io_layout", "no_layout_pass",
                             "no_fusions", "batch", "input_shapes", "sample_limit",
                             "image_mean", "image_std", "image_crop", NULL};
    PyObject *src = NULL, *data_arg = NULL, *out_arg = NULL, *shapes_arg = Py_None;
    int keep_io_layout = 0, no_layout_pass = 0, no_fusions = 0, batch = 0;
    quant_args q;
    memset(&q, 0, sizeof q);
    q.calibration_arg = q.eval_arg = q.mean_arg = q.std_arg = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOO|$pppiOiOOp:run", kwlist, &src, &data_arg,
                                     &out_arg, &keep_io_layout, &no_layout_pass, &no_fusions,
                                     &batch, &shapes_arg, &q.sample_limit, &q.mean_arg, &q.std_arg,
                                     &q.image_crop))
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
     "        no_fusions=False, dump_after=None, batch=0, input_shapes=None)\n"
     "-> (report_json, tflite_bytes_or_None, dump_text)\n\n"
     "Convert an ONNX model (path or bytes-like) to TFLite. With bytes-like src and no output,\n"
     "returns the .tflite bytes; otherwise writes `output` atomically and returns None for them.\n"
     "Raises ConversionError on failure. The GIL is released during the conversion."},
    {"run", (PyCFunction)(void (*)(void))core_run, METH_VARARGS | METH_KEYWORDS,
     "run(src, data, out_dir, *, keep_io_layout=False, no_layout_pass=False, no_fusions=False,\n"
     "    batch=0, input_shapes=None, sample_limit=0, image_mean=None, image_std=None,\n"
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
