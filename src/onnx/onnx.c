/* onnx: ModelProto -> IR, without copying weights. See README.md for the shortcuts taken.
 *
 * The reader walks the protobuf wire format directly (pb.c). A GraphProto is scanned several times
 * (initializers, inputs, nodes, outputs, value_info), because protobuf allows fields in any order
 * and every serializer writes nodes (field 1) before the initializers they read (field 5); skipping
 * a length-delimited field costs O(1), so the extra scans are cheap. */
#include "onnx.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pb.h"

/* Tensor payloads are used in place in the file's byte order, and ONNX stores raw_data, packed
 * float_data/double_data and external data little-endian. A big-endian host would have to swap
 * every element; that is not supported: refused here at compile time, and at run time in
 * lp_onnx_import for compilers that do not define __BYTE_ORDER__. */
#if defined(__BYTE_ORDER__) && defined(__ORDER_BIG_ENDIAN__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#error "liteport uses ONNX tensor payloads in place as little-endian data; big-endian hosts are not supported"
#endif

#define MAX_NODE_ATTRS 4096 /* attributes on one node (no ONNX op has more than a few dozen) */

/* ---------------- field names, for messages ---------------- */

typedef struct msgdesc {
    const char *const *fields; /* indexed by field number */
    uint32_t n;
} msgdesc;

#define MSGDESC(arr) {arr, (uint32_t)(sizeof arr / sizeof arr[0])}

static const char *const model_fields[] = {
    [1] = "ir_version", [2] = "producer_name", [3] = "producer_version", [4] = "domain",
    [5] = "model_version", [6] = "doc_string", [7] = "graph", [8] = "opset_import",
    [14] = "metadata_props", [20] = "training_info", [25] = "functions"};
static const char *const opset_fields[] = {[1] = "domain", [2] = "version"};
static const char *const graph_fields[] = {
    [1] = "node", [2] = "name", [5] = "initializer", [10] = "doc_string", [11] = "input", [12] = "output",
    [13] = "value_info", [14] = "quantization_annotation", [15] = "sparse_initializer"};
static const char *const node_fields[] = {[1] = "input",  [2] = "output",     [3] = "name",   [4] = "op_type",
                                          [5] = "attribute", [6] = "doc_string", [7] = "domain", [8] = "overload"};
static const char *const attr_fields[] = {
    [1] = "name", [2] = "f", [3] = "i", [4] = "s", [5] = "t", [6] = "g", [7] = "floats", [8] = "ints",
    [9] = "strings", [10] = "tensors", [11] = "graphs", [13] = "doc_string", [14] = "tp", [15] = "type_protos",
    [20] = "type", [21] = "ref_attr_name", [22] = "sparse_tensor", [23] = "sparse_tensors"};
static const char *const tensor_fields[] = {
    [1] = "dims", [2] = "data_type", [3] = "segment", [4] = "float_data", [5] = "int32_data",
    [6] = "string_data", [7] = "int64_data", [8] = "name", [9] = "raw_data", [10] = "double_data",
    [11] = "uint64_data", [12] = "doc_string", [13] = "external_data", [14] = "data_location"};
static const char *const entry_fields[] = {[1] = "key", [2] = "value"};
static const char *const vinfo_fields[] = {[1] = "name", [2] = "type", [3] = "doc_string"};
static const char *const type_fields[] = {[1] = "tensor_type", [4] = "sequence_type", [5] = "map_type",
                                          [6] = "denotation", [7] = "opaque_type", [8] = "sparse_tensor_type",
                                          [9] = "optional_type"};
static const char *const ttype_fields[] = {[1] = "elem_type", [2] = "shape"};
static const char *const shape_fields[] = {[1] = "dim"};
static const char *const dim_fields[] = {[1] = "dim_value", [2] = "dim_param", [3] = "denotation"};

static const msgdesc M_MODEL = MSGDESC(model_fields), M_OPSET = MSGDESC(opset_fields),
                     M_GRAPH = MSGDESC(graph_fields), M_NODE = MSGDESC(node_fields),
                     M_ATTR = MSGDESC(attr_fields), M_TENSOR = MSGDESC(tensor_fields),
                     M_ENTRY = MSGDESC(entry_fields), M_VINFO = MSGDESC(vinfo_fields),
                     M_TYPE = MSGDESC(type_fields), M_TTYPE = MSGDESC(ttype_fields),
                     M_SHAPE = MSGDESC(shape_fields), M_DIM = MSGDESC(dim_fields);

/* The newest default-domain opset whose op definitions liteport follows (those of onnx 1.23, the
 * version tests/ pin). A newer opset may change an op's meaning: refused rather than guessed. */
#define LP_ONNX_MAX_OPSET 28

/* ---------------- ONNX numbering -> ours ---------------- */

static const char *const onnx_type_names[] = {
    "UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32", "INT64", "STRING", "BOOL",
    "FLOAT16", "DOUBLE", "UINT32", "UINT64", "COMPLEX64", "COMPLEX128", "BFLOAT16", "FLOAT8E4M3FN",
    "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ", "UINT4", "INT4", "FLOAT4E2M1", "FLOAT8E8M0",
    "UINT2", "INT2", "FLOAT6E2M3", "FLOAT6E3M2"};

#define N_ONNX_TYPES ((int)(sizeof onnx_type_names / sizeof onnx_type_names[0]))

static const char *onnx_type_name(int32_t t) {
    return (t >= 0 && t < (int32_t)(sizeof onnx_type_names / sizeof onnx_type_names[0])) ? onnx_type_names[t]
                                                                                         : "unknown";
}

/* onnx.proto TensorProto.DataType */
static lp_dtype map_dtype(int32_t t) {
    switch (t) {
    case 0: return LP_DT_UNDEF;
    case 1: return LP_DT_F32;
    case 2: return LP_DT_U8;
    case 3: return LP_DT_I8;
    case 4: return LP_DT_U16;
    case 5: return LP_DT_I16;
    case 6: return LP_DT_I32;
    case 7: return LP_DT_I64;
    case 8: return LP_DT_STRING;
    case 9: return LP_DT_BOOL;
    case 10: return LP_DT_F16;
    case 11: return LP_DT_F64;
    case 12: return LP_DT_U32;
    case 13: return LP_DT_U64;
    case 14: return LP_DT_C64;
    case 15: return LP_DT_C128;
    case 16: return LP_DT_BF16;
    case 17: /* FLOAT8E4M3FN */
    case 18: /* FLOAT8E4M3FNUZ */
    case 19: /* FLOAT8E5M2 */
    case 20: /* FLOAT8E5M2FNUZ */
    case 24: /* FLOAT8E8M0 (23 is FLOAT4E2M1, which stays OTHER) */
        return LP_DT_F8;
    case 21: return LP_DT_U4;
    case 22: return LP_DT_I4;
    default: return LP_DT_OTHER;
    }
}

/* onnx.proto AttributeProto.AttributeType */
static lp_attr_type map_attr_type(int64_t t) {
    switch (t) {
    case 1: return LP_ATTR_FLOAT;
    case 2: return LP_ATTR_INT;
    case 3: return LP_ATTR_STRING;
    case 4: return LP_ATTR_TENSOR;
    case 5: return LP_ATTR_GRAPH;
    case 6: return LP_ATTR_FLOATS;
    case 7: return LP_ATTR_INTS;
    case 8: return LP_ATTR_STRINGS;
    case 9: return LP_ATTR_TENSORS;
    case 10: return LP_ATTR_GRAPHS;
    default: return LP_ATTR_OTHER; /* SPARSE_TENSOR(S), TYPE_PROTO(S), future types */
    }
}

/* op arity from the op table (the same rows lp_op_arities is generated from) */
static const struct {
    int min_in, max_in, min_out, max_out;
} op_arity[LP_OP_ONNX_END + 1] = {
#define LP_ONNX_OP(name, a, b, c, d) [LP_OP_##name] = {a, b, c, d},
#include "../ops/onnx_ops.def"
#undef LP_ONNX_OP
};

/* ---------------- string -> int hash map (names are not NUL-terminated on the wire) ---------------- */

typedef struct strmap {
    const char **key; /* stable NUL-terminated copies (graph arena) */
    size_t *klen;
    int *val;
    size_t cap, n; /* cap is 0 or a power of two */
} strmap;

static uint64_t hash_bytes(const void *p, size_t n) {
    const uint8_t *s = p;
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ull;
    return h;
}

static int strmap_find(const strmap *m, const void *s, size_t n) {
    if (!m->cap) return -1;
    size_t i = (size_t)hash_bytes(s, n) & (m->cap - 1);
    while (m->key[i]) {
        if (m->klen[i] == n && memcmp(m->key[i], s, n) == 0) return m->val[i];
        i = (i + 1) & (m->cap - 1);
    }
    return -1;
}

static void strmap_insert(strmap *m, const char *key, size_t n, int val) {
    size_t i = (size_t)hash_bytes(key, n) & (m->cap - 1);
    while (m->key[i]) i = (i + 1) & (m->cap - 1);
    m->key[i] = key;
    m->klen[i] = n;
    m->val[i] = val;
    m->n++;
}

/* `key` (n bytes) must stay valid as long as the map; 0 when out of memory */
static int strmap_put_n(strmap *m, const char *key, size_t n, int val) {
    if ((m->n + 1) * 2 > m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 256;
        strmap nm = {calloc(nc, sizeof(char *)), calloc(nc, sizeof(size_t)), calloc(nc, sizeof(int)), nc, 0};
        if (!nm.key || !nm.klen || !nm.val) {
            free(nm.key);
            free(nm.klen);
            free(nm.val);
            return 0;
        }
        for (size_t i = 0; i < m->cap; i++)
            if (m->key[i]) strmap_insert(&nm, m->key[i], m->klen[i], m->val[i]);
        free(m->key);
        free(m->klen);
        free(m->val);
        *m = nm;
    }
    strmap_insert(m, key, n, val);
    return 1;
}

static int strmap_put(strmap *m, const char *key, int val) { return strmap_put_n(m, key, strlen(key), val); }

static void strmap_free(strmap *m) {
    free(m->key);
    free(m->klen);
    free(m->val);
    memset(m, 0, sizeof *m);
}

/* ---------------- import context ---------------- */

typedef struct slice {
    const uint8_t *p;
    size_t len;
} slice;

typedef struct ctx {
    lp_graph *g;
    lp_err *err;
    lp_onnx_import *imp;
    const uint8_t *buf; /* the whole model */
    size_t size;
    const char *base_dir;
    int depth;    /* nesting of messages being read */
    strmap names; /* graph tensor name -> id */
    strmap syms;  /* dim_param -> symbol number */
    const lp_onnx_source *src; /* what subgraphs record (lp_onnx_import_body reads them later) */
    /* body mode (lp_onnx_import_body): names get `prefix`, declared inputs are bound to bind[],
     * outputs are collected in body_out instead of becoming graph outputs */
    int body;
    const char *prefix;
    const int *bind;
    int n_bind;
    lp_ivec body_out;
    int node0, n_body_in;
    /* scratch for one node, reused */
    slice *ins, *outs, *attrs;
    int cap_ins, cap_outs, cap_attrs;
    int *tin, *tout;
    int cap_tin, cap_tout;
} ctx;

static lp_status nomem(ctx *c) { return lp_err_set(c->err, LP_ERR_NOMEM, "out of memory reading the ONNX model"); }

/* the status of an error a graph function recorded */
static lp_status graph_fail(ctx *c) { return c->err->code != LP_OK ? c->err->code : nomem(c); }

