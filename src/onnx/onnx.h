/* onnx: reads an ONNX ModelProto (protobuf wire format) into the IR, without copying weights.
 * Only this folder knows ONNX's wire format and numbering. */
#ifndef LP_ONNX_H
#define LP_ONNX_H

#include "../ir/ir.h"

struct lp_onnx_import;

/* Where subgraphs are read from later: the model bytes and what external data needs. */
typedef struct lp_onnx_source {
    const uint8_t *buf; /* the whole model (byte offsets in messages are relative to it) */
    size_t size;
    const char *base_dir;        /* arena copy, or NULL */
    struct lp_onnx_import *imp;  /* the caller's import state (external files mapped so far) */
} lp_onnx_source;

/* A GRAPH attribute (If/Loop/Scan body): the undecoded GraphProto bytes, read by
 * lp_onnx_import_body when a control-flow op inlines it.
 * The names a body reads from enclosing scopes (ONNX outer-scope references, also those of
 * subgraphs nested in it) are resolved at import: the importer appends them to the owning node's
 * inputs after its own, so outer values stay live, ordered and renamed correctly through every
 * pass. outer[k] is the value of the owner's input outer_in[k]. */
typedef struct lp_onnx_subgraph {
    const uint8_t *data;
    size_t size;
    int n_formal;          /* the owner's own inputs (its n_in less the appended outer values) */
    int n_outer;
    const char **outer;    /* names as the body spells them */
    const int *outer_in;   /* index into the owner's inputs */
    const lp_onnx_source *src;
} lp_onnx_subgraph;

/* A body inlined into the graph by lp_onnx_import_body. */
typedef struct lp_onnx_body {
    int n_in;   /* inputs the body declares */
    int n_out;
    int *out;   /* tensor ids of the body's outputs, in order (graph arena) */
    int node0;  /* the body's nodes are [node0, g->n_n) right after the call */
} lp_onnx_body;

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
 * GRAPH attributes hold an lp_onnx_subgraph* (undecoded bytes inside `data`, and a pointer to
 * *imp: keep both until the graph's subgraphs are no longer inlined); TENSORS attributes keep the
 * ids of their constant tensors in `ints`.
 *
 * C keeps typedef names and function names in one namespace, so the type lp_onnx_import and a
 * function of the same name cannot both exist: the function is lp_onnx_import_model, and the
 * function-like macro below makes `lp_onnx_import(g, ...)` call it while a plain
 * `lp_onnx_import imp;` still names the type. */
lp_status lp_onnx_import_model(lp_graph *g, const uint8_t *data, size_t size, const char *base_dir,
                               lp_onnx_import *imp);
#define lp_onnx_import(g, data, size, base_dir, imp) lp_onnx_import_model(g, data, size, base_dir, imp)
/* Inline a subgraph of node `owner` into g (which it was imported into): its initializers, nodes
 * and intermediate values are added with names prefixed by `prefix` (which keeps repeated
 * inlining, e.g. an unrolled Loop, apart), its declared inputs are bound by position to the
 * tensors bind[0..n_bind) (the body must declare exactly n_bind inputs), and the names it reads
 * from enclosing scopes to the owner's inputs (see lp_onnx_subgraph). Nodes nested subgraphs get
 * the same treatment as at import. The new nodes are ONNX ops with unknown output types: the
 * caller infers them. Errors are recorded in g->err. */
lp_status lp_onnx_import_body(lp_graph *g, const lp_onnx_subgraph *sg, const lp_node *owner, const int *bind,
                              int n_bind, const char *prefix, lp_onnx_body *body);

/* Unmaps the external files. Safe to call after success or failure, and more than once. */
void lp_onnx_import_free(lp_onnx_import *imp);

#endif
