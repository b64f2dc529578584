/* ir: the graph of tensors and nodes every stage works on.
 *
 * Tensors and nodes live in arrays and refer to each other by integer id. A graph holds ONNX ops
 * before lowering and TFLite ops after (both in one lp_op enum). Constant payloads may point into
 * the memory-mapped model file: they are never freed by the graph. Everything else the graph
 * allocates comes from its arena and is freed at once by lp_graph_free.
 */
#ifndef LP_IR_H
#define LP_IR_H

#include "../base/base.h"

/* ---- element types (our own numbering; onnx/ and tflite/ translate) ---- */
typedef enum lp_dtype {
    LP_DT_UNDEF = 0,
    LP_DT_F32,
    LP_DT_F16,
    LP_DT_BF16,
    LP_DT_F64,
    LP_DT_I8,
    LP_DT_I16,
    LP_DT_I32,
    LP_DT_I64,
    LP_DT_U8,
    LP_DT_U16,
    LP_DT_U32,
    LP_DT_U64,
    LP_DT_BOOL,
    LP_DT_STRING,
    LP_DT_C64,
    LP_DT_C128,
    LP_DT_F8,  /* any float8 variant */
    LP_DT_I4,
    LP_DT_U4,
    LP_DT_OTHER, /* a type TFLite has no counterpart for (e.g. float4) */
    LP_DT_COUNT
} lp_dtype;

size_t lp_dtype_size(lp_dtype t); /* bytes per element; 0 for strings / sub-byte / undefined */
const char *lp_dtype_name(lp_dtype t);
int lp_dtype_is_float(lp_dtype t);
int lp_dtype_is_int(lp_dtype t); /* signed or unsigned integer (not bool) */

/* ---- op enum: ONNX ops, then TFLite ops ---- */
typedef enum lp_op {
#define LP_ONNX_OP(name, min_in, max_in, min_out, max_out) LP_OP_##name,
#include "../ops/onnx_ops.def"
#undef LP_ONNX_OP
    LP_OP_ONNX_END,
#define LP_TFL_OP(name, code, opt) LP_TFL_##name,
#include "../ops/tfl_ops.def"
#undef LP_TFL_OP
    LP_OP_COUNT
} lp_op;

const char *lp_op_name(lp_op op);
int lp_op_is_tfl(lp_op op);
/* ONNX op by type name; -1 when unknown. */
int lp_op_from_onnx_name(const char *name);

/* ---- dims: >= 0 known; < 0 dynamic, where -k names symbol k (equal symbols are equal sizes) ---- */
#define LP_DIM_IS_KNOWN(d) ((d) >= 0)
/* Symbol 1 is reserved: -1 is a dynamic size that is not known to equal any other (lowerings
 * write -1 when they know nothing about a size). Real symbols are 2 and up. */
#define LP_DIM_UNKNOWN (-1)

/* ---- attributes (ONNX) ---- */
typedef enum lp_attr_type {
    LP_ATTR_UNDEF = 0,
    LP_ATTR_FLOAT,
    LP_ATTR_INT,
    LP_ATTR_STRING,
    LP_ATTR_TENSOR,
    LP_ATTR_GRAPH,
    LP_ATTR_FLOATS,
    LP_ATTR_INTS,
    LP_ATTR_STRINGS,
    LP_ATTR_TENSORS,
    LP_ATTR_GRAPHS,
    LP_ATTR_OTHER
} lp_attr_type;

typedef struct lp_attr {
    const char *name;
    lp_attr_type type;
    int64_t i;         /* INT */
    float f;           /* FLOAT */
    const char *s;     /* STRING (NUL-terminated copy) */
    int n;             /* element count of INTS / FLOATS / STRINGS / GRAPHS */
    const int64_t *ints;
    const float *floats;
    const char **strings;
    int tensor;        /* TENSOR: id of a constant tensor in the graph */
    const void *graph; /* GRAPH: opaque handle owned by the importer (see onnx/onnx.h) */
    const void **graphs; /* GRAPHS */
} lp_attr;

