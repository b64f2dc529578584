/* legalize: element types the TFLite kernels cannot run.
 *
 * Lowering emits TFLite ops in ONNX's element types. Many TFLite kernels only run some of them
 * (int8 ADD even aborts without quantization parameters; no arithmetic kernel takes float64). For
 * every op whose data tensors have a type its kernel lacks, the data inputs are cast to the
 * nearest type it has (float16/float64/bfloat16 -> float32; small integers -> int32; unsigned
 * 32/64-bit -> int64) and the results cast back, so the model's inputs and outputs keep ONNX's
 * types. The table below says, per op, which inputs and outputs carry data and which types the
 * kernel runs; ops without a row are left alone. */
#include <stdio.h>
#include <string.h>

#include "passes.h"

#define B(t) (1u << (t))
#define F32 B(LP_DT_F32)
#define F64 B(LP_DT_F64)
#define I32 B(LP_DT_I32)
#define I64 B(LP_DT_I64)
#define I16 B(LP_DT_I16)
#define I8 B(LP_DT_I8)
#define U8 B(LP_DT_U8)
#define U16 B(LP_DT_U16)
#define U32 B(LP_DT_U32)
#define BOOL B(LP_DT_BOOL)
#define MOVE (F32 | I32 | I64 | I16 | I8 | U8 | BOOL) /* data movement kernels */

typedef struct kernel_types {
    lp_op op;
    uint32_t types;    /* element types the kernel runs */
    uint16_t data_in;  /* input positions that carry data (bit i = input i) */
    uint16_t data_out; /* output positions that carry data */
} kernel_types;