static lp_status pb_error(ctx *c, const lp_pb *r, const msgdesc *m, const char *label) {
    char fld[48] = "";
    if (r->err_field) {
        const char *fn = r->err_field < m->n ? m->fields[r->err_field] : NULL;
        if (fn)
            snprintf(fld, sizeof fld, " %s", fn);
        else
            snprintf(fld, sizeof fld, " field %u", (unsigned)r->err_field);
    }
    return lp_err_set(c->err, LP_ERR_PARSE, "%s at byte %zu (reading %s%s)", r->err ? r->err : "malformed protobuf",
                      r->err_at, label, fld);
}

static lp_status enter(ctx *c, const char *label) {
    if (++c->depth > LP_MAX_NEST)
        return lp_err_set(c->err, LP_ERR_LIMIT, "protobuf messages nested more than %d deep (reading %s)",
                          LP_MAX_NEST, label);
    return LP_OK;
}

static void leave(ctx *c) { c->depth--; }

static int grow_arr(void **p, int *cap, int need, size_t elem) {
    if (need <= *cap) return 1;
    int nc = *cap ? *cap : 16;
    while (nc < need) {
        if (nc > INT_MAX / 2) return 0;
        nc *= 2;
    }
    void *q = realloc(*p, (size_t)nc * elem);
    if (!q) return 0;
    *p = q;
    *cap = nc;
    return 1;
}

/* A NUL-terminated arena copy of a wire string. `what` names it for messages. */
static const char *copy_str(ctx *c, const uint8_t *p, size_t n, const char *what) {
    if (n > LP_MAX_NAME) {
        lp_err_set(c->err, LP_ERR_LIMIT, "%s is %zu bytes long; at most %d are supported", what, n, LP_MAX_NAME);
        return NULL;
    }
    if (n && memchr(p, 0, n)) {
        lp_err_set(c->err, LP_ERR_INVALID, "%s contains a NUL byte", what);
        return NULL;
    }
    /* protobuf strings are UTF-8, and so are TFLite's tensor names */
    if (!lp_utf8_valid((const char *)p, n)) {
        lp_err_set(c->err, LP_ERR_PARSE, "%s '%.*s' is not valid UTF-8", what, (int)(n < 200 ? n : 200), (const char *)p);
        return NULL;
    }
    const char *s = lp_arena_strndup(&c->g->arena, (const char *)p, n);
    if (!s) nomem(c);
    return s;
}

static int slice_is(const uint8_t *p, size_t n, const char *lit) {
    size_t k = strlen(lit);
    return n == k && memcmp(p, lit, k) == 0;
}