/* ---- symbolic value of a small integer tensor (shape arithmetic) ---- */
#define LP_MAX_SV 16
typedef struct lp_symval {
    int n;
    int64_t v[LP_MAX_SV];  /* the value where sym[i] == 0 */
    int32_t sym[LP_MAX_SV];/* > 0: element i equals the size of symbol sym[i] */
} lp_symval;

/* ---- quantization parameters (a quantized model's int8/uint8/int32 tensors) ---- */
typedef struct lp_qparams {
    int n;             /* number of scales: 1 per tensor, or one per slice along `dim` */
    int dim;           /* quantized_dimension (per-channel) */
    float *scale;      /* n scales; real = scale * (q - zero_point) */
    int64_t *zero_point; /* n zero points */
} lp_qparams;

/* ---- tensors ---- */
enum {
    LP_T_INPUT = 1,   /* graph input */
    LP_T_OUTPUT = 2,  /* graph output */
    LP_T_CONST = 4,   /* has a constant payload */
    LP_T_OWNED = 8,   /* payload allocated by liteport (not the mapped file) */
    LP_T_OPTIONAL = 16/* an empty name: absent optional input */
};

typedef struct lp_tensor {
    const char *name;
    lp_dtype dtype;
    int rank;                  /* -1: unknown rank */
    int64_t dims[LP_MAX_RANK]; /* see LP_DIM_IS_KNOWN */
    const void *data;          /* constant payload, NULL if not constant */
    size_t nbytes;             /* payload size */
    int producer;              /* node id, -1 for inputs and constants */
    int flags;                 /* LP_T_* */
    lp_symval *sv;             /* known (partly symbolic) value, or NULL */
    int8_t io_perm[LP_MAX_RANK]; /* graph I/O: tflite dim i = onnx dim io_perm[i] */
    int has_io_perm;           /* io_perm is set (layout changed) */
    float qscale;              /* reserved for quantisation */
    const struct lp_lazy *lazy;/* lazily computed payload (data is then NULL), see below */
    lp_qparams *q;             /* quantization parameters (arena), or NULL */
} lp_tensor;

/* ---- parameters of TFLite ops (meaning per op, see tflite/README.md) ---- */
typedef struct lp_tfl_params {
    int padding;       /* 0 SAME, 1 VALID */
    int stride_w, stride_h;
    int dil_w, dil_h;
    int filter_w, filter_h;
    int act;           /* fused activation: 0 none, 1 relu, 2 relu_n1_to_1, 3 relu6 */
    int depth_mult;
    int axis;
    int keep_dims;
    int align_corners, half_pixel;
    float alpha, beta;
    int adj_x, adj_y;
    int batch_dims;
    int num;           /* values_count / num_splits / num */
    int in_type, out_type; /* lp_dtype */
    int block_size;
    int mode;
    int exclusive, reverse;
    int begin_mask, end_mask, ellipsis_mask, new_axis_mask, shrink_axis_mask, offset;
    int approximate;
    int keep_num_dims;
    int n_squeeze;
    int squeeze_dims[LP_MAX_RANK];
    int n_new_shape;   /* RESHAPE: new_shape option (-1 entries allowed); 0 = not written */
    int new_shape[LP_MAX_RANK];
    int stride_d, dil_d; /* CONV_3D, CONV_3D_TRANSPOSE: depth stride and dilation */
    int radius;        /* LOCAL_RESPONSE_NORMALIZATION: radius, lrn_bias, alpha, beta */
    float lrn_bias;
} lp_tfl_params;

typedef struct lp_node {
    lp_op op;
    const char *name;
    int n_in, n_out;
    int *in;           /* tensor ids; -1 = absent optional input */
    int *out;
    int n_attrs;
    lp_attr *attrs;    /* ONNX attributes */
    lp_tfl_params p;   /* TFLite parameters */
    int origin;        /* id of the ONNX node this came from (messages), -1 if none */
    int opset;         /* opset of the ONNX domain the node was read with */
    int dead;          /* removed; dropped by lp_graph_toposort */
    int layout;        /* TRANSPOSE inserted by lowering around a channels-last kernel */
} lp_node;