static const kernel_types table[] = {
    {LP_TFL_ADD, F32 | I32 | I64, 3, 1},
    {LP_TFL_SUB, F32 | I32 | I64, 3, 1},
    {LP_TFL_MUL, F32 | I32 | I64, 3, 1},
    {LP_TFL_DIV, F32 | I32, 3, 1},
    {LP_TFL_FLOOR_DIV, F32 | I32, 3, 1}, /* no int64 kernel */
    {LP_TFL_FLOOR_MOD, F32 | I32 | I64, 3, 1},
    {LP_TFL_POW, F32 | I32, 3, 1},
    {LP_TFL_SQUARED_DIFFERENCE, F32 | I32, 3, 1},
    {LP_TFL_MAXIMUM, F32 | I32 | I64 | I16 | I8 | U8, 3, 1},
    {LP_TFL_MINIMUM, F32 | I32 | I64 | I16 | I8 | U8, 3, 1},
    {LP_TFL_EQUAL, F32 | I32 | I64 | BOOL, 3, 0},
    {LP_TFL_NOT_EQUAL, F32 | I32 | I64 | BOOL, 3, 0},
    {LP_TFL_LESS, F32 | I32 | I64, 3, 0},
    {LP_TFL_LESS_EQUAL, F32 | I32 | I64, 3, 0},
    {LP_TFL_GREATER, F32 | I32 | I64, 3, 0},
    {LP_TFL_GREATER_EQUAL, F32 | I32 | I64, 3, 0},
    {LP_TFL_NEG, F32 | I32 | I64, 1, 1},
    {LP_TFL_ABS, F32 | I32, 1, 1},
    {LP_TFL_SIGN, F32 | F64 | I32, 1, 1},
    {LP_TFL_ATAN2, F32, 3, 1},
    {LP_TFL_ZEROS_LIKE, F32 | I32 | I64, 1, 1},
    {LP_TFL_BITWISE_XOR, I8 | I16 | I32 | U8 | U16 | U32, 3, 1},
    {LP_TFL_RIGHT_SHIFT, I8 | I16 | I32 | U8 | U16 | U32, 3, 1},
    {LP_TFL_EXP, F32, 1, 1},
    {LP_TFL_LOG, F32, 1, 1},
    {LP_TFL_SQRT, F32, 1, 1},
    {LP_TFL_RSQRT, F32, 1, 1},
    {LP_TFL_SIN, F32, 1, 1},
    {LP_TFL_COS, F32, 1, 1},
    {LP_TFL_TANH, F32, 1, 1},
    {LP_TFL_LOGISTIC, F32, 1, 1},
    {LP_TFL_FLOOR, F32, 1, 1},
    {LP_TFL_CEIL, F32, 1, 1},
    {LP_TFL_ROUND, F32, 1, 1},
    {LP_TFL_ELU, F32, 1, 1},
    {LP_TFL_GELU, F32, 1, 1},
    {LP_TFL_HARD_SWISH, F32, 1, 1},
    {LP_TFL_LEAKY_RELU, F32, 1, 1},
    {LP_TFL_SQUARE, F32, 1, 1},
    {LP_TFL_RELU, F32, 1, 1},
    {LP_TFL_RELU6, F32, 1, 1},
    {LP_TFL_RELU_N1_TO_1, F32, 1, 1},
    {LP_TFL_PRELU, F32, 3, 1},
    {LP_TFL_SUM, F32 | I32 | I64, 1, 1},
    {LP_TFL_MEAN, F32 | I32 | I64, 1, 1},
    {LP_TFL_REDUCE_PROD, F32 | I32 | I64, 1, 1},
    {LP_TFL_REDUCE_MAX, F32 | I32 | I64 | I8 | U8, 1, 1},
    {LP_TFL_REDUCE_MIN, F32 | I32 | I64 | I8 | U8, 1, 1},
    {LP_TFL_ARG_MAX, F32 | I32 | U8 | I8 | BOOL, 1, 0}, /* no int64 input: "Unknown input type" */
    {LP_TFL_ARG_MIN, F32 | I32 | U8 | I8 | BOOL, 1, 0},
    {LP_TFL_SOFTMAX, F32, 1, 1},
    {LP_TFL_LOG_SOFTMAX, F32, 1, 1},
    {LP_TFL_CUMSUM, F32 | I32 | I64, 1, 1},
    {LP_TFL_TOPK_V2, F32 | I32 | I64 | U8 | I8, 1, 1},
    {LP_TFL_ONE_HOT, F32 | I32 | I64 | I16 | I8 | U8 | BOOL, 12, 1},
    {LP_TFL_REVERSE_SEQUENCE, F32 | I32 | I64 | I16 | U8, 1, 1},
    {LP_TFL_WHERE, BOOL, 1, 0},
    {LP_TFL_FULLY_CONNECTED, F32, 3, 1},
    {LP_TFL_CONV_2D, F32, 3, 1},
    {LP_TFL_DEPTHWISE_CONV_2D, F32, 3, 1},
    {LP_TFL_TRANSPOSE_CONV, F32, 4 | 2, 1},
    {LP_TFL_BATCH_MATMUL, F32, 3, 1},
    {LP_TFL_AVERAGE_POOL_2D, F32, 1, 1},
    {LP_TFL_MAX_POOL_2D, F32, 1, 1},
    {LP_TFL_L2_NORMALIZATION, F32, 1, 1},
    {LP_TFL_LOCAL_RESPONSE_NORMALIZATION, F32, 1, 1},
    {LP_TFL_CONV_3D, F32, 3, 1},
    {LP_TFL_CONV_3D_TRANSPOSE, F32, 4 | 2, 1},
    {LP_TFL_L2_POOL_2D, F32, 1, 1},
    {LP_TFL_RESIZE_BILINEAR, F32, 1, 1},
    {LP_TFL_RESIZE_NEAREST_NEIGHBOR, F32 | I32 | I64 | I8 | U8 | I16, 1, 1},
    {LP_TFL_SELECT_V2, MOVE | F64 | B(LP_DT_F16) | U16 | U32 | B(LP_DT_U64), 6, 1}, /* any element size */
    {LP_TFL_RESHAPE, MOVE, 1, 1},
    {LP_TFL_TRANSPOSE, MOVE, 1, 1},
    {LP_TFL_CONCATENATION, MOVE, 0xffff, 1},
    {LP_TFL_GATHER, MOVE, 1, 1},
    {LP_TFL_GATHER_ND, MOVE, 1, 1},
    {LP_TFL_SLICE, MOVE, 1, 1},
    {LP_TFL_STRIDED_SLICE, MOVE, 1, 1},
    {LP_TFL_PAD, MOVE, 1, 1},
    {LP_TFL_PADV2, MOVE, 5, 1},
    {LP_TFL_MIRROR_PAD, MOVE, 1, 1},
    {LP_TFL_TILE, MOVE, 1, 1},
    {LP_TFL_BROADCAST_TO, MOVE, 1, 1},
    {LP_TFL_SPLIT, MOVE, 2, 0xffff},
    {LP_TFL_SPLIT_V, MOVE, 1, 0xffff},
    {LP_TFL_SQUEEZE, MOVE, 1, 1},
    {LP_TFL_EXPAND_DIMS, MOVE, 1, 1},
    {LP_TFL_PACK, MOVE, 0xffff, 1},
    {LP_TFL_UNPACK, MOVE, 1, 0xffff},
    {LP_TFL_REVERSE_V2, MOVE, 1, 1},
    {LP_TFL_DEPTH_TO_SPACE, MOVE, 1, 1},
    {LP_TFL_SPACE_TO_DEPTH, MOVE, 1, 1},
    {LP_TFL_SCATTER_ND, MOVE, 2, 1},
    {LP_TFL_FILL, MOVE, 2, 1},
    {LP_TFL_RANGE, F32 | I32 | I64, 7, 1},
    {LP_TFL_NON_MAX_SUPPRESSION_V4, F32 | I16 | I8, 1 | 2 | 8 | 16, 0}, /* boxes, scores, thresholds */
};