static const char *dims_str(const int64_t *dims, int rank, char *buf, size_t n) {
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < rank && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? "," : "", (long long)dims[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
    return buf;
}

static int is_defined(const lp_tensor *t) { return t->producer >= 0 || (t->flags & (LP_T_INPUT | LP_T_CONST)); }

/* ---------------- TensorProto ---------------- */

typedef struct tinfo {
    const char *kind; /* "initializer" or "tensor" (attribute values), for messages */
    const char *name; /* arena copy; NULL when absent */
    int32_t data_type;
    int rank;
    int64_t dims[LP_MAX_RANK];
    int has_raw;
    const uint8_t *raw;
    size_t raw_len;
    unsigned typed;   /* bit f: typed data field number f is present */
    int64_t location; /* data_location: 0 DEFAULT, 1 EXTERNAL */
    const char *ext_loc;
    int has_off, has_len;
    int64_t ext_off, ext_len;
} tinfo;

#define TYPED_FIELDS ((1u << 4) | (1u << 5) | (1u << 6) | (1u << 7) | (1u << 10) | (1u << 11))

static const char *tensor_label(const tinfo *ti, const char *fallback, char *buf, size_t n) {
    if (ti->name && *ti->name)
        snprintf(buf, n, "TensorProto '%.200s'", ti->name);
    else
        snprintf(buf, n, "%s", fallback);
    return buf;
}

static lp_status add_dim(ctx *c, tinfo *ti, uint64_t v, const char *label) {
    if (ti->rank >= LP_MAX_RANK)
        return lp_err_set(c->err, LP_ERR_LIMIT, "%s has more than %d dims; at most %d are supported", label,
                          LP_MAX_RANK, LP_MAX_RANK);
    if ((int64_t)v < 0)
        return lp_err_set(c->err, LP_ERR_INVALID, "%s has a negative dim (%lld)", label, (long long)(int64_t)v);
    ti->dims[ti->rank++] = (int64_t)v;
    return LP_OK;
}

/* strict decimal (external data offset/length) */
static int parse_decimal(const uint8_t *p, size_t n, int64_t *out) {
    if (n == 0 || n > 19) return 0;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return 0;
        if (v > (INT64_MAX - (p[i] - '0')) / 10) return 0;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 1;
}

/* one external_data StringStringEntryProto */
static lp_status read_ext_entry(ctx *c, const uint8_t *msg, size_t len, tinfo *ti, const char *label) {
    lp_status st = enter(c, label);
    if (st != LP_OK) return st;
    lp_pb r;
    lp_pb_field f;
    int k;
    slice key = {NULL, 0}, val = {NULL, 0};
    lp_pb_init(&r, c->buf, msg, len);
    while ((k = lp_pb_next(&r, &f)) > 0) {
        if (f.num != 1 && f.num != 2) continue;
        if (!lp_pb_expect(&r, &f, LP_PB_LEN)) continue;
        if (f.num == 1) key = (slice){f.p, f.len};
        else val = (slice){f.p, f.len};
    }
    char lab[300];
    snprintf(lab, sizeof lab, "%.280s external_data", label);
    if (k < 0) return pb_error(c, &r, &M_ENTRY, lab);
    if (key.p && slice_is(key.p, key.len, "location")) {
        snprintf(lab, sizeof lab, "external data location of %.270s", label);
        ti->ext_loc = copy_str(c, val.p ? val.p : (const uint8_t *)"", val.len, lab);
        if (!ti->ext_loc) return c->err->code;
    } else if (key.p && (slice_is(key.p, key.len, "offset") || slice_is(key.p, key.len, "length"))) {
        int is_off = key.p[0] == 'o';
        int64_t v;
        if (!val.p || !parse_decimal(val.p, val.len, &v))
            return lp_err_set(c->err, LP_ERR_INVALID, "%s: external data %s '%.*s' is not a decimal number", label,
                              is_off ? "offset" : "length", (int)(val.len > 40 ? 40 : val.len),
                              val.p ? (const char *)val.p : "");
        if (is_off) {
            ti->ext_off = v;
            ti->has_off = 1;
        } else {
            ti->ext_len = v;
            ti->has_len = 1;
        }
    } /* "checksum" and unknown keys are ignored */
    leave(c);
    return LP_OK;
}

static lp_status read_tensor_fields(ctx *c, const uint8_t *msg, size_t len, tinfo *ti, const char *fallback) {
    lp_pb r;
    lp_pb_field f;
    int k;
    char lab[300];
    lp_status st;
    lp_pb_init(&r, c->buf, msg, len);
    while ((k = lp_pb_next(&r, &f)) > 0) {
        switch (f.num) {
        case 1: /* dims: not declared packed; accept both encodings */
            if (f.wire == LP_PB_VARINT) {
                st = add_dim(c, ti, f.u, tensor_label(ti, fallback, lab, sizeof lab));
                if (st != LP_OK) return st;
            } else if (lp_pb_expect(&r, &f, LP_PB_LEN)) {
                const uint8_t *q = f.p, *e = f.p + f.len;
                while (q < e) {
                    uint64_t v;
                    const uint8_t *s = q;
                    if (lp_pb_varint(&q, e, &v) != 1) {
                        lp_pb_fail(&r, (size_t)(s - c->buf), 1, "malformed packed varint");
                        break;
                    }
                    st = add_dim(c, ti, v, tensor_label(ti, fallback, lab, sizeof lab));
                    if (st != LP_OK) return st;
                }
            }
            break;
        case 2:
            if (lp_pb_expect(&r, &f, LP_PB_VARINT)) ti->data_type = (int32_t)(uint32_t)f.u;
            break;
        case 3:
            return lp_err_set(c->err, LP_ERR_UNSUPPORTED, "%s is a segment of a larger tensor; segmented tensors are not supported",
                              tensor_label(ti, fallback, lab, sizeof lab));
        case 4: case 5: case 6: case 7: case 10: case 11:
            ti->typed |= 1u << f.num; /* decoded (and wire types checked) once the dtype is known */
            break;
        case 8:
            if (lp_pb_expect(&r, &f, LP_PB_LEN)) {
                ti->name = copy_str(c, f.p, f.len, "a tensor name");
                if (!ti->name) return c->err->code;
            }
            break;
        case 9:
            if (lp_pb_expect(&r, &f, LP_PB_LEN)) {
                ti->has_raw = 1;
                ti->raw = f.p;
                ti->raw_len = f.len;
            }
            break;
        case 13:
            if (lp_pb_expect(&r, &f, LP_PB_LEN)) {
                st = read_ext_entry(c, f.p, f.len, ti, tensor_label(ti, fallback, lab, sizeof lab));
                if (st != LP_OK) return st;
            }
            break;
        case 14:
            if (lp_pb_expect(&r, &f, LP_PB_VARINT)) ti->location = (int64_t)f.u;
            break;
        default: break; /* doc_string, metadata_props, unknown */
        }
    }
    if (k < 0) return pb_error(c, &r, &M_TENSOR, tensor_label(ti, fallback, lab, sizeof lab));
    return LP_OK;
}

static void put_le(uint8_t *out, uint64_t v, int w) {
    for (int i = 0; i < w; i++) out[i] = (uint8_t)(v >> (8 * i));
}

/* Values held in a typed field (float_data, int32_data, ...): counted, checked against the shape,
 * then used in place (one packed record of a fixed-width field) or decoded into the arena. */
static lp_status read_typed(ctx *c, const uint8_t *msg, size_t len, const tinfo *ti, uint32_t fnum, lp_dtype dt,
                            int64_t numel, size_t need, const void **data, int *owned) {
    int fixed = 0, out_w = 0; /* fixed: wire bytes per value (0: varint); out_w: bytes per value in memory */
    int64_t expect = numel;
    switch (fnum) {
    case 4: /* float_data: FLOAT, COMPLEX64 (two floats per element) */
        if (dt == LP_DT_F32 || dt == LP_DT_C64) fixed = out_w = 4;
        if (dt == LP_DT_C64) expect = 2 * numel;
        break;
    case 10: /* double_data: DOUBLE, COMPLEX128 */
        if (dt == LP_DT_F64 || dt == LP_DT_C128) fixed = out_w = 8;
        if (dt == LP_DT_C128) expect = 2 * numel;
        break;
    case 5: /* int32_data: one entry per element, its bit pattern in the low bits */
        switch (dt) {
        case LP_DT_I32: out_w = 4; break;
        case LP_DT_I16: case LP_DT_U16: case LP_DT_F16: case LP_DT_BF16: out_w = 2; break;
        case LP_DT_I8: case LP_DT_U8: case LP_DT_BOOL: case LP_DT_F8: out_w = 1; break;
        case LP_DT_I4: case LP_DT_U4: /* one entry per packed byte (two elements) */
            out_w = 1;
            expect = (int64_t)need;
            break;
        default: break;
        }
        break;
    case 7: /* int64_data */
        if (dt == LP_DT_I64) out_w = 8;
        break;
    case 11: /* uint64_data: UINT32, UINT64 */
        if (dt == LP_DT_U32) out_w = 4;
        if (dt == LP_DT_U64) out_w = 8;
        break;
    default: break; /* string_data: strings are refused before this */
    }
    if (!out_w)
        return lp_err_set(c->err, LP_ERR_INVALID, "%s '%s' of type %s has its values in %s, which cannot hold that type",
                          ti->kind, ti->name, lp_dtype_name(dt), tensor_fields[fnum]);

    char lab[300];
    snprintf(lab, sizeof lab, "TensorProto '%.200s'", ti->name);
    lp_pb r;
    lp_pb_field f;
    int k, nrec = 0, packed_only = 1;
    int64_t count = 0;
    const uint8_t *one = NULL;
    lp_pb_init(&r, c->buf, msg, len);
    while ((k = lp_pb_next(&r, &f)) > 0) {
        if (f.num != fnum) continue;
        nrec++;
        if (f.wire == LP_PB_LEN) { /* packed */
            one = f.p;
            if (fixed) {
                if (f.len % (size_t)fixed) {
                    lp_pb_fail(&r, f.at, f.num, "packed data length is not a multiple of the element size");
                    break;
                }
                count += (int64_t)(f.len / (size_t)fixed);
            } else {
                size_t bad = 0;
                int64_t n = lp_pb_count_varints(f.p, f.len, &bad);
                if (n < 0) {
                    lp_pb_fail(&r, (size_t)(f.p - c->buf) + bad, f.num, "malformed packed varint");
                    break;
                }
                count += n;
            }
        } else if ((fixed == 4 && f.wire == LP_PB_I32) || (fixed == 8 && f.wire == LP_PB_I64) ||
                   (!fixed && f.wire == LP_PB_VARINT)) {
            count++; /* unpacked */
            packed_only = 0;
        } else {
            lp_pb_fail(&r, f.at, f.num, "wrong wire type");
            break;
        }
    }
    if (r.err || k < 0) return pb_error(c, &r, &M_TENSOR, lab);
    if (count != expect) {
        char sh[200];
        return lp_err_set(c->err, LP_ERR_INVALID, "%s '%s' has %lld values in %s; its shape %s of %s needs %lld",
                          ti->kind, ti->name, (long long)count, tensor_fields[fnum], dims_str(ti->dims, ti->rank, sh, sizeof sh),
                          lp_dtype_name(dt), (long long)expect);
    }
    if (count == 0) {
        *data = "";
        *owned = 0;
        return LP_OK;
    }
    if (fixed && nrec == 1 && packed_only) {
        /* one packed record of little-endian floats/doubles is exactly the in-memory layout */
        *data = one;
        *owned = 0;
        return LP_OK;
    }
    uint8_t *out = lp_arena_alloc(&c->g->arena, need);
    if (!out) return nomem(c);
    size_t pos = 0; /* bytes written */
    lp_pb_init(&r, c->buf, msg, len);
    while ((k = lp_pb_next(&r, &f)) > 0) {
        if (f.num != fnum) continue;
        if (f.wire == LP_PB_LEN && fixed) {
            memcpy(out + pos, f.p, f.len);
            pos += f.len;
        } else if (f.wire == LP_PB_LEN) {
            const uint8_t *q = f.p, *e = f.p + f.len;
            uint64_t v;
            while (q < e && lp_pb_varint(&q, e, &v) == 1) {
                put_le(out + pos, dt == LP_DT_BOOL ? (v != 0) : v, out_w);
                pos += (size_t)out_w;
            }
        } else {
            put_le(out + pos, (dt == LP_DT_BOOL && !fixed) ? (f.u != 0) : f.u, out_w);
            pos += (size_t)out_w;
        }
    }
    if (k < 0 || pos != need)
        return lp_err_set(c->err, LP_ERR_INTERNAL, "%s '%s': decoded %zu bytes, expected %zu", ti->kind, ti->name, pos, need);
    *data = out;
    *owned = 1;
    return LP_OK;
}

/* External data: point into the mapped file, mapping each file once. */
static lp_status read_external(ctx *c, const tinfo *ti, size_t need, const void **data) {
    lp_graph *g = c->g;
    lp_onnx_import *imp = c->imp;
    if (!ti->ext_loc)
        return lp_err_set(c->err, LP_ERR_INVALID, "%s '%s' has data_location EXTERNAL but no 'location' entry",
                          ti->kind, ti->name);
    if (!c->base_dir)
        return lp_err_set(c->err, LP_ERR_IO,
                          "%s '%s' keeps its data in the external file '%s', but the model was given without "
                          "its folder; external data needs the model's folder (base_dir)",
                          ti->kind, ti->name, ti->ext_loc);
    lp_status before = c->err->code;
    char *full = lp_path_inside(&g->arena, c->base_dir, ti->ext_loc, c->err);
    if (!full) {
        if (before == LP_OK && c->err->code != LP_OK) lp_err_prefix(c->err, "%s '%s': ", ti->kind, ti->name);
        return graph_fail(c);
    }
    int m = -1;
    for (int i = 0; i < imp->n_ext; i++)
        if (strcmp(imp->ext_paths[i], full) == 0) m = i;
    if (m < 0) {
        if (imp->n_ext == imp->cap_ext) {
            int nc = imp->cap_ext ? imp->cap_ext * 2 : 4;
            lp_map *e = realloc(imp->ext, sizeof(lp_map) * (size_t)nc);
            if (!e) return nomem(c);
            imp->ext = e;
            char **p = realloc(imp->ext_paths, sizeof(char *) * (size_t)nc);
            if (!p) return nomem(c);
            imp->ext_paths = p;
            imp->cap_ext = nc;
        }
        size_t n = strlen(full);
        char *path = malloc(n + 1);
        if (!path) return nomem(c);
        memcpy(path, full, n + 1);
        lp_map mp;
        if (lp_map_open_inside(&mp, c->base_dir, full, c->err) != LP_OK) {
            free(path);
            if (before == LP_OK) lp_err_prefix(c->err, "%s '%s': ", ti->kind, ti->name);
            return graph_fail(c);
        }
        m = imp->n_ext++;
        imp->ext[m] = mp;
        imp->ext_paths[m] = path;
    }
    const lp_map *mp = &imp->ext[m];
    uint64_t off = ti->has_off ? (uint64_t)ti->ext_off : 0;
    if (off > mp->size)
        return lp_err_set(c->err, LP_ERR_INVALID, "%s '%s': external data offset %llu is past the end of '%s' (%zu bytes)",
                          ti->kind, ti->name, (unsigned long long)off, ti->ext_loc, mp->size);
    uint64_t avail = mp->size - off;
    if (ti->has_len) {
        if ((uint64_t)ti->ext_len > avail)
            return lp_err_set(c->err, LP_ERR_INVALID,
                              "%s '%s': external data offset %llu + length %lld runs past the end of '%s' (%zu bytes)",
                              ti->kind, ti->name, (unsigned long long)off, (long long)ti->ext_len, ti->ext_loc, mp->size);
        if ((uint64_t)ti->ext_len != need)
            return lp_err_set(c->err, LP_ERR_INVALID, "%s '%s': external data length is %lld bytes; its shape needs %zu",
                              ti->kind, ti->name, (long long)ti->ext_len, need);
    } else if (avail < need) {
        return lp_err_set(c->err, LP_ERR_INVALID,
                          "%s '%s': '%s' holds %llu bytes after offset %llu; its shape needs %zu", ti->kind, ti->name,
                          ti->ext_loc, (unsigned long long)avail, (unsigned long long)off, need);
    }
    *data = need ? (const void *)(mp->data + off) : (const void *)"";
    return LP_OK;
}

/* Reads a TensorProto into a new constant tensor. `fallback` labels it in messages until its name is
 * known; `def_name` names it when it has none (NULL: a name is required, as for initializers). */
static lp_status read_tensor(ctx *c, const uint8_t *msg, size_t len, const char *fallback, const char *def_name,
                             int *out_id) {
    lp_status st = enter(c, fallback);
    if (st != LP_OK) return st;
    tinfo ti;
    memset(&ti, 0, sizeof ti);
    ti.kind = def_name ? "tensor" : "initializer";
    st = read_tensor_fields(c, msg, len, &ti, fallback);
    if (st != LP_OK) return st;
    if (!ti.name || !*ti.name) {
        if (!def_name) return lp_err_set(c->err, LP_ERR_INVALID, "%s has no name", fallback);
        ti.name = def_name;
    }
    const char *nm = ti.name;
    lp_dtype dt = map_dtype(ti.data_type);
    if (dt == LP_DT_UNDEF) return lp_err_set(c->err, LP_ERR_INVALID, "%s '%s' has no data type", ti.kind, nm);
    if (dt == LP_DT_STRING)
        return lp_err_set(c->err, LP_ERR_UNSUPPORTED, "%s '%s' is a string tensor; string tensors are not supported", ti.kind, nm);
    if (dt == LP_DT_OTHER)
        return lp_err_set(c->err, LP_ERR_UNSUPPORTED, "%s '%s' has element type %s (%d), which is not supported",
                          ti.kind, nm, onnx_type_name(ti.data_type), (int)ti.data_type);
    int64_t numel = 1;
    for (int i = 0; i < ti.rank; i++)
        if (!lp_mul_i64(numel, ti.dims[i], &numel) || numel > LP_MAX_ELEMENTS)
            return lp_err_set(c->err, LP_ERR_LIMIT, "%s '%s' has more than %lld elements", ti.kind, nm,
                              (long long)LP_MAX_ELEMENTS);
    const char *bad = lp_dims_check(NULL, ti.rank, ti.dims);
    if (bad) {
        char dsh[200];
        return lp_err_set(c->err, LP_ERR_LIMIT, "%s '%s' has shape %s: %s", ti.kind, nm,
                          dims_str(ti.dims, ti.rank, dsh, sizeof dsh), bad);
    }
    size_t need;
    if (dt == LP_DT_I4 || dt == LP_DT_U4)
        need = (size_t)((numel + 1) / 2); /* two 4-bit values per byte, low nibble first */
    else if (!lp_mul_size((size_t)numel, lp_dtype_size(dt), &need) || (uint64_t)numel > (uint64_t)SIZE_MAX)
        return lp_err_set(c->err, LP_ERR_LIMIT, "%s '%s' is too large for this host", ti.kind, nm);

    int sources = ti.has_raw + (ti.location == 1);
    unsigned typed = ti.typed & TYPED_FIELDS;
    for (unsigned b = typed; b; b &= b - 1) sources++;
    if (ti.location != 0 && ti.location != 1)
        return lp_err_set(c->err, LP_ERR_INVALID, "%s '%s' has an unknown data_location %lld", ti.kind, nm,
                          (long long)ti.location);
    if (sources > 1)
        return lp_err_set(c->err, LP_ERR_INVALID,
                          "%s '%s' has its values in more than one place (raw_data, typed fields, external data)", ti.kind, nm);

    const void *data = "";
    int owned = 0;
    char sh[200];
    if (ti.location == 1) {
        st = read_external(c, &ti, need, &data);
    } else if (ti.has_raw) {
        if (ti.raw_len != need)
            return lp_err_set(c->err, LP_ERR_INVALID, "%s '%s': raw_data has %zu bytes; its shape %s of %s needs %zu",
                              ti.kind, nm, ti.raw_len, dims_str(ti.dims, ti.rank, sh, sizeof sh), lp_dtype_name(dt), need);
        data = ti.raw; /* zero-copy: the payload stays in the mapped model */
    } else if (typed) {
        uint32_t fnum = 0;
        while (!(typed & (1u << fnum))) fnum++;
        st = read_typed(c, msg, len, &ti, fnum, dt, numel, need, &data, &owned);
    } else if (numel != 0) {
        return lp_err_set(c->err, LP_ERR_INVALID, "%s '%s' has no values; its shape %s of %s needs %zu bytes",
                          ti.kind, nm, dims_str(ti.dims, ti.rank, sh, sizeof sh), lp_dtype_name(dt), need);
    }
    if (st != LP_OK) return st;
    int id = lp_graph_add_const(c->g, nm, dt, ti.rank, ti.dims, data, need, 0);
    if (id < 0) return graph_fail(c);
    if (owned) c->g->t[id].flags |= LP_T_OWNED;
    *out_id = id;
    leave(c);
    return LP_OK;
}

/* ---------------- ValueInfoProto / TypeProto ---------------- */

typedef struct vdim {
    int kind; /* 0 unknown, 1 dim_value, 2 dim_param */
    int64_t v;
    slice param;
} vdim;

typedef struct vinfo {
    const char *name;
    int has_type;
    const char *nontensor; /* "a sequence", ... when the type is not a tensor */
    int32_t elem;
    int has_shape;
    int rank;
    vdim d[LP_MAX_RANK];
} vinfo;

static const char *vinfo_label(const vinfo *vi, const char *fallback, char *buf, size_t n) {
    if (vi->name && *vi->name)
        snprintf(buf, n, "ValueInfoProto '%.200s'", vi->name);
    else
        snprintf(buf, n, "%s", fallback);
    return buf;
}

static lp_status read_dim(ctx *c, const uint8_t *msg, size_t len, vdim *d, const char *label) {
    lp_status st = enter(c, label);
    if (st != LP_OK) return st;
    lp_pb r;
    lp_pb_field f;
    int k;
    lp_pb_init(&r, c->buf, msg, len);
    while ((k = lp_pb_next(&r, &f)) > 0) {
        if (f.num == 1 && lp_pb_expect(&r, &f, LP_PB_VARINT)) {
            if ((int64_t)f.u < 0)
                return lp_err_set(c->err, LP_ERR_INVALID, "%s has a negative dim_value (%lld)", label,
                                  (long long)(int64_t)f.u);
            d->kind = 1; /* oneof value: the last one wins */
            d->v = (int64_t)f.u;
        } else if (f.num == 2 && lp_pb_expect(&r, &f, LP_PB_LEN)) {
            if (f.len > LP_MAX_NAME)
                return lp_err_set(c->err, LP_ERR_LIMIT, "%s has a dim_param longer than %d bytes", label, LP_MAX_NAME);
            d->kind = 2;
            d->param = (slice){f.p, f.len};
        }
    }
    if (k < 0) return pb_error(c, &r, &M_DIM, label);
    leave(c);
    return LP_OK;
}

static lp_status read_shape(ctx *c, const uint8_t *msg, size_t len, vinfo *vi, const char *label) {
    lp_status st = enter(c, label);
    if (st != LP_OK) return st;
    lp_pb r;
    lp_pb_field f;
    int k;
    vi->has_shape = 1; /* a shape with no dims is a scalar */
    vi->rank = 0;
    lp_pb_init(&r, c->buf, msg, len);
    while ((k = lp_pb_next(&r, &f)) > 0) {
        if (f.num != 1 || !lp_pb_expect(&r, &f, LP_PB_LEN)) continue;
        if (vi->rank >= LP_MAX_RANK)
            return lp_err_set(c->err, LP_ERR_LIMIT, "%s has more than %d dims; at most %d are supported", label,
                              LP_MAX_RANK, LP_MAX_RANK);
        vdim *d = &vi->d[vi->rank++];
        memset(d, 0, sizeof *d);
        st = read_dim(c, f.p, f.len, d, label);
        if (st != LP_OK) return st;
    }
    if (k < 0) return pb_error(c, &r, &M_SHAPE, label);
    leave(c);
    return LP_OK;
}

static lp_status read_tensor_type(ctx *c, const uint8_t *msg, size_t len, vinfo *vi, const char *label) {
    lp_status st = enter(c, label);
    if (st != LP_OK) return st;
    lp_pb r;
    lp_pb_field f;
    int k;
    lp_pb_init(&r, c->buf, msg, len);
    while ((k = lp_pb_next(&r, &f)) > 0) {
        if (f.num == 1 && lp_pb_expect(&r, &f, LP_PB_VARINT)) {
            vi->elem = (int32_t)(uint32_t)f.u;
        } else if (f.num == 2 && lp_pb_expect(&r, &f, LP_PB_LEN)) {
            st = read_shape(c, f.p, f.len, vi, label);
            if (st != LP_OK) return st;
        }
    }
    if (k < 0) return pb_error(c, &r, &M_TTYPE, label);
    leave(c);
    return LP_OK;
}

static lp_status read_type(ctx *c, const uint8_t *msg, size_t len, vinfo *vi, const char *label) {
    lp_status st = enter(c, label);
    if (st != LP_OK) return st;
    lp_pb r;
    lp_pb_field f;
    int k;
    lp_pb_init(&r, c->buf, msg, len);
    while ((k = lp_pb_next(&r, &f)) > 0) {
        const char *kind = NULL;
        switch (f.num) {
        case 1:
            if (lp_pb_expect(&r, &f, LP_PB_LEN)) {
                vi->has_type = 1;
                vi->nontensor = NULL;
                vi->elem = 0;
                vi->has_shape = 0;
                vi->rank = 0;
                st = read_tensor_type(c, f.p, f.len, vi, label);
                if (st != LP_OK) return st;
            }
            continue;
        case 4: kind = "a sequence"; break;
        case 5: kind = "a map"; break;
        case 7: kind = "an opaque type"; break;
        case 8: kind = "a sparse tensor"; break;
        case 9: kind = "an optional"; break;
        default: continue;
        }
        if (lp_pb_expect(&r, &f, LP_PB_LEN)) {
            vi->has_type = 1;
            vi->nontensor = kind;
        }
    }
    if (k < 0) return pb_error(c, &r, &M_TYPE, label);
    leave(c);
    return LP_OK;
}

static lp_status read_value_info(ctx *c, const uint8_t *msg, size_t len, vinfo *vi, const char *fallback) {
    lp_status st = enter(c, fallback);
    if (st != LP_OK) return st;
    memset(vi, 0, sizeof *vi);
    lp_pb r;
    lp_pb_field f;
    int k;
    char lab[300];
    lp_pb_init(&r, c->buf, msg, len);
    while ((k = lp_pb_next(&r, &f)) > 0) {
        if (f.num == 1 && lp_pb_expect(&r, &f, LP_PB_LEN)) {
            vi->name = copy_str(c, f.p, f.len, "a value name");
            if (!vi->name) return c->err->code;
        } else if (f.num == 2 && lp_pb_expect(&r, &f, LP_PB_LEN)) {
            st = read_type(c, f.p, f.len, vi, vinfo_label(vi, fallback, lab, sizeof lab));
            if (st != LP_OK) return st;
        }
    }
    if (k < 0) return pb_error(c, &r, &M_VINFO, vinfo_label(vi, fallback, lab, sizeof lab));
    leave(c);
    return LP_OK;
}

/* dims of a declared shape: dim_param -> one symbol per distinct name, unknown -> a fresh symbol */
static lp_status vinfo_dims(ctx *c, const vinfo *vi, int64_t *dims) {
    lp_graph *g = c->g;
    for (int i = 0; i < vi->rank; i++) {
        const vdim *d = &vi->d[i];
        if (d->kind == 1) {
            dims[i] = d->v;
            continue;
        }
        if (d->kind == 2 && d->param.len > 0) {
            int s = strmap_find(&c->syms, d->param.p, d->param.len);
            if (s > 0) {
                dims[i] = -(int64_t)s;
                continue;
            }
            const char *nm = copy_str(c, d->param.p, d->param.len, "a dim_param");
            if (!nm) return c->err->code;
            int before = g->n_sym;
            int64_t v = lp_graph_new_sym(g, nm);
            if (g->n_sym != before + 1 || !g->sym_names[g->n_sym]) return graph_fail(c);
            if (!strmap_put(&c->syms, nm, g->n_sym)) return nomem(c);
            dims[i] = v;
            continue;
        }
        int before = g->n_sym;
        int64_t v = lp_graph_new_sym(g, NULL);
        if (g->n_sym != before + 1) return graph_fail(c);
        dims[i] = v;
    }
    return LP_OK;
}

/* A declared element type must be an ONNX DataType; a graph input's or output's must also be one
 * TFLite can hold (`io`: "graph input" / "graph output", NULL for value_info hints). */
static lp_status check_elem(ctx *c, const vinfo *vi, const char *io) {
    if (!vi->has_type || vi->nontensor) return LP_OK;
    char lab[300];
    if (vi->elem < 0 || vi->elem >= N_ONNX_TYPES)
        return lp_err_set(c->err, LP_ERR_INVALID, "%s has element type %d, which is not an ONNX data type",
                          vinfo_label(vi, io ? io : "a value", lab, sizeof lab), (int)vi->elem);
    if (io && map_dtype(vi->elem) == LP_DT_OTHER)
        return lp_err_set(c->err, LP_ERR_UNSUPPORTED, "%s '%s' has element type %s (%d), which TFLite has no counterpart for",
                          io, vi->name ? vi->name : "", onnx_type_name(vi->elem), (int)vi->elem);
    return LP_OK;
}

/* declared dtype/shape applied where the tensor has none yet (a hint; inference recomputes) */
static lp_status apply_declared(ctx *c, int id, const vinfo *vi) {
    lp_tensor *t = &c->g->t[id];
    if (!vi->has_type || vi->nontensor) return LP_OK;
    if (t->dtype == LP_DT_UNDEF) t->dtype = map_dtype(vi->elem);
    if (t->rank < 0 && vi->has_shape) {
        int64_t dims[LP_MAX_RANK];
        lp_status st = vinfo_dims(c, vi, dims);
        if (st != LP_OK) return st;
        const char *bad = lp_dims_check(c->g, vi->rank, dims);
        if (bad) {
            char lab[300];
            return lp_err_set(c->err, LP_ERR_LIMIT, "%s declares a shape with %s", vinfo_label(vi, "a value", lab, sizeof lab),
                              bad);
        }
        t = &c->g->t[id];
        t->rank = vi->rank;
        memcpy(t->dims, dims, sizeof(int64_t) * (size_t)vi->rank);
    }
    return LP_OK;
}

/* ---------------- tensors by name ---------------- */

/* The tensor named p[0..n), created (no type, unknown rank) on first mention. */
static int tensor_by_name(ctx *c, const uint8_t *p, size_t n, const char *what) {
    int id = strmap_find(&c->names, p, n);
    if (id >= 0) return id;
    const char *nm = copy_str(c, p, n, what);
    if (!nm) return -1;
    const char *tname = c->prefix ? lp_arena_printf(&c->g->arena, "%s%s", c->prefix, nm) : nm;
    if (!tname) {
        nomem(c);
        return -1;
    }
    id = lp_graph_add_tensor(c->g, tname, LP_DT_UNDEF, -1, NULL);
    if (id < 0) return -1;
    if (!strmap_put(&c->names, nm, id)) {
        nomem(c);
        return -1;
    }
    return id;
}

/* ---------------- AttributeProto ---------------- */

static lp_status read_attr(ctx *c, const uint8_t *msg, size_t len, const char *node, lp_attr *a, int index) {
    char lab[400];
    snprintf(lab, sizeof lab, "attribute #%d of node '%.200s'", index, node);
    lp_status st = enter(c, lab);
    if (st != LP_OK) return st;
    memset(a, 0, sizeof *a);
    a->tensor = -1;
    lp_pb r;
    lp_pb_field f;
    int k;
    int64_t type = 0;
    unsigned seen = 0; /* bit f: field f present */
    int64_t n_floats = 0, n_ints = 0, n_strings = 0, n_tensors = 0, n_graphs = 0;
    slice s = {NULL, 0}, t = {NULL, 0}, gr = {NULL, 0};
    int has_ref = 0;
    lp_pb_init(&r, c->buf, msg, len);
    while ((k = lp_pb_next(&r, &f)) > 0) {
        if (f.num < 32) seen |= 1u << f.num;
        switch (f.num) {
        case 1:
            if (lp_pb_expect(&r, &f, LP_PB_LEN)) {
                a->name = copy_str(c, f.p, f.len, "an attribute name");
                if (!a->name) return c->err->code;
                snprintf(lab, sizeof lab, "attribute '%.100s' of node '%.200s'", a->name, node);
            }
            break;
        case 2:
            if (lp_pb_expect(&r, &f, LP_PB_I32)) {
                uint32_t b = (uint32_t)f.u;
                memcpy(&a->f, &b, 4);
            }
            break;
        case 3:
            if (lp_pb_expect(&r, &f, LP_PB_VARINT)) a->i = (int64_t)f.u;
            break;
        case 4:
            if (lp_pb_expect(&r, &f, LP_PB_LEN)) s = (slice){f.p, f.len};
            break;
        case 5:
            if (lp_pb_expect(&r, &f, LP_PB_LEN)) t = (slice){f.p, f.len};
            break;
        case 6:
            if (lp_pb_expect(&r, &f, LP_PB_LEN)) gr = (slice){f.p, f.len};
            break;
        case 7: /* floats: not declared packed; accept both encodings */
            if (f.wire == LP_PB_I32) {
                n_floats++;
            } else if (lp_pb_expect(&r, &f, LP_PB_LEN)) {
                if (f.len % 4) lp_pb_fail(&r, f.at, f.num, "packed data length is not a multiple of the element size");
                n_floats += (int64_t)(f.len / 4);
            }
            break;
        case 8:
            if (f.wire == LP_PB_VARINT) {
                n_ints++;
            } else if (lp_pb_expect(&r, &f, LP_PB_LEN)) {
                size_t bad = 0;
                int64_t n = lp_pb_count_varints(f.p, f.len, &bad);
                if (n < 0) lp_pb_fail(&r, (size_t)(f.p - c->buf) + bad, f.num, "malformed packed varint");
                else n_ints += n;
            }
            break;
        case 9:
            if (lp_pb_expect(&r, &f, LP_PB_LEN)) n_strings++;
            break;
        case 10:
            if (lp_pb_expect(&r, &f, LP_PB_LEN)) n_tensors++;
            break;
        case 11:
            if (lp_pb_expect(&r, &f, LP_PB_LEN)) n_graphs++;
            break;
        case 20:
            if (lp_pb_expect(&r, &f, LP_PB_VARINT)) type = (int64_t)f.u;
            break;
        case 21:
            if (lp_pb_expect(&r, &f, LP_PB_LEN)) has_ref = 1;
            break;
        default: break; /* doc_string, tp, sparse tensors, unknown */
        }
    }
    if (k < 0) return pb_error(c, &r, &M_ATTR, lab);
    if (!a->name || !*a->name) return lp_err_set(c->err, LP_ERR_INVALID, "%s has no name", lab);
    if (has_ref)
        return lp_err_set(c->err, LP_ERR_UNSUPPORTED,
                          "%s refers to a function attribute (ref_attr_name); function bodies are not supported", lab);

    if (type) {
        a->type = map_attr_type(type);
    } else { /* old models leave `type` out: infer it from the field that is set */
        static const struct {
            int field;
            lp_attr_type type;
        } by_field[] = {{2, LP_ATTR_FLOAT},   {3, LP_ATTR_INT},      {4, LP_ATTR_STRING},  {5, LP_ATTR_TENSOR},
                        {6, LP_ATTR_GRAPH},   {7, LP_ATTR_FLOATS},   {8, LP_ATTR_INTS},    {9, LP_ATTR_STRINGS},
                        {10, LP_ATTR_TENSORS}, {11, LP_ATTR_GRAPHS}, {14, LP_ATTR_OTHER}, {15, LP_ATTR_OTHER},
                        {22, LP_ATTR_OTHER},  {23, LP_ATTR_OTHER}};
        for (size_t i = 0; i < sizeof by_field / sizeof by_field[0] && !a->type; i++)
            if (seen & (1u << by_field[i].field)) a->type = by_field[i].type;
        if (!a->type) return lp_err_set(c->err, LP_ERR_INVALID, "%s has neither a type nor a value", lab);
    }

    int64_t n = a->type == LP_ATTR_FLOATS    ? n_floats
                : a->type == LP_ATTR_INTS    ? n_ints
                : a->type == LP_ATTR_STRINGS ? n_strings
                : a->type == LP_ATTR_TENSORS ? n_tensors
                : a->type == LP_ATTR_GRAPHS  ? n_graphs
                                             : 0;
    if (n > LP_MAX_ATTR_ELEMS)
        return lp_err_set(c->err, LP_ERR_LIMIT, "%s has %lld elements; at most %d are supported", lab, (long long)n,
                          LP_MAX_ATTR_ELEMS);
    a->n = (int)n;
    lp_arena *ar = &c->g->arena;
    char what[500];
    switch (a->type) {
    case LP_ATTR_STRING:
        snprintf(what, sizeof what, "the value of %s", lab);
        if (s.len > LP_MAX_NAME)
            return lp_err_set(c->err, LP_ERR_LIMIT, "%s is %zu bytes long; at most %d are supported", what, s.len,
                              LP_MAX_NAME);
        /* STRING is bytes: copied as is (an embedded NUL ends the C string) */
        a->s = lp_arena_strndup(ar, s.p ? (const char *)s.p : "", s.len);
        if (!a->s) return nomem(c);
        break;
    case LP_ATTR_TENSOR: {
        if (!t.p) return lp_err_set(c->err, LP_ERR_INVALID, "%s has type TENSOR but no tensor", lab);
        char *def = lp_arena_printf(ar, "%s_%s", node, a->name);
        if (!def) return nomem(c);
        snprintf(what, sizeof what, "tensor of %s", lab);
        st = read_tensor(c, t.p, t.len, what, def, &a->tensor);
        if (st != LP_OK) return st;
        break;
    }
    case LP_ATTR_GRAPH: {
        if (!gr.p) return lp_err_set(c->err, LP_ERR_INVALID, "%s has type GRAPH but no graph", lab);
        lp_onnx_subgraph *sg = lp_arena_alloc(ar, sizeof *sg);
        if (!sg) return nomem(c);
        sg->data = gr.p;
        sg->size = gr.len;
        sg->src = c->src;
        a->graph = sg;
        break;
    }
    case LP_ATTR_FLOATS: case LP_ATTR_INTS: case LP_ATTR_STRINGS: case LP_ATTR_TENSORS: case LP_ATTR_GRAPHS: {
        float *fl = NULL;
        int64_t *in = NULL;
        const char **str = NULL;
        const void **gs = NULL;
        size_t cnt = (size_t)(n ? n : 1);
        if (a->type == LP_ATTR_FLOATS) a->floats = fl = lp_arena_alloc(ar, sizeof(float) * cnt);
        else if (a->type == LP_ATTR_INTS || a->type == LP_ATTR_TENSORS) a->ints = in = lp_arena_alloc(ar, sizeof(int64_t) * cnt);
        else if (a->type == LP_ATTR_STRINGS) a->strings = str = lp_arena_alloc(ar, sizeof(char *) * cnt);
        else a->graphs = gs = lp_arena_alloc(ar, sizeof(void *) * cnt);
        if (!fl && !in && !str && !gs) return nomem(c);
        int64_t pos = 0;
        lp_pb_init(&r, c->buf, msg, len);
        while ((k = lp_pb_next(&r, &f)) > 0) {
            if (a->type == LP_ATTR_FLOATS && f.num == 7) {
                if (f.wire == LP_PB_I32) {
                    uint32_t b = (uint32_t)f.u;
                    memcpy(&fl[pos++], &b, 4);
                } else {
                    memcpy(&fl[pos], f.p, f.len); /* little-endian host (checked above) */
                    pos += (int64_t)(f.len / 4);
                }
            } else if (a->type == LP_ATTR_INTS && f.num == 8) {
                if (f.wire == LP_PB_VARINT) {
                    in[pos++] = (int64_t)f.u;
                } else {
                    const uint8_t *q = f.p, *e = f.p + f.len;
                    uint64_t v;
                    while (q < e && lp_pb_varint(&q, e, &v) == 1) in[pos++] = (int64_t)v;
                }
            } else if (a->type == LP_ATTR_STRINGS && f.num == 9) {
                snprintf(what, sizeof what, "an element of %s", lab);
                if (f.len > LP_MAX_NAME)
                    return lp_err_set(c->err, LP_ERR_LIMIT, "%s is %zu bytes long; at most %d are supported", what,
                                      f.len, LP_MAX_NAME);
                str[pos] = lp_arena_strndup(ar, (const char *)f.p, f.len);
                if (!str[pos++]) return nomem(c);
            } else if (a->type == LP_ATTR_TENSORS && f.num == 10) {
                char *def = lp_arena_printf(ar, "%s_%s_%lld", node, a->name, (long long)pos);
                if (!def) return nomem(c);
                snprintf(what, sizeof what, "tensor %lld of %s", (long long)pos, lab);
                int id = -1;
                st = read_tensor(c, f.p, f.len, what, def, &id);
                if (st != LP_OK) return st;
                in[pos++] = id;
            } else if (a->type == LP_ATTR_GRAPHS && f.num == 11) {
                lp_onnx_subgraph *sg = lp_arena_alloc(ar, sizeof *sg);
                if (!sg) return nomem(c);
                sg->data = f.p;
                sg->size = f.len;
                sg->src = c->src;
                gs[pos++] = sg;
            }
        }
        if (k < 0 || pos != n) return lp_err_set(c->err, LP_ERR_INTERNAL, "%s: decoded %lld of %lld values", lab, (long long)pos, (long long)n);
        break;
    }
    default: break; /* FLOAT, INT already set; OTHER carries nothing */
    }
    leave(c);
    return LP_OK;
}

/* ---------------- outer-scope names of subgraphs ---------------- */

typedef struct slicevec {
    slice *v;
    int n, cap;
} slicevec;

static lp_status slicevec_add(ctx *c, slicevec *sv, strmap *set, const uint8_t *p, size_t n) {
    if (strmap_find(set, p, n) >= 0) return LP_OK;
    if (sv->n >= LP_MAX_TENSORS)
        return lp_err_set(c->err, LP_ERR_LIMIT, "a subgraph reads more than %d values of enclosing graphs", LP_MAX_TENSORS);
    if (!grow_arr((void **)&sv->v, &sv->cap, sv->n + 1, sizeof(slice)) || !strmap_put_n(set, (const char *)p, n, sv->n))
        return nomem(c);
    sv->v[sv->n++] = (slice){p, n};
    return LP_OK;
}

/* the first length-delimited field `num` of a message (a name); p = NULL when absent */
static lp_status first_len_field(ctx *c, const uint8_t *msg, size_t len, uint32_t num, const msgdesc *m,
                                 const char *label, slice *out) {
    lp_pb r;
    lp_pb_field f;
    int k;
    *out = (slice){NULL, 0};
    lp_pb_init(&r, c->buf, msg, len);
    while ((k = lp_pb_next(&r, &f)) > 0)
        if (f.num == num && f.wire == LP_PB_LEN && !out->p) *out = (slice){f.p, f.len};
    if (k < 0) return pb_error(c, &r, m, label);
    return LP_OK;
}

/* Names that GraphProto msg reads but does not define (also those read by subgraphs nested in it):
 * ONNX's outer-scope references, added to *out (and *set) in first-use order. */
static lp_status graph_outer_names(ctx *c, const uint8_t *msg, size_t len, slicevec *out, strmap *set) {
    lp_status st = enter(c, "subgraph");
    if (st != LP_OK) return st;
    strmap defined = {0}, inner_set = {0};
    slicevec inner = {0};
    lp_pb r, rn, ra;
    lp_pb_field f, fn, fa;
    int k, kn = 0, ka = 0;
    slice nm;

    /* pass 1: what the graph defines (inputs, initializers, node outputs) */
    lp_pb_init(&r, c->buf, msg, len);
    while (st == LP_OK && (k = lp_pb_next(&r, &f)) > 0) {
        if (f.wire != LP_PB_LEN) continue;
        if (f.num == 11 || f.num == 5) {
            st = f.num == 11 ? first_len_field(c, f.p, f.len, 1, &M_VINFO, "subgraph input", &nm)
                             : first_len_field(c, f.p, f.len, 8, &M_TENSOR, "subgraph initializer", &nm);
            if (st == LP_OK && nm.len && !strmap_put_n(&defined, (const char *)nm.p, nm.len, 0)) st = nomem(c);
        } else if (f.num == 1) {
            lp_pb_init(&rn, c->buf, f.p, f.len);
            while (st == LP_OK && (kn = lp_pb_next(&rn, &fn)) > 0)
                if (fn.num == 2 && fn.wire == LP_PB_LEN && fn.len &&
                    !strmap_put_n(&defined, (const char *)fn.p, fn.len, 0))
                    st = nomem(c);
            if (st == LP_OK && kn < 0) st = pb_error(c, &rn, &M_NODE, "subgraph node");
        }
    }
    if (st == LP_OK && k < 0) st = pb_error(c, &r, &M_GRAPH, "subgraph");

    /* pass 2: what its nodes, nested subgraphs and outputs read */
    lp_pb_init(&r, c->buf, msg, len);
    while (st == LP_OK && (k = lp_pb_next(&r, &f)) > 0) {
        if (f.wire != LP_PB_LEN) continue;
        if (f.num == 12) {
            st = first_len_field(c, f.p, f.len, 1, &M_VINFO, "subgraph output", &nm);
            if (st == LP_OK && nm.len && strmap_find(&defined, nm.p, nm.len) < 0)
                st = slicevec_add(c, out, set, nm.p, nm.len);
        } else if (f.num == 1) {
            lp_pb_init(&rn, c->buf, f.p, f.len);
            while (st == LP_OK && (kn = lp_pb_next(&rn, &fn)) > 0) {
                if (fn.wire != LP_PB_LEN) continue;
                if (fn.num == 1 && fn.len && strmap_find(&defined, fn.p, fn.len) < 0) {
                    st = slicevec_add(c, out, set, fn.p, fn.len);
                } else if (fn.num == 5) { /* attribute: g (6) and graphs (11) */
                    lp_pb_init(&ra, c->buf, fn.p, fn.len);
                    while (st == LP_OK && (ka = lp_pb_next(&ra, &fa)) > 0)
                        if ((fa.num == 6 || fa.num == 11) && fa.wire == LP_PB_LEN)
                            st = graph_outer_names(c, fa.p, fa.len, &inner, &inner_set);
                    if (st == LP_OK && ka < 0) st = pb_error(c, &ra, &M_ATTR, "subgraph attribute");
                }
            }
            if (st == LP_OK && kn < 0) st = pb_error(c, &rn, &M_NODE, "subgraph node");
        }
    }
    if (st == LP_OK && k < 0) st = pb_error(c, &r, &M_GRAPH, "subgraph");
    for (int i = 0; st == LP_OK && i < inner.n; i++)
        if (strmap_find(&defined, inner.v[i].p, inner.v[i].len) < 0)
            st = slicevec_add(c, out, set, inner.v[i].p, inner.v[i].len);
    strmap_free(&defined);
    strmap_free(&inner_set);
    free(inner.v);
    if (st == LP_OK) leave(c);
    return st;
}

/* For a node with GRAPH/GRAPHS attributes: records each subgraph's outer names and appends the
 * values they name (resolved in the current scope) to the node's inputs c->tin[n_formal..). */
static lp_status bind_outer_names(ctx *c, lp_attr *attrs, int n_attrs, int n_formal, int *n_in) {
    slicevec all = {0};
    strmap all_set = {0};
    lp_status st = LP_OK;
    for (int i = 0; i < n_attrs && st == LP_OK; i++) {
        lp_attr *a = &attrs[i];
        int ng = a->type == LP_ATTR_GRAPH ? 1 : a->type == LP_ATTR_GRAPHS ? a->n : 0;
        for (int j = 0; j < ng && st == LP_OK; j++) {
            lp_onnx_subgraph *sg = (lp_onnx_subgraph *)(a->type == LP_ATTR_GRAPH ? a->graph : a->graphs[j]);
            slicevec mine = {0};
            strmap mine_set = {0};
            st = graph_outer_names(c, sg->data, sg->size, &mine, &mine_set);
            sg->n_formal = n_formal;
            sg->n_outer = mine.n;
            const char **names = lp_arena_alloc(&c->g->arena, sizeof(char *) * (size_t)(mine.n + 1));
            int *idx = lp_arena_alloc(&c->g->arena, sizeof(int) * (size_t)(mine.n + 1));
            if (st == LP_OK && (!names || !idx)) st = nomem(c);
            for (int m = 0; m < mine.n && st == LP_OK; m++) {
                names[m] = copy_str(c, mine.v[m].p, mine.v[m].len, "an outer-scope name");
                if (!names[m]) st = c->err->code;
                int at = strmap_find(&all_set, mine.v[m].p, mine.v[m].len);
                if (at < 0) {
                    at = all.n;
                    if (st == LP_OK) st = slicevec_add(c, &all, &all_set, mine.v[m].p, mine.v[m].len);
                }
                idx[m] = n_formal + at;
            }
            sg->outer = names;
            sg->outer_in = idx;
            strmap_free(&mine_set);
            free(mine.v);
        }
    }
    if (st == LP_OK && !grow_arr((void **)&c->tin, &c->cap_tin, n_formal + all.n + 1, sizeof(int))) st = nomem(c);
    for (int j = 0; j < all.n && st == LP_OK; j++) {
        c->tin[n_formal + j] = tensor_by_name(c, all.v[j].p, all.v[j].len, "an outer-scope name");
        if (c->tin[n_formal + j] < 0) st = graph_fail(c);
    }
    if (st == LP_OK) *n_in = n_formal + all.n;
    strmap_free(&all_set);
    free(all.v);
    return st;
}

/* ---------------- NodeProto ---------------- */

static lp_status push_slice(ctx *c, slice **v, int *cap, int *n, const lp_pb_field *f) {
    if (*n >= LP_MAX_TENSORS) return lp_err_set(c->err, LP_ERR_LIMIT, "a node has more than %d inputs or outputs", LP_MAX_TENSORS);
    if (!grow_arr((void **)v, cap, *n + 1, sizeof(slice))) return nomem(c);
    (*v)[(*n)++] = (slice){f->p, f->len};
    return LP_OK;
}

static lp_status check_arity(ctx *c, const char *name, const char *op_type, const char *what, int n, int lo, int hi) {
    if (n >= lo && (hi < 0 || n <= hi)) return LP_OK;
    if (hi < 0)
        return lp_err_set(c->err, LP_ERR_INVALID, "node '%s' (%s): has %d %s; %s takes at least %d", name, op_type, n, what,
                          op_type, lo);
    if (lo == hi)
        return lp_err_set(c->err, LP_ERR_INVALID, "node '%s' (%s): has %d %s; %s takes %d", name, op_type, n, what, op_type, lo);
    return lp_err_set(c->err, LP_ERR_INVALID, "node '%s' (%s): has %d %s; %s takes %d to %d", name, op_type, n, what,
                      op_type, lo, hi);
}

static lp_status read_node(ctx *c, const uint8_t *msg, size_t len, int index) {
    lp_graph *g = c->g;
    char lab[300];
    snprintf(lab, sizeof lab, "NodeProto #%d", index);
    lp_status st = enter(c, lab);
    if (st != LP_OK) return st;
    lp_pb r;
    lp_pb_field f;
    int k, n_in = 0, n_out = 0, n_attrs = 0;
    const char *name = NULL, *op_type = NULL;
    slice domain = {(const uint8_t *)"", 0};
    lp_pb_init(&r, c->buf, msg, len);
    while ((k = lp_pb_next(&r, &f)) > 0) {
        if (f.num > 7 || f.num == 6) continue;
        if (!lp_pb_expect(&r, &f, LP_PB_LEN)) continue;
        switch (f.num) {
        case 1: st = push_slice(c, &c->ins, &c->cap_ins, &n_in, &f); break;
        case 2: st = push_slice(c, &c->outs, &c->cap_outs, &n_out, &f); break;
        case 3:
            name = copy_str(c, f.p, f.len, "a node name");
            if (!name) return c->err->code;
            snprintf(lab, sizeof lab, "NodeProto '%.200s'", name);
            break;
        case 4:
            op_type = copy_str(c, f.p, f.len, "an op_type");
            if (!op_type) return c->err->code;
            break;
        case 5:
            if (n_attrs >= MAX_NODE_ATTRS)
                return lp_err_set(c->err, LP_ERR_LIMIT, "%s has more than %d attributes", lab, MAX_NODE_ATTRS);
            st = push_slice(c, &c->attrs, &c->cap_attrs, &n_attrs, &f);
            break;
        case 7: domain = (slice){f.p, f.len}; break;
        }
        if (st != LP_OK) return st;
    }
    if (k < 0) return pb_error(c, &r, &M_NODE, lab);
    if (!op_type || !*op_type) return lp_err_set(c->err, LP_ERR_INVALID, "%s has no op_type", lab);
    if (!name || !*name) {
        name = lp_arena_printf(&g->arena, "%s_%d", op_type, index);
        if (!name) return nomem(c);
    }
    if (c->prefix) {
        name = lp_arena_printf(&g->arena, "%s%s", c->prefix, name);
        if (!name) return nomem(c);
    }
    if (!slice_is(domain.p, domain.len, "") && !slice_is(domain.p, domain.len, "ai.onnx"))
        return lp_err_set(c->err, LP_ERR_UNSUPPORTED,
                          "node '%s' (%s, domain '%.*s'): ops of domain '%.*s' are not supported (only the default "
                          "ONNX domain is)",
                          name, op_type, (int)(domain.len > 200 ? 200 : domain.len), (const char *)domain.p,
                          (int)(domain.len > 200 ? 200 : domain.len), (const char *)domain.p);
    int op = lp_op_from_onnx_name(op_type);
    if (op < 0 || op >= LP_OP_ONNX_END)
        return lp_err_set(c->err, LP_ERR_UNSUPPORTED, "node '%s' (%s): op is not supported", name, op_type);

    /* trailing empty names are absent optional inputs/outputs: they do not count */
    while (n_in > 0 && c->ins[n_in - 1].len == 0) n_in--;
    while (n_out > 0 && c->outs[n_out - 1].len == 0) n_out--;
    st = check_arity(c, name, op_type, "inputs", n_in, op_arity[op].min_in, op_arity[op].max_in);
    if (st == LP_OK) st = check_arity(c, name, op_type, "outputs", n_out, op_arity[op].min_out, op_arity[op].max_out);
    if (st != LP_OK) return st;

    if (!grow_arr((void **)&c->tin, &c->cap_tin, n_in + 1, sizeof(int)) ||
        !grow_arr((void **)&c->tout, &c->cap_tout, n_out + 1, sizeof(int)))
        return nomem(c);
    for (int i = 0; i < n_in; i++) {
        c->tin[i] = -1;
        if (c->ins[i].len == 0) continue; /* omitted optional input */
        /* an input produced by a later node is accepted (created here, checked at the end of the graph) */
        c->tin[i] = tensor_by_name(c, c->ins[i].p, c->ins[i].len, "a node input name");
        if (c->tin[i] < 0) return graph_fail(c);
    }
    int self = g->n_n; /* the id the node will get */
    for (int i = 0; i < n_out; i++) {
        c->tout[i] = -1;
        if (c->outs[i].len == 0) continue;
        int id = tensor_by_name(c, c->outs[i].p, c->outs[i].len, "a node output name");
        if (id < 0) return graph_fail(c);
        lp_tensor *t = &g->t[id];
        if (t->producer == self)
            return lp_err_set(c->err, LP_ERR_INVALID, "node '%s' (%s) lists output '%s' twice", name, op_type, t->name);
        if (t->producer >= 0)
            return lp_err_set(c->err, LP_ERR_INVALID, "node '%s' (%s) writes '%s', which node '%s' already writes", name,
                              op_type, t->name, g->n[t->producer].name);
        if (t->flags & (LP_T_INPUT | LP_T_CONST))
            return lp_err_set(c->err, LP_ERR_INVALID, "node '%s' (%s) writes '%s', which is a graph %s", name, op_type,
                              t->name, (t->flags & LP_T_INPUT) ? "input" : "initializer");
        t->producer = self; /* marks it for the duplicate check; lp_graph_add_node sets the same */
        c->tout[i] = id;
    }

    lp_attr *attrs = NULL;
    if (n_attrs) {
        attrs = lp_arena_alloc(&g->arena, sizeof(lp_attr) * (size_t)n_attrs);
        if (!attrs) return nomem(c);
        for (int i = 0; i < n_attrs; i++) {
            /* attribute tensors add graph tensors but no names: c->ins/outs stay valid */
            st = read_attr(c, c->attrs[i].p, c->attrs[i].len, name, &attrs[i], i);
            if (st != LP_OK) return st;
            for (int j = 0; j < i; j++)
                if (strcmp(attrs[j].name, attrs[i].name) == 0)
                    return lp_err_set(c->err, LP_ERR_INVALID, "node '%s' (%s) has two attributes named '%s'", name,
                                      op_type, attrs[i].name);
        }
    }

    for (int i = 0; i < n_attrs; i++)
        if (attrs[i].type == LP_ATTR_GRAPH || attrs[i].type == LP_ATTR_GRAPHS) {
            st = bind_outer_names(c, attrs, n_attrs, n_in, &n_in);
            if (st != LP_OK) return st;
            break;
        }

    /* attributes holding an ONNX DataType number become lp_dtype: nothing downstream sees ONNX numbering */
    for (int i = 0; i < n_attrs; i++) {
        lp_attr *a = &attrs[i];
        if (a->type != LP_ATTR_INT) continue;
        if (((op == LP_OP_Cast || op == LP_OP_BitCast) && strcmp(a->name, "to") == 0) ||
            strcmp(a->name, "dtype") == 0 || strcmp(a->name, "output_dtype") == 0 ||
            strcmp(a->name, "output_datatype") == 0) {
            if (a->i < INT32_MIN || a->i > INT32_MAX)
                return lp_err_set(c->err, LP_ERR_INVALID, "node '%s' (%s): attribute '%s' is not a data type", name,
                                  op_type, a->name);
            if (a->i < 0 || a->i >= N_ONNX_TYPES)
                return lp_err_set(c->err, LP_ERR_INVALID, "node '%s' (%s): attribute '%s'=%lld is not an ONNX data type",
                                  name, op_type, a->name, (long long)a->i);
            if (a->i != 0 && map_dtype((int32_t)a->i) == LP_DT_OTHER)
                return lp_err_set(c->err, LP_ERR_UNSUPPORTED,
                                  "node '%s' (%s): attribute '%s' is %s (%lld), a type TFLite has no counterpart for",
                                  name, op_type, a->name, onnx_type_name((int32_t)a->i), (long long)a->i);
            a->i = a->i == 0 ? LP_DT_UNDEF : map_dtype((int32_t)a->i);
        }
    }
    int id = lp_graph_add_node(g, (lp_op)op, name, c->tin, n_in, c->tout, n_out);
    if (id < 0) return graph_fail(c);
    int origin = lp_graph_add_origin(g, g->n[id].name, op_type);
    if (origin < 0) return nomem(c);
    lp_node *nd = &g->n[id];
    nd->attrs = attrs;
    nd->n_attrs = n_attrs;
    nd->origin = origin;
    nd->opset = g->opset;
    leave(c);
    return LP_OK;
}

/* ---------------- GraphProto ---------------- */

static lp_status read_graph(ctx *c, const uint8_t *msg, size_t len) {
    lp_graph *g = c->g;
    lp_status st = enter(c, "GraphProto");
    if (st != LP_OK) return st;
    lp_pb r;
    lp_pb_field f;
    int k, idx;
    char lab[300];

    /* scan 1: structure and wire types of the graph's own fields */
    lp_pb_init(&r, c->buf, msg, len);
    while ((k = lp_pb_next(&r, &f)) > 0) {
        switch (f.num) {
        case 1: case 2: case 5: case 10: case 11: case 12: case 13: case 14:
            lp_pb_expect(&r, &f, LP_PB_LEN);
            break;
        case 15:
            return lp_err_set(c->err, LP_ERR_UNSUPPORTED, "the graph has sparse initializers (sparse_initializer), "
                                                          "which are not supported");
        default: break;
        }
    }
    if (k < 0) return pb_error(c, &r, &M_GRAPH, "GraphProto");

    /* initializers: constants named in the graph's namespace */
    idx = 0;
    lp_pb_init(&r, c->buf, msg, len);
    while ((k = lp_pb_next(&r, &f)) > 0) {
        if (f.num != 5) continue;
        snprintf(lab, sizeof lab, "initializer #%d", idx++);
        int id = -1;
        st = read_tensor(c, f.p, f.len, lab, NULL, &id);
        if (st != LP_OK) return st;
        lp_tensor *t = &g->t[id];
        if (strmap_find(&c->names, t->name, strlen(t->name)) >= 0)
            return lp_err_set(c->err, LP_ERR_INVALID, "two initializers are named '%s'", t->name);
        if (!strmap_put(&c->names, t->name, id)) return nomem(c);
        if (c->body && !(t->name = lp_arena_printf(&g->arena, "%s%s", c->prefix, t->name))) return nomem(c);
    }

    /* inputs: those that are also initializers are defaults, i.e. constants */
    idx = 0;
    lp_pb_init(&r, c->buf, msg, len);
    while ((k = lp_pb_next(&r, &f)) > 0) {
        if (f.num != 11) continue;
        snprintf(lab, sizeof lab, "graph input #%d", idx++);
        vinfo vi;
        st = read_value_info(c, f.p, f.len, &vi, lab);
        if (st != LP_OK) return st;
        if (!vi.name || !*vi.name) return lp_err_set(c->err, LP_ERR_INVALID, "%s has no name", lab);
        if (c->body) { /* a body's inputs are bound to the values its control-flow op gives */
            if (idx > c->n_bind)
                return lp_err_set(c->err, LP_ERR_INVALID, "the body declares more than the %d inputs its op gives it",
                                  c->n_bind);
            if (!strmap_put(&c->names, vi.name, c->bind[idx - 1])) return nomem(c);
            continue;
        }
        int id = strmap_find(&c->names, vi.name, strlen(vi.name));
        if (id >= 0) {
            if (g->t[id].flags & LP_T_CONST) continue;
            return lp_err_set(c->err, LP_ERR_INVALID, "graph input '%s' is declared twice", vi.name);
        }
        if (vi.nontensor)
            return lp_err_set(c->err, LP_ERR_UNSUPPORTED, "graph input '%s' is %s; only tensor inputs are supported",
                              vi.name, vi.nontensor);
        if ((st = check_elem(c, &vi, "graph input")) != LP_OK) return st;
        if (g->inputs.n >= LP_MAX_IO)
            return lp_err_set(c->err, LP_ERR_LIMIT, "the graph has more than %d inputs; at most %d are supported",
                              LP_MAX_IO, LP_MAX_IO);
        int64_t dims[LP_MAX_RANK];
        st = vinfo_dims(c, &vi, dims);
        if (st != LP_OK) return st;
        const char *bad = vi.has_shape ? lp_dims_check(g, vi.rank, dims) : NULL;
        if (bad) {
            lp_tensor tmp = {.rank = vi.rank};
            memcpy(tmp.dims, dims, sizeof(int64_t) * (size_t)vi.rank);
            char sh[200];
            return lp_err_set(c->err, LP_ERR_LIMIT, "graph input '%s' has shape %s: %s", vi.name,
                              lp_shape_str(g, &tmp, sh, sizeof sh), bad);
        }
        id = lp_graph_add_tensor(g, vi.name, vi.has_type ? map_dtype(vi.elem) : LP_DT_UNDEF,
                                 vi.has_shape ? vi.rank : -1, dims);
        if (id < 0) return graph_fail(c);
        g->t[id].flags |= LP_T_INPUT;
        if (!strmap_put(&c->names, g->t[id].name, id) || !lp_ivec_push(&g->inputs, id)) return nomem(c);
    }

    if (c->body && idx != c->n_bind)
        return lp_err_set(c->err, LP_ERR_INVALID, "the body declares %d inputs; its op gives it %d", idx, c->n_bind);
    c->n_body_in = idx;

    /* nodes */
    idx = 0;
    lp_pb_init(&r, c->buf, msg, len);
    while ((k = lp_pb_next(&r, &f)) > 0) {
        if (f.num != 1) continue;
        st = read_node(c, f.p, f.len, idx++);
        if (st != LP_OK) return st;
    }

    /* outputs */
    idx = 0;
    lp_pb_init(&r, c->buf, msg, len);
    while ((k = lp_pb_next(&r, &f)) > 0) {
        if (f.num != 12) continue;
        snprintf(lab, sizeof lab, "graph output #%d", idx++);
        vinfo vi;
        st = read_value_info(c, f.p, f.len, &vi, lab);
        if (st != LP_OK) return st;
        if (!vi.name || !*vi.name) return lp_err_set(c->err, LP_ERR_INVALID, "%s has no name", lab);
        if (vi.nontensor)
            return lp_err_set(c->err, LP_ERR_UNSUPPORTED, "graph output '%s' is %s; only tensor outputs are supported",
                              vi.name, vi.nontensor);
        int id = strmap_find(&c->names, vi.name, strlen(vi.name));
        if (id < 0 || !is_defined(&g->t[id]))
            return lp_err_set(c->err, LP_ERR_INVALID,
                              "graph output '%s' is not produced by any node and is not a graph input or initializer",
                              vi.name);
        if (c->body) { /* the caller connects them; declared types are hints that inference recomputes */
            if (!lp_ivec_push(&c->body_out, id)) return nomem(c);
            continue;
        }
        if ((st = check_elem(c, &vi, "graph output")) != LP_OK) return st;
        if (g->t[id].flags & LP_T_OUTPUT)
            return lp_err_set(c->err, LP_ERR_INVALID, "graph output '%s' is listed twice", vi.name);
        if (g->outputs.n >= LP_MAX_IO)
            return lp_err_set(c->err, LP_ERR_LIMIT, "the graph has more than %d outputs; at most %d are supported",
                              LP_MAX_IO, LP_MAX_IO);
        st = apply_declared(c, id, &vi);
        if (st != LP_OK) return st;
        g->t[id].flags |= LP_T_OUTPUT;
        if (!lp_ivec_push(&g->outputs, id)) return nomem(c);
    }

    /* value_info: hints for intermediate tensors (not for bodies: inference recomputes them) */
    idx = 0;
    lp_pb_init(&r, c->buf, msg, len);
    while (!c->body && (k = lp_pb_next(&r, &f)) > 0) {
        if (f.num != 13) continue;
        snprintf(lab, sizeof lab, "value_info #%d", idx++);
        vinfo vi;
        st = read_value_info(c, f.p, f.len, &vi, lab);
        if (st != LP_OK) return st;
        if (!vi.name) continue;
        if ((st = check_elem(c, &vi, NULL)) != LP_OK) return st;
        int id = strmap_find(&c->names, vi.name, strlen(vi.name));
        if (id < 0 || (g->t[id].flags & (LP_T_INPUT | LP_T_CONST))) continue;
        st = apply_declared(c, id, &vi);
        if (st != LP_OK) return st;
    }

    /* every input read must have a value (ONNX: graph input, initializer or an output of a node) */
    for (int i = c->node0; i < g->n_n; i++) {
        const lp_node *n = &g->n[i];
        int formal = n->n_in; /* inputs past it are names the node's subgraphs read from this graph */
        for (int a = 0; a < n->n_attrs; a++) {
            const lp_attr *at = &n->attrs[a];
            const lp_onnx_subgraph *sg = at->type == LP_ATTR_GRAPH ? at->graph : NULL;
            if (sg && sg->n_formal < formal) formal = sg->n_formal;
            for (int k = 0; at->type == LP_ATTR_GRAPHS && k < at->n; k++) {
                sg = at->graphs[k];
                if (sg && sg->n_formal < formal) formal = sg->n_formal;
            }
        }
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0 && !is_defined(&g->t[n->in[j]]))
                return lp_err_set(c->err, LP_ERR_INVALID,
                                  j < formal ? "node '%s' (%s): input '%s' is not a graph input, an initializer or the "
                                               "output of a node"
                                             : "node '%s' (%s): a subgraph reads '%s', which no enclosing graph defines",
                                  n->name, lp_op_name(n->op), g->t[n->in[j]].name);
    }
    leave(c);
    return LP_OK;
}

