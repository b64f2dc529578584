/* tflite: writes the lowered IR (TFLite ops only) as a .tflite flatbuffer (schema version 3).
 * Only this folder knows flatbuffers and TFLite's numbering. */
#ifndef LP_TFLITE_H
#define LP_TFLITE_H

#include "../ir/ir.h"
#include "fb.h"

typedef struct lp_tflite_info {
    int n_ops;           /* operators written */
    int n_tensors;
    int n_buffers;       /* including the empty buffer 0 */
    int n_dedup;         /* constant buffers shared with an identical earlier one */
    char min_runtime[16];/* highest runtime version any (op, version) needs */
} lp_tflite_info;

/* a constant buffer stored after the flatbuffer */
typedef struct lp_tflite_tail {
    const lp_tensor *t; /* its payload (plain or lazy) */
    uint64_t offset;    /* from the start of the file, 16-aligned */
    size_t size;
    size_t slot;        /* Buffer.offset field in the flatbuffer */
} lp_tflite_tail;

/* a built model, ready to stream */
typedef struct lp_tflite_out {
    lp_fb fb;
    int outside;          /* 1: constant data after the flatbuffer (Buffer.offset/size) */
    lp_tflite_tail *tail; /* those buffers, in file order */
    int n_tail;
    uint64_t size;        /* bytes lp_tflite_emit writes */
} lp_tflite_out;

/* Build the model for g into o (no initialisation needed; free with lp_tflite_out_free). Weights
 * are referenced, not copied: g and its constant payloads must stay valid until o is emitted.
 * The constant data goes into the flatbuffer unless that would pass 2 GB (flatbuffers' limit) or
 * `outside` is set: then it follows the flatbuffer, 16-byte aligned, found through
 * Buffer.offset/size, with the metadata "buffer_location" = "outside flatbuffers". `meta` (copied;
 * NULL: none) is stored as the TFLITE_METADATA buffer listed in Model.metadata. */
lp_status lp_tflite_build(lp_graph *g, lp_tflite_out *o, int outside, const void *meta, size_t meta_size,
                          lp_tflite_info *info);
/* Streams the file to `write` (which returns 0 on failure); lazy payloads are computed in chunks. */
int lp_tflite_emit(const lp_tflite_out *o, int (*write)(void *ud, const void *p, size_t n), void *ud);
void lp_tflite_out_free(lp_tflite_out *o);

/* TFLite builtin code of a TFLite op */
int lp_tfl_builtin_code(lp_op op);
/* operator version for a node (see FORMATS.md section 3) */
int lp_tfl_op_version(const lp_graph *g, const lp_node *n);

#endif