typedef struct lp_graph {
    lp_arena arena;
    lp_err *err;
    lp_tensor *t;
    int n_t, cap_t;
    lp_node *n;
    int n_n, cap_n;
    lp_ivec inputs, outputs;  /* tensor ids, in ONNX order */
    int opset;                /* default-domain opset */
    int n_sym;                /* symbols are 1..n_sym */
    const char **sym_names;   /* dim_param names (NULL for anonymous), index 1..n_sym */
    int cap_sym;
    /* names of the original ONNX nodes, for messages after lowering */
    const char **origin_names;
    const char **origin_ops;
    int n_origin, cap_origin;
} lp_graph;

/* graph life cycle */
lp_graph *lp_graph_new(lp_err *err); /* NULL when out of memory */
void lp_graph_free(lp_graph *g);

/* tensors: return the new id, or -1 (error recorded) */
int lp_graph_add_tensor(lp_graph *g, const char *name, lp_dtype dt, int rank, const int64_t *dims);
/* Make room for `extra` more tensors so that lp_tensor pointers stay valid while they are added
 * (the lowering driver reserves LP_LOWER_RESERVE before each node). 0 on out of memory. */
int lp_graph_reserve(lp_graph *g, int extra);
#define LP_LOWER_RESERVE 4096
/* A constant tensor. `data` is not copied unless `copy` is set. */
int lp_graph_add_const(lp_graph *g, const char *name, lp_dtype dt, int rank, const int64_t *dims,
                       const void *data, size_t nbytes, int copy);
/* A new symbol (dynamic dimension); returns its negative dim value (-k). */
int64_t lp_graph_new_sym(lp_graph *g, const char *name);

/* nodes: return the new id, or -1 (error recorded). Arrays are copied. */
int lp_graph_add_node(lp_graph *g, lp_op op, const char *name, const int *in, int n_in, const int *out,
                      int n_out);
/* Every live node that reads tensor `from` reads `to` instead (graph outputs are not touched). */
void lp_graph_replace_uses(lp_graph *g, int from, int to);
/* Replace node inputs/outputs (arrays copied). 0 on failure. */
int lp_node_set_inputs(lp_graph *g, int node, const int *in, int n_in);

/* An ONNX node record for messages; returns origin id. */
int lp_graph_add_origin(lp_graph *g, const char *name, const char *op_type);

/* Shape limits every tensor obeys (checked where shapes come from a file or from inference):
 * rank <= LP_MAX_RANK, each known dim <= LP_MAX_DIM, and the product of the known non-zero dims
 * <= LP_MAX_ELEMENTS, so that products of any of a tensor's dims never overflow int64; a negative
 * dim must name an existing symbol of g (g NULL: negative dims are not checked).
 * Returns NULL when `dims` obeys them, else what is wrong ("a dimension above ..."). */
const char *lp_dims_check(const lp_graph *g, int rank, const int64_t *dims);
/* element count of a tensor with known dims; -1 if unknown/dynamic or overflowing */
int64_t lp_tensor_numel(const lp_tensor *t);
int lp_tensor_is_const(const lp_graph *g, int id);
int lp_tensor_shape_known(const lp_tensor *t);
/* shape text like "[batch,3,224,224]" into buf */
const char *lp_shape_str(const lp_graph *g, const lp_tensor *t, char *buf, size_t n);

/* consumers: CSR index rebuilt on demand */
typedef struct lp_uses {
    int *start; /* n_t + 1 */
    int *list;  /* node ids */
} lp_uses;
int lp_uses_build(const lp_graph *g, lp_uses *u); /* 0 on out of memory */
void lp_uses_free(lp_uses *u);
static inline int lp_uses_count(const lp_uses *u, int t) { return u->start[t + 1] - u->start[t]; }

/* Sort live nodes topologically, dropping dead ones. Fails on a cycle. */
lp_status lp_graph_toposort(lp_graph *g);

/* attributes */
const lp_attr *lp_node_attr(const lp_node *n, const char *name);