/* ---------------- ModelProto ---------------- */

/* expected wire type of a known ModelProto field, -1 for unknown fields */
static int model_wire(uint32_t num) {
    switch (num) {
    case 1: case 5: return LP_PB_VARINT;
    case 2: case 3: case 4: case 6: case 7: case 8: case 14: case 20: case 25: return LP_PB_LEN;
    default: return -1;
    }
}

static lp_status not_onnx(ctx *c, const char *why) {
    return lp_err_set(c->err, LP_ERR_PARSE, "not an ONNX model: %s", why);
}

static lp_status read_opset(ctx *c, const uint8_t *msg, size_t len, int64_t *opset) {
    lp_status st = enter(c, "opset_import");
    if (st != LP_OK) return st;
    lp_pb r;
    lp_pb_field f;
    int k;
    slice domain = {(const uint8_t *)"", 0};
    int64_t version = 0;
    lp_pb_init(&r, c->buf, msg, len);
    while ((k = lp_pb_next(&r, &f)) > 0) {
        if (f.num == 1 && lp_pb_expect(&r, &f, LP_PB_LEN)) domain = (slice){f.p, f.len};
        else if (f.num == 2 && lp_pb_expect(&r, &f, LP_PB_VARINT)) version = (int64_t)f.u;
    }
    if (k < 0) return pb_error(c, &r, &M_OPSET, "OperatorSetIdProto");
    if (slice_is(domain.p, domain.len, "") || slice_is(domain.p, domain.len, "ai.onnx")) {
        if (version < 1 || version > INT_MAX)
            return lp_err_set(c->err, LP_ERR_INVALID, "the model imports the default ONNX domain at opset %lld",
                              (long long)version);
        if (version > LP_ONNX_MAX_OPSET)
            return lp_err_set(c->err, LP_ERR_UNSUPPORTED,
                              "the model imports the default ONNX domain at opset %lld; liteport knows opsets 1 to %d",
                              (long long)version, LP_ONNX_MAX_OPSET);
        if (*opset > 0 && *opset != version)
            return lp_err_set(c->err, LP_ERR_INVALID, "the model imports the default ONNX domain twice (opsets %lld and %lld)",
                              (long long)*opset, (long long)version);
        *opset = version;
    } /* other domains: nodes in them are refused by name */
    leave(c);
    return LP_OK;
}

