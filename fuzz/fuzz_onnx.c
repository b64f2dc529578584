/* Fuzz target: the ONNX reader alone (protobuf wire format -> IR), then the graph's topological
 * sort. Any input must give LP_OK or an error with a one-line printable message; never a crash,
 * a sanitizer report or a leak. Built by fuzz/run.py (libFuzzer) and by the Makefile as a replay
 * program (fuzz/replay.c). External data is refused (no base folder): the target reads no files. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "onnx/onnx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lp_err err;
    lp_err_clear(&err);
    lp_graph *g = lp_graph_new(&err);
    if (!g) return 0;
    lp_onnx_import imp;
    lp_status st = lp_onnx_import(g, data, size, NULL, &imp);
    if (st == LP_OK) st = lp_graph_toposort(g);
    if (st == LP_OK) st = lp_graph_verify(g, "import");
    fuzz_check_status(st, err.code, err.msg);
    lp_graph_free(g);
    lp_onnx_import_free(&imp);
    return 0;
}
