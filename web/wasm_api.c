/* The converter's entry points for JavaScript (web/worker.js calls them through the emscripten module
 * built by `make wasm`). One conversion at a time: its output, report and message stay valid until
 * the next lpw_convert. The model bytes are converted in place (lp_convert_buffer: no copy of the
 * weights), so the caller allocates them in the module's heap with malloc and frees them afterwards.
 * External data files are read from `base_dir` in the module's in-memory file system, where the
 * worker puts the data files picked with the model. */
#include <stddef.h>

#include "liteport.h"

static lp_converter *conv;
static const void *out_data;
static size_t out_size;

/* Returns an lp_status. base_dir: the folder of external data files ("" or NULL: none allowed).
 * input_shapes: "" or NULL for none, else the CLI's --input-shape values joined with ';'.
 * batch <= 0: keep a dynamic batch. */
int lpw_convert(const void *data, size_t size, const char *base_dir, int keep_io_layout, int batch,
                const char *input_shapes) {
    lp_converter_free(conv);
    out_data = NULL;
    out_size = 0;
    lp_options opt = {0};
    opt.keep_io_layout = keep_io_layout != 0;
    opt.fix_batch = batch > 0 ? batch : 0;
    opt.input_shapes = input_shapes && input_shapes[0] ? input_shapes : NULL;
    conv = lp_converter_new(&opt);
    if (!conv) return LP_ERR_NOMEM;
    if (base_dir && !base_dir[0]) base_dir = NULL;
    return (int)lp_convert_buffer(conv, data, size, base_dir, &out_data, &out_size);
}

const void *lpw_output(void) { return out_data; }
size_t lpw_output_size(void) { return out_size; }

/* "" before the first conversion */
const char *lpw_report_json(void) { return conv ? lp_converter_report_json(conv) : "{}"; }

/* "out of memory" when the converter itself could not be created */
const char *lpw_message(void) { return conv ? lp_converter_message(conv) : "out of memory"; }

const char *lpw_version(void) { return LITEPORT_VERSION; }