static lp_status read_model(ctx *c) {
    if (c->size == 0) return not_onnx(c, "the file is empty");
    lp_pb r;
    lp_pb_field f;
    int k, nfields = 0;
    const uint8_t *graph = NULL;
    size_t glen = 0;
    int64_t opset = -1;
    lp_status st;
    lp_pb_init(&r, c->buf, c->buf, c->size);
    while ((k = lp_pb_next(&r, &f)) > 0) {
        int want = model_wire(f.num);
        if (nfields++ == 0 && want != f.wire) {
            /* every exporter starts with ir_version; anything that is not a ModelProto field is
             * another kind of file (an image, text, a TFLite flatbuffer, ...) */
            char why[200];
            const uint8_t *b = c->buf;
            snprintf(why, sizeof why, "it does not start with a ModelProto field (first bytes %02x %02x %02x %02x)",
                     b[0], c->size > 1 ? b[1] : 0, c->size > 2 ? b[2] : 0, c->size > 3 ? b[3] : 0);
            return not_onnx(c, why);
        }
        if (want >= 0 && !lp_pb_expect(&r, &f, want)) continue;
        switch (f.num) {
        case 1: c->imp->ir_version = (int64_t)f.u; break;
        case 2:
            c->imp->producer = copy_str(c, f.p, f.len, "producer_name");
            if (!c->imp->producer) return c->err->code;
            break;
        case 7:
            /* a repeated singular sub-message would merge in protobuf; here the last one wins */
            graph = f.p;
            glen = f.len;
            break;
        case 8:
            st = read_opset(c, f.p, f.len, &opset);
            if (st != LP_OK) return st;
            break;
        default: break; /* metadata, training_info and model-local functions are ignored */
        }
    }
    if (k < 0) {
        /* A failure inside a known field of a file that started like a model is a damaged or
         * truncated model; anything else (a bad tag, an unknown field, a wrong wire type) says
         * the bytes are not a ModelProto at all. */
        int known = r.err_field && model_wire(r.err_field) >= 0 && strcmp(r.err, "wrong wire type") != 0;
        if (nfields == 0 || !known) {
            char why[200];
            snprintf(why, sizeof why, "%s at byte %zu", r.err, r.err_at);
            return not_onnx(c, why);
        }
        return pb_error(c, &r, &M_MODEL, "ModelProto");
    }
    if (!graph) return not_onnx(c, "it has no graph");
    if (opset < 1)
        return lp_err_set(c->err, LP_ERR_INVALID, "the model does not import an opset of the default ONNX domain");
    c->g->opset = (int)opset;
    return read_graph(c, graph, glen);
}