static const kernel_types *entry(lp_op op) {
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].op == op) return &table[i];
    return NULL;
}

/* the closest type the kernel runs, or LP_DT_UNDEF */
static lp_dtype promote(lp_dtype d, uint32_t types) {
    static const lp_dtype floats[] = {LP_DT_F32};
    static const lp_dtype small_ints[] = {LP_DT_I32, LP_DT_I64};
    static const lp_dtype wide_ints[] = {LP_DT_I64, LP_DT_I32};
    const lp_dtype *cand;
    size_t n;
    switch (d) {
    case LP_DT_F16: case LP_DT_F64: case LP_DT_BF16: cand = floats, n = 1; break;
    case LP_DT_I8: case LP_DT_U8: case LP_DT_I16: case LP_DT_U16: case LP_DT_BOOL: cand = small_ints, n = 2; break;
    case LP_DT_I32: case LP_DT_U32: case LP_DT_U64: case LP_DT_I64: cand = wide_ints, n = 2; break;
    default: return LP_DT_UNDEF;
    }
    for (size_t i = 0; i < n; i++)
        if (types & B(cand[i])) return cand[i];
    return LP_DT_UNDEF;
}

/* a constant converted to another element type (new tensor) */
static int convert_const(lp_graph *g, int t, lp_dtype to) {
    if (!lp_tensor_bytes(g, t)) return -1; /* a lazy payload (ir.h) is read element by element below */
    const lp_tensor *T = &g->t[t];
    int64_t n = lp_tensor_numel(T);
    if (n < 0) return -1;
    void *d = lp_arena_alloc(&g->arena, lp_dtype_size(to) * (size_t)(n ? n : 1));
    if (!d) return -1;
    for (int64_t i = 0; i < n; i++) {
        if (lp_dtype_is_float(T->dtype)) lp_set_f64(to, d, i, lp_get_f64(T->dtype, T->data, i));
        else lp_set_i64(to, d, i, lp_get_i64(T->dtype, T->data, i));
    }
    char name[600];
    snprintf(name, sizeof name, "%.400s/%s", T->name, lp_dtype_name(to));
    return lp_graph_add_const(g, name, to, T->rank, T->dims, d, lp_dtype_size(to) * (size_t)n, 0);
}

