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

/* Build the flatbuffer for g into fb (initialised by the caller). Weights are referenced, not
 * copied: g's constant payloads must stay valid until the flatbuffer is emitted. */
lp_status lp_tflite_build(lp_graph *g, lp_fb *fb, lp_tflite_info *info);
/* The same with a TFLITE_METADATA buffer (`meta`, copied; NULL: none) listed in Model.metadata. */
lp_status lp_tflite_build_meta(lp_graph *g, lp_fb *fb, lp_tflite_info *info, const void *meta, size_t meta_size);

/* TFLite builtin code of a TFLite op */
int lp_tfl_builtin_code(lp_op op);
/* operator version for a node (see FORMATS.md section 3) */
int lp_tfl_op_version(const lp_graph *g, const lp_node *n);

#endif