/* value access for constant payloads (any numeric dtype) */
double lp_get_f64(lp_dtype dt, const void *data, int64_t i);
int64_t lp_get_i64(lp_dtype dt, const void *data, int64_t i);
void lp_set_f64(lp_dtype dt, void *data, int64_t i, double v);
void lp_set_i64(lp_dtype dt, void *data, int64_t i, int64_t v);

/* ---- lazily transformed constants (lazy.c) ----
 * Lowering permutes weights (OIHW -> OHWI, [K,N] -> [N,K]), BatchNormalization folding scales them
 * and the layout pass reorders rows or columns. For a large payload these transforms are not run
 * when the pass asks for them: the new constant records "this view of those bytes" and the writer
 * computes it in chunks while streaming the file, so memory stays near the size of the model's
 * mapped weights. A lazy payload is the row-major enumeration of its virtual dims, element i at
 * base + es * (offset + sum_k idx_k * stride_k); one virtual dim may read its index through gmap;
 * float32 payloads may be multiplied by scale[soffset + sum_k idx_k * sstride_k]. The tensor's own
 * dims are independent of the virtual dims (a reshape is free). Payloads under LP_LAZY_MIN_BYTES
 * are computed at once. Invariant: t->lazy != NULL implies t->data == NULL. Code that reads
 * t->data of a constant that may be lazy calls lp_tensor_bytes first. */
#define LP_LAZY_MAX_DIMS 16
typedef struct lp_lazy {
    const uint8_t *base;              /* source bytes (mapped file or arena), never lazy themselves */
    size_t es;                        /* element size in bytes */
    int rank;                         /* virtual dims, >= 1 */
    int64_t dims[LP_LAZY_MAX_DIMS];
    int64_t stride[LP_LAZY_MAX_DIMS]; /* source element stride per virtual dim */
    int64_t offset;                   /* source element offset */
    int gaxis;                        /* virtual dim whose index reads gmap[idx], -1: none */
    const int64_t *gmap;
    const float *scale;               /* float32 only: multiplier table, NULL: none */
    int64_t sstride[LP_LAZY_MAX_DIMS];/* scale index stride per virtual dim */
    int64_t soffset;
} lp_lazy;

/* New constant `name`: constant `src` viewed with shape vdims (same element count) and permuted by
 * perm, i.e. dims vdims[perm[i]]. Returns the tensor id, or -1 (error recorded). */
int lp_graph_add_permuted(lp_graph *g, const char *name, int src, int vrank, const int64_t *vdims,
                          const int *perm);
/* New float32 constant: float32 `src` viewed as vdims, element at index (i_0..) multiplied by
 * scale[sum_k i_k * sstride[k]] (scale has n_scale entries and is copied). Same dims as vdims. */
int lp_graph_add_scaled(lp_graph *g, const char *name, int src, int vrank, const int64_t *vdims,
                        const int64_t *sstride, const float *scale, int64_t n_scale);
/* New constant: `src` viewed as vdims; along `axis` entry i is source entry index[i] (n_index
 * entries, each in range; copied). Dims are vdims with dims[axis] = n_index. */
int lp_graph_add_gathered(lp_graph *g, const char *name, int src, int vrank, const int64_t *vdims, int axis,
                          const int64_t *index, int64_t n_index);
/* The bytes of constant `id`, computed now (into the arena) if the payload is lazy; after this the
 * tensor is an ordinary constant. NULL when out of memory (error recorded). */
const void *lp_tensor_bytes(lp_graph *g, int id);
/* Copies bytes [off, off + n) of constant t's payload (lazy or not) into dst; the range must lie
 * inside the payload. */
void lp_tensor_read(const lp_tensor *t, uint64_t off, void *dst, size_t n);
/* 1 when two lazy payloads are the same view of the same bytes (so the same bytes). */
int lp_lazy_same(const lp_lazy *a, const lp_lazy *b);

/* IR text dump */
void lp_graph_dump(const lp_graph *g, lp_buf *out);
/* Checks internal invariants (ids in range, one producer per tensor, order). */
lp_status lp_graph_verify(lp_graph *g, const char *after_pass);

#endif