static int add_cast(lp_graph *g, int from, int to, const char *base, int origin) {
    char name[600];
    snprintf(name, sizeof name, "%.400s/cast", base);
    int id = lp_graph_add_node(g, LP_TFL_CAST, name, &from, 1, &to, 1);
    if (id < 0) return -1;
    g->n[id].p.in_type = g->t[from].dtype;
    g->n[id].p.out_type = g->t[to].dtype;
    g->n[id].origin = origin;
    return id;
}

static lp_status legalize_node(lp_ctx *c, int ni) {
    lp_graph *g = c->g;
    const kernel_types *k = entry(g->n[ni].op);
    if (!k) return LP_OK;
    lp_dtype d = LP_DT_UNDEF;
    for (int j = 0; j < g->n[ni].n_in && j < 16 && d == LP_DT_UNDEF; j++)
        if ((k->data_in >> j & 1) && g->n[ni].in[j] >= 0) d = g->t[g->n[ni].in[j]].dtype;
    if (d == LP_DT_UNDEF || (k->types & B(d))) return LP_OK;
    lp_dtype to = promote(d, k->types);
    if (to == LP_DT_UNDEF) {
        char where[600];
        lp_node_where(g, &g->n[ni], where, sizeof where);
        return lp_err_set(g->err, LP_ERR_UNSUPPORTED, "%s: TFLite's %s kernel has no %s version", where,
                          lp_op_name(g->n[ni].op), lp_dtype_name(d));
    }
    char base[600];
    snprintf(base, sizeof base, "%.400s", g->n[ni].name);
    int origin = g->n[ni].origin;
    int ins[64];
    int n_in = g->n[ni].n_in;
    if (n_in > 64) return LP_OK;
    memcpy(ins, g->n[ni].in, sizeof(int) * (size_t)n_in);
    for (int j = 0; j < n_in; j++) {
        int t = ins[j];
        if (t < 0 || !((k->data_in >> (j < 16 ? j : 15)) & 1) || g->t[t].dtype == to) continue;
        if (lp_tensor_is_const(g, t)) {
            ins[j] = convert_const(g, t, to);
        } else {
            char name[600];
            snprintf(name, sizeof name, "%.400s/%s", g->t[t].name, lp_dtype_name(to));
            int nt = lp_graph_add_tensor(g, name, to, g->t[t].rank, g->t[t].dims);
            if (nt < 0 || add_cast(g, t, nt, base, origin) < 0) return g->err->code;
            ins[j] = nt;
        }
        if (ins[j] < 0) return g->err->code ? g->err->code : lp_err_set(g->err, LP_ERR_NOMEM, "out of memory");
    }
    if (!lp_node_set_inputs(g, ni, ins, n_in)) return g->err->code;
    for (int j = 0; j < g->n[ni].n_out; j++) {
        int y = g->n[ni].out[j];
        if (y < 0 || !((k->data_out >> (j < 16 ? j : 15)) & 1) || g->t[y].dtype == to) continue;
        char name[600];
        snprintf(name, sizeof name, "%.400s/%s", g->t[y].name, lp_dtype_name(to));
        int ny = lp_graph_add_tensor(g, name, to, g->t[y].rank, g->t[y].dims);
        if (ny < 0) return g->err->code;
        g->n[ni].out[j] = ny;
        g->t[ny].producer = ni;
        if (add_cast(g, ny, y, base, origin) < 0) return g->err->code;
    }
    return LP_OK;
}

lp_status lp_pass_legalize(lp_ctx *c) {
    lp_graph *g = c->g;
    int n0 = g->n_n;
    for (int i = 0; i < n0; i++) {
        if (g->n[i].dead || !lp_op_is_tfl(g->n[i].op)) continue;
        lp_status st = legalize_node(c, i);
        if (st != LP_OK) return st;
    }
    return LP_OK;
}