/* ---------------- entry points ---------------- */

lp_status lp_onnx_import_model(lp_graph *g, const uint8_t *data, size_t size, const char *base_dir,
                               lp_onnx_import *imp) {
    memset(imp, 0, sizeof *imp);
    if (g->n_t || g->n_n) return lp_err_set(g->err, LP_ERR_INTERNAL, "lp_onnx_import needs an empty graph");
    if (!data && size) return lp_err_set(g->err, LP_ERR_INTERNAL, "lp_onnx_import: no data");
    {
        /* see the big-endian note at the top of this file */
        const uint16_t one = 1;
        uint8_t lo;
        memcpy(&lo, &one, 1);
        if (lo != 1)
            return lp_err_set(g->err, LP_ERR_UNSUPPORTED,
                              "big-endian hosts are not supported: ONNX tensor data is little-endian and used in place");
    }
    ctx c;
    memset(&c, 0, sizeof c);
    c.g = g;
    c.err = g->err;
    c.imp = imp;
    c.buf = data ? data : (const uint8_t *)"";
    c.size = size;
    c.base_dir = base_dir;
    lp_onnx_source *src = lp_arena_alloc(&g->arena, sizeof *src);
    if (!src) return lp_err_set(g->err, LP_ERR_NOMEM, "out of memory");
    src->buf = c.buf;
    src->size = size;
    src->base_dir = base_dir ? lp_arena_strndup(&g->arena, base_dir, strlen(base_dir)) : NULL;
    src->imp = imp;
    if (base_dir && !src->base_dir) return lp_err_set(g->err, LP_ERR_NOMEM, "out of memory");
    c.src = src;
    lp_status st = read_model(&c);
    if (st == LP_OK && g->err->code != LP_OK) st = g->err->code;
    strmap_free(&c.names);
    strmap_free(&c.syms);
    free(c.ins);
    free(c.outs);
    free(c.attrs);
    free(c.tin);
    free(c.tout);
    if (st != LP_OK) lp_onnx_import_free(imp);
    return st;
}

