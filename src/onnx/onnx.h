/* onnx: reads an ONNX ModelProto (protobuf wire format) into the IR, without copying weights.
 * Only this folder knows ONNX's wire format and numbering. */
#ifndef LP_ONNX_H
#define LP_ONNX_H

#include "../ir/ir.h"

/* A GRAPH attribute (If/Loop bodies): the undecoded GraphProto bytes, kept for lowering. */
typedef struct lp_onnx_subgraph {
    const uint8_t *data;
    size_t size;
} lp_onnx_subgraph;

/* What an import keeps alive: memory-mapped external data files. */
typedef struct lp_onnx_import {
    lp_map *ext;      /* mapped external data files */
    char **ext_paths; /* their paths, base_dir/location (malloc'd) */
    int n_ext, cap_ext;
    int64_t ir_version;
    const char *producer; /* producer_name (graph arena) */
} lp_onnx_import;

/* Parse the ModelProto in data[0..size) into the empty graph g. `base_dir` is the folder that
 * external data locations are relative to (NULL: a model with external data is refused).
 * Payloads of initializers point into `data` or into mapped external files, which must outlive g;
 * lp_onnx_import_free unmaps the external files. *imp is initialised here (its old contents are
 * ignored). Errors are recorded in g->err; on failure the external files are already unmapped.
 * GRAPH attributes hold an lp_onnx_subgraph* (undecoded bytes inside `data`); TENSORS attributes
 * keep the ids of their constant tensors in `ints`.
 *
 * C keeps typedef names and function names in one namespace, so the type lp_onnx_import and a
 * function of the same name cannot both exist: the function is lp_onnx_import_model, and the
 * function-like macro below makes `lp_onnx_import(g, ...)` call it while a plain
 * `lp_onnx_import imp;` still names the type. */
lp_status lp_onnx_import_model(lp_graph *g, const uint8_t *data, size_t size, const char *base_dir,
                               lp_onnx_import *imp);
#define lp_onnx_import(g, data, size, base_dir, imp) lp_onnx_import_model(g, data, size, base_dir, imp)
/* Unmaps the external files. Safe to call after success or failure, and more than once. */
void lp_onnx_import_free(lp_onnx_import *imp);

#endif