lp_status lp_onnx_import_body(lp_graph *g, const lp_onnx_subgraph *sg, const lp_node *owner, const int *bind,
                              int n_bind, const char *prefix, lp_onnx_body *body) {
    memset(body, 0, sizeof *body);
    if (!sg || !sg->src || !owner)
        return lp_err_set(g->err, LP_ERR_INTERNAL, "lp_onnx_import_body: no subgraph source or owner");
    ctx c;
    memset(&c, 0, sizeof c);
    c.g = g;
    c.err = g->err;
    c.imp = sg->src->imp;
    c.buf = sg->src->buf;
    c.size = sg->src->size;
    c.base_dir = sg->src->base_dir;
    c.src = sg->src;
    c.body = 1;
    c.prefix = prefix ? prefix : "";
    c.bind = bind;
    c.n_bind = n_bind;
    c.node0 = g->n_n;
    lp_status st = LP_OK;
    for (int k = 0; k < sg->n_outer && st == LP_OK; k++) {
        int at = sg->outer_in[k];
        if (at < 0 || at >= owner->n_in || owner->in[at] < 0)
            st = lp_err_set(g->err, LP_ERR_INTERNAL, "outer-scope value '%s' of a subgraph is not an input of its node",
                            sg->outer[k]);
        else if (!strmap_put(&c.names, sg->outer[k], owner->in[at]))
            st = nomem(&c);
    }
    if (st == LP_OK) st = read_graph(&c, sg->data, sg->size);
    if (st == LP_OK && g->err->code != LP_OK) st = g->err->code;
    if (st == LP_OK) {
        body->out = lp_arena_alloc(&g->arena, sizeof(int) * (size_t)(c.body_out.n + 1));
        if (!body->out) st = nomem(&c);
        else {
            if (c.body_out.n) memcpy(body->out, c.body_out.v, sizeof(int) * (size_t)c.body_out.n);
            body->n_out = c.body_out.n;
            body->n_in = c.n_body_in;
            body->node0 = c.node0;
        }
    }
    strmap_free(&c.names);
    strmap_free(&c.syms);
    lp_ivec_free(&c.body_out);
    free(c.ins);
    free(c.outs);
    free(c.attrs);
    free(c.tin);
    free(c.tout);
    return st;
}

void lp_onnx_import_free(lp_onnx_import *imp) {
    if (!imp) return;
    for (int i = 0; i < imp->n_ext; i++) {
        lp_map_close(&imp->ext[i]);
        free(imp->ext_paths[i]);
    }
    free(imp->ext);
    free(imp->ext_paths);
    memset(imp, 0, sizeof *imp);
}
